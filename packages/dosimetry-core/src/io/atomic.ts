/**
 * Atomic file output: write to a temporary file in the same folder, then rename over the target.
 * A crash or error never leaves a partial file behind.
 */
import { closeSync, mkdirSync, openSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { dirname, join, basename } from 'node:path';
import { FileError } from '../errors.ts';

/** The contents of an output file: text (UTF-8), bytes, or bytes in pieces written one after the other. */
export type OutputData = string | Uint8Array | readonly Uint8Array[];

/** Writes `data` (text, bytes or pieces in order) to `path` (not atomic: the callers write to a temp file). */
export function writeDataSync(path: string, data: OutputData): void {
  if (typeof data === 'string' || data instanceof Uint8Array) {
    writeFileSync(path, data);
    return;
  }
  const fd = openSync(path, 'w');
  try {
    for (const p of data) for (let o = 0; o < p.byteLength; ) o += writeSync(fd, p, o, p.byteLength - o);
  } finally {
    closeSync(fd);
  }
}

/** Writes `data` to `path` atomically (temp file + rename). */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  try {
    mkdirSync(dir, { recursive: true });
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw new FileError(`cannot write ${path}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Writes several files as one unit: each goes to a temp file first, and only when all are written are they renamed
 * into place. On any failure every temp file is removed and no target is touched.
 */
export function writeFilesAtomic(files: ReadonlyArray<{ path: string; data: OutputData }>): void {
  const temps: Array<{ tmp: string; path: string }> = [];
  try {
    for (const f of files) {
      const dir = dirname(f.path);
      mkdirSync(dir, { recursive: true });
      const tmp = join(dir, `.${basename(f.path)}.${process.pid}.${Date.now()}.tmp`);
      temps.push({ tmp, path: f.path });
      writeDataSync(tmp, f.data);
    }
  } catch (err) {
    for (const t of temps) rmSync(t.tmp, { force: true });
    throw new FileError(`cannot write outputs: ${(err as Error).message}`, { cause: err });
  }
  for (const t of temps) renameSync(t.tmp, t.path);
}
