/**
 * ROC figure: the empirical ROC curve of `rocAnalysis` with the pointwise confidence band of the sensitivity
 * (`rocSensitivityBand`, pROC's ci.se), the chance diagonal, the Youden cutoff marked on the curve, and a legend
 * with the AUC and its CI, the cutoff with its sensitivity and specificity, and n (responders / non-responders).
 */
import type { RocResult } from '../roc.ts';
import type { RocSensitivityBand } from '../plot-stats.ts';
import { type FigureStyle, DEFAULT_FIGURE_STYLE, GREY, PALETTE, UNIT_AXIS_TICKS, layoutFrame } from './layout.ts';
import { samplePolygonInterior, samplePolylines, withLegend } from './legend-place.ts';
import type { Item, Scene } from './scene.ts';
import { axisLabel, formatFraction, formatNumber, plainSymbols, withUnit } from './text.ts';

/** What the ROC figure shows. */
export interface RocFigureInput {
  readonly roc: RocResult;
  readonly band: RocSensitivityBand;
  /** The score (dose) column: its name, and the --label/--unit given for it (the cutoff is printed in its unit). */
  readonly score: { readonly column: string; readonly label?: string; readonly unit?: string };
  /** The response column and the labels counted as responders (caption). */
  readonly response?: { readonly column: string; readonly positive: readonly string[] };
  /** Cluster column of a cluster-bootstrap AUC CI (caption). */
  readonly clusterColumn?: string;
  readonly style?: Partial<FigureStyle>;
}

const BAND_FILL = PALETTE[0];

/** "31 responders, 1 non-responder". */
function classCounts(pos: number, neg: number): string {
  return `${pos} responder${pos === 1 ? '' : 's'}, ${neg} non-responder${neg === 1 ? '' : 's'}`;
}
const BAND_OPACITY = 0.2;

/** The ROC figure as a scene (see the module comment). */
export function rocFigure(input: RocFigureInput): Scene {
  const { roc, band } = input;
  const style: FigureStyle = { ...DEFAULT_FIGURE_STYLE, ...input.style };
  const ticks = [...UNIT_AXIS_TICKS];
  const score = axisLabel(input.score);
  const n = roc.nPositive + roc.nNegative;
  const ci = `${formatFraction(roc.aucCi95[0])}\u2013${formatFraction(roc.aucCi95[1])}`;
  const entries = [
    { swatch: 'line' as const, paint: { stroke: PALETTE[0], strokeWidthPt: style.linePt }, text: `AUC ${formatFraction(roc.auc)} (95 % CI ${ci})` },
    { swatch: 'fill' as const, paint: { fill: BAND_FILL, fillOpacity: BAND_OPACITY }, text: '95 % CI of sensitivity' },
    { swatch: 'marker' as const, paint: { fill: PALETTE[1] }, text: `cutoff ${withUnit(formatNumber(roc.cutoff), score.unit)} (Se ${formatFraction(roc.sensitivity)}, Sp ${formatFraction(roc.specificity)})` },
    { swatch: 'none' as const, text: `n = ${n} (${classCounts(roc.nPositive, roc.nNegative)})` },
  ].map((e) => ({ ...e, text: plainSymbols(e.text) }));
  const { frame: f, items } = withLegend((extraTopPt) => {
    const f = layoutFrame({ style, aspect: 1, extraTopPt, x: { domain: [0, 1], ticks, title: '1 - specificity' }, y: { domain: [0, 1], ticks, title: 'Sensitivity' } });
    const items: Item[] = [...f.items];
    // band: upper bound from specificity 1 (fpr 0) to 0 (fpr 1), then the lower bound back
    const idx = band.specificity.map((_, k) => k).sort((a, b) => band.specificity[b] - band.specificity[a]);
    const upper = idx.map((k) => [f.x(1 - band.specificity[k]), f.y(band.sensitivityHigh[k])] as [number, number]);
    const lower = [...idx].reverse().map((k) => [f.x(1 - band.specificity[k]), f.y(band.sensitivityLow[k])] as [number, number]);
    const bandPoly = [...upper, ...lower];
    items.push({ kind: 'path', role: 'band', closed: true, subpaths: [bandPoly], fill: BAND_FILL, fillOpacity: BAND_OPACITY });
    const diagonal: Array<[number, number]> = [[f.x(0), f.y(0)], [f.x(1), f.y(1)]];
    items.push({ kind: 'path', role: 'chance', subpaths: [diagonal], stroke: GREY, strokeWidthPt: f.axisPt, dashPt: [2 * f.axisPt + 1, 2 * f.axisPt + 1] });
    const curve: Array<[number, number]> = [[f.x(0), f.y(0)], ...roc.curve.map((p) => [f.x(p.fpr), f.y(p.tpr)] as [number, number])];
    items.push({ kind: 'path', role: 'curve', subpaths: [curve], stroke: PALETTE[0], strokeWidthPt: style.linePt });
    items.push({ kind: 'circle', role: 'cutoff', data: { cutoff: String(roc.cutoff) }, cx: f.x(1 - roc.specificity), cy: f.y(roc.sensitivity), rPt: 0.32 * f.fs, fill: PALETTE[1], stroke: '#ffffff', strokeWidthPt: f.axisPt });
    return { frame: f, items, obstacles: [...samplePolylines([curve, bandPoly]), ...samplePolygonInterior(bandPoly)] };
  }, entries, ['bottom-right', 'top-left']);
  const resp = input.response ? `"${input.response.column}" (${input.response.positive.join(', ')} counted as responders)` : 'response';
  const aucCi = roc.aucCiMethod === 'delong'
    ? 'DeLong'
    : `percentile cluster bootstrap over ${roc.bootstrap?.clusters} "${input.clusterColumn ?? 'cluster'}" (${roc.bootstrap?.used}/${roc.bootstrap?.replicates} resamples, seed ${roc.bootstrap?.seed})`;
  const bandHow = band.resampling === 'stratified'
    ? 'responders and non-responders resampled separately (stratified, as pROC ci.se)'
    : `whole "${input.clusterColumn ?? 'cluster'}" clusters resampled (${band.used} of ${band.replicates} resamples held both classes)`;
  const step = band.specificity.length > 1 ? Math.abs(band.specificity[1] - band.specificity[0]) : 0;
  const caption = plainSymbols([
    `Empirical ROC curve of ${score.text} for ${resp}: n = ${n} (${classCounts(roc.nPositive, roc.nNegative)}); a value at or above the threshold is called a responder.`,
    `AUC ${roc.auc.toFixed(3)} (95 % CI ${roc.aucCi95[0].toFixed(3)}-${roc.aucCi95[1].toFixed(3)}, ${aucCi}).`,
    `Shaded band: pointwise ${Math.round(100 * (1 - band.alpha))} % CI of the sensitivity at fixed specificities (${band.specificity.length} values${step ? `, step ${formatNumber(step)}` : ''}), percentile bootstrap with ${band.replicates} resamples, ${bandHow}, seed ${band.seed}; sensitivity read off each resampled curve by linear interpolation (pROC coords).`,
    `Dot: Youden cutoff ${withUnit(formatNumber(roc.cutoff, 4), score.unit)} (J = ${roc.youdenJ.toFixed(3)}), sensitivity ${(100 * roc.sensitivity).toFixed(1)} % (${roc.counts.tp}/${roc.counts.tp + roc.counts.fn}), specificity ${(100 * roc.specificity).toFixed(1)} % (${roc.counts.tn}/${roc.counts.tn + roc.counts.fp}). Dashed: chance.`,
  ].join(' '));
  return { widthPt: f.widthPt, heightPt: f.heightPt, title: plainSymbols(`ROC curve: ${score.text}`), caption, items };
}
