/**
 * PNG encoder for the report's slice images: 8-bit truecolour (RGB) or greyscale, non-interlaced, filter type 0 on
 * every row (PNG specification, ISO/IEC 15948:2004 / W3C PNG 2nd ed.: signature, IHDR, one zlib IDAT, IEND; CRC-32
 * over type and data of each chunk). The zlib stream comes from fflate (deterministic: same pixels, same bytes).
 */
import { zlibSync } from 'fflate';
import { InputError } from '../errors.ts';
import { crc32 } from '../io/gzip.ts';

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** An 8-bit raster: `channels` bytes per pixel (1 grey, 3 RGB), rows top to bottom, pixels left to right. */
export interface Raster8 {
  readonly widthPx: number;
  readonly heightPx: number;
  readonly channels: 1 | 3;
  /** widthPx x heightPx x channels bytes. */
  readonly data: Uint8Array;
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)) >>> 0);
  return out;
}

/** Checks a raster's size against its buffer; throws InputError naming both. */
function checkRaster(r: Raster8): void {
  const { widthPx: w, heightPx: h, channels } = r;
  if (!(Number.isInteger(w) && Number.isInteger(h) && w > 0 && h > 0 && w < 2 ** 31 && h < 2 ** 31)) {
    throw new InputError(`PNG image size ${w} x ${h} px: both must be positive integers`);
  }
  if (channels !== 1 && channels !== 3) throw new InputError(`PNG image with ${channels} channels: use 1 (grey) or 3 (RGB)`);
  if (r.data.length !== w * h * channels) {
    throw new InputError(`PNG image ${w} x ${h} px x ${channels} channels needs ${w * h * channels} bytes, got ${r.data.length}`);
  }
}

/**
 * The image data of a PNG (its IDAT content): each row prefixed by its filter type (0, None) and the whole
 * zlib-compressed (RFC 1950). A PDF image XObject takes the same bytes with FlateDecode and the PNG predictor
 * (DecodeParms /Predictor 15, PDF 32000-1:2008 7.4.4.4), so the report embeds them without decoding.
 */
export function pngImageData(r: Raster8): Uint8Array {
  checkRaster(r);
  const stride = r.widthPx * r.channels;
  const raw = new Uint8Array((stride + 1) * r.heightPx);
  for (let y = 0; y < r.heightPx; y++) {
    raw[y * (stride + 1)] = 0; // filter type None
    raw.set(r.data.subarray(y * stride, (y + 1) * stride), y * (stride + 1) + 1);
  }
  return zlibSync(raw, { level: 6 });
}

/** Encodes a raster as a PNG file (colour type 2 for RGB, 0 for grey; bit depth 8). */
export function encodePng(r: Raster8): Uint8Array {
  const { widthPx: w, heightPx: h, channels } = r;
  const idat = pngImageData(r);
  const ihdr = new Uint8Array(13);
  const iv = new DataView(ihdr.buffer);
  iv.setUint32(0, w);
  iv.setUint32(4, h);
  ihdr[8] = 8; // bit depth
  ihdr[9] = channels === 3 ? 2 : 0; // colour type
  // compression 0 (deflate), filter method 0, interlace 0
  const parts = [Uint8Array.from(SIGNATURE), chunk('IHDR', ihdr), chunk('IDAT', idat), chunk('IEND', new Uint8Array(0))];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) (out.set(p, off), (off += p.length));
  return out;
}
