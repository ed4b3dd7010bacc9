/**
 * The CPU back end of the Monte Carlo (`--method mc`, McTransport of ./types.ts): the histories of a batch are cut
 * into fixed chunks (1024 histories by default) handed to worker threads; each worker runs its chunks with
 * runHistoriesCpu (./history-cpu.ts: the algorithm, the oracle of shaders/mc_transport.wgsl) into its own tally of
 * integer units, and the tallies are summed here. Integer sums do not depend on the order of addition, and a history
 * is a pure function of (problem, seed, h), so a batch gives byte-identical tallies for any number of threads and any
 * assignment of chunks to workers.
 *
 * Threads: `threads` option, else $DOSIMETRY_THREADS, else the available cores (at most 16). With one thread, or where
 * worker threads cannot start (a browser; the built CLI without its mc-worker.mjs), the histories run on this thread
 * in order, yielding to the event loop every {@link MC_CPU_YIELD_MS} (a page stays responsive).
 * Memory: each worker holds a copy of the problem (media: 4 B/voxel) and one Float64Array tally of the grid
 * (8 B/voxel); this thread one more for the sum.
 * Workers load ./transport-cpu-worker.ts (under tsx/vitest, through tsx's API as ../convolution/fft-workers.ts does) or
 * mc-worker.mjs beside the CLI bundle's chunks.
 */
import { InputError } from '../errors.ts';
import { nodeBuiltin } from '../node-builtin.ts';
import { type MessageWorker, startMessageWorker, workerEntryUrl } from '../node-worker.ts';
import { createCpuTally, runHistoriesCpu, type CpuTally } from './history-cpu.ts';
import type { McBatchRequest, McBatchResult, McProblem, McTransport } from './types.ts';

export { createCpuTally, runHistoriesCpu, MC_STACK_CAPACITY, MC_MAX_STEPS_PER_PARTICLE, MC_MAX_TRIALS, type CpuTally } from './history-cpu.ts';

type WorkerThreads = typeof import('node:worker_threads');
type NodeOs = typeof import('node:os');

/** Histories per chunk handed to a worker (about 0.05 s of 90Y in water at 2.21 mm voxels on one core). */
export const MC_CPU_CHUNK_HISTORIES = 1024;

/** Options of {@link cpuMcTransport}. */
export interface CpuMcTransportOptions {
  /** Threads (workers); default $DOSIMETRY_THREADS or the available cores, at most 16. 1: this thread only. */
  readonly threads?: number;
  /** Histories per chunk (default {@link MC_CPU_CHUNK_HISTORIES}); the result does not depend on it. */
  readonly chunkHistories?: number;
  /**
   * Tally unrounded f64 energies [MeV] instead of integer units (the oracle of the rounding; sums then depend on the
   * order of addition in their last bits, so results with several threads are not byte-identical). energyUnits,
   * emittedUnits and escapedUnits are then in MeV.
   */
  readonly exactF64?: boolean;
}

/** A batch result of the CPU back end, with the cost counters of the transport. */
export interface CpuMcBatchResult extends McBatchResult {
  /** Electron steps of the batch (all electrons). */
  readonly electronSteps: number;
  /** Photon flights (real and virtual interactions) of the batch. */
  readonly photonSteps: number;
  /** Rounded terms of the batch: |Σ energyUnits + escapedUnits − emittedUnits| <= roundedTerms / 2. */
  readonly roundedTerms: number;
  /** Threads that ran the batch. */
  readonly threads: number;
}

/** The CPU McTransport, with the number of threads it uses and why workers could not start, if they could not. */
export interface CpuMcTransport extends McTransport {
  readonly name: 'cpu';
  run(problem: McProblem, request: McBatchRequest): Promise<CpuMcBatchResult>;
  readonly threads: number;
  /** Why worker threads could not be used (the batches then ran on one thread), if so. */
  workersUnavailableReason(): string | undefined;
}

/** Threads of the CPU Monte Carlo by default. */
export function mcThreadCount(): number {
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.DOSIMETRY_THREADS;
  if (env !== undefined && /^\d+$/.test(env) && Number(env) >= 1) return Math.min(16, Number(env));
  const os = nodeBuiltin<NodeOs>('node:os');
  if (!os || !nodeBuiltin<WorkerThreads>('node:worker_threads')) return 1;
  return Math.max(1, Math.min(16, typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length));
}

interface Reply {
  ready?: boolean;
  ok?: boolean;
  done?: number;
  error?: string;
  tally?: Omit<CpuTally, 'exactF64'>;
}

interface PoolWorker extends MessageWorker<Reply> {
  /** Problem the worker holds. */
  problem?: McProblem;
  /** The tally array this worker sent with its last batch, handed back with the next `begin` to be reused. */
  spare?: Float64Array;
}

/** The worker entry: the .ts source under tsx/vitest, mc-worker.mjs beside the CLI bundle's chunks. */
const startWorker = (wt: WorkerThreads): PoolWorker => startMessageWorker<Reply>(wt, workerEntryUrl(import.meta.url, './transport-cpu-worker.ts', './mc-worker.mjs'));

function checkRequest(r: McBatchRequest): void {
  if (!(Number.isInteger(r.seed) && r.seed >= 0 && r.seed <= 0xffffffff)) throw new InputError(`seed ${r.seed} must be a whole number in 0..2^32-1`);
  if (!(Number.isInteger(r.firstHistory) && r.firstHistory >= 0)) throw new InputError(`first history ${r.firstHistory} must be a whole number >= 0`);
  if (!(Number.isInteger(r.histories) && r.histories >= 0)) throw new InputError(`histories ${r.histories} must be a whole number >= 0`);
  if (r.firstHistory + r.histories > Number.MAX_SAFE_INTEGER) throw new InputError('history indices beyond 2^53');
}

/**
 * Lets the event loop run (timers, messages; in a page input and drawing). In a page: a MessageChannel message, a
 * plain task that is not clamped as nested setTimeout(0) is (>= 4 ms each) and that, unlike scheduler.yield()'s
 * prioritised continuation, lets the page's timers run too. In Node: setTimeout(0).
 */
const yieldToEventLoop = (): Promise<void> => {
  if (typeof (globalThis as { document?: unknown }).document !== 'undefined' && typeof MessageChannel === 'function') {
    return new Promise<void>((resolve) => {
      const ch = new MessageChannel();
      ch.port1.onmessage = () => {
        ch.port1.close();
        resolve();
      };
      ch.port2.postMessage(0);
    });
  }
  return new Promise<void>((resolve) => setTimeout(resolve, 0));
};

/**
 * The one-thread path (a browser, or no workers) runs a batch in slices of this many histories and yields to the event
 * loop whenever {@link MC_CPU_YIELD_MS} have passed, so that a page stays responsive (a whole chunk of 1024 histories
 * takes ~0.2 s of 90Y). Histories run in the same order either way, so the tally is the same (f64 tallies too).
 */
export const MC_CPU_SLICE_HISTORIES = 32;
/** Longest time [ms] the one-thread path runs histories without yielding to the event loop (beyond one slice). */
export const MC_CPU_YIELD_MS = 40;

/**
 * The CPU Monte Carlo back end (see the module header). Call dispose() when done to stop its workers (idle workers
 * never keep the process alive).
 */
export function cpuMcTransport(opts: CpuMcTransportOptions = {}): CpuMcTransport {
  const threads = opts.threads ?? mcThreadCount();
  if (!(Number.isInteger(threads) && threads >= 1 && threads <= 256)) throw new InputError(`threads ${threads} must be a whole number in 1..256`);
  const chunk = opts.chunkHistories ?? MC_CPU_CHUNK_HISTORIES;
  if (!(Number.isInteger(chunk) && chunk >= 1)) throw new InputError(`chunkHistories ${chunk} must be a whole number >= 1`);
  const exactF64 = opts.exactF64 === true;
  let pool: Promise<PoolWorker[] | undefined> | undefined;
  let failure: string | undefined;
  /** Tail of the batches queued on the pool (one batch at a time: the workers hold one tally each). */
  let queue: Promise<unknown> = Promise.resolve();

  const workers = (): Promise<PoolWorker[] | undefined> => {
    const wt = nodeBuiltin<WorkerThreads>('node:worker_threads');
    if (threads < 2 || !wt) return Promise.resolve(undefined);
    pool ??= (async () => {
      let ws: PoolWorker[];
      try {
        ws = Array.from({ length: threads }, () => startWorker(wt));
      } catch (err) {
        failure = `worker threads could not start: ${(err as Error).message}`;
        return undefined;
      }
      for (const w of ws) w.worker.ref();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<Reply>((resolve) => {
        timer = setTimeout(() => resolve({ error: 'no answer from the worker within 20 s' }), 20_000);
      });
      const hello = await Promise.all(ws.map((w) => Promise.race([w.next(), timeout])));
      clearTimeout(timer);
      for (const w of ws) w.worker.unref();
      const bad = hello.find((h) => !h.ready);
      if (bad) {
        for (const w of ws) void w.worker.terminate();
        failure = bad.error ?? 'worker did not start';
        return undefined;
      }
      return ws;
    })();
    return pool;
  };

  const runHere = async (problem: McProblem, r: McBatchRequest): Promise<CpuTally> => {
    const tally = createCpuTally(problem, { exactF64, energy: r.energyInto });
    // slices of MC_CPU_SLICE_HISTORIES in history order, a yield every MC_CPU_YIELD_MS (see there)
    let since = performance.now();
    for (let h = 0; h < r.histories; ) {
      const count = Math.min(MC_CPU_SLICE_HISTORIES, r.histories - h);
      runHistoriesCpu(problem, r.seed, r.firstHistory + h, count, tally);
      h += count;
      if (h < r.histories && performance.now() - since >= MC_CPU_YIELD_MS) {
        r.onProgress?.(h / r.histories);
        await yieldToEventLoop();
        since = performance.now();
      }
    }
    r.onProgress?.(1);
    return tally;
  };

  const runOnPool = async (ws: PoolWorker[], problem: McProblem, r: McBatchRequest): Promise<CpuTally> => {
    for (const w of ws) w.worker.ref();
    try {
      const ask = async (w: PoolWorker, msg: unknown, transfer?: ArrayBuffer[]): Promise<Reply> => {
        w.worker.postMessage(msg, transfer ?? []);
        const reply = await w.next();
        if (reply.error) throw new Error(`Monte Carlo worker failed: ${reply.error}`);
        return reply;
      };
      let nextChunk = 0;
      let done = 0;
      const chunks = Math.ceil(r.histories / chunk);
      const runWorker = async (w: PoolWorker): Promise<Omit<CpuTally, 'exactF64'>> => {
        if (w.problem !== problem) {
          await ask(w, { problem });
          w.problem = problem;
        }
        // the worker's previous tally goes back to it (zeroed there): no fresh grid-sized array per batch and worker
        const spare = w.spare && w.spare.length === problem.dims[0] * problem.dims[1] * problem.dims[2] ? w.spare : undefined;
        w.spare = undefined;
        await ask(w, { begin: { seed: r.seed, exactF64 }, ...(spare ? { energy: spare } : {}) }, spare ? [spare.buffer as ArrayBuffer] : undefined);
        while (nextChunk < chunks) {
          const c = nextChunk++;
          const first = c * chunk;
          const count = Math.min(chunk, r.histories - first);
          await ask(w, { chunk: { first: r.firstHistory + first, count } });
          done += count;
          r.onProgress?.(done / r.histories);
        }
        return (await ask(w, { end: true })).tally!;
      };
      const parts = await Promise.all(ws.map(runWorker));
      // into the caller's array when it gave one (McBatchRequest.energyInto), else a fresh one
      const total = createCpuTally(problem, { exactF64, energy: r.energyInto });
      parts.forEach((p, k) => {
        const e = p.energy;
        const out = total.energy;
        if (k === 0) out.set(e);
        else for (let v = 0; v < out.length; v++) out[v] += e[v];
        ws[k].spare = e;
        total.emitted += p.emitted;
        total.escaped += p.escaped;
        total.stackOverflows += p.stackOverflows;
        total.histories += p.histories;
        total.electronSteps += p.electronSteps;
        total.photonSteps += p.photonSteps;
        total.roundedTerms += p.roundedTerms;
      });
      return total;
    } finally {
      for (const w of ws) w.worker.unref();
    }
  };

  return {
    name: 'cpu',
    threads,
    workersUnavailableReason: () => failure,
    run(problem: McProblem, request: McBatchRequest): Promise<CpuMcBatchResult> {
      checkRequest(request);
      const job = queue.then(async () => {
        const all = request.histories > chunk ? await workers() : undefined;
        const ws = all?.slice(0, Math.min(all.length, Math.ceil(request.histories / chunk)));
        let t: CpuTally;
        if (ws) {
          try {
            t = await runOnPool(ws, problem, request);
          } catch (err) {
            // the other workers may still be answering this batch: drop the whole pool, the next batch starts afresh
            pool = undefined;
            await Promise.all(all!.map((w) => w.worker.terminate()));
            throw err;
          }
        } else t = await runHere(problem, request);
        if (request.histories === 0) request.onProgress?.(1);
        return {
          energyUnits: t.energy,
          emittedUnits: t.emitted,
          escapedUnits: t.escaped,
          stackOverflows: t.stackOverflows,
          histories: t.histories,
          electronSteps: t.electronSteps,
          photonSteps: t.photonSteps,
          roundedTerms: t.roundedTerms,
          threads: ws ? ws.length : 1,
        };
      });
      queue = job.catch(() => undefined);
      return job;
    },
    async dispose(): Promise<void> {
      const p = pool;
      pool = undefined;
      const ws = p ? await p : undefined;
      if (ws) await Promise.all(ws.map((w) => w.worker.terminate()));
    },
  };
}
