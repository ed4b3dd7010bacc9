/**
 * MetaImage (.mha, .mhd + raw) through itk-wasm's image IO (@itk-wasm/image-io, Node API).
 *
 * Frame: ITK images are in LPS mm already. Matrix order: itk-wasm's `Image.direction` is the itk::Matrix's data
 * block, ROW-major: direction[r * 3 + c] is row r, column c, and column c is the LPS unit vector of index axis c.
 * (Verified by the round-trip test test/io/orientation.test.ts with a hand-written MetaImage whose TransformMatrix
 * lists the axis vectors; the docs' wording suggests the opposite.) Our Geometry is column-major, so the two
 * conversions below transpose, and nothing else does.
 */
import { dirname, isAbsolute, join } from 'node:path';
import { FileError, FormatError } from '../errors.ts';
import type { Geometry, Mat3ColMajor, Vec3 } from '../volume/geometry.ts';
import { type Volume, type VoxelArray, makeVolume } from '../volume/volume.ts';
import { checkInputPath, readFileBytes, tidyGeometry } from './files.ts';
import { voxelTypeOf } from './typed.ts';

/** itk-wasm row-major direction (Float64Array of 9) -> our column-major direction. */
export function itkDirectionToColMajor(rowMajor: ArrayLike<number>): Mat3ColMajor {
  const d: number[] = [];
  for (let c = 0; c < 3; c++) for (let r = 0; r < 3; r++) d.push(rowMajor[r * 3 + c]);
  return d as unknown as Mat3ColMajor;
}

/** Our column-major direction -> itk-wasm row-major direction. */
export function colMajorToItkDirection(colMajor: Mat3ColMajor): Float64Array {
  const d = new Float64Array(9);
  for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) d[r * 3 + c] = colMajor[r + 3 * c];
  return d;
}

const MET_BYTES: Readonly<Record<string, number>> = {
  MET_CHAR: 1, MET_UCHAR: 1, MET_SHORT: 2, MET_USHORT: 2, MET_INT: 4, MET_UINT: 4, MET_LONG: 4, MET_ULONG: 4,
  MET_LONG_LONG: 8, MET_ULONG_LONG: 8, MET_FLOAT: 4, MET_DOUBLE: 8,
};

/**
 * Checks a MetaImage header before handing the file to itk-wasm, so that the common faults (missing data file,
 * truncated uncompressed data) get a clear one-line message: MetaIO's own errors are numeric exceptions.
 */
function precheckMetaImage(path: string): void {
  const bytes = readFileBytes(path, 'image');
  const head = Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.length, 65536)).toString('latin1');
  const fields = new Map<string, string>();
  let dataStart = -1;
  let pos = 0;
  while (pos < head.length) {
    const e = head.indexOf('\n', pos);
    if (e < 0) break;
    const line = head.slice(pos, e).replace(/\r$/, '');
    pos = e + 1;
    const m = /^\s*([A-Za-z_]+)\s*=\s*(.*?)\s*$/.exec(line);
    if (!m) break;
    fields.set(m[1].toLowerCase(), m[2]);
    if (m[1].toLowerCase() === 'elementdatafile') {
      dataStart = pos;
      break;
    }
  }
  const edf = fields.get('elementdatafile');
  if (!fields.has('ndims') || !fields.has('dimsize') || !fields.has('elementtype') || edf === undefined) {
    throw new FormatError(`${path}: not a MetaImage file (NDims, DimSize, ElementType or ElementDataFile missing from the header)`);
  }
  const compressed = /^true$/i.test(fields.get('compresseddata') ?? 'false');
  const dims = (fields.get('dimsize') ?? '').split(/\s+/).map(Number);
  const channels = Number(fields.get('elementnumberofchannels') ?? 1);
  const bpv = MET_BYTES[(fields.get('elementtype') ?? '').toUpperCase()];
  if (bpv === undefined) throw new FormatError(`${path}: MetaImage ElementType ${fields.get('elementtype')} is not supported`);
  const need = dims.reduce((p, d) => p * d, 1) * channels * bpv;
  let have: number;
  let where: string;
  if (edf.toUpperCase() === 'LOCAL') {
    have = bytes.length - dataStart;
    where = path;
  } else {
    if (/^(LIST|.*%)/i.test(edf)) return; // file lists: left to MetaIO
    where = isAbsolute(edf) ? edf : join(dirname(path), edf);
    try {
      have = checkInputPath(where, 'data file').size;
    } catch (err) {
      if (!(err instanceof FileError)) throw err;
      const why = err.message.slice(`data file ${where} `.length);
      throw new FileError(`MetaImage header ${path} points to the data file ${where}, which ${why}`, { cause: err });
    }
  }
  if (!compressed && have < need) {
    throw new FormatError(
      `${where}: MetaImage data is truncated or the header disagrees with it: DimSize ${dims.join('x')} of ${fields.get('elementtype')} needs ${need} bytes, the file has ${have}`,
    );
  }
}

/** Reads a MetaImage (.mha / .mhd) into a 3-D volume in LPS mm. */
export async function readMha(path: string): Promise<Volume> {
  precheckMetaImage(path);
  const { readImageNode } = await import('@itk-wasm/image-io');
  let img;
  try {
    img = await readImageNode(path);
  } catch (err) {
    const why = err instanceof Error ? `: ${err.message.split('\n')[0]}` : '';
    throw new FormatError(`${path}: itk-wasm cannot read the MetaImage${why}; the file is truncated or corrupt`, {
      cause: err,
    });
  }
  const t = img.imageType;
  if (t.components !== 1) throw new FormatError(`${path}: has ${t.components} components per voxel; a scalar image is expected`);
  const size = img.size.map(Number);
  if (size.length < 2 || size.length > 4 || size.slice(3).some((s) => s > 1)) {
    throw new FormatError(`${path}: is a ${size.length}-D image (size ${size.join('x')}); a 3-D image is expected: extract the one frame to use`);
  }
  const data = img.data;
  const ok = [Int8Array, Uint8Array, Int16Array, Uint16Array, Int32Array, Uint32Array, Float32Array, Float64Array].some((C) => data instanceof C);
  if (!data || !ok) throw new FormatError(`${path}: voxel type ${t.componentType} is not supported; use 8-, 16-, 32-bit integers or floats`);
  const n = size.length;
  const dims: [number, number, number] = [size[0], size[1], n > 2 ? size[2] : 1];
  const spacing = img.spacing.map(Number);
  const origin = img.origin.map(Number);
  let direction: Mat3ColMajor;
  const dirIn = Array.from(img.direction as ArrayLike<number | bigint>, Number);
  if (n === 2) {
    direction = [dirIn[0], dirIn[2], 0, dirIn[1], dirIn[3], 0, 0, 0, 1];
    spacing.push(1);
    origin.push(0);
  } else {
    // For a 4-D image of one frame, take the spatial 3x3 block of the 4x4 row-major direction.
    const rm = n === 4 ? [0, 1, 2, 4, 5, 6, 8, 9, 10].map((i) => dirIn[i]) : dirIn;
    direction = itkDirectionToColMajor(rm);
  }
  for (let a = 0; a < 3; a++) {
    if (!(spacing[a] > 0)) throw new FormatError(`${path}: voxel spacing along axis ${a} is ${spacing[a]} mm; spacing must be positive`);
  }
  const geometry: Geometry = {
    dims,
    spacingMm: spacing.slice(0, 3) as unknown as Vec3,
    originLpsMm: origin.slice(0, 3) as unknown as Vec3,
    direction,
  };
  const count = dims[0] * dims[1] * dims[2];
  if (data.length !== count) {
    throw new FormatError(`${path}: holds ${data.length} values but its size ${dims.join('x')} needs ${count}; the file is truncated or corrupt`);
  }
  return makeVolume(tidyGeometry(geometry), data as VoxelArray, path);
}

/** Writes a volume as a MetaImage (.mha, compressed) through itk-wasm. Not atomic (itk-wasm writes the file). */
export async function writeMha(path: string, volume: Volume): Promise<void> {
  const { writeImageNode } = await import('@itk-wasm/image-io');
  const { Image, ImageType } = await import('itk-wasm');
  const g = volume.geometry;
  const ct = voxelTypeOf(volume.data);
  const img = new Image(new ImageType(3, ct, 'Scalar', 1));
  img.size = [...g.dims];
  img.spacing = [...g.spacingMm];
  img.origin = [...g.originLpsMm];
  img.direction = colMajorToItkDirection(g.direction);
  // itk-wasm reads the array's whole .buffer: hand it a copy when the voxels are a view into a larger buffer
  const d = volume.data;
  img.data = d.byteOffset === 0 && d.byteLength === d.buffer.byteLength ? d : d.slice();
  try {
    await writeImageNode(img, path, { useCompression: true });
  } catch (err) {
    throw new FileError(`cannot write ${path}: ${String((err as Error)?.message ?? err)}`, { cause: err });
  }
}
