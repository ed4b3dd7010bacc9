// Gathers the kept output planes of the two real slabs from the padded complex grid of the 'workgroup' FFT layout
// after the inverse transform (real part: slab A, imaginary part: slab B) into one compact real box, slab A's kept
// planes then slab B's, which is the output volume's z range [z0 of A, z1 of B) in order. The kernel is stored
// shifted by its radius (see kernelSpectrumRows in convolution/gpu.ts), so output voxel (x, y) of local input
// plane l lies at padded index (x + rx, y + ry, l + rz):
//   out[x + nx (y + ny k)] = data[(x + rx) + Px ((y + ry) + Py (l + rz))].x, l = keptLoA + k,            k < keptA
//                          = same .y with l = keptLoB + k - keptA,                             keptA <= k < keptA + keptB
// count = nx ny (keptA + keptB). CPU oracle: convolveDirectCpu() in packages/dosimetry-core/src/convolution/cpu.ts
// (the convolution as a whole; host: convolution/gpu.ts, FFT_PACK_PARAMS).
//
// Bindings (group 0):
//   0: data   array<vec2f>, storage read: padded complex grid Px x Py x Pz after the inverse transform, unit U x K.
//   1: out    array<f32>, storage read_write: compact real output box, x-fastest, nx x ny x (keptA + keptB),
//             unit U x K (e.g. Gy).
//   2: params uniform Params (80 bytes, same struct as fft_pack.wgsl).
// Overrides: WG (workgroup size, <= 256). Dispatch: 2-D grid, element i = gid.x + gid.y * rowStride, i < count.

struct Params {
  nx: u32,        // real box size along x and y [voxels]
  ny: u32,
  px: u32,        // padded lengths along x and y [samples]
  py: u32,
  count: u32,     // elements to write: nx ny (keptA + keptB)
  rowStride: u32, // invocations per row of the dispatch grid (groups along x x WG)
  rx: u32,        // kernel radius [voxels]: offset of the kept outputs in the padded grid
  ry: u32,
  rz: u32,
  _pad0: u32,
  _pad1: u32,
  _pad2: u32,
  baseA: u32,     // unused here (same struct as fft_pack.wgsl)
  planesA: u32,
  baseB: u32,
  planesB: u32,
  keptLoA: u32,   // first kept local input plane of slab A
  keptA: u32,     // kept planes of slab A
  keptLoB: u32,   // same for slab B (keptB = 0: no slab B)
  keptB: u32,
}

@group(0) @binding(0) var<storage, read> data: array<vec2f>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

override WG: u32 = 256;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.x + gid.y * params.rowStride;
  if (i >= params.count) {
    return;
  }
  let plane = params.nx * params.ny;
  let x = i % params.nx;
  let y = (i / params.nx) % params.ny;
  let k = i / plane;
  let partB = k >= params.keptA;
  var l = params.keptLoA + k;
  if (partB) {
    l = params.keptLoB + (k - params.keptA);
  }
  let v = data[(x + params.rx) + params.px * ((y + params.ry) + params.py * (l + params.rz))];
  out[i] = select(v.x, v.y, partB);
}
