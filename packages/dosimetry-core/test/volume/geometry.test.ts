import { describe, expect, it } from 'vitest';
import {
  assertSameGrid, geometryFromLpsAffine, indexToLpsAffine, indexToWorld, worldToIndex, validateGeometry, type Geometry,
} from '../../src/volume/geometry.ts';
import { lpsAffineToRas, lpsToRas, rasAffineToLps, rasToLps } from '../../src/volume/orientation.ts';
import { GridError, InputError } from '../../src/errors.ts';

const oblique: Geometry = {
  dims: [5, 6, 7],
  spacingMm: [1.5, 2, 3.25],
  originLpsMm: [-10, 20, 5],
  // permuted and flipped axes: i -> -y, j -> z, k -> x
  direction: [0, -1, 0, 0, 0, 1, 1, 0, 0],
};

describe('geometry', () => {
  it('maps index to world and back (permuted, flipped, anisotropic)', () => {
    for (const [i, j, k] of [[0, 0, 0], [4, 5, 6], [1.25, 2.5, 3.75]]) {
      const w = indexToWorld(oblique, i, j, k);
      const back = worldToIndex(oblique, w[0], w[1], w[2]);
      expect(back[0]).toBeCloseTo(i, 12);
      expect(back[1]).toBeCloseTo(j, 12);
      expect(back[2]).toBeCloseTo(k, 12);
    }
    // i runs along -y with 1.5 mm steps
    expect(indexToWorld(oblique, 1, 0, 0)).toEqual([-10, 18.5, 5]);
    // k runs along +x with 3.25 mm steps
    expect(indexToWorld(oblique, 0, 0, 2)).toEqual([-3.5, 20, 5]);
  });

  it('column-major affine: translation in elements 12..14, columns are scaled directions', () => {
    const m = indexToLpsAffine(oblique);
    expect([m[12], m[13], m[14], m[15]]).toEqual([-10, 20, 5, 1]);
    expect([m[0], m[1], m[2]]).toEqual([0, -1.5, 0]);
    expect([m[8], m[9], m[10]]).toEqual([3.25, 0, 0]);
    const g = geometryFromLpsAffine(oblique.dims, m);
    expect(g.spacingMm).toEqual(oblique.spacingMm);
    expect(g.direction).toEqual(oblique.direction.map((x) => x + 0));
  });

  it('RAS <-> LPS: positions and affines round trip, and negate x and y only', () => {
    expect(rasToLps([1, 2, 3])).toEqual([-1, -2, 3]);
    expect(lpsToRas(rasToLps([1.5, -2, 3]))).toEqual([1.5, -2, 3]);
    const m = indexToLpsAffine(oblique);
    const ras = lpsAffineToRas(m);
    expect(ras[12]).toBe(10);
    expect(ras[13]).toBe(-20);
    expect(ras[14]).toBe(5);
    expect(Array.from(rasAffineToLps(ras))).toEqual(Array.from(m).map((x) => x + 0));
  });

  it('refuses zero or negative spacing and sheared directions', () => {
    expect(() => validateGeometry({ ...oblique, spacingMm: [1, 0, 1] })).toThrow(InputError);
    expect(() => validateGeometry({ ...oblique, spacingMm: [1, -2, 1] })).toThrow(/positive/);
    expect(() => validateGeometry({ ...oblique, direction: [1, 0, 0, 0.5, 1, 0, 0, 0, 1] })).toThrow(/orthonormal/);
  });

  it('assertSameGrid names both grids', () => {
    expect(() => assertSameGrid(oblique, oblique)).not.toThrow();
    const other = { ...oblique, originLpsMm: [-10, 20, 6] as const };
    expect(() => assertSameGrid(oblique, other, 'activity', 'CT')).toThrow(GridError);
    expect(() => assertSameGrid(oblique, other, 'activity', 'CT')).toThrow(/activity: 5x6x7.*CT: 5x6x7/);
  });
});
