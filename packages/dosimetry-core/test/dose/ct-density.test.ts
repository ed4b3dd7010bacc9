/**
 * CT densities on the activity grid: the mean of rho = max(0, (HU + 1000) / 1000) over the CT voxels inside each
 * activity voxel (not the CT at the voxel centre), any orientation; a CT that is not in HU, or that does not cover the
 * activity, is refused (or warned about, with the density used outside). Oracles are written here, independently of
 * src/volume/resample.ts: sums over the CT voxels a voxel holds, and the analytic HU function sampled in world space.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkCtIsHounsfield, ctDensityOnGrid, huToDensityGPerMl } from '../../src/dose/ct-density.ts';
import { computeDoseCase, type DoseCaseOptions } from '../../src/dose/pipeline.ts';
import { GridError, InputError } from '../../src/errors.ts';
import { encodeNifti } from '../../src/io/nifti.ts';
import { AIR_DENSITY_THRESHOLD_G_PER_ML, NUCLIDES } from '../../src/units/index.ts';
import { IDENTITY_DIRECTION, type Geometry, type Mat3ColMajor, indexToWorld, voxelVolumeMl } from '../../src/volume/geometry.ts';
import { meanOverVoxels, resampleLinear } from '../../src/volume/resample.ts';
import { makeVolume } from '../../src/volume/volume.ts';
import { runMain, tempDir } from '../dicom/helpers.ts';

const CF = NUCLIDES.Y90.ldmJoulePerGBq;
/** LDM dose [Gy] of A [Bq/mL] in tissue of density rho [g/mL]: CF [J/GBq] x A 1e-9 [GBq/mL] / (rho 1e-3 [kg/mL]). */
const ldm = (aBqPerMl: number, rho: number) => (CF * aBqPerMl * 1e-6) / rho;

/** Activity grid: 6 x 5 x 4 voxels of 4 mm, voxel (0,0,0) centred at the origin. */
const act: Geometry = { dims: [6, 5, 4], spacingMm: [4, 4, 4], originLpsMm: [0, 0, 0], direction: IDENTITY_DIRECTION };
/** CT of 0.5 mm voxels covering exactly the activity grid: every activity voxel holds 8 x 8 x 8 CT voxels. */
const ctGrid: Geometry = { dims: [48, 40, 32], spacingMm: [0.5, 0.5, 0.5], originLpsMm: [-1.75, -1.75, -1.75], direction: IDENTITY_DIRECTION };

/**
 * HU at a world point: a lung / soft-tissue boundary at x = 11 mm (a quarter into activity voxel i = 3, whose centre at
 * x = 12 mm is in tissue), and in the slab z > 10 mm (k = 3) a 1.5 mm checkerboard of scanner padding (-1024 HU) and
 * water, whose cells do not fit the 4 mm voxels.
 */
function hu(x: number, y: number, z: number): number {
  if (z > 10) return (Math.floor((x + 100) / 1.5) + Math.floor((y + 100) / 1.5) + Math.floor((z + 100) / 1.5)) % 2 ? -1024 : 0;
  return x < 11 ? -800 : 40;
}

function ctOn(g: Geometry, f: (x: number, y: number, z: number) => number): Float32Array {
  const out = new Float32Array(g.dims[0] * g.dims[1] * g.dims[2]);
  const p = [0, 0, 0];
  let n = 0;
  for (let k = 0; k < g.dims[2]; k++) for (let j = 0; j < g.dims[1]; j++) for (let i = 0; i < g.dims[0]; i++, n++) {
    indexToWorld(g, i, j, k, p);
    out[n] = f(p[0], p[1], p[2]);
  }
  return out;
}
const ctData = ctOn(ctGrid, hu);

/** Oracle: mean density of the 8 x 8 x 8 CT voxels inside each activity voxel (the grids are nested). */
function nestedMean(): Float64Array {
  const [nx, ny, nz] = act.dims;
  const out = new Float64Array(nx * ny * nz);
  for (let k = 0; k < nz; k++) for (let j = 0; j < ny; j++) for (let i = 0; i < nx; i++) {
    let s = 0;
    for (let c = 0; c < 8; c++) for (let b = 0; b < 8; b++) for (let a = 0; a < 8; a++) {
      const v = ctData[8 * i + a + 48 * (8 * j + b + 40 * (8 * k + c))];
      s += Math.max(0, (v + 1000) / 1000);
    }
    out[i + nx * (j + ny * k)] = s / 512;
  }
  return out;
}

function baseCase(over: Partial<DoseCaseOptions> = {}): DoseCaseOptions {
  const n = act.dims[0] * act.dims[1] * act.dims[2];
  return {
    activity: makeVolume(act, new Float32Array(n).fill(1000)),
    activityUnit: 'bq-per-ml',
    isotope: 'Y90',
    method: 'ldm',
    segmentations: [{ path: 'test', masks: [{ name: 'Liver', origin: 'test', geometry: act, occupancy: new Uint8Array(n).fill(255) }] }],
    liver: 'Liver',
    scanDelayH: 0,
    ct: makeVolume(ctGrid, ctData),
    backend: 'cpu',
    ...over,
  };
}

describe('CT density: mean over each activity voxel', () => {
  const want = nestedMean();

  it('the oracle differs from centre sampling where it matters (the test can fail)', () => {
    // voxel (3, 0, 0): 1/4 lung (0.2 g/mL) + 3/4 tissue (1.04 g/mL) = 0.83 g/mL; its centre is in tissue
    expect(want[3]).toBeCloseTo(0.25 * 0.2 + 0.75 * 1.04, 12);
    const centre = resampleLinear(makeVolume(ctGrid, ctData), act, -1000);
    expect(huToDensityGPerMl(centre[3])).toBeCloseTo(1.04, 6);
  });

  it('LDM dose and masses through computeDoseCase equal the oracle: boundary at a sub-voxel position, checkerboard, padding clamped', async () => {
    const r = await computeDoseCase(baseCase());
    const rho = r.densityGPerMl as Float32Array;
    for (let v = 0; v < want.length; v++) {
      // float32 storage of the density: 1e-6 relative
      expect(Math.abs(rho[v] - want[v]), `voxel ${v}`).toBeLessThan(1e-6 * want[v] + 1e-7);
      const d = r.dose.data[v];
      if (want[v] < AIR_DENSITY_THRESHOLD_G_PER_ML) expect(d).toBe(0);
      else expect(Math.abs(d / ldm(1000, want[v]) - 1), `dose voxel ${v}`).toBeLessThan(1e-5);
    }
    // the mass of the whole grid: sum of mean densities x voxel volume (64 mm^3 = 0.064 mL)
    const mass = want.reduce((s, x) => s + x, 0) * voxelVolumeMl(act);
    expect(Math.abs(r.structures.find((s) => s.name === 'Liver')!.massG / mass - 1)).toBeLessThan(1e-5);
    expect(r.ctParameters?.ctResampling).toMatch(/exact box average/);
    expect(r.ctParameters?.ctActivityShareInsideFov).toBe(1);
    expect(r.warnings.join('\n')).not.toMatch(/field of view/);
  });

  it('the same voxels described with permuted and flipped axes give the same densities (exact box path)', () => {
    // act' : index axes (i', j', k') = (k, -i, j): i' runs along +z, j' along -x, k' along +y; same voxel boxes.
    const [nx, ny, nz] = act.dims;
    // voxel (i', j', k') = (k, nx - 1 - i, j) sits where (i, j, k) does: origin x = 4 (nx - 1), y = z = 0
    const dir: Mat3ColMajor = [0, 0, 1, -1, 0, 0, 0, 1, 0];
    const g2: Geometry = { dims: [nz, nx, ny], spacingMm: [4, 4, 4], originLpsMm: [4 * (nx - 1), 0, 0], direction: dir };
    const a = meanOverVoxels(makeVolume(ctGrid, ctData), act, { transform: huToDensityGPerMl });
    const b = meanOverVoxels(makeVolume(ctGrid, ctData), g2, { transform: huToDensityGPerMl });
    expect(b.method).toBe('exact-box');
    for (let k = 0; k < nz; k++) for (let j = 0; j < ny; j++) for (let i = 0; i < nx; i++) {
      const v = i + nx * (j + ny * k);
      const v2 = k + nz * (nx - 1 - i + nx * j);
      expect(b.mean[v2]).toBe(a.mean[v]);
      expect(Math.abs(a.mean[v] - want[v])).toBeLessThan(1e-6);
    }
  });

  it('non-nested spacings (3 x 5 x 2.5 mm over 0.5 mm, offset by 0.3 mm): exact overlap weights', () => {
    // voxel boxes cut CT voxels: the oracle sums overlap lengths per axis (piecewise-constant CT), in float64
    const g: Geometry = { dims: [5, 4, 3], spacingMm: [3, 5, 2.5], originLpsMm: [1.3, 2.8, 1.55], direction: IDENTITY_DIRECTION };
    const r = meanOverVoxels(makeVolume(ctGrid, ctData), g, { transform: huToDensityGPerMl });
    expect(r.method).toBe('exact-box');
    const p = [0, 0, 0];
    for (let k = 0; k < 3; k++) for (let j = 0; j < 4; j++) for (let i = 0; i < 5; i++) {
      indexToWorld(g, i, j, k, p);
      const lo = p.map((c, a) => c - g.spacingMm[a] / 2), hi = p.map((c, a) => c + g.spacingMm[a] / 2);
      let s = 0, w = 0;
      for (let c = 0; c < 32; c++) for (let b = 0; b < 40; b++) for (let a = 0; a < 48; a++) {
        const x0 = -2 + 0.5 * a, y0 = -2 + 0.5 * b, z0 = -2 + 0.5 * c;
        const ov = Math.max(0, Math.min(hi[0], x0 + 0.5) - Math.max(lo[0], x0)) * Math.max(0, Math.min(hi[1], y0 + 0.5) - Math.max(lo[1], y0)) * Math.max(0, Math.min(hi[2], z0 + 0.5) - Math.max(lo[2], z0));
        if (ov > 0) {
          s += ov * huToDensityGPerMl(ctData[a + 48 * (b + 40 * c)]);
          w += ov;
        }
      }
      const v = i + 5 * (j + 4 * k);
      expect(Math.abs(r.mean[v] - s / w), `voxel ${i},${j},${k}`).toBeLessThan(1e-6);
      expect(Math.abs(r.insideFraction[v] - w / (3 * 5 * 2.5))).toBeLessThan(1e-6);
    }
  });

  it('oblique grid (rotated 30 degrees about z): sub-samples stay within 0.02 g/mL of the analytic mean, centre sampling does not', () => {
    const c = Math.cos(Math.PI / 6), s = Math.sin(Math.PI / 6);
    const g: Geometry = { dims: [3, 3, 2], spacingMm: [4, 4, 4], originLpsMm: [8, 4, 2], direction: [c, s, 0, -s, c, 0, 0, 0, 1] };
    // a finer CT (0.25 mm) of the lung / tissue boundary only, over the rotated grid's extent
    const f = (x: number) => (x < 11 ? -800 : 40);
    const fine: Geometry = { dims: [100, 100, 40], spacingMm: [0.25, 0.25, 0.25], originLpsMm: [0.125, 0.125, 0.125], direction: IDENTITY_DIRECTION };
    const ct = makeVolume(fine, ctOn(fine, (x) => f(x)));
    const r = meanOverVoxels(ct, g, { transform: huToDensityGPerMl });
    expect(r.method).toBe('sampled');
    const centre = resampleLinear(ct, g, -1000);
    const p = [0, 0, 0];
    let worstCentre = 0;
    for (let k = 0; k < 2; k++) for (let j = 0; j < 3; j++) for (let i = 0; i < 3; i++) {
      // analytic mean: the HU function at 40^3 points of the voxel, in world space
      let sum = 0;
      for (let cc = 0; cc < 40; cc++) for (let b = 0; b < 40; b++) for (let a = 0; a < 40; a++) {
        indexToWorld(g, i + (a + 0.5) / 40 - 0.5, j + (b + 0.5) / 40 - 0.5, k + (cc + 0.5) / 40 - 0.5, p);
        sum += huToDensityGPerMl(f(p[0]));
      }
      const v = i + 3 * (j + 3 * k);
      const truth = sum / 64000;
      worstCentre = Math.max(worstCentre, Math.abs(huToDensityGPerMl(centre[v]) - truth));
      // tolerance: 0.25 mm CT voxels and 6 x 6 x 3 nearest samples across a boundary with a 0.84 g/mL step
      expect(Math.abs(r.mean[v] - truth), `voxel ${i},${j},${k}`).toBeLessThan(0.02);
      expect(r.insideFraction[v]).toBe(1);
    }
    expect(worstCentre).toBeGreaterThan(0.1);
    expect(r.description).toMatch(/sub-samples/);
  });

  it('keeps the air rule on the averaged density: 97 % air gets no dose (warned), half air gets CF A / 0.5', async () => {
    // along x: voxel i holds air for x < xb(i) and water beyond; x-extent of voxel i is [4i - 2, 4i + 2]
    const fAir = (x: number, y: number, z: number) => {
      void y; void z;
      const i = Math.round(x / 4);
      const airShare = i === 0 ? 1 : i === 1 ? 0.97 : i === 2 ? 0.5 : 0;
      return x < 4 * i - 2 + 4 * airShare ? -1000 : 0;
    };
    // CT of 0.04 mm along x, so that 97 % of 4 mm (3.88 mm) falls on a CT voxel boundary
    const g: Geometry = { dims: [600, 5, 4], spacingMm: [0.04, 4, 4], originLpsMm: [-2 + 0.02, 0, 0], direction: IDENTITY_DIRECTION };
    const ct = makeVolume(g, ctOn(g, fAir));
    const r = await computeDoseCase(baseCase({ ct }));
    const rho = r.densityGPerMl as Float32Array;
    expect(rho[1]).toBeCloseTo(0.03, 5);
    expect(rho[2]).toBeCloseTo(0.5, 5);
    expect(r.dose.data[0]).toBe(0);
    expect(r.dose.data[1]).toBe(0);
    expect(Math.abs(r.dose.data[2] / ldm(1000, 0.5) - 1)).toBeLessThan(1e-5);
    expect(Math.abs(r.dose.data[3] / ldm(1000, 1) - 1)).toBeLessThan(1e-5);
    // 2 voxels of 6 along x, in each of 5 x 4 rows: 40 voxels, a third of the activity
    expect(r.warnings.join('\n')).toMatch(/^40 voxels with activity lie in air .* hold 33\.33 % of the activity/m);
  });
});

describe('CT field of view against the activity', () => {
  it('a CT that does not overlap the activity is refused, naming both grids', async () => {
    const far: Geometry = { ...ctGrid, originLpsMm: [500, 500, 500] };
    const err = await computeDoseCase(baseCase({ ct: makeVolume(far, ctData) })).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(GridError);
    expect((err as Error).message).toMatch(/does not overlap the activity image: none of the activity lies inside the CT's field of view \(CT: 48x40x32 voxels.*activity: 6x5x4 voxels/);
  });

  it('a CT covering part of the activity: the rest takes the densities used without a CT, with a warning giving the share', async () => {
    // CT over x < 8 mm only: activity voxels i = 0, 1 whole, i = 2 half (x 6..8 of 6..10), i = 3..5 outside
    const part: Geometry = { dims: [20, 40, 32], spacingMm: [0.5, 0.5, 0.5], originLpsMm: [-1.75, -1.75, -1.75], direction: IDENTITY_DIRECTION };
    const water = new Float32Array(20 * 40 * 32).fill(0);
    for (let n = 0; n < water.length; n += 7) water[n] = -1000; // some air: a CT of a body (1/7 of voxels)
    const ct = makeVolume(part, water);
    // activity only in slab k = 0 of the liver; lung structure: voxels with i = 5
    const n = 6 * 5 * 4;
    const a = new Float32Array(n);
    const lung = new Uint8Array(n);
    for (let v = 0; v < n; v++) {
      if (v < 30) a[v] = 1000;
      if (v % 6 === 5) lung[v] = 255;
    }
    const r = await computeDoseCase(
      baseCase({
        ct,
        activity: makeVolume(act, a),
        segmentations: [{ path: 'test', masks: [
          { name: 'Liver', origin: 'test', geometry: act, occupancy: Uint8Array.from({ length: n }, (_, v) => (v % 6 === 5 ? 0 : 255)) },
          { name: 'Lung', origin: 'test', geometry: act, occupancy: lung },
        ] }],
        lung: 'Lung',
        lungShuntFraction: 0,
      }),
    );
    const rho = r.densityGPerMl as Float32Array;
    // the CT's mean density over a whole voxel (512 CT voxels, every 7th air)
    const ctMean = (v: number) => {
      const i = v % 6, j = Math.floor(v / 6) % 5, k = Math.floor(v / 30);
      let s = 0, c = 0;
      for (let cc = 0; cc < 8; cc++) for (let b = 0; b < 8; b++) for (let aa = 0; aa < 8; aa++) {
        const x = 8 * i + aa;
        if (x >= 20) continue;
        s += water[x + 20 * (8 * j + b + 40 * (8 * k + cc))] === 0 ? 1 : 0;
        c++;
      }
      return { mean: s / c, inside: c / 512 };
    };
    for (let v = 0; v < n; v++) {
      const i = v % 6;
      const { mean, inside } = ctMean(v);
      const outside = i === 5 ? 0.3 : 1.05; // the lung default inside the lung structure, soft tissue elsewhere
      const want = inside === 0 ? outside : inside * mean + (1 - inside) * outside;
      expect(Math.abs(rho[v] - want), `voxel ${v}`).toBeLessThan(1e-6);
      if (a[v] > 0) expect(Math.abs(r.dose.data[v] / ldm(1000, want) - 1)).toBeLessThan(1e-5);
    }
    // activity per row of 6: 2.5 voxels inside of 6
    const share = 2.5 / 6;
    expect(r.ctParameters?.ctActivityShareInsideFov as number).toBeCloseTo(share, 9);
    expect(r.ctParameters?.ctDensityOutsideFov).toMatch(/1\.05 g\/mL, 0\.3 g\/mL inside the lung structure "Lung"/);
    expect(r.warnings.join('\n')).toMatch(/58\.3 % of the activity \(20 voxels\) lies outside the CT's field of view: densities there are the densities used without a CT \(1\.05 g\/mL/);
  });
});

describe('a CT that is not in HU is refused with its numbers and the fix', () => {
  const n = 48 * 40 * 32;
  const lcg = (seed: number) => () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  const rnd = lcg(7);
  const cases: Array<[string, Float32Array | Uint8Array, RegExp]> = [
    ['label map 0..5', Uint8Array.from({ length: n }, (_, v) => v % 6), /only 6 distinct integer values \(0, 1, 2, 3, 4, 5\): a label map/],
    ['densities in g/mL 0..2', Float32Array.from({ length: n }, () => 2 * rnd()), /values lie in 0\.\.[12][\d.]*: densities in g\/mL.*HU = 1000 x rho - 1000/],
    ['PET in Bq/mL (0..2e5)', Float32Array.from({ length: n }, () => 2e5 * rnd() ** 4), /emission image \(PET\/SPECT/],
    ['SPECT counts (integers 0..400)', Float32Array.from({ length: n }, () => Math.floor(400 * rnd() ** 2)), /emission image/],
    ['stored values without the rescale intercept', Float32Array.from(ctData, (x) => Math.max(0, x + 1024)), /rescale intercept/],
  ];
  it.each(cases)('%s', async (_name, data, says) => {
    const err = await computeDoseCase(baseCase({ ct: makeVolume(ctGrid, data) })).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    const m = (err as Error).message;
    expect(m).toMatch(/does not hold Hounsfield units of a body \(min [-\d.e+]+, max [-\d.e+]+, mean [-\d.e+]+; [\d.]+ % of voxels below -900 HU \(air\)/);
    expect(m).toMatch(says);
    expect(m).not.toMatch(/\n/);
  });

  it('a CT of a body in HU passes (this file\'s phantom, and one without air but with lung)', () => {
    expect(checkCtIsHounsfield(makeVolume(ctGrid, ctData)).shareBelowMinus900).toBeGreaterThan(0);
    const lungOnly = Float32Array.from(ctData, (x) => (x < -900 ? -700 : x));
    expect(() => checkCtIsHounsfield(makeVolume(ctGrid, lungOnly))).not.toThrow();
  });

  it('through the CLI: a label map given as --ct fails with one line and no output', async () => {
    const dir = tempDir('ct-hu-');
    const nA = 6 * 5 * 4;
    writeFileSync(join(dir, 'act.nii'), encodeNifti(makeVolume(act, new Float32Array(nA).fill(1000)), { gzip: false }));
    writeFileSync(join(dir, 'lab.nii'), encodeNifti(makeVolume(act, new Uint8Array(nA).fill(1)), { gzip: false }));
    writeFileSync(join(dir, 'ct.nii'), encodeNifti(makeVolume(ctGrid, Uint8Array.from({ length: n }, (_, v) => v % 6)), { gzip: false }));
    const base = ['dose', '--activity', join(dir, 'act.nii'), '--activity-unit', 'bq-per-ml', '--scan-delay-h', '0', '--segmentation', join(dir, 'lab.nii'),
      '--labels', '1=Liver', '--liver', 'Liver', '--isotope', 'Y90', '--method', 'ldm', '--backend', 'cpu', '--quiet'];
    const bad = await runMain([...base, '--ct', join(dir, 'ct.nii'), '--out', join(dir, 'bad')]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toMatch(/does not hold Hounsfield units.*label map/);
    // the good CT: report.json records how the CT was brought onto the grid
    writeFileSync(join(dir, 'ct-good.nii'), encodeNifti(makeVolume(ctGrid, ctData), { gzip: false }));
    const good = await runMain([...base, '--ct', join(dir, 'ct-good.nii'), '--out', join(dir, 'good')]);
    expect(good.code, good.stderr).toBe(0);
    const { readFileSync } = await import('node:fs');
    const rep = JSON.parse(readFileSync(join(dir, 'good', 'report.json'), 'utf8'));
    expect(rep.provenance.parameters.ctResampling).toMatch(/volume-weighted mean over the CT voxels inside each activity voxel/);
    expect(rep.provenance.parameters.ctActivityShareInsideFov).toBe(1);
  });
});
