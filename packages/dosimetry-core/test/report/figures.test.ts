/**
 * The report's figures: DVH plot scaling (axis ends, ticks, mapping to the plot box, clipping), centres of mass and
 * boxes in world coordinates, and the orientation of the slice images (a hot cube at a known LPS position must land
 * on the image side the radiological convention puts it on, on grids stored in different index orders).
 */
import { describe, expect, it } from 'vitest';
import {
  ABDOMEN_WINDOW, dvhDoseAxis, dvhPolyline, niceAxis, renderDoseSlice, sampleTrilinear, structureCentreLpsMm,
  structureDoseQuantileGy, structuresWorldBox, turbo,
} from '../../src/report/figures.ts';
import type { Geometry, Mat3ColMajor } from '../../src/volume/geometry.ts';
import type { GridStructure } from '../../src/volume/structure.ts';

describe('DVH plot scaling', () => {
  it.each([
    [410, 500, 100],
    [205, 250, 50],
    [300, 300, 100],
    [0.7, 0.8, 0.2],
    [1, 1, 0.2],
    [3432, 4000, 1000],
    [12.5, 12.5, 2.5],
    [13, 15, 5],
  ])('axis for a maximum of %s Gy ends at %s with steps of %s', (max, end, step) => {
    const a = niceAxis(max);
    expect(a.maxValue).toBeCloseTo(end, 12);
    expect(a.stepValue).toBeCloseTo(step, 12);
    expect(a.ticks[0]).toBe(0);
    expect(a.ticks[a.ticks.length - 1]).toBeCloseTo(end, 12);
    for (let i = 1; i < a.ticks.length; i++) expect(a.ticks[i] - a.ticks[i - 1]).toBeCloseTo(step, 9);
  });

  it('an empty or zero dose gives a unit axis', () => {
    expect(niceAxis(0).maxValue).toBe(1);
    expect(niceAxis(NaN).maxValue).toBe(1);
  });

  it('the dose axis ends at the highest dose still covering 0.1 % of a structure', () => {
    const a = { doseGy: [0, 100, 200, 300], volumeFraction: [1, 0.5, 0.0009, 0] }; // 200 Gy: under 0.1 %
    const b = { doseGy: [0, 50, 150, 260], volumeFraction: [1, 1, 0.2, 0] };
    expect(dvhDoseAxis([a]).maxValue).toBe(100);
    expect(dvhDoseAxis([a, b]).maxValue).toBe(150); // 150 Gy -> raw step 30 -> 50
    expect(dvhDoseAxis([a, b], 0).maxValue).toBe(300);
  });

  it('maps dose 0..max to the box width and 0..100 % to its height, cutting the curve at the right edge', () => {
    const box = { xPt: 10, yPt: 20, widthPt: 300, heightPt: 200 };
    const pts = dvhPolyline({ doseGy: [0, 50, 80, 120, 200], volumeFraction: [1, 0.5, 0.4, 0, 0] }, box, 100);
    expect(pts).toHaveLength(4);
    const want = [[10, 220], [160, 120], [250, 100], [310, 60]]; // last: f interpolated at 100 Gy = 0.4 - 0.4 * 20/40
    pts.forEach((p, i) => {
      expect(p[0]).toBeCloseTo(want[i][0], 10);
      expect(p[1]).toBeCloseTo(want[i][1], 10);
    });
    // fractions outside [0, 1] (rounding) are clamped to the box
    const c = dvhPolyline({ doseGy: [0, 10], volumeFraction: [1.0000001, -1e-9] }, box, 100);
    expect(c[0][1]).toBe(220);
    expect(c[1][1]).toBe(20);
  });
});

/** A 20^3 grid of 5 mm voxels covering LPS -50..50 mm on each axis, stored with the given index directions. */
function grid(flip: readonly [boolean, boolean, boolean]): Geometry {
  const direction = [flip[0] ? -1 : 1, 0, 0, 0, flip[1] ? -1 : 1, 0, 0, 0, flip[2] ? -1 : 1] as unknown as Mat3ColMajor;
  return { dims: [20, 20, 20], spacingMm: [5, 5, 5], originLpsMm: [flip[0] ? 47.5 : -47.5, flip[1] ? 47.5 : -47.5, flip[2] ? 47.5 : -47.5], direction };
}

/** LPS centre of voxel (i, j, k). */
function centre(g: Geometry, i: number, j: number, k: number): [number, number, number] {
  const d = g.direction;
  return [0, 1, 2].map((a) => g.originLpsMm[a] + d[a] * i * 5 + d[a + 3] * j * 5 + d[a + 6] * k * 5) as [number, number, number];
}

/**
 * Dose 100 Gy in the cube LPS x in [20, 30], y in [-30, -20], z in [20, 30] (patient's left, anterior, superior), 0
 * elsewhere; the same cube as a structure.
 */
function hotCube(g: Geometry): { dose: Float32Array; structure: GridStructure } {
  const dose = new Float32Array(8000);
  const idx: number[] = [];
  for (let k = 0; k < 20; k++) {
    for (let j = 0; j < 20; j++) {
      for (let i = 0; i < 20; i++) {
        const [x, y, z] = centre(g, i, j, k);
        if (x > 20 && x < 30 && y > -30 && y < -20 && z > 20 && z < 30) {
          dose[i + 20 * (j + 20 * k)] = 100;
          idx.push(i + 20 * (j + 20 * k));
        }
      }
    }
  }
  idx.sort((a, b) => a - b);
  return { dose, structure: { name: 'Cube', origin: 'test', voxelIndices: Uint32Array.from(idx), weights: new Float32Array(idx.length).fill(1) } };
}

describe('slice images', () => {
  for (const flip of [[false, false, false], [true, true, false], [true, false, true]] as const) {
    it(`a hot cube at the patient's left, anterior, superior lands right/top (axial) and right/top (coronal); index flips ${flip.join(',')}`, () => {
      const g = grid(flip);
      const { dose, structure } = hotCube(g);
      expect(structure.voxelIndices.length).toBe(8); // 2 x 2 x 2 voxels
      const c = structureCentreLpsMm(g, structure)!;
      [25, -25, 25].forEach((v, a) => expect(c[a]).toBeCloseTo(v, 9));
      const box = { lo: [-50, -50, -50] as const, hi: [50, 50, 50] as const };
      const ctGeom: Geometry = { dims: [10, 10, 10], spacingMm: [10, 10, 10], originLpsMm: [-45, -45, -45], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] };
      const ct = { geometry: ctGeom, data: new Int16Array(1000).fill(40) };
      const colour = [0.2, 0.9, 0.1] as const;
      for (const plane of ['axial', 'coronal'] as const) {
        const sl = renderDoseSlice({ plane, throughLpsMm: c, box, pixelMm: 1, dose: { geometry: g, data: dose }, ct, colorMaxGy: 100, thresholdGy: 5, outlines: [{ structure, rgb: colour }] });
        expect([sl.widthPx, sl.heightPx]).toEqual([100, 100]);
        expect(sl.planeMm).toBe(plane === 'axial' ? 25 : -25);
        const px = (x: number, y: number) => Array.from(sl.rgb.subarray(3 * (x + 100 * y), 3 * (x + 100 * y) + 3));
        // pixel (75, 25): LPS x = 25.5 (left: image right); axial row 25 -> y = -24.5 (anterior: top); coronal row
        // 25 -> z = 24.5 (superior: top). Inside the cube, away from its outline: the wash of 100 Gy over the CT.
        const grey = Math.round((255 * (40 - (ABDOMEN_WINDOW.centerHu - ABDOMEN_WINDOW.widthHu / 2))) / ABDOMEN_WINDOW.widthHu);
        const top = turbo(1).map((v) => Math.round(0.5 * grey + 0.5 * 255 * v));
        expect(px(75, 25)).toEqual(top);
        // mirror images of that point across either image axis: no dose, plain CT grey
        for (const [x, y] of [[25, 25], [75, 75], [25, 75]]) expect(px(x, y)).toEqual([grey, grey, grey]);
        // the cube's edge pixels (nearest voxel inside, a neighbour outside: u = 20.5 mm, row 20) carry the outline colour
        expect(px(70, 25)).toEqual(colour.map((v) => Math.round(255 * v)));
        expect(px(75, 20)).toEqual(colour.map((v) => Math.round(255 * v)));
        expect(sl.edges.left).toBe('R');
        expect(sl.edges.top).toBe(plane === 'axial' ? 'A' : 'S');
        expect(sl.maxDoseGy).toBe(100);
      }
    });
  }

  it('without a CT the dose is drawn opaque on white', () => {
    const g = grid([false, false, false]);
    const { dose, structure } = hotCube(g);
    const sl = renderDoseSlice({ plane: 'axial', throughLpsMm: [25, -25, 25], box: { lo: [-50, -50, -50], hi: [50, 50, 50] }, pixelMm: 2, dose: { geometry: g, data: dose }, colorMaxGy: 200, thresholdGy: 10 });
    const px = (x: number, y: number) => Array.from(sl.rgb.subarray(3 * (x + 50 * y), 3 * (x + 50 * y) + 3));
    expect(px(37, 12)).toEqual(turbo(0.5).map((v) => Math.round(255 * v)));
    expect(px(12, 12)).toEqual([255, 255, 255]);
    void structure;
  });

  it('trilinear sampling interpolates between voxel centres and is "outside" beyond the outer half voxel', () => {
    const g: Geometry = { dims: [2, 1, 1], spacingMm: [10, 10, 10], originLpsMm: [0, 0, 0], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] };
    const v = { geometry: g, data: new Float32Array([10, 30]) };
    expect(sampleTrilinear(v, 0, 0, 0, -1)).toBe(10);
    expect(sampleTrilinear(v, 2.5, 0, 0, -1)).toBe(15);
    expect(sampleTrilinear(v, 10, 0, 0, -1)).toBe(30);
    expect(sampleTrilinear(v, 14.9, 0, 0, -1)).toBe(30); // outer half voxel: edge value
    expect(sampleTrilinear(v, 15.1, 0, 0, -1)).toBe(-1);
    expect(sampleTrilinear(v, 0, 5.1, 0, -1)).toBe(-1);
  });

  it('the structures box is the voxels at least half inside, plus the margin, cut to the grid', () => {
    const g = grid([false, false, false]);
    const { structure } = hotCube(g);
    const half: GridStructure = { name: 'Half', origin: 'test', voxelIndices: Uint32Array.from([0, 1]), weights: Float32Array.from([0.4, 1]) };
    const box = structuresWorldBox(g, [structure], 7)!;
    expect(box.lo).toEqual([13, -37, 13]);
    expect(box.hi).toEqual([37, -13, 37]);
    const cut = structuresWorldBox(g, [half], 10)!; // voxel 1 only: x in [-45, -40] -> [-50 (grid edge), -30]
    expect(cut.lo).toEqual([-50, -50, -50]);
    expect(cut.hi).toEqual([-30, -35, -35]);
    expect(structuresWorldBox(g, [{ ...half, weights: Float32Array.from([0.1, 0.2]) }], 10)).toBeUndefined();
  });

  it('the colour scale quantile is taken over the structures\' voxels', () => {
    const g = grid([false, false, false]);
    const data = new Float32Array(8000);
    for (let n = 0; n < 100; n++) data[n] = n + 1; // 1..100 Gy
    const s: GridStructure = { name: 'S', origin: 'test', voxelIndices: Uint32Array.from({ length: 100 }, (_, n) => n), weights: new Float32Array(100).fill(1) };
    expect(structureDoseQuantileGy({ geometry: g, data }, [s], 0.99)).toBe(99);
    expect(structureDoseQuantileGy({ geometry: g, data }, [s], 1)).toBe(100);
    expect(structureDoseQuantileGy({ geometry: g, data }, [], 0.99)).toBe(0);
  });
});
