/**
 * Quantities the figures draw that the analyses themselves do not return: the ROC curve's confidence band, the
 * logistic dose-response curve's confidence band, Kaplan-Meier numbers at risk at chosen times and box-plot
 * statistics. Plain f64 TypeScript, no I/O (runs in Node and in the viewer's page).
 *
 * - ROC band: pointwise 95 % CI of the sensitivity at fixed specificities from bootstrap resamples, as pROC's
 *   `ci.se` (Robin et al., BMC Bioinformatics 2011;12:77; Carpenter & Bithell, Stat Med 2000;19:1141):
 *   stratified resampling (responders and non-responders resampled separately, pROC's default), or whole
 *   clusters (patients) when lesions are nested in patients; the sensitivity at a specificity is read off the
 *   empirical ROC polyline as pROC's `coords(input = "specificity")` does (the highest sensitivity where the
 *   specificity is attained exactly, else linear interpolation between the neighbouring points); percentile
 *   interval with linear interpolation between order statistics (R's quantile type 7).
 * - Logistic band: the delta method on the linear predictor, eta(D) = b0 + b1 D with
 *   var eta = V00 + 2 D V01 + D^2 V11, mapped through the logistic function, P = expit(eta -+ z se(eta)) (as R's
 *   predict.glm(se.fit = TRUE, type = "link"); the interval stays inside (0, 1)).
 * - Numbers at risk: subjects whose time is >= t (R survival's n.risk convention: those with an event or censoring
 *   at t are still at risk at t).
 * - Box plots: quartiles by R's type 7, whiskers to the most extreme values within 1.5 IQR of the box (Tukey 1977).
 */
import { StatsError } from '../errors.ts';
import type { KmCurve } from './km.ts';
import type { LogisticResult } from './logistic.ts';
import { mulberry32, quantileSorted } from './ranks.ts';
import { normalCritical } from './special.ts';

/** How the ROC band was resampled. */
export type RocBandResampling = 'stratified' | 'cluster';

/** Pointwise CI of the sensitivity at fixed specificities. */
export interface RocSensitivityBand {
  /** Specificities (0..1, ascending) at which the band is given. */
  readonly specificity: number[];
  /** Lower and upper percentile bounds of the sensitivity at each specificity (0..1). */
  readonly sensitivityLow: number[];
  readonly sensitivityHigh: number[];
  /** Two-sided level of the band (0.05: 95 %). */
  readonly alpha: number;
  readonly resampling: RocBandResampling;
  /** Replicates drawn, and those used (a cluster resample without one of the classes is skipped). */
  readonly replicates: number;
  readonly used: number;
  readonly seed: number;
}

/**
 * Sensitivity at specificity `sp` on the empirical ROC polyline through (0, 0) and the points of `fprAsc`/`tprAsc`
 * (ascending false-positive rate, ties in ascending sensitivity, ending at (1, 1)): the highest sensitivity where the
 * false-positive rate 1 - sp is attained (within 1e-9), else linear interpolation between the neighbouring points
 * (pROC's coords(input = "specificity")).
 */
export function sensitivityAtSpecificity(fprAsc: ArrayLike<number>, tprAsc: ArrayLike<number>, sp: number): number {
  const f = 1 - sp;
  const n = fprAsc.length;
  let below = -1; // last point with fpr < f
  let best = -1; // highest tpr with fpr == f
  for (let k = 0; k < n; k++) {
    const x = fprAsc[k];
    if (Math.abs(x - f) <= 1e-9) best = Math.max(best, tprAsc[k]);
    else if (x < f) below = k;
    else {
      if (best >= 0) return best;
      if (below < 0) return tprAsc[k];
      const t = (f - fprAsc[below]) / (x - fprAsc[below]);
      return tprAsc[below] + t * (tprAsc[k] - tprAsc[below]);
    }
  }
  return best >= 0 ? best : tprAsc[n - 1];
}

/**
 * Sensitivities at ascending false-positive rates `fAsc` on the ROC polyline through (0, 0) and (fpr[k], tpr[k])
 * (ascending), by one sweep; the same values as {@link sensitivityAtSpecificity} at each 1 - f.
 */
function sensitivitiesAt(fpr: ArrayLike<number>, tpr: ArrayLike<number>, n: number, fAsc: ArrayLike<number>, out: Float64Array): void {
  let k = 0; // first point with fpr >= f - 1e-9
  for (let s = 0; s < fAsc.length; s++) {
    const f = fAsc[s];
    while (k < n && fpr[k] < f - 1e-9) k++;
    if (k < n && Math.abs(fpr[k] - f) <= 1e-9) {
      let best = tpr[k];
      for (let j = k + 1; j < n && Math.abs(fpr[j] - f) <= 1e-9; j++) best = Math.max(best, tpr[j]);
      out[s] = best;
    } else if (k >= n) out[s] = tpr[n - 1];
    else if (k === 0) out[s] = tpr[0];
    else out[s] = tpr[k - 1] + ((f - fpr[k - 1]) / (fpr[k] - fpr[k - 1])) * (tpr[k] - tpr[k - 1]);
  }
}

/** Options of {@link rocSensitivityBand}. */
export interface RocBandOptions {
  /** Score of each lesion or patient (dose [Gy]); called positive at or above a threshold. */
  readonly doseGy: readonly number[];
  /** Whether each is a responder (positive). */
  readonly positive: readonly boolean[];
  /** Cluster id of each (e.g. patient): whole clusters are resampled; otherwise stratified resampling. */
  readonly clusters?: readonly string[];
  /** Specificities of the band; default 0, 0.01, ..., 1. */
  readonly specificities?: readonly number[];
  /** Bootstrap replicates, default 2000 (pROC's default). */
  readonly replicates?: number;
  /** Seed of the resampling (mulberry32), default 20240101. */
  readonly seed?: number;
  /** Two-sided level, default 0.05. */
  readonly alpha?: number;
}

/**
 * Pointwise bootstrap CI of the sensitivity at fixed specificities (see the module comment). Replicate b draws,
 * from one mulberry32 stream, first the responders then the non-responders (stratified; index floor(u n)), or
 * the clusters in sorted-id order (index floor(u nClusters), each bringing all its lesions). Throws StatsError
 * without both classes.
 */
export function rocSensitivityBand(opts: RocBandOptions): RocSensitivityBand {
  const { doseGy, positive } = opts;
  if (doseGy.length !== positive.length) throw new StatsError(`ROC band: ${doseGy.length} doses but ${positive.length} responses`);
  if (!positive.some(Boolean) || positive.every(Boolean)) throw new StatsError('ROC band needs responders and non-responders');
  const sp = opts.specificities ? [...opts.specificities] : Array.from({ length: 101 }, (_, k) => k / 100);
  const replicates = opts.replicates ?? 2000;
  const seed = opts.seed ?? 20240101;
  const alpha = opts.alpha ?? 0.05;
  if (!Number.isInteger(replicates) || replicates < 1) throw new StatsError(`ROC band: ${replicates} bootstrap replicates; give a positive integer`);
  // every replicate is a count of draws per original observation; the ROC of a resample is then one sweep over the
  // observations sorted once (highest dose first), ties grouped: O(n) per replicate instead of a sort
  const n = doseGy.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => doseGy[b] - doseGy[a]);
  // stratified draws address the responders and the non-responders each in row order
  const posRows = doseGy.map((_, i) => i).filter((i) => positive[i]);
  const negRows = doseGy.map((_, i) => i).filter((i) => !positive[i]);
  let groups: number[][] | undefined;
  if (opts.clusters) {
    if (opts.clusters.length !== n) throw new StatsError(`ROC band: ${opts.clusters.length} cluster ids for ${n} doses`);
    const byId = new Map<string, number[]>();
    opts.clusters.forEach((c, i) => (byId.get(c) ?? byId.set(c, []).get(c)!).push(i));
    // canonical order (ids sorted by UTF-16 code units, as roc.ts's cluster bootstrap): independent of the row order
    groups = [...byId.keys()].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0)).map((id) => byId.get(id)!);
  }
  const fAsc = sp.map((v, k) => ({ f: 1 - v, k })).sort((a, b) => a.f - b.f);
  const fGrid = Float64Array.from(fAsc.map((x) => x.f));
  const atF = new Float64Array(sp.length);
  const w = new Float64Array(n);
  const fpr = new Float64Array(n + 1);
  const tpr = new Float64Array(n + 1);
  const rng = mulberry32(seed);
  const samples: Float64Array[] = sp.map(() => new Float64Array(replicates));
  let used = 0;
  for (let b = 0; b < replicates; b++) {
    w.fill(0);
    if (groups) {
      for (let k = 0; k < groups.length; k++) for (const i of groups[Math.floor(rng() * groups.length)]) w[i]++;
    } else {
      for (let k = 0; k < posRows.length; k++) w[posRows[Math.floor(rng() * posRows.length)]]++;
      for (let k = 0; k < negRows.length; k++) w[negRows[Math.floor(rng() * negRows.length)]]++;
    }
    let n1 = 0;
    let n0 = 0;
    for (let i = 0; i < n; i++) positive[i] ? (n1 += w[i]) : (n0 += w[i]);
    if (n1 === 0 || n0 === 0) continue;
    let tp = 0;
    let fp = 0;
    let m = 1;
    fpr[0] = 0;
    tpr[0] = 0;
    for (let k = 0; k < n; k++) {
      const i = order[k];
      if (positive[i]) tp += w[i];
      else fp += w[i];
      if (k + 1 < n && doseGy[order[k + 1]] === doseGy[i]) continue;
      fpr[m] = fp / n0;
      tpr[m] = tp / n1;
      m++;
    }
    sensitivitiesAt(fpr, tpr, m, fGrid, atF);
    for (let s2 = 0; s2 < fAsc.length; s2++) samples[fAsc[s2].k][used] = atF[s2];
    used++;
  }
  if (used < 0.5 * replicates) {
    throw new StatsError(`ROC band: only ${used} of ${replicates} cluster resamples held both responders and non-responders; too few patients of one class for a cluster bootstrap`);
  }
  const low: number[] = [];
  const high: number[] = [];
  for (const s of samples) {
    const sorted = s.subarray(0, used).sort();
    low.push(quantileSorted(sorted, alpha / 2));
    high.push(quantileSorted(sorted, 1 - alpha / 2));
  }
  return { specificity: sp, sensitivityLow: low, sensitivityHigh: high, alpha, resampling: groups ? 'cluster' : 'stratified', replicates, used, seed };
}

/** A point of the logistic dose-response curve with its pointwise CI. */
export interface LogisticBandPoint {
  /** Dose [Gy]. */
  readonly doseGy: number;
  /** Fitted response probability (0..1). */
  readonly probability: number;
  readonly low: number;
  readonly high: number;
}

/**
 * Fitted response probability with its pointwise CI at each dose [Gy] of a logistic fit whose only covariate is dose:
 * expit(eta -+ z se(eta)), eta = b0 + b1 D, se(eta)^2 = V00 + 2 D V01 + D^2 V11 (delta method on the linear
 * predictor). Throws StatsError when the fit has other covariates.
 */
export function logisticProbabilityBand(fit: LogisticResult, dosesGy: readonly number[], alpha = 0.05): LogisticBandPoint[] {
  if (fit.coefficients.length !== 2) throw new StatsError('dose-response band: needs a model with dose as its only covariate');
  const b0 = fit.coefficients[0].estimate;
  const b1 = fit.coefficients[1].estimate;
  const V = fit.covariance;
  const z = normalCritical(alpha);
  const expit = (t: number) => 1 / (1 + Math.exp(-t));
  return dosesGy.map((d) => {
    const eta = b0 + b1 * d;
    const se = Math.sqrt(Math.max(0, V[0][0] + 2 * d * V[0][1] + d * d * V[1][1]));
    return { doseGy: d, probability: expit(eta), low: expit(eta - z * se), high: expit(eta + z * se) };
  });
}

/**
 * Number at risk of a Kaplan-Meier curve at each of `times`: the subjects whose time (event or censoring) is >= t,
 * i.e. n minus those with an event or a censoring strictly before t.
 */
export function numberAtRisk(curve: KmCurve, times: readonly number[]): number[] {
  return times.map((t) => {
    let gone = 0;
    for (const st of curve.steps) if (st.time < t) gone += st.events;
    for (const c of curve.censorTimes) if (c < t) gone++;
    return curve.n - gone;
  });
}

/** Box-plot statistics of one group. */
export interface BoxStats {
  readonly n: number;
  readonly q1: number;
  readonly median: number;
  readonly q3: number;
  /** Most extreme values within 1.5 IQR below Q1 and above Q3. */
  readonly whiskerLow: number;
  readonly whiskerHigh: number;
}

/** Quartiles (R type 7) and Tukey whiskers of `values` (StatsError when empty or not finite). */
export function boxStats(values: readonly number[]): BoxStats {
  if (!values.length) throw new StatsError('box plot of an empty group');
  if (values.some((v) => !Number.isFinite(v))) throw new StatsError('box plot: a value is not a finite number');
  const s = Float64Array.from(values).sort();
  const q1 = quantileSorted(s, 0.25);
  const q3 = quantileSorted(s, 0.75);
  const lo = q1 - 1.5 * (q3 - q1);
  const hi = q3 + 1.5 * (q3 - q1);
  return {
    n: s.length,
    q1,
    median: quantileSorted(s, 0.5),
    q3,
    whiskerLow: s.find((v) => v >= lo)!,
    whiskerHigh: [...s].reverse().find((v) => v <= hi)!,
  };
}
