/**
 * Waiting for GPU results without spinning the JS thread, and telling software adapters apart.
 *
 * Dawn's Node binding (the `webgpu` npm package) completes mapAsync / onSubmittedWorkDone by calling
 * `instance.ProcessEvents()` from a `setImmediate` callback that re-schedules itself while any request is pending:
 * a busy loop that keeps one core at 100 %. On a software adapter (Mesa lavapipe) the shaders run on the same CPU
 * cores, so the loop halves the shader throughput on a 2-core machine (measured: one FFT axis pass of 1.9 M complex
 * values 37-48 ms while spinning, 20-22 ms with the loop on a 1 ms timer). awaitGpu() routes the binding's
 * setImmediate polls through a short timer while a GPU promise is pending; the binding looks the global up on every
 * poll, so nothing else changes. Outside Node (browsers) it only awaits the promise.
 */

/** Poll interval while waiting for the GPU [ms]: the latency added to each wait, at most. */
export const GPU_POLL_INTERVAL_MS = 1;

let waiters = 0;
let savedSetImmediate: typeof globalThis.setImmediate | undefined;

function isNode(): boolean {
  return typeof process !== 'undefined' && typeof process.versions?.node === 'string';
}

/**
 * Awaits a promise that Dawn resolves from its event processing (GPUBuffer.mapAsync, GPUQueue.onSubmittedWorkDone,
 * popErrorScope) with the binding's polling on a GPU_POLL_INTERVAL_MS timer instead of a setImmediate spin.
 * Nested and concurrent calls share one substitution; the original setImmediate is back when the last one ends.
 */
export async function awaitGpu<T>(promise: Promise<T>): Promise<T> {
  if (!isNode() || typeof globalThis.setImmediate !== 'function') return promise;
  if (waiters++ === 0) {
    const original = globalThis.setImmediate;
    savedSetImmediate = original;
    const throttled = (callback: (...args: unknown[]) => void, ...args: unknown[]) =>
      setTimeout(callback, GPU_POLL_INTERVAL_MS, ...args);
    globalThis.setImmediate = Object.assign(throttled, { __promisify__: original.__promisify__ }) as unknown as typeof globalThis.setImmediate;
  }
  try {
    return await promise;
  } finally {
    if (--waiters === 0 && savedSetImmediate) {
      globalThis.setImmediate = savedSetImmediate;
      savedSetImmediate = undefined;
    }
  }
}

/**
 * True when the device runs on a CPU implementation of the GPU (lavapipe / llvmpipe, SwiftShader, WARP): adapter
 * info `isFallbackAdapter`, architecture 'software', or a known software renderer in the description. Kernels pick
 * their layout by it (no workgroup barriers on a software adapter, see convolution/gpu.ts).
 */
export function isSoftwareAdapter(device: GPUDevice): boolean {
  const info = (device as GPUDevice & { adapterInfo?: GPUAdapterInfo & { isFallbackAdapter?: boolean } }).adapterInfo;
  if (!info) return false;
  if (info.isFallbackAdapter === true || info.architecture === 'software') return true;
  return /llvmpipe|lavapipe|swiftshader|microsoft basic render/i.test(`${info.vendor} ${info.device} ${info.description}`);
}
