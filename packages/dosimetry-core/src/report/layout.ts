/**
 * A small flowing layout on A4 pages over pdf-lib: paragraphs that wrap at word boundaries, headings, key-value
 * blocks and tables whose rows never split across pages (the header row repeats), with a running header and a
 * footer ("page i of n", the patient ID) added once the page count is known. All text passes through the report's
 * transliterator (text.ts), so nothing handed to pdf-lib is outside the fonts' encoding.
 *
 * Units: PDF points (1/72 inch); y grows upwards from the page's bottom edge, as in PDF.
 */
import { concatTransformationMatrix, drawObject, PDFDocument, PDFFont, PDFPage, popGraphicsState, pushGraphicsState, StandardFonts, rgb, type Color } from 'pdf-lib';
import { pngImageData, type Raster8 } from './png.ts';
import { makeTransliterator } from './text.ts';

/** A4 [pt] (ISO 216: 210 x 297 mm). */
export const A4_WIDTH_PT = 595.28;
export const A4_HEIGHT_PT = 841.89;
/** Page margins [pt]: 15 mm at the sides, room for the running header and the footer. */
export const MARGIN_PT = { left: 42, right: 42, top: 54, bottom: 50 } as const;

/** RGB 0..1. */
export type Rgb = readonly [number, number, number];
export const BLACK: Rgb = [0, 0, 0];
export const GREY: Rgb = [0.4, 0.4, 0.4];
export const RED: Rgb = [0.75, 0, 0];
export const GREEN: Rgb = [0, 0.45, 0.1];
export const LIGHT: Rgb = [0.92, 0.92, 0.92];
export const color = (c: Rgb): Color => rgb(c[0], c[1], c[2]);

/** A table cell: text, optionally bold and coloured. */
export type Cell = string | { readonly text: string; readonly bold?: boolean; readonly color?: Rgb };

/** A table column: header, alignment, whether its text may wrap (others keep their natural width). */
export interface Column {
  readonly header: string;
  readonly align?: 'left' | 'right';
  readonly wrap?: boolean;
  /** Monospaced (hashes, UIDs). */
  readonly mono?: boolean;
}

/** Text style of a paragraph. */
export interface TextStyle {
  readonly sizePt?: number;
  readonly bold?: boolean;
  readonly mono?: boolean;
  readonly color?: Rgb;
  readonly indentPt?: number;
  /** Space after the paragraph [pt]. */
  readonly afterPt?: number;
}

const cellText = (c: Cell) => (typeof c === 'string' ? c : c.text);

/** The fonts of the report: Helvetica, Helvetica-Bold and Courier (PDF standard fonts, WinAnsi). */
export interface ReportFonts {
  readonly regular: PDFFont;
  readonly bold: PDFFont;
  readonly mono: PDFFont;
}

/** Flowing layout over a PDF document (see the module comment). */
export class Layout {
  readonly pdf: PDFDocument;
  readonly fonts: ReportFonts;
  /** Rewrites any text into the fonts' character set. */
  readonly clean: (text: string) => string;
  readonly pages: PDFPage[] = [];
  page!: PDFPage;
  /** Current position: the top of the next block [pt from the page's bottom]. */
  y = 0;
  readonly widthPt = A4_WIDTH_PT - MARGIN_PT.left - MARGIN_PT.right;
  readonly left = MARGIN_PT.left;

  private constructor(pdf: PDFDocument, fonts: ReportFonts) {
    this.pdf = pdf;
    this.fonts = fonts;
    this.clean = makeTransliterator(new Set(fonts.regular.getCharacterSet()));
    this.newPage();
  }

  /** A new document with the report fonts and a first page. */
  static async create(): Promise<Layout> {
    const pdf = await PDFDocument.create();
    const fonts = {
      regular: await pdf.embedFont(StandardFonts.Helvetica),
      bold: await pdf.embedFont(StandardFonts.HelveticaBold),
      mono: await pdf.embedFont(StandardFonts.Courier),
    };
    return new Layout(pdf, fonts);
  }

  newPage(): void {
    this.page = this.pdf.addPage([A4_WIDTH_PT, A4_HEIGHT_PT]);
    this.pages.push(this.page);
    this.y = A4_HEIGHT_PT - MARGIN_PT.top;
  }

  /** Starts a new page unless `heightPt` fits above the bottom margin. */
  need(heightPt: number): void {
    if (this.y - heightPt < MARGIN_PT.bottom) this.newPage();
  }

  font(style: { bold?: boolean; mono?: boolean }): PDFFont {
    return style.mono ? this.fonts.mono : style.bold ? this.fonts.bold : this.fonts.regular;
  }

  /** Width of text [pt] (after transliteration). */
  textWidth(text: string, sizePt: number, style: { bold?: boolean; mono?: boolean } = {}): number {
    return this.font(style).widthOfTextAtSize(this.clean(text), sizePt);
  }

  /**
   * Text broken into lines no wider than `widthPt`: at spaces, and inside a word only when the word alone is wider
   * than the line (long paths, hashes). Existing line breaks are kept. No character is dropped.
   */
  wrap(text: string, widthPt: number, sizePt: number, style: { bold?: boolean; mono?: boolean } = {}): string[] {
    const font = this.font(style);
    // 0.01 pt of slack: a column sized to a word's width must hold that word despite float rounding
    const w = (s: string) => font.widthOfTextAtSize(s, sizePt) - 0.01;
    const lines: string[] = [];
    for (const para of this.clean(text.replace(/\r\n?/g, '\n')).split('\n')) {
      let line = '';
      for (const word of para.split(/ +/)) {
        const candidate = line === '' ? word : `${line} ${word}`;
        if (w(candidate) <= widthPt) {
          line = candidate;
          continue;
        }
        if (line !== '') lines.push(line);
        line = '';
        let rest = word;
        while (w(rest) > widthPt && rest.length > 1) {
          let cut = rest.length - 1;
          while (cut > 1 && w(rest.slice(0, cut)) > widthPt) cut--;
          lines.push(rest.slice(0, cut));
          rest = rest.slice(cut);
        }
        line = rest;
      }
      lines.push(line);
    }
    return lines;
  }

  /** Draws one line of (already transliterated) text at (x, y baseline). */
  drawLine(text: string, xPt: number, baselinePt: number, sizePt: number, style: { bold?: boolean; mono?: boolean; color?: Rgb } = {}): void {
    if (text === '') return;
    this.page.drawText(text, { x: xPt, y: baselinePt, size: sizePt, font: this.font(style), color: color(style.color ?? BLACK) });
  }

  /**
   * Draws a raster image at (x, y bottom-left) scaled to width x height [pt]: an image XObject holding the PNG
   * image data (FlateDecode with the PNG predictor), written once, without the decode and re-compression of
   * pdf-lib's embedPng.
   */
  image(r: Raster8, xPt: number, yPt: number, widthPt: number, heightPt: number): void {
    const ref = this.pdf.context.register(
      this.pdf.context.stream(pngImageData(r), {
        Type: 'XObject',
        Subtype: 'Image',
        Width: r.widthPx,
        Height: r.heightPx,
        ColorSpace: r.channels === 3 ? 'DeviceRGB' : 'DeviceGray',
        BitsPerComponent: 8,
        Filter: 'FlateDecode',
        DecodeParms: { Predictor: 15, Colors: r.channels, BitsPerComponent: 8, Columns: r.widthPx },
      }),
    );
    const name = this.page.node.newXObject('Image', ref);
    this.page.pushOperators(pushGraphicsState(), concatTransformationMatrix(widthPt, 0, 0, heightPt, xPt, yPt), drawObject(name), popGraphicsState());
  }

  /** A wrapped paragraph; lines move to the next page when the page is full. */
  paragraph(text: string, style: TextStyle = {}): void {
    const size = style.sizePt ?? 8.5;
    const lead = size * 1.25;
    const indent = style.indentPt ?? 0;
    for (const line of this.wrap(text, this.widthPt - indent, size, style)) {
      this.need(lead);
      this.drawLine(line, this.left + indent, this.y - size, size, style);
      this.y -= lead;
    }
    this.y -= style.afterPt ?? 3;
  }

  /** A section heading with a rule under it; kept with at least `keepPt` of what follows. */
  heading(text: string, keepPt = 60): void {
    this.need(22 + keepPt);
    this.y -= 6;
    this.drawLine(this.clean(text), this.left, this.y - 11, 11, { bold: true });
    this.y -= 14;
    this.page.drawLine({ start: { x: this.left, y: this.y }, end: { x: this.left + this.widthPt, y: this.y }, thickness: 0.6, color: color(GREY) });
    this.y -= 5;
  }

  /** Label-value rows, labels bold in a column of their own. */
  keyValues(rows: ReadonlyArray<readonly [string, Cell]>, opts: { sizePt?: number; labelWidthPt?: number } = {}): void {
    const size = opts.sizePt ?? 8.5;
    const lead = size * 1.25;
    const labelW = opts.labelWidthPt ?? 150;
    for (const [label, value] of rows) {
      const v = typeof value === 'string' ? { text: value } : value;
      const labelLines = this.wrap(label, labelW - 6, size, { bold: true });
      const lines = this.wrap(v.text, this.widthPt - labelW, size, { bold: v.bold });
      const n = Math.max(labelLines.length, lines.length);
      this.need(n * lead);
      labelLines.forEach((l, i) => this.drawLine(l, this.left, this.y - size - i * lead, size, { bold: true, color: GREY }));
      lines.forEach((l, i) => this.drawLine(l, this.left + labelW, this.y - size - i * lead, size, { bold: v.bold, color: v.color }));
      this.y -= n * lead + 1;
    }
    this.y -= 3;
  }

  /**
   * Label-value rows in two columns side by side (reading order: left to right, then down), for long lists of short
   * fields; a row whose label or value does not fit half the width gets the full width after the short ones.
   */
  keyValuesTwoColumns(rows: ReadonlyArray<readonly [string, string]>, opts: { sizePt?: number } = {}): void {
    const size = opts.sizePt ?? 7.5;
    const lead = size * 1.25;
    const gap = 14;
    const colW = (this.widthPt - gap) / 2;
    const labelW = Math.min(colW * 0.62, Math.max(40, ...rows.map(([l]) => this.textWidth(l, size, { bold: true }) + 6)));
    const fits = ([l, v]: readonly [string, string]) => this.textWidth(l, size, { bold: true }) + 6 <= labelW && this.textWidth(v, size) <= colW - labelW;
    const short = rows.filter(fits);
    const long = rows.filter((r) => !fits(r));
    for (let i = 0; i < short.length; i += 2) {
      this.need(lead);
      for (const [c, row] of [short[i], short[i + 1]].entries()) {
        if (!row) continue;
        const x = this.left + c * (colW + gap);
        this.drawLine(this.clean(row[0]), x, this.y - size, size, { bold: true, color: GREY });
        this.drawLine(this.clean(row[1]), x + labelW, this.y - size, size);
      }
      this.y -= lead;
    }
    if (long.length) this.keyValues(long, { sizePt: size, labelWidthPt: Math.max(labelW, 150) });
    else this.y -= 3;
  }

  /**
   * A table: the header row bold on grey, thin rules between rows. Columns take their natural width; when the
   * table is wider than the page, wrapping columns share what is left and the font shrinks (down to 6 pt) until it
   * fits. A row is never split across pages; the header repeats on each page.
   */
  table(columns: readonly Column[], rows: ReadonlyArray<readonly Cell[]>, opts: { sizePt?: number } = {}): void {
    const pad = 2.5;
    let size = opts.sizePt ?? 7.5;
    let widths: number[] = [];
    const naturalWidths = (sizePt: number, wholeHeaders: boolean) =>
      columns.map((c, ci) => {
        const cells = rows.map((r) => this.textWidth(cellText(r[ci] ?? ''), sizePt, { bold: typeof r[ci] === 'object' && (r[ci] as { bold?: boolean }).bold, mono: c.mono }));
        const header = wholeHeaders ? this.textWidth(c.header, sizePt, { bold: true }) : Math.max(...c.header.split(' ').map((w) => this.textWidth(w, sizePt, { bold: true })));
        return Math.max(header, ...cells) + 2 * pad;
      });
    // headers on one line when the table still fits so, else broken at their spaces
    const whole = naturalWidths(size, true);
    if (whole.reduce((a, b) => a + b, 0) <= this.widthPt) widths = whole;
    for (; widths.length === 0; size -= 0.25) {
      const natural = naturalWidths(size, false);
      const fixedW = natural.reduce((s, w, ci) => s + (columns[ci].wrap ? 0 : w), 0);
      const wrapNatural = natural.reduce((s, w, ci) => s + (columns[ci].wrap ? w : 0), 0);
      const room = this.widthPt - fixedW;
      if (fixedW + wrapNatural <= this.widthPt) {
        widths = natural;
        break;
      }
      const minWrap = columns.filter((c) => c.wrap).length * 45;
      if (room >= minWrap || size <= 6) {
        // water-filling: narrow wrapping columns keep their natural width, the wide ones share the rest equally
        widths = [...natural];
        const wrapCols = natural.map((w, ci) => ({ w, ci })).filter(({ ci }) => columns[ci].wrap).sort((a, b) => a.w - b.w);
        let left = room;
        wrapCols.forEach(({ w, ci }, k) => {
          widths[ci] = Math.max(40, Math.min(w, left / (wrapCols.length - k)));
          left -= widths[ci];
        });
        break;
      }
    }
    const lead = size * 1.22;
    const cellLines = (text: string, ci: number, style: { bold?: boolean; mono?: boolean }) => this.wrap(text, widths[ci] - 2 * pad, size, style);
    const drawRow = (cells: readonly Cell[], header: boolean) => {
      const laid = columns.map((c, ci) => {
        const cell = cells[ci] ?? '';
        const style = { bold: header || (typeof cell === 'object' && cell.bold), mono: !header && c.mono, color: typeof cell === 'object' ? cell.color : undefined };
        return { lines: cellLines(cellText(cell), ci, style), style };
      });
      const h = Math.max(...laid.map((l) => l.lines.length)) * lead + 2 * pad - 1;
      return { laid, h };
    };
    const head = drawRow(columns.map((c) => c.header), true);
    const paint = (row: ReturnType<typeof drawRow>, header: boolean) => {
      if (header) this.page.drawRectangle({ x: this.left, y: this.y - row.h, width: widths.reduce((a, b) => a + b, 0), height: row.h, color: color(LIGHT) });
      let x = this.left;
      row.laid.forEach(({ lines, style }, ci) => {
        const right = columns[ci].align === 'right';
        lines.forEach((l, li) => {
          const lw = this.font(style).widthOfTextAtSize(l, size);
          this.drawLine(l, right ? x + widths[ci] - pad - lw : x + pad, this.y - pad - size * 0.85 - li * lead, size, style);
        });
        x += widths[ci];
      });
      this.y -= row.h;
      this.page.drawLine({ start: { x: this.left, y: this.y }, end: { x: this.left + widths.reduce((a, b) => a + b, 0), y: this.y }, thickness: header ? 0.6 : 0.25, color: color(GREY) });
    };
    this.need(head.h + (rows.length ? drawRow(rows[0], false).h : 0));
    paint(head, true);
    for (const r of rows) {
      const row = drawRow(r, false);
      if (this.y - row.h < MARGIN_PT.bottom) {
        this.newPage();
        paint(head, true);
      }
      paint(row, false);
    }
    this.y -= 6;
  }

  /** Running header and footer on every page: `left` and `center` text, "page i of n" on the right. */
  finish(header: string, footerLeft: string): void {
    const n = this.pages.length;
    this.pages.forEach((p, i) => {
      const size = 7;
      const f = this.fonts.regular;
      const h = this.clean(header);
      p.drawText(h, { x: this.left, y: A4_HEIGHT_PT - 30, size, font: f, color: color(GREY) });
      p.drawLine({ start: { x: this.left, y: A4_HEIGHT_PT - 34 }, end: { x: this.left + this.widthPt, y: A4_HEIGHT_PT - 34 }, thickness: 0.4, color: color(GREY) });
      p.drawLine({ start: { x: this.left, y: 34 }, end: { x: this.left + this.widthPt, y: 34 }, thickness: 0.4, color: color(GREY) });
      const right = `page ${i + 1} of ${n}`;
      const rw = this.fonts.bold.widthOfTextAtSize(right, size + 0.5);
      // the whole footer text, on as many lines as it needs (one, unless a patient ID is very long)
      this.wrap(footerLeft, this.widthPt - rw - 20, size).forEach((line, li) => {
        p.drawText(line, { x: this.left, y: 24 - li * 8, size, font: f, color: color(BLACK) });
      });
      p.drawText(right, { x: this.left + this.widthPt - rw, y: 24, size: size + 0.5, font: this.fonts.bold, color: color(BLACK) });
    });
  }
}
