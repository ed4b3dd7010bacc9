/**
 * Registration quality figures: resampling an image or mask through a fixed-to-moving transform onto the fixed grid,
 * mutual information between two images on one grid, and the mean symmetric distance between two mask surfaces.
 * Plain TypeScript, f64 accumulation; no elastix in here, so these are independent of the optimiser they judge.
 */
import type { PointTransform } from '../io/transform.ts';
import { type Geometry, indexToWorld } from '../volume/geometry.ts';
import { resampleThrough } from '../volume/resample.ts';
import type { Volume, VoxelArray } from '../volume/volume.ts';

/**
 * Resamples `moving` onto `fixed` through `transform` (fixed -> moving, LPS mm) by trilinear interpolation: voxel p of
 * the result is moving(T(world(p))). Points outside the moving image take `outsideValue` (volume/resample.ts).
 */
export function resampleThroughTransform(moving: Volume<VoxelArray>, fixed: Geometry, transform: PointTransform, outsideValue: number): Float32Array {
  return resampleThrough(moving, fixed, outsideValue, transform);
}

/**
 * Mutual information [nats] between two images on one grid, from a joint histogram of `bins` x `bins` equal-width bins
 * over each image's own range, over the voxels where `mask` (if given) is nonzero and `b` is not NaN.
 * MI = sum p(a,b) ln(p(a,b) / (p(a) p(b))) (Mattes et al., IEEE TMI 22:120, 2003, without the Parzen window).
 */
export function mutualInformation(a: ArrayLike<number>, b: ArrayLike<number>, options: { mask?: ArrayLike<number>; bins?: number } = {}): number {
  const bins = options.bins ?? 32;
  const mask = options.mask;
  let aLo = Infinity, aHi = -Infinity, bLo = Infinity, bHi = -Infinity;
  for (let i = 0; i < a.length; i++) {
    if ((mask && !mask[i]) || Number.isNaN(b[i])) continue;
    if (a[i] < aLo) aLo = a[i];
    if (a[i] > aHi) aHi = a[i];
    if (b[i] < bLo) bLo = b[i];
    if (b[i] > bHi) bHi = b[i];
  }
  if (!(aHi > aLo) || !(bHi > bLo)) return 0;
  const joint = new Float64Array(bins * bins);
  let total = 0;
  const ba = (bins - 1e-9) / (aHi - aLo), bb = (bins - 1e-9) / (bHi - bLo);
  for (let i = 0; i < a.length; i++) {
    if ((mask && !mask[i]) || Number.isNaN(b[i])) continue;
    joint[Math.floor((a[i] - aLo) * ba) * bins + Math.floor((b[i] - bLo) * bb)]++;
    total++;
  }
  const pa = new Float64Array(bins), pb = new Float64Array(bins);
  for (let x = 0; x < bins; x++) for (let y = 0; y < bins; y++) (pa[x] += joint[x * bins + y] / total), (pb[y] += joint[x * bins + y] / total);
  let mi = 0;
  for (let x = 0; x < bins; x++) {
    for (let y = 0; y < bins; y++) {
      const p = joint[x * bins + y] / total;
      if (p > 0) mi += p * Math.log(p / (pa[x] * pb[y]));
    }
  }
  return mi;
}

/** World positions [mm, LPS] of the surface voxels of a binary mask (a voxel inside with a 6-neighbour outside). */
export function surfacePoints(mask: ArrayLike<number>, g: Geometry): Float64Array {
  const [nx, ny, nz] = g.dims;
  const pts: number[] = [];
  const w = [0, 0, 0];
  const inside = (i: number, j: number, k: number) => i >= 0 && j >= 0 && k >= 0 && i < nx && j < ny && k < nz && mask[i + nx * (j + ny * k)] > 0;
  for (let k = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      for (let i = 0; i < nx; i++) {
        if (!inside(i, j, k)) continue;
        if (inside(i - 1, j, k) && inside(i + 1, j, k) && inside(i, j - 1, k) && inside(i, j + 1, k) && inside(i, j, k - 1) && inside(i, j, k + 1)) continue;
        indexToWorld(g, i, j, k, w);
        pts.push(w[0], w[1], w[2]);
      }
    }
  }
  return Float64Array.from(pts);
}

/**
 * Mean symmetric surface distance [mm] between two point sets (each point's distance to the nearest point of the
 * other set, averaged over both sets). Brute force: O(nA nB), fine for organ surfaces on ~5 mm grids.
 * Returns NaN when either set is empty.
 */
export function meanSurfaceDistanceMm(a: Float64Array, b: Float64Array): number {
  const na = a.length / 3, nb = b.length / 3;
  if (na === 0 || nb === 0) return NaN;
  const nearestSum = (p: Float64Array, np: number, q: Float64Array, nq: number) => {
    let s = 0;
    for (let i = 0; i < np; i++) {
      const x = p[3 * i], y = p[3 * i + 1], z = p[3 * i + 2];
      let best = Infinity;
      for (let j = 0; j < nq; j++) {
        const dx = q[3 * j] - x, dy = q[3 * j + 1] - y, dz = q[3 * j + 2] - z;
        const d2 = dx * dx + dy * dy + dz * dz;
        if (d2 < best) best = d2;
      }
      s += Math.sqrt(best);
    }
    return s;
  };
  return (nearestSum(a, na, b, nb) + nearestSum(b, nb, a, na)) / (na + nb);
}
