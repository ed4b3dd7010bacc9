import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.ts';
import { historyStream } from '../../src/mc/philox.ts';
import { aliasProbabilities, buildSourceAlias, pickEntry, sampleSourceEntry } from '../../src/mc/source.ts';

/** xorshift32 test inputs, independent of Philox. */
function inputs(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>>= 0);
  };
}

/** Upper chi-square quantile (Wilson–Hilferty approximation), z standard deviations above the mean. */
function chiSquareQuantile(dof: number, z: number): number {
  const a = 2 / (9 * dof);
  return dof * (1 - a + z * Math.sqrt(a)) ** 3;
}

describe('source alias table', () => {
  // weights spanning 6 decades, zeros (no decays) between them, as an activity map
  const r = inputs(99);
  const weight = new Float32Array(300);
  for (let v = 0; v < weight.length; v++) weight[v] = v % 3 === 0 ? 0 : (r() / 2 ** 32) ** 4 * 1e6 + (v % 7 === 0 ? 1e-3 : 0);
  const table = buildSourceAlias(weight);

  it('holds the voxels with activity > 0 and their total weight', () => {
    const voxels = Array.from(weight.keys()).filter((v) => weight[v] > 0);
    expect(Array.from(table.sourceVoxel)).toEqual(voxels);
    const sum = voxels.reduce((s, v) => s + weight[v], 0);
    expect(Math.abs(table.totalWeight / sum - 1)).toBeLessThan(1e-12);
  });

  it('the exact probabilities the stored table realises equal the weights (f32 thresholds, 24-bit deviates)', () => {
    const p = aliasProbabilities(table);
    const n = p.length;
    let sum = 0;
    let worst = 0;
    for (let k = 0; k < n; k++) {
      sum += p[k];
      worst = Math.max(worst, Math.abs(p[k] - weight[table.sourceVoxel[k]] / table.totalWeight));
    }
    expect(Math.abs(sum - 1)).toBeLessThan(1e-12);
    // each entry's share is off by at most the f32 rounding of its threshold (2^-24) and the deviate grid (2^-24),
    // once for itself and once per entry aliased to it: < 1e-5 / n here
    expect(worst * n).toBeLessThan(1e-5);
  });

  it('pickEntry is floor((x1 2^32 + x2) n / 2^64), exact (BigInt), always < n', () => {
    const g = inputs(7);
    for (const n of [1, 2, 3, 1000, 65537, 2 ** 24 + 1, 0xffffffff]) {
      for (const [x1, x2] of [[0, 0], [0xffffffff, 0xffffffff], [0x80000000, 0], [g(), g()], [g(), g()], [g(), 0xffffffff]]) {
        const want = Number(((BigInt(x1) * 2n ** 32n + BigInt(x2)) * BigInt(n)) >> 64n);
        expect(pickEntry(x1, x2, n)).toBe(want);
        expect(want).toBeLessThan(n);
      }
    }
  });

  it('sampling by the transport rule: frequencies match the weights (chi-square, 5 sigma quantile)', () => {
    // the chi-square needs expected counts >= 5 per voxel: a second table of moderate spread (1..23, zeros between)
    const w = new Float32Array(60).map((_, v) => (v % 5 === 0 ? 0 : 1 + ((v * 37) % 23)));
    const t = buildSourceAlias(w);
    const n = t.sourceVoxel.length;
    const draws = 200_000;
    const count = new Float64Array(n);
    for (let h = 0; h < draws; h++) count[sampleSourceEntry(historyStream(5, h), t)]++;
    // counts per voxel: entries map to distinct voxels, so count[k] is the voxel's count
    let chi2 = 0;
    for (let k = 0; k < n; k++) {
      const expected = (draws * w[t.sourceVoxel[k]]) / t.totalWeight;
      chi2 += (count[k] - expected) ** 2 / expected;
    }
    console.log(`alias sampling: chi-square ${chi2.toFixed(1)} with ${n - 1} degrees of freedom`);
    expect(chi2).toBeLessThan(chiSquareQuantile(n - 1, 5));
    expect(chi2).toBeGreaterThan(0);
  });

  it('refuses maps without activity or with NaN / negative values (InputError)', () => {
    expect(() => buildSourceAlias(new Float32Array(8))).toThrow(InputError);
    expect(() => buildSourceAlias(Float32Array.of(1, Number.NaN))).toThrow(/finite activities/);
    expect(() => buildSourceAlias(Float32Array.of(1, -2))).toThrow(InputError);
  });
});
