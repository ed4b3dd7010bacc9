/**
 * orderVial (src/plan/vials.ts): vial decay against A0 exp(-ln 2 t / T1/2) with the half-lives of
 * ../shared/PHYSICS.md written here (not read from the engine), sphere counts against integer arithmetic, the choice of
 * a glass stock vial on cases built around a stock size and a limit, resin's fraction to draw, 166Ho's per-patient
 * order, and the refusals.
 */
import { describe, expect, it } from 'vitest';
import { InputError, UsageError } from '../../src/errors.ts';
import { orderActivity } from '../../src/plan/order.ts';
import { orderVial } from '../../src/plan/vials.ts';

// ../shared/PHYSICS.md: 90Y 64.05 h (ENSDF), 166Ho 26.8 h.
const T_HALF_H = { Y90: 64.05, Ho166: 26.8 };
const decayed = (a0: number, tH: number, halfLifeH: number) => a0 * Math.exp((-Math.LN2 * tH) / halfLifeH);
const CAL = new Date('2025-03-09T16:00:00Z');
const at = (h: number) => new Date(CAL.getTime() + h * 3.6e6);
const rel = (a: number, b: number) => Math.abs(a - b) / Math.abs(b);

describe('vial decay within 0.01 % of A0 exp(-ln2 t / T1/2)', () => {
  const hours = [0, 1, 17.5, 64.05, 72, 150.25, 288];
  it.each(hours)('glass, %d h after calibration: the 20 GBq vial', (h) => {
    const o = orderVial({ device: 'glass', activityGBq: 0.5, treatmentTime: at(h), calibrationTime: CAL });
    const vial = o.vialOptions.find((v) => v.nominalGBq === 20)!;
    expect(rel(vial.activityAtTreatmentGBq, decayed(20, h, T_HALF_H.Y90))).toBeLessThan(1e-4);
    expect(rel(o.decayFractionAtTreatment, decayed(1, h, T_HALF_H.Y90))).toBeLessThan(1e-4);
    expect(rel(o.activityPerSphereAtTreatmentBq, decayed(2500, h, T_HALF_H.Y90))).toBeLessThan(1e-4);
  });
  it.each([-24, -3, 0, 10, 24])('resin, %d h from calibration: the 3 GBq vial', (h) => {
    const o = orderVial({ device: 'resin', activityGBq: 1, treatmentTime: at(h), calibrationTime: CAL });
    expect(rel(o.activityAtTreatmentGBq, decayed(3, h, T_HALF_H.Y90))).toBeLessThan(1e-4);
  });
  it.each([0, 2, 12, 24])('ho166, treatment %d h after its calibration: what is ordered decays to the prescription', (h) => {
    const o = orderVial({ device: 'ho166', activityGBq: 6, treatmentTime: at(h), calibrationTime: CAL });
    expect(rel(decayed(o.activityAtCalibrationGBq, h, T_HALF_H.Ho166), 6)).toBeLessThan(1e-4);
    expect(rel(o.deliveredActivityGBq, 6)).toBeLessThan(1e-12);
  });
  it('orderActivity (the continuous activity to order) too', () => {
    for (const h of [3, 72, 200]) {
      const r = orderActivity({ device: 'glass', activityGBq: 2, calibrationTime: CAL, treatmentTime: at(h) });
      expect(rel(decayed(r.calibrationActivityGBq, h, T_HALF_H.Y90), 2)).toBeLessThan(1e-4);
    }
  });
});

describe('sphere counts are exact', () => {
  // spheres = delivered / (per-sphere activity at treatment); both decay alike, so the count is
  // vial (GBq at calibration) x 1e9 x (1 - residual) x fraction drawn / per-sphere activity at calibration
  it.each([0, 30, 64.05, 200])('glass 7 GBq vial, 3 %% residual, %d h after calibration: 7e9 x 0.97 / 2500 spheres', (h) => {
    const o = orderVial({ device: 'glass', activityGBq: decayed(7, h, T_HALF_H.Y90) * 0.97, treatmentTime: at(h), calibrationTime: CAL, residualFraction: 0.03 });
    expect(o.vial.nominalGBq).toBe(7);
    const expected = (7n * 10n ** 9n * 97n) / 100n / 2500n;
    expect((7n * 10n ** 9n * 97n) % (100n * 2500n)).toBe(0n); // the division is exact
    expect(BigInt(o.spheresImplanted)).toBe(expected); // 2 716 000
    expect(Number.isInteger(o.spheresImplanted)).toBe(true);
  });
  it('resin at calibration: 1.2 GBq drawn = 1.2e9 / 50 spheres, 40 % of the vial; 20 h later the same activity is more spheres', () => {
    const o = orderVial({ device: 'resin', activityGBq: 1.2, treatmentTime: CAL, calibrationTime: CAL });
    expect(o.spheresImplanted).toBe(Number((12n * 10n ** 8n) / 50n)); // 24 000 000
    expect(o.fractionToDraw).toBeCloseTo(0.4, 12);
    // 20 h after calibration each sphere holds 50 x 2^(-20/64.05) Bq: the count grows by 2^(20/64.05)
    const later = orderVial({ device: 'resin', activityGBq: 1.2, treatmentTime: at(20), calibrationTime: CAL });
    expect(Math.abs(later.spheresImplanted - 24e6 * 2 ** (20 / T_HALF_H.Y90))).toBeLessThanOrEqual(0.5 + 24e6 * 1e-12);
    expect(o.embolicLoadNote).toMatch(/embolic/);
  });
  it('ho166 at its calibration: 5.4 GBq / 300 Bq', () => {
    const o = orderVial({ device: 'ho166', activityGBq: 5.4, treatmentTime: CAL, residualFraction: 0.04 });
    expect(o.spheresImplanted).toBe(Number((54n * 10n ** 8n) / 300n)); // 18 000 000: the delivered 5.4 GBq
    expect(o.activityAtCalibrationGBq).toBeCloseTo(5.4 / 0.96, 12);
  });
});

describe('glass: the stock vial', () => {
  const oneHalfLife = at(T_HALF_H.Y90); // every vial holds half its calibrated activity
  const choose = (activityGBq: number, extra: Partial<Parameters<typeof orderVial>[0]> = {}) =>
    orderVial({ device: 'glass', activityGBq, treatmentTime: oneHalfLife, calibrationTime: CAL, ...extra });

  it('prescribed just below, at and just above what the 5 GBq vial delivers (2.5 GBq)', () => {
    expect(choose(2.5 * (1 - 1e-6)).vial.nominalGBq).toBe(5);
    expect(choose(2.5).vial.nominalGBq).toBe(5);
    const above = choose(2.5 * (1 + 1e-6));
    expect(above.vial.nominalGBq).toBe(7);
    expect(above.deliveredActivityGBq).toBeCloseTo(3.5, 9);
    expect(above.meetsPrescription).toBe(true);
    expect(above.deliveredOverPrescribed).toBeCloseTo(3.5 / 2.500_002_5, 9);
    expect(above.vialOptions.map((v) => v.status)).toEqual(['below the prescription', 'below the prescription', 'chosen', 'larger than needed', 'larger than needed', 'larger than needed']);
  });

  it('net of the expected residual: 2 % residual moves 2.46 GBq from the 5 to the 7 GBq vial', () => {
    expect(choose(2.45, { residualFraction: 0.02 }).vial.nominalGBq).toBe(5); // 5 x 0.5 x 0.98 = 2.45
    expect(choose(2.46, { residualFraction: 0.02 }).vial.nominalGBq).toBe(7);
    expect(choose(2.46).vial.nominalGBq).toBe(5);
  });

  it('a vial that would break a limit is not chosen: which and why', () => {
    const o = choose(2.6, { maxAllowedActivityGBq: 3.2, limitDescription: 'whole normal liver limit 75 Gy' });
    expect(o.vial.nominalGBq).toBe(5);
    expect(o.deliveredActivityGBq).toBeCloseTo(2.5, 9);
    expect(o.meetsPrescription).toBe(false);
    expect(o.withinLimits).toBe(true);
    const seven = o.vialOptions.find((v) => v.nominalGBq === 7)!;
    expect(seven.status).toBe('breaks a limit');
    expect(seven.reason).toMatch(/delivers 3\.500 GBq, more than the 3\.200 GBq the plan allows \(whole normal liver limit 75 Gy\)/);
    expect(o.warnings.join(' ')).toMatch(/the 7 GBq TheraSphere vial, the smallest that reaches the prescribed 2\.600 GBq .* is not ordered: it delivers 3\.500 GBq, more than the 3\.200 GBq .*the 5 GBq vial is ordered instead/);
  });

  it('no vial within the limits: not orderable, and from when the smallest fits', () => {
    const o = choose(0.3, { maxAllowedActivityGBq: 1 });
    expect(o.orderable).toBe(false);
    expect(o.vial.nominalGBq).toBe(3);
    expect(o.withinLimits).toBe(false);
    // 3 GBq decays to 1 GBq after T1/2 x log2(3) h
    const fitsH = T_HALF_H.Y90 * Math.log2(3);
    expect(Math.abs(new Date(o.smallestVialFitsFrom!).getTime() - (CAL.getTime() + fitsH * 3.6e6))).toBeLessThan(1);
    expect(o.warnings[0]).toMatch(/^NO TheraSphere stock vial can be given/);
  });

  it('more than the largest vial delivers: the largest, flagged', () => {
    const o = choose(12);
    expect(o.vial.nominalGBq).toBe(20);
    expect(o.meetsPrescription).toBe(false);
    expect(o.warnings.join(' ')).toMatch(/the largest TheraSphere stock vial, 20 GBq, delivers only 10\.00 GBq/);
  });

  it('without a calibration time: the weekly schedule (Sunday noon New York)', () => {
    const o = orderVial({ device: 'glass', activityGBq: 2, treatmentTime: new Date('2025-03-12T15:00:00Z') });
    expect(o.calibrationTime).toBe('2025-03-09T16:00:00.000Z');
    expect(o.treatmentAfterCalibrationH).toBe(71);
    expect(o.calibrationTimeSource).toMatch(/weekly, Sunday 12:00 America\/New_York/);
    expect(o.usableWindow).toMatchObject({ earliest: '2025-03-09T16:00:00.000Z', latest: '2025-03-21T16:00:00.000Z' });
  });
});

describe('resin: the fraction to draw', () => {
  it('before calibration (within 24 h): more than 3 GBq in the vial, a warning', () => {
    const o = orderVial({ device: 'resin', activityGBq: 1.8, treatmentTime: at(-7), calibrationTime: CAL, residualFraction: 0.05 });
    const vial = decayed(3, -7, T_HALF_H.Y90);
    expect(rel(o.fractionToDraw, 1.8 / 0.95 / vial)).toBeLessThan(1e-9);
    expect(rel(o.drawnActivityGBq, 1.8 / 0.95)).toBeLessThan(1e-12);
    expect(rel(o.deliveredActivityGBq, 1.8)).toBeLessThan(1e-12);
    expect(o.warnings.join(' ')).toMatch(/7\.0 h BEFORE.*accepted for resin/);
  });
  it('more than one vial holds', () => {
    const o = orderVial({ device: 'resin', activityGBq: 2.9, treatmentTime: at(24), calibrationTime: CAL });
    expect(o.vial.count).toBe(2);
    expect(rel(o.fractionToDraw, 2.9 / (2 * decayed(3, 24, T_HALF_H.Y90)))).toBeLessThan(1e-9);
    expect(o.warnings.join(' ')).toMatch(/2 vials are ordered/);
  });
});

describe('refusals', () => {
  const bad: Array<[string, () => unknown, RegExp, new (...a: never[]) => Error]> = [
    ['unknown device', () => orderVial({ device: 'plastic' as never, activityGBq: 1, treatmentTime: CAL }), /unknown device "plastic"/, InputError],
    ['glass before calibration', () => orderVial({ device: 'glass', activityGBq: 1, treatmentTime: at(-1), calibrationTime: CAL }), /1\.0 h BEFORE the vial's calibration time 2025-03-09T16:00:00\.000Z: glass is not given before its calibration time/, InputError],
    ['glass outside the window', () => orderVial({ device: 'glass', activityGBq: 1, treatmentTime: at(300), calibrationTime: CAL }), /is 12\.5 days after the calibration time 2025-03-09T16:00:00\.000Z, outside the usable window of TheraSphere/, InputError],
    ['ho166 a day and a half late', () => orderVial({ device: 'ho166', activityGBq: 1, treatmentTime: at(36), calibrationTime: CAL }), /36\.0 h after the calibration time.*outside the usable window of QuiremSpheres/, InputError],
    ['resin without its label time', () => orderVial({ device: 'resin', activityGBq: 1, treatmentTime: CAL }), /resin \(SIR-Spheres\) vials state their 3 GBq activity at the calibration date and time on the vial label/, UsageError],
    ['residual 100 %', () => orderVial({ device: 'ho166', activityGBq: 1, treatmentTime: CAL, residualFraction: 1 }), /residual fraction 1 is outside \[0, 1\)/, InputError],
    ['no activity', () => orderVial({ device: 'ho166', activityGBq: 0, treatmentTime: CAL }), /prescribed activity at treatment \[GBq\] is 0/, InputError],
  ];
  it.each(bad)('%s', (_, f, msg, type) => {
    expect(f).toThrow(type);
    expect(f).toThrow(msg);
  });
});
