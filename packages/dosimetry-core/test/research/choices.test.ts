/**
 * The statistical choices the commands make, checked against answers worked out independently in the test:
 * Mann-Whitney exact vs normal approximation as R's wilcox.test chooses (exact p by enumerating every split of the
 * pooled values), Holm's adjustment, the cluster bootstrap's independence of row order and its warning below 10
 * clusters, Cox stratification, and `groups` on any grouping column.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { cli } from './cli-harness.ts';
import { holmAdjust, mannWhitney, pairwiseMannWhitney } from '../../src/research/groups.ts';
import { clusterBootstrapAuc, MIN_BOOTSTRAP_CLUSTERS, rocAnalysis } from '../../src/research/roc.ts';
import { coxRegression } from '../../src/research/cox.ts';
import { mulberry32 } from '../../src/research/ranks.ts';
import { normalSf } from '../../src/research/special.ts';

const tmp = mkdtempSync(join(tmpdir(), 'research-choices-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

/**
 * Two-sided exact p of Mann-Whitney by brute force: every way of choosing which n1 of the N pooled (distinct)
 * values form the first group is equally likely under H0; U1 = #pairs (x > y). R: p = 2 P(W >= w) when
 * w > n1 n2 / 2, else 2 P(W <= w), capped at 1.
 */
function enumeratedP(x: readonly number[], y: readonly number[]): { u1: number; p: number } {
  const pooled = [...x, ...y];
  const n1 = x.length, n2 = y.length, N = n1 + n2;
  const u = (a: readonly number[], b: readonly number[]) => a.reduce((s, v) => s + b.filter((w) => v > w).length, 0);
  const u1 = u(x, y);
  let le = 0, ge = 0, total = 0;
  const pick: number[] = [];
  const walk = (start: number) => {
    if (pick.length === n1) {
      const a = pick.map((i) => pooled[i]);
      const b = pooled.filter((_, i) => !pick.includes(i));
      const w = u(a, b);
      total++;
      if (w <= u1) le++;
      if (w >= u1) ge++;
      return;
    }
    for (let i = start; i <= N - (n1 - pick.length); i++) {
      pick.push(i);
      walk(i + 1);
      pick.pop();
    }
  };
  walk(0);
  return { u1, p: Math.min(1, (2 * (u1 > (n1 * n2) / 2 ? ge : le)) / total) };
}

/** Distinct values from a seeded stream (no ties). */
function distinct(n: number, seed: number): number[] {
  const r = mulberry32(seed);
  const s = new Set<number>();
  while (s.size < n) s.add(Math.round(r() * 1e6) / 100);
  return [...s];
}

describe('Mann-Whitney: exact as R chooses it, else the normal approximation', () => {
  it.each([
    ['3 vs 4', 3, 4, 1],
    ['5 vs 7', 5, 7, 2],
    ['8 vs 8', 8, 8, 3],
    ['9 vs 6 (both under 50, larger than SciPy\'s old limit of 8)', 9, 6, 4],
  ])('exact, no ties, %s: p equals the enumeration over every split', (_n, n1, n2, seed) => {
    const v = distinct(n1 + n2, seed);
    const [x, y] = [v.slice(0, n1), v.slice(n1)];
    const m = mannWhitney({ x, y });
    const e = enumeratedP(x, y);
    expect(m.method).toBe('exact');
    expect(m.methodReason).toMatch(/no ties and both groups under 50/);
    expect(m.u1).toBe(e.u1);
    expect(Math.abs(m.p - e.p) / e.p).toBeLessThan(1e-12); // the recursion sums probabilities: rounding only
  });
  it('49 vs 2, no ties: still exact; p = 2 P(U >= u) counted over the C(51, 2) = 1275 splits', () => {
    const v = distinct(51, 5);
    // first group: the 49 values with the two highest put in the second group -> U1 = 0, p = 2 / 1275
    const sorted = [...v].sort((a, b) => a - b);
    const m = mannWhitney({ x: sorted.slice(0, 49), y: sorted.slice(49) });
    expect(m.method).toBe('exact');
    expect(m.u1).toBe(0);
    expect(m.p).toBeCloseTo(2 / 1275, 14);
  });
  it('50 vs 2, no ties: normal approximation with continuity correction (a group of 50)', () => {
    const sorted = distinct(52, 6).sort((a, b) => a - b);
    const m = mannWhitney({ x: sorted.slice(0, 50), y: sorted.slice(50) });
    expect(m.method).toBe('asymptotic');
    expect(m.methodReason).toMatch(/a group of 50 or more values/);
    // U1 = 0, mean 50, sigma^2 = 50 x 2 x 53 / 12; z = (|0 - 50| - 0.5) / sigma
    const z = 49.5 / Math.sqrt((100 * 53) / 12);
    expect(m.p).toBeCloseTo(2 * normalSf(z), 14);
  });
  it('small with ties: normal approximation with the tie correction', () => {
    // x = 1, 2, 2, 3; y = 2, 4, 5: pooled ranks 1, 3, 3, 3, 5, 6, 7 (one tie of 3); U1 = 0 + 0.5 + 0.5 + 1 = 2
    const m = mannWhitney({ x: [1, 2, 2, 3], y: [2, 4, 5] });
    expect(m.method).toBe('asymptotic');
    expect(m.methodReason).toMatch(/tied values/);
    expect(m.u1).toBe(2);
    const sigma = Math.sqrt(((4 * 3) / 12) * (8 - (27 - 3) / (7 * 6)));
    expect(m.p).toBeCloseTo(2 * normalSf((6 - 2 - 0.5) / sigma), 14);
  });
});

describe("Holm's adjustment (R's p.adjust 'holm')", () => {
  it('hand-worked: sorted 0.005 x 4, 0.01 x 3, 0.03 x 2, 0.04 x 1 with the running maximum', () => {
    expect(holmAdjust([0.01, 0.04, 0.03, 0.005])).toEqual([0.03, 0.06, 0.06, 0.02].map((v) => expect.closeTo(v, 15)));
    expect(holmAdjust([0.5, 0.9])).toEqual([1, 1]);
  });
  it('pairwise comparisons of three groups: every pair, each adjusted over three', () => {
    const g = [{ group: 'a', values: [1, 2, 3] }, { group: 'b', values: [4, 5, 6] }, { group: 'c', values: [7, 8, 9] }];
    const pw = pairwiseMannWhitney(g);
    expect(pw.map((c) => `${c.groupA}-${c.groupB}`)).toEqual(['a-b', 'a-c', 'b-c']);
    // each pair completely separated, 3 vs 3: exact p = 2/20; Holm: 3 x 0.1, then max(0.3, 2 x 0.1), 1 x 0.1 -> 0.3
    for (const c of pw) {
      expect(c.p).toBeCloseTo(0.1, 14);
      expect(c.pAdjusted).toBeCloseTo(0.3, 14);
    }
  });
});

describe('cluster bootstrap: independent of row order; a warning below 10 clusters', () => {
  // 12 patients, 2-4 lesions each, ids not in sorted order in the rows
  const r = mulberry32(99);
  const rows: Array<{ patient: string; dose: number; pos: boolean }> = [];
  for (const p of ['P7', 'P10', 'P2', 'P11', 'P1', 'P3', 'P12', 'P4', 'P9', 'P5', 'P8', 'P6']) {
    const n = 2 + Math.floor(r() * 3);
    for (let k = 0; k < n; k++) {
      const pos = r() < 0.5;
      rows.push({ patient: p, dose: Math.round((pos ? 150 : 100) + 80 * r()), pos });
    }
  }
  const boot = (rs: typeof rows) => clusterBootstrapAuc({ doseGy: rs.map((x) => x.dose), positive: rs.map((x) => x.pos), clusters: rs.map((x) => x.patient), replicates: 500, seed: 7 });
  it('shuffled rows give the identical CI, resamples and count', () => {
    const a = boot(rows);
    for (const seed of [1, 2, 3]) {
      const g = mulberry32(seed);
      const shuffled = rows.map((x) => ({ x, k: g() })).sort((p, q) => p.k - q.k).map((p) => p.x);
      expect(shuffled).not.toEqual(rows);
      const b = boot(shuffled);
      expect(b.ci).toEqual(a.ci);
      expect(b.used).toBe(a.used);
      expect([...b.aucs]).toEqual([...a.aucs]);
    }
    expect(a.warnings).toEqual([]);
  });
  it(`fewer than ${MIN_BOOTSTRAP_CLUSTERS} clusters: a warning in the result and on stderr; ${MIN_BOOTSTRAP_CLUSTERS} clusters: none`, async () => {
    const nine = rows.filter((x) => !['P10', 'P11', 'P12'].includes(x.patient));
    const ten = rows.filter((x) => !['P11', 'P12'].includes(x.patient));
    const w = rocAnalysis({ doseGy: nine.map((x) => x.dose), positive: nine.map((x) => x.pos), clusters: nine.map((x) => x.patient), bootstrapReplicates: 200, bootstrapSeed: 1 });
    expect(w.warnings).toHaveLength(1);
    expect(w.warnings[0]).toMatch(/cluster bootstrap over only 9 clusters \(fewer than 10\)/);
    expect(rocAnalysis({ doseGy: ten.map((x) => x.dose), positive: ten.map((x) => x.pos), clusters: ten.map((x) => x.patient), bootstrapReplicates: 200, bootstrapSeed: 1 }).warnings).toEqual([]);
    const csv = join(tmp, 'nine.csv');
    writeFileSync(csv, ['patient,dose,response', ...nine.map((x) => `${x.patient},${x.dose},${x.pos ? 'CR' : 'PD'}`)].join('\n') + '\n');
    const c = await cli(['roc', '--json', '--csv', csv, '--dose-column', 'dose', '--response-column', 'response', '--cluster-column', 'patient']);
    expect(c.code).toBe(0);
    expect(c.err).toMatch(/^warning: cluster bootstrap over only 9 clusters/);
    expect(JSON.parse(c.out).warnings).toHaveLength(1);
  });
});

describe('Cox with strata', () => {
  const times = [2, 3, 5, 7, 8, 11, 13, 17, 19, 23];
  const events = [true, true, false, true, true, true, false, true, true, false];
  const x = [[1.2], [0.4], [2.2], [0.9], [1.7], [0.1], [1.1], [0.3], [2.5], [0.8]];
  it('one stratum is the unstratified fit', () => {
    const a = coxRegression({ names: ['x'], x, times, events });
    const b = coxRegression({ names: ['x'], x, times, events, strata: times.map(() => 'all') });
    expect(b.coefficients[0].estimate).toBeCloseTo(a.coefficients[0].estimate, 12);
    expect(b.nStrata).toBe(1);
  });
  it('the same subjects twice, as two strata: the log partial likelihood doubles, so b is the same and se / sqrt(2)', () => {
    const one = coxRegression({ names: ['x'], x, times, events });
    // the second stratum's covariate is shifted by 5 (a shift within a stratum cancels in its risk sets), and its
    // times by 21 (only their order counts), so its first time (23) equals the last of the first stratum: a tie
    // across strata that must not join one tie group
    const two = coxRegression({ names: ['x'], x: [...x, ...x.map((r) => [r[0] + 5])], times: [...times, ...times.map((t) => t + 21)], events: [...events, ...events], strata: [...times.map(() => 'A'), ...times.map(() => 'B')] });
    expect(two.coefficients[0].estimate).toBeCloseTo(one.coefficients[0].estimate, 10);
    expect(two.coefficients[0].se).toBeCloseTo(one.coefficients[0].se / Math.SQRT2, 10);
    expect(two.logPartialLikelihood).toBeCloseTo(2 * one.logPartialLikelihood, 9);
    expect(two.nStrata).toBe(2);
  });
  it('a covariate constant within every stratum is refused, naming the strata', () => {
    expect(() => coxRegression({ names: ['arm'], x: times.map((_, i) => [i < 5 ? 1 : 0]), times, events, strata: times.map((_, i) => (i < 5 ? 'a' : 'b')) }))
      .toThrow(/covariate "arm" is constant within strata/);
  });
  it('cox --strata: refused when the stratum is also a covariate', async () => {
    const csv = join(tmp, 'strata.csv');
    writeFileSync(csv, ['t,e,x,s', ...times.map((t, i) => `${t},${events[i] ? 1 : 0},${x[i][0]},${i % 2}`)].join('\n') + '\n');
    const ok = await cli(['cox', '--json', '--csv', csv, '--time-column', 't', '--event-column', 'e', '--covariate', 'x', '--strata', 's']);
    expect(ok.code).toBe(0);
    const j = JSON.parse(ok.out);
    expect([j.strata, j.nStrata, j.ties]).toEqual([['s'], 2, 'efron']);
    const bad = await cli(['cox', '--csv', csv, '--time-column', 't', '--event-column', 'e', '--covariate', 's', '--strata', 's']);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/"s" is given as a stratum and as a covariate/);
  });
});

describe('groups on any grouping column', () => {
  const csv = join(tmp, 'cells.csv');
  // three cell types (no RECIST labels): no --positive needed
  writeFileSync(csv, 'cell,karno\nsquamous,60\nsquamous,70\nsquamous,80\nadeno,30\nadeno,40\nadeno,50\nlarge,85\nlarge,90\nlarge,95\n');
  it('three groups: Kruskal-Wallis and every pair (Holm), no responder comparison', async () => {
    const r = await cli(['groups', '--json', '--csv', csv, '--dose-column', 'karno', '--group-column', 'cell']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.groups.map((g: { group: string }) => g.group)).toEqual(['adeno', 'large', 'squamous']);
    expect(j.mannWhitney).toBeNull();
    expect(j.pairwiseAdjustment).toBe('holm');
    // no ties; ranks adeno 1-3, squamous 4-6, large 7-9: H = 12/(9 x 10) x (6^2 + 15^2 + 24^2)/3 - 30 = 7.2
    expect(j.kruskalWallis.h).toBeCloseTo(7.2, 12);
    expect(j.pairwise.map((c: { pAdjusted: number }) => c.pAdjusted)).toEqual([0.3, 0.3, 0.3].map((v) => expect.closeTo(v, 14)));
    const text = (await cli(['groups', '--csv', csv, '--dose-column', 'karno', '--group-column', 'cell'])).out;
    expect(text).toContain("Pairwise Mann-Whitney U (two-sided; p adjusted for 3 comparisons by Holm's method):");
  });
  it('a response column keeps its strict labels: an unknown label next to CR/PD is refused', async () => {
    const p = join(tmp, 'resp.csv');
    writeFileSync(p, 'r,d\nCR,100\nCR,110\nP R,90\nPD,50\n');
    const r = await cli(['groups', '--csv', p, '--dose-column', 'd', '--group-column', 'r']);
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(/unrecognised response value: "P R"/);
  });
});
