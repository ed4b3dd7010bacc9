/**
 * A compact DICOM Part 10 parser (PS3.5 chapters 7 and 8, PS3.10 chapter 7): explicit and implicit VR little endian,
 * explicit VR big endian, deflated explicit VR little endian, sequences and items of defined and undefined length,
 * encapsulated pixel data (fragments kept, decoded elsewhere). Values are kept as byte views; typed accessors decode
 * them on demand, so the caller (who knows what a tag holds) never depends on the VR an implicit file lacks.
 */
import { inflateSync } from 'fflate';
import { FormatError } from '../../errors.ts';
import { TAG, dictionaryVr, tagString } from './tags.ts';

/** Transfer syntax UIDs this parser knows by name (PS3.6 Annex A). */
export const TS = {
  implicitLE: '1.2.840.10008.1.2',
  explicitLE: '1.2.840.10008.1.2.1',
  deflatedLE: '1.2.840.10008.1.2.1.99',
  explicitBE: '1.2.840.10008.1.2.2',
  rle: '1.2.840.10008.1.2.5',
} as const;

/** VRs whose explicit encoding has 2 reserved bytes and a 4-byte length (PS3.5 7.1.2). */
const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'UC', 'UN', 'UR', 'UT', 'SV', 'UV']);
/** VRs holding text. */
const TEXT_VRS = new Set(['AE', 'AS', 'CS', 'DA', 'DS', 'DT', 'IS', 'LO', 'LT', 'PN', 'SH', 'ST', 'TM', 'UC', 'UI', 'UR', 'UT']);
const UNDEFINED = 0xffffffff;

/** One data element. `value` is a view of the file's bytes (no copy); sequences carry `items`, encapsulated pixel data `fragments`. */
export interface DicomElement {
  readonly tag: number;
  readonly vr: string;
  readonly value: Uint8Array;
  readonly items?: DicomDataset[];
  /** Encapsulated pixel data: fragments after the basic offset table (PS3.5 A.4). */
  readonly fragments?: Uint8Array[];
  /** Encapsulated pixel data: the basic offset table (byte offsets of frames in the fragment stream). */
  readonly offsetTable?: Uint32Array;
}

/** Character decoding per Specific Character Set (0008,0005) (PS3.3 C.12.1.1.2); ASCII when absent. */
export interface Charset {
  readonly decoder: TextDecoder;
  /** Set when the declared character set is not fully supported (ISO 2022 code extensions). */
  readonly warning?: string;
}

const CHARSETS: Record<string, string> = {
  '': 'latin1', // default repertoire is ASCII, a subset of latin1
  ISO_IR_6: 'latin1',
  ISO_IR_100: 'latin1',
  ISO_IR_101: 'iso-8859-2',
  ISO_IR_109: 'iso-8859-3',
  ISO_IR_110: 'iso-8859-4',
  ISO_IR_144: 'iso-8859-5',
  ISO_IR_127: 'iso-8859-6',
  ISO_IR_126: 'iso-8859-7',
  ISO_IR_138: 'iso-8859-8',
  ISO_IR_148: 'iso-8859-9',
  ISO_IR_203: 'iso-8859-15',
  ISO_IR_166: 'windows-874',
  ISO_IR_13: 'shift_jis',
  ISO_IR_192: 'utf-8',
  GB18030: 'gb18030',
  GBK: 'gbk',
};

/** Builds the decoder for a Specific Character Set value (possibly multi-valued). */
export function charsetFor(value: string | undefined): Charset {
  const terms = (value ?? '').split('\\').map((t) => t.trim().replace(/ /g, '_'));
  const first = terms[0] ?? '';
  const iso2022 = terms.some((t) => t.startsWith('ISO_2022'));
  const key = first.replace(/^ISO_2022_/, 'ISO_');
  const label = CHARSETS[key] ?? CHARSETS[first];
  if (!label) {
    return { decoder: new TextDecoder('latin1'), warning: `unknown Specific Character Set "${value}"; text read as ISO 8859-1` };
  }
  return {
    decoder: new TextDecoder(label),
    warning: iso2022 || terms.length > 1 ? `Specific Character Set "${value}" uses ISO 2022 code extensions; text read with the first set only` : undefined,
  };
}

/** A data set: elements by tag, with typed accessors. Nested data sets (items) share the parent's byte order and charset. */
export class DicomDataset {
  readonly elements = new Map<number, DicomElement>();
  constructor(
    readonly littleEndian = true,
    public charset: Charset = charsetFor(undefined),
  ) {}

  /** True when the tag is present (even with an empty value). */
  has(tag: number): boolean {
    return this.elements.has(tag);
  }
  get(tag: number): DicomElement | undefined {
    return this.elements.get(tag);
  }
  /** Adds or replaces an element. */
  set(el: DicomElement): void {
    this.elements.set(el.tag >>> 0, el);
  }
  delete(tag: number): void {
    this.elements.delete(tag);
  }

  /** All text values of a text element (split at backslashes, trailing padding removed); [] when absent or empty. */
  strings(tag: number): string[] {
    const el = this.elements.get(tag);
    if (!el || el.value.length === 0) return [];
    const text = this.charset.decoder.decode(el.value).replace(/[\0 ]+$/, '');
    if (text === '') return [];
    // LT, ST, UT, UR are single-valued and may contain backslashes.
    if (el.vr === 'LT' || el.vr === 'ST' || el.vr === 'UT' || el.vr === 'UR') return [text];
    return text.split('\\').map((s) => s.trim());
  }
  /** First text value, trimmed; undefined when absent or empty. */
  string(tag: number): string | undefined {
    const v = this.strings(tag)[0];
    return v === undefined || v === '' ? undefined : v;
  }

  /** All numeric values: DS/IS parsed from text, binary VRs (US, SS, UL, SL, FL, FD, OW, OF, OD, AT) decoded. */
  numbers(tag: number): number[] {
    const el = this.elements.get(tag);
    if (!el || el.value.length === 0) return [];
    let vr = el.vr;
    if (vr === 'UN') vr = dictionaryVr(tag) ?? 'UN';
    if (vr === 'DS' || vr === 'IS') {
      return this.strings(tag).filter((s) => s !== '').map((s) => {
        const v = Number(s);
        if (!Number.isFinite(v)) throw new FormatError(`element ${tagString(tag)} holds "${s}", which is not a number`);
        return v;
      });
    }
    const dv = new DataView(el.value.buffer, el.value.byteOffset, el.value.byteLength);
    const le = this.littleEndian;
    const out: number[] = [];
    const step = { US: 2, SS: 2, OW: 2, UL: 4, SL: 4, FL: 4, OF: 4, FD: 8, OD: 8, AT: 4 }[vr];
    if (!step) {
      if (TEXT_VRS.has(vr) || vr === 'UN') {
        // A text number in an unknown VR (e.g. a UN element): try text.
        return this.strings(tag).map(Number).filter(Number.isFinite);
      }
      throw new FormatError(`element ${tagString(tag)} has VR ${vr}, which holds no numbers`);
    }
    for (let o = 0; o + step <= el.value.byteLength; o += step) {
      switch (vr) {
        case 'US': case 'OW': out.push(dv.getUint16(o, le)); break;
        case 'SS': out.push(dv.getInt16(o, le)); break;
        case 'UL': out.push(dv.getUint32(o, le)); break;
        case 'SL': out.push(dv.getInt32(o, le)); break;
        case 'FL': case 'OF': out.push(dv.getFloat32(o, le)); break;
        case 'FD': case 'OD': out.push(dv.getFloat64(o, le)); break;
        case 'AT': out.push(((dv.getUint16(o, le) << 16) | dv.getUint16(o + 2, le)) >>> 0); break;
      }
    }
    return out;
  }
  /** First numeric value, or undefined. */
  number(tag: number): number | undefined {
    return this.numbers(tag)[0];
  }
  /** Items of a sequence; [] when absent. */
  sequence(tag: number): DicomDataset[] {
    return this.elements.get(tag)?.items ?? [];
  }
  /** First item of a sequence, or undefined. */
  item(tag: number): DicomDataset | undefined {
    return this.sequence(tag)[0];
  }
}

/** A parsed Part 10 file. */
export interface DicomFile {
  /** File meta information (group 0002), always explicit VR little endian. */
  readonly meta: DicomDataset;
  readonly dataset: DicomDataset;
  readonly transferSyntaxUid: string;
}

interface Ctx {
  readonly bytes: Uint8Array;
  readonly dv: DataView;
  readonly explicit: boolean;
  readonly le: boolean;
  readonly charset: { current: Charset };
  readonly what: string;
}

function truncated(ctx: Ctx, tag: number, need: number, at: number): FormatError {
  return new FormatError(
    `${ctx.what}: truncated or corrupt DICOM: element ${tagString(tag)} needs ${need} bytes at offset ${at}, but the data ends at ${ctx.bytes.length}; re-export or re-copy the file`,
  );
}

function readTag(ctx: Ctx, o: number): number {
  return ((ctx.dv.getUint16(o, ctx.le) << 16) | ctx.dv.getUint16(o + 2, ctx.le)) >>> 0;
}

/** Parses elements from `o` until `end` (defined length) or an item delimitation item (undefined length). */
function parseDataset(ctx: Ctx, o: number, end: number, undefinedLength: boolean, ds: DicomDataset): number {
  while (o < end) {
    if (o + 8 > ctx.bytes.length) throw truncated(ctx, 0, 8, o);
    const tag = readTag(ctx, o);
    if (tag === TAG.ItemDelimitationItem) {
      return o + 8;
    }
    let vr: string;
    let len: number;
    let p: number;
    if (ctx.explicit && (tag >>> 16) !== 0xfffe) {
      vr = String.fromCharCode(ctx.bytes[o + 4], ctx.bytes[o + 5]);
      if (!/^[A-Z]{2}$/.test(vr)) {
        throw new FormatError(`${ctx.what}: element ${tagString(tag)} at offset ${o} has an invalid VR; the file is corrupt or its transfer syntax is wrong`);
      }
      if (LONG_VRS.has(vr)) {
        if (o + 12 > ctx.bytes.length) throw truncated(ctx, tag, 12, o);
        len = ctx.dv.getUint32(o + 8, ctx.le);
        p = o + 12;
      } else {
        len = ctx.dv.getUint16(o + 6, ctx.le);
        p = o + 8;
      }
    } else {
      vr = dictionaryVr(tag) ?? 'UN';
      len = ctx.dv.getUint32(o + 4, ctx.le);
      p = o + 8;
    }
    if (len === UNDEFINED) {
      if (tag === TAG.PixelData) {
        const r = parseEncapsulated(ctx, p, tag);
        ds.set({ tag, vr: vr === 'UN' ? 'OB' : vr, value: new Uint8Array(0), fragments: r.fragments, offsetTable: r.offsetTable });
        o = r.end;
      } else {
        // SQ, or UN / implicit of undefined length: a sequence encoded in implicit VR LE for UN (PS3.5 6.2.2).
        const sub: Ctx = vr === 'UN' && ctx.explicit ? { ...ctx, explicit: false, le: true } : ctx;
        const r = parseItems(sub, p, Infinity, true, tag);
        ds.set({ tag, vr: 'SQ', value: new Uint8Array(0), items: r.items });
        o = r.end;
      }
      continue;
    }
    if (p + len > ctx.bytes.length) throw truncated(ctx, tag, len, p);
    if (vr === 'SQ' || ((vr === 'UN') && len >= 8 && tag !== TAG.PixelData && looksLikeItem(ctx, p))) {
      const sub: Ctx = vr === 'UN' && ctx.explicit ? { ...ctx, explicit: false, le: true } : ctx;
      const r = parseItems(sub, p, p + len, false, tag);
      ds.set({ tag, vr: 'SQ', value: new Uint8Array(0), items: r.items });
    } else {
      ds.set({ tag, vr, value: ctx.bytes.subarray(p, p + len) });
      if (tag === TAG.SpecificCharacterSet) {
        ds.charset = charsetFor(new TextDecoder('latin1').decode(ctx.bytes.subarray(p, p + len)));
        ctx.charset.current = ds.charset;
      }
    }
    o = p + len;
  }
  if (undefinedLength) throw truncated(ctx, 0, 8, o);
  return o;
}

function looksLikeItem(ctx: Ctx, p: number): boolean {
  // An item tag (FFFE,E000) in little endian, as UN-encoded sequences use implicit VR LE.
  return ctx.bytes[p] === 0xfe && ctx.bytes[p + 1] === 0xff && ctx.bytes[p + 2] === 0x00 && ctx.bytes[p + 3] === 0xe0;
}

function parseItems(ctx: Ctx, o: number, end: number, undefinedLength: boolean, seqTag: number): { items: DicomDataset[]; end: number } {
  const dv = new DataView(ctx.bytes.buffer, ctx.bytes.byteOffset, ctx.bytes.byteLength);
  const items: DicomDataset[] = [];
  while (o < end) {
    if (o + 8 > ctx.bytes.length) throw truncated(ctx, seqTag, 8, o);
    const tag = ((dv.getUint16(o, ctx.le) << 16) | dv.getUint16(o + 2, ctx.le)) >>> 0;
    const len = dv.getUint32(o + 4, ctx.le);
    if (tag === TAG.SequenceDelimitationItem) return { items, end: o + 8 };
    if (tag !== TAG.Item) {
      throw new FormatError(`${ctx.what}: sequence ${tagString(seqTag)} holds ${tagString(tag)} at offset ${o} where an item was expected; the file is corrupt`);
    }
    const ds = new DicomDataset(ctx.le, ctx.charset.current);
    if (len === UNDEFINED) {
      o = parseDataset(ctx, o + 8, Infinity, true, ds);
    } else {
      if (o + 8 + len > ctx.bytes.length) throw truncated(ctx, seqTag, len, o + 8);
      parseDataset(ctx, o + 8, o + 8 + len, false, ds);
      o = o + 8 + len;
    }
    items.push(ds);
  }
  if (undefinedLength) throw truncated(ctx, seqTag, 8, o);
  return { items, end: o };
}

function parseEncapsulated(ctx: Ctx, o: number, tag: number): { fragments: Uint8Array[]; offsetTable: Uint32Array; end: number } {
  const fragments: Uint8Array[] = [];
  let offsetTable = new Uint32Array(0);
  let first = true;
  for (;;) {
    if (o + 8 > ctx.bytes.length) throw truncated(ctx, tag, 8, o);
    const itag = readTag(ctx, o);
    const len = ctx.dv.getUint32(o + 4, ctx.le);
    if (itag === TAG.SequenceDelimitationItem) return { fragments, offsetTable, end: o + 8 };
    if (itag !== TAG.Item || len === UNDEFINED) throw new FormatError(`${ctx.what}: encapsulated pixel data is corrupt at offset ${o}`);
    if (o + 8 + len > ctx.bytes.length) throw truncated(ctx, tag, len, o + 8);
    const v = ctx.bytes.subarray(o + 8, o + 8 + len);
    if (first) {
      offsetTable = new Uint32Array(len / 4);
      for (let i = 0; i < offsetTable.length; i++) offsetTable[i] = ctx.dv.getUint32(o + 8 + 4 * i, true);
      first = false;
    } else fragments.push(v);
    o += 8 + len;
  }
}

/** True when the bytes start with a Part 10 preamble: 128 bytes, then "DICM". */
export function hasDicmPreamble(bytes: Uint8Array): boolean {
  return bytes.length >= 132 && bytes[128] === 0x44 && bytes[129] === 0x49 && bytes[130] === 0x43 && bytes[131] === 0x4d;
}

/**
 * Parses a DICOM Part 10 file (PS3.10 7.1). `what` names the file in error messages.
 * Throws FormatError when the file is not DICOM, is truncated, or uses a byte encoding this parser cannot read.
 */
export function parseDicom(bytes: Uint8Array, what = 'DICOM file'): DicomFile {
  if (!hasDicmPreamble(bytes)) {
    throw new FormatError(`${what} is not a DICOM Part 10 file (no "DICM" marker at byte 128); export it from the PACS/workstation as DICOM files`);
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const charset = { current: charsetFor(undefined) };
  const metaCtx: Ctx = { bytes, dv, explicit: true, le: true, charset, what };
  const meta = new DicomDataset(true);
  // Group 0002 runs until the first element of another group.
  let o = 132;
  let metaEnd = 132;
  while (o + 8 <= bytes.length && dv.getUint16(o, true) === 0x0002) {
    const sub = new DicomDataset(true);
    const next = parseDataset(metaCtx, o, nextElementEnd(metaCtx, o), false, sub);
    for (const el of sub.elements.values()) meta.set(el);
    o = next;
    metaEnd = o;
  }
  const ts = meta.string(TAG.TransferSyntaxUID);
  if (!ts) throw new FormatError(`${what}: the file meta information has no Transfer Syntax UID (0002,0010); the file is corrupt`);
  let body = bytes;
  let start = metaEnd;
  let explicit = true;
  let le = true;
  if (ts === TS.implicitLE) explicit = false;
  else if (ts === TS.explicitBE) le = false;
  else if (ts === TS.deflatedLE) {
    try {
      body = inflateSync(bytes.subarray(metaEnd));
    } catch (err) {
      throw new FormatError(`${what}: deflated transfer syntax, but the data does not inflate (${(err as Error).message})`, { cause: err });
    }
    start = 0;
  }
  const ctx: Ctx = { bytes: body, dv: new DataView(body.buffer, body.byteOffset, body.byteLength), explicit, le, charset, what };
  const dataset = new DicomDataset(le);
  parseDataset(ctx, start, body.length, false, dataset);
  return { meta, dataset, transferSyntaxUid: ts };
}

/** End offset of the single explicit-LE element at `o` (used for the meta group). */
function nextElementEnd(ctx: Ctx, o: number): number {
  const vr = String.fromCharCode(ctx.bytes[o + 4], ctx.bytes[o + 5]);
  if (LONG_VRS.has(vr)) return o + 12 + ctx.dv.getUint32(o + 8, true);
  return o + 8 + ctx.dv.getUint16(o + 6, true);
}
