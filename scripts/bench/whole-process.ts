/**
 * Whole-process timing for scripts/bench.ts: one command as its own process, wall-clock time measured here and peak
 * RSS by GNU time (`/usr/bin/time -f '%e %M'`) when it is installed; and the command-line gzip work of the I/O floor.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const GNU_TIME = '/usr/bin/time';
export const haveGnuTime = (() => {
  if (!existsSync(GNU_TIME)) return false;
  const r = spawnSync(GNU_TIME, ['-f', '%e %M', 'true'], { encoding: 'utf8' });
  return r.status === 0 && /^\d+(\.\d+)? \d+\s*$/m.test(r.stderr);
})();

export interface ProcessRun {
  readonly ok: boolean;
  readonly wallS: number;
  /** Peak resident set size [KiB] (GNU time's %M), undefined without GNU time. */
  readonly peakRssKiB?: number;
  readonly stdout: string;
  readonly stderr: string;
  /** Why it failed (exit status and the last line of stderr). */
  readonly error?: string;
}

const rssFile = join(tmpdir(), `dosimetry-bench-rss-${process.pid}.txt`);

/** Runs `cmd args` to the end in `cwd`; wall time from spawn to exit [s]. */
export function runProcess(cmd: string, args: readonly string[], cwd: string, timeoutS = 600): ProcessRun {
  const wrapped = haveGnuTime ? [GNU_TIME, ['-f', '%e %M', '-o', rssFile, cmd, ...args]] as const : [cmd, args] as const;
  rmSync(rssFile, { force: true });
  const t0 = performance.now();
  const r = spawnSync(wrapped[0], [...wrapped[1]], { cwd, encoding: 'utf8', maxBuffer: 1 << 28, timeout: timeoutS * 1000 });
  const wallS = (performance.now() - t0) / 1000;
  let peakRssKiB: number | undefined;
  if (haveGnuTime) {
    try {
      const last = readFileSync(rssFile, 'utf8').trim().split('\n').pop() ?? '';
      const m = /^(\d+(?:\.\d+)?) (\d+)$/.exec(last);
      if (m) peakRssKiB = Number(m[2]);
    } catch {
      // no figure: left undefined
    }
  }
  const stdout = r.stdout ?? '';
  const stderr = r.stderr ?? '';
  if (r.error || r.status !== 0) {
    const why = r.error ? r.error.message : r.signal ? `killed by ${r.signal}` : `exit ${r.status}`;
    const line = stderr.trim().split('\n').filter((l) => !/^Command exited with non-zero status/.test(l)).pop() ?? '';
    return { ok: false, wallS, peakRssKiB, stdout, stderr, error: `${why}${line ? `: ${line.slice(0, 200)}` : ''}` };
  }
  return { ok: true, wallS, peakRssKiB, stdout, stderr };
}

/** True when `cmd` starts (`cmd --version` exits 0). */
export function haveCommand(cmd: string): boolean {
  const r = spawnSync(cmd, ['--version'], { stdio: 'ignore' });
  return !r.error && r.status === 0;
}

/** Runs `cmd args` with stdout to /dev/null (the gzip tools of the I/O floor); wall time [s]. */
export function timeToDevNull(cmd: string, args: readonly string[]): number {
  const devNull = openSync('/dev/null', 'w');
  try {
    const t0 = performance.now();
    const r = spawnSync(cmd, [...args], { stdio: ['ignore', devNull, 'pipe'], timeout: 600_000 });
    const s = (performance.now() - t0) / 1000;
    if (r.error || r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.error?.message ?? r.stderr?.toString().trim() ?? `exit ${r.status}`}`);
    return s;
  } finally {
    closeSync(devNull);
  }
}
