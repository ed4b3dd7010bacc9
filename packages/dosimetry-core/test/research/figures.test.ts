/**
 * Journal figures of the research commands (src/research/figures/): geometry read back from the SVG the CLI
 * writes and compared with the statistics and with independent references, the PDF checked with poppler, the p-value
 * and label formats, and the refusals.
 *
 * The SVG is read back without the figure code: each axis is calibrated from its own tick marks and tick labels (a
 * straight line through them, checked on every tick), so a wrong scale, a flipped axis or a shifted curve shows up.
 * "Half a pixel" is half a pixel of the figure printed at 300 dpi (the journals' raster resolution): 0.12 pt.
 * References: the JSON the same command prints (the statistics), counts made here from the fixture CSV, R's
 * predict.glm (logistic band), survfit (Kaplan-Meier band) and pROC's ci.se (ROC band); R and poppler checks skip
 * with a printed reason when the tool is absent (scripts/bootstrap.mjs installs them).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { axisLabel, formatPValue, splitColumnUnit } from '../../src/research/figures/index.ts';
import { boxStats, logisticProbabilityBand, numberAtRisk, rocSensitivityBand, sensitivityAtSpecificity } from '../../src/research/plot-stats.ts';
import { kaplanMeier } from '../../src/research/km.ts';
import { logisticRegression } from '../../src/research/logistic.ts';
import { cli } from './cli-harness.ts';

const FIX = join(__dirname, 'fixtures');
const lesionsCsv = join(FIX, 'lesions.csv');
const patientsCsv = join(FIX, 'patients.csv');
const tmp = mkdtempSync(join(tmpdir(), 'figures-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Half a pixel at 300 dpi [pt]. */
const HALF_PIXEL_PT = 0.5 * (72 / 300);
const PT_PER_MM = 72 / 25.4;

// ---------- the fixture tables, read here with a plain split (they hold no quotes) ----------
function readTable(path: string): Array<Record<string, string>> {
  const [head, ...rows] = readFileSync(path, 'utf8').trim().split('\n');
  const cols = head.split(',');
  return rows.map((r) => Object.fromEntries(r.split(',').map((v, i) => [cols[i], v])));
}
const lesions = readTable(lesionsCsv);
const patients = readTable(patientsCsv);

// ---------- a small SVG reader: elements in document order with their attributes and text ----------
interface El { tag: string; cls: string; attrs: Record<string, string>; text: string }
const unescapeXml = (s: string) => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&amp;/g, '&');
function parseSvg(svg: string): El[] {
  const out: El[] = [];
  for (const m of svg.matchAll(/<(path|text|circle|rect|svg)\b([^>]*?)(\/>|>([^<]*)<\/text>|>)/g)) {
    const attrs: Record<string, string> = {};
    for (const a of m[2].matchAll(/([\w:-]+)="([^"]*)"/g)) attrs[a[1]] = unescapeXml(a[2]);
    out.push({ tag: m[1], cls: attrs.class ?? '', attrs, text: unescapeXml(m[4] ?? '') });
  }
  return out;
}
/** Subpaths of an SVG path's d (M/L/Z, absolute, as the figures write them). */
function pathPoints(d: string): Array<Array<[number, number]>> {
  const subs: Array<Array<[number, number]>> = [];
  for (const m of d.matchAll(/([MLZ])\s*(?:(-?[\d.]+)\s+(-?[\d.]+))?/g)) {
    if (m[1] === 'M') subs.push([[Number(m[2]), Number(m[3])]]);
    else if (m[1] === 'L') subs.at(-1)!.push([Number(m[2]), Number(m[3])]);
  }
  return subs;
}
/** The mapping value -> page [pt] of one axis, fitted through its tick marks and labels; every tick must lie on it. */
function axis(els: El[], which: 'x' | 'y'): { toPt: (v: number) => number; toValue: (pt: number) => number; ptPerUnit: number; ticks: Array<{ value: number; pt: number }> } {
  const marks = els.filter((e) => e.cls === `tick-${which}`).map((e) => pathPoints(e.attrs.d)[0][0][which === 'x' ? 0 : 1]);
  const labels = els.filter((e) => e.cls === `tick-label-${which}`).map((e) => Number(e.text));
  expect(marks.length).toBe(labels.length);
  expect(marks.length).toBeGreaterThanOrEqual(2);
  const ticks = labels.map((value, k) => ({ value, pt: marks[k] }));
  const a = ticks[0];
  const b = ticks.at(-1)!;
  const ptPerUnit = (b.pt - a.pt) / (b.value - a.value);
  const toPt = (v: number) => a.pt + (v - a.value) * ptPerUnit;
  for (const t of ticks) expect(Math.abs(toPt(t.value) - t.pt)).toBeLessThan(0.011); // ticks evenly spaced (0.01 pt rounding)
  return { toPt, toValue: (pt) => a.value + (pt - a.pt) / ptPerUnit, ptPerUnit, ticks };
}
/** y values where the vertical line x crosses the polygon's edges (closed subpaths). */
function crossings(polys: Array<Array<[number, number]>>, x: number): number[] {
  const ys: number[] = [];
  for (const p of polys) {
    for (let k = 0; k < p.length; k++) {
      const [ax, ay] = p[k];
      const [bx, by] = p[(k + 1) % p.length];
      if (ax === bx) continue;
      if ((ax <= x) !== (bx <= x)) ys.push(ay + ((x - ax) / (bx - ax)) * (by - ay));
    }
  }
  return ys;
}
/** y of a polyline at x (the last vertex at or before x whose next vertex is after x: steps read as step functions). */
function polylineAt(pts: Array<[number, number]>, x: number): number {
  for (let k = 0; k + 1 < pts.length; k++) {
    const [ax, ay] = pts[k];
    const [bx, by] = pts[k + 1];
    if (ax <= x && x < bx) return ay + ((x - ax) / (bx - ax)) * (by - ay);
  }
  return NaN;
}

const has = (cmd: string, args: string[]) => {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return r.status === 0;
};
const hasR = has('Rscript', ['-e', 'invisible(0)']);
const hasSurvival = hasR && has('Rscript', ['-e', 'library(survival)']);
const hasPROC = hasR && has('Rscript', ['-e', 'library(pROC)']);
const hasPoppler = has('pdfinfo', ['-v']) && has('pdftotext', ['-v']) && has('pdftoppm', ['-v']);
if (!hasR) console.warn('figures: R reference checks skipped: Rscript not found (scripts/bootstrap.mjs installs r-base-core)');
else {
  if (!hasSurvival) console.warn('figures: Kaplan-Meier band vs R skipped: R package survival missing (r-cran-survival)');
  if (!hasPROC) console.warn('figures: ROC band vs pROC skipped: R package pROC missing (r-cran-proc)');
}
if (!hasPoppler) console.warn('figures: PDF checks skipped: pdfinfo/pdftotext/pdftoppm not found (poppler-utils)');

function rscript(code: string): string {
  const f = join(tmp, `r-${Math.random().toString(36).slice(2)}.R`);
  writeFileSync(f, code);
  const r = spawnSync('Rscript', ['--vanilla', f], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`Rscript failed: ${r.stderr}`);
  return r.stdout;
}

async function run(argv: string[]): Promise<{ json: Record<string, unknown>; svg?: string }> {
  const r = await cli([...argv, '--json']);
  if (r.code !== 0) throw new Error(`${argv[0]} failed: ${r.err}`);
  return { json: JSON.parse(r.out) };
}

describe('p-values as journals print them', () => {
  it.each([
    [0.0004, 'p < 0.001'], [1e-20, 'p < 0.001'], [0.000999, 'p < 0.001'],
    [0.001, 'p = 0.001'], [0.012, 'p = 0.012'], [0.0123456, 'p = 0.012'], [0.05, 'p = 0.05'], [0.01, 'p = 0.01'],
    [0.0496, 'p = 0.0496'], [0.0504, 'p = 0.0504'], [0.00996, 'p = 0.00996'], [0.2345, 'p = 0.23'], [0.5, 'p = 0.5'],
    [0.10, 'p = 0.1'], [0.995, 'p > 0.99'], [1, 'p > 0.99'], [NaN, 'p = n/a'],
  ])('%s -> %s', (p, want) => expect(formatPValue(p)).toBe(want));
});

describe('axis labels from column names, --label and --unit', () => {
  it.each([
    ['doseGy', 'dose [Gy]'], ['meanGy', 'mean [Gy]'], ['d70Gy', 'd70 [Gy]'], ['pfsMonths', 'pfs [months]'], ['diameterMm', 'diameter [mm]'],
    ['volumeMl', 'volume [mL]'], ['massG', 'mass [g]'], ['activityGBq', 'activity [GBq]'], ['dose_gy', 'dose [Gy]'], ['dose (Gy)', 'dose [Gy]'],
    ['dose [Gy]', 'dose [Gy]'], ['response', 'response'], ['age', 'age'], ['Gy', 'Gy'], ['grade', 'grade'], ['score', 'score'],
  ])('%s -> %s', (column, want) => expect(axisLabel({ column }).text).toBe(want));
  it('--label and --unit replace the guesses; an empty --unit drops the unit; no unit is invented', () => {
    expect(axisLabel({ column: 'doseGy', label: 'Tumour dose' }).text).toBe('Tumour dose [Gy]');
    expect(axisLabel({ column: 'score', unit: 'a.u.' }).text).toBe('score [a.u.]');
    expect(axisLabel({ column: 'doseGy', unit: '' }).text).toBe('dose');
    expect(splitColumnUnit('age').unit).toBeUndefined();
  });
});

describe('statistics the figures draw (plot-stats.ts)', () => {
  it('sensitivity at a specificity on the ROC polyline: highest where attained, else interpolated (pROC coords)', () => {
    // points (fpr, tpr): (0,0) (0,0.5) (0.5,0.5) (0.5,1) (1,1)
    const fpr = [0, 0, 0.5, 0.5, 1];
    const tpr = [0, 0.5, 0.5, 1, 1];
    expect(sensitivityAtSpecificity(fpr, tpr, 1)).toBe(0.5); // fpr 0: the top of the vertical segment
    expect(sensitivityAtSpecificity(fpr, tpr, 0.5)).toBe(1);
    expect(sensitivityAtSpecificity(fpr, tpr, 0.75)).toBeCloseTo(0.5, 12); // horizontal stretch
    // a diagonal (tied scores): (0,0) -> (1,1)
    expect(sensitivityAtSpecificity([0, 1], [0, 1], 0.3)).toBeCloseTo(0.7, 12);
  });
  it('ROC band of perfectly separated classes is 1 at every specificity (every resample stays separated)', () => {
    const b = rocSensitivityBand({ doseGy: [10, 20, 30, 200, 210, 220, 230], positive: [false, false, false, true, true, true, true], replicates: 300 });
    expect(b.sensitivityLow.every((v) => v === 1) && b.sensitivityHigh.every((v) => v === 1)).toBe(true);
    expect(b.resampling).toBe('stratified');
  });
  it('ROC band is independent of the row order with clusters (canonical cluster order)', () => {
    const d = lesions.map((r) => Number(r.doseGy));
    const p = lesions.map((r) => ['CR', 'PR'].includes(r.response));
    const c = lesions.map((r) => r.patient);
    const idx = d.map((_, i) => i).reverse();
    const a = rocSensitivityBand({ doseGy: d, positive: p, clusters: c, replicates: 400 });
    const b = rocSensitivityBand({ doseGy: idx.map((i) => d[i]), positive: idx.map((i) => p[i]), clusters: idx.map((i) => c[i]), replicates: 400 });
    expect(b.sensitivityLow).toEqual(a.sensitivityLow);
    expect(b.sensitivityHigh).toEqual(a.sensitivityHigh);
  });
  it('numbers at risk count the subjects whose time is at or after t (counted here from the times)', () => {
    const times = [1, 2, 2, 3, 5, 8, 8, 13];
    const events = [true, false, true, true, false, true, false, true];
    const c = kaplanMeier({ times, events });
    const at = [0, 1, 2, 2.5, 8, 9, 13, 14];
    expect(numberAtRisk(c, at)).toEqual(at.map((t) => times.filter((x) => x >= t).length));
  });
  it('box statistics: R type-7 quartiles and Tukey whiskers (by hand)', () => {
    // 1..9 and an outlier 40: Q1 = 3.25, median 5.5, Q3 = 7.75, IQR 4.5, upper fence 14.5 -> whisker 9
    const b = boxStats([1, 2, 3, 4, 5, 6, 7, 8, 9, 40]);
    expect([b.q1, b.median, b.q3, b.whiskerLow, b.whiskerHigh]).toEqual([3.25, 5.5, 7.75, 1, 9]);
  });
  it.skipIf(!hasR)('logistic band equals R predict.glm(se.fit = TRUE) on the link scale, mapped by plogis', () => {
    const d = lesions.map((r) => Number(r.doseGy));
    const y = lesions.map((r) => ['CR', 'PR'].includes(r.response));
    const fit = logisticRegression({ names: ['doseGy'], x: d.map((v) => [v]), y });
    const at = [0, 50, 120, 174, 250, 400, 600];
    const band = logisticProbabilityBand(fit, at);
    const out = rscript(`d <- read.csv("${lesionsCsv}"); y <- d$response %in% c("CR","PR")
m <- glm(y ~ doseGy, family = binomial, data = d, control = glm.control(epsilon = 1e-14, maxit = 100))
p <- predict(m, newdata = data.frame(doseGy = c(${at.join(',')})), type = "link", se.fit = TRUE)
z <- qnorm(0.975); cat(sprintf("%.15g %.15g %.15g\\n", plogis(p$fit), plogis(p$fit - z * p$se.fit), plogis(p$fit + z * p$se.fit)), sep = "")`);
    const ref = out.trim().split('\n').map((l) => l.split(' ').map(Number));
    band.forEach((b, k) => {
      expect(b.probability).toBeCloseTo(ref[k][0], 7);
      expect(b.low).toBeCloseTo(ref[k][1], 7);
      expect(b.high).toBeCloseTo(ref[k][2], 7);
    });
  });
  it.skipIf(!hasPROC)('ROC band agrees with pROC ci.se (stratified bootstrap) within the resampling error', () => {
    const d = lesions.map((r) => Number(r.doseGy));
    const p = lesions.map((r) => ['CR', 'PR'].includes(r.response));
    const sp = Array.from({ length: 21 }, (_, k) => k / 20);
    const mine = rocSensitivityBand({ doseGy: d, positive: p, specificities: sp, replicates: 20000, seed: 7 });
    const out = rscript(`suppressMessages(library(pROC)); set.seed(7); d <- read.csv("${lesionsCsv}"); y <- d$response %in% c("CR","PR")
r <- roc(y, d$doseGy, levels = c(FALSE, TRUE), direction = "<", quiet = TRUE)
ci <- ci.se(r, specificities = seq(0, 1, 0.05), boot.n = 4000, progress = "none")
cat(sprintf("%.15g %.15g\\n", ci[, 1], ci[, 3]), sep = "")`);
    const ref = out.trim().split('\n').map((l) => l.split(' ').map(Number));
    // the bounds are percentiles of sensitivities that move in steps of 1/31: two resamplings may land one step
    // apart where a percentile falls near such a jump (8 of the 42 bounds with these seeds, none further apart);
    // pooled instead of stratified resampling stays within a step too but moves 22 of the 42, hence the count
    const step = 1 / p.filter(Boolean).length;
    let off = 0;
    sp.forEach((_, k) => {
      for (const [a, b] of [[mine.sensitivityLow[k], ref[k][0]], [mine.sensitivityHigh[k], ref[k][1]]]) {
        expect(Math.abs(a - b)).toBeLessThanOrEqual(step + 0.01);
        if (Math.abs(a - b) > 0.005) off++;
      }
    });
    expect(off).toBeLessThanOrEqual(12);
  });
});

describe('ROC figure: geometry read back from the SVG', () => {
  it('width and height attributes are the mm asked; the curve maps to the statistics within half a pixel; the cutoff sits on its point', async () => {
    const svgPath = join(tmp, 'roc.svg');
    const { json } = await run(['roc', '--csv', lesionsCsv, '--dose-column', 'doseGy', '--response-column', 'response', '--figure', svgPath, '--width-mm', '120', '--height-mm', '110']);
    const svg = readFileSync(svgPath, 'utf8');
    const els = parseSvg(svg);
    const root = els.find((e) => e.tag === 'svg')!;
    expect(root.attrs.width).toBe('120mm');
    expect(root.attrs.height).toBe('110mm');
    const vb = root.attrs.viewBox.split(' ').map(Number);
    expect(vb[2]).toBeCloseTo(120 * PT_PER_MM, 3); // user unit = pt
    expect(vb[3]).toBeCloseTo(110 * PT_PER_MM, 3);
    const X = axis(els, 'x');
    const Y = axis(els, 'y');
    expect(Y.ptPerUnit).toBeLessThan(0); // sensitivity grows upward
    const curve = pathPoints(els.find((e) => e.cls === 'curve')!.attrs.d)[0];
    const stats = [{ fpr: 0, tpr: 0 }, ...(json.curve as Array<{ fpr: number; tpr: number }>)];
    expect(curve.length).toBe(stats.length);
    stats.forEach((s, k) => {
      expect(Math.abs(curve[k][0] - X.toPt(s.fpr))).toBeLessThanOrEqual(HALF_PIXEL_PT);
      expect(Math.abs(curve[k][1] - Y.toPt(s.tpr))).toBeLessThanOrEqual(HALF_PIXEL_PT);
    });
    const cut = els.find((e) => e.cls === 'cutoff')!;
    expect(Math.abs(Number(cut.attrs.cx) - X.toPt(1 - (json.specificity as number)))).toBeLessThanOrEqual(HALF_PIXEL_PT);
    expect(Math.abs(Number(cut.attrs.cy) - Y.toPt(json.sensitivity as number))).toBeLessThanOrEqual(HALF_PIXEL_PT);
    // n and the AUC with its CI are written on the figure
    const texts = els.filter((e) => e.tag === 'text').map((e) => e.text);
    expect(texts).toContain(`n = 63 (31 responders, 32 non-responders)`);
    const ci = json.aucCi95 as number[];
    expect(texts).toContain(`AUC ${(json.auc as number).toFixed(2)} (95 % CI ${ci[0].toFixed(2)}\u2013${ci[1].toFixed(2)})`);
    expect(texts.some((t) => t.startsWith('cutoff 165 Gy'))).toBe(true);
    expect(svg).toMatch(/<desc>[^<]*pointwise 95 % CI of the sensitivity at fixed specificities[^<]*2000 resamples/);
  });
  it('the band holds the curve at every specificity of the band', async () => {
    const svgPath = join(tmp, 'roc-band.svg');
    await run(['roc', '--csv', lesionsCsv, '--dose-column', 'doseGy', '--response-column', 'response', '--figure', svgPath]);
    const els = parseSvg(readFileSync(svgPath, 'utf8'));
    const band = pathPoints(els.find((e) => e.cls === 'band')!.attrs.d);
    const curve = pathPoints(els.find((e) => e.cls === 'curve')!.attrs.d)[0];
    const X = axis(els, 'x');
    const half = band[0].length / 2; // upper bound from fpr 0 to 1, then the lower bound back
    for (let k = 1; k < half - 1; k++) {
      const x = band[0][k][0];
      // the curve's extent at x: its vertical segment there, or its height between vertices
      const onX = curve.filter((p) => Math.abs(p[0] - x) < 1e-6).map((p) => p[1]);
      const ys = onX.length ? onX : [polylineAt(curve, x)];
      const [top, bottom] = [band[0][k][1], band[0][band[0].length - 1 - k][1]];
      expect(Math.abs(band[0][band[0].length - 1 - k][0] - x)).toBeLessThan(1e-6);
      // some part of the curve at this specificity lies inside the band (to half a pixel)
      expect(Math.min(...ys) <= bottom + HALF_PIXEL_PT && Math.max(...ys) >= top - HALF_PIXEL_PT, `1 - specificity ${X.toValue(x).toFixed(2)}`).toBe(true);
    }
  });
});

describe('Kaplan-Meier figure: curves, bands and the number-at-risk table', () => {
  const argv = ['km', '--csv', patientsCsv, '--time-column', 'pfsMonths', '--event-column', 'pfsEvent', '--dose-column', 'doseGy', '--cutoff', '130'];
  const groupOf = (r: Record<string, string>) => (Number(r.doseGy) >= 130 ? 'doseGy >= 130' : 'doseGy < 130');

  it('each curve maps to its steps within half a pixel; the band holds it; numbers at risk equal the counts at each tick', async () => {
    const svgPath = join(tmp, 'km.svg');
    const { json } = await run([...argv, '--figure', svgPath]);
    const svg = readFileSync(svgPath, 'utf8');
    const els = parseSvg(svg);
    expect(els.find((e) => e.tag === 'svg')!.attrs.width).toBe('89mm'); // default: a single journal column
    const X = axis(els, 'x');
    const Y = axis(els, 'y');
    const curves = json.curves as Array<{ group: string; steps: Array<{ time: number; survival: number }>; censorTimes: number[] }>;
    for (const c of curves) {
      const pts = pathPoints(els.find((e) => e.cls === 'km-curve' && e.attrs['data-group'] === c.group)!.attrs.d)[0];
      const want: Array<[number, number]> = [[0, 1]];
      let s = 1;
      for (const st of c.steps) (want.push([st.time, s], [st.time, st.survival]), (s = st.survival));
      want.push([Math.max(c.steps.at(-1)!.time, ...c.censorTimes), s]);
      expect(pts.length).toBe(want.length);
      want.forEach(([t, v], k) => {
        expect(Math.abs(pts[k][0] - X.toPt(t))).toBeLessThanOrEqual(HALF_PIXEL_PT);
        expect(Math.abs(pts[k][1] - Y.toPt(v))).toBeLessThanOrEqual(HALF_PIXEL_PT);
      });
      // the band holds the curve between consecutive event times wherever it is drawn
      const band = pathPoints(els.find((e) => e.cls === 'km-band' && e.attrs['data-group'] === c.group)!.attrs.d);
      let checked = 0;
      for (let k = 0; k + 1 < c.steps.length; k++) {
        const x = X.toPt((c.steps[k].time + c.steps[k + 1].time) / 2);
        const ys = crossings(band, x);
        if (!ys.length) continue;
        const y = polylineAt(pts, x);
        expect(y).toBeGreaterThanOrEqual(Math.min(...ys) - HALF_PIXEL_PT);
        expect(y).toBeLessThanOrEqual(Math.max(...ys) + HALF_PIXEL_PT);
        checked++;
      }
      expect(checked).toBeGreaterThan(5);
      // censoring ticks: one per censored subject, at its time
      const censor = pathPoints(els.find((e) => e.cls === 'km-censor' && e.attrs['data-group'] === c.group)!.attrs.d);
      expect(censor.length).toBe(c.censorTimes.length);
      censor.forEach((sp, k) => expect(Math.abs(sp[0][0] - X.toPt(c.censorTimes[k]))).toBeLessThanOrEqual(HALF_PIXEL_PT));
    }
    // number-at-risk table: counted here from the CSV, each number centred under its tick
    const counts = els.filter((e) => e.cls === 'risk-count');
    expect(counts.length).toBe(X.ticks.length * curves.length);
    for (const c of curves) {
      const row = counts.filter((e) => e.attrs['data-group'] === c.group);
      expect(row.length).toBe(X.ticks.length);
      for (const e of row) {
        const tick = X.ticks.find((t) => Math.abs(t.pt - Number(e.attrs.x)) < 0.011);
        expect(tick, `risk count at x = ${e.attrs.x} stands under a tick`).toBeDefined();
        const atRisk = patients.filter((r) => groupOf(r) === c.group && Number(r.pfsMonths) >= tick!.value).length;
        expect(Number(e.text)).toBe(atRisk);
      }
    }
    const texts = els.filter((e) => e.tag === 'text').map((e) => e.text);
    expect(texts).toContain('Number at risk');
    expect(texts).toContain('log-rank p < 0.001');
    expect(texts).toContain('pfs [months]');
    expect(texts).toContain('shaded: 95 % CI (log-log)');
    expect(svg).toMatch(/<desc>[^<]*log-log transform/);
  });

  it.skipIf(!hasSurvival)('the band is R survfit(conf.type = "log-log") (and "log" with --conf-type log) within half a pixel', async () => {
    for (const confType of ['log-log', 'log'] as const) {
      const svgPath = join(tmp, `km-${confType}.svg`);
      await run([...argv, '--conf-type', confType, '--figure', svgPath]);
      const els = parseSvg(readFileSync(svgPath, 'utf8'));
      const X = axis(els, 'x');
      const Y = axis(els, 'y');
      const out = rscript(`suppressMessages(library(survival)); d <- read.csv("${patientsCsv}"); d$g <- ifelse(d$doseGy >= 130, "hi", "lo")
for (g in c("lo", "hi")) { f <- survfit(Surv(pfsMonths, pfsEvent) ~ 1, data = d[d$g == g, ], conf.type = "${confType}")
  k <- f$n.event > 0; cat(sprintf("%s %.15g %.15g %.15g\\n", g, f$time[k], f$lower[k], f$upper[k]), sep = "") }`);
      let compared = 0;
      for (const line of out.trim().split('\n')) {
        const [g, t, lo, hi] = line.split(' ');
        const group = g === 'hi' ? 'doseGy >= 130' : 'doseGy < 130';
        if (lo === 'NA' || hi === 'NA') continue;
        const band = pathPoints(els.find((e) => e.cls === 'km-band' && e.attrs['data-group'] === group)!.attrs.d);
        const x = X.toPt(Number(t)) + 0.05; // just after the event time: that step's interval
        const ys = crossings(band, x);
        if (!ys.length) continue; // S = 0: no band
        expect(Math.abs(Math.max(...ys) - Y.toPt(Number(lo))), `${group} t=${t} lower`).toBeLessThanOrEqual(HALF_PIXEL_PT);
        expect(Math.abs(Math.min(...ys) - Y.toPt(Math.min(1, Number(hi)))), `${group} t=${t} upper`).toBeLessThanOrEqual(HALF_PIXEL_PT);
        compared++;
      }
      expect(compared).toBeGreaterThanOrEqual(15); // event times with a defined CI, both groups
    }
  });
});

describe('dose-response figure', () => {
  it.skipIf(!hasR)('curve and band map to R predict.glm within half a pixel; D50 and its CI are marked; points at 0 and 1', async () => {
    const svgPath = join(tmp, 'dr.svg');
    const { json } = await run(['logistic', '--csv', lesionsCsv, '--dose-column', 'doseGy', '--response-column', 'response', '--figure', svgPath]);
    const els = parseSvg(readFileSync(svgPath, 'utf8'));
    const X = axis(els, 'x');
    const Y = axis(els, 'y');
    const curve = pathPoints(els.find((e) => e.cls === 'curve')!.attrs.d)[0];
    const band = pathPoints(els.find((e) => e.cls === 'band')!.attrs.d)[0];
    const doses = curve.map((p) => X.toValue(p[0]));
    const out = rscript(`d <- read.csv("${lesionsCsv}"); y <- d$response %in% c("CR","PR")
m <- glm(y ~ doseGy, family = binomial, data = d, control = glm.control(epsilon = 1e-14, maxit = 100))
p <- predict(m, newdata = data.frame(doseGy = c(${doses.map((v) => v.toPrecision(12)).join(',')})), type = "link", se.fit = TRUE)
z <- qnorm(0.975); cat(sprintf("%.15g %.15g %.15g\\n", plogis(p$fit), plogis(p$fit - z * p$se.fit), plogis(p$fit + z * p$se.fit)), sep = "")`);
    const ref = out.trim().split('\n').map((l) => l.split(' ').map(Number));
    const n = curve.length;
    expect(band.length).toBe(2 * n);
    curve.forEach((p, k) => {
      expect(Math.abs(p[1] - Y.toPt(ref[k][0]))).toBeLessThanOrEqual(HALF_PIXEL_PT);
      expect(Math.abs(band[k][1] - Y.toPt(ref[k][2]))).toBeLessThanOrEqual(HALF_PIXEL_PT); // upper bound
      expect(Math.abs(band[2 * n - 1 - k][1] - Y.toPt(ref[k][1]))).toBeLessThanOrEqual(HALF_PIXEL_PT); // lower bound
      expect(band[k][1] <= p[1] + 1e-9 && p[1] <= band[2 * n - 1 - k][1] + 1e-9).toBe(true); // the band holds the curve
    });
    const dr = json.doseResponse as { d50Gy: number; d50CiGy: [number, number] };
    const d50 = els.find((e) => e.cls === 'd50')!;
    expect(Math.abs(Number(d50.attrs.cx) - X.toPt(dr.d50Gy))).toBeLessThanOrEqual(HALF_PIXEL_PT);
    expect(Math.abs(Number(d50.attrs.cy) - Y.toPt(0.5))).toBeLessThanOrEqual(HALF_PIXEL_PT);
    const bar = pathPoints(els.find((e) => e.cls === 'd50-ci')!.attrs.d)[0];
    expect(Math.abs(bar[0][0] - X.toPt(dr.d50CiGy[0]))).toBeLessThanOrEqual(HALF_PIXEL_PT);
    expect(Math.abs(bar[1][0] - X.toPt(dr.d50CiGy[1]))).toBeLessThanOrEqual(HALF_PIXEL_PT);
    // every observation: responders at 1, non-responders at 0 (within the +-0.025 spread), at its dose
    const resp = els.filter((e) => e.cls === 'obs-responder');
    const non = els.filter((e) => e.cls === 'obs-non-responder');
    expect(resp.length).toBe(31);
    expect(non.length).toBe(32);
    for (const e of resp) expect(Math.abs(Y.toValue(Number(e.attrs.cy)) - 1)).toBeLessThanOrEqual(0.025 + 1e-3);
    for (const e of non) expect(Math.abs(Y.toValue(Number(e.attrs.cy)))).toBeLessThanOrEqual(0.025 + 1e-3);
    const doseOf = (e: El) => Math.round(X.toValue(Number(e.attrs.cx)) * 10) / 10;
    const want = (pos: boolean) => lesions.filter((r) => ['CR', 'PR'].includes(r.response) === pos).map((r) => Number(r.doseGy)).sort((a, b) => a - b);
    expect(resp.map(doseOf).sort((a, b) => a - b)).toEqual(want(true));
    expect(non.map(doseOf).sort((a, b) => a - b)).toEqual(want(false));
    const texts = els.filter((e) => e.tag === 'text').map((e) => e.text);
    expect(texts.some((t) => t.startsWith(`D50 ${Math.round(dr.d50Gy)} Gy (95 % CI ${Math.round(dr.d50CiGy[0])}\u2013${Math.round(dr.d50CiGy[1])})`))).toBe(true);
  });
});

describe('group figure', () => {
  it('box statistics and points map to the data; n under each group; p in journal format; bracket for two groups', async () => {
    const svgPath = join(tmp, 'groups.svg');
    const { json } = await run(['groups', '--csv', lesionsCsv, '--dose-column', 'doseGy', '--group-column', 'response', '--figure', svgPath]);
    const els = parseSvg(readFileSync(svgPath, 'utf8'));
    const Y = axis(els, 'y');
    const texts = els.filter((e) => e.tag === 'text').map((e) => e.text);
    for (const g of ['CR', 'PR', 'SD', 'PD']) {
      const values = lesions.filter((r) => r.response === g).map((r) => Number(r.doseGy)).sort((a, b) => a - b);
      expect(texts).toContain(`n = ${values.length}`);
      const pts = els.filter((e) => e.cls === 'point' && e.attrs['data-group'] === g).map((e) => Math.round(Y.toValue(Number(e.attrs.cy)) * 10) / 10).sort((a, b) => a - b);
      expect(pts).toEqual(values);
      // median line at the median computed here
      const m = values.length % 2 ? values[(values.length - 1) / 2] : (values[values.length / 2 - 1] + values[values.length / 2]) / 2;
      const med = pathPoints(els.find((e) => e.cls === 'median' && e.attrs['data-group'] === g)!.attrs.d)[0];
      expect(Math.abs(med[0][1] - Y.toPt(m))).toBeLessThanOrEqual(HALF_PIXEL_PT);
    }
    const kw = json.kruskalWallis as { p: number };
    expect(texts).toContain(`Kruskal-Wallis: ${formatPValue(kw.p)}`);
    expect(texts).toContain('dose [Gy]');
    const two = join(tmp, 'groups2.svg');
    const j2 = (await run(['groups', '--csv', lesionsCsv, '--dose-column', 'doseGy', '--group-column', 'response', '--groups', 'SD,PD', '--figure', two])).json;
    const els2 = parseSvg(readFileSync(two, 'utf8'));
    expect(els2.some((e) => e.cls === 'bracket')).toBe(true);
    const p2 = (j2.mannWhitney as { p: number }).p;
    expect(els2.filter((e) => e.cls === 'test').map((e) => e.text)).toEqual([`Mann-Whitney ${formatPValue(p2)}`]);
  });
  it('no hard-coded Gy: a column that is not a dose is labelled by its own name and unit', async () => {
    const svgPath = join(tmp, 'diam.svg');
    await run(['groups', '--csv', lesionsCsv, '--dose-column', 'diameterMm', '--group-column', 'response', '--figure', svgPath]);
    const svg = readFileSync(svgPath, 'utf8');
    expect(svg).toContain('>diameter [mm]</text>');
    expect(svg).not.toMatch(/Gy/);
    const score = join(tmp, 'score.csv');
    writeFileSync(score, 'score,response\n' + lesions.map((r) => `${r.doseGy},${r.response}`).join('\n') + '\n');
    const rocSvg = join(tmp, 'score-roc.svg');
    await run(['roc', '--csv', score, '--dose-column', 'score', '--response-column', 'response', '--figure', rocSvg]);
    const s2 = readFileSync(rocSvg, 'utf8');
    expect(s2).not.toMatch(/Gy/);
    expect(s2).toContain('>cutoff 165 (Se 0.81, Sp 0.81)</text>');
    const labelled = join(tmp, 'score-roc-label.svg');
    await run(['roc', '--csv', score, '--dose-column', 'score', '--response-column', 'response', '--figure', labelled, '--label', 'Tumour dose', '--unit', 'Gy']);
    expect(readFileSync(labelled, 'utf8')).toContain('>cutoff 165 Gy (Se 0.81, Sp 0.81)</text>');
  });
});

describe.skipIf(!hasPoppler)('PDF: vector, page in the mm asked, text findable', () => {
  it('pdfinfo page size, pdftotext finds labels, n and p, pdftoppm renders ink; the same run gives the same bytes', async () => {
    const pdf = join(tmp, 'km.pdf');
    const svg = join(tmp, 'km-both.svg');
    const argv = ['km', '--csv', patientsCsv, '--time-column', 'pfsMonths', '--event-column', 'pfsEvent', '--dose-column', 'doseGy', '--cutoff', '130', '--figure', pdf, '--figure', svg, '--width-mm', '183', '--height-mm', '100', '--label', 'Progression-free survival', '--unit', 'months'];
    await run(argv);
    const info = spawnSync('pdfinfo', [pdf], { encoding: 'utf8' }).stdout;
    const m = /Page size:\s+([\d.]+) x ([\d.]+) pts/.exec(info)!;
    expect(Number(m[1]) / PT_PER_MM).toBeCloseTo(183, 2);
    expect(Number(m[2]) / PT_PER_MM).toBeCloseTo(100, 2);
    expect(info).toMatch(/Pages:\s+1\n/);
    const text = spawnSync('pdftotext', ['-raw', pdf, '-'], { encoding: 'utf8' }).stdout.replace(/\s+/g, ' ');
    for (const s of ['Progression-free survival [months]', 'Survival probability', 'Number at risk', 'doseGy < 130 32', 'doseGy >= 130 28', 'log-rank p < 0.001']) expect(text).toContain(s);
    // vector: no image objects on the page
    expect(spawnSync('pdfimages', ['-list', pdf], { encoding: 'utf8' }).stdout.trim().split('\n').length).toBeLessThanOrEqual(2);
    const png = join(tmp, 'km-render');
    expect(spawnSync('pdftoppm', ['-r', '72', '-gray', '-singlefile', pdf, png]).status).toBe(0);
    const pgm = readFileSync(`${png}.pgm`);
    const hdr = /^P5\s+(\d+)\s+(\d+)\s+255\s/.exec(pgm.subarray(0, 40).toString('latin1'))!;
    const [w, h] = [Number(hdr[1]), Number(hdr[2])];
    expect(Math.abs(w - 183 * PT_PER_MM)).toBeLessThanOrEqual(1);
    const px = pgm.subarray(pgm.length - w * h);
    const dark = px.filter((v) => v < 128).length / px.length;
    expect(dark).toBeGreaterThan(0.01); // axes, curves and text drawn
    expect(dark).toBeLessThan(0.5); // not a black page
    // same inputs, same bytes (no dates in the PDF; SVG deterministic)
    const before = [readFileSync(pdf), readFileSync(svg)];
    await run(argv);
    expect(readFileSync(pdf).equals(before[0])).toBe(true);
    expect(readFileSync(svg).equals(before[1])).toBe(true);
  });
  it('ROC, dose-response and group PDFs carry their labels, n and p', async () => {
    const cases: Array<[string[], string[]]> = [
      [['roc', '--csv', lesionsCsv, '--dose-column', 'doseGy', '--response-column', 'response'], ['1 - specificity', 'Sensitivity', 'n = 63 (31 responders, 32 non-responders)', 'AUC 0.80']],
      [['logistic', '--csv', lesionsCsv, '--dose-column', 'doseGy', '--response-column', 'response'], ['dose [Gy]', 'Probability of response', 'responders (n = 31)', 'D50 174 Gy']],
      [['groups', '--csv', lesionsCsv, '--dose-column', 'doseGy', '--group-column', 'response'], ['dose [Gy]', 'n = 22', 'Kruskal-Wallis: p < 0.001']],
    ];
    for (const [argv, want] of cases) {
      const pdf = join(tmp, `${argv[0]}.pdf`);
      await run([...argv, '--figure', pdf]);
      // rotated text (the y-axis title) comes out one word a line: compare with whitespace collapsed
      const text = spawnSync('pdftotext', ['-raw', pdf, '-'], { encoding: 'utf8' }).stdout.replace(/\s+/g, ' ');
      for (const s of want) expect(text, `${argv[0]}: ${s}`).toContain(s);
      expect(Number(/Page size:\s+([\d.]+)/.exec(spawnSync('pdfinfo', [pdf], { encoding: 'utf8' }).stdout)![1]) / PT_PER_MM).toBeCloseTo(89, 2);
    }
  });
});

describe('figure options: refusals leave nothing behind; --svg still works', () => {
  const base = ['roc', '--csv', lesionsCsv, '--dose-column', 'doseGy', '--response-column', 'response'];
  const cases: Array<[string, string[], RegExp]> = [
    ['an unknown format', ['--figure', join(tmp, 'bad.png')], /must end in \.svg or \.pdf/],
    ['the same file twice', ['--figure', join(tmp, 'x.svg'), '--svg', join(tmp, 'x.svg')], /given twice/],
    ['a width below a journal column', ['--figure', join(tmp, 'narrow.svg'), '--width-mm', '10'], /--width-mm 10: give 30 to 500 mm/],
    ['a font of 100 pt', ['--figure', join(tmp, 'font.svg'), '--font-pt', '100'], /--font-pt 100: give 4 to 24 pt/],
    ['--label without a figure', ['--label', 'Dose'], /--label shapes the figure: give --figure/],
    ['a label the PDF font cannot draw', ['--figure', join(tmp, 'greek.svg'), '--figure', join(tmp, 'greek.pdf'), '--label', '\u03b1 dose'], /holds "\u03b1" \(U\+03B1\), which the PDF's standard Helvetica font cannot draw/],
    ['a plot area too small', ['--figure', join(tmp, 'tiny.svg'), '--width-mm', '30', '--font-pt', '20'], /leaves a plot area of .* give a larger --width-mm/],
  ];
  it.each(cases)('%s', async (_name, extra, msg) => {
    const before = readdirSync(tmp).length;
    const r = await cli([...base, ...extra]);
    expect(r.code).not.toBe(0);
    expect(r.out).toBe('');
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).toMatch(msg);
    expect(readdirSync(tmp).length).toBe(before);
  });
  it('a figure may not overwrite the CSV it reads', async () => {
    const copy = join(tmp, 'in.svg');
    writeFileSync(copy, readFileSync(lesionsCsv));
    const r = await cli(['roc', '--csv', copy, '--dose-column', 'doseGy', '--response-column', 'response', '--figure', copy]);
    expect(r.err).toMatch(/is an input of this run/);
    expect(readFileSync(copy, 'utf8')).toBe(readFileSync(lesionsCsv, 'utf8'));
  });
  it('km: --time-unit (the old option) is the time axis unit; a different --unit beside it is refused', async () => {
    const km = ['km', '--csv', patientsCsv, '--time-column', 'pfsMonths', '--event-column', 'pfsEvent'];
    const svg = join(tmp, 'km-weeks.svg');
    await run([...km, '--time-unit', 'weeks', '--figure', svg]);
    expect(readFileSync(svg, 'utf8')).toContain('>pfs [weeks]</text>');
    const r = await cli([...km, '--time-unit', 'weeks', '--unit', 'months', '--figure', join(tmp, 'km-conflict.svg')]);
    expect(r.err).toMatch(/--time-unit "weeks" and --unit "months" differ/);
    expect(existsSync(join(tmp, 'km-conflict.svg'))).toBe(false);
  });
  it('--svg FILE writes the SVG and the JSON names it (the old option)', async () => {
    const svg = join(tmp, 'old.svg');
    const r = await cli([...base, '--svg', svg, '--json']);
    const j = JSON.parse(r.out);
    expect(j.svg).toBe(svg);
    expect(j.figures).toEqual([svg]);
    expect(j.figureCaption).toMatch(/^Empirical ROC curve/);
    expect(existsSync(svg)).toBe(true);
  });
});
