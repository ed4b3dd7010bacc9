/**
 * Entry point of `pnpm -s dosimetry <command> [options]` (surface fixed in ../shared/CONTRACT.md).
 * Each command lives in ./commands/<name>.ts and exports `run(argv: string[]): Promise<number>`.
 * Errors: one line on stderr, non-zero exit; the commands themselves leave no partial output.
 */
import { fileURLToPath } from 'node:url';
import { DosimetryError } from '../errors.ts';
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
  cohort: { what: 'join report.json files with a clinical CSV', load: () => import('./commands/cohort.ts') },
  roc: { what: 'ROC analysis of dose vs response', load: () => import('./commands/roc.ts') },
  groups: { what: 'Mann-Whitney U and Kruskal-Wallis between response groups', load: () => import('./commands/groups.ts') },
  logistic: { what: 'logistic regression of response on dose', load: () => import('./commands/logistic.ts') },
  cox: { what: 'Cox proportional hazards for PFS/OS', load: () => import('./commands/cox.ts') },
  km: { what: 'Kaplan-Meier curves and log-rank test', load: () => import('./commands/km.ts') },
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

/** One line describing an error: our own messages as they are, anything else prefixed as unexpected. */
export function errorLine(err: unknown): string {
  if (err instanceof DosimetryError) return err.message.replace(/\s*\n\s*/g, ' ');
  const msg = err instanceof Error ? err.message : String(err);
  return `unexpected error: ${msg.replace(/\s*\n\s*/g, ' ')} (set DOSIMETRY_DEBUG=1 for a stack trace)`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err) => {
      process.stderr.write(`dosimetry: ${errorLine(err)}\n`);
      process.exit(1);
    },
  );
}
