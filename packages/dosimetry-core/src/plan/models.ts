/**
 * Closed-form planning models without images: MIRD single compartment, lung dose, the BSA method for resin
 * microspheres, the 166Ho 60 Gy whole-liver standard, and the activity to order at calibration time.
 * Formulas from ../shared/PHYSICS.md; conversion factors CF [J/GBq] from NUCLIDES[isotope].ldmJoulePerGBq.
 * Units: activity GBq (the clinical unit of these formulas), mass g, dose Gy, time h, height m, weight kg.
 */
import { InputError } from '../errors.ts';
import { DEFAULT_LUNG_MASS_G, NUCLIDES, SECONDS_PER_HOUR, decayConstantPerS, ldmDoseGy, type Isotope } from '../units/index.ts';
import { checkLsf } from '../dose/calibration.ts';
import { checkFinite, checkNonNegative, checkPositive } from './checks.ts';

/** Doses that an administered activity gives in the single-compartment (MIRD) model. */
export interface MirdResult {
  /** Administered activity [GBq]. */
  readonly activityGBq: number;
  /** Mean absorbed dose to the perfused liver (or treated volume) [Gy]: CF x A x (1 - LSF) / M. */
  readonly liverGy: number;
  /** Mean absorbed dose to the lungs [Gy]: CF x A x LSF / M_L. */
  readonly lungGy: number;
}

/** Options of {@link mirdActivity}. */
export interface MirdActivityOptions {
  readonly isotope: Isotope;
  /** Prescribed mean dose to the treated volume [Gy]. */
  readonly targetGy: number;
  /** Mass of the treated (perfused) volume [g]. */
  readonly massG: number;
  /** Lung shunt fraction in [0, 1). */
  readonly lungShuntFraction: number;
  /** Lung mass [g]; default 1000 g (../shared/PHYSICS.md). */
  readonly lungMassG?: number;
}

/**
 * MIRD single-compartment activity: A [GBq] = D x M / (CF x (1 - LSF)), M in kg.
 * Source: ../shared/PHYSICS.md (Planning models); TheraSphere IFU; EANM 2022 (Weber et al., EJNMMI 49:1682).
 */
export function mirdActivity(opts: MirdActivityOptions): MirdResult {
  checkPositive(opts.targetGy, 'MIRD target dose [Gy]');
  checkPositive(opts.massG, 'treated liver mass [g]');
  const lsf = checkLsf(opts.lungShuntFraction);
  const activityGBq = (opts.targetGy * opts.massG * 1e-3) / (NUCLIDES[opts.isotope].ldmJoulePerGBq * (1 - lsf));
  return mirdDose({ isotope: opts.isotope, activityGBq, massG: opts.massG, lungShuntFraction: lsf, lungMassG: opts.lungMassG });
}

/** Options of {@link mirdDose}. */
export interface MirdDoseOptions {
  readonly isotope: Isotope;
  /** Administered activity [GBq]. */
  readonly activityGBq: number;
  /** Mass of the treated (perfused) volume [g]. */
  readonly massG: number;
  /** Lung shunt fraction in [0, 1). */
  readonly lungShuntFraction: number;
  /** Lung mass [g]; default 1000 g. */
  readonly lungMassG?: number;
}

/**
 * MIRD single-compartment forward model: D = CF x A x (1 - LSF) / M, D_L = CF x A x LSF / M_L.
 * Source: ../shared/PHYSICS.md (Local deposition; Planning models).
 */
export function mirdDose(opts: MirdDoseOptions): MirdResult {
  checkPositive(opts.activityGBq, 'administered activity [GBq]');
  checkPositive(opts.massG, 'treated liver mass [g]');
  const lsf = checkLsf(opts.lungShuntFraction);
  return {
    activityGBq: opts.activityGBq,
    liverGy: ldmDoseGy(opts.isotope, opts.activityGBq * (1 - lsf), opts.massG),
    lungGy: lungDoseGy({ isotope: opts.isotope, activityGBq: opts.activityGBq, lungShuntFraction: lsf, lungMassG: opts.lungMassG }),
  };
}

/** Options of {@link lungDoseGy}. */
export interface LungDoseOptions {
  readonly isotope: Isotope;
  /** Administered activity [GBq]. */
  readonly activityGBq: number;
  /** Lung shunt fraction in [0, 1). */
  readonly lungShuntFraction: number;
  /** Lung mass [g]; default 1000 g (../shared/PHYSICS.md), or from CT (lung volume x density). */
  readonly lungMassG?: number;
}

/**
 * Mean lung dose [Gy]: D_L = CF x A x LSF / M_L, M_L = 1 kg by default.
 * Source: ../shared/PHYSICS.md (Planning models). Limits: 30 Gy per treatment, 50 Gy cumulative.
 */
export function lungDoseGy(opts: LungDoseOptions): number {
  checkNonNegative(opts.activityGBq, 'administered activity [GBq]');
  const lsf = checkLsf(opts.lungShuntFraction);
  const lungMassG = checkPositive(opts.lungMassG ?? DEFAULT_LUNG_MASS_G, 'lung mass [g]', 'default 1000 g, or lung volume x 0.30 g/mL from CT');
  return ldmDoseGy(opts.isotope, opts.activityGBq * lsf, lungMassG);
}

/**
 * Plausible adult ranges for the BSA method's patient data: height 100-250 cm, weight 20-300 kg, and the body surface
 * area they span (DuBois: 0.72 m^2 at 100 cm / 20 kg, 4.4 m^2 at 250 cm / 300 kg). The method is defined for adults;
 * a value outside is a unit or typing error (a height in metres or inches, a weight in pounds or grams), refused.
 */
export const PLAUSIBLE_HEIGHT_CM: readonly [number, number] = [100, 250];
export const PLAUSIBLE_WEIGHT_KG: readonly [number, number] = [20, 300];
export const PLAUSIBLE_BSA_M2: readonly [number, number] = [0.7, 4.5];

function checkRange(value: number, range: readonly [number, number], what: string, unit: string, hint: string): number {
  if (!Number.isFinite(value) || value < range[0] || value > range[1]) {
    throw new InputError(`${what} ${value} ${unit} is outside the plausible adult range ${range[0]}-${range[1]} ${unit}: ${hint}`);
  }
  return value;
}

/** A patient height [cm] within {@link PLAUSIBLE_HEIGHT_CM}; `what` names it (e.g. "--height-cm"). */
export function checkPlausibleHeightCm(heightCm: number, what = 'height'): number {
  return checkRange(heightCm, PLAUSIBLE_HEIGHT_CM, what, 'cm', 'give the height in centimetres (e.g. 175; not metres or inches)');
}

/** A patient weight [kg] within {@link PLAUSIBLE_WEIGHT_KG}. */
export function checkPlausibleWeightKg(weightKg: number, what = 'weight'): number {
  return checkRange(weightKg, PLAUSIBLE_WEIGHT_KG, what, 'kg', 'give the weight in kilograms (e.g. 80; not pounds or grams)');
}

/** A body surface area [m^2] within {@link PLAUSIBLE_BSA_M2}. */
export function checkPlausibleBsaM2(bsaM2: number, what = 'body surface area'): number {
  return checkRange(bsaM2, PLAUSIBLE_BSA_M2, what, 'm^2', 'give it in square metres (adults typically 1.4 to 2.4)');
}

/** Options of {@link bsaActivity} (resin microspheres, SIR-Spheres IFU). */
export interface BsaOptions {
  /** Patient height [m] (e.g. 1.75, not 175). */
  readonly heightM: number;
  /** Patient weight [kg]. */
  readonly weightKg: number;
  /** Tumour volume [mL] (V_T). */
  readonly tumorVolumeMl: number;
  /** Non-tumorous liver volume [mL] (V_N); V_T + V_N is the whole liver. */
  readonly normalLiverVolumeMl: number;
  /** Lung shunt fraction in [0, 1). */
  readonly lungShuntFraction: number;
  /**
   * Fraction of the whole liver volume that is treated, in (0, 1]; default 1 (whole liver). For a lobar
   * treatment the IFU scales the whole-liver activity by the lobe's share of the liver volume.
   */
  readonly treatedLiverFraction?: number;
}

/** Result of {@link bsaActivity}. */
export interface BsaResult {
  /** Body surface area [m^2]: 0.20247 x H[m]^0.725 x W[kg]^0.425 (DuBois & DuBois 1916, SI form). */
  readonly bsaM2: number;
  /** Tumour involvement V_T / (V_T + V_N). */
  readonly tumorInvolvement: number;
  /** Activity before the lung-shunt reduction [GBq]: ((BSA - 0.2) + V_T/(V_T + V_N)) x treated fraction. */
  readonly unreducedActivityGBq: number;
  /** Reduction for lung shunting: 0, 0.2, 0.4 or 1 (see {@link bsaLsfReduction}). */
  readonly lsfReduction: number;
  /** Activity to administer [GBq] = unreduced x (1 - reduction); 0 when LSF > 20 %. */
  readonly activityGBq: number;
  /** False when LSF > 20 % (the IFU advises against treatment: reduction 100 %). */
  readonly treatable: boolean;
  readonly warnings: readonly string[];
}

/** Tolerance for the LSF boundaries of the BSA method: a value within 1e-12 of 10/15/20 % counts as on it. */
const BSA_BOUNDARY_TOL = 1e-12;

/**
 * Lung-shunt reduction of the BSA method: LSF <= 10 %: 0; 10 % < LSF <= 15 %: 0.2; 15 % < LSF <= 20 %: 0.4;
 * LSF > 20 %: 1 (do not treat). Boundary convention: "> 10 %" means strictly greater, so exactly 10 % gets no
 * reduction, exactly 15 % gets 20 % and exactly 20 % gets 40 % (values within 1e-12 of a boundary are on it, so
 * that 0.1 + 0.05 counts as 15 %). Source: ../shared/PHYSICS.md; SIR-Spheres IFU (Sirtex).
 */
export function bsaLsfReduction(lungShuntFraction: number): number {
  const lsf = checkLsf(lungShuntFraction);
  if (lsf > 0.2 + BSA_BOUNDARY_TOL) return 1;
  if (lsf > 0.15 + BSA_BOUNDARY_TOL) return 0.4;
  if (lsf > 0.1 + BSA_BOUNDARY_TOL) return 0.2;
  return 0;
}

/**
 * BSA method for resin microspheres: A [GBq] = (BSA - 0.2) + V_T / (V_T + V_N), BSA = 0.20247 x H[m]^0.725 x
 * W[kg]^0.425, scaled by the treated liver fraction, then reduced by {@link bsaLsfReduction}.
 * Source: ../shared/PHYSICS.md (Planning models); SIR-Spheres IFU; Kao et al., Ann Nucl Med 2011;25:455.
 */
export function bsaActivity(opts: BsaOptions): BsaResult {
  const heightM = checkPositive(opts.heightM, 'height [m]');
  if (heightM > 3) throw new InputError(`height ${heightM} m is not plausible: give the height in metres (e.g. 1.75, not 175)`);
  checkPlausibleHeightCm(heightM * 100, 'height');
  const weightKg = checkPlausibleWeightKg(checkPositive(opts.weightKg, 'weight [kg]'), 'weight');
  const vt = checkNonNegative(opts.tumorVolumeMl, 'tumour volume [mL]');
  const vn = checkNonNegative(opts.normalLiverVolumeMl, 'normal liver volume [mL]');
  if (vt + vn <= 0) throw new InputError('tumour and normal liver volumes are both 0 mL: give the liver volumes from CT');
  const treated = opts.treatedLiverFraction ?? 1;
  if (!Number.isFinite(treated) || treated <= 0 || treated > 1) {
    throw new InputError(`treated liver fraction ${treated} is outside (0, 1]: give the treated volume over the whole liver volume`);
  }
  const bsaM2 = 0.20247 * heightM ** 0.725 * weightKg ** 0.425;
  const tumorInvolvement = vt / (vt + vn);
  const unreducedActivityGBq = (bsaM2 - 0.2 + tumorInvolvement) * treated;
  if (unreducedActivityGBq <= 0) {
    throw new InputError(`BSA ${bsaM2.toFixed(3)} m^2 gives no positive activity: the BSA method is not defined for this patient`);
  }
  const lsfReduction = bsaLsfReduction(opts.lungShuntFraction);
  const warnings: string[] = [];
  if (lsfReduction === 1) warnings.push('lung shunt fraction above 20 %: the BSA method advises against treatment (activity 0)');
  else if (lsfReduction > 0) warnings.push(`lung shunt fraction above ${lsfReduction === 0.2 ? 10 : 15} %: activity reduced by ${lsfReduction * 100} %`);
  return {
    bsaM2,
    tumorInvolvement,
    unreducedActivityGBq,
    lsfReduction,
    activityGBq: unreducedActivityGBq * (1 - lsfReduction),
    treatable: lsfReduction < 1,
    warnings,
  };
}

/** Options of {@link holmiumStandardActivity}. */
export interface HolmiumStandardOptions {
  /** Mass of the whole (treated) liver [g]. */
  readonly liverMassG: number;
  /** Whole-liver dose [Gy]; default 60 Gy (the 166Ho standard). */
  readonly targetGy?: number;
  /** Lung shunt fraction in [0, 1), when known from the scout: the lung dose is then reported. */
  readonly lungShuntFraction?: number;
  /** Lung mass [g]; default 1000 g. */
  readonly lungMassG?: number;
}

/** Result of {@link holmiumStandardActivity}. */
export interface HolmiumStandardResult {
  /** Activity [GBq] = D x M[kg] / CF(166Ho); 60 Gy gives 3.781 GBq/kg. */
  readonly activityGBq: number;
  /** Liver dose after the shunted fraction left [Gy]: CF x A x (1 - LSF) / M (equals the target when LSF = 0). */
  readonly liverGy: number;
  /** Lung dose [Gy], or null when no lung shunt fraction was given. */
  readonly lungGy: number | null;
}

/**
 * 166Ho standard activity: A = D x M / CF(166Ho), D = 60 Gy whole liver (60 Gy ~ 3.78 GBq/kg), with no
 * correction for lung shunting (as in the HEPAR trials: Smits et al., Lancet Oncol 2012;13:1025; the lung
 * dose is checked separately on the scout). Source: ../shared/PHYSICS.md.
 */
export function holmiumStandardActivity(opts: HolmiumStandardOptions): HolmiumStandardResult {
  const targetGy = checkPositive(opts.targetGy ?? 60, 'whole-liver target dose [Gy]');
  const liverMassG = checkPositive(opts.liverMassG, 'liver mass [g]');
  const activityGBq = (targetGy * liverMassG * 1e-3) / NUCLIDES.Ho166.ldmJoulePerGBq;
  const lsf = opts.lungShuntFraction === undefined ? undefined : checkLsf(opts.lungShuntFraction);
  return {
    activityGBq,
    liverGy: ldmDoseGy('Ho166', activityGBq * (1 - (lsf ?? 0)), liverMassG),
    lungGy: lsf === undefined ? null : lungDoseGy({ isotope: 'Ho166', activityGBq, lungShuntFraction: lsf, lungMassG: opts.lungMassG }),
  };
}

/** Options of {@link activityAtCalibration}: give the interval in hours, or both times. */
export interface CalibrationActivityOptions {
  readonly isotope: Isotope;
  /** Activity wanted in the patient at treatment time [GBq]. */
  readonly treatmentActivityGBq: number;
  /** Hours from the calibration reference time to the treatment (negative when treating before calibration). */
  readonly treatmentAfterCalibrationH?: number;
  /** Calibration reference time (with `treatmentTime`, instead of `treatmentAfterCalibrationH`). */
  readonly calibrationTime?: Date;
  /** Treatment time (with `calibrationTime`). */
  readonly treatmentTime?: Date;
  /** Expected residual fraction left in vial and catheter, in [0, 1); default 0. */
  readonly residualFraction?: number;
}

/** Result of {@link activityAtCalibration}. */
export interface CalibrationActivityResult {
  /** Activity to order, stated at the calibration reference time [GBq]. */
  readonly calibrationActivityGBq: number;
  /** exp(lambda x (t_tx - t_cal)). */
  readonly decayFactor: number;
  /** t_tx - t_cal [h]. */
  readonly treatmentAfterCalibrationH: number;
}

/**
 * Activity to order at calibration time for a given treatment time:
 * A_cal = A_tx x exp(lambda (t_tx - t_cal)) / (1 - residual), lambda = ln 2 / T_1/2.
 * Source: radioactive decay law; half-lives from ../shared/PHYSICS.md.
 */
export function activityAtCalibration(opts: CalibrationActivityOptions): CalibrationActivityResult {
  checkPositive(opts.treatmentActivityGBq, 'activity at treatment [GBq]');
  let dtH: number;
  if (opts.treatmentAfterCalibrationH !== undefined) {
    if (opts.calibrationTime || opts.treatmentTime) {
      throw new InputError('give either treatmentAfterCalibrationH or calibrationTime and treatmentTime, not both');
    }
    dtH = checkFinite(opts.treatmentAfterCalibrationH, 'time from calibration to treatment [h]');
  } else {
    if (!opts.calibrationTime || !opts.treatmentTime) {
      throw new InputError('give the time from calibration to treatment: treatmentAfterCalibrationH, or calibrationTime and treatmentTime');
    }
    dtH = checkFinite((opts.treatmentTime.getTime() - opts.calibrationTime.getTime()) / 3.6e6, 'time from calibration to treatment [h] (invalid date?)');
  }
  const residual = opts.residualFraction ?? 0;
  if (!Number.isFinite(residual) || residual < 0 || residual >= 1) {
    throw new InputError(`residual fraction ${residual} is outside [0, 1): give it as a fraction, e.g. 0.03 for 3 %`);
  }
  const decayFactor = Math.exp(decayConstantPerS(opts.isotope) * dtH * SECONDS_PER_HOUR);
  return {
    calibrationActivityGBq: (opts.treatmentActivityGBq * decayFactor) / (1 - residual),
    decayFactor,
    treatmentAfterCalibrationH: dtH,
  };
}
