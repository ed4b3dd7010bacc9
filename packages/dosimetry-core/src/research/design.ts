/**
 * Design matrices from table columns: continuous covariates as they are, categorical ones as dummy (treatment)
 * codes against a reference level (e.g. grade 2 vs 1 and grade 3 vs 1 with reference 1).
 */
import { InputError, StatsError } from '../errors.ts';
import { isMissing, parseNumberCell } from './table.ts';
import { chiSquareSf } from './special.ts';
import { cholesky, choleskySolve, type Matrix } from './linalg.ts';

/** How a covariate enters a model. */
export interface CovariateSpec {
  /** Column name. */
  readonly name: string;
  readonly kind: 'continuous' | 'categorical';
  /** Reference level of a categorical covariate; default: the first level in natural order (numbers numerically). */
  readonly reference?: string;
}

/** A design built over complete rows. */
export interface Design {
  /** Column names of the matrix: a continuous covariate's name, or "grade[3 vs 1]" for a dummy. */
  readonly names: string[];
  /** For each design column, the index of the covariate it comes from. */
  readonly source: number[];
  /** One row per used observation. */
  readonly x: number[][];
  /** Indices (into the given rows) of the rows used: those with no missing covariate. */
  readonly rowIndex: number[];
  /** Levels of each categorical covariate (reference first), undefined for continuous ones. */
  readonly levels: Array<string[] | undefined>;
}

/** Natural order: numeric strings numerically, then the rest alphabetically. */
export function naturalCompare(a: string, b: string): number {
  const na = Number(a), nb = Number(b);
  const fa = a.trim() !== '' && Number.isFinite(na), fb = b.trim() !== '' && Number.isFinite(nb);
  if (fa && fb) return na - nb;
  if (fa !== fb) return fa ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Builds the design over the rows where every covariate is present (missing: see isMissing).
 * Throws InputError for a non-numeric continuous value (naming row and column) or an unknown reference level, and
 * StatsError when a categorical covariate has a single level.
 */
export function buildDesign(rows: ReadonlyArray<Readonly<Record<string, string>>>, specs: readonly CovariateSpec[], source: string, rowNumbers?: readonly number[]): Design {
  const rowIndex: number[] = [];
  rows.forEach((r, i) => {
    if (specs.every((s) => !isMissing(r[s.name]))) rowIndex.push(i);
  });
  const names: string[] = [];
  const src: number[] = [];
  const levels: Array<string[] | undefined> = [];
  const columns: number[][] = [];
  specs.forEach((s, k) => {
    if (s.kind === 'continuous') {
      names.push(s.name);
      src.push(k);
      levels.push(undefined);
      columns.push(rowIndex.map((i) => parseNumberCell(rows[i][s.name], s.name, rowNumbers?.[i] ?? i + 1, source)));
      return;
    }
    const lv = [...new Set(rowIndex.map((i) => rows[i][s.name].trim()))].sort(naturalCompare);
    const ref = s.reference ?? lv[0];
    if (!lv.includes(ref)) throw new InputError(`${source}: reference level "${ref}" of "${s.name}" does not occur; its levels are ${lv.map((l) => `"${l}"`).join(', ')}`);
    if (lv.length < 2) throw new StatsError(`${source}: categorical covariate "${s.name}" has a single level ("${lv[0] ?? ''}") among the complete rows; drop it`);
    const ordered = [ref, ...lv.filter((l) => l !== ref)];
    levels.push(ordered);
    for (const l of ordered.slice(1)) {
      names.push(`${s.name}[${l} vs ${ref}]`);
      src.push(k);
      columns.push(rowIndex.map((i) => (rows[i][s.name].trim() === l ? 1 : 0)));
    }
  });
  const x = rowIndex.map((_, r) => columns.map((c) => c[r]));
  return { names, source: src, x, rowIndex, levels };
}

/**
 * Joint Wald test that the coefficients in `indices` are all zero: W = b' V^-1 b ~ chi^2 with |indices| degrees of
 * freedom (for one coefficient, W = z^2 and p equals the two-sided z-test p).
 */
export function jointWald(beta: readonly number[], cov: Matrix, indices: readonly number[]): { chi2: number; df: number; p: number } {
  const b = indices.map((i) => beta[i]);
  const V = indices.map((i) => indices.map((j) => cov[i][j]));
  const L = cholesky(V);
  if (!L) return { chi2: NaN, df: indices.length, p: NaN };
  const s = choleskySolve(L, b);
  const chi2 = b.reduce((acc, v, k) => acc + v * s[k], 0);
  return { chi2, df: indices.length, p: chiSquareSf(chi2, indices.length) };
}
