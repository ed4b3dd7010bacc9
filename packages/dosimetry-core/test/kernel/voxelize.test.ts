import { describe, expect, it } from 'vitest';
import { targetEnergyMeV, type RadialProfile } from '../../src/kernel/voxelize.ts';
import { createRandom } from '../../src/kernel/transport.ts';

/** Profile with dE/dr = 4π r^2 exp(−r/λ): energy density e(r) = exp(−r/λ), smooth and finite at r = 0. */
function expProfile(lambdaMm: number, stepMm: number, rMaxMm: number): RadialProfile {
  const n = Math.round(rMaxMm / stepMm);
  const g = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    const r = (k + 0.5) * stepMm;
    g[k] = 4 * Math.PI * r * r * Math.exp(-r / lambdaMm);
  }
  return { stepMm, dEdrMeVPerMm: g };
}

/** Independent estimate: E_t = V_t x mean of e(|x_t − x_s|) over uniform pairs of points (plain Monte Carlo). */
function pairSampling(e: (r: number) => number, sides: number[], offset: number[], n: number, seed: number): { mean: number; se: number } {
  const rand = createRandom(seed);
  let s = 0;
  let s2 = 0;
  const v = sides[0] * sides[1] * sides[2];
  for (let i = 0; i < n; i++) {
    let r2 = 0;
    for (let a = 0; a < 3; a++) {
      const d = (offset[a] + rand() - rand()) * sides[a];
      r2 += d * d;
    }
    const f = e(Math.sqrt(r2)) * v;
    s += f;
    s2 += f * f;
  }
  const mean = s / n;
  return { mean, se: Math.sqrt((s2 / n - mean * mean) / n) };
}

describe('voxel integration of a point kernel', () => {
  const sides: [number, number, number] = [1.3, 2.1, 0.9];
  const profile = expProfile(1.5, 0.005, 30);
  const e = (r: number) => Math.exp(-r / 1.5);

  it('agrees with pair sampling for the source voxel, neighbours and far voxels (anisotropic voxels)', () => {
    for (const o of [[0, 0, 0], [1, 0, 0], [0, 1, 1], [2, 1, 3]] as Array<[number, number, number]>) {
      const q = targetEnergyMeV(profile, sides, o);
      const mc = pairSampling(e, sides, o, 400_000, 11);
      // 4 standard errors of the sampling estimate (the quadrature itself is accurate to < 1e-4)
      expect(Math.abs(q - mc.mean)).toBeLessThan(4 * mc.se + 1e-4 * mc.mean);
    }
  });

  it('conserves energy: the sum over all offsets equals ∫ dE/dr dr (hats are a partition of unity)', () => {
    // dE/dr constant = 1 MeV/mm up to 6 mm: e ~ 1/r^2, the singular case of a real kernel near its source
    const flat: RadialProfile = { stepMm: 0.05, dEdrMeVPerMm: new Float64Array(120).fill(1) };
    const total = 6;
    for (const s of [[1, 1, 1], [2.5, 1.2, 3.1]] as Array<[number, number, number]>) {
      const r = s.map((x) => Math.ceil(total / x) + 1);
      let sum = 0;
      for (let k = 0; k <= r[2]; k++)
        for (let j = 0; j <= r[1]; j++)
          for (let i = 0; i <= r[0]; i++) sum += targetEnergyMeV(flat, s, [i, j, k]) * (i ? 2 : 1) * (j ? 2 : 1) * (k ? 2 : 1);
      // Gauss quadrature of piecewise-linear hats times a kink at r = 6 mm: 1e-3 is generous
      expect(Math.abs(sum / total - 1)).toBeLessThan(1e-3);
    }
  });

  it('is symmetric under a permutation of axes together with the voxel sides', () => {
    const a = targetEnergyMeV(profile, [1.3, 2.1, 0.9], [1, 2, 0]);
    const b = targetEnergyMeV(profile, [2.1, 0.9, 1.3], [2, 0, 1]);
    expect(Math.abs(a / b - 1)).toBeLessThan(1e-9);
  });
});
