/**
 * `dosimetry km`: Kaplan-Meier curves (Greenwood SE, log-log pointwise CIs) with medians per group and a log-rank
 * test. Groups from --group-column, or from --dose-column with --cutoff (">= cutoff" vs "< cutoff").
 * JSON: { time, event, curves: [{ group, n, events, median, medianCi, steps: [{ time, atRisk, events, survival, se,
 * ciLow, ciHigh }], censorTimes }], logRank: { chi2, df, p, observed, expected, groups } | null, nDropped }.
 * Methods: ../../research/km.ts.
 */
import { StatsError, UsageError } from '../../errors.ts';
import { numberOpt, opt, parseArgs, requireOpt, type OptionSpec } from '../args.ts';
import { COMMON_OPTIONS, eventFlags, handleHelp, loadCsv, numbers, printJson, sig, textTable, usableRows, writeSvg } from '../../research/cli.ts';
import { naturalCompare } from '../../research/design.ts';
import { kaplanMeier, logRank } from '../../research/km.ts';
import { kmSvg } from '../../research/svg.ts';
import { formatP } from '../../research/table.ts';

const OPTIONS: Record<string, OptionSpec> = {
  ...COMMON_OPTIONS,
  'time-column': { type: 'string' },
  'event-column': { type: 'string' },
  'group-column': { type: 'string' },
  'dose-column': { type: 'string' },
  cutoff: { type: 'string' },
  'time-unit': { type: 'string' },
  svg: { type: 'string' },
};

const HELP = `usage: pnpm -s dosimetry km [--json] --csv F --time-column T --event-column E
  [--group-column G | --dose-column C --cutoff X] [--time-unit months] [--svg FILE]
Kaplan-Meier curves with Greenwood standard errors and log-log 95 % CIs, the median per group (first time with
S < 0.5) with its Brookmeyer-Crowley CI, and the log-rank test across groups. E: 1 = event, 0 = censored.`;

/** Runs the command; returns the exit code (errors are thrown as DosimetryError subclasses). */
export async function run(argv: string[]): Promise<number> {
  const a = parseArgs(argv, OPTIONS, 'km');
  if (handleHelp(a, 'km', HELP)) return 0;
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
  const events = eventFlags(rows, eventCol, path);
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
    return kaplanMeier({ times: idx.map((i) => times[i]), events: idx.map((i) => events[i]), group: g });
  });
  const lr = names.length >= 2 ? logRank({ times, events, group, groups: names }) : null;
  const unit = opt(a, 'time-unit') ?? '';
  const svgPath = writeSvg(a, () => kmSvg(curves, { title: `Kaplan-Meier: ${timeCol}`, timeLabel: unit ? `${timeCol} (${unit})` : timeCol, logRankP: lr?.p }));
  if (a.flags.has('json')) {
    printJson({ time: timeCol, event: eventCol, curves, logRank: lr, nDropped: dropped, ...(svgPath ? { svg: svgPath } : {}) });
    return 0;
  }
  const fmtT = (v: number | null) => (v === null ? 'NR' : sig(v));
  const lines = [
    `Kaplan-Meier of "${timeCol}" (event "${eventCol}")${dropped ? `; ${dropped} rows with missing values skipped` : ''}`,
    textTable(['group', 'n', 'events', 'median', 'median 95 % CI'], curves.map((c) => [c.group, String(c.n), String(c.events), fmtT(c.median), `${fmtT(c.medianCi[0])}-${fmtT(c.medianCi[1])}`])),
    lr ? `log-rank: chi2 = ${lr.chi2.toFixed(3)}, df = ${lr.df}, p = ${formatP(lr.p)}` : 'log-rank: not run (one group)',
    '(NR: not reached)',
  ];
  if (svgPath) lines.push(`plot: ${svgPath}`);
  process.stdout.write(lines.join('\n') + '\n');
  return 0;
}
