/**
 * What the WebGPU convolution paths share (./gpu.ts): per-device caches of bind group layouts, pipelines and twiddle
 * buffers, the binding kinds of each kernel, z slabs and their read-back, phase marks for benchmarks, and the FFT
 * plan (padded lengths, slabs, the kernel's shifted rows).
 */
import { GpuError } from '../errors.ts';
import { fftPlan, nextFastLength } from './fft.ts';
import { loadShader } from './shaders.ts';
import { awaitGpu } from '../gpu/wait.ts';
import type { UniformLayout } from '../gpu/uniform.ts';
import type { GpuConvolutionOptions, GpuTarget } from './gpu.ts';

export interface Cache {
  layouts: Map<string, GPUBindGroupLayout>;
  pipelines: Map<string, Promise<GPUComputePipeline>>;
  twiddles: Map<number, GPUBuffer>;
}
export const caches = new WeakMap<GPUDevice, Cache>();

export function cacheFor(device: GPUDevice): Cache {
  let c = caches.get(device);
  if (!c) {
    c = { layouts: new Map(), pipelines: new Map(), twiddles: new Map() };
    caches.set(device, c);
  }
  return c;
}

export type BindingKind = 'read' | 'rw' | 'uniform';

export function layoutFor(device: GPUDevice, kinds: readonly BindingKind[]): GPUBindGroupLayout {
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

export const DIRECT_BINDINGS: BindingKind[] = ['read', 'read', 'rw', 'uniform'];
export const FFT_BINDINGS: BindingKind[] = ['rw', 'read', 'uniform'];
export const MUL_BINDINGS: BindingKind[] = ['rw', 'read', 'uniform'];
export const PACK_BINDINGS: BindingKind[] = ['rw', 'read', 'uniform'];
export const UNPACK_BINDINGS: BindingKind[] = ['read', 'rw', 'uniform'];
/** Workgroup size of fft_pack.wgsl and fft_unpack.wgsl (override WG). */
export const PACK_WG = 256;

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

export function pipelineFor(
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

export function twiddleBuffer(device: GPUDevice, n: number): GPUBuffer {
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
export function grid(groups: number): [number, number] {
  const gx = Math.min(groups, 65535);
  return [gx, Math.ceil(groups / gx)];
}

export function resolveDevice(target: GpuTarget): GPUDevice {
  return 'queue' in target ? target : target.device;
}

/** Output-plane slabs [z0, z1) of at most h planes. */
export function slabs(nz: number, h: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let z0 = 0; z0 < nz; z0 += h) out.push([z0, Math.min(nz, z0 + h)]);
  return out;
}

/**
 * Submits `encoder` with a copy of `bytes` of `src` into `staging`, waits (awaitGpu: without spinning the JS thread,
 * which on a software adapter would take a core from the shader threads), and hands the mapped float32 values to
 * `use` (no copy).
 */
export async function readBack<T>(
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

/** Largest FFT line the workgroup-memory transform holds: 2 ping-pong buffers of N vec2f in 32 KiB. */
export function maxFftLine(device: GPUDevice): number {
  return Math.floor(device.limits.maxComputeWorkgroupStorageSize / 16);
}

export interface AxisPass {
  /** line length (padded axis) */
  n: number;
  elemStride: number;
  strideA: number;
  countA: number;
  strideB: number;
  countB: number;
}

/** Slab plan of the FFT path: padded lengths, slab height and the output-plane slabs. */
export interface FftSlabPlan {
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
export function planFftSlabs(opts: GpuConvolutionOptions, maxBinding: number, maxLine: number): FftSlabPlan | { error: string } {
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
export function kernelSpectrumRows(opts: GpuConvolutionOptions, px: number, py: number, pz: number): Map<number, Float32Array> {
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

/**
 * Buffers made for one call and destroyed at its end (`for (const b of transient) b.destroy()` in a finally): sizes
 * rounded up to 16 bytes (at least 16), as storage and uniform bindings want.
 */
export function transientBuffers(device: GPUDevice): { transient: GPUBuffer[]; buffer: (label: string, size: number, usage: GPUBufferUsageFlags) => GPUBuffer } {
  const transient: GPUBuffer[] = [];
  const buffer = (label: string, size: number, usage: GPUBufferUsageFlags) => {
    const b = device.createBuffer({ label, size: Math.max(16, Math.ceil(size / 16) * 16), usage });
    transient.push(b);
    return b;
  };
  return { transient, buffer };
}
