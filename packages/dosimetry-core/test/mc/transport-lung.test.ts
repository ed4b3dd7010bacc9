/**
 * CPU Monte Carlo in lung (0.30 g/mL): the density scaling theorem against water, and the equilibrium dose deep in a
 * large uniform lung region against LDM with the lung density.
 */
import { describe, expect, it } from 'vitest';
import { buildMcProblem } from '../../src/mc/problem.ts';
import { LUNG, WATER } from '../../src/mc/materials.ts';
import { JOULE_PER_MEV, meanLifeS, NUCLIDES } from '../../src/units/index.ts';
import { energyPerDecay, groupByOffset, interiorRatio, pointSourceProblem } from './transport-helpers.ts';

const RHO_LUNG = 0.3;

describe('CPU Monte Carlo: 90Y in lung, 0.30 g/mL', () => {
  it('scaling theorem: D_rho(r) = rho^2 D_water(rho r): lung voxels of 2.21/0.3 mm hold the energy of water voxels of 2.21 mm, within 2 % + 3 sigma', () => {
    // Same grid in voxels: lung voxels are 1/rho larger, so a lung voxel at offset o holds what the water voxel at o
    // holds (energy per decay; dose then scales by rho^2 through the mass rho L^3). Lung (ICRU 46) differs from water
    // in composition: stopping powers within ~1 %, hence the 2 % bar; 3 sigma of both runs' noise on top.
    const n = 13;
    const lw = 2.21;
    const histories = 36_000;
    const water = energyPerDecay(pointSourceProblem({ n, voxelMm: lw, densityGPerMl: 1, isotope: 'Y90', material: WATER }), histories, 4, 10);
    const lung = energyPerDecay(pointSourceProblem({ n, voxelMm: lw / RHO_LUNG, densityGPerMl: RHO_LUNG, isotope: 'Y90', material: LUNG }), histories, 5, 10);
    const gw = groupByOffset(n, water.mean, water.stdErr);
    const gl = groupByOffset(n, lung.mean, lung.stdErr);
    const centre = gw.get('0,0,0')!.mean;
    let compared = 0;
    for (const [key, w] of gw) {
      if (w.mean <= 0.01 * centre) continue;
      const l = gl.get(key)!;
      const rel = l.mean / w.mean - 1;
      const sigma = Math.hypot(l.stdErr / l.mean, w.stdErr / w.mean);
      // dose ratio: E_l / (rho (L/rho)^3) over E_w / L^3 = rho^2 E_l / E_w
      console.log(`offset ${key}: lung/water energy ${(1 + rel).toFixed(4)} ± ${sigma.toFixed(4)} (dose ratio ${((1 + rel) * RHO_LUNG ** 2).toFixed(4)}, theorem ${RHO_LUNG ** 2})`);
      expect(Math.abs(rel)).toBeLessThan(0.02 + 3 * sigma);
      compared++;
    }
    expect(compared).toBeGreaterThanOrEqual(7);
  });

  it('deep in a large uniform lung region: dose = LDM with the lung density (CF x A / (rho V)) within its statistical uncertainty', () => {
    // 12^3 voxels of 18.67 mm (224 mm), all lung with uniform activity; interior: the central 8^3 voxels (149 mm),
    // 37 mm (the 90Y range at 0.3 g/mL) from every face.
    const n = 12;
    const L = 18.67;
    const p = buildMcProblem({ dims: [n, n, n], spacingMm: [L, L, L], activityBqPerMl: new Float32Array(n ** 3).fill(1), densityGPerMl: RHO_LUNG, isotope: 'Y90' });
    expect(p.tables.materials[p.media[0] >>> 24].name).toMatch(/lung/);
    const deep = (v: number) => [v % n, Math.floor(v / n) % n, Math.floor(v / n / n)].every((q) => q >= 2 && q <= 9);
    const r = interiorRatio(p, deep, 36_000, 9, 20);
    const cdf = p.emissions.betaInverseCdfMeV;
    let mean = 0;
    for (let q = 0; q + 1 < cdf.length; q++) mean += (cdf[q] + cdf[q + 1]) / 2 / (cdf.length - 1);
    const emittedMeV = mean * p.emissions.betasPerDecay;
    // LDM: CF [J/GBq] = energy per decay x decays per GBq fully decayed; its energy per decay:
    const cfMeV = NUCLIDES.Y90.ldmJoulePerGBq / (JOULE_PER_MEV * 1e9 * meanLifeS('Y90'));
    // dose / LDM: the interior's energy per decay [MeV] (direct tally, ratio estimator x mean emitted) over the CF's;
    // the mass (rho V) is the same on both sides, so this is the dose ratio at the lung density
    const ratio = (r.direct * emittedMeV) / cfMeV;
    const sigma = (r.directStdErr * emittedMeV) / cfMeV;
    console.log(`lung interior: ${r.interiorDecays} decays; dose / LDM = ${ratio.toFixed(4)} ± ${sigma.toFixed(4)}; reciprocity ${((r.reciprocity * emittedMeV) / cfMeV).toFixed(4)} ± ${((r.reciprocityStdErr * emittedMeV) / cfMeV).toFixed(4)}`);
    // 3 sigma of the statistics plus 0.5 %: the CF (49.67 J/GBq) is 0.2 % below the ENSDF mean energy and
    // bremsstrahlung carries ~0.5 % out of lung
    expect(Math.abs(ratio - 1)).toBeLessThan(3 * sigma + 0.005);
    expect(Math.abs(r.direct - r.reciprocity)).toBeLessThan(3 * r.diffStdErr);
    expect(Math.abs((r.reciprocity * emittedMeV) / cfMeV - 1)).toBeLessThan(0.005 + 3 * r.reciprocityStdErr);
  });
});
