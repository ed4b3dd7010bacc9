/**
 * Page, axes and legend of the journal figures, shared by every figure kind: the figure's size in mm (a journal
 * column: 89 mm single, 183 mm double), fonts and line widths in pt, a plot area whose margins are measured from
 * the text they hold (tick labels, axis titles, tables under the axis), L-shaped axes with outward ticks and
 * "nice" round tick values, and a legend block placed in a corner of the plot area.
 */
import { InputError } from '../../errors.ts';
import { type Item, type Paint, mmToPt } from './scene.ts';
import { CAP_HEIGHT_EM, DESCENDER_EM, FONT_SLACK, formatTicks, textWidthPt } from './text.ts';

/** Size and type of a figure. */
export interface FigureStyle {
  /** Figure width [mm]; 89 is a journal's single column, 183 a double column. */
  readonly widthMm: number;
  /** Figure height [mm]; undefined: from the plot's aspect ratio and the text around it. */
  readonly heightMm?: number;
  /** Font size of all text [pt] (journals ask for 5-8 pt at print size). */
  readonly fontPt: number;
  /** Width of the data lines (curves) [pt]; axes and ticks are drawn at 2/3 of it, at least 0.25 pt. */
  readonly linePt: number;
  /** Optional title above the plot (journals usually put it in the caption instead). */
  readonly title?: string;
}

/** Single journal column, 7 pt text, 0.75 pt lines. */
export const DEFAULT_FIGURE_STYLE: FigureStyle = { widthMm: 89, fontPt: 7, linePt: 0.75 };

/** Accepted ranges of the style (wider than any journal asks, narrow enough to catch a unit slip). */
export const FIGURE_LIMITS = { widthMm: [30, 500], heightMm: [20, 500], fontPt: [4, 24], linePt: [0.1, 5] } as const;

/** Checks a style against {@link FIGURE_LIMITS}; InputError naming the value, its range and the option. */
export function checkFigureStyle(s: FigureStyle): void {
  const check = (name: keyof typeof FIGURE_LIMITS, option: string, v: number | undefined, unit: string) => {
    if (v === undefined) return;
    const [lo, hi] = FIGURE_LIMITS[name];
    if (!(Number.isFinite(v) && v >= lo && v <= hi)) throw new InputError(`figure ${option} ${v}: give ${lo} to ${hi} ${unit} (a journal column is 89 mm single, 183 mm double; text 5-8 pt)`);
  };
  check('widthMm', '--width-mm', s.widthMm, 'mm');
  check('heightMm', '--height-mm', s.heightMm, 'mm');
  check('fontPt', '--font-pt', s.fontPt, 'pt');
  check('linePt', '--line-pt', s.linePt, 'pt');
}

/** Okabe-Ito colours (distinguishable with any colour vision deficiency; Okabe & Ito 2008), black excluded. */
export const PALETTE = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#F0E442', '#000000'] as const;
/** Grey of reference lines (chance diagonal, D50 guides). */
export const GREY = '#808080';

/** One axis of a frame. */
export interface AxisSpec {
  /** Data range shown [lo, hi]. */
  readonly domain: readonly [number, number];
  /** Tick values (inside the domain). */
  readonly ticks: readonly number[];
  /** Tick labels, one or more lines each (default: {@link formatTicks}). */
  readonly tickLabels?: ReadonlyArray<readonly string[]>;
  /** Axis title. */
  readonly title: string;
}

/** What a figure kind asks of its frame. */
export interface FrameSpec {
  readonly style: FigureStyle;
  readonly x: AxisSpec;
  readonly y: AxisSpec;
  /** Plot-area height / width when the style gives no height. */
  readonly aspect: number;
  /** Room above the plot area for annotations [pt] (e.g. p-values of group comparisons). */
  readonly extraTopPt?: number;
  /** Room below the x axis title [pt] (e.g. the number-at-risk table). */
  readonly extraBottomPt?: number;
  /** Least room left of the plot area [pt] (e.g. the row labels of a table under the axis). */
  readonly minLeftPt?: number;
}

/** A laid-out frame: page size, plot area and the data-to-page mapping. */
export interface Frame {
  readonly style: FigureStyle;
  readonly widthPt: number;
  readonly heightPt: number;
  /** Plot area [pt]: left, top, width, height. */
  readonly left: number;
  readonly top: number;
  readonly plotW: number;
  readonly plotH: number;
  /** Data to page coordinates [pt]. */
  readonly x: (v: number) => number;
  readonly y: (v: number) => number;
  /** Baseline of the x-axis title [pt]; anything under the axis goes below it. */
  readonly xTitleBaseline: number;
  /** Axes, ticks, labels and title. */
  readonly items: Item[];
  /** Font size [pt], and the common small distances derived from it. */
  readonly fs: number;
  readonly gap: number;
  readonly lineHeight: number;
  /** Width of axis lines and ticks [pt]. */
  readonly axisPt: number;
}

/** Round-number ticks (steps of 1, 2 or 5 times a power of ten) covering [lo, hi], about `count` of them. */
export function niceTicks(lo: number, hi: number, count = 6): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / Math.max(1, count - 1);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const ticks: number[] = [];
  for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) ticks.push(Math.abs(v) < step * 1e-9 ? 0 : Number(v.toPrecision(12)));
  return ticks;
}

/** [lo, hi] extended outward to multiples of its tick step, with those ticks. A single value gets +-1. */
export function niceAxis(lo: number, hi: number, count = 6): { domain: [number, number]; ticks: number[] } {
  if (!(hi > lo)) return niceAxis(lo - 1, hi + 1, count);
  const t = niceTicks(lo, hi, count);
  const step = t.length > 1 ? t[1] - t[0] : 1;
  const domain: [number, number] = [Math.floor(lo / step + 1e-9) * step, Math.ceil(hi / step - 1e-9) * step].map((v) => Number(v.toPrecision(12))) as [number, number];
  return { domain, ticks: niceTicks(domain[0], domain[1], count) };
}

/** The probability axis 0..1 in steps of 0.2. */
export const UNIT_AXIS_TICKS = [0, 0.2, 0.4, 0.6, 0.8, 1] as const;

/** Lays out the page and draws the axes (see the module comment); InputError when the plot area would vanish. */
export function layoutFrame(spec: FrameSpec): Frame {
  const { style } = spec;
  checkFigureStyle(style);
  const fs = style.fontPt;
  const gap = 0.35 * fs;
  const pad = 0.3 * fs;
  const tick = 0.45 * fs;
  const lineHeight = 1.2 * fs;
  const axisPt = Math.max(0.25, (2 / 3) * style.linePt);
  const xLabels = spec.x.tickLabels ?? formatTicks(spec.x.ticks).map((s) => [s]);
  const yLabels = spec.y.tickLabels ?? formatTicks(spec.y.ticks).map((s) => [s]);
  const xLines = Math.max(1, ...xLabels.map((l) => l.length));
  const yLabelW = FONT_SLACK * Math.max(0, ...yLabels.map((l) => textWidthPt(l[0] ?? '', fs)));
  const widthPt = mmToPt(style.widthMm);
  const titleRoom = style.title ? 1.5 * fs : 0;
  const top = pad + titleRoom + (spec.extraTopPt ?? 0) + 0.5 * CAP_HEIGHT_EM * fs;
  const yTitleRoom = (CAP_HEIGHT_EM + DESCENDER_EM) * fs;
  const left = Math.max(pad + yTitleRoom + gap + yLabelW + gap + tick, spec.minLeftPt ?? 0);
  const lastXW = FONT_SLACK * Math.max(0, ...xLabels.at(-1)!.map((s) => textWidthPt(s, fs)));
  const right = pad + lastXW / 2;
  const plotW = widthPt - left - right;
  // below the plot: ticks, tick label lines, the axis title, then what the figure adds
  const tickLabelFirstBaseline = tick + gap + CAP_HEIGHT_EM * fs;
  const titleBelow = tickLabelFirstBaseline + (xLines - 1) * lineHeight + DESCENDER_EM * fs + gap + CAP_HEIGHT_EM * fs;
  const bottom = titleBelow + DESCENDER_EM * fs + (spec.extraBottomPt ?? 0) + pad;
  let plotH: number;
  let heightPt: number;
  if (style.heightMm !== undefined) {
    heightPt = mmToPt(style.heightMm);
    plotH = heightPt - top - bottom;
  } else {
    plotH = spec.aspect * plotW;
    heightPt = top + plotH + bottom;
  }
  const minPlot = 4 * fs;
  if (!(plotW >= minPlot) || !(plotH >= minPlot)) {
    throw new InputError(
      `figure ${style.widthMm} mm wide${style.heightMm !== undefined ? ` and ${style.heightMm} mm high` : ''} leaves a plot area of ${(plotW / mmToPt(1)).toFixed(1)} x ${(plotH / mmToPt(1)).toFixed(1)} mm at ${fs} pt text; give a larger --width-mm${style.heightMm !== undefined ? '/--height-mm' : ''} or a smaller --font-pt`,
    );
  }
  const [x0, x1] = spec.x.domain;
  const [y0, y1] = spec.y.domain;
  const x = (v: number) => left + ((v - x0) / (x1 - x0)) * plotW;
  const y = (v: number) => top + plotH - ((v - y0) / (y1 - y0)) * plotH;
  const items: Item[] = [];
  const bottomY = top + plotH;
  const axisPaint: Paint = { stroke: '#000000', strokeWidthPt: axisPt };
  if (style.title) items.push({ kind: 'text', role: 'title', x: left + plotW / 2, y: pad + CAP_HEIGHT_EM * fs * 1.15, text: style.title, sizePt: fs * 1.15, anchor: 'middle' });
  items.push({ kind: 'path', role: 'axis-x', subpaths: [[[left, bottomY], [left + plotW, bottomY]]], ...axisPaint });
  items.push({ kind: 'path', role: 'axis-y', subpaths: [[[left, top], [left, bottomY]]], ...axisPaint });
  spec.x.ticks.forEach((t, k) => {
    const px = x(t);
    items.push({ kind: 'path', role: 'tick-x', subpaths: [[[px, bottomY], [px, bottomY + tick]]], ...axisPaint });
    xLabels[k].forEach((line, j) => {
      items.push({ kind: 'text', role: j === 0 ? 'tick-label-x' : 'tick-label-x-extra', x: px, y: bottomY + tickLabelFirstBaseline + j * lineHeight, text: line, sizePt: fs, anchor: 'middle' });
    });
  });
  spec.y.ticks.forEach((t, k) => {
    const py = y(t);
    items.push({ kind: 'path', role: 'tick-y', subpaths: [[[left - tick, py], [left, py]]], ...axisPaint });
    items.push({ kind: 'text', role: 'tick-label-y', x: left - tick - gap, y: py + 0.5 * CAP_HEIGHT_EM * fs, text: yLabels[k][0] ?? '', sizePt: fs, anchor: 'end' });
  });
  const xTitleBaseline = bottomY + titleBelow;
  items.push({ kind: 'text', role: 'axis-title-x', x: left + plotW / 2, y: xTitleBaseline, text: spec.x.title, sizePt: fs, anchor: 'middle' });
  // the y-axis title (rotated: its glyphs rise to the left of its baseline) sits beside the tick labels
  items.push({ kind: 'text', role: 'axis-title-y', x: left - tick - gap - yLabelW - gap - DESCENDER_EM * fs, y: top + plotH / 2, text: spec.y.title, sizePt: fs, anchor: 'middle', rotateDeg: 90 });
  return { style, widthPt, heightPt, left, top, plotW, plotH, x, y, xTitleBaseline, items, fs, gap, lineHeight, axisPt };
}

/** One legend row: a swatch and its text. 'band': a line over a filled box (a curve with its band). */
export interface LegendEntry {
  readonly swatch: 'line' | 'fill' | 'band' | 'marker' | 'bar' | 'none';
  /** Line or marker paint; for 'fill' and 'band' its fill and fillOpacity paint the box. */
  readonly paint?: Paint;
  readonly text: string;
}

/** Width [pt] of a legend entry's swatch column, and of a whole entry (text with room for a substituted font). */
export function legendEntryWidth(frame: Frame, e: LegendEntry, withSwatch: boolean): number {
  return (withSwatch ? 2.3 * frame.fs : 0) + FONT_SLACK * textWidthPt(e.text, frame.fs);
}

/** The items of one legend entry whose row starts at x with its middle at y [pt]. */
export function legendEntryItems(frame: Frame, e: LegendEntry, x: number, yMid: number, withSwatch: boolean): Item[] {
  const { fs } = frame;
  const w = 1.8 * fs;
  const p = e.paint ?? {};
  const items: Item[] = [];
  const hh = 0.7 * CAP_HEIGHT_EM * fs + 0.1 * fs;
  const box: Array<[number, number]> = [[x, yMid - hh], [x + w, yMid - hh], [x + w, yMid + hh], [x, yMid + hh]];
  if (e.swatch === 'fill' || e.swatch === 'band') items.push({ kind: 'path', role: 'legend-swatch', closed: true, subpaths: [box], fill: p.fill, fillOpacity: p.fillOpacity });
  if (e.swatch === 'line' || e.swatch === 'band' || e.swatch === 'bar') {
    items.push({ kind: 'path', role: 'legend-swatch', subpaths: [[[x, yMid], [x + w, yMid]]], stroke: p.stroke, strokeWidthPt: p.strokeWidthPt, dashPt: p.dashPt });
  }
  if (e.swatch === 'bar') items.push({ kind: 'path', role: 'legend-swatch', subpaths: [[[x, yMid - hh], [x, yMid + hh]], [[x + w, yMid - hh], [x + w, yMid + hh]]], stroke: p.stroke, strokeWidthPt: p.strokeWidthPt });
  if (e.swatch === 'marker' || e.swatch === 'bar') {
    items.push({ kind: 'circle', role: 'legend-swatch', cx: x + w / 2, cy: yMid, rPt: 0.3 * fs, ...(e.swatch === 'bar' ? { fill: p.stroke } : p) });
  }
  items.push({ kind: 'text', role: 'legend-text', x: x + (withSwatch ? w + 0.5 * fs : 0), y: yMid + 0.5 * CAP_HEIGHT_EM * fs, text: e.text, sizePt: fs, anchor: 'start' });
  return items;
}

/**
 * A legend block inside the plot area at a corner, `insetPt` from the plot edges (default: half the font size),
 * rows `frame.lineHeight` apart; `raisePt` lifts a bottom legend (or lowers a top one) further. Returns its items and
 * the block's box [pt].
 */
export function legend(
  frame: Frame,
  entries: readonly LegendEntry[],
  corner: 'top-left' | 'top-right' | 'bottom-left' | 'bottom-right',
  opts: { raisePt?: number; insetPt?: number } = {},
): { items: Item[]; box: { x0: number; y0: number; x1: number; y1: number } } {
  const { fs } = frame;
  const inset = opts.insetPt ?? 0.5 * fs;
  const withSwatch = entries.some((e) => e.swatch !== 'none');
  const w = Math.max(0, ...entries.map((e) => legendEntryWidth(frame, e, withSwatch)));
  const h = entries.length * frame.lineHeight;
  const bx = corner.endsWith('left') ? frame.left + inset + frame.axisPt + 0.3 * fs : frame.left + frame.plotW - inset - w;
  const by = corner.startsWith('top') ? frame.top + inset + (opts.raisePt ?? 0) : frame.top + frame.plotH - inset - h - (opts.raisePt ?? 0);
  const items = entries.flatMap((e, k) => legendEntryItems(frame, e, bx, by + (k + 0.5) * frame.lineHeight, withSwatch));
  return { items, box: { x0: bx, y0: by, x1: bx + w, y1: by + h } };
}
