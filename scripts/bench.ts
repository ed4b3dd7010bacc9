/**
 * `pnpm bench`: the engine's benchmarks in one run, tables on stdout, progress on stderr.
 *  1. LDM dose, DVK convolution and per-structure statistics, 128^3 and 256^3 (--ldm-sizes; also NxMxK grids such as
 *     512x512x400), CPU and WebGPU, in-process (scripts/bench-ldm.ts in a child process).
 *  2. Whole processes side by side, in the same session (the issue "Fast by default at every size"): for each case of
 *     scripts/bench/cases.ts (LDM 256^3 and DVK 192^3, each with sparse and dense activity) the Python script doing
 *     the same job (scripts/bench/ldm_numpy.py: nibabel + numpy; scripts/bench/dvk_scipy.py: nibabel +
 *     scipy.signal.fftconvolve with the engine's kernel), the engine's `node scripts/dosimetry.mjs dose ...` with its
 *     default back end (auto) and, when a WebGPU adapter exists, with --backend webgpu; wall time, peak RSS (GNU time),
 *     RSS as a multiple of the float32 activity image, and the I/O floor: the gzip work the job cannot avoid, timed
 *     with the command-line tools on the same files in the same run (gzip -dc of the activity and of the labels, and
 *     compressing the engine's dose map with pigz -1 on 2 threads, or gzip -1 without pigz). Plus the agreement of the
 *     structure means (report.json against the script).
 *  3. The phases of `dose --method dvk` measured in-process (where the time of the DVK row goes).
 *  4. Monte Carlo (`dose --method mc --mc-target-uncertainty 2`) on the DVK cases, default back end and WebGPU: histories,
 *     histories/s, wall time, and the ratio to the DVK process on the same case (issue 13's speed goal: at most 20x).
 * Every timed process runs once untimed first (kernel disk cache, Mesa shader cache, OS file cache: a second run of
 * the same case is the steady state the issue asks for), then best of --repeat; within a round the rows of all cases
 * run one after the other, in an order rotated from round to round, so that load from other users of this shared
 * machine hits all of them alike.
 *
 *   node --import tsx --import ./scripts/wgsl-loader.mjs scripts/bench.ts [--repeat 3]
 *     [--cases ldm256,ldm256dense,dvk192,dvk192dense] [--ldm-sizes 128,256] [--size 192]
 *     [--skip-ldm] [--skip-phases] [--skip-mc] [--mc-target 2] [--mc-backends auto,webgpu] [--markdown FILE]
 * The engine rows run `node scripts/dosimetry.mjs dose ...`, which is what `pnpm -s dosimetry dose ...` starts (the
 * bundled CLI; pnpm's own launcher is timed once and reported below the table). Python rows need Debian's
 * /usr/bin/python3 with python3-numpy, python3-nibabel (and python3-scipy for DVK), which the bootstrap installs for
 * `pnpm bench`; without them those rows are skipped with the reason.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { prepareDvkCase, dvkCliArgs, BENCH_VOXEL_MM, type DvkBenchCase } from './bench/dvk-case.ts';
import { CASE_IDS, prepareCase, engineDoseArgs, type CaseId, type WholeCase } from './bench/cases.ts';
import { haveCommand, haveGnuTime, runProcess, timeToDevNull } from './bench/whole-process.ts';
import { NUCLIDES, meanLifeS } from '../packages/dosimetry-core/src/units/index.ts';

const argv = process.argv.slice(2);
const arg = (name: string, dflt: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] ? argv[i + 1] : dflt;
};
const repeat = Math.max(1, Math.floor(Number(arg('repeat', '3'))) || 1);
const size = Number(arg('size', '192'));
const caseIds = arg('cases', CASE_IDS.join(','))
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean);
for (const id of caseIds) {
  if (!(CASE_IDS as readonly string[]).includes(id)) {
    process.stderr.write(`bench: unknown case "${id}" in --cases; the cases are ${CASE_IDS.join(', ')}\n`);
    process.exit(2);
  }
}
const root = decodeURIComponent(new URL('..', import.meta.url).pathname);
const node = process.execPath;
const nodeTs = ['--import', 'tsx', '--import', './scripts/wgsl-loader.mjs'];
const log = (m: string) => process.stderr.write(`bench: ${m}\n`);
const md: string[] = [];
const out = (line = '') => {
  console.log(line);
};
/** Prints a table (title, header, rows) and keeps it for --markdown. */
function table(title: string, head: string, align: string, rows: string[], notes: string[] = []) {
  out(`\n${title}`);
  for (const l of [head, align, ...rows]) out(l);
  for (const n of notes) out(n);
  md.push(`### ${title}`, '', head, align, ...rows, '', ...(notes.length ? [...notes, ''] : []));
}
const benchStart = performance.now();

// ---------------------------------------------------------------- 1. LDM + statistics, in-process
interface LdmRow { size: string; backend: string; ldmMs: number; statsMs: number; dvkMs?: number; dvkDetail?: string; structureVoxels: number }
if (!argv.includes('--skip-ldm')) {
  const sizes = arg('ldm-sizes', '128,256');
  log(`LDM + DVK convolution + statistics at ${sizes} in-process (scripts/bench-ldm.ts) ...`);
  const r = spawnSync(node, [...nodeTs, 'scripts/bench-ldm.ts', '--sizes', sizes, '--repeat', '2', '--dvk', '--json'], { cwd: root, encoding: 'utf8', maxBuffer: 1 << 26, stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status !== 0) {
    log(`bench-ldm.ts failed (exit ${r.status})`);
  } else {
    const j = JSON.parse(r.stdout.slice(r.stdout.indexOf('{'))) as {
      device: string | null;
      rows: LdmRow[];
      breakdown: { table: { title: string; head: string; align: string; rows: string[]; notes: string[] } } | null;
    };
    const ms = (x: number | undefined) => (x === undefined ? '-' : x.toFixed(0));
    table(
      `LDM dose, DVK convolution and statistics, in-process (best of 2 after a warm-up, results read back to the host; 4 mm voxels, activity in the whole body; WebGPU adapter: ${j.device || 'none'})`,
      '| grid | back end | LDM [ms] | statistics [ms] | LDM + statistics [ms] | DVK convolution [ms] | structure voxels |',
      '|---|---|---:|---:|---:|---:|---:|',
      j.rows.map((x) => `| ${x.size} | ${x.backend} | ${ms(x.ldmMs)} | ${ms(x.statsMs)} | ${ms(x.ldmMs + x.statsMs)} | ${ms(x.dvkMs)}${x.dvkDetail ? ` (${x.dvkDetail})` : ''} | ${x.structureVoxels} |`),
    );
    // the WebGPU phase breakdown (upload / GPU kernels / read-back / host, device start, first-use compiles)
    const b = j.breakdown?.table;
    if (b) table(b.title, b.head, b.align, b.rows, b.notes);
  }
}

// ---------------------------------------------------------------- 2. whole processes, side by side
const caseBase = join(tmpdir(), 'dosimetry-bench-cases');
const cases: WholeCase[] = [];
for (const id of caseIds) {
  log(`preparing case ${id} ...`);
  cases.push(await prepareCase(caseBase, id as CaseId, log));
}

// what this machine has
const python = '/usr/bin/python3';
function pythonMissing(modules: string): string {
  if (!existsSync(python)) return `${python} is not installed (apt-get install -y python3 python3-numpy python3-nibabel python3-scipy)`;
  const r = spawnSync(python, ['-c', `import ${modules}`], { encoding: 'utf8' });
  if (r.status === 0) return '';
  const last = (r.error?.message ?? (r.stderr ?? '').trim().split('\n').pop()) || 'import failed';
  return `${python} cannot import ${modules} (${last}): apt-get install -y python3-numpy python3-nibabel python3-scipy`;
}
const scriptSkip: Record<'ldm' | 'dvk', string> = { ldm: pythonMissing('numpy, nibabel'), dvk: pythonMissing('numpy, nibabel, scipy') };
for (const m of ['ldm', 'dvk'] as const) if (scriptSkip[m] && cases.some((c) => c.method === m)) log(`${m.toUpperCase()} script rows skipped: ${scriptSkip[m]}`);

interface Adapter { kind: 'hardware' | 'software' | 'none'; description: string; reason?: string }
let adapter: Adapter;
try {
  // learnt in a child process, as `--backend auto` does: Dawn is not opened in this process
  const { probeNodeAdapter } = await import('../packages/dosimetry-core/src/gpu/adapter-probe.ts');
  adapter = probeNodeAdapter();
} catch (err) {
  adapter = { kind: 'none', description: '', reason: `the adapter probe failed (${(err as Error).message})` };
}
const softwareName = /llvmpipe|lavapipe/i.test(adapter.description) ? 'lavapipe' : /swiftshader/i.test(adapter.description) ? 'SwiftShader' : 'software';
const webgpuLabel = adapter.kind === 'software' ? `software adapter: ${softwareName}` : adapter.kind === 'hardware' ? 'hardware adapter' : 'no adapter';
if (adapter.kind === 'none') log(`--backend webgpu rows skipped: ${adapter.reason ?? 'no WebGPU adapter'}`);
// the second engine row: the back end auto does not take for the case (on a hardware adapter auto keeps LDM and small
// DVK grids on the CPU and runs larger DVK grids on the GPU: dose/backend.ts cpuBetterThanGpu)
const { cpuBetterThanGpu } = await import('../packages/dosimetry-core/src/dose/backend.ts');
const { fftThreadCount } = await import('../packages/dosimetry-core/src/convolution/fft-workers.ts');
const otherBackendFor = (c: { method: 'ldm' | 'dvk'; dims: readonly number[] }): 'webgpu' | 'cpu' =>
  adapter.kind === 'hardware' && !cpuBetterThanGpu({ method: c.method, voxels: c.dims[0] * c.dims[1] * c.dims[2] }, fftThreadCount()) ? 'cpu' : 'webgpu';
const otherLabelFor = (c: { method: 'ldm' | 'dvk'; dims: readonly number[] }) =>
  otherBackendFor(c) === 'cpu' ? 'engine: dose --backend cpu' : `engine: dose --backend webgpu (${webgpuLabel})`;

const haveGzip = haveCommand('gzip');
const havePigz = haveCommand('pigz');
const compressor: { label: string; cmd: string; args: string[] } = havePigz
  ? { label: 'pigz -1 -p 2', cmd: 'pigz', args: ['-1', '-p', '2', '-c'] }
  : { label: 'gzip -1', cmd: 'gzip', args: ['-1', '-c'] };
if (!haveGzip) log('I/O floor skipped: gzip is not installed');
else if (!havePigz) log('pigz is not installed: the dose map of the I/O floor is compressed with gzip -1 (one thread)');
if (!haveGnuTime) log('peak RSS not measured: GNU time (/usr/bin/time) is not installed (apt-get install -y time)');

type RowKind = 'script' | 'auto' | 'webgpu' | 'floor';
interface RowState {
  skip?: string; // why the row is not run (before or after a failure)
  best: number;
  bestRssKiB?: number;
  maxRssKiB?: number;
  runs: number;
  means?: Record<string, number>; // structure name -> mean [Gy]
  backend?: string; // engine: the back end report.json names
  fieldGBq?: number;
  scriptTimes?: Record<string, number>; // the script's own phase times of its best run
}
interface FloorState { activity: number; labels: number; dose: number; doseSource?: string }
interface CaseState { c: WholeCase; rows: Record<RowKind, RowState>; floor: FloorState; warnings: Set<string>; doseRaw: string }
const states: CaseState[] = cases.map((c) => ({
  c,
  rows: {
    script: { best: Infinity, runs: 0, skip: scriptSkip[c.method] || undefined },
    auto: { best: Infinity, runs: 0 },
    webgpu: { best: Infinity, runs: 0, skip: adapter.kind === 'none' ? `no WebGPU adapter (${adapter.reason ?? 'none'})` : undefined },
    floor: { best: Infinity, runs: 0, skip: haveGzip ? undefined : 'gzip is not installed' },
  },
  floor: { activity: Infinity, labels: Infinity, dose: Infinity },
  warnings: new Set<string>(),
  doseRaw: join(c.dir, 'floor-dose.nii'),
}));

const cf = NUCLIDES.Y90.ldmJoulePerGBq;
const tauS = meanLifeS('Y90');
function scriptArgs(c: WholeCase): string[] {
  const outPath = join(c.dir, 'dose_script.nii.gz');
  return c.method === 'ldm'
    ? [join(root, 'scripts/bench/ldm_numpy.py'), c.activityPath, c.labelsPath, String(cf), String(c.densityGPerMl), outPath]
    : [join(root, 'scripts/bench/dvk_scipy.py'), c.activityPath, c.labelsPath, c.kernelNpyPath!, String(tauS), outPath];
}

/** The raw (uncompressed) dose map the floor compresses: the engine's dose.nii.gz, unpacked once. */
function keepDoseRaw(s: CaseState, gzPath: string, source: string) {
  if (s.floor.doseSource) return;
  try {
    writeFileSync(s.doseRaw, gunzipSync(readFileSync(gzPath)));
    s.floor.doseSource = source;
  } catch (err) {
    log(`${s.c.id}: could not unpack ${gzPath} for the I/O floor (${(err as Error).message})`);
  }
}

function runRow(s: CaseState, kind: RowKind, round: number) {
  const row = s.rows[kind];
  if (row.skip) return;
  const c = s.c;
  const timed = round > 0;
  const tag = `${round === 0 ? 'warm-up' : `round ${round}/${repeat}`} ${c.id} ${kind}`;
  if (kind === 'floor') {
    try {
      const a = timeToDevNull('gzip', ['-dc', c.activityPath]);
      const l = timeToDevNull('gzip', ['-dc', c.labelsPath]);
      const d = existsSync(s.doseRaw) ? timeToDevNull(compressor.cmd, [...compressor.args, s.doseRaw]) : NaN;
      if (timed) {
        s.floor.activity = Math.min(s.floor.activity, a);
        s.floor.labels = Math.min(s.floor.labels, l);
        if (!Number.isNaN(d)) s.floor.dose = Math.min(s.floor.dose, d);
        row.runs++;
      }
      log(`${tag}: gzip -dc activity ${a.toFixed(2)} s, labels ${l.toFixed(2)} s, ${compressor.label} dose ${Number.isNaN(d) ? '(no dose map yet)' : `${d.toFixed(2)} s`}`);
    } catch (err) {
      row.skip = (err as Error).message;
      log(`${tag}: ${row.skip}`);
    }
    return;
  }
  let r;
  let outDir = '';
  if (kind === 'script') {
    r = runProcess(python, scriptArgs(c), root);
  } else {
    outDir = join(c.dir, `out-${kind}`);
    rmSync(outDir, { recursive: true, force: true }); // a fresh --out folder for every run
    r = runProcess(node, ['scripts/dosimetry.mjs', ...engineDoseArgs(c, outDir, kind === 'webgpu' ? otherBackendFor(c) : undefined)], root);
  }
  if (!r.ok) {
    row.skip = `failed in ${round === 0 ? 'the warm-up' : `round ${round}`}: ${r.error}`;
    log(`${tag}: ${row.skip}`);
    return;
  }
  log(`${tag}: ${r.wallS.toFixed(2)} s${r.peakRssKiB ? `, peak RSS ${((r.peakRssKiB * 1024) / 1e6).toFixed(0)} MB` : ''}`);
  try {
    if (kind === 'script') {
      const j = JSON.parse(r.stdout.trim().split('\n').pop()!) as {
        meanDoseGy?: Record<string, number>;
        structures?: Record<string, { meanGy: number }>;
        timesS?: Record<string, number>;
      };
      const byLabel: Record<string, number> = j.meanDoseGy ?? Object.fromEntries(Object.entries(j.structures ?? {}).map(([k, v]) => [k, v.meanGy]));
      row.means = Object.fromEntries(c.labels.filter(([v]) => byLabel[v] !== undefined).map(([v, name]) => [name, byLabel[v]]));
      if (timed && r.wallS < row.best) row.scriptTimes = j.timesS;
    } else {
      const report = JSON.parse(readFileSync(join(outDir, 'report.json'), 'utf8')) as { backend: string; activityInFieldGBq: number; structures: Array<{ name: string; meanGy: number }> };
      row.backend = report.backend;
      row.fieldGBq = report.activityInFieldGBq;
      row.means = Object.fromEntries(report.structures.map((x) => [x.name, x.meanGy]));
      for (const w of r.stderr.split('\n')) if (w.startsWith('warning:')) s.warnings.add(w.slice(8).trim());
      keepDoseRaw(s, join(outDir, 'dose.nii.gz'), `the engine's dose.nii.gz (${kind})`);
    }
  } catch (err) {
    row.skip = `its output could not be read (${(err as Error).message})`;
    log(`${tag}: ${row.skip}`);
    return;
  }
  if (timed) {
    row.runs++;
    if (r.wallS < row.best) {
      row.best = r.wallS;
      row.bestRssKiB = r.peakRssKiB;
    }
    if (r.peakRssKiB !== undefined) row.maxRssKiB = Math.max(row.maxRssKiB ?? 0, r.peakRssKiB);
  }
}

const kinds: RowKind[] = ['script', 'auto', 'webgpu', 'floor'];
for (let round = 0; round <= repeat; round++) {
  log(round === 0 ? 'warm-up round (kernel cache, shader cache, file cache; untimed) ...' : `timed round ${round}/${repeat} ...`);
  states.forEach((s, ci) => {
    const shift = (round + ci) % kinds.length;
    const order = [...kinds.slice(shift), ...kinds.slice(0, shift)];
    // the floor compresses the engine's dose map: in the warm-up it comes after the first engine run
    if (round === 0) order.sort((a, b) => Number(a === 'floor') - Number(b === 'floor'));
    for (const k of order) runRow(s, k, round);
  });
}
// a dose map for the floor when no engine run succeeded: the script's
for (const s of states) {
  if (!s.floor.doseSource && existsSync(join(s.c.dir, 'dose_script.nii.gz'))) {
    keepDoseRaw(s, join(s.c.dir, 'dose_script.nii.gz'), "the script's dose map (no engine run succeeded)");
    if (s.floor.doseSource && !s.rows.floor.skip) s.floor.dose = Math.min(...Array.from({ length: repeat }, () => timeToDevNull(compressor.cmd, [...compressor.args, s.doseRaw])));
  }
}

// pnpm's own launcher, once, on the first case
let pnpmNote = '';
if (states.length && haveCommand('pnpm')) {
  const s = states[0];
  const outDir = join(s.c.dir, 'out-pnpm');
  rmSync(outDir, { recursive: true, force: true });
  log(`pnpm -s dosimetry dose (${s.c.id}, default back end), once ...`);
  const r = runProcess('pnpm', ['-s', 'dosimetry', ...engineDoseArgs(s.c, outDir)], root);
  const eng = s.rows.auto.best;
  if (r.ok && Number.isFinite(eng)) pnpmNote = `\`pnpm -s dosimetry dose ...\` (${s.c.id}, default back end, 1 run): ${r.wallS.toFixed(2)} s, i.e. pnpm's own launcher adds ~${(r.wallS - eng).toFixed(2)} s to the engine's ${eng.toFixed(2)} s.`;
  else if (!r.ok) pnpmNote = `\`pnpm -s dosimetry dose ...\` failed: ${r.error}`;
}

// the table
const f2 = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : '-');
const mb = (kib?: number) => (kib === undefined ? '-' : ((kib * 1024) / 1e6).toFixed(0));
const floorTotal = (s: CaseState) => {
  const f = s.floor;
  const t = f.activity + f.labels + (Number.isFinite(f.dose) ? f.dose : 0);
  return s.rows.floor.skip || !Number.isFinite(t) ? NaN : t;
};
const scriptName = (c: WholeCase) => (c.method === 'ldm' ? 'script: ldm_numpy.py (nibabel + numpy)' : 'script: dvk_scipy.py (nibabel + scipy fftconvolve)');
const rowsOut: string[] = [];
const legend: string[] = [];
const agreement: string[] = [];
for (const s of states) {
  const c = s.c;
  const f32Bytes = 4 * c.dims[0] * c.dims[1] * c.dims[2];
  const inputMb = (p: string) => (statSync(p).size / 1e6).toFixed(1);
  const field = s.rows.auto.fieldGBq ?? s.rows.webgpu.fieldGBq ?? c.fieldGBq;
  legend.push(
    `- **${c.id}**: ${c.description}; ${field.toFixed(2)} GBq in the field, ${(100 * c.negativeVoxelFraction).toFixed(1)} % negative voxels; float32 activity ${(f32Bytes / 1e6).toFixed(1)} MB, files activity.nii.gz ${inputMb(c.activityPath)} MB + labels.nii.gz ${inputMb(c.labelsPath)} MB.`,
  );
  const py = s.rows.script.skip ? NaN : s.rows.script.best;
  const floor = floorTotal(s);
  const ratio = (t: number, ref: number) => (Number.isFinite(t) && Number.isFinite(ref) && ref > 0 ? (t / ref).toFixed(2) : '-');
  const procRow = (label: string, row: RowState) => {
    if (row.skip) return `| ${c.id} | ${label} | not run: ${row.skip.replace(/\|/g, '/')} | - | - | - | - |`;
    const rss = row.bestRssKiB ?? row.maxRssKiB;
    return `| ${c.id} | ${label} | ${f2(row.best)} | ${ratio(row.best, py)} | ${mb(rss)} | ${rss === undefined ? '-' : ((rss * 1024) / f32Bytes).toFixed(1)} | ${ratio(row.best, floor)} |`;
  };
  rowsOut.push(procRow(scriptName(c), s.rows.script));
  rowsOut.push(procRow(`engine: dose, default back end (auto → ${s.rows.auto.backend ?? '?'})`, s.rows.auto));
  rowsOut.push(procRow(otherLabelFor(c), s.rows.webgpu));
  if (s.rows.floor.skip) rowsOut.push(`| ${c.id} | I/O floor | not run: ${s.rows.floor.skip} | - | - | - | - |`);
  else {
    const f = s.floor;
    const parts = `gzip -dc activity ${f2(f.activity)} + gzip -dc labels ${f2(f.labels)} + ${compressor.label} dose map ${Number.isFinite(f.dose) ? f2(f.dose) : '(none)'}`;
    rowsOut.push(`| ${c.id} | I/O floor: ${parts} | ${f2(floor)} | ${ratio(floor, py)} | - | - | 1.00 |`);
  }
  // agreement of the structure means
  const ref = s.rows.script.means;
  if (!ref) agreement.push(`- ${c.id}: no script means (${s.rows.script.skip ?? 'not run'})`);
  else {
    const parts: string[] = [];
    for (const k of ['auto', 'webgpu'] as const) {
      const m = s.rows[k].means;
      if (!m) continue;
      let worst = 0;
      let missing = 0;
      for (const [name, v] of Object.entries(ref)) {
        if (m[name] === undefined) missing++;
        else worst = Math.max(worst, Math.abs(m[name] - v) / Math.abs(v));
      }
      parts.push(`${k === 'auto' ? `default (${s.rows.auto.backend})` : otherBackendFor(c)} ${worst.toExponential(1)}${missing ? ` (${missing} structures missing from report.json)` : ''}`);
    }
    agreement.push(`- ${c.id}: structure means, engine (report.json) against the script, max relative difference over ${Object.keys(ref).length} structures: ${parts.join('; ') || 'no engine run'}`);
  }
}
const adapterText = adapter.kind === 'none' ? 'none' : `${adapter.description} (${adapter.kind === 'software' ? 'a software renderer on the CPU cores' : 'hardware'})`;
const wholeTitle = `Whole processes in the same session, best of ${repeat} after a warm-up, rows interleaved (${statsLine()})`;
function statsLine() {
  return `WebGPU adapter: ${adapterText}; peak RSS: ${haveGnuTime ? "GNU time '%M'" : 'not measured (no /usr/bin/time)'}; I/O floor's dose map compressed with ${compressor.label}${havePigz ? '' : ' (pigz not installed)'}`;
}
const notes = [
  '',
  ...legend,
  '',
  '× script: wall time over the script\'s; RSS / f32 activity: peak RSS over the size of the activity image as float32; × I/O floor: wall time over the floor, the gzip work the job cannot avoid (command-line tools on the same files, this run).',
  ...agreement,
  ...(pnpmNote ? [`- ${pnpmNote}`] : []),
];
const warnLines = states.flatMap((s) => [...s.warnings].map((w) => `- ${s.c.id}: engine warning: ${w}`));
table(wholeTitle, '| case | process | wall [s] | × script | peak RSS [MB] | RSS / f32 activity | × I/O floor |', '|---|---|---:|---:|---:|---:|---:|', rowsOut, [...notes, ...warnLines]);

// ---------------------------------------------------------------- 3. phases of dose --method dvk, in-process
if (!argv.includes('--skip-phases')) {
  try {
    await phases();
  } catch (err) {
    log(`phases of dose --method dvk not measured: ${(err as Error).stack ?? err}`);
  }
}

async function phases() {
  log(`phases of dose --method dvk on the ${size}^3 case, in-process ...`);
  const c: DvkBenchCase = await prepareDvkCase(join(caseBase, `dvk${size}`), size);
  const backends = adapter.kind === 'none' ? (['cpu'] as const) : (['cpu', 'webgpu'] as const);
  const timedRun = (args: string[]) => {
    const r = runProcess(node, args, root);
    if (!r.ok) throw new Error(`${args.join(' ')}: ${r.error}`);
    return r.wallS;
  };
  const { parseArgs } = await import('../packages/dosimetry-core/src/cli/args.ts');
  const dose = await import('../packages/dosimetry-core/src/cli/commands/dose.ts');
  const { computeDoseCase } = await import('../packages/dosimetry-core/src/dose/pipeline.ts');
  const { buildReport } = await import('../packages/dosimetry-core/src/dose/report.ts');
  const { writeFilesAtomic } = await import('../packages/dosimetry-core/src/io/atomic.ts');
  const { voxelKernel } = await import('../packages/dosimetry-core/src/kernel/index.ts');
  const startup = Math.min(...Array.from({ length: 2 }, () => timedRun(['scripts/dosimetry.mjs', 'dose', '--help'])));
  const phaseMs: Record<string, Record<string, number>> = {};
  // Two passes, the first untimed: it starts what a CLI process starts anyway (the FFT worker threads, which under
  // tsx also transpile their module, and the GPU pipelines), so that the phases compare with the whole-process rows.
  for (const [pass, b] of [...backends.map((x) => [0, x] as const), ...backends.map((x) => [1, x] as const)]) {
    const ms: Record<string, number> = {};
    let t = performance.now();
    const lap = (name: string) => {
      const now = performance.now();
      ms[name] = now - t;
      t = now;
    };
    const outDir = join(c.dir, `inproc_${b}`);
    rmSync(outDir, { recursive: true, force: true });
    const a = parseArgs(dvkCliArgs(c, b, outDir).slice(1), dose.DOSE_OPTIONS, 'dose'); // without the command name
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
    const files = await dose.caseOutputs(outDir, result, report, false);
    lap('encode outputs (gzip)');
    writeFilesAtomic(files);
    lap('write files');
    if (pass === 1) phaseMs[b] = ms;
  }
  const r2 = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : '-');
  // the script's own phase times, from its best whole-process run on the same case
  const pyPhases = states.find((s) => s.c.id === `dvk${size}`)?.rows.script.scriptTimes ?? {};
  const names = ['node startup + CLI bundle (dose --help)', ...Object.keys(phaseMs[backends[0]])];
  const pyOf: Record<string, string> = {
    'node startup + CLI bundle (dose --help)': 'import',
    'read inputs': 'read',
    'dose (kernel + convolution)': 'convolve',
    statistics: 'means',
    'encode outputs (gzip)': 'write',
  };
  const rows = names.map((n) => {
    const cells = backends.map((b) => r2((n.startsWith('node') ? startup * 1000 : phaseMs[b][n]) / 1000));
    const p = pyOf[n] && pyPhases[pyOf[n]] !== undefined ? r2(pyPhases[pyOf[n]]) : '';
    return `| ${n} | ${cells.join(' | ')} | ${p} |`;
  });
  table(
    `Phases of \`dose --method dvk\` on the ${size}^3 sparse case (in-process, same functions as the CLI; script: dvk_scipy.py's own phase times, its write includes the gzip)`,
    `| phase | ${backends.map((b) => `engine ${b} [s]`).join(' | ')} | script [s] |`,
    `|---|${backends.map(() => '---:').join('|')}|---:|`,
    rows,
  );
}

// ---------------------------------------------------------------- 4. Monte Carlo (issue 13)
if (!argv.includes('--skip-mc')) {
  try {
    monteCarlo();
  } catch (err) {
    log(`Monte Carlo not measured: ${(err as Error).stack ?? err}`);
  }
}

/**
 * `dose --method mc --mc-target-uncertainty P` (P = --mc-target, default 2 %) on the DVK cases, on the default back
 * end and on WebGPU: histories needed, histories per second, wall time, and the ratio to the DVK process on the same
 * case (its best time above). One run each (a target run is long; its history count is deterministic for the seed).
 */
function monteCarlo() {
  const target = arg('mc-target', '2');
  const mcBackends = arg('mc-backends', 'auto,webgpu')
    .split(',')
    .map((x) => x.trim())
    .filter((x): x is 'auto' | 'webgpu' | 'cpu' => x === 'auto' || x === 'webgpu' || x === 'cpu');
  const mcStates = states.filter((st) => st.c.method === 'dvk');
  if (mcStates.length === 0) {
    log('Monte Carlo: no DVK case in --cases; skipped');
    return;
  }
  const rows: string[] = [];
  for (const st of mcStates) {
    const c = st.c;
    const dvkS = st.rows.auto.best;
    for (const b of mcBackends) {
      if (b === 'webgpu' && adapter.kind === 'none') continue;
      if (b === 'webgpu' && adapter.kind === 'hardware' && mcBackends.includes('auto')) continue; // auto is WebGPU there
      const outDir = join(c.dir, `out-mc-${b}`);
      rmSync(outDir, { recursive: true, force: true });
      const args = ['scripts/dosimetry.mjs', ...engineDoseArgs({ ...c, method: 'mc' } as unknown as WholeCase, outDir, b === 'auto' ? undefined : b), '--mc-target-uncertainty', target];
      log(`Monte Carlo ${c.id} ${b}: dose --method mc --mc-target-uncertainty ${target} ...`);
      const r = runProcess(node, args, root, 3600);
      if (!r.ok) {
        rows.push(`| ${c.id} | ${b} | failed: ${(r.error ?? '').replace(/\|/g, '/')} | - | - | - | - | - | - |`);
        continue;
      }
      const rep = JSON.parse(readFileSync(join(outDir, 'report.json'), 'utf8')) as {
        backend: string;
        mc: { histories: number; batches: number };
        structures: Array<{ name: string; volumeMl: number; meanGyRelStdErr?: number }>;
      };
      const tumours = rep.structures.filter((x) => c.tumours.includes(x.name));
      const largest = tumours.reduce<(typeof tumours)[number] | undefined>((p, q) => (!p || q.volumeMl > p.volumeMl ? q : p), undefined);
      const hps = /(\d+) histories\/s/.exec(r.stdout)?.[1];
      const worst = Math.max(...rep.structures.filter((x) => x.volumeMl >= 10).map((x) => x.meanGyRelStdErr ?? 0));
      log(`Monte Carlo ${c.id} ${b}: ${r.wallS.toFixed(1)} s, ${rep.mc.histories} histories`);
      rows.push(
        `| ${c.id} | ${b === 'auto' ? `default (auto → ${rep.backend})` : b === 'cpu' ? 'cpu' : `webgpu (${webgpuLabel})`} | ${rep.mc.histories} in ${rep.mc.batches} batches | ${hps ?? '-'} | ${(100 * worst).toFixed(2)} % | ${largest ? `${largest.name} (${largest.volumeMl.toFixed(0)} mL) ${(100 * (largest.meanGyRelStdErr ?? NaN)).toFixed(2)} %` : '-'} | ${r.wallS.toFixed(1)} | ${Number.isFinite(dvkS) ? dvkS.toFixed(2) : '-'} | ${Number.isFinite(dvkS) ? (r.wallS / dvkS).toFixed(1) : '-'} |`,
      );
    }
  }
  table(
    `Monte Carlo: \`dose --method mc --mc-target-uncertainty ${target}\` (every structure of 10 mL or more below ${target} %), whole processes, one run each, against the DVK process on the same case (default back end, best time above)`,
    '| case | back end | histories | histories/s | worst structure rel. SE | largest tumour rel. SE | wall [s] | DVK [s] | MC / DVK |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|',
    rows,
  );
}

const mdPath = arg('markdown', '');
if (mdPath) {
  writeFileSync(mdPath, md.join('\n') + '\n');
  log(`wrote ${mdPath}`);
}
log(`done in ${((performance.now() - benchStart) / 1000).toFixed(0)} s`);
process.exit(0);
