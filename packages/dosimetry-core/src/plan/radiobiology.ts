/**
 * Radiobiology of a permanent implant: biologically effective dose (BED, linear-quadratic model with
 * incomplete repair during the nuclide's exponential decay) and equivalent uniform dose (EUD).
 *
 * BED (Dale, Br J Radiol 1985;58:515; applied to radioembolization by Cremonesi et al., Front Oncol 2014;4:210):
 *   BED = D x (1 + D x lambda / ((mu + lambda) x (alpha/beta))),
 * lambda = ln 2 / T_phys (the microspheres never leave: no biological clearance), mu = ln 2 / T_rep the
 * sublethal-damage repair rate; repopulation is neglected. mu and lambda in the same unit (1/h here).
 *
 * EUD (Niemierko, Med Phys 1997;24:103, in the alpha-only form used for radionuclide therapy by O'Donoghue,
 * J Nucl Med 1999;40:1337 and for 90Y microspheres by Strigari et al., J Nucl Med 2010;51:1377):
 *   EUD = -ln( sum_i v_i exp(-alpha D_i) ) / alpha,  v_i the volume fraction of voxel i.
 * Pass BED values instead of doses to get the equivalent uniform BED (EUBED).
 */
import { InputError } from '../errors.ts';
import { NUCLIDES, type Isotope } from '../units/index.ts';
import type { GridStructure } from '../volume/structure.ts';
import { checkPositive } from './checks.ts';

/** Linear-quadratic parameters of a tissue. */
export interface LqParameters {
  /** alpha/beta [Gy]. */
  readonly alphaBetaGy: number;
  /** Half-time of sublethal-damage repair T_rep [h] (mu = ln 2 / T_rep). */
  readonly repairHalfTimeH: number;
}

/**
 * Tumour defaults: alpha/beta = 10 Gy, T_rep = 1.5 h (Strigari et al., J Nucl Med 2010;51:1377, for HCC;
 * Cremonesi et al., Front Oncol 2014;4:210, review of the values used in radioembolization). Overridable.
 */
export const TUMOR_LQ: LqParameters = { alphaBetaGy: 10, repairHalfTimeH: 1.5 };

/**
 * Normal liver defaults: alpha/beta = 2.5 Gy, T_rep = 2.5 h (Strigari et al. 2010, from the external-beam
 * liver data; Cremonesi et al. 2014). Overridable.
 */
export const NORMAL_LIVER_LQ: LqParameters = { alphaBetaGy: 2.5, repairHalfTimeH: 2.5 };

/** Options of the BED functions. */
export interface BedOptions {
  readonly isotope: Isotope;
  /** Tissue parameters, e.g. {@link TUMOR_LQ} or {@link NORMAL_LIVER_LQ}. */
  readonly lq: LqParameters;
}

/**
 * The coefficient G [1/Gy] of BED = D (1 + G D) for a permanent implant: G = lambda / ((mu + lambda) alpha/beta).
 * Source: Dale 1985 (module comment).
 */
export function bedQuadraticCoefficientPerGy(opts: BedOptions): number {
  const ab = checkPositive(opts.lq.alphaBetaGy, 'alpha/beta [Gy]');
  const trep = checkPositive(opts.lq.repairHalfTimeH, 'repair half-time T_rep [h]');
  const nuclide = NUCLIDES[opts.isotope];
  if (!nuclide) throw new InputError(`unknown isotope "${String(opts.isotope)}": use Y90 or Ho166`);
  const lambdaPerH = Math.LN2 / nuclide.halfLifeH;
  const muPerH = Math.LN2 / trep;
  return lambdaPerH / ((muPerH + lambdaPerH) * ab);
}

/** BED [Gy] of a permanent implant delivering absorbed dose `doseGy` (Dale 1985; module comment). */
export function bedGy(opts: BedOptions & { readonly doseGy: number }): number {
  if (!Number.isFinite(opts.doseGy)) throw new InputError(`dose ${opts.doseGy} Gy is not a finite number`);
  const g = bedQuadraticCoefficientPerGy(opts);
  return opts.doseGy * (1 + g * opts.doseGy);
}

/**
 * Per-voxel BED [Gy] of a dose map [Gy] (same layout, x-fastest). Computed in f64, stored as float32.
 * Throws InputError on a non-finite voxel.
 */
export function bedVoxelsGy(opts: BedOptions & { readonly doseGy: Float32Array }): Float32Array {
  const g = bedQuadraticCoefficientPerGy(opts);
  const d = opts.doseGy;
  const out = new Float32Array(d.length);
  for (let n = 0; n < d.length; n++) {
    const v = d[n];
    if (!Number.isFinite(v)) throw new InputError(`dose voxel ${n} holds ${v}: the dose map must contain finite numbers only`);
    out[n] = v * (1 + g * v);
  }
  return out;
}

/** Calls fn(dose, weight) for each voxel of a structure (every voxel with weight 1 when none is given). */
function forEachWeighted(doseGy: ArrayLike<number>, structure: GridStructure | undefined, fn: (doseGy: number, weight: number) => void): void {
  if (!structure) {
    for (let n = 0; n < doseGy.length; n++) fn(doseGy[n], 1);
    return;
  }
  const idx = structure.voxelIndices, w = structure.weights;
  for (let n = 0; n < idx.length; n++) {
    if (idx[n] >= doseGy.length) {
      throw new InputError(`structure "${structure.name}" names voxel ${idx[n]} but the dose map has ${doseGy.length} voxels: bring both onto the same grid`);
    }
    fn(doseGy[idx[n]], w[n]);
  }
}

/**
 * Mean BED [Gy] over a structure: sum_i w_i BED(D_i) / sum_i w_i, with the structure's partial-volume weights
 * (every voxel with weight 1 when no structure is given). Not BED(mean dose): BED is convex in D.
 */
export function meanBedGy(opts: BedOptions & { readonly doseGy: ArrayLike<number>; readonly structure?: GridStructure }): number {
  const g = bedQuadraticCoefficientPerGy(opts);
  let sw = 0, s = 0;
  forEachWeighted(opts.doseGy, opts.structure, (d, w) => {
    if (!Number.isFinite(d)) throw new InputError(`dose ${d} Gy in the mean BED: the dose map must contain finite numbers only`);
    s += w * d * (1 + g * d);
    sw += w;
  });
  if (!(sw > 0)) throw new InputError(`structure "${opts.structure?.name ?? 'all voxels'}" is empty: no mean BED`);
  return s / sw;
}

/** Options of {@link eudGy}. */
export interface EudOptions {
  /** Dose (or BED, for EUBED) per voxel [Gy]. */
  readonly doseGy: ArrayLike<number>;
  /** Structure over which to take the EUD (its weights are the volume fractions); all voxels when absent. */
  readonly structure?: GridStructure;
  /**
   * Radiosensitivity alpha [1/Gy]; no default: published values for liver tumours differ by an order of
   * magnitude between tumour types and fits, so the caller states the one it uses (and its source).
   */
  readonly alphaPerGy: number;
}

/**
 * Equivalent uniform dose [Gy]: EUD = -ln( sum_i v_i exp(-alpha D_i) ) / alpha (Niemierko 1997; O'Donoghue
 * 1999; module comment), evaluated as D_min - ln( sum_i v_i exp(-alpha (D_i - D_min)) ) / alpha so that high
 * doses cannot underflow. Always between the minimum and the mean dose.
 */
export function eudGy(opts: EudOptions): number {
  const alpha = checkPositive(opts.alphaPerGy, 'radiosensitivity alpha [1/Gy]', 'e.g. 0.01 to 0.04 per Gy; state the source');
  let dMin = Infinity, sw = 0;
  forEachWeighted(opts.doseGy, opts.structure, (d, w) => {
    if (!Number.isFinite(d)) throw new InputError(`dose ${d} Gy in the EUD: the dose map must contain finite numbers only`);
    if (w > 0 && d < dMin) dMin = d;
    sw += w;
  });
  if (!(sw > 0)) throw new InputError(`structure "${opts.structure?.name ?? 'all voxels'}" is empty: no EUD`);
  let s = 0;
  forEachWeighted(opts.doseGy, opts.structure, (d, w) => {
    s += (w / sw) * Math.exp(-alpha * (d - dMin));
  });
  return dMin - Math.log(s) / alpha;
}
