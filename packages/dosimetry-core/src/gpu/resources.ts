/**
 * Small WebGPU helpers shared by the back-end modules: a per-device cache (pipelines, layouts), buffer creation,
 * read-back, and error scopes that turn WebGPU validation / out-of-memory errors into GpuError.
 */
import { GpuError } from '../errors.ts';
import { awaitGpu } from './wait.ts';

const perDevice = new WeakMap<GPUDevice, Map<string, unknown>>();

/** `make()` once per (device, key); later calls return the cached value (pipelines, bind group layouts). */
export function cachedPerDevice<T>(device: GPUDevice, key: string, make: () => T): T {
  let m = perDevice.get(device);
  if (!m) perDevice.set(device, (m = new Map()));
  if (!m.has(key)) m.set(key, make());
  return m.get(key) as T;
}

/** A storage/uniform/staging buffer of at least `byteSize` bytes (rounded up to 16; WebGPU wants 4, uniforms 16). */
export function createBuffer(device: GPUDevice, label: string, byteSize: number, usage: GPUBufferUsageFlags): GPUBuffer {
  return device.createBuffer({ label, size: Math.max(16, Math.ceil(byteSize / 16) * 16), usage });
}

/** Copies `byteSize` bytes of `src` (COPY_SRC) through a staging buffer and returns them (one submit, one map). */
export async function readBuffer(device: GPUDevice, src: GPUBuffer, byteSize: number, srcOffset = 0): Promise<ArrayBuffer> {
  const staging = createBuffer(device, 'readback', byteSize, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST);
  try {
    const enc = device.createCommandEncoder();
    enc.copyBufferToBuffer(src, srcOffset, staging, 0, Math.ceil(byteSize / 4) * 4);
    device.queue.submit([enc.finish()]);
    await awaitGpu(staging.mapAsync(GPUMapMode.READ));
    return staging.getMappedRange(0, Math.ceil(byteSize / 4) * 4).slice(0, byteSize);
  } finally {
    staging.destroy();
  }
}

/**
 * Runs `work` inside validation and out-of-memory error scopes; a WebGPU error becomes a GpuError naming `what`.
 * Buffers created in `work` should be destroyed by it (try/finally).
 */
export async function withGpuErrors<T>(device: GPUDevice, what: string, work: () => Promise<T>): Promise<T> {
  device.pushErrorScope('out-of-memory');
  device.pushErrorScope('validation');
  let result: T;
  try {
    result = await work();
  } finally {
    const validation = await awaitGpu(device.popErrorScope());
    const oom = await awaitGpu(device.popErrorScope());
    const err = validation ?? oom;
    if (err) {
      throw new GpuError(`${what} failed on the GPU (${err.message.split('\n')[0]}); retry with the CPU back end (--backend cpu)`);
    }
  }
  return result;
}
