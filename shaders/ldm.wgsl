// Local deposition model (LDM) dose, one voxel per invocation, over one tile of the voxel array.
//   doseGy = activity [Bq/mL] * scale / rho [g/mL],   scale = CF [J/GBq] * 1e-6 [Gy g/(J/GBq Bq)]
// i.e. D = CF x A / M with A = a x 1e-9 GBq and M = rho x 1e-3 kg per mL (../shared/PHYSICS.md).
// Scalar density: the host folds it into scale (scale = CF * 1e-6 / rho) and no density buffer is read.
// CPU oracle: ldmDoseCpu() in packages/dosimetry-core/src/cpu/ldm.ts (host: src/gpu/ldm.ts).
//
// Bindings (group 0):
//   0: params   uniform Params (16 bytes).
//   1: activity array<f32>, storage read: activity concentration [Bq/mL] of `count` voxels (a tile), x-fastest.
//   2: density  array<f32>, storage read: density [g/mL] of the same voxels (read only when densityIsScalar == 0;
//      a 16-byte dummy otherwise). rho <= 0 (air) gives 0 Gy.
//   3: dose     array<f32>, storage read_write: absorbed dose [Gy] of the same voxels.
// Overrides: WG (workgroup size, <= 256). Dispatch: 2-D grid of ceil(count / WG) workgroups
//   (linear id = wid.x + wid.y * num_workgroups.x) so that no dimension exceeds 65535.

struct Params {
  count: u32,           // voxels in this tile
  densityIsScalar: u32, // 1: scale already holds CF * 1e-6 / rho; 0: divide by density[i]
  scale: f32,           // CF * 1e-6 [Gy g / (Bq)] or CF * 1e-6 / rho [Gy mL / Bq]
  _pad0: u32,
}

override WG: u32 = 256;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> activity: array<f32>;
@group(0) @binding(2) var<storage, read> density: array<f32>;
@group(0) @binding(3) var<storage, read_write> dose: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * WG + lid;
  if (i >= params.count) {
    return;
  }
  let a = activity[i];
  if (params.densityIsScalar != 0u) {
    dose[i] = a * params.scale;
  } else {
    let rho = density[i];
    dose[i] = select(0.0, a * params.scale / rho, rho > 0.0);
  }
}
