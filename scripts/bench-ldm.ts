/**
 * Benchmark: LDM dose + per-structure statistics on the CPU and WebGPU back ends, for 128^3 and 256^3 synthetic
 * volumes (noisy PET-like activity with negative voxels, CT-like density map, 5 structures: liver ellipsoid, three
 * tumour spheres, a lung slab). Prints a table of wall-clock times (best of `--repeat`, after one warm-up run).
 *
 *   node --import tsx --import ./scripts/wgsl-loader.mjs scripts/bench-ldm.ts [--sizes 128,256] [--repeat 2] [--json]
 */
import { ldmDoseCpu } from '../packages/dosimetry-core/src/cpu/ldm.ts';
import { acquireGpu, gpuUnavailableReason, ldmDoseGpu, structureStatsGpu } from '../packages/dosimetry-core/src/gpu/index.ts';
import { structureStatsCpu, type StructureStatsOptions } from '../packages/dosimetry-core/src/stats/index.ts';
import type { GridStructure } from '../packages/dosimetry-core/src/volume/structure.ts';

function arg(name: string, fallback: string): string {
  const k = process.argv.indexOf(`--${name}`);
  return k >= 0 && process.argv[k + 1] ? process.argv[k + 1] : fallback;
}

/** Synthetic case on an n^3 grid of 4 mm voxels. */
function syntheticCase(n: number) {
  const total = n ** 3;
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
  for (let k = 0; k < n; k++) {
    for (let j = 0; j < n; j++) {
      for (let i = 0; i < n; i++) {
        const x = (i + 0.5) / n;
        const y = (j + 0.5) / n;
        const z = (k + 0.5) / n;
        const v = i + n * (j + n * k);
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

const sizes = arg('sizes', '128,256').split(',').map(Number);
const repeat = Number(arg('repeat', '2'));
const ctx = await acquireGpu();
if (!ctx) console.error(`WebGPU back end skipped: ${gpuUnavailableReason()}`);
const rows: Array<{ size: string; backend: string; ldmMs: number; statsMs: number; structureVoxels: number }> = [];
for (const n of sizes) {
  const c = syntheticCase(n);
  const structureVoxels = c.structures.reduce((s, x) => s + x.voxelIndices.length, 0);
  const ldmOpts = { activityBqPerMl: c.activity, densityGPerMl: c.density, ldmJoulePerGBq: 49.67 };
  const dose = ldmDoseCpu(ldmOpts);
  const statsOpts: StructureStatsOptions = { doseGy: dose, activityBqPerMl: c.activity, densityGPerMl: c.density, voxelVolumeMl: c.voxelVolumeMl, structures: c.structures };
  const size = `${n}^3`;
  rows.push({
    size,
    backend: 'cpu',
    ldmMs: await best(repeat, async () => ldmDoseCpu(ldmOpts)),
    statsMs: await best(repeat, async () => structureStatsCpu(statsOpts)),
    structureVoxels,
  });
  if (ctx) {
    rows.push({
      size,
      backend: 'webgpu',
      ldmMs: await best(repeat, () => ldmDoseGpu(ctx, ldmOpts)),
      statsMs: await best(repeat, () => structureStatsGpu(ctx, statsOpts)),
      structureVoxels,
    });
  }
}
if (process.argv.includes('--json')) {
  console.log(JSON.stringify({ device: ctx?.adapterDescription ?? null, rows }, null, 2));
} else {
  console.log(`WebGPU adapter: ${ctx ? ctx.adapterDescription || ctx.source : 'none'}`);
  console.log('size     backend  LDM ms   stats ms  total ms  structure voxels');
  for (const r of rows) {
    console.log(
      `${r.size.padEnd(8)} ${r.backend.padEnd(8)} ${r.ldmMs.toFixed(0).padStart(6)} ${r.statsMs.toFixed(0).padStart(10)} ${(r.ldmMs + r.statsMs).toFixed(0).padStart(9)}  ${r.structureVoxels}`,
    );
  }
}
process.exit(0);
