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

/** Mixture share of the uniform-in-structure part of the biased source (see {@link buildBiasedSource}). */
export const MC_SOURCE_BIAS_LAMBDA = 0.5;
/** Below this ratio of the largest to the smallest mixture factor m_v biasing would change little and is skipped. */
export const MC_SOURCE_BIAS_MIN_RATIO = 1.5;

/** A structure as source biasing sees it (voxel indices with partial-volume weights; members have weight > 0). */
export interface SourceBiasStructure {
  readonly name: string;
  readonly voxelIndices: Uint32Array;
  readonly weights: Float32Array;
}

/** Provenance of a biased source (report.json mc.sourceBiasing). */
export interface SourceBiasing {
  readonly method: 'importance sampling: mixture of activity and per-structure activity (weights 1/m_v)';
  readonly lambda: number;
  /** The target structures with their activity share f_S. */
  readonly structures: readonly { readonly name: string; readonly activityShare: number }[];
  readonly minWeight: number;
  readonly maxWeight: number;
}

/**
 * Source biasing by importance sampling (Kahn & Marshall 1953, Oper. Res. 1:263; MCNP's SB card): decays are drawn
 * from q_v = p_v m_v instead of the activity distribution p_v, with
 *   m_v = (1 − λ) + (λ / K) Σ_{S ∈ T, v ∈ S} 1 / f_S,   f_S = Σ_{v ∈ S} p_v   (members: weight > 0),
 * so Σ_v q_v = (1 − λ) + λ = 1 and every structure S of T gets at least λ / K of the decays; each history from voxel v
 * carries w_v = 1 / m_v, so E_q[w X] = E_p[X] for every tally (unbiased). Returns null (analog) when no structure has
 * activity or max m / min m < {@link MC_SOURCE_BIAS_MIN_RATIO} (biasing would change little).
 * @param activity activity concentration per voxel [Bq/mL] (as buildSourceAlias)
 * @param structures the target structures T (e.g. those the target rule waits for); those with f_S = 0 are dropped
 */
export function buildBiasedSource(
  activity: ArrayLike<number>,
  structures: readonly SourceBiasStructure[],
  lambda: number = MC_SOURCE_BIAS_LAMBDA,
): { alias: SourceAlias & { readonly sourceWeight: Float32Array }; biasing: SourceBiasing } | null {
  if (!(lambda > 0 && lambda < 1)) throw new InputError(`source biasing lambda ${lambda} must lie in (0, 1)`);
  const analog = buildSourceAlias(activity); // validates the activities
  const total = analog.totalWeight;
  const shares: { s: SourceBiasStructure; f: number }[] = [];
  for (const s of structures) {
    let a = 0;
    for (let e = 0; e < s.voxelIndices.length; e++) {
      if (!(s.weights[e] > 0)) continue;
      const x = activity[s.voxelIndices[e]];
      if (x > 0) a += x;
    }
    const f = a / total;
    if (f > 0) shares.push({ s, f });
  }
  const k = shares.length;
  if (k === 0) return null;
  const m = new Float64Array(activity.length).fill(1 - lambda);
  // a grid structure lists each voxel once (ascending indices), so no voxel is counted twice within one structure
  for (const { s, f } of shares) {
    const add = lambda / k / f;
    for (let e = 0; e < s.voxelIndices.length; e++) if (s.weights[e] > 0) m[s.voxelIndices[e]] += add;
  }
  let mMin = Infinity;
  let mMax = 0;
  for (let v = 0; v < activity.length; v++) {
    if (!(activity[v] > 0)) continue;
    if (m[v] < mMin) mMin = m[v];
    if (m[v] > mMax) mMax = m[v];
  }
  if (mMax / mMin < MC_SOURCE_BIAS_MIN_RATIO) return null;
  const q = new Float64Array(activity.length);
  for (let v = 0; v < activity.length; v++) q[v] = activity[v] > 0 ? activity[v] * m[v] : 0;
  const biased = buildSourceAlias(q);
  const sourceWeight = new Float32Array(biased.sourceVoxel.length);
  let wMin = Infinity;
  let wMax = 0;
  for (let e = 0; e < sourceWeight.length; e++) {
    sourceWeight[e] = 1 / m[biased.sourceVoxel[e]];
    if (sourceWeight[e] < wMin) wMin = sourceWeight[e];
    if (sourceWeight[e] > wMax) wMax = sourceWeight[e];
  }
  return {
    alias: { ...biased, totalWeight: total, sourceWeight },
    biasing: {
      method: 'importance sampling: mixture of activity and per-structure activity (weights 1/m_v)',
      lambda,
      structures: shares.map(({ s, f }) => ({ name: s.name, activityShare: f })),
      minWeight: wMin,
      maxWeight: wMax,
    },
  };
}
