/**
 * `dosimetry roc`: ROC analysis of dose against response (surface fixed in ../shared/CONTRACT.md).
 * JSON keys: auc, aucCi95, cutoff, sensitivity, specificity, ppv, npv, accuracy, counts {tp, fp, tn, fn},
 * curve [{threshold, tpr, fpr}] (fractions 0..1), plus aucCiMethod, aucSeDeLong, youdenJ, nPositive, nNegative,
 * nDropped, positive, bootstrap, warnings (e.g. a cluster bootstrap over fewer than 10 clusters; also on stderr).
 * Methods: ../../research/roc.ts.
 */
import { UsageError } from '../../errors.ts';
import { numberOpt, opt, parseArgs, requireOpt, type OptionSpec } from '../args.ts';
import { COMMON_OPTIONS, RESPONSE_OPTIONS, handleHelp, loadCsv, negativeLabels, numbers, positiveLabels, printJson, usableRows } from '../../research/cli.ts';
import { MAX_BOOTSTRAP_REPLICATES, MAX_BOOTSTRAP_SEED, MIN_BOOTSTRAP_REPLICATES, rocAnalysis } from '../../research/roc.ts';
import { FIGURE_HELP, FIGURE_OPTIONS, figureJson, figureRequest, writeFigures } from '../../research/figure-cli.ts';
import { rocFigure } from '../../research/figures/roc.ts';
import { rocSensitivityBand } from '../../research/plot-stats.ts';
import { formatProportion, responseClassifier } from '../../research/table.ts';

const OPTIONS: Record<string, OptionSpec> = {
  ...COMMON_OPTIONS,
  ...RESPONSE_OPTIONS,
  'dose-column': { type: 'string' },
  'response-column': { type: 'string' },
  'cluster-column': { type: 'string' },
  bootstrap: { type: 'string' },
  seed: { type: 'string' },
  ...FIGURE_OPTIONS,
};

const HELP = `usage: pnpm -s dosimetry roc [--json] --csv F --dose-column C --response-column R
  [--positive CR,PR] [--negative SD,PD] [--cluster-column patient [--bootstrap 2000] [--seed 20240101]] [--figure FILE.svg|FILE.pdf]
ROC of dose vs response: responders (--positive, default CR,PR; or 1 for a 0/1 column) are positive, non-responders
(--negative, default SD,PD and any of CR,PR not in --positive; or 0) negative, and a lesion is called a responder
when its dose is >= the cutoff. Labels match whole, after trimming, case-insensitively; any other value is an error
that lists it (map it with --positive/--negative, or leave the cell empty to skip the row). --bootstrap: ${MIN_BOOTSTRAP_REPLICATES} to
${MAX_BOOTSTRAP_REPLICATES} replicates; --seed: 0 to ${MAX_BOOTSTRAP_SEED}. AUC (Mann-Whitney) with a 95 % CI: DeLong, or a percentile
cluster bootstrap over --cluster-column (lesions nested in patients) with a fixed seed, the clusters resampled in
sorted order of their ids (the CI does not depend on the row order; below 10 clusters a warning). Cutoff: the observed dose
maximising Youden's J (lowest threshold among equal maxima). Rows with a missing dose or response are skipped.`;

/** Runs the command; returns the exit code (errors are thrown as DosimetryError subclasses). */
export async function run(argv: string[]): Promise<number> {
  const a = parseArgs(argv, OPTIONS, 'roc');
  if (handleHelp(a, 'roc', `${HELP}\n${FIGURE_HELP}`)) return 0;
  const { table, path } = loadCsv(a, 'roc');
  const doseCol = requireOpt(a, 'dose-column', 'roc');
  const respCol = requireOpt(a, 'response-column', 'roc');
  const clusterCol = opt(a, 'cluster-column');
  const repsGiven = numberOpt(a, 'bootstrap', 'roc');
  const seedGiven = numberOpt(a, 'seed', 'roc');
  const reps = repsGiven ?? 2000;
  const seed = seedGiven ?? 20240101;
  if (!Number.isInteger(reps) || reps < MIN_BOOTSTRAP_REPLICATES || reps > MAX_BOOTSTRAP_REPLICATES) {
    throw new UsageError(`roc: --bootstrap ${reps}: give an integer from ${MIN_BOOTSTRAP_REPLICATES} to ${MAX_BOOTSTRAP_REPLICATES} (default 2000; more replicates do not change a percentile CI, they only stall the run)`);
  }
  if (!Number.isInteger(seed) || seed < 0 || seed > MAX_BOOTSTRAP_SEED) {
    throw new UsageError(`roc: --seed ${seed}: give an integer from 0 to ${MAX_BOOTSTRAP_SEED} (the generator keeps 32 bits: other values repeat another seed)`);
  }
  if (!clusterCol && (repsGiven !== undefined || seedGiven !== undefined)) {
    throw new UsageError('roc: --bootstrap and --seed set the cluster bootstrap: give --cluster-column (e.g. patient), or leave them out for the DeLong CI');
  }
  const { rows, dropped } = usableRows(table, [doseCol, respCol, ...(clusterCol ? [clusterCol] : [])], path);
  const dose = numbers(rows, doseCol, path);
  const cls = responseClassifier(rows.map((r) => r.cells[respCol]), positiveLabels(a), {
    negative: negativeLabels(a), rows: rows.map((r) => r.row), column: respCol, source: path,
  });
  const positive = rows.map((r) => cls.isPositive(r.cells[respCol]));
  const r = rocAnalysis({
    doseGy: dose,
    positive,
    ...(clusterCol ? { clusters: rows.map((x) => x.cells[clusterCol]), bootstrapReplicates: reps, bootstrapSeed: seed } : {}),
  });
  // figure: the curve with pROC's bootstrap band of the sensitivity (resampled as the AUC CI is: clusters when given)
  const fig = figureRequest(a, 'roc', [path]);
  const clusters = clusterCol ? { clusters: rows.map((x) => x.cells[clusterCol]) } : {};
  const written = fig
    ? await writeFigures(fig, (q) => rocFigure({
      roc: r, band: rocSensitivityBand({ doseGy: dose, positive, ...clusters, replicates: reps, seed }), score: { column: doseCol, label: q.label, unit: q.unit },
      response: { column: respCol, positive: cls.labels }, clusterColumn: clusterCol, style: q.style,
    }))
    : undefined;
  // cautions on stderr as "warning: ..." lines in both modes (also in the JSON)
  if (r.warnings.length) process.stderr.write(r.warnings.map((w) => `warning: ${w}\n`).join(''));
  if (a.flags.has('json')) {
    printJson({ ...r, nDropped: dropped, positive: cls.labels, negative: cls.negativeLabels, ...figureJson(written) });
    return 0;
  }
  const { tp, fp, tn, fn } = r.counts;
  const lines = [
    `ROC: "${doseCol}" vs "${respCol}" (positive: ${cls.labels.join(', ')}; negative: ${cls.negativeLabels.join(', ')}); ${dose.length} rows (${r.nPositive} responders, ${r.nNegative} non-responders)${dropped ? `; ${dropped} rows with missing values skipped` : ''}`,
    `  AUC          ${r.auc.toFixed(3)} (95 % CI ${r.aucCi95[0].toFixed(3)}-${r.aucCi95[1].toFixed(3)}, ${r.aucCiMethod === 'delong' ? 'DeLong' : `cluster bootstrap over ${r.bootstrap?.clusters} "${clusterCol}", ${r.bootstrap?.used}/${r.bootstrap?.replicates} resamples, seed ${seed}`})`,
    `  cutoff       ${r.cutoff} (Youden J ${r.youdenJ.toFixed(3)}; dose >= cutoff called responder; lowest threshold among maximal J)`,
    `  sensitivity  ${formatProportion(tp, tp + fn)}`,
    `  specificity  ${formatProportion(tn, tn + fp)}`,
    `  PPV          ${formatProportion(tp, tp + fp)}`,
    `  NPV          ${formatProportion(tn, tn + fn)}`,
    `  accuracy     ${formatProportion(tp + tn, tp + tn + fp + fn)}`,
  ];
  if (written) lines.push(`  figure       ${written.files.join(', ')}`);
  process.stdout.write(lines.join('\n') + '\n');
  return 0;
}
