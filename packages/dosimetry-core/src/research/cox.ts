/**
 * Cox proportional-hazards regression with Efron's handling of tied event times (Efron, JASA 1977;72:557), fitted
 * by Newton-Raphson with step halving on the log partial likelihood; Wald standard errors from the inverse observed
 * information; hazard ratios exp(b) with 95 % CIs; a likelihood-ratio test of the whole model. Matches statsmodels
 * PHReg(ties='efron') (compared in the tests).
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
}

interface Eval {
  ll: number;
  grad: number[];
  info: Matrix;
}

/** Log partial likelihood (Efron), score and information at beta for centred covariates; rows sorted by time. */
function efron(x: ReadonlyArray<readonly number[]>, times: readonly number[], events: readonly boolean[], order: readonly number[], beta: readonly number[]): Eval {
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
  while (k >= 0) {
    const t = times[order[k]];
    let d0 = 0;
    const d1 = new Array<number>(p).fill(0);
    const d2 = zeros(p);
    const xSum = new Array<number>(p).fill(0);
    let d = 0;
    let etaSum = 0;
    for (; k >= 0 && times[order[k]] === t; k--) {
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
  // centre the covariates: the partial likelihood is shift-invariant, and centring keeps exp() well scaled
  const means = names.map((_, j) => opts.x.reduce((s, r) => s + r[j], 0) / n);
  const x = opts.x.map((r) => r.map((v, j) => v - means[j]));
  const dep = firstDependentColumn(names.map((_, j) => x.map((r) => r[j])), true);
  if (dep >= 0) {
    throw new StatsError(`Cox: covariate "${names[dep]}" is constant or a linear combination of ${dep > 0 ? `the covariates before it (${names.slice(0, dep).join(', ')})` : 'nothing (constant)'} (collinear); drop it`);
  }
  const order = times.map((_, i) => i).sort((a, b) => times[a] - times[b]);
  let beta = new Array<number>(p).fill(0);
  let ev = efron(x, times, events, order, beta);
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
      ne = efron(x, times, events, order, nb);
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
  return { coefficients, covariance: cov, logPartialLikelihood: ev.ll, nullLogPartialLikelihood: ll0, lrChi2, lrDf: p, lrP: chiSquareSf(lrChi2, p), iterations: it, n, nEvents };
}
