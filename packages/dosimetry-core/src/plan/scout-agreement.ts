/**
 * Scout-to-treatment agreement of the activity distribution (compare's `scoutAgreement`): how well the scout (the
 * planned case: a 166Ho scout, or 99mTc-MAA) predicted where the treatment's microspheres went (the achieved case).
 *
 * Per structure paired by name, the share of each image's activity that it holds: f = activityGBq / activityInFieldGBq
 * of its own report. Shares need no absolute calibration and no administered activity, so a scout in counts and a
 * quantitative post-treatment image (90Y PET, 166Ho SPECT) compare directly, and the prediction's scaling to the
 * treatment activity cancels. Difference = treatment - scout (compare's convention: achieved - predicted), ratio =
 * treatment / scout. Overall: the mean and the largest absolute difference over the structures that divide the
 * activity without overlap (tumours, normal liver, lungs: the parent tumours, not their split lesions); over every
 * paired structure when the cases have none of those roles. Computed whenever both reports carry the shares (any
 * scout, any device); `scoutIsHo166` says whether the planned case is a 166Ho scout plan, the case it is made for
 * (Smits et al., EJNMMI 2020;47:798: 166Ho scout vs treatment).
 */

/** The report fields the agreement reads (../shared/CONTRACT.md: activityInFieldGBq, structures[].activityGBq). */
export interface ActivityShareReport {
  readonly activityInFieldGBq?: number;
  readonly structures: ReadonlyArray<{ readonly name: string; readonly role: string; readonly activityGBq?: number; readonly lesionOf?: string }>;
  readonly plan?: { readonly device?: string; readonly scout?: unknown } | null;
}

/** One structure's shares. */
export interface ScoutAgreementStructure {
  readonly name: string;
  readonly role: string;
  /** Share of the scout image's activity (planned case). */
  readonly scoutFraction: number;
  /** Share of the treatment image's activity (achieved case). */
  readonly treatmentFraction: number;
  /** treatmentFraction - scoutFraction. */
  readonly difference: number;
  /** treatmentFraction / scoutFraction; null when the scout share is 0. */
  readonly ratio: number | null;
  /** Whether it enters the overall figures. */
  readonly counted: boolean;
}

/** compare's `scoutAgreement`. */
export interface ScoutAgreement {
  readonly basis: string;
  /** True when the planned case is a 166Ho plan with its scout (plan.device ho166). */
  readonly scoutIsHo166: boolean;
  readonly structures: readonly ScoutAgreementStructure[];
  /** Mean |treatment - scout| share over the counted structures (0 = the same distribution). */
  readonly meanAbsoluteDifference: number;
  /** Largest |treatment - scout| share over the counted structures, and where. */
  readonly maxAbsoluteDifference: number;
  readonly maxAbsoluteDifferenceStructure: string;
  /** Which structures were counted, and why. */
  readonly counted: string;
}

/** Roles that divide an image's activity without overlap. */
const PARTITION_ROLES = new Set(['tumor', 'normal-liver', 'lung']);

const share = (a: unknown, total: number): number | null => (typeof a === 'number' && Number.isFinite(a) ? a / total : null);

/**
 * The agreement of two cases' activity shares (module comment), or null when either report lacks activityInFieldGBq
 * (> 0) or per-structure activities for the paired structures.
 */
export function scoutAgreement(planned: ActivityShareReport, achieved: ActivityShareReport): ScoutAgreement | null {
  const tp = planned.activityInFieldGBq, ta = achieved.activityInFieldGBq;
  if (typeof tp !== 'number' || typeof ta !== 'number' || !(tp > 0) || !(ta > 0)) return null;
  const byName = new Map(achieved.structures.map((s) => [s.name, s]));
  const rows: Array<Omit<ScoutAgreementStructure, 'counted'> & { lesionOf?: string }> = [];
  for (const p of planned.structures) {
    const a = byName.get(p.name);
    if (!a) continue;
    const fs = share(p.activityGBq, tp), ft = share(a.activityGBq, ta);
    if (fs === null || ft === null) continue;
    rows.push({ name: p.name, role: a.role, scoutFraction: fs, treatmentFraction: ft, difference: ft - fs, ratio: fs === 0 ? null : ft / fs, lesionOf: a.lesionOf ?? p.lesionOf });
  }
  if (rows.length === 0) return null;
  const partition = rows.filter((r) => PARTITION_ROLES.has(r.role) && r.lesionOf === undefined);
  const counted = new Set((partition.length ? partition : rows).map((r) => r.name));
  let sum = 0, max = -1, maxAt = '';
  for (const r of rows) {
    if (!counted.has(r.name)) continue;
    const d = Math.abs(r.difference);
    sum += d;
    if (d > max) (max = d), (maxAt = r.name);
  }
  return {
    basis: 'share of each image\'s activity in the field of view: structure activityGBq / activityInFieldGBq of its own report (no calibration or administered activity needed); difference = treatment - scout',
    scoutIsHo166: planned.plan?.device === 'ho166',
    structures: rows.map(({ lesionOf: _, ...r }) => ({ ...r, counted: counted.has(r.name) })),
    meanAbsoluteDifference: sum / counted.size,
    maxAbsoluteDifference: max,
    maxAbsoluteDifferenceStructure: maxAt,
    counted: partition.length
      ? `tumours, normal liver and lungs (${[...counted].join(', ')}): they divide the activity without overlap; the liver and other structures are listed, not counted`
      : `every paired structure (${[...counted].join(', ')}): no tumour, normal-liver or lung role to divide the activity`,
  };
}
