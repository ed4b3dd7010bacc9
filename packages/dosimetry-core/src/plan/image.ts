/**
 * Image-based treatment planning from a scout SPECT (99mTc-MAA or 166Ho scout, in counts).
 *
 * The scout has no absolute scale, so the dose case is computed once at a reference activity A_ref (default 1 GBq
 * administered; the liver, or the --normalize-to structure, holding A_ref x (1 - LSF)). Every dose is linear in the
 * administered activity A (calibration, LDM and DVK are all linear), so the case gives each compartment's dose per GBq
 * k_c = D_c(A_ref) / A_ref [Gy/GBq], and the doses at any activity are k_c x A. From the same case:
 *   - T/N per lesion and for all tumour together: (A_i / M_i) / (A_PN / M_PN), activities from the scout counts,
 *     PN = the perfused normal liver (Ho et al., Eur J Nucl Med 1996;23:947);
 *   - masses from the voxel volumes and densities of the case (CT when given, else 1.05 g/mL; lung 0.30 g/mL);
 *   - the lung dose per GBq CF x LSF / M_L (../shared/PHYSICS.md), M_L the lung structure's mass or 1000 g.
 * Methods side by side ({@link planFromCase}): MIRD single compartment (or the 166Ho standard), BSA (resin only),
 * the multi-lesion partition model, and the voxel-based plan, which puts the tumour target and the limits on the
 * mean absorbed doses read from the dose map (so it includes crossfire with DVK and counts outside the compartments).
 */
import { InputError, PlanError } from '../errors.ts';
import { DEFAULT_LUNG_MASS_G, KG_PER_G, NUCLIDES, type Isotope } from '../units/index.ts';
import { voxelCount, voxelVolumeMl } from '../volume/geometry.ts';
import type { GridStructure } from '../volume/structure.ts';
import type { DoseCaseResult, StructureReport } from '../dose/pipeline.ts';
import { selectBackend } from '../dose/backend.ts';
import { checkLsf } from '../dose/calibration.ts';
import { checkPositive } from './checks.ts';
import { bsaLsfReduction, bsaActivity, checkPlausibleBsaM2, holmiumStandardActivity, mirdActivity } from './models.ts';
import { partitionMultiLesionPlan, type LimitingConstraint, type PartitionPlan } from './partition.ts';
import { DEVICE_PRESETS, deviceTargets, type Device, type DeviceOverrides, type DeviceTargets } from './devices.ts';
import { bedQuadraticCoefficientPerGy, eudGy, NORMAL_LIVER_LQ, TUMOR_LQ, type LqParameters } from './radiobiology.ts';

/** Reference administered activity [GBq] at which the scout case is computed (any value works: doses are linear). */
export const REFERENCE_ACTIVITY_GBQ = 1;

/** Planning methods reported side by side. */
export type PlanMethod = 'mird' | 'bsa' | 'partition' | 'voxel';
export const PLAN_METHODS: readonly PlanMethod[] = ['mird', 'bsa', 'partition', 'voxel'];

/**
 * The method whose activity is prescribed by default:
 * - glass, resin: the partition model (EANM 2022, Weber et al., EJNMMI 49:1682, recommends multi-compartment
 *   dosimetry; DOSISPHERE-01 personalised glass dosimetry; for resin it replaces the BSA method);
 * - ho166: the 166Ho standard (MIRD, 60 Gy to the treated liver; HEPAR trials, Smits et al. 2012).
 */
export const DEFAULT_PRESCRIPTION: Readonly<Record<Device, PlanMethod>> = { glass: 'partition', resin: 'partition', ho166: 'mird' };

/**
 * Default MIRD mean dose to the treated (perfused) liver [Gy]:
 * glass 120 Gy (TheraSphere IFU range 80-150 Gy; the EANM 2022 perfused-normal-liver limit), resin 40 Gy
 * (EANM 2022 perfused normal liver limit; MIRD is not the resin IFU's method), ho166 60 Gy (the 166Ho standard,
 * ../shared/PHYSICS.md). Override with `mirdGy`.
 */
export const DEFAULT_MIRD_GY: Readonly<Record<Device, number>> = { glass: 120, resin: 40, ho166: 60 };

/** Parses a method name (mird, bsa, partition, voxel). */
export function parsePlanMethod(text: string): PlanMethod {
  const t = text.trim().toLowerCase();
  if ((PLAN_METHODS as readonly string[]).includes(t)) return t as PlanMethod;
  throw new InputError(`unknown planning method "${text}": use mird, bsa, partition or voxel`);
}

/** One compartment of the case, with its dose per GBq administered. */
export interface Compartment {
  readonly name: string;
  /** Volume [mL] (sum of partial-volume weights x voxel volume). */
  readonly volumeMl: number;
  /** Mass [g] (weights x density x voxel volume). */
  readonly massG: number;
  /** Fraction of the administered activity lodged in it (from the scout counts). */
  readonly activityFraction: number;
  /** Mean absorbed dose per GBq administered [Gy/GBq], from the dose map (mass-weighted: energy / mass). */
  readonly gyPerGBq: number;
  /** Tumour-to-normal ratio (A/M)/(A_PN/M_PN) against the perfused normal liver; null for non-tumour compartments. */
  readonly tnRatio: number | null;
}

/** The compartments of a scout case (see {@link caseCompartments}). */
export interface CaseCompartments {
  readonly isotope: Isotope;
  /** Lesions: the split lesions when the case split them, else the tumour structures. */
  readonly lesions: readonly Compartment[];
  /** Union of the tumour structures. */
  readonly allTumor: Compartment;
  /** Perfused liver minus tumours (the whole normal liver when no perfused structure was given). */
  readonly perfusedNormalLiver: Compartment;
  /** Liver minus tumours. */
  readonly wholeNormalLiver: Compartment;
  /** Treated liver: the perfused structure, or the whole liver. */
  readonly treatedLiver: Compartment;
  readonly liver: Compartment;
  /** True when a perfused structure was given (lobar/selective treatment). */
  readonly perfusedGiven: boolean;
  readonly lungShuntFraction: number;
  readonly lungShuntFractionSource: string;
  /** Lung mass [g] for the lung dose, and where it came from. */
  readonly lungMassG: number;
  readonly lungMassSource: 'lung structure' | 'default 1000 g' | 'given';
  /** CF x LSF / M_L [Gy/GBq] (../shared/PHYSICS.md). */
  readonly lungGyPerGBq: number;
  readonly warnings: readonly string[];
}

/** Weighted sums over a grid structure: volume [mL], mass [g], activity [Bq], mass-weighted mean dose [Gy]. */
export function sums(result: DoseCaseResult, s: GridStructure) {
  const vVox = voxelVolumeMl(result.dose.geometry);
  const rho = result.densityGPerMl, a = result.activityBqPerMl, d = result.dose.data;
  let w = 0, m = 0, act = 0, e = 0;
  for (let n = 0; n < s.voxelIndices.length; n++) {
    const v = s.voxelIndices[n], wn = s.weights[n];
    // mass of the structure's own part of the voxel (from a CT, see GridStructure.partMassGPerMl), else w x rho
    const mn = s.partMassGPerMl ? s.partMassGPerMl[n] : wn * Math.max(0, typeof rho === 'number' ? rho : rho[v]);
    w += wn;
    m += mn;
    act += wn * a[v];
    e += mn * d[v];
  }
  return { volumeMl: w * vVox, massG: m * vVox, activityBq: act * vVox, meanGy: m > 0 ? e / m : NaN };
}

/** Union (weights min(1, sum)) or difference (base minus min(1, sum of others)) of grid structures. */
export function combine(name: string, origin: string, nVox: number, base: GridStructure | null, parts: readonly GridStructure[]): GridStructure {
  const frac = new Float32Array(nVox);
  for (const p of parts) for (let n = 0; n < p.voxelIndices.length; n++) frac[p.voxelIndices[n]] += p.weights[n];
  const idx: number[] = [], w: number[] = [];
  if (base === null) {
    for (let v = 0; v < nVox; v++) if (frac[v] > 0) (idx.push(v), w.push(Math.min(1, frac[v])));
  } else {
    for (let n = 0; n < base.voxelIndices.length; n++) {
      const v = base.voxelIndices[n];
      const x = base.weights[n] - Math.min(1, frac[v]);
      // Same 1e-6 cut as the pipeline's derived normal liver: float32 rounding of 1 - 1 is not a voxel.
      if (x > 1e-6) (idx.push(v), w.push(x));
    }
  }
  return { name, origin, voxelIndices: Uint32Array.from(idx), weights: Float32Array.from(w) };
}

/** Options of {@link caseCompartments}. */
export interface CaseCompartmentOptions {
  /** The scout case computed at `referenceActivityGBq` administered. */
  readonly result: DoseCaseResult;
  readonly isotope: Isotope;
  /** Administered activity of the case [GBq]; default {@link REFERENCE_ACTIVITY_GBQ}. */
  readonly referenceActivityGBq?: number;
  /** Lung mass [g] overriding the lung structure's mass (or the 1000 g default). */
  readonly lungMassG?: number;
}

/**
 * Compartments of a scout case: lesions, all tumour, perfused and whole normal liver, treated liver, lung, each
 * with volume, mass, activity fraction and mean dose per GBq; T/N against the perfused normal liver. Throws
 * InputError when there is no tumour or the perfused normal liver holds no counts.
 */
export function caseCompartments(opts: CaseCompartmentOptions): CaseCompartments {
  const { result } = opts;
  const aRef = checkPositive(opts.referenceActivityGBq ?? REFERENCE_ACTIVITY_GBQ, 'reference activity [GBq]');
  const nVox = voxelCount(result.dose.geometry);
  const warnings: string[] = [];
  const byRole = (pred: (s: StructureReport) => boolean) =>
    result.structures.map((s, i) => ({ s, g: result.gridStructures[i] })).filter((x) => pred(x.s));
  const liver = byRole((s) => s.role === 'liver')[0];
  if (!liver) throw new InputError('plan: the case has no liver structure; give --liver NAME');
  const tumors = byRole((s) => s.role === 'tumor' && s.lesionOf === undefined);
  if (tumors.length === 0) throw new InputError('plan: give at least one --tumor NAME: T/N, the partition model and the tumour target need the tumour');
  const split = byRole((s) => s.role === 'tumor' && s.lesionOf !== undefined);
  const perfused = byRole((s) => s.role === 'perfused')[0];
  const wholeNormal = byRole((s) => s.role === 'normal-liver')[0];
  const lung = byRole((s) => s.role === 'lung')[0];

  const wholeNormalG = wholeNormal?.g ?? combine('Normal liver', 'derived', nVox, liver.g, tumors.map((t) => t.g));
  const perfusedNormalG = perfused
    ? combine('Perfused normal liver', `derived: ${perfused.s.name} minus tumours`, nVox, perfused.g, tumors.map((t) => t.g))
    : wholeNormalG;
  const allTumorG = tumors.length === 1 ? tumors[0].g : combine('All tumour', 'derived: union of the tumours', nVox, null, tumors.map((t) => t.g));

  const pn = sums(result, perfusedNormalG);
  if (!(pn.massG > 0) || !(pn.activityBq > 0)) {
    throw new InputError(
      `the perfused normal liver (${perfused ? `${perfused.s.name} minus the tumours` : 'liver minus the tumours'}) holds ${pn.massG > 0 ? 'no counts' : 'no tissue'}: T/N is undefined; check the liver, perfused and tumour structures`,
    );
  }
  const pnConc = pn.activityBq / pn.massG;
  const bqRef = aRef * 1e9;
  const compartment = (name: string, g: GridStructure, tumour: boolean): Compartment => {
    const x = sums(result, g);
    if (!(x.massG > 0)) throw new InputError(`structure "${name}" has no mass on the activity grid: check that it lies inside the scout's field of view`);
    return {
      name,
      volumeMl: x.volumeMl,
      massG: x.massG,
      activityFraction: x.activityBq / bqRef,
      gyPerGBq: x.meanGy / aRef,
      tnRatio: tumour ? x.activityBq / x.massG / pnConc : null,
    };
  };
  const lesionsSrc = split.length ? split : tumors;
  const lesions = lesionsSrc.map((t) => compartment(t.s.name, t.g, true));
  const lsf = checkLsf(result.lungShuntFraction);
  let lungMassG: number;
  let lungMassSource: CaseCompartments['lungMassSource'];
  if (opts.lungMassG !== undefined) {
    lungMassG = checkPositive(opts.lungMassG, 'lung mass [g]');
    lungMassSource = 'given';
  } else if (lung) {
    lungMassG = sums(result, lung.g).massG;
    lungMassSource = 'lung structure';
    if (!(lungMassG > 0)) throw new InputError(`lung structure "${lung.s.name}" has no mass: check it, or give --lung-mass-g`);
    if (lung.s.fractionOutsideFov > 0.05) {
      warnings.push(`lung structure "${lung.s.name}" lies ${(100 * lung.s.fractionOutsideFov).toFixed(0)} % outside the scout's field of view: its mass is underestimated and the lung dose overestimated; give --lung-mass-g`);
    }
  } else {
    lungMassG = DEFAULT_LUNG_MASS_G;
    lungMassSource = 'default 1000 g';
  }
  return {
    isotope: opts.isotope,
    lesions,
    allTumor: compartment(tumors.length === 1 ? tumors[0].s.name : 'All tumour', allTumorG, true),
    perfusedNormalLiver: compartment(perfused ? 'Perfused normal liver' : wholeNormalG.name, perfusedNormalG, false),
    wholeNormalLiver: compartment(wholeNormalG.name, wholeNormalG, false),
    treatedLiver: compartment(perfused ? perfused.s.name : liver.s.name, perfused ? perfused.g : liver.g, false),
    liver: compartment(liver.s.name, liver.g, false),
    perfusedGiven: perfused !== undefined,
    lungShuntFraction: lsf,
    lungShuntFractionSource: result.lungShuntFractionSource,
    lungMassG,
    lungMassSource,
    lungGyPerGBq: (NUCLIDES[opts.isotope].ldmJoulePerGBq * lsf) / (lungMassG * KG_PER_G),
    warnings,
  };
}

/** Mean absorbed doses predicted from the dose map at one activity [Gy]. */
export interface PredictedDoses {
  readonly lesions: ReadonlyArray<{ readonly name: string; readonly meanGy: number }>;
  readonly allTumorGy: number;
  readonly perfusedNormalLiverGy: number;
  readonly wholeNormalLiverGy: number;
  readonly treatedLiverGy: number;
  readonly liverGy: number;
  readonly lungGy: number;
}

/** Doses of every compartment at `activityGBq` (dose linear in activity). */
export function predictedDoses(c: CaseCompartments, activityGBq: number): PredictedDoses {
  return {
    lesions: c.lesions.map((l) => ({ name: l.name, meanGy: l.gyPerGBq * activityGBq })),
    allTumorGy: c.allTumor.gyPerGBq * activityGBq,
    perfusedNormalLiverGy: c.perfusedNormalLiver.gyPerGBq * activityGBq,
    wholeNormalLiverGy: c.wholeNormalLiver.gyPerGBq * activityGBq,
    treatedLiverGy: c.treatedLiver.gyPerGBq * activityGBq,
    liverGy: c.liver.gyPerGBq * activityGBq,
    lungGy: c.lungGyPerGBq * activityGBq,
  };
}

/** What binds a prescribed activity: a partition/voxel constraint, the MIRD dose, or the BSA formula. */
export type PlanConstraint = LimitingConstraint | 'mird-dose' | 'bsa';

/** One method's result. */
export interface MethodResult {
  readonly method: PlanMethod;
  /** False when the method does not apply to the device (BSA for glass or 166Ho). */
  readonly applicable: boolean;
  /** Activity the method gives [GBq]; null when not applicable or its inputs are missing. */
  readonly activityGBq: number | null;
  /** Formula and source. */
  readonly description: string;
  readonly limitingConstraint: PlanConstraint | null;
  /** Tumour target met (partition, voxel); null for methods without a tumour target. */
  readonly targetMet: boolean | null;
  /** The method's own closed-form doses [Gy] (e.g. the partition model's D_T, D_N, D_L). */
  readonly model: Readonly<Record<string, unknown>> | null;
  /** Doses from the dose map at this activity. */
  readonly predicted: PredictedDoses | null;
  /** Limits broken by the predicted doses at this activity (empty: within every limit). */
  readonly violations: readonly string[];
  readonly warnings: readonly string[];
}

/** Patient data for the BSA method: BSA, or height and weight. */
export interface BsaInput {
  readonly bsaM2?: number;
  readonly heightM?: number;
  readonly weightKg?: number;
}

/** Options of {@link planFromCase}. */
export interface ImagePlanOptions {
  readonly compartments: CaseCompartments;
  readonly device: Device;
  /** Overrides of the device's targets and limits (null removes one). */
  readonly overrides?: DeviceOverrides;
  /** Lung dose of earlier treatments [Gy]; default 0. */
  readonly priorLungGy?: number;
  /** Tumour target basis: 'every-lesion' (default; the coldest lesion must reach it) or 'mean' (all tumour). */
  readonly tumorBasis?: 'every-lesion' | 'mean';
  /** MIRD mean dose to the treated liver [Gy]; default {@link DEFAULT_MIRD_GY}. */
  readonly mirdGy?: number;
  readonly bsa?: BsaInput;
  /** Method whose activity is prescribed; default {@link DEFAULT_PRESCRIPTION}. */
  readonly prescribe?: PlanMethod;
}

/** The plan: every method side by side and the prescribed activity. */
export interface ImagePlan {
  /** Prescribed activity at treatment time [GBq]. */
  readonly activityGBq: number;
  readonly limitingConstraint: PlanConstraint;
  readonly prescribedMethod: PlanMethod;
  /** False when the tumour target cannot be met under the limits (the best allowed plan is given). */
  readonly targetMet: boolean | null;
  readonly device: Device;
  readonly isotope: Isotope;
  readonly targets: DeviceTargets & { readonly tumorBasis: 'every-lesion' | 'mean'; readonly mirdGy: number };
  /** Largest activity the voxel-based limits allow [GBq]; null when no limit bounds it. */
  readonly maxAllowedActivityGBq: number | null;
  readonly methods: Readonly<Record<PlanMethod, MethodResult>>;
  readonly predicted: PredictedDoses;
  /**
   * Whether the dose map's mean dose to the coldest lesion (every-lesion) or all tumour (mean) reaches the tumour
   * target at the prescribed activity, whatever the method; null without a target. False comes with a warning.
   */
  readonly tumorTargetReached: boolean | null;
  /** Device contraindications met by the case (e.g. resin with LSF > 20 %): the activity is not a treatment to give. */
  readonly contraindications: readonly string[];
  readonly warnings: readonly string[];
}

interface Limit {
  readonly constraint: LimitingConstraint;
  readonly limitGy: number;
  readonly gyPerGBq: number;
  readonly what: string;
}

function voxelLimits(c: CaseCompartments, t: DeviceTargets): Limit[] {
  const out: Limit[] = [];
  if (t.normalLiverGy !== undefined) out.push({ constraint: 'normal-liver', limitGy: t.normalLiverGy, gyPerGBq: c.perfusedNormalLiver.gyPerGBq, what: 'perfused normal liver' });
  if (t.wholeNormalLiverGy !== undefined) out.push({ constraint: 'whole-normal-liver', limitGy: t.wholeNormalLiverGy, gyPerGBq: c.wholeNormalLiver.gyPerGBq, what: 'whole normal liver' });
  if (t.lungGy !== undefined) out.push({ constraint: 'lung', limitGy: t.lungGy, gyPerGBq: c.lungGyPerGBq, what: 'lung' });
  return out;
}

/** Largest activity under the limits [GBq] and the binding one (first in order on ties); Infinity when unbounded. */
function maxAllowed(limits: readonly Limit[]): { activityGBq: number; limit: Limit | null } {
  let best = Infinity, limit: Limit | null = null;
  for (const l of limits) {
    const a = l.gyPerGBq > 0 ? l.limitGy / l.gyPerGBq : Infinity;
    if (a < best) (best = a), (limit = l);
  }
  return { activityGBq: best, limit };
}

/** Relative slack of the limit checks (reason at {@link violations}). */
const LIMIT_SLACK = 1e-6;

/**
 * Limits broken at an activity, as text. Relative slack 1e-6: the dose map is float32 (rounding ~6e-8 per voxel),
 * so an activity computed exactly at a limit by another method (partition, in float64) must pass.
 */
function violations(limits: readonly Limit[], activityGBq: number): string[] {
  return limits
    .filter((l) => l.gyPerGBq * activityGBq > l.limitGy * (1 + LIMIT_SLACK))
    .map((l) => `${l.what} ${(l.gyPerGBq * activityGBq).toPrecision(4)} Gy > ${l.limitGy} Gy`);
}

/** BSA method with a BSA given directly: the formula of bsaActivity (models.ts) from BSA instead of H, W. */
function bsaFromM2(bsaM2: number, vt: number, vn: number, treated: number, lsf: number) {
  checkPlausibleBsaM2(checkPositive(bsaM2, 'body surface area [m^2]'));
  const tumorInvolvement = vt / (vt + vn);
  const unreducedActivityGBq = (bsaM2 - 0.2 + tumorInvolvement) * treated;
  if (unreducedActivityGBq <= 0) throw new InputError(`BSA ${bsaM2} m^2 gives no positive activity: the BSA method is not defined for this patient`);
  const lsfReduction = bsaLsfReduction(lsf);
  const warnings: string[] = [];
  if (lsfReduction === 1) warnings.push('lung shunt fraction above 20 %: the BSA method advises against treatment (activity 0)');
  else if (lsfReduction > 0) warnings.push(`lung shunt fraction above ${lsfReduction === 0.2 ? 10 : 15} %: activity reduced by ${lsfReduction * 100} %`);
  return { bsaM2, tumorInvolvement, unreducedActivityGBq, lsfReduction, activityGBq: unreducedActivityGBq * (1 - lsfReduction), treatable: lsfReduction < 1, warnings };
}

/**
 * Plans a treatment from a scout case's compartments: MIRD (166Ho standard for ho166), BSA (resin), partition
 * (multi-lesion, Ho 1996) and voxel-based, side by side, each with the doses the dose map predicts at its
 * activity and the limits it breaks; then the prescribed activity: the chosen method's activity, capped at the
 * largest activity the voxel-based limits allow (flagged, with the binding limit, when the cap applies).
 *
 * Voxel-based: tumour target on the coldest lesion's mean dose (every-lesion) or the all-tumour mean dose, limits on
 * the perfused / whole normal liver mean doses from the dose map and the lung dose CF x A x LSF / M_L; the activity
 * meets the target without breaking a limit, or is the largest allowed one (targetMet false), as in the partition
 * model's inverse (src/plan/partition.ts). Throws PlanError when nothing bounds the activity.
 */
export function planFromCase(opts: ImagePlanOptions): ImagePlan {
  const c = opts.compartments;
  const t = deviceTargets({ device: opts.device, overrides: opts.overrides, priorLungGy: opts.priorLungGy });
  if (t.isotope !== c.isotope) throw new InputError(`device ${opts.device} uses ${t.isotope} but the case was computed for ${c.isotope}`);
  const basis = opts.tumorBasis ?? 'every-lesion';
  if (basis !== 'every-lesion' && basis !== 'mean') throw new InputError(`tumour basis "${String(basis)}": use every-lesion or mean`);
  const mirdGy = checkPositive(opts.mirdGy ?? DEFAULT_MIRD_GY[opts.device], 'MIRD treated-liver dose [Gy]');
  if (t.lungGy !== undefined && c.lungShuntFractionSource === 'default') {
    throw new InputError('the lung limit needs the lung shunt fraction: give --lung-shunt-fraction F or a --lung structure in the scout field of view (or drop the limit with --lung-gy none)');
  }
  const warnings: string[] = [...c.warnings];
  const limits = voxelLimits(c, t);
  const allowed = maxAllowed(limits);
  const predictedAt = (a: number | null) => (a === null ? null : predictedDoses(c, a));
  const result = (m: Omit<MethodResult, 'predicted' | 'violations'>): MethodResult => ({
    ...m,
    predicted: predictedAt(m.activityGBq),
    violations: m.activityGBq === null ? [] : violations(limits, m.activityGBq),
  });

  // MIRD / 166Ho standard on the treated liver.
  let mird: MethodResult;
  if (c.isotope === 'Ho166') {
    const h = holmiumStandardActivity({ liverMassG: c.treatedLiver.massG, targetGy: mirdGy, lungShuntFraction: c.lungShuntFraction, lungMassG: c.lungMassG });
    mird = result({
      method: 'mird', applicable: true, activityGBq: h.activityGBq, limitingConstraint: 'mird-dose', targetMet: null,
      description: `166Ho standard: A = ${mirdGy} Gy x M(${c.treatedLiver.name}) / CF(166Ho), no lung-shunt correction (Smits et al. 2012; ../shared/PHYSICS.md)`,
      model: { treatedLiverMassG: c.treatedLiver.massG, targetGy: mirdGy, liverGy: h.liverGy, lungGy: h.lungGy }, warnings: [],
    });
  } else {
    const m = mirdActivity({ isotope: c.isotope, targetGy: mirdGy, massG: c.treatedLiver.massG, lungShuntFraction: c.lungShuntFraction, lungMassG: c.lungMassG });
    mird = result({
      method: 'mird', applicable: true, activityGBq: m.activityGBq, limitingConstraint: 'mird-dose', targetMet: null,
      description: `MIRD single compartment: A = ${mirdGy} Gy x M(${c.treatedLiver.name}) / (CF (1 - LSF)) (../shared/PHYSICS.md)`,
      model: { treatedLiverMassG: c.treatedLiver.massG, targetGy: mirdGy, liverGy: m.liverGy, lungGy: m.lungGy }, warnings: [],
    });
  }

  // BSA (resin only).
  let bsa: MethodResult;
  const bsaDesc = 'BSA method: A = ((BSA - 0.2) + V_T/(V_T + V_N)) x treated fraction, reduced by 20/40/100 % at LSF > 10/15/20 % (SIR-Spheres IFU; ../shared/PHYSICS.md)';
  const b = opts.bsa ?? {};
  if (opts.device !== 'resin') {
    bsa = result({ method: 'bsa', applicable: false, activityGBq: null, limitingConstraint: null, targetMet: null, description: `not applicable: the BSA method is defined for resin microspheres only (device ${opts.device})`, model: null, warnings: [] });
  } else if (b.bsaM2 === undefined && (b.heightM === undefined || b.weightKg === undefined)) {
    bsa = result({ method: 'bsa', applicable: true, activityGBq: null, limitingConstraint: null, targetMet: null, description: `${bsaDesc}; not computed: give --bsa-m2, or --height-cm and --weight-kg`, model: null, warnings: [] });
  } else {
    if (b.bsaM2 !== undefined && (b.heightM !== undefined || b.weightKg !== undefined)) throw new InputError('give either the body surface area or the height and weight, not both');
    const vt = c.allTumor.volumeMl, vn = c.wholeNormalLiver.volumeMl;
    const treated = c.perfusedGiven ? Math.min(1, c.treatedLiver.volumeMl / c.liver.volumeMl) : 1;
    const r = b.bsaM2 !== undefined
      ? bsaFromM2(b.bsaM2, vt, vn, treated, c.lungShuntFraction)
      : bsaActivity({ heightM: b.heightM!, weightKg: b.weightKg!, tumorVolumeMl: vt, normalLiverVolumeMl: vn, lungShuntFraction: c.lungShuntFraction, treatedLiverFraction: treated });
    bsa = result({
      method: 'bsa', applicable: true, activityGBq: r.treatable ? r.activityGBq : null, limitingConstraint: 'bsa', targetMet: null, description: bsaDesc,
      model: { bsaM2: r.bsaM2, tumorInvolvement: r.tumorInvolvement, treatedLiverFraction: treated, unreducedActivityGBq: r.unreducedActivityGBq, lsfReduction: r.lsfReduction, treatable: r.treatable },
      warnings: r.warnings,
    });
  }

  // Partition model, multi-lesion.
  const targets = { tumorGy: t.tumorGy, normalLiverGy: t.normalLiverGy, wholeNormalLiverGy: t.wholeNormalLiverGy, lungGy: t.lungGy, tumorBasis: basis };
  let wholeNormalMassG = c.wholeNormalLiver.massG;
  if (wholeNormalMassG < c.perfusedNormalLiver.massG) {
    warnings.push(`the perfused normal liver (${c.perfusedNormalLiver.massG.toFixed(1)} g) is heavier than the whole normal liver (${wholeNormalMassG.toFixed(1)} g): the perfused structure reaches outside the liver; the whole normal liver mass is taken equal to it`);
    wholeNormalMassG = c.perfusedNormalLiver.massG;
  }
  let pp: PartitionPlan | null = null;
  let partitionError: string | null = null;
  try {
    pp = partitionMultiLesionPlan({
      isotope: c.isotope,
      lesions: c.lesions.map((l) => ({ name: l.name, massG: l.massG, tnRatio: l.tnRatio! })),
      normalMassG: c.perfusedNormalLiver.massG,
      wholeNormalLiverMassG: wholeNormalMassG,
      lungShuntFraction: c.lungShuntFraction,
      lungMassG: c.lungMassG,
      targets,
    });
  } catch (err) {
    if (!(err instanceof PlanError)) throw err;
    partitionError = err.message;
  }
  const partition = result({
    method: 'partition', applicable: true, activityGBq: pp?.activityGBq ?? null, limitingConstraint: pp?.limitingConstraint ?? null, targetMet: pp?.targetMet ?? null,
    description: 'partition model, multi-lesion (Ho et al. 1996): D_N = CF A (1 - LSF) / (sum T/N_i M_i + M_N), D_i = T/N_i D_N, D_L = CF A LSF / M_L; T/N and masses from the scout',
    model: pp ? { tumorGy: pp.tumorGy, normalLiverGy: pp.normalLiverGy, wholeNormalLiverGy: pp.wholeNormalLiverGy, lungGy: pp.lungGy, lesions: pp.lesions, limitingLesion: pp.limitingLesion, maxAllowedActivityGBq: pp.maxAllowedActivityGBq } : null,
    warnings: pp ? pp.warnings : [partitionError ?? ''],
  });

  // Voxel-based.
  let voxel: MethodResult;
  {
    const vw: string[] = [];
    let activity: number, limiting: PlanConstraint, met: boolean | null = null;
    if (t.tumorGy === undefined) {
      if (!allowed.limit) throw new PlanError('no tumour target and no limit that bounds the activity (a lung limit alone cannot when the lung shunt fraction is 0): give a tumour target or a liver limit');
      activity = allowed.activityGBq;
      limiting = allowed.limit.constraint;
    } else {
      let k = c.allTumor.gyPerGBq, who = c.allTumor.name;
      if (basis === 'every-lesion') for (const l of c.lesions) if (l === c.lesions[0] || l.gyPerGBq < k) (k = l.gyPerGBq), (who = l.name);
      if (!(k > 0)) throw new InputError(`tumour "${who}" receives no dose per GBq on the scout (no counts): it cannot be planned to a target; check the scout and the segmentation`);
      const need = t.tumorGy / k;
      // Relative slack 1e-12 as in the partition model: meeting the target exactly at a limit counts as meeting it.
      if (need <= allowed.activityGBq * (1 + 1e-12)) {
        activity = need;
        limiting = 'tumor';
        met = true;
      } else {
        activity = allowed.activityGBq;
        limiting = allowed.limit!.constraint;
        met = false;
        vw.push(`tumour target ${t.tumorGy} Gy cannot be met under the ${limiting} limit: the largest allowed activity ${activity.toPrecision(4)} GBq gives ${(k * activity).toPrecision(4)} Gy to ${who} (${need.toPrecision(4)} GBq would be needed)`);
      }
    }
    voxel = result({
      method: 'voxel', applicable: true, activityGBq: activity, limitingConstraint: limiting, targetMet: met,
      description: `voxel-based: mean doses per GBq from the dose map; tumour target on ${basis === 'every-lesion' ? 'the coldest lesion' : 'all tumour'}, limits on the perfused and whole normal liver and the lung (CF A LSF / M_L)`,
      model: { maxAllowedActivityGBq: Number.isFinite(allowed.activityGBq) ? allowed.activityGBq : null }, warnings: vw,
    });
  }

  const methods: Record<PlanMethod, MethodResult> = { mird, bsa, partition, voxel };
  const prescribedMethod = opts.prescribe ?? DEFAULT_PRESCRIPTION[opts.device];
  const chosen = methods[prescribedMethod];
  if (!chosen.applicable) throw new InputError(`--prescribe ${prescribedMethod}: ${chosen.description}`);
  if (chosen.activityGBq === null) {
    throw new PlanError(`the ${prescribedMethod} method gives no activity (${chosen.description}${chosen.warnings.length ? `; ${chosen.warnings.join('; ')}` : ''}): choose another method with --prescribe`);
  }
  let activityGBq = chosen.activityGBq;
  let limitingConstraint = chosen.limitingConstraint!;
  let targetMet = chosen.targetMet;
  for (const w of chosen.warnings) warnings.push(`${prescribedMethod}: ${w}`);
  if (allowed.limit && activityGBq > allowed.activityGBq * (1 + LIMIT_SLACK)) {
    warnings.push(
      `the ${prescribedMethod} activity ${activityGBq.toPrecision(4)} GBq breaks a limit on the dose map (${chosen.violations.join('; ')}): prescribed the largest allowed activity ${allowed.activityGBq.toPrecision(4)} GBq (${allowed.limit.constraint} limit binds)`,
    );
    activityGBq = allowed.activityGBq;
    limitingConstraint = allowed.limit.constraint;
    if (t.tumorGy !== undefined) targetMet = Math.min(...(basis === 'every-lesion' ? c.lesions.map((l) => l.gyPerGBq) : [c.allTumor.gyPerGBq])) * activityGBq >= t.tumorGy * (1 - LIMIT_SLACK);
  }
  // Tumour coverage at the prescribed activity, said the same way for every device and method: the dose map's mean
  // dose to the coldest lesion (every-lesion) or all tumour (mean) against the target.
  let tumorTargetReached: boolean | null = null;
  if (t.tumorGy !== undefined) {
    const cold = basis === 'every-lesion' ? c.lesions.reduce((a, b) => (b.gyPerGBq < a.gyPerGBq ? b : a)) : c.allTumor;
    const got = cold.gyPerGBq * activityGBq;
    tumorTargetReached = got >= t.tumorGy * (1 - LIMIT_SLACK);
    if (!tumorTargetReached) {
      const why = targetMet === false
        ? `the ${limitingConstraint} limit allows no more; the target would need ${(t.tumorGy / cold.gyPerGBq).toPrecision(4)} GBq`
        : chosen.targetMet === null
          ? `the ${prescribedMethod} method does not aim at the tumour; the voxel-based plan needs ${methods.voxel.activityGBq?.toPrecision(4)} GBq${methods.voxel.targetMet === false ? ' and cannot meet it either under the limits' : ' (--prescribe voxel)'}`
          : `the voxel-based plan needs ${methods.voxel.activityGBq?.toPrecision(4)} GBq; closed-form models assume all liver activity lies in the modelled compartments`;
      warnings.push(
        `tumour underdosed: at the prescribed ${activityGBq.toPrecision(4)} GBq (${prescribedMethod}) the dose map gives ${got.toPrecision(4)} Gy to ${cold.name}, below the ${t.tumorGy} Gy ${DEVICE_PRESETS[opts.device].description} target (${why})`,
      );
    }
  }
  // Contraindications of the device (SIR-Spheres IFU: lung shunt fraction above 20 %), whatever the method.
  const contraindications: string[] = [];
  if (opts.device === 'resin' && bsaLsfReduction(c.lungShuntFraction) === 1) {
    contraindications.push(
      `lung shunt fraction ${(100 * c.lungShuntFraction).toFixed(1)} % is above 20 %: a contraindication for resin microspheres (SIR-Spheres IFU); the ${activityGBq.toPrecision(4)} GBq of the ${prescribedMethod} method is not a treatment to give`,
    );
  }
  warnings.unshift(...contraindications.map((x) => `CONTRAINDICATED: ${x}`));
  return {
    activityGBq,
    limitingConstraint,
    prescribedMethod,
    targetMet,
    device: opts.device,
    isotope: c.isotope,
    targets: { ...t, tumorBasis: basis, mirdGy },
    maxAllowedActivityGBq: Number.isFinite(allowed.activityGBq) ? allowed.activityGBq : null,
    methods,
    predicted: predictedDoses(c, activityGBq),
    tumorTargetReached,
    contraindications,
    warnings,
  };
}

/**
 * The case at another administered activity: dose and activity maps multiplied by `factor`, every structure's
 * statistics recomputed on the case's back end (V-values and the DVH are not linear in the factor, so they are
 * computed anew). Dose is linear in activity: exact up to float32 rounding.
 */
export async function scaleDoseCase(result: DoseCaseResult, factor: number, opts: { dvhBins?: number } = {}): Promise<DoseCaseResult> {
  checkPositive(factor, 'activity scale factor');
  const dose = new Float32Array(result.dose.data.length);
  for (let n = 0; n < dose.length; n++) dose[n] = result.dose.data[n] * factor;
  const act = new Float32Array(result.activityBqPerMl.length);
  for (let n = 0; n < act.length; n++) act[n] = result.activityBqPerMl[n] * factor;
  return withDoseMaps(result, dose, act, { activityInFieldGBq: result.activityInFieldGBq * factor, dvhBins: opts.dvhBins });
}

/**
 * The case with other dose [Gy] and activity [Bq/mL] maps on its grid (a scaled case, or the sum of territories'
 * cases): every structure's statistics recomputed on the case's back end.
 */
export async function withDoseMaps(
  result: DoseCaseResult,
  doseGy: Float32Array,
  activityBqPerMl: Float32Array,
  opts: { activityInFieldGBq: number; dvhBins?: number },
): Promise<DoseCaseResult> {
  const backend = await selectBackend(result.backend);
  const stats = await backend.stats({
    doseGy,
    activityBqPerMl,
    densityGPerMl: result.densityGPerMl,
    voxelVolumeMl: voxelVolumeMl(result.dose.geometry),
    structures: result.gridStructures,
    dvhBins: opts.dvhBins,
  });
  return {
    ...result,
    dose: { geometry: result.dose.geometry, data: doseGy },
    activityBqPerMl,
    structures: result.structures.map((s, i) => ({ ...s, ...stats[i] })),
    activityInFieldGBq: opts.activityInFieldGBq,
  };
}

/** Radiobiological parameters of a plan (defaults from src/plan/radiobiology.ts, each overridable). */
export interface RadiobiologyParameters {
  /** Tumour LQ parameters; default {@link TUMOR_LQ} (alpha/beta 10 Gy, T_rep 1.5 h; Strigari 2010). */
  readonly tumorLq?: LqParameters;
  /** Non-tumour LQ parameters (liver, lung, other); default {@link NORMAL_LIVER_LQ} (2.5 Gy, 2.5 h; Strigari 2010). */
  readonly normalLq?: LqParameters;
  /** Radiosensitivity alpha [1/Gy] for the EUD; no default (see eudGy): EUD and EUBED are null without it. */
  readonly eudAlphaPerGy?: number;
}

/** BED, EUD and EUBED of one structure [Gy]. */
export interface StructureRadiobiology {
  readonly name: string;
  readonly role: string;
  readonly alphaBetaGy: number;
  readonly repairHalfTimeH: number;
  /** Mass-weighted mean of the voxel BED (Dale 1985, permanent implant), sum w rho BED / sum w rho. */
  readonly meanBedGy: number;
  /** EUD (Niemierko 1997, alpha-only form) of the voxel doses, volume weights; null without alpha. */
  readonly eudGy: number | null;
  /** Equivalent uniform BED: the EUD of the voxel BEDs; null without alpha. */
  readonly eubedGy: number | null;
}

/**
 * BED per structure, voxel-wise (BED = D (1 + G D), G = lambda / ((mu + lambda) alpha/beta), Dale 1985), its
 * mass-weighted mean, and EUD / EUBED when alpha is given. Tumour structures use the tumour parameters, every
 * other structure the normal-tissue ones.
 */
export function structureRadiobiology(result: DoseCaseResult, isotope: Isotope, p: RadiobiologyParameters = {}): StructureRadiobiology[] {
  const tumorLq = p.tumorLq ?? TUMOR_LQ, normalLq = p.normalLq ?? NORMAL_LIVER_LQ;
  const gT = bedQuadraticCoefficientPerGy({ isotope, lq: tumorLq });
  const gN = bedQuadraticCoefficientPerGy({ isotope, lq: normalLq });
  if (p.eudAlphaPerGy !== undefined) checkPositive(p.eudAlphaPerGy, 'EUD radiosensitivity alpha [1/Gy]');
  const d = result.dose.data, rho = result.densityGPerMl;
  return result.structures.map((s, i) => {
    const g = result.gridStructures[i];
    const tumour = s.role === 'tumor';
    const coef = tumour ? gT : gN, lq = tumour ? tumorLq : normalLq;
    let sw = 0, sb = 0;
    const bed = new Float64Array(g.voxelIndices.length);
    for (let n = 0; n < g.voxelIndices.length; n++) {
      const v = g.voxelIndices[n];
      const w = g.partMassGPerMl ? g.partMassGPerMl[n] : g.weights[n] * Math.max(0, typeof rho === 'number' ? rho : rho[v]);
      bed[n] = d[v] * (1 + coef * d[v]);
      sw += w;
      sb += w * bed[n];
    }
    let eud: number | null = null, eubed: number | null = null;
    if (p.eudAlphaPerGy !== undefined && g.voxelIndices.length > 0) {
      eud = eudGy({ doseGy: d, structure: g, alphaPerGy: p.eudAlphaPerGy });
      const local: GridStructure = { name: g.name, origin: g.origin, voxelIndices: Uint32Array.from(g.voxelIndices.keys()), weights: g.weights };
      eubed = eudGy({ doseGy: bed, structure: local, alphaPerGy: p.eudAlphaPerGy });
    }
    return { name: s.name, role: s.role, alphaBetaGy: lq.alphaBetaGy, repairHalfTimeH: lq.repairHalfTimeH, meanBedGy: sw > 0 ? sb / sw : NaN, eudGy: eud, eubedGy: eubed };
  });
}
