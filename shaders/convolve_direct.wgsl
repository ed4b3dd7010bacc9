// Direct "same" convolution with zero padding, one output voxel per invocation, tiled in workgroup memory.
//   output[x] = sum_k input[x - k] * kernel[k + r],   k in [-RX, RX] x [-RY, RY] x [-RZ, RZ]
// CPU oracle: convolveDirectCpu() in packages/dosimetry-core/src/convolution/cpu.ts (host: convolution/gpu.ts).
//
// Bindings (group 0):
//   0: input  array<f32>, storage read: an input slab, x-fastest, nx * ny * nzIn values, unit U (e.g. Bq s);
//      planes outside the slab are outside the volume (zero); the slab carries the z halo of the output slab.
//   1: kernel array<f32>, storage read: (2RX+1)(2RY+1)(2RZ+1) values, x-fastest, centre = offset 0, unit K
//      (e.g. voxel S value, Gy/(Bq s)).
//   2: output array<f32>, storage read_write: nx * ny * nzOut values, unit U x K (e.g. Gy).
//   3: params uniform Params (32 bytes).
// Overrides: WG_X, WG_Y, WG_Z (workgroup size, product <= 256), RX, RY, RZ (kernel radius in voxels),
//   TILE_LEN = (WG_X + 2RX)(WG_Y + 2RY)(WG_Z + 2RZ) (workgroup tile + halo, f32 values, <= 8192).

struct Params {
  nx: u32,
  ny: u32,
  nzIn: u32,   // planes in the input slab
  nzOut: u32,  // planes in the output slab
  zOut0: u32,  // first output plane, in input-slab plane coordinates
  _pad0: u32,
  _pad1: u32,
  _pad2: u32,
}

@group(0) @binding(0) var<storage, read> input: array<f32>;
@group(0) @binding(1) var<storage, read> kernel: array<f32>;
@group(0) @binding(2) var<storage, read_write> output: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

override WG_X: u32 = 8u;
override WG_Y: u32 = 8u;
override WG_Z: u32 = 4u;
override RX: u32 = 1u;
override RY: u32 = 1u;
override RZ: u32 = 1u;
override TILE_LEN: u32 = 1u;

var<workgroup> tile: array<f32, TILE_LEN>;

@compute @workgroup_size(WG_X, WG_Y, WG_Z)
fn main(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(local_invocation_id) lid: vec3u,
  @builtin(local_invocation_index) li: u32,
) {
  let tx = WG_X + 2u * RX;
  let ty = WG_Y + 2u * RY;
  let kx = 2u * RX + 1u;
  let ky = 2u * RY + 1u;
  let nx = i32(params.nx);
  let ny = i32(params.ny);
  let nzIn = i32(params.nzIn);
  // input coordinates of the tile origin (output tile origin minus the radius)
  let ox = i32(wid.x * WG_X) - i32(RX);
  let oy = i32(wid.y * WG_Y) - i32(RY);
  let oz = i32(wid.z * WG_Z + params.zOut0) - i32(RZ);
  for (var e = li; e < TILE_LEN; e += WG_X * WG_Y * WG_Z) {
    let x = ox + i32(e % tx);
    let y = oy + i32((e / tx) % ty);
    let z = oz + i32(e / (tx * ty));
    var v = 0.0;
    if (x >= 0 && x < nx && y >= 0 && y < ny && z >= 0 && z < nzIn) {
      v = input[u32(x) + params.nx * (u32(y) + params.ny * u32(z))];
    }
    tile[e] = v;
  }
  workgroupBarrier();
  let x = wid.x * WG_X + lid.x;
  let y = wid.y * WG_Y + lid.y;
  let zo = wid.z * WG_Z + lid.z;
  if (x >= params.nx || y >= params.ny || zo >= params.nzOut) {
    return;
  }
  // input[x - k] lies at tile coordinate lid + R - k = lid + 2R - (k + R)
  var acc = 0.0;
  for (var kz = 0u; kz <= 2u * RZ; kz++) {
    for (var kyi = 0u; kyi <= 2u * RY; kyi++) {
      let tRow = tx * ((lid.y + 2u * RY - kyi) + ty * (lid.z + 2u * RZ - kz)) + lid.x + 2u * RX;
      let kRow = kx * (kyi + ky * kz);
      for (var kxi = 0u; kxi <= 2u * RX; kxi++) {
        acc += tile[tRow - kxi] * kernel[kRow + kxi];
      }
    }
  }
  output[x + params.nx * (y + params.ny * zo)] = acc;
}
