/**
 * Writing DICOM Part 10 files (PS3.10 7.1, PS3.5 chapter 7): explicit VR little endian by default, with implicit VR
 * little endian, explicit VR big endian and deflated explicit VR little endian for tests of the reader. Sequences and
 * items are written with defined lengths; encapsulated pixel data with an empty basic offset table.
 */
import { deflateSync } from 'fflate';
import { InputError } from '../../errors.ts';
import { DicomDataset, type DicomElement, TS, charsetFor } from './parser.ts';
import { TAG, dictionaryVr, tagString } from './tags.ts';

const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'UC', 'UN', 'UR', 'UT', 'SV', 'UV']);
/** Byte-swap unit per binary VR (AT is a pair of 16-bit numbers). */
const SWAP: Record<string, number> = { US: 2, SS: 2, OW: 2, AT: 2, UL: 4, SL: 4, FL: 4, OF: 4, OL: 4, FD: 8, OD: 8, SV: 8, UV: 8, OV: 8 };
/** Longest value of a DS element in characters (PS3.5 table 6.2-1). */
export const DS_MAX_CHARS = 16;

/** Implementation Class UID of this writer (2.25 root, PS3.5 B.2); fixed so outputs are reproducible. */
export const IMPLEMENTATION_CLASS_UID = '2.25.163229738713419795064815829012468154517';
/** Implementation Version Name (at most 16 characters). */
export const IMPLEMENTATION_VERSION_NAME = 'SIRT_DOSIM_0_1';

/**
 * Formats a number as a DICOM Decimal String of at most 16 characters (PS3.5 6.2), with as many significant digits as
 * fit. Throws for non-finite values.
 */
export function formatDS(v: number): string {
  if (!Number.isFinite(v)) throw new InputError(`cannot write ${v} as a DICOM decimal string; the value must be finite`);
  if (Object.is(v, -0) || v === 0) return '0';
  for (let p = 15; p >= 1; p--) {
    let s = String(Number(v.toPrecision(p)));
    if (s.length > DS_MAX_CHARS) s = Number(v.toPrecision(p)).toExponential().replace('e+', 'e');
    if (s.length <= DS_MAX_CHARS) return s;
  }
  throw new InputError(`cannot write ${v} as a 16-character DICOM decimal string`);
}

/** Values an element can be built from. Text VRs take strings or numbers; binary VRs numbers or typed arrays. */
export type DicomValue = string | number | ReadonlyArray<string | number> | Uint8Array | ArrayBufferView | DicomDataset[];

function textBytes(vr: string, s: string): Uint8Array {
  const b = new TextEncoder().encode(s);
  if (b.length % 2 === 0) return b;
  const out = new Uint8Array(b.length + 1);
  out.set(b);
  out[b.length] = vr === 'UI' ? 0 : 0x20;
  return out;
}

/**
 * Builds an element (little-endian bytes) from a value. Text is encoded as UTF-8: set Specific Character Set
 * "ISO_IR 192" when any text is not ASCII (see `needsUtf8`).
 */
export function makeElement(tag: number, vr: string, value: DicomValue): DicomElement {
  tag = tag >>> 0;
  if (vr === 'SQ') {
    if (!Array.isArray(value) || value.some((v) => !(v instanceof DicomDataset))) throw new InputError(`${tagString(tag)}: a sequence needs an array of data sets`);
    return { tag, vr, value: new Uint8Array(0), items: value as DicomDataset[] };
  }
  if (value instanceof Uint8Array && !SWAP[vr]) {
    const v = value.length % 2 ? padded(value, vr === 'UI' ? 0 : vr === 'OB' || vr === 'UN' ? 0 : 0x20) : value;
    return { tag, vr, value: v };
  }
  if (ArrayBuffer.isView(value)) {
    const b = new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
    return { tag, vr, value: b.length % 2 ? padded(b, 0) : b };
  }
  const arr = (Array.isArray(value) ? value : [value]) as ReadonlyArray<string | number>;
  const size = { US: 2, SS: 2, UL: 4, SL: 4, FL: 4, FD: 8, AT: 4 }[vr];
  if (size) {
    const out = new Uint8Array(arr.length * size);
    const dv = new DataView(out.buffer);
    arr.forEach((x, i) => {
      const n = Number(x);
      const o = i * size;
      switch (vr) {
        case 'US': dv.setUint16(o, n, true); break;
        case 'SS': dv.setInt16(o, n, true); break;
        case 'UL': dv.setUint32(o, n, true); break;
        case 'SL': dv.setInt32(o, n, true); break;
        case 'FL': dv.setFloat32(o, n, true); break;
        case 'FD': dv.setFloat64(o, n, true); break;
        case 'AT': dv.setUint16(o, n >>> 16, true); dv.setUint16(o + 2, n & 0xffff, true); break;
      }
    });
    return { tag, vr, value: out };
  }
  const text = arr.map((x) => (typeof x === 'number' ? (vr === 'DS' ? formatDS(x) : vr === 'IS' ? String(Math.round(x)) : String(x)) : x)).join('\\');
  return { tag, vr, value: textBytes(vr, text) };
}

function padded(b: Uint8Array, pad: number): Uint8Array {
  const out = new Uint8Array(b.length + 1);
  out.set(b);
  out[b.length] = pad;
  return out;
}

/** Sets an element on a data set from a value (see `makeElement`). The VR defaults to the dictionary's. */
export function put(ds: DicomDataset, tag: number, value: DicomValue, vr?: string): void {
  const v = vr ?? dictionaryVr(tag);
  if (!v) throw new InputError(`no VR known for ${tagString(tag)}; pass one`);
  ds.set(makeElement(tag, v, value));
}

/** A new data set with the given elements (VRs from the dictionary unless given as [value, vr]). */
export function dataset(entries: ReadonlyArray<[number, DicomValue] | [number, DicomValue, string]>): DicomDataset {
  const ds = new DicomDataset(true);
  for (const e of entries) put(ds, e[0], e[1], e[2]);
  return ds;
}

/** True when any string would need a character set beyond ASCII. */
export function needsUtf8(...texts: Array<string | undefined>): boolean {
  return texts.some((t) => t !== undefined && /[^\x20-\x7e]/.test(t));
}

interface Enc {
  readonly explicit: boolean;
  readonly le: boolean;
}

class Chunks {
  parts: Uint8Array[] = [];
  length = 0;
  push(b: Uint8Array): void {
    this.parts.push(b);
    this.length += b.length;
  }
  header(n: number): DataView {
    const b = new Uint8Array(n);
    this.push(b);
    return new DataView(b.buffer);
  }
  concat(): Uint8Array {
    const out = new Uint8Array(this.length);
    let o = 0;
    for (const p of this.parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }
}

function swapped(b: Uint8Array, unit: number): Uint8Array {
  const out = new Uint8Array(b.length);
  for (let i = 0; i + unit <= b.length; i += unit) for (let k = 0; k < unit; k++) out[i + k] = b[i + unit - 1 - k];
  return out;
}

function encodeDataset(ds: DicomDataset, enc: Enc, out: Chunks): void {
  const tags = [...ds.elements.keys()].sort((a, b) => a - b);
  for (const tag of tags) encodeElement(ds.elements.get(tag)!, ds.littleEndian, enc, out);
}

function writeHeader(out: Chunks, enc: Enc, tag: number, vr: string, len: number): void {
  const long = !enc.explicit || LONG_VRS.has(vr);
  const h = out.header(long ? (enc.explicit ? 12 : 8) : 8);
  h.setUint16(0, tag >>> 16, enc.le);
  h.setUint16(2, tag & 0xffff, enc.le);
  if (enc.explicit) {
    h.setUint8(4, vr.charCodeAt(0));
    h.setUint8(5, vr.charCodeAt(1));
    if (long) h.setUint32(8, len, enc.le);
    else h.setUint16(6, len, enc.le);
  } else h.setUint32(4, len, enc.le);
}

function itemHeader(out: Chunks, enc: Enc, tag: number, len: number): void {
  const h = out.header(8);
  h.setUint16(0, tag >>> 16, enc.le);
  h.setUint16(2, tag & 0xffff, enc.le);
  h.setUint32(4, len, enc.le);
}

function encodeElement(el: DicomElement, srcLe: boolean, enc: Enc, out: Chunks): void {
  if (el.items) {
    const body = new Chunks();
    for (const item of el.items) {
      const ib = new Chunks();
      encodeDataset(item, enc, ib);
      itemHeader(body, enc, TAG.Item, ib.length);
      for (const p of ib.parts) body.push(p);
    }
    writeHeader(out, enc, el.tag, 'SQ', body.length);
    for (const p of body.parts) out.push(p);
    return;
  }
  if (el.fragments) {
    writeHeader(out, enc, el.tag, 'OB', 0xffffffff);
    itemHeader(out, enc, TAG.Item, 0);
    for (const f of el.fragments) {
      const fb = f.length % 2 ? padded(f, 0) : f;
      itemHeader(out, enc, TAG.Item, fb.length);
      out.push(fb);
    }
    itemHeader(out, enc, TAG.SequenceDelimitationItem, 0);
    return;
  }
  if (el.value.length > 0xfffe && !LONG_VRS.has(el.vr) && enc.explicit) {
    throw new InputError(`${tagString(el.tag)} (${el.vr}) holds ${el.value.length} bytes, more than a short-length VR allows`);
  }
  const unit = SWAP[el.vr];
  const v = unit && srcLe !== enc.le ? swapped(el.value, unit) : el.value;
  writeHeader(out, enc, el.tag, el.vr, v.length);
  out.push(v);
}

/** Options of `writePart10`. */
export interface WritePart10Options {
  /** Transfer syntax of the data set; default explicit VR little endian (1.2.840.10008.1.2.1). */
  readonly transferSyntaxUid?: string;
}

/**
 * Encodes a data set as a Part 10 file: 128-byte zero preamble, "DICM", File Meta Information (group 0002, explicit VR
 * little endian, PS3.10 7.1) built from the data set's SOP Class and Instance UIDs, then the data set.
 */
export function writePart10(ds: DicomDataset, options: WritePart10Options = {}): Uint8Array {
  const ts = options.transferSyntaxUid ?? TS.explicitLE;
  const sopClass = ds.string(TAG.SOPClassUID);
  const sopInstance = ds.string(TAG.SOPInstanceUID);
  if (!sopClass || !sopInstance) throw new InputError('a DICOM file needs SOP Class UID (0008,0016) and SOP Instance UID (0008,0018)');
  const meta = dataset([
    [TAG.FileMetaInformationVersion, new Uint8Array([0, 1])],
    [TAG.MediaStorageSOPClassUID, sopClass],
    [TAG.MediaStorageSOPInstanceUID, sopInstance],
    [TAG.TransferSyntaxUID, ts],
    [TAG.ImplementationClassUID, IMPLEMENTATION_CLASS_UID],
    [TAG.ImplementationVersionName, IMPLEMENTATION_VERSION_NAME],
  ]);
  const metaBody = new Chunks();
  encodeDataset(meta, { explicit: true, le: true }, metaBody);
  const head = new Chunks();
  head.push(new Uint8Array(128));
  head.push(new TextEncoder().encode('DICM'));
  writeHeader(head, { explicit: true, le: true }, TAG.FileMetaInformationGroupLength, 'UL', 4);
  const gl = head.header(4);
  gl.setUint32(0, metaBody.length, true);
  for (const p of metaBody.parts) head.push(p);

  const enc: Enc = ts === TS.implicitLE ? { explicit: false, le: true } : ts === TS.explicitBE ? { explicit: true, le: false } : { explicit: true, le: true };
  const body = new Chunks();
  const noMeta = new DicomDataset(ds.littleEndian, ds.charset);
  for (const [t, el] of ds.elements) if (t >>> 16 !== 0x0002) noMeta.set(el);
  encodeDataset(noMeta, enc, body);
  let bodyBytes = body.concat();
  if (ts === TS.deflatedLE) bodyBytes = deflateSync(bodyBytes, { level: 6 });
  head.push(bodyBytes);
  return head.concat();
}

export { charsetFor };
