/**
 * SVG back end of the journal figures: a standalone SVG 1.1 document whose width and height attributes are the
 * figure's size in mm and whose user unit is the point (viewBox in pt), so font sizes and line widths read in pt.
 * Coordinates are written to 0.01 pt. Presentation attributes only (no style attributes or scripts), so the same
 * text can be put inline in a page under a strict content security policy. Deterministic: the same scene gives
 * the same bytes.
 */
import { type Item, type Paint, PT_PER_MM, type Scene, r2 } from './scene.ts';
import { SVG_FONT_FAMILY } from './text.ts';

/** Escapes text for SVG/XML content and attribute values. */
export function xmlEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function num(v: number): string {
  return String(r2(v));
}

function dataAttrs(data: Readonly<Record<string, string>> | undefined): string {
  if (!data) return '';
  return Object.entries(data).map(([k, v]) => ` data-${k.replace(/[^a-z0-9-]/g, '-')}="${xmlEscape(v)}"`).join('');
}

function paintAttrs(p: Paint, defaultFill: string): string {
  const out: string[] = [];
  out.push(`fill="${p.fill ?? defaultFill}"`);
  if (p.fill && p.fillOpacity !== undefined && p.fillOpacity < 1) out.push(`fill-opacity="${p.fillOpacity}"`);
  if (p.stroke) {
    out.push(`stroke="${p.stroke}"`, `stroke-width="${num(p.strokeWidthPt ?? 1)}"`);
    if (p.dashPt?.length) out.push(`stroke-dasharray="${p.dashPt.map(num).join(' ')}"`);
  }
  return out.join(' ');
}

/** SVG path data of a path item: "M x y L x y ... Z". */
export function pathData(item: { subpaths: ReadonlyArray<ReadonlyArray<readonly [number, number]>>; closed?: boolean }): string {
  return item.subpaths
    .filter((s) => s.length > 0)
    .map((s) => s.map(([x, y], k) => `${k ? 'L' : 'M'}${num(x)} ${num(y)}`).join(' ') + (item.closed ? ' Z' : ''))
    .join(' ');
}

function itemSvg(it: Item): string {
  const cls = it.role ? ` class="${xmlEscape(it.role)}"` : '';
  const data = dataAttrs(it.data);
  switch (it.kind) {
    case 'path':
      return `<path${cls}${data} d="${pathData(it)}" ${paintAttrs(it, 'none')}/>`;
    case 'circle':
      return `<circle${cls}${data} cx="${num(it.cx)}" cy="${num(it.cy)}" r="${num(it.rPt)}" ${paintAttrs(it, 'none')}/>`;
    case 'text': {
      const rot = it.rotateDeg ? ` transform="rotate(${-it.rotateDeg} ${num(it.x)} ${num(it.y)})"` : '';
      const anchor = it.anchor === 'start' ? '' : ` text-anchor="${it.anchor}"`;
      const fill = it.color && it.color !== '#000000' ? ` fill="${it.color}"` : '';
      return `<text${cls}${data} x="${num(it.x)}" y="${num(it.y)}" font-size="${num(it.sizePt)}"${anchor}${fill}${rot}>${xmlEscape(it.text)}</text>`;
    }
  }
}

/** The scene as a standalone SVG document (UTF-8 text). */
export function sceneToSvg(scene: Scene): string {
  const wMm = scene.widthPt / PT_PER_MM;
  const hMm = scene.heightPt / PT_PER_MM;
  const fmtMm = (v: number) => String(Number(v.toFixed(3)));
  const fmtBox = (v: number) => String(Number(v.toFixed(4)));
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="${fmtMm(wMm)}mm" height="${fmtMm(hMm)}mm" viewBox="0 0 ${fmtBox(scene.widthPt)} ${fmtBox(scene.heightPt)}" font-family="${SVG_FONT_FAMILY}" fill="#000000">`,
    `<title>${xmlEscape(scene.title)}</title>`,
    `<desc>${xmlEscape(scene.caption)}</desc>`,
    `<rect class="background" x="0" y="0" width="${fmtBox(scene.widthPt)}" height="${fmtBox(scene.heightPt)}" fill="#ffffff"/>`,
    ...scene.items.map(itemSvg),
    '</svg>',
    '',
  ].join('\n');
}
