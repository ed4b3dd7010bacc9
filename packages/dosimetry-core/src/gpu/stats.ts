/**
 * Per-structure dose statistics on WebGPU: pass 1 (shaders/stats_sums.wgsl) gives per-invocation f32 partial sums
 * (<= 32 entries each), added in f64 here, and per-invocation dose extremes; pass 2 (shaders/stats_hist.wgsl) the
 * DVH histogram as exact integers. Oracle: structureStatsCpu (src/stats/structure-stats.ts), same options and result.
 *
 * The voxel arrays are processed in tiles of at most ctx.maxBindingBytes per binding (128 MiB = 32 Mi voxels);
 * because structure indices are ascending, each structure's entries in a tile are one contiguous run, dispatched
 * as one job. The entries of all jobs of a tile are uploaded once into one index and one weight buffer (split into
 * batches only where they exceed one binding), every job gets its own uniform slot, and each batch is one submit:
 * on a software adapter (lavapipe) the old one-submit-per-job scheme with workgroup reductions spent ~0.45 s of
 * the 192^3 benchmark in barriers and atomics.
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
import type { GridStructure } from '../volume/structure.ts';
import { dispatchGrid2d, type GpuContext } from './device.ts';
import { cachedPerDevice, createBuffer, withGpuErrors } from './resources.ts';
import { packUniform, uniformByteSize, type UniformLayout } from './uniform.ts';
import { awaitGpu } from './wait.ts';
import { type GpuPhaseRecorder, settle } from './phases.ts';

/** Host copy of `struct Params` in shaders/stats_sums.wgsl (checked by test/gpu/shaders.test.ts). */
export const STATS_SUMS_PARAMS: UniformLayout = {
  struct: 'Params',
  fields: [
    ['tileBase', 'u32'],
    ['count', 'u32'],
    ['entryBase', 'u32'],
    ['partialBase', 'u32'],
    ['densityIsScalar', 'u32'],
    ['densityGPerMl', 'f32'],
    ['invocations', 'u32'],
    ['partMassGiven', 'u32'],
  ],
};

/** Host copy of `struct Params` in shaders/stats_hist.wgsl (checked by test/gpu/shaders.test.ts). */
export const STATS_HIST_PARAMS: UniformLayout = {
  struct: 'Params',
  fields: [
    ['tileBase', 'u32'],
    ['count', 'u32'],
    ['histBase', 'u32'],
    ['nBins', 'u32'],
    ['loGy', 'f32'],
    ['scalePerGy', 'f32'],
    ['entryBase', 'u32'],
    ['invocations', 'u32'],
  ],
};

/** Workgroup size of both statistics kernels (override WG). */
export const STATS_WORKGROUP_SIZE = 256;

/**
 * Structure entries per invocation of both statistics kernels (override PER_INVOCATION, a multiple of 4): each
 * invocation sums its entries in registers (groups of 4, then serially), so pass 1 has ~10 f32 rounding levels per
 * partial, comparable to the 8 of a 256-entry tree, with no workgroup barrier.
 */
export const STATS_ENTRIES_PER_INVOCATION = 32;

/** vec4 partials per invocation written by stats_sums.wgsl. */
const PARTIAL_VEC4S = 3;

/** GPU-only knobs of structureStatsGpu. */
export interface StatsGpuTuning {
  /** Voxels per tile (default: as many as fit one storage binding, <= 128 MiB). Small values exercise tiling. */
  readonly tileVoxels?: number;
  /** Most structure entries uploaded per batch (default: one storage binding). Small values exercise batching. */
  readonly batchEntries?: number;
  /** Phase timing for benchmarks (./phases.ts); absent: no change. */
  readonly phases?: GpuPhaseRecorder;
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
      entries: [entry(0, 'uniform'), entry(1, ro), entry(2, ro), entry(3, ro), entry(4, ro), entry(5, ro), entry(6, 'storage'), entry(7, 'storage'), entry(8, ro)],
    });
    const histLayout = device.createBindGroupLayout({
      label: 'stats_hist',
      entries: [entry(0, 'uniform'), entry(1, ro), entry(2, ro), entry(3, ro), entry(4, 'storage')],
    });
    const constants = { WG: STATS_WORKGROUP_SIZE, PER_INVOCATION: STATS_ENTRIES_PER_INVOCATION };
    const make = (label: string, layout: GPUBindGroupLayout, code: string) =>
      device.createComputePipeline({
        label,
        layout: device.createPipelineLayout({ bindGroupLayouts: [layout] }),
        compute: { module: device.createShaderModule({ label: `${label}.wgsl`, code }), entryPoint: 'main', constants },
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
  /** First entry of the job in its batch's index / weight buffers. */
  readonly entryBase: number;
  /** First partials / keys slot (pass 1). */
  readonly partialBase: number;
  /** Invocations T = ceil(entries / STATS_ENTRIES_PER_INVOCATION). */
  readonly invocations: number;
}

/** Jobs of one tile whose entries are uploaded together (total <= one binding). */
interface Batch {
  readonly tile: number;
  readonly jobs: Job[];
  entries: number;
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
 * mean, V-values) carry f32 rounding of <= 32-term partials (groups of 4 added serially), relative error <~ 1e-6 of
 * the sum of absolute terms.
 */
export async function structureStatsGpu(ctx: GpuContext, opts: StructureStatsOptions & StatsGpuTuning): Promise<StructureDoseStats[]> {
  const nBins = checkStatsOptions(opts);
  // Structures with the same voxels and weights (e.g. a normal liver equal to the liver when no tumour overlaps it)
  // have the same statistics: each distinct one is computed once.
  const all = opts.structures;
  const firstOf = all.map((s, k) => {
    for (let e = 0; e < k; e++) if (sameVoxels(all[e], s)) return e;
    return k;
  });
  const distinct = firstOf.flatMap((f, k) => (f === k ? [k] : []));
  if (distinct.length === all.length) return structureStatsGpuDistinct(ctx, opts, nBins);
  const stats = await structureStatsGpuDistinct(ctx, { ...opts, structures: distinct.map((k) => all[k]) }, nBins);
  return firstOf.map((f) => {
    const st = stats[distinct.indexOf(f)];
    return { ...st, dvh: { doseGy: [...st.dvh.doseGy], volumeFraction: [...st.dvh.volumeFraction] } };
  });
}

/** True when two structures hold the same voxel indices with the same weights (and part masses, if any). */
function sameVoxels(a: GridStructure, b: GridStructure): boolean {
  if (a.voxelIndices.length !== b.voxelIndices.length) return false;
  const pa = a.partMassGPerMl, pb = b.partMassGPerMl;
  if (!pa !== !pb) return false;
  if (a.voxelIndices === b.voxelIndices && a.weights === b.weights && pa === pb) return true;
  const ia = a.voxelIndices, ib = b.voxelIndices, wa = a.weights, wb = b.weights;
  for (let k = 0; k < ia.length; k++) if (ia[k] !== ib[k] || !Object.is(wa[k], wb[k])) return false;
  if (pa && pb) for (let k = 0; k < pa.length; k++) if (!Object.is(pa[k], pb[k])) return false;
  return true;
}

/** structureStatsGpu on checked options (nBins from checkStatsOptions). */
async function structureStatsGpuDistinct(ctx: GpuContext, opts: StructureStatsOptions & StatsGpuTuning, nBins: number): Promise<StructureDoseStats[]> {
  const { device } = ctx;
  const n = opts.doseGy.length;
  const structures = opts.structures;
  const nS = structures.length;
  if (nS === 0) return [];
  const rho = opts.densityGPerMl;
  const scalar = typeof rho === 'number';
  const maxBindingFloats = Math.floor(ctx.maxBindingBytes / 4);
  const tile = Math.max(1, Math.floor(Math.min(Math.max(n, 1), opts.tileVoxels ?? maxBindingFloats, maxBindingFloats)));
  const nTiles = Math.max(1, Math.ceil(n / tile));
  const batchLimit = Math.max(1, Math.min(opts.batchEntries ?? maxBindingFloats, maxBindingFloats));
  const per = STATS_ENTRIES_PER_INVOCATION;

  // Jobs, tile-major so each tile's volumes are uploaded once per pass; batches of jobs within one tile.
  const batches: Batch[] = [];
  const cursor = new Array<number>(nS).fill(0);
  let totalInvocations = 0;
  let maxBatch = 1;
  let jobCount = 0;
  for (let t = 0; t < nTiles; t++) {
    const tileEnd = Math.min(n, (t + 1) * tile);
    let batch: Batch | undefined;
    for (let s = 0; s < nS; s++) {
      const idx = structures[s].voxelIndices;
      const begin = cursor[s];
      const end = lowerBound(idx, tileEnd, begin, idx.length);
      cursor[s] = end;
      // a job longer than one batch is split (only when batchEntries < the tile size)
      for (let b0 = begin; b0 < end; ) {
        if (!batch || batch.entries >= batchLimit) batches.push((batch = { tile: t, jobs: [], entries: 0 }));
        const b1 = Math.min(end, b0 + (batchLimit - batch.entries));
        const invocations = Math.ceil((b1 - b0) / per);
        batch.jobs.push({ slot: s, tile: t, begin: b0, end: b1, entryBase: batch.entries, partialBase: totalInvocations, invocations });
        batch.entries += b1 - b0;
        maxBatch = Math.max(maxBatch, batch.entries);
        totalInvocations += invocations;
        jobCount++;
        b0 = b1;
      }
    }
  }
  const partialBytes = Math.max(1, totalInvocations) * PARTIAL_VEC4S * 16;
  if (partialBytes > ctx.maxBindingBytes) {
    throw new GpuError(`structure statistics need ${partialBytes} bytes of partial sums, over the ${ctx.maxBindingBytes}-byte binding limit: use the CPU back end`);
  }
  const histWords = nS * nBins * 2;
  if (histWords * 4 > ctx.maxBindingBytes) {
    throw new GpuError(`${nS} structures x ${nBins} DVH bins exceed one GPU binding: use fewer bins (--dvh-bins) or the CPU back end`);
  }

  const phases = opts.phases;
  phases?.enter('compile');
  const pipes = statsPipelines(device);
  phases?.enter('host');
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
      // One tile and one batch (the usual case): the inputs are written straight into buffers mapped at creation,
      // one copy instead of two (writeBuffer stages the data, then the queue copies it).
      const single = nTiles === 1 && batches.length === 1;
      const filled = (label: string, bytes: number, fill: (dst: ArrayBuffer) => void) => {
        const b = device.createBuffer({ label, size: Math.max(16, Math.ceil(bytes / 16) * 16), usage: S, mappedAtCreation: true });
        buffers.push(b);
        fill(b.getMappedRange());
        b.unmap();
        return b;
      };
      const copyF32 = (src: Float32Array | Uint32Array) => (dst: ArrayBuffer) =>
        (src instanceof Float32Array ? new Float32Array(dst, 0, src.length) : new Uint32Array(dst, 0, src.length)).set(src as never);
      const batchCopy = (field: 'voxelIndices' | 'weights' | 'partMassGPerMl') => (dst: ArrayBuffer) => {
        for (const j of batches[0].jobs) {
          const src = structures[j.slot][field]?.subarray(j.begin, j.end);
          if (!src) continue;
          (field === 'voxelIndices' ? new Uint32Array(dst, 4 * j.entryBase, src.length) : new Float32Array(dst, 4 * j.entryBase, src.length)).set(src as never);
        }
      };
      phases?.enter('upload'); // the mapped-at-creation fills of the single-batch case (their creation included)
      const doseBuf = single ? filled('stats dose', tileBytes, copyF32(opts.doseGy)) : buf('stats dose', tileBytes, S);
      const actBuf = single ? filled('stats activity', tileBytes, copyF32(opts.activityBqPerMl)) : buf('stats activity', tileBytes, S);
      const denBuf = single && !scalar ? filled('stats density', tileBytes, copyF32(rho)) : buf('stats density', scalar ? 16 : tileBytes, S);
      const idxBuf = single ? filled('stats indices', maxBatch * 4, batchCopy('voxelIndices')) : buf('stats indices', maxBatch * 4, S);
      const wBuf = single ? filled('stats weights', maxBatch * 4, batchCopy('weights')) : buf('stats weights', maxBatch * 4, S);
      // part masses beside the weights, for the structures that give them (else a placeholder the shader never reads)
      const anyPart = structures.some((st) => st.partMassGPerMl);
      const partBytes = anyPart ? maxBatch * 4 : 16;
      const pBuf = single && anyPart ? filled('stats part masses', partBytes, batchCopy('partMassGPerMl')) : buf('stats part masses', partBytes, S);
      phases?.enter('host');
      // one uniform slot per job, at the device's uniform offset alignment (256 bytes on most adapters)
      const slotBytes = Math.max(device.limits.minUniformBufferOffsetAlignment, uniformByteSize(STATS_SUMS_PARAMS), uniformByteSize(STATS_HIST_PARAMS));
      const uniformBytes = Math.max(1, jobCount) * slotBytes;
      const sumsParams = buf('stats_sums params', uniformBytes, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
      const histParams = buf('stats_hist params', uniformBytes, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
      const partials = buf('stats partials', partialBytes, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC);
      const keyBytes = Math.max(1, totalInvocations) * 8;
      const keysBuf = buf('stats keys', keyBytes, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC);
      const hist = buf('stats histogram', histWords * 4, S | GPUBufferUsage.COPY_SRC);
      const readback = buf('stats readback', Math.max(partialBytes + keyBytes, histWords * 4), GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST);

      const uniformEntry = (buffer: GPUBuffer, slot: number, layout: UniformLayout): GPUBindGroupEntry => ({
        binding: 0,
        resource: { buffer, offset: slot * slotBytes, size: uniformByteSize(layout) },
      });
      const sumsGroup = (slot: number) =>
        device.createBindGroup({
          layout: pipes.sumsLayout,
          entries: [
            uniformEntry(sumsParams, slot, STATS_SUMS_PARAMS),
            ...[doseBuf, actBuf, denBuf, idxBuf, wBuf, partials, keysBuf, pBuf].map((b, k) => ({ binding: k + 1, resource: { buffer: b } })),
          ],
        });
      const histGroup = (slot: number) =>
        device.createBindGroup({
          layout: pipes.histLayout,
          entries: [uniformEntry(histParams, slot, STATS_HIST_PARAMS), ...[doseBuf, idxBuf, wBuf, hist].map((b, k) => ({ binding: k + 1, resource: { buffer: b } }))],
        });

      let doseTile = single ? 0 : -1;
      let restTile = single ? 0 : -1;
      let loadedBatch: Batch | undefined = single ? batches[0] : undefined;
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
      const loadBatch = (b: Batch) => {
        if (loadedBatch === b) return;
        for (const j of b.jobs) {
          const s = structures[j.slot];
          device.queue.writeBuffer(idxBuf, 4 * j.entryBase, s.voxelIndices, j.begin, j.end - j.begin);
          device.queue.writeBuffer(wBuf, 4 * j.entryBase, s.weights, j.begin, j.end - j.begin);
          if (s.partMassGPerMl) device.queue.writeBuffer(pBuf, 4 * j.entryBase, s.partMassGPerMl, j.begin, j.end - j.begin);
        }
        loadedBatch = b;
      };
      /** Encodes one dispatch per job of the batch (job uniform slots from `firstSlot`) and submits them together. */
      const submitBatch = (pipeline: GPUComputePipeline, groupOf: (slot: number) => GPUBindGroup, jobs: ReadonlyArray<[Job, number]>) => {
        if (jobs.length === 0) return;
        const enc = device.createCommandEncoder();
        const pass = enc.beginComputePass(phases?.computePass(pipeline.label));
        pass.setPipeline(pipeline);
        for (const [j, slot] of jobs) {
          pass.setBindGroup(0, groupOf(slot));
          const [gx, gy] = dispatchGrid2d(Math.ceil(j.invocations / STATS_WORKGROUP_SIZE), ctx.maxWorkgroupsPerDimension);
          pass.dispatchWorkgroups(gx, gy);
        }
        pass.end();
        phases?.enter('kernel');
        device.queue.submit([enc.finish()]);
      };
      const read = async (parts: ReadonlyArray<[GPUBuffer, number]>): Promise<ArrayBuffer[]> => {
        const enc = device.createCommandEncoder();
        let offset = 0;
        for (const [src, bytes] of parts) {
          enc.copyBufferToBuffer(src, 0, readback, offset, bytes);
          offset += bytes;
        }
        device.queue.submit([enc.finish()]);
        await awaitGpu(readback.mapAsync(GPUMapMode.READ, 0, offset));
        const mapped = readback.getMappedRange(0, offset);
        const out: ArrayBuffer[] = [];
        offset = 0;
        for (const [, bytes] of parts) {
          out.push(mapped.slice(offset, offset + bytes));
          offset += bytes;
        }
        readback.unmap();
        return out;
      };

      // Pass 1: sums and extremes. Uniforms of all jobs in one write per pass.
      const rhoScalar = scalar ? Math.max(rho, 0) : 0;
      const sumsU = new Uint8Array(uniformBytes);
      let slot = 0;
      const slotted = batches.map((b) => b.jobs.map((j) => [j, slot++] as [Job, number]));
      for (const [j, k] of slotted.flat()) {
        const values = {
          tileBase: j.tile * tile, count: j.end - j.begin, entryBase: j.entryBase, partialBase: j.partialBase,
          densityIsScalar: scalar ? 1 : 0, densityGPerMl: rhoScalar, invocations: j.invocations,
          partMassGiven: structures[j.slot].partMassGPerMl ? 1 : 0,
        };
        sumsU.set(new Uint8Array(packUniform(STATS_SUMS_PARAMS, values)), k * slotBytes);
      }
      device.queue.writeBuffer(sumsParams, 0, sumsU);
      for (let bi = 0; bi < batches.length; bi++) {
        const b = batches[bi];
        phases?.enter('upload');
        loadTile(b.tile, true);
        loadBatch(b);
        await settle(phases);
        submitBatch(pipes.sums, sumsGroup, slotted[bi]);
        await settle(phases);
      }
      phases?.enter('readback');
      const [partBuf, keyBuf] = await read([[partials, partialBytes], [keysBuf, keyBytes]]);
      phases?.enter('host');
      const part = new Float32Array(partBuf);
      const keys = new Uint32Array(keyBuf);
      const sums: StructureSums[] = structures.map(() => ({
        weight: 0, mass: 0, activity: 0, energy: 0, vWeight: [0, 0, 0], negativeCount: 0, voxelCount: 0, minGy: Infinity, maxGy: -Infinity,
      }));
      const minKey = new Array<number>(nS).fill(0xffffffff);
      const maxKey = new Array<number>(nS).fill(0);
      // local f64 accumulators per job (a tight loop over ~N / 32 partials)
      for (const b of batches) {
        for (const j of b.jobs) {
          let weight = 0, mass = 0, activity = 0, energy = 0, v0 = 0, v1 = 0, v2 = 0, negative = 0, count = 0;
          let kMin = minKey[j.slot];
          let kMax = maxKey[j.slot];
          const g1 = j.partialBase + j.invocations;
          for (let g = j.partialBase; g < g1; g++) {
            const p = g * PARTIAL_VEC4S * 4;
            weight += part[p];
            mass += part[p + 1];
            activity += part[p + 2];
            energy += part[p + 3];
            v0 += part[p + 4];
            v1 += part[p + 5];
            v2 += part[p + 6];
            negative += part[p + 7];
            count += part[p + 8];
            const lo = keys[2 * g];
            const hi = keys[2 * g + 1];
            if (lo < kMin) kMin = lo;
            if (hi > kMax) kMax = hi;
          }
          const sm = sums[j.slot];
          sm.weight += weight;
          sm.mass += mass;
          sm.activity += activity;
          sm.energy += energy;
          sm.vWeight[0] += v0;
          sm.vWeight[1] += v1;
          sm.vWeight[2] += v2;
          sm.negativeCount += negative;
          sm.voxelCount += count;
          minKey[j.slot] = kMin;
          maxKey[j.slot] = kMax;
        }
      }
      const ranges: DvhRange[] = sums.map((sm, s) => {
        if (sm.voxelCount > 0) {
          sm.minGy = keyToFloat(minKey[s]);
          sm.maxGy = keyToFloat(maxKey[s]);
          checkFiniteDoseRange(structures[s].name, sm.minGy, sm.maxGy);
        }
        return dvhRange(sm.minGy, sm.maxGy, nBins);
      });

      // Pass 2: histogram (the last batch's entries are still on the GPU: it goes first).
      const histU = new Uint8Array(uniformBytes);
      for (const [j, k] of slotted.flat()) {
        const r = ranges[j.slot];
        const values = {
          tileBase: j.tile * tile, count: j.end - j.begin, histBase: j.slot * nBins, nBins,
          loGy: r.loGy, scalePerGy: r.scalePerGyF32, entryBase: j.entryBase, invocations: j.invocations,
        };
        histU.set(new Uint8Array(packUniform(STATS_HIST_PARAMS, values)), k * slotBytes);
      }
      device.queue.writeBuffer(histParams, 0, histU);
      device.queue.writeBuffer(hist, 0, new Uint32Array(histWords));
      for (let bi = batches.length - 1; bi >= 0; bi--) {
        const b = batches[bi];
        const live = slotted[bi].filter(([j]) => sums[j.slot].voxelCount > 0);
        if (live.length === 0) continue;
        phases?.enter('upload');
        loadTile(b.tile, false);
        loadBatch(b);
        await settle(phases);
        submitBatch(pipes.hist, histGroup, live);
        await settle(phases);
      }
      phases?.enter('readback');
      const [histBuf] = await read([[hist, histWords * 4]]);
      phases?.enter('host');
      const words = new Uint32Array(histBuf);
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
