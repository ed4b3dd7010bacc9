/**
 * CSV dialects of the tables researchers have: comma-separated with decimal points (R's write.csv, pandas), and
 * semicolon-separated with decimal commas (spreadsheets in European locales, R's write.csv2). The dialect is
 * detected from the text, or forced (--delimiter, --decimal); a file that reads consistently both ways is refused
 * with the option that settles it, never guessed. Numbers written with decimal commas are converted to decimal points
 * here, at the edge, so that every later reader sees one notation.
 */
import { FormatError, UsageError } from '../errors.ts';
import { parseCsv, parseCsvRecords, type CsvTable } from './csv.ts';

/** A field separator. */
export type CsvDelimiter = ',' | ';' | '\t';
/** The decimal mark of numbers in the file. */
export type DecimalMark = '.' | ',';

/** How a file was read. */
export interface CsvDialect {
  readonly delimiter: CsvDelimiter;
  readonly decimalMark: DecimalMark;
  /** Whether each was detected from the text (false: forced by an option, or the plain default). */
  readonly delimiterDetected: boolean;
  readonly decimalDetected: boolean;
}

/** Options forcing the dialect (undefined: detect). */
export interface DialectOptions {
  readonly delimiter?: CsvDelimiter;
  readonly decimalMark?: DecimalMark;
}

/** A number with a decimal comma: "0,13", "-1,5", ",5", "1,5e-3" (no thousands separators). */
const COMMA_NUMBER = /^[+-]?(\d+,\d*|,\d+)([eE][+-]?\d+)?$/;
/** A number with a decimal point and a fractional part or exponent: "0.13", "1.0", ".5", "1.5e-3". */
const POINT_NUMBER = /^[+-]?(\d+\.\d*|\.\d+)([eE][+-]?\d+)?$/;

/** Reads a --delimiter value: ',' (comma), ';' (semicolon) or tab. */
export function parseDelimiterOption(v: string): CsvDelimiter {
  const t = v.trim().toLowerCase();
  if (t === ',' || t === 'comma') return ',';
  if (t === ';' || t === 'semicolon') return ';';
  if (v === '\t' || t === 'tab' || t === '\\t') return '\t';
  throw new UsageError(`--delimiter "${v}": give ',' (comma), ';' (semicolon) or tab`);
}

/** Reads a --decimal value: '.' (decimal point) or ',' (decimal comma). */
export function parseDecimalOption(v: string): DecimalMark {
  const t = v.trim().toLowerCase();
  if (t === '.' || t === 'point') return '.';
  if (t === ',' || t === 'comma') return ',';
  throw new UsageError(`--decimal "${v}": give '.' (decimal point) or ',' (decimal comma)`);
}

const NAME: Record<CsvDelimiter, string> = { ',': "','", ';': "';'", '\t': 'tab' };

/**
 * Whether the text reads as a table with this delimiter: it parses, the header has at least two columns, no row has
 * more fields than the header, and some data row has exactly as many (or there are no data rows).
 */
function fits(text: string, d: CsvDelimiter): { ok: boolean; columns: number } {
  let recs: string[][];
  try {
    recs = parseCsvRecords(text, d);
  } catch {
    return { ok: false, columns: 0 };
  }
  if (recs.length === 0) return { ok: false, columns: 0 };
  const h = recs[0].length;
  const rows = recs.slice(1);
  const ok = h >= 2 && rows.every((r) => r.length <= h) && (rows.length === 0 || rows.some((r) => r.length === h));
  return { ok, columns: h };
}

/**
 * The delimiter of a CSV text: the forced one, else the one of ',' and ';' under which the text reads as a table
 * (see {@link fits}); ',' when neither does (the reader then names what is wrong). Throws FormatError when both do.
 */
export function detectDelimiter(text: string, source: string, forced?: CsvDelimiter): { delimiter: CsvDelimiter; detected: boolean } {
  if (forced) return { delimiter: forced, detected: false };
  const comma = fits(text, ',');
  const semi = fits(text, ';');
  if (comma.ok && semi.ok) {
    throw new FormatError(
      `${source} reads as a table both ${comma.columns} columns wide at ',' and ${semi.columns} columns wide at ';'; say which separates the columns with --delimiter ',' or --delimiter ';'`,
    );
  }
  if (semi.ok) return { delimiter: ';', detected: true };
  return { delimiter: ',', detected: comma.ok };
}

/** First cells (row, column, value) of a table matching a pattern, for messages. */
function cellsMatching(t: CsvTable, re: RegExp, max = 2): Array<{ row: number; column: string; value: string }> {
  const out: Array<{ row: number; column: string; value: string }> = [];
  t.rows.forEach((r, k) => {
    for (const c of t.columns) if (out.length < max && re.test(r[c])) out.push({ row: k + 1, column: c, value: r[c] });
  });
  return out;
}

const where = (cs: Array<{ row: number; column: string; value: string }>) => cs.map((c) => `row ${c.row} column "${c.column}": "${c.value}"`).join(', ');

/**
 * Parses CSV text in its dialect. The decimal mark: the forced one; else, in a ';'-separated file, ',' when numbers
 * are written with decimal commas and none with decimal points ('.' otherwise); in a ','-separated file '.'.
 * With decimal commas every number cell ("0,13") becomes "0.13"; a cell with a decimal point is then refused
 * (a point is a thousands separator in those locales, or a mix of notations). Throws FormatError when the file
 * mixes "0,13" and "0.13" style numbers (ambiguous) or is malformed.
 */
export function parseCsvDialect(text: string, source: string, opts: DialectOptions = {}): { table: CsvTable; dialect: CsvDialect } {
  const { delimiter, detected } = detectDelimiter(text, source, opts.delimiter);
  const raw = parseCsv(text, source, delimiter);
  let decimalMark: DecimalMark = opts.decimalMark ?? '.';
  let decimalDetected = false;
  if (!opts.decimalMark && delimiter !== ',') {
    const commas = cellsMatching(raw, COMMA_NUMBER);
    if (commas.length) {
      const points = cellsMatching(raw, POINT_NUMBER);
      if (points.length) {
        throw new FormatError(
          `${source} holds numbers with decimal commas (${where(commas.slice(0, 1))}) and with decimal points (${where(points.slice(0, 1))}); say which mark the file uses with --decimal , or --decimal . (and correct the cells written the other way)`,
        );
      }
      decimalMark = ',';
      decimalDetected = true;
    }
  }
  if (decimalMark === '.') return { table: raw, dialect: { delimiter, decimalMark, delimiterDetected: detected, decimalDetected } };
  const points = cellsMatching(raw, POINT_NUMBER);
  if (points.length) {
    throw new FormatError(
      `${source} is read with decimal commas, but ${where(points)} ${points.length > 1 ? 'are' : 'is'} written with a decimal point (in decimal-comma files a point separates thousands); write those numbers with a decimal comma, or read the file with --decimal .`,
    );
  }
  const rows = raw.rows.map((r) => {
    const o: Record<string, string> = {};
    for (const c of raw.columns) o[c] = COMMA_NUMBER.test(r[c]) ? r[c].replace(',', '.') : r[c];
    return o;
  });
  return { table: { columns: raw.columns, rows }, dialect: { delimiter, decimalMark, delimiterDetected: detected, decimalDetected } };
}

/**
 * The line saying how a file was read when that is not plain comma-separated CSV with decimal points, e.g.
 * "read as ';'-separated with decimal commas"; undefined for plain CSV.
 */
export function dialectNote(d: CsvDialect): string | undefined {
  if (d.delimiter === ',' && d.decimalMark === '.') return undefined;
  // what differs from plain CSV without having been detected was forced by an option
  const forced = [
    ...(d.delimiter !== ',' && !d.delimiterDetected ? [`--delimiter ${d.delimiter === '\t' ? 'tab' : `'${d.delimiter}'`}`] : []),
    ...(d.decimalMark === ',' && !d.decimalDetected ? ['--decimal ,'] : []),
  ];
  return `read as ${NAME[d.delimiter]}-separated with decimal ${d.decimalMark === ',' ? 'commas' : 'points'}${forced.length ? ` (as forced by ${forced.join(' ')})` : ''}`;
}
