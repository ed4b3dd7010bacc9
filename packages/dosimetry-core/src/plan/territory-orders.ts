/**
 * The vial orders of a multi-territory plan (`plan --territories ... --treatment-time T`): one {@link orderVial} per
 * territory, and the plan's limits checked at the activities the orders deliver, all territories together.
 *
 * A vial does not always deliver the planned activity (a glass stock vial is given whole; a residual is drawn extra),
 * and every limit of a territory plan is shared (the whole normal liver and the lungs take dose from every territory,
 * a perfused normal liver from the territories that overlap it). The single-territory plan keeps a vial within its
 * limits by giving orderVial the largest activity the limits allow (src/cli/commands/plan-order.ts); here, in territory
 * order, each territory's largest allowed activity is taken from every limit row of the plan (src/plan/territories.ts,
 * both bases) with the territories ordered before it at their delivered activities and those after it at their
 * planned ones:
 *   A_max,t = min over rows r with k_rt > 0 of (L_r - prior_r - sum_{u<t} k_ru D_u - sum_{u>t} k_ru A_u) / k_rt.
 * The planned activities keep every limit, and each order keeps the state it leaves within them, so the delivered
 * activities together keep every limit too, unless a territory's smallest vial cannot (orderVial then flags it not
 * orderable) or an activity was fixed by hand above what the others leave. The rows are then evaluated at the
 * delivered activities (territoryResult) and any broken limit or target missed there is said in a warning.
 *
 * Doses at the delivered activities are the dose maps' means per GBq (every territory's case at 1 GBq) times the
 * delivered activities, summed: each territory's order gives them for its own compartments (the shape of plain plan's
 * plan.order.predictedAtDelivered), the plan every structure's mean.
 */
import { DEVICE_CATALOGUE, type DeviceCatalogue } from './catalogue.ts';
import { sums, type PredictedDoses } from './image.ts';
import { BINDING_SLACK, territoryResult, type LimitConstraint, type TerritoryProblem } from './territories.ts';
import type { TerritoryCases } from './territory-cases.ts';
import { combinedStdErr } from './territory-mc.ts';
import { orderVial, type VialOrder } from './vials.ts';

/** Options of {@link orderTerritoryVials}. */
export interface TerritoryOrderOptions {
  readonly cases: TerritoryCases;
  /** The plan's problem (its limit rows, coverage targets and territories, in the cases' order). */
  readonly problem: TerritoryProblem;
  /** Planned activity of each territory [GBq] (the optimum, or fixed by hand). */
  readonly activitiesGBq: readonly number[];
  readonly treatmentTime: Date;
  /** The vial label's calibration time (--calibration-time); default each device's calibration rule. */
  readonly calibrationTime?: Date;
  /** Expected residual fraction of what is drawn, in [0, 1); default 0. */
  readonly residualFraction?: number;
  readonly catalogue?: DeviceCatalogue;
}

/** report.json plan.territories[].order: plain plan's plan.order for one territory of the plan. */
export type TerritoryOrderJson = VialOrder & {
  /**
   * Mean doses of this territory's compartments [Gy] (its perfused normal liver and perfused structure as "treated
   * liver"; lesions, all tumour, whole normal liver, liver and lung as in the plan) with every territory at its
   * delivered activity.
   */
  readonly predictedAtDelivered: PredictedDoses;
  /** The limit that set maxAllowedActivityGBq, and at which activities the other territories were taken. */
  readonly maxAllowedNote: string | null;
  readonly doseMapNote: string;
};

/** One limit row at the delivered activities (report.json plan.delivered.constraints[]). */
export interface DeliveredLimit {
  readonly name: string;
  readonly id: string;
  readonly structure: string;
  readonly basis: LimitConstraint['basis'];
  readonly limitGy: number;
  readonly valueGy: number;
  readonly slackGy: number;
  readonly slackPercent: number;
  /** value > limit (beyond the float32 slack of the planner's checks). */
  readonly broken: boolean;
  /**
   * --method mc, dose-map basis: the standard error of valueGy [Gy], sqrt(sum_t (D_t se_t)^2) of the territories'
   * runs at their delivered activities D_t (src/plan/territory-mc.ts); null on the partition and lung-formula bases
   * (no Monte Carlo in them). Absent without Monte Carlo.
   */
  readonly valueGyStdErr?: number | null;
  /** |value - limit| <= 2 valueGyStdErr: the Monte Carlo noise could flip the verdict (see {@link WITHIN_2SE_FLAG}). */
  readonly within2StdErr?: boolean;
  /** {@link WITHIN_2SE_FLAG} when within2StdErr. */
  readonly flag?: string;
}

/** The flag of a delivered limit or target whose verdict could flip within 2 Monte Carlo standard errors. */
export const WITHIN_2SE_FLAG = 'within 2 SE of the limit';

/** |value - bound| <= 2 se (se > 0 and finite): a verdict the Monte Carlo's noise could flip. */
export function within2StdErr(valueGy: number, boundGy: number, stdErrGy: number | null | undefined): boolean {
  return typeof stdErrGy === 'number' && Number.isFinite(stdErrGy) && stdErrGy > 0 && Math.abs(valueGy - boundGy) <= 2 * stdErrGy;
}

/** The plan at the delivered activities (report.json plan.delivered). */
export interface DeliveredPlan {
  readonly note: string;
  /** Delivered activity of each territory [GBq] (0 for a territory planned at 0, which orders nothing). */
  readonly activitiesGBq: readonly number[];
  readonly totalActivityGBq: number;
  /** Every limit kept at the delivered activities. */
  readonly withinLimits: boolean;
  /** Every target reached at the delivered activities. */
  readonly tumorTargetReached: boolean;
  readonly constraints: readonly DeliveredLimit[];
  /** Every target at the delivered activities; with --method mc doseGyStdErr, within2StdErr and flag as the limits'. */
  readonly coverage: ReadonlyArray<{ readonly id: string; readonly structure: string; readonly targetGy: number; readonly doseGy: number; readonly fraction: number; readonly reached: boolean; readonly doseGyStdErr?: number | null; readonly within2StdErr?: boolean; readonly flag?: string }>;
  /** Mean dose of every structure of the report at the delivered activities [Gy] (report order); --method mc: its standard error meanGyStdErr [Gy]. */
  readonly structures: ReadonlyArray<{ readonly name: string; readonly meanGy: number; readonly meanGyStdErr?: number | null }>;
}

/** Result of {@link orderTerritoryVials}. */
export interface TerritoryOrders {
  /** Per territory, in the cases' order: its order, or null for a territory planned at 0 GBq. */
  readonly orders: ReadonlyArray<TerritoryOrderJson | null>;
  readonly delivered: DeliveredPlan;
  /** The orders' warnings (each prefixed with its territory), then the combined plan's. */
  readonly warnings: readonly string[];
}

const g4 = (x: number) => x.toPrecision(4);

/**
 * The largest activity of territory `t` the limit rows allow with the others at `activitiesGBq` [GBq], and the row
 * that sets it; null when no row bounds it (module comment).
 */
export function territoryMaxAllowed(p: TerritoryProblem, t: number, activitiesGBq: readonly number[]): { maxGBq: number; row: LimitConstraint } | null {
  let best: { maxGBq: number; row: LimitConstraint } | null = null;
  for (const r of p.limits) {
    const k = r.gyPerGBq[t];
    if (!(k > 0)) continue;
    let others = r.priorGy ?? 0;
    r.gyPerGBq.forEach((x, u) => (others += u === t ? 0 : x * activitiesGBq[u]));
    const maxGBq = Math.max(0, (r.limitGy - others) / k);
    if (best === null || maxGBq < best.maxGBq) best = { maxGBq, row: r };
  }
  return best;
}

/**
 * Orders every territory's vial in territory order, each within the plan's limits with the territories before it at
 * their delivered activities and those after it as planned, and checks the plan at the delivered activities (module
 * comment). Throws as orderVial does (a treatment outside a device's usable window, resin without its label time).
 */
export function orderTerritoryVials(opts: TerritoryOrderOptions): TerritoryOrders {
  const { cases: tc, problem } = opts;
  const cases = tc.cases;
  const n = cases.length;
  const state = [...opts.activitiesGBq];
  const warnings: string[] = [];
  const raw: Array<VialOrder | null> = [];
  const notes: Array<string | null> = [];
  for (let t = 0; t < n; t++) {
    const planned = opts.activitiesGBq[t];
    if (!(planned > 0)) {
      raw.push(null);
      notes.push(null);
      state[t] = 0;
      continue;
    }
    const lim = territoryMaxAllowed(problem, t, state);
    const at = [t > 0 ? 'the territories before it at their delivered activities' : '', t < n - 1 ? 'those after it as planned' : ''].filter(Boolean).join(', ') || 'no other territory';
    const limitText = lim ? `${lim.row.what} limit ${lim.row.limitGy} Gy (${lim.row.basis}), with ${at}` : undefined;
    const order = orderVial({
      device: cases[t].spec.device,
      activityGBq: planned,
      treatmentTime: opts.treatmentTime,
      calibrationTime: opts.calibrationTime,
      residualFraction: opts.residualFraction,
      // a limit already used up by the others leaves this territory nothing: the smallest positive bound, so that
      // any vial is flagged as breaking it
      maxAllowedActivityGBq: lim ? Math.max(lim.maxGBq, Number.MIN_VALUE) : null,
      limitDescription: limitText,
      catalogue: opts.catalogue ?? DEVICE_CATALOGUE,
    });
    raw.push(order);
    notes.push(lim ? `at most ${g4(lim.maxGBq)} GBq: the ${limitText}` : null);
    state[t] = order.deliveredActivityGBq;
    warnings.push(...order.warnings.map((w) => `territory "${cases[t].spec.name}": ${w.replace('plan.order', `plan.territories[${t}].order`)}`));
  }

  // The plan at the delivered activities: every row of the problem, and every structure's mean.
  const atDelivered = territoryResult(problem, state);
  const at = (k: (u: number) => number) => state.reduce((s, a, u) => s + a * k(u), 0);
  const meanOf = (u: number, g: Parameters<typeof sums>[1]) => Math.max(0, sums(cases[u].result, g).meanGy);
  const orders = raw.map((o, t): TerritoryOrderJson | null => {
    if (!o) return null;
    const c = cases[t].compartments;
    const predictedAtDelivered: PredictedDoses = {
      lesions: c.lesions.map((l, i) => ({ name: l.name, meanGy: at((u) => cases[u].compartments.lesions[i].gyPerGBq) })),
      allTumorGy: at((u) => cases[u].compartments.allTumor.gyPerGBq),
      perfusedNormalLiverGy: at((u) => meanOf(u, cases[t].perfusedNormal)),
      wholeNormalLiverGy: at((u) => cases[u].compartments.wholeNormalLiver.gyPerGBq),
      treatedLiverGy: at((u) => meanOf(u, cases[t].perfused)),
      liverGy: at((u) => cases[u].compartments.liver.gyPerGBq),
      lungGy: at((u) => cases[u].compartments.lungGyPerGBq),
    };
    return {
      ...o,
      predictedAtDelivered,
      maxAllowedNote: notes[t],
      doseMapNote: `dose.nii.gz, the structures and plan.territories[].structures are at the planned activities; predictedAtDelivered (this territory's compartments) and plan.delivered are at every territory's delivered activity (${state.map(g4).join(', ')} GBq), from the dose maps per GBq (dose is linear in each activity)`,
    };
  });

  // --method mc: every dose-map row's standard error at the delivered activities (null on the other bases)
  const mc = cases.some((c) => c.result.mc);
  const seOf = (k?: readonly number[]) => {
    const se = k ? combinedStdErr(k, state) : NaN;
    return Number.isFinite(se) ? se : null;
  };
  const mcFields = (se: number | null, value: number, bound: number) => {
    if (!mc) return {};
    const w = within2StdErr(value, bound, se);
    return w ? { within2StdErr: true, flag: WITHIN_2SE_FLAG } : { within2StdErr: false };
  };
  const constraints: DeliveredLimit[] = atDelivered.limits.map((l) => {
    const se = seOf(l.gyPerGBqStdErr);
    return {
      name: `${l.id} (${l.basis})`, id: l.id, structure: l.structure, basis: l.basis, limitGy: l.limitGy, valueGy: l.valueGy, slackGy: l.slackGy,
      slackPercent: l.slackPercent, broken: l.valueGy > l.limitGy * (1 + BINDING_SLACK),
      ...(mc ? { valueGyStdErr: se } : {}),
      ...mcFields(se, l.valueGy, l.limitGy),
    };
  });
  const coverage = atDelivered.coverage.map((c) => {
    const se = seOf(c.gyPerGBqStdErr);
    return {
      id: c.id, structure: c.structure, targetGy: c.targetGy, doseGy: c.doseGy, fraction: c.fraction, reached: c.reached,
      ...(mc ? { doseGyStdErr: se } : {}),
      ...mcFields(se, c.doseGy, c.targetGy),
    };
  });
  const deliveredText = cases.map((c, t) => `"${c.spec.name}" ${g4(state[t])} GBq`).join(', ');
  // one warning per limit (a limit has a partition and a dose-map row with the partition basis)
  for (const id of new Set(constraints.filter((x) => x.broken).map((x) => x.id))) {
    const rows = constraints.filter((x) => x.id === id && x.broken);
    const what = atDelivered.limits.find((x) => x.id === id)!.what;
    warnings.push(
      `at the delivered activities (${deliveredText}) the combined plan BREAKS the ${what} limit of ${rows[0].limitGy} Gy: ${rows.map((r) => `${g4(r.valueGy)} Gy (${r.basis})`).join(', ')}; the vials cannot keep it: see the orders' warnings (a later treatment time, another vial size or a lower hand-fixed activity)`,
    );
  }
  const pm = (se: number | null | undefined) => `${se != null ? ` ± ${g4(se)}` : ''}`;
  for (const l of constraints.filter((x) => x.within2StdErr)) {
    warnings.push(
      `at the delivered activities (${deliveredText}) the ${l.id} limit of ${l.limitGy} Gy (${l.basis}) is ${WITHIN_2SE_FLAG}: ${g4(l.valueGy)}${pm(l.valueGyStdErr)} Gy (Monte Carlo standard error), so its verdict (${l.broken ? 'broken' : 'kept'}) could flip with another seed: run more histories (--mc-histories, --mc-target-uncertainty)`,
    );
  }
  for (const c of coverage.filter((x) => x.within2StdErr)) {
    warnings.push(
      `at the delivered activities (${deliveredText}) the ${c.id} target of ${c.targetGy} Gy is ${WITHIN_2SE_FLAG}: ${g4(c.doseGy)}${pm(c.doseGyStdErr)} Gy (Monte Carlo standard error), so its verdict (${c.reached ? 'reached' : 'not reached'}) could flip with another seed: run more histories (--mc-histories, --mc-target-uncertainty)`,
    );
  }
  const plannedResult = territoryResult(problem, opts.activitiesGBq);
  atDelivered.coverage.forEach((c, i) => {
    if (plannedResult.coverage[i].reached && !c.reached) {
      warnings.push(`at the delivered activities (${deliveredText}) "${c.structure}" gets ${g4(c.doseGy)} Gy, below its ${c.targetGy} Gy target (reached at the planned activities): a vial delivers less than planned`);
    }
  });
  // by name: a territory's case lists the reference's structures (its perfused structure with another role)
  const perGBq = cases.map((c) => new Map(c.result.structures.map((s) => [s.name, Math.max(0, s.meanGy)])));
  const sePerGBq = cases.map((c) => new Map(c.result.structures.map((s) => [s.name, s.uncertainty?.meanGy ?? NaN])));
  const structures = tc.reference.structures.map((s) => ({
    name: s.name,
    meanGy: at((u) => perGBq[u].get(s.name) ?? 0),
    ...(mc ? { meanGyStdErr: seOf(cases.map((_, u) => sePerGBq[u].get(s.name) ?? NaN)) } : {}),
  }));
  return {
    orders,
    delivered: {
      note: `the plan at the activities the vials deliver (plan.territories[].order.deliveredActivityGBq): every limit and target of the plan (both bases) and every structure's mean dose, from the dose maps per GBq; dose.nii.gz and the report's structures are at the planned activities${
        mc
          ? `; --method mc: valueGyStdErr, doseGyStdErr and meanGyStdErr are Monte Carlo standard errors at the delivered activities, sqrt(sum_t (D_t se_t)^2) of the territories' independent runs (se_t: run t's standard error per GBq of the row's mean dose, from its batches; null on the partition and lung-formula bases, which use no Monte Carlo dose); a limit or target with |dose - bound| <= 2 standard errors is flagged "${WITHIN_2SE_FLAG}"`
          : ''
      }`,
      activitiesGBq: state,
      totalActivityGBq: state.reduce((s, a) => s + a, 0),
      withinLimits: constraints.every((c) => !c.broken),
      tumorTargetReached: atDelivered.coverage.every((c) => c.reached),
      constraints,
      coverage,
      structures,
    },
    warnings,
  };
}
