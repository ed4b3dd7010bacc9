import { describe, expect, it } from 'vitest';
import { DEVICE_PRESETS, DEVICES, deviceTargets, parseDevice } from '../../src/plan/devices.ts';
import { partitionPlan } from '../../src/plan/partition.ts';
import { InputError, PlanError } from '../../src/errors.ts';

describe('device presets (EANM 2022, ../shared/PHYSICS.md)', () => {
  it('hold the guideline values', () => {
    expect(DEVICE_PRESETS.glass).toMatchObject({ isotope: 'Y90', tumorGy: 205, normalLiverGy: 120, wholeNormalLiverGy: 75, lungGy: 30, lungCumulativeGy: 50 });
    expect(DEVICE_PRESETS.resin).toMatchObject({ isotope: 'Y90', tumorGy: 120, normalLiverGy: 40, lungGy: 30, lungCumulativeGy: 50 });
    expect(DEVICE_PRESETS.resin.wholeNormalLiverGy).toBeUndefined();
    expect(DEVICE_PRESETS.ho166).toMatchObject({ isotope: 'Ho166', tumorGy: 150, wholeNormalLiverGy: 60, lungGy: 30, lungCumulativeGy: 50 });
    expect(DEVICE_PRESETS.ho166.normalLiverGy).toBeUndefined();
    for (const d of DEVICES) expect(parseDevice(d)).toBe(d);
    expect(parseDevice('166Ho')).toBe('ho166');
    expect(() => parseDevice('plastic')).toThrow(InputError);
  });

  it('overrides replace values, null removes a limit', () => {
    const t = deviceTargets({ device: 'resin', overrides: { tumorGy: 100, normalLiverGy: null } });
    expect(t).toMatchObject({ isotope: 'Y90', device: 'resin', tumorGy: 100, normalLiverGy: undefined, lungGy: 30 });
    expect(() => deviceTargets({ device: 'glass', overrides: { tumorGy: -1 } })).toThrow(InputError);
  });

  it('lung limit = min(per treatment, cumulative - prior)', () => {
    expect(deviceTargets({ device: 'glass' }).lungGy).toBe(30);
    expect(deviceTargets({ device: 'glass', priorLungGy: 10 }).lungGy).toBe(30); // min(30, 40)
    expect(deviceTargets({ device: 'glass', priorLungGy: 30 }).lungGy).toBe(20); // min(30, 20)
    expect(deviceTargets({ device: 'glass', priorLungGy: 30, overrides: { lungCumulativeGy: null } }).lungGy).toBe(30);
    expect(() => deviceTargets({ device: 'glass', priorLungGy: 50 })).toThrow(PlanError);
    expect(() => deviceTargets({ device: 'glass', priorLungGy: -1 })).toThrow(InputError);
  });

  it('feed the partition model: glass, whole normal liver 75 Gy binds before perfused 120 Gy', () => {
    // M_N 1000 g perfused of 1200 g whole normal liver: the 75 Gy whole limit allows D_N = 75 x 1.2 = 90 Gy,
    // the perfused limit 120 Gy; T/N 2 needs D_N = 102.5 Gy for 205 Gy -> whole-normal-liver binds, target not met
    const t = deviceTargets({ device: 'glass' });
    const r = partitionPlan({ isotope: t.isotope, tumorMassG: 100, normalMassG: 1000, wholeNormalLiverMassG: 1200, tnRatio: 2, lungShuntFraction: 0.05, targets: t });
    expect(r.limitingConstraint).toBe('whole-normal-liver');
    expect(r.normalLiverGy).toBeCloseTo(90, 10);
    expect(r.tumorGy).toBeCloseTo(180, 10);
    expect(r.targetMet).toBe(false);
  });
});
