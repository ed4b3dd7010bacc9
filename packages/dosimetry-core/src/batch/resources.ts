/**
 * How many cases of a batch run at once: one per core, fewer when the machine's memory cannot hold that many of the
 * largest case. A case's memory is src/dose/memory.ts's estimate for its activity grid and method (the grid read from
 * the image header, a few kB, never the whole image) plus the process itself; images whose header is not read here
 * (DICOM folders) are bounded by their size on disk. The estimate is an upper bound: the bundled phantom's LDM case
 * is estimated at 0.22 GiB and peaks at 93 MB; 512x512x400 LDM at 3.3 GiB against the 1.46 GB measured (README,
 * Benchmarks). Monte Carlo has its own estimate (src/dose/memory.ts: problem, running sums, tallies and kept batches);
 * plan --territories --method mc adds what each further territory's run keeps until the plan is combined.
 */
import { closeSync, openSync, readdirSync, readSync, statSync } from 'node:fs';
import { constants as zlibConstants, gunzipSync } from 'node:zlib';
import { join } from 'node:path';
import { estimateDoseMemoryBytes } from '../dose/memory.ts';
import { IDENTITY_DIRECTION, type Geometry } from '../volume/geometry.ts';
import type { BatchCase } from './manifest.ts';

const GIB = 1024 ** 3;
/**
 * Memory of a CLI process beside its voxel arrays (Node, the bundle, zlib and the thread pools) [bytes]: the bundled
 * phantom's dose (96x84x80 voxels, 2.5 MB as float32) peaks at 93 MB RSS for LDM and 128 MB for DVK; rounded up.
 */
export const PROCESS_BASELINE_BYTES = 200 * 1024 ** 2;
/** Share of the machine's memory the batch plans to fill: the rest for the OS, the page cache and estimate errors. */
export const MEMORY_SHARE = 0.8;

function readHead(path: string, bytes: number): Uint8Array {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(bytes);
    const n = readSync(fd, buf, 0, bytes, 0);
    return buf.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

/** Product of the first three of a header's sizes (at least 1 each), or undefined. */
const product3 = (sizes: number[]) => (sizes.length >= 3 && sizes.slice(0, 3).every((n) => Number.isInteger(n) && n >= 1) ? (sizes.slice(0, 3) as [number, number, number]) : undefined);

/**
 * The voxel dims of an image from its header (NIfTI-1/2, gzipped or not; NRRD/NHDR; MetaImage), or undefined when the
 * format is another or the header cannot be read (the reader itself reports a broken file when the case runs).
 */
export function headerDims(path: string): [number, number, number] | undefined {
  const lower = path.toLowerCase();
  try {
    if (lower.endsWith('.nii') || lower.endsWith('.nii.gz')) {
      let head = readHead(path, 64 * 1024);
      if (lower.endsWith('.gz')) head = gunzipSync(head, { finishFlush: zlibConstants.Z_SYNC_FLUSH });
      const v = new DataView(head.buffer, head.byteOffset, head.byteLength);
      for (const le of [true, false]) {
        const size = v.getInt32(0, le);
        if (size === 348) return product3([1, 2, 3].map((k) => v.getInt16(40 + 2 * k, le)));
        if (size === 540) return product3([1, 2, 3].map((k) => Number(v.getBigInt64(16 + 8 * k, le))));
      }
      return undefined;
    }
    if (lower.endsWith('.nrrd') || lower.endsWith('.nhdr') || lower.endsWith('.mha') || lower.endsWith('.mhd')) {
      const text = Buffer.from(readHead(path, 64 * 1024)).toString('latin1');
      const m = /^(?:sizes:|DimSize\s*=)\s*([0-9 \t]+)$/im.exec(text);
      return m ? product3(m[1].trim().split(/\s+/).map(Number)) : undefined;
    }
  } catch {
    return undefined;
  }
  return undefined;
}

/** Bytes on disk of a file, or of every file under a folder; undefined when the path cannot be read. */
function bytesOnDisk(path: string): number | undefined {
  try {
    const st = statSync(path);
    if (!st.isDirectory()) return st.size;
    let sum = 0;
    for (const e of readdirSync(path, { withFileTypes: true })) sum += e.isFile() || e.isDirectory() ? bytesOnDisk(join(path, e.name)) ?? 0 : 0;
    return sum;
  } catch {
    return undefined;
  }
}

/** The last value of `--name` in a case's args. */
function argValue(args: readonly string[], name: string): string | undefined {
  let v: string | undefined;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === `--${name}` && i + 1 < args.length) v = args[i + 1];
    else if (args[i].startsWith(`--${name}=`)) v = args[i].slice(name.length + 3);
  }
  return v;
}

/**
 * Memory one case needs [bytes] (see the module comment), or undefined when its activity image is neither a header
 * this module reads nor a local path (DICOMweb).
 */
export function caseMemoryBytes(c: BatchCase): number | undefined {
  const activity = argValue(c.args, 'activity');
  if (activity === undefined) return undefined;
  const m = argValue(c.args, 'method');
  // plan defaults to LDM; dose requires --method (an unknown one is estimated as DVK, the larger of LDM and DVK)
  const method = m === 'mc' ? 'mc' : m === 'ldm' || (c.command === 'plan' && m === undefined) ? 'ldm' : 'dvk';
  let dims = headerDims(activity);
  if (!dims) {
    // a DICOM series or another format: about 2 bytes per voxel on disk (16-bit pixels)
    const bytes = bytesOnDisk(activity);
    if (bytes === undefined) return undefined;
    dims = [Math.max(1, Math.ceil(bytes / 2)), 1, 1];
  }
  const grid: Geometry = { dims, spacingMm: [1, 1, 1], originLpsMm: [0, 0, 0], direction: IDENTITY_DIRECTION };
  const ct = argValue(c.args, 'ct');
  const ctDims = ct ? headerDims(ct) : undefined;
  const ctBytes = ct ? (ctDims ? 8 * ctDims[0] * ctDims[1] * ctDims[2] : 4 * (bytesOnDisk(ct) ?? 0)) : 0; // HU and densities, float32
  const n = dims[0] * dims[1] * dims[2];
  // plan --territories --method mc: the territories' runs one after the other (the estimate of one run), each
  // territory's case then kept until the plan is combined: its dose, activity and uncertainty maps (f32) and its 10
  // kept batch tallies (f32, counted over the whole grid as in src/dose/memory.ts)
  const territories = method === 'mc' && c.command === 'plan' ? territoryCount(argValue(c.args, 'territories')) : 1;
  const keptPerTerritory = (3 + MC_KEPT_BATCH_MAPS) * 4 * n;
  return PROCESS_BASELINE_BYTES + estimateDoseMemoryBytes(grid, method) + ctBytes + Math.max(0, territories - 1) * keptPerTerritory;
}

/** Batch tallies a Monte Carlo case keeps per run in src/dose/memory.ts's estimate. */
const MC_KEPT_BATCH_MAPS = 10;

/** Territories in a plan's territories file (1 when none is given or the file cannot be read: the reader says why). */
function territoryCount(path: string | undefined): number {
  if (path === undefined) return 1;
  try {
    const list = (JSON.parse(Buffer.from(readHead(path, 1024 * 1024)).toString('utf8')) as { territories?: unknown }).territories;
    return Array.isArray(list) ? Math.max(1, list.length) : 1;
  } catch {
    return 1;
  }
}

/** The number of cases run at once and why. */
export interface JobPlan {
  readonly jobs: number;
  /** In words, e.g. "2 jobs: 2 cores, 6 cases; the largest case needs about 0.3 GiB of 23.5 GiB: memory allows 62 at once". */
  readonly reason: string;
  /** Worker threads each case may use (DOSIMETRY_THREADS): the cores shared out among the jobs. */
  readonly threadsPerCase: number;
  /** Set when --jobs asks for more cases at once than the memory holds. */
  readonly warning?: string;
}

const gib = (b: number) => `${(b / GIB).toFixed(1)} GiB`;

/**
 * Chooses the number of jobs (see the module comment): `requested` (--jobs) when given, else min(cores, cases,
 * floor(MEMORY_SHARE x memory / largest case)), at least 1.
 */
export function planJobs(opts: { readonly cases: readonly BatchCase[]; readonly cores: number; readonly memoryBytes: number; readonly requested?: number }): JobPlan {
  const perCase = opts.cases.map(caseMemoryBytes);
  const known = perCase.filter((b): b is number => b !== undefined);
  const largest = known.length ? Math.max(...known) : undefined;
  const byMemory = largest ? Math.max(1, Math.floor((MEMORY_SHARE * opts.memoryBytes) / largest)) : Infinity;
  const memText = largest ? `the largest case needs about ${gib(largest)} of ${gib(opts.memoryBytes)}: memory allows ${byMemory} at once` : 'the cases\' memory is not known from their inputs';
  const n = Math.max(1, opts.cases.length);
  if (opts.requested !== undefined) {
    const jobs = Math.min(opts.requested, n);
    return {
      jobs,
      reason: `${jobs} job${jobs > 1 ? 's' : ''}: --jobs ${opts.requested}${opts.requested > n ? ` (${n} cases)` : ''}; ${memText}`,
      threadsPerCase: Math.max(1, Math.floor(opts.cores / jobs)),
      ...(jobs > byMemory ? { warning: `--jobs ${opts.requested}: ${memText}; cases may run out of memory (each that does fails alone)` } : {}),
    };
  }
  const jobs = Math.max(1, Math.min(opts.cores, n, byMemory));
  const limits = [`${opts.cores} core${opts.cores > 1 ? 's' : ''}`, `${n} case${n > 1 ? 's' : ''}`];
  return { jobs, reason: `${jobs} job${jobs > 1 ? 's' : ''}: ${limits.join(', ')}; ${memText}`, threadsPerCase: Math.max(1, Math.floor(opts.cores / jobs)) };
}
