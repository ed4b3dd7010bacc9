/**
 * Finding and loading DICOM files on disk, and DICOM dates and times.
 */
import { closeSync, openSync, readSync, readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { FileError } from '../../errors.ts';
import { checkInputPath, fileProblemOf, readFileBytes } from '../files.ts';
import { type DicomFile, hasDicmPreamble, parseDicom } from './parser.ts';
import { SOP_CLASS, TAG } from './tags.ts';

/**
 * True when the regular file `path` starts with the DICOM Part 10 preamble. A file that cannot be opened or read is a
 * FileError, not "not DICOM": skipping an unreadable slice would silently shorten the volume.
 */
function hasPreambleOnDisk(path: string): boolean {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const b = new Uint8Array(132);
    const n = readSync(fd, b, 0, 132, 0);
    return n === 132 && hasDicmPreamble(b);
  } catch (err) {
    const p = fileProblemOf(err);
    throw new FileError(`file ${path} ${p.problem}; ${p.fix}`, { cause: err });
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * Files under `dir` (recursively, at most `maxDepth` levels, hidden entries skipped), sorted by path. Entries that are
 * neither files nor folders (FIFOs, sockets, devices) are skipped without being opened; dangling links are skipped; a
 * link loop or an entry that cannot be examined is a FileError naming it.
 */
function walk(dir: string, maxDepth: number, out: string[]): void {
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch (err) {
    const p = fileProblemOf(err);
    throw new FileError(`cannot list folder ${dir}: it ${p.problem}; ${p.fix}`, { cause: err });
  }
  for (const name of names) {
    if (name.startsWith('.')) continue;
    const p = join(dir, name);
    let st;
    try {
      st = statSync(p, { throwIfNoEntry: false });
    } catch (err) {
      const pr = fileProblemOf(err);
      throw new FileError(`${p} (in the folder ${dir}) ${pr.problem}; ${pr.fix}, or remove it from the folder`, { cause: err });
    }
    if (!st) continue;
    if (st.isDirectory()) {
      if (maxDepth > 0) walk(p, maxDepth - 1, out);
    } else if (st.isFile()) out.push(p);
  }
}

/**
 * True when `path` is a file with the DICOM Part 10 preamble ("DICM" at byte 128), or a folder holding at least one
 * such file (searched up to 4 levels deep). False for a missing path and for anything else (a FIFO is not opened).
 */
export function isDicomPath(path: string): boolean {
  let st;
  try {
    st = statSync(path, { throwIfNoEntry: false });
  } catch {
    return false; // a link loop or an inaccessible path: the reader that opens it names the problem
  }
  if (!st) return false;
  if (st.isFile()) return hasPreambleOnDisk(path);
  if (!st.isDirectory()) return false;
  const files: string[] = [];
  walk(path, 4, files);
  return files.some(hasPreambleOnDisk);
}

/** Options of `listDicomFiles`. */
export interface ListDicomFilesOptions {
  /**
   * Receives one line per DICOMDIR in the folder tree that is malformed (truncated, no "DICM" marker, not DICOM, not a
   * Media Storage Directory): it is left out either way, and without this collector it is not even opened.
   */
  readonly warnings?: string[];
}

/** True for a file named DICOMDIR (PS3.10 8.6: the File-set's directory, never an image or structure set). */
export function isDicomdirName(path: string): boolean {
  return basename(path).toUpperCase() === 'DICOMDIR';
}

/**
 * The DICOM Part 10 files at `path` (a file, or every DICM file in a folder tree up to 4 levels deep). In a folder, a
 * DICOMDIR is left out: it only indexes the files, which are read directly, so a DICOMDIR that a CD burner or a PACS
 * export wrote badly does not stop the folder from being read (see `ListDicomFilesOptions.warnings`).
 */
export function listDicomFiles(path: string, opts: ListDicomFilesOptions = {}): string[] {
  const st = checkInputPath(path, 'DICOM input', { allowFolder: true });
  if (st.isFile()) return hasPreambleOnDisk(path) ? [path] : [];
  const files: string[] = [];
  walk(path, 4, files);
  return files.filter((f) => {
    if (!isDicomdirName(f)) return hasPreambleOnDisk(f);
    const problem = opts.warnings ? dicomdirProblem(f) : undefined;
    if (problem) opts.warnings!.push(`${f}: a malformed DICOMDIR (${problem}); the folder is read without it (a DICOMDIR only indexes the image files, which are read directly)`);
    return false;
  });
}

/** Directory Record Sequence (0004,1220), SQ: the records of a DICOMDIR (PS3.3 F.3). */
const DIRECTORY_RECORD_SEQUENCE = 0x00041220;

/** What is wrong with the DICOMDIR file at `path`, or undefined when it is a readable Media Storage Directory. */
function dicomdirProblem(path: string): string | undefined {
  let bytes: Uint8Array;
  try {
    bytes = readFileBytes(path, 'DICOMDIR');
  } catch (err) {
    return (err as Error).message;
  }
  if (!hasDicmPreamble(bytes)) return bytes.length < 132 ? `${bytes.length} bytes, shorter than the DICOM preamble` : 'no "DICM" marker at byte 128: not a DICOM file';
  let f: DicomFile;
  try {
    f = parseDicom(bytes, path);
  } catch (err) {
    return `cannot be parsed: ${(err as Error).message}`;
  }
  const sop = f.meta.string(TAG.MediaStorageSOPClassUID) ?? f.dataset.string(TAG.SOPClassUID);
  if (sop !== SOP_CLASS.mediaStorageDirectory) return `Media Storage SOP Class ${sop ?? 'missing'}, not a Media Storage Directory (1.2.840.10008.1.3.10)`;
  if (!f.dataset.has(DIRECTORY_RECORD_SEQUENCE)) return 'no Directory Record Sequence (0004,1220)';
  return undefined;
}

/** Reads and parses one file (FileError when unreadable, FormatError when malformed). */
export function loadDicomFile(path: string): DicomFile & { path: string } {
  const bytes = readFileBytes(path, 'DICOM file');
  return { ...parseDicom(bytes, path), path };
}

/** A DICOM date-time, read as written (no time zone is applied; differences between two of them are exact). */
export interface DicomDateTime {
  /** "YYYY-MM-DDTHH:MM:SS.ffffff" (local time of the modality, as stored). */
  readonly iso: string;
  /** Seconds since 1970-01-01T00:00:00 of the same wall clock (the stored time read as UTC) [s]. */
  readonly epochS: number;
}

/** Combines DA (YYYYMMDD) and TM (HHMMSS.ffffff, also HH, HHMM and the retired HH:MM:SS) into a date-time. */
export function dicomDateTime(da: string | undefined, tm: string | undefined): DicomDateTime | undefined {
  if (!da || !tm) return undefined;
  const d = /^(\d{4})(\d{2})(\d{2})$/.exec(da.trim().replace(/[.-]/g, ''));
  const t = /^(\d{2})(\d{2})?(\d{2})?(?:\.(\d{1,6}))?$/.exec(tm.trim().replace(/:/g, ''));
  if (!d || !t) return undefined;
  const [y, mo, dd] = [Number(d[1]), Number(d[2]), Number(d[3])];
  const [h, mi, s] = [Number(t[1]), Number(t[2] ?? 0), Number(t[3] ?? 0)];
  const frac = t[4] ? Number(`0.${t[4]}`) : 0;
  const epochS = Date.UTC(y, mo - 1, dd, h, mi, s) / 1000 + frac;
  if (!Number.isFinite(epochS)) return undefined;
  const p2 = (x: number) => String(x).padStart(2, '0');
  const fs = t[4] ? `.${t[4].padEnd(6, '0')}` : '';
  return { iso: `${y}-${p2(mo)}-${p2(dd)}T${p2(h)}:${p2(mi)}:${p2(s)}${fs}`, epochS };
}

/** Parses a DT value (YYYYMMDDHHMMSS.ffffff, optional &ZZXX offset ignored) into a date-time. */
export function dicomDT(dt: string | undefined): DicomDateTime | undefined {
  if (!dt) return undefined;
  const m = /^(\d{8})(\d{2,6}(?:\.\d{1,6})?)?([+-]\d{4})?$/.exec(dt.trim());
  if (!m) return undefined;
  return dicomDateTime(m[1], m[2] ?? '000000');
}
