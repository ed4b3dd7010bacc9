/**
 * Multi-territory planning as an exact optimisation (`plan --territories`): one activity A_t [GBq] per territory
 * (catheter position), every dose linear in the activities, so every target and limit is a linear function of A.
 *
 * The model, given per-territory coefficients k[s][t] = mean dose of structure s per GBq administered to territory t
 * [Gy/GBq] (src/plan/territory-problem.ts computes them from the territories' dose cases):
 * - limits (upper bounds): prior_r + sum_t k[r][t] A_t <= L_r for every limit r (whole normal liver, the perfused
 *   normal liver of each territory, the lungs per treatment and cumulative);
 * - A_t >= 0, or A_t = the activity fixed by hand;
 * - coverage of each target i (a lesion, the all-tumour compartment, or a perfused structure with a perfusedTargetGy):
 *   c_i = min(1, D_i / T_i), D_i = sum_t k[i][t] A_t: the fraction of the target reached, capped at 1 (dose beyond
 *   the target buys nothing).
 * Objective, lexicographic, each stage one LP solved by HiGHS (src/plan/lp.ts):
 *   (1) maximise z = min_i c_i (the worst-covered target);
 *   (2) with every D_i / T_i >= z*, maximise sum_i c_i;
 *   (3) with that too (sum_i c_i >= S*), minimise sum_t A_t over the free territories (as low as reasonably
 *       achievable: no activity that raises no coverage).
 * A stage's optimum is kept by the next exactly, within HiGHS's feasibility tolerance {@link COVERAGE_TOLERANCE} (1e-10
 * of a target; rows are scaled by their target or limit); should rounding make that infeasible, it is kept to
 * tol = COVERAGE_TOLERANCE. With one territory this gives A = min(target activity, largest allowed activity), the
 * closed form of the single-territory plan (src/plan/image.ts).
 *
 * Feasibility is checked before any LP, at the hand-fixed activities with every free territory at 0 (all limits are
 * upper bounds on non-negative doses, so that point is feasible exactly when the plan is): a limit already exceeded
 * there, or used up while a free territory would add to it, is refused naming the limit ({@link checkFixedActivities}).
 */
import { PlanError } from '../errors.ts';
import { solveLp, type LinearProgram, type LpColumn, type LpOptimum, type LpRow } from './lp.ts';

/** A territory as the optimiser sees it. */
export interface TerritoryVariable {
  readonly name: string;
  /** Activity fixed by hand [GBq]; absent: optimised. */
  readonly fixedActivityGBq?: number;
}

export type CoverageKind = 'lesion' | 'all-tumour' | 'perfused';

/** A target whose coverage min(1, D/T) the objective raises. */
export interface CoverageTarget {
  /** Stable identifier used in limitingConstraints, e.g. "tumor:Tumor A", "perfused-target:Segment 4". */
  readonly id: string;
  readonly kind: CoverageKind;
  /** Structure whose mean dose D is the target's. */
  readonly structure: string;
  /** Target mean dose T [Gy]. */
  readonly targetGy: number;
  /** The territory whose target T is (the largest among those that hold the structure). */
  readonly targetOf: string;
  /** Mean dose per GBq of each territory, in territory order [Gy/GBq]. */
  readonly gyPerGBq: readonly number[];
  /** --method mc, dose-map basis: the Monte Carlo standard error of each gyPerGBq [Gy/GBq] (src/plan/territory-mc.ts). */
  readonly gyPerGBqStdErr?: readonly number[];
}

export type LimitKind = 'whole-normal-liver' | 'normal-liver' | 'lung' | 'lung-cumulative';

/** An upper limit on a structure's mean dose, summed over the territories. */
export interface LimitConstraint {
  /** Stable identifier, e.g. "whole-normal-liver", "normal-liver:Right lobe", "lung", "lung-cumulative". */
  readonly id: string;
  readonly kind: LimitKind;
  readonly structure: string;
  /** Where the coefficients come from: the partition model, the dose map (voxel) or the lung formula CF LSF / M_L. */
  readonly basis: 'partition' | 'voxel' | 'lung-formula';
  /** Limit [Gy]. */
  readonly limitGy: number;
  /** Dose already given before this treatment [Gy] (the prior lung dose of the cumulative lung limit); default 0. */
  readonly priorGy?: number;
  /** Mean dose per GBq of each territory [Gy/GBq]. */
  readonly gyPerGBq: readonly number[];
  /** --method mc, dose-map basis: the Monte Carlo standard error of each gyPerGBq [Gy/GBq] (src/plan/territory-mc.ts). */
  readonly gyPerGBqStdErr?: readonly number[];
  /** The limit in words, for messages ("whole normal liver", "cumulative lung dose"). */
  readonly what: string;
}

/** A multi-territory planning problem. */
export interface TerritoryProblem {
  readonly territories: readonly TerritoryVariable[];
  readonly coverage: readonly CoverageTarget[];
  readonly limits: readonly LimitConstraint[];
}

/** Coverage tolerance between the lexicographic stages (fraction of a target): see the module comment. */
export const COVERAGE_TOLERANCE = 1e-10;

/**
 * Relative slack of the binding and reached tests on the result: the coefficients come from float32 dose maps
 * (rounding ~6e-8 per voxel), so a dose computed to sit exactly at a limit or target is judged within 1e-6 of it
 * (the same slack as the single-territory plan's checks, src/plan/image.ts).
 */
export const BINDING_SLACK = 1e-6;

/**
 * A territory is said to be limited by a binding row when its coefficient there is at least this share of the row's
 * largest coefficient: with DVK every territory reaches every structure a little (crossfire), and a limit that a
 * territory barely touches does not limit it in any useful sense.
 */
export const INVOLVEMENT_SHARE = 0.01;

/** A target at the optimum. */
export interface CoverageResult extends CoverageTarget {
  /** D = sum_t k A_t [Gy]. */
  readonly doseGy: number;
  /** D / T (uncapped). */
  readonly fraction: number;
  /** D >= T (within {@link BINDING_SLACK}). */
  readonly reached: boolean;
  /** Exactly at the target: the target is what sets the activities (the lowest activity that reaches it). */
  readonly binding: boolean;
  /** Territories that dose it (see {@link INVOLVEMENT_SHARE}). */
  readonly territories: readonly string[];
}

/** A limit at the optimum. */
export interface LimitResult extends LimitConstraint {
  /** prior + sum_t k A_t [Gy]. */
  readonly valueGy: number;
  /** limit - value [Gy] and as a percentage of the limit. */
  readonly slackGy: number;
  readonly slackPercent: number;
  /** value = limit (within {@link BINDING_SLACK}). */
  readonly binding: boolean;
  /** Territories that dose the structure (see {@link INVOLVEMENT_SHARE}). */
  readonly territories: readonly string[];
}

/** One territory at the optimum. */
export interface TerritoryActivity {
  readonly name: string;
  readonly activityGBq: number;
  readonly fixed: boolean;
  /** Largest activity the limits allow this territory with the others at their planned activities [GBq]; null: none bounds it. */
  readonly maxAllowedActivityGBq: number | null;
  /** Identifiers of the binding rows that involve it ("fixed" for a hand-fixed activity). */
  readonly limitingConstraints: readonly string[];
}

/** The optimum of a multi-territory problem. */
export interface TerritoryOptimum {
  readonly territories: readonly TerritoryActivity[];
  readonly coverage: readonly CoverageResult[];
  readonly limits: readonly LimitResult[];
  /** Binding rows of the whole plan (targets first, then limits), identifiers without repeats. */
  readonly limitingConstraints: readonly string[];
  readonly objective: {
    readonly description: string;
    /** z = min_i min(1, D_i/T_i) at the optimum; null without targets. */
    readonly minCoverage: number | null;
    /** sum_i min(1, D_i/T_i); null without targets. */
    readonly coverageSum: number | null;
    /** sum_t A_t over all territories [GBq]. */
    readonly totalActivityGBq: number;
    readonly tolerance: number;
  };
}

/** The objective in words (for --help and the report). */
export const OBJECTIVE_DESCRIPTION =
  'lexicographic: (1) maximise the worst coverage min_i min(1, D_i/T_i) over the targets (lesions, or all tumour with ' +
  '--tumor-basis mean, and perfused structures with a perfusedTargetGy); (2) with it kept, maximise the summed coverage ' +
  'sum_i min(1, D_i/T_i); (3) with both kept, minimise the total activity; each stage one LP (HiGHS), subject to every limit';

const fmtGy = (x: number) => x.toPrecision(4);

/**
 * Refuses a problem that no activities satisfy. Every limit is an upper bound on a non-negative dose, so the plan is
 * feasible exactly when the hand-fixed activities with every free territory at 0 are: a limit exceeded there is named
 * with what exceeds it (the prior dose, the fixed activities). A limit reached exactly there while a free territory
 * would add to it leaves that territory nothing, and is refused as spent (as the single-territory plan refuses a
 * prior lung dose that reaches the cumulative limit). Throws PlanError.
 */
export function checkFixedActivities(p: TerritoryProblem): void {
  const rows = p.limits.map((r) => {
    const prior = r.priorGy ?? 0;
    const parts: string[] = [];
    let value = prior;
    p.territories.forEach((t, i) => {
      if (t.fixedActivityGBq === undefined) return;
      const d = r.gyPerGBq[i] * t.fixedActivityGBq;
      value += d;
      if (d > 0) parts.push(`"${t.name}" fixed at ${t.fixedActivityGBq} GBq (${fmtGy(d)} Gy)`);
    });
    const by = [...(prior > 0 ? [`the prior dose ${fmtGy(prior)} Gy (--prior-lung-gy)`] : []), ...parts].join(' and ') || 'nothing';
    const free = p.territories.filter((t, i) => t.fixedActivityGBq === undefined && r.gyPerGBq[i] > 0).map((t) => `"${t.name}"`);
    const fix = parts.length ? 'lower or free the fixed activities (activityGBq)' : 'check --prior-lung-gy and the limit';
    return { r, value, by, free, fix };
  });
  // exceeded: the worst first (largest value / limit), the others named after it
  const exceeded = rows.filter((x) => x.value > x.r.limitGy * (1 + 1e-12)).sort((a, b) => b.value / b.r.limitGy - a.value / a.r.limitGy);
  if (exceeded.length) {
    const w = exceeded[0];
    // one mention per limit (a limit has a partition and a dose-map row with the partition basis)
    const more = exceeded.filter((x, i) => x.r.id !== w.r.id && exceeded.findIndex((y) => y.r.id === x.r.id) === i);
    throw new PlanError(
      `the plan is infeasible: the ${w.r.what} limit of ${w.r.limitGy} Gy is exceeded, ${fmtGy(w.value)} Gy from ${w.by} with every other territory at 0 GBq; ${w.fix}` +
        (more.length ? ` (also exceeded: ${more.map((x) => `${x.r.what} ${fmtGy(x.value)} > ${x.r.limitGy} Gy`).join(', ')})` : ''),
    );
  }
  const spent = rows.find((x) => x.free.length > 0 && x.value >= x.r.limitGy * (1 - 1e-12));
  if (spent) {
    throw new PlanError(
      `the plan is infeasible: the ${spent.r.what} limit of ${spent.r.limitGy} Gy is already used up by ${spent.by}, so no activity is allowed in ${spent.free.join(', ')}, which would add to it; ${spent.fix}`,
    );
  }
}

interface Stage {
  readonly lp: LinearProgram;
  readonly name: string;
}

/** Coefficients of a coverage row: k_it / T_i per territory (the row is D_i / T_i). */
const coverageTerms = (c: CoverageTarget): Array<[number, number]> =>
  c.gyPerGBq.flatMap((k, t) => (k !== 0 ? [[t, k / c.targetGy] as [number, number]] : []));

async function solveStage(s: Stage, relaxed?: Stage): Promise<LpOptimum> {
  let r = await solveLp(s.lp, { feasibilityTolerance: COVERAGE_TOLERANCE });
  // the previous stages' optima are kept exactly (within HiGHS's feasibility tolerance); should rounding make that
  // infeasible, they are kept to COVERAGE_TOLERANCE
  if (r.status !== 'optimal' && relaxed) r = await solveLp(relaxed.lp, { feasibilityTolerance: COVERAGE_TOLERANCE });
  if (r.status !== 'optimal') {
    // not expected: the fixed activities with the free ones at 0 were checked to satisfy every row
    throw new PlanError(`the optimiser found no plan in its ${s.name} stage (${r.message}) although the fixed activities leave room under every limit; this is a bug: please report it with the territories file`);
  }
  return r;
}

/**
 * Solves a multi-territory problem (module comment): checks it ({@link checkFixedActivities}), runs the three
 * lexicographic LPs and returns the activities with every target's coverage, every limit's value and slack, and the
 * binding rows overall and per territory. Throws PlanError for an infeasible plan, and when no territory has a target
 * while some activity is left free (there is nothing to optimise).
 */
export async function optimiseTerritories(p: TerritoryProblem): Promise<TerritoryOptimum> {
  const nT = p.territories.length;
  for (const row of [...p.coverage, ...p.limits]) {
    if (row.gyPerGBq.length !== nT) throw new PlanError(`${row.id}: ${row.gyPerGBq.length} coefficients for ${nT} territories`);
    if (row.gyPerGBq.some((k) => !Number.isFinite(k) || k < 0)) throw new PlanError(`${row.id}: dose per GBq must be finite and >= 0, got ${row.gyPerGBq.join(', ')}`);
  }
  for (const c of p.coverage) if (!(c.targetGy > 0)) throw new PlanError(`${c.id}: target ${c.targetGy} Gy must be > 0`);
  for (const r of p.limits) if (!(r.limitGy > 0)) throw new PlanError(`${r.id}: limit ${r.limitGy} Gy must be > 0`);
  checkFixedActivities(p);
  const free = p.territories.filter((t) => t.fixedActivityGBq === undefined);
  if (p.coverage.length === 0 && free.length > 0) {
    throw new PlanError(
      `nothing to optimise: no tumour target and no perfusedTargetGy in any territory, so the activities of ${free.map((t) => `"${t.name}"`).join(', ')} are undetermined; give a target (tumorGy, --tumor-gy, perfusedTargetGy) or fix every activity by hand (activityGBq)`,
    );
  }

  // Columns: the activities, then z (stage 1) or the coverages c_i (stages 2, 3).
  const activityColumns: LpColumn[] = p.territories.map((t) => ({
    name: `A(${t.name})`,
    lower: t.fixedActivityGBq ?? 0,
    upper: t.fixedActivityGBq ?? Infinity,
  }));
  // Limit rows scaled by their limit: (sum_t k A_t) / L <= 1 - prior / L.
  const limitRows: LpRow[] = p.limits.map((r) => ({
    name: r.id,
    coefficients: r.gyPerGBq.flatMap((k, t) => (k !== 0 ? [[t, k / r.limitGy] as [number, number]] : [])),
    upper: 1 - (r.priorGy ?? 0) / r.limitGy,
  }));
  const nC = p.coverage.length;
  let zStar: number | null = null, sStar: number | null = null;
  const floorRows = (z: number, tol: number): LpRow[] =>
    z > COVERAGE_TOLERANCE ? p.coverage.map((c) => ({ name: `floor ${c.id}`, coefficients: coverageTerms(c), lower: z - tol })) : [];
  const cColumns: LpColumn[] = p.coverage.map((c) => ({ name: `c(${c.id})`, lower: 0, upper: 1 }));
  const cRows: LpRow[] = p.coverage.map((c, i) => ({ name: `coverage ${c.id}`, coefficients: [[nT + i, 1], ...coverageTerms(c).map(([t, a]) => [t, -a] as [number, number])], upper: 0 }));
  if (nC > 0) {
    // (1) max z, z <= D_i / T_i, z <= 1.
    const s1 = await solveStage({
      name: 'worst-coverage',
      lp: {
        sense: 'maximize',
        columns: [...activityColumns, { name: 'z', lower: 0, upper: 1, cost: 1 }],
        rows: [...limitRows, ...p.coverage.map((c) => ({ name: `worst ${c.id}`, coefficients: [[nT, 1] as [number, number], ...coverageTerms(c).map(([t, a]) => [t, -a] as [number, number])], upper: 0 }))],
      },
    });
    zStar = Math.min(1, Math.max(0, s1.objective));
    // (2) max sum c_i with the floors.
    const stage2 = (tol: number): Stage => ({
      name: 'summed-coverage',
      lp: { sense: 'maximize', columns: [...activityColumns, ...cColumns.map((c) => ({ ...c, cost: 1 }))], rows: [...limitRows, ...cRows, ...floorRows(zStar!, tol)] },
    });
    const s2 = await solveStage(stage2(0), stage2(COVERAGE_TOLERANCE));
    sStar = Math.min(nC, Math.max(0, s2.objective));
  }
  // (3) min the free activities with both kept.
  const stage3 = (tol: number): Stage => ({
    name: 'least-activity',
    lp: {
      sense: 'minimize',
      columns: [...activityColumns.map((c, t) => ({ ...c, cost: p.territories[t].fixedActivityGBq === undefined ? 1 : 0 })), ...cColumns],
      rows: [
        ...limitRows,
        ...cRows,
        ...(zStar === null ? [] : floorRows(zStar, tol)),
        ...(sStar === null || sStar <= COVERAGE_TOLERANCE ? [] : [{ name: 'summed coverage', coefficients: p.coverage.map((_, i) => [nT + i, 1] as [number, number]), lower: sStar - tol }]),
      ],
    },
  });
  const s3 = await solveStage(stage3(0), stage3(COVERAGE_TOLERANCE));
  const activities = p.territories.map((t, i) => t.fixedActivityGBq ?? Math.max(0, s3.values[i]));
  return territoryResult(p, activities);
}

/** Names of the territories whose coefficient in a row is at least {@link INVOLVEMENT_SHARE} of its largest. */
function involved(p: TerritoryProblem, k: readonly number[]): string[] {
  const max = Math.max(0, ...k);
  return max > 0 ? p.territories.filter((_, t) => k[t] >= INVOLVEMENT_SHARE * max).map((t) => t.name) : [];
}

/**
 * The doses, coverages, slacks and binding rows of a problem at given activities (float64, from the coefficients).
 * Exported for tests and for evaluating hand-chosen activities.
 */
export function territoryResult(p: TerritoryProblem, activitiesGBq: readonly number[]): TerritoryOptimum {
  const dot = (k: readonly number[]) => k.reduce((s, x, t) => s + x * activitiesGBq[t], 0);
  const coverage: CoverageResult[] = p.coverage.map((c) => {
    const doseGy = dot(c.gyPerGBq);
    const fraction = doseGy / c.targetGy;
    const reached = fraction >= 1 - BINDING_SLACK;
    return { ...c, doseGy, fraction, reached, binding: reached && fraction <= 1 + BINDING_SLACK, territories: involved(p, c.gyPerGBq) };
  });
  const limits: LimitResult[] = p.limits.map((r) => {
    const valueGy = (r.priorGy ?? 0) + dot(r.gyPerGBq);
    const slackGy = r.limitGy - valueGy;
    return { ...r, valueGy, slackGy, slackPercent: (100 * slackGy) / r.limitGy, binding: valueGy >= r.limitGy * (1 - BINDING_SLACK), territories: involved(p, r.gyPerGBq) };
  });
  const bindingRows = [...coverage.filter((c) => c.binding), ...limits.filter((r) => r.binding)];
  const unique = (ids: string[]) => [...new Set(ids)];
  const territories: TerritoryActivity[] = p.territories.map((t, i) => {
    let max = Infinity;
    for (const r of p.limits) {
      const k = r.gyPerGBq[i];
      if (!(k > 0)) continue;
      const others = (r.priorGy ?? 0) + r.gyPerGBq.reduce((s, x, u) => (u === i ? s : s + x * activitiesGBq[u]), 0);
      max = Math.min(max, Math.max(0, (r.limitGy - others) / k));
    }
    const fixed = t.fixedActivityGBq !== undefined;
    return {
      name: t.name,
      activityGBq: activitiesGBq[i],
      fixed,
      maxAllowedActivityGBq: Number.isFinite(max) ? max : null,
      limitingConstraints: fixed ? ['fixed'] : unique(bindingRows.filter((r) => r.territories.includes(t.name)).map((r) => r.id)),
    };
  });
  const capped = coverage.map((c) => Math.min(1, c.fraction));
  return {
    territories,
    coverage,
    limits,
    limitingConstraints: unique([...bindingRows.map((r) => r.id), ...(territories.some((t) => t.fixed) ? ['fixed'] : [])]),
    objective: {
      description: OBJECTIVE_DESCRIPTION,
      minCoverage: capped.length ? Math.min(...capped) : null,
      coverageSum: capped.length ? capped.reduce((s, x) => s + x, 0) : null,
      totalActivityGBq: activitiesGBq.reduce((s, a) => s + a, 0),
      tolerance: COVERAGE_TOLERANCE,
    },
  };
}
