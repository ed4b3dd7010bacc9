import { describe, expect, it } from 'vitest';
import {
  dvhBinIndex,
  dvhRange,
  quantiseDvhWeight,
  structureStatsCpu,
  type StructureStatsOptions,
} from '../../src/stats/index.ts';
import { InputError } from '../../src/errors.ts';
import type { GridStructure } from '../../src/volume/structure.ts';

function structure(idx: number[], w?: number[]): GridStructure {
  return { name: 's', origin: 'test', voxelIndices: Uint32Array.from(idx), weights: Float32Array.from(w ?? idx.map(() => 1)) };
}

describe('structureStatsCpu', () => {
  it('linear ramp: Dx = (1 - x/100) Dmax and V100 = 0.75 exactly', () => {
    // 10000 voxels with doses (i + 0.5) x 0.04 Gy, uniform on (0, 400) Gy: the fraction receiving >= d is
    // 1 - d / 400, so Dx = 400 (1 - x/100). Tolerance: half a voxel step (0.02 Gy) + one bin (400/2000 = 0.2 Gy).
    const n = 10000;
    const dose = new Float32Array(n).map((_, i) => (i + 0.5) * 0.04);
    const all = structure(Array.from({ length: n }, (_, i) => i));
    const [s] = structureStatsCpu({ doseGy: dose, activityBqPerMl: new Float32Array(n), densityGPerMl: 1, voxelVolumeMl: 0.1, structures: [all] });
    for (const [x, dx] of [[50, s.d50Gy], [70, s.d70Gy], [90, s.d90Gy], [98, s.d98Gy]] as const) {
      expect(Math.abs(dx - 400 * (1 - x / 100))).toBeLessThan(0.22);
    }
    expect(s.v100).toBe(0.75); // voxels i >= 2500 of 10000
    expect(s.v150).toBe(0.625);
    expect(s.v205).toBeCloseTo(0.4875, 12); // i >= 5112.5 -> 4875 voxels
    expect(s.meanGy).toBeCloseTo(200, 3);
    expect(s.minGy).toBe(Math.fround(0.02));
    expect(s.maxGy).toBe(Math.fround(399.98));
    expect(s.dvh.doseGy.length).toBeLessThanOrEqual(200);
    expect(s.dvh.volumeFraction[0]).toBe(1);
    expect(s.dvh.volumeFraction.at(-1)).toBe(0);
    // the resampled DVH is the cumulative curve 1 - d / 400 (same tolerance in dose, as a fraction 0.22 / 400)
    s.dvh.doseGy.forEach((d, k) => expect(Math.abs(s.dvh.volumeFraction[k] - (1 - d / 400))).toBeLessThan(0.22 / 400 + 1e-12));
  });

  it('weights: mean is mass-weighted, volume and V-values weighted by occupancy, negatives counted', () => {
    // Two voxels: D = 300 Gy (w 0.25, rho 2) and 50 Gy (w 1, rho 1), activity -1 in the second.
    const opts: StructureStatsOptions = {
      doseGy: Float32Array.of(300, 50, 7),
      activityBqPerMl: Float32Array.of(10, -1, 5),
      densityGPerMl: Float32Array.of(2, 1, 1),
      voxelVolumeMl: 2,
      structures: [structure([0, 1], [0.25, 1])],
    };
    const [s] = structureStatsCpu(opts);
    expect(s.volumeMl).toBe(2.5);
    expect(s.massG).toBe(3); // (0.25 x 2 + 1 x 1) x 2 mL
    expect(s.activityBq).toBe(3); // (0.25 x 10 - 1) x 2
    expect(s.meanGy).toBe((0.5 * 300 + 50) / 1.5);
    expect(s.v100).toBe(0.25 / 1.25);
    expect(s.v205).toBe(0.25 / 1.25);
    expect(s.negativeVoxelCount).toBe(1);
    expect(s.voxelCount).toBe(2);
    expect([s.minGy, s.maxGy]).toEqual([50, 300]);
    // By volume 20 % is at 300 Gy and 80 % at 50 Gy: 90 % and 50 % of the volume receive at least ~50 Gy
    // (within one bin, 300 / 2000 Gy, of the histogram on [0, 300] Gy).
    expect(Math.abs(s.d90Gy - 50)).toBeLessThan(300 / 2000 + 1e-9);
    expect(Math.abs(s.d50Gy - 50)).toBeLessThan(300 / 2000 + 1e-9);
  });

  it('empty structures give zeros and NaN doses; negative doses widen the histogram below 0', () => {
    const [e, neg] = structureStatsCpu({
      doseGy: Float32Array.of(-10, 10),
      activityBqPerMl: Float32Array.of(-1, 1),
      densityGPerMl: 1,
      voxelVolumeMl: 1,
      structures: [structure([]), structure([0, 1])],
    });
    expect([e.voxelCount, e.volumeMl, e.massG]).toEqual([0, 0, 0]);
    expect(Number.isNaN(e.meanGy) && Number.isNaN(e.d90Gy) && Number.isNaN(e.minGy)).toBe(true);
    expect(neg.minGy).toBe(-10);
    expect(neg.meanGy).toBe(0);
    // Histogram on [-10, 10] Gy: half the volume receives >= ~10 Gy, 90 % >= ~-10 Gy (within one bin, 0.01 Gy).
    expect(Math.abs(neg.d50Gy - 10)).toBeLessThan(20 / 2000 + 1e-9);
    expect(Math.abs(neg.d90Gy + 10)).toBeLessThan(20 / 2000 + 1e-9);
  });

  it('rejects inconsistent inputs with InputError', () => {
    const base = { doseGy: new Float32Array(4), activityBqPerMl: new Float32Array(4), densityGPerMl: 1, voxelVolumeMl: 1 };
    expect(() => structureStatsCpu({ ...base, structures: [structure([2, 1])] })).toThrow(/not ascending/);
    expect(() => structureStatsCpu({ ...base, structures: [structure([4])] })).toThrow(/outside the grid/);
    expect(() => structureStatsCpu({ ...base, structures: [structure([0])], dvhBins: 1 })).toThrow(InputError);
    expect(() => structureStatsCpu({ ...base, doseGy: Float32Array.of(NaN, 0, 0, 0), structures: [structure([0, 1])] })).toThrow(/non-finite/);
  });
});

describe('DVH helpers', () => {
  it('quantise weights to round-half-up(w x 1024)', () => {
    expect([1, 0.5, 1 / 2048, 0.4 / 1024, 3.5 / 1024, 2.5 / 1024].map(quantiseDvhWeight)).toEqual([1024, 512, 1, 0, 4, 3]);
  });
  it('bin the maximum dose into the last bin and the lower edge into bin 0', () => {
    const r = dvhRange(-5, 95, 100);
    expect(r.loGy).toBe(-5);
    expect(dvhBinIndex(95, r)).toBe(99);
    expect(dvhBinIndex(-5, r)).toBe(0);
    expect(dvhBinIndex(0.5, r)).toBe(5);
    expect(dvhRange(0, 0, 10).scalePerGyF32).toBe(0);
  });
});

describe('structure checks remembered between calls (the Monte Carlo calls the statistics dozens of times)', () => {
  it('a structure that passed on one grid is checked again on a smaller grid, and with new arrays', () => {
    const s = structure([0, 5, 9]);
    const opts = (n: number, st: GridStructure): StructureStatsOptions => ({ doseGy: new Float32Array(n), activityBqPerMl: new Float32Array(n), densityGPerMl: 1, voxelVolumeMl: 1, structures: [st] });
    expect(() => structureStatsCpu(opts(10, s))).not.toThrow();
    expect(() => structureStatsCpu(opts(10, s))).not.toThrow();
    // same object, a grid too small for index 9: refused, not waved through by the memory of the first check
    expect(() => structureStatsCpu(opts(8, s))).toThrow(/outside the grid of 8 voxels/);
    // the same structure with another index array (a copy that is not ascending): checked afresh
    const bad: GridStructure = { ...s, voxelIndices: Uint32Array.from([0, 9, 5]) };
    expect(() => structureStatsCpu(opts(10, bad))).toThrow(/not ascending/);
    const short: GridStructure = { ...s, weights: Float32Array.from([1, 1]) };
    expect(() => structureStatsCpu(opts(10, short))).toThrow(InputError);
  });
});
