import { describe, expect, it } from 'vitest';
import { ldmDoseCpu } from '../../src/cpu/ldm.ts';
import { structureStatsGpu } from '../../src/gpu/index.ts';
import { structureStatsCpu, type StructureDoseStats, type StructureStatsOptions } from '../../src/stats/index.ts';
import type { GridStructure } from '../../src/volume/structure.ts';
import { ctLikeDensity, noisyActivity, randomStructure, rng, sphereStructure } from '../stats/phantoms.ts';
import { gpuForTests } from './gpu-context.ts';

const ctx = await gpuForTests();

/**
 * Sums on the GPU are f32 partials over <= 32 entries per invocation (groups of 4 summed, the <= 8 group sums added
 * serially: ~10 roundings, each 2^-24 relative to the running sum of magnitudes, plus up to 2 products of 2^-24 per
 * term), added in f64 on the host: |gpu - cpu| <= 1e-6 x sum |terms| (the bound is ~7e-7).
 */
const SUM_REL_TOL = 1e-6;

interface AbsSums {
  weight: number;
  mass: number;
  activity: number;
  energy: number;
}

function absSums(opts: StructureStatsOptions, s: GridStructure): AbsSums {
  const out = { weight: 0, mass: 0, activity: 0, energy: 0 };
  for (let k = 0; k < s.voxelIndices.length; k++) {
    const w = s.weights[k];
    const i = s.voxelIndices[k];
    const rho = Math.max(typeof opts.densityGPerMl === 'number' ? opts.densityGPerMl : opts.densityGPerMl[i], 0);
    const m = s.partMassGPerMl ? Math.max(s.partMassGPerMl[k], 0) : w * rho;
    out.weight += w;
    out.mass += m;
    out.activity += Math.abs(w * opts.activityBqPerMl[i]);
    out.energy += Math.abs(m * opts.doseGy[i]);
  }
  return out;
}

/** `s` with a part mass per entry: w x a density in 0..1.5 g/mL (some entries 0: a structure's part in air). */
function withPartMass(s: GridStructure, name: string, seed: number): GridStructure {
  const r = rng(seed);
  return { ...s, name, partMassGPerMl: Float32Array.from(s.weights, (w) => (r() < 0.05 ? 0 : w * 1.5 * r())) };
}

function expectAgreement(g: StructureDoseStats, c: StructureDoseStats, abs: AbsSums, vVoxMl: number): void {
  // exact: counts, extremes (atomics on exact f32 keys), histogram-derived Dx and DVH (same integers, same host code)
  expect(g.voxelCount).toBe(c.voxelCount);
  expect(g.negativeVoxelCount).toBe(c.negativeVoxelCount);
  expect(Object.is(g.minGy, c.minGy) || g.minGy === c.minGy).toBe(true);
  expect(Object.is(g.maxGy, c.maxGy) || g.maxGy === c.maxGy).toBe(true);
  expect([g.d50Gy, g.d70Gy, g.d90Gy, g.d98Gy]).toEqual([c.d50Gy, c.d70Gy, c.d90Gy, c.d98Gy]);
  expect(g.dvh).toEqual(c.dvh);
  // sums: SUM_REL_TOL of the sum of magnitudes
  const close = (a: number, b: number, scale: number) => expect(Math.abs(a - b)).toBeLessThanOrEqual(SUM_REL_TOL * scale + 1e-300);
  close(g.volumeMl, c.volumeMl, abs.weight * vVoxMl);
  close(g.massG, c.massG, abs.mass * vVoxMl);
  close(g.activityBq, c.activityBq, abs.activity * vVoxMl);
  // mean = E / M: error <= dE / M + mean x dM / M, with dE, dM each SUM_REL_TOL of their magnitude sums
  if (c.massG > 0) close(g.meanGy, c.meanGy, abs.energy / abs.mass + 2 * Math.abs(c.meanGy));
  else expect(Number.isNaN(g.meanGy)).toBe(true);
  // V-values: ratios of weight sums, each within SUM_REL_TOL: 3e-6 absolute on a fraction.
  for (const k of ['v100', 'v150', 'v205'] as const) expect(Math.abs(g[k] - c[k])).toBeLessThanOrEqual(3e-6);
}

describe.skipIf(!ctx)('structureStatsGpu (WebGPU) vs structureStatsCpu', () => {
  // size x density x tiling; every case holds a sphere, random sparse structures with fractional weights, a full
  // structure, an empty one and a one-voxel one; activity has ~10 % negative voxels.
  const grid = [
    { dims: [7, 5, 3], density: 'scalar', tileVoxels: undefined, dvhBins: 2000 },
    { dims: [33, 17, 9], density: 'ct', tileVoxels: undefined, dvhBins: 2000 },
    { dims: [33, 17, 9], density: 'ct', tileVoxels: 1000, dvhBins: 50, maxPerDim: 3 },
    { dims: [48, 40, 36], density: 'scalar', tileVoxels: 9_999, dvhBins: 2000 },
    { dims: [64, 64, 48], density: 'ct', tileVoxels: undefined, dvhBins: 500 },
    // batches of 700 entries: several uploads per tile, jobs split across batches
    { dims: [33, 17, 9], density: 'ct', tileVoxels: undefined, dvhBins: 2000, batchEntries: 700 },
    { dims: [48, 40, 36], density: 'scalar', tileVoxels: 20_000, dvhBins: 300, batchEntries: 5_000 },
  ] as const;
  for (const c of grid) {
    const { dims, density, tileVoxels, dvhBins } = c;
    const maxPerDim = 'maxPerDim' in c ? c.maxPerDim : undefined; // forces the 2-D dispatch on a small volume
    const batchEntries = 'batchEntries' in c ? c.batchEntries : undefined;
    it(`${dims.join('x')}, ${density} density, ${dvhBins} bins${tileVoxels ? `, tiles of ${tileVoxels} voxels` : ''}${maxPerDim ? ', 2-D dispatch' : ''}${batchEntries ? `, batches of ${batchEntries} entries` : ''}`, async () => {
      const n = dims[0] * dims[1] * dims[2];
      const act = noisyActivity(n, n);
      const rho = density === 'scalar' ? 1.05 : ctLikeDensity(n, n + 7);
      const dose = ldmDoseCpu({ activityBqPerMl: act, densityGPerMl: rho, ldmJoulePerGBq: 49.67 });
      const cube = Math.min(...dims);
      const sphere = sphereStructure(cube, 1, cube / 3); // indices of a cube^3 grid, remapped to ours below
      const remap = Uint32Array.from(sphere.voxelIndices, (v) => {
        const i = v % cube;
        const j = Math.floor(v / cube) % cube;
        const k = Math.floor(v / (cube * cube));
        return i + dims[0] * (j + dims[1] * k);
      });
      const order = Array.from(remap.keys()).sort((a, b) => remap[a] - remap[b]);
      const structures: GridStructure[] = [
        { ...sphere, voxelIndices: Uint32Array.from(order, (o) => remap[o]), weights: Float32Array.from(order, (o) => sphere.weights[o]) },
        randomStructure(n, 0.3, 11),
        randomStructure(n, 0.05, 12),
        randomStructure(n, 1, 13, 'full', false),
        { name: 'empty', origin: 'test', voxelIndices: new Uint32Array(0), weights: new Float32Array(0) },
        { name: 'one', origin: 'test', voxelIndices: Uint32Array.of(n - 1), weights: Float32Array.of(0.3) },
        // equal contents in new arrays (computed once on the GPU, reported for both), and a near copy (one weight
        // differs) that must not be merged
        { ...randomStructure(n, 0.3, 11), name: 'copy of random' },
        (() => {
          const near = randomStructure(n, 0.3, 11);
          const w = Float32Array.from(near.weights);
          if (w.length > 0) w[w.length - 1] = w[w.length - 1] === 1 ? 0.5 : 1;
          return { ...near, name: 'near copy', weights: w };
        })(),
        // the mass of the structure's own part of each voxel (from a CT, GridStructure.partMassGPerMl): in place of
        // w rho, uploaded beside the weights; one with the voxels and weights of 'random 11' must not be merged with it
        withPartMass(randomStructure(n, 0.3, 11), 'random 11 with part masses', 21),
        withPartMass(randomStructure(n, 0.05, 14), 'sparse with part masses', 22),
      ];
      const vVoxMl = 0.064;
      const opts: StructureStatsOptions = { doseGy: dose, activityBqPerMl: act, densityGPerMl: rho, voxelVolumeMl: vVoxMl, structures, dvhBins };
      const cpu = structureStatsCpu(opts);
      const gpu = await structureStatsGpu({ ...ctx!, maxWorkgroupsPerDimension: maxPerDim ?? ctx!.maxWorkgroupsPerDimension }, { ...opts, tileVoxels, batchEntries });
      expect(gpu.length).toBe(structures.length);
      structures.forEach((s, k) => expectAgreement(gpu[k], cpu[k], absSums(opts, s), vVoxMl));
      expect(cpu[3].negativeVoxelCount).toBeGreaterThan(0);
      // the part masses are used (not w rho): same volume as 'random 11', another mass
      expect(Math.abs(gpu[8].volumeMl - cpu[1].volumeMl)).toBeLessThanOrEqual(SUM_REL_TOL * cpu[1].volumeMl);
      if (cpu[1].voxelCount > 0) expect(Math.abs(gpu[8].massG / cpu[1].massG - 1)).toBeGreaterThan(0.01);
      expect(cpu[3].minGy).toBeLessThan(0);
    });
  }

  it('counts a DVH bin past 2^32 (64-bit histogram words): 4.3 Mi full voxels at 120 Gy, 1 Mi at 60 Gy', async () => {
    // The 120 Gy bin holds 4.3e6 x 1024 = 4.4e9 > 2^32: a 32-bit histogram would wrap to ~0.1e6 voxels there,
    // and D50 would drop from ~120 Gy (81 % of the volume is at 120 Gy) to ~60 Gy.
    const nHigh = 4_300_000;
    const n = nHigh + 1_000_000;
    const dose = new Float32Array(n).fill(60).fill(120, 0, nHigh);
    const all: GridStructure = { name: 'two-level', origin: 'test', voxelIndices: Uint32Array.from({ length: n }, (_, i) => i), weights: new Float32Array(n).fill(1) };
    const opts: StructureStatsOptions = { doseGy: dose, activityBqPerMl: new Float32Array(n).fill(1), densityGPerMl: 1.05, voxelVolumeMl: 0.001, structures: [all], dvhBins: 100 };
    const [g] = await structureStatsGpu(ctx!, opts);
    const [c] = structureStatsCpu(opts);
    expect([g.d50Gy, g.d70Gy, g.d90Gy, g.d98Gy]).toEqual([c.d50Gy, c.d70Gy, c.d90Gy, c.d98Gy]);
    expect(Math.abs(g.d50Gy - 120)).toBeLessThanOrEqual(1.2); // within one bin (120 / 100 Gy)
    expect(Math.abs(g.d90Gy - 60)).toBeLessThanOrEqual(1.2);
    expect(g.v100).toBeCloseTo(nHigh / n, 6);
    expect(g.voxelCount).toBe(n);
  });
});
