import { describe, expect, it } from 'vitest';
import { blandAltman, comparePairs, linConcordance } from '../../src/plan/agreement.ts';
import { StatsError } from '../../src/errors.ts';

// Tolerances: hand arithmetic to the digits written; Lin's CI to 1e-6 against values computed with the formulas of
// R's DescTools::CCC (Lin 1989 / 2000 variance, Fisher z) transcribed independently to Python/NumPy/SciPy.

describe('per-pair comparison', () => {
  it('difference = achieved - predicted, ratio = achieved / predicted', () => {
    const r = comparePairs({ predicted: [100, 0], achieved: [120, 5], labels: ['L1', 'L2'] });
    expect(r[0]).toEqual({ label: 'L1', predicted: 100, achieved: 120, difference: 20, ratio: 1.2, percentDifference: 20, mean: 110 });
    expect(r[1].ratio).toBeNull();
    expect(r[1].percentDifference).toBeNull();
    expect(comparePairs({ predicted: [1], achieved: [2] })[0].label).toBe('pair 1');
  });
});

describe('Bland-Altman', () => {
  it('differences: hand-worked', () => {
    // d = [10, -10, 30, 10]; bias 10; sum of squared deviations 0 + 400 + 400 + 0 = 800; sd = sqrt(800/3) = 16.32993
    // limits 10 -+ 1.96 x 16.32993 = -22.00667, 42.00667
    const r = blandAltman({ predicted: [100, 150, 200, 250], achieved: [110, 140, 230, 260] });
    expect(r.bias).toBeCloseTo(10, 12);
    expect(r.sd).toBeCloseTo(16.32993, 5);
    expect(r.lowerLimit).toBeCloseTo(-22.00667, 5);
    expect(r.upperLimit).toBeCloseTo(42.00667, 5);
    expect(r.means).toEqual([105, 145, 215, 255]);
    expect(r.ratioScale).toBeNull();
  });

  it('ratios: [2, 1, 0.5] -> bias 7/6, sd 0.763763', () => {
    // deviations 5/6, -1/6, -2/3; squares sum 25/36 + 1/36 + 16/36 = 42/36; / 2 = 0.583333; sqrt = 0.763763
    const r = blandAltman({ predicted: [1, 2, 4], achieved: [2, 2, 2], scale: 'ratio' });
    expect(r.bias).toBeCloseTo(7 / 6, 12);
    expect(r.sd).toBeCloseTo(0.763763, 6);
  });

  it('log ratios: [ln 2, -ln 2] -> geometric mean ratio 1, limits exp(-+1.96 sqrt(2) ln 2) = 0.146416, 6.829872', () => {
    const r = blandAltman({ predicted: [100, 200], achieved: [200, 100], scale: 'log-ratio' });
    expect(r.bias).toBeCloseTo(0, 12);
    expect(r.sd).toBeCloseTo(Math.SQRT2 * Math.LN2, 12);
    expect(r.ratioScale?.geometricMeanRatio).toBeCloseTo(1, 12);
    expect(r.ratioScale?.lowerRatio).toBeCloseTo(0.146416, 6);
    expect(r.ratioScale?.upperRatio).toBeCloseTo(6.829872, 6);
  });

  it.each([
    ['one pair', { predicted: [1], achieved: [2] }],
    ['different lengths', { predicted: [1, 2], achieved: [2] }],
    ['label count', { predicted: [1, 2], achieved: [2, 3], labels: ['a'] }],
    ['NaN', { predicted: [1, NaN], achieved: [2, 3] }],
    ['log of 0', { predicted: [1, 2], achieved: [0, 3], scale: 'log-ratio' as const }],
    ['ratio over 0', { predicted: [0, 2], achieved: [1, 3], scale: 'ratio' as const }],
  ])('rejects %s with a StatsError', (_n, input) => {
    expect(() => blandAltman(input)).toThrow(StatsError);
  });
});

describe("Lin's concordance correlation coefficient", () => {
  it('hand-worked: y = x + 1 over 1..5', () => {
    // s_x^2 = s_y^2 = s_xy = 2 (divisor n); (xbar - ybar)^2 = 1: rho_c = 4 / (2 + 2 + 1) = 0.8; r = 1; C_b = 0.8
    // u^2 = 1 / sqrt(2 x 2) = 0.5; sigma_z^2 = [0 + 2 x 0.512 x 0.2 x 0.5 / 0.36^2 - 0.4096 x 0.25 / (2 x 0.36^2)] / 3
    //   = [0.790123 - 0.395062] / 3 = 0.131687; z = atanh 0.8 = 1.098612 -+ 1.959964 x 0.362887
    //   -> tanh(0.387367), tanh(1.809858) = 0.369087, 0.947817
    const r = linConcordance({ predicted: [1, 2, 3, 4, 5], achieved: [2, 3, 4, 5, 6] });
    expect(r.ccc).toBeCloseTo(0.8, 12);
    expect(r.pearsonR).toBeCloseTo(1, 12);
    expect(r.biasCorrection).toBeCloseTo(0.8, 12);
    expect(r.ci95?.[0]).toBeCloseTo(0.3690874, 6);
    expect(r.ci95?.[1]).toBeCloseTo(0.9478175, 6);
  });

  it('seven lesions (predicted vs achieved Gy) against the DescTools formulas', () => {
    const r = linConcordance({ predicted: [120, 180, 250, 90, 300, 210, 150], achieved: [100, 200, 230, 110, 260, 240, 130] });
    expect(r.ccc).toBeCloseTo(0.9242242, 6);
    expect(r.pearsonR).toBeCloseTo(0.9308324, 6);
    expect(r.biasCorrection).toBeCloseTo(0.9929007, 6);
    expect(r.ci95?.[0]).toBeCloseTo(0.6483436, 6);
    expect(r.ci95?.[1]).toBeCloseTo(0.9855668, 6);
  });

  it('perfect agreement: 1 with CI [1, 1]; a constant series: CI null', () => {
    const p = linConcordance({ predicted: [1, 2, 3], achieved: [1, 2, 3] });
    expect(p.ccc).toBeCloseTo(1, 14);
    expect(p.ci95).toEqual([p.ccc, p.ccc]);
    const c = linConcordance({ predicted: [1, 2, 3], achieved: [5, 5, 5] });
    expect(c.ccc).toBe(0);
    expect(c.ci95).toBeNull();
  });

  it('needs 3 pairs and some spread', () => {
    expect(() => linConcordance({ predicted: [1, 2], achieved: [1, 2] })).toThrow(StatsError);
    expect(() => linConcordance({ predicted: [4, 4, 4], achieved: [4, 4, 4] })).toThrow(StatsError);
  });
});
