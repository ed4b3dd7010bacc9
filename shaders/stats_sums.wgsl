// Per-structure sums and dose extremes, pass 1 of the structure statistics: one structure entry (voxel index +
// occupancy weight) per invocation; per-workgroup partial sums in f32 (tree reduction in workgroup memory), added
// in f64 on the host; min / max dose with atomics on an order-preserving float -> u32 key.
// CPU oracle: structureStatsCpu() in packages/dosimetry-core/src/stats/structure-stats.ts (host: src/gpu/stats.ts).
//
// Bindings (group 0):
//   0: params   uniform Params (32 bytes).
//   1: dose     array<f32>, storage read: absorbed dose [Gy] of the voxels of this tile (global index - tileBase).
//   2: activity array<f32>, storage read: activity concentration [Bq/mL], same voxels.
//   3: density  array<f32>, storage read: density [g/mL], same voxels; read only when densityIsScalar == 0.
//   4: indices  array<u32>, storage read: `count` ascending global voxel indices of one structure, all in this tile.
//   5: weights  array<f32>, storage read: their occupancy w (dimensionless, (0, 1]; w <= 0 entries are skipped).
//   6: partials array<vec4<f32>>, storage read_write: 3 vec4 per workgroup at (partialBase + workgroup) * 3:
//      [sum w, sum w rho+, sum w a, sum w rho+ D], [sum w (D >= 100), (D >= 150), (D >= 205), count(a < 0)],
//      [count(w > 0), 0, 0, 0]  (w dimensionless, rho+ = max(rho, 0) g/mL, a Bq/mL, D Gy; counts exact in f32 <= 2^24).
//   7: minMax   array<atomic<u32>>, storage read_write: [2 slot] = min key, [2 slot + 1] = max key of D [Gy]
//      (key = bits | 0x80000000 for D >= +0, ~bits for negative D; the host starts them at 0xffffffff and 0).
// Overrides: WG (workgroup size, a power of two <= 256). Dispatch: 2-D grid of ceil(count / WG) workgroups.

struct Params {
  tileBase: u32,        // first global voxel index of the tile held in dose / activity / density
  count: u32,           // structure entries in this dispatch
  slot: u32,            // structure number (minMax slot)
  partialBase: u32,     // first partials workgroup slot of this dispatch
  densityIsScalar: u32, // 1: use densityGPerMl; 0: read density[]
  densityGPerMl: f32,   // scalar density [g/mL] (already max(rho, 0))
  _pad0: u32,
  _pad1: u32,
}

override WG: u32 = 256;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> dose: array<f32>;
@group(0) @binding(2) var<storage, read> activity: array<f32>;
@group(0) @binding(3) var<storage, read> density: array<f32>;
@group(0) @binding(4) var<storage, read> indices: array<u32>;
@group(0) @binding(5) var<storage, read> weights: array<f32>;
@group(0) @binding(6) var<storage, read_write> partials: array<vec4<f32>>;
@group(0) @binding(7) var<storage, read_write> minMax: array<atomic<u32>>;

var<workgroup> s0: array<vec4<f32>, WG>;
var<workgroup> s1: array<vec4<f32>, WG>;
var<workgroup> s2: array<vec4<f32>, WG>;
var<workgroup> wgMin: atomic<u32>;
var<workgroup> wgMax: atomic<u32>;

fn orderedKey(x: f32) -> u32 {
  let b = bitcast<u32>(x);
  return select(b | 0x80000000u, ~b, (b & 0x80000000u) != 0u);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let wg = wid.x + wid.y * nwg.x;
  let e = wg * WG + lid;
  if (lid == 0u) {
    atomicStore(&wgMin, 0xffffffffu);
    atomicStore(&wgMax, 0u);
  }
  workgroupBarrier();
  var v0 = vec4<f32>(0.0);
  var v1 = vec4<f32>(0.0);
  var v2 = vec4<f32>(0.0);
  if (e < params.count) {
    let w = weights[e];
    if (w > 0.0) {
      let i = indices[e] - params.tileBase;
      let d = dose[i];
      let a = activity[i];
      var rho = params.densityGPerMl;
      if (params.densityIsScalar == 0u) {
        rho = max(density[i], 0.0);
      }
      let m = w * rho;
      v0 = vec4<f32>(w, m, w * a, m * d);
      v1 = vec4<f32>(select(0.0, w, d >= 100.0), select(0.0, w, d >= 150.0), select(0.0, w, d >= 205.0),
                     select(0.0, 1.0, a < 0.0));
      v2 = vec4<f32>(1.0, 0.0, 0.0, 0.0);
      let k = orderedKey(d);
      atomicMin(&wgMin, k);
      atomicMax(&wgMax, k);
    }
  }
  s0[lid] = v0;
  s1[lid] = v1;
  s2[lid] = v2;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride = stride / 2u) {
    if (lid < stride) {
      s0[lid] = s0[lid] + s0[lid + stride];
      s1[lid] = s1[lid] + s1[lid + stride];
      s2[lid] = s2[lid] + s2[lid + stride];
    }
    workgroupBarrier();
  }
  if (lid == 0u && wg * WG < params.count) {
    let p = (params.partialBase + wg) * 3u;
    partials[p] = s0[0];
    partials[p + 1u] = s1[0];
    partials[p + 2u] = s2[0];
    let hi = atomicLoad(&wgMax);
    if (hi != 0u) {
      atomicMin(&minMax[2u * params.slot], atomicLoad(&wgMin));
      atomicMax(&minMax[2u * params.slot + 1u], hi);
    }
  }
}
