/**
 * Writers: RAS/LPS converters, NIfTI quaternions, NIfTI and NRRD writer -> reader round trips, determinism, and
 * ITK (through itk-wasm) as an outside reader of the files we write.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { readImageNode } from '@itk-wasm/image-io';
import { describe, expect, it } from 'vitest';
import {
  decodeNifti,
  decodeNrrd,
  directionToQuatern,
  encodeNifti,
  encodeNrrd,
  nrrdToVolume,
  quaternToRasAffine,
  readVolume,
  shortestFloat32,
  writeNifti,
  writeNrrd,
  writeVolume,
} from '../../src/io/index.ts';
import { type Geometry, type Mat3ColMajor, indexToLpsAffine } from '../../src/volume/geometry.ts';
import { lpsAffineToRas, lpsToRas, rasAffineToLps, rasToLps } from '../../src/volume/orientation.ts';
import { makeVolume } from '../../src/volume/volume.ts';
import { tempDir } from './helpers.ts';

const dir = tempDir('writers');

/** All 48 signed permutation matrices (column-major): 24 proper rotations and 24 with det -1. */
function signedPermutations(): Mat3ColMajor[] {
  const perms = [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]];
  const out: Mat3ColMajor[] = [];
  for (const p of perms) {
    for (let s = 0; s < 8; s++) {
      const m = new Array(9).fill(0);
      for (let c = 0; c < 3; c++) m[p[c] + 3 * c] = s & (1 << c) ? -1 : 1;
      out.push(m as unknown as Mat3ColMajor);
    }
  }
  return out;
}

/** A rotation about a unit axis by angle t (Rodrigues), column-major. */
function rotation(axis: number[], t: number): Mat3ColMajor {
  const n = Math.hypot(...axis);
  const [x, y, z] = axis.map((a) => a / n);
  const c = Math.cos(t), s = Math.sin(t), C = 1 - c;
  const rowMajor = [
    [c + x * x * C, x * y * C - z * s, x * z * C + y * s],
    [y * x * C + z * s, c + y * y * C, y * z * C - x * s],
    [z * x * C - y * s, z * y * C + x * s, c + z * z * C],
  ];
  return [0, 1, 2].flatMap((col) => [0, 1, 2].map((r) => rowMajor[r][col])) as unknown as Mat3ColMajor;
}

// Spacing and origin values exactly representable in float32, so the NIfTI (float32) header keeps them exactly.
const GEOM = (direction: Mat3ColMajor): Geometry => ({
  dims: [5, 6, 7],
  spacingMm: [1.5, 2.25, 3],
  originLpsMm: [-12.5, 40.25, -7],
  direction,
});

function ramp(n: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = (i % 17) * 0.37 - 2.5 + i * 1e-3;
  return a;
}

describe('RAS <-> LPS converters', () => {
  it('negate x and y of positions and the first two rows of affines, and are each other’s inverse', () => {
    expect(rasToLps([1, 2, 3])).toEqual([-1, -2, 3]);
    expect(lpsToRas(rasToLps([4.5, -6, 7]))).toEqual([4.5, -6, 7]);
    const m = Array.from({ length: 16 }, (_v, i) => i + 1);
    const l = rasAffineToLps(m);
    for (let c = 0; c < 4; c++) {
      expect(l[4 * c]).toBe(-m[4 * c]);
      expect(l[4 * c + 1]).toBe(-m[4 * c + 1]);
      expect(l[4 * c + 2]).toBe(m[4 * c + 2]);
      expect(l[4 * c + 3]).toBe(m[4 * c + 3]);
    }
    expect(Array.from(lpsAffineToRas(l))).toEqual(m);
  });
});

describe('NIfTI quaternion (nifti1_io.c mat44_to_quatern / quatern_to_mat44)', () => {
  const dirs = [...signedPermutations(), rotation([1, 2, 3], 0.7), rotation([-1, 0.5, 2], 2.9), rotation([0, 0, 1], Math.PI)];
  it.each(dirs.map((d, i) => [i, d] as const))('direction #%i survives direction -> quaternion -> affine', (_i, d) => {
    const q = directionToQuatern(d);
    const m = quaternToRasAffine({ b: q.b, c: q.c, d: q.d, qx: 0, qy: 0, qz: 0 }, [1, 1, 1], q.qfac);
    for (let c = 0; c < 3; c++) for (let r = 0; r < 3; r++) expect(m[r + 4 * c]).toBeCloseTo(d[r + 3 * c], 12); // f64 math
  });
});

describe('NIfTI writer', () => {
  const cases = [0, 5, 17, 30, 47].map((i) => signedPermutations()[i]).concat([rotation([1, 2, 3], 0.7)]);
  it.each(cases.map((d, i) => [i, d] as const))('encode -> decode is exact (direction #%i)', (_i, d) => {
    const g = GEOM(d);
    const vol = makeVolume(g, ramp(5 * 6 * 7));
    const img = decodeNifti(encodeNifti(vol, { description: 'absorbed dose [Gy]' }), 'x.nii.gz');
    expect(img.transform).toBe('sform');
    expect(img.description).toBe('absorbed dose [Gy]');
    expect(img.volume.geometry.dims).toEqual(g.dims);
    // Float32 header fields: spacing/origin chosen exactly representable; direction entries to float32 precision.
    for (let a = 0; a < 3; a++) {
      expect(img.volume.geometry.spacingMm[a]).toBeCloseTo(g.spacingMm[a], 6);
      expect(img.volume.geometry.originLpsMm[a]).toBeCloseTo(g.originLpsMm[a], 5);
    }
    for (let n = 0; n < 9; n++) expect(img.volume.geometry.direction[n]).toBeCloseTo(d[n], 6);
    expect(img.volume.data).toEqual(vol.data); // float32 in, float32 out: bit-exact
  });

  it('float32 header values read back as the decimals written (3.2 mm stays 3.2, not 3.2000000476837158)', () => {
    const g: Geometry = { dims: [5, 6, 7], spacingMm: [3.2, 0.1, 2.7799999930640795], originLpsMm: [-132.8, 0.3, 1332.800049], direction: signedPermutations()[13] };
    const back = decodeNifti(encodeNifti(makeVolume(g, ramp(210))), 'x.nii.gz').volume.geometry;
    expect(back.spacingMm.slice(0, 2)).toEqual([3.2, 0.1]);
    expect(back.spacingMm[2]).toBe(2.78); // the float32 nearest 2.7799999930640795 prints as 2.78
    expect(back.originLpsMm).toEqual([-132.8, 0.3, 1332.8]);
    expect(shortestFloat32(Math.fround(0.1))).toBe(0.1);
    expect(shortestFloat32(16777217)).toBe(16777216); // not representable in float32: the float32 value itself
  });

  it('the qform it writes describes the same grid as its sform', () => {
    const d = rotation([1, -2, 0.5], 1.1);
    const vol = makeVolume(GEOM([d[0], d[1], d[2], d[3], d[4], d[5], -d[6], -d[7], -d[8]] as unknown as Mat3ColMajor), ramp(210));
    const raw = gunzipSync(encodeNifti(vol));
    const bytes = new Uint8Array(raw);
    new DataView(bytes.buffer).setInt16(254, 0, true); // sform_code := 0, so the reader must use the qform
    const viaQ = decodeNifti(bytes, 'q.nii');
    expect(viaQ.transform).toBe('qform');
    const a = indexToLpsAffine(viaQ.volume.geometry);
    const b = indexToLpsAffine(vol.geometry);
    for (let n = 0; n < 16; n++) expect(a[n]).toBeCloseTo(b[n], 4); // float32 quaternion: ~1e-7 relative, times 40 mm
  });

  it('is byte-identical on reruns (fixed gzip settings, MTIME 0)', () => {
    const vol = makeVolume(GEOM(signedPermutations()[9]), ramp(210));
    const a = encodeNifti(vol, { description: 'x' });
    const b = encodeNifti(makeVolume(GEOM(signedPermutations()[9]), ramp(210)), { description: 'x' });
    expect(Buffer.compare(Buffer.from(a), Buffer.from(b))).toBe(0);
    expect(Array.from(a.subarray(4, 8))).toEqual([0, 0, 0, 0]); // gzip MTIME field
    const other = encodeNifti(vol, { description: 'y' });
    expect(Buffer.compare(Buffer.from(a), Buffer.from(other))).not.toBe(0);
  });

  it('writeNifti -> readVolume, .nii.gz and .nii, and integer input is written as float32', async () => {
    const g = GEOM(signedPermutations()[33]);
    const i16 = Int16Array.from({ length: 210 }, (_v, i) => i * 3 - 300);
    for (const name of ['a.nii.gz', 'a.nii']) {
      const p = join(dir, name);
      writeNifti(p, makeVolume(g, i16));
      const back = await readVolume(p);
      expect(back.data).toBeInstanceOf(Float32Array);
      expect(Array.from(back.data)).toEqual(Array.from(i16));
      const head = readFileSync(p);
      expect(head[0] === 0x1f).toBe(name.endsWith('.gz'));
    }
  });

  it('ITK (itk-wasm NIfTI reader) sees the grid we wrote, in LPS', async () => {
    const d = signedPermutations()[21];
    const g = GEOM(d);
    const p = join(dir, 'itk.nii.gz');
    writeNifti(p, makeVolume(g, ramp(210)));
    const img = await readImageNode(p);
    expect(img.size).toEqual([5, 6, 7]);
    img.spacing.forEach((s, a) => expect(s).toBeCloseTo(g.spacingMm[a], 5));
    img.origin.forEach((o, a) => expect(o).toBeCloseTo(g.originLpsMm[a], 4));
    // itk-wasm's direction is row-major: direction[r*3+c] = our column-major d[r+3c].
    for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) expect(Number(img.direction[r * 3 + c])).toBeCloseTo(d[r + 3 * c], 5);
    expect(Array.from(img.data as Float32Array)).toEqual(Array.from(ramp(210)));
  });
});

describe('NRRD writer', () => {
  it.each([
    ['float32', ramp(210)],
    ['int16', Int16Array.from({ length: 210 }, (_v, i) => i * 100 - 10000)],
    ['uint8', Uint8Array.from({ length: 210 }, (_v, i) => i)],
    ['float64', Float64Array.from({ length: 210 }, (_v, i) => Math.sqrt(i) * 1e3)],
  ] as const)('%s: encode -> decode keeps type, values and grid exactly', (_t, data) => {
    const g = GEOM(rotation([2, 1, -1], 0.4));
    for (const encoding of ['gzip', 'raw'] as const) {
      const back = nrrdToVolume(decodeNrrd(encodeNrrd(makeVolume(g, data), { encoding }), 'x.nrrd'), 'x.nrrd');
      expect(back.data.constructor).toBe(data.constructor);
      expect(back.data).toEqual(data);
      for (let a = 0; a < 3; a++) {
        expect(back.geometry.spacingMm[a]).toBeCloseTo(g.spacingMm[a], 12); // decimal text of doubles round-trips
        expect(back.geometry.originLpsMm[a]).toBe(g.originLpsMm[a]);
      }
      for (let n = 0; n < 9; n++) expect(back.geometry.direction[n]).toBeCloseTo(g.direction[n], 12);
    }
  });

  it('ITK (itk-wasm NRRD reader) sees the grid we wrote; writeVolume dispatches on the name', async () => {
    const d = signedPermutations()[40];
    const g = GEOM(d);
    const p = join(dir, 'itk.nrrd');
    await writeVolume(p, makeVolume(g, ramp(210)));
    const img = await readImageNode(p);
    img.origin.forEach((o, a) => expect(o).toBeCloseTo(g.originLpsMm[a], 9));
    img.spacing.forEach((s, a) => expect(s).toBeCloseTo(g.spacingMm[a], 9));
    for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) expect(Number(img.direction[r * 3 + c])).toBeCloseTo(d[r + 3 * c], 9);
    writeNrrd(join(dir, 'again.nrrd'), makeVolume(g, ramp(210)));
    expect(Buffer.compare(readFileSync(p), readFileSync(join(dir, 'again.nrrd')))).toBe(0);
  });
});
