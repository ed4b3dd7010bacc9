/**
 * NRRD (.nrrd with attached data, .nhdr with a detached data file): a small parser and writer after the
 * NRRD format specification (teem, "NRRD0004/0005": http://teem.sourceforge.net/nrrd/format.html).
 *
 * Supported: types int8..uint32, float, double; encodings raw, gzip, ascii/text; endian; byte skip, line skip;
 * `space` (any 3-D anatomical space, scanner-xyz and 3D-right-handed taken as LPS, as ITK's NrrdImageIO does) or
 * `space dimension` (taken as LPS); `space directions` (with "none" for non-spatial axes), `space origin`; or the
 * older per-axis `spacings` (and `axis mins`) without a space. Every world position is converted to LPS here.
 *
 * The data must hold exactly what the header describes (sizes x type; for gzip, the decompressed length) after
 * `line skip` and `byte skip`: more bytes are refused as well as fewer (as pynrrd does), since reading only the first
 * ones would give misplaced voxels. `byte skip: -1` (the data is the last bytes of the file) is accepted for raw data
 * only, as the specification says; other negative or fractional skips are refused.
 */
import { closeSync, createReadStream, openSync, readSync, realpathSync } from 'node:fs';
import { basename, dirname, isAbsolute, join } from 'node:path';
import { FileError, FormatError } from '../errors.ts';
import { type Geometry, type Mat3ColMajor, type Vec3, indexToLpsAffine } from '../volume/geometry.ts';
import { type Volume, type VoxelArray, makeVolume } from '../volume/volume.ts';
import { writeFileAtomic } from './atomic.ts';
import { checkInputPath, readFileBytes, readFileRangeInto, tidyGeometry } from './files.ts';
import { nodeBuiltin } from '../node-builtin.ts';
import { parseDecimal } from '../units/decimal.ts';
import { gunzipChecked, gzipDeterministic } from './gzip.ts';
import { HOST_LITTLE_ENDIAN, type VoxelType, allocVoxels, bytesPerVoxel, littleEndianBytes, swapBytesInPlace, typedFromBytes, voxelTypeOf } from './typed.ts';

/** A parsed NRRD header. Field names are lower-case, without the trailing colon. */
export interface NrrdHeader {
  /** Format version from the magic line, e.g. 4 for "NRRD0004". */
  readonly version: number;
  /** Basic fields ("type", "sizes", "space directions", ...), keys lower-case. */
  readonly fields: ReadonlyMap<string, string>;
  /** Key/value pairs ("key:=value"), with escapes (\n, \\) resolved. */
  readonly keyValues: ReadonlyMap<string, string>;
  /** Byte offset of the data in the file when attached (just after the blank line). */
  readonly dataOffset: number;
}

/** A decoded NRRD: its header, the sizes of all axes, and the data (fastest axis first). */
export interface NrrdData {
  readonly header: NrrdHeader;
  readonly sizes: readonly number[];
  readonly data: VoxelArray;
  readonly type: VoxelType;
}

const NRRD_TYPES: ReadonlyArray<[VoxelType, string[]]> = [
  ['int8', ['signed char', 'int8', 'int8_t']],
  ['uint8', ['uchar', 'unsigned char', 'uint8', 'uint8_t']],
  ['int16', ['short', 'short int', 'signed short', 'signed short int', 'int16', 'int16_t']],
  ['uint16', ['ushort', 'unsigned short', 'unsigned short int', 'uint16', 'uint16_t']],
  ['int32', ['int', 'signed int', 'int32', 'int32_t']],
  ['uint32', ['uint', 'unsigned int', 'uint32', 'uint32_t']],
  ['float32', ['float']],
  ['float64', ['double']],
];

const NRRD_TYPE_NAME: Record<VoxelType, string> = {
  int8: 'int8',
  uint8: 'uint8',
  int16: 'int16',
  uint16: 'uint16',
  int32: 'int32',
  uint32: 'uint32',
  float32: 'float',
  float64: 'double',
};

function nrrdType(name: string, file: string): VoxelType {
  const t = name.trim().toLowerCase();
  for (const [vt, names] of NRRD_TYPES) if (names.includes(t)) return vt;
  throw new FormatError(
    `${file}: NRRD type "${name}" is not supported; use int8, uint8, int16, uint16, int32, uint32, float or double`,
  );
}

const LATIN1 = new TextDecoder('latin1');
const latin1 = (b: Uint8Array): string => LATIN1.decode(b);
const UTF8 = new TextDecoder('utf-8');

/** Parses the text header of a NRRD file (up to the first blank line, or the end of a .nhdr). */
export function parseNrrdHeader(bytes: Uint8Array, file: string): NrrdHeader {
  const magic = String.fromCharCode(...bytes.subarray(0, 8));
  if (!/^NRRD000[1-9]$/.test(magic)) throw new FormatError(`${file}: not a NRRD file (it does not start with "NRRD000x")`);
  const fields = new Map<string, string>();
  const keyValues = new Map<string, string>();
  let pos = 0;
  let first = true;
  let dataOffset = bytes.length;
  const limit = bytes.length;
  while (pos < limit) {
    let end = bytes.indexOf(10, pos);
    const atEof = end < 0;
    if (atEof) end = limit;
    let line = UTF8.decode(bytes.subarray(pos, end)); // 3D Slicer writes segment names as UTF-8
    pos = atEof ? limit : end + 1;
    if (line.endsWith('\r')) line = line.slice(0, -1);
    if (first) {
      first = false;
      continue;
    }
    if (line === '') {
      dataOffset = pos;
      break;
    }
    if (line.startsWith('#')) continue;
    const kv = line.indexOf(':=');
    const fi = line.indexOf(': ');
    if (kv >= 0 && (fi < 0 || kv < fi)) {
      keyValues.set(line.slice(0, kv), line.slice(kv + 2).replace(/\\(n|\\)/g, (_m, c: string) => (c === 'n' ? '\n' : '\\')));
    } else if (fi >= 0 || line.endsWith(':')) {
      const name = (fi >= 0 ? line.slice(0, fi) : line.slice(0, -1)).trim().toLowerCase();
      // teem refuses a field given twice; taking either copy silently could read the data with the wrong sizes or type
      if (fields.has(name)) {
        throw new FormatError(`${file}: NRRD header gives the field "${name}" twice ("${fields.get(name)}" and "${fi >= 0 ? line.slice(fi + 2).trim() : ''}"); keep the one that describes the data`);
      }
      fields.set(name, fi >= 0 ? line.slice(fi + 2).trim() : '');
    } else {
      throw new FormatError(`${file}: malformed NRRD header line "${line.slice(0, 60)}" (expected "field: value")`);
    }
  }
  return { version: Number(magic.slice(4)), fields, keyValues, dataOffset };
}

function parseVector(s: string, file: string, what: string): number[] {
  const m = /^\(\s*([^)]*)\)$/.exec(s.trim());
  if (!m) throw new FormatError(`${file}: NRRD ${what} "${s}" is not a vector like (1,0,0)`);
  // each component a plain decimal: Number() would read an empty one ("(,1,0)") as 0 and "0x10" as 16
  const v = m[1].split(',').map((x) => parseDecimal(x) ?? NaN);
  if (v.some((x) => !Number.isFinite(x))) throw new FormatError(`${file}: NRRD ${what} "${s}" has a non-numeric component`);
  return v;
}

/** Splits "(1,0,0) none (0,1,0)" into its items. */
function splitVectors(s: string): string[] {
  return s.match(/\([^)]*\)|[^\s()]+/g) ?? [];
}

/** Sign flips that take a NRRD space's axes to LPS (x, y, z), or undefined for non-anatomical spaces we refuse. */
function spaceToLps(space: string | undefined, file: string): [number, number, number] {
  if (space === undefined) return [1, 1, 1];
  const s = space.trim().toLowerCase();
  const map: Record<string, [number, number, number]> = {
    'left-posterior-superior': [1, 1, 1],
    lps: [1, 1, 1],
    'right-anterior-superior': [-1, -1, 1],
    ras: [-1, -1, 1],
    'left-anterior-superior': [1, -1, 1],
    las: [1, -1, 1],
    'scanner-xyz': [1, 1, 1],
    '3d-right-handed': [1, 1, 1],
  };
  const m = map[s];
  if (!m) {
    throw new FormatError(
      `${file}: NRRD space "${space}" is not supported; use left-posterior-superior, right-anterior-superior, left-anterior-superior or scanner-xyz`,
    );
  }
  return m;
}

/** The spatial geometry of a NRRD: which axes are spatial, and their LPS geometry. */
export interface NrrdGeometry {
  /** Indices of the three spatial (domain) axes, in file order. */
  readonly spatialAxes: readonly [number, number, number];
  readonly geometry: Geometry;
}

/**
 * Geometry in LPS mm from a NRRD header. With `space directions`, the axes with a vector are the spatial ones
 * (columns of the index-to-world matrix); without, `kinds`/`spacings` pick them and the direction is the identity.
 */
export function nrrdGeometry(header: NrrdHeader, sizes: readonly number[], file: string): NrrdGeometry {
  const f = header.fields;
  const dim = sizes.length;
  const spaceField = f.get('space');
  const flip = spaceToLps(spaceField, file);
  const sd = f.get('space directions');
  if (sd !== undefined) {
    const items = splitVectors(sd);
    if (items.length !== dim) {
      throw new FormatError(`${file}: NRRD "space directions" has ${items.length} entries for ${dim} axes`);
    }
    const axes: number[] = [];
    const cols: number[][] = [];
    items.forEach((it, a) => {
      if (it.toLowerCase() === 'none') return;
      const v = parseVector(it, file, 'space direction');
      if (v.length !== 3) throw new FormatError(`${file}: NRRD space direction "${it}" is not 3-D; only 3-D spaces are supported`);
      axes.push(a);
      cols.push([v[0] * flip[0], v[1] * flip[1], v[2] * flip[2]]);
    });
    if (axes.length !== 3) {
      throw new FormatError(`${file}: NRRD has ${axes.length} spatial axes (space directions); 3 are needed`);
    }
    const spacing: number[] = [];
    const dir: number[] = [];
    cols.forEach((c, i) => {
      const n = Math.hypot(c[0], c[1], c[2]);
      if (!(n > 0)) {
        throw new FormatError(`${file}: NRRD space direction of axis ${axes[i]} has zero length; voxel spacing must be positive`);
      }
      spacing.push(n);
      dir.push(c[0] / n, c[1] / n, c[2] / n);
    });
    const so = f.get('space origin');
    const o = so !== undefined ? parseVector(so, file, 'space origin') : [0, 0, 0];
    if (o.length !== 3) throw new FormatError(`${file}: NRRD space origin "${so}" is not 3-D`);
    return {
      spatialAxes: [axes[0], axes[1], axes[2]],
      geometry: tidyGeometry({
        dims: [sizes[axes[0]], sizes[axes[1]], sizes[axes[2]]],
        spacingMm: spacing as unknown as Vec3,
        originLpsMm: [o[0] * flip[0], o[1] * flip[1], o[2] * flip[2]],
        direction: dir as unknown as Mat3ColMajor,
      }),
    };
  }
  // No space: per-axis spacings; spatial axes are those of kind domain/space (or all, when there are 3).
  const kinds = (f.get('kinds') ?? '').split(/\s+/).filter(Boolean).map((k) => k.toLowerCase());
  let axes: number[];
  if (kinds.length === dim) axes = kinds.map((k, a) => (k === 'domain' || k === 'space' ? a : -1)).filter((a) => a >= 0);
  else axes = sizes.map((_s, a) => a);
  if (axes.length !== 3) {
    throw new FormatError(`${file}: NRRD has ${axes.length} spatial axes; 3 are needed (check "kinds" or "dimension")`);
  }
  const sp = (f.get('spacings') ?? '').split(/\s+/).filter(Boolean);
  const mins = (f.get('axis mins') ?? '').split(/\s+/).filter(Boolean);
  // The NRRD specification reads a missing spacing as unit spacing; a dose needs the real voxel volume, so a file
  // without (or with an incomplete) spacing is refused rather than read as 1 mm voxels.
  if (sp.length !== dim) {
    throw new FormatError(
      sp.length === 0
        ? `${file}: NRRD has no voxel spacing (neither "space directions" nor "spacings"); the voxel size is unknown: add "space directions" (or "spacings") in mm to the header`
        : `${file}: NRRD "spacings: ${f.get('spacings')}" has ${sp.length} entries for ${dim} axes; give one per axis (nan for a non-spatial one)`,
    );
  }
  const spacing = axes.map((a) => {
    const s = parseDecimal(sp[a]) ?? NaN;
    if (!(s > 0) || !Number.isFinite(s)) {
      throw new FormatError(`${file}: NRRD spacing of axis ${a} is ${sp[a]}; voxel spacing must be positive`);
    }
    return s;
  });
  const origin = axes.map((a) => {
    const m = mins.length === dim ? Number(mins[a]) : NaN;
    return Number.isFinite(m) ? m : 0;
  });
  return {
    spatialAxes: [axes[0], axes[1], axes[2]],
    geometry: {
      dims: [sizes[axes[0]], sizes[axes[1]], sizes[axes[2]]],
      spacingMm: spacing as unknown as Vec3,
      originLpsMm: origin as unknown as Vec3,
      direction: [1, 0, 0, 0, 1, 0, 0, 0, 1],
    },
  };
}

/**
 * A whole-number skip field ("line skip", "byte skip") of the header; absent means 0. `min` is the smallest value the
 * field allows (-1 for byte skip: the data is at the end of the file; 0 for line skip).
 */
function skipField(f: ReadonlyMap<string, string>, name: string, alias: string, file: string, min: number): number {
  const text = f.get(name) ?? f.get(alias);
  if (text === undefined) return 0;
  const v = /^\s*[+-]?\d+\s*$/.test(text) ? Number(text) : NaN;
  if (!Number.isInteger(v) || v < min) {
    throw new FormatError(
      `${file}: NRRD "${name}: ${text}" is invalid; it must be a whole number >= ${min}${min < 0 ? ' (-1: the data is at the end of the file)' : ''}: fix the header`,
    );
  }
  return v;
}

/** Reads the detached data file `p` named by the header `headerPath` (FileError naming both when it cannot be read). */
function readDataFile(p: string, headerPath: string): Uint8Array {
  try {
    return readFileBytes(p, 'data file');
  } catch (err) {
    if (!(err instanceof FileError)) throw err;
    const why = err.message.slice(`data file ${p} `.length);
    throw new FileError(`NRRD header ${basename(headerPath)} points to the data file ${p}, which ${why}`, { cause: err });
  }
}

/** Whether two paths name the same file (after symbolic links); false when either cannot be resolved. */
function sameFile(a: string, b: string): boolean {
  try {
    return realpathSync(a) === realpathSync(b);
  } catch {
    return false;
  }
}

/** What a NRRD header says about its data: checked before any data byte is read (see `planNrrd`). */
interface NrrdPlan {
  readonly header: NrrdHeader;
  readonly type: VoxelType;
  readonly sizes: number[];
  readonly count: number;
  /** Lower-case encoding as written (raw, gzip/gz, ascii/text/txt, or an unsupported one, refused when decoding). */
  readonly encoding: string;
  readonly little: boolean;
  readonly bpv: number;
  /** The detached data file (resolved), or undefined when the data follows the header. */
  readonly dataFile?: string;
  /** The name errors about the data use: the data file, or the header file. */
  readonly dataName: string;
  readonly lineSkip: number;
  readonly byteSkip: number;
}

/** Checks the header's fields (type, sizes, encoding, endian, data file, skips): every refusal before reading data. */
function planNrrd(header: NrrdHeader, path: string): NrrdPlan {
  const f = header.fields;
  const req = (k: string) => {
    const v = f.get(k);
    if (v === undefined) throw new FormatError(`${path}: NRRD header lacks the required field "${k}"`);
    return v;
  };
  const type = nrrdType(req('type'), path);
  // whole numbers in plain decimal only (Number() would read "0x10" as 16 and "" as 0)
  const whole = (t: string) => (/^\s*\+?\d+\s*$/.test(t) ? Number(t) : NaN);
  const dim = whole(req('dimension'));
  const sizes = req('sizes').split(/\s+/).filter(Boolean).map(whole);
  if (!Number.isInteger(dim) || dim < 1 || sizes.length !== dim || sizes.some((s) => !Number.isInteger(s) || s < 1)) {
    throw new FormatError(`${path}: NRRD "dimension: ${f.get('dimension')}" and "sizes: ${f.get('sizes')}" disagree or are invalid`);
  }
  const count = sizes.reduce((p, s) => p * s, 1);
  const encoding = req('encoding').toLowerCase();
  const bpv = bytesPerVoxel(type);
  const endianField = f.get('endian')?.toLowerCase();
  if (bpv > 1 && encoding !== 'ascii' && encoding !== 'text' && encoding !== 'txt' && endianField === undefined) {
    throw new FormatError(`${path}: NRRD header lacks "endian" for ${NRRD_TYPE_NAME[type]} data`);
  }
  if (endianField !== undefined && endianField !== 'little' && endianField !== 'big') {
    throw new FormatError(`${path}: NRRD endian "${endianField}" must be little or big`);
  }
  const little = endianField !== 'big';
  let dataFile: string | undefined;
  const dataField = f.get('data file') ?? f.get('datafile');
  if (dataField !== undefined) {
    if (/^list\b/i.test(dataField) || /%/.test(dataField)) {
      throw new FormatError(`${path}: NRRD "data file: ${dataField}" (several data files) is not supported; use a single data file`);
    }
    dataFile = isAbsolute(dataField) ? dataField : join(dirname(path), dataField);
  }
  // line skip (applies to the file before decoding), byte skip (raw: in the file; gzip: after decompression)
  const isBinary = encoding === 'raw' || encoding === 'gzip' || encoding === 'gz';
  const lineSkip = skipField(f, 'line skip', 'lineskip', path, 0);
  const byteSkip = skipField(f, 'byte skip', 'byteskip', path, -1);
  if (byteSkip === -1 && encoding !== 'raw') {
    throw new FormatError(
      `${path}: NRRD "byte skip: -1" (data at the end of the file) is valid only with raw encoding, and this file is ${encoding}; fix the header (give the number of bytes to skip)`,
    );
  }
  if (byteSkip !== 0 && !isBinary) {
    throw new FormatError(`${path}: NRRD "byte skip: ${byteSkip}" with ${encoding} encoding is not supported; skip lines with "line skip" instead`);
  }
  const units = f.get('space units');
  if (units !== undefined) {
    const us = units.match(/"([^"]*)"/g)?.map((u) => u.replace(/"/g, '').toLowerCase()) ?? [];
    if (us.some((u) => u !== 'mm' && u !== '')) {
      throw new FormatError(`${path}: NRRD space units ${units} are not supported; only mm`);
    }
  }
  return { header, type, sizes, count, encoding, little, bpv, dataFile, dataName: dataFile ?? path, lineSkip, byteSkip };
}

/** Refuses a detached data file that is the header file itself. */
function checkNotSelf(plan: NrrdPlan, path: string): void {
  if (plan.dataFile !== undefined && sameFile(plan.dataFile, path)) {
    throw new FormatError(
      `${path}: NRRD "data file: ${plan.header.fields.get('data file') ?? plan.header.fields.get('datafile')}" names the header file itself, so its text would be read as voxels; name the file that holds the data`,
    );
  }
}

const lineSkipError = (dataName: string, lineSkip: number, found: number) =>
  new FormatError(`${dataName}: NRRD "line skip: ${lineSkip}" skips more lines than the data holds (${found}); fix the header`);

/** The data of `plan` that holds fewer or more bytes than the header describes. */
function nrrdLengthError(plan: NrrdPlan, haveBytes: number): FormatError {
  const { dataName, sizes, type, byteSkip, encoding } = plan;
  const needBytes = plan.count * plan.bpv;
  const where = encoding === 'raw' ? 'file' : 'decompressed data';
  const skipped = byteSkip > 0 ? ` after the ${byteSkip} bytes of "byte skip"` : '';
  if (haveBytes < needBytes) {
    return new FormatError(
      `${dataName}: NRRD data is truncated or the header disagrees with it: sizes ${sizes.join('x')} of ${NRRD_TYPE_NAME[type]} need ${needBytes} bytes, the ${where} has ${haveBytes}${skipped}`,
    );
  }
  // Extra bytes mean the header's sizes or type do not describe the data (reading the first bytes would give
  // misplaced voxels); pynrrd refuses such files too. Data after a header block is described by "byte skip".
  return new FormatError(
    `${dataName}: NRRD data holds ${haveBytes} bytes${skipped} but the header (sizes ${sizes.join('x')} of ${NRRD_TYPE_NAME[type]}) describes ${needBytes}: check "sizes" and "type", or add "byte skip" for a leading block${encoding === 'raw' ? ' ("byte skip: -1" when the data is at the end of the file)' : ''}`,
  );
}

/**
 * Decodes a NRRD file's bytes. `path` locates a detached data file (.nhdr); `fileBytes` is the whole header file.
 */
export function decodeNrrd(fileBytes: Uint8Array, path: string): NrrdData {
  const header = parseNrrdHeader(fileBytes, path);
  const plan = planNrrd(header, path);
  const { type, sizes, count, encoding, little, bpv, dataName, lineSkip, byteSkip } = plan;

  // The data bytes: attached, or a detached file.
  let raw: Uint8Array;
  if (plan.dataFile !== undefined) {
    raw = readDataFile(plan.dataFile, path);
    checkNotSelf(plan, path);
  } else {
    raw = fileBytes.subarray(header.dataOffset);
  }
  const isBinary = encoding === 'raw' || encoding === 'gzip' || encoding === 'gz';
  for (let l = 0; l < lineSkip; l++) {
    const e = raw.indexOf(10);
    if (e < 0) throw lineSkipError(dataName, lineSkip, l);
    raw = raw.subarray(e + 1);
  }
  const needBytes = count * bpv;
  let data: VoxelArray;
  if (isBinary) {
    const where = encoding === 'raw' ? 'file' : 'decompressed data';
    let body = encoding === 'raw' ? raw : gunzipChecked(raw, dataName);
    if (byteSkip > body.length) {
      throw new FormatError(`${dataName}: NRRD "byte skip: ${byteSkip}" is beyond the end of the ${where} (${body.length} bytes); fix the header`);
    }
    if (byteSkip === -1) body = body.length >= needBytes ? body.subarray(body.length - needBytes) : body;
    else if (byteSkip > 0) body = body.subarray(byteSkip);
    if (body.length !== needBytes) throw nrrdLengthError(plan, body.length);
    data = typedFromBytes(body, 0, type, count, little);
  } else if (encoding === 'ascii' || encoding === 'text' || encoding === 'txt') {
    const words = latin1(raw).trim().split(/[\s,]+/).filter(Boolean);
    if (words.length !== count) {
      throw new FormatError(
        `${dataName}: NRRD ascii data has ${words.length} values, sizes ${sizes.join('x')} need ${count}; the data is ${words.length < count ? 'truncated' : 'longer than the header says'}: check "sizes"`,
      );
    }
    data = allocVoxels(type, count);
    for (let n = 0; n < count; n++) {
      const x = /^nan$/i.test(words[n]) ? NaN : (parseDecimal(words[n]) ?? NaN);
      if (Number.isNaN(x) && !/^nan$/i.test(words[n])) throw new FormatError(`${dataName}: NRRD ascii value "${words[n]}" is not a number`);
      data[n] = x;
    }
  } else {
    throw new FormatError(`${path}: NRRD encoding "${encoding}" is not supported; use raw, gzip or ascii`);
  }
  return { header, sizes, data, type };
}

/**
 * The NRRD as a 3-D volume. Refuses more than 3 axes of size > 1 (a 4-D activity image or a segmentation with
 * several layers) with a message saying so.
 */
export function nrrdToVolume(n: NrrdData, path: string): Volume {
  const { spatialAxes, geometry } = nrrdGeometry(n.header, n.sizes, path);
  const other = n.sizes.map((s, a) => (spatialAxes.includes(a) ? 1 : s)).reduce((p, s) => p * s, 1);
  if (other > 1) {
    const seg = [...n.header.keyValues.keys()].some((k) => /^Segment\d+_/.test(k));
    throw new FormatError(
      seg
        ? `${path}: is a segmentation (.seg.nrrd with ${other} layers), not a 3-D image; give it as a segmentation`
        : `${path}: is a ${n.sizes.length}-D image (sizes ${n.sizes.join(' ')}) with ${other} values per voxel; a 3-D image is expected: extract the one frame to use`,
    );
  }
  // Spatial axes must be in file order for the data to be x-fastest; they are (other axes have size 1).
  return makeVolume(geometry, n.data, path);
}

/** Reads a .nrrd or .nhdr file into a 3-D volume. */
export function readNrrd(path: string): Volume {
  return nrrdToVolume(decodeNrrd(readFileBytes(path, 'image'), path), path);
}

const fmt = (x: number) => {
  const s = String(x);
  return s === '-0' ? '0' : s;
};

/** The header lines for a geometry's spatial axes, in LPS (space directions, origin), after `prefix` axes. */
export function nrrdSpaceLines(g: Geometry, listAxes: number): string[] {
  const a = indexToLpsAffine(g);
  const vec = (c: number) => `(${fmt(a[4 * c])},${fmt(a[4 * c + 1])},${fmt(a[4 * c + 2])})`;
  return [
    'space: left-posterior-superior',
    `space directions: ${'none '.repeat(listAxes)}${vec(0)} ${vec(1)} ${vec(2)}`,
    `space origin: (${fmt(g.originLpsMm[0])},${fmt(g.originLpsMm[1])},${fmt(g.originLpsMm[2])})`,
  ];
}

/** Options of `encodeNrrd`. */
export interface NrrdEncodeOptions {
  /** 'gzip' (default) or 'raw'. */
  readonly encoding?: 'gzip' | 'raw';
}

/**
 * Encodes a volume as an attached NRRD0004 (its own voxel type, little endian, LPS space). Deterministic output.
 */
export function encodeNrrd(volume: Volume, options: NrrdEncodeOptions = {}): Uint8Array {
  const g = volume.geometry;
  const enc = options.encoding ?? 'gzip';
  const lines = [
    'NRRD0004',
    '# Complete NRRD file format specification at:',
    '# http://teem.sourceforge.net/nrrd/format.html',
    `type: ${NRRD_TYPE_NAME[voxelTypeOf(volume.data)]}`,
    'dimension: 3',
    ...nrrdSpaceLines(g, 0).slice(0, 1),
    `sizes: ${g.dims.join(' ')}`,
    ...nrrdSpaceLines(g, 0).slice(1, 2),
    'kinds: domain domain domain',
    'endian: little',
    `encoding: ${enc}`,
    ...nrrdSpaceLines(g, 0).slice(2),
  ];
  return assembleNrrd(lines, littleEndianBytes(volume.data), enc);
}

/** Joins header lines (UTF-8, as 3D Slicer writes them), the blank line, and the (optionally gzipped) data. */
export function assembleNrrd(lines: string[], body: Uint8Array, encoding: 'gzip' | 'raw'): Uint8Array {
  return nrrdFileBytes(lines, encoding === 'gzip' ? gzipDeterministic(body) : body);
}

/** Header lines, the blank line, then the data as it is to be stored (already encoded). */
export function nrrdFileBytes(lines: string[], payload: Uint8Array): Uint8Array {
  const head = new TextEncoder().encode(lines.join('\n') + '\n\n');
  const out = new Uint8Array(head.length + payload.length);
  out.set(head, 0);
  out.set(payload, head.length);
  return out;
}

/** Writes a volume as an attached NRRD (gzip) atomically. */
export function writeNrrd(path: string, volume: Volume, options: NrrdEncodeOptions = {}): void {
  writeFileAtomic(path, encodeNrrd(volume, options));
}

/**
 * NRRD voxel data above this size [bytes] (or a data file above it) is streamed into the voxel array by
 * `readNrrdAsync`: 1 GiB, below the 2 GiB one file read returns and the 4 GiB one Buffer holds.
 */
export const NRRD_STREAM_BYTES = 1024 ** 3;

/** Reads the start of `path` up to the blank line that ends a NRRD header (or the whole file when it has none). */
function readNrrdHead(path: string, fileSize: number): Uint8Array {
  const fd = openSync(path, 'r');
  try {
    let head = new Uint8Array(0);
    for (let pos = 0; pos < fileSize; ) {
      const piece = new Uint8Array(Math.min(1 << 20, fileSize - pos));
      const n = readSync(fd, piece, 0, piece.length, pos);
      if (n <= 0) break;
      const joined = new Uint8Array(head.length + n);
      joined.set(head);
      joined.set(piece.subarray(0, n), head.length);
      head = joined;
      pos += n;
      if (head.indexOf(10) >= 0 && parseNrrdHeader(head, path).dataOffset < head.length) return head;
      if (head.length > 64 << 20) throw new FormatError(`${path}: NRRD header is not ended by a blank line within its first 64 MiB; is it a NRRD file?`);
    }
    return head;
  } finally {
    closeSync(fd);
  }
}

/**
 * Reads a .nrrd or .nhdr like `decodeNrrd(readFileBytes(path))`, but voxel data over `streamAboveBytes` (default
 * {@link NRRD_STREAM_BYTES}), or in a data file over it, is streamed straight into the voxel array (raw: read in
 * 64 MiB pieces; gzip: inflated on the fly): no 2 GiB file read limit, no second copy. Same checks and messages.
 */
export async function readNrrdAsync(path: string, opts: { streamAboveBytes?: number } = {}): Promise<NrrdData> {
  const limit = opts.streamAboveBytes ?? NRRD_STREAM_BYTES;
  const size = checkInputPath(path, 'image').size;
  const head = size <= limit ? readFileBytes(path, 'image') : readNrrdHead(path, size);
  const header = parseNrrdHeader(head, path);
  const plan = planNrrd(header, path);
  const needBytes = plan.count * plan.bpv;
  let dataSize: number;
  if (plan.dataFile !== undefined) {
    try {
      dataSize = checkInputPath(plan.dataFile, 'data file').size;
    } catch (err) {
      if (!(err instanceof FileError)) throw err;
      readDataFile(plan.dataFile, path); // the message naming both files
      throw err;
    }
    checkNotSelf(plan, path);
  } else dataSize = size - header.dataOffset;
  if (needBytes <= limit && dataSize <= limit) return decodeNrrd(size <= limit ? head : readFileBytes(path, 'image'), path);
  const isBinary = plan.encoding === 'raw' || plan.encoding === 'gzip' || plan.encoding === 'gz';
  if (!isBinary) {
    throw new FormatError(
      plan.encoding === 'ascii' || plan.encoding === 'text' || plan.encoding === 'txt'
        ? `${plan.dataName}: NRRD ascii data of ${(Math.max(needBytes, dataSize) / 2 ** 30).toFixed(1)} GiB is too large to read as text; convert it to raw or gzip encoding (e.g. with 3D Slicer or unu save -e gzip)`
        : `${path}: NRRD encoding "${plan.encoding}" is not supported; use raw, gzip or ascii`,
    );
  }
  const data = await streamNrrdData(plan, plan.dataFile ?? path, plan.dataFile !== undefined ? 0 : header.dataOffset, plan.dataFile !== undefined ? dataSize : size);
  return { header, sizes: plan.sizes, data, type: plan.type };
}

/** The voxels of `plan` from `file` (data from byte `start`, file of `fileSize` bytes), streamed (see readNrrdAsync). */
async function streamNrrdData(plan: NrrdPlan, file: string, start: number, fileSize: number): Promise<VoxelArray> {
  const { dataName, lineSkip, byteSkip } = plan;
  const needBytes = plan.count * plan.bpv;
  // line skip: whole lines of the file before the data (before decoding)
  if (lineSkip > 0) {
    const fd = openSync(file, 'r');
    try {
      const piece = new Uint8Array(1 << 20);
      let lines = 0;
      while (lines < lineSkip) {
        const n = readSync(fd, piece, 0, piece.length, start);
        if (n <= 0) throw lineSkipError(dataName, lineSkip, lines);
        let p = 0;
        while (lines < lineSkip) {
          const e = piece.subarray(0, n).indexOf(10, p);
          if (e < 0) break;
          lines++;
          p = e + 1;
        }
        start += lines < lineSkip ? n : p;
      }
    } finally {
      closeSync(fd);
    }
  }
  const target = allocVoxels(plan.type, plan.count);
  const bytes = new Uint8Array(target.buffer, target.byteOffset, target.byteLength);
  if (plan.encoding === 'raw') {
    if (byteSkip > fileSize - start) {
      throw new FormatError(`${dataName}: NRRD "byte skip: ${byteSkip}" is beyond the end of the file (${fileSize - start} bytes); fix the header`);
    }
    const from = byteSkip === -1 ? (fileSize - start >= needBytes ? fileSize - needBytes : start) : start + byteSkip;
    if (fileSize - from !== needBytes) throw nrrdLengthError(plan, fileSize - from);
    readFileRangeInto(file, bytes, from, (done) => nrrdLengthError(plan, done));
  } else {
    const zlib = nodeBuiltin<typeof import('node:zlib')>('node:zlib');
    if (!zlib) throw new FormatError(`${dataName}: streamed reading needs Node's zlib`);
    const stream = createReadStream(file, { start, highWaterMark: 8 << 20 });
    let decoded = 0; // inflated bytes seen
    try {
      for await (const buf of stream.pipe(zlib.createGunzip({ chunkSize: 4 << 20 })) as AsyncIterable<Buffer>) {
        const chunk = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
        const from = Math.max(decoded, byteSkip);
        const to = Math.min(decoded + chunk.length, byteSkip + needBytes);
        if (to > from) bytes.set(chunk.subarray(from - decoded, to - decoded), from - byteSkip);
        decoded += chunk.length;
      }
    } catch (err) {
      throw new FormatError(`${dataName}: gzip data is truncated or corrupt (${(err as Error).message}); re-export or re-copy the file`, { cause: err });
    } finally {
      stream.destroy();
    }
    if (byteSkip > decoded) {
      throw new FormatError(`${dataName}: NRRD "byte skip: ${byteSkip}" is beyond the end of the decompressed data (${decoded} bytes); fix the header`);
    }
    if (decoded - byteSkip !== needBytes) throw nrrdLengthError(plan, decoded - byteSkip);
  }
  if (plan.bpv > 1 && plan.little !== HOST_LITTLE_ENDIAN) swapBytesInPlace(target, plan.bpv);
  return target;
}
