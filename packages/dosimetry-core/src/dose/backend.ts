/**
 * Back-end selection. A back end does the voxel work (LDM, DVK convolution, structure statistics) on the CPU
 * (plain TypeScript, f64 accumulation; also the test oracle) or on WebGPU, with the same inputs and results.
 */
import type { DvkConvolutionRequest } from './dvk.ts';
import { GpuError, InputError } from '../errors.ts';
import type { Isotope } from '../units/index.ts';
import type { Geometry } from '../volume/geometry.ts';
import type { GridStructure } from '../volume/structure.ts';
import type { StructureDoseStats } from '../stats/index.ts';
import { ldmDoseCpu } from '../cpu/ldm.ts';
import { structureStatsCpu } from '../stats/index.ts';

/** Back end asked for on the command line (--backend). */
export type BackendChoice = 'auto' | 'webgpu' | 'cpu';

/** Parses --backend; throws InputError for anything but auto, webgpu, cpu. */
export function parseBackend(text: string): BackendChoice {
  if (text === 'auto' || text === 'webgpu' || text === 'cpu') return text;
  throw new InputError(`unknown back end "${text}": use auto, webgpu or cpu`);
}

/** LDM inputs: activity [Bq/mL], density [g/mL], CF [J/GBq] (PHYSICS.md). */
export interface LdmRequest {
  readonly activityBqPerMl: Float32Array;
  readonly densityGPerMl: number | Float32Array;
  readonly ldmJoulePerGBq: number;
}

/** DVK inputs (src/dose/dvk.ts): activity [Bq/mL], density [g/mL], isotope, grid, kernel density [g/mL]. */
export interface DvkRequest {
  readonly activityBqPerMl: Float32Array;
  readonly densityGPerMl: number | Float32Array;
  readonly isotope: Isotope;
  readonly geometry: Geometry;
  readonly tissueDensityGPerMl: number;
  readonly onProgress?: (message: string) => void;
}

/** Structure statistics inputs: dose [Gy], activity [Bq/mL], density [g/mL], voxel volume [mL], structures. */
export interface StatsRequest {
  readonly doseGy: Float32Array;
  readonly activityBqPerMl: Float32Array;
  readonly densityGPerMl: number | Float32Array;
  readonly voxelVolumeMl: number;
  readonly structures: readonly GridStructure[];
  readonly dvhBins?: number;
}

/** One back end: LDM, DVK and statistics with the same inputs and results on CPU or WebGPU. */
export interface DoseBackend {
  readonly name: 'webgpu' | 'cpu';
  ldm(req: LdmRequest): Promise<Float32Array>;
  dvk(req: DvkRequest): Promise<Float32Array>;
  /** The convolution step of DVK alone (soft-tissue dose; see dvk.ts), so that the pipeline can start it early. */
  dvkSoftTissue(req: DvkConvolutionRequest): Promise<Float32Array>;
  stats(req: StatsRequest): Promise<StructureDoseStats[]>;
}

const cpuBackend: DoseBackend = {
  name: 'cpu',
  ldm: async (req) => ldmDoseCpu(req),
  dvk: async (req) => (await import('./dvk.ts')).dvkDose(req, 'cpu'),
  dvkSoftTissue: async (req) => (await import('./dvk.ts')).dvkSoftTissueDose(req, 'cpu'),
  stats: async (req) => structureStatsCpu(req),
};

/** Why `auto` leaves a software adapter unused (the end of the back-end reason; the pipeline words it for the MC). */
export const SOFTWARE_ADAPTER_NOT_USED = 'slower than the CPU back end; --backend webgpu uses it anyway';

const isNode = () => typeof process !== 'undefined' && typeof process.versions?.node === 'string';

/**
 * 'cpu': the CPU back end. 'webgpu': WebGPU or a GpuError saying why it is unavailable.
 * 'auto': the fastest for this machine: WebGPU on a hardware adapter, else the CPU. A software adapter (lavapipe,
 * SwiftShader: slower than the CPU back end) is used only when asked for with 'webgpu'. In Node the adapter's kind is
 * learnt by a cached child-process probe (gpu/adapter-probe.ts), so that Dawn is never opened in this process, and
 * its native warnings never printed, when it would not be used. `reason` says why the back end was chosen.
 */
export async function selectBackend(choice: BackendChoice): Promise<DoseBackend & { readonly reason: string }> {
  if (choice === 'cpu') return { ...cpuBackend, reason: 'asked for with --backend cpu' };
  if (choice === 'auto' && isNode()) {
    const { probeNodeAdapter } = await import('../gpu/adapter-probe.ts');
    const p = probeNodeAdapter();
    if (p.kind === 'none') return { ...cpuBackend, reason: `auto: ${p.reason ?? 'no WebGPU adapter'}` };
    if (p.kind === 'software') {
      return { ...cpuBackend, reason: `auto: the only WebGPU adapter is a software renderer (${p.description}), ${SOFTWARE_ADAPTER_NOT_USED}` };
    }
  }
  const gpu = await import('../gpu/index.ts');
  const ctx = await gpu.acquireGpu();
  if (!ctx) {
    if (choice === 'webgpu') {
      throw new GpuError(`--backend webgpu was asked for but no WebGPU adapter is available (${gpu.gpuUnavailableReason()}); use --backend cpu or auto`);
    }
    return { ...cpuBackend, reason: `auto: ${gpu.gpuUnavailableReason()}` };
  }
  if (choice === 'auto' && gpu.isSoftwareAdapter(ctx.device)) {
    return { ...cpuBackend, reason: `auto: the only WebGPU adapter is a software renderer (${ctx.adapterDescription}), ${SOFTWARE_ADAPTER_NOT_USED}` };
  }
  return {
    name: 'webgpu',
    reason: choice === 'webgpu' ? `asked for with --backend webgpu, on ${ctx.adapterDescription || 'the WebGPU adapter'}` : `auto: hardware WebGPU adapter ${ctx.adapterDescription}`,
    ldm: (req) => gpu.ldmDoseGpu(ctx, req),
    dvk: async (req) => (await import('./dvk.ts')).dvkDose(req, 'webgpu'),
    dvkSoftTissue: async (req) => (await import('./dvk.ts')).dvkSoftTissueDose(req, 'webgpu'),
    stats: (req) => gpu.structureStatsGpu(ctx, req),
  };
}
