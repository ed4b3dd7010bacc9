/**
 * Kaplan-Meier figure: step curves of `kaplanMeier` with their pointwise confidence bands (the steps' own CIs, in
 * the transform the km command uses), censoring ticks, a legend with n per group and the log-rank p, and a
 * number-at-risk table under the x axis whose columns stand under the x ticks.
 */
import type { KmCurve } from '../km.ts';
import { numberAtRisk } from '../plot-stats.ts';
import { type FigureStyle, DEFAULT_FIGURE_STYLE, PALETTE, UNIT_AXIS_TICKS, layoutFrame, niceAxis } from './layout.ts';
import { samplePolygonInterior, samplePolylines, withLegend } from './legend-place.ts';
import type { Item, Scene } from './scene.ts';
import { CAP_HEIGHT_EM, FONT_SLACK, axisLabel, formatNumber, formatPValue, plainSymbols, textWidthPt } from './text.ts';

/** What the Kaplan-Meier figure shows. */
export interface KmFigureInput {
  readonly curves: readonly KmCurve[];
  /** Log-rank p across the groups (undefined with one group). */
  readonly logRankP?: number;
  /** The time column, and --label/--unit for it (default "pfsMonths" -> "pfs [months]"). */
  readonly time: { readonly column: string; readonly label?: string; readonly unit?: string };
  /** The event column (caption). */
  readonly eventColumn?: string;
  /** The grouping column: numeric group names are shown with it ("grade 1" rather than "1"). */
  readonly groupColumn?: string;
  /** y-axis title, default "Survival probability". */
  readonly yLabel?: string;
  /**
   * How the steps' CIs were computed, for the caption, e.g. "log-log" (R survival's conf.type; km.ts:
   * exp(-exp(log(-log S) -+ z se/|log S|))).
   */
  readonly ciTransform: string;
  /** Two-sided level of the steps' CIs (default 0.05). */
  readonly alpha?: number;
  readonly style?: Partial<FigureStyle>;
}

/** Band opacity: lighter with more than two groups, whose bands overlap. */
const bandOpacity = (groups: number) => (groups > 2 ? 0.12 : 0.18);

/** S(t) of a curve: survival after every step at or before t (1 before the first event). */
function survivalAt(c: KmCurve, t: number): number {
  let s = 1;
  for (const st of c.steps) if (st.time <= t) s = st.survival;
  return s;
}

/** The Kaplan-Meier figure as a scene (see the module comment). */
export function kmFigure(input: KmFigureInput): Scene {
  const style: FigureStyle = { ...DEFAULT_FIGURE_STYLE, ...input.style };
  const fs = style.fontPt;
  const { curves } = input;
  const shown = (g: string) => (input.groupColumn && /^-?[\d.]+$/.test(g.trim()) ? `${input.groupColumn} ${g}` : g);
  const names = curves.map((c) => plainSymbols(shown(c.group)));
  const BAND_OPACITY = bandOpacity(curves.length);
  const tEnd = (c: KmCurve) => Math.max(c.steps.at(-1)?.time ?? 0, ...c.censorTimes);
  const tmax = Math.max(...curves.map(tEnd), 0);
  const xAxis = niceAxis(0, tmax > 0 ? tmax : 1);
  const atRisk = curves.map((c) => numberAtRisk(c, xAxis.ticks));
  const lineHeight = 1.2 * fs;
  const gap = 0.35 * fs;
  const countW = FONT_SLACK * Math.max(...atRisk.flat().map((v) => textWidthPt(String(v), fs)));
  const labelW = FONT_SLACK * Math.max(...names.map((s) => textWidthPt(s, fs)));
  const time = axisLabel(input.time);
  const entries = [
    ...curves.map((c, g) => ({ swatch: 'band' as const, paint: { stroke: PALETTE[g % PALETTE.length], strokeWidthPt: style.linePt, fill: PALETTE[g % PALETTE.length], fillOpacity: BAND_OPACITY }, text: names[g] })), // n: the risk table's first column; events: the caption
    { swatch: 'none' as const, text: `shaded: 95 % CI (${input.ciTransform})` },
    ...(input.logRankP !== undefined ? [{ swatch: 'none' as const, text: `log-rank ${formatPValue(input.logRankP)}` }] : []),
  ];
  const { frame: f, items } = withLegend((extraTopPt) => {
    const f = layoutFrame({
      style,
      aspect: 0.62,
      extraTopPt,
      x: { domain: xAxis.domain, ticks: xAxis.ticks, title: plainSymbols(time.text) },
      y: { domain: [0, 1], ticks: [...UNIT_AXIS_TICKS], title: plainSymbols(input.yLabel ?? 'Survival probability') },
      extraBottomPt: gap + (1 + curves.length) * lineHeight,
      minLeftPt: 0.3 * fs + labelW + gap + countW / 2,
    });
    const items: Item[] = [...f.items];
    const obstacles: Array<[number, number]> = [];
    curves.forEach((c, g) => {
      const col = PALETTE[g % PALETTE.length];
      const end = tEnd(c);
      // band: contiguous stretches of steps whose CI is defined (undefined where S is 0, or 1 on the log-log scale)
      const stretches: Array<Array<{ t0: number; t1: number; lo: number; hi: number }>> = [];
      let cur: Array<{ t0: number; t1: number; lo: number; hi: number }> = [];
      c.steps.forEach((st, k) => {
        const t1 = k + 1 < c.steps.length ? c.steps[k + 1].time : end;
        if (st.ciLow !== null && st.ciHigh !== null && t1 > st.time) cur.push({ t0: st.time, t1, lo: st.ciLow, hi: st.ciHigh });
        else if (cur.length) (stretches.push(cur), (cur = []));
      });
      if (cur.length) stretches.push(cur);
      const polys = stretches.map((s) => {
        const up: Array<[number, number]> = s.flatMap((b) => [[f.x(b.t0), f.y(b.hi)], [f.x(b.t1), f.y(b.hi)]] as Array<[number, number]>);
        const down: Array<[number, number]> = [...s].reverse().flatMap((b) => [[f.x(b.t1), f.y(b.lo)], [f.x(b.t0), f.y(b.lo)]] as Array<[number, number]>);
        return [...up, ...down];
      });
      if (polys.length) items.push({ kind: 'path', role: 'km-band', data: { group: c.group }, closed: true, subpaths: polys, fill: col, fillOpacity: BAND_OPACITY });
      const pts: Array<[number, number]> = [[f.x(0), f.y(1)]];
      let s = 1;
      for (const st of c.steps) {
        pts.push([f.x(st.time), f.y(s)], [f.x(st.time), f.y(st.survival)]);
        s = st.survival;
      }
      pts.push([f.x(end), f.y(s)]);
      items.push({ kind: 'path', role: 'km-curve', data: { group: c.group }, subpaths: [pts], stroke: col, strokeWidthPt: style.linePt });
      const half = 0.35 * fs;
      const ticks = c.censorTimes.map((t) => [[f.x(t), f.y(survivalAt(c, t)) - half], [f.x(t), f.y(survivalAt(c, t)) + half]] as Array<[number, number]>);
      if (ticks.length) items.push({ kind: 'path', role: 'km-censor', data: { group: c.group }, subpaths: ticks, stroke: col, strokeWidthPt: f.axisPt });
      obstacles.push(...samplePolylines([pts, ...polys]), ...polys.flatMap((p) => samplePolygonInterior(p)));
    });
    // number-at-risk table: a header, then one row per group, counts centred under the x ticks
    const tableTop = f.xTitleBaseline + 0.207 * fs + gap;
    const header = tableTop + CAP_HEIGHT_EM * fs + 0.1 * fs;
    items.push({ kind: 'text', role: 'risk-header', x: 0.3 * fs, y: header, text: 'Number at risk', sizePt: fs, anchor: 'start' });
    const labelRight = f.left - countW / 2 - gap;
    curves.forEach((c, g) => {
      const yb = header + (g + 1) * lineHeight;
      const col = PALETTE[g % PALETTE.length];
      items.push({ kind: 'text', role: 'risk-label', data: { group: c.group }, x: labelRight, y: yb, text: names[g], sizePt: fs, anchor: 'end', color: col });
      xAxis.ticks.forEach((t, k) => {
        items.push({ kind: 'text', role: 'risk-count', data: { group: c.group }, x: f.x(t), y: yb, text: String(atRisk[g][k]), sizePt: fs, anchor: 'middle' });
      });
    });
    return { frame: f, items, obstacles };
  }, entries, ['top-right', 'bottom-left', 'bottom-right']);
  const level = Math.round(100 * (1 - (input.alpha ?? 0.05)));
  const medians = curves.map((c, g) => `${names[g]}: n = ${c.n}, ${c.events} events, median ${c.median === null ? 'not reached' : formatNumber(c.median, 4)}`).join('; ');
  const caption = plainSymbols([
    `Kaplan-Meier estimates of ${time.text}${input.eventColumn ? ` (event "${input.eventColumn}")` : ''}. ${medians}.`,
    `Shaded: pointwise ${level} % CI with the ${input.ciTransform} transform of the Greenwood variance (undefined where S is 1 or 0). Ticks on the curves: censored observations.`,
    input.logRankP !== undefined ? `Log-rank test across the groups: ${formatPValue(input.logRankP)}.` : '',
    `Number at risk: subjects whose time is at or after each x tick.`,
  ].filter(Boolean).join(' '));
  return { widthPt: f.widthPt, heightPt: f.heightPt, title: plainSymbols(`Kaplan-Meier: ${time.text}`), caption, items };
}
