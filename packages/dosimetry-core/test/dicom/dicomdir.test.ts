/**
 * A DICOMDIR in a DICOM folder is the File-set's index, never an image: a valid one is skipped as a non-image object,
 * a malformed one (truncated, no "DICM" marker, not DICOM at all, empty, or not a Media Storage Directory) is skipped
 * with a warning naming it, and the folder is read without it. Synthetic MR series written here with the project's
 * writer (always run), and the real MAA study's NM and RTSTRUCT files copied beside a garbage DICOMDIR (skipped with a
 * printed reason when ../shared is absent), through readDicomVolume and through the CLI.
 */
import { copyFileSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { listDicomFiles, readDicomSegmentation, readDicomVolume } from '../../src/io/dicom/index.ts';
import type { DicomDataset } from '../../src/io/dicom/parser.ts';
import { SOP_CLASS, TAG } from '../../src/io/dicom/tags.ts';
import { dataset, writePart10 } from '../../src/io/dicom/writer.ts';
import { HAS_STUDY, STUDY, runMain, studyFiles, tempDir, warnNoStudy } from './helpers.ts';

warnNoStudy();

const made: string[] = [];
afterAll(() => made.forEach((d) => rmSync(d, { recursive: true, force: true })));
const fresh = (prefix: string) => {
  const d = tempDir(prefix);
  made.push(d);
  return d;
};

/** One MR slice, 8x6 uint16 pixels valued `k * 1000 + n`, at z = 2k mm. */
function mrSlice(k: number): DicomDataset {
  const px = new Uint16Array(8 * 6).map((_v, n) => k * 1000 + n);
  return dataset([
    [TAG.SOPClassUID, SOP_CLASS.mr],
    [TAG.SOPInstanceUID, `2.25.8100${k}`],
    [TAG.Modality, 'MR'],
    [TAG.SeriesInstanceUID, '2.25.8100'],
    [TAG.StudyInstanceUID, '2.25.8101'],
    [TAG.FrameOfReferenceUID, '2.25.8102'],
    [TAG.InstanceNumber, String(k + 1)],
    [TAG.ImagePositionPatient, [0, 0, 2 * k]],
    [TAG.ImageOrientationPatient, [1, 0, 0, 0, 1, 0]],
    [TAG.PixelSpacing, [1.5, 1.5]],
    [TAG.SliceThickness, 2],
    [TAG.Rows, 6],
    [TAG.Columns, 8],
    [TAG.SamplesPerPixel, 1],
    [TAG.PhotometricInterpretation, 'MONOCHROME2'],
    [TAG.BitsAllocated, 16],
    [TAG.BitsStored, 16],
    [TAG.HighBit, 15],
    [TAG.PixelRepresentation, 0],
    [TAG.PixelData, px, 'OW'],
  ]);
}

/** A valid DICOMDIR (PS3.10 Media Storage Directory): File-set ID and a Directory Record Sequence of PATIENT/STUDY/SERIES/IMAGE records. */
function dicomdir(): Uint8Array {
  const record = (type: string, extra: Array<[number, string, string]>) =>
    dataset([[0x00041400, 0, 'UL'], [0x00041410, 0xffff, 'US'], [0x00041420, 0, 'UL'], [0x00041430, type, 'CS'], ...extra]);
  return writePart10(
    dataset([
      [TAG.SOPClassUID, SOP_CLASS.mediaStorageDirectory],
      [TAG.SOPInstanceUID, '2.25.8199'],
      [0x00041130, 'SYNTHETIC', 'CS'],
      [0x00041200, 0, 'UL'],
      [0x00041202, 0, 'UL'],
      [0x00041212, 0, 'US'],
      [
        0x00041220,
        [
          record('PATIENT', [[0x00100020, 'P1', 'LO']]),
          record('STUDY', [[0x0020000d, '2.25.8101', 'UI']]),
          record('SERIES', [[0x0020000e, '2.25.8100', 'UI'], [0x00080060, 'MR', 'CS']]),
          ...[0, 1, 2].map((k) => record('IMAGE', [[0x00041500, `MR\\IM${k}`, 'CS'], [0x00041511, `2.25.8100${k}`, 'UI']])),
        ],
        'SQ',
      ],
    ]),
  );
}

/** A study folder: DICOMDIR at its root (when given), the three slices in MR/ as IM0..IM2 (PS3.10 file IDs). */
function studyWith(dicomdirBytes?: Uint8Array): string {
  const d = fresh('dicomdir-');
  mkdirSync(join(d, 'MR'));
  for (let k = 0; k < 3; k++) writeFileSync(join(d, 'MR', `IM${k}`), writePart10(mrSlice(k)));
  if (dicomdirBytes) writeFileSync(join(d, 'DICOMDIR'), dicomdirBytes);
  return d;
}

const GOOD = dicomdir();
const withMarker = (body: string) => {
  const b = new Uint8Array(132 + body.length);
  b.set(new TextEncoder().encode('DICM'), 128);
  b.set(new TextEncoder().encode(body), 132);
  return b;
};

describe('DICOMDIR in a synthetic folder', () => {
  it('the valid DICOMDIR is skipped as a non-image object: same volume as without it, no warning', async () => {
    const plain = await readDicomVolume(studyWith());
    const r = await readDicomVolume(studyWith(GOOD));
    expect(r.volume.geometry.dims).toEqual([8, 6, 3]);
    expect(r.volume.data).toEqual(plain.volume.data);
    expect(r.volume.data[5 + 8 * 2 + 48 * 1]).toBe(1000 + 5 + 8 * 2); // voxel (5, 2, 1)
    expect(r.meta.warnings.filter((w) => /DICOMDIR/.test(w))).toEqual([]);
    // the DICOMDIR itself is a valid Part 10 file (the reader parses it): not listed as an input file either way
    expect(listDicomFiles(studyWith(GOOD)).map((p) => p.split('/').pop())).toEqual(['IM0', 'IM1', 'IM2']);
  });

  const MALFORMED: Array<[string, Uint8Array, RegExp]> = [
    ['truncated in its Directory Record Sequence', GOOD.subarray(0, GOOD.length - 40), /cannot be parsed/],
    ['truncated inside the File Meta Information', GOOD.subarray(0, 150), /cannot be parsed|no Directory Record Sequence/],
    ['wrong preamble ("DICX" at byte 128)', (() => { const b = GOOD.slice(); b[131] = 0x58; return b; })(), /no "DICM" marker at byte 128/],
    ['not DICOM at all (text)', new TextEncoder().encode('this is not a DICOMDIR\n'.repeat(20)), /no "DICM" marker at byte 128/],
    ['empty', new Uint8Array(0), /0 bytes, shorter than the DICOM preamble/],
    ['"DICM" followed by garbage', withMarker('\u0002\u0000garbage that is no element at all'), /cannot be parsed|not a Media Storage Directory/],
    ['an MR image named DICOMDIR', writePart10(mrSlice(7)), /Media Storage SOP Class 1\.2\.840\.10008\.5\.1\.4\.1\.1\.4, not a Media Storage Directory/],
  ];
  for (const [name, bytes, why] of MALFORMED) {
    it(`${name}: read without it, with a warning naming it`, async () => {
      const d = studyWith(bytes);
      const r = await readDicomVolume(d);
      expect(r.volume.geometry.dims).toEqual([8, 6, 3]); // (the MR named DICOMDIR, at z = 14 mm, would have been a 4th slice or a gap)
      const w = r.meta.warnings.filter((x) => /DICOMDIR/.test(x));
      expect(w).toHaveLength(1);
      expect(w[0]).toContain(join(d, 'DICOMDIR'));
      expect(w[0]).toMatch(/a malformed DICOMDIR/);
      expect(w[0]).toMatch(why);
      expect(w[0]).toMatch(/the folder is read without it/);
    });
  }

  it('a lower-case dicomdir in a subfolder is skipped the same way', async () => {
    const d = studyWith();
    writeFileSync(join(d, 'MR', 'dicomdir'), GOOD.subarray(0, 300));
    const r = await readDicomVolume(d);
    expect(r.volume.geometry.dims).toEqual([8, 6, 3]);
    expect(r.meta.warnings.some((w) => w.includes(join(d, 'MR', 'dicomdir')))).toBe(true);
  });
});

describe.skipIf(!HAS_STUDY)('DICOMDIR beside the real MAA study (copied)', () => {
  const copy = fresh('dicomdir-study-');
  const garbage = new TextEncoder().encode('DICOMDIR written by a broken CD burner\n'.repeat(10));
  if (HAS_STUDY) {
    for (const sub of ['NM', 'RTSTRUCT'] as const) {
      mkdirSync(join(copy, sub));
      for (const f of studyFiles(sub)) copyFileSync(f, join(copy, sub, f.split('/').pop()!));
    }
    writeFileSync(join(copy, 'DICOMDIR'), garbage);
    writeFileSync(join(copy, 'RTSTRUCT', 'DICOMDIR'), garbage);
  }

  it('readDicomVolume: the same NM volume as the original folder, and a warning naming the DICOMDIR', async () => {
    const orig = await readDicomVolume(`${STUDY}NM`);
    const r = await readDicomVolume(copy);
    expect(r.meta.modality).toBe('NM');
    expect(r.volume.geometry).toEqual(orig.volume.geometry);
    expect(r.volume.data).toEqual(orig.volume.data);
    expect(r.meta.warnings.filter((w) => w.includes(join(copy, 'DICOMDIR')))).toHaveLength(1);
    // the segmentation folder with its own broken DICOMDIR still yields the one RTSTRUCT
    const segWarnings: string[] = [];
    const masks = await readDicomSegmentation(join(copy, 'RTSTRUCT'), { referenceGrid: orig.volume.geometry, warnings: segWarnings });
    expect(masks.map((m) => m.name)).toContain('Tumor');
    expect(segWarnings.filter((w) => w.startsWith(`${join(copy, 'RTSTRUCT', 'DICOMDIR')}: a malformed DICOMDIR`))).toHaveLength(1);
  });

  it('dose through main([...]): same structures as on the original study, the warning on stderr and in report.json', async () => {
    const args = (activity: string, segmentation: string, out: string) => [
      'dose', '--activity', activity, '--activity-unit', 'counts', '--administered-gbq', '2', '--segmentation', segmentation,
      '--liver', 'Lung', '--tumor', 'Tumor', '--isotope', 'Y90', '--method', 'ldm', '--backend', 'cpu', '--quiet', '--out', out,
    ];
    const outs = fresh('dicomdir-out-');
    const a = await runMain(args(copy, join(copy, 'RTSTRUCT'), join(outs, 'copy')));
    const b = await runMain(args(`${STUDY}NM`, `${STUDY}RTSTRUCT`, join(outs, 'orig')));
    expect(a.code, a.stderr).toBe(0);
    expect(b.code, b.stderr).toBe(0);
    const rep = (o: string) => JSON.parse(readFileSync(join(outs, o, 'report.json'), 'utf8'));
    // the same numbers; only the origin (the RTSTRUCT file's path) differs
    const bare = (o: string) => (rep(o).structures as Array<Record<string, unknown>>).map(({ origin: _o, ...s }) => s);
    expect(bare('copy')).toEqual(bare('orig'));
    expect(a.stderr).toMatch(new RegExp(`^warning: ${join(copy, 'DICOMDIR').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: a malformed DICOMDIR \\(no "DICM" marker at byte 128: not a DICOM file\\); the folder is read without it`, 'm'));
    expect((rep('copy').warnings as string[]).some((w) => w.startsWith(`${join(copy, 'DICOMDIR')}: a malformed DICOMDIR`))).toBe(true);
    // the segmentation folder's own broken DICOMDIR is said too
    expect((rep('copy').warnings as string[]).some((w) => w.startsWith(`${join(copy, 'RTSTRUCT', 'DICOMDIR')}: a malformed DICOMDIR`))).toBe(true);
    expect(a.stderr).toContain(`warning: ${join(copy, 'RTSTRUCT', 'DICOMDIR')}: a malformed DICOMDIR`);
    expect(readdirSync(join(outs, 'copy'))).toContain('dose.nii.gz');
  });
});
