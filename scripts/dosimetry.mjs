#!/usr/bin/env node
/**
 * Launcher of `pnpm -s dosimetry <command> ...`: runs the CLI (packages/dosimetry-core/src/cli/main.ts) from an
 * esbuild bundle in packages/dosimetry-core/dist/cli/, rebuilt here whenever a source (.ts of the core, .wgsl of
 * shaders/) is newer than it. Plain Node then starts the CLI in ~0.1 s, where transpiling through tsx on every run
 * costs ~0.25 s. The bundle sits as deep under the package as src/<dir>/ does, so the paths the core finds relative
 * to its own files (shaders/, data/dpk/, .cache/) resolve the same from both; packages stay external (node_modules).
 * Each command is its own chunk, loaded only when run. Without esbuild (not installed yet) it falls back to tsx.
 *
 *   node scripts/dosimetry.mjs <command> [options]        DOSIMETRY_NO_BUNDLE=1: always run the sources through tsx
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const core = join(root, 'packages', 'dosimetry-core');
const outDir = join(core, 'dist', 'cli');
const entryOut = join(outDir, 'main.mjs');

/** Newest modification time [ms] of the files under `dir` whose names end with one of `exts`. */
function newestMtimeMs(dir, exts) {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestMtimeMs(p, exts));
    else if (exts.some((x) => e.name.endsWith(x))) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

function stale() {
  if (!existsSync(entryOut)) return true;
  const built = statSync(entryOut).mtimeMs;
  return newestMtimeMs(join(core, 'src'), ['.ts']) > built || newestMtimeMs(join(root, 'shaders'), ['.wgsl']) > built || statSync(fileURLToPath(import.meta.url)).mtimeMs > built;
}

async function loadEsbuild() {
  try {
    return await import(pathToFileURL(createRequire(join(root, 'package.json')).resolve('esbuild')).href);
  } catch {
    return undefined;
  }
}

/** Bundles the CLI; files written atomically (chunks are content-named, the entry goes last), so runs may race. */
async function bundle(esbuild) {
  const { readFileSync } = await import('node:fs');
  const wgslText = {
    name: 'wgsl-text',
    setup(b) {
      // `import src from '.../x.wgsl?raw'` gives the file's text (as scripts/wgsl-loader-hooks.mjs does under tsx)
      b.onResolve({ filter: /\.wgsl\?raw$/ }, (a) => ({ path: join(a.resolveDir, a.path.replace(/\?raw$/, '')), namespace: 'wgsl' }));
      b.onLoad({ filter: /.*/, namespace: 'wgsl' }, (a) => ({ contents: readFileSync(a.path, 'utf8'), loader: 'text', watchFiles: [a.path] }));
    },
  };
  const r = await esbuild.build({
    // fft-worker: the worker threads of the CPU convolution (src/convolution/fft-workers.ts loads it from beside the
    // chunk that holds that module, i.e. from this folder); mc-worker: those of the CPU Monte Carlo (src/mc/transport-cpu.ts)
    entryPoints: {
      main: join(core, 'src', 'cli', 'main.ts'),
      'fft-worker': join(core, 'src', 'convolution', 'fft-worker.ts'),
      'mc-worker': join(core, 'src', 'mc', 'transport-cpu-worker.ts'),
    },
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    packages: 'external',
    outdir: outDir,
    chunkNames: 'chunk-[hash]',
    entryNames: '[name]',
    outExtension: { '.js': '.mjs' },
    sourcemap: 'inline',
    write: false,
    logLevel: 'silent',
    plugins: [wgslText],
  });
  mkdirSync(outDir, { recursive: true });
  const files = r.outputFiles.sort((a, b) => (a.path === entryOut) - (b.path === entryOut));
  for (const f of files) {
    const tmp = `${f.path}.${process.pid}.tmp`;
    writeFileSync(tmp, f.contents);
    renameSync(tmp, f.path);
  }
  // chunks of earlier builds: removed once old enough that no run can still be loading them
  const keep = new Set(files.map((f) => f.path));
  for (const name of readdirSync(outDir)) {
    const p = join(outDir, name);
    if (!keep.has(p) && Date.now() - statSync(p).mtimeMs > 10 * 60e3) rmSync(p, { force: true });
  }
}

function viaTsx() {
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--import', './scripts/wgsl-loader.mjs', join(core, 'src', 'cli', 'main.ts'), ...process.argv.slice(2)], {
    cwd: root,
    stdio: 'inherit',
  });
  process.exit(r.status ?? 1);
}

if (process.env.DOSIMETRY_NO_BUNDLE) viaTsx();
if (stale()) {
  const esbuild = await loadEsbuild();
  if (!esbuild) viaTsx();
  try {
    await bundle(esbuild);
  } catch (err) {
    process.stderr.write(`dosimetry: could not bundle the CLI (${err.message.split('\n')[0]}); running ${relative(root, core)}/src through tsx\n`);
    viaTsx();
  }
}
if (process.env.DOSIMETRY_DEBUG) process.setSourceMapsEnabled(true);
const argv = process.argv.slice(2);
// An explicit --backend webgpu opens Dawn in this process; on a software Vulkan driver Dawn's native code prints
// "Warning: max...artificially reduced..." lines on stderr (fd 2, out of JavaScript's reach). So that stderr holds
// nothing but the engine's own lines, such a run goes through a child whose stderr is filtered line by line.
// (--backend auto never opens a software adapter in the CLI's process: see src/gpu/adapter-probe.ts.)
const explicitGpu = argv.some((a, i) => a === '--backend=webgpu' || (a === '--backend' && argv[i + 1] === 'webgpu'));
if (explicitGpu && !process.env.DOSIMETRY_STDERR_FILTERED) {
  const { spawn } = await import('node:child_process');
  const tty = process.stderr.isTTY === true;
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), ...argv], {
    stdio: ['inherit', 'inherit', 'pipe'],
    env: { ...process.env, DOSIMETRY_STDERR_FILTERED: '1', ...(tty && !process.env.DOSIMETRY_PROGRESS ? { DOSIMETRY_PROGRESS: '1' } : {}) },
  });
  let pending = '';
  const DAWN = /^Warning: max\w+ artificially reduced from \d+ to \d+/;
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk) => {
    const lines = (pending + chunk).split('\n');
    pending = lines.pop();
    for (const l of lines) if (!DAWN.test(l)) process.stderr.write(l + '\n');
  });
  child.on('close', (code, signal) => {
    if (pending && !DAWN.test(pending)) process.stderr.write(pending);
    process.exitCode = code ?? (signal ? 1 : 0);
  });
} else {
  const { runAsProcess } = await import(pathToFileURL(entryOut).href);
  runAsProcess(argv);
}
