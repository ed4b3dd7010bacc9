/**
 * WebGPU back end of the dose-kernel convolution, two paths with the CPU oracle convolveDirectCpu():
 *  - 'direct': tiled direct convolution (shaders/convolve_direct.wgsl), each workgroup loads its output tile plus
 *    the kernel halo of the input into workgroup memory; cost ~ N x kernel voxels.
 *  - 'fft': FFT along x, y, z, product with the kernel spectrum, inverse; cost ~ P log P. Two z slabs travel as the
 *    real and imaginary parts of one complex volume: the kernel is real, so conv(a + i b, K) = conv(a, K) + i conv(b, K).
 *    Two layouts of the same transform: 'workgroup' (hardware GPUs; ./gpu-fft-workgroup.ts): Stockham stages in
 *    workgroup memory (shaders/fft_stockham.wgsl) and a separate product pass (shaders/convolve_fft_multiply.wgsl),
 *    the real slabs uploaded as they are, packed into the padded complex grid and their kept planes gathered back by
 *    two more kernels (shaders/fft_pack.wgsl, shaders/fft_unpack.wgsl); 'line' (software adapters such as lavapipe,
 *    where every workgroup barrier is a coroutine switch; ./gpu-fft-line.ts): one line per invocation in
 *    function-scope arrays (shaders/fft_line.wgsl), the product fused into the last axis, packing and unpacking of
 *    the real slabs done by the first and last pass, one upload and one read-back of the real box. What the paths
 *    share (caches, bindings, slabs, read-back, the FFT plan) is in ./gpu-common.ts.
 * Volumes larger than one storage binding are split into z slabs whose inputs carry the kernel's z halo, so each
 * slab's kept planes equal the whole-volume result exactly (no refusal of large volumes).
 */
import { GpuError, InputError } from '../errors.ts';
import { checkConvolutionOptions, type ConvolutionOptions, type Dims3 } from './types.ts';
import { requireConvolutionDevice } from './device.ts';
import { insertBox, planCrop, type Box3 } from './crop.ts';
import { isSoftwareAdapter } from '../gpu/wait.ts';
import type { GpuPhaseRecorder } from '../gpu/phases.ts';
import { DIRECT_BINDINGS, grid, layoutFor, pipelineFor, planFftSlabs, readBack, resolveDevice, slabs } from './gpu-common.ts';
import { kernelsAlone, settle } from '../gpu/phases.ts';
import { fftPath } from './gpu-fft-workgroup.ts';
import { fftLinePath } from './gpu-fft-line.ts';

export { FFT_PACK_PARAMS } from './gpu-common.ts';
export { FFT_LINE_PARAMS_BYTES } from './gpu-fft-line.ts';

/** Which GPU algorithm to run; 'auto' picks the cheaper by the cost estimate of chooseGpuConvolutionMethod(). */
export type GpuConvolutionMethod = 'auto' | 'direct' | 'fft';

/** Options of convolveGpu(): the common options plus GPU-specific controls (tests force paths and tiling). */
export interface GpuConvolutionOptions extends ConvolutionOptions {
  /** 'auto' (default), or force 'direct' / 'fft'. */
  readonly method?: GpuConvolutionMethod;
  /** Largest number of output z planes per GPU pass (default: as many as fit one storage binding). */
  readonly maxSlabPlanes?: number;
  /** Largest storage binding to use [bytes] (default: the device's maxStorageBufferBindingSize, at most 128 MiB). */
  readonly maxBindingBytes?: number;
  /**
   * Layout of the FFT path: 'auto' (default: 'line' on a software adapter when every padded length is at most
   * FFT_LINE_MAX_LENGTH and the volume fits one binding, else 'workgroup'), or force one (tests).
   */
  readonly fftLayout?: GpuFftLayout;
  /** Phase timing for benchmarks (../gpu/phases.ts); absent: no change. */
  readonly phases?: GpuPhaseRecorder;
}

/** Layout of the GPU FFT path (see the module comment). */
export type GpuFftLayout = 'auto' | 'workgroup' | 'line';

/** Longest padded axis of the 'line' FFT layout (MAX_N in shaders/fft_line.wgsl). */
export const FFT_LINE_MAX_LENGTH = 256;

/** What convolveGpuDetailed() ran. */
export interface GpuConvolutionResult {
  /** Output, same dims as the input; unit volume-unit x kernel-unit (e.g. Gy). */
  readonly values: Float32Array;
  /** The path that ran. */
  readonly method: 'direct' | 'fft';
  /** Number of z slabs the volume was split into. */
  readonly slabs: number;
  /** Padded FFT grid [Px, Py, Pz] per pass (fft path only). */
  readonly paddedDims?: Dims3;
  /** FFT layout that ran (fft path only). */
  readonly fftLayout?: 'workgroup' | 'line';
  /** The sub-grid that was convolved when the non-zero support was cropped (./crop.ts); absent: the whole grid. */
  readonly box?: Box3;
}

/** A device, or a context object holding one (as returned by the shared acquireGpu()). */
export type GpuTarget = GPUDevice | { readonly device: GPUDevice };

/**
 * Cost model for 'auto': direct ~ 2 N Kvox flops (one multiply-add per voxel and kernel voxel); FFT ~ three
 * complex 3-D transforms of the padded grid (kernel, forward, inverse) at 5 P log2 P flops each (Cooley-Tukey
 * operation count), P ~ (nx + rx)(ny + ry)(nz / 2 + 2 rz) complex values with two slabs packed per transform.
 */
export function chooseGpuConvolutionMethod(dims: readonly number[], radius: readonly number[]): 'direct' | 'fft' {
  const n = dims[0] * dims[1] * dims[2];
  const kvox = (2 * radius[0] + 1) * (2 * radius[1] + 1) * (2 * radius[2] + 1);
  const p = (dims[0] + radius[0]) * (dims[1] + radius[1]) * (Math.ceil(dims[2] / 2) + 2 * radius[2]);
  const direct = 2 * n * kvox;
  const fft = 3 * 5 * p * Math.log2(Math.max(2, p));
  return direct <= fft ? 'direct' : 'fft';
}

/**
 * WebGPU convolution, same result as convolveCpu() / convolveDirectCpu() within float32 rounding.
 * `convolveGpu(opts)` uses the shared device (software Vulkan adapter in Node when no GPU), `convolveGpu(device, opts)`
 * or `convolveGpu({ device }, opts)` a given one. Throws GpuError when no adapter exists.
 * @returns out, same dims as the input; unit volume-unit x kernel-unit (Bq s x Gy/(Bq s) = Gy).
 */
export async function convolveGpu(opts: GpuConvolutionOptions): Promise<Float32Array>;
export async function convolveGpu(target: GpuTarget, opts: GpuConvolutionOptions): Promise<Float32Array>;
export async function convolveGpu(a: GpuTarget | GpuConvolutionOptions, b?: GpuConvolutionOptions): Promise<Float32Array> {
  const r = b ? await convolveGpuDetailed(a as GpuTarget, b) : await convolveGpuDetailed(a as GpuConvolutionOptions);
  return r.values;
}

/** convolveGpu() that also says which path ran and how the volume was tiled. */
export async function convolveGpuDetailed(opts: GpuConvolutionOptions): Promise<GpuConvolutionResult>;
export async function convolveGpuDetailed(target: GpuTarget, opts: GpuConvolutionOptions): Promise<GpuConvolutionResult>;
export async function convolveGpuDetailed(
  a: GpuTarget | GpuConvolutionOptions,
  b?: GpuConvolutionOptions,
): Promise<GpuConvolutionResult> {
  const opts = (b ?? a) as GpuConvolutionOptions;
  const device = b ? resolveDevice(a as GpuTarget) : await requireConvolutionDevice();
  checkConvolutionOptions(opts);
  const method = opts.method ?? 'auto';
  if (method !== 'auto' && method !== 'direct' && method !== 'fft') {
    throw new InputError(`convolveGpu: unknown method "${String(method)}": use auto, direct or fft`);
  }
  const crop = planCrop(opts);
  if (crop.kind === 'empty') return { values: new Float32Array(opts.volume.length), method: method === 'fft' ? 'fft' : 'direct', slabs: 0 };
  if (crop.kind === 'box') {
    const r = await convolveGpuDetailed(device, { ...opts, ...crop.opts, cropToSupport: false });
    return { ...r, values: insertBox(r.values, opts.dims, crop.box), box: crop.box };
  }
  const chosen = method === 'auto' ? chooseGpuConvolutionMethod(opts.dims, opts.kernelRadius) : method;
  const maxBinding = Math.min(
    opts.maxBindingBytes ?? Infinity,
    device.limits.maxStorageBufferBindingSize,
    device.limits.maxBufferSize,
    128 * 1024 * 1024,
  );
  const layout = opts.fftLayout ?? 'auto';
  if (layout !== 'auto' && layout !== 'workgroup' && layout !== 'line') {
    throw new InputError(`convolveGpu: unknown FFT layout "${String(layout)}": use auto, workgroup or line`);
  }
  try {
    if (chosen === 'direct') return await directPath(device, opts, maxBinding);
    if (layout === 'line' || (layout === 'auto' && isSoftwareAdapter(device))) {
      const plan = planFftSlabs(opts, maxBinding, FFT_LINE_MAX_LENGTH);
      const boxBytes = 4 * opts.volume.length;
      if (!('error' in plan) && boxBytes <= maxBinding) return await fftLinePath(device, opts, plan);
      if (layout === 'line') {
        const why = 'error' in plan ? plan.error : `the ${boxBytes}-byte volume exceeds the ${maxBinding}-byte storage binding`;
        throw new GpuError(`FFT GPU convolution, line layout: ${why}; use layout 'workgroup' or 'auto'`);
      }
    }
    return await fftPath(device, opts, maxBinding);
  } catch (err) {
    if (err instanceof GpuError || err instanceof InputError) throw err;
    throw new GpuError(`WebGPU convolution failed: ${(err as Error).message}; use the CPU back end`, { cause: err });
  }
}

const DIRECT_TILES: ReadonlyArray<[number, number, number]> = [
  [8, 8, 4],
  [8, 8, 2],
  [16, 16, 1],
  [8, 8, 1],
  [4, 4, 4],
  [4, 4, 1],
  [2, 2, 1],
  [1, 1, 1],
];

async function directPath(device: GPUDevice, opts: GpuConvolutionOptions, maxBinding: number): Promise<GpuConvolutionResult> {
  const [nx, ny, nz] = opts.dims;
  const [rx, ry, rz] = opts.kernelRadius;
  const maxFloats = Math.floor(device.limits.maxComputeWorkgroupStorageSize / 4);
  const tileLen = (t: readonly number[]) => (t[0] + 2 * rx) * (t[1] + 2 * ry) * (t[2] + 2 * rz);
  const wg = DIRECT_TILES.find((t) => tileLen(t) <= maxFloats);
  if (!wg) {
    throw new GpuError(
      `direct GPU convolution: kernel radius [${rx}, ${ry}, ${rz}] needs more than ${maxFloats * 4} bytes of workgroup memory; use method 'fft' or 'auto'`,
    );
  }
  const plane = nx * ny;
  const maxPlanes = Math.floor(maxBinding / (4 * plane)) - 2 * rz;
  if (maxPlanes < 1) {
    throw new GpuError(`direct GPU convolution: one ${nx} x ${ny} plane plus the z halo exceeds the ${maxBinding}-byte storage binding`);
  }
  const h = Math.max(1, Math.min(nz, maxPlanes, opts.maxSlabPlanes ?? Infinity));
  const parts = slabs(nz, h);
  const phases = opts.phases;
  phases?.enter('compile');
  const pipeline = await pipelineFor(device, 'convolve_direct.wgsl', DIRECT_BINDINGS, {
    WG_X: wg[0],
    WG_Y: wg[1],
    WG_Z: wg[2],
    RX: rx,
    RY: ry,
    RZ: rz,
    TILE_LEN: tileLen(wg),
  });
  phases?.enter('host');
  const inPlanes = Math.min(nz, h + 2 * rz);
  const S = GPUBufferUsage.STORAGE;
  const inBuf = device.createBuffer({ label: 'dvk input slab', size: 4 * plane * inPlanes, usage: S | GPUBufferUsage.COPY_DST });
  const outBuf = device.createBuffer({ label: 'dvk output slab', size: 4 * plane * h, usage: S | GPUBufferUsage.COPY_SRC });
  const kBuf = device.createBuffer({ label: 'dvk kernel', size: opts.kernel.byteLength, usage: S | GPUBufferUsage.COPY_DST });
  const uBuf = device.createBuffer({ label: 'dvk params', size: 32, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
  const staging = device.createBuffer({ label: 'dvk readback', size: 4 * plane * h, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  try {
    device.queue.writeBuffer(kBuf, 0, opts.kernel);
    const bind = device.createBindGroup({
      layout: layoutFor(device, DIRECT_BINDINGS),
      entries: [inBuf, kBuf, outBuf, uBuf].map((buffer, binding) => ({ binding, resource: { buffer } })),
    });
    const out = new Float32Array(nx * ny * nz);
    for (let s = 0; s < parts.length; s++) {
      const [z0, z1] = parts[s];
      const zs0 = Math.max(0, z0 - rz);
      const zs1 = Math.min(nz, z1 + rz);
      phases?.enter('upload');
      device.queue.writeBuffer(inBuf, 0, opts.volume, zs0 * plane, (zs1 - zs0) * plane);
      device.queue.writeBuffer(uBuf, 0, new Uint32Array([nx, ny, zs1 - zs0, z1 - z0, z0 - zs0, 0, 0, 0]));
      await settle(phases);
      const enc = device.createCommandEncoder();
      const pass = enc.beginComputePass(phases?.computePass('convolve_direct'));
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, bind);
      pass.dispatchWorkgroups(Math.ceil(nx / wg[0]), Math.ceil(ny / wg[1]), Math.ceil((z1 - z0) / wg[2]));
      pass.end();
      await readBack(device, outBuf, 4 * plane * (z1 - z0), staging, await kernelsAlone(device, enc, phases), (v) => out.set(v, z0 * plane));
      phases?.enter('host');
      opts.onProgress?.((s + 1) / parts.length);
    }
    return { values: out, method: 'direct', slabs: parts.length };
  } finally {
    for (const buf of [inBuf, outBuf, kBuf, uBuf, staging]) buf.destroy();
  }
}
