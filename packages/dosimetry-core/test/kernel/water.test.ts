import { describe, expect, it } from 'vitest';
import {
  collisionStoppingMeVPerCm,
  elasticData,
  mollerInverseMfpPerCm,
  radiativeStoppingMeVPerCm,
  sampleMollerFraction,
} from '../../src/kernel/water.ts';
import { createRandom } from '../../src/kernel/transport.ts';

// ESTAR (NIST, ICRU 37) values for liquid water, MeV cm2/g and g/cm2: external reference numbers.
const ESTAR = [
  { tMeV: 0.1, collision: 4.115 },
  { tMeV: 1, collision: 1.849 },
];

function csdaRangeCm(tMeV: number): number {
  const n = 4000;
  const l0 = Math.log(1e-3);
  const l1 = Math.log(tMeV);
  let s = 1e-3 / collisionStoppingMeVPerCm(1e-3);
  for (let i = 0; i < n; i++) {
    const e = Math.exp(l0 + ((i + 0.5) * (l1 - l0)) / n);
    s += (e * (l1 - l0)) / n / (collisionStoppingMeVPerCm(e) + radiativeStoppingMeVPerCm(e));
  }
  return s;
}

describe('water stopping powers', () => {
  it('collision stopping power within 1 % of ESTAR (ICRU 37 uncertainty 1-2 % above 100 keV)', () => {
    for (const r of ESTAR) expect(Math.abs(collisionStoppingMeVPerCm(r.tMeV) / r.collision - 1)).toBeLessThan(0.01);
  });

  it('CSDA range within 1 % of ESTAR: 0.4367 g/cm2 at 1 MeV, 0.9785 g/cm2 at 2 MeV', () => {
    expect(Math.abs(csdaRangeCm(1) / 0.4367 - 1)).toBeLessThan(0.01);
    expect(Math.abs(csdaRangeCm(2) / 0.9785 - 1)).toBeLessThan(0.01);
  });

  it('restricted stopping + Møller hard collisions = unrestricted stopping (same cross section)', () => {
    for (const t of [0.1, 0.5, 2]) {
      const wc = 0.01;
      // mean energy lost per cm in hard collisions, by sampling W from the Møller distribution
      const rand = createRandom(3);
      let meanW = 0;
      const n = 200_000;
      for (let i = 0; i < n; i++) meanW += sampleMollerFraction(t, wc, rand) * t;
      meanW /= n;
      const hard = mollerInverseMfpPerCm(t, wc) * meanW;
      // sampling error of mean W ~ 1 %, of the hard part (~20 % of the total) -> 0.3 % of the total
      expect((collisionStoppingMeVPerCm(t, wc) + hard) / collisionStoppingMeVPerCm(t)).toBeCloseTo(1, 2);
    }
  });

  it('radiative stopping power near ESTAR at 1 MeV (0.01293 MeV cm2/g; Bethe-Heitler without screening: 5 %)', () => {
    expect(Math.abs(radiativeStoppingMeVPerCm(1) / 0.01293 - 1)).toBeLessThan(0.05);
  });
});

describe('elastic scattering (mixed scheme)', () => {
  it('hard mean free path is max(λel, C1 λ1) and soft + hard transport = total', () => {
    for (const t of [0.02, 0.2, 2]) {
      const c1 = 0.05;
      const el = elasticData(t, c1);
      const hardRate = el.atoms.reduce((s, a) => s + a.rate / a.rMax, 0);
      expect(hardRate).toBeLessThanOrEqual((el.transportPerCm / c1) * (1 + 1e-6));
      expect(el.softTransportPerCm).toBeLessThan(el.transportPerCm);
      expect(el.muCut).toBeGreaterThan(0);
      expect(el.muCut).toBeLessThan(0.1);
    }
  });

  it('transport mean free path grows with energy as the CSDA range does (ratio λ1/R within 0.5-2.5 from 10 keV to 2 MeV)', () => {
    // Known behaviour of electrons in water: λ1 and the CSDA range are of the same order at all these energies
    for (const t of [0.01, 0.1, 1, 2]) {
      const ratio = 1 / elasticData(t).transportPerCm / csdaRangeCm(t);
      expect(ratio).toBeGreaterThan(0.5);
      expect(ratio).toBeLessThan(2.5);
    }
  });
});
