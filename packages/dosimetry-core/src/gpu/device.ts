/**
 * WebGPU device acquisition, shared by every GPU back-end module.
 *
 * Browser: `navigator.gpu`. Node: the `webgpu` npm package (Dawn), imported dynamically so a browser bundle never
 * needs it; Dawn runs on the Vulkan driver named by VK_ICD_FILENAMES, which defaults to the project's software
 * driver (lavapipe, `.cache/vulkan/lvp_icd.json`, made by scripts/setup-vulkan.sh) when unset and present.
 */

/** A WebGPU device plus the limits the back-end modules tile against. */
export interface GpuContext {
  readonly device: GPUDevice;
  /** Where the device came from: 'navigator.gpu' (browser) or 'webgpu (Dawn)' (Node). */
  readonly source: 'navigator.gpu' | 'webgpu (Dawn)';
  /** Adapter description for reports, e.g. "llvmpipe (LLVM 15.0.7, 256 bits)" (may be empty). */
  readonly adapterDescription: string;
  /**
   * Largest storage buffer binding the back ends use [bytes]: the device limit, capped at 128 MiB (the portable
   * limit of ../shared/STYLE.md) so that tiling is exercised the same way on every adapter.
   */
  readonly maxBindingBytes: number;
  /** Device limit on workgroups per dispatch dimension (65535 on all current adapters). */
  readonly maxWorkgroupsPerDimension: number;
}

/** Portable cap on one storage binding [bytes] (128 MiB). */
export const PORTABLE_MAX_BINDING_BYTES = 128 * 1024 * 1024;

let contextPromise: Promise<GpuContext | undefined> | undefined;
/**
 * Strong references to the GPU instance and adapter. Dawn's Node binding destroys the instance when its JS object is
 * garbage-collected, and the device's next event processing then crashes the process (segfault in
 * CallbackTaskManager::Flush); holding them here for the life of the module prevents that.
 */
const keepAlive: { gpu?: GPU; adapter?: GPUAdapter } = {};
let unavailableReason = 'WebGPU was not probed yet (call acquireGpu() first)';

function isNode(): boolean {
  return typeof process !== 'undefined' && typeof process.versions?.node === 'string';
}

/** The Node GPU instance, created once and shared by every context (Dawn needs one instance per process at most). */
let nodeInstance: GPU | undefined;

async function nodeGpu(): Promise<GPU | undefined> {
  if (nodeInstance) return nodeInstance;
  const { existsSync } = await import('node:fs');
  const { fileURLToPath } = await import('node:url');
  const icd = fileURLToPath(new URL('../../../../.cache/vulkan/lvp_icd.json', import.meta.url));
  if (!process.env.VK_ICD_FILENAMES && existsSync(icd)) process.env.VK_ICD_FILENAMES = icd;
  // Mesa's software driver probes for a display through XDG_RUNTIME_DIR and prints an error line when it is unset
  // (headless machines, CI); compute needs no display, so point it at the temp folder to keep stderr clean.
  if (!process.env.XDG_RUNTIME_DIR) {
    const { tmpdir } = await import('node:os');
    process.env.XDG_RUNTIME_DIR = tmpdir();
  }
  try {
    const pkg = 'webgpu';
    const webgpu = (await import(/* @vite-ignore */ pkg)) as { create: (flags: string[]) => GPU; globals: object };
    Object.assign(globalThis, webgpu.globals);
    nodeInstance = webgpu.create([]);
    return nodeInstance;
  } catch (err) {
    unavailableReason = `the 'webgpu' npm package could not be loaded (${(err as Error).message}); run pnpm install`;
    return undefined;
  }
}

/** Options of createGpuContext(). */
export interface GpuContextOptions {
  /** Features to enable when the adapter offers them (e.g. 'timestamp-query' for benchmarks); the others are skipped. */
  readonly optionalFeatures?: readonly GPUFeatureName[];
  /**
   * Called with the duration of each acquisition step [ms]: 'instance' (loading the WebGPU implementation; 0 once
   * loaded), 'adapter' (requestAdapter), 'device' (requestDevice).
   */
  readonly onStep?: (step: 'instance' | 'adapter' | 'device', ms: number) => void;
}

/** Adapters of the contexts made by createGpuContext(), held for the reason given at keepAlive. */
const extraAdapters: GPUAdapter[] = [];

async function probe(options: GpuContextOptions = {}, shared = true): Promise<GpuContext | undefined> {
  const step = (name: 'instance' | 'adapter' | 'device', t0: number) => options.onStep?.(name, performance.now() - t0);
  let t0 = performance.now();
  const browserGpu = (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;
  let gpu: GPU | undefined;
  let source: GpuContext['source'];
  if (browserGpu) {
    gpu = browserGpu;
    source = 'navigator.gpu';
  } else if (isNode()) {
    gpu = await nodeGpu();
    source = 'webgpu (Dawn)';
    if (!gpu) return undefined;
  } else {
    unavailableReason = 'this browser has no navigator.gpu (WebGPU is off or unsupported); use the CPU back end';
    return undefined;
  }
  keepAlive.gpu = gpu;
  step('instance', t0);
  t0 = performance.now();
  const adapter = await gpu.requestAdapter();
  step('adapter', t0);
  if (!adapter) {
    unavailableReason = isNode()
      ? `no WebGPU adapter (VK_ICD_FILENAMES=${process.env.VK_ICD_FILENAMES ?? 'unset'}); run bash scripts/setup-vulkan.sh to install the software Vulkan driver, or use the CPU back end`
      : 'navigator.gpu gave no adapter; use the CPU back end';
    return undefined;
  }
  if (shared) keepAlive.adapter = adapter;
  else extraAdapters.push(adapter);
  const l = adapter.limits;
  t0 = performance.now();
  const device = await adapter.requestDevice({
    requiredFeatures: (options.optionalFeatures ?? []).filter((f) => adapter.features.has(f)),
    requiredLimits: {
      maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
      maxBufferSize: l.maxBufferSize,
      maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
    },
  });
  step('device', t0);
  if (shared) {
    device.lost.then((info) => {
      unavailableReason = `the WebGPU device was lost (${info.reason}: ${info.message})`;
      contextPromise = undefined;
    });
  }
  const info = adapter.info;
  return {
    device,
    source,
    adapterDescription: [info?.vendor, info?.architecture, info?.device, info?.description].filter(Boolean).join(' '),
    maxBindingBytes: Math.min(device.limits.maxStorageBufferBindingSize, device.limits.maxBufferSize, PORTABLE_MAX_BINDING_BYTES),
    maxWorkgroupsPerDimension: device.limits.maxComputeWorkgroupsPerDimension,
  };
}

/**
 * The shared WebGPU context (created once, cached; re-created after a device loss), or undefined when there is no
 * adapter: `gpuUnavailableReason()` then says why and how to fix it.
 */
export function acquireGpu(): Promise<GpuContext | undefined> {
  contextPromise ??= probe().catch((err: unknown) => {
    unavailableReason = `WebGPU device creation failed (${(err as Error).message}); use the CPU back end`;
    contextPromise = undefined;
    return undefined;
  });
  return contextPromise;
}

/**
 * A WebGPU context of its own (benchmarks: a device with 'timestamp-query'), beside the shared one of acquireGpu():
 * not cached, and its loss does not touch the shared context. Undefined when there is no adapter
 * (`gpuUnavailableReason()` says why). The caller destroys the device when done.
 */
export async function createGpuContext(options: GpuContextOptions = {}): Promise<GpuContext | undefined> {
  try {
    return await probe(options, false);
  } catch (err) {
    unavailableReason = `WebGPU device creation failed (${(err as Error).message}); use the CPU back end`;
    return undefined;
  }
}

/** Why the last acquireGpu() returned undefined (one sentence with a fix). */
export function gpuUnavailableReason(): string {
  return unavailableReason;
}

/**
 * Splits `workgroups` over a 2-D grid so no dimension exceeds `maxPerDimension` (65535 on current adapters):
 * kernels recover the linear workgroup id as `wid.x + wid.y * num_workgroups.x` and skip ids >= the total.
 */
export function dispatchGrid2d(workgroups: number, maxPerDimension = 65535): [number, number] {
  if (workgroups <= 0) return [0, 0];
  const x = Math.min(workgroups, maxPerDimension);
  return [x, Math.ceil(workgroups / x)];
}
