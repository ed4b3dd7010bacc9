/**
 * Test helpers for IO: an index-encoded "truth" object, stored grids that are permutations/flips of it, and
 * minimal file writers (NIfTI-1/2, NRRD, MetaImage) written here by hand, independent of the code under test.
 */
import { closeSync, ftruncateSync, mkdtempSync, openSync, rmSync, statfsSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, expect } from 'vitest';

/** A temp folder removed after the test file. */
export function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), `sirt-io-${prefix}-`));
  afterAll(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

/** Truth grid: axis-aligned in LPS (direction identity), dims 5x6x7, anisotropic spacing. */
export const TRUTH = {
  dims: [5, 6, 7] as const,
  spacingMm: [1.5, 2, 3] as const,
};

/** The index-encoded value of truth voxel (i, j, k). */
export const code = (i: number, j: number, k: number) => i + 100 * j + 10000 * k;

/**
 * A stored grid: stored axis a runs along truth axis perm[a], in direction flip[a] (+1/-1).
 * `originLps` is the truth grid's origin (LPS mm).
 */
export interface StoredLayout {
  readonly perm: readonly [number, number, number];
  readonly flip: readonly [number, number, number];
  readonly truthOriginLps: readonly [number, number, number];
}

/** The stored grid's dims, LPS step vectors per stored axis (mm), and LPS origin of stored voxel 0. */
export function storedGrid(l: StoredLayout) {
  const dims = l.perm.map((p) => TRUTH.dims[p]) as [number, number, number];
  const steps = l.perm.map((p, a) => {
    const v = [0, 0, 0];
    v[p] = l.flip[a] * TRUTH.spacingMm[p];
    return v;
  });
  // Stored voxel 0 is truth index t with t[p] = 0 for flip +1, n-1 for flip -1.
  const t0 = [0, 0, 0];
  l.perm.forEach((p, a) => (t0[p] = l.flip[a] > 0 ? 0 : TRUTH.dims[p] - 1));
  const origin = t0.map((t, x) => l.truthOriginLps[x] + t * TRUTH.spacingMm[x]);
  return { dims, steps, origin };
}

/** Stored data (x-fastest over the stored axes) of the index-encoded truth object. */
export function storedValues(l: StoredLayout): number[] {
  const { dims } = storedGrid(l);
  const out: number[] = [];
  for (let c = 0; c < dims[2]; c++) {
    for (let b = 0; b < dims[1]; b++) {
      for (let a = 0; a < dims[0]; a++) {
        const u = [a, b, c];
        const t = [0, 0, 0];
        l.perm.forEach((p, ax) => (t[p] = l.flip[ax] > 0 ? u[ax] : TRUTH.dims[p] - 1 - u[ax]));
        out.push(code(t[0], t[1], t[2]));
      }
    }
  }
  return out;
}

/**
 * World test points: every truth voxel centre plus a deterministic jitter of up to 0.3 voxel along each axis (which
 * stays in the same voxel in every permuted/flipped grid), with the expected value.
 */
export function worldProbes(truthOriginLps: readonly number[]): Array<{ p: [number, number, number]; value: number }> {
  const out: Array<{ p: [number, number, number]; value: number }> = [];
  let seed = 12345;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648 - 0.5) * 0.6;
  for (let k = 0; k < TRUTH.dims[2]; k++) {
    for (let j = 0; j < TRUTH.dims[1]; j++) {
      for (let i = 0; i < TRUTH.dims[0]; i++) {
        const idx = [i + rnd(), j + rnd(), k + rnd()];
        const p = idx.map((t, x) => truthOriginLps[x] + t * TRUTH.spacingMm[x]) as [number, number, number];
        out.push({ p, value: code(i, j, k) });
      }
    }
  }
  return out;
}

export type NumType = 'uint8' | 'int8' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'float32' | 'float64';
const SIZE: Record<NumType, number> = { uint8: 1, int8: 1, int16: 2, uint16: 2, int32: 4, uint32: 4, float32: 4, float64: 8 };

/** Packs numbers into bytes of `type` with the given byte order (DataView, independent of the readers). */
export function pack(values: readonly number[], type: NumType, littleEndian = true): Uint8Array {
  const b = new Uint8Array(values.length * SIZE[type]);
  const v = new DataView(b.buffer);
  values.forEach((x, n) => {
    const o = n * SIZE[type];
    switch (type) {
      case 'uint8': v.setUint8(o, x); break;
      case 'int8': v.setInt8(o, x); break;
      case 'int16': v.setInt16(o, x, littleEndian); break;
      case 'uint16': v.setUint16(o, x, littleEndian); break;
      case 'int32': v.setInt32(o, x, littleEndian); break;
      case 'uint32': v.setUint32(o, x, littleEndian); break;
      case 'float32': v.setFloat32(o, x, littleEndian); break;
      case 'float64': v.setFloat64(o, x, littleEndian); break;
    }
  });
  return b;
}

export const NIFTI_CODE: Record<NumType, number> = {
  uint8: 2, int16: 4, int32: 8, float32: 16, float64: 64, int8: 256, uint16: 512, uint32: 768,
};

/** Fields of a hand-made NIfTI header. Affine rows are RAS (the NIfTI frame). */
export interface NiftiSpec {
  dims: number[]; // dim[1..]
  type: NumType;
  datatypeCode?: number;
  pixdim: number[]; // pixdim[0..3] (pixdim[0] = qfac)
  sformCode?: number;
  srow?: number[][]; // 3 rows of 4
  qformCode?: number;
  quatern?: [number, number, number];
  qoffset?: [number, number, number];
  sclSlope?: number;
  sclInter?: number;
  littleEndian?: boolean;
  xyztUnits?: number;
  values: readonly number[];
}

/** A NIfTI-1 single file (.nii bytes), written field by field after nifti1.h. */
export function niftiBytes(s: NiftiSpec): Uint8Array {
  const le = s.littleEndian ?? true;
  const h = new DataView(new ArrayBuffer(352));
  h.setInt32(0, 348, le);
  const dim = [s.dims.length, ...s.dims];
  while (dim.length < 8) dim.push(1);
  dim.forEach((d, i) => h.setInt16(40 + 2 * i, d, le));
  h.setInt16(70, s.datatypeCode ?? NIFTI_CODE[s.type], le);
  h.setInt16(72, 8 * SIZE[s.type], le);
  const pd = [...s.pixdim];
  while (pd.length < 8) pd.push(0);
  pd.forEach((p, i) => h.setFloat32(76 + 4 * i, p, le));
  h.setFloat32(108, 352, le);
  h.setFloat32(112, s.sclSlope ?? 0, le);
  h.setFloat32(116, s.sclInter ?? 0, le);
  h.setUint8(123, s.xyztUnits ?? 2);
  h.setInt16(252, s.qformCode ?? 0, le);
  h.setInt16(254, s.sformCode ?? 0, le);
  const q = s.quatern ?? [0, 0, 0];
  const qo = s.qoffset ?? [0, 0, 0];
  [...q, ...qo].forEach((x, i) => h.setFloat32(256 + 4 * i, x, le));
  (s.srow ?? [[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]).forEach((row, r) => row.forEach((x, c) => h.setFloat32(280 + 16 * r + 4 * c, x, le)));
  [0x6e, 0x2b, 0x31, 0].forEach((c, i) => h.setUint8(344 + i, c));
  const data = pack(s.values, s.type, le);
  const out = new Uint8Array(352 + data.length);
  out.set(new Uint8Array(h.buffer), 0);
  out.set(data, 352);
  return out;
}

/** A NIfTI-2 single file (sform only), after nifti2.h (540-byte header, 4-byte extension flag). */
export function nifti2Bytes(s: NiftiSpec): Uint8Array {
  const le = true;
  const h = new DataView(new ArrayBuffer(544));
  h.setInt32(0, 540, le);
  [0x6e, 0x2b, 0x32, 0, 0x0d, 0x0a, 0x1a, 0x0a].forEach((c, i) => h.setUint8(4 + i, c));
  h.setInt16(12, NIFTI_CODE[s.type], le);
  h.setInt16(14, 8 * SIZE[s.type], le);
  const dim = [s.dims.length, ...s.dims];
  while (dim.length < 8) dim.push(1);
  dim.forEach((d, i) => h.setBigInt64(16 + 8 * i, BigInt(d), le));
  const pd = [...s.pixdim];
  while (pd.length < 8) pd.push(0);
  pd.forEach((p, i) => h.setFloat64(104 + 8 * i, p, le));
  h.setBigInt64(168, 544n, le);
  h.setFloat64(176, s.sclSlope ?? 0, le);
  h.setInt32(344, s.qformCode ?? 0, le);
  h.setInt32(348, s.sformCode ?? 0, le);
  (s.srow ?? [[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]).forEach((row, r) => row.forEach((x, c) => h.setFloat64(400 + 32 * r + 8 * c, x, le)));
  const data = pack(s.values, s.type, le);
  const out = new Uint8Array(544 + data.length);
  out.set(new Uint8Array(h.buffer), 0);
  out.set(data, 544);
  return out;
}

/** Gzip with node:zlib (not the fflate used by the code under test). */
export const gz = (b: Uint8Array): Uint8Array => new Uint8Array(gzipSync(b));

/**
 * Header lines of a raw little-endian float NRRD of 4x3x2 voxels in LPS (1 x 1 x 2 mm unless `over` says otherwise);
 * `over` replaces or, with undefined, removes fields.
 */
export function nrrdHeaderLines(over: Record<string, string | undefined> = {}): string[] {
  return Object.entries({
    type: 'float',
    dimension: '3',
    space: 'left-posterior-superior',
    sizes: '4 3 2',
    'space directions': '(1,0,0) (0,1,0) (0,0,2)',
    endian: 'little',
    encoding: 'raw',
    'space origin': '(0,0,0)',
    ...over,
  })
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}: ${v}`);
}

/** NRRD text header + data (attached). */
export function nrrdBytes(headerLines: string[], data: Uint8Array): Uint8Array {
  const head = Buffer.from(['NRRD0004', ...headerLines].join('\n') + '\n\n', 'latin1');
  const out = new Uint8Array(head.length + data.length);
  out.set(head);
  out.set(data, head.length);
  return out;
}

/** Formats an LPS vector in another space's signs, as "(x,y,z)". */
export function vec(v: readonly number[], signs: readonly number[] = [1, 1, 1]): string {
  return `(${v.map((x, i) => x * signs[i] + 0).join(',')})`;
}

/** The 824 x 824 x 800 float32 grid of the over-2-GiB tests (2.02 GiB of voxels: more than one fs read returns). */
export const BIG_DIMS = [824, 824, 800] as const;
/** Voxels of BIG_DIMS and the values written at three of them (first, centre, last). */
export const BIG_COUNT = BIG_DIMS[0] * BIG_DIMS[1] * BIG_DIMS[2];
export const BIG_MARKS: ReadonlyArray<readonly [number, number]> = [
  [0, 1.5],
  [BIG_DIMS[0] * BIG_DIMS[1] * 400 + BIG_DIMS[0] * 412 + 412, 2.5e6],
  [BIG_COUNT - 1, -7],
];

/**
 * Writes a sparse file of `head` then BIG_COUNT float32 zeros with BIG_MARKS set (its zeros cost no disk); returns
 * false, after printing why, when the temp folder's file system has under 1 GiB free (the caller skips).
 */
export function writeBigSparseFloat32(path: string, head: Uint8Array = new Uint8Array(0)): boolean {
  let free = 0;
  try {
    const s = statfsSync(dirname(path));
    free = s.bavail * s.bsize;
  } catch {
    // unknown: treated as none
  }
  if (free < 1024 ** 3) {
    console.log(`skipped: ${(free / 1024 ** 3).toFixed(1)} GiB free where the temp folder lies (a sparse 2 GiB file needs little, but the file system must allow it)`);
    return false;
  }
  const fd = openSync(path, 'w');
  try {
    if (head.length) writeSync(fd, head, 0, head.length, 0);
    for (const [n, v] of BIG_MARKS) writeSync(fd, new Uint8Array(new Float32Array([v]).buffer), 0, 4, head.length + 4 * n);
    ftruncateSync(fd, head.length + 4 * BIG_COUNT);
  } finally {
    closeSync(fd);
  }
  return true;
}

/** Checks a volume read from writeBigSparseFloat32's file: its size and marks. */
export function expectBigMarks(v: { geometry: { dims: readonly number[] }; data: ArrayLike<number> }): void {
  expect(v.geometry.dims).toEqual([...BIG_DIMS]);
  expect(v.data.length).toBe(BIG_COUNT);
  for (const [n, val] of BIG_MARKS) expect(v.data[n]).toBe(Math.fround(val));
  expect(v.data[1]).toBe(0);
}
