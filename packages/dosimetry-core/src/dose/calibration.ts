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
  /** Sum of all values (image units). */
  readonly sum: number;
  /** Sum of the positive values, and of the negative ones (<= 0). */
  readonly positiveSum: number;
  readonly negativeSum: number;
  /** Largest |value|. */
  readonly maxAbs: number;
  /** Sum of all values added in index order in float64 (what a plain loop over the image gives, bit for bit). */
  readonly sumInIndexOrder: number;
}

/** Largest |value| accepted in an activity image: beyond it the image is corrupt or scaled wrongly (float32 max 3.4e38). */
export const ACTIVITY_MAX_ABS_VALUE = 1e30;
/** Negative voxels may sum to at most this fraction of the positive ones (PET noise is a few %): beyond it, refused. */
export const ACTIVITY_MAX_NEGATIVE_FRACTION = 0.5;
/** Beyond this fraction a warning gives the figure (the negative voxels lower the means of regions they lie in). */
export const ACTIVITY_WARN_NEGATIVE_FRACTION = 0.1;

/**
 * Checks an activity image's values before any dose: refuses NaN/Inf (naming the first such voxel), values near the
 * float limit, an image of zeros only, and an image whose negative values outweigh (>= half of) the positive ones
 * (a wrong sign, offset or a difference image: its doses would be negative); counts negative voxels (PET noise).
 */
export function checkActivityValues(data: VoxelArray, what: string): ActivityValueCheck {
  // in 64 Ki-voxel chunks by one small function, which the JIT optimises after a few chunks (one long loop runs
  // unoptimised until on-stack replacement: 2x slower on a 256^3 image); sums in index order as one loop would
  const st: ScanState = { negative: 0, pos: 0, neg: 0, maxAbs: 0, maxAt: -1, all: 0, nan: false };
  for (let start = 0; start < data.length && !st.nan; start += 65536) scanActivityChunk(data, start, Math.min(data.length, start + 65536), st);
  const { negative, pos, neg, maxAbs, maxAt, all, nan } = st;
  if (nan || maxAbs === Infinity) {
    for (let n = 0; n < data.length; n++) {
      const v = data[n];
      if (!Number.isFinite(v)) {
        throw new InputError(`${what}: voxel ${n} holds ${v}; the activity image must contain finite numbers only (replace NaN/Inf, e.g. by 0, before dosimetry)`);
      }
    }
  }
  if (maxAbs > ACTIVITY_MAX_ABS_VALUE) {
    throw new InputError(
      `${what}: voxel ${maxAt} holds ${data[maxAt]}, near the largest number a float32 can hold: the image is corrupt or not an activity image (check its data type and scaling, e.g. scl_slope)`,
    );
  }
  if (pos === 0 && neg === 0) throw new InputError(`${what} holds only zeros (${data.length} voxels): there is no activity to compute a dose from; check that the right file was given`);
  if (pos === 0) throw new InputError(`${what} holds only negative or zero values (sum ${neg.toPrecision(4)}): a dose cannot be negative; check the image's sign, offset and scaling`);
  if (-neg >= ACTIVITY_MAX_NEGATIVE_FRACTION * pos) {
    throw new InputError(
      `${what} is mostly negative: its ${negative} negative voxels sum to ${((100 * -neg) / pos).toFixed(1)} % of the positive ones (PET noise gives a few %); doses would be negative or far too low: check the image's sign, offset and scaling (is it a difference image?)`,
    );
  }
  return { negativeVoxelCount: negative, sum: pos + neg, positiveSum: pos, negativeSum: neg, maxAbs, sumInIndexOrder: all };
}

interface ScanState {
  negative: number;
  pos: number;
  neg: number;
  maxAbs: number;
  maxAt: number;
  all: number;
  nan: boolean;
}

/** checkActivityValues over voxels start..end-1, continuing the sums in `st`. */
function scanActivityChunk(data: VoxelArray, start: number, end: number, st: ScanState): void {
  let { negative, pos, neg, maxAbs, maxAt, all } = st;
  // zeros (most voxels of a sparse image) change no sum and no maximum: they take one comparison each
  for (let n = start; n < end; n++) {
    const v = data[n];
    if (v > 0) {
      all += v;
      pos += v;
      if (v > maxAbs) (maxAbs = v), (maxAt = n);
    } else if (v < 0) {
      all += v;
      negative++;
      neg += v;
      if (-v > maxAbs) (maxAbs = -v), (maxAt = n);
    } else if (v !== 0) {
      st.nan = true;
      break;
    }
  }
  Object.assign(st, { negative, pos, neg, maxAbs, maxAt, all });
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
  /** Image the LSF is measured on when it differs from `image` (the image as acquired, before --restrict-to). */
  readonly lungShuntImage?: VoxelArray;
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

/** Largest administered activity accepted [GBq]: radioembolization stays under ~20 GBq; beyond 50 it is a unit slip. */
export const MAX_ADMINISTERED_GBQ = 50;

/** Lung shunt fractions above this get a warning (contraindication threshold of the SIR-Spheres IFU). */
export const LSF_WARN_ABOVE = 0.2;

/** Validates a lung shunt fraction (0 <= LSF < 1). */
export function checkLsf(lsf: number): number {
  if (!Number.isFinite(lsf) || lsf < 0 || lsf >= 1) {
    throw new InputError(`lung shunt fraction ${lsf} is outside [0, 1): give it as a fraction, e.g. 0.08 for 8 %`);
  }
  return lsf;
}

/** `data` x `factor` as float32, in a new array. */
function scaledFloat32(data: VoxelArray, factor: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let n = 0; n < out.length; n++) out[n] = data[n] * factor;
  return out;
}

/**
 * Calibrates an activity image (see module comment). Never modifies the input; the result's `activityBqPerMl` is the
 * input's own array (not a copy) when that is float32 in Bq/mL with a decay factor of 1 (scan at implant).
 */
export function calibrateActivity(image: Volume, opts: CalibrationOptions): CalibrationResult {
  const warnings: string[] = [];
  const vVoxMl = voxelVolumeMl(image.geometry);
  if (opts.lungShuntFraction !== undefined) checkLsf(opts.lungShuntFraction);
  if (opts.unit === 'bq-per-ml') {
    const delayH = opts.scanDelayH ?? 0;
    if (delayH < 0) throw new InputError(`scan delay ${delayH} h is negative: give the hours from implant to the scan`);
    const f = decayCorrectionToImplant(opts.isotope, delayH);
    // float32 x 1 is the value itself: a float32 image decay-corrected by a factor of 1 is used as it is, not copied
    const out = f === 1 && image.data instanceof Float32Array ? image.data : scaledFloat32(image.data, f);
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
  if (a > MAX_ADMINISTERED_GBQ) {
    throw new InputError(`administered activity ${a} GBq is more than any radioembolization (at most ~20 GBq): give it in GBq (${a} MBq is --administered-gbq ${a / 1000})`);
  }
  if (!opts.normalizeTo) throw new InputError('counts calibration needs a structure to normalise to: give --liver NAME or --normalize-to NAME');
  let lsf: number;
  let lsfSource: CalibrationResult['lungShuntFractionSource'];
  if (opts.lungShuntFraction !== undefined) {
    lsf = opts.lungShuntFraction;
    lsfSource = 'given';
  } else if (opts.lung && opts.liver) {
    const cl = structureSum(opts.lungShuntImage ?? image.data, opts.lung);
    const ch = structureSum(opts.lungShuntImage ?? image.data, opts.liver);
    if (!(cl + ch > 0)) throw new InputError('cannot measure the lung shunt fraction: the lung and liver structures hold no counts');
    lsf = Math.max(0, cl / (cl + ch));
    lsfSource = 'measured';
    checkLsf(lsf);
  } else {
    lsf = 0;
    lsfSource = 'default';
  }
  if (lsf > LSF_WARN_ABOVE) {
    warnings.push(
      `lung shunt fraction ${(100 * lsf).toFixed(1)} % (${lsfSource}) is above ${100 * LSF_WARN_ABOVE} %, where radioembolization is usually contraindicated (SIR-Spheres IFU) and the lung dose limits bind: check it${lsfSource === 'given' ? ' (a fraction: 0.08 for 8 %)' : ' (lung and liver structures, scatter)'}`,
    );
  }
  const c = structureSum(image.data, opts.normalizeTo);
  if (!(c > 0)) {
    throw new InputError(`structure "${opts.normalizeTo.name}" holds no counts (sum ${c}); choose another --normalize-to structure`);
  }
  // k [Bq per count]: k * c = A (1 - LSF); concentration = k * counts / V_voxel.
  const kBqPerCount = (a * BQ_PER_GBQ * (1 - lsf)) / c;
  const scale = kBqPerCount / vVoxMl;
  const out = scaledFloat32(image.data, scale);
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
