// Per-structure sums and dose extremes, pass 1 of the structure statistics. Invocation t of a dispatch reads the
// structure entries t, t + T, t + 2T, ... (T = invocations of the dispatch, at most PER_INVOCATION entries each; one
// SIMD group or warp reads consecutive entries), accumulates them in registers and writes its own partial sums and
// extreme keys: no workgroup memory, no barriers, no atomics (each costs a coroutine switch or a scalarised loop
// on a software adapter such as lavapipe). The host adds the partials in f64 and takes the extremes of the keys.
// f32 rounding: entries are summed in groups of 4, groups added serially (<= PER_INVOCATION / 4 = 8): about
// 10 rounding levels of 2^-24, as a 256-entry tree reduction has 8.
// CPU oracle: structureStatsCpu() in packages/dosimetry-core/src/stats/structure-stats.ts (host: src/gpu/stats.ts).
//
// Bindings (group 0):
//   0: params   uniform Params (32 bytes), one per dispatch (buffer offset).
//   1: dose     array<f32>, storage read: absorbed dose [Gy] of the voxels of this tile (global index - tileBase).
//   2: activity array<f32>, storage read: activity concentration [Bq/mL], same voxels.
//   3: density  array<f32>, storage read: density [g/mL], same voxels; read only when densityIsScalar == 0.
//   4: indices  array<u32>, storage read: ascending global voxel indices of one structure, all in this tile, at
//      [entryBase, entryBase + count).
//   5: weights  array<f32>, storage read: their occupancy w (dimensionless, (0, 1]; w <= 0 entries are skipped).
//   6: partials array<vec4<f32>>, storage read_write: 3 vec4 per invocation at (partialBase + t) * 3:
//      [sum w, sum m, sum w a, sum m D], [sum w (D >= 100), (D >= 150), (D >= 205), count(a < 0)],
//      [count(w > 0), 0, 0, 0]  (w dimensionless, m = w rho+ or the part mass (binding 8) g/mL, rho+ = max(rho, 0)
//      g/mL, a Bq/mL, D Gy; counts exact in f32).
//   7: keys     array<vec2<u32>>, storage read_write: at partialBase + t, [min key, max key] of D [Gy] over the
//      invocation's entries with w > 0 (key = bits | 0x80000000 for D >= +0, ~bits for negative D; none: [~0, 0]).
//   8: partMass array<f32>, storage read: beside the weights, the mass of the structure's own part of each voxel per
//      mL of voxel [g/mL] (GridStructure.partMassGPerMl, from a CT); read only when partMassGiven == 1, where it
//      replaces w rho+ in the mass and energy sums.
// Overrides: WG (workgroup size, <= 256), PER_INVOCATION (entries per invocation, a multiple of 4).
// Dispatch: 2-D grid of ceil(T / WG) workgroups, T = ceil(count / PER_INVOCATION).

struct Params {
  tileBase: u32,        // first global voxel index of the tile held in dose / activity / density
  count: u32,           // structure entries in this dispatch
  entryBase: u32,       // first entry of this dispatch in indices / weights
  partialBase: u32,     // first partials / keys slot of this dispatch
  densityIsScalar: u32, // 1: use densityGPerMl; 0: read density[]
  densityGPerMl: f32,   // scalar density [g/mL] (already max(rho, 0))
  invocations: u32,     // T = ceil(count / PER_INVOCATION)
  partMassGiven: u32,   // 1: the mass of entry e is max(partMass[entryBase + e], 0); 0: w rho+
}

override WG: u32 = 256;
override PER_INVOCATION: u32 = 32;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> dose: array<f32>;
@group(0) @binding(2) var<storage, read> activity: array<f32>;
@group(0) @binding(3) var<storage, read> density: array<f32>;
@group(0) @binding(4) var<storage, read> indices: array<u32>;
@group(0) @binding(5) var<storage, read> weights: array<f32>;
@group(0) @binding(6) var<storage, read_write> partials: array<vec4<f32>>;
@group(0) @binding(7) var<storage, read_write> keys: array<vec2<u32>>;
@group(0) @binding(8) var<storage, read> partMass: array<f32>;

fn orderedKey(x: f32) -> u32 {
  let b = bitcast<u32>(x);
  return select(b | 0x80000000u, ~b, (b & 0x80000000u) != 0u);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let t = (wid.x + wid.y * nwg.x) * WG + lid;
  let T = params.invocations;
  if (t >= T) {
    return;
  }
  var v0 = vec4<f32>(0.0);
  var v1 = vec4<f32>(0.0);
  var count = 0.0;
  var kMin = 0xffffffffu;
  var kMax = 0u;
  for (var g = 0u; g < PER_INVOCATION; g += 4u) {
    var g0 = vec4<f32>(0.0);
    var g1 = vec4<f32>(0.0);
    for (var q = 0u; q < 4u; q++) {
      let e = t + (g + q) * T;
      if (e < params.count) {
        let w = weights[params.entryBase + e];
        if (w > 0.0) {
          let i = indices[params.entryBase + e] - params.tileBase;
          let d = dose[i];
          let a = activity[i];
          var rho = params.densityGPerMl;
          if (params.densityIsScalar == 0u) {
            rho = max(density[i], 0.0);
          }
          var m = w * rho;
          if (params.partMassGiven == 1u) {
            m = max(partMass[params.entryBase + e], 0.0);
          }
          g0 += vec4<f32>(w, m, w * a, m * d);
          g1 += vec4<f32>(select(0.0, w, d >= 100.0), select(0.0, w, d >= 150.0), select(0.0, w, d >= 205.0),
                          select(0.0, 1.0, a < 0.0));
          count += 1.0;
          let k = orderedKey(d);
          kMin = min(kMin, k);
          kMax = max(kMax, k);
        }
      }
    }
    v0 += g0;
    v1 += g1;
  }
  let p = (params.partialBase + t) * 3u;
  partials[p] = v0;
  partials[p + 1u] = v1;
  partials[p + 2u] = vec4<f32>(count, 0.0, 0.0, 0.0);
  keys[params.partialBase + t] = vec2<u32>(kMin, kMax);
}
