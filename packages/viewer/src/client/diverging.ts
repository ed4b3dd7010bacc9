/**
 * The difference colormap: diverging, centred at 0 Gy, symmetric range [-R, +R]. Blue for achieved below planned,
 * near-white at 0, red for achieved above planned: the end and middle colours of ColorBrewer's RdBu (C. Brewer,
 * colorbrewer2.org; #2166ac, #f7f7f7, #b2182b), linearly interpolated in RGB on each half.
 */

const NEGATIVE: [number, number, number] = [33, 102, 172];
const CENTRE: [number, number, number] = [247, 247, 247];
const POSITIVE: [number, number, number] = [178, 24, 43];

/** RGB 0..255 of a difference [Gy] on the symmetric range [-rangeGy, +rangeGy] (clamped). */
export function divergingRgb(diffGy: number, rangeGy: number): [number, number, number] {
  const t = Math.max(-1, Math.min(1, diffGy / rangeGy));
  const end = t < 0 ? NEGATIVE : POSITIVE;
  const a = Math.abs(t);
  return [0, 1, 2].map((c) => Math.round(CENTRE[c] + a * (end[c] - CENTRE[c]))) as [number, number, number];
}

/** A symmetric range for a difference map: the largest |difference| rounded up to 1, 2 or 5 x 10^n Gy (1 Gy when all 0). */
export function symmetricRangeGy(data: ArrayLike<number>): number {
  let m = 0;
  for (let n = 0; n < data.length; n++) {
    const a = Math.abs(data[n]);
    if (a > m) m = a; // NaN compares false: skipped
  }
  if (!(m > 0)) return 1;
  const e = 10 ** Math.floor(Math.log10(m));
  for (const f of [1, 2, 5, 10]) if (f * e >= m) return f * e;
  return 10 * e;
}
