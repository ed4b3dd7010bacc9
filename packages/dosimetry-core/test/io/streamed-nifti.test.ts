/**
 * Streamed NIfTI reading (readNiftiStreamed): the same voxels, geometry and errors as the in-memory reader on small
 * files of every byte order, scaling and compression; and a real file over 2 GiB (a sparse file: its zeros cost no
 * disk), which one fs read cannot return, read with its non-zero voxels where they were written.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createGzip } from 'node:zlib';
import { createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { decodeNifti, readVolume } from '../../src/io/index.ts';
import { NIFTI_STREAM_BYTES, readNiftiStreamed } from '../../src/io/nifti.ts';
import { BIG_COUNT, BIG_DIMS, expectBigMarks, gz, niftiBytes, nifti2Bytes, tempDir, writeBigSparseFloat32 } from './helpers.ts';

const dir = tempDir('streamed');

describe('readNiftiStreamed equals the in-memory reader', () => {
  const values = Array.from({ length: 4 * 3 * 5 }, (_, n) => ((n * 37) % 61) - 20);
  const cases: Array<[string, Uint8Array]> = [
    ['float32 little endian', niftiBytes({ dims: [4, 3, 5], type: 'float32', pixdim: [1, 1.5, 2, 2.5], values })],
    ['int16 big endian, scaled', niftiBytes({ dims: [4, 3, 5], type: 'int16', pixdim: [1, 1, 1, 1], littleEndian: false, sclSlope: 0.5, sclInter: 3, values })],
    ['float64 big endian', niftiBytes({ dims: [4, 3, 5], type: 'float64', pixdim: [1, 2, 2, 2], littleEndian: false, values })],
    ['NIfTI-2 uint16', nifti2Bytes({ dims: [4, 3, 5], type: 'uint16', pixdim: [1, 1, 1, 1], sformCode: 1, srow: [[-1, 0, 0, 5], [0, -1, 0, 6], [0, 0, 2, -7]], values: values.map((v) => v + 20) })],
  ];
  for (const [name, bytes] of cases) {
    for (const compressed of [false, true]) {
      it(`${name}${compressed ? ', gzipped' : ''}`, async () => {
        const p = join(dir, `${name.replace(/\W+/g, '-')}.nii${compressed ? '.gz' : ''}`);
        writeFileSync(p, compressed ? gz(bytes) : bytes);
        const ref = decodeNifti(bytes, p);
        const got = await readNiftiStreamed(p);
        expect(got.volume.geometry).toEqual(ref.volume.geometry);
        expect(got.volume.data.constructor).toBe(ref.volume.data.constructor);
        expect(Array.from(got.volume.data)).toEqual(Array.from(ref.volume.data));
        expect(got.transform).toBe(ref.transform);
      });
    }
  }

  it('a truncated file and a corrupt gzip stream are refused with the reader\'s messages', async () => {
    const bytes = niftiBytes({ dims: [4, 3, 5], type: 'float32', pixdim: [1, 1, 1, 1], values });
    const cut = join(dir, 'cut.nii');
    writeFileSync(cut, bytes.subarray(0, bytes.length - 8));
    await expect(readNiftiStreamed(cut)).rejects.toThrow(/file is truncated or its header disagrees with the data: header \(4x3x5 float32 at offset 352\) needs 592 bytes, file has 584/);
    const z = gz(bytes);
    const bad = join(dir, 'bad.nii.gz');
    writeFileSync(bad, z.subarray(0, z.length - 30));
    await expect(readNiftiStreamed(bad)).rejects.toThrow(/gzip data is truncated or corrupt/);
    const short = join(dir, 'short.nii');
    writeFileSync(short, bytes.subarray(0, 200));
    await expect(readNiftiStreamed(short)).rejects.toThrow(/file is truncated \(200 bytes/);
  });
});

describe('inputs over 2 GiB', () => {
  it('a 2.02 GiB .nii is read by readVolume, streamed, with its voxels in place', async (ctx) => {
    const header = niftiBytes({ dims: [...BIG_DIMS], type: 'float32', pixdim: [1, 2, 2, 2], values: [] }).subarray(0, 352);
    const p = join(dir, 'big.nii');
    if (!writeBigSparseFloat32(p, header)) ctx.skip();
    expect(352 + 4 * BIG_COUNT).toBeGreaterThan(2 * 1024 ** 3);
    expectBigMarks(await readVolume(p));
  }, 120_000);

  it('a .nii.gz inflating to more than 1 GiB is streamed too (trailer length)', async () => {
    const d = [512, 512, 1040] as const; // 1.02 GiB of float32
    const n = d[0] * d[1] * d[2];
    const header = niftiBytes({ dims: [...d], type: 'float32', pixdim: [1, 1, 1, 1], values: [] });
    const p = join(dir, 'big.nii.gz');
    const slab = new Float32Array(d[0] * d[1]);
    async function* bytes() {
      yield header;
      for (let k = 0; k < d[2]; k++) {
        slab.fill(0);
        slab[k] = k + 0.25; // voxel (k, 0, k): one mark per slice
        yield new Uint8Array(slab.buffer.slice(0));
      }
    }
    await pipeline(Readable.from(bytes()), createGzip({ level: 1 }), createWriteStream(p));
    expect(4 * n).toBeGreaterThan(NIFTI_STREAM_BYTES);
    const v = await readVolume(p);
    expect(v.data.length).toBe(n);
    for (const k of [0, 1, 511, 1039]) expect(v.data[k + d[0] * d[1] * k]).toBe(k + 0.25);
    let sum = 0;
    for (let i = 0; i < n; i += 997) sum += v.data[i];
    expect(Number.isFinite(sum)).toBe(true);
  }, 120_000);
});
