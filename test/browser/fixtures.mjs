/**
 * The demo case of the browser tests: a small synthetic case folder as `dosimetry dose` writes it (dose.nii.gz,
 * report.json, structures.csv) plus its inputs (CT, activity, two label maps), written with a minimal NIfTI-1 writer.
 * Swap `makeDemoCase` for the real demo output (data/phantoms) once the pipeline produces it; the tests only use
 * the returned `truth`.
 *
 * Geometry on purpose differs between volumes so that world (LPS) alignment is exercised: the CT is 64x64x40 at
 * 4x4x5 mm; the dose and activity are on a coarser grid (6x7x7 mm) whose first index axis runs towards patient
 * right (direction column 0 = -x), so any index-space shortcut draws the tumour in the wrong place.
 * Dose is piecewise constant: tumour 230 Gy, rest of liver 40 Gy, lung 12 Gy, elsewhere 0.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

/** NIfTI-1 datatype codes (nifti1.h). */
const DT = { uint8: [2, 8], int16: [4, 16], float32: [16, 32] };

/**
 * Writes a NIfTI-1 single file (.nii.gz): sform (code 1) from the LPS geometry converted to RAS (rows 0 and 1
 * negated), xyzt_units = mm, scl_slope 1.
 * @param {string} path
 * @param {{dims:number[], spacingMm:number[], originLpsMm:number[], direction:number[]}} g direction column-major
 * @param {Uint8Array|Int16Array|Float32Array} data x-fastest
 */
export function writeNifti(path, g, data) {
  const type = data instanceof Float32Array ? 'float32' : data instanceof Int16Array ? 'int16' : 'uint8';
  const [code, bitpix] = DT[type];
  const h = new DataView(new ArrayBuffer(352));
  h.setInt32(0, 348, true);
  [3, g.dims[0], g.dims[1], g.dims[2], 1, 1, 1, 1].forEach((d, i) => h.setInt16(40 + 2 * i, d, true));
  h.setInt16(70, code, true);
  h.setInt16(72, bitpix, true);
  [1, g.spacingMm[0], g.spacingMm[1], g.spacingMm[2], 0, 0, 0, 0].forEach((p, i) => h.setFloat32(76 + 4 * i, p, true));
  h.setFloat32(108, 352, true);
  h.setFloat32(112, 1, true);
  h.setUint8(123, 2);
  h.setInt16(254, 1, true); // sform_code
  for (let row = 0; row < 3; row++) {
    const sign = row < 2 ? -1 : 1; // LPS -> RAS
    for (let c = 0; c < 3; c++) h.setFloat32(280 + 16 * row + 4 * c, sign * g.direction[row + 3 * c] * g.spacingMm[c], true);
    h.setFloat32(280 + 16 * row + 12, sign * g.originLpsMm[row], true);
  }
  [0x6e, 0x2b, 0x31, 0].forEach((b, i) => h.setUint8(344 + i, b));
  const body = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const out = new Uint8Array(352 + body.length);
  out.set(new Uint8Array(h.buffer), 0);
  out.set(body, 352);
  writeFileSync(path, gzipSync(out));
}

/** World LPS position [mm] of voxel (i, j, k). */
export function indexToLps(g, i, j, k) {
  const d = g.direction, s = g.spacingMm, o = g.originLpsMm;
  return [0, 1, 2].map((r) => o[r] + d[r] * s[0] * i + d[r + 3] * s[1] * j + d[r + 6] * s[2] * k);
}

/** Fills a volume from a function of the LPS position of each voxel centre. */
function fill(g, Type, f) {
  const [nx, ny, nz] = g.dims;
  const out = new Type(nx * ny * nz);
  let n = 0;
  for (let k = 0; k < nz; k++) for (let j = 0; j < ny; j++) for (let i = 0; i < nx; i++) out[n++] = f(indexToLps(g, i, j, k));
  return out;
}

const inEllipsoid = (p, c, r) => ((p[0] - c[0]) / r[0]) ** 2 + ((p[1] - c[1]) / r[1]) ** 2 + ((p[2] - c[2]) / r[2]) ** 2 <= 1;

/** The analytic phantom: regions by LPS position. */
export const PHANTOM = {
  body: { centre: [0, 0, 0], radii: [115, 85, 1e9] },
  liver: { centre: [-45, 0, -5], radii: [55, 48, 42] },
  tumour: { centre: [-52, -6, 2], radii: [18, 18, 18] },
  lung: { centre: [-40, 10, 72], radii: [42, 42, 18] },
  doseGy: { tumour: 230, liver: 40, lung: 12 },
  hu: { air: -1000, body: 30, liver: 60, tumour: 90, lung: -800 },
};

function region(p) {
  if (inEllipsoid(p, PHANTOM.tumour.centre, PHANTOM.tumour.radii)) return 'tumour';
  if (inEllipsoid(p, PHANTOM.liver.centre, PHANTOM.liver.radii)) return 'liver';
  if (inEllipsoid(p, PHANTOM.lung.centre, PHANTOM.lung.radii)) return 'lung';
  if (inEllipsoid(p, PHANTOM.body.centre, PHANTOM.body.radii)) return 'body';
  return 'air';
}

/** Dose [Gy] at an LPS position (piecewise constant). */
export function doseAtLps(p) {
  return PHANTOM.doseGy[region(p)] ?? 0;
}

/** Nearest-voxel value of a volume at an LPS position (grids here have direction +-1 on the diagonal). */
function sampleNearest(g, data, p) {
  const idx = [0, 1, 2].map((a) => Math.floor((p[a] - g.originLpsMm[a]) / (g.direction[a + 3 * a] * g.spacingMm[a]) + 0.5));
  if (idx.some((v, a) => v < 0 || v >= g.dims[a])) return 0;
  return data[idx[0] + g.dims[0] * (idx[1] + g.dims[1] * idx[2])];
}

/** Per-structure statistics of a dose over a mask on the CT grid (voxel weights equal): the fixture's report. */
function stats(name, role, mask, ctGrid, doseGrid, dose) {
  const doses = [];
  for (let n = 0; n < mask.length; n++) {
    if (!mask[n]) continue;
    const i = n % ctGrid.dims[0], j = Math.floor(n / ctGrid.dims[0]) % ctGrid.dims[1], k = Math.floor(n / (ctGrid.dims[0] * ctGrid.dims[1]));
    doses.push(sampleNearest(doseGrid, dose, indexToLps(ctGrid, i, j, k)));
  }
  doses.sort((a, b) => a - b);
  const count = doses.length;
  const voxelMl = (ctGrid.spacingMm[0] * ctGrid.spacingMm[1] * ctGrid.spacingMm[2]) / 1000;
  const mean = doses.reduce((s, d) => s + d, 0) / count;
  const atLeast = (x) => doses.filter((d) => d >= x).length / count;
  const dx = (pct) => doses[Math.max(0, Math.ceil(count * (1 - pct / 100)) - 1)];
  const maxD = doses[count - 1];
  const doseGy = [];
  const volumeFraction = [];
  for (let d = 0; d <= Math.ceil(maxD) + 1; d += 1) {
    doseGy.push(d);
    volumeFraction.push(atLeast(d));
  }
  return {
    name, role, volumeMl: count * voxelMl, massG: count * voxelMl * 1.05, activityGBq: 0,
    meanGy: mean, minGy: doses[0], maxGy: maxD, d50Gy: dx(50), d70Gy: dx(70), d90Gy: dx(90), d98Gy: dx(98),
    v100: atLeast(100), v150: atLeast(150), v205: atLeast(205), dvh: { doseGy, volumeFraction },
  };
}

/**
 * Writes the demo case under `dir`: `dir/inputs/{ct,activity,liver-seg,lesions}.nii.gz` and the case folder
 * `dir/case/{dose.nii.gz,report.json,structures.csv}`. `ctDims` lets the benchmark make a large CT.
 * Returns the case folder and the analytic truth the tests check against.
 */
export function makeDemoCase(dir, { ctDims = [64, 64, 40], ctSpacingMm } = {}) {
  const inputs = join(dir, 'inputs');
  const caseDir = join(dir, 'case');
  mkdirSync(inputs, { recursive: true });
  mkdirSync(caseDir, { recursive: true });
  const spacing = ctSpacingMm ?? [256 / ctDims[0], 256 / ctDims[1], 200 / ctDims[2]];
  const ctGrid = { dims: ctDims, spacingMm: spacing, originLpsMm: [-128 + spacing[0] / 2, -128 + spacing[1] / 2, -100 + spacing[2] / 2], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] };
  const doseGrid = { dims: [40, 32, 26], spacingMm: [6, 7, 7], originLpsMm: [117, -110, -90], direction: [-1, 0, 0, 0, 1, 0, 0, 0, 1] };
  const ct = fill(ctGrid, Int16Array, (p) => PHANTOM.hu[region(p)]);
  const dose = fill(doseGrid, Float32Array, doseAtLps);
  const activity = fill(doseGrid, Float32Array, (p) => doseAtLps(p) * 2.0e4); // Bq/mL, proportional to dose
  const liverSeg = fill(ctGrid, Uint8Array, (p) => (['liver', 'tumour'].includes(region(p)) ? 1 : region(p) === 'lung' ? 2 : 0));
  const lesions = fill(ctGrid, Uint8Array, (p) => (region(p) === 'tumour' ? 1 : 0));
  const paths = {
    ct: join(inputs, 'ct.nii.gz'),
    activity: join(inputs, 'activity.nii.gz'),
    liverSeg: join(inputs, 'liver-seg.nii.gz'),
    lesions: join(inputs, 'lesions.nii.gz'),
  };
  writeNifti(paths.ct, ctGrid, ct);
  writeNifti(paths.activity, doseGrid, activity);
  writeNifti(paths.liverSeg, ctGrid, liverSeg);
  writeNifti(paths.lesions, ctGrid, lesions);
  writeNifti(join(caseDir, 'dose.nii.gz'), doseGrid, dose);

  const liverMask = liverSeg.map((v) => (v === 1 ? 1 : 0));
  const lungMask = liverSeg.map((v) => (v === 2 ? 1 : 0));
  const normalMask = liverMask.map((v, n) => (v && !lesions[n] ? 1 : 0));
  const structures = [
    stats('Liver', 'liver', liverMask, ctGrid, doseGrid, dose),
    stats('Lung', 'lung', lungMask, ctGrid, doseGrid, dose),
    stats('Tumor A', 'tumor', lesions, ctGrid, doseGrid, dose),
    stats('Normal liver', 'normal-liver', normalMask, ctGrid, doseGrid, dose),
  ];
  const report = {
    schemaVersion: 1, isotope: 'Y90', method: 'ldm', backend: 'cpu', activityInFieldGBq: 1.5,
    structures,
    provenance: {
      version: 'fixture',
      inputs: [
        { role: 'activity', path: paths.activity, sha256: '' },
        { role: 'segmentation', path: paths.liverSeg, sha256: '' },
        { role: 'segmentation', path: paths.lesions, sha256: '' },
        { role: 'ct', path: paths.ct, sha256: '' },
      ],
      parameters: { activityUnit: 'bq-per-ml', liver: 'Liver', tumors: ['Tumor A'], lung: 'Lung', labels: ['1=Liver,2=Lung', '1=Tumor A'] },
    },
  };
  writeFileSync(join(caseDir, 'report.json'), JSON.stringify(report, null, 1));
  const cols = ['name', 'role', 'volumeMl', 'meanGy', 'd70Gy', 'v100', 'v205'];
  writeFileSync(join(caseDir, 'structures.csv'), [cols.join(','), ...structures.map((s) => cols.map((c) => s[c]).join(','))].join('\n') + '\n');
  return {
    caseDir,
    inputsDir: inputs,
    report,
    truth: {
      tumour: { name: 'Tumor A', centreLps: PHANTOM.tumour.centre, radiusMm: PHANTOM.tumour.radii[0], doseGy: PHANTOM.doseGy.tumour },
      normalLiverName: 'Normal liver',
      structureNames: structures.map((s) => s.name),
    },
  };
}
