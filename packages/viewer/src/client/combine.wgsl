// combine.wgsl: the dose of a multi-territory plan at chosen activities, dose(v) = sum_t A_t x map_t(v), written into
// the 3-D dose texture that slice.wgsl samples. One voxel per invocation, over one z-slab of the grid.
// CPU oracle: combineDoseCpu() in territories.ts (f64 accumulation there, f32 here: a few float32 ulp apart).
//
// Bindings (group 0, explicit layout in combine-gpu.ts):
//   0 uniform  Params   (32 bytes; COMBINE_PARAMS in combine-gpu.ts)
//   1 storage  weights  array<f32>, read: activity of each territory [GBq]
//   2 storage  maps     array<f32>, read: the slab's dose per GBq [Gy/GBq], territory-major: maps[t * slabVoxels + v],
//                       v = i + nx * (j + ny * (k - z0)) (x-fastest within the slab), slabVoxels = nx * ny * planes
//   3 texture_storage_3d<r32float, write>  dose [Gy] of the whole grid; this slab writes planes z0 .. z0 + planes - 1
// Overrides: WX, WY (workgroup size, WX * WY <= 256). Dispatch: ceil(nx / WX) x ceil(ny / WY) x planes.

struct Params {
  nx: u32,          // voxels along i
  ny: u32,          // voxels along j
  z0: u32,          // first plane of the slab
  planes: u32,      // planes in the slab
  territories: u32, // number of territories (entries of weights)
  _pad0: u32,
  _pad1: u32,
  _pad2: u32,
}

override WX: u32 = 8;
override WY: u32 = 8;

@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> weights: array<f32>;
@group(0) @binding(2) var<storage, read> maps: array<f32>;
@group(0) @binding(3) var dose: texture_storage_3d<r32float, write>;

@compute @workgroup_size(WX, WY, 1)
fn main(@builtin(global_invocation_id) id: vec3u) {
  if (id.x >= P.nx || id.y >= P.ny || id.z >= P.planes) { return; }
  let slabVoxels = P.nx * P.ny * P.planes;
  let v = id.x + P.nx * (id.y + P.ny * id.z);
  var d = 0.0;
  for (var t = 0u; t < P.territories; t++) {
    d = d + weights[t] * maps[t * slabVoxels + v];
  }
  textureStore(dose, vec3u(id.x, id.y, id.z + P.z0), vec4f(d, 0.0, 0.0, 1.0));
}
