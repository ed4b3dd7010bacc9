/**
 * `plan --territories --method mc` end to end on the two-territory phantom (packages/dosimetry-core/test/plan/
 * territory-phantom.ts, 24 x 12 x 16 voxels of 1 mL): one Monte Carlo run per territory at 1 GBq on its own range of
 * histories, the LP on their mean doses, and the uncertainty at the planned activities by the rule for a sum of
 * independent runs, se = sqrt(sum_t (A_t se_t)^2) (src/plan/territory-mc.ts), checked here against the per-territory
 * runs the plan writes (report.json plan.territories[].structures, territories/<slug>.dose_uncertainty.nii.gz).
 * Small history counts (2000 per territory): the file is about the plumbing and the rule; the transport's physics is
 * tested in packages/dosimetry-core/test/mc/.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readVolume } from '../../packages/dosimetry-core/src/io/index.ts';
import { writeTerritoryPhantom } from '../../packages/dosimetry-core/test/plan/territory-phantom.ts';
import { pdfText, popplerMissing, squeeze } from '../../packages/dosimetry-core/test/report/pdf-tools.ts';
import { runCli, tempDir } from './cli-harness.ts';
import { caseMemoryBytes, PROCESS_BASELINE_BYTES } from '../../packages/dosimetry-core/src/batch/resources.ts';
import { estimateDoseMemoryBytes } from '../../packages/dosimetry-core/src/dose/memory.ts';
import { geometry as phantomGrid, NX, NY, NZ } from '../../packages/dosimetry-core/test/plan/territory-phantom.ts';

const poppler = popplerMissing();
if (poppler) console.warn(`skipping the --report check: ${poppler}`);

interface Structure { name: string; meanGy: number; meanGyRelStdErr: number | null; uncertainty: Record<string, number | string | null> }
interface Territory { name: string; slug: string; activityGBq: number; doseMapPerGBq: string; doseUncertainty: string; structures: Array<{ name: string; meanGyPerGBq: number; meanGyPerGBqStdErr: number | null; meanGyRelStdErr: number | null }> }
interface Report {
  method: string; structures: Structure[];
  mc: { seed: number; histories: number; uncertaintyMethod: string; uncertaintyFile: string; runs: Array<{ territory: string; firstHistory: number; histories: number; batches: number; activityGBq: number }> };
  plan: { territories: Territory[] };
}

const rel = (a: number, b: number) => Math.abs(a - b) / Math.max(Math.abs(b), 1e-300);
let dir = '';
let paths: { scout: string; seg: string };
let territories = '';
const HISTORIES = 2000;
const args = (out: string, extra: string[] = ['--mc-histories', String(HISTORIES), '--seed', '7']) => [
  'plan', '--territories', territories, '--activity', paths.scout, '--segmentation', paths.seg, '--liver', 'Liver', '--tumor', 'Tumor A', '--tumor', 'Tumor B',
  '--lung', 'Lungs', '--method', 'mc', ...extra, '--backend', 'cpu', '--quiet', '--out', out,
];
const readReport = (out: string): Report => JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));

let a = '', b = '';
let rep: Report;
beforeAll(async () => {
  dir = tempDir('plan-territories-mc');
  paths = writeTerritoryPhantom(dir);
  territories = join(dir, 'territories.json');
  writeFileSync(territories, JSON.stringify({ territories: [
    { name: 'Left lobe', perfused: 'Left', device: 'glass' },
    { name: 'Right lobe', perfused: 'Right', device: 'resin', tumorGy: 150, normalLiverGy: 70 },
  ] }));
  a = join(dir, 'a');
  b = join(dir, 'b');
  for (const out of [a, b]) {
    const r = await runCli(args(out));
    if (r.code !== 0) throw new Error(`plan exited ${r.code}: ${r.stderr}`);
  }
  rep = readReport(a);
}, 300_000);

describe('plan --territories --method mc', () => {
  it('runs one Monte Carlo per territory on disjoint history ranges and writes the uncertainty maps', () => {
    expect(rep.method).toBe('mc');
    expect(rep.mc.seed).toBe(7);
    expect(rep.mc.runs.map((r) => r.territory)).toEqual(['Left lobe', 'Right lobe']);
    // territory t on histories t x 2^44 + 0..N-1 (src/mc/batches.ts MC_TERRITORY_HISTORY_STRIDE)
    expect(rep.mc.runs.map((r) => r.firstHistory)).toEqual([0, 2 ** 44]);
    expect(rep.mc.runs.map((r) => r.histories)).toEqual([HISTORIES, HISTORIES]);
    expect(rep.mc.histories).toBe(2 * HISTORIES);
    expect(rep.mc.uncertaintyMethod).toMatch(/sqrt\(sum_t \(A_t se_t\)\^2\)/);
    expect(existsSync(join(a, 'dose_uncertainty.nii.gz'))).toBe(true);
    for (const t of rep.plan.territories) {
      expect(existsSync(join(a, t.doseUncertainty))).toBe(true);
      expect(rep.mc.runs.find((r) => r.territory === t.name)!.activityGBq).toBe(t.activityGBq);
    }
    // every structure: its mean's relative standard error and the standard errors of the other statistics (batch
    // method on the summed batch maps: every run has the same 10 batches)
    for (const s of rep.structures) {
      expect(s.uncertainty.kind).toMatch(/batch method on the combined batch maps/);
      if (s.meanGy > 0) {
        expect(s.meanGyRelStdErr).toBeGreaterThan(0);
        expect(typeof s.uncertainty.d90Gy).toBe('number');
      }
    }
    // the lesions get most of the dose: their mean's relative error is small even at 2000 histories a territory
    // (each 1 GBq run puts about 200 decays into a 64 mL lesion: a few % at 10 batches)
    const tumourA = rep.structures.find((s) => s.name === 'Tumor A')!;
    expect(tumourA.meanGyRelStdErr!).toBeLessThan(0.2);
  });

  it('structure means and their standard errors follow sum_t A_t mean_t and sqrt(sum_t (A_t se_t)^2) of the per-territory runs', () => {
    const ts = rep.plan.territories;
    let checked = 0;
    rep.structures.forEach((s, i) => {
      // the combined map is sum_t A_t d_t in f64, stored f32; statistics on the f32 map: 1e-6
      const mean = ts.reduce((sum, t) => sum + t.activityGBq * t.structures[i].meanGyPerGBq, 0);
      expect(ts.every((t) => t.structures[i].name === s.name)).toBe(true);
      expect(rel(s.meanGy, mean)).toBeLessThan(1e-6);
      if (!(s.meanGy > 0)) return;
      const se = Math.sqrt(ts.reduce((q, t) => q + (t.activityGBq * t.structures[i].meanGyPerGBqStdErr!) ** 2, 0));
      // the same f64 numbers as the engine, but meanGy of the combined map (above, 1e-6) divides the report's value
      expect(rel(s.meanGyRelStdErr! * s.meanGy, se)).toBeLessThan(1e-6);
      expect(rel(s.uncertainty.meanGy as number, se)).toBeLessThan(1e-12);
      checked++;
    });
    expect(checked).toBeGreaterThanOrEqual(5);
  });

  it('per voxel: the combined relative standard error is sqrt(sum_t (A_t d_t r_t)^2) / sum_t A_t d_t of the territory maps', async () => {
    const ts = rep.plan.territories;
    const dose = (await readVolume(join(a, 'dose.nii.gz'))).data;
    const unc = (await readVolume(join(a, 'dose_uncertainty.nii.gz'))).data;
    const maps = await Promise.all(ts.map(async (t) => ({ d: (await readVolume(join(a, t.doseMapPerGBq))).data, r: (await readVolume(join(a, t.doseUncertainty))).data, A: t.activityGBq })));
    let compared = 0, worst = 0;
    for (let v = 0; v < dose.length; v++) {
      let sum = 0, q = 0;
      for (const m of maps) {
        sum += m.A * m.d[v];
        q += (m.A * m.d[v] * m.r[v]) ** 2;
      }
      if (!(sum > 0)) {
        expect(unc[v]).toBe(0);
        continue;
      }
      const expected = Math.sqrt(q) / sum;
      // f32 inputs (maps, relative errors) read back from the files, the engine's from the same values in f32: 1e-5
      const e = Math.abs(unc[v] - expected) / Math.max(expected, 1e-30);
      worst = Math.max(worst, e);
      compared++;
    }
    expect(compared).toBeGreaterThan(1000);
    expect(worst).toBeLessThan(1e-5);
  });

  it('structures.csv has the meanGyRelStdErr column, equal to report.json', () => {
    const lines = readFileSync(join(a, 'structures.csv'), 'utf8').trim().split('\n');
    const head = lines[0].split(',');
    const col = head.indexOf('meanGyRelStdErr');
    expect(col).toBeGreaterThan(0);
    lines.slice(1).forEach((line, i) => {
      const cell = line.split(',')[col];
      const x = rep.structures[i].meanGyRelStdErr;
      expect(cell).toBe(x === null ? '' : String(x));
    });
  });

  it('the same seed gives byte-identical outputs; another seed other doses', async () => {
    const same = (f: string) => Buffer.compare(readFileSync(join(a, f)), readFileSync(join(b, f))) === 0;
    for (const f of ['dose.nii.gz', 'dose_uncertainty.nii.gz', 'report.json', 'structures.csv', ...rep.plan.territories.flatMap((t) => [t.doseMapPerGBq, t.doseUncertainty])]) {
      expect(same(f), f).toBe(true);
    }
    const c = join(dir, 'c');
    const r = await runCli(args(c, ['--mc-histories', String(HISTORIES), '--seed', '8']));
    expect(r.code, r.stderr).toBe(0);
    expect(Buffer.compare(readFileSync(join(a, 'dose.nii.gz')), readFileSync(join(c, 'dose.nii.gz')))).not.toBe(0);
  }, 300_000);

  it('--mc-target-uncertainty: the mean dose gets its standard error by the rule, the other statistics none (said)', async () => {
    const out = join(dir, 'target');
    // 4 % (with the target mode's source biasing): one territory's run reaches it in its pilot (10^4 histories), the
    // other's needs two more batches, so the runs end at different batch counts (12 and 10 batches of 1000)
    const r = await runCli(args(out, ['--mc-target-uncertainty', '4', '--mc-max-histories', '100000', '--seed', '3']));
    expect(r.code, r.stderr).toBe(0);
    const t = readReport(out) as Report & { mc: { runs: Array<{ batchHistories: number[] }> } };
    expect(t.mc.runs[0].batchHistories).not.toEqual(t.mc.runs[1].batchHistories);
    for (const s of t.structures) {
      expect(s.uncertainty.kind).toMatch(/mean dose .* only/);
      expect(s.uncertainty.d90Gy).toBeNull();
    }
    const ts = t.plan.territories;
    const i = t.structures.findIndex((s) => s.name === 'Tumor A');
    const se = Math.sqrt(ts.reduce((q, x) => q + (x.activityGBq * x.structures[i].meanGyPerGBqStdErr!) ** 2, 0));
    expect(rel(t.structures[i].uncertainty.meanGy as number, se)).toBeLessThan(1e-12);
  }, 300_000);

  it.skipIf(poppler !== undefined)('--report: the PDF says Monte Carlo, the histories, the seed and each structure mean\'s relative standard error', async () => {
    const out = join(dir, 'pdf');
    const r = await runCli([...args(out), '--report']);
    expect(r.code, r.stderr).toBe(0);
    const t = readReport(out);
    const text = squeeze(pdfText(join(out, 'report.pdf')));
    expect(text).toContain(squeeze('Y90 MC (Monte Carlo)'));
    expect(text).toContain(squeeze(`${2 * HISTORIES} histories in 2 independent runs (one per territory), seed 7`));
    expect(text).toContain(squeeze('Mean SE %'));
    // the table's "Mean SE %" column: 100 x meanGyRelStdErr with 2 decimals, next to the mean (1 decimal)
    for (const s of t.structures.filter((x) => x.meanGyRelStdErr !== null && x.meanGy > 0)) {
      expect(text).toContain(squeeze(`${s.meanGy.toFixed(1)} ${(100 * s.meanGyRelStdErr!).toFixed(2)}`));
    }
  }, 300_000);
});

describe('plan --territories --method mc: the reported standard errors describe the scatter between seeds', () => {
  it('16 seeds at fixed activities: the spread of the combined means matches sqrt(sum_t (A_t se_t)^2)', async () => {
    // activities fixed by hand, so that every seed's plan has the same A_t and the combined mean is sum_t A_t m_t
    const fixed = join(dir, 'fixed.json');
    writeFileSync(fixed, JSON.stringify({ territories: [
      { name: 'Left lobe', perfused: 'Left', device: 'glass', activityGBq: 1.2 },
      { name: 'Right lobe', perfused: 'Right', device: 'glass', activityGBq: 0.8 },
    ] }));
    const names = ['Tumor A', 'Tumor B', 'Liver', 'Lungs'];
    const means: number[][] = names.map(() => []), ses: number[][] = names.map(() => []), d50: number[][] = names.map(() => []), d50se: number[][] = names.map(() => []);
    for (let seed = 100; seed < 116; seed++) {
      const out = join(dir, `seed-${seed}`);
      const r = await runCli(['plan', '--territories', fixed, '--activity', paths.scout, '--segmentation', paths.seg, '--liver', 'Liver', '--tumor', 'Tumor A', '--tumor', 'Tumor B',
        '--lung', 'Lungs', '--method', 'mc', '--mc-histories', String(HISTORIES), '--seed', String(seed), '--backend', 'cpu', '--quiet', '--json', '--out', out]);
      expect(r.code, r.stderr).toBe(0);
      const t = readReport(out);
      expect(t.plan.territories.map((x) => x.activityGBq)).toEqual([1.2, 0.8]);
      names.forEach((n, k) => {
        const s = t.structures.find((x) => x.name === n)!;
        means[k].push(s.meanGy);
        ses[k].push(s.uncertainty.meanGy as number);
        d50[k].push((s as unknown as { d50Gy: number }).d50Gy);
        d50se[k].push(s.uncertainty.d50Gy as number);
      });
    }
    const sd = (x: number[]) => {
      const m = x.reduce((a, b) => a + b, 0) / x.length;
      return Math.sqrt(x.reduce((q, v) => q + (v - m) ** 2, 0) / (x.length - 1));
    };
    const rms = (x: number[]) => Math.sqrt(x.reduce((q, v) => q + v * v, 0) / x.length);
    names.forEach((n, k) => {
      // the sample SD of 16 means has a relative uncertainty of about 1 / sqrt(2 x 15) = 18 %, the RMS of 16 reported
      // standard errors (each from 10 batches, 24 %) about 6 %, together 19 %: [0.45, 1.6] is about 3 sigma either way
      // (48 seeds gave 0.93, 0.89, 1.07, 1.07 for these four structures)
      const ratio = sd(means[k]) / rms(ses[k]);
      console.log(`${n}: SD of the means over seeds ${sd(means[k]).toPrecision(3)} Gy, RMS reported SE ${rms(ses[k]).toPrecision(3)} Gy, ratio ${ratio.toFixed(2)}; D50 ratio ${(sd(d50[k]) / rms(d50se[k])).toFixed(2)}`);
      // D50 is printed, not tested: the batch approximation of nonlinear statistics fails where a batch map leaves
      // many voxels of a structure without dose (the liver's normal tissue at 200 histories a batch: its batch D50 SE
      // is some 40x below the scatter between seeds), see src/mc/batches.ts
      expect(ratio, n).toBeGreaterThan(0.45);
      expect(ratio, n).toBeLessThan(1.6);
    });
  }, 600_000);
});

describe('batch memory estimate of a Monte Carlo case (src/batch/resources.ts)', () => {
  it('is src/dose/memory.ts\'s mc estimate, plus what each further territory keeps (3 maps and 10 batch tallies, f32)', () => {
    const n = NX * NY * NZ;
    const grid = { ...phantomGrid, spacingMm: [1, 1, 1] as [number, number, number] }; // the estimate reads the dims only
    const c = (command: 'dose' | 'plan', args: string[]) => ({ index: 0, id: 'c', command, args: ['--activity', paths.scout, ...args], where: 'row 1' });
    expect(caseMemoryBytes(c('dose', ['--method', 'mc']))).toBe(PROCESS_BASELINE_BYTES + estimateDoseMemoryBytes(grid, 'mc'));
    expect(caseMemoryBytes(c('dose', ['--method', 'mc']))!).toBeGreaterThan(caseMemoryBytes(c('dose', ['--method', 'ldm']))!);
    expect(caseMemoryBytes(c('plan', ['--method', 'mc', '--territories', territories]))).toBe(PROCESS_BASELINE_BYTES + estimateDoseMemoryBytes(grid, 'mc') + (2 - 1) * 13 * 4 * n);
  });
});
