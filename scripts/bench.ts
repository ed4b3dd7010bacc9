/**
 * `pnpm bench`: the engine's benchmarks in one run, tables on stdout, progress on stderr.
 *  1. LDM dose + per-structure statistics, 128^3 and 256^3, CPU and WebGPU (scripts/bench-ldm.ts in a child process).
 *  2. The issue's side-by-side on the same 192^3 2.21 mm case in the same session: the whole
 *     `dosimetry dose --method dvk` process (CPU and WebGPU back ends) against scripts/bench/dvk_scipy.py, a Python
 *     script doing the same job with nibabel and scipy (read, fftconvolve with the same kernel, per-structure means,
 *     write), with the ratio; plus the phases of the dose command measured in-process.
 * Every timed process runs once untimed first (kernel disk cache, Mesa shader cache, OS file cache: a second run of
 * the same case is the steady state the issue asks for), then best of --repeat, the three rows interleaved so that
 * load from other users of this shared machine hits all of them alike.
 *
 *   node --import tsx --import ./scripts/wgsl-loader.mjs scripts/bench.ts [--repeat 3] [--size 192] [--ldm-sizes 128,256]
 *     [--skip-ldm] [--markdown FILE]
 * The CLI row runs `node scripts/dosimetry.mjs dose ...`, which is what `pnpm -s dosimetry dose ...` starts (the
 * bundled CLI; pnpm's own launcher, ~0.4 s, is shown in a separate row).
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { prepareDvkCase, dvkCliArgs, BENCH_VOXEL_MM, type DvkBenchCase } from './bench/dvk-case.ts';
import { meanLifeS } from '../packages/dosimetry-core/src/units/index.ts';
import { acquireGpu, gpuUnavailableReason } from '../packages/dosimetry-core/src/gpu/device.ts';

const argv = process.argv.slice(2);
const arg = (name: string, dflt: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] ? argv[i + 1] : dflt;
};
const repeat = Math.max(1, Number(arg('repeat', '3')));
const size = Number(arg('size', '192'));
const root = decodeURIComponent(new URL('..', import.meta.url).pathname);
const node = process.execPath;
const nodeTs = ['--import', 'tsx', '--import', './scripts/wgsl-loader.mjs'];
const log = (m: string) => process.stderr.write(`bench: ${m}\n`);
const md: string[] = [];
const out = (line = '') => {
  console.log(line);
};

// ---------------------------------------------------------------- 1. LDM + statistics
interface LdmRow { size: string; backend: string; ldmMs: number; statsMs: number; structureVoxels: number }
if (!argv.includes('--skip-ldm')) {
  const sizes = arg('ldm-sizes', '128,256');
  log(`LDM + statistics at ${sizes} (scripts/bench-ldm.ts) ...`);
  const r = spawnSync(node, [...nodeTs, 'scripts/bench-ldm.ts', '--sizes', sizes, '--repeat', '2', '--json'], { cwd: root, encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) {
    log(`bench-ldm.ts failed (exit ${r.status}): ${r.stderr.trim().split('\n').pop()}`);
  } else {
    const j = JSON.parse(r.stdout.slice(r.stdout.indexOf('{'))) as { device: string | null; rows: LdmRow[] };
    const head = '| grid | back end | LDM [ms] | statistics [ms] | total [ms] | structure voxels |';
    const rows = j.rows.map((x) => `| ${x.size} | ${x.backend} | ${x.ldmMs.toFixed(0)} | ${x.statsMs.toFixed(0)} | ${(x.ldmMs + x.statsMs).toFixed(0)} | ${x.structureVoxels} |`);
    const title = `LDM dose + statistics (best of 2 after a warm-up; WebGPU adapter: ${j.device || 'none'})`;
    out(`\n${title}`);
    for (const l of [head, '|---|---|---:|---:|---:|---:|', ...rows]) out(l);
    md.push(`### ${title}`, '', head, '|---|---|---:|---:|---:|---:|', ...rows, '');
  }
}

// ---------------------------------------------------------------- 2. DVK side-by-side
log(`preparing the ${size}^3 ${BENCH_VOXEL_MM} mm DVK case ...`);
const c: DvkBenchCase = await prepareDvkCase(join(tmpdir(), `dosimetry-bench-dvk-${size}`), size);
const python = '/usr/bin/python3';
const pyCheck = spawnSync(python, ['-c', 'import scipy, nibabel'], { encoding: 'utf8' });
const havePython = pyCheck.status === 0;
if (!havePython) {
  log(`Python row skipped: ${python} cannot import scipy and nibabel (${(pyCheck.error?.message ?? pyCheck.stderr.trim().split('\n').pop()) || 'missing'}); install them with: apt-get install -y python3-scipy python3-nibabel`);
}
const gpuCtx = await acquireGpu();
if (!gpuCtx) log(`WebGPU rows skipped: ${gpuUnavailableReason()}`);
const backends = gpuCtx ? (['cpu', 'webgpu'] as const) : (['cpu'] as const);

function timed(cmd: string, args: string[], what: string): { wallS: number; stdout: string } {
  const t0 = performance.now();
  const r = spawnSync(cmd, args, { cwd: root, encoding: 'utf8', maxBuffer: 1 << 26 });
  const wallS = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`${what} failed (exit ${r.status}): ${(r.stderr ?? '').trim().split('\n').pop()}`);
  return { wallS, stdout: r.stdout };
}
const runPython = () =>
  timed(python, [join(root, 'scripts/bench/dvk_scipy.py'), c.activityPath, c.labelsPath, c.kernelNpyPath, String(meanLifeS('Y90')), join(c.dir, 'dose_scipy.nii.gz')], 'dvk_scipy.py');
// scripts/dosimetry.mjs is what `pnpm -s dosimetry` starts (the bundled CLI, rebuilt when a source changed)
const runCli = (b: 'cpu' | 'webgpu') => timed(node, ['scripts/dosimetry.mjs', ...dvkCliArgs(c, b, join(c.dir, `cli_${b}`))], `dose --backend ${b}`);
const runPnpm = (b: 'cpu' | 'webgpu') => timed('pnpm', ['-s', 'dosimetry', ...dvkCliArgs(c, b, join(c.dir, `pnpm_${b}`))], `pnpm -s dosimetry dose --backend ${b}`);

log('warm-up runs (kernel cache, shader cache, file cache) ...');
if (havePython) runPython();
for (const b of backends) runCli(b);
const best: Record<string, number> = {};
const keep = (k: string, t: number) => (best[k] = Math.min(best[k] ?? Infinity, t));
let pyPhases: Record<string, number> = {};
let pyMeans: Record<string, number> = {};
for (let i = 0; i < repeat; i++) {
  log(`timed round ${i + 1}/${repeat} ...`);
  if (havePython) {
    const p = runPython();
    const j = JSON.parse(p.stdout.trim().split('\n').pop()!) as { meanDoseGy: Record<string, number>; timesS: Record<string, number> };
    if (p.wallS <= (best.python ?? Infinity)) pyPhases = j.timesS;
    pyMeans = j.meanDoseGy;
    keep('python', p.wallS);
  }
  for (const b of backends) keep(`cli ${b}`, runCli(b).wallS);
}
for (const b of backends) keep(`pnpm ${b}`, runPnpm(b).wallS);

// phases of the dose command in this process (same functions as cli/commands/dose.ts run(), in order)
log('phases of the dose command, in-process ...');
const { parseArgs } = await import('../packages/dosimetry-core/src/cli/args.ts');
const dose = await import('../packages/dosimetry-core/src/cli/commands/dose.ts');
const { computeDoseCase } = await import('../packages/dosimetry-core/src/dose/pipeline.ts');
const { buildReport } = await import('../packages/dosimetry-core/src/dose/report.ts');
const { writeFilesAtomic } = await import('../packages/dosimetry-core/src/io/atomic.ts');
const { voxelKernel } = await import('../packages/dosimetry-core/src/kernel/index.ts');
const startup = Math.min(...Array.from({ length: 2 }, () => timed(node, ['scripts/dosimetry.mjs', 'dose', '--help'], 'dose --help').wallS));
const phases: Record<string, Record<string, number>> = {};
const meansBy: Record<string, Record<string, number>> = {};
// Two passes, the first untimed: it starts what a CLI process starts anyway (the FFT worker threads, which under tsx
// also transpile their module, and the GPU pipelines), so that the phases compare with the whole-process rows.
for (const [pass, b] of [...backends.map((x) => [0, x] as const), ...backends.map((x) => [1, x] as const)]) {
  const ms: Record<string, number> = {};
  let t = performance.now();
  const lap = (name: string) => {
    const now = performance.now();
    ms[name] = now - t;
    t = now;
  };
  const a = parseArgs(dvkCliArgs(c, b, join(c.dir, `inproc_${b}`)), dose.DOSE_OPTIONS, 'dose');
  const { options, inputs, parameters } = await dose.doseCaseFromArgs(a, 'dose', () => {});
  lap('read inputs');
  await voxelKernel({ isotope: 'Y90', voxelMm: [BENCH_VOXEL_MM, BENCH_VOXEL_MM, BENCH_VOXEL_MM], densityGPerMl: 1.04 });
  lap('kernel (disk cache)');
  const result = await computeDoseCase(options);
  lap('pipeline');
  const tm = result.timingsMs as Record<string, number>;
  ms['structures onto the grid'] = tm.structuresMs ?? NaN;
  ms['calibration + density'] = (tm.calibrationMs ?? 0) + (tm.densityMs ?? 0);
  ms['dose (kernel + convolution)'] = tm.doseMs ?? NaN;
  ms['statistics'] = tm.statisticsMs ?? NaN;
  delete ms.pipeline;
  t = performance.now();
  const report = buildReport(result, { isotope: options.isotope, method: options.method, inputs, parameters });
  const files = await dose.caseOutputs(join(c.dir, `inproc_${b}`), result, report, false);
  lap('encode outputs (gzip)');
  writeFilesAtomic(files);
  lap('write files');
  if (pass === 0) continue;
  phases[b] = ms;
  meansBy[b] = Object.fromEntries(result.structures.map((s) => [s.name, s.meanGy]));
}

const r2 = (s: number) => s.toFixed(2);
const title = `DVK, whole process, ${size}^3 voxels of ${BENCH_VOXEL_MM} mm, Y90 kernel radius [${c.kernel.radius.join(', ')}] (best of ${repeat} after a warm-up; WebGPU adapter: ${gpuCtx ? gpuCtx.adapterDescription || gpuCtx.source : 'none'})`;
const head = '| process | wall [s] | ratio to Python |';
const rows: string[] = [];
const py = best.python;
const ratio = (t: number) => (py ? (t / py).toFixed(2) : '-');
if (havePython) rows.push(`| Python: dvk_scipy.py (nibabel + scipy.signal.fftconvolve) | ${r2(py)} | 1.00 |`);
else rows.push('| Python: dvk_scipy.py | not run: apt-get install -y python3-scipy python3-nibabel | - |');
for (const b of backends) rows.push(`| engine: node scripts/dosimetry.mjs dose --method dvk --backend ${b} | ${r2(best[`cli ${b}`])} | ${ratio(best[`cli ${b}`])} |`);
for (const b of backends) rows.push(`| engine via pnpm -s dosimetry dose ... --backend ${b} (1 run) | ${r2(best[`pnpm ${b}`])} | ${ratio(best[`pnpm ${b}`])} |`);
out(`\n${title}`);
for (const l of [head, '|---|---:|---:|', ...rows]) out(l);
md.push(`### ${title}`, '', head, '|---|---:|---:|', ...rows, '');

const names = ['node startup + CLI bundle (dose --help)', ...Object.keys(phases[backends[0]])];
const phHead = `| phase | ${backends.map((b) => `engine ${b} [s]`).join(' | ')} | Python [s] |`;
const pyOf: Record<string, string> = {
  'node startup + CLI bundle (dose --help)': 'import',
  'read inputs': 'read',
  'dose (kernel + convolution)': 'convolve',
  statistics: 'means',
  'encode outputs (gzip)': 'write',
};
const phRows = names.map((n) => {
  const cells = backends.map((b) => r2((n.startsWith('node') ? startup * 1000 : phases[b][n]) / 1000));
  const p = pyOf[n] && pyPhases[pyOf[n]] !== undefined ? r2(pyPhases[pyOf[n]]) : '';
  return `| ${n} | ${cells.join(' | ')} | ${p} |`;
});
out('\nphases of `dose --method dvk` (in-process, same functions as the CLI; Python: its own phase times, write = encode + write)');
for (const l of [phHead, `|---|${backends.map(() => '---:').join('|')}|---:|`, ...phRows]) out(l);
md.push('Phases of `dose --method dvk` (in-process; Python: the script\'s own phase times, its write includes the gzip)', '', phHead, `|---|${backends.map(() => '---:').join('|')}|---:|`, ...phRows, '');

if (havePython) {
  const labelName: Record<string, string> = { 1: 'Liver', 2: 'Tumor A', 3: 'Tumor B' };
  for (const b of backends) {
    const worst = Math.max(...Object.entries(pyMeans).map(([k, v]) => Math.abs(meansBy[b][labelName[k]] - v) / Math.abs(v)));
    const line = `${b}: structure means vs scipy, max relative difference ${worst.toExponential(1)}`;
    out(line);
    md.push(`- ${line}`);
  }
}
const mdPath = arg('markdown', '');
if (mdPath) {
  writeFileSync(mdPath, md.join('\n') + '\n');
  log(`wrote ${mdPath}`);
}
process.exit(0);
