/**
 * `plan --territories --method mc`: the statistical uncertainty of the combined dose sum_t A_t d_t, where d_t is
 * territory t's Monte Carlo dose at 1 GBq (./territory-cases.ts runs one Monte Carlo per territory, each on its own
 * range of histories under the plan's seed, so the runs are independent).
 *
 * Rules (independent runs, A_t fixed numbers [GBq]; se_t a standard error of territory t's run at 1 GBq):
 * - per voxel: se(D_v) = sqrt(sum_t (A_t d_t,v r_t,v)^2), r_t,v the run's relative standard error of the voxel
 *   (its dose_uncertainty map); reported relative, se(D_v) / D_v, 0 where D_v = 0 (DIR/dose_uncertainty.nii.gz);
 * - a structure's mean dose (linear in the dose map, so the combined mean is sum_t A_t mean_t exactly):
 *   se(mean) = sqrt(sum_t (A_t se_t(mean))^2);
 * - the nonlinear statistics (min, max, D50..D98, V100..V205): the batch method on combined batch maps
 *   C_b = sum_t A_t d_t,b (d_t,b: batch b of territory t, scaled to its whole run). Batch b of every run has the same
 *   number of histories when the runs are planned by --mc-histories (B equal batches each), and the C_b are then
 *   independent estimates of the combined map with n_b histories, so the spread formula of src/mc/batches.ts applies
 *   (the batch approximation, as for one run). With --mc-target-uncertainty each run stops at its own batch count;
 *   where those differ only the mean dose has a standard error, and the others are null (the report says so).
 *   The batch approximation is weak where a batch map leaves many voxels of a structure without dose (few histories
 *   per batch): the Dx of such batch maps hardly scatter (measured: the liver's D50 standard error some 40x below the
 *   scatter between seeds at 200 histories per batch), as for one run (src/mc/batches.ts).
 */
import { batchMeanStdErr, jackknifeStdErr, MC_STRUCTURE_STATISTICS, MC_TERRITORY_HISTORY_STRIDE, type McStructureStatistic, type McStructureUncertainty } from '../mc/batches.ts';
import type { DoseCaseMc, DoseCaseResult } from '../dose/pipeline.ts';
import { selectBackend } from '../dose/backend.ts';
import { voxelVolumeMl } from '../volume/geometry.ts';
import type { GridStructure } from '../volume/structure.ts';

/** A territory's Monte Carlo run as the combination sees it. */
export interface TerritoryMcRun {
  readonly name: string;
  /** Its case at 1 GBq (method mc). */
  readonly result: DoseCaseResult;
}

/** The structures' uncertainty kind (report.json structures[].uncertainty.kind) of a combination. */
export const TERRITORY_MC_KIND_BATCHES =
  'standard error of independent territory runs: mean dose sqrt(sum_t (A_t se_t)^2) (exact rule for a sum of independent runs); the other statistics by the batch method on the combined batch maps sum_t A_t d_t,b';
export const TERRITORY_MC_KIND_MEAN_ONLY =
  'standard error of independent territory runs: mean dose sqrt(sum_t (A_t se_t)^2) only; the other statistics have none (the runs of --mc-target-uncertainty end at different batch counts, so their batches cannot be summed): null';

/** The uncertainty method of a combination (report.json mc.uncertaintyMethod). */
export const TERRITORY_MC_METHOD =
  'plan --territories: one Monte Carlo run per territory at 1 GBq (territory t on histories t x 2^44 + 0, 1, ... of the seed: disjoint Philox counters, independent runs), each with the batch method; the combined dose is sum_t A_t d_t and its standard error sqrt(sum_t (A_t se_t)^2) per voxel and for each structure mean dose; nonlinear structure statistics by the batch method on sum_t A_t d_t,b when every run has the same batches (--mc-histories), else none.';

/** Whether every run's kept batches have the same histories (batch b of every run can be summed). */
function alignedBatches(runs: readonly TerritoryMcRun[]): boolean {
  const first = runs[0]?.result.mc?.keptBatches?.histories;
  if (!first || first.length < 2) return false;
  return runs.every((r) => {
    const h = r.result.mc?.keptBatches?.histories;
    return h !== undefined && h.length === first.length && h.every((x, b) => x === first[b]);
  });
}

/**
 * The structures' standard errors of sum_t A_t d_t (module comment). `combined` is the combined case (its structures'
 * means and gridStructures are the combination's); the runs' structures are in the same order as the combined case's
 * (every territory case reports the plan's structures), checked by name.
 */
export async function combinedStructureUncertainty(combined: DoseCaseResult, runs: readonly TerritoryMcRun[], activitiesGBq: readonly number[]): Promise<McStructureUncertainty[]> {
  runs.forEach((r) => {
    if (!r.result.mc) throw new Error(`territory "${r.name}": its case has no Monte Carlo result`);
    if (r.result.structures.length !== combined.structures.length || r.result.structures.some((s, i) => s.name !== combined.structures[i].name)) {
      throw new Error(`territory "${r.name}": its structures differ from the plan's; the uncertainties cannot be combined`);
    }
  });
  const nS = combined.structures.length;
  // mean: the rule for independent runs
  const meanSe = new Float64Array(nS);
  for (let s = 0; s < nS; s++) {
    let q = 0;
    runs.forEach((r, t) => {
      const se = r.result.structures[s].uncertainty?.meanGy;
      if (activitiesGBq[t] !== 0) q += (activitiesGBq[t] * (se ?? NaN)) ** 2;
    });
    meanSe[s] = Math.sqrt(q);
  }
  // the other statistics: combined batch maps
  const used = runs.map((_, t) => t).filter((t) => activitiesGBq[t] !== 0);
  const perBatch: Array<Array<Record<McStructureStatistic, number>>> = [];
  let weights: readonly number[] = [];
  if (used.length > 0 && alignedBatches(runs)) {
    const backend = await selectBackend(combined.backend);
    const n = combined.dose.data.length;
    weights = runs[0].result.mc!.keptBatches!.histories;
    for (let b = 0; b < weights.length; b++) {
      const acc = new Float64Array(n);
      for (const t of used) {
        const A = activitiesGBq[t];
        const full = runs[t].result.dose.data;
        const kb = runs[t].result.mc!.keptBatches!;
        // outside the run's structures the batch is not kept: its whole-run dose there (no structure reads it)
        for (let v = 0; v < n; v++) acc[v] += A * full[v];
        // the run less batch b (delete-a-batch jackknife, see jackknifeStdErr): (N full - n_b d_b) / (N - n_b)
        const d = kb.dose(b);
        const nAll = kb.histories.reduce((x, y) => x + y, 0);
        const nb = kb.histories[b];
        for (let u = 0; u < kb.voxels.length; u++) {
          const v = kb.voxels[u];
          acc[v] += A * ((nAll * full[v] - nb * d[u]) / (nAll - nb) - full[v]);
        }
      }
      const stats = await backend.stats({
        doseGy: Float32Array.from(acc),
        activityBqPerMl: combined.activityBqPerMl,
        densityGPerMl: combined.densityGPerMl,
        voxelVolumeMl: voxelVolumeMl(combined.dose.geometry),
        structures: combined.gridStructures,
      });
      perBatch.push(stats.map((x) => Object.fromEntries(MC_STRUCTURE_STATISTICS.map((k) => [k, x[k]])) as Record<McStructureStatistic, number>));
    }
  }
  return combined.structures.map((s, i) => {
    const stdErr = {} as Record<McStructureStatistic, number>;
    for (const k of MC_STRUCTURE_STATISTICS) {
      stdErr[k] = k === 'meanGy' ? meanSe[i] : perBatch.length ? jackknifeStdErr(s[k], perBatch.map((p) => p[i][k]), weights) : NaN;
    }
    const mean = s.meanGy;
    return { meanGyRelStdErr: mean > 0 ? meanSe[i] / mean : mean === 0 ? 0 : NaN, stdErr };
  });
}

/**
 * Standard error [Gy per the run's activity, Gy/GBq for a territory case at 1 GBq] of the mass-weighted mean dose of
 * any structure on the run's grid (not only a reported one: the plan's whole normal liver, a perfused normal liver),
 * by the batch formula on the run's kept batch maps (src/mc/batches.ts batchMeanStdErr: exact for a mean, linear in
 * the tally), with the masses of src/plan/image.ts sums (partMassGPerMl, else weight x density). NaN when the run has
 * no Monte Carlo batches or the structure has mass on a voxel the batches were not kept on (outside every structure
 * of the run); 0 for a structure without mass.
 */
export function structureMeanStdErr(result: DoseCaseResult, s: GridStructure): number {
  const kb = result.mc?.keptBatches;
  if (!kb || kb.histories.length < 2) return NaN;
  const rho = result.densityGPerMl;
  const slot = new Int32Array(s.voxelIndices.length);
  const masses = new Float64Array(s.voxelIndices.length);
  let m = 0;
  for (let n = 0; n < s.voxelIndices.length; n++) {
    const v = s.voxelIndices[n];
    const mn = s.partMassGPerMl ? s.partMassGPerMl[n] : s.weights[n] * Math.max(0, typeof rho === 'number' ? rho : rho[v]);
    masses[n] = mn;
    m += mn;
    // binary search of the ascending kept voxels
    let lo = 0, hi = kb.voxels.length - 1, at = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1, x = kb.voxels[mid];
      if (x === v) { at = mid; break; }
      if (x < v) lo = mid + 1; else hi = mid - 1;
    }
    if (at < 0 && mn > 0) return NaN;
    slot[n] = at;
  }
  if (!(m > 0)) return 0;
  const means = kb.histories.map((_, b) => {
    const d = kb.dose(b);
    let e = 0;
    for (let n = 0; n < slot.length; n++) if (slot[n] >= 0) e += masses[n] * d[slot[n]];
    return e / m;
  });
  return batchMeanStdErr(means, kb.histories).stdErr;
}

/** sqrt(sum_t (A_t se_t)^2) [Gy]: the standard error of sum_t A_t D_t of independent runs (module comment); NaN if a used se_t is. */
export function combinedStdErr(stdErrPerGBq: readonly number[], activitiesGBq: readonly number[]): number {
  let q = 0;
  stdErrPerGBq.forEach((se, t) => {
    if (activitiesGBq[t] !== 0) q += (activitiesGBq[t] * se) ** 2;
  });
  return Math.sqrt(q);
}

/** Per voxel: se(D_v) / D_v with se(D_v) = sqrt(sum_t (A_t d_t,v r_t,v)^2), D_v = sum_t A_t d_t,v (f64); 0 where D_v = 0. */
export function combinedRelStdErr(runs: readonly TerritoryMcRun[], activitiesGBq: readonly number[]): Float32Array {
  const n = runs[0].result.dose.data.length;
  const sum = new Float64Array(n), q = new Float64Array(n);
  runs.forEach((r, t) => {
    const A = activitiesGBq[t];
    if (A === 0) return;
    const d = r.result.dose.data, rel = r.result.mc!.relStdErr.data;
    for (let v = 0; v < n; v++) {
      const x = A * d[v];
      sum[v] += x;
      q[v] += (x * rel[v]) ** 2;
    }
  });
  const out = new Float32Array(n);
  for (let v = 0; v < n; v++) out[v] = sum[v] > 0 ? Math.sqrt(q[v]) / sum[v] : 0;
  return out;
}

/**
 * The combined case's Monte Carlo part: uncertainty map, provenance (the runs' histories summed; each run listed in
 * `combination.runs`), and the structures' standard errors at the planned activities (`rescaledStructures(f)`: at f
 * times them).
 */
export function combineTerritoryMc(combined: DoseCaseResult, runs: readonly TerritoryMcRun[], activitiesGBq: readonly number[]): DoseCaseMc {
  const ps = runs.map((r) => r.result.mc!.provenance);
  const p0 = ps[0];
  const aligned = alignedBatches(runs);
  const sum = (f: (p: (typeof ps)[number]) => number) => ps.reduce((s, p) => s + f(p), 0);
  const emitted = sum((p) => p.energyBalance.emittedMeV), deposited = sum((p) => p.energyBalance.depositedMeV), escaped = sum((p) => p.energyBalance.escapedMeV);
  const target = p0.mode === 'target';
  const provenance = {
    ...p0,
    firstHistory: 0,
    histories: sum((p) => p.histories),
    // batches of the combination: those summed across the runs (aligned), else the first run's (listed per run)
    decaysInField: ps.reduce((s, p, t) => s + activitiesGBq[t] * p.decaysInField, 0),
    energyBalance: {
      emittedMeV: emitted,
      depositedMeV: deposited,
      escapedMeV: escaped,
      relativeImbalance: emitted > 0 ? (deposited + escaped - emitted) / emitted : 0,
      stackOverflows: sum((p) => p.energyBalance.stackOverflows),
    },
    ...(target
      ? {
          capReached: ps.some((p) => p.capReached),
          targetStructures: [...new Set(ps.flatMap((p) => p.targetStructures ?? []))],
          targetExcluded: (p0.targetExcluded ?? []).filter((x) => ps.every((p) => (p.targetExcluded ?? []).some((y) => y.name === x.name))),
        }
      : {}),
    uncertaintyMethod: `${TERRITORY_MC_METHOD} Each run: ${p0.uncertaintyMethod}`,
    timingsMs: { transport: sum((p) => p.timingsMs.transport), uncertainty: sum((p) => p.timingsMs.uncertainty), total: sum((p) => p.timingsMs.total), problem: sum((p) => p.timingsMs.problem) },
    historiesPerSecond: (() => {
      const ms = sum((p) => p.timingsMs.transport);
      return ms > 0 ? Math.round(sum((p) => p.histories) / (ms / 1000)) : 0;
    })(),
  };
  const runJson = runs.map((r, t) => {
    const p = ps[t];
    return {
      territory: r.name,
      activityGBq: activitiesGBq[t],
      firstHistory: p.firstHistory,
      historyStride: MC_TERRITORY_HISTORY_STRIDE,
      histories: p.histories,
      batches: p.batches,
      batchHistories: p.batchHistories,
      decaysInFieldPerGBq: p.decaysInField,
      emissions: p.emissions.source,
      energyBalance: p.energyBalance,
      ...(p.mode === 'target' ? { target: { reached: !p.capReached, structures: p.targetStructures, excluded: p.targetExcluded } } : {}),
    };
  });
  return {
    relStdErr: { geometry: combined.dose.geometry, data: combinedRelStdErr(runs, activitiesGBq) },
    provenance,
    rescaledStructures: (factor: number) => combinedStructureUncertainty(combined, runs, activitiesGBq.map((a) => a * factor)),
    combination: { uncertaintyKind: aligned ? TERRITORY_MC_KIND_BATCHES : TERRITORY_MC_KIND_MEAN_ONLY, uncertaintyMethod: provenance.uncertaintyMethod, runs: runJson },
  };
}
