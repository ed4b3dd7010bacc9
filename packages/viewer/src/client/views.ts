/**
 * View geometry in world LPS mm, with gl-matrix (column-major 4x4, `Mat4ColMajor` order: m[r + 4 * c]).
 *
 * A view maps canvas pixel-centre positions (x + 0.5, y + 0.5) to LPS: world = P + (x - W/2) s r + (y - H/2) s d,
 * with r, d the screen-right and screen-down unit vectors, s the zoom [mm/px] and P the in-plane centre moved to the
 * crosshair's depth. Radiological convention: axial r = +L, d = +P; coronal r = +L, d = -S; sagittal r = +P, d = -S.
 * Each volume is sampled through inverse(its index-to-LPS affine) * pixel-to-LPS, so CT, dose, activity and masks
 * on different grids line up in world space.
 */
import { glMatrix, mat4, vec3 } from 'gl-matrix';
import type { GridJson } from '../protocol.ts';

// Plain arrays (float64) so the CPU path keeps double precision.
glMatrix.setMatrixArrayType(Array);

/** 4x4 matrix, column-major (gl-matrix): m[r + 4 * c]. */
export type Mat4ColMajor = mat4;
/** LPS position or direction [mm]. */
export type Lps = [number, number, number];

/** The three views. */
export type ViewName = 'axial' | 'coronal' | 'sagittal';
export const VIEW_NAMES: readonly ViewName[] = ['axial', 'coronal', 'sagittal'];

/** Screen-right, screen-down and normal unit vectors (LPS) of each view. */
export const VIEW_AXES: Record<ViewName, { right: Lps; down: Lps; normal: Lps }> = {
  axial: { right: [1, 0, 0], down: [0, 1, 0], normal: [0, 0, 1] },
  coronal: { right: [1, 0, 0], down: [0, 0, -1], normal: [0, 1, 0] },
  sagittal: { right: [0, 1, 0], down: [0, 0, -1], normal: [1, 0, 0] },
};

/** A volume in the page: float32 voxels (x-fastest), its grid and LPS->index matrix. */
export interface ClientVolume<T extends Float32Array | Uint32Array = Float32Array> {
  readonly grid: GridJson;
  readonly data: T;
  /** Index-to-LPS affine [mm], column-major. */
  readonly indexToLps: Mat4ColMajor;
  /** LPS-to-index, the inverse of `indexToLps`. */
  readonly lpsToIndex: Mat4ColMajor;
}

/** Index-to-LPS affine of a grid: columns direction_c * spacing_c, translation origin (dosimetry-core's convention). */
export function indexToLpsOf(g: GridJson): Mat4ColMajor {
  const d = g.direction;
  const s = g.spacingMm;
  const o = g.originLpsMm;
  // mat4.fromValues takes column-major order.
  return mat4.fromValues(
    d[0] * s[0], d[1] * s[0], d[2] * s[0], 0,
    d[3] * s[1], d[4] * s[1], d[5] * s[1], 0,
    d[6] * s[2], d[7] * s[2], d[8] * s[2], 0,
    o[0], o[1], o[2], 1,
  );
}

/** Wraps voxels and a grid as a ClientVolume. */
export function makeClientVolume<T extends Float32Array | Uint32Array>(grid: GridJson, data: T): ClientVolume<T> {
  const indexToLps = indexToLpsOf(grid);
  const lpsToIndex = mat4.create();
  if (!mat4.invert(lpsToIndex, indexToLps)) throw new Error('volume grid has a singular affine');
  return { grid, data, indexToLps, lpsToIndex };
}

/** Nearest-voxel value of a volume at an LPS position, or undefined outside its grid. */
export function sampleAt<T extends Float32Array | Uint32Array>(v: ClientVolume<T>, p: Lps): number | undefined {
  const q = vec3.transformMat4(vec3.create(), p as unknown as vec3, v.lpsToIndex);
  const [nx, ny, nz] = v.grid.dims;
  const i = Math.floor(q[0] + 0.5), j = Math.floor(q[1] + 0.5), k = Math.floor(q[2] + 0.5);
  if (i < 0 || j < 0 || k < 0 || i >= nx || j >= ny || k >= nz) return undefined;
  return v.data[i + nx * (j + ny * k)];
}

/** Shared navigation state of the three views. */
export interface NavState {
  /** Crosshair, LPS [mm]: the slices shown pass through it. */
  crosshair: Lps;
  /** View centre, LPS [mm] (its component along each view's normal is replaced by the crosshair's). */
  centre: Lps;
  /** Zoom [mm per canvas pixel]. */
  mmPerPx: number;
}

const dot = (a: readonly number[], b: readonly number[]) => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];

/** Pixel-centre (x + 0.5, y + 0.5) -> LPS matrix of a view on a W x H canvas. */
export function pixelToLps(view: ViewName, nav: NavState, widthPx: number, heightPx: number): Mat4ColMajor {
  const { right: r, down: d, normal: n } = VIEW_AXES[view];
  const s = nav.mmPerPx;
  const depth = dot(nav.crosshair, n) - dot(nav.centre, n);
  const p = [0, 1, 2].map((a) => nav.centre[a] + depth * n[a] - (widthPx / 2) * s * r[a] - (heightPx / 2) * s * d[a]);
  return mat4.fromValues(s * r[0], s * r[1], s * r[2], 0, s * d[0], s * d[1], s * d[2], 0, n[0], n[1], n[2], 0, p[0], p[1], p[2], 1);
}

/** Pixel-to-voxel-index matrix of a volume in a view: lpsToIndex * pixelToLps. */
export function pixelToIndex(v: ClientVolume<Float32Array | Uint32Array>, pixToLps: Mat4ColMajor): Mat4ColMajor {
  return mat4.multiply(mat4.create(), v.lpsToIndex, pixToLps);
}

/** LPS position of a canvas position (CSS px = canvas px) in a view. */
export function canvasToLps(pixToLps: Mat4ColMajor, x: number, y: number): Lps {
  const q = vec3.transformMat4(vec3.create(), [x, y, 0] as unknown as vec3, pixToLps);
  return [q[0], q[1], q[2]];
}

/** Canvas position of an LPS point projected on a view. */
export function lpsToCanvas(view: ViewName, pixToLps: Mat4ColMajor, p: Lps): [number, number] {
  const { right: r, down: d } = VIEW_AXES[view];
  const s = Math.hypot(pixToLps[0], pixToLps[1], pixToLps[2]);
  const rel = [p[0] - pixToLps[12], p[1] - pixToLps[13], p[2] - pixToLps[14]];
  return [dot(rel, r) / s, dot(rel, d) / s];
}

/** LPS bounding box centre and extent of a grid (voxel centres), for the initial view. */
export function gridBounds(g: GridJson): { centre: Lps; extentMm: number } {
  const a = indexToLpsOf(g);
  const lo = [Infinity, Infinity, Infinity];
  const hi = [-Infinity, -Infinity, -Infinity];
  for (const i of [0, g.dims[0] - 1]) {
    for (const j of [0, g.dims[1] - 1]) {
      for (const k of [0, g.dims[2] - 1]) {
        const q = vec3.transformMat4(vec3.create(), [i, j, k] as unknown as vec3, a);
        for (let c = 0; c < 3; c++) {
          lo[c] = Math.min(lo[c], q[c]);
          hi[c] = Math.max(hi[c], q[c]);
        }
      }
    }
  }
  const ext = Math.max(hi[0] - lo[0], hi[1] - lo[1], hi[2] - lo[2]) + Math.max(...g.spacingMm);
  return { centre: [(lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2, (lo[2] + hi[2]) / 2], extentMm: ext };
}
