/**
 * Rank tests between groups: Mann-Whitney U (two groups), Kruskal-Wallis H (k groups) with pairwise Mann-Whitney
 * tests adjusted by Holm's method, plus medians and ranges per group. Conventions follow R's wilcox.test (including
 * its choice of the exact test), kruskal.test and p.adjust("holm"), which the tests compare to (and scipy.stats).
 */
import { StatsError } from '../errors.ts';
import { median, midRanks, tieTerm } from './ranks.ts';
import { chiSquareSf, normalSf } from './special.ts';

/** Per-group descriptive statistics of a dose [Gy]. */
export interface GroupSummary {
  readonly group: string;
  readonly n: number;
  readonly medianGy: number;
  readonly minGy: number;
  readonly maxGy: number;
  readonly meanGy: number;
}

/** Median, range and mean of each group's values. */
export function summarizeGroups(groups: ReadonlyArray<{ group: string; valuesGy: readonly number[] }>): GroupSummary[] {
  return groups.map(({ group, valuesGy: v }) => ({
    group,
    n: v.length,
    medianGy: v.length ? median(v) : NaN,
    minGy: v.length ? Math.min(...v) : NaN,
    maxGy: v.length ? Math.max(...v) : NaN,
    meanGy: v.length ? v.reduce((s, x) => s + x, 0) / v.length : NaN,
  }));
}

export interface MannWhitneyResult {
  /** U of the first sample: the number of pairs (x, y) with x > y, ties counting 1/2 (scipy's U1). */
  readonly u1: number;
  /** Two-sided p-value. */
  readonly p: number;
  /** 'exact' (no ties and both samples under 50, unless forced) or 'asymptotic' (normal, tie- and continuity-corrected). */
  readonly method: 'exact' | 'asymptotic';
  /** Why that method ran, in words ("no ties and both groups under 50 values (R's wilcox.test rule)"). */
  readonly methodReason: string;
  readonly n1: number;
  readonly n2: number;
  /** Whether any values are tied (the exact test then does not apply). */
  readonly ties: boolean;
}

/**
 * Exact null distribution of U for sample sizes m, n without ties: P(U = u), u = 0..mn, from the recursion
 * p_{m,n}(u) = m/(m+n) p_{m-1,n}(u - n) + n/(m+n) p_{m,n-1}(u) (Mann & Whitney, Ann Math Stat 1947;18:50), which
 * keeps every term a probability (no large counts, no cancellation). Cost O(m n^2 min(m,n)).
 */
export function mannWhitneyExactPmf(m: number, n: number): Float64Array {
  if (m > n) return mannWhitneyExactPmf(n, m); // the distribution of U is symmetric in (m, n)
  // rows[j] = distribution for (i, j) at the current i; starts with i = 0: U = 0 surely
  let prev: Float64Array[] = Array.from({ length: n + 1 }, () => Float64Array.of(1));
  for (let i = 1; i <= m; i++) {
    const cur: Float64Array[] = [Float64Array.of(1)]; // (i, 0): U = 0 surely
    for (let j = 1; j <= n; j++) {
      const d = new Float64Array(i * j + 1);
      const a = prev[j]; // (i-1, j): shift by j
      const b = cur[j - 1]; // (i, j-1)
      const wa = i / (i + j);
      const wb = j / (i + j);
      for (let u = 0; u < a.length; u++) d[u + j] += wa * a[u];
      for (let u = 0; u < b.length; u++) d[u] += wb * b[u];
      cur.push(d);
    }
    prev = cur;
  }
  return prev[n];
}

/** The exact Mann-Whitney test runs (method auto) when both samples are smaller than this and there are no ties (R's wilcox.test). */
export const MANN_WHITNEY_EXACT_BELOW = 50;

/**
 * Two-sided Mann-Whitney U test of x against y (R's wilcox.test(x, y): its W is U1).
 * U1 = R1 - n1(n1+1)/2 from mid-ranks; U = max(U1, n1 n2 - U1).
 * exact: p = 2 P(U' >= U) from the exact null distribution (capped at 1).
 * asymptotic: z = (U - n1 n2/2 - 1/2) / sigma with sigma^2 = n1 n2/12 ((N+1) - sum(t^3 - t)/(N(N-1))), p = 2 (1 - Phi(z)).
 * method 'auto' (default) chooses as R's wilcox.test does: exact when there are no ties and both samples have fewer
 * than {@link MANN_WHITNEY_EXACT_BELOW} values, else the normal approximation with continuity and tie corrections.
 */
export function mannWhitney(opts: { readonly x: readonly number[]; readonly y: readonly number[]; readonly method?: 'auto' | 'exact' | 'asymptotic' }): MannWhitneyResult {
  const { x, y } = opts;
  const n1 = x.length;
  const n2 = y.length;
  if (n1 === 0 || n2 === 0) throw new StatsError(`Mann-Whitney U needs values in both groups (got ${n1} and ${n2})`);
  const { ranks, tieSizes } = midRanks([...x, ...y]);
  let r1 = 0;
  for (let i = 0; i < n1; i++) r1 += ranks[i];
  const u1 = r1 - (n1 * (n1 + 1)) / 2;
  const u = Math.max(u1, n1 * n2 - u1);
  const ties = tieSizes.length > 0;
  let method = opts.method ?? 'auto';
  let methodReason: string;
  if (method === 'auto') {
    const small = Math.max(n1, n2) < MANN_WHITNEY_EXACT_BELOW;
    method = !ties && small ? 'exact' : 'asymptotic';
    methodReason = method === 'exact'
      ? `no ties and both groups under ${MANN_WHITNEY_EXACT_BELOW} values (R's wilcox.test rule)`
      : `${ties ? 'tied values' : `a group of ${MANN_WHITNEY_EXACT_BELOW} or more values`} (R's wilcox.test rule)`;
  } else methodReason = `--method ${method}`;
  if (method === 'exact' && ties) throw new StatsError('Mann-Whitney: the exact test assumes no ties, but the data hold tied values; use the asymptotic method');
  let p: number;
  if (method === 'exact') {
    const pmf = mannWhitneyExactPmf(n1, n2);
    let sf = 0;
    for (let k = Math.round(u); k < pmf.length; k++) sf += pmf[k];
    p = Math.min(1, 2 * sf);
  } else {
    const nn = n1 + n2;
    const sigma = Math.sqrt(((n1 * n2) / 12) * (nn + 1 - tieTerm(tieSizes) / (nn * (nn - 1))));
    if (!(sigma > 0)) throw new StatsError('Mann-Whitney: every value is identical, so the groups cannot be compared');
    p = Math.min(1, 2 * normalSf((u - (n1 * n2) / 2 - 0.5) / sigma));
  }
  return { u1, p, method, methodReason, n1, n2, ties };
}

/**
 * Holm's step-down adjustment of p-values (Holm, Scand J Stat 1979;6:65), as R's p.adjust(p, "holm"): with the
 * p-values sorted ascending p_(1) <= ... <= p_(m), adjusted p_(i) = max_{j <= i} min(1, (m - j + 1) p_(j));
 * returned in the input order.
 */
export function holmAdjust(p: readonly number[]): number[] {
  const m = p.length;
  const order = p.map((_, i) => i).sort((a, b) => p[a] - p[b]);
  const out = new Array<number>(m);
  let running = 0;
  order.forEach((i, k) => {
    running = Math.max(running, Math.min(1, (m - k) * p[i]));
    out[i] = running;
  });
  return out;
}

/** One pairwise comparison of {@link pairwiseMannWhitney}. */
export interface PairwiseComparison extends MannWhitneyResult {
  readonly groupA: string;
  readonly groupB: string;
  /** Holm-adjusted p over all pairs. */
  readonly pAdjusted: number;
}

/**
 * Mann-Whitney U between every pair of groups (A before B in the order given; U1 is A's), each choosing its method
 * as {@link mannWhitney}, with Holm-adjusted p-values over the k(k-1)/2 pairs (as R's
 * pairwise.wilcox.test(p.adjust.method = "holm")). Groups without values are left out.
 */
export function pairwiseMannWhitney(groups: ReadonlyArray<{ group: string; values: readonly number[] }>, method: 'auto' | 'exact' | 'asymptotic' = 'auto'): PairwiseComparison[] {
  const used = groups.filter((g) => g.values.length > 0);
  const raw: Array<MannWhitneyResult & { groupA: string; groupB: string }> = [];
  for (let a = 0; a < used.length; a++) {
    for (let b = a + 1; b < used.length; b++) raw.push({ groupA: used[a].group, groupB: used[b].group, ...mannWhitney({ x: used[a].values, y: used[b].values, method }) });
  }
  const adj = holmAdjust(raw.map((r) => r.p));
  return raw.map((r, k) => ({ ...r, pAdjusted: adj[k] }));
}

export interface KruskalWallisResult {
  /** Tie-corrected H statistic. */
  readonly h: number;
  readonly df: number;
  readonly p: number;
  /** Groups with at least one value, in the order given. */
  readonly groups: readonly string[];
}

/**
 * Kruskal-Wallis H test (Kruskal & Wallis, JASA 1952;47:583) with the tie correction:
 * H = [12/(N(N+1)) sum R_i^2/n_i - 3(N+1)] / [1 - sum(t^3 - t)/(N^3 - N)], p = P(chi^2_{k-1} >= H).
 * Empty groups are left out; at least two non-empty groups are needed.
 */
export function kruskalWallis(groups: ReadonlyArray<{ group: string; values: readonly number[] }>): KruskalWallisResult {
  const used = groups.filter((g) => g.values.length > 0);
  if (used.length < 2) throw new StatsError(`Kruskal-Wallis needs at least two groups with values, got ${used.length}`);
  const all = used.flatMap((g) => [...g.values]);
  const n = all.length;
  const { ranks, tieSizes } = midRanks(all);
  let off = 0;
  let s = 0;
  for (const g of used) {
    let r = 0;
    for (let i = 0; i < g.values.length; i++) r += ranks[off + i];
    s += (r * r) / g.values.length;
    off += g.values.length;
  }
  const correction = 1 - tieTerm(tieSizes) / (n * n * n - n);
  if (!(correction > 0)) throw new StatsError('Kruskal-Wallis: every value is identical, so the groups cannot be compared');
  const h = ((12 / (n * (n + 1))) * s - 3 * (n + 1)) / correction;
  const df = used.length - 1;
  return { h, df, p: chiSquareSf(h, df), groups: used.map((g) => g.group) };
}
