import { describe, expect, it } from 'vitest';
import { maskToGrid, resampleLinear } from '../../src/volume/resample.ts';
import { indexToWorld, type Geometry } from '../../src/volume/geometry.ts';
import type { StructureMask } from '../../src/volume/structure.ts';
import { GridError } from '../../src/errors.ts';

function sphereMask(g: Geometry, c: number[], rMm: number): StructureMask {
  const occ = new Uint8Array(g.dims[0] * g.dims[1] * g.dims[2]);
  const p = [0, 0, 0];
  let n = 0;
  for (let k = 0; k < g.dims[2]; k++) for (let j = 0; j < g.dims[1]; j++) for (let i = 0; i < g.dims[0]; i++, n++) {
    indexToWorld(g, i, j, k, p);
    if (Math.hypot(p[0] - c[0], p[1] - c[1], p[2] - c[2]) <= rMm) occ[n] = 255;
  }
  return { name: 'sphere', origin: 'test', geometry: g, occupancy: occ };
}

describe('maskToGrid', () => {
  // A fine (0.5 mm) sphere mask brought onto a coarse, flipped and permuted 4 x 3 x 5 mm grid.
  const fine: Geometry = { dims: [100, 100, 100], spacingMm: [0.5, 0.5, 0.5], originLpsMm: [-25, -25, -25], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] };
  const coarse: Geometry = { dims: [12, 16, 18], spacingMm: [5, 4, 3], originLpsMm: [30, -25, 20], direction: [0, 0, -1, -1, 0, 0, 0, 1, 0] };
  const rMm = 18;
  const mask = sphereMask(fine, [1.3, -2.1, 0.7], rMm);

  it('fractional occupancy preserves the volume (partial-volume weights)', () => {
    const { structure, fractionOutsideFov } = maskToGrid(mask, coarse);
    const vVox = (5 * 4 * 3) / 1000;
    let vol = 0;
    for (const w of structure.weights) vol += w * vVox;
    const maskVol = (Array.from(mask.occupancy).filter((x) => x).length * 0.125) / 1000;
    // Sub-sampling at <= half the mask spacing: volume within 1 % of the mask's own volume.
    expect(Math.abs(vol / maskVol - 1)).toBeLessThan(0.01);
    // and the mask's volume is the sphere's within its own voxelisation error (~1 %)
    expect(Math.abs(maskVol / ((4 / 3) * Math.PI * rMm ** 3 / 1000) - 1)).toBeLessThan(0.01);
    expect(fractionOutsideFov).toBe(0);
    // indices ascending and weights in (0, 1]
    for (let n = 1; n < structure.voxelIndices.length; n++) expect(structure.voxelIndices[n]).toBeGreaterThan(structure.voxelIndices[n - 1]);
    expect(Math.max(...structure.weights)).toBeLessThanOrEqual(1);
    expect(Math.min(...structure.weights)).toBeGreaterThan(0);
  });

  it('nearest mode gives weights 0/1 and a volume close to the sphere', () => {
    const { structure } = maskToGrid(mask, coarse, { mode: 'nearest' });
    expect(new Set(structure.weights)).toEqual(new Set([1]));
    const vol = (structure.weights.length * 0.06);
    expect(Math.abs(vol / ((4 / 3) * Math.PI * rMm ** 3 / 1000) - 1)).toBeLessThan(0.1);
  });

  it('a mask outside the field of view is an error naming it', () => {
    const far: Geometry = { ...coarse, originLpsMm: [500, 500, 500] };
    expect(() => maskToGrid(mask, far)).toThrow(GridError);
    expect(() => maskToGrid(mask, far)).toThrow(/"sphere".*outside the activity image's field of view/);
  });

  it('reports the fraction of a mask outside the field of view', () => {
    // target grid covering only x >= 1.3 mm (half the sphere)
    const half: Geometry = { dims: [20, 40, 40], spacingMm: [1, 1, 1], originLpsMm: [1.8, -22, -22], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] };
    const r = maskToGrid(mask, half);
    expect(r.fractionOutsideFov).toBeGreaterThan(0.45);
    expect(r.fractionOutsideFov).toBeLessThan(0.55);
  });
});

describe('maskToGrid on voxel-aligned grids (crop, permuted and flipped axes)', () => {
  // Target: the coarse oblique grid; mask: a crop of it whose axes are the target's (k, -i, -j), partly outside the
  // target's field of view, with fractional occupancies. Mask index along axis r = sign[r] * t[axis[r]] + offset[r].
  const target: Geometry = { dims: [12, 16, 18], spacingMm: [5, 4, 3], originLpsMm: [30, -25, 20], direction: [0, 0, -1, -1, 0, 0, 0, 1, 0] };
  const axis = [2, 0, 1];
  const sign = [1, -1, -1];
  const offset = [-3, 9, 12];
  const dims: [number, number, number] = [17, 14, 11];
  const t0 = [0, 0, 0];
  for (let r = 0; r < 3; r++) t0[axis[r]] = -sign[r] * offset[r];
  const origin = indexToWorld(target, t0[0], t0[1], t0[2]);
  const direction: number[] = [];
  for (let r = 0; r < 3; r++) for (let q = 0; q < 3; q++) direction.push(sign[r] * target.direction[3 * axis[r] + q]);
  const geometry: Geometry = {
    dims,
    spacingMm: [target.spacingMm[axis[0]], target.spacingMm[axis[1]], target.spacingMm[axis[2]]],
    originLpsMm: [origin[0], origin[1], origin[2]],
    direction: direction as unknown as Geometry['direction'],
  };
  const occ = new Uint8Array(dims[0] * dims[1] * dims[2]);
  let seed = 12345;
  for (let n = 0; n < occ.length; n++) {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    occ[n] = seed % 3 === 0 ? 0 : (seed >>> 8) % 256;
  }
  const mask: StructureMask = { name: 'aligned', origin: 'test', geometry, occupancy: occ };

  it('gives each target voxel the occupancy of the one mask voxel it is', () => {
    const { structure, fractionOutsideFov } = maskToGrid(mask, target);
    const want = new Map<number, number>();
    const [tx, ty, tz] = target.dims;
    for (let k = 0; k < tz; k++) for (let j = 0; j < ty; j++) for (let i = 0; i < tx; i++) {
      const t = [i, j, k];
      const m = [0, 1, 2].map((r) => sign[r] * t[axis[r]] + offset[r]);
      if (m.some((v, r) => v < 0 || v >= dims[r])) continue;
      const o = occ[m[0] + dims[0] * (m[1] + dims[1] * m[2])];
      if (o) want.set(i + tx * (j + ty * k), o / 255);
    }
    expect(structure.voxelIndices.length).toBe(want.size);
    for (let n = 0; n < structure.voxelIndices.length; n++) {
      if (n) expect(structure.voxelIndices[n]).toBeGreaterThan(structure.voxelIndices[n - 1]);
      expect(structure.weights[n]).toBe(Math.fround(want.get(structure.voxelIndices[n])!));
    }
    expect(fractionOutsideFov).toBeGreaterThan(0.05); // the crop sticks out of the target on two axes
  });

  it('agrees exactly with sub-sampling (a 1/100-voxel shift takes the general path)', () => {
    const fast = maskToGrid(mask, target).structure;
    const shifted: StructureMask = {
      ...mask,
      geometry: { ...geometry, originLpsMm: [origin[0] + 0.01 * 3 * target.direction[6], origin[1] + 0.01 * 3 * target.direction[7], origin[2] + 0.01 * 3 * target.direction[8]] },
    };
    const slow = maskToGrid(shifted, target).structure;
    expect(Array.from(fast.voxelIndices)).toEqual(Array.from(slow.voxelIndices));
    expect(Array.from(fast.weights)).toEqual(Array.from(slow.weights));
  });
});

describe('resampleLinear', () => {
  it('reproduces a linear function of world position on another grid', () => {
    const src: Geometry = { dims: [20, 20, 20], spacingMm: [2, 2, 2], originLpsMm: [-19, -19, -19], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] };
    const f = (x: number, y: number, z: number) => 3 * x - 2 * y + z + 7;
    const data = new Float32Array(8000);
    const p = [0, 0, 0];
    let n = 0;
    for (let k = 0; k < 20; k++) for (let j = 0; j < 20; j++) for (let i = 0; i < 20; i++, n++) {
      indexToWorld(src, i, j, k, p);
      data[n] = f(p[0], p[1], p[2]);
    }
    const dst: Geometry = { dims: [7, 9, 11], spacingMm: [3.3, 2.7, 1.9], originLpsMm: [9, -10, 8], direction: [-1, 0, 0, 0, 0, -1, 0, 1, 0] };
    const out = resampleLinear({ geometry: src, data }, dst, -1000);
    n = 0;
    for (let k = 0; k < 11; k++) for (let j = 0; j < 9; j++) for (let i = 0; i < 7; i++, n++) {
      indexToWorld(dst, i, j, k, p);
      expect(out[n]).toBeCloseTo(f(p[0], p[1], p[2]), 3);
    }
  });
});

describe('binary masks on their own grid share one buffer of unit weights', () => {
  const g: Geometry = { dims: [6, 5, 4], spacingMm: [1, 1, 1], originLpsMm: [0, 0, 0], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] };
  const mask = (name: string, on: (i: number, j: number, k: number) => number): StructureMask => {
    const occupancy = new Uint8Array(120);
    for (let k = 0; k < 4; k++) for (let j = 0; j < 5; j++) for (let i = 0; i < 6; i++) occupancy[i + 6 * (j + 5 * k)] = on(i, j, k);
    return { name, origin: 'test', geometry: g, occupancy };
  };
  it('weights of 1 as views of one shared array (largest first), partial masks their own weights', () => {
    const big = maskToGrid(mask('big', (i) => (i < 5 ? 255 : 0)), g).structure;
    const small = maskToGrid(mask('small', (i, j) => (i < 2 && j < 2 ? 255 : 0)), g).structure;
    const partial = maskToGrid(mask('partial', (i) => (i === 0 ? 128 : 0)), g).structure;
    expect(big.voxelIndices.length).toBe(100);
    expect(Array.from(big.weights).every((w) => w === 1)).toBe(true);
    expect(Array.from(small.weights)).toEqual(new Array(16).fill(1));
    expect(small.weights.buffer).toBe(big.weights.buffer); // shared
    expect(partial.weights.buffer).not.toBe(big.weights.buffer);
    expect(partial.weights[0]).toBeCloseTo(128 / 255, 7);
  });
});
