/**
 * "No silent wrong answer" (issue 11) for `dosimetry dose`: every assumption that changes a dose is said on stderr and
 * in report.json, outputs land as one atomic set, the process never drops its --json output, and auto never opens a
 * software GPU adapter (whose native warnings would reach stderr). Inputs are built from the bundled phantom.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { encodeNrrd, readSegmentation, readVolume } from '../../packages/dosimetry-core/src/io/index.ts';
import { maskToGrid } from '../../packages/dosimetry-core/src/volume/resample.ts';
import { phantomCase, runCli, tempDir, webgpuAvailable } from './cli-harness.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
let dir: string;
let work: string;

interface Report {
  backend: string;
  backendReason: string;
  warnings: string[];
  activityInFieldGBq: number;
  structures: Array<{ name: string; activityGBq: number; meanGy: number }>;
  provenance: { parameters: Record<string, unknown> };
}
const report = (out: string): Report => JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));

/** The phantom's counts image with a hot spot of `extra` x the image's total counts well outside the liver. */
let countsWithUptake: string;

beforeAll(async () => {
  dir = await phantomCase();
  work = tempDir('assumptions');
  const counts = await readVolume(join(dir, 'activity_counts.nrrd'));
  const liver = (await readSegmentation(join(dir, 'segmentation.seg.nrrd'))).find((m) => m.name === 'Liver')!;
  const onGrid = maskToGrid(liver, counts.geometry, { mode: 'nearest' }).structure;
  const inLiver = new Uint8Array(counts.data.length);
  for (const v of onGrid.voxelIndices) inLiver[v] = 1;
  const data = Float32Array.from(counts.data);
  let total = 0;
  for (const v of data) total += v;
  // 30 % of the total as uptake in 50 voxels outside the liver (e.g. the stomach)
  const spots: number[] = [];
  for (let n = 0; n < data.length && spots.length < 50; n += 97) if (!inLiver[n] && data[n] < 1e-3 * total) spots.push(n);
  for (const n of spots) data[n] += (0.3 * total) / spots.length;
  countsWithUptake = join(work, 'counts_uptake.nrrd');
  writeFileSync(countsWithUptake, encodeNrrd({ geometry: counts.geometry, data }));
});

const countsArgs = (activity: string, out: string, extra: string[] = []) => [
  'dose', '--activity', activity, '--activity-unit', 'counts', '--administered-gbq', '2', '--segmentation', join(dir, 'segmentation.seg.nrrd'),
  '--liver', 'Liver', '--tumor', 'Tumor A', '--lung', 'Lungs', '--isotope', 'Y90', '--method', 'ldm', '--backend', 'cpu', ...extra, '--out', out,
];

describe('assumptions are said on stderr and in report.json', () => {
  it('counts outside the normalisation structure: warned with their share, and --restrict-to sets them to zero', async () => {
    const plain = join(work, 'uptake');
    const r = await runCli(countsArgs(countsWithUptake, plain));
    expect(r.code, r.stderr).toBe(0);
    const warned = r.stderr.split('\n').filter((l) => l.startsWith('warning: '));
    expect(warned.join('\n')).toMatch(/warning: (2[0-9]|3[0-9])\.\d % of the counts lie outside the normalisation structure "Liver" and the lungs "Lungs".*--restrict-to/);
    expect(r.stdout).not.toMatch(/warning:/);
    expect(report(plain).warnings.join('\n')).toMatch(/of the counts lie outside/);
    // the uptake is scaled as real activity: more than the administered 2 GBq in the field
    expect(report(plain).activityInFieldGBq).toBeGreaterThan(2.4);

    const restricted = join(work, 'uptake-restricted');
    const q = await runCli(countsArgs(countsWithUptake, restricted, ['--restrict-to', 'Liver']));
    expect(q.code, q.stderr).toBe(0);
    const rep = report(restricted);
    expect(rep.provenance.parameters.restrictTo).toBe('Liver');
    expect(rep.warnings.join('\n')).toMatch(/--restrict-to "Liver": the activity outside it is set to zero; \d+\.\d % of the image's counts lay outside/);
    expect(q.stderr).toMatch(/warning: --restrict-to "Liver"/);
    // outside the liver nothing is left: the field holds what the liver holds (2 GBq x (1 - LSF))
    const liver = rep.structures.find((s) => s.name === 'Liver')!;
    expect(rep.activityInFieldGBq).toBeCloseTo(liver.activityGBq, 6);
    // the measured lung shunt comes from the image as acquired: the same LSF with and without the restriction
    expect(JSON.parse(readFileSync(join(restricted, 'report.json'), 'utf8')).lungShuntFraction).toBeCloseTo(
      JSON.parse(readFileSync(join(plain, 'report.json'), 'utf8')).lungShuntFraction,
      12,
    );
  });

  it('the scan delay: required without timing, and the report says where it came from', async () => {
    const out = join(work, 'delay');
    const r = await runCli(['dose', '--activity', join(dir, 'activity_bqml.nii.gz'), '--activity-unit', 'bq-per-ml', '--scan-delay-h', '0',
      '--segmentation', join(dir, 'segmentation.seg.nrrd'), '--liver', 'Liver', '--isotope', 'Y90', '--method', 'ldm', '--backend', 'cpu', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(report(out).provenance.parameters.scanDelaySource).toBe('given (--scan-delay-h)');
  });
});

describe('outputs are one atomic set', () => {
  const bq = (out: string, extra: string[] = [], method = 'ldm') => [
    'dose', '--activity', join(dir, 'activity_bqml.nii.gz'), '--activity-unit', 'bq-per-ml', '--scan-delay-h', '0', '--segmentation',
    join(dir, 'segmentation.seg.nrrd'), '--liver', 'Liver', '--tumor', 'Tumor A', '--isotope', 'Y90', '--method', method, '--backend', 'cpu', '--quiet', ...extra, '--out', out,
  ];

  it('a rerun without --rtdose removes the previous rtdose.dcm; the manifest lists exactly the set; no temp files remain', async () => {
    const parent = tempDir('set');
    const out = join(parent, 'case');
    expect((await runCli(bq(out, ['--rtdose']))).code).toBe(0);
    expect(existsSync(join(out, 'rtdose.dcm'))).toBe(true);
    const r = await runCli(bq(out));
    expect(r.code, r.stderr).toBe(0);
    expect(readdirSync(out).sort()).toEqual(['dose.nii.gz', 'manifest.json', 'report.json', 'structures.csv', 'structures.seg.nrrd']);
    const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8'));
    expect(manifest.files.map((f: { name: string }) => f.name).sort()).toEqual(['dose.nii.gz', 'report.json', 'structures.csv', 'structures.seg.nrrd']);
    const { createHash } = await import('node:crypto');
    for (const f of manifest.files) expect(createHash('sha256').update(readFileSync(join(out, f.name))).digest('hex'), f.name).toBe(f.sha256);
    expect(readdirSync(parent), 'nothing but the set beside it').toEqual(['case']);
  });

  it('a run killed between the two renames of a swap: the previous set comes back at the next claim', async () => {
    const parent = tempDir('killed');
    const out = join(parent, 'case');
    expect((await runCli(bq(out))).code).toBe(0);
    const before = readFileSync(join(out, 'report.json'), 'utf8');
    // what a kill leaves: the old set moved aside by a process that no longer exists, the new one not yet in place
    renameSync(out, join(parent, '.case.old-999999999-deadbeef'));
    mkdirSync(join(parent, '.case.new-999999999-deadbeef'));
    writeFileSync(join(parent, '.case.new-999999999-deadbeef', 'dose.nii.gz'), 'partial');
    const r = await runCli(bq(out, [], 'dvk'));
    expect(r.code, r.stderr).toBe(0);
    expect(readdirSync(parent)).toEqual(['case']);
    expect(readFileSync(join(out, 'report.json'), 'utf8')).not.toBe(before); // the new (DVK) set replaced the restored one
  });

  it('two runs into one --out at once: one finishes, the other is refused with one clear line', async () => {
    const out = join(tempDir('race'), 'case');
    const start = () =>
      new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const p = spawn(process.execPath, ['scripts/dosimetry.mjs', ...bq(out)], { cwd: root });
        let stderr = '';
        p.stderr.on('data', (d) => (stderr += d));
        p.on('close', (code) => resolve({ code, stderr }));
      });
    const results = await Promise.all([start(), start()]);
    const ok = results.filter((x) => x.code === 0);
    const refused = results.filter((x) => x.code !== 0);
    // both may also finish one after the other when the first is done before the second starts; never both fail
    expect(ok.length).toBeGreaterThanOrEqual(1);
    for (const x of refused) expect(x.stderr.trim()).toMatch(/^dosimetry dose: --out .* is being written by another dosimetry run \(pid \d+\)/);
    expect(existsSync(join(out, 'report.json'))).toBe(true);
  });
});

describe('the process', () => {
  it('--json output reaches a slow reader whole (more than the 64 KiB a pipe buffers)', async () => {
    // a kernel of 25^3 values as JSON (about 120 KB), read by a shell pipeline that starts reading after 1 s
    const r = spawnSync('bash', ['-c', `"${process.execPath}" scripts/dosimetry.mjs kernel --json --isotope Y90 --voxel-mm 1 --radius 12 | (sleep 1; cat)`], {
      cwd: root,
      encoding: 'utf8',
      maxBuffer: 1 << 26,
    });
    expect(r.status, r.stderr).toBe(0);
    const text = r.stdout;
    expect(text.length).toBeGreaterThan(65536);
    expect(JSON.parse(text).values).toHaveLength(25 ** 3);
  });

  it('auto never opens a software adapter: the CPU runs, the report says why, and stderr stays empty', () => {
    const out = join(tempDir('auto'), 'case');
    const r = spawnSync(process.execPath, ['scripts/dosimetry.mjs', 'dose', '--activity', join(dir, 'activity_bqml.nii.gz'), '--activity-unit', 'bq-per-ml',
      '--scan-delay-h', '0', '--segmentation', join(dir, 'segmentation.seg.nrrd'), '--liver', 'Liver', '--isotope', 'Y90', '--method', 'ldm', '--out', out], {
      cwd: root,
      encoding: 'utf8',
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    const rep = report(out);
    if (/software renderer/.test(rep.backendReason)) expect(rep.backend).toBe('cpu');
    else if (rep.backend === 'webgpu') expect(rep.backendReason).toMatch(/hardware WebGPU adapter/);
    else expect(rep.backendReason).toMatch(/^auto: /);
    console.log(`auto chose ${rep.backend}: ${rep.backendReason}`);
  });

  it("an explicit --backend webgpu: stderr holds the engine's lines only (Dawn's native warnings filtered)", async () => {
    if (!(await webgpuAvailable())) return;
    const out = join(tempDir('gpu-err'), 'case');
    const r = spawnSync(process.execPath, ['scripts/dosimetry.mjs', 'dose', '--activity', join(dir, 'activity_counts.nrrd'), '--activity-unit', 'counts',
      '--administered-gbq', '2', '--segmentation', join(dir, 'segmentation.seg.nrrd'), '--liver', 'Liver', '--restrict-to', 'Lungs', '--normalize-to', 'Tumor A',
      '--isotope', 'Y90', '--method', 'ldm', '--backend', 'webgpu', '--out', out], { cwd: root, encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n'), r.stderr).toEqual([expect.stringMatching(/^dosimetry dose: structure "Tumor A" holds no counts/)]);
    const ok = join(tempDir('gpu-ok'), 'case');
    const q = spawnSync(process.execPath, ['scripts/dosimetry.mjs', 'dose', '--activity', join(dir, 'activity_bqml.nii.gz'), '--activity-unit', 'bq-per-ml', '--scan-delay-h', '0',
      '--segmentation', join(dir, 'segmentation.seg.nrrd'), '--liver', 'Liver', '--isotope', 'Y90', '--method', 'ldm', '--backend', 'webgpu', '--out', ok], { cwd: root, encoding: 'utf8' });
    expect(q.status, q.stderr).toBe(0);
    expect(q.stderr).toBe('');
    expect(report(ok).backend).toBe('webgpu');
  });

  it('an error after the back end is chosen is still one line on stderr (no native GPU warnings before it)', () => {
    const out = join(tempDir('auto-err'), 'case');
    const r = spawnSync(process.execPath, ['scripts/dosimetry.mjs', 'dose', '--activity', join(dir, 'activity_counts.nrrd'), '--activity-unit', 'counts',
      '--administered-gbq', '2', '--segmentation', join(dir, 'segmentation.seg.nrrd'), '--liver', 'Liver', '--restrict-to', 'Lungs', '--normalize-to', 'Tumor A',
      '--isotope', 'Y90', '--method', 'dvk', '--out', out], { cwd: root, encoding: 'utf8' });
    expect(r.status).not.toBe(0);
    expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1);
    expect(existsSync(out)).toBe(false);
  });
});
