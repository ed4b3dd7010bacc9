/**
 * Helpers shared by the research commands (roc, groups, logistic, cox, km, cohort): reading the table, pulling
 * numeric and categorical columns with missing rows dropped, covariate options, and writing JSON/SVG output.
 */
import { UsageError } from '../errors.ts';
import { writeFileAtomic } from '../io/atomic.ts';
import { opt, type OptionSpec, type ParsedArgs } from '../cli/args.ts';
import type { CsvTable } from './csv.ts';
import type { CovariateSpec } from './design.ts';
import { dialectNote, parseDecimalOption, parseDelimiterOption, type DialectOptions } from './dialect.ts';
import { completeRows, eventIndicators, parseLabelList, parseNumberCell, readCsvTable, requireColumns, isMissing, type EventCodes } from './table.ts';

/** Options every research command takes. */
export const COMMON_OPTIONS: Record<string, OptionSpec> = {
  csv: { type: 'string' },
  delimiter: { type: 'string' },
  decimal: { type: 'string' },
  json: { type: 'flag' },
  help: { type: 'flag' },
};

/** --delimiter and --decimal (undefined: detected from the file; see ./dialect.ts). */
export function dialectOptions(a: ParsedArgs): DialectOptions {
  const d = opt(a, 'delimiter');
  const m = opt(a, 'decimal');
  return { ...(d !== undefined ? { delimiter: parseDelimiterOption(d) } : {}), ...(m !== undefined ? { decimalMark: parseDecimalOption(m) } : {}) };
}

/**
 * Reads a CSV file in its dialect (detected, or forced by --delimiter/--decimal); a file that is not plain
 * comma-separated CSV with decimal points is said on stderr ("note: F: read as ';'-separated with decimal commas").
 */
export function readResearchCsv(path: string, a: ParsedArgs): CsvTable {
  const { table, dialect } = readCsvTable(path, dialectOptions(a));
  const note = dialectNote(dialect);
  if (note) process.stderr.write(`note: ${path}: ${note}\n`);
  return table;
}

/** How every research command reads its --csv table (printed under each command's help). */
export const CSV_HELP = `The table (--csv): comma-separated with decimal points, or ';'-separated with decimal commas (a European
spreadsheet export, R's write.csv2), detected and said on stderr; --delimiter ',' | ';' | tab and --decimal . | ,
force the reading. A file that reads both ways, or mixes 0,5 and 0.5, is refused with the option that settles it.`;

/** Prints help and returns true when --help was given; rejects positional arguments. */
export function handleHelp(a: ParsedArgs, command: string, help: string): boolean {
  if (a.flags.has('help')) {
    process.stdout.write(`${help}\n${CSV_HELP}\n`);
    return true;
  }
  if (a.positionals.length) throw new UsageError(`${command}: unexpected argument "${a.positionals[0]}" (options start with --)`);
  return false;
}

/** The --csv table with its path (required). */
export function loadCsv(a: ParsedArgs, command: string): { table: CsvTable; path: string } {
  const path = opt(a, 'csv');
  if (!path) throw new UsageError(`${command}: --csv FILE is required (a table with one row per lesion or patient)`);
  return { table: readResearchCsv(path, a), path };
}

/** Rows complete in `columns` (rows with a missing cell are dropped and counted), after checking the columns exist. */
export function usableRows(
  t: CsvTable,
  columns: readonly string[],
  source: string,
  opts: { warn?: boolean } = {},
): { rows: Array<{ row: number; cells: Readonly<Record<string, string>> }>; dropped: number } {
  requireColumns(t, columns, source);
  const r = completeRows(t, columns);
  // rows left out change every statistic: said on stderr, never only in the counts
  if (r.dropped > 0 && opts.warn !== false) {
    const first = t.rows.map((cells, k) => ({ cells, row: k + 1 })).filter((x) => columns.some((c) => isMissing(x.cells[c]))).slice(0, 5).map((x) => x.row);
    process.stderr.write(
      `warning: ${source}: ${r.dropped} of ${t.rows.length} rows skipped, a value missing (empty or NA) in ${columns.map((c) => `"${c}"`).join(', ')} (rows ${first.join(', ')}${r.dropped > 5 ? ', ...' : ''})\n`,
    );
  }
  return r;
}

/** A numeric column over the given rows (InputError naming the row for a non-numeric value). */
export function numbers(rows: ReadonlyArray<{ row: number; cells: Readonly<Record<string, string>> }>, column: string, source: string): number[] {
  return rows.map((r) => parseNumberCell(r.cells[column], column, r.row, source));
}

/** Event indicators over the given rows (codes: --event-codes/--censor-codes; see eventIndicators in ./table.ts). */
export function eventFlags(rows: ReadonlyArray<{ row: number; cells: Readonly<Record<string, string>> }>, column: string, source: string, codes: EventCodes = {}): boolean[] {
  return eventIndicators(rows.map((r) => r.cells[column]), codes, { rows: rows.map((r) => r.row), column, source });
}

/** The options that map an event column's own codes (R's survival status 1/2: --event-codes 2). */
export const EVENT_OPTIONS: Record<string, OptionSpec> = {
  'event-codes': { type: 'string' },
  'censor-codes': { type: 'string' },
};

/** --event-codes and --censor-codes as lists (each undefined when not given). */
export function eventCodes(a: ParsedArgs): EventCodes {
  const event = labelListOpt(a, 'event-codes', '2');
  const censored = labelListOpt(a, 'censor-codes', '1');
  return { ...(event ? { event } : {}), ...(censored ? { censored } : {}) };
}

/**
 * The options that say which response labels are responders and which are not (see responseClassifier in
 * table.ts); a command that reads a response column spreads them into its options.
 */
export const RESPONSE_OPTIONS: Record<string, OptionSpec> = {
  positive: { type: 'string' },
  negative: { type: 'string' },
};

/** --positive as a list (undefined when not given). */
export function positiveLabels(a: ParsedArgs): string[] | undefined {
  return labelListOpt(a, 'positive', 'CR,PR');
}

/** --negative as a list (undefined when not given). */
export function negativeLabels(a: ParsedArgs): string[] | undefined {
  return labelListOpt(a, 'negative', 'SD,PD');
}

function labelListOpt(a: ParsedArgs, name: string, example: string): string[] | undefined {
  const v = opt(a, name);
  if (v === undefined) return undefined;
  const list = parseLabelList(v);
  if (!list.length) throw new UsageError(`--${name} needs at least one label, e.g. --${name} ${example}`);
  const dup = list.find((x, i) => list.indexOf(x) !== i);
  if (dup) throw new UsageError(`--${name} lists "${dup}" twice`);
  return list;
}

/**
 * Covariates from --covariate NAME (continuous) and --categorical NAME[:REFERENCE] in command-line order.
 */
export function covariateSpecs(a: ParsedArgs): CovariateSpec[] {
  const out: CovariateSpec[] = [];
  for (const s of a.sequence) {
    if (typeof s.value !== 'string') continue;
    if (s.name === 'covariate') out.push({ name: s.value, kind: 'continuous' });
    else if (s.name === 'categorical') {
      const i = s.value.lastIndexOf(':');
      out.push(i > 0 ? { name: s.value.slice(0, i), kind: 'categorical', reference: s.value.slice(i + 1) } : { name: s.value, kind: 'categorical' });
    }
  }
  const names = out.map((c) => c.name);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) throw new UsageError(`covariate "${dup}" is given twice`);
  return out;
}

/** Writes an SVG file atomically when --svg was given; returns the path or undefined. */
export function writeSvg(a: ParsedArgs, svg: () => string): string | undefined {
  const path = opt(a, 'svg');
  if (!path) return undefined;
  writeFileAtomic(path, svg());
  return path;
}

/** JSON with non-finite numbers as null (JSON has no NaN/Infinity). */
export function printJson(obj: unknown): void {
  process.stdout.write(JSON.stringify(obj, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v)) + '\n');
}

/** Fixed-width table for text output (first column left-aligned, others right-aligned). */
export function textTable(head: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const w = head.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
  const line = (r: readonly string[]) => r.map((x, c) => (c === 0 ? x.padEnd(w[c]) : x.padStart(w[c]))).join('  ');
  return [line(head), w.map((n) => '-'.repeat(n)).join('  '), ...rows.map(line)].join('\n');
}

/** Significant-digit formatting for text output. */
export function sig(v: number, digits = 4): string {
  if (!Number.isFinite(v)) return 'n/a';
  if (v !== 0 && (Math.abs(v) >= 1e6 || Math.abs(v) < 1e-3)) return v.toExponential(digits - 1);
  return String(Number(v.toPrecision(digits)));
}
