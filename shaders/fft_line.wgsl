// Batched complex FFT along one axis of a 3-D complex volume, one line per invocation, the whole line held in
// function-scope arrays (Stockham autosort, radices 2, 3, 4, 5; Govindaraju et al. 2008, SC'08, Fig. 2). No
// workgroup memory and no barriers: the layout that suits software adapters (lavapipe runs 8 invocations per SIMD
// instruction, keeps these arrays on its stack, and pays a coroutine switch per barrier); fft_stockham.wgsl is the
// workgroup-memory variant for hardware GPUs. Same transform as fft_stockham.wgsl:
//   forward: X[k] = sum_j x[j] exp(-2 pi i j k / N); inverse (params.inverse = 1): unscaled, exp(+...),
//   computed as swap(DFT(swap(x))) with swap(a + ib) = b + ia.
// Modes (params.mode), all along the line axis, in place on `data`:
//   0 plain: forward or inverse transform.
//   1 fused: forward transform, product with the kernel spectrum line (aux) times params.scale, inverse transform:
//     the last axis of a convolution in one pass.
//   2 load (forward, x axis): line (row a, local plane b) is built from the real input box (aux): real part from
//     slab A, imaginary part from slab B, zero beyond the box (x >= realNx, a >= realNy, b >= planesA / planesB).
//   3 store (inverse, x axis): line (row a + RY, plane b + RZ) is transformed and its elements x + RX, x < realNx,
//     go to the real output box (out): real part to slab A's plane b if b in [keptLoA, keptHiA), imaginary part to
//     slab B's likewise (the kernel is stored shifted by its radius, see convolution/gpu.ts).
// CPU oracle: fftBatched() in packages/dosimetry-core/src/convolution/fft.ts; the convolution as a whole:
// convolveDirectCpu() in packages/dosimetry-core/src/convolution/cpu.ts (host: convolution/gpu.ts).
//
// Bindings (group 0):
//   0: data    array<vec2f>, storage read_write: padded complex volume (re, im); unit U (input) or U x K (output).
//   1: twiddle array<vec2f>, storage read: W_N^t = (cos(2 pi t/N), -sin(2 pi t/N)), t < N, computed in f64 on the host.
//   2: params  uniform Params (160 bytes).
//   3: aux     array<f32>, storage read: mode 1: kernel spectrum, same layout as data (interleaved re, im), unit K;
//              mode 2: real input box, x-fastest, realNx x realNy x planes, unit U (e.g. Bq s); else unused.
//   4: out     array<f32>, storage read_write: mode 3: real output box, same layout as the input box, unit U x K
//              (e.g. Gy); else unused.
// Line (a, b), a < countA, b < countB, starts at a * strideA + b * strideB; element i at + i * elemStride.
// Overrides: WG_X, WG_Y (workgroup size, product <= 256). Dispatch: (ceil(countA / WG_X), ceil(countB / WG_Y))
// workgroups; invocation (a, b) = global id (x, y).

struct Params {
  elemStride: u32,
  strideA: u32,
  countA: u32,
  strideB: u32,
  countB: u32,
  numStages: u32,
  inverse: u32,   // 1: inverse transform (modes 0 and 3)
  n: u32,         // line length N (<= MAX_N, 5-smooth)
  mode: u32,      // 0 plain, 1 fused, 2 load, 3 store
  scale: f32,     // mode 1: factor on the product (1 / (Px Py Pz) undoes the unscaled transforms)
  realNx: u32,    // modes 2, 3: box size along x and y [voxels]
  realNy: u32,
  rx: u32,        // mode 3: kernel radius [voxels]
  ry: u32,
  rz: u32,
  _pad0: u32,
  baseA: u32,     // modes 2, 3: index of slab A's first input plane in the box (plane x realNx x realNy)
  planesA: u32,   // mode 2: input planes of slab A
  keptLoA: u32,   // mode 3: local planes [keptLoA, keptHiA) of slab A go to the output
  keptHiA: u32,
  baseB: u32,     // same for slab B (planesB = 0: no slab B)
  planesB: u32,
  keptLoB: u32,
  keptHiB: u32,
  radices: array<vec4u, 4>, // radix of stage s = radices[s / 4][s % 4]
}

/** Longest line of this kernel (function-scope arrays need a constant size). */
const MAX_N: u32 = 256u;

@group(0) @binding(0) var<storage, read_write> data: array<vec2f>;
@group(0) @binding(1) var<storage, read> twiddle: array<vec2f>;
@group(0) @binding(2) var<uniform> params: Params;
@group(0) @binding(3) var<storage, read> aux: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

override WG_X: u32 = 32u;
override WG_Y: u32 = 1u;

const C3: f32 = -0.5;
const S3: f32 = 0.86602540378443864676;
const C51: f32 = 0.30901699437494742410;
const C52: f32 = -0.80901699437494742410;
const S51: f32 = 0.95105651629515357212;
const S52: f32 = 0.58778525229247312917;

fn cmul(a: vec2f, b: vec2f) -> vec2f {
  return vec2f(a.x * b.x - a.y * b.y, a.x * b.y + a.y * b.x);
}

// -i * a
fn mulNegI(a: vec2f) -> vec2f {
  return vec2f(a.y, -a.x);
}

@compute @workgroup_size(WG_X, WG_Y)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  if (gid.x >= params.countA || gid.y >= params.countB) {
    return;
  }
  let N = params.n;
  let es = params.elemStride;
  let mode = params.mode;
  // two halves [0, MAX_N) and [MAX_N, 2 MAX_N): the Stockham stages ping-pong between them (one copy of the stage
  // code, which keeps the shader small and quick to compile)
  var buf: array<vec2f, 2u * MAX_N>;
  var base = gid.x * params.strideA + gid.y * params.strideB;
  var keepA = false;
  var keepB = false;
  if (mode == 2u) {
    // build the line from the real input box; an all-zero line transforms to zeros
    let hasA = gid.x < params.realNy && gid.y < params.planesA;
    let hasB = gid.x < params.realNy && gid.y < params.planesB;
    if (!hasA && !hasB) {
      for (var i = 0u; i < N; i++) {
        data[base + i * es] = vec2f(0.0);
      }
      return;
    }
    let rowA = (params.baseA + gid.y) * params.realNy * params.realNx + gid.x * params.realNx;
    let rowB = (params.baseB + gid.y) * params.realNy * params.realNx + gid.x * params.realNx;
    for (var i = 0u; i < params.realNx; i++) {
      var v = vec2f(0.0);
      if (hasA) {
        v.x = aux[rowA + i];
      }
      if (hasB) {
        v.y = aux[rowB + i];
      }
      buf[i] = v;
    }
  } else {
    if (mode == 3u) {
      keepA = gid.y >= params.keptLoA && gid.y < params.keptHiA;
      keepB = gid.y >= params.keptLoB && gid.y < params.keptHiB;
      if (!keepA && !keepB) {
        return;
      }
      base = (gid.x + params.ry) * params.strideA + (gid.y + params.rz) * params.strideB;
    }
    let swapIn = params.inverse != 0u && mode != 1u;
    for (var i = 0u; i < N; i++) {
      let v = data[base + i * es];
      buf[i] = select(v, v.yx, swapIn);
    }
  }
  var cur = 0u; // offset of the current line in buf
  let transforms = select(1u, 2u, mode == 1u);
  for (var t = 0u; t < transforms; t++) {
    if (t == 1u) {
      // fused: product with the kernel spectrum, then the inverse as swap(DFT(swap(.)))
      for (var i = 0u; i < N; i++) {
        let k = 2u * (base + i * es);
        buf[cur + i] = (cmul(buf[cur + i], vec2f(aux[k], aux[k + 1u])) * params.scale).yx;
      }
    }
    var ns = 1u;
    for (var s = 0u; s < params.numStages; s++) {
      let R = params.radices[s / 4u][s % 4u];
      let src = cur;
      let dst = MAX_N - cur;
      let m = N / R;
      let twStep = N / (ns * R);
      var jm = 0u;
      var jb = 0u;
      for (var j = 0u; j < m; j++) {
        // jm = j % ns, jb = j - jm, without a division
        let ib = src + j;
        let ob = dst + jb * R + jm;
        let t1 = jm * twStep;
        if (R == 4u) {
          let a0 = buf[ib];
          let a1 = cmul(buf[ib + m], twiddle[t1]);
          let a2 = cmul(buf[ib + 2u * m], twiddle[2u * t1]);
          let a3 = cmul(buf[ib + 3u * m], twiddle[3u * t1]);
          let s0 = a0 + a2;
          let s1 = a0 - a2;
          let s2 = a1 + a3;
          let s3 = mulNegI(a1 - a3);
          buf[ob] = s0 + s2;
          buf[ob + ns] = s1 + s3;
          buf[ob + 2u * ns] = s0 - s2;
          buf[ob + 3u * ns] = s1 - s3;
        } else if (R == 2u) {
          let a0 = buf[ib];
          let a1 = cmul(buf[ib + m], twiddle[t1]);
          buf[ob] = a0 + a1;
          buf[ob + ns] = a0 - a1;
        } else if (R == 3u) {
          let a0 = buf[ib];
          let a1 = cmul(buf[ib + m], twiddle[t1]);
          let a2 = cmul(buf[ib + 2u * m], twiddle[2u * t1]);
          let b = a1 + a2;
          let c = a0 + C3 * b;
          let d = S3 * mulNegI(a1 - a2);
          buf[ob] = a0 + b;
          buf[ob + ns] = c + d;
          buf[ob + 2u * ns] = c - d;
        } else {
          let a0 = buf[ib];
          let a1 = cmul(buf[ib + m], twiddle[t1]);
          let a2 = cmul(buf[ib + 2u * m], twiddle[2u * t1]);
          let a3 = cmul(buf[ib + 3u * m], twiddle[3u * t1]);
          let a4 = cmul(buf[ib + 4u * m], twiddle[4u * t1]);
          let b1 = a1 + a4;
          let b2 = a2 + a3;
          let d1 = a1 - a4;
          let d2 = a2 - a3;
          let c1 = a0 + C51 * b1 + C52 * b2;
          let c2 = a0 + C52 * b1 + C51 * b2;
          let e1 = mulNegI(S51 * d1 + S52 * d2);
          let e2 = mulNegI(S52 * d1 - S51 * d2);
          buf[ob] = a0 + b1 + b2;
          buf[ob + ns] = c1 + e1;
          buf[ob + 4u * ns] = c1 - e1;
          buf[ob + 2u * ns] = c2 + e2;
          buf[ob + 3u * ns] = c2 - e2;
        }
        jm++;
        if (jm == ns) {
          jm = 0u;
          jb += ns;
        }
      }
      cur = dst;
      ns *= R;
    }
  }
  let swapOut = params.inverse != 0u || mode == 1u;
  if (mode == 3u) {
    // inverse: the result is swap(line); slab A is its real part, slab B its imaginary part
    let rowA = (params.baseA + gid.y) * params.realNy * params.realNx + gid.x * params.realNx;
    let rowB = (params.baseB + gid.y) * params.realNy * params.realNx + gid.x * params.realNx;
    for (var i = 0u; i < params.realNx; i++) {
      let v = buf[cur + i + params.rx];
      if (keepA) {
        out[rowA + i] = v.y;
      }
      if (keepB) {
        out[rowB + i] = v.x;
      }
    }
    return;
  }
  for (var i = 0u; i < N; i++) {
    let v = buf[cur + i];
    data[base + i * es] = select(v, v.yx, swapOut);
  }
}
