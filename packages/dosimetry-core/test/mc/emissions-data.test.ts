/**
 * Emissions of one decay for the voxel Monte Carlo (src/mc/emissions.ts).
 */
import { describe, expect, it } from 'vitest';
import { betaSpectrum } from '../../src/kernel/spectrum.ts';
import { emittedMeVPerDecay, MC_BETA_CDF_POINTS, mcEmissions } from '../../src/mc/emissions.ts';
import { JOULE_PER_MEV, meanLifeS, NUCLIDES, type Isotope } from '../../src/units/index.ts';

/** LDM energy per decay [MeV]: J/GBq over the decays of 1 GBq decaying completely (1e9 x mean life). */
const ldmMeVPerDecay = (iso: Isotope) => NUCLIDES[iso].ldmJoulePerGBq / (1e9 * meanLifeS(iso)) / JOULE_PER_MEV;

describe('mcEmissions', () => {
  for (const iso of ['Y90', 'Ho166'] as const) {
    it(`${iso}: the inverse CDF reproduces the spectrum's mean energy per beta to 1e-3`, () => {
      const e = mcEmissions(iso);
      const cdf = e.betaInverseCdfMeV;
      expect(cdf.length).toBe(MC_BETA_CDF_POINTS);
      for (let i = 1; i < cdf.length; i++) expect(cdf[i]).toBeGreaterThanOrEqual(cdf[i - 1]);
      // mean of E(u), u uniform, E linear between the points: trapezoid over the points
      let mean = 0;
      for (let i = 1; i < cdf.length; i++) mean += 0.5 * (cdf[i] + cdf[i - 1]);
      mean /= cdf.length - 1;
      const s = betaSpectrum(iso);
      expect(Math.abs(mean / s.meanEnergyPerBetaMeV - 1)).toBeLessThan(1e-3);
      expect(cdf[0]).toBeLessThan(0.01);
      expect(Math.abs(cdf[cdf.length - 1] - s.maxEnergyMeV)).toBeLessThan(1e-6);
      expect(e.betasPerDecay).toBeCloseTo(s.betasPerDecay, 12);
    });
  }

  it('90Y: betas only; emitted energy per decay equals the LDM energy (0.933 MeV) within 0.5 %', () => {
    const e = mcEmissions('Y90');
    expect(e.photonLines).toHaveLength(0);
    expect(e.localMeVPerDecay).toBe(0);
    const em = emittedMeVPerDecay(e);
    // 0.5 %: the spectrum's mean (0.9337 x 0.99983) vs the 49.67 J/GBq of the EANM SOP (rounded)
    expect(Math.abs(em.totalMeV / ldmMeVPerDecay('Y90') - 1)).toBeLessThan(0.005);
  });

  it('166Ho: 80.6 keV gamma and K X-rays present; electron energy (betas + local) within 5 % of the LDM energy', () => {
    const e = mcEmissions('Ho166');
    const g80 = e.photonLines.find((l) => Math.abs(l.energyMeV - 0.080576) < 1e-6);
    expect(g80?.yieldPerDecay).toBeGreaterThan(0.06);
    expect(e.photonLines.filter((l) => l.what.startsWith('Er K')).length).toBe(3);
    // the local energy (conversion + Auger electrons, L X-rays) of the 80.6 keV transitions: T80 x 80.6 keV minus
    // the gamma and K X-ray energy: between 20 and 40 keV per decay for any conversion coefficient 4-9
    expect(e.localMeVPerDecay).toBeGreaterThan(0.02);
    expect(e.localMeVPerDecay).toBeLessThan(0.04);
    const em = emittedMeVPerDecay(e);
    // 15.87 J/GBq (PHYSICS.md, 60 Gy ~ 3.78 GBq/kg) is a local-deposition factor for the electron energy; 5 %: the
    // factor's rounding and the spread of evaluated 166Ho data (beta intensities 48.7/50.0 % and the conversion share)
    expect(Math.abs((em.betaMeV + em.localMeV) / ldmMeVPerDecay('Ho166') - 1)).toBeLessThan(0.05);
    // photons carry 2-5 % of the energy (80.6 keV gamma, K X-rays, 1.38-1.66 MeV gammas)
    expect(em.photonMeV / em.totalMeV).toBeGreaterThan(0.02);
    expect(em.photonMeV / em.totalMeV).toBeLessThan(0.05);
  });
});
