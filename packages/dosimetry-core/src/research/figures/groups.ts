/**
 * Group figure: a value (dose) per group as a box plot (median and interquartile range, Tukey whiskers) over every
 * value as a point, n under each group's name, and the tests above the plot: a bracket with its p-value for a
 * comparison of two groups, a line of text for a test across groups (Kruskal-Wallis) or between pooled classes
 * (responders vs non-responders).
 */
import { boxStats } from '../plot-stats.ts';
import { type FigureStyle, DEFAULT_FIGURE_STYLE, PALETTE, layoutFrame, niceAxis } from './layout.ts';
import type { Item, Scene } from './scene.ts';
import { axisLabel, formatNumber, formatPValue, plainSymbols } from './text.ts';

/** A test result drawn on the group figure. */
export interface GroupTest {
  /** Name as printed, e.g. "Mann-Whitney" or "Kruskal-Wallis" or "Mann-Whitney CR+PR vs SD+PD". */
  readonly name: string;
  readonly p: number;
  /** Two groups (names as in `groups`) joined by a bracket; absent: a line of text across the top. */
  readonly between?: readonly [string, string];
  /** How it was computed (caption), e.g. "exact" or "normal approximation with tie and continuity corrections". */
  readonly method?: string;
}

/** What the group figure shows. */
export interface GroupsFigureInput {
  readonly groups: ReadonlyArray<{ readonly group: string; readonly values: readonly number[] }>;
  /** The value column and --label/--unit for it (default "doseGy" -> "dose [Gy]"). */
  readonly value: { readonly column: string; readonly label?: string; readonly unit?: string };
  /** The grouping column (x-axis title). */
  readonly groupColumn?: string;
  readonly tests: readonly GroupTest[];
  readonly style?: Partial<FigureStyle>;
}

/**
 * The tests a group figure shows, from the groups command's results: Kruskal-Wallis across three or more groups as a
 * line of text; Mann-Whitney between the two groups as a bracket, or between pooled responders and non-responders
 * (groupA/groupB such as "CR+PR" and "SD+PD") as a line of text.
 */
export function groupTests(opts: {
  readonly groupCount: number;
  readonly mannWhitney: { readonly groupA: string; readonly groupB: string; readonly p: number; readonly method: 'exact' | 'asymptotic' } | null;
  readonly kruskalWallis: { readonly p: number } | null;
}): GroupTest[] {
  const { mannWhitney: mw, kruskalWallis: kw } = opts;
  const two = opts.groupCount === 2;
  return [
    ...(kw ? [{ name: 'Kruskal-Wallis', p: kw.p, method: 'tie-corrected' }] : []),
    ...(mw ? [{
      name: two ? 'Mann-Whitney' : `Mann-Whitney ${mw.groupA} vs ${mw.groupB}`, p: mw.p,
      method: mw.method === 'exact' ? 'exact' : 'normal approximation, tie- and continuity-corrected',
      ...(two ? { between: [mw.groupA, mw.groupB] as const } : {}),
    }] : []),
  ];
}

const BOX_HALF = 0.28;
const CAP_HALF = 0.12;
const JITTER_HALF = 0.2;

/** The group figure as a scene (see the module comment). */
export function groupsFigure(input: GroupsFigureInput): Scene {
  const style: FigureStyle = { ...DEFAULT_FIGURE_STYLE, ...input.style };
  const fs = style.fontPt;
  const lineHeight = 1.2 * fs;
  const groups = input.groups.filter((g) => g.values.length > 0);
  const names = groups.map((g) => plainSymbols(g.group));
  const all = groups.flatMap((g) => [...g.values]);
  const yAxis = niceAxis(Math.min(0, ...all), Math.max(...all));
  const value = axisLabel(input.value);
  const across = input.tests.filter((t) => !t.between);
  const pairs = input.tests.filter((t) => t.between);
  const extraTopPt = across.length * lineHeight + pairs.length * (lineHeight + 0.5 * fs);
  const k = groups.length;
  const f = layoutFrame({
    style,
    aspect: 0.85,
    extraTopPt,
    x: { domain: [0.4, k + 0.6], ticks: groups.map((_, i) => i + 1), tickLabels: groups.map((g, i) => [names[i], `n = ${g.values.length}`]), title: plainSymbols(input.groupColumn ?? 'group') },
    y: { domain: yAxis.domain, ticks: yAxis.ticks, title: plainSymbols(value.text) },
  });
  const items: Item[] = [...f.items];
  const unitX = f.x(1) - f.x(0);
  groups.forEach((g, i) => {
    const col = PALETTE[i % PALETTE.length];
    const b = boxStats(g.values);
    const cx = f.x(i + 1);
    const bx0 = cx - BOX_HALF * unitX;
    const bx1 = cx + BOX_HALF * unitX;
    items.push({ kind: 'path', role: 'box', data: { group: names[i] }, closed: true, subpaths: [[[bx0, f.y(b.q3)], [bx1, f.y(b.q3)], [bx1, f.y(b.q1)], [bx0, f.y(b.q1)]]], fill: col, fillOpacity: 0.15, stroke: '#000000', strokeWidthPt: f.axisPt });
    const cap = CAP_HALF * unitX;
    items.push({
      kind: 'path', role: 'whisker', data: { group: names[i] }, stroke: '#000000', strokeWidthPt: f.axisPt,
      subpaths: [
        [[cx, f.y(b.q3)], [cx, f.y(b.whiskerHigh)]], [[cx - cap, f.y(b.whiskerHigh)], [cx + cap, f.y(b.whiskerHigh)]],
        [[cx, f.y(b.q1)], [cx, f.y(b.whiskerLow)]], [[cx - cap, f.y(b.whiskerLow)], [cx + cap, f.y(b.whiskerLow)]],
      ],
    });
    // every value, spread horizontally by a golden-ratio sequence in value order (no randomness)
    const sorted = [...g.values].sort((a, c) => a - c);
    sorted.forEach((v, j) => {
      const dx = (((j * 0.618034) % 1) - 0.5) * 2 * JITTER_HALF;
      items.push({ kind: 'circle', role: 'point', data: { group: names[i] }, cx: f.x(i + 1 + dx), cy: f.y(v), rPt: 0.27 * fs, fill: col, fillOpacity: 0.6 });
    });
    items.push({ kind: 'path', role: 'median', data: { group: names[i], median: String(b.median) }, subpaths: [[[bx0, f.y(b.median)], [bx1, f.y(b.median)]]], stroke: '#000000', strokeWidthPt: 1.6 * style.linePt });
  });
  // tests: lines of text at the top, then brackets just above the plot area
  let yb = f.top - extraTopPt;
  for (const t of across) {
    yb += lineHeight;
    items.push({ kind: 'text', role: 'test', x: f.left + f.plotW / 2, y: yb - 0.2 * fs, text: plainSymbols(`${t.name}: ${formatPValue(t.p)}`), sizePt: fs, anchor: 'middle' });
  }
  for (const t of pairs) {
    const a = names.indexOf(plainSymbols(t.between![0]));
    const c = names.indexOf(plainSymbols(t.between![1]));
    yb += lineHeight + 0.5 * fs;
    if (a < 0 || c < 0) continue;
    const xa = f.x(a + 1);
    const xc = f.x(c + 1);
    const yLine = yb - 0.1 * fs;
    items.push({ kind: 'path', role: 'bracket', subpaths: [[[xa, yLine + 0.4 * fs], [xa, yLine], [xc, yLine], [xc, yLine + 0.4 * fs]]], stroke: '#000000', strokeWidthPt: f.axisPt });
    items.push({ kind: 'text', role: 'test', x: (xa + xc) / 2, y: yLine - 0.25 * fs, text: plainSymbols(`${t.name} ${formatPValue(t.p)}`), sizePt: fs, anchor: 'middle' });
  }
  const perGroup = groups.map((g, i) => {
    const b = boxStats(g.values);
    return `${names[i]}: n = ${g.values.length}, median ${formatNumber(b.median, 4)} (IQR ${formatNumber(b.q1, 4)}-${formatNumber(b.q3, 4)})`;
  }).join('; ');
  const tests = input.tests.map((t) => `${t.name}${t.between ? ` (${t.between[0]} vs ${t.between[1]})` : ''}: ${formatPValue(t.p)}${t.method ? `, ${t.method}` : ''}`).join('; ');
  const caption = plainSymbols([
    `${value.text} by ${input.groupColumn ? `"${input.groupColumn}"` : 'group'}. ${perGroup}.`,
    `Box: median and interquartile range (quartiles by linear interpolation, R type 7); whiskers: the most extreme values within 1.5 IQR of the box; points: every value, spread horizontally for visibility.`,
    tests ? `Two-sided tests: ${tests}.` : '',
  ].filter(Boolean).join(' '));
  return { widthPt: f.widthPt, heightPt: f.heightPt, title: plainSymbols(`${value.text} by ${input.groupColumn ?? 'group'}`), caption, items };
}
