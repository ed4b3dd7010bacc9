/**
 * The real 3D Slicer sample files (../shared/data/sirt-samples): two .seg.nrrd segmentations and two activity
 * images. Every expectation comes from an independent decode written here (node:zlib instead of fflate, regex
 * header parsing, DataView values), never from numbers copied out of the files.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { readSegmentation, readVolume } from '../../src/io/index.ts';

const DATA = fileURLToPath(new URL('../../../../../shared/data/sirt-samples/', import.meta.url));
const present = existsSync(DATA);
if (!present) console.warn(`skipping real-data IO tests: ${DATA} is absent (shared data not checked out)`);

/** Independent NRRD decode: header lines by regex, gzip body by node:zlib. */
function independentDecode(file: string) {
  const buf = readFileSync(DATA + file);
  const split = buf.indexOf('\n\n');
  const header = buf.subarray(0, split).toString('latin1');
  const field = (k: string) => new RegExp(`^${k}: (.*)$`, 'm').exec(header)?.[1] ?? '';
  const body = gunzipSync(buf.subarray(split + 2));
  const sizes = field('sizes').split(' ').map(Number);
  const vectors = [...field('space directions').matchAll(/\(([^)]*)\)/g)].map((m) => m[1].split(',').map(Number));
  const origin = /\(([^)]*)\)/.exec(field('space origin'))![1].split(',').map(Number);
  return { header, field, body, sizes, vectors, origin };
}

describe.skipIf(!present)('real 3D Slicer segmentations', () => {
  it.each(['patient_1_Segmentation.seg.nrrd', 'patient_2_Segmentation.seg.nrrd'])('%s: names, layers, labels and voxel counts', async (file) => {
    const ref = independentDecode(file);
    expect(ref.field('space')).toBe('left-posterior-superior');
    expect(ref.field('kinds').split(' ')[0]).toBe('list'); // the layer axis is the fastest one in these files
    const [layers, nx, ny, nz] = ref.sizes;
    expect(layers).toBeGreaterThan(1);
    const segs: Array<{ name: string; layer: number; label: number; count: number }> = [];
    for (let s = 0; ; s++) {
      const get = (k: string) => new RegExp(`^Segment${s}_${k}:=(.*)$`, 'm').exec(ref.header)?.[1];
      const name = get('Name');
      if (name === undefined) break;
      segs.push({ name, layer: Number(get('Layer')), label: Number(get('LabelValue')), count: 0 });
    }
    expect(segs.length).toBeGreaterThan(1);
    // Count voxels per (layer, label) straight from the decompressed bytes.
    const counts = new Map<string, number>();
    for (let v = 0; v < nx * ny * nz; v++) {
      for (let l = 0; l < layers; l++) {
        const x = ref.body[v * layers + l];
        if (x) counts.set(`${l}/${x}`, (counts.get(`${l}/${x}`) ?? 0) + 1);
      }
    }
    const masks = await readSegmentation(DATA + file, {});
    expect(masks.map((m) => m.name)).toEqual(segs.map((s) => s.name));
    masks.forEach((m, i) => {
      const s = segs[i];
      expect(m.origin).toBe(`${file} layer ${s.layer} label ${s.label}`);
      expect(m.geometry.dims).toEqual([nx, ny, nz]);
      let n = 0;
      for (const x of m.occupancy) if (x === 255) n++;
      else if (x !== 0) throw new Error('occupancy must be 0 or 255');
      expect(n, `${s.name}`).toBe(counts.get(`${s.layer}/${s.label}`) ?? 0);
      expect(n).toBeGreaterThan(0);
      expect(m.colorRgb).toHaveLength(3);
    });
    const g = masks[0].geometry;
    ref.vectors.forEach((v, a) => expect(g.spacingMm[a]).toBeCloseTo(Math.hypot(...v), 12));
    ref.origin.forEach((o, a) => expect(g.originLpsMm[a]).toBe(o));
    // Different layers may overlap: at least one pair of segments in different layers shares voxels in these files.
    let overlapping = 0;
    for (let a = 0; a < masks.length; a++) {
      for (let b = a + 1; b < masks.length; b++) {
        if (segs[a].layer === segs[b].layer) continue;
        const A = masks[a].occupancy, B = masks[b].occupancy;
        for (let v = 0; v < A.length; v++) if (A[v] && B[v]) { overlapping++; break; }
      }
    }
    expect(overlapping).toBeGreaterThan(0);
  }, 60_000);
});

describe.skipIf(!present)('real activity images', () => {
  it.each([
    ['patient_1_Y90_PET.nrrd', 'double', 8],
    ['patient_2_SPECT.nrrd', 'short', 2],
  ] as const)('%s: dims, spacing, origin, direction sign and sum', async (file, type, bytes) => {
    const ref = independentDecode(file);
    expect(ref.field('type')).toBe(type);
    expect(ref.field('endian')).toBe('little');
    const vol = await readVolume(DATA + file);
    expect(vol.geometry.dims).toEqual(ref.sizes);
    ref.vectors.forEach((v, a) => {
      expect(vol.geometry.spacingMm[a]).toBeCloseTo(Math.hypot(...v), 12);
      for (let r = 0; r < 3; r++) expect(vol.geometry.direction[r + 3 * a]).toBeCloseTo(v[r] / Math.hypot(...v), 12);
    });
    ref.origin.forEach((o, a) => expect(vol.geometry.originLpsMm[a]).toBe(o));
    if (file.includes('SPECT')) {
      // The SPECT's slices run towards the feet: negative z direction, positive spacing.
      expect(ref.vectors[2][2]).toBeLessThan(0);
      expect(vol.geometry.direction[8]).toBe(-1);
      expect(vol.geometry.spacingMm[2]).toBeGreaterThan(0);
    }
    const dv = new DataView(ref.body.buffer, ref.body.byteOffset, ref.body.byteLength);
    let want = 0;
    for (let o = 0; o < ref.body.length; o += bytes) want += bytes === 8 ? dv.getFloat64(o, true) : dv.getInt16(o, true);
    let got = 0;
    for (let n = 0; n < vol.data.length; n++) got += vol.data[n];
    expect(vol.data.length * bytes).toBe(ref.body.length);
    expect(got).toBe(want); // same values summed in the same order: exact
    expect(want).toBeGreaterThan(0);
  }, 60_000);
});
