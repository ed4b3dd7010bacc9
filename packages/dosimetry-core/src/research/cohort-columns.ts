/**
 * Which clinical columns of a cohort are patient-level (one value per patient: given to every lesion of the patient,
 * also to a lesion without a clinical row of its own) and which are lesion-level (a lesion takes only the value of
 * its own row; a lesion without a row leaves them empty).
 *
 * The rule, in this order (values compare after trimming, case-insensitively, numbers as numbers: "14" = "14.0"):
 *  1. `--lesion-columns c,d`: lesion-level.
 *  2. `--patient-columns a,b`: patient-level; refused when the column holds two values within one patient.
 *  3. A column that holds two different values within one patient (over all of that patient's rows: the patient
 *     row, whose lesion cell is empty, and the lesion rows) is lesion-level (response per lesion).
 *  4. A column that never varies within a patient, and at least one patient has two or more rows with a value in
 *     it, is patient-level (PFS written on every lesion row).
 *  5. A column with values only on patient rows (rows with an empty lesion cell) is patient-level: the table says so.
 *  6. Anything else (every patient has at most one value, some on lesion rows: e.g. one lesion row per patient) is
 *     lesion-level: the table gives no evidence that the value holds for a patient's other lesions.
 * Why: inheriting a column that is merely constant by chance (a patient whose only lesion row says CR) would give
 * CR to the patient's other lesions, a silent wrong answer in a per-lesion dose-response analysis.
 */
import { InputError, UsageError } from '../errors.ts';
import { isMissing, normalizeResponseLabel } from './table.ts';

/** Patient-level (inherited by every lesion of the patient) or lesion-level (never inherited). */
export type ClinicalLevel = 'patient' | 'lesion';

/**
 * Why a column has its level: `declared` (--patient-columns / --lesion-columns), `varies` (two values within a
 * patient), `constant` (one value within every patient, some patient with two or more), `patient-rows` (values only
 * on patient rows), `no-evidence` (no patient with two values, some on lesion rows).
 */
export type ClinicalLevelBasis = 'declared' | 'varies' | 'constant' | 'patient-rows' | 'no-evidence';

/** The level of one clinical column; `varies` names the first patient (and its rows) where the column varies. */
export interface ClinicalColumnLevel {
  readonly column: string;
  readonly level: ClinicalLevel;
  readonly basis: ClinicalLevelBasis;
  readonly varies?: { readonly patient: string; readonly rows: readonly number[]; readonly values: readonly string[] };
}

/** One clinical row of a patient: `rowNumber` is the 1-based data row (header excluded); `patientRow` when its lesion cell is empty. */
export interface ClinicalRowRef {
  readonly row: Readonly<Record<string, string>>;
  readonly rowNumber: number;
  readonly patientRow: boolean;
}

/** Options of {@link classifyClinicalColumns}. */
export interface ClassifyClinicalOptions {
  /** The clinical columns (without the patient and lesion columns), in table order. */
  readonly columns: readonly string[];
  /** Every row of the clinical table, by patient (patient id as written, trimmed). */
  readonly rowsOfPatient: ReadonlyMap<string, readonly ClinicalRowRef[]>;
  /** --patient-columns / --lesion-columns (column names as in the table). */
  readonly patientColumns?: readonly string[];
  readonly lesionColumns?: readonly string[];
  /** The clinical file, for messages. */
  readonly source: string;
}

/** Splits --patient-columns / --lesion-columns values ("a,b", repeatable) into column names. */
export function parseColumnList(values: readonly string[]): string[] {
  return values.flatMap((v) => v.split(',')).map((s) => s.trim()).filter((s) => s !== '');
}

/** Classifies every clinical column (see the module comment); throws for an unknown or contradictory declaration. */
export function classifyClinicalColumns(o: ClassifyClinicalOptions): ClinicalColumnLevel[] {
  const declaredPatient = new Set(o.patientColumns ?? []);
  const declaredLesion = new Set(o.lesionColumns ?? []);
  const known = o.columns.map((c) => `"${c}"`).join(', ') || '(none besides the patient and lesion columns)';
  for (const [opt, set] of [['--patient-columns', declaredPatient], ['--lesion-columns', declaredLesion]] as const) {
    for (const c of set) {
      if (!o.columns.includes(c)) throw new InputError(`cohort: ${opt} names "${c}", which is not a clinical column of ${o.source}; its clinical columns are: ${known}`);
    }
  }
  const both = [...declaredPatient].filter((c) => declaredLesion.has(c));
  if (both.length) throw new UsageError(`cohort: column "${both[0]}" is given in both --patient-columns and --lesion-columns; keep it in the one you mean`);
  return o.columns.map((column): ClinicalColumnLevel => {
    let varies: ClinicalColumnLevel['varies'];
    let evidence = false;
    let onLesionRows = false;
    for (const [patient, rows] of o.rowsOfPatient) {
      const withValue = rows.filter((r) => !isMissing(r.row[column]));
      if (withValue.some((r) => !r.patientRow)) onLesionRows = true;
      if (withValue.length >= 2) evidence = true;
      if (varies) continue;
      const first = normalizeResponseLabel(withValue[0]?.row[column] ?? '');
      const other = withValue.find((r) => normalizeResponseLabel(r.row[column]) !== first);
      if (other) varies = { patient, rows: [withValue[0].rowNumber, other.rowNumber], values: [withValue[0].row[column].trim(), other.row[column].trim()] };
    }
    if (declaredLesion.has(column)) return { column, level: 'lesion', basis: 'declared' };
    if (declaredPatient.has(column)) {
      if (varies) {
        throw new InputError(
          `cohort: --patient-columns names "${column}", but ${o.source} gives patient "${varies.patient}" two values in it (row ${varies.rows[0]}: "${varies.values[0]}", row ${varies.rows[1]}: "${varies.values[1]}"); a patient-level column holds one value per patient: correct the table, or leave "${column}" out of --patient-columns (it is then lesion-level: never given to a lesion without a row of its own)`,
        );
      }
      return { column, level: 'patient', basis: 'declared' };
    }
    if (varies) return { column, level: 'lesion', basis: 'varies', varies };
    if (evidence) return { column, level: 'patient', basis: 'constant' };
    if (!onLesionRows) return { column, level: 'patient', basis: 'patient-rows' };
    return { column, level: 'lesion', basis: 'no-evidence' };
  });
}

/**
 * A patient's own clinical values: for a patient-level column the patient row's value, else the (single) value of
 * its lesion rows; for a lesion-level column only the patient row's value (patients.csv; never given to lesions).
 */
export function patientClinicalValues(rows: readonly ClinicalRowRef[], levels: readonly ClinicalColumnLevel[]): Record<string, string> {
  const out: Record<string, string> = {};
  const pr = rows.find((r) => r.patientRow);
  for (const { column, level } of levels) {
    if (pr && !isMissing(pr.row[column])) out[column] = pr.row[column];
    else if (level === 'patient') {
      const v = rows.find((r) => !isMissing(r.row[column]));
      if (v) out[column] = v.row[column];
    }
  }
  return out;
}

/** One line saying which columns lesions without a row of their own inherit and which they leave empty, and why. */
export function describeClinicalLevels(levels: readonly ClinicalColumnLevel[], source: string): string {
  const why = (l: ClinicalColumnLevel): string => {
    switch (l.basis) {
      case 'declared': return l.level === 'patient' ? '--patient-columns' : '--lesion-columns';
      case 'constant': return 'one value within every patient';
      case 'patient-rows': return 'only on patient rows';
      case 'varies': return `varies within patient "${l.varies!.patient}", rows ${l.varies!.rows.join(' and ')}`;
      case 'no-evidence': return `no patient has two rows with a value: give --patient-columns ${l.column} if it is the same for all of a patient's lesions`;
    }
  };
  const list = (level: ClinicalLevel) => levels.filter((l) => l.level === level).map((l) => `"${l.column}" (${why(l)})`).join(', ') || 'none';
  return `${source}: lesions without a row of their own inherit the patient-level columns ${list('patient')}; they leave the lesion-level columns empty: ${list('lesion')}`;
}
