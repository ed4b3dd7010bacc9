/**
 * NIfTI-1 and NIfTI-2 (.nii, .nii.gz): reading into a Volume in LPS mm, and writing float32 NIfTI-1.
 *
 * Geometry follows the NIfTI-1 standard (nifti1.h, "METHOD 1/2/3"), in this order:
 *   sform_code > 0  -> the sform rows srow_x/y/z (METHOD 3);
 *   else qform_code > 0 -> quaternion (quatern_b/c/d), qoffset and pixdim, with qfac = pixdim[0] < 0 ? -1 : 1
 *                          (METHOD 2, as nifti1_io.c quatern_to_mat44);
 *   else            -> ANALYZE 7.5 fallback, diag(pixdim[1..3]) and a zero origin (METHOD 1).
 * The resulting index-to-RAS affine becomes LPS only through `rasAffineToLps` (volume/orientation.ts).
 * Lengths in metres or microns (xyzt_units) are converted to mm.
 * Values are scaled by scl_slope/scl_inter when scl_slope is nonzero (nifti1.h: y = scl_slope * x + scl_inter).
 */
import * as nifti from 'nifti-reader-js';
import { FormatError } from '../errors.ts';
import { type Geometry, type Mat4ColMajor, indexToLpsAffine, geometryFromLpsAffine } from '../volume/geometry.ts';
import { lpsAffineToRas, rasAffineToLps } from '../volume/orientation.ts';
import { type Volume, type VoxelArray, makeVolume, toFloat32 } from '../volume/volume.ts';
import { writeFileAtomic } from './atomic.ts';
import { checkInputPath, readFileBytes, tidyGeometry } from './files.ts';
import { nodeBuiltin } from '../node-builtin.ts';
import { gunzipChecked, gunzipCheckedAsync, gzipDeterministic, gzipDeterministicAsync, gzipDeterministicAsyncPieces, isGzip } from './gzip.ts';
import { HOST_LITTLE_ENDIAN, type VoxelType, allocVoxels, bytesPerVoxel, swapBytesInPlace, typedFromBytes, typedOverBytes } from './typed.ts';

/** NIfTI datatype codes (nifti1.h) of the supported scalar types. */
const NIFTI_TYPES: ReadonlyMap<number, VoxelType> = new Map([
  [2, 'uint8'],
  [4, 'int16'],
  [8, 'int32'],
  [16, 'float32'],
  [64, 'float64'],
  [256, 'int8'],
  [512, 'uint16'],
  [768, 'uint32'],
]);

const NIFTI_TYPE_NAMES: Readonly<Record<number, string>> = {
  1: 'binary (1 bit)',
  32: 'complex64',
  128: 'RGB24',
  511: 'float128',
  1024: 'int64',
  1280: 'uint64',
  1536: 'float128',
  1792: 'complex128',
  2048: 'complex256',
  2304: 'RGBA32',
};

/** Which NIfTI method gave the geometry. */
export type NiftiTransform = 'sform' | 'qform' | 'pixdim';

/** A decoded NIfTI image. */
export interface NiftiImage {
  /** The 3-D volume (values scaled by scl_slope/scl_inter when those apply), geometry in LPS mm. */
  readonly volume: Volume;
  /** NIfTI version of the header (1 or 2). */
  readonly version: 1 | 2;
  /** Which of sform / qform / pixdim the geometry came from. */
  readonly transform: NiftiTransform;
  /** The header's `descrip` text. */
  readonly description: string;
}

/**
 * Index-to-RAS affine (column-major) from a NIfTI quaternion, after nifti1_io.c `quatern_to_mat44`:
 * a = sqrt(1 - b^2 - c^2 - d^2) (renormalised to a = 0 when b^2 + c^2 + d^2 > 1), R from (a, b, c, d),
 * column k of R scaled by qfac, and columns by the voxel sizes dx, dy, dz [mm].
 */
export function quaternToRasAffine(
  q: { b: number; c: number; d: number; qx: number; qy: number; qz: number },
  spacingMm: readonly [number, number, number],
  qfac: 1 | -1,
): Mat4ColMajor {
  let { b, c, d } = q;
  let a = 1 - (b * b + c * c + d * d);
  if (a < 1e-7) {
    // Special case in nifti1_io.c: a 180-degree rotation, renormalise (b, c, d).
    const n = 1 / Math.sqrt(b * b + c * c + d * d);
    b *= n;
    c *= n;
    d *= n;
    a = 0;
  } else a = Math.sqrt(a);
  const r = [
    [a * a + b * b - c * c - d * d, 2 * (b * c - a * d), 2 * (b * d + a * c)],
    [2 * (b * c + a * d), a * a + c * c - b * b - d * d, 2 * (c * d - a * b)],
    [2 * (b * d - a * c), 2 * (c * d + a * b), a * a + d * d - c * c - b * b],
  ];
  const [dx, dy, dz] = spacingMm;
  const m = new Array<number>(16).fill(0);
  for (let row = 0; row < 3; row++) {
    m[row] = r[row][0] * dx;
    m[row + 4] = r[row][1] * dy;
    m[row + 8] = r[row][2] * dz * qfac;
  }
  m[12] = q.qx;
  m[13] = q.qy;
  m[14] = q.qz;
  m[15] = 1;
  return m as unknown as Mat4ColMajor;
}

/**
 * Quaternion and qfac of the rotation part of an orthonormal index-to-RAS direction (column-major 3x3), after
 * nifti1_io.c `mat44_to_quatern`: qfac = -1 when det < 0 (third column negated), then (a, b, c, d) with a >= 0.
 */
export function directionToQuatern(dirRas: ArrayLike<number>): { b: number; c: number; d: number; qfac: 1 | -1 } {
  const R = (row: number, col: number) => dirRas[row + 3 * col];
  const det =
    R(0, 0) * (R(1, 1) * R(2, 2) - R(1, 2) * R(2, 1)) -
    R(0, 1) * (R(1, 0) * R(2, 2) - R(1, 2) * R(2, 0)) +
    R(0, 2) * (R(1, 0) * R(2, 1) - R(1, 1) * R(2, 0));
  const qfac: 1 | -1 = det < 0 ? -1 : 1;
  const r11 = R(0, 0), r12 = R(0, 1), r13 = R(0, 2) * qfac;
  const r21 = R(1, 0), r22 = R(1, 1), r23 = R(1, 2) * qfac;
  const r31 = R(2, 0), r32 = R(2, 1), r33 = R(2, 2) * qfac;
  let a = r11 + r22 + r33 + 1;
  let b: number, c: number, d: number;
  if (a > 0.5) {
    a = 0.5 * Math.sqrt(a);
    b = (0.25 * (r32 - r23)) / a;
    c = (0.25 * (r13 - r31)) / a;
    d = (0.25 * (r21 - r12)) / a;
  } else {
    const xd = 1 + r11 - (r22 + r33);
    const yd = 1 + r22 - (r11 + r33);
    const zd = 1 + r33 - (r11 + r22);
    if (xd > 1) {
      b = 0.5 * Math.sqrt(xd);
      c = (0.25 * (r12 + r21)) / b;
      d = (0.25 * (r13 + r31)) / b;
      a = (0.25 * (r32 - r23)) / b;
    } else if (yd > 1) {
      c = 0.5 * Math.sqrt(yd);
      b = (0.25 * (r12 + r21)) / c;
      d = (0.25 * (r23 + r32)) / c;
      a = (0.25 * (r13 - r31)) / c;
    } else {
      d = 0.5 * Math.sqrt(zd);
      b = (0.25 * (r13 + r31)) / d;
      c = (0.25 * (r23 + r32)) / d;
      a = (0.25 * (r21 - r12)) / d;
    }
    if (a < 0) {
      b = -b;
      c = -c;
      d = -d;
    }
  }
  return { b, c, d, qfac };
}

/**
 * The shortest decimal that rounds to the same float32 as `x` (NIfTI-1 stores geometry and scaling as float32, so
 * 3.2 is stored as 3.2000000476837158; reading it back as 3.2 keeps grids written by other tools comparable).
 */
export function shortestFloat32(x: number): number {
  const f = Math.fround(x);
  if (!Number.isFinite(f) || f === 0) return f;
  for (let p = 1; p <= 9; p++) {
    const c = Number(f.toPrecision(p));
    if (Math.fround(c) === f) return c;
  }
  return f;
}

function positiveSpacing(s: number[], name: string, source: string): [number, number, number] {
  for (let a = 0; a < 3; a++) {
    if (!(s[a] > 0) || !Number.isFinite(s[a])) {
      throw new FormatError(
        `${name}: voxel spacing along axis ${a} is ${s[a]} mm (from the ${source}); spacing must be positive: fix the header`,
      );
    }
  }
  return [s[0], s[1], s[2]];
}

/**
 * Decodes a NIfTI-1 or NIfTI-2 single file (.nii, optionally gzipped) into a 3-D volume.
 * `name` is used in error messages. Throws FormatError for a bad header, truncated data, an unsupported datatype,
 * or an image with more than one frame (dim[4..7] > 1).
 */
export function decodeNifti(fileBytes: Uint8Array, name: string): NiftiImage {
  return decodeInflatedNifti(isGzip(fileBytes) ? gunzipChecked(fileBytes, name) : fileBytes, name, false);
}

/**
 * Reads a .nii or .nii.gz file like `readNifti`, but a gzipped file is inflated in the thread pool (Node), and the
 * voxels are a view into the inflated bytes instead of a copy where their offset and byte order allow.
 */
export async function readNiftiAsync(path: string, what = 'image'): Promise<NiftiImage> {
  const size = checkInputPath(path, what).size;
  // large files are streamed straight into the voxel array: no 2 GiB read limit, no second copy of the file
  if (size > NIFTI_STREAM_BYTES && nodeBuiltin('node:fs')) return readNiftiStreamed(path, what);
  const fileBytes = readFileBytes(path, what);
  if (!isGzip(fileBytes)) return decodeInflatedNifti(fileBytes, path, false);
  const n = fileBytes.length;
  const isize = n >= 18 ? (fileBytes[n - 4] | (fileBytes[n - 3] << 8) | (fileBytes[n - 2] << 16) | (fileBytes[n - 1] << 24)) >>> 0 : 0;
  if (isize > NIFTI_STREAM_BYTES && nodeBuiltin('node:fs')) return readNiftiStreamed(path, what);
  let inflated: Uint8Array;
  try {
    inflated = await gunzipCheckedAsync(fileBytes, path);
  } catch (err) {
    // more than a Buffer holds (4 GiB; the trailer gives the length only mod 2^32): inflate it as a stream instead
    if (nodeBuiltin('node:fs') && /larger than|buffer length|Array buffer allocation|kMaxLength|Cannot create a Buffer/i.test(String((err as Error)?.cause ?? err))) {
      return readNiftiStreamed(path, what);
    }
    throw err;
  }
  return decodeInflatedNifti(inflated, path, true);
}

/**
 * Files (or inflated .nii.gz contents) above this size [bytes] are read by `readNiftiStreamed`: 1 GiB, well below
 * the 2 GiB that one file read can return and the 4 GiB one Buffer can hold.
 */
export const NIFTI_STREAM_BYTES = 1024 ** 3;

/**
 * Reads a .nii or .nii.gz file of any size (Node): the file (inflated on the fly when gzipped) is streamed and its
 * voxel bytes copied straight into the voxel array, so the peak memory is the voxels plus a few MiB of buffers, and
 * files over 2 GiB (or inflating to over 4 GiB) are read. Same checks and errors as `decodeNifti`; a file that ends
 * before its voxels do is refused as truncated, a corrupt gzip stream as corrupt.
 */
export async function readNiftiStreamed(path: string, what = 'image'): Promise<NiftiImage> {
  const fs = nodeBuiltin<typeof import('node:fs')>('node:fs');
  const zlib = nodeBuiltin<typeof import('node:zlib')>('node:zlib');
  if (!fs || !zlib) throw new FormatError(`${path}: streamed reading needs Node's fs and zlib`);
  checkInputPath(path, what);
  const first = new Uint8Array(2);
  const fd = fs.openSync(path, 'r');
  try {
    fs.readSync(fd, first, 0, 2, 0);
  } finally {
    fs.closeSync(fd);
  }
  const file = fs.createReadStream(path, { highWaterMark: 8 << 20 });
  const gz = isGzip(first);
  const stream: AsyncIterable<Buffer> = gz ? file.pipe(zlib.createGunzip({ chunkSize: 4 << 20 })) : file;
  const HEAD = 544; // NIfTI-2 header (540) + extension flag; a NIfTI-1 file of 348 + 4 bytes is shorter than that
  let head = new Uint8Array(0);
  let plan: NiftiPlan | undefined;
  let target: VoxelArray | undefined;
  let targetBytes = 0;
  let position = 0; // bytes of the (inflated) file seen so far
  const copyInto = (chunk: Uint8Array, chunkStart: number) => {
    const p = plan!;
    const from = Math.max(chunkStart, p.voxOffset);
    const to = Math.min(chunkStart + chunk.length, p.voxOffset + targetBytes);
    if (to <= from) return;
    new Uint8Array(target!.buffer, target!.byteOffset + (from - p.voxOffset), to - from).set(chunk.subarray(from - chunkStart, to - chunkStart));
  };
  try {
    for await (const buf of stream) {
      const chunk = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
      if (!plan) {
        const joined = new Uint8Array(head.length + chunk.length);
        joined.set(head);
        joined.set(chunk, head.length);
        head = joined;
        position += chunk.length;
        if (head.length < HEAD) continue;
        plan = parseNiftiHeader(head, path, undefined);
        target = allocVoxels(plan.type, plan.count);
        targetBytes = plan.count * bytesPerVoxel(plan.type);
        copyInto(head, 0);
        continue;
      }
      copyInto(chunk, position);
      position += chunk.length;
    }
  } catch (err) {
    if (err instanceof FormatError) throw err;
    throw new FormatError(`${path}: ${gz ? 'gzip data is truncated or corrupt' : 'the file could not be read to its end'} (${(err as Error).message}); re-export or re-copy the file`, {
      cause: err,
    });
  } finally {
    file.destroy();
  }
  if (!plan) {
    plan = parseNiftiHeader(head, path, head.length); // a short file: refused here as truncated, or read whole
    return finishNifti(plan, typedFromBytes(head, plan.voxOffset, plan.type, plan.count, plan.littleEndian), path);
  }
  if (position < plan.needBytes) {
    const g = plan.geometry.dims;
    throw niftiTruncated(path, [g[0], g[1], g[2]], plan.type, plan.voxOffset, plan.needBytes, position);
  }
  const bpv = bytesPerVoxel(plan.type);
  if (bpv > 1 && plan.littleEndian !== HOST_LITTLE_ENDIAN) swapBytesInPlace(target!, bpv);
  return finishNifti(plan, target!, path);
}

/** `decodeNifti` of uncompressed bytes; `owned`: nobody else holds them, so the voxels may be a view into them. */
function decodeInflatedNifti(bytes: Uint8Array, name: string, owned: boolean): NiftiImage {
  const plan = parseNiftiHeader(bytes, name, bytes.length);
  const data = (owned ? typedOverBytes : typedFromBytes)(bytes, plan.voxOffset, plan.type, plan.count, plan.littleEndian);
  return finishNifti(plan, data, name);
}

/** What the header says: geometry, voxel type and where the voxels lie (see `parseNiftiHeader`). */
interface NiftiPlan {
  readonly version: 1 | 2;
  readonly transform: NiftiTransform;
  readonly geometry: Geometry;
  readonly type: VoxelType;
  readonly count: number;
  readonly voxOffset: number;
  /** voxOffset + the voxels' bytes: the length the (inflated) file must have. */
  readonly needBytes: number;
  readonly littleEndian: boolean;
  readonly slope: number;
  readonly inter: number;
  readonly description: string;
}

/**
 * Parses and checks a NIfTI header from the first bytes of the (inflated) file. `totalLength`: the whole file's
 * length when known (then a file too short for its voxels is refused here); undefined when the bytes are streamed
 * (the caller checks the length at the end).
 */
function parseNiftiHeader(bytes: Uint8Array, name: string, totalLength: number | undefined): NiftiPlan {
  if (bytes.length < 348) {
    throw new FormatError(`${name}: file is truncated (${bytes.length} bytes, a NIfTI header needs 348 bytes)`);
  }
  const headBytes = bytes.slice(0, Math.min(bytes.length, 540)).buffer;
  let version: 1 | 2;
  if (nifti.isNIFTI1(headBytes)) version = 1;
  else if (nifti.isNIFTI2(headBytes)) version = 2;
  else if (nifti.isNIFTI1(headBytes, true) || nifti.isNIFTI2(headBytes, true)) {
    throw new FormatError(`${name}: is the header of a .hdr/.img pair; convert it to a single .nii or .nii.gz file`);
  } else throw new FormatError(`${name}: not a NIfTI file (magic "n+1"/"n+2" missing)`);
  // sizeof_hdr (bytes 0-3) is 348 (NIfTI-1) or 540 (NIfTI-2) in the file's byte order; it also tells that order, so a
  // corrupt value would make every other field unreadable (nifti-reader-js then throws an untyped error).
  const headerSize = version === 1 ? 348 : 540;
  const sizeLe = new DataView(bytes.buffer, bytes.byteOffset, 4).getInt32(0, true);
  const sizeBe = new DataView(bytes.buffer, bytes.byteOffset, 4).getInt32(0, false);
  if (sizeLe !== headerSize && sizeBe !== headerSize) {
    throw new FormatError(
      `${name}: corrupt NIfTI-${version} header: sizeof_hdr (bytes 0-3) is ${sizeLe}, it must be ${headerSize}; the file is damaged or not written by a NIfTI writer: re-export or re-copy it`,
    );
  }
  if (bytes.length < headerSize) {
    throw new FormatError(`${name}: file is truncated (${bytes.length} bytes, a NIfTI-${version} header needs ${headerSize} bytes)`);
  }
  // Hand the library only the fixed header, so it does not walk extensions.
  let hdr: ReturnType<typeof nifti.readHeader>;
  try {
    hdr = nifti.readHeader(bytes.slice(0, headerSize).buffer);
  } catch (err) {
    throw new FormatError(`${name}: the NIfTI-${version} header cannot be read (${(err as Error).message}); the file is damaged: re-export or re-copy it`, { cause: err });
  }
  const le = hdr.littleEndian;
  const view = new DataView(bytes.buffer, bytes.byteOffset, Math.min(bytes.length, 540));

  const dims = hdr.dims.map(Number);
  const ndim = dims[0];
  if (!(ndim >= 1 && ndim <= 7)) throw new FormatError(`${name}: dim[0] is ${ndim}; it must be 1..7 (corrupt header?)`);
  const size = [1, 1, 1, 1, 1, 1, 1];
  for (let a = 0; a < ndim; a++) {
    const n = dims[a + 1];
    if (!Number.isInteger(n) || n < 1) throw new FormatError(`${name}: dim[${a + 1}] is ${n}; every dimension needs at least 1 voxel`);
    size[a] = n;
  }
  const extra = size.slice(3).reduce((p, v) => p * v, 1);
  if (extra > 1) {
    throw new FormatError(
      `${name}: is a ${ndim}-D image (dims ${size.slice(0, ndim).join('x')}, ${extra} frames); a 3-D image is expected: extract the one frame to use`,
    );
  }
  const type = NIFTI_TYPES.get(hdr.datatypeCode);
  if (!type) {
    const tn = NIFTI_TYPE_NAMES[hdr.datatypeCode] ?? `code ${hdr.datatypeCode}`;
    throw new FormatError(
      `${name}: NIfTI datatype ${tn} is not supported; use uint8, int8, int16, uint16, int32, uint32, float32 or float64`,
    );
  }
  // bitpix must agree with the datatype: a header whose datatype was edited (or written wrong) would otherwise have
  // its voxels decoded from the wrong bytes
  const bitpix = Number(hdr.numBitsPerVoxel);
  if (bitpix !== 0 && bitpix !== 8 * bytesPerVoxel(type)) {
    throw new FormatError(
      `${name}: corrupt NIfTI header: datatype ${type} has ${8 * bytesPerVoxel(type)} bits per voxel but bitpix says ${bitpix}; the voxels cannot be decoded safely: re-export the image`,
    );
  }
  const count = size[0] * size[1] * size[2];
  // vox_offset: where the voxels start. A value below the header size is read as the header size (nifti1_io.c does
  // the same); a negative, fractional or non-finite one is corruption (the voxels would be read from the wrong bytes).
  const rawOffset = Number(hdr.vox_offset);
  if (!Number.isInteger(rawOffset) || rawOffset < 0) {
    throw new FormatError(`${name}: corrupt NIfTI header: vox_offset is ${rawOffset}; it must be a whole number of bytes (352 for a plain .nii): re-export the image`);
  }
  const voxOffset = Math.max(rawOffset, version === 1 ? 348 : 540);
  const needBytes = voxOffset + count * bytesPerVoxel(type);
  if (totalLength !== undefined && totalLength < needBytes) throw niftiTruncated(name, [size[0], size[1], size[2]], type, voxOffset, needBytes, totalLength);

  // Geometry, NIfTI-1 standard precedence. NIfTI-1 fields are float32: read as their shortest decimals.
  const f32 = version === 1 ? shortestFloat32 : (x: number) => x;
  const pix = hdr.pixDims.map((x: number) => f32(Number(x)));
  let rasAffine: Mat4ColMajor;
  let transform: NiftiTransform;
  if (hdr.sform_code > 0) {
    transform = 'sform';
    const m = new Array<number>(16).fill(0);
    for (let row = 0; row < 3; row++) {
      for (let col = 0; col < 4; col++) {
        m[row + 4 * col] =
          version === 1 ? f32(view.getFloat32(280 + 16 * row + 4 * col, le)) : view.getFloat64(400 + 32 * row + 8 * col, le);
      }
    }
    m[15] = 1;
    rasAffine = m as unknown as Mat4ColMajor;
  } else if (hdr.qform_code > 0) {
    transform = 'qform';
    const spacing = positiveSpacing(pix.slice(1, 4), name, 'pixdim of the qform');
    rasAffine = quaternToRasAffine(
      {
        b: f32(hdr.quatern_b),
        c: f32(hdr.quatern_c),
        d: f32(hdr.quatern_d),
        qx: f32(hdr.qoffset_x),
        qy: f32(hdr.qoffset_y),
        qz: f32(hdr.qoffset_z),
      },
      spacing,
      pix[0] < 0 ? -1 : 1,
    );
  } else {
    transform = 'pixdim';
    const s = positiveSpacing(pix.slice(1, 4), name, 'pixdim');
    rasAffine = [s[0], 0, 0, 0, 0, s[1], 0, 0, 0, 0, s[2], 0, 0, 0, 0, 1] as unknown as Mat4ColMajor;
  }
  // Spatial units (xyzt_units & 7, nifti1.h): 0 unknown (taken as mm), 1 metre, 2 mm, 3 micron.
  const unitCode = Number(hdr.xyzt_units ?? 0) & 7;
  const toMm = unitCode === 1 ? 1000 : unitCode === 3 ? 1e-3 : 1;
  if (toMm !== 1) rasAffine = rasAffine.map((x, i) => (i % 4 === 3 ? x : x * toMm)) as unknown as Mat4ColMajor;
  const geometry: Geometry = tidyGeometry(geometryFromLpsAffine([size[0], size[1], size[2]], rasAffineToLps(rasAffine)));
  positiveSpacing([...geometry.spacingMm], name, transform === 'sform' ? 'sform (a zero column)' : transform);

  const slope = f32(Number(hdr.scl_slope));
  const inter = f32(Number(hdr.scl_inter));
  // nifti1.h: scl_slope 0 means unscaled (nifti1_io.c and nibabel also read a non-finite slope so). A valid slope
  // with a non-finite intercept is refused, as nibabel does: skipping the scaling would drop the slope silently.
  if (slope !== 0 && Number.isFinite(slope) && !Number.isFinite(inter)) {
    throw new FormatError(`${name}: NIfTI scl_slope is ${slope} but scl_inter is ${inter}; the voxel values cannot be scaled: fix scl_inter (0 for none) or re-export the image`);
  }
  return {
    version,
    transform,
    geometry,
    type,
    count,
    voxOffset,
    needBytes,
    littleEndian: le,
    slope,
    inter,
    description: String(hdr.description ?? '').replace(/\0+$/, ''),
  };
}

function niftiTruncated(name: string, size: readonly number[], type: VoxelType, voxOffset: number, needBytes: number, have: number): FormatError {
  return new FormatError(
    `${name}: file is truncated or its header disagrees with the data: header (${size.join('x')} ${type} at offset ${voxOffset}) needs ${needBytes} bytes, file has ${have}`,
  );
}

/** The image of a parsed header and its voxels as stored: scl_slope/scl_inter applied, the volume made. */
function finishNifti(plan: NiftiPlan, stored: VoxelArray, name: string): NiftiImage {
  let data = stored;
  const { slope, inter, count } = plan;
  if (slope !== 0 && Number.isFinite(slope) && (slope !== 1 || inter !== 0)) {
    const out = plan.type === 'float64' ? new Float64Array(count) : new Float32Array(count);
    for (let n = 0; n < count; n++) out[n] = slope * data[n] + inter;
    data = out;
  }
  const volume = makeVolume(plan.geometry, data, name);
  return { volume, version: plan.version, transform: plan.transform, description: plan.description };
}

/** Reads a .nii or .nii.gz file into a 3-D volume (see `decodeNifti`). Throws FileError when unreadable. */
export function readNifti(path: string): NiftiImage {
  return decodeNifti(readFileBytes(path, 'image'), path);
}

/** Options of `encodeNifti`. */
export interface NiftiEncodeOptions {
  /** Text for the header's `descrip` field (at most 79 ASCII characters kept), e.g. "absorbed dose [Gy]". */
  readonly description?: string;
  /** Gzip the file (.nii.gz); default true. */
  readonly gzip?: boolean;
}

/**
 * Encodes a volume as a NIfTI-1 single file of float32 values (gzipped by default). Geometry: the LPS affine becomes
 * RAS through `lpsAffineToRas` and is written both as sform and as qform (both code 1, scanner anatomical), the
 * qform's quaternion and qfac by nifti1_io.c `mat44_to_quatern`; xyzt_units = mm. The output depends only on the
 * volume and options: gzip with fixed settings and no timestamp, so reruns are byte-identical.
 */
export function encodeNifti(volume: Volume, options: NiftiEncodeOptions = {}): Uint8Array {
  const { header, voxels } = niftiParts(volume, options);
  const out = new Uint8Array(352 + voxels.length);
  out.set(header, 0);
  out.set(voxels, 352);
  // deflate level 1, run-length strategy: float32 images (noisy mantissas) shrink by ~3 % more at level 6 at 1.6x the
  // time and by 1.3 % more with the default strategy at 2.2x the time (Node zlib, 192^3 dose map: 0.38 / 0.24 /
  // 0.11 s); zero background compresses fully in every case.
  return options.gzip === false ? out : gzipDeterministic(out, 1, 'rle');
}

/** The 352 header bytes of `encodeNifti` and its voxels as little-endian float32 bytes (a view on such hosts). */
function niftiParts(volume: Volume, options: NiftiEncodeOptions): { header: Uint8Array; voxels: Uint8Array } {
  const g = volume.geometry;
  const [nx, ny, nz] = g.dims;
  const count = nx * ny * nz;
  const header = new ArrayBuffer(352);
  const v = new DataView(header);
  const le = true;
  v.setInt32(0, 348, le); // sizeof_hdr
  v.setUint8(38, 'r'.charCodeAt(0)); // regular (ANALYZE legacy field)
  const dim = [3, nx, ny, nz, 1, 1, 1, 1];
  dim.forEach((d, i) => v.setInt16(40 + 2 * i, d, le));
  v.setInt16(70, 16, le); // datatype float32
  v.setInt16(72, 32, le); // bitpix
  const ras = lpsAffineToRas(indexToLpsAffine(g));
  const dirRas = [0, 1, 2].flatMap((c) => [0, 1, 2].map((r) => ras[r + 4 * c] / g.spacingMm[c]));
  const q = directionToQuatern(dirRas);
  const pixdim = [q.qfac, g.spacingMm[0], g.spacingMm[1], g.spacingMm[2], 0, 0, 0, 0];
  pixdim.forEach((p, i) => v.setFloat32(76 + 4 * i, p, le));
  v.setFloat32(108, 352, le); // vox_offset
  v.setFloat32(112, 1, le); // scl_slope
  v.setFloat32(116, 0, le); // scl_inter
  v.setUint8(123, 2); // xyzt_units: NIFTI_UNITS_MM
  const desc = (options.description ?? '').replace(/[^\x20-\x7e]/g, '?').slice(0, 79);
  for (let i = 0; i < desc.length; i++) v.setUint8(148 + i, desc.charCodeAt(i));
  v.setInt16(252, 1, le); // qform_code: NIFTI_XFORM_SCANNER_ANAT
  v.setInt16(254, 1, le); // sform_code: NIFTI_XFORM_SCANNER_ANAT
  v.setFloat32(256, q.b, le);
  v.setFloat32(260, q.c, le);
  v.setFloat32(264, q.d, le);
  v.setFloat32(268, ras[12], le);
  v.setFloat32(272, ras[13], le);
  v.setFloat32(276, ras[14], le);
  for (let row = 0; row < 3; row++) for (let col = 0; col < 4; col++) v.setFloat32(280 + 16 * row + 4 * col, ras[row + 4 * col], le);
  const magic = 'n+1\0';
  for (let i = 0; i < 4; i++) v.setUint8(344 + i, magic.charCodeAt(i));
  // bytes 348..351: extension flag, all zero (no extensions)
  const f32 = toFloat32(volume.data);
  if (f32.length !== count) throw new FormatError(`cannot write NIfTI: ${f32.length} values for a ${nx}x${ny}x${nz} grid`);
  let voxels: Uint8Array;
  if (HOST_LITTLE_ENDIAN) voxels = new Uint8Array(f32.buffer, f32.byteOffset, 4 * count);
  else {
    voxels = new Uint8Array(4 * count);
    const dv = new DataView(voxels.buffer);
    for (let n = 0; n < count; n++) dv.setFloat32(4 * n, f32[n], le);
  }
  return { header: new Uint8Array(header), voxels };
}

/**
 * `encodeNifti` with the gzip run off the main thread (in Node, in parallel blocks: see `gzipDeterministicAsync`).
 * Same header and voxels; the compressed bytes differ from `encodeNifti`'s but are as reproducible.
 */
export async function encodeNiftiAsync(volume: Volume, options: NiftiEncodeOptions = {}): Promise<Uint8Array> {
  if (options.gzip === false) return encodeNifti(volume, options);
  // header and voxels deflated as one stream, without a full-size copy of the voxels behind the header
  const { header, voxels } = niftiParts(volume, options);
  return gzipDeterministicAsync([header, voxels], 1, 'rle');
}

/**
 * `encodeNiftiAsync`'s gzipped bytes as pieces in file order (gzip header, deflate blocks, trailer), never joined:
 * for outputs written piece by piece (io/output-set.ts), so that a large map's compressed bytes exist once.
 */
export async function encodeNiftiPiecesAsync(volume: Volume, options: Omit<NiftiEncodeOptions, 'gzip'> = {}): Promise<Uint8Array[]> {
  const { header, voxels } = niftiParts(volume, options);
  return gzipDeterministicAsyncPieces([header, voxels], 1, 'rle');
}

/** Writes a volume as float32 NIfTI-1 atomically; gzipped unless the path ends in ".nii". */
export function writeNifti(path: string, volume: Volume, options: { description?: string } = {}): void {
  const gzip = !path.toLowerCase().endsWith('.nii');
  writeFileAtomic(path, encodeNifti(volume, { ...options, gzip }));
}
