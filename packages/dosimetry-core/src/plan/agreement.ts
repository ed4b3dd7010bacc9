/**
 * Agreement between predicted (planned, e.g. from the 99mTc-MAA scout) and achieved (post-treatment) doses,
 * paired over lesions or structures: per-pair differences and ratios, Bland-Altman limits of agreement, and
 * Lin's concordance correlation coefficient. Pure functions on plain arrays; any unit, the same for both.
 * Convention: difference = achieved - predicted, ratio = achieved / predicted.
 */
import { StatsError } from '../errors.ts';

/** Paired values: predicted[i] and achieved[i] belong to the same lesion/structure. */
export interface PairedValues {
  readonly predicted: readonly number[];
  readonly achieved: readonly number[];
  /** Optional name of each pair (lesion, structure); default "pair <n>" (1-based). */
  readonly labels?: readonly string[];
}

/** One pair compared. */
export interface PairComparison {
  readonly label: string;
  readonly predicted: number;
  readonly achieved: number;
  /** achieved - predicted. */
  readonly difference: number;
  /** achieved / predicted; null when predicted is 0. */
  readonly ratio: number | null;
  /** 100 x (achieved - predicted) / predicted [%]; null when predicted is 0. */
  readonly percentDifference: number | null;
  /** (predicted + achieved) / 2, the x axis of a Bland-Altman plot. */
  readonly mean: number;
}

function checkPairs(p: PairedValues, minN: number): number {
  const n = p.predicted?.length ?? 0;
  if (n !== (p.achieved?.length ?? -1)) {
    throw new StatsError(`predicted and achieved have different lengths (${n} and ${p.achieved?.length ?? 0}): give one value of each per lesion`);
  }
  if (p.labels && p.labels.length !== n) throw new StatsError(`${p.labels.length} labels for ${n} pairs: give one label per pair`);
  if (n < minN) throw new StatsError(`${n} pairs: at least ${minN} are needed`);
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(p.predicted[i]) || !Number.isFinite(p.achieved[i])) {
      throw new StatsError(`pair ${p.labels?.[i] ?? i + 1} holds a non-finite value (${p.predicted[i]}, ${p.achieved[i]}): remove it or fix its dose`);
    }
  }
  return n;
}

/** Per-pair difference, ratio and percentage difference (convention in the module comment). */
export function comparePairs(pairs: PairedValues): PairComparison[] {
  const n = checkPairs(pairs, 0);
  const out: PairComparison[] = [];
  for (let i = 0; i < n; i++) {
    const p = pairs.predicted[i], a = pairs.achieved[i];
    out.push({
      label: pairs.labels?.[i] ?? `pair ${i + 1}`,
      predicted: p,
      achieved: a,
      difference: a - p,
      ratio: p === 0 ? null : a / p,
      percentDifference: p === 0 ? null : (100 * (a - p)) / p,
      mean: (p + a) / 2,
    });
  }
  return out;
}

/**
 * Scale of a Bland-Altman analysis: 'difference' (a - p), 'ratio' (a / p, needs p > 0) or 'log-ratio'
 * (ln a - ln p, needs both > 0; limits back-transformed to ratios, Bland & Altman 1999).
 */
export type BlandAltmanScale = 'difference' | 'ratio' | 'log-ratio';

/** Multiplier of the 95 % limits of agreement, as in Bland & Altman (Lancet 1986;1:307). */
export const BLAND_ALTMAN_Z = 1.96;

/** Result of {@link blandAltman}; bias, sd and limits on the analysed scale. */
export interface BlandAltmanResult {
  readonly scale: BlandAltmanScale;
  readonly n: number;
  /** Mean of the analysed quantity (mean difference, mean ratio or mean log ratio). */
  readonly bias: number;
  /** Sample standard deviation (n - 1) of the analysed quantity. */
  readonly sd: number;
  /** bias - 1.96 sd. */
  readonly lowerLimit: number;
  /** bias + 1.96 sd. */
  readonly upperLimit: number;
  /** log-ratio only: exp(bias), exp(lower), exp(upper), as ratios achieved/predicted; else null. */
  readonly ratioScale: { readonly geometricMeanRatio: number; readonly lowerRatio: number; readonly upperRatio: number } | null;
  /** The analysed value of each pair, in input order. */
  readonly values: readonly number[];
  /** (predicted + achieved) / 2 of each pair (the plot's x axis). */
  readonly means: readonly number[];
}

/**
 * Bland-Altman analysis (Bland & Altman, Lancet 1986;1:307; on ratios/logs: Stat Methods Med Res 1999;8:135):
 * bias = mean of the per-pair values, sd with n - 1, 95 % limits = bias +- 1.96 sd. Needs >= 2 pairs.
 */
export function blandAltman(pairs: PairedValues & { readonly scale?: BlandAltmanScale }): BlandAltmanResult {
  const scale = pairs.scale ?? 'difference';
  if (scale !== 'difference' && scale !== 'ratio' && scale !== 'log-ratio') {
    throw new StatsError(`unknown Bland-Altman scale "${String(scale)}": use difference, ratio or log-ratio`);
  }
  const n = checkPairs(pairs, 2);
  const values: number[] = [];
  const means: number[] = [];
  for (let i = 0; i < n; i++) {
    const p = pairs.predicted[i], a = pairs.achieved[i];
    if (scale !== 'difference' && (p <= 0 || (scale === 'log-ratio' && a <= 0))) {
      throw new StatsError(
        `pair ${pairs.labels?.[i] ?? i + 1} (${p}, ${a}): the ${scale} scale needs positive values${scale === 'ratio' ? ' of predicted' : ''}; use the difference scale`,
      );
    }
    values.push(scale === 'difference' ? a - p : scale === 'ratio' ? a / p : Math.log(a) - Math.log(p));
    means.push((p + a) / 2);
  }
  let bias = 0;
  for (const v of values) bias += v;
  bias /= n;
  let ss = 0;
  for (const v of values) ss += (v - bias) ** 2;
  const sd = Math.sqrt(ss / (n - 1));
  const lowerLimit = bias - BLAND_ALTMAN_Z * sd;
  const upperLimit = bias + BLAND_ALTMAN_Z * sd;
  return {
    scale,
    n,
    bias,
    sd,
    lowerLimit,
    upperLimit,
    ratioScale: scale === 'log-ratio' ? { geometricMeanRatio: Math.exp(bias), lowerRatio: Math.exp(lowerLimit), upperRatio: Math.exp(upperLimit) } : null,
    values,
    means,
  };
}

/** Standard normal quantile for a two-sided 95 % interval. */
const Z_975 = 1.959963984540054;

/** Result of {@link linConcordance}. */
export interface LinConcordanceResult {
  readonly n: number;
  /** Concordance correlation coefficient rho_c in [-1, 1]. */
  readonly ccc: number;
  /** 95 % confidence interval of rho_c by Fisher's z; null when undefined (r = 0, zero variance). */
  readonly ci95: readonly [number, number] | null;
  /** Pearson correlation r (precision); null when a variance is 0. */
  readonly pearsonR: number | null;
  /** Bias correction factor C_b = rho_c / r (accuracy); null when r is null or 0. */
  readonly biasCorrection: number | null;
}

/**
 * Lin's concordance correlation coefficient (Lin, Biometrics 1989;45:255; correction Biometrics 2000;56:324):
 * rho_c = 2 s_xy / (s_x^2 + s_y^2 + (xbar - ybar)^2), moments with divisor n. 95 % CI: z = atanh(rho_c) +-
 * 1.96 sigma_z, back through tanh, with
 * sigma_z^2 = [ (1 - r^2) rho_c^2 / ((1 - rho_c^2) r^2) + 2 rho_c^3 (1 - rho_c) u^2 / (r (1 - rho_c^2)^2)
 *             - rho_c^4 u^4 / (2 r^2 (1 - rho_c^2)^2) ] / (n - 2),   u = (xbar - ybar) / sqrt(s_x s_y).
 * x = predicted, y = achieved. Needs >= 3 pairs.
 */
export function linConcordance(pairs: PairedValues): LinConcordanceResult {
  const n = checkPairs(pairs, 3);
  const x = pairs.predicted, y = pairs.achieved;
  let mx = 0, my = 0;
  for (let i = 0; i < n; i++) {
    mx += x[i];
    my += y[i];
  }
  mx /= n;
  my /= n;
  let sxx = 0, syy = 0, sxy = 0;
  for (let i = 0; i < n; i++) {
    sxx += (x[i] - mx) ** 2;
    syy += (y[i] - my) ** 2;
    sxy += (x[i] - mx) * (y[i] - my);
  }
  sxx /= n;
  syy /= n;
  sxy /= n;
  const denom = sxx + syy + (mx - my) ** 2;
  if (!(denom > 0)) throw new StatsError('all predicted and achieved values are the same number: the concordance coefficient is undefined');
  const ccc = (2 * sxy) / denom;
  if (!(sxx > 0 && syy > 0)) return { n, ccc, ci95: null, pearsonR: null, biasCorrection: null };
  const r = sxy / Math.sqrt(sxx * syy);
  const biasCorrection = r === 0 ? null : ccc / r;
  let ci95: readonly [number, number] | null = null;
  // |rho_c| within 1e-12 of 1: atanh diverges, the interval collapses onto the estimate.
  if (1 - Math.abs(ccc) < 1e-12) ci95 = [ccc, ccc];
  else if (r !== 0) {
    const u2 = (mx - my) ** 2 / Math.sqrt(sxx * syy);
    const c2 = ccc * ccc, one = 1 - c2;
    const varZ =
      ((1 - r * r) * c2 / (one * r * r) + (2 * ccc ** 3 * (1 - ccc) * u2) / (r * one * one) - (ccc ** 4 * u2 * u2) / (2 * r * r * one * one)) / (n - 2);
    if (varZ >= 0 && Number.isFinite(varZ)) {
      const z = Math.atanh(ccc), h = Z_975 * Math.sqrt(varZ);
      ci95 = [Math.tanh(z - h), Math.tanh(z + h)];
    }
  }
  return { n, ccc, ci95, pearsonR: r, biasCorrection };
}
