/**
 * Dose voxel kernels (voxel S values, Gy per Bq s) of 90Y and 166Ho for any voxel size, density and radius, computed
 * from physics by this project:
 *   beta spectrum (./spectrum.ts) -> electron transport in water, dose point kernel (./transport.ts, committed tables
 *   in data/dpk via ./generate-dpk.ts) -> integration over source and target voxels with range scaling for density
 *   (./voxelize.ts) -> content-addressed disk cache (./cache.ts).
 */
import { InputError } from '../errors.ts';
import { JOULE_PER_MEV, type Isotope } from '../units/index.ts';
import { readCachedKernel, writeCachedKernel, defaultCacheDir, type KernelCacheKey } from './cache.ts';
import { absorbedEnergyMeV, dosePointKernel, kernelRangeMm, radialProfile } from './dpk.ts';
import { mevPerDecayToGyPerBqS, targetEnergyMeV } from './voxelize.ts';

export { betaSpectrum, type BetaSpectrum, BETA_EMITTERS } from './spectrum.ts';
export { simulateDosePointKernel, type DosePointKernel, type DpkSimulationOptions, TRANSPORT_VERSION } from './transport.ts';
export { dosePointKernel, absorbedEnergyMeV, kernelRangeMm } from './dpk.ts';
export { targetEnergyMeV } from './voxelize.ts';
export { defaultCacheDir } from './cache.ts';

/** Version of the voxel integration; with the DPK's identity it forms {@link VoxelKernel.generatorVersion}. */
export const VOXEL_INTEGRATION_VERSION = 'voxel-s-1';

/**
 * Default density [g/mL] of {@link voxelKernel}: 1.04, the ICRU soft tissue of the published voxel S value tables
 * (MIRD Pamphlet 17; Lanconelli et al. 2012), so that the kernel compares with them directly. The dose engine passes
 * its own tissue density (1.05 g/mL by default, ../shared/PHYSICS.md).
 */
export const DEFAULT_KERNEL_DENSITY_G_PER_ML = 1.04;

/** Options of {@link voxelKernel}. */
export interface VoxelKernelOptions {
  readonly isotope: Isotope;
  /** Voxel size [mm] along x, y, z (anisotropic allowed). */
  readonly voxelMm: readonly [number, number, number];
  /** Uniform medium density [g/mL] (default {@link DEFAULT_KERNEL_DENSITY_G_PER_ML}). */
  readonly densityGPerMl?: number;
  /** Half-size [voxels] along x, y, z; default: enough to hold the whole beta range at this density. */
  readonly radius?: readonly [number, number, number];
  /** Called while computing, with the fraction done and a message. */
  readonly onProgress?: (fraction: number, message: string) => void;
  /** Cache folder; undefined: $DOSIMETRY_CACHE_DIR or <repo>/.cache/kernels; null: no disk cache (browsers). */
  readonly cacheDir?: string | null;
}

/** A voxel kernel. */
export interface VoxelKernel {
  readonly unit: 'Gy/(Bq*s)';
  /** Half-size [voxels] along x, y, z. */
  readonly radius: [number, number, number];
  /** S values [Gy/(Bq s)], x-fastest over (2rx+1)(2ry+1)(2rz+1); the centre is the source voxel. */
  readonly values: Float32Array;
  /** Σ S x voxel mass: mean energy absorbed per decay within the kernel [MeV]. */
  readonly meanEnergyAbsorbedMeV: number;
  /** Identity of the method and its tables (part of the cache key). */
  readonly generatorVersion: string;
  /** True when the values came from the disk cache. */
  readonly fromCache: boolean;
  /**
   * Things the caller must show the user: a cache file that failed its checksum (or had none, or could not be read) and
   * was therefore not used: the kernel was recomputed and the file rewritten. Empty when nothing happened.
   */
  readonly warnings: readonly string[];
}

function checkOptions(o: VoxelKernelOptions): void {
  if (!Array.isArray(o.voxelMm) || o.voxelMm.length !== 3 || !o.voxelMm.every((v) => Number.isFinite(v) && v > 0)) {
    throw new InputError(`voxel size ${JSON.stringify(o.voxelMm)} is not three positive numbers [mm]: give e.g. [4.42, 4.42, 4.42]`);
  }
  if (o.voxelMm.some((v) => v < 0.05 || v > 100)) {
    throw new InputError(`voxel size ${o.voxelMm.join(' x ')} mm is outside 0.05-100 mm: check the unit (mm)`);
  }
  const rho = o.densityGPerMl;
  if (rho !== undefined && !(Number.isFinite(rho) && rho >= 0.01 && rho <= 25)) {
    throw new InputError(`density ${rho} g/mL is outside 0.01-25 g/mL: give a mass density in g/mL (soft tissue 1.04)`);
  }
  if (o.radius !== undefined && (o.radius.length !== 3 || !o.radius.every((r) => Number.isInteger(r) && r >= 0 && r <= 200))) {
    throw new InputError(`kernel radius ${JSON.stringify(o.radius)} must be three whole numbers of voxels in 0-200`);
  }
}

/**
 * The voxel S value kernel of `isotope` for the given voxel size and density [Gy/(Bq s)].
 * S(o) = E_t(o) / (ρ V): E_t from ./voxelize.ts (MIRD 17 integral of the project's dose point kernel over source
 * and target voxels, density by range scaling). Computed once per content key and cached on disk; a cache file that
 * fails its SHA-256 check is not used: the kernel is recomputed, the file rewritten, and `warnings` says so.
 */
export async function voxelKernel(opts: VoxelKernelOptions): Promise<VoxelKernel> {
  checkOptions(opts);
  const rho = opts.densityGPerMl ?? DEFAULT_KERNEL_DENSITY_G_PER_ML;
  const voxel: [number, number, number] = [opts.voxelMm[0], opts.voxelMm[1], opts.voxelMm[2]];
  const dpk = await dosePointKernel(opts.isotope);
  const waterSides: [number, number, number] = [rho * voxel[0], rho * voxel[1], rho * voxel[2]];
  const rangeMm = kernelRangeMm(dpk);
  const radius: [number, number, number] = opts.radius
    ? [opts.radius[0], opts.radius[1], opts.radius[2]]
    : [0, 1, 2].map((i) => Math.max(1, Math.ceil(rangeMm / waterSides[i]))) as [number, number, number];
  const generatorVersion = `${VOXEL_INTEGRATION_VERSION}/${dpk.generator}; ${dpk.histories} decays, seed ${dpk.seed}`;
  const key: KernelCacheKey = { isotope: opts.isotope, voxelMm: voxel, densityGPerMl: rho, radius, generatorVersion };
  const cacheDir = opts.cacheDir === undefined ? defaultCacheDir() : opts.cacheDir;
  const warnings: string[] = [];
  let invalid: string | undefined;
  if (cacheDir !== null) {
    const read = await readCachedKernel(cacheDir, key);
    if (read.status === 'hit') {
      const hit = read.kernel;
      return { unit: 'Gy/(Bq*s)', radius, values: hit.values, meanEnergyAbsorbedMeV: hit.meanEnergyAbsorbedMeV, generatorVersion, fromCache: true, warnings };
    }
    if (read.status === 'invalid') invalid = `kernel cache file ${read.path} ${read.reason}; it was not used: the kernel was recomputed`;
  }

  const profile = radialProfile(dpk);
  const massG = (rho * voxel[0] * voxel[1] * voxel[2]) / 1000;
  const [rx, ry, rz] = radius;
  const nx = 2 * rx + 1;
  const ny = 2 * ry + 1;
  const nz = 2 * rz + 1;
  const values = new Float32Array(nx * ny * nz);
  const progress = opts.onProgress;
  const total = (rx + 1) * (ry + 1) * (rz + 1);
  let done = 0;
  let lastReport = Date.now();
  for (let k = 0; k <= rz; k++) {
    for (let j = 0; j <= ry; j++) {
      for (let i = 0; i <= rx; i++) {
        const e = targetEnergyMeV(profile, waterSides, [i, j, k]);
        const s = mevPerDecayToGyPerBqS(e, massG);
        // mirror the octant value into every sign combination (the kernel is even in each axis)
        for (const sk of k ? [-k, k] : [0])
          for (const sj of j ? [-j, j] : [0])
            for (const si of i ? [-i, i] : [0]) values[si + rx + nx * (sj + ry + ny * (sk + rz))] = s;
        done++;
      }
      if (progress && Date.now() - lastReport > 250) {
        lastReport = Date.now();
        progress(done / total, `voxel S values ${opts.isotope} ${voxel.join('x')} mm: ${done}/${total} offsets`);
      }
    }
  }
  progress?.(1, `voxel S values ${opts.isotope}: done`);
  // energy check from the stored float32 values, as a user of the kernel sees them
  let sum = 0;
  for (const v of values) sum += v;
  const meanEnergyAbsorbedMeV = (sum * massG * 1e-3) / JOULE_PER_MEV;
  if (cacheDir !== null) {
    // replaces an invalid file atomically (temp file + rename); a folder that cannot be written is a FileError
    await writeCachedKernel(cacheDir, key, { values, meanEnergyAbsorbedMeV });
    if (invalid) warnings.push(`${invalid} and the file rewritten`);
  }
  return { unit: 'Gy/(Bq*s)', radius, values, meanEnergyAbsorbedMeV, generatorVersion, fromCache: false, warnings };
}

/** Energy [MeV per decay] that the project's point kernel of `isotope` absorbs in water (all radii). */
export async function dpkAbsorbedEnergyMeV(isotope: Isotope): Promise<number> {
  return absorbedEnergyMeV(await dosePointKernel(isotope));
}
