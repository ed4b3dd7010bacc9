/**
 * Dose-kernel convolution: CPU FFT vs the direct f64 oracle, point sources (the convolution returns the kernel,
 * truncated at the borders, never wrapped), and both WebGPU paths vs the oracle on a grid of sizes, anisotropic
 * radii and forced z tiling. GPU tests run on the software Vulkan adapter and skip with a printed reason only
 * when no adapter exists (DOSIMETRY_REQUIRE_GPU=1 turns that into a failure).
 */
import { describe, expect, it } from 'vitest';
import { randomKernel, randomVolume, relErr, rng } from './helpers.ts';
import {
  convolveCpu,
  convolveCpuInto,
  convolveDirectCpu,
  isMirrorSymmetric,
  convolveGpuDetailed,
  fftBatched,
  fftPlan,
  nextFastLength,
  chooseGpuConvolutionMethod,
  type ConvolutionOptions,
  type Dims3,
} from '../../src/convolution/index.ts';
import { acquireGpu, gpuUnavailableReason } from '../../src/gpu/index.ts';

const ctx = await acquireGpu();
if (!ctx) {
  if (process.env.DOSIMETRY_REQUIRE_GPU === '1') throw new Error(`DOSIMETRY_REQUIRE_GPU=1 but ${gpuUnavailableReason()}`);
  console.warn(`convolution GPU tests skipped: ${gpuUnavailableReason()}`);
}

/** 1/r^2-like falloff kernel (centre 1), the shape of a voxel S kernel. */
function falloffKernel(r: readonly number[]): Float32Array {
  const out: number[] = [];
  for (let z = -r[2]; z <= r[2]; z++) for (let y = -r[1]; y <= r[1]; y++) for (let x = -r[0]; x <= r[0]; x++) out.push(1 / (1 + x * x + y * y + z * z));
  return new Float32Array(out);
}

/** Point source of strength 1 at p: the exact expected output is the kernel placed at p, truncated at the borders. */
function expectPointSource(out: Float32Array, d: Dims3, p: Dims3, r: readonly number[], kernel: Float32Array, tol: number) {
  const kx = 2 * r[0] + 1;
  const ky = 2 * r[1] + 1;
  for (let z = 0; z < d[2]; z++) {
    for (let y = 0; y < d[1]; y++) {
      for (let x = 0; x < d[0]; x++) {
        const dx = x - p[0], dy = y - p[1], dz = z - p[2];
        const inside = Math.abs(dx) <= r[0] && Math.abs(dy) <= r[1] && Math.abs(dz) <= r[2];
        const want = inside ? kernel[dx + r[0] + kx * (dy + r[1] + ky * (dz + r[2]))] : 0;
        const got = out[x + d[0] * (y + d[1] * z)];
        if (Math.abs(got - want) > tol) throw new Error(`voxel (${x}, ${y}, ${z}): got ${got}, want ${want} (source at ${p})`);
      }
    }
  }
}

describe('FFT building blocks', () => {
  it.each([1, 2, 3, 4, 5, 6, 8, 12, 15, 16, 25, 30, 45, 60, 64, 75, 100, 120, 200])('length %i matches the naive DFT', (n) => {
    const next = rng(n);
    const batch = 3;
    const re = new Float64Array(n * batch).map(() => next() - 0.5);
    const im = new Float64Array(n * batch).map(() => next() - 0.5);
    const r0 = re.slice();
    const i0 = im.slice();
    fftBatched(fftPlan(n), re, im, 0, batch, new Float64Array(n * batch), new Float64Array(n * batch));
    for (let b = 0; b < batch; b++) {
      for (let k = 0; k < n; k++) {
        let sr = 0, si = 0;
        for (let j = 0; j < n; j++) {
          const a = (-2 * Math.PI * j * k) / n;
          sr += r0[j * batch + b] * Math.cos(a) - i0[j * batch + b] * Math.sin(a);
          si += r0[j * batch + b] * Math.sin(a) + i0[j * batch + b] * Math.cos(a);
        }
        // f64 FFT vs f64 naive DFT of n <= 200 terms of size <= 0.5: both round at ~1e-16 x n
        expect(Math.abs(re[k * batch + b] - sr)).toBeLessThan(1e-11);
        expect(Math.abs(im[k * batch + b] - si)).toBeLessThan(1e-11);
      }
    }
  });

  it('pads to 5-smooth lengths', () => {
    expect([1, 7, 11, 13, 197, 201, 257].map(nextFastLength)).toEqual([1, 8, 12, 15, 200, 216, 270]);
  });

  it('chooses direct for small kernels and FFT for large ones', () => {
    expect(chooseGpuConvolutionMethod([128, 128, 128], [1, 1, 1])).toBe('direct');
    expect(chooseGpuConvolutionMethod([192, 192, 192], [5, 5, 5])).toBe('fft');
  });
});

const CPU_GRID: Array<[Dims3, [number, number, number]]> = [
  [[7, 5, 3], [1, 2, 0]],
  [[13, 11, 9], [3, 2, 4]],
  [[17, 19, 23], [5, 5, 5]],
  [[1, 1, 1], [2, 2, 2]],
  [[3, 2, 4], [5, 4, 6]], // kernel larger than the volume: padded length < 2r + 1 (folded kernel)
  [[31, 1, 6], [2, 0, 3]],
];

describe('convolveCpu (FFT) vs convolveDirectCpu (f64 oracle)', () => {
  it.each(CPU_GRID)('dims %j radius %j', (d, r) => {
    const opts: ConvolutionOptions = { volume: randomVolume(d, 1), dims: d, kernel: randomKernel(r, 2), kernelRadius: r };
    // both accumulate in f64 and round once to f32: agreement to ~1 ulp of float32 (6e-8 relative to the max)
    expect(relErr(convolveCpu(opts), convolveDirectCpu(opts))).toBeLessThan(1e-6);
  });

  // mirror-symmetric kernels (voxel S values are) take the real-spectrum, paired-plane path of ./stream.ts
  it.each(CPU_GRID)('symmetric kernel: dims %j radius %j', (d, r) => {
    const kernel = falloffKernel(r);
    expect(isMirrorSymmetric(kernel, r)).toBe(true);
    const opts: ConvolutionOptions = { volume: randomVolume(d, 3), dims: d, kernel, kernelRadius: r };
    // f64 throughout, rounded once to f32; the dropped imaginary parts of the kernel spectra are round-off (~1e-17)
    expect(relErr(convolveCpu(opts), convolveDirectCpu(opts))).toBeLessThan(1e-6);
  });

  it('in place (convolveCpuInto on the input) gives the same bits', () => {
    const d: Dims3 = [23, 17, 40];
    for (const kernel of [falloffKernel([3, 2, 5]), randomKernel([3, 2, 5], 4)]) {
      const opts: ConvolutionOptions = { volume: randomVolume(d, 5), dims: d, kernel, kernelRadius: [3, 2, 5], cropToSupport: false };
      const copy = opts.volume.slice();
      convolveCpuInto({ ...opts, volume: copy }, copy);
      expect(Buffer.compare(Buffer.from(copy.buffer), Buffer.from(convolveCpu(opts).buffer))).toBe(0);
    }
  });

  it('rejects inconsistent kernels', () => {
    expect(() => convolveCpu({ volume: new Float32Array(8), dims: [2, 2, 2], kernel: new Float32Array(26), kernelRadius: [1, 1, 1] })).toThrow(/27/);
  });
});

const POINTS: Array<[Dims3, Dims3, [number, number, number]]> = [
  [[15, 12, 10], [7, 6, 5], [3, 2, 4]], // centre: the whole kernel
  [[15, 12, 10], [0, 0, 0], [3, 2, 4]], // corner: truncated, nothing wraps to the far side
  [[15, 12, 10], [14, 11, 9], [3, 2, 4]],
  [[15, 12, 10], [1, 11, 3], [3, 2, 4]],
  [[6, 5, 4], [5, 0, 2], [4, 4, 4]], // kernel wider than the grid
];

describe('point source returns the kernel', () => {
  for (const [d, p, r] of POINTS) {
    const kernel = randomKernel(r, 7);
    const volume = new Float32Array(d[0] * d[1] * d[2]);
    volume[p[0] + d[0] * (p[1] + d[1] * p[2])] = 1;
    const opts: ConvolutionOptions = { volume, dims: d, kernel, kernelRadius: r };
    // direct: one nonzero product per voxel, exact
    it(`direct CPU, dims ${d} source ${p}`, () => expectPointSource(convolveDirectCpu(opts), d, p, r, kernel, 0));
    // FFT in f64: round-off ~1e-15 of the kernel values (<= 1), far below 1e-6
    it(`FFT CPU, dims ${d} source ${p}`, () => expectPointSource(convolveCpu(opts), d, p, r, kernel, 1e-6));
    for (const method of ['direct', 'fft'] as const) {
      // GPU direct: one product, exact; GPU FFT in float32: ~1e-7 x log2(P) relative round-off, kernel <= 1
      it.skipIf(!ctx)(`GPU ${method}, dims ${d} source ${p}`, async () => {
        const g = await convolveGpuDetailed(ctx!, { ...opts, method });
        expect(g.method).toBe(method);
        expectPointSource(g.values, d, p, r, kernel, method === 'direct' ? 0 : 5e-6);
      });
    }
  }
});

const GPU_GRID: Array<[Dims3, [number, number, number]]> = [
  [[7, 5, 3], [1, 2, 0]],
  [[13, 11, 9], [3, 2, 4]], // prime-ish, not multiples of the 8 x 8 x 4 workgroup
  [[33, 17, 29], [2, 3, 1]],
  [[20, 17, 23], [5, 5, 5]],
  [[64, 9, 5], [1, 1, 1]],
  [[1, 1, 1], [2, 2, 2]],
];

describe.skipIf(!ctx)('convolveGpu vs convolveDirectCpu', () => {
  for (const [d, r] of GPU_GRID) {
    const opts: ConvolutionOptions = { volume: randomVolume(d, 3), dims: d, kernel: falloffKernel(r), kernelRadius: r };
    const oracle = convolveDirectCpu(opts);
    for (const method of ['direct', 'fft'] as const) {
      for (const maxSlabPlanes of [undefined, 2]) {
        it(`${method} dims ${d} radius ${r} slab planes ${maxSlabPlanes ?? 'all'}`, async () => {
          const g = await convolveGpuDetailed(ctx!, { ...opts, method, maxSlabPlanes });
          expect(g.method).toBe(method);
          if (maxSlabPlanes) expect(g.slabs).toBe(Math.ceil(d[2] / maxSlabPlanes));
          // float32 arithmetic on the GPU: direct sums <= 1331 positive f32 products (~1e-7 x sqrt(terms) typical,
          // ~terms x 6e-8 worst case); FFT ~1e-7 x log2(P) per transform; 1e-5 of the max bounds both
          expect(relErr(g.values, oracle)).toBeLessThan(1e-5);
        });
      }
    }
  }

  it('tiles along z when the volume exceeds one storage binding (forced small binding)', async () => {
    const d: Dims3 = [24, 20, 30];
    const r: [number, number, number] = [2, 3, 4];
    const opts: ConvolutionOptions = { volume: randomVolume(d, 5), dims: d, kernel: randomKernel(r, 6), kernelRadius: r };
    const oracle = convolveDirectCpu(opts);
    // direct: a binding of 12 planes holds 4 output planes plus the 2 x 4 halo planes -> 8 slabs;
    // fft: a 27 x 24 x 16 complex binding -> slabs of 8 planes (Pz = 16 >= 8 + 2 x 4) -> 4 slabs
    const direct = await convolveGpuDetailed(ctx!, { ...opts, method: 'direct', maxBindingBytes: 4 * 24 * 20 * 12 });
    expect(direct.slabs).toBeGreaterThan(1);
    expect(relErr(direct.values, oracle)).toBeLessThan(1e-5); // float32 sums, as above
    const fft = await convolveGpuDetailed(ctx!, { ...opts, method: 'fft', maxBindingBytes: 8 * 30 * 24 * 16 });
    expect(fft.slabs).toBeGreaterThan(2);
    expect(relErr(fft.values, oracle)).toBeLessThan(1e-5); // float32 FFT, as above
  });
});
