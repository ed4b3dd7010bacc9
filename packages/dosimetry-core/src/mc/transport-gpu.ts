/**
 * The WebGPU back end of the Monte Carlo transport (`--method mc`): shaders/mc_transport.wgsl runs one decay history
 * per invocation, the same algorithm and the same Philox random numbers as the CPU oracle (runHistoriesCpu in
 * ./history-cpu.ts, driven by ./transport-cpu.ts), in f32; tallies are exact 64-bit integers of problem.tallyUnitMeV
 * (two atomic u32 words per voxel), so a rerun is byte-identical whatever the scheduling.
 *
 * Memory: the problem is uploaded once (cached by object identity, one problem at a time): the tables, the emission
 * data and the source alias table packed into one storage buffer (offsets in the uniform), the packed media (4 B per
 * voxel) in up to 2 bindings and the tally (8 B per voxel) in up to 4 bindings, each at most the binding limit
 * (ctx.maxBindingBytes, <= 128 MiB: up to 64 M voxels); a larger grid uses the device's own binding limit when it
 * allows, else it is refused with a GpuError naming the CPU back end. 7 storage buffers per stage (limit 8).
 *
 * Agreement with the CPU (test/mc/transport-gpu.test.ts, 24^3 voxels of 2.21 mm, lavapipe): history by history 0 of
 * 300 histories diverge (the rest differ only by deposit rounding, L1 <= 1e-4 of the history's energy); over 2e4
 * histories the total deposit agrees within 1e-5 and the voxel L1 difference is 2-4e-4 of the total (the few
 * histories, ~0.3 %, where an f32 comparison fell within rounding of the f64 one and the two took different
 * branches). The same with source weights (hand-made in [0.5, 2), and buildBiasedSource's 0.1/1.33): 0 of 300
 * diverge, total within 1e-7, L1 0.7-4.8e-4. The kernel keeps positions voxel-local (see the shader header), so this
 * does not degrade far from the grid's corner.
 *
 * Source biasing (problem.sourceWeight, ./source.ts buildBiasedSource): a history from alias entry k carries w =
 * sourceWeight[k] and rounds every deposit, escape and emission in its own unit tallyUnitMeV / w, as runHistoriesCpu
 * does; the weights travel as classes (one per distinct weight: its unit and its fixed emissions in units, see
 * {@link mcWeightClasses}) with a class index per entry. Without weights (analog) the kernel reads class 0, w = 1,
 * whose unit and units are the analog ones bit for bit.
 */
import mcSrc from '../../../../shaders/mc_transport.wgsl?raw';
import { GpuError, InputError } from '../errors.ts';
import { dispatchGrid2d, type GpuContext } from '../gpu/device.ts';
import { cachedPerDevice, createBuffer, withGpuErrors } from '../gpu/resources.ts';
import { packUniform, uniformByteSize, type UniformLayout } from '../gpu/uniform.ts';
import { awaitGpu } from '../gpu/wait.ts';
import { MC_KEY_HI, MC_TABLE_POINTS, MC_TABLE_ROWS, type McBatchRequest, type McBatchResult, type McProblem, type McTransport } from './types.ts';

/** 64-bit tally words (lo, hi u32 pairs from word `from`) to exact f64 integers at energy[base..base + count). */
function widenTally(w: Uint32Array, from: number, energy: Float64Array, base: number, count: number): void {
  for (let r = 0; r < count; r++) {
    const hi = w[from + 2 * r + 1];
    energy[base + r] = hi === 0 ? w[from + 2 * r] : w[from + 2 * r] + hi * 4294967296;
  }
}

/** Host copy of `struct McParams` in shaders/mc_transport.wgsl (checked by test/gpu/shaders.test.ts). */
export const MC_PARAMS: UniformLayout = {
  struct: 'McParams',
  fields: [
    ['nx', 'u32'],
    ['ny', 'u32'],
    ['nz', 'u32'],
    ['count', 'u32'],
    ['voxelCmX', 'f32'],
    ['voxelCmY', 'f32'],
    ['voxelCmZ', 'f32'],
    ['weighted', 'u32'],
    ['seed', 'u32'],
    ['keyHi', 'u32'],
    ['firstLo', 'u32'],
    ['firstHi', 'u32'],
    ['nSource', 'u32'],
    ['srcVoxelOff', 'u32'],
    ['srcProbOff', 'u32'],
    ['srcAliasOff', 'u32'],
    ['srcClassOff', 'u32'],
    ['classOff', 'u32'],
    ['tableOff', 'u32'],
    ['majorantOff', 'u32'],
    ['betaOff', 'u32'],
    ['betaN', 'u32'],
    ['linesOff', 'u32'],
    ['nLines', 'u32'],
    ['mediaChunkVoxels', 'u32'],
    ['tallyChunkVoxels', 'u32'],
    ['lnMin', 'f32'],
    ['dLn', 'f32'],
    ['electronCutoffMeV', 'f32'],
    ['deltaThresholdMeV', 'f32'],
    ['bremsThresholdMeV', 'f32'],
    ['photonCutoffMeV', 'f32'],
    ['stepFraction', 'f32'],
    ['maxStepCm', 'f32'],
    ['betasPerDecay', 'f32'],
    ['localMeVPerDecay', 'f32'],
  ],
};

/**
 * Workgroup size of the transport kernel (override WG). Histories diverge (each its own number of steps), so small
 * groups waste the least on the longest history of a group; 64 is one wave on AMD, two warps on NVIDIA.
 */
export const MC_WORKGROUP_SIZE = 64;
/** Media bindings (2) and tally bindings (4) of the kernel. */
export const MC_MEDIA_BINDINGS = 2;
export const MC_TALLY_BINDINGS = 4;
/** u32 words ahead of the voxel pairs in every tally buffer (tally0: escaped, emitted, overflows as 64-bit pairs). */
const HEADER_WORDS = 8;

/** GPU-only knobs of gpuMcTransport. */
export interface McGpuTuning {
  /**
   * Largest media / tally binding [bytes] (default ctx.maxBindingBytes). Small values force the split over several
   * bindings on small grids (tests); the tables buffer is not affected.
   */
  readonly maxBindingBytes?: number;
  /**
   * Histories per sub-dispatch (one submit each). Default: adaptive, starting at 1024 and aiming at ~0.25 s per
   * submit (a compute submit that runs for seconds can trip the OS GPU watchdog and blocks the browser's GPU process).
   */
  readonly historiesPerDispatch?: number;
}

/** Target wall time of one adaptive sub-dispatch [s]. */
const TARGET_SUBMIT_S = 0.25;
const MAX_HISTORIES_PER_DISPATCH = 1 << 22;

interface McPipeline {
  readonly layout: GPUBindGroupLayout;
  readonly pipeline: GPUComputePipeline;
}

function mcPipeline(device: GPUDevice): McPipeline {
  return cachedPerDevice(device, `mc_transport:${MC_WORKGROUP_SIZE}`, () => {
    const entries: GPUBindGroupLayoutEntry[] = [{ binding: 0, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'uniform' } }];
    for (let b = 1; b <= 1 + MC_MEDIA_BINDINGS; b++) entries.push({ binding: b, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'read-only-storage' } });
    for (let t = 0; t < MC_TALLY_BINDINGS; t++) entries.push({ binding: 2 + MC_MEDIA_BINDINGS + t, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'storage' } });
    const layout = device.createBindGroupLayout({ label: 'mc_transport', entries });
    const pipeline = device.createComputePipeline({
      label: 'mc_transport',
      layout: device.createPipelineLayout({ bindGroupLayouts: [layout] }),
      compute: {
        module: device.createShaderModule({ label: 'mc_transport.wgsl', code: mcSrc }),
        entryPoint: 'main',
        constants: { WG: MC_WORKGROUP_SIZE },
      },
    });
    return { layout, pipeline };
  });
}

/** How a problem's voxels are spread over the bindings. */
export interface McBindingPlan {
  readonly mediaChunkVoxels: number;
  readonly mediaBuffers: number;
  readonly tallyChunkVoxels: number;
  readonly tallyBuffers: number;
}

/**
 * Splits `voxels` over at most 2 media bindings (4 B per voxel) and 4 tally bindings (32 B header + 8 B per voxel),
 * each at most `bindingBytes`; undefined when that does not fit.
 */
export function planMcBindings(voxels: number, bindingBytes: number): McBindingPlan | undefined {
  const mediaChunkVoxels = Math.min(Math.floor(bindingBytes / 4), 2 ** 32 - 1);
  const tallyChunkVoxels = Math.min(Math.floor((bindingBytes - HEADER_WORDS * 4) / 8), 2 ** 31 - 1);
  if (mediaChunkVoxels < 1 || tallyChunkVoxels < 1) return undefined;
  const mediaBuffers = Math.max(1, Math.ceil(voxels / mediaChunkVoxels));
  const tallyBuffers = Math.max(1, Math.ceil(voxels / tallyChunkVoxels));
  if (mediaBuffers > MC_MEDIA_BINDINGS || tallyBuffers > MC_TALLY_BINDINGS) return undefined;
  return { mediaChunkVoxels, mediaBuffers, tallyChunkVoxels, tallyBuffers };
}

/** Everything of one problem that lives on the GPU. */
interface Uploaded {
  readonly problem: McProblem;
  readonly plan: McBindingPlan;
  readonly fixed: Record<string, number>;
  readonly params: GPUBuffer;
  readonly tallies: GPUBuffer[];
  readonly buffers: GPUBuffer[];
  readonly bindGroup: GPUBindGroup;
  /** Read-back buffers of the tally, one per tally binding, made on the first read-back and kept with the problem. */
  stagings?: GPUBuffer[];
}

/**
 * The weight classes of a problem's source (shaders/mc_transport.wgsl, binding 1): one per distinct source weight w
 * (one, w = 1, in an analog run), each 2 + nLines words: the history's tally unit u = tallyUnitMeV / w [MeV] (f32 of
 * the f64 quotient), the local energy per decay and each photon line's energy in units of u (u32), rounded in f64 as
 * runHistoriesCpu rounds them (floor(E / u + 0.5), the same f64 u), so the emitted units equal the CPU's exactly (in
 * f32 the GPU would round 166Ho's local 29460.4996 units to 29460.5 -> 29461).
 * With w = 1, u = tallyUnitMeV and the words are the analog ones bit for bit.
 */
export interface McWeightClasses {
  /** Class of each alias-table entry (undefined: analog, every entry is class 0). */
  readonly classOf: Uint32Array | undefined;
  /** The class records, 2 + nLines u32 words each. */
  readonly records: Uint32Array;
  /** The smallest unit u of the classes [MeV] (f64): the one in which one deposit must stay below 2^32. */
  readonly minUnitMeV: number;
}

/** Builds the weight classes of `problem` (see {@link McWeightClasses}); throws InputError on weights the CPU would not take. */
export function mcWeightClasses(problem: McProblem): McWeightClasses {
  const em = problem.emissions;
  const nLines = em.photonLines.length;
  const stride = 2 + nLines;
  const baseUnit = problem.tallyUnitMeV;
  if (!(baseUnit > 0 && Number.isFinite(baseUnit))) throw new InputError(`tally unit ${baseUnit} MeV must be finite and > 0; build the problem with buildMcProblem`);
  const w = problem.sourceWeight;
  const nSrc = problem.sourceProbability.length;
  if (w !== undefined && w.length !== nSrc) throw new InputError(`sourceWeight has ${w.length} entries for an alias table of ${nSrc}; build the weights with buildBiasedSource`);
  const weights: number[] = [];
  let classOf: Uint32Array | undefined;
  if (w === undefined) weights.push(1);
  else {
    classOf = new Uint32Array(nSrc);
    const index = new Map<number, number>();
    for (let k = 0; k < nSrc; k++) {
      const x = w[k];
      if (!(x > 0 && Number.isFinite(x))) throw new InputError(`source weight ${x} of alias entry ${k}: the weights of a biased source must be finite and > 0; build them with buildBiasedSource`);
      let c = index.get(x);
      if (c === undefined) {
        c = weights.length;
        index.set(x, c);
        weights.push(x);
      }
      classOf[k] = c;
    }
  }
  const records = new Uint32Array(weights.length * stride);
  const f32 = new Float32Array(records.buffer);
  const local = em.localMeVPerDecay;
  const round = (e: number, unit: number) => Math.floor((e > 0 ? e : 0) / unit + 0.5);
  let minUnitMeV = Infinity;
  weights.forEach((x, c) => {
    // runHistoriesCpu: unit = baseUnit / sourceWeight[entry] (f64), or baseUnit itself without weights (x / 1 === x)
    const unit = baseUnit / x;
    minUnitMeV = Math.min(minUnitMeV, unit);
    const o = c * stride;
    f32[o] = unit;
    records[o + 1] = local > 0 ? round(local, unit) : 0;
    em.photonLines.forEach((l, q) => {
      records[o + 2 + q] = round(l.energyMeV, unit);
    });
  });
  return { classOf, records, minUnitMeV };
}

/**
 * The packed tables buffer: tables, majorant, beta inverse CDF, photon lines, source alias table, weight classes (u32
 * words; layout in the shader header).
 */
function packData(problem: McProblem, classes: McWeightClasses): { words: Uint32Array; offsets: Record<string, number> } {
  const t = problem.tables;
  const em = problem.emissions;
  const nSrc = problem.sourceVoxel.length;
  const nLines = em.photonLines.length;
  const parts: Array<[string, number]> = [
    ['tableOff', t.data.length],
    ['majorantOff', problem.photonMajorantPerCm.length],
    ['betaOff', em.betaInverseCdfMeV.length],
    ['linesOff', 2 * nLines],
    ['srcVoxelOff', nSrc],
    ['srcProbOff', nSrc],
    ['srcAliasOff', nSrc],
    ['srcClassOff', classes.classOf?.length ?? 0],
    ['classOff', classes.records.length],
  ];
  const offsets: Record<string, number> = {};
  let total = 0;
  for (const [name, len] of parts) {
    offsets[name] = total;
    total += len;
  }
  const words = new Uint32Array(Math.max(4, total));
  const f32 = new Float32Array(words.buffer);
  f32.set(t.data, offsets.tableOff);
  f32.set(problem.photonMajorantPerCm, offsets.majorantOff);
  f32.set(em.betaInverseCdfMeV, offsets.betaOff);
  // energy and yield (the energy in units is the weight class's)
  em.photonLines.forEach((l, i) => {
    f32[offsets.linesOff + 2 * i] = l.energyMeV;
    f32[offsets.linesOff + 2 * i + 1] = l.yieldPerDecay;
  });
  words.set(problem.sourceVoxel, offsets.srcVoxelOff);
  f32.set(problem.sourceProbability, offsets.srcProbOff);
  words.set(problem.sourceAlias, offsets.srcAliasOff);
  if (classes.classOf) words.set(classes.classOf, offsets.srcClassOff);
  words.set(classes.records, offsets.classOff);
  return { words, offsets };
}

/** Checks the shapes the kernel relies on; throws InputError naming what is wrong. */
function checkProblem(problem: McProblem, classes: McWeightClasses): number {
  const [nx, ny, nz] = problem.dims;
  const n = nx * ny * nz;
  if (![nx, ny, nz].every((d) => Number.isInteger(d) && d >= 1 && d < 2 ** 31)) throw new InputError(`Monte Carlo grid ${problem.dims.join('x')} must have whole positive dimensions`);
  if (n >= 2 ** 32) throw new InputError(`Monte Carlo grid of ${n} voxels exceeds the GPU kernel's 2^32 voxel indices; use the CPU back end (--backend cpu)`);
  if (problem.media.length !== n) throw new InputError(`Monte Carlo media has ${problem.media.length} words for ${n} voxels; build the problem with buildMcProblem`);
  if (problem.tables.data.length % (MC_TABLE_ROWS * MC_TABLE_POINTS) !== 0 || problem.photonMajorantPerCm.length !== MC_TABLE_POINTS) {
    throw new InputError(`Monte Carlo tables do not have ${MC_TABLE_ROWS} rows of ${MC_TABLE_POINTS} points per material; rebuild them with buildMcTables`);
  }
  if (problem.emissions.betaInverseCdfMeV.length < 2) throw new InputError('the beta inverse CDF needs at least 2 points');
  const nSrc = problem.sourceVoxel.length;
  if (nSrc === 0) throw new InputError('the Monte Carlo source has no voxel with activity; nothing to simulate');
  if (problem.sourceProbability.length !== nSrc || problem.sourceAlias.length !== nSrc) throw new InputError('the source alias table arrays differ in length; build them with the source module');
  // one deposit must fit a u32 of tally units: the largest energy of the problem is the largest emitted one, in the
  // smallest unit of the weight classes (tallyUnitMeV / the largest source weight)
  const em = problem.emissions;
  let eMax = Math.max(em.localMeVPerDecay, ...em.photonLines.map((l) => l.energyMeV));
  for (const e of em.betaInverseCdfMeV) eMax = Math.max(eMax, e);
  if (eMax / classes.minUnitMeV >= 2 ** 32 - 1) {
    const wMax = problem.tallyUnitMeV / classes.minUnitMeV;
    throw new InputError(
      `tally unit ${problem.tallyUnitMeV} MeV${wMax !== 1 ? ` / source weight ${wMax}` : ''}: one deposit of up to ${eMax} MeV must stay below 2^32 units on the GPU; use a unit >= ${((eMax * wMax) / 2 ** 32).toExponential(2)} MeV`,
    );
  }
  return n;
}

/**
 * The WebGPU transport back end: `run()` simulates histories h = firstHistory .. firstHistory + histories - 1 of
 * `seed`, exactly the histories runHistoriesCpu runs (up to f32 rounding, see the module header), in sub-dispatches
 * of a bounded number of histories with onProgress between them. Results: McBatchResult, energy in integer units of
 * problem.tallyUnitMeV per voxel (64-bit on the GPU, exact in the f64 result below 2^53).
 */
export function gpuMcTransport(ctx: GpuContext, tuning: McGpuTuning = {}): McTransport {
  const { device } = ctx;
  let current: Uploaded | undefined;
  let perDispatch = tuning.historiesPerDispatch ?? 1024;
  if (!(Number.isInteger(perDispatch) && perDispatch >= 1)) throw new InputError(`historiesPerDispatch ${tuning.historiesPerDispatch} must be a whole number >= 1`);

  const release = (): void => {
    if (current) for (const b of [...current.buffers, ...(current.stagings ?? [])]) b.destroy();
    current = undefined;
  };

  const upload = (problem: McProblem): Uploaded => {
    if (current?.problem === problem) return current;
    release();
    const classes = mcWeightClasses(problem);
    const n = checkProblem(problem, classes);
    const deviceBinding = Math.min(device.limits.maxStorageBufferBindingSize, device.limits.maxBufferSize);
    const wanted = Math.min(tuning.maxBindingBytes ?? ctx.maxBindingBytes, ctx.maxBindingBytes);
    const plan = planMcBindings(n, wanted) ?? planMcBindings(n, deviceBinding);
    if (!plan) {
      throw new GpuError(`the Monte Carlo grid of ${n} voxels needs more than ${MC_TALLY_BINDINGS} tally bindings of ${deviceBinding} bytes on this GPU; use the CPU back end (--backend cpu)`);
    }
    const { words, offsets } = packData(problem, classes);
    if (words.byteLength > deviceBinding) {
      throw new GpuError(`the Monte Carlo tables and source (${problem.sourceVoxel.length} active voxels, ${words.byteLength} bytes) exceed one GPU binding (${deviceBinding} bytes); use the CPU back end (--backend cpu)`);
    }
    const buffers: GPUBuffer[] = [];
    const make = (label: string, bytes: number, usage: GPUBufferUsageFlags): GPUBuffer => {
      const b = createBuffer(device, label, bytes, usage);
      buffers.push(b);
      return b;
    };
    const S = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST;
    const params = make('mc params', uniformByteSize(MC_PARAMS), GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
    const dataBuf = make('mc tables', words.byteLength, S);
    device.queue.writeBuffer(dataBuf, 0, words);
    const media: GPUBuffer[] = [];
    for (let c = 0; c < MC_MEDIA_BINDINGS; c++) {
      const from = Math.min(n, c * plan.mediaChunkVoxels);
      const to = Math.min(n, from + plan.mediaChunkVoxels);
      const b = make(`mc media ${c}`, Math.max(4, to - from) * 4, S);
      if (to > from) device.queue.writeBuffer(b, 0, problem.media, from, to - from);
      media.push(b);
    }
    const tallies: GPUBuffer[] = [];
    for (let c = 0; c < MC_TALLY_BINDINGS; c++) {
      const voxels = Math.max(0, Math.min(plan.tallyChunkVoxels, n - c * plan.tallyChunkVoxels));
      tallies.push(make(`mc tally ${c}`, (HEADER_WORDS + 2 * voxels) * 4, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST));
    }
    const { layout } = mcPipeline(device);
    const bindGroup = device.createBindGroup({
      label: 'mc_transport',
      layout,
      entries: [params, dataBuf, ...media, ...tallies].map((buffer, binding) => ({ binding, resource: { buffer } })),
    });
    const t = problem.tables;
    const c = t.cutoffs;
    const em = problem.emissions;
    const fixed: Record<string, number> = {
      nx: problem.dims[0],
      ny: problem.dims[1],
      nz: problem.dims[2],
      voxelCmX: problem.voxelCm[0],
      voxelCmY: problem.voxelCm[1],
      voxelCmZ: problem.voxelCm[2],
      weighted: classes.classOf ? 1 : 0,
      keyHi: MC_KEY_HI,
      nSource: problem.sourceVoxel.length,
      ...offsets,
      betaN: em.betaInverseCdfMeV.length,
      nLines: em.photonLines.length,
      mediaChunkVoxels: plan.mediaChunkVoxels,
      tallyChunkVoxels: plan.tallyChunkVoxels,
      lnMin: t.lnMinMeV,
      dLn: t.dLn,
      electronCutoffMeV: c.electronCutoffMeV,
      deltaThresholdMeV: c.deltaThresholdMeV,
      bremsThresholdMeV: c.bremsThresholdMeV,
      photonCutoffMeV: c.photonCutoffMeV,
      stepFraction: c.stepFraction,
      maxStepCm: c.maxStepCm,
      betasPerDecay: em.betasPerDecay,
      localMeVPerDecay: em.localMeVPerDecay,
    };
    current = { problem, plan, fixed, params, tallies, buffers, bindGroup };
    return current;
  };

  // The tally read back after every batch: the staging buffers stay with the problem (a fresh 8 B-per-voxel mapping
  // per batch cost page faults on every read), and the caller may hand the output array (McBatchRequest.energyInto).
  const readTallies = async (up: Uploaded, n: number, into?: Float64Array): Promise<{ energy: Float64Array; header: Float64Array }> => {
    const energy = into && into.length === n ? into : new Float64Array(n);
    const header = new Float64Array(HEADER_WORDS / 2);
    const sizes = up.tallies.map((_, c) => HEADER_WORDS + 2 * Math.max(0, Math.min(up.plan.tallyChunkVoxels, n - c * up.plan.tallyChunkVoxels)));
    const stagings = (up.stagings ??= up.tallies.map((_, c) => createBuffer(device, `mc tally readback ${c}`, sizes[c] * 4, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST)));
    const enc = device.createCommandEncoder();
    up.tallies.forEach((t, c) => {
      if (c === 0 || c < up.plan.tallyBuffers) enc.copyBufferToBuffer(t, 0, stagings[c], 0, sizes[c] * 4);
    });
    device.queue.submit([enc.finish()]);
    for (let c = 0; c < up.plan.tallyBuffers; c++) {
      await awaitGpu(stagings[c].mapAsync(GPUMapMode.READ, 0, sizes[c] * 4));
      try {
        const w = new Uint32Array(stagings[c].getMappedRange(0, sizes[c] * 4));
        if (c === 0) widenTally(w, 0, header, 0, header.length);
        widenTally(w, HEADER_WORDS, energy, c * up.plan.tallyChunkVoxels, (sizes[c] - HEADER_WORDS) / 2);
      } finally {
        stagings[c].unmap();
      }
    }
    return { energy, header };
  };

  return {
    name: 'webgpu',
    async run(problem: McProblem, request: McBatchRequest): Promise<McBatchResult> {
      const { seed, firstHistory, histories, onProgress } = request;
      if (!(Number.isInteger(histories) && histories >= 0 && Number.isInteger(firstHistory) && firstHistory >= 0 && firstHistory + histories <= Number.MAX_SAFE_INTEGER)) {
        throw new InputError(`histories ${firstHistory}..${firstHistory}+${histories} must be whole numbers >= 0 below 2^53`);
      }
      if (!(Number.isInteger(seed) && seed >= 0 && seed < 2 ** 32)) throw new InputError(`seed ${seed} must be a whole number in 0..2^32-1`);
      const n = problem.dims[0] * problem.dims[1] * problem.dims[2];
      return withGpuErrors(device, 'Monte Carlo transport', async () => {
        const up = upload(problem);
        const { pipeline } = mcPipeline(device);
        const clear = device.createCommandEncoder();
        for (const t of up.tallies) clear.clearBuffer(t);
        device.queue.submit([clear.finish()]);
        let done = 0;
        while (done < histories) {
          const count = Math.min(perDispatch, histories - done);
          const h0 = firstHistory + done;
          const values = { ...up.fixed, count, seed, firstLo: h0 % 4294967296, firstHi: Math.floor(h0 / 4294967296) };
          device.queue.writeBuffer(up.params, 0, packUniform(MC_PARAMS, values));
          const enc = device.createCommandEncoder();
          const pass = enc.beginComputePass();
          pass.setPipeline(pipeline);
          pass.setBindGroup(0, up.bindGroup);
          const [gx, gy] = dispatchGrid2d(Math.ceil(count / MC_WORKGROUP_SIZE), ctx.maxWorkgroupsPerDimension);
          pass.dispatchWorkgroups(gx, gy);
          pass.end();
          const t0 = performance.now();
          device.queue.submit([enc.finish()]);
          await awaitGpu(device.queue.onSubmittedWorkDone());
          const seconds = (performance.now() - t0) / 1000;
          done += count;
          if (tuning.historiesPerDispatch === undefined && count === perDispatch) {
            // adapt towards TARGET_SUBMIT_S per submit, at most doubling (or halving more) at once
            const scaled = perDispatch * Math.min(2, TARGET_SUBMIT_S / Math.max(seconds, 1e-4));
            perDispatch = Math.max(MC_WORKGROUP_SIZE, Math.min(MAX_HISTORIES_PER_DISPATCH, Math.round(scaled / MC_WORKGROUP_SIZE) * MC_WORKGROUP_SIZE));
          }
          onProgress?.(done / histories);
        }
        const { energy, header } = await readTallies(up, n, request.energyInto);
        return { energyUnits: energy, escapedUnits: header[0], emittedUnits: header[1], stackOverflows: header[2], histories };
      });
    },
    async dispose(): Promise<void> {
      release();
    },
  };
}
