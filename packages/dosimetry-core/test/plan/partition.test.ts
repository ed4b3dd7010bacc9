import { describe, expect, it } from 'vitest';
import {
  partitionDoses,
  partitionMultiLesionDoses,
  partitionMultiLesionPlan,
  partitionPlan,
  tnRatioFromCounts,
  type PartitionModel,
} from '../../src/plan/partition.ts';
import { InputError, PlanError } from '../../src/errors.ts';
import { ISOTOPES, NUCLIDES } from '../../src/units/index.ts';

// Tolerances: the model is closed form, so results match hand arithmetic to the digits written (toBeCloseTo
// with that many decimals) and round trips to ~1e-12 relative (double rounding only).

const base: PartitionModel = { isotope: 'Y90', tumorMassG: 100, normalMassG: 1000, tnRatio: 4, lungShuntFraction: 0.1 };

describe('partition model, forward (Ho et al. 1996)', () => {
  it('hand-worked 90Y: M_T 100 g, M_N 1000 g, T/N 4, LSF 10 %, 2 GBq', () => {
    // T/N x M_T + M_N = 400 + 1000 = 1400 g = 1.4 kg
    // D_N = 49.67 x 2 x 0.9 / 1.4 = 89.406 / 1.4 = 63.86143 Gy; D_T = 4 x D_N = 255.44571 Gy
    // D_L = 49.67 x 2 x 0.1 / 1.0 = 9.934 Gy
    const r = partitionDoses({ ...base, activityGBq: 2 });
    expect(r.normalLiverGy).toBeCloseTo(63.86143, 5);
    expect(r.tumorGy).toBeCloseTo(255.44571, 5);
    expect(r.lungGy).toBeCloseTo(9.934, 10);
    expect(r.wholeNormalLiverGy).toBeNull();
    expect(r.lesions).toHaveLength(1);
    expect(r.lesions[0].doseGy).toBeCloseTo(r.tumorGy, 12);
  });

  it('hand-worked 166Ho, same anatomy: D_N = 15.87 x 2 x 0.9 / 1.4 = 20.40429 Gy', () => {
    const r = partitionDoses({ ...base, isotope: 'Ho166', activityGBq: 2 });
    expect(r.normalLiverGy).toBeCloseTo(20.40429, 5);
    expect(r.tumorGy).toBeCloseTo(81.61714, 5);
  });

  it('whole normal liver: D_WN = D_N x M_N / M_WN', () => {
    const r = partitionDoses({ ...base, wholeNormalLiverMassG: 1600, activityGBq: 2 });
    expect(r.wholeNormalLiverGy).toBeCloseTo((63.86143 * 1000) / 1600, 5);
  });

  it('T/N from scout counts: (5000/100)/(20000/1600) = 50/12.5 = 4', () => {
    expect(tnRatioFromCounts({ tumorCounts: 5000, tumorMassG: 100, normalCounts: 20000, normalMassG: 1600 })).toBeCloseTo(4, 14);
    expect(() => tnRatioFromCounts({ tumorCounts: 0, tumorMassG: 100, normalCounts: 1, normalMassG: 1 })).toThrow(InputError);
  });
});

describe('partition model, inverse: each binding constraint', () => {
  const limits = { tumorGy: 205, normalLiverGy: 120, lungGy: 30 };

  it('tumour binds: A = 205 / (4 x 31.93071) = 1.60504 GBq', () => {
    // k_N = 49.67 x 0.9 / 1.4 = 31.93071 Gy/GBq; D_N = 205 / 4 = 51.25 Gy; D_L = 4.967 x 1.60504 = 7.97222 Gy
    const r = partitionPlan({ ...base, targets: limits });
    expect(r.limitingConstraint).toBe('tumor');
    expect(r.targetMet).toBe(true);
    expect(r.activityGBq).toBeCloseTo(1.60504, 5);
    expect(r.tumorGy).toBeCloseTo(205, 10);
    expect(r.normalLiverGy).toBeCloseTo(51.25, 10);
    expect(r.lungGy).toBeCloseTo(7.97222, 5);
    // the limits allow up to min(120 / 31.93071, 30 / 4.967) = min(3.75814, 6.03986)
    expect(r.maxAllowedActivityGBq).toBeCloseTo(3.75814, 5);
    expect(r.warnings).toEqual([]);
  });

  it('normal liver binds (T/N 1.5): target not met, largest allowed activity, flagged', () => {
    // k_N = 49.67 x 0.9 / (0.15 + 1.0) = 38.87217; A_T = 205 / (1.5 x 38.87217) = 3.51580 GBq
    // A_N = 120 / 38.87217 = 3.08704 GBq < A_L = 30 / 4.967 = 6.03986 GBq -> A = 3.08704, D_T = 1.5 x 120 = 180 Gy
    const r = partitionPlan({ ...base, tnRatio: 1.5, targets: limits });
    expect(r.limitingConstraint).toBe('normal-liver');
    expect(r.targetMet).toBe(false);
    expect(r.activityGBq).toBeCloseTo(3.08704, 5);
    expect(r.normalLiverGy).toBeCloseTo(120, 10);
    expect(r.tumorGy).toBeCloseTo(180, 10);
    expect(r.warnings).toHaveLength(1);
    expect(r.warnings[0]).toMatch(/cannot be met under the normal-liver limit/);
  });

  it('lung binds (LSF 30 %): D_L = 30 Gy, D_N = 50 Gy, D_T = 200 Gy', () => {
    // k_N = 49.67 x 0.7 / 1.4 = 24.835; k_L = 49.67 x 0.3 = 14.901 Gy/GBq
    // A_T = 205 / (4 x 24.835) = 2.06362; A_L = 30 / 14.901 = 2.01329 (binds); A_N = 120 / 24.835 = 4.83189
    // at A_L: D_N = 24.835 x 2.01329 = 50 Gy exactly (D_L / D_N = 0.3 x 1.4 / 0.7 = 0.6), D_T = 200 Gy
    const r = partitionPlan({ ...base, lungShuntFraction: 0.3, targets: limits });
    expect(r.limitingConstraint).toBe('lung');
    expect(r.targetMet).toBe(false);
    expect(r.activityGBq).toBeCloseTo(2.01329, 5);
    expect(r.lungGy).toBeCloseTo(30, 10);
    expect(r.normalLiverGy).toBeCloseTo(50, 10);
    expect(r.tumorGy).toBeCloseTo(200, 10);
  });

  it('whole normal liver binds when its mass is given', () => {
    // M_WN = 1500 g: D_WN = D_N x 1000/1500; limit 30 Gy -> D_N = 45 Gy, D_T = 180 Gy < 205
    const r = partitionPlan({ ...base, wholeNormalLiverMassG: 1500, targets: { ...limits, wholeNormalLiverGy: 30 } });
    expect(r.limitingConstraint).toBe('whole-normal-liver');
    expect(r.wholeNormalLiverGy).toBeCloseTo(30, 10);
    expect(r.normalLiverGy).toBeCloseTo(45, 10);
    expect(r.targetMet).toBe(false);
  });

  it('whole normal liver limit without its mass: applied to the perfused normal liver, with a warning', () => {
    const r = partitionPlan({ ...base, targets: { wholeNormalLiverGy: 40 } });
    expect(r.limitingConstraint).toBe('whole-normal-liver');
    expect(r.normalLiverGy).toBeCloseTo(40, 10);
    expect(r.warnings.join(' ')).toMatch(/whole-liver treatment assumed/);
  });

  it('limits only: the largest activity under them; targetMet null', () => {
    const r = partitionPlan({ ...base, targets: { normalLiverGy: 120, lungGy: 30 } });
    expect(r.limitingConstraint).toBe('normal-liver');
    expect(r.targetMet).toBeNull();
    expect(r.activityGBq).toBeCloseTo(3.75814, 5);
    const lungOnly = partitionPlan({ ...base, targets: { lungGy: 30 } });
    expect(lungOnly.limitingConstraint).toBe('lung');
    expect(lungOnly.activityGBq).toBeCloseTo(30 / 4.967, 10);
  });

  it('target exactly at a limit counts as met (tumour binds)', () => {
    // the normal-liver limit 120 Gy allows D_T = 4 x 120 = 480 Gy exactly
    const r = partitionPlan({ ...base, targets: { tumorGy: 480, normalLiverGy: 120 } });
    expect(r.limitingConstraint).toBe('tumor');
    expect(r.targetMet).toBe(true);
    expect(r.normalLiverGy).toBeCloseTo(120, 10);
  });

  it('tumour target alone: no limits, maxAllowed null', () => {
    const r = partitionPlan({ ...base, targets: { tumorGy: 205 } });
    expect(r.limitingConstraint).toBe('tumor');
    expect(r.maxAllowedActivityGBq).toBeNull();
  });

  it('closed form A = D_N (T/N M_T + M_N) / (CF (1 - LSF)) (PHYSICS.md)', () => {
    const r = partitionPlan({ ...base, tnRatio: 2.5, targets: { normalLiverGy: 70 } });
    expect(r.activityGBq).toBeCloseTo((70 * (2.5 * 0.1 + 1.0)) / (49.67 * 0.9), 12);
  });
});

describe('partition model: inverse(forward(A)) = A on a parameter grid', () => {
  it('isotope x T/N x LSF x masses x activity', () => {
    let n = 0;
    for (const isotope of ISOTOPES)
      for (const tnRatio of [0.5, 1, 3, 10])
        for (const lungShuntFraction of [0, 0.05, 0.2, 0.5])
          for (const [tumorMassG, normalMassG] of [[10, 1500], [300, 900], [1200, 400]])
            for (const activityGBq of [0.3, 2.5, 9]) {
              const m = { isotope, tumorMassG, normalMassG, tnRatio, lungShuntFraction };
              const f = partitionDoses({ ...m, activityGBq });
              // independent recomputation from the formula in PHYSICS.md
              const cf = NUCLIDES[isotope].ldmJoulePerGBq;
              const dN = (cf * activityGBq * (1 - lungShuntFraction)) / ((tnRatio * tumorMassG + normalMassG) / 1000);
              expect(f.normalLiverGy / dN).toBeCloseTo(1, 12);
              expect(f.tumorGy / (tnRatio * dN)).toBeCloseTo(1, 12);
              const byTumor = partitionPlan({ ...m, targets: { tumorGy: f.tumorGy } });
              expect(byTumor.activityGBq / activityGBq).toBeCloseTo(1, 12);
              const byNormal = partitionPlan({ ...m, targets: { normalLiverGy: f.normalLiverGy } });
              expect(byNormal.activityGBq / activityGBq).toBeCloseTo(1, 12);
              if (lungShuntFraction > 0) {
                const byLung = partitionPlan({ ...m, targets: { lungGy: f.lungGy } });
                expect(byLung.activityGBq / activityGBq).toBeCloseTo(1, 12);
              }
              n++;
            }
    expect(n).toBe(2 * 4 * 4 * 3 * 3);
  });
});

describe('multi-lesion partition model', () => {
  const multi = {
    isotope: 'Y90' as const,
    lesions: [
      { name: 'A', massG: 50, tnRatio: 5 },
      { name: 'B', massG: 30, tnRatio: 2 },
    ],
    normalMassG: 800,
    lungShuntFraction: 0.05,
  };

  it('hand-worked: two lesions, 1.5 GBq', () => {
    // sum T/N_i M_i + M_N = 250 + 60 + 800 = 1110 g; D_N = 49.67 x 1.5 x 0.95 / 1.11 = 63.76554 Gy
    // D_A = 5 D_N = 318.82770; D_B = 2 D_N = 127.53108; mass-weighted mean = (250 + 60)/80 D_N = 247.09147
    const r = partitionMultiLesionDoses({ ...multi, activityGBq: 1.5 });
    expect(r.normalLiverGy).toBeCloseTo(63.76554, 5);
    expect(r.lesions.map((l) => l.doseGy)).toEqual([expect.closeTo(318.8277, 4), expect.closeTo(127.53108, 5)]);
    expect(r.tumorGy).toBeCloseTo(247.09147, 5);
  });

  it('every-lesion basis: the coldest lesion (B) reaches the target; mean basis: the mean does', () => {
    // every-lesion: A = 205 / (2 x 42.51036) = 2.41118 GBq; mean: A = 205 / (3.875 x 42.51036) = 1.24448 GBq
    const every = partitionMultiLesionPlan({ ...multi, targets: { tumorGy: 205 } });
    expect(every.activityGBq).toBeCloseTo(2.41118, 5);
    expect(every.limitingLesion).toBe('B');
    expect(every.lesions[1].doseGy).toBeCloseTo(205, 10);
    const mean = partitionMultiLesionPlan({ ...multi, targets: { tumorGy: 205, tumorBasis: 'mean' } });
    expect(mean.activityGBq).toBeCloseTo(1.24448, 5);
    expect(mean.tumorGy).toBeCloseTo(205, 10);
    expect(mean.limitingLesion).toBeNull();
  });

  it('one lesion equals the single-compartment model; equal-T/N lesions equal one lesion of their total mass', () => {
    const single = partitionDoses({ ...base, activityGBq: 2 });
    const one = partitionMultiLesionDoses({ isotope: 'Y90', lesions: [{ massG: 100, tnRatio: 4 }], normalMassG: 1000, lungShuntFraction: 0.1, activityGBq: 2 });
    expect(one.normalLiverGy).toBeCloseTo(single.normalLiverGy, 12);
    expect(one.lesions[0].name).toBe('lesion 1');
    const split = partitionMultiLesionDoses({
      isotope: 'Y90',
      lesions: [{ massG: 30, tnRatio: 4 }, { massG: 70, tnRatio: 4 }],
      normalMassG: 1000,
      lungShuntFraction: 0.1,
      activityGBq: 2,
    });
    expect(split.tumorGy).toBeCloseTo(single.tumorGy, 10);
  });

  it('rejects no lesions and an unknown tumour basis', () => {
    expect(() => partitionMultiLesionDoses({ ...multi, lesions: [], activityGBq: 1 })).toThrow(InputError);
    expect(() => partitionMultiLesionPlan({ ...multi, targets: { tumorGy: 100, tumorBasis: 'max' as 'mean' } })).toThrow(InputError);
  });
});

describe('partition model: bad input', () => {
  it.each([
    ['activity 0', { activityGBq: 0 }],
    ['activity negative', { activityGBq: -1 }],
    ['activity NaN', { activityGBq: NaN }],
    ['tumour mass 0', { tumorMassG: 0 }],
    ['normal mass negative', { normalMassG: -10 }],
    ['LSF 1', { lungShuntFraction: 1 }],
    ['LSF negative', { lungShuntFraction: -0.01 }],
    ['LSF NaN', { lungShuntFraction: NaN }],
    ['T/N 0', { tnRatio: 0 }],
    ['T/N negative', { tnRatio: -2 }],
    ['T/N infinite', { tnRatio: Infinity }],
    ['T/N NaN', { tnRatio: NaN }],
    ['lung mass 0', { lungMassG: 0 }],
    ['whole normal < perfused normal', { wholeNormalLiverMassG: 500 }],
  ])('forward rejects %s (InputError)', (_n, over) => {
    expect(() => partitionDoses({ ...base, activityGBq: 2, ...over })).toThrow(InputError);
  });

  it.each([
    ['no target and no limit', {}],
    ['tumour target 0', { tumorGy: 0 }],
    ['normal limit negative', { normalLiverGy: -5 }],
    ['lung limit NaN', { lungGy: NaN }],
  ])('inverse rejects %s (InputError)', (_n, targets) => {
    expect(() => partitionPlan({ ...base, targets })).toThrow(InputError);
  });

  it('a lung limit alone with LSF 0 cannot bound the activity: PlanError', () => {
    expect(() => partitionPlan({ ...base, lungShuntFraction: 0, targets: { lungGy: 30 } })).toThrow(PlanError);
  });
});
