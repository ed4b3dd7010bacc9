/**
 * `dose --residual-gbq R`: the waste measured after a treatment (vial, tubing, catheter), at the reference time of
 * --administered-gbq. The dose uses the delivered activity administered - R (src/dose/delivered.ts); report.json
 * gains "administration" { administeredGBq, residualGBq, deliveredGBq, residualFraction, doseUses,
 * imageActivityGBq, imageOverDelivered } and provenance.parameters residualGBq and deliveredGBq.
 */
import { UsageError } from '../../errors.ts';
import { deliveredActivity, type DeliveredActivity } from '../../dose/delivered.ts';
import { numberOpt, type ParsedArgs } from '../args.ts';

/**
 * The delivered activity from --residual-gbq and --administered-gbq, or undefined without --residual-gbq. Throws
 * UsageError when --administered-gbq is missing, InputError for a negative residual or one at or above the
 * administered activity.
 */
export function deliveredFromArgs(a: ParsedArgs, command = 'dose'): DeliveredActivity | undefined {
  const residualGBq = numberOpt(a, 'residual-gbq', command);
  if (residualGBq === undefined) return undefined;
  const administeredGBq = numberOpt(a, 'administered-gbq', command);
  if (administeredGBq === undefined) {
    throw new UsageError(`${command}: --residual-gbq needs --administered-gbq (the activity drawn for the patient, at the same reference time): the dose uses administered - residual`);
  }
  return deliveredActivity({ administeredGBq, residualGBq });
}

/** The provenance parameters recording it. */
export function deliveredParameters(d: DeliveredActivity): Record<string, number> {
  return { residualGBq: d.residualGBq, deliveredGBq: d.deliveredGBq };
}
