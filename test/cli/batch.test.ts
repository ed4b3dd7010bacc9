/**
 * `dosimetry batch` on this machine (../shared/CONTRACT.md "Additions (2026-12)"): the bundled liver phantom in several
 * activity scalings (dose LDM at 1, 2, 3 GBq administered, a glass plan, and a case whose input is corrupt), each case
 * run as its own CLI process. The references are separate `dose`/`plan`/`cohort` runs of the same command lines
 * (in-process), the linearity of dose in the administered activity, and the calibration identity of the phantom
 * (counts normalised to the liver: liver activity = A x (1 - LSF)). Resuming is checked by file modification times
 * and batch.json's statuses; a killed batch by killing the real process (and its cases) with SIGKILL.
 */
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { splitCommandLine } from '../../packages/dosimetry-core/src/batch/manifest.ts';
import { headerDims, planJobs, caseMemoryBytes } from '../../packages/dosimetry-core/src/batch/resources.ts';
import { estimateSecondsLeft } from '../../packages/dosimetry-core/src/batch/progress.ts';
import { phantomCase, runCli, tempDir } from './cli-harness.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));

interface Structure { name: string; role: string; meanGy: number; activityGBq: number; d50Gy: number; d90Gy: number; massG: number }
interface Report { activityInFieldGBq: number; lungShuntFraction: number; structures: Structure[] }
interface BatchJson {
  cases: Array<{ case: string; status: 'done' | 'skipped' | 'failed'; error?: string; reason?: string; patient?: string }>;
  counts: { done: number; skipped: number; failed: number };
  cohort: { files?: { lesions: string; patients: string }; error?: string };
  run: { jobs?: number };
}

const ROLES = "--liver Liver --tumor 'Tumor A' --tumor 'Tumor B' --lung Lungs";
const ROLE_WORDS = ['--liver', 'Liver', '--tumor', 'Tumor A', '--tumor', 'Tumor B', '--lung', 'Lungs'];
/** The manifest's args of a dose case at `gbq` administered (paths relative to the manifest's folder). */
const doseArgs = (gbq: number | string, activity = 'inputs/activity_counts.nrrd') =>
  `--activity ${activity} --activity-unit counts --administered-gbq ${gbq} --segmentation inputs/segmentation.seg.nrrd ${ROLES} --isotope Y90 --method ldm --backend cpu`;
const PLAN_ARGS = `--device glass --activity inputs/scout.nrrd --segmentation inputs/segmentation.seg.nrrd ${ROLES} --backend cpu`;

/** The same command lines written out for a separate run: absolute paths, words as the manifest's args split into. */
const doseWords = (ws: string, gbq: number | string, activity = 'activity_counts.nrrd') => [
  'dose', '--activity', join(ws, 'inputs', activity), '--activity-unit', 'counts', '--administered-gbq', String(gbq),
  '--segmentation', join(ws, 'inputs', 'segmentation.seg.nrrd'), ...ROLE_WORDS, '--isotope', 'Y90', '--method', 'ldm', '--backend', 'cpu',
];
const planWords = (ws: string) => ['plan', '--device', 'glass', '--activity', join(ws, 'inputs', 'scout.nrrd'), '--segmentation', join(ws, 'inputs', 'segmentation.seg.nrrd'), ...ROLE_WORDS, '--backend', 'cpu'];

const readJson = <T>(p: string): T => JSON.parse(readFileSync(p, 'utf8')) as T;
const statusOf = (b: BatchJson) => Object.fromEntries(b.cases.map((c) => [c.case, c.status]));
const mtimeNs = (p: string) => statSync(p, { bigint: true }).mtimeNs;

let phantom: string;
beforeAll(async () => {
  phantom = await phantomCase();
});

/** A folder with the manifest's inputs: the phantom's counts image and segmentation, a scout copy, a corrupt copy. */
function workspace(prefix: string): string {
  const ws = tempDir(prefix);
  mkdirSync(join(ws, 'inputs'));
  for (const f of ['activity_counts.nrrd', 'segmentation.seg.nrrd']) copyFileSync(join(phantom, f), join(ws, 'inputs', f));
  copyFileSync(join(phantom, 'activity_counts.nrrd'), join(ws, 'inputs', 'scout.nrrd'));
  const bytes = readFileSync(join(phantom, 'activity_counts.nrrd'));
  writeFileSync(join(ws, 'inputs', 'corrupt.nrrd'), bytes.subarray(0, Math.floor(bytes.length / 2))); // cut in half
  return ws;
}

function csvManifest(ws: string, rows: Array<[string, string, string, string?]>, name = 'manifest.csv'): string {
  const q = (s: string) => `"${s.replace(/"/g, '""')}"`;
  const text = ['case,command,args,patient', ...rows.map(([c, cmd, args, p]) => `${c},${cmd},${q(args)},${p ?? ''}`)].join('\n') + '\n';
  writeFileSync(join(ws, name), text);
  return join(ws, name);
}

const FIVE: Array<[string, string, string, string?]> = [
  ['g1', 'dose', doseArgs(1), 'P1'],
  ['g2', 'dose', doseArgs(2), 'P2'],
  ['g3', 'dose', doseArgs(3), 'P3'],
  ['scout', 'plan', PLAN_ARGS, 'P4'],
  ['corrupt', 'dose', doseArgs(1, 'inputs/corrupt.nrrd'), 'P5'],
];

describe('batch over the phantom in several activity scalings', () => {
  let ws: string;
  let out: string;
  let first: { code: number; stdout: string; stderr: string };

  beforeAll(async () => {
    ws = workspace('batch');
    out = join(ws, 'out');
    // run from another folder than the manifest's: its relative paths must resolve against the manifest's folder
    first = await runCli(['batch', '--manifest', csvManifest(ws, FIVE), '--out', out, '--jobs', '2']);
  });

  it('runs every case; the corrupt one fails alone with its own error line and the exit status says so', async () => {
    const b = readJson<BatchJson>(join(out, 'batch.json'));
    expect(statusOf(b)).toEqual({ g1: 'done', g2: 'done', g3: 'done', scout: 'done', corrupt: 'failed' });
    expect(b.counts).toEqual({ done: 4, skipped: 0, failed: 1 });
    expect(b.run.jobs).toBe(2);
    expect(first.code).toBe(1);
    // the one line on stderr names the failed case; the summary table on stdout lists every case
    const errLines = first.stderr.trim().split('\n').filter((l) => !l.startsWith('warning: '));
    expect(errLines).toHaveLength(1);
    expect(errLines[0]).toMatch(/^dosimetry batch: 1 of 5 cases failed \(corrupt: /);
    for (const c of ['g1', 'g2', 'g3', 'scout', 'corrupt']) expect(first.stdout).toMatch(new RegExp(`^${c} +(dose|plan) +(done|failed)`, 'm'));
    // its error line is the one `dose` prints for that input when run alone
    const alone = await runCli([...doseWords(ws, 1, 'corrupt.nrrd'), '--out', join(ws, 'alone-corrupt')]);
    expect(alone.code).toBe(1);
    const corrupt = b.cases.find((c) => c.case === 'corrupt')!;
    expect(corrupt.error).toBe(alone.stderr.trim());
    expect(corrupt.error).toMatch(/corrupt\.nrrd/);
    expect(existsSync(join(out, 'corrupt'))).toBe(false); // no partial output
  });

  it("each case's outputs equal a separate run of the same command line, byte for byte", async () => {
    const sep = join(ws, 'separate');
    const runs: Array<[string, string[]]> = [['g1', doseWords(ws, 1)], ['g2', doseWords(ws, 2)], ['g3', doseWords(ws, 3)], ['scout', planWords(ws)]];
    for (const [id, words] of runs) {
      const r = await runCli([...words, '--out', join(sep, id), '--quiet']);
      expect(r.code, r.stderr).toBe(0);
      for (const f of ['report.json', 'dose.nii.gz', 'structures.csv']) {
        expect(Buffer.compare(readFileSync(join(out, id, f)), readFileSync(join(sep, id, f))), `${id}/${f}`).toBe(0);
      }
    }
    // cohort tables: the `cohort` command over the separate runs' reports, with the manifest's patient ids
    const cohort = await runCli(['cohort', '--report', `P1=${join(sep, 'g1', 'report.json')}`, '--report', `P2=${join(sep, 'g2', 'report.json')}`,
      '--report', `P3=${join(sep, 'g3', 'report.json')}`, '--report', `P4=${join(sep, 'scout', 'report.json')}`, '--out', join(sep, 'cohort')]);
    expect(cohort.code, cohort.stderr).toBe(0);
    for (const f of ['lesions.csv', 'patients.csv']) expect(readFileSync(join(out, 'cohort', f), 'utf8'), f).toBe(readFileSync(join(sep, 'cohort', f), 'utf8'));
  });

  it('doses scale exactly with the administered activity, and the liver holds A x (1 - LSF)', () => {
    const r = [1, 2, 3].map((k) => readJson<Report>(join(out, `g${k}`, 'report.json')));
    for (const [k, gbq] of [[0, 1], [1, 2], [2, 3]] as const) {
      const liver = r[k].structures.find((s) => s.role === 'liver')!;
      // counts are normalised to the liver (the default --normalize-to): it receives A (1 - LSF), LSF measured
      expect(Math.abs(liver.activityGBq / (gbq * (1 - r[k].lungShuntFraction)) - 1)).toBeLessThan(1e-6);
    }
    // dose is linear in activity: the dose map is float32 (2^-24 relative per voxel), means and Dx summed in f64:
    // 1e-6 relative leaves a margin of ~10 over the rounding and catches any real error (a 0.1 % one is 1000x more)
    for (const k of [2, 3]) {
      for (const [i, s] of r[0].structures.entries()) {
        const t = r[k - 1].structures[i];
        expect(t.name).toBe(s.name);
        for (const f of ['meanGy', 'activityGBq', 'd50Gy', 'd90Gy'] as const) {
          if (s[f] === 0) expect(t[f]).toBe(0);
          else expect(Math.abs(t[f] / (k * s[f]) - 1), `${s.name} ${f} x${k}`).toBeLessThan(1e-6);
        }
        expect(t.massG).toBe(s.massG);
      }
    }
    // the cohort's patient rows scale the same way
    const patients = readFileSync(join(out, 'cohort', 'patients.csv'), 'utf8').trim().split('\n').map((l) => l.split(','));
    const col = patients[0].indexOf('tumorMeanGy');
    const byId = Object.fromEntries(patients.slice(1).map((p) => [p[0], Number(p[col])]));
    expect(Object.keys(byId).sort()).toEqual(['P1', 'P2', 'P3', 'P4']);
    expect(Math.abs(byId.P3 / (3 * byId.P1) - 1)).toBeLessThan(1e-6);
  });

  it('a rerun skips every current case; a changed option or input recomputes that case only', async () => {
    const stamp = (id: string) => mtimeNs(join(out, id, 'manifest.json'));
    const before = Object.fromEntries(['g1', 'g2', 'g3', 'scout'].map((id) => [id, stamp(id)]));
    const again = await runCli(['batch', '--manifest', join(ws, 'manifest.csv'), '--out', out]);
    expect(again.code).toBe(1); // the corrupt case is tried again and fails again
    expect(statusOf(readJson<BatchJson>(join(out, 'batch.json')))).toEqual({ g1: 'skipped', g2: 'skipped', g3: 'skipped', scout: 'skipped', corrupt: 'failed' });
    for (const id of Object.keys(before)) expect(stamp(id), id).toBe(before[id]);

    // g2 at 2.5 GBq instead of 2; the plan's scout image gets a header comment (other bytes, same image)
    const rows = FIVE.map((r) => (r[0] === 'g2' ? (['g2', 'dose', doseArgs(2.5), 'P2'] as typeof r) : r));
    csvManifest(ws, rows);
    const scout = readFileSync(join(ws, 'inputs', 'scout.nrrd'));
    const nl = scout.indexOf(10);
    writeFileSync(join(ws, 'inputs', 'scout.nrrd'), Buffer.concat([scout.subarray(0, nl + 1), Buffer.from('# edited\n'), scout.subarray(nl + 1)]));
    const changed = await runCli(['batch', '--manifest', join(ws, 'manifest.csv'), '--out', out]);
    expect(changed.code).toBe(1);
    const b = readJson<BatchJson>(join(out, 'batch.json'));
    expect(statusOf(b)).toEqual({ g1: 'skipped', g2: 'done', g3: 'skipped', scout: 'done', corrupt: 'failed' });
    expect(b.cases.find((c) => c.case === 'g2')!.reason).toMatch(/command line changed/);
    expect(b.cases.find((c) => c.case === 'scout')!.reason).toMatch(/scout\.nrrd changed/);
    for (const id of ['g1', 'g3']) expect(stamp(id), id).toBe(before[id]);
    for (const id of ['g2', 'scout']) expect(stamp(id), id).not.toBe(before[id]);
    const g1 = readJson<Report>(join(out, 'g1', 'report.json'));
    const g2 = readJson<Report>(join(out, 'g2', 'report.json'));
    expect(Math.abs(g2.activityInFieldGBq / (2.5 * g1.activityInFieldGBq) - 1)).toBeLessThan(1e-6);
  });
});

describe('a killed batch resumes', () => {
  it('after SIGKILL of the batch and its running case: finished cases are skipped (not rewritten), a half-written one is recomputed', async () => {
    const ws = workspace('batch-kill');
    const out = join(ws, 'out');
    // JSON manifest, args as word lists, relative paths
    const words = (gbq: number) => splitCommandLine(doseArgs(gbq), 'test');
    writeFileSync(join(ws, 'cases.json'), JSON.stringify({ cases: [1, 2, 3].map((g) => ({ case: `g${g}`, command: 'dose', args: words(g), patient: `P${g}` })) }));
    // the real CLI process, in its own process group so that the kill takes its running case with it (a crash)
    const child = spawn(process.execPath, ['scripts/dosimetry.mjs', 'batch', '--manifest', join(ws, 'cases.json'), '--out', out, '--jobs', '1'], {
      cwd: root,
      detached: true,
      stdio: 'ignore',
    });
    const exited = new Promise<void>((r) => child.on('exit', () => r()));
    const deadline = Date.now() + 120_000;
    while (!existsSync(join(out, 'g1', 'manifest.json')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(existsSync(join(out, 'g1', 'manifest.json'))).toBe(true);
    process.kill(-child.pid!, 'SIGKILL');
    await exited;
    expect(existsSync(join(out, 'batch.json'))).toBe(false); // it never got to the end
    const g1Stamp = mtimeNs(join(out, 'g1', 'manifest.json'));
    const g1Report = readFileSync(join(out, 'g1', 'report.json'));
    // what a case killed while writing leaves (output-set.ts): its dead owner's lock and a half-written hidden set
    const dead = child.pid!;
    writeFileSync(join(out, '.g3.lock'), JSON.stringify({ pid: dead, host: hostname() }));
    mkdirSync(join(out, `.g3.new-${dead}-0badc0de`), { recursive: true });
    writeFileSync(join(out, `.g3.new-${dead}-0badc0de`, 'dose.nii.gz'), 'half');

    const r = await runCli(['batch', '--manifest', join(ws, 'cases.json'), '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    const b = readJson<BatchJson>(join(out, 'batch.json'));
    expect(statusOf(b)).toEqual({ g1: 'skipped', g2: 'done', g3: 'done' });
    expect(mtimeNs(join(out, 'g1', 'manifest.json'))).toBe(g1Stamp);
    expect(Buffer.compare(readFileSync(join(out, 'g1', 'report.json')), g1Report)).toBe(0);
    // nothing of the killed runs is left: no locks, no hidden sets; each case a complete set
    expect(readdirSync(out).filter((e) => e.startsWith('.') && e !== '.batch')).toEqual([]);
    for (const id of ['g1', 'g2', 'g3']) {
      const m = readJson<{ files: Array<{ name: string; bytes: number }> }>(join(out, id, 'manifest.json'));
      for (const f of m.files) expect(statSync(join(out, id, f.name)).size, `${id}/${f.name}`).toBe(f.bytes);
    }
    expect(b.cases.map((c) => c.patient)).toEqual(['P1', 'P2', 'P3']);
  });
});

describe('one row at a time (--case-index, as Slurm array tasks and Kubernetes pods run it) and --gather', () => {
  it('runs the rows given, and the gather lists a row that never ran as failed', async () => {
    const ws = workspace('batch-index');
    const out = join(ws, 'out');
    const m = csvManifest(ws, [FIVE[0], FIVE[1], FIVE[4]]);
    const r0 = await runCli(['batch', '--manifest', m, '--out', out, '--case-index', '0']);
    expect(r0.code, r0.stderr).toBe(0);
    expect(r0.stdout).toMatch(/^case g1 \(index 0\): done/);
    const r2 = await runCli(['batch', '--manifest', m, '--out', out, '--case-index', '2']);
    expect(r2.code).toBe(1);
    expect(r2.stderr.trim()).toMatch(/^dosimetry batch: case corrupt failed: dosimetry dose: .*corrupt\.nrrd/);
    const bad = await runCli(['batch', '--manifest', m, '--out', out, '--case-index', '3']);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim()).toMatch(/--case-index 3 is not a row .* 3 cases, indexed 0 to 2/);
    const g = await runCli(['batch', '--manifest', m, '--out', out, '--gather']);
    expect(g.code).toBe(1);
    const b = readJson<BatchJson>(join(out, 'batch.json'));
    expect(statusOf(b)).toEqual({ g1: 'done', g2: 'failed', corrupt: 'failed' });
    expect(b.cases[1].error).toMatch(/^no result: its task \(--case-index 1\) did not end/);
    expect(readFileSync(join(out, 'cohort', 'patients.csv'), 'utf8').trim().split('\n')).toHaveLength(2); // header + P1
  });
});

describe('bad manifests: one line, nothing run', () => {
  const cases: Array<[string, string, RegExp]> = [
    ['a missing column', 'case,command\ng1,dose\n', /lacks the column "args"/],
    ['an empty manifest', 'case,command,args\n', /has no cases/],
    ['a duplicate case id', `case,command,args\nP1,dose,"${doseArgs(1)}"\np1,dose,"${doseArgs(2)}"\n`, /case id is given twice/],
    ['a case id with a path separator', `case,command,args\na/b,dose,"${doseArgs(1)}"\n`, /holds a path separator/],
    ['a case id with ..', `case,command,args\n..,dose,"${doseArgs(1)}"\n`, /could leave or hide in the output folder/],
    ['a hidden case id', `case,command,args\n.g1,dose,"${doseArgs(1)}"\n`, /could leave or hide/],
    ['a reserved case id', `case,command,args\ncohort,dose,"${doseArgs(1)}"\n`, /batch's own folder/],
    ['--out inside args', `case,command,args\ng1,dose,"${doseArgs(1)} --out x"\n`, /args hold --out/],
    ['--out= inside args', `case,command,args\ng1,dose,"${doseArgs(1)} --out=x"\n`, /args hold --out/],
    ['an unknown command', `case,command,args\ng1,dos,"${doseArgs(1)}"\n`, /unknown command "dos"; a batch runs dose or plan/],
    ['an unknown option', `case,command,args\ng1,dose,"${doseArgs(1)} --tumour X"\n`, /row 1 \(case "g1"\): dose: unknown option --tumour/],
    ['an unclosed quote', `case,command,args\ng1,dose,"--liver 'Liver"\n`, /single quote in args is not closed/],
    ['shell syntax', `case,command,args\ng1,dose,"${doseArgs(1)} --ct $CT"\n`, /unquoted "\$"/],
    ['an unknown column', `case,command,args,dose\ng1,dose,"${doseArgs(1)}",1\n`, /unknown column "dose"/],
    ['JSON without cases', '{ "rows": [] }', /no "cases" list/],
    ['JSON with an unknown field', `{ "cases": [ { "case": "g1", "command": "dose", "args": "${doseArgs(1)}", "out": "x" } ] }`, /unknown field "out"/],
  ];
  for (const [what, text, message] of cases) {
    it(what, async () => {
      const ws = workspace('batch-bad');
      const m = join(ws, text.startsWith('{') ? 'm.json' : 'm.csv');
      writeFileSync(m, text);
      const out = join(ws, 'out');
      const r = await runCli(['batch', '--manifest', m, '--out', out]);
      expect(r.code).not.toBe(0);
      const lines = r.stderr.trim().split('\n');
      expect(lines, r.stderr).toHaveLength(1);
      expect(lines[0]).toMatch(/^dosimetry batch: /);
      expect(lines[0]).toMatch(message);
      expect(existsSync(out)).toBe(false);
      expect(r.stdout).toBe('');
    });
  }
  it('a missing manifest and a bad --jobs', async () => {
    const ws = tempDir('batch-bad');
    const r = await runCli(['batch', '--manifest', join(ws, 'none.csv'), '--out', join(ws, 'out')]);
    expect(r.stderr.trim()).toMatch(/^dosimetry batch: --manifest .*none\.csv does not exist; check the path$/);
    const j = await runCli(['batch', '--manifest', join(ws, 'none.csv'), '--out', join(ws, 'out'), '--jobs', '0']);
    expect(j.code).toBe(2);
    expect(j.stderr.trim()).toMatch(/--jobs must be a whole number from 1/);
    expect(existsSync(join(ws, 'out'))).toBe(false);
  });
});

describe('args are split like a shell command line (bash as the reference)', () => {
  const lines = [
    `--tumor 'Tumor A' --tumor "Tumor B" --liver Liver`,
    `--labels "1=Liver,2=Tumor A"   --x a\\ b --y "q\\"uote" --z 'it'\\''s'`,
    `--a "back\\\\slash" --b "keep\\n" --c ''  --d ""`,
  ];
  const bash = spawnSync('bash', ['--version']).status === 0;
  for (const line of lines) {
    it(line, (ctx) => {
      if (!bash) {
        console.log('bash is not installed: the reference splitting cannot be run');
        return ctx.skip();
      }
      const ref = spawnSync('bash', ['-c', `printf '%s\\0' ${line}`], { encoding: 'utf8' }).stdout.split('\0').slice(0, -1);
      expect(splitCommandLine(line, 'test')).toEqual(ref);
    });
  }
});

describe('how many cases at once', () => {
  it('reads the activity grid from the image header (NRRD, NIfTI) as the full reader does', async () => {
    const g = await runCli(['dose', '--activity', join(phantom, 'activity_bqml.nii.gz'), '--activity-unit', 'bq-per-ml', '--scan-delay-h', '0',
      '--segmentation', join(phantom, 'segmentation.seg.nrrd'), '--liver', 'Liver', '--isotope', 'Y90', '--method', 'ldm', '--backend', 'cpu', '--json', '--out', tempDir('batch-grid')]);
    const dims = (JSON.parse(g.stdout) as { doseGrid: { dims: number[] } }).doseGrid.dims;
    expect(headerDims(join(phantom, 'activity_bqml.nii.gz'))).toEqual(dims);
    expect(headerDims(join(phantom, 'activity_counts.nrrd'))).toEqual(dims);
  });

  it('one per core, fewer when memory cannot hold them, --jobs as asked (with a warning beyond memory)', () => {
    const ws = workspace('batch-jobs');
    const c = (k: number) => ({ index: k, id: `c${k}`, command: 'dose' as const, args: ['--activity', join(ws, 'inputs', 'activity_counts.nrrd'), '--method', 'dvk'], where: `row ${k}` });
    const cases = [0, 1, 2, 3, 4, 5].map(c);
    const per = caseMemoryBytes(cases[0])!;
    expect(per).toBeGreaterThan(0);
    expect(planJobs({ cases, cores: 4, memoryBytes: 1e15 }).jobs).toBe(4);
    expect(planJobs({ cases: cases.slice(0, 3), cores: 16, memoryBytes: 1e15 }).jobs).toBe(3);
    // memory for 2.5 of the largest case (within the 80 % planned): 2 jobs
    const two = planJobs({ cases, cores: 16, memoryBytes: (2.5 * per) / 0.8 });
    expect(two.jobs).toBe(2);
    expect(two.reason).toMatch(/memory allows 2 at once/);
    expect(two.threadsPerCase).toBe(8);
    expect(planJobs({ cases, cores: 16, memoryBytes: per / 2 }).jobs).toBe(1);
    const asked = planJobs({ cases, cores: 2, memoryBytes: (2.5 * per) / 0.8, requested: 5 });
    expect(asked.jobs).toBe(5);
    expect(asked.warning).toMatch(/may run out of memory/);
  });

  it('time left: the mean computed case time over the remaining cases, shared by the jobs', () => {
    // 2 cases took 10 s and 20 s (mean 15); 4 wait, 1 running for 5 s (10 s to go); 2 jobs: (4 x 15 + 10) / 2 = 35 s
    expect(estimateSecondsLeft({ computedSeconds: [10, 20], pending: 4, runningElapsedS: [5], jobs: 2 })).toBe(35);
    expect(estimateSecondsLeft({ computedSeconds: [], pending: 4, runningElapsedS: [], jobs: 2 })).toBeUndefined();
  });
});
