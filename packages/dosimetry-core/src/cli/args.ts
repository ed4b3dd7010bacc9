/**
 * Minimal, strict command-line option parser shared by every command.
 * Options are `--name value`, `--name=value` or boolean flags; repeatable options collect every value in order.
 */
import { UsageError } from '../errors.ts';
import { decimalProblem, parseDecimal } from '../units/decimal.ts';

export interface OptionSpec {
  /** Takes a value (`--x V`) or is a flag (`--json`). */
  readonly type: 'string' | 'flag';
  /** May be given several times (values kept in order). */
  readonly repeatable?: boolean;
}

export interface ParsedArgs {
  /** The value of each single option (given at most once), every value of repeatable ones. */
  readonly values: Map<string, string[]>;
  readonly flags: Set<string>;
  /** Every option in command-line order, for options whose meaning depends on position (e.g. --labels). */
  readonly sequence: ReadonlyArray<{ name: string; value: string | true }>;
  /** Always empty: a word that belongs to no option is refused (kept for the commands' own checks). */
  readonly positionals: string[];
}

export function parseArgs(argv: readonly string[], spec: Readonly<Record<string, OptionSpec>>, command: string): ParsedArgs {
  const values = new Map<string, string[]>();
  const flags = new Set<string>();
  const sequence: Array<{ name: string; value: string | true }> = [];
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--') || arg === '--') {
      // A stray word is never ignored: `--tumor "Tumor A" "Tumor B"` would silently drop Tumor B into "other".
      const last = sequence[sequence.length - 1];
      const hint =
        last && last.value !== true && i > 0 && argv[i - 1] === last.value
          ? ` after --${last.name} "${last.value}": an option takes one value; repeat it for each (--${last.name} "${last.value}" --${last.name} "${arg}")`
          : '';
      throw new UsageError(`${command}: unexpected argument "${arg}"${hint}; every value belongs to an option (run with --help)`);
    }
    const eq = arg.indexOf('=');
    const name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
    const s = spec[name];
    if (!s) {
      const known = Object.keys(spec).map((k) => `--${k}`).join(', ');
      throw new UsageError(`${command}: unknown option --${name} (options: ${known})`);
    }
    if (s.type === 'flag') {
      if (eq >= 0) throw new UsageError(`${command}: --${name} takes no value`);
      flags.add(name);
      sequence.push({ name, value: true });
      continue;
    }
    let value: string;
    if (eq >= 0) value = arg.slice(eq + 1);
    else {
      if (i + 1 >= argv.length) throw new UsageError(`${command}: --${name} needs a value`);
      value = argv[++i];
    }
    const list = values.get(name) ?? [];
    if (!s.repeatable && list.length > 0) {
      throw new UsageError(
        `${command}: --${name} was given twice ("${list[0]}" and "${value}"); it takes one value: keep the one you mean`,
      );
    }
    list.push(value);
    values.set(name, list);
    sequence.push({ name, value });
  }
  return { values, flags, sequence, positionals };
}

/** Last value of an option, or undefined. */
export function opt(a: ParsedArgs, name: string): string | undefined {
  const v = a.values.get(name);
  return v && v.length ? v[v.length - 1] : undefined;
}

/** Value of a required option; throws a UsageError naming it. */
export function requireOpt(a: ParsedArgs, name: string, command: string): string {
  const v = opt(a, name);
  if (v === undefined) throw new UsageError(`${command}: --${name} is required`);
  return v;
}

/** Every value of a repeatable option. */
export function optAll(a: ParsedArgs, name: string): string[] {
  return a.values.get(name) ?? [];
}

/**
 * Parses a finite number option (undefined when absent). Only a plain decimal number is accepted (see
 * units/decimal.ts): "0x10", "5,5" (a decimal comma), "", "Infinity" and "1e309" are refused, never read as
 * something else.
 */
export function numberOpt(a: ParsedArgs, name: string, command: string): number | undefined {
  const v = opt(a, name);
  if (v === undefined) return undefined;
  const n = parseDecimal(v);
  if (n === undefined) throw new UsageError(`${command}: --${name} must be a number, got "${v}" (${decimalProblem(v)})`);
  return n;
}
