/**
 * Column access for the research commands: reading a CSV file, required columns, numeric columns with a clear error
 * naming the row and the value, missing values, response classes and event indicators.
 */
import { readFileSync } from 'node:fs';
import { FileError, FormatError, InputError } from '../errors.ts';
import { parseCsv, type CsvTable } from './csv.ts';
import { decimalProblem, parseDecimal } from '../units/decimal.ts';

/** Cells read as missing: empty, NA, N/A, NaN, null, "." (case-insensitive). */
export function isMissing(v: string | undefined): boolean {
  if (v === undefined) return true;
  const t = v.trim().toLowerCase();
  return t === '' || t === 'na' || t === 'n/a' || t === 'nan' || t === 'null' || t === '.';
}

/** Reads and parses a CSV file; FileError when unreadable, FormatError when malformed. */
export function readCsvFile(path: string): CsvTable {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw new FileError(`cannot read CSV file ${path}: ${(err as Error).message}`, { cause: err });
  }
  // a UTF-16 file (Excel's "Unicode text") read as UTF-8 gives column names that match nothing
  if (bytes.length >= 2 && ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff))) {
    throw new FormatError(`${path} is UTF-16 text; save it as CSV in UTF-8 (e.g. "CSV UTF-8" in a spreadsheet)`);
  }
  return parseCsv(bytes.toString('utf8'), path);
}

/** Throws an InputError listing the available columns when any of `names` is not in the table. */
export function requireColumns(t: CsvTable, names: readonly string[], source: string): void {
  for (const n of names) {
    if (!t.columns.includes(n)) {
      throw new InputError(`${source} has no column "${n}"; its columns are: ${t.columns.map((c) => `"${c}"`).join(', ')}`);
    }
  }
}

/**
 * Parses a numeric cell: a finite plain decimal number (no decimal comma, no hexadecimal, no Infinity). Throws an InputError naming the
 * column, the data row (1-based, header excluded) and the value.
 */
export function parseNumberCell(v: string, column: string, row: number, source: string): number {
  const n = parseDecimal(v);
  if (n === undefined) {
    throw new InputError(`${source}: column "${column}" row ${row} holds "${v}", which is not a number (${decimalProblem(v)}); use a plain decimal number with a decimal point and leave missing values empty or NA`);
  }
  return n;
}

/** Parses a comma-separated list option ("CR,PR") into trimmed, upper-cased non-empty labels. */
export function parseLabelList(v: string): string[] {
  return v.split(',').map((s) => s.trim().toUpperCase()).filter((s) => s !== '');
}

/** Standard RECIST 1.1 / mRECIST response categories: responders (objective response) and non-responders. */
export const RECIST_RESPONDERS: readonly string[] = ['CR', 'PR'];
export const RECIST_NON_RESPONDERS: readonly string[] = ['SD', 'PD'];
const BINARY_TRUE = ['1', 'TRUE', 'YES'];
const BINARY_FALSE = ['0', 'FALSE', 'NO'];

/** A response cell as compared: trimmed and upper-cased (whole label; inner spaces are kept, so "P R" is not "PR"). */
export function normalizeResponseLabel(v: string): string {
  return v.trim().toUpperCase();
}

/** Options of {@link responseClassifier}. */
export interface ResponseClassifierOptions {
  /** Non-responder labels (--negative); default: see {@link responseClassifier}. */
  readonly negative?: readonly string[];
  /** Data-row number (1-based, header excluded) of each value, for the error message. */
  readonly rows?: readonly number[];
  /** Column name and file, for the error message. */
  readonly column?: string;
  readonly source?: string;
}

/** Result of {@link responseClassifier}. */
export interface ResponseClasses {
  readonly isPositive: (v: string) => boolean;
  /** Labels counted as responders (positive). */
  readonly labels: string[];
  /** Labels counted as non-responders. */
  readonly negativeLabels: string[];
}

/**
 * Which response cells are responders (positive) and which non-responders; every other value is refused, never
 * counted silently on either side. Cells compare after trimming, case-insensitively, as whole labels (safe for the
 * RECIST/mRECIST abbreviations CR, PR, SD, PD: no two standard labels differ only by case; "P R" or "C.R." match
 * nothing).
 * - No lists given and the column holds only 1/0, true/false or yes/no: 1/true/yes are responders, 0/false/no not.
 * - Otherwise responders are `positive` (default CR, PR) and non-responders `opts.negative`, by default the other
 *   values of the same vocabulary: SD and PD plus any of CR, PR left out of `positive` (so `--positive CR` compares
 *   CR against PR, SD, PD), or on a 0/1 column the other binary values.
 * Throws InputError listing each unrecognised value with its count and first rows, and how to map it.
 */
export function responseClassifier(values: readonly string[], positive: readonly string[] | undefined, opts: ResponseClassifierOptions = {}): ResponseClasses {
  const upper = values.map(normalizeResponseLabel);
  const binaryVocab = [...BINARY_TRUE, ...BINARY_FALSE];
  const binary = upper.length > 0 && upper.every((v) => binaryVocab.includes(v));
  let pos: string[], neg: string[];
  if (!positive && !opts.negative && binary) {
    pos = [...BINARY_TRUE];
    neg = [...BINARY_FALSE];
  } else {
    pos = (positive ?? RECIST_RESPONDERS).map(normalizeResponseLabel);
    const vocab = binary ? binaryVocab : [...RECIST_RESPONDERS, ...RECIST_NON_RESPONDERS];
    neg = opts.negative ? opts.negative.map(normalizeResponseLabel) : vocab.filter((v) => !pos.includes(v));
  }
  const both = pos.filter((v) => neg.includes(v));
  if (both.length) throw new InputError(`response label${both.length > 1 ? 's' : ''} ${both.map((v) => `"${v}"`).join(', ')} given as both responder (--positive) and non-responder (--negative): list each label once`);
  const posSet = new Set(pos), negSet = new Set(neg);
  const unknown = new Map<string, { count: number; rows: number[] }>();
  upper.forEach((v, i) => {
    if (posSet.has(v) || negSet.has(v)) return;
    const key = values[i].trim();
    const u = unknown.get(key) ?? { count: 0, rows: [] };
    u.count++;
    if (u.rows.length < 3 && opts.rows) u.rows.push(opts.rows[i]);
    unknown.set(key, u);
  });
  if (unknown.size) {
    const list = [...unknown].map(([v, u]) => `"${v}" (${u.count} row${u.count > 1 ? 's' : ''}${u.rows.length ? `, row ${u.rows.join(', ')}${u.count > u.rows.length ? ', ...' : ''}` : ''})`).join(', ');
    const where = `${opts.source ? `${opts.source}: ` : ''}${opts.column ? `column "${opts.column}"` : 'the response column'}`;
    throw new InputError(
      `${where} holds ${unknown.size} unrecognised response value${unknown.size > 1 ? 's' : ''}: ${list}; responders are ${pos.join(', ')}, non-responders ${neg.join(', ') || '(none)'}. ` +
        `Say which each is with --positive and --negative (comma-separated, matched whole and case-insensitively, e.g. --positive CR,PR --negative SD,PD), correct the typos, or leave those cells empty (NA) to skip the rows`,
    );
  }
  return { isPositive: (v) => posSet.has(normalizeResponseLabel(v)), labels: pos, negativeLabels: neg };
}

/** Parses an event indicator cell: 1/0, true/false, yes/no, event/censored. */
export function parseEventCell(v: string, column: string, row: number, source: string): boolean {
  const t = v.trim().toLowerCase();
  if (['1', 'true', 'yes', 'event', 'dead', 'progressed'].includes(t)) return true;
  if (['0', 'false', 'no', 'censored'].includes(t)) return false;
  throw new InputError(`${source}: column "${column}" row ${row} holds "${v}"; an event indicator must be 1 (event) or 0 (censored)`);
}

/**
 * Rows that have every one of `columns` non-missing, with their 1-based data-row numbers, and how many were
 * dropped for a missing value.
 */
export function completeRows(t: CsvTable, columns: readonly string[]): { rows: Array<{ row: number; cells: Readonly<Record<string, string>> }>; dropped: number } {
  const rows: Array<{ row: number; cells: Readonly<Record<string, string>> }> = [];
  let dropped = 0;
  t.rows.forEach((cells, k) => {
    if (columns.some((c) => isMissing(cells[c]))) dropped++;
    else rows.push({ row: k + 1, cells });
  });
  return { rows, dropped };
}

/** "64.7 % (55/85)": a proportion with one decimal and its counts. */
export function formatProportion(num: number, den: number): string {
  if (den === 0) return `n/a (${num}/${den})`;
  return `${((100 * num) / den).toFixed(1)} % (${num}/${den})`;
}

/** A p-value for text output: 4 significant digits, "< 1e-16" below double precision. */
export function formatP(p: number): string {
  if (!Number.isFinite(p)) return 'n/a';
  if (p < 1e-16) return '< 1e-16';
  if (p < 1e-4) return p.toExponential(2);
  return p.toFixed(4);
}
