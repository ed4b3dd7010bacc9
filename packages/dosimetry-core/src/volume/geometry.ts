/**
 * Grid geometry in the one internal frame: LPS millimetres (DICOM, ITK).
 *
 * world = originLpsMm + direction * diag(spacingMm) * [i, j, k]
 *
 * `direction` is a 3x3 matrix stored column-major (`Mat3ColMajor`): column c (elements 3c..3c+2) is the unit vector,
 * in LPS, along which index axis c (i, j, k) runs. Voxels are stored x-fastest: index = i + nx * (j + ny * k).
 */
import { GridError, InputError } from '../errors.ts';

/** 3x3 matrix, column-major: m[r + 3 * c]. */
export type Mat3ColMajor = readonly [number, number, number, number, number, number, number, number, number];
/** 4x4 matrix, column-major (gl-matrix order): m[r + 4 * c]. */
export type Mat4ColMajor = readonly number[] & { readonly length: 16 };
export type Vec3 = readonly [number, number, number];

export interface Geometry {
  /** Voxel counts along i, j, k. */
  readonly dims: readonly [number, number, number];
  /** Voxel spacing along i, j, k [mm], all > 0. */
  readonly spacingMm: Vec3;
  /** World position of voxel (0,0,0)'s centre, LPS [mm]. */
  readonly originLpsMm: Vec3;
  /** Direction cosines, column-major; columns are the LPS unit vectors of the index axes. */
  readonly direction: Mat3ColMajor;
}

export const IDENTITY_DIRECTION: Mat3ColMajor = [1, 0, 0, 0, 1, 0, 0, 0, 1];

/** Number of voxels of a grid. */
export function voxelCount(g: Geometry): number {
  return g.dims[0] * g.dims[1] * g.dims[2];
}

/** Volume of one voxel [mL]. */
export function voxelVolumeMl(g: Geometry): number {
  return (g.spacingMm[0] * g.spacingMm[1] * g.spacingMm[2]) / 1000;
}

/** Checks a geometry for finite positive spacing, integer dims and an orthonormal direction; throws otherwise. */
export function validateGeometry(g: Geometry, what = 'image'): Geometry {
  for (let a = 0; a < 3; a++) {
    const n = g.dims[a];
    if (!Number.isInteger(n) || n < 1) {
      throw new InputError(`${what}: size along axis ${a} is ${n}; every axis needs at least one voxel`);
    }
    const s = g.spacingMm[a];
    if (!Number.isFinite(s) || s <= 0) {
      throw new InputError(
        `${what}: voxel spacing along axis ${a} is ${s} mm; spacing must be positive and finite (fix the header's spacing/pixdim)`,
      );
    }
    if (!Number.isFinite(g.originLpsMm[a])) throw new InputError(`${what}: origin is not finite (${g.originLpsMm.join(', ')})`);
  }
  const d = g.direction;
  for (let c = 0; c < 3; c++) {
    for (let c2 = c; c2 < 3; c2++) {
      let dot = 0;
      for (let r = 0; r < 3; r++) dot += d[r + 3 * c] * d[r + 3 * c2];
      const want = c === c2 ? 1 : 0;
      if (!(Math.abs(dot - want) < 1e-3)) {
        throw new InputError(
          `${what}: direction cosines are not orthonormal (columns ${c},${c2} dot ${dot.toFixed(4)}); sheared grids are not supported`,
        );
      }
    }
  }
  return g;
}

/** World LPS position [mm] of a continuous index (i, j, k). */
export function indexToWorld(g: Geometry, i: number, j: number, k: number, out: number[] = [0, 0, 0]): number[] {
  const d = g.direction;
  const a = i * g.spacingMm[0];
  const b = j * g.spacingMm[1];
  const c = k * g.spacingMm[2];
  out[0] = g.originLpsMm[0] + d[0] * a + d[3] * b + d[6] * c;
  out[1] = g.originLpsMm[1] + d[1] * a + d[4] * b + d[7] * c;
  out[2] = g.originLpsMm[2] + d[2] * a + d[5] * b + d[8] * c;
  return out;
}

/** Continuous index of a world LPS position [mm] (direction is orthonormal, so its inverse is its transpose). */
export function worldToIndex(g: Geometry, x: number, y: number, z: number, out: number[] = [0, 0, 0]): number[] {
  const d = g.direction;
  const px = x - g.originLpsMm[0];
  const py = y - g.originLpsMm[1];
  const pz = z - g.originLpsMm[2];
  out[0] = (d[0] * px + d[1] * py + d[2] * pz) / g.spacingMm[0];
  out[1] = (d[3] * px + d[4] * py + d[5] * pz) / g.spacingMm[1];
  out[2] = (d[6] * px + d[7] * py + d[8] * pz) / g.spacingMm[2];
  return out;
}

/** Index-to-LPS affine (4x4, column-major), mapping [i, j, k, 1] to [x, y, z, 1] in mm. */
export function indexToLpsAffine(g: Geometry): Mat4ColMajor {
  const d = g.direction;
  const s = g.spacingMm;
  const o = g.originLpsMm;
  return [
    d[0] * s[0], d[1] * s[0], d[2] * s[0], 0,
    d[3] * s[1], d[4] * s[1], d[5] * s[1], 0,
    d[6] * s[2], d[7] * s[2], d[8] * s[2], 0,
    o[0], o[1], o[2], 1,
  ] as unknown as Mat4ColMajor;
}

/** Builds a geometry from an index-to-LPS affine (column-major); spacing from column norms. */
export function geometryFromLpsAffine(dims: readonly [number, number, number], m: ArrayLike<number>): Geometry {
  const spacing: number[] = [];
  const dir: number[] = [];
  for (let c = 0; c < 3; c++) {
    const x = m[4 * c], y = m[1 + 4 * c], z = m[2 + 4 * c];
    const n = Math.hypot(x, y, z);
    spacing.push(n);
    dir.push(n > 0 ? x / n : c === 0 ? 1 : 0, n > 0 ? y / n : c === 1 ? 1 : 0, n > 0 ? z / n : c === 2 ? 1 : 0);
  }
  return {
    dims: [dims[0], dims[1], dims[2]],
    spacingMm: [spacing[0], spacing[1], spacing[2]],
    originLpsMm: [m[12], m[13], m[14]],
    direction: dir as unknown as Mat3ColMajor,
  };
}

/** Human-readable one-line description of a grid, for error messages. */
export function describeGrid(g: Geometry): string {
  const f = (v: readonly number[], p = 3) => v.map((x) => +x.toFixed(p)).join(',');
  return `${g.dims.join('x')} voxels, spacing ${f(g.spacingMm)} mm, origin ${f(g.originLpsMm, 2)} mm LPS, direction [${f(g.direction, 4)}]`;
}

/** True when two grids are the same within tolerances (positions to 1e-3 of a voxel, directions to 1e-5). */
export function sameGrid(a: Geometry, b: Geometry): boolean {
  for (let i = 0; i < 3; i++) {
    if (a.dims[i] !== b.dims[i]) return false;
    if (Math.abs(a.spacingMm[i] - b.spacingMm[i]) > 1e-4 * Math.max(a.spacingMm[i], 1)) return false;
    if (Math.abs(a.originLpsMm[i] - b.originLpsMm[i]) > 1e-3 * Math.min(a.spacingMm[0], a.spacingMm[1], a.spacingMm[2])) return false;
  }
  for (let i = 0; i < 9; i++) if (Math.abs(a.direction[i] - b.direction[i]) > 1e-5) return false;
  return true;
}

/** Throws a GridError naming both grids unless `a` and `b` share one. Call before any voxel-wise operation. */
export function assertSameGrid(a: Geometry, b: Geometry, aName = 'first volume', bName = 'second volume'): void {
  if (!sameGrid(a, b)) {
    throw new GridError(
      `${aName} and ${bName} are on different grids (${aName}: ${describeGrid(a)}; ${bName}: ${describeGrid(b)}); resample one onto the other first`,
    );
  }
}
