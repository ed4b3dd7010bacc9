/**
 * Special functions for the research statistics, written out plainly (f64, no tables beyond the Lanczos set):
 * erfc, the normal distribution (CDF, survival function, quantile), log-gamma, the regularised incomplete gamma
 * function and the chi-square survival function.
 *
 * Accuracy (checked against SciPy in test/research/special.test.ts): erfc to ~1e-15 absolute (1e-13 relative out to
 * erfc(x) ~ 1e-300), normal quantile to ~1e-15 relative, chi-square p-values to ~1e-13 relative.
 */

const SQRT_PI = Math.sqrt(Math.PI);
const SQRT2 = Math.SQRT2;

/**
 * Complementary error function erfc(x) = 2/sqrt(pi) * integral_x^inf exp(-t^2) dt.
 *
 * |x| < 2.5: the everywhere-convergent, non-alternating series (Abramowitz & Stegun 7.1.6)
 *   erf(x) = 2/sqrt(pi) exp(-x^2) sum_{n>=0} 2^n x^(2n+1) / (1*3*5*...*(2n+1)),  erfc = 1 - erf,
 * summed until a term no longer changes the sum (absolute error ~1e-16).
 * |x| >= 2.5: the continued fraction (A&S 7.1.14)
 *   erfc(x) = exp(-x^2)/sqrt(pi) * 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + 2/(x + ...))))),
 * evaluated with the modified Lentz algorithm (Press et al., Numerical Recipes 3rd ed. 5.2) to relative 1e-16.
 * Negative x: erfc(-x) = 2 - erfc(x).
 */
export function erfc(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x < 0) return 2 - erfc(-x);
  if (x < 2.5) {
    const x2 = x * x;
    let term = x;
    let sum = x;
    for (let n = 0; n < 200; n++) {
      term *= (2 * x2) / (2 * n + 3);
      const next = sum + term;
      if (next === sum) break;
      sum = next;
    }
    return 1 - ((2 / SQRT_PI) * Math.exp(-x2) * sum);
  }
  if (x > 27.3) return 0; // erfc(27.3) < 1e-325: underflows to zero in f64
  // Continued fraction 1/(x + a1/(x + a2/(x + ...))) with a_k = k/2, Lentz's method.
  const tiny = 1e-300;
  let f = x;
  let C = x;
  let D = 0;
  for (let k = 1; k < 500; k++) {
    const a = k / 2;
    D = x + a * D;
    if (Math.abs(D) < tiny) D = tiny;
    C = x + a / C;
    if (Math.abs(C) < tiny) C = tiny;
    D = 1 / D;
    const delta = C * D;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return Math.exp(-x * x) / SQRT_PI / f;
}

/** Standard normal density phi(z) = exp(-z^2/2) / sqrt(2 pi). */
export function normalPdf(z: number): number {
  return Math.exp(-0.5 * z * z) / Math.sqrt(2 * Math.PI);
}

/** Standard normal CDF Phi(z) = erfc(-z/sqrt 2)/2 (accurate in the lower tail). */
export function normalCdf(z: number): number {
  return 0.5 * erfc(-z / SQRT2);
}

/** Standard normal survival function 1 - Phi(z) = erfc(z/sqrt 2)/2 (accurate in the upper tail). */
export function normalSf(z: number): number {
  return 0.5 * erfc(z / SQRT2);
}

/**
 * Standard normal quantile Phi^-1(p), 0 < p < 1.
 * Start: Abramowitz & Stegun 26.2.22 (|error| < 3e-3); then Halley steps on the lower-tail CDF
 * (for p > 0.5 by symmetry, -Phi^-1(1 - p)) until the step is below 1e-15 relative: full double precision.
 */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) {
    if (p === 0) return -Infinity;
    if (p === 1) return Infinity;
    return NaN;
  }
  if (p > 0.5) return -normalQuantile(1 - p);
  if (p === 0.5) return 0;
  const t = Math.sqrt(-2 * Math.log(p));
  let x = -(t - (2.30753 + 0.27061 * t) / (1 + 0.99229 * t + 0.04481 * t * t));
  for (let it = 0; it < 50; it++) {
    const err = normalCdf(x) - p;
    const pdf = normalPdf(x);
    if (pdf === 0) break;
    const u = err / pdf;
    const step = u / (1 + 0.5 * x * u); // Halley: phi'(x) = -x phi(x)
    x -= step;
    if (Math.abs(step) <= 1e-15 * Math.max(1, Math.abs(x))) break;
  }
  return x;
}

/** Lanczos coefficients, g = 7, n = 9 (Numerical Recipes 2nd ed. 6.1 / Godfrey): relative error < 2e-15. */
const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];

/** ln Gamma(x) for x > 0 (Lanczos approximation; reflection for x < 0.5). */
export function lnGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - lnGamma(1 - x);
  const z = x - 1;
  let a = LANCZOS[0];
  const t = z + 7.5;
  for (let i = 1; i < 9; i++) a += LANCZOS[i] / (z + i);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

/**
 * Regularised incomplete gamma functions P(a, x) and Q(a, x) = 1 - P(a, x), a > 0, x >= 0.
 * x < a + 1: the series P = e^-x x^a / Gamma(a+1) * sum x^n / ((a+1)...(a+n)); otherwise the Legendre continued
 * fraction for Q with the modified Lentz algorithm (Numerical Recipes 3rd ed. 6.2, gser/gcf). Each part is computed
 * directly in its accurate range, so small tail probabilities keep their relative precision.
 */
export function regularizedGamma(a: number, x: number): { p: number; q: number } {
  if (!(a > 0) || !(x >= 0)) return { p: NaN, q: NaN };
  if (x === 0) return { p: 0, q: 1 };
  if (x === Infinity) return { p: 1, q: 0 };
  const lnPrefix = a * Math.log(x) - x - lnGamma(a);
  if (x < a + 1) {
    let ap = a;
    let del = 1 / a;
    let sum = del;
    for (let n = 0; n < 10000; n++) {
      ap += 1;
      del *= x / ap;
      sum += del;
      if (Math.abs(del) < Math.abs(sum) * 1e-17) break;
    }
    const p = sum * Math.exp(lnPrefix);
    return { p, q: 1 - p };
  }
  const tiny = 1e-300;
  let b = x + 1 - a;
  let c = 1 / tiny;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 10000; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < tiny) d = tiny;
    c = b + an / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < 1e-16) break;
  }
  const q = Math.exp(lnPrefix) * h;
  return { p: 1 - q, q };
}

/** Chi-square survival function P(X >= x), X ~ chi^2(df): Q(df/2, x/2). */
export function chiSquareSf(x: number, df: number): number {
  if (x <= 0) return 1;
  return regularizedGamma(df / 2, x / 2).q;
}

/** Two-sided p-value of a standard normal statistic: 2 (1 - Phi(|z|)). */
export function twoSidedNormalP(z: number): number {
  return Math.min(1, 2 * normalSf(Math.abs(z)));
}

/** z_{1 - alpha/2}: the two-sided normal critical value (1.959963984540054 for alpha = 0.05). */
export function normalCritical(alpha: number): number {
  return normalQuantile(1 - alpha / 2);
}
