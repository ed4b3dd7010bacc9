/**
 * The FFT convolution on several CPU cores: the output planes of ./stream.ts split along z over this thread and worker
 * threads that read the input and write the output through SharedArrayBuffers (each part transforms the 2rz input
 * planes beyond its ends again). Every output plane is computed by exactly the code of the one-thread path, so the
 * result is the same bit for bit, for any number of threads. Node only (worker_threads, reached without a static
 * import so that browser bundles stay clean); in a browser, or with one core, it is convolveCpu.
 *
 * Threads: min(available cores, 4), or DOSIMETRY_THREADS. Workers start on first use and stay for later
 * convolutions, which run one after the other on them; between convolutions they are unref'd, so they never keep
 * the process alive. Small grids (< 2^20 bins of plane spectra over all planes) run on this thread alone unless in the
 * background: a cold worker pool costs ~50 ms.
 */
import { nodeBuiltin } from '../node-builtin.ts';
import { type MessageWorker, startMessageWorker, workerEntryUrl } from '../node-worker.ts';
import { insertBox, planCrop } from './crop.ts';
import { convolveCpu } from './cpu.ts';
import { convolveStreamRange, makeStreamKernel, streamPaddedDims } from './stream.ts';
import { checkConvolutionOptions, type ConvolutionOptions } from './types.ts';

type WorkerThreads = typeof import('node:worker_threads');
type NodeOs = typeof import('node:os');

/** Threads the parallel convolution uses (this one included). */
export function fftThreadCount(): number {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.DOSIMETRY_THREADS;
  if (env !== undefined && /^\d+$/.test(env) && Number(env) >= 1) return Math.min(16, Number(env));
  const os = nodeBuiltin<NodeOs>('node:os');
  if (!os || !nodeBuiltin<WorkerThreads>('node:worker_threads')) return 1;
  return Math.max(1, Math.min(4, typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length));
}

type PoolWorker = MessageWorker<{ done?: boolean; error?: string; ready?: boolean }>;

let pool: Promise<PoolWorker[]> | undefined;
let poolFailure: string | undefined;

/** The worker entry: the .ts source under tsx/vitest, the bundled .mjs beside the CLI bundle's chunks. */
const startWorker = (wt: WorkerThreads): PoolWorker => startMessageWorker(wt, workerEntryUrl(import.meta.url, './fft-worker.ts', './fft-worker.mjs'));

/** The worker pool (threads - 1 workers), started once; undefined when workers cannot run here. */
async function workers(count: number): Promise<PoolWorker[] | undefined> {
  if (poolFailure) return undefined;
  const wt = nodeBuiltin<WorkerThreads>('node:worker_threads');
  if (!wt || count < 1) return undefined;
  // as many workers as threads, so that a background convolution (no share for this thread) can use them all
  const size = Math.max(count, fftThreadCount());
  pool ??= (async () => {
    const ws = Array.from({ length: size }, () => startWorker(wt));
    for (const w of ws) w.worker.ref(); // alive until they answer
    // a worker that cannot load its module answers with an error; one that never answers is given up after 20 s
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<{ error: string }>((resolve) => {
      timer = setTimeout(() => resolve({ error: 'no answer from the worker within 20 s' }), 20_000);
    });
    const hello = await Promise.all(ws.map((w) => Promise.race([w.next(), timeout])));
    clearTimeout(timer);
    for (const w of ws) w.worker.unref();
    const bad = hello.find((h) => !('ready' in h) || !h.ready) as { error?: string } | undefined;
    if (bad) {
      for (const w of ws) void w.worker.terminate();
      throw new Error(bad.error ?? 'worker did not start');
    }
    return ws;
  })();
  try {
    const ws = await pool;
    return ws.slice(0, count);
  } catch (err) {
    poolFailure = (err as Error).message;
    pool = undefined;
    return undefined;
  }
}

/**
 * Starts the worker pool now, without waiting for it, so that its start-up (a new isolate per thread loading the FFT
 * module, 30-100 ms) overlaps with reading the inputs. Harmless when the convolution later runs on WebGPU or on one
 * thread: idle workers keep nothing alive.
 */
export function prewarmFftWorkers(): void {
  const threads = fftThreadCount();
  if (threads > 1) void workers(threads);
}

/** Why the last attempt to start worker threads failed (the convolution then ran on one thread), if it did. */
export function fftWorkersUnavailableReason(): string | undefined {
  return poolFailure;
}

/**
 * convolveCpu on several threads (same result bit for bit; see the module comment). Falls back to one thread when
 * worker threads are unavailable or the grid is small.
 */
export interface ConvolveAsyncOptions {
  /**
   * Leave this thread free: the convolution runs on the worker threads alone (z split over all of them, in place on
   * one shared float32 copy of the input, which is returned: no other full-size array), so that this thread can do
   * other work meanwhile (the dose pipeline brings the structures onto the grid). This thread only crops and copies.
   * Default false: z is split over this thread and the workers, and this thread is busy until the end.
   */
  readonly background?: boolean;
  /** Called once the convolution runs without needing this thread (in the background: once handed to the workers). */
  readonly onRunning?: () => void;
}

export async function convolveCpuAsync(opts: ConvolutionOptions, how: ConvolveAsyncOptions = {}): Promise<Float32Array> {
  checkConvolutionOptions(opts);
  const threads = fftThreadCount();
  if (how.background && threads > 1) {
    const bw = await workers(threads);
    if (bw) return convolveInBackground(opts, bw, how.onRunning);
  }
  how.onRunning?.(); // from here on this thread takes part (or does it all)
  const crop = planCrop(opts);
  if (crop.kind === 'empty') {
    opts.onProgress?.(1);
    return new Float32Array(opts.volume.length);
  }
  const whole = crop.kind === 'whole' ? opts : crop.opts;
  const pd = streamPaddedDims(whole.dims, whole.kernelRadius);
  const bins = ((pd[0] >> 1) + 1) * pd[1] * whole.dims[2];
  const ws = threads > 1 && bins >= 2 ** 20 ? await workers(threads - 1) : undefined;
  if (!ws) return convolveCpu(opts);
  const out = await onPool(ws, () => convolveWholeParallel(whole, ws));
  return crop.kind === 'whole' ? out : insertBox(out, opts.dims, crop.box);
}

/** Tail of the convolutions queued on the pool. */
let poolQueue: Promise<unknown> = Promise.resolve();

/**
 * Runs `job` on the pool after the convolutions queued before it (the workers hold one state each), with `ws` ref'd
 * meanwhile so that the process stays alive while their replies are due.
 */
function onPool<T>(ws: readonly PoolWorker[], job: () => Promise<T>): Promise<T> {
  const run = poolQueue.then(async () => {
    for (const w of ws) w.worker.ref();
    try {
      return await job();
    } finally {
      for (const w of ws) w.worker.unref();
    }
  });
  poolQueue = run.catch(() => undefined);
  return run;
}

/** A copy of `a` on shared memory (for worker threads). */
function sharedCopy(a: Float32Array): Float32Array {
  const c = new Float32Array(new SharedArrayBuffer(4 * a.length));
  c.set(a);
  return c;
}

/**
 * The whole convolution on the workers alone, in place on a shared copy of the input (of the support's box when
 * cropping applies): this thread crops and copies the input in, the workers split z (convolveStreamInPlacePart), and
 * the result is that shared array (no second full-size copy) or the box put back into the grid. Queued like the split
 * runs (the workers are shared).
 */
async function convolveInBackground(opts: ConvolutionOptions, ws: readonly PoolWorker[], onRunning?: () => void): Promise<Float32Array> {
  // the support's box is cut straight into shared memory (no private copy of it beside the shared one)
  const crop = planCrop(opts, (n) => new Float32Array(new SharedArrayBuffer(4 * n)));
  if (crop.kind === 'empty') {
    onRunning?.();
    opts.onProgress?.(1);
    return new Float32Array(opts.volume.length);
  }
  const whole = crop.kind === 'whole' ? opts : crop.opts;
  const data = crop.kind === 'whole' ? sharedCopy(whole.volume) : whole.volume;
  const kernel = sharedCopy(opts.kernel);
  const nz = whole.dims[2];
  const parts = Math.min(ws.length, nz);
  const cut = zCuts(nz, parts);
  const barrier = new Int32Array(new SharedArrayBuffer(4));
  const mine = ws.slice(0, parts);
  await onPool(mine, async () => {
    const replies = mine.map((w, i) => {
      w.worker.postMessage({ inPlace: { volume: data, dims: [...whole.dims], kernel, kernelRadius: [...whole.kernelRadius], zFrom: cut(i), zTo: cut(i + 1), barrier, parts } });
      return w.next();
    });
    onRunning?.();
    for (const r of await Promise.all(replies)) {
      if (r.error) throw new Error(`FFT worker failed: ${r.error}`);
    }
  });
  opts.onProgress?.(1);
  return crop.kind === 'whole' ? data : insertBox(data, opts.dims, crop.box);
}

/** z split in `parts` ranges of output planes (part p: [cut(p), cut(p + 1))). */
function zCuts(nz: number, parts: number): (p: number) => number {
  return (p) => Math.round((p * nz) / parts);
}

async function convolveWholeParallel(opts: ConvolutionOptions, ws: PoolWorker[]): Promise<Float32Array> {
  const out = new Float32Array(new SharedArrayBuffer(4 * opts.volume.length));
  const volume = sharedCopy(opts.volume);
  const kernel = sharedCopy(opts.kernel);
  const nz = opts.dims[2];
  const parts = ws.length + 1;
  const cut = zCuts(nz, parts);
  // parts: this thread, worker 0, worker 1, ...; each computes the kernel's plane spectra itself (the same bits)
  const replies = ws.map((w, i) => {
    w.worker.postMessage({ part: { volume, out, dims: [...opts.dims], kernel, kernelRadius: [...opts.kernelRadius], zFrom: cut(i + 1), zTo: cut(i + 2) } });
    return w.next();
  });
  const mine = cut(1) - cut(0);
  convolveStreamRange(makeStreamKernel({ ...opts, volume, kernel }), volume, out, cut(0), cut(1), { onProgress: (f) => opts.onProgress?.((f * mine) / nz) });
  for (const r of await Promise.all(replies)) {
    if (r.error) throw new Error(`FFT worker failed: ${r.error}`);
  }
  opts.onProgress?.(1);
  return out;
}
