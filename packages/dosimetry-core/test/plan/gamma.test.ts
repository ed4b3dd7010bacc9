import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.ts';
import { gammaIndex, parseGammaCriterion } from '../../src/plan/gamma.ts';
import { IDENTITY_DIRECTION, type Geometry } from '../../src/volume/geometry.ts';

const grid = (dims: [number, number, number], spacingMm: [number, number, number]): Geometry => ({ dims, spacingMm, originLpsMm: [0, 0, 0], direction: IDENTITY_DIRECTION });

// Analytic gamma on a linear gradient g [Gy/mm] with the evaluated map shifted by s [mm] along the gradient:
// gamma^2 = min_r (r/dta)^2 + (g (r - s) / dD)^2; with a = 1/dta^2, b = g^2/dD^2 the minimum at r = b s / (a + b) is
// a b s^2 / (a + b) = s^2 / (dta^2 + (dD / g)^2).
const analyticGamma = (gGyPerMm: number, sMm: number, dtaMm: number, dDGy: number) => Math.abs(sMm) / Math.sqrt(dtaMm ** 2 + (dDGy / gGyPerMm) ** 2);

describe('gammaIndex (Low et al. 1998, global, 3-D search)', () => {
  it('identical maps pass everywhere with gamma 0', () => {
    const g = grid([16, 14, 12], [2, 2.5, 3]);
    const d = new Float32Array(16 * 14 * 12);
    for (let k = 0; k < 12; k++) for (let j = 0; j < 14; j++) for (let i = 0; i < 16; i++) d[i + 16 * (j + 14 * k)] = 100 * Math.exp(-((i - 8) ** 2 + (j - 7) ** 2 + (k - 6) ** 2) / 30);
    for (const c of [{ dosePercent: 10, dtaMm: 10 }, { dosePercent: 5, dtaMm: 5 }, { dosePercent: 1, dtaMm: 1 }]) {
      const r = gammaIndex(d, d, g, c);
      expect(r.passRate).toBe(1);
      expect(r.meanGamma).toBe(0);
      expect(r.evaluatedVoxels).toBe(Array.from(d).filter((x) => x >= 0.1 * 100).length);
    }
  });

  it('1-D two-slope ramp shifted by 2 voxels: the analytic gamma on each slope and the pass rate of an independent 1-D search', () => {
    const n = 200, g1 = 0.5, g2 = 2, kink = 100, s = 2; // 1 mm voxels: shift 2 voxels = 2 mm
    const D = (x: number) => (x <= kink ? g1 * x : g1 * kink + g2 * (x - kink));
    const ref = Float64Array.from({ length: n }, (_, i) => D(i));
    const ev = Float64Array.from({ length: n }, (_, i) => D(i - s));
    const crit = { dosePercent: 1, dtaMm: 1 };
    const r = gammaIndex(ref, ev, grid([n, 1, 1], [1, 1, 1]), crit);
    const maxGy = D(n - 1), dD = 0.01 * maxGy;
    expect(r.referenceMaxGy).toBeCloseTo(maxGy, 9);
    const gam1 = analyticGamma(g1, s, 1, dD), gam2 = analyticGamma(g2, s, 1, dD);
    expect(gam1).toBeLessThan(1);
    expect(gam2).toBeGreaterThan(1);
    for (let i = 60; i < 95; i++) expect(r.map[i]).toBeCloseTo(gam1, 3);
    for (let i = 110; i < 195; i++) expect(r.map[i]).toBeCloseTo(gam2, 3);
    // Independent reference: dense 1-D minimisation on the continuous evaluated function (defined on [0, n - 1]).
    let passRef = 0, countRef = 0;
    for (let i = 0; i < n; i++) {
      if (D(i) < 0.1 * maxGy) continue;
      let best = Infinity;
      for (let x = Math.max(0, i - 3); x <= Math.min(n - 1, i + 3); x += 0.001) best = Math.min(best, ((x - i) / 1) ** 2 + ((D(x - s) - D(i)) / dD) ** 2);
      expect(Math.abs(Math.sqrt(best) - 1)).toBeGreaterThan(0.01); // no voxel sits on the pass/fail edge
      countRef++;
      if (best <= 1) passRef++;
    }
    expect(r.evaluatedVoxels).toBe(countRef);
    expect(r.passRate).toBeCloseTo(passRef / countRef, 12);
    expect(passRef).toBeGreaterThan(40);
    expect(passRef).toBeLessThan(countRef - 40);
  });

  it('3-D oblique gradient on an anisotropic grid shifted by 2 voxels along i: gamma = |n.s| / sqrt(dta^2 + (dD/g)^2)', () => {
    const dims: [number, number, number] = [24, 24, 24], sp: [number, number, number] = [2, 2.5, 3];
    const gGy = 1.5, nv = [1 / 3, 2 / 3, 2 / 3], shiftMm = 2 * sp[0];
    const D = (x: number, y: number, z: number) => 100 + gGy * (nv[0] * x + nv[1] * y + nv[2] * z);
    const N = dims[0] * dims[1] * dims[2];
    const ref = new Float64Array(N), ev = new Float64Array(N);
    for (let k = 0; k < 24; k++) for (let j = 0; j < 24; j++) for (let i = 0; i < 24; i++) {
      ref[i + 24 * (j + 24 * k)] = D(i * sp[0], j * sp[1], k * sp[2]);
      ev[i + 24 * (j + 24 * k)] = D(i * sp[0] - shiftMm, j * sp[1], k * sp[2]);
    }
    const maxGy = D(23 * sp[0], 23 * sp[1], 23 * sp[2]);
    for (const c of [{ dosePercent: 3, dtaMm: 3 }, { dosePercent: 0.5, dtaMm: 1 }]) {
      const r = gammaIndex(ref, ev, grid(dims, sp), { ...c, thresholdPercent: 0 });
      const expected = analyticGamma(gGy, nv[0] * shiftMm, c.dtaMm, (c.dosePercent / 100) * maxGy);
      let checked = 0;
      for (let k = 4; k < 20; k++) for (let j = 4; j < 20; j++) for (let i = 4; i < 20; i++) {
        expect(Math.abs(r.map[i + 24 * (j + 24 * k)] - expected)).toBeLessThan(0.002);
        checked++;
      }
      expect(checked).toBe(16 ** 3);
      if (c.dtaMm === 3) expect(r.passRate).toBe(1); // expected 0.43
      else expect(expected).toBeGreaterThan(1); // 1.31: interior voxels fail
    }
  });

  it('a uniform dose scaled by 3 %: gamma 0.6 at 5 %/5 mm (all pass), 1.5 at 2 %/0.5 mm (none pass), 50 % when half is scaled', () => {
    const dims: [number, number, number] = [20, 20, 20], g = grid(dims, [2, 2, 2]);
    const ref = new Float32Array(8000).fill(50);
    const all = new Float32Array(8000).fill(50 * 1.03);
    const a = gammaIndex(ref, all, g, { dosePercent: 5, dtaMm: 5 });
    expect(a.passRate).toBe(1);
    expect(a.meanGamma).toBeCloseTo(0.6, 5);
    const b = gammaIndex(ref, all, g, { dosePercent: 2, dtaMm: 0.5, stepMm: 0.1 });
    expect(b.passRate).toBe(0);
    expect(b.meanGamma).toBeCloseTo(1.5, 5);
    // Half scaled (i < 10): the boundary voxel i = 9 still fails (analytic minimum gamma^2 = 1.97 along the
    // interpolated edge between 51.5 and 50 Gy over 2 mm), the unscaled half has gamma 0.
    const half = new Float32Array(8000).fill(50);
    for (let k = 0; k < 20; k++) for (let j = 0; j < 20; j++) for (let i = 0; i < 10; i++) half[i + 20 * (j + 20 * k)] = 51.5;
    const c = gammaIndex(ref, half, g, { dosePercent: 2, dtaMm: 0.5, stepMm: 0.1 });
    expect(c.passRate).toBe(0.5);
    // 1.5 (1 - r/2) with 4 r^2 + 2.25 (1 - r/2)^2 minimal at r = 2.25 / 9.125
    const rMin = 2.25 / 9.125;
    expect(c.map[9]).toBeCloseTo(Math.sqrt(4 * rMin ** 2 + 2.25 * (1 - rMin / 2) ** 2), 2);
  });

  it('parses criteria and refuses bad ones', () => {
    expect(parseGammaCriterion('10,10')).toEqual({ dosePercent: 10, dtaMm: 10 });
    expect(parseGammaCriterion('3%/2mm')).toEqual({ dosePercent: 3, dtaMm: 2 });
    expect(() => parseGammaCriterion('5')).toThrow(InputError);
    expect(() => parseGammaCriterion('0,3')).toThrow(/PERCENT,MM/);
    expect(() => gammaIndex([0, 0], [0, 0], grid([2, 1, 1], [1, 1, 1]), { dosePercent: 3, dtaMm: 3 })).toThrow(/no positive dose/);
  });
});
