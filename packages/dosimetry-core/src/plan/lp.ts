/**
 * Linear programs solved by HiGHS (Huangfu & Hall, Math Prog Comp 2018;10:119; https://highs.dev), through the
 * `highs` npm package (HiGHS compiled to WebAssembly, MIT): a thin typed wrapper that builds the model as sparse
 * rows (HiGHS's structured API, no LP text to parse), checks the solver's status and returns the primal values, row
 * activities, duals and which rows sit at a bound.
 *
 *   minimise or maximise  sum_j c_j x_j   subject to   rowLower_i <= sum_j a_ij x_j <= rowUpper_i,
 *                                                       colLower_j <= x_j <= colUpper_j.
 *
 * The dual simplex runs without presolve, so that an infeasible model is told from an unbounded one and every optimum
 * comes with a basis: the primal values are a vertex, computed from the basis (exact to rounding for the small,
 * well-scaled models of the planner), not an interior point. The WebAssembly module is loaded once per process, on
 * first use (about 0.2 s to compile; a solve of the planner's models then takes milliseconds).
 */
import { InputError, PlanError } from '../errors.ts';

/** A variable of a linear program. */
export interface LpColumn {
  /** Name for messages (not passed to HiGHS). */
  readonly name: string;
  /** Lower bound; default 0. -Infinity for none. */
  readonly lower?: number;
  /** Upper bound; default +Infinity (none). */
  readonly upper?: number;
  /** Objective coefficient; default 0. */
  readonly cost?: number;
}

/** A linear constraint lower <= sum coefficient x <= upper (either bound may be infinite). */
export interface LpRow {
  /** Name for messages. */
  readonly name: string;
  /** Non-zero coefficients: [column index, value], each column at most once. */
  readonly coefficients: ReadonlyArray<readonly [number, number]>;
  /** Lower bound of the row activity; default -Infinity. */
  readonly lower?: number;
  /** Upper bound of the row activity; default +Infinity. */
  readonly upper?: number;
}

/** A linear program (see the module comment). */
export interface LinearProgram {
  readonly sense: 'minimize' | 'maximize';
  readonly columns: readonly LpColumn[];
  readonly rows: readonly LpRow[];
}

/** Options of {@link solveLp}. */
export interface SolveLpOptions {
  /**
   * Primal and dual feasibility tolerance of HiGHS (absolute, on row activities and reduced costs); default
   * {@link LP_FEASIBILITY_TOLERANCE}. HiGHS's own default is 1e-7; its minimum 1e-10.
   */
  readonly feasibilityTolerance?: number;
}

/**
 * Default feasibility tolerance: 1e-9, for models whose rows are scaled to O(1) (a dose limit row divided by its
 * limit, a coverage row by its target), i.e. 1e-9 of a limit: far below any clinical meaning, far above rounding.
 */
export const LP_FEASIBILITY_TOLERANCE = 1e-9;

/** An optimal solution. */
export interface LpOptimum {
  readonly status: 'optimal';
  /** Objective value at the optimum. */
  readonly objective: number;
  /** Primal value of each column. */
  readonly values: Float64Array;
  /** Activity sum_j a_ij x_j of each row. */
  readonly rowActivities: Float64Array;
  /** Dual value of each row (HiGHS's sign convention: d objective / d row bound). */
  readonly rowDuals: Float64Array;
  /** Reduced cost of each column. */
  readonly columnDuals: Float64Array;
  /** Whether each row is nonbasic, i.e. held at one of its bounds by the basis (an active constraint). */
  readonly rowAtBound: readonly boolean[];
}

/** The solver's outcome when there is no optimum. */
export interface LpNoOptimum {
  readonly status: 'infeasible' | 'unbounded' | 'infeasible-or-unbounded' | 'failed';
  /** HiGHS's status in words. */
  readonly message: string;
}

export type LpResult = LpOptimum | LpNoOptimum;

// HiGHS model status codes (highs.constants.modelStatus; ModelStatusCode in highs/types.d.ts).
const MODEL_STATUS_TEXT: Readonly<Record<number, string>> = {
  0: 'not set', 1: 'load error', 2: 'invalid model', 3: 'presolve error', 4: 'solve error', 5: 'postsolve error',
  6: 'empty model', 7: 'optimal', 8: 'infeasible', 9: 'unbounded or infeasible', 10: 'unbounded',
  11: 'objective bound reached', 12: 'objective target reached', 13: 'time limit reached', 14: 'iteration limit reached',
  15: 'unknown', 16: 'solution limit reached', 17: 'interrupted',
};
const OPTIMAL = 7, INFEASIBLE = 8, UNBOUNDED_OR_INFEASIBLE = 9, UNBOUNDED = 10;
const BASIS_BASIC = 1;

type HighsModule = typeof import('highs');
type Highs = Awaited<ReturnType<HighsModule['default']>>;
let highsLoading: Promise<Highs> | undefined;

/** The HiGHS WebAssembly runtime, loaded once per process (the CLI bundle keeps `highs` external: node_modules). */
export function loadHighs(): Promise<Highs> {
  highsLoading ??= import('highs').then(
    (m) => ((m as unknown as { default?: HighsModule['default'] }).default ?? (m as unknown as HighsModule['default']))(),
    (err: unknown) => {
      highsLoading = undefined;
      throw new PlanError(`the LP solver HiGHS (npm package "highs") could not be loaded (${(err as Error).message}); run pnpm install`);
    },
  );
  return highsLoading;
}

/** Checks the model's numbers; throws InputError naming the row or column. */
function checkModel(lp: LinearProgram): void {
  const n = lp.columns.length;
  for (const c of lp.columns) {
    const lo = c.lower ?? 0, hi = c.upper ?? Infinity;
    if (Number.isNaN(lo) || Number.isNaN(hi) || lo > hi || lo === Infinity || hi === -Infinity) throw new InputError(`LP column "${c.name}": bounds [${lo}, ${hi}] are empty or not numbers`);
    if (!Number.isFinite(c.cost ?? 0)) throw new InputError(`LP column "${c.name}": objective coefficient ${c.cost} is not finite`);
  }
  for (const r of lp.rows) {
    const lo = r.lower ?? -Infinity, hi = r.upper ?? Infinity;
    if (Number.isNaN(lo) || Number.isNaN(hi) || lo > hi || lo === Infinity || hi === -Infinity) throw new InputError(`LP row "${r.name}": bounds [${lo}, ${hi}] are empty or not numbers`);
    const seen = new Set<number>();
    for (const [j, a] of r.coefficients) {
      if (!Number.isInteger(j) || j < 0 || j >= n) throw new InputError(`LP row "${r.name}": column index ${j} is not one of the ${n} columns`);
      if (seen.has(j)) throw new InputError(`LP row "${r.name}": column "${lp.columns[j].name}" appears twice`);
      if (!Number.isFinite(a)) throw new InputError(`LP row "${r.name}": coefficient ${a} of "${lp.columns[j].name}" is not finite`);
      seen.add(j);
    }
  }
}

/**
 * Solves a linear program with HiGHS (dual simplex, no presolve). Returns the optimum, or the status when there is
 * none (infeasible, unbounded, ...): the caller decides what that means. Throws InputError for a malformed model and
 * PlanError when the solver itself fails to run.
 */
export async function solveLp(lp: LinearProgram, opts: SolveLpOptions = {}): Promise<LpResult> {
  checkModel(lp);
  if (lp.columns.length === 0) {
    // HiGHS calls a model without variables "empty"; its rows are constants 0 within their bounds or not
    const ok = lp.rows.every((r) => (r.lower ?? -Infinity) <= 0 && 0 <= (r.upper ?? Infinity));
    if (!ok) return { status: 'infeasible', message: 'a row without variables excludes 0' };
    const zeros = new Float64Array(lp.rows.length);
    return { status: 'optimal', objective: 0, values: new Float64Array(0), rowActivities: zeros, rowDuals: zeros.slice(), columnDuals: new Float64Array(0), rowAtBound: lp.rows.map(() => false) };
  }
  const highs = await loadHighs();
  const inf = highs.infinity;
  const big = (x: number) => (x === Infinity ? inf : x === -Infinity ? -inf : x);
  const starts = [0];
  const indices: number[] = [];
  const values: number[] = [];
  for (const r of lp.rows) {
    for (const [j, a] of r.coefficients) if (a !== 0) (indices.push(j), values.push(a));
    starts.push(indices.length);
  }
  const tol = opts.feasibilityTolerance ?? LP_FEASIBILITY_TOLERANCE;
  const model = {
    numCols: lp.columns.length,
    numRows: lp.rows.length,
    sense: lp.sense === 'maximize' ? highs.constants.objectiveSense.maximize : highs.constants.objectiveSense.minimize,
    colCost: lp.columns.map((c) => c.cost ?? 0),
    colLower: lp.columns.map((c) => big(c.lower ?? 0)),
    colUpper: lp.columns.map((c) => big(c.upper ?? Infinity)),
    rowLower: lp.rows.map((r) => big(r.lower ?? -Infinity)),
    rowUpper: lp.rows.map((r) => big(r.upper ?? Infinity)),
    matrix: { format: 'csr' as const, numRows: lp.rows.length, numCols: lp.columns.length, starts, indices, values },
  };
  try {
    return highs.withModel(model, (m): LpResult => {
      m.options.set({
        output_flag: false,
        presolve: 'off',
        solver: 'simplex',
        primal_feasibility_tolerance: tol,
        dual_feasibility_tolerance: tol,
      });
      const status = m.run().modelStatus as number;
      if (status !== OPTIMAL) {
        const text = MODEL_STATUS_TEXT[status] ?? `status ${status}`;
        const kind: LpNoOptimum['status'] = status === INFEASIBLE ? 'infeasible' : status === UNBOUNDED ? 'unbounded' : status === UNBOUNDED_OR_INFEASIBLE ? 'infeasible-or-unbounded' : 'failed';
        return { status: kind, message: `HiGHS: ${text}` };
      }
      const s = m.getSolution();
      const basis = m.getBasis();
      return {
        status: 'optimal',
        objective: m.getObjectiveValue(),
        values: Float64Array.from(s.colValue),
        rowActivities: Float64Array.from(s.rowValue),
        rowDuals: Float64Array.from(s.rowDual),
        columnDuals: Float64Array.from(s.colDual),
        rowAtBound: Array.from(basis.rowStatus, (b) => b !== BASIS_BASIC),
      };
    });
  } catch (err) {
    throw new PlanError(`the LP solver HiGHS failed on a ${lp.columns.length}-variable, ${lp.rows.length}-row model: ${(err as Error).message}`, { cause: err });
  }
}
