/**
 * Hostile headers found by fuzzing the readers (each row failed before its fix): a value read as something else
 * (hexadecimal, an empty vector component read as 0, a missing spacing read as 1 mm, a slope dropped with its
 * invalid intercept, data read from a fractional offset) must be a one-line typed error, never a volume.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DosimetryError, FormatError } from '../../src/errors.ts';
import { decodeNifti, readSegmentation, readVolume } from '../../src/io/index.ts';
import { niftiBytes, nrrdBytes, pack, tempDir, nrrdHeaderLines } from './helpers.ts';

const dir = tempDir('fuzz');
const values = Array.from({ length: 4 * 3 * 2 }, (_v, i) => (i % 7) + 1);
const body = pack(values, 'float32');
const head = (over: Record<string, string | undefined> = {}) => nrrdHeaderLines({ 'space directions': '(2,0,0) (0,2,0) (0,0,2)', ...over });

async function readNrrd(name: string, lines: string[], data: Uint8Array = body): Promise<unknown> {
  const p = join(dir, name);
  writeFileSync(p, nrrdBytes(lines, data));
  return readVolume(p).then((v) => v, (e: unknown) => e);
}

function expectRefused(r: unknown, message: RegExp): void {
  expect(r, 'must be refused, not read').toBeInstanceOf(DosimetryError);
  expect((r as Error).message).toMatch(message);
  expect((r as Error).message).not.toMatch(/\n/);
}

describe('NRRD: numbers in the header are plain decimals, and nothing is filled in', () => {
  it('reference: the well-formed file reads', async () => {
    const v = (await readNrrd('ok.nrrd', head())) as { data: ArrayLike<number>; geometry: { spacingMm: number[] } };
    expect(Array.from(v.data)).toEqual(values);
    expect(Array.from(v.geometry.spacingMm)).toEqual([2, 2, 2]);
  });

  it.each<[string, Record<string, string | undefined>, RegExp]>([
    ['an empty space-direction component (was read as 0)', { 'space directions': '(,2,0) (2,0,0) (0,0,2)' }, /space direction "\(,2,0\)" has a non-numeric component/],
    ['an empty origin (was read as 0,0,0)', { 'space origin': '(,,)' }, /space origin "\(,,\)" has a non-numeric component/],
    ['a hexadecimal direction (was read as 2)', { 'space directions': '(0x2,0,0) (0,2,0) (0,0,2)' }, /non-numeric component/],
    ['hexadecimal sizes (was read as 4)', { sizes: '0x4 3 2' }, /"sizes: 0x4 3 2" disagree or are invalid/],
    ['a hexadecimal byte skip', { 'byte skip': '0x0' }, /"byte skip: 0x0" is invalid/],
    ['a hexadecimal line skip', { 'line skip': '0x0' }, /"line skip: 0x0" is invalid/],
    ['no spacing at all (was read as 1 mm voxels)', { space: undefined, 'space directions': undefined, 'space origin': undefined }, /no voxel spacing .*the voxel size is unknown/],
    ['spacings with too few entries (was read as 1 mm)', { space: undefined, 'space directions': undefined, 'space origin': undefined, spacings: '2 2' }, /"spacings: 2 2" has 2 entries for 3 axes/],
    ['hexadecimal spacings', { space: undefined, 'space directions': undefined, 'space origin': undefined, spacings: '2 0x2 2' }, /spacing of axis 1 is 0x2/],
  ])('%s', async (_what, over, message) => {
    expectRefused(await readNrrd('bad.nrrd', head(over)), message);
  });

  it('a field given twice is refused (the later copy used to win silently)', async () => {
    expectRefused(await readNrrd('dup.nrrd', [...head(), 'sizes: 2 3 4']), /gives the field "sizes" twice \("4 3 2" and "2 3 4"\)/);
  });

  it('ascii data in hexadecimal is refused (was read as 16)', async () => {
    const data = Buffer.from(['0x10', ...values.slice(1).map(String)].join(' '));
    expectRefused(await readNrrd('hex-ascii.nrrd', head({ encoding: 'ascii', endian: undefined }), data), /ascii value "0x10" is not a number/);
  });

  it('a detached header whose "data file" is the header itself is refused (its text was read as voxels)', async () => {
    const p = join(dir, 'self.nhdr');
    writeFileSync(p, ['NRRD0004', ...head({ 'data file': 'self.nhdr', 'byte skip': '-1' }), ''].join('\n'));
    expectRefused(await readVolume(p).then((v) => v, (e: unknown) => e), /names the header file itself/);
  });
});

describe('NIfTI: corrupt offsets, bit depths and scaling are refused', () => {
  const base = { dims: [4, 3, 2], type: 'float32' as const, pixdim: [1, 2, 2, 2], values };
  const withField = (set: (v: DataView) => void) => {
    const b = niftiBytes(base);
    set(new DataView(b.buffer, b.byteOffset, b.byteLength));
    return b;
  };
  const decode = (b: Uint8Array) => {
    try {
      return decodeNifti(b, 'x.nii');
    } catch (e) {
      return e;
    }
  };

  it('reference: the well-formed file reads', () => {
    expect(Array.from((decode(niftiBytes(base)) as { volume: { data: ArrayLike<number> } }).volume.data)).toEqual(values);
  });

  it.each<[string, number, RegExp]>([
    ['NaN (was an untyped RangeError)', NaN, /vox_offset is NaN; it must be a whole number of bytes/],
    ['fractional (voxels were read from the wrong bytes)', 350.5, /vox_offset is 350.5/],
    ['negative (voxels were read from the header)', -100, /vox_offset is -100/],
  ])('vox_offset %s', (_what, off, message) => {
    const r = decode(withField((v) => v.setFloat32(108, off, true)));
    expect(r).toBeInstanceOf(FormatError);
    expect((r as Error).message).toMatch(message);
  });

  it('bitpix that disagrees with the datatype is refused (float data was read as uint8)', () => {
    const b = niftiBytes({ ...base, type: 'float32' });
    const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
    v.setInt16(70, 2, true); // datatype uint8, bitpix still 32
    const r = decode(b);
    expect(r).toBeInstanceOf(FormatError);
    expect((r as Error).message).toMatch(/datatype uint8 has 8 bits per voxel but bitpix says 32/);
  });

  it('a valid scl_slope with a NaN scl_inter is refused (the slope was dropped silently, as nibabel refuses)', () => {
    const r = decode(niftiBytes({ ...base, sclSlope: 2, sclInter: NaN }));
    expect(r).toBeInstanceOf(FormatError);
    expect((r as Error).message).toMatch(/scl_slope is 2 but scl_inter is NaN/);
    // a NaN slope still means unscaled (nifti1_io.c, nibabel)
    expect(Array.from((decode(niftiBytes({ ...base, sclSlope: NaN })) as { volume: { data: ArrayLike<number> } }).volume.data)).toEqual(values);
  });
});

describe('label maps: every label is reported', () => {
  it('labels the table leaves out (a negative one included) are kept as "label N", not dropped', async () => {
    const lab = [1, 1, 1, 1, 2, 2, 3, -2, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 0, 0, 0, 0, 0, 0];
    const p = join(dir, 'labels.nii');
    writeFileSync(p, niftiBytes({ dims: [4, 3, 2], type: 'int8', pixdim: [1, 2, 2, 2], values: lab }));
    const s = await readSegmentation(p, { labels: '1=Liver,2=Tumor' });
    expect(s.map((m) => m.name)).toEqual(['Liver', 'Tumor', 'label -2', 'label 3']);
    expect(s.map((m) => m.occupancy.filter((x) => x === 255).length)).toEqual([8, 4, 1, 1]);
    const clash = await readSegmentation(p, { labels: '1=Liver,2=label 3' }).then(() => undefined, (e: Error) => e);
    expect(clash?.message).toMatch(/label 3 is not in the label table, and is reported as "label 3", a name the table gives to another label/);
  });
});
