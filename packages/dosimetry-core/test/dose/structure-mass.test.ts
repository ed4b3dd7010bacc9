/**
 * Structure masses with a CT: the mass of a structure is the CT density integrated over the structure's own part of
 * each activity voxel, not its occupancy times the voxel's mean density (which counts a lung voxel at the chest wall at
 * the density of lung and wall together). Phantom: 1 mm CT nested in 4 mm activity voxels, a lung / soft-tissue
 * boundary a quarter into a voxel along x and y, a lung mask on the CT grid ending at it. Oracles written here, over
 * the CT voxels: mass = sum o rho Vct, mean dose = sum o rho Vct D(activity voxel holding it) / mass, with D = CF A / rho
 * of that voxel's mean density; on both back ends. Also: RTSTRUCT contours cropped to their bounding box on a fine grid.
 */
import { describe, expect, it } from 'vitest';
import { huToDensityGPerMl } from '../../src/dose/ct-density.ts';
import { computeDoseCase, type DoseCaseOptions } from '../../src/dose/pipeline.ts';
import { rasterizeContours, type RoiContours } from '../../src/io/dicom/rtstruct.ts';
import { AIR_DENSITY_THRESHOLD_G_PER_ML, NUCLIDES } from '../../src/units/index.ts';
import { IDENTITY_DIRECTION, type Geometry, indexToWorld, voxelVolumeMl, worldToIndex } from '../../src/volume/geometry.ts';
import { maskToGrid } from '../../src/volume/resample.ts';
import type { StructureMask } from '../../src/volume/structure.ts';
import { makeVolume } from '../../src/volume/volume.ts';
import { gpuForTests } from '../gpu/gpu-context.ts';

const gpu = await gpuForTests();
const CF = NUCLIDES.Y90.ldmJoulePerGBq;
const A_BQ_PER_ML = 1000;

/** Activity grid: 6 x 5 x 4 voxels of 4 mm, voxel (0,0,0) centred at the origin (extent -2..22, -2..18, -2..14 mm). */
const act: Geometry = { dims: [6, 5, 4], spacingMm: [4, 4, 4], originLpsMm: [0, 0, 0], direction: IDENTITY_DIRECTION };
/** CT of 1 mm voxels covering exactly the activity grid: every activity voxel holds 4 x 4 x 4 CT voxels. */
const ctGrid: Geometry = { dims: [24, 20, 16], spacingMm: [1, 1, 1], originLpsMm: [-1.5, -1.5, -1.5], direction: IDENTITY_DIRECTION };
const [cx, cy, cz] = ctGrid.dims;
const nCt = cx * cy * cz;

/**
 * HU at a CT voxel centre: lung (-865..-705 HU, varying with z) for x < 9 and y < 11 mm, a rib (700 HU) in 9 <= x < 11
 * mm, soft tissue (40 HU) elsewhere. The lung's boundary lies inside activity voxels: along x three quarters into
 * i = 2 (6..10 mm, the rest rib), along y a quarter into j = 3 (10..14 mm): there the voxel's mean density is far above
 * the lung's.
 */
function hu(x: number, y: number, z: number): number {
  if (x < 9 && y < 11) return -850 + 10 * z;
  if (x >= 9 && x < 11) return 700;
  return 40;
}
/** Lung mask on the CT grid: the lung region, with a half-occupied row of CT voxels on its y edge (partial volume). */
function lungOcc(x: number, y: number): number {
  if (!(x < 9 && y < 11)) return 0;
  return y > 10 ? 128 : 255;
}

const ctData = new Float32Array(nCt);
const lungOccupancy = new Uint8Array(nCt);
{
  const p = [0, 0, 0];
  let n = 0;
  for (let k = 0; k < cz; k++) for (let j = 0; j < cy; j++) for (let i = 0; i < cx; i++, n++) {
    indexToWorld(ctGrid, i, j, k, p);
    ctData[n] = hu(p[0], p[1], p[2]);
    lungOccupancy[n] = lungOcc(p[0], p[1]);
  }
}
const lungMask: StructureMask = { name: 'Lung', origin: 'test: on the CT grid', geometry: ctGrid, occupancy: lungOccupancy };

/** Activity voxel holding CT voxel n (the grids are nested: each CT voxel lies in exactly one). */
function actVoxelOf(n: number): number {
  const i = n % cx, j = Math.floor(n / cx) % cy, k = Math.floor(n / (cx * cy));
  return Math.floor(i / 4) + act.dims[0] * (Math.floor(j / 4) + act.dims[1] * Math.floor(k / 4));
}

/** Oracle: mean CT density of each activity voxel (its 64 CT voxels), and the LDM dose it gets. */
const voxelRho = new Float64Array(act.dims[0] * act.dims[1] * act.dims[2]);
for (let n = 0; n < nCt; n++) voxelRho[actVoxelOf(n)] += huToDensityGPerMl(ctData[n]) / 64;
/** LDM dose [Gy] of A [Bq/mL] in tissue of density rho [g/mL]: CF [J/GBq] x A 1e-9 [GBq/mL] / (rho 1e-3 [kg/mL]). */
const doseOf = (v: number) => (voxelRho[v] < AIR_DENSITY_THRESHOLD_G_PER_ML ? 0 : (CF * A_BQ_PER_ML * 1e-6) / voxelRho[v]);

/** Oracle: the lung's mass [g] and mass-weighted mean dose [Gy], over the CT voxels inside the mask. */
function lungOracle(): { massG: number; meanGy: number; naiveMassG: number } {
  const vCt = voxelVolumeMl(ctGrid);
  let mass = 0, energy = 0;
  const occOfVoxel = new Float64Array(voxelRho.length);
  for (let n = 0; n < nCt; n++) {
    if (lungOccupancy[n] === 0) continue;
    const m = (lungOccupancy[n] / 255) * huToDensityGPerMl(ctData[n]) * vCt;
    mass += m;
    energy += m * doseOf(actVoxelOf(n));
    occOfVoxel[actVoxelOf(n)] += lungOccupancy[n] / 255 / 64;
  }
  // what occupancy x the whole voxel's mean density gives: too heavy at the boundary
  let naive = 0;
  occOfVoxel.forEach((w, v) => (naive += w * voxelRho[v] * voxelVolumeMl(act)));
  return { massG: mass, meanGy: energy / mass, naiveMassG: naive };
}

function baseCase(over: Partial<DoseCaseOptions> = {}): DoseCaseOptions {
  const n = act.dims[0] * act.dims[1] * act.dims[2];
  return {
    activity: makeVolume(act, new Float32Array(n).fill(A_BQ_PER_ML)),
    activityUnit: 'bq-per-ml',
    isotope: 'Y90',
    method: 'ldm',
    segmentations: [
      { path: 'activity grid', masks: [{ name: 'Liver', origin: 'test: on the activity grid', geometry: act, occupancy: new Uint8Array(n).fill(255) }] },
      { path: 'CT grid', masks: [lungMask] },
    ],
    liver: 'Liver',
    lung: 'Lung',
    scanDelayH: 0,
    ct: makeVolume(ctGrid, ctData),
    backend: 'cpu',
    ...over,
  };
}

describe('structure mass from the CT over the structure\'s own part of each voxel', () => {
  const want = lungOracle();

  it('the oracle differs from occupancy x the voxel\'s mean density (the test can fail)', () => {
    // lung (0.15..0.3 g/mL) shares its boundary voxels with rib and soft tissue: the voxel mean counts them too heavy
    expect(want.naiveMassG / want.massG - 1).toBeGreaterThan(0.2);
  });

  for (const backend of gpu ? (['cpu', 'webgpu'] as const) : (['cpu'] as const)) {
    it(`${backend}: the lung's mass is sum o rho Vct over its CT voxels, its mean dose the mass-weighted mean of the voxel doses`, async () => {
      const r = await computeDoseCase(baseCase({ backend }));
      expect(r.backend).toBe(backend);
      const lung = r.structures.find((s) => s.name === 'Lung')!;
      // float32 part masses and f32 GPU partial sums: 1e-5 relative
      expect(Math.abs(lung.massG / want.massG - 1), `mass ${lung.massG} g vs ${want.massG} g`).toBeLessThan(1e-5);
      expect(Math.abs(lung.meanGy / want.meanGy - 1), `mean ${lung.meanGy} Gy vs ${want.meanGy} Gy`).toBeLessThan(1e-5);
      // volume stays the occupancy-weighted one: the mask's own volume (sampling is exact on nested grids)
      const maskMl = lungOccupancy.reduce((s, o) => s + o / 255, 0) * voxelVolumeMl(ctGrid);
      expect(Math.abs(lung.volumeMl / maskMl - 1)).toBeLessThan(1e-5);
      // the dose map itself is unchanged: CF A / (mean density of the voxel)
      for (let v = 0; v < voxelRho.length; v++) expect(Math.abs(r.dose.data[v] - doseOf(v))).toBeLessThanOrEqual(1e-5 * doseOf(v));
      // a mask on the activity grid knows nothing finer than the voxel: w x the voxel's mean density, as before
      const liver = r.structures.find((s) => s.name === 'Liver')!;
      const liverMass = voxelRho.reduce((s, x) => s + x, 0) * voxelVolumeMl(act);
      expect(Math.abs(liver.massG / liverMass - 1)).toBeLessThan(1e-5);
      expect(r.gridStructures.find((s) => s.name === 'Liver')!.partMassGPerMl).toBeUndefined();
      expect(r.ctParameters?.structureMass).toMatch(/8x8x8 sub-samples per voxel for Lung/);
      expect(r.ctParameters?.structureMassSubsamples).toEqual({ Lung: [8, 8, 8] });
    });
  }

  it('the derived normal liver takes its part masses from the CT too (liver on the CT grid minus a tumour)', async () => {
    // liver: the whole CT grid; tumour: the lung region. Normal liver = the rest: its mass is the rest's CT mass.
    const liverFine: StructureMask = { name: 'Liver', origin: 'test', geometry: ctGrid, occupancy: new Uint8Array(nCt).fill(255) };
    const r = await computeDoseCase(baseCase({ segmentations: [{ path: 'CT grid', masks: [liverFine, { ...lungMask, name: 'Tumor' }] }], lung: undefined, tumors: ['Tumor'] }));
    const total = Array.from(ctData).reduce((s, h) => s + huToDensityGPerMl(h), 0) * voxelVolumeMl(ctGrid);
    const normal = r.structures.find((s) => s.role === 'normal-liver')!;
    expect(Math.abs(normal.massG / (total - want.massG) - 1)).toBeLessThan(1e-5);
    expect(Math.abs(r.structures.find((s) => s.name === 'Tumor')!.massG / want.massG - 1)).toBeLessThan(1e-5);
  });

  it('without a CT nothing changes: no part masses, w x the default density map (0.30 g/mL lung share, 1.05 the rest)', async () => {
    const r = await computeDoseCase(baseCase({ ct: undefined }));
    for (const s of r.gridStructures) expect(s.partMassGPerMl).toBeUndefined();
    expect(r.ctParameters).toBeUndefined();
    const lung = r.structures.find((s) => s.name === 'Lung')!;
    const g = r.gridStructures.find((s) => s.name === 'Lung')!;
    let mass = 0;
    g.weights.forEach((w) => (mass += w * (w * 0.3 + (1 - w) * 1.05) * voxelVolumeMl(act)));
    expect(Math.abs(lung.massG / mass - 1)).toBeLessThan(1e-6);
  });

  it('maskToGrid: part masses beside the weights only with a density image and a mask finer than the voxels', () => {
    const density = { image: makeVolume(ctGrid, ctData), transform: huToDensityGPerMl, outsideGPerMl: 1.05 };
    const fine = maskToGrid(lungMask, act, { density });
    expect(fine.structure.partMassGPerMl).toHaveLength(fine.structure.weights.length);
    expect(fine.massSubsamples).toEqual([8, 8, 8]);
    // the same weights as without the density image (same sub-samples here)
    expect(fine.structure.weights).toEqual(maskToGrid(lungMask, act).structure.weights);
    for (let k = 0; k < fine.structure.weights.length; k++) {
      expect(fine.structure.partMassGPerMl![k]).toBeLessThanOrEqual(fine.structure.weights[k] * 1.7 + 1e-6);
    }
    expect(maskToGrid(lungMask, act, { density, mode: 'nearest' }).structure.partMassGPerMl).toBeUndefined();
    const onGrid: StructureMask = { name: 'box', origin: 'test', geometry: act, occupancy: new Uint8Array(120).fill(255) };
    expect(maskToGrid(onGrid, act, { density }).structure.partMassGPerMl).toBeUndefined();
  });

  it('maskToGrid: a mask reaching beyond the CT takes the outside density there', () => {
    // CT covering x < 10 mm only (CT voxels 0..10 of 24): the lung mask (x < 9) lies inside it; a box mask over the
    // whole grid has its part beyond the CT at 1.05 g/mL
    const half: Geometry = { ...ctGrid, dims: [12, cy, cz] };
    const halfData = new Float32Array(12 * cy * cz);
    for (let n = 0; n < halfData.length; n++) halfData[n] = ctData[(n % 12) + cx * Math.floor(n / 12)];
    const box: StructureMask = { name: 'box', origin: 'test', geometry: ctGrid, occupancy: new Uint8Array(nCt).fill(255) };
    const r = maskToGrid(box, act, { density: { image: makeVolume(half, halfData), transform: huToDensityGPerMl, outsideGPerMl: 1.05 } });
    let got = 0;
    for (const m of r.structure.partMassGPerMl!) got += m * voxelVolumeMl(act);
    let wantG = 0;
    for (let n = 0; n < nCt; n++) wantG += (n % cx < 12 ? huToDensityGPerMl(ctData[n]) : 1.05) * voxelVolumeMl(ctGrid);
    expect(Math.abs(got / wantG - 1)).toBeLessThan(1e-5);
  });
});

describe('masks on their own crops of one lattice (RTSTRUCT ROIs on the CT\'s grid) combine without losing a part', () => {
  // 1 mm lattice; liver crop x 0..19 mm, tumour crop x 16..31 mm drawn apart from the liver (the liver excludes it,
  // as label maps do): the tumour reaches 12 mm beyond the liver's crop
  const crop = (x0: number, nx: number): Geometry => ({ dims: [nx, 12, 8], spacingMm: [1, 1, 1], originLpsMm: [x0, 0, 0], direction: IDENTITY_DIRECTION });
  const liverGrid = crop(0, 20), tumorGrid = crop(16, 16);
  const liver: StructureMask = { name: 'Liver', origin: 'test', geometry: liverGrid, occupancy: Uint8Array.from({ length: 20 * 96 }, (_, n) => (n % 20 < 16 ? 255 : 0)) };
  const tumor: StructureMask = { name: 'Tumor', origin: 'test', geometry: tumorGrid, occupancy: new Uint8Array(16 * 96).fill(255) };
  const grid: Geometry = { dims: [9, 4, 3], spacingMm: [4, 4, 4], originLpsMm: [1.5, 1.5, 1.5], direction: IDENTITY_DIRECTION };

  it('the tumour lies outside the liver: the derived whole liver holds all of both', async () => {
    const r = await computeDoseCase({
      activity: makeVolume(grid, new Float32Array(108).fill(1000)),
      activityUnit: 'bq-per-ml',
      isotope: 'Y90',
      method: 'ldm',
      segmentations: [{ path: 'crops', masks: [liver, tumor] }],
      liver: 'Liver',
      tumors: ['Tumor'],
      scanDelayH: 0,
      backend: 'cpu',
    });
    const whole = r.structures.find((s) => s.name === 'Whole liver')!;
    expect(whole.role).toBe('liver');
    // 16 + 16 mm x 12 x 8 mm of 1 mm voxels: 3.072 mL
    expect(whole.volumeMl).toBeCloseTo((32 * 96) / 1000, 6);
  });
});

describe('RTSTRUCT contours onto a fine grid, cropped to each ROI', () => {
  const grid: Geometry = { dims: [200, 180, 30], spacingMm: [0.8, 0.8, 2], originLpsMm: [-80, -70, -20], direction: IDENTITY_DIRECTION };
  /** A square-ish polygon per plane z = -10..10 mm (every 2 mm), and one reaching beyond the grid's x extent. */
  const polygon = (x0: number, y0: number, x1: number, y1: number, z: number) => Float64Array.from([x0, y0, z, x1, y0, z, x1 + 3.3, (y0 + y1) / 2, z, x1, y1, z, x0, y1, z]);
  const roi = (number: number, name: string, x0: number, x1: number): RoiContours => ({
    number,
    name,
    contours: Array.from({ length: 11 }, (_, k) => ({ pointsLpsMm: polygon(x0, -12.3, x1, 17.9, -10 + 2 * k) })),
  });
  const rois = [roi(1, 'inside', -20.37, 14.11), roi(2, 'beyond', 60.2, 95.5)];

  it('gives the occupancy of the full-grid rasterisation on a small grid of the same lattice, and keeps what lies beyond the grid', () => {
    const full = rasterizeContours(rois, 'test', { referenceGrid: grid });
    const crop = rasterizeContours(rois, 'test', { referenceGrid: grid, cropToContours: true });
    const p = [0, 0, 0], q = [0, 0, 0];
    for (let r = 0; r < 2; r++) {
      const c = crop[r];
      expect(c.geometry.dims[0] * c.geometry.dims[1] * c.geometry.dims[2]).toBeLessThan((grid.dims[0] * grid.dims[1] * grid.dims[2]) / 4);
      expect(c.geometry.spacingMm).toEqual(grid.spacingMm);
      let inGrid = 0, beyond = 0, offLattice = 0, differ = 0;
      const [nx, ny, nz] = c.geometry.dims;
      for (let k = 0, n = 0; k < nz; k++) for (let j = 0; j < ny; j++) for (let i = 0; i < nx; i++, n++) {
        indexToWorld(c.geometry, i, j, k, p);
        worldToIndex(grid, p[0], p[1], p[2], q);
        const [a, b, d] = q.map((x) => Math.round(x));
        // the crop's voxels lie on the full grid's lattice
        if (Math.abs(q[0] - a) + Math.abs(q[1] - b) + Math.abs(q[2] - d) > 1e-6) offLattice++;
        if (a >= 0 && b >= 0 && d >= 0 && a < grid.dims[0] && b < grid.dims[1] && d < grid.dims[2]) {
          if (c.occupancy[n] !== full[r].occupancy[a + grid.dims[0] * (b + grid.dims[1] * d)]) differ++;
          inGrid += c.occupancy[n];
        } else beyond += c.occupancy[n];
      }
      expect(offLattice).toBe(0);
      expect(differ).toBe(0);
      // every occupied voxel of the full rasterisation is in the crop
      expect(inGrid).toBe(full[r].occupancy.reduce((s, o) => s + o, 0));
      if (r === 0) expect(beyond).toBe(0);
      else expect(beyond).toBeGreaterThan(0); // x 60..99 mm reaches past the grid's 79.2 mm edge
    }
  });
});
