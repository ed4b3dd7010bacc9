/**
 * Partial-volume correction of lesion activity and mean absorbed dose by recovery coefficients (RC).
 *
 * A scanner's NEMA NU 2 / IEC body phantom measurement gives, for spheres of known diameter filled at a known
 * concentration, the recovery coefficient RC = (mean activity concentration measured in the sphere's true volume) /
 * (true concentration). A lesion of volume V then has its image-derived activity and mean absorbed dose (LDM and DVK
 * means are both proportional to the activity in the volume) corrected as
 *
 *   A_corr = A / RC(V),   MAD_corr = MAD / RC(V)
 *
 * (Soret, Bacharach & Buvat, J Nucl Med 2007;48:932-945, "Partial-volume effect in PET tumor imaging", section on
 * recovery coefficients; MIRD Pamphlet No. 23, Dewaraja et al., J Nucl Med 2012;53:1310-1325, section 4.3).
 *
 * Interpolation: RC is interpolated linearly in the volume-equivalent sphere diameter d = (6 V / pi)^(1/3). Under a
 * Gaussian PSF the RC of a sphere depends only on d / FWHM and rises smoothly (sigmoid-like) from 0 to 1; across the
 * NEMA diameters (10, 13, 17, 22, 28, 37 mm) that curve is close to linear piecewise in d, whereas interpolating in
 * volume puts most of the interval's change near its small end and overestimates RC (undercorrects). Linear in
 * log-volume (= linear in log d) is nearly the same: on Gaussian-blurred spheres (test/dose/recovery.test.ts) the worst
 * error of lesions of 15-32 mm was 2.7-4.4 % in d against 2.4-5.1 % in log V, both dominated by voxel sampling.
 * A table given by volume is converted to diameters with the same formula.
 *
 * Range: a lesion smaller than the smallest sphere is flagged ("below smallest sphere") and not corrected (RC falls
 * steeply there and an extrapolated RC would divide by a guess); one larger than the largest sphere takes the largest
 * sphere's RC (RC is flat near 1 for large objects), which the report states (`pvc.clamped: "above largest sphere"`).
 *
 * Limitations, stated in the report: RC assumes a sphere of uniform uptake in a background of the same
 * sphere-to-background ratio as the measurement (a measured/true RC from a warm-background phantom changes with that
 * ratio); an irregular or necrotic lesion recovers differently from a sphere of the same volume; a tumour structure
 * holding several lesions is corrected as one sphere of its total volume (use --split-lesions to correct each lesion).
 */
import { readFileSync } from 'node:fs';
import { FileError, FormatError, InputError } from '../errors.ts';
import { equivalentSphereDiameterMm } from './lesions.ts';

/** Largest recovery coefficient accepted: RC slightly above 1 occurs from Gibbs overshoot of resolution recovery. */
export const MAX_RECOVERY_COEFFICIENT = 1.2;

/** How the table's sizes were given (its header). */
export type RecoverySizeKind = 'diameterMm' | 'volumeMl';

/** One sphere of a NEMA table: its diameter [mm], volume [mL] and recovery coefficient (measured / true, unitless). */
export interface RecoveryPoint {
  readonly diameterMm: number;
  readonly volumeMl: number;
  readonly rc: number;
}

/** A scanner's recovery-coefficient table, sorted by increasing sphere diameter (at least two spheres). */
export interface RecoveryTable {
  readonly points: readonly RecoveryPoint[];
  readonly sizeKind: RecoverySizeKind;
  /** The file (or text) it came from, for messages and provenance. */
  readonly source: string;
}

/** Interpolation stated in reports. */
export const RECOVERY_INTERPOLATION = 'linear in volume-equivalent sphere diameter; below the smallest sphere: flagged, not corrected; above the largest: RC of the largest';

/** Volume of a sphere of diameter d [mm] in mL: pi d^3 / 6 / 1000. */
export function sphereVolumeMl(diameterMm: number): number {
  return (Math.PI * diameterMm ** 3) / 6 / 1000;
}

/**
 * Builds a checked table from rows of (size, rc). Throws FormatError when there are fewer than 2 rows, a size is not
 * a positive finite number, two rows have the same size, an RC lies outside (0, 1.2], or RC decreases with size.
 */
export function recoveryTableFromRows(rows: ReadonlyArray<{ size: number; rc: number }>, sizeKind: RecoverySizeKind, source: string): RecoveryTable {
  if (rows.length < 2) throw new FormatError(`${source}: a recovery-coefficient table needs at least 2 spheres, found ${rows.length}: give one row per NEMA sphere (${sizeKind},rc)`);
  for (const [i, r] of rows.entries()) {
    if (!Number.isFinite(r.size) || r.size <= 0) throw new FormatError(`${source}: row ${i + 1}: ${sizeKind} must be a positive number, got ${r.size}`);
    if (!Number.isFinite(r.rc) || r.rc <= 0 || r.rc > MAX_RECOVERY_COEFFICIENT) {
      throw new FormatError(`${source}: row ${i + 1}: rc must lie in (0, ${MAX_RECOVERY_COEFFICIENT}] (measured / true mean concentration), got ${r.rc}: a percentage (give 0.86, not 86) or a wrong column?`);
    }
  }
  const sorted = [...rows].sort((a, b) => a.size - b.size);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i].size === sorted[i - 1].size) throw new FormatError(`${source}: two spheres with ${sizeKind} ${sorted[i].size}: give each sphere once (average repeated measurements)`);
    if (sorted[i].rc < sorted[i - 1].rc) {
      throw new FormatError(
        `${source}: rc must not decrease with sphere size (${sizeKind} ${sorted[i - 1].size}: ${sorted[i - 1].rc}, ${sorted[i].size}: ${sorted[i].rc}); ` +
          'a noisy measurement: average repeated scans or fit a smooth recovery curve before using it',
      );
    }
  }
  const points = sorted.map((r) => {
    const diameterMm = sizeKind === 'diameterMm' ? r.size : equivalentSphereDiameterMm(r.size);
    return { diameterMm, volumeMl: sizeKind === 'volumeMl' ? r.size : sphereVolumeMl(r.size), rc: r.rc };
  });
  return { points, sizeKind, source };
}

function sizeKindOf(name: string, source: string): RecoverySizeKind {
  if (name === 'diameterMm' || name === 'volumeMl') return name;
  throw new FormatError(`${source}: unknown size column "${name}": use diameterMm (sphere inner diameter, mm) or volumeMl (sphere volume, mL)`);
}

function numberCell(text: string, source: string, line: number, col: string): number {
  const t = text.trim();
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(t)) throw new FormatError(`${source}: line ${line}: ${col} "${t}" is not a number (use a decimal point, no units)`);
  return Number(t);
}

/**
 * Parses a recovery-coefficient table from text.
 * CSV: a header `diameterMm,rc` or `volumeMl,rc` (either order), one row per sphere; `#` lines and blank lines are
 * skipped. JSON: `{ "spheres": [ { "diameterMm": 10, "rc": 0.3 }, ... ] }` (or `volumeMl`), or the bare array.
 */
export function parseRecoveryTable(text: string, source = 'recovery-coefficient table'): RecoveryTable {
  const trimmed = text.replace(/^\uFEFF/, '').trim();
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    let json: unknown;
    try {
      json = JSON.parse(trimmed);
    } catch (err) {
      throw new FormatError(`${source}: not valid JSON (${(err as Error).message})`, { cause: err });
    }
    const list = Array.isArray(json) ? json : (json as { spheres?: unknown }).spheres;
    if (!Array.isArray(list)) throw new FormatError(`${source}: expected { "spheres": [ { "diameterMm": D, "rc": R }, ... ] }`);
    let kind: RecoverySizeKind | undefined;
    const rows = list.map((e, i) => {
      if (typeof e !== 'object' || e === null) throw new FormatError(`${source}: spheres[${i}] is not an object`);
      const o = e as Record<string, unknown>;
      const k: RecoverySizeKind | undefined = 'diameterMm' in o ? 'diameterMm' : 'volumeMl' in o ? 'volumeMl' : undefined;
      if (!k) throw new FormatError(`${source}: spheres[${i}] has neither diameterMm nor volumeMl`);
      if (kind && k !== kind) throw new FormatError(`${source}: spheres mix diameterMm and volumeMl: use one for all`);
      kind = k;
      if (typeof o[k] !== 'number' || typeof o.rc !== 'number') throw new FormatError(`${source}: spheres[${i}]: ${k} and rc must be numbers`);
      return { size: o[k] as number, rc: o.rc as number };
    });
    return recoveryTableFromRows(rows, kind ?? 'diameterMm', source);
  }
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/).map((l, i) => ({ l: l.trim(), n: i + 1 })).filter((x) => x.l !== '' && !x.l.startsWith('#'));
  if (lines.length === 0) throw new FormatError(`${source}: empty: expected a header diameterMm,rc or volumeMl,rc and one row per sphere`);
  const head = lines[0].l.split(',').map((c) => c.trim().replace(/^"|"$/g, ''));
  const rcCol = head.indexOf('rc');
  if (head.length !== 2 || rcCol < 0) throw new FormatError(`${source}: header "${lines[0].l}": expected diameterMm,rc or volumeMl,rc`);
  const kind = sizeKindOf(head[1 - rcCol], source);
  const rows = lines.slice(1).map(({ l, n }) => {
    const cells = l.split(',');
    if (cells.length !== 2) throw new FormatError(`${source}: line ${n}: expected 2 cells (${head.join(',')}), found ${cells.length}`);
    return { size: numberCell(cells[1 - rcCol], source, n, kind), rc: numberCell(cells[rcCol], source, n, 'rc') };
  });
  return recoveryTableFromRows(rows, kind, source);
}

/** Reads a recovery-coefficient table file (CSV or JSON, see {@link parseRecoveryTable}); FileError when unreadable. */
export function readRecoveryTable(path: string): RecoveryTable {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new FileError(`cannot read the recovery-coefficient table ${path}: ${(err as Error).message}`, { cause: err });
  }
  return parseRecoveryTable(text, path);
}

/** RC at a lesion's size: the value, or a flag when the lesion lies below the table. */
export type RecoveryLookup =
  | { readonly rc: number; readonly clamped?: 'above largest sphere' }
  | { readonly rc: undefined; readonly flag: 'below smallest sphere' };

/**
 * RC for a lesion of volume `volumeMl` [mL]: linear in volume-equivalent sphere diameter between table spheres, the
 * largest sphere's RC above the table, and no value (flag) below the smallest sphere.
 */
export function recoveryCoefficientAt(table: RecoveryTable, volumeMl: number): RecoveryLookup {
  if (!(volumeMl > 0) || !Number.isFinite(volumeMl)) throw new InputError(`recovery coefficient: lesion volume must be a positive number of mL, got ${volumeMl}`);
  const d = equivalentSphereDiameterMm(volumeMl);
  const p = table.points;
  // relative tolerance: a lesion of exactly a table sphere's volume round-trips through the cube root
  const eps = 1e-9 * p[0].diameterMm;
  if (d < p[0].diameterMm - eps) return { rc: undefined, flag: 'below smallest sphere' };
  const last = p[p.length - 1];
  if (d > last.diameterMm + eps) return { rc: last.rc, clamped: 'above largest sphere' };
  for (let i = 1; i < p.length; i++) {
    if (d <= p[i].diameterMm + eps) {
      const t = Math.min(1, Math.max(0, (d - p[i - 1].diameterMm) / (p[i].diameterMm - p[i - 1].diameterMm)));
      return { rc: p[i - 1].rc + t * (p[i].rc - p[i - 1].rc) };
    }
  }
  return { rc: last.rc };
}

/** `pvc` object of a corrected structure in report.json. */
export interface StructurePvc {
  readonly method: 'recovery-coefficient';
  /** RC used (unitless), null when flagged. */
  readonly rc: number | null;
  readonly equivalentDiameterMm: number;
  /** Mean absorbed dose / RC [Gy], null when flagged (the uncorrected meanGy stands). */
  readonly meanGyCorrected: number | null;
  /** Activity / RC [GBq], null when flagged. */
  readonly activityGBqCorrected: number | null;
  readonly flag?: 'below smallest sphere';
  readonly clamped?: 'above largest sphere';
}

/** RC correction of one lesion's mean dose [Gy] and activity [GBq] of volume [mL]. */
export function correctLesion(table: RecoveryTable, lesion: { volumeMl: number; meanGy: number; activityGBq: number }): StructurePvc {
  const r = recoveryCoefficientAt(table, lesion.volumeMl);
  const equivalentDiameterMm = equivalentSphereDiameterMm(lesion.volumeMl);
  if (r.rc === undefined) return { method: 'recovery-coefficient', rc: null, equivalentDiameterMm, meanGyCorrected: null, activityGBqCorrected: null, flag: r.flag };
  return {
    method: 'recovery-coefficient',
    rc: r.rc,
    equivalentDiameterMm,
    meanGyCorrected: lesion.meanGy / r.rc,
    activityGBqCorrected: lesion.activityGBq / r.rc,
    ...('clamped' in r && r.clamped ? { clamped: r.clamped } : {}),
  };
}

/** A report structure as far as the correction reads it. */
export interface PvcStructure {
  name: string;
  role: string;
  volumeMl: number;
  meanGy: number;
  activityGBq: number;
  lesionOf?: unknown;
  [key: string]: unknown;
}

/**
 * Adds `pvc` to every tumour structure (role "tumor": named tumours and split lesions) of a report's structures, in
 * place, and returns the warnings to report (lesions flagged, clamped, or tumours holding several lesions unsplit).
 */
export function applyRecoveryCorrection(structures: PvcStructure[], table: RecoveryTable, opts: { splitLesions: boolean }): string[] {
  const warnings: string[] = [];
  const flagged: string[] = [];
  const clamped: string[] = [];
  for (const s of structures) {
    if (s.role !== 'tumor' || !(s.volumeMl > 0)) continue;
    const pvc = correctLesion(table, s);
    s.pvc = pvc;
    if (pvc.flag) flagged.push(`${s.name} (${pvc.equivalentDiameterMm.toFixed(1)} mm)`);
    if (pvc.clamped) clamped.push(s.name);
  }
  const smallest = table.points[0].diameterMm;
  if (flagged.length) warnings.push(`partial-volume correction: ${flagged.join(', ')} below the smallest sphere of ${table.source} (${smallest.toFixed(1)} mm): not corrected (an extrapolated RC would be a guess): the mean dose reported there is underestimated by an unknown factor`);
  if (clamped.length) warnings.push(`partial-volume correction: ${clamped.join(', ')} larger than the largest sphere (${table.points[table.points.length - 1].diameterMm.toFixed(1)} mm): the largest sphere's RC used`);
  if (!opts.splitLesions && structures.some((s) => s.role === 'tumor' && s.lesionOf === undefined)) {
    warnings.push('partial-volume correction: each tumour structure is corrected as one sphere of its total volume; a structure holding several lesions needs --split-lesions to correct each one by its own size');
  }
  return warnings;
}

/** Provenance parameters of a correction. */
export function recoveryParameters(table: RecoveryTable): Record<string, unknown> {
  return {
    partialVolumeCorrection: {
      method: 'recovery-coefficient',
      table: table.source,
      sizeColumn: table.sizeKind,
      spheres: table.points.map((p) => ({ diameterMm: p.diameterMm, volumeMl: p.volumeMl, rc: p.rc })),
      interpolation: RECOVERY_INTERPOLATION,
      formula: 'meanGyCorrected = meanGy / RC(V); activityGBqCorrected = activityGBq / RC(V)',
      limitations: 'assumes spherical lesions of uniform uptake and the sphere-to-background ratio of the phantom measurement; irregular or necrotic lesions recover differently',
    },
  };
}
