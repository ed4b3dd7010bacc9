/**
 * The WebGPU context for the GPU tests: found through acquireGpu() (which locates the project's lavapipe ICD).
 * Without an adapter the GPU tests skip with the printed reason, unless DOSIMETRY_REQUIRE_GPU=1 (CI), where that
 * is an error.
 */
import { acquireGpu, gpuUnavailableReason, type GpuContext } from '../../src/gpu/index.ts';

export async function gpuForTests(): Promise<GpuContext | undefined> {
  const ctx = await acquireGpu();
  if (!ctx) {
    const reason = gpuUnavailableReason();
    if (process.env.DOSIMETRY_REQUIRE_GPU === '1') throw new Error(`DOSIMETRY_REQUIRE_GPU=1 but ${reason}`);
    console.warn(`GPU tests skipped: ${reason}`);
  }
  return ctx;
}
