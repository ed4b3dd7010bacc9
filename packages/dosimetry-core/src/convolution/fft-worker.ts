/**
 * Worker thread of the parallel FFT convolution (./fft-workers.ts): runs the index ranges of phases it is sent, on
 * the shared state it was given, with its own plans and scratch lines.
 * Messages in: { state } once, then { phase, from, to }; out: { done: true } or { error } after each phase.
 */
import { parentPort } from 'node:worker_threads';
import { type FftConvState, type FftPhase, type FftWorkspace, makeFftWorkspace, runFftPhase } from './cpu.ts';

let state: FftConvState | undefined;
let ws: FftWorkspace | undefined;
parentPort!.on('message', (m: { state?: FftConvState; phase?: FftPhase; from?: number; to?: number }) => {
  try {
    if (m.state) {
      state = m.state;
      ws = makeFftWorkspace(state);
      return;
    }
    runFftPhase(state!, ws!, m.phase!, m.from!, m.to!);
    parentPort!.postMessage({ done: true });
  } catch (err) {
    parentPort!.postMessage({ error: err instanceof Error ? err.message : String(err) });
  }
});
parentPort!.postMessage({ ready: true });
