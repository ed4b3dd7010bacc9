/**
 * Runs the cases of a batch: each as a child process of the CLI launcher (scripts/dosimetry.mjs, what
 * `pnpm -s dosimetry` runs), so that a crash or an out-of-memory kill ends that case only, over a pool of `jobs`
 * workers. A case whose folder is complete and current (./case-state.ts) is skipped; a failing one is recorded with
 * the one error line its CLI printed and the others go on.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { caseArgv, caseState, waitForCaseLock } from './case-state.ts';
import type { BatchCase, BatchManifest } from './manifest.ts';

/** The CLI launcher: this file sits as deep under the package as the bundle's chunks (dist/cli/), see scripts/dosimetry.mjs. */
export function launcherPath(): string {
  return fileURLToPath(new URL('../../../../scripts/dosimetry.mjs', import.meta.url));
}

export type CaseStatus = 'done' | 'skipped' | 'failed';

/** What happened to one case (a row of batch.json). */
export interface CaseResult {
  readonly case: string;
  readonly patient?: string;
  readonly command: string;
  /** 0-based manifest row (the --case-index). */
  readonly index: number;
  readonly status: CaseStatus;
  /** The case's one error line (failed). */
  readonly error?: string;
  /** Why it was computed (done, failed) or that it was current (skipped). */
  readonly reason?: string;
  /** Wall time of its process [s] (done, failed). */
  readonly seconds?: number;
  /** Its `warning:` lines. */
  readonly warnings: readonly string[];
}

/** Events of a running batch, for the progress display. */
export interface RunnerEvents {
  /** A case's process started. */
  started?(c: BatchCase): void;
  /** A case ended (any status). */
  finished?(c: BatchCase, r: CaseResult): void;
  /** A case waits for a live process holding its folder. */
  waiting?(c: BatchCase, pid: number): void;
}

export interface RunCaseOptions {
  /** The batch output folder: case c goes to DIR/c.id. */
  readonly outDir: string;
  readonly manifest: BatchManifest;
  /** Worker threads of each case (DOSIMETRY_THREADS), unless the environment sets it. */
  readonly threadsPerCase?: number;
  /** Bytes of the end of a case's stderr kept (its error line is the last one). */
  readonly stderrKeepBytes?: number;
}

/** The last line of a case's stderr that is not a warning: the CLI's one error line. */
function errorLineOf(stderr: string): string | undefined {
  const lines = stderr.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('warning: '));
  return lines[lines.length - 1];
}

const SIGNAL_HINT: Record<string, string> = {
  SIGKILL: 'killed (SIGKILL): out of memory (the kernel kills the largest process) or stopped by hand',
  SIGSEGV: 'crashed (SIGSEGV)',
  SIGABRT: 'aborted (SIGABRT)',
  SIGTERM: 'stopped (SIGTERM)',
  SIGINT: 'interrupted (SIGINT)',
};

/** Processes of running cases, so that an interrupted batch can stop them. */
const running = new Set<ChildProcess>();

/** Sends `signal` to every running case process (an interrupted batch stops its cases). */
export function signalRunningCases(signal: NodeJS.Signals): void {
  for (const p of running) p.kill(signal);
}

/**
 * Runs one case: waits for a live process holding its folder, skips it when current, else runs its CLI command in a
 * child process with cwd = the manifest's folder. Never throws: a failure is a CaseResult with its error line.
 */
export async function runCase(c: BatchCase, opts: RunCaseOptions, events: RunnerEvents = {}): Promise<CaseResult> {
  const caseDir = join(opts.outDir, c.id);
  const base = { case: c.id, ...(c.patient !== undefined ? { patient: c.patient } : {}), command: c.command, index: c.index };
  await waitForCaseLock(caseDir, (pid) => events.waiting?.(c, pid));
  const state = caseState(c, caseDir);
  if (state.current) return { ...base, status: 'skipped', reason: 'its outputs are complete and current (same command line, inputs and engine)', warnings: [] };
  events.started?.(c);
  const t0 = performance.now();
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.DOSIMETRY_PROGRESS; // a case's progress would interleave with the batch's
  if (env.DOSIMETRY_THREADS === undefined && opts.threadsPerCase !== undefined) env.DOSIMETRY_THREADS = String(opts.threadsPerCase);
  const keep = opts.stderrKeepBytes ?? 64 * 1024;
  const outcome = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string; spawnError?: Error }>((done) => {
    let stderr = '';
    let child: ChildProcess;
    try {
      child = spawn(process.execPath, [launcherPath(), c.command, ...caseArgv(c, caseDir)], { cwd: opts.manifest.dir, env, stdio: ['ignore', 'ignore', 'pipe'] });
    } catch (err) {
      done({ code: null, signal: null, stderr: '', spawnError: err as Error });
      return;
    }
    running.add(child);
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => {
      stderr += chunk;
      if (stderr.length > 2 * keep) stderr = stderr.slice(-keep);
    });
    child.on('error', (err) => {
      running.delete(child);
      done({ code: null, signal: null, stderr, spawnError: err });
    });
    child.on('close', (code, signal) => {
      running.delete(child);
      done({ code, signal, stderr });
    });
  });
  const seconds = Math.round(performance.now() - t0) / 1000;
  const warnings = outcome.stderr.split('\n').filter((l) => l.startsWith('warning: ')).map((l) => l.slice('warning: '.length).trim());
  const reason = state.reason;
  if (outcome.spawnError) return { ...base, status: 'failed', error: `could not start ${process.execPath}: ${outcome.spawnError.message}`, reason, seconds, warnings };
  if (outcome.code === 0) {
    // exit 0 must mean a complete set made by this very command line
    const after = caseState(c, caseDir);
    if (after.current) return { ...base, status: 'done', reason, seconds, warnings };
    return { ...base, status: 'failed', error: `${c.command} exited 0 but ${caseDir} holds no complete outputs of this command line (${after.reason})`, reason, seconds, warnings };
  }
  const line = errorLineOf(outcome.stderr);
  const how = outcome.signal ? SIGNAL_HINT[outcome.signal] ?? `killed by ${outcome.signal}` : `exited with code ${outcome.code}`;
  return { ...base, status: 'failed', error: outcome.signal || !line ? `${how}${line ? `; last line: ${line}` : ''}` : line, reason, seconds, warnings };
}

/**
 * Runs `cases` over `jobs` workers in manifest order (each worker takes the next case when its own ends). `stop()`
 * returning true makes the workers take no new case (an interrupted batch). Results in manifest order; cases never
 * started are left out.
 */
export async function runCases(cases: readonly BatchCase[], jobs: number, opts: RunCaseOptions, events: RunnerEvents = {}, stop: () => boolean = () => false): Promise<CaseResult[]> {
  const results: Array<CaseResult | undefined> = new Array(cases.length);
  let next = 0;
  const worker = async () => {
    while (next < cases.length && !stop()) {
      const k = next++;
      const r = await runCase(cases[k], opts, events);
      results[k] = r;
      events.finished?.(cases[k], r);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(jobs, cases.length)) }, worker));
  return results.filter((r): r is CaseResult => r !== undefined);
}
