/**
 * File access for the readers: every failure becomes a FileError with a one-line message that names the path, says
 * what is wrong with it and how to fix it. Only regular files are opened: a FIFO, socket or device given as an input
 * would block the read or return a stream instead of an image, so it is refused before anything opens it.
 */
import { type Stats, closeSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import { FileError } from '../errors.ts';
import type { Geometry, Mat3ColMajor, Vec3 } from '../volume/geometry.ts';

/** What is wrong with a path, as the end of a sentence that starts with the path ("... does not exist"), and the fix. */
export interface FileProblem {
  readonly problem: string;
  readonly fix: string;
}

/** The problem a file system error code stands for, in words (the code is kept in brackets for searches). */
export function fileProblemOf(err: unknown): FileProblem {
  const e = err as NodeJS.ErrnoException;
  const code = e?.code;
  switch (code) {
    case 'ENOENT':
      return { problem: 'does not exist', fix: 'check the path' };
    case 'ENOTDIR':
      return { problem: 'does not exist (a part of the path is a file, not a folder)', fix: 'check the path' };
    case 'ELOOP':
      return { problem: 'is a symbolic link that loops back on itself (ELOOP)', fix: 'point the link at the real file, or give the real path' };
    case 'EACCES':
    case 'EPERM':
      return { problem: `cannot be read: permission denied (${code})`, fix: 'give yourself read access (chmod/chown, or the folder\'s x permission), or copy the file somewhere readable' };
    case 'EISDIR':
      return { problem: 'is a folder, not a file', fix: 'give the image file itself' };
    case 'ENAMETOOLONG':
      return { problem: 'has a name too long for the file system (ENAMETOOLONG)', fix: 'check the path' };
    case 'EIO':
      return { problem: 'cannot be read: input/output error (EIO)', fix: 'the disk or network share failed; copy the file to a local disk and retry' };
    case 'EMFILE':
    case 'ENFILE':
      return { problem: `cannot be opened: too many open files (${code})`, fix: 'close other programs or raise the open-file limit (ulimit -n)' };
    case 'ENOMEM':
    case 'ERR_FS_FILE_TOO_LARGE':
      return { problem: `is too large to read into memory (${code})`, fix: 'crop or downsample the image first' };
    default: {
      const msg = e instanceof Error ? e.message.split('\n')[0] : String(err);
      return { problem: `cannot be read (${msg})`, fix: 'check the path and that the file is readable' };
    }
  }
}

/** The kind of a file that is neither a regular file nor a folder, in words. */
function specialKind(st: Stats): string {
  if (st.isFIFO()) return 'a named pipe (FIFO)';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  return 'not a regular file';
}

/**
 * Checks an input path before anything opens it and returns its stats: throws FileError when it is missing, a symbolic
 * link loop, not accessible, or neither a regular file nor (when `allowFolder`, e.g. a DICOM series) a folder. A FIFO
 * is refused here: reading one blocks until another program writes to it.
 */
export function checkInputPath(path: string, what = 'file', opts: { allowFolder?: boolean } = {}): Stats {
  let st: Stats;
  try {
    st = statSync(path);
  } catch (err) {
    const p = fileProblemOf(err);
    throw new FileError(`${what} ${path} ${p.problem}; ${p.fix}`, { cause: err });
  }
  if (st.isFile()) return st;
  if (st.isDirectory()) {
    if (opts.allowFolder) return st;
    throw new FileError(`${what} ${path} is a folder, not a file; give the image file itself`);
  }
  throw new FileError(
    `${what} ${path} is ${specialKind(st)}, not a regular file${opts.allowFolder ? ' or folder' : ''}; copy the data into a file and give that file`,
  );
}

/**
 * Reads a whole regular file; throws FileError (naming the path and the problem) when it is missing, a folder, a FIFO
 * or other special file, a symbolic link loop, or unreadable.
 */
export function readFileBytes(path: string, what = 'file'): Uint8Array {
  checkInputPath(path, what);
  try {
    const b = readFileSync(path);
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  } catch (err) {
    const p = fileProblemOf(err);
    throw new FileError(`${what} ${path} ${p.problem}; ${p.fix}`, { cause: err });
  }
}

/**
 * Reads `bytes.length` bytes of `file` from byte `from` straight into `bytes`, in reads of 64 MiB (no 2 GiB limit, no
 * second copy); throws `short(bytesRead)` when the file ends first.
 */
export function readFileRangeInto(file: string, bytes: Uint8Array, from: number, short: (bytesRead: number) => Error): void {
  const fd = openSync(file, 'r');
  try {
    for (let done = 0; done < bytes.length; ) {
      const n = readSync(fd, bytes, done, Math.min(64 << 20, bytes.length - done), from + done);
      if (n <= 0) throw short(done);
      done += n;
    }
  } finally {
    closeSync(fd);
  }
}

/** Lower-case file name, for extension checks (".nii.gz", ".seg.nrrd"). */
export function lowerName(path: string): string {
  return basename(path).toLowerCase();
}

/** The same geometry with -0 replaced by 0 (sign flips between RAS and LPS produce -0; it only confuses output). */
export function tidyGeometry(g: Geometry): Geometry {
  const z = (v: readonly number[]) => v.map((x) => x + 0);
  return {
    dims: g.dims,
    spacingMm: z(g.spacingMm) as unknown as Vec3,
    originLpsMm: z(g.originLpsMm) as unknown as Vec3,
    direction: z(g.direction) as unknown as Mat3ColMajor,
  };
}
