/**
 * Philox-4x32-10 counter-based random numbers (Salmon, Moraes, Dror & Shaw 2011, "Parallel random numbers: as easy as
 * 1, 2, 3", SC11; constants and round structure as Random123's philox4x32), in plain u32 arithmetic that WGSL can
 * repeat: the low word of a 32x32 product by Math.imul, the high word by 16-bit halves (exact in f64).
 *
 * The Monte Carlo's stream of history h (see ./types.ts and the transport spec): key (seed, MC_KEY_HI), counter
 * (h mod 2^32, floor(h / 2^32), block, 0) for block = 0, 1, 2, ...; each block gives four u32 words used in order.
 * A uniform deviate is u = ((x >>> 8) + 0.5) 2^-24, in (0, 1), exact in f32 and f64. Shaders: shaders/mc_transport.wgsl
 * has the same generator; test/mc/philox.test.ts checks this one against Random123's known-answer vectors and BigInt.
 */
import { InputError } from '../errors.ts';
import { MC_KEY_HI } from './types.ts';

const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;
const TWO_M24 = 2 ** -24;

/**
 * High 32 bits of the 64-bit product of two u32 (by 16-bit halves: every partial sum stays below 2^34, exact in f64;
 * the same split WGSL uses, which has no 32x32->64 multiply).
 */
export function mulhi32(a: number, b: number): number {
  const al = a & 0xffff;
  const ah = a >>> 16;
  const bl = b & 0xffff;
  const bh = b >>> 16;
  const lolo = al * bl;
  const mid = ah * bl + al * bh + (lolo >>> 16); // < 2^33 + 2^16
  return (ah * bh + Math.floor(mid / 65536)) >>> 0;
}

/** Low 32 bits of the product of two u32. */
export function mullo32(a: number, b: number): number {
  return Math.imul(a, b) >>> 0;
}

/**
 * Philox-4x32 with 10 rounds: the four output words of `counter` (four u32) under `key` (two u32), written into
 * `out` (a fresh array when omitted). Matches Random123's kat_vectors.
 */
export function philox4x32(counter: ArrayLike<number>, key: ArrayLike<number>, out: Uint32Array | number[] = new Uint32Array(4)): Uint32Array | number[] {
  let c0 = counter[0] >>> 0;
  let c1 = counter[1] >>> 0;
  let c2 = counter[2] >>> 0;
  let c3 = counter[3] >>> 0;
  let k0 = key[0] >>> 0;
  let k1 = key[1] >>> 0;
  for (let r = 0; r < 10; r++) {
    if (r > 0) {
      k0 = (k0 + W0) >>> 0;
      k1 = (k1 + W1) >>> 0;
    }
    const hi0 = mulhi32(M0, c0);
    const lo0 = Math.imul(M0, c0) >>> 0;
    const hi1 = mulhi32(M1, c2);
    const lo1 = Math.imul(M1, c2) >>> 0;
    c0 = (hi1 ^ c1 ^ k0) >>> 0;
    c1 = lo1;
    c2 = (hi0 ^ c3 ^ k1) >>> 0;
    c3 = lo0;
  }
  out[0] = c0;
  out[1] = c1;
  out[2] = c2;
  out[3] = c3;
  return out;
}

/** The uniform deviate of one u32 word: ((x >>> 8) + 0.5) 2^-24, in (0, 1). */
export function uniformOfWord(x: number): number {
  return ((x >>> 8) + 0.5) * TWO_M24;
}

/** The random numbers of one history (see the module header). */
export interface HistoryStream {
  /** Next uniform deviate in (0, 1) (24 bits). */
  next(): number;
  /** Next raw u32 word of the stream (same position as next(): both consume one word). */
  nextU32(): number;
  /** Words consumed so far. */
  readonly used: number;
}

/**
 * A reusable stream: `reset(seed, h)` starts history h of `seed` without allocating (the transport's inner loop
 * creates one per thread and resets it per history).
 */
export class PhiloxStream implements HistoryStream {
  private readonly ctr = new Uint32Array(4);
  private readonly key = new Uint32Array(2);
  private readonly buf = new Uint32Array(4);
  private pos = 4;
  private count = 0;

  constructor(seed = 0, h = 0) {
    this.reset(seed, h);
  }

  reset(seed: number, h: number): void {
    this.key[0] = seed >>> 0;
    this.key[1] = MC_KEY_HI;
    this.ctr[0] = h % 4294967296;
    this.ctr[1] = Math.floor(h / 4294967296);
    this.ctr[2] = 0;
    this.ctr[3] = 0;
    this.pos = 4;
    this.count = 0;
  }

  nextU32(): number {
    if (this.pos === 4) {
      philox4x32(this.ctr, this.key, this.buf);
      this.ctr[2] = this.ctr[2] + 1; // block index (Uint32Array wraps after 2^32 blocks)
      this.pos = 0;
    }
    this.count++;
    return this.buf[this.pos++];
  }

  next(): number {
    return ((this.nextU32() >>> 8) + 0.5) * TWO_M24;
  }

  get used(): number {
    return this.count;
  }
}

/** The stream of history `h` (0 <= h < 2^53) of `seed` (taken as u32). */
export function historyStream(seed: number, h: number): HistoryStream {
  if (!(Number.isInteger(h) && h >= 0 && h <= Number.MAX_SAFE_INTEGER)) throw new InputError(`history index ${h} must be a whole number in 0..2^53: histories are numbered from 0`);
  return new PhiloxStream(seed, h);
}
