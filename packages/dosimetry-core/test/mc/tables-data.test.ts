/**
 * Tables of the voxel Monte Carlo (src/mc/tables.ts): every row samples its function at the grid points, ranges grow
 * with energy, the lookup interpolates as the transport spec says.
 */
import { describe, expect, it } from 'vitest';
import { restrictedStoppingMass } from '../../src/mc/electron-data.ts';
import { CT_MATERIALS, SOFT_TISSUE, WATER } from '../../src/mc/materials.ts';
import { buildMcTables, lookupRow, rowFunction, rowOffset, tableEnergyMeV } from '../../src/mc/tables.ts';
import { DEFAULT_MC_CUTOFFS, MC_TABLE_MAX_MEV, MC_TABLE_MIN_MEV, MC_TABLE_POINTS, McRow } from '../../src/mc/types.ts';
import { InputError } from '../../src/errors.ts';

const materials = [WATER, ...CT_MATERIALS];
const tables = buildMcTables(materials);
const N = MC_TABLE_POINTS;

describe('McTables', () => {
  it('grid: 512 log-spaced points from 1 keV to 3 MeV', () => {
    expect(tables.data.length).toBe(materials.length * 11 * N);
    expect(Math.abs(tableEnergyMeV(0) / MC_TABLE_MIN_MEV - 1)).toBeLessThan(1e-14);
    expect(Math.abs(tableEnergyMeV(N - 1) / MC_TABLE_MAX_MEV - 1)).toBeLessThan(1e-13);
    expect(tables.version).toMatch(/mc-tables/);
  });

  it('every pointwise row equals its function at grid points (f32 rounding: 2^-24 relative)', () => {
    const rows = [
      McRow.ElectronStopping,
      McRow.ElectronMoller,
      McRow.ElectronBrems,
      McRow.ElasticHardRate,
      McRow.ElasticScreening,
      McRow.ElasticMuCut,
      McRow.ElasticMottC,
      McRow.ElasticSoftT1,
      McRow.PhotonTotal,
      McRow.PhotonPhotoFraction,
    ];
    // a sample of grid points per material (all 512 x 7 x 10 would repeat the build)
    for (let m = 0; m < materials.length; m++) {
      for (const i of [0, 37, 150, 301, 402, 470, N - 1]) {
        const e = tableEnergyMeV(i);
        for (const r of rows) {
          const want = rowFunction(r, materials[m], e);
          const got = tables.data[rowOffset(m, r) + i];
          expect(Math.abs(got - want)).toBeLessThanOrEqual(Math.abs(want) * 2 ** -24 + 1e-300);
        }
      }
    }
  });

  it('lookup at grid points returns the row value and interpolates linearly in ln E in between', () => {
    const m = 3;
    const o = rowOffset(m, McRow.ElectronStopping);
    for (const i of [0, 100, 510]) {
      expect(lookupRow(tables, m, McRow.ElectronStopping, tableEnergyMeV(i))).toBeCloseTo(tables.data[o + i], 5);
      const mid = Math.sqrt(tableEnergyMeV(i) * tableEnergyMeV(i + 1));
      const want = 0.5 * (tables.data[o + i] + tables.data[o + i + 1]);
      expect(Math.abs(lookupRow(tables, m, McRow.ElectronStopping, mid) / want - 1)).toBeLessThan(1e-9);
    }
    // clamped outside the grid
    expect(lookupRow(tables, m, McRow.ElectronStopping, 1e-5)).toBe(tables.data[o]);
    expect(lookupRow(tables, m, McRow.ElectronStopping, 10)).toBe(tables.data[o + N - 1]);
  });

  it('CSDA ranges increase with energy and equal an independent Simpson integral of 1/S to 1e-4', () => {
    for (let m = 0; m < materials.length; m++) {
      const o = rowOffset(m, McRow.ElectronRange);
      for (let i = 1; i < N; i++) expect(tables.data[o + i]).toBeGreaterThan(tables.data[o + i - 1]);
      for (const e of [0.02, 0.5, 2]) {
        // Simpson in ln E from 1 keV with 4000 intervals, plus 1 keV / S(1 keV)
        const n = 4000;
        const l0 = Math.log(MC_TABLE_MIN_MEV);
        const h = (Math.log(e) - l0) / n;
        let s = 0;
        for (let k = 0; k <= n; k++) {
          const x = Math.exp(l0 + k * h);
          s += (k === 0 || k === n ? 1 : k % 2 === 1 ? 4 : 2) * (x / restrictedStoppingMass(materials[m], x, DEFAULT_MC_CUTOFFS));
        }
        const want = (s * h) / 3 + MC_TABLE_MIN_MEV / restrictedStoppingMass(materials[m], MC_TABLE_MIN_MEV, DEFAULT_MC_CUTOFFS);
        // lookup interpolates linearly between grid points (curvature of R(ln E): < 1e-4 at dLn = 0.0157)
        expect(Math.abs(lookupRow(tables, m, McRow.ElectronRange, e) / want - 1)).toBeLessThan(1e-4);
      }
    }
  });

  it('physics sanity: soft tissue CSDA range (restricted) at 2.28 MeV is above the unrestricted ESTAR-like 1.1 g/cm2', () => {
    // the restricted range is longer than the CSDA range (hard losses are removed); water's CSDA range at 2.28 MeV is
    // 1.13 g/cm2 (ESTAR); the restricted one must be larger but below twice it.
    const m = materials.indexOf(SOFT_TISSUE);
    const r = lookupRow(tables, m, McRow.ElectronRange, 2.28);
    expect(r).toBeGreaterThan(1.1);
    expect(r).toBeLessThan(2.2);
  });

  it('rates vanish below their thresholds and are positive above; the elastic rate is always positive', () => {
    const c = DEFAULT_MC_CUTOFFS;
    for (let m = 0; m < materials.length; m++) {
      for (let i = 0; i < N; i++) {
        const e = tableEnergyMeV(i);
        const moller = tables.data[rowOffset(m, McRow.ElectronMoller) + i];
        const brems = tables.data[rowOffset(m, McRow.ElectronBrems) + i];
        if (e <= 2 * c.deltaThresholdMeV) expect(moller).toBe(0);
        else expect(moller).toBeGreaterThan(0);
        if (e <= c.bremsThresholdMeV) expect(brems).toBe(0);
        else expect(brems).toBeGreaterThan(0);
        expect(tables.data[rowOffset(m, McRow.ElasticHardRate) + i]).toBeGreaterThan(0);
        const pf = tables.data[rowOffset(m, McRow.PhotonPhotoFraction) + i];
        expect(pf).toBeGreaterThanOrEqual(0);
        expect(pf).toBeLessThanOrEqual(1);
        const mu = tables.data[rowOffset(m, McRow.ElasticMuCut) + i];
        expect(mu).toBeGreaterThanOrEqual(0);
        expect(mu).toBeLessThanOrEqual(1);
      }
    }
  });

  it('refuses no materials, more than 16, and cut-offs outside the grid', () => {
    expect(() => buildMcTables([])).toThrow(InputError);
    expect(() => buildMcTables(new Array(17).fill(WATER))).toThrow(InputError);
    expect(() => buildMcTables([WATER], { ...DEFAULT_MC_CUTOFFS, electronCutoffMeV: 1e-4 })).toThrow(InputError);
  });
});
