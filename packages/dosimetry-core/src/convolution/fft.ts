/**
 * Mixed-radix (2, 3, 4, 5) complex FFT for 5-smooth lengths, Stockham autosort form, on split real/imaginary
 * Float64Array planes, batched: `batch` independent transforms whose element i of line b lies at
 * `offset + i * batch + b`, so the innermost loop runs over contiguous memory for every axis of a volume.
 *
 * Algorithm: decimation-in-time Stockham (Govindaraju et al. 2008, "High performance discrete Fourier transforms on
 * graphics processors", SC'08, Fig. 2), generalised to mixed radices; twiddles W_n^t = exp(-2 pi i t / n) are
 * precomputed in f64 once per length. The forward transform is X[k] = sum_j x[j] exp(-2 pi i j k / n); the
 * inverse is computed unscaled by swapping the real and imaginary planes (DFT(conj-swap) identity).
 *
 * Why not an npm library: 'fft.js' (the fastest widely used pure-JS FFT) handles powers of two only, which would
 * pad a 192 + 5 axis to 256 instead of 200 (2.1x the voxels in 3-D); a batched mixed-radix transform on the
 * 5-smooth length does less work and runs contiguous inner loops along the y and z axes.
 */
import { InputError } from '../errors.ts';

/** A precomputed plan for complex transforms of one length. */
export interface FftPlan {
  /** Transform length (5-smooth). */
  readonly n: number;
  /** Radix of each Stockham stage, in order (product = n). */
  readonly radices: readonly number[];
  /** cos(2 pi t / n), t = 0..n-1. */
  readonly twRe: Float64Array;
  /** -sin(2 pi t / n), t = 0..n-1 (forward twiddle W_n^t = twRe + i twIm). */
  readonly twIm: Float64Array;
}

/** True when n > 0 has no prime factor other than 2, 3 and 5. */
export function isFastLength(n: number): boolean {
  if (!Number.isInteger(n) || n < 1) return false;
  for (const p of [2, 3, 5]) while (n % p === 0) n /= p;
  return n === 1;
}

/** Smallest 5-smooth integer >= n (n >= 1). */
export function nextFastLength(n: number): number {
  let m = Math.max(1, Math.ceil(n));
  while (!isFastLength(m)) m++;
  return m;
}

/** Stage radices: as many 4s as possible, then 2, 3, 5 (fewer passes over memory than radix 2). */
function factorRadices(n: number): number[] {
  const out: number[] = [];
  let m = n;
  while (m % 4 === 0) {
    out.push(4);
    m /= 4;
  }
  for (const p of [2, 3, 5]) {
    while (m % p === 0) {
      out.push(p);
      m /= p;
    }
  }
  if (m !== 1) throw new InputError(`FFT length ${n} is not 5-smooth: pad it with nextFastLength(${n}) = ${nextFastLength(n)}`);
  return out;
}

const planCache = new Map<number, FftPlan>();

/** Plan (radices and f64 twiddles) for complex transforms of length n (5-smooth); cached per length. */
export function fftPlan(n: number): FftPlan {
  const cached = planCache.get(n);
  if (cached) return cached;
  const radices = factorRadices(n);
  const twRe = new Float64Array(n);
  const twIm = new Float64Array(n);
  for (let t = 0; t < n; t++) {
    const a = (2 * Math.PI * t) / n;
    twRe[t] = Math.cos(a);
    twIm[t] = -Math.sin(a);
  }
  const plan: FftPlan = { n, radices, twRe, twIm };
  planCache.set(n, plan);
  return plan;
}

const C3 = -0.5;
const S3 = Math.sqrt(3) / 2;
const C51 = Math.cos((2 * Math.PI) / 5);
const C52 = Math.cos((4 * Math.PI) / 5);
const S51 = Math.sin((2 * Math.PI) / 5);
const S52 = Math.sin((4 * Math.PI) / 5);

/**
 * One Stockham stage: reads lines from (xr, xi) at xOff, writes (yr, yi) at yOff; ns = product of the radices
 * already applied. Element i of line b is at off + i * batch + b.
 */
function stage(
  plan: FftPlan,
  radix: number,
  ns: number,
  batch: number,
  xr: Float64Array,
  xi: Float64Array,
  xOff: number,
  yr: Float64Array,
  yi: Float64Array,
  yOff: number,
): void {
  const n = plan.n;
  const twRe = plan.twRe;
  const twIm = plan.twIm;
  const m = n / radix; // butterflies per line
  const sIn = m * batch; // stride between the radix inputs
  const sOut = ns * batch; // stride between the radix outputs
  const twStep = n / (ns * radix); // W_{ns*radix}^(jm*r) = W_n^(jm*r*twStep)
  for (let j = 0; j < m; j++) {
    const jm = j % ns;
    const src = xOff + j * batch;
    const dst = yOff + ((j - jm) * radix + jm) * batch;
    const t1 = jm * twStep;
    if (radix === 4) {
      const w1r = twRe[t1], w1i = twIm[t1];
      const w2r = twRe[(2 * t1) % n], w2i = twIm[(2 * t1) % n];
      const w3r = twRe[(3 * t1) % n], w3i = twIm[(3 * t1) % n];
      for (let b = 0; b < batch; b++) {
        const p0 = src + b;
        const a0r = xr[p0], a0i = xi[p0];
        let tr = xr[p0 + sIn], ti = xi[p0 + sIn];
        const a1r = tr * w1r - ti * w1i, a1i = tr * w1i + ti * w1r;
        tr = xr[p0 + 2 * sIn]; ti = xi[p0 + 2 * sIn];
        const a2r = tr * w2r - ti * w2i, a2i = tr * w2i + ti * w2r;
        tr = xr[p0 + 3 * sIn]; ti = xi[p0 + 3 * sIn];
        const a3r = tr * w3r - ti * w3i, a3i = tr * w3i + ti * w3r;
        const s0r = a0r + a2r, s0i = a0i + a2i;
        const s1r = a0r - a2r, s1i = a0i - a2i;
        const s2r = a1r + a3r, s2i = a1i + a3i;
        // (a1 - a3) * (-i)
        const s3r = a1i - a3i, s3i = a3r - a1r;
        const q = dst + b;
        yr[q] = s0r + s2r; yi[q] = s0i + s2i;
        yr[q + sOut] = s1r + s3r; yi[q + sOut] = s1i + s3i;
        yr[q + 2 * sOut] = s0r - s2r; yi[q + 2 * sOut] = s0i - s2i;
        yr[q + 3 * sOut] = s1r - s3r; yi[q + 3 * sOut] = s1i - s3i;
      }
    } else if (radix === 2) {
      const w1r = twRe[t1], w1i = twIm[t1];
      for (let b = 0; b < batch; b++) {
        const p0 = src + b;
        const a0r = xr[p0], a0i = xi[p0];
        const tr = xr[p0 + sIn], ti = xi[p0 + sIn];
        const a1r = tr * w1r - ti * w1i, a1i = tr * w1i + ti * w1r;
        const q = dst + b;
        yr[q] = a0r + a1r; yi[q] = a0i + a1i;
        yr[q + sOut] = a0r - a1r; yi[q + sOut] = a0i - a1i;
      }
    } else if (radix === 3) {
      const w1r = twRe[t1], w1i = twIm[t1];
      const w2r = twRe[(2 * t1) % n], w2i = twIm[(2 * t1) % n];
      for (let b = 0; b < batch; b++) {
        const p0 = src + b;
        const a0r = xr[p0], a0i = xi[p0];
        let tr = xr[p0 + sIn], ti = xi[p0 + sIn];
        const a1r = tr * w1r - ti * w1i, a1i = tr * w1i + ti * w1r;
        tr = xr[p0 + 2 * sIn]; ti = xi[p0 + 2 * sIn];
        const a2r = tr * w2r - ti * w2i, a2i = tr * w2i + ti * w2r;
        const br = a1r + a2r, bi = a1i + a2i;
        const cr = a0r + C3 * br, ci = a0i + C3 * bi;
        // -i * S3 * (a1 - a2)
        const dr = S3 * (a1i - a2i), di = -S3 * (a1r - a2r);
        const q = dst + b;
        yr[q] = a0r + br; yi[q] = a0i + bi;
        yr[q + sOut] = cr + dr; yi[q + sOut] = ci + di;
        yr[q + 2 * sOut] = cr - dr; yi[q + 2 * sOut] = ci - di;
      }
    } else {
      // radix 5
      const w1r = twRe[t1], w1i = twIm[t1];
      const w2r = twRe[(2 * t1) % n], w2i = twIm[(2 * t1) % n];
      const w3r = twRe[(3 * t1) % n], w3i = twIm[(3 * t1) % n];
      const w4r = twRe[(4 * t1) % n], w4i = twIm[(4 * t1) % n];
      for (let b = 0; b < batch; b++) {
        const p0 = src + b;
        const a0r = xr[p0], a0i = xi[p0];
        let tr = xr[p0 + sIn], ti = xi[p0 + sIn];
        const a1r = tr * w1r - ti * w1i, a1i = tr * w1i + ti * w1r;
        tr = xr[p0 + 2 * sIn]; ti = xi[p0 + 2 * sIn];
        const a2r = tr * w2r - ti * w2i, a2i = tr * w2i + ti * w2r;
        tr = xr[p0 + 3 * sIn]; ti = xi[p0 + 3 * sIn];
        const a3r = tr * w3r - ti * w3i, a3i = tr * w3i + ti * w3r;
        tr = xr[p0 + 4 * sIn]; ti = xi[p0 + 4 * sIn];
        const a4r = tr * w4r - ti * w4i, a4i = tr * w4i + ti * w4r;
        const b1r = a1r + a4r, b1i = a1i + a4i;
        const b2r = a2r + a3r, b2i = a2i + a3i;
        const d1r = a1r - a4r, d1i = a1i - a4i;
        const d2r = a2r - a3r, d2i = a2i - a3i;
        const c1r = a0r + C51 * b1r + C52 * b2r, c1i = a0i + C51 * b1i + C52 * b2i;
        const c2r = a0r + C52 * b1r + C51 * b2r, c2i = a0i + C52 * b1i + C51 * b2i;
        // e1 = -i (S51 d1 + S52 d2), e2 = -i (S52 d1 - S51 d2)
        const e1r = S51 * d1i + S52 * d2i, e1i = -(S51 * d1r + S52 * d2r);
        const e2r = S52 * d1i - S51 * d2i, e2i = -(S52 * d1r - S51 * d2r);
        const q = dst + b;
        yr[q] = a0r + b1r + b2r; yi[q] = a0i + b1i + b2i;
        yr[q + sOut] = c1r + e1r; yi[q + sOut] = c1i + e1i;
        yr[q + 4 * sOut] = c1r - e1r; yi[q + 4 * sOut] = c1i - e1i;
        yr[q + 2 * sOut] = c2r + e2r; yi[q + 2 * sOut] = c2i + e2i;
        yr[q + 3 * sOut] = c2r - e2r; yi[q + 3 * sOut] = c2i - e2i;
      }
    }
  }
}

/**
 * In-place batched complex FFT of `batch` lines of length plan.n stored at re/im[offset + i * batch + b].
 * scratchRe/scratchIm must hold at least n * batch values. inverse: unscaled inverse transform
 * (x[j] = sum_k X[k] exp(+2 pi i j k / n); divide by n yourself).
 */
export function fftBatched(
  plan: FftPlan,
  re: Float64Array,
  im: Float64Array,
  offset: number,
  batch: number,
  scratchRe: Float64Array,
  scratchIm: Float64Array,
  inverse = false,
): void {
  // inverse DFT = swap(DFT(swap(x))): swapping the planes conjugates and multiplies by i, twice.
  let ar = inverse ? im : re;
  let ai = inverse ? re : im;
  let br = inverse ? scratchIm : scratchRe;
  let bi = inverse ? scratchRe : scratchIm;
  let aOff = offset;
  let bOff = 0;
  let ns = 1;
  for (const radix of plan.radices) {
    stage(plan, radix, ns, batch, ar, ai, aOff, br, bi, bOff);
    ns *= radix;
    [ar, br] = [br, ar];
    [ai, bi] = [bi, ai];
    [aOff, bOff] = [bOff, aOff];
  }
  if (ar !== (inverse ? im : re)) {
    // the result lies in the scratch planes: copy it back
    const len = plan.n * batch;
    (inverse ? im : re).set(ar.subarray(0, len), offset);
    (inverse ? re : im).set(ai.subarray(0, len), offset);
  }
}
