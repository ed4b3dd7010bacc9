/**
 * Per-structure dose statistics on WebGPU: pass 1 (shaders/stats_sums.wgsl) gives per-workgroup f32 partial sums,
 * added in f64 here, and the dose extremes; pass 2 (shaders/stats_hist.wgsl) the DVH histogram as exact integers.
 * Oracle: structureStatsCpu (src/stats/structure-stats.ts), same options and result.
 *
 * The voxel arrays are processed in tiles of at most ctx.maxBindingBytes per binding (128 MiB = 32 Mi voxels);
 * because structure indices are ascending, each structure's entries in a tile are one contiguous run, dispatched
 * as one job. Jobs are submitted one by one (each rewrites the shared index / weight / uniform buffers).
 */
import sumsSrc from '../../../../shaders/stats_sums.wgsl?raw';
import histSrc from '../../../../shaders/stats_hist.wgsl?raw';
import { GpuError } from '../errors.ts';
import {
  checkFiniteDoseRange,
  checkStatsOptions,
  finishStructureStats,
  type StructureDoseStats,
  type StructureStatsOptions,
  type StructureSums,
} from '../stats/structure-stats.ts';
import { dvhRange, type DvhRange } from '../stats/dvh.ts';
import { dispatchGrid2d, type GpuContext } from './device.ts';
import { cachedPerDevice, createBuffer, withGpuErrors } from './resources.ts';
import { packUniform, uniformByteSize, type UniformLayout } from './uniform.ts';

/** Host copy of `struct Params` in shaders/stats_sums.wgsl (checked by test/gpu/uniform.test.ts). */
export const STATS_SUMS_PARAMS: UniformLayout = {
  struct: 'Params',
  fields: [
    ['tileBase', 'u32'],
    ['count', 'u32'],
    ['slot', 'u32'],
    ['partialBase', 'u32'],
    ['densityIsScalar', 'u32'],
    ['densityGPerMl', 'f32'],
    ['_pad0', 'u32'],
    ['_pad1', 'u32'],
  ],
};

/** Host copy of `struct Params` in shaders/stats_hist.wgsl (checked by test/gpu/uniform.test.ts). */
export const STATS_HIST_PARAMS: UniformLayout = {
  struct: 'Params',
  fields: [
    ['tileBase', 'u32'],
    ['count', 'u32'],
    ['histBase', 'u32'],
    ['nBins', 'u32'],
    ['loGy', 'f32'],
    ['scalePerGy', 'f32'],
    ['_pad0', 'u32'],
    ['_pad1', 'u32'],
  ],
};

/** Workgroup size of both statistics kernels (override WG; a power of two for the tree reduction). */
export const STATS_WORKGROUP_SIZE = 256;

/** vec4 partials per workgroup written by stats_sums.wgsl. */
const PARTIAL_VEC4S = 3;

/** GPU-only knobs of structureStatsGpu. */
export interface StatsGpuTuning {
  /** Voxels per tile (default: as many as fit one storage binding, <= 128 MiB). Small values exercise tiling. */
  readonly tileVoxels?: number;
}

interface StatsPipelines {
  readonly sumsLayout: GPUBindGroupLayout;
  readonly sums: GPUComputePipeline;
  readonly histLayout: GPUBindGroupLayout;
  readonly hist: GPUComputePipeline;
}

function statsPipelines(device: GPUDevice): StatsPipelines {
  return cachedPerDevice(device, 'structure-stats', () => {
    const entry = (binding: number, type: GPUBufferBindingType): GPUBindGroupLayoutEntry => ({
      binding,
      visibility: GPUShaderStage.COMPUTE,
      buffer: { type },
    });
    const ro = 'read-only-storage' as const;
    const sumsLayout = device.createBindGroupLayout({
      label: 'stats_sums',
      entries: [entry(0, 'uniform'), entry(1, ro), entry(2, ro), entry(3, ro), entry(4, ro), entry(5, ro), entry(6, 'storage'), entry(7, 'storage')],
    });
    const histLayout = device.createBindGroupLayout({
      label: 'stats_hist',
      entries: [entry(0, 'uniform'), entry(1, ro), entry(2, ro), entry(3, ro), entry(4, 'storage')],
    });
    const make = (label: string, layout: GPUBindGroupLayout, code: string) =>
      device.createComputePipeline({
        label,
        layout: device.createPipelineLayout({ bindGroupLayouts: [layout] }),
        compute: { module: device.createShaderModule({ label: `${label}.wgsl`, code }), entryPoint: 'main', constants: { WG: STATS_WORKGROUP_SIZE } },
      });
    return { sumsLayout, sums: make('stats_sums', sumsLayout, sumsSrc), histLayout, hist: make('stats_hist', histLayout, histSrc) };
  });
}

/** One dispatch: the entries [begin, end) of structure `slot` that fall in tile `tile`. */
interface Job {
  readonly slot: number;
  readonly tile: number;
  readonly begin: number;
  readonly end: number;
  /** First partials workgroup slot (pass 1). */
  readonly partialBase: number;
  readonly workgroups: number;
}

/** First k in [lo, hi) with a[k] >= value (a ascending). */
function lowerBound(a: Uint32Array, value: number, lo: number, hi: number): number {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid] < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Order-preserving u32 key (stats_sums.wgsl orderedKey) back to the f32 dose [Gy]. */
function keyToFloat(key: number): number {
  const bits = key & 0x80000000 ? key & 0x7fffffff : ~key >>> 0;
  const view = new DataView(new ArrayBuffer(4));
  view.setUint32(0, bits >>> 0, true);
  return view.getFloat32(0, true);
}

/**
 * Per-structure dose statistics on the GPU, same definitions as structureStatsCpu.
 * Agreement with the CPU oracle: voxelCount, negativeVoxelCount, minGy, maxGy and the DVH histogram are exact
 * (so Dx and the DVH are equal up to f64 rounding of the shared host code); the sums (volume, mass, activity,
 * mean, V-values) carry f32 rounding of <= 256-term workgroup partials, relative error <~ 1e-6 of the sum of
 * absolute terms.
 */
export async function structureStatsGpu(ctx: GpuContext, opts: StructureStatsOptions & StatsGpuTuning): Promise<StructureDoseStats[]> {
  const nBins = checkStatsOptions(opts);
  const { device } = ctx;
  const n = opts.doseGy.length;
  const structures = opts.structures;
  const nS = structures.length;
  if (nS === 0) return [];
  const rho = opts.densityGPerMl;
  const scalar = typeof rho === 'number';
  const tile = Math.max(1, Math.floor(Math.min(Math.max(n, 1), opts.tileVoxels ?? ctx.maxBindingBytes / 4, ctx.maxBindingBytes / 4)));
  const nTiles = Math.max(1, Math.ceil(n / tile));

  // Jobs, tile-major so each tile's volumes are uploaded once per pass.
  const jobs: Job[] = [];
  const cursor = new Array<number>(nS).fill(0);
  let totalWorkgroups = 0;
  let maxJob = 1;
  for (let t = 0; t < nTiles; t++) {
    const tileEnd = Math.min(n, (t + 1) * tile);
    for (let s = 0; s < nS; s++) {
      const idx = structures[s].voxelIndices;
      const begin = cursor[s];
      const end = lowerBound(idx, tileEnd, begin, idx.length);
      cursor[s] = end;
      if (end > begin) {
        const workgroups = Math.ceil((end - begin) / STATS_WORKGROUP_SIZE);
        jobs.push({ slot: s, tile: t, begin, end, partialBase: totalWorkgroups, workgroups });
        totalWorkgroups += workgroups;
        maxJob = Math.max(maxJob, end - begin);
      }
    }
  }
  const partialBytes = Math.max(1, totalWorkgroups) * PARTIAL_VEC4S * 16;
  if (partialBytes > ctx.maxBindingBytes) {
    throw new GpuError(`structure statistics need ${partialBytes} bytes of partial sums, over the ${ctx.maxBindingBytes}-byte binding limit: use the CPU back end`);
  }
  const histWords = nS * nBins * 2;
  if (histWords * 4 > ctx.maxBindingBytes) {
    throw new GpuError(`${nS} structures x ${nBins} DVH bins exceed one GPU binding: use fewer bins (--dvh-bins) or the CPU back end`);
  }

  const pipes = statsPipelines(device);
  return withGpuErrors(device, 'structure statistics', async () => {
    const S = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST;
    const tileBytes = Math.min(tile, n) * 4;
    const buffers: GPUBuffer[] = [];
    const buf = (label: string, bytes: number, usage: GPUBufferUsageFlags) => {
      const b = createBuffer(device, label, bytes, usage);
      buffers.push(b);
      return b;
    };
    try {
      const doseBuf = buf('stats dose', tileBytes, S);
      const actBuf = buf('stats activity', tileBytes, S);
      const denBuf = buf('stats density', scalar ? 16 : tileBytes, S);
      const idxBuf = buf('stats indices', maxJob * 4, S);
      const wBuf = buf('stats weights', maxJob * 4, S);
      const sumsParams = buf('stats_sums params', uniformByteSize(STATS_SUMS_PARAMS), GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
      const histParams = buf('stats_hist params', uniformByteSize(STATS_HIST_PARAMS), GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
      const partials = buf('stats partials', partialBytes, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC);
      const minMax = buf('stats minmax', nS * 8, S | GPUBufferUsage.COPY_SRC);
      const hist = buf('stats histogram', histWords * 4, S | GPUBufferUsage.COPY_SRC);
      const readback = buf('stats readback', Math.max(partialBytes, nS * 8, histWords * 4), GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST);

      const sumsGroup = device.createBindGroup({
        layout: pipes.sumsLayout,
        entries: [sumsParams, doseBuf, actBuf, denBuf, idxBuf, wBuf, partials, minMax].map((b, binding) => ({ binding, resource: { buffer: b } })),
      });
      const histGroup = device.createBindGroup({
        layout: pipes.histLayout,
        entries: [histParams, doseBuf, idxBuf, wBuf, hist].map((b, binding) => ({ binding, resource: { buffer: b } })),
      });

      let doseTile = -1;
      let restTile = -1;
      const loadTile = (t: number, withActivity: boolean) => {
        const base = t * tile;
        const count = Math.min(tile, n - base);
        if (doseTile !== t) device.queue.writeBuffer(doseBuf, 0, opts.doseGy, base, count);
        doseTile = t;
        if (withActivity && restTile !== t) {
          device.queue.writeBuffer(actBuf, 0, opts.activityBqPerMl, base, count);
          if (!scalar) device.queue.writeBuffer(denBuf, 0, rho, base, count);
          restTile = t;
        }
      };
      const loadJob = (j: Job) => {
        const s = structures[j.slot];
        device.queue.writeBuffer(idxBuf, 0, s.voxelIndices, j.begin, j.end - j.begin);
        device.queue.writeBuffer(wBuf, 0, s.weights, j.begin, j.end - j.begin);
      };
      const dispatch = (pipeline: GPUComputePipeline, group: GPUBindGroup, workgroups: number) => {
        const enc = device.createCommandEncoder();
        const pass = enc.beginComputePass();
        pass.setPipeline(pipeline);
        pass.setBindGroup(0, group);
        const [gx, gy] = dispatchGrid2d(workgroups, ctx.maxWorkgroupsPerDimension);
        pass.dispatchWorkgroups(gx, gy);
        pass.end();
        device.queue.submit([enc.finish()]);
      };
      const read = async (src: GPUBuffer, bytes: number): Promise<ArrayBuffer> => {
        const enc = device.createCommandEncoder();
        enc.copyBufferToBuffer(src, 0, readback, 0, bytes);
        device.queue.submit([enc.finish()]);
        await readback.mapAsync(GPUMapMode.READ, 0, bytes);
        const copy = readback.getMappedRange(0, bytes).slice(0);
        readback.unmap();
        return copy;
      };

      // Pass 1: sums and extremes.
      const init = new Uint32Array(nS * 2);
      for (let s = 0; s < nS; s++) init[2 * s] = 0xffffffff;
      device.queue.writeBuffer(minMax, 0, init);
      const rhoScalar = scalar ? Math.max(rho, 0) : 0;
      for (const j of jobs) {
        loadTile(j.tile, true);
        loadJob(j);
        const values = {
          tileBase: j.tile * tile, count: j.end - j.begin, slot: j.slot, partialBase: j.partialBase,
          densityIsScalar: scalar ? 1 : 0, densityGPerMl: rhoScalar, _pad0: 0, _pad1: 0,
        };
        device.queue.writeBuffer(sumsParams, 0, packUniform(STATS_SUMS_PARAMS, values));
        dispatch(pipes.sums, sumsGroup, j.workgroups);
      }
      const part = new Float32Array(await read(partials, partialBytes));
      const keys = new Uint32Array(await read(minMax, nS * 8));
      const sums: StructureSums[] = structures.map(() => ({
        weight: 0, mass: 0, activity: 0, energy: 0, vWeight: [0, 0, 0], negativeCount: 0, voxelCount: 0, minGy: Infinity, maxGy: -Infinity,
      }));
      for (const j of jobs) {
        const sm = sums[j.slot];
        for (let g = j.partialBase; g < j.partialBase + j.workgroups; g++) {
          const p = g * PARTIAL_VEC4S * 4;
          sm.weight += part[p];
          sm.mass += part[p + 1];
          sm.activity += part[p + 2];
          sm.energy += part[p + 3];
          sm.vWeight[0] += part[p + 4];
          sm.vWeight[1] += part[p + 5];
          sm.vWeight[2] += part[p + 6];
          sm.negativeCount += part[p + 7];
          sm.voxelCount += part[p + 8];
        }
      }
      const ranges: DvhRange[] = sums.map((sm, s) => {
        if (sm.voxelCount > 0) {
          sm.minGy = keyToFloat(keys[2 * s]);
          sm.maxGy = keyToFloat(keys[2 * s + 1]);
          checkFiniteDoseRange(structures[s].name, sm.minGy, sm.maxGy);
        }
        return dvhRange(sm.minGy, sm.maxGy, nBins);
      });

      // Pass 2: histogram.
      device.queue.writeBuffer(hist, 0, new Uint32Array(histWords));
      for (const j of jobs) {
        if (sums[j.slot].voxelCount === 0) continue;
        loadTile(j.tile, false);
        loadJob(j);
        const r = ranges[j.slot];
        const values = {
          tileBase: j.tile * tile, count: j.end - j.begin, histBase: j.slot * nBins, nBins,
          loGy: r.loGy, scalePerGy: r.scalePerGyF32, _pad0: 0, _pad1: 0,
        };
        device.queue.writeBuffer(histParams, 0, packUniform(STATS_HIST_PARAMS, values));
        dispatch(pipes.hist, histGroup, j.workgroups);
      }
      const words = new Uint32Array(await read(hist, histWords * 4));
      return sums.map((sm, s) => {
        const h = new Float64Array(nBins);
        for (let b = 0; b < nBins; b++) {
          const w = (s * nBins + b) * 2;
          h[b] = words[w] + words[w + 1] * 4294967296;
        }
        return finishStructureStats(sm, h, opts.voxelVolumeMl, nBins);
      });
    } finally {
      for (const b of buffers) b.destroy();
    }
  });
}
