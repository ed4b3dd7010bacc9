/**
 * LDM dose on WebGPU (shaders/ldm.wgsl). Oracle: ldmDoseCpu (src/cpu/ldm.ts), same inputs and result.
 */
import ldmSrc from '../../../../shaders/ldm.wgsl?raw';
import { checkLdmOptions, LDM_UNIT_FACTOR, type LdmDoseOptions } from '../cpu/ldm.ts';
import { dispatchGrid2d, type GpuContext } from './device.ts';
import { cachedPerDevice, createBuffer, withGpuErrors } from './resources.ts';
import { packUniform, uniformByteSize, type UniformLayout } from './uniform.ts';
import { awaitGpu } from './wait.ts';
import { type GpuPhaseRecorder, kernelsAlone, settle } from './phases.ts';

/** Host copy of `struct Params` in shaders/ldm.wgsl (checked by test/gpu/uniform.test.ts). */
export const LDM_PARAMS: UniformLayout = {
  struct: 'Params',
  fields: [
    ['count', 'u32'],
    ['densityIsScalar', 'u32'],
    ['scale', 'f32'],
    ['_pad0', 'u32'],
  ],
};

/** Workgroup size of the LDM kernel (override WG). */
export const LDM_WORKGROUP_SIZE = 256;

/** GPU-only knobs of ldmDoseGpu. */
export interface LdmGpuTuning {
  /** Voxels per tile (default: as many as fit one storage binding, <= 128 MiB). Small values exercise tiling. */
  readonly tileVoxels?: number;
  /** Phase timing for benchmarks (./phases.ts); absent: no change. */
  readonly phases?: GpuPhaseRecorder;
}

interface LdmPipeline {
  readonly layout: GPUBindGroupLayout;
  readonly pipeline: GPUComputePipeline;
}

function ldmPipeline(device: GPUDevice): LdmPipeline {
  return cachedPerDevice(device, 'ldm', () => {
    const storage = (binding: number, type: GPUBufferBindingType): GPUBindGroupLayoutEntry => ({
      binding,
      visibility: GPUShaderStage.COMPUTE,
      buffer: { type },
    });
    const layout = device.createBindGroupLayout({
      label: 'ldm',
      entries: [
        { binding: 0, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'uniform' } },
        storage(1, 'read-only-storage'),
        storage(2, 'read-only-storage'),
        storage(3, 'storage'),
      ],
    });
    const pipeline = device.createComputePipeline({
      label: 'ldm',
      layout: device.createPipelineLayout({ bindGroupLayouts: [layout] }),
      compute: {
        module: device.createShaderModule({ label: 'ldm.wgsl', code: ldmSrc }),
        entryPoint: 'main',
        constants: { WG: LDM_WORKGROUP_SIZE },
      },
    });
    return { layout, pipeline };
  });
}

/**
 * LDM absorbed dose per voxel [Gy] on the GPU: D = CF x a / rho x 1e-6 (see ldmDoseCpu for units and source).
 * Computed in f32: with a scalar density the host folds CF x 1e-6 / rho into one f32 factor (<= 1.5 ulp from the
 * f64 oracle after its f32 store); with a density map the kernel divides (WGSL f32 division: 2.5 ulp), so results
 * agree with ldmDoseCpu within 4 ulp (relative 5e-7). Tiled over the voxel array so that no binding exceeds
 * ctx.maxBindingBytes.
 */
export async function ldmDoseGpu(ctx: GpuContext, opts: LdmDoseOptions & LdmGpuTuning): Promise<Float32Array> {
  checkLdmOptions(opts);
  const { device } = ctx;
  const a = opts.activityBqPerMl;
  const n = a.length;
  const out = new Float32Array(n);
  if (n === 0) return out;
  const rho = opts.densityGPerMl;
  const scalar = typeof rho === 'number';
  const tile = Math.max(1, Math.floor(Math.min(n, opts.tileVoxels ?? ctx.maxBindingBytes / 4, ctx.maxBindingBytes / 4)));
  const phases = opts.phases;
  phases?.enter('compile');
  const { layout, pipeline } = ldmPipeline(device);
  phases?.enter('host');

  return withGpuErrors(device, 'LDM dose', async () => {
    const S = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST;
    const params = createBuffer(device, 'ldm params', uniformByteSize(LDM_PARAMS), GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
    const act = createBuffer(device, 'ldm activity', tile * 4, S);
    const den = createBuffer(device, 'ldm density', scalar ? 16 : tile * 4, S);
    const dose = createBuffer(device, 'ldm dose', tile * 4, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC);
    const staging = createBuffer(device, 'ldm readback', tile * 4, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST);
    try {
      const bindGroup = device.createBindGroup({
        layout,
        entries: [
          { binding: 0, resource: { buffer: params } },
          { binding: 1, resource: { buffer: act } },
          { binding: 2, resource: { buffer: den } },
          { binding: 3, resource: { buffer: dose } },
        ],
      });
      const cf = opts.ldmJoulePerGBq;
      const scale = scalar ? (cf * LDM_UNIT_FACTOR) / rho : cf * LDM_UNIT_FACTOR;
      for (let base = 0; base < n; base += tile) {
        const count = Math.min(tile, n - base);
        phases?.enter('upload');
        device.queue.writeBuffer(params, 0, packUniform(LDM_PARAMS, { count, densityIsScalar: scalar ? 1 : 0, scale, _pad0: 0 }));
        device.queue.writeBuffer(act, 0, a, base, count);
        if (!scalar) device.queue.writeBuffer(den, 0, rho, base, count);
        await settle(phases);
        let enc = device.createCommandEncoder();
        const pass = enc.beginComputePass(phases?.computePass('ldm'));
        pass.setPipeline(pipeline);
        pass.setBindGroup(0, bindGroup);
        const [gx, gy] = dispatchGrid2d(Math.ceil(count / LDM_WORKGROUP_SIZE), ctx.maxWorkgroupsPerDimension);
        pass.dispatchWorkgroups(gx, gy);
        pass.end();
        // timed: the kernels alone, then the read-back in its own submission
        enc = await kernelsAlone(device, enc, phases);
        enc.copyBufferToBuffer(dose, 0, staging, 0, count * 4);
        device.queue.submit([enc.finish()]);
        await awaitGpu(staging.mapAsync(GPUMapMode.READ, 0, count * 4));
        out.set(new Float32Array(staging.getMappedRange(0, count * 4)), base);
        staging.unmap();
        phases?.enter('host');
      }
      return out;
    } finally {
      for (const b of [params, act, den, dose, staging]) b.destroy();
    }
  });
}
