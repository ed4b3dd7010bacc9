/**
 * CT to mass densities on the activity grid: rho = (HU + 1000) / 1000 g/mL, clamped at 0 (../shared/PHYSICS.md),
 * averaged over each activity voxel; checks that the CT is a CT in HU and that it covers the activity. Structure masses
 * take the CT over each structure's own part of each voxel (src/volume/mask-mass.ts); their provenance is said here.
 */
import { GridError, InputError } from '../errors.ts';
import { type Geometry, describeGrid } from '../volume/geometry.ts';
import { meanOverVoxels } from '../volume/resample.ts';
import type { Volume } from '../volume/volume.ts';

/** Mass density [g/mL] of a CT value [HU]: (HU + 1000) / 1000, clamped at 0 (padding below -1000 HU is air). */
export function huToDensityGPerMl(hu: number): number {
  return hu > -1000 ? (hu + 1000) / 1000 : 0;
}

/** What a CT's values look like (shares are fractions of all voxels, 0..1). */
export interface CtValueSummary {
  readonly voxelCount: number;
  readonly minHu: number;
  readonly maxHu: number;
  readonly meanHu: number;
  /** Air: below -900 HU. */
  readonly shareBelowMinus900: number;
  /** Lighter than fat (air, lung): below -100 HU. */
  readonly shareBelowMinus100: number;
  /** Soft tissue and fat, -200..300 HU. */
  readonly shareSoftTissue: number;
  /** Above 4000 HU: only metal reaches it on a CT (bone is below 2000 HU). */
  readonly shareAbove4000: number;
  /** 900..1200: soft tissue when the rescale intercept (-1024) was not applied. */
  readonly share900To1200: number;
  /** The distinct values, when there are at most 32 and all are integers (a label map's look); else undefined. */
  readonly distinctIntegers?: readonly number[];
}

/** Shares below which a CT of the body is implausible: air or lung, and soft tissue, each in at least 0.1 % of voxels. */
export const CT_MIN_SHARE_BELOW_MINUS_100_HU = 0.001;
export const CT_MIN_SHARE_SOFT_TISSUE = 0.001;
/** Share of voxels above 4000 HU beyond which the image is not a CT in HU (metal implants stay well below). */
export const CT_MAX_SHARE_ABOVE_4000_HU = 0.01;

/** Summarises a CT's values in one pass (throws on NaN or infinite values, naming the first). */
export function summarizeCtValues(ct: Volume, what = 'the CT (--ct)'): CtValueSummary {
  const d = ct.data;
  let min = Infinity, max = -Infinity, sum = 0;
  let air = 0, light = 0, soft = 0, metal = 0, shifted = 0;
  let integers = true;
  const distinct = new Set<number>();
  for (let n = 0; n < d.length; n++) {
    const v = d[n];
    if (!Number.isFinite(v)) throw new InputError(`${what}: voxel ${n} holds ${v}; a CT must hold finite HU values (replace NaN/Inf, e.g. by -1000, first)`);
    if (v < min) min = v;
    if (v > max) max = v;
    sum += v;
    if (v < -100) {
      light++;
      if (v < -900) air++;
    }
    if (v >= -200 && v <= 300) soft++;
    else if (v > 4000) metal++;
    else if (v >= 900 && v <= 1200) shifted++;
    if (integers) {
      if (!Number.isInteger(v)) integers = false;
      else if (distinct.size <= 32) distinct.add(v);
    }
  }
  const n = d.length;
  return {
    voxelCount: n,
    minHu: min,
    maxHu: max,
    meanHu: sum / n,
    shareBelowMinus900: air / n,
    shareBelowMinus100: light / n,
    shareSoftTissue: soft / n,
    shareAbove4000: metal / n,
    share900To1200: shifted / n,
    distinctIntegers: integers && distinct.size <= 32 ? [...distinct].sort((a, b) => a - b) : undefined,
  };
}

const pct = (x: number) => `${(100 * x).toFixed(x > 0 && x < 0.001 ? 3 : 1)} %`;
const num = (x: number) => String(+x.toPrecision(6));

/**
 * Refuses an image given as CT whose values are not Hounsfield units of a body: a label map (a few small integers),
 * densities in g/mL (0..~2), an emission image (PET/SPECT, counts or Bq/mL, no negative values, or values far above
 * bone), or stored pixel values without their rescale intercept (air near 0, soft tissue near 1024). A CT of the body
 * has air (about -1000 HU) around the patient and in the lungs, and soft tissue near 0..100 HU. The message gives the
 * numbers and the fix. Returns the summary when the CT is plausible.
 */
export function checkCtIsHounsfield(ct: Volume, what = 'the CT (--ct)'): CtValueSummary {
  const s = summarizeCtValues(ct, what);
  const bad =
    s.shareBelowMinus100 < CT_MIN_SHARE_BELOW_MINUS_100_HU || s.shareSoftTissue < CT_MIN_SHARE_SOFT_TISSUE || s.shareAbove4000 > CT_MAX_SHARE_ABOVE_4000_HU;
  if (!bad) return s;
  const numbers =
    `min ${num(s.minHu)}, max ${num(s.maxHu)}, mean ${num(s.meanHu)}; ${pct(s.shareBelowMinus900)} of voxels below -900 HU (air), ` +
    `${pct(s.shareBelowMinus100)} below -100 HU, ${pct(s.shareSoftTissue)} in -200..300 HU (soft tissue), ${pct(s.shareAbove4000)} above 4000 HU`;
  let looks: string;
  if (s.distinctIntegers && s.minHu >= -1 && s.maxHu <= 1000) {
    const v = s.distinctIntegers;
    looks = `it holds only ${v.length} distinct integer value${v.length === 1 ? '' : 's'} (${v.slice(0, 12).join(', ')}${v.length > 12 ? ', ...' : ''}): a label map or mask, not a CT; give it with --segmentation (and --labels "1=Liver,...") and the CT in HU with --ct`;
  } else if (s.minHu >= -0.01 && s.maxHu <= 5) {
    looks = `the values lie in 0..${num(s.maxHu)}: densities in g/mL (or attenuation coefficients), not HU; give the CT in HU, or convert (HU = 1000 x rho - 1000)`;
  } else if (s.minHu >= -50 && s.share900To1200 > 0.1) {
    looks = `no voxel is below ${num(s.minHu)}: these look like stored pixel values without the rescale intercept (air near 0, soft tissue near 1024); apply the Rescale Slope/Intercept (HU = stored - 1024 for most scanners) or give the DICOM CT series`;
  } else if (s.shareAbove4000 > CT_MAX_SHARE_ABOVE_4000_HU || s.minHu >= -100) {
    looks = 'it looks like an emission image (PET/SPECT in Bq/mL or counts) or another quantity, not a CT; give the CT series with --ct and the emission image with --activity';
  } else {
    looks = 'these are not the HU of a CT of the body; check that --ct names the CT and that it is in HU';
  }
  throw new InputError(`${what} does not hold Hounsfield units of a body (${numbers}); a CT of the body has air (about -1000 HU) around the patient and in the lungs, and soft tissue near 0..100 HU: ${looks}`);
}

/** Options of `ctDensityOnGrid`. */
export interface CtDensityOptions {
  /** Activity on `grid` (any unit; its positive values weigh the share inside the CT's field of view). */
  readonly activity: ArrayLike<number>;
  /** Densities used where the CT does not reach [g/mL]: one value, or one per voxel of `grid`. */
  readonly outsideGPerMl: number | Float32Array;
  /** `outsideGPerMl` in words, for the warning and the report (e.g. "1.05 g/mL (--density)"). */
  readonly outsideDescription: string;
  /** Force sub-sampling (tests); default: exact box average when the grids' axes are parallel. */
  readonly method?: 'auto' | 'sampled';
}

/** CT densities on the activity grid, with what the report should say about them. */
export interface CtDensityOnGrid {
  readonly densityGPerMl: Float32Array;
  /** Share of the activity (sum of positive voxels) that lies inside the CT's field of view (0..1). */
  readonly activityShareInsideCt: number;
  /** Voxels of `grid` with activity that lie partly or wholly outside the CT. */
  readonly voxelsWithActivityOutsideCt: number;
  /** For report.json provenance parameters. */
  readonly parameters: Record<string, unknown>;
  readonly warnings: string[];
}

/** Share of the activity outside the CT above which a warning is given (0.1 %). */
export const CT_OUTSIDE_WARNING_SHARE = 0.001;

/**
 * Mass density [g/mL] per voxel of `grid` from a CT in HU on any grid: the mean of rho = max(0, (HU + 1000) / 1000)
 * over the CT voxels inside each activity voxel (volume-weighted; `meanOverVoxels`), so that each voxel's mass is
 * that of the tissue it holds. Where part of a voxel lies outside the CT's field of view, that part takes
 * `outsideGPerMl`. Throws a GridError when no activity lies inside the CT (they do not overlap: another patient,
 * another frame of reference, or a CT of another region); warns with the share when some activity lies outside.
 */
export function ctDensityOnGrid(ct: Volume, grid: Geometry, opts: CtDensityOptions): CtDensityOnGrid {
  const avg = meanOverVoxels(ct, grid, { transform: huToDensityGPerMl, method: opts.method });
  const n = avg.mean.length;
  const rho = new Float32Array(n);
  const out = opts.outsideGPerMl;
  let actAll = 0, actInside = 0, gridInside = 0, voxelsOutside = 0;
  for (let v = 0; v < n; v++) {
    const f = avg.insideFraction[v];
    const o = typeof out === 'number' ? out : out[v];
    rho[v] = f >= 1 ? avg.mean[v] : f * avg.mean[v] + (1 - f) * o;
    gridInside += f;
    const a = opts.activity[v];
    if (a > 0) {
      actAll += a;
      actInside += a * f;
      if (f < 1) voxelsOutside++;
    }
  }
  // Share of the activity inside; without any positive activity, of the grid's volume.
  const share = actAll > 0 ? actInside / actAll : gridInside / n;
  if (!(share > 0)) {
    throw new GridError(
      `the CT does not overlap the activity image: none of the activity lies inside the CT's field of view (CT: ${describeGrid(ct.geometry)}; activity: ${describeGrid(grid)}); check that the CT belongs to this activity image (same patient, same frame of reference, the same region), or leave out --ct to use ${opts.outsideDescription}`,
    );
  }
  const warnings: string[] = [];
  if (share < 1 - CT_OUTSIDE_WARNING_SHARE) {
    warnings.push(
      `${pct(1 - share)} of the activity (${voxelsOutside} voxels) lies outside the CT's field of view: densities there are ${opts.outsideDescription} instead of the CT's (check that the CT covers the activity image's region)`,
    );
  }
  return {
    densityGPerMl: rho,
    activityShareInsideCt: share,
    voxelsWithActivityOutsideCt: voxelsOutside,
    parameters: {
      ctResampling: avg.description,
      ctResamplingMethod: avg.method,
      ...(avg.subsamples ? { ctResamplingSubsamples: avg.subsamples } : {}),
      ctActivityShareInsideFov: share,
      ctDensityOutsideFov: share < 1 ? opts.outsideDescription : null,
    },
    warnings,
  };
}

/**
 * How structure masses were computed with a CT, for report.json provenance parameters: `structureMass` in words and
 * `structureMassSubsamples` (sub-samples per activity voxel axis, by structure, where the CT was sampled over the
 * structure's own part of each voxel).
 */
export function structureMassParameters(names: readonly string[], subsamplesOf: ReadonlyMap<string, readonly number[]>): Record<string, unknown> {
  const byPattern = new Map<string, string[]>();
  const onVoxel: string[] = [];
  for (const n of names) {
    const sub = subsamplesOf.get(n);
    if (!sub) onVoxel.push(n);
    else byPattern.set(sub.join('x'), [...(byPattern.get(sub.join('x')) ?? []), n]);
  }
  const parts = [...byPattern].map(([p, ns]) => `${p} sub-samples per voxel for ${ns.join(', ')}`);
  if (onVoxel.length > 0) parts.push(`the whole voxel's mean density for ${onVoxel.join(', ')} (masks on the activity grid, or --mask-mode nearest: nothing finer is known)`);
  return {
    structureMass:
      "CT density integrated over each structure's own part of each activity voxel (mass = sum of occupancy x density over sub-samples of the voxel, nearest CT voxel; mean dose weighted by that mass): " +
      parts.join('; '),
    structureMassSubsamples: Object.fromEntries(names.flatMap((n) => (subsamplesOf.has(n) ? [[n, subsamplesOf.get(n)]] : []))),
  };
}
