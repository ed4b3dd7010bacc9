/**
 * The report's figures as data: the DVH plot's scales and polylines (drawn as vectors by pdf.ts) and the dose-on-CT
 * slice images (rasters, embedded as PNG). Everything here is plain geometry and colour, without pdf-lib, so that
 * the scaling and the slice sampling can be tested on their own.
 *
 * Slices are cut through world (LPS mm) planes and shown in the radiological convention used by the viewer and by
 * DICOM viewers: axial with the patient's right on the image's left and anterior at the top, coronal with the
 * patient's right on the left and superior at the top.
 */
import { indexToWorld, worldToIndex, type Geometry } from '../volume/geometry.ts';
import { sampleTrilinear } from '../volume/resample.ts';
import type { GridStructure } from '../volume/structure.ts';
import type { Volume, VoxelArray } from '../volume/volume.ts';

// ---------------------------------------------------------------------------------------------------------------
// Colours

const TURBO_RED = [0.13572138, 4.6153926, -42.66032258, 132.13108234, -152.94239396, 59.28637943];
const TURBO_GREEN = [0.09140261, 2.19418839, 4.84296658, -14.18503333, 4.27729857, 2.82956604];
const TURBO_BLUE = [0.1066733, 12.64194608, -60.58204836, 110.36276771, -89.90310912, 27.34824973];
const poly5 = (c: number[], x: number) => c[0] + x * (c[1] + x * (c[2] + x * (c[3] + x * (c[4] + x * c[5]))));

/**
 * Turbo colour of t in [0, 1] (clamped), RGB 0..1: the polynomial approximation of Turbo (A. Mikhailov, Google AI
 * Blog 2019, "Turbo, An Improved Rainbow Colormap for Visualization"), the colormap of the viewer's dose wash.
 */
export function turbo(t: number): [number, number, number] {
  return turboInto(t, [0, 0, 0]) as [number, number, number];
}

/** {@link turbo} written into `out` (no allocation, for per-pixel use). */
function turboInto(t: number, out: number[]): number[] {
  const x = Math.min(1, Math.max(0, t));
  out[0] = Math.min(1, Math.max(0, poly5(TURBO_RED, x)));
  out[1] = Math.min(1, Math.max(0, poly5(TURBO_GREEN, x)));
  out[2] = Math.min(1, Math.max(0, poly5(TURBO_BLUE, x)));
  return out;
}

/**
 * Structure colours (RGB 0..1) of the DVH curves and slice outlines, by the structure's position in the report:
 * the "tab10" palette (matplotlib, after Tableau), distinct on screen and in print; after ten the cycle repeats
 * with dashed curves ({@link structureDash}).
 */
export const STRUCTURE_PALETTE: ReadonlyArray<readonly [number, number, number]> = [
  [0.122, 0.467, 0.706], [0.839, 0.153, 0.157], [0.173, 0.627, 0.173], [1.0, 0.498, 0.055], [0.58, 0.404, 0.741],
  [0.549, 0.337, 0.294], [0.89, 0.467, 0.761], [0.498, 0.498, 0.498], [0.737, 0.741, 0.133], [0.09, 0.745, 0.812],
];

/** Colour of the structure at `index` in the report. */
export function structureColor(index: number): readonly [number, number, number] {
  return STRUCTURE_PALETTE[index % STRUCTURE_PALETTE.length];
}

/** Dash pattern [pt] of the DVH curve of the structure at `index`: solid for the first ten, then dashed, dotted. */
export function structureDash(index: number): number[] | undefined {
  const cycle = Math.floor(index / STRUCTURE_PALETTE.length) % 3;
  return cycle === 0 ? undefined : cycle === 1 ? [4, 2] : [1, 1.5];
}

// ---------------------------------------------------------------------------------------------------------------
// Axis scales

/**
 * Round-number axis from 0: the smallest "nice" maximum (1, 2, 2.5 or 5 times a power of ten, times a whole
 * number of steps) at or above `maxValue`, with its ticks from 0. `maxValue` <= 0 or not finite gives [0, 1].
 */
export function niceAxis(maxValue: number, targetTicks = 6): { maxValue: number; stepValue: number; ticks: number[] } {
  if (!(maxValue > 0) || !Number.isFinite(maxValue)) return { maxValue: 1, stepValue: 0.2, ticks: [0, 0.2, 0.4, 0.6, 0.8, 1] };
  const raw = maxValue / Math.max(1, targetTicks - 1);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const stepValue = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw * (1 - 1e-12)) ?? 10 * mag;
  const n = Math.max(1, Math.ceil(maxValue / stepValue - 1e-9));
  const ticks: number[] = [];
  for (let i = 0; i <= n; i++) ticks.push(Number((i * stepValue).toPrecision(12)));
  return { maxValue: ticks[n], stepValue, ticks };
}

/** A cumulative DVH as report.json holds it: dose [Gy] and the fraction of the volume receiving at least it. */
export interface DvhCurve {
  readonly doseGy: readonly number[];
  readonly volumeFraction: readonly number[];
}

/**
 * The dose axis maximum of a DVH plot [Gy]: the highest dose at which any curve still covers `minFraction` of its
 * structure (default 0.1 %), so that one hot voxel does not squeeze the plot, rounded up by {@link niceAxis}. The
 * curves are clipped there (their maxima are in the structure table).
 */
export function dvhDoseAxis(curves: readonly DvhCurve[], minFraction = 0.001): ReturnType<typeof niceAxis> {
  let top = 0;
  for (const c of curves) {
    for (let i = 0; i < c.doseGy.length; i++) if (c.volumeFraction[i] >= minFraction && c.doseGy[i] > top) top = c.doseGy[i];
  }
  return niceAxis(top);
}

/** A plot box on the page [pt], origin bottom-left as in PDF. */
export interface PlotBox {
  readonly xPt: number;
  readonly yPt: number;
  readonly widthPt: number;
  readonly heightPt: number;
}

/**
 * Page coordinates [pt] of a DVH curve in a plot box: dose 0..`maxDoseGy` left to right, volume 0..100 % bottom
 * to top. Points beyond `maxDoseGy` are cut at the box edge (the curve interpolated linearly there); fractions are
 * clamped to [0, 1].
 */
export function dvhPolyline(curve: DvhCurve, box: PlotBox, maxDoseGy: number): Array<[number, number]> {
  const x = (d: number) => box.xPt + (d / maxDoseGy) * box.widthPt;
  const y = (f: number) => box.yPt + Math.min(1, Math.max(0, f)) * box.heightPt;
  const pts: Array<[number, number]> = [];
  const n = Math.min(curve.doseGy.length, curve.volumeFraction.length);
  for (let i = 0; i < n; i++) {
    const d = curve.doseGy[i];
    const f = curve.volumeFraction[i];
    if (!Number.isFinite(d) || !Number.isFinite(f)) continue;
    if (d <= maxDoseGy) {
      pts.push([x(Math.max(0, d)), y(f)]);
      continue;
    }
    if (i > 0 && curve.doseGy[i - 1] < maxDoseGy) {
      const d0 = curve.doseGy[i - 1];
      const f0 = curve.volumeFraction[i - 1];
      pts.push([x(maxDoseGy), y(f0 + ((f - f0) * (maxDoseGy - d0)) / (d - d0))]);
    }
    break;
  }
  return pts;
}

// ---------------------------------------------------------------------------------------------------------------
// Slices

/** An axis-aligned box in world coordinates (LPS mm). */
export interface WorldBox {
  readonly lo: readonly [number, number, number];
  readonly hi: readonly [number, number, number];
}

/** World bounding box of a grid's voxels (their outer faces). */
export function gridWorldBox(g: Geometry): WorldBox {
  const lo: [number, number, number] = [Infinity, Infinity, Infinity];
  const hi: [number, number, number] = [-Infinity, -Infinity, -Infinity];
  for (const ci of [-0.5, g.dims[0] - 0.5]) {
    for (const cj of [-0.5, g.dims[1] - 0.5]) {
      for (const ck of [-0.5, g.dims[2] - 0.5]) {
        const p = indexToWorld(g, ci, cj, ck);
        for (let a = 0; a < 3; a++) (lo[a] = Math.min(lo[a], p[a])), (hi[a] = Math.max(hi[a], p[a]));
      }
    }
  }
  return { lo, hi };
}

/** Voxels of a structure that count as inside for outlines and centres: at least half occupied. */
const INSIDE_WEIGHT = 0.5;

/**
 * World bounding box (LPS mm) of the voxels at least half inside any of `structures` on grid `g`, grown by
 * `marginMm` and cut to the grid's own box; undefined when no structure has such a voxel.
 */
export function structuresWorldBox(g: Geometry, structures: readonly GridStructure[], marginMm: number): WorldBox | undefined {
  const lo = [Infinity, Infinity, Infinity];
  const hi = [-Infinity, -Infinity, -Infinity];
  const nx = g.dims[0], nxy = g.dims[0] * g.dims[1];
  let any = false;
  for (const s of structures) {
    for (let n = 0; n < s.voxelIndices.length; n++) {
      if (s.weights[n] < INSIDE_WEIGHT) continue;
      const v = s.voxelIndices[n];
      const k = Math.floor(v / nxy), j = Math.floor((v - k * nxy) / nx), i = v - k * nxy - j * nx;
      const idx = [i, j, k];
      for (let a = 0; a < 3; a++) (lo[a] = Math.min(lo[a], idx[a])), (hi[a] = Math.max(hi[a], idx[a]));
      any = true;
    }
  }
  if (!any) return undefined;
  const wlo = [Infinity, Infinity, Infinity];
  const whi = [-Infinity, -Infinity, -Infinity];
  for (const ci of [lo[0] - 0.5, hi[0] + 0.5]) {
    for (const cj of [lo[1] - 0.5, hi[1] + 0.5]) {
      for (const ck of [lo[2] - 0.5, hi[2] + 0.5]) {
        const p = indexToWorld(g, ci, cj, ck);
        for (let a = 0; a < 3; a++) (wlo[a] = Math.min(wlo[a], p[a])), (whi[a] = Math.max(whi[a], p[a]));
      }
    }
  }
  const grid = gridWorldBox(g);
  const cut = (a: number): [number, number] => [Math.max(grid.lo[a], wlo[a] - marginMm), Math.min(grid.hi[a], whi[a] + marginMm)];
  const [x, y, z] = [cut(0), cut(1), cut(2)];
  return { lo: [x[0], y[0], z[0]], hi: [x[1], y[1], z[1]] };
}

/**
 * Centre of mass of a structure's occupancy on grid `g` [LPS mm]: sum of w x voxel centre / sum of w (volume
 * weighted); undefined for an empty structure.
 */
export function structureCentreLpsMm(g: Geometry, s: GridStructure): [number, number, number] | undefined {
  const nx = g.dims[0], nxy = g.dims[0] * g.dims[1];
  let sw = 0, si = 0, sj = 0, sk = 0;
  for (let n = 0; n < s.voxelIndices.length; n++) {
    const w = s.weights[n];
    const v = s.voxelIndices[n];
    const k = Math.floor(v / nxy), j = Math.floor((v - k * nxy) / nx), i = v - k * nxy - j * nx;
    sw += w;
    si += w * i;
    sj += w * j;
    sk += w * k;
  }
  if (!(sw > 0)) return undefined;
  const p = indexToWorld(g, si / sw, sj / sw, sk / sw);
  return [p[0], p[1], p[2]];
}

/** The volume room's trilinear sampler (re-exported: the figures sample CT and dose with it). */
export { sampleTrilinear };

/** Linear index of the voxel of `g` nearest to a world point, or -1 outside the grid. */
function nearestVoxel(g: Geometry, x: number, y: number, z: number, scratch: number[]): number {
  const p = worldToIndex(g, x, y, z, scratch);
  const i = Math.round(p[0]), j = Math.round(p[1]), k = Math.round(p[2]);
  if (i < 0 || j < 0 || k < 0 || i >= g.dims[0] || j >= g.dims[1] || k >= g.dims[2]) return -1;
  return i + g.dims[0] * (j + g.dims[1] * k);
}

/** Whether ascending `sorted` holds `v` (binary search). */
function sortedIndexOf(sorted: Uint32Array, v: number): number {
  let lo = 0, hi = sorted.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const m = sorted[mid];
    if (m === v) return mid;
    if (m < v) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

/** CT greyscale window [HU]. */
export interface HuWindow {
  readonly centerHu: number;
  readonly widthHu: number;
}

/** The abdomen window (W 400, L 40 HU), the viewer's default preset for liver cases. */
export const ABDOMEN_WINDOW: HuWindow = { centerHu: 40, widthHu: 400 };

/** Slice orientation of a report image. */
export type SlicePlane = 'axial' | 'coronal';

/** Options of {@link renderDoseSlice}. */
export interface DoseSliceOptions {
  readonly plane: SlicePlane;
  /** A point on the plane [LPS mm] (e.g. a tumour's centre of mass): the axial plane is z = its z, coronal y = its y. */
  readonly throughLpsMm: readonly [number, number, number];
  /** The part of the plane shown: the box's extent along the image's two axes [LPS mm]. */
  readonly box: WorldBox;
  /** Pixel size [mm], the same along both image axes. */
  readonly pixelMm: number;
  readonly dose: Volume<Float32Array>;
  /** CT in HU on its own grid; without it the dose is drawn alone on a white background. */
  readonly ct?: Volume<VoxelArray>;
  readonly window?: HuWindow;
  /** Dose at the top of the colour scale [Gy]. */
  readonly colorMaxGy: number;
  /** Doses below this are not coloured [Gy]. */
  readonly thresholdGy: number;
  /** Opacity of the dose wash over the CT, 0..1 (without a CT the wash is opaque). */
  readonly washOpacity?: number;
  /** Structures (on the dose grid) outlined in their colours (RGB 0..1). */
  readonly outlines?: ReadonlyArray<{ readonly structure: GridStructure; readonly rgb: readonly [number, number, number] }>;
}

/** A rendered slice: the RGB raster and where it lies. */
export interface DoseSlice {
  readonly plane: SlicePlane;
  readonly widthPx: number;
  readonly heightPx: number;
  /** RGB, rows top to bottom. */
  readonly rgb: Uint8Array;
  /** Physical size of the image [mm]. */
  readonly widthMm: number;
  readonly heightMm: number;
  /** Position of the plane along its normal [mm]: LPS z for axial, LPS y for coronal. */
  readonly planeMm: number;
  /** Patient directions at the image's left, right, top and bottom edges. */
  readonly edges: { readonly left: string; readonly right: string; readonly top: string; readonly bottom: string };
  /** Highest dose sampled in the image [Gy]. */
  readonly maxDoseGy: number;
}

/**
 * Renders a dose-on-CT slice: the CT in greyscale (window, default abdomen) with the dose as a Turbo colour wash
 * (from `thresholdGy` to `colorMaxGy`, trilinear on the dose grid), and structure outlines (voxels at least half
 * inside, nearest dose voxel, drawn where a pixel inside has a neighbour outside). Pixel centres sit at
 * box.lo + (n + 1/2) x pixelMm along each image axis; image x runs along +L (patient's right on the left), image y
 * along +P (axial, anterior at the top) or -S (coronal, superior at the top).
 */
export function renderDoseSlice(o: DoseSliceOptions): DoseSlice {
  // image axes: u (left to right) = LPS x; v (top to bottom) = LPS y (axial) or -LPS z (coronal)
  const uAxis = 0;
  const vAxis = o.plane === 'axial' ? 1 : 2;
  const vSign = o.plane === 'axial' ? 1 : -1;
  const normalAxis = o.plane === 'axial' ? 2 : 1;
  const uLo = o.box.lo[uAxis], uHi = o.box.hi[uAxis];
  const vLo = o.box.lo[vAxis], vHi = o.box.hi[vAxis];
  const widthPx = Math.max(1, Math.round((uHi - uLo) / o.pixelMm));
  const heightPx = Math.max(1, Math.round((vHi - vLo) / o.pixelMm));
  const n = widthPx * heightPx;
  const planeMm = o.throughLpsMm[normalAxis];
  const world = (px: number, py: number, out: number[]) => {
    out[normalAxis] = planeMm;
    out[uAxis] = uLo + (px + 0.5) * o.pixelMm;
    out[vAxis] = vSign > 0 ? vLo + (py + 0.5) * o.pixelMm : vHi - (py + 0.5) * o.pixelMm;
    return out;
  };
  const window = o.window ?? ABDOMEN_WINDOW;
  const alpha = o.ct ? (o.washOpacity ?? 0.5) : 1;
  const rgb = new Uint8Array(3 * n);
  const voxel = new Int32Array(n);
  const p = [0, 0, 0];
  const scratch = [0, 0, 0];
  const colour = [0, 0, 0];
  let maxDoseGy = 0;
  for (let py = 0; py < heightPx; py++) {
    for (let px = 0; px < widthPx; px++) {
      const q = px + widthPx * py;
      world(px, py, p);
      let grey = 255;
      if (o.ct) {
        const hu = sampleTrilinear(o.ct, p[0], p[1], p[2], -1000, scratch);
        grey = Math.round(255 * Math.min(1, Math.max(0, (hu - (window.centerHu - window.widthHu / 2)) / window.widthHu)));
      }
      let r = grey, gr = grey, b = grey;
      const doseGy = sampleTrilinear(o.dose, p[0], p[1], p[2], 0, scratch);
      if (doseGy > maxDoseGy) maxDoseGy = doseGy;
      if (doseGy >= o.thresholdGy && doseGy > 0) {
        const c = turboInto(doseGy / o.colorMaxGy, colour);
        r = (1 - alpha) * grey + alpha * 255 * c[0];
        gr = (1 - alpha) * grey + alpha * 255 * c[1];
        b = (1 - alpha) * grey + alpha * 255 * c[2];
      }
      rgb[3 * q] = Math.round(r);
      rgb[3 * q + 1] = Math.round(gr);
      rgb[3 * q + 2] = Math.round(b);
      voxel[q] = nearestVoxel(o.dose.geometry, p[0], p[1], p[2], scratch);
    }
  }
  // the dose voxels the image shows (ascending, unique) and, per pixel, its voxel's place in that list: each
  // structure is then matched against them in one merge of two ascending lists
  const shown = Uint32Array.from(new Set(voxel.filter((v) => v >= 0))).sort();
  const place = new Int32Array(n).fill(-1);
  for (let q = 0; q < n; q++) if (voxel[q] >= 0) place[q] = sortedIndexOf(shown, voxel[q]);
  for (const { structure, rgb: color } of o.outlines ?? []) {
    const shownInside = new Uint8Array(shown.length);
    const idx = structure.voxelIndices;
    for (let a = 0, b = 0; a < shown.length && b < idx.length; ) {
      if (shown[a] < idx[b]) a++;
      else if (shown[a] > idx[b]) b++;
      else (shownInside[a] = structure.weights[b] >= INSIDE_WEIGHT ? 1 : 0), a++, b++;
    }
    const inside = new Uint8Array(n);
    for (let q = 0; q < n; q++) if (place[q] >= 0) inside[q] = shownInside[place[q]];
    const c = color.map((x) => Math.round(255 * x));
    for (let py = 0; py < heightPx; py++) {
      for (let px = 0; px < widthPx; px++) {
        const q = px + widthPx * py;
        if (!inside[q]) continue;
        const edge =
          px === 0 || py === 0 || px === widthPx - 1 || py === heightPx - 1 ||
          !inside[q - 1] || !inside[q + 1] || !inside[q - widthPx] || !inside[q + widthPx];
        if (!edge) continue;
        rgb[3 * q] = c[0];
        rgb[3 * q + 1] = c[1];
        rgb[3 * q + 2] = c[2];
      }
    }
  }
  return {
    plane: o.plane,
    widthPx,
    heightPx,
    rgb,
    widthMm: widthPx * o.pixelMm,
    heightMm: heightPx * o.pixelMm,
    planeMm,
    edges: o.plane === 'axial' ? { left: 'R', right: 'L', top: 'A', bottom: 'P' } : { left: 'R', right: 'L', top: 'S', bottom: 'I' },
    maxDoseGy,
  };
}

/**
 * The q-quantile (0..1) of the dose over the voxels at least half inside any of `structures` [Gy] (a voxel in two
 * structures counts twice); 0 when there are none. Used for the colour scale's top, so that a few hot voxels do not
 * wash out the tumours.
 */
export function structureDoseQuantileGy(dose: Volume<Float32Array>, structures: readonly GridStructure[], q: number): number {
  let count = 0;
  for (const s of structures) for (let n = 0; n < s.weights.length; n++) if (s.weights[n] >= INSIDE_WEIGHT) count++;
  if (count === 0) return 0;
  const values = new Float32Array(count);
  let m = 0;
  for (const s of structures) for (let n = 0; n < s.weights.length; n++) if (s.weights[n] >= INSIDE_WEIGHT) values[m++] = dose.data[s.voxelIndices[n]];
  values.sort();
  return values[Math.min(count - 1, Math.max(0, Math.ceil(q * count) - 1))];
}
