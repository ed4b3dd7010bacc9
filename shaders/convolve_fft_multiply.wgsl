// Pointwise complex product of a spectrum with the kernel spectrum, scaled (convolution theorem step).
//   data[i] = data[i] * kspec[i] * scale,  i < count
// CPU oracle: the kernel-spectrum product in convolveCpu() (packages/dosimetry-core/src/convolution/cpu.ts);
// host: convolution/gpu.ts.
//
// Bindings (group 0):
//   0: data  array<vec2f>, storage read_write: complex spectrum of the input (re, im), unit U (e.g. Bq s).
//   1: kspec array<vec2f>, storage read: complex spectrum of the wrapped kernel, unit K (e.g. Gy/(Bq s)).
//   2: params uniform Params (16 bytes); scale = 1 / (Px Py Pz) undoes the unscaled inverse transforms.
// Overrides: WG (workgroup size, <= 256). Dispatch: 2-D grid, i = gid.x + gid.y * rowStride.

struct Params {
  count: u32,
  rowStride: u32,
  scale: f32,
  _pad: u32,
}

@group(0) @binding(0) var<storage, read_write> data: array<vec2f>;
@group(0) @binding(1) var<storage, read> kspec: array<vec2f>;
@group(0) @binding(2) var<uniform> params: Params;

override WG: u32 = 256u;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.x + gid.y * params.rowStride;
  if (i >= params.count) {
    return;
  }
  let a = data[i];
  let b = kspec[i];
  data[i] = vec2f(a.x * b.x - a.y * b.y, a.x * b.y + a.y * b.x) * params.scale;
}
