import { describe, expect, it } from 'vitest';
import { betaSpectrum, fermiFunction, lnAbsGamma, spectrumSampler } from '../../src/kernel/spectrum.ts';
import { createRandom } from '../../src/kernel/transport.ts';

describe('complex log-gamma (Lanczos)', () => {
  it('matches closed forms', () => {
    // Γ(5) = 24, Γ(1/2) = sqrt(π), |Γ(1 + i)|^2 = π / sinh(π): identities, so 1e-12 (Lanczos g = 7 accuracy)
    expect(lnAbsGamma(5, 0)).toBeCloseTo(Math.log(24), 12);
    expect(lnAbsGamma(0.5, 0)).toBeCloseTo(0.5 * Math.log(Math.PI), 12);
    expect(2 * lnAbsGamma(1, 1)).toBeCloseTo(Math.log(Math.PI / Math.sinh(Math.PI)), 12);
  });
});

describe('Fermi function', () => {
  it('is 1 without nuclear charge and tends to the non-relativistic 2πη/(1 − exp(−2πη)) for light nuclei', () => {
    expect(fermiFunction(0, 1.5, 0.01)).toBeCloseTo(1, 12);
    // Z = 2 at W = 1.2: relativistic and finite-size terms differ from the Sommerfeld factor by < 1 %
    const w = 1.2;
    const p = Math.sqrt(w * w - 1);
    const eta = (2 / 137.036) * (w / p);
    const nonRel = (2 * Math.PI * eta) / (1 - Math.exp(-2 * Math.PI * eta));
    expect(fermiFunction(2, w, 0.005) / nonRel).toBeGreaterThan(0.99);
    expect(fermiFunction(2, w, 0.005) / nonRel).toBeLessThan(1.01);
  });
});

describe('beta spectra', () => {
  it('90Y: mean energy per decay 0.9267-0.9337 MeV (ENSDF 2016 / ICRU 56), endpoint 2.2801 MeV', () => {
    const s = betaSpectrum('Y90');
    expect(s.maxEnergyMeV).toBe(2.2801);
    expect(s.meanEnergyPerDecayMeV).toBeGreaterThan(0.9267 * 0.999);
    expect(s.meanEnergyPerDecayMeV).toBeLessThan(0.9337 * 1.001);
  });

  it('166Ho: mean energy per decay ~0.665 MeV (ENSDF); the omitted 1.3 % low-energy branches allow 1 %', () => {
    const s = betaSpectrum('Ho166');
    expect(s.betasPerDecay).toBeCloseTo(0.987, 12);
    expect(Math.abs(s.meanEnergyPerDecayMeV / 0.665 - 1)).toBeLessThan(0.01);
  });

  it('is normalised to the branch intensities and sampled without bias', () => {
    for (const iso of ['Y90', 'Ho166'] as const) {
      const s = betaSpectrum(iso);
      let area = 0;
      for (let i = 1; i < s.energyMeV.length; i++) area += 0.5 * (s.densityPerMeV[i] + s.densityPerMeV[i - 1]) * (s.energyMeV[i] - s.energyMeV[i - 1]);
      expect(area / s.betasPerDecay).toBeCloseTo(1, 4); // trapezoid vs Simpson normalisation on 4001 points
      const sample = spectrumSampler(s);
      const rand = createRandom(7);
      let mean = 0;
      const n = 200_000;
      for (let i = 0; i < n; i++) mean += sample(rand());
      mean /= n;
      // standard error of the mean ~ 0.5 MeV / sqrt(2e5) = 0.0011 MeV: 4 sigma
      expect(Math.abs(mean - s.meanEnergyPerBetaMeV)).toBeLessThan(0.0045);
    }
  });
});
