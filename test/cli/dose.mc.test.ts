/**
 * `dosimetry dose --method mc` (and `plan --method mc`) end to end on the bundled liver phantom (data/phantoms): the
 * command-line contract of issue 13 (../shared/CONTRACT.md "Additions"): DIR/dose_uncertainty.nii.gz beside
 * dose.nii.gz, each structure's meanGyRelStdErr and standard errors, the report's "mc" object, reruns with a seed,
 * the target-uncertainty mode, and the refusals. Small history counts keep the file under a minute on 2 cores; the
 * physics itself is tested in packages/dosimetry-core/test/mc/.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readVolume } from '../../packages/dosimetry-core/src/io/index.ts';
import { phantomCase, runCli, tempDir, webgpuAvailable } from './cli-harness.ts';

interface Structure {
  name: string; role: string; volumeMl: number; meanGy: number; meanGyRelStdErr: number; doseMethod: string;
  uncertainty: Record<string, number | string | null>;
}
interface Report {
  method: string; backend: string; structures: Structure[]; warnings: string[];
  mc: {
    seed: number; histories: number; batches: number; batchHistories: number[]; mode: string; tallyUnitMeV: number;
    cutoffs: Record<string, number>; physics: string; materials: Array<{ name: string; voxelCount: number }>;
    energyBalance: { emittedMeV: number; depositedMeV: number; escapedMeV: number; relativeImbalance: number };
    uncertaintyMethod: string; backend: string;
    target?: {
      relStdErr: number;
      reached: boolean;
      structures: string[];
      excluded: Array<{ name: string; reason: string }>;
      sourceBiasing: { method: string; lambda: number; structures: Array<{ name: string; activityShare: number }>; minWeight: number; maxWeight: number } | null;
    };
  };
  provenance: { parameters: Record<string, unknown> };
  plan?: { activityGBq: number };
}

let dir: string;
let work: string;
const roles = ['--liver', 'Liver', '--tumor', 'Tumor A', '--tumor', 'Tumor B'];
const base = () => [
  '--activity', join(dir, 'activity_bqml.nii.gz'), '--activity-unit', 'bq-per-ml', '--scan-delay-h', '0',
  '--segmentation', join(dir, 'segmentation.seg.nrrd'), ...roles, '--isotope', 'Y90', '--backend', 'cpu',
];
let n = 0;
async function dose(extra: string[]): Promise<{ out: string; report: Report; stderr: string }> {
  const out = join(work, `out-${n++}`);
  // --backend cpu unless the test names one
  const args = extra.includes('--backend') ? base().filter((x, i, all) => x !== '--backend' && all[i - 1] !== '--backend') : base();
  const r = await runCli(['dose', ...args, ...extra, '--out', out, '--quiet']);
  if (r.code !== 0) throw new Error(`dose exited ${r.code}: ${r.stderr}`);
  return { out, report: JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')), stderr: r.stderr };
}
const byName = (r: Report, name: string) => r.structures.find((s) => s.name === name)!;

let a: Awaited<ReturnType<typeof dose>>;
let b: Awaited<ReturnType<typeof dose>>;
beforeAll(async () => {
  dir = await phantomCase();
  work = tempDir('dose-mc');
  a = await dose(['--method', 'mc', '--mc-histories', '4000', '--seed', '11']);
  b = await dose(['--method', 'mc', '--mc-histories', '4000', '--seed', '11']);
});

describe('dose --method mc: the standard errors describe the scatter between seeds', () => {
  it('mean, D50 and D90 of the liver and a tumour: reported standard error ~ the spread over 8 seeds', async () => {
    // 8 independent runs (seeds 101-108) of 3000 histories: the sample standard deviation of a statistic over them
    // is what its reported standard error claims to be. Tolerance: with 8 runs the sample SD itself scatters by
    // ~27 % (1/sqrt(2 x 7)), the reported SE (10 batches) by ~24 %: a ratio in [0.4, 2.5] holds at > 3 sigma, while
    // the per-batch formula for D50 of the sparsely hit liver (40-70x too small) fails it.
    const runs: Report[] = [];
    for (let sd = 101; sd <= 108; sd++) runs.push((await dose(['--method', 'mc', '--mc-histories', '3000', '--seed', String(sd)])).report);
    for (const name of ['Liver', 'Tumor A']) {
      for (const k of ['meanGy', 'd50Gy', 'd90Gy'] as const) {
        const vals = runs.map((r) => (byName(r, name) as unknown as Record<string, number>)[k]);
        const m = vals.reduce((x, y) => x + y) / vals.length;
        const sdv = Math.sqrt(vals.reduce((x, y) => x + (y - m) ** 2, 0) / (vals.length - 1));
        const se = runs.map((r) => Number(byName(r, name).uncertainty[k])).reduce((x, y) => x + y) / runs.length;
        console.log(`${name} ${k}: spread over seeds ${sdv.toPrecision(3)} Gy, reported standard error ${se.toPrecision(3)} Gy (ratio ${(se / sdv).toFixed(2)})`);
        expect(se / sdv).toBeGreaterThan(0.4);
        expect(se / sdv).toBeLessThan(2.5);
      }
    }
  }, 120_000);
});

describe('dose --method mc: outputs and report', () => {
  it('writes dose.nii.gz and dose_uncertainty.nii.gz on the same grid, listed in manifest.json', async () => {
    const files = readdirSync(a.out).sort();
    expect(files).toEqual(['dose.nii.gz', 'dose_uncertainty.nii.gz', 'manifest.json', 'report.json', 'structures.csv', 'structures.seg.nrrd']);
    const manifest = JSON.parse(readFileSync(join(a.out, 'manifest.json'), 'utf8'));
    expect(manifest.files.map((f: { name: string }) => f.name)).toContain('dose_uncertainty.nii.gz');
    const d = await readVolume(join(a.out, 'dose.nii.gz'));
    const u = await readVolume(join(a.out, 'dose_uncertainty.nii.gz'));
    expect(u.geometry).toEqual(d.geometry);
    // relative standard errors: >= 0, 0 exactly where the dose is 0, > 0 where a voxel got dose in some batches only
    let positive = 0;
    for (let v = 0; v < d.data.length; v++) {
      expect(u.data[v] >= 0).toBe(true);
      if (d.data[v] === 0) expect(u.data[v]).toBe(0);
      if (u.data[v] > 0) positive++;
    }
    expect(positive).toBeGreaterThan(1000);
  });

  it('structures.csv: the meanGyRelStdErr column after doseMethod (mc only), equal to report.json; an LDM file has none', async () => {
    const lines = readFileSync(join(a.out, 'structures.csv'), 'utf8').trim().split('\n');
    const head = lines[0].split(',');
    expect(head.slice(head.indexOf('doseMethod'))).toEqual(['doseMethod', 'meanGyRelStdErr']);
    lines.slice(1).forEach((line, i) => expect(line.split(',')[head.length - 1]).toBe(String(a.report.structures[i].meanGyRelStdErr)));
    const ldm = await dose(['--method', 'ldm']);
    expect(readFileSync(join(ldm.out, 'structures.csv'), 'utf8').split('\n')[0].endsWith(',densitySource,doseMethod')).toBe(true);
  });

  it('report.json: method mc, every structure with meanGyRelStdErr in (0, 1) and a standard error per statistic, the mc object', () => {
    const r = a.report;
    expect(r.method).toBe('mc');
    expect(r.backend).toBe('cpu');
    for (const s of r.structures) {
      expect(s.doseMethod).toBe('mc');
      if (s.meanGy > 0) {
        expect(s.meanGyRelStdErr, s.name).toBeGreaterThan(0);
        expect(s.meanGyRelStdErr, s.name).toBeLessThan(1);
        // the relative error of the mean is the standard error over the mean
        expect(s.uncertainty.meanGy as number / s.meanGy).toBeCloseTo(s.meanGyRelStdErr, 6);
      }
      for (const k of ['meanGy', 'minGy', 'maxGy', 'd50Gy', 'd70Gy', 'd90Gy', 'd98Gy', 'v100', 'v150', 'v205']) expect(s.uncertainty, `${s.name} ${k}`).toHaveProperty(k);
    }
    const mc = r.mc;
    expect(mc).toMatchObject({ seed: 11, histories: 4000, batches: 10, mode: 'histories', backend: 'cpu' });
    expect(mc.batchHistories).toEqual(new Array(10).fill(400));
    expect(mc.tallyUnitMeV).toBe(1e-6);
    expect(Object.keys(mc.cutoffs).sort()).toEqual(['bremsThresholdMeV', 'deltaThresholdMeV', 'electronCutoffMeV', 'maxStepCm', 'photonCutoffMeV', 'stepFraction']);
    for (const words of [/class II condensed history/, /ended at every voxel boundary/, /random hinge/, /Woodcock/, /Compton electrons and photoelectrons .*deposit locally/, /cut-offs/]) {
      expect(mc.physics).toMatch(words);
    }
    expect(mc.uncertaintyMethod).toMatch(/batch method.*history-by-history/is);
    // without a CT: soft tissue everywhere (no --lung given here): one material holds every voxel
    const used = mc.materials.filter((m) => m.voxelCount > 0);
    expect(used).toHaveLength(1);
    expect(used[0].voxelCount).toBe(96 * 84 * 80);
    // energy: deposited + escaped = emitted up to the rounding of each deposit to 1 eV (< 1e-6 relative)
    const e = mc.energyBalance;
    expect(e.emittedMeV).toBeGreaterThan(4000 * 0.9); // 90Y: ~0.93 MeV per decay
    expect(Math.abs(e.depositedMeV + e.escapedMeV - e.emittedMeV) / e.emittedMeV).toBeLessThan(1e-6);
    expect(mc).not.toHaveProperty('historiesPerSecond'); // timings would break byte-identical reruns: stdout has them
    expect(r.provenance.parameters).toMatchObject({ method: 'mc', mcSeed: 11, mcHistories: 4000 });
  });

  it('the same seed gives byte-identical maps; another seed different ones', async () => {
    for (const f of ['dose.nii.gz', 'dose_uncertainty.nii.gz', 'structures.csv', 'structures.seg.nrrd', 'report.json']) {
      expect(readFileSync(join(b.out, f)).equals(readFileSync(join(a.out, f))), f).toBe(true);
    }
    const c = await dose(['--method', 'mc', '--mc-histories', '4000', '--seed', '12']);
    for (const f of ['dose.nii.gz', 'dose_uncertainty.nii.gz']) expect(readFileSync(join(c.out, f)).equals(readFileSync(join(a.out, f))), f).toBe(false);
  });

  it('four times the histories: the relative standard errors of the means halve (sigma ~ 1/sqrt(N)); MC agrees with DVK in soft tissue', async () => {
    const big = await dose(['--method', 'mc', '--mc-histories', '16000', '--seed', '11']);
    const dvk = await dose(['--method', 'dvk']);
    for (const name of ['Liver', 'Tumor A', 'Normal liver']) {
      const ratio = byName(big.report, name).meanGyRelStdErr / byName(a.report, name).meanGyRelStdErr;
      // expected 0.5; each estimate from 10 batches has a relative sd of ~24 %, the ratio ~33 %: 0.25..1 is > 1.5 sd
      // below and 1.5 sd above; a ratio of 1 (no shrinking) or 0.25 (1/N) would fail on average
      expect(ratio, name).toBeGreaterThan(0.2);
      expect(ratio, name).toBeLessThan(1.0);
      // soft tissue only (no lung given): DVK's kernel and the transport share the physics of src/kernel; the
      // difference is statistics (3 standard errors) plus 3 % for what differs between them (the kernel's water
      // medium vs the transport's ICRU liver; the kernel's voxel averaging vs tracked electrons)
      const m = byName(big.report, name);
      const d = byName(dvk.report, name).meanGy;
      expect(Math.abs(m.meanGy - d), `${name}: MC ${m.meanGy.toFixed(2)} ± ${(m.meanGyRelStdErr * m.meanGy).toFixed(2)} Gy, DVK ${d.toFixed(2)} Gy`).toBeLessThan(3 * m.meanGyRelStdErr * m.meanGy + 0.03 * d);
    }
  });

  it('--mc-target-uncertainty stops below P in every structure of 10 mL or more, and says which structures it left out', async () => {
    const t = await dose(['--method', 'mc', '--mc-target-uncertainty', '4%', '--seed', '3']);
    const mc = t.report.mc;
    expect(mc.mode).toBe('target');
    expect(mc.target!.relStdErr).toBe(0.04);
    expect(mc.target!.reached).toBe(true);
    expect(mc.batches).toBeGreaterThanOrEqual(10);
    for (const name of mc.target!.structures) expect(byName(t.report, name).meanGyRelStdErr, name).toBeLessThan(0.04);
    // Tumor C (7 mL) and Tumor D (3 mL) are below 10 mL; the lungs (soft tissue here: no --lung) get ~1.4 Gy from
    // their 0.035 MBq/mL, under 1 % of Tumor A's ~220 Gy: all three left out, in the report and on stderr
    expect(mc.target!.excluded.map((x) => x.name).sort()).toEqual(['Lungs', 'Tumor C', 'Tumor D']);
    expect(mc.target!.structures.sort()).toEqual(['Liver', 'Normal liver', 'Tumor A', 'Tumor B']);
    expect(t.stderr).toMatch(/warning: --mc-target-uncertainty 4\.00 %: structures not waited for .*"Lungs" \(mean dose 0\.\d+ % of the largest structure mean \(< 1 %\)\).*"Tumor C" \(7\.\d mL < 10 mL\)/);
    expect(t.report.warnings.join('\n')).toMatch(/not waited for/);
    expect(t.report.provenance.parameters).toMatchObject({ mcTargetRelStdErr: 0.04 });
    // source biasing towards the structures of 10 mL or more with activity (the lungs too: chosen by volume, before
    // the pilot decides which structures see dose); weights 1/m_v between 1/(1 - lambda) = 2 and far below 1
    const sb = mc.target!.sourceBiasing!;
    expect(sb.lambda).toBe(0.5);
    expect(sb.structures.map((x) => x.name).sort()).toEqual(['Liver', 'Lungs', 'Normal liver', 'Tumor A', 'Tumor B']);
    expect(sb.maxWeight).toBeLessThanOrEqual(2);
    expect(sb.minWeight).toBeLessThan(sb.maxWeight);
    expect(t.stderr).toMatch(/source biasing: 50 % of the decays spread over .*"Tumor A".*\(importance sampling, unbiased; --mc-histories runs are analog\)/);
    // weighted energy balance: deposited + escaped = emitted up to the rounding of each weighted term
    expect(Math.abs((mc as unknown as { energyBalance: { relativeImbalance: number } }).energyBalance.relativeImbalance)).toBeLessThan(1e-6);
  });
});

describe('dose --method mc --backend webgpu', () => {
  it('runs the same histories on WebGPU: reruns byte-identical, structure means as the CPU run within its uncertainty', async () => {
    if (!(await webgpuAvailable())) return;
    const g1 = await dose(['--method', 'mc', '--mc-histories', '4000', '--seed', '11', '--backend', 'webgpu']);
    const g2 = await dose(['--method', 'mc', '--mc-histories', '4000', '--seed', '11', '--backend', 'webgpu']);
    expect(g1.report.backend).toBe('webgpu');
    expect(g1.report.mc.backend).toBe('webgpu');
    // integer atomics: the order in which invocations add does not matter
    for (const f of ['dose.nii.gz', 'dose_uncertainty.nii.gz']) expect(readFileSync(join(g2.out, f)).equals(readFileSync(join(g1.out, f))), f).toBe(true);
    const e = g1.report.mc.energyBalance;
    expect(Math.abs(e.depositedMeV + e.escapedMeV - e.emittedMeV) / e.emittedMeV).toBeLessThan(1e-6);
    // the same 4000 histories as the CPU run `a` (f32 vs f64 makes a few of them take another path): far closer than
    // one standard error of the statistics
    for (const name of ['Liver', 'Tumor A', 'Normal liver']) {
      const c = byName(a.report, name), g = byName(g1.report, name);
      expect(Math.abs(g.meanGy - c.meanGy), name).toBeLessThan(c.meanGyRelStdErr * c.meanGy);
    }
  });
});

describe('plan --method mc', () => {
  it('runs through the same pipeline: dose_uncertainty.nii.gz, uncertainties at the prescribed activity', async () => {
    const out = join(work, 'plan');
    const r = await runCli([
      'plan', '--activity', join(dir, 'activity_counts.nrrd'), '--segmentation', join(dir, 'segmentation.seg.nrrd'),
      '--liver', 'Liver', '--tumor', 'Tumor A', '--tumor', 'Tumor B', '--lung', 'Lungs', '--device', 'glass', '--backend', 'cpu',
      '--method', 'mc', '--mc-histories', '3000', '--quiet', '--json', '--out', out,
    ]);
    expect(r.code, r.stderr).toBe(0);
    const rep: Report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));
    expect(existsSync(join(out, 'dose_uncertainty.nii.gz'))).toBe(true);
    expect(rep.method).toBe('mc');
    expect(rep.mc.histories).toBe(3000);
    expect(rep.plan!.activityGBq).toBeGreaterThan(0);
    // the lung with its own density: two materials in use (lung and soft tissue)
    expect(rep.mc.materials.filter((m) => m.voxelCount > 0).length).toBe(2);
    for (const s of rep.structures) {
      if (!(s.meanGy > 0)) continue;
      expect(s.doseMethod).toBe('mc');
      // the Gy standard errors are those of the prescribed activity: relative error x mean at that activity
      expect(s.uncertainty.meanGy as number / s.meanGy, s.name).toBeCloseTo(s.meanGyRelStdErr, 6);
    }
  });
});

describe('dose --method mc: bad input is refused with one line, nothing written', () => {
  const cases: Array<{ what: string; args: string[]; says: RegExp }> = [
    { what: 'an MC option without --method mc', args: ['--method', 'ldm', '--mc-histories', '1000'], says: /--mc-histories is a Monte Carlo option: give it with --method mc/ },
    { what: '--seed without --method mc', args: ['--method', 'dvk', '--seed', '4'], says: /--seed is a Monte Carlo option/ },
    { what: 'histories and a target together', args: ['--method', 'mc', '--mc-histories', '1000', '--mc-target-uncertainty', '2'], says: /either --mc-histories N .* or --mc-target-uncertainty P .*not both/ },
    { what: 'non-integer histories', args: ['--method', 'mc', '--mc-histories', '1000.5'], says: /--mc-histories 1000\.5 is not a whole number/ },
    { what: 'zero histories', args: ['--method', 'mc', '--mc-histories', '0'], says: /--mc-histories 0 is too small/ },
    { what: 'negative histories', args: ['--method', 'mc', '--mc-histories', '-5'], says: /--mc-histories -5 is too small/ },
    { what: 'histories not a number', args: ['--method', 'mc', '--mc-histories', 'many'], says: /--mc-histories must be a whole number, got "many"/ },
    { what: 'a target of 0', args: ['--method', 'mc', '--mc-target-uncertainty', '0'], says: /--mc-target-uncertainty 0 is outside \(0, 50\] %/ },
    { what: 'a target above 50 %', args: ['--method', 'mc', '--mc-target-uncertainty', '60'], says: /--mc-target-uncertainty 60 is outside \(0, 50\] %/ },
    { what: 'an ambiguous target (fraction or percent?)', args: ['--method', 'mc', '--mc-target-uncertainty', '0.02'], says: /--mc-target-uncertainty 0\.02 is ambiguous.*"0\.02%".*"2"/ },
    { what: '--mc-max-histories without a target', args: ['--method', 'mc', '--mc-max-histories', '1e6'], says: /--mc-max-histories caps a run with --mc-target-uncertainty/ },
    { what: 'a seed beyond 32 bits', args: ['--method', 'mc', '--seed', '5000000000'], says: /--seed 5000000000 is beyond 4294967295/ },
    { what: 'a negative seed', args: ['--method', 'mc', '--seed', '-1'], says: /--seed -1 is too small/ },
    { what: 'an unknown method', args: ['--method', 'montecarlo'], says: /unknown method "montecarlo": use ldm or dvk, or mc/ },
  ];
  for (const c of cases) {
    it(c.what, async () => {
      const out = join(work, `bad-${n++}`);
      const r = await runCli(['dose', ...base(), ...c.args, '--out', out]);
      expect(r.code).not.toBe(0);
      const lines = r.stderr.trim().split('\n');
      expect(lines, r.stderr).toHaveLength(1);
      expect(lines[0]).toMatch(c.says);
      expect(existsSync(out)).toBe(false);
    });
  }
});
