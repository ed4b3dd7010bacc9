/**
 * CPU back end of the dose-kernel convolution: an FFT path (production) and a direct f64 path (oracle).
 */
import { InputError } from '../errors.ts';
import { checkConvolutionOptions, type ConvolutionOptions } from './types.ts';
import { planCrop } from './crop.ts';
import { convolveStreamRange, makeStreamKernel } from './stream.ts';

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

/**
 * "Same" convolution with zero padding by FFT: 2-D transforms of the planes, the z part in the spectral domain, 2-D
 * inverse transforms (./stream.ts). The x and y axes are padded to the smallest 5-smooth length P >= n + r: with the
 * kernel stored wrapped (centre at index 0), circular output m in [0, n) reads inputs m - k for k in [-r, r]; they
 * alias only when m - k + P < n or m - k - P >= 0, impossible for P >= n + r, so the kept outputs equal the linear
 * convolution; z is summed directly over the kernel's 2rz + 1 planes and needs no padding.
 * Memory: (T + 4 rz + 1) planes of (Px/2 + 1) x Py complex f64 whatever nz (T = 16 planes per slab; about 130 MB
 * at 512 x 512, rz = 6), beyond the output.
 * Accuracy: f64 throughout, rounded once to float32; agrees with convolveDirectCpu to ~1 ulp of float32.
 * Only the non-zero support dilated by the kernel radius is transformed (exact, ./crop.ts; opts.cropToSupport).
 * One thread; `convolveCpuAsync` (./fft-workers.ts) splits z over worker threads, with the same result bit for bit.
 * @returns out, same dims as the input; unit volume-unit x kernel-unit (Bq s x Gy/(Bq s) = Gy).
 */
export function convolveCpu(opts: ConvolutionOptions): Float32Array {
  return convolveCpuInto(opts, new Float32Array(opts.volume.length));
}

/**
 * convolveCpu into `out` (same length as the volume), which may be opts.volume itself (in place: no second
 * full-size array). Voxels beyond the dilated support are set to 0.
 * @returns out.
 */
export function convolveCpuInto(opts: ConvolutionOptions, out: Float32Array): Float32Array {
  checkConvolutionOptions(opts);
  if (out.length !== opts.volume.length) throw new InputError(`convolution: output has ${out.length} values, the volume ${opts.volume.length}`);
  const crop = planCrop(opts);
  if (crop.kind === 'empty') {
    out.fill(0);
    opts.onProgress?.(1);
    return out;
  }
  if (crop.kind === 'whole') {
    convolveStreamRange(makeStreamKernel(opts), opts.volume, out, 0, opts.dims[2], { onProgress: opts.onProgress });
    return out;
  }
  // the box's own copy, convolved in place, then back into the zeroed grid
  const part = crop.opts.volume;
  convolveStreamRange(makeStreamKernel(crop.opts), part, part, 0, crop.opts.dims[2], { onProgress: opts.onProgress });
  out.fill(0);
  const [nx, ny] = opts.dims;
  const { lo, hi } = crop.box;
  const bx = hi[0] - lo[0], by = hi[1] - lo[1], bz = hi[2] - lo[2];
  for (let z = 0; z < bz; z++) {
    for (let y = 0; y < by; y++) {
      const src = bx * (y + by * z);
      out.set(part.subarray(src, src + bx), lo[0] + nx * (lo[1] + y + ny * (lo[2] + z)));
    }
  }
  return out;
}
