import { describe, expect, it } from 'vitest';
import { absorbedEnergyMeV, dosePointKernel, kernelRangeMm } from '../../src/kernel/dpk.ts';
import { betaSpectrum } from '../../src/kernel/spectrum.ts';
import { simulateDosePointKernel, type DosePointKernel } from '../../src/kernel/transport.ts';

function cumulative(k: DosePointKernel): Float64Array {
  const c = new Float64Array(k.energyPerShellMeV.length);
  let s = 0;
  const total = absorbedEnergyMeV(k);
  for (let i = 0; i < c.length; i++) c[i] = (s += k.energyPerShellMeV[i]) / total;
  return c;
}

describe('committed dose point kernels are what the project Monte Carlo produces', () => {
  for (const isotope of ['Y90', 'Ho166'] as const) {
    it(`${isotope}: a fresh low-statistics run (other seed) agrees with the committed table`, async () => {
      const table = await dosePointKernel(isotope);
      expect(table.isotope).toBe(isotope);
      expect(table.histories).toBeGreaterThanOrEqual(100_000);
      const n = 12_000;
      const fresh = simulateDosePointKernel({ isotope, histories: n, seed: 99, shellWidthMm: table.shellWidthMm });
      expect(fresh.energyPerShellMeV.length).toBe(table.energyPerShellMeV.length);
      // energy bookkeeping: emitted = absorbed + bremsstrahlung + beyond the outer shell, to rounding
      expect(Math.abs(fresh.emittedMeVPerDecay - absorbedEnergyMeV(fresh) - fresh.radiatedMeVPerDecay - fresh.beyondMeVPerDecay)).toBeLessThan(1e-9);
      expect(table.beyondMeVPerDecay).toBe(0);
      // mean emitted energy: sampling error ~ 0.5 MeV / sqrt(n) per decay: 4 sigma
      const mean = betaSpectrum(isotope).meanEnergyPerDecayMeV;
      expect(Math.abs(fresh.emittedMeVPerDecay - mean)).toBeLessThan((4 * 0.5) / Math.sqrt(n));
      expect(Math.abs(table.emittedMeVPerDecay - mean)).toBeLessThan((4 * 0.5) / Math.sqrt(table.histories));
      // absorbed fraction inside r: each decay contributes a fraction in [0, 1] (variance <= 1/4), so the standard
      // error of the cumulative curve is <= 0.5/sqrt(n) = 0.0046; allow 4 of them at every radius
      const a = cumulative(table);
      const b = cumulative(fresh);
      let worst = 0;
      for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
      expect(worst).toBeLessThan(4 * (0.5 / Math.sqrt(n)));
      // bremsstrahlung yield: 0.3-0.6 % of the emitted energy for these spectra in water (radiation yield of
      // 1-2 MeV electrons in water is 0.4-0.8 %, ESTAR)
      expect(table.radiatedMeVPerDecay / table.emittedMeVPerDecay).toBeGreaterThan(0.002);
      expect(table.radiatedMeVPerDecay / table.emittedMeVPerDecay).toBeLessThan(0.008);
    });
  }

  it('the kernels reach the CSDA range of the largest endpoint in water, not beyond (11.3 mm 90Y, 8.9 mm 166Ho)', async () => {
    // ESTAR CSDA ranges: 2.28 MeV 1.13 g/cm2, 1.85 MeV 0.90 g/cm2; energy straggling of delta rays adds a little
    const y = kernelRangeMm(await dosePointKernel('Y90'));
    const h = kernelRangeMm(await dosePointKernel('Ho166'));
    expect(y).toBeGreaterThan(10);
    expect(y).toBeLessThan(12.5);
    expect(h).toBeGreaterThan(8);
    expect(h).toBeLessThan(10);
  });
});
