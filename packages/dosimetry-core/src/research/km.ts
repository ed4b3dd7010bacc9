/**
 * Kaplan-Meier survival curves with Greenwood standard errors, medians with Brookmeyer-Crowley CIs, and the
 * log-rank test across groups. Conventions follow statsmodels' SurvfuncRight and survdiff (compared in the tests).
 *
 * - S(t) = prod_{t_j <= t} (1 - d_j/n_j) (Kaplan & Meier, JASA 1958;53:457).
 * - Greenwood: se S(t) = S(t) sqrt(sum d_j/(n_j (n_j - d_j))) (Greenwood 1926).
 * - Pointwise CI on the complementary log-log scale (Kalbfleisch & Prentice 2002, 1.3; R's survfit conf.type
 *   "log-log"): exp(-exp(log(-log S) -+ z se_G / |log S|)) where se_G^2 = sum d/(n(n-d)); undefined where S is 0 or 1.
 *   Or on the log scale (R's survfit default, conf.type "log"): S exp(-+ z se_G), the upper bound capped at 1;
 *   undefined where S is 0.
 * - Median: the first event time with S(t) < 0.5 (strict, so where S is exactly 0.5 on a stretch the next event time
 *   is taken, as statsmodels; R's survival takes the midpoint there);
 *   null when S never falls below 0.5. CI (Brookmeyer & Crowley, Biometrics 1982;38:29; SAS LIFETEST, statsmodels
 *   quantile_ci 'cloglog'): the event times whose |g(S) - g(0.5)| / (g'(S) se S) <= z, g = log(-log); the lower bound
 *   is the first such time, the upper bound the event time after the last such one (null = not reached).
 * - Log-rank (Mantel 1966; Peto & Peto 1972): at each event time E_k = d n_k/n and
 *   V_kl = d (n - d)/(n - 1) (n_k/n)(delta_kl - n_l/n); chi^2 = (O - E)' V^- (O - E) over k - 1 groups, df = k - 1.
 */
import { StatsError } from '../errors.ts';
import { cholesky, choleskySolve } from './linalg.ts';
import { chiSquareSf, normalCritical } from './special.ts';

/** One step of a Kaplan-Meier curve: at each distinct event time. */
export interface KmStep {
  readonly time: number;
  readonly atRisk: number;
  readonly events: number;
  readonly survival: number;
  /** Greenwood standard error of S. */
  readonly se: number;
  /** Pointwise CI (log-log, or log when asked), null where undefined (S = 0, or 1 on the log-log scale). */
  readonly ciLow: number | null;
  readonly ciHigh: number | null;
}

export interface KmCurve {
  readonly group: string;
  readonly n: number;
  readonly events: number;
  readonly steps: KmStep[];
  /** Censoring times (for tick marks on plots). */
  readonly censorTimes: number[];
  /** Median survival time, null if not reached. */
  readonly median: number | null;
  /** Brookmeyer-Crowley CI of the median; a null bound is not estimable/not reached. */
  readonly medianCi: readonly [number | null, number | null];
}

/** Kaplan-Meier estimate for one group. */
export function kaplanMeier(opts: {
  readonly times: readonly number[];
  readonly events: readonly boolean[];
  readonly group?: string;
  readonly alpha?: number;
  /** Scale of the pointwise CI: 'log-log' (default) or 'log' (R's survfit default). */
  readonly confType?: 'log-log' | 'log';
}): KmCurve {
  const { times, events } = opts;
  if (times.length === 0) throw new StatsError(`Kaplan-Meier: group "${opts.group ?? ''}" has no subjects`);
  times.forEach((t, i) => {
    if (!Number.isFinite(t) || t < 0) throw new StatsError(`Kaplan-Meier: time of subject ${i + 1} is ${t}; times must be finite and >= 0`);
  });
  const z = normalCritical(opts.alpha ?? 0.05);
  const order = times.map((_, i) => i).sort((a, b) => times[a] - times[b]);
  let atRisk = times.length;
  let s = 1;
  let gw = 0;
  const steps: KmStep[] = [];
  const censorTimes: number[] = [];
  for (let k = 0; k < order.length;) {
    const t = times[order[k]];
    let d = 0, c = 0;
    for (; k < order.length && times[order[k]] === t; k++) events[order[k]] ? d++ : c++;
    if (d > 0) {
      s *= 1 - d / atRisk;
      gw += atRisk > d ? d / (atRisk * (atRisk - d)) : NaN; // S reaches 0: variance undefined from here
      const se = s * Math.sqrt(gw);
      let lo: number | null = null, hi: number | null = null;
      if (opts.confType === 'log') {
        if (s > 0 && Number.isFinite(gw)) {
          lo = s * Math.exp(-z * Math.sqrt(gw));
          hi = Math.min(1, s * Math.exp(z * Math.sqrt(gw)));
        }
      } else if (s > 0 && s < 1 && Number.isFinite(gw)) {
        const ls = Math.log(s);
        const half = (z * Math.sqrt(gw)) / Math.abs(ls);
        lo = Math.exp(-Math.exp(Math.log(-ls) + half));
        hi = Math.exp(-Math.exp(Math.log(-ls) - half));
      }
      steps.push({ time: t, atRisk, events: d, survival: s, se: Number.isFinite(se) ? se : 0, ciLow: lo, ciHigh: hi });
    }
    if (c > 0) for (let j = 0; j < c; j++) censorTimes.push(t);
    atRisk -= d + c;
  }
  // S is a product of rounded factors: a mathematically exact 0.5 may come out as 0.49999999999999994, so "below"
  // means below 0.5 by more than 1e-12
  const firstBelow = steps.findIndex((st) => st.survival < 0.5 - 1e-12);
  const median = firstBelow >= 0 ? steps[firstBelow].time : null;
  // Brookmeyer-Crowley interval by inverting z-tests on the cloglog scale (as statsmodels' quantile_ci)
  const g = (v: number) => Math.log(-Math.log(v));
  const gp = (v: number) => -1 / (v * Math.log(v));
  const inside = steps.map((st) => {
    const r = (g(st.survival) - g(0.5)) / (gp(st.survival) * st.se);
    return Math.abs(r) <= z;
  });
  const first = inside.indexOf(true);
  const last = inside.lastIndexOf(true);
  const medianCi: [number | null, number | null] = first < 0 ? [null, null] : [steps[first].time, last === steps.length - 1 ? null : steps[last + 1].time];
  return { group: opts.group ?? 'all', n: times.length, events: steps.reduce((a, st) => a + st.events, 0), steps, censorTimes, median, medianCi };
}

export interface LogRankResult {
  readonly chi2: number;
  readonly df: number;
  readonly p: number;
  readonly observed: number[];
  readonly expected: number[];
  readonly groups: string[];
}

/** Log-rank test of equal survival across the groups (in order of `groups`). */
export function logRank(opts: { readonly times: readonly number[]; readonly events: readonly boolean[]; readonly group: readonly string[]; readonly groups?: readonly string[] }): LogRankResult {
  const { times, events, group } = opts;
  const groups = opts.groups ? [...opts.groups] : [...new Set(group)];
  const g = groups.length;
  if (g < 2) throw new StatsError(`log-rank test needs at least two groups, got ${g}`);
  if (!events.some(Boolean)) throw new StatsError('log-rank test: there are no events, so survival cannot be compared; check the event column (1 = event, 0 = censored)');
  const gi = group.map((x) => groups.indexOf(x));
  const order = times.map((_, i) => i).filter((i) => gi[i] >= 0).sort((a, b) => times[a] - times[b]);
  const nk = new Array<number>(g).fill(0);
  for (const i of order) nk[gi[i]]++;
  const O = new Array<number>(g).fill(0);
  const E = new Array<number>(g).fill(0);
  const V = Array.from({ length: g }, () => new Array<number>(g).fill(0));
  for (let k = 0; k < order.length;) {
    const t = times[order[k]];
    const dk = new Array<number>(g).fill(0);
    const leave = new Array<number>(g).fill(0);
    for (; k < order.length && times[order[k]] === t; k++) {
      const i = order[k];
      leave[gi[i]]++;
      if (events[i]) dk[gi[i]]++;
    }
    const n = nk.reduce((a, b) => a + b, 0);
    const d = dk.reduce((a, b) => a + b, 0);
    if (d > 0) {
      for (let a = 0; a < g; a++) {
        O[a] += dk[a];
        E[a] += (d * nk[a]) / n;
        if (n > 1) {
          const f = (d * (n - d)) / (n - 1);
          for (let b = 0; b < g; b++) V[a][b] += f * (nk[a] / n) * ((a === b ? 1 : 0) - nk[b] / n);
        }
      }
    }
    for (let a = 0; a < g; a++) nk[a] -= leave[a];
  }
  // drop the last group (V is singular: rows sum to zero)
  const u = O.slice(0, g - 1).map((o, a) => o - E[a]);
  const Vr = V.slice(0, g - 1).map((r) => r.slice(0, g - 1));
  const L = cholesky(Vr);
  if (!L) throw new StatsError('log-rank test: the variance matrix is singular (a group has no subject at risk at any event time)');
  const s = choleskySolve(L, u);
  const chi2 = u.reduce((a, v, k) => a + v * s[k], 0);
  return { chi2, df: g - 1, p: chiSquareSf(chi2, g - 1), observed: O, expected: E, groups };
}
