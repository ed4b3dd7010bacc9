/**
 * Reading PDFs back in tests with poppler-utils (Debian's poppler-utils, installed by scripts/bootstrap.mjs):
 * `pdftotext` for the text, `pdftoppm` for page renders (PGM/PPM, parsed here), `pdfimages` for the embedded images,
 * `pdfinfo` for the page count. Tests skip with a printed reason when a tool is absent.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Why the poppler tools cannot be used, or undefined when they can. */
export function popplerMissing(): string | undefined {
  for (const tool of ['pdftotext', 'pdftoppm', 'pdfimages', 'pdfinfo']) {
    const r = spawnSync(tool, ['-v'], { encoding: 'utf8' });
    if (r.error) return `${tool} is not installed (Debian poppler-utils; scripts/bootstrap.mjs installs it)`;
  }
  return undefined;
}

function run(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

/** Text of a PDF (all pages, or pages first..last), with -layout so that table rows stay on one line. */
export function pdfText(file: string, pages?: { first: number; last: number }): string {
  return run('pdftotext', ['-layout', '-enc', 'UTF-8', ...(pages ? ['-f', String(pages.first), '-l', String(pages.last)] : []), file, '-']);
}

/** Number of pages (pdfinfo). */
export function pdfPageCount(file: string): number {
  const m = /^Pages:\s+(\d+)/m.exec(run('pdfinfo', [file]));
  if (!m) throw new Error(`pdfinfo gave no page count for ${file}`);
  return Number(m[1]);
}

/** A decoded raster: channels 1 (grey) or 3 (RGB), 8 bits, rows top to bottom. */
export interface Raster {
  readonly width: number;
  readonly height: number;
  readonly channels: 1 | 3;
  readonly data: Uint8Array;
}

/** Parses a binary PGM (P5) or PPM (P6) file with maxval 255 (Netpbm formats, as pdftoppm writes them). */
export function parsePnm(bytes: Uint8Array): Raster {
  const header: string[] = [];
  let off = 0;
  while (header.length < 4) {
    while (/\s/.test(String.fromCharCode(bytes[off]))) off++;
    if (bytes[off] === 0x23) {
      while (bytes[off] !== 0x0a) off++;
      continue;
    }
    let tok = '';
    while (!/\s/.test(String.fromCharCode(bytes[off]))) tok += String.fromCharCode(bytes[off++]);
    header.push(tok);
  }
  off++; // the single whitespace after maxval
  const [magic, w, h, maxval] = header;
  if ((magic !== 'P5' && magic !== 'P6') || maxval !== '255') throw new Error(`unsupported PNM ${magic} maxval ${maxval}`);
  const channels = magic === 'P5' ? 1 : 3;
  const width = Number(w), height = Number(h);
  return { width, height, channels, data: bytes.subarray(off, off + width * height * channels) };
}

/** Every page rendered by pdftoppm at `dpi`, grey (PGM) or colour (PPM). */
export function renderPages(file: string, opts: { dpi: number; gray: boolean }): Raster[] {
  const dir = mkdtempSync(join(tmpdir(), 'pdftoppm-'));
  try {
    run('pdftoppm', ['-r', String(opts.dpi), ...(opts.gray ? ['-gray'] : []), file, join(dir, 'p')]);
    return readdirSync(dir)
      .filter((f) => /\.(pgm|ppm)$/.test(f))
      .sort((a, b) => Number(/(\d+)\.p.m$/.exec(a)![1]) - Number(/(\d+)\.p.m$/.exec(b)![1]))
      .map((f) => parsePnm(readFileSync(join(dir, f))));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The images embedded in a PDF as pdfimages extracts them (PPM for RGB, PGM for grey), in page order. */
export function embeddedImages(file: string): Raster[] {
  const dir = mkdtempSync(join(tmpdir(), 'pdfimages-'));
  try {
    run('pdfimages', [file, join(dir, 'i')]);
    return readdirSync(dir)
      .filter((f) => /\.(pgm|ppm)$/.test(f))
      .sort()
      .map((f) => parsePnm(readFileSync(join(dir, f))));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Share of pixels darker than `below` (0..255; grey, or the mean of RGB) in rows [top, bottom) of a raster. */
export function inkFraction(r: Raster, rows: { top: number; bottom: number }, below = 200): number {
  let ink = 0, n = 0;
  for (let y = Math.floor(rows.top * r.height); y < Math.floor(rows.bottom * r.height); y++) {
    for (let x = 0; x < r.width; x++) {
      const q = (x + r.width * y) * r.channels;
      const v = r.channels === 1 ? r.data[q] : (r.data[q] + r.data[q + 1] + r.data[q + 2]) / 3;
      if (v < below) ink++;
      n++;
    }
  }
  return ink / n;
}

/** Share of RGB pixels that carry colour: max - min of the channels above `minChroma` (neither grey nor white). */
export function colourFraction(r: Raster, minChroma = 60): number {
  if (r.channels !== 3) return 0;
  let c = 0;
  for (let q = 0; q < r.data.length; q += 3) {
    const mx = Math.max(r.data[q], r.data[q + 1], r.data[q + 2]);
    const mn = Math.min(r.data[q], r.data[q + 1], r.data[q + 2]);
    if (mx - mn > minChroma) c++;
  }
  return c / (r.width * r.height);
}

/** Share of RGB pixels that are grey but neither white nor black (r = g = b within 2, 20..235): CT greyscale. */
export function greyFraction(r: Raster): number {
  let c = 0;
  for (let q = 0; q < r.data.length; q += r.channels) {
    const a = r.data[q], b = r.channels === 3 ? r.data[q + 1] : a, d = r.channels === 3 ? r.data[q + 2] : a;
    if (Math.max(a, b, d) - Math.min(a, b, d) <= 2 && a >= 20 && a <= 235) c++;
  }
  return c / (r.width * r.height);
}

/** Text with all whitespace removed (pdftotext breaks wrapped lines; the words themselves must be intact). */
export const squeeze = (s: string) => s.replace(/\s+/g, '');
