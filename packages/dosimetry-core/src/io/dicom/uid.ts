/**
 * Deterministic DICOM UIDs from content hashes, so the same inputs give byte-identical files.
 * UIDs go under the 2.25 root (ISO/IEC 9834-8 UUID-derived OIDs; PS3.5 B.2): "2.25." + the UUID's 128 bits as a
 * decimal integer. The UUID is name-based from SHA-256 (RFC 9562 version 8 layout: version and variant bits set).
 */
import { InputError } from '../../errors.ts';

const K = new Uint32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01,
  0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc,
  0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
  0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08,
  0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
  0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

/** Incremental SHA-256 (FIPS 180-4), in plain TypeScript so it runs in Node and the browser. */
export class Sha256 {
  private h = new Uint32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);
  private block = new Uint8Array(64);
  private fill = 0;
  private total = 0;
  private w = new Uint32Array(64);

  /** Adds bytes (or a string, as UTF-8). */
  update(data: Uint8Array | string): this {
    const b = typeof data === 'string' ? new TextEncoder().encode(data) : data;
    this.total += b.length;
    let i = 0;
    if (this.fill) {
      const n = Math.min(64 - this.fill, b.length);
      this.block.set(b.subarray(0, n), this.fill);
      this.fill += n;
      i = n;
      if (this.fill === 64) {
        this.compress(this.block, 0);
        this.fill = 0;
      }
    }
    for (; i + 64 <= b.length; i += 64) this.compress(b, i);
    if (i < b.length) {
      this.block.set(b.subarray(i), 0);
      this.fill = b.length - i;
    }
    return this;
  }

  /** The 32-byte digest; the hash cannot be updated afterwards. */
  digest(): Uint8Array {
    const bits = this.total * 8;
    const pad = new Uint8Array(((this.fill < 56 ? 56 : 120) - this.fill) + 8);
    pad[0] = 0x80;
    const dv = new DataView(pad.buffer);
    dv.setUint32(pad.length - 8, Math.floor(bits / 2 ** 32));
    dv.setUint32(pad.length - 4, bits >>> 0);
    this.update(pad);
    const out = new Uint8Array(32);
    const o = new DataView(out.buffer);
    for (let i = 0; i < 8; i++) o.setUint32(4 * i, this.h[i]);
    return out;
  }

  /** The digest as lower-case hex. */
  hex(): string {
    return [...this.digest()].map((x) => x.toString(16).padStart(2, '0')).join('');
  }

  private compress(b: Uint8Array, o: number): void {
    const w = this.w;
    for (let t = 0; t < 16; t++) w[t] = (b[o + 4 * t] << 24) | (b[o + 4 * t + 1] << 16) | (b[o + 4 * t + 2] << 8) | b[o + 4 * t + 3];
    for (let t = 16; t < 64; t++) {
      const x = w[t - 15], y = w[t - 2];
      const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
      const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
      w[t] = (w[t - 16] + s0 + w[t - 7] + s1) | 0;
    }
    let [a, bb, c, d, e, f, g, h] = this.h;
    for (let t = 0; t < 64; t++) {
      const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const ch = (e & f) ^ (~e & g);
      const t1 = (h + S1 + ch + K[t] + w[t]) | 0;
      const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const maj = (a & bb) ^ (a & c) ^ (bb & c);
      const t2 = (S0 + maj) | 0;
      h = g; g = f; f = e; e = (d + t1) | 0; d = c; c = bb; bb = a; a = (t1 + t2) | 0;
    }
    const H = this.h;
    H[0] += a; H[1] += bb; H[2] += c; H[3] += d; H[4] += e; H[5] += f; H[6] += g; H[7] += h;
  }
}

/** Longest UID (PS3.5 9.1). */
export const UID_MAX_CHARS = 64;

/**
 * A UID derived from `digest` (any bytes, e.g. a SHA-256 of the content) and a `purpose` label that makes the
 * study, series, instance and frame-of-reference UIDs of one file differ. With no `root`: "2.25.<decimal UUID>".
 * With a `root` (digits and dots, e.g. an organisation's registered root): root + "." + as many decimal digits of the
 * hash as fit in 64 characters (at least 10 digits, else an InputError).
 */
export function deterministicUid(digest: Uint8Array, purpose: string, root?: string): string {
  const h = new Sha256().update(digest).update('\0' + purpose).digest();
  const u = h.slice(0, 16);
  u[6] = (u[6] & 0x0f) | 0x80; // version 8 (custom, name-based)
  u[8] = (u[8] & 0x3f) | 0x80; // RFC 9562 variant
  let n = 0n;
  for (const x of u) n = (n << 8n) | BigInt(x);
  if (!root) return `2.25.${n.toString()}`;
  if (!/^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$/.test(root)) {
    throw new InputError(`UID root "${root}" is not a valid UID prefix (digits separated by dots, no leading zeros)`);
  }
  const room = UID_MAX_CHARS - root.length - 1;
  if (room < 10) throw new InputError(`UID root "${root}" is too long: it leaves ${room} of the 64 characters of a UID for the unique part; use a root of at most 53 characters`);
  let digits = n.toString().slice(0, room);
  digits = digits.replace(/^0+/, '') || '1';
  return `${root}.${digits}`;
}
