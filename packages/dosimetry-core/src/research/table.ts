/**
 * Column access for the research commands: reading a CSV file, required columns, numeric columns with a clear error
 * naming the row and the value, missing values, response classes and event indicators.
 */
import { readFileSync } from 'node:fs';
import { FileError, FormatError, InputError } from '../errors.ts';
import type { CsvTable } from './csv.ts';
import { parseCsvDialect, type CsvDialect, type DialectOptions } from './dialect.ts';
import { decimalProblem, parseDecimal } from '../units/decimal.ts';

/** Cells read as missing: empty, NA, N/A, NaN, null, "." (case-insensitive). */
export function isMissing(v: string | undefined): boolean {
  if (v === undefined) return true;
  const t = v.trim().toLowerCase();
  return t === '' || t === 'na' || t === 'n/a' || t === 'nan' || t === 'null' || t === '.';
}

/** Reads and parses a CSV file; FileError when unreadable, FormatError when malformed. Dialect: see {@link readCsvTable}. */
export function readCsvFile(path: string, opts: DialectOptions = {}): CsvTable {
  return readCsvTable(path, opts).table;
}

/**
 * Reads and parses a CSV file in its dialect (',' or ';' separated, decimal points or commas: detected, or forced by
 * `opts`; see ./dialect.ts) and says which dialect it read. FileError when unreadable, FormatError when malformed
 * or ambiguous.
 */
export function readCsvTable(path: string, opts: DialectOptions = {}): { table: CsvTable; dialect: CsvDialect } {
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
  return parseCsvDialect(bytes.toString('utf8'), path, opts);
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
    const comma = /^[+-]?\d+,\d+$/.test(v.trim()) ? ' (or read a file written with decimal commas with --decimal ,)' : '';
    throw new InputError(`${source}: column "${column}" row ${row} holds "${v}", which is not a number (${decimalProblem(v)}); use a plain decimal number with a decimal point${comma} and leave missing values empty or NA`);
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

/**
 * A response or event cell as compared: trimmed and upper-cased (whole label; inner spaces are kept, so "P R" is not
 * "PR"); a number in its shortest form, so that "1.0" and "1" (pandas writes a 0/1 column that has missing values
 * as 1.0/0.0) are the same code.
 */
export function normalizeResponseLabel(v: string): string {
  const t = v.trim().toUpperCase();
  const n = parseDecimal(t);
  return n === undefined ? t : String(n);
}

/** Whether the distinct codes are R's survival coding 1/2 (or a 1 = yes, 2 = no export): only 1 and 2, and a 2. */
function isOneTwoCoding(codes: ReadonlySet<string>): boolean {
  return codes.has('2') && [...codes].every((c) => c === '1' || c === '2');
}

/** "a", "b" and "c" for messages. */
function quotedList(v: readonly string[]): string {
  const q = v.map((x) => `"${x}"`);
  return q.length > 1 ? `${q.slice(0, -1).join(', ')} and ${q[q.length - 1]}` : q.join('');
}

/** Distinct values with their counts and first rows, for messages: "P R" (2 rows, row 2, 6). */
function listValues(values: readonly string[], keep: (i: number) => boolean, rows?: readonly number[]): { n: number; text: string } {
  const found = new Map<string, { count: number; rows: number[] }>();
  values.forEach((v, i) => {
    if (!keep(i)) return;
    const key = v.trim();
    const u = found.get(key) ?? { count: 0, rows: [] };
    u.count++;
    if (u.rows.length < 3 && rows) u.rows.push(rows[i]);
    found.set(key, u);
  });
  const text = [...found].map(([v, u]) => `"${v}" (${u.count} row${u.count > 1 ? 's' : ''}${u.rows.length ? `, row ${u.rows.join(', ')}${u.count > u.rows.length ? ', ...' : ''}` : ''})`).join(', ');
  return { n: found.size, text };
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
 * - No lists given and the column holds only 1/0, true/false or yes/no (numbers compare as numbers: 1.0 is 1):
 *   1/true/yes are responders, 0/false/no not.
 * - No lists given and the column holds the codes 1 and 2: refused (R's survival coding has 2 = event, other exports
 *   2 = no); `--positive 2` (or 1) says which.
 * - Otherwise responders are `positive` (default CR, PR) and non-responders `opts.negative`, by default the other
 *   values of the same vocabulary: SD and PD plus any of CR, PR left out of `positive` (so `--positive CR` compares
 *   CR against PR, SD, PD), on a 0/1 column the other binary values, and on a column of numeric codes with numeric
 *   `positive` codes the one other code present (several others need `negative`).
 * Throws InputError listing each unrecognised value with its count and first rows, and how to map it.
 */
export function responseClassifier(values: readonly string[], positive: readonly string[] | undefined, opts: ResponseClassifierOptions = {}): ResponseClasses {
  const upper = values.map(normalizeResponseLabel);
  const binaryVocab = [...BINARY_TRUE, ...BINARY_FALSE];
  const binary = upper.length > 0 && upper.every((v) => binaryVocab.includes(v));
  const codes = new Set(upper);
  const numericCodes = upper.length > 0 && upper.every((v) => parseDecimal(v) !== undefined);
  const whereCol = `${opts.source ? `${opts.source}: ` : ''}${opts.column ? `column "${opts.column}"` : 'the response column'}`;
  let pos: string[], neg: string[];
  if (!positive && !opts.negative && binary) {
    pos = [...BINARY_TRUE];
    neg = [...BINARY_FALSE];
  } else if (!positive && !opts.negative && isOneTwoCoding(codes)) {
    throw new InputError(
      `${whereCol} holds the codes 1 and 2, not 0/1: R's survival data code 1 = censored/no and 2 = event/yes, other exports 1 = yes and 2 = no, so the responders are not guessed; say which with --positive 2 (2 = responder, 1 = non-responder) or --positive 1`,
    );
  } else {
    pos = (positive ?? RECIST_RESPONDERS).map(normalizeResponseLabel);
    if (!opts.negative && !binary && numericCodes && pos.every((v) => parseDecimal(v) !== undefined)) {
      // numeric codes (1/2, 0/1/2 ...): the other code present is the non-responder; several are not lumped silently
      const others = [...codes].filter((v) => !pos.includes(v)).sort((a, b) => Number(a) - Number(b));
      if (others.length > 1) {
        throw new InputError(
          `${whereCol} holds the codes ${quotedList([...codes].sort((a, b) => Number(a) - Number(b)))}; --positive ${pos.join(',')} leaves ${quotedList(others)}: say which are non-responders with --negative (e.g. --negative ${others.join(',')}), or leave the other cells empty (NA) to skip those rows`,
        );
      }
      neg = others;
    } else {
      const vocab = binary ? binaryVocab : [...RECIST_RESPONDERS, ...RECIST_NON_RESPONDERS];
      neg = opts.negative ? opts.negative.map(normalizeResponseLabel) : vocab.filter((v) => !pos.includes(v));
    }
  }
  const both = pos.filter((v) => neg.includes(v));
  if (both.length) throw new InputError(`response label${both.length > 1 ? 's' : ''} ${both.map((v) => `"${v}"`).join(', ')} given as both responder (--positive) and non-responder (--negative): list each label once`);
  const posSet = new Set(pos), negSet = new Set(neg);
  const unknown = listValues(values, (i) => !posSet.has(upper[i]) && !negSet.has(upper[i]), opts.rows);
  if (unknown.n) {
    throw new InputError(
      `${whereCol} holds ${unknown.n} unrecognised response value${unknown.n > 1 ? 's' : ''}: ${unknown.text}; responders are ${pos.join(', ')}, non-responders ${neg.join(', ') || '(none)'}. ` +
        `Say which each is with --positive and --negative (comma-separated, matched whole and case-insensitively, e.g. --positive CR,PR --negative SD,PD), correct the typos, or leave those cells empty (NA) to skip the rows`,
    );
  }
  return { isPositive: (v) => posSet.has(normalizeResponseLabel(v)), labels: pos, negativeLabels: neg };
}

/** Event codes given by the user (--event-codes, --censor-codes); labels compare as in {@link normalizeResponseLabel}. */
export interface EventCodes {
  /** Values that mark an event (e.g. ["2"] for R's survival status). */
  readonly event?: readonly string[];
  /** Values that mark censoring; default: the one other value present. */
  readonly censored?: readonly string[];
}

const EVENT_TRUE = ['1', 'TRUE', 'YES', 'EVENT', 'DEAD', 'PROGRESSED'];
const EVENT_FALSE = ['0', 'FALSE', 'NO', 'CENSORED'];

/**
 * Event indicators of a column (true = event, false = censored).
 * - Without codes: 1/0 (also 1.0/0.0), true/false, yes/no, event/dead/progressed vs censored. A column of 1 and 2
 *   (R's survival status: 1 = censored, 2 = dead) is refused until --event-codes says which is the event; any other
 *   value is refused naming its row.
 * - With `codes.event`: those values are events; censored are `codes.censored`, by default the one other value
 *   present (several other values must be listed); anything else is refused with its rows.
 * `rows` (1-based data-row numbers), `column` and `source` name the cells in messages.
 */
export function eventIndicators(values: readonly string[], codes: EventCodes, opts: { rows?: readonly number[]; column: string; source: string }): boolean[] {
  const upper = values.map(normalizeResponseLabel);
  const col = `${opts.source}: column "${opts.column}"`;
  if (!codes.event) {
    if (codes.censored) throw new InputError(`--censor-codes needs --event-codes (the values that mark an event, e.g. --event-codes 2 --censor-codes 1)`);
    if (isOneTwoCoding(new Set(upper))) {
      throw new InputError(`${col} holds 1 and 2, not 0/1 (R's survival coding: 1 = censored, 2 = event); say so with --event-codes 2 (or give your own coding: --event-codes E --censor-codes C)`);
    }
    return upper.map((v, i) => {
      if (EVENT_TRUE.includes(v)) return true;
      if (EVENT_FALSE.includes(v)) return false;
      throw new InputError(`${col} row ${opts.rows?.[i] ?? i + 1} holds "${values[i]}"; an event indicator must be 1 (event) or 0 (censored) (map other codes with --event-codes E [--censor-codes C])`);
    });
  }
  const ev = new Set(codes.event.map(normalizeResponseLabel));
  let cens: Set<string>;
  if (codes.censored) cens = new Set(codes.censored.map(normalizeResponseLabel));
  else {
    const others = [...new Set(upper)].filter((v) => !ev.has(v));
    if (others.length > 1) {
      throw new InputError(`${col} holds ${quotedList([...new Set(values.map((v) => v.trim()))])}; --event-codes ${[...ev].join(',')} leaves ${quotedList(others)}: say which mean censored with --censor-codes (e.g. --censor-codes ${others.join(',')})`);
    }
    cens = new Set(others);
  }
  const both = [...ev].filter((v) => cens.has(v));
  if (both.length) throw new InputError(`${quotedList(both)} given both as event (--event-codes) and as censored (--censor-codes): list each code once`);
  const unknown = listValues(values, (i) => !ev.has(upper[i]) && !cens.has(upper[i]), opts.rows);
  if (unknown.n) {
    throw new InputError(`${col} holds ${unknown.n} value${unknown.n > 1 ? 's' : ''} that --event-codes ${[...ev].join(',')} and --censor-codes ${[...cens].join(',') || '(none)'} do not name: ${unknown.text}; add them to one list, or leave those cells empty (NA) to skip the rows`);
  }
  return upper.map((v) => ev.has(v));
}

/** Parses one event indicator cell: 1/0 (also 1.0/0.0), true/false, yes/no, event/censored (see {@link eventIndicators}). */
export function parseEventCell(v: string, column: string, row: number, source: string): boolean {
  return eventIndicators([v], {}, { rows: [row], column, source })[0];
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
