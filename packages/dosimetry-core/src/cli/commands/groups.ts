/**
 * `dosimetry groups`: a value (dose) by group. Medians and ranges per group; with two groups Mann-Whitney U between
 * them; with three or more Kruskal-Wallis across all and Mann-Whitney between every pair (Holm-adjusted). Any
 * grouping column works (R's veteran celltype); a response column (CR/PR/SD/PD labels, or --positive/--negative
 * given) keeps the strict label check and, with three or more groups, also compares responders with non-responders.
 * JSON: { groups: [{ group, n, medianGy, minGy, maxGy, meanGy }], comparison, mannWhitney: { groupA, groupB, u1, p,
 * method, methodReason, n1, n2, ties } | null, kruskalWallis: { h, df, p, groups } | null, pairwise: [{ groupA,
 * groupB, u1, p, pAdjusted, method, ... }] | null, pairwiseAdjustment: "holm" | null, nDropped }.
 * Methods: ../../research/groups.ts.
 */
import { UsageError } from '../../errors.ts';
import { opt, parseArgs, requireOpt, type OptionSpec } from '../args.ts';
import { COMMON_OPTIONS, handleHelp, loadCsv, negativeLabels, numbers, positiveLabels, RESPONSE_OPTIONS, printJson, sig, textTable, usableRows } from '../../research/cli.ts';
import { kruskalWallis, mannWhitney, pairwiseMannWhitney, summarizeGroups, MANN_WHITNEY_EXACT_BELOW, type MannWhitneyResult } from '../../research/groups.ts';
import { naturalCompare } from '../../research/design.ts';
import { FIGURE_HELP, FIGURE_OPTIONS, figureJson, figureRequest, writeFigures } from '../../research/figure-cli.ts';
import { groupTests, groupsFigure } from '../../research/figures/groups.ts';
import { formatP, normalizeResponseLabel, parseLabelList, responseClassifier } from '../../research/table.ts';
import { StatsError } from '../../errors.ts';

const OPTIONS: Record<string, OptionSpec> = {
  ...COMMON_OPTIONS,
  'dose-column': { type: 'string' },
  'group-column': { type: 'string' },
  'response-column': { type: 'string' },
  groups: { type: 'string' },
  ...RESPONSE_OPTIONS,
  method: { type: 'string' },
  ...FIGURE_OPTIONS,
};

const HELP = `usage: pnpm -s dosimetry groups [--json] --csv F --dose-column C --group-column R
  [--groups CR,PR,SD,PD] [--positive CR,PR] [--negative SD,PD] [--method auto|exact|asymptotic] [--figure FILE.svg|FILE.pdf]
Medians and ranges per group of any grouping column. Two groups: Mann-Whitney U (two-sided) between them. Three or
more: Kruskal-Wallis (tie-corrected) across all, and Mann-Whitney between every pair with Holm-adjusted p-values.
Mann-Whitney is exact when there are no ties and both groups have fewer than ${MANN_WHITNEY_EXACT_BELOW} values (method auto, as R's
wilcox.test), else the normal approximation with tie and continuity corrections; the output says which ran.
A response column (CR/PR/SD/PD, or --positive/--negative given) is checked label by label (unknown labels are
refused) and, with three or more groups, responders (--positive, default CR,PR) are also compared with the rest.
--groups fixes the order (and selects groups). --response-column is an alias of --group-column.`;

const CANONICAL = ['CR', 'PR', 'SD', 'PD'];

/** Runs the command; returns the exit code (errors are thrown as DosimetryError subclasses). */
export async function run(argv: string[]): Promise<number> {
  const a = parseArgs(argv, OPTIONS, 'groups');
  if (handleHelp(a, 'groups', `${HELP}\n${FIGURE_HELP}`)) return 0;
  const { table, path } = loadCsv(a, 'groups');
  const doseCol = requireOpt(a, 'dose-column', 'groups');
  const groupCol = opt(a, 'group-column') ?? opt(a, 'response-column');
  if (!groupCol) throw new UsageError('groups: --group-column is required (the response category column)');
  const method = (opt(a, 'method') ?? 'auto') as 'auto' | 'exact' | 'asymptotic';
  if (!['auto', 'exact', 'asymptotic'].includes(method)) throw new UsageError(`groups: --method must be auto, exact or asymptotic, got "${method}"`);
  const { rows, dropped } = usableRows(table, [doseCol, groupCol], path);
  const dose = numbers(rows, doseCol, path);
  // groups compare as labels do (trimmed, case-insensitive, 1.0 = 1); each is shown as first written (RECIST upper-case)
  const label = rows.map((r) => normalizeResponseLabel(r.cells[groupCol]));
  const shown = new Map<string, string>();
  label.forEach((l, i) => shown.has(l) || shown.set(l, CANONICAL.includes(l) ? l : rows[i].cells[groupCol].trim()));
  const present = [...new Set(label)];
  const byShown = (x: string, y: string) => naturalCompare(shown.get(x)!, shown.get(y)!);
  const wanted = opt(a, 'groups') ? parseLabelList(opt(a, 'groups')!).map(normalizeResponseLabel) : [...CANONICAL.filter((g) => present.includes(g)), ...present.filter((g) => !CANONICAL.includes(g)).sort(byShown)];
  const groups = wanted.map((g) => ({ group: shown.get(g) ?? g, valuesGy: dose.filter((_, i) => label[i] === g) }));
  const nonEmpty = groups.filter((g) => g.valuesGy.length > 0);
  if (nonEmpty.length < 2) throw new StatsError(`groups: the comparison needs at least two groups with values; "${groupCol}" holds ${present.map((p) => `"${shown.get(p)}"`).join(', ') || 'nothing'}`);
  const summary = summarizeGroups(groups);
  // a response column keeps the strict label check: every label of the compared groups must be a known responder or
  // non-responder (never counted silently as "other"); any other grouping column (cell type, centre) is taken as it is
  const responseColumn = positiveLabels(a) !== undefined || negativeLabels(a) !== undefined || wanted.some((g) => CANONICAL.includes(g));
  let mw: (MannWhitneyResult & { groupA: string; groupB: string }) | null = null;
  let comparison: string;
  if (nonEmpty.length === 2) {
    comparison = 'the two groups';
    mw = { groupA: nonEmpty[0].group, groupB: nonEmpty[1].group, ...mannWhitney({ x: nonEmpty[0].valuesGy, y: nonEmpty[1].valuesGy, method }) };
  } else comparison = 'every pair, Holm-adjusted';
  if (responseColumn) {
    const inGroups = new Set(wanted);
    const idx = label.map((_, i) => i).filter((i) => inGroups.has(label[i]));
    const cls = responseClassifier(idx.map((i) => label[i]), positiveLabels(a), { negative: negativeLabels(a), rows: idx.map((i) => rows[i].row), column: groupCol, source: path });
    if (nonEmpty.length > 2) {
      const x = idx.filter((i) => cls.isPositive(label[i])).map((i) => dose[i]);
      const y = idx.filter((i) => !cls.isPositive(label[i])).map((i) => dose[i]);
      const [groupA, groupB] = [cls.labels.join('+'), cls.negativeLabels.join('+')];
      if (!x.length || !y.length) throw new StatsError(`groups: Mann-Whitney needs responders (${groupA}) and non-responders; one side is empty. Check --positive`);
      mw = { groupA, groupB, ...mannWhitney({ x, y, method }) };
      comparison = 'responders vs non-responders, and every pair, Holm-adjusted';
    }
  }
  const kw = nonEmpty.length >= 3 ? kruskalWallis(nonEmpty.map((g) => ({ group: g.group, values: g.valuesGy }))) : null;
  const pairwise = nonEmpty.length >= 3 ? pairwiseMannWhitney(nonEmpty.map((g) => ({ group: g.group, values: g.valuesGy })), method) : null;
  // figure: box plots with every value, n per group; two groups: a bracket with the Mann-Whitney p, else lines of text
  const fig = figureRequest(a, 'groups', [path]);
  const tests = groupTests({ groupCount: nonEmpty.length, mannWhitney: mw, kruskalWallis: kw });
  const written = fig
    ? await writeFigures(fig, (q) => groupsFigure({
      groups: nonEmpty.map((g) => ({ group: g.group, values: g.valuesGy })), value: { column: doseCol, label: q.label, unit: q.unit }, groupColumn: groupCol, tests, style: q.style,
    }))
    : undefined;
  const result = {
    groups: summary,
    comparison,
    mannWhitney: mw,
    kruskalWallis: kw,
    pairwise,
    pairwiseAdjustment: pairwise ? 'holm' : null,
    nDropped: dropped,
    ...figureJson(written),
  };
  if (a.flags.has('json')) {
    printJson(result);
    return 0;
  }
  const lines = [
    `"${doseCol}" by "${groupCol}" (${dose.length} rows${dropped ? `, ${dropped} with missing values skipped` : ''})`,
    textTable(['group', 'n', 'median', 'min', 'max', 'mean'], summary.map((g) => [g.group, String(g.n), sig(g.medianGy), sig(g.minGy), sig(g.maxGy), sig(g.meanGy)])),
    ...(mw ? [`Mann-Whitney U (${mwName(mw)}, two-sided): ${mw.groupA} (n=${mw.n1}) vs ${mw.groupB} (n=${mw.n2}): U = ${mw.u1}, p = ${formatP(mw.p)}`] : []),
    kw ? `Kruskal-Wallis (tie-corrected) across ${kw.groups.join(', ')}: H = ${kw.h.toFixed(3)}, df = ${kw.df}, p = ${formatP(kw.p)}` : 'Kruskal-Wallis: not run (fewer than 3 groups)',
    ...(pairwise ? [
      `Pairwise Mann-Whitney U (two-sided; p adjusted for ${pairwise.length} comparisons by Holm's method):`,
      textTable(['pair', 'U', 'test', 'p', 'p (Holm)'], pairwise.map((c) => [`${c.groupA} vs ${c.groupB}`, String(c.u1), c.method === 'exact' ? 'exact' : 'normal approx.', formatP(c.p), formatP(c.pAdjusted)])),
    ] : []),
  ];
  if (written) lines.push(`figure: ${written.files.join(', ')}`);
  process.stdout.write(lines.join('\n') + '\n');
  return 0;
}

/** The Mann-Whitney method in words, with why it ran. */
function mwName(m: MannWhitneyResult): string {
  return `${m.method === 'exact' ? 'exact' : 'normal approximation, tie- and continuity-corrected'}: ${m.methodReason}`;
}
