/**
 * Cohort tables for dose-response research: many `report.json` files (one per patient or treatment, format in
 * ../shared/CONTRACT.md) joined with a clinical CSV into a lesion-level and a patient-level table.
 *
 * Lesions: the report's `tumor` structures; when a tumour was split into lesions (--split-lesions: structures with
 * `lesionOf`), the split lesions are used and their parent is not. Lesion diameter: the report's
 * `equivalentDiameterMm`, else the volume-equivalent sphere diameter d = (6 V / pi)^(1/3) from `volumeMl`.
 * Size filter: lesions with a diameter below `minDiameterMm` are left out of both tables (counted per patient).
 *
 * Patient-level tumour dose: the mass-weighted mean of the included lesions' mean doses,
 *   D_patient = sum_i m_i D_i / sum_i m_i  (= total energy imparted / total mass, i.e. the mean dose of all tumour
 *   tissue taken together); normal liver, liver and lung mean doses come from the structures with those roles
 *   (mass-weighted when a role has several structures).
 *
 * Clinical CSV: a patient column, optionally a lesion column (structure name as in the report, matched
 * case-insensitively). Rows with an empty lesion cell hold patient-level data (PFS, OS, grade ...); rows with a
 * lesion hold lesion-level data (response ...). Each clinical column is patient-level or lesion-level
 * (./cohort-columns.ts): a column is patient-level when it never varies within any patient (checked over every patient
 * with two or more rows holding a value in it) and at least one patient has two or more such rows, or when its values
 * sit only on patient rows, or when --patient-columns names it (refused if it varies within a patient); any other
 * column, and any named by --lesion-columns, is lesion-level. A lesion takes its own row's values; a patient-level
 * column it lacks comes from the patient (patient row, else the patient's single lesion-row value); a lesion-level
 * column it lacks stays empty. So a lesion without a clinical row of its own inherits only patient-level columns
 * (a patient whose only lesion row says CR does not give CR to the patient's other lesions); such lesions are
 * listed as warnings with the columns they inherited and those they left empty. patients.csv takes the patient-level
 * values, and a lesion-level column only from the patient row.
 *
 * Lesion rows to report lesions, in this order: (1) the lesion map (--lesion-map: report lesion -> clinical lesion,
 * optionally per patient); (2) the lesion's own name ("Tumor A #1"); (3) for a lesion split by --split-lesions
 * (`lesionOf`), its parent's name ("Tumor A") when the parent has a single component. A parent row for a tumour
 * split into several components is refused (one response cannot be given to several lesions without saying so).
 * Clinical rows that match nothing are listed as warnings with their row numbers; when no clinical row matches any
 * report (no patient, or no lesion at all), the join fails instead of writing empty clinical columns.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { FileError, FormatError, InputError } from '../errors.ts';
import type { CsvTable } from './csv.ts';
import { isMissing, requireColumns } from './table.ts';
import { classifyClinicalColumns, describeClinicalLevels, patientClinicalValues, type ClinicalColumnLevel, type ClinicalRowRef } from './cohort-columns.ts';

/** The part of a report.json structure the cohort uses. */
export interface CohortStructure {
  readonly name: string;
  readonly role: string;
  readonly volumeMl: number;
  readonly massG: number;
  readonly meanGy: number;
  readonly [key: string]: unknown;
}

/** One report with its patient id. */
export interface CohortReport {
  readonly patientId: string;
  readonly structures: readonly CohortStructure[];
  /** File it came from (messages). */
  readonly source: string;
  /** SHA-256 of the file's text, when read from a file: the same report given for two patients is refused. */
  readonly sha256?: string;
}

export interface CohortOptions {
  readonly reports: readonly CohortReport[];
  readonly clinical?: CsvTable;
  readonly clinicalSource?: string;
  /** Patient id column of the clinical CSV, default "patient". */
  readonly patientColumn?: string;
  /** Lesion (structure name) column, default "lesion"; optional in the CSV. */
  readonly lesionColumn?: string;
  /** Leave out lesions with an equivalent diameter below this [mm]. */
  readonly minDiameterMm?: number;
  /**
   * Lesion map: columns `reportLesion` (the structure name in the report) and `clinicalLesion` (the name in the
   * clinical CSV), optionally the patient column (a row without a patient applies to every patient).
   */
  readonly lesionMap?: CsvTable;
  readonly lesionMapSource?: string;
  /** Clinical columns declared patient-level (--patient-columns): inherited by every lesion; refused if one varies within a patient. */
  readonly patientLevelColumns?: readonly string[];
  /** Clinical columns declared lesion-level (--lesion-columns): never inherited by a lesion without a row of its own. */
  readonly lesionLevelColumns?: readonly string[];
}

/** A report lesion that no clinical lesion row describes, with the clinical columns it inherited and those left empty. */
export interface UnmatchedLesion {
  readonly patient: string;
  readonly lesion: string;
  readonly inherited: readonly string[];
  readonly empty: readonly string[];
}

export interface CohortResult {
  readonly lesionColumns: string[];
  readonly lesions: Array<Record<string, string | number>>;
  readonly patientColumns: string[];
  readonly patients: Array<Record<string, string | number>>;
  readonly excludedLesions: number;
  readonly warnings: string[];
  /** Patient- or lesion-level, and why, for each clinical column (./cohort-columns.ts). */
  readonly clinicalLevels: readonly ClinicalColumnLevel[];
  /** Included lesions without a clinical lesion row (only when the clinical table has lesion rows). */
  readonly unmatchedLesions: readonly UnmatchedLesion[];
}

const DOSE_FIELDS = ['volumeMl', 'massG', 'activityGBq', 'meanGy', 'minGy', 'maxGy', 'd50Gy', 'd70Gy', 'd90Gy', 'd98Gy', 'v100', 'v150', 'v205'] as const;

/** Column names the cohort tables compute; a clinical column may not reuse them. */
const RESERVED = new Set<string>(['patient', 'lesion', 'lesionOf', ...DOSE_FIELDS, 'equivalentDiameterMm', 'diameterSource', 'clinicalLesion', 'nLesions', 'nLesionsExcluded',
  'tumorVolumeMl', 'tumorMassG', 'tumorActivityGBq', 'tumorMeanGy', 'normalLiverMeanGy', 'liverMeanGy', 'lungMeanGy']);

/** Volume-equivalent sphere diameter [mm] of a volume [mL]: d = (6 V / pi)^(1/3), V in mm^3 = 1000 V[mL]. */
export function sphereDiameterMm(volumeMl: number): number {
  return Math.cbrt((6 * volumeMl * 1000) / Math.PI);
}

/**
 * Reads a report.json; the patient id is `id` when given, else the name of the folder holding the report.
 * Throws FileError (unreadable) or FormatError (no structures array, a structure without numeric fields).
 */
export function readCohortReport(path: string, id?: string): CohortReport {
  let json: unknown;
  let text = '';
  try {
    text = readFileSync(path, 'utf8');
    json = JSON.parse(text);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code) throw new FileError(`cannot read report ${path}: ${(err as Error).message}`, { cause: err });
    throw new FormatError(`report ${path} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  const structures = (json as { structures?: unknown }).structures;
  if (!Array.isArray(structures)) throw new FormatError(`report ${path} has no "structures" array; give the report.json written by "dosimetry dose"`);
  structures.forEach((s, k) => {
    for (const f of ['volumeMl', 'massG', 'meanGy']) {
      if (typeof (s as Record<string, unknown>)?.[f] !== 'number') throw new FormatError(`report ${path}: structure ${k + 1} ("${(s as { name?: string })?.name ?? '?'}") lacks the number "${f}"`);
    }
    if (typeof (s as { name?: unknown }).name !== 'string' || typeof (s as { role?: unknown }).role !== 'string') throw new FormatError(`report ${path}: structure ${k + 1} lacks "name" or "role"`);
  });
  const patientId = id ?? basename(dirname(resolve(path)));
  return { patientId, structures: structures as CohortStructure[], source: path, sha256: createHash('sha256').update(text).digest('hex') };
}

/** Parses a --report value: "P01=path/report.json" or "path/report.json" (id = folder name). */
export function parseReportArg(v: string): { id?: string; path: string } {
  const eq = v.indexOf('=');
  // a Windows drive letter ("C:\...") has no "=", so "=" always separates id and path
  if (eq >= 0) {
    const id = v.slice(0, eq).trim();
    const path = v.slice(eq + 1);
    if (id === '' || path === '') throw new InputError(`cohort: --report "${v}" has an empty ${id === '' ? 'patient id before' : 'path after'} "="; write --report ID=path/report.json (or just the path: the id is then its folder's name)`);
    return { id, path };
  }
  return { path: v };
}

const key = (s: string) => s.trim().toLowerCase();
const quoted = (names: readonly string[]) => names.map((n) => `"${n}"`).join(', ');

/** Column names of a lesion map (--lesion-map). */
export const LESION_MAP_COLUMNS = { report: 'reportLesion', clinical: 'clinicalLesion' } as const;

/**
 * Reads a lesion map into "patient\0report lesion" -> clinical lesion (patient "*" for rows without one), lower-cased
 * keys. Throws InputError for a missing column, an empty cell or a lesion mapped twice.
 */
function readLesionMap(t: CsvTable, source: string, patientColumn: string): Map<string, { clinical: string; label: string }> {
  const { report, clinical } = LESION_MAP_COLUMNS;
  requireColumns(t, [report, clinical], source);
  const hasPatient = t.columns.includes(patientColumn);
  const map = new Map<string, { clinical: string; label: string }>();
  t.rows.forEach((r, k) => {
    if (isMissing(r[report]) || isMissing(r[clinical])) throw new InputError(`${source}: row ${k + 1} needs both "${report}" (the lesion as the report names it) and "${clinical}" (as the clinical CSV names it)`);
    const p = hasPatient && !isMissing(r[patientColumn]) ? key(r[patientColumn]) : '*';
    const mk = `${p}\u0000${key(r[report])}`;
    const label = `row ${k + 1} (lesion "${r[report].trim()}"${p === '*' ? '' : ` of patient "${r[patientColumn].trim()}"`})`;
    if (map.has(mk)) throw new InputError(`${source}: ${label} maps a lesion mapped already (${map.get(mk)!.label}); keep one row`);
    map.set(mk, { clinical: r[clinical].trim(), label });
  });
  return map;
}

/** Joins reports and clinical data (see the module comment). */
export function buildCohort(opts: CohortOptions): CohortResult {
  const pc = opts.patientColumn ?? 'patient';
  const lc = opts.lesionColumn ?? 'lesion';
  const src = opts.clinicalSource ?? 'clinical CSV';
  const warnings: string[] = [];
  if (opts.reports.length === 0) throw new InputError('cohort: give at least one report (--report [ID=]path/report.json)');
  const ids = new Map<string, string>();
  for (const r of opts.reports) {
    if (ids.has(key(r.patientId))) throw new InputError(`cohort: patient id "${r.patientId}" is given for two reports (${ids.get(key(r.patientId))} and ${r.source}); name them apart with --report ID=path`);
    ids.set(key(r.patientId), r.source);
  }
  // the same report under two ids would count one patient's lesions twice
  const seenReport = new Map<string, CohortReport>();
  for (const r of opts.reports) {
    for (const k of [`path:${resolve(r.source)}`, ...(r.sha256 ? [`sha:${r.sha256}`] : [])]) {
      const o = seenReport.get(k);
      if (o) throw new InputError(`cohort: patients "${o.patientId}" and "${r.patientId}" are given the same report (${o.source}${resolve(o.source) === resolve(r.source) ? '' : ` and ${r.source}, identical files`}); each patient needs its own report.json`);
      seenReport.set(k, r);
    }
  }
  // clinical rows by patient and by (patient, lesion)
  const patientRows = new Map<string, Record<string, string>>();
  const lesionRows = new Map<string, Record<string, string>>();
  const lesionRowNumber = new Map<string, number>(); // 1-based data row of each lesion row
  const lesionRowsOfPatient = new Map<string, Array<Record<string, string>>>();
  const rowsOfPatient = new Map<string, ClinicalRowRef[]>(); // every clinical row, by patient key
  const original = new Map<string, string>(); // lower-cased key -> id or lesion name as written in the CSV
  let clinicalColumns: string[] = [];
  if (opts.clinical) {
    requireColumns(opts.clinical, [pc], src);
    const hasLesion = opts.clinical.columns.includes(lc);
    clinicalColumns = opts.clinical.columns.filter((c) => c !== pc && c !== lc);
    const clash = clinicalColumns.filter((c) => RESERVED.has(c));
    if (clash.length) throw new InputError(`${src}: column${clash.length > 1 ? 's' : ''} ${clash.map((c) => `"${c}"`).join(', ')} would overwrite the engine's own column of that name; rename ${clash.length > 1 ? 'them' : 'it'} in the CSV`);
    opts.clinical.rows.forEach((row, k) => {
      const p = row[pc];
      if (isMissing(p)) throw new InputError(`${src}: row ${k + 1} has no patient id in column "${pc}"`);
      original.set(key(p), p.trim());
      rowsOfPatient.set(key(p), [...(rowsOfPatient.get(key(p)) ?? []), { row: { ...row }, rowNumber: k + 1, patientRow: !(hasLesion && !isMissing(row[lc])) }]);
      if (hasLesion && !isMissing(row[lc])) {
        const lk = `${key(p)}\u0000${key(row[lc])}`;
        original.set(lk, `patient "${p.trim()}" lesion "${row[lc].trim()}"`);
        if (lesionRows.has(lk)) throw new InputError(`${src}: patient "${p}" lesion "${row[lc]}" appears twice`);
        lesionRows.set(lk, { ...row });
        lesionRowNumber.set(lk, k + 1);
        const list = lesionRowsOfPatient.get(key(p)) ?? [];
        list.push({ ...row });
        lesionRowsOfPatient.set(key(p), list);
      } else {
        if (patientRows.has(key(p))) throw new InputError(`${src}: patient "${p}" has two patient-level rows (rows without a lesion)`);
        patientRows.set(key(p), { ...row });
      }
    });
    const clinicalPatients = [...new Set([...patientRows.keys(), ...lesionRowsOfPatient.keys()])];
    const orphans = clinicalPatients.filter((p) => !ids.has(p));
    if (clinicalPatients.length > 0 && orphans.length === clinicalPatients.length) {
      // nothing would join: every clinical column would come out empty
      throw new InputError(
        `${src}: none of its ${clinicalPatients.length} patients (${quoted(orphans.slice(0, 3).map((p) => original.get(p)!))}${orphans.length > 3 ? ', ...' : ''}) has a report; the reports' patient ids are ${quoted(opts.reports.slice(0, 3).map((r) => r.patientId))}${opts.reports.length > 3 ? ', ...' : ''} (the folder name, or ID in --report ID=path): make column "${pc}" use the same ids`,
      );
    }
    for (const p of orphans) warnings.push(`${src}: patient "${original.get(p)}" has no report; its clinical rows are not used`);
  }
  const mapSrc = opts.lesionMapSource ?? 'lesion map';
  const lesionMap = opts.lesionMap ? readLesionMap(opts.lesionMap, mapSrc, pc) : new Map<string, { clinical: string; label: string }>();
  const usedMapKeys = new Set<string>();
  /** The clinical lesion row of a report lesion (see the module comment), or undefined; throws on an ambiguous parent row. */
  const matchLesion = (pid: string, s: CohortStructure, componentsOf: ReadonlyMap<string, string[]>): string | undefined => {
    const pk = key(pid);
    for (const mk of [`${pk}\u0000${key(s.name)}`, `*\u0000${key(s.name)}`]) {
      const mapped = lesionMap.get(mk)?.clinical;
      if (mapped === undefined) continue;
      usedMapKeys.add(mk);
      const lk = `${pk}\u0000${key(mapped)}`;
      if (!lesionRows.has(lk)) throw new InputError(`${mapSrc}: lesion "${s.name}" of patient "${pid}" is mapped to "${mapped}", but ${src} has no row for patient "${pid}" lesion "${mapped}"; correct the map or the clinical CSV`);
      return lk;
    }
    const own = `${pk}\u0000${key(s.name)}`;
    if (lesionRows.has(own)) return own;
    if (typeof s.lesionOf === 'string') {
      const parent = `${pk}\u0000${key(s.lesionOf)}`;
      if (lesionRows.has(parent)) {
        const comps = componentsOf.get(s.lesionOf) ?? [s.name];
        if (comps.length === 1) return parent;
        throw new InputError(
          `${src}: patient "${pid}" lesion "${s.lesionOf}" (row ${lesionRowNumber.get(parent)}) was split by --split-lesions into ${comps.length} lesions (${quoted(comps)}), and one clinical row cannot describe them all; give one clinical row per lesion (lesion ${quoted(comps)}), or map them with --lesion-map FILE.csv (columns ${LESION_MAP_COLUMNS.report},${LESION_MAP_COLUMNS.clinical})`,
        );
      }
    }
    return undefined;
  };
  // patient- or lesion-level clinical columns (./cohort-columns.ts); throws for a contradictory declaration
  const clinicalLevels = opts.clinical
    ? classifyClinicalColumns({
      columns: clinicalColumns,
      rowsOfPatient: new Map([...rowsOfPatient].map(([pk, rows]) => [original.get(pk)!, rows])),
      patientColumns: opts.patientLevelColumns,
      lesionColumns: opts.lesionLevelColumns,
      source: src,
    })
    : [];
  const patientLevel = new Set(clinicalLevels.filter((l) => l.level === 'patient').map((l) => l.column));
  /** A patient's own clinical values (patient-level columns; lesion-level ones only from the patient row). */
  const patientClinical = (pid: string): Record<string, string> => patientClinicalValues(rowsOfPatient.get(key(pid)) ?? [], clinicalLevels);
  const unmatchedLesions: UnmatchedLesion[] = [];

  const lesions: Array<Record<string, string | number>> = [];
  const patients: Array<Record<string, string | number>> = [];
  let excludedTotal = 0;
  const matchedLesionKeys = new Set<string>();
  const matchedByExcluded = new Set<string>(); // rows whose lesions the size filter left out
  const lesionNamesOf = new Map<string, string[]>(); // report lesion names per patient key, for messages
  for (const rep of opts.reports) {
    const pid = rep.patientId;
    const split = new Set(rep.structures.filter((s) => typeof s.lesionOf === 'string').map((s) => s.lesionOf as string));
    const tumours = rep.structures.filter((s) => s.role === 'tumor' && !split.has(s.name));
    const componentsOf = new Map<string, string[]>();
    for (const s of rep.structures) {
      if (typeof s.lesionOf !== 'string') continue;
      componentsOf.set(s.lesionOf, [...(componentsOf.get(s.lesionOf) ?? []), s.name]);
    }
    lesionNamesOf.set(key(pid), tumours.map((s) => s.name));
    if (tumours.length === 0) warnings.push(`${rep.source}: no tumour structures (role "tumor"); patient "${pid}" has no lesions`);
    const pClin = patientClinical(pid);
    let mass = 0, massDose = 0, vol = 0, act = 0, n = 0, excluded = 0;
    for (const s of tumours) {
      const given = typeof s.equivalentDiameterMm === 'number' && Number.isFinite(s.equivalentDiameterMm);
      const diam = given ? (s.equivalentDiameterMm as number) : sphereDiameterMm(s.volumeMl);
      const lk = matchLesion(pid, s, componentsOf);
      if (opts.minDiameterMm !== undefined && diam < opts.minDiameterMm) {
        if (lk) matchedByExcluded.add(lk);
        excluded++;
        continue;
      }
      const lClin = lk ? lesionRows.get(lk) : undefined;
      if (lk) matchedLesionKeys.add(lk);
      else if (opts.clinical && lesionRowsOfPatient.size > 0) {
        // only patient-level columns are inherited; lesion-level ones (response ...) stay empty, never guessed
        const inherited = clinicalColumns.filter((c) => patientLevel.has(c) && pClin[c] !== undefined);
        const empty = clinicalColumns.filter((c) => !inherited.includes(c));
        unmatchedLesions.push({ patient: pid, lesion: s.name, inherited, empty });
        warnings.push(`patient "${pid}" lesion "${s.name}": no lesion row in ${src}; inherited from the patient: ${inherited.length ? quoted(inherited) : 'none'}; left empty: ${empty.length ? quoted(empty) : 'none'}`);
      }
      const row: Record<string, string | number> = { patient: pid, lesion: s.name, lesionOf: typeof s.lesionOf === 'string' ? s.lesionOf : '' };
      for (const f of DOSE_FIELDS) row[f] = typeof s[f] === 'number' ? (s[f] as number) : '';
      row.equivalentDiameterMm = diam;
      row.diameterSource = given ? 'report' : 'volume';
      row.clinicalLesion = lClin ? lClin[lc].trim() : '';
      for (const c of clinicalColumns) row[c] = lClin && !isMissing(lClin[c]) ? lClin[c] : patientLevel.has(c) ? pClin[c] ?? '' : '';
      lesions.push(row);
      mass += s.massG;
      massDose += s.massG * s.meanGy;
      vol += s.volumeMl;
      act += typeof s.activityGBq === 'number' ? s.activityGBq : 0;
      n++;
    }
    excludedTotal += excluded;
    const roleMean = (role: string): number | '' => {
      const ss = rep.structures.filter((s) => s.role === role);
      const m = ss.reduce((a, s) => a + s.massG, 0);
      return ss.length && m > 0 ? ss.reduce((a, s) => a + s.massG * s.meanGy, 0) / m : '';
    };
    const prow: Record<string, string | number> = {
      patient: pid,
      nLesions: n,
      nLesionsExcluded: excluded,
      tumorVolumeMl: n ? vol : '',
      tumorMassG: n ? mass : '',
      tumorActivityGBq: n ? act : '',
      tumorMeanGy: n && mass > 0 ? massDose / mass : '',
      normalLiverMeanGy: roleMean('normal-liver'),
      liverMeanGy: roleMean('liver'),
      lungMeanGy: roleMean('lung'),
    };
    for (const c of clinicalColumns) prow[c] = pClin[c] ?? '';
    patients.push(prow);
  }
  // clinical lesion rows that join nothing: all of them is an error (the response column would be empty), some a warning each
  const candidates = [...lesionRows.keys()].filter((lk) => ids.has(lk.split('\u0000')[0]));
  const unmatched = candidates.filter((lk) => !matchedLesionKeys.has(lk) && !matchedByExcluded.has(lk));
  if (candidates.length > 0 && unmatched.length === candidates.length) {
    const first = unmatched[0];
    const names = lesionNamesOf.get(first.split('\u0000')[0]) ?? [];
    throw new InputError(
      `${src}: none of its ${candidates.length} lesion rows matches a lesion of the reports (row ${lesionRowNumber.get(first)}: ${original.get(first)}; that report's lesions are ${names.length ? quoted(names.slice(0, 4)) + (names.length > 4 ? ', ...' : '') : '(none)'}); name the lesions in column "${lc}" as the segmentation does (a lesion split by --split-lesions also by its parent's name when it is the only component), or map them with --lesion-map FILE.csv (columns ${LESION_MAP_COLUMNS.report},${LESION_MAP_COLUMNS.clinical})`,
    );
  }
  for (const lk of candidates) {
    if (matchedLesionKeys.has(lk)) continue;
    if (matchedByExcluded.has(lk)) {
      warnings.push(`${src}: row ${lesionRowNumber.get(lk)} (${original.get(lk)}) belongs to a lesion left out by the size filter`);
      continue;
    }
    const names = lesionNamesOf.get(lk.split('\u0000')[0]) ?? [];
    warnings.push(`${src}: row ${lesionRowNumber.get(lk)} (${original.get(lk)}) matches no lesion of its report (its lesions: ${names.length ? quoted(names) : 'none'}); not used`);
  }
  for (const [mk, m] of lesionMap) {
    if (!usedMapKeys.has(mk)) warnings.push(`${mapSrc}: ${m.label} names no lesion of the reports; not used`);
  }
  if (unmatchedLesions.length) warnings.push(describeClinicalLevels(clinicalLevels, src));
  const lesionColumns = ['patient', 'lesion', 'lesionOf', ...DOSE_FIELDS, 'equivalentDiameterMm', 'diameterSource', 'clinicalLesion', ...clinicalColumns];
  const patientColumns = ['patient', 'nLesions', 'nLesionsExcluded', 'tumorVolumeMl', 'tumorMassG', 'tumorActivityGBq', 'tumorMeanGy', 'normalLiverMeanGy', 'liverMeanGy', 'lungMeanGy', ...clinicalColumns];
  return { lesionColumns, lesions, patientColumns, patients, excludedLesions: excludedTotal, warnings, clinicalLevels, unmatchedLesions };
}
