/**
 * The 166Ho scout: about 250 MBq of the same 166Ho microspheres as the treatment (src/plan/catalogue-data.ts), imaged
 * by SPECT, predicts the treatment's distribution and gives a (small) absorbed dose of its own.
 *
 * - Scout in counts: the usual normalisation (src/dose/calibration.ts): the normalisation structure holds
 *   A x (1 - LSF), so the treatment prediction is the scout image scaled by A_treatment / A_scout (the scout's own
 *   calibration cancels).
 * - Quantitative scout in Bq/mL (166Ho SPECT reconstructed in activity, carried back to the scout's implant by
 *   --scan-delay-h): the image is the scout's activity itself, so the case is computed at A_scout and the treatment
 *   prediction is the image x A_treatment / A_scout exactly; the lung shunt is measured on it (A_lung / (A_lung +
 *   A_liver)) as for counts, and the image's total is compared with A_scout.
 *
 * The scout's own dose per structure is the case's dose at A_scout (dose is linear in activity). Cumulative figures
 * add it to the treatment's: the lung (the scout's lung dose counts toward the cumulative lung limit, 50 Gy, as a prior
 * lung dose) and the normal liver (stated alongside; the per-treatment limits apply to the treatment alone).
 */
import { InputError } from '../errors.ts';
import type { DoseCaseResult } from '../dose/pipeline.ts';
import { DELIVERED_IMAGE_TOLERANCE } from '../dose/delivered.ts';
import { checkPositive } from './checks.ts';
import { predictedDoses, type CaseCompartments, type PredictedDoses } from './image.ts';

/** How the lung shunt of a quantitative scout is named in the report. */
export const SCOUT_LSF_SOURCE = 'measured on the quantitative 166Ho scout: A_lung / (A_lung + A_liver)';

/** Weighted activity of a structure of the case [Bq x voxel volume units: a sum of Bq/mL x weight]. */
function structureActivity(result: DoseCaseResult, i: number): number {
  const g = result.gridStructures[i], a = result.activityBqPerMl;
  let s = 0;
  for (let n = 0; n < g.voxelIndices.length; n++) s += g.weights[n] * a[g.voxelIndices[n]];
  return s;
}

/** Result of {@link quantitativeScoutCase}. */
export interface QuantitativeScoutCase {
  /** The case with the lung shunt measured on the image (or 'default' when it cannot be, so that a lung limit asks for it). */
  readonly result: DoseCaseResult;
  /** The image's activity at the scout's implant [GBq], and its ratio to the administered scout activity. */
  readonly imageActivityGBq: number;
  readonly imageOverScout: number;
  readonly warnings: readonly string[];
}

/**
 * Prepares a case computed from a quantitative (Bq/mL) 166Ho scout for planning: the lung shunt fraction is measured
 * on the image from the lung and liver structures when none was given (without a lung structure it stays unknown:
 * source 'default', and a lung limit then asks for --lung-shunt-fraction); the image's total is compared with the
 * scout activity administered (warning beyond +-20 %).
 */
export function quantitativeScoutCase(result: DoseCaseResult, scoutActivityGBq: number): QuantitativeScoutCase {
  checkPositive(scoutActivityGBq, 'scout activity [GBq]');
  const warnings: string[] = [];
  let out = result;
  if (result.lungShuntFractionSource !== 'given') {
    const lung = result.structures.findIndex((s) => s.role === 'lung');
    const liver = result.structures.findIndex((s) => s.role === 'liver');
    if (lung >= 0 && liver >= 0) {
      const aLung = structureActivity(result, lung), aLiver = structureActivity(result, liver);
      if (!(aLung + aLiver > 0)) throw new InputError('the quantitative scout holds no activity in the liver and lung structures: the lung shunt fraction is undefined; check the image and the structures');
      out = { ...result, lungShuntFraction: Math.max(0, aLung) / (Math.max(0, aLung) + aLiver), lungShuntFractionSource: SCOUT_LSF_SOURCE };
    } else {
      out = { ...result, lungShuntFraction: 0, lungShuntFractionSource: 'default' };
    }
  }
  const imageActivityGBq = result.activityInFieldGBq;
  const imageOverScout = imageActivityGBq / scoutActivityGBq;
  if (!(Math.abs(imageOverScout - 1) <= DELIVERED_IMAGE_TOLERANCE)) {
    warnings.push(
      `the quantitative scout image holds ${imageActivityGBq.toPrecision(4)} GBq at the scout's implant, ${(100 * Math.abs(imageOverScout - 1)).toFixed(1)} % ${imageOverScout > 1 ? 'more' : 'less'} than the ${scoutActivityGBq} GBq scout administered (--scout-gbq): the treatment prediction scales the image by A_treatment / A_scout as it is; check the image's calibration, --scan-delay-h and the residual left in the scout's delivery set`,
    );
  }
  return { result: out, imageActivityGBq, imageOverScout, warnings };
}

/** Options of {@link scoutDoses}. */
export interface ScoutDoseOptions {
  /** The scout case as computed (dose map at `referenceActivityGBq` administered). */
  readonly result: DoseCaseResult;
  readonly compartments: CaseCompartments;
  /** Administered activity the case was computed at [GBq]: 1 GBq for counts, A_scout for a Bq/mL scout. */
  readonly referenceActivityGBq: number;
  /** Scout activity administered [GBq]. */
  readonly scoutActivityGBq: number;
  /** Treatment activity [GBq] (the prescription). */
  readonly treatmentActivityGBq: number;
  /** The image's unit. */
  readonly unit: 'counts' | 'bq-per-ml';
  /** Lung dose of treatments before the scout [Gy] (--prior-lung-gy); default 0. */
  readonly priorLungGy?: number;
}

/** The scout's own doses and the cumulative figures (report.json plan.scout). */
export interface ScoutDoses {
  /** Scout activity administered [GBq]. */
  readonly activityGBq: number;
  readonly image: 'counts' | 'bq-per-ml';
  /** How the treatment prediction is obtained from the scout. */
  readonly scaling: string;
  /** A_treatment / A_scout. */
  readonly treatmentOverScout: number;
  /** Mean absorbed dose of each structure from the scout alone [Gy] (the dose map at A_scout), report order. */
  readonly structures: ReadonlyArray<{ readonly name: string; readonly role: string; readonly meanGy: number }>;
  /** The plan's compartments at A_scout [Gy] (lung: CF x A_scout x LSF / M_L, as the plan's lung figure). */
  readonly compartments: PredictedDoses;
  /** Scout + treatment [Gy], and how they are summed. */
  readonly cumulative: {
    readonly lungGy: number;
    readonly wholeNormalLiverGy: number;
    readonly perfusedNormalLiverGy: number;
    readonly method: string;
  };
}

/**
 * The scout's own dose at A_scout per structure and compartment, and the cumulative lung and normal-liver doses
 * (module comment). Doses are the case's doses x A_scout / A_ref (linear in activity).
 */
export function scoutDoses(opts: ScoutDoseOptions): ScoutDoses {
  const aRef = checkPositive(opts.referenceActivityGBq, 'reference activity [GBq]');
  const aS = checkPositive(opts.scoutActivityGBq, 'scout activity [GBq]');
  const aT = checkPositive(opts.treatmentActivityGBq, 'treatment activity [GBq]');
  const prior = opts.priorLungGy ?? 0;
  const k = aS / aRef;
  const scoutC = predictedDoses(opts.compartments, aS);
  const tx = predictedDoses(opts.compartments, aT);
  return {
    activityGBq: aS,
    image: opts.unit,
    scaling: opts.unit === 'counts'
      ? 'scout in counts: normalised so that the normalisation structure holds A x (1 - LSF); the treatment prediction is the scout image x A_treatment / A_scout'
      : 'quantitative scout in Bq/mL: the case is the scout itself (at A_scout); the treatment prediction is the image x A_treatment / A_scout',
    treatmentOverScout: aT / aS,
    structures: opts.result.structures.map((s) => ({ name: s.name, role: s.role, meanGy: s.meanGy * k })),
    compartments: scoutC,
    cumulative: {
      lungGy: prior + scoutC.lungGy + tx.lungGy,
      wholeNormalLiverGy: scoutC.wholeNormalLiverGy + tx.wholeNormalLiverGy,
      perfusedNormalLiverGy: scoutC.perfusedNormalLiverGy + tx.perfusedNormalLiverGy,
      method:
        'scout + treatment at the prescribed activity (+ --prior-lung-gy for the lung); the scout\'s lung dose also counts toward the cumulative lung limit (it is added to the prior lung dose of the plan); the per-treatment limits (lung 30 Gy, normal liver) apply to the treatment alone',
    },
  };
}
