/**
 * The PNG encoder of the report's images: decoded by a reader written here from the PNG specification (chunk CRCs
 * checked with a bitwise CRC-32, IDAT inflated by Node's zlib), by Python's Pillow (an independent decoder; skipped
 * with a reason when absent), and as the report embeds it (PNG image data in a PDF image XObject) rendered by pdftoppm.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { A4_HEIGHT_PT, Layout } from '../../src/report/layout.ts';
import { encodePng } from '../../src/report/png.ts';
import { popplerMissing, renderPages } from './pdf-tools.ts';

/** CRC-32 bit by bit (ISO 3309 polynomial 0xEDB88320, reflected), independent of the table-driven one in io/gzip.ts. */
function crc32Bitwise(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  return (c ^ 0xffffffff) >>> 0;
}

/** Decodes an 8-bit, non-interlaced PNG with filter type 0 rows (what encodePng writes), checking every CRC. */
function decodeSpecPng(png: Uint8Array): { width: number; height: number; channels: number; data: Uint8Array; chunks: string[] } {
  expect(Array.from(png.subarray(0, 8))).toEqual([137, 80, 78, 71, 13, 10, 26, 10]);
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  let off = 8, width = 0, height = 0, channels = 0;
  const idat: Uint8Array[] = [];
  const chunks: string[] = [];
  while (off < png.length) {
    const len = view.getUint32(off);
    const type = String.fromCharCode(...png.subarray(off + 4, off + 8));
    chunks.push(type);
    expect(view.getUint32(off + 8 + len), `CRC of ${type}`).toBe(crc32Bitwise(png.subarray(off + 4, off + 8 + len)));
    const data = png.subarray(off + 8, off + 8 + len);
    if (type === 'IHDR') {
      width = view.getUint32(off + 8);
      height = view.getUint32(off + 12);
      expect(data[8]).toBe(8); // bit depth
      channels = data[9] === 2 ? 3 : data[9] === 0 ? 1 : -1;
      expect([data[10], data[11], data[12]]).toEqual([0, 0, 0]);
    } else if (type === 'IDAT') idat.push(data);
    off += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  expect(raw.length).toBe((stride + 1) * height);
  const out = new Uint8Array(stride * height);
  for (let y = 0; y < height; y++) {
    expect(raw[y * (stride + 1)]).toBe(0);
    out.set(raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1)), y * stride);
  }
  return { width, height, channels, data: out, chunks };
}

/** An RGB test pattern whose every pixel is a function of its position (any flip or shift changes it). */
function pattern(w: number, h: number): Uint8Array {
  const d = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const q = 3 * (x + w * y);
      d[q] = (x * 7) & 255;
      d[q + 1] = (y * 13) & 255;
      d[q + 2] = (x * y + 31) & 255;
    }
  }
  return d;
}

describe('encodePng', () => {
  it('RGB and grey round trip through a decoder written from the specification', () => {
    const w = 37, h = 23;
    const rgb = pattern(w, h);
    const got = decodeSpecPng(encodePng({ widthPx: w, heightPx: h, channels: 3, data: rgb }));
    expect(got.chunks).toEqual(['IHDR', 'IDAT', 'IEND']);
    expect([got.width, got.height, got.channels]).toEqual([w, h, 3]);
    expect(Buffer.compare(Buffer.from(got.data), Buffer.from(rgb))).toBe(0);
    const grey = rgb.filter((_, i) => i % 3 === 0);
    const g = decodeSpecPng(encodePng({ widthPx: w, heightPx: h, channels: 1, data: grey }));
    expect(g.channels).toBe(1);
    expect(Buffer.compare(Buffer.from(g.data), Buffer.from(grey))).toBe(0);
  });

  it('is deterministic and refuses a wrong buffer size', () => {
    const rgb = pattern(5, 4);
    expect(Buffer.compare(Buffer.from(encodePng({ widthPx: 5, heightPx: 4, channels: 3, data: rgb })), Buffer.from(encodePng({ widthPx: 5, heightPx: 4, channels: 3, data: rgb })))).toBe(0);
    expect(() => encodePng({ widthPx: 5, heightPx: 5, channels: 3, data: rgb })).toThrow(/needs 75 bytes, got 60/);
    expect(() => encodePng({ widthPx: 0, heightPx: 4, channels: 3, data: new Uint8Array(0) })).toThrow(/positive integers/);
  });

  it('Pillow (python3) reads the same pixels', (ctx) => {
    const probe = spawnSync('/usr/bin/python3', ['-c', 'import PIL'], { encoding: 'utf8' });
    if (probe.error || probe.status !== 0) {
      console.warn('skipping the Pillow round trip: /usr/bin/python3 with PIL is not available (apt-get install python3-pil)');
      return ctx.skip();
    }
    const w = 64, h = 48;
    const rgb = pattern(w, h);
    const dir = mkdtempSync(join(tmpdir(), 'png-'));
    const file = join(dir, 'x.png');
    writeFileSync(file, encodePng({ widthPx: w, heightPx: h, channels: 3, data: rgb }));
    const r = spawnSync('/usr/bin/python3', ['-c', 'import sys; from PIL import Image; im = Image.open(sys.argv[1]); print(im.mode, *im.size); sys.stdout.flush(); sys.stdout.buffer.write(im.tobytes())', file]);
    expect(r.status, String(r.stderr)).toBe(0);
    const out = r.stdout as Buffer;
    const nl = out.indexOf(10);
    expect(out.subarray(0, nl).toString()).toBe(`RGB ${w} ${h}`);
    expect(Buffer.compare(out.subarray(nl + 1), Buffer.from(rgb))).toBe(0);
  });

  it('an image drawn by the report layout (PNG data with the PDF PNG predictor) renders with its pixels in pdftoppm', async (ctx) => {
    const missing = popplerMissing();
    if (missing) {
      console.warn(`skipping the pdftoppm round trip: ${missing}`);
      return ctx.skip();
    }
    // 8 x 6 blocks of flat colour, each 9 px square, drawn 1 pt per px at the page's top-left corner: rendered at
    // 72 dpi, the block centres are exact whatever the resampling
    const bw = 8, bh = 6, s = 9;
    const rgb = new Uint8Array(bw * s * bh * s * 3);
    const colourOf = (bx: number, by: number) => [(bx * 31) & 255, (by * 41 + 20) & 255, ((bx + by) * 17) & 255];
    for (let y = 0; y < bh * s; y++) for (let x = 0; x < bw * s; x++) rgb.set(colourOf(Math.floor(x / s), Math.floor(y / s)), 3 * (x + bw * s * y));
    const L = await Layout.create();
    L.image({ widthPx: bw * s, heightPx: bh * s, channels: 3, data: rgb }, 0, A4_HEIGHT_PT - bh * s, bw * s, bh * s);
    const dir = mkdtempSync(join(tmpdir(), 'png-pdf-'));
    writeFileSync(join(dir, 'x.pdf'), await L.pdf.save());
    const [r] = renderPages(join(dir, 'x.pdf'), { dpi: 72, gray: false });
    for (let by = 0; by < bh; by++) {
      for (let bx = 0; bx < bw; bx++) {
        const q = 3 * (bx * s + 4 + r.width * (by * s + 4)); // the image's first row is at the top of the page
        expect(Array.from(r.data.subarray(q, q + 3)), `block ${bx},${by}`).toEqual(colourOf(bx, by));
      }
    }
  });
});
