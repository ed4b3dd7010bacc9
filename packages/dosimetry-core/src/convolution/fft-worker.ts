/**
 * Worker thread of the parallel FFT convolution (./fft-workers.ts): runs the index ranges of phases it is sent, on
 * the shared state it was given, with its own plans and scratch lines.
 * Messages in: { job } (a whole convolution, convolveCpu into job.out), or { state } once then { phase, from, to }
 * (one part of a phase); out: { done: true } or { error } after each message (none after { state }).
 */
import { parentPort } from 'node:worker_threads';
import { type FftConvState, type FftPhase, type FftWorkspace, convolveCpu, makeFftWorkspace, runFftPhase } from './cpu.ts';

let state: FftConvState | undefined;
let ws: FftWorkspace | undefined;
interface Job {
  readonly volume: Float32Array;
  readonly out: Float32Array;
  readonly dims: [number, number, number];
  readonly kernel: Float32Array;
  readonly kernelRadius: [number, number, number];
  readonly cropToSupport?: boolean;
}

parentPort!.on('message', (m: { state?: FftConvState; phase?: FftPhase; from?: number; to?: number; job?: Job }) => {
  try {
    if (m.job) {
      // a whole convolution (crop to the support, FFT, back into the grid) on this thread, into shared memory
      const { volume, out, dims, kernel, kernelRadius, cropToSupport } = m.job;
      out.set(convolveCpu({ volume, dims, kernel, kernelRadius, cropToSupport }));
      parentPort!.postMessage({ done: true });
      return;
    }
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
