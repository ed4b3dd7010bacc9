/**
 * `register` and `dose --transform` end to end, in-process (runCli): a synthetic torso CT moved by a known rigid
 * transform is registered back (transform.tfm checked against the truth at the liver surface); an activity image
 * acquired in the moved position, resampled through the true transform onto the planning CT, gives the dose of the
 * activity imaged in place (within trilinear interpolation error); bad input: one clear line, nothing written.
 */
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { encodeNrrd } from '../../packages/dosimetry-core/src/io/index.ts';
import { readVolume } from '../../packages/dosimetry-core/src/io/read.ts';
import { compileTransform, formatTransformFile, readTransformFile } from '../../packages/dosimetry-core/src/io/transform.ts';
import { type Vec, LIVER, anatomyHu, cubeGrid, liverAt, liverSurfacePoints, render, rigid } from '../../packages/dosimetry-core/test/registration/phantom.ts';
import { runCli, tempDir } from './cli-harness.ts';

const dir = tempDir('register');
const truth = rigid(7, 2, LIVER.centerMm, [18, -10, 12]); // fixed (planning) -> moving (post-treatment)
const ctGrid = cubeGrid(56, 5.5);
const movingGrid = { ...cubeGrid(48, 6.5), originLpsMm: [-150, -155, -148] as [number, number, number] };
// Activity concentration [Bq/mL] in the planning frame: smooth (Gaussian, sigma 35 mm) on the liver, so that
// trilinear resampling error is small: per axis h^2/8 max|f''| = 6.5^2/8 / 35^2 = 0.43 % of the peak, at most
// 1.3 % summed over the three axes (the bound used for the voxel-wise check below); the mean is smaller.
const C0 = 2e5;
const activityAt = (p: Vec) => {
  const r2 = (p[0] - LIVER.centerMm[0]) ** 2 + (p[1] - LIVER.centerMm[1]) ** 2 + (p[2] - LIVER.centerMm[2]) ** 2;
  return C0 * Math.exp(-r2 / (2 * 35 * 35)) + 0.05 * C0;
};
const file = (name: string) => join(dir, name);
const labelsVolume = (g: ReturnType<typeof cubeGrid>) => {
  const v = render(g, liverAt, undefined, 1);
  return { geometry: g, data: Uint8Array.from(v.data) };
};

beforeAll(() => {
  writeFileSync(file('ct.nrrd'), encodeNrrd(render(ctGrid, anatomyHu)));
  writeFileSync(file('ct_moved.nrrd'), encodeNrrd(render(movingGrid, anatomyHu, truth.inv)));
  writeFileSync(file('liver.nrrd'), encodeNrrd(labelsVolume(ctGrid)));
  writeFileSync(file('liver_moved.nrrd'), encodeNrrd({ geometry: movingGrid, data: Uint8Array.from(render(movingGrid, liverAt, truth.inv, 1).data) }));
  // the activity imaged in place (on the CT grid) and in the moved position (on the PET grid)
  writeFileSync(file('act_in_place.nrrd'), encodeNrrd(render(ctGrid, activityAt, undefined, 1)));
  writeFileSync(file('act_moved.nrrd'), encodeNrrd(render(movingGrid, activityAt, truth.inv, 1)));
  const R = truth.R, c = LIVER.centerMm;
  writeFileSync(
    file('truth.tfm'),
    formatTransformFile({ transforms: [{ type: 'AffineTransform', parameters: [...R, 18, -10, 12], fixedParameters: [...c] }] }),
  );
  writeFileSync(file('nan.tfm'), '#Insight Transform File V1.0\nTransform: Euler3DTransform_double_3_3\nParameters: 0 0 nan 0 0 0\nFixedParameters: 0 0 0\n');
  writeFileSync(file('field.tfm'), '#Insight Transform File V1.0\nTransform: DisplacementFieldTransform_double_3_3\nParameters: 0\nFixedParameters: 0\n');
});

describe('register', () => {
  it('registers the moved CT back: liver surface within 1 mm, transform.tfm and report.json written', async () => {
    const out = file('reg');
    const r = await runCli(['register', '--fixed', file('ct.nrrd'), '--moving', file('ct_moved.nrrd'), '--fixed-mask', file('liver.nrrd'), '--moving-mask', file('liver_moved.nrrd'), '--mask-margin-mm', '40', '--out', out, '--quiet']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout, r.stdout).toMatch(/rotation \d+\.\d\d deg/);
    const T = compileTransform(readTransformFile(join(out, 'transform.tfm')));
    const q = [0, 0, 0];
    let err = 0;
    const pts = liverSurfacePoints();
    for (const p of pts) {
      T.apply(p[0], p[1], p[2], q);
      const t = truth.fwd(p);
      err += Math.hypot(q[0] - t[0], q[1] - t[1], q[2] - t[2]);
    }
    console.log(`register CLI: mean liver surface error ${(err / pts.length).toFixed(3)} mm`);
    expect(err / pts.length).toBeLessThan(1);
    const rep = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));
    expect(rep.transformTypes).toEqual(['Euler3DTransform']);
    expect(rep.rigid.rotationDeg).toBeGreaterThan(6.7);
    expect(rep.rigid.rotationDeg).toBeLessThan(7.3);
    expect(rep.quality.mutualInformationAfter).toBeGreaterThan(rep.quality.mutualInformationBefore);
    expect(rep.quality.meanSurfaceDistanceAfterMm).toBeLessThan(rep.quality.meanSurfaceDistanceBeforeMm);
    expect(rep.quality.meanSurfaceDistanceAfterMm).toBeLessThan(3); // voxel surfaces on a 5.5 mm grid
  }, 60_000);

  it('bad input: missing file, unknown mask structure: one line, nothing written', async () => {
    const out = file('reg-bad');
    const r = await runCli(['register', '--fixed', file('nope.nrrd'), '--moving', file('ct_moved.nrrd'), '--out', out]);
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/nope\.nrrd/);
    expect(existsSync(out) && readdirSync(out).length > 0).toBe(false);
    const r2 = await runCli(['register', '--fixed', file('ct.nrrd'), '--moving', file('ct_moved.nrrd'), '--fixed-mask', 'Liver', '--out', out]);
    expect(r2.code).not.toBe(0);
    expect(r2.stderr).toMatch(/--fixed-segmentation/);
    expect(existsSync(out) && readdirSync(out).length > 0).toBe(false);
  });
});

describe('dose --transform', () => {
  const doseArgs = (activity: string, out: string, extra: string[] = []) => [
    'dose', '--activity', activity, '--activity-unit', 'bq-per-ml', '--scan-delay-h', '0', '--segmentation', file('liver.nrrd'), '--labels', '1=Liver',
    '--liver', 'Liver', '--ct', file('ct.nrrd'), '--isotope', 'Y90', '--method', 'ldm', '--out', out, '--quiet', ...extra,
  ];

  it('the moved activity through the true transform gives the in-place dose within interpolation error', async () => {
    const a = await runCli(doseArgs(file('act_in_place.nrrd'), file('dose-in-place')));
    expect(a.code, a.stderr).toBe(0);
    const b = await runCli(doseArgs(file('act_moved.nrrd'), file('dose-moved'), ['--transform', file('truth.tfm')]));
    expect(b.code, b.stderr).toBe(0);
    const ra = JSON.parse(readFileSync(join(file('dose-in-place'), 'report.json'), 'utf8'));
    const rb = JSON.parse(readFileSync(join(file('dose-moved'), 'report.json'), 'utf8'));
    const liverA = ra.structures.find((s: { name: string }) => s.name === 'Liver');
    const liverB = rb.structures.find((s: { name: string }) => s.name === 'Liver');
    // the transform is recorded with its hash
    expect(rb.provenance.parameters.transform.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(rb.provenance.parameters.transform.applied).toMatch(/onto the --ct grid/);
    // mean liver dose: trilinear error on the smooth activity (bound above: 1.3 % at worst, the mean less): 1 %
    console.log(`dose --transform: liver mean ${liverA.meanGy.toFixed(3)} Gy in place, ${liverB.meanGy.toFixed(3)} Gy through the transform`);
    expect(Math.abs(liverB.meanGy / liverA.meanGy - 1)).toBeLessThan(0.01);
    // voxel by voxel inside the liver: dose maps on the same (CT) grid, within the 1.3 % bound (1.5 % for float32)
    const da = await readVolume(join(file('dose-in-place'), 'dose.nii.gz'));
    const db = await readVolume(join(file('dose-moved'), 'dose.nii.gz'));
    expect(db.geometry.dims).toEqual(da.geometry.dims);
    const liver = render(ctGrid, liverAt, undefined, 1).data;
    let peak = 0, worst = 0;
    for (let i = 0; i < da.data.length; i++) if (liver[i] > 0) peak = Math.max(peak, da.data[i]);
    for (let i = 0; i < da.data.length; i++) if (liver[i] > 0) worst = Math.max(worst, Math.abs(da.data[i] - db.data[i]));
    console.log(`dose --transform: worst voxel difference in the liver ${(100 * worst / peak).toFixed(2)} % of the peak ${peak.toFixed(1)} Gy`);
    expect(worst / peak).toBeLessThan(0.015);
    // without the transform the same moved activity is off by the motion (the test can fail)
    const c = await runCli(doseArgs(file('act_moved.nrrd'), file('dose-unregistered')));
    expect(c.code, c.stderr).toBe(0);
    const liverC = JSON.parse(readFileSync(join(file('dose-unregistered'), 'report.json'), 'utf8')).structures.find((s: { name: string }) => s.name === 'Liver');
    expect(Math.abs(liverC.meanGy / liverA.meanGy - 1)).toBeGreaterThan(0.05);
  }, 60_000);

  it('bad transforms: NaN, unknown type, missing file, no --ct: one line, nothing written', async () => {
    for (const [extra, re] of [
      [['--transform', file('nan.tfm')], /not a finite number/],
      [['--transform', file('field.tfm')], /DisplacementFieldTransform is not supported/],
      [['--transform', file('missing.tfm')], /missing\.tfm/],
    ] as const) {
      const out = file(`dose-bad-${readdirSync(dir).length}`);
      const r = await runCli(doseArgs(file('act_moved.nrrd'), out, [...extra]));
      expect(r.code).not.toBe(0);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(re);
      expect(existsSync(out) && readdirSync(out).length > 0).toBe(false);
    }
    const args = doseArgs(file('act_moved.nrrd'), file('dose-bad-noct'), ['--transform', file('truth.tfm')]);
    const i = args.indexOf('--ct');
    args.splice(i, 2);
    const r = await runCli(args);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/--transform needs --ct/);
  });
});
