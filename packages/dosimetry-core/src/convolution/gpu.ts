/**
 * WebGPU back end of the dose-kernel convolution, two paths with the CPU oracle convolveDirectCpu():
 *  - 'direct': tiled direct convolution (shaders/convolve_direct.wgsl), each workgroup loads its output tile plus
 *    the kernel halo of the input into workgroup memory; cost ~ N x kernel voxels.
 *  - 'fft': FFT along x, y, z, product with the kernel spectrum, inverse; cost ~ P log P. Two z slabs travel as the
 *    real and imaginary parts of one complex volume: the kernel is real, so conv(a + i b, K) = conv(a, K) + i conv(b, K).
 *    Two layouts of the same transform: 'workgroup' (hardware GPUs): Stockham stages in workgroup memory
 *    (shaders/fft_stockham.wgsl) and a separate product pass (shaders/convolve_fft_multiply.wgsl), the real slabs
 *    uploaded as they are, packed into the padded complex grid and their kept planes gathered back by two more
 *    kernels (shaders/fft_pack.wgsl, shaders/fft_unpack.wgsl); 'line' (software adapters such as lavapipe, where every workgroup barrier is a coroutine
 *    switch): one line per invocation in function-scope arrays (shaders/fft_line.wgsl), the product fused into the
 *    last axis, packing and unpacking of the real slabs done by the first and last pass, one upload and one
 *    read-back of the real box.
 * Volumes larger than one storage binding are split into z slabs whose inputs carry the kernel's z halo, so each
 * slab's kept planes equal the whole-volume result exactly (no refusal of large volumes).
 */
import { GpuError, InputError } from '../errors.ts';
import { checkConvolutionOptions, type ConvolutionOptions, type Dims3 } from './types.ts';
import { fftPlan, nextFastLength } from './fft.ts';
import { loadShader } from './shaders.ts';
import { requireConvolutionDevice } from './device.ts';
import { insertBox, planCrop, type Box3 } from './crop.ts';
import { awaitGpu, isSoftwareAdapter } from '../gpu/wait.ts';
import { withGpuErrors } from '../gpu/resources.ts';
import { packUniform, uniformByteSize, type UniformLayout } from '../gpu/uniform.ts';
import type { GpuPhaseRecorder } from '../gpu/phases.ts';

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

interface Cache {
  layouts: Map<string, GPUBindGroupLayout>;
  pipelines: Map<string, Promise<GPUComputePipeline>>;
  twiddles: Map<number, GPUBuffer>;
}
const caches = new WeakMap<GPUDevice, Cache>();

function cacheFor(device: GPUDevice): Cache {
  let c = caches.get(device);
  if (!c) {
    c = { layouts: new Map(), pipelines: new Map(), twiddles: new Map() };
    caches.set(device, c);
  }
  return c;
}

type BindingKind = 'read' | 'rw' | 'uniform';

function layoutFor(device: GPUDevice, kinds: readonly BindingKind[]): GPUBindGroupLayout {
  const c = cacheFor(device);
  const key = kinds.join(',');
  let l = c.layouts.get(key);
  if (!l) {
    l = device.createBindGroupLayout({
      label: `convolution layout ${key}`,
      entries: kinds.map((k, binding) => ({
        binding,
        visibility: GPUShaderStage.COMPUTE,
        buffer: { type: k === 'read' ? 'read-only-storage' : k === 'rw' ? 'storage' : 'uniform' },
      })),
    });
    c.layouts.set(key, l);
  }
  return l;
}

const DIRECT_BINDINGS: BindingKind[] = ['read', 'read', 'rw', 'uniform'];
const FFT_BINDINGS: BindingKind[] = ['rw', 'read', 'uniform'];
const MUL_BINDINGS: BindingKind[] = ['rw', 'read', 'uniform'];
const PACK_BINDINGS: BindingKind[] = ['rw', 'read', 'uniform'];
const UNPACK_BINDINGS: BindingKind[] = ['read', 'rw', 'uniform'];
/** Workgroup size of fft_pack.wgsl and fft_unpack.wgsl (override WG). */
const PACK_WG = 256;

/**
 * `struct Params` of shaders/fft_pack.wgsl and shaders/fft_unpack.wgsl (one layout for both): box and padded sizes
 * [voxels], kernel radius [voxels], per slab its input planes in the uploaded box (pack) and its kept planes (unpack).
 */
export const FFT_PACK_PARAMS: UniformLayout = {
  struct: 'Params',
  fields: [
    ['nx', 'u32'],
    ['ny', 'u32'],
    ['px', 'u32'],
    ['py', 'u32'],
    ['count', 'u32'],
    ['rowStride', 'u32'],
    ['rx', 'u32'],
    ['ry', 'u32'],
    ['rz', 'u32'],
    ['_pad0', 'u32'],
    ['_pad1', 'u32'],
    ['_pad2', 'u32'],
    ['baseA', 'u32'],
    ['planesA', 'u32'],
    ['baseB', 'u32'],
    ['planesB', 'u32'],
    ['keptLoA', 'u32'],
    ['keptA', 'u32'],
    ['keptLoB', 'u32'],
    ['keptB', 'u32'],
  ],
};

function pipelineFor(
  device: GPUDevice,
  shader: string,
  kinds: readonly BindingKind[],
  constants: Record<string, number>,
): Promise<GPUComputePipeline> {
  const c = cacheFor(device);
  const key = `${shader}|${JSON.stringify(constants)}`;
  let p = c.pipelines.get(key);
  if (!p) {
    p = (async () => {
      const code = await loadShader(shader);
      device.pushErrorScope('validation');
      const module = device.createShaderModule({ label: shader, code });
      // synchronous creation: Dawn's async pipeline compilation aborts the Node process on lavapipe
      // ("std::system_error: Invalid argument" from its worker thread), observed with webgpu 0.6.2
      const pipeline = device.createComputePipeline({
        label: key,
        layout: device.createPipelineLayout({ bindGroupLayouts: [layoutFor(device, kinds)] }),
        compute: { module, entryPoint: 'main', constants },
      });
      const err = await awaitGpu(device.popErrorScope());
      if (err) throw new GpuError(`WebGPU rejected ${shader} (${JSON.stringify(constants)}): ${err.message}`);
      return pipeline;
    })();
    p.catch(() => c.pipelines.delete(key));
    c.pipelines.set(key, p);
  }
  return p;
}

function twiddleBuffer(device: GPUDevice, n: number): GPUBuffer {
  const c = cacheFor(device);
  let b = c.twiddles.get(n);
  if (!b) {
    const plan = fftPlan(n);
    const tw = new Float32Array(2 * n);
    for (let t = 0; t < n; t++) {
      tw[2 * t] = plan.twRe[t];
      tw[2 * t + 1] = plan.twIm[t];
    }
    b = device.createBuffer({ label: `twiddles ${n}`, size: tw.byteLength, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
    device.queue.writeBuffer(b, 0, tw);
    c.twiddles.set(n, b);
  }
  return b;
}

/** A 2-D dispatch grid covering `groups` workgroups (maxComputeWorkgroupsPerDimension = 65535). */
function grid(groups: number): [number, number] {
  const gx = Math.min(groups, 65535);
  return [gx, Math.ceil(groups / gx)];
}

function resolveDevice(target: GpuTarget): GPUDevice {
  return 'queue' in target ? target : target.device;
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

/** Output-plane slabs [z0, z1) of at most h planes. */
function slabs(nz: number, h: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let z0 = 0; z0 < nz; z0 += h) out.push([z0, Math.min(nz, z0 + h)]);
  return out;
}

/**
 * Submits `encoder` with a copy of `bytes` of `src` into `staging`, waits (awaitGpu: without spinning the JS thread,
 * which on a software adapter would take a core from the shader threads), and hands the mapped float32 values to
 * `use` (no copy).
 */
async function readBack<T>(
  device: GPUDevice,
  src: GPUBuffer,
  bytes: number,
  staging: GPUBuffer,
  encoder: GPUCommandEncoder,
  use: (values: Float32Array) => T,
): Promise<T> {
  encoder.copyBufferToBuffer(src, 0, staging, 0, bytes);
  device.queue.submit([encoder.finish()]);
  await awaitGpu(staging.mapAsync(GPUMapMode.READ, 0, bytes));
  try {
    return use(new Float32Array(staging.getMappedRange(0, bytes)));
  } finally {
    staging.unmap();
  }
}

/** With a phase recorder: waits for the queued work (upload or kernels) and goes back to the host phase. */
async function settle(phases: GpuPhaseRecorder | undefined): Promise<void> {
  if (!phases) return;
  await phases.drain();
  phases.enter('host');
}

/**
 * The encoder readBack() should copy from: `enc` itself, or with a phase recorder a fresh one after `enc`'s kernels
 * were submitted and waited for alone (then the read-back phase starts).
 */
async function kernelsAlone(device: GPUDevice, enc: GPUCommandEncoder, phases: GpuPhaseRecorder | undefined): Promise<GPUCommandEncoder> {
  if (!phases) return enc;
  phases.enter('kernel');
  device.queue.submit([enc.finish()]);
  await phases.drain();
  phases.enter('readback');
  return device.createCommandEncoder();
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

/** Largest FFT line the workgroup-memory transform holds: 2 ping-pong buffers of N vec2f in 32 KiB. */
function maxFftLine(device: GPUDevice): number {
  return Math.floor(device.limits.maxComputeWorkgroupStorageSize / 16);
}

interface AxisPass {
  /** line length (padded axis) */
  n: number;
  elemStride: number;
  strideA: number;
  countA: number;
  strideB: number;
  countB: number;
}

async function fftPath(device: GPUDevice, opts: GpuConvolutionOptions, maxBinding: number): Promise<GpuConvolutionResult> {
  const [nx, ny, nz] = opts.dims;
  const [rx, ry, rz] = opts.kernelRadius;
  const progress = opts.onProgress ?? (() => {});
  const maxLine = maxFftLine(device);
  const plan = planFftSlabs(opts, maxBinding, maxLine);
  if ('error' in plan) throw new GpuError(`FFT GPU convolution: ${plan.error}`);
  const { px, py, pz, h, parts } = plan;
  const total = px * py * pz;
  const planeC = px * py;
  const plane = nx * ny;
  const S = GPUBufferUsage.STORAGE;
  const transient: GPUBuffer[] = [];
  const buffer = (label: string, size: number, usage: GPUBufferUsageFlags) => {
    const b = device.createBuffer({ label, size: Math.max(16, Math.ceil(size / 16) * 16), usage });
    transient.push(b);
    return b;
  };
  const dataBuf = buffer('dvk fft data', 8 * total, S);
  const kBuf = buffer('dvk fft kernel spectrum', 8 * total, S | GPUBufferUsage.COPY_DST);
  // a pair of slabs reads the input planes [zs0 of A, zs1 of B) (adjacent slabs, overlapping halos) and keeps the
  // output planes [z0 of A, z1 of B): at most 2 h + 2 rz and 2 h planes (both within one binding: Pz >= h + 2 rz)
  const boxPlanes = Math.min(nz, 2 * h + 2 * rz);
  const keptPlanes = Math.min(nz, 2 * h);
  const inBuf = buffer('dvk fft real input', 4 * plane * boxPlanes, S | GPUBufferUsage.COPY_DST);
  const outBuf = buffer('dvk fft real output', 4 * plane * keptPlanes, S | GPUBufferUsage.COPY_SRC);
  const staging = buffer('dvk fft readback', 4 * plane * keptPlanes, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST);
  const packParams = buffer('dvk fft pack params', uniformByteSize(FFT_PACK_PARAMS), GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
  const unpackParams = buffer('dvk fft unpack params', uniformByteSize(FFT_PACK_PARAMS), GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
  const phases = opts.phases;
  try {
    phases?.enter('compile');
    const fftPipe = new Map<number, { pipeline: GPUComputePipeline; lines: number }>();
    for (const n of new Set([px, py, pz])) {
      const lines = Math.max(1, Math.min(16, Math.floor(maxLine / n)));
      fftPipe.set(n, { pipeline: await pipelineFor(device, 'fft_stockham.wgsl', FFT_BINDINGS, { WG: 64, N: n, LINES: lines, SMEM: 2 * lines * n }), lines });
    }
    const mulPipe = await pipelineFor(device, 'convolve_fft_multiply.wgsl', MUL_BINDINGS, { WG: 256 });
    const packPipe = await pipelineFor(device, 'fft_pack.wgsl', PACK_BINDINGS, { WG: PACK_WG });
    const unpackPipe = await pipelineFor(device, 'fft_unpack.wgsl', UNPACK_BINDINGS, { WG: PACK_WG });
    phases?.enter('host');

    // one params buffer and bind group per distinct axis pass of this call (the slab pairs repeat the same few)
    const axisBinds = new Map<string, { bind: GPUBindGroup; gx: number; gy: number }>();
    const encodeAxis = (pass: GPUComputePassEncoder, target: 'data' | 'kernel', ax: AxisPass, inverse: boolean) => {
      const { pipeline, lines } = fftPipe.get(ax.n)!;
      const key = `${target}|${ax.n},${ax.elemStride},${ax.strideA},${ax.countA},${ax.strideB},${ax.countB}|${inverse}`;
      let b = axisBinds.get(key);
      if (!b) {
        const [gx, gy] = grid(Math.ceil((ax.countA * ax.countB) / lines));
        const radices = fftPlan(ax.n).radices;
        if (radices.length > 16) throw new GpuError(`FFT length ${ax.n} needs more than 16 stages`);
        const u = new Uint32Array(24);
        u.set([ax.elemStride, ax.strideA, ax.countA, ax.strideB, ax.countB, radices.length, inverse ? 1 : 0, gx]);
        u.set(radices, 8);
        const params = buffer('dvk fft axis params', u.byteLength, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
        device.queue.writeBuffer(params, 0, u);
        const bind = device.createBindGroup({
          layout: layoutFor(device, FFT_BINDINGS),
          entries: [target === 'data' ? dataBuf : kBuf, twiddleBuffer(device, ax.n), params].map((buf, binding) => ({ binding, resource: { buffer: buf } })),
        });
        axisBinds.set(key, (b = { bind, gx, gy }));
      }
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, b.bind);
      pass.dispatchWorkgroups(b.gx, b.gy);
    };
    const xAxis = (planesZ: number, rowsY: number): AxisPass => ({ n: px, elemStride: 1, strideA: px, countA: rowsY, strideB: planeC, countB: planesZ });
    const yAxis = (planesZ: number): AxisPass => ({ n: py, elemStride: px, strideA: 1, countA: px, strideB: planeC, countB: planesZ });
    const zAxis: AxisPass = { n: pz, elemStride: planeC, strideA: 1, countA: px, strideB: px, countB: py };

    // Kernel spectrum: the shifted kernel rows (kernelSpectrumRows), transformed along x on its rows only, along y on
    // its planes only, along z everywhere. A new buffer is zero-filled (WebGPU), so only the kernel rows are written.
    const kRows = kernelSpectrumRows(opts, px, py, pz);
    phases?.enter('upload');
    for (const [row, values] of kRows) device.queue.writeBuffer(kBuf, 8 * px * row, values);
    await settle(phases);
    const kPlanes = Math.min(pz, 2 * rz + 1);
    const kRowsY = Math.min(py, 2 * ry + 1);
    {
      const enc = device.createCommandEncoder();
      const pass = enc.beginComputePass(phases?.computePass('dvk kernel spectrum'));
      encodeAxis(pass, 'kernel', xAxis(kPlanes, kRowsY), false);
      encodeAxis(pass, 'kernel', yAxis(kPlanes), false);
      encodeAxis(pass, 'kernel', zAxis, false);
      pass.end();
      phases?.enter('kernel');
      device.queue.submit([enc.finish()]);
      await settle(phases);
    }
    const mulParams = buffer('dvk fft product params', 16, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
    const mulGroups = grid(Math.ceil(total / 256));
    const mu = new ArrayBuffer(16);
    new Uint32Array(mu, 0, 2).set([total, mulGroups[0] * 256]);
    new Float32Array(mu, 8, 1)[0] = 1 / total;
    device.queue.writeBuffer(mulParams, 0, mu);
    const mulBind = device.createBindGroup({
      layout: layoutFor(device, MUL_BINDINGS),
      entries: [dataBuf, kBuf, mulParams].map((buf, binding) => ({ binding, resource: { buffer: buf } })),
    });
    const packBind = device.createBindGroup({
      layout: layoutFor(device, PACK_BINDINGS),
      entries: [dataBuf, inBuf, packParams].map((buf, binding) => ({ binding, resource: { buffer: buf } })),
    });
    const unpackBind = device.createBindGroup({
      layout: layoutFor(device, UNPACK_BINDINGS),
      entries: [dataBuf, outBuf, unpackParams].map((buf, binding) => ({ binding, resource: { buffer: buf } })),
    });
    const packGroups = grid(Math.ceil(total / PACK_WG));

    const out = new Float32Array(nx * ny * nz);
    let done = 0;
    for (let s = 0; s < parts.length; s += 2) {
      // slab A -> real part, slab B (if any) -> imaginary part; each slab's input planes start at local z = 0
      const [qa, qb] = [parts[s], parts[s + 1]].map((p) => (p ? { z0: p[0], z1: p[1], zs0: Math.max(0, p[0] - rz), zs1: Math.min(nz, p[1] + rz) } : undefined));
      const inPlanes = Math.max(qa!.zs1 - qa!.zs0, qb ? qb.zs1 - qb.zs0 : 0);
      // the uploaded box: input planes [boxLo, boxHi) of the volume, both slabs' inputs (B starts at qb.zs0 - boxLo)
      const boxLo = qa!.zs0;
      const boxHi = Math.max(qa!.zs1, qb?.zs1 ?? 0);
      const keptA = qa!.z1 - qa!.z0;
      const keptB = qb ? qb.z1 - qb.z0 : 0;
      const common = { nx, ny, px, py, rx, ry, rz, _pad0: 0, _pad1: 0, _pad2: 0 };
      const slabFields = {
        baseA: 0,
        planesA: qa!.zs1 - qa!.zs0,
        baseB: qb ? qb.zs0 - boxLo : 0,
        planesB: qb ? qb.zs1 - qb.zs0 : 0,
        keptLoA: qa!.z0 - qa!.zs0,
        keptA,
        keptLoB: qb ? qb.z0 - qb.zs0 : 0,
        keptB,
      };
      const unpackCount = plane * (keptA + keptB);
      const unpackGroups = grid(Math.ceil(unpackCount / PACK_WG));
      phases?.enter('upload');
      device.queue.writeBuffer(inBuf, 0, opts.volume, boxLo * plane, (boxHi - boxLo) * plane);
      device.queue.writeBuffer(packParams, 0, packUniform(FFT_PACK_PARAMS, { ...common, ...slabFields, count: total, rowStride: packGroups[0] * PACK_WG }));
      device.queue.writeBuffer(unpackParams, 0, packUniform(FFT_PACK_PARAMS, { ...common, ...slabFields, count: unpackCount, rowStride: unpackGroups[0] * PACK_WG }));
      await settle(phases);
      const enc = device.createCommandEncoder();
      const pass = enc.beginComputePass(phases?.computePass('dvk fft slab'));
      // packing writes every element of the padded grid: real slabs inside, zero padding outside
      pass.setPipeline(packPipe);
      pass.setBindGroup(0, packBind);
      pass.dispatchWorkgroups(packGroups[0], packGroups[1]);
      encodeAxis(pass, 'data', xAxis(inPlanes, ny), false);
      encodeAxis(pass, 'data', yAxis(inPlanes), false);
      encodeAxis(pass, 'data', zAxis, false);
      pass.setPipeline(mulPipe);
      pass.setBindGroup(0, mulBind);
      pass.dispatchWorkgroups(mulGroups[0], mulGroups[1]);
      encodeAxis(pass, 'data', zAxis, true);
      // the kept outputs lie at +r (see kernelSpectrumRows): planes < outPlanes, rows < ny + ry
      const outPlanes = Math.min(pz, inPlanes + rz);
      encodeAxis(pass, 'data', yAxis(outPlanes), true);
      encodeAxis(pass, 'data', xAxis(outPlanes, Math.min(py, ny + ry)), true);
      pass.setPipeline(unpackPipe);
      pass.setBindGroup(0, unpackBind);
      pass.dispatchWorkgroups(unpackGroups[0], unpackGroups[1]);
      pass.end();
      // slab A's kept planes then slab B's: the output planes [z0 of A, z1 of B) in order
      await readBack(device, outBuf, 4 * unpackCount, staging, await kernelsAlone(device, enc, phases), (v) => out.set(v, plane * qa!.z0));
      phases?.enter('host');
      done += qb ? 2 : 1;
      progress(done / parts.length);
    }
    return { values: out, method: 'fft', slabs: parts.length, paddedDims: [px, py, pz], fftLayout: 'workgroup' };
  } finally {
    for (const buf of transient) buf.destroy();
  }
}

/** Slab plan of the FFT path: padded lengths, slab height and the output-plane slabs. */
interface FftSlabPlan {
  readonly px: number;
  readonly py: number;
  readonly pz: number;
  /** Output planes per slab. */
  readonly h: number;
  readonly parts: Array<[number, number]>;
}

/**
 * Padded lengths and z slabs of the FFT path, or why it cannot run. Slab height h and padded z length: a slab's
 * input carries up to rz halo planes on each side, so circular indices m - k stay inside [0, Pz) without aliasing
 * for Pz >= h + 2 rz (Pz >= nz + rz for a single slab). Two slabs share one complex volume, so the volume is cut in
 * two at least; slabs are halved until the padded complex grid fits one binding. Every padded length must be at most
 * maxLine.
 */
function planFftSlabs(opts: GpuConvolutionOptions, maxBinding: number, maxLine: number): FftSlabPlan | { error: string } {
  const [nx, ny, nz] = opts.dims;
  const [rx, ry, rz] = opts.kernelRadius;
  const px = nextFastLength(nx + rx);
  const py = nextFastLength(ny + ry);
  const pzFor = (h: number, count: number) => nextFastLength(count === 1 ? nz + rz : h + 2 * rz);
  let h = Math.max(1, Math.min(nz, opts.maxSlabPlanes ?? Infinity, nz > 1 ? Math.ceil(nz / 2) : 1));
  while (h > 1 && px * py * pzFor(h, Math.ceil(nz / h)) * 8 > maxBinding) h = Math.ceil(h / 2);
  const pz = pzFor(h, Math.ceil(nz / h));
  if (px * py * pz * 8 > maxBinding) {
    return { error: `padded grid ${px} x ${py} x ${pz} (complex float32) exceeds the ${maxBinding}-byte storage binding; use the CPU back end` };
  }
  for (const [axis, n] of [['x', px], ['y', py], ['z', pz]] as const) {
    if (n > maxLine) return { error: `padded ${axis} length ${n} exceeds ${maxLine}; use method 'direct' or the CPU back end` };
  }
  return { px, py, pz, h, parts: slabs(nz, h) };
}

/**
 * Rows of the shifted kernel in the padded grid, keyed by row index y + Py z, values interleaved (re, im = 0). The
 * kernel is stored shifted, not wrapped: offset d at index (d + r) mod P, so it fills the corner [0, 2r] of each
 * axis and the transforms of the kernel skip the rows and planes that are all zero. The circular result is then
 * shifted by r: output m is read at m + r. No aliasing for P >= n + r (x, y, single slab) or P >= h + 2r (slabs):
 * the index m + r < P, and an input index m + r - k' < 0 (zero padding) wraps to >= P - r, past the last input
 * plane. Offsets that fold onto one index (padded length < 2r + 1, small grids) are summed: only one of them is ever
 * realised as an in-grid difference (see convolveCpu).
 */
function kernelSpectrumRows(opts: GpuConvolutionOptions, px: number, py: number, pz: number): Map<number, Float32Array> {
  const [rx, ry, rz] = opts.kernelRadius;
  const kx = 2 * rx + 1;
  const ky = 2 * ry + 1;
  const kRows = new Map<number, Float32Array>();
  for (let dz = -rz; dz <= rz; dz++) {
    for (let dy = -ry; dy <= ry; dy++) {
      const row = ((dy + ry) % py) + py * ((dz + rz) % pz);
      let kRow = kRows.get(row);
      if (!kRow) kRows.set(row, (kRow = new Float32Array(2 * px)));
      for (let dx = -rx; dx <= rx; dx++) kRow[2 * ((dx + rx) % px)] += opts.kernel[dx + rx + kx * (dy + ry + ky * (dz + rz))];
    }
  }
  return kRows;
}

const LINE_BINDINGS: BindingKind[] = ['rw', 'read', 'uniform', 'read', 'rw'];
/** Workgroup size of fft_line.wgsl: 32 lines (fastest of 8..128 on lavapipe; lanes take consecutive lines). */
const LINE_WG_X = 32;
/** Size of `struct Params` in shaders/fft_line.wgsl [bytes]: 24 u32 fields + array<vec4u, 4>. */
export const FFT_LINE_PARAMS_BYTES = 160;
/** fft_line.wgsl modes. */
const LINE_MODE = { plain: 0, fused: 1, load: 2, store: 3 } as const;

/** One dispatch of fft_line.wgsl (see its header for the fields): the lines of an axis pass, and what to do. */
interface LinePass extends AxisPass {
  inverse: boolean;
  mode: number;
  scale?: number;
  slabA?: { base: number; planes: number; keptLo: number; keptHi: number };
  slabB?: { base: number; planes: number; keptLo: number; keptHi: number };
}

/**
 * The FFT convolution in the 'line' layout (shaders/fft_line.wgsl): the real volume is uploaded once and the real
 * result read back once; per pair of slabs one submission of five passes: x forward building the complex lines from
 * the two real slabs, y forward, z forward x kernel spectrum x z inverse (fused), y inverse, x inverse writing the
 * kept planes of both slabs into the real output. The kernel spectrum takes three passes on its non-zero rows.
 */
function fftLinePath(device: GPUDevice, opts: GpuConvolutionOptions, plan: FftSlabPlan): Promise<GpuConvolutionResult> {
  return withGpuErrors(device, 'the FFT convolution (line layout)', () => fftLineRun(device, opts, plan));
}

async function fftLineRun(device: GPUDevice, opts: GpuConvolutionOptions, plan: FftSlabPlan): Promise<GpuConvolutionResult> {
  const [nx, ny, nz] = opts.dims;
  const [rx, ry, rz] = opts.kernelRadius;
  const { px, py, pz, parts } = plan;
  const progress = opts.onProgress ?? (() => {});
  const total = px * py * pz;
  const planeC = px * py;
  const S = GPUBufferUsage.STORAGE;
  const transient: GPUBuffer[] = [];
  const buffer = (label: string, size: number, usage: GPUBufferUsageFlags) => {
    const b = device.createBuffer({ label, size: Math.max(16, Math.ceil(size / 16) * 16), usage });
    transient.push(b);
    return b;
  };
  try {
    const phases = opts.phases;
    phases?.enter('compile');
    const pipeline = await pipelineFor(device, 'fft_line.wgsl', LINE_BINDINGS, { WG_X: LINE_WG_X, WG_Y: 1 });
    phases?.enter('host');
    const dataBuf = buffer('dvk fft data', 8 * total, S);
    const kBuf = buffer('dvk fft kernel spectrum', 8 * total, S | GPUBufferUsage.COPY_DST);
    const inBuf = buffer('dvk fft real input', 4 * nx * ny * nz, S | GPUBufferUsage.COPY_DST);
    const outBuf = buffer('dvk fft real output', 4 * nx * ny * nz, S | GPUBufferUsage.COPY_SRC);
    const unusedRead = buffer('dvk fft unused (read)', 16, S);
    const unusedWrite = buffer('dvk fft unused (write)', 16, S);
    const staging = buffer('dvk fft readback', 4 * nx * ny * nz, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST);
    const kRows = kernelSpectrumRows(opts, px, py, pz);
    phases?.enter('upload');
    device.queue.writeBuffer(inBuf, 0, opts.volume);
    for (const [row, values] of kRows) device.queue.writeBuffer(kBuf, 8 * px * row, values);
    await settle(phases);

    const encode = (pass: GPUComputePassEncoder, target: GPUBuffer, p: LinePass) => {
      const radices = fftPlan(p.n).radices;
      if (radices.length > 16) throw new GpuError(`FFT length ${p.n} needs more than 16 stages`);
      const raw = new ArrayBuffer(FFT_LINE_PARAMS_BYTES);
      const u = new Uint32Array(raw);
      const a = p.slabA ?? { base: 0, planes: 0, keptLo: 0, keptHi: 0 };
      const b = p.slabB ?? { base: 0, planes: 0, keptLo: 0, keptHi: 0 };
      u.set([p.elemStride, p.strideA, p.countA, p.strideB, p.countB, radices.length, p.inverse ? 1 : 0, p.n, p.mode, 0, nx, ny, rx, ry, rz, 0]);
      new Float32Array(raw, 9 * 4, 1)[0] = p.scale ?? 1;
      u.set([a.base, a.planes, a.keptLo, a.keptHi, b.base, b.planes, b.keptLo, b.keptHi], 16);
      u.set(radices, 24);
      const params = buffer('dvk fft params', FFT_LINE_PARAMS_BYTES, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
      device.queue.writeBuffer(params, 0, raw);
      const aux = p.mode === LINE_MODE.fused ? kBuf : p.mode === LINE_MODE.load ? inBuf : unusedRead;
      const out = p.mode === LINE_MODE.store ? outBuf : unusedWrite;
      pass.setPipeline(pipeline);
      pass.setBindGroup(
        0,
        device.createBindGroup({
          layout: layoutFor(device, LINE_BINDINGS),
          entries: [target, twiddleBuffer(device, p.n), params, aux, out].map((b, binding) => ({ binding, resource: { buffer: b } })),
        }),
      );
      if (p.countA > 0 && p.countB > 0) pass.dispatchWorkgroups(Math.ceil(p.countA / LINE_WG_X), p.countB);
    };
    const xLines = (rows: number, planes: number) => ({ n: px, elemStride: 1, strideA: px, countA: rows, strideB: planeC, countB: planes });
    const yLines = (planes: number) => ({ n: py, elemStride: px, strideA: 1, countA: px, strideB: planeC, countB: planes });
    const zLines = { n: pz, elemStride: planeC, strideA: 1, countA: px, strideB: px, countB: py };

    // kernel spectrum: x on its rows, y on its planes, z everywhere (rows and planes outside are zero)
    const kPlanes = Math.min(pz, 2 * rz + 1);
    const kRowsY = Math.min(py, 2 * ry + 1);
    let enc = device.createCommandEncoder();
    let pass = enc.beginComputePass(phases?.computePass('dvk kernel spectrum'));
    encode(pass, kBuf, { ...xLines(kRowsY, kPlanes), inverse: false, mode: LINE_MODE.plain });
    encode(pass, kBuf, { ...yLines(kPlanes), inverse: false, mode: LINE_MODE.plain });
    encode(pass, kBuf, { ...zLines, inverse: false, mode: LINE_MODE.plain });
    pass.end();
    phases?.enter('kernel');
    device.queue.submit([enc.finish()]);
    await settle(phases);

    for (let s = 0; s < parts.length; s += 2) {
      // slab A -> real part, slab B (if any) -> imaginary part; each slab's input planes start at local plane 0
      const [qa, qb] = [parts[s], parts[s + 1]].map((q) => {
        if (!q) return undefined;
        const zs0 = Math.max(0, q[0] - rz);
        const zs1 = Math.min(nz, q[1] + rz);
        return { base: zs0, planes: zs1 - zs0, keptLo: q[0] - zs0, keptHi: q[1] - zs0 };
      });
      const inPlanes = Math.max(qa!.planes, qb?.planes ?? 0);
      // the kept outputs lie at +r (see kernelSpectrumRows): planes < outPlanes, rows < ny + ry
      const outPlanes = Math.min(pz, inPlanes + rz);
      enc = device.createCommandEncoder();
      pass = enc.beginComputePass(phases?.computePass('dvk fft slab pair'));
      encode(pass, dataBuf, { ...xLines(py, pz), inverse: false, mode: LINE_MODE.load, slabA: qa, slabB: qb });
      encode(pass, dataBuf, { ...yLines(inPlanes), inverse: false, mode: LINE_MODE.plain });
      encode(pass, dataBuf, { ...zLines, inverse: false, mode: LINE_MODE.fused, scale: 1 / total });
      encode(pass, dataBuf, { ...yLines(outPlanes), inverse: true, mode: LINE_MODE.plain });
      encode(pass, dataBuf, { ...xLines(ny, inPlanes), inverse: true, mode: LINE_MODE.store, slabA: qa, slabB: qb });
      pass.end();
      phases?.enter('kernel');
      device.queue.submit([enc.finish()]);
      await settle(phases);
      progress(Math.min(1, (s + 2) / parts.length) * 0.95);
    }
    phases?.enter('readback');
    const values = await readBack(device, outBuf, 4 * nx * ny * nz, staging, device.createCommandEncoder(), (v) => v.slice());
    phases?.enter('host');
    progress(1);
    return { values, method: 'fft', slabs: parts.length, paddedDims: [px, py, pz], fftLayout: 'line' };
  } finally {
    for (const buf of transient) buf.destroy();
  }
}
