/**
 * The liver phantom: an analytic SIRT case with known answers.
 *
 * World (LPS, mm): a soft-tissue body ellipsoid; a liver ellipsoid on the patient's right (x < 0) holding four
 * spherical lesions of different uptake; two lung ellipsoids above it; air outside. Each region is voxelised on the
 * activity grid ("a voxel belongs to a region when its centre is inside"), and the segmentation is given on a grid
 * twice as fine whose voxels nest exactly inside the activity voxels, so every structure's occupancy of the
 * activity grid is exactly 0 or 1. The answers (volume, mass, activity, LDM mean dose) are then exact sums over
 * the activity voxels, computed here independently of the engine: D = CF x c / rho (../shared/PHYSICS.md).
 *
 * Orientation variants put the same voxel centres on grids with flipped and permuted index axes, so every variant
 * has exactly the same answers.
 */
import type { Geometry, Mat3ColMajor } from '../../packages/dosimetry-core/src/volume/geometry.ts';
import { indexToWorld } from '../../packages/dosimetry-core/src/volume/geometry.ts';
import type { StructureMask } from '../../packages/dosimetry-core/src/volume/structure.ts';
import { NUCLIDES, type Isotope } from '../../packages/dosimetry-core/src/units/index.ts';

export interface Ellipsoid {
  readonly centreMm: readonly [number, number, number];
  readonly semiAxesMm: readonly [number, number, number];
}

export interface Region {
  readonly name: string;
  readonly shape: Ellipsoid;
  /** Activity concentration at implant [Bq/mL]. */
  readonly activityBqPerMl: number;
  /** CT number [HU]; density rho = (HU + 1000) / 1000 g/mL. */
  readonly hu: number;
  /** Segmentation layer and label value in the .seg.nrrd. */
  readonly layer: number;
  readonly label: number;
  readonly role: 'liver' | 'tumor' | 'lung' | 'body';
  readonly colorRgb: readonly [number, number, number];
}

const MBQ = 1e6;
/** Regions; later regions override earlier ones where they overlap (lesions override liver). */
export const REGIONS: readonly Region[] = [
  { name: 'Body', shape: { centreMm: [0, 0, 0], semiAxesMm: [150, 115, 150] }, activityBqPerMl: 0, hu: 40, layer: -1, label: 0, role: 'body', colorRgb: [0.9, 0.8, 0.7] },
  { name: 'Right lung', shape: { centreMm: [-65, 5, 88] , semiAxesMm: [48, 62, 42] }, activityBqPerMl: 0.035 * MBQ, hu: -700, layer: 0, label: 2, role: 'lung', colorRgb: [0.55, 0.75, 0.9] },
  { name: 'Left lung', shape: { centreMm: [65, 5, 88], semiAxesMm: [48, 62, 42] }, activityBqPerMl: 0.035 * MBQ, hu: -700, layer: 0, label: 2, role: 'lung', colorRgb: [0.55, 0.75, 0.9] },
  { name: 'Liver', shape: { centreMm: [-45, 10, -22], semiAxesMm: [80, 62, 56] }, activityBqPerMl: 0.9 * MBQ, hu: 50, layer: 0, label: 1, role: 'liver', colorRgb: [0.9, 0.6, 0.45] },
  { name: 'Tumor A', shape: { centreMm: [-72, 5, -12], semiAxesMm: [24, 24, 24] }, activityBqPerMl: 5.0 * MBQ, hu: 50, layer: 1, label: 1, role: 'tumor', colorRgb: [0.85, 0.2, 0.2] },
  { name: 'Tumor B', shape: { centreMm: [-20, 32, -40], semiAxesMm: [16, 16, 16] }, activityBqPerMl: 3.5 * MBQ, hu: 50, layer: 1, label: 2, role: 'tumor', colorRgb: [0.95, 0.55, 0.1] },
  { name: 'Tumor C', shape: { centreMm: [-50, -28, -38], semiAxesMm: [12, 12, 12] }, activityBqPerMl: 7.0 * MBQ, hu: 50, layer: 1, label: 3, role: 'tumor', colorRgb: [0.7, 0.1, 0.6] },
  { name: 'Tumor D', shape: { centreMm: [-5, -15, 2], semiAxesMm: [9, 9, 9] }, activityBqPerMl: 2.0 * MBQ, hu: 50, layer: 1, label: 4, role: 'tumor', colorRgb: [0.2, 0.5, 0.9] },
];
/** The two lungs form one structure "Lungs" in the segmentation (same layer and label). */
export const LUNG_STRUCTURE = 'Lungs';
const AIR_HU = -1000;

export function inside(e: Ellipsoid, x: number, y: number, z: number): boolean {
  const a = (x - e.centreMm[0]) / e.semiAxesMm[0];
  const b = (y - e.centreMm[1]) / e.semiAxesMm[1];
  const c = (z - e.centreMm[2]) / e.semiAxesMm[2];
  return a * a + b * b + c * c <= 1;
}

/** Index of the region owning a world point (-1 = air). */
export function regionAt(x: number, y: number, z: number): number {
  for (let r = REGIONS.length - 1; r >= 0; r--) if (inside(REGIONS[r].shape, x, y, z)) return r;
  return -1;
}

/** Canonical activity grid: 96 x 84 x 80 voxels of 3.2 x 3.2 x 3.6 mm, axial, centred near the origin. */
export const BASE_DIMS: [number, number, number] = [96, 84, 80];
export const BASE_SPACING_MM: [number, number, number] = [3.2, 3.2, 3.6];
export const BASE_ORIGIN_MM: [number, number, number] = [-152, -132.8, -142.2];

export type Orientation = 'lps' | 'ras-flipped' | 'permuted';

/**
 * Geometry of the activity grid in one orientation. All orientations hold the same voxel centres:
 * 'lps' identity; 'ras-flipped' i runs to the patient's right and j anteriorly (x and y flipped);
 * 'permuted' index axes are (z, x, -y) — a sagittal-like storage order with a flip.
 */
export function activityGeometry(orientation: Orientation, scale = 1): Geometry {
  const dims = BASE_DIMS.map((d) => Math.round(d / scale)) as [number, number, number];
  const sp = BASE_SPACING_MM.map((s) => s * scale) as [number, number, number];
  const o = BASE_ORIGIN_MM;
  const far = (a: number) => o[a] + (dims[a] - 1) * sp[a];
  if (orientation === 'lps') return { dims, spacingMm: sp, originLpsMm: [...o] as [number, number, number], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] };
  if (orientation === 'ras-flipped') {
    return { dims, spacingMm: sp, originLpsMm: [far(0), far(1), o[2]], direction: [-1, 0, 0, 0, -1, 0, 0, 0, 1] };
  }
  // permuted: i <- z, j <- x, k <- -y
  const dir: Mat3ColMajor = [0, 0, 1, 1, 0, 0, 0, -1, 0];
  return { dims: [dims[2], dims[0], dims[1]], spacingMm: [sp[2], sp[0], sp[1]], originLpsMm: [o[0], far(1), o[2]], direction: dir };
}

/** Region index of every voxel of a grid (voxel centres). */
export function regionMap(g: Geometry): Int8Array {
  const [nx, ny, nz] = g.dims;
  const out = new Int8Array(nx * ny * nz);
  const p = [0, 0, 0];
  let n = 0;
  for (let k = 0; k < nz; k++) for (let j = 0; j < ny; j++) for (let i = 0; i < nx; i++, n++) {
    indexToWorld(g, i, j, k, p);
    out[n] = regionAt(p[0], p[1], p[2]);
  }
  return out;
}

/** Activity concentration [Bq/mL] at implant on grid g, optionally decayed to a scan `delayH` later. */
export function activityImage(g: Geometry, regions: Int8Array, opts: { isotope?: Isotope; scanDelayH?: number; countsPerBq?: number } = {}): Float32Array {
  const out = new Float32Array(regions.length);
  let f = 1;
  if (opts.scanDelayH) f = Math.exp((-Math.LN2 * opts.scanDelayH) / NUCLIDES[opts.isotope ?? 'Y90'].halfLifeH);
  if (opts.countsPerBq) {
    // counts image: counts per voxel = activity [Bq] x sensitivity (integer-valued)
    const vMl = (g.spacingMm[0] * g.spacingMm[1] * g.spacingMm[2]) / 1000;
    for (let n = 0; n < out.length; n++) out[n] = regions[n] >= 0 ? Math.round(REGIONS[regions[n]].activityBqPerMl * vMl * opts.countsPerBq) : 0;
    return out;
  }
  for (let n = 0; n < out.length; n++) out[n] = regions[n] >= 0 ? REGIONS[regions[n]].activityBqPerMl * f : 0;
  return out;
}

/** CT [HU] sampled at the voxel centres of grid g (any grid: finer, coarser or rotated). */
export function ctImage(g: Geometry): Float32Array {
  const rm = regionMap(g);
  const out = new Float32Array(rm.length);
  for (let n = 0; n < out.length; n++) out[n] = rm[n] >= 0 ? REGIONS[rm[n]].hu : AIR_HU;
  return out;
}

/**
 * Segmentation on a grid twice as fine as the activity grid (each activity voxel = 2x2x2 segmentation voxels, all
 * carrying the activity voxel's region), in the 'lps' orientation. Structures: Liver (liver + lesions), Lungs,
 * Tumor A..D. Liver and lungs are layer 0, tumours layer 1 (they overlap the liver).
 */
export function segmentationMasks(activity: Geometry, regions: Int8Array): StructureMask[] {
  if (activity.direction[0] !== 1 || activity.direction[4] !== 1 || activity.direction[8] !== 1) {
    throw new Error('segmentationMasks expects the lps activity grid');
  }
  const [nx, ny, nz] = activity.dims;
  const dims: [number, number, number] = [2 * nx, 2 * ny, 2 * nz];
  const sp = activity.spacingMm.map((s) => s / 2) as [number, number, number];
  const origin = activity.originLpsMm.map((o, a) => o - activity.spacingMm[a] / 4) as [number, number, number];
  const geometry: Geometry = { dims, spacingMm: sp, originLpsMm: origin, direction: activity.direction };
  const names = ['Liver', LUNG_STRUCTURE, 'Tumor A', 'Tumor B', 'Tumor C', 'Tumor D'];
  const belongs = (name: string, r: number): boolean => {
    if (r < 0) return false;
    const reg = REGIONS[r];
    if (name === 'Liver') return reg.role === 'liver' || reg.role === 'tumor';
    if (name === LUNG_STRUCTURE) return reg.role === 'lung';
    return reg.name === name;
  };
  return names.map((name) => {
    const occ = new Uint8Array(dims[0] * dims[1] * dims[2]);
    for (let k = 0; k < dims[2]; k++) for (let j = 0; j < dims[1]; j++) for (let i = 0; i < dims[0]; i++) {
      const r = regions[(i >> 1) + nx * ((j >> 1) + ny * (k >> 1))];
      if (belongs(name, r)) occ[i + dims[0] * (j + dims[1] * k)] = 255;
    }
    const reg = REGIONS.find((x) => x.name === name) ?? REGIONS.find((x) => x.role === 'lung')!;
    const layer = name === 'Liver' || name === LUNG_STRUCTURE ? 0 : 1;
    return { name, origin: `phantom layer ${layer}`, geometry, occupancy: occ, colorRgb: reg.colorRgb };
  });
}

export interface ExpectedStructure {
  name: string;
  role: string;
  voxelCount: number;
  volumeMl: number;
  massG: number;
  activityGBq: number;
  meanGy: number;
}

/**
 * Known answers for LDM on the canonical grid (no CT: tissue density `tissueRho`, lungs `lungRho`), from the
 * region map alone: sums over activity voxels of constant per-region values.
 */
export function expectedAnswers(activity: Geometry, regions: Int8Array, isotope: Isotope, tissueRho = 1.05, lungRho = 0.3) {
  const vMl = (activity.spacingMm[0] * activity.spacingMm[1] * activity.spacingMm[2]) / 1000;
  const cf = NUCLIDES[isotope].ldmJoulePerGBq;
  const acc = (pred: (r: Region) => boolean) => {
    let n = 0, mass = 0, act = 0, energyJ = 0;
    for (let v = 0; v < regions.length; v++) {
      if (regions[v] < 0) continue;
      const reg = REGIONS[regions[v]];
      if (!pred(reg)) continue;
      const rho = reg.role === 'lung' ? lungRho : tissueRho;
      n++;
      mass += rho * vMl;
      act += reg.activityBqPerMl * vMl;
      energyJ += cf * (reg.activityBqPerMl * vMl) / 1e9;
    }
    return { voxelCount: n, volumeMl: n * vMl, massG: mass, activityGBq: act / 1e9, meanGy: n ? energyJ / (mass / 1000) : 0 };
  };
  const out: ExpectedStructure[] = [
    { name: 'Liver', role: 'liver', ...acc((r) => r.role === 'liver' || r.role === 'tumor') },
    { name: LUNG_STRUCTURE, role: 'lung', ...acc((r) => r.role === 'lung') },
    ...REGIONS.filter((r) => r.role === 'tumor').map((t) => ({ name: t.name, role: 'tumor', ...acc((r) => r.name === t.name) })),
    { name: 'Normal liver', role: 'normal-liver', ...acc((r) => r.role === 'liver') },
  ];
  const field = acc(() => true);
  const liver = out[0], lungs = out[1];
  return {
    isotope,
    structures: out,
    activityInFieldGBq: field.activityGBq,
    /** LSF measured from counts: lung / (lung + liver). */
    lungShuntFraction: lungs.activityGBq / (lungs.activityGBq + liver.activityGBq),
  };
}
