/**
 * Reading report.json (as the in-memory object the CLI writes) for the PDF: typed accessors that tolerate absent
 * fields, the limits and targets each structure is judged against, and generic tables for objects whose fields other
 * parts of the engine extend (the vial order, territories, constraint tables).
 */
import { DEVICE_PRESETS, type Device } from '../plan/devices.ts';
import { keyLabel, valueText } from './text.ts';

export type Json = Record<string, unknown>;

/** `x` as an object, or undefined. */
export const obj = (x: unknown): Json | undefined => (x !== null && typeof x === 'object' && !Array.isArray(x) ? (x as Json) : undefined);
/** `x` as a finite number, or undefined. */
export const num = (x: unknown): number | undefined => (typeof x === 'number' && Number.isFinite(x) ? x : undefined);
/** `x` as a string, or undefined. */
export const str = (x: unknown): string | undefined => (typeof x === 'string' ? x : undefined);
/** `x` as an array (empty when it is not one). */
export const arr = (x: unknown): unknown[] => (Array.isArray(x) ? x : []);

/** One structure of report.json, the fields the PDF prints. */
export interface ReportStructureFields {
  readonly name: string;
  readonly role: string;
  readonly volumeMl?: number;
  readonly massG?: number;
  readonly activityGBq?: number;
  readonly meanGy?: number;
  readonly maxGy?: number;
  readonly d50Gy?: number;
  readonly d70Gy?: number;
  readonly d90Gy?: number;
  readonly d98Gy?: number;
  readonly v100?: number;
  readonly v150?: number;
  readonly v205?: number;
  readonly meanBedGy?: number;
  readonly meanGyRelStdErr?: number;
  readonly lesionOf?: string;
  readonly dvh?: { readonly doseGy: number[]; readonly volumeFraction: number[] };
}

/** The structures of a report. */
export function reportStructures(report: Json): ReportStructureFields[] {
  return arr(report.structures).map((x) => {
    const s = obj(x) ?? {};
    const dvh = obj(s.dvh);
    return {
      name: str(s.name) ?? '(unnamed)',
      role: str(s.role) ?? 'other',
      volumeMl: num(s.volumeMl), massG: num(s.massG), activityGBq: num(s.activityGBq), meanGy: num(s.meanGy), maxGy: num(s.maxGy),
      d50Gy: num(s.d50Gy), d70Gy: num(s.d70Gy), d90Gy: num(s.d90Gy), d98Gy: num(s.d98Gy),
      v100: num(s.v100), v150: num(s.v150), v205: num(s.v205), meanBedGy: num(s.meanBedGy), meanGyRelStdErr: num(s.meanGyRelStdErr),
      lesionOf: str(s.lesionOf),
      dvh: dvh && Array.isArray(dvh.doseGy) && Array.isArray(dvh.volumeFraction) ? { doseGy: dvh.doseGy as number[], volumeFraction: dvh.volumeFraction as number[] } : undefined,
    };
  });
}

/**
 * Relative slack of the limit and target checks: the dose map is float32, so a plan prescribed to put a lesion at
 * exactly its 205 Gy target reads 204.9999997 Gy back (the same 1e-6 as the planner's own check in plan/image.ts).
 */
export const LIMIT_SLACK = 1e-6;

/** A dose criterion applied to a structure's mean dose. */
export interface StructureCriterion {
  readonly kind: 'target' | 'limit';
  readonly gy: number;
  /** What it is, e.g. "tumour target", "whole normal liver". */
  readonly what: string;
}

/** The criteria a report's structures are judged against, and where they come from. */
export interface StructureCriteria {
  readonly byStructure: ReadonlyMap<string, readonly StructureCriterion[]>;
  /** Source in words (the plan's targets, or a device preset for reference). */
  readonly source: string;
}

/** Device whose EANM presets serve as reference limits for a `dose` report: 90Y glass, or 166Ho. */
export function referenceDevice(isotope: string): Device {
  return isotope === 'Ho166' ? 'ho166' : 'glass';
}

/**
 * Criteria per structure name, targets first, then the lung limit, then the liver limits. With a plan: the plan's
 * targets (tumour target on every tumour; the perfused and the whole normal liver limits on the structures the plan
 * used for them; the lung limit on the lung); a territory plan's own `coverage` targets and `constraints` limits per
 * structure. Without a plan (a `dose` report): the EANM 2022 presets of the isotope's reference device (90Y glass,
 * 166Ho), for reference.
 */
export function structureCriteria(report: Json, structures: readonly ReportStructureFields[]): StructureCriteria {
  const plan = obj(report.plan);
  const map = new Map<string, StructureCriterion[]>();
  const add = (name: string | undefined, c: StructureCriterion) => {
    if (name === undefined || !structures.some((s) => s.name === name)) return;
    const list = map.get(name) ?? [];
    if (!list.some((x) => x.kind === c.kind && x.gy === c.gy)) list.push(c);
    map.set(name, list);
  };
  const targets = obj(plan?.targets);
  let tumorGy: number | undefined, perfusedGy: number | undefined, wholeGy: number | undefined, lungGy: number | undefined;
  let perfusedName: string | undefined, wholeName: string | undefined;
  let source: string;
  if (plan && targets) {
    tumorGy = num(targets.tumorGy);
    perfusedGy = num(targets.normalLiverGy);
    wholeGy = num(targets.wholeNormalLiverGy);
    lungGy = num(targets.lungGy);
    const comps = obj(plan.compartments);
    perfusedName = str(obj(comps?.perfusedNormalLiver)?.name);
    wholeName = str(obj(comps?.wholeNormalLiver)?.name);
    source = plan.device !== undefined
      ? `the plan's targets and limits (device ${str(plan.device) ?? '?'}; EANM 2022 presets unless overridden)`
      : "the plan's targets and limits (each territory's device presets unless overridden)";
  } else {
    const device = referenceDevice(str(report.isotope) ?? 'Y90');
    const p = DEVICE_PRESETS[device];
    tumorGy = p.tumorGy;
    wholeGy = p.wholeNormalLiverGy;
    lungGy = p.lungGy;
    source = `EANM 2022 presets of ${p.description}, for reference only (dose has no device; plan applies the device's own)`;
  }
  // a territory plan lists its targets (coverage) and limits (constraints) per structure: targets first
  for (const c of arr(plan?.coverage).map((x) => obj(x) ?? {})) {
    const gy = num(c.targetGy);
    if (gy !== undefined) add(str(c.structure), { kind: 'target', gy, what: c.kind === 'lesion' || c.kind === undefined ? 'tumour target' : `${str(c.kind)} target` });
  }
  for (const s of structures) {
    if (s.role === 'tumor' && tumorGy !== undefined) add(s.name, { kind: 'target', gy: tumorGy, what: 'tumour target' });
    if (s.role === 'lung' && lungGy !== undefined) add(s.name, { kind: 'limit', gy: lungGy, what: 'lung' });
    if (!plan && s.role === 'normal-liver' && wholeGy !== undefined) add(s.name, { kind: 'limit', gy: wholeGy, what: 'whole normal liver' });
  }
  if (perfusedGy !== undefined) add(perfusedName, { kind: 'limit', gy: perfusedGy, what: 'perfused normal liver' });
  if (wholeGy !== undefined && plan) add(wholeName, { kind: 'limit', gy: wholeGy, what: 'whole normal liver' });
  for (const c of arr(plan?.constraints).map((x) => obj(x) ?? {})) {
    const gy = num(c.limitGy);
    if (gy !== undefined) add(str(c.structure), { kind: 'limit', gy, what: str(c.what) ?? str(c.kind) ?? 'limit' });
  }
  return { byStructure: map, source };
}

/** Whether a mean dose breaks a criterion (with {@link LIMIT_SLACK}). */
export function breaks(c: StructureCriterion, meanGy: number | undefined): boolean {
  if (meanGy === undefined) return false;
  return c.kind === 'target' ? meanGy < c.gy * (1 - LIMIT_SLACK) : meanGy > c.gy * (1 + LIMIT_SLACK);
}

/** Flag text of a structure: "UNDER TARGET", "OVER LIMIT", both, "ok", or "" without criteria. */
export function structureFlag(criteria: readonly StructureCriterion[] | undefined, meanGy: number | undefined): string {
  if (!criteria || criteria.length === 0) return '';
  const under = criteria.some((c) => c.kind === 'target' && breaks(c, meanGy));
  const over = criteria.some((c) => c.kind === 'limit' && breaks(c, meanGy));
  return [under ? 'UNDER TARGET' : '', over ? 'OVER LIMIT' : ''].filter(Boolean).join(', ') || 'ok';
}

/** First letter upper case ("calibration time" -> "Calibration time"). */
export const capitalise = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

/** A generic table of an array of objects: the union of their keys as columns (labels from the keys' units). */
export function genericTable(rows: readonly unknown[]): { header: string[]; rows: string[][]; keys: string[] } {
  const keys: string[] = [];
  for (const r of rows) for (const k of Object.keys(obj(r) ?? {})) if (!keys.includes(k)) keys.push(k);
  return {
    keys,
    header: keys.map((k) => capitalise(keyLabel(k))),
    rows: rows.map((r) => keys.map((k) => valueText(k, (obj(r) ?? {})[k]))),
  };
}

/** Keys whose text documents where a value comes from: printed as small-print notes after the values. */
export const NOTE_KEYS: readonly string[] = ['source', 'sources', 'note'];

/**
 * The fields of an object as label-value rows: numbers by their unit, nested objects flattened with "a / b" labels;
 * arrays of objects are returned apart (`tables`), to be shown as tables; sources and notes ({@link NOTE_KEYS}, and
 * keys ending in "Note") apart as `notes`. Keys in `skip` are left out.
 */
export function genericRows(
  o: Json,
  skip: readonly string[] = [],
  prefix = '',
): { rows: Array<[string, string]>; tables: Array<{ title: string; value: unknown[] }>; notes: Array<[string, string]> } {
  const rows: Array<[string, string]> = [];
  const tables: Array<{ title: string; value: unknown[] }> = [];
  const notes: Array<[string, string]> = [];
  for (const [k, v] of Object.entries(o)) {
    if (skip.includes(k)) continue;
    const label = prefix ? `${prefix} / ${keyLabel(k)}` : capitalise(keyLabel(k));
    const isNote = NOTE_KEYS.includes(k) || /Note$/.test(k) || prefix.startsWith('Sources');
    if (Array.isArray(v) && v.some((x) => obj(x))) tables.push({ title: label, value: v });
    else if (obj(v)) {
      const inner = genericRows(obj(v)!, skip, label);
      rows.push(...inner.rows);
      tables.push(...inner.tables);
      notes.push(...inner.notes);
    } else (isNote ? notes : rows).push([label, valueText(k, v)]);
  }
  return { rows, tables, notes };
}
