/**
 * Electron interaction data of liquid water (1 g/cm^3) for the condensed-history transport in ./transport.ts.
 * All energies are kinetic energies in MeV, lengths in cm, cross sections as inverse mean free paths in 1/cm.
 *
 * - Collision stopping power: Bethe formula for electrons with the Møller (exchange) term, ICRU Report 37 (1984),
 *   eq. 2.10 for the unrestricted and the Berger–Seltzer restricted form L_Δ (EGS4 manual, SLAC-265, eq. 2.13.13)
 *   for soft collisions below the delta-ray threshold; I = 75 eV; Sternheimer density-effect parameters of liquid
 *   water (Sternheimer, Berger & Seltzer 1984, At Data Nucl Data Tables 30:261): C = 3.5017, X0 = 0.24, X1 = 2.8004,
 *   a = 0.09116, m = 3.4773.
 * - Hard collisions (delta rays, energy transfer W > Wc): Møller cross section (Møller 1932; EGS4 manual eq. 2.12.2),
 *   emission angles from two-body kinematics.
 * - Radiative stopping power: Bethe–Heitler without screening, S_rad/ρ = (N_A/M) Σ Z(Z+1) α r_e^2 (T + mc^2) Φ,
 *   Φ = max(16/3, 4 ln(2 (T + mc^2)/mc^2) − 4/3) (Heitler 1954; Evans, The Atomic Nucleus, ch. 20); within ~2 % of
 *   ESTAR for water at 0.5–3 MeV, where it matters (it is < 1 % of the total stopping power there).
 * - Elastic scattering: screened Rutherford (Wentzel) cross section per atom, dσ/dμ = K /(μ + A)^2 with μ = (1 − cos θ)/2,
 *   K = π Z(Z+1) r_e^2 /(β^4 γ^2) (the "+1" accounts for scattering by atomic electrons, as in EGS), Molière's screening
 *   A = (ħ/(2 p a_TF))^2 (1.13 + 3.76 (αZ/β)^2), a_TF = 0.885 a0 Z^(−1/3) (Molière 1947; Bethe 1953), times the
 *   McKinley–Feshbach Mott factor R(μ) = 1 − β^2 μ + π α Z β sqrt(μ)(1 − sqrt(μ)) (McKinley & Feshbach 1948), which
 *   corrects the large-angle (spin) part that dominates the transport cross section (about −7 % at 1 MeV).
 */
import { ELECTRON_MASS_MEV, FINE_STRUCTURE } from './spectrum.ts';

/** Classical electron radius [cm] (CODATA 2018); also used by ../mc/electron-data.ts. */
export const R_E_CM = 2.8179403262e-13;
export const AVOGADRO = 6.02214076e23;
/** ħc [MeV cm]. */
const HBARC_MEV_CM = 1.973269804e-11;
/** Bohr radius [cm]. */
const BOHR_CM = 5.29177210903e-9;

const WATER_MOLAR_MASS = 18.01528;
const WATER_DENSITY_G_PER_CM3 = 1;
/** Molecules per cm^3 of water at 1 g/cm^3. */
const MOLECULES_PER_CM3 = (AVOGADRO / WATER_MOLAR_MASS) * WATER_DENSITY_G_PER_CM3;
const ELECTRONS_PER_CM3 = 10 * MOLECULES_PER_CM3;
/** Atoms of water: atomic number and number per molecule. */
const WATER_ATOMS: ReadonlyArray<{ z: number; perMolecule: number }> = [
  { z: 1, perMolecule: 2 },
  { z: 8, perMolecule: 1 },
];
/** Mean excitation energy of water [MeV] (ICRU 37). */
export const WATER_I_MEV = 75e-6;

/** Sternheimer density-effect correction δ of liquid water (parameters in the module header). */
export function densityEffect(tMeV: number): number {
  const tau = tMeV / ELECTRON_MASS_MEV;
  const x = Math.log10(Math.sqrt(tau * (tau + 2)));
  const C = 3.5017;
  const x0 = 0.24;
  const x1 = 2.8004;
  const a = 0.09116;
  const m = 3.4773;
  if (x < x0) return 0;
  if (x < x1) return 2 * Math.LN10 * x - C + a * (x1 - x) ** m;
  return 2 * Math.LN10 * x - C;
}

/**
 * Collision stopping power of water [MeV/cm] for electrons of kinetic energy T [MeV], restricted to energy
 * transfers below `cutoffMeV` (unrestricted when cutoffMeV >= T/2). Formula: module header (ICRU 37; EGS4).
 */
export function collisionStoppingMeVPerCm(tMeV: number, cutoffMeV = Infinity): number {
  const tau = tMeV / ELECTRON_MASS_MEV;
  const gamma = tau + 1;
  const beta2 = 1 - 1 / (gamma * gamma);
  const iRel = WATER_I_MEV / ELECTRON_MASS_MEV;
  const delta = densityEffect(tMeV);
  const d = Math.min(cutoffMeV / ELECTRON_MASS_MEV, tau / 2);
  const fMinus =
    -1 - beta2 + Math.log((tau - d) * d) + tau / (tau - d) + (d * d / 2 + (2 * tau + 1) * Math.log(1 - d / tau)) / (gamma * gamma);
  const bracket = Math.log((2 * (tau + 2)) / (iRel * iRel)) + fMinus - delta;
  const k = 2 * Math.PI * R_E_CM * R_E_CM * ELECTRON_MASS_MEV * ELECTRONS_PER_CM3;
  return Math.max(0, (k / beta2) * bracket);
}

/** Radiative stopping power of water [MeV/cm] (Bethe–Heitler, no screening; module header). */
export function radiativeStoppingMeVPerCm(tMeV: number): number {
  const w = (tMeV + ELECTRON_MASS_MEV) / ELECTRON_MASS_MEV;
  const phi = Math.max(16 / 3, 4 * Math.log(2 * w) - 4 / 3);
  let zz = 0;
  for (const a of WATER_ATOMS) zz += a.perMolecule * a.z * (a.z + 1);
  return MOLECULES_PER_CM3 * zz * FINE_STRUCTURE * R_E_CM * R_E_CM * (tMeV + ELECTRON_MASS_MEV) * phi;
}

/**
 * Inverse mean free path [1/cm] for Møller collisions that transfer more than `cutoffMeV` to an atomic electron
 * (the less energetic outgoing electron is the delta ray, W <= T/2). Analytic integral of the Møller cross section.
 */
export function mollerInverseMfpPerCm(tMeV: number, cutoffMeV: number): number {
  if (tMeV <= 2 * cutoffMeV) return 0;
  const tau = tMeV / ELECTRON_MASS_MEV;
  const gamma = tau + 1;
  const beta2 = 1 - 1 / (gamma * gamma);
  const e0 = cutoffMeV / tMeV;
  const c1 = (tau / gamma) ** 2;
  const c2 = (2 * tau + 1) / (gamma * gamma);
  const integral = 1 / e0 - 1 / (1 - e0) + c1 * (0.5 - e0) + c2 * Math.log(e0 / (1 - e0));
  return ((2 * Math.PI * R_E_CM * R_E_CM * ELECTRON_MASS_MEV * ELECTRONS_PER_CM3) / (beta2 * tMeV)) * integral;
}

/**
 * Samples the fractional energy transfer ε = W/T of a Møller collision with W in [cutoff, T/2] (1/ε^2 sampling and
 * rejection on the rest of the cross section; bound 2.25).
 */
export function sampleMollerFraction(tMeV: number, cutoffMeV: number, rand: () => number): number {
  const tau = tMeV / ELECTRON_MASS_MEV;
  const gamma = tau + 1;
  const c1 = (tau / gamma) ** 2;
  const c2 = (2 * tau + 1) / (gamma * gamma);
  const e0 = cutoffMeV / tMeV;
  for (;;) {
    const e = e0 / (1 - rand() * (1 - 2 * e0));
    const r = e / (1 - e);
    const g = 1 + r * r + c1 * e * e - c2 * r;
    if (rand() * 2.25 <= g) return e;
  }
}

/** Wentzel parameters of one atom at kinetic energy T: K [cm^2], screening A, Mott coefficient c = π α Z β, β^2. */
export function wentzelParameters(tMeV: number, z: number): { kCm2: number; screening: number; mottC: number; beta2: number } {
  const tau = tMeV / ELECTRON_MASS_MEV;
  const gamma = tau + 1;
  const beta2 = 1 - 1 / (gamma * gamma);
  const pc = Math.sqrt(tMeV * (tMeV + 2 * ELECTRON_MASS_MEV));
  const aTF = 0.885 * BOHR_CM * Math.cbrt(z) ** -1;
  const chi0 = HBARC_MEV_CM / (pc * aTF);
  const az = FINE_STRUCTURE * z;
  const screening = 0.25 * chi0 * chi0 * (1.13 + (3.76 * az * az) / beta2);
  const kCm2 = (Math.PI * z * (z + 1) * R_E_CM * R_E_CM) / (beta2 * beta2 * gamma * gamma);
  return { kCm2, screening, mottC: Math.PI * az * Math.sqrt(beta2), beta2 };
}

/** McKinley–Feshbach factor R(μ) (module header). */
export function mottFactor(mu: number, beta2: number, mottC: number): number {
  const s = Math.sqrt(mu);
  return 1 - beta2 * mu + mottC * s * (1 - s);
}

/** ∫_0^muMax 2μ R(μ)/(μ + A)^2 dμ by Simpson's rule in u = ln(μ + A) (smooth integrand). */
export function transportIntegral(muMax: number, screening: number, beta2: number, mottC: number): number {
  if (muMax <= 0) return 0;
  const n = 256;
  const u0 = Math.log(screening);
  const u1 = Math.log(muMax + screening);
  const h = (u1 - u0) / n;
  let sum = 0;
  for (let i = 0; i <= n; i++) {
    const x = Math.exp(u0 + i * h);
    const mu = Math.max(0, x - screening);
    const f = (2 * mu * mottFactor(mu, beta2, mottC)) / x;
    sum += (i === 0 || i === n ? 1 : i % 2 === 1 ? 4 : 2) * f;
  }
  return (sum * h) / 3;
}

/** Elastic scattering data of water at one energy for the mixed (hard/soft) simulation. */
export interface ElasticData {
  /** Angular cutoff μc separating soft (lumped) from hard (individual) events. */
  readonly muCut: number;
  /** Per atom species: thinned hard-event rate [1/cm] (Wentzel rate above μc times max R), A, Mott coefficient. */
  readonly atoms: ReadonlyArray<{ rate: number; screening: number; mottC: number; rMax: number }>;
  /** β^2 of the electron. */
  readonly beta2: number;
  /** Soft transport inverse mean free path [1/cm]: N ∫_0^μc 2μ dσ (so <1 − cos θ> = 1 − exp(−s × this)). */
  readonly softTransportPerCm: number;
  /** Full first transport inverse mean free path [1/cm] (for reporting and tests). */
  readonly transportPerCm: number;
}

/**
 * Elastic data for the mixed scheme of Baró et al. 1995 (PENELOPE; Nucl Instrum Meth B 100:31): the hard mean free
 * path is λh = max(λel, C1 λ1); deflections below μc are lumped into one soft deflection per step with the exact
 * first moment. `c1` as in PENELOPE (0.05 by default).
 */
export function elasticData(tMeV: number, c1 = 0.05): ElasticData {
  const per = WATER_ATOMS.map((a) => ({ n: a.perMolecule * MOLECULES_PER_CM3, ...wentzelParameters(tMeV, a.z) }));
  let totalWentzel = 0;
  let transport = 0;
  for (const a of per) {
    totalWentzel += a.n * a.kCm2 * (1 / a.screening - 1 / (1 + a.screening));
    transport += a.n * a.kCm2 * transportIntegral(1, a.screening, a.beta2, a.mottC);
  }
  const target = Math.min(totalWentzel, transport / c1); // hard inverse mfp = 1/max(λel, C1 λ1)
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
  const atoms = per.map((a) => {
    soft += a.n * a.kCm2 * transportIntegral(muCut, a.screening, a.beta2, a.mottC);
    const rMax = 1 + a.mottC / 4;
    return { rate: a.n * a.kCm2 * (1 / (muCut + a.screening) - 1 / (1 + a.screening)) * rMax, screening: a.screening, mottC: a.mottC, rMax };
  });
  return { muCut, atoms, beta2: per[0].beta2, softTransportPerCm: soft, transportPerCm: transport };
}
