// Batched complex FFT along one axis of a 3-D complex volume, in workgroup memory (Stockham autosort, radices
// 2, 3, 4, 5; Govindaraju et al. 2008, SC'08, Fig. 2). Each workgroup transforms LINES lines of length N.
//   forward: X[k] = sum_j x[j] exp(-2 pi i j k / N); inverse (params.inverse = 1): unscaled, exp(+...),
//   computed as swap(DFT(swap(x))) with swap(a + ib) = b + ia.
// CPU oracle: fftBatched() in packages/dosimetry-core/src/convolution/fft.ts (host: convolution/gpu.ts).
//
// Bindings (group 0):
//   0: data    array<vec2f>, storage read_write: complex volume (re, im), transformed in place; unit unchanged.
//   1: twiddle array<vec2f>, storage read: W_N^t = (cos(2 pi t/N), -sin(2 pi t/N)), t < N, computed in f64 on the host.
//   2: params  uniform Params (96 bytes).
// Line l (< countA * countB) starts at (l % countA) * strideA + (l / countA) * strideB; element i at
// + i * elemStride. Overrides: WG (workgroup size <= 256), N (line length), LINES (lines per workgroup),
// SMEM = 2 * LINES * N (two ping-pong buffers, vec2f; <= 4096 for 32 KiB).

struct Params {
  elemStride: u32,
  strideA: u32,
  countA: u32,
  strideB: u32,
  countB: u32,
  numStages: u32,
  inverse: u32,
  groupsX: u32,           // workgroups along x in the dispatch grid (workgroup id = x + y * groupsX)
  radices: array<vec4u, 4>, // radix of stage s = radices[s / 4][s % 4]
}

@group(0) @binding(0) var<storage, read_write> data: array<vec2f>;
@group(0) @binding(1) var<storage, read> twiddle: array<vec2f>;
@group(0) @binding(2) var<uniform> params: Params;

override WG: u32 = 64u;
override N: u32 = 2u;
override LINES: u32 = 1u;
override SMEM: u32 = 4u;

var<workgroup> smem: array<vec2f, SMEM>;

fn cmul(a: vec2f, b: vec2f) -> vec2f {
  return vec2f(a.x * b.x - a.y * b.y, a.x * b.y + a.y * b.x);
}

// -i * a
fn mulNegI(a: vec2f) -> vec2f {
  return vec2f(a.y, -a.x);
}

const C3: f32 = -0.5;
const S3: f32 = 0.86602540378443864676;
const C51: f32 = 0.30901699437494742410;
const C52: f32 = -0.80901699437494742410;
const S51: f32 = 0.95105651629515357212;
const S52: f32 = 0.58778525229247312917;

// element e of this workgroup's block -> (local line, index in line); contiguous memory for consecutive e
fn lineAndIndex(e: u32) -> vec2u {
  if (params.elemStride == 1u) {
    return vec2u(e / N, e % N);
  }
  return vec2u(e % LINES, e / LINES);
}

fn globalOffset(gl: u32, i: u32) -> u32 {
  return (gl % params.countA) * params.strideA + (gl / params.countA) * params.strideB + i * params.elemStride;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) li: u32) {
  let totalLines = params.countA * params.countB;
  let firstLine = (wid.x + wid.y * params.groupsX) * LINES;
  let half = LINES * N;
  for (var e = li; e < half; e += WG) {
    let p = lineAndIndex(e);
    let gl = firstLine + p.x;
    var v = vec2f(0.0);
    if (gl < totalLines) {
      v = data[globalOffset(gl, p.y)];
      if (params.inverse != 0u) {
        v = v.yx;
      }
    }
    smem[p.x * N + p.y] = v;
  }
  workgroupBarrier();
  var ns = 1u;
  for (var s = 0u; s < params.numStages; s++) {
    let R = params.radices[s / 4u][s % 4u];
    let src = (s & 1u) * half;
    let dst = half - src;
    let m = N / R;
    let twStep = N / (ns * R);
    for (var t = li; t < LINES * m; t += WG) {
      let line = t / m;
      let j = t % m;
      let jm = j % ns;
      let ib = src + line * N + j;
      let ob = dst + line * N + (j - jm) * R + jm;
      let t1 = jm * twStep;
      if (R == 4u) {
        let a0 = smem[ib];
        let a1 = cmul(smem[ib + m], twiddle[t1]);
        let a2 = cmul(smem[ib + 2u * m], twiddle[(2u * t1) % N]);
        let a3 = cmul(smem[ib + 3u * m], twiddle[(3u * t1) % N]);
        let s0 = a0 + a2;
        let s1 = a0 - a2;
        let s2 = a1 + a3;
        let s3 = mulNegI(a1 - a3);
        smem[ob] = s0 + s2;
        smem[ob + ns] = s1 + s3;
        smem[ob + 2u * ns] = s0 - s2;
        smem[ob + 3u * ns] = s1 - s3;
      } else if (R == 2u) {
        let a0 = smem[ib];
        let a1 = cmul(smem[ib + m], twiddle[t1]);
        smem[ob] = a0 + a1;
        smem[ob + ns] = a0 - a1;
      } else if (R == 3u) {
        let a0 = smem[ib];
        let a1 = cmul(smem[ib + m], twiddle[t1]);
        let a2 = cmul(smem[ib + 2u * m], twiddle[(2u * t1) % N]);
        let b = a1 + a2;
        let c = a0 + C3 * b;
        let d = S3 * mulNegI(a1 - a2);
        smem[ob] = a0 + b;
        smem[ob + ns] = c + d;
        smem[ob + 2u * ns] = c - d;
      } else {
        let a0 = smem[ib];
        let a1 = cmul(smem[ib + m], twiddle[t1]);
        let a2 = cmul(smem[ib + 2u * m], twiddle[(2u * t1) % N]);
        let a3 = cmul(smem[ib + 3u * m], twiddle[(3u * t1) % N]);
        let a4 = cmul(smem[ib + 4u * m], twiddle[(4u * t1) % N]);
        let b1 = a1 + a4;
        let b2 = a2 + a3;
        let d1 = a1 - a4;
        let d2 = a2 - a3;
        let c1 = a0 + C51 * b1 + C52 * b2;
        let c2 = a0 + C52 * b1 + C51 * b2;
        let e1 = mulNegI(S51 * d1 + S52 * d2);
        let e2 = mulNegI(S52 * d1 - S51 * d2);
        smem[ob] = a0 + b1 + b2;
        smem[ob + ns] = c1 + e1;
        smem[ob + 4u * ns] = c1 - e1;
        smem[ob + 2u * ns] = c2 + e2;
        smem[ob + 3u * ns] = c2 - e2;
      }
    }
    ns *= R;
    workgroupBarrier();
  }
  let res = (params.numStages & 1u) * half;
  for (var e = li; e < half; e += WG) {
    let p = lineAndIndex(e);
    let gl = firstLine + p.x;
    if (gl < totalLines) {
      var v = smem[res + p.x * N + p.y];
      if (params.inverse != 0u) {
        v = v.yx;
      }
      data[globalOffset(gl, p.y)] = v;
    }
  }
}
