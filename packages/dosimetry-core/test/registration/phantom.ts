/**
 * A synthetic CT of a torso for registration tests: body, liver, spine and a kidney as ellipsoids with CT-like HU,
 * rendered analytically (2 x 2 x 2 sub-samples per voxel) through a known fixed-to-moving mapping, so that the
 * moving image is exactly the fixed anatomy moved by the truth.
 */
import type { Geometry } from '../../src/volume/geometry.ts';
import { indexToWorld } from '../../src/volume/geometry.ts';
import type { Volume } from '../../src/volume/volume.ts';

export type Vec = [number, number, number];

/** Liver ellipsoid: centre [mm] and semi-axes [mm]. */
export const LIVER = { centerMm: [-40, 0, 10] as Vec, semiAxesMm: [70, 50, 60] as Vec };

const inEll = (p: Vec, c: Vec, s: Vec) => ((p[0] - c[0]) / s[0]) ** 2 + ((p[1] - c[1]) / s[1]) ** 2 + ((p[2] - c[2]) / s[2]) ** 2 < 1;

/** HU of the anatomy at point p [mm, LPS]. */
export function anatomyHu(p: Vec): number {
  if (!inEll(p, [0, 0, 0], [140, 100, 130])) return -1000;
  if (inEll(p, [0, 60, 0], [15, 15, 200])) return 500; // spine
  if (inEll(p, LIVER.centerMm, LIVER.semiAxesMm)) return inEll(p, [-60, -10, 20], [15, 15, 15]) ? 120 : 60; // liver + lesion
  if (inEll(p, [50, 30, -20], [30, 25, 45])) return 30; // kidney
  if (inEll(p, [40, -40, 40], [35, 25, 25])) return -700; // gas
  return -80; // fat/muscle mix
}

/** Liver mask value at p. */
export function liverAt(p: Vec): number {
  return inEll(p, LIVER.centerMm, LIVER.semiAxesMm) ? 1 : 0;
}

/** A cubic grid of n^3 voxels of `spacingMm`, centred on the origin. */
export function cubeGrid(n: number, spacingMm: number): Geometry {
  const o = -((n - 1) / 2) * spacingMm;
  return { dims: [n, n, n], spacingMm: [spacingMm, spacingMm, spacingMm], originLpsMm: [o, o, o], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] };
}

/**
 * Renders f(inverse(q)) on grid g: the image whose content at q is the anatomy at the fixed point mapped to q.
 * `inverse` maps moving points to fixed points (identity for the fixed image). 2x2x2 sub-samples per voxel.
 */
export function render(g: Geometry, f: (p: Vec) => number, inverse: (q: Vec) => Vec = (q) => q, sub = 2): Volume<Float32Array> {
  const [nx, ny, nz] = g.dims;
  const data = new Float32Array(nx * ny * nz);
  const w = [0, 0, 0];
  for (let k = 0, n = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      for (let i = 0; i < nx; i++, n++) {
        let s = 0;
        for (let c = 0; c < sub ** 3; c++) {
          const di = ((c % sub) + 0.5) / sub - 0.5, dj = ((Math.floor(c / sub) % sub) + 0.5) / sub - 0.5, dk = (Math.floor(c / sub / sub) + 0.5) / sub - 0.5;
          indexToWorld(g, i + di, j + dj, k + dk, w);
          s += f(inverse([w[0], w[1], w[2]]));
        }
        data[n] = s / sub ** 3;
      }
    }
  }
  return { geometry: g, data };
}

/** Rotation about z by `deg` (row-major) and the rigid map p -> R (p - c) + c + t. */
export function rigid(deg: number, axis: 0 | 1 | 2, centerMm: Vec, translationMm: Vec) {
  const a = (deg * Math.PI) / 180, c = Math.cos(a), s = Math.sin(a);
  const R = axis === 2 ? [c, -s, 0, s, c, 0, 0, 0, 1] : axis === 1 ? [c, 0, s, 0, 1, 0, -s, 0, c] : [1, 0, 0, 0, c, -s, 0, s, c];
  const fwd = (p: Vec): Vec => {
    const d = [p[0] - centerMm[0], p[1] - centerMm[1], p[2] - centerMm[2]];
    return [0, 1, 2].map((r) => R[3 * r] * d[0] + R[3 * r + 1] * d[1] + R[3 * r + 2] * d[2] + centerMm[r] + translationMm[r]) as Vec;
  };
  const inv = (q: Vec): Vec => {
    const d = [q[0] - centerMm[0] - translationMm[0], q[1] - centerMm[1] - translationMm[1], q[2] - centerMm[2] - translationMm[2]];
    return [0, 1, 2].map((r) => R[r] * d[0] + R[3 + r] * d[1] + R[6 + r] * d[2] + centerMm[r]) as Vec;
  };
  return { R, fwd, inv };
}

/** Points on the liver ellipsoid's surface (latitude-longitude net), mm. */
export function liverSurfacePoints(count = 400): Vec[] {
  const pts: Vec[] = [];
  const golden = Math.PI * (3 - Math.sqrt(5));
  for (let i = 0; i < count; i++) {
    const z = 1 - (2 * (i + 0.5)) / count, r = Math.sqrt(1 - z * z), th = golden * i;
    pts.push([LIVER.centerMm[0] + LIVER.semiAxesMm[0] * r * Math.cos(th), LIVER.centerMm[1] + LIVER.semiAxesMm[1] * r * Math.sin(th), LIVER.centerMm[2] + LIVER.semiAxesMm[2] * z]);
  }
  return pts;
}
