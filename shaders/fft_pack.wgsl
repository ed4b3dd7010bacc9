// Packs two real z slabs into the padded complex grid of the 'workgroup' FFT layout: the kernel is real, so
// conv(a + i b, K) = conv(a, K) + i conv(b, K) and two slabs share one complex transform.
//   data[x + Px (y + Py z)] = (A(x, y, z), B(x, y, z)) for x < nx, y < ny, z < planesA / planesB; (0, 0) elsewhere,
// A(x, y, z) = input[x + nx (y + ny (baseA + z))], B likewise with baseB. Every element of the padded grid
// (count = Px Py Pz) is written, so whatever the previous slab pair left in `data` is overwritten.
// CPU oracle: convolveDirectCpu() in packages/dosimetry-core/src/convolution/cpu.ts (the convolution as a whole;
// host: convolution/gpu.ts, FFT_PACK_PARAMS).
//
// Bindings (group 0):
//   0: data   array<vec2f>, storage read_write: padded complex grid Px x Py x Pz (re, im), unit U (e.g. Bq s).
//   1: input  array<f32>, storage read: real input box, x-fastest, nx x ny x planes (both slabs' input planes with
//             their z halo; the slabs may overlap), unit U.
//   2: params uniform Params (80 bytes).
// Overrides: WG (workgroup size, <= 256). Dispatch: 2-D grid, element i = gid.x + gid.y * rowStride, i < count.

struct Params {
  nx: u32,        // real box size along x and y [voxels]
  ny: u32,
  px: u32,        // padded lengths along x and y [samples]
  py: u32,
  count: u32,     // elements to write: Px Py Pz
  rowStride: u32, // invocations per row of the dispatch grid (groups along x x WG)
  rx: u32,        // unused here (same struct as fft_unpack.wgsl)
  ry: u32,
  rz: u32,
  _pad0: u32,
  _pad1: u32,
  _pad2: u32,
  baseA: u32,     // first input plane of slab A in the box
  planesA: u32,   // input planes of slab A
  baseB: u32,     // same for slab B (planesB = 0: no slab B, imaginary part zero)
  planesB: u32,
  keptLoA: u32,   // unused here
  keptA: u32,
  keptLoB: u32,
  keptB: u32,
}

@group(0) @binding(0) var<storage, read_write> data: array<vec2f>;
@group(0) @binding(1) var<storage, read> input: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

override WG: u32 = 256;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.x + gid.y * params.rowStride;
  if (i >= params.count) {
    return;
  }
  let x = i % params.px;
  let y = (i / params.px) % params.py;
  let z = i / (params.px * params.py);
  var v = vec2f(0.0, 0.0);
  if (x < params.nx && y < params.ny) {
    let inPlane = x + params.nx * y;
    let plane = params.nx * params.ny;
    if (z < params.planesA) {
      v.x = input[inPlane + plane * (params.baseA + z)];
    }
    if (z < params.planesB) {
      v.y = input[inPlane + plane * (params.baseB + z)];
    }
  }
  data[i] = v;
}
