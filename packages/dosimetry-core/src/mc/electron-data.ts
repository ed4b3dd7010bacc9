/**
 * Electron interaction data of any material (mass fractions by element, I-value, nominal density) for the voxel Monte
 * Carlo: the physics of ../kernel/water.ts generalised from water to a mixture. All quantities are per density
 * (mass quantities): stopping powers in MeV cm^2/g, inverse mean free paths in cm^2/g, ranges in g/cm^2; energies
 * are kinetic energies in MeV. At 1 g/cm^3 the numbers equal the per-cm values of ../kernel/water.ts.
 *
 * - Collision stopping power: Bethe formula for electrons (ICRU Report 37, eq. 2.10) and its restricted form L_Δ
 *   (Berger–Seltzer, EGS4 manual SLAC-265 eq. 2.13.13) with the material's electron density n_e = N_A Σ w_Z Z / A_Z
 *   and I-value. Density effect: the material's tabulated Sternheimer parameters when it carries them (water: those
 *   of ../kernel/water.ts, Sternheimer, Berger & Seltzer 1984), otherwise the general parameters of Sternheimer &
 *   Peierls 1971 (Phys Rev B 3:3681) computed from I and the nominal density: ħω_p = 28.816 sqrt(ρ <Z/A>) eV,
 *   C̄ = 2 ln(I/ħω_p) + 1, m = 3, x0 and x1 from the condensed-medium or gas rules (gas: ρ < 0.01 g/cm^3),
 *   a = (C̄ − 2 ln10 x0)/(x1 − x0)^3.
 * - Møller inverse mean free path above Wc: ../kernel/water.ts with the material's electron density.
 * - Radiative stopping power: Bethe–Heitler without screening as ../kernel/water.ts, Σ over elements of
 *   (N_A w_Z / A_Z) Z(Z+1). Its split at the photon threshold kc uses the photon-energy shape
 *   f(k) ∝ (1/k)[1 + (1 − x)^2 − (2/3)(1 − x)], x = k/(T + mc^2), normalised so that ∫_0^T k f(k) dk = S_rad:
 *   the soft part (k < kc) is a continuous loss, ∫_kc^T f(k) dk is the bremsstrahlung inverse mean free path. Both
 *   integrals are analytic (G and H below).
 * - Elastic scattering: per element the Wentzel–Mott cross section of ../kernel/water.ts (wentzelParameters,
 *   mottFactor); the mixture's cut μc by PENELOPE's rule λh = max(λel, C1 λ1), C1 = 0.05 (Baró et al. 1995); the soft
 *   first transport inverse mean free path below μc exact for the mixture. APPROXIMATION for the hard events: one
 *   effective species per material, whose screening A and Mott coefficient c are the means over the elements weighted
 *   by their hard (μ > μc) Wentzel rates; the hard rate is the sum of the elements' Wentzel rates times the thinning
 *   bound 1 + c_eff/4. The angular distribution of hard events is therefore that of one screened-Rutherford species
 *   with a mean A and c. Measured (test/mc/physics-data.test.ts): the hard first-transport cross section this
 *   sampling gives equals the exact mixture's within 1e-4 for soft tissue and cortical bone at 0.05-2 MeV, because μc
 *   is 200-300 times A, so the shape above μc hardly depends on A (the per-element A differ by Z^(2/3)).
 * - CSDA range with the restricted stopping power (soft collisions + soft radiation): ∫ dT / S_restricted by the
 *   trapezoidal rule in ln T on the table grid refined 8 times; below 1 keV, T / S(1 keV).
 */
import { InputError } from '../errors.ts';
import { ELECTRON_MASS_MEV, FINE_STRUCTURE } from '../kernel/spectrum.ts';
import { AVOGADRO, R_E_CM, transportIntegral, wentzelParameters } from '../kernel/water.ts';
import type { McCutoffs, McMaterial, SternheimerParameters } from './types.ts';
import { MC_TABLE_MIN_MEV } from './types.ts';

/**
 * Standard atomic weights [g/mol] of the elements of the materials (IUPAC 2001/2005 values as used by NIST's ESTAR and
 * XCOM; H and O are the values that make water 18.01528 g/mol as in ../kernel/water.ts).
 */
export const ATOMIC_WEIGHT: Readonly<Record<number, number>> = {
  1: 1.00794,
  6: 12.0107,
  7: 14.0067,
  8: 15.9994,
  11: 22.98977,
  12: 24.305,
  15: 30.973761,
  16: 32.065,
  17: 35.453,
  18: 39.948,
  19: 39.0983,
  20: 40.078,
  26: 55.845,
  30: 65.409,
};

/** One element of a prepared material. */
export interface PreparedElement {
  readonly z: number;
  readonly massFraction: number;
  /** Atoms per gram of material. */
  readonly atomsPerGram: number;
}

/** A material with the derived quantities the formulas need (cached per McMaterial object). */
export interface PreparedMaterial {
  readonly material: McMaterial;
  readonly elements: readonly PreparedElement[];
  /** Electrons per gram. */
  readonly electronsPerGram: number;
  /** Σ atoms per gram × Z(Z+1) (bremsstrahlung and elastic scale). */
  readonly zzPerGram: number;
  readonly densityEffect: SternheimerParameters;
}

const prepared = new WeakMap<McMaterial, PreparedMaterial>();

/**
 * General Sternheimer–Peierls 1971 density-effect parameters from the I-value [MeV], the nominal density [g/cm^3] and
 * <Z/A> [mol/g] (rules in the module header).
 */
export function sternheimerPeierlsParameters(iValueMeV: number, densityGPerCm3: number, zOverA: number): SternheimerParameters {
  const plasmaEv = 28.816 * Math.sqrt(densityGPerCm3 * zOverA);
  const iEv = iValueMeV * 1e6;
  const c = 2 * Math.log(iEv / plasmaEv) + 1;
  let x0: number;
  let x1: number;
  if (densityGPerCm3 >= 0.01) {
    // condensed media
    if (iEv < 100) {
      x1 = 2;
      x0 = c < 3.681 ? 0.2 : 0.326 * c - 1;
    } else {
      x1 = 3;
      x0 = c < 5.215 ? 0.2 : 0.326 * c - 1.5;
    }
  } else {
    // gases
    x1 = 4;
    if (c < 10) x0 = 1.6;
    else if (c < 10.5) x0 = 1.7;
    else if (c < 11) x0 = 1.8;
    else if (c < 11.5) x0 = 1.9;
    else if (c < 12.25) x0 = 2;
    else if (c < 13.804) {
      x0 = 2;
      x1 = 5;
    } else {
      x0 = 0.326 * c - 2.5;
      x1 = 5;
    }
  }
  const m = 3;
  const a = (c - 2 * Math.LN10 * x0) / (x1 - x0) ** m;
  return { c, x0, x1, a, m };
}

/** Derived quantities of a material (electron density, atoms per gram, density-effect parameters); cached. */
export function prepareMaterial(material: McMaterial): PreparedMaterial {
  const hit = prepared.get(material);
  if (hit) return hit;
  const elements: PreparedElement[] = [];
  let electrons = 0;
  let zz = 0;
  let zOverA = 0;
  for (const [zText, w] of Object.entries(material.massFractions)) {
    const z = Number(zText);
    const aW = ATOMIC_WEIGHT[z];
    if (aW === undefined) throw new InputError(`no atomic weight for Z = ${z} in material ${material.name}: add it to ATOMIC_WEIGHT`);
    if (w < 0 || !Number.isFinite(w)) throw new InputError(`mass fraction ${w} of Z = ${z} in material ${material.name} is not a fraction >= 0`);
    if (w === 0) continue;
    const atomsPerGram = (AVOGADRO * w) / aW;
    elements.push({ z, massFraction: w, atomsPerGram });
    electrons += atomsPerGram * z;
    zz += atomsPerGram * z * (z + 1);
    zOverA += (w * z) / aW;
  }
  const sum = elements.reduce((s, e) => s + e.massFraction, 0);
  if (!(Math.abs(sum - 1) < 1e-3)) {
    throw new InputError(`mass fractions of material ${material.name} sum to ${sum}, not 1: check its composition`);
  }
  const densityEffect =
    material.densityEffect ?? sternheimerPeierlsParameters(material.iValueMeV, material.nominalDensityGPerCm3, zOverA);
  const p: PreparedMaterial = { material, elements, electronsPerGram: electrons, zzPerGram: zz, densityEffect };
  prepared.set(material, p);
  return p;
}

/** Density-effect correction δ at kinetic energy T [MeV] (Sternheimer form, parameters of the material). */
export function densityEffectDelta(material: McMaterial, tMeV: number): number {
  const { c, x0, x1, a, m } = prepareMaterial(material).densityEffect;
  const tau = tMeV / ELECTRON_MASS_MEV;
  const x = Math.log10(Math.sqrt(tau * (tau + 2)));
  if (x < x0) return 0;
  if (x < x1) return 2 * Math.LN10 * x - c + a * (x1 - x) ** m;
  return 2 * Math.LN10 * x - c;
}

/**
 * Mass collision stopping power [MeV cm^2/g] at kinetic energy T [MeV], restricted to energy transfers below
 * `cutoffMeV` (unrestricted when cutoffMeV >= T/2). ICRU 37 / EGS4 (module header).
 */
export function collisionStoppingMass(material: McMaterial, tMeV: number, cutoffMeV = Infinity): number {
  const p = prepareMaterial(material);
  const tau = tMeV / ELECTRON_MASS_MEV;
  const gamma = tau + 1;
  const beta2 = 1 - 1 / (gamma * gamma);
  const iRel = material.iValueMeV / ELECTRON_MASS_MEV;
  const delta = densityEffectDelta(material, tMeV);
  const d = Math.min(cutoffMeV / ELECTRON_MASS_MEV, tau / 2);
  const fMinus =
    -1 - beta2 + Math.log((tau - d) * d) + tau / (tau - d) + (d * d / 2 + (2 * tau + 1) * Math.log(1 - d / tau)) / (gamma * gamma);
  const bracket = Math.log((2 * (tau + 2)) / (iRel * iRel)) + fMinus - delta;
  const k = 2 * Math.PI * R_E_CM * R_E_CM * ELECTRON_MASS_MEV * p.electronsPerGram;
  return Math.max(0, (k / beta2) * bracket);
}

/** Mass radiative stopping power [MeV cm^2/g] (Bethe–Heitler without screening; module header). */
export function radiativeStoppingMass(material: McMaterial, tMeV: number): number {
  const p = prepareMaterial(material);
  const w = (tMeV + ELECTRON_MASS_MEV) / ELECTRON_MASS_MEV;
  const phi = Math.max(16 / 3, 4 * Math.log(2 * w) - 4 / 3);
  return p.zzPerGram * FINE_STRUCTURE * R_E_CM * R_E_CM * (tMeV + ELECTRON_MASS_MEV) * phi;
}

/** G(x) = ∫_0^x g(x') dx' with g(x) = 1 + (1 − x)^2 − (2/3)(1 − x): the energy moment of the photon shape. */
function shapeEnergyIntegral(x: number): number {
  const y = 1 - x;
  return x + (1 - y * y * y) / 3 - (1 - y * y) / 3;
}

/** H(x0, x1) = ∫_x0^x1 g(x)/x dx = (4/3) ln(x1/x0) − (4/3)(x1 − x0) + (x1^2 − x0^2)/2. */
function shapeNumberIntegral(x0: number, x1: number): number {
  return (4 / 3) * Math.log(x1 / x0) - (4 / 3) * (x1 - x0) + (x1 * x1 - x0 * x0) / 2;
}

/**
 * Soft part of the radiative stopping power [MeV cm^2/g]: energy per path length carried by photons below kc
 * (all of it when T <= kc). Shape and normalisation: module header.
 */
export function softRadiativeStoppingMass(material: McMaterial, tMeV: number, kcMeV: number): number {
  const sRad = radiativeStoppingMass(material, tMeV);
  if (tMeV <= kcMeV) return sRad;
  const total = tMeV + ELECTRON_MASS_MEV;
  return (sRad * shapeEnergyIntegral(kcMeV / total)) / shapeEnergyIntegral(tMeV / total);
}

/** Bremsstrahlung inverse mean free path per density [cm^2/g] for photons of kc < k < T (0 when T <= kc). */
export function bremsInverseMfpMass(material: McMaterial, tMeV: number, kcMeV: number): number {
  if (tMeV <= kcMeV) return 0;
  const sRad = radiativeStoppingMass(material, tMeV);
  const total = tMeV + ELECTRON_MASS_MEV;
  const xm = tMeV / total;
  // f(k) = N g(k/E)/k with N E G(xm) = S_rad; ∫_kc^T f dk = N H(xc, xm)
  const norm = sRad / (total * shapeEnergyIntegral(xm));
  return norm * shapeNumberIntegral(kcMeV / total, xm);
}

/**
 * Møller inverse mean free path per density [cm^2/g] for energy transfers above `cutoffMeV` (0 when T <= 2 Wc);
 * analytic integral as ../kernel/water.ts mollerInverseMfpPerCm.
 */
export function mollerInverseMfpMass(material: McMaterial, tMeV: number, cutoffMeV: number): number {
  if (tMeV <= 2 * cutoffMeV) return 0;
  const p = prepareMaterial(material);
  const tau = tMeV / ELECTRON_MASS_MEV;
  const gamma = tau + 1;
  const beta2 = 1 - 1 / (gamma * gamma);
  const e0 = cutoffMeV / tMeV;
  const c1 = (tau / gamma) ** 2;
  const c2 = (2 * tau + 1) / (gamma * gamma);
  const integral = 1 / e0 - 1 / (1 - e0) + c1 * (0.5 - e0) + c2 * Math.log(e0 / (1 - e0));
  return ((2 * Math.PI * R_E_CM * R_E_CM * ELECTRON_MASS_MEV * p.electronsPerGram) / (beta2 * tMeV)) * integral;
}

/**
 * Restricted (continuous-loss) stopping power of the class II scheme [MeV cm^2/g]: collisions below Wc plus
 * radiation below kc.
 */
export function restrictedStoppingMass(material: McMaterial, tMeV: number, cutoffs: McCutoffs): number {
  return (
    collisionStoppingMass(material, tMeV, cutoffs.deltaThresholdMeV) +
    softRadiativeStoppingMass(material, tMeV, cutoffs.bremsThresholdMeV)
  );
}

/** Elastic data of a material at one energy for the mixed scheme (per density). */
export interface ElasticMixtureData {
  /** Angular cut μc (μ = (1 − cos θ)/2) between soft and hard events. */
  readonly muCut: number;
  /** Hard event rate per density thinned by 1 + c_eff/4 [cm^2/g]. */
  readonly hardRateMass: number;
  /** Sum of the elements' Wentzel rates above μc (not thinned) [cm^2/g]. */
  readonly wentzelHardRateMass: number;
  /** Effective screening A (hard-rate-weighted mean over the elements). */
  readonly screening: number;
  /** Effective McKinley–Feshbach coefficient c (hard-rate-weighted mean). */
  readonly mottC: number;
  readonly beta2: number;
  /** Soft first transport inverse mean free path per density [cm^2/g] (exact for the mixture). */
  readonly softTransportMass: number;
  /** Full first transport inverse mean free path per density [cm^2/g]. */
  readonly transportMass: number;
  /** Total Wentzel (no Mott factor) inverse mean free path per density [cm^2/g]. */
  readonly totalWentzelMass: number;
}

/**
 * Elastic data of a material at kinetic energy T [MeV] for PENELOPE's mixed scheme (module header; the rule and the
 * bisection for μc are those of ../kernel/water.ts elasticData).
 */
export function elasticMixture(material: McMaterial, tMeV: number, c1 = 0.05): ElasticMixtureData {
  const p = prepareMaterial(material);
  const per = p.elements.map((e) => ({ n: e.atomsPerGram, ...wentzelParameters(tMeV, e.z) }));
  let totalWentzel = 0;
  let transport = 0;
  for (const a of per) {
    totalWentzel += a.n * a.kCm2 * (1 / a.screening - 1 / (1 + a.screening));
    transport += a.n * a.kCm2 * transportIntegral(1, a.screening, a.beta2, a.mottC);
  }
  const target = Math.min(totalWentzel, transport / c1);
  const hardRate = (mu: number) => per.reduce((s, a) => s + a.n * a.kCm2 * (1 / (mu + a.screening) - 1 / (1 + a.screening)), 0);
  let lo = 0;
  let hi = 1;
  if (hardRate(0) <= target) hi = 0;
  else {
    for (let it = 0; it < 100; it++) {
      const mid = 0.5 * (lo + hi);
      if (hardRate(mid) > target) lo = mid;
      else hi = mid;
    }
  }
  const muCut = hi;
  let soft = 0;
  let rateSum = 0;
  let aSum = 0;
  let cSum = 0;
  for (const a of per) {
    soft += a.n * a.kCm2 * transportIntegral(muCut, a.screening, a.beta2, a.mottC);
    const r = a.n * a.kCm2 * (1 / (muCut + a.screening) - 1 / (1 + a.screening));
    rateSum += r;
    aSum += r * a.screening;
    cSum += r * a.mottC;
  }
  const screening = rateSum > 0 ? aSum / rateSum : per[0].screening;
  const mottC = rateSum > 0 ? cSum / rateSum : per[0].mottC;
  return {
    muCut,
    hardRateMass: rateSum * (1 + mottC / 4),
    wentzelHardRateMass: rateSum,
    screening,
    mottC,
    beta2: per[0].beta2,
    softTransportMass: soft,
    transportMass: transport,
    totalWentzelMass: totalWentzel,
  };
}

/**
 * CSDA range with the restricted stopping power [g/cm^2] on the log grid E_i = exp(lnMin + i dLn), i < n: trapezoid in
 * ln T on the grid refined `refine` times; the range at the first grid energy E_0 (>= 1 keV) is the range down to
 * 1 keV (same rule) plus 1 keV / S(1 keV).
 */
export function csdaRangeOnGrid(
  material: McMaterial,
  cutoffs: McCutoffs,
  lnMin: number,
  dLn: number,
  n: number,
  refine = 8,
): Float64Array {
  const eMin = MC_TABLE_MIN_MEV;
  const integrand = (lnE: number) => {
    const e = Math.exp(lnE);
    return e / restrictedStoppingMass(material, e, cutoffs);
  };
  const segment = (lnA: number, lnB: number) => {
    if (lnB <= lnA) return 0;
    const m = Math.max(1, Math.ceil(((lnB - lnA) / dLn) * refine - 1e-9));
    const h = (lnB - lnA) / m;
    let s = 0.5 * (integrand(lnA) + integrand(lnB));
    for (let k = 1; k < m; k++) s += integrand(lnA + k * h);
    return s * h;
  };
  const out = new Float64Array(n);
  out[0] = eMin / restrictedStoppingMass(material, eMin, cutoffs) + segment(Math.log(eMin), lnMin);
  for (let i = 1; i < n; i++) out[i] = out[i - 1] + segment(lnMin + (i - 1) * dLn, lnMin + i * dLn);
  return out;
}
