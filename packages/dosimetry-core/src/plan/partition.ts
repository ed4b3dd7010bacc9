/**
 * Partition model (Ho et al., Eur J Nucl Med 1996;23:947), single tumour compartment and multi-lesion.
 *
 * Compartments: lesions i (mass M_i, uptake ratio T/N_i to the perfused normal liver), perfused normal liver
 * (mass M_N), lungs (fraction LSF of the activity, mass M_L). All activity stays where it lodges (permanent
 * implant, local deposition):
 *   D_N = CF x A x (1 - LSF) / (sum_i T/N_i x M_i + M_N),   D_i = T/N_i x D_N,   D_L = CF x A x LSF / M_L,
 * with CF [J/GBq] = NUCLIDES[isotope].ldmJoulePerGBq and masses in kg. With one lesion this is Ho's model:
 *   A = D_N x (T/N x M_T + M_N) / (CF x (1 - LSF)).  Source: ../shared/PHYSICS.md (Planning models).
 *
 * Optional whole normal liver (mass M_WN >= M_N, e.g. both lobes when one is treated): the normal-liver activity
 * spreads over it, D_WN = D_N x M_N / M_WN (EANM 2022 limits for glass and 166Ho are on the whole normal liver).
 *
 * Every dose is linear in A, so the inverse problem is closed form: the tumour target needs A_T = D_T / k_T;
 * each limit allows A_c = L_c / k_c; the plan is A = A_T when A_T <= min_c A_c, else the largest allowed activity
 * min_c A_c, flagged (targetMet false). Targets are inclusive minima (D_T >= target), limits inclusive maxima
 * (D <= limit). Ties between limits go to the first in the order normal-liver, whole-normal-liver, lung.
 */
import { InputError, PlanError } from '../errors.ts';
import { DEFAULT_LUNG_MASS_G, KG_PER_G, NUCLIDES, type Isotope } from '../units/index.ts';
import { checkLsf } from '../dose/calibration.ts';
import { checkPositive, checkTnRatio } from './checks.ts';

/** The constraint that fixes a planned activity. */
export type LimitingConstraint = 'tumor' | 'normal-liver' | 'whole-normal-liver' | 'lung';

/** One lesion of the multi-lesion partition model. */
export interface PartitionLesion {
  /** Name for reports and messages; default "lesion <n>" (1-based). */
  readonly name?: string;
  /** Lesion mass [g]. */
  readonly massG: number;
  /** Tumour-to-normal uptake ratio of this lesion (per gram), > 0. */
  readonly tnRatio: number;
}

/** Anatomy and scout data shared by the multi-lesion forward and inverse models. */
export interface PartitionMultiModel {
  readonly isotope: Isotope;
  /** At least one lesion. */
  readonly lesions: readonly PartitionLesion[];
  /** Perfused normal (non-tumorous) liver mass [g], M_N. */
  readonly normalMassG: number;
  /** Lung shunt fraction in [0, 1). */
  readonly lungShuntFraction: number;
  /** Lung mass [g]; default 1000 g (../shared/PHYSICS.md). */
  readonly lungMassG?: number;
  /** Whole normal liver mass [g] (>= M_N) for the whole-normal-liver dose; omit for a whole-liver treatment. */
  readonly wholeNormalLiverMassG?: number;
}

/** Single tumour compartment (Ho et al. 1996). */
export interface PartitionModel {
  readonly isotope: Isotope;
  /** Tumour mass [g], M_T. */
  readonly tumorMassG: number;
  /** Perfused normal liver mass [g], M_N. */
  readonly normalMassG: number;
  /** Tumour-to-normal ratio T/N = (C_T/M_T)/(C_N/M_N), > 0. */
  readonly tnRatio: number;
  /** Lung shunt fraction in [0, 1). */
  readonly lungShuntFraction: number;
  /** Lung mass [g]; default 1000 g. */
  readonly lungMassG?: number;
  /** Whole normal liver mass [g] (>= M_N); see {@link PartitionMultiModel}. */
  readonly wholeNormalLiverMassG?: number;
}

/** Targets and limits of an inverse (planning) problem; every value in Gy, each optional. */
export interface PartitionTargets {
  /** Tumour target (minimum) [Gy]. */
  readonly tumorGy?: number;
  /** Perfused normal liver limit (maximum) [Gy]. */
  readonly normalLiverGy?: number;
  /** Whole normal liver limit (maximum) [Gy]; uses wholeNormalLiverMassG (or M_N, with a warning). */
  readonly wholeNormalLiverGy?: number;
  /** Lung limit (maximum) [Gy] for this treatment. */
  readonly lungGy?: number;
  /**
   * What the tumour target applies to with several lesions: 'every-lesion' (default: the lesion with the
   * lowest T/N must reach it) or 'mean' (the mass-weighted mean tumour dose). Same thing for one lesion.
   */
  readonly tumorBasis?: 'every-lesion' | 'mean';
}

/** Dose of one lesion. */
export interface LesionDose {
  readonly name: string;
  readonly massG: number;
  readonly tnRatio: number;
  /** D_i = T/N_i x D_N [Gy]. */
  readonly doseGy: number;
}

/** Doses that an activity gives in the partition model. */
export interface PartitionDoses {
  /** Administered activity [GBq]. */
  readonly activityGBq: number;
  /** Mass-weighted mean tumour dose [Gy] (= D_T for one lesion). */
  readonly tumorGy: number;
  /** Perfused normal liver dose D_N [Gy]. */
  readonly normalLiverGy: number;
  /** Whole normal liver dose D_N x M_N / M_WN [Gy]; null when wholeNormalLiverMassG was not given. */
  readonly wholeNormalLiverGy: number | null;
  /** Lung dose D_L [Gy]. */
  readonly lungGy: number;
  readonly lesions: readonly LesionDose[];
}

/** A planned activity with the constraint that fixed it. */
export interface PartitionPlan extends PartitionDoses {
  readonly limitingConstraint: LimitingConstraint;
  /** Name of the lesion that fixed the tumour activity (every-lesion basis), else null. */
  readonly limitingLesion: string | null;
  /** True when the tumour target is met, false when the limits prevent it, null when no target was given. */
  readonly targetMet: boolean | null;
  /** Largest activity the limits allow [GBq]; null when no limit bounds it. */
  readonly maxAllowedActivityGBq: number | null;
  readonly warnings: readonly string[];
}

/** Checked model and the dose per GBq of every compartment [Gy/GBq]. */
interface Coefficients {
  readonly isotope: Isotope;
  readonly lesions: ReadonlyArray<{ name: string; massG: number; tnRatio: number }>;
  readonly normalGyPerGBq: number;
  readonly meanTumorGyPerGBq: number;
  readonly wholeNormalGyPerGBq: number | null;
  readonly lungGyPerGBq: number;
}

function coefficients(m: PartitionMultiModel): Coefficients {
  if (!m.lesions || m.lesions.length === 0) throw new InputError('partition model: give at least one lesion (mass and T/N)');
  const normalMassG = checkPositive(m.normalMassG, 'normal liver mass [g]', 'perfused non-tumorous liver mass');
  const lsf = checkLsf(m.lungShuntFraction);
  const lungMassG = checkPositive(m.lungMassG ?? DEFAULT_LUNG_MASS_G, 'lung mass [g]', 'default 1000 g, or from CT');
  const lesions = m.lesions.map((l, n) => {
    const name = l.name ?? `lesion ${n + 1}`;
    return {
      name,
      massG: checkPositive(l.massG, `${name} mass [g]`),
      tnRatio: checkTnRatio(l.tnRatio, `${name} T/N ratio`),
    };
  });
  let wholeNormalMassG: number | null = null;
  if (m.wholeNormalLiverMassG !== undefined) {
    wholeNormalMassG = checkPositive(m.wholeNormalLiverMassG, 'whole normal liver mass [g]');
    if (wholeNormalMassG < normalMassG) {
      throw new InputError(
        `whole normal liver mass ${wholeNormalMassG} g is less than the perfused normal liver mass ${normalMassG} g: the whole normal liver contains the perfused part`,
      );
    }
  }
  const cf = NUCLIDES[m.isotope].ldmJoulePerGBq;
  let weightedMassG = normalMassG;
  let tumorMassG = 0;
  let tumorUptakeMassG = 0;
  for (const l of lesions) {
    weightedMassG += l.tnRatio * l.massG;
    tumorMassG += l.massG;
    tumorUptakeMassG += l.tnRatio * l.massG;
  }
  const normalGyPerGBq = (cf * (1 - lsf)) / (weightedMassG * KG_PER_G);
  return {
    isotope: m.isotope,
    lesions,
    normalGyPerGBq,
    meanTumorGyPerGBq: (normalGyPerGBq * tumorUptakeMassG) / tumorMassG,
    wholeNormalGyPerGBq: wholeNormalMassG === null ? null : (normalGyPerGBq * normalMassG) / wholeNormalMassG,
    lungGyPerGBq: (cf * lsf) / (lungMassG * KG_PER_G),
  };
}

function dosesAt(c: Coefficients, activityGBq: number): PartitionDoses {
  const dN = c.normalGyPerGBq * activityGBq;
  return {
    activityGBq,
    tumorGy: c.meanTumorGyPerGBq * activityGBq,
    normalLiverGy: dN,
    wholeNormalLiverGy: c.wholeNormalGyPerGBq === null ? null : c.wholeNormalGyPerGBq * activityGBq,
    lungGy: c.lungGyPerGBq * activityGBq,
    lesions: c.lesions.map((l) => ({ ...l, doseGy: l.tnRatio * dN })),
  };
}

function singleToMulti(m: PartitionModel): PartitionMultiModel {
  return {
    isotope: m.isotope,
    lesions: [{ name: 'tumor', massG: m.tumorMassG, tnRatio: m.tnRatio }],
    normalMassG: m.normalMassG,
    lungShuntFraction: m.lungShuntFraction,
    lungMassG: m.lungMassG,
    wholeNormalLiverMassG: m.wholeNormalLiverMassG,
  };
}

/**
 * T/N ratio from scout counts: (C_T / M_T) / (C_N / M_N) (Ho et al. 1996). Counts in any consistent unit
 * (counts, MBq); masses in g.
 */
export function tnRatioFromCounts(opts: { tumorCounts: number; tumorMassG: number; normalCounts: number; normalMassG: number }): number {
  checkPositive(opts.tumorCounts, 'tumour counts');
  checkPositive(opts.normalCounts, 'normal liver counts');
  checkPositive(opts.tumorMassG, 'tumour mass [g]');
  checkPositive(opts.normalMassG, 'normal liver mass [g]');
  return opts.tumorCounts / opts.tumorMassG / (opts.normalCounts / opts.normalMassG);
}

/** Forward multi-lesion partition model: the doses an administered activity [GBq] gives (module formulas). */
export function partitionMultiLesionDoses(model: PartitionMultiModel & { readonly activityGBq: number }): PartitionDoses {
  const c = coefficients(model);
  return dosesAt(c, checkPositive(model.activityGBq, 'administered activity [GBq]'));
}

/** Forward partition model (Ho et al. 1996): D_N, D_T = T/N x D_N and D_L for an activity [GBq]. */
export function partitionDoses(model: PartitionModel & { readonly activityGBq: number }): PartitionDoses {
  return partitionMultiLesionDoses({ ...singleToMulti(model), activityGBq: model.activityGBq });
}

/**
 * Inverse multi-lesion partition model: the activity that meets the tumour target without breaking any limit;
 * if the limits forbid it, the largest allowed activity with targetMet false and a warning (not an error);
 * with limits only, the largest allowed activity. Throws InputError when neither a target nor a limit is given,
 * PlanError when no given limit bounds the activity (e.g. only a lung limit with LSF = 0).
 */
export function partitionMultiLesionPlan(model: PartitionMultiModel & { readonly targets: PartitionTargets }): PartitionPlan {
  const c = coefficients(model);
  const t = model.targets ?? {};
  const warnings: string[] = [];
  const basis = t.tumorBasis ?? 'every-lesion';
  if (basis !== 'every-lesion' && basis !== 'mean') throw new InputError(`tumour basis "${String(basis)}": use every-lesion or mean`);

  const limits: Array<{ constraint: LimitingConstraint; limitGy: number; gyPerGBq: number }> = [];
  if (t.normalLiverGy !== undefined) {
    limits.push({ constraint: 'normal-liver', limitGy: checkPositive(t.normalLiverGy, 'normal liver dose limit [Gy]'), gyPerGBq: c.normalGyPerGBq });
  }
  if (t.wholeNormalLiverGy !== undefined) {
    let k = c.wholeNormalGyPerGBq;
    if (k === null) {
      k = c.normalGyPerGBq;
      warnings.push('whole normal liver limit applied to the perfused normal liver (no whole normal liver mass given: whole-liver treatment assumed)');
    }
    limits.push({ constraint: 'whole-normal-liver', limitGy: checkPositive(t.wholeNormalLiverGy, 'whole normal liver dose limit [Gy]'), gyPerGBq: k });
  }
  if (t.lungGy !== undefined) {
    limits.push({ constraint: 'lung', limitGy: checkPositive(t.lungGy, 'lung dose limit [Gy]'), gyPerGBq: c.lungGyPerGBq });
  }
  if (t.tumorGy === undefined && limits.length === 0) {
    throw new InputError('partition plan: give a tumour target or at least one limit (normal liver, whole normal liver, lung), or an activity');
  }

  let maxAllowed = Infinity;
  let limiting: LimitingConstraint | null = null;
  for (const l of limits) {
    const a = l.gyPerGBq > 0 ? l.limitGy / l.gyPerGBq : Infinity;
    if (a < maxAllowed) {
      maxAllowed = a;
      limiting = l.constraint;
    }
  }

  if (t.tumorGy === undefined) {
    if (limiting === null) {
      throw new PlanError('no tumour target and no limit that bounds the activity (a lung limit alone cannot when the lung shunt fraction is 0): give a tumour target or a liver limit');
    }
    return { ...dosesAt(c, maxAllowed), limitingConstraint: limiting, limitingLesion: null, targetMet: null, maxAllowedActivityGBq: maxAllowed, warnings };
  }

  const tumorGy = checkPositive(t.tumorGy, 'tumour dose target [Gy]');
  let tumorGyPerGBq = c.meanTumorGyPerGBq;
  let limitingLesion: string | null = null;
  if (basis === 'every-lesion') {
    let coldest = c.lesions[0];
    for (const l of c.lesions) if (l.tnRatio < coldest.tnRatio) coldest = l;
    tumorGyPerGBq = coldest.tnRatio * c.normalGyPerGBq;
    limitingLesion = coldest.name;
  }
  const tumorActivity = tumorGy / tumorGyPerGBq;
  const maxAllowedOut = Number.isFinite(maxAllowed) ? maxAllowed : null;
  // Relative slack 1e-12: an activity that meets the target exactly at a limit counts as meeting it.
  if (tumorActivity <= maxAllowed * (1 + 1e-12)) {
    return { ...dosesAt(c, tumorActivity), limitingConstraint: 'tumor', limitingLesion, targetMet: true, maxAllowedActivityGBq: maxAllowedOut, warnings };
  }
  const plan = dosesAt(c, maxAllowed);
  const reached = basis === 'every-lesion' ? tumorGyPerGBq * maxAllowed : plan.tumorGy;
  warnings.push(
    `tumour target ${tumorGy} Gy cannot be met under the ${limiting} limit: the largest allowed activity ${maxAllowed.toPrecision(4)} GBq gives ${reached.toPrecision(4)} Gy` +
      (limitingLesion && c.lesions.length > 1 ? ` to ${limitingLesion}` : '') +
      ` (${tumorActivity.toPrecision(4)} GBq would be needed)`,
  );
  return { ...plan, limitingConstraint: limiting as LimitingConstraint, limitingLesion: null, targetMet: false, maxAllowedActivityGBq: maxAllowed, warnings };
}

/** Inverse partition model (Ho et al. 1996), one tumour compartment: see {@link partitionMultiLesionPlan}. */
export function partitionPlan(model: PartitionModel & { readonly targets: PartitionTargets }): PartitionPlan {
  const plan = partitionMultiLesionPlan({ ...singleToMulti(model), targets: model.targets });
  return { ...plan, limitingLesion: null };
}
