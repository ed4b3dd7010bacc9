/**
 * Dose limits and targets the page flags, by structure role: the device presets of the engine's `plan` command
 * (dosimetry-core plan/devices.ts, EANM 2022), or the resolved targets of a `plan` report for its own device (which
 * carry the plan's overrides and prior lung dose). Mapping to the report's roles:
 * - 'normal-liver' (derived: liver minus tumours = the whole normal liver) -> the whole normal liver limit when the
 *   device has one, else the perfused normal liver limit (resin), applied to the whole normal liver mean;
 * - 'lung' -> the lung limit per treatment;
 * - 'tumor' -> the tumour target (a minimum: a row below it is "under target", not a limit exceeded).
 * 'liver', 'perfused' (territory, tumours included) and 'other' get none.
 */
import { DEVICE_PRESETS, DEVICES, type Device } from '../../../dosimetry-core/src/plan/devices.ts';
import type { ReportJson } from '../protocol.ts';

export { DEVICES, type Device };

/** Short names for the selector. */
export const DEVICE_LABELS: Record<Device, string> = { glass: '90Y glass', resin: '90Y resin', ho166: '166Ho' };

/** A limit (maximum mean dose) or target (minimum mean dose) of one role. */
export interface RoleBound {
  readonly gy: number;
  readonly kind: 'limit' | 'target';
  /** What the number is, for tooltips and messages. */
  readonly what: string;
}

/** Bounds of one device for the page. */
export interface DeviceBounds {
  readonly device: Device;
  readonly byRole: Readonly<Record<string, RoleBound>>;
  /** Where the numbers come from. */
  readonly source: string;
}

interface PlanJson {
  device?: unknown;
  targets?: Record<string, unknown>;
}

function planOf(report: ReportJson): PlanJson | undefined {
  const p = report.plan;
  return p && typeof p === 'object' ? (p as PlanJson) : undefined;
}

function asDevice(x: unknown): Device | undefined {
  return typeof x === 'string' && (DEVICES as readonly string[]).includes(x) ? (x as Device) : undefined;
}

/** The device of a multi-territory plan's first territory that names one (report.plan.territories[].device). */
function territoryDevice(report: ReportJson): Device | undefined {
  const list = (planOf(report) as { territories?: unknown } | undefined)?.territories;
  if (!Array.isArray(list)) return undefined;
  for (const t of list) {
    const d = asDevice((t as { device?: unknown } | null)?.device);
    if (d) return d;
  }
  return undefined;
}

/**
 * The device a case was planned for: report.plan.device (or provenance.parameters.device) of a `plan` report, or
 * the first territory's device of a multi-territory plan, else from the isotope (Y90 -> glass, Ho166 -> ho166), else
 * glass.
 */
export function defaultDevice(report: ReportJson): Device {
  const named = asDevice(planOf(report)?.device) ?? asDevice(report.provenance?.parameters?.device) ?? territoryDevice(report);
  if (named) return named;
  const iso = String(report.isotope ?? '').toLowerCase().replace(/[-\s]/g, '');
  if (iso === 'ho166' || iso === '166ho') return 'ho166';
  return 'glass';
}

const num = (x: unknown): number | undefined => (typeof x === 'number' && Number.isFinite(x) && x > 0 ? x : undefined);

/**
 * Limits and targets of `device` by role. When the report is a `plan` report for this device, its resolved targets
 * are used (absent there = removed by the plan), otherwise the device preset.
 */
export function deviceBounds(device: Device, report: ReportJson): DeviceBounds {
  const preset = DEVICE_PRESETS[device];
  const plan = planOf(report);
  const fromPlan = asDevice(plan?.device) === device && plan?.targets && typeof plan.targets === 'object';
  const t = fromPlan
    ? {
        tumorGy: num(plan!.targets!.tumorGy),
        normalLiverGy: num(plan!.targets!.normalLiverGy),
        wholeNormalLiverGy: num(plan!.targets!.wholeNormalLiverGy),
        lungGy: num(plan!.targets!.lungGy),
      }
    : preset;
  const byRole: Record<string, RoleBound> = {};
  if (t.wholeNormalLiverGy !== undefined) {
    byRole['normal-liver'] = { gy: t.wholeNormalLiverGy, kind: 'limit', what: 'whole normal liver limit' };
  } else if (t.normalLiverGy !== undefined) {
    byRole['normal-liver'] = {
      gy: t.normalLiverGy,
      kind: 'limit',
      what:
        'perfused normal liver limit (the device has no whole normal liver limit; applied here to the whole normal ' +
        'liver mean, which is lower than the perfused normal liver mean when only part of the liver is treated)',
    };
  }
  if (t.lungGy !== undefined) byRole.lung = { gy: t.lungGy, kind: 'limit', what: 'lung limit per treatment' };
  if (t.tumorGy !== undefined) byRole.tumor = { gy: t.tumorGy, kind: 'target', what: 'tumour target (minimum mean dose)' };
  const source = fromPlan
    ? `the plan's targets in report.json (${preset.description}, with the plan's overrides)`
    : `${preset.description}: ${preset.source}`;
  return { device, byRole, source };
}

/** One line per bound, e.g. "normal-liver < 75 Gy (whole normal liver limit)". */
export function describeBounds(b: DeviceBounds): string[] {
  return Object.entries(b.byRole).map(([role, r]) => `${role} ${r.kind === 'limit' ? '<' : '≥'} ${r.gy} Gy (${r.what})`);
}
