/**
 * Bringing images given on another grid onto the activity grid, through world (LPS) coordinates: trilinear
 * interpolation (CT in HU), interpolation through a point map (a registration's transform), and the volume-weighted
 * mean over the source voxels inside each target voxel (CT densities for the dose). Masks: ./resample.ts.
 */
import { type Geometry, indexToWorld, voxelCount, worldToIndex } from './geometry.ts';
import { indexMap, parallelAxes } from './index-map.ts';
import type { Volume, VoxelArray } from './volume.ts';

/**
 * Resamples an image onto `target` by trilinear interpolation in world coordinates. Points outside the source take
 * `outsideValue`. Used for CT (HU) onto the activity grid.
 */
export function resampleLinear(src: Volume<VoxelArray>, target: Geometry, outsideValue: number): Float32Array {
  const m = indexMap(target, src.geometry);
  const [sx, sy, sz] = src.geometry.dims;
  const [tx, ty, tz] = target.dims;
  const out = new Float32Array(voxelCount(target));
  const d = src.data;
  const at = (i: number, j: number, k: number) =>
    i < 0 || j < 0 || k < 0 || i >= sx || j >= sy || k >= sz ? outsideValue : d[i + sx * (j + sy * k)];
  const A = m.a, B = m.b;
  let n = 0;
  for (let k = 0; k < tz; k++) {
    for (let j = 0; j < ty; j++) {
      for (let i = 0; i < tx; i++, n++) {
        const u = A[0] * i + A[1] * j + A[2] * k + B[0];
        const v = A[3] * i + A[4] * j + A[5] * k + B[1];
        const w = A[6] * i + A[7] * j + A[8] * k + B[2];
        // Points within half a voxel of the edge clamp to the edge voxel (no artificial fall-off at the border).
        if (u < -0.5 || v < -0.5 || w < -0.5 || u > sx - 0.5 || v > sy - 0.5 || w > sz - 0.5) {
          out[n] = outsideValue;
          continue;
        }
        const uc = Math.min(Math.max(u, 0), sx - 1), vc = Math.min(Math.max(v, 0), sy - 1), wc = Math.min(Math.max(w, 0), sz - 1);
        const u0 = Math.min(Math.floor(uc), sx - 2 < 0 ? 0 : sx - 2), v0 = Math.min(Math.floor(vc), sy - 2 < 0 ? 0 : sy - 2), w0 = Math.min(Math.floor(wc), sz - 2 < 0 ? 0 : sz - 2);
        const fu = sx > 1 ? uc - u0 : 0, fv = sy > 1 ? vc - v0 : 0, fw = sz > 1 ? wc - w0 : 0;
        const c00 = at(u0, v0, w0) * (1 - fu) + at(u0 + 1, v0, w0) * fu;
        const c10 = at(u0, v0 + 1, w0) * (1 - fu) + at(u0 + 1, v0 + 1, w0) * fu;
        const c01 = at(u0, v0, w0 + 1) * (1 - fu) + at(u0 + 1, v0, w0 + 1) * fu;
        const c11 = at(u0, v0 + 1, w0 + 1) * (1 - fu) + at(u0 + 1, v0 + 1, w0 + 1) * fu;
        out[n] = (c00 * (1 - fv) + c10 * fv) * (1 - fw) + (c01 * (1 - fv) + c11 * fv) * fw;
      }
    }
  }
  return out;
}

/**
 * Trilinear interpolation of a volume at a world point [LPS mm] (voxel values at voxel centres). Points more than
 * half a voxel outside the grid give `outside`; within the outer half voxel the edge value is extended (the rule of
 * {@link resampleLinear}).
 */
export function sampleTrilinear(v: Volume<VoxelArray>, x: number, y: number, z: number, outside: number, scratch: number[] = [0, 0, 0]): number {
  const g = v.geometry;
  const [nx, ny, nz] = g.dims;
  const p = worldToIndex(g, x, y, z, scratch);
  const fi = p[0], fj = p[1], fk = p[2];
  if (fi < -0.5 || fj < -0.5 || fk < -0.5 || fi > nx - 0.5 || fj > ny - 0.5 || fk > nz - 0.5) return outside;
  const ci = Math.min(Math.max(fi, 0), nx - 1), cj = Math.min(Math.max(fj, 0), ny - 1), ck = Math.min(Math.max(fk, 0), nz - 1);
  const i0 = Math.min(Math.floor(ci), nx - 1), j0 = Math.min(Math.floor(cj), ny - 1), k0 = Math.min(Math.floor(ck), nz - 1);
  const i1 = Math.min(i0 + 1, nx - 1), j1 = Math.min(j0 + 1, ny - 1), k1 = Math.min(k0 + 1, nz - 1);
  const ti = ci - i0, tj = cj - j0, tk = ck - k0;
  const d = v.data;
  const at = (i: number, j: number, k: number) => d[i + nx * (j + ny * k)];
  const c00 = at(i0, j0, k0) * (1 - ti) + at(i1, j0, k0) * ti;
  const c10 = at(i0, j1, k0) * (1 - ti) + at(i1, j1, k0) * ti;
  const c01 = at(i0, j0, k1) * (1 - ti) + at(i1, j0, k1) * ti;
  const c11 = at(i0, j1, k1) * (1 - ti) + at(i1, j1, k1) * ti;
  return (c00 * (1 - tj) + c10 * tj) * (1 - tk) + (c01 * (1 - tj) + c11 * tj) * tk;
}

/** A map of world points [LPS mm] (an ITK transform compiled by io/transform.ts is one); writes into and returns `out`. */
export interface PointMap {
  apply(x: number, y: number, z: number, out: number[]): number[];
}

/**
 * Resamples `src` onto `target` through a point map (target space -> source space, LPS mm; identity when absent):
 * voxel p of the result is src(T(world(p))) by {@link sampleTrilinear}; points outside the source take `outsideValue`.
 * Registration (fixed <- moving), `dose --transform` and `compare` resample with it.
 */
export function resampleThrough(src: Volume<VoxelArray>, target: Geometry, outsideValue: number, map?: PointMap): Float32Array {
  const [tx, ty, tz] = target.dims;
  const out = new Float32Array(voxelCount(target));
  const w = [0, 0, 0], q = [0, 0, 0], scratch = [0, 0, 0];
  let n = 0;
  for (let k = 0; k < tz; k++) {
    for (let j = 0; j < ty; j++) {
      for (let i = 0; i < tx; i++, n++) {
        indexToWorld(target, i, j, k, w);
        const p = map ? map.apply(w[0], w[1], w[2], q) : w;
        out[n] = sampleTrilinear(src, p[0], p[1], p[2], outsideValue, scratch);
      }
    }
  }
  return out;
}

/** Options of `meanOverVoxels`. */
export interface MeanOverVoxelsOptions {
  /**
   * The quantity averaged, from a source voxel's stored value (e.g. HU to g/mL); default: the stored value. Applied
   * per source voxel before averaging, so a non-linear map (a clamp) is averaged correctly.
   */
  readonly transform?: (stored: number) => number;
  /**
   * 'auto' (default): the exact volume-weighted average when every axis of `target` runs along an axis of the source
   * (any spacing, offset, permutation or flip), else sub-sampling; 'sampled' always sub-samples (for tests).
   */
  readonly method?: 'auto' | 'sampled';
  /** Sub-samples per target axis when sampling; default ceil(target spacing / finest source spacing), 2..16. */
  readonly subsamples?: readonly [number, number, number];
}

/** Result of `meanOverVoxels`. */
export interface MeanOverVoxelsResult {
  /** Mean of the source over the part of each target voxel inside the source's field of view; 0 where none is. */
  readonly mean: Float32Array;
  /** Fraction of each target voxel's volume inside the source's field of view (0..1). */
  readonly insideFraction: Float32Array;
  /** 'exact-box': overlap-volume weights; 'sampled': sub-samples with nearest source voxel lookups. */
  readonly method: 'exact-box' | 'sampled';
  /** Sub-samples per target axis ('sampled' only). */
  readonly subsamples?: readonly [number, number, number];
  /** The method in words, for reports. */
  readonly description: string;
}

/**
 * Averages an image over each voxel of a coarser (or any) `target` grid through world coordinates: the source is
 * taken as constant over each of its voxels, and each target voxel gets the volume-weighted mean of the source voxels
 * it overlaps (its part outside the source's field of view excluded, and returned as `insideFraction`). Used to bring
 * CT densities onto the activity grid: a ~4 mm activity voxel holds ~100 CT voxels, and its mass is their mean
 * density times its volume (sampling the CT at the voxel centre instead misplaces tissue boundaries by up to half a
 * voxel). Exact when the axes are parallel (`exact-box`); otherwise `subsamples` points per axis with nearest-voxel
 * lookups, whose error shrinks with the number of samples. Accumulates in float64.
 */
export function meanOverVoxels(src: Volume<VoxelArray>, target: Geometry, options: MeanOverVoxelsOptions = {}): MeanOverVoxelsResult {
  const m = indexMap(target, src.geometry);
  const sDims = src.geometry.dims;
  const [tx, ty, tz] = target.dims;
  const n = voxelCount(target);
  const mean = new Float32Array(n);
  const inside = new Float32Array(n);
  const f = options.transform ?? ((v: number) => v);
  const d = src.data;
  const sStride = [1, sDims[0], sDims[0] * sDims[1]];
  const axisMap = options.method === 'sampled' ? undefined : parallelAxes(m);
  if (axisMap) {
    // Per target axis t: for each target index p, the source voxels along axis axisMap[t] that its extent
    // [p - 1/2, p + 1/2] overlaps, with the overlapping fraction of the target voxel's length as weight.
    const tables = [0, 1, 2].map((t) => overlapTable(target.dims[t], m.a[3 * axisMap[t] + t], m.b[axisMap[t]], sDims[axisMap[t]]));
    const strides = [0, 1, 2].map((t) => sStride[axisMap[t]]);
    const [X, Y, Z] = tables;
    // In one-axis passes, each CT voxel transformed once per target voxel that overlaps it along x (not once per
    // target voxel overlapping it in 3-D): rows along x, then along y into plane sums, then planes along z. The plane
    // sums of a source plane serve every target plane that overlaps it (neighbours share their boundary planes).
    let vLo = Infinity, vHi = -Infinity;
    for (let j = 0; j < ty; j++) if (Y.count[j] > 0) (vLo = Math.min(vLo, Y.start[j])), (vHi = Math.max(vHi, Y.start[j] + Y.count[j] - 1));
    const nv = vHi >= vLo ? vHi - vLo + 1 : 0;
    const rowSums = new Float64Array(nv * tx);
    const planes = new Map<number, Float64Array>();
    const planeSums = (w: number): Float64Array => {
      let P = planes.get(w);
      if (P) return P;
      for (let v = 0; v < nv; v++) {
        const base = w * strides[2] + (vLo + v) * strides[1];
        const out = v * tx;
        for (let i = 0; i < tx; i++) {
          let accX = 0;
          for (let a = 0; a < X.count[i]; a++) accX += X.weight[X.offset[i] + a] * f(d[base + (X.start[i] + a) * strides[0]]);
          rowSums[out + i] = accX;
        }
      }
      P = new Float64Array(tx * ty);
      for (let j = 0; j < ty; j++) {
        const out = j * tx;
        for (let b = 0; b < Y.count[j]; b++) {
          const wy = Y.weight[Y.offset[j] + b];
          const src = (Y.start[j] + b - vLo) * tx;
          for (let i = 0; i < tx; i++) P[out + i] += wy * rowSums[src + i];
        }
      }
      planes.set(w, P);
      return P;
    };
    const acc = new Float64Array(tx * ty);
    for (let k = 0; k < tz; k++) {
      const zc = Z.count[k];
      if (zc === 0) continue;
      acc.fill(0);
      for (let c = 0; c < zc; c++) {
        const wz = Z.weight[Z.offset[k] + c];
        const P = planeSums(Z.start[k] + c);
        for (let p = 0; p < acc.length; p++) acc[p] += wz * P[p];
      }
      // planes later target planes do not overlap (overlaps move monotonically with k)
      for (const w of planes.keys()) if (w < Z.start[k] || w >= Z.start[k] + zc) planes.delete(w);
      for (let j = 0; j < ty; j++) {
        if (Y.count[j] === 0) continue;
        const row = tx * (j + ty * k);
        for (let i = 0; i < tx; i++) {
          if (X.count[i] === 0) continue;
          const w = X.sum[i] * Y.sum[j] * Z.sum[k];
          mean[row + i] = acc[j * tx + i] / w;
          inside[row + i] = w;
        }
      }
    }
    return { mean, insideFraction: inside, method: 'exact-box', description: 'volume-weighted mean over the CT voxels inside each activity voxel (exact box average, axes parallel)' };
  }
  const A = m.a, B = m.b;
  // Default: sample spacing below the source spacing along each target axis (a target voxel step crosses
  // max_r |A[r][t]| source voxels), at least 3 per axis, at most 16.
  const sub = options.subsamples ?? ([0, 1, 2].map((t) => Math.min(16, Math.max(3, Math.ceil(Math.max(Math.abs(A[t]), Math.abs(A[3 + t]), Math.abs(A[6 + t])) - 1e-9) + 1))) as [number, number, number]);
  const nSamples = sub[0] * sub[1] * sub[2];
  // Sub-sample offsets from the voxel centre, in source index units (A times the offset in target index units).
  const off = new Float64Array(3 * nSamples);
  let s = 0;
  for (let c = 0; c < sub[2]; c++) {
    for (let b = 0; b < sub[1]; b++) {
      for (let a = 0; a < sub[0]; a++, s++) {
        const o = [(a + 0.5) / sub[0] - 0.5, (b + 0.5) / sub[1] - 0.5, (c + 0.5) / sub[2] - 0.5];
        for (let r = 0; r < 3; r++) off[3 * s + r] = A[3 * r] * o[0] + A[3 * r + 1] * o[1] + A[3 * r + 2] * o[2];
      }
    }
  }
  const [sx, sy, sz] = sDims;
  // Target index box that can reach the source's field of view (its corners mapped back), one voxel of margin.
  const back = indexMap(src.geometry, target);
  const lo = [Infinity, Infinity, Infinity], hi = [-Infinity, -Infinity, -Infinity];
  for (let c = 0; c < 8; c++) {
    const p = [c & 1 ? sx - 0.5 : -0.5, c & 2 ? sy - 0.5 : -0.5, c & 4 ? sz - 0.5 : -0.5];
    for (let r = 0; r < 3; r++) {
      const q = back.a[3 * r] * p[0] + back.a[3 * r + 1] * p[1] + back.a[3 * r + 2] * p[2] + back.b[r];
      lo[r] = Math.min(lo[r], q);
      hi[r] = Math.max(hi[r], q);
    }
  }
  const i0 = Math.max(0, Math.floor(lo[0]) - 1), i1 = Math.min(tx - 1, Math.ceil(hi[0]) + 1);
  const j0 = Math.max(0, Math.floor(lo[1]) - 1), j1 = Math.min(ty - 1, Math.ceil(hi[1]) + 1);
  const k0 = Math.max(0, Math.floor(lo[2]) - 1), k1 = Math.min(tz - 1, Math.ceil(hi[2]) + 1);
  for (let k = k0; k <= k1; k++) {
    for (let j = j0; j <= j1; j++) {
      for (let i = i0; i <= i1; i++) {
        // voxel centre in source index units
        const cu = A[0] * i + A[1] * j + A[2] * k + B[0];
        const cv = A[3] * i + A[4] * j + A[5] * k + B[1];
        const cw = A[6] * i + A[7] * j + A[8] * k + B[2];
        let acc = 0;
        let hits = 0;
        for (let q = 0; q < 3 * nSamples; q += 3) {
          const u = Math.round(cu + off[q]);
          const v = Math.round(cv + off[q + 1]);
          const w = Math.round(cw + off[q + 2]);
          if (u >= 0 && v >= 0 && w >= 0 && u < sx && v < sy && w < sz) {
            acc += f(d[u + sx * (v + sy * w)]);
            hits++;
          }
        }
        if (hits > 0) {
          const t = i + tx * (j + ty * k);
          mean[t] = acc / hits;
          inside[t] = hits / nSamples;
        }
      }
    }
  }
  return {
    mean,
    insideFraction: inside,
    method: 'sampled',
    subsamples: sub,
    description: `mean over each activity voxel, ${sub.join('x')} sub-samples (nearest CT voxel; grids not parallel)`,
  };
}

/** 1-D overlap weights of target voxels (index p, extent p +- 1/2) with source voxels (extent c +- 1/2), q = a p + b. */
function overlapTable(nTarget: number, a: number, b: number, nSource: number) {
  const start = new Int32Array(nTarget);
  const count = new Int32Array(nTarget);
  const offset = new Int32Array(nTarget);
  const sum = new Float64Array(nTarget);
  const weights: number[] = [];
  const len = Math.abs(a);
  for (let p = 0; p < nTarget; p++) {
    const q0 = Math.max(Math.min(a * (p - 0.5), a * (p + 0.5)) + b, -0.5);
    const q1 = Math.min(Math.max(a * (p - 0.5), a * (p + 0.5)) + b, nSource - 0.5);
    offset[p] = weights.length;
    if (!(q1 > q0)) continue;
    const c0 = Math.max(0, Math.round(q0)), c1 = Math.min(nSource - 1, Math.round(q1));
    start[p] = c0;
    for (let c = c0; c <= c1; c++) {
      const w = (Math.min(q1, c + 0.5) - Math.max(q0, c - 0.5)) / len;
      if (w > 0) {
        if (count[p] === 0) start[p] = c;
        weights.push(w);
        count[p]++;
        sum[p] += w;
      } else if (count[p] > 0) break;
    }
  }
  return { start, count, offset, sum, weight: Float64Array.from(weights) };
}
