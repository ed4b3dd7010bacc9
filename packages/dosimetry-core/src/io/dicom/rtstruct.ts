/**
 * RT Structure Set (PS3.3 C.8.8.5-6) closed planar contours to occupancy masks with partial-volume weights.
 *
 * Each contour plane stands for a slab as thick as the spacing between the structure set's contour planes. In-plane
 * coverage is computed by scanlines: `subsamples` lines per voxel row, and along each line the exact covered length
 * of every voxel (so coverage is exact along i and sampled along j). All contours of an ROI on one plane are combined
 * with the even-odd rule (XOR), which makes holes and several islands per slice work. Along the slice normal each
 * plane's slab is split over the grid's slices by overlap length.
 */
import { FormatError, InputError } from '../../errors.ts';
import type { Geometry, Mat3ColMajor, Vec3 } from '../../volume/geometry.ts';
import { indexToWorld, validateGeometry, worldToIndex } from '../../volume/geometry.ts';
import { maskToGrid } from '../../volume/resample.ts';
import type { StructureMask } from '../../volume/structure.ts';
import type { DicomDataset } from './parser.ts';
import { TAG } from './tags.ts';

/** A closed planar contour in LPS millimetres. */
export interface Contour {
  /** x, y, z triples [mm], LPS. */
  readonly pointsLpsMm: Float64Array;
}

/** An ROI with its closed planar contours. */
export interface RoiContours {
  readonly number: number;
  readonly name: string;
  readonly colorRgb?: readonly [number, number, number];
  readonly contours: readonly Contour[];
}

/** Options of `rasterizeContours`. */
export interface RasterizeOptions {
  /** Grid to rasterise onto (e.g. the activity image or the CT the contours were drawn on). */
  readonly referenceGrid?: Geometry;
  /**
   * Spacing of the grid derived from the contours' bounding box when no reference grid is given [mm]; default
   * [1, 1, spacing of the contour planes].
   */
  readonly spacingMm?: Vec3;
  /** Scanlines per voxel row (in-plane sampling along j); default 8. */
  readonly subsamples?: number;
  /** Thickness of the slab each contour plane stands for [mm]; default: the median spacing of all contour planes. */
  readonly planeThicknessMm?: number;
  /**
   * Rasterise each ROI onto the part of `referenceGrid`'s lattice around its own contours (their index bounding box,
   * widened by the slab half-thickness along k and one voxel; not clipped to the grid) instead of the whole grid: for a
   * fine grid such as a CT's, where a dense mask of the whole grid per ROI would cost ~80 MB (512 x 512 x 300). The
   * mask's voxels lie on the reference grid's lattice.
   */
  readonly cropToContours?: boolean;
}

const dot = (a: Vec3, b: Vec3) => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
const cross = (a: Vec3, b: Vec3): Vec3 => [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
const unit = (a: Vec3): Vec3 => {
  const n = Math.hypot(a[0], a[1], a[2]);
  return [a[0] / n, a[1] / n, a[2] / n];
};

/** Reads the ROIs of an RT Structure Set data set; ROIs without closed planar contours are left out. */
export function readRoiContours(ds: DicomDataset, what: string): RoiContours[] {
  const names = new Map<number, string>();
  for (const it of ds.sequence(TAG.StructureSetROISequence)) {
    const n = it.number(TAG.ROINumber);
    if (n !== undefined) names.set(n, it.string(TAG.ROIName) ?? `ROI ${n}`);
  }
  const out: RoiContours[] = [];
  for (const it of ds.sequence(TAG.ROIContourSequence)) {
    const number = it.number(TAG.ReferencedROINumber);
    if (number === undefined) continue;
    const contours: Contour[] = [];
    for (const c of it.sequence(TAG.ContourSequence)) {
      if ((c.string(TAG.ContourGeometricType) ?? 'CLOSED_PLANAR') !== 'CLOSED_PLANAR') continue;
      const v = c.numbers(TAG.ContourData);
      if (v.length % 3 !== 0) throw new FormatError(`${what}: a contour of ROI ${number} has ${v.length} coordinates, not a multiple of 3`);
      if (v.length >= 9) contours.push({ pointsLpsMm: Float64Array.from(v) });
    }
    if (contours.length === 0) continue;
    const col = it.numbers(TAG.ROIDisplayColor);
    out.push({
      number,
      name: names.get(number) ?? `ROI ${number}`,
      colorRgb: col.length === 3 ? [col[0] / 255, col[1] / 255, col[2] / 255] : undefined,
      contours,
    });
  }
  return out;
}

/** Unit normal of a contour by Newell's method. */
function contourNormal(p: Float64Array): Vec3 {
  let nx = 0, ny = 0, nz = 0;
  const n = p.length / 3;
  for (let a = 0; a < n; a++) {
    const b = (a + 1) % n;
    const [x0, y0, z0] = [p[3 * a], p[3 * a + 1], p[3 * a + 2]];
    const [x1, y1, z1] = [p[3 * b], p[3 * b + 1], p[3 * b + 2]];
    nx += (y0 - y1) * (z0 + z1);
    ny += (z0 - z1) * (x0 + x1);
    nz += (x0 - x1) * (y0 + y1);
  }
  const len = Math.hypot(nx, ny, nz);
  return len > 0 ? [nx / len, ny / len, nz / len] : [0, 0, 1];
}

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Distinct plane positions along `n` [mm] (merged within 0.01 mm). */
function planePositions(rois: readonly RoiContours[], n: Vec3): number[] {
  const ds = rois.flatMap((r) => r.contours.map((c) => dot([c.pointsLpsMm[0], c.pointsLpsMm[1], c.pointsLpsMm[2]], n)));
  ds.sort((a, b) => a - b);
  const out: number[] = [];
  for (const d of ds) if (!out.length || d - out[out.length - 1] > 0.01) out.push(d);
  return out;
}

/** A grid aligned with the contour planes, covering their bounding box with a one-voxel margin. */
export function gridFromContours(rois: readonly RoiContours[], spacingMm?: Vec3): Geometry {
  const all = rois.flatMap((r) => r.contours);
  if (all.length === 0) throw new InputError('the structure set has no closed planar contours to build a grid from');
  const n = contourNormal(all.reduce((a, b) => (b.pointsLpsMm.length > a.pointsLpsMm.length ? b : a)).pointsLpsMm);
  let u: Vec3, v: Vec3, w: Vec3;
  if (Math.abs(n[2]) > 0.999) {
    [u, v, w] = [[1, 0, 0], [0, 1, 0], [0, 0, 1]];
  } else {
    w = n;
    u = unit(cross(Math.abs(n[0]) < 0.9 ? [1, 0, 0] : [0, 1, 0], w));
    u = unit(cross(w, cross(u, w)));
    v = cross(w, u);
  }
  const planes = planePositions(rois, w);
  const diffs = planes.slice(1).map((d, k) => d - planes[k]);
  const dz = spacingMm?.[2] ?? (diffs.length ? median(diffs) : 1);
  const su = spacingMm?.[0] ?? 1;
  const sv = spacingMm?.[1] ?? 1;
  let umin = Infinity, umax = -Infinity, vmin = Infinity, vmax = -Infinity;
  for (const c of all) {
    const p = c.pointsLpsMm;
    for (let i = 0; i < p.length; i += 3) {
      const q: Vec3 = [p[i], p[i + 1], p[i + 2]];
      const a = dot(q, u), b = dot(q, v);
      if (a < umin) umin = a;
      if (a > umax) umax = a;
      if (b < vmin) vmin = b;
      if (b > vmax) vmax = b;
    }
  }
  const u0 = umin - su, v0 = vmin - sv, w0 = planes[0];
  const dims: [number, number, number] = [
    Math.ceil((umax + su - u0) / su) + 1,
    Math.ceil((vmax + sv - v0) / sv) + 1,
    Math.round((planes[planes.length - 1] - w0) / dz) + 1,
  ];
  const origin: Vec3 = [u0 * u[0] + v0 * v[0] + w0 * w[0], u0 * u[1] + v0 * v[1] + w0 * w[1], u0 * u[2] + v0 * v[2] + w0 * w[2]];
  return validateGeometry({ dims, spacingMm: [su, sv, dz], originLpsMm: origin, direction: [...u, ...v, ...w] as unknown as Mat3ColMajor }, 'contour grid');
}

/**
 * Adds the even-odd coverage of the polygons (index coordinates u, v of `grid`) to `cov` (nx*ny, fractions).
 * Scanlines at v = j - 1/2 + (s + 1/2)/ns; each line adds the covered length of every voxel of the row, / ns.
 */
function coverPlane(polys: Float64Array[], nx: number, ny: number, ns: number, cov: Float64Array): void {
  let vmin = Infinity, vmax = -Infinity;
  for (const p of polys) for (let i = 1; i < p.length; i += 2) {
    if (p[i] < vmin) vmin = p[i];
    if (p[i] > vmax) vmax = p[i];
  }
  const j0 = Math.max(0, Math.floor(vmin + 0.5));
  const j1 = Math.min(ny - 1, Math.ceil(vmax - 0.5));
  // Edges (xa, ya) -> (xb, yb) as the polygons give them, by their lower end: scanlines run upwards, so each one
  // visits only the edges it crosses (an active list), not every edge of every polygon (~1000 on a lung contour).
  const edges: Array<{ xa: number; ya: number; xb: number; yb: number; lo: number; hi: number }> = [];
  for (const p of polys) {
    const m = p.length / 2;
    for (let a = 0; a < m; a++) {
      const b = a + 1 === m ? 0 : a + 1;
      const ya = p[2 * a + 1], yb = p[2 * b + 1];
      if (ya !== yb) edges.push({ xa: p[2 * a], ya, xb: p[2 * b], yb, lo: Math.min(ya, yb), hi: Math.max(ya, yb) });
    }
  }
  edges.sort((e, f) => e.lo - f.lo);
  let next = 0;
  let active: typeof edges = [];
  const xs: number[] = [];
  for (let j = j0; j <= j1; j++) {
    for (let s = 0; s < ns; s++) {
      const y = j - 0.5 + (s + 0.5) / ns;
      xs.length = 0;
      // an edge is crossed when lo <= y < hi (its lower end counted, its upper end not)
      while (next < edges.length && edges[next].lo <= y) active.push(edges[next++]);
      if (active.some((e) => e.hi <= y)) active = active.filter((e) => e.hi > y);
      for (const e of active) xs.push(e.xa + ((y - e.ya) * (e.xb - e.xa)) / (e.yb - e.ya));
      if (xs.length < 2) continue;
      xs.sort((a, b) => a - b);
      const row = nx * j;
      for (let q = 0; q + 1 < xs.length; q += 2) {
        const xa = Math.max(xs[q], -0.5), xb = Math.min(xs[q + 1], nx - 0.5);
        if (xb <= xa) continue;
        const ia = Math.round(xa), ib = Math.round(xb);
        for (let i = Math.max(0, ia); i <= Math.min(nx - 1, ib); i++) {
          const len = Math.min(xb, i + 0.5) - Math.max(xa, i - 0.5);
          if (len > 0) cov[row + i] += len / ns;
        }
      }
    }
  }
}

/**
 * The part of `grid`'s lattice that holds an ROI's contours: their index bounding box widened by `halfW` (slab
 * half-thickness, k index units) along k and one voxel along every axis. Not clipped to the grid: a structure drawn
 * beyond a CT's field of view keeps that part (it takes the densities used without a CT there). Same spacing and
 * direction, voxels on the grid's own lattice; origin at the box's first voxel.
 */
function cropToRoi(grid: Geometry, roi: RoiContours, halfW: number): Geometry {
  const lo = [Infinity, Infinity, Infinity];
  const hi = [-Infinity, -Infinity, -Infinity];
  const q = [0, 0, 0];
  for (const c of roi.contours) {
    const p = c.pointsLpsMm;
    for (let a = 0; a < p.length; a += 3) {
      worldToIndex(grid, p[a], p[a + 1], p[a + 2], q);
      for (let r = 0; r < 3; r++) {
        if (q[r] < lo[r]) lo[r] = q[r];
        if (q[r] > hi[r]) hi[r] = q[r];
      }
    }
  }
  const first = [0, 1, 2].map((r) => Math.floor(lo[r] - 1 - (r === 2 ? halfW : 0)));
  const last = [0, 1, 2].map((r) => Math.ceil(hi[r] + 1 + (r === 2 ? halfW : 0)));
  const o = indexToWorld(grid, first[0], first[1], first[2]);
  return validateGeometry(
    { dims: [last[0] - first[0] + 1, last[1] - first[1] + 1, last[2] - first[2] + 1], spacingMm: grid.spacingMm, originLpsMm: [o[0], o[1], o[2]], direction: grid.direction },
    'contour crop of the reference grid',
  );
}

/**
 * Rasterises ROIs onto a grid: `referenceGrid` when given, else a grid derived from the contours' bounding box.
 * When the reference grid's slices are not parallel to the contour planes (more than a tenth of a slice of tilt across
 * a contour), the ROI is rasterised on a contour-aligned grid first and brought onto the reference grid by
 * `maskToGrid` (fractional sampling).
 */
export function rasterizeContours(rois: readonly RoiContours[], origin: string, opts: RasterizeOptions = {}): StructureMask[] {
  const fullGrid = opts.referenceGrid ? validateGeometry(opts.referenceGrid, 'reference grid') : gridFromContours(rois, opts.spacingMm);
  const ns = Math.max(1, Math.round(opts.subsamples ?? 8));
  // Plane spacing along the contours' own normal (the grid's may be tilted against them).
  const all = rois.flatMap((r) => r.contours);
  const contourN = all.length ? contourNormal(all.reduce((a, b) => (b.pointsLpsMm.length > a.pointsLpsMm.length ? b : a)).pointsLpsMm) : ([0, 0, 1] as Vec3);
  const positions = planePositions(rois, contourN);
  const diffs = positions.slice(1).map((d, k) => d - positions[k]);
  const thicknessMm = opts.planeThicknessMm ?? (diffs.length ? median(diffs) : fullGrid.spacingMm[2]);
  const halfW = thicknessMm / (2 * fullGrid.spacingMm[2]); // half slab thickness in k index units
  const out: StructureMask[] = [];
  const idx = [0, 0, 0];
  for (const roi of rois) {
    const grid = opts.cropToContours ? cropToRoi(fullGrid, roi, halfW) : fullGrid;
    const [nx, ny, nz] = grid.dims;
    // Project the contours into index coordinates; check they lie in the grid's slice planes.
    const planes = new Map<number, { w: number; polys: Float64Array[] }>();
    let oblique = false;
    for (const c of roi.contours) {
      const p = c.pointsLpsMm;
      const m = p.length / 3;
      const uv = new Float64Array(2 * m);
      let wmin = Infinity, wmax = -Infinity, wsum = 0;
      for (let a = 0; a < m; a++) {
        worldToIndex(grid, p[3 * a], p[3 * a + 1], p[3 * a + 2], idx);
        uv[2 * a] = idx[0];
        uv[2 * a + 1] = idx[1];
        wsum += idx[2];
        if (idx[2] < wmin) wmin = idx[2];
        if (idx[2] > wmax) wmax = idx[2];
      }
      if (wmax - wmin > 0.1) oblique = true;
      const w = wsum / m;
      const key = Math.round((w * grid.spacingMm[2]) / 0.01);
      let pl = planes.get(key);
      if (!pl) planes.set(key, (pl = { w, polys: [] }));
      pl.polys.push(uv);
    }
    const name = roi.name;
    const where = `${origin} ROI ${roi.number} "${name}"`;
    if (oblique && opts.referenceGrid) {
      // Rasterise on a contour-aligned grid at half the reference's finest spacing, then resample.
      const s = Math.max(0.25, Math.min(...grid.spacingMm) / 2);
      const aligned = rasterizeContours([roi], origin, { spacingMm: [s, s, thicknessMm], subsamples: ns, planeThicknessMm: thicknessMm })[0];
      const occ = new Uint8Array(nx * ny * nz);
      try {
        const r = maskToGrid(aligned, grid, { mode: 'fractional' });
        r.structure.voxelIndices.forEach((v, q) => (occ[v] = Math.round(255 * Math.min(1, r.structure.weights[q]))));
      } catch {
        // Entirely outside the grid: an empty mask, like the direct path gives.
      }
      out.push({ name, origin: where, geometry: grid, occupancy: occ, colorRgb: roi.colorRgb });
      continue;
    }
    const frac = new Float32Array(nx * ny * nz);
    const cov = new Float64Array(nx * ny);
    for (const pl of planes.values()) {
      const k0 = Math.max(0, Math.floor(pl.w - halfW + 0.5));
      const k1 = Math.min(nz - 1, Math.ceil(pl.w + halfW - 0.5));
      if (k1 < k0) continue;
      cov.fill(0);
      coverPlane(pl.polys, nx, ny, ns, cov);
      for (let k = k0; k <= k1; k++) {
        const overlap = Math.min(k + 0.5, pl.w + halfW) - Math.max(k - 0.5, pl.w - halfW);
        if (overlap <= 0) continue;
        const off = nx * ny * k;
        for (let q = 0; q < cov.length; q++) if (cov[q] > 0) frac[off + q] += cov[q] * Math.min(1, overlap);
      }
    }
    const occ = new Uint8Array(frac.length);
    for (let q = 0; q < frac.length; q++) if (frac[q] > 0) occ[q] = Math.round(255 * Math.min(1, frac[q]));
    out.push({ name, origin: where, geometry: grid, occupancy: occ, colorRgb: roi.colorRgb });
  }
  return out;
}
