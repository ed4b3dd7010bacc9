/**
 * Table of bad (and unusual) inputs built from the real study by editing copies in a temp folder: each either reads
 * correctly or throws one typed error whose message names the problem.
 */
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FormatError, InputError } from '../../src/errors.ts';
import { readDicomVolume } from '../../src/io/dicom/index.ts';
import { parseDicom, TS, type DicomDataset } from '../../src/io/dicom/parser.ts';
import { TAG } from '../../src/io/dicom/tags.ts';
import { put } from '../../src/io/dicom/writer.ts';
import { HAS_STUDY, editCopy, studyFiles, tempDir, warnNoStudy } from './helpers.ts';

warnNoStudy();

/** RLE-encodes 16-bit little-endian pixels (PS3.5 annex G) with literal runs only: the reader must still decode them. */
function rleEncode16(pixels: Uint8Array): Uint8Array {
  const n = pixels.length / 2;
  const seg = (byte: number) => {
    const out: number[] = [];
    for (let p = 0; p < n; p += 128) {
      const m = Math.min(128, n - p);
      out.push(m - 1);
      for (let q = 0; q < m; q++) out.push(pixels[2 * (p + q) + byte]);
    }
    if (out.length % 2) out.push(0);
    return out;
  };
  const hi = seg(1), lo = seg(0);
  const header = new Uint8Array(64);
  const dv = new DataView(header.buffer);
  dv.setUint32(0, 2, true);
  dv.setUint32(4, 64, true);
  dv.setUint32(8, 64 + hi.length, true);
  return Uint8Array.from([...header, ...hi, ...lo]);
}

type Case = {
  name: string;
  /** Builds the input folder (from the CT slices, at most the first 12 to stay fast) and returns the path to read. */
  build: (dir: string, ct: string[]) => string;
  opts?: Parameters<typeof readDicomVolume>[1];
  /** Error class and message pattern, or a check of a successful read. */
  error?: [typeof FormatError | typeof InputError, RegExp];
  ok?: (r: Awaited<ReturnType<typeof readDicomVolume>>, reference: Awaited<ReturnType<typeof readDicomVolume>>) => void;
};

const editAll = (dir: string, files: string[], edit?: (ds: DicomDataset, k: number) => void, ts?: string) => {
  files.forEach((f, k) => editCopy(f, join(dir, basename(f)), edit ? (ds) => edit(ds, k) : undefined, ts));
  return dir;
};
const shiftZ = (ds: DicomDataset, dz: number, dy = 0) => {
  const p = ds.numbers(TAG.ImagePositionPatient);
  put(ds, TAG.ImagePositionPatient, [p[0], p[1] + dy, p[2] + dz]);
};
const sameVoxels = (r: Awaited<ReturnType<typeof readDicomVolume>>, ref: Awaited<ReturnType<typeof readDicomVolume>>) => {
  expect(r.volume.geometry).toEqual(ref.volume.geometry);
  expect(Buffer.from(r.volume.data.buffer).equals(Buffer.from(ref.volume.data.buffer))).toBe(true);
};

const CASES: Case[] = [
  { name: 'reference: 12 CT slices copied unchanged', build: (d, ct) => editAll(d, ct), ok: sameVoxels },
  { name: 'implicit VR little endian', build: (d, ct) => editAll(d, ct, undefined, TS.implicitLE), ok: sameVoxels },
  { name: 'explicit VR big endian', build: (d, ct) => editAll(d, ct, undefined, TS.explicitBE), ok: sameVoxels },
  { name: 'deflated explicit VR little endian', build: (d, ct) => editAll(d, ct, undefined, TS.deflatedLE), ok: sameVoxels },
  {
    name: 'RLE lossless (decoded)',
    build: (d, ct) =>
      editAll(d, ct, (ds) => {
        const px = ds.get(TAG.PixelData)!.value;
        ds.set({ tag: TAG.PixelData, vr: 'OB', value: new Uint8Array(0), fragments: [rleEncode16(px)] });
      }, TS.rle),
    ok: sameVoxels,
  },
  {
    // JPEG is decoded now (codec.ts; test/dicom/compressed.test.ts): a codestream with no image in it is named as such
    name: 'JPEG baseline holding an empty codestream (SOI, EOI): the codec says it does not decode, naming file and syntax',
    build: (d, ct) => editAll(d, ct, (ds) => ds.set({ tag: TAG.PixelData, vr: 'OB', value: new Uint8Array(0), fragments: [new Uint8Array([0xff, 0xd8, 0xff, 0xd9])] }), '1.2.840.10008.1.2.4.50'),
    error: [FormatError, /\.dcm \(JPEG Baseline \(process 1\), transfer syntax 1\.2\.840\.10008\.1\.2\.4\.50\): the pixel data does not decode/],
  },
  {
    name: 'HTJ2K (no codec here: named with its UID and a fix)',
    build: (d, ct) => editAll(d, ct, (ds) => ds.set({ tag: TAG.PixelData, vr: 'OB', value: new Uint8Array(0), fragments: [new Uint8Array([0xff, 0x4f, 0xff, 0x51])] }), '1.2.840.10008.1.2.4.201'),
    error: [FormatError, /HTJ2K Lossless \(transfer syntax 1\.2\.840\.10008\.1\.2\.4\.201\), which this reader does not decode.*gdcmconv --raw/],
  },
  {
    name: 'slices shuffled, file names and instance numbers reversed',
    build: (d, ct) => {
      ct.forEach((f, k) => editCopy(f, join(d, `z${String(ct.length - k).padStart(3, '0')}.dcm`), (ds) => put(ds, TAG.InstanceNumber, String(ct.length - k))));
      return d;
    },
    ok: (r, ref) => expect(r.volume.data).toEqual(ref.volume.data),
  },
  { name: 'a missing slice', build: (d, ct) => editAll(d, ct.filter((_, k) => k !== 5)), error: [FormatError, /missing slices.*gap of 10\.000 mm/] },
  { name: 'duplicate position', build: (d, ct) => editAll(d, ct, (ds, k) => k === 3 && shiftZ(ds, -5)), error: [FormatError, /same position/] },
  { name: 'inconsistent orientation', build: (d, ct) => editAll(d, ct, (ds, k) => k === 4 && put(ds, TAG.ImageOrientationPatient, [1, 0, 0, 0, 0.8, 0.6])), error: [FormatError, /inconsistent orientation/] },
  { name: 'uneven spacing refused', build: (d, ct) => editAll(d, ct, (ds, k) => k >= 6 && shiftZ(ds, -1)), error: [FormatError, /uneven slice spacing/] },
  {
    name: 'uneven spacing resampled with a warning',
    build: (d, ct) => editAll(d, ct, (ds, k) => k >= 6 && shiftZ(ds, -1)),
    opts: { allowResample: true },
    ok: (r) => {
      expect(r.meta.warnings.join()).toMatch(/uneven/);
      expect(r.volume.geometry.dims[2]).toBe(12);
    },
  },
  { name: 'gantry tilt refused', build: (d, ct) => editAll(d, ct, (ds, k) => shiftZ(ds, 0, 0.8 * k)), error: [FormatError, /gantry tilt of about 9\.\d+ degrees/] },
  {
    name: 'gantry tilt resampled with a warning',
    build: (d, ct) => editAll(d, ct, (ds, k) => shiftZ(ds, 0, 0.9765625 * k)),
    opts: { allowResample: true },
    ok: (r, ref) => {
      expect(r.meta.warnings.join()).toMatch(/gantry tilt/);
      // File k is shifted by k rows along +y; sorted along +z, slice m is file 11 - m and the grid starts at the
      // top slice's position (11 rows down), so slice m row j holds original row j + m of that slice. Whole-row
      // shifts make the bilinear interpolation exact.
      const [nx, ny] = r.volume.geometry.dims;
      const at = (v: typeof r, m: number, j: number) => v.volume.data[256 + nx * (j + ny * m)];
      for (const m of [0, 5, 11]) for (const j of [100, 300]) expect(at(r, m, j)).toBe(at(ref, m, j + m));
      expect(r.volume.geometry.originLpsMm[1]).toBeCloseTo(ref.volume.geometry.originLpsMm[1] + 11 * 0.9765625, 6);
    },
  },
  {
    name: 'mixed series: error lists them; --series picks one',
    build: (d, ct) => {
      editAll(d, ct);
      const nm = studyFiles('NM')[0];
      copyFileSync(nm, join(d, 'nm.dcm'));
      return d;
    },
    error: [InputError, /2 image series.*--series.*"AC  ABDOMEN  5\.0  B08s", 512x512x12.*NM, "MAA/],
  },
  {
    name: 'private tags only',
    build: (d, ct) => {
      editCopy(ct[0], join(d, 'p.dcm'), (ds) => {
        for (const t of [...ds.elements.keys()]) if ((t >>> 16) % 2 === 0 && t !== TAG.SOPClassUID && t !== TAG.SOPInstanceUID) ds.delete(t);
        put(ds, 0x00091010, 'vendor data', 'LO');
      });
      return d;
    },
    error: [FormatError, /no image with pixel data/],
  },
  {
    name: 'truncated file',
    build: (d, ct) => {
      const b = readFileSync(ct[0]);
      writeFileSync(join(d, 't.dcm'), b.subarray(0, Math.floor(b.length / 2)));
      return d;
    },
    error: [FormatError, /truncated/],
  },
  { name: 'not DICOM', build: (d) => (writeFileSync(join(d, 'x.txt'), 'hello'), d), error: [InputError, /no DICOM files/] },
  {
    name: 'ISO_IR 100 (Latin-1) patient name',
    build: (d, ct) =>
      editAll(d, ct, (ds) => {
        put(ds, TAG.SpecificCharacterSet, 'ISO_IR 100');
        put(ds, TAG.PatientName, Uint8Array.from([...'M\xfcller^J\xfcrgen'].map((c) => c.charCodeAt(0))));
      }),
    ok: (r) => expect(r.meta.patient.name).toBe('Müller^Jürgen'),
  },
  {
    name: 'ISO_IR 192 (UTF-8) names',
    build: (d, ct) =>
      editAll(d, ct, (ds) => {
        put(ds, TAG.SpecificCharacterSet, 'ISO_IR 192');
        put(ds, TAG.PatientName, 'Ødegård^Zoë=山田^太郎');
        put(ds, TAG.SeriesDescription, 'Leber – portal');
      }),
    ok: (r) => {
      expect(r.meta.patient.name).toBe('Ødegård^Zoë=山田^太郎');
      expect(r.meta.seriesDescription).toBe('Leber – portal');
    },
  },
];

describe.skipIf(!HAS_STUDY)('bad DICOM input (edited copies of the real CT)', () => {
  const ct = HAS_STUDY ? studyFiles('CT').slice(0, 12) : [];
  let reference: Awaited<ReturnType<typeof readDicomVolume>>;
  it.each(CASES.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const dir = tempDir('dicom-bad-');
    mkdirSync(dir, { recursive: true });
    if (!reference) {
      const refDir = tempDir('dicom-ref-');
      editAll(refDir, ct);
      reference = await readDicomVolume(refDir);
    }
    const path = c.build(dir, ct);
    if (c.error) {
      const err = await readDicomVolume(path, c.opts).then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(c.error[0]);
      expect((err as Error).message).toMatch(c.error[1]);
      expect((err as Error).message).not.toMatch(/\n/);
    } else {
      c.ok!(await readDicomVolume(path, c.opts), reference);
    }
  });
  it('picks a series by UID from a mixed folder', async () => {
    const dir = tempDir('dicom-mixed-');
    editAll(dir, ct.slice(0, 3));
    copyFileSync(studyFiles('NM')[0], join(dir, 'nm.dcm'));
    const nmUid = parseDicom(readFileSync(studyFiles('NM')[0])).dataset.string(TAG.SeriesInstanceUID)!;
    const r = await readDicomVolume(dir, { seriesUid: nmUid });
    expect(r.meta.modality).toBe('NM');
    await expect(readDicomVolume(dir, { seriesUid: '1.2.3' })).rejects.toThrow(InputError);
  });
});
