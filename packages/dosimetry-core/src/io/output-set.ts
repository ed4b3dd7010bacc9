/**
 * A command's outputs as one atomic set in an output folder (`--out DIR`).
 *
 * - The folder is claimed before any work: `--out ""` is refused, a folder that holds an input (or lies inside an
 *   input folder) is refused, a folder holding files this engine did not write is refused, and a lock file beside it
 *   (`.NAME.lock`, with the owner's pid) refuses a second run into the same folder while the first is alive.
 * - The whole set is written into a fresh hidden sibling folder with a `manifest.json` (every file's size and
 *   SHA-256), then swapped in: renamed over a missing DIR in one rename, or, when DIR holds a previous set, DIR moved
 *   aside and the new folder renamed into place, the old one removed. Files of the previous set that the new run does
 *   not write (a `rtdose.dcm` of a run with `--rtdose`) go with it. A run killed at any point leaves either the old
 *   complete set or the new one; leftovers of a killed run (hidden siblings) are cleaned, or the previous set restored,
 *   when the folder is next claimed.
 * - With the command's argv, manifest.json also records how the set was made (command line, SHA-256 of every input,
 *   engine version): `batch` skips a case whose set is complete and current.
 * Parent folders are made one level at a time (Node's recursive mkdir never returns on some paths under /proc).
 */
import { createHash, randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { FileError, UsageError } from '../errors.ts';
import { ENGINE_VERSION } from '../version.ts';
import type { OutputData } from './atomic.ts';
import { hashRunInputs, type RecordedInput } from './hash.ts';

/** Name of the file that lists a set's files; a folder with one was written by this engine. */
export const MANIFEST_NAME = 'manifest.json';

/** Files the engine wrote before sets had a manifest: a folder holding only these may be replaced. */
const LEGACY_OUTPUT_NAMES = new Set([
  'dose.nii.gz',
  'report.json',
  'structures.csv',
  'structures.seg.nrrd',
  'rtdose.dcm',
  'compare.json',
  'compare.csv',
  'lesions.csv',
  'patients.csv',
]);

/**
 * One file of a set: its name inside the output folder and its bytes. A name may hold one sub-folder
 * ("territories/right-lobe.dose_per_gbq.nii.gz"); the sub-folder belongs to the set like its files.
 */
export interface OutputFile {
  readonly name: string;
  /** Text (UTF-8), bytes, or bytes in pieces written one after the other (a large file never joined in memory). */
  readonly data: OutputData;
}

export type { OutputData };

/** A claimed output folder: `commit` writes and swaps in the set (once), `release` drops the lock. */
export interface OutputSet {
  /** The output folder, absolute. */
  readonly dir: string;
  /** Writes `files` (plus manifest.json) as one set and swaps it in; the lock is released afterwards. */
  commit(files: ReadonlyArray<OutputFile>): void;
  /** Releases the lock without writing (after an error). Safe to call more than once. */
  release(): void;
}

export interface ClaimOutputOptions {
  /** The command, named in messages and recorded in the manifest. */
  readonly command: string;
  /** The option that named the folder (default "--out"). */
  readonly option?: string;
  /** Input paths of the run: the output folder may neither hold one nor lie inside an input folder. */
  readonly inputs?: ReadonlyArray<string | undefined>;
  /**
   * The command's arguments as given (after the command name). With them, manifest.json also records how the set was
   * made, `run: { argv, inputs: [{ path, sha256 }], version }`: the inputs (`inputs` above and every argument that
   * names a file, io/hash.ts hashRunInputs) hashed when the folder is claimed, so that `batch` can tell whether a
   * set is still current (same command line, same input bytes, same engine) without reading its report.
   */
  readonly argv?: readonly string[];
}

/**
 * The command line as manifest.json records it: without `--out DIR` (or `--out=DIR`), which is where the set itself
 * lies, so that the same run into two folders writes byte-identical manifests and a moved folder stays current.
 */
export function withoutOutOption(argv: readonly string[]): string[] {
  const kept: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--out') i++;
    else if (!argv[i].startsWith('--out=')) kept.push(argv[i]);
  }
  return kept;
}

/** How a set was made, as manifest.json records it (present when the command passed its argv). */
export interface OutputRun {
  readonly argv: string[];
  readonly inputs: RecordedInput[];
  readonly version: string;
}

/** A set's manifest.json as written by `commit`. */
export interface OutputManifest {
  readonly generator: 'sirt-dosimetry';
  readonly schemaVersion: number;
  readonly command: string;
  readonly files: ReadonlyArray<{ readonly name: string; readonly bytes: number; readonly sha256: string }>;
  readonly run?: OutputRun;
}

const within = (child: string, parent: string) => child === parent || child.startsWith(parent.endsWith(sep) ? parent : parent + sep);

function realOrResolved(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return resolve(p);
  }
}

function errnoText(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  switch (e?.code) {
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EROFS':
      return 'the file system is read-only';
    case 'ENOSPC':
      return 'no space left on the device';
    case 'ENOTDIR':
      return 'a part of the path is a file, not a folder';
    case 'ELOOP':
      return 'the path has a loop of symbolic links';
    case 'ENAMETOOLONG':
      return 'the name is too long';
    case 'ENOENT':
      return 'the path cannot be created there';
    default:
      return e?.message ?? String(err);
  }
}

/** mkdir -p, one level at a time (Node's recursive mkdir loops forever on e.g. /proc/x). */
function makeFolders(dir: string, option: string, shown: string): void {
  const missing: string[] = [];
  let p = dir;
  for (;;) {
    let st;
    try {
      st = statSync(p);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT') throw new FileError(`${option} ${shown}: cannot use ${p} (${errnoText(err)}); choose another folder`, { cause: err });
      missing.push(p);
      const up = dirname(p);
      if (up === p) break;
      p = up;
      continue;
    }
    if (!st.isDirectory()) throw new FileError(`${option} ${shown}: ${p} is a file, not a folder; choose another output folder`);
    break;
  }
  for (const m of missing.reverse()) {
    try {
      mkdirSync(m);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST' && statSync(m).isDirectory()) continue;
      throw new FileError(`${option} ${shown}: cannot create the folder ${m} (${errnoText(err)}); choose another output folder`, { cause: err });
    }
  }
}

function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  // a killed process that nobody has reaped yet (a zombie: its parent was killed too, and a container's pid 1 may
  // never reap) still answers signal 0; on Linux its state in /proc says it is gone
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}

/** Locks held by this process (released at exit even when the process ends abruptly through process.exit). */
const heldLocks = new Set<string>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const l of heldLocks) rmSync(l, { force: true });
  });
}

function takeLock(lockPath: string, outDir: string, option: string): void {
  // the lock is born whole: its content is written to a private file first and hard-linked into place (link fails
  // atomically when the lock exists), so a racing run never reads an empty or half-written lock
  const draft = `${lockPath}.${process.pid}.${randomBytes(4).toString('hex')}`;
  try {
    writeFileSync(draft, JSON.stringify({ pid: process.pid, host: hostname() }), { flag: 'wx' });
  } catch (err) {
    throw new FileError(`${option} ${outDir}: cannot create the lock file ${lockPath} (${errnoText(err)}); choose another output folder`, { cause: err });
  }
  try {
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        linkSync(draft, lockPath);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'EEXIST') throw new FileError(`${option} ${outDir}: cannot create the lock file ${lockPath} (${errnoText(err)}); choose another output folder`, { cause: err });
        let owner: { pid?: number; host?: string } = {};
        try {
          owner = JSON.parse(readFileSync(lockPath, 'utf8')) as typeof owner;
        } catch {
          // unreadable or written by an older version: judged by its age below
        }
        const sameHost = owner.host === undefined || owner.host === hostname();
        let alive: boolean;
        try {
          alive = owner.pid !== undefined ? !sameHost || pidAlive(owner.pid) : Date.now() - lstatSync(lockPath).mtimeMs < 60_000;
        } catch {
          alive = false; // released between our link and our look: try again
        }
        if (alive) {
          throw new FileError(
            `${option} ${outDir} is being written by another dosimetry run (pid ${owner.pid ?? '?'}${sameHost ? '' : ` on ${owner.host}`}); wait for it to finish, or give another ${option} (if no run is active, remove ${lockPath})`,
          );
        }
        rmSync(lockPath, { force: true }); // its owner is gone
        continue;
      }
      heldLocks.add(lockPath);
      installExitHook();
      return;
    }
    throw new FileError(`${option} ${outDir}: could not take the lock ${lockPath}; try again`);
  } finally {
    rmSync(draft, { force: true });
  }
}

/** The files a previous set lists in its manifest, or undefined when there is none (or it is not ours). */
function manifestFiles(dir: string): Set<string> | undefined {
  const p = join(dir, MANIFEST_NAME);
  if (!existsSync(p)) return undefined;
  try {
    const m = JSON.parse(readFileSync(p, 'utf8')) as { generator?: string; files?: Array<{ name?: unknown }> };
    if (m.generator !== 'sirt-dosimetry' || !Array.isArray(m.files)) return undefined;
    // a file in a sub-folder of the set lists the sub-folder too (the folder's own entry is the sub-folder)
    return new Set(m.files.flatMap((f) => [String(f.name), String(f.name).split('/')[0]]));
  } catch {
    return undefined;
  }
}

/**
 * The manifest.json of an output folder, or undefined when there is none, it is not this engine's or it cannot be
 * parsed (a set without one is no complete set).
 */
export function readOutputManifest(dir: string): OutputManifest | undefined {
  try {
    const m = JSON.parse(readFileSync(join(dir, MANIFEST_NAME), 'utf8')) as Partial<OutputManifest>;
    if (m?.generator !== 'sirt-dosimetry' || typeof m.command !== 'string' || !Array.isArray(m.files)) return undefined;
    return m as OutputManifest;
  } catch {
    return undefined;
  }
}

/**
 * The live owner of an output folder's lock (`.NAME.lock` beside it): its pid when that process is alive on this
 * machine, `'elsewhere'` when the lock was taken on another host (assumed alive), undefined when the folder is free.
 */
export function outputLockOwner(outDir: string): number | 'elsewhere' | undefined {
  const abs = resolve(outDir);
  const lockPath = join(realOrResolved(dirname(abs)), `.${basename(abs)}.lock`);
  let owner: { pid?: number; host?: string };
  try {
    owner = JSON.parse(readFileSync(lockPath, 'utf8')) as typeof owner;
  } catch {
    return undefined; // none, or half-written (takeLock judges those by age)
  }
  if (owner.host !== undefined && owner.host !== hostname()) return 'elsewhere';
  return owner.pid !== undefined && pidAlive(owner.pid) ? owner.pid : undefined;
}

/**
 * Takes a lock file for a job that is not one output set (a batch over many): the same pid/host format and
 * stale-owner takeover as the output folders' locks. Returns its release (also run at exit).
 */
export function takeFolderLock(lockPath: string, shown: string, option: string): () => void {
  takeLock(lockPath, shown, option);
  return () => {
    heldLocks.delete(lockPath);
    rmSync(lockPath, { force: true });
  };
}

/** Leftovers of killed runs beside `dir` (`.NAME.new-PID-*`, `.NAME.old-PID-*`): removed, or the old set restored. */
function cleanLeftovers(parent: string, name: string): void {
  const prefix = `.${name}.`;
  let entries: string[];
  try {
    entries = readdirSync(parent);
  } catch {
    return;
  }
  for (const e of entries) {
    const m = e.startsWith(prefix) ? /^(new|old)-(\d+)-[0-9a-f]+$/.exec(e.slice(prefix.length)) : null;
    if (!m || pidAlive(Number(m[2]))) continue;
    const p = join(parent, e);
    if (m[1] === 'old' && !existsSync(join(parent, name))) {
      renameSync(p, join(parent, name)); // killed between the two renames of a swap: the previous set comes back
    } else rmSync(p, { recursive: true, force: true });
  }
}

/**
 * Claims `outDir` for one run (see the module comment); throws a UsageError/FileError saying what is wrong and how
 * to fix it when the folder cannot be used. Call `commit` with the files once everything is computed.
 */
export function claimOutputDir(outDir: string | undefined, opts: ClaimOutputOptions): OutputSet {
  const option = opts.option ?? '--out';
  if (outDir === undefined || outDir.trim() === '') throw new UsageError(`${opts.command}: ${option} is empty; give the folder for the results, e.g. ${option} out/case1`);
  const abs = resolve(outDir);
  if (dirname(abs) === abs) throw new UsageError(`${opts.command}: ${option} ${outDir} is the root folder; give a folder of its own for the results`);
  makeFolders(dirname(abs), option, outDir);
  const parent = realOrResolved(dirname(abs));
  const name = basename(abs);
  const dir = join(parent, name);
  let existing: ReturnType<typeof lstatSync> | undefined;
  try {
    existing = lstatSync(dir);
  } catch {
    existing = undefined;
  }
  if (existing?.isSymbolicLink()) throw new UsageError(`${opts.command}: ${option} ${outDir} is a symbolic link; give the folder it points to (${realOrResolved(dir)})`);
  if (existing && !existing.isDirectory()) throw new UsageError(`${opts.command}: ${option} ${outDir} is a file, not a folder; give a folder for the results`);

  for (const input of opts.inputs ?? []) {
    if (!input) continue;
    const rp = realOrResolved(input);
    if (within(rp, dir)) {
      throw new UsageError(`${opts.command}: ${option} ${outDir} holds the input ${input}; a run replaces its output folder as a whole, so give a folder apart from the inputs`);
    }
    let isDir = false;
    try {
      isDir = statSync(rp).isDirectory();
    } catch {
      isDir = false;
    }
    if (isDir && within(dir, rp)) {
      throw new UsageError(`${opts.command}: ${option} ${outDir} lies inside the input folder ${input}; its outputs would be read as inputs next time, so give a folder outside it`);
    }
  }

  const lockPath = join(parent, `.${name}.lock`);
  takeLock(lockPath, outDir, option);
  let run: OutputRun | undefined;
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    heldLocks.delete(lockPath);
    rmSync(lockPath, { force: true });
  };
  try {
    cleanLeftovers(parent, name);
    if (existsSync(dir)) {
      const listed = manifestFiles(dir);
      const foreign = readdirSync(dir).filter((e) => (listed ? !listed.has(e) && e !== MANIFEST_NAME : !LEGACY_OUTPUT_NAMES.has(e)) && !/^\..*\.tmp$/.test(e));
      if (foreign.length > 0) {
        const shown = foreign.slice(0, 5).map((e) => `"${e}"`).join(', ') + (foreign.length > 5 ? `, ... (${foreign.length} in all)` : '');
        throw new UsageError(
          `${opts.command}: ${option} ${outDir} holds files this engine did not write (${shown}); a run replaces its output folder as a whole, so give a new or empty folder`,
        );
      }
    }
    if (opts.argv) run = { argv: withoutOutOption(opts.argv), inputs: hashRunInputs(opts.argv, opts.inputs ?? [], dir), version: ENGINE_VERSION };
  } catch (err) {
    release();
    throw err;
  }

  let committed = false;
  return {
    dir,
    release,
    commit(files) {
      if (committed) throw new Error('output set committed twice');
      committed = true;
      const tag = `${process.pid}-${randomBytes(4).toString('hex')}`;
      const fresh = join(parent, `.${name}.new-${tag}`);
      try {
        const names = new Set<string>();
        for (const f of files) {
          const parts = f.name.split('/');
          const badPart = parts.length > 2 || parts.some((x) => x === '' || x === '.' || x === '..' || x.includes('\\'));
          if (badPart || f.name === MANIFEST_NAME || names.has(f.name) || (parts.length === 2 && names.has(parts[0]))) throw new Error(`bad output file name "${f.name}"`);
          names.add(f.name);
        }
        mkdirSync(fresh);
        const manifest = {
          generator: 'sirt-dosimetry',
          schemaVersion: 1,
          command: opts.command,
          files: files.map((f) => {
            const pieces = typeof f.data === 'string' ? [Buffer.from(f.data, 'utf8')] : f.data instanceof Uint8Array ? [f.data] : f.data;
            if (f.name.includes('/')) mkdirSync(join(fresh, dirname(f.name)), { recursive: true });
            const hash = createHash('sha256');
            let size = 0;
            const fd = openSync(join(fresh, f.name), 'w');
            try {
              for (const p of pieces) {
                for (let o = 0; o < p.byteLength; ) o += writeSync(fd, p, o, p.byteLength - o);
                hash.update(p);
                size += p.byteLength;
              }
            } finally {
              closeSync(fd);
            }
            return { name: f.name, bytes: size, sha256: hash.digest('hex') };
          }),
          ...(run ? { run } : {}),
        };
        writeFileSync(join(fresh, MANIFEST_NAME), JSON.stringify(manifest, null, 2) + '\n');
        if (existsSync(dir)) {
          const old = join(parent, `.${name}.old-${tag}`);
          renameSync(dir, old);
          renameSync(fresh, dir);
          rmSync(old, { recursive: true, force: true });
        } else renameSync(fresh, dir);
      } catch (err) {
        rmSync(fresh, { recursive: true, force: true });
        release();
        throw new FileError(`cannot write the outputs to ${outDir} (${errnoText(err)}); nothing was written`, { cause: err });
      }
      release();
    },
  };
}

/** Files named by full paths (all in one folder) as OutputFiles: their base names. */
export function asOutputFiles(files: ReadonlyArray<{ path: string; data: OutputData }>): OutputFile[] {
  return files.map((f) => ({ name: basename(f.path), data: f.data }));
}
