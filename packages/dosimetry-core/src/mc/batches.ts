/**
 * Monte Carlo dose: the batches on a built problem (./run.ts builds it and is the entry point). Runs the histories in
 * batches on a transport back end (./transport-cpu.ts or ./transport-gpu.ts, both behind McTransport of ./types.ts),
 * turns the tallies into dose, and estimates the statistical uncertainty of the dose map and of every reported
 * structure statistic by the batch method.
 *
 * Dose. A batch of n histories tallies E_v [units of tallyUnitMeV] per voxel. With N histories in all and
 * D_decays = sum_v max(a_v, 0) V_vox tau decays in the field (a_v [Bq/mL] at implant time, tau the mean life, the
 * activity decaying in place as for LDM):
 *   D_v = E_v x tallyUnitMeV x 1.602176634e-13 J/MeV x (D_decays / N) / (rho_v x V_vox [mL] x 1e-3 kg/g).
 * These are the constants of LDM (src/units, src/cpu/ldm.ts): a transport that deposits every decay's energy where it
 * decays (energy per decay = CF / (tau x 1 GBq x 1.602e-13)) gives the LDM dose.
 *
 * Uncertainty: the batch method (batch means; e.g. Walters, Kawrakow and Rogers 2002, Med Phys 29:2745, who compare it
 * with the history-by-history method). History-by-history is not possible here: the back ends add the deposits of
 * all histories of a batch into one shared integer tally (atomics on the GPU), so a voxel's per-history sums are never
 * seen. With batches b of n_b histories and x_b = E_b / n_b (energy per history), N = sum n_b, B batches:
 *   x = sum n_b x_b / N (= the whole run's tally per history), s^2(x) = sum n_b (x_b - x)^2 / ((B - 1) N),
 * which for equal batches is the familiar std(x_b) / sqrt(B). At least 10 batches are run (B - 1 >= 9 degrees of
 * freedom; the relative error of an uncertainty estimate is about 1 / sqrt(2 (B - 1)), 24 % at B = 10). Per voxel:
 * relStdErr_v = s(x_v) / x_v, 0 where the dose is 0. Per structure: every statistic the report gives (mean, min,
 * max, D50..D98, V100..V205) has a standard error: the mean's by the formula above on each batch's map (exact: the mean
 * is linear in the tally); the nonlinear statistics' (Dx, Vx, min, max) by the delete-a-batch jackknife
 * (jackknifeStdErr): the statistic of the whole run less one batch, for each batch. A single batch's map is far
 * noisier than the reported one (a sparsely hit structure's D50 barely moves between batches), so the spread of batch
 * statistics can understate their scatter many times over; the leave-one-out maps are nearly as smooth as the
 * reported map. Extremes (min, max) remain the least reliable.
 */
import { InputError } from '../errors.ts';
import { JOULE_PER_MEV, KG_PER_G, type Isotope, meanLifeS } from '../units/index.ts';
import type { GridStructure } from '../volume/structure.ts';
import { structureStatsCpu, type StructureDoseStats, type StructureStatsOptions } from '../stats/index.ts';
import type { McBatchResult, McProblem, McTransport } from './types.ts';
import { buildBiasedSource, type SourceBiasing } from './source.ts';

/** Histories of `--method mc` when neither --mc-histories nor --mc-target-uncertainty is given. */
export const DEFAULT_MC_HISTORIES = 1_000_000;
/** Batches of a run of a fixed number of histories (the least the batch method is run with). */
export const DEFAULT_MC_BATCHES = 10;
/** Cap on the histories of a run driven by a target uncertainty (--mc-max-histories). */
export const DEFAULT_MC_MAX_HISTORIES = 1_000_000_000;
/** Histories of the pilot batches of a target-uncertainty run (10 batches). */
export const MC_PILOT_HISTORIES = 10_000;
/** Structures smaller than this are not waited for by --mc-target-uncertainty [mL] (issue 13). */
export const MC_TARGET_MIN_VOLUME_ML = 10;
/**
 * Structures whose mean dose is below this share of the largest structure mean are not waited for by
 * --mc-target-uncertainty: one that sees only photons (bremsstrahlung, 166Ho's gamma) would keep the run going for
 * ever at a dose that does not matter.
 */
export const MC_TARGET_MIN_DOSE_SHARE = 0.01;
/** Finest tally unit [MeV] (1 eV): a deposit is rounded by at most 0.5 eV, far below any step's energy loss. */
export const MC_FINEST_TALLY_UNIT_MEV = 1e-6;
/**
 * Batch tallies kept for the structure statistics beyond this count are merged pairwise (a memory bound: f32 over the
 * structures' voxels, at most 32 of them; merged neighbours are a valid batch of their summed histories, and at least
 * 16 remain).
 */
const MAX_KEPT_BATCHES = 32;

/** The statistics of a structure whose standard error is reported (those of StructureDoseStats that are doses or fractions). */
export const MC_STRUCTURE_STATISTICS = ['meanGy', 'minGy', 'maxGy', 'd50Gy', 'd70Gy', 'd90Gy', 'd98Gy', 'v100', 'v150', 'v205'] as const;
export type McStructureStatistic = (typeof MC_STRUCTURE_STATISTICS)[number];

/** Statistical uncertainty of one structure. */
export interface McStructureUncertainty {
  /** Relative standard error of the mean dose (0..): stdErr.meanGy / meanGy; 0 where the mean is 0. */
  readonly meanGyRelStdErr: number;
  /** Standard error of each statistic, in its own unit (Gy for doses, fraction of the volume for V-values). */
  readonly stdErr: Readonly<Record<McStructureStatistic, number>>;
}

/** How the histories are chosen: a fixed number, or until a target relative standard error. */
export type McHistoryPlan =
  | { readonly kind: 'histories'; readonly histories: number; readonly batches?: number }
  | { readonly kind: 'target'; readonly relStdErr: number; readonly maxHistories?: number; readonly pilotHistories?: number };

/** A structure as the driver sees it (the pipeline's GridStructure; name used in messages). */
export type McStructure = GridStructure;

/** Options of the driver on a problem that is already built. */
export interface McDriverOptions {
  readonly problem: McProblem;
  readonly transport: McTransport;
  readonly seed: number;
  readonly plan: McHistoryPlan;
  /**
   * Index of the run's first history (default 0): the run simulates histories historyOffset, historyOffset + 1, ...
   * of the seed's Philox stream. Runs that are to be independent under one seed take disjoint ranges (plan
   * --territories: territory t starts at t x {@link MC_TERRITORY_HISTORY_STRIDE}).
   */
  readonly historyOffset?: number;
  /** Decays in the field over the whole time (activity at implant x mean life) [decays]. */
  readonly decays: number;
  /** Density per voxel [g/mL] (the mass of each voxel; voxels with rho <= 0 get 0 Gy), or one value. */
  readonly densityGPerMl: number | Float32Array;
  /** Voxel volume [mL]. */
  readonly voxelVolumeMl: number;
  /** Activity [Bq/mL] at implant (for the structure statistics' activity sums only). */
  readonly activityBqPerMl: Float32Array;
  /** Structures whose statistics get a standard error (and which a target uncertainty waits for). */
  readonly structures?: readonly McStructure[];
  /** Voxels whose density is below this get 0 Gy (the pipeline's air rule with a CT) [g/mL]. */
  readonly zeroDoseBelowDensityGPerMl?: number;
  /** Statistics of dose maps (the back end's; default structureStatsCpu). */
  readonly stats?: (req: StructureStatsOptions) => Promise<StructureDoseStats[]> | StructureDoseStats[];
  readonly dvhBins?: number;
  /** Progress lines (histories done/total, histories/s, time left). */
  readonly onProgress?: (message: string) => void;
  /** Clock [ms] (tests); default performance.now. */
  readonly nowMs?: () => number;
  /**
   * Target mode only: bias the source towards the structures the target waits for by volume (./source.ts
   * buildBiasedSource; unbiased importance sampling). Default true; false (tests) keeps the analog source. Runs with
   * a fixed number of histories are always analog.
   */
  readonly sourceBiasing?: boolean;
}

/** Energy balance of the run [MeV]: deposited + escaped = emitted up to the rounding of each deposit to the unit. */
export interface McEnergyBalance {
  readonly emittedMeV: number;
  readonly depositedMeV: number;
  readonly escapedMeV: number;
  /** (deposited + escaped - emitted) / emitted. */
  readonly relativeImbalance: number;
  /** Secondaries that found the stack full, or particles stopped by the step guard (deposited where they were). */
  readonly stackOverflows: number;
}

/** What a run did (report.json "mc"). */
export interface McRunProvenance {
  readonly seed: number;
  /** Index of the first history (0 unless the run was given a history offset). */
  readonly firstHistory: number;
  readonly histories: number;
  readonly batches: number;
  readonly batchHistories: number[];
  readonly mode: 'histories' | 'target';
  readonly targetRelStdErr?: number;
  readonly maxHistories?: number;
  readonly capReached?: boolean;
  /** Structures the target waited for, and those left out with the reason. */
  readonly targetStructures?: string[];
  readonly targetExcluded?: Array<{ name: string; reason: string }>;
  readonly decaysInField: number;
  readonly tallyUnitMeV: number;
  readonly energyBalance: McEnergyBalance;
  readonly uncertaintyMethod: string;
  readonly backend: 'cpu' | 'webgpu';
  /** Target mode: the source biasing used (null: analog, with the reason in sourceBiasingNote); absent in histories mode. */
  readonly sourceBiasing?: SourceBiasing | null;
  readonly sourceBiasingNote?: string;
  readonly timingsMs: { transport: number; uncertainty: number; total: number };
  readonly historiesPerSecond: number;
}

export interface McDriverResult {
  /** Dose per voxel [Gy]. */
  readonly doseGy: Float32Array;
  /** Relative standard error of each voxel's dose (0 where the dose is 0). */
  readonly relStdErr: Float32Array;
  /** One per opts.structures, at the run's own activity. */
  readonly structures: McStructureUncertainty[];
  /**
   * The structures' uncertainty with every dose multiplied by `factor` (plan: the case computed at a reference
   * activity and scaled): recomputed from the batch maps, since V-values at fixed thresholds do not scale.
   */
  rescaledStructures(factor: number): Promise<McStructureUncertainty[]>;
  /** The batch tallies kept for the structure statistics, as dose maps (see {@link McKeptBatches}). */
  readonly keptBatches: McKeptBatches;
  readonly provenance: McRunProvenance;
  readonly warnings: string[];
}

/**
 * The batch tallies a run keeps on the voxels some structure touches (at most 32 batches; more are merged pairwise),
 * for statistics of sums of independent runs (plan --territories combines its territories' batch b into one map).
 */
export interface McKeptBatches {
  /** Voxel indices of the grid (ascending) the batches are kept on: the union of the run's structures. */
  readonly voxels: Uint32Array;
  /** Histories of each kept batch. */
  readonly histories: readonly number[];
  /** Dose [Gy] of kept batch b on `voxels`, scaled to the whole run (its tally x the dose factor / its histories). */
  dose(b: number): Float32Array;
}

/**
 * Spacing of the history ranges of independent runs under one seed [histories]: run t simulates histories
 * t x 2^44 + 0, 1, ... . 2^44 (1.8e13) exceeds the most histories one run accepts (1e13, --mc-histories and
 * --mc-max-histories), so the ranges never overlap and the runs draw disjoint Philox counters; 2^53 / 2^44 = 512 runs fit
 * below the 2^53 history indices the back ends take.
 */
export const MC_TERRITORY_HISTORY_STRIDE = 2 ** 44;

/**
 * Standard error of a statistic by the delete-a-group jackknife with groups of unequal size (Busing, Meijer and van
 * der Leeden 1999, Stat Comput 9:3): `whole` is the statistic of all batches, `leaveOneOut[b]` that of all but batch
 * b, `weights[b]` its histories n_b (N = sum n_b, h_b = N / n_b): pseudo-values tau_b = h_b whole - (h_b - 1) theta_b,
 * theta_J = B whole - sum (1 - n_b / N) theta_b, var = (1/B) sum (tau_b - theta_J)^2 / (h_b - 1). For equal batches
 * var = (B - 1)/B sum (theta_b - mean theta)^2; for the mean of a linear tally it equals the batch formula.
 */
export function jackknifeStdErr(whole: number, leaveOneOut: ArrayLike<number>, weights: ArrayLike<number>): number {
  const b = leaveOneOut.length;
  if (b !== weights.length) throw new InputError(`leave-one-out values (${b}) and weights (${weights.length}) differ in number`);
  if (b < 2) return NaN;
  let n = 0;
  for (let i = 0; i < b; i++) n += weights[i];
  let thetaJ = b * whole;
  for (let i = 0; i < b; i++) thetaJ -= (1 - weights[i] / n) * leaveOneOut[i];
  let v = 0;
  for (let i = 0; i < b; i++) {
    const h = n / weights[i];
    const tau = h * whole - (h - 1) * leaveOneOut[i];
    v += (tau - thetaJ) ** 2 / (h - 1);
  }
  return Math.sqrt(v / b);
}

/** Weighted batch mean and its standard error: s^2 = sum n_b (x_b - x)^2 / ((B - 1) N) (see the file header). */
export function batchMeanStdErr(values: ArrayLike<number>, weights: ArrayLike<number>): { mean: number; stdErr: number } {
  const b = values.length;
  if (b !== weights.length) throw new InputError(`batch values (${b}) and weights (${weights.length}) differ in number`);
  let n = 0;
  let s = 0;
  for (let i = 0; i < b; i++) {
    n += weights[i];
    s += weights[i] * values[i];
  }
  const mean = s / n;
  if (b < 2) return { mean, stdErr: NaN };
  let q = 0;
  for (let i = 0; i < b; i++) q += weights[i] * (values[i] - mean) ** 2;
  return { mean, stdErr: Math.sqrt(q / ((b - 1) * n)) };
}

/** Largest energy one decay can emit [MeV]: the beta endpoint + every photon line + the local energy. */
export function maxEnergyPerDecayMeV(problem: Pick<McProblem, 'emissions'>): number {
  const e = problem.emissions;
  const cdf = e.betaInverseCdfMeV;
  let max = cdf.length ? cdf[cdf.length - 1] : 0;
  for (const l of e.photonLines) max += l.energyMeV;
  return max + e.localMeVPerDecay;
}

/**
 * Tally unit [MeV] for batches of at most `maxBatchHistories`: the finest of 1 eV and the unit that keeps a voxel's
 * batch sum below 2^52 units (CPU: exact f64 integers below 2^53, a factor 2 of margin; even if every decay put all
 * of `maxEnergyPerDecayMeV` into one voxel). One deposit is then below 2^32 units (GPU u32 adds) whenever
 * maxEnergyPerDecayMeV < 4294 MeV, which is checked.
 */
export function chooseTallyUnitMeV(maxBatchHistories: number, maxEnergyPerDecayMeVValue: number): number {
  const unit = Math.max(MC_FINEST_TALLY_UNIT_MEV, (maxBatchHistories * maxEnergyPerDecayMeVValue) / 2 ** 52);
  if (maxEnergyPerDecayMeVValue / unit >= 2 ** 32) throw new InputError(`one decay's energy ${maxEnergyPerDecayMeVValue} MeV exceeds 2^32 tally units of ${unit} MeV`);
  return unit;
}

const fmtInt = (n: number) => (n >= 1e6 ? `${(n / 1e6).toPrecision(3)}e6` : String(Math.round(n)));
const fmtTime = (s: number) => (!Number.isFinite(s) ? '?' : s < 90 ? `${Math.max(0, Math.round(s))} s` : s < 5400 ? `${Math.round(s / 60)} min` : `${(s / 3600).toFixed(1)} h`);

/** The uncertainty method, as the report states it. */
export const MC_UNCERTAINTY_METHOD =
  'batch method: the histories run in B >= 10 batches (history indices continue across batches), each tallied apart; ' +
  'per voxel and per structure statistic the standard error is s^2 = sum n_b (x_b - x)^2 / ((B - 1) N) over the batch ' +
  'estimates x_b (n_b histories each, N in all; = std/sqrt(B) for equal batches); per-voxel values are relative (0 where ' +
  'the dose is 0). Structure statistics of each batch are computed on its dose map scaled to the whole run: exact for ' +
  'the mean dose, the batch approximation for nonlinear statistics (Dx, Vx, min, max). History-by-history estimation ' +
  'is not possible: all histories of a batch add into one shared integer tally (GPU atomics).';

/**
 * Runs the histories of `opts.plan` on a built problem and returns dose, uncertainty and provenance (see the file
 * header for the formulas). Deterministic for a seed: history h is a pure function of (problem, seed, h), histories
 * are numbered historyOffset + 0, 1, 2, ... across batches, and batch sizes depend only on tallies that are themselves deterministic.
 */
export async function runMonteCarloBatches(opts: McDriverOptions): Promise<McDriverResult> {
  const now = opts.nowMs ?? (() => performance.now());
  const tStart = now();
  const { transport } = opts;
  let problem = opts.problem;
  const nVox = problem.dims[0] * problem.dims[1] * problem.dims[2];
  const rhoOf = (v: number) => (typeof opts.densityGPerMl === 'number' ? opts.densityGPerMl : opts.densityGPerMl[v]);
  if (typeof opts.densityGPerMl !== 'number' && opts.densityGPerMl.length !== nVox) {
    throw new InputError(`the density map has ${opts.densityGPerMl.length} voxels but the transport grid ${nVox}`);
  }
  if (!Number.isInteger(opts.seed) || opts.seed < 0 || opts.seed > 0xffffffff) throw new InputError(`seed ${opts.seed} is not an integer in 0..4294967295`);
  const offset = opts.historyOffset ?? 0;
  if (!Number.isInteger(offset) || offset < 0 || offset > Number.MAX_SAFE_INTEGER) throw new InputError(`history offset ${offset} is not a whole number in 0..2^53`);
  if (!(opts.decays > 0) || !Number.isFinite(opts.decays)) throw new InputError(`the activity field holds no decays (${opts.decays}): nothing to transport`);
  const warnings: string[] = [];
  const progress = opts.onProgress ?? (() => {});
  const structures = opts.structures ?? [];
  const zeroBelow = opts.zeroDoseBelowDensityGPerMl;

  // Dose per tally unit in each voxel, for the whole run once N is known: k_v / N with k_v below.
  const unitJ = problem.tallyUnitMeV * JOULE_PER_MEV;
  const voxelFactor = (v: number) => {
    const rho = rhoOf(v);
    if (!(rho > 0) || (zeroBelow !== undefined && rho < zeroBelow)) return 0;
    return (unitJ * opts.decays) / (rho * opts.voxelVolumeMl * KG_PER_G);
  };

  // Compact copy of the voxels some structure touches: each batch's tally there is kept for the structure statistics.
  const mark = new Uint8Array(nVox);
  for (const s of structures) for (let n = 0; n < s.voxelIndices.length; n++) mark[s.voxelIndices[n]] = 1;
  let nU = 0;
  for (let v = 0; v < nVox; v++) nU += mark[v];
  const union = new Uint32Array(nU);
  const compactOf = new Int32Array(structures.length ? nVox : 0);
  for (let v = 0, u = 0; v < nVox; v++) {
    if (mark[v]) {
      compactOf[v] = u;
      union[u++] = v;
    }
  }
  const uFactor = new Float64Array(nU);
  for (let u = 0; u < nU; u++) uFactor[u] = voxelFactor(union[u]);
  const compactStructures: GridStructure[] = structures.map((s) => {
    const idx = new Uint32Array(s.voxelIndices.length);
    for (let n = 0; n < idx.length; n++) idx[n] = compactOf[s.voxelIndices[n]];
    return { ...s, voxelIndices: idx };
  });
  const uActivity = new Float32Array(nU);
  for (let u = 0; u < nU; u++) uActivity[u] = opts.activityBqPerMl[union[u]];
  const uDensity: number | Float32Array = typeof opts.densityGPerMl === 'number' ? opts.densityGPerMl : Float32Array.from(union, (v) => (opts.densityGPerMl as Float32Array)[v]);
  // structure masses for the quick per-batch means of the target mode (the statistics' definition of the mass)
  const massOf = compactStructures.map((s) => {
    const m = new Float64Array(s.voxelIndices.length);
    for (let n = 0; n < m.length; n++) m[n] = s.partMassGPerMl ? s.partMassGPerMl[n] : s.weights[n] * Math.max(0, typeof uDensity === 'number' ? uDensity : uDensity[s.voxelIndices[n]]);
    return m;
  });
  const volumeMl = structures.map((s) => {
    let w = 0;
    for (let n = 0; n < s.weights.length; n++) if (s.weights[n] > 0) w += s.weights[n];
    return w * opts.voxelVolumeMl;
  });

  // Running sums per voxel: S1 = sum E_b (the whole run's tally), S2 = sum E_b^2 / n_b.
  const s1 = new Float64Array(nVox);
  const s2 = new Float64Array(nVox);
  // f32 copies of the batch tallies on the structures' voxels (uncertainties need no more than 7 digits)
  // each kept batch with its structures' mass-weighted energy sums (linear in the tally: a merged pair adds them), so
  // that the target check after every batch does not walk every kept batch's voxels again
  const kept: Array<{ units: Float32Array; histories: number; structureSums: Float64Array }> = [];
  const batchHistories: number[] = [];
  let done = 0;
  let emitted = 0;
  let escaped = 0;
  let overflows = 0;
  let transportMs = 0;
  let lastReport = -Infinity;

  const structureMeanPerHistory = (units: Float32Array, s: number): number => {
    // energy per mass (dose up to the common factor decays / N) of structure s from a compact tally
    const cs = compactStructures[s];
    const m = massOf[s];
    let e = 0, mm = 0;
    for (let n = 0; n < m.length; n++) {
      const u = cs.voxelIndices[n];
      const f = uFactor[u];
      e += f > 0 ? m[n] * f * units[u] : 0;
      mm += m[n];
    }
    return mm > 0 ? e / mm : NaN;
  };

  let batchTally: Float64Array | undefined;
  let total = 0; // histories planned (for progress)
  let etaText = () => '';
  const runBatch = async (histories: number) => {
    const first = done; // the run's own count (progress); the transport's history indices start at offset + first
    const t0 = now();
    // at most one line every 0.5 s while the batch runs; the transport's own time only in the rate
    const say = (fraction: number, force = false) => {
      const t = now();
      if (t - lastReport < 500 && !force) return;
      lastReport = t;
      const doneNow = first + fraction * histories;
      const rate = doneNow > 0 ? doneNow / ((transportMs + (force ? 0 : t - t0)) / 1000) : NaN;
      progress(`Monte Carlo: ${fmtInt(doneNow)}/${fmtInt(total)} histories (${((100 * doneNow) / total).toFixed(0)} %), ${Number.isFinite(rate) ? fmtInt(rate) : '?'} histories/s${etaText()}, about ${fmtTime((total - doneNow) / rate)} left${mode === 'target' ? ' (estimated from the uncertainty so far, sigma ~ 1/sqrt(N))' : ''}`);
    };
    // one tally array for every batch (each is folded into the running sums before the next)
    const r: McBatchResult = await transport.run(problem, { seed: opts.seed, firstHistory: offset + first, histories, onProgress: say, energyInto: (batchTally ??= new Float64Array(nVox)) });
    transportMs += now() - t0;
    if (r.histories !== histories || r.energyUnits.length !== nVox) {
      throw new Error(`transport ${transport.name} returned ${r.histories} histories and ${r.energyUnits.length} voxels for a batch of ${histories} on ${nVox}`);
    }
    const e = r.energyUnits;
    for (let v = 0; v < nVox; v++) {
      const x = e[v];
      if (x !== 0) {
        s1[v] += x;
        s2[v] += (x * x) / histories;
      }
    }
    if (nU > 0) {
      const units = new Float32Array(nU);
      for (let u = 0; u < nU; u++) units[u] = e[union[u]];
      const structureSums = new Float64Array(compactStructures.length);
      for (let st = 0; st < compactStructures.length; st++) structureSums[st] = structureMeanPerHistory(units, st);
      kept.push({ units, histories, structureSums });
    }
    if (kept.length > MAX_KEPT_BATCHES) {
      // merge neighbours pairwise: a merged pair is a valid batch of n_a + n_b histories
      const merged: typeof kept = [];
      for (let i = 0; i < kept.length; i += 2) {
        const a = kept[i], b = kept[i + 1];
        if (!b) merged.push(a);
        else {
          const u = a.units;
          for (let k = 0; k < u.length; k++) u[k] += b.units[k];
          const sums = a.structureSums;
          for (let k = 0; k < sums.length; k++) sums[k] += b.structureSums[k];
          merged.push({ units: u, histories: a.histories + b.histories, structureSums: sums });
        }
      }
      kept.splice(0, kept.length, ...merged);
    }
    batchHistories.push(histories);
    done += histories;
    emitted += r.emittedUnits;
    escaped += r.escapedUnits;
    overflows += r.stackOverflows;
    say(1, done >= total);
  };

  // Per structure: batch estimates of the mean (per history; the factor decays is common) and their standard error.
  const structureMeanErrors = () =>
    compactStructures.map((_, s) => {
      const x = kept.map((b) => b.structureSums[s] / b.histories);
      const r = batchMeanStdErr(x, kept.map((b) => b.histories));
      return { mean: r.mean, rel: r.mean > 0 ? r.stdErr / r.mean : r.mean === 0 ? 0 : NaN };
    });

  const plan = opts.plan;
  let mode: 'histories' | 'target' = plan.kind;
  let capReached = false;
  let targetStructures: string[] | undefined;
  let targetExcluded: Array<{ name: string; reason: string }> | undefined;
  let sourceBiasing: SourceBiasing | null = null;
  let sourceBiasingNote: string | undefined;
  if (plan.kind === 'histories') {
    const b = plan.batches ?? DEFAULT_MC_BATCHES;
    if (!Number.isInteger(b) || b < DEFAULT_MC_BATCHES) throw new InputError(`Monte Carlo batches ${b}: at least ${DEFAULT_MC_BATCHES} (the batch uncertainty needs them)`);
    if (!Number.isInteger(plan.histories) || plan.histories < b) throw new InputError(`Monte Carlo histories ${plan.histories}: give an integer of at least ${b} (one per batch)`);
    total = plan.histories;
    // equal batches; the first (N mod B) batches take one history more
    const base = Math.floor(plan.histories / b);
    const extra = plan.histories - base * b;
    for (let i = 0; i < b; i++) await runBatch(base + (i < extra ? 1 : 0));
  } else {
    mode = 'target';
    const p = plan.relStdErr;
    if (!(p > 0 && p <= 0.5)) throw new InputError(`target relative standard error ${p} is outside (0, 0.5]`);
    if (structures.length === 0) throw new InputError('a target uncertainty needs the structures to wait for');
    const cap = plan.maxHistories ?? DEFAULT_MC_MAX_HISTORIES;
    const pilot = Math.min(plan.pilotHistories ?? MC_PILOT_HISTORIES, cap);
    if (!Number.isInteger(cap) || cap < DEFAULT_MC_BATCHES) throw new InputError(`--mc-max-histories ${cap}: give an integer of at least ${DEFAULT_MC_BATCHES}`);
    // source biasing towards the structures the target waits for by volume (decided before the pilot, which it serves)
    // (both back ends take source weights: runHistoriesCpu and mc_transport.wgsl round each history's terms in its unit)
    if (opts.sourceBiasing === false) sourceBiasingNote = 'switched off';
    else {
      const targets = structures.filter((_, s) => volumeMl[s] >= MC_TARGET_MIN_VOLUME_ML);
      const b = buildBiasedSource(opts.activityBqPerMl.map((a) => (a > 0 ? a : 0)), targets);
      if (!b) sourceBiasingNote = 'no structure of 10 mL or more with activity, or biasing would change the source little';
      else {
        // the largest weight multiplies the largest energy of one history: one term must stay below 2^32 units
        const eMaxW = b.biasing.maxWeight * maxEnergyPerDecayMeV(problem);
        if (eMaxW / problem.tallyUnitMeV >= 2 ** 32) throw new InputError(`a weighted decay's energy ${eMaxW} MeV exceeds 2^32 tally units of ${problem.tallyUnitMeV} MeV`);
        problem = { ...problem, sourceVoxel: b.alias.sourceVoxel, sourceProbability: b.alias.sourceProbability, sourceAlias: b.alias.sourceAlias, sourceWeight: b.alias.sourceWeight };
        sourceBiasing = b.biasing;
        warnings.push(
          `source biasing: ${Math.round(100 * b.biasing.lambda)} % of the decays spread over ${b.biasing.structures.map((x) => `"${x.name}" (${(100 * x.activityShare).toPrecision(2)} % of the activity)`).join(', ')}, weights ${b.biasing.minWeight.toPrecision(3)}-${b.biasing.maxWeight.toPrecision(3)} (importance sampling, unbiased; --mc-histories runs are analog)`,
        );
      }
    }
    total = pilot;
    const n0 = Math.floor(pilot / DEFAULT_MC_BATCHES);
    for (let i = 0; i < DEFAULT_MC_BATCHES; i++) await runBatch(i < DEFAULT_MC_BATCHES - 1 ? n0 : pilot - n0 * (DEFAULT_MC_BATCHES - 1));
    // which structures the target waits for (decided once, from the pilot)
    let est = structureMeanErrors();
    const largestMean = Math.max(0, ...est.map((e) => (Number.isFinite(e.mean) ? e.mean : 0)));
    const chosen: number[] = [];
    targetExcluded = [];
    for (let s = 0; s < structures.length; s++) {
      const name = structures[s].name;
      if (volumeMl[s] < MC_TARGET_MIN_VOLUME_ML) targetExcluded.push({ name, reason: `${volumeMl[s].toFixed(1)} mL < ${MC_TARGET_MIN_VOLUME_ML} mL` });
      else if (!(est[s].mean >= MC_TARGET_MIN_DOSE_SHARE * largestMean)) {
        targetExcluded.push({ name, reason: `mean dose ${largestMean > 0 ? ((100 * est[s].mean) / largestMean).toPrecision(2) : 0} % of the largest structure mean (< ${100 * MC_TARGET_MIN_DOSE_SHARE} %)` });
      } else chosen.push(s);
    }
    if (chosen.length === 0) {
      // nothing of 10 mL or more with dose: wait for the largest structure that has dose
      let best = -1;
      for (let s = 0; s < structures.length; s++) if (est[s].mean > 0 && (best < 0 || volumeMl[s] > volumeMl[best])) best = s;
      if (best < 0) throw new InputError('no structure receives any dose in the pilot batches: the target uncertainty cannot be reached (is the activity inside the structures?)');
      chosen.push(best);
      targetExcluded = targetExcluded.filter((x) => x.name !== structures[best].name);
      warnings.push(`--mc-target-uncertainty: no structure of ${MC_TARGET_MIN_VOLUME_ML} mL or more receives dose; the run waits for the largest one with dose, "${structures[best].name}" (${volumeMl[best].toFixed(1)} mL)`);
    }
    targetStructures = chosen.map((s) => structures[s].name);
    if (targetExcluded.length) {
      warnings.push(
        `--mc-target-uncertainty ${(100 * p).toPrecision(3)} %: structures not waited for (smaller than ${MC_TARGET_MIN_VOLUME_ML} mL, or a mean dose below ${100 * MC_TARGET_MIN_DOSE_SHARE} % of the largest structure mean): ${targetExcluded.map((x) => `"${x.name}" (${x.reason})`).join(', ')}; their uncertainties are reported as they came out`,
      );
    }
    const worst = () => Math.max(...chosen.map((s) => (Number.isFinite(est[s].rel) ? est[s].rel : Infinity)));
    let w = worst();
    // the batch size from the pilot: the histories the pilot predicts (sigma ~ 1/sqrt(N)), in about 20 batches; the
    // prediction is trusted up to 1000 times the pilot (a structure hit by few pilot decays has a rough estimate),
    // beyond which batches of that size simply continue
    const predicted = Math.min(cap, Math.ceil(done * Math.min(1000, (w / p) ** 2)));
    // about 20 batches to the prediction: a run overshoots the target by at most about one batch (5 %)
    const nBatch = Math.max(n0, Math.ceil((predicted - done) / (2 * DEFAULT_MC_BATCHES)));
    while (w >= p && done < cap) {
      total = Math.min(cap, Math.max(done + nBatch, Math.ceil(done * (w / p) ** 2)));
      etaText = () => `; worst structure ${(100 * w).toPrecision(2)} %, target ${(100 * p).toPrecision(2)} %`;
      await runBatch(Math.min(nBatch, cap - done));
      est = structureMeanErrors();
      w = worst();
    }
    if (w >= p) {
      capReached = true;
      warnings.push(
        `--mc-target-uncertainty ${(100 * p).toPrecision(3)} % not reached: the cap of ${cap} histories (--mc-max-histories) stopped the run at a relative standard error of ${(100 * w).toPrecision(3)} % (worst of ${targetStructures.map((x) => `"${x}"`).join(', ')}); raise --mc-max-histories or the target`,
      );
    }
  }

  // Dose and per-voxel uncertainty.
  const tUnc = now();
  const nAll = done;
  const bAll = batchHistories.length;
  const doseGy = new Float32Array(nVox);
  const relStdErr = new Float32Array(nVox);
  let depositedUnits = 0;
  for (let v = 0; v < nVox; v++) {
    const x = s1[v];
    depositedUnits += x;
    if (x === 0) continue;
    const f = voxelFactor(v);
    if (f === 0) continue;
    doseGy[v] = (f * x) / nAll;
    const q = s2[v] - (x * x) / nAll; // sum n_b (x_b - x)^2 in units^2 / history
    relStdErr[v] = q > 0 ? Math.sqrt(q / ((bAll - 1) * nAll)) / (x / nAll) : 0;
  }

  // Structure statistics of each batch's dose map (scaled to the whole run), their spread.
  const stats = opts.stats ?? structureStatsCpu;
  const structureUncertainty = async (factor: number): Promise<McStructureUncertainty[]> => {
    if (structures.length === 0) return [];
    const statsOf = (d: Float32Array) =>
      stats({ doseGy: d, activityBqPerMl: uActivity, densityGPerMl: uDensity, voxelVolumeMl: opts.voxelVolumeMl, structures: compactStructures, dvhBins: opts.dvhBins });
    // the mean: each batch's mass-weighted mean (structureSums, the statistics' own definition of the mean; linear in
    // the tally, so the batch formula is exact)
    const batchMeanGy = (b: (typeof kept)[number], s: number) => (factor * b.structureSums[s]) / b.histories;
    // the nonlinear statistics (Dx, Vx, min, max): delete-a-batch jackknife on the whole run less one batch, maps nearly
    // as smooth as the reported one (a single batch's map is far noisier: its D50 of a sparsely hit structure barely
    // moves, and the batch formula then gives a standard error many times too small)
    const keptUnits = new Float64Array(nU);
    let keptHistories = 0;
    for (const b of kept) {
      keptHistories += b.histories;
      for (let u = 0; u < nU; u++) keptUnits[u] += b.units[u];
    }
    const whole = new Float32Array(nU);
    for (let u = 0; u < nU; u++) whole[u] = (factor * uFactor[u] * keptUnits[u]) / keptHistories;
    const wholeStats = await statsOf(whole);
    const leaveOneOut: StructureDoseStats[][] = [];
    for (const b of kept) {
      const d = new Float32Array(nU);
      const rest = keptHistories - b.histories;
      for (let u = 0; u < nU; u++) d[u] = (factor * uFactor[u] * (keptUnits[u] - b.units[u])) / rest;
      leaveOneOut.push(await statsOf(d));
    }
    const weights = kept.map((b) => b.histories);
    return structures.map((_, s) => {
      const stdErr = {} as Record<McStructureStatistic, number>;
      for (const k of MC_STRUCTURE_STATISTICS) {
        stdErr[k] =
          k === 'meanGy'
            ? batchMeanStdErr(kept.map((b) => batchMeanGy(b, s)), weights).stdErr
            : jackknifeStdErr(wholeStats[s][k], leaveOneOut.map((p) => p[s][k]), weights);
      }
      const mean = batchMeanStdErr(kept.map((b) => batchMeanGy(b, s)), weights).mean;
      return { meanGyRelStdErr: mean > 0 ? stdErr.meanGy / mean : mean === 0 ? 0 : NaN, stdErr };
    });
  };
  const structureResults = await structureUncertainty(1);
  const tEnd = now();

  const u = problem.tallyUnitMeV;
  const balance: McEnergyBalance = {
    emittedMeV: emitted * u,
    depositedMeV: depositedUnits * u,
    escapedMeV: escaped * u,
    relativeImbalance: emitted > 0 ? (depositedUnits + escaped - emitted) / emitted : 0,
    stackOverflows: overflows,
  };
  if (overflows > 0) {
    warnings.push(`Monte Carlo: ${overflows} particles found the secondary stack full or hit the step guard and deposited their energy where they were (${((100 * overflows) / nAll).toPrecision(2)} per 100 histories)`);
  }
  return {
    doseGy,
    relStdErr,
    structures: structureResults,
    rescaledStructures: (factor) => structureUncertainty(factor),
    keptBatches: {
      voxels: union,
      histories: kept.map((b) => b.histories),
      dose(b: number) {
        const k = kept[b];
        if (!k) throw new InputError(`kept batch ${b} of ${kept.length} does not exist`);
        const d = new Float32Array(nU);
        for (let u = 0; u < nU; u++) d[u] = (uFactor[u] * k.units[u]) / k.histories;
        return d;
      },
    },
    warnings,
    provenance: {
      seed: opts.seed,
      firstHistory: offset,
      histories: nAll,
      batches: bAll,
      batchHistories,
      mode,
      ...(plan.kind === 'target'
        ? { targetRelStdErr: plan.relStdErr, maxHistories: plan.maxHistories ?? DEFAULT_MC_MAX_HISTORIES, capReached, targetStructures, targetExcluded, sourceBiasing, ...(sourceBiasingNote ? { sourceBiasingNote } : {}) }
        : {}),
      decaysInField: opts.decays,
      tallyUnitMeV: u,
      energyBalance: balance,
      uncertaintyMethod: MC_UNCERTAINTY_METHOD,
      backend: transport.name,
      timingsMs: { transport: Math.round(transportMs), uncertainty: Math.round(tEnd - tUnc), total: Math.round(tEnd - tStart) },
      historiesPerSecond: transportMs > 0 ? Math.round(nAll / (transportMs / 1000)) : 0,
    },
  };
}

/** Decays in the field over the whole time [decays]: sum over voxels of max(a, 0) x V_vox x tau (a at implant). */
export function decaysInField(activityBqPerMl: Float32Array, voxelVolumeMl: number, isotope: Isotope): number {
  let s = 0;
  for (let v = 0; v < activityBqPerMl.length; v++) if (activityBqPerMl[v] > 0) s += activityBqPerMl[v];
  return s * voxelVolumeMl * meanLifeS(isotope);
}
