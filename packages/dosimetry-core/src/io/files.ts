/**
 * File access for the readers: every failure becomes a FileError with a one-line message.
 */
import { readFileSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import { FileError } from '../errors.ts';
import type { Geometry, Mat3ColMajor, Vec3 } from '../volume/geometry.ts';

/** Reads a whole file; throws FileError when it is missing, a folder, or unreadable. */
export function readFileBytes(path: string, what = 'file'): Uint8Array {
  let st;
  try {
    st = statSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new FileError(`${what} ${path} does not exist; check the path`, { cause: err });
    throw new FileError(`cannot read ${what} ${path}: ${(err as Error).message}`, { cause: err });
  }
  if (st.isDirectory()) throw new FileError(`${what} ${path} is a folder, not a file; give the image file itself`);
  try {
    const b = readFileSync(path);
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  } catch (err) {
    throw new FileError(`cannot read ${what} ${path}: ${(err as Error).message}`, { cause: err });
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
