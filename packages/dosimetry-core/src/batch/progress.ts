/**
 * Progress of a batch on stderr, under src/cli/progress.ts's rules: shown on a terminal (a bar redrawn in place every
 * second) or with DOSIMETRY_PROGRESS=1 (one plain line per finished case), never otherwise, so that captured stderr
 * holds only warnings and the final error line.
 *
 * Time left: the mean wall time of the cases computed so far (skipped ones take no time and are not counted) times the
 * cases still to run, less what the running ones have already spent, shared over the jobs.
 */
import type { Progress } from '../cli/progress.ts';
import type { BatchCase } from './manifest.ts';
import type { CaseResult } from './runner.ts';

/** "1 h 02 min", "3 min 20 s", "12 s". */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s >= 3600) return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;
  if (s >= 60) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  return `${s} s`;
}

/**
 * Seconds left (see the module comment), or undefined before any case was computed. `runningElapsedS`: how long each
 * running case has been going.
 */
export function estimateSecondsLeft(opts: { readonly computedSeconds: readonly number[]; readonly pending: number; readonly runningElapsedS: readonly number[]; readonly jobs: number }): number | undefined {
  if (opts.computedSeconds.length === 0) return undefined;
  const mean = opts.computedSeconds.reduce((a, b) => a + b, 0) / opts.computedSeconds.length;
  const running = opts.runningElapsedS.reduce((a, e) => a + Math.max(0, mean - e), 0);
  return (opts.pending * mean + running) / Math.max(1, opts.jobs);
}

/** Tracks a batch and draws its progress through `p` (a progressReporter). */
export class BatchProgress {
  private readonly counts = { done: 0, skipped: 0, failed: 0 };
  private readonly computed: number[] = [];
  private readonly startedAt = new Map<string, number>();
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(
    private readonly p: Progress,
    private readonly total: number,
    private readonly jobs: number,
    private readonly tty: boolean,
  ) {
    if (tty) {
      this.timer = setInterval(() => this.draw(), 1000);
      this.timer.unref();
    }
  }

  started(c: BatchCase): void {
    this.startedAt.set(c.id, performance.now());
    if (this.tty) this.draw();
  }

  waiting(c: BatchCase, pid: number): void {
    this.p(`case ${c.id}: waiting for process ${pid}, which is still writing its folder (a run of an earlier batch?)`);
  }

  finished(c: BatchCase, r: CaseResult): void {
    this.startedAt.delete(c.id);
    this.counts[r.status]++;
    if (r.seconds !== undefined) this.computed.push(r.seconds);
    if (this.tty) this.draw();
    else this.p(`case ${c.id} ${r.status}${r.seconds !== undefined ? ` in ${r.seconds.toFixed(1)} s` : ''}${r.error ? `: ${r.error}` : ''} (${this.line()})`);
  }

  /** Stops the redraw timer and clears the bar. */
  end(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.p.done();
  }

  private line(): string {
    const finished = this.counts.done + this.counts.skipped + this.counts.failed;
    const now = performance.now();
    const left = estimateSecondsLeft({
      computedSeconds: this.computed,
      pending: this.total - finished - this.startedAt.size,
      runningElapsedS: [...this.startedAt.values()].map((t) => (now - t) / 1000),
      jobs: this.jobs,
    });
    const c = this.counts;
    return `${finished}/${this.total}: done ${c.done}, skipped ${c.skipped}, failed ${c.failed}, running ${this.startedAt.size}; ${left === undefined ? 'time left not known yet' : `about ${formatDuration(left)} left`}`;
  }

  private draw(): void {
    const finished = this.counts.done + this.counts.skipped + this.counts.failed;
    const width = 24;
    const filled = Math.round((width * finished) / Math.max(1, this.total));
    this.p(`batch [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${this.line()}`);
  }
}
