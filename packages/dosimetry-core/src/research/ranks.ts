/**
 * Ranks with ties and a seeded random number generator, shared by the rank tests, ROC and the bootstrap.
 */

/**
 * Mid-ranks (1-based; tied values share the mean of their ranks, as scipy.stats.rankdata 'average') and the tie
 * groups' sizes (only groups of 2 or more).
 */
export function midRanks(values: readonly number[]): { ranks: Float64Array; tieSizes: number[] } {
  const n = values.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => values[a] - values[b]);
  const ranks = new Float64Array(n);
  const tieSizes: number[] = [];
  let i = 0;
  while (i < n) {
    let j = i;
    while (j + 1 < n && values[order[j + 1]] === values[order[i]]) j++;
    const r = (i + j + 2) / 2; // mean of ranks i+1 .. j+1
    for (let k = i; k <= j; k++) ranks[order[k]] = r;
    if (j > i) tieSizes.push(j - i + 1);
    i = j + 1;
  }
  return { ranks, tieSizes };
}

/** Sum over tie groups of t^3 - t (the tie correction term of the rank tests). */
export function tieTerm(tieSizes: readonly number[]): number {
  let s = 0;
  for (const t of tieSizes) s += t * t * t - t;
  return s;
}

/**
 * Mulberry32: a small 32-bit seeded generator (Tommy Ettinger, public domain) returning uniform numbers in [0, 1).
 * Deterministic across platforms; scripts/reference/research_reference.py holds a bit-exact Python transcription,
 * so bootstrap results can be reproduced outside the engine.
 */
export function mulberry32(seed: number): () => number {
  let a = seed | 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Quantile of sorted values by linear interpolation between order statistics (Hyndman & Fan type 7; numpy default). */
export function quantileSorted(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const h = (n - 1) * p;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, n - 1);
  return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
}

/** Median of unsorted values (type 7, i.e. the middle value or the mean of the two middle values). */
export function median(values: readonly number[]): number {
  return quantileSorted([...values].sort((a, b) => a - b), 0.5);
}
