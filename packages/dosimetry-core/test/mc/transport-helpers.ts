/**
 * Helpers of the CPU Monte Carlo transport tests (not a test file): point-source and uniform-source problems, and
 * tallies split into batches for statistical uncertainties.
 */
import { historyStream } from '../../src/mc/philox.ts';
import { buildMcProblem } from '../../src/mc/problem.ts';
import { sampleSourceEntry } from '../../src/mc/source.ts';
import { createCpuTally, runHistoriesCpu } from '../../src/mc/transport-cpu.ts';
import type { McMaterial, McProblem } from '../../src/mc/types.ts';
import type { Isotope } from '../../src/units/index.ts';

/** A cubic grid of n^3 voxels of `voxelMm`, uniform density, activity in the central voxel only (n odd). */
export function pointSourceProblem(o: { n: number; voxelMm: number; densityGPerMl: number; isotope: Isotope; material?: McMaterial }): McProblem {
  const { n } = o;
  const act = new Float32Array(n * n * n);
  const c = (n - 1) / 2;
  act[c + n * (c + n * c)] = 1;
  return buildMcProblem({ dims: [n, n, n], spacingMm: [o.voxelMm, o.voxelMm, o.voxelMm], activityBqPerMl: act, densityGPerMl: o.densityGPerMl, isotope: o.isotope, material: o.material });
}

/**
 * Mean energy per decay [MeV] in each voxel and its standard error from `batches` independent batches
 * (histories split into consecutive ranges of one seed).
 */
export function energyPerDecay(problem: McProblem, histories: number, seed = 1, batches = 10): { mean: Float64Array; stdErr: Float64Array; escapedFraction: number } {
  const nVox = problem.dims[0] * problem.dims[1] * problem.dims[2];
  const sum = new Float64Array(nVox);
  const sq = new Float64Array(nVox);
  const per = Math.floor(histories / batches);
  let emitted = 0;
  let escaped = 0;
  for (let b = 0; b < batches; b++) {
    const t = createCpuTally(problem);
    runHistoriesCpu(problem, seed, b * per, per, t);
    emitted += t.emitted;
    escaped += t.escaped;
    for (let v = 0; v < nVox; v++) {
      const e = (t.energy[v] * problem.tallyUnitMeV) / per;
      sum[v] += e;
      sq[v] += e * e;
    }
  }
  const mean = sum.map((s) => s / batches);
  const stdErr = mean.map((m, v) => Math.sqrt(Math.max(0, sq[v] / batches - m * m) / (batches - 1)));
  return { mean, stdErr, escapedFraction: escaped / emitted };
}

/**
 * Offsets from the centre voxel grouped by symmetry (sorted absolute offsets): the mean over the group's voxels of
 * `values` and of the standard errors (divided by sqrt(group size): the group's voxels are nearly independent).
 */
export function groupByOffset(n: number, mean: Float64Array, stdErr: Float64Array): Map<string, { mean: number; stdErr: number; offset: [number, number, number] }> {
  const c = (n - 1) / 2;
  const acc = new Map<string, { s: number; e2: number; count: number; offset: [number, number, number] }>();
  for (let k = 0; k < n; k++)
    for (let j = 0; j < n; j++)
      for (let i = 0; i < n; i++) {
        const o = [Math.abs(i - c), Math.abs(j - c), Math.abs(k - c)].sort((a, b) => a - b) as [number, number, number];
        const key = o.join(',');
        const v = i + n * (j + n * k);
        const a = acc.get(key) ?? { s: 0, e2: 0, count: 0, offset: o };
        a.s += mean[v];
        a.e2 += stdErr[v] ** 2;
        a.count++;
        acc.set(key, a);
      }
  const out = new Map<string, { mean: number; stdErr: number; offset: [number, number, number] }>();
  for (const [key, a] of acc) out.set(key, { mean: a.s / a.count, stdErr: Math.sqrt(a.e2) / a.count, offset: a.offset });
  return out;
}

/**
 * Interior of a uniform source deeper than the beta range (charged-particle equilibrium), run history by history (the
 * decay's voxel from the transport's own sampling rule), two estimators of the energy deposited per energy emitted:
 * - direct: R_dir = Σ_h E_int(h) / Σ_{h: decay in the region} E_emitted(h) (what the region's voxel tallies hold);
 * - reciprocity: R_rec = Σ_{h in region} (E_emitted(h) − E_escaped(h)) / Σ_{h in region} E_emitted(h): in a uniform
 *   medium the kernel is symmetric, so the energy a uniform source deposits in the region equals the energy the
 *   region's own decays deposit anywhere (when the grid holds their whole range): no exchange noise.
 * Dividing by the decays' own emitted energy (a ratio estimator) removes the spectrum's variance. Standard errors
 * from `batches` consecutive groups of histories; `diffStdErr` is that of R_dir − R_rec (paired by batch).
 */
export function interiorRatio(
  problem: McProblem,
  interior: (v: number) => boolean,
  histories: number,
  seed = 1,
  batches = 20,
): { direct: number; directStdErr: number; reciprocity: number; reciprocityStdErr: number; diffStdErr: number; interiorDecays: number } {
  const nVox = problem.dims[0] * problem.dims[1] * problem.dims[2];
  const voxels: number[] = [];
  for (let v = 0; v < nVox; v++) if (interior(v)) voxels.push(v);
  const t = createCpuTally(problem);
  const per = Math.floor(histories / batches);
  const dir = new Float64Array(batches);
  const rec = new Float64Array(batches);
  const den = new Float64Array(batches);
  let inside = 0;
  let before = 0;
  for (let b = 0; b < batches; b++) {
    for (let h = b * per; h < (b + 1) * per; h++) {
      const emitted0 = t.emitted;
      const escaped0 = t.escaped;
      runHistoriesCpu(problem, seed, h, 1, t);
      let now = 0;
      for (const v of voxels) now += t.energy[v];
      dir[b] += now - before;
      before = now;
      if (interior(problem.sourceVoxel[sampleSourceEntry(historyStream(seed, h), problem)])) {
        den[b] += t.emitted - emitted0;
        rec[b] += t.emitted - emitted0 - (t.escaped - escaped0);
        inside++;
      }
    }
  }
  const sum = (a: Float64Array) => a.reduce((s, x) => s + x, 0);
  const direct = sum(dir) / sum(den);
  const reciprocity = sum(rec) / sum(den);
  const se = (f: (b: number) => number, mean: number) => {
    let s2 = 0;
    for (let b = 0; b < batches; b++) s2 += (f(b) - mean) ** 2;
    return Math.sqrt(s2 / (batches - 1) / batches);
  };
  return {
    direct,
    directStdErr: se((b) => dir[b] / den[b], direct),
    reciprocity,
    reciprocityStdErr: se((b) => rec[b] / den[b], reciprocity),
    diffStdErr: se((b) => (dir[b] - rec[b]) / den[b], direct - reciprocity),
    interiorDecays: inside,
  };
}
