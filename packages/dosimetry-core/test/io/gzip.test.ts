/**
 * Gzip: the serial and the parallel-block (pigz-style) encoders give streams that zlib, fflate and Python's gzip
 * decompress to the input; output is reproducible; truncation and corruption are refused.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync as zlibGunzip } from 'node:zlib';
import { gunzipSync as fflateGunzip } from 'fflate';
import { describe, expect, it } from 'vitest';
import { FormatError } from '../../src/errors.ts';
import { crc32, gunzipChecked, gunzipCheckedAsync, gzipDeterministic, gzipDeterministicAsync, gzipDeterministicAsyncPieces, gzipDeterministicGenerated, gzipImplementation } from '../../src/io/gzip.ts';
import { tempDir } from './helpers.ts';

/** Float32 noise with runs of zeros: compressible in parts, like a dose map, 3.4 blocks of 1 MiB long. */
function sample(bytes: number): Uint8Array {
  const f = new Float32Array(bytes / 4);
  let s = 7;
  for (let n = 0; n < f.length; n++) {
    s = (s * 1664525 + 1013904223) >>> 0;
    f[n] = (n >> 14) % 3 === 0 ? 0 : s / 2 ** 32;
  }
  return new Uint8Array(f.buffer);
}

describe('gzip', () => {
  const data = sample(3.4 * 2 ** 20);

  it('runs on Node zlib in Node', () => {
    expect(gzipImplementation).toBe('node-zlib');
  });

  it('parallel blocks form one gzip member that every reader inflates to the input', async () => {
    const z = await gzipDeterministicAsync(data, 1);
    expect(Array.from(z.subarray(0, 4))).toEqual([0x1f, 0x8b, 8, 0]);
    expect(z[9]).toBe(255);
    expect(Buffer.compare(zlibGunzip(z), Buffer.from(data))).toBe(0);
    expect(Buffer.compare(Buffer.from(fflateGunzip(z)), Buffer.from(data))).toBe(0);
    expect(Buffer.compare(Buffer.from(gunzipChecked(z, 'test')), Buffer.from(data))).toBe(0);
    // the dictionary carried across blocks keeps the size within 1 % of a serial stream at the same level
    const serial = gzipDeterministic(data, 1);
    expect(z.length / serial.length).toBeLessThan(1.01);
    // trailer: CRC-32 and length of the whole input
    const dv = new DataView(z.buffer, z.byteOffset + z.length - 8, 8);
    expect(dv.getUint32(0, true)).toBe(crc32(data));
    expect(dv.getUint32(4, true)).toBe(data.length);
  });

  it('is reproducible', async () => {
    const a = await gzipDeterministicAsync(data, 1);
    const b = await gzipDeterministicAsync(data, 1);
    expect(Buffer.compare(Buffer.from(a), Buffer.from(b))).toBe(0);
    expect(Buffer.compare(Buffer.from(gzipDeterministic(data, 6)), Buffer.from(gzipDeterministic(data, 6)))).toBe(0);
  });

  it('the pieces (header, blocks, trailer) are the joined stream, piece for piece', async () => {
    const joined = await gzipDeterministicAsync(data, 1);
    const pieces = await gzipDeterministicAsyncPieces(data, 1);
    expect(pieces.length).toBe(2 + Math.ceil(data.length / 2 ** 20)); // header, one piece per 1 MiB block, trailer
    expect(Buffer.compare(Buffer.concat(pieces), Buffer.from(joined))).toBe(0);
  });

  it('small inputs and the empty input round-trip', async () => {
    for (const d of [new Uint8Array(0), new Uint8Array([1, 2, 3]), sample(4096)]) {
      expect(Buffer.compare(Buffer.from(gunzipChecked(await gzipDeterministicAsync(d, 6), 'test')), Buffer.from(d))).toBe(0);
    }
  });

  it('Python gzip reads the parallel stream (when /usr/bin/python3 is present)', async (ctx) => {
    if (!existsSync('/usr/bin/python3')) {
      console.log('skipped: /usr/bin/python3 not found');
      ctx.skip();
    }
    const p = join(tempDir('gzip'), 'blocks.gz');
    writeFileSync(p, await gzipDeterministicAsync(data, 1));
    const r = spawnSync('/usr/bin/python3', ['-c', 'import gzip,sys,zlib; d=gzip.open(sys.argv[1]).read(); print(len(d), zlib.crc32(d))', p], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(`${data.length} ${crc32(data)}`);
  });

  it('parts and generated blocks give the bytes of the whole (header + voxels without a copy; a body made block by block)', async () => {
    const whole = await gzipDeterministicAsync(data, 1, 'rle');
    const same = (a: Uint8Array) => expect(Buffer.compare(Buffer.from(a), Buffer.from(whole))).toBe(0);
    same(await gzipDeterministicAsync([data.subarray(0, 352), data.subarray(352)], 1, 'rle'));
    // a cut that falls inside a block and one on a block boundary, and an empty part
    same(await gzipDeterministicAsync([data.subarray(0, 1_500_000), new Uint8Array(0), data.subarray(1_500_000, 2 ** 21), data.subarray(2 ** 21)], 1, 'rle'));
    same(await gzipDeterministicGenerated(data.length, (a, b) => data.slice(a, b), 1, 'rle'));
    const small = sample(4096);
    expect(Buffer.compare(Buffer.from(await gzipDeterministicGenerated(small.length, (a, b) => small.slice(a, b), 6)), Buffer.from(gzipDeterministic(small, 6)))).toBe(0);
  });

  it('inflates in the thread pool to the same bytes, with the same refusals', async () => {
    const z = await gzipDeterministicAsync(data, 1);
    expect(Buffer.compare(Buffer.from(await gunzipCheckedAsync(z, 'test')), Buffer.from(data))).toBe(0);
    await expect(gunzipCheckedAsync(z.subarray(0, z.length - 4), 'trailer cut')).rejects.toThrow(/truncated or corrupt/);
    await expect(gunzipCheckedAsync(z.subarray(0, 10), 'header only')).rejects.toThrow(FormatError);
  });

  it('refuses truncated and corrupted streams', async () => {
    const z = await gzipDeterministicAsync(data, 1);
    expect(() => gunzipChecked(z.subarray(0, z.length >> 1), 'cut')).toThrow(FormatError);
    expect(() => gunzipChecked(z.subarray(0, z.length - 4), 'trailer cut')).toThrow(/truncated or corrupt/);
    const bad = z.slice();
    bad[z.length - 6] ^= 0xff; // CRC
    expect(() => gunzipChecked(bad, 'crc')).toThrow(/truncated or corrupt/);
  });
});
