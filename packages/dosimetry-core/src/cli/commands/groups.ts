/**
 * `dosimetry groups`: dose by response group. Medians and ranges per group, Mann-Whitney U between responders
 * and non-responders (or between the two groups when there are exactly two), Kruskal-Wallis across all groups.
 * JSON: { groups: [{ group, n, medianGy, minGy, maxGy, meanGy }], mannWhitney: { groupA, groupB, u1, p, method,
 * n1, n2, ties }, kruskalWallis: { h, df, p, groups } | null, nDropped }. Methods: ../../research/groups.ts.
 */
import { UsageError } from '../../errors.ts';
import { opt, parseArgs, requireOpt, type OptionSpec } from '../args.ts';
import { COMMON_OPTIONS, handleHelp, loadCsv, negativeLabels, numbers, positiveLabels, RESPONSE_OPTIONS, printJson, sig, textTable, usableRows, writeSvg } from '../../research/cli.ts';
import { kruskalWallis, mannWhitney, summarizeGroups } from '../../research/groups.ts';
import { naturalCompare } from '../../research/design.ts';
import { groupsSvg } from '../../research/svg.ts';
import { formatP, parseLabelList, responseClassifier } from '../../research/table.ts';
import { StatsError } from '../../errors.ts';

const OPTIONS: Record<string, OptionSpec> = {
  ...COMMON_OPTIONS,
  'dose-column': { type: 'string' },
  'group-column': { type: 'string' },
  'response-column': { type: 'string' },
  groups: { type: 'string' },
  ...RESPONSE_OPTIONS,
  method: { type: 'string' },
  svg: { type: 'string' },
};

const HELP = `usage: pnpm -s dosimetry groups [--json] --csv F --dose-column C --group-column R
  [--groups CR,PR,SD,PD] [--positive CR,PR] [--negative SD,PD] [--method auto|exact|asymptotic] [--svg FILE]
Medians and ranges per group; Mann-Whitney U (two-sided) between responders (--positive, default CR,PR) and the
rest, or between the two groups when there are exactly two: exact when there are no ties and a group has fewer
than 8 values (method auto), else the normal approximation with tie and continuity corrections; Kruskal-Wallis
(tie-corrected) across all groups. --groups fixes the order (and selects groups). --response-column is an alias of
--group-column.`;

const CANONICAL = ['CR', 'PR', 'SD', 'PD'];

/** Runs the command; returns the exit code (errors are thrown as DosimetryError subclasses). */
export async function run(argv: string[]): Promise<number> {
  const a = parseArgs(argv, OPTIONS, 'groups');
  if (handleHelp(a, 'groups', HELP)) return 0;
  const { table, path } = loadCsv(a, 'groups');
  const doseCol = requireOpt(a, 'dose-column', 'groups');
  const groupCol = opt(a, 'group-column') ?? opt(a, 'response-column');
  if (!groupCol) throw new UsageError('groups: --group-column is required (the response category column)');
  const method = (opt(a, 'method') ?? 'auto') as 'auto' | 'exact' | 'asymptotic';
  if (!['auto', 'exact', 'asymptotic'].includes(method)) throw new UsageError(`groups: --method must be auto, exact or asymptotic, got "${method}"`);
  const { rows, dropped } = usableRows(table, [doseCol, groupCol], path);
  const dose = numbers(rows, doseCol, path);
  const label = rows.map((r) => r.cells[groupCol].trim().toUpperCase());
  const present = [...new Set(label)];
  const wanted = opt(a, 'groups') ? parseLabelList(opt(a, 'groups')!) : [...CANONICAL.filter((g) => present.includes(g)), ...present.filter((g) => !CANONICAL.includes(g)).sort(naturalCompare)];
  const groups = wanted.map((g) => ({ group: g, valuesGy: dose.filter((_, i) => label[i] === g) }));
  const nonEmpty = groups.filter((g) => g.valuesGy.length > 0);
  if (nonEmpty.length < 2) throw new StatsError(`groups: the comparison needs at least two groups with values; "${groupCol}" holds ${present.map((p) => `"${p}"`).join(', ') || 'nothing'}`);
  const summary = summarizeGroups(groups);
  // two groups: compare them; otherwise responders (positive labels) vs the rest
  let mwA: string, mwB: string, x: number[], y: number[];
  if (nonEmpty.length === 2) {
    [mwA, mwB] = [nonEmpty[0].group, nonEmpty[1].group];
    [x, y] = [[...nonEmpty[0].valuesGy], [...nonEmpty[1].valuesGy]];
  } else {
    // every label of the compared groups must be a known responder or non-responder (never counted silently as "other")
    const inGroups = new Set(wanted);
    const idx = label.map((_, i) => i).filter((i) => inGroups.has(label[i]));
    const cls = responseClassifier(idx.map((i) => label[i]), positiveLabels(a), { negative: negativeLabels(a), rows: idx.map((i) => rows[i].row), column: groupCol, source: path });
    mwA = cls.labels.join('+');
    mwB = cls.negativeLabels.join('+');
    x = idx.filter((i) => cls.isPositive(label[i])).map((i) => dose[i]);
    y = idx.filter((i) => !cls.isPositive(label[i])).map((i) => dose[i]);
    if (!x.length || !y.length) throw new StatsError(`groups: Mann-Whitney needs responders (${mwA}) and non-responders; one side is empty. Check --positive`);
  }
  const mw = mannWhitney({ x, y, method });
  const kw = nonEmpty.length >= 3 ? kruskalWallis(nonEmpty.map((g) => ({ group: g.group, values: g.valuesGy }))) : null;
  const svgPath = writeSvg(a, () => groupsSvg(nonEmpty, { title: `${doseCol} by ${groupCol}`, yLabel: doseCol, subtitle: `Mann-Whitney p = ${formatP(mw.p)}${kw ? `, Kruskal-Wallis p = ${formatP(kw.p)}` : ''}` }));
  const result = {
    groups: summary,
    mannWhitney: { groupA: mwA, groupB: mwB, ...mw },
    kruskalWallis: kw,
    nDropped: dropped,
    ...(svgPath ? { svg: svgPath } : {}),
  };
  if (a.flags.has('json')) {
    printJson(result);
    return 0;
  }
  const lines = [
    `"${doseCol}" by "${groupCol}" (${dose.length} rows${dropped ? `, ${dropped} with missing values skipped` : ''})`,
    textTable(['group', 'n', 'median', 'min', 'max', 'mean'], summary.map((g) => [g.group, String(g.n), sig(g.medianGy), sig(g.minGy), sig(g.maxGy), sig(g.meanGy)])),
    `Mann-Whitney U (${mw.method === 'exact' ? 'exact' : 'normal approximation, tie- and continuity-corrected'}, two-sided): ${mwA} (n=${mw.n1}) vs ${mwB} (n=${mw.n2}): U = ${mw.u1}, p = ${formatP(mw.p)}`,
    kw ? `Kruskal-Wallis (tie-corrected) across ${kw.groups.join(', ')}: H = ${kw.h.toFixed(3)}, df = ${kw.df}, p = ${formatP(kw.p)}` : 'Kruskal-Wallis: not run (fewer than 3 groups)',
  ];
  if (svgPath) lines.push(`plot: ${svgPath}`);
  process.stdout.write(lines.join('\n') + '\n');
  return 0;
}
