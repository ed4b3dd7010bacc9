/**
 * Mask extents and the derived masks of the pipeline (normal liver, whole liver), against plain full-grid loops.
 */
import { describe, expect, it } from 'vitest';
import { normalLiverMask, unionMask } from '../../src/dose/pipeline.ts';
import { labelMapToStructures } from '../../src/io/labels.ts';
import type { Geometry } from '../../src/volume/geometry.ts';
import { type StructureMask, maskExtent } from '../../src/volume/structure.ts';
import { makeVolume } from '../../src/volume/volume.ts';

const G: Geometry = { dims: [23, 17, 11], spacingMm: [1, 1.5, 2], originLpsMm: [0, 0, 0], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] };
const N = 23 * 17 * 11;

function randomMask(name: string, seed: number, box: [number[], number[]]): StructureMask {
  const occ = new Uint8Array(N);
  let s = seed;
  for (let k = box[0][2]; k <= box[1][2]; k++) for (let j = box[0][1]; j <= box[1][1]; j++) for (let i = box[0][0]; i <= box[1][0]; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    occ[i + 23 * (j + 17 * k)] = s % 4 === 0 ? 0 : (s >>> 9) % 256;
  }
  return { name, origin: 'test', geometry: G, occupancy: occ };
}

/** Extent by the definition: a loop over every voxel. */
function naiveExtent(occ: Uint8Array) {
  const lo = [Infinity, Infinity, Infinity], hi = [-1, -1, -1];
  let sum = 0;
  for (let v = 0; v < N; v++) {
    if (!occ[v]) continue;
    const p = [v % 23, Math.floor(v / 23) % 17, Math.floor(v / (23 * 17))];
    for (let a = 0; a < 3; a++) {
      lo[a] = Math.min(lo[a], p[a]);
      hi[a] = Math.max(hi[a], p[a]);
    }
    sum += occ[v];
  }
  return sum ? { lo, hi, occupancySum: sum } : undefined;
}

describe('mask extents', () => {
  const liver = randomMask('Liver', 1, [[2, 1, 1], [20, 15, 9]]);
  const t1 = randomMask('T1', 2, [[15, 10, 6], [22, 16, 10]]); // partly outside the liver's box
  const t2 = randomMask('T2', 3, [[4, 3, 2], [7, 6, 4]]);

  it('maskExtent matches a full-grid loop, and an empty mask has none', () => {
    for (const m of [liver, t1, t2]) expect(maskExtent(m)).toEqual(naiveExtent(m.occupancy));
    expect(maskExtent({ ...liver, occupancy: new Uint8Array(N) })).toBeUndefined();
  });

  it('normal liver = max(0, liver - sum of tumours), with the right extent', () => {
    const nl = normalLiverMask(liver, [t1, t2]);
    for (let v = 0; v < N; v++) expect(nl.occupancy[v]).toBe(Math.max(0, liver.occupancy[v] - t1.occupancy[v] - t2.occupancy[v]));
    expect(maskExtent(nl)).toEqual(naiveExtent(nl.occupancy));
  });

  it('whole liver = per-voxel maximum, with the right extent', () => {
    const u = unionMask('Whole liver', liver, [t1, t2]);
    for (let v = 0; v < N; v++) expect(u.occupancy[v]).toBe(Math.max(liver.occupancy[v], t1.occupancy[v], t2.occupancy[v]));
    const e = maskExtent(u)!;
    const want = naiveExtent(u.occupancy)!;
    // the remembered box is the union of the parts' boxes (it may be larger than the tight box, never smaller)
    for (let a = 0; a < 3; a++) {
      expect(e.lo[a]).toBeLessThanOrEqual(want.lo[a]);
      expect(e.hi[a]).toBeGreaterThanOrEqual(want.hi[a]);
    }
    expect(e.occupancySum).toBe(want.occupancySum);
  });

  it('label maps hand over their masks with their extents', () => {
    const lab = new Uint16Array(N);
    for (let v = 0; v < N; v++) lab[v] = t2.occupancy[v] > 200 ? 7 : liver.occupancy[v] > 128 ? 1 : 0;
    const masks = labelMapToStructures(makeVolume(G, lab), { sourceName: 'labels', labels: '1=Liver,7=Tumour' });
    for (const m of masks) expect(maskExtent(m)).toEqual(naiveExtent(m.occupancy));
  });
});
