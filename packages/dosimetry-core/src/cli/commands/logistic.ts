/**
 * `dosimetry logistic`: logistic regression of response on dose and other covariates, and the dose-response curve
 * (D50, gamma50) of the dose-only model. JSON: { n, nPositive, nDropped, coefficients: [{ name, estimate, se, z, p,
 * ciLow, ciHigh, oddsRatio, oddsRatioCiLow, oddsRatioCiHigh }], logLikelihood, nullLogLikelihood, pseudoR2,
 * doseResponse: { model: "dose only", d50Gy, d50SeGy, d50CiGy, gamma50 } | null }. Methods: ../../research/logistic.ts.
 */
import { StatsError } from '../../errors.ts';
import { opt, parseArgs, requireOpt, type OptionSpec } from '../args.ts';
import { COMMON_OPTIONS, covariateSpecs, handleHelp, loadCsv, negativeLabels, positiveLabels, RESPONSE_OPTIONS, printJson, sig, textTable, usableRows } from '../../research/cli.ts';
import { buildDesign } from '../../research/design.ts';
import { doseResponse, logisticRegression, type DoseResponse } from '../../research/logistic.ts';
import { FIGURE_HELP, FIGURE_OPTIONS, Y_LABEL_OPTION, figureJson, figureRequest, writeFigures } from '../../research/figure-cli.ts';
import { doseResponseFigure } from '../../research/figures/dose-response.ts';
import { axisLabel, withUnit } from '../../research/figures/text.ts';
import { formatP, responseClassifier } from '../../research/table.ts';

const OPTIONS: Record<string, OptionSpec> = {
  ...COMMON_OPTIONS,
  'dose-column': { type: 'string' },
  'response-column': { type: 'string' },
  ...RESPONSE_OPTIONS,
  covariate: { type: 'string', repeatable: true },
  categorical: { type: 'string', repeatable: true },
  ...FIGURE_OPTIONS,
  ...Y_LABEL_OPTION,
};

const HELP = `usage: pnpm -s dosimetry logistic [--json] --csv F --response-column R --dose-column C [--positive CR,PR] [--negative SD,PD]
  [--covariate NAME ...] [--categorical NAME[:REFERENCE] ...] [--figure FILE.svg|FILE.pdf]
Logistic regression (Newton-Raphson with step halving) of response (responders positive) on dose and further
covariates: coefficients, odds ratios with Wald 95 % CIs, p-values. Dose-response curve of the dose-only model:
P(D) = 1/(1 + exp(-(b0 + b1 D))), D50 = -b0/b1 (delta-method CI), gamma50 = b1 D50/4. Categorical covariates are
dummy-coded against REFERENCE (default: the first level). Rows with a missing value are skipped. Separation and
collinear covariates are errors.`;

/** Runs the command; returns the exit code (errors are thrown as DosimetryError subclasses). */
export async function run(argv: string[]): Promise<number> {
  const a = parseArgs(argv, OPTIONS, 'logistic');
  if (handleHelp(a, 'logistic', `${HELP}\n${FIGURE_HELP} The figure is the dose-only model's curve.`)) return 0;
  const { table, path } = loadCsv(a, 'logistic');
  const doseCol = requireOpt(a, 'dose-column', 'logistic');
  const respCol = requireOpt(a, 'response-column', 'logistic');
  const specs = [{ name: doseCol, kind: 'continuous' as const }, ...covariateSpecs(a).filter((c) => c.name !== doseCol)];
  const { rows, dropped } = usableRows(table, [respCol, ...specs.map((s) => s.name)], path);
  const cells = rows.map((r) => r.cells);
  const design = buildDesign(cells, specs, path, rows.map((r) => r.row));
  const labels = positiveLabels(a);
  const cls = responseClassifier(cells.map((c) => c[respCol]), labels, { negative: negativeLabels(a), rows: rows.map((r) => r.row), column: respCol, source: path });
  const y = cells.map((c) => cls.isPositive(c[respCol]));
  const fit = logisticRegression({ names: design.names, x: design.x, y });
  const doseOnly = specs.length === 1 ? fit : logisticRegression({ names: [doseCol], x: design.x.map((r) => [r[0]]), y });
  let dr: DoseResponse | null = null;
  let drNote = '';
  try {
    dr = doseResponse(doseOnly);
  } catch (err) {
    drNote = (err as Error).message;
  }
  // figure: the dose-only curve with its delta-method band, the observations at 0/1 and D50 with its CI
  const fig = figureRequest(a, 'logistic', [path]);
  if (!dr && fig) throw new StatsError(`logistic: cannot draw the dose-response curve: ${drNote}`);
  const written = dr && fig
    ? await writeFigures(fig, (q) => doseResponseFigure({
      doseGy: design.x.map((r) => r[0]), responder: y, fit: doseOnly, doseResponse: dr!, dose: { column: doseCol, label: q.label, unit: q.unit },
      response: { column: respCol, positive: cls.labels }, yLabel: q.yLabel, style: q.style,
    }))
    : undefined;
  const coefficients = fit.coefficients.map((c) => ({
    name: c.name, estimate: c.estimate, se: c.se, z: c.z, p: c.p, ciLow: c.ciLow, ciHigh: c.ciHigh,
    oddsRatio: c.ratio, oddsRatioCiLow: c.ratioCiLow, oddsRatioCiHigh: c.ratioCiHigh,
  }));
  const result = {
    n: fit.n, nPositive: fit.nPositive, positive: cls.labels, negative: cls.negativeLabels, nDropped: dropped,
    coefficients, logLikelihood: fit.logLikelihood, nullLogLikelihood: fit.nullLogLikelihood, pseudoR2: fit.pseudoR2, iterations: fit.iterations,
    doseResponse: dr ? { model: 'dose only', d50Gy: dr.d50Gy, d50SeGy: dr.d50SeGy, d50CiGy: dr.d50CiGy, gamma50: dr.gamma50 } : null,
    ...(drNote ? { doseResponseNote: drNote } : {}),
    ...figureJson(written),
  };
  if (a.flags.has('json')) {
    printJson(result);
    return 0;
  }
  // the unit of the dose column as the figure writes it (--unit, else the unit its name ends in): none is invented
  const doseUnit = axisLabel({ column: doseCol, unit: opt(a, 'unit') }).unit;
  const lines = [
    `Logistic regression of "${respCol}" (positive: ${cls.labels.join(', ')}) on ${design.names.join(', ')}: n = ${fit.n} (${fit.nPositive} responders)${dropped ? `, ${dropped} rows with missing values skipped` : ''}`,
    textTable(['term', 'estimate', 'SE', 'OR', 'OR 95 % CI', 'p'], coefficients.map((c) => [c.name, sig(c.estimate), sig(c.se), sig(c.oddsRatio), `${sig(c.oddsRatioCiLow)}-${sig(c.oddsRatioCiHigh)}`, formatP(c.p)])),
    `log-likelihood ${fit.logLikelihood.toFixed(4)} (null ${fit.nullLogLikelihood.toFixed(4)}), McFadden R^2 ${fit.pseudoR2.toFixed(3)}`,
    dr ? `dose-response (dose only): D50 = ${withUnit(dr.d50Gy.toFixed(1), doseUnit)} (95 % CI ${dr.d50CiGy[0].toFixed(1)}-${withUnit(dr.d50CiGy[1].toFixed(1), doseUnit)}), gamma50 = ${dr.gamma50.toFixed(3)}` : `dose-response: ${drNote}`,
  ];
  if (written) lines.push(`figure: ${written.files.join(', ')}`);
  process.stdout.write(lines.join('\n') + '\n');
  return 0;
}
