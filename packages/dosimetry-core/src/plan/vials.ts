/**
 * The vial to order for a prescribed activity, by each device's rules (src/plan/catalogue.ts), and what it delivers:
 *
 * - glass (stock sizes, the whole vial given): the smallest stock vial whose activity at the treatment time, net of
 *   the expected residual, reaches the prescribed activity; a vial that would break a limit (delivered activity above
 *   the largest the plan allows) is not chosen, and the largest vial within the limits is ordered instead, with a
 *   warning saying which vial was refused and why. The delivered activity is the whole vial's.
 * - resin (one vial size, drawn from): the fraction of the vial (or vials) to draw at the treatment time so that the
 *   prescribed activity reaches the patient net of the residual.
 * - ho166 (per-patient order): the activity to order at its calibration time (the treatment time unless given).
 *
 * Decay: A(t_tx) = A(t_cal) exp(-lambda (t_tx - t_cal)), lambda = ln 2 / T1/2 with the half-lives of src/units
 * (../shared/PHYSICS.md). The residual (vial, tubing, catheter) is a fraction r of what is drawn: delivered =
 * drawn x (1 - r). Spheres implanted = delivered activity / activity per sphere at the treatment time, the per-sphere
 * activity at calibration decayed the same way (so the count does not depend on the decay, only on the vial). No CLI
 * dependency: planning per territory calls {@link orderVial} once per territory.
 */
import { InputError } from '../errors.ts';
import { BQ_PER_GBQ, decayConstantPerS, NUCLIDES, SECONDS_PER_HOUR, type Isotope } from '../units/index.ts';
import { catalogueDevice, DEVICE_CATALOGUE, type CatalogueDevice, type DeviceCatalogue } from './catalogue.ts';
import { checkPositive } from './checks.ts';
import { MAX_DECAY_FACTOR, type Device } from './devices.ts';
import { checkUsableWindow, formatInterval, resolveCalibration, windowText } from './schedule.ts';

/** Relative tolerance of "the vial reaches the prescribed activity" (float rounding of the decay only). */
const PRESCRIPTION_TOL = 1e-9;
/** Relative slack of the limit check, as in src/plan/image.ts (the limits come from a float32 dose map). */
const LIMIT_SLACK = 1e-6;

/** Options of {@link orderVial}. */
export interface OrderVialOptions {
  readonly device: Device;
  /** Prescribed activity in the patient at the treatment time [GBq]. */
  readonly activityGBq: number;
  /** Treatment time (an instant: parse text with parseZonedDateTime). */
  readonly treatmentTime: Date;
  /** The vial's calibration time (its label); default from the device's calibration rule (schedule or treatment time). */
  readonly calibrationTime?: Date;
  /** Expected residual fraction left in vial, tubing and catheter, in [0, 1); default 0. */
  readonly residualFraction?: number;
  /** Largest activity in the patient the plan's limits allow [GBq] (e.g. ImagePlan.maxAllowedActivityGBq); null: none. */
  readonly maxAllowedActivityGBq?: number | null;
  /** What sets that largest activity, for messages (e.g. "whole-normal-liver limit 60 Gy"). */
  readonly limitDescription?: string;
  /** Device catalogue; default the built-in {@link DEVICE_CATALOGUE}. */
  readonly catalogue?: DeviceCatalogue;
}

/** One stock vial considered (glass). */
export interface VialOption {
  /** Vial size at calibration [GBq]. */
  readonly nominalGBq: number;
  /** Its activity at the treatment time [GBq]. */
  readonly activityAtTreatmentGBq: number;
  /** What it delivers to the patient, net of the residual [GBq]. */
  readonly deliveredActivityGBq: number;
  readonly status: 'chosen' | 'below the prescription' | 'breaks a limit' | 'larger than needed';
  readonly reason: string;
}

/** The order and what it delivers (see the module comment). */
export interface VialOrder {
  readonly device: Device;
  readonly product: string;
  readonly manufacturer: string;
  readonly isotope: Isotope;
  /** Half-life used for the decay [h] (src/units). */
  readonly halfLifeH: number;
  /**
   * False when no stock vial can be given within the limits (glass, a small treatment early after calibration): the
   * fields then describe the smallest vial, which breaks a limit, and a warning says from when it would fit.
   */
  readonly orderable: boolean;
  /** When not orderable: the time from which the smallest vial fits within the limits (ISO), null when not within the window. */
  readonly smallestVialFitsFrom: string | null;
  readonly vial: {
    readonly kind: 'stock' | 'draw' | 'per-patient';
    /** e.g. "7 GBq stock vial", "1 x 3 GBq vial", "per-patient order of 5.632 GBq". */
    readonly label: string;
    /** Activity of one vial at calibration [GBq] (per-patient: the ordered activity). */
    readonly nominalGBq: number;
    /** Number of vials (resin may need more than one). */
    readonly count: number;
  };
  /** ISO 8601 (UTC). */
  readonly calibrationTime: string;
  readonly calibrationTimeSource: string;
  readonly treatmentTime: string;
  /** t_tx - t_cal [h] (negative: treatment before calibration, resin only). */
  readonly treatmentAfterCalibrationH: number;
  /** The device's usable window around this calibration (ISO times) and its source. */
  readonly usableWindow: { readonly earliest: string; readonly latest: string; readonly text: string; readonly source: string };
  /** A(t_tx) / A(t_cal) = exp(-lambda (t_tx - t_cal)). */
  readonly decayFractionAtTreatment: number;
  /** Activity ordered, at the calibration time [GBq] (all vials). */
  readonly activityAtCalibrationGBq: number;
  /** Activity in the vial(s) at the treatment time [GBq]. */
  readonly activityAtTreatmentGBq: number;
  /** Fraction of the vial(s) to draw at the treatment time (1: the whole vial). */
  readonly fractionToDraw: number;
  /** Activity drawn at the treatment time [GBq]. */
  readonly drawnActivityGBq: number;
  /** Expected residual fraction of what is drawn (vial, tubing, catheter), and that activity [GBq]. */
  readonly residualFraction: number;
  readonly residualGBq: number;
  /** Prescribed activity in the patient [GBq]. */
  readonly prescribedActivityGBq: number;
  /** Activity the order delivers to the patient: drawn x (1 - residual) [GBq]. */
  readonly deliveredActivityGBq: number;
  /** Delivered / prescribed: the factor by which every predicted dose of the plan changes. */
  readonly deliveredOverPrescribed: number;
  /** Whether the delivered activity reaches the prescribed one. */
  readonly meetsPrescription: boolean;
  /** Whether the delivered activity is within the plan's limits; null when no limit was given. */
  readonly withinLimits: boolean | null;
  readonly maxAllowedActivityGBq: number | null;
  /** Activity of one sphere at calibration and at the treatment time [Bq]. */
  readonly activityPerSphereAtCalibrationBq: number;
  readonly activityPerSphereAtTreatmentBq: number;
  /** Spheres implanted: delivered activity / activity per sphere at the treatment time, rounded to an integer. */
  readonly spheresImplanted: number;
  readonly sphereDiameterUm: CatalogueDevice['sphereDiameterUm'];
  /** What the number of spheres means (the embolic load, for resin). */
  readonly embolicLoadNote: string;
  /** Stock vials considered, smallest first (glass); empty for other devices. */
  readonly vialOptions: readonly VialOption[];
  readonly sources: Readonly<Record<string, string>>;
  readonly warnings: readonly string[];
}

const fmtG = (x: number) => x.toPrecision(4);

/**
 * Orders the vial for a prescribed activity at a treatment time (module comment). Throws InputError for a treatment
 * outside the device's usable window (naming both times and the window), an unknown device or a bad residual;
 * UsageError when the device's vials carry their calibration on the label and none was given (resin). When no stock
 * vial can be given within the limits the order is returned with `orderable` false and a warning (the plan stays valid).
 */
export function orderVial(opts: OrderVialOptions): VialOrder {
  const entry = catalogueDevice(opts.device, opts.catalogue ?? DEVICE_CATALOGUE);
  const prescribed = checkPositive(opts.activityGBq, 'prescribed activity at treatment [GBq]');
  const r = opts.residualFraction ?? 0;
  if (!Number.isFinite(r) || r < 0 || r >= 1) throw new InputError(`residual fraction ${r} is outside [0, 1): give it as a fraction, e.g. 0.03 for 3 %`);
  const max = opts.maxAllowedActivityGBq ?? null;
  if (max !== null) checkPositive(max, 'largest allowed activity [GBq]');
  if (!(opts.treatmentTime instanceof Date) || Number.isNaN(opts.treatmentTime.getTime())) {
    throw new InputError('treatment time is not a valid date: give an ISO time with its zone, such as 2025-03-14T09:00:00Z');
  }
  const { calibrationTime, source: calibrationTimeSource } = resolveCalibration(entry, opts.treatmentTime, opts.calibrationTime);
  const windowCheck = checkUsableWindow(entry, calibrationTime, opts.treatmentTime);
  const dtH = windowCheck.treatmentAfterCalibrationH;
  const warnings: string[] = [...windowCheck.warnings];
  const lambdaPerS = decayConstantPerS(entry.isotope);
  const f = Math.exp(-lambdaPerS * dtH * SECONDS_PER_HOUR);
  if (1 / f > MAX_DECAY_FACTOR) {
    throw new InputError(
      `the treatment time ${opts.treatmentTime.toISOString()} is ${formatInterval(dtH)} after the calibration time ${calibrationTime.toISOString()}: ${entry.isotope} decays by a factor ${(1 / f).toPrecision(3)} in that time (more than ${MAX_DECAY_FACTOR}), so no vial can be ordered for it; check the dates of --calibration-time and --treatment-time`,
    );
  }
  const limitText = opts.limitDescription ? ` (${opts.limitDescription})` : '';
  const withinLimit = (gbq: number) => max === null || gbq <= max * (1 + LIMIT_SLACK);
  const tx = opts.treatmentTime.toISOString();
  const need = prescribed / (1 - r); // to draw at the treatment time

  let kind: VialOrder['vial']['kind'];
  let orderable = true;
  let fitsFrom: string | null = null;
  let nominalGBq: number, count = 1, label: string, fractionToDraw: number, drawn: number;
  const vialOptions: VialOption[] = [];
  const v = entry.vial;
  if (v.kind === 'stock') {
    kind = 'stock';
    const cands = v.sizesGBq.map((s) => ({ s, atT: s * f, delivered: s * f * (1 - r) }));
    const reaching = cands.find((c) => c.delivered >= prescribed * (1 - PRESCRIPTION_TOL));
    let chosen = reaching && withinLimit(reaching.delivered) ? reaching : undefined;
    if (!chosen) {
      // the vial that reaches the prescription breaks a limit (or none reaches it): the largest one within the limits
      const allowed = cands.filter((c) => withinLimit(c.delivered));
      chosen = allowed[allowed.length - 1];
      if (!chosen) {
        // no vial can be given: the order describes the smallest one, flagged not orderable
        const smallest = cands[0];
        // it fits once it has decayed to max / (1 - r): t = ln(S (1 - r) / max) / lambda after calibration
        const fitsAfterH = Math.log((smallest.s * (1 - r)) / max!) / lambdaPerS / SECONDS_PER_HOUR;
        const inWindow = fitsAfterH <= entry.usableWindow.toCalibrationH;
        fitsFrom = inWindow ? new Date(calibrationTime.getTime() + fitsAfterH * 3.6e6).toISOString() : null;
        orderable = false;
        chosen = smallest;
        warnings.push(
          `NO ${entry.product} stock vial can be given on ${tx} within the limits: the smallest, ${smallest.s} GBq (calibrated ${calibrationTime.toISOString()}), delivers ${fmtG(smallest.delivered)} GBq, more than the ${fmtG(max!)} GBq the plan allows${limitText}; ${fitsFrom ? `it fits from ${fitsFrom} (${formatInterval(fitsAfterH)} after calibration): give a later --treatment-time` : `it does not fit within the usable window (${windowText(entry.usableWindow)})`}, or add a smaller vial size to a site catalogue (--device-catalogue); plan.order describes that vial, not an order to place`,
        );
      }
    }
    for (const c of cands) {
      let status: VialOption['status'], reason: string;
      if (c === chosen && orderable) {
        status = 'chosen';
        reason = c === reaching ? 'the smallest stock vial that reaches the prescribed activity within the limits' : 'the largest stock vial within the limits (none that reaches the prescription stays within them)';
      } else if (!withinLimit(c.delivered)) {
        status = 'breaks a limit';
        reason = `delivers ${fmtG(c.delivered)} GBq, more than the ${fmtG(max!)} GBq the plan allows${limitText}`;
      } else if (c.delivered < prescribed * (1 - PRESCRIPTION_TOL)) {
        status = 'below the prescription';
        reason = `delivers ${fmtG(c.delivered)} GBq, less than the prescribed ${fmtG(prescribed)} GBq`;
      } else {
        status = 'larger than needed';
        reason = `delivers ${fmtG(c.delivered)} GBq; a smaller vial reaches the prescription`;
      }
      vialOptions.push({ nominalGBq: c.s, activityAtTreatmentGBq: c.atT, deliveredActivityGBq: c.delivered, status, reason });
    }
    if (!orderable) {
      // said above
    } else if (reaching && chosen !== reaching) {
      warnings.push(
        `the ${reaching.s} GBq ${entry.product} vial, the smallest that reaches the prescribed ${fmtG(prescribed)} GBq on ${tx}, is not ordered: it delivers ${fmtG(reaching.delivered)} GBq, more than the ${fmtG(max!)} GBq the plan allows${limitText}; the ${chosen.s} GBq vial is ordered instead and delivers ${fmtG(chosen.delivered)} GBq (x${(chosen.delivered / prescribed).toFixed(3)} the prescription: every predicted dose, the tumour's included, scales by it); a later treatment time or a custom vial size would come closer`,
      );
    } else if (!reaching) {
      warnings.push(
        `the largest ${entry.product} stock vial${chosen === cands[cands.length - 1] ? '' : ' within the limits'}, ${chosen.s} GBq, delivers only ${fmtG(chosen.delivered)} GBq on ${tx}, less than the prescribed ${fmtG(prescribed)} GBq (x${(chosen.delivered / prescribed).toFixed(3)}): treat closer to the calibration time, or order a second vial`,
      );
    }
    nominalGBq = chosen.s;
    label = orderable ? `${chosen.s} GBq stock vial` : `none within the limits (the smallest, ${chosen.s} GBq, is described)`;
    fractionToDraw = 1;
    drawn = chosen.atT;
  } else if (v.kind === 'draw') {
    kind = 'draw';
    nominalGBq = v.vialGBq;
    const vialAtT = v.vialGBq * f;
    count = Math.max(1, Math.ceil(need / vialAtT - PRESCRIPTION_TOL));
    fractionToDraw = need / (count * vialAtT);
    drawn = need;
    label = `${count} x ${v.vialGBq} GBq vial${count > 1 ? 's' : ''}`;
    if (count > 1) {
      warnings.push(`the prescribed ${fmtG(prescribed)} GBq${r > 0 ? ` (${fmtG(need)} GBq to draw with ${(100 * r).toFixed(1)} % residual)` : ''} is more than one ${v.vialGBq} GBq ${entry.product} vial holds on ${tx} (${fmtG(vialAtT)} GBq): ${count} vials are ordered`);
    }
  } else {
    kind = 'per-patient';
    nominalGBq = need / f;
    fractionToDraw = 1;
    drawn = need;
    label = `per-patient order of ${fmtG(nominalGBq)} GBq`;
  }
  const delivered = drawn * (1 - r);
  const withinLimits = max === null ? null : withinLimit(delivered);
  if (withinLimits === false && kind !== 'stock') {
    warnings.push(`the prescribed ${fmtG(prescribed)} GBq is more than the ${fmtG(max!)} GBq the plan allows${limitText}: the order delivers it as prescribed`);
  }
  const perSphereCalBq = entry.activityPerSphereAtCalibrationBq.value;
  const perSphereTxBq = perSphereCalBq * f;
  const w = entry.usableWindow;
  return {
    device: entry.device,
    product: entry.product,
    manufacturer: entry.manufacturer,
    isotope: entry.isotope,
    halfLifeH: NUCLIDES[entry.isotope].halfLifeH,
    orderable,
    smallestVialFitsFrom: fitsFrom,
    vial: { kind, label, nominalGBq, count },
    calibrationTime: calibrationTime.toISOString(),
    calibrationTimeSource,
    treatmentTime: tx,
    treatmentAfterCalibrationH: dtH,
    usableWindow: {
      earliest: new Date(calibrationTime.getTime() + w.fromCalibrationH * 3.6e6).toISOString(),
      latest: new Date(calibrationTime.getTime() + w.toCalibrationH * 3.6e6).toISOString(),
      text: windowText(w),
      source: w.source,
    },
    decayFractionAtTreatment: f,
    activityAtCalibrationGBq: nominalGBq * count,
    activityAtTreatmentGBq: nominalGBq * count * f,
    fractionToDraw,
    drawnActivityGBq: drawn,
    residualFraction: r,
    residualGBq: drawn * r,
    prescribedActivityGBq: prescribed,
    deliveredActivityGBq: delivered,
    deliveredOverPrescribed: delivered / prescribed,
    meetsPrescription: delivered >= prescribed * (1 - PRESCRIPTION_TOL),
    withinLimits,
    maxAllowedActivityGBq: max,
    activityPerSphereAtCalibrationBq: perSphereCalBq,
    activityPerSphereAtTreatmentBq: perSphereTxBq,
    spheresImplanted: Math.round((delivered * BQ_PER_GBQ) / perSphereTxBq),
    sphereDiameterUm: entry.sphereDiameterUm,
    embolicLoadNote: entry.embolicLoad.note,
    vialOptions,
    sources: {
      catalogue: (opts.catalogue ?? DEVICE_CATALOGUE).name,
      vial: v.source,
      calibration: entry.calibration.source,
      usableWindow: w.source,
      activityPerSphere: entry.activityPerSphereAtCalibrationBq.source,
      sphereDiameter: entry.sphereDiameterUm.source,
      embolicLoad: entry.embolicLoad.source,
      halfLife: `${NUCLIDES[entry.isotope].halfLifeH} h (src/units, ../shared/PHYSICS.md)`,
    },
    warnings,
  };
}
