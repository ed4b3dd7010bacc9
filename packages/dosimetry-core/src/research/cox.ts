/**
 * Cox proportional-hazards regression with Efron's handling of tied event times (Efron, JASA 1977;72:557; R's coxph
 * default), fitted by Newton-Raphson with step halving on the log partial likelihood; Wald standard errors from the
 * inverse observed information; hazard ratios exp(b) with 95 % CIs; a likelihood-ratio test of the whole model.
 * Optionally stratified: each stratum has its own baseline hazard and its own risk sets, and the log partial
 * likelihood is the sum over strata (Kalbfleisch & Prentice 2002, 4.4; R's coxph(... + strata(s))). Matches
 * statsmodels PHReg(ties='efron') and R's survival::coxph (compared in the tests).
 *
 * Efron's partial log-likelihood, for each distinct event time t with d events (set D) and risk set R(t):
 *   sum_{i in D} eta_i - sum_{l=0}^{d-1} log( S0(R) - (l/d) S0(D) ),  S0(A) = sum_{i in A} exp(eta_i),
 * with the matching score and information (Kalbfleisch & Prentice, The Statistical Analysis of Failure Time Data,
 * 2nd ed., 4.2.3).
 */
import { StatsError } from '../errors.ts';
import { cholesky, choleskyInverse, choleskySolve, firstDependentColumn, type Matrix, zeros } from './linalg.ts';
import { coefficient, type Coefficient } from './logistic.ts';
import { chiSquareSf, normalCritical } from './special.ts';

export interface CoxOptions {
  /** Follow-up time of each subject (any unit, e.g. months). */
  readonly times: readonly number[];
  /** Whether the subject had the event (true) or was censored (false) at its time. */
  readonly events: readonly boolean[];
  /** Covariate names, one per column of x. */
  readonly names: readonly string[];
  /** Covariates, one row per subject. */
  readonly x: ReadonlyArray<readonly number[]>;
  /** Stratum of each subject (undefined: one stratum). Risk sets are formed within strata. */
  readonly strata?: readonly string[];
  /** Two-sided level for CIs, default 0.05. */
  readonly alpha?: number;
  readonly maxIterations?: number;
}

export interface CoxResult {
  /** One per covariate; `ratio` is the hazard ratio. */
  readonly coefficients: Coefficient[];
  readonly covariance: Matrix;
  readonly logPartialLikelihood: number;
  readonly nullLogPartialLikelihood: number;
  /** Likelihood-ratio test of all coefficients = 0. */
  readonly lrChi2: number;
  readonly lrDf: number;
  readonly lrP: number;
  readonly iterations: number;
  readonly n: number;
  readonly nEvents: number;
  /** Number of strata (1 when unstratified). */
  readonly nStrata: number;
}

interface Eval {
  ll: number;
  grad: number[];
  info: Matrix;
}

/**
 * Log partial likelihood (Efron), score and information at beta for centred covariates; rows in `order` sorted by
 * stratum, then time; the risk-set sums restart at each stratum (stratum[i]: the subject's stratum index).
 */
function efron(x: ReadonlyArray<readonly number[]>, times: readonly number[], events: readonly boolean[], order: readonly number[], stratum: ArrayLike<number>, beta: readonly number[]): Eval {
  const p = beta.length;
  const n = order.length;
  const eta = x.map((r) => r.reduce((s, v, j) => s + v * beta[j], 0));
  const shift = Math.max(...eta); // w = exp(eta - shift) avoids overflow; log S0 adds the shift back
  const w = eta.map((e) => Math.exp(e - shift));
  let ll = 0;
  const grad = new Array<number>(p).fill(0);
  const info = zeros(p);
  // risk-set sums accumulated from the latest time backwards
  let s0 = 0;
  const s1 = new Array<number>(p).fill(0);
  const s2 = zeros(p);
  let k = n - 1;
  let current = -1;
  while (k >= 0) {
    const st = stratum[order[k]];
    if (st !== current) {
      // a new stratum (walking backwards): its risk sets hold only its own subjects
      current = st;
      s0 = 0;
      s1.fill(0);
      for (const r of s2) r.fill(0);
    }
    const t = times[order[k]];
    let d0 = 0;
    const d1 = new Array<number>(p).fill(0);
    const d2 = zeros(p);
    const xSum = new Array<number>(p).fill(0);
    let d = 0;
    let etaSum = 0;
    for (; k >= 0 && times[order[k]] === t && stratum[order[k]] === st; k--) {
      const i = order[k];
      const xi = x[i];
      s0 += w[i];
      for (let a = 0; a < p; a++) {
        s1[a] += w[i] * xi[a];
        for (let b = 0; b <= a; b++) s2[a][b] += w[i] * xi[a] * xi[b];
      }
      if (events[i]) {
        d++;
        etaSum += eta[i];
        d0 += w[i];
        for (let a = 0; a < p; a++) {
          xSum[a] += xi[a];
          d1[a] += w[i] * xi[a];
          for (let b = 0; b <= a; b++) d2[a][b] += w[i] * xi[a] * xi[b];
        }
      }
    }
    if (d === 0) continue;
    ll += etaSum;
    for (let a = 0; a < p; a++) grad[a] += xSum[a];
    for (let l = 0; l < d; l++) {
      const f = l / d;
      const c0 = s0 - f * d0;
      ll -= Math.log(c0) + shift;
      for (let a = 0; a < p; a++) {
        const c1a = s1[a] - f * d1[a];
        grad[a] -= c1a / c0;
        for (let b = 0; b <= a; b++) {
          const c1b = s1[b] - f * d1[b];
          const c2 = s2[a][b] - f * d2[a][b];
          info[a][b] += c2 / c0 - (c1a * c1b) / (c0 * c0);
        }
      }
    }
  }
  for (let a = 0; a < p; a++) for (let b = a + 1; b < p; b++) info[a][b] = info[b][a];
  return { ll, grad, info };
}

/**
 * Fits the Cox model. Errors (StatsError): no events, non-positive or non-finite times, collinear covariates (named),
 * and monotone likelihood (a covariate separates events from non-events, so a hazard ratio runs to 0 or infinity).
 */
export function coxRegression(opts: CoxOptions): CoxResult {
  const { times, events, names } = opts;
  const n = times.length;
  const p = names.length;
  if (p === 0) throw new StatsError('Cox: give at least one covariate');
  if (events.length !== n || opts.x.length !== n) throw new StatsError('Cox: times, events and covariates differ in length');
  times.forEach((t, i) => {
    if (!Number.isFinite(t) || t < 0) throw new StatsError(`Cox: follow-up time of subject ${i + 1} is ${t}; times must be finite and >= 0`);
  });
  const nEvents = events.filter(Boolean).length;
  if (nEvents === 0) throw new StatsError(`Cox: none of the ${n} subjects has an event, so hazards cannot be compared; check the event column (1 = event, 0 = censored)`);
  if (n <= p) throw new StatsError(`Cox: ${n} subjects cannot estimate ${p} coefficients`);
  if (opts.strata && opts.strata.length !== n) throw new StatsError(`Cox: ${opts.strata.length} strata labels for ${n} subjects`);
  // strata as indices in a canonical (sorted) order, so that the fit does not depend on the row order
  const labels = [...new Set(opts.strata ?? [''])].sort();
  const index = new Map(labels.map((l, k) => [l, k]));
  const stratum = Int32Array.from(opts.strata ?? new Array<string>(n).fill(''), (l) => index.get(l)!);
  // centre the covariates within each stratum: the stratified partial likelihood is invariant to a shift of the
  // covariates within a stratum, and centring keeps exp() well scaled (and shows a covariate constant within strata)
  const x = opts.x.map((r) => [...r]);
  for (let st = 0; st < labels.length; st++) {
    const members = stratum.reduce<number[]>((acc, s, i) => (s === st ? (acc.push(i), acc) : acc), []);
    for (let j = 0; j < p; j++) {
      const mean = members.reduce((s, i) => s + opts.x[i][j], 0) / members.length;
      for (const i of members) x[i][j] = opts.x[i][j] - mean;
    }
  }
  const dep = firstDependentColumn(names.map((_, j) => x.map((r) => r[j])), true);
  if (dep >= 0) {
    const within = labels.length > 1 ? ' within strata' : '';
    throw new StatsError(`Cox: covariate "${names[dep]}" is constant${within} or a linear combination of ${dep > 0 ? `the covariates before it (${names.slice(0, dep).join(', ')})` : 'nothing (constant)'}${within} (collinear); drop it`);
  }
  const order = times.map((_, i) => i).sort((a, b) => stratum[a] - stratum[b] || times[a] - times[b]);
  let beta = new Array<number>(p).fill(0);
  let ev = efron(x, times, events, order, stratum, beta);
  const ll0 = ev.ll;
  const maxIt = opts.maxIterations ?? 100;
  let converged = false;
  let it = 0;
  for (; it < maxIt; it++) {
    const L = cholesky(ev.info);
    if (!L) break;
    const step = choleskySolve(L, ev.grad);
    let t = 1;
    let nb = beta;
    let ne = ev;
    for (let h = 0; h < 30; h++) {
      nb = beta.map((b, j) => b + t * step[j]);
      ne = efron(x, times, events, order, stratum, nb);
      if (ne.ll >= ev.ll - 1e-12 * Math.abs(ev.ll)) break;
      t /= 2;
    }
    const change = Math.max(...step.map((s, j) => Math.abs(t * s) / Math.max(1, Math.abs(beta[j]))));
    beta = nb;
    ev = ne;
    if (change < 1e-10) {
      converged = true;
      it++;
      break;
    }
  }
  if (!converged) {
    throw new StatsError(`Cox: the fit did not converge (monotone likelihood: a covariate, e.g. ${names.join(' or ')}, separates subjects with events from those without, so a hazard ratio runs to 0 or infinity); use fewer covariates or more data`);
  }
  const L = cholesky(ev.info);
  if (!L) throw new StatsError('Cox: the information matrix is singular at the optimum; drop a covariate');
  const cov = choleskyInverse(L);
  const z975 = normalCritical(opts.alpha ?? 0.05);
  const coefficients = beta.map((b, j) => coefficient(names[j], b, Math.sqrt(cov[j][j]), z975));
  const lrChi2 = 2 * (ev.ll - ll0);
  return { coefficients, covariance: cov, logPartialLikelihood: ev.ll, nullLogPartialLikelihood: ll0, lrChi2, lrDf: p, lrP: chiSquareSf(lrChi2, p), iterations: it, n, nEvents, nStrata: labels.length };
}
