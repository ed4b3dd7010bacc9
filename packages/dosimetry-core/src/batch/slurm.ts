/**
 * A batch on a Slurm cluster, through Slurm itself (sbatch, squeue), nothing home-made: DIR/slurm/batch.sbatch is a
 * job array with one manifest row per index (0 .. n-1, the rows in manifest order), each task running this CLI's
 * `batch --case-index $SLURM_ARRAY_TASK_ID` with absolute paths; DIR/slurm/gather.sbatch runs after it
 * (`--dependency=afterany:ARRAY`, so also after failed tasks) and builds DIR/batch.json and the cohort tables from what
 * the tasks left (`batch --gather`). Both are submitted with `sbatch --parsable`; `--wait` polls `squeue` until the
 * gather job has ended, within a timeout. DIR must be on a file system every node sees, as must the inputs.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { InputError, UsageError } from '../errors.ts';
import { writeFileAtomic } from '../io/atomic.ts';

/** Resource requests passed to sbatch as given (Slurm checks them). */
export interface SlurmOptions {
  readonly partition?: string;
  /** Time limit per task, Slurm's syntax (minutes, MM:SS, HH:MM:SS, D-HH...). */
  readonly time?: string;
  /** Memory per task, Slurm's syntax (e.g. 4G). */
  readonly mem?: string;
  readonly cpusPerTask?: number;
  /** At most this many tasks at once (`--array=0-N%J`), from --jobs. */
  readonly maxParallel?: number;
}

/** What the scripts run: absolute paths of Node, the CLI launcher, the manifest and DIR. */
export interface SlurmScriptContext {
  readonly node: string;
  readonly launcher: string;
  readonly manifest: string;
  readonly manifestDir: string;
  readonly outDir: string;
  readonly caseCount: number;
}

/** A word quoted for bash (single quotes; a quote inside as '\''). */
export const shellQuote = (s: string) => (/^[A-Za-z0-9_./:=@%+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

/** Refuses values that would break an #SBATCH line or a Slurm file name pattern. */
export function checkSlurmPath(what: string, path: string): void {
  if (/[\s%\\]/.test(path)) {
    throw new UsageError(`batch --slurm: ${what} ${path} holds a space, "%" or "\\", which Slurm's #SBATCH lines and output file patterns do not take; choose a path without them`);
  }
}

function resourceLines(o: SlurmOptions): string[] {
  return [
    ...(o.partition !== undefined ? [`#SBATCH --partition=${o.partition}`] : []),
    ...(o.time !== undefined ? [`#SBATCH --time=${o.time}`] : []),
    ...(o.mem !== undefined ? [`#SBATCH --mem=${o.mem}`] : []),
  ];
}

/** The job array script (see the module comment). */
export function arrayScript(ctx: SlurmScriptContext, o: SlurmOptions): string {
  const last = ctx.caseCount - 1;
  const range = `0-${last}${o.maxParallel !== undefined ? `%${o.maxParallel}` : ''}`;
  return [
    '#!/bin/bash',
    '# Written by `dosimetry batch --slurm`: one case per array index, the index being the manifest row (0-based):',
    `#   ${ctx.manifest}`,
    '#SBATCH --job-name=dosimetry-batch',
    `#SBATCH --array=${range}`,
    `#SBATCH --output=${join(ctx.outDir, 'slurm', 'case-%a.out')}`,
    ...resourceLines(o),
    ...(o.cpusPerTask !== undefined ? [`#SBATCH --cpus-per-task=${o.cpusPerTask}`] : []),
    'set -eu',
    '# the convolution threads of a case: the CPUs Slurm gave the task',
    'export DOSIMETRY_THREADS="${SLURM_CPUS_PER_TASK:-1}"',
    `cd ${shellQuote(ctx.manifestDir)}`,
    `exec ${shellQuote(ctx.node)} ${shellQuote(ctx.launcher)} batch --manifest ${shellQuote(ctx.manifest)} --out ${shellQuote(ctx.outDir)} --case-index "$SLURM_ARRAY_TASK_ID"`,
    '',
  ].join('\n');
}

/** The gather job's script: after every task of `arrayJobId` (afterany), builds batch.json and the cohort tables. */
export function gatherScript(ctx: SlurmScriptContext, o: SlurmOptions, arrayJobId: string, extraArgs: readonly string[] = []): string {
  return [
    '#!/bin/bash',
    '# Written by `dosimetry batch --slurm`: runs when every task of the job array has ended (done or not) and writes',
    `# ${join(ctx.outDir, 'batch.json')} and the cohort tables from what the tasks left.`,
    '#SBATCH --job-name=dosimetry-gather',
    `#SBATCH --dependency=afterany:${arrayJobId}`,
    `#SBATCH --output=${join(ctx.outDir, 'slurm', 'gather.out')}`,
    ...resourceLines({ partition: o.partition, time: o.time }),
    'set -eu',
    `cd ${shellQuote(ctx.manifestDir)}`,
    `exec ${shellQuote(ctx.node)} ${shellQuote(ctx.launcher)} batch --manifest ${shellQuote(ctx.manifest)} --out ${shellQuote(ctx.outDir)} --gather${extraArgs.map((a) => ` ${shellQuote(a)}`).join('')}`,
    '',
  ].join('\n');
}

/** Runs a Slurm client command; throws InputError with its own message when it is missing or fails. */
function slurmCommand(cmd: string, args: readonly string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.error) {
    const missing = (r.error as NodeJS.ErrnoException).code === 'ENOENT';
    throw new InputError(`batch --slurm: ${missing ? `${cmd} is not installed or not on the PATH; run on a Slurm login node (or install slurm-client)` : `${cmd} could not run (${r.error.message})`}`);
  }
  if (r.status !== 0) {
    const msg = (r.stderr || r.stdout).trim().split('\n').pop() ?? '';
    throw new InputError(`batch --slurm: ${cmd} ${args.join(' ')} failed (exit ${r.status}): ${msg}; check the Slurm options (--partition, --time, --mem, --cpus-per-task) and that the cluster is up (sinfo)`);
  }
  return r.stdout;
}

/** Submits a script with `sbatch --parsable`; returns the job id. */
export function sbatch(script: string, extra: readonly string[] = []): string {
  const out = slurmCommand('sbatch', ['--parsable', ...extra, script]).trim();
  const id = out.split('\n').pop()!.split(';')[0].trim(); // "JOBID" or "JOBID;CLUSTER"
  if (!/^\d+$/.test(id)) throw new InputError(`batch --slurm: sbatch printed "${out}" where a job id was expected`);
  return id;
}

/** Writes both scripts and submits them (array first, then the gather job depending on it). */
export function submitBatch(ctx: SlurmScriptContext, o: SlurmOptions, gatherArgs: readonly string[] = []): { arrayJobId: string; gatherJobId: string; arrayScriptPath: string; gatherScriptPath: string } {
  const dir = join(ctx.outDir, 'slurm');
  const arrayScriptPath = join(dir, 'batch.sbatch');
  const gatherScriptPath = join(dir, 'gather.sbatch');
  writeFileAtomic(arrayScriptPath, arrayScript(ctx, o));
  const arrayJobId = sbatch(arrayScriptPath);
  writeFileAtomic(gatherScriptPath, gatherScript(ctx, o, arrayJobId, gatherArgs));
  const gatherJobId = sbatch(gatherScriptPath, [`--dependency=afterany:${arrayJobId}`]);
  return { arrayJobId, gatherJobId, arrayScriptPath, gatherScriptPath };
}

/** Slurm job states after which a job runs no more. */
const ENDED = new Set(['COMPLETED', 'FAILED', 'CANCELLED', 'TIMEOUT', 'OUT_OF_MEMORY', 'NODE_FAIL', 'PREEMPTED', 'BOOT_FAIL', 'DEADLINE', 'SPECIAL_EXIT', 'REVOKED']);

/** The states squeue lists for the jobs (array tasks as ID_N or ID_[a-b]); an empty list once Slurm has forgotten them. */
export function jobStates(ids: readonly string[]): Array<{ id: string; state: string }> {
  const out = slurmCommand('squeue', ['--noheader', '--states=all', `--jobs=${ids.join(',')}`, '--format=%i|%T']);
  return out
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .map((l) => {
      const [id, state] = l.split('|');
      return { id, state: (state ?? '').replace(/\+$/, '') };
    });
}

/**
 * Waits until the gather job has ended (or is no longer known to squeue: Slurm forgets ended jobs after MinJobAge),
 * polling every `pollS` seconds, at most `timeoutS`; `onPoll` gets the array's task states. Returns false on timeout.
 */
export async function waitForJobs(arrayJobId: string, gatherJobId: string, timeoutS: number, pollS: number, onPoll: (tasks: Record<string, number>, gather: string) => void): Promise<boolean> {
  const deadline = Date.now() + timeoutS * 1000;
  let failures = 0;
  for (;;) {
    let states: Array<{ id: string; state: string }>;
    try {
      states = jobStates([arrayJobId, gatherJobId]);
      failures = 0;
    } catch (err) {
      // a busy slurmctld times out now and then: tried again, up to 10 times in a row
      if (++failures >= 10 || Date.now() >= deadline) throw err;
      await new Promise((r) => setTimeout(r, pollS * 1000));
      continue;
    }
    const gather = states.find((s) => s.id === gatherJobId)?.state;
    const tasks: Record<string, number> = {};
    for (const s of states) if (s.id !== gatherJobId) tasks[s.state] = (tasks[s.state] ?? 0) + 1;
    onPoll(tasks, gather ?? 'ended');
    if (gather === undefined || ENDED.has(gather)) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, pollS * 1000));
  }
}
