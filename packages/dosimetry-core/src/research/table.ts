/**
 * Column access for the research commands: reading a CSV file, required columns, numeric columns with a clear error
 * naming the row and the value, missing values, response classes and event indicators.
 */
import { readFileSync } from 'node:fs';
import { FileError, InputError } from '../errors.ts';
import { parseCsv, type CsvTable } from './csv.ts';

/** Cells read as missing: empty, NA, N/A, NaN, null, "." (case-insensitive). */
export function isMissing(v: string | undefined): boolean {
  if (v === undefined) return true;
  const t = v.trim().toLowerCase();
  return t === '' || t === 'na' || t === 'n/a' || t === 'nan' || t === 'null' || t === '.';
}

/** Reads and parses a CSV file; FileError when unreadable, FormatError when malformed. */
export function readCsvFile(path: string): CsvTable {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new FileError(`cannot read CSV file ${path}: ${(err as Error).message}`, { cause: err });
  }
  return parseCsv(text, path);
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
 * Parses a numeric cell: a finite decimal number (a decimal comma is not accepted). Throws an InputError naming the
 * column, the data row (1-based, header excluded) and the value.
 */
export function parseNumberCell(v: string, column: string, row: number, source: string): number {
  const t = v.trim();
  const n = Number(t);
  if (t === '' || !Number.isFinite(n)) {
    throw new InputError(`${source}: column "${column}" row ${row} holds "${v}", which is not a number; use a decimal point and leave missing values empty or NA`);
  }
  return n;
}

/** Parses a comma-separated list option ("CR,PR") into trimmed, upper-cased non-empty labels. */
export function parseLabelList(v: string): string[] {
  return v.split(',').map((s) => s.trim().toUpperCase()).filter((s) => s !== '');
}

/**
 * Which response cells count as positive (responders). Labels compare case-insensitively. When the column holds
 * only 0/1 (or true/false, yes/no) and no explicit positive list was given, 1/true/yes is positive; otherwise the
 * default is CR and PR. Returns the test and the labels it uses (for reports).
 */
export function responseClassifier(values: readonly string[], positive: readonly string[] | undefined): { isPositive: (v: string) => boolean; labels: string[] } {
  const upper = values.map((v) => v.trim().toUpperCase());
  const binary = upper.every((v) => ['0', '1', 'TRUE', 'FALSE', 'YES', 'NO'].includes(v));
  if (!positive && binary) return { isPositive: (v) => ['1', 'TRUE', 'YES'].includes(v.trim().toUpperCase()), labels: ['1', 'TRUE', 'YES'] };
  const pos = new Set(positive ?? ['CR', 'PR']);
  return { isPositive: (v) => pos.has(v.trim().toUpperCase()), labels: [...pos] };
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
