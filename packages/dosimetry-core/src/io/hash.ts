/**
 * SHA-256 of input files, as report.json's provenance and an output set's manifest.json record them.
 *
 * A file's digest is remembered for the life of the process under its identity and change stamps (device, inode,
 * size, modification and change time in ns), so that the output set (which hashes the inputs when it claims its
 * folder) and the report (which hashes them again when it is built) read each input once; a file changed in between
 * has new stamps and is read again.
 */
import { createHash } from 'node:crypto';
import { closeSync, openSync, readdirSync, readSync, statSync } from 'node:fs';
import type { Hash } from 'node:crypto';
import { join, resolve } from 'node:path';

const fileDigests = new Map<string, string>();

function fileStamp(path: string): string {
  const st = statSync(path, { bigint: true });
  return `${resolve(path)}\0${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
}

/** SHA-256 (hex) of one regular file's bytes, remembered per process (see the module comment). */
export function sha256OfFile(path: string): string {
  const stamp = fileStamp(path);
  const known = fileDigests.get(stamp);
  if (known) return known;
  const digest = hashFileInto(createHash('sha256'), path).digest('hex');
  fileDigests.set(stamp, digest);
  return digest;
}

/** Feeds a file's bytes to `h` in 8 MiB pieces (no whole-file read: inputs over 2 GiB hash as any other). */
function hashFileInto(h: Hash, path: string): Hash {
  const buf = Buffer.allocUnsafe(8 << 20);
  const fd = openSync(path, 'r');
  try {
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      h.update(buf.subarray(0, n));
    }
  } finally {
    closeSync(fd);
  }
  return h;
}

/**
 * SHA-256 of a file, or of a folder's files (sorted relative paths and contents; other entries left out). A folder's
 * digest is remembered under the stamps of all its files (a DICOM series is read once per process).
 */
export function sha256OfPath(path: string): string {
  const st = statSync(path);
  if (!st.isDirectory()) return sha256OfFile(path);
  const walk = (dir: string, rel: string): string[] =>
    readdirSync(dir, { withFileTypes: true })
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
      .flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name), `${rel}${e.name}/`) : e.isFile() ? [`${rel}${e.name}`] : []));
  const files = walk(path, '');
  const stamp = files.map((f) => fileStamp(join(path, f))).join('\n');
  const known = fileDigests.get(stamp);
  if (known) return known;
  const h = createHash('sha256');
  for (const f of files) {
    h.update(f + '\0');
    hashFileInto(h, join(path, f));
  }
  const digest = h.digest('hex');
  fileDigests.set(stamp, digest);
  return digest;
}

/** One input of a run as an output set records it: absolute path and SHA-256. */
export interface RecordedInput {
  readonly path: string;
  readonly sha256: string;
}

/**
 * The inputs of a run, hashed: every declared input path (a file or a folder, e.g. a DICOM series) and every other
 * command-line value that names an existing regular file (a label table, a territories file: options the caller did
 * not declare are covered too). Paths inside `outDir` are left out (the previous outputs), as are values that name
 * nothing, a FIFO or a device (never opened here: the readers refuse them with their own message). Sorted by path,
 * each once.
 */
export function hashRunInputs(argv: readonly string[], declared: ReadonlyArray<string | undefined>, outDir: string): RecordedInput[] {
  const out = resolve(outDir);
  const inside = (p: string) => p === out || p.startsWith(out.endsWith('/') ? out : `${out}/`);
  const found = new Map<string, string>();
  const consider = (value: string, folderAllowed: boolean) => {
    if (value === '' || /^[a-z][a-z0-9+.-]*:\/\//i.test(value) || /^dicomweb:/i.test(value)) return;
    const p = resolve(value.startsWith('@') && !folderAllowed ? value.slice(1) : value);
    if (found.has(p) || inside(p)) return;
    let st;
    try {
      st = statSync(p);
    } catch {
      return;
    }
    if (!(st.isFile() || (folderAllowed && st.isDirectory()))) return;
    try {
      found.set(p, sha256OfPath(p));
    } catch {
      // unreadable: the reader reports it
    }
  };
  for (const d of declared) if (d) consider(d, true);
  for (const a of argv) {
    const eq = a.startsWith('--') ? a.indexOf('=') : -1;
    const value = a.startsWith('--') ? (eq >= 0 ? a.slice(eq + 1) : undefined) : a;
    if (value !== undefined) consider(value, false);
  }
  return [...found].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([path, sha256]) => ({ path, sha256 }));
}
