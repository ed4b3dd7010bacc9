/**
 * The figures of a cohort table as the research commands draw them with their default options (roc, groups,
 * logistic, km), for the viewer's cohort page, which has the table but no command line: the same steps (complete
 * rows, numbers and labels read as the commands read them, the same analyses and the same figure code), so the
 * page shows the very SVG the command writes. test/research/figures-page.test.ts holds the two byte for byte equal.
 * No file access: runs in the browser.
 */
import { StatsError } from '../../errors.ts';
import type { CsvTable } from '../csv.ts';
import { buildDesign, naturalCompare } from '../design.ts';
import { kruskalWallis, mannWhitney } from '../groups.ts';
import { kaplanMeier, logRank } from '../km.ts';
import { doseResponse, logisticRegression } from '../logistic.ts';
import { rocSensitivityBand } from '../plot-stats.ts';
import { rocAnalysis } from '../roc.ts';
import { completeRows, eventIndicators, normalizeResponseLabel, parseNumberCell, requireColumns, responseClassifier } from '../table.ts';
import { doseResponseFigure } from './dose-response.ts';
import { groupTests, groupsFigure } from './groups.ts';
import { kmFigure } from './km.ts';
import type { FigureStyle } from './layout.ts';
import { rocFigure } from './roc.ts';
import type { Scene } from './scene.ts';

/** The figure kinds, named after the command that writes each. */
export type TableFigureKind = 'roc' | 'groups' | 'logistic' | 'km';

/** Which columns a figure reads, and its labels and size (the commands' options of the same names). */
export interface TableFigureRequest {
  readonly kind: TableFigureKind;
  /** roc, groups, logistic: --dose-column (the value). */
  readonly dose?: string;
  /** roc, logistic: --response-column; groups: --group-column. */
  readonly response?: string;
  /** km: --time-column, --event-column, and --group-column or --dose-column with --cutoff. */
  readonly time?: string;
  readonly event?: string;
  readonly groupBy?: string;
  readonly cutoff?: number;
  /** --label, --unit, --y-label, and the size options. */
  readonly label?: string;
  readonly unit?: string;
  readonly yLabel?: string;
  readonly style?: Partial<FigureStyle>;
}

/** RECIST labels in their order on a group figure. */
const CANONICAL = ['CR', 'PR', 'SD', 'PD'];

function need(v: string | undefined, what: string): string {
  if (!v) throw new StatsError(`choose the ${what}`);
  return v;
}

/** The scene the command would draw for `req` from `table` (read from `source`); StatsError/InputError as it would. */
export function figureFromTable(table: CsvTable, req: TableFigureRequest, source: string): Scene {
  const axisOpts = { label: req.label, unit: req.unit };
  switch (req.kind) {
    case 'roc': {
      const dose = need(req.dose, 'dose column');
      const resp = need(req.response, 'response column');
      requireColumns(table, [dose, resp], source);
      const { rows } = completeRows(table, [dose, resp]);
      const d = rows.map((r) => parseNumberCell(r.cells[dose], dose, r.row, source));
      const cls = responseClassifier(rows.map((r) => r.cells[resp]), undefined, { rows: rows.map((r) => r.row), column: resp, source });
      const positive = rows.map((r) => cls.isPositive(r.cells[resp]));
      const roc = rocAnalysis({ doseGy: d, positive });
      const band = rocSensitivityBand({ doseGy: d, positive, replicates: 2000, seed: 20240101 });
      return rocFigure({ roc, band, score: { column: dose, ...axisOpts }, response: { column: resp, positive: cls.labels }, style: req.style });
    }
    case 'logistic': {
      const dose = need(req.dose, 'dose column');
      const resp = need(req.response, 'response column');
      requireColumns(table, [resp, dose], source);
      const { rows } = completeRows(table, [resp, dose]);
      const cells = rows.map((r) => r.cells);
      const design = buildDesign(cells, [{ name: dose, kind: 'continuous' }], source, rows.map((r) => r.row));
      const cls = responseClassifier(cells.map((c) => c[resp]), undefined, { rows: rows.map((r) => r.row), column: resp, source });
      const y = cells.map((c) => cls.isPositive(c[resp]));
      const fit = logisticRegression({ names: design.names, x: design.x, y });
      const dr = doseResponse(fit);
      return doseResponseFigure({ doseGy: design.x.map((r) => r[0]), responder: y, fit, doseResponse: dr, dose: { column: dose, ...axisOpts }, response: { column: resp, positive: cls.labels }, yLabel: req.yLabel, style: req.style });
    }
    case 'groups': {
      const dose = need(req.dose, 'value column');
      const groupCol = need(req.response, 'group column');
      requireColumns(table, [dose, groupCol], source);
      const { rows } = completeRows(table, [dose, groupCol]);
      const d = rows.map((r) => parseNumberCell(r.cells[dose], dose, r.row, source));
      const label = rows.map((r) => normalizeResponseLabel(r.cells[groupCol]));
      const shown = new Map<string, string>();
      label.forEach((l, i) => shown.has(l) || shown.set(l, CANONICAL.includes(l) ? l : rows[i].cells[groupCol].trim()));
      const present = [...new Set(label)];
      const wanted = [...CANONICAL.filter((g) => present.includes(g)), ...present.filter((g) => !CANONICAL.includes(g)).sort((x, y) => naturalCompare(shown.get(x)!, shown.get(y)!))];
      const nonEmpty = wanted.map((g) => ({ group: shown.get(g) ?? g, values: d.filter((_, i) => label[i] === g) })).filter((g) => g.values.length > 0);
      if (nonEmpty.length < 2) throw new StatsError(`the comparison needs at least two groups with values; "${groupCol}" holds ${present.map((p) => `"${shown.get(p)}"`).join(', ') || 'nothing'}`);
      let mw: { groupA: string; groupB: string; p: number; method: 'exact' | 'asymptotic' } | null = null;
      if (nonEmpty.length === 2) mw = { groupA: nonEmpty[0].group, groupB: nonEmpty[1].group, ...mannWhitney({ x: nonEmpty[0].values, y: nonEmpty[1].values }) };
      else if (wanted.some((g) => CANONICAL.includes(g))) {
        // a response column: responders against the rest, as the command compares them
        const cls = responseClassifier(label, undefined, { rows: rows.map((r) => r.row), column: groupCol, source });
        const x = d.filter((_, i) => cls.isPositive(label[i]));
        const y = d.filter((_, i) => !cls.isPositive(label[i]));
        if (x.length && y.length) mw = { groupA: cls.labels.join('+'), groupB: cls.negativeLabels.join('+'), ...mannWhitney({ x, y }) };
      }
      const kw = nonEmpty.length >= 3 ? kruskalWallis(nonEmpty) : null;
      return groupsFigure({ groups: nonEmpty, value: { column: dose, ...axisOpts }, groupColumn: groupCol, tests: groupTests({ groupCount: nonEmpty.length, mannWhitney: mw, kruskalWallis: kw }), style: req.style });
    }
    case 'km': {
      const time = need(req.time, 'time column');
      const event = need(req.event, 'event column');
      const byDose = req.groupBy === undefined && req.dose !== undefined && req.cutoff !== undefined;
      const cols = [time, event, ...(req.groupBy ? [req.groupBy] : []), ...(byDose ? [req.dose!] : [])];
      requireColumns(table, cols, source);
      const { rows } = completeRows(table, cols);
      const times = rows.map((r) => parseNumberCell(r.cells[time], time, r.row, source));
      const events = eventIndicators(rows.map((r) => r.cells[event]), {}, { rows: rows.map((r) => r.row), column: event, source });
      if (!events.some(Boolean)) throw new StatsError(`none of the ${events.length} rows has an event in "${event}"`);
      const group = req.groupBy
        ? rows.map((r) => r.cells[req.groupBy!].trim())
        : byDose
          ? rows.map((r) => (parseNumberCell(r.cells[req.dose!], req.dose!, r.row, source) >= req.cutoff! ? `${req.dose} >= ${req.cutoff}` : `${req.dose} < ${req.cutoff}`))
          : rows.map(() => 'all');
      const names = [...new Set(group)].sort(naturalCompare);
      if (byDose) names.sort((x, y) => (x.includes('>=') ? 1 : 0) - (y.includes('>=') ? 1 : 0));
      const curves = names.map((g) => {
        const idx = group.map((x, i) => (x === g ? i : -1)).filter((i) => i >= 0);
        return kaplanMeier({ times: idx.map((i) => times[i]), events: idx.map((i) => events[i]), group: g, confType: 'log-log' });
      });
      const lr = names.length >= 2 ? logRank({ times, events, group, groups: names }) : null;
      return kmFigure({ curves, logRankP: lr?.p, time: { column: time, ...axisOpts }, eventColumn: event, groupColumn: req.groupBy, yLabel: req.yLabel, ciTransform: 'log-log', style: req.style });
    }
  }
}
