/**
 * Siemens mosaics (many slices tiled in one image) are refused with a FormatError that says to convert them with
 * dcm2niix, instead of being read as one big slice. The files are a synthetic MR series (written here with the
 * project's DICOM writer), copied and edited to carry each kind of mosaic evidence.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FormatError } from '../../src/errors.ts';
import { mosaicEvidence, readDicomVolume } from '../../src/io/dicom/index.ts';
import { TS, type DicomDataset } from '../../src/io/dicom/parser.ts';
import { SOP_CLASS, TAG } from '../../src/io/dicom/tags.ts';
import { dataset, put, writePart10 } from '../../src/io/dicom/writer.ts';
import { editCopy, tempDir } from './helpers.ts';

/** One MR slice, `cols` x `rows` uint16 pixels valued `k * 1000 + n`, at z = 2k mm. */
function mrSlice(k: number, cols = 12, rows = 12): DicomDataset {
  const px = new Uint16Array(cols * rows).map((_v, n) => k * 1000 + n);
  return dataset([
    [TAG.SOPClassUID, SOP_CLASS.mr],
    [TAG.SOPInstanceUID, `2.25.7000${k}`],
    [TAG.Modality, 'MR'],
    [TAG.ImageType, ['ORIGINAL', 'PRIMARY', 'M', 'ND']],
    [TAG.SeriesInstanceUID, '2.25.7000'],
    [TAG.StudyInstanceUID, '2.25.7001'],
    [TAG.FrameOfReferenceUID, '2.25.7002'],
    [TAG.InstanceNumber, String(k + 1)],
    [TAG.ImagePositionPatient, [0, 0, 2 * k]],
    [TAG.ImageOrientationPatient, [1, 0, 0, 0, 1, 0]],
    [TAG.PixelSpacing, [1.5, 1.5]],
    [TAG.SliceThickness, 2],
    [TAG.Rows, rows],
    [TAG.Columns, cols],
    [TAG.SamplesPerPixel, 1],
    [TAG.PhotometricInterpretation, 'MONOCHROME2'],
    [TAG.BitsAllocated, 16],
    [TAG.BitsStored, 16],
    [TAG.HighBit, 15],
    [TAG.PixelRepresentation, 0],
    [TAG.PixelData, px, 'OW'],
  ]);
}

/** A folder of three synthetic MR slices, each copied through `editCopy` with `edit` applied (and written in `ts`). */
const made: string[] = [];
afterAll(() => made.forEach((d) => rmSync(d, { recursive: true, force: true })));
function series(name: string, edit?: (ds: DicomDataset) => void, ts?: string): string {
  const src = tempDir(`mosaic-src-`);
  const dir = tempDir(`mosaic-${name}-`);
  made.push(src, dir);
  for (let k = 0; k < 3; k++) {
    writeFileSync(join(src, `MR${k}.dcm`), writePart10(mrSlice(k)));
    editCopy(join(src, `MR${k}.dcm`), join(dir, `MR${k}.dcm`), edit, ts);
  }
  return dir;
}

const SIEMENS = 'SIEMENS MR HEADER';

describe('Siemens mosaic DICOM is refused, not read as one big slice', () => {
  it('the unedited synthetic series reads as a 12x12x3 volume (the reference)', async () => {
    const r = await readDicomVolume(series('plain'));
    expect(r.volume.geometry.dims).toEqual([12, 12, 3]);
    expect(r.volume.data[5 + 12 * 2 + 144 * 1]).toBe(1000 + 5 + 12 * 2); // voxel (5, 2, 1): x-fastest, slices by z
  });

  const CASES: Array<{ name: string; edit: (ds: DicomDataset) => void; ts?: string; evidence: RegExp }> = [
    { name: 'Image Type holds MOSAIC', edit: (ds) => put(ds, TAG.ImageType, ['ORIGINAL', 'PRIMARY', 'M', 'ND', 'MOSAIC']), evidence: /Image Type ORIGINAL\\PRIMARY\\M\\ND\\MOSAIC/ },
    {
      name: 'Number Of Images In Mosaic (0019,100A) = 9 (private creator SIEMENS MR HEADER)',
      edit: (ds) => {
        put(ds, 0x00190010, SIEMENS, 'LO');
        put(ds, 0x0019100a, 9, 'US');
      },
      evidence: /Number Of Images In Mosaic \(0019,100A\) 9/,
    },
    {
      name: 'Number Of Images In Mosaic in another private block (0019,11xx) and implicit VR (read as UN)',
      edit: (ds) => {
        put(ds, 0x00190010, 'SIEMENS CSA HEADER', 'LO');
        put(ds, 0x00190011, SIEMENS, 'LO');
        put(ds, 0x0019110a, 9, 'US');
      },
      ts: TS.implicitLE,
      evidence: /Number Of Images In Mosaic \(0019,100A\) 9/,
    },
    {
      name: 'Acquisition Matrix Text (0051,100B) "4p*4": 12x12 pixels are 3x3 tiles',
      edit: (ds) => {
        put(ds, 0x00510010, SIEMENS, 'LO');
        put(ds, 0x0051100b, '4p*4', 'SH');
      },
      evidence: /Acquisition Matrix Text \(0051,100B\) "4p\*4": 12x12 pixels are 3x3 tiles of 4x4/,
    },
  ];
  for (const c of CASES) {
    it(c.name, async () => {
      const dir = series('bad', c.edit, c.ts);
      const err = await readDicomVolume(dir).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err, 'a mosaic must not be read').toBeInstanceOf(FormatError);
      const msg = (err as Error).message;
      expect(msg).toMatch(/Siemens mosaic/);
      expect(msg).toMatch(c.evidence);
      expect(msg).toMatch(/dcm2niix/);
      expect(msg).not.toMatch(/\n/);
    });
  }

  it('is not fooled: one image per slice, a count of 1, another vendor\'s block, or a 2x2 "grid" (interpolation) read normally', async () => {
    const ok: Array<(ds: DicomDataset) => void> = [
      (ds) => (put(ds, 0x00190010, SIEMENS, 'LO'), put(ds, 0x0019100a, 1, 'US')),
      (ds) => (put(ds, 0x00190010, 'GEMS_ACQU_01', 'LO'), put(ds, 0x0019100a, 9, 'US')),
      (ds) => (put(ds, 0x00510010, SIEMENS, 'LO'), put(ds, 0x0051100b, '6*6', 'SH')),
      (ds) => (put(ds, 0x00510010, SIEMENS, 'LO'), put(ds, 0x0051100b, '12p*12', 'SH')),
    ];
    for (const [i, edit] of ok.entries()) {
      const r = await readDicomVolume(series(`ok${i}`, edit));
      expect(r.volume.geometry.dims).toEqual([12, 12, 3]);
    }
  });

  it('mosaicEvidence: each kind of evidence, on a data set', () => {
    const ds = mrSlice(0, 64 * 6, 64 * 6);
    expect(mosaicEvidence(ds)).toBeUndefined();
    put(ds, 0x00510010, SIEMENS, 'LO');
    put(ds, 0x0051100b, '64p*64', 'SH');
    expect(mosaicEvidence(ds)).toMatch(/6x6 tiles of 64x64/);
  });
});
