/**
 * Activity calibration: from the image's values to activity concentration at implant time [Bq/mL].
 *
 * - 'bq-per-ml' (absolute, e.g. 90Y PET): values are Bq/mL at scan time, carried back to implant time by
 *   exp(lambda t) with t = scan delay (../shared/PHYSICS.md).
 * - 'counts' (relative, e.g. 99mTc-MAA SPECT): values are scaled so that the normalisation structure holds
 *   A_administered x (1 - LSF) (relative calibration; the scout's own decay cancels out).
 *   LSF is given, or measured from a lung structure: LSF = C_lung / (C_lung + C_liver).
 */
import { InputError } from '../errors.ts';
import { BQ_PER_GBQ, decayCorrectionToImplant, type Isotope } from '../units/index.ts';
import { voxelVolumeMl } from '../volume/geometry.ts';
import type { GridStructure } from '../volume/structure.ts';
import type { Volume, VoxelArray } from '../volume/volume.ts';

export type ActivityUnit = 'bq-per-ml' | 'counts';

export function parseActivityUnit(text: string): ActivityUnit {
  const t = text.trim().toLowerCase();
  if (t === 'bq-per-ml' || t === 'bq/ml' || t === 'bqml') return 'bq-per-ml';
  if (t === 'counts' || t === 'count') return 'counts';
  throw new InputError(`unknown activity unit "${text}": use bq-per-ml (absolute, e.g. 90Y PET) or counts (relative, e.g. MAA SPECT)`);
}

/** Summary of the raw activity image's values. */
export interface ActivityValueCheck {
  readonly negativeVoxelCount: number;
  readonly sum: number;
}

/** Throws when any value is NaN or infinite (naming the first such voxel); counts negative voxels. */
export function checkActivityValues(data: VoxelArray, what: string): ActivityValueCheck {
  let negative = 0;
  let sum = 0;
  for (let n = 0; n < data.length; n++) {
    const v = data[n];
    if (!Number.isFinite(v)) {
      throw new InputError(`${what}: voxel ${n} holds ${v}; the activity image must contain finite numbers only (replace NaN/Inf, e.g. by 0, before dosimetry)`);
    }
    if (v < 0) negative++;
    sum += v;
  }
  return { negativeVoxelCount: negative, sum };
}

/** Weighted sum of image values over a structure: sum_i w_i v_i. */
export function structureSum(values: ArrayLike<number>, s: GridStructure): number {
  let acc = 0;
  const idx = s.voxelIndices, w = s.weights;
  for (let n = 0; n < idx.length; n++) acc += w[n] * values[idx[n]];
  return acc;
}

export interface CalibrationOptions {
  readonly unit: ActivityUnit;
  readonly isotope: Isotope;
  /** bq-per-ml: hours from implant to the scan; the activity is carried back to implant time. Default 0. */
  readonly scanDelayH?: number;
  /** counts: administered activity at implant [GBq]. */
  readonly administeredGBq?: number;
  /** counts: the structure whose counts carry A x (1 - LSF). */
  readonly normalizeTo?: GridStructure;
  /** Lung shunt fraction given by the user, in [0, 1). */
  readonly lungShuntFraction?: number;
  /** Lung structure to measure LSF from (counts only), used when no LSF is given. */
  readonly lung?: GridStructure;
  /** Liver structure for the measured LSF (counts only). */
  readonly liver?: GridStructure;
}

export interface CalibrationResult {
  /** Activity concentration at implant time [Bq/mL], on the activity grid. */
  readonly activityBqPerMl: Float32Array;
  /** Multiplier applied to the raw values to get Bq/mL at implant time. */
  readonly scaleToBqPerMl: number;
  /** Decay factor exp(lambda t) applied (1 when none). */
  readonly decayFactor: number;
  /** Lung shunt fraction used, and where it came from. */
  readonly lungShuntFraction: number;
  readonly lungShuntFractionSource: 'given' | 'measured' | 'default' | 'not-applicable';
  readonly warnings: string[];
}

/** Validates a lung shunt fraction (0 <= LSF < 1). */
export function checkLsf(lsf: number): number {
  if (!Number.isFinite(lsf) || lsf < 0 || lsf >= 1) {
    throw new InputError(`lung shunt fraction ${lsf} is outside [0, 1): give it as a fraction, e.g. 0.08 for 8 %`);
  }
  return lsf;
}

/** Calibrates an activity image (see module comment). Never modifies the input. */
export function calibrateActivity(image: Volume, opts: CalibrationOptions): CalibrationResult {
  const warnings: string[] = [];
  const vVoxMl = voxelVolumeMl(image.geometry);
  const out = new Float32Array(image.data.length);
  if (opts.lungShuntFraction !== undefined) checkLsf(opts.lungShuntFraction);
  if (opts.unit === 'bq-per-ml') {
    const delayH = opts.scanDelayH ?? 0;
    if (delayH < 0) throw new InputError(`scan delay ${delayH} h is negative: give the hours from implant to the scan`);
    const f = decayCorrectionToImplant(opts.isotope, delayH);
    for (let n = 0; n < out.length; n++) out[n] = image.data[n] * f;
    if (opts.administeredGBq !== undefined) {
      warnings.push('--administered-gbq is not used with bq-per-ml images (the image is absolute); it is only recorded');
    }
    return {
      activityBqPerMl: out,
      scaleToBqPerMl: f,
      decayFactor: f,
      lungShuntFraction: opts.lungShuntFraction ?? 0,
      lungShuntFractionSource: opts.lungShuntFraction !== undefined ? 'given' : 'not-applicable',
      warnings,
    };
  }
  // counts
  const a = opts.administeredGBq;
  if (a === undefined) {
    throw new InputError('--activity-unit counts needs --administered-gbq (the activity to distribute over the normalisation structure)');
  }
  if (!Number.isFinite(a) || a <= 0) throw new InputError(`administered activity ${a} GBq must be positive`);
  if (!opts.normalizeTo) throw new InputError('counts calibration needs a structure to normalise to: give --liver NAME or --normalize-to NAME');
  let lsf: number;
  let lsfSource: CalibrationResult['lungShuntFractionSource'];
  if (opts.lungShuntFraction !== undefined) {
    lsf = opts.lungShuntFraction;
    lsfSource = 'given';
  } else if (opts.lung && opts.liver) {
    const cl = structureSum(image.data, opts.lung);
    const ch = structureSum(image.data, opts.liver);
    if (!(cl + ch > 0)) throw new InputError('cannot measure the lung shunt fraction: the lung and liver structures hold no counts');
    lsf = Math.max(0, cl / (cl + ch));
    lsfSource = 'measured';
    checkLsf(lsf);
  } else {
    lsf = 0;
    lsfSource = 'default';
  }
  const c = structureSum(image.data, opts.normalizeTo);
  if (!(c > 0)) {
    throw new InputError(`structure "${opts.normalizeTo.name}" holds no counts (sum ${c}); choose another --normalize-to structure`);
  }
  // k [Bq per count]: k * c = A (1 - LSF); concentration = k * counts / V_voxel.
  const kBqPerCount = (a * BQ_PER_GBQ * (1 - lsf)) / c;
  const scale = kBqPerCount / vVoxMl;
  for (let n = 0; n < out.length; n++) out[n] = image.data[n] * scale;
  if (opts.scanDelayH !== undefined && opts.scanDelayH !== 0) {
    warnings.push('--scan-delay-h is not applied to counts: the relative calibration to the administered activity already refers to implant time');
  }
  return {
    activityBqPerMl: out,
    scaleToBqPerMl: scale,
    decayFactor: 1,
    lungShuntFraction: lsf,
    lungShuntFractionSource: lsfSource,
    warnings,
  };
}
