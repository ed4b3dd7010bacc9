/**
 * Beta spectra of 90Y and 166Ho from Fermi theory.
 *
 *   N(W) dW ∝ F(Z, W) p W q^2 C(W) dW            W = 1 + T/mc^2 (total energy), p = sqrt(W^2 - 1), q = W0 - W
 *
 * F(Z, W) is the relativistic Fermi function for a uniformly charged nucleus of radius R (Konopinski 1966;
 * Behrens & Jänecke, Landolt-Börnstein I/4, eq. for F0 with the point-to-finite-size factor (2pR)^(2γ-2)):
 *
 *   F = 2 (1 + γ) (2 p R)^(2γ - 2) exp(π η) |Γ(γ + iη)|^2 / Γ(2γ + 1)^2,   γ = sqrt(1 - (αZ)^2), η = αZ W / p
 *
 * with Z the daughter's charge and R = 1.2 A^(1/3) fm in units of the reduced Compton wavelength (386.16 fm).
 * Shape factors C(W): allowed (and non-unique first-forbidden in the ξ approximation) C = 1; unique first-forbidden
 * C = q^2 + λ2 p^2 with λ2 = F1/F0 from the generalised Fermi functions (Behrens & Jänecke 1969):
 *
 *   F_(k-1) = 4^(k-1) 2k (k + γk) [(2k-1)!!]^2 (2pR)^(2(γk - k)) exp(πη) |Γ(γk + iη)|^2 / Γ(2γk + 1)^2,
 *   γk = sqrt(k^2 - (αZ)^2)                                   (F0 is the Fermi function above; both -> 1 as Z -> 0)
 *
 * With it the 90Y mean energy is 0.9337 MeV (ICRU 56 / MIRD: 0.9337); λ2 = 1 would give 0.947 MeV.
 *
 * Decay data (ENSDF): 90Y -> 90Zr (Z = 40), 2-  -> 0+ ground state, unique first-forbidden, endpoint 2280.1 keV,
 * 99.98 % (the 0.017 % branch to the 1761 keV level is omitted). 166Ho -> 166Er (Z = 68): 0- -> 0+ ground state,
 * endpoint 1854.7 keV (non-unique first-forbidden: allowed shape), and 0- -> 2+ (80.6 keV level), endpoint 1774.1 keV
 * (unique first-forbidden); intensities 50.0 % and 48.7 % as in ../shared/PHYSICS.md (ENSDF evaluations list the two
 * numbers in either order; the mean energy changes by < 0.1 %). The 1.3 % of 166Ho decays to higher levels (endpoints
 * below 0.5 MeV), the 80.6 keV conversion and Auger electrons and all photons are not part of the beta spectrum.
 */
import type { Isotope } from '../units/index.ts';

/** Electron rest energy [MeV] (CODATA 2018). */
export const ELECTRON_MASS_MEV = 0.51099895;
/** Fine-structure constant (CODATA 2018). */
export const FINE_STRUCTURE = 1 / 137.035999084;
/** Reduced Compton wavelength of the electron [fm]. */
const REDUCED_COMPTON_FM = 386.15926796;

/** One beta branch. */
export interface BetaBranch {
  /** Endpoint (maximum kinetic) energy [MeV]. */
  readonly endpointMeV: number;
  /** Branch intensity [beta particles per decay]. */
  readonly intensityPerDecay: number;
  /** Spectrum shape factor. */
  readonly shape: 'allowed' | 'unique-first-forbidden';
}

/** Beta-decay data of a nuclide: daughter charge, mass number, branches (sources in the module header). */
export interface BetaEmitterData {
  readonly isotope: Isotope;
  /** Atomic number of the daughter nucleus (Coulomb field felt by the electron). */
  readonly daughterZ: number;
  readonly massNumber: number;
  readonly branches: readonly BetaBranch[];
}

export const BETA_EMITTERS: Readonly<Record<Isotope, BetaEmitterData>> = {
  Y90: {
    isotope: 'Y90',
    daughterZ: 40,
    massNumber: 90,
    branches: [{ endpointMeV: 2.2801, intensityPerDecay: 0.99983, shape: 'unique-first-forbidden' }],
  },
  Ho166: {
    isotope: 'Ho166',
    daughterZ: 68,
    massNumber: 166,
    branches: [
      { endpointMeV: 1.8547, intensityPerDecay: 0.5, shape: 'allowed' },
      { endpointMeV: 1.7741, intensityPerDecay: 0.487, shape: 'unique-first-forbidden' },
    ],
  },
};

// Lanczos approximation (g = 7, n = 9), valid for Re z >= 0.5; accurate to ~1e-15.
const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];

/** ln|Γ(x + iy)| for x >= 0.5 (Lanczos approximation, complex argument). */
export function lnAbsGamma(x: number, y: number): number {
  const zr = x - 1;
  let sr = LANCZOS[0];
  let si = 0;
  for (let k = 1; k < 9; k++) {
    const dr = zr + k;
    const den = dr * dr + y * y;
    sr += (LANCZOS[k] * dr) / den;
    si -= (LANCZOS[k] * y) / den;
  }
  const tr = zr + 7.5;
  // Re[(z' + 0.5) ln t] with t = tr + i y
  const lnAbsT = 0.5 * Math.log(tr * tr + y * y);
  const argT = Math.atan2(y, tr);
  const re = (zr + 0.5) * lnAbsT - y * argT;
  return 0.5 * Math.log(2 * Math.PI) + re - tr + 0.5 * Math.log(sr * sr + si * si);
}

/**
 * Relativistic Fermi function F(Z, W) with the finite-size factor (2pR)^(2γ-2) (formula in the module header).
 * @param daughterZ atomic number of the daughter
 * @param totalEnergy W, total electron energy in units of mc^2 (> 1)
 * @param radius nuclear radius in units of the reduced Compton wavelength
 */
export function fermiFunction(daughterZ: number, totalEnergy: number, radius: number): number {
  return generalizedFermiFunction(1, daughterZ, totalEnergy, radius);
}

/**
 * Generalised Fermi function F_(k-1)(Z, W) for k = 1 (F0, the Fermi function) or k = 2 (F1), Behrens & Jänecke 1969
 * (formula in the module header). Arguments as {@link fermiFunction}.
 */
export function generalizedFermiFunction(k: 1 | 2, daughterZ: number, totalEnergy: number, radius: number): number {
  const aZ = FINE_STRUCTURE * daughterZ;
  const g = Math.sqrt(k * k - aZ * aZ);
  const p = Math.sqrt(totalEnergy * totalEnergy - 1);
  const eta = (aZ * totalEnergy) / p;
  const doubleFactorial = k === 1 ? 1 : 3;
  const lnF =
    Math.log(4 ** (k - 1) * 2 * k * (k + g) * doubleFactorial * doubleFactorial) +
    (2 * g - 2 * k) * Math.log(2 * p * radius) +
    Math.PI * eta +
    2 * lnAbsGamma(g, eta) -
    2 * lnAbsGamma(2 * g + 1, 0);
  return Math.exp(lnF);
}

/** A tabulated beta spectrum per decay. */
export interface BetaSpectrum {
  readonly isotope: Isotope;
  /** Kinetic energies of the grid [MeV], from 0 to the largest endpoint. */
  readonly energyMeV: Float64Array;
  /** Emission density [betas per decay per MeV] on the grid (sum of branches). */
  readonly densityPerMeV: Float64Array;
  /** Betas per decay (sum of the branch intensities). */
  readonly betasPerDecay: number;
  /** Mean kinetic energy per decay [MeV] (integral of T N(T) dT). */
  readonly meanEnergyPerDecayMeV: number;
  /** Mean kinetic energy per beta [MeV]. */
  readonly meanEnergyPerBetaMeV: number;
  /** Largest endpoint [MeV]. */
  readonly maxEnergyMeV: number;
}

/** Un-normalised spectrum shape dN/dT of one branch at kinetic energy T [MeV]. */
function branchShape(data: BetaEmitterData, branch: BetaBranch, tMeV: number): number {
  if (tMeV <= 0 || tMeV >= branch.endpointMeV) return 0;
  const w = 1 + tMeV / ELECTRON_MASS_MEV;
  const w0 = 1 + branch.endpointMeV / ELECTRON_MASS_MEV;
  const p = Math.sqrt(w * w - 1);
  const q = w0 - w;
  const radius = (1.2 * Math.cbrt(data.massNumber)) / REDUCED_COMPTON_FM;
  const f0 = fermiFunction(data.daughterZ, w, radius);
  const shape = branch.shape === 'allowed' ? 1 : q * q + (generalizedFermiFunction(2, data.daughterZ, w, radius) / f0) * p * p;
  return f0 * p * w * q * q * shape;
}

/**
 * Beta spectrum of a nuclide tabulated on `points` energies (default 4001), each branch normalised to its
 * intensity by Simpson's rule. Source of the physics: module header.
 */
export function betaSpectrum(isotope: Isotope, points = 4001): BetaSpectrum {
  const data = BETA_EMITTERS[isotope];
  const maxE = Math.max(...data.branches.map((b) => b.endpointMeV));
  const n = points % 2 === 1 ? points : points + 1;
  const energy = new Float64Array(n);
  const density = new Float64Array(n);
  const h = maxE / (n - 1);
  for (let i = 0; i < n; i++) energy[i] = i * h;
  let meanPerDecay = 0;
  let betas = 0;
  for (const b of data.branches) {
    const shape = new Float64Array(n);
    for (let i = 0; i < n; i++) shape[i] = branchShape(data, b, energy[i]);
    let norm = 0;
    let first = 0;
    for (let i = 0; i < n; i++) {
      const wS = i === 0 || i === n - 1 ? 1 : i % 2 === 1 ? 4 : 2;
      norm += wS * shape[i];
      first += wS * shape[i] * energy[i];
    }
    norm *= h / 3;
    first *= h / 3;
    for (let i = 0; i < n; i++) density[i] += (b.intensityPerDecay * shape[i]) / norm;
    meanPerDecay += (b.intensityPerDecay * first) / norm;
    betas += b.intensityPerDecay;
  }
  return {
    isotope,
    energyMeV: energy,
    densityPerMeV: density,
    betasPerDecay: betas,
    meanEnergyPerDecayMeV: meanPerDecay,
    meanEnergyPerBetaMeV: meanPerDecay / betas,
    maxEnergyMeV: maxE,
  };
}

/**
 * Inverse-CDF sampler of a spectrum's kinetic energy per beta [MeV] (trapezoidal CDF, linear inversion).
 * @returns a function of a uniform deviate u in [0, 1) giving an energy [MeV]
 */
export function spectrumSampler(s: BetaSpectrum): (u: number) => number {
  const n = s.energyMeV.length;
  const cdf = new Float64Array(n);
  for (let i = 1; i < n; i++) {
    cdf[i] = cdf[i - 1] + 0.5 * (s.densityPerMeV[i] + s.densityPerMeV[i - 1]) * (s.energyMeV[i] - s.energyMeV[i - 1]);
  }
  const total = cdf[n - 1];
  for (let i = 0; i < n; i++) cdf[i] /= total;
  return (u: number) => {
    let lo = 0;
    let hi = n - 1;
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid] <= u) lo = mid;
      else hi = mid;
    }
    const span = cdf[hi] - cdf[lo];
    const f = span > 0 ? (u - cdf[lo]) / span : 0;
    return s.energyMeV[lo] + f * (s.energyMeV[hi] - s.energyMeV[lo]);
  };
}
