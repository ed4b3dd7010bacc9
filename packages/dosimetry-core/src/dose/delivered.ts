/**
 * Delivered activity after a treatment: the activity administered (drawn from the vial) minus the residual measured
 * afterwards in vial, tubing and catheter, both at the same reference time (the implant). Post-treatment dosimetry
 * uses the delivered activity:
 * - with a relative image (counts), the normalisation structure carries the delivered activity x (1 - LSF);
 * - with an absolute image (Bq/mL), the image measures the delivered activity itself and is not rescaled: its total
 *   at implant is compared with the expected delivered activity, and a ratio beyond +-20 % is warned about (the
 *   image's calibration, a field of view that misses activity, or the activities given).
 */
import { InputError } from '../errors.ts';
import type { ActivityUnit } from './calibration.ts';

/** Relative difference between an absolute image's total and the delivered activity beyond which a warning is given. */
export const DELIVERED_IMAGE_TOLERANCE = 0.2;

/** Options of {@link deliveredActivity}. */
export interface DeliveredActivityOptions {
  /** Activity administered (drawn from the vial) at the reference time [GBq]. */
  readonly administeredGBq: number;
  /** Residual measured in vial, tubing and catheter at the same reference time [GBq]. */
  readonly residualGBq: number;
}

/** Administered, residual and delivered activities [GBq]. */
export interface DeliveredActivity {
  readonly administeredGBq: number;
  readonly residualGBq: number;
  /** administered - residual [GBq]. */
  readonly deliveredGBq: number;
  /** residual / administered. */
  readonly residualFraction: number;
}

/**
 * Delivered = administered - residual. Throws InputError for a negative residual, a residual at or above the
 * administered activity (nothing delivered), or non-finite numbers.
 */
export function deliveredActivity(opts: DeliveredActivityOptions): DeliveredActivity {
  const a = opts.administeredGBq, r = opts.residualGBq;
  if (!Number.isFinite(a) || a <= 0) throw new InputError(`administered activity ${a} GBq must be a positive number: give --administered-gbq, the activity drawn for the patient`);
  if (!Number.isFinite(r) || r < 0) {
    throw new InputError(`--residual-gbq ${r} is negative: give the activity measured in vial, tubing and catheter after the treatment (0 or more, in GBq, at the same reference time as --administered-gbq)`);
  }
  if (r >= a) {
    throw new InputError(
      `--residual-gbq ${r} is not less than --administered-gbq ${a}: nothing would have been delivered; check the units (GBq, not MBq) and that both are at the same reference time`,
    );
  }
  return { administeredGBq: a, residualGBq: r, deliveredGBq: a - r, residualFraction: r / a };
}

/** What report.json "administration" says (see {@link administrationReport}). */
export interface AdministrationRecord extends DeliveredActivity {
  /** How the dose used it: the counts normalisation, or not at all (an absolute image measures it itself). */
  readonly doseUses: 'delivered activity (counts normalised to it)' | 'the image itself (Bq/mL: not rescaled)';
  /** Bq/mL: the image's activity at implant [GBq] and its ratio to the delivered activity; null for counts. */
  readonly imageActivityGBq: number | null;
  readonly imageOverDelivered: number | null;
}

/** Result of {@link administrationReport}: the record for report.json and the warnings to add to the case's. */
export interface AdministrationReport {
  readonly administration: AdministrationRecord;
  readonly warnings: readonly string[];
}

/**
 * The administration record of a post-treatment case: for counts the dose used the delivered activity; for Bq/mL
 * the image's total at implant (`imageActivityGBq`, the case's activity in the field) is compared with it, with a
 * warning beyond {@link DELIVERED_IMAGE_TOLERANCE}.
 */
export function administrationReport(delivered: DeliveredActivity, unit: ActivityUnit, imageActivityGBq: number): AdministrationReport {
  if (unit === 'counts') {
    return { administration: { ...delivered, doseUses: 'delivered activity (counts normalised to it)', imageActivityGBq: null, imageOverDelivered: null }, warnings: [] };
  }
  const ratio = imageActivityGBq / delivered.deliveredGBq;
  const warnings: string[] = [];
  if (!(Math.abs(ratio - 1) <= DELIVERED_IMAGE_TOLERANCE)) {
    warnings.push(
      `the activity image holds ${imageActivityGBq.toPrecision(4)} GBq at implant, ${(100 * Math.abs(ratio - 1)).toFixed(1)} % ${ratio > 1 ? 'more' : 'less'} than the ${delivered.deliveredGBq.toPrecision(4)} GBq delivered (${delivered.administeredGBq} administered - ${delivered.residualGBq} residual): beyond +-${100 * DELIVERED_IMAGE_TOLERANCE} %; the dose uses the image as it is: check the image's calibration, --scan-delay-h, whether the field of view holds all the activity, and the activities given`,
    );
  }
  return { administration: { ...delivered, doseUses: 'the image itself (Bq/mL: not rescaled)', imageActivityGBq, imageOverDelivered: ratio }, warnings };
}
