/**
 * DICOM through the CLI entry `main([...])`: the real MAA study end to end (report sanity, rtdose.dcm against
 * dose.nii.gz with the project's reader, pydicom and dciodvfy), a table of bad inputs built by editing copies of the
 * study (each works, or fails with one line, a non-zero exit and no output folder), and the PT scan delay read from
 * DICOM timing. Skips with a printed reason when ../shared/data, pydicom or dciodvfy are absent.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { readDicomVolume } from '../../src/io/dicom/index.ts';
import { parseDicom, type DicomDataset } from '../../src/io/dicom/parser.ts';
import { SOP_CLASS, TAG } from '../../src/io/dicom/tags.ts';
import { dataset, put, writePart10 } from '../../src/io/dicom/writer.ts';
import { encodeNifti, readVolume } from '../../src/io/index.ts';
import { NUCLIDES } from '../../src/units/index.ts';
import { indexToWorld, voxelVolumeMl } from '../../src/volume/geometry.ts';
import { HAS_STUDY, STUDY, type CliRun, editCopy, pydicomAvailable, runMain, studyFiles, tempDir, warnNoStudy, which } from './helpers.ts';

warnNoStudy();
const CHECK = fileURLToPath(new URL('../../../../scripts/check-rtdose.py', import.meta.url));
const py = pydicomAvailable();
if (!py.ok) console.warn(`skipping pydicom checks of the CLI's rtdose.dcm: ${py.reason}`);
const DCIODVFY = which('dciodvfy');
if (!DCIODVFY) console.warn("skipping dciodvfy checks of the CLI's rtdose.dcm: dciodvfy is not installed (apt-get install dicom3tools)");

/** Arguments of a counts case on the study's NM with its RTSTRUCT (Lung in the liver role: the study is thoracic). */
function doseArgs(out: string, over: Record<string, string | undefined> = {}, flags: string[] = []): string[] {
  const o: Record<string, string | undefined> = {
    activity: `${STUDY}NM`,
    'activity-unit': 'counts',
    'administered-gbq': '2',
    segmentation: `${STUDY}RTSTRUCT`,
    liver: 'Lung',
    tumor: 'Tumor',
    isotope: 'Y90',
    method: 'ldm',
    backend: 'cpu',
    out,
    ...over,
  };
  const argv = ['dose'];
  for (const [k, v] of Object.entries(o)) if (v !== undefined) argv.push(`--${k}`, v);
  return [...argv, '--quiet', ...flags];
}

type Report = {
  activityInFieldGBq: number;
  decayFactorToImplant: number;
  warnings: string[];
  structures: Array<{ name: string; role: string; activityGBq: number; volumeMl: number; massG: number; meanGy: number }>;
  provenance: { parameters: Record<string, unknown> & { dicom?: Record<string, Record<string, unknown>> } };
};
const readReport = (out: string): Report => JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));

function expectOneLineFailure(r: CliRun, out: string, re: RegExp): void {
  expect(r.code, r.stderr).not.toBe(0);
  const lines = r.stderr.trim().split('\n');
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(re);
  expect(existsSync(out)).toBe(false);
}

function dciodvfyErrors(path: string): string[] {
  const r = spawnSync(DCIODVFY!, [path], { encoding: 'utf8' });
  return `${r.stdout}\n${r.stderr}`.split('\n').filter((l) => /^Error/.test(l));
}

describe.skipIf(!HAS_STUDY)('dose on the real DICOM study through main([...])', () => {
  const out = join(tempDir('dicom-e2e-'), 'case');
  let run: CliRun;
  const ready = (async () => {
    // The study's root folder for both: --activity picks the NM series, --ct the CT series.
    run = await runMain(doseArgs(out, { activity: STUDY, ct: STUDY }, ['--rtdose']));
  })();

  it('runs, and the report is sane: liver role present, activity normalised, tumour hotter, CT lung density', async () => {
    await ready;
    expect(run.code, run.stderr).toBe(0);
    const rep = readReport(out);
    const liver = rep.structures.find((s) => s.role === 'liver')!;
    expect(liver.name).toBe('Lung');
    // Counts calibration: the normalisation structure carries --administered-gbq x (1 - LSF), LSF 0 here;
    // float32 voxel arithmetic over ~1e5 voxels: 1e-5 relative.
    expect(liver.activityGBq).toBeCloseTo(2, 4);
    expect(rep.activityInFieldGBq).toBeGreaterThanOrEqual(2 * (1 - 1e-5));
    const tumor = rep.structures.find((s) => s.role === 'tumor')!;
    const normal = rep.structures.find((s) => s.role === 'normal-liver')!;
    // The MAA scout was injected into the tumour's arteries: its mean dose is well above the rest of the lung.
    expect(tumor.meanGy).toBeGreaterThan(2 * normal.meanGy);
    // Densities from the CT: aerated lung is 0.15-0.6 g/mL (ICRU 46 gives 0.26 for inflated lung; 4.8 mm voxels
    // add vessel walls). A CT placed wrongly on the NM grid would give soft tissue (~1) or air (~0).
    expect(liver.massG / liver.volumeMl).toBeGreaterThan(0.15);
    expect(liver.massG / liver.volumeMl).toBeLessThan(0.6);
    const dicom = rep.provenance.parameters.dicom!;
    expect(dicom.activity.modality).toBe('NM');
    expect(dicom.ct.modality).toBe('CT');
    expect(dicom.rtDose.frameOfReferenceFrom).toBe('ct');
    // The NM counts carry no scan delay.
    expect(rep.provenance.parameters.scanDelaySource).toMatch(/not applicable/);
    // The patient's identity as a comparison key, never the ID itself (compare uses it once the files are gone):
    // SHA-256 of the Patient ID as pydicom-independent node:crypto computes it from the CT file's own bytes.
    const { createHash } = await import('node:crypto');
    const ctId = parseDicom(readFileSync(studyFiles('CT')[0])).dataset.string(TAG.PatientID)!.trim();
    const activity = dicom.activity as unknown as { patientIdSha256: string; studyDate: string | null };
    expect(activity.patientIdSha256).toBe(createHash('sha256').update(ctId).digest('hex'));
    expect((dicom.ct as unknown as { patientIdSha256: string }).patientIdSha256).toBe(activity.patientIdSha256);
    expect(JSON.stringify(rep)).not.toContain(`"${ctId}"`);
  });

  it('writes rtdose.dcm in the CT Frame of Reference and study, equal to dose.nii.gz (values and positions)', async () => {
    await ready;
    expect(run.code, run.stderr).toBe(0);
    const ctFile = parseDicom(readFileSync(studyFiles('CT')[0])).dataset;
    const rd = await readDicomVolume(join(out, 'rtdose.dcm'));
    expect(rd.meta.frameOfReferenceUid).toBe(ctFile.string(TAG.FrameOfReferenceUID));
    expect(rd.meta.studyInstanceUid).toBe(ctFile.string(TAG.StudyInstanceUID));
    expect(rd.meta.patient.id).toBe(ctFile.string(TAG.PatientID));
    expect(rd.meta.patient.name).toBe(ctFile.string(TAG.PatientName));
    const nii = await readVolume(join(out, 'dose.nii.gz'));
    const g = nii.geometry, h = rd.volume.geometry;
    expect(h.dims).toEqual(g.dims);
    // World positions of the corners: NIfTI stores the affine as float32 (1e-7 x 1500 mm); DICOM as 16-character
    // decimals: 1e-3 mm.
    for (const [i, j, k] of [[0, 0, 0], [g.dims[0] - 1, 0, 0], [0, g.dims[1] - 1, 0], [g.dims[0] - 1, g.dims[1] - 1, g.dims[2] - 1]]) {
      const a = indexToWorld(g, i, j, k), b = indexToWorld(h, i, j, k);
      for (let c = 0; c < 3; c++) expect(Math.abs(a[c] - b[c])).toBeLessThan(1e-3);
    }
    // Values: 16-bit quantisation, |error| <= Dose Grid Scaling / 2, plus float32 rounding of the scaled value.
    const scaling = rd.meta.rescale.slope[0];
    let worst = 0, max = 0;
    for (let n = 0; n < nii.data.length; n++) {
      worst = Math.max(worst, Math.abs(rd.volume.data[n] - nii.data[n]));
      max = Math.max(max, nii.data[n]);
    }
    expect(max).toBeGreaterThan(0);
    expect(worst).toBeLessThanOrEqual(scaling / 2 + 1e-6 * max);
  });

  it.skipIf(!py.ok)('rtdose.dcm read by pydicom (scripts/check-rtdose.py) matches dose.nii.gz', async () => {
    await ready;
    expect(run.code, run.stderr).toBe(0);
    const r = spawnSync('/usr/bin/python3', [CHECK, join(out, 'rtdose.dcm')], { encoding: 'utf8' });
    expect(r.status, r.stderr + r.stdout).toBe(0);
    const o = JSON.parse(r.stdout);
    const nii = await readVolume(join(out, 'dose.nii.gz'));
    const g = nii.geometry;
    expect(o.shape).toEqual([g.dims[2], g.dims[1], g.dims[0]]);
    expect(o.doseUnits).toBe('GY');
    expect(o.doseType).toBe('PHYSICAL');
    expect(o.doseSummationType).toBe('PLAN_OVERVIEW');
    let sum = 0;
    for (const v of nii.data) sum += v;
    // Each voxel within scaling / 2 of the float dose.
    expect(Math.abs(o.sumGy - sum)).toBeLessThanOrEqual((nii.data.length * o.doseGridScaling) / 2 + 1e-6 * sum);
    for (const k of [0, Math.floor(g.dims[2] / 2), g.dims[2] - 1]) {
      const w = indexToWorld(g, 0, 0, k);
      for (let c = 0; c < 3; c++) expect(Math.abs(o.framePositions[k][c] - w[c])).toBeLessThan(1e-3);
    }
  });

  it.skipIf(!DCIODVFY)('rtdose.dcm has no errors under dciodvfy', async () => {
    await ready;
    expect(run.code, run.stderr).toBe(0);
    expect(dciodvfyErrors(join(out, 'rtdose.dcm'))).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Bad input through the CLI: edited copies of the study in a temp folder.

type BadCase = {
  name: string;
  /** Builds the inputs in `dir` (CT: the first 8 slices of the study, `ct`) and returns option overrides. */
  build: (dir: string, ct: string[]) => { over: Record<string, string | undefined>; flags?: string[] };
  /** One-line error pattern; absent: the run must succeed and `ok` checks it. */
  error?: RegExp;
  ok?: (out: string) => void;
};

const copyAll = (dir: string, files: string[], edit?: (ds: DicomDataset, k: number) => void, ts?: string) => {
  mkdirSync(dir, { recursive: true });
  files.forEach((f, k) => editCopy(f, join(dir, basename(f)), edit ? (ds) => edit(ds, k) : undefined, ts));
  return dir;
};
const shiftZ = (ds: DicomDataset, dz: number) => {
  const p = ds.numbers(TAG.ImagePositionPatient);
  put(ds, TAG.ImagePositionPatient, [p[0], p[1], p[2] + dz]);
};
/** RLE Lossless of 16-bit pixels with literal runs only (PS3.5 annex G). */
function rle16(px: Uint8Array): Uint8Array {
  const n = px.length / 2;
  const seg = (byte: number) => {
    const o: number[] = [];
    for (let p = 0; p < n; p += 128) {
      const m = Math.min(128, n - p);
      o.push(m - 1);
      for (let q = 0; q < m; q++) o.push(px[2 * (p + q) + byte]);
    }
    if (o.length % 2) o.push(0);
    return o;
  };
  const hi = seg(1), lo = seg(0);
  const head = new Uint8Array(64);
  const dv = new DataView(head.buffer);
  dv.setUint32(0, 2, true);
  dv.setUint32(4, 64, true);
  dv.setUint32(8, 64 + hi.length, true);
  return Uint8Array.from([...head, ...hi, ...lo]);
}
function rtPlanFile(path: string, frameOfReferenceUid: string | undefined): void {
  const ds = dataset([
    [TAG.SOPClassUID, SOP_CLASS.rtPlan],
    [TAG.SOPInstanceUID, '2.25.4242424242'],
    [TAG.Modality, 'RTPLAN'],
  ]);
  if (frameOfReferenceUid) put(ds, TAG.FrameOfReferenceUID, frameOfReferenceUid);
  writeFileSync(path, writePart10(ds));
}

const BAD: BadCase[] = [
  { name: 'CT with a missing slice', build: (d, ct) => ({ over: { ct: copyAll(d, ct.filter((_, k) => k !== 3)) } }), error: /missing slices/ },
  {
    name: 'two CT series in one folder: listed with UIDs and --ct-series',
    build: (d, ct) => {
      copyAll(d, ct.slice(0, 4));
      ct.slice(0, 4).forEach((f, k) =>
        editCopy(f, join(d, `b${k}.dcm`), (ds) => {
          put(ds, TAG.SeriesInstanceUID, '2.25.98765');
          put(ds, TAG.SOPInstanceUID, `2.25.98765${k}`);
          put(ds, TAG.SeriesDescription, 'second recon');
        }),
      );
      return { over: { ct: d } };
    },
    error: /2 image series; choose one with --ct-series UID.*2\.25\.98765 \(CT, "second recon"/,
  },
  {
    name: 'two CT series, one chosen with --ct-series',
    build: (d, ct) => {
      copyAll(d, ct.slice(0, 4));
      ct.slice(0, 4).forEach((f, k) => editCopy(f, join(d, `b${k}.dcm`), (ds) => (put(ds, TAG.SeriesInstanceUID, '2.25.98765'), put(ds, TAG.SOPInstanceUID, `2.25.98765${k}`))));
      return { over: { ct: d, 'ct-series': '2.25.98765' } };
    },
    ok: (out) => expect(readReport(out).provenance.parameters.dicom!.ct.seriesInstanceUid).toBe('2.25.98765'),
  },
  {
    name: 'CT with an inconsistent orientation',
    build: (d, ct) => ({ over: { ct: copyAll(d, ct, (ds, k) => k === 2 && put(ds, TAG.ImageOrientationPatient, [1, 0, 0, 0, 0.8, 0.6])) } }),
    error: /inconsistent orientation/,
  },
  {
    name: 'CT compressed with JPEG baseline, codestream empty: the codec refuses it, naming the syntax',
    build: (d, ct) => ({
      over: { ct: copyAll(d, ct, (ds) => ds.set({ tag: TAG.PixelData, vr: 'OB', value: new Uint8Array(0), fragments: [Uint8Array.of(0xff, 0xd8, 0xff, 0xd9)] }), '1.2.840.10008.1.2.4.50') },
    }),
    error: /JPEG Baseline \(process 1\), transfer syntax 1\.2\.840\.10008\.1\.2\.4\.50\): the pixel data does not decode/,
  },
  {
    name: 'CT compressed with RLE lossless: decoded',
    build: (d, ct) => ({
      over: { ct: copyAll(d, ct, (ds) => ds.set({ tag: TAG.PixelData, vr: 'OB', value: new Uint8Array(0), fragments: [rle16(ds.get(TAG.PixelData)!.value)] }), '1.2.840.10008.1.2.5') },
    }),
    ok: (out) => expect(readReport(out).provenance.parameters.dicom!.ct.transferSyntaxUid).toBe('1.2.840.10008.1.2.5'),
  },
  {
    name: 'CT with uneven slice spacing: resampled with a warning',
    build: (d, ct) => ({ over: { ct: copyAll(d, ct, (ds, k) => k >= 4 && shiftZ(ds, -1)) } }),
    ok: (out) => expect(readReport(out).warnings.join('\n')).toMatch(/uneven slice spacing; resampled/),
  },
  {
    name: 'private tags only',
    build: (d, ct) => {
      mkdirSync(d, { recursive: true });
      editCopy(ct[0], join(d, 'p.dcm'), (ds) => {
        for (const t of [...ds.elements.keys()]) if ((t >>> 16) % 2 === 0 && t !== TAG.SOPClassUID && t !== TAG.SOPInstanceUID) ds.delete(t);
        put(ds, 0x00091010, 'vendor data', 'LO');
      });
      return { over: { ct: d } };
    },
    error: /no image with pixel data/,
  },
  {
    name: 'non-ASCII names (UTF-8): read, and carried into rtdose.dcm',
    build: (d, ct) => ({
      over: {
        ct: copyAll(d, ct, (ds) => {
          put(ds, TAG.SpecificCharacterSet, 'ISO_IR 192');
          put(ds, TAG.PatientName, 'Ødegård^Zoë=山田^太郎');
        }),
      },
      flags: ['--rtdose'],
    }),
    ok: (out) => expect(parseDicom(readFileSync(join(out, 'rtdose.dcm'))).dataset.string(TAG.PatientName)).toBe('Ødegård^Zoë=山田^太郎'),
  },
  { name: 'the CT folder given as --activity', build: (d, ct) => ({ over: { activity: copyAll(d, ct) } }), error: /holds no NM or PT or MR series/ },
  { name: 'the CT folder given as --segmentation', build: (d, ct) => ({ over: { segmentation: copyAll(d, ct) } }), error: /holds no RT Structure Set or DICOM SEG/ },
  { name: 'a folder without DICOM files as --ct', build: (d) => (mkdirSync(d), writeFileSync(join(d, 'x.txt'), 'x'), { over: { ct: d } }), error: /folder without DICOM files/ },
  { name: '--activity-series that is not in the folder', build: () => ({ over: { 'activity-series': '1.2.3' } }), error: /series 1\.2\.3 is not in/ },
  {
    name: '--rtplan that is not an RT Plan',
    build: (_d, ct) => ({ over: { rtplan: ct[0] }, flags: ['--rtdose'] }),
    error: /is not an RT Plan/,
  },
  {
    name: '--rtplan: Dose Summation Type PLAN with the plan referenced',
    build: (d) => {
      mkdirSync(d);
      const nm = parseDicom(readFileSync(studyFiles('NM')[0])).dataset;
      rtPlanFile(join(d, 'plan.dcm'), nm.string(TAG.FrameOfReferenceUID));
      return { over: { rtplan: join(d, 'plan.dcm') }, flags: ['--rtdose'] };
    },
    ok: (out) => {
      const ds = parseDicom(readFileSync(join(out, 'rtdose.dcm'))).dataset;
      expect(ds.string(TAG.DoseSummationType)).toBe('PLAN');
      expect(ds.item(TAG.ReferencedRTPlanSequence)?.string(TAG.ReferencedSOPInstanceUID)).toBe('2.25.4242424242');
      if (DCIODVFY) expect(dciodvfyErrors(join(out, 'rtdose.dcm'))).toEqual([]);
    },
  },
];

describe.skipIf(!HAS_STUDY)('bad DICOM input through main([...]): works, or one line and a non-zero exit', () => {
  const ct = HAS_STUDY ? studyFiles('CT').slice(0, 8) : [];
  it.each(BAD.map((c) => [c.name, c] as const))('%s', async (_n, c) => {
    const root = tempDir('dicom-cli-bad-');
    const { over, flags } = c.build(join(root, 'in'), ct);
    const out = join(root, 'out');
    const r = await runMain(doseArgs(out, over, flags));
    if (c.error) expectOneLineFailure(r, out, c.error);
    else {
      expect(r.code, r.stderr).toBe(0);
      c.ok!(out);
    }
  });
});

// ---------------------------------------------------------------------------------------------------------------
// PT (Units BQML) built from 4 CT slices: the scan delay comes from the DICOM timing when --scan-delay-h is absent.

/** PT copies of CT slices: stored values as Bq/mL, decay correction and radiopharmaceutical start as given. */
function ptSeries(dir: string, ct: string[], timing: { decayCorrection?: string; startDateTime?: string; seriesTime: string }): string {
  return copyAll(dir, ct, (ds) => {
    put(ds, TAG.SOPClassUID, SOP_CLASS.pet);
    put(ds, TAG.Modality, 'PT');
    put(ds, TAG.SeriesInstanceUID, '2.25.5550001');
    put(ds, TAG.Units, 'BQML');
    put(ds, TAG.RescaleSlope, '1');
    put(ds, TAG.RescaleIntercept, '0');
    put(ds, TAG.SeriesDate, '20240102');
    put(ds, TAG.SeriesTime, timing.seriesTime);
    put(ds, TAG.AcquisitionDate, '20240102');
    put(ds, TAG.AcquisitionTime, timing.seriesTime);
    if (timing.decayCorrection) put(ds, TAG.DecayCorrection, timing.decayCorrection);
    const rp = dataset([[TAG.RadionuclideHalfLife, String(NUCLIDES.Y90.halfLifeH * 3600)]]);
    if (timing.startDateTime) put(rp, TAG.RadiopharmaceuticalStartDateTime, timing.startDateTime);
    put(ds, TAG.RadiopharmaceuticalInformationSequence, [rp]);
  });
}

describe.skipIf(!HAS_STUDY)('PT scan delay from DICOM timing through main([...])', () => {
  const ct = HAS_STUDY ? studyFiles('CT').slice(0, 4) : [];
  // 2024-01-01 15:00 to 2024-01-02 09:00: 18 h (by hand).
  const cases = [
    { name: 'START: series time - radiopharmaceutical start = 18 h', timing: { decayCorrection: 'START', startDateTime: '20240101150000', seriesTime: '090000' }, delayH: 18, source: /from the DICOM metadata/ },
    { name: 'ADMIN: 0 h', timing: { decayCorrection: 'ADMIN', startDateTime: '20240101150000', seriesTime: '090000' }, delayH: 0, source: /from the DICOM metadata/ },
    { name: 'no start time: refused, as a scan delay cannot be assumed', timing: { decayCorrection: 'START', seriesTime: '090000' }, refused: /scan delay of the DICOM PT series cannot be read from its timing.*Radiopharmaceutical Start.*give --scan-delay-h/ },
    { name: 'no start time with --scan-delay-h: the given delay', timing: { decayCorrection: 'START', seriesTime: '090000' }, given: '0', delayH: 0, source: /given/ },
    { name: 'given --scan-delay-h wins, with a warning', timing: { decayCorrection: 'START', startDateTime: '20240101150000', seriesTime: '090000' }, given: '10', delayH: 10, source: /given/, warning: /--scan-delay-h 10 differs from the 18\.00 h/ },
  ];
  it.each(cases.map((c) => [c.name, c] as const))('%s', async (_n, c) => {
    const root = tempDir('dicom-pt-');
    const pt = ptSeries(join(root, 'pt'), ct, c.timing);
    const img = await readDicomVolume(pt);
    // A label map covering the whole PT grid as the liver.
    const labels = join(root, 'labels.nii.gz');
    writeFileSync(labels, encodeNifti({ geometry: img.volume.geometry, data: new Uint8Array(img.volume.data.length).fill(1) }));
    const out = join(root, 'out');
    const r = await runMain(doseArgs(out, { activity: pt, 'activity-unit': 'bq-per-ml', 'administered-gbq': undefined, segmentation: labels, tumor: undefined, liver: 'Liver', 'scan-delay-h': c.given }, ['--labels', '1=Liver']));
    if (c.refused) {
      expect(r.code).not.toBe(0);
      expect(r.stderr.trim()).toMatch(c.refused);
      expect(existsSync(out)).toBe(false);
      return;
    }
    expect(r.code, r.stderr).toBe(0);
    const rep = readReport(out);
    const p = rep.provenance.parameters;
    expect(p.scanDelayH as number).toBeCloseTo(c.delayH!, 9);
    expect(String(p.scanDelaySource)).toMatch(c.source!);
    // A(0) = A(t) 2^(t / T1/2) (../shared/PHYSICS.md), T1/2 = 64.05 h for 90Y.
    const f = 2 ** (c.delayH! / NUCLIDES.Y90.halfLifeH);
    expect(rep.decayFactorToImplant).toBeCloseTo(f, 9);
    // Activity in the field: sum of the stored Bq/mL x voxel volume x f, from the image read here (float32: 1e-5).
    let sum = 0;
    for (const v of img.volume.data) sum += v;
    const expected = (sum * voxelVolumeMl(img.volume.geometry) * f) / 1e9;
    expect(Math.abs(rep.activityInFieldGBq - expected) / expected).toBeLessThan(1e-5);
    if (c.warning) expect(rep.warnings.join('\n')).toMatch(c.warning);
    else expect(rep.warnings.join('\n')).not.toMatch(/scan delay/);
  });
});
