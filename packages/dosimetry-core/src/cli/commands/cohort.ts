/**
 * `dosimetry cohort`: joins report.json files (one per patient or treatment) with a clinical CSV into
 * OUT/lesions.csv (one row per lesion) and OUT/patients.csv (one row per report), written together atomically.
 * Patient-level tumour dose = mass-weighted mean of the included lesions' mean doses. Details: ../../research/cohort.ts.
 * JSON: { lesions, patients, excludedLesions, files: { lesions, patients }, lesionColumns, patientColumns, warnings,
 *   clinicalLevels: [{ column, level: "patient"|"lesion", basis }], unmatchedLesions: [{ patient, lesion, inherited, empty }] }.
 */
import { readdirSync, existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { FileError, UsageError } from '../../errors.ts';
import { claimOutputDir } from '../../io/output-set.ts';
import { numberOpt, opt, optAll, parseArgs, requireOpt, type OptionSpec } from '../args.ts';
import { buildCohort, parseReportArg, readCohortReport, type CohortReport } from '../../research/cohort.ts';
import { parseColumnList } from '../../research/cohort-columns.ts';
import { formatCsv } from '../../research/csv.ts';
import { printJson, readResearchCsv } from '../../research/cli.ts';

const OPTIONS: Record<string, OptionSpec> = {
  report: { type: 'string', repeatable: true },
  'reports-dir': { type: 'string', repeatable: true },
  clinical: { type: 'string' },
  'patient-column': { type: 'string' },
  'lesion-column': { type: 'string' },
  'lesion-map': { type: 'string' },
  'patient-columns': { type: 'string', repeatable: true },
  'lesion-columns': { type: 'string', repeatable: true },
  delimiter: { type: 'string' },
  decimal: { type: 'string' },
  'min-diameter-mm': { type: 'string' },
  out: { type: 'string' },
  json: { type: 'flag' },
  help: { type: 'flag' },
};

const HELP = `usage: pnpm -s dosimetry cohort [--json] (--report [ID=]path/report.json ... | --reports-dir DIR)
  [--clinical F.csv [--patient-column patient] [--lesion-column lesion] [--lesion-map MAP.csv]
   [--patient-columns pfsMonths,grade] [--lesion-columns response]] [--min-diameter-mm 20]
  [--delimiter ';'] [--decimal ,] --out DIR
Writes DIR/lesions.csv (every tumour lesion: doses, volume, mass, equivalent-sphere diameter, clinical columns)
and DIR/patients.csv (lesion count, tumour mass, mass-weighted mean tumour dose, normal-liver/liver/lung mean
doses, patient-level clinical columns). The patient id is ID, else the report's folder name; --reports-dir takes
every DIR/*/report.json. Clinical rows with an empty lesion cell are patient-level (PFS, OS, grade ...); rows with a
lesion (the structure name in the report) are lesion-level (response ...). A lesion of --split-lesions ("Tumor A #1")
takes its own row, else its parent's ("Tumor A") when it is the parent's only component; a tumour split into several
lesions needs a row per lesion or --lesion-map MAP.csv (columns reportLesion,clinicalLesion[,patient]).
Clinical rows that match nothing are listed as warnings; when none matches, nothing is written.
Inheritance: a lesion without a row of its own takes only the patient-level columns; lesion-level ones (response ...)
stay empty. A column is patient-level when it never varies within a patient (checked over every patient with two or
more rows holding a value in it) and at least one patient has two such rows, or when its values are only on patient
rows; else it is lesion-level (so one lesion row per patient gives no inheritance). --patient-columns a,b makes columns
patient-level (refused if one varies within a patient), --lesion-columns c,d lesion-level. Lesions without a row are
listed as warnings with the columns inherited and those left empty. patients.csv takes the patient-level values, and a
lesion-level column only from a patient row.
--min-diameter-mm leaves out smaller lesions (diameter from the report, else (6 V/pi)^(1/3)). CSVs separated by ';'
with decimal commas are detected (or forced with --delimiter/--decimal).`;

/** Runs the command; returns the exit code (errors are thrown as DosimetryError subclasses). */
export async function run(argv: string[]): Promise<number> {
  const a = parseArgs(argv, OPTIONS, 'cohort');
  if (a.flags.has('help')) {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  if (a.positionals.length) throw new UsageError(`cohort: unexpected argument "${a.positionals[0]}" (options start with --)`);
  const out = requireOpt(a, 'out', 'cohort');
  const reports: CohortReport[] = [];
  for (const v of optAll(a, 'report')) {
    const { id, path } = parseReportArg(v);
    reports.push(readCohortReport(path, id));
  }
  for (const dir of optAll(a, 'reports-dir')) {
    if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new FileError(`cohort: --reports-dir ${dir} is not a folder`);
    const subs = readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory() && existsSync(join(dir, e.name, 'report.json'))).map((e) => e.name).sort();
    if (!subs.length) throw new FileError(`cohort: no ${dir}/*/report.json found; each patient's dose output folder must hold a report.json`);
    for (const s of subs) reports.push(readCohortReport(join(dir, s, 'report.json'), s));
  }
  if (!reports.length) throw new UsageError('cohort: give --report [ID=]path/report.json (repeatable) or --reports-dir DIR');
  const clinicalPath = opt(a, 'clinical');
  const minDiameterMm = numberOpt(a, 'min-diameter-mm', 'cohort');
  if (minDiameterMm !== undefined && !(minDiameterMm >= 0)) throw new UsageError('cohort: --min-diameter-mm must be >= 0');
  const mapPath = opt(a, 'lesion-map');
  if (mapPath && !clinicalPath) throw new UsageError('cohort: --lesion-map maps report lesions to the lesions of --clinical; give --clinical too');
  const patientLevelColumns = parseColumnList(optAll(a, 'patient-columns'));
  const lesionLevelColumns = parseColumnList(optAll(a, 'lesion-columns'));
  if ((patientLevelColumns.length || lesionLevelColumns.length) && !clinicalPath) {
    throw new UsageError(`cohort: --${patientLevelColumns.length ? 'patient' : 'lesion'}-columns names columns of --clinical; give --clinical too`);
  }
  const c = buildCohort({
    reports,
    clinical: clinicalPath ? readResearchCsv(clinicalPath, a) : undefined,
    clinicalSource: clinicalPath,
    ...(mapPath ? { lesionMap: readResearchCsv(mapPath, a), lesionMapSource: mapPath } : {}),
    patientColumn: opt(a, 'patient-column'),
    lesionColumn: opt(a, 'lesion-column'),
    minDiameterMm,
    patientLevelColumns,
    lesionLevelColumns,
  });
  const files = { lesions: join(out, 'lesions.csv'), patients: join(out, 'patients.csv') };
  const set = claimOutputDir(out, { command: 'cohort', inputs: [clinicalPath, mapPath, ...reports.map((r) => r.source)] });
  set.commit([
    { name: 'lesions.csv', data: formatCsv(c.lesionColumns, c.lesions) },
    { name: 'patients.csv', data: formatCsv(c.patientColumns, c.patients) },
  ]);
  // warnings on stderr as "warning: ..." lines in both modes (also with --json), as dose and plan do
  if (c.warnings.length) process.stderr.write(c.warnings.map((w) => `warning: ${w}`).join('\n') + '\n');
  if (a.flags.has('json')) {
    printJson({ lesions: c.lesions.length, patients: c.patients.length, excludedLesions: c.excludedLesions, files, lesionColumns: c.lesionColumns, patientColumns: c.patientColumns, warnings: c.warnings,
      clinicalLevels: c.clinicalLevels.map(({ column, level, basis }) => ({ column, level, basis })), unmatchedLesions: c.unmatchedLesions });
    return 0;
  }
  const lines = [
    `cohort: ${c.patients.length} patients, ${c.lesions.length} lesions${minDiameterMm !== undefined ? ` (>= ${minDiameterMm} mm; ${c.excludedLesions} smaller left out)` : ''}`,
    `  ${files.lesions}`,
    `  ${files.patients}`,
  ];
  process.stdout.write(lines.join('\n') + '\n');
  return 0;
}
