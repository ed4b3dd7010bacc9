/**
 * Logistic regression of a binary response on dose and other covariates by Newton-Raphson (equivalently IRLS for
 * the canonical logit link; McCullagh & Nelder, Generalized Linear Models 2nd ed. 2.5), with step halving so the
 * log-likelihood never decreases. Wald standard errors from the inverse Fisher information at the optimum; p-values
 * from z = b/se; 95 % CIs b +- z_0.975 se and odds ratios exp(b) (as statsmodels Logit, which the tests compare to).
 *
 * The dose-response (tumour control probability) curve is the one-covariate fit P(D) = 1/(1 + exp(-(b0 + b1 D))):
 * D50 = -b0/b1 and the normalised slope gamma50 = D dP/dD at D50 = b1 D50 / 4 (Brahme, Acta Radiol Oncol 1984;23:379;
 * for the logit model gamma50 = -b0/4). The D50 standard error is the delta method on (b0, b1).
 */
import { StatsError } from '../errors.ts';
import { cholesky, choleskyInverse, choleskySolve, firstDependentColumn, type Matrix, zeros } from './linalg.ts';
import { normalCritical, twoSidedNormalP } from './special.ts';

export interface LogisticOptions {
  /** Covariate names (without the intercept), one per column of `x`. */
  readonly names: readonly string[];
  /** Covariate values, one row per observation (doses in Gy). */
  readonly x: ReadonlyArray<readonly number[]>;
  /** Response (true = responder). */
  readonly y: readonly boolean[];
  /** Two-sided level for CIs, default 0.05. */
  readonly alpha?: number;
  /** Iteration limit, default 100. */
  readonly maxIterations?: number;
}

/** One coefficient of a fitted model. */
export interface Coefficient {
  readonly name: string;
  readonly estimate: number;
  readonly se: number;
  readonly z: number;
  readonly p: number;
  readonly ciLow: number;
  readonly ciHigh: number;
  /** exp(estimate) with exp of the CI bounds: odds ratio (logistic) or hazard ratio (Cox). */
  readonly ratio: number;
  readonly ratioCiLow: number;
  readonly ratioCiHigh: number;
}

export interface LogisticResult {
  /** Intercept first, then the covariates in order. */
  readonly coefficients: Coefficient[];
  /** Covariance matrix of the estimates (same order). */
  readonly covariance: Matrix;
  readonly logLikelihood: number;
  readonly nullLogLikelihood: number;
  /** McFadden pseudo R^2 = 1 - ll/ll0. */
  readonly pseudoR2: number;
  readonly iterations: number;
  readonly n: number;
  readonly nPositive: number;
}

/** Builds the Coefficient record from estimate and standard error. */
export function coefficient(name: string, estimate: number, se: number, z975: number): Coefficient {
  const z = estimate / se;
  const ciLow = estimate - z975 * se;
  const ciHigh = estimate + z975 * se;
  return { name, estimate, se, z, p: twoSidedNormalP(z), ciLow, ciHigh, ratio: Math.exp(estimate), ratioCiLow: Math.exp(ciLow), ratioCiHigh: Math.exp(ciHigh) };
}

/** log(1 + exp(t)) without overflow. */
function log1pExp(t: number): number {
  return t > 0 ? t + Math.log1p(Math.exp(-t)) : Math.log1p(Math.exp(t));
}

/** Bernoulli log-likelihood of linear predictors eta: sum y eta - log(1 + e^eta). */
function logLik(eta: readonly number[], y: readonly boolean[]): number {
  let ll = 0;
  for (let i = 0; i < eta.length; i++) ll += (y[i] ? eta[i] : 0) - log1pExp(eta[i]);
  return ll;
}

/**
 * Fits the model. Errors (StatsError, one line each): fewer observations than parameters, a single response class,
 * collinear covariates (naming the covariate that is a combination of the others), and complete or quasi-complete
 * separation (the maximum-likelihood estimates do not exist: some fitted probabilities go to exactly 0 or 1).
 */
export function logisticRegression(opts: LogisticOptions): LogisticResult {
  const { names, y } = opts;
  const n = y.length;
  const p = names.length + 1;
  const X = opts.x.map((r) => [1, ...r]);
  if (X.some((r) => r.length !== p)) throw new StatsError(`logistic: every row needs ${p - 1} covariate values (${names.join(', ')})`);
  X.forEach((r, i) => r.forEach((v, j) => {
    if (!Number.isFinite(v)) throw new StatsError(`logistic: covariate "${names[j - 1]}" of observation ${i + 1} is not a finite number`);
  }));
  const nPos = y.filter(Boolean).length;
  if (nPos === 0 || nPos === n) throw new StatsError(`logistic regression needs responders and non-responders, but all ${n} are ${nPos ? 'responders' : 'non-responders'}; check --positive and the response column`);
  if (n <= p) throw new StatsError(`logistic: ${n} observations cannot estimate ${p} parameters; use fewer covariates`);
  const cols = Array.from({ length: p }, (_, j) => X.map((r) => r[j]));
  const dep = firstDependentColumn(cols);
  if (dep >= 0) {
    throw new StatsError(dep === 0
      ? 'logistic: the design has no usable intercept column'
      : `logistic: covariate "${names[dep - 1]}" is constant or a linear combination of ${dep > 1 ? `the covariates before it (${names.slice(0, dep - 1).join(', ')}) and the intercept` : 'the intercept'} (collinear); drop it`);
  }
  const maxIt = opts.maxIterations ?? 100;
  let beta = new Array<number>(p).fill(0);
  const etaOf = (b: readonly number[]) => X.map((r) => r.reduce((s, v, j) => s + v * b[j], 0));
  let eta = etaOf(beta);
  let ll = logLik(eta, y);
  const ll0 = ll0Of(y);
  let it = 0;
  let converged = false;
  let info: Matrix = zeros(p);
  for (; it < maxIt; it++) {
    // score U = X^T (y - mu), information I = X^T W X with W = mu (1 - mu)
    const grad = new Array<number>(p).fill(0);
    info = zeros(p);
    for (let i = 0; i < n; i++) {
      const mu = 1 / (1 + Math.exp(-eta[i]));
      const w = mu * (1 - mu);
      const r = (y[i] ? 1 : 0) - mu;
      for (let j = 0; j < p; j++) {
        grad[j] += X[i][j] * r;
        for (let k = 0; k <= j; k++) info[j][k] += w * X[i][j] * X[i][k];
      }
    }
    for (let j = 0; j < p; j++) for (let k = j + 1; k < p; k++) info[j][k] = info[k][j];
    const L = cholesky(info);
    if (!L) break; // information singular: fitted probabilities at 0/1 (separation), reported below
    const step = choleskySolve(L, grad);
    // step halving: accept the first step that does not lower the log-likelihood
    let t = 1;
    let nb = beta, ne = eta, nll = ll;
    for (let h = 0; h < 30; h++) {
      nb = beta.map((b, j) => b + t * step[j]);
      ne = etaOf(nb);
      nll = logLik(ne, y);
      if (nll >= ll - 1e-12 * Math.abs(ll)) break;
      t /= 2;
    }
    const change = Math.max(...step.map((s, j) => Math.abs(t * s) / Math.max(1, Math.abs(beta[j]))));
    const llChange = nll - ll;
    beta = nb;
    eta = ne;
    ll = nll;
    if (change < 1e-10 || (Math.abs(llChange) < 1e-14 * Math.abs(ll) && change < 1e-6)) {
      converged = true;
      it++;
      break;
    }
  }
  // Separation: the likelihood keeps rising as coefficients run to infinity, so Newton's steps never shrink (or
  // the information matrix becomes singular as fitted probabilities reach 0 and 1): no convergence.
  if (!converged) {
    const single = names.length === 1 ? separationHint(opts.x.map((r) => r[0]), y, names[0]) : '';
    throw new StatsError(`logistic: the response is ${ll > -1e-6 ? 'completely' : 'quasi-completely'} separated by the covariates${single}; the maximum-likelihood estimates do not exist (coefficients run to infinity). Use fewer covariates, more data or a penalised method`);
  }
  // the information of the last iteration was taken before its step: evaluate it at the estimates themselves, so the
  // standard errors belong to the maximum-likelihood estimates (a last step of up to 1e-6 would otherwise show in them)
  info = zeros(p);
  for (let i = 0; i < n; i++) {
    const mu = 1 / (1 + Math.exp(-eta[i]));
    const w = mu * (1 - mu);
    for (let j = 0; j < p; j++) for (let k = 0; k <= j; k++) info[j][k] += w * X[i][j] * X[i][k];
  }
  for (let j = 0; j < p; j++) for (let k = j + 1; k < p; k++) info[j][k] = info[k][j];
  const L = cholesky(info);
  if (!L) throw new StatsError('logistic: the information matrix is singular at the optimum (collinear covariates or separation); drop a covariate');
  const cov = choleskyInverse(L);
  const z975 = normalCritical(opts.alpha ?? 0.05);
  const coefficients = beta.map((b, j) => coefficient(j === 0 ? 'intercept' : names[j - 1], b, Math.sqrt(cov[j][j]), z975));
  return { coefficients, covariance: cov, logLikelihood: ll, nullLogLikelihood: ll0, pseudoR2: 1 - ll / ll0, iterations: it, n, nPositive: nPos };
}

/** Null (intercept-only) log-likelihood: n1 log(n1/n) + n0 log(n0/n). */
function ll0Of(y: readonly boolean[]): number {
  const n = y.length;
  const n1 = y.filter(Boolean).length;
  const n0 = n - n1;
  return n1 * Math.log(n1 / n) + n0 * Math.log(n0 / n);
}

/** " (every value of dose >= 200 is a responder and every value <= 150 a non-responder)" for one covariate. */
function separationHint(x: readonly number[], y: readonly boolean[], name: string): string {
  const pos = x.filter((_, i) => y[i]);
  const neg = x.filter((_, i) => !y[i]);
  if (Math.min(...pos) >= Math.max(...neg)) return ` (every ${name} >= ${Math.min(...pos)} is a responder, every ${name} <= ${Math.max(...neg)} a non-responder)`;
  if (Math.max(...pos) <= Math.min(...neg)) return ` (every ${name} <= ${Math.max(...pos)} is a responder, every ${name} >= ${Math.min(...neg)} a non-responder)`;
  return '';
}

/** The dose-response (TCP-like) summary of a one-covariate logistic fit in dose. */
export interface DoseResponse {
  /** Dose of 50 % response probability [Gy]: -b0/b1. */
  readonly d50Gy: number;
  /** Delta-method standard error of D50 [Gy]. */
  readonly d50SeGy: number;
  readonly d50CiGy: readonly [number, number];
  /** Normalised slope at D50: b1 D50 / 4 (dimensionless). */
  readonly gamma50: number;
  /** Response probability at dose d [Gy]. */
  readonly probabilityAt: (doseGy: number) => number;
}

/**
 * D50, its delta-method SE (gradient of -b0/b1 is (-1/b1, b0/b1^2)) and CI, and gamma50 from a fit whose only
 * covariate is dose. Throws StatsError when the slope is not positive (dose not associated with more response:
 * D50 is then meaningless).
 */
export function doseResponse(fit: LogisticResult, alpha = 0.05): DoseResponse {
  if (fit.coefficients.length !== 2) throw new StatsError('dose-response: D50 needs a model with dose as its only covariate');
  const b0 = fit.coefficients[0].estimate;
  const b1 = fit.coefficients[1].estimate;
  if (!(b1 > 0)) throw new StatsError(`dose-response: the fitted slope is ${b1.toPrecision(3)} per Gy (response does not rise with dose), so D50 and gamma50 are undefined`);
  const d50 = -b0 / b1;
  const g = [-1 / b1, b0 / (b1 * b1)];
  const V = fit.covariance;
  const varD50 = g[0] * g[0] * V[0][0] + 2 * g[0] * g[1] * V[0][1] + g[1] * g[1] * V[1][1];
  const se = Math.sqrt(varD50);
  const z = normalCritical(alpha);
  return {
    d50Gy: d50,
    d50SeGy: se,
    d50CiGy: [d50 - z * se, d50 + z * se],
    gamma50: (b1 * d50) / 4,
    probabilityAt: (d) => 1 / (1 + Math.exp(-(b0 + b1 * d))),
  };
}
