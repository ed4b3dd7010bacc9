import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { betaSpectrum, dosePointKernel, absorbedEnergyMeV, voxelKernel } from '../../src/kernel/index.ts';
import { InputError } from '../../src/errors.ts';

// Published 90Y soft-tissue voxel S values (Lanconelli et al. 2012, PMB 57:517), beside the project, read-only.
const TABLE_DIR = fileURLToPath(new URL('../../../../../shared/data/voxel-s-values-90Y/', import.meta.url));
const haveTables = existsSync(TABLE_DIR);
if (!haveTables) console.warn(`skipping the published voxel S comparison: ${TABLE_DIR} is absent`);

/** Reads one octant table: "i j k S" rows in mGy/(MBq s); returns the voxel size [mm] and a lookup. */
function readTable(file: string): { voxelMm: number; at: (i: number, j: number, k: number) => number } {
  const voxelMm = Number(/90Y([\d.]+)mm/.exec(file)?.[1]);
  const map = new Map<string, number>();
  for (const line of readFileSync(join(TABLE_DIR, file), 'latin1').split(/\r?\n/)) {
    const p = line.trim().split(/\s+/);
    if (p.length >= 4 && /^\d+$/.test(p[0]) && Number.isFinite(Number(p[3]))) map.set(`${p[0]},${p[1]},${p[2]}`, Number(p[3]));
  }
  return { voxelMm, at: (i, j, k) => map.get(`${i},${j},${k}`) as number };
}

const cacheDir = mkdtempSync(join(tmpdir(), 'kernel-cache-'));
afterAll(() => rmSync(cacheDir, { recursive: true, force: true }));

/** mGy/(MBq s) per Gy/(Bq s). */
const MGY_MBQ_S = 1e9;

function centreIndex(radius: number[]): (i: number, j: number, k: number) => number {
  const nx = 2 * radius[0] + 1;
  const ny = 2 * radius[1] + 1;
  return (i, j, k) => i + radius[0] + nx * (j + radius[1] + ny * (k + radius[2]));
}

describe('90Y voxel S values against the published table (Lanconelli 2012, soft tissue 1.04 g/cm3)', () => {
  const files = haveTables ? readdirSync(TABLE_DIR).filter((f) => /^90Y[\d.]+mmsoft\.txt$/.test(f)) : [];
  it.skipIf(!haveTables)('S(0,0,0) within 2 % and the face neighbours within 5 % at every tabulated voxel size', async () => {
    expect(files.length).toBeGreaterThanOrEqual(10);
    for (const f of files) {
      const t = readTable(f);
      const L = t.voxelMm;
      // radius 1 is all this comparison needs (and keeps the test fast); the values do not depend on the radius
      const k = await voxelKernel({ isotope: 'Y90', voxelMm: [L, L, L], densityGPerMl: 1.04, radius: [1, 1, 1], cacheDir: null });
      const idx = centreIndex(k.radius);
      const s000 = k.values[idx(0, 0, 0)] * MGY_MBQ_S;
      // Tolerances from the issue: 2 % (centre) and 5 % (face neighbours); the published values carry their own
      // Monte Carlo noise (< 1 %) and use ICRU soft tissue, not water scaled to 1.04 g/cm3.
      expect(Math.abs(s000 / t.at(0, 0, 0) - 1), `S(0,0,0) at ${L} mm`).toBeLessThan(0.02);
      for (const [i, j, kk] of [[1, 0, 0], [0, 1, 0], [0, 0, 1]]) {
        const s = k.values[idx(i, j, kk)] * MGY_MBQ_S;
        expect(Math.abs(s / t.at(i, j, kk) - 1), `S(${i},${j},${kk}) at ${L} mm`).toBeLessThan(0.05);
      }
    }
  });
});

describe('voxel kernels: energy, symmetry, layout, density, cache', () => {
  it('Σ S x voxel mass = mean energy absorbed per decay (both isotopes, anisotropic voxels)', async () => {
    for (const isotope of ['Y90', 'Ho166'] as const) {
      const voxelMm: [number, number, number] = [2, 3, 4.5];
      const rho = 1.04;
      const k = await voxelKernel({ isotope, voxelMm, densityGPerMl: rho, cacheDir: null });
      let sum = 0;
      for (const v of k.values) sum += v;
      const massKg = (rho * voxelMm[0] * voxelMm[1] * voxelMm[2]) / 1e6;
      const energyMeV = (sum * massKg) / 1.602176634e-13;
      const dpk = await dosePointKernel(isotope);
      // The integration conserves energy exactly up to quadrature error (< 1e-3); issue tolerance 1 %
      expect(Math.abs(energyMeV / absorbedEnergyMeV(dpk) - 1)).toBeLessThan(0.01);
      expect(Math.abs(k.meanEnergyAbsorbedMeV / energyMeV - 1)).toBeLessThan(1e-6);
      // and the absorbed energy is the mean beta energy less bremsstrahlung (0.3-0.6 % in water for these spectra)
      const emitted = betaSpectrum(isotope).meanEnergyPerDecayMeV;
      expect(energyMeV / emitted).toBeGreaterThan(0.99);
      expect(energyMeV / emitted).toBeLessThan(1);
    }
  });

  it('layout: x-fastest, centre = source, even in each axis, longer axes give larger neighbours', async () => {
    const k = await voxelKernel({ isotope: 'Y90', voxelMm: [2, 3, 4], radius: [3, 2, 1], cacheDir: null });
    expect(k.values.length).toBe(7 * 5 * 3);
    const idx = centreIndex(k.radius);
    const max = k.values.reduce((m, v) => Math.max(m, v), 0);
    expect(k.values[idx(0, 0, 0)]).toBe(max);
    // neighbour across the smallest face gets the least: the x-neighbour shares a 3x4 face at 2 mm spacing
    expect(k.values[idx(1, 0, 0)]).toBeGreaterThan(k.values[idx(0, 1, 0)]);
    expect(k.values[idx(0, 1, 0)]).toBeGreaterThan(k.values[idx(0, 0, 1)]);
    for (const [i, j, kk] of [[1, 2, 1], [3, 0, 1], [2, 1, 0]]) {
      const v = k.values[idx(i, j, kk)];
      for (const [si, sj, sk] of [[-1, 1, 1], [1, -1, 1], [1, 1, -1], [-1, -1, -1]]) expect(k.values[idx(si * i, sj * j, sk * kk)]).toBe(v);
    }
  });

  it('range scaling: S_rho(L) = rho^2 S_1(rho L); the default radius holds the whole beta range', async () => {
    const a = await voxelKernel({ isotope: 'Ho166', voxelMm: [1.5, 1.5, 1.5], densityGPerMl: 2, radius: [2, 2, 2], cacheDir: null });
    const b = await voxelKernel({ isotope: 'Ho166', voxelMm: [3, 3, 3], densityGPerMl: 1, radius: [2, 2, 2], cacheDir: null });
    for (let n = 0; n < a.values.length; n++) expect(Math.abs(a.values[n] - 4 * b.values[n])).toBeLessThanOrEqual(1e-6 * 4 * b.values[n] + 1e-30);
    const d = await voxelKernel({ isotope: 'Y90', voxelMm: [3, 3, 3], densityGPerMl: 0.3, cacheDir: null });
    const wide = await voxelKernel({ isotope: 'Y90', voxelMm: [3, 3, 3], densityGPerMl: 0.3, radius: d.radius.map((r) => r + 1) as [number, number, number], cacheDir: null });
    // lung density 0.3: range ~ 11/0.3 = 37 mm -> about 13 voxels of 3 mm; nothing beyond the default radius
    expect(d.radius[0]).toBeGreaterThanOrEqual(12);
    expect(Math.abs(wide.meanEnergyAbsorbedMeV / d.meanEnergyAbsorbedMeV - 1)).toBeLessThan(1e-6);
  });

  it('is cached on disk by content: the second call reads the same values, no temporary file is left', async () => {
    const opts = { isotope: 'Y90' as const, voxelMm: [4.42, 4.42, 4.42] as [number, number, number], cacheDir };
    const first = await voxelKernel(opts);
    expect(first.fromCache).toBe(false);
    const t0 = performance.now();
    const second = await voxelKernel(opts);
    expect(second.fromCache).toBe(true);
    expect(performance.now() - t0).toBeLessThan(500);
    expect(Array.from(second.values)).toEqual(Array.from(first.values));
    const other = await voxelKernel({ ...opts, densityGPerMl: 1.05 });
    expect(other.fromCache).toBe(false);
    const files = readdirSync(cacheDir);
    expect(files.filter((f) => f.endsWith('.json'))).toHaveLength(2);
    expect(files.filter((f) => f.endsWith('.tmp'))).toHaveLength(0);
  });

  it('rejects impossible inputs with an InputError', async () => {
    await expect(voxelKernel({ isotope: 'Y90', voxelMm: [0, 1, 1], cacheDir: null })).rejects.toThrow(InputError);
    await expect(voxelKernel({ isotope: 'Y90', voxelMm: [1, 1, 1], densityGPerMl: -1, cacheDir: null })).rejects.toThrow(InputError);
    await expect(voxelKernel({ isotope: 'Y90', voxelMm: [1, 1, 1], radius: [1.5, 1, 1], cacheDir: null })).rejects.toThrow(/whole numbers/);
  });
});
