/**
 * `dosimetry compare --planned DIR --achieved DIR --out DIR [--scale-planned-to-gbq A]`: predicted against achieved
 * doses of two computed case folders (written by plan or dose), paired structure by structure by name
 * (src/plan/compare.ts). Writes DIR/compare.json and DIR/compare.csv together, atomically; --json prints
 * compare.json on stdout.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { FileError, FormatError, UsageError } from '../../errors.ts';
import { claimOutputDir, type OutputSet } from '../../io/output-set.ts';
import { compareCases, comparisonCsv, type CaseComparison, type CaseReportLike } from '../../plan/compare.ts';
import { ENGINE_VERSION } from '../../version.ts';
import { numberOpt, parseArgs, requireOpt, type OptionSpec, type ParsedArgs } from '../args.ts';

const OPTIONS: Record<string, OptionSpec> = {
  planned: { type: 'string' },
  achieved: { type: 'string' },
  out: { type: 'string' },
  'scale-planned-to-gbq': { type: 'string' },
  json: { type: 'flag' },
  help: { type: 'flag' },
};

const HELP = `usage: pnpm -s dosimetry compare --planned DIR --achieved DIR --out DIR [--scale-planned-to-gbq A] [--json]
Pairs the structures of two case folders (report.json from plan or dose) by name: per structure the predicted and
achieved mean absorbed doses, difference (achieved - predicted), ratio (achieved / predicted), Dx/V pairs and DVHs;
over lesions Bland-Altman bias and limits of agreement and Lin's concordance; scoutAgreement: each structure's share
of each image's activity, scout (planned) against treatment (achieved), and their mean absolute difference.
--scale-planned-to-gbq scales the predicted doses to the activity actually given (dose is linear in activity).
Writes DIR/compare.json, compare.csv.`;

function readCase(dir: string, what: string): { report: CaseReportLike; path: string } {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new FileError(`${what} case folder ${dir} does not exist: give a folder written by dose or plan`);
  const path = join(dir, 'report.json');
  if (!existsSync(path)) throw new FileError(`${what} case folder ${dir} holds no report.json: compute it with dose or plan first`);
  try {
    return { report: JSON.parse(readFileSync(path, 'utf8')) as CaseReportLike, path };
  } catch (err) {
    throw new FormatError(`${path} is not valid JSON (${(err as Error).message}): recompute the case`);
  }
}

const fmt = (x: number | null | undefined, d = 1) => (x === null || x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(d));

function table(c: CaseComparison): string {
  const head = ['structure', 'role', 'predicted Gy', 'achieved Gy', 'diff Gy', 'ratio'];
  const rows = c.pairs.map((p) => [p.name, p.role, fmt(p.predictedGy), fmt(p.achievedGy), fmt(p.differenceGy), fmt(p.ratio, 3)]);
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((x, i) => (i < 2 ? x.padEnd(w[i]) : x.padStart(w[i]))).join('  ');
  return [line(head), w.map((n) => '-'.repeat(n)).join('  '), ...rows.map(line)].join('\n');
}

export async function run(argv: string[]): Promise<number> {
  const a = parseArgs(argv, OPTIONS, 'compare');
  if (a.flags.has('help')) {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  if (a.positionals.length) throw new UsageError(`compare: unexpected argument "${a.positionals[0]}" (options start with --)`);
  const plannedDir = requireOpt(a, 'planned', 'compare');
  const achievedDir = requireOpt(a, 'achieved', 'compare');
  const outDir = requireOpt(a, 'out', 'compare');
  const scale = numberOpt(a, 'scale-planned-to-gbq', 'compare');
  const out = claimOutputDir(outDir, { command: 'compare', inputs: [plannedDir, achievedDir] });
  try {
    return runCompare(a, plannedDir, achievedDir, outDir, scale, out);
  } finally {
    out.release();
  }
}

function runCompare(a: ParsedArgs, plannedDir: string, achievedDir: string, outDir: string, scale: number | undefined, out: OutputSet): number {
  const planned = readCase(plannedDir, 'planned');
  const achieved = readCase(achievedDir, 'achieved');
  const c = compareCases({ planned: planned.report, achieved: achieved.report, scalePlannedToGBq: scale });
  const json = {
    schemaVersion: 1,
    convention: 'difference = achieved - predicted, ratio = achieved / predicted; predicted doses scaled by scaleFactor',
    planned: { path: resolve(plannedDir), isotope: planned.report.isotope ?? null },
    achieved: { path: resolve(achievedDir), isotope: achieved.report.isotope ?? null },
    ...c,
    provenance: { version: ENGINE_VERSION, parameters: { scalePlannedToGBq: scale ?? null } },
  };
  out.commit([
    { name: 'compare.json', data: JSON.stringify(json, null, 2) + '\n' },
    { name: 'compare.csv', data: comparisonCsv(c) },
  ]);
  // warnings on stderr as "warning: ..." lines in both modes (also with --json), as dose and plan do
  if (c.warnings.length) process.stderr.write(c.warnings.map((w) => `warning: ${w}`).join('\n') + '\n');
  if (a.flags.has('json')) {
    process.stdout.write(JSON.stringify(json) + '\n');
    return 0;
  }
  const la = c.lesionAgreement;
  const lines = [
    `predicted ${plannedDir} vs achieved ${achievedDir}${c.scaledToGBq !== null ? ` (predicted scaled x${c.scaleFactor.toFixed(4)} to ${c.scaledToGBq} GBq)` : ''}`,
    table(c),
    '',
    `lesions (${la.lesions.length}):`,
    la.blandAltman
      ? `  Bland-Altman: bias ${fmt(la.blandAltman.bias)} Gy, 95 % limits of agreement ${fmt(la.blandAltman.lowerLimit)} to ${fmt(la.blandAltman.upperLimit)} Gy`
      : '  Bland-Altman: -',
    ...(la.blandAltmanLogRatio?.ratioScale
      ? [`  ratio achieved/predicted: geometric mean ${fmt(la.blandAltmanLogRatio.ratioScale.geometricMeanRatio, 3)}, limits ${fmt(la.blandAltmanLogRatio.ratioScale.lowerRatio, 3)} to ${fmt(la.blandAltmanLogRatio.ratioScale.upperRatio, 3)}`]
      : []),
    la.linConcordance
      ? `  Lin's concordance ${fmt(la.linConcordance.ccc, 3)}${la.linConcordance.ci95 ? ` (95 % CI ${fmt(la.linConcordance.ci95[0], 3)} to ${fmt(la.linConcordance.ci95[1], 3)})` : ''}`
      : "  Lin's concordance: -",
    ...la.notes.map((n) => `  note: ${n}`),
    ...(c.scoutAgreement
      ? [`scout-to-treatment activity shares: mean |difference| ${(100 * c.scoutAgreement.meanAbsoluteDifference).toFixed(2)} percentage points, largest ${(100 * c.scoutAgreement.maxAbsoluteDifference).toFixed(2)} (${c.scoutAgreement.maxAbsoluteDifferenceStructure})${c.scoutAgreement.scoutIsHo166 ? ', 166Ho scout' : ''}`]
      : []),
    `wrote ${join(outDir, 'compare.json')}, compare.csv`,
  ];
  process.stdout.write(lines.join('\n') + '\n');
  return 0;
}
