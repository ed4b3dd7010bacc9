/**
 * `plan`'s vial order and 166Ho scout options (src/plan/vials.ts, src/plan/scout.ts), kept out of plan.ts:
 *
 *   --treatment-time T [--calibration-time T] [--residual-fraction r] [--device-catalogue FILE.json]
 *       the vial to order (report.json plan.order): glass a stock vial from the weekly calibration schedule (or the
 *       given calibration), resin the fraction of its vial to draw (the label's calibration time is required),
 *       ho166 the per-patient activity at its calibration (the treatment time unless given)
 *   --scout-gbq A_s [--activity-unit bq-per-ml --scan-delay-h H]   (ho166 only)
 *       the 166Ho scout's own dose per structure (report.json plan.scout), cumulative lung and normal liver
 *
 * Every check that needs no image runs before the images are read, so a bad time or catalogue is refused at once.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { FileError, UsageError } from '../../errors.ts';
import { MAX_ADMINISTERED_GBQ } from '../../dose/calibration.ts';
import type { DoseCaseResult } from '../../dose/pipeline.ts';
import { catalogueDevice, DEVICE_CATALOGUE, parseCatalogueJson, type DeviceCatalogue } from '../../plan/catalogue.ts';
import type { Device } from '../../plan/devices.ts';
import { predictedDoses, REFERENCE_ACTIVITY_GBQ, type CaseCompartments, type ImagePlan, type PredictedDoses } from '../../plan/image.ts';
import { resolveCalibration } from '../../plan/schedule.ts';
import { quantitativeScoutCase, scoutDoses, type ScoutDoses } from '../../plan/scout.ts';
import { parseZonedDateTime } from '../../plan/time.ts';
import { orderVial, type VialOrder } from '../../plan/vials.ts';
import { numberOpt, opt, type OptionSpec, type ParsedArgs } from '../args.ts';

/** Options this module adds to plan's (see module comment). */
export const PLAN_ORDER_OPTIONS: Record<string, OptionSpec> = {
  'scout-gbq': { type: 'string' },
  'device-catalogue': { type: 'string' },
};

/** Help lines of these options. */
export const PLAN_ORDER_HELP = `the vial to order (report.json plan.order):
  glass: the stock vial (3-20 GBq) calibrated on the weekly schedule (or --calibration-time), whole vial given;
  resin: the fraction of the 3 GBq vial to draw (--calibration-time from the vial label required);
  ho166: the per-patient activity at its calibration (the treatment time unless --calibration-time).
  Delivered activity, predicted doses at it, spheres implanted; a treatment outside the usable window is refused.
  [--device-catalogue FILE.json]  a site's device catalogue (its entries replace the built-in ones)
166Ho scout (ho166): --scout-gbq A_s   the scout's own dose per structure (plan.scout) and cumulative doses;
  a quantitative scout: --activity-unit bq-per-ml --scout-gbq A_s --scan-delay-h H (prediction = image x A/A_s)`;

/** The device catalogue: --device-catalogue FILE.json over the built-in one. */
export function catalogueFromArgs(a: ParsedArgs): DeviceCatalogue {
  const path = opt(a, 'device-catalogue');
  if (path === undefined) return DEVICE_CATALOGUE;
  if (!existsSync(path) || !statSync(path).isFile()) throw new FileError(`plan: --device-catalogue ${path} does not exist or is not a file: give a JSON device catalogue (the shape of src/plan/catalogue-data.ts)`);
  return parseCatalogueJson(readFileSync(path, 'utf8'), path);
}

/** Times of the order (see {@link planTimesFromArgs}). */
export interface PlanTimes {
  readonly treatmentTime?: Date;
  /** As given (the vial label). */
  readonly givenCalibrationTime?: Date;
  /** As used: given, or from the device's calibration rule. */
  readonly calibrationTime?: Date;
  readonly residualFraction?: number;
}

/**
 * --treatment-time (alone or with --calibration-time) and --residual-fraction, checked before any image is read: the
 * calibration time from the device's rule, the usable window, the decay ceiling (an order of 1 GBq is tried).
 */
export function planTimesFromArgs(a: ParsedArgs, device: Device, catalogue: DeviceCatalogue): PlanTimes {
  const time = (name: string) => {
    const v = opt(a, name);
    return v === undefined ? undefined : parseZonedDateTime(v, `plan: --${name}`);
  };
  const givenCalibrationTime = time('calibration-time');
  const treatmentTime = time('treatment-time');
  const residualFraction = numberOpt(a, 'residual-fraction', 'plan');
  if (givenCalibrationTime && !treatmentTime) throw new UsageError('plan: give both --calibration-time and --treatment-time (ISO) for the activity to order (or --treatment-time alone for glass and ho166)');
  if (!treatmentTime) {
    if (residualFraction !== undefined) throw new UsageError('plan: --residual-fraction serves the vial order: give --treatment-time with it');
    return {};
  }
  const { calibrationTime } = resolveCalibration(catalogueDevice(device, catalogue), treatmentTime, givenCalibrationTime);
  orderVial({ device, activityGBq: 1, treatmentTime, calibrationTime: givenCalibrationTime, residualFraction, catalogue });
  return { treatmentTime, givenCalibrationTime, calibrationTime, residualFraction };
}

/** The largest activity the plan's limits allow and the limit that sets it (as in src/plan/image.ts voxelLimits). */
function bindingLimit(plan: ImagePlan, c: CaseCompartments): { maxGBq: number | null; text: string } {
  const t = plan.targets;
  const limits = [
    { name: 'perfused normal liver', gy: t.normalLiverGy, k: c.perfusedNormalLiver.gyPerGBq },
    { name: 'whole normal liver', gy: t.wholeNormalLiverGy, k: c.wholeNormalLiver.gyPerGBq },
    { name: 'lung', gy: t.lungGy, k: c.lungGyPerGBq },
  ];
  let best: { maxGBq: number | null; text: string } = { maxGBq: null, text: '' };
  for (const l of limits) {
    if (l.gy === undefined || !(l.k > 0)) continue;
    const a = l.gy / l.k;
    if (best.maxGBq === null || a < best.maxGBq) best = { maxGBq: a, text: `${l.name} limit ${l.gy} Gy` };
  }
  return best;
}

/** report.json plan.order: the vial order, and the plan's doses at the delivered activity. */
export type PlanOrderJson = VialOrder & {
  /** The plan's compartment doses at the delivered activity [Gy] (the prescribed ones x delivered / prescribed). */
  readonly predictedAtDelivered: PredictedDoses;
  readonly doseMapNote: string;
};

/** The vial order for the plan's prescribed activity, or null without --treatment-time. */
export function planOrder(plan: ImagePlan, c: CaseCompartments, device: Device, times: PlanTimes, catalogue: DeviceCatalogue): PlanOrderJson | null {
  if (!times.treatmentTime) return null;
  const limit = bindingLimit(plan, c);
  const order = orderVial({
    device,
    activityGBq: plan.activityGBq,
    treatmentTime: times.treatmentTime,
    calibrationTime: times.givenCalibrationTime,
    residualFraction: times.residualFraction,
    maxAllowedActivityGBq: limit.maxGBq,
    limitDescription: limit.text || undefined,
    catalogue,
  });
  return {
    ...order,
    predictedAtDelivered: predictedDoses(c, order.deliveredActivityGBq),
    doseMapNote: `dose.nii.gz, structures and plan.predicted are at the prescribed ${plan.activityGBq.toPrecision(4)} GBq; predictedAtDelivered scales them by delivered / prescribed = ${order.deliveredOverPrescribed.toFixed(4)} (dose is linear in activity)`,
  };
}

/** The 166Ho scout set-up (see {@link scoutFromArgs}). */
export interface ScoutSetup {
  /** Scout activity administered [GBq], or undefined without --scout-gbq. */
  readonly activityGBq?: number;
  /** The scout image's unit. */
  readonly unit: 'counts' | 'bq-per-ml';
  /** Administered activity the scout case is computed at [GBq]: 1 GBq for counts, A_s for Bq/mL. */
  readonly referenceActivityGBq: number;
  readonly warnings: readonly string[];
}

/**
 * --activity-unit and --scout-gbq of plan: counts (any device), or a quantitative 166Ho scout in Bq/mL (ho166 with
 * --scout-gbq and --scan-delay-h). --scout-gbq is refused for glass and resin (their scout is 99mTc-MAA, no therapy).
 */
export function scoutFromArgs(a: ParsedArgs, device: Device, catalogue: DeviceCatalogue): ScoutSetup {
  const unitText = (opt(a, 'activity-unit') ?? 'counts').trim().toLowerCase();
  const scoutGBq = numberOpt(a, 'scout-gbq', 'plan');
  const warnings: string[] = [];
  if (scoutGBq !== undefined) {
    if (device !== 'ho166') {
      throw new UsageError(`plan: --scout-gbq is the activity of a 166Ho scout (--device ho166); a ${device} plan is made on a 99mTc-MAA scout, which gives no therapeutic dose: leave --scout-gbq out`);
    }
    if (!(scoutGBq > 0)) throw new UsageError(`plan: --scout-gbq ${scoutGBq} must be positive: the activity of the 166Ho scout administered, in GBq (e.g. 0.25)`);
    if (scoutGBq > MAX_ADMINISTERED_GBQ) throw new UsageError(`plan: --scout-gbq ${scoutGBq} is more than any radioembolization: give it in GBq (${scoutGBq} MBq is --scout-gbq ${scoutGBq / 1000})`);
    const typical = catalogueDevice(device, catalogue).scoutActivityGBq;
    if (typical && (scoutGBq > 4 * typical.value || scoutGBq < typical.value / 4)) {
      warnings.push(`--scout-gbq ${scoutGBq} GBq is far from the usual 166Ho scout of about ${typical.value} GBq (${typical.source}): check the unit (GBq)`);
    }
  }
  if (unitText === 'counts' || unitText === 'count') {
    return { activityGBq: scoutGBq, unit: 'counts', referenceActivityGBq: REFERENCE_ACTIVITY_GBQ, warnings };
  }
  const bq = unitText === 'bq-per-ml' || unitText === 'bq/ml' || unitText === 'bqml';
  if (!bq || device !== 'ho166' || scoutGBq === undefined || opt(a, 'scan-delay-h') === undefined) {
    throw new UsageError(
      `plan: the scout is used as a relative distribution: give --activity-unit counts (or leave it out), not "${opt(a, 'activity-unit')}"; only a quantitative 166Ho scout may be in Bq/mL, with --device ho166, --scout-gbq A_s and --scan-delay-h H`,
    );
  }
  if (opt(a, 'normalize-to') !== undefined) throw new UsageError('plan: --normalize-to applies to a scout in counts; a quantitative scout in Bq/mL is scaled by A_treatment / A_scout as it is');
  return { activityGBq: scoutGBq, unit: 'bq-per-ml', referenceActivityGBq: scoutGBq, warnings };
}

/** The scout case prepared for planning: Bq/mL scouts get their lung shunt measured and their total checked. */
export function scoutCase(result: DoseCaseResult, scout: ScoutSetup): DoseCaseResult {
  if (scout.unit === 'counts') return result;
  const q = quantitativeScoutCase(result, scout.activityGBq!);
  q.result.warnings.push(...q.warnings);
  return q.result;
}

/** Lung dose before this treatment [Gy]: --prior-lung-gy plus the 166Ho scout's own lung dose (cumulative limit). */
export function priorLungWithScout(priorLungGy: number | undefined, c: CaseCompartments, scout: ScoutSetup): number | undefined {
  if (scout.activityGBq === undefined) return priorLungGy;
  return (priorLungGy ?? 0) + c.lungGyPerGBq * scout.activityGBq;
}

/** report.json plan.scout, or null without --scout-gbq. */
export function planScout(plan: ImagePlan, result: DoseCaseResult, c: CaseCompartments, scout: ScoutSetup, priorLungGy: number | undefined): (ScoutDoses & { imageActivityGBq: number | null; imageOverScout: number | null }) | null {
  if (scout.activityGBq === undefined) return null;
  const s = scoutDoses({
    result, compartments: c, referenceActivityGBq: scout.referenceActivityGBq, scoutActivityGBq: scout.activityGBq,
    treatmentActivityGBq: plan.activityGBq, unit: scout.unit, priorLungGy,
  });
  const imageActivityGBq = scout.unit === 'bq-per-ml' ? result.activityInFieldGBq : null;
  return { ...s, imageActivityGBq, imageOverScout: imageActivityGBq === null ? null : imageActivityGBq / scout.activityGBq };
}

const f3 = (x: number) => x.toFixed(3);

/** Text lines of the order and the scout for plan's default output. */
export function orderLines(order: PlanOrderJson | null, scout: ReturnType<typeof planScout>): string[] {
  const lines: string[] = [];
  if (order) {
    lines.push(
      `vial: ${order.product} ${order.vial.label}, calibrated ${order.calibrationTime} (${order.calibrationTimeSource}): ${f3(order.activityAtCalibrationGBq)} GBq at calibration, ${f3(order.activityAtTreatmentGBq)} GBq at treatment ${order.treatmentTime}`,
      `  ${order.vial.kind === 'draw' ? `draw ${(100 * order.fractionToDraw).toFixed(1)} % of the vial (${f3(order.drawnActivityGBq)} GBq); ` : ''}delivered ${f3(order.deliveredActivityGBq)} GBq (x${order.deliveredOverPrescribed.toFixed(3)} the prescribed ${f3(order.prescribedActivityGBq)} GBq${order.residualFraction > 0 ? `, net of ${(100 * order.residualFraction).toFixed(1)} % residual` : ''}); ${(order.spheresImplanted / 1e6).toFixed(2)} million spheres implanted (${order.activityPerSphereAtTreatmentBq.toFixed(0)} Bq each at treatment)`,
    );
    if (Math.abs(order.deliveredOverPrescribed - 1) > 1e-9) {
      const p = order.predictedAtDelivered;
      lines.push(`  at the delivered activity: all tumour ${p.allTumorGy.toFixed(1)} Gy, perfused normal liver ${p.perfusedNormalLiverGy.toFixed(1)} Gy, whole normal liver ${p.wholeNormalLiverGy.toFixed(1)} Gy, lung ${p.lungGy.toFixed(1)} Gy`);
    }
  }
  if (scout) {
    lines.push(
      `166Ho scout ${scout.activityGBq} GBq (${scout.image}): its own dose: whole normal liver ${scout.compartments.wholeNormalLiverGy.toFixed(2)} Gy, lung ${scout.compartments.lungGy.toFixed(2)} Gy; cumulative with the treatment: whole normal liver ${scout.cumulative.wholeNormalLiverGy.toFixed(1)} Gy, lung ${scout.cumulative.lungGy.toFixed(1)} Gy`,
    );
  }
  return lines;
}
