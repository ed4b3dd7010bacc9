/**
 * Dose-response figure: the fitted logistic curve of the dose-only model with its pointwise confidence band (delta
 * method on the linear predictor, `logisticProbabilityBand`), the observations as points at 0 (non-responders) and
 * 1 (responders) with a small deterministic vertical jitter, and D50 with its CI (a bar at P = 0.5).
 */
import type { DoseResponse, LogisticResult } from '../logistic.ts';
import { logisticProbabilityBand } from '../plot-stats.ts';
import { type FigureStyle, DEFAULT_FIGURE_STYLE, GREY, PALETTE, UNIT_AXIS_TICKS, layoutFrame, niceAxis } from './layout.ts';
import { samplePolygonInterior, samplePolylines, withLegend } from './legend-place.ts';
import type { Item, Scene } from './scene.ts';
import { axisLabel, formatNumber, plainSymbols, withUnit } from './text.ts';

/** What the dose-response figure shows. */
export interface DoseResponseFigureInput {
  /** Dose of each observation [Gy, or the column's unit]. */
  readonly doseGy: readonly number[];
  readonly responder: readonly boolean[];
  /** The dose-only logistic fit and its D50 summary. */
  readonly fit: LogisticResult;
  readonly doseResponse: DoseResponse;
  /** The dose column and --label/--unit for it. */
  readonly dose: { readonly column: string; readonly label?: string; readonly unit?: string };
  /** The response column and the labels counted as responders (caption). */
  readonly response?: { readonly column: string; readonly positive: readonly string[] };
  /** y-axis title, default "Probability of response". */
  readonly yLabel?: string;
  readonly style?: Partial<FigureStyle>;
}

const BAND_OPACITY = 0.2;
/** Vertical spread of the points around 0 and 1 (probability units). */
const JITTER = 0.025;
/** Points of the curve and band across the x axis. */
const CURVE_POINTS = 241;

/** The dose-response figure as a scene (see the module comment). */
export function doseResponseFigure(input: DoseResponseFigureInput): Scene {
  const style: FigureStyle = { ...DEFAULT_FIGURE_STYLE, ...input.style };
  const { doseGy, responder, doseResponse: dr } = input;
  const lo = Math.min(0, ...doseGy);
  const hi = Math.max(...doseGy);
  // D50 joins the axis when it lies within twice the observed range (beyond that it is an extrapolation)
  const d50In = Number.isFinite(dr.d50Gy) && dr.d50Gy >= lo - (hi - lo) && dr.d50Gy <= hi + (hi - lo);
  const xAxis = niceAxis(Math.min(lo, d50In ? dr.d50Gy : lo), Math.max(hi, d50In ? dr.d50Gy : hi));
  const dose = axisLabel(input.dose);
  const unit = dose.unit;
  const nPos = responder.filter(Boolean).length;
  const [ciLo, ciHi] = dr.d50CiGy;
  const entries = [
    { swatch: 'band' as const, paint: { stroke: PALETTE[0], strokeWidthPt: style.linePt, fill: PALETTE[0], fillOpacity: BAND_OPACITY }, text: 'logistic fit, 95 % CI' },
    { swatch: 'bar' as const, paint: { stroke: '#000000', strokeWidthPt: style.linePt }, text: `D50 ${withUnit(formatNumber(dr.d50Gy), unit)} (95 % CI ${formatNumber(ciLo)}\u2013${formatNumber(ciHi)})` },
    { swatch: 'marker' as const, paint: { stroke: PALETTE[2], strokeWidthPt: Math.max(0.25, (2 / 3) * style.linePt) }, text: `responders (n = ${nPos})` },
    { swatch: 'marker' as const, paint: { stroke: PALETTE[1], strokeWidthPt: Math.max(0.25, (2 / 3) * style.linePt) }, text: `non-responders (n = ${responder.length - nPos})` },
  ].map((e) => ({ ...e, text: plainSymbols(e.text) }));
  const [x0, x1] = xAxis.domain;
  const grid = Array.from({ length: CURVE_POINTS }, (_, i) => x0 + ((x1 - x0) * i) / (CURVE_POINTS - 1));
  const band = logisticProbabilityBand(input.fit, grid);
  const { frame: f, items } = withLegend((extraTopPt) => {
    const f = layoutFrame({
      style,
      aspect: 0.7,
      extraTopPt,
      x: { domain: xAxis.domain, ticks: xAxis.ticks, title: plainSymbols(dose.text) },
      y: { domain: [-2 * JITTER, 1 + 2 * JITTER], ticks: [...UNIT_AXIS_TICKS], title: plainSymbols(input.yLabel ?? 'Probability of response') },
    });
    const items: Item[] = [...f.items];
    const upper = band.map((b) => [f.x(b.doseGy), f.y(b.high)] as [number, number]);
    const lower = [...band].reverse().map((b) => [f.x(b.doseGy), f.y(b.low)] as [number, number]);
    const bandPoly = [...upper, ...lower];
    items.push({ kind: 'path', role: 'band', closed: true, subpaths: [bandPoly], fill: PALETTE[0], fillOpacity: BAND_OPACITY });
    const curve = band.map((b) => [f.x(b.doseGy), f.y(b.probability)] as [number, number]);
    // observations: points at 0 and 1, spread vertically by a golden-ratio sequence in dose order (no randomness)
    const order = doseGy.map((_, i) => i).sort((a, b) => doseGy[a] - doseGy[b] || a - b);
    const r = 0.26 * f.fs;
    const obstacles: Array<[number, number]> = [];
    const counters = [0, 0];
    for (const i of order) {
      const cls = responder[i] ? 1 : 0;
      const j = ((counters[cls]++ * 0.618034) % 1 - 0.5) * 2 * JITTER;
      const p: [number, number] = [f.x(doseGy[i]), f.y(cls + j)];
      obstacles.push(p);
      items.push({ kind: 'circle', role: responder[i] ? 'obs-responder' : 'obs-non-responder', data: { dose: String(doseGy[i]) }, cx: p[0], cy: p[1], rPt: r, stroke: responder[i] ? PALETTE[2] : PALETTE[1], strokeWidthPt: f.axisPt });
    }
    items.push({ kind: 'path', role: 'curve', subpaths: [curve], stroke: PALETTE[0], strokeWidthPt: style.linePt });
    obstacles.push(...samplePolylines([curve, bandPoly]), ...samplePolygonInterior(bandPoly));
    if (d50In) {
      const px = f.x(dr.d50Gy);
      const py = f.y(0.5);
      const dash = [2 * f.axisPt + 1, 2 * f.axisPt + 1];
      const guide: Array<[number, number]> = [[px, f.y(0)], [px, py]];
      items.push({ kind: 'path', role: 'd50-guide', subpaths: [guide], stroke: GREY, strokeWidthPt: f.axisPt, dashPt: dash });
      const a = f.x(Math.max(x0, ciLo));
      const b = f.x(Math.min(x1, ciHi));
      const cap = 0.3 * f.fs;
      const bar: Array<Array<[number, number]>> = [[[a, py], [b, py]]];
      if (ciLo >= x0) bar.push([[a, py - cap], [a, py + cap]]);
      if (ciHi <= x1) bar.push([[b, py - cap], [b, py + cap]]);
      items.push({ kind: 'path', role: 'd50-ci', subpaths: bar, stroke: '#000000', strokeWidthPt: style.linePt });
      items.push({ kind: 'circle', role: 'd50', data: { d50: String(dr.d50Gy) }, cx: px, cy: py, rPt: 0.3 * f.fs, fill: '#000000' });
      obstacles.push(...samplePolylines([guide, ...bar]));
    }
    return { frame: f, items, obstacles };
  }, entries, ['bottom-right', 'top-left']);
  const b = input.fit.coefficients;
  const resp = input.response ? `"${input.response.column}" (${input.response.positive.join(', ')} counted as responders)` : 'response';
  const caption = plainSymbols([
    `Logistic dose-response of ${resp} on ${dose.text}: P(D) = 1/(1 + exp(-(b0 + b1 D))), b0 = ${formatNumber(b[0].estimate, 4)}, b1 = ${formatNumber(b[1].estimate, 4)} per ${unit ?? 'unit'}; n = ${responder.length} (${nPos} responders).`,
    `Shaded: pointwise 95 % CI of the fitted probability, delta method on the linear predictor (expit(eta -+ 1.96 se(eta)), as R's predict.glm).`,
    `Points: observations at 1 (responders) and 0 (non-responders), spread vertically by +-${JITTER} for visibility.`,
    `D50 = ${withUnit(formatNumber(dr.d50Gy, 4), unit)} (95 % CI ${formatNumber(ciLo, 4)}-${withUnit(formatNumber(ciHi, 4), unit)}, delta method), gamma50 = ${dr.gamma50.toFixed(3)}${d50In ? '' : '; D50 lies beyond the plotted range'}.`,
  ].join(' '));
  return { widthPt: f.widthPt, heightPt: f.heightPt, title: plainSymbols(`Dose-response: ${dose.text}`), caption, items };
}
