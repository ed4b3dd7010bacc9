/**
 * The two-territory phantom of the territory-plan tests: index boxes on a 24 x 12 x 16 grid of 10 mm voxels (1 mL), a
 * liver split into a left and a right lobe at i = 12, one lesion in each, a lung box; a scout in counts with known
 * values, so that every compartment's dose per GBq is a closed form (LDM, uniform compartments):
 *
 *   liver  i 2..22, j 2..10, k 2..10  (1280 mL)    Left i 2..12 (640 mL), Right i 12..22 (640 mL)
 *   Tumor A  i 4..8,  j 4..8, k 4..8   (64 mL, in Left)   counts 40 per voxel (T/N 4)
 *   Tumor B  i 15..19, j 4..8, k 4..7  (48 mL, in Right)  counts 30 per voxel (T/N 3)
 *   normal liver 10 counts per voxel; Lungs i 2..22, j 2..10, k 11..15 (640 mL): 0.5 counts per voxel, so that the
 *   measured LSF = 320 / (320 + 15680) = 0.02 exactly (liver counts 8320 in Left, 7360 in Right).
 * Densities 1.05 g/mL (liver), 0.30 g/mL (lung structure).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeNrrd, encodeSegNrrd } from '../../src/io/index.ts';
import type { Geometry } from '../../src/volume/geometry.ts';
import type { StructureMask } from '../../src/volume/structure.ts';

export const NX = 24, NY = 12, NZ = 16, SP_MM = 10;
export const geometry: Geometry = { dims: [NX, NY, NZ], spacingMm: [SP_MM, SP_MM, SP_MM], originLpsMm: [0, 0, 0], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] };
export type Box = readonly [number, number, number, number, number, number];
export const LIVER: Box = [2, 22, 2, 10, 2, 10];
export const LEFT: Box = [2, 12, 2, 10, 2, 10];
export const RIGHT: Box = [12, 22, 2, 10, 2, 10];
export const LUNG: Box = [2, 22, 2, 10, 11, 15];
export const TUMOR_A: Box = [4, 8, 4, 8, 4, 8];
export const TUMOR_B: Box = [15, 19, 4, 8, 4, 7];
/** Overlapping territories: Left' = i 2..14, Right' = i 10..22 (overlap i 10..14, normal liver only). */
export const LEFT_WIDE: Box = [2, 14, 2, 10, 2, 10];
export const RIGHT_WIDE: Box = [10, 22, 2, 10, 2, 10];
/** A segment around Tumor B (radiation segmentectomy): 6 x 6 x 5 = 180 mL, 48 of them Tumor B. */
export const SEGMENT: Box = [14, 20, 3, 9, 3, 8];
/** Reaches out of the liver: k 10..12 of its k 2..12 lie outside the liver (k 2..10), 20 % of its volume. */
export const OUTSIDE: Box = [2, 12, 2, 10, 2, 12];

export const NORMAL_COUNTS = 10, TN_A = 4, TN_B = 3, LUNG_COUNTS = 0.5;
export const inBox = (b: Box, i: number, j: number, k: number) => i >= b[0] && i < b[1] && j >= b[2] && j < b[3] && k >= b[4] && k < b[5];
export const boxVoxels = (b: Box) => (b[1] - b[0]) * (b[3] - b[2]) * (b[5] - b[4]);
export const index = (i: number, j: number, k: number) => i + NX * (j + NY * k);

/** The scout in counts; `keep` (optional) zeroes every voxel outside it, `lung` sets the lung counts. */
export function scoutCounts(opts: { keep?: Box; lungCounts?: number } = {}): Float32Array {
  const d = new Float32Array(NX * NY * NZ);
  for (let k = 0; k < NZ; k++) for (let j = 0; j < NY; j++) for (let i = 0; i < NX; i++) {
    const n = index(i, j, k);
    if (inBox(LIVER, i, j, k)) d[n] = inBox(TUMOR_A, i, j, k) ? NORMAL_COUNTS * TN_A : inBox(TUMOR_B, i, j, k) ? NORMAL_COUNTS * TN_B : NORMAL_COUNTS;
    if (inBox(LUNG, i, j, k)) d[n] = opts.lungCounts ?? LUNG_COUNTS;
    if (opts.keep && !inBox(opts.keep, i, j, k)) d[n] = 0;
  }
  return d;
}

export function boxMask(name: string, b: Box, g: Geometry = geometry): StructureMask {
  const [nx, ny, nz] = g.dims;
  const f = nx / NX; // finer grids (integer factor) cover the same boxes
  const occ = new Uint8Array(nx * ny * nz);
  for (let k = 0; k < nz; k++) for (let j = 0; j < ny; j++) for (let i = 0; i < nx; i++) {
    if (inBox(b, Math.floor(i / f), Math.floor(j / f), Math.floor(k / f))) occ[i + nx * (j + ny * k)] = 255;
  }
  return { name, origin: 'territory phantom', geometry: g, occupancy: occ };
}

export const STRUCTURES: Array<[string, Box]> = [
  ['Liver', LIVER], ['Left', LEFT], ['Right', RIGHT], ['Lungs', LUNG], ['Tumor A', TUMOR_A], ['Tumor B', TUMOR_B],
  ['Left wide', LEFT_WIDE], ['Right wide', RIGHT_WIDE], ['Segment', SEGMENT], ['Outside', OUTSIDE],
];

/** Writes scout.nrrd (counts) and seg.seg.nrrd (every structure above) into `dir`; returns their paths. */
export function writeTerritoryPhantom(dir: string): { scout: string; seg: string } {
  const scout = join(dir, 'scout.nrrd'), seg = join(dir, 'seg.seg.nrrd');
  writeFileSync(scout, encodeNrrd({ geometry, data: scoutCounts() }));
  writeFileSync(seg, encodeSegNrrd(STRUCTURES.map(([n, b]) => boxMask(n, b))));
  return { scout, seg };
}

// Closed forms (LDM, uniform compartments; CF 49.67 J/GBq for 90Y, masses in kg).
export const CF_Y90 = 49.67, RHO = 1.05;
export const LSF = 0.02;
/** Masses [g]: lesions, the normal liver of each lobe, the whole normal liver. */
export const M = {
  A: boxVoxels(TUMOR_A) * RHO,
  B: boxVoxels(TUMOR_B) * RHO,
  normalLeft: (boxVoxels(LEFT) - boxVoxels(TUMOR_A)) * RHO,
  normalRight: (boxVoxels(RIGHT) - boxVoxels(TUMOR_B)) * RHO,
  wholeNormal: (boxVoxels(LIVER) - boxVoxels(TUMOR_A) - boxVoxels(TUMOR_B)) * RHO,
};
