/**
 * The CPU FFT convolution streamed along z: a 2-D FFT (x, y) of every plane, the z part done directly in the 2-D
 * spectral domain, a 2-D inverse FFT of every output plane:
 *
 *   Out^(kx, ky; z) = sum_{dz = -rz..rz} K^(kx, ky; dz) x A^(kx, ky; z - dz)      (A = 0 outside [0, nz))
 *
 * which is the 3-D convolution theorem applied along x and y only (the transform along z of a kernel 2rz + 1 planes
 * deep buys nothing over its 2rz + 1 products per bin; dose kernels are 13 planes deep). Each axis x, y is padded to
 * the smallest 5-smooth P >= n + r, so the kept outputs equal the linear "same" convolution with zero padding
 * (see convolveCpu); z needs no padding at all.
 *
 * Mirror-symmetric kernels (voxel S values are) have real plane spectra with K^(dz) = K^(-dz): the sum then pairs
 * the planes z - d and z + d and multiplies real by complex, a quarter of the multiplications (StreamKernel.symmetric).
 *
 * Memory per thread: the kernel's 2rz + 1 plane spectra, a ring of the data spectra of the T + 2rz input planes one
 * slab of T output planes reads (plus a plane of zeros), and the T output spectra: 2T + 4rz + 2 planes of hx x Py
 * complex f64 (hx = Px/2 + 1), e.g. 58 planes of 2.3 MB (136 MB) at 512 x 512 and rz = 6, whatever the number of
 * planes. The input and output volumes (float32) may be the same array (the output overwrites inputs whose spectra
 * are already in the ring; convolveStreamInPlacePart does it with several threads).
 *
 * Cache: the products of a slab run over chunks of bins, so that the chunk of every plane in the ring, the kernel and
 * the outputs stay in the core's L2 while all T output planes read them.
 *
 * Determinism: each output plane is the same function of the same plane spectra (fixed order of dz) whatever the slab
 * size or the split of z over threads, so any split gives the same bits.
 */
import { fftBatched, fftPlan, nextFastLength, type FftPlan } from './fft.ts';
import type { ConvolutionOptions } from './types.ts';

/** Output planes per slab (T). */
const SLAB = 16;
/** Bins per chunk of the spectral products. */
const CHUNK = 512;

/** Padded FFT lengths [Px, Py] of the x and y axes: smallest 5-smooth P >= n + r (z is not transformed). */
export function streamPaddedDims(dims: readonly number[], radius: readonly number[]): [number, number] {
  return [nextFastLength(dims[0] + radius[0]), nextFastLength(dims[1] + radius[1])];
}

/** Kernel plane spectra and sizes of one streamed convolution (read-only once made; shareable between threads). */
export interface StreamKernel {
  readonly dims: readonly [number, number, number];
  readonly radius: readonly [number, number, number];
  readonly px: number;
  readonly py: number;
  /** hx x Py bins per plane, index kx + hx * ky. */
  readonly bins: number;
  /** 2rz + 1 plane spectra (plane dz + rz at (dz + rz) * bins), scaled by 1 / (Px Py) (the inverse is unscaled). */
  readonly kRe: Float64Array;
  readonly kIm: Float64Array;
  /**
   * The kernel is mirror-symmetric along every axis (bit for bit, as voxel S values are): its plane spectra are then
   * real (the imaginary parts, round-off of ~1e-17 of the real ones, are not used) and K^(dz) = K^(-dz), so that
   * out^ = K^(0) A^(z) + sum_{d=1..rz} K^(d) (A^(z - d) + A^(z + d)): a quarter of the multiplications.
   */
  readonly symmetric: boolean;
}

/** True when kernel[dx, dy, dz] equals kernel[-dx, dy, dz], kernel[dx, -dy, dz] and kernel[dx, dy, -dz] exactly. */
export function isMirrorSymmetric(kernel: Float32Array, radius: readonly number[]): boolean {
  const [rx, ry, rz] = radius;
  const kx = 2 * rx + 1;
  const ky = 2 * ry + 1;
  const at = (x: number, y: number, z: number) => kernel[x + rx + kx * (y + ry + ky * (z + rz))];
  for (let z = -rz; z <= rz; z++) {
    for (let y = -ry; y <= ry; y++) {
      for (let x = -rx; x <= rx; x++) {
        const v = at(x, y, z);
        if (v !== at(-x, y, z) || v !== at(x, -y, z) || v !== at(x, y, -z)) return false;
      }
    }
  }
  return true;
}

/** Per-thread plans and scratch. */
interface Workspace {
  readonly planX: FftPlan;
  readonly planY: FftPlan;
  readonly line: Float64Array;
  readonly xRe: Float64Array;
  readonly xIm: Float64Array;
  readonly sRe: Float64Array;
  readonly sIm: Float64Array;
}

function makeWorkspace(px: number, py: number, rows: number): Workspace {
  const hx = (px >> 1) + 1;
  const pairs = Math.ceil(rows / 2);
  const scratch = Math.max(px * pairs, hx * py);
  return {
    planX: fftPlan(px),
    planY: fftPlan(py),
    line: new Float64Array(px),
    xRe: new Float64Array(px * pairs),
    xIm: new Float64Array(px * pairs),
    sRe: new Float64Array(scratch),
    sIm: new Float64Array(scratch),
  };
}

/** The distinct indices (o + P) mod P of the offsets o in [-r, r], in order of first appearance. */
function wrappedIndices(r: number, p: number): number[] {
  return [...new Set(Array.from({ length: 2 * r + 1 }, (_, i) => (i - r + p) % p))];
}

/**
 * Forward 2-D transform of one plane into re/im at `off` (hx x Py bins; the plane's other rows must be zero there):
 * real-to-half-complex along x of rows `ys`, two rows per complex line (a + i b) separated with
 * A[k] = (Z[k] + conj Z[-k]) / 2, B[k] = (Z[k] - conj Z[-k]) / 2i (two-for-one real FFT, Press et al., Numerical
 * Recipes 3rd ed., section 12.3), then complex along y. fill(y, dst) adds row y of the real input into dst.
 */
function forwardPlane(
  ws: Workspace,
  px: number,
  py: number,
  re: Float64Array,
  im: Float64Array,
  off: number,
  ys: readonly number[],
  fill: (y: number, dst: Float64Array) => void,
): void {
  const { line, xRe, xIm } = ws;
  const pairs = Math.ceil(ys.length / 2);
  // element x of row pair p at x * pairs + p (rows a + i b): all pairs as the batch of one x transform
  for (let p = 0; p < pairs; p++) {
    line.fill(0);
    fill(ys[2 * p], line);
    for (let x = 0; x < px; x++) xRe[x * pairs + p] = line[x];
    line.fill(0);
    if (2 * p + 1 < ys.length) fill(ys[2 * p + 1], line);
    for (let x = 0; x < px; x++) xIm[x * pairs + p] = line[x];
  }
  transformRows(ws, px, py, re, im, off, ys);
}

/**
 * forwardPlane of the rows 0..ny-1 of a float32 plane (src from `base`, nx values per row), read straight into the
 * x transform's batch.
 */
function forwardDataPlane(ws: Workspace, px: number, py: number, re: Float64Array, im: Float64Array, off: number, ys: readonly number[], src: Float32Array, base: number, nx: number): void {
  const { xRe, xIm } = ws;
  const ny = ys.length;
  const pairs = Math.ceil(ny / 2);
  for (let p = 0; p < pairs; p++) {
    const a = base + nx * 2 * p;
    for (let x = 0; x < nx; x++) xRe[x * pairs + p] = src[a + x];
    if (2 * p + 1 < ny) for (let x = 0; x < nx; x++) xIm[x * pairs + p] = src[a + nx + x];
    else for (let x = 0; x < nx; x++) xIm[x * pairs + p] = 0;
  }
  xRe.fill(0, nx * pairs, px * pairs);
  xIm.fill(0, nx * pairs, px * pairs);
  transformRows(ws, px, py, re, im, off, ys);
}

/** The x transform of the loaded row pairs (ws.xRe/xIm), their separation into rows `ys` at re/im[off], then y. */
function transformRows(ws: Workspace, px: number, py: number, re: Float64Array, im: Float64Array, off: number, ys: readonly number[]): void {
  const hx = (px >> 1) + 1;
  const { xRe, xIm } = ws;
  const pairs = Math.ceil(ys.length / 2);
  fftBatched(ws.planX, xRe, xIm, 0, pairs, ws.sRe, ws.sIm);
  for (let p = 0; p < pairs; p++) {
    const two = 2 * p + 1 < ys.length;
    const oa = off + hx * ys[2 * p];
    const ob = two ? off + hx * ys[2 * p + 1] : -1;
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
  fftBatched(ws.planY, re, im, off, hx, ws.sRe, ws.sIm);
}

/**
 * Inverse 2-D transform of the spectrum at re/im[off] (destroyed) into rows y < ny, columns x < nx of `out` at
 * outOff: complex inverse along y, then half-complex to real along x, two rows per line: Z[k] = A[k] + i B[k] with the
 * Hermitian extension A[P - k] = conj A[k], IFFT(Z) = a + i b. Unscaled (the kernel carries 1 / (Px Py)).
 */
function inversePlane(ws: Workspace, st: StreamKernel, re: Float64Array, im: Float64Array, off: number, out: Float32Array, outOff: number): void {
  const { px } = st;
  const [nx, ny] = st.dims;
  const hx = (px >> 1) + 1;
  fftBatched(ws.planY, re, im, off, hx, ws.sRe, ws.sIm, true);
  const { xRe, xIm } = ws;
  const pairs = Math.ceil(ny / 2);
  for (let p = 0; p < pairs; p++) {
    const two = 2 * p + 1 < ny;
    const oa = off + hx * 2 * p;
    const ob = oa + hx;
    for (let k = 0; k < hx; k++) {
      const Ar = re[oa + k], Ai = im[oa + k];
      const Br = two ? re[ob + k] : 0, Bi = two ? im[ob + k] : 0;
      xRe[k * pairs + p] = Ar - Bi;
      xIm[k * pairs + p] = Ai + Br;
      if (k > 0 && px - k >= hx) {
        // conj A + i conj B
        xRe[(px - k) * pairs + p] = Ar + Bi;
        xIm[(px - k) * pairs + p] = -Ai + Br;
      }
    }
  }
  fftBatched(ws.planX, xRe, xIm, 0, pairs, ws.sRe, ws.sIm, true);
  for (let p = 0; p < pairs; p++) {
    const o = outOff + nx * 2 * p;
    for (let x = 0; x < nx; x++) out[o + x] = xRe[x * pairs + p];
    if (2 * p + 1 < ny) for (let x = 0; x < nx; x++) out[o + nx + x] = xIm[x * pairs + p];
  }
}

/**
 * The kernel's plane spectra for a convolution of `opts` (kernel stored wrapped, centre at index 0 of x and y, scaled
 * by 1 / (Px Py)). Several offsets fold onto one index when P < 2r + 1; they are summed, which is exact because only
 * one of them is ever realised as an in-grid difference (see convolveCpu).
 * @param alloc makes the f64 planes (plain or shared memory).
 */
export function makeStreamKernel(opts: ConvolutionOptions, alloc: (n: number) => Float64Array = (n) => new Float64Array(n)): StreamKernel {
  const [nx, ny, nz] = opts.dims;
  const [rx, ry, rz] = opts.kernelRadius;
  const [px, py] = streamPaddedDims(opts.dims, opts.kernelRadius);
  const hx = (px >> 1) + 1;
  const bins = hx * py;
  const kRe = alloc((2 * rz + 1) * bins);
  const kIm = alloc((2 * rz + 1) * bins);
  const ys = wrappedIndices(ry, py);
  const ws = makeWorkspace(px, py, ys.length);
  const kx = 2 * rx + 1;
  const ky = 2 * ry + 1;
  const scale = 1 / (px * py);
  for (let dz = -rz; dz <= rz; dz++) {
    forwardPlane(ws, px, py, kRe, kIm, (dz + rz) * bins, ys, (y, dst) => {
      for (let dy = -ry; dy <= ry; dy++) {
        if ((dy + py) % py !== y) continue;
        const row = kx * (dy + ry + ky * (dz + rz));
        for (let dx = -rx; dx <= rx; dx++) dst[(dx + px) % px] += opts.kernel[row + dx + rx] * scale;
      }
    });
  }
  return { dims: [nx, ny, nz], radius: [rx, ry, rz], px, py, bins, kRe, kIm, symmetric: isMirrorSymmetric(opts.kernel, opts.kernelRadius) };
}

/** Options of convolveStreamRange. */
export interface StreamRangeOptions {
  /** Called with the fraction of [zFrom, zTo) done after every slab. */
  readonly onProgress?: (fraction: number) => void;
  /** Input planes z (nx * ny float32 values each) to read from here instead of the volume. */
  readonly savedPlanes?: ReadonlyMap<number, Float32Array>;
}

/**
 * Output planes [zFrom, zTo) of the convolution of `volume` by the kernel of `st`, into `out` (float32, x-fastest, the
 * grid of st.dims). `out` may be `volume` itself when one thread does the whole range in one call (each plane is
 * overwritten only after the spectra of every input plane it feeds are in the ring); threads splitting z must write to
 * an array they do not read, or take the input planes their neighbours overwrite from `how.savedPlanes`.
 */
export function convolveStreamRange(st: StreamKernel, volume: Float32Array, out: Float32Array, zFrom: number, zTo: number, how: StreamRangeOptions = {}): void {
  const { onProgress, savedPlanes } = how;
  const [nx, ny, nz] = st.dims;
  const rz = st.radius[2];
  const { px, py, bins, kRe, kIm } = st;
  const hx = (px >> 1) + 1;
  if (zTo <= zFrom) return;
  const ws = makeWorkspace(px, py, ny);
  const ring = SLAB + 2 * rz;
  // ring slots, plus one slot of zeros (slot `ring`) for the symmetric path's planes outside the grid
  const aRe = new Float64Array((ring + 1) * bins);
  const aIm = new Float64Array((ring + 1) * bins);
  const zero = ring * bins;
  const oRe = new Float64Array(SLAB * bins);
  const oIm = new Float64Array(SLAB * bins);
  const aOff = new Int32Array(2 * rz + 1);
  const kOff = new Int32Array(2 * rz + 1);
  const bOff = new Int32Array(2 * rz + 1);
  const ys = Array.from({ length: ny }, (_, i) => i);
  const planeN = nx * ny;
  let next = Math.max(0, zFrom - rz); // next input plane to transform
  for (let z0 = zFrom; z0 < zTo; z0 += SLAB) {
    const z1 = Math.min(zTo, z0 + SLAB);
    // spectra of the input planes up to z1 + rz (exclusive), each into slot z mod ring
    const need = Math.min(nz, z1 + rz);
    for (; next < need; next++) {
      const off = (next % ring) * bins;
      // rows < ny are all written; the others must be zero (the slot held another plane's spectrum)
      aRe.fill(0, off + hx * ny, off + bins);
      aIm.fill(0, off + hx * ny, off + bins);
      const saved = savedPlanes?.get(next);
      forwardDataPlane(ws, px, py, aRe, aIm, off, ys, saved ?? volume, saved ? 0 : planeN * next, nx);
    }
    // products, chunk by chunk of bins: out^(z) = sum over dz (in order) of K^(dz) A^(z - dz)
    for (let b0 = 0; b0 < bins; b0 += CHUNK) {
      const b1 = Math.min(bins, b0 + CHUNK);
      for (let z = z0; z < z1; z++) {
        let m = 0;
        if (st.symmetric) {
          // pairs z - d, z + d (d = 1..rz); a plane outside [0, nz) reads the zero slot
          for (let d = 1; d <= rz; d++) {
            aOff[m] = z - d >= 0 ? ((z - d) % ring) * bins : zero;
            bOff[m] = z + d < nz ? ((z + d) % ring) * bins : zero;
            kOff[m++] = (d + rz) * bins;
          }
          macChunkSymmetric(aRe, aIm, kRe, (z % ring) * bins, rz * bins, aOff, bOff, kOff, m, oRe, oIm, (z - z0) * bins, b0, b1);
          continue;
        }
        for (let dz = -rz; dz <= rz; dz++) {
          const s = z - dz;
          if (s < 0 || s >= nz) continue;
          aOff[m] = (s % ring) * bins;
          kOff[m++] = (dz + rz) * bins;
        }
        macChunk(aRe, aIm, kRe, kIm, aOff, kOff, m, oRe, oIm, (z - z0) * bins, b0, b1);
      }
    }
    for (let z = z0; z < z1; z++) inversePlane(ws, st, oRe, oIm, (z - z0) * bins, out, planeN * z);
    onProgress?.((z1 - zFrom) / (zTo - zFrom));
  }
}

/** out[o + b] = sum_j K[kOff[j] + b] x A[aOff[j] + b] (complex, j in order) for b in [b0, b1). */
function macChunk(
  aRe: Float64Array,
  aIm: Float64Array,
  kRe: Float64Array,
  kIm: Float64Array,
  aOff: Int32Array,
  kOff: Int32Array,
  m: number,
  oRe: Float64Array,
  oIm: Float64Array,
  o: number,
  b0: number,
  b1: number,
): void {
  for (let b = b0; b < b1; b++) {
    let sr = 0, si = 0;
    for (let j = 0; j < m; j++) {
      const a = aOff[j] + b, k = kOff[j] + b;
      const ar = aRe[a], ai = aIm[a];
      const kr = kRe[k], ki = kIm[k];
      sr += ar * kr - ai * ki;
      si += ar * ki + ai * kr;
    }
    oRe[o + b] = sr;
    oIm[o + b] = si;
  }
}

/**
 * The symmetric kernel's products (StreamKernel.symmetric): out[o + b] = k0[b] A[c + b] + sum_j k_j[b] (A[aOff[j] + b]
 * + A[bOff[j] + b]) for b in [b0, b1), real kernel spectra k (k0 at offset k0), complex A, j in order.
 */
function macChunkSymmetric(
  aRe: Float64Array,
  aIm: Float64Array,
  kRe: Float64Array,
  c: number,
  k0: number,
  aOff: Int32Array,
  bOff: Int32Array,
  kOff: Int32Array,
  m: number,
  oRe: Float64Array,
  oIm: Float64Array,
  o: number,
  b0: number,
  b1: number,
): void {
  // plane by plane over the chunk (the partial sums stay in L1): per bin the same order as a sum over j
  for (let b = b0; b < b1; b++) {
    const kc = kRe[k0 + b];
    oRe[o + b] = kc * aRe[c + b];
    oIm[o + b] = kc * aIm[c + b];
  }
  for (let j = 0; j < m; j++) {
    const a = aOff[j], q = bOff[j], k = kOff[j];
    for (let b = b0; b < b1; b++) {
      const kb = kRe[k + b];
      oRe[o + b] += kb * (aRe[a + b] + aRe[q + b]);
      oIm[o + b] += kb * (aIm[a + b] + aIm[q + b]);
    }
  }
}

/**
 * One of `parts` threads convolving the planes [zFrom, zTo) of opts.volume in place (parts split z without overlap):
 * it makes the kernel's plane spectra, saves the input planes within rz of its range that its neighbours will
 * overwrite, waits at `barrier` (an Int32Array on shared memory, element 0 starting at 0) until every part has done so,
 * then convolves (convolveStreamRange reading those planes from its copies). Same bits as one thread in place. A part
 * that fails before the barrier still arrives there, so that the others do not wait for it.
 * @param timeoutMs how long to wait for the other parts before giving up (a thread that died).
 */
export function convolveStreamInPlacePart(opts: ConvolutionOptions, zFrom: number, zTo: number, barrier: Int32Array, parts: number, timeoutMs = 600_000): void {
  const data = opts.volume;
  const [nx, ny, nz] = opts.dims;
  const rz = opts.kernelRadius[2];
  const planeN = nx * ny;
  const savedPlanes = new Map<number, Float32Array>();
  let st: StreamKernel;
  try {
    st = makeStreamKernel(opts);
    for (let z = Math.max(0, zFrom - rz); z < zFrom; z++) savedPlanes.set(z, data.slice(planeN * z, planeN * (z + 1)));
    for (let z = zTo; z < Math.min(nz, zTo + rz); z++) savedPlanes.set(z, data.slice(planeN * z, planeN * (z + 1)));
  } finally {
    Atomics.add(barrier, 0, 1);
    Atomics.notify(barrier, 0);
  }
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = Atomics.load(barrier, 0);
    if (v >= parts) break;
    const left = deadline - Date.now();
    if (left <= 0 || Atomics.wait(barrier, 0, v, left) === 'timed-out') {
      throw new Error(`convolution: ${parts - v} of ${parts} threads did not start within ${timeoutMs / 1000} s`);
    }
  }
  convolveStreamRange(st, data, data, zFrom, zTo, { savedPlanes });
}
