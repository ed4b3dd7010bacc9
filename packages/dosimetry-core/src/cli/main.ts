/**
 * Entry point of `pnpm -s dosimetry <command> [options]` (surface fixed in ../shared/CONTRACT.md).
 * Each command lives in ./commands/<name>.ts and exports `run(argv: string[]): Promise<number>`.
 * Errors: one line on stderr, non-zero exit; the commands themselves leave no partial output.
 */
import { fileURLToPath } from 'node:url';
import { totalmem } from 'node:os';
import { DosimetryError, isOutOfMemory } from '../errors.ts';
import { clearProgressLine } from './progress.ts';

interface Command {
  readonly what: string;
  readonly load: () => Promise<{ run(argv: string[]): Promise<number> }>;
}
// Static imports (each a lazily loaded chunk in the bundled CLI, see scripts/dosimetry.mjs): only the command run is loaded.
const COMMANDS: Record<string, Command> = {
  dose: { what: 'voxel dose map and per-structure statistics (LDM or DVK)', load: () => import('./commands/dose.ts') },
  plan: { what: 'image-based treatment planning from a scout SPECT', load: () => import('./commands/plan.ts') },
  compare: { what: 'predicted vs achieved dose, structure by structure', load: () => import('./commands/compare.ts') },
  partition: { what: 'closed-form partition model (no images)', load: () => import('./commands/partition.ts') },
  kernel: { what: 'the dose voxel kernel the engine uses', load: () => import('./commands/kernel.ts') },
  register: { what: 'rigid (optionally B-spline) registration of two images to an ITK transform file', load: () => import('./commands/register.ts') },
  cohort: { what: 'join report.json files with a clinical CSV', load: () => import('./commands/cohort.ts') },
  roc: { what: 'ROC analysis of dose vs response', load: () => import('./commands/roc.ts') },
  groups: { what: 'Mann-Whitney U and Kruskal-Wallis between response groups', load: () => import('./commands/groups.ts') },
  logistic: { what: 'logistic regression of response on dose', load: () => import('./commands/logistic.ts') },
  cox: { what: 'Cox proportional hazards for PFS/OS', load: () => import('./commands/cox.ts') },
  km: { what: 'Kaplan-Meier curves and log-rank test', load: () => import('./commands/km.ts') },
  batch: { what: 'run a manifest of dose/plan cases on every core or as a Slurm job array', load: () => import('./commands/batch.ts') },
};

function usage(): string {
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(10)} ${c.what}`);
  return `usage: pnpm -s dosimetry <command> [options]\n\ncommands:\n${lines.join('\n')}\n\nRun a command with --help for its options.`;
}

export async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage() + '\n');
    return name ? 0 : 2;
  }
  if (name === '--version') {
    const { ENGINE_VERSION } = await import('../version.ts');
    process.stdout.write(ENGINE_VERSION + '\n');
    return 0;
  }
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!command) {
    process.stderr.write(`dosimetry: unknown command "${name}"; run with --help for the list\n`);
    return 2;
  }
  try {
    const mod = await command.load();
    const code = await mod.run(rest);
    clearProgressLine();
    return code;
  } catch (err) {
    clearProgressLine();
    process.stderr.write(`dosimetry ${name}: ${errorLine(err).replace(new RegExp(`^${name}: `), '')}\n`);
    if (process.env.DOSIMETRY_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
    return err instanceof DosimetryError && err.code === 'USAGE' ? 2 : 1;
  }
}

/** A Node system error (ELOOP, EACCES, ...) on a path, in words, or undefined for anything else. */
function systemErrorLine(err: unknown): string | undefined {
  const e = err as NodeJS.ErrnoException;
  if (!(err instanceof Error) || typeof e.code !== 'string' || !/^E[A-Z]+$/.test(e.code)) return undefined;
  const what: Record<string, string> = {
    ELOOP: 'the path has a loop of symbolic links',
    EACCES: 'permission denied',
    EPERM: 'operation not permitted',
    EISDIR: 'it is a folder where a file is expected',
    ENOTDIR: 'a part of the path is a file, not a folder',
    ENOENT: 'it does not exist',
    ENOSPC: 'no space left on the device',
    EROFS: 'the file system is read-only',
    EMFILE: 'too many open files',
    ENAMETOOLONG: 'the name is too long',
  };
  const text = what[e.code];
  if (!text) return undefined;
  return `${e.path ? `${e.path}: ` : ''}${text} (${e.code}); check the path and its permissions`;
}

/** One line describing an error: our own messages as they are, anything else prefixed as unexpected. */
export function errorLine(err: unknown): string {
  if (err instanceof DosimetryError) return err.message.replace(/\s*\n\s*/g, ' ');
  if (isOutOfMemory(err)) {
    const gib = (b: number) => `${(b / 1024 ** 3).toFixed(1)} GiB`;
    return `out of memory (${(err as Error).message}) with ${gib(process.memoryUsage().rss)} in use of this machine's ${gib(totalmem())}: the inputs are too large for it; crop or resample them, or use a machine with more memory`;
  }
  const sys = systemErrorLine(err);
  if (sys) return sys;
  const msg = err instanceof Error ? err.message : String(err);
  return `unexpected error: ${msg.replace(/\s*\n\s*/g, ' ')} (set DOSIMETRY_DEBUG=1 for a stack trace)`;
}

/**
 * Exits with `code` once stdout and stderr have handed everything written to the OS. process.exit() alone drops what
 * is still queued for a pipe whose reader is slow (a --json report was cut at 64 KiB, the pipe's buffer); waiting
 * for the callbacks of two empty writes (streams keep their order) gives the reader all of it.
 */
export function exitWhenFlushed(code: number): void {
  process.exitCode = code;
  let pending = 2;
  const done = () => {
    if (--pending === 0) process.exit(code);
  };
  for (const stream of [process.stdout, process.stderr]) {
    if (stream.destroyed || !stream.writable) done();
    else stream.write('', done);
  }
}

/** Runs the CLI as a process: main(argv), then exit with its code once the output is flushed. */
export function runAsProcess(argv: readonly string[]): void {
  // a reader that goes away (`| head`) ends the run quietly instead of with an EPIPE stack trace
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  });
  main(argv).then(
    (code) => exitWhenFlushed(code),
    (err) => {
      process.stderr.write(`dosimetry: ${errorLine(err)}\n`);
      exitWhenFlushed(1);
    },
  );
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) runAsProcess(process.argv.slice(2));
