/**
 * Orientation: one index-encoded object (value = i + 100 j + 10000 k on a 5x6x7 grid with spacing 1.5 x 2 x 3 mm)
 * stored with permuted and flipped axes in every supported header style, written here by hand. Each file must read
 * back to the same value at the same world (LPS) point, for every voxel of the object (jittered within the voxel).
 * Any flip, permutation, RAS/LPS or row/column-major error changes the value found at some point.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readVolume, writeMha } from '../../src/io/index.ts';
import { type Geometry, type Mat3ColMajor, worldToIndex } from '../../src/volume/geometry.ts';
import { makeVolume, type Volume } from '../../src/volume/volume.ts';
import {
  type NumType,
  type StoredLayout,
  TRUTH,
  gz,
  nifti2Bytes,
  niftiBytes,
  nrrdBytes,
  pack,
  storedGrid,
  storedValues,
  tempDir,
  vec,
  worldProbes,
} from './helpers.ts';

const dir = tempDir('orient');
const RAS = [-1, -1, 1]; // sign flips LPS <-> RAS, applied by hand in the test's own header writers

/** Expects every world probe of the truth object to find its value in `vol`. */
function expectSameWorld(vol: Volume, truthOrigin: readonly number[]) {
  const g = vol.geometry;
  let checked = 0;
  for (const { p, value } of worldProbes(truthOrigin)) {
    const idx = worldToIndex(g, p[0], p[1], p[2]);
    const r = idx.map(Math.round);
    // Jitter is at most 0.3 voxel; 0.3 + 1e-4 allows float32 header rounding (NIfTI fields are float32).
    for (let a = 0; a < 3; a++) expect(Math.abs(idx[a] - r[a])).toBeLessThan(0.3 + 1e-4);
    expect(r.every((x, a) => x >= 0 && x < g.dims[a])).toBe(true);
    const got = vol.data[r[0] + g.dims[0] * (r[1] + g.dims[1] * r[2])];
    if (got !== value) throw new Error(`at LPS (${p.map((x) => x.toFixed(2))}) expected ${value}, read ${got} (index ${r})`);
    checked++;
  }
  expect(checked).toBe(TRUTH.dims[0] * TRUTH.dims[1] * TRUTH.dims[2]);
}

function sformRows(l: StoredLayout): number[][] {
  const { steps, origin } = storedGrid(l);
  return [0, 1, 2].map((r) => [steps[0][r] * RAS[r], steps[1][r] * RAS[r], steps[2][r] * RAS[r], origin[r] * RAS[r]]);
}

/** Stored layout from hand-written RAS direction columns (each a signed unit axis). */
function layoutFromRasColumns(cols: number[][], truthOriginLps: [number, number, number]): StoredLayout {
  const perm: number[] = [];
  const flip: number[] = [];
  for (const c of cols) {
    const lps = c.map((x, r) => x * RAS[r]);
    const ax = lps.findIndex((x) => Math.abs(x) > 0.5);
    perm.push(ax);
    flip.push(Math.sign(lps[ax]));
  }
  return { perm: perm as never, flip: flip as never, truthOriginLps };
}

interface Case {
  name: string;
  layout: StoredLayout;
  write: (l: StoredLayout) => Promise<string> | string;
}

const O: [number, number, number] = [10.5, -20.25, 30];

function niftiSformCase(name: string, l: StoredLayout, type: NumType, opts: { le?: boolean; gzip?: boolean; bogusQform?: boolean } = {}): Case {
  return {
    name,
    layout: l,
    write: (lay) => {
      const g = storedGrid(lay);
      const bytes = niftiBytes({
        dims: g.dims,
        type,
        pixdim: [1, ...lay.perm.map((p) => TRUTH.spacingMm[p])],
        sformCode: 2,
        srow: sformRows(lay),
        // A qform that disagrees (identity at another origin): the standard says the sform wins.
        ...(opts.bogusQform ? { qformCode: 1, quatern: [0, 0, 0] as [number, number, number], qoffset: [99, 99, 99] as [number, number, number] } : {}),
        littleEndian: opts.le ?? true,
        values: storedValues(lay),
      });
      const p = join(dir, `${name.replace(/\W+/g, '_')}.nii${opts.gzip ? '.gz' : ''}`);
      writeFileSync(p, opts.gzip ? gz(bytes) : bytes);
      return p;
    },
  };
}

/**
 * qform-only cases: quaternions chosen by hand with their rotation matrices written out by hand (nifti1.h formula),
 * and an sform full of garbage with sform_code 0 (must be ignored).
 */
function niftiQformCase(name: string, quatern: [number, number, number], qfac: 1 | -1, rasCols: number[][]): Case {
  const layout = layoutFromRasColumns(rasCols, O);
  return {
    name,
    layout,
    write: (lay) => {
      const g = storedGrid(lay);
      const bytes = niftiBytes({
        dims: g.dims,
        type: 'float32',
        pixdim: [qfac, ...lay.perm.map((p) => TRUTH.spacingMm[p])],
        qformCode: 1,
        quatern,
        qoffset: [g.origin[0] * RAS[0], g.origin[1] * RAS[1], g.origin[2] * RAS[2]],
        sformCode: 0,
        srow: [[7, 1, 2, 3], [4, 5, 6, 7], [8, 9, 1, 2]],
        values: storedValues(lay),
      });
      const p = join(dir, `${name.replace(/\W+/g, '_')}.nii.gz`);
      writeFileSync(p, gz(bytes));
      return p;
    },
  };
}

function nrrdCase(
  name: string,
  l: StoredLayout,
  space: { field: string; signs: number[] },
  type: { nrrd: string; t: NumType; le: boolean },
  encoding: 'raw' | 'gzip' | 'ascii',
  detached = false,
): Case {
  return {
    name,
    layout: l,
    write: (lay) => {
      const g = storedGrid(lay);
      const values = storedValues(lay);
      const body =
        encoding === 'ascii'
          ? new Uint8Array(Buffer.from(values.join(' ') + '\n'))
          : encoding === 'gzip'
            ? gz(pack(values, type.t, type.le))
            : pack(values, type.t, type.le);
      const base = join(dir, name.replace(/\W+/g, '_'));
      const lines = [
        `type: ${type.nrrd}`,
        'dimension: 3',
        `space: ${space.field}`,
        `sizes: ${g.dims.join(' ')}`,
        `space directions: ${g.steps.map((s) => vec(s, space.signs)).join(' ')}`,
        'kinds: domain domain domain',
        `endian: ${type.le ? 'little' : 'big'}`,
        `encoding: ${encoding}`,
        `space origin: ${vec(g.origin, space.signs)}`,
      ];
      if (detached) {
        writeFileSync(`${base}.raw${encoding === 'gzip' ? '.gz' : ''}`, body);
        lines.push(`data file: ${name.replace(/\W+/g, '_')}.raw${encoding === 'gzip' ? '.gz' : ''}`);
        writeFileSync(`${base}.nhdr`, nrrdBytes(lines, new Uint8Array(0)));
        return `${base}.nhdr`;
      }
      writeFileSync(`${base}.nrrd`, nrrdBytes(lines, body));
      return `${base}.nrrd`;
    },
  };
}

const LPS = { field: 'left-posterior-superior', signs: [1, 1, 1] };

const CASES: Case[] = [
  niftiSformCase('nifti sform identity storage', { perm: [0, 1, 2], flip: [1, 1, 1], truthOriginLps: O }, 'float32'),
  niftiSformCase('nifti sform permuted+flipped, gz', { perm: [2, 0, 1], flip: [-1, 1, -1], truthOriginLps: O }, 'int32', { gzip: true }),
  niftiSformCase('nifti sform wins over a disagreeing qform', { perm: [1, 2, 0], flip: [1, -1, 1], truthOriginLps: O }, 'uint16', { bogusQform: true }),
  niftiSformCase('nifti big-endian sform', { perm: [0, 2, 1], flip: [-1, -1, -1], truthOriginLps: O }, 'float64', { le: false }),
  // 90 deg about z: (b,c,d) = (0,0,sqrt(1/2)); R = [[0,-1,0],[1,0,0],[0,0,1]]; qfac -1 negates column 3.
  niftiQformCase('nifti qform 90deg z, qfac -1', [0, 0, Math.SQRT1_2], -1, [[0, 1, 0], [-1, 0, 0], [0, 0, -1]]),
  // 180 deg about x: (b,c,d) = (1,0,0), a = 0 (the special case of quatern_to_mat44); R = diag(1,-1,-1).
  niftiQformCase('nifti qform 180deg x (a = 0)', [1, 0, 0], 1, [[1, 0, 0], [0, -1, 0], [0, 0, -1]]),
  // 120 deg about (1,1,1): (b,c,d) = (1/2,1/2,1/2), a = 1/2; R maps x->y->z->x: columns (0,1,0),(0,0,1),(1,0,0).
  niftiQformCase('nifti qform 120deg (1,1,1), qfac -1', [0.5, 0.5, 0.5], -1, [[0, 1, 0], [0, 0, 1], [-1, 0, 0]]),
  {
    // ANALYZE fallback (no sform, no qform): RAS = diag(pixdim) * index, origin 0, i.e. x and y flipped in LPS.
    name: 'nifti pixdim only',
    layout: { perm: [0, 1, 2], flip: [-1, -1, 1], truthOriginLps: [-1.5 * 4, -2 * 5, 0] },
    write: (lay) => {
      const g = storedGrid(lay);
      expect(g.origin).toEqual([0, 0, 0]);
      const p = join(dir, 'pixdim_only.nii');
      writeFileSync(p, niftiBytes({ dims: g.dims, type: 'int32', pixdim: [1, 1.5, 2, 3], values: storedValues(lay) }));
      return p;
    },
  },
  {
    name: 'nifti-2 sform',
    layout: { perm: [2, 1, 0], flip: [1, -1, -1], truthOriginLps: O },
    write: (lay) => {
      const g = storedGrid(lay);
      const p = join(dir, 'nifti2.nii');
      writeFileSync(p, nifti2Bytes({ dims: g.dims, type: 'float32', pixdim: [1, 1, 1, 1], sformCode: 1, srow: sformRows(lay), values: storedValues(lay) }));
      return p;
    },
  },
  nrrdCase('nrrd LPS permuted negative, raw big-endian', { perm: [2, 0, 1], flip: [1, -1, -1], truthOriginLps: O }, LPS, { nrrd: 'int', t: 'int32', le: false }, 'raw'),
  nrrdCase('nrrd RAS permuted, gzip', { perm: [1, 2, 0], flip: [-1, 1, 1], truthOriginLps: O }, { field: 'right-anterior-superior', signs: [-1, -1, 1] }, { nrrd: 'float', t: 'float32', le: true }, 'gzip'),
  nrrdCase('nrrd RAS abbreviation, ascii', { perm: [0, 1, 2], flip: [1, 1, -1], truthOriginLps: O }, { field: 'RAS', signs: [-1, -1, 1] }, { nrrd: 'double', t: 'float64', le: true }, 'ascii'),
  nrrdCase('nhdr LAS detached gzip', { perm: [0, 2, 1], flip: [1, 1, -1], truthOriginLps: O }, { field: 'left-anterior-superior', signs: [1, -1, 1] }, { nrrd: 'unsigned short', t: 'uint16', le: true }, 'gzip', true),
  nrrdCase('nrrd scanner-xyz (as LPS)', { perm: [1, 0, 2], flip: [1, 1, 1], truthOriginLps: O }, { field: 'scanner-xyz', signs: [1, 1, 1] }, { nrrd: 'uint', t: 'uint32', le: true }, 'raw'),
  {
    name: 'nrrd plain spacings, no space',
    layout: { perm: [0, 1, 2], flip: [1, 1, 1], truthOriginLps: O },
    write: (lay) => {
      const g = storedGrid(lay);
      const p = join(dir, 'spacings.nrrd');
      const lines = ['type: int', 'dimension: 3', `sizes: ${g.dims.join(' ')}`, 'spacings: 1.5 2 3', `axis mins: ${O.join(' ')}`, 'endian: little', 'encoding: raw'];
      writeFileSync(p, nrrdBytes(lines, pack(storedValues(lay), 'int32')));
      return p;
    },
  },
  {
    name: 'nrrd 4-D with a size-1 list axis first',
    layout: { perm: [2, 1, 0], flip: [-1, 1, 1], truthOriginLps: O },
    write: (lay) => {
      const g = storedGrid(lay);
      const p = join(dir, 'list1.nrrd');
      const lines = [
        'type: ushort',
        'dimension: 4',
        'space: left-posterior-superior',
        `sizes: 1 ${g.dims.join(' ')}`,
        `space directions: none ${g.steps.map((s) => vec(s)).join(' ')}`,
        'kinds: list domain domain domain',
        'endian: little',
        'encoding: raw',
        `space origin: ${vec(g.origin)}`,
      ];
      writeFileSync(p, nrrdBytes(lines, pack(storedValues(lay), 'uint16')));
      return p;
    },
  },
  {
    // MetaIO's TransformMatrix lists the direction vector of each index axis in turn (ITK MetaImageIO).
    name: 'mha hand-written TransformMatrix (itk-wasm)',
    layout: { perm: [1, 2, 0], flip: [-1, 1, -1], truthOriginLps: O },
    write: (lay) => {
      const g = storedGrid(lay);
      const axisVectors = lay.perm.map((p, a) => {
        const v = [0, 0, 0];
        v[p] = lay.flip[a];
        return v;
      });
      const head = [
        'ObjectType = Image',
        'NDims = 3',
        'BinaryData = True',
        'BinaryDataByteOrderMSB = False',
        'CompressedData = False',
        `TransformMatrix = ${axisVectors.flat().join(' ')}`,
        `Offset = ${g.origin.join(' ')}`,
        `ElementSpacing = ${lay.perm.map((p) => TRUTH.spacingMm[p]).join(' ')}`,
        `DimSize = ${g.dims.join(' ')}`,
        'ElementType = MET_FLOAT',
        'ElementDataFile = LOCAL',
      ].join('\n') + '\n';
      const p = join(dir, 'hand.mha');
      writeFileSync(p, Buffer.concat([Buffer.from(head), pack(storedValues(lay), 'float32')]));
      return p;
    },
  },
  {
    name: 'mha writeMha -> readMha round trip (itk-wasm)',
    layout: { perm: [2, 0, 1], flip: [1, -1, -1], truthOriginLps: O },
    write: async (lay) => {
      const g = storedGrid(lay);
      const direction = g.steps.flatMap((s, a) => s.map((x) => x / TRUTH.spacingMm[lay.perm[a]])) as unknown as Mat3ColMajor;
      const geometry: Geometry = {
        dims: g.dims,
        spacingMm: lay.perm.map((p) => TRUTH.spacingMm[p]) as never,
        originLpsMm: g.origin as never,
        direction,
      };
      const p = join(dir, 'roundtrip.mha');
      await writeMha(p, makeVolume(geometry, Float32Array.from(storedValues(lay))));
      return p;
    },
  },
  {
    name: 'mha writeMha of voxels that are a view into a larger buffer (byteOffset > 0)',
    layout: { perm: [0, 1, 2], flip: [1, 1, 1], truthOriginLps: O },
    write: async (lay) => {
      const g = storedGrid(lay);
      const direction = g.steps.flatMap((s, a) => s.map((x) => x / TRUTH.spacingMm[lay.perm[a]])) as unknown as Mat3ColMajor;
      const geometry: Geometry = { dims: g.dims, spacingMm: lay.perm.map((p) => TRUTH.spacingMm[p]) as never, originLpsMm: g.origin as never, direction };
      const values = storedValues(lay);
      const big = new Float32Array(values.length + 88);
      big.set(values, 88);
      const p = join(dir, 'view.mha');
      await writeMha(p, makeVolume(geometry, big.subarray(88)));
      return p;
    },
  },
];

describe('orientation: index-encoded object in many storage orders reads back to the same world values', () => {
  it.each(CASES.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const path = await c.write(c.layout);
    const vol = await readVolume(path);
    expect(vol.geometry.dims).toEqual(storedGrid(c.layout).dims);
    expectSameWorld(vol, c.layout.truthOriginLps);
  });

  it('a wrong reading would be caught: the same file with the sform x row negated fails the check', async () => {
    // Guards the test itself: a RAS/LPS slip must change values at some probe.
    const l: StoredLayout = { perm: [0, 1, 2], flip: [1, 1, 1], truthOriginLps: O };
    const g = storedGrid(l);
    const rows = sformRows(l);
    rows[0] = rows[0].map((x) => -x);
    const p = join(dir, 'wrong.nii');
    writeFileSync(p, niftiBytes({ dims: g.dims, type: 'float32', pixdim: [1, 1.5, 2, 3], sformCode: 1, srow: rows, values: storedValues(l) }));
    const vol = await readVolume(p);
    expect(() => expectSameWorld(vol, O)).toThrow();
  });
});
