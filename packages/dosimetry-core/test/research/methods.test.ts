/**
 * Hand-worked checks of rules the reference comparison does not pin down: Youden tie-breaking, the exact U
 * distribution, separation and monotone-likelihood errors, plot ticks.
 */
import { describe, expect, it } from 'vitest';
import { confusionAt, rocAnalysis } from '../../src/research/roc.ts';
import { mannWhitney, mannWhitneyExactPmf } from '../../src/research/groups.ts';
import { logisticRegression } from '../../src/research/logistic.ts';
import { coxRegression } from '../../src/research/cox.ts';
import { kaplanMeier } from '../../src/research/km.ts';
import { niceTicks } from '../../src/research/svg.ts';
import { StatsError } from '../../src/errors.ts';
import { responseClassifier } from '../../src/research/table.ts';

describe('ROC rules', () => {
  it('Youden ties: the lowest threshold among equal maximal J', () => {
    // doses 10(N) 20(P) 30(N) 40(P): thresholds 40 -> J = 1/2 - 0 = 0.5; 30 -> 0.5 - 0.5 = 0; 20 -> 1 - 0.5 = 0.5
    const r = rocAnalysis({ doseGy: [10, 20, 30, 40], positive: [false, true, false, true] });
    expect(r.youdenJ).toBe(0.5);
    expect(r.cutoff).toBe(20);
    expect(r.counts).toEqual({ tp: 2, fp: 1, tn: 1, fn: 0 });
  });
  it('ties in dose count 1/2 in the AUC; dose >= cutoff is called responder', () => {
    const r = rocAnalysis({ doseGy: [5, 5, 5, 5], positive: [true, false, true, false] });
    expect(r.auc).toBe(0.5);
    expect(confusionAt([5, 4], [true, false], 5)).toEqual({ tp: 1, fp: 0, tn: 1, fn: 0 });
  });
  it('perfect separation: AUC 1, DeLong SE 0', () => {
    const r = rocAnalysis({ doseGy: [1, 2, 3, 10, 11, 12], positive: [false, false, false, true, true, true] });
    expect(r.auc).toBe(1);
    expect(r.aucSeDeLong).toBe(0);
    expect(r.aucCi95).toEqual([1, 1]);
    expect(r.cutoff).toBe(10);
  });
});

describe('response classes', () => {
  it('0/1 columns: 1 is positive unless --positive says otherwise; labels case-insensitive', () => {
    const c = responseClassifier(['1', '0', ' 1'], undefined);
    expect(['1', '0', ' 1'].map(c.isPositive)).toEqual([true, false, true]);
    const d = responseClassifier(['cr', 'pd', 'Pr'], undefined);
    expect(['cr', 'pd', 'Pr'].map(d.isPositive)).toEqual([true, false, true]);
    expect(responseClassifier(['1', '0'], ['0']).isPositive('0')).toBe(true);
  });
});

describe('exact Mann-Whitney distribution', () => {
  it('m = n = 2: P(U = 0..4) = 1, 1, 2, 1, 1 over 6 (C(4,2) arrangements)', () => {
    expect([...mannWhitneyExactPmf(2, 2)].map((p) => p * 6)).toEqual([1, 1, 2, 1, 1].map((c) => expect.closeTo(c, 12)));
  });
  it('sums to 1 and is symmetric for (3, 7)', () => {
    const p = mannWhitneyExactPmf(3, 7);
    expect(p.length).toBe(22);
    expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 14);
    for (let u = 0; u < p.length; u++) expect(p[u]).toBeCloseTo(p[p.length - 1 - u], 15);
  });
  it('complete separation of 3 vs 3: U = 9, p = 2/20', () => {
    const m = mannWhitney({ x: [10, 11, 12], y: [1, 2, 3] });
    expect(m.method).toBe('exact');
    expect(m.u1).toBe(9);
    expect(m.p).toBeCloseTo(0.1, 14);
    expect(() => mannWhitney({ x: [1, 2], y: [2, 3], method: 'exact' })).toThrow(/assumes no ties/);
  });
});

describe('fits that cannot be made', () => {
  it('logistic: quasi-complete separation by two covariates is a StatsError', () => {
    // response is exactly (a > 0) except a tie at a = 0: the MLE runs to infinity in a
    const a = [-3, -2, -1, 0, 0, 1, 2, 3, -2, 2];
    const b = [1, 0, 1, 0, 1, 0, 1, 0, 1, 1];
    const y = [false, false, false, false, true, true, true, true, false, true];
    expect(() => logisticRegression({ names: ['a', 'b'], x: a.map((v, i) => [v, b[i]]), y })).toThrow(StatsError);
    expect(() => logisticRegression({ names: ['a', 'b'], x: a.map((v, i) => [v, b[i]]), y })).toThrow(/separated/);
  });
  it('Cox: a covariate that orders all events (monotone likelihood) is a StatsError', () => {
    // higher x always fails first: the HR for x runs to infinity
    expect(() => coxRegression({ names: ['x'], x: [[5], [4], [3], [2], [1]], times: [1, 2, 3, 4, 5], events: [true, true, true, true, false] })).toThrow(/did not converge/);
  });
  it('Cox: one event, one covariate: hand-worked score equation', () => {
    // subjects x = 0, 1 at risk, the x = 1 subject fails: L(b) = e^b/(1 + e^b) has no maximum either -> error;
    // with x = 0, 1, 2 and failures of x=1 at t=1 then x=0 at t=2 (x=2 censored at 3):
    // L = e^b/(1 + e^b + e^2b) * 1/(1 + e^2b) -> d/db log L = 1 - (e^b + 2e^2b)/(1 + e^b + e^2b) - 2e^2b/(1 + e^2b) = 0
    const fit = coxRegression({ names: ['x'], x: [[1], [0], [2]], times: [1, 2, 3], events: [true, true, false] });
    const b = fit.coefficients[0].estimate;
    const e1 = Math.exp(b), e2 = Math.exp(2 * b);
    expect(1 - (e1 + 2 * e2) / (1 + e1 + e2) - (2 * e2) / (1 + e2)).toBeCloseTo(0, 10);
  });
});

describe('Kaplan-Meier by hand', () => {
  it('times 1, 2, 2, 3+, 4: S = 4/5, 4/5 x 2/4, then 0.4 x 0/1; Greenwood at t = 2', () => {
    const km = kaplanMeier({ times: [1, 2, 2, 3, 4], events: [true, true, true, false, true] });
    expect(km.steps.map((s) => s.survival)).toEqual([0.8, expect.closeTo(0.4, 15), 0]);
    // Greenwood: var = S^2 (1/(5 x 4) + 2/(4 x 2)) = 0.16 x 0.3
    expect(km.steps[1].se).toBeCloseTo(Math.sqrt(0.16 * 0.3), 15);
    expect(km.median).toBe(2);
    expect(km.censorTimes).toEqual([3]);
  });
});

describe('plot ticks', () => {
  it('steps of 1, 2 or 5 x 10^k covering the range', () => {
    expect(niceTicks(0, 1)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(0, 500)).toEqual([0, 100, 200, 300, 400, 500]);
    expect(niceTicks(13, 47)).toEqual([20, 30, 40]);
  });
});
