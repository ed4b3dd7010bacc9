/**
 * Per-structure dose statistics on the CPU (f64 accumulation): the back end and the oracle of structureStatsGpu
 * (src/gpu/stats.ts, shaders/stats_sums.wgsl + shaders/stats_hist.wgsl).
 */
import { InputError } from '../errors.ts';
import type { GridStructure } from '../volume/structure.ts';
import { DEFAULT_DVH_BINS, dvhBinIndex, dvhRange, dvhSummary, quantiseDvhWeight } from './dvh.ts';

/** Dose thresholds of the reported V-values [Gy] (V100, V150, V205; EANM 2022 targets, ../shared/PHYSICS.md). */
export const V_THRESHOLDS_GY = [100, 150, 205] as const;

/** Inputs of the structure statistics, shared by structureStatsCpu and structureStatsGpu. */
export interface StructureStatsOptions {
  /** Absorbed dose per voxel [Gy] on the activity grid. */
  readonly doseGy: Float32Array;
  /** Activity concentration per voxel [Bq/mL] on the same grid (implant time). */
  readonly activityBqPerMl: Float32Array;
  /** Density [g/mL]: one value, or one per voxel. Densities <= 0 (air) count as 0 g. */
  readonly densityGPerMl: number | Float32Array;
  /** Volume of one voxel [mL]. */
  readonly voxelVolumeMl: number;
  /**
   * Structures on the same grid (sparse ascending voxel indices + occupancy weights in (0, 1]); those with
   * `partMassGPerMl` (the mass of their own part of each voxel, from a CT) take their mass from it.
   */
  readonly structures: readonly GridStructure[];
  /** DVH histogram bins (default 2000). */
  readonly dvhBins?: number;
}

/**
 * Dose statistics of one structure. Voxels enter with their occupancy w (weights <= 0 are ignored).
 * Volume-based quantities (volume, V-values, DVH, Dx) weight voxels by w x Vvox; the mean dose is mass-weighted
 * (mean absorbed dose = energy / mass, MIRD): mean = sum(m D) / sum(m), with m the mass of the structure's part of the
 * voxel: m = w rho Vvox (rho the voxel's density), or partMassGPerMl x Vvox when the structure gives it (a CT's
 * density over the structure's own part of the voxel; LDM's dose is uniform over the voxel, so that part's energy is
 * m D).
 * Empty structures (no voxel with w > 0) give 0 for sums and counts and NaN for doses.
 */
export interface StructureDoseStats {
  /** Voxels with w > 0. */
  readonly voxelCount: number;
  /** sum w Vvox [mL]. */
  readonly volumeMl: number;
  /** sum w max(rho, 0) Vvox [g], or sum partMassGPerMl Vvox when the structure gives it. */
  readonly massG: number;
  /** sum w a Vvox [Bq] (negative voxels included). */
  readonly activityBq: number;
  /** Mass-weighted mean dose [Gy]; NaN when the mass is 0. */
  readonly meanGy: number;
  /** Least and greatest voxel dose over voxels with w > 0 [Gy]. */
  readonly minGy: number;
  readonly maxGy: number;
  /** Dx [Gy]: x % of the volume receives at least this dose (from the histogram DVH, see dvhSummary). */
  readonly d50Gy: number;
  readonly d70Gy: number;
  readonly d90Gy: number;
  readonly d98Gy: number;
  /** Fraction of the volume (sum of w) with dose >= 100, 150, 205 Gy, exact over voxels (not from the histogram). */
  readonly v100: number;
  readonly v150: number;
  readonly v205: number;
  /** Voxels with w > 0 and negative activity (image noise; kept in every sum). */
  readonly negativeVoxelCount: number;
  /** Cumulative DVH, <= 200 points: volumeFraction[i] of the volume receives >= doseGy[i]. */
  readonly dvh: { doseGy: number[]; volumeFraction: number[] };
}

/** Raw sums of one structure (before multiplying by Vvox), as both back ends produce them. */
export interface StructureSums {
  /** sum w */
  weight: number;
  /** sum m, m = w max(rho, 0) or the structure's partMassGPerMl */
  mass: number;
  /** sum w a */
  activity: number;
  /** sum m D */
  energy: number;
  /** sum w over D >= 100, 150, 205 Gy */
  vWeight: [number, number, number];
  negativeCount: number;
  voxelCount: number;
  minGy: number;
  maxGy: number;
}

/** Checks the statistics inputs (same on both back ends); returns the number of DVH bins. */
export function checkStatsOptions(opts: StructureStatsOptions): number {
  const n = opts.doseGy.length;
  if (opts.activityBqPerMl.length !== n) {
    throw new InputError(`the dose map has ${n} voxels but the activity map ${opts.activityBqPerMl.length}: both must be on the activity grid`);
  }
  const rho = opts.densityGPerMl;
  if (typeof rho === 'number') {
    if (!Number.isFinite(rho) || rho <= 0) throw new InputError(`density ${rho} g/mL is not positive: give a tissue density such as 1.05 g/mL`);
  } else if (rho.length !== n) {
    throw new InputError(`the density map has ${rho.length} voxels but the dose map ${n}: resample the densities onto the activity grid`);
  }
  if (!Number.isFinite(opts.voxelVolumeMl) || opts.voxelVolumeMl <= 0) {
    throw new InputError(`voxel volume ${opts.voxelVolumeMl} mL is not positive: check the grid spacing`);
  }
  const bins = opts.dvhBins ?? DEFAULT_DVH_BINS;
  if (!Number.isInteger(bins) || bins < 2 || bins > 1_000_000) {
    throw new InputError(`DVH bins ${bins} is not an integer in [2, 1000000]: use e.g. 2000`);
  }
  for (const s of opts.structures) {
    const idx = s.voxelIndices;
    // a structure checked against a grid of this size before, with the same arrays, needs no second pass (the Monte
    // Carlo's batch statistics call this with the same structures dozens of times)
    const seen = checkedStructures.get(s);
    if (seen && seen.n === n && seen.idx === idx && seen.weights === s.weights && seen.part === s.partMassGPerMl) continue;
    if (idx.length !== s.weights.length) {
      throw new InputError(`structure "${s.name}" has ${idx.length} voxel indices but ${s.weights.length} weights: rebuild it with maskToGrid`);
    }
    if (s.partMassGPerMl && s.partMassGPerMl.length !== idx.length) {
      throw new InputError(`structure "${s.name}" has ${idx.length} voxel indices but ${s.partMassGPerMl.length} part masses: rebuild it with maskToGrid`);
    }
    for (let k = 0; k < idx.length; k++) {
      if (idx[k] >= n || (k > 0 && idx[k] <= idx[k - 1])) {
        throw new InputError(
          `structure "${s.name}" voxel index ${idx[k]} (entry ${k}) is ${idx[k] >= n ? `outside the grid of ${n} voxels` : 'not ascending'}: rebuild it on this grid with maskToGrid`,
        );
      }
    }
    checkedStructures.set(s, { n, idx, weights: s.weights, part: s.partMassGPerMl });
  }
  return bins;
}

/** Structures that passed checkStatsOptions, with the grid size and the very arrays that were checked. */
const checkedStructures = new WeakMap<GridStructure, { n: number; idx: Uint32Array; weights: Float32Array; part: Float32Array | undefined }>();

/** Statistics from raw sums and a DVH histogram (shared final step of both back ends). */
export function finishStructureStats(
  sums: StructureSums,
  histogram: ArrayLike<number>,
  voxelVolumeMl: number,
  nBins: number,
): StructureDoseStats {
  const empty = sums.voxelCount === 0;
  const summary = dvhSummary(histogram, dvhRange(sums.minGy, sums.maxGy, nBins));
  const frac = (x: number) => (sums.weight > 0 ? x / sums.weight : 0);
  return {
    voxelCount: sums.voxelCount,
    volumeMl: sums.weight * voxelVolumeMl,
    massG: sums.mass * voxelVolumeMl,
    activityBq: sums.activity * voxelVolumeMl,
    meanGy: sums.mass > 0 ? sums.energy / sums.mass : NaN,
    minGy: empty ? NaN : sums.minGy,
    maxGy: empty ? NaN : sums.maxGy,
    d50Gy: summary.d50Gy,
    d70Gy: summary.d70Gy,
    d90Gy: summary.d90Gy,
    d98Gy: summary.d98Gy,
    v100: frac(sums.vWeight[0]),
    v150: frac(sums.vWeight[1]),
    v205: frac(sums.vWeight[2]),
    negativeVoxelCount: sums.negativeCount,
    dvh: summary.dvh,
  };
}

/** Throws when a structure holds a non-finite dose (the GPU path checks the same through its min/max). */
export function checkFiniteDoseRange(name: string, minGy: number, maxGy: number): void {
  if (Number.isNaN(minGy) || Number.isNaN(maxGy) || !Number.isFinite(minGy) || !Number.isFinite(maxGy)) {
    throw new InputError(`structure "${name}" holds a non-finite dose (range ${minGy} .. ${maxGy} Gy): check the activity and density maps for NaN or infinity`);
  }
}

/**
 * Per-structure dose statistics on the CPU, accumulated in f64 (see StructureDoseStats for the definitions).
 * The DVH uses the quantised weights and f32 bin index of dvh.ts, like the GPU, so the histograms agree exactly.
 */
export function structureStatsCpu(opts: StructureStatsOptions): StructureDoseStats[] {
  const nBins = checkStatsOptions(opts);
  const { doseGy: dose, activityBqPerMl: act, densityGPerMl: rho } = opts;
  const scalarRho = typeof rho === 'number' ? Math.max(rho, 0) : 0;
  return opts.structures.map((s) => {
    const idx = s.voxelIndices;
    const wts = s.weights;
    const part = s.partMassGPerMl;
    const sums: StructureSums = {
      weight: 0, mass: 0, activity: 0, energy: 0, vWeight: [0, 0, 0], negativeCount: 0, voxelCount: 0,
      minGy: Infinity, maxGy: -Infinity,
    };
    let nanDose = false;
    for (let k = 0; k < idx.length; k++) {
      const w = wts[k];
      if (!(w > 0)) continue;
      const i = idx[k];
      const d = dose[i];
      const a = act[i];
      const m = part ? Math.max(part[k], 0) : w * (typeof rho === 'number' ? scalarRho : Math.max(rho[i], 0));
      sums.weight += w;
      sums.mass += m;
      sums.activity += w * a;
      sums.energy += m * d;
      if (d >= V_THRESHOLDS_GY[0]) sums.vWeight[0] += w;
      if (d >= V_THRESHOLDS_GY[1]) sums.vWeight[1] += w;
      if (d >= V_THRESHOLDS_GY[2]) sums.vWeight[2] += w;
      if (a < 0) sums.negativeCount++;
      sums.voxelCount++;
      if (d < sums.minGy) sums.minGy = d;
      if (d > sums.maxGy) sums.maxGy = d;
      if (d !== d) nanDose = true;
    }
    if (sums.voxelCount > 0) checkFiniteDoseRange(s.name, nanDose ? NaN : sums.minGy, sums.maxGy);
    const hist = new Float64Array(nBins);
    if (sums.voxelCount > 0) {
      const range = dvhRange(sums.minGy, sums.maxGy, nBins);
      for (let k = 0; k < idx.length; k++) {
        const w = wts[k];
        if (!(w > 0)) continue;
        hist[dvhBinIndex(dose[idx[k]], range)] += quantiseDvhWeight(w);
      }
    }
    return finishStructureStats(sums, hist, opts.voxelVolumeMl, nBins);
  });
}
