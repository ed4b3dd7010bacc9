/**
 * Device presets: default tumour targets and organ limits of the EANM 2022 guideline (Weber et al., EJNMMI
 * 2022;49:1682), as tabulated in ../shared/PHYSICS.md. Every value is a default, overridable per plan.
 */
import { InputError, PlanError } from '../errors.ts';
import { DEVICE_CATALOGUE } from './catalogue.ts';
import type { Isotope } from '../units/index.ts';
import { checkNonNegative, checkPositive } from './checks.ts';
import type { PartitionTargets } from './partition.ts';

/** Microsphere devices. */
export type Device = 'glass' | 'resin' | 'ho166';
export const DEVICES: readonly Device[] = ['glass', 'resin', 'ho166'];

/** Default targets and limits of a device [Gy]; a limit that does not apply is absent. */
export interface DevicePreset {
  readonly device: Device;
  readonly isotope: Isotope;
  readonly description: string;
  /** Tumour target (minimum) [Gy]. */
  readonly tumorGy: number;
  /** Perfused normal liver limit [Gy]. */
  readonly normalLiverGy?: number;
  /** Whole normal liver limit [Gy]. */
  readonly wholeNormalLiverGy?: number;
  /** Lung limit per treatment [Gy]. */
  readonly lungGy: number;
  /** Lung limit summed over all treatments [Gy]. */
  readonly lungCumulativeGy: number;
  /** Where the numbers come from, and the choice made where the guideline gives a range. */
  readonly source: string;
}

/**
 * EANM 2022 defaults (../shared/PHYSICS.md, "Dose targets"). Lung: 30 Gy per treatment, 50 Gy cumulative.
 * - glass (90Y, HCC): tumour >= 205 Gy (DOSISPHERE-01); perfused normal liver < 120 Gy; whole normal liver < 75 Gy.
 * - resin (90Y, HCC): tumour >= 120 Gy, the upper end of the guideline's 100-120 Gy (the conservative choice
 *   for efficacy; pass tumorGy 100 for the lower end); perfused normal liver < 40 Gy (unilobar).
 * - ho166: tumour > 150 Gy (the ICC value; use 90 Gy for mCRC); whole normal liver < 60 Gy (lobar treatment;
 *   pass 40 Gy for a bilobar one).
 */
export const DEVICE_PRESETS: Readonly<Record<Device, DevicePreset>> = {
  glass: {
    device: 'glass',
    isotope: 'Y90',
    description: '90Y glass microspheres (HCC)',
    tumorGy: 205,
    normalLiverGy: 120,
    wholeNormalLiverGy: 75,
    lungGy: 30,
    lungCumulativeGy: 50,
    source: 'EANM 2022 (Weber et al., EJNMMI 49:1682); tumour 205 Gy from DOSISPHERE-01',
  },
  resin: {
    device: 'resin',
    isotope: 'Y90',
    description: '90Y resin microspheres (HCC)',
    tumorGy: 120,
    normalLiverGy: 40,
    lungGy: 30,
    lungCumulativeGy: 50,
    source: 'EANM 2022 (Weber et al., EJNMMI 49:1682); tumour 120 Gy = upper end of the 100-120 Gy range',
  },
  ho166: {
    device: 'ho166',
    isotope: 'Ho166',
    description: '166Ho poly(L-lactic acid) microspheres',
    tumorGy: 150,
    wholeNormalLiverGy: 60,
    lungGy: 30,
    lungCumulativeGy: 50,
    source: 'EANM 2022 (Weber et al., EJNMMI 49:1682); tumour 150 Gy (ICC; 90 Gy for mCRC); whole normal liver 60 Gy (lobar; 40 Gy bilobar)',
  },
};

/** When a device may be administered relative to its vial's calibration time. */
export interface CalibrationWindow {
  /** Longest time the treatment may precede the calibration time [h]; 0: never before it (refused). */
  readonly maxBeforeCalibrationH: number;
  /** Longest time the treatment may follow the calibration time [h]. */
  readonly maxAfterCalibrationH: number;
  /** Why, and what happens inside the window. */
  readonly source: string;
}

/**
 * Calibration windows (decay of the vial between its calibration time and the treatment), from the device catalogue's
 * usable windows (src/plan/catalogue-data.ts, where each bound has its source):
 * - glass: from the calibration time (a treatment before it means the times are swapped or mistyped: refused) to
 *   12 days after it;
 * - resin: SIR-Spheres vials hold 3 GBq at their calibration date and time and are commonly implanted on that day
 *   before the calibration hour: up to 24 h before calibration is accepted with a warning (the vial then holds more
 *   than its stated activity), earlier is refused; up to 24 h after it;
 * - ho166: QuiremSpheres are made for one patient and calibrated for the planned treatment; a treatment before the
 *   calibration time is refused (a conservative choice: the ordered activity would be lower than at calibration);
 *   up to 24 h after it.
 * Whatever the device, an interval whose decay factor exceeds {@link MAX_DECAY_FACTOR} is refused.
 */
export const CALIBRATION_WINDOWS: Readonly<Record<Device, CalibrationWindow>> = Object.fromEntries(
  (['glass', 'resin', 'ho166'] as const).map((d) => {
    const w = DEVICE_CATALOGUE.devices[d].usableWindow;
    return [d, { maxBeforeCalibrationH: w.fromCalibrationH === 0 ? 0 : -w.fromCalibrationH, maxAfterCalibrationH: w.toCalibrationH, source: w.source }];
  }),
) as Record<Device, CalibrationWindow>;

/**
 * Largest accepted decay factor exp(lambda (t_tx - t_cal)) between calibration and treatment: 50 (98 % of the vial
 * decayed; 15 days for 90Y, 6.3 days for 166Ho). Longer intervals are typing errors (a wrong month or year), not
 * plans: no vial is ordered at 50 times its treatment activity.
 */
export const MAX_DECAY_FACTOR = 50;

/** Parses a device name: glass, resin, ho166 (also 166ho, holmium). */
export function parseDevice(text: string): Device {
  const t = text.trim().toLowerCase().replace(/[-_\s]/g, '');
  if (t === 'glass' || t === 'y90glass' || t === 'therasphere') return 'glass';
  if (t === 'resin' || t === 'y90resin' || t === 'sirspheres') return 'resin';
  if (t === 'ho166' || t === '166ho' || t === 'holmium' || t === 'quirem') return 'ho166';
  throw new InputError(`unknown device "${text}": use glass, resin or ho166`);
}

/** Overrides of a preset: a number replaces the default, null removes that target or limit. */
export interface DeviceOverrides {
  readonly tumorGy?: number | null;
  readonly normalLiverGy?: number | null;
  readonly wholeNormalLiverGy?: number | null;
  readonly lungGy?: number | null;
  readonly lungCumulativeGy?: number | null;
}

/** Options of {@link deviceTargets}. */
export interface DeviceTargetOptions {
  readonly device: Device;
  readonly overrides?: DeviceOverrides;
  /** Lung dose of earlier treatments [Gy]; default 0. */
  readonly priorLungGy?: number;
}

/** Targets for the partition model, with the device's isotope. */
export interface DeviceTargets extends PartitionTargets {
  readonly isotope: Isotope;
  readonly device: Device;
}

/**
 * Resolves a device's targets and limits for one treatment: preset values, replaced or removed by `overrides`;
 * the lung limit is min(per-treatment limit, cumulative limit - prior lung dose). Throws PlanError when the
 * prior lung dose already uses up the cumulative limit.
 */
export function deviceTargets(opts: DeviceTargetOptions): DeviceTargets {
  const p = DEVICE_PRESETS[opts.device];
  if (!p) throw new InputError(`unknown device "${String(opts.device)}": use glass, resin or ho166`);
  const o = opts.overrides ?? {};
  const pick = (key: keyof DeviceOverrides, def: number | undefined, what: string): number | undefined => {
    const v = o[key] === undefined ? def : o[key];
    return v === null || v === undefined ? undefined : checkPositive(v, what);
  };
  const tumorGy = pick('tumorGy', p.tumorGy, 'tumour dose target [Gy]');
  const normalLiverGy = pick('normalLiverGy', p.normalLiverGy, 'perfused normal liver dose limit [Gy]');
  const wholeNormalLiverGy = pick('wholeNormalLiverGy', p.wholeNormalLiverGy, 'whole normal liver dose limit [Gy]');
  let lungGy = pick('lungGy', p.lungGy, 'lung dose limit per treatment [Gy]');
  const cumulativeGy = pick('lungCumulativeGy', p.lungCumulativeGy, 'cumulative lung dose limit [Gy]');
  const priorLungGy = checkNonNegative(opts.priorLungGy ?? 0, 'prior lung dose [Gy]');
  if (cumulativeGy !== undefined) {
    const left = cumulativeGy - priorLungGy;
    if (left <= 0) {
      throw new PlanError(`prior lung dose ${priorLungGy} Gy already reaches the cumulative lung limit ${cumulativeGy} Gy: no further treatment is allowed under it`);
    }
    lungGy = lungGy === undefined ? left : Math.min(lungGy, left);
  }
  return { isotope: p.isotope, device: p.device, tumorGy, normalLiverGy, wholeNormalLiverGy, lungGy };
}
