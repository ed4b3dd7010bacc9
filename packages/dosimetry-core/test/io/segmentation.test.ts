/**
 * Segmentations: .seg.nrrd writer -> reader (layers for overlapping structures), hand-written .seg.nrrd variants
 * (list axis last, old one-segment-per-layer files), and label maps in NIfTI, NRRD and MHA with and without a table.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GridError } from '../../src/errors.ts';
import { encodeSegNrrd, parseLabelTable, readSegmentation, writeMha, writeSegNrrd } from '../../src/io/index.ts';
import type { Geometry } from '../../src/volume/geometry.ts';
import { type StructureMask, maskExtent } from '../../src/volume/structure.ts';
import { maskToGrid } from '../../src/volume/resample.ts';
import { makeVolume } from '../../src/volume/volume.ts';
import { gz, niftiBytes, nrrdBytes, pack, tempDir } from './helpers.ts';

const dir = tempDir('seg');
const G: Geometry = { dims: [6, 5, 4], spacingMm: [0.8, 0.8, 2.5], originLpsMm: [-10, 20, -30], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] };
const N = 6 * 5 * 4;

/** A box mask [i0,i1) x [j0,j1) x [k0,k1). */
function box(name: string, lo: number[], hi: number[], colorRgb?: [number, number, number]): StructureMask {
  const occ = new Uint8Array(N);
  for (let k = lo[2]; k < hi[2]; k++) for (let j = lo[1]; j < hi[1]; j++) for (let i = lo[0]; i < hi[0]; i++) occ[i + 6 * (j + 5 * k)] = 255;
  return { name, origin: 'test', geometry: G, occupancy: occ, ...(colorRgb ? { colorRgb } : {}) };
}

describe('.seg.nrrd writer -> reader', () => {
  it('overlapping structures go to separate layers and read back identical', async () => {
    const liver = box('Liver', [0, 0, 0], [6, 5, 3], [0.9, 0.5, 0.4]);
    const tumour = box('Tumor A', [1, 1, 1], [3, 3, 2]); // inside the liver: needs a second layer
    const lung = box('Lung, left – Lunge (Flügel) 肺', [0, 0, 3], [6, 5, 4]); // disjoint from the liver: same layer, label 2
    const p = join(dir, 'three.seg.nrrd');
    writeSegNrrd(p, [liver, tumour, lung]);
    const text = readFileSync(p).subarray(0, 2000).toString('latin1');
    expect(text).toMatch(/^dimension: 4$/m);
    expect(text).toMatch(/^sizes: 2 6 5 4$/m);
    expect(text).toMatch(/^kinds: list domain domain domain$/m);
    expect(text).toMatch(/^Segment1_Layer:=1$/m);
    expect(text).toMatch(/^Segment2_LabelValue:=2$/m);
    expect(text).toMatch(/^Segment1_Extent:=1 2 1 2 1 1$/m);
    const back = await readSegmentation(p);
    expect(back.map((m) => m.name)).toEqual(['Liver', 'Tumor A', 'Lung, left – Lunge (Flügel) 肺']); // UTF-8 names
    expect(back.map((m) => m.origin)).toEqual([
      'three.seg.nrrd layer 0 label 1',
      'three.seg.nrrd layer 1 label 1',
      'three.seg.nrrd layer 0 label 2',
    ]);
    [liver, tumour, lung].forEach((m, i) => expect(back[i].occupancy).toEqual(m.occupancy));
    expect(back[0].colorRgb).toEqual([0.9, 0.5, 0.4]);
    expect(back[0].geometry).toEqual(G);
  });

  it('one layer is written 3-D; the output is deterministic', () => {
    const a = encodeSegNrrd([box('A', [0, 0, 0], [2, 2, 2]), box('B', [3, 3, 3], [5, 5, 4])]);
    const text = Buffer.from(a.subarray(0, 600)).toString('latin1');
    expect(text).toMatch(/^dimension: 3$/m);
    expect(text).toMatch(/^sizes: 6 5 4$/m);
    const b = encodeSegNrrd([box('A', [0, 0, 0], [2, 2, 2]), box('B', [3, 3, 3], [5, 5, 4])]);
    expect(Buffer.compare(Buffer.from(a), Buffer.from(b))).toBe(0);
  });

  it('explicit layers and label values are kept; overlap or a reused label within a layer is refused', async () => {
    const a = box('A', [0, 0, 0], [3, 5, 4]);
    const b = box('B', [3, 0, 0], [6, 5, 4]);
    const c = box('C', [2, 2, 2], [4, 4, 4]);
    const p = join(dir, 'explicit.seg.nrrd');
    writeSegNrrd(p, [{ mask: a, layer: 0, labelValue: 7 }, { mask: b, layer: 0, labelValue: 3 }, { mask: c, layer: 1, labelValue: 1 }]);
    const back = await readSegmentation(p);
    expect(back.map((m) => m.origin)).toEqual(['explicit.seg.nrrd layer 0 label 7', 'explicit.seg.nrrd layer 0 label 3', 'explicit.seg.nrrd layer 1 label 1']);
    [a, b, c].forEach((m, i) => expect(back[i].occupancy).toEqual(m.occupancy));
    expect(() => encodeSegNrrd([{ mask: a, layer: 0, labelValue: 1 }, { mask: c, layer: 0, labelValue: 2 }])).toThrow(/overlaps another structure in layer 0/);
    expect(() => encodeSegNrrd([{ mask: a, layer: 0, labelValue: 1 }, { mask: b, layer: 0, labelValue: 1 }])).toThrow(/label value 1 is already used/);
  });

  it('refuses masks on different grids, naming both', () => {
    const other = { ...box('B', [0, 0, 0], [1, 1, 1]), geometry: { ...G, spacingMm: [1, 1, 1] as const } };
    expect(() => encodeSegNrrd([box('A', [0, 0, 0], [1, 1, 1]), other])).toThrow(GridError);
  });
});

describe('hand-written .seg.nrrd variants', () => {
  it('list axis last (kinds domain domain domain list)', async () => {
    // layer 0: label 3 at i<2; layer 1: label 1 at k=0
    const vals: number[] = [];
    for (let l = 0; l < 2; l++) for (let k = 0; k < 4; k++) for (let j = 0; j < 5; j++) for (let i = 0; i < 6; i++) vals.push(l === 0 ? (i < 2 ? 3 : 0) : k === 0 ? 1 : 0);
    const p = join(dir, 'last.seg.nrrd');
    writeFileSync(
      p,
      nrrdBytes(
        [
          'type: unsigned char',
          'dimension: 4',
          'space: right-anterior-superior',
          'sizes: 6 5 4 2',
          'space directions: (-0.8,0,0) (0,-0.8,0) (0,0,2.5) none',
          'kinds: domain domain domain list',
          'encoding: gzip',
          'space origin: (10,-20,-30)',
          'Segment0_Name:=Left part',
          'Segment0_Layer:=0',
          'Segment0_LabelValue:=3',
          'Segment1_Name:=Bottom slice',
          'Segment1_Layer:=1',
          'Segment1_LabelValue:=1',
        ],
        gz(pack(vals, 'uint8')),
      ),
    );
    const m = await readSegmentation(p);
    expect(m.map((s) => s.name)).toEqual(['Left part', 'Bottom slice']);
    expect(m[0].geometry).toEqual(G); // RAS space converted: same grid as G in LPS
    expect(m[0].occupancy.reduce((a, x) => a + (x ? 1 : 0), 0)).toBe(2 * 5 * 4);
    expect(m[1].occupancy.reduce((a, x) => a + (x ? 1 : 0), 0)).toBe(6 * 5);
    expect(m[0].occupancy[1]).toBe(255);
    expect(m[0].occupancy[2]).toBe(0);
  });

  it('old files without Layer/LabelValue keys: one segment per layer, label 1', async () => {
    const vals: number[] = [];
    for (let v = 0; v < N; v++) vals.push(v % 3 === 0 ? 1 : 0, v < 10 ? 1 : 0);
    const p = join(dir, 'old.seg.nrrd');
    writeFileSync(
      p,
      nrrdBytes(
        ['type: uchar', 'dimension: 4', 'space: left-posterior-superior', 'sizes: 2 6 5 4', 'space directions: none (0.8,0,0) (0,0.8,0) (0,0,2.5)', 'kinds: list domain domain domain', 'encoding: raw', 'space origin: (-10,20,-30)', 'Segment0_Name:=Every third', 'Segment1_Name:=First ten'],
        pack(vals, 'uint8'),
      ),
    );
    const m = await readSegmentation(p);
    expect(m[0].occupancy.reduce((a, x) => a + (x ? 1 : 0), 0)).toBe(N / 3);
    expect(m[1].occupancy.reduce((a, x) => a + (x ? 1 : 0), 0)).toBe(10);
    expect(m[1].origin).toBe('old.seg.nrrd layer 1 label 1');
  });
});

describe('label maps', () => {
  const labels = Array.from({ length: N }, (_v, n) => (n < 10 ? 1 : n < 25 ? 2 : n % 7 === 0 ? 5 : 0));
  const count = (v: number) => labels.filter((x) => x === v).length;

  it('parses tables with spaces in names', () => {
    expect(parseLabelTable('1=Liver, 2=Tumor A ,5 = Lung left')).toEqual([
      { value: 1, name: 'Liver' },
      { value: 2, name: 'Tumor A' },
      { value: 5, name: 'Lung left' },
    ]);
  });

  const files: Array<[string, () => Promise<string> | string]> = [
    [
      'NIfTI float32',
      () => {
        const p = join(dir, 'labels.nii.gz');
        writeFileSync(p, gz(niftiBytes({ dims: [6, 5, 4], type: 'float32', pixdim: [1, 0.8, 0.8, 2.5], values: labels })));
        return p;
      },
    ],
    [
      'NRRD int16',
      () => {
        const p = join(dir, 'labels.nrrd');
        writeFileSync(p, nrrdBytes(['type: short', 'dimension: 3', 'sizes: 6 5 4', 'spacings: 0.8 0.8 2.5', 'endian: little', 'encoding: gzip'], gz(pack(labels, 'int16'))));
        return p;
      },
    ],
    [
      'MHA uint8',
      async () => {
        const p = join(dir, 'labels.mha');
        await writeMha(p, makeVolume(G, Uint8Array.from(labels)));
        return p;
      },
    ],
  ];

  it.each(files)('%s: with a table, names and counts (labels the table leaves out as "label N"); without, "label N" for every nonzero value', async (_n, make) => {
    const p = await make();
    const named = await readSegmentation(p, { labels: '5=Lung left,1=Liver' });
    // every label is reported (CONTRACT): label 2, not in the table, is kept as "label 2" rather than dropped silently
    expect(named.map((m) => m.name)).toEqual(['Lung left', 'Liver', 'label 2']);
    expect(named[2].occupancy.filter((x) => x === 255).length).toBe(count(2));
    expect(named[0].origin).toMatch(/ label 5$/);
    expect(named[0].occupancy.filter((x) => x === 255).length).toBe(count(5));
    expect(named[1].occupancy.filter((x) => x === 255).length).toBe(count(1));
    const all = await readSegmentation(p, {});
    expect(all.map((m) => m.name)).toEqual(['label 1', 'label 2', 'label 5']);
    expect(all.map((m) => m.occupancy.filter((x) => x === 255).length)).toEqual([count(1), count(2), count(5)]);
  });

  it.each(files)('%s: cropToExtent puts each named label on the crop that holds it, with the same voxels on the full grid', async (_n, make) => {
    const p = await make();
    const table = '5=Lung left,1=Liver';
    const full = await readSegmentation(p, { labels: table });
    const cropped = await readSegmentation(p, { labels: table, cropToExtent: true });
    expect(cropped.map((m) => m.name)).toEqual(full.map((m) => m.name));
    for (const [n, m] of cropped.entries()) {
      const ext = maskExtent(full[n])!;
      if (m.name === 'label 2') {
        expect(m.geometry).toEqual(full[n].geometry); // labels the table leaves out stay on the whole grid
        continue;
      }
      expect(m.geometry.dims).toEqual([0, 1, 2].map((a) => ext.hi[a] - ext.lo[a] + 1));
      expect(maskExtent(m)!.occupancySum).toBe(ext.occupancySum);
      const onFull = maskToGrid(full[n], full[n].geometry).structure;
      const fromCrop = maskToGrid(m, full[n].geometry).structure;
      expect(Array.from(fromCrop.voxelIndices)).toEqual(Array.from(onFull.voxelIndices));
      expect(Array.from(fromCrop.weights)).toEqual(Array.from(onFull.weights));
    }
  });
});

describe('.seg.nrrd from sparse grid structures (the dose command\'s writer)', () => {
  it('writes the same header and labels as the dense writer, leaving out structures with no voxel half inside', async () => {
    const { encodeGridStructuresSegNrrdAsync } = await import('../../src/io/index.ts');
    const { gunzipSync } = await import('node:zlib');
    const dense = [box('Liver', [0, 0, 0], [6, 5, 3], [0.9, 0.5, 0.4]), box('Tumor A', [1, 1, 1], [3, 3, 2]), box('Lung', [0, 0, 3], [6, 5, 4])];
    // the same structures held sparsely, with partial weights at the edges (>= 0.5 inside, < 0.5 outside)
    const sparse = dense.map((m, s) => {
      const idx: number[] = [];
      const w: number[] = [];
      for (let v = 0; v < N; v++) {
        if (m.occupancy[v]) {
          idx.push(v);
          w.push(v % 3 === 0 ? 0.5 : 1);
        } else if (v % 5 === s) {
          idx.push(v);
          w.push(0.49);
        }
      }
      const order = idx.map((_, q) => q).sort((a, b) => idx[a] - idx[b]);
      return { name: m.name, colorRgb: m.colorRgb, voxelIndices: Uint32Array.from(order.map((q) => idx[q])), weights: Float32Array.from(order.map((q) => w[q])) };
    });
    const empty = { name: 'Nothing', voxelIndices: Uint32Array.of(3, 9), weights: Float32Array.of(0.2, 0.4) };
    const a = encodeSegNrrd(dense);
    const b = (await encodeGridStructuresSegNrrdAsync(G, [...sparse, empty]))!;
    const split = (x: Uint8Array) => {
      const i = Buffer.from(x).indexOf('\n\n');
      return { head: Buffer.from(x.subarray(0, i)).toString('utf8'), body: gunzipSync(x.subarray(i + 2)) };
    };
    expect(split(b).head).toBe(split(a).head);
    expect(Buffer.compare(split(b).body, split(a).body)).toBe(0);
    expect(await encodeGridStructuresSegNrrdAsync(G, [empty])).toBeUndefined();
  });

  it('a body of several 1 MiB blocks, made block by block, is the dense writer\'s; indices out of order give the same file', async () => {
    const { encodeGridStructuresSegNrrdAsync } = await import('../../src/io/index.ts');
    const g: Geometry = { dims: [128, 96, 40], spacingMm: [1, 1, 2], originLpsMm: [0, 0, 0], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] };
    const n = 128 * 96 * 40;
    const ball = (name: string, c: number[], r: number): StructureMask => {
      const occ = new Uint8Array(n);
      for (let v = 0; v < n; v++) {
        const i = v % 128, j = Math.floor(v / 128) % 96, k = Math.floor(v / (128 * 96));
        if ((i - c[0]) ** 2 + (j - c[1]) ** 2 + (2 * (k - c[2])) ** 2 < r * r) occ[v] = 255;
      }
      return { name, origin: 'test', geometry: g, occupancy: occ };
    };
    // three overlapping structures: three layers, 1.5 MB of body
    const dense = [ball('Liver', [64, 48, 20], 45), ball('Tumor', [50, 40, 18], 12), ball('Whole', [60, 48, 20], 50)];
    const sparse = dense.map((m) => {
      const idx: number[] = [];
      m.occupancy.forEach((o, v) => o && idx.push(v));
      return { name: m.name, voxelIndices: Uint32Array.from(idx), weights: new Float32Array(idx.length).fill(1) };
    });
    const { gunzipSync } = await import('node:zlib');
    const split = (x: Uint8Array) => {
      const i = Buffer.from(x).indexOf('\n\n');
      return { head: Buffer.from(x.subarray(0, i)).toString('utf8'), body: gunzipSync(x.subarray(i + 2)) };
    };
    const want = split(encodeSegNrrd(dense));
    expect(want.body.length).toBe(3 * n);
    const got = (await encodeGridStructuresSegNrrdAsync(g, sparse))!;
    expect(split(got).head).toBe(want.head);
    expect(Buffer.compare(split(got).body, want.body)).toBe(0);
    // not ascending: the body is made whole (the other path), and the file is byte for byte the same
    const reversed = sparse.map((s) => ({ ...s, voxelIndices: s.voxelIndices.slice().reverse() }));
    expect(Buffer.compare(Buffer.from((await encodeGridStructuresSegNrrdAsync(g, reversed))!), Buffer.from(got))).toBe(0);
  });
});
