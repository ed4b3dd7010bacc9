/**
 * Entry point of `pnpm -s dosimetry <command> [options]` (surface fixed in ../shared/CONTRACT.md).
 * Each command lives in ./commands/<name>.ts and exports `run(argv: string[]): Promise<number>`.
 * Errors: one line on stderr, non-zero exit; the commands themselves leave no partial output.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { DosimetryError } from '../errors.ts';

const COMMANDS: Record<string, string> = {
  dose: 'voxel dose map and per-structure statistics (LDM or DVK)',
  plan: 'image-based treatment planning from a scout SPECT',
  compare: 'predicted vs achieved dose, structure by structure',
  partition: 'closed-form partition model (no images)',
  kernel: 'the dose voxel kernel the engine uses',
  cohort: 'join report.json files with a clinical CSV',
  roc: 'ROC analysis of dose vs response',
  groups: 'Mann-Whitney U and Kruskal-Wallis between response groups',
  logistic: 'logistic regression of response on dose',
  cox: 'Cox proportional hazards for PFS/OS',
  km: 'Kaplan-Meier curves and log-rank test',
};

function usage(): string {
  const lines = Object.entries(COMMANDS)
    .filter(([name]) => commandFile(name) !== undefined)
    .map(([name, what]) => `  ${name.padEnd(10)} ${what}`);
  return `usage: pnpm -s dosimetry <command> [options]\n\ncommands:\n${lines.join('\n')}\n\nRun a command with --help for its options.`;
}

function commandFile(name: string): string | undefined {
  const url = new URL(`./commands/${name}.ts`, import.meta.url);
  return existsSync(fileURLToPath(url)) ? url.href : undefined;
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
  const file = COMMANDS[name] !== undefined ? commandFile(name) : undefined;
  if (!file) {
    process.stderr.write(`dosimetry: unknown command "${name}"; run with --help for the list\n`);
    return 2;
  }
  try {
    const mod = (await import(file)) as { run(argv: string[]): Promise<number> };
    return await mod.run(rest);
  } catch (err) {
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
