// slice.wgsl: one slice view (axial, coronal or sagittal) of CT + dose overlay + isodose lines + structure outlines.
// CPU oracle: renderSliceCpu() in render-cpu.ts (same per-pixel rules; keep the two in step).
//
// Bindings (group 0, explicit layout in render-gpu.ts):
//   0 uniform  Params            (336 bytes; offsets in render-gpu.ts writeParams)
//   1 texture_3d<f32>  ctTex     CT [HU], r32float, unfilterable (textureLoad, nearest voxel)
//   2 texture_3d<f32>  doseTex   dose [Gy] at the reported activity, r32float
//   3 texture_3d<u32>  labelTex  structure bits (bit b = inside structure b), r32uint
//   4 storage  palette           array<vec4f>: [0,256) colormap, [256,288) structure colours, [288,296) isodose colours, rgb 0..1
//   5 texture_3d<f32>  uncTex    Monte Carlo relative standard error of the dose (a fraction), r32float, on the dose grid
//                                (sampled with doseIdx); a 1x1x1 zero texture when the case has none
// Every matrix maps a pixel-centre position (x + 0.5, y + 0.5, 0, 1) of the canvas to continuous voxel indices of
// its volume (index = inverse(index-to-LPS affine) * pixel-to-LPS); a voxel is sampled nearest: floor(index + 0.5).

struct Params {
  ctIdx: mat4x4f,
  doseIdx: mat4x4f,
  labelIdx: mat4x4f,
  ctDims: vec4f,      // xyz voxel counts, w = 1 when a CT is present
  doseDims: vec4f,    // w = 1 when a dose is present
  labelDims: vec4f,   // w = 1 when structure masks are present
  windowing: vec4f,   // x = window centre [HU], y = window width [HU], z = dose scale (activity ratio), w = colour max [Gy]
  overlay: vec4f,     // x = lower threshold [Gy], y = opacity 0..1, z = 1 to show the dose, w = number of isodose levels
  levels: array<vec4f, 2>, // up to 8 isodose levels [Gy]
  canvas: vec4f,      // x = width, y = height [px], z = 1 for the uncertainty overlay, w = its colour max [%]
  masks: vec4u,       // x = visible structure bits
};

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var ctTex: texture_3d<f32>;
@group(0) @binding(2) var doseTex: texture_3d<f32>;
@group(0) @binding(3) var labelTex: texture_3d<u32>;
@group(0) @binding(4) var<storage, read> palette: array<vec4f>;
@group(0) @binding(5) var uncTex: texture_3d<f32>;

fn voxelOf(m: mat4x4f, dims: vec4f, px: vec2f, ok: ptr<function, bool>) -> vec3i {
  let q = (m * vec4f(px, 0.0, 1.0)).xyz;
  let v = floor(q + vec3f(0.5));
  *ok = dims.w > 0.5 && all(v >= vec3f(0.0)) && all(v < dims.xyz);
  return vec3i(v);
}

fn ctAt(px: vec2f) -> f32 {
  var ok = false;
  let v = voxelOf(P.ctIdx, P.ctDims, px, &ok);
  if (!ok) { return -1000.0; }
  return textureLoad(ctTex, v, 0).r;
}

fn doseAt(px: vec2f) -> f32 {
  var ok = false;
  let v = voxelOf(P.doseIdx, P.doseDims, px, &ok);
  if (!ok) { return 0.0; }
  let d = textureLoad(doseTex, v, 0).r * P.windowing.z;
  if (d != d) { return 0.0; } // NaN -> 0
  return d;
}

// Relative standard error [%] at a pixel (dose grid; 0 off the grid or NaN).
fn uncPercentAt(px: vec2f) -> f32 {
  var ok = false;
  let v = voxelOf(P.doseIdx, P.doseDims, px, &ok);
  if (!ok) { return 0.0; }
  let u = textureLoad(uncTex, v, 0).r;
  if (u != u) { return 0.0; }
  return 100.0 * u;
}

fn labelAt(px: vec2f) -> u32 {
  var ok = false;
  let v = voxelOf(P.labelIdx, P.labelDims, px, &ok);
  if (!ok) { return 0u; }
  return textureLoad(labelTex, v, 0).r & P.masks.x;
}

fn level(i: u32) -> f32 {
  return P.levels[i / 4u][i % 4u];
}

@vertex
fn vs(@builtin(vertex_index) i: u32) -> @builtin(position) vec4f {
  let p = array<vec2f, 3>(vec2f(-1.0, -1.0), vec2f(3.0, -1.0), vec2f(-1.0, 3.0));
  return vec4f(p[i], 0.0, 1.0);
}

@fragment
fn fs(@builtin(position) pos: vec4f) -> @location(0) vec4f {
  let px = pos.xy; // pixel centre (x + 0.5, y + 0.5), y down
  // Neighbours for lines, clamped to the canvas as the CPU path does.
  let maxPx = P.canvas.xy - vec2f(0.5);
  let pl = vec2f(max(px.x - 1.0, 0.5), px.y);
  let pr = vec2f(min(px.x + 1.0, maxPx.x), px.y);
  let pu = vec2f(px.x, max(px.y - 1.0, 0.5));
  let pd = vec2f(px.x, min(px.y + 1.0, maxPx.y));

  var grey = 0.0;
  if (P.ctDims.w > 0.5) {
    let lo = P.windowing.x - 0.5 * P.windowing.y;
    grey = clamp((ctAt(px) - lo) / P.windowing.y, 0.0, 1.0);
  }
  var rgb = vec3f(grey);
  let d = doseAt(px);
  if (P.overlay.z > 0.5 && d > 0.0 && d >= P.overlay.x) {
    var t = clamp(d / P.windowing.w, 0.0, 1.0);
    if (P.canvas.z > 0.5) { t = clamp(uncPercentAt(px) / P.canvas.w, 0.0, 1.0); }
    let ci = u32(min(floor(t * 256.0), 255.0));
    rgb = mix(rgb, palette[ci].rgb, P.overlay.y);
  }
  let nLevels = u32(P.overlay.w);
  if (nLevels > 0u) {
    let dl = doseAt(pl);
    let dr = doseAt(pr);
    let du = doseAt(pu);
    let dd = doseAt(pd);
    for (var i = 0u; i < nLevels; i++) {
      let L = level(i);
      if (d >= L && (dl < L || dr < L || du < L || dd < L)) { rgb = palette[288u + i].rgb; }
    }
  }
  if (P.labelDims.w > 0.5 && P.masks.x != 0u) {
    let m = labelAt(px);
    let edge = m & ~(labelAt(pl) & labelAt(pr) & labelAt(pu) & labelAt(pd));
    if (edge != 0u) { rgb = palette[256u + firstTrailingBit(edge)].rgb; }
  }
  return vec4f(rgb, 1.0);
}
