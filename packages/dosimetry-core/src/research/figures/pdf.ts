/**
 * PDF back end of the journal figures (pdf-lib): one page of the figure's size, vector drawing operations only
 * (paths, circles as Bezier curves, text in the standard Helvetica font), the caption as the document's Subject.
 * Deterministic: no creation or modification dates, so the same scene gives the same bytes.
 *
 * Helvetica is one of the PDF standard fonts, which readers provide (it is not embedded); it encodes WinAnsi
 * (Latin-1 with typographic dashes and quotes). Text outside that set is refused with the characters named.
 */
import { PDFDocument, StandardFonts, degrees, rgb, type Color } from 'pdf-lib';
import { InputError } from '../../errors.ts';
import { ENGINE_VERSION } from '../../version.ts';
import type { Paint, Scene } from './scene.ts';
import { pathData } from './svg.ts';
import { pdfUnencodable, textWidthPt } from './text.ts';

function color(hex: string): Color {
  const m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex);
  if (!m) throw new InputError(`figure colour "${hex}" is not #rrggbb`);
  return rgb(parseInt(m[1], 16) / 255, parseInt(m[2], 16) / 255, parseInt(m[3], 16) / 255);
}

function paintOptions(p: Paint): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  if (p.fill && p.fill !== 'none') {
    o.color = color(p.fill);
    if (p.fillOpacity !== undefined && p.fillOpacity < 1) o.opacity = p.fillOpacity;
  }
  if (p.stroke) {
    o.borderColor = color(p.stroke);
    o.borderWidth = p.strokeWidthPt ?? 1;
    if (p.dashPt?.length) o.borderDashArray = [...p.dashPt];
  }
  return o;
}

/**
 * Checks that every text of the scene can be drawn with the PDF's standard font (InputError naming the text and
 * the characters, and what to do); runs before anything is written.
 */
export function checkPdfText(scene: Scene): void {
  for (const it of [...scene.items, { kind: 'text' as const, text: scene.title }]) {
    if (it.kind !== 'text') continue;
    const bad = pdfUnencodable(it.text);
    if (bad.length) {
      throw new InputError(
        `figure text "${it.text}" holds ${bad.map((c) => `"${c}" (U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')})`).join(', ')}, which the PDF's standard Helvetica font cannot draw; use Latin-1 characters in --label/--unit/--title and the table's names (">=" for "≥"), or write the SVG only`,
      );
    }
  }
}

/** The scene as a one-page vector PDF (bytes). */
export async function sceneToPdf(scene: Scene): Promise<Uint8Array> {
  checkPdfText(scene);
  const doc = await PDFDocument.create({ updateMetadata: false });
  doc.setTitle(scene.title);
  doc.setSubject(scene.caption);
  doc.setCreator(`SIRT dosimetry engine ${ENGINE_VERSION}`);
  doc.setProducer('pdf-lib');
  const font = doc.embedStandardFont(StandardFonts.Helvetica);
  const page = doc.addPage([scene.widthPt, scene.heightPt]);
  const H = scene.heightPt;
  for (const it of scene.items) {
    if (it.kind === 'path') {
      const d = pathData(it);
      if (!d) continue;
      const o = paintOptions(it);
      if (!('color' in o) && !('borderColor' in o)) continue; // invisible
      page.drawSvgPath(d, { x: 0, y: H, ...o });
    } else if (it.kind === 'circle') {
      page.drawCircle({ x: it.cx, y: H - it.cy, size: it.rPt, ...paintOptions(it) });
    } else {
      // the anchor moves the start of the text back along its baseline (up the page when rotated by 90 degrees)
      const w = textWidthPt(it.text, it.sizePt);
      const back = it.anchor === 'start' ? 0 : it.anchor === 'middle' ? w / 2 : w;
      const rot = it.rotateDeg ?? 0;
      const [dx, dy] = rot === 90 ? [0, 1] : [1, 0];
      page.drawText(it.text, {
        x: it.x - back * dx,
        y: H - it.y - back * dy,
        size: it.sizePt,
        font,
        color: color(it.color ?? '#000000'),
        ...(rot ? { rotate: degrees(rot) } : {}),
      });
    }
  }
  return doc.save({ useObjectStreams: false });
}
