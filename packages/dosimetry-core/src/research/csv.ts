/**
 * A small RFC 4180 CSV reader and writer for the research commands: quoted fields (with "" for a quote and line
 * breaks inside quotes), CRLF or LF line ends, an optional UTF-8 byte-order mark, and a header row.
 * Values stay strings; numeric parsing (with a clear error naming row and column) lives in ./table.ts.
 */
import { FormatError } from '../errors.ts';

/** A parsed CSV file: the header names and one string record per data row (keys = header names). */
export interface CsvTable {
  readonly columns: readonly string[];
  readonly rows: ReadonlyArray<Readonly<Record<string, string>>>;
}

/**
 * Splits CSV text into records of fields (RFC 4180). Empty lines are skipped. Throws FormatError on an unterminated
 * quoted field or a quote in the middle of an unquoted field, naming the line. `delimiter` separates fields: ','
 * (default), ';' (European spreadsheet exports) or a tab.
 */
export function parseCsvRecords(text: string, delimiter: ',' | ';' | '\t' = ','): string[][] {
  const s = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const records: string[][] = [];
  let field = '';
  let record: string[] = [];
  let line = 1;
  let i = 0;
  let quoted = false; // the current field started with a quote
  let fieldStarted = false;
  const endField = () => {
    record.push(field);
    field = '';
    quoted = false;
    fieldStarted = false;
  };
  const endRecord = () => {
    endField();
    if (!(record.length === 1 && record[0] === '')) records.push(record);
    record = [];
  };
  while (i < s.length) {
    const c = s[i];
    if (quoted) {
      if (c === '"') {
        if (s[i + 1] === '"') {
          field += '"';
          i += 2;
          continue;
        }
        // closing quote: only a delimiter or a line end may follow
        const n = s[i + 1];
        if (n !== undefined && n !== delimiter && n !== '\n' && n !== '\r') {
          throw new FormatError(`CSV line ${line}: unexpected character after a closing quote; write a quote inside a quoted field as ""`);
        }
        quoted = false;
        fieldStarted = true; // closed: a further quote in this field is an error
        i++;
        continue;
      }
      if (c === '\n') line++;
      field += c;
      i++;
      continue;
    }
    if (c === delimiter) {
      endField();
      i++;
    } else if (c === '\r' || c === '\n') {
      endRecord();
      i += c === '\r' && s[i + 1] === '\n' ? 2 : 1;
      line++;
    } else if (c === '"' && !fieldStarted) {
      quoted = true;
      i++;
    } else if (c === '"') {
      throw new FormatError(`CSV line ${line}: a quote inside an unquoted field; quote the whole field ("...") and double inner quotes`);
    } else {
      field += c;
      fieldStarted = true;
      i++;
    }
  }
  if (quoted) throw new FormatError(`CSV line ${line}: a quoted field is not closed before the end of the file`);
  if (field !== '' || record.length > 0) endRecord();
  return records;
}

/**
 * Parses CSV text with a header row. Header names are trimmed; duplicate or empty names, and rows with more fields
 * than the header, are FormatErrors (a row with fewer fields is padded with empty strings: spreadsheets drop
 * trailing empty cells). `source` names the file in messages; `delimiter` as in {@link parseCsvRecords}.
 */
export function parseCsv(text: string, source = 'CSV', delimiter: ',' | ';' | '\t' = ','): CsvTable {
  let recs: string[][];
  try {
    recs = parseCsvRecords(text, delimiter);
  } catch (err) {
    // name the file: "CSV line 3: ..." alone does not say which of several inputs is malformed
    if (err instanceof FormatError) throw new FormatError(`${source}: ${err.message}`, { cause: err });
    throw err;
  }
  if (recs.length === 0) throw new FormatError(`${source} is empty; it needs a header row and at least one data row`);
  const columns = recs[0].map((h) => h.trim());
  const seen = new Set<string>();
  columns.forEach((c, k) => {
    if (c === '') throw new FormatError(`${source}: header column ${k + 1} has no name; name every column in the first row`);
    if (seen.has(c)) throw new FormatError(`${source}: column "${c}" appears twice in the header; rename one`);
    seen.add(c);
  });
  const rows = recs.slice(1).map((r, n) => {
    if (r.length > columns.length) {
      throw new FormatError(`${source}: data row ${n + 1} has ${r.length} fields but the header has ${columns.length}; quote fields that contain commas`);
    }
    const o: Record<string, string> = {};
    columns.forEach((c, k) => (o[c] = (r[k] ?? '').trim()));
    return o;
  });
  return { columns, rows };
}

/** Quotes a CSV field when it holds a comma, quote or line break (RFC 4180). Numbers are written in full precision. */
export function csvField(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : '';
  const s = String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** Writes rows as CSV text (LF line ends) with the given column order. */
export function formatCsv(columns: readonly string[], rows: ReadonlyArray<Readonly<Record<string, unknown>>>): string {
  const out = [columns.map(csvField).join(',')];
  for (const r of rows) out.push(columns.map((c) => csvField(r[c])).join(','));
  return out.join('\n') + '\n';
}
