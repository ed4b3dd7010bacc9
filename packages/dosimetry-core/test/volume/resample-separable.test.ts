/**
 * maskToGrid on grids with parallel axes sums its sub-samples axis by axis (sampleSeparable in resample.ts). This
 * checks it against the textbook definition, written here on its own: every sub-sample of every target voxel mapped
 * through world coordinates, rounded to the nearest mask voxel, occupancies summed. Integer sums, so the weights must
 * agree bit for bit, on masks with partial occupancies, flipped and permuted axes, odd spacings and a mask that
 * leaves the target's field of view.
 */
import { describe, expect, it } from 'vitest';
import { maskToGrid } from '../../src/volume/resample.ts';
import { type Geometry, indexToWorld } from '../../src/volume/geometry.ts';
import { indexMap } from '../../src/volume/index-map.ts';
import type { StructureMask } from '../../src/volume/structure.ts';

function lcg(seed: number) {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

/** A blobby mask: union of random balls, with partial occupancies (1..254) on a random part of its surface. */
function blobMask(g: Geometry, seed: number): StructureMask {
  const rnd = lcg(seed);
  const balls = Array.from({ length: 5 }, () => {
    const c = indexToWorld(g, (0.25 + 0.5 * rnd()) * g.dims[0], (0.25 + 0.5 * rnd()) * g.dims[1], (0.25 + 0.5 * rnd()) * g.dims[2]);
    return { c, r: 4 + rnd() * 10 };
  });
  const occ = new Uint8Array(g.dims[0] * g.dims[1] * g.dims[2]);
  const p = [0, 0, 0];
  let n = 0;
  for (let k = 0; k < g.dims[2]; k++) for (let j = 0; j < g.dims[1]; j++) for (let i = 0; i < g.dims[0]; i++, n++) {
    indexToWorld(g, i, j, k, p);
    for (const b of balls) {
      const d = Math.hypot(p[0] - b.c[0], p[1] - b.c[1], p[2] - b.c[2]);
      if (d <= b.r) occ[n] = d > b.r - 1 && rnd() < 0.5 ? 1 + Math.floor(rnd() * 254) : 255;
    }
  }
  return { name: 'blob', origin: 'test', geometry: g, occupancy: occ };
}

/**
 * The definition: for each target voxel, the mean occupancy at ns sub-samples per axis (nearest mask voxel), each
 * sub-sample taken through the full affine index map from target to mask indices. (Through world coordinates a
 * sub-sample lying exactly on a mask voxel face, as on grids whose faces align, may round the other way: a tie, not
 * an error; the resampler's claim is to equal sampling through its index map.)
 */
function bruteForce(mask: StructureMask, target: Geometry, ns: readonly [number, number, number]): Map<number, number> {
  const out = new Map<number, number>();
  const { a: A, b: B } = indexMap(target, mask.geometry);
  const [mx, my, mz] = mask.geometry.dims;
  const [tx, ty, tz] = target.dims;
  const offs = ns.map((n) => Array.from({ length: n }, (_v, s) => (s + 0.5) / n - 0.5));
  for (let k = 0; k < tz; k++) for (let j = 0; j < ty; j++) for (let i = 0; i < tx; i++) {
    let acc = 0;
    for (const c of offs[2]) for (const b of offs[1]) for (const a of offs[0]) {
      const ii = i + a, jj = j + b, kk = k + c;
      const q = [0, 1, 2].map((r) => A[3 * r] * ii + A[3 * r + 1] * jj + A[3 * r + 2] * kk + B[r]);
      const u = Math.round(q[0]), v = Math.round(q[1]), s = Math.round(q[2]);
      if (u >= 0 && v >= 0 && s >= 0 && u < mx && v < my && s < mz) acc += mask.occupancy[u + mx * (v + my * s)];
    }
    if (acc > 0) out.set(i + tx * (j + ty * k), Math.fround(acc / (255 * ns[0] * ns[1] * ns[2])));
  }
  return out;
}

describe('maskToGrid on parallel axes (axis-by-axis sums) = sampling every sub-sample', () => {
  const fine: Geometry = { dims: [64, 56, 40], spacingMm: [0.82, 0.82, 2.2], originLpsMm: [-26.1, -22.3, -40.7], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] };
  const targets: Record<string, Geometry> = {
    'same directions, PET-like 2.34 x 2.34 x 2.78 mm': { dims: [24, 22, 34], spacingMm: [2.34375, 2.34375, 2.78], originLpsMm: [-30.2, -25.9, -48.1], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] },
    'flipped and permuted axes, 3 x 4 x 5 mm': { dims: [20, 16, 14], spacingMm: [3, 4, 5], originLpsMm: [30, -25, 20], direction: [0, 0, -1, -1, 0, 0, 0, 1, 0] },
    'half the field of view (mask leaves the grid)': { dims: [10, 30, 12], spacingMm: [2.5, 2, 3.1], originLpsMm: [-5.3, -20.2, 10.9], direction: [1, 0, 0, 0, 1, 0, 0, 0, -1] },
    'coarser along one axis only, 1.64 x 0.82 x 4.4 mm (aligned voxel faces)': { dims: [32, 56, 20], spacingMm: [1.64, 0.82, 4.4], originLpsMm: [-25.69, -22.3, -39.6], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] },
  };
  for (const seed of [1, 2]) {
    const mask = blobMask(fine, seed);
    for (const [name, target] of Object.entries(targets)) {
      it(`${name} (mask ${seed})`, () => {
        const sub: [number, number, number] = [3, 4, 5];
        for (const options of [{ subsamples: sub }, { mode: 'nearest' as const }]) {
          const { structure, fractionOutsideFov } = maskToGrid(mask, target, options);
          const want = bruteForce(mask, target, options.mode === 'nearest' ? [1, 1, 1] : sub);
          expect(structure.voxelIndices.length).toBe(want.size);
          let worst = 0;
          for (let e = 0; e < structure.voxelIndices.length; e++) {
            const w = want.get(structure.voxelIndices[e]);
            expect(w, `voxel ${structure.voxelIndices[e]}`).toBeDefined();
            worst = Math.max(worst, Math.abs(structure.weights[e] - w!));
          }
          expect(worst).toBe(0);
          if (name.startsWith('half')) expect(fractionOutsideFov).toBeGreaterThan(0.05);
        }
      });
    }
  }
});
