/**
 * The phase recorder of the WebGPU functions (src/gpu/phases.ts, used by scripts/bench-ldm.ts): a recorded call
 * returns exactly what an unrecorded one returns (the recorder only adds queue waits and timestamp writes), its
 * phases add up to its wall time, it counts one timed compute pass per pass the function encodes, and its GPU
 * timestamps lie inside the host-clock kernel phase that brackets them.
 */
import { describe, expect, it } from 'vitest';
import { convolveGpuDetailed, type GpuConvolutionOptions } from '../../src/convolution/index.ts';
import { createGpuContext, GpuPhaseTimer, ldmDoseGpu, structureStatsGpu, type GpuContext, type GpuPhaseRecorder, type GpuPhaseTimes } from '../../src/gpu/index.ts';
import { GpuError } from '../../src/errors.ts';
import { ctLikeDensity, noisyActivity, randomStructure, sphereStructure } from '../stats/phantoms.ts';
import { randomKernel, randomVolume } from '../convolution/helpers.ts';
import { gpuForTests } from './gpu-context.ts';

const shared = await gpuForTests();
const steps: Record<string, number> = {};
// a device of its own, with timestamps where the adapter has them (as the benchmark makes it)
const ctx: GpuContext | undefined = shared
  ? await createGpuContext({ optionalFeatures: ['timestamp-query'], onStep: (step, ms) => (steps[step] = ms) })
  : undefined;

async function recorded<T>(timer: GpuPhaseTimer, f: (phases: GpuPhaseRecorder) => Promise<T>): Promise<{ value: T; t: GpuPhaseTimes }> {
  timer.start();
  const value = await f(timer);
  return { value, t: await timer.stop() };
}

/** Checks shared by every recorded call; `passes` is the number of compute passes the function encodes. */
function checkTimes(t: GpuPhaseTimes, passes: number, timestamps: boolean) {
  // the phases partition the wall time: each instant counts to exactly one phase (f64 sums of ~10 terms: 1e-9 ms)
  expect(Math.abs(t.hostMs + t.compileMs + t.uploadMs + t.kernelMs + t.readbackMs - t.wallMs)).toBeLessThan(1e-6);
  for (const ms of [t.hostMs, t.compileMs, t.uploadMs, t.kernelMs, t.readbackMs]) expect(ms).toBeGreaterThanOrEqual(0);
  // every call uploads, runs kernels and reads back, each waited for: none of the three can take no time at all
  expect(t.uploadMs).toBeGreaterThan(0);
  expect(t.kernelMs).toBeGreaterThan(0);
  expect(t.readbackMs).toBeGreaterThan(0);
  expect(t.passes).toBe(timestamps ? passes : 0);
  if (timestamps) {
    // The host clock of the kernel phase starts before the submit and ends after the queue is idle, so it brackets
    // the passes' GPU time; slack 0.5 ms for the host clock's and the timestamps' rounding. A small pass may read 0
    // on a fast GPU: Dawn quantises timestamps (on an NVIDIA H200 this test's LDM passes summed to 0).
    expect(t.gpuTimestampMs).toBeGreaterThanOrEqual(0);
    expect(t.gpuTimestampMs!).toBeLessThanOrEqual(t.kernelMs + 0.5);
  } else {
    expect(t.gpuTimestampMs).toBeUndefined();
  }
}

describe.skipIf(!ctx)('GPU phase recorder', () => {
  it('createGpuContext times its steps and enables timestamp-query exactly when the adapter offers it', async () => {
    expect(Object.keys(steps).sort()).toEqual(['adapter', 'device', 'instance']);
    for (const ms of Object.values(steps)) expect(ms).toBeGreaterThanOrEqual(0);
    // a fresh context with no optional features has none of them
    const plain = await createGpuContext();
    expect(plain!.device.features.has('timestamp-query')).toBe(false);
    plain!.device.destroy();
  });

  for (const timestamps of [true, false]) {
    const on = timestamps && ctx?.device.features.has('timestamp-query') === true;
    describe(`timestamps ${timestamps ? 'requested' : 'off'}`, () => {
      const timer = ctx ? new GpuPhaseTimer(ctx.device, { timestamps }) : undefined;

      it('LDM: same dose as unrecorded, one timed pass per tile, compiles only on first use', async () => {
        const n = 40 * 30 * 20;
        const opts = { activityBqPerMl: noisyActivity(n, 1), densityGPerMl: ctLikeDensity(n, 2), ldmJoulePerGBq: 49.67, tileVoxels: 9_000 };
        const plain = await ldmDoseGpu(ctx!, opts);
        const { value, t } = await recorded(timer!, (phases) => ldmDoseGpu(ctx!, { ...opts, phases }));
        expect(value).toEqual(plain);
        checkTimes(t, Math.ceil(n / 9_000), on);
        // the pipeline was built by the unrecorded call: the recorded one finds it in the per-device cache
        expect(t.compileMs).toBeLessThan(1);
      });

      it('statistics: same result as unrecorded, single batch and tiled + batched', async () => {
        const n = 24;
        const voxels = n * n * n;
        const structures = [sphereStructure(n, 4, 30), randomStructure(voxels, 0.3, 5), randomStructure(voxels, 0.05, 6)];
        const base = { doseGy: noisyActivity(voxels, 3, 40), activityBqPerMl: noisyActivity(voxels, 4), densityGPerMl: ctLikeDensity(voxels, 5), voxelVolumeMl: 0.064, structures };
        // Passes: one per batch in each of the two statistics passes (sums, histogram). Batches: per tile of
        // tileVoxels voxels, its structure entries filled greedily into batches of batchEntries.
        const batchesOf = (tile: number, batch: number) => {
          let count = 0;
          for (let t0 = 0; t0 < voxels; t0 += tile) {
            const entries = structures.reduce((s, st) => s + st.voxelIndices.filter((v) => v >= t0 && v < t0 + tile).length, 0);
            count += Math.ceil(entries / batch);
          }
          return count;
        };
        for (const tuning of [{ tileVoxels: voxels, batchEntries: voxels }, { tileVoxels: 5_000, batchEntries: 2_000 }]) {
          const plain = await structureStatsGpu(ctx!, { ...base, ...tuning });
          const { value, t } = await recorded(timer!, (phases) => structureStatsGpu(ctx!, { ...base, ...tuning, phases }));
          expect(value).toEqual(plain);
          checkTimes(t, 2 * batchesOf(tuning.tileVoxels, tuning.batchEntries), on);
        }
      });

      const dims: [number, number, number] = [20, 18, 14];
      const conv: GpuConvolutionOptions = { volume: randomVolume(dims, 7), dims, kernel: randomKernel([2, 3, 2], 8), kernelRadius: [2, 3, 2] };
      // passes: direct one per slab; workgroup FFT one for the kernel spectrum + one per slab pair; line FFT the same
      const paths = [
        { name: 'direct, 3 slabs', o: { method: 'direct', maxSlabPlanes: 5 }, passes: 3 },
        { name: 'fft workgroup, 4 slabs', o: { method: 'fft', fftLayout: 'workgroup', maxSlabPlanes: 4 }, passes: 1 + 2 },
        { name: 'fft line, 2 slabs', o: { method: 'fft', fftLayout: 'line' }, passes: 1 + 1 },
      ] as const;
      for (const { name, o, passes } of paths) {
        it(`DVK convolution ${name}: same values as unrecorded`, async () => {
          const plain = await convolveGpuDetailed(ctx!, { ...conv, ...o });
          const { value, t } = await recorded(timer!, (phases) => convolveGpuDetailed(ctx!, { ...conv, ...o, phases }));
          expect(value.method).toBe(plain.method);
          expect(value.slabs).toBe(plain.slabs);
          expect(value.values).toEqual(plain.values);
          checkTimes(t, passes, on);
        });
      }

      it('more compute passes than maxPasses is a GpuError (timestamps) or ignored (no timestamps)', async () => {
        const small = new GpuPhaseTimer(ctx!.device, { timestamps, maxPasses: 1 });
        const n = 3000;
        const opts = { activityBqPerMl: noisyActivity(n, 1), densityGPerMl: 1.05, ldmJoulePerGBq: 49.67, tileVoxels: 1000 };
        small.start();
        const run = ldmDoseGpu(ctx!, { ...opts, phases: small });
        if (on) await expect(run).rejects.toThrow(GpuError);
        else await expect(run).resolves.toHaveLength(n);
        small.destroy();
      });
    });
  }

  it('first use on a fresh device counts the pipeline compiles', async () => {
    const fresh = await createGpuContext();
    const timer = new GpuPhaseTimer(fresh!.device);
    const n = 4096;
    const opts = { activityBqPerMl: noisyActivity(n, 1), densityGPerMl: 1.05, ldmJoulePerGBq: 49.67 };
    const first = await recorded(timer, (phases) => ldmDoseGpu(fresh!, { ...opts, phases }));
    const second = await recorded(timer, (phases) => ldmDoseGpu(fresh!, { ...opts, phases }));
    expect(first.value).toEqual(second.value);
    // compiling a pipeline (shader module + compute pipeline) takes measurable time; a cache hit is a Map lookup
    expect(first.t.compileMs).toBeGreaterThan(second.t.compileMs);
    expect(second.t.compileMs).toBeLessThan(0.5);
    timer.destroy();
    fresh!.device.destroy();
  });
});
