/**
 * The activity to order: the prescribed activity at treatment time carried to the vial's calibration time, within
 * the device's usable window (src/plan/catalogue.ts; CALIBRATION_WINDOWS in src/plan/devices.ts), so that swapped or
 * mistyped times are refused, not ordered. The vial itself (stock size, fraction to draw, spheres) is src/plan/vials.ts.
 */
import { InputError } from '../errors.ts';
import { catalogueDevice, DEVICE_CATALOGUE, type DeviceCatalogue } from './catalogue.ts';
import { DEVICE_PRESETS, MAX_DECAY_FACTOR, type Device } from './devices.ts';
import { activityAtCalibration, type CalibrationActivityResult } from './models.ts';
import { checkUsableWindow } from './schedule.ts';

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
  /** Device catalogue (usable windows); default the built-in {@link DEVICE_CATALOGUE}. */
  readonly catalogue?: DeviceCatalogue;
}

/** Result of {@link orderActivity}: the decay law's result, the times as ISO strings (UTC) and any warnings. */
export type OrderedActivity = CalibrationActivityResult & { readonly calibrationTime: string; readonly treatmentTime: string; readonly warnings: readonly string[] };

/**
 * Activity to order at calibration time for the prescribed activity (decay law; see activityAtCalibration), within
 * the device's usable window (CALIBRATION_WINDOWS, from the catalogue): a treatment before the calibration time is
 * refused (glass, ho166) or, for resin within 24 h, accepted with a warning; a treatment after the window's end is
 * refused; a decay factor above {@link MAX_DECAY_FACTOR} is refused. Throws InputError naming both times, the window
 * and how to fix them.
 */
export function orderActivity(opts: OrderActivityOptions): OrderedActivity {
  for (const [name, d] of [['calibration time', opts.calibrationTime], ['treatment time', opts.treatmentTime]] as const) {
    if (!(d instanceof Date) || Number.isNaN(d.getTime())) throw new InputError(`${name} is not a valid date: give an ISO time with its zone, such as 2025-03-14T09:00:00Z`);
  }
  const preset = DEVICE_PRESETS[opts.device];
  if (!preset) throw new InputError(`unknown device "${String(opts.device)}": use glass, resin or ho166`);
  const isotope = preset.isotope;
  const cal = opts.calibrationTime.toISOString(), tx = opts.treatmentTime.toISOString();
  const { treatmentAfterCalibrationH: dtH, warnings } = checkUsableWindow(catalogueDevice(opts.device, opts.catalogue ?? DEVICE_CATALOGUE), opts.calibrationTime, opts.treatmentTime);
  const r = activityAtCalibration({
    isotope, treatmentActivityGBq: opts.activityGBq, calibrationTime: opts.calibrationTime, treatmentTime: opts.treatmentTime, residualFraction: opts.residualFraction,
  });
  if (r.decayFactor > MAX_DECAY_FACTOR) {
    throw new InputError(
      `the treatment time ${tx} is ${(dtH / 24).toFixed(1)} days after the calibration time ${cal}: ${isotope} decays by a factor ${r.decayFactor.toPrecision(3)} in that time (more than ${MAX_DECAY_FACTOR}), so no vial can be ordered for it; check the dates (month, year) of --calibration-time and --treatment-time`,
    );
  }
  return { ...r, calibrationTime: cal, treatmentTime: tx, warnings: [...warnings] };
}
