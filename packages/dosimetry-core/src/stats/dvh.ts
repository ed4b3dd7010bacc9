/**
 * The dose-volume histogram (DVH) shared by both back ends: weight quantisation, bin index (in f32 arithmetic, as
 * the GPU kernel shaders/stats_hist.wgsl does it) and the step from an integer histogram to Dx and the cumulative DVH.
 * The CPU and GPU histograms are equal integer by integer, so Dx and the DVH curve are too.
 */

/** DVH weights are quantised to round(w x 1024) (integers, so GPU atomic u32 sums are exact and order-free). */
export const DVH_WEIGHT_QUANTUM = 1024;

/** Default number of DVH histogram bins. */
export const DEFAULT_DVH_BINS = 2000;

/** Most points of the resampled report DVH. */
export const DVH_REPORT_POINTS = 200;

/**
 * Quantised DVH weight of a voxel with occupancy w: floor(x) + (frac(x) >= 0.5), x = fround(w) x 1024 (exact in
 * f32 and f64), i.e. round half up. Occupancies below 1/2048 quantise to 0 and drop out of the DVH only (not of the
 * volume, mass or mean). Same integer as stats_hist.wgsl.
 */
export function quantiseDvhWeight(w: number): number {
  const x = Math.fround(w) * DVH_WEIGHT_QUANTUM;
  const f = Math.floor(x);
  return x - f >= 0.5 ? f + 1 : f;
}

/** Histogram range of one structure: [lo, hi] = [min(0, minGy), maxGy] and the f32 factor nBins / (hi - lo). */
export interface DvhRange {
  /** Lower edge of bin 0 [Gy] (an f32 value). */
  readonly loGy: number;
  /** Upper edge of the last bin [Gy]. */
  readonly hiGy: number;
  /** fround(nBins / (hi - lo)) [1/Gy]; 0 when hi <= lo (every voxel then falls in bin 0). */
  readonly scalePerGyF32: number;
  readonly nBins: number;
}

/** The DVH range over [min(0, minGy), maxGy] with nBins bins (minGy, maxGy: the structure's extreme f32 doses). */
export function dvhRange(minGy: number, maxGy: number, nBins: number): DvhRange {
  const lo = Math.min(0, minGy);
  const hi = Number.isFinite(maxGy) ? Math.max(maxGy, lo) : lo;
  let scale = hi > lo ? Math.fround(nBins / (hi - lo)) : 0;
  if (!Number.isFinite(scale)) scale = 0;
  return { loGy: Math.fround(lo), hiGy: hi, scalePerGyF32: scale, nBins };
}

/**
 * Bin of dose d [Gy] (an f32 value >= loGy): min(floor(fround(fround(d - lo) x scale)), nBins - 1), f32 arithmetic
 * exactly as the WGSL kernel does it (subtraction and multiplication are correctly rounded in WGSL f32).
 */
export function dvhBinIndex(doseGy: number, r: DvhRange): number {
  const t = Math.fround(Math.fround(doseGy - r.loGy) * r.scalePerGyF32);
  return Math.min(Math.floor(t), r.nBins - 1);
}

/** Dx and the cumulative DVH derived from an integer histogram. */
export interface DvhSummary {
  readonly d50Gy: number;
  readonly d70Gy: number;
  readonly d90Gy: number;
  readonly d98Gy: number;
  /** Cumulative DVH at bin edges, resampled to <= 200 points: fraction of the volume receiving >= doseGy. */
  readonly dvh: { doseGy: number[]; volumeFraction: number[] };
}

/**
 * Dx (the dose that x % of the volume receives at least) and the cumulative DVH from a histogram of quantised
 * weights. Cumulative fraction at the lower edge e_b = lo + b (hi - lo) / nBins: F(b) = sum_{j >= b} H[j] / sum H;
 * Dx is found by linear interpolation of F between the edges of the bin where F crosses x / 100 (the standard
 * histogram DVH; resolution (hi - lo) / nBins). NaN when the histogram is empty.
 */
export function dvhSummary(histogram: ArrayLike<number>, r: DvhRange): DvhSummary {
  const n = r.nBins;
  const cum = new Float64Array(n + 1);
  for (let b = n - 1; b >= 0; b--) cum[b] = cum[b + 1] + histogram[b];
  const total = cum[0];
  const width = (r.hiGy - r.loGy) / n;
  const edge = (b: number) => r.loGy + b * width;
  const dx = (percent: number): number => {
    if (!(total > 0)) return NaN;
    const f = (percent / 100) * total;
    // largest b with cum[b] >= f (cum non-increasing, cum[0] = total >= f > 0 = cum[n])
    let lo = 0;
    let hi = n;
    while (hi - lo > 1) {
      const mid = (lo + hi) >>> 1;
      if (cum[mid] >= f) lo = mid;
      else hi = mid;
    }
    const drop = cum[lo] - cum[lo + 1];
    return edge(lo) + (drop > 0 ? (width * (cum[lo] - f)) / drop : 0);
  };
  const doseGy: number[] = [];
  const volumeFraction: number[] = [];
  if (total > 0) {
    const step = Math.max(1, Math.ceil(n / (DVH_REPORT_POINTS - 2)));
    for (let b = 0; b <= n; b += step) {
      doseGy.push(edge(b));
      volumeFraction.push(cum[b] / total);
    }
    if (doseGy.length && n % step !== 0) {
      doseGy.push(edge(n));
      volumeFraction.push(0);
    }
  }
  return { d50Gy: dx(50), d70Gy: dx(70), d90Gy: dx(90), d98Gy: dx(98), dvh: { doseGy, volumeFraction } };
}
