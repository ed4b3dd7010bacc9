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

/** The work a back end is chosen for: `auto` weighs the GPU's start and transfers against it. */
export interface BackendWork {
  readonly method: 'ldm' | 'dvk' | 'mc';
  /** Voxels of the dose grid. */
  readonly voxels: number;
  /** CPU threads the CPU back end's convolution would use (default: what it uses here, fft-workers.ts). */
  readonly cpuThreads?: number;
}

/**
 * Dose-grid voxels per CPU convolution thread from which `auto` runs DVK on a hardware GPU. Measured on an NVIDIA H200
 * with 16 cores (the CPU convolution uses 4 threads), best of 2 in one session: the convolution alone took 384 ms on the
 * CPU and 311 ms on the GPU at 256^3 (16.8 M voxels), 2453 and 1783 ms at 512x512x400 (105 M), while opening the
 * device and the transfers cost the whole `dose` process about 0.25-0.35 s (dvk192: 0.84 s on the CPU, 1.19 s on the
 * GPU; ldm256: 1.32 and 1.65 s). The gain passes that cost near 45 M voxels with 4 threads; fewer CPU threads move the
 * break-even down in proportion.
 */
export const DVK_GPU_MIN_VOXELS_PER_CPU_THREAD = 12_000_000;

/**
 * Why `auto` keeps a job on the CPU next to a hardware adapter (undefined: the GPU is worth it). LDM is one multiply
 * per voxel and its statistics one pass: the images' trip to the GPU and back costs more than the CPU's work at every
 * size measured (H200, in-process LDM + statistics: 150 ms CPU vs 227 ms GPU at 256^3, 1128 vs 1233 ms at
 * 512x512x400). The Monte Carlo always goes to the GPU (1.5 M histories/s on the H200).
 */
export function cpuBetterThanGpu(work: BackendWork, cpuThreads: number): string | undefined {
  if (work.method === 'ldm') {
    return 'LDM and its statistics are one pass over the voxels: moving the images to a GPU and back costs more than the CPU back end takes (measured on an NVIDIA H200); --backend webgpu uses it anyway';
  }
  if (work.method === 'dvk') {
    const min = DVK_GPU_MIN_VOXELS_PER_CPU_THREAD * Math.max(1, cpuThreads);
    if (work.voxels < min) {
      return `a DVK convolution of ${(work.voxels / 1e6).toFixed(1)} M voxels is faster on the CPU back end (${cpuThreads} thread${cpuThreads === 1 ? '' : 's'}) than opening the GPU and moving the images (the GPU pays from about ${(min / 1e6).toFixed(0)} M voxels); --backend webgpu uses it anyway`;
    }
  }
  return undefined;
}

/**
 * 'cpu': the CPU back end. 'webgpu': WebGPU or a GpuError saying why it is unavailable.
 * 'auto': the fastest for this machine and this `work`: WebGPU on a hardware adapter for the Monte Carlo and for DVK on
 * large grids ({@link cpuBetterThanGpu}), else the CPU. A software adapter (lavapipe, SwiftShader: slower than the CPU
 * back end) is used only when asked for with 'webgpu'. In Node the adapter's kind is learnt by a cached child-process
 * probe (gpu/adapter-probe.ts), so that Dawn is never opened in this process, and its native warnings never printed,
 * when it would not be used. `reason` says why the back end was chosen. Without `work` (statistics of dose maps made
 * elsewhere) `auto` takes a hardware adapter.
 */
export async function selectBackend(choice: BackendChoice, work?: BackendWork): Promise<DoseBackend & { readonly reason: string }> {
  if (choice === 'cpu') return { ...cpuBackend, reason: 'asked for with --backend cpu' };
  if (choice === 'auto' && isNode()) {
    const { probeNodeAdapter } = await import('../gpu/adapter-probe.ts');
    const p = probeNodeAdapter();
    if (p.kind === 'none') return { ...cpuBackend, reason: `auto: ${p.reason ?? 'no WebGPU adapter'}` };
    if (p.kind === 'software') {
      return { ...cpuBackend, reason: `auto: the only WebGPU adapter is a software renderer (${p.description}), ${SOFTWARE_ADAPTER_NOT_USED}` };
    }
    if (work) {
      const threads = work.cpuThreads ?? (await import('../convolution/fft-workers.ts')).fftThreadCount();
      const why = cpuBetterThanGpu(work, threads);
      if (why) return { ...cpuBackend, reason: `auto: hardware WebGPU adapter ${p.description} not used: ${why}` };
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
