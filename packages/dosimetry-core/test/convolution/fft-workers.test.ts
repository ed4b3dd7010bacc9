/**
 * The FFT convolution split over worker threads gives the one-thread result bit for bit, for any thread count,
 * cropped or not, and the workers really ran (no silent fallback).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { convolveCpu } from '../../src/convolution/cpu.ts';
import { convolveCpuAsync, fftThreadCount, fftWorkersUnavailableReason } from '../../src/convolution/fft-workers.ts';

function field(dims: [number, number, number], seed: number): Float32Array {
  const v = new Float32Array(dims[0] * dims[1] * dims[2]);
  let s = seed;
  for (let k = 0; k < dims[2]; k++) for (let j = 0; j < dims[1]; j++) for (let i = 0; i < dims[0]; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    // a blob with noise, zero outside (so that cropping to the support applies when it is small)
    const r = Math.hypot(i - dims[0] / 2, j - dims[1] / 2, (k - dims[2] / 2) * 1.3);
    v[i + dims[0] * (j + dims[1] * k)] = r < 0.45 * dims[0] ? 1 + s / 2 ** 32 : 0;
  }
  return v;
}

function kernel(r: [number, number, number]): Float32Array {
  const n = (2 * r[0] + 1) * (2 * r[1] + 1) * (2 * r[2] + 1);
  return Float32Array.from({ length: n }, (_, q) => 1 / (1 + ((q * 7919) % 113)));
}

const saved = process.env.DOSIMETRY_THREADS;
afterAll(() => {
  if (saved === undefined) delete process.env.DOSIMETRY_THREADS;
  else process.env.DOSIMETRY_THREADS = saved;
});

describe('convolveCpuAsync (worker threads)', () => {
  // padded to 180 x 135 x 108 (1.3 M half-spectrum bins, above the one-thread threshold)
  const dims: [number, number, number] = [160, 128, 100];
  const volume = field(dims, 3);
  const radius: [number, number, number] = [3, 2, 4];
  const opts = { volume, dims, kernel: kernel(radius), kernelRadius: radius, cropToSupport: false };
  const serial = convolveCpu(opts);

  for (const threads of [2, 3]) {
    it(`${threads} threads: the same bits as one`, async () => {
      process.env.DOSIMETRY_THREADS = String(threads);
      expect(fftThreadCount()).toBe(threads);
      const par = await convolveCpuAsync(opts);
      expect(fftWorkersUnavailableReason()).toBeUndefined();
      expect(par.length).toBe(serial.length);
      expect(Buffer.compare(Buffer.from(par.buffer), Buffer.from(serial.buffer))).toBe(0);
    });
  }

  it('cropped to the support, and with one thread, the same bits too', async () => {
    process.env.DOSIMETRY_THREADS = '2';
    const big: [number, number, number] = [200, 190, 120];
    const v = new Float32Array(big[0] * big[1] * big[2]);
    const inner = field([170, 150, 90], 5);
    for (let k = 0; k < 90; k++) for (let j = 0; j < 150; j++) v.set(inner.subarray(170 * (j + 150 * k), 170 * (j + 150 * k) + 170), 10 + 200 * (20 + j + 190 * (15 + k)));
    const o = { volume: v, dims: big, kernel: kernel(radius), kernelRadius: radius };
    const a = await convolveCpuAsync(o);
    expect(fftWorkersUnavailableReason()).toBeUndefined();
    expect(Buffer.compare(Buffer.from(a.buffer), Buffer.from(convolveCpu(o).buffer))).toBe(0);
    process.env.DOSIMETRY_THREADS = '1';
    expect(Buffer.compare(Buffer.from((await convolveCpuAsync(o)).buffer), Buffer.from(a.buffer))).toBe(0);
  });
});

describe('convolveCpuAsync: concurrent calls', () => {
  it('queue on the pool and each gets its own result', async () => {
    process.env.DOSIMETRY_THREADS = '2';
    const dims: [number, number, number] = [150, 120, 100];
    const r: [number, number, number] = [2, 2, 2];
    const a = { volume: field(dims, 11), dims, kernel: kernel(r), kernelRadius: r, cropToSupport: false };
    const b = { volume: field(dims, 12), dims, kernel: kernel([3, 1, 2]), kernelRadius: [3, 1, 2] as [number, number, number], cropToSupport: false };
    const [pa, pb] = await Promise.all([convolveCpuAsync(a), convolveCpuAsync(b)]);
    expect(fftWorkersUnavailableReason()).toBeUndefined();
    expect(Buffer.compare(Buffer.from(pa.buffer), Buffer.from(convolveCpu(a).buffer))).toBe(0);
    expect(Buffer.compare(Buffer.from(pb.buffer), Buffer.from(convolveCpu(b).buffer))).toBe(0);
  });
});

describe('convolveCpuAsync in the background', () => {
  it('runs the whole convolution on a worker thread, with the same bits, while this thread is free', async () => {
    process.env.DOSIMETRY_THREADS = '2';
    const dims: [number, number, number] = [150, 120, 100];
    const r: [number, number, number] = [2, 3, 2];
    const o = { volume: field(dims, 21), dims, kernel: kernel(r), kernelRadius: r, cropToSupport: false };
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    const bg = await convolveCpuAsync(o, { background: true });
    clearInterval(timer);
    expect(fftWorkersUnavailableReason()).toBeUndefined();
    expect(ticks).toBeGreaterThan(3); // this thread's timers ran during the convolution
    expect(Buffer.compare(Buffer.from(bg.buffer), Buffer.from(convolveCpu(o).buffer))).toBe(0);
  });

  it('split over 3 workers in place, cropped to the support, and with fewer planes than workers: the same bits', async () => {
    process.env.DOSIMETRY_THREADS = '3';
    const r: [number, number, number] = [3, 2, 4];
    const big: [number, number, number] = [200, 190, 120];
    const v = new Float32Array(big[0] * big[1] * big[2]);
    const inner = field([170, 150, 90], 7);
    for (let k = 0; k < 90; k++) for (let j = 0; j < 150; j++) v.set(inner.subarray(170 * (j + 150 * k), 170 * (j + 150 * k) + 170), 10 + 200 * (20 + j + 190 * (15 + k)));
    // a symmetric kernel too (the paired-plane path) and an asymmetric one
    const sym = Float32Array.from({ length: 7 * 5 * 9 }, (_, q) => {
      const x = (q % 7) - 3, y = (Math.floor(q / 7) % 5) - 2, z = Math.floor(q / 35) - 4;
      return 1 / (1 + x * x + y * y + z * z);
    });
    for (const k of [kernel(r), sym]) {
      const o = { volume: v, dims: big, kernel: k, kernelRadius: r };
      const bg = await convolveCpuAsync(o, { background: true });
      expect(fftWorkersUnavailableReason()).toBeUndefined();
      expect(Buffer.compare(Buffer.from(bg.buffer), Buffer.from(convolveCpu(o).buffer))).toBe(0);
    }
    const thin: [number, number, number] = [300, 260, 2];
    const t = { volume: field(thin, 9), dims: thin, kernel: kernel(r), kernelRadius: r, cropToSupport: false };
    const bt = await convolveCpuAsync(t, { background: true });
    expect(Buffer.compare(Buffer.from(bt.buffer), Buffer.from(convolveCpu(t).buffer))).toBe(0);
  });
});
