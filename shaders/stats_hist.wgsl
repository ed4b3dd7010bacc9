// DVH histogram, pass 2 of the structure statistics: one structure entry per invocation adds its quantised
// occupancy q = round_half_up(w * 1024) to the bin of its dose with 64-bit atomic counting (two u32 words with carry),
// so the histogram is an exact integer sum, independent of order, equal to the CPU's.
//   bin = min(floor((D - lo) * scale), nBins - 1)  in f32 (correctly rounded subtraction and multiplication)
// CPU oracle: structureStatsCpu() with quantiseDvhWeight() / dvhBinIndex() in packages/dosimetry-core/src/stats/
// (host: src/gpu/stats.ts).
//
// Bindings (group 0):
//   0: params  uniform Params (32 bytes).
//   1: dose    array<f32>, storage read: absorbed dose [Gy] of the voxels of this tile (global index - tileBase).
//   2: indices array<u32>, storage read: `count` global voxel indices of one structure, all in this tile.
//   3: weights array<f32>, storage read: their occupancy w (dimensionless, (0, 1]; w <= 0 entries are skipped).
//   4: hist    array<atomic<u32>>, storage read_write: 2 words per bin, bin b of the structure at
//      (histBase + b) * 2: [low 32 bits, high 32 bits] of the sum of q (unit: 1/1024 voxel).
// Overrides: WG (workgroup size, <= 256). Dispatch: 2-D grid of ceil(count / WG) workgroups.

struct Params {
  tileBase: u32,  // first global voxel index of the tile held in dose
  count: u32,     // structure entries in this dispatch
  histBase: u32,  // first bin of this structure in hist (slot * nBins)
  nBins: u32,     // bins per structure
  loGy: f32,      // lower edge of bin 0 [Gy] = min(0, minimum dose)
  scalePerGy: f32, // nBins / (maximum dose - lo) [1/Gy], 0 when the range is empty
  _pad0: u32,
  _pad1: u32,
}

override WG: u32 = 256;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> dose: array<f32>;
@group(0) @binding(2) var<storage, read> indices: array<u32>;
@group(0) @binding(3) var<storage, read> weights: array<f32>;
@group(0) @binding(4) var<storage, read_write> hist: array<atomic<u32>>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let e = (wid.x + wid.y * nwg.x) * WG + lid;
  if (e >= params.count) {
    return;
  }
  let w = weights[e];
  if (!(w > 0.0)) {
    return;
  }
  let x = w * 1024.0;
  let f = floor(x);
  let q = u32(f) + select(0u, 1u, x - f >= 0.5);
  if (q == 0u) {
    return;
  }
  let d = dose[indices[e] - params.tileBase];
  let t = (d - params.loGy) * params.scalePerGy;
  let bin = u32(min(floor(t), f32(params.nBins - 1u)));
  let word = (params.histBase + bin) * 2u;
  let old = atomicAdd(&hist[word], q);
  if (old + q < old) {
    atomicAdd(&hist[word + 1u], 1u);
  }
}
