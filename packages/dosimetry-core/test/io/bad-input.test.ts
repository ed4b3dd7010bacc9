/**
 * Bad input, table-driven: each case builds a faulty file in a temp folder and expects one typed error whose
 * one-line message names the problem.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DosimetryError, FileError, FormatError, InputError } from '../../src/errors.ts';
import { encodeSegNrrd, parseLabelTable, readSegmentation, readVolume } from '../../src/io/index.ts';
import type { StructureMask } from '../../src/volume/structure.ts';
import { gz, niftiBytes, nrrdBytes, pack, tempDir, nrrdHeaderLines } from './helpers.ts';

const dir = tempDir('bad');
const values = Array.from({ length: 4 * 3 * 2 }, (_v, i) => i);
const okNifti = () => niftiBytes({ dims: [4, 3, 2], type: 'float32', pixdim: [1, 1, 1, 1], values });
const nrrdHead = nrrdHeaderLines;

interface BadCase {
  name: string;
  file: string;
  make?: (p: string) => void;
  read?: (p: string) => Promise<unknown>;
  error: new (...a: never[]) => DosimetryError;
  message: RegExp;
}

const gzOk = gz(okNifti());
const CASES: BadCase[] = [
  { name: 'missing file', file: 'nope.nii.gz', error: FileError, message: /does not exist/ },
  { name: 'missing segmentation', file: 'nope.seg.nrrd', read: (p) => readSegmentation(p), error: FileError, message: /does not exist/ },
  { name: 'a folder', file: 'folder.nrrd', make: (p) => mkdirSync(p), error: FileError, message: /is a folder/ },
  { name: 'unknown extension', file: 'x.png', make: (p) => writeFileSync(p, 'x'), error: FormatError, message: /unknown image format/ },
  { name: 'gzip cut in half', file: 'half.nii.gz', make: (p) => writeFileSync(p, gzOk.subarray(0, gzOk.length >> 1)), error: FormatError, message: /truncated or corrupt/ },
  { name: 'gzip trailer cut', file: 'trailer.nii.gz', make: (p) => writeFileSync(p, gzOk.subarray(0, gzOk.length - 3)), error: FormatError, message: /truncated or corrupt/ },
  {
    name: 'gzip with a flipped byte',
    file: 'flip.nii.gz',
    make: (p) => {
      const b = gzOk.slice();
      b[b.length >> 1] ^= 0x5a;
      writeFileSync(p, b);
    },
    error: FormatError,
    message: /truncated or corrupt/,
  },
  { name: 'not NIfTI at all', file: 'junk.nii', make: (p) => writeFileSync(p, new Uint8Array(400).fill(7)), error: FormatError, message: /not a NIfTI file/ },
  { name: 'NIfTI shorter than its header', file: 'tiny.nii', make: (p) => writeFileSync(p, okNifti().subarray(0, 200)), error: FormatError, message: /truncated \(200 bytes/ },
  {
    name: 'NIfTI data shorter than the header says',
    file: 'short.nii',
    make: (p) => writeFileSync(p, okNifti().subarray(0, 352 + 50)),
    error: FormatError,
    message: /needs 448 bytes, file has 402/,
  },
  {
    name: 'NIfTI RGB24 datatype',
    file: 'rgb.nii',
    make: (p) => writeFileSync(p, niftiBytes({ dims: [4, 3, 2], type: 'uint8', datatypeCode: 128, pixdim: [1, 1, 1, 1], values: [...values, ...values, ...values] })),
    error: FormatError,
    message: /datatype RGB24 is not supported/,
  },
  {
    name: 'NIfTI 4-D activity series',
    file: 'series.nii.gz',
    make: (p) => writeFileSync(p, gz(niftiBytes({ dims: [4, 3, 2, 3], type: 'float32', pixdim: [1, 1, 1, 1, 1], values: [...values, ...values, ...values] }))),
    error: FormatError,
    message: /4-D image .*3 frames.*3-D image is expected/,
  },
  {
    name: 'NIfTI zero pixdim (qform)',
    file: 'zero.nii',
    make: (p) => writeFileSync(p, niftiBytes({ dims: [4, 3, 2], type: 'float32', pixdim: [1, 1, 0, 1], qformCode: 1, values })),
    error: FormatError,
    message: /spacing along axis 1 is 0 mm.*must be positive/,
  },
  {
    name: 'NIfTI negative pixdim (no transform)',
    file: 'neg.nii',
    make: (p) => writeFileSync(p, niftiBytes({ dims: [4, 3, 2], type: 'float32', pixdim: [1, -2, 1, 1], values })),
    error: FormatError,
    message: /spacing along axis 0 is -2 mm/,
  },
  {
    name: 'NIfTI sform with a zero column',
    file: 'sform0.nii',
    make: (p) => writeFileSync(p, niftiBytes({ dims: [4, 3, 2], type: 'float32', pixdim: [1, 1, 1, 1], sformCode: 1, srow: [[1, 0, 0, 0], [0, 0, 0, 0], [0, 0, 1, 0]], values })),
    error: FormatError,
    message: /spacing along axis 1 is 0 mm/,
  },
  { name: 'not NRRD', file: 'junk.nrrd', make: (p) => writeFileSync(p, 'hello\n\n'), error: FormatError, message: /not a NRRD file/ },
  {
    name: 'NRRD raw data too short',
    file: 'short.nrrd',
    make: (p) => writeFileSync(p, nrrdBytes(nrrdHead(), pack(values.slice(0, 20), 'float32'))),
    error: FormatError,
    message: /need 96 bytes, the file has 80/,
  },
  {
    name: 'NRRD gzip data decompresses too short',
    file: 'shortgz.nrrd',
    make: (p) => writeFileSync(p, nrrdBytes(nrrdHead({ encoding: 'gzip' }), gz(pack(values.slice(0, 10), 'float32')))),
    error: FormatError,
    message: /need 96 bytes, the decompressed data has 40/,
  },
  {
    name: 'NRRD truncated gzip',
    file: 'cut.nrrd',
    make: (p) => {
      const z = gz(pack(values, 'float32'));
      writeFileSync(p, nrrdBytes(nrrdHead({ encoding: 'gzip' }), z.subarray(0, z.length - 10)));
    },
    error: FormatError,
    message: /truncated or corrupt/,
  },
  { name: 'NRRD 64-bit type', file: 'i64.nrrd', make: (p) => writeFileSync(p, nrrdBytes(nrrdHead({ type: 'int64' }), new Uint8Array(192))), error: FormatError, message: /type "int64" is not supported/ },
  { name: 'NRRD without endian', file: 'noend.nrrd', make: (p) => writeFileSync(p, nrrdBytes(nrrdHead({ endian: undefined }), pack(values, 'float32'))), error: FormatError, message: /lacks "endian"/ },
  { name: 'NRRD bzip2', file: 'bz.nrrd', make: (p) => writeFileSync(p, nrrdBytes(nrrdHead({ encoding: 'bzip2' }), new Uint8Array(10))), error: FormatError, message: /encoding "bzip2" is not supported/ },
  {
    name: 'NRRD sizes disagree with dimension',
    file: 'dims.nrrd',
    make: (p) => writeFileSync(p, nrrdBytes(nrrdHead({ dimension: '4' }), pack(values, 'float32'))),
    error: FormatError,
    message: /disagree/,
  },
  {
    name: 'NRRD zero space direction',
    file: 'zerodir.nrrd',
    make: (p) => writeFileSync(p, nrrdBytes(nrrdHead({ 'space directions': '(1,0,0) (0,0,0) (0,0,2)' }), pack(values, 'float32'))),
    error: FormatError,
    message: /axis 1 has zero length/,
  },
  {
    name: 'NRRD negative spacings',
    file: 'negsp.nrrd',
    make: (p) => writeFileSync(p, nrrdBytes(['type: float', 'dimension: 3', 'sizes: 4 3 2', 'spacings: 1 -1 1', 'endian: little', 'encoding: raw'], pack(values, 'float32'))),
    error: FormatError,
    message: /spacing of axis 1 is -1/,
  },
  {
    name: 'NRRD 4-D time series',
    file: 'series.nrrd',
    make: (p) => writeFileSync(p, nrrdBytes(nrrdHead({ dimension: '4', sizes: '4 3 2 2', 'space directions': '(1,0,0) (0,1,0) (0,0,2) none' }), pack([...values, ...values], 'float32'))),
    error: FormatError,
    message: /4-D image .*3-D image is expected/,
  },
  {
    name: 'NRRD detached data file missing',
    file: 'lost.nhdr',
    make: (p) => writeFileSync(p, nrrdBytes([...nrrdHead(), 'data file: lost.raw'], new Uint8Array(0))),
    error: FileError,
    message: /points to the data file .*lost\.raw/,
  },
  {
    name: 'unknown NRRD space',
    file: 'space.nrrd',
    make: (p) => writeFileSync(p, nrrdBytes(nrrdHead({ space: 'right-anterior-superior-time' }), pack(values, 'float32'))),
    error: FormatError,
    message: /space "right-anterior-superior-time" is not supported/,
  },
  {
    name: 'a segmentation given as an image',
    file: 'seg.seg.nrrd',
    make: (p) => {
      const g = { dims: [4, 3, 2] as const, spacingMm: [1, 1, 2] as const, originLpsMm: [0, 0, 0] as const, direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] as const };
      const all: StructureMask = { name: 'A', origin: '', geometry: g, occupancy: new Uint8Array(24).fill(255) };
      writeFileSync(p, encodeSegNrrd([all, { ...all, name: 'B' }]));
    },
    error: FormatError,
    message: /is a segmentation .*2 layers/,
  },
  {
    name: 'MetaImage truncated',
    file: 'cut.mha',
    make: (p) => writeFileSync(p, Buffer.concat([Buffer.from('ObjectType = Image\nNDims = 3\nDimSize = 4 3 2\nElementType = MET_FLOAT\nElementDataFile = LOCAL\n'), pack(values.slice(0, 5), 'float32')])),
    error: FormatError,
    message: /needs 96 bytes, the file has 20/,
  },
  { name: 'MetaImage junk', file: 'junk.mha', make: (p) => writeFileSync(p, 'hello'), error: FormatError, message: /not a MetaImage file/ },
  {
    name: 'label map with non-integer values',
    file: 'float-labels.nii',
    make: (p) => writeFileSync(p, niftiBytes({ dims: [4, 3, 2], type: 'float32', pixdim: [1, 1, 1, 1], values: values.map((v) => v / 3) })),
    read: (p) => readSegmentation(p),
    error: FormatError,
    message: /not an integer label/,
  },
  {
    name: 'label table names a label that is absent',
    file: 'labels.nii',
    make: (p) => writeFileSync(p, okNifti()),
    read: (p) => readSegmentation(p, { labels: '1=Liver,99=Tumor' }),
    error: InputError,
    message: /label 99 \("Tumor"\) .* does not occur/,
  },
  {
    name: '--labels on a .seg.nrrd',
    file: 'named.seg.nrrd',
    make: (p) => {
      const g = { dims: [4, 3, 2] as const, spacingMm: [1, 1, 2] as const, originLpsMm: [0, 0, 0] as const, direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] as const };
      writeFileSync(p, encodeSegNrrd([{ name: 'A', origin: '', geometry: g, occupancy: new Uint8Array(24).fill(255) }]));
    },
    read: (p) => readSegmentation(p, { labels: '1=A' }),
    error: InputError,
    message: /--labels does not apply/,
  },
];

describe('bad input files', () => {
  it.each(CASES.map((c) => [c.name, c] as const))('%s', async (_n, c) => {
    const p = join(dir, c.file);
    c.make?.(p);
    const read = c.read ?? readVolume;
    let caught: unknown;
    try {
      await read(p);
    } catch (e) {
      caught = e;
    }
    expect(caught, 'expected an error').toBeInstanceOf(c.error);
    const msg = (caught as Error).message;
    expect(msg).toMatch(c.message);
    expect(msg).not.toContain('\n'); // one line
  });
});

describe('bad label tables', () => {
  it.each([
    ['1=Liver,2', /"2" is malformed/],
    ['1=Liver,,2=Tumor', /"" is malformed/],
    ['Liver=1', /malformed/],
    ['1=Liver,1=Tumor', /label value 1 twice/],
    ['1=Liver,2=Liver', /name "Liver" twice/],
    ['0=Background', /positive integer/],
    ['1.5=Half', /malformed/],
  ])('%s', (table, message) => {
    expect(() => parseLabelTable(table)).toThrow(InputError);
    expect(() => parseLabelTable(table)).toThrow(message);
  });
});

describe('values are not checked here', () => {
  it('NaN and Inf voxels read through (the caller checks values)', async () => {
    const p = join(dir, 'nan.nii');
    writeFileSync(p, niftiBytes({ dims: [2, 1, 1], type: 'float32', pixdim: [1, 1, 1, 1], values: [Number.NaN, Number.POSITIVE_INFINITY] }));
    const v = await readVolume(p);
    expect(Number.isNaN(v.data[0])).toBe(true);
    expect(v.data[1]).toBe(Number.POSITIVE_INFINITY);
  });
});
