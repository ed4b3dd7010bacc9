/**
 * The end of a batch, the same for a local run and for Slurm's gather job: DIR/batch.json (contract:
 * `{ "cases": [ { "case", "status": "done|skipped|failed", "error"? } ] }`, extended with the patient, the reason,
 * the time and the warnings of each case), the cohort tables of every case that has a report (the `cohort` command's
 * logic over DIR/CASE/report.json into DIR/cohort/lesions.csv and DIR/cohort/patients.csv, one output set) and a
 * summary table for stdout.
 *
 * Each case's result is also kept as DIR/.batch/CASE.json the moment it ends: a job array's tasks (`--case-index`)
 * leave them for the gather job, and a case with none when the batch is gathered did not end (cancelled, timed out,
 * its node lost).
 */
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../io/atomic.ts';
import { claimOutputDir } from '../io/output-set.ts';
import { buildCohort, readCohortReport, type CohortReport } from '../research/cohort.ts';
import { formatCsv, type CsvTable } from '../research/csv.ts';
import type { BatchCase, BatchManifest } from './manifest.ts';
import type { CaseResult } from './runner.ts';

/** Folder of the per-case results inside DIR. */
export const STATUS_DIR = '.batch';

/** Writes one case's result to DIR/.batch/CASE.json (atomically). */
export function writeCaseStatus(outDir: string, r: CaseResult): void {
  writeFileAtomic(join(outDir, STATUS_DIR, `${r.case}.json`), JSON.stringify(r, null, 2) + '\n');
}

/** Removes the per-case results of an earlier run (before a new run, so that none is taken for this run's). */
export function clearCaseStatuses(outDir: string): void {
  rmSync(join(outDir, STATUS_DIR), { recursive: true, force: true });
  mkdirSync(join(outDir, STATUS_DIR), { recursive: true });
}

/**
 * Every case's result from DIR/.batch/CASE.json; a case without one (or with one of another row or command) is failed
 * with `missing(c)` as its error.
 */
export function readCaseStatuses(outDir: string, cases: readonly BatchCase[], missing: (c: BatchCase) => string): CaseResult[] {
  return cases.map((c) => {
    const p = join(outDir, STATUS_DIR, `${c.id}.json`);
    try {
      const r = JSON.parse(readFileSync(p, 'utf8')) as CaseResult;
      if (r.case === c.id && r.index === c.index && r.command === c.command && ['done', 'skipped', 'failed'].includes(r.status)) return { ...r, warnings: r.warnings ?? [] };
    } catch {
      // none or unreadable: the task did not end
    }
    return { case: c.id, ...(c.patient !== undefined ? { patient: c.patient } : {}), command: c.command, index: c.index, status: 'failed', error: missing(c), warnings: [] };
  });
}

/** What the cohort step made. */
export interface BatchCohort {
  /** DIR/cohort, or undefined when no table was built. */
  readonly dir?: string;
  readonly files?: { readonly lesions: string; readonly patients: string };
  readonly patients?: number;
  readonly lesions?: number;
  /** Why no table was built (no case with a report, or the cohort refused them). */
  readonly error?: string;
  readonly warnings: readonly string[];
}

/**
 * The cohort tables of the cases that ended with outputs (done or skipped): patient id = the manifest's patient,
 * else the case id; a patient with several cases gets one row per case, named PATIENT/CASE (the cohort refuses two
 * reports for one id). Written as one output set DIR/cohort (lesions.csv, patients.csv). Never throws: a refusal is
 * returned as `error`.
 */
export function buildBatchCohort(outDir: string, cases: readonly BatchCase[], results: readonly CaseResult[], clinical?: { table: CsvTable; source: string }, minDiameterMm?: number): BatchCohort {
  const ok = new Set(results.filter((r) => r.status !== 'failed').map((r) => r.case));
  const withReport = cases.filter((c) => ok.has(c.id) && existsSync(join(outDir, c.id, 'report.json')));
  if (withReport.length === 0) return { error: 'no case has a report.json', warnings: [] };
  const perPatient = new Map<string, number>();
  for (const c of withReport) perPatient.set(c.patient ?? c.id, (perPatient.get(c.patient ?? c.id) ?? 0) + 1);
  const warnings: string[] = [];
  try {
    const reports: CohortReport[] = withReport.map((c) => {
      const pid = c.patient ?? c.id;
      return readCohortReport(join(outDir, c.id, 'report.json'), (perPatient.get(pid) ?? 0) > 1 ? `${pid}/${c.id}` : pid);
    });
    for (const [pid, n] of perPatient) if (n > 1) warnings.push(`cohort: patient "${pid}" has ${n} cases; its rows are named ${pid}/CASE`);
    const cohort = buildCohort({ reports, clinical: clinical?.table, clinicalSource: clinical?.source, minDiameterMm });
    const dir = join(outDir, 'cohort');
    const set = claimOutputDir(dir, { command: 'batch', option: 'the cohort folder', inputs: [clinical?.source] });
    set.commit([
      { name: 'lesions.csv', data: formatCsv(cohort.lesionColumns, cohort.lesions) },
      { name: 'patients.csv', data: formatCsv(cohort.patientColumns, cohort.patients) },
    ]);
    return {
      dir,
      files: { lesions: join(dir, 'lesions.csv'), patients: join(dir, 'patients.csv') },
      patients: cohort.patients.length,
      lesions: cohort.lesions.length,
      warnings: [...warnings, ...cohort.warnings],
    };
  } catch (err) {
    return { error: (err as Error).message.replace(/\s*\n\s*/g, ' '), warnings };
  }
}

/** batch.json's content. */
export interface BatchSummary {
  readonly schemaVersion: 1;
  readonly manifest: { readonly path: string; readonly sha256: string };
  readonly counts: { readonly done: number; readonly skipped: number; readonly failed: number };
  readonly cases: readonly CaseResult[];
  readonly cohort: BatchCohort;
  /** How the cases ran: "local" with the jobs and why, or Slurm's job ids. */
  readonly run: Record<string, unknown>;
}

/** Builds batch.json's content and writes it (atomically) to DIR/batch.json. */
export function writeBatchSummary(outDir: string, manifest: BatchManifest, results: readonly CaseResult[], cohort: BatchCohort, run: Record<string, unknown>): BatchSummary {
  const counts = { done: 0, skipped: 0, failed: 0 };
  for (const r of results) counts[r.status]++;
  const summary: BatchSummary = { schemaVersion: 1, manifest: { path: manifest.path, sha256: manifest.sha256 }, counts, cases: results, cohort, run };
  writeFileAtomic(join(outDir, 'batch.json'), JSON.stringify(summary, null, 2) + '\n');
  return summary;
}

/** The summary table for stdout: one row per case (status, time, the error line), then the counts and the files. */
export function summaryText(outDir: string, s: BatchSummary): string {
  const head = ['case', 'command', 'status', 'time s', 'error / reason'];
  const rows = s.cases.map((r) => [r.case, r.command, r.status, r.seconds !== undefined ? r.seconds.toFixed(1) : '-', r.status === 'failed' ? r.error ?? '' : r.status === 'done' ? r.reason ?? '' : '']);
  const w = head.map((h, k) => Math.max(h.length, ...rows.map((r) => (k < 4 ? r[k].length : 0))));
  const line = (r: string[]) => r.map((x, k) => (k === 4 ? x : k === 3 ? x.padStart(w[k]) : x.padEnd(w[k]))).join('  ').trimEnd();
  const c = s.counts;
  const lines = [line(head), line(w.map((n, k) => '-'.repeat(k === 4 ? head[4].length : n))), ...rows.map(line), ''];
  lines.push(`${s.cases.length} cases: ${c.done} done, ${c.skipped} skipped (current), ${c.failed} failed`);
  lines.push(`summary: ${join(outDir, 'batch.json')}`);
  if (s.cohort.files) lines.push(`cohort (${s.cohort.patients} patients, ${s.cohort.lesions} lesions): ${s.cohort.files.lesions}, ${s.cohort.files.patients}`);
  else lines.push(`cohort tables not built: ${s.cohort.error}`);
  return lines.join('\n') + '\n';
}
