/**
 * The territory sum of a multi-territory plan on the GPU: dose = sum_t A_t x map_t written straight into the 3-D dose
 * texture the slice renderer samples (combine.wgsl), so that a slider move uploads a few floats instead of a volume.
 * The maps (Gy/GBq) are uploaded once, in z-slabs that keep each storage binding within the portable 128 MiB.
 * Explicit bind group layout, pipeline cached per device. CPU oracle: combineDoseCpu (territories.ts).
 */
import shaderSource from './combine.wgsl?raw';
import { PORTABLE_MAX_BINDING_BYTES } from '../../../dosimetry-core/src/gpu/device.ts';
import { packUniform, uniformByteSize, type UniformLayout } from '../../../dosimetry-core/src/gpu/uniform.ts';

/** Host layout of combine.wgsl's `Params` (checked against the WGSL in the tests). */
export const COMBINE_PARAMS: UniformLayout = {
  struct: 'Params',
  fields: [
    ['nx', 'u32'], ['ny', 'u32'], ['z0', 'u32'], ['planes', 'u32'], ['territories', 'u32'], ['_pad0', 'u32'], ['_pad1', 'u32'], ['_pad2', 'u32'],
  ],
};

/** Workgroup size of combine.wgsl (override constants WX, WY): 8 x 8 = 64 invocations. */
export const COMBINE_WORKGROUP: readonly [number, number] = [8, 8];

interface Pipeline {
  readonly layout: GPUBindGroupLayout;
  readonly pipeline: GPUComputePipeline;
}
const PIPELINES = new WeakMap<GPUDevice, Pipeline>();

function pipelineFor(device: GPUDevice): Pipeline {
  const had = PIPELINES.get(device);
  if (had) return had;
  const layout = device.createBindGroupLayout({
    label: 'combine bind group layout',
    entries: [
      { binding: 0, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'uniform', minBindingSize: uniformByteSize(COMBINE_PARAMS) } },
      { binding: 1, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'read-only-storage' } },
      { binding: 2, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'read-only-storage' } },
      { binding: 3, visibility: GPUShaderStage.COMPUTE, storageTexture: { access: 'write-only', format: 'r32float', viewDimension: '3d' } },
    ],
  });
  const pipeline = device.createComputePipeline({
    label: 'combine pipeline',
    layout: device.createPipelineLayout({ bindGroupLayouts: [layout] }),
    compute: {
      module: device.createShaderModule({ label: 'combine.wgsl', code: shaderSource }),
      entryPoint: 'main',
      constants: { WX: COMBINE_WORKGROUP[0], WY: COMBINE_WORKGROUP[1] },
    },
  });
  const p = { layout, pipeline };
  PIPELINES.set(device, p);
  return p;
}

/** Options of `createDoseCombinerGpu`. */
export interface DoseCombinerGpuOptions {
  /** Voxel counts of the grid (of the maps and the target texture). */
  readonly dims: readonly [number, number, number];
  /** Dose per GBq of each territory [Gy/GBq], x-fastest, each nx * ny * nz long. */
  readonly terms: readonly Float32Array[];
  /** The dose texture (r32float, 3-D, dims, usage STORAGE_BINDING) that receives the sum [Gy]. */
  readonly target: GPUTexture;
  /** Largest storage binding [bytes]; default min(device limit, 128 MiB). Smaller values force more slabs (tests). */
  readonly maxBindingBytes?: number;
}

/** The territory sum on a device: `combine` submits it; later submissions (the slice render) see its result. */
export interface DoseCombinerGpu {
  /** Writes sum_t weightsGBq[t] x map_t into the target texture (submitted to the queue, not awaited). */
  combine(weightsGBq: readonly number[]): void;
  /** Number of z-slabs the maps were split into. */
  readonly slabs: number;
  destroy(): void;
}

/** Uploads the maps (once) and returns the combiner. Throws when one plane of all maps exceeds a storage binding. */
export function createDoseCombinerGpu(device: GPUDevice, opts: DoseCombinerGpuOptions): DoseCombinerGpu {
  const [nx, ny, nz] = opts.dims;
  const T = opts.terms.length;
  const plane = nx * ny;
  for (const t of opts.terms) {
    if (t.length !== plane * nz) throw new Error(`a territory dose map holds ${t.length} voxels, the grid ${nx}x${ny}x${nz}: all must be on the grid of dose.nii.gz`);
  }
  const maxBinding = opts.maxBindingBytes ?? Math.min(device.limits.maxStorageBufferBindingSize, device.limits.maxBufferSize, PORTABLE_MAX_BINDING_BYTES);
  const perPlane = 4 * plane * Math.max(T, 1);
  if (perPlane > maxBinding) {
    throw new Error(`one plane of the ${T} territory maps (${perPlane} bytes) exceeds this GPU's storage binding (${maxBinding} bytes): use ?backend=cpu`);
  }
  const planesPerSlab = Math.max(1, Math.min(nz, Math.floor(maxBinding / perPlane)));
  const { layout, pipeline } = pipelineFor(device);
  const weights = device.createBuffer({ label: 'territory activities', size: Math.max(16, 4 * T), usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
  const targetView = opts.target.createView({ dimension: '3d' });
  const slabs: Array<{ planes: number; buffers: GPUBuffer[]; group: GPUBindGroup }> = [];
  for (let z0 = 0; z0 < nz; z0 += planesPerSlab) {
    const planes = Math.min(planesPerSlab, nz - z0);
    const slabVoxels = plane * planes;
    const maps = device.createBuffer({ label: `territory maps z${z0}`, size: Math.max(16, 4 * slabVoxels * T), usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
    opts.terms.forEach((t, i) => device.queue.writeBuffer(maps, 4 * slabVoxels * i, t, z0 * plane, slabVoxels));
    const uniform = device.createBuffer({ label: `combine params z${z0}`, size: uniformByteSize(COMBINE_PARAMS), usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    device.queue.writeBuffer(uniform, 0, packUniform(COMBINE_PARAMS, { nx, ny, z0, planes, territories: T, _pad0: 0, _pad1: 0, _pad2: 0 }));
    const group = device.createBindGroup({
      layout,
      entries: [
        { binding: 0, resource: { buffer: uniform } },
        { binding: 1, resource: { buffer: weights } },
        { binding: 2, resource: { buffer: maps } },
        { binding: 3, resource: targetView },
      ],
    });
    slabs.push({ planes, buffers: [maps, uniform], group });
  }
  return {
    slabs: slabs.length,
    combine(weightsGBq: readonly number[]): void {
      if (weightsGBq.length !== T) throw new Error(`${T} territory dose maps but ${weightsGBq.length} activities: give one activity per territory`);
      device.queue.writeBuffer(weights, 0, new Float32Array(weightsGBq));
      const enc = device.createCommandEncoder({ label: 'combine territories' });
      const pass = enc.beginComputePass();
      pass.setPipeline(pipeline);
      for (const s of slabs) {
        pass.setBindGroup(0, s.group);
        pass.dispatchWorkgroups(Math.ceil(nx / COMBINE_WORKGROUP[0]), Math.ceil(ny / COMBINE_WORKGROUP[1]), s.planes);
      }
      pass.end();
      device.queue.submit([enc.finish()]);
    },
    destroy(): void {
      weights.destroy();
      for (const s of slabs) for (const b of s.buffers) b.destroy();
    },
  };
}

/**
 * Reads an r32float 3-D texture back into a Float32Array (x-fastest), for checks against the CPU oracle. The texture
 * needs COPY_SRC usage. `waitFor` lets Node tests route the wait through awaitGpu.
 */
export async function readTexture3d(
  device: GPUDevice,
  texture: GPUTexture,
  dims: readonly [number, number, number],
  waitFor: <T>(p: Promise<T>) => Promise<T> = (p) => p,
): Promise<Float32Array> {
  const [nx, ny, nz] = dims;
  const bytesPerRow = Math.ceil((4 * nx) / 256) * 256;
  const buf = device.createBuffer({ size: bytesPerRow * ny * nz, usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ });
  const enc = device.createCommandEncoder();
  enc.copyTextureToBuffer({ texture }, { buffer: buf, bytesPerRow, rowsPerImage: ny }, [nx, ny, nz]);
  device.queue.submit([enc.finish()]);
  await waitFor(buf.mapAsync(GPUMapMode.READ));
  const src = new Float32Array(buf.getMappedRange());
  const out = new Float32Array(nx * ny * nz);
  const rowFloats = bytesPerRow / 4;
  for (let r = 0; r < ny * nz; r++) out.set(src.subarray(r * rowFloats, r * rowFloats + nx), r * nx);
  buf.unmap();
  buf.destroy();
  return out;
}
