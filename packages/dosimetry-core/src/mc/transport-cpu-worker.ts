/**
 * Worker thread of the CPU Monte Carlo (./transport-cpu.ts). Every message gets exactly one reply.
 * In: { problem, problemId } (keep this problem; replaces the previous one) -> { ok };
 *     { begin: { seed, exactF64 }, energy? } (a zero tally for the current problem; `energy`, the array of an earlier
 *       tally handed back, is zeroed and reused) -> { ok };
 *     { chunk: { first, count } } (run those histories into the tally) -> { done: count };
 *     { end: true } -> { tally } (the tally's energy array is transferred, then dropped here).
 * Errors: { error: message }.
 */
import { parentPort } from 'node:worker_threads';
import { createCpuTally, runHistoriesCpu, type CpuTally } from './history-cpu.ts';
import type { McProblem } from './types.ts';

let problem: McProblem | undefined;
let tally: CpuTally | undefined;
let seed = 0;

parentPort!.on('message', (m: { problem?: McProblem; problemId?: number; begin?: { seed: number; exactF64: boolean }; energy?: Float64Array; chunk?: { first: number; count: number }; end?: boolean }) => {
  try {
    if (m.problem) {
      problem = m.problem;
      tally = undefined;
      parentPort!.postMessage({ ok: true });
    } else if (m.begin) {
      if (!problem) throw new Error('no problem sent to the worker before a batch');
      // the array of this worker's previous batch, when handed back, is zeroed instead of a fresh one
      tally = createCpuTally(problem, { exactF64: m.begin.exactF64, energy: m.energy });
      seed = m.begin.seed;
      parentPort!.postMessage({ ok: true });
    } else if (m.chunk) {
      if (!problem || !tally) throw new Error('a chunk came before its batch began');
      runHistoriesCpu(problem, seed, m.chunk.first, m.chunk.count, tally);
      parentPort!.postMessage({ done: m.chunk.count });
    } else if (m.end) {
      if (!tally) throw new Error('a batch ended that never began');
      const t = tally;
      tally = undefined;
      parentPort!.postMessage(
        { tally: { energy: t.energy, emitted: t.emitted, escaped: t.escaped, stackOverflows: t.stackOverflows, histories: t.histories, electronSteps: t.electronSteps, photonSteps: t.photonSteps, roundedTerms: t.roundedTerms } },
        [t.energy.buffer as ArrayBuffer],
      );
    } else parentPort!.postMessage({ error: `unknown message ${Object.keys(m).join(',')}` });
  } catch (err) {
    parentPort!.postMessage({ error: err instanceof Error ? err.message : String(err) });
  }
});
parentPort!.postMessage({ ready: true });
