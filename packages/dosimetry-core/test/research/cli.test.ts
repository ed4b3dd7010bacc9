/**
 * The research commands end to end: the published confusion counts, JSON shapes against the reference values,
 * SVG output, and bad input (one line on stderr, non-zero exit, no partial output).
 */
import { mkdtempSync, readFileSync, writeFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { cli } from './cli-harness.ts';

const fixtures = fileURLToPath(new URL('./fixtures/', import.meta.url));
const lesionsCsv = join(fixtures, 'lesions.csv');
const patientsCsv = join(fixtures, 'patients.csv');
const ref = JSON.parse(readFileSync(join(fixtures, 'reference.json'), 'utf8'));
const tmp = mkdtempSync(join(tmpdir(), 'research-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());


/**
 * 126 lesions, 85 responders, built to have the confusion counts of the 2024 J Nucl Med NET study at 196.6 Gy:
 * TP 55, FN 30, FP 6, TN 35. Order by decreasing dose: above the cutoff 55 responders with the 6 non-responders
 * among the highest doses; below it "non-responder, responder, responder" x 15 then 20 non-responders, so that
 * J = TPR - FPR has its unique maximum at 196.6 Gy (every prefix below adds p/85 - n/41 < 0 with p <= 2n).
 */
function publishedLesions(): string {
  const above: string[] = Array(55).fill('PR');
  for (const k of [2, 7, 12, 17, 22, 27]) above.splice(k, 0, 'SD');
  const below = [...Array(15).fill(['PD', 'CR', 'PR']).flat(), ...Array(20).fill('SD')];
  const rows = ['patient,lesion,meanGy,response'];
  above.forEach((r, i) => rows.push(`P${String(i % 40).padStart(2, '0')},L${i},${(196.6 + (60 - i) * 5.5).toFixed(1)},${r}`));
  below.forEach((r, i) => rows.push(`P${String((i + 61) % 40).padStart(2, '0')},L${i + 61},${(190 - i * 2.5).toFixed(1)},${r}`));
  return rows.join('\r\n') + '\r\n';
}

describe('published confusion counts (J Nucl Med 2024, 126 lesions)', () => {
  const path = join(tmp, 'published.csv');
  writeFileSync(path, publishedLesions());
  it('text output: cutoff 196.6 Gy and all five percentages with their counts', async () => {
    const { code, out } = await cli(['roc', '--csv', path, '--dose-column', 'meanGy', '--response-column', 'response']);
    expect(code).toBe(0);
    expect(out).toMatch(/cutoff\s+196\.6 /);
    expect(out).toContain('sensitivity  64.7 % (55/85)');
    expect(out).toContain('specificity  85.4 % (35/41)');
    expect(out).toContain('PPV          90.2 % (55/61)');
    expect(out).toContain('NPV          53.8 % (35/65)');
    expect(out).toContain('accuracy     71.4 % (90/126)');
  });
  it('JSON: contract keys, fractions, counts', async () => {
    const { code, out } = await cli(['roc', '--json', '--csv', path, '--dose-column', 'meanGy', '--response-column', 'response', '--positive', 'cr,PR']);
    expect(code).toBe(0);
    const j = JSON.parse(out);
    for (const k of ['auc', 'aucCi95', 'cutoff', 'sensitivity', 'specificity', 'ppv', 'npv', 'accuracy', 'counts', 'curve']) expect(j).toHaveProperty(k);
    expect(j.cutoff).toBe(196.6);
    expect(j.counts).toEqual({ tp: 55, fp: 6, tn: 35, fn: 30 });
    expect(j.sensitivity).toBeCloseTo(55 / 85, 15);
    expect(j.specificity).toBeCloseTo(35 / 41, 15);
    expect(j.ppv).toBeCloseTo(55 / 61, 15);
    expect(j.npv).toBeCloseTo(35 / 65, 15);
    expect(j.accuracy).toBeCloseTo(90 / 126, 15);
    // AUC by hand: responders above the cutoff beat the 35 lower non-responders and the 6 high ones below them;
    // here simply P(dose_pos > dose_neg) counted pairwise
    const lines = readFileSync(path, 'utf8').trim().split('\r\n').slice(1).map((l) => l.split(','));
    const pos = lines.filter((l) => l[3] === 'CR' || l[3] === 'PR').map((l) => Number(l[2]));
    const neg = lines.filter((l) => l[3] === 'SD' || l[3] === 'PD').map((l) => Number(l[2]));
    let wins = 0;
    for (const p of pos) for (const n of neg) wins += p > n ? 1 : p === n ? 0.5 : 0;
    expect(j.auc).toBeCloseTo(wins / (85 * 41), 14);
    expect(j.aucCi95[0]).toBeLessThan(j.auc);
    expect(j.aucCi95[1]).toBeGreaterThan(j.auc);
    expect(j.curve[0]).toEqual({ threshold: 526.6, tpr: 1 / 85, fpr: 0 }); // highest dose: a responder
    expect(j.curve.at(-1)).toMatchObject({ tpr: 1, fpr: 1 });
  });
});

describe('commands on the reference data sets', () => {
  it('roc --cluster-column: bootstrap CI equals the reference; SVG written', async () => {
    const svg = join(tmp, 'roc.svg');
    const { code, out } = await cli(['roc', '--json', '--csv', lesionsCsv, '--dose-column', 'doseGy', '--response-column', 'response', '--cluster-column', 'patient', '--svg', svg]);
    expect(code).toBe(0);
    const j = JSON.parse(out);
    expect(j.auc).toBeCloseTo(ref.roc.auc, 12); // identical computation, rounding only
    expect(j.aucCi95[0]).toBeCloseTo(ref.roc.clusterBootstrap.ci[0], 12);
    expect(j.aucCi95[1]).toBeCloseTo(ref.roc.clusterBootstrap.ci[1], 12);
    const s = readFileSync(svg, 'utf8');
    expect(s.startsWith('<?xml')).toBe(true);
    expect(s).toContain('<svg xmlns="http://www.w3.org/2000/svg"');
    expect(s.trim().endsWith('</svg>')).toBe(true);
    expect(s).toContain('AUC 0.80');
  });
  it('groups: Mann-Whitney responders vs others, Kruskal-Wallis, medians', async () => {
    const svg = join(tmp, 'groups.svg');
    const { code, out } = await cli(['groups', '--json', '--csv', lesionsCsv, '--dose-column', 'doseGy', '--group-column', 'response', '--svg', svg]);
    expect(code).toBe(0);
    const j = JSON.parse(out);
    expect(j.mannWhitney.method).toBe('asymptotic');
    expect(j.mannWhitney.u1).toBe(ref.groups.mannWhitney.u1);
    expect(j.mannWhitney.p / ref.groups.mannWhitney.p).toBeCloseTo(1, 9); // same formulas; 1e-9 relative
    expect(j.kruskalWallis.p / ref.groups.kruskal.p).toBeCloseTo(1, 9);
    expect(j.groups.map((g: { group: string }) => g.group)).toEqual(['CR', 'PR', 'SD', 'PD']);
    expect(j.groups[0].medianGy).toBe(ref.groups.medians.CR);
    expect(readFileSync(svg, 'utf8').match(/<circle /g)?.length).toBe(63); // one point per lesion
  });
  it('groups text names the test used and why (R\'s rule: no ties and both groups under 50 -> exact)', async () => {
    const { out } = await cli(['groups', '--csv', lesionsCsv, '--dose-column', 'doseGy', '--group-column', 'response', '--groups', 'SD,PD']);
    expect(out).toContain("Mann-Whitney U (exact: no ties and both groups under 50 values (R's wilcox.test rule), two-sided): SD (n=17) vs PD (n=15)");
    const all = await cli(['groups', '--csv', lesionsCsv, '--dose-column', 'doseGy', '--group-column', 'response']);
    expect(all.out).toContain("Mann-Whitney U (normal approximation, tie- and continuity-corrected: tied values (R's wilcox.test rule), two-sided): CR+PR (n=31) vs SD+PD (n=32)");
    expect(out).toContain('Kruskal-Wallis: not run');
  });
  it('logistic: coefficients and D50 as statsmodels', async () => {
    const { code, out } = await cli(['logistic', '--json', '--csv', lesionsCsv, '--dose-column', 'doseGy', '--response-column', 'response', '--covariate', 'diameterMm', '--svg', join(tmp, 'dr.svg')]);
    expect(code).toBe(0);
    const j = JSON.parse(out);
    j.coefficients.forEach((c: { estimate: number }, k: number) => expect(c.estimate).toBeCloseTo(ref.logistic.doseDiameter.params[k], 6));
    expect(j.doseResponse.d50Gy).toBeCloseTo(ref.logistic.dose.d50Gy, 6);
    expect(j.doseResponse.gamma50).toBeCloseTo(ref.logistic.dose.gamma50, 6);
    expect(existsSync(join(tmp, 'dr.svg'))).toBe(true);
  });
  it('logistic: the text gives D50 in the column\'s unit, none when the column names none (no invented Gy)', async () => {
    const gy = await cli(['logistic', '--csv', lesionsCsv, '--dose-column', 'doseGy', '--response-column', 'response']);
    expect(gy.out).toMatch(/D50 = [0-9.]+ Gy \(95 % CI [0-9.]+-[0-9.]+ Gy\)/);
    const scoreCsv = join(tmp, 'score.csv');
    writeFileSync(scoreCsv, readFileSync(lesionsCsv, 'utf8').replace('doseGy', 'score'));
    const plain = await cli(['logistic', '--csv', scoreCsv, '--dose-column', 'score', '--response-column', 'response']);
    expect(plain.code).toBe(0);
    expect(plain.out).toMatch(/D50 = [0-9.]+ \(95 % CI [0-9.]+-[0-9.]+\)/);
    expect(plain.out).not.toContain('Gy');
    const given = await cli(['logistic', '--csv', scoreCsv, '--dose-column', 'score', '--response-column', 'response', '--unit', 'points', '--figure', join(tmp, 'score.svg')]);
    expect(given.out).toMatch(/D50 = [0-9.]+ points/);
  });
  it('cox: univariate then multivariate on the significant ones (dose only here); --all fits all', async () => {
    const base = ['cox', '--json', '--csv', patientsCsv, '--time-column', 'pfsMonths', '--event-column', 'pfsEvent', '--covariate', 'doseGy', '--categorical', 'grade:1', '--categorical', 'origin:other'];
    const j = JSON.parse((await cli(base)).out);
    expect(j.univariate.map((u: { covariate: string }) => u.covariate)).toEqual(['doseGy', 'grade', 'origin']);
    expect(j.univariate[0].terms[0].estimate).toBeCloseTo(ref.cox.dose_pfs.params[0], 6);
    expect(j.univariate[1].p / ref.cox.grade_pfs.waldP).toBeCloseTo(1, 6);
    expect(j.multivariate.covariates).toEqual(['doseGy']);
    const all = JSON.parse((await cli([...base, '--all'])).out);
    all.multivariate.terms.forEach((t: { estimate: number; hazardRatio: number }, k: number) => {
      expect(t.estimate).toBeCloseTo(ref.cox.multi_pfs.params[k], 6);
      expect(t.hazardRatio).toBeCloseTo(Math.exp(ref.cox.multi_pfs.params[k]), 6);
    });
    const none = JSON.parse((await cli([...base, '--enter-p', '0.0001'])).out);
    expect(none.multivariate).toBeNull();
  });
  it('km: medians, CIs and log-rank by a dose cutoff', async () => {
    const svg = join(tmp, 'km.svg');
    const { code, out } = await cli(['km', '--json', '--csv', patientsCsv, '--time-column', 'pfsMonths', '--event-column', 'pfsEvent', '--dose-column', 'doseGy', '--cutoff', '130', '--svg', svg]);
    expect(code).toBe(0);
    const j = JSON.parse(out);
    expect(j.curves.map((c: { group: string }) => c.group)).toEqual(['doseGy < 130', 'doseGy >= 130']);
    expect(j.curves[0].median).toBe(ref.km.doseGroup.curves.low.median);
    expect(j.curves[1].medianCi).toEqual(ref.km.doseGroup.curves.high.medianCi);
    expect(j.logRank.p / ref.km.doseGroup.logRankP).toBeCloseTo(1, 9);
    expect(readFileSync(svg, 'utf8')).toContain('log-rank p &lt; 0.001'); // journal p format (figures/text.ts)
  });
});

describe('bad input: one clear line on stderr, non-zero exit, no SVG left behind', () => {
  const f = (name: string, text: string) => {
    const p = join(tmp, name);
    writeFileSync(p, text);
    return p;
  };
  const nonNumeric = f('nonnum.csv', 'dose,response\n100,CR\nabc,PD\n50,SD\n');
  const oneClass = f('oneclass.csv', 'dose,response\n100,CR\n200,PR\n50,CR\n');
  const noEvents = f('noevents.csv', 'time,event,dose\n5,0,100\n7,0,120\n9,0,80\n12,0,60\n');
  const collinear = f('collinear.csv', 'dose,dose2,response\n100,200,CR\n150,300,PD\n80,160,SD\n120,240,PR\n90,180,PD\n200,400,CR\n');
  const collinearCox = f('collinear-cox.csv', 'time,event,dose,doseMgy\n5,1,100,100000\n7,0,120,120000\n9,1,80,80000\n12,1,60,60000\n3,1,150,150000\n');
  const separated = f('separated.csv', 'dose,response\n50,PD\n60,SD\n70,PD\n200,CR\n210,PR\n220,PR\n');
  const badEvent = f('badevent.csv', 'time,event\n5,maybe\n6,1\n');
  const cases: Array<[string, string[], RegExp]> = [
    ['missing column', ['roc', '--csv', lesionsCsv, '--dose-column', 'meanGy', '--response-column', 'response'], /has no column "meanGy"; its columns are: "patient", "lesion", "doseGy"/],
    ['non-numeric dose', ['roc', '--csv', nonNumeric, '--dose-column', 'dose', '--response-column', 'response'], /column "dose" row 2 holds "abc", which is not a number/],
    ['single response class (roc)', ['roc', '--csv', oneClass, '--dose-column', 'dose', '--response-column', 'response'], /all 3 are responders/],
    ['single response class (logistic)', ['logistic', '--csv', oneClass, '--dose-column', 'dose', '--response-column', 'response'], /all 3 are responders/],
    ['no events (cox)', ['cox', '--csv', noEvents, '--time-column', 'time', '--event-column', 'event', '--covariate', 'dose'], /none of the 4 subjects has an event/],
    ['no events (km)', ['km', '--csv', noEvents, '--time-column', 'time', '--event-column', 'event'], /none of the 4 rows has an event/],
    ['collinear covariates (logistic)', ['logistic', '--csv', collinear, '--dose-column', 'dose', '--response-column', 'response', '--covariate', 'dose2'], /covariate "dose2" is constant or a linear combination .* \(collinear\)/],
    ['collinear covariates (cox)', ['cox', '--csv', collinearCox, '--time-column', 'time', '--event-column', 'event', '--covariate', 'dose', '--covariate', 'doseMgy', '--all'], /"doseMgy" is constant or a linear combination/],
    ['separation (logistic)', ['logistic', '--csv', separated, '--dose-column', 'dose', '--response-column', 'response'], /completely separated .*every dose >= 200 is a responder/],
    ['bad event code', ['km', '--csv', badEvent, '--time-column', 'time', '--event-column', 'event'], /holds "maybe"; an event indicator must be 1 \(event\) or 0 \(censored\)/],
    ['missing file', ['groups', '--csv', join(tmp, 'nope.csv'), '--dose-column', 'd', '--group-column', 'g'], /cannot read CSV file/],
    ['missing option', ['roc', '--csv', lesionsCsv, '--response-column', 'response'], /--dose-column is required/],
    ['unknown reference level', ['cox', '--csv', patientsCsv, '--time-column', 'pfsMonths', '--event-column', 'pfsEvent', '--categorical', 'grade:4'], /reference level "4" of "grade" does not occur/],
  ];
  it.each(cases)('%s', async (_name, argv, msg) => {
    const svg = join(tmp, `bad-${_name.replace(/\W+/g, '-')}.svg`);
    const withSvg = ['roc', 'logistic', 'km', 'groups'].includes(argv[0]) ? [...argv, '--svg', svg] : argv;
    const { code, out, err } = await cli(withSvg);
    expect(code).not.toBe(0);
    expect(out).toBe('');
    expect(err.trim().split('\n')).toHaveLength(1);
    expect(err).toMatch(msg);
    expect(existsSync(svg)).toBe(false);
  });
});
