/** Inputs and error measure shared by the convolution tests. */
import type { Dims3 } from '../../src/convolution/types.ts';

/** Seeded uniform deviates in [0, 1) (LCG). */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** Random positive kernel, deliberately asymmetric (a symmetric one would hide a flipped offset). */
export function randomKernel(r: readonly number[], seed: number): Float32Array {
  const next = rng(seed);
  return new Float32Array((2 * r[0] + 1) * (2 * r[1] + 1) * (2 * r[2] + 1)).map(() => next());
}

export function randomVolume(d: Dims3, seed: number): Float32Array {
  const next = rng(seed);
  return new Float32Array(d[0] * d[1] * d[2]).map(() => next());
}

/** max |a - b| / max |b| */
export function relErr(a: Float32Array, b: Float32Array): number {
  let m = 0;
  let e = 0;
  for (let i = 0; i < b.length; i++) {
    m = Math.max(m, Math.abs(b[i]));
    e = Math.max(e, Math.abs(a[i] - b[i]));
  }
  return e / m;
}
