/**
 * One unit system inside the engine: mm, mL, g, s, Bq, Gy (J/kg). Conversions happen only at IO and display.
 * Nuclide constants follow ../shared/PHYSICS.md; every value is a named, documented parameter.
 */
import { InputError } from '../errors.ts';

export const BQ_PER_GBQ = 1e9;
export const BQ_PER_MBQ = 1e6;
export const SECONDS_PER_HOUR = 3600;
export const ML_PER_MM3 = 1e-3;
export const KG_PER_G = 1e-3;
export const JOULE_PER_MEV = 1.602176634e-13;

/** Supported therapeutic nuclides. */
export type Isotope = 'Y90' | 'Ho166';
export const ISOTOPES: readonly Isotope[] = ['Y90', 'Ho166'];

/** Physical data of a nuclide, in engine units. */
export interface NuclideData {
  readonly isotope: Isotope;
  /** Physical half-life [h]. 90Y: 64.05 h (ENSDF); 166Ho: 26.8 h. */
  readonly halfLifeH: number;
  /** Mean beta energy emitted per decay [MeV]. 90Y: 0.933; 166Ho: ~0.665. */
  readonly meanBetaEnergyMeV: number;
  /**
   * Local-deposition conversion factor [J/GBq]: energy released by 1 GBq decaying completely in place.
   * 90Y: 49.67 (EANM SOP); 166Ho: 15.87 (60 Gy ~ 3.78 GBq/kg). Source: ../shared/PHYSICS.md.
   */
  readonly ldmJoulePerGBq: number;
}

export const NUCLIDES: Readonly<Record<Isotope, NuclideData>> = {
  Y90: { isotope: 'Y90', halfLifeH: 64.05, meanBetaEnergyMeV: 0.933, ldmJoulePerGBq: 49.67 },
  Ho166: { isotope: 'Ho166', halfLifeH: 26.8, meanBetaEnergyMeV: 0.665, ldmJoulePerGBq: 15.87 },
};

/** Parses an isotope name as written by users (Y90, 90Y, Y-90, Ho166, 166Ho, Ho-166). */
export function parseIsotope(text: string): Isotope {
  const t = text.trim().toLowerCase().replace(/[-_\s]/g, '');
  if (t === 'y90' || t === '90y') return 'Y90';
  if (t === 'ho166' || t === '166ho') return 'Ho166';
  throw new InputError(`unknown isotope "${text}": use Y90 or Ho166`);
}

/** Decay constant [1/s] of a nuclide. */
export function decayConstantPerS(isotope: Isotope): number {
  return Math.LN2 / (NUCLIDES[isotope].halfLifeH * SECONDS_PER_HOUR);
}

/** Mean life tau = 1/lambda [s]: fully decayed activity A0 gives A0 x tau decays. */
export function meanLifeS(isotope: Isotope): number {
  return 1 / decayConstantPerS(isotope);
}

/**
 * Factor that carries an activity measured `delayH` hours after implant back to implant time: exp(lambda t).
 * Source: ../shared/PHYSICS.md (activity fully decayed in place, permanent implant).
 */
export function decayCorrectionToImplant(isotope: Isotope, delayH: number): number {
  if (!Number.isFinite(delayH)) throw new InputError(`scan delay ${delayH} h is not a number: give hours after implant`);
  return Math.exp(decayConstantPerS(isotope) * delayH * SECONDS_PER_HOUR);
}

/** Default densities [g/mL] (../shared/PHYSICS.md). */
export const DEFAULT_SOFT_TISSUE_DENSITY_G_PER_ML = 1.05;
export const DEFAULT_LUNG_DENSITY_G_PER_ML = 0.3;
/**
 * Density [g/mL] below which a CT voxel is air outside the body (HU < -950; aerated lung is -700 to -900 HU, 0.1-0.3
 * g/mL): activity imaged there (spill-over, misregistration) has no tissue to deposit in, so its dose is set to 0 and
 * the activity concerned is reported, instead of CF x A / rho with rho near 0 (values of 10^5 Gy and more).
 */
export const AIR_DENSITY_THRESHOLD_G_PER_ML = 0.05;
/** Default lung mass for closed-form lung dose [g] (../shared/PHYSICS.md: 1 kg). */
export const DEFAULT_LUNG_MASS_G = 1000;

/**
 * Local-deposition dose [Gy] from activity [GBq] and mass [g]: D = CF x A / M (../shared/PHYSICS.md).
 */
export function ldmDoseGy(isotope: Isotope, activityGBq: number, massG: number): number {
  return (NUCLIDES[isotope].ldmJoulePerGBq * activityGBq) / (massG * KG_PER_G);
}
