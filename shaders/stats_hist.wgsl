// DVH histogram, pass 2 of the structure statistics: each structure entry adds its quantised occupancy
// q = round_half_up(w * 1024) to the bin of its dose with 64-bit atomic counting (two u32 words with carry), so the
// histogram is an exact integer sum, independent of order, equal to the CPU's.
//   bin = min(floor((D - lo) * scale), nBins - 1)  in f32 (correctly rounded subtraction and multiplication)
// Invocation t handles the consecutive entries [t PER_INVOCATION, (t + 1) PER_INVOCATION) (neighbouring voxels, whose
// doses mostly share a bin) and adds each run of equal bins with one atomic: no barriers, few atomics.
// CPU oracle: structureStatsCpu() with quantiseDvhWeight() / dvhBinIndex() in packages/dosimetry-core/src/stats/
// (host: src/gpu/stats.ts).
//
// Bindings (group 0):
//   0: params  uniform Params (32 bytes), one per dispatch (buffer offset).
//   1: dose    array<f32>, storage read: absorbed dose [Gy] of the voxels of this tile (global index - tileBase).
//   2: indices array<u32>, storage read: global voxel indices of one structure, all in this tile, at
//      [entryBase, entryBase + count).
//   3: weights array<f32>, storage read: their occupancy w (dimensionless, (0, 1]; w <= 0 entries are skipped).
//   4: hist    array<atomic<u32>>, storage read_write: 2 words per bin, bin b of the structure at
//      (histBase + b) * 2: [low 32 bits, high 32 bits] of the sum of q (unit: 1/1024 voxel).
// Overrides: WG (workgroup size, <= 256), PER_INVOCATION (entries per invocation).
// Dispatch: 2-D grid of ceil(T / WG) workgroups, T = ceil(count / PER_INVOCATION).

struct Params {
  tileBase: u32,    // first global voxel index of the tile held in dose
  count: u32,       // structure entries in this dispatch
  histBase: u32,    // first bin of this structure in hist (slot * nBins)
  nBins: u32,       // bins per structure
  loGy: f32,        // lower edge of bin 0 [Gy] = min(0, minimum dose)
  scalePerGy: f32,  // nBins / (maximum dose - lo) [1/Gy], 0 when the range is empty
  entryBase: u32,   // first entry of this dispatch in indices / weights
  invocations: u32, // T = ceil(count / PER_INVOCATION)
}

override WG: u32 = 256;
override PER_INVOCATION: u32 = 32;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> dose: array<f32>;
@group(0) @binding(2) var<storage, read> indices: array<u32>;
@group(0) @binding(3) var<storage, read> weights: array<f32>;
@group(0) @binding(4) var<storage, read_write> hist: array<atomic<u32>>;

fn addToBin(bin: u32, q: u32) {
  let word = (params.histBase + bin) * 2u;
  let old = atomicAdd(&hist[word], q);
  if (old + q < old) {
    atomicAdd(&hist[word + 1u], 1u);
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let t = (wid.x + wid.y * nwg.x) * WG + lid;
  if (t >= params.invocations) {
    return;
  }
  // consecutive entries are neighbouring voxels, mostly in one bin: add runs, not entries (fewer atomics)
  var runBin = 0u;
  var runQ = 0u; // <= PER_INVOCATION * 1024
  for (var r = 0u; r < PER_INVOCATION; r++) {
    let e = t * PER_INVOCATION + r;
    if (e >= params.count) {
      break;
    }
    let w = weights[params.entryBase + e];
    let x = w * 1024.0;
    let f = floor(x);
    let q = u32(max(f, 0.0)) + select(0u, 1u, x - f >= 0.5);
    if (w > 0.0 && q != 0u) {
      let d = dose[indices[params.entryBase + e] - params.tileBase];
      let s = (d - params.loGy) * params.scalePerGy;
      let bin = u32(min(floor(s), f32(params.nBins - 1u)));
      if (bin != runBin && runQ != 0u) {
        addToBin(runBin, runQ);
        runQ = 0u;
      }
      runBin = bin;
      runQ += q;
    }
  }
  if (runQ != 0u) {
    addToBin(runBin, runQ);
  }
}
