/**
 * Every supported voxel type in both byte orders, for NIfTI and NRRD, and NIfTI value scaling (scl_slope/scl_inter).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeNifti, readVolume } from '../../src/io/index.ts';
import { type NumType, niftiBytes, nrrdBytes, pack, tempDir } from './helpers.ts';

const dir = tempDir('types');
const TYPES: Array<[NumType, string, new (n: number) => ArrayLike<number>, number[]]> = [
  ['uint8', 'uchar', Uint8Array, [0, 1, 127, 128, 200, 255]],
  ['int8', 'int8', Int8Array, [-128, -1, 0, 1, 100, 127]],
  ['int16', 'short', Int16Array, [-32768, -300, 0, 1, 258, 32767]],
  ['uint16', 'ushort', Uint16Array, [0, 1, 258, 32768, 60000, 65535]],
  ['int32', 'int', Int32Array, [-2147483648, -70000, 0, 1, 16909060, 2147483647]],
  ['uint32', 'uint', Uint32Array, [0, 1, 16909060, 2147483648, 3e9, 4294967295]],
  ['float32', 'float', Float32Array, [-1.5, 0, 0.25, 3.5e10, -7e-8, 1024]],
  ['float64', 'double', Float64Array, [-1.5, 0, Math.PI, 1e300, -7e-300, 1 / 3]],
];

describe.each(TYPES)('%s', (t, nrrdName, Ctor, vals) => {
  it.each([true, false])('NIfTI, little endian = %s', (le) => {
    const img = decodeNifti(niftiBytes({ dims: [3, 2, 1], type: t, pixdim: [1, 1, 1, 1], littleEndian: le, values: vals }), 'x.nii');
    expect(img.volume.data).toBeInstanceOf(Ctor);
    expect(Array.from(img.volume.data)).toEqual(Array.from(Ctor === Float32Array ? Float32Array.from(vals) : vals));
  });
  it.each([true, false])('NRRD, little endian = %s', async (le) => {
    const p = join(dir, `${t}-${le}.nrrd`);
    writeFileSync(p, nrrdBytes([`type: ${nrrdName}`, 'dimension: 3', 'sizes: 3 2 1', 'spacings: 1 1 1', `endian: ${le ? 'little' : 'big'}`, 'encoding: raw'], pack(vals, t, le)));
    const v = await readVolume(p);
    expect(v.data).toBeInstanceOf(Ctor);
    expect(Array.from(v.data)).toEqual(Array.from(Ctor === Float32Array ? Float32Array.from(vals) : vals));
  });
});

describe('NIfTI scl_slope / scl_inter (y = slope * x + inter when slope != 0)', () => {
  const raw = [-3, 0, 7, 100, 32767, -32768];
  it.each([
    [2, -5, raw.map((x) => 2 * x - 5)],
    [0.5, 10, raw.map((x) => 0.5 * x + 10)],
    [0, 7, raw], // slope 0: no scaling (nifti1.h)
    [1, 0, raw], // identity: data kept in its own type
  ])('slope %d, inter %d', (slope, inter, want) => {
    const img = decodeNifti(niftiBytes({ dims: [6, 1, 1], type: 'int16', pixdim: [1, 1, 1, 1], sclSlope: slope, sclInter: inter, values: raw }), 'x.nii');
    expect(Array.from(img.volume.data)).toEqual(want);
    expect(img.volume.data).toBeInstanceOf(slope === 0 || (slope === 1 && inter === 0) ? Int16Array : Float32Array);
  });
  it('float64 data stays float64 when scaled', () => {
    const img = decodeNifti(niftiBytes({ dims: [2, 1, 1], type: 'float64', pixdim: [1, 1, 1, 1], sclSlope: 3, sclInter: 1, values: [1 / 3, 1e-300] }), 'x.nii');
    expect(img.volume.data).toBeInstanceOf(Float64Array);
    expect(Array.from(img.volume.data)).toEqual([3 * (1 / 3) + 1, 3e-300 + 1]);
  });
});

describe('NIfTI spatial units (xyzt_units & 7)', () => {
  it.each([
    [0, 1.5], // unknown: taken as mm
    [1, 1500], // metre
    [2, 1.5], // mm
    [3, 0.0015], // micron
  ])('code %d: pixdim 1.5 is %d mm, the sform origin scales alike', (units, mm) => {
    const img = decodeNifti(niftiBytes({ dims: [1, 1, 1], type: 'uint8', pixdim: [1, 1.5, 1.5, 1.5], xyztUnits: units, sformCode: 1, srow: [[1.5, 0, 0, 2], [0, 1.5, 0, 0], [0, 0, 1.5, 0]], values: [1] }), 'u.nii');
    expect(img.volume.geometry.spacingMm[0]).toBeCloseTo(mm, 12);
    expect(img.volume.geometry.originLpsMm[0]).toBeCloseTo((-2 * mm) / 1.5, 12); // RAS x = 2 units -> LPS x = -2 units
  });
});
