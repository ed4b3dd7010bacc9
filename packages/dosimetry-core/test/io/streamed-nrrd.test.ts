/**
 * Streamed NRRD reading (readNrrdAsync with data over the stream threshold): the same voxels, header and errors as
 * the in-memory decoder on small files (the threshold lowered to 16 bytes so that every case streams) for attached
 * and detached data, raw and gzip, both byte orders, byte skip and line skip; and a real detached raw file over
 * 2 GiB (sparse: its zeros cost no disk), which one fs read cannot return, read by readVolume with its marks in place.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { readVolume } from '../../src/io/index.ts';
import { decodeNrrd, readNrrdAsync } from '../../src/io/nrrd.ts';
import { BIG_COUNT, BIG_DIMS, expectBigMarks, tempDir, writeBigSparseFloat32 } from './helpers.ts';

const dir = tempDir('streamed-nrrd');
const enc = new TextEncoder();
const dims = [4, 3, 5] as const;
const count = dims[0] * dims[1] * dims[2];
const values = Array.from({ length: count }, (_, n) => ((n * 37) % 61) - 20);

/** The voxel bytes of `values` as `type` in the given byte order. */
function voxelBytes(type: 'short' | 'float' | 'double', little: boolean): Uint8Array {
  const bpv = type === 'short' ? 2 : type === 'float' ? 4 : 8;
  const out = new Uint8Array(count * bpv);
  const dv = new DataView(out.buffer);
  values.forEach((v, n) => (type === 'short' ? dv.setInt16(n * 2, v, little) : type === 'float' ? dv.setFloat32(n * 4, v + 0.25, little) : dv.setFloat64(n * 8, v + 0.125, little)));
  return out;
}

interface Case {
  name: string;
  type: 'short' | 'float' | 'double';
  little: boolean;
  encoding: 'raw' | 'gzip';
  detached: boolean;
  byteSkip?: number;
  lineSkip?: number;
}
const cases: Case[] = [
  { name: 'float raw attached', type: 'float', little: true, encoding: 'raw', detached: false },
  { name: 'short big endian raw detached', type: 'short', little: false, encoding: 'raw', detached: true },
  { name: 'double gzip attached', type: 'double', little: true, encoding: 'gzip', detached: false },
  { name: 'short big endian gzip detached with byte skip 7', type: 'short', little: false, encoding: 'gzip', detached: true, byteSkip: 7 },
  { name: 'float raw detached, byte skip -1', type: 'float', little: true, encoding: 'raw', detached: true, byteSkip: -1 },
  { name: 'float raw detached, line skip 2 and byte skip 3', type: 'float', little: true, encoding: 'raw', detached: true, lineSkip: 2, byteSkip: 3 },
  { name: 'double gzip detached, line skip 1', type: 'double', little: false, encoding: 'gzip', detached: true, lineSkip: 1 },
];

/** Writes the case and returns the header file's path; `mutate` alters the data bytes (before gzip). */
function writeCase(c: Case, tag: string, mutate: (b: Uint8Array) => Uint8Array = (b) => b): string {
  const base = join(dir, `${c.name.replace(/\W+/g, '-')}${tag}`);
  let body = voxelBytes(c.type, c.little);
  if (c.byteSkip && c.byteSkip > 0) body = Uint8Array.from([...new Uint8Array(c.byteSkip).fill(0xab), ...body]);
  body = mutate(body);
  let data = c.encoding === 'gzip' ? new Uint8Array(gzipSync(body)) : body;
  if (c.byteSkip === -1) data = Uint8Array.from([...enc.encode('a leading block of any length\n'), ...data]);
  if (c.lineSkip) data = Uint8Array.from([...enc.encode('skipped line one\n'.repeat(c.lineSkip)), ...data]);
  const lines = [
    'NRRD0004',
    `type: ${c.type}`,
    'dimension: 3',
    'space: left-posterior-superior',
    `sizes: ${dims.join(' ')}`,
    'space directions: (1.5,0,0) (0,2,0) (0,0,2.5)',
    'space origin: (-3,4,5.5)',
    `endian: ${c.little ? 'little' : 'big'}`,
    `encoding: ${c.encoding}`,
    ...(c.byteSkip !== undefined ? [`byte skip: ${c.byteSkip}`] : []),
    ...(c.lineSkip !== undefined ? [`line skip: ${c.lineSkip}`] : []),
  ];
  if (c.detached) {
    writeFileSync(`${base}.raw`, data);
    writeFileSync(`${base}.nhdr`, enc.encode([...lines, `data file: ${base.split('/').pop()}.raw`, ''].join('\n')));
    return `${base}.nhdr`;
  }
  writeFileSync(`${base}.nrrd`, Uint8Array.from([...enc.encode([...lines, '', ''].join('\n')), ...data]));
  return `${base}.nrrd`;
}

const readBytes = async (p: string) => new Uint8Array((await import('node:fs')).readFileSync(p));

describe('readNrrdAsync streams the data and equals decodeNrrd', () => {
  for (const c of cases) {
    it(c.name, async () => {
      const p = writeCase(c, '');
      const ref = decodeNrrd(await readBytes(p), p);
      const got = await readNrrdAsync(p, { streamAboveBytes: 16 });
      expect(got.type).toBe(ref.type);
      expect(got.sizes).toEqual(ref.sizes);
      expect(got.data.constructor).toBe(ref.data.constructor);
      expect(Array.from(got.data)).toEqual(Array.from(ref.data));
      expect(Array.from(got.data).slice(0, 3)).toEqual(values.slice(0, 3).map((v) => (c.type === 'short' ? v : c.type === 'float' ? v + 0.25 : v + 0.125)));
      expect(got.header.fields).toEqual(ref.header.fields);
    });
  }

  it('truncated and over-long data, and a corrupt gzip stream, are refused with the decoder\'s messages', async () => {
    const variants: Array<[Case, (b: Uint8Array) => Uint8Array, RegExp]> = [
      [cases[1], (b) => b.subarray(0, b.length - 4), /truncated or the header disagrees with it: sizes 4x3x5 of int16 need 120 bytes, the file has 116/],
      [cases[0], (b) => Uint8Array.from([...b, 1, 2, 3]), /NRRD data holds 243 bytes but the header \(sizes 4x3x5 of float\) describes 240/],
      [cases[2], (b) => b.subarray(0, b.length - 8), /the decompressed data has 472/],
      [cases[3], (b) => Uint8Array.from([...b, 9]), /NRRD data holds 121 bytes after the 7 bytes of "byte skip"/],
    ];
    for (const [c, mutate, re] of variants) {
      const p = writeCase(c, '-bad', mutate);
      const raw0 = await readBytes(p);
      expect(() => decodeNrrd(raw0, p)).toThrow(re);
      await expect(readNrrdAsync(p, { streamAboveBytes: 16 })).rejects.toThrow(re);
    }
    const p = writeCase(cases[2], '-corrupt');
    const bytes = await readBytes(p);
    writeFileSync(p, bytes.subarray(0, bytes.length - 30));
    await expect(readNrrdAsync(p, { streamAboveBytes: 16 })).rejects.toThrow(/gzip data is truncated or corrupt/);
  });
});

describe('NRRD inputs over 2 GiB', () => {
  it('a detached raw float volume of 2.02 GiB is read by readVolume, streamed, with its voxels in place', async (ctx) => {
    if (!writeBigSparseFloat32(join(dir, 'big.raw'))) ctx.skip();
    expect(4 * BIG_COUNT).toBeGreaterThan(2 * 1024 ** 3);
    const hdr = join(dir, 'big.nhdr');
    writeFileSync(hdr, ['NRRD0004', 'type: float', 'dimension: 3', 'space: left-posterior-superior', `sizes: ${BIG_DIMS.join(' ')}`, 'space directions: (2,0,0) (0,2,0) (0,0,2)', 'space origin: (0,0,0)', 'endian: little', 'encoding: raw', 'data file: big.raw', ''].join('\n'));
    expectBigMarks(await readVolume(hdr));
  }, 120_000);
});
