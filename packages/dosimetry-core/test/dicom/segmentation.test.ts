import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readDicomSegmentation } from '../../src/io/dicom/index.ts';
import { DicomDataset } from '../../src/io/dicom/parser.ts';
import { SOP_CLASS, TAG } from '../../src/io/dicom/tags.ts';
import { dataset, put, writePart10 } from '../../src/io/dicom/writer.ts';
import type { Geometry, Mat3ColMajor } from '../../src/volume/geometry.ts';
import { tempDir } from './helpers.ts';

const dir = tempDir('seg-');

function polygon(cx: number, cy: number, r: number, n: number, z: number, clockwise = false): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = ((clockwise ? -1 : 1) * 2 * Math.PI * i) / n;
    out.push(cx + r * Math.cos(t), cy + r * Math.sin(t), z);
  }
  return out;
}
/** Area of a regular n-gon of circumradius r [mm^2]: (n / 2) r^2 sin(2 pi / n). */
const ngonArea = (r: number, n: number) => (n / 2) * r * r * Math.sin((2 * Math.PI) / n);

function writeRtStruct(path: string, rois: Array<{ name: string; contours: number[][] }>): void {
  const ds = dataset([
    [TAG.SOPClassUID, SOP_CLASS.rtStruct],
    [TAG.SOPInstanceUID, '2.25.99'],
    [TAG.Modality, 'RTSTRUCT'],
  ]);
  put(ds, TAG.StructureSetROISequence, rois.map((r, i) => dataset([[TAG.ROINumber, String(i + 1)], [TAG.ROIName, r.name]])));
  put(
    ds,
    TAG.ROIContourSequence,
    rois.map((r, i) => {
      const item = dataset([[TAG.ReferencedROINumber, String(i + 1)], [TAG.ROIDisplayColor, ['255', '0', '0']]]);
      put(item, TAG.ContourSequence, r.contours.map((c) => dataset([[TAG.ContourGeometricType, 'CLOSED_PLANAR'], [TAG.NumberOfContourPoints, String(c.length / 3)], [TAG.ContourData, c]])));
      return item;
    }),
  );
  writeFileSync(path, writePart10(ds, { transferSyntaxUid: '1.2.840.10008.1.2' }));
}

const grid: Geometry = { dims: [40, 40, 9], spacingMm: [1, 1, 1], originLpsMm: [-19.5, -19.5, -2], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] };
const volumeMl = (occ: Uint8Array, voxelMm3: number) => (occ.reduce((s, v) => s + v, 0) / 255) * voxelMm3;

describe('RTSTRUCT rasterisation', () => {
  // Square of side 10.3 mm, off the voxel lattice, on 3 planes 2 mm apart (z = 0, 2, 4): each plane is a 2 mm slab.
  const sq = (z: number) => [-4.95, -5.45, z, 5.35, -5.45, z, 5.35, 4.85, z, -4.95, 4.85, z];
  // Ring: outer 64-gon r = 12, inner 64-gon r = 5 (a hole, drawn in the opposite sense); plus an island r = 2 at (14, 14).
  const ring = (z: number) => [polygon(0.3, -0.2, 12, 64, z), polygon(0.3, -0.2, 5, 64, z, true), polygon(15, 15, 2.5, 32, z)];
  const path = join(dir, 'rs.dcm');
  writeRtStruct(path, [
    { name: 'Square', contours: [0, 2, 4].map(sq) },
    { name: 'Ring with hole', contours: [0, 2, 4].flatMap(ring) },
  ]);

  it('gives the analytic area per slice and volume on a reference grid', async () => {
    const masks = await readDicomSegmentation(path, { referenceGrid: grid });
    expect(masks.map((m) => m.name)).toEqual(['Square', 'Ring with hole']);
    const areaSq = 10.3 * 10.3;
    const areaRing = ngonArea(12, 64) - ngonArea(5, 64) + ngonArea(2.5, 32);
    for (const [m, area] of [[masks[0], areaSq], [masks[1], areaRing]] as const) {
      const [nx, ny, nz] = grid.dims;
      // Slices at z = -2..6: the slabs [-1,1], [1,3], [3,5] cover z = -1..5 exactly, i.e. grid slices z = 0..4 fully
      // (z = -1 and 5 straddle the slab ends by half a voxel each).
      const expectFrac = [0, 0.5, 1, 1, 1, 1, 1, 0.5, 0];
      for (let k = 0; k < nz; k++) {
        const a = volumeMl(m.occupancy.subarray(k * nx * ny, (k + 1) * nx * ny), 1);
        // Tolerance 1% of the area: uint8 occupancy (1/510 per boundary voxel) and 8 scanlines per voxel row.
        expect(Math.abs(a - area * expectFrac[k]), `${m.name} slice ${k}`).toBeLessThanOrEqual(0.01 * area + 1e-9);
      }
      expect(Math.abs(volumeMl(m.occupancy, 1) - area * 6)).toBeLessThanOrEqual(0.01 * area * 6);
    }
    // The hole is empty and the ring's wall is full.
    const idx = (x: number, y: number, z: number) => Math.round(x + 19.5) + 40 * (Math.round(y + 19.5) + 40 * Math.round(z + 2));
    expect(masks[1].occupancy[idx(0.5, -0.5, 2)]).toBe(0);
    expect(masks[1].occupancy[idx(8.5, -0.5, 2)]).toBe(255);
    expect(masks[1].occupancy[idx(14.5, 14.5, 2)]).toBe(255);
  });

  it('derives a grid from the contours with the given spacing and keeps the volume', async () => {
    const masks = await readDicomSegmentation(path, { spacingMm: [0.5, 0.5, 2] });
    const g = masks[0].geometry;
    expect(g.spacingMm).toEqual([0.5, 0.5, 2]);
    expect(g.dims[2]).toBe(3);
    const area = 10.3 * 10.3;
    // Tolerance as above; the finer grid only makes it easier.
    expect(Math.abs(volumeMl(masks[0].occupancy, 0.5 * 0.5 * 2) - area * 6)).toBeLessThanOrEqual(0.01 * area * 6);
  });

  it('brings contours onto a grid tilted against the contour planes', async () => {
    const c = Math.cos(0.2), s = Math.sin(0.2);
    const tilted: Geometry = { dims: [30, 30, 20], spacingMm: [1.5, 1.5, 1.5], originLpsMm: [-22, -22, -10], direction: [1, 0, 0, 0, c, s, 0, -s, c] as unknown as Mat3ColMajor };
    const masks = await readDicomSegmentation(path, { referenceGrid: tilted });
    const area = 10.3 * 10.3;
    // Resampling through a 0.75 mm contour-aligned grid and 1.5 mm voxels: 3% of the volume.
    expect(Math.abs(volumeMl(masks[0].occupancy, 1.5 ** 3) - area * 6)).toBeLessThanOrEqual(0.03 * area * 6);
  });
});

describe('DICOM SEG', () => {
  function writeSeg(path: string, type: 'BINARY' | 'FRACTIONAL', frames: Array<{ seg: number; z: number; values: number[] }>): void {
    const ds = dataset([
      [TAG.SpecificCharacterSet, 'ISO_IR 192'],
      [TAG.SOPClassUID, SOP_CLASS.seg],
      [TAG.SOPInstanceUID, '2.25.98'],
      [TAG.Modality, 'SEG'],
      [TAG.SegmentationType, type],
      [TAG.Rows, 3],
      [TAG.Columns, 4],
      [TAG.NumberOfFrames, String(frames.length)],
      [TAG.BitsAllocated, type === 'BINARY' ? 1 : 8],
      [TAG.BitsStored, type === 'BINARY' ? 1 : 8],
      [TAG.HighBit, type === 'BINARY' ? 0 : 7],
      [TAG.PixelRepresentation, 0],
      [TAG.SamplesPerPixel, 1],
    ]);
    if (type === 'FRACTIONAL') put(ds, TAG.MaximumFractionalValue, 200);
    put(ds, TAG.SegmentSequence, [dataset([[TAG.SegmentNumber, 1], [TAG.SegmentLabel, 'Liver']]), dataset([[TAG.SegmentNumber, 2], [TAG.SegmentLabel, 'Tumör'], [TAG.RecommendedDisplayCIELabValue, [65535, 32896, 32896]]])]);
    // Rows along -y (column direction [0,-1,0]); pixel spacing 2 (rows) x 1.5 (columns).
    const shared = new DicomDataset();
    put(shared, TAG.PlaneOrientationSequence, [dataset([[TAG.ImageOrientationPatient, [1, 0, 0, 0, -1, 0]]])]);
    put(shared, TAG.PixelMeasuresSequence, [dataset([[TAG.PixelSpacing, [2, 1.5]], [TAG.SliceThickness, 3], [TAG.SpacingBetweenSlices, 3]])]);
    put(ds, TAG.SharedFunctionalGroupsSequence, [shared]);
    put(ds, TAG.PerFrameFunctionalGroupsSequence, frames.map((f) => {
      const fg = new DicomDataset();
      put(fg, TAG.PlanePositionSequence, [dataset([[TAG.ImagePositionPatient, [10, 20, f.z]]])]);
      put(fg, TAG.SegmentIdentificationSequence, [dataset([[TAG.ReferencedSegmentNumber, f.seg]])]);
      return fg;
    }));
    const n = 12;
    let pixels: Uint8Array;
    if (type === 'BINARY') {
      pixels = new Uint8Array(Math.ceil((n * frames.length) / 8) + 1);
      frames.forEach((f, k) => f.values.forEach((v, p) => { if (v) pixels[(k * n + p) >> 3] |= 1 << ((k * n + p) & 7); }));
      pixels = pixels.subarray(0, pixels.length - (pixels.length % 2));
    } else pixels = Uint8Array.from(frames.flatMap((f) => f.values));
    put(ds, TAG.PixelData, pixels, 'OB');
    writeFileSync(path, writePart10(ds));
  }
  const v = (f: (p: number) => number) => Array.from({ length: 12 }, (_, p) => f(p));

  it('reads BINARY segments (bit-packed across frames, frames out of order, a slice skipped) onto one grid', async () => {
    const path = join(dir, 'bin.dcm');
    // 12 pixels per frame is not a multiple of 8: frame 2 starts mid-byte.
    writeSeg(path, 'BINARY', [
      { seg: 2, z: 9, values: v((p) => (p === 5 ? 1 : 0)) },
      { seg: 1, z: 3, values: v((p) => (p % 2)) },
      { seg: 1, z: 9, values: v((p) => (p < 3 ? 1 : 0)) },
    ]);
    const masks = await readDicomSegmentation(path);
    expect(masks.map((m) => m.name)).toEqual(['Liver', 'Tumör']);
    const g = masks[0].geometry;
    expect(g.dims).toEqual([4, 3, 3]);
    expect(g.spacingMm).toEqual([1.5, 2, 3]);
    expect(g.originLpsMm).toEqual([10, 20, 9]);
    expect([...g.direction]).toEqual([1, 0, 0, 0, -1, 0, 0, 0, -1]);
    // Normal = row x column = (1,0,0) x (0,-1,0) = (0,0,-1): positions along it sort z = 9 first.
    const liver = masks[0].occupancy;
    expect([...liver.subarray(0, 12)]).toEqual(v((p) => (p < 3 ? 255 : 0)));
    expect([...liver.subarray(12, 24)]).toEqual(v(() => 0));
    expect([...liver.subarray(24, 36)]).toEqual(v((p) => (p % 2 ? 255 : 0)));
    expect(masks[1].occupancy.reduce((s, x) => s + x, 0)).toBe(255);
    expect(masks[1].occupancy[5]).toBe(255);
    // L = 100, a = b = 0 (DICOM scaled): white.
    for (const c of masks[1].colorRgb!) expect(c).toBeCloseTo(1, 2);
  });

  it('reads FRACTIONAL segments as fractions of the Maximum Fractional Value', async () => {
    const path = join(dir, 'frac.dcm');
    writeSeg(path, 'FRACTIONAL', [{ seg: 1, z: 0, values: v((p) => Math.round((p * 200) / 11)) }]);
    const [m] = await readDicomSegmentation(path);
    const stored = v((p) => Math.round((p * 200) / 11));
    expect([...m.occupancy]).toEqual(stored.map((s) => Math.round((255 * s) / 200)));
  });
});
