/**
 * `--backend auto` next to a hardware GPU: which jobs it keeps on the CPU (dose/backend.ts cpuBetterThanGpu). The
 * rule comes from whole-process and in-process timings on an NVIDIA H200 with 16 cores (README, "On a GPU"): LDM and
 * its statistics never pay for the transfers; DVK pays from about 12 M voxels per CPU convolution thread; the Monte
 * Carlo always goes to the GPU.
 */
import { describe, expect, it } from 'vitest';
import { DVK_GPU_MIN_VOXELS_PER_CPU_THREAD, cpuBetterThanGpu, selectBackend } from '../../src/dose/backend.ts';

describe('auto on a hardware adapter: the CPU where the GPU cannot pay for its start and transfers', () => {
  it('LDM stays on the CPU at every size, the Monte Carlo goes to the GPU at every size', () => {
    for (const voxels of [1e3, 256 ** 3, 512 * 512 * 400, 1024 * 1024 * 480]) {
      expect(cpuBetterThanGpu({ method: 'ldm', voxels }, 4)).toMatch(/one pass over the voxels/);
      expect(cpuBetterThanGpu({ method: 'mc', voxels }, 4)).toBeUndefined();
    }
  });
  it('DVK: the CPU below the break-even, which scales with the CPU threads; the GPU above it', () => {
    // the measured cases: 192^3 and 256^3 on the CPU with 4 threads, 512x512x400 on the GPU
    expect(cpuBetterThanGpu({ method: 'dvk', voxels: 192 ** 3 }, 4)).toMatch(/7\.1 M voxels is faster on the CPU back end \(4 threads\).*about 48 M voxels/);
    expect(cpuBetterThanGpu({ method: 'dvk', voxels: 256 ** 3 }, 4)).toBeDefined();
    expect(cpuBetterThanGpu({ method: 'dvk', voxels: 512 * 512 * 400 }, 4)).toBeUndefined();
    // one thread: the GPU from 12 M voxels
    expect(cpuBetterThanGpu({ method: 'dvk', voxels: DVK_GPU_MIN_VOXELS_PER_CPU_THREAD - 1 }, 1)).toMatch(/1 thread\)/);
    expect(cpuBetterThanGpu({ method: 'dvk', voxels: DVK_GPU_MIN_VOXELS_PER_CPU_THREAD }, 1)).toBeUndefined();
    expect(cpuBetterThanGpu({ method: 'dvk', voxels: 256 ** 3 }, 1)).toBeUndefined();
  });
  it('--backend cpu and webgpu are never second-guessed; auto without a hardware adapter is the CPU and says why', async () => {
    const cpu = await selectBackend('cpu', { method: 'mc', voxels: 1e8 });
    expect(cpu.name).toBe('cpu');
    expect(cpu.reason).toBe('asked for with --backend cpu');
    const auto = await selectBackend('auto', { method: 'dvk', voxels: 1e9 });
    // CI and this machine have no hardware adapter: lavapipe (software) or none
    expect(auto.name).toBe('cpu');
    expect(auto.reason).toMatch(/^auto: /);
  });
});
