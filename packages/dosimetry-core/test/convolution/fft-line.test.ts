/**
 * The 'line' layout of the WebGPU FFT convolution (shaders/fft_line.wgsl: one line per invocation, product fused
 * into the z pass, real slabs packed and unpacked on the GPU) against the direct f64 oracle convolveDirectCpu, on a
 * grid of sizes x anisotropic radii x slab counts (odd counts leave the last complex volume with one slab), point
 * sources, support cropping, and the layout choice; the GPU packing of the 'workgroup' layout (shaders/fft_pack.wgsl,
 * fft_unpack.wgsl) on slab counts and halos that stress its index arithmetic. Also the GPU wait helper. Runs on the
 * software Vulkan adapter; skips with a printed reason only when no adapter exists (DOSIMETRY_REQUIRE_GPU=1 turns that into a failure).
 */
import { describe, expect, it } from 'vitest';
import { randomKernel, randomVolume, relErr, rng } from './helpers.ts';
import {
  convolveDirectCpu,
  convolveGpuDetailed,
  FFT_LINE_MAX_LENGTH,
  type ConvolutionOptions,
  type Dims3,
} from '../../src/convolution/index.ts';
import { FFT_PACK_PARAMS } from '../../src/convolution/gpu.ts';
import { uniformByteSize, wgslStructFields } from '../../src/gpu/uniform.ts';
import { GpuError } from '../../src/errors.ts';
import packSrc from '../../../../shaders/fft_pack.wgsl?raw';
import unpackSrc from '../../../../shaders/fft_unpack.wgsl?raw';
import { acquireGpu, awaitGpu, gpuUnavailableReason, isSoftwareAdapter } from '../../src/gpu/index.ts';

const ctx = await acquireGpu();
if (!ctx) {
  if (process.env.DOSIMETRY_REQUIRE_GPU === '1') throw new Error(`DOSIMETRY_REQUIRE_GPU=1 but ${gpuUnavailableReason()}`);
  console.warn(`fft line-layout GPU tests skipped: ${gpuUnavailableReason()}`);
}

// dims x radius: odd and 5-smooth sizes, anisotropic radii (as anisotropic voxels give), a kernel wider than the
// grid, a single voxel, and lengths whose padded size needs every radix (2, 3, 4, 5)
const GRID: Array<[Dims3, [number, number, number]]> = [
  [[7, 5, 3], [1, 2, 0]],
  [[13, 11, 9], [3, 2, 4]],
  [[33, 17, 29], [2, 3, 1]],
  [[20, 17, 23], [5, 5, 5]],
  [[6, 5, 4], [4, 4, 4]],
  [[1, 1, 1], [2, 2, 2]],
  [[41, 8, 12], [6, 1, 2]],
];

/**
 * float32 FFT: ~1e-7 x log2(P) relative round-off per transform, three transforms, values and kernel positive:
 * 1e-5 of the maximum bounds it with margin (the same tolerance as the workgroup layout in convolution.test.ts).
 */
const FFT_REL_TOL = 1e-5;

describe.skipIf(!ctx)('convolveGpu FFT, line and workgroup layouts, vs convolveDirectCpu', () => {
  for (const [d, r] of GRID) {
    const opts: ConvolutionOptions = { volume: randomVolume(d, 11), dims: d, kernel: randomKernel(r, 12), kernelRadius: r };
    const oracle = convolveDirectCpu(opts);
    // slabs: default (two), 3 planes (odd counts for most sizes), 1 plane (every slab its own halo)
    // both layouts: 'auto' picks one per adapter, so the other is only covered here
    for (const [fftLayout, maxSlabPlanes] of (['line', 'workgroup'] as const).flatMap((l) => [undefined, 3, 1].map((m) => [l, m] as const))) {
      it(`${fftLayout} layout, dims ${d} radius ${r} slab planes ${maxSlabPlanes ?? 'default'}`, async () => {
        const g = await convolveGpuDetailed(ctx!, { ...opts, method: 'fft', fftLayout, maxSlabPlanes });
        expect(g.method).toBe('fft');
        expect(g.fftLayout).toBe(fftLayout);
        // the FFT path cuts the volume in two slabs at least (two travel as one complex volume)
        const h = Math.max(1, Math.min(d[2], maxSlabPlanes ?? Infinity, d[2] > 1 ? Math.ceil(d[2] / 2) : 1));
        expect(g.slabs).toBe(Math.ceil(d[2] / h));
        expect(relErr(g.values, oracle)).toBeLessThan(FFT_REL_TOL);
      });
    }
  }

  it('point sources return the kernel, truncated at the borders (no wrap-around)', async () => {
    const d: Dims3 = [15, 12, 10];
    const r: [number, number, number] = [3, 2, 4];
    const kernel = randomKernel(r, 7);
    for (const p of [[0, 0, 0], [14, 11, 9], [1, 11, 3], [7, 6, 5]] as const) {
      const volume = new Float32Array(d[0] * d[1] * d[2]);
      volume[p[0] + d[0] * (p[1] + d[1] * p[2])] = 1;
      const opts: ConvolutionOptions = { volume, dims: d, kernel, kernelRadius: r, cropToSupport: false };
      const g = await convolveGpuDetailed(ctx!, { ...opts, method: 'fft', fftLayout: 'line' });
      // float32 FFT of a unit impulse: round-off ~1e-7 x log2(P) of the kernel values (<= 1)
      expect(relErr(g.values, convolveDirectCpu(opts))).toBeLessThan(5e-6);
    }
  });

  it('crops to the support of the input and leaves exact zeros outside it', async () => {
    const d: Dims3 = [40, 36, 30];
    const r: [number, number, number] = [3, 3, 3];
    const volume = new Float32Array(d[0] * d[1] * d[2]);
    const next = rng(5);
    for (let z = 12; z < 19; z++) for (let y = 10; y < 20; y++) for (let x = 20; x < 31; x++) volume[x + d[0] * (y + d[1] * z)] = next();
    const opts: ConvolutionOptions = { volume, dims: d, kernel: randomKernel(r, 6), kernelRadius: r };
    const g = await convolveGpuDetailed(ctx!, { ...opts, method: 'fft', fftLayout: 'line' });
    expect(g.box).toBeDefined();
    const oracle = convolveDirectCpu(opts);
    expect(relErr(g.values, oracle)).toBeLessThan(FFT_REL_TOL);
    for (let i = 0; i < oracle.length; i++) if (oracle[i] === 0) expect(g.values[i]).toBe(0);
  });

  it('agrees with the workgroup layout', async () => {
    const d: Dims3 = [26, 19, 21];
    const r: [number, number, number] = [4, 3, 5];
    const opts: ConvolutionOptions = { volume: randomVolume(d, 21), dims: d, kernel: randomKernel(r, 22), kernelRadius: r };
    const line = await convolveGpuDetailed(ctx!, { ...opts, method: 'fft', fftLayout: 'line' });
    const wg = await convolveGpuDetailed(ctx!, { ...opts, method: 'fft', fftLayout: 'workgroup' });
    expect(wg.fftLayout).toBe('workgroup');
    expect(relErr(line.values, wg.values)).toBeLessThan(FFT_REL_TOL);
  });

  it("'auto' takes the line layout on a software adapter and the workgroup layout otherwise", async () => {
    const d: Dims3 = [9, 8, 7];
    const r: [number, number, number] = [2, 2, 2];
    const g = await convolveGpuDetailed(ctx!, { volume: randomVolume(d, 1), dims: d, kernel: randomKernel(r, 2), kernelRadius: r, method: 'fft' });
    expect(g.fftLayout).toBe(isSoftwareAdapter(ctx!.device) ? 'line' : 'workgroup');
  });

  it(`refuses a forced line layout past ${FFT_LINE_MAX_LENGTH} padded samples, and 'auto' falls back`, async () => {
    const d: Dims3 = [FFT_LINE_MAX_LENGTH, 2, 2];
    const r: [number, number, number] = [1, 1, 1];
    const opts: ConvolutionOptions = { volume: randomVolume(d, 3), dims: d, kernel: randomKernel(r, 4), kernelRadius: r, cropToSupport: false };
    await expect(convolveGpuDetailed(ctx!, { ...opts, method: 'fft', fftLayout: 'line' })).rejects.toThrow(GpuError);
    const g = await convolveGpuDetailed(ctx!, { ...opts, method: 'fft' });
    expect(g.fftLayout).toBe('workgroup');
    expect(relErr(g.values, convolveDirectCpu(opts))).toBeLessThan(FFT_REL_TOL);
  });
});

// Packing of the 'workgroup' layout (shaders/fft_pack.wgsl, shaders/fft_unpack.wgsl): the real slabs are uploaded as
// they are and packed, zero-padded and gathered back on the GPU. Cases that stress the index arithmetic: odd nx / ny,
// an odd number of slabs (the last complex volume has no slab B), one and two planes per slab, a z radius larger
// than a slab (the input box of a pair is then mostly halo), no kernel extent at all, and a box whose planes differ
// between slab A and slab B at the volume's ends.
const PACK_GRID: Array<{ d: Dims3; r: [number, number, number]; maxSlabPlanes?: number }> = [
  { d: [17, 13, 11], r: [2, 3, 2] },
  { d: [17, 13, 11], r: [2, 3, 2], maxSlabPlanes: 2 },
  { d: [19, 15, 9], r: [3, 1, 2], maxSlabPlanes: 2 },
  { d: [11, 9, 7], r: [1, 2, 1], maxSlabPlanes: 1 },
  { d: [12, 7, 10], r: [2, 2, 5], maxSlabPlanes: 2 },
  { d: [9, 11, 13], r: [1, 1, 6], maxSlabPlanes: 1 },
  { d: [9, 7, 5], r: [0, 0, 0], maxSlabPlanes: 1 },
  { d: [5, 3, 17], r: [4, 3, 2], maxSlabPlanes: 3 },
];

describe.skipIf(!ctx)('convolveGpu FFT, workgroup layout: slabs packed and unpacked on the GPU, vs convolveDirectCpu', () => {
  it('fft_pack.wgsl and fft_unpack.wgsl: struct Params matches FFT_PACK_PARAMS; headers name bindings and oracle', () => {
    for (const src of [packSrc, unpackSrc]) {
      expect(wgslStructFields(src, FFT_PACK_PARAMS.struct)).toEqual(FFT_PACK_PARAMS.fields.map(([n, t]) => [n, t]));
      // all scalars are 4 bytes: 20 fields = 80 bytes, a multiple of the 16-byte uniform alignment
      expect(uniformByteSize(FFT_PACK_PARAMS)).toBe(80);
      const header = src.split('\n').filter((l) => l.startsWith('//')).join('\n');
      expect(header).toContain('CPU oracle: convolveDirectCpu()');
      expect(header).toMatch(/Bindings/);
      expect(src).toMatch(/override WG: u32 = 256;/);
    }
  });

  for (const { d, r, maxSlabPlanes } of PACK_GRID) {
    it(`dims ${d} radius ${r} slab planes ${maxSlabPlanes ?? 'default'}`, async () => {
      const opts: ConvolutionOptions = { volume: randomVolume(d, 31), dims: d, kernel: randomKernel(r, 32), kernelRadius: r };
      const g = await convolveGpuDetailed(ctx!, { ...opts, method: 'fft', fftLayout: 'workgroup', maxSlabPlanes });
      expect(g.fftLayout).toBe('workgroup');
      const h = Math.max(1, Math.min(d[2], maxSlabPlanes ?? Infinity, d[2] > 1 ? Math.ceil(d[2] / 2) : 1));
      expect(g.slabs).toBe(Math.ceil(d[2] / h));
      expect(relErr(g.values, convolveDirectCpu(opts))).toBeLessThan(FFT_REL_TOL);
    });
  }

  it('an odd slab count leaves slab B empty in the last pair: its imaginary part is zero, not the previous pair', async () => {
    // the last slab's input is zero and every earlier slab is not: stale data from the previous pair in the packed
    // grid (or in the imaginary part) would show up as dose in the last planes, which must stay exactly zero
    const d: Dims3 = [10, 9, 7];
    const r: [number, number, number] = [2, 2, 1];
    const volume = randomVolume(d, 41);
    volume.fill(0, d[0] * d[1] * 5); // planes 5, 6 zero: with one plane per slab, slab 6 is the last pair's A alone
    const opts: ConvolutionOptions = { volume, dims: d, kernel: randomKernel(r, 42), kernelRadius: r, cropToSupport: false };
    const g = await convolveGpuDetailed(ctx!, { ...opts, method: 'fft', fftLayout: 'workgroup', maxSlabPlanes: 1 });
    expect(g.slabs).toBe(7);
    const oracle = convolveDirectCpu(opts);
    expect(relErr(g.values, oracle)).toBeLessThan(FFT_REL_TOL);
    // plane 6 lies more than rz = 1 plane from any non-zero input: the oracle is exactly zero there, and so is the
    // GPU result up to float32 round-off of the FFT (1e-6 of the maximum: same bound as FFT_REL_TOL, tighter margin)
    const max = oracle.reduce((m, v) => Math.max(m, v), 0);
    for (let i = d[0] * d[1] * 6; i < oracle.length; i++) {
      expect(oracle[i]).toBe(0);
      expect(Math.abs(g.values[i])).toBeLessThan(1e-6 * max);
    }
  });

  it('crops to the support of the input, several slab pairs, exact zeros outside it', async () => {
    const d: Dims3 = [37, 31, 26];
    const r: [number, number, number] = [3, 2, 3];
    const volume = new Float32Array(d[0] * d[1] * d[2]);
    const next = rng(43);
    for (let z = 9; z < 20; z++) for (let y = 7; y < 18; y++) for (let x = 15; x < 28; x++) volume[x + d[0] * (y + d[1] * z)] = next();
    const opts: ConvolutionOptions = { volume, dims: d, kernel: randomKernel(r, 44), kernelRadius: r };
    const g = await convolveGpuDetailed(ctx!, { ...opts, method: 'fft', fftLayout: 'workgroup', maxSlabPlanes: 3 });
    expect(g.box).toBeDefined();
    expect(g.fftLayout).toBe('workgroup');
    expect(g.slabs).toBeGreaterThan(2);
    const oracle = convolveDirectCpu(opts);
    expect(relErr(g.values, oracle)).toBeLessThan(FFT_REL_TOL);
    for (let i = 0; i < oracle.length; i++) if (oracle[i] === 0) expect(g.values[i]).toBe(0);
  });

  it('index-encoded point sources land where the oracle puts them (no flip or shift of x, y, z, or of the slabs)', async () => {
    const d: Dims3 = [13, 10, 9];
    const r: [number, number, number] = [2, 1, 3];
    const volume = new Float32Array(d[0] * d[1] * d[2]);
    // sources in different slabs (one plane per slab: A and B parts of several pairs), weighted by their index
    for (const [k, p] of ([[0, 0, 0], [12, 9, 8], [5, 2, 3], [1, 8, 4], [11, 0, 7]] as const).entries()) volume[p[0] + d[0] * (p[1] + d[1] * p[2])] = k + 1;
    const opts: ConvolutionOptions = { volume, dims: d, kernel: randomKernel(r, 45), kernelRadius: r, cropToSupport: false };
    const g = await convolveGpuDetailed(ctx!, { ...opts, method: 'fft', fftLayout: 'workgroup', maxSlabPlanes: 1 });
    // float32 FFT of a few weighted impulses: round-off ~1e-7 x log2(P) of the largest value
    expect(relErr(g.values, convolveDirectCpu(opts))).toBeLessThan(5e-6);
  });
});

describe.skipIf(!ctx)('awaitGpu', () => {
  it('resolves GPU promises and restores setImmediate afterwards, also when nested', async () => {
    const original = globalThis.setImmediate;
    const device = ctx!.device;
    const [a, b] = await Promise.all([awaitGpu(device.queue.onSubmittedWorkDone()), awaitGpu(awaitGpu(device.queue.onSubmittedWorkDone()))]);
    expect(a).toBeUndefined();
    expect(b).toBeUndefined();
    expect(globalThis.setImmediate).toBe(original);
    await expect(awaitGpu(Promise.reject(new Error('x')))).rejects.toThrow('x');
    expect(globalThis.setImmediate).toBe(original);
  });
});
