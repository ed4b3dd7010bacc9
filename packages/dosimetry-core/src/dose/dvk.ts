/**
 * Dose by dose-voxel-kernel convolution (DVK), with the heterogeneity handling of ../shared/PHYSICS.md:
 *
 *   D_soft = (A~ (*) S_rho_ref)            A~ = a [Bq/mL] x V_voxel [mL] x tau [s]: fully decayed activity [Bq s]
 *   soft tissue (rho >= LUNG_THRESHOLD):  D = D_soft x rho_ref / rho       (density-scaled kernel, first order)
 *   lung / low density (rho < threshold): D = LDM with the voxel's own density (a soft-tissue kernel underestimates
 *                                          lung dose by 60-90 %, Mikell 2015, EJNMMI Phys 2:16)
 *
 * S_rho_ref is the engine's own voxel kernel (src/kernel) at the case's soft-tissue density; without a CT and without
 * a lung structure the density is uniform and D = D_soft exactly. To soft-tissue voxels the energy the LDM factor
 * counts beyond the beta spectrum (166Ho conversion and Auger electrons, see localElectronEnergyMeV) is added in place.
 */
import { betaSpectrum } from '../kernel/spectrum.ts';
import { JOULE_PER_MEV, NUCLIDES, meanLifeS, type Isotope } from '../units/index.ts';
import { voxelVolumeMl } from '../volume/geometry.ts';
import type { DvkRequest } from './backend.ts';
import type { Geometry } from '../volume/geometry.ts';

/**
 * Energy per decay [MeV] that the LDM conversion factor counts beyond the mean beta energy the kernel transports,
 * deposited in the source voxel: E_CF - E_beta, E_CF = CF / (tau x 10^9 Bq/GBq). 166Ho: CF 15.87 J/GBq gives
 * 0.712 MeV per decay against 0.663 MeV of beta kinetic energy in the engine's spectrum: 0.048 MeV of internal
 * conversion and Auger electrons (the 80.6 keV transition is highly converted) whose ranges in tissue are below
 * 0.1 mm, so local deposition is exact at any voxel size; with it the DVK of a large uniform region equals LDM for
 * both nuclides. 90Y: CF and spectrum agree (0.9328 vs 0.9335 MeV); the difference is negative and not applied (0).
 */
export function localElectronEnergyMeV(isotope: Isotope): number {
  const eCfMeV = NUCLIDES[isotope].ldmJoulePerGBq / (meanLifeS(isotope) * 1e9) / JOULE_PER_MEV;
  return Math.max(0, eCfMeV - betaSpectrum(isotope).meanEnergyPerDecayMeV);
}

/** Voxels below this density [g/mL] (lung, air) get local deposition with their own density. */
export const DVK_LUNG_DENSITY_THRESHOLD_G_PER_ML = 0.6;

/** Inputs of the convolution step of DVK (dvkSoftTissueDose). */
export interface DvkConvolutionRequest {
  /** Activity [Bq/mL]; any constant factor (calibration) may be applied to the result instead, dose being linear. */
  readonly activityBqPerMl: Float32Array;
  readonly isotope: Isotope;
  readonly geometry: Geometry;
  /** Density [g/mL] of the soft-tissue kernel. */
  readonly tissueDensityGPerMl: number;
  readonly onProgress?: (message: string) => void;
  /**
   * CPU: convolve on worker threads only, leaving this thread free for other work meanwhile (the pipeline starts the
   * convolution early and brings the structures onto the grid while it runs).
   */
  readonly background?: boolean;
  /** Called once the convolution runs on its own (worker thread or GPU), so that the caller may take this thread. */
  readonly onRunning?: () => void;
  /** Receives what the user must be told (e.g. a kernel cache file that failed its checksum and was recomputed). */
  readonly onWarning?: (message: string) => void;
}

/**
 * D_soft [Gy]: the fully decayed activity convolved with the soft-tissue voxel kernel, on the CPU (FFT on worker
 * threads, convolveCpuAsync) or WebGPU (convolveGpu). Only the support of the activity dilated by the kernel radius
 * is convolved (exact, src/convolution/crop.ts); voxels beyond it get exactly 0.
 */
export async function dvkSoftTissueDose(req: DvkConvolutionRequest, backend: 'cpu' | 'webgpu'): Promise<Float32Array> {
  const { voxelKernel } = await import('../kernel/index.ts');
  const conv = await import('../convolution/index.ts');
  const g = req.geometry;
  const progress = req.onProgress ?? (() => {});
  const kernel = await voxelKernel({
    isotope: req.isotope,
    voxelMm: [g.spacingMm[0], g.spacingMm[1], g.spacingMm[2]],
    densityGPerMl: req.tissueDensityGPerMl,
    onProgress: (f: number, m: string) => progress(`kernel: ${m} (${Math.round(f * 100)} %)`),
  });
  for (const w of kernel.warnings) req.onWarning?.(w);
  // fully decayed activity a [Bq/mL] x V_voxel [mL] x tau [s] convolved with S: the constant V tau goes into the kernel
  // (a few thousand values) instead of the volume
  const f = voxelVolumeMl(g) * meanLifeS(req.isotope);
  const kernelGyPerBqPerMl = kernel.values.map((v) => v * f);
  const opts = { volume: req.activityBqPerMl, dims: [g.dims[0], g.dims[1], g.dims[2]] as [number, number, number], kernel: kernelGyPerBqPerMl, kernelRadius: kernel.radius };
  if (backend === 'webgpu') {
    const running = conv.convolveGpu(opts);
    req.onRunning?.();
    return running;
  }
  // CPU: the z-streamed FFT convolution split over worker threads (same bits as one thread)
  return (await import('../convolution/fft-workers.ts')).convolveCpuAsync(opts, { background: req.background === true, onRunning: req.onRunning });
}

/** Inputs of the heterogeneity step of DVK (dvkHeterogeneity). */
export interface DvkHeterogeneityRequest {
  /** Activity [Bq/mL] at implant time (calibrated). */
  readonly activityBqPerMl: Float32Array;
  readonly densityGPerMl: number | Float32Array;
  readonly isotope: Isotope;
  readonly geometry: Geometry;
  readonly tissueDensityGPerMl: number;
  /** Factor from the activity the soft-tissue dose was convolved from to `activityBqPerMl` (1 when the same). */
  readonly softDoseScale: number;
}

/**
 * The heterogeneity rule of the module comment applied in place to D_soft (times softDoseScale): soft tissue
 * D_soft x rho_ref / rho plus the local electrons, lung and air (rho < threshold) LDM with their own density.
 * @returns the same array, now the dose [Gy].
 */
export function dvkHeterogeneity(softGy: Float32Array, req: DvkHeterogeneityRequest): Float32Array {
  const dose = softGy;
  const g = req.geometry;
  const vMl = voxelVolumeMl(g);
  const tauS = meanLifeS(req.isotope);
  const s = req.softDoseScale;
  const rho = req.densityGPerMl;
  const a = req.activityBqPerMl;
  // short-range electrons beyond the beta spectrum, in the source voxel: D = a V tau dE / (rho V) [Gy]
  const localJ = localElectronEnergyMeV(req.isotope) * JOULE_PER_MEV;
  if (typeof rho === 'number') {
    const f = (s * req.tissueDensityGPerMl) / rho;
    const localGyPerBqPerMl = (vMl * tauS * localJ) / ((rho * vMl) / 1000);
    if (f !== 1 || localGyPerBqPerMl > 0) for (let n = 0; n < dose.length; n++) dose[n] = dose[n] * f + a[n] * localGyPerBqPerMl;
    return dose;
  }
  const cf = NUCLIDES[req.isotope].ldmJoulePerGBq;
  for (let n = 0; n < dose.length; n++) {
    const r = rho[n];
    if (r >= DVK_LUNG_DENSITY_THRESHOLD_G_PER_ML) dose[n] = dose[n] * ((s * req.tissueDensityGPerMl) / r) + (a[n] * vMl * tauS * localJ) / ((r * vMl) / 1000);
    else dose[n] = r > 0 ? (cf * a[n] * 1e-6) / r : 0;
  }
  return dose;
}

/**
 * DVK dose [Gy] of one case on the CPU or WebGPU back end: dvkSoftTissueDose then dvkHeterogeneity.
 * @param req activity [Bq/mL] at implant time, density [g/mL] (uniform number or per voxel), grid, isotope and the
 *   soft-tissue density [g/mL] of the kernel.
 * @returns dose [Gy] per voxel, x-fastest, same grid as the activity.
 */
export async function dvkDose(req: DvkRequest, backend: 'cpu' | 'webgpu'): Promise<Float32Array> {
  const soft = await dvkSoftTissueDose(req, backend);
  return dvkHeterogeneity(soft, { ...req, softDoseScale: 1 });
}
