/**
 * Materials of the voxel Monte Carlo and the CT number -> material assignment.
 *
 * Compositions (mass fractions) are published reference data:
 * - air, dry, near sea level: ICRU Report 37 (1984) as tabulated in NIST ESTAR; I = 85.7 eV (ICRU 37);
 * - lung (adult, healthy, inflated), adipose tissue (adult, no. 2), liver (adult, healthy; the soft tissue of this
 *   engine), skeleton spongiosa and cortical bone: ICRU Report 46 (1992), from Woodard & White 1986 (Br J Radiol
 *   59:1209), mass per cent to one decimal;
 * - water (tests, water-only problems): H2O with the atomic weights of ./electron-data.ts, I = 75 eV and the tabulated
 *   Sternheimer parameters of liquid water (ICRU 37; the values of ../kernel/water.ts).
 * I-values of the ICRU 46 tissues: Bragg additivity as in ICRU 37 (sec. 4.3 and Seltzer & Berger 1982, Int J Appl
 * Radiat Isot 33:1189): ln I = Σ w_Z (Z/A) ln I_Z / Σ w_Z (Z/A), with the atomic I-values recommended for condensed
 * compounds: H 19.2, C 81.0, N 82.0, O 106.0, Cl 180.0 eV, and for the other elements 1.13 × the elemental I-value of
 * ICRU 37 (Na 149, Mg 156, P 173, S 180, Ar 188, K 190, Ca 191, Fe 286 eV). The 1.13 factor is quoted from memory of
 * Seltzer & Berger 1982 (NOT verified); it changes bone's I by ~3 % and its stopping power by ~0.5 %. The test
 * checks the rule against the ICRU 37 I-values of ICRP tissues.
 *
 * Densities: the density of a voxel is the project's calibration ρ = (HU + 1000)/1000 g/mL (../shared/PHYSICS.md);
 * the material only chooses the composition (Schneider, Bortfeld & Schlegel 2000, Phys Med Biol 45:459: intervals of
 * CT number, each with one composition; here coarser, six materials). Intervals in HU (ρ = (HU + 1000)/1000):
 * - air         HU < −950 (ρ < 0.05): the project's air threshold (AIR_DENSITY_THRESHOLD_G_PER_ML of ../units) and
 *               Schneider's air/lung boundary (−950);
 * - lung        −950 <= HU < −120: Schneider's lung interval (inflated lung −700 to −900 HU);
 * - adipose     −120 <= HU < −20: Schneider's adipose intervals (−120 to −22); fat is −100 ± 20 HU;
 * - soft tissue −20 <= HU < 120 (liver composition): Schneider's soft and connective tissue intervals up to 120 HU,
 *               where his marrow/bone mixtures begin; liver is 40–70 HU, contrast-enhanced up to ~110;
 * - spongiosa   120 <= HU < 550: bone/marrow mixtures (ICRU 46 spongiosa, nominal 1.18 g/cm^3 = 180 HU);
 * - cortical    HU >= 550: 550 HU (1.55 g/mL) is midway between the nominal densities of spongiosa (1.18) and
 *               cortical bone (1.92), so each voxel takes the composition of the nearer nominal density.
 * Water is not reached from CT numbers (it is the test material).
 */
import { InputError } from '../errors.ts';
import { ATOMIC_WEIGHT } from './electron-data.ts';
import type { McMaterial } from './types.ts';
import { MC_DENSITY_UNIT } from './types.ts';

/** Per cent by mass -> mass fractions normalised to 1 (the published tables are rounded to 0.1 %). */
function fractions(percent: Record<number, number>): Record<number, number> {
  let sum = 0;
  for (const v of Object.values(percent)) sum += v;
  const out: Record<number, number> = {};
  for (const [z, v] of Object.entries(percent)) out[Number(z)] = v / sum;
  return out;
}

/** Atomic I-values [eV] for Bragg additivity in condensed compounds (ICRU 37; module header). */
const BRAGG_I_EV: Readonly<Record<number, number>> = {
  1: 19.2,
  6: 81.0,
  7: 82.0,
  8: 106.0,
  11: 149 * 1.13,
  12: 156 * 1.13,
  15: 173 * 1.13,
  16: 180 * 1.13,
  17: 180.0,
  18: 188 * 1.13,
  19: 190 * 1.13,
  20: 191 * 1.13,
  26: 286 * 1.13,
  30: 330 * 1.13,
};

/**
 * Mean excitation energy [MeV] of a mixture by Bragg additivity (ICRU 37; module header).
 * @param massFractions mass fractions by atomic number
 */
export function braggIValueMeV(massFractions: Readonly<Record<number, number>>): number {
  let num = 0;
  let den = 0;
  for (const [zText, w] of Object.entries(massFractions)) {
    const z = Number(zText);
    const i = BRAGG_I_EV[z];
    const a = ATOMIC_WEIGHT[z];
    if (i === undefined || a === undefined) throw new InputError(`no atomic I-value or weight for Z = ${z}: extend BRAGG_I_EV and ATOMIC_WEIGHT`);
    const zOverA = (w * z) / a;
    num += zOverA * Math.log(i);
    den += zOverA;
  }
  return Math.exp(num / den) * 1e-6;
}

function tissue(name: string, percent: Record<number, number>, densityGPerCm3: number, source: string): McMaterial {
  const massFractions = fractions(percent);
  return { name, massFractions, iValueMeV: braggIValueMeV(massFractions), nominalDensityGPerCm3: densityGPerCm3, source };
}

const H_WEIGHT = ATOMIC_WEIGHT[1];
const O_WEIGHT = ATOMIC_WEIGHT[8];

/** Liquid water (test material and water-only problems). */
export const WATER: McMaterial = {
  name: 'water',
  massFractions: { 1: (2 * H_WEIGHT) / (2 * H_WEIGHT + O_WEIGHT), 8: O_WEIGHT / (2 * H_WEIGHT + O_WEIGHT) },
  iValueMeV: 75e-6,
  nominalDensityGPerCm3: 1,
  source: 'H2O; I = 75 eV and Sternheimer parameters of liquid water (ICRU 37; Sternheimer, Berger & Seltzer 1984)',
  densityEffect: { c: 3.5017, x0: 0.24, x1: 2.8004, a: 0.09116, m: 3.4773 },
};

/** Dry air near sea level (ICRU 37, as in NIST ESTAR): mass fractions, I = 85.7 eV, 1.20479e-3 g/cm^3. */
export const AIR: McMaterial = {
  name: 'air',
  massFractions: { 6: 0.000124, 7: 0.755268, 8: 0.231781, 18: 0.012827 },
  iValueMeV: 85.7e-6,
  nominalDensityGPerCm3: 1.20479e-3,
  source: 'ICRU Report 37 (1984), dry air near sea level (NIST ESTAR composition)',
};

const ICRU46 = 'ICRU Report 46 (1992) / Woodard & White 1986, Br J Radiol 59:1209';

/** Lung, adult, healthy, inflated (ICRU 46): tissue density 1.05 g/cm^3 (inflated lung 0.26 g/cm^3 as a whole). */
export const LUNG: McMaterial = tissue(
  'lung',
  { 1: 10.3, 6: 10.5, 7: 3.1, 8: 74.9, 11: 0.2, 15: 0.2, 16: 0.3, 17: 0.3, 19: 0.2 },
  0.26,
  `${ICRU46}: lung (adult, healthy, inflated)`,
);

/** Adipose tissue, adult no. 2 (ICRU 46), 0.95 g/cm^3. */
export const ADIPOSE: McMaterial = tissue(
  'adipose',
  { 1: 11.4, 6: 59.8, 7: 0.7, 8: 27.8, 11: 0.1, 16: 0.1, 17: 0.1 },
  0.95,
  `${ICRU46}: adipose tissue (adult no. 2)`,
);

/** Soft tissue of the engine: liver, adult, healthy (ICRU 46), 1.06 g/cm^3. */
export const SOFT_TISSUE: McMaterial = tissue(
  'soft-tissue (liver)',
  { 1: 10.2, 6: 13.9, 7: 3.0, 8: 71.6, 11: 0.2, 15: 0.3, 16: 0.3, 17: 0.2, 19: 0.3 },
  1.06,
  `${ICRU46}: liver (adult, healthy)`,
);

/** Skeleton, spongiosa (bone and marrow mixture; ICRU 46), 1.18 g/cm^3. */
export const SPONGIOSA: McMaterial = tissue(
  'spongiosa',
  { 1: 8.5, 6: 40.4, 7: 2.8, 8: 36.7, 11: 0.1, 12: 0.1, 15: 3.4, 16: 0.2, 17: 0.2, 19: 0.1, 20: 7.4, 26: 0.1 },
  1.18,
  `${ICRU46}: skeleton, spongiosa`,
);

/** Cortical bone (ICRU 46), 1.92 g/cm^3. */
export const CORTICAL_BONE: McMaterial = tissue(
  'cortical-bone',
  { 1: 3.4, 6: 15.5, 7: 4.2, 8: 43.5, 11: 0.1, 12: 0.2, 15: 10.3, 16: 0.3, 20: 22.5 },
  1.92,
  `${ICRU46}: cortical bone`,
);

/** The materials reached from CT numbers, in the order of {@link materialIndexForDensity}. */
export const CT_MATERIALS: readonly McMaterial[] = [AIR, LUNG, ADIPOSE, SOFT_TISSUE, SPONGIOSA, CORTICAL_BONE];

/**
 * Upper density bounds [g/mL] of the CT_MATERIALS intervals (last: none): HU −950, −120, −20, 120, 550 with
 * ρ = (HU + 1000)/1000 (reasons in the module header).
 */
export const CT_MATERIAL_UPPER_DENSITY_G_PER_ML: readonly number[] = [0.05, 0.88, 0.98, 1.12, 1.55];

/**
 * Tolerance of the interval boundaries [g/mL]: a density less than this below a boundary counts as on it, so that
 * a Float32 density map (1.55 is stored as 1.5499999523) assigns the same material as the HU it came from.
 */
const BOUNDARY_TOLERANCE_G_PER_ML = 1e-6;

/**
 * Index into CT_MATERIALS of the material of a voxel of density ρ [g/mL] (calibration ρ = (HU + 1000)/1000;
 * intervals in the module header; a boundary belongs to the upper interval, within 1e-6 g/mL = 0.001 HU).
 */
export function materialIndexForDensity(rhoGPerMl: number): number {
  const b = CT_MATERIAL_UPPER_DENSITY_G_PER_ML;
  for (let i = 0; i < b.length; i++) if (rhoGPerMl < b[i] - BOUNDARY_TOLERANCE_G_PER_ML) return i;
  return b.length;
}

/** Largest density the packed medium word accepts [g/mL]. */
export const MC_MAX_DENSITY_G_PER_ML = 16;

/**
 * Packs the media of a grid: one u32 per voxel, material index (into the returned `materials`, which is always all of
 * CT_MATERIALS so that the index is the same in every problem) in bits 24-31, density in bits 0-23 as
 * round(ρ / MC_DENSITY_UNIT). Negative densities (HU < −1000, reconstruction noise) are packed as 0 (air).
 * @param densityGPerMl one density for all voxels, or one per voxel [g/mL]
 * @param voxelCount number of voxels (must equal the array length when an array is given)
 * @throws InputError for NaN, densities above 16 g/mL or a length mismatch
 */
export function buildMedia(
  densityGPerMl: number | Float32Array,
  voxelCount: number,
): { media: Uint32Array; materials: McMaterial[]; voxelsPerMaterial: number[] } {
  if (!Number.isInteger(voxelCount) || voxelCount < 0) throw new InputError(`voxel count ${voxelCount} must be a non-negative integer`);
  if (typeof densityGPerMl !== 'number' && densityGPerMl.length !== voxelCount) {
    throw new InputError(`density array has ${densityGPerMl.length} values for ${voxelCount} voxels: give one density per voxel`);
  }
  const media = new Uint32Array(voxelCount);
  const voxelsPerMaterial = CT_MATERIALS.map(() => 0);
  for (let v = 0; v < voxelCount; v++) {
    const rho = typeof densityGPerMl === 'number' ? densityGPerMl : densityGPerMl[v];
    if (Number.isNaN(rho)) throw new InputError(`density of voxel ${v} is NaN: check the CT or density map (rho = (HU + 1000)/1000 g/mL)`);
    if (rho > MC_MAX_DENSITY_G_PER_ML) {
      throw new InputError(
        `density ${rho} g/mL of voxel ${v} exceeds ${MC_MAX_DENSITY_G_PER_ML} g/mL (HU ${Math.round(rho * 1000 - 1000)}): ` +
          'metal or a wrong CT rescale; fix the rescale slope/intercept or clip the CT',
      );
    }
    const r = Math.max(0, rho);
    const m = materialIndexForDensity(r);
    voxelsPerMaterial[m]++;
    media[v] = ((m << 24) | Math.round(r / MC_DENSITY_UNIT)) >>> 0;
  }
  return { media, materials: [...CT_MATERIALS], voxelsPerMaterial };
}

/** Decodes a packed medium word: material index and density [g/cm^3] (as both back ends do). */
export function decodeMedium(word: number): { material: number; densityGPerCm3: number } {
  return { material: word >>> 24, densityGPerCm3: (word & 0xffffff) * MC_DENSITY_UNIT };
}
