/**
 * The territories file of `plan --territories FILE.json` (../shared/CONTRACT.md, "Additions (2026-12)"):
 *
 *   { "territories": [ { "name": "Right lobe", "perfused": "Right lobe", "device": "glass",
 *                        "tumorGy"?: 205 | null, "normalLiverGy"?: 120 | null, "perfusedTargetGy"?: 400,
 *                        "activityGBq"?: 2.1, "activity"?: "scout_right.nii.gz", "activityUnit"?: "counts",
 *                        "lungShuntFraction"?: 0.05 } ] }
 *
 * - name: unique; its slug (lower case, every character other than a-z and 0-9 replaced by "-") names the territory's
 *   dose map per GBq (territories/<slug>.dose_per_gbq.nii.gz), so two names with one slug are refused as well;
 * - perfused: the structure (segment) perfused from this catheter position;
 * - device: glass, resin or ho166 (its EANM 2022 presets, src/plan/devices.ts, give the default target and limits);
 * - tumorGy: tumour target for lesions in this territory (null: none), over the plan-wide --tumor-gy and the preset;
 * - normalLiverGy: limit on the perfused normal liver of this territory (null: none), over --normal-liver-gy and the
 *   preset (a radiation segmentectomy deliberately exceeds it: give null, or its own value);
 * - perfusedTargetGy: a target on the mean dose to the perfused structure, counted in the coverage objective like a
 *   lesion (radiation segmentectomy: glass > 400 Gy to the perfused segment, EANM 2022);
 * - activityGBq: an activity fixed by hand (> 0, at most 50 GBq); the others are re-solved around it;
 * - activity, activityUnit: the territory's own scout image (path relative to the file's folder), in counts; without
 *   it the territory takes the plan's shared scout (--activity) restricted to its perfused structure;
 * - lungShuntFraction: this territory's LSF (default: --lung-shunt-fraction, else measured on its scout).
 * Every error names the file and the field, on one line.
 */
import { dirname, isAbsolute, resolve } from 'node:path';
import { InputError } from '../errors.ts';
import { MAX_ADMINISTERED_GBQ } from '../dose/calibration.ts';
import { parseDevice, type Device } from './devices.ts';

/** One territory as the file gives it (checked). */
export interface TerritorySpec {
  readonly name: string;
  /** File-name form of the name: territories/<slug>.dose_per_gbq.nii.gz. */
  readonly slug: string;
  /** Name of the perfused structure. */
  readonly perfused: string;
  readonly device: Device;
  /** Tumour target [Gy]: a number, null (none), or undefined (the plan-wide value or the device preset). */
  readonly tumorGy?: number | null;
  /** Perfused normal liver limit [Gy]: a number, null (none), or undefined (plan-wide value or preset). */
  readonly normalLiverGy?: number | null;
  /** Target on the perfused structure's mean dose [Gy]. */
  readonly perfusedTargetGy?: number;
  /** Activity fixed by hand [GBq]. */
  readonly activityGBq?: number;
  /** The territory's own scout image (absolute path), in counts. */
  readonly activityPath?: string;
  /** Lung shunt fraction of this territory, in [0, 1). */
  readonly lungShuntFraction?: number;
}

const FIELDS = ['name', 'perfused', 'device', 'tumorGy', 'normalLiverGy', 'perfusedTargetGy', 'activityGBq', 'activity', 'activityUnit', 'lungShuntFraction'] as const;

/** The file-name form of a territory name: lower case, every character other than a-z and 0-9 as "-". */
export function territorySlug(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9]/g, '-');
}

const isRecord = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
const kind = (x: unknown) => (x === null ? 'null' : Array.isArray(x) ? 'a list' : typeof x === 'string' ? `the text "${x}"` : typeof x);

/**
 * Parses and checks a territories file's text. `path` names the file in messages and anchors relative scout paths.
 * Throws InputError naming the field for malformed JSON, a wrong shape, an unknown device or field, a duplicate name,
 * and a hand-fixed activity that is not in (0, 50] GBq.
 */
export function parseTerritoriesFile(text: string, path: string): TerritorySpec[] {
  const where = `territories file ${path}`;
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new InputError(`${where} is not valid JSON (${(err as Error).message}); see plan --territories FILE --help for its form`);
  }
  if (!isRecord(doc)) throw new InputError(`${where}: the file must hold an object { "territories": [ ... ] }, not ${kind(doc)}`);
  for (const k of Object.keys(doc)) if (k !== 'territories') throw new InputError(`${where}: unknown field "${k}" at the top level (the file holds { "territories": [ ... ] })`);
  const list = doc.territories;
  if (!Array.isArray(list)) throw new InputError(`${where}: "territories" must be a list of territories, not ${kind(list)}`);
  if (list.length === 0) throw new InputError(`${where}: "territories" is empty; give at least one territory`);
  const base = dirname(resolve(path));
  const specs: TerritorySpec[] = [];
  list.forEach((t, i) => {
    const at = `${where}: territories[${i}]`;
    if (!isRecord(t)) throw new InputError(`${at} must be an object with "name", "perfused" and "device", not ${kind(t)}`);
    for (const k of Object.keys(t)) {
      if (!(FIELDS as readonly string[]).includes(k)) throw new InputError(`${at}: unknown field "${k}" (fields: ${FIELDS.join(', ')})`);
    }
    const text = (k: string, required: boolean): string | undefined => {
      const v = t[k];
      if (v === undefined && !required) return undefined;
      if (typeof v !== 'string' || v.trim() === '') throw new InputError(`${at}.${k} must be a non-empty text${v === undefined ? ' (it is missing)' : `, not ${kind(v)}`}`);
      return v;
    };
    const number = (k: string, allowNull: boolean): number | null | undefined => {
      const v = t[k];
      if (v === undefined) return undefined;
      if (v === null && allowNull) return null;
      if (typeof v !== 'number' || !Number.isFinite(v)) throw new InputError(`${at}.${k} must be a number${allowNull ? ' or null (none)' : ''}, not ${kind(v)}`);
      return v;
    };
    const positive = (k: string, allowNull: boolean, unit: string): number | null | undefined => {
      const v = number(k, allowNull);
      if (typeof v === 'number' && !(v > 0)) throw new InputError(`${at}.${k} is ${v} ${unit}: it must be greater than 0${allowNull ? ' (null removes it)' : ''}`);
      return v;
    };
    const name = text('name', true)!;
    const perfused = text('perfused', true)!;
    const deviceText = text('device', true)!;
    let device: Device;
    try {
      device = parseDevice(deviceText);
    } catch (err) {
      throw new InputError(`${at} ("${name}").device: ${(err as Error).message}`);
    }
    const activityGBq = number('activityGBq', false) ?? undefined;
    if (activityGBq !== undefined) {
      if (!(activityGBq > 0)) throw new InputError(`${at} ("${name}").activityGBq is ${activityGBq}: a hand-fixed activity must be greater than 0 GBq (leave activityGBq out to let the optimiser choose it)`);
      if (activityGBq > MAX_ADMINISTERED_GBQ) throw new InputError(`${at} ("${name}").activityGBq is ${activityGBq}: more than any radioembolization (at most ~20 GBq; limit ${MAX_ADMINISTERED_GBQ}): give it in GBq (${activityGBq} MBq is ${activityGBq / 1000} GBq)`);
    }
    const scout = text('activity', false);
    const unit = text('activityUnit', false);
    if (unit !== undefined) {
      if (scout === undefined) throw new InputError(`${at} ("${name}").activityUnit is given without "activity" (the territory's own scout image)`);
      if (!['counts', 'count'].includes(unit.trim().toLowerCase())) {
        throw new InputError(`${at} ("${name}").activityUnit "${unit}": a territory's own scout is a relative distribution: give "counts" (the plan computes the activity)`);
      }
    }
    const lsf = number('lungShuntFraction', false) ?? undefined;
    if (lsf !== undefined && !(lsf >= 0 && lsf < 1)) throw new InputError(`${at} ("${name}").lungShuntFraction is ${lsf}: give a fraction in [0, 1), e.g. 0.08 for 8 %`);
    specs.push({
      name,
      slug: territorySlug(name),
      perfused,
      device,
      tumorGy: positive('tumorGy', true, 'Gy'),
      normalLiverGy: positive('normalLiverGy', true, 'Gy'),
      perfusedTargetGy: positive('perfusedTargetGy', false, 'Gy') ?? undefined,
      activityGBq,
      activityPath: scout === undefined ? undefined : isAbsolute(scout) ? scout : resolve(base, scout),
      lungShuntFraction: lsf,
    });
  });
  for (let i = 0; i < specs.length; i++) {
    for (let j = 0; j < i; j++) {
      if (specs[i].name === specs[j].name || specs[i].slug === specs[j].slug) {
        throw new InputError(
          `${where}: territories[${i}].name "${specs[i].name}" repeats territories[${j}]'s "${specs[j].name}"${specs[i].name === specs[j].name ? '' : ` (both are written as territories/${specs[i].slug}.dose_per_gbq.nii.gz)`}; give each territory its own name`,
        );
      }
    }
  }
  return specs;
}
