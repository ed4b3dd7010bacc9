/**
 * ROC analysis of dose against a binary response: responders are positive, and a lesion is called a responder when
 * its dose is at or above the threshold.
 *
 * - AUC: the Mann-Whitney form, P(dose_pos > dose_neg) + P(tie)/2 (equals sklearn.metrics.roc_auc_score).
 * - 95 % CI: DeLong, DeLong & Clarke-Pearson (Biometrics 1988;44:837) with the mid-rank structural components of
 *   Sun & Xu (IEEE Signal Process Lett 2014;21:1389); Wald interval AUC +- z se clipped to [0, 1] (as pROC).
 *   With clusters (lesions nested in patients) the CI is a percentile cluster bootstrap instead: whole patients are
 *   resampled with replacement (Obuchowski, Biometrics 1997;53:567 motivates clustering; the percentile bootstrap
 *   follows Efron & Tibshirani 1993), with a fixed seed so results are reproducible, and clusters taken in a
 *   canonical order (sorted ids) so that the CI does not depend on the order of the rows. Below
 *   {@link MIN_BOOTSTRAP_CLUSTERS} clusters a warning says the interval is unreliable.
 * - Youden cutoff: the observed dose maximising J = sensitivity + specificity - 1 (Youden, Cancer 1950;3:32);
 *   among thresholds with the same maximal J (within 1e-12) the LOWEST is taken (the most sensitive one).
 */
import { StatsError } from '../errors.ts';
import { midRanks, mulberry32, quantileSorted } from './ranks.ts';
import { normalCritical } from './special.ts';

/**
 * Most bootstrap replicates accepted: 100 000. The percentile CI's Monte Carlo error is already below 0.001 in AUC at
 * a few thousand replicates (Efron & Tibshirani 1993 advise 1000-2000 for percentile intervals); far larger counts
 * only stall the run (each replicate re-ranks every lesion), and a mistyped 1e9 would run for days.
 */
export const MAX_BOOTSTRAP_REPLICATES = 100_000;
/** Fewest bootstrap replicates accepted (percentile tails need at least a hundred). */
export const MIN_BOOTSTRAP_REPLICATES = 100;
/**
 * Fewest clusters for a trustworthy cluster bootstrap: with fewer, the resamples take few distinct values and the
 * percentile interval undercovers (Field & Welsh, JRSS B 2007;69:369; Cameron, Gelbach & Miller, Rev Econ Stat
 * 2008;90:414 find cluster-robust inference poor below about 10 clusters); the result then carries a warning.
 */
export const MIN_BOOTSTRAP_CLUSTERS = 10;

/** Largest seed: the generator (mulberry32) keeps 32 bits, so larger or negative seeds would alias smaller ones. */
export const MAX_BOOTSTRAP_SEED = 4_294_967_295;

/** Checks a replicate count and a seed for the cluster bootstrap (StatsError naming the range and the reason). */
export function checkBootstrapSettings(replicates: number, seed: number): void {
  if (!Number.isInteger(replicates) || replicates < MIN_BOOTSTRAP_REPLICATES || replicates > MAX_BOOTSTRAP_REPLICATES) {
    throw new StatsError(
      `bootstrap replicates ${replicates}: give an integer from ${MIN_BOOTSTRAP_REPLICATES} to ${MAX_BOOTSTRAP_REPLICATES} (2000 is the default; more than ${MAX_BOOTSTRAP_REPLICATES} does not change a percentile CI and only stalls the run)`,
    );
  }
  if (!Number.isInteger(seed) || seed < 0 || seed > MAX_BOOTSTRAP_SEED) {
    throw new StatsError(`bootstrap seed ${seed}: give an integer from 0 to ${MAX_BOOTSTRAP_SEED} (the generator keeps 32 bits: other values would repeat another seed's resamples)`);
  }
}

/** One point of the empirical ROC curve: calling "responder" when dose >= threshold. */
export interface RocPoint {
  /** Dose threshold [Gy] (an observed dose). */
  readonly threshold: number;
  /** Sensitivity at this threshold (true-positive rate, 0..1). */
  readonly tpr: number;
  /** 1 - specificity (false-positive rate, 0..1). */
  readonly fpr: number;
}

/** Confusion counts at a threshold. */
export interface ConfusionCounts {
  readonly tp: number;
  readonly fp: number;
  readonly tn: number;
  readonly fn: number;
}

export interface RocOptions {
  /** Dose of each lesion/patient [Gy] (any continuous score works). */
  readonly doseGy: readonly number[];
  /** Whether each is a responder (positive). */
  readonly positive: readonly boolean[];
  /** Optional cluster id of each (e.g. patient): switches the CI to a cluster bootstrap. */
  readonly clusters?: readonly string[];
  /** Two-sided level, default 0.05 (95 % CI). */
  readonly alpha?: number;
  /** Bootstrap replicates (cluster CI only), default 2000, at most {@link MAX_BOOTSTRAP_REPLICATES}. */
  readonly bootstrapReplicates?: number;
  /** Bootstrap seed (cluster CI only), default 20240101; an integer in [0, 2^32 - 1]. */
  readonly bootstrapSeed?: number;
}

export interface RocResult {
  readonly auc: number;
  readonly aucCi95: readonly [number, number];
  /** 'delong' or 'cluster-bootstrap'. */
  readonly aucCiMethod: 'delong' | 'cluster-bootstrap';
  /** DeLong standard error of the AUC (also given when the CI is bootstrapped, for comparison; it ignores clustering). */
  readonly aucSeDeLong: number;
  /** Youden cutoff [Gy]: an observed dose. */
  readonly cutoff: number;
  readonly youdenJ: number;
  readonly sensitivity: number;
  readonly specificity: number;
  readonly ppv: number;
  readonly npv: number;
  readonly accuracy: number;
  readonly counts: ConfusionCounts;
  /** Distinct observed doses, highest first; the last point has tpr = fpr = 1. */
  readonly curve: RocPoint[];
  readonly nPositive: number;
  readonly nNegative: number;
  /** Bootstrap details (cluster CI only). */
  readonly bootstrap?: { readonly replicates: number; readonly used: number; readonly seed: number; readonly clusters: number };
  /** Cautions about the result (e.g. a cluster bootstrap over fewer than {@link MIN_BOOTSTRAP_CLUSTERS} clusters). */
  readonly warnings: string[];
}

/** AUC (Mann-Whitney form) of scores split into positives and negatives, via mid-ranks: (R_pos - n1(n1+1)/2)/(n1 n0). */
export function aucMannWhitney(pos: readonly number[], neg: readonly number[]): number {
  const n1 = pos.length;
  const n0 = neg.length;
  const { ranks } = midRanks([...pos, ...neg]);
  let r = 0;
  for (let i = 0; i < n1; i++) r += ranks[i];
  return (r - (n1 * (n1 + 1)) / 2) / (n1 * n0);
}

/**
 * DeLong AUC and its standard error. Structural components from mid-ranks (Sun & Xu 2014):
 * V10_i = (Tz_i - Tx_i)/n0 for positive i, V01_j = 1 - (Tz_j - Ty_j)/n1 for negative j (Tz: mid-rank among all,
 * Tx/Ty: among its own class); var(AUC) = s^2(V10)/n1 + s^2(V01)/n0 with n-1 denominators.
 */
export function delongAuc(pos: readonly number[], neg: readonly number[]): { auc: number; se: number } {
  const n1 = pos.length;
  const n0 = neg.length;
  const tz = midRanks([...pos, ...neg]).ranks;
  const tx = midRanks(pos).ranks;
  const ty = midRanks(neg).ranks;
  const v10 = pos.map((_, i) => (tz[i] - tx[i]) / n0);
  const v01 = neg.map((_, j) => 1 - (tz[n1 + j] - ty[j]) / n1);
  const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;
  const auc = mean(v10);
  const variance = (a: number[], m: number) => (a.length > 1 ? a.reduce((s, v) => s + (v - m) ** 2, 0) / (a.length - 1) : 0);
  const s10 = variance(v10, auc);
  const s01 = variance(v01, mean(v01));
  return { auc, se: Math.sqrt(s10 / n1 + s01 / n0) };
}

/** Empirical ROC curve at every distinct observed dose (highest first), calling dose >= threshold positive. */
export function rocCurve(doseGy: readonly number[], positive: readonly boolean[]): RocPoint[] {
  const n1 = positive.filter(Boolean).length;
  const n0 = positive.length - n1;
  const order = doseGy.map((_, i) => i).sort((a, b) => doseGy[b] - doseGy[a]);
  const curve: RocPoint[] = [];
  let tp = 0;
  let fp = 0;
  for (let k = 0; k < order.length; k++) {
    const i = order[k];
    if (positive[i]) tp++;
    else fp++;
    if (k + 1 < order.length && doseGy[order[k + 1]] === doseGy[i]) continue;
    curve.push({ threshold: doseGy[i], tpr: tp / n1, fpr: fp / n0 });
  }
  return curve;
}

/** Confusion counts when dose >= thresholdGy is called a responder. */
export function confusionAt(doseGy: readonly number[], positive: readonly boolean[], thresholdGy: number): ConfusionCounts {
  let tp = 0, fp = 0, tn = 0, fn = 0;
  doseGy.forEach((d, i) => {
    const called = d >= thresholdGy;
    if (positive[i]) called ? tp++ : fn++;
    else called ? fp++ : tn++;
  });
  return { tp, fp, tn, fn };
}

/** Checks the inputs shared by ROC and the logistic fit; throws StatsError with the fix. */
function checkInputs(doseGy: readonly number[], positive: readonly boolean[]): void {
  if (doseGy.length !== positive.length) throw new StatsError(`ROC: ${doseGy.length} doses but ${positive.length} responses; give one response per dose`);
  doseGy.forEach((d, i) => {
    if (!Number.isFinite(d)) throw new StatsError(`ROC: dose ${i + 1} is not a finite number (${d})`);
  });
  const n1 = positive.filter(Boolean).length;
  const n0 = positive.length - n1;
  if (n1 === 0 || n0 === 0) {
    throw new StatsError(`ROC needs responders and non-responders, but all ${positive.length} are ${n1 ? 'responders' : 'non-responders'}; check --positive and the response column`);
  }
}

/** Full ROC analysis (see the module comment for methods and the tie-breaking rule). */
export function rocAnalysis(opts: RocOptions): RocResult {
  const { doseGy, positive } = opts;
  checkInputs(doseGy, positive);
  if (!opts.clusters && (opts.bootstrapReplicates !== undefined || opts.bootstrapSeed !== undefined)) {
    throw new StatsError('bootstrap replicates and seed apply to the cluster bootstrap only: give the clusters (--cluster-column), or leave them out for the DeLong CI');
  }
  const alpha = opts.alpha ?? 0.05;
  const z = normalCritical(alpha);
  const pos = doseGy.filter((_, i) => positive[i]);
  const neg = doseGy.filter((_, i) => !positive[i]);
  const { auc, se } = delongAuc(pos, neg);
  let ci: [number, number] = [Math.max(0, auc - z * se), Math.min(1, auc + z * se)];
  let bootstrap: RocResult['bootstrap'];
  const warnings: string[] = [];
  if (opts.clusters) {
    const b = clusterBootstrapAuc({ doseGy, positive, clusters: opts.clusters, replicates: opts.bootstrapReplicates ?? 2000, seed: opts.bootstrapSeed ?? 20240101, alpha });
    ci = b.ci;
    bootstrap = { replicates: b.replicates, used: b.used, seed: b.seed, clusters: b.clusters };
    warnings.push(...b.warnings);
  }
  const curve = rocCurve(doseGy, positive);
  // Youden: maximal J; ties (within 1e-12) resolved to the lowest threshold. The curve runs from high to low
  // thresholds, so ">=" keeps the last (lowest) of equal maxima.
  const maxJ = Math.max(...curve.map((p) => p.tpr - p.fpr));
  let best = 0;
  curve.forEach((p, k) => {
    if (p.tpr - p.fpr >= maxJ - 1e-12) best = k;
  });
  const cutoff = curve[best].threshold;
  const counts = confusionAt(doseGy, positive, cutoff);
  const { tp, fp, tn, fn } = counts;
  return {
    auc,
    aucCi95: ci,
    aucCiMethod: opts.clusters ? 'cluster-bootstrap' : 'delong',
    aucSeDeLong: se,
    cutoff,
    youdenJ: curve[best].tpr - curve[best].fpr,
    sensitivity: tp / (tp + fn),
    specificity: tn / (tn + fp),
    ppv: tp + fp > 0 ? tp / (tp + fp) : NaN,
    npv: tn + fn > 0 ? tn / (tn + fn) : NaN,
    accuracy: (tp + tn) / doseGy.length,
    counts,
    curve,
    nPositive: pos.length,
    nNegative: neg.length,
    ...(bootstrap ? { bootstrap } : {}),
    warnings,
  };
}

/**
 * Percentile cluster-bootstrap CI of the AUC. The clusters are put in a canonical order, their ids sorted by UTF-16
 * code units (as JavaScript's and Python's default sorts), so that shuffled rows give the identical CI; each
 * replicate draws as many clusters as there are, uniformly with replacement (index floor(u * nClusters) into that
 * order, u from mulberry32(seed)), and pools their lesions; replicates that hold only one response class are
 * skipped (counted in `used`). Quantiles: linear interpolation (numpy's default). Fewer than
 * {@link MIN_BOOTSTRAP_CLUSTERS} clusters give a warning.
 */
export function clusterBootstrapAuc(opts: {
  readonly doseGy: readonly number[];
  readonly positive: readonly boolean[];
  readonly clusters: readonly string[];
  readonly replicates: number;
  readonly seed: number;
  readonly alpha?: number;
}): { ci: [number, number]; replicates: number; used: number; seed: number; clusters: number; aucs: Float64Array; warnings: string[] } {
  const { doseGy, positive, clusters, replicates, seed } = opts;
  checkBootstrapSettings(replicates, seed);
  if (clusters.length !== doseGy.length) throw new StatsError(`ROC: ${clusters.length} cluster ids for ${doseGy.length} doses`);
  const alpha = opts.alpha ?? 0.05;
  const members = new Map<string, number[]>();
  clusters.forEach((c, i) => {
    const m = members.get(c);
    if (m) m.push(i);
    else members.set(c, [i]);
  });
  // canonical order: sorted ids (the AUC of a resample does not depend on the order of its lesions: mid-rank sums
  // of halves and integers are exact), so the resamples, and the CI, are independent of the row order
  const ids = [...members.keys()].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
  const groups = ids.map((c) => members.get(c)!);
  if (groups.length < 2) throw new StatsError(`ROC cluster bootstrap needs at least 2 clusters (patients), got ${groups.length}; drop --cluster-column`);
  const rng = mulberry32(seed);
  const aucs: number[] = [];
  for (let b = 0; b < replicates; b++) {
    const pos: number[] = [];
    const neg: number[] = [];
    for (let k = 0; k < groups.length; k++) {
      const g = groups[Math.floor(rng() * groups.length)];
      for (const i of g) (positive[i] ? pos : neg).push(doseGy[i]);
    }
    if (pos.length === 0 || neg.length === 0) continue;
    aucs.push(aucMannWhitney(pos, neg));
  }
  if (aucs.length < 0.5 * replicates) {
    throw new StatsError(`ROC cluster bootstrap: only ${aucs.length} of ${replicates} resamples held both responders and non-responders; too few patients of one class for a cluster bootstrap`);
  }
  const sorted = Float64Array.from(aucs).sort();
  const warnings = groups.length < MIN_BOOTSTRAP_CLUSTERS
    ? [`cluster bootstrap over only ${groups.length} clusters (fewer than ${MIN_BOOTSTRAP_CLUSTERS}): the percentile CI takes few distinct values and is too narrow; report it with caution, or give the DeLong CI (no --cluster-column) alongside`]
    : [];
  return {
    warnings,
    ci: [quantileSorted(sorted, alpha / 2), quantileSorted(sorted, 1 - alpha / 2)],
    replicates,
    used: aucs.length,
    seed,
    clusters: groups.length,
    aucs: Float64Array.from(aucs),
  };
}
