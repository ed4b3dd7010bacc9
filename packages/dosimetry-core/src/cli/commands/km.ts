/**
 * `dosimetry km`: Kaplan-Meier curves (Greenwood SE, log-log pointwise CIs, or log with --conf-type log as R's
 * survfit default) with medians per group and a log-rank
 * test. Groups from --group-column, or from --dose-column with --cutoff (">= cutoff" vs "< cutoff").
 * JSON: { time, event, curves: [{ group, n, events, median, medianCi, steps: [{ time, atRisk, events, survival, se,
 * ciLow, ciHigh }], censorTimes }], logRank: { chi2, df, p, observed, expected, groups } | null, nDropped }.
 * Methods: ../../research/km.ts.
 */
import { StatsError, UsageError } from '../../errors.ts';
import { numberOpt, opt, parseArgs, requireOpt, type OptionSpec } from '../args.ts';
import { COMMON_OPTIONS, EVENT_OPTIONS, eventCodes, eventFlags, handleHelp, loadCsv, numbers, printJson, sig, textTable, usableRows } from '../../research/cli.ts';
import { naturalCompare } from '../../research/design.ts';
import { kaplanMeier, logRank } from '../../research/km.ts';
import { FIGURE_HELP, FIGURE_OPTIONS, Y_LABEL_OPTION, figureJson, figureRequest, writeFigures } from '../../research/figure-cli.ts';
import { kmFigure } from '../../research/figures/km.ts';
import { formatP } from '../../research/table.ts';

const OPTIONS: Record<string, OptionSpec> = {
  ...COMMON_OPTIONS,
  'time-column': { type: 'string' },
  'event-column': { type: 'string' },
  ...EVENT_OPTIONS,
  'conf-type': { type: 'string' },
  'group-column': { type: 'string' },
  'dose-column': { type: 'string' },
  cutoff: { type: 'string' },
  'time-unit': { type: 'string' },
  ...FIGURE_OPTIONS,
  ...Y_LABEL_OPTION,
};

const HELP = `usage: pnpm -s dosimetry km [--json] --csv F --time-column T --event-column E [--event-codes 2 [--censor-codes 1]]
  [--group-column G | --dose-column C --cutoff X] [--conf-type log-log|log] [--time-unit months] [--figure FILE.svg|FILE.pdf [--y-label L]]
  [--delimiter ';'] [--decimal ,]
Kaplan-Meier curves with Greenwood standard errors and pointwise 95 % CIs (log-log by default; --conf-type log is
R's survfit default), the median per group (first time with S < 0.5) with its Brookmeyer-Crowley CI, and the
log-rank test across groups. E: 1 = event, 0 = censored; other codings with --event-codes (R's survival status
1 = censored, 2 = dead: --event-codes 2).`;

/** Runs the command; returns the exit code (errors are thrown as DosimetryError subclasses). */
export async function run(argv: string[]): Promise<number> {
  const a = parseArgs(argv, OPTIONS, 'km');
  if (handleHelp(a, 'km', `${HELP}\n${FIGURE_HELP} In km --label/--unit name the time axis (--time-unit is --unit).`)) return 0;
  const { table, path } = loadCsv(a, 'km');
  const timeCol = requireOpt(a, 'time-column', 'km');
  const eventCol = requireOpt(a, 'event-column', 'km');
  const groupCol = opt(a, 'group-column');
  const doseCol = opt(a, 'dose-column');
  const cutoff = numberOpt(a, 'cutoff', 'km');
  if (groupCol && doseCol) throw new UsageError('km: give --group-column or --dose-column with --cutoff, not both');
  if ((doseCol === undefined) !== (cutoff === undefined)) throw new UsageError('km: --dose-column and --cutoff go together');
  const cols = [timeCol, eventCol, ...(groupCol ? [groupCol] : []), ...(doseCol ? [doseCol] : [])];
  const { rows, dropped } = usableRows(table, cols, path);
  const times = numbers(rows, timeCol, path);
  const events = eventFlags(rows, eventCol, path, eventCodes(a));
  const confType = opt(a, 'conf-type') ?? 'log-log';
  if (confType !== 'log-log' && confType !== 'log') throw new UsageError(`km: --conf-type must be log-log or log, got "${confType}"`);
  if (!events.some(Boolean)) throw new StatsError(`km: none of the ${events.length} rows has an event in "${eventCol}" (S stays 1, no median); check the column (1 = event, 0 = censored)`);
  let group: string[];
  if (groupCol) group = rows.map((r) => r.cells[groupCol].trim());
  else if (doseCol) {
    const d = numbers(rows, doseCol, path);
    group = d.map((v) => (v >= cutoff! ? `${doseCol} >= ${cutoff}` : `${doseCol} < ${cutoff}`));
  } else group = rows.map(() => 'all');
  const names = [...new Set(group)].sort(naturalCompare);
  if (doseCol) names.sort((x, y) => (x.includes('>=') ? 1 : 0) - (y.includes('>=') ? 1 : 0));
  const curves = names.map((g) => {
    const idx = group.map((x, i) => (x === g ? i : -1)).filter((i) => i >= 0);
    return kaplanMeier({ times: idx.map((i) => times[i]), events: idx.map((i) => events[i]), group: g, confType });
  });
  const lr = names.length >= 2 ? logRank({ times, events, group, groups: names }) : null;
  // figure: curves with their CIs (same transform), censoring ticks, number at risk under the x axis; --time-unit is --unit
  const fig = figureRequest(a, 'km', [path]);
  const timeUnit = opt(a, 'time-unit');
  if (timeUnit !== undefined && opt(a, 'unit') !== undefined && timeUnit !== opt(a, 'unit')) throw new UsageError(`km: --time-unit "${timeUnit}" and --unit "${opt(a, 'unit')}" differ; give one`);
  const written = fig
    ? await writeFigures(fig, (q) => kmFigure({
      curves, logRankP: lr?.p, time: { column: timeCol, label: q.label, unit: q.unit ?? timeUnit }, eventColumn: eventCol, groupColumn: groupCol,
      yLabel: q.yLabel, ciTransform: confType, style: q.style,
    }))
    : undefined;
  if (a.flags.has('json')) {
    printJson({ time: timeCol, event: eventCol, confType, curves, logRank: lr, nDropped: dropped, ...figureJson(written) });
    return 0;
  }
  const fmtT = (v: number | null) => (v === null ? 'NR' : sig(v));
  const lines = [
    `Kaplan-Meier of "${timeCol}" (event "${eventCol}")${dropped ? `; ${dropped} rows with missing values skipped` : ''}`,
    textTable(['group', 'n', 'events', 'median', 'median 95 % CI'], curves.map((c) => [c.group, String(c.n), String(c.events), fmtT(c.median), `${fmtT(c.medianCi[0])}-${fmtT(c.medianCi[1])}`])),
    lr ? `log-rank: chi2 = ${lr.chi2.toFixed(3)}, df = ${lr.df}, p = ${formatP(lr.p)}` : 'log-rank: not run (one group)',
    '(NR: not reached)',
  ];
  if (written) lines.push(`figure: ${written.files.join(', ')}`);
  process.stdout.write(lines.join('\n') + '\n');
  return 0;
}
