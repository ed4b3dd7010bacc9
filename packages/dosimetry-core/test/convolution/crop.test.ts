/**
 * Support cropping of the convolution (src/convolution/crop.ts): the result on a zero-background volume equals the
 * whole-grid convolution and the f64 direct oracle, voxels farther than the kernel radius from the support are exactly
 * 0, and the GPU path tiles a cropped sub-grid under a forced small storage binding.
 */
import { describe, expect, it } from 'vitest';
import { convolveCpu, convolveDirectCpu, convolveGpuDetailed, type ConvolutionOptions, type Dims3 } from '../../src/convolution/index.ts';
import { nonZeroBox, outputBox, planCrop } from '../../src/convolution/crop.ts';
import { acquireGpu, gpuUnavailableReason } from '../../src/gpu/device.ts';

const ctx = await acquireGpu();
if (!ctx) {
  if (process.env.DOSIMETRY_REQUIRE_GPU === '1') throw new Error(`DOSIMETRY_REQUIRE_GPU=1 but ${gpuUnavailableReason()}`);
  console.warn(`skipping the WebGPU crop tests: ${gpuUnavailableReason()}`);
}

/** Zero volume with a noisy block [lo, hi) (deterministic). */
function blockVolume(d: Dims3, lo: Dims3, hi: Dims3): Float32Array {
  const v = new Float32Array(d[0] * d[1] * d[2]);
  let s = 7;
  for (let z = lo[2]; z < hi[2]; z++)
    for (let y = lo[1]; y < hi[1]; y++)
      for (let x = lo[0]; x < hi[0]; x++) {
        s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
        v[x + d[0] * (y + d[1] * z)] = 0.5 + s / 2 ** 32;
      }
  return v;
}
function kernelOf(r: [number, number, number]): Float32Array {
  const k = new Float32Array((2 * r[0] + 1) * (2 * r[1] + 1) * (2 * r[2] + 1));
  for (let i = 0; i < k.length; i++) k[i] = 1 / (1 + ((i * 37) % 11));
  return k;
}
const maxErr = (a: Float32Array, b: Float32Array) => {
  let m = 0;
  let e = 0;
  for (let i = 0; i < a.length; i++) {
    m = Math.max(m, Math.abs(b[i]));
    e = Math.max(e, Math.abs(a[i] - b[i]));
  }
  return e / m;
};

describe('support cropping', () => {
  const d: Dims3 = [30, 26, 22];
  const r: [number, number, number] = [3, 2, 4];
  const opts: ConvolutionOptions = { volume: blockVolume(d, [8, 5, 6], [17, 12, 11]), dims: d, kernel: kernelOf(r), kernelRadius: r };

  it('finds the non-zero box and dilates it by the radius, clipped to the grid', () => {
    expect(nonZeroBox(opts.volume, d)).toEqual({ lo: [8, 5, 6], hi: [17, 12, 11] });
    expect(outputBox({ lo: [1, 5, 6], hi: [17, 25, 11] }, d, r)).toEqual({ lo: [0, 3, 2], hi: [20, 26, 15] });
    expect(nonZeroBox(new Float32Array(30), [5, 3, 2])).toBeNull();
    const p = planCrop(opts);
    expect(p.kind).toBe('box');
    expect(planCrop({ ...opts, cropToSupport: false }).kind).toBe('whole');
  });

  it('CPU: cropped = whole grid = direct oracle; exact zeros beyond the kernel radius', () => {
    const oracle = convolveDirectCpu(opts);
    const cropped = convolveCpu(opts);
    const whole = convolveCpu({ ...opts, cropToSupport: false });
    // f64 FFT rounded to float32: ~1e-7 of the maximum
    expect(maxErr(cropped, oracle)).toBeLessThan(1e-6);
    expect(maxErr(whole, oracle)).toBeLessThan(1e-6);
    for (let z = 0; z < d[2]; z++)
      for (let y = 0; y < d[1]; y++)
        for (let x = 0; x < d[0]; x++) {
          const outside = x < 8 - r[0] || x >= 17 + r[0] || y < 5 - r[1] || y >= 12 + r[1] || z < 6 - r[2] || z >= 11 + r[2];
          if (outside) expect(cropped[x + d[0] * (y + d[1] * z)]).toBe(0);
        }
    expect(Array.from(convolveCpu({ ...opts, volume: new Float32Array(opts.volume.length) })).every((v) => v === 0)).toBe(true);
  });

  it.skipIf(!ctx)('WebGPU: cropped direct and FFT = oracle, tiled under a forced small binding', async () => {
    const oracle = convolveDirectCpu(opts);
    for (const method of ['direct', 'fft'] as const) {
      const g = await convolveGpuDetailed(ctx!, { ...opts, method });
      expect(g.box).toEqual({ lo: [5, 3, 2], hi: [20, 14, 15] });
      expect(maxErr(g.values, oracle)).toBeLessThan(1e-5); // float32 sums / float32 FFT
      // sub-grid 15 x 11 x 13: a binding of 10 planes (direct) / a 27 x 15 x 16 complex grid (fft) forces z slabs
      const bind = method === 'direct' ? 4 * 15 * 11 * 10 : 8 * 27 * 15 * 16;
      const t = await convolveGpuDetailed(ctx!, { ...opts, method, maxBindingBytes: bind });
      expect(t.slabs, method).toBeGreaterThan(1);
      expect(maxErr(t.values, oracle)).toBeLessThan(1e-5);
    }
  });
});
