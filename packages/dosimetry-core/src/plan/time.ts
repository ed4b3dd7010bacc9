/**
 * Date-times for decay arithmetic (calibration and treatment times of a vial). A time without a zone would be read
 * in the zone of whatever computer runs the plan, so the same command would order a different activity in Sydney and
 * in Boston (90Y loses 1.1 % per hour, 166Ho 2.6 %): only ISO 8601 date-times with an explicit zone are accepted.
 */
import { InputError } from '../errors.ts';

/** Example shown in every refusal. */
export const ZONED_TIME_EXAMPLE = '2025-03-14T09:00:00Z (UTC) or 2025-03-14T10:00:00+01:00';

const ISO_ZONED = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(?:([Zz])|([+-])(\d{2}):?(\d{2}))$/;
const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;
const LOCAL_TIME = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?$/;

/**
 * Parses an ISO 8601 date-time that states its zone: `YYYY-MM-DDTHH:MM[:SS[.fff]]` followed by `Z` or `+hh:mm` /
 * `-hh:mm` (a space may replace the `T`). Every field is range-checked (no 2025-02-30, no 24:00). Throws InputError
 * naming `what` (e.g. "--calibration-time") for a missing zone, a date without a time, or anything else.
 */
export function parseZonedDateTime(text: string, what: string): Date {
  const v = text.trim();
  const m = ISO_ZONED.exec(v);
  if (!m) {
    if (DATE_ONLY.test(v)) {
      throw new InputError(`${what} "${text}" has no time of day, and the decay over a day changes the activity by 23 % (90Y) to 46 % (166Ho): give the time with its zone, e.g. ${ZONED_TIME_EXAMPLE}`);
    }
    if (LOCAL_TIME.test(v)) {
      const tz = Intl.DateTimeFormat().resolvedOptions().timeZone ?? 'unknown';
      throw new InputError(`${what} "${text}" has no time zone: it would be read in this computer's zone (${tz}) and the decay correction would change with the machine; add Z for UTC or the offset, e.g. ${ZONED_TIME_EXAMPLE}`);
    }
    throw new InputError(`${what} "${text}" is not an ISO 8601 date-time with a time zone: use e.g. ${ZONED_TIME_EXAMPLE}`);
  }
  const [year, month, day, hour, minute] = [1, 2, 3, 4, 5].map((i) => Number(m[i]));
  const second = m[6] === undefined ? 0 : Number(m[6]);
  const ms = m[7] === undefined ? 0 : Number(`0.${m[7]}`) * 1000;
  const offH = m[9] === undefined ? 0 : Number(m[10]);
  const offM = m[9] === undefined ? 0 : Number(m[11]);
  const bad = (field: string) => new InputError(`${what} "${text}": ${field} is out of range: use e.g. ${ZONED_TIME_EXAMPLE}`);
  if (year < 1970) throw bad('the year');
  if (month < 1 || month > 12) throw bad('the month');
  // Date.UTC rolls 2025-02-30 over into March: compare the day back.
  if (day < 1 || new Date(Date.UTC(year, month - 1, day)).getUTCDate() !== day) throw bad('the day');
  if (hour > 23) throw bad('the hour');
  if (minute > 59) throw bad('the minute');
  if (second > 59) throw bad('the second');
  if (offH > 14 || offM > 59) throw bad('the zone offset');
  const sign = m[9] === '-' ? -1 : 1;
  const utcMs = Date.UTC(year, month - 1, day, hour, minute, second) + ms - sign * (offH * 60 + offM) * 60_000;
  const d = new Date(utcMs);
  if (Number.isNaN(d.getTime())) throw bad('the date');
  return d;
}
