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

/** Half-spectrum volume: re/im planes of hx * py * pz values, index kx + hx * (ky + py * kz). */
interface HalfSpectrum {
  re: Float64Array;
  im: Float64Array;
}

/**
 * Forward real-to-half-complex transform along x, then complex along y, for the rows (y, z) in `rows` (all other
 * rows are zero). Rows are transformed two at a time as one complex line (a + i b) and separated with
 * A[k] = (Z[k] + conj Z[-k]) / 2, B[k] = (Z[k] - conj Z[-k]) / 2i (two-for-one real FFT, Press et al.,
 * Numerical Recipes 3rd ed., section 12.3). fill(y, z, dst) writes row (y, z) of the real input into dst[0..px).
 */
function forwardXY(
  spec: HalfSpectrum,
  pd: [number, number, number],
  ys: readonly number[],
  zs: readonly number[],
  fill: (y: number, z: number, dst: Float64Array) => void,
  planX: FftPlan,
  planY: FftPlan,
  scratch: { re: Float64Array; im: Float64Array; re2: Float64Array; im2: Float64Array },
): void {
  const [px, py] = pd;
  const hx = (px >> 1) + 1;
  const { re: sr, im: si, re2, im2 } = scratch;
  const rows: Array<[number, number]> = [];
  for (const z of zs) for (const y of ys) rows.push([y, z]);
  const lineRe = new Float64Array(px);
  const lineIm = new Float64Array(px);
  for (let r = 0; r < rows.length; r += 2) {
    lineRe.fill(0);
    lineIm.fill(0);
    const [ya, za] = rows[r];
    fill(ya, za, lineRe);
    const second = r + 1 < rows.length ? rows[r + 1] : null;
    if (second) fill(second[0], second[1], lineIm);
    fftBatched(planX, lineRe, lineIm, 0, 1, sr, si);
    const oa = hx * (ya + py * za);
    const ob = second ? hx * (second[0] + py * second[1]) : -1;
    for (let k = 0; k < hx; k++) {
      const kn = k === 0 ? 0 : px - k;
      const zr = lineRe[k], zi = lineIm[k];
      const cr = lineRe[kn], ci = -lineIm[kn];
      spec.re[oa + k] = 0.5 * (zr + cr);
      spec.im[oa + k] = 0.5 * (zi + ci);
      if (ob >= 0) {
        // (Z - conj Z[-k]) / 2i = ((zi - ci) - i (zr - cr)) / 2
        spec.re[ob + k] = 0.5 * (zi - ci);
        spec.im[ob + k] = -0.5 * (zr - cr);
      }
    }
  }
  // y: one batched transform per z plane, batch = hx contiguous values
  for (const z of zs) fftBatched(planY, spec.re, spec.im, hx * py * z, hx, re2, im2);
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

/** convolveCpu on the whole grid (no support cropping). */
function convolveCpuWhole(opts: ConvolutionOptions): Float32Array {
  const [nx, ny, nz] = opts.dims;
  const [rx, ry, rz] = opts.kernelRadius;
  const progress = opts.onProgress ?? (() => {});
  const pd = fftPaddedDims(opts.dims, opts.kernelRadius);
  const [px, py, pz] = pd;
  const hx = (px >> 1) + 1;
  const planX = fftPlan(px);
  const planY = fftPlan(py);
  const planZ = fftPlan(pz);
  const size = hx * py * pz;
  const scratchLen = Math.max(hx * py, hx * pz, px);
  const scratch = {
    re: new Float64Array(px),
    im: new Float64Array(px),
    re2: new Float64Array(scratchLen),
    im2: new Float64Array(scratchLen),
  };
  const range = (n: number) => Array.from({ length: n }, (_, i) => i);
  // wrapped kernel index sets (unique: when P < 2r + 1 several offsets fold onto one index and are summed, which is
  // exact because only one of them is ever realised as an in-grid difference m - j, see above)
  const wrapped = (r: number, p: number) => [...new Set(range(2 * r + 1).map((i) => (i - r + p) % p))];

  // kernel spectrum, scaled by 1 / (Px Py Pz) (the inverse transform is unscaled)
  const kSpec: HalfSpectrum = { re: new Float64Array(size), im: new Float64Array(size) };
  const kx = 2 * rx + 1;
  const ky = 2 * ry + 1;
  const scale = 1 / (px * py * pz);
  forwardXY(
    kSpec,
    pd,
    wrapped(ry, py),
    wrapped(rz, pz),
    (y, z, dst) => {
      for (let dz = -rz; dz <= rz; dz++) {
        if ((dz + pz) % pz !== z) continue;
        for (let dy = -ry; dy <= ry; dy++) {
          if ((dy + py) % py !== y) continue;
          const row = kx * (dy + ry + ky * (dz + rz));
          for (let dx = -rx; dx <= rx; dx++) dst[(dx + px) % px] += opts.kernel[row + dx + rx] * scale;
        }
      }
    },
    planX,
    planY,
    scratch,
  );
  progress(0.15);

  // data spectrum (x and y)
  const spec: HalfSpectrum = { re: new Float64Array(size), im: new Float64Array(size) };
  const vol = opts.volume;
  forwardXY(
    spec,
    pd,
    range(ny),
    range(nz),
    (y, z, dst) => {
      const o = nx * (y + ny * z);
      for (let x = 0; x < nx; x++) dst[x] = vol[o + x];
    },
    planX,
    planY,
    scratch,
  );
  progress(0.4);

  // z: forward, multiply by the kernel spectrum, inverse, in one sweep per ky; the lines (:, ky, :) are
  // gathered into [kz][kx] (batch hx contiguous), and only the kept output planes z < nz are scattered back
  const zr = new Float64Array(hx * pz);
  const zi = new Float64Array(hx * pz);
  const gather = (s: HalfSpectrum, y: number) => {
    for (let z = 0; z < pz; z++) {
      const o = hx * (y + py * z);
      zr.set(s.re.subarray(o, o + hx), hx * z);
      zi.set(s.im.subarray(o, o + hx), hx * z);
    }
  };
  const scatter = (s: HalfSpectrum, y: number, planes: number) => {
    for (let z = 0; z < planes; z++) {
      const o = hx * (y + py * z);
      s.re.set(zr.subarray(hx * z, hx * z + hx), o);
      s.im.set(zi.subarray(hx * z, hx * z + hx), o);
    }
  };
  for (let y = 0; y < py; y++) {
    gather(kSpec, y);
    fftBatched(planZ, zr, zi, 0, hx, scratch.re2, scratch.im2);
    scatter(kSpec, y, pz);
  }
  progress(0.55);
  for (let y = 0; y < py; y++) {
    gather(spec, y);
    fftBatched(planZ, zr, zi, 0, hx, scratch.re2, scratch.im2);
    for (let z = 0; z < pz; z++) {
      const o = hx * (y + py * z);
      const l = hx * z;
      for (let k = 0; k < hx; k++) {
        const ar = zr[l + k], ai = zi[l + k];
        const br = kSpec.re[o + k], bi = kSpec.im[o + k];
        zr[l + k] = ar * br - ai * bi;
        zi[l + k] = ar * bi + ai * br;
      }
    }
    fftBatched(planZ, zr, zi, 0, hx, scratch.re2, scratch.im2, true);
    scatter(spec, y, nz);
  }
  progress(0.8);

  // inverse y on the kept planes, then half-complex-to-real along x two rows at a time:
  // Z[k] = A[k] + i B[k] with Hermitian extension A[P-k] = conj A[k]; IFFT(Z) = a + i b.
  for (let z = 0; z < nz; z++) fftBatched(planY, spec.re, spec.im, hx * py * z, hx, scratch.re2, scratch.im2, true);
  const out = new Float32Array(nx * ny * nz);
  const lineRe = new Float64Array(px);
  const lineIm = new Float64Array(px);
  const rows = ny * nz;
  for (let r = 0; r < rows; r += 2) {
    const ya = r % ny, za = (r - ya) / ny;
    const oa = hx * (ya + py * za);
    const two = r + 1 < rows;
    const yb = (r + 1) % ny, zb = (r + 1 - yb) / ny;
    const ob = two ? hx * (yb + py * zb) : -1;
    for (let k = 0; k < hx; k++) {
      const Ar = spec.re[oa + k], Ai = spec.im[oa + k];
      const Br = two ? spec.re[ob + k] : 0, Bi = two ? spec.im[ob + k] : 0;
      lineRe[k] = Ar - Bi;
      lineIm[k] = Ai + Br;
      if (k > 0 && px - k >= hx) {
        // conj A + i conj B
        lineRe[px - k] = Ar + Bi;
        lineIm[px - k] = -Ai + Br;
      }
    }
    fftBatched(planX, lineRe, lineIm, 0, 1, scratch.re, scratch.im, true);
    out.set(lineRe.subarray(0, nx), nx * r);
    if (two) out.set(lineIm.subarray(0, nx), nx * (r + 1));
  }
  progress(1);
  return out;
}
