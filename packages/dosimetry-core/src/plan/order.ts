/**
 * The activity to order: the prescribed activity at treatment time carried to the vial's calibration time, within
 * the device's calibration window (src/plan/devices.ts), so that swapped or mistyped times are refused, not ordered.
 */
import { InputError } from '../errors.ts';
import { SECONDS_PER_HOUR, decayConstantPerS } from '../units/index.ts';
import { CALIBRATION_WINDOWS, DEVICE_PRESETS, MAX_DECAY_FACTOR, type Device } from './devices.ts';
import { activityAtCalibration, type CalibrationActivityResult } from './models.ts';

/** Options of {@link orderActivity}. */
export interface OrderActivityOptions {
  readonly device: Device;
  /** Prescribed activity in the patient at treatment time [GBq]. */
  readonly activityGBq: number;
  /** Calibration reference time of the vial (an instant: parse text with parseZonedDateTime). */
  readonly calibrationTime: Date;
  readonly treatmentTime: Date;
  /** Expected residual fraction left in vial and catheter, in [0, 1); default 0. */
  readonly residualFraction?: number;
}

/** Result of {@link orderActivity}: the decay law's result, the times as ISO strings (UTC) and any warnings. */
export type OrderedActivity = CalibrationActivityResult & { readonly calibrationTime: string; readonly treatmentTime: string; readonly warnings: readonly string[] };

/**
 * Activity to order at calibration time for the prescribed activity (decay law; see activityAtCalibration), within
 * the device's calibration window ({@link CALIBRATION_WINDOWS}): a treatment before the calibration time is refused
 * (glass, ho166) or, for resin within 24 h, accepted with a warning; a decay factor above {@link MAX_DECAY_FACTOR}
 * is refused. Throws InputError naming both times and how to fix them.
 */
export function orderActivity(opts: OrderActivityOptions): OrderedActivity {
  for (const [name, d] of [['calibration time', opts.calibrationTime], ['treatment time', opts.treatmentTime]] as const) {
    if (!(d instanceof Date) || Number.isNaN(d.getTime())) throw new InputError(`${name} is not a valid date: give an ISO time with its zone, such as 2025-03-14T09:00:00Z`);
  }
  const preset = DEVICE_PRESETS[opts.device];
  if (!preset) throw new InputError(`unknown device "${String(opts.device)}": use glass, resin or ho166`);
  const isotope = preset.isotope;
  const window = CALIBRATION_WINDOWS[opts.device];
  const cal = opts.calibrationTime.toISOString(), tx = opts.treatmentTime.toISOString();
  const dtH = (opts.treatmentTime.getTime() - opts.calibrationTime.getTime()) / 3.6e6;
  const warnings: string[] = [];
  if (dtH < 0) {
    const before = `the treatment time ${tx} is ${(-dtH).toFixed(1)} h BEFORE the vial's calibration time ${cal}`;
    if (-dtH > window.maxBeforeCalibrationH) {
      throw new InputError(
        `${before}: ${opts.device} is ${window.maxBeforeCalibrationH > 0 ? `given at most ${window.maxBeforeCalibrationH} h before calibration` : 'not given before its calibration time'} (${window.source}); check that --calibration-time and --treatment-time are not swapped or mistyped`,
      );
    }
    warnings.push(`${before}: the vial holds more than its calibrated activity at treatment (decay factor ${Math.exp(decayConstantPerS(isotope) * dtH * SECONDS_PER_HOUR).toFixed(4)} < 1); accepted for ${opts.device} within ${window.maxBeforeCalibrationH} h (${window.source}); check that the times are not swapped`);
  }
  const r = activityAtCalibration({
    isotope, treatmentActivityGBq: opts.activityGBq, calibrationTime: opts.calibrationTime, treatmentTime: opts.treatmentTime, residualFraction: opts.residualFraction,
  });
  if (r.decayFactor > MAX_DECAY_FACTOR) {
    throw new InputError(
      `the treatment time ${tx} is ${(dtH / 24).toFixed(1)} days after the calibration time ${cal}: ${isotope} decays by a factor ${r.decayFactor.toPrecision(3)} in that time (more than ${MAX_DECAY_FACTOR}), so no vial can be ordered for it; check the dates (month, year) of --calibration-time and --treatment-time`,
    );
  }
  return { ...r, calibrationTime: cal, treatmentTime: tx, warnings };
}
