/**
 * DICOMweb end to end against a real server: Debian's Orthanc with its DICOMweb plugin on 127.0.0.1 (basic
 * authentication on, a registered user), the real MAA study (../shared/data/dicom-maa-study) uploaded through Orthanc's
 * own REST API (POST /instances), then `dose` reading activity, CT and RTSTRUCT from dicomweb: URLs (and from
 * --study UID --dicomweb URL) and storing its results with --store. The stored objects are read back by WADO-RS and
 * checked against the local outputs with readers independent of the writers: RT Dose voxels against dose.nii.gz on the
 * RT Dose grid (16-bit scaling tolerance), SEG segments against structures.seg.nrrd (voxel sets, through world
 * coordinates), the Encapsulated PDF against report.pdf. Credentials reach neither report.json nor stdout/stderr.
 * Skips with a printed reason where Orthanc or its plugin is missing or cannot start, or ../shared is absent.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DOSE_OPTIONS } from '../../packages/dosimetry-core/src/cli/commands/dose.ts';
import { authFromEnv, DicomwebClient } from '../../packages/dosimetry-core/src/dicomweb/index.ts';
import { readDicomSegmentation, readDicomVolume } from '../../packages/dosimetry-core/src/io/dicom/index.ts';
import { parseDicom } from '../../packages/dosimetry-core/src/io/dicom/parser.ts';
import { TAG } from '../../packages/dosimetry-core/src/io/dicom/tags.ts';
import { readSegmentation, readVolume } from '../../packages/dosimetry-core/src/io/index.ts';
import { indexToWorld, worldToIndex, type Geometry } from '../../packages/dosimetry-core/src/volume/geometry.ts';
import type { StructureMask } from '../../packages/dosimetry-core/src/volume/structure.ts';
import { runCli, sharedData, tempDir } from './cli-harness.ts';

const ORTHANC = '/usr/sbin/Orthanc';
const PLUGIN = '/usr/share/orthanc/plugins/libOrthancDicomWeb.so';
const STUDY = sharedData('dicom-maa-study');
const missing = !existsSync(ORTHANC) ? `${ORTHANC} is not installed (apt-get install orthanc)` : !existsSync(PLUGIN) ? `${PLUGIN} is not installed (apt-get install orthanc-dicomweb)` : undefined;
if (missing) console.warn(`skipping DICOMweb tests against Orthanc: ${missing}`);
const HAS_SEG_DICOM = 'seg-dicom' in DOSE_OPTIONS;
if (!HAS_SEG_DICOM) console.warn('DICOMweb: the DICOM SEG writer (--seg-dicom) is not in this build: SEG store and read-back are not checked');

const USER = 'physicist';
const PASSWORD = `pw-${randomBytes(12).toString('hex')}`;
const BASIC = Buffer.from(`${USER}:${PASSWORD}`).toString('base64');

async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
  });
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(join(dir, e.name)) : e.name.endsWith('.dcm') ? [join(dir, e.name)] : []));
}

/** Series UIDs of the study's three folders (read from the files, not from the server). */
function uidsOf(sub: string): { study: string; series: string } {
  const ds = parseDicom(readFileSync(filesUnder(join(STUDY!, sub))[0])).dataset;
  return { study: ds.string(TAG.StudyInstanceUID)!, series: ds.string(TAG.SeriesInstanceUID)! };
}

/** Voxel centres (as dose-grid indices) where a mask is at least half in: independent of either mask's grid. */
function voxelSet(m: StructureMask, grid: Geometry): Set<number> {
  const out = new Set<number>();
  const [nx, ny, nz] = m.geometry.dims;
  const [gx, gy] = grid.dims;
  for (let k = 0; k < nz; k++)
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++) {
        if (m.occupancy[i + nx * (j + ny * k)] < 128) continue;
        const w = indexToWorld(m.geometry, i, j, k);
        const [a, b, c] = worldToIndex(grid, w[0], w[1], w[2]).map(Math.round);
        out.add(a + gx * (b + gy * c));
      }
  return out;
}

describe.skipIf(!STUDY || missing)('DICOMweb against a real Orthanc (QIDO-RS, WADO-RS, STOW-RS, basic auth)', () => {
  const work = tempDir('orthanc');
  let orthanc: ChildProcess | undefined;
  let base = '';
  let rest = '';
  let cannotStart: string | undefined;
  const saved = { ...process.env };
  let ct: { study: string; series: string }, nm: { study: string; series: string }, rs: { study: string; series: string };

  beforeAll(async () => {
    const port = await freePort();
    rest = `http://127.0.0.1:${port}`;
    base = `${rest}/dicom-web`;
    const config = {
      Name: 'sirt-dosimetry-test',
      HttpPort: port,
      DicomServerEnabled: false,
      DicomPort: await freePort(),
      StorageDirectory: join(work, 'storage'),
      IndexDirectory: join(work, 'index'),
      Plugins: [PLUGIN],
      DicomWeb: { Enable: true, Root: '/dicom-web/', StudiesMetadata: 'Full', SeriesMetadata: 'Full' },
      RemoteAccessAllowed: false,
      AuthenticationEnabled: true,
      RegisteredUsers: { [USER]: PASSWORD },
      HttpCompressionEnabled: false,
    };
    writeFileSync(join(work, 'orthanc.json'), JSON.stringify(config));
    const log: string[] = [];
    orthanc = spawn(ORTHANC, [join(work, 'orthanc.json')], { stdio: ['ignore', 'pipe', 'pipe'] });
    orthanc.stdout!.on('data', (d) => log.push(String(d)));
    orthanc.stderr!.on('data', (d) => log.push(String(d)));
    let exited = false;
    orthanc.on('exit', () => (exited = true));
    const t0 = Date.now();
    for (;;) {
      if (exited) break;
      try {
        const r = await fetch(`${rest}/system`, { headers: { Authorization: `Basic ${BASIC}` } });
        if (r.ok) break;
      } catch {
        // not listening yet
      }
      if (Date.now() - t0 > 30_000) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const up = !exited && (await fetch(`${rest}/system`, { headers: { Authorization: `Basic ${BASIC}` } }).then((r) => r.ok, () => false));
    if (!up) {
      cannotStart = `Orthanc did not start on 127.0.0.1:${port}: ${log.join('').split('\n').filter((l) => /^E|error/i.test(l)).slice(-3).join(' | ') || 'no answer within 30 s'}`;
      console.warn(`skipping DICOMweb tests against Orthanc: ${cannotStart}`);
      return;
    }
    // the study goes in through Orthanc's own REST API, not through the code under test
    for (const f of filesUnder(STUDY!)) {
      const r = await fetch(`${rest}/instances`, { method: 'POST', headers: { Authorization: `Basic ${BASIC}` }, body: readFileSync(f) });
      if (!r.ok) throw new Error(`upload of ${f} to Orthanc failed: HTTP ${r.status} ${await r.text()}`);
    }
    ct = uidsOf('CT');
    nm = uidsOf('NM');
    rs = uidsOf('RTSTRUCT');
    process.env.DOSIMETRY_DICOMWEB_USER = USER;
    process.env.DOSIMETRY_DICOMWEB_PASSWORD = PASSWORD;
    delete process.env.DOSIMETRY_DICOMWEB_TOKEN;
    process.env.DOSIMETRY_CACHE = join(work, 'cache');
  }, 180_000);

  afterAll(async () => {
    process.env = saved;
    if (orthanc?.pid !== undefined && orthanc.exitCode === null) {
      const gone = new Promise((r) => orthanc!.once('exit', r));
      process.kill(orthanc.pid, 'SIGTERM');
      await Promise.race([gone, new Promise((r) => setTimeout(r, 10_000))]);
      if (orthanc.exitCode === null) process.kill(orthanc.pid, 'SIGKILL');
    }
  });

  const series = (u: { study: string; series: string }) => `dicomweb:${base}/studies/${u.study}/series/${u.series}`;
  const common = ['--activity-unit', 'counts', '--administered-gbq', '2', '--liver', 'Lung', '--tumor', 'Tumor', '--isotope', 'Y90', '--method', 'ldm', '--backend', 'cpu'];
  const noSecret = (text: string, where: string) => {
    expect(text, where).not.toContain(PASSWORD);
    expect(text, where).not.toContain(BASIC);
  };

  const studyOut = join(work, 'from-study');
  it('--study UID --dicomweb URL: chooses NM, CT and RTSTRUCT as a folder would, says so, and caches by SOP Instance UID', async (ctx) => {
    if (cannotStart) ctx.skip();
    const r = await runCli(['dose', '--study', nm.study, '--dicomweb', base, ...common, '--out', studyOut, '--quiet']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`dicomweb: activity from study ${nm.study}: series ${nm.series} (NM`);
    expect(r.stderr).toContain(`dicomweb: ct from study ${nm.study}: series ${ct.series} (CT`);
    expect(r.stderr).toContain(`dicomweb: segmentation from study ${nm.study}: series ${rs.series} (RTSTRUCT`);
    noSecret(r.stdout + r.stderr, 'output');
    const report = readFileSync(join(studyOut, 'report.json'), 'utf8');
    noSecret(report, 'report.json');
    noSecret(readFileSync(join(studyOut, 'manifest.json'), 'utf8'), 'manifest.json');
    // the cache holds exactly the study's instances, each under its SOP Instance UID
    for (const sub of ['CT', 'NM', 'RTSTRUCT']) {
      const u = uidsOf(sub);
      const local = filesUnder(join(STUDY!, sub)).map((f) => parseDicom(readFileSync(f)).dataset.string(TAG.SOPInstanceUID)! + '.dcm').sort();
      expect(readdirSync(join(work, 'cache', 'dicomweb', u.study, u.series)).sort(), sub).toEqual(local);
    }
    const p = JSON.parse(report).provenance.parameters.dicomweb;
    expect(p.study).toBe(nm.study);
    expect(p.inputs.map((i: { role: string }) => i.role).sort()).toEqual(['activity', 'ct', 'segmentation']);
  });

  const out = join(work, 'case');
  let run: Awaited<ReturnType<typeof runCli>>;
  it('dose from dicomweb: series with --store: same dose as from the study, outputs written, stored objects listed', async (ctx) => {
    if (cannotStart) ctx.skip();
    run = await runCli(['dose', '--activity', series(nm), '--ct', series(ct), '--segmentation', series(rs), ...common, '--report', ...(HAS_SEG_DICOM ? ['--seg-dicom'] : []), '--store', `dicomweb:${base}`, '--out', out]);
    expect(run.code, run.stderr).toBe(0);
    noSecret(run.stdout + run.stderr, 'output');
    noSecret(readFileSync(join(out, 'report.json'), 'utf8'), 'report.json');
    const rep = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));
    // the second run finds every instance in the cache
    for (const i of rep.provenance.parameters.dicomweb.inputs) expect(i.fromCache, i.series).toBe(i.instances);
    expect(rep.provenance.parameters.dicomweb.inputs.map((i: { series: string }) => i.series)).toEqual([series(nm), series(ct), series(rs)]);
    // the same inputs through either route give the same dose, voxel for voxel
    const a = await readVolume(join(out, 'dose.nii.gz'));
    const b = await readVolume(join(studyOut, 'dose.nii.gz'));
    expect(a.data).toEqual(b.data);
    expect(run.stdout).toMatch(new RegExp(`stored on ${base.replace(/[.]/g, '\\.')} \\(STOW-RS, HTTP 200\\) in study ${ct.study}`));
    const rd = parseDicom(readFileSync(join(out, 'rtdose.dcm'))).dataset;
    expect(run.stdout).toContain(`RT Dose          ${rd.string(TAG.SOPInstanceUID)}`);
    expect(run.stdout).toContain('Encapsulated PDF');
    if (HAS_SEG_DICOM) expect(run.stdout).toContain('DICOM SEG');
  });

  /** The stored objects of a modality, read back by WADO-RS into a folder. */
  async function readBack(modality: string): Promise<string[]> {
    const client = new DicomwebClient({ baseUrl: base, auth: authFromEnv() });
    const all = await client.searchSeries(ct.study);
    const s = all.filter((x) => x.modality === modality);
    expect(s, `${modality} series on the server: ${all.map((x) => x.modality).join(', ')}`).toHaveLength(1);
    const parts = await client.retrieveSeries(ct.study, s[0].seriesInstanceUid);
    const dir = join(work, `back-${modality}`);
    mkdirSync(dir, { recursive: true });
    return parts.map((p, n) => {
      const f = join(dir, `${n}.dcm`);
      writeFileSync(f, p);
      return f;
    });
  }

  it('RT Dose read back by WADO-RS: in the CT study and Frame of Reference, voxels equal to dose.nii.gz', async (ctx) => {
    if (cannotStart || run?.code !== 0) ctx.skip();
    const [f] = await readBack('RTDOSE');
    const ctDs = parseDicom(readFileSync(filesUnder(join(STUDY!, 'CT'))[0])).dataset;
    const back = await readDicomVolume(f);
    expect(back.meta.studyInstanceUid).toBe(ctDs.string(TAG.StudyInstanceUID));
    expect(back.meta.frameOfReferenceUid).toBe(ctDs.string(TAG.FrameOfReferenceUID));
    const nii = await readVolume(join(out, 'dose.nii.gz'));
    expect(back.volume.geometry.dims).toEqual(nii.geometry.dims);
    const g = nii.geometry, h = back.volume.geometry;
    for (const [i, j, k] of [[0, 0, 0], [g.dims[0] - 1, g.dims[1] - 1, g.dims[2] - 1]]) {
      const p = indexToWorld(g, i, j, k), q = indexToWorld(h, i, j, k);
      // NIfTI holds the affine in float32, DICOM in 16-character decimals: 1e-3 mm
      for (let c = 0; c < 3; c++) expect(Math.abs(p[c] - q[c])).toBeLessThan(1e-3);
    }
    // 16-bit RT Dose: |error| <= Dose Grid Scaling / 2, plus float32 rounding of the scaled value
    const scaling = back.meta.rescale.slope[0];
    let worst = 0, max = 0;
    for (let n = 0; n < nii.data.length; n++) {
      worst = Math.max(worst, Math.abs(back.volume.data[n] - nii.data[n]));
      max = Math.max(max, nii.data[n]);
    }
    expect(max).toBeGreaterThan(0);
    expect(worst).toBeLessThanOrEqual(scaling / 2 + 1e-6 * max);
  });

  it('DICOM SEG read back by WADO-RS: its segments are the voxels of structures.seg.nrrd', async (ctx) => {
    if (cannotStart || run?.code !== 0) ctx.skip();
    if (!HAS_SEG_DICOM) {
      console.warn('DICOMweb: no DICOM SEG writer (--seg-dicom) in this build: SEG read-back not checked');
      ctx.skip();
    }
    const [f] = await readBack('SEG');
    expect(parseDicom(readFileSync(f)).dataset.string(TAG.FrameOfReferenceUID)).toBe(parseDicom(readFileSync(join(out, 'rtdose.dcm'))).dataset.string(TAG.FrameOfReferenceUID));
    const seg = await readDicomSegmentation(f);
    const nrrd = await readSegmentation(join(out, 'structures.seg.nrrd'));
    const grid = (await readVolume(join(out, 'dose.nii.gz'))).geometry;
    expect(seg.map((m) => m.name).sort()).toEqual(nrrd.filter((m) => m.occupancy.some((v) => v >= 128)).map((m) => m.name).sort());
    for (const m of seg) {
      const want = voxelSet(nrrd.find((x) => x.name === m.name)!, grid);
      const got = voxelSet(m, grid);
      expect(got.size, m.name).toBe(want.size);
      expect([...got].filter((v) => !want.has(v)), m.name).toEqual([]);
    }
  });

  it('Encapsulated PDF read back by WADO-RS: the report.pdf bytes, in the same study', async (ctx) => {
    if (cannotStart || run?.code !== 0) ctx.skip();
    const [f] = await readBack('DOC');
    const ds = parseDicom(readFileSync(f)).dataset;
    expect(ds.string(TAG.StudyInstanceUID)).toBe(ct.study);
    const pdf = new Uint8Array(readFileSync(join(out, 'report.pdf')));
    const doc = ds.get(0x00420011)!.value as Uint8Array;
    expect(doc.length - pdf.length).toBeLessThanOrEqual(1); // padded to even length
    expect(Buffer.from(doc.subarray(0, pdf.length)).equals(Buffer.from(pdf))).toBe(true);
    expect(ds.string(0x00420012)).toBe('application/pdf');
  });

  it('--study now finds two segmentations (RTSTRUCT and the stored SEG or none): asks which, in one line', async (ctx) => {
    if (cannotStart || run?.code !== 0 || !HAS_SEG_DICOM) ctx.skip();
    const o = join(work, 'ambiguous');
    const r = await runCli(['dose', '--study', ct.study, '--dicomweb', base, ...common, '--out', o, '--quiet']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/holds 2 RTSTRUCT\/SEG series for the segmentation; give one with --segmentation dicomweb:/);
    expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1); // the choices made before the refusal are not said
    expect(existsSync(o)).toBe(false);
  });

  it('plan --store: the RT Dose of the plan reaches the server (found there by QIDO-RS under its SOP Instance UID)', async (ctx) => {
    if (cannotStart) ctx.skip();
    const o = join(work, 'plan');
    const r = await runCli(['plan', '--device', 'glass', '--activity', series(nm), '--activity-unit', 'counts', '--segmentation', series(rs), '--liver', 'Lung', '--tumor', 'Tumor',
      '--lung-shunt-fraction', '0.05', '--backend', 'cpu', '--store', `dicomweb:${base}`, '--out', o, '--quiet']);
    expect(r.code, r.stderr).toBe(0);
    const sop = parseDicom(readFileSync(join(o, 'rtdose.dcm'))).dataset.string(TAG.SOPInstanceUID)!;
    expect(r.stdout).toContain(`RT Dose          ${sop}`);
    const client = new DicomwebClient({ baseUrl: base, auth: authFromEnv() });
    const doses = (await client.searchSeries(nm.study)).filter((x) => x.modality === 'RTDOSE');
    const found = (await Promise.all(doses.map((d) => client.searchInstances(nm.study, d.seriesInstanceUid)))).flat().map((i) => i.sopInstanceUid);
    expect(found).toContain(sop);
  });

  it('a store the server refuses (wrong password): non-zero exit, one line with the status, outputs kept, no secret shown', async (ctx) => {
    if (cannotStart) ctx.skip();
    const o = join(work, 'refused');
    process.env.DOSIMETRY_DICOMWEB_PASSWORD = 'not-the-password';
    try {
      const r = await runCli(['dose', '--activity', join(STUDY!, 'NM'), '--segmentation', join(STUDY!, 'RTSTRUCT'), ...common, '--store', `dicomweb:${base}`, '--out', o, '--quiet']);
      expect(r.code).not.toBe(0);
      // the case ran (its warnings are said as always); the failure to store is the one other line
      const lines = r.stderr.trim().split('\n').filter((l) => !l.startsWith('warning: '));
      expect(lines, r.stderr).toHaveLength(1);
      expect(lines[0]).toMatch(new RegExp(`DICOMweb POST ${base.replace(/[.]/g, '\\.')}/studies \\(storing 1 instance\\(s\\)\\) failed: HTTP 401`));
      expect(lines[0]).toContain(`the outputs in ${o} were written and are kept`);
      expect(r.stderr).not.toContain('not-the-password');
      for (const f of ['dose.nii.gz', 'report.json', 'rtdose.dcm']) expect(existsSync(join(o, f)), f).toBe(true);
    } finally {
      process.env.DOSIMETRY_DICOMWEB_PASSWORD = PASSWORD;
    }
  });

  it('wrong credentials on input: one line naming status and URL, nothing written', async (ctx) => {
    if (cannotStart) ctx.skip();
    const o = join(work, 'noauth');
    delete process.env.DOSIMETRY_DICOMWEB_PASSWORD;
    delete process.env.DOSIMETRY_DICOMWEB_USER;
    try {
      const r = await runCli(['dose', '--activity', series(nm), '--segmentation', join(STUDY!, 'RTSTRUCT'), ...common, '--out', o, '--quiet']);
      expect(r.code).not.toBe(0);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/DICOMweb GET http:\/\/127\.0\.0\.1:\d+\/dicom-web\/studies\/[\d.]+\/series\/[\d.]+\/instances \(listing the instances of series [\d.]+\) failed: HTTP 401.*DOSIMETRY_DICOMWEB_TOKEN/);
      expect(existsSync(o)).toBe(false);
    } finally {
      process.env.DOSIMETRY_DICOMWEB_USER = USER;
      process.env.DOSIMETRY_DICOMWEB_PASSWORD = PASSWORD;
    }
  });
});
