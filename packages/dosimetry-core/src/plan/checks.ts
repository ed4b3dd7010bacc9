/**
 * Input checks shared by the planning models. Each throws an InputError that names the quantity, its unit and
 * how to fix it; each returns the value so that checks read as assignments.
 */
import { InputError } from '../errors.ts';

/** A finite number > 0, e.g. a mass [g] or an activity [GBq]. `what` names the quantity with its unit. */
export function checkPositive(value: number, what: string, hint = ''): number {
  if (!Number.isFinite(value) || value <= 0) {
    throw new InputError(`${what} is ${value}: it must be a finite number greater than 0${hint ? ` (${hint})` : ''}`);
  }
  return value;
}

/** A finite number >= 0, e.g. a dose limit [Gy]. */
export function checkNonNegative(value: number, what: string, hint = ''): number {
  if (!Number.isFinite(value) || value < 0) {
    throw new InputError(`${what} is ${value}: it must be a finite number of at least 0${hint ? ` (${hint})` : ''}`);
  }
  return value;
}

/** Any finite number, e.g. a time difference [h]. */
export function checkFinite(value: number, what: string): number {
  if (!Number.isFinite(value)) throw new InputError(`${what} is ${value}: give a finite number`);
  return value;
}

/** A tumour-to-normal uptake ratio: finite and > 0 (Ho et al. 1996). */
export function checkTnRatio(value: number, what = 'tumour-to-normal ratio T/N'): number {
  return checkPositive(value, what, 'T/N = (C_T/M_T)/(C_N/M_N) from the scout counts; typical values 1 to 10');
}
