/**
 * Bringing masks and images given on another grid onto the activity grid, through world (LPS) coordinates.
 */
import { GridError, InputError } from '../errors.ts';
import { type Geometry, indexToWorld, worldToIndex, voxelCount } from './geometry.ts';
import { type GridStructure, type StructureMask, maskExtent } from './structure.ts';
import type { Volume, VoxelArray } from './volume.ts';

/** Affine map from continuous indices of `from` to continuous indices of `to`: q = A p + b (A row-major 3x3). */
interface IndexMap {
  readonly a: Float64Array; // 9, row-major
  readonly b: Float64Array; // 3
}

function indexMap(from: Geometry, to: Geometry): IndexMap {
  const o = worldToIndex(to, ...(indexToWorld(from, 0, 0, 0) as [number, number, number]));
  const a = new Float64Array(9);
  for (let c = 0; c < 3; c++) {
    const e = [0, 0, 0];
    e[c] = 1;
    const p = worldToIndex(to, ...(indexToWorld(from, e[0], e[1], e[2]) as [number, number, number]));
    for (let r = 0; r < 3; r++) a[3 * r + c] = p[r] - o[r];
  }
  return { a, b: Float64Array.from(o) };
}

/**
 * When `map` takes every voxel centre of one grid onto a voxel centre of the other (each axis onto one axis, with
 * step +1 or -1 and an integer offset, to 1e-6 in the matrix and 1e-3 voxel in the offset), returns that
 * correspondence: index along axis r of the destination = sign[r] * (source index along axis[r]) + offset[r].
 * Sub-samples placed at most 0.44 voxel from a centre then all land in the same voxel, so using the correspondence
 * gives exactly what sampling gives.
 */
function voxelAlignedMap(map: IndexMap): { axis: number[]; sign: number[]; offset: number[] } | undefined {
  const axis: number[] = [];
  const sign: number[] = [];
  const offset: number[] = [];
  for (let r = 0; r < 3; r++) {
    let found = -1;
    for (let c = 0; c < 3; c++) {
      const v = map.a[3 * r + c];
      if (Math.abs(Math.abs(v) - 1) < 1e-6) {
        if (found >= 0) return undefined;
        found = c;
        sign.push(v > 0 ? 1 : -1);
      } else if (Math.abs(v) > 1e-6) return undefined;
    }
    if (found < 0 || axis.includes(found)) return undefined;
    axis.push(found);
    const o = Math.round(map.b[r]);
    if (Math.abs(map.b[r] - o) > 1e-3) return undefined;
    offset.push(o);
  }
  return { axis, sign, offset };
}

/** Inclusive index bounding box of the nonzero voxels of a mask, or undefined when the mask is empty. */
export function maskBoundingBox(mask: StructureMask): { lo: [number, number, number]; hi: [number, number, number] } | undefined {
  const e = maskExtent(mask);
  return e ? { lo: [...e.lo], hi: [...e.hi] } : undefined;
}

export interface MaskResampleOptions {
  /**
   * 'fractional' (default): each target voxel gets the fraction of its volume the mask occupies, estimated by
   * sampling the mask at a regular sub-grid of points inside the voxel (partial-volume weights).
   * 'nearest': the mask value at the target voxel centre (weights 0 or the mask's own occupancy).
   */
  readonly mode?: 'fractional' | 'nearest';
  /** Sub-samples per target axis for 'fractional'; default: enough to sample the mask at half its spacing (2..8). */
  readonly subsamples?: readonly [number, number, number];
}

export interface MaskResampleResult {
  readonly structure: GridStructure;
  /** Fraction of the mask's volume that lies outside the target grid's field of view (0..1). */
  readonly fractionOutsideFov: number;
}

/**
 * Brings a structure mask onto `target` through world coordinates. Throws a GridError naming the structure when it
 * lies entirely outside the target's field of view (or is empty).
 */
export function maskToGrid(mask: StructureMask, target: Geometry, options: MaskResampleOptions = {}): MaskResampleResult {
  const mode = options.mode ?? 'fractional';
  const bbox = maskBoundingBox(mask);
  if (!bbox) throw new InputError(`structure "${mask.name}" (${mask.origin}) is empty: it has no voxel inside it`);
  const toMask = indexMap(target, mask.geometry);
  const fromMask = indexMap(mask.geometry, target);
  // Target index range covering the mask's bounding box (its voxel corners), clipped to the target grid.
  const tlo = [Infinity, Infinity, Infinity];
  const thi = [-Infinity, -Infinity, -Infinity];
  for (let c = 0; c < 8; c++) {
    const p = [c & 1 ? bbox.hi[0] + 0.5 : bbox.lo[0] - 0.5, c & 2 ? bbox.hi[1] + 0.5 : bbox.lo[1] - 0.5, c & 4 ? bbox.hi[2] + 0.5 : bbox.lo[2] - 0.5];
    for (let r = 0; r < 3; r++) {
      const q = fromMask.a[3 * r] * p[0] + fromMask.a[3 * r + 1] * p[1] + fromMask.a[3 * r + 2] * p[2] + fromMask.b[r];
      tlo[r] = Math.min(tlo[r], q);
      thi[r] = Math.max(thi[r], q);
    }
  }
  const [tx, ty, tz] = target.dims;
  const i0 = Math.max(0, Math.floor(tlo[0])), i1 = Math.min(tx - 1, Math.ceil(thi[0]));
  const j0 = Math.max(0, Math.floor(tlo[1])), j1 = Math.min(ty - 1, Math.ceil(thi[1]));
  const k0 = Math.max(0, Math.floor(tlo[2])), k1 = Math.min(tz - 1, Math.ceil(thi[2]));

  const [mx, my, mz] = mask.geometry.dims;
  const occ = mask.occupancy;
  const A = toMask.a, B = toMask.b;
  // Target voxel indices and weights, in increasing index order. Every voxel written lies in the target box
  // i0..i1 x j0..j1 x k0..k1, so its volume bounds the count: one allocation, no growth.
  const capacity = i0 <= i1 && j0 <= j1 && k0 <= k1 ? (i1 - i0 + 1) * (j1 - j0 + 1) * (k1 - k0 + 1) : 0;
  const idx = new Uint32Array(capacity);
  const wts = new Float32Array(capacity);
  let count = 0;
  let totalInside = 0;
  const aligned = voxelAlignedMap(toMask);
  if (i0 <= i1 && j0 <= j1 && k0 <= k1 && aligned) {
    // Same voxels (the same grid, a crop of it, or one with permuted or flipped axes, e.g. a 3D Slicer segmentation
    // cropped to its segments): every target voxel is exactly one mask voxel, so each weight is that voxel's
    // occupancy, as every sub-sample would find (it is also what 'nearest' gives). One integer lookup per voxel.
    const { axis, sign, offset } = aligned;
    const stride = [1, mx, mx * my];
    const step = [0, 0, 0];
    let base = 0;
    for (let r = 0; r < 3; r++) {
      // mask index along mask axis r = sign[r] * (target index along axis[r]) + offset[r]
      step[axis[r]] += sign[r] * stride[r];
      base += offset[r] * stride[r];
    }
    const mDims = [mx, my, mz];
    // target index range whose image lies inside the mask grid (per target axis)
    const lo = [i0, j0, k0];
    const hi = [i1, j1, k1];
    for (let r = 0; r < 3; r++) {
      const t = axis[r];
      const a = sign[r] > 0 ? -offset[r] : offset[r] - (mDims[r] - 1);
      const b = sign[r] > 0 ? mDims[r] - 1 - offset[r] : offset[r];
      lo[t] = Math.max(lo[t], a);
      hi[t] = Math.min(hi[t], b);
    }
    for (let k = lo[2]; k <= hi[2]; k++) {
      for (let j = lo[1]; j <= hi[1]; j++) {
        let m = base + step[0] * lo[0] + step[1] * j + step[2] * k;
        const row = tx * (j + ty * k);
        for (let i = lo[0]; i <= hi[0]; i++, m += step[0]) {
          const o = occ[m];
          if (o !== 0) {
            const weight = o / 255;
            idx[count] = i + row;
            wts[count++] = weight;
            totalInside += weight;
          }
        }
      }
    }
  } else if (i0 <= i1 && j0 <= j1 && k0 <= k1) {
    // Sub-sampling pattern (offsets in target index units, centred in the voxel).
    const sub = options.subsamples ?? defaultSubsamples(mask.geometry, target);
    const ns = mode === 'nearest' ? [1, 1, 1] : sub;
    const offs: number[][] = [[], [], []];
    for (let r = 0; r < 3; r++) for (let s = 0; s < ns[r]; s++) offs[r].push((s + 0.5) / ns[r] - 0.5);
    const nSamples = ns[0] * ns[1] * ns[2];
    for (let k = k0; k <= k1; k++) {
      for (let j = j0; j <= j1; j++) {
        for (let i = i0; i <= i1; i++) {
          let acc = 0;
          for (let c = 0; c < ns[2]; c++) {
            const kk = k + offs[2][c];
            for (let b = 0; b < ns[1]; b++) {
              const jj = j + offs[1][b];
              for (let a = 0; a < ns[0]; a++) {
                const ii = i + offs[0][a];
                const u = Math.round(A[0] * ii + A[1] * jj + A[2] * kk + B[0]);
                const v = Math.round(A[3] * ii + A[4] * jj + A[5] * kk + B[1]);
                const w = Math.round(A[6] * ii + A[7] * jj + A[8] * kk + B[2]);
                if (u >= 0 && v >= 0 && w >= 0 && u < mx && v < my && w < mz) acc += occ[u + mx * (v + my * w)];
              }
            }
          }
          if (acc > 0) {
            const weight = acc / (255 * nSamples);
            idx[count] = i + tx * (j + ty * k);
            wts[count++] = weight;
            totalInside += weight;
          }
        }
      }
    }
  }
  // Volume of the mask (mL) vs the volume it contributes on the target grid.
  const maskSum = maskExtent(mask)!.occupancySum;
  const maskVolumeMl = (maskSum / 255) * (mask.geometry.spacingMm[0] * mask.geometry.spacingMm[1] * mask.geometry.spacingMm[2]) / 1000;
  const insideMl = (totalInside * target.spacingMm[0] * target.spacingMm[1] * target.spacingMm[2]) / 1000;
  if (count === 0) {
    throw new GridError(
      `structure "${mask.name}" (${mask.origin}) lies entirely outside the activity image's field of view; check that the segmentation belongs to this image (same patient, same frame of reference)`,
    );
  }
  const fractionOutsideFov = Math.min(1, Math.max(0, 1 - insideMl / maskVolumeMl));
  return {
    structure: {
      name: mask.name,
      origin: mask.origin,
      voxelIndices: idx.slice(0, count),
      weights: wts.slice(0, count),
      colorRgb: mask.colorRgb,
    },
    fractionOutsideFov: fractionOutsideFov < 1e-6 ? 0 : fractionOutsideFov,
  };
}

function defaultSubsamples(mask: Geometry, target: Geometry): [number, number, number] {
  // Sample spacing at most half the finest mask spacing along each target axis (world lengths), 2..8 samples.
  const finest = Math.min(...mask.spacingMm);
  return target.spacingMm.map((s) => Math.min(8, Math.max(2, Math.ceil((2 * s) / finest)))) as [number, number, number];
}

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
