/**
 * Worker thread of the parallel FFT convolution (./fft-workers.ts).
 * Messages in (arrays on shared memory): { part } (output planes [zFrom, zTo) of a convolution, from part.volume
 * into part.out) or { inPlace } (planes [zFrom, zTo) of a convolution done in place on inPlace.volume by `parts`
 * threads meeting at `barrier`); out: { done: true } or { error } after each message.
 */
import { parentPort } from 'node:worker_threads';
import { convolveStreamInPlacePart, convolveStreamRange, makeStreamKernel } from './stream.ts';

interface Part {
  readonly volume: Float32Array;
  readonly dims: [number, number, number];
  readonly kernel: Float32Array;
  readonly kernelRadius: [number, number, number];
  readonly zFrom: number;
  readonly zTo: number;
}

parentPort!.on('message', (m: { part?: Part & { out: Float32Array }; inPlace?: Part & { barrier: Int32Array; parts: number } }) => {
  try {
    if (m.part) {
      const { volume, out, zFrom, zTo } = m.part;
      convolveStreamRange(makeStreamKernel(m.part), volume, out, zFrom, zTo);
    } else if (m.inPlace) {
      const { zFrom, zTo, barrier, parts } = m.inPlace;
      convolveStreamInPlacePart(m.inPlace, zFrom, zTo, barrier, parts);
    }
    parentPort!.postMessage({ done: true });
  } catch (err) {
    parentPort!.postMessage({ error: err instanceof Error ? err.message : String(err) });
  }
});
parentPort!.postMessage({ ready: true });
warmUp();

/**
 * Runs two small convolutions (a mirror-symmetric kernel and an asymmetric one; FFT lengths 45 and 40: radices 2, 3, 4
 * and 5) right after start, while the main thread still reads the inputs, so that the first real convolution starts
 * on optimised code (about 100 ms saved per thread on the 192^3 case; the first messages wait for it, ~0.1 s).
 */
function warmUp(): void {
  const dims: [number, number, number] = [40, 36, 16];
  const r: [number, number, number] = [3, 3, 3];
  for (const symmetric of [true, false]) {
    const kernel = Float32Array.from({ length: 343 }, (_, q) => {
      const x = (q % 7) - 3, y = (Math.floor(q / 7) % 7) - 3, z = Math.floor(q / 49) - 3;
      return symmetric ? 1 / (1 + x * x + y * y + z * z) : 1 / (1 + q);
    });
    const volume = Float32Array.from({ length: dims[0] * dims[1] * dims[2] }, (_, i) => i % 7);
    convolveStreamRange(makeStreamKernel({ volume, dims, kernel, kernelRadius: r }), volume, volume, 0, dims[2]);
  }
}
