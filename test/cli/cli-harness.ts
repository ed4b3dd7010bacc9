/**
 * Test harness for the command-line interface: runs `main(argv)` in-process (the same code path as
 * `pnpm -s dosimetry ...`) and captures what it prints. Also generates the bundled phantom once per process.
 */
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { main } from '../../packages/dosimetry-core/src/cli/main.ts';
import { generatePhantoms } from '../../data/phantoms/generate.ts';
import { acquireGpu, gpuUnavailableReason } from '../../packages/dosimetry-core/src/gpu/index.ts';

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the CLI with argv and returns its exit code and captured output (nothing reaches the terminal). */
export async function runCli(argv: readonly string[]): Promise<CliResult> {
  const out: string[] = [];
  const err: string[] = [];
  const ow = process.stdout.write.bind(process.stdout);
  const ew = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((chunk: string | Uint8Array) => (out.push(String(chunk)), true)) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => (err.push(String(chunk)), true)) as typeof process.stderr.write;
  try {
    const code = await main(argv);
    return { code, stdout: out.join(''), stderr: err.join('') };
  } finally {
    process.stdout.write = ow;
    process.stderr.write = ew;
  }
}

let phantomDir: Promise<string> | undefined;
/** The liver phantom (data/phantoms) generated into a fresh temporary folder, once per test process. */
export function phantomCase(): Promise<string> {
  phantomDir ??= generatePhantoms({ outDir: mkdtempSync(join(tmpdir(), 'phantom-')), log: () => {} });
  return phantomDir;
}

export const tempDir = (prefix: string) => mkdtempSync(join(tmpdir(), `${prefix}-`));

/** The WebGPU back end is tested when an adapter exists; under CI (DOSIMETRY_REQUIRE_GPU=1) its absence fails. */
export async function webgpuAvailable(): Promise<boolean> {
  const ctx = await acquireGpu();
  if (ctx) return true;
  const reason = gpuUnavailableReason();
  if (process.env.DOSIMETRY_REQUIRE_GPU === '1') throw new Error(`DOSIMETRY_REQUIRE_GPU=1 but ${reason}`);
  console.warn(`WebGPU end-to-end runs skipped: ${reason}`);
  return false;
}

/** ../shared/data beside the project, or undefined (with the reason printed) when it is absent. */
export function sharedData(sub: string): string | undefined {
  const dir = fileURLToPath(new URL(`../../../shared/data/${sub}/`, import.meta.url));
  if (existsSync(dir)) return dir;
  console.warn(`skipping tests on ${sub}: ${dir} is absent (the shared data is not checked out beside the project)`);
  return undefined;
}
