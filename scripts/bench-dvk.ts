/**
 * DVK benchmark: the engine's dose-kernel convolution (CPU FFT and WebGPU) against a Python/scipy script doing the
 * same job (scripts/bench/dvk_scipy.py: read NIfTI, scipy.signal.fftconvolve, per-structure means, write NIfTI),
 * on a 192^3 grid of 2.21 mm voxels, on this machine in this session.
 *
 * usage: node --import tsx scripts/bench-dvk.ts [--case-dir DIR] [--size 192] [--repeat 2] [--no-cli]
 * Needs Debian's /usr/bin/python3 with python3-scipy and python3-nibabel (apt-get install -y python3-scipy python3-nibabel).
 * Timed: (a) the whole Python process; (b) in-process read + convolve + means + write with the engine's own
 * NIfTI reader/writer and convolveCpu / convolveGpu; (c) the whole `dosimetry dose --method dvk` CLI process when it
 * runs end to end. Best of --repeat runs each (the machine is shared).
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { readNifti, encodeNifti } from '../packages/dosimetry-core/src/io/index.ts';
import { makeVolume } from '../packages/dosimetry-core/src/volume/volume.ts';
import { prepareDvkCase } from './bench/dvk-case.ts';
import { voxelVolumeMl } from '../packages/dosimetry-core/src/volume/geometry.ts';
import { meanLifeS } from '../packages/dosimetry-core/src/units/index.ts';
import { convolveCpu, convolveGpuDetailed } from '../packages/dosimetry-core/src/convolution/index.ts';
import { acquireGpu, gpuUnavailableReason } from '../packages/dosimetry-core/src/gpu/device.ts';

const argv = process.argv.slice(2);
const arg = (name: string, dflt: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : dflt;
};
const size = Number(arg('size', '192'));
const repeat = Number(arg('repeat', '2'));
const caseDir = arg('case-dir', join(tmpdir(), `dosimetry-bench-dvk-${size}`));
const voxelMm = 2.21;
const python = '/usr/bin/python3';
const root = new URL('..', import.meta.url).pathname;

// the case and the kernel: shared with scripts/bench.ts (scripts/bench/dvk-case.ts)
const benchCase = await prepareDvkCase(caseDir, size);
const { activityPath: actPath, labelsPath: labPath, kernelNpyPath: kerPath, kernel } = benchCase;
const tauS = meanLifeS('Y90');

// --- (a) Python / scipy, whole process
function runPython() {
  const t0 = performance.now();
  const r = spawnSync(python, [join(root, 'scripts/bench/dvk_scipy.py'), actPath, labPath, kerPath, String(tauS), join(caseDir, 'dose_scipy.nii.gz')], { encoding: 'utf8' });
  const wallS = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`python failed: ${r.stderr}`);
  return { wallS, out: JSON.parse(r.stdout.trim().split('\n').pop()!) as { meanDoseGy: Record<string, number>; timesS: Record<string, number> } };
}

// --- (b) the engine in-process: read + convolve + means + write
async function runEngine(backend: 'cpu' | 'webgpu') {
  const t0 = performance.now();
  const act = readNifti(actPath).volume;
  const lab = readNifti(labPath).volume;
  const a = act.data as Float32Array;
  const vMl = voxelVolumeMl(act.geometry);
  const decays = new Float32Array(a.length);
  for (let i = 0; i < a.length; i++) decays[i] = a[i] * vMl * tauS;
  const t1 = performance.now();
  const opts = { volume: decays, dims: [...act.geometry.dims] as [number, number, number], kernel: kernel.values, kernelRadius: kernel.radius };
  let method = 'fft (CPU)';
  let dose: Float32Array;
  if (backend === 'cpu') dose = convolveCpu(opts);
  else {
    const ctx = await acquireGpu();
    if (!ctx) throw new Error(gpuUnavailableReason());
    const g = await convolveGpuDetailed(ctx, opts);
    dose = g.values;
    method = `${g.method} (WebGPU, ${g.slabs} slabs, padded ${g.paddedDims?.join('x') ?? '-'})`;
  }
  const t2 = performance.now();
  const sums = new Map<number, [number, number]>();
  const l = lab.data;
  for (let i = 0; i < dose.length; i++) {
    const k = Number(l[i]);
    if (k === 0) continue;
    const s = sums.get(k) ?? [0, 0];
    s[0] += dose[i];
    s[1]++;
    sums.set(k, s);
  }
  const means: Record<string, number> = {};
  for (const [k, [s, c]] of [...sums].sort((p, q) => p[0] - q[0])) means[k] = s / c;
  const t3 = performance.now();
  writeFileSync(join(caseDir, `dose_${backend}.nii.gz`), encodeNifti(makeVolume(act.geometry, dose), { description: 'absorbed dose [Gy]' }));
  const t4 = performance.now();
  return { wallS: (t4 - t0) / 1000, method, means, phasesS: { read: (t1 - t0) / 1000, convolve: (t2 - t1) / 1000, means: (t3 - t2) / 1000, write: (t4 - t3) / 1000 } };
}

// --- (c) the CLI, whole process, when `dose --method dvk` runs end to end
function runCli(backend: 'cpu' | 'webgpu') {
  const t0 = performance.now();
  const r = spawnSync(
    'pnpm',
    ['-s', 'dosimetry', 'dose', '--activity', actPath, '--activity-unit', 'bq-per-ml', '--scan-delay-h', '0', '--segmentation', labPath, '--labels', '1=Liver,2=Tumor A,3=Tumor B',
      '--liver', 'Liver', '--tumor', 'Tumor A', '--tumor', 'Tumor B', '--isotope', 'Y90', '--method', 'dvk', '--density', '1.04', '--backend', backend,
      '--out', join(caseDir, `cli_${backend}`), '--json'],
    { cwd: root, encoding: 'utf8' },
  );
  const wallS = (performance.now() - t0) / 1000;
  return r.status === 0 ? { wallS, error: '' } : { wallS, error: (r.stderr.trim().split('\n').pop() ?? `exit ${r.status}`).slice(0, 160) };
}

const best = <T extends { wallS: number }>(runs: T[]) => runs.reduce((p, q) => (q.wallS < p.wallS ? q : p));
const py = best(Array.from({ length: repeat }, runPython));
const cpu: Awaited<ReturnType<typeof runEngine>>[] = [];
const gpu: Awaited<ReturnType<typeof runEngine>>[] = [];
for (let i = 0; i < repeat; i++) cpu.push(await runEngine('cpu'));
const haveGpu = !!(await acquireGpu());
if (haveGpu) for (let i = 0; i < repeat; i++) gpu.push(await runEngine('webgpu'));
const cli = argv.includes('--no-cli') ? [] : (['cpu', 'webgpu'] as const).map((b) => ({ backend: b, ...runCli(b) }));

const rows: Array<[string, number, string]> = [[`Python scipy script (whole process)`, py.wallS, `import ${py.out.timesS.import.toFixed(2)} s, read ${py.out.timesS.read.toFixed(2)}, fftconvolve ${py.out.timesS.convolve.toFixed(2)}, means ${py.out.timesS.means.toFixed(2)}, write ${py.out.timesS.write.toFixed(2)}`]];
for (const [name, runs] of [['engine CPU, in-process', cpu], ['engine WebGPU, in-process', gpu]] as const) {
  if (!runs.length) continue;
  const b = best(runs);
  const p = b.phasesS;
  rows.push([name, b.wallS, `read ${p.read.toFixed(2)} s, convolve ${p.convolve.toFixed(2)} [${b.method}], means ${p.means.toFixed(2)}, write ${p.write.toFixed(2)}`]);
}
for (const c of cli) rows.push([`CLI dose --method dvk --backend ${c.backend} (whole process)`, c.error ? NaN : c.wallS, c.error ? `did not run end to end: ${c.error}` : '']);

console.log(`\nDVK benchmark: ${size}^3 voxels of ${voxelMm} mm, Y90 kernel radius [${kernel.radius.join(', ')}], best of ${repeat}; case in ${caseDir}`);
console.log(`${'path'.padEnd(52)} ${'wall [s]'.padStart(9)} ${'ratio'.padStart(6)}  detail`);
for (const [name, t, detail] of rows) console.log(`${name.padEnd(52)} ${Number.isNaN(t) ? '-'.padStart(9) : t.toFixed(2).padStart(9)} ${Number.isNaN(t) ? '-'.padStart(6) : (t / py.wallS).toFixed(2).padStart(6)}  ${detail}`);
if (!haveGpu) console.log(`WebGPU not measured: ${gpuUnavailableReason()}`);
// agreement of the structure means with scipy (both f32 output of an FFT convolution: ~1e-6 relative)
for (const [name, runs] of [['CPU', cpu], ['WebGPU', gpu]] as const) {
  if (!runs.length) continue;
  const m = runs[0].means;
  const worst = Math.max(...Object.entries(py.out.meanDoseGy).map(([k, v]) => Math.abs(m[k] - v) / Math.abs(v)));
  console.log(`${name} structure means vs scipy: max relative difference ${worst.toExponential(2)} (means [Gy]: ${Object.values(m).map((v) => v.toFixed(2)).join(', ')})`);
}
process.exit(0);
