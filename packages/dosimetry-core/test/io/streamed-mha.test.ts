/**
 * MetaImage reading without itk-wasm for large files (readMhaStreamed): the same geometry and voxels as itk-wasm's
 * reader on small files (the threshold lowered so that they take the streamed path): itk-wasm's own compressed .mha
 * with an oblique direction, a hand-written uncompressed .mha whose TransformMatrix permutes and flips the axes, and a
 * detached big-endian .mhd + .raw with a HeaderSize block; and a real detached raw file over 2 GiB (sparse), which
 * itk-wasm cannot hold, read by readVolume with its marks in place.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readVolume } from '../../src/io/index.ts';
import { readMha, writeMha } from '../../src/io/mha.ts';
import { makeVolume } from '../../src/volume/volume.ts';
import type { Geometry, Mat3ColMajor } from '../../src/volume/geometry.ts';
import { BIG_COUNT, BIG_DIMS, expectBigMarks, tempDir, writeBigSparseFloat32 } from './helpers.ts';

const dir = tempDir('streamed-mha');
const dims = [5, 4, 3] as const;
const count = dims[0] * dims[1] * dims[2];
const values = Array.from({ length: count }, (_, n) => ((n * 29) % 53) - 17);

async function both(p: string) {
  const ref = await readMha(p); // itk-wasm (small file)
  const got = await readMha(p, { streamAboveBytes: 16 }); // the project's reader
  expect(got.geometry.dims).toEqual(ref.geometry.dims);
  for (const k of ['spacingMm', 'originLpsMm', 'direction'] as const) {
    const a = got.geometry[k] as readonly number[];
    const b = ref.geometry[k] as readonly number[];
    a.forEach((x, i) => expect(x).toBeCloseTo(b[i], 12));
  }
  expect(got.data.constructor).toBe(ref.data.constructor);
  expect(Array.from(got.data)).toEqual(Array.from(ref.data));
  return got;
}

describe('readMhaStreamed equals itk-wasm', () => {
  it("itk-wasm's compressed .mha with an oblique direction", async () => {
    const c = Math.cos(0.3);
    const s = Math.sin(0.3);
    const geometry: Geometry = { dims: [...dims], spacingMm: [1.5, 2, 2.5], originLpsMm: [-10, 20.5, 3], direction: [c, s, 0, -s, c, 0, 0, 0, 1] as unknown as Mat3ColMajor };
    const p = join(dir, 'oblique.mha');
    await writeMha(p, makeVolume(geometry, Float32Array.from(values, (v) => v + 0.5)));
    const v = await both(p);
    expect(v.geometry.direction[1]).toBeCloseTo(s, 6);
  });

  it('a hand-written uncompressed .mha: TransformMatrix lists the axis vectors', async () => {
    const head = ['ObjectType = Image', 'NDims = 3', 'BinaryData = True', 'BinaryDataByteOrderMSB = False', 'CompressedData = False', 'TransformMatrix = 0 -1 0 0 0 1 -1 0 0', 'Offset = 7 -8 9.5', 'ElementSpacing = 1 2 3', `DimSize = ${dims.join(' ')}`, 'ElementType = MET_SHORT', 'ElementDataFile = LOCAL'].join('\n') + '\n';
    const p = join(dir, 'hand.mha');
    writeFileSync(p, Buffer.concat([Buffer.from(head), Buffer.from(Int16Array.from(values).buffer)]));
    const v = await both(p);
    expect(Array.from(v.geometry.direction)).toEqual([0, -1, 0, 0, 0, 1, -1, 0, 0]);
  });

  it('a detached big-endian .mhd + .raw with a HeaderSize block', async () => {
    const raw = Buffer.alloc(10 + 4 * count, 0xee);
    values.forEach((v, n) => raw.writeInt32BE(v * 1000, 10 + 4 * n));
    writeFileSync(join(dir, 'detached.raw'), raw);
    const head = ['ObjectType = Image', 'NDims = 3', 'BinaryData = True', 'BinaryDataByteOrderMSB = True', 'CompressedData = False', 'Offset = 0 0 0', 'ElementSpacing = 0.5 0.5 4', `DimSize = ${dims.join(' ')}`, 'HeaderSize = 10', 'ElementType = MET_INT', 'ElementDataFile = detached.raw'].join('\n') + '\n';
    const p = join(dir, 'detached.mhd');
    writeFileSync(p, head);
    const v = await both(p);
    expect(v.data[1]).toBe(values[1] * 1000);
  });

  it('truncated data is refused with the sizes', async () => {
    const head = ['ObjectType = Image', 'NDims = 3', 'BinaryDataByteOrderMSB = False', 'CompressedData = False', `DimSize = ${dims.join(' ')}`, 'ElementType = MET_FLOAT', 'ElementDataFile = LOCAL'].join('\n') + '\n';
    const p = join(dir, 'cut.mha');
    writeFileSync(p, Buffer.concat([Buffer.from(head), Buffer.alloc(4 * count - 8)]));
    await expect(readMha(p, { streamAboveBytes: 16 })).rejects.toThrow(/DimSize 5x4x3 of MET_FLOAT needs 240 bytes, the file has 232/);
  });
});

describe('MetaImage inputs over 2 GiB', () => {
  it('a 2.02 GiB .mhd + .raw float volume is read by readVolume with its voxels in place', async (ctx) => {
    if (!writeBigSparseFloat32(join(dir, 'big.raw'))) ctx.skip();
    expect(4 * BIG_COUNT).toBeGreaterThan(2 * 1024 ** 3);
    const p = join(dir, 'big.mhd');
    writeFileSync(p, ['ObjectType = Image', 'NDims = 3', 'BinaryDataByteOrderMSB = False', 'CompressedData = False', 'TransformMatrix = 1 0 0 0 1 0 0 0 1', 'Offset = -100 -200 50', 'ElementSpacing = 2 2 2', `DimSize = ${BIG_DIMS.join(' ')}`, 'ElementType = MET_FLOAT', 'ElementDataFile = big.raw'].join('\n') + '\n');
    const v = await readVolume(p);
    expect(v.geometry.originLpsMm).toEqual([-100, -200, 50]);
    expectBigMarks(v);
  }, 120_000);
});
