/**
 * `plan` never gives a wrong answer with exit 0 ("No silent wrong answer"): zone-less times, treatment before the
 * vial's calibration, implausible patient data are refused (one line on stderr, non-zero exit, nothing written);
 * an underdosed tumour (every device), a resin contraindication (LSF > 20 %) and the perfused-volume normalisation
 * are said on stderr ("warning: ...") and in report.json "warnings".
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.ts';
import { InputError } from '../../src/errors.ts';
import { encodeNrrd, encodeSegNrrd } from '../../src/io/index.ts';
import { CALIBRATION_WINDOWS, MAX_DECAY_FACTOR, type Device } from '../../src/plan/devices.ts';
import { orderActivity } from '../../src/plan/order.ts';
import { validateCatalogue, type DeviceCatalogue } from '../../src/plan/catalogue.ts';
import { CATALOGUE_DATA } from '../../src/plan/catalogue-data.ts';
import { parseZonedDateTime } from '../../src/plan/time.ts';
import { capture, countsImage, geometry, inBox, LESIONS, LIVER, mask, MASKS, N, NORMAL_COUNTS, type Box } from './phantom.ts';

afterEach(() => vi.restoreAllMocks());

// The phantom plus a perfused territory: the liver without its top slab (k = 13), all three lesions inside it, so
// that 400 normal-liver voxels (4000 of the liver's 52672 counts) lie outside the perfused volume.
const PERFUSED: Box = [2, 22, 2, 22, 2, 13];

let dir = '';
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'plan-silent-'));
  writeFileSync(join(dir, 'scout.nrrd'), encodeNrrd({ geometry, data: countsImage(0.125) }));
  writeFileSync(join(dir, 'seg.seg.nrrd'), encodeSegNrrd([...MASKS, mask('Perfused', PERFUSED)]));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const base = () => [
  'plan', '--activity', join(dir, 'scout.nrrd'), '--segmentation', join(dir, 'seg.seg.nrrd'), '--liver', 'Liver',
  ...LESIONS.flatMap((l) => ['--tumor', l.name]), '--lung', 'Lungs', '--backend', 'cpu', '--quiet',
];
const outDir = () => join(dir, `out-${Math.random().toString(36).slice(2)}`);

/** Runs plan with --json; returns the exit code, stderr and the report (null when nothing was written). */
async function plan(extra: string[]) {
  const out = outDir();
  const r = await capture(() => main([...base(), ...extra, '--json', '--out', out]));
  const path = join(out, 'report.json');
  return { ...r, out, report: existsSync(path) ? JSON.parse(readFileSync(path, 'utf8')) : null };
}

/** Every stderr line is `warning: W` for W in report.json "warnings", in order. */
function expectWarningsOnStderr(err: string, report: { warnings: string[] }) {
  expect(err.trim().split('\n')).toEqual(report.warnings.map((w) => `warning: ${w}`));
}

/** Runs `f` with the process time zone set to `tz` (Node re-reads TZ when it is assigned). */
async function withTz<T>(tz: string, f: () => Promise<T>): Promise<T> {
  const old = process.env.TZ;
  process.env.TZ = tz;
  try {
    return await f();
  } finally {
    if (old === undefined) delete process.env.TZ;
    else process.env.TZ = old;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Refusals: one line on stderr, non-zero exit, nothing written.

const CAL = '2025-03-09T12:00:00Z';
const bad: Array<[string, string[], RegExp]> = [
  // 1. times without a zone (read in the machine's zone today)
  ['calibration time without a zone', ['--device', 'glass', '--calibration-time', '2025-03-10T12:00:00', '--treatment-time', '2025-03-13T12:00:00Z'], /--calibration-time "2025-03-10T12:00:00" has no time zone.*e\.g\. 2025-03-14T09:00:00Z/],
  ['treatment time without a zone', ['--device', 'glass', '--calibration-time', CAL, '--treatment-time', '2025-03-13 08:30'], /--treatment-time "2025-03-13 08:30" has no time zone/],
  ['date without a time', ['--device', 'glass', '--calibration-time', '2025-03-10', '--treatment-time', '2025-03-13T12:00:00Z'], /has no time of day/],
  ['impossible day', ['--device', 'glass', '--calibration-time', '2025-02-30T12:00:00Z', '--treatment-time', '2025-03-13T12:00:00Z'], /the day is out of range/],
  ['hour 24', ['--device', 'glass', '--calibration-time', '2025-03-10T24:00:00Z', '--treatment-time', '2025-03-13T12:00:00Z'], /the hour is out of range/],
  // 2. treatment before calibration (swapped times), or implausibly long after it
  ['glass: times swapped', ['--device', 'glass', '--calibration-time', '2025-03-13T12:00:00Z', '--treatment-time', CAL], /96\.0 h BEFORE the vial's calibration time.*not given before its calibration time.*swapped/],
  ['glass: one hour before calibration', ['--device', 'glass', '--calibration-time', CAL, '--treatment-time', '2025-03-09T11:00:00Z'], /1\.0 h BEFORE/],
  ['ho166: before calibration', ['--device', 'ho166', '--calibration-time', CAL, '--treatment-time', '2025-03-09T06:00:00Z'], /6\.0 h BEFORE.*ho166 is not given before its calibration time/],
  ['resin: 30 h before calibration', ['--device', 'resin', '--calibration-time', CAL, '--treatment-time', '2025-03-08T06:00:00Z'], /30\.0 h BEFORE.*resin is given at most 24 h before calibration/],
  ['glass: calibration a year early (typo)', ['--device', 'glass', '--calibration-time', '2024-03-09T12:00:00Z', '--treatment-time', '2025-03-12T12:00:00Z'], /368\.0 days after the calibration time.*check the dates/],
  // 3. implausible patient data (adult ranges in the message)
  ['height 50 cm', ['--device', 'resin', '--height-cm', '50', '--weight-kg', '70'], /--height-cm 50 cm is outside the plausible adult range 100-250 cm/],
  ['height 300 cm', ['--device', 'resin', '--height-cm', '300', '--weight-kg', '70'], /range 100-250 cm/],
  ['weight 3 kg', ['--device', 'resin', '--height-cm', '175', '--weight-kg', '3'], /--weight-kg 3 kg is outside the plausible adult range 20-300 kg/],
  ['weight in pounds (400)', ['--device', 'resin', '--height-cm', '175', '--weight-kg', '400'], /range 20-300 kg.*pounds/],
  ['BSA 0.3 m^2', ['--device', 'resin', '--bsa-m2', '0.3'], /--bsa-m2 0\.3 m\^2 is outside the plausible adult range 0\.7-4\.5 m\^2/],
  // 5. resin with LSF > 20 %: the BSA method gives no activity
  ['resin LSF 25 %, BSA prescribed', ['--device', 'resin', '--lung-shunt-fraction', '0.25', '--lung-mass-g', '1000', '--prescribe', 'bsa', '--bsa-m2', '1.8'], /the bsa method gives no activity.*above 20 %/],
];
describe('plan refuses input that would give a wrong answer', () => {
  it.each(bad)('%s: one line on stderr, non-zero exit, nothing written', async (_, extra, msg) => {
    const out = outDir();
    const r = await capture(() => main([...base(), ...extra, '--out', out]));
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(msg);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(existsSync(out)).toBe(false);
  });

  it('a zone-less time is refused whatever the machine zone; a zoned one gives the same order in every zone', async () => {
    // The check is meaningful: the two zones read a zone-less time as different instants.
    const naive = '2025-03-10T12:00:00';
    const instant = (tz: string) => withTz(tz, async () => new Date(naive).getTime());
    expect(await instant('UTC')).not.toBe(await instant('Asia/Tokyo'));
    for (const tz of ['UTC', 'Asia/Tokyo']) {
      const r = await withTz(tz, () => plan(['--device', 'glass', '--calibration-time', naive, '--treatment-time', '2025-03-13T12:00:00+01:00']));
      expect(r.code).not.toBe(0);
      expect(r.err).toMatch(/has no time zone/);
      expect(r.report).toBeNull();
    }
    const zoned = ['--device', 'glass', '--calibration-time', '2025-03-10T13:00:00+01:00', '--treatment-time', '2025-03-13T12:00:00Z'];
    const [a, b] = [await withTz('UTC', () => plan(zoned)), await withTz('Asia/Tokyo', () => plan(zoned))];
    expect(a.code).toBe(0);
    expect(b.code).toBe(0);
    expect(a.report.plan.calibration).toEqual(b.report.plan.calibration);
    expect(a.report.plan.calibration.calibrationTime).toBe('2025-03-10T12:00:00.000Z');
    expect(a.report.plan.calibration.treatmentAfterCalibrationH).toBe(72);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Said on stderr and in report.json.

describe('plan says on stderr and in report.json what changes the dose', () => {
  it('resin treated within 24 h before calibration: accepted, with a warning (decay factor < 1)', async () => {
    const r = await plan(['--device', 'resin', '--calibration-time', '2025-03-10T18:00:00-05:00', '--treatment-time', '2025-03-10T11:00:00-05:00']);
    expect(r.code).toBe(0);
    const cal = r.report.plan.calibration;
    expect(cal.treatmentAfterCalibrationH).toBe(-7);
    expect(cal.decayFactor).toBeLessThan(1);
    expect(r.report.warnings.join('\n')).toMatch(/7\.0 h BEFORE the vial's calibration time.*accepted for resin within 24 h/);
    expectWarningsOnStderr(r.err, r.report);
  });

  // 4. Tumour underdosed at the prescribed activity: the same warning for every device (the phantom's coldest lesion,
  // Tumor B with T/N 2.2, misses each device's default target: glass and resin under their liver limits, 166Ho under
  // the 60 Gy standard, which does not aim at the tumour).
  const devices: Array<[Device, string]> = [['glass', 'partition'], ['resin', 'partition'], ['ho166', 'mird'], ['glass', 'mird']];
  it.each(devices)('%s prescribed by %s: an underdosed tumour is a warning', async (device, method) => {
    const r = await plan(['--device', device, '--prescribe', method]);
    expect(r.code).toBe(0);
    expect(r.report.plan.tumorTargetReached).toBe(false);
    const w = r.report.warnings.filter((x: string) => x.startsWith('tumour underdosed:'));
    expect(w).toHaveLength(1);
    expect(w[0]).toMatch(new RegExp(`\\(${method}\\) the dose map gives [\\d.]+ Gy to Tumor B, below the ${r.report.plan.targets.tumorGy} Gy`));
    expect(r.report.plan.warnings).toContain(w[0]);
    expectWarningsOnStderr(r.err, r.report);
  });

  it('a tumour target that is reached gives no underdose warning', async () => {
    const r = await plan(['--device', 'ho166', '--tumor-gy', '90', '--prescribe', 'voxel']);
    expect(r.code).toBe(0);
    expect(r.report.plan.tumorTargetReached).toBe(true);
    expect(r.report.warnings.join('\n')).not.toMatch(/underdosed/);
  });

  // 5. Resin with LSF > 20 %: a contraindication, top-level, whatever the method.
  it.each(['partition', 'voxel', 'mird'])('resin, LSF 25 %%, prescribed by %s: CONTRAINDICATED on stderr, in warnings and in the plan', async (method) => {
    const r = await plan(['--device', 'resin', '--lung-shunt-fraction', '0.25', '--lung-mass-g', '1000', '--prescribe', method, '--bsa-m2', '1.8']);
    expect(r.code).toBe(0);
    expect(r.report.warnings[0]).toMatch(/^CONTRAINDICATED: lung shunt fraction 25\.0 % is above 20 %: a contraindication for resin microspheres \(SIR-Spheres IFU\)/);
    expect(r.report.warnings[0]).toContain(`of the ${method} method is not a treatment to give`);
    expect(r.report.plan.contraindicated).toBe(true);
    expect(r.report.plan.contraindications).toHaveLength(1);
    expectWarningsOnStderr(r.err, r.report);
  });

  it('resin at LSF 20 % exactly (reduced, not contraindicated) and glass at 25 % carry no contraindication', async () => {
    for (const [device, lsf] of [['resin', '0.2'], ['glass', '0.25']]) {
      const r = await plan(['--device', device, '--lung-shunt-fraction', lsf, '--lung-mass-g', '1000']);
      expect(r.code).toBe(0);
      expect(r.report.plan.contraindicated).toBe(false);
      expect(r.report.warnings.join('\n')).not.toMatch(/CONTRAINDICATED/);
    }
  });

  // 6. With --perfused the counts are normalised to the perfused volume, unless --normalize-to says otherwise.
  it('--perfused: the perfused volume carries A (1 - LSF), said on stderr and in the report', async () => {
    const lsf = 0.05;
    const r = await plan(['--device', 'glass', '--perfused', 'Perfused', '--lung-shunt-fraction', String(lsf), '--lung-mass-g', '1000']);
    expect(r.code).toBe(0);
    const s = (name: string) => r.report.structures.find((x: { name: string }) => x.name === name);
    const a = r.report.plan.activityGBq;
    expect(Math.abs(s('Perfused').activityGBq / (a * (1 - lsf)) - 1)).toBeLessThan(1e-6);
    // the liver holds more: its top slab outside the perfused volume has counts too (4000 of 52672 liver counts)
    const liverCounts = countsImage(0).reduce((t, v) => t + v, 0);
    let outside = 0;
    for (let k = 0; k < N; k++) for (let j = 0; j < N; j++) for (let i = 0; i < N; i++) if (inBox(LIVER, i, j, k) && !inBox(PERFUSED, i, j, k)) outside += NORMAL_COUNTS;
    expect(Math.abs(s('Liver').activityGBq / (a * (1 - lsf) * liverCounts / (liverCounts - outside)) - 1)).toBeLessThan(1e-6);
    expect(r.report.plan.normalization).toEqual({ structure: 'Perfused', source: 'perfused volume (--perfused): lobar/selective treatment' });
    expect(r.report.provenance.parameters.normalizeTo).toBe('Perfused');
    expect(r.report.warnings.join('\n')).toMatch(/scout counts normalised to the perfused volume "Perfused"/);
    expectWarningsOnStderr(r.err, r.report);
  });

  it('--perfused with --normalize-to Liver keeps the whole-liver normalisation, as asked', async () => {
    const r = await plan(['--device', 'glass', '--perfused', 'Perfused', '--normalize-to', 'Liver', '--lung-shunt-fraction', '0.05', '--lung-mass-g', '1000']);
    expect(r.code).toBe(0);
    const liver = r.report.structures.find((x: { name: string }) => x.name === 'Liver');
    expect(Math.abs(liver.activityGBq / (r.report.plan.activityGBq * 0.95) - 1)).toBeLessThan(1e-6);
    expect(r.report.plan.normalization).toEqual({ structure: 'Liver', source: 'given (--normalize-to)' });
    expect(r.report.warnings.join('\n')).not.toMatch(/normalised to the perfused volume/);
  });

  it('BSA data for a device without the BSA method is said to be ignored', async () => {
    const r = await plan(['--device', 'glass', '--height-cm', '175', '--weight-kg', '80']);
    expect(r.code).toBe(0);
    expect(r.report.warnings.join('\n')).toMatch(/applies to resin only: ignored for glass/);
    expectWarningsOnStderr(r.err, r.report);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// The core functions behind the CLI.

describe('parseZonedDateTime', () => {
  const ok: Array<[string, string]> = [
    ['2025-03-14T09:00:00Z', '2025-03-14T09:00:00.000Z'],
    ['2025-03-14T09:00Z', '2025-03-14T09:00:00.000Z'],
    ['2025-03-14 10:00:00+01:00', '2025-03-14T09:00:00.000Z'],
    ['2025-03-14T04:00:00.5-0500', '2025-03-14T09:00:00.500Z'],
    ['2024-02-29T23:30:00-01:00', '2024-03-01T00:30:00.000Z'],
  ];
  it.each(ok)('%s is %s', (text, iso) => expect(parseZonedDateTime(text, 't').toISOString()).toBe(iso));
  it.each(['2025-03-14T09:00:00', '2025-03-14', 'yesterday', '14/03/2025 09:00Z', '2025-13-01T00:00Z', '2025-02-29T00:00Z', '2025-03-14T09:60Z', '2025-03-14T09:00+15:00', '0099-01-01T00:00Z'])(
    '%s is refused (InputError)',
    (text) => expect(() => parseZonedDateTime(text, 't')).toThrow(InputError),
  );
});

describe('orderActivity: calibration windows', () => {
  const t = (iso: string) => new Date(iso);
  it('glass 72 h after calibration: 2^(72/64.05), no warning', () => {
    const r = orderActivity({ device: 'glass', activityGBq: 2, calibrationTime: t('2025-03-09T12:00:00Z'), treatmentTime: t('2025-03-12T12:00:00Z') });
    expect(r.calibrationActivityGBq / (2 * 2 ** (72 / 64.05)) - 1).toBeCloseTo(0, 12);
    expect(r.warnings).toEqual([]);
  });
  it('windows: glass and ho166 never before calibration, resin up to 24 h', () => {
    expect(CALIBRATION_WINDOWS).toMatchObject({ glass: { maxBeforeCalibrationH: 0 }, resin: { maxBeforeCalibrationH: 24 }, ho166: { maxBeforeCalibrationH: 0 } });
    const at = (device: Device, h: number, catalogue?: DeviceCatalogue) => orderActivity({ device, activityGBq: 1, calibrationTime: t('2025-03-09T12:00:00Z'), treatmentTime: new Date(t('2025-03-09T12:00:00Z').getTime() + h * 3.6e6), catalogue });
    expect(() => at('glass', -0.01)).toThrow(InputError);
    expect(() => at('ho166', -0.01)).toThrow(InputError);
    expect(at('resin', -24).warnings).toHaveLength(1);
    expect(() => at('resin', -24.01)).toThrow(InputError);
    // usable windows after calibration (device catalogue): glass 288 h, resin and ho166 24 h
    expect(at('glass', 288).warnings).toEqual([]);
    expect(() => at('glass', 288.01)).toThrow(/outside the usable window/);
    expect(() => at('ho166', 24.01)).toThrow(/outside the usable window/);
    // decay-factor ceiling, reached with a site catalogue whose windows end later (30 days):
    // 90Y 50x at 64.05 log2(50) = 361.5 h, 166Ho at 26.8 log2(50) = 151.3 h
    const data = JSON.parse(JSON.stringify(CATALOGUE_DATA));
    for (const d of ['glass', 'ho166']) data.devices[d].usableWindow.toCalibrationH = 720;
    const wide = validateCatalogue(data, 'wide windows');
    expect(at('glass', 361, wide).decayFactor).toBeLessThan(MAX_DECAY_FACTOR);
    expect(() => at('glass', 362, wide)).toThrow(/decays by a factor/);
    expect(() => at('ho166', 152, wide)).toThrow(/decays by a factor/);
  });
});
