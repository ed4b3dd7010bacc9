/**
 * Verification: predicted (planned, from the scout) against achieved (post-treatment 90Y PET or 166Ho SPECT)
 * doses of two computed cases, structure by structure (paired by name). Per structure the pair of mean absorbed
 * doses (MADs), difference and ratio (convention of src/plan/agreement.ts: difference = achieved - predicted, ratio
 * = achieved / predicted), Dx pairs and a DVH pair; over lesions Bland-Altman bias and 95 % limits of agreement
 * (difference and log-ratio scales) and Lin's concordance correlation coefficient.
 *
 * The cases may be on different grids: every quantity is taken from each case's own report (MADs and DVHs are
 * grid-independent summaries of the structure in world space). Predicted doses can be scaled to the activity
 * actually given: dose is linear in activity, so MADs, Dx, min/max and the DVH dose axis scale by
 * A_given / A_planned; V-values do not scale and are left out (null) for scaled predictions.
 */
import { InputError } from '../errors.ts';
import { blandAltman, comparePairs, linConcordance, type BlandAltmanResult, type LinConcordanceResult } from './agreement.ts';
import { checkPositive } from './checks.ts';
import { scoutAgreement, type ScoutAgreement } from './scout-agreement.ts';

/** The parts of a case's report.json that the comparison reads (../shared/CONTRACT.md). */
export interface CaseReportLike {
  readonly isotope?: string;
  /** Activity in the field of view [GBq] (scoutAgreement: each structure's share of it). */
  readonly activityInFieldGBq?: number;
  readonly structures: ReadonlyArray<{
    readonly name: string;
    readonly role: string;
    readonly meanGy: number;
    readonly volumeMl?: number;
    readonly activityGBq?: number;
    readonly minGy?: number;
    readonly maxGy?: number;
    readonly d50Gy?: number;
    readonly d70Gy?: number;
    readonly d90Gy?: number;
    readonly d98Gy?: number;
    readonly v100?: number;
    readonly v150?: number;
    readonly v205?: number;
    readonly lesionOf?: string;
    readonly dvh?: { readonly doseGy: readonly number[]; readonly volumeFraction: readonly number[] };
  }>;
  readonly plan?: { readonly activityGBq?: number; readonly device?: string; readonly scout?: unknown } | null;
  readonly provenance?: { readonly parameters?: { readonly administeredGBq?: number | null } };
}

/** Dose summary of one structure in one case [Gy; V as volume fractions]. */
export interface DoseSummary {
  readonly meanGy: number;
  readonly minGy: number | null;
  readonly maxGy: number | null;
  readonly d50Gy: number | null;
  readonly d70Gy: number | null;
  readonly d90Gy: number | null;
  readonly d98Gy: number | null;
  readonly v100: number | null;
  readonly v150: number | null;
  readonly v205: number | null;
  readonly volumeMl: number | null;
}

/** One structure present in both cases. */
export interface StructurePair {
  /** Name in the planned case. */
  readonly name: string;
  /** Name in the achieved case (differs from `name` in case or through --match). */
  readonly achievedName: string;
  /** Role in the achieved case (planned role when they differ is in `plannedRole`). */
  readonly role: string;
  readonly plannedRole: string;
  /** Predicted MAD (scaled) [Gy]. */
  readonly predictedGy: number;
  /** Achieved MAD [Gy]. */
  readonly achievedGy: number;
  /** achieved - predicted [Gy]. */
  readonly differenceGy: number;
  /** achieved / predicted; null when predicted is 0. */
  readonly ratio: number | null;
  /** 100 (achieved - predicted) / predicted [%]; null when predicted is 0. */
  readonly percentDifference: number | null;
  readonly predicted: DoseSummary;
  readonly achieved: DoseSummary;
  /** Cumulative DVHs: volumeFraction[i] receives >= doseGy[i]; predicted dose axis scaled. Null when a report has none. */
  readonly dvh: {
    readonly predicted: { readonly doseGy: number[]; readonly volumeFraction: number[] } | null;
    readonly achieved: { readonly doseGy: number[]; readonly volumeFraction: number[] } | null;
  };
}

/** Agreement over lesions; a statistic is null (with a note) when there are too few lesions. */
export interface LesionAgreement {
  /** Lesion names used (split lesions when both cases have them, else the tumour structures). */
  readonly lesions: readonly string[];
  /** Bland-Altman on differences [Gy] (needs >= 2 lesions). */
  readonly blandAltman: BlandAltmanResult | null;
  /** Bland-Altman on log ratios, limits as ratios (needs >= 2 lesions with positive doses). */
  readonly blandAltmanLogRatio: BlandAltmanResult | null;
  /** Lin's concordance (needs >= 3 lesions). */
  readonly linConcordance: LinConcordanceResult | null;
  readonly notes: readonly string[];
}

/** Result of {@link compareCases}. */
export interface CaseComparison {
  /** A_given / A_planned applied to the predicted doses (1 when not scaled). */
  readonly scaleFactor: number;
  /** Activity of the planned case [GBq] (plan.activityGBq, else its administeredGBq), null when unknown. */
  readonly plannedActivityGBq: number | null;
  /** Activity the predicted doses are scaled to [GBq], null when not scaled. */
  readonly scaledToGBq: number | null;
  readonly pairs: readonly StructurePair[];
  readonly plannedOnly: readonly string[];
  readonly achievedOnly: readonly string[];
  readonly lesionAgreement: LesionAgreement;
  /** Scout-to-treatment agreement of the activity shares per structure (src/plan/scout-agreement.ts); null without shares. */
  readonly scoutAgreement: ScoutAgreement | null;
  readonly warnings: readonly string[];
}

/** Options of {@link compareCases}. */
export interface CompareCasesOptions {
  readonly planned: CaseReportLike;
  readonly achieved: CaseReportLike;
  /** Activity actually given [GBq]: predicted doses are scaled by it over the planned activity. */
  readonly scalePlannedToGBq?: number;
  /**
   * Explicit pairs, planned name -> achieved name (compare --match "liver=Liver"); both compared case-insensitively.
   * Structures not named here pair by case-insensitive equal names.
   */
  readonly match?: ReadonlyMap<string, string>;
}

const num = (x: unknown): number | null => (typeof x === 'number' && Number.isFinite(x) ? x : null);

function summary(s: CaseReportLike['structures'][number], f: number, scaled: boolean): DoseSummary {
  const sc = (x: unknown) => {
    const v = num(x);
    return v === null ? null : v * f;
  };
  return {
    meanGy: s.meanGy * f,
    minGy: sc(s.minGy), maxGy: sc(s.maxGy), d50Gy: sc(s.d50Gy), d70Gy: sc(s.d70Gy), d90Gy: sc(s.d90Gy), d98Gy: sc(s.d98Gy),
    v100: scaled ? null : num(s.v100), v150: scaled ? null : num(s.v150), v205: scaled ? null : num(s.v205),
    volumeMl: num(s.volumeMl),
  };
}

function checkReport(r: CaseReportLike, what: string): void {
  if (!r || !Array.isArray(r.structures)) throw new InputError(`the ${what} report has no "structures" list: give a case folder written by dose or plan`);
  const seen = new Set<string>();
  for (const s of r.structures) {
    if (typeof s.name !== 'string' || typeof s.meanGy !== 'number') throw new InputError(`the ${what} report holds a structure without name or meanGy: is it a dosimetry report.json?`);
    if (seen.has(s.name)) throw new InputError(`the ${what} report holds two structures named "${s.name}": pairing by name needs unique names`);
    seen.add(s.name);
  }
}

/**
 * Pairs two cases' structures by name and compares them (module comment). Throws InputError when the reports are
 * malformed, no structure is common to both, or scaling is asked without a known planned activity.
 */
export function compareCases(opts: CompareCasesOptions): CaseComparison {
  const { planned, achieved } = opts;
  checkReport(planned, 'planned');
  checkReport(achieved, 'achieved');
  const warnings: string[] = [];
  if (planned.isotope && achieved.isotope && planned.isotope !== achieved.isotope) {
    warnings.push(`the planned case is ${planned.isotope} and the achieved case ${achieved.isotope}: doses of different nuclides are compared`);
  }
  const plannedActivityGBq = num(planned.plan?.activityGBq) ?? num(planned.provenance?.parameters?.administeredGBq);
  let f = 1;
  let scaledToGBq: number | null = null;
  if (opts.scalePlannedToGBq !== undefined) {
    scaledToGBq = checkPositive(opts.scalePlannedToGBq, 'activity given [GBq]');
    if (plannedActivityGBq === null || !(plannedActivityGBq > 0)) {
      throw new InputError('cannot scale the predicted doses: the planned report has neither plan.activityGBq nor an administeredGBq; compute it with plan or dose --administered-gbq');
    }
    f = scaledToGBq / plannedActivityGBq;
  }
  // Pairing: the --match table first, then case-insensitive equal names; each structure pairs at most once.
  const lc = (x: string) => x.trim().toLowerCase();
  const aByLower = new Map(achieved.structures.map((s) => [lc(s.name), s]));
  const pByLower = new Map(planned.structures.map((s) => [lc(s.name), s]));
  const table = new Map<string, string>();
  for (const [pn, an] of opts.match ?? []) {
    if (!pByLower.has(lc(pn))) throw new InputError(`--match "${pn}=${an}": the planned case has no structure "${pn}" (it has ${planned.structures.map((s) => `"${s.name}"`).join(', ')})`);
    if (!aByLower.has(lc(an))) throw new InputError(`--match "${pn}=${an}": the achieved case has no structure "${an}" (it has ${achieved.structures.map((s) => `"${s.name}"`).join(', ')})`);
    table.set(lc(pn), lc(an));
  }
  const explicitTargets = new Set(table.values());
  // planned name -> its achieved partner
  const aByName = new Map<string, CaseReportLike['structures'][number]>();
  const usedAchieved = new Set<string>();
  for (const p of planned.structures) {
    const key = table.get(lc(p.name)) ?? (explicitTargets.has(lc(p.name)) ? undefined : lc(p.name));
    const a = key === undefined ? undefined : aByLower.get(key);
    if (a && !usedAchieved.has(lc(a.name))) {
      aByName.set(p.name, a);
      usedAchieved.add(lc(a.name));
    }
  }
  const plannedNameOf = new Map([...aByName].map(([pn, a]) => [a.name, pn]));
  const pByName = new Map(planned.structures.map((s) => [s.name, s]));
  const pairs: StructurePair[] = [];
  for (const p of planned.structures) {
    const a = aByName.get(p.name);
    if (!a) continue;
    const cmp = comparePairs({ predicted: [p.meanGy * f], achieved: [a.meanGy], labels: [p.name] })[0];
    if (p.role !== a.role) warnings.push(`structure "${p.name}" is ${p.role} in the planned case and ${a.role} in the achieved case`);
    pairs.push({
      name: p.name,
      achievedName: a.name,
      role: a.role,
      plannedRole: p.role,
      predictedGy: cmp.predicted,
      achievedGy: cmp.achieved,
      differenceGy: cmp.difference,
      ratio: cmp.ratio,
      percentDifference: cmp.percentDifference,
      predicted: summary(p, f, scaledToGBq !== null),
      achieved: summary(a, 1, false),
      dvh: {
        predicted: p.dvh ? { doseGy: p.dvh.doseGy.map((d) => d * f), volumeFraction: [...p.dvh.volumeFraction] } : null,
        achieved: a.dvh ? { doseGy: [...a.dvh.doseGy], volumeFraction: [...a.dvh.volumeFraction] } : null,
      },
    });
  }
  if (pairs.length === 0) {
    throw new InputError(
      `no structure name is common to both cases (planned: ${planned.structures.map((s) => `"${s.name}"`).join(', ')}; achieved: ${achieved.structures.map((s) => `"${s.name}"`).join(', ')}): pair them with --match "PLANNED=ACHIEVED" or compute both on the same segmentation`,
    );
  }
  const plannedOnly = planned.structures.filter((s) => !aByName.has(s.name)).map((s) => s.name);
  const achievedOnly = achieved.structures.filter((s) => !usedAchieved.has(lc(s.name))).map((s) => s.name);
  if (plannedOnly.length || achievedOnly.length) {
    warnings.push(`unpaired structures: ${[...plannedOnly.map((n) => `"${n}" (planned only)`), ...achievedOnly.map((n) => `"${n}" (achieved only)`)].join(', ')}`);
  }

  // Lesions: split lesions when paired ones exist (they are the individual lesions), else the tumour structures.
  const tumourPairs = pairs.filter((p) => p.role === 'tumor' && p.plannedRole === 'tumor');
  const splitPairs = tumourPairs.filter((p) => pByName.get(p.name)?.lesionOf !== undefined && aByName.get(p.name)?.lesionOf !== undefined);
  const lesionPairs = splitPairs.length ? splitPairs : tumourPairs.filter((p) => pByName.get(p.name)?.lesionOf === undefined);
  const values = { predicted: lesionPairs.map((p) => p.predictedGy), achieved: lesionPairs.map((p) => p.achievedGy), labels: lesionPairs.map((p) => p.name) };
  const notes: string[] = [];
  const n = lesionPairs.length;
  const ba = n >= 2 ? blandAltman({ ...values, scale: 'difference' }) : null;
  if (n < 2) notes.push(`Bland-Altman needs at least 2 paired lesions (${n} here)`);
  let baLog: BlandAltmanResult | null = null;
  if (n >= 2) {
    if (values.predicted.every((x) => x > 0) && values.achieved.every((x) => x > 0)) baLog = blandAltman({ ...values, scale: 'log-ratio' });
    else notes.push('log-ratio Bland-Altman left out: a lesion has a dose <= 0');
  }
  let lin: LinConcordanceResult | null = null;
  if (n >= 3) {
    const spread = Math.max(...values.predicted, ...values.achieved) - Math.min(...values.predicted, ...values.achieved);
    if (spread > 0) lin = linConcordance(values);
    else notes.push("Lin's concordance undefined: every lesion dose is the same number");
  } else notes.push(`Lin's concordance needs at least 3 paired lesions (${n} here)`);
  return {
    scaleFactor: f,
    plannedActivityGBq,
    scaledToGBq,
    pairs,
    plannedOnly,
    achievedOnly,
    lesionAgreement: { lesions: values.labels, blandAltman: ba, blandAltmanLogRatio: baLog, linConcordance: lin, notes },
    scoutAgreement: scoutAgreement(planned, { ...achieved, structures: achieved.structures.map((s) => ({ ...s, name: plannedNameOf.get(s.name) ?? s.name })) }),
    warnings,
  };
}

const CSV_COLUMNS = [
  'name', 'role', 'predictedGy', 'achievedGy', 'differenceGy', 'ratio', 'percentDifference',
  'predictedD70Gy', 'achievedD70Gy', 'predictedD90Gy', 'achievedD90Gy', 'predictedV100', 'achievedV100', 'predictedV205', 'achievedV205',
] as const;

function csvField(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : '';
  const s = String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** compare.csv: one row per paired structure (scalar fields; DVHs are in compare.json). */
export function comparisonCsv(c: CaseComparison): string {
  const rows = [CSV_COLUMNS.join(',')];
  for (const p of c.pairs) {
    const r: Record<(typeof CSV_COLUMNS)[number], unknown> = {
      name: p.name, role: p.role, predictedGy: p.predictedGy, achievedGy: p.achievedGy, differenceGy: p.differenceGy, ratio: p.ratio,
      percentDifference: p.percentDifference, predictedD70Gy: p.predicted.d70Gy, achievedD70Gy: p.achieved.d70Gy,
      predictedD90Gy: p.predicted.d90Gy, achievedD90Gy: p.achieved.d90Gy, predictedV100: p.predicted.v100, achievedV100: p.achieved.v100,
      predictedV205: p.predicted.v205, achievedV205: p.achieved.v205,
    };
    rows.push(CSV_COLUMNS.map((k) => csvField(r[k])).join(','));
  }
  return rows.join('\n') + '\n';
}
