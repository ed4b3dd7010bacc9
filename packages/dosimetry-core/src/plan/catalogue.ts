/**
 * The device catalogue, typed and validated: per device (glass = TheraSphere, resin = SIR-Spheres, ho166 =
 * QuiremSpheres) the isotope, the vial rule (stock sizes given whole, one vial drawn from, or a per-patient order),
 * the calibration rule (weekly schedule, vial label, or the treatment time), the usable treatment window relative to
 * calibration, the activity per sphere at calibration and the sphere diameter, each with its source.
 *
 * The data lives in src/plan/catalogue-data.ts and is validated when this module loads, so a malformed edit fails
 * every test at once. A site's own file (JSON of the same shape) is read with {@link parseCatalogueJson}: its device
 * entries, each complete, replace the built-in ones, and the rest are kept. Validation is strict: unknown keys,
 * missing sources, non-positive activities, unsorted vial sizes, windows that exclude the calibration time and unknown
 * time zones are refused with the path of the field and how to fix it.
 */
import { FormatError, InputError } from '../errors.ts';
import type { Isotope } from '../units/index.ts';
import { CATALOGUE_DATA } from './catalogue-data.ts';
import type { Device } from './devices.ts';

/** Devices in catalogue order (the same as devices.ts DEVICES; kept here so that the two modules load independently). */
const CATALOGUE_DEVICES: readonly Device[] = ['glass', 'resin', 'ho166'];
/** The isotope each device must use (the EANM presets in devices.ts depend on it). */
const DEVICE_ISOTOPES: Readonly<Record<Device, Isotope>> = { glass: 'Y90', resin: 'Y90', ho166: 'Ho166' };

/** Days of the week as the catalogue names them (Sunday first, as Date.getUTCDay counts). */
export const WEEKDAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'] as const;
export type Weekday = (typeof WEEKDAYS)[number];

/** A number with where it comes from. */
export interface SourcedNumber {
  readonly value: number;
  readonly source: string;
}

/**
 * How vials are supplied:
 * - 'stock': fixed sizes [GBq at calibration], the whole vial is given (TheraSphere);
 * - 'draw': one vial size [GBq at calibration] from which the prescribed activity is drawn (SIR-Spheres);
 * - 'per-patient': the activity is ordered for the patient (QuiremSpheres).
 */
export type VialRule =
  | { readonly kind: 'stock'; readonly sizesGBq: readonly number[]; readonly source: string }
  | { readonly kind: 'draw'; readonly vialGBq: number; readonly source: string }
  | { readonly kind: 'per-patient'; readonly source: string };

/**
 * When a vial's activity is stated:
 * - 'weekly': on a weekday at a local time of day in an IANA time zone (daylight saving followed);
 * - 'label': at the date and time on the vial label, which must be given (no default);
 * - 'at-treatment': at the planned treatment time (a per-patient order), unless another time is given.
 */
export type CalibrationRule =
  | { readonly kind: 'weekly'; readonly weekday: Weekday; readonly timeOfDay: string; readonly timeZone: string; readonly source: string }
  | { readonly kind: 'label'; readonly source: string }
  | { readonly kind: 'at-treatment'; readonly source: string };

/** When the device may be given, in hours relative to its calibration time (negative: before calibration). */
export interface UsableWindow {
  /** Earliest treatment [h after calibration], <= 0. */
  readonly fromCalibrationH: number;
  /** Latest treatment [h after calibration], > 0. */
  readonly toCalibrationH: number;
  readonly source: string;
}

/** One device of the catalogue. */
export interface CatalogueDevice {
  readonly device: Device;
  readonly product: string;
  readonly manufacturer: string;
  readonly isotope: Isotope;
  readonly vial: VialRule;
  readonly calibration: CalibrationRule;
  readonly usableWindow: UsableWindow;
  /** Activity of one microsphere at the calibration time [Bq]. */
  readonly activityPerSphereAtCalibrationBq: SourcedNumber;
  /** Sphere diameter [um]: mean, and the range where a source states it (else null). */
  readonly sphereDiameterUm: { readonly mean: number; readonly min: number | null; readonly max: number | null; readonly source: string };
  /** What the number of spheres means for embolisation (resin: the embolic load). */
  readonly embolicLoad: { readonly note: string; readonly source: string };
  /** Typical activity of a scout of the same microspheres [GBq] (166Ho); null when the scout is 99mTc-MAA. */
  readonly scoutActivityGBq: SourcedNumber | null;
}

/** The validated catalogue. */
export interface DeviceCatalogue {
  readonly schemaVersion: 1;
  /** Where it came from: "built-in ..." or a file path (with the devices it replaced). */
  readonly name: string;
  readonly devices: Readonly<Record<Device, CatalogueDevice>>;
}

type Obj = Record<string, unknown>;

/** Validation context: the catalogue's name and the path of the field, for messages. */
class Checker {
  constructor(private readonly name: string) {}

  fail(path: string, problem: string, fix: string): never {
    throw new FormatError(`device catalogue ${this.name}: ${path} ${problem}: ${fix}`);
  }

  object(v: unknown, path: string, keys: readonly string[], optional: readonly string[] = []): Obj {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) this.fail(path, `is ${v === null ? 'null' : Array.isArray(v) ? 'a list' : typeof v}`, 'give an object');
    const o = v as Obj;
    for (const k of Object.keys(o)) {
      if (!keys.includes(k) && !optional.includes(k)) this.fail(`${path}.${k}`, 'is not a field of the catalogue', `remove it or check its spelling (fields: ${[...keys, ...optional].join(', ')})`);
    }
    for (const k of keys) if (!(k in o)) this.fail(`${path}.${k}`, 'is missing', 'every field must be given, with its source');
    return o;
  }

  text(v: unknown, path: string): string {
    if (typeof v !== 'string' || v.trim() === '') this.fail(path, `is ${JSON.stringify(v)}`, 'give a non-empty text');
    return v;
  }

  source(v: unknown, path: string): string {
    if (typeof v !== 'string' || v.trim().length < 10) this.fail(path, `is ${JSON.stringify(v)}`, 'every number needs its source (document, year, and the choice made where sources disagree)');
    return v;
  }

  number(v: unknown, path: string, min: number, max: number, unit: string, strictMin = false): number {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || (strictMin && v === min) || v > max) {
      this.fail(path, `is ${JSON.stringify(v)}`, `give a number ${strictMin ? 'above' : 'from'} ${min} ${unit} ${strictMin ? 'up ' : ''}to ${max} ${unit}`);
    }
    return v;
  }
}

/** Largest activity of one vial or order [GBq] a catalogue may state (no radioembolization vial exceeds ~20 GBq). */
const MAX_VIAL_GBQ = 50;

function checkDevice(c: Checker, raw: unknown, device: Device): CatalogueDevice {
  const p = `devices.${device}`;
  const o = c.object(raw, p, ['product', 'manufacturer', 'isotope', 'vial', 'calibration', 'usableWindow', 'activityPerSphereAtCalibrationBq', 'sphereDiameterUm', 'embolicLoad', 'scoutActivityGBq']);
  const isotope = o.isotope;
  if (isotope !== DEVICE_ISOTOPES[device]) c.fail(`${p}.isotope`, `is ${JSON.stringify(isotope)}`, `${device} uses ${DEVICE_ISOTOPES[device]}`);

  const v = o.vial as Obj;
  let vial: VialRule;
  const kind = typeof v === 'object' && v !== null ? v.kind : undefined;
  if (kind === 'stock') {
    const s = c.object(v, `${p}.vial`, ['kind', 'sizesGBq', 'source']);
    if (!Array.isArray(s.sizesGBq) || s.sizesGBq.length === 0) c.fail(`${p}.vial.sizesGBq`, `is ${JSON.stringify(s.sizesGBq)}`, 'give the stock vial sizes as a list of activities in GBq at calibration');
    const sizes = (s.sizesGBq as unknown[]).map((x, i) => c.number(x, `${p}.vial.sizesGBq[${i}]`, 0, MAX_VIAL_GBQ, 'GBq', true));
    for (let i = 1; i < sizes.length; i++) {
      if (!(sizes[i] > sizes[i - 1])) c.fail(`${p}.vial.sizesGBq[${i}]`, `(${sizes[i]}) does not follow ${sizes[i - 1]}`, 'list the vial sizes once each, in ascending order');
    }
    vial = { kind: 'stock', sizesGBq: sizes, source: c.source(s.source, `${p}.vial.source`) };
  } else if (kind === 'draw') {
    const s = c.object(v, `${p}.vial`, ['kind', 'vialGBq', 'source']);
    vial = { kind: 'draw', vialGBq: c.number(s.vialGBq, `${p}.vial.vialGBq`, 0, MAX_VIAL_GBQ, 'GBq', true), source: c.source(s.source, `${p}.vial.source`) };
  } else if (kind === 'per-patient') {
    const s = c.object(v, `${p}.vial`, ['kind', 'source']);
    vial = { kind: 'per-patient', source: c.source(s.source, `${p}.vial.source`) };
  } else {
    c.fail(`${p}.vial.kind`, `is ${JSON.stringify(kind)}`, 'use "stock" (sizes given whole), "draw" (one vial drawn from) or "per-patient"');
  }

  const cr = o.calibration as Obj;
  const ckind = typeof cr === 'object' && cr !== null ? cr.kind : undefined;
  let calibration: CalibrationRule;
  if (ckind === 'weekly') {
    const s = c.object(cr, `${p}.calibration`, ['kind', 'weekday', 'timeOfDay', 'timeZone', 'source']);
    if (!(WEEKDAYS as readonly unknown[]).includes(s.weekday)) c.fail(`${p}.calibration.weekday`, `is ${JSON.stringify(s.weekday)}`, `use one of ${WEEKDAYS.join(', ')}`);
    const tod = c.text(s.timeOfDay, `${p}.calibration.timeOfDay`);
    const m = /^(\d{2}):(\d{2})$/.exec(tod);
    if (!m || Number(m[1]) > 23 || Number(m[2]) > 59) c.fail(`${p}.calibration.timeOfDay`, `is "${tod}"`, 'give the local time as HH:MM, 24-hour clock (e.g. 12:00)');
    const tz = c.text(s.timeZone, `${p}.calibration.timeZone`);
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: tz });
    } catch {
      c.fail(`${p}.calibration.timeZone`, `"${tz}" is not a time zone this system knows`, 'give an IANA zone name such as America/New_York or Europe/Amsterdam');
    }
    calibration = { kind: 'weekly', weekday: s.weekday as Weekday, timeOfDay: tod, timeZone: tz, source: c.source(s.source, `${p}.calibration.source`) };
  } else if (ckind === 'label' || ckind === 'at-treatment') {
    const s = c.object(cr, `${p}.calibration`, ['kind', 'source']);
    calibration = { kind: ckind, source: c.source(s.source, `${p}.calibration.source`) };
  } else {
    c.fail(`${p}.calibration.kind`, `is ${JSON.stringify(ckind)}`, 'use "weekly" (with weekday, timeOfDay, timeZone), "label" or "at-treatment"');
  }
  if (calibration.kind === 'at-treatment' && vial.kind !== 'per-patient') {
    c.fail(`${p}.calibration.kind`, '"at-treatment" is only for per-patient orders', 'stock and drawn vials are calibrated on a schedule ("weekly") or on their label ("label")');
  }

  const w = c.object(o.usableWindow, `${p}.usableWindow`, ['fromCalibrationH', 'toCalibrationH', 'source']);
  const fromH = c.number(w.fromCalibrationH, `${p}.usableWindow.fromCalibrationH`, -168, 0, 'h');
  const toH = c.number(w.toCalibrationH, `${p}.usableWindow.toCalibrationH`, 0, 30 * 24, 'h', true);
  const usableWindow: UsableWindow = { fromCalibrationH: fromH, toCalibrationH: toH, source: c.source(w.source, `${p}.usableWindow.source`) };

  const ps = c.object(o.activityPerSphereAtCalibrationBq, `${p}.activityPerSphereAtCalibrationBq`, ['value', 'source']);
  const activityPerSphereAtCalibrationBq = {
    value: c.number(ps.value, `${p}.activityPerSphereAtCalibrationBq.value`, 0, 1e6, 'Bq', true),
    source: c.source(ps.source, `${p}.activityPerSphereAtCalibrationBq.source`),
  };

  const d = c.object(o.sphereDiameterUm, `${p}.sphereDiameterUm`, ['mean', 'min', 'max', 'source']);
  const mean = c.number(d.mean, `${p}.sphereDiameterUm.mean`, 0, 1000, 'um', true);
  const min = d.min === null ? null : c.number(d.min, `${p}.sphereDiameterUm.min`, 0, mean, 'um', true);
  const max = d.max === null ? null : c.number(d.max, `${p}.sphereDiameterUm.max`, mean, 1000, 'um');
  const sphereDiameterUm = { mean, min, max, source: c.source(d.source, `${p}.sphereDiameterUm.source`) };

  const e = c.object(o.embolicLoad, `${p}.embolicLoad`, ['note', 'source']);
  const embolicLoad = { note: c.text(e.note, `${p}.embolicLoad.note`), source: c.source(e.source, `${p}.embolicLoad.source`) };

  let scoutActivityGBq: SourcedNumber | null = null;
  if (o.scoutActivityGBq !== null) {
    const s = c.object(o.scoutActivityGBq, `${p}.scoutActivityGBq`, ['value', 'source']);
    scoutActivityGBq = { value: c.number(s.value, `${p}.scoutActivityGBq.value`, 0, 5, 'GBq', true), source: c.source(s.source, `${p}.scoutActivityGBq.source`) };
  }
  return {
    device,
    product: c.text(o.product, `${p}.product`),
    manufacturer: c.text(o.manufacturer, `${p}.manufacturer`),
    isotope: isotope as Isotope,
    vial,
    calibration,
    usableWindow,
    activityPerSphereAtCalibrationBq,
    sphereDiameterUm,
    embolicLoad,
    scoutActivityGBq,
  };
}

/**
 * Validates catalogue data (the parsed JSON of a catalogue file, or the built-in data). With `base`, the data may
 * hold only some devices: those replace base's entries (each given entry is validated whole). Throws FormatError
 * naming the catalogue, the field's path, what is wrong and how to fix it.
 */
export function validateCatalogue(raw: unknown, name: string, base?: DeviceCatalogue): DeviceCatalogue {
  const c = new Checker(name);
  const o = c.object(raw, '(top level)', ['schemaVersion', 'devices'], ['name', 'description']);
  if (o.schemaVersion !== 1) c.fail('schemaVersion', `is ${JSON.stringify(o.schemaVersion)}`, 'this engine reads catalogue schema version 1');
  const devs = o.devices;
  if (typeof devs !== 'object' || devs === null || Array.isArray(devs)) c.fail('devices', 'is not an object', 'give an object keyed by device (glass, resin, ho166)');
  for (const k of Object.keys(devs as Obj)) {
    if (!(CATALOGUE_DEVICES as readonly string[]).includes(k)) c.fail(`devices.${k}`, 'is not a device', `use ${CATALOGUE_DEVICES.join(', ')}`);
  }
  const given = CATALOGUE_DEVICES.filter((d) => (devs as Obj)[d] !== undefined);
  if (given.length === 0) c.fail('devices', 'holds no device', `give at least one of ${CATALOGUE_DEVICES.join(', ')}`);
  const devices = {} as Record<Device, CatalogueDevice>;
  for (const d of CATALOGUE_DEVICES) {
    if ((devs as Obj)[d] !== undefined) devices[d] = checkDevice(c, (devs as Obj)[d], d);
    else if (base) devices[d] = base.devices[d];
    else c.fail(`devices.${d}`, 'is missing', 'a complete catalogue describes glass, resin and ho166');
  }
  const label = typeof o.name === 'string' && o.name.trim() ? o.name : name;
  return { schemaVersion: 1, name: base && given.length < CATALOGUE_DEVICES.length ? `${label} (${given.join(', ')}; the rest built-in)` : label, devices };
}

/** The catalogue shipped with the core (src/plan/catalogue-data.ts), validated on load. */
export const DEVICE_CATALOGUE: DeviceCatalogue = validateCatalogue(CATALOGUE_DATA, 'built-in');

/**
 * Reads a site's catalogue from JSON text (the content of `path`): its device entries replace the built-in ones.
 * Throws FormatError for malformed JSON or a catalogue that fails validation (the message names `path`).
 */
export function parseCatalogueJson(text: string, path: string): DeviceCatalogue {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new FormatError(`device catalogue ${path} is not valid JSON (${(err as Error).message}): fix the file or leave --device-catalogue out to use the built-in catalogue`);
  }
  return validateCatalogue(raw, path, DEVICE_CATALOGUE);
}

/** A device's entry. */
export function catalogueDevice(device: Device, catalogue: DeviceCatalogue = DEVICE_CATALOGUE): CatalogueDevice {
  const d = catalogue.devices[device];
  if (!d) throw new InputError(`unknown device "${String(device)}": use glass, resin or ho166`);
  return d;
}
