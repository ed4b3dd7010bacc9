/**
 * Structures (segments) as read from segmentations, and as brought onto the activity grid.
 */
import type { Geometry } from './geometry.ts';

/**
 * A structure on its own grid, as a reader produced it. Occupancy is quantised: 0 outside, 255 fully inside,
 * values between for fractional masks (DICOM SEG FRACTIONAL, rasterised contours with partial-volume weights).
 */
export interface StructureMask {
  /** Segment / ROI / label name, as the user refers to it on the command line. */
  readonly name: string;
  /** Where it came from, for reports and error messages (e.g. "seg.nrrd layer 1 label 2"). */
  readonly origin: string;
  readonly geometry: Geometry;
  /** Occupancy per voxel of `geometry`, x-fastest: 0..255 meaning 0..1. */
  readonly occupancy: Uint8Array;
  /** Display colour, RGB 0..1, when the source gives one. */
  readonly colorRgb?: readonly [number, number, number];
}

/**
 * A structure on the activity grid, stored sparsely: the voxels it touches and the fraction of each it occupies.
 * `voxelIndices` are ascending linear indices (i + nx * (j + ny * k)); `weights` in (0, 1].
 */
export interface GridStructure {
  readonly name: string;
  readonly origin: string;
  readonly voxelIndices: Uint32Array;
  readonly weights: Float32Array;
  /**
   * Optional, one per entry: the mass of the structure's own part of the voxel per mL of voxel volume [g/mL], i.e.
   * w x (mean density over the part of the voxel inside the structure) = (integral of rho over that part) / Vvox.
   * Set by `maskToGrid` from a CT when the mask is finer than the voxel (it knows where in the voxel the structure
   * lies); the statistics then take the structure's mass and mass-weighted mean dose from it instead of w x (the
   * voxel's mean density), which counts a boundary voxel's share of the structure at the density of the whole voxel
   * (lung voxels at the chest wall too heavy). Absent: w x the voxel's density.
   */
  readonly partMassGPerMl?: Float32Array;
  readonly colorRgb?: readonly [number, number, number];
}

let sharedOnes = new Float32Array(0);

/**
 * `n` weights of 1 for a structure whose voxels are all wholly inside it (a binary mask on its own grid): a view into
 * one shared buffer of ones, so that such structures hold 4 bytes per voxel (the indices) instead of 8. Weights are
 * never written after a structure is made (readers and derivations build new arrays), which sharing relies on. The
 * buffer grows to the largest request (earlier views keep the smaller one alive: bring the largest structure first).
 */
export function unitWeights(n: number): Float32Array {
  if (sharedOnes.length < n) sharedOnes = new Float32Array(n).fill(1);
  return sharedOnes.subarray(0, n);
}

/** Where a mask's nonzero voxels lie and how much it holds. */
export interface MaskExtent {
  /** Inclusive index bounding box of the nonzero voxels. */
  readonly lo: readonly [number, number, number];
  readonly hi: readonly [number, number, number];
  /** Sum of the occupancy values (0..255 each); volume in voxels = occupancySum / 255. */
  readonly occupancySum: number;
}

// Extents by occupancy array. Masks are not modified once made (readers and derivations build new arrays), so an
// extent computed once, or handed over by the code that built the mask in its own pass, stays right.
const extentCache = new WeakMap<Uint8Array, MaskExtent | null>();

/**
 * The extent of a mask (undefined when it is empty), computed in one pass over its grid and then cached with its
 * occupancy array; producers that scan their voxels anyway hand it over with `rememberMaskExtent`.
 */
export function maskExtent(mask: StructureMask): MaskExtent | undefined {
  const cached = extentCache.get(mask.occupancy);
  if (cached !== undefined) return cached ?? undefined;
  const [nx, ny, nz] = mask.geometry.dims;
  const occ = mask.occupancy;
  const lo: [number, number, number] = [nx, ny, nz];
  const hi: [number, number, number] = [-1, -1, -1];
  let sum = 0;
  for (let k = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      const row = nx * (j + ny * k);
      let first = -1;
      let last = -1;
      for (let i = 0; i < nx; i++) {
        const o = occ[row + i];
        if (o !== 0) {
          if (first < 0) first = i;
          last = i;
          sum += o;
        }
      }
      if (first >= 0) {
        if (first < lo[0]) lo[0] = first;
        if (last > hi[0]) hi[0] = last;
        if (j < lo[1]) lo[1] = j;
        if (j > hi[1]) hi[1] = j;
        if (k < lo[2]) lo[2] = k;
        if (k > hi[2]) hi[2] = k;
      }
    }
  }
  const e = sum > 0 ? { lo, hi, occupancySum: sum } : undefined;
  extentCache.set(occ, e ?? null);
  return e;
}

/** Records the extent of a freshly built occupancy array (computed by its producer in the pass that built it). */
export function rememberMaskExtent(occupancy: Uint8Array, extent: MaskExtent | undefined): void {
  extentCache.set(occupancy, extent ?? null);
}

/** Accumulates a mask's extent voxel by voxel, for producers that visit voxels in any order. */
export class ExtentBuilder {
  private readonly lo: [number, number, number];
  private readonly hi: [number, number, number] = [-1, -1, -1];
  private sum = 0;
  constructor(private readonly dims: readonly [number, number, number]) {
    this.lo = [dims[0], dims[1], dims[2]];
  }
  /** Adds voxel (i, j, k) holding occupancy `o` (> 0). */
  add(i: number, j: number, k: number, o: number): void {
    if (i < this.lo[0]) this.lo[0] = i;
    if (i > this.hi[0]) this.hi[0] = i;
    if (j < this.lo[1]) this.lo[1] = j;
    if (j > this.hi[1]) this.hi[1] = j;
    if (k < this.lo[2]) this.lo[2] = k;
    if (k > this.hi[2]) this.hi[2] = k;
    this.sum += o;
  }
  /** Adds the voxels first..last (inclusive, first <= last) of row (j, k), whose occupancies sum to `o` (> 0). */
  addRun(first: number, last: number, j: number, k: number, o: number): void {
    if (first < this.lo[0]) this.lo[0] = first;
    if (last > this.hi[0]) this.hi[0] = last;
    if (j < this.lo[1]) this.lo[1] = j;
    if (j > this.hi[1]) this.hi[1] = j;
    if (k < this.lo[2]) this.lo[2] = k;
    if (k > this.hi[2]) this.hi[2] = k;
    this.sum += o;
  }
  build(): MaskExtent | undefined {
    return this.sum > 0 ? { lo: [...this.lo], hi: [...this.hi], occupancySum: this.sum } : undefined;
  }
}

/**
 * The inclusive index bounding box of voxels given by linear indices (`i + nx * (j + ny * k)`) on a grid of `dims`;
 * undefined when there are none. With `weights` (one per index), only the voxels whose weight is at least `minWeight`
 * count. Any order is accepted; runs of indices within one x-row (as ascending indices come) cost one division per
 * row instead of three per voxel.
 */
export function boxOfIndices(
  dims: readonly [number, number, number],
  indices: ArrayLike<number>,
  weights?: ArrayLike<number>,
  minWeight = 0,
): { lo: [number, number, number]; hi: [number, number, number] } | undefined {
  const [nx, ny] = dims;
  const n = indices.length;
  const lo: [number, number, number] = [Infinity, Infinity, Infinity];
  const hi: [number, number, number] = [-1, -1, -1];
  let q = 0;
  while (q < n) {
    if (weights && !(weights[q] >= minWeight)) {
      q++;
      continue;
    }
    const v = indices[q++];
    const row = Math.floor(v / nx);
    const rowStart = row * nx;
    let iMin = v - rowStart;
    let iMax = iMin;
    while (q < n) {
      const i = indices[q] - rowStart;
      if (i < 0 || i >= nx) break;
      if (!weights || weights[q] >= minWeight) {
        if (i < iMin) iMin = i;
        else if (i > iMax) iMax = i;
      }
      q++;
    }
    const j = row % ny;
    const k = Math.floor(row / ny);
    if (iMin < lo[0]) lo[0] = iMin;
    if (iMax > hi[0]) hi[0] = iMax;
    if (j < lo[1]) lo[1] = j;
    if (j > hi[1]) hi[1] = j;
    if (k < lo[2]) lo[2] = k;
    if (k > hi[2]) hi[2] = k;
  }
  return hi[0] < 0 ? undefined : { lo, hi };
}
