import { describe, expect, it } from 'vitest';
import {
  activityAtCalibration,
  bsaActivity,
  bsaLsfReduction,
  holmiumStandardActivity,
  lungDoseGy,
  mirdActivity,
  mirdDose,
} from '../../src/plan/models.ts';
import { InputError } from '../../src/errors.ts';
import { ISOTOPES } from '../../src/units/index.ts';

// Tolerances: toBeCloseTo(x, 10) etc. are far tighter than the 0.1 % external checks; the only error sources
// are double rounding (~1e-15 relative) and the hand arithmetic written to the digits shown.

describe('MIRD single compartment', () => {
  it('hand-worked 90Y: 120 Gy to 1500 g with LSF 5 %', () => {
    // A = 120 Gy x 1.5 kg / (49.67 J/GBq x 0.95) = 180 / 47.1865 = 3.81465 GBq
    // D_L = 49.67 x 3.81465 x 0.05 / 1 kg = 9.47368 Gy
    const r = mirdActivity({ isotope: 'Y90', targetGy: 120, massG: 1500, lungShuntFraction: 0.05 });
    expect(r.activityGBq).toBeCloseTo(3.81465, 5);
    expect(r.liverGy).toBeCloseTo(120, 10);
    expect(r.lungGy).toBeCloseTo(9.47368, 5);
  });

  it('forward and inverse agree on a grid (isotope x dose x mass x LSF)', () => {
    for (const isotope of ISOTOPES)
      for (const targetGy of [40, 120, 300])
        for (const massG of [200, 1000, 2500])
          for (const lungShuntFraction of [0, 0.1, 0.35]) {
            const inv = mirdActivity({ isotope, targetGy, massG, lungShuntFraction });
            const fwd = mirdDose({ isotope, activityGBq: inv.activityGBq, massG, lungShuntFraction });
            expect(fwd.liverGy / targetGy).toBeCloseTo(1, 12);
            expect(fwd.lungGy).toBeCloseTo(inv.lungGy, 10);
          }
  });

  it('lung dose: 2 GBq 90Y, LSF 10 %: 9.934 Gy in 1 kg, 12.4175 Gy in 800 g', () => {
    // 49.67 x 2 x 0.1 / 1.0 = 9.934; / 0.8 = 12.4175
    expect(lungDoseGy({ isotope: 'Y90', activityGBq: 2, lungShuntFraction: 0.1 })).toBeCloseTo(9.934, 10);
    expect(lungDoseGy({ isotope: 'Y90', activityGBq: 2, lungShuntFraction: 0.1, lungMassG: 800 })).toBeCloseTo(12.4175, 10);
  });

  it.each([
    ['activity 0', () => mirdDose({ isotope: 'Y90', activityGBq: 0, massG: 1000, lungShuntFraction: 0 })],
    ['negative mass', () => mirdDose({ isotope: 'Y90', activityGBq: 1, massG: -5, lungShuntFraction: 0 })],
    ['LSF 1', () => mirdActivity({ isotope: 'Y90', targetGy: 100, massG: 1000, lungShuntFraction: 1 })],
    ['LSF -0.1', () => mirdActivity({ isotope: 'Y90', targetGy: 100, massG: 1000, lungShuntFraction: -0.1 })],
    ['target NaN', () => mirdActivity({ isotope: 'Y90', targetGy: NaN, massG: 1000, lungShuntFraction: 0 })],
    ['lung mass 0', () => lungDoseGy({ isotope: 'Y90', activityGBq: 1, lungShuntFraction: 0.1, lungMassG: 0 })],
  ])('rejects %s with an InputError', (_name, f) => {
    expect(f).toThrow(InputError);
  });
});

describe('BSA method (resin)', () => {
  it('hand-worked: 1.75 m, 70 kg, 10 % tumour involvement, LSF 5 %', () => {
    // BSA = 0.20247 x 1.75^0.725 x 70^0.425 = 0.20247 x 1.50038 x 6.08368 = 1.84812 m^2
    // A = (1.84812 - 0.2) + 200 / (200 + 1800) = 1.74812 GBq, no reduction
    const r = bsaActivity({ heightM: 1.75, weightKg: 70, tumorVolumeMl: 200, normalLiverVolumeMl: 1800, lungShuntFraction: 0.05 });
    expect(r.bsaM2).toBeCloseTo(1.84812, 5);
    // DuBois in its original cm form, 0.007184 x H[cm]^0.725 x W^0.425, agrees to 2e-5 relative
    // (0.20247 is 0.007184 x 100^0.725 rounded to 5 digits)
    expect(Math.abs(r.bsaM2 / (0.007184 * 175 ** 0.725 * 70 ** 0.425) - 1)).toBeLessThan(2e-5);
    expect(r.tumorInvolvement).toBeCloseTo(0.1, 12);
    expect(r.activityGBq).toBeCloseTo(1.74812, 5);
    expect(r.lsfReduction).toBe(0);
    expect(r.treatable).toBe(true);
  });

  it.each([
    [0, 0],
    [0.05, 0],
    [0.1, 0], // exactly 10 %: "> 10 %" is strict, no reduction
    [0.1000001, 0.2],
    [0.15, 0.2], // exactly 15 %: still the 20 % band
    [0.1 + 0.05, 0.2], // 0.15000000000000002 in binary: on the boundary within 1e-12
    [0.1500001, 0.4],
    [0.2, 0.4], // exactly 20 %
    [0.2000001, 1],
    [0.5, 1],
  ])('LSF %f -> reduction %f', (lsf, reduction) => {
    expect(bsaLsfReduction(lsf)).toBe(reduction);
    const r = bsaActivity({ heightM: 1.75, weightKg: 70, tumorVolumeMl: 200, normalLiverVolumeMl: 1800, lungShuntFraction: lsf });
    expect(r.activityGBq).toBeCloseTo(r.unreducedActivityGBq * (1 - reduction), 12);
    expect(r.treatable).toBe(reduction < 1);
    expect(r.warnings.length).toBe(reduction > 0 ? 1 : 0);
  });

  it('scales by the treated liver fraction (lobar)', () => {
    const whole = bsaActivity({ heightM: 1.6, weightKg: 55, tumorVolumeMl: 300, normalLiverVolumeMl: 1200, lungShuntFraction: 0 });
    const lobe = bsaActivity({ heightM: 1.6, weightKg: 55, tumorVolumeMl: 300, normalLiverVolumeMl: 1200, lungShuntFraction: 0, treatedLiverFraction: 0.6 });
    expect(lobe.activityGBq / whole.activityGBq).toBeCloseTo(0.6, 12);
  });

  it.each([
    ['height in cm', { heightM: 175 }],
    ['height 0', { heightM: 0 }],
    ['weight in g', { weightKg: 70000 }],
    ['no liver', { tumorVolumeMl: 0, normalLiverVolumeMl: 0 }],
    ['LSF 1', { lungShuntFraction: 1 }],
    ['treated fraction 1.5', { treatedLiverFraction: 1.5 }],
  ])('rejects %s', (_n, over) => {
    expect(() => bsaActivity({ heightM: 1.75, weightKg: 70, tumorVolumeMl: 200, normalLiverVolumeMl: 1800, lungShuntFraction: 0.05, ...over })).toThrow(InputError);
  });
});

describe('166Ho standard', () => {
  it('60 Gy whole liver = 3.781 GBq/kg (PHYSICS.md: ~3.78 GBq/kg)', () => {
    // 60 Gy x 1 kg / 15.87 J/GBq = 3.78072 GBq; x 1.8 kg = 6.80529 GBq
    expect(holmiumStandardActivity({ liverMassG: 1000 }).activityGBq).toBeCloseTo(3.78072, 5);
    const r = holmiumStandardActivity({ liverMassG: 1800, lungShuntFraction: 0.1 });
    expect(r.activityGBq).toBeCloseTo(6.80529, 5);
    expect(r.liverGy).toBeCloseTo(54, 10); // 60 x (1 - 0.1)
    expect(r.lungGy).toBeCloseTo((15.87 * 6.805293 * 0.1) / 1, 4); // 10.8 Gy
    expect(holmiumStandardActivity({ liverMassG: 1800 }).lungGy).toBeNull();
  });
});

describe('activity at calibration time', () => {
  it('90Y one half-life after calibration orders twice the activity', () => {
    const r = activityAtCalibration({ isotope: 'Y90', treatmentActivityGBq: 3, treatmentAfterCalibrationH: 64.05 });
    expect(r.calibrationActivityGBq).toBeCloseTo(6, 12);
  });

  it('dates: 72 h after calibration (90Y) = 2^(72/64.05) = 2.17969; residual 5 % divides by 0.95', () => {
    const r = activityAtCalibration({
      isotope: 'Y90',
      treatmentActivityGBq: 1,
      calibrationTime: new Date('2024-01-07T12:00:00Z'),
      treatmentTime: new Date('2024-01-10T12:00:00Z'),
      residualFraction: 0.05,
    });
    expect(r.treatmentAfterCalibrationH).toBeCloseTo(72, 12);
    expect(r.decayFactor).toBeCloseTo(2.179688, 6);
    expect(r.calibrationActivityGBq).toBeCloseTo(2.179688 / 0.95, 6);
  });

  it('166Ho treated 24 h before calibration: 2^(-24/26.8) = 0.537553', () => {
    const r = activityAtCalibration({ isotope: 'Ho166', treatmentActivityGBq: 5, treatmentAfterCalibrationH: -24 });
    expect(r.calibrationActivityGBq).toBeCloseTo(5 * 0.537553, 5);
  });

  it('rejects missing or doubled times, a bad residual, a non-positive activity', () => {
    expect(() => activityAtCalibration({ isotope: 'Y90', treatmentActivityGBq: 1 })).toThrow(InputError);
    expect(() =>
      activityAtCalibration({ isotope: 'Y90', treatmentActivityGBq: 1, treatmentAfterCalibrationH: 1, calibrationTime: new Date(), treatmentTime: new Date() }),
    ).toThrow(InputError);
    expect(() => activityAtCalibration({ isotope: 'Y90', treatmentActivityGBq: 1, treatmentAfterCalibrationH: 1, residualFraction: 1 })).toThrow(InputError);
    expect(() => activityAtCalibration({ isotope: 'Y90', treatmentActivityGBq: 0, treatmentAfterCalibrationH: 1 })).toThrow(InputError);
    expect(() =>
      activityAtCalibration({ isotope: 'Y90', treatmentActivityGBq: 1, calibrationTime: new Date('x'), treatmentTime: new Date() }),
    ).toThrow(InputError);
  });
});
