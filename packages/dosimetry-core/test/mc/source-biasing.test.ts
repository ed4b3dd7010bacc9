/**
 * Source biasing (importance sampling of the decay source, ../../src/mc/source.ts buildBiasedSource): unbiased against
 * the analog source on a liver phantom with a small hot lesion, weighted energy balance, and the lesion's smaller
 * standard error at equal histories; target mode through the run API on the CPU and the WebGPU back ends (the same
 * biased source and the same histories on both).
 */
import { describe, expect, it } from 'vitest';
import { buildMcProblem } from '../../src/mc/problem.ts';
import { runMonteCarloDose, type McDoseResult, type McStructure } from '../../src/mc/run.ts';
import { buildBiasedSource, buildSourceAlias } from '../../src/mc/source.ts';
import { cpuMcTransport, createCpuTally, runHistoriesCpu } from '../../src/mc/transport-cpu.ts';
import { gpuMcTransport } from '../../src/mc/transport-gpu.ts';
import type { McProblem, McTransport } from '../../src/mc/types.ts';
import { gpuForTests } from '../gpu/gpu-context.ts';

const ctx = await gpuForTests();

const N = 24;
const VOXEL_MM = 4;

/** Liver sphere (radius 10 voxels, 1 Bq/mL) with a lesion (radius 2 voxels, 1 Bq/mL: ~0.8 % of the activity). */
function phantom(): { problem: McProblem; activity: Float32Array; liver: Uint32Array; lesion: Uint32Array } {
  const act = new Float32Array(N * N * N);
  const liver: number[] = [];
  const lesion: number[] = [];
  const c = (N - 1) / 2;
  for (let k = 0; k < N; k++)
    for (let j = 0; j < N; j++)
      for (let i = 0; i < N; i++) {
        const v = i + N * (j + N * k);
        const r2 = (i - c) ** 2 + (j - c) ** 2 + (k - c) ** 2;
        const l2 = (i - c - 5) ** 2 + (j - c) ** 2 + (k - c) ** 2;
        if (l2 <= 4) {
          lesion.push(v);
          act[v] = 1;
        } else if (r2 <= 100) {
          liver.push(v);
          act[v] = 1;
        }
      }
  const problem = buildMcProblem({ dims: [N, N, N], spacingMm: [VOXEL_MM, VOXEL_MM, VOXEL_MM], activityBqPerMl: act, densityGPerMl: new Float32Array(N * N * N).fill(1), isotope: 'Y90' });
  return { problem, activity: act, liver: Uint32Array.from(liver), lesion: Uint32Array.from(lesion) };
}

/** Mean energy per history [MeV] over a region and its standard error from 20 batches; energy balance terms. */
function regionEnergy(problem: McProblem, histories: number, regions: Uint32Array[]) {
  const batches = 20;
  const per = histories / batches;
  const sums = regions.map(() => ({ s: 0, s2: 0 }));
  let dep = 0;
  let esc = 0;
  let emit = 0;
  for (let b = 0; b < batches; b++) {
    const t = createCpuTally(problem);
    runHistoriesCpu(problem, 7, b * per, per, t);
    regions.forEach((r, q) => {
      let e = 0;
      for (const v of r) e += t.energy[v];
      e = (e * problem.tallyUnitMeV) / per;
      sums[q].s += e;
      sums[q].s2 += e * e;
    });
    for (const e of t.energy) dep += e;
    esc += t.escaped;
    emit += t.emitted;
  }
  const stats = sums.map(({ s, s2 }) => {
    const m = s / batches;
    return { mean: m, stdErr: Math.sqrt(Math.max(0, s2 / batches - m * m) / (batches - 1)) };
  });
  return { stats, balance: (dep + esc - emit) / emit };
}

describe('source biasing', () => {
  it('normalises the mixture and gives each target structure at least lambda/K of the decays', () => {
    const { activity, liver, lesion } = phantom();
    const b = buildBiasedSource(activity, [
      { name: 'liver', voxelIndices: liver, weights: new Float32Array(liver.length).fill(1) },
      { name: 'lesion', voxelIndices: lesion, weights: new Float32Array(lesion.length).fill(1) },
    ]);
    expect(b).not.toBeNull();
    if (!b) return;
    // sum over voxels of q_v w_v = sum p_v = 1 (the weights undo the mixture exactly, f32 rounding of w: 1e-6)
    const analog = buildSourceAlias(activity);
    const total = analog.totalWeight;
    let qTotal = 0;
    let qLesion = 0;
    let pw = 0;
    const inLesion = new Set(lesion);
    for (let e = 0; e < b.alias.sourceVoxel.length; e++) {
      const v = b.alias.sourceVoxel[e];
      const m = 1 / b.alias.sourceWeight[e];
      qTotal += (activity[v] / total) * m;
      pw += (activity[v] / total) * m * b.alias.sourceWeight[e];
      if (inLesion.has(v)) qLesion += (activity[v] / total) * m;
    }
    expect(Math.abs(qTotal - 1)).toBeLessThan(1e-6); // f32 weights
    expect(Math.abs(pw - 1)).toBeLessThan(1e-6);
    expect(qLesion).toBeGreaterThanOrEqual(0.25 - 1e-6); // lambda / K = 0.5 / 2
    expect(b.biasing.structures.map((s) => s.name)).toEqual(['liver', 'lesion']);
    expect(b.biasing.maxWeight).toBeGreaterThan(1);
    expect(b.biasing.minWeight).toBeLessThan(0.1);
    // nothing to bias: one structure holding all the activity
    const all = Uint32Array.from([...liver, ...lesion]);
    expect(buildBiasedSource(activity, [{ name: 'all', voxelIndices: all, weights: new Float32Array(all.length).fill(1) }])).toBeNull();
    expect(buildBiasedSource(activity, [])).toBeNull();
  });

  it('is unbiased against the analog source and shrinks the lesion standard error at equal histories', () => {
    const { problem, activity, liver, lesion } = phantom();
    const b = buildBiasedSource(activity, [
      { name: 'liver', voxelIndices: liver, weights: new Float32Array(liver.length).fill(1) },
      { name: 'lesion', voxelIndices: lesion, weights: new Float32Array(lesion.length).fill(1) },
    ]);
    if (!b) throw new Error('expected a biased source');
    const biased: McProblem = { ...problem, sourceVoxel: b.alias.sourceVoxel, sourceProbability: b.alias.sourceProbability, sourceAlias: b.alias.sourceAlias, sourceWeight: b.alias.sourceWeight };
    const H = 40_000;
    const a = regionEnergy(problem, H, [liver, lesion]);
    const w = regionEnergy(biased, H, [liver, lesion]);
    for (let q = 0; q < 2; q++) {
      const diff = Math.abs(a.stats[q].mean - w.stats[q].mean);
      const se = Math.hypot(a.stats[q].stdErr, w.stats[q].stdErr);
      console.log(`region ${q}: analog ${a.stats[q].mean.toExponential(4)} ± ${a.stats[q].stdErr.toExponential(2)}, biased ${w.stats[q].mean.toExponential(4)} ± ${w.stats[q].stdErr.toExponential(2)}, |diff|/se ${(diff / se).toFixed(2)}`);
      // unbiased: the two estimates of the same expectation agree within 3 combined standard errors
      expect(diff).toBeLessThan(3 * se);
    }
    // the lesion (0.8 % of the activity) gets ~25 % of the decays, but much of its energy comes from liver decays
    // within the beta range (now sampled with weight 1.33), so its relative standard error falls ~1.8x (measured),
    // not the sqrt(0.25 / 0.008) ≈ 5.6x of a self-dose-only lesion; asked: at least 1.4x (the ratio of two 20-batch
    // standard errors scatters by ~±23 %)
    const relA = a.stats[1].stdErr / a.stats[1].mean;
    const relW = w.stats[1].stdErr / w.stats[1].mean;
    console.log(`lesion rel. SE: analog ${(100 * relA).toFixed(2)} %, biased ${(100 * relW).toFixed(2)} %`);
    expect(relW).toBeLessThan(relA / 1.4);
    // weighted energy balance: each term rounded to a unit (1 eV) of ~MeV energies
    console.log(`balance: analog ${a.balance.toExponential(2)}, biased ${w.balance.toExponential(2)}`);
    expect(Math.abs(w.balance)).toBeLessThan(1e-6);
  }, 300_000);

  it('analog histories are unchanged by an all-ones weight array (x / 1 === x)', () => {
    const { problem } = phantom();
    const ones: McProblem = { ...problem, sourceWeight: new Float32Array(problem.sourceVoxel.length).fill(1) };
    const t0 = createCpuTally(problem);
    const t1 = createCpuTally(problem);
    runHistoriesCpu(problem, 3, 0, 300, t0);
    runHistoriesCpu(ones, 3, 0, 300, t1);
    expect(Array.from(t1.energy)).toEqual(Array.from(t0.energy));
    expect(t1.escaped).toBe(t0.escaped);
    expect(t1.emitted).toBe(t0.emitted);
  });
});

describe.skipIf(!ctx)('target mode on the WebGPU back end (run API)', () => {
  it('biases the source as the CPU does: the same sourceBiasing, the same histories, the same dose', async () => {
    // liver sphere (radius 10 voxels) with a tumour sphere (radius 4 voxels, 18 mL >= the 10 mL of a target
    // structure; 6.6 % of the activity at equal concentration): buildBiasedSource gives the tumour's decays weight
    // ~0.23 and the liver's ~1.3
    const act = new Float32Array(N * N * N);
    const liver: number[] = [];
    const tumour: number[] = [];
    const c = (N - 1) / 2;
    for (let k = 0; k < N; k++)
      for (let j = 0; j < N; j++)
        for (let i = 0; i < N; i++) {
          const v = i + N * (j + N * k);
          if ((i - c - 4) ** 2 + (j - c) ** 2 + (k - c) ** 2 <= 16) tumour.push(v);
          else if ((i - c) ** 2 + (j - c) ** 2 + (k - c) ** 2 <= 100) liver.push(v);
          else continue;
          act[v] = 1;
        }
    const structures: McStructure[] = [
      { name: 'Liver', origin: 'test', voxelIndices: Uint32Array.from(liver), weights: new Float32Array(liver.length).fill(1) },
      { name: 'Tumour', origin: 'test', voxelIndices: Uint32Array.from(tumour), weights: new Float32Array(tumour.length).fill(1) },
    ];
    // the pilot is the whole run (cap = pilot): both back ends run histories 0..3999 of seed 5 in the same 10 batches
    const run = (transport: McTransport): Promise<McDoseResult> =>
      runMonteCarloDose({
        dims: [N, N, N],
        spacingMm: [VOXEL_MM, VOXEL_MM, VOXEL_MM],
        activityBqPerMl: act,
        densityGPerMl: 1,
        isotope: 'Y90',
        transport,
        seed: 5,
        plan: { kind: 'target', relStdErr: 0.01, pilotHistories: 4000, maxHistories: 4000 },
        structures,
      });
    const cpu = cpuMcTransport({ threads: 1 });
    const gpu = gpuMcTransport(ctx!);
    try {
      const rc = await run(cpu);
      const rg = await run(gpu);
      expect(rg.provenance.backend).toBe('webgpu');
      expect(rc.provenance.sourceBiasing).not.toBeNull();
      expect(rg.provenance.sourceBiasing).toEqual(rc.provenance.sourceBiasing);
      expect(rg.provenance.sourceBiasing?.structures.map((x) => x.name)).toEqual(['Liver', 'Tumour']);
      expect(rg.provenance.sourceBiasingNote).toBeUndefined();
      expect(rg.warnings.join('\n')).toMatch(/source biasing: 50 % of the decays spread over "Liver" .*"Tumour"/);
      expect(rg.provenance.batchHistories).toEqual(rc.provenance.batchHistories);
      expect(rg.provenance.histories).toBe(4000);
      let tc = 0;
      let tg = 0;
      let l1 = 0;
      for (let v = 0; v < rc.doseGy.length; v++) {
        tc += rc.doseGy[v];
        tg += rg.doseGy[v];
        l1 += Math.abs(rg.doseGy[v] - rc.doseGy[v]);
      }
      const tumourMean = (r: McDoseResult) => tumour.reduce((s, v) => s + r.doseGy[v], 0) / tumour.length;
      console.log(
        `target mode, webgpu vs cpu: total ${(tg / tc - 1).toExponential(2)}, L1 ${(l1 / tc).toExponential(2)}, tumour mean ${(tumourMean(rg) / tumourMean(rc) - 1).toExponential(2)}; ` +
          `balance webgpu ${rg.provenance.energyBalance.relativeImbalance.toExponential(2)}, weights ${rg.provenance.sourceBiasing?.minWeight.toPrecision(3)}-${rg.provenance.sourceBiasing?.maxWeight.toPrecision(3)}`,
      );
      // the same weighted histories (test/mc/transport-gpu.test.ts): total within 1e-4, voxel L1 within 2e-3 of the
      // total (a rare diverged history, f32 deposit rounding; the doses are f32), as in the transport tests
      expect(Math.abs(tg / tc - 1)).toBeLessThan(1e-4);
      expect(l1 / tc).toBeLessThan(2e-3);
      // weighted energy balance: each term rounded to a unit (<= 0.5 unit of ~1e6-unit histories): 1e-6
      expect(Math.abs(rg.provenance.energyBalance.relativeImbalance)).toBeLessThan(1e-6);
    } finally {
      await cpu.dispose();
      await gpu.dispose();
    }
  }, 300_000);
});
