/**
 * Puts a legend where it hides no data: each candidate corner of the plot area is tried in order and the first
 * whose block covers none of the drawn points is taken; when every corner covers some, the legend goes above the
 * plot area instead, its entries flowing in as many columns as the plot's width holds (the figure then lays out
 * again with that room on top). Obstacles are points in page coordinates [pt]: polylines sampled along their
 * segments ({@link samplePolylines}) and filled bands sampled inside ({@link samplePolygonInterior}).
 */
import type { Item } from './scene.ts';
import { type Frame, type LegendEntry, legend, legendEntryItems, legendEntryWidth } from './layout.ts';

export type Corner = 'top-left' | 'top-right' | 'bottom-left' | 'bottom-right';

/** Points every `stepPt` along the polylines (vertices included). */
export function samplePolylines(lines: ReadonlyArray<ReadonlyArray<readonly [number, number]>>, stepPt = 1): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (const l of lines) {
    for (let k = 0; k < l.length; k++) {
      out.push([l[k][0], l[k][1]]);
      if (k + 1 < l.length) {
        const [x0, y0] = l[k];
        const [x1, y1] = l[k + 1];
        const n = Math.floor(Math.hypot(x1 - x0, y1 - y0) / stepPt);
        for (let i = 1; i < n; i++) out.push([x0 + ((x1 - x0) * i) / n, y0 + ((y1 - y0) * i) / n]);
      }
    }
  }
  return out;
}

/** Grid points every `stepPt` inside a polygon (even-odd rule), for bands a legend must not cover. */
export function samplePolygonInterior(poly: ReadonlyArray<readonly [number, number]>, stepPt = 2): Array<[number, number]> {
  if (poly.length < 3) return [];
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  for (const [x, y] of poly) (x0 = Math.min(x0, x)), (x1 = Math.max(x1, x)), (y0 = Math.min(y0, y)), (y1 = Math.max(y1, y));
  const out: Array<[number, number]> = [];
  for (let y = y0 + stepPt / 2; y < y1; y += stepPt) {
    // crossings of the scanline, then the stretches between pairs of them
    const xs: number[] = [];
    for (let k = 0; k < poly.length; k++) {
      const [ax, ay] = poly[k];
      const [bx, by] = poly[(k + 1) % poly.length];
      if ((ay <= y) !== (by <= y)) xs.push(ax + ((y - ay) / (by - ay)) * (bx - ax));
    }
    xs.sort((a, b) => a - b);
    for (let k = 0; k + 1 < xs.length; k += 2) for (let x = Math.ceil((xs[k] - x0) / stepPt) * stepPt + x0; x <= xs[k + 1]; x += stepPt) out.push([x, y]);
  }
  return out;
}

/** Height [pt] of a legend set above the plot area of `frame`, with the column count it uses. */
export function legendAboveSize(frame: Frame, entries: readonly LegendEntry[]): { heightPt: number; columns: number } {
  const withSwatch = entries.some((e) => e.swatch !== 'none');
  const colW = Math.max(...entries.map((e) => legendEntryWidth(frame, e, withSwatch))) + 1.5 * frame.fs;
  const columns = Math.max(1, Math.min(entries.length, Math.floor((frame.plotW + 1.5 * frame.fs) / colW)));
  return { heightPt: Math.ceil(entries.length / columns) * frame.lineHeight + 0.3 * frame.fs, columns };
}

/** The legend in the room above the plot area (the frame was laid out with `legendAboveSize` more on top). */
export function legendAbove(frame: Frame, entries: readonly LegendEntry[], columns: number, heightPt: number): Item[] {
  const withSwatch = entries.some((e) => e.swatch !== 'none');
  const colW = Math.max(...entries.map((e) => legendEntryWidth(frame, e, withSwatch))) + 1.5 * frame.fs;
  const top = frame.top - 0.5 * 0.718 * frame.fs - heightPt;
  return entries.flatMap((e, k) => legendEntryItems(frame, e, frame.left + (k % columns) * colW, top + (Math.floor(k / columns) + 0.5) * frame.lineHeight, withSwatch));
}

/**
 * The legend at the first corner of `corners` whose block (with a quarter of the font size around it) holds no
 * obstacle point; `undefined` when every corner holds some (the caller then sets it above the plot).
 */
export function placeLegend(frame: Frame, entries: readonly LegendEntry[], corners: readonly Corner[], obstacles: ReadonlyArray<readonly [number, number]>, opts: { raisePt?: number } = {}): Item[] | undefined {
  const pad = 0.25 * frame.fs;
  for (const c of corners) {
    const { items, box } = legend(frame, entries, c, opts);
    if (!obstacles.some(([x, y]) => x >= box.x0 - pad && x <= box.x1 + pad && y >= box.y0 - pad && y <= box.y1 + pad)) return items;
  }
  return undefined;
}

/**
 * Lays a figure out with its legend: `draw(extraTopPt)` lays out the frame (with that much more room on top) and
 * draws the data, returning the frame, the items and the obstacle points; the legend goes to the first free corner,
 * else above the plot (drawn again with the room for it).
 */
export function withLegend(
  draw: (extraTopPt: number) => { frame: Frame; items: Item[]; obstacles: ReadonlyArray<readonly [number, number]> },
  entries: readonly LegendEntry[],
  corners: readonly Corner[],
  opts: { raisePt?: (frame: Frame) => number } = {},
): { frame: Frame; items: Item[] } {
  const first = draw(0);
  const inside = placeLegend(first.frame, entries, corners, first.obstacles, { raisePt: opts.raisePt?.(first.frame) });
  if (inside) return { frame: first.frame, items: [...first.items, ...inside] };
  const size = legendAboveSize(first.frame, entries);
  const again = draw(size.heightPt);
  return { frame: again.frame, items: [...again.items, ...legendAbove(again.frame, entries, size.columns, size.heightPt)] };
}
