/**
 * `plan --treatment-time` (report.json plan.order) on the bundled liver phantom (99mTc-MAA-like counts, data/phantoms):
 * the glass stock vial from the weekly calibration schedule, resin's fraction to draw, 166Ho's per-patient order, the
 * delivered activity and the doses at it, spheres implanted; a site catalogue; and the refusals (one line on stderr,
 * non-zero exit, nothing written). Decay is checked against A0 exp(-ln2 t / T1/2) with ../shared/PHYSICS.md's
 * half-lives written here, sphere counts against integer arithmetic.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { CATALOGUE_DATA } from '../../packages/dosimetry-core/src/plan/catalogue-data.ts';
import { phantomCase, runCli, tempDir } from './cli-harness.ts';

const T_HALF_Y90_H = 64.05, T_HALF_HO166_H = 26.8; // ../shared/PHYSICS.md
const rel = (a: number, b: number) => Math.abs(a - b) / Math.abs(b);

let P = '';
let dir = '';
beforeAll(async () => {
  P = await phantomCase(); // the liver case folder
  dir = tempDir('plan-vials');
});

const base = () => [
  'plan', '--activity', join(P, 'activity_counts.nrrd'), '--segmentation', join(P, 'segmentation.seg.nrrd'),
  '--liver', 'Liver', '--tumor', 'Tumor A', '--tumor', 'Tumor B', '--lung', 'Lungs', '--backend', 'cpu', '--quiet',
];
let n = 0;
const outDir = () => join(dir, `out-${n++}`);

async function plan(extra: string[]) {
  const out = outDir();
  const r = await runCli([...base(), ...extra, '--json', '--out', out]);
  const path = join(out, 'report.json');
  return { ...r, out, report: existsSync(path) ? JSON.parse(readFileSync(path, 'utf8')) : null };
}

describe('plan --treatment-time: the vial to order (report.json plan.order)', () => {
  it('glass: the stock vial of the weekly calibration, its decay, the delivered activity, the doses at it, spheres', async () => {
    // Wednesday 2025-03-12 15:00 UTC: the vial calibrated on Sunday 2025-03-09 at noon New York time (EDT since
    // 02:00 that day: 16:00 UTC), 71 h before
    const r = await plan(['--device', 'glass', '--treatment-time', '2025-03-12T11:00:00-04:00', '--residual-fraction', '0.02']);
    expect(r.code).toBe(0);
    const p = r.report.plan, o = p.order;
    expect(o.calibrationTime).toBe('2025-03-09T16:00:00.000Z');
    expect(o.treatmentAfterCalibrationH).toBe(71);
    const f = Math.exp((-Math.LN2 * 71) / T_HALF_Y90_H);
    // the smallest stock size whose decayed activity net of 2 % reaches the prescription, within the plan's limit
    const sizes = [3, 5, 7, 10, 15, 20];
    const expected = sizes.find((s) => s * f * 0.98 >= p.activityGBq)!;
    expect(expected * f * 0.98).toBeLessThanOrEqual(p.maxAllowedActivityGBq);
    expect(o.vial).toMatchObject({ kind: 'stock', nominalGBq: expected, count: 1 });
    expect(o.orderable).toBe(true);
    expect(rel(o.activityAtTreatmentGBq, expected * f)).toBeLessThan(1e-4);
    expect(rel(o.deliveredActivityGBq, expected * f * 0.98)).toBeLessThan(1e-4);
    expect(o.prescribedActivityGBq).toBe(p.activityGBq);
    expect(o.meetsPrescription).toBe(true);
    // spheres: expected GBq x 1e9 x 0.98 / 2500 Bq, exact in integers
    expect(BigInt(o.spheresImplanted)).toBe((BigInt(expected) * 10n ** 9n * 98n) / 100n / 2500n);
    // every predicted dose scales by delivered / prescribed
    const k = o.deliveredActivityGBq / p.activityGBq;
    expect(o.deliveredOverPrescribed).toBeCloseTo(k, 12);
    for (const key of ['allTumorGy', 'perfusedNormalLiverGy', 'wholeNormalLiverGy', 'lungGy'] as const) {
      expect(rel(o.predictedAtDelivered[key], p.predicted[key] * k)).toBeLessThan(1e-12);
    }
    // the continuous activity to order (plan.calibration) uses the same calibration time
    expect(p.calibration.calibrationTime).toBe(o.calibrationTime);
    expect(rel(p.calibration.calibrationActivityGBq, (p.activityGBq / 0.98) * 2 ** (71 / T_HALF_Y90_H))).toBeLessThan(1e-4);
    expect(o.sources.activityPerSphere).toMatch(/2500 Bq/);
  });

  it('resin: the fraction of the 3 GBq vial to draw, with the embolic-load note; the text output says it', async () => {
    const r = await plan(['--device', 'resin', '--tumor-gy', '100', '--calibration-time', '2025-03-10T18:00:00-05:00', '--treatment-time', '2025-03-10T10:00:00-05:00']);
    expect(r.code).toBe(0);
    const p = r.report.plan, o = p.order;
    expect(o.treatmentAfterCalibrationH).toBe(-8);
    const vialAtTx = 3 * Math.exp((Math.LN2 * 8) / T_HALF_Y90_H);
    expect(rel(o.activityAtTreatmentGBq, vialAtTx)).toBeLessThan(1e-4);
    expect(rel(o.fractionToDraw, p.activityGBq / vialAtTx)).toBeLessThan(1e-4);
    expect(rel(o.deliveredActivityGBq, p.activityGBq)).toBeLessThan(1e-12);
    expect(o.embolicLoadNote).toMatch(/moderate embolic effect/);
    // spheres = delivered / (50 Bq x 2^(8 / 64.05)) (the vial is 8 h younger than its calibration)
    expect(Math.abs(o.spheresImplanted - (p.activityGBq * 1e9) / (50 * 2 ** (8 / T_HALF_Y90_H)))).toBeLessThanOrEqual(0.5 + 1e-6 * o.spheresImplanted);
    expect(r.report.warnings.join(' ')).toMatch(/8\.0 h BEFORE the vial's calibration time/);
    const text = await runCli([...base(), '--device', 'resin', '--tumor-gy', '100', '--calibration-time', '2025-03-10T18:00:00-05:00', '--treatment-time', '2025-03-10T10:00:00-05:00', '--out', outDir()]);
    expect(text.stdout).toMatch(/vial: SIR-Spheres 1 x 3 GBq vial, calibrated 2025-03-10T23:00:00\.000Z/);
    expect(text.stdout).toMatch(/draw \d+\.\d % of the vial/);
  });

  it('ho166: the per-patient activity at its calibration (the treatment time unless given)', async () => {
    const r = await plan(['--device', 'ho166', '--treatment-time', '2025-03-12T09:00:00+01:00', '--residual-fraction', '0.05']);
    expect(r.code).toBe(0);
    const p = r.report.plan, o = p.order;
    expect(o.calibrationTime).toBe('2025-03-12T08:00:00.000Z');
    expect(o.vial.kind).toBe('per-patient');
    expect(rel(o.activityAtCalibrationGBq, p.activityGBq / 0.95)).toBeLessThan(1e-12);
    const given = await plan(['--device', 'ho166', '--calibration-time', '2025-03-12T02:00:00Z', '--treatment-time', '2025-03-12T08:00:00Z']);
    expect(rel(given.report.plan.order.activityAtCalibrationGBq, given.report.plan.activityGBq * 2 ** (6 / T_HALF_HO166_H))).toBeLessThan(1e-4);
  });

  it('a site catalogue (--device-catalogue) replaces the built-in entries: another stock size, another per-sphere activity', async () => {
    const data = JSON.parse(JSON.stringify(CATALOGUE_DATA));
    data.devices.glass.vial.sizesGBq = [1, 2, 2.5];
    data.devices.glass.activityPerSphereAtCalibrationBq = { value: 2000, source: 'a site contract, 2025 (test)' };
    const path = join(dir, 'site.json');
    writeFileSync(path, JSON.stringify({ schemaVersion: 1, name: 'site', devices: { glass: data.devices.glass } }));
    const r = await plan(['--device', 'glass', '--treatment-time', '2025-03-09T16:00:00Z', '--device-catalogue', path]);
    expect(r.code).toBe(0);
    const o = r.report.plan.order;
    expect(o.sources.catalogue).toBe('site (glass; the rest built-in)');
    expect([1, 2, 2.5]).toContain(o.vial.nominalGBq);
    expect(o.spheresImplanted).toBe((o.vial.nominalGBq * 1e9) / 2000);
  });
});

describe('plan refuses bad times, devices and catalogues: one line on stderr, non-zero exit, nothing written', () => {
  const badCatalogue = () => {
    const path = join(dir, 'bad-catalogue.json');
    const data = JSON.parse(JSON.stringify(CATALOGUE_DATA));
    data.devices.glass.vial.sizesGBq = [3, -5];
    writeFileSync(path, JSON.stringify(data));
    return path;
  };
  const cases: Array<[string, () => string[], RegExp]> = [
    ['treatment before calibration', () => ['--device', 'glass', '--calibration-time', '2025-03-09T12:00:00Z', '--treatment-time', '2025-03-09T10:00:00Z'],
      /^dosimetry plan: the treatment time 2025-03-09T10:00:00\.000Z is 2\.0 h BEFORE the vial's calibration time 2025-03-09T12:00:00\.000Z: glass is not given before its calibration time \(usable window from the calibration time to 12\.0 days after it/],
    ['treatment outside the window', () => ['--device', 'glass', '--calibration-time', '2025-03-09T12:00:00Z', '--treatment-time', '2025-03-22T12:00:00Z'],
      /the treatment time 2025-03-22T12:00:00\.000Z is 13\.0 days after the calibration time 2025-03-09T12:00:00\.000Z, outside the usable window of TheraSphere \(from the calibration time to 12\.0 days after it/],
    ['ho166 a day late', () => ['--device', 'ho166', '--calibration-time', '2025-03-09T12:00:00Z', '--treatment-time', '2025-03-10T13:00:00Z'], /25\.0 h after the calibration time.*QuiremSpheres/],
    ['unknown device', () => ['--device', 'plastic', '--treatment-time', '2025-03-12T12:00:00Z'], /unknown device "plastic": use glass, resin or ho166/],
    ['resin without the label time', () => ['--device', 'resin', '--treatment-time', '2025-03-12T12:00:00Z'], /vials state their 3 GBq activity at the calibration date and time on the vial label: give --calibration-time/],
    ['calibration without treatment', () => ['--device', 'glass', '--calibration-time', '2025-03-12T12:00:00Z'], /give both --calibration-time and --treatment-time/],
    ['residual fraction without a time', () => ['--device', 'glass', '--residual-fraction', '0.02'], /--residual-fraction serves the vial order/],
    ['a catalogue that fails validation', () => ['--device', 'glass', '--treatment-time', '2025-03-12T12:00:00Z', '--device-catalogue', badCatalogue()], /device catalogue .*bad-catalogue\.json: devices\.glass\.vial\.sizesGBq\[1\] is -5/],
    ['a missing catalogue', () => ['--device', 'glass', '--device-catalogue', join(dir, 'nope.json')], /--device-catalogue .*nope\.json does not exist/],
    ['the measured residual belongs to dose', () => ['--device', 'glass', '--residual-gbq', '0.1'], /--residual-gbq is the waste measured after a treatment: give it to dose/],
    ['a scout activity for glass', () => ['--device', 'glass', '--scout-gbq', '0.25'], /--scout-gbq is the activity of a 166Ho scout/],
  ];
  it.each(cases)('%s', async (_, extra, msg) => {
    const out = outDir();
    const r = await runCli([...base(), ...extra(), '--out', out]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(msg);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(existsSync(out)).toBe(false);
  });
});
