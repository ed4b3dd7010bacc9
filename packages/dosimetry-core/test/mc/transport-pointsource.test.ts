/**
 * CPU Monte Carlo, 90Y point source (all activity in the central voxel) against the project's dose point kernel
 * (water) and the published voxel S values (Lanconelli et al. 2012, soft tissue 1.04 g/cm^3).
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { voxelKernel } from '../../src/kernel/index.ts';
import { SOFT_TISSUE, WATER } from '../../src/mc/materials.ts';
import { JOULE_PER_MEV } from '../../src/units/index.ts';
import { energyPerDecay, groupByOffset, pointSourceProblem } from './transport-helpers.ts';

// Published 90Y soft-tissue voxel S values (Lanconelli et al. 2012, PMB 57:517), beside the project, read-only.
const TABLE_DIR = fileURLToPath(new URL('../../../../../shared/data/voxel-s-values-90Y/', import.meta.url));
const haveTables = existsSync(TABLE_DIR);
if (!haveTables) console.warn(`skipping the published voxel S comparison: ${TABLE_DIR} is absent`);

/** Published octant table at `voxelMm`: S [mGy/(MBq s)] by sorted offset "a,b,c". */
function publishedS(voxelMm: number): Map<string, number> {
  const map = new Map<string, number>();
  for (const line of readFileSync(`${TABLE_DIR}90Y${voxelMm}mmsoft.txt`, 'latin1').split(/\r?\n/)) {
    const q = line.trim().split(/\s+/);
    if (q.length >= 4 && /^\d+$/.test(q[0]) && Number.isFinite(Number(q[3]))) map.set([q[0], q[1], q[2]].map(Number).sort((a, b) => a - b).join(','), Number(q[3]));
  }
  return map;
}

describe('CPU Monte Carlo: 90Y point source', () => {
  it("water, 2.21 mm voxels: energy per voxel = the project's voxel kernel (dose point kernel integrated over voxels) within 2 % + 3 sigma", async () => {
    const n = 13; // +-6 voxels = 13.3 mm > 11 mm beta range
    const L = 2.21;
    const histories = 45_000;
    const p = pointSourceProblem({ n, voxelMm: L, densityGPerMl: 1, isotope: 'Y90', material: WATER });
    const r = energyPerDecay(p, histories, 1, 10);
    const g = groupByOffset(n, r.mean, r.stdErr);
    const k = await voxelKernel({ isotope: 'Y90', voxelMm: [L, L, L], densityGPerMl: 1, radius: [6, 6, 6], cacheDir: null });
    const massKg = (L ** 3 / 1000) * 1e-3;
    const centre = g.get('0,0,0')!.mean;
    let compared = 0;
    for (const [key, v] of g) {
      if (v.mean <= 0.01 * centre) continue;
      const [a, b, c] = v.offset;
      const ref = (k.values[a + 6 + 13 * (b + 6 + 13 * (c + 6))] * massKg) / JOULE_PER_MEV;
      const rel = v.mean / ref - 1;
      console.log(`water 2.21 mm (${key}): MC ${v.mean.toExponential(4)} MeV/decay ± ${((100 * v.stdErr) / v.mean).toFixed(2)} %, kernel ${ref.toExponential(4)}: ${(100 * rel).toFixed(2)} %`);
      // 2 %: the issue's bar (same physics, different step scheme and cut-offs: the kernel's transport scores
      // shells with a 10 keV delta threshold, the MC voxels with 100 keV); 3 sigma: this run's noise (0.4-1.8 %)
      expect(Math.abs(rel)).toBeLessThan(0.02 + (3 * v.stdErr) / v.mean);
      compared++;
    }
    expect(compared).toBeGreaterThanOrEqual(7);
    // bremsstrahlung that leaves the grid: the kernel's radiated share (0.48 %) less what the 13 mm grid absorbs
    expect(r.escapedFraction).toBeGreaterThan(0.002);
    expect(r.escapedFraction).toBeLessThan(0.006);
  });

  for (const [L, n, histories] of [[2.21, 13, 45_000], [4.42, 7, 40_000]] as const) {
    it.skipIf(!haveTables)(`soft tissue 1.04 g/mL, ${L} mm voxels: S values = the published table within 2 % + 3 sigma where S > 1 % of S(0,0,0)`, () => {
      const p = pointSourceProblem({ n, voxelMm: L, densityGPerMl: 1.04, isotope: 'Y90', material: SOFT_TISSUE });
      const r = energyPerDecay(p, histories, 2, 10);
      const g = groupByOffset(n, r.mean, r.stdErr);
      const table = publishedS(L);
      const massKg = ((1.04 * L ** 3) / 1000) * 1e-3;
      let compared = 0;
      for (const [key, v] of g) {
        const ref = table.get(key);
        if (ref === undefined || ref <= 0.01 * table.get('0,0,0')!) continue;
        const s = ((v.mean * JOULE_PER_MEV) / massKg) * 1e9; // mGy/(MBq s)
        const rel = s / ref - 1;
        console.log(`soft tissue ${L} mm (${key}): MC ${s.toExponential(3)} ± ${((100 * v.stdErr) / v.mean).toFixed(2)} %, published ${ref.toExponential(3)}: ${(100 * rel).toFixed(2)} %`);
        // 2 %: the issue's bar; the published values carry their own MC noise (< 1 %) and 3 significant digits
        expect(Math.abs(rel)).toBeLessThan(0.02 + (3 * v.stdErr) / v.mean);
        compared++;
      }
      expect(compared).toBeGreaterThanOrEqual(L < 3 ? 7 : 4);
    });
  }
});
