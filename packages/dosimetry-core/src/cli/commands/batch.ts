/**
 * `dosimetry batch --manifest FILE --out DIR [--jobs N] [--slurm]` (../shared/CONTRACT.md, "Additions (2026-12)"):
 * runs every row of a manifest (src/batch/manifest.ts) as its own `dose` or `plan` process into DIR/CASE, over a pool
 * of workers on this machine, or as a Slurm job array (--slurm); one row alone with --case-index N (what each array
 * task and each Kubernetes Indexed Job pod runs); --gather builds the summary of what the tasks left.
 * Writes DIR/batch.json (`{ "cases": [ { "case", "status": "done|skipped|failed", "error"? } ] }`) and the cohort
 * tables DIR/cohort/lesions.csv and patients.csv; exits 1 when any case failed (one line on stderr saying which).
 */
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { FileError, InputError, UsageError } from '../../errors.ts';
import { takeFolderLock } from '../../io/output-set.ts';
import { availableMemoryBytes } from '../../dose/memory.ts';
import { readCsvFile } from '../../research/table.ts';
import { readBatchManifest, type BatchCase, type BatchCommand, type BatchManifest } from '../../batch/manifest.ts';
import { planJobs } from '../../batch/resources.ts';
import { launcherPath, runCase, runCases, signalRunningCases, type CaseResult } from '../../batch/runner.ts';
import { BatchProgress, formatDuration } from '../../batch/progress.ts';
import { buildBatchCohort, clearCaseStatuses, readCaseStatuses, summaryText, writeBatchSummary, writeCaseStatus, type BatchSummary } from '../../batch/summary.ts';
import { checkSlurmPath, submitBatch, waitForJobs, type SlurmOptions } from '../../batch/slurm.ts';
import { clearProgressLine, progressReporter } from '../progress.ts';
import { numberOpt, opt, parseArgs, requireOpt, type OptionSpec, type ParsedArgs } from '../args.ts';

const OPTIONS: Record<string, OptionSpec> = {
  manifest: { type: 'string' },
  out: { type: 'string' },
  jobs: { type: 'string' },
  slurm: { type: 'flag' },
  partition: { type: 'string' },
  time: { type: 'string' },
  mem: { type: 'string' },
  'cpus-per-task': { type: 'string' },
  wait: { type: 'flag' },
  'wait-timeout-s': { type: 'string' },
  'poll-s': { type: 'string' },
  'case-index': { type: 'string' },
  gather: { type: 'flag' },
  clinical: { type: 'string' },
  'min-diameter-mm': { type: 'string' },
  json: { type: 'flag' },
  quiet: { type: 'flag' },
  help: { type: 'flag' },
};

const HELP = `usage: pnpm -s dosimetry batch --manifest FILE.csv|FILE.json --out DIR [--jobs N] [--json] [--quiet]
  [--clinical F.csv] [--min-diameter-mm D]                      (passed to the cohort tables)
  [--slurm [--partition P] [--time T] [--mem M] [--cpus-per-task C] [--wait [--wait-timeout-s S] [--poll-s S]]]
  [--case-index N]   run manifest row N only (0-based): what each Slurm array task and Kubernetes pod runs
  [--gather]         build DIR/batch.json and the cohort tables from the cases' results (Slurm's gather job)
Manifest: CSV with the columns case,command,args[,patient] (args: the rest of a dose or plan command line without
--out, quoted as in a shell; relative paths are relative to the manifest's folder), or JSON
{ "cases": [ { "case", "command", "args", "patient"? } ] }. Each case runs as its own process into DIR/CASE; a case
whose DIR/CASE is complete and was made by the same command line from the same input bytes is skipped. Default
--jobs: one per core, fewer when memory is short (said at the start). Writes DIR/batch.json and
DIR/cohort/{lesions,patients}.csv. Exit 1 when a case failed (the others still run).`;

/** A positive whole number option, or undefined. */
function countOpt(a: ParsedArgs, name: string, max: number): number | undefined {
  const v = numberOpt(a, name, 'batch');
  if (v === undefined) return undefined;
  if (!Number.isInteger(v) || v < 1 || v > max) throw new UsageError(`batch: --${name} must be a whole number from 1 to ${max}, got "${opt(a, name)}"`);
  return v;
}

/** Checks a row's args against its command's options (unknown options, missing values), before anything runs. */
async function argChecker(): Promise<(command: BatchCommand, args: readonly string[], where: string) => void> {
  const [{ DOSE_OPTIONS }, { OPTIONS: PLAN_OPTIONS }] = await Promise.all([import('./dose.ts'), import('./plan.ts')]);
  const specs: Record<BatchCommand, Record<string, OptionSpec>> = { dose: DOSE_OPTIONS, plan: PLAN_OPTIONS };
  return (command, args, where) => {
    try {
      parseArgs(args, specs[command], command);
    } catch (err) {
      if (err instanceof UsageError) throw new UsageError(`${where}: ${err.message}`);
      throw err;
    }
  };
}

/** DIR made (a folder, never a file) and returned absolute. */
function prepareOutDir(out: string): string {
  if (out.trim() === '') throw new UsageError('batch: --out is empty; give the folder for the cases, e.g. --out out/cohort1');
  const dir = resolve(out);
  if (existsSync(dir) && !statSync(dir).isDirectory()) throw new UsageError(`batch: --out ${out} is a file, not a folder; give a folder for the cases`);
  try {
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    throw new FileError(`batch: cannot create --out ${out} (${(err as Error).message}); choose another folder`, { cause: err });
  }
  return dir;
}

function printCaseWarnings(r: CaseResult): void {
  if (!r.warnings.length) return;
  clearProgressLine();
  for (const w of r.warnings) process.stderr.write(`warning: case ${r.case}: ${w}\n`);
}

/** The cohort options (passed to the gather job too). */
function cohortInputs(a: ParsedArgs) {
  const clinicalPath = opt(a, 'clinical');
  const minDiameterMm = numberOpt(a, 'min-diameter-mm', 'batch');
  if (minDiameterMm !== undefined && !(minDiameterMm >= 0)) throw new UsageError('batch: --min-diameter-mm must be >= 0');
  const clinical = clinicalPath ? { table: readCsvFile(clinicalPath), source: resolve(clinicalPath) } : undefined;
  const passOn = [...(clinicalPath ? ['--clinical', resolve(clinicalPath)] : []), ...(minDiameterMm !== undefined ? ['--min-diameter-mm', String(minDiameterMm)] : [])];
  return { clinical, minDiameterMm, passOn };
}

/** Cohort tables, batch.json, the table on stdout (or the JSON) and the exit code with its one stderr line. */
function finish(a: ParsedArgs, outDir: string, manifest: BatchManifest, results: CaseResult[], run: Record<string, unknown>): number {
  const { clinical, minDiameterMm } = cohortInputs(a);
  const cohort = buildBatchCohort(outDir, manifest.cases, results, clinical, minDiameterMm);
  const summary = writeBatchSummary(outDir, manifest, results, cohort, run);
  return report(a, outDir, summary);
}

function report(a: ParsedArgs, outDir: string, summary: BatchSummary): number {
  clearProgressLine();
  for (const w of summary.cohort.warnings) process.stderr.write(`warning: ${w}\n`);
  if (summary.cohort.error && summary.counts.done + summary.counts.skipped > 0) process.stderr.write(`warning: cohort tables not built: ${summary.cohort.error}\n`);
  if (a.flags.has('json')) process.stdout.write(JSON.stringify(summary) + '\n');
  else if (!a.flags.has('quiet')) process.stdout.write(summaryText(outDir, summary));
  const failed = summary.cases.filter((r) => r.status === 'failed');
  if (failed.length === 0) return 0;
  const first = failed[0];
  process.stderr.write(
    `dosimetry batch: ${failed.length} of ${summary.cases.length} cases failed (${first.case}: ${first.error}${failed.length > 1 ? `; ${failed.slice(1, 4).map((r) => r.case).join(', ')}${failed.length > 4 ? ', ...' : ''}` : ''}); the others went on; see ${join(outDir, 'batch.json')}\n`,
  );
  return 1;
}

export async function run(argv: string[]): Promise<number> {
  const a = parseArgs(argv, OPTIONS, 'batch');
  if (a.flags.has('help')) {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  const manifestPath = requireOpt(a, 'manifest', 'batch');
  const out = requireOpt(a, 'out', 'batch');
  const slurm = a.flags.has('slurm');
  const caseIndexText = opt(a, 'case-index');
  const gather = a.flags.has('gather');
  const modes = [slurm && '--slurm', caseIndexText !== undefined && '--case-index', gather && '--gather'].filter(Boolean);
  if (modes.length > 1) throw new UsageError(`batch: ${modes.join(' and ')} exclude each other`);
  for (const o of ['partition', 'time', 'mem', 'cpus-per-task', 'wait-timeout-s', 'poll-s']) {
    if (!slurm && opt(a, o) !== undefined) throw new UsageError(`batch: --${o} is a Slurm option: give it with --slurm`);
  }
  if (!slurm && a.flags.has('wait')) throw new UsageError('batch: --wait waits for the Slurm jobs: give it with --slurm');
  const jobsRequested = countOpt(a, 'jobs', 4096);
  if (jobsRequested !== undefined && (caseIndexText !== undefined || gather)) throw new UsageError('batch: --jobs applies to a whole batch, not to --case-index or --gather');
  cohortInputs(a); // a bad --clinical or --min-diameter-mm is refused before anything runs

  const manifest = readBatchManifest(manifestPath, await argChecker());
  const outDir = prepareOutDir(out);
  if (caseIndexText !== undefined) return runOneCase(a, caseIndexText, manifest, outDir);
  if (gather) return runGather(a, manifest, outDir);
  if (slurm) return runSlurm(a, manifest, outDir, jobsRequested);
  return runLocal(a, manifest, outDir, jobsRequested);
}

/** The batch's lock, DIR/.batch.lock: one batch (or submission, or gather) at a time in a folder. */
const lockBatch = (outDir: string) => takeFolderLock(join(outDir, '.batch.lock'), outDir, '--out');

async function runLocal(a: ParsedArgs, manifest: BatchManifest, outDir: string, jobsRequested: number | undefined): Promise<number> {
  const release = lockBatch(outDir);
  let interrupted: NodeJS.Signals | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    interrupted = signal;
    signalRunningCases('SIGTERM');
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const plan = planJobs({ cases: manifest.cases, cores: availableParallelism(), memoryBytes: await availableMemoryBytes(), requested: jobsRequested });
    if (plan.warning) process.stderr.write(`warning: ${plan.warning}\n`);
    if (!a.flags.has('json') && !a.flags.has('quiet')) process.stdout.write(`batch: ${manifest.cases.length} cases into ${outDir}, ${plan.reason}\n`);
    clearCaseStatuses(outDir);
    const tty = process.stderr.isTTY === true;
    const progress = progressReporter(a.flags.has('quiet'));
    progress(`batch: ${plan.reason}`);
    const bar = new BatchProgress(progress, manifest.cases.length, plan.jobs, tty);
    const t0 = performance.now();
    let results: CaseResult[];
    try {
      results = await runCases(
        manifest.cases,
        plan.jobs,
        { outDir, manifest, threadsPerCase: plan.threadsPerCase },
        {
          started: (c) => bar.started(c),
          waiting: (c, pid) => bar.waiting(c, pid),
          finished: (c, r) => {
            writeCaseStatus(outDir, r);
            bar.finished(c, r);
            printCaseWarnings(r);
          },
        },
        () => interrupted !== undefined,
      );
    } finally {
      bar.end();
    }
    if (interrupted) {
      process.stderr.write(`dosimetry batch: interrupted (${interrupted}) after ${results.filter((r) => r.status !== 'failed').length} of ${manifest.cases.length} cases; run the same command again to resume (finished cases are skipped)\n`);
      return interrupted === 'SIGINT' ? 130 : 143;
    }
    const seconds = Math.round(performance.now() - t0) / 1000;
    return finish(a, outDir, manifest, results, { mode: 'local', jobs: plan.jobs, jobsReason: plan.reason, threadsPerCase: plan.threadsPerCase, wallSeconds: seconds });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    release();
  }
}

function caseByIndex(manifest: BatchManifest, text: string): BatchCase {
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(n) || n >= manifest.cases.length) {
    throw new UsageError(`batch: --case-index ${text} is not a row of ${manifest.path}: it has ${manifest.cases.length} cases, indexed 0 to ${manifest.cases.length - 1}`);
  }
  return manifest.cases[n];
}

async function runOneCase(a: ParsedArgs, indexText: string, manifest: BatchManifest, outDir: string): Promise<number> {
  const c = caseByIndex(manifest, indexText);
  const r = await runCase(c, { outDir, manifest });
  writeCaseStatus(outDir, r);
  printCaseWarnings(r);
  if (a.flags.has('json')) process.stdout.write(JSON.stringify(r) + '\n');
  else if (!a.flags.has('quiet')) process.stdout.write(`case ${c.id} (index ${c.index}): ${r.status}${r.seconds !== undefined ? ` in ${r.seconds.toFixed(1)} s` : ''}${r.reason && r.status === 'done' ? ` (${r.reason})` : ''}\n`);
  if (r.status !== 'failed') return 0;
  process.stderr.write(`dosimetry batch: case ${c.id} failed: ${r.error}\n`);
  return 1;
}

async function runGather(a: ParsedArgs, manifest: BatchManifest, outDir: string): Promise<number> {
  const release = lockBatch(outDir);
  try {
    const results = readCaseStatuses(
      outDir,
      manifest.cases,
      (c) => `no result: its task (--case-index ${c.index}) did not end: it was cancelled, ran out of time or lost its node${existsSync(join(outDir, 'slurm')) ? `; see ${join(outDir, 'slurm', `case-${c.index}.out`)}` : ''}`,
    );
    return finish(a, outDir, manifest, results, { mode: 'gathered', ...(process.env.SLURM_JOB_ID ? { gatherJobId: process.env.SLURM_JOB_ID } : {}) });
  } finally {
    release();
  }
}

async function runSlurm(a: ParsedArgs, manifest: BatchManifest, outDir: string, jobsRequested: number | undefined): Promise<number> {
  checkSlurmPath('--out', outDir);
  checkSlurmPath('--manifest', manifest.path);
  for (const o of ['partition', 'time', 'mem']) {
    const v = opt(a, o);
    if (v !== undefined && !/^[A-Za-z0-9_.:,+-]+$/.test(v)) throw new UsageError(`batch: --${o} "${v}" is not a Slurm ${o} value (letters, digits and . : , + - _ only)`);
  }
  const o: SlurmOptions = {
    partition: opt(a, 'partition'),
    time: opt(a, 'time'),
    mem: opt(a, 'mem'),
    cpusPerTask: countOpt(a, 'cpus-per-task', 1024),
    maxParallel: jobsRequested,
  };
  const timeoutS = numberOpt(a, 'wait-timeout-s', 'batch') ?? 24 * 3600;
  const pollS = numberOpt(a, 'poll-s', 'batch') ?? 5;
  if (!(timeoutS > 0) || !(pollS > 0)) throw new UsageError('batch: --wait-timeout-s and --poll-s must be > 0');
  const { passOn } = cohortInputs(a);
  const release = lockBatch(outDir);
  let ids;
  try {
    clearCaseStatuses(outDir);
    ids = submitBatch(
      { node: process.execPath, launcher: launcherPath(), manifest: manifest.path, manifestDir: manifest.dir, outDir, caseCount: manifest.cases.length },
      o,
      passOn,
    );
  } finally {
    release();
  }
  const n = manifest.cases.length;
  if (a.flags.has('json')) {
    if (!a.flags.has('wait')) process.stdout.write(JSON.stringify({ arrayJobId: ids.arrayJobId, gatherJobId: ids.gatherJobId, scripts: { array: ids.arrayScriptPath, gather: ids.gatherScriptPath } }) + '\n');
  } else if (!a.flags.has('quiet')) {
    process.stdout.write(
      `submitted Slurm job array ${ids.arrayJobId} (${n} task${n > 1 ? 's' : ''}, ${ids.arrayScriptPath}) and gather job ${ids.gatherJobId} (afterany:${ids.arrayJobId}, ${ids.gatherScriptPath})\n` +
        (a.flags.has('wait') ? '' : `${join(outDir, 'batch.json')} appears when job ${ids.gatherJobId} ends (squeue -j ${ids.arrayJobId},${ids.gatherJobId})\n`),
    );
  }
  if (!a.flags.has('wait')) return 0;

  const progress = progressReporter(a.flags.has('quiet'));
  const t0 = performance.now();
  const ended = await waitForJobs(ids.arrayJobId, ids.gatherJobId, timeoutS, pollS, (tasks, gatherState) => {
    const text = Object.entries(tasks).map(([s, k]) => `${k} ${s.toLowerCase()}`).join(', ') || 'ended';
    progress(`Slurm: array ${ids.arrayJobId}: ${text}; gather ${ids.gatherJobId}: ${gatherState.toLowerCase()} (${formatDuration((performance.now() - t0) / 1000)})`);
  });
  progress.done();
  if (!ended) {
    throw new InputError(`batch: the Slurm jobs ${ids.arrayJobId} and ${ids.gatherJobId} had not ended after --wait-timeout-s ${timeoutS}; they go on (squeue -j ${ids.arrayJobId},${ids.gatherJobId}) and ${join(outDir, 'batch.json')} appears when ${ids.gatherJobId} ends`);
  }
  let summary: BatchSummary | undefined;
  try {
    summary = JSON.parse(readFileSync(join(outDir, 'batch.json'), 'utf8')) as BatchSummary;
  } catch {
    summary = undefined;
  }
  if (!summary || summary.run?.gatherJobId !== ids.gatherJobId) {
    throw new InputError(`batch: the gather job ${ids.gatherJobId} ended without writing ${join(outDir, 'batch.json')}; see ${join(outDir, 'slurm', 'gather.out')}`);
  }
  return report(a, outDir, summary);
}
