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
 * lesion hold lesion-level data (response ...). Patient-level columns also come from lesion rows when a column has
 * one value across all of a patient's lesion rows.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { FileError, FormatError, InputError } from '../errors.ts';
import type { CsvTable } from './csv.ts';
import { isMissing, requireColumns } from './table.ts';

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
}

export interface CohortResult {
  readonly lesionColumns: string[];
  readonly lesions: Array<Record<string, string | number>>;
  readonly patientColumns: string[];
  readonly patients: Array<Record<string, string | number>>;
  readonly excludedLesions: number;
  readonly warnings: string[];
}

const DOSE_FIELDS = ['volumeMl', 'massG', 'activityGBq', 'meanGy', 'minGy', 'maxGy', 'd50Gy', 'd70Gy', 'd90Gy', 'd98Gy', 'v100', 'v150', 'v205'] as const;

/** Column names the cohort tables compute; a clinical column may not reuse them. */
const RESERVED = new Set<string>(['patient', 'lesion', 'lesionOf', ...DOSE_FIELDS, 'equivalentDiameterMm', 'diameterSource', 'nLesions', 'nLesionsExcluded',
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
  const lesionRowsOfPatient = new Map<string, Array<Record<string, string>>>();
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
      if (hasLesion && !isMissing(row[lc])) {
        const lk = `${key(p)}\u0000${key(row[lc])}`;
        original.set(lk, `patient "${p.trim()}" lesion "${row[lc].trim()}"`);
        if (lesionRows.has(lk)) throw new InputError(`${src}: patient "${p}" lesion "${row[lc]}" appears twice`);
        lesionRows.set(lk, { ...row });
        const list = lesionRowsOfPatient.get(key(p)) ?? [];
        list.push({ ...row });
        lesionRowsOfPatient.set(key(p), list);
      } else {
        if (patientRows.has(key(p))) throw new InputError(`${src}: patient "${p}" has two patient-level rows (rows without a lesion)`);
        patientRows.set(key(p), { ...row });
      }
    });
    for (const p of new Set([...patientRows.keys(), ...lesionRowsOfPatient.keys()])) {
      if (!ids.has(p)) warnings.push(`${src}: patient "${original.get(p)}" has no report; its clinical rows are not used`);
    }
  }
  /** Patient-level clinical values: the patient row, else columns constant across the patient's lesion rows. */
  const patientClinical = (pid: string): Record<string, string> => {
    const out: Record<string, string> = {};
    const lrs = lesionRowsOfPatient.get(key(pid)) ?? [];
    for (const c of clinicalColumns) {
      const vals = [...new Set(lrs.map((r) => r[c]).filter((v) => !isMissing(v)))];
      if (vals.length === 1) out[c] = vals[0];
    }
    const pr = patientRows.get(key(pid));
    if (pr) for (const c of clinicalColumns) if (!isMissing(pr[c])) out[c] = pr[c];
    return out;
  };

  const lesions: Array<Record<string, string | number>> = [];
  const patients: Array<Record<string, string | number>> = [];
  let excludedTotal = 0;
  const matchedLesionKeys = new Set<string>();
  for (const rep of opts.reports) {
    const pid = rep.patientId;
    const split = new Set(rep.structures.filter((s) => typeof s.lesionOf === 'string').map((s) => s.lesionOf as string));
    const tumours = rep.structures.filter((s) => s.role === 'tumor' && !split.has(s.name));
    if (tumours.length === 0) warnings.push(`${rep.source}: no tumour structures (role "tumor"); patient "${pid}" has no lesions`);
    const pClin = patientClinical(pid);
    let mass = 0, massDose = 0, vol = 0, act = 0, n = 0, excluded = 0;
    for (const s of tumours) {
      const given = typeof s.equivalentDiameterMm === 'number' && Number.isFinite(s.equivalentDiameterMm);
      const diam = given ? (s.equivalentDiameterMm as number) : sphereDiameterMm(s.volumeMl);
      if (opts.minDiameterMm !== undefined && diam < opts.minDiameterMm) {
        excluded++;
        continue;
      }
      const lk = `${key(pid)}\u0000${key(s.name)}`;
      const lClin = lesionRows.get(lk);
      if (lClin) matchedLesionKeys.add(lk);
      else if (opts.clinical && lesionRowsOfPatient.size > 0) warnings.push(`patient "${pid}" lesion "${s.name}": no lesion row in ${src}`);
      const row: Record<string, string | number> = { patient: pid, lesion: s.name, lesionOf: typeof s.lesionOf === 'string' ? s.lesionOf : '' };
      for (const f of DOSE_FIELDS) row[f] = typeof s[f] === 'number' ? (s[f] as number) : '';
      row.equivalentDiameterMm = diam;
      row.diameterSource = given ? 'report' : 'volume';
      for (const c of clinicalColumns) row[c] = lClin && !isMissing(lClin[c]) ? lClin[c] : pClin[c] ?? '';
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
  for (const lk of lesionRows.keys()) {
    const p = lk.split('\u0000')[0];
    if (ids.has(p) && !matchedLesionKeys.has(lk)) warnings.push(`${src}: ${original.get(lk)} matches no included lesion of its report (name differs, or left out by the size filter)`);
  }
  const lesionColumns = ['patient', 'lesion', 'lesionOf', ...DOSE_FIELDS, 'equivalentDiameterMm', 'diameterSource', ...clinicalColumns];
  const patientColumns = ['patient', 'nLesions', 'nLesionsExcluded', 'tumorVolumeMl', 'tumorMassG', 'tumorActivityGBq', 'tumorMeanGy', 'normalLiverMeanGy', 'liverMeanGy', 'lungMeanGy', ...clinicalColumns];
  return { lesionColumns, lesions, patientColumns, patients, excludedLesions: excludedTotal, warnings };
}
