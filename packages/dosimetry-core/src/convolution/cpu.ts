/**
 * CPU back end of the dose-kernel convolution: an FFT path (production) and a direct f64 path (oracle).
 */
import { checkConvolutionOptions, type ConvolutionOptions } from './types.ts';
import { fftBatched, fftPlan, nextFastLength, type FftPlan } from './fft.ts';
import { insertBox, planCrop } from './crop.ts';

/**
 * Direct "same" convolution with zero padding, plain loops, f64 accumulation (the oracle of every other path):
 *   out[x] = sum_k volume[x - k] * kernel[k + r].
 * Cost N * (2rx+1)(2ry+1)(2rz+1) multiply-adds: use it for small cases and tests.
 * @returns out, same dims and unit volume-unit x kernel-unit (Bq s x Gy/(Bq s) = Gy).
 */
export function convolveDirectCpu(opts: ConvolutionOptions): Float32Array {
  checkConvolutionOptions(opts);
  const [nx, ny, nz] = opts.dims;
  const [rx, ry, rz] = opts.kernelRadius;
  const kx = 2 * rx + 1;
  const ky = 2 * ry + 1;
  const vol = opts.volume;
  const ker = opts.kernel;
  const out = new Float32Array(nx * ny * nz);
  for (let z = 0; z < nz; z++) {
    for (let y = 0; y < ny; y++) {
      for (let x = 0; x < nx; x++) {
        let acc = 0;
        for (let dz = -rz; dz <= rz; dz++) {
          const sz = z - dz;
          if (sz < 0 || sz >= nz) continue;
          for (let dy = -ry; dy <= ry; dy++) {
            const sy = y - dy;
            if (sy < 0 || sy >= ny) continue;
            const vRow = nx * (sy + ny * sz);
            const kRow = kx * (dy + ry + ky * (dz + rz));
            for (let dx = -rx; dx <= rx; dx++) {
              const sx = x - dx;
              if (sx < 0 || sx >= nx) continue;
              acc += vol[vRow + sx] * ker[kRow + dx + rx];
            }
          }
        }
        out[x + nx * (y + ny * z)] = acc;
      }
    }
    opts.onProgress?.((z + 1) / nz);
  }
  return out;
}

/** Padded FFT lengths [Px, Py, Pz] used by convolveCpu: smallest 5-smooth P >= n + r per axis (see convolveCpu). */
export function fftPaddedDims(dims: readonly number[], radius: readonly number[]): [number, number, number] {
  return [0, 1, 2].map((a) => nextFastLength(dims[a] + radius[a])) as [number, number, number];
}

/**
 * State shared by the phases of the FFT convolution: sizes, input, output and the half spectra (re/im planes of
 * hx * Py * Pz values, index kx + hx * (ky + Py * kz)). The arrays may live on SharedArrayBuffers, so that worker
 * threads (./fft-workers.ts) run parts of a phase on the same memory.
 */
export interface FftConvState {
  readonly dims: readonly [number, number, number];
  readonly radius: readonly [number, number, number];
  /** Padded FFT lengths [Px, Py, Pz] (fftPaddedDims). */
  readonly pd: readonly [number, number, number];
  readonly kernel: Float32Array;
  readonly volume: Float32Array;
  readonly out: Float32Array;
  readonly kRe: Float64Array;
  readonly kIm: Float64Array;
  readonly sRe: Float64Array;
  readonly sIm: Float64Array;
}

/** Per-thread plans and scratch lines of the phases. */
export interface FftWorkspace {
  readonly planX: FftPlan;
  readonly planY: FftPlan;
  readonly planZ: FftPlan;
  readonly re: Float64Array;
  readonly im: Float64Array;
  readonly re2: Float64Array;
  readonly im2: Float64Array;
  readonly lineRe: Float64Array;
  readonly lineIm: Float64Array;
  readonly zr: Float64Array;
  readonly zi: Float64Array;
  /** Rows of one plane as x-lines in [x][pair] order (batch = row pairs), for the x transforms. */
  readonly xRe: Float64Array;
  readonly xIm: Float64Array;
}

/**
 * Rows ky taken together by the z phases: the lines (:, ky..ky+B-1, :) are contiguous runs of B x hx values per
 * plane, so gathering B at once reads memory in longer runs (B x hx x 8 bytes per page touched instead of hx x 8).
 * Every line is still transformed on its own, so the blocking changes no bit of the result.
 */
const Z_BLOCK = 8;

export function makeFftWorkspace(st: FftConvState): FftWorkspace {
  const [px, py, pz] = st.pd;
  const hx = (px >> 1) + 1;
  const pairs = Math.ceil(Math.max(py, 2 * st.radius[1] + 1) / 2);
  const scratchLen = Math.max(hx * py, Z_BLOCK * hx * pz, px * pairs);
  return {
    planX: fftPlan(px),
    planY: fftPlan(py),
    planZ: fftPlan(pz),
    re: new Float64Array(px),
    im: new Float64Array(px),
    re2: new Float64Array(scratchLen),
    im2: new Float64Array(scratchLen),
    lineRe: new Float64Array(px),
    lineIm: new Float64Array(px),
    zr: new Float64Array(Z_BLOCK * hx * pz),
    zi: new Float64Array(Z_BLOCK * hx * pz),
    xRe: new Float64Array(px * pairs),
    xIm: new Float64Array(px * pairs),
  };
}

/**
 * The phases, each a loop over independent planes or lines, so that any split of [from, to) over threads gives the
 * same bits as one thread:
 *  - 'kernelXY' (the distinct z planes of the wrapped kernel): kernel spectrum along x and y;
 *  - 'dataXY' (z in [0, nz)): data spectrum along x and y;
 *  - 'kernelZ' (ky in [0, Py)): kernel spectrum along z;
 *  - 'dataZ' (ky in [0, Py)): data along z, times the kernel spectrum, inverse along z (planes z < nz kept);
 *  - 'inverseY' (z in [0, nz)): inverse along y;
 *  - 'c2r' (z in [0, nz)): half-complex to real along x, into out.
 */
export type FftPhase = 'kernelXY' | 'dataXY' | 'kernelZ' | 'dataZ' | 'inverseY' | 'c2r';

/** The distinct indices (o + P) mod P of the kernel offsets o in [-r, r], in order of first appearance. */
function wrappedIndices(r: number, p: number): number[] {
  return [...new Set(Array.from({ length: 2 * r + 1 }, (_, i) => (i - r + p) % p))];
}

/** Length of the index range a phase runs over. */
export function fftPhaseLength(st: FftConvState, phase: FftPhase): number {
  if (phase === 'kernelXY') return wrappedIndices(st.radius[2], st.pd[2]).length;
  if (phase === 'kernelZ' || phase === 'dataZ') return st.pd[1];
  return st.dims[2];
}

/**
 * Forward real-to-half-complex transform along x of rows `ys` of one z plane `zOut` of the spectrum (all other rows
 * of the plane are zero), then complex along y of that plane. Rows are transformed two at a time as one complex line
 * (a + i b) and separated with A[k] = (Z[k] + conj Z[-k]) / 2, B[k] = (Z[k] - conj Z[-k]) / 2i (two-for-one real
 * FFT, Press et al., Numerical Recipes 3rd ed., section 12.3). fill(y, dst) adds row y of the real input into dst.
 */
function forwardPlaneXY(
  st: FftConvState,
  ws: FftWorkspace,
  re: Float64Array,
  im: Float64Array,
  zOut: number,
  ys: readonly number[],
  fill: (y: number, dst: Float64Array) => void,
): void {
  const [px, py] = st.pd;
  const hx = (px >> 1) + 1;
  const { lineRe: line, xRe, xIm } = ws;
  // row pairs as the batch of one x transform: element x of pair p at x * pairs + p (rows a + i b)
  const pairs = Math.ceil(ys.length / 2);
  xRe.fill(0, 0, px * pairs);
  xIm.fill(0, 0, px * pairs);
  for (let p = 0; p < pairs; p++) {
    line.fill(0);
    fill(ys[2 * p], line);
    for (let x = 0; x < px; x++) xRe[x * pairs + p] = line[x];
    if (2 * p + 1 < ys.length) {
      line.fill(0);
      fill(ys[2 * p + 1], line);
      for (let x = 0; x < px; x++) xIm[x * pairs + p] = line[x];
    }
  }
  fftBatched(ws.planX, xRe, xIm, 0, pairs, ws.re2, ws.im2);
  for (let p = 0; p < pairs; p++) {
    const two = 2 * p + 1 < ys.length;
    const oa = hx * (ys[2 * p] + py * zOut);
    const ob = two ? hx * (ys[2 * p + 1] + py * zOut) : -1;
    for (let k = 0; k < hx; k++) {
      const kn = k === 0 ? 0 : px - k;
      const zr = xRe[k * pairs + p], zi = xIm[k * pairs + p];
      const cr = xRe[kn * pairs + p], ci = -xIm[kn * pairs + p];
      re[oa + k] = 0.5 * (zr + cr);
      im[oa + k] = 0.5 * (zi + ci);
      if (ob >= 0) {
        // (Z - conj Z[-k]) / 2i = ((zi - ci) - i (zr - cr)) / 2
        re[ob + k] = 0.5 * (zi - ci);
        im[ob + k] = -0.5 * (zr - cr);
      }
    }
  }
  fftBatched(ws.planY, re, im, hx * py * zOut, hx, ws.re2, ws.im2);
}

/** Runs planes/lines [from, to) of one phase (see FftPhase) with this thread's workspace. */
export function runFftPhase(st: FftConvState, ws: FftWorkspace, phase: FftPhase, from: number, to: number): void {
  const [nx, ny, nz] = st.dims;
  const [rx, ry, rz] = st.radius;
  const [px, py, pz] = st.pd;
  const hx = (px >> 1) + 1;
  const { zr, zi } = ws;
  // rows y0..y0+b-1 of every plane z <-> [z][row][kx] in zr/zi (batch b x hx contiguous)
  const gather = (re: Float64Array, im: Float64Array, y0: number, b: number) => {
    const run = b * hx;
    for (let z = 0; z < pz; z++) {
      const o = hx * (y0 + py * z);
      zr.set(re.subarray(o, o + run), run * z);
      zi.set(im.subarray(o, o + run), run * z);
    }
  };
  const scatter = (re: Float64Array, im: Float64Array, y0: number, b: number, planes: number) => {
    const run = b * hx;
    for (let z = 0; z < planes; z++) {
      const o = hx * (y0 + py * z);
      re.set(zr.subarray(run * z, run * z + run), o);
      im.set(zi.subarray(run * z, run * z + run), o);
    }
  };
  switch (phase) {
    case 'kernelXY': {
      // kernel stored wrapped (centre at index 0), scaled by 1 / (Px Py Pz) (the inverse transform is unscaled).
      // Several offsets fold onto one index when P < 2r + 1; they are summed, which is exact because only one of
      // them is ever realised as an in-grid difference m - j (see convolveCpu).
      const kx = 2 * rx + 1;
      const ky = 2 * ry + 1;
      const scale = 1 / (px * py * pz);
      const wrappedYs = wrappedIndices(ry, py);
      const wrappedZs = wrappedIndices(rz, pz);
      for (let q = from; q < to; q++) {
        const z = wrappedZs[q];
        forwardPlaneXY(st, ws, st.kRe, st.kIm, z, wrappedYs, (y, dst) => {
          for (let dz = -rz; dz <= rz; dz++) {
            if ((dz + pz) % pz !== z) continue;
            for (let dy = -ry; dy <= ry; dy++) {
              if ((dy + py) % py !== y) continue;
              const row = kx * (dy + ry + ky * (dz + rz));
              for (let dx = -rx; dx <= rx; dx++) dst[(dx + px) % px] += st.kernel[row + dx + rx] * scale;
            }
          }
        });
      }
      return;
    }
    case 'dataXY': {
      const ys = Array.from({ length: ny }, (_, i) => i);
      const vol = st.volume;
      for (let z = from; z < to; z++) {
        forwardPlaneXY(st, ws, st.sRe, st.sIm, z, ys, (y, dst) => {
          const o = nx * (y + ny * z);
          for (let x = 0; x < nx; x++) dst[x] = vol[o + x];
        });
      }
      return;
    }
    case 'kernelZ':
      for (let y = from; y < to; y += Z_BLOCK) {
        const b = Math.min(Z_BLOCK, to - y);
        gather(st.kRe, st.kIm, y, b);
        fftBatched(ws.planZ, zr, zi, 0, b * hx, ws.re2, ws.im2);
        scatter(st.kRe, st.kIm, y, b, pz);
      }
      return;
    case 'dataZ':
      // lines (:, ky, :) gathered into [kz][ky][kx] (batch b x hx contiguous), times the kernel spectrum, inverted;
      // only the kept output planes z < nz go back
      for (let y = from; y < to; y += Z_BLOCK) {
        const b = Math.min(Z_BLOCK, to - y);
        const run = b * hx;
        gather(st.sRe, st.sIm, y, b);
        fftBatched(ws.planZ, zr, zi, 0, run, ws.re2, ws.im2);
        for (let z = 0; z < pz; z++) {
          const o = hx * (y + py * z);
          const l = run * z;
          for (let k = 0; k < run; k++) {
            const ar = zr[l + k], ai = zi[l + k];
            const br = st.kRe[o + k], bi = st.kIm[o + k];
            zr[l + k] = ar * br - ai * bi;
            zi[l + k] = ar * bi + ai * br;
          }
        }
        fftBatched(ws.planZ, zr, zi, 0, run, ws.re2, ws.im2, true);
        scatter(st.sRe, st.sIm, y, b, nz);
      }
      return;
    case 'inverseY':
      for (let z = from; z < to; z++) fftBatched(ws.planY, st.sRe, st.sIm, hx * py * z, hx, ws.re2, ws.im2, true);
      return;
    case 'c2r': {
      // half-complex-to-real along x, two rows of a plane per line and all the plane's pairs as one batch:
      // Z[k] = A[k] + i B[k] with the Hermitian extension A[P-k] = conj A[k]; IFFT(Z) = a + i b.
      const { xRe, xIm } = ws;
      const { sRe, sIm, out } = st;
      const pairs = Math.ceil(ny / 2);
      for (let z = from; z < to; z++) {
        for (let p = 0; p < pairs; p++) {
          const ya = 2 * p;
          const two = ya + 1 < ny;
          const oa = hx * (ya + py * z);
          const ob = two ? oa + hx : -1;
          for (let k = 0; k < hx; k++) {
            const Ar = sRe[oa + k], Ai = sIm[oa + k];
            const Br = two ? sRe[ob + k] : 0, Bi = two ? sIm[ob + k] : 0;
            xRe[k * pairs + p] = Ar - Bi;
            xIm[k * pairs + p] = Ai + Br;
            if (k > 0 && px - k >= hx) {
              // conj A + i conj B
              xRe[(px - k) * pairs + p] = Ar + Bi;
              xIm[(px - k) * pairs + p] = -Ai + Br;
            }
          }
        }
        fftBatched(ws.planX, xRe, xIm, 0, pairs, ws.re2, ws.im2, true);
        for (let p = 0; p < pairs; p++) {
          const o = nx * (2 * p + ny * z);
          for (let x = 0; x < nx; x++) out[o + x] = xRe[x * pairs + p];
          if (2 * p + 1 < ny) for (let x = 0; x < nx; x++) out[o + nx + x] = xIm[x * pairs + p];
        }
      }
      return;
    }
  }
}

/** Order of the phases, with the fraction of the work done after each (for progress). */
export const FFT_PHASES: ReadonlyArray<readonly [FftPhase, number]> = [
  ['kernelXY', 0.05],
  ['dataXY', 0.35],
  ['kernelZ', 0.5],
  ['dataZ', 0.8],
  ['inverseY', 0.9],
  ['c2r', 1],
];

/** New state for a whole-grid FFT convolution; `alloc` makes the f64 planes (plain or shared memory). */
export function makeFftConvState(opts: ConvolutionOptions, alloc: (n: number) => Float64Array = (n) => new Float64Array(n), out?: Float32Array, volume?: Float32Array): FftConvState {
  const pd = fftPaddedDims(opts.dims, opts.kernelRadius);
  const size = ((pd[0] >> 1) + 1) * pd[1] * pd[2];
  const [nx, ny, nz] = opts.dims;
  return {
    dims: [nx, ny, nz],
    radius: [opts.kernelRadius[0], opts.kernelRadius[1], opts.kernelRadius[2]],
    pd,
    kernel: opts.kernel,
    volume: volume ?? opts.volume,
    out: out ?? new Float32Array(nx * ny * nz),
    kRe: alloc(size),
    kIm: alloc(size),
    sRe: alloc(size),
    sIm: alloc(size),
  };
}

/**
 * "Same" convolution with zero padding by FFT (convolution theorem, circular convolution on a padded grid).
 * Each axis is padded to the smallest 5-smooth length P >= n + r: with the kernel stored wrapped (centre at
 * index 0), circular output m in [0, n) reads inputs m - k for k in [-r, r]; they alias only when
 * m - k + P < n or m - k - P >= 0, impossible for P >= n + r, so the kept outputs equal the linear convolution.
 * Real-input 3-D transform: x by the two-for-one trick into hx = P/2 + 1 bins, then y and z complex; the z pass
 * multiplies by the kernel spectrum and inverts in one sweep; rows and planes that are zero (outside the
 * input) or not kept (outside the output) are skipped. Memory: 4 x hx*Py*Pz f64 values (about 0.64 GB at 256^3).
 * Accuracy: f64 throughout; relative error vs convolveDirectCpu ~1e-7 of the maximum (float32 input/output).
 * Only the non-zero support dilated by the kernel radius is transformed (exact, ./crop.ts; opts.cropToSupport).
 * One thread; `convolveCpuAsync` runs the same phases on worker threads too, with the same result bit for bit.
 * @returns out, same dims as the input; unit volume-unit x kernel-unit (Bq s x Gy/(Bq s) = Gy).
 */
export function convolveCpu(opts: ConvolutionOptions): Float32Array {
  checkConvolutionOptions(opts);
  const crop = planCrop(opts);
  if (crop.kind === 'empty') {
    opts.onProgress?.(1);
    return new Float32Array(opts.volume.length);
  }
  if (crop.kind === 'whole') return convolveCpuWhole(opts);
  return insertBox(convolveCpuWhole(crop.opts), opts.dims, crop.box);
}

/** convolveCpu on the whole grid (no support cropping), on this thread. */
function convolveCpuWhole(opts: ConvolutionOptions): Float32Array {
  const st = makeFftConvState(opts);
  const ws = makeFftWorkspace(st);
  for (const [phase, done] of FFT_PHASES) {
    runFftPhase(st, ws, phase, 0, fftPhaseLength(st, phase));
    opts.onProgress?.(done);
  }
  return st.out;
}
