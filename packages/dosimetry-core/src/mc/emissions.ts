/**
 * Emissions of one decay for the voxel Monte Carlo: the beta spectrum as an inverse CDF, photon lines transported as
 * photons, and the energy of conversion and Auger electrons (and X-rays below the 10 keV photon cutoff) deposited at
 * the decay site.
 *
 * Beta spectra: ../kernel/spectrum.ts betaSpectrum() (the project's Fermi-theory spectra), inverted on 1024 points
 * u_i = i / 1023 with the trapezoidal CDF of spectrumSampler().
 *
 * 90Y: betas only. The other branches carry ~1e-4 of the energy: the 0.017 % branch to the 1760.7 keV 0+ level of 90Zr
 * de-excites by internal pair creation and E0 conversion (pairs 3.2e-5 per decay), the 2186 keV gamma has 1.4e-6 per
 * decay (ENSDF, Browne 1997; quoted from memory of NuDat, NOT verified); 1e-4 of the dose is far below the statistical
 * and model uncertainty, so they are left out (this also keeps 90Y photon-free, which the tests use).
 *
 * 166Ho (ENSDF evaluation of A = 166 as shown by NuDat 3 and the DDEP/LNHB table; values quoted from memory, each
 * marked NOT verified where the last digit is uncertain):
 * - 80.576 keV E2 transition 2+ -> 0+ of 166Er: fed by the 48.7 % beta branch and by the cascades of the 1.3 % of decays
 *   to higher levels (1379.4 and 1581.8 keV gammas end on it), in total T80 = 0.487 + 0.0093 + 0.0019 = 0.498 transitions
 *   per decay; gamma yield 6.71 % (NOT verified: evaluations give 6.55-6.71 %); the rest is internal conversion
 *   (α_total ≈ 6.4).
 * - Er K X-rays after K conversion: Kα2 48.221 keV 3.0 %, Kα1 49.128 keV 5.3 %, Kβ 55.7 keV (Kβ1,3 and Kβ2 lumped at
 *   their mean) 2.2 % (NOT verified; these follow from α_K ≈ 1.6 and ω_K = 0.93 within 10 %).
 * - High-energy gammas: 1379.40 keV 0.93 %, 1581.85 keV 0.186 %, 1662.45 keV 0.118 % (NOT verified at the 5 % level;
 *   together 0.017 MeV per decay, mostly escaping a patient-sized volume).
 * - Local energy: the energy of the 80.6 keV transitions not carried by the 80.6 keV gamma or the K X-rays, i.e.
 *   conversion electrons, Auger electrons and L X-rays (6.9-9.4 keV, below the 10 keV photon cutoff):
 *   T80 × 80.576 keV − Iγ × 80.576 keV − Σ I_K E_K (energy conservation of the de-excitation; no separate yields).
 */
import { betaSpectrum, spectrumSampler } from '../kernel/spectrum.ts';
import type { Isotope } from '../units/index.ts';
import type { McEmissions } from './types.ts';

/** Points of the beta inverse CDF. */
export const MC_BETA_CDF_POINTS = 1024;

/** A photon line: energy [MeV], yield per decay, what it is. */
interface Line {
  readonly energyMeV: number;
  readonly yieldPerDecay: number;
  readonly what: string;
}

/** 166Ho: transitions per decay through the 80.576 keV level of 166Er (module header; NOT verified to 1 %). */
const HO166_T80_PER_DECAY = 0.487 + 0.0093 + 0.0019;
const HO166_E80_MEV = 0.080576;
const HO166_GAMMA80_YIELD = 0.0671;

const HO166_LINES: readonly Line[] = [
  { energyMeV: HO166_E80_MEV, yieldPerDecay: HO166_GAMMA80_YIELD, what: '166Er 2+ -> 0+ gamma (NOT verified: 6.55-6.71 %)' },
  { energyMeV: 0.048221, yieldPerDecay: 0.03, what: 'Er K-alpha2 X-ray (NOT verified)' },
  { energyMeV: 0.049128, yieldPerDecay: 0.053, what: 'Er K-alpha1 X-ray (NOT verified)' },
  { energyMeV: 0.0557, yieldPerDecay: 0.022, what: 'Er K-beta X-rays, lumped (NOT verified)' },
  { energyMeV: 1.3794, yieldPerDecay: 0.0093, what: '166Er 1460 -> 80.6 keV gamma (NOT verified at 5 %)' },
  { energyMeV: 1.58185, yieldPerDecay: 0.00186, what: '166Er 1662 -> 80.6 keV gamma (NOT verified at 5 %)' },
  { energyMeV: 1.66245, yieldPerDecay: 0.00118, what: '166Er 1662 -> 0 gamma (NOT verified at 5 %)' },
];

/** Energy per decay of the 80.6 keV de-excitation not carried by tracked photons [MeV] (module header). */
function ho166LocalMeV(): number {
  let kXray = 0;
  for (const l of HO166_LINES) if (l.what.startsWith('Er K')) kXray += l.energyMeV * l.yieldPerDecay;
  return HO166_T80_PER_DECAY * HO166_E80_MEV - HO166_GAMMA80_YIELD * HO166_E80_MEV - kXray;
}

/**
 * Inverse CDF of a nuclide's beta spectrum: energy [MeV] at u_i = i/(n − 1), i = 0..n − 1 (f32; linear in between).
 */
export function betaInverseCdf(isotope: Isotope, n = MC_BETA_CDF_POINTS): Float32Array {
  const sample = spectrumSampler(betaSpectrum(isotope));
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = sample(i / (n - 1));
  return out;
}

/** Emissions of one decay of `isotope` for the Monte Carlo (data and sources in the module header). */
export function mcEmissions(isotope: Isotope): McEmissions {
  const spectrum = betaSpectrum(isotope);
  const betaInverseCdfMeV = betaInverseCdf(isotope);
  if (isotope === 'Y90') {
    return {
      isotope,
      betaInverseCdfMeV,
      betasPerDecay: spectrum.betasPerDecay,
      photonLines: [],
      localMeVPerDecay: 0,
      source: '90Y: beta spectrum of ../kernel/spectrum.ts; no photons (1.76 MeV / internal-pair branches ~1e-4 per decay omitted)',
    };
  }
  return {
    isotope,
    betaInverseCdfMeV,
    betasPerDecay: spectrum.betasPerDecay,
    photonLines: HO166_LINES.map((l) => ({ ...l })),
    localMeVPerDecay: ho166LocalMeV(),
    source:
      '166Ho: beta spectrum of ../kernel/spectrum.ts; photon lines and conversion/Auger energy from ENSDF (NuDat 3) / DDEP, ' +
      'values marked NOT verified in src/mc/emissions.ts',
  };
}

/** Mean energy emitted per decay [MeV]: betas (spectrum mean) + photon lines + local energy. */
export function emittedMeVPerDecay(e: McEmissions): { betaMeV: number; photonMeV: number; localMeV: number; totalMeV: number } {
  const spectrum = betaSpectrum(e.isotope);
  const betaMeV = spectrum.meanEnergyPerDecayMeV;
  let photonMeV = 0;
  for (const l of e.photonLines) photonMeV += l.energyMeV * l.yieldPerDecay;
  return { betaMeV, photonMeV, localMeV: e.localMeVPerDecay, totalMeV: betaMeV + photonMeV + e.localMeVPerDecay };
}
