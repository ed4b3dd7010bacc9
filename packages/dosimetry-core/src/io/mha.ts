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
import { checkInputPath, readFileRangeInto, tidyGeometry } from './files.ts';
import { HOST_LITTLE_ENDIAN, type VoxelType, allocVoxels, bytesPerVoxel, swapBytesInPlace, voxelTypeOf } from './typed.ts';
import { closeSync, createReadStream, openSync, readSync } from 'node:fs';
import { nodeBuiltin } from '../node-builtin.ts';
import { parseDecimal } from '../units/decimal.ts';

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
function precheckMetaImage(path: string, h: MetaImageHeader): void {
  const fields = h.fields;
  const edf = fields.get('elementdatafile');
  if (!fields.has('ndims') || !fields.has('dimsize') || !fields.has('elementtype') || edf === undefined) {
    throw new FormatError(`${path}: not a MetaImage file (NDims, DimSize, ElementType or ElementDataFile missing from the header)`);
  }
  const compressed = /^true$/i.test(fields.get('compresseddata') ?? 'false');
  const dims = (fields.get('dimsize') ?? '').split(/\s+/).map(Number);
  const bpv = MET_BYTES[(fields.get('elementtype') ?? '').toUpperCase()];
  if (bpv === undefined) throw new FormatError(`${path}: MetaImage ElementType ${fields.get('elementtype')} is not supported`);
  if (edf.toUpperCase() !== 'LOCAL' && /^(LIST|.*%)/i.test(edf)) return; // file lists: left to MetaIO
  checkDataFile(path, h);
  const have = h.dataFileBytes - h.dataStart;
  if (!compressed && have < h.needBytes) {
    throw new FormatError(
      `${h.dataFile}: MetaImage data is truncated or the header disagrees with it: DimSize ${dims.join('x')} of ${fields.get('elementtype')} needs ${h.needBytes} bytes, the file has ${have}`,
    );
  }
}

/** Throws a FileError naming the header and the data file when a detached data file cannot be read. */
function checkDataFile(path: string, h: MetaImageHeader): void {
  if (h.dataFileBytes >= 0) return;
  try {
    checkInputPath(h.dataFile, 'data file');
  } catch (err) {
    if (!(err instanceof FileError)) throw err;
    const why = err.message.slice(`data file ${h.dataFile} `.length);
    throw new FileError(`MetaImage header ${path} points to the data file ${h.dataFile}, which ${why}`, { cause: err });
  }
}

/**
 * MetaImage data above this size [bytes] (voxels, or the file that holds them) is read by `readMhaStreamed` rather
 * than itk-wasm (whose WebAssembly memory and single file read stop at 2-4 GiB): 1 GiB.
 */
export const MHA_STREAM_BYTES = 1024 ** 3;

/** Reads a MetaImage (.mha / .mhd) into a 3-D volume in LPS mm. */
export async function readMha(path: string, opts: { streamAboveBytes?: number } = {}): Promise<Volume> {
  const limit = opts.streamAboveBytes ?? MHA_STREAM_BYTES;
  const h = metaImageHeader(path);
  if (h.needBytes > limit || h.dataFileBytes > limit) return readMhaStreamed(path, h);
  precheckMetaImage(path, h);
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

/** A MetaImage header as `readMhaStreamed` uses it (field names lower-case). */
interface MetaImageHeader {
  readonly fields: ReadonlyMap<string, string>;
  /** Where the data starts in `dataFile` (LOCAL: just after the ElementDataFile line). */
  readonly dataStart: number;
  /** The file holding the data (the header file itself for LOCAL). */
  readonly dataFile: string;
  /** Size of `dataFile` [bytes]; -1 when it cannot be read (the reader says why). */
  readonly dataFileBytes: number;
  /** Voxel bytes the header describes (DimSize x channels x element size); 0 when it cannot tell. */
  readonly needBytes: number;
}

/** Reads the header lines of a MetaImage (up to ElementDataFile, which ends it) from the first 64 KiB. */
function metaImageHeader(path: string): MetaImageHeader {
  const st = checkInputPath(path, 'image');
  const head = new Uint8Array(Math.min(st.size, 65536));
  const fd = openSync(path, 'r');
  try {
    readSync(fd, head, 0, head.length, 0);
  } finally {
    closeSync(fd);
  }
  const text = Buffer.from(head.buffer, head.byteOffset, head.length).toString('latin1');
  const fields = new Map<string, string>();
  let dataStart = -1;
  for (let pos = 0; pos < text.length; ) {
    const e = text.indexOf('\n', pos);
    if (e < 0) break;
    const m = /^\s*([A-Za-z_]+)\s*=\s*(.*?)\s*$/.exec(text.slice(pos, e).replace(/\r$/, ''));
    pos = e + 1;
    if (!m) break;
    fields.set(m[1].toLowerCase(), m[2]);
    if (m[1].toLowerCase() === 'elementdatafile') {
      dataStart = pos;
      break;
    }
  }
  const edf = fields.get('elementdatafile');
  const dims = (fields.get('dimsize') ?? '').split(/\s+/).filter(Boolean).map(Number);
  const bpv = MET_BYTES[(fields.get('elementtype') ?? '').toUpperCase()] ?? 0;
  const channels = Number(fields.get('elementnumberofchannels') ?? 1);
  const needBytes = dims.length && dims.every((d) => Number.isInteger(d) && d > 0) && Number.isInteger(channels) ? dims.reduce((p, d) => p * d, 1) * channels * bpv : 0;
  if (edf === undefined || edf.toUpperCase() === 'LOCAL' || /^(LIST|.*%)/i.test(edf)) {
    return { fields, dataStart: Math.max(0, dataStart), dataFile: path, dataFileBytes: st.size, needBytes };
  }
  const dataFile = isAbsolute(edf) ? edf : join(dirname(path), edf);
  let dataFileBytes = -1;
  try {
    dataFileBytes = checkInputPath(dataFile, 'data file').size;
  } catch {
    // precheckMetaImage / readMhaStreamed name the missing data file
  }
  return { fields, dataStart: 0, dataFile, dataFileBytes, needBytes };
}

const MET_TYPES: Readonly<Record<string, VoxelType>> = {
  MET_CHAR: 'int8', MET_UCHAR: 'uint8', MET_SHORT: 'int16', MET_USHORT: 'uint16', MET_INT: 'int32', MET_UINT: 'uint32',
  MET_LONG: 'int32', MET_ULONG: 'uint32', MET_FLOAT: 'float32', MET_DOUBLE: 'float64',
};

/**
 * Reads a MetaImage of any size (Node) with the project's own header parser: uncompressed data (in the .mha, or one
 * detached file, with HeaderSize) is read in 64 MiB pieces straight into the voxel array, zlib-compressed data
 * (CompressedData = True) inflated on the fly. Geometry as ITK's MetaImageIO reads it: Offset (or Origin, Position)
 * in LPS mm, TransformMatrix (or Rotation, Orientation) listing the LPS direction of each index axis in turn,
 * ElementSpacing (or ElementSize). Scalar 3-D images only (a 4th axis of size 1 is allowed).
 */
export async function readMhaStreamed(path: string, header?: MetaImageHeader): Promise<Volume> {
  const h = header ?? metaImageHeader(path);
  const f = h.fields;
  const req = (k: string, name: string) => {
    const v = f.get(k);
    if (v === undefined) throw new FormatError(`${path}: not a MetaImage file (${name} missing from the header)`);
    return v;
  };
  const edf = req('elementdatafile', 'ElementDataFile');
  const nums = (k: string, what: string, n: number, dflt?: number[]) => {
    const text = f.get(k);
    if (text === undefined) {
      if (dflt) return dflt;
      throw new FormatError(`${path}: MetaImage header lacks ${what}`);
    }
    const v = text.split(/\s+/).filter(Boolean).map((x) => parseDecimal(x) ?? NaN);
    if (v.length < n || v.some((x) => !Number.isFinite(x))) throw new FormatError(`${path}: MetaImage ${what} "${text}" is not ${n} numbers`);
    return v;
  };
  const nd = Number(req('ndims', 'NDims'));
  const size = nums('dimsize', 'DimSize', nd);
  if (!(nd >= 2 && nd <= 4) || size.length !== nd || size.some((s) => !Number.isInteger(s) || s < 1) || size.slice(3).some((s) => s > 1)) {
    throw new FormatError(`${path}: is a ${nd}-D image (size ${size.join('x')}); a 3-D image is expected: extract the one frame to use`);
  }
  const channels = Number(f.get('elementnumberofchannels') ?? 1);
  if (channels !== 1) throw new FormatError(`${path}: has ${channels} components per voxel; a scalar image is expected`);
  const elementType = req('elementtype', 'ElementType').toUpperCase();
  const type = MET_TYPES[elementType];
  if (!type) throw new FormatError(`${path}: voxel type ${elementType} is not supported; use 8-, 16-, 32-bit integers or floats`);
  if (edf.toUpperCase() !== 'LOCAL' && /^(LIST|.*%)/i.test(edf)) {
    throw new FormatError(`${path}: MetaImage "ElementDataFile = ${edf}" (several data files) is not supported above ${(MHA_STREAM_BYTES / 2 ** 30).toFixed(0)} GiB; join the slices into one file`);
  }
  const dims: [number, number, number] = [size[0], size[1], nd > 2 ? size[2] : 1];
  const d3 = (v: number[]) => [v[0], v[1], nd > 2 ? v[2] : 0];
  const spacing = d3(nums(f.has('elementspacing') ? 'elementspacing' : 'elementsize', 'ElementSpacing', nd, [1, 1, 1, 1]));
  if (nd === 2) spacing[2] = 1;
  const originKey = ['offset', 'origin', 'position'].find((k) => f.has(k));
  const origin = d3(originKey ? nums(originKey, 'Offset', nd) : [0, 0, 0, 0]);
  const matrixKey = ['transformmatrix', 'rotation', 'orientation'].find((k) => f.has(k));
  const m = matrixKey ? nums(matrixKey, 'TransformMatrix', nd * nd) : undefined;
  // the axis vectors in turn, each nd long; our direction is column-major: column a = index axis a
  const direction = (
    m ? [0, 1, 2].flatMap((a) => [0, 1, 2].map((r) => (a < nd && r < nd ? m[a * nd + r] : a === r ? 1 : 0))) : [1, 0, 0, 0, 1, 0, 0, 0, 1]
  ) as unknown as Mat3ColMajor;
  for (let a = 0; a < 3; a++) {
    if (!(spacing[a] > 0)) throw new FormatError(`${path}: voxel spacing along axis ${a} is ${spacing[a]} mm; spacing must be positive`);
  }
  const count = dims[0] * dims[1] * dims[2];
  const bpv = bytesPerVoxel(type);
  const needBytes = count * bpv;
  checkDataFile(path, h);
  const msb = /^true$/i.test(f.get('binarydatabyteordermsb') ?? f.get('elementbyteordermsb') ?? 'false');
  const compressed = /^true$/i.test(f.get('compresseddata') ?? 'false');
  const target = allocVoxels(type, count);
  const bytes = new Uint8Array(target.buffer, target.byteOffset, target.byteLength);
  const where = h.dataFile;
  const lengthError = (have: number) =>
    new FormatError(
      `${where}: MetaImage data is truncated or the header disagrees with it: DimSize ${dims.join('x')} of ${elementType} needs ${needBytes} bytes, the ${compressed ? 'decompressed data has' : 'file has'} ${have}`,
    );
  let start = h.dataStart;
  if (!compressed) {
    const headerSize = Number(f.get('headersize') ?? 0);
    if (edf.toUpperCase() !== 'LOCAL') start = headerSize === -1 ? h.dataFileBytes - needBytes : headerSize;
    if (h.dataFileBytes - start < needBytes || start < 0) throw lengthError(Math.max(0, h.dataFileBytes - Math.max(0, start)));
    readFileRangeInto(where, bytes, start, lengthError);
  } else {
    const zlib = nodeBuiltin<typeof import('node:zlib')>('node:zlib');
    if (!zlib) throw new FormatError(`${path}: streamed reading needs Node's zlib`);
    const stream = createReadStream(where, { start, highWaterMark: 8 << 20 });
    let decoded = 0;
    try {
      for await (const buf of stream.pipe(zlib.createInflate({ chunkSize: 4 << 20 })) as AsyncIterable<Buffer>) {
        const take = Math.min(buf.length, needBytes - decoded);
        if (take > 0) bytes.set(new Uint8Array(buf.buffer, buf.byteOffset, take), decoded);
        decoded += buf.length;
      }
    } catch (err) {
      throw new FormatError(`${where}: MetaImage compressed data is truncated or corrupt (${(err as Error).message}); re-export or re-copy the file`, { cause: err });
    } finally {
      stream.destroy();
    }
    if (decoded < needBytes) throw lengthError(decoded);
  }
  if (bpv > 1 && msb === HOST_LITTLE_ENDIAN) swapBytesInPlace(target, bpv);
  const geometry: Geometry = { dims, spacingMm: spacing as unknown as Vec3, originLpsMm: origin as unknown as Vec3, direction };
  return makeVolume(tidyGeometry(geometry), target, path);
}
