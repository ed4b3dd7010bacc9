/**
 * `dosimetry cox`: Cox proportional hazards (Efron ties, as R's coxph default) for PFS/OS, optionally stratified
 * (--strata COLUMN: a baseline hazard per stratum, as coxph's strata()): each covariate alone (univariate), then the
 * covariates whose univariate p < --enter-p (default 0.05; for a categorical covariate the joint Wald test of its
 * dummies) together (multivariate); --all puts every covariate in the multivariate model.
 * JSON: { time, event, n, nEvents, univariate: [{ covariate, kind, p, df, n, nEvents, terms: [term] }],
 * multivariate: { covariates, n, nEvents, terms: [term], lrChi2, lrDf, lrP } | null, enterP, ties: "efron",
 * strata: [column] | null, nStrata, nDropped } with
 * term = { name, estimate, se, z, p, hazardRatio, hrCiLow, hrCiHigh }. Methods: ../../research/cox.ts.
 * Each model uses the rows complete in its own covariates (and time, event).
 */
import { UsageError } from '../../errors.ts';
import { numberOpt, optAll, parseArgs, requireOpt, type OptionSpec } from '../args.ts';
import { COMMON_OPTIONS, covariateSpecs, EVENT_OPTIONS, eventCodes, eventFlags, handleHelp, loadCsv, numbers, printJson, sig, textTable, usableRows } from '../../research/cli.ts';
import type { EventCodes } from '../../research/table.ts';
import { coxRegression, type CoxResult } from '../../research/cox.ts';
import { buildDesign, jointWald, type CovariateSpec } from '../../research/design.ts';
import { formatP } from '../../research/table.ts';
import type { CsvTable } from '../../research/csv.ts';

const OPTIONS: Record<string, OptionSpec> = {
  ...COMMON_OPTIONS,
  'time-column': { type: 'string' },
  'event-column': { type: 'string' },
  ...EVENT_OPTIONS,
  strata: { type: 'string', repeatable: true },
  covariate: { type: 'string', repeatable: true },
  categorical: { type: 'string', repeatable: true },
  'enter-p': { type: 'string' },
  all: { type: 'flag' },
};

const HELP = `usage: pnpm -s dosimetry cox [--json] --csv F --time-column T --event-column E [--event-codes 2 [--censor-codes 1]]
  [--covariate NAME ...] [--categorical NAME[:REFERENCE] ...] [--strata COLUMN ...] [--enter-p 0.05] [--all]
  [--delimiter ';'] [--decimal ,]
Cox proportional hazards with Efron's tie handling (R's coxph default; Newton-Raphson with step halving): hazard
ratios with Wald 95 % CIs and p-values, each covariate alone, then a multivariate model of those with univariate
p < --enter-p (categorical: joint Wald test of its dummies) or of all with --all. E: 1 = event (progression/death),
0 = censored; other codings with --event-codes (R's survival status 1 = censored, 2 = dead: --event-codes 2).
--strata COLUMN (repeatable) fits a stratified model: a baseline hazard per stratum, risk sets within strata.
Categorical covariates are dummy-coded against REFERENCE (default: the first level, e.g. grade 1).`;

function fitModel(table: CsvTable, path: string, timeCol: string, eventCol: string, specs: readonly CovariateSpec[], strata: readonly string[], codes: EventCodes) {
  const { rows } = usableRows(table, [timeCol, eventCol, ...strata, ...specs.map((s) => s.name)], path, { warn: false });
  const design = buildDesign(rows.map((r) => r.cells), specs, path, rows.map((r) => r.row));
  const times = numbers(rows, timeCol, path);
  const events = eventFlags(rows, eventCol, path, codes);
  // a stratum is the combination of the strata columns' values (as coxph's strata(a, b))
  const stratum = strata.length ? rows.map((r) => strata.map((c) => r.cells[c].trim()).join('\u0000')) : undefined;
  const fit = coxRegression({ names: design.names, x: design.x, times, events, ...(stratum ? { strata: stratum } : {}) });
  return { fit, design };
}

function terms(fit: CoxResult) {
  return fit.coefficients.map((c) => ({ name: c.name, estimate: c.estimate, se: c.se, z: c.z, p: c.p, hazardRatio: c.ratio, hrCiLow: c.ratioCiLow, hrCiHigh: c.ratioCiHigh }));
}

/** Runs the command; returns the exit code (errors are thrown as DosimetryError subclasses). */
export async function run(argv: string[]): Promise<number> {
  const a = parseArgs(argv, OPTIONS, 'cox');
  if (handleHelp(a, 'cox', HELP)) return 0;
  const { table, path } = loadCsv(a, 'cox');
  const timeCol = requireOpt(a, 'time-column', 'cox');
  const eventCol = requireOpt(a, 'event-column', 'cox');
  const specs = covariateSpecs(a);
  if (!specs.length) throw new UsageError('cox: give at least one --covariate NAME or --categorical NAME[:REFERENCE]');
  const enterP = numberOpt(a, 'enter-p', 'cox') ?? 0.05;
  if (!(enterP > 0 && enterP <= 1)) throw new UsageError('cox: --enter-p must be in (0, 1]');
  const strata = optAll(a, 'strata');
  const codes = eventCodes(a);
  const clash = strata.find((c) => specs.some((s) => s.name === c) || c === timeCol || c === eventCol);
  if (clash) throw new UsageError(`cox: "${clash}" is given as a stratum and as a covariate, time or event column; a stratum has its own baseline hazard, so it cannot also be a covariate: give it once`);
  const all = usableRows(table, [timeCol, eventCol, ...strata, ...specs.map((s) => s.name)], path);
  const univariate = specs.map((s) => {
    const { fit } = fitModel(table, path, timeCol, eventCol, [s], strata, codes);
    const w = jointWald(fit.coefficients.map((c) => c.estimate), fit.covariance, fit.coefficients.map((_, j) => j));
    return { covariate: s.name, kind: s.kind, p: w.p, df: w.df, n: fit.n, nEvents: fit.nEvents, terms: terms(fit) };
  });
  const entered = a.flags.has('all') ? specs : specs.filter((_, k) => univariate[k].p < enterP);
  let multivariate = null;
  if (entered.length > 0) {
    const { fit } = fitModel(table, path, timeCol, eventCol, entered, strata, codes);
    multivariate = { covariates: entered.map((s) => s.name), n: fit.n, nEvents: fit.nEvents, terms: terms(fit), lrChi2: fit.lrChi2, lrDf: fit.lrDf, lrP: fit.lrP };
  }
  const nStrata = strata.length ? new Set(all.rows.map((r) => strata.map((c) => r.cells[c].trim()).join('\u0000'))).size : 1;
  const result = { time: timeCol, event: eventCol, enterP, selection: a.flags.has('all') ? 'all' : 'univariate p < enterP', ties: 'efron', strata: strata.length ? strata : null, nStrata, univariate, multivariate, nDropped: all.dropped };
  if (a.flags.has('json')) {
    printJson(result);
    return 0;
  }
  const row = (t: ReturnType<typeof terms>[number]) => [t.name, sig(t.hazardRatio), `${sig(t.hrCiLow)}-${sig(t.hrCiHigh)}`, formatP(t.p)];
  const lines = [
    `Cox proportional hazards (Efron ties, as R's coxph default) of "${timeCol}" with event "${eventCol}"${strata.length ? `, stratified by ${strata.map((c) => `"${c}"`).join(' x ')} (${nStrata} strata)` : ''}`,
    'Univariate:',
    textTable(['term', 'HR', 'HR 95 % CI', 'p'], univariate.flatMap((u) => terms2rows(u, row))),
  ];
  if (multivariate) {
    lines.push(`Multivariate (${a.flags.has('all') ? 'all covariates' : `univariate p < ${enterP}`}; n = ${multivariate.n}, ${multivariate.nEvents} events; LR chi2 ${multivariate.lrChi2.toFixed(3)}, df ${multivariate.lrDf}, p ${formatP(multivariate.lrP)}):`);
    lines.push(textTable(['term', 'HR', 'HR 95 % CI', 'p'], multivariate.terms.map(row)));
  } else {
    lines.push(`Multivariate: no covariate has univariate p < ${enterP}; none fitted (use --all to fit all)`);
  }
  process.stdout.write(lines.join('\n') + '\n');
  return 0;
}

function terms2rows(u: { covariate: string; kind: string; p: number; df: number; terms: ReturnType<typeof terms> }, row: (t: ReturnType<typeof terms>[number]) => string[]): string[][] {
  const out = u.terms.map(row);
  if (u.kind === 'categorical' && u.terms.length > 1) out.push([`${u.covariate} (joint Wald, df ${u.df})`, '', '', formatP(u.p)]);
  return out;
}
