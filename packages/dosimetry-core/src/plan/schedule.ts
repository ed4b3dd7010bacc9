/**
 * Calibration times of vials from a device's calibration rule (src/plan/catalogue.ts), and the usable-window check.
 *
 * A weekly schedule is a local wall-clock time in an IANA zone (TheraSphere: Sunday 12:00 America/New_York), so the
 * instant follows daylight saving: noon Eastern is 17:00 UTC in winter and 16:00 UTC in summer, and a vial's activity
 * differs by 1.1 % per hour of 90Y decay. Zone offsets come from Intl (the ICU data of Node or the browser).
 */
import { InputError, UsageError } from '../errors.ts';
import { decayConstantPerS, SECONDS_PER_HOUR } from '../units/index.ts';
import { WEEKDAYS, type CalibrationRule, type CatalogueDevice } from './catalogue.ts';

const MS_PER_H = 3.6e6;

/** Offset of `zone` from UTC at the instant `utcMs` [ms] (local = UTC + offset), to the second. */
export function zoneOffsetMs(utcMs: number, zone: string): number {
  const f = new Intl.DateTimeFormat('en-US', {
    timeZone: zone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit',
  });
  const p: Record<string, number> = {};
  for (const x of f.formatToParts(new Date(utcMs))) if (x.type !== 'literal') p[x.type] = Number(x.value);
  const localAsUtc = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
  return localAsUtc - Math.floor(utcMs / 1000) * 1000;
}

/** Local calendar date (year, month 1-12, day, weekday 0 = Sunday) of an instant in `zone`. */
function localDate(utcMs: number, zone: string): { year: number; month: number; day: number; weekday: number } {
  const local = new Date(utcMs + zoneOffsetMs(utcMs, zone));
  return { year: local.getUTCFullYear(), month: local.getUTCMonth() + 1, day: local.getUTCDate(), weekday: local.getUTCDay() };
}

/**
 * The UTC instant [ms] of a local wall-clock time in `zone`. In the hour skipped by a spring-forward change the time
 * does not exist and the later offset is taken; in a repeated autumn hour the first (daylight) instant is taken.
 */
export function zonedWallTimeToUtcMs(year: number, month: number, day: number, hour: number, minute: number, zone: string): number {
  const wall = Date.UTC(year, month - 1, day, hour, minute);
  let t = wall - zoneOffsetMs(wall, zone);
  for (let i = 0; i < 3; i++) {
    const next = wall - zoneOffsetMs(t, zone);
    if (next === t) break;
    t = next;
  }
  // the earlier of two valid instants (autumn): one hour before, if it shows the same wall time
  const earlier = t - MS_PER_H;
  if (earlier + zoneOffsetMs(earlier, zone) === wall) return earlier;
  return t;
}

/**
 * The latest calibration of a weekly schedule at or before `treatmentTime`: the weekday's local time of day in the
 * schedule's zone, this week or the week before.
 */
export function latestWeeklyCalibration(rule: Extract<CalibrationRule, { kind: 'weekly' }>, treatmentTime: Date): Date {
  const target = WEEKDAYS.indexOf(rule.weekday);
  const [hh, mm] = rule.timeOfDay.split(':').map(Number);
  const t = treatmentTime.getTime();
  const d = localDate(t, rule.timeZone);
  const back = (d.weekday - target + 7) % 7;
  for (const extra of [0, 7]) {
    const day = new Date(Date.UTC(d.year, d.month - 1, d.day - back - extra));
    const cal = zonedWallTimeToUtcMs(day.getUTCFullYear(), day.getUTCMonth() + 1, day.getUTCDate(), hh, mm, rule.timeZone);
    if (cal <= t) return new Date(cal);
  }
  throw new Error('unreachable: a weekly calibration lies within 14 days before any instant');
}

/** A calibration time and where it came from. */
export interface ResolvedCalibration {
  readonly calibrationTime: Date;
  /** 'given' (the vial label, --calibration-time), 'schedule: ...' or 'treatment time (per-patient order)'. */
  readonly source: string;
}

/**
 * The vial's calibration time: the given one (the vial label) when there is one, else from the device's rule: the
 * latest weekly calibration at or before the treatment, or the treatment time itself for a per-patient order. A
 * device whose vials carry their calibration on the label ('label') needs it given: UsageError.
 */
export function resolveCalibration(entry: CatalogueDevice, treatmentTime: Date, calibrationTime?: Date): ResolvedCalibration {
  if (calibrationTime) return { calibrationTime, source: 'given (--calibration-time, the vial label)' };
  const rule = entry.calibration;
  if (rule.kind === 'weekly') {
    return { calibrationTime: latestWeeklyCalibration(rule, treatmentTime), source: `schedule: weekly, ${rule.weekday} ${rule.timeOfDay} ${rule.timeZone}, the latest at or before the treatment` };
  }
  if (rule.kind === 'at-treatment') return { calibrationTime: treatmentTime, source: 'the treatment time (per-patient order)' };
  throw new UsageError(
    `${entry.device} (${entry.product}) vials state their ${entry.vial.kind === 'draw' ? `${entry.vial.vialGBq} GBq ` : ''}activity at the calibration date and time on the vial label: give --calibration-time with --treatment-time (${rule.source})`,
  );
}

/** Hours, or days beyond 48 h, for messages. */
export function formatInterval(h: number): string {
  const a = Math.abs(h);
  return a >= 48 ? `${(a / 24).toFixed(1)} days` : `${a.toFixed(1)} h`;
}

/** The window as text: "from 24.0 h before to 24.0 h after calibration". */
export function windowText(w: CatalogueDevice['usableWindow']): string {
  const from = w.fromCalibrationH === 0 ? 'from the calibration time' : `from ${formatInterval(w.fromCalibrationH)} before calibration`;
  return `${from} to ${formatInterval(w.toCalibrationH)} after it`;
}

/** Result of {@link checkUsableWindow}: the interval and the warnings (a treatment accepted before calibration). */
export interface WindowCheck {
  /** t_tx - t_cal [h]. */
  readonly treatmentAfterCalibrationH: number;
  readonly warnings: readonly string[];
}

/**
 * Checks a treatment time against the device's usable window around its calibration time. Outside it: InputError,
 * one line naming both times and the window (before calibration: the wording of orderActivity, kept for its callers).
 * Inside it but before calibration (resin): a warning.
 */
export function checkUsableWindow(entry: CatalogueDevice, calibrationTime: Date, treatmentTime: Date): WindowCheck {
  for (const [name, d] of [['calibration time', calibrationTime], ['treatment time', treatmentTime]] as const) {
    if (!(d instanceof Date) || Number.isNaN(d.getTime())) throw new InputError(`${name} is not a valid date: give an ISO time with its zone, such as 2025-03-14T09:00:00Z`);
  }
  const w = entry.usableWindow;
  const cal = calibrationTime.toISOString(), tx = treatmentTime.toISOString();
  const dtH = (treatmentTime.getTime() - calibrationTime.getTime()) / MS_PER_H;
  const warnings: string[] = [];
  if (dtH < 0) {
    const before = `the treatment time ${tx} is ${(-dtH).toFixed(1)} h BEFORE the vial's calibration time ${cal}`;
    if (dtH < w.fromCalibrationH) {
      throw new InputError(
        `${before}: ${entry.device} is ${w.fromCalibrationH < 0 ? `given at most ${-w.fromCalibrationH} h before calibration` : 'not given before its calibration time'} (usable window ${windowText(w)}: ${w.source}); check that --calibration-time and --treatment-time are not swapped or mistyped`,
      );
    }
    const f = Math.exp(decayConstantPerS(entry.isotope) * dtH * SECONDS_PER_HOUR);
    warnings.push(`${before}: the vial holds more than its calibrated activity at treatment (decay factor ${f.toFixed(4)} < 1); accepted for ${entry.device} within ${-w.fromCalibrationH} h (${w.source}); check that the times are not swapped`);
  } else if (dtH > w.toCalibrationH) {
    throw new InputError(
      `the treatment time ${tx} is ${formatInterval(dtH)} after the calibration time ${cal}, outside the usable window of ${entry.product} (${windowText(w)}: ${w.source}); check the dates (month, year) of --calibration-time and --treatment-time, or order a vial calibrated closer to the treatment`,
    );
  }
  return { treatmentAfterCalibrationH: dtH, warnings };
}
