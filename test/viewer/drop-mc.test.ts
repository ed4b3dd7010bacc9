/**
 * Monte Carlo in the viewer's drop panel (packages/viewer/src/client/drop.ts): the histories and seed fields are read as
 * `dose --method mc --mc-histories N --seed S` reads them, and every module the pipeline loads for `method: 'mc'` can
 * load in a page (no static import of a node: built-in; Node-only code reaches them through src/node-builtin.ts).
 * The page itself is checked by test/browser/run-mc-drop.mjs (CPU and WebGPU against the CLI).
 */
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DROP_MC_DEFAULT_HISTORIES, parseDropMc } from '../../packages/viewer/src/client/drop.ts';
import { MC_OPTIONS, mcFromArgs } from '../../packages/dosimetry-core/src/cli/commands/dose-mc.ts';
import { parseArgs } from '../../packages/dosimetry-core/src/cli/args.ts';

const ROOT = resolve(__dirname, '..', '..');

describe('the drop panel\'s Monte Carlo fields', () => {
  it('give what the CLI gives for the same --mc-histories and --seed', () => {
    for (const [h, s] of [['2e4', '1'], ['20000', '7'], ['10', '0'], ['1e6', '4294967295']]) {
      const cli = mcFromArgs(parseArgs(['--mc-histories', h, '--seed', s], MC_OPTIONS, 'dose'), 'dose', 'mc');
      expect(parseDropMc(h, s)).toEqual(cli);
    }
    // an empty seed is the CLI's default seed
    expect(parseDropMc('2e4', ' ')).toEqual({ seed: 1, plan: { kind: 'histories', histories: 2e4 } });
  });
  it('the page\'s default histories is the field\'s value in index.html', () => {
    const html = readFileSync(join(ROOT, 'packages/viewer/src/client/index.html'), 'utf8');
    const v = /id="drop-mc-histories"[^>]*value="([^"]+)"/.exec(html)?.[1];
    expect(v).toBeDefined();
    expect(parseDropMc(v!, '1').plan).toEqual({ kind: 'histories', histories: DROP_MC_DEFAULT_HISTORIES });
  });
  it('refuse what the CLI refuses, saying what to type', () => {
    expect(() => parseDropMc('9', '1')).toThrow(/at least 10/);
    expect(() => parseDropMc('2.5e4', '1')).not.toThrow(); // 25000: a whole number
    expect(() => parseDropMc('2e4.5', '1')).toThrow(/such as 20000 or 2e4/);
    expect(() => parseDropMc('20,000', '1')).toThrow(/whole number/);
    expect(() => parseDropMc('0x100', '1')).toThrow(/whole number/);
    expect(() => parseDropMc('1000.5', '1')).toThrow(/whole number/);
    expect(() => parseDropMc('2e4', '-1')).toThrow(/0\.\.4294967295/);
    expect(() => parseDropMc('2e4', '4294967296')).toThrow(/32 bits/);
    expect(() => parseDropMc('2e4', '1.5')).toThrow(/whole number/);
  });
});

/** Relative module paths a TypeScript file imports: static value imports and dynamic import('...') of a literal. */
function importsOf(file: string): { modules: string[]; nodeValueImports: string[] } {
  const src = readFileSync(file, 'utf8');
  const modules: string[] = [];
  const nodeValueImports: string[] = [];
  for (const m of src.matchAll(/^\s*(import|export)\s+(type\s+)?[^;]*?\s+from\s+'([^']+)'/gm)) {
    const spec = m[3];
    if (m[2]) continue; // import type: erased
    if (spec.startsWith('node:')) nodeValueImports.push(spec);
    else if (spec.startsWith('.') && !spec.endsWith('?raw')) modules.push(resolve(dirname(file), spec));
  }
  for (const m of src.matchAll(/\bimport\('(\.[^']+)'\)/g)) modules.push(resolve(dirname(file), m[1]));
  return { modules, nodeValueImports };
}

describe('the Monte Carlo modules load in a page', () => {
  it('no static import of a node: built-in from src/mc/run.ts and its CPU and WebGPU transports, nor what they import', () => {
    const core = join(ROOT, 'packages/dosimetry-core/src');
    const todo = ['mc/run.ts', 'mc/transport-cpu.ts', 'mc/transport-gpu.ts'].map((f) => join(core, f));
    const seen = new Set<string>();
    const offenders: string[] = [];
    while (todo.length) {
      const f = todo.pop()!;
      if (seen.has(f)) continue;
      seen.add(f);
      const { modules, nodeValueImports } = importsOf(f);
      for (const n of nodeValueImports) offenders.push(`${f.slice(core.length + 1)} imports ${n}`);
      // the gpu/ folder loads Dawn (the 'webgpu' package) dynamically in Node only; stay inside the core's src
      todo.push(...modules.filter((m) => m.startsWith(core)));
    }
    expect(seen.size).toBeGreaterThan(10); // the graph was walked (run, batches, problem, tables, transports, ...)
    expect(offenders).toEqual([]);
    // the worker entry is Node-only by design and must stay out of that graph (it is loaded by URL in Node)
    expect([...seen].some((f) => f.endsWith('transport-cpu-worker.ts'))).toBe(false);
  });
});
