/**
 * Gzip for image files (RFC 1952), on fflate, with the checks fflate leaves out: a truncated or corrupt stream is
 * refused by its CRC-32 and ISIZE trailer instead of silently returning part of the data.
 * Output of `gzipDeterministic` depends only on the input bytes (fixed level, MTIME = 0, no file name), so files
 * written twice are byte-identical.
 */
import { Gunzip, gzipSync } from 'fflate';
import { FormatError } from '../errors.ts';

const CRC_TABLE: Uint32Array = (() => {
  // Reflected CRC-32 polynomial 0xEDB88320 (RFC 1952 section 8), slicing-by-4 tables.
  const t = new Uint32Array(4 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  for (let n = 0; n < 256; n++) {
    let c = t[n];
    for (let s = 1; s < 4; s++) {
      c = t[c & 255] ^ (c >>> 8);
      t[256 * s + n] = c >>> 0;
    }
  }
  return t;
})();

/** CRC-32 (ISO 3309 / RFC 1952, as in the gzip trailer) of `data`. */
export function crc32(data: Uint8Array): number {
  const t = CRC_TABLE;
  let c = 0xffffffff;
  let i = 0;
  const n4 = data.length & ~3;
  for (; i < n4; i += 4) {
    c ^= data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24);
    c = t[768 + (c & 255)] ^ t[512 + ((c >>> 8) & 255)] ^ t[256 + ((c >>> 16) & 255)] ^ t[c >>> 24];
  }
  for (; i < data.length; i++) c = t[(c ^ data[i]) & 255] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** True when `data` starts with the gzip magic bytes 1f 8b. */
export function isGzip(data: Uint8Array): boolean {
  return data.length >= 2 && data[0] === 0x1f && data[1] === 0x8b;
}

/**
 * Decompresses a gzip stream and checks its trailer (CRC-32 and length mod 2^32, RFC 1952 section 2.3.1).
 * Throws a FormatError naming `what` when the data is truncated or corrupt. Multi-member streams are decompressed;
 * their trailers are then not checked (the stream's own end-of-data check still applies).
 */
export function gunzipChecked(data: Uint8Array, what: string): Uint8Array {
  if (!isGzip(data) || data.length < 18 || data[2] !== 8) {
    throw new FormatError(`${what} is not valid gzip data (bad header): the file is truncated or corrupt`);
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  let members = 1;
  try {
    const g = new Gunzip((chunk) => {
      chunks.push(chunk);
      total += chunk.length;
    });
    g.onmember = () => {
      members++;
    };
    g.push(data, true);
  } catch (err) {
    throw new FormatError(`${what}: gzip data is truncated or corrupt (${(err as Error).message}); re-export or re-copy the file`, {
      cause: err,
    });
  }
  let out: Uint8Array;
  if (chunks.length === 1) out = chunks[0];
  else {
    out = new Uint8Array(total);
    let o = 0;
    for (const c of chunks) {
      out.set(c, o);
      o += c.length;
    }
  }
  if (members === 1) {
    const n = data.length;
    const wantCrc = (data[n - 8] | (data[n - 7] << 8) | (data[n - 6] << 16) | (data[n - 5] << 24)) >>> 0;
    const wantLen = (data[n - 4] | (data[n - 3] << 8) | (data[n - 2] << 16) | (data[n - 1] << 24)) >>> 0;
    if (wantLen !== out.length % 2 ** 32 || crc32(out) !== wantCrc) {
      throw new FormatError(
        `${what}: gzip data is truncated or corrupt (checksum or length in the gzip trailer does not match the ${out.length} bytes decompressed); re-export or re-copy the file`,
      );
    }
  }
  return out;
}

/** Gzip with fixed settings (deflate level 6, MTIME 0, no name): identical input gives identical output bytes. */
export function gzipDeterministic(data: Uint8Array): Uint8Array {
  return gzipSync(data, { level: 6, mtime: 0 });
}
