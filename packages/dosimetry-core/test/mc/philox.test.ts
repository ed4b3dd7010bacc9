import { describe, expect, it } from 'vitest';
import { historyStream, mulhi32, philox4x32, PhiloxStream, uniformOfWord } from '../../src/mc/philox.ts';
import { MC_KEY_HI } from '../../src/mc/types.ts';

// Random123 kat_vectors (Salmon et al. 2011), "philox4x32 10" lines: counter[4] key[2] -> output[4].
const KAT: Array<[number[], number[], number[]]> = [
  [[0, 0, 0, 0], [0, 0], [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]],
  [[0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], [0xffffffff, 0xffffffff], [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd]],
  [[0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0], [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1]],
];

/** Independent Philox-4x32-10 in BigInt (exact 64-bit products), written from the published round function. */
function philoxBig(ctr: number[], key: number[]): number[] {
  const M = 0xffffffffn;
  let [c0, c1, c2, c3] = ctr.map(BigInt);
  let [k0, k1] = key.map(BigInt);
  for (let r = 0; r < 10; r++) {
    const p0 = 0xd2511f53n * c0;
    const p1 = 0xcd9e8d57n * c2;
    [c0, c1, c2, c3] = [((p1 >> 32n) ^ c1 ^ k0) & M, p1 & M, ((p0 >> 32n) ^ c3 ^ k1) & M, p0 & M];
    k0 = (k0 + 0x9e3779b9n) & M;
    k1 = (k1 + 0xbb67ae85n) & M;
  }
  return [c0, c1, c2, c3].map(Number);
}

/** A small deterministic generator of test inputs (xorshift32), independent of Philox. */
function inputs(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>>= 0);
  };
}

describe('Philox-4x32-10', () => {
  it('reproduces the Random123 known-answer vectors', () => {
    for (const [ctr, key, want] of KAT) expect(Array.from(philox4x32(ctr, key))).toEqual(want);
    for (const [ctr, key, want] of KAT) expect(philoxBig(ctr, key)).toEqual(want); // the oracle itself is right
  });

  it('equals the BigInt implementation on 2000 random counters and keys, and mulhi32 equals BigInt on edge and random words', () => {
    const r = inputs(12345);
    for (let n = 0; n < 2000; n++) {
      const ctr = [r(), r(), r(), r()];
      const key = [r(), r()];
      expect(Array.from(philox4x32(ctr, key))).toEqual(philoxBig(ctr, key));
    }
    const words = [0, 1, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff];
    for (let n = 0; n < 2000; n++) words.push(r());
    for (let a = 0; a < words.length; a += 7) {
      for (const b of words.slice(0, 64)) expect(mulhi32(words[a], b)).toBe(Number((BigInt(words[a]) * BigInt(b)) >> 32n));
    }
  });

  it('history streams: counter (h lo, h hi, block, 0), key (seed, MC_KEY_HI), words in order, u in (0, 1) on the 2^-24 grid', () => {
    const seed = 77;
    for (const h of [0, 5, 2 ** 32 + 3, 2 ** 40 + 12345]) {
      const s = historyStream(seed, h);
      const want: number[] = [];
      for (let block = 0; block < 3; block++) want.push(...philoxBig([h % 2 ** 32, Math.floor(h / 2 ** 32), block, 0], [seed, MC_KEY_HI]));
      // even positions read raw words, odd ones deviates: both consume one word of the same sequence
      for (let q = 0; q < 12; q++) {
        if (q % 2 === 0) expect(s.nextU32()).toBe(want[q]);
        else expect(s.next()).toBe(((want[q] >>> 8) + 0.5) * 2 ** -24);
      }
      expect(s.used).toBe(12);
    }
    expect(uniformOfWord(0)).toBe(2 ** -25);
    expect(uniformOfWord(0xffffffff)).toBe(1 - 2 ** -25);
    // reset reuses the object for another history exactly
    const a = new PhiloxStream(3, 9);
    const first = [a.next(), a.next(), a.next(), a.next(), a.next()];
    a.reset(3, 9);
    expect([a.next(), a.next(), a.next(), a.next(), a.next()]).toEqual(first);
  });

  it('deviates are uniform: mean 1/2 and variance 1/12 within 5 sigma over 2^17 draws', () => {
    const s = historyStream(1, 0);
    const n = 2 ** 17;
    let sum = 0;
    let sq = 0;
    for (let q = 0; q < n; q++) {
      const u = s.next();
      sum += u;
      sq += u * u;
    }
    const mean = sum / n;
    // sigma of the mean of U(0,1): sqrt(1/12/n); of the mean of u^2: sqrt(4/45/n)
    expect(Math.abs(mean - 0.5)).toBeLessThan(5 * Math.sqrt(1 / 12 / n));
    expect(Math.abs(sq / n - 1 / 3)).toBeLessThan(5 * Math.sqrt(4 / 45 / n));
  });
});
