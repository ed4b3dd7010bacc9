/**
 * Memory a dose computation needs, estimated before it starts, so that a grid too large for the machine is refused
 * with one line naming the grid and the memory (instead of failing half-way with "Array buffer allocation failed").
 */
import { MemoryError, isOutOfMemory } from '../errors.ts';
import { nextFastLength } from '../convolution/fft.ts';
import { type Geometry, voxelCount } from '../volume/geometry.ts';

const GIB = 1024 ** 3;

/**
 * Bytes a dose computation on `grid` needs beyond its inputs: float32 calibrated activity, density and dose maps, the
 * structures' sparse indices and weights (up to a few full-grid maps), and for DVK the convolution's working set: it
 * runs in place on a float32 copy that becomes the dose map, streamed along z (src/convolution/stream.ts), each of up
 * to 4 threads holding 2 x 16 + 4r + 2 plane spectra of (Px/2 + 1) x Py complex f64 values, whatever the number of
 * planes. For Monte Carlo (src/mc/run.ts): the packed media (u32) and an f32 density copy of the problem, the running
 * sums S1, S2 (f64 each), the batch tally (f64) and up to 4 per-thread tallies (f64), the uncertainty map (f32), the
 * compact index (i32), and the 10 batch tallies kept for the structure statistics (f32 over the structures' voxels,
 * counted as the whole grid; a target-uncertainty run keeps up to 32).
 */
export function estimateDoseMemoryBytes(grid: Geometry, method: 'ldm' | 'dvk' | 'mc', kernelRadiusVoxels = 8): number {
  const n = voxelCount(grid);
  const maps = 4 * 4 * n; // activity (f32 copy), calibrated activity, density, dose
  const structures = 2 * 8 * n; // sparse voxel indices (u32) + weights (f32) of a few grid-filling structures
  if (method === 'ldm') return maps + structures;
  if (method === 'mc') return maps + structures + (4 + 4 + 8 + 8 + 8 + 4 * 8 + 4 + 4) * n + 10 * 4 * n;
  const r = kernelRadiusVoxels;
  const planeBytes = 16 * ((nextFastLength(grid.dims[0] + r) >> 1) + 1) * nextFastLength(grid.dims[1] + r);
  return maps + structures + 4 * (2 * 16 + 4 * r + 2) * planeBytes;
}

/** Memory the machine can give this process [bytes]: the smaller of physical memory and a cgroup limit. */
export async function availableMemoryBytes(): Promise<number> {
  const os = await import('node:os');
  let limit = os.totalmem();
  try {
    const { readFileSync } = await import('node:fs');
    const text = readFileSync('/sys/fs/cgroup/memory.max', 'utf8').trim();
    if (/^\d+$/.test(text)) limit = Math.min(limit, Number(text));
  } catch {
    // no cgroup v2 limit
  }
  return limit;
}

const gib = (b: number) => `${(b / GIB).toFixed(1)} GiB`;
const describeGrid = (g: Geometry) => `${g.dims.join('x')} (${g.spacingMm.map((x) => +x.toFixed(3)).join(' x ')} mm)`;

/** Refuses a computation whose estimate exceeds the machine's memory, naming the grid and both figures. */
export async function assertMemoryFor(grid: Geometry, method: 'ldm' | 'dvk' | 'mc'): Promise<void> {
  if (typeof process === 'undefined' || typeof process.versions?.node !== 'string') return;
  const need = estimateDoseMemoryBytes(grid, method);
  const have = await availableMemoryBytes();
  if (need > have) {
    throw new MemoryError(
      `not enough memory for ${method.toUpperCase()} on the ${describeGrid(grid)} activity grid: it needs about ${gib(need)} and this machine has ${gib(have)}; crop the image to the liver region or resample it to larger voxels`,
    );
  }
}

/** Turns an allocation failure into a MemoryError naming the grid; other errors pass unchanged. */
export function asMemoryError(err: unknown, grid: Geometry, method: 'ldm' | 'dvk' | 'mc'): unknown {
  if (!isOutOfMemory(err)) return err;
  return new MemoryError(
    `ran out of memory computing ${method.toUpperCase()} on the ${describeGrid(grid)} activity grid (about ${gib(estimateDoseMemoryBytes(grid, method))} needed; ${(err as Error).message}); crop the image to the liver region, resample it to larger voxels, or free memory`,
    { cause: err },
  );
}
