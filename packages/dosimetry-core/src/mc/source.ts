/**
 * The decay source of the Monte Carlo: a Walker alias table (Walker 1977, ACM TOMS 3:253; built by Vose's stable
 * method, Vose 1991, IEEE TSE 17:972) over the voxels that hold activity, so that a decay picks its voxel in O(1)
 * with probability proportional to activity x voxel volume (the volume is the same for every voxel, so the activity
 * alone is the weight).
 *
 * Sampling (both back ends; ./history-cpu.ts step 1):
 *   x1, x2 = two raw u32 words; k = floor((x1 2^32 + x2) n / 2^64) (exactly uniform up to n / 2^64);
 *   u = next deviate; if u >= probability[k]: k = alias[k]; voxel = sourceVoxel[k].
 * The table is built in f64 and stored as f32 probabilities (the GPU reads them); {@link aliasProbabilities} gives the
 * exact probability of every entry that the stored table realises with 24-bit deviates.
 */
import { InputError } from '../errors.ts';
import { mulhi32, mullo32, type HistoryStream } from './philox.ts';

/** The alias table of a source (arrays as McProblem stores them). */
export interface SourceAlias {
  /** Voxel index of entry k. */
  readonly sourceVoxel: Uint32Array;
  /** Probability of keeping entry k (else its alias). */
  readonly sourceProbability: Float32Array;
  readonly sourceAlias: Uint32Array;
  /** Sum of the weights (activity [Bq/mL] summed over the voxels; x voxel volume [mL] = activity in the field [Bq]). */
  readonly totalWeight: number;
}

/**
 * Builds the alias table over the voxels of `weight` that are > 0 (e.g. activity concentration [Bq/mL]).
 * Throws an InputError when no voxel has a positive finite weight or a weight is negative, NaN or infinite.
 */
export function buildSourceAlias(weight: ArrayLike<number>): SourceAlias {
  let n = 0;
  let total = 0;
  for (let v = 0; v < weight.length; v++) {
    const w = weight[v];
    if (!(w >= 0) || !Number.isFinite(w)) {
      throw new InputError(`activity at voxel ${v} is ${w}: the Monte Carlo source needs finite activities >= 0 (Bq/mL); clean the activity map (e.g. set NaN outside the body to 0)`);
    }
    if (w > 0) {
      n++;
      total += w;
    }
  }
  if (n === 0) throw new InputError('the activity map holds no voxel with activity > 0: nothing to simulate; check the activity input and its unit');
  if (n > 0xffffffff) throw new InputError(`${n} source voxels exceed the 2^32 the alias table can index`);
  const voxel = new Uint32Array(n);
  const scaled = new Float64Array(n);
  let k = 0;
  for (let v = 0; v < weight.length; v++) {
    const w = weight[v];
    if (w > 0) {
      voxel[k] = v;
      scaled[k] = (w / total) * n;
      k++;
    }
  }
  // Vose: entries below 1 get an alias from the entries above 1 (worklists as index stacks)
  const prob = new Float64Array(n);
  const alias = new Uint32Array(n);
  const small = new Uint32Array(n);
  const large = new Uint32Array(n);
  let ns = 0;
  let nl = 0;
  for (let i = 0; i < n; i++) {
    if (scaled[i] < 1) small[ns++] = i;
    else large[nl++] = i;
  }
  while (ns > 0 && nl > 0) {
    const s = small[--ns];
    const l = large[--nl];
    prob[s] = scaled[s];
    alias[s] = l;
    scaled[l] = scaled[l] + scaled[s] - 1;
    if (scaled[l] < 1) small[ns++] = l;
    else large[nl++] = l;
  }
  // what is left is 1 up to rounding: keep it always
  while (nl > 0) {
    const l = large[--nl];
    prob[l] = 1;
    alias[l] = l;
  }
  while (ns > 0) {
    const s = small[--ns];
    prob[s] = 1;
    alias[s] = s;
  }
  return { sourceVoxel: voxel, sourceProbability: Float32Array.from(prob), sourceAlias: alias, totalWeight: total };
}

/**
 * Entry index of the first pick from two raw words: floor((x1 2^32 + x2) n / 2^64), exact (k < n always).
 * WGSL does the same with its 16-bit-halves mulhi.
 */
export function pickEntry(x1: number, x2: number, n: number): number {
  const hi1 = mulhi32(x1, n);
  const lo1 = mullo32(x1, n);
  const hi2 = mulhi32(x2, n);
  return lo1 + hi2 > 0xffffffff ? hi1 + 1 : hi1;
}

/**
 * Index of the alias-table entry of one decay (three words of the history's stream: two raw words for the first pick,
 * one deviate for the alias test); the voxel is sourceVoxel[entry].
 */
export function sampleSourceEntry(rng: HistoryStream, a: Pick<SourceAlias, 'sourceProbability' | 'sourceAlias'>): number {
  const k = pickEntry(rng.nextU32(), rng.nextU32(), a.sourceProbability.length);
  return rng.next() >= a.sourceProbability[k] ? a.sourceAlias[k] : k;
}

/** Number of 24-bit deviates u = (m + 0.5) 2^-24, m = 0..2^24-1, with u < p. */
function deviatesBelow(p: number): number {
  return Math.min(2 ** 24, Math.max(0, Math.ceil(p * 2 ** 24 - 0.5)));
}

/**
 * The exact probability with which the stored table picks each entry's voxel (entry k), given the 24-bit deviates of
 * the acceptance test and an exactly uniform first pick: (P(u < p_k) + Σ_{j: alias_j = k} P(u >= p_j)) / n.
 */
export function aliasProbabilities(a: Pick<SourceAlias, 'sourceProbability' | 'sourceAlias'>): Float64Array {
  const n = a.sourceProbability.length;
  const out = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    const keep = deviatesBelow(a.sourceProbability[k]) / 2 ** 24;
    out[k] += keep / n;
    out[a.sourceAlias[k]] += (1 - keep) / n;
  }
  return out;
}
