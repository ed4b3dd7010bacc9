/**
 * The one pair of RAS <-> LPS converters. NIfTI stores RAS+ world coordinates; everything inside is LPS.
 * Converting negates x and y of positions, and negates the first two rows of an affine. Never flip and transpose
 * in one step: permutations of index axes are handled by the geometry's direction matrix, not here.
 */
import type { Mat4ColMajor } from './geometry.ts';

/** RAS position [mm] -> LPS position [mm]. */
export function rasToLps(p: readonly number[]): [number, number, number] {
  return [-p[0], -p[1], p[2]];
}

/** LPS position [mm] -> RAS position [mm]. */
export function lpsToRas(p: readonly number[]): [number, number, number] {
  return [-p[0], -p[1], p[2]];
}

/** Index-to-RAS affine (column-major) -> index-to-LPS affine (column-major): rows 0 and 1 negated. */
export function rasAffineToLps(m: ArrayLike<number>): Mat4ColMajor {
  const out = Array.from(m as ArrayLike<number>);
  for (let c = 0; c < 4; c++) {
    out[4 * c] = -out[4 * c];
    out[1 + 4 * c] = -out[1 + 4 * c];
  }
  return out as unknown as Mat4ColMajor;
}

/** Index-to-LPS affine -> index-to-RAS affine (its own inverse operation). */
export function lpsAffineToRas(m: ArrayLike<number>): Mat4ColMajor {
  return rasAffineToLps(m);
}
