import { describe, expect, it } from 'vitest';
import { equivalentSphereDiameterMm, splitLesions } from '../../src/dose/lesions.ts';
import { indexToWorld, type Geometry } from '../../src/volume/geometry.ts';

describe('splitLesions', () => {
  const g: Geometry = { dims: [30, 20, 20], spacingMm: [1, 1, 2], originLpsMm: [10, 0, -5], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] };
  const occ = new Uint8Array(30 * 20 * 20);
  const set = (i: number, j: number, k: number, v = 255) => (occ[i + 30 * (j + 20 * k)] = v);
  // lesion 1: a 4x4x4 block; lesion 2: a 3x3x3 block; lesion 3: two voxels touching only at a corner (26-connected)
  for (let k = 2; k < 6; k++) for (let j = 2; j < 6; j++) for (let i = 2; i < 6; i++) set(i, j, k);
  for (let k = 10; k < 13; k++) for (let j = 10; j < 13; j++) for (let i = 20; i < 23; i++) set(i, j, k);
  set(25, 2, 15);
  set(26, 3, 16);
  // a 40 % partial voxel adjacent to lesion 2 joins it
  set(23, 11, 11, 102);

  const lesions = splitLesions({ name: 'Tumor', origin: 'test', geometry: g, occupancy: occ });

  it('finds 26-connected components, largest first', () => {
    expect(lesions.map((l) => l.mask.name)).toEqual(['Tumor #1', 'Tumor #2', 'Tumor #3']);
    const vVox = 2 / 1000;
    expect(lesions[0].volumeMl).toBeCloseTo(64 * vVox, 12);
    expect(lesions[1].volumeMl).toBeCloseTo((27 + 102 / 255) * vVox, 12);
    expect(lesions[2].volumeMl).toBeCloseTo(2 * vVox, 12);
  });

  it('crops each lesion to its bounding box in world space', () => {
    const l = lesions[1].mask;
    expect(l.geometry.dims).toEqual([4, 3, 3]);
    expect(l.geometry.originLpsMm).toEqual(indexToWorld(g, 20, 10, 10));
    let n = 0;
    for (const v of l.occupancy) n += v;
    expect(n).toBe(27 * 255 + 102);
  });

  it('equivalent sphere diameter: (6 V / pi)^(1/3)', () => {
    expect(equivalentSphereDiameterMm((4 / 3) * Math.PI * 10 ** 3 / 1000)).toBeCloseTo(20, 10);
  });
});
