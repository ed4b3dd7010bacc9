/**
 * Pixel data to numbers: native (uncompressed) pixel data of 8, 16 or 32 bits, signed or unsigned, with Bits Stored
 * masking and sign extension (PS3.5 8.1.1, PS3.3 C.7.6.3.1); Float and Double Float Pixel Data; RLE Lossless
 * (PS3.5 annex G). Other encapsulated transfer syntaxes are named in a FormatError with the command that decompresses them.
 */
import { FormatError } from '../../errors.ts';
import { type DicomDataset, TS } from './parser.ts';
import { TAG } from './tags.ts';

/** Names of the compressed transfer syntaxes met in practice (PS3.6 annex A), for error messages. */
const COMPRESSED: Record<string, string> = {
  '1.2.840.10008.1.2.4.50': 'JPEG Baseline (process 1)',
  '1.2.840.10008.1.2.4.51': 'JPEG Extended (process 2 & 4)',
  '1.2.840.10008.1.2.4.57': 'JPEG Lossless (process 14)',
  '1.2.840.10008.1.2.4.70': 'JPEG Lossless SV1',
  '1.2.840.10008.1.2.4.80': 'JPEG-LS Lossless',
  '1.2.840.10008.1.2.4.81': 'JPEG-LS Near-Lossless',
  '1.2.840.10008.1.2.4.90': 'JPEG 2000 Lossless',
  '1.2.840.10008.1.2.4.91': 'JPEG 2000',
  '1.2.840.10008.1.2.4.201': 'HTJ2K Lossless',
  '1.2.840.10008.1.2.4.202': 'HTJ2K Lossless RPCL',
  '1.2.840.10008.1.2.4.203': 'HTJ2K',
  '1.2.840.10008.1.2.4.100': 'MPEG2',
  '1.2.840.10008.1.2.4.102': 'MPEG-4 AVC/H.264',
};

/** The command that turns a compressed file into an uncompressed one, for error messages. */
function decompressHint(ts: string): string {
  const jpeg = ['1.2.840.10008.1.2.4.50', '1.2.840.10008.1.2.4.51', '1.2.840.10008.1.2.4.57', '1.2.840.10008.1.2.4.70'];
  const jls = ['1.2.840.10008.1.2.4.80', '1.2.840.10008.1.2.4.81'];
  const first = jpeg.includes(ts) ? '`dcmdjpeg in.dcm out.dcm` (DCMTK) or ' : jls.includes(ts) ? '`dcmdjpls in.dcm out.dcm` (DCMTK) or ' : '';
  return `decompress it first with ${first}\`gdcmconv --raw in.dcm out.dcm\` (GDCM), then read the output`;
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
      const name = COMPRESSED[ts] ?? 'a compressed transfer syntax';
      throw new FormatError(`${what}: pixel data is compressed with ${name} (transfer syntax ${ts}), which this reader does not decode; ${decompressHint(ts)}`);
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

/** Bytes of a frame's fragments: with one frame, all fragments; with several, the offset table or one fragment each. */
function frameFragments(fragments: Uint8Array[], offsetTable: Uint32Array | undefined, frame: number, frames: number, what: string): Uint8Array {
  if (frames === 1) return concat(fragments);
  if (offsetTable && offsetTable.length === frames) {
    const starts: number[] = [];
    let pos = 0;
    const byOffset = new Map<number, number>();
    fragments.forEach((f, i) => {
      byOffset.set(pos, i);
      pos += f.length + 8;
    });
    for (const o of offsetTable) starts.push(byOffset.get(o) ?? -1);
    const a = starts[frame];
    const b = frame + 1 < frames ? starts[frame + 1] : fragments.length;
    if (a < 0 || b < 0) throw new FormatError(`${what}: the basic offset table does not match the fragments`);
    return concat(fragments.slice(a, b));
  }
  if (fragments.length !== frames) {
    throw new FormatError(`${what}: ${frames} frames in ${fragments.length} fragments and no basic offset table; cannot find the frames`);
  }
  return fragments[frame];
}

function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/**
 * RLE Lossless (PS3.5 annex G): a 64-byte header (segment count and offsets), then one PackBits segment per byte plane,
 * most significant byte first. Returns the frame as little-endian bytes.
 */
export function decodeRleFrame(fragments: Uint8Array[], offsetTable: Uint32Array | undefined, frame: number, fmt: PixelFormat, what: string): Uint8Array {
  const data = frameFragments(fragments, offsetTable, frame, fmt.numberOfFrames, what);
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
