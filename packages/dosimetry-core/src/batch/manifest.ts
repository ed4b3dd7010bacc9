/**
 * The manifest of a batch (`dosimetry batch --manifest FILE`, ../shared/CONTRACT.md "Additions (2026-12)"): one row per
 * case, read and checked as a whole before any case runs, so that a typing slip in row 40 is not found after 39
 * cases have been computed.
 *
 * CSV: a header with the columns `case,command,args` and optionally `patient`; `args` is the rest of a `dose` or `plan`
 * command line without `--out`, split into words as a POSIX shell would (quotes and backslashes) but never run by a
 * shell. JSON: `{ "cases": [ { "case", "command", "args", "patient"? } ] }` (or the bare array), `args` a string as
 * in the CSV or an array of words. Relative paths in `args` are taken relative to the manifest's folder: the known
 * input options are made absolute here (so reports name where their inputs are), and each case also runs in that
 * folder, so that any other relative path resolves the same way.
 */
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { FileError, FormatError, UsageError } from '../errors.ts';
import { fileProblemOf } from '../io/files.ts';
import { parseCsv } from '../research/csv.ts';

/** The commands a batch runs, each case one of them. */
export const BATCH_COMMANDS = ['dose', 'plan'] as const;
export type BatchCommand = (typeof BATCH_COMMANDS)[number];

/** One case of a batch: one manifest row. */
export interface BatchCase {
  /** 0-based position in the manifest: the Slurm array index / Kubernetes completion index (`--case-index`). */
  readonly index: number;
  /** Case id: the name of its output folder DIR/CASE. */
  readonly id: string;
  /** Patient id (optional column): the case's id in the cohort tables, else the case id. */
  readonly patient?: string;
  readonly command: BatchCommand;
  /** The command's arguments (no --out), input paths absolute. */
  readonly args: readonly string[];
  /** Where the row is, for messages ("row 3" of the CSV's data rows, or "case 3" of the JSON list). */
  readonly where: string;
}

/** A read and checked manifest. */
export interface BatchManifest {
  /** Absolute path of the manifest file. */
  readonly path: string;
  /** Its folder: relative paths of the cases resolve against it, and the cases run in it. */
  readonly dir: string;
  /** SHA-256 of the file (recorded in batch.json). */
  readonly sha256: string;
  readonly cases: readonly BatchCase[];
}

/** Options whose values are input paths, made absolute against the manifest's folder. */
const PATH_OPTIONS = new Set(['activity', 'segmentation', 'ct', 'rtplan', 'territories', 'transform']);

/** Case ids that name the batch's own entries in DIR. */
const RESERVED_IDS = new Set(['cohort', 'slurm', 'batch.json']);

/** A case id names a folder: letters, digits, '.', '_' and '-', starting with a letter or digit, at most 100. */
const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

/** Shell characters that a shell would expand or act on: refused unquoted, since no shell runs the args. */
const SHELL_SPECIAL = new Set(['$', '`', ';', '|', '&', '<', '>', '*', '(', ')']);

/**
 * Splits a command line into words like a POSIX shell, without running one: whitespace separates words; '...' is
 * literal; "..." keeps its text with \" \\ \$ \` escaped; a backslash outside quotes keeps the next character. Refused
 * (UsageError, `where` names the row): an unclosed quote, and unquoted shell syntax ($VAR, `...`, ;, |, &, <, >, *,
 * parentheses, a leading ~), which would mean something else in a shell than here.
 */
export function splitCommandLine(text: string, where: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "'") {
      const end = text.indexOf("'", i + 1);
      if (end < 0) throw new UsageError(`${where}: a single quote in args is not closed; close it (or write \\' for a quote character)`);
      word += text.slice(i + 1, end);
      inWord = true;
      i = end;
    } else if (c === '"') {
      let j = i + 1;
      for (; j < text.length && text[j] !== '"'; j++) {
        if (text[j] === '\\' && j + 1 < text.length && '"\\$`'.includes(text[j + 1])) word += text[++j];
        else word += text[j];
      }
      if (j >= text.length) throw new UsageError(`${where}: a double quote in args is not closed; close it (or write \\" for a quote character)`);
      inWord = true;
      i = j;
    } else if (c === '\\') {
      if (i + 1 >= text.length) throw new UsageError(`${where}: args end with a lone backslash; remove it or write \\\\ for a backslash`);
      word += text[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else if (SHELL_SPECIAL.has(c) || (c === '~' && !inWord)) {
      throw new UsageError(
        `${where}: args hold an unquoted "${c}", which a shell would expand or act on, but no shell runs them (words are split like a command line, nothing else); quote it ('${c}') if it is part of a name`,
      );
    } else {
      word += c;
      inWord = true;
    }
  }
  if (inWord) words.push(word);
  return words;
}

/** The value of a path option made absolute against `baseDir` (URLs such as dicomweb:... unchanged). */
function absolutePath(value: string, baseDir: string): string {
  if (value === '' || isAbsolute(value) || /^[a-z][a-z0-9+.-]*:/i.test(value)) return value;
  return resolve(baseDir, value);
}

/** `args` with the values of input options (and `--labels @FILE`) made absolute against `baseDir`. */
export function absoluteInputArgs(args: readonly string[], baseDir: string): string[] {
  const out = [...args];
  for (let i = 0; i < out.length; i++) {
    const a = out[i];
    if (!a.startsWith('--')) continue;
    const eq = a.indexOf('=');
    const name = eq >= 0 ? a.slice(2, eq) : a.slice(2);
    const fix = (v: string) => (name === 'labels' ? (v.startsWith('@') ? `@${absolutePath(v.slice(1), baseDir)}` : v) : absolutePath(v, baseDir));
    if (!PATH_OPTIONS.has(name) && name !== 'labels') continue;
    if (eq >= 0) out[i] = `--${name}=${fix(a.slice(eq + 1))}`;
    else if (i + 1 < out.length && !out[i + 1].startsWith('--')) out[i + 1] = fix(out[i + 1]);
  }
  return out;
}

interface RawCase {
  readonly id: string;
  readonly command: string;
  readonly args: string | readonly string[];
  readonly patient?: string;
  readonly where: string;
}

const REQUIRED_COLUMNS = ['case', 'command', 'args'] as const;
const ALLOWED_COLUMNS = new Set<string>([...REQUIRED_COLUMNS, 'patient']);

function csvCases(text: string, source: string): RawCase[] {
  const table = parseCsv(text, source);
  const missing = REQUIRED_COLUMNS.filter((c) => !table.columns.includes(c));
  if (missing.length) {
    throw new FormatError(
      `${source} lacks the column${missing.length > 1 ? 's' : ''} ${missing.map((c) => `"${c}"`).join(', ')}; its header must be case,command,args (and optionally patient), e.g. case,command,args then P01,dose,"--activity a.nii.gz ..."`,
    );
  }
  const unknown = table.columns.filter((c) => !ALLOWED_COLUMNS.has(c));
  if (unknown.length) {
    throw new FormatError(`${source}: unknown column${unknown.length > 1 ? 's' : ''} ${unknown.map((c) => `"${c}"`).join(', ')}; a manifest has the columns case, command, args and optionally patient (clinical data goes to --clinical)`);
  }
  return table.rows.map((r, k) => ({ id: r.case, command: r.command, args: r.args, patient: r.patient || undefined, where: `${source} row ${k + 1}` }));
}

function jsonCases(text: string, source: string): RawCase[] {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new FormatError(`${source} is not valid JSON (${(err as Error).message}); write { "cases": [ { "case", "command", "args" } ] }`, { cause: err });
  }
  const list = Array.isArray(json) ? json : (json as { cases?: unknown })?.cases;
  if (!Array.isArray(list)) throw new FormatError(`${source}: no "cases" list; write { "cases": [ { "case": "P01", "command": "dose", "args": "--activity ..." } ] }`);
  if (!Array.isArray(json)) {
    const extra = Object.keys(json as object).filter((k) => k !== 'cases');
    if (extra.length) throw new FormatError(`${source}: unknown field${extra.length > 1 ? 's' : ''} ${extra.map((k) => `"${k}"`).join(', ')} beside "cases"`);
  }
  return list.map((item, k) => {
    const where = `${source} case ${k + 1}`;
    if (typeof item !== 'object' || item === null || Array.isArray(item)) throw new FormatError(`${where} is not an object with "case", "command" and "args"`);
    const o = item as Record<string, unknown>;
    const unknown = Object.keys(o).filter((f) => !ALLOWED_COLUMNS.has(f));
    if (unknown.length) throw new FormatError(`${where}: unknown field${unknown.length > 1 ? 's' : ''} ${unknown.map((f) => `"${f}"`).join(', ')}; a case has "case", "command", "args" and optionally "patient"`);
    const missing = REQUIRED_COLUMNS.filter((f) => o[f] === undefined);
    if (missing.length) throw new FormatError(`${where} lacks ${missing.map((f) => `"${f}"`).join(', ')}; every case needs "case", "command" and "args"`);
    const text = (f: string) => {
      const v = o[f];
      if (typeof v === 'number' && Number.isFinite(v)) return String(v);
      if (typeof v !== 'string') throw new FormatError(`${where}: "${f}" must be a string`);
      return v.trim();
    };
    const args = o.args;
    if (!(typeof args === 'string' || (Array.isArray(args) && args.every((w) => typeof w === 'string')))) {
      throw new FormatError(`${where}: "args" must be a command line (a string) or a list of words (strings)`);
    }
    return { id: text('case'), command: text('command'), args: args as string | string[], patient: o.patient === undefined || o.patient === null ? undefined : text('patient') || undefined, where };
  });
}

/**
 * Checks every case and builds the list (see the module comment). `specOf(command)` gives the command's options,
 * against which each row's args are parsed here (an unknown option or a missing value is found before anything runs);
 * `check(command, args)` may refuse a row with a UsageError. Every refusal names the file, the row and the fix.
 */
export function parseBatchManifest(
  text: string,
  source: string,
  baseDir: string,
  check: (command: BatchCommand, args: readonly string[], where: string) => void = () => {},
): BatchCase[] {
  const json = /\.json$/i.test(source) || /^\s*[[{]/.test(text);
  const raw = json ? jsonCases(text, source) : csvCases(text, source);
  if (raw.length === 0) throw new FormatError(`${source} has no cases; add one row per case (case,command,args)`);
  const seen = new Map<string, string>();
  return raw.map((r, index) => {
    if (r.id === '') throw new UsageError(`${r.where} has no case id; give each case an id (it names the case's output folder DIR/CASE)`);
    const where = `${r.where} (case "${r.id}")`;
    if (!SAFE_ID.test(r.id) || r.id.includes('..')) {
      const why = /[/\\]/.test(r.id) ? 'holds a path separator' : r.id.includes('..') || r.id.startsWith('.') ? 'could leave or hide in the output folder' : 'has characters a folder name should not have';
      throw new UsageError(`${where}: the case id ${why}; a case id names its folder DIR/CASE: use letters, digits, '.', '_' and '-' (starting with a letter or digit, at most 100)`);
    }
    if (RESERVED_IDS.has(r.id.toLowerCase())) throw new UsageError(`${where}: "${r.id}" names the batch's own ${r.id.toLowerCase() === 'batch.json' ? 'summary' : 'folder'} in DIR; rename the case`);
    const dup = seen.get(r.id.toLowerCase());
    if (dup) throw new UsageError(`${where}: the case id is given twice (also ${dup}); each case needs its own id (its output folder), letter case aside`);
    seen.set(r.id.toLowerCase(), r.where);
    if (!(BATCH_COMMANDS as readonly string[]).includes(r.command)) {
      throw new UsageError(`${where}: unknown command "${r.command}"; a batch runs ${BATCH_COMMANDS.join(' or ')}`);
    }
    const command = r.command as BatchCommand;
    const words = typeof r.args === 'string' ? splitCommandLine(r.args, where) : [...r.args];
    if (words.length === 0) throw new UsageError(`${where}: args are empty; give the ${command} options of the case (its inputs and settings)`);
    for (const w of words) {
      if (w === '--out' || w.startsWith('--out=')) throw new UsageError(`${where}: args hold --out; the batch gives each case its own folder (DIR/${r.id}): remove --out from args`);
      if (w === '--help') throw new UsageError(`${where}: args hold --help, which runs nothing; remove it`);
    }
    check(command, words, where);
    if (r.patient !== undefined && /[\r\n]/.test(r.patient)) throw new UsageError(`${where}: the patient id holds a line break`);
    return { index, id: r.id, patient: r.patient, command, args: absoluteInputArgs(words, baseDir), where: r.where };
  });
}

/** Reads and checks a manifest file (see parseBatchManifest); FileError when it cannot be read. */
export function readBatchManifest(path: string, check?: Parameters<typeof parseBatchManifest>[3]): BatchManifest {
  const abs = resolve(path);
  let bytes: Buffer;
  try {
    if (statSync(abs).isDirectory()) throw Object.assign(new Error('is a folder'), { code: 'EISDIR' });
    bytes = readFileSync(abs);
  } catch (err) {
    const p = fileProblemOf(err);
    throw new FileError(`--manifest ${path} ${p.problem}; ${p.fix}`, { cause: err });
  }
  const text = bytes.toString('utf8');
  const dir = dirname(abs);
  return { path: abs, dir, sha256: createHash('sha256').update(bytes).digest('hex'), cases: parseBatchManifest(text, path, dir, check) };
}
