/**
 * The research statistics against reference values from established implementations, computed by
 * scripts/reference/research_reference.py (Debian's SciPy 1.10, scikit-learn 1.2, statsmodels 0.13) on the fixed data
 * sets in ./fixtures (the script generated them; it records the versions in reference.json).
 *
 * Tolerances: 1e-6 relative for point estimates and p-values, as the brief asks (both sides converge Newton fits to
 * ~1e-12 and use double-precision special functions, so the real agreement is ~1e-10); the DeLong CI and the
 * cluster-bootstrap CI to 1e-12 (the same formulas / the same random stream, computed independently).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseCsv } from '../../src/research/csv.ts';
import { rocAnalysis } from '../../src/research/roc.ts';
import { kruskalWallis, mannWhitney, summarizeGroups } from '../../src/research/groups.ts';
import { doseResponse, logisticRegression } from '../../src/research/logistic.ts';
import { coxRegression } from '../../src/research/cox.ts';
import { buildDesign, jointWald } from '../../src/research/design.ts';
import { kaplanMeier, logRank } from '../../src/research/km.ts';
import { chiSquareSf, erfc, lnGamma, normalQuantile } from '../../src/research/special.ts';

const fx = (name: string) => new URL(`./fixtures/${name}`, import.meta.url);
const ref = JSON.parse(readFileSync(fx('reference.json'), 'utf8'));
const lesions = parseCsv(readFileSync(fx('lesions.csv'), 'utf8'));
const patients = parseCsv(readFileSync(fx('patients.csv'), 'utf8'));
const dose = lesions.rows.map((r) => Number(r.doseGy));
const positive = lesions.rows.map((r) => r.response === 'CR' || r.response === 'PR');

/** |a - b| <= tol * max(1, |b|): relative for large values, absolute near zero. */
function close(a: number, b: number, tol: number, what = ''): void {
  const err = Math.abs(a - b) / Math.max(1, Math.abs(b));
  if (!(err <= tol)) throw new Error(`${what}: got ${a}, reference ${b} (relative error ${err.toExponential(2)} > ${tol})`);
}
/** Relative closeness for small positive quantities (p-values, tail probabilities). */
function relClose(a: number, b: number, tol: number, what = ''): void {
  const err = Math.abs(a - b) / Math.abs(b);
  if (!(err <= tol)) throw new Error(`${what}: got ${a}, reference ${b} (relative error ${err.toExponential(2)} > ${tol})`);
}

describe('special functions vs SciPy', () => {
  it('erfc: 1e-15 absolute, 1e-13 relative in the tail', () => {
    for (const [x, v] of ref.special.erfc) {
      expect(Math.abs(erfc(x) - v)).toBeLessThan(1e-15);
      if (v > 0) relClose(erfc(x), v, 1e-13, `erfc(${x})`);
    }
  });
  it('normal quantile: 1e-13 (near p = 1 the quantile of 1 - p inherits the rounding of p, ~1e-16/(1 - p))', () => {
    for (const [p, v] of ref.special.normQuantile) close(normalQuantile(p), v, 1e-13, `ppf(${p})`);
  });
  it('chi-square survival: 1e-12 relative', () => {
    for (const [x, k, v] of ref.special.chi2Sf) relClose(chiSquareSf(x, k), v, 1e-12, `chi2.sf(${x}, ${k})`);
  });
  it('ln Gamma: 1e-14 relative', () => {
    for (const [x, v] of ref.special.lnGamma) if (v !== 0) close(lnGamma(x), v, 1e-14, `gammaln(${x})`);
  });
});

describe('ROC vs scikit-learn and hand DeLong', () => {
  const r = rocAnalysis({ doseGy: dose, positive });
  it('AUC equals roc_auc_score', () => close(r.auc, ref.roc.auc, 1e-12, 'auc'));
  it('curve equals roc_curve(drop_intermediate=False) without its artificial first point', () => {
    expect(r.curve.length).toBe(ref.roc.curve.length);
    r.curve.forEach((p, k) => {
      expect(p.threshold).toBe(ref.roc.curve[k].threshold);
      close(p.tpr, ref.roc.curve[k].tpr, 1e-15, 'tpr');
      close(p.fpr, ref.roc.curve[k].fpr, 1e-15, 'fpr');
    });
  });
  it('DeLong SE and CI equal the pairwise hand implementation (mid-rank algorithm here)', () => {
    close(r.aucSeDeLong, ref.roc.delongSe, 1e-12, 'se');
    close(r.aucCi95[0], ref.roc.delongCi[0], 1e-12, 'lo');
    close(r.aucCi95[1], ref.roc.delongCi[1], 1e-12, 'hi');
    expect(r.aucCiMethod).toBe('delong');
  });
  it('Youden cutoff maximises J over the sklearn curve; the lowest of equal maxima', () => {
    const js = ref.roc.curve.map((p: { tpr: number; fpr: number }) => p.tpr - p.fpr);
    const maxJ = Math.max(...js);
    const lowest = Math.min(...ref.roc.curve.filter((_: unknown, k: number) => js[k] >= maxJ - 1e-12).map((p: { threshold: number }) => p.threshold));
    expect(r.cutoff).toBe(lowest);
    const { tp, fp, tn, fn } = r.counts;
    expect(tp + fn).toBe(ref.roc.nPositive);
    expect(tn + fp).toBe(ref.roc.nNegative);
    close(r.sensitivity - (1 - r.specificity), maxJ, 1e-15, 'J');
  });
  it('cluster bootstrap (patients) equals the Python transcription (same mulberry32 stream)', () => {
    const rc = rocAnalysis({ doseGy: dose, positive, clusters: lesions.rows.map((x) => x.patient), bootstrapReplicates: 2000, bootstrapSeed: 20240101 });
    expect(rc.aucCiMethod).toBe('cluster-bootstrap');
    expect(rc.bootstrap?.used).toBe(ref.roc.clusterBootstrap.used);
    close(rc.aucCi95[0], ref.roc.clusterBootstrap.ci[0], 1e-12, 'boot lo');
    close(rc.aucCi95[1], ref.roc.clusterBootstrap.ci[1], 1e-12, 'boot hi');
    expect(rc.auc).toBe(r.auc);
  });
});

describe('rank tests vs scipy.stats', () => {
  it('Mann-Whitney asymptotic with ties (tie and continuity corrections)', () => {
    const m = mannWhitney({ x: dose.filter((_, i) => positive[i]), y: dose.filter((_, i) => !positive[i]) });
    expect(m.method).toBe('asymptotic');
    expect(m.ties).toBe(true);
    close(m.u1, ref.groups.mannWhitney.u1, 1e-12, 'U1');
    relClose(m.p, ref.groups.mannWhitney.p, 1e-9, 'p');
  });
  it('Mann-Whitney exact (no ties, n < 8), both orientations', () => {
    for (const c of [ref.groups.mannWhitneyExact, ref.groups.mannWhitneyExact2]) {
      const m = mannWhitney({ x: c.x, y: c.y });
      expect(m.method).toBe('exact');
      expect(m.u1).toBe(c.u1);
      relClose(m.p, c.p, 1e-12, 'exact p');
    }
  });
  it('Kruskal-Wallis across CR/PR/SD/PD (tie-corrected)', () => {
    const groups = ['CR', 'PR', 'SD', 'PD'].map((g) => ({ group: g, values: dose.filter((_, i) => lesions.rows[i].response === g) }));
    const k = kruskalWallis(groups);
    close(k.h, ref.groups.kruskal.h, 1e-10, 'H');
    relClose(k.p, ref.groups.kruskal.p, 1e-9, 'p');
    expect(k.df).toBe(3);
    const s = summarizeGroups(groups.map((g) => ({ group: g.group, valuesGy: g.values })));
    for (const g of s) {
      expect(g.medianGy).toBeCloseTo(ref.groups.medians[g.group], 12);
      expect([g.minGy, g.maxGy]).toEqual(ref.groups.ranges[g.group]);
    }
  });
});

describe('logistic regression vs statsmodels Logit', () => {
  for (const [name, cols] of [['dose', ['doseGy']], ['doseDiameter', ['doseGy', 'diameterMm']]] as const) {
    it(`${name}: coefficients, SEs, p-values, CIs, log-likelihoods to 1e-6`, () => {
      const fit = logisticRegression({ names: cols, x: lesions.rows.map((r) => cols.map((c) => Number(r[c]))), y: positive });
      const R = ref.logistic[name];
      fit.coefficients.forEach((c, j) => {
        close(c.estimate, R.params[j], 1e-6, `b${j}`);
        close(c.se, R.bse[j], 1e-6, `se${j}`);
        relClose(c.p, R.pvalues[j], 1e-6, `p${j}`);
        close(c.ciLow, R.ciLow[j], 1e-6, `lo${j}`);
        close(c.ciHigh, R.ciHigh[j], 1e-6, `hi${j}`);
        close(c.ratio, Math.exp(R.params[j]), 1e-6, `OR${j}`);
      });
      close(fit.logLikelihood, R.llf, 1e-9, 'llf');
      close(fit.nullLogLikelihood, R.llnull, 1e-12, 'llnull');
      if (name === 'dose') {
        const dr = doseResponse(fit);
        close(dr.d50Gy, R.d50Gy, 1e-6, 'D50');
        close(dr.d50SeGy, R.d50SeGy, 1e-6, 'D50 se');
        close(dr.gamma50, R.gamma50, 1e-6, 'gamma50');
        close(dr.probabilityAt(dr.d50Gy), 0.5, 1e-12, 'P(D50)');
      }
    });
  }
});

describe('Cox PH (Efron ties) vs statsmodels PHReg', () => {
  const specs = {
    dose: [{ name: 'doseGy', kind: 'continuous' }],
    grade: [{ name: 'grade', kind: 'categorical', reference: '1' }],
    origin: [{ name: 'origin', kind: 'categorical', reference: 'other' }],
    age: [{ name: 'age', kind: 'continuous' }],
    multi: [{ name: 'doseGy', kind: 'continuous' }, { name: 'grade', kind: 'categorical', reference: '1' }, { name: 'origin', kind: 'categorical', reference: 'other' }],
  } as const;
  for (const [model, spec] of Object.entries(specs)) {
    for (const ep of ['pfs', 'os']) {
      it(`${model} on ${ep.toUpperCase()}: coefficients, SEs, p, HR CIs, log partial likelihood`, () => {
        const d = buildDesign(patients.rows, spec, 'patients.csv');
        const fit = coxRegression({
          names: d.names,
          x: d.x,
          times: d.rowIndex.map((i) => Number(patients.rows[i][`${ep}Months`])),
          events: d.rowIndex.map((i) => patients.rows[i][`${ep}Event`] === '1'),
        });
        const R = ref.cox[`${model}_${ep}`];
        expect(fit.coefficients.length).toBe(R.params.length);
        fit.coefficients.forEach((c, j) => {
          close(c.estimate, R.params[j], 1e-6, `${c.name} b`);
          close(c.se, R.bse[j], 1e-6, `${c.name} se`);
          relClose(c.p, R.pvalues[j], 1e-6, `${c.name} p`);
          close(c.ratioCiLow, R.hrLow[j], 1e-6, `${c.name} HR lo`);
          close(c.ratioCiHigh, R.hrHigh[j], 1e-6, `${c.name} HR hi`);
        });
        close(fit.logPartialLikelihood, R.llf, 1e-9, 'llf');
        if (R.waldChi2 !== undefined) {
          const w = jointWald(fit.coefficients.map((c) => c.estimate), fit.covariance, fit.coefficients.map((_, j) => j));
          close(w.chi2, R.waldChi2, 1e-6, 'joint Wald');
          relClose(w.p, R.waldP, 1e-6, 'joint Wald p');
        }
      });
    }
  }
  it('dummy names and the reference level', () => {
    const d = buildDesign(patients.rows, specs.multi, 'patients.csv');
    expect(d.names).toEqual(['doseGy', 'grade[2 vs 1]', 'grade[3 vs 1]', 'origin[pancreas vs other]', 'origin[small-bowel vs other]']);
  });
});

describe('Kaplan-Meier and log-rank vs statsmodels SurvfuncRight / survdiff', () => {
  const times = patients.rows.map((r) => Number(r.pfsMonths));
  const events = patients.rows.map((r) => r.pfsEvent === '1');
  const groupsBy = {
    doseGroup: patients.rows.map((r) => (Number(r.doseGy) >= 130 ? 'high' : 'low')),
    grade: patients.rows.map((r) => r.grade),
  };
  for (const [by, labels] of Object.entries(groupsBy)) {
    it(`curves by ${by}: S, Greenwood SE, at-risk, median and its CI; log-rank chi2 and p`, () => {
      const R = ref.km[by];
      for (const [g, c] of Object.entries<any>(R.curves)) {
        const idx = labels.map((l, i) => (l === g ? i : -1)).filter((i) => i >= 0);
        const km = kaplanMeier({ times: idx.map((i) => times[i]), events: idx.map((i) => events[i]), group: g });
        expect(km.steps.map((s) => s.time)).toEqual(c.times);
        expect(km.steps.map((s) => s.atRisk)).toEqual(c.atRisk);
        expect(km.steps.map((s) => s.events)).toEqual(c.events);
        km.steps.forEach((s, k) => {
          close(s.survival, c.surv[k], 1e-12, 'S');
          if (c.se[k] !== null) close(s.se, c.se[k], 1e-12, 'se');
        });
        expect(km.median).toBe(c.median);
        expect(km.medianCi).toEqual(c.medianCi);
      }
      const lr = logRank({ times, events, group: labels });
      close(lr.chi2, R.logRankChi2, 1e-9, 'chi2');
      relClose(lr.p, R.logRankP, 1e-9, 'p');
    });
  }
});
