/**
 * Small dense linear algebra for the regression fits (a handful of covariates): matrices are arrays of rows.
 * Cholesky factorisation (Golub & Van Loan, Matrix Computations 4th ed. 4.2) for the symmetric positive-definite
 * information matrices, and a Gram-Schmidt rank check that names the first covariate that is a linear
 * combination of the earlier ones.
 */

/** Square or rectangular matrix as rows (m[i][j] = row i, column j). */
export type Matrix = number[][];

/** Zero matrix of n rows, m columns. */
export function zeros(n: number, m = n): Matrix {
  return Array.from({ length: n }, () => new Array<number>(m).fill(0));
}

/**
 * Lower-triangular L with A = L L^T, or null when A is not numerically positive definite
 * (a pivot <= 1e-13 times the largest diagonal element).
 */
export function cholesky(a: Matrix): Matrix | null {
  const n = a.length;
  const l = zeros(n);
  const scale = Math.max(...a.map((r, i) => Math.abs(r[i])), 0);
  for (let j = 0; j < n; j++) {
    let d = a[j][j];
    for (let k = 0; k < j; k++) d -= l[j][k] * l[j][k];
    if (!(d > 1e-13 * scale)) return null;
    const ljj = Math.sqrt(d);
    l[j][j] = ljj;
    for (let i = j + 1; i < n; i++) {
      let s = a[i][j];
      for (let k = 0; k < j; k++) s -= l[i][k] * l[j][k];
      l[i][j] = s / ljj;
    }
  }
  return l;
}

/** Solves L L^T x = b given the Cholesky factor L. */
export function choleskySolve(l: Matrix, b: readonly number[]): number[] {
  const n = l.length;
  const y = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    let s = b[i];
    for (let k = 0; k < i; k++) s -= l[i][k] * y[k];
    y[i] = s / l[i][i];
  }
  const x = new Array<number>(n);
  for (let i = n - 1; i >= 0; i--) {
    let s = y[i];
    for (let k = i + 1; k < n; k++) s -= l[k][i] * x[k];
    x[i] = s / l[i][i];
  }
  return x;
}

/** (L L^T)^-1 from the Cholesky factor, column by column. */
export function choleskyInverse(l: Matrix): Matrix {
  const n = l.length;
  const inv = zeros(n);
  for (let j = 0; j < n; j++) {
    const e = new Array<number>(n).fill(0);
    e[j] = 1;
    const col = choleskySolve(l, e);
    for (let i = 0; i < n; i++) inv[i][j] = col[i];
  }
  return inv;
}

/**
 * Index of the first column of X (n rows x p columns, given as columns) that is numerically a linear combination
 * of the columns before it, or -1 when X has full column rank. Modified Gram-Schmidt on the columns: a column whose
 * residual norm falls below 1e-9 of its own norm is dependent. With `center` the columns are centred first (for Cox
 * models, which have no intercept and are invariant to shifts, a constant column is then dependent).
 */
export function firstDependentColumn(columns: ReadonlyArray<ArrayLike<number>>, center = false): number {
  const basis: Float64Array[] = [];
  for (let j = 0; j < columns.length; j++) {
    const c = Float64Array.from(columns[j] as ArrayLike<number>);
    if (center) {
      let m = 0;
      for (const v of c) m += v;
      m /= c.length || 1;
      for (let i = 0; i < c.length; i++) c[i] -= m;
    }
    let norm0 = 0;
    for (const v of c) norm0 += v * v;
    norm0 = Math.sqrt(norm0);
    // a column that is zero (or constant, when centred) is dependent on anything, including nothing
    if (norm0 === 0) return j;
    for (const q of basis) {
      let dot = 0;
      for (let i = 0; i < c.length; i++) dot += q[i] * c[i];
      for (let i = 0; i < c.length; i++) c[i] -= dot * q[i];
    }
    let norm = 0;
    for (const v of c) norm += v * v;
    norm = Math.sqrt(norm);
    if (norm < 1e-9 * norm0) return j;
    for (let i = 0; i < c.length; i++) c[i] /= norm;
    basis.push(c);
  }
  return -1;
}
