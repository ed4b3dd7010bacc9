/**
 * Pixel data to numbers: native (uncompressed) pixel data of 8, 16 or 32 bits, signed or unsigned, with Bits Stored
 * masking and sign extension (PS3.5 8.1.1, PS3.3 C.7.6.3.1); Float and Double Float Pixel Data; RLE Lossless
 * (PS3.5 annex G); JPEG, JPEG-LS and JPEG 2000 frames decoded beforehand by the codec (codec.ts,
 * `decodeCompressedFrames`), then masked and sign-extended here like native data.
 */
import { FormatError } from '../../errors.ts';
import { CODEC_SYNTAXES, UNDECODED_SYNTAXES, decodedFrame, encapsulatedFrame } from './codec.ts';
import { type DicomDataset, TS } from './parser.ts';
import { TAG } from './tags.ts';

/** The command that turns a compressed file into an uncompressed one, for error messages. */
function decompressHint(): string {
  return 'decompress it first with `gdcmconv --raw in.dcm out.dcm` (GDCM), then read the output';
}

/** Image pixel description (Image Pixel module, PS3.3 C.7.6.3). */
export interface PixelFormat {
  readonly rows: number;
  readonly columns: number;
  readonly samplesPerPixel: number;
  readonly bitsAllocated: number;
  readonly bitsStored: number;
  readonly pixelRepresentation: number;
  readonly numberOfFrames: number;
}

/** Reads the Image Pixel attributes; throws FormatError when an image lacks them or uses colour. */
export function pixelFormat(ds: DicomDataset, what: string): PixelFormat {
  const rows = ds.number(TAG.Rows);
  const columns = ds.number(TAG.Columns);
  if (!rows || !columns) throw new FormatError(`${what}: no Rows/Columns (0028,0010/0011); it is not an image`);
  const samplesPerPixel = ds.number(TAG.SamplesPerPixel) ?? 1;
  if (samplesPerPixel !== 1) {
    throw new FormatError(`${what}: ${samplesPerPixel} samples per pixel (${ds.string(TAG.PhotometricInterpretation) ?? 'colour'}); only greyscale images hold quantitative values`);
  }
  const floatData = ds.has(TAG.FloatPixelData) ? 32 : ds.has(TAG.DoubleFloatPixelData) ? 64 : undefined;
  const bitsAllocated = floatData ?? ds.number(TAG.BitsAllocated) ?? 16;
  return {
    rows,
    columns,
    samplesPerPixel,
    bitsAllocated,
    bitsStored: ds.number(TAG.BitsStored) ?? bitsAllocated,
    pixelRepresentation: ds.number(TAG.PixelRepresentation) ?? 0,
    numberOfFrames: Math.max(1, Math.round(ds.number(TAG.NumberOfFrames) ?? 1)),
  };
}

/**
 * Stored values of one frame (before any rescale), as Float32Array of rows x columns, row-major (column index fastest).
 * `ts` is the file's transfer syntax UID; `frame` is 0-based.
 */
export function frameStoredValues(ds: DicomDataset, ts: string, frame: number, fmt: PixelFormat, what: string): Float32Array {
  const n = fmt.rows * fmt.columns;
  const out = new Float32Array(n);
  const fl = ds.get(TAG.FloatPixelData) ?? ds.get(TAG.DoubleFloatPixelData);
  const el = fl ?? ds.get(TAG.PixelData);
  if (!el) throw new FormatError(`${what}: no Pixel Data (7FE0,0010)`);
  let bytes: Uint8Array;
  let le = ds.littleEndian;
  if (el.fragments) {
    if (ts !== TS.rle) {
      const values = decodedFrame(ds, frame);
      if (!values) {
        const name = CODEC_SYNTAXES[ts] ?? UNDECODED_SYNTAXES[ts] ?? 'a compressed transfer syntax';
        const why = CODEC_SYNTAXES[ts] ? 'which is decoded for image series only (not here)' : 'which this reader does not decode';
        throw new FormatError(`${what}: pixel data is compressed with ${name} (transfer syntax ${ts}), ${why}; ${decompressHint()}`);
      }
      return storedFromDecoded(values, fmt, out);
    }
    bytes = decodeRleFrame(el.fragments, el.offsetTable, frame, fmt, what);
    le = true;
  } else {
    const frameBytes = (n * fmt.bitsAllocated) / 8;
    if (fmt.bitsAllocated % 8 !== 0) throw new FormatError(`${what}: ${fmt.bitsAllocated} bits allocated per pixel is not a greyscale image format this reader decodes`);
    const start = frame * frameBytes;
    if (el.value.length < start + frameBytes) {
      throw new FormatError(
        `${what}: pixel data holds ${el.value.length} bytes, but ${fmt.numberOfFrames} frame(s) of ${fmt.rows}x${fmt.columns} at ${fmt.bitsAllocated} bits need ${fmt.numberOfFrames * frameBytes}; the file is truncated`,
      );
    }
    bytes = el.value.subarray(start, start + frameBytes);
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const signed = fmt.pixelRepresentation === 1;
  const bs = fmt.bitsStored;
  if (fl) {
    if (fmt.bitsAllocated === 32) for (let i = 0; i < n; i++) out[i] = dv.getFloat32(4 * i, le);
    else for (let i = 0; i < n; i++) out[i] = dv.getFloat64(8 * i, le);
    return out;
  }
  switch (fmt.bitsAllocated) {
    case 8: {
      const mask = (1 << bs) - 1;
      for (let i = 0; i < n; i++) out[i] = signExtend(bytes[i] & mask, bs, signed);
      break;
    }
    case 16: {
      const mask = bs >= 16 ? 0xffff : (1 << bs) - 1;
      for (let i = 0; i < n; i++) out[i] = signExtend(dv.getUint16(2 * i, le) & mask, bs, signed);
      break;
    }
    case 32: {
      if (signed && bs >= 32) for (let i = 0; i < n; i++) out[i] = dv.getInt32(4 * i, le);
      else {
        const mask = bs >= 32 ? 0xffffffff : 2 ** bs - 1;
        for (let i = 0; i < n; i++) {
          const v = dv.getUint32(4 * i, le);
          out[i] = signExtend(bs >= 32 ? v : v % (mask + 1), bs, signed);
        }
      }
      break;
    }
    default:
      throw new FormatError(`${what}: ${fmt.bitsAllocated} bits allocated per pixel is not supported (8, 16 or 32)`);
  }
  return out;
}

function signExtend(v: number, bits: number, signed: boolean): number {
  if (!signed || bits >= 32) return v;
  const half = 2 ** (bits - 1);
  return v >= half ? v - 2 * half : v;
}

/**
 * Decoded samples (as the codec returns them: already sign-extended, or the raw Bits Stored pattern when the codestream
 * is unsigned but Pixel Representation says signed) to stored values: masked to Bits Stored, then sign-extended when
 * Pixel Representation is 1 (PS3.5 8.1.1), as for native data.
 */
function storedFromDecoded(values: ArrayLike<number>, fmt: PixelFormat, out: Float32Array): Float32Array {
  const signed = fmt.pixelRepresentation === 1;
  const bs = fmt.bitsStored;
  const mod = 2 ** Math.min(bs, 32);
  for (let i = 0; i < out.length; i++) {
    const v = values[i];
    const m = ((v % mod) + mod) % mod; // two's complement pattern of the low Bits Stored bits
    out[i] = bs >= 32 ? (signed && m >= 2 ** 31 ? m - 2 ** 32 : m) : signExtend(m, bs, signed);
  }
  return out;
}

/**
 * RLE Lossless (PS3.5 annex G): a 64-byte header (segment count and offsets), then one PackBits segment per byte plane,
 * most significant byte first. Returns the frame as little-endian bytes.
 */
export function decodeRleFrame(fragments: Uint8Array[], offsetTable: Uint32Array | undefined, frame: number, fmt: PixelFormat, what: string): Uint8Array {
  const data = encapsulatedFrame(fragments, offsetTable, frame, fmt.numberOfFrames, what);
  if (data.length < 64) throw new FormatError(`${what}: RLE frame ${frame} is shorter than its 64-byte header`);
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const nSeg = dv.getUint32(0, true);
  const bytesPerPixel = fmt.bitsAllocated / 8;
  if (nSeg !== bytesPerPixel) throw new FormatError(`${what}: RLE frame has ${nSeg} segments, expected ${bytesPerPixel} for ${fmt.bitsAllocated}-bit greyscale`);
  const n = fmt.rows * fmt.columns;
  const out = new Uint8Array(n * bytesPerPixel);
  for (let s = 0; s < nSeg; s++) {
    const start = dv.getUint32(4 + 4 * s, true);
    const end = s + 1 < nSeg ? dv.getUint32(8 + 4 * s, true) : data.length;
    const byteIndex = bytesPerPixel - 1 - s; // segment 0 holds the most significant bytes
    let i = start;
    let p = 0;
    while (i < end && p < n) {
      const h = (data[i++] << 24) >> 24; // signed header byte
      if (h >= 0) {
        for (let k = 0; k <= h && p < n; k++) out[bytesPerPixel * p++ + byteIndex] = data[i++];
      } else if (h !== -128) {
        const v = data[i++];
        for (let k = 0; k < 1 - h && p < n; k++) out[bytesPerPixel * p++ + byteIndex] = v;
      }
    }
    if (p < n) throw new FormatError(`${what}: RLE segment ${s} of frame ${frame} decodes to ${p} of ${n} pixels; the data is corrupt`);
  }
  return out;
}
