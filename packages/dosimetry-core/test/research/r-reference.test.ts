/**
 * The research commands against R on R's own public data sets (survival's lung, veteran and colon; pROC's aSAH).
 * scripts/reference/r_reference.R runs here, at test time: R exports the data sets to CSV in a temporary folder
 * (with the 1/2 status coding of lung, a ';'-separated decimal-comma copy through write.csv2, and a pandas-style
 * 1.0/0.0 copy of colon) and computes the reference results with survival::coxph / survfit / survdiff, pROC and
 * stats::wilcox.test / pairwise.wilcox.test / kruskal.test / glm. The commands then run in-process on those CSVs,
 * with the options a user would give, and must agree with R.
 *
 * Tolerance: 1e-6 relative (the brief's figure); the fits on both sides are converged to ~1e-12 (R's with eps
 * 1e-13 / 1e-14, see the script), so the real agreement is far closer. Counts and event times must be equal.
 * Skipped, with the reason printed, when Rscript or the survival/pROC packages are absent.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { cli } from './cli-harness.ts';

const SCRIPT = fileURLToPath(new URL('../../../../scripts/reference/r_reference.R', import.meta.url));
const TOL = 1e-6;

/** Why R cannot run here, or undefined. */
function rUnavailable(): string | undefined {
  const r = spawnSync('Rscript', ['-e', 'suppressPackageStartupMessages({library(survival); library(pROC)})'], { encoding: 'utf8' });
  if (r.error) return `Rscript is not installed (${(r.error as NodeJS.ErrnoException).code}); install r-base-core r-cran-survival r-cran-proc (scripts/bootstrap.mjs does)`;
  if (r.status !== 0) return `R lacks the survival or pROC package (${r.stderr.trim().split('\n').pop()}); install r-cran-survival r-cran-proc`;
  return undefined;
}
const why = rUnavailable();
if (why) console.warn(`skipping the R reference tests: ${why}`);

/** Largest relative difference seen per group of tests (printed at the end: the measured agreement). */
const worst = new Map<string, { err: number; what: string }>();

/** |a - b| <= TOL |b| (absolute 1e-300 floor for an exact zero). */
function rel(a: number | null, b: number | null, what: string, tol = TOL): void {
  if (b === null) {
    expect(a, what).toBeNull();
    return;
  }
  if (a === null) throw new Error(`${what}: got null, R has ${b}`);
  const err = Math.abs(a - b) / Math.max(Math.abs(b), 1e-300);
  const group = (expect.getState().currentTestName ?? '').split(' > ').slice(1, 2).join('');
  if (err > (worst.get(group)?.err ?? -1)) worst.set(group, { err, what });
  if (!(err <= tol)) throw new Error(`${what}: got ${a}, R has ${b} (relative error ${err.toExponential(2)} > ${tol})`);
}
const arr = (v: number | number[]): number[] => (Array.isArray(v) ? v : [v]);

interface Term { name: string; estimate: number; se: number; p: number; hazardRatio: number; hrCiLow: number; hrCiHigh: number }
interface RCox { names: string[]; coef: number | number[]; se: number | number[]; p: number | number[]; hrLow: number | number[]; hrHigh: number | number[];
  loglik: number[]; n: number; nEvents: number; lrChi2: number; lrP: number; waldChi2: number; waldP: number }

/** Cox terms against coxph: coefficient, SE, Wald p, HR CI. */
function coxTerms(terms: Term[], R: RCox, what: string): void {
  expect(terms.length, `${what}: number of terms`).toBe(R.names.length);
  terms.forEach((t, j) => {
    rel(t.estimate, arr(R.coef)[j], `${what} ${t.name} coef`);
    rel(t.se, arr(R.se)[j], `${what} ${t.name} se`);
    rel(t.p, arr(R.p)[j], `${what} ${t.name} p`);
    rel(t.hrCiLow, arr(R.hrLow)[j], `${what} ${t.name} HR low`);
    rel(t.hrCiHigh, arr(R.hrHigh)[j], `${what} ${t.name} HR high`);
  });
}

describe.skipIf(why !== undefined)('research commands agree with R (survival, pROC, stats) on public data sets', () => {
  let dir = '';
  let R: any;
  const f = (name: string) => join(dir, name);
  const run = async (argv: string[]) => {
    const r = await cli(argv);
    if (r.code !== 0) throw new Error(`${argv.slice(0, 1).join(' ')} exited ${r.code}: ${r.err}`);
    return { json: JSON.parse(r.out), err: r.err };
  };
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'r-reference-'));
    execFileSync('Rscript', [SCRIPT, dir], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 120_000 });
    R = JSON.parse(readFileSync(f('reference.json'), 'utf8'));
    console.info(`R reference: ${R.versions.R}, survival ${R.versions.survival}, pROC ${R.versions.pROC}`);
  }, 150_000);
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    for (const [group, w] of worst) console.info(`largest relative difference from R, ${group}: ${w.err.toExponential(1)} (${w.what})`);
  });
  afterEach(() => vi.restoreAllMocks());

  describe('cox vs survival::coxph (Efron ties)', () => {
    const lungArgs = ['cox', '--json', '--time-column', 'time', '--event-column', 'status', '--event-codes', '2', '--all'];
    it('lung, status 1/2 mapped with --event-codes 2: univariate and multivariate age, sex, ph.ecog', async () => {
      const { json } = await run([...lungArgs, '--csv', f('lung.csv'), '--covariate', 'age', '--covariate', 'sex', '--covariate', 'ph.ecog']);
      expect(json.ties).toBe('efron');
      for (const [k, name] of [[0, 'lung_age'], [1, 'lung_sex'], [2, 'lung_ecog']] as const) {
        coxTerms(json.univariate[k].terms, R.cox[name], name);
        expect(json.univariate[k].n).toBe(R.cox[name].n);
        expect(json.univariate[k].nEvents).toBe(R.cox[name].nEvents);
        rel(json.univariate[k].p, R.cox[name].waldP, `${name} Wald p`);
      }
      const m = json.multivariate;
      coxTerms(m.terms, R.cox.lung_multi, 'lung_multi');
      expect([m.n, m.nEvents]).toEqual([R.cox.lung_multi.n, R.cox.lung_multi.nEvents]); // the ph.ecog NA row dropped
      rel(m.lrChi2, R.cox.lung_multi.lrChi2, 'LR chi2');
      rel(m.lrP, R.cox.lung_multi.lrP, 'LR p');
    });
    it('lung without the map: the 1/2 status is refused with the fix, nothing printed on stdout', async () => {
      const r = await cli(['cox', '--json', '--csv', f('lung.csv'), '--time-column', 'time', '--event-column', 'status', '--covariate', 'age']);
      expect(r.code).not.toBe(0);
      expect(r.out).toBe('');
      expect(r.err.trim().split('\n')).toHaveLength(1);
      expect(r.err).toMatch(/column "status" holds 1 and 2, not 0\/1 \(R's survival coding: 1 = censored, 2 = event\); say so with --event-codes 2/);
    });
    it('lung stratified by sex (coxph ... + strata(sex)): age, ph.ecog alone and together', async () => {
      const { json } = await run([...lungArgs, '--csv', f('lung.csv'), '--strata', 'sex', '--covariate', 'age', '--covariate', 'ph.ecog']);
      expect(json.strata).toEqual(['sex']);
      expect(json.nStrata).toBe(2);
      coxTerms(json.univariate[0].terms, R.cox.lung_strata_age, 'lung_strata_age');
      coxTerms(json.univariate[1].terms, R.cox.lung_strata_ecog, 'lung_strata_ecog');
      coxTerms(json.multivariate.terms, R.cox.lung_strata_multi, 'lung_strata_multi');
      rel(json.multivariate.lrChi2, R.cox.lung_strata_multi.lrChi2, 'stratified LR chi2');
    });
    it('the same lung table exported by write.csv2 (";"-separated) gives the same fit, and says how it was read', async () => {
      const { json, err } = await run([...lungArgs, '--csv', f('lung_semicolon.csv'), '--covariate', 'age', '--covariate', 'sex', '--covariate', 'ph.ecog']);
      expect(err).toContain(`note: ${f('lung_semicolon.csv')}: read as ';'-separated with decimal points`);
      coxTerms(json.multivariate.terms, R.cox.lung_multi, 'lung_multi (csv2)');
    });
    const colonArgs = ['cox', '--json', '--time-column', 'time', '--event-column', 'status', '--categorical', 'rx:Obs', '--covariate', 'age', '--covariate', 'nodes', '--all'];
    it('colon deaths: rx (Lev, Lev+5FU vs Obs), age, nodes; the categorical rx alone with its joint Wald test', async () => {
      const { json } = await run([...colonArgs, '--csv', f('colon_death.csv')]);
      coxTerms(json.univariate[0].terms, R.cox.colon_rx, 'colon_rx');
      expect(json.univariate[0].terms.map((t: Term) => t.name)).toEqual(['rx[Lev vs Obs]', 'rx[Lev+5FU vs Obs]']);
      rel(json.univariate[0].p, R.cox.colon_rx.waldP, 'rx joint Wald p');
      coxTerms(json.multivariate.terms, R.cox.colon_multi, 'colon_multi');
      expect(json.multivariate.n).toBe(R.cox.colon_multi.n);
    });
    it('colon stratified by sex and obstruct (strata(sex, obstruct): 4 strata)', async () => {
      const { json } = await run([...colonArgs, '--csv', f('colon_death.csv'), '--strata', 'sex', '--strata', 'obstruct']);
      expect(json.nStrata).toBe(4);
      coxTerms(json.multivariate.terms, R.cox.colon_strata_multi, 'colon_strata_multi');
      rel(json.multivariate.lrChi2, R.cox.colon_strata_multi.lrChi2, 'LR chi2');
      rel(json.multivariate.lrP, R.cox.colon_strata_multi.lrP, 'LR p');
    });
    it('colon written as pandas writes columns with missing values (1.0/0.0, empty cells): same fit', async () => {
      const { json } = await run([...colonArgs, '--csv', f('colon_death_pandas.csv')]);
      coxTerms(json.multivariate.terms, R.cox.colon_multi, 'colon_multi (pandas)');
    });
  });

  describe('km vs survival::survfit and survdiff', () => {
    const curves = (json: any, ref: any, what: string, conf: 'log-log' | 'log') => {
      expect(json.curves.map((c: { group: string }) => c.group).sort()).toEqual(Object.keys(ref.curves).sort());
      for (const c of json.curves) {
        const r = ref.curves[c.group];
        expect([c.n, c.events], `${what} ${c.group} n, events`).toEqual([r.n, r.events]);
        const st = c.steps as any[];
        expect(st.map((s) => s.time)).toEqual(arr(r.time));
        expect(st.map((s) => s.atRisk)).toEqual(arr(r.nRisk));
        expect(st.map((s) => s.events)).toEqual(arr(r.nEvent));
        st.forEach((s, k) => {
          const at = `${what} ${c.group} t=${s.time}`;
          if (arr(r.surv)[k] === 0) expect(s.survival, at).toBe(0);
          else rel(s.survival, arr(r.surv)[k], `${at} S`);
          if (arr(r.surv)[k] > 0) rel(s.se, arr(r.seSurv)[k], `${at} Greenwood se`);
          const [lo, hi] = conf === 'log' ? [r.lowerLog, r.upperLog] : [r.lower, r.upper];
          rel(s.ciLow, arr(lo)[k], `${at} CI low (${conf})`);
          rel(s.ciHigh, arr(hi)[k], `${at} CI high (${conf})`);
        });
        // medians: no curve here sits exactly on S = 0.5, where R takes the midpoint of the plateau and the engine
        // the next event time (km.ts); the Brookmeyer-Crowley CI equals survfit's on the log-log scale
        expect([c.median, ...c.medianCi], `${what} ${c.group} median and CI`).toEqual([r.median, r.medianLcl, r.medianUcl]);
      }
      rel(json.logRank.chi2, ref.logRankChi2, `${what} log-rank chi2`);
      rel(json.logRank.p, ref.logRankP, `${what} log-rank p`);
      expect(json.logRank.df).toBe(ref.logRankDf);
    };
    it('veteran by celltype (4 groups): steps, Greenwood SE, log-log CIs, medians, log-rank', async () => {
      const args = ['km', '--json', '--csv', f('veteran.csv'), '--time-column', 'time', '--event-column', 'status', '--group-column', 'celltype'];
      curves((await run(args)).json, R.km.veteran_celltype, 'veteran', 'log-log');
      curves((await run([...args, '--conf-type', 'log'])).json, R.km.veteran_celltype, 'veteran', 'log');
    });
    it('lung by sex with status 1/2 (--event-codes 2)', async () => {
      const { json } = await run(['km', '--json', '--csv', f('lung.csv'), '--time-column', 'time', '--event-column', 'status', '--event-codes', '2', '--group-column', 'sex']);
      curves(json, R.km.lung_sex, 'lung', 'log-log');
    });
  });

  describe('groups vs wilcox.test, pairwise.wilcox.test (Holm) and kruskal.test', () => {
    it('veteran karno by celltype: any grouping column, no --positive; Kruskal-Wallis and Holm-adjusted pairs', async () => {
      const { json } = await run(['groups', '--json', '--csv', f('veteran.csv'), '--dose-column', 'karno', '--group-column', 'celltype']);
      const ref = R.groups.veteranKruskal;
      expect(json.groups.map((g: { group: string }) => g.group)).toEqual(ref.groups);
      expect(json.groups.map((g: { medianGy: number }) => g.medianGy)).toEqual(ref.medians);
      rel(json.kruskalWallis.h, ref.h, 'H');
      rel(json.kruskalWallis.p, ref.p, 'Kruskal-Wallis p');
      expect(json.kruskalWallis.df).toBe(ref.df);
      expect(json.mannWhitney).toBeNull();
      expect(json.pairwiseAdjustment).toBe('holm');
      expect(json.pairwise).toHaveLength(R.groups.veteranPairwise.length);
      for (const pr of R.groups.veteranPairwise) {
        const c = json.pairwise.find((x: { groupA: string; groupB: string }) => x.groupA === pr.a && x.groupB === pr.b);
        expect(c, `${pr.a} vs ${pr.b}`).toBeDefined();
        expect(c.u1).toBe(pr.w);
        expect(c.method).toBe('asymptotic'); // karno is tied: R says "with continuity correction"
        expect(pr.method).toMatch(/continuity correction/);
        rel(c.p, pr.p, `${pr.a} vs ${pr.b} p`);
        rel(c.pAdjusted, pr.pHolm, `${pr.a} vs ${pr.b} Holm p`);
      }
    });
    const mw = async (csv: string, dose: string, group: string, ref: { w: number; p: number; method: string; nX: number; nY: number }, method: 'exact' | 'asymptotic') => {
      const { json } = await run(['groups', '--json', '--csv', f(csv), '--dose-column', dose, '--group-column', group]);
      const m = json.mannWhitney;
      expect([m.n1, m.n2]).toEqual([ref.nX, ref.nY]);
      expect(m.u1).toBe(ref.w);
      expect(m.method).toBe(method);
      expect(ref.method).toMatch(method === 'exact' ? /exact/ : /continuity correction/);
      rel(m.p, ref.p, `${csv} ${dose} p`);
    };
    it('exact: aSAH ndka, 40 rows without ties (24 vs 16)', () => mw('aSAH_small.csv', 'ndka', 'outcome', R.groups.smallNdkaExact, 'exact'));
    it('approximate: the same rows on s100b (ties)', () => mw('aSAH_small.csv', 's100b', 'outcome', R.groups.smallS100bTies, 'asymptotic'));
    it('approximate: all of aSAH on ndka (72 Good: a group of 50 or more)', () => mw('aSAH.csv', 'ndka', 'outcome', R.groups.aSAHNdka, 'asymptotic'));
    it('two groups coded 1/2 (veteran trt) are just two groups', () => mw('veteran.csv', 'karno', 'trt', R.groups.veteranTrt, 'asymptotic'));
  });

  describe('roc vs pROC (DeLong CI, Youden "best")', () => {
    for (const [predictor, csv] of [['s100b', 'aSAH.csv'], ['ndka', 'aSAH.csv'], ['wfns', 'aSAH.csv'], ['age', 'aSAH.csv'], ['s100b', 'aSAH_semicolon.csv']] as const) {
      it(`aSAH ${predictor} (${csv})`, async () => {
        const { json, err } = await run(['roc', '--json', '--csv', f(csv), '--dose-column', predictor, '--response-column', 'outcome', '--positive', 'Poor', '--negative', 'Good']);
        if (csv.includes('semicolon')) expect(err).toContain(`note: ${f(csv)}: read as ';'-separated with decimal commas`);
        const ref = R.roc[predictor];
        expect([json.nPositive, json.nNegative]).toEqual([ref.cases, ref.controls]);
        rel(json.auc, ref.auc, 'AUC');
        rel(json.aucSeDeLong, ref.se, 'DeLong se');
        rel(json.aucCi95[0], ref.ciLow, 'CI low');
        rel(json.aucCi95[1], ref.ciHigh, 'CI high');
        // pROC's thresholds lie midway between observed values; the engine's cutoff is an observed dose (called
        // responder at or above it): the lowest observed value above pROC's best threshold, with the same counts
        const values = readFileSync(f('aSAH.csv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split(','));
        const col = readFileSync(f('aSAH.csv'), 'utf8').split('\n')[0].split(',').map((c) => c.replace(/"/g, '')).indexOf(predictor);
        const above = values.map((v) => Number(v[col])).filter((v) => v > ref.bestThreshold);
        expect(json.cutoff).toBe(Math.min(...above));
        rel(json.sensitivity, ref.bestSensitivity, 'sensitivity');
        rel(json.specificity, ref.bestSpecificity, 'specificity');
      });
    }
  });

  describe('logistic vs glm(binomial)', () => {
    const check = (json: any, ref: any, what: string) => {
      expect(json.n).toBe(ref.n);
      expect(json.coefficients.length).toBe(ref.names.length);
      json.coefficients.forEach((c: { name: string; estimate: number; se: number; p: number; ciLow: number; ciHigh: number }, j: number) => {
        rel(c.estimate, arr(ref.coef)[j], `${what} ${c.name} coef`);
        rel(c.se, arr(ref.se)[j], `${what} ${c.name} se`);
        rel(c.p, arr(ref.p)[j], `${what} ${c.name} p`);
        rel(c.ciLow, arr(ref.ciLow)[j], `${what} ${c.name} CI low`);
        rel(c.ciHigh, arr(ref.ciHigh)[j], `${what} ${c.name} CI high`);
      });
      rel(json.logLikelihood, ref.loglik, `${what} log-likelihood`);
      rel(json.nullLogLikelihood, ref.nullLoglik, `${what} null log-likelihood`);
    };
    const aSAH = ['logistic', '--json', '--csv', '', '--response-column', 'outcome', '--positive', 'Poor', '--negative', 'Good', '--dose-column', 's100b'];
    it('aSAH: Poor outcome on s100b; with age; with gender (Male vs Female)', async () => {
      aSAH[3] = f('aSAH.csv');
      check((await run(aSAH)).json, R.logistic.aSAH_s100b, 's100b');
      check((await run([...aSAH, '--covariate', 'age'])).json, R.logistic.aSAH_s100b_age, 's100b + age');
      const g = (await run([...aSAH, '--categorical', 'gender:Female'])).json;
      expect(g.coefficients[2].name).toBe('gender[Male vs Female]');
      check(g, R.logistic.aSAH_s100b_gender, 's100b + gender');
    });
    it('colon deaths: status on nodes and age, from the 0/1 file and from the pandas 1.0/0.0 file', async () => {
      for (const csv of ['colon_death.csv', 'colon_death_pandas.csv']) {
        const { json } = await run(['logistic', '--json', '--csv', f(csv), '--response-column', 'status', '--dose-column', 'nodes', '--covariate', 'age']);
        expect(json.positive).toEqual(['1', 'TRUE', 'YES']); // read as a binary column, 1 (= 1.0) responders
        check(json, R.logistic.colon_nodes_age, csv);
      }
    });
  });
});
