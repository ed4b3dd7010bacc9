/**
 * Shared label tables (`--labels @FILE`): the names (and colours) of a label map's values, read from a file written by
 * another tool. Three formats, told apart by content, not by file name:
 *
 * - **ITK-SNAP label description** (Segmentation > Export Label Descriptions): `#` comment lines, then one label per
 *   line `IDX R G B A VIS MSH "LABEL"` (R, G, B 0..255, A 0..1, VIS and MSH 0 or 1, the label in double quotes).
 * - **3D Slicer color table** (.ctbl, .txt, e.g. GenericAnatomyColors): `#` comment lines, then `IDX NAME R G B A`
 *   (R, G, B, A 0..255). Slicer writes a name's spaces as underscores; they are kept as written. A name may also hold
 *   spaces (everything between the index and the four colour values).
 * - **JSON**: `{ "labels": [ { "value": 1, "name": "Liver", "color": [r, g, b] } ] }` (`color` optional, 0..255
 *   each), or the short form `{ "1": "Liver", "2": "Tumor A" }`.
 *
 * Label 0 (and an entry named "Clear Label", ITK-SNAP's background) is the background and is ignored; names are
 * trimmed; a duplicate value or name is refused with the line of both entries. Pure text parsing: runs in Node and in
 * the browser (the viewer takes a dropped table file); reading the file is `readLabelTableFile` in label-table-file.ts.
 */
import { FormatError } from '../errors.ts';

/** One label of a table: its integer value in the label map, its structure name and display colour when given. */
export interface LabelTableEntry {
  /** Label value in the label map (positive integer). */
  readonly value: number;
  /** Structure name (trimmed). */
  readonly name: string;
  /** Display colour, RGB 0..1 (the file's 0..255 divided by 255), when the file gives one. */
  readonly colorRgb?: readonly [number, number, number];
  /** 1-based line of the file that defines it (for messages). */
  readonly line: number;
}

/** Format of a label table file. */
export type LabelTableFormat = 'itk-snap' | 'slicer' | 'json';

/** A label table read from a file: where it came from, its format and its labels (background left out). */
export interface LabelTable {
  /** The file (or name) it was read from, named in messages. */
  readonly source: string;
  readonly format: LabelTableFormat;
  /** Labels in file order, value 0 and "Clear Label" left out. */
  readonly entries: readonly LabelTableEntry[];
}

/** A name ITK-SNAP gives to its background label (value 0). */
const CLEAR_LABEL = 'clear label';

// ITK-SNAP: IDX R G B A VIS MSH "LABEL" (A may be written 0, 1 or 0.5; the label may be empty "")
const ITK_SNAP_LINE = /^\s*([+-]?\d+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+"(.*)"\s*$/;
// Slicer: IDX NAME R G B A (NAME: everything between the index and the four colour values)
const SLICER_LINE = /^\s*([+-]?\d+)\s+(.*\S)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s*$/;

/**
 * Parses the text of a label table file (ITK-SNAP label description, 3D Slicer color table or JSON, detected from the
 * content). Throws FormatError naming `source` and the line for anything malformed: a line of neither format, a
 * non-integer or negative value, a colour outside 0..255, an empty name, a duplicate value or name, no label at all.
 */
export function parseLabelTableText(text: string, source: string): LabelTable {
  const body = text.replace(/^\uFEFF/, '');
  if (body.includes('\u0000')) {
    throw new FormatError(`label table ${source} is a binary file, not a label table; give an ITK-SNAP label description, a 3D Slicer color table (.ctbl/.txt) or a JSON file`);
  }
  if (/^\s*[{[]/.test(body)) return parseJsonTable(body, source);
  return parseLineTable(body, source);
}

/** ITK-SNAP or Slicer: the first data line decides, every other data line must be of the same format. */
function parseLineTable(text: string, source: string): LabelTable {
  const lines = text.split(/\r\n|\r|\n/);
  let format: 'itk-snap' | 'slicer' | undefined;
  const add = entryCollector(source);
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n];
    const lineNo = n + 1;
    if (/^\s*(#|$)/.test(line)) continue;
    format ??= ITK_SNAP_LINE.test(line) ? 'itk-snap' : SLICER_LINE.test(line) ? 'slicer' : undefined;
    if (format === undefined) {
      throw new FormatError(
        `label table ${source} line ${lineNo}: "${clip(line)}" is not a label line; an ITK-SNAP label description has lines IDX R G B A VIS MSH "LABEL", a 3D Slicer color table IDX NAME R G B A, and JSON starts with {`,
      );
    }
    if (format === 'itk-snap') {
      const m = ITK_SNAP_LINE.exec(line);
      if (!m) throw new FormatError(`label table ${source} line ${lineNo}: "${clip(line)}" is not an ITK-SNAP label line IDX R G B A VIS MSH "LABEL" (the file's earlier lines are ITK-SNAP's)`);
      const value = labelValue(m[1], source, lineNo);
      const rgb = [m[2], m[3], m[4]].map((c) => colourComponent(c, source, lineNo));
      const alpha = Number(m[5]);
      if (!(alpha >= 0 && alpha <= 1)) throw new FormatError(`label table ${source} line ${lineNo}: transparency ${m[5]} must be a number 0..1 (ITK-SNAP's A column)`);
      for (const [k, f] of [[6, 'VIS'], [7, 'MSH']] as const) {
        if (m[k] !== '0' && m[k] !== '1') throw new FormatError(`label table ${source} line ${lineNo}: ${f} is ${m[k]}; it must be 0 or 1 (ITK-SNAP's ${f} column)`);
      }
      add(value, unescapeItkSnap(m[8]), rgb, lineNo);
    } else {
      const m = SLICER_LINE.exec(line);
      if (!m) throw new FormatError(`label table ${source} line ${lineNo}: "${clip(line)}" is not a 3D Slicer color table line IDX NAME R G B A (the file's earlier lines are Slicer's)`);
      const value = labelValue(m[1], source, lineNo);
      const rgb = [m[3], m[4], m[5]].map((c) => colourComponent(c, source, lineNo));
      colourComponent(m[6], source, lineNo); // alpha 0..255, checked, not kept
      add(value, m[2], rgb, lineNo);
    }
  }
  if (format === undefined) throw new FormatError(`label table ${source} holds no label line (only comments or nothing); give a table with at least one label`);
  return { source, format, entries: add.done() };
}

/** JSON: `{ "labels": [ { value, name, color? } ] }` or `{ "1": "Liver" }`. */
function parseJsonTable(text: string, source: string): LabelTable {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    const message = String((err as Error).message);
    const at = /line (\d+) column/.exec(message) ?? /position (\d+)/.exec(message);
    const where = at ? ` line ${at[0].startsWith('line') ? Number(at[1]) : lineOf(text, Number(at[1]))}` : '';
    throw new FormatError(`label table ${source}${where}: not valid JSON (${clip(message.replace(/\s+/g, ' '), 100)}); write { "labels": [ { "value": 1, "name": "Liver" } ] } or { "1": "Liver" }`, { cause: err });
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    throw new FormatError(`label table ${source}: a JSON label table is an object, { "labels": [ { "value": 1, "name": "Liver" } ] } or { "1": "Liver" }`);
  }
  const add = entryCollector(source);
  const obj = doc as Record<string, unknown>;
  if ('labels' in obj) {
    const list = obj.labels;
    if (!Array.isArray(list)) throw new FormatError(`label table ${source} line ${lineOf(text, text.indexOf('"labels"'))}: "labels" must be an array of { "value": 1, "name": "Liver" } objects`);
    // the line of each entry: its n-th "value" key (entries are objects with one "value" each)
    const valueLines = keyLines(text, 'value');
    list.forEach((e, i) => {
      const lineNo = valueLines[i] ?? lineOf(text, text.indexOf('"labels"'));
      const what = `label table ${source} line ${lineNo} (entry ${i + 1} of "labels")`;
      if (e === null || typeof e !== 'object' || Array.isArray(e)) throw new FormatError(`${what}: each entry is an object { "value": 1, "name": "Liver", "color": [r, g, b] }`);
      const { value, name, color } = e as Record<string, unknown>;
      if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw new FormatError(`${what}: "value" must be a non-negative integer label value, not ${JSON.stringify(value)}`);
      if (typeof name !== 'string') throw new FormatError(`${what}: "name" must be a string, not ${JSON.stringify(name)}`);
      let rgb: number[] | undefined;
      if (color !== undefined) {
        if (!Array.isArray(color) || color.length !== 3) throw new FormatError(`${what}: "color" must be [r, g, b] with components 0..255, not ${JSON.stringify(color)}`);
        rgb = color.map((c) => colourComponent(typeof c === 'number' ? String(c) : JSON.stringify(c), source, lineNo));
      }
      add(value, name, rgb, lineNo);
    });
    const other = Object.keys(obj).filter((k) => k !== 'labels');
    if (other.length) throw new FormatError(`label table ${source}: unknown key "${other[0]}" beside "labels"; a JSON label table holds only "labels"`);
  } else {
    // short form: keys are label values; JSON.parse keeps only the last of two equal keys, so they are found in the text
    const seen = new Map<string, number>();
    for (const { key, line } of objectKeys(text)) {
      const first = seen.get(key);
      if (first !== undefined) throw new FormatError(`label table ${source} line ${line}: label value ${key} is given again (first on line ${first}); each value names one structure`);
      seen.set(key, line);
    }
    for (const [key, name] of Object.entries(obj)) {
      const lineNo = seen.get(key) ?? 1;
      if (!/^\s*\d+\s*$/.test(key)) throw new FormatError(`label table ${source} line ${lineNo}: key "${key}" is not a label value; write { "1": "Liver", "2": "Tumor A" } or { "labels": [ ... ] }`);
      if (typeof name !== 'string') throw new FormatError(`label table ${source} line ${lineNo}: label ${key} must map to a name (a string), not ${JSON.stringify(name)}`);
      add(Number(key), name, undefined, lineNo);
    }
  }
  return { source, format: 'json', entries: add.done() };
}

/** Collects entries, dropping the background and refusing empty names and duplicate values or names. */
function entryCollector(source: string) {
  const out: LabelTableEntry[] = [];
  const byValue = new Map<number, number>();
  const byName = new Map<string, number>();
  let labels = 0;
  const add = (value: number, rawName: string, rgb: number[] | undefined, line: number) => {
    labels++;
    const name = rawName.trim();
    if (value === 0 || name.toLowerCase() === CLEAR_LABEL) return; // background
    if (name === '') throw new FormatError(`label table ${source} line ${line}: label ${value} has an empty name; give every label a name`);
    const v = byValue.get(value);
    if (v !== undefined) throw new FormatError(`label table ${source} line ${line}: label value ${value} is given again (first on line ${v}); each value names one structure`);
    const w = byName.get(name);
    if (w !== undefined) throw new FormatError(`label table ${source} line ${line}: the name "${name}" is used again (first on line ${w}); structure names must be unique`);
    byValue.set(value, line);
    byName.set(name, line);
    out.push({ value, name, line, ...(rgb ? { colorRgb: [rgb[0] / 255, rgb[1] / 255, rgb[2] / 255] as const } : {}) });
  };
  return Object.assign(add, {
    done(): LabelTableEntry[] {
      if (out.length === 0) {
        throw new FormatError(`label table ${source} names ${labels ? 'only the background (label 0)' : 'no label'}; give at least one structure label`);
      }
      return out;
    },
  });
}

function labelValue(text: string, source: string, line: number): number {
  const v = Number(text);
  if (!Number.isSafeInteger(v) || v < 0) throw new FormatError(`label table ${source} line ${line}: label value ${text} must be a non-negative integer (0 is the background)`);
  return v;
}

function colourComponent(text: string, source: string, line: number): number {
  const v = Number(text);
  if (!/^\s*\d+(\.\d*)?\s*$/.test(text) || !(v >= 0 && v <= 255)) {
    throw new FormatError(`label table ${source} line ${line}: colour component ${text} must be a number 0..255`);
  }
  return v;
}

/** ITK-SNAP writes a double quote inside a label as \" (and a backslash as \\). */
function unescapeItkSnap(s: string): string {
  return s.replace(/\\(["\\])/g, '$1');
}

function lineOf(text: string, index: number): number {
  let n = 1;
  for (let i = 0; i < index && i < text.length; i++) if (text.charCodeAt(i) === 10) n++;
  return n;
}

/** Every object key in a JSON text with its line (strings followed by a colon; string values never are). */
function objectKeys(text: string): Array<{ key: string; line: number }> {
  const out: Array<{ key: string; line: number }> = [];
  const re = /"((?:[^"\\]|\\.)*)"(\s*:)?/g;
  for (let m; (m = re.exec(text)); ) if (m[2]) out.push({ key: JSON.parse(`"${m[1]}"`) as string, line: lineOf(text, m.index) });
  return out;
}

/** Lines of the keys named `name`, in text order. */
function keyLines(text: string, name: string): number[] {
  return objectKeys(text).filter((k) => k.key === name).map((k) => k.line);
}

function clip(s: string, max = 60): string {
  const t = s.trim();
  return t.length > max ? `${t.slice(0, max - 3)}...` : t;
}
