/**
 * Affine maps between the continuous voxel indices of two grids (through world LPS coordinates), and the special
 * cases the resamplers take fast paths for: voxel-aligned grids and grids whose axes are parallel.
 */
import { type Geometry, indexToWorld, worldToIndex } from './geometry.ts';

/** Affine map from continuous indices of `from` to continuous indices of `to`: q = A p + b (A row-major 3x3). */
export interface IndexMap {
  readonly a: Float64Array; // 9, row-major
  readonly b: Float64Array; // 3
}

/** The map from continuous indices of `from` to those of `to` (through world LPS coordinates). */
export function indexMap(from: Geometry, to: Geometry): IndexMap {
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
export function voxelAlignedMap(map: IndexMap): { axis: number[]; sign: number[]; offset: number[] } | undefined {
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

/**
 * When every target axis maps onto exactly one source axis (scaled, possibly flipped; any offset), returns for each
 * target axis t the source axis it runs along; else undefined. Off-axis terms must be below 1e-6 of the row's scale.
 */
export function parallelAxes(map: IndexMap): [number, number, number] | undefined {
  const axisOfTarget = [-1, -1, -1];
  for (let r = 0; r < 3; r++) {
    const row = [map.a[3 * r], map.a[3 * r + 1], map.a[3 * r + 2]];
    const big = Math.max(...row.map(Math.abs));
    let found = -1;
    for (let c = 0; c < 3; c++) {
      if (Math.abs(row[c]) > 1e-6 * big) {
        if (found >= 0) return undefined;
        found = c;
      }
    }
    if (found < 0 || axisOfTarget[found] >= 0) return undefined;
    axisOfTarget[found] = r;
  }
  return axisOfTarget as [number, number, number];
}
