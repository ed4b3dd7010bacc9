/**
 * Benchmark: LDM dose + per-structure statistics (and with --dvk the DVK convolution) on the CPU and WebGPU back ends,
 * for synthetic volumes of 4 mm voxels (noisy PET-like activity with negative voxels and activity in the whole body,
 * CT-like density map, 5 structures: liver ellipsoid, three tumour spheres, a lung slab). Sizes are cubes (`256`) or
 * NxMxK grids (`512x512x400`). Prints a table of wall-clock times (best of `--repeat`, after one warm-up run).
 * The DVK column is the convolution of the activity with the engine's 90Y kernel (4 mm, 1.04 g/mL) as `dose --method
 * dvk` runs it: CPU FFT on worker threads (convolveCpuAsync), WebGPU convolveGpu; results read back to the host.
 *
 * WebGPU breakdown (second table; --no-breakdown skips it): each operation again on a device of its own with the
 * 'timestamp-query' feature when the adapter offers it, with a phase recorder (src/gpu/phases.ts) that waits for
 * the queue between the phases, so that upload, GPU kernels, read-back and the other host work add up to the wall
 * time of the call. GPU kernel time: the compute passes' timestamps (end - begin, summed), or without the feature
 * (or with --no-timestamps) the host clock from the kernels' submit until the queue is idle. Also printed: the
 * device start (loading the WebGPU implementation, requestAdapter, requestDevice) and the pipeline compile time of
 * each operation's first call.
 *
 *   node --import tsx --import ./scripts/wgsl-loader.mjs scripts/bench-ldm.ts [--sizes 128,256,512x512x400] [--repeat 2] [--dvk]
 *     [--no-breakdown] [--no-timestamps] [--json]
 */
import { ldmDoseCpu } from '../packages/dosimetry-core/src/cpu/ldm.ts';
import {
  acquireGpu,
  createGpuContext,
  gpuUnavailableReason,
  GpuPhaseTimer,
  ldmDoseGpu,
  structureStatsGpu,
  type GpuContext,
  type GpuPhaseRecorder,
  type GpuPhaseTimes,
} from '../packages/dosimetry-core/src/gpu/index.ts';
import { structureStatsCpu, type StructureStatsOptions } from '../packages/dosimetry-core/src/stats/index.ts';
import type { GridStructure } from '../packages/dosimetry-core/src/volume/structure.ts';
import { voxelKernel } from '../packages/dosimetry-core/src/kernel/index.ts';
import { convolveGpuDetailed } from '../packages/dosimetry-core/src/convolution/index.ts';
import { convolveCpuAsync, fftThreadCount } from '../packages/dosimetry-core/src/convolution/fft-workers.ts';

if (process.argv.includes('--help')) {
  console.log(
    'usage: bench-ldm.ts [--sizes 128,256,512x512x400] [--repeat 2] [--dvk] [--no-breakdown] [--no-timestamps] [--json]\n' +
      '  --sizes          grids: N (a cube) or NxMxK, comma-separated (default 128,256)\n' +
      '  --repeat         timed runs per cell, best kept, after one warm-up (default 2)\n' +
      '  --dvk            also the DVK convolution (90Y kernel, 4 mm)\n' +
      '  --no-breakdown   skip the WebGPU phase breakdown (upload / GPU / read-back / host) and device start\n' +
      '  --no-timestamps  breakdown: time the kernels by submit-to-done even where timestamp-query exists\n' +
      '  --json           one JSON object instead of the tables',
  );
  process.exit(0);
}

function arg(name: string, fallback: string): string {
  const k = process.argv.indexOf(`--${name}`);
  return k >= 0 && process.argv[k + 1] ? process.argv[k + 1] : fallback;
}

/** Grid of a --sizes entry: `256` (a cube) or `512x512x400`. */
function parseSize(text: string): [number, number, number] {
  const parts = text.split('x').map(Number);
  const d = parts.length === 1 ? [parts[0], parts[0], parts[0]] : parts;
  if (d.length !== 3 || !d.every((x) => Number.isInteger(x) && x >= 8)) {
    console.error(`bench-ldm: --sizes entry "${text}" is not N or NxMxK with integers >= 8`);
    process.exit(2);
  }
  return d as [number, number, number];
}

/** Synthetic case on a grid of 4 mm voxels. */
function syntheticCase([nx, ny, nz]: [number, number, number]) {
  const total = nx * ny * nz;
  let seed = 12345;
  const rand = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 4294967296);
  const activity = new Float32Array(total);
  const density = new Float32Array(total);
  const members: number[][] = [[], [], [], [], []];
  const weights: number[][] = [[], [], [], [], []];
  const tumours = [
    [0.45, 0.5, 0.5, 0.08],
    [0.6, 0.4, 0.55, 0.05],
    [0.55, 0.6, 0.4, 0.03],
  ];
  for (let k = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      for (let i = 0; i < nx; i++) {
        const x = (i + 0.5) / nx;
        const y = (j + 0.5) / ny;
        const z = (k + 0.5) / nz;
        const v = i + nx * (j + ny * k);
        const liver = ((x - 0.5) / 0.3) ** 2 + ((y - 0.5) / 0.22) ** 2 + ((z - 0.5) / 0.2) ** 2 <= 1;
        const lung = z > 0.78 && z < 0.95 && Math.abs(x - 0.5) < 0.35;
        const body = ((x - 0.5) / 0.45) ** 2 + ((y - 0.5) / 0.4) ** 2 <= 1;
        density[v] = !body ? -0.024 : lung ? 0.25 + 0.1 * rand() : 0.95 + 0.15 * rand();
        let a = body ? 5e4 * rand() : 0;
        if (liver) {
          a = 4e5 * (0.5 + rand());
          members[0].push(v);
          weights[0].push(rand() < 0.1 ? 0.5 : 1);
        }
        tumours.forEach(([cx, cy, cz, r], t) => {
          if ((x - cx) ** 2 + (y - cy) ** 2 + (z - cz) ** 2 <= r * r) {
            a = 3e6 * (0.5 + rand());
            members[1 + t].push(v);
            weights[1 + t].push(1);
          }
        });
        if (lung) {
          members[4].push(v);
          weights[4].push(1);
        }
        activity[v] = body && rand() < 0.05 ? -2e4 * rand() : a;
      }
    }
  }
  const names = ['liver', 'tumour 1', 'tumour 2', 'tumour 3', 'lung'];
  const structures: GridStructure[] = names.map((name, s) => ({
    name,
    origin: 'synthetic',
    voxelIndices: Uint32Array.from(members[s]),
    weights: Float32Array.from(weights[s]),
  }));
  return { activity, density, structures, voxelVolumeMl: 0.064 };
}

async function best(repeat: number, f: () => Promise<unknown>): Promise<number> {
  await f(); // warm-up: pipeline compilation, JIT
  let t = Infinity;
  for (let r = 0; r < repeat; r++) {
    const t0 = performance.now();
    await f();
    t = Math.min(t, performance.now() - t0);
  }
  return t;
}

/** One operation's phases on the bench device: its first call (with pipeline compiles) and the fastest timed call. */
interface PhaseRow { size: string; op: 'LDM' | 'statistics' | 'DVK'; first: GpuPhaseTimes; best: GpuPhaseTimes; detail?: string }

/** A warm-up call (first use: compiles), then `repeat` recorded calls; the one with the shortest wall time is kept. */
async function phased(timer: GpuPhaseTimer, repeat: number, f: (phases: GpuPhaseRecorder) => Promise<unknown>) {
  timer.start();
  await f(timer);
  const first = await timer.stop();
  let best: GpuPhaseTimes | undefined;
  for (let r = 0; r < Math.max(1, repeat); r++) {
    timer.start();
    await f(timer);
    const t = await timer.stop();
    if (!best || t.wallMs < best.wallMs) best = t;
  }
  return { first, best: best! };
}

const sizes = arg('sizes', '128,256').split(',').map((t) => t.trim()).filter(Boolean);
const repeat = Number(arg('repeat', '2'));
const withDvk = process.argv.includes('--dvk');
const withBreakdown = !process.argv.includes('--no-breakdown');
// The breakdown's device is made first, so that its start is the process's cold start (Dawn and Vulkan loaded).
const deviceStartMs: Record<string, number> = {};
let benchCtx: GpuContext | undefined;
let timer: GpuPhaseTimer | undefined;
if (withBreakdown) {
  const t0 = performance.now();
  benchCtx = await createGpuContext({ optionalFeatures: ['timestamp-query'], onStep: (step, ms) => (deviceStartMs[step] = ms) });
  deviceStartMs.total = performance.now() - t0;
  if (benchCtx) timer = new GpuPhaseTimer(benchCtx.device, { timestamps: !process.argv.includes('--no-timestamps') });
}
const tShared = performance.now();
const ctx = await acquireGpu();
const sharedAcquireMs = performance.now() - tShared;
if (!ctx) console.error(`WebGPU back end skipped: ${gpuUnavailableReason()}`);
const phaseRows: PhaseRow[] = [];
interface Row { size: string; backend: string; ldmMs: number; statsMs: number; dvkMs?: number; dvkDetail?: string; structureVoxels: number }
const rows: Row[] = [];
for (const text of sizes) {
  const dims = parseSize(text);
  const c = syntheticCase(dims);
  const structureVoxels = c.structures.reduce((s, x) => s + x.voxelIndices.length, 0);
  const ldmOpts = { activityBqPerMl: c.activity, densityGPerMl: c.density, ldmJoulePerGBq: 49.67 };
  const dose = ldmDoseCpu(ldmOpts);
  const statsOpts: StructureStatsOptions = { doseGy: dose, activityBqPerMl: c.activity, densityGPerMl: c.density, voxelVolumeMl: c.voxelVolumeMl, structures: c.structures };
  const size = dims[0] === dims[1] && dims[1] === dims[2] ? `${dims[0]}^3` : dims.join('x');
  // the DVK convolution as dose --method dvk runs it (src/dose/dvk.ts): the 90Y kernel of the grid's voxels
  const conv = withDvk
    ? {
        opts: await (async () => {
          const kernel = await voxelKernel({ isotope: 'Y90', voxelMm: [4, 4, 4], densityGPerMl: 1.04 });
          return { volume: c.activity, dims, kernel: kernel.values, kernelRadius: kernel.radius };
        })(),
      }
    : undefined;
  const cpuRow: Row = {
    size,
    backend: 'cpu',
    ldmMs: await best(repeat, async () => ldmDoseCpu(ldmOpts)),
    statsMs: await best(repeat, async () => structureStatsCpu(statsOpts)),
    structureVoxels,
  };
  if (conv) {
    cpuRow.dvkMs = await best(repeat, () => convolveCpuAsync(conv.opts));
    cpuRow.dvkDetail = `FFT, ${fftThreadCount()} threads`;
  }
  rows.push(cpuRow);
  if (ctx) {
    const gpuRow: Row = {
      size,
      backend: 'webgpu',
      ldmMs: await best(repeat, () => ldmDoseGpu(ctx, ldmOpts)),
      statsMs: await best(repeat, () => structureStatsGpu(ctx, statsOpts)),
      structureVoxels,
    };
    if (conv) {
      let detail = '';
      gpuRow.dvkMs = await best(repeat, async () => {
        const g = await convolveGpuDetailed(conv.opts);
        detail = `${g.method}, ${g.slabs} slab${g.slabs === 1 ? '' : 's'}`;
      });
      gpuRow.dvkDetail = detail;
    }
    rows.push(gpuRow);
  }
  if (benchCtx && timer) {
    const bc = benchCtx;
    const t = timer;
    phaseRows.push({ size, op: 'LDM', ...(await phased(t, repeat, (phases) => ldmDoseGpu(bc, { ...ldmOpts, phases }))) });
    phaseRows.push({ size, op: 'statistics', ...(await phased(t, repeat, (phases) => structureStatsGpu(bc, { ...statsOpts, phases }))) });
    if (conv) {
      let detail = '';
      const r = await phased(t, repeat, async (phases) => {
        const g = await convolveGpuDetailed(bc, { ...conv.opts, phases });
        detail = `${g.method}${g.fftLayout ? ` ${g.fftLayout}` : ''}, ${g.slabs} slab${g.slabs === 1 ? '' : 's'}`;
      });
      phaseRows.push({ size, op: 'DVK', ...r, detail });
    }
  }
}
const gpuMethod = timer?.timestamps ? 'timestamps' : 'submit-to-done';
/** GPU kernel time of a recorded call [ms]: timestamps when on, else submit-to-done. */
const gpuMs = (t: GpuPhaseTimes) => t.gpuTimestampMs ?? t.kernelMs;
/** Breakdown cells; host = wall - upload - GPU - read-back (also compiles, and with timestamps the submit/wait overhead). */
const breakdown = phaseRows.map((r) => {
  const b = r.best;
  return {
    size: r.size,
    op: r.op,
    detail: r.detail,
    wallMs: b.wallMs,
    uploadMs: b.uploadMs,
    gpuMs: gpuMs(b),
    readbackMs: b.readbackMs,
    hostMs: b.wallMs - b.uploadMs - gpuMs(b) - b.readbackMs,
    kernelSubmitToDoneMs: b.kernelMs,
    passes: b.passes,
    firstCallWallMs: r.first.wallMs,
    firstCallCompileMs: r.first.compileMs,
  };
});
const device = benchCtx
  ? {
      adapter: benchCtx.adapterDescription,
      gpuMethod,
      startMs: deviceStartMs,
      sharedAcquireMs,
    }
  : null;
if (process.argv.includes('--json')) {
  const table = device ? breakdownTable(device, breakdown) : undefined;
  console.log(JSON.stringify({ device: ctx?.adapterDescription ?? null, rows, breakdown: device ? { ...device, rows: breakdown, table } : null }, null, 2));
} else {
  console.log(`WebGPU adapter: ${ctx ? ctx.adapterDescription || ctx.source : 'none'}`);
  console.log('size         backend  LDM ms   stats ms  total ms  DVK ms  structure voxels');
  for (const r of rows) {
    console.log(
      `${r.size.padEnd(12)} ${r.backend.padEnd(8)} ${r.ldmMs.toFixed(0).padStart(6)} ${r.statsMs.toFixed(0).padStart(10)} ${(r.ldmMs + r.statsMs).toFixed(0).padStart(9)} ${r.dvkMs === undefined ? '-'.padStart(7) : r.dvkMs.toFixed(0).padStart(7)}  ${r.structureVoxels}`,
    );
  }
  if (device) {
    const t = breakdownTable(device, breakdown);
    for (const line of ['', t.title, t.head, t.align, ...t.rows, '', ...t.notes]) console.log(line);
  }
}
process.exit(0);

/** Milliseconds with 2 decimals below 10 ms, 1 below 100, else none. */
function msText(x: number): string {
  return Math.abs(x) < 10 ? x.toFixed(2) : Math.abs(x) < 100 ? x.toFixed(1) : x.toFixed(0);
}

/** The breakdown as a markdown table with its title and notes; scripts/bench.ts prints it from --json. */
function breakdownTable(d: NonNullable<typeof device>, b: typeof breakdown) {
  const s = d.startMs;
  // pipelines are cached per device: a later grid compiles again only where its constants differ (FFT lengths, radii)
  const compile = b.map((r) => `${r.size} ${r.op} ${msText(r.firstCallCompileMs)}`).join(', ');
  const plain = rows
    .filter((r) => r.backend === 'webgpu')
    .map((r) => `${r.size} LDM ${msText(r.ldmMs)}, statistics ${msText(r.statsMs)}${r.dvkMs === undefined ? '' : `, DVK ${msText(r.dvkMs)}`}`)
    .join('; ');
  return {
    title: `WebGPU breakdown per operation (phases serialised by queue waits; best of ${repeat} after a first call; adapter: ${d.adapter || 'unknown'})`,
    head: `| grid | op | wall ms | upload ms | GPU ms (${d.gpuMethod}) | readback ms | host ms |`,
    align: '|---|---|---:|---:|---:|---:|---:|',
    rows: b.map((r) => `| ${r.size} | ${r.op}${r.detail ? ` (${r.detail})` : ''} | ${msText(r.wallMs)} | ${msText(r.uploadMs)} | ${msText(r.gpuMs)} | ${msText(r.readbackMs)} | ${msText(r.hostMs)} |`),
    notes: [
      `WebGPU device start: ${msText(s.total ?? NaN)} ms (loading the implementation ${msText(s.instance ?? NaN)}, requestAdapter ${msText(s.adapter ?? NaN)}, requestDevice ${msText(s.device ?? NaN)}); a second device afterwards (acquireGpu) ${msText(d.sharedAcquireMs)} ms. First-use pipeline compile ms (first call of each row): ${compile || '-'}.`,
      ...(plain ? [`The same calls without the recorder (no waits between the phases, shared device; table above), wall ms: ${plain}.`] : []),
      d.gpuMethod === 'timestamps'
        ? `GPU ms: compute-pass timestamps summed; host ms = wall - upload - GPU - readback (includes submit and queue-wait overhead: kernel submit-to-done was ${b.map((r) => `${r.size} ${r.op} ${msText(r.kernelSubmitToDoneMs)}`).join(', ')}).`
        : 'GPU ms: kernels submitted alone with the data resident, host clock until the queue is idle (no timestamp-query); host ms = wall - upload - GPU - readback.',
    ],
  };
}
