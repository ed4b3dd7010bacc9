/**
 * `dose`/`plan --seg-dicom` end to end through `main` (the code path of `pnpm -s dosimetry`): DIR/structures.seg.dcm
 * holds the reported structures (derived normal liver and split lesions included); pydicom rebuilds its segments from
 * the frame positions and they equal structures.seg.nrrd voxel for voxel (scripts/check-seg.py reads the .seg.nrrd
 * itself, with gzip and numpy); dciodvfy finds no error; the engine reads it back as --segmentation and reports the
 * same structures. On the real DICOM study (../shared/data, skipped when absent) the SEG is FRACTIONAL (RTSTRUCT
 * contours give partial-volume weights), in the CT's study and Frame of Reference, and references the NM and CT
 * instances.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { encodeEncapsulatedPdf, rtDoseFrameOfReferenceFrom, readDicomVolume } from '../../packages/dosimetry-core/src/io/dicom/index.ts';
import { parseDicom } from '../../packages/dosimetry-core/src/io/dicom/parser.ts';
import { TAG } from '../../packages/dosimetry-core/src/io/dicom/tags.ts';
import { phantomCase, runCli, sharedData, tempDir } from './cli-harness.ts';

const CHECK = fileURLToPath(new URL('../../scripts/check-seg.py', import.meta.url));
const hasPydicom = existsSync('/usr/bin/python3') && spawnSync('/usr/bin/python3', ['-c', 'import pydicom, numpy'], { encoding: 'utf8' }).status === 0;
if (!hasPydicom) console.warn('skipping pydicom checks of structures.seg.dcm: /usr/bin/python3 with pydicom and numpy is absent (apt-get install python3-pydicom)');
const dciodvfy = spawnSync('sh', ['-c', 'command -v dciodvfy'], { encoding: 'utf8' }).stdout.trim() || undefined;
if (!dciodvfy) console.warn('skipping dciodvfy checks of structures.seg.dcm: dciodvfy is not installed (apt-get install dicom3tools)');
const STUDY = sharedData('dicom-maa-study');

interface Structure { name: string; role: string; volumeMl: number; massG: number; activityGBq: number; meanGy: number; d90Gy: number }
interface Report { structures: Structure[]; warnings: string[] }
const readReport = (out: string): Report => JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));

function check(out: string): Record<string, any> {
  const r = spawnSync('/usr/bin/python3', [CHECK, join(out, 'structures.seg.dcm'), '--nrrd', join(out, 'structures.seg.nrrd')], { encoding: 'utf8' });
  expect(r.status, r.stderr + r.stdout).toBe(0);
  return JSON.parse(r.stdout);
}

function dciodvfyErrors(path: string): string[] {
  const r = spawnSync(dciodvfy!, [path], { encoding: 'utf8' });
  return `${r.stdout}\n${r.stderr}`.split('\n').filter((l) => /^Error/.test(l));
}

/** The structure of `b` that matches `s` of the first run: same name and role, else same name (now role other). */
function counterpart(b: Report, s: Structure): Structure {
  const t = b.structures.find((x) => x.name === s.name && x.role === s.role) ?? b.structures.find((x) => x.name === s.name);
  if (!t) throw new Error(`"${s.name}" is missing after reading structures.seg.dcm back (have ${b.structures.map((x) => x.name).join(', ')})`);
  return t;
}

describe('dose --seg-dicom on the liver phantom (NIfTI/NRRD inputs)', () => {
  let dir: string;
  let out: string;
  let run: Awaited<ReturnType<typeof runCli>>;
  const roles = ['--liver', 'Liver', '--tumor', 'Tumor A', '--tumor', 'Tumor B', '--tumor', 'Tumor C', '--tumor', 'Tumor D', '--lung', 'Lungs'];
  const common = () => ['--activity', join(dir, 'activity_bqml.nii.gz'), '--activity-unit', 'bq-per-ml', '--scan-delay-h', '0', ...roles, '--isotope', 'Y90', '--method', 'ldm', '--backend', 'cpu', '--quiet'];
  beforeAll(async () => {
    dir = await phantomCase();
    out = join(tempDir('seg-dicom'), 'case');
    run = await runCli(['dose', ...common(), '--segmentation', join(dir, 'segmentation.seg.nrrd'), '--split-lesions', '--seg-dicom', '--out', out]);
  });

  it('writes structures.seg.dcm and says on stderr that it starts a new study with placeholder patient fields', () => {
    expect(run.code, run.stderr).toBe(0);
    expect(existsSync(join(out, 'structures.seg.dcm'))).toBe(true);
    expect(run.stderr).toMatch(/structures\.seg\.dcm: no input is DICOM.*new study.*placeholder/);
    expect(readReport(out).warnings.some((w) => /placeholder/.test(w))).toBe(true);
  });

  it.skipIf(!hasPydicom)('is BINARY and equals structures.seg.nrrd voxel for voxel, every reported structure (pydicom)', () => {
    const c = check(out);
    expect(c.segmentationType).toBe('BINARY'); // the phantom's masks are on the activity grid: weights 0 or 1
    expect(c.framesOffGrid).toEqual([]);
    expect(c.nrrdOnly).toEqual([]);
    const rep = readReport(out);
    expect(c.segments.map((s: any) => s.label)).toEqual(rep.structures.map((s) => s.name));
    for (const [label, cmp] of Object.entries<any>(c.compare)) {
      expect(cmp.inNrrd, label).toBe(true);
      expect(cmp.voxels, label).toBeGreaterThan(0);
      expect(cmp.mismatch, label).toBe(0);
    }
    const seg = Object.fromEntries(c.segments.map((s: any) => [s.label, s]));
    // derived: normal liver and the split lesions; input: the .seg.nrrd's segments
    expect(seg['Normal liver'].algorithmType).toBe('AUTOMATIC');
    for (const s of rep.structures.filter((x) => /#\d+$/.test(x.name))) expect(seg[s.name].algorithmType).toBe('AUTOMATIC');
    expect(rep.structures.some((x) => /#\d+$/.test(x.name))).toBe(true);
    expect(seg['Liver'].algorithmType).toBe('MANUAL');
    expect(seg['Liver'].type).toEqual(['10200004', 'SCT', 'Liver']);
    expect(seg['Lungs'].type).toEqual(['39607008', 'SCT', 'Lung']);
    expect(seg['Tumor A'].type).toEqual(['108369006', 'SCT', 'Neoplasm']);
    expect(c.patientId).toBe('');
    expect(c.framesWithSourceReferences).toBe(0);
  });

  it.skipIf(!dciodvfy)('has no errors under dciodvfy', () => {
    expect(dciodvfyErrors(join(out, 'structures.seg.dcm'))).toEqual([]);
  });

  it('is read back by the engine as --segmentation with the same report structures', async () => {
    const back = join(tempDir('seg-dicom-back'), 'case');
    const r = await runCli(['dose', ...common(), '--segmentation', join(out, 'structures.seg.dcm'), '--out', back]);
    expect(r.code, r.stderr).toBe(0);
    const a = readReport(out), b = readReport(back);
    for (const s of a.structures) {
      const t = counterpart(b, s);
      // the same voxels (binary, on the same grid): the sums are the same float64 sums of the same float32 values
      for (const k of ['volumeMl', 'massG', 'activityGBq', 'meanGy', 'd90Gy'] as const) expect(t[k], `${s.name} ${k}`).toBeCloseTo(s[k], 9);
    }
  });

  it('plan --seg-dicom writes it too; --seg-dicom-type fractional gives a FRACTIONAL SEG with the same voxels', async () => {
    const p = join(tempDir('seg-dicom-plan'), 'case');
    const r = await runCli([
      'plan', '--device', 'glass', '--activity', join(dir, 'activity_counts.nrrd'), '--segmentation', join(dir, 'segmentation.seg.nrrd'), ...roles,
      '--backend', 'cpu', '--quiet', '--seg-dicom', '--seg-dicom-type', 'fractional', '--out', p,
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(join(p, 'structures.seg.dcm'))).toBe(true);
    if (hasPydicom) {
      const c = check(p);
      expect(c.segmentationType).toBe('FRACTIONAL');
      for (const [label, cmp] of Object.entries<any>(c.compare)) expect(cmp.mismatch, label).toBe(0);
    }
  });

  it('refuses --seg-dicom-type without --seg-dicom, or an unknown type, in one line and with no output folder', async () => {
    for (const [extra, re] of [[['--seg-dicom-type', 'binary'], /--seg-dicom-type applies to the DICOM SEG output/], [['--seg-dicom', '--seg-dicom-type', 'labelmap'], /must be auto, binary or fractional/]] as const) {
      const o = join(tempDir('seg-dicom-bad'), 'case');
      const r = await runCli(['dose', ...common(), '--segmentation', join(dir, 'segmentation.seg.nrrd'), ...extra, '--out', o]);
      expect(r.code).not.toBe(0);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(re);
      expect(existsSync(o)).toBe(false);
    }
  });
});

describe.skipIf(!STUDY)('dose --seg-dicom on the real DICOM study (NM + CT + RTSTRUCT)', () => {
  let out: string;
  let run: Awaited<ReturnType<typeof runCli>>;
  const args = (segmentation: string, o: string, extra: string[] = []) => [
    'dose', '--activity', STUDY!, '--ct', STUDY!, '--activity-unit', 'counts', '--administered-gbq', '2', '--segmentation', segmentation,
    '--liver', 'Lung', '--tumor', 'Tumor', '--isotope', 'Y90', '--method', 'ldm', '--backend', 'cpu', '--quiet', '--out', o, ...extra,
  ];
  beforeAll(async () => {
    out = join(tempDir('seg-dicom-study'), 'case');
    run = await runCli(args(join(STUDY!, 'RTSTRUCT'), out, ['--seg-dicom', '--report']));
  });
  const uids = (sub: string, tag: number) => readdirSync(join(STUDY!, sub)).map((f) => parseDicom(readFileSync(join(STUDY!, sub, f))).dataset.string(tag)!);

  it.skipIf(!hasPydicom)('is FRACTIONAL, in the CT study and Frame of Reference, references the NM and CT instances, and equals structures.seg.nrrd (pydicom)', () => {
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).not.toMatch(/placeholder/);
    const c = check(out);
    // RTSTRUCT contours rasterised onto the finer CT grid give partial-volume weights: auto chooses FRACTIONAL
    expect(c.segmentationType).toBe('FRACTIONAL');
    const ctFirst = parseDicom(readFileSync(join(STUDY!, 'CT', readdirSync(join(STUDY!, 'CT'))[0]))).dataset;
    expect(c.studyInstanceUid).toBe(ctFirst.string(TAG.StudyInstanceUID));
    expect(c.frameOfReferenceUid).toBe(ctFirst.string(TAG.FrameOfReferenceUID));
    expect(c.patientId).toBe(ctFirst.string(TAG.PatientID));
    const nm = uids('NM', TAG.SOPInstanceUID);
    const ct = uids('CT', TAG.SOPInstanceUID);
    expect(nm).toHaveLength(1);
    // every frame names its source images: the (multi-frame) NM, and the CT slices within its slab
    expect(c.framesWithSourceReferences).toBe(c.numberOfFrames);
    expect(c.frameSourceInstances).toContain(nm[0]);
    const ctReferenced = c.frameSourceInstances.filter((u: string) => ct.includes(u));
    expect(ctReferenced.length).toBeGreaterThan(10);
    expect(c.frameSourceInstances.every((u: string) => u === nm[0] || ct.includes(u))).toBe(true);
    expect([...c.commonReferencedInstances].sort()).toEqual([...nm, ...ct].sort());
    // partial-volume values thresholded at one half are the voxels of structures.seg.nrrd
    for (const [label, cmp] of Object.entries<any>(c.compare)) expect(cmp.mismatch, label).toBe(0);
    expect(c.segments.find((s: any) => s.label === 'Lung').type).toEqual(['39607008', 'SCT', 'Lung']);
    expect(c.segments.find((s: any) => s.label === 'Normal liver').algorithmType).toBe('AUTOMATIC');
  });

  it.skipIf(!dciodvfy)('has no errors under dciodvfy', () => {
    expect(run.code, run.stderr).toBe(0);
    expect(dciodvfyErrors(join(out, 'structures.seg.dcm'))).toEqual([]);
  });

  it('is read back by the engine as --segmentation: the same structures, volumes and activities', async () => {
    expect(run.code, run.stderr).toBe(0);
    const back = join(tempDir('seg-dicom-study-back'), 'case');
    const r = await runCli(args(join(out, 'structures.seg.dcm'), back));
    expect(r.code, r.stderr).toBe(0);
    const a = readReport(out), b = readReport(back);
    for (const s of a.structures) {
      const t = counterpart(b, s);
      // weights stored as round(255 w) / 255: each boundary voxel within 1/510, the errors averaging out over a
      // structure; 1e-3 relative holds the smallest structure here (SVC, 8 mL) with a margin.
      expect(Math.abs(t.volumeMl / s.volumeMl - 1), `${s.name} volume`).toBeLessThan(1e-3);
      expect(Math.abs(t.activityGBq / s.activityGBq - 1), `${s.name} activity`).toBeLessThan(2e-3);
      // Masses (and so mean doses) are not compared: the first run knew where in each 4.8 mm voxel the contour lay
      // (masks on the 1 mm CT grid); the SEG on the dose grid keeps the fraction, not the place (README, measured).
    }
  });

  it('wraps its report.pdf as an Encapsulated PDF of the CT study: dciodvfy finds no error, pydicom gives back the same PDF', async () => {
    expect(run.code, run.stderr).toBe(0);
    const pdf = new Uint8Array(readFileSync(join(out, 'report.pdf')));
    const { meta } = await readDicomVolume(join(STUDY!, 'CT'));
    const res = encodeEncapsulatedPdf(pdf, { identity: rtDoseFrameOfReferenceFrom(meta) });
    expect(res.studyInstanceUid).toBe(meta.studyInstanceUid);
    const path = join(tempDir('seg-dicom-pdf'), 'report.pdf.dcm');
    writeFileSync(path, res.bytes);
    if (dciodvfy) expect(dciodvfyErrors(path)).toEqual([]);
    if (hasPydicom) {
      const back = path.replace(/\.dcm$/, '.back.pdf');
      const r = spawnSync('/usr/bin/python3', [CHECK, '--pdf', path, '--pdf-out', back], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ modality: 'DOC', mimeType: 'application/pdf', length: pdf.length, patientId: meta.patient.id });
      expect(Buffer.compare(readFileSync(back), Buffer.from(pdf))).toBe(0);
    }
  });
});
