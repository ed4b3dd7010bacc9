/**
 * The 166Ho scout (`plan --device ho166 --scout-gbq A_s`, src/plan/scout.ts) on the planning phantom (uniform
 * compartments, test/plan/phantom.ts): the scout's own dose equals the treatment dose x A_s / A_t and the analytic
 * LDM value, its lung dose enters the cumulative lung limit, a quantitative scout in Bq/mL is scaled by A_t / A_s
 * itself (its lung shunt measured on it, its total compared with A_s); and compare's scoutAgreement on pairs built
 * here with known activity shares.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.ts';
import { encodeNrrd, encodeSegNrrd } from '../../src/io/index.ts';
import { scoutAgreement } from '../../src/plan/scout-agreement.ts';
import { boxVoxels, capture, countsImage, geometry, LESIONS, LIVER, LUNG, MASKS, NORMAL_COUNTS, V_ML } from './phantom.ts';

afterEach(() => vi.restoreAllMocks());

// Analytic phantom quantities (LDM, uniform density 1.05 g/mL in the liver, 0.30 g/mL in the lung box).
const CF_HO = 15.87; // J/GBq, ../shared/PHYSICS.md
const T_HALF_HO_H = 26.8;
const RHO = 1.05;
const LUNG_COUNTS = 0.125;
const tumourVoxels = LESIONS.reduce((s, l) => s + boxVoxels(l.box), 0);
const normalVoxels = boxVoxels(LIVER) - tumourVoxels;
const liverCounts = NORMAL_COUNTS * (normalVoxels + LESIONS.reduce((s, l) => s + l.tn * boxVoxels(l.box), 0));
const lungCounts = LUNG_COUNTS * boxVoxels(LUNG);
const LSF = lungCounts / (lungCounts + liverCounts);
const massG = (voxels: number) => voxels * V_ML * RHO;
const tumorA = LESIONS[0];
const countsA = NORMAL_COUNTS * tumorA.tn * boxVoxels(tumorA.box);
const rel = (a: number, b: number) => Math.abs(a - b) / Math.abs(b);

let dir = '';
/** Bq/mL per count of the quantitative scout: its field holds 0.24 GBq at the scout's implant. */
const BQML_PER_COUNT = 0.24e9 / ((liverCounts + lungCounts) * V_ML);
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'plan-scout-'));
  const counts = countsImage(LUNG_COUNTS);
  writeFileSync(join(dir, 'scout.nrrd'), encodeNrrd({ geometry, data: counts }));
  const bq = (k: number) => Float32Array.from(counts, (c) => c * k);
  writeFileSync(join(dir, 'scout_bqml.nrrd'), encodeNrrd({ geometry, data: bq(BQML_PER_COUNT) }));
  // the same scout imaged 24 h after its implant: 2^(-24/26.8) of the activity left
  writeFileSync(join(dir, 'scout_bqml_24h.nrrd'), encodeNrrd({ geometry, data: bq(BQML_PER_COUNT * 2 ** (-24 / T_HALF_HO_H)) }));
  writeFileSync(join(dir, 'scout_bqml_low.nrrd'), encodeNrrd({ geometry, data: bq(BQML_PER_COUNT * 0.6) }));
  writeFileSync(join(dir, 'seg.seg.nrrd'), encodeSegNrrd(MASKS));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const base = (activity = 'scout.nrrd') => [
  'plan', '--device', 'ho166', '--activity', join(dir, activity), '--segmentation', join(dir, 'seg.seg.nrrd'), '--liver', 'Liver',
  ...LESIONS.flatMap((l) => ['--tumor', l.name]), '--lung', 'Lungs', '--backend', 'cpu', '--quiet',
];
let n = 0;
async function plan(extra: string[], activity?: string) {
  const out = join(dir, `out-${n++}`);
  const r = await capture(() => main([...base(activity), ...extra, '--json', '--out', out]));
  const path = join(out, 'report.json');
  return { ...r, out, report: existsSync(path) ? JSON.parse(readFileSync(path, 'utf8')) : null };
}
type S = { name: string; role: string; meanGy: number; activityGBq: number; massG: number };

describe('166Ho scout in counts: its own dose', () => {
  it('scout dose = treatment dose x A_s / A_t, per structure and compartment, and the analytic LDM value', async () => {
    const r = await plan(['--scout-gbq', '0.25']);
    expect(r.code, r.err).toBe(0);
    const p = r.report.plan, s = p.scout;
    const k = 0.25 / p.activityGBq;
    expect(s.activityGBq).toBe(0.25);
    expect(s.image).toBe('counts');
    expect(s.treatmentOverScout).toBeCloseTo(p.activityGBq / 0.25, 12);
    const tx = r.report.structures as S[];
    expect(s.structures.map((x: S) => x.name)).toEqual(tx.map((x) => x.name));
    // the report's doses come from the float32 dose map at A_t, the scout's from the one at 1 GBq: 1e-6
    s.structures.forEach((x: S, i: number) => expect(rel(x.meanGy, tx[i].meanGy * k)).toBeLessThan(1e-6));
    for (const key of ['allTumorGy', 'perfusedNormalLiverGy', 'wholeNormalLiverGy', 'lungGy'] as const) {
      expect(rel(s.compartments[key], p.predicted[key] * k)).toBeLessThan(1e-12);
    }
    // Tumor A from the scout alone: CF x A_s (1 - LSF) x (its share of the liver counts) / its mass
    const dA = (CF_HO * 0.25 * (1 - LSF) * (countsA / liverCounts)) / (massG(boxVoxels(tumorA.box)) / 1000);
    expect(rel(s.structures.find((x: S) => x.name === 'Tumor A').meanGy, dA)).toBeLessThan(1e-6);
    // cumulative: scout + treatment
    expect(rel(s.cumulative.lungGy, s.compartments.lungGy + p.predicted.lungGy)).toBeLessThan(1e-12);
    expect(rel(s.cumulative.wholeNormalLiverGy, s.compartments.wholeNormalLiverGy + p.predicted.wholeNormalLiverGy)).toBeLessThan(1e-12);
    expect(r.out && readFileSync(join(r.out, 'report.json'), 'utf8')).toContain('"scout"');
  });

  it("the scout's lung dose counts toward the cumulative lung limit (as a prior lung dose)", async () => {
    const r = await plan(['--scout-gbq', '0.25', '--prior-lung-gy', '45']);
    expect(r.code, r.err).toBe(0);
    const s = r.report.plan.scout;
    // limit = min(30, 50 - 45 - scout lung dose)
    expect(rel(r.report.plan.targets.lungGy, 5 - s.compartments.lungGy)).toBeLessThan(1e-12);
    expect(rel(s.cumulative.lungGy, 45 + s.compartments.lungGy + r.report.plan.predicted.lungGy)).toBeLessThan(1e-12);
    const without = await plan(['--prior-lung-gy', '45']);
    expect(without.report.plan.targets.lungGy).toBe(5);
    expect(without.report.plan.scout).toBeNull();
  });
});

describe('quantitative 166Ho scout in Bq/mL: the treatment prediction is the image x A_t / A_s', () => {
  it('doses, lung shunt measured on the image, image total against A_s', async () => {
    const r = await plan(['--scout-gbq', '0.25', '--activity-unit', 'bq-per-ml', '--scan-delay-h', '0'], 'scout_bqml.nrrd');
    expect(r.code, r.err).toBe(0);
    const p = r.report.plan, s = p.scout;
    expect(p.normalization.structure).toBeNull();
    expect(p.referenceActivityGBq).toBe(0.25);
    expect(rel(p.lungShuntFraction, LSF)).toBeLessThan(1e-6);
    expect(p.lungShuntFractionSource).toMatch(/measured on the quantitative 166Ho scout/);
    expect(rel(s.imageActivityGBq, 0.24)).toBeLessThan(1e-6);
    expect(rel(s.imageOverScout, 0.96)).toBeLessThan(1e-6);
    // Tumor A at the treatment: CF x (its image activity x A_t / A_s) / mass
    const actA = countsA * BQML_PER_COUNT * V_ML / 1e9; // GBq in the image
    const mA = massG(boxVoxels(tumorA.box)) / 1000;
    const txA = (r.report.structures as S[]).find((x) => x.name === 'Tumor A')!;
    expect(rel(txA.meanGy, (CF_HO * actA * (p.activityGBq / 0.25)) / mA)).toBeLessThan(1e-6);
    // the scout's own dose is the image's dose
    expect(rel(s.structures.find((x: S) => x.name === 'Tumor A').meanGy, (CF_HO * actA) / mA)).toBeLessThan(1e-6);
    expect(r.report.warnings.join(' ')).not.toMatch(/quantitative scout image holds/);
    // not normalised: the image holds 0.24 of the 0.25 GBq scout, so at the same treatment activity (the 166Ho
    // standard does not depend on the image) Tumor A gets 0.96 of what the counts normalisation gives it
    const counts = await plan(['--scout-gbq', '0.25']);
    expect(rel(p.activityGBq, counts.report.plan.activityGBq)).toBeLessThan(1e-9);
    const cA = (counts.report.structures as S[]).find((x) => x.name === 'Tumor A')!;
    expect(rel(txA.meanGy / cA.meanGy, 0.96)).toBeLessThan(1e-6);
  });

  it('an image taken 24 h after the scout, with --scan-delay-h 24, gives the same plan', async () => {
    const a = await plan(['--scout-gbq', '0.25', '--activity-unit', 'bq-per-ml', '--scan-delay-h', '0'], 'scout_bqml.nrrd');
    const b = await plan(['--scout-gbq', '0.25', '--activity-unit', 'bq-per-ml', '--scan-delay-h', '24'], 'scout_bqml_24h.nrrd');
    expect(rel(b.report.plan.activityGBq, a.report.plan.activityGBq)).toBeLessThan(1e-6);
    expect(rel(b.report.plan.scout.imageActivityGBq, 0.24)).toBeLessThan(1e-6);
  });

  it('an image holding 40 % less than the scout administered is warned about', async () => {
    const r = await plan(['--scout-gbq', '0.25', '--activity-unit', 'bq-per-ml', '--scan-delay-h', '0'], 'scout_bqml_low.nrrd');
    expect(r.code).toBe(0);
    expect(r.report.warnings.join(' ')).toMatch(/the quantitative scout image holds 0\.1440 GBq at the scout's implant, 42\.4 % less than the 0\.25 GBq scout administered/);
    expect(r.err).toMatch(/warning: the quantitative scout image holds/);
  });

  const bad: Array<[string, string[], RegExp]> = [
    ['Bq/mL without --scout-gbq', ['--activity-unit', 'bq-per-ml', '--scan-delay-h', '0'], /only a quantitative 166Ho scout may be in Bq\/mL, with --device ho166, --scout-gbq A_s and --scan-delay-h H/],
    ['Bq/mL without --scan-delay-h', ['--activity-unit', 'bq-per-ml', '--scout-gbq', '0.25'], /--scan-delay-h H/],
    ['--normalize-to with Bq/mL', ['--activity-unit', 'bq-per-ml', '--scout-gbq', '0.25', '--scan-delay-h', '0', '--normalize-to', 'Liver'], /--normalize-to applies to a scout in counts/],
    ['scout in MBq', ['--scout-gbq', '250'], /--scout-gbq 250 is more than any radioembolization: give it in GBq \(250 MBq is --scout-gbq 0\.25\)/],
    ['negative scout', ['--scout-gbq', '-0.25'], /--scout-gbq -0\.25 must be positive/],
  ];
  it.each(bad)('%s: refused, one line, nothing written', async (_, extra, msg) => {
    const out = join(dir, `bad-${n++}`);
    const r = await capture(() => main([...base(), ...extra, '--out', out]));
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(msg);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(existsSync(out)).toBe(false);
  });
});

describe('compare: scoutAgreement', () => {
  /** A minimal report.json with the structures' activities [GBq] and the field's total. */
  const report = (inField: number, acts: Record<string, [string, number]>, device?: string) => ({
    schemaVersion: 1, isotope: 'Ho166', activityInFieldGBq: inField,
    structures: Object.entries(acts).map(([name, [role, a]]) => ({ name, role, activityGBq: a, meanGy: 10 * a, volumeMl: 100 })),
    ...(device ? { plan: { activityGBq: 5, device } } : {}),
  });

  it('a pair built by hand: shares, differences, mean and largest absolute difference over tumours, normal liver, lungs', async () => {
    // scout (planned, counts normalised to 1 GBq in the field): Tumor A 30 %, normal liver 60 %, lungs 5 %, 5 % elsewhere
    const scout = report(1, { Liver: ['liver', 0.9], 'Tumor A': ['tumor', 0.3], 'Normal liver': ['normal-liver', 0.6], Lungs: ['lung', 0.05] }, 'ho166');
    // treatment (achieved, Bq/mL, 4 GBq in the field): Tumor A 25 %, normal liver 67.5 %, lungs 5 %
    const tx = report(4, { Liver: ['liver', 3.7], 'Tumor A': ['tumor', 1.0], 'Normal liver': ['normal-liver', 2.7], Lungs: ['lung', 0.2] });
    const a = scoutAgreement(scout, tx)!;
    expect(a.scoutIsHo166).toBe(true);
    const byName = Object.fromEntries(a.structures.map((s) => [s.name, s]));
    expect(byName['Tumor A'].scoutFraction).toBeCloseTo(0.3, 15);
    expect(byName['Tumor A'].treatmentFraction).toBeCloseTo(0.25, 15);
    expect(byName['Tumor A'].difference).toBeCloseTo(-0.05, 15);
    expect(byName['Tumor A'].ratio).toBeCloseTo(0.25 / 0.3, 15);
    expect(byName['Normal liver'].difference).toBeCloseTo(0.075, 15);
    expect(byName.Lungs.difference).toBeCloseTo(0, 15);
    expect(byName.Liver.counted).toBe(false); // overlaps the tumour and normal liver
    expect(a.meanAbsoluteDifference).toBeCloseTo((0.05 + 0.075 + 0) / 3, 15);
    expect(a.maxAbsoluteDifference).toBeCloseTo(0.075, 15);
    expect(a.maxAbsoluteDifferenceStructure).toBe('Normal liver');

    // through the CLI: compare.json carries it
    const planned = join(dir, 'pair-planned'), achieved = join(dir, 'pair-achieved'), out = join(dir, 'pair-out');
    for (const [d, r] of [[planned, scout], [achieved, tx]] as const) {
      mkdirSync(d, { recursive: true });
      writeFileSync(join(d, 'report.json'), JSON.stringify(r));
    }
    const c = await capture(() => main(['compare', '--planned', planned, '--achieved', achieved, '--out', out, '--json']));
    expect(c.code, c.err).toBe(0);
    const json = JSON.parse(readFileSync(join(out, 'compare.json'), 'utf8'));
    expect(json.scoutAgreement.meanAbsoluteDifference).toBeCloseTo((0.05 + 0.075) / 3, 15);
    // the same distribution scaled (the prediction at the treatment activity): agreement 0
    expect(scoutAgreement(scout, report(3, { Liver: ['liver', 2.7], 'Tumor A': ['tumor', 0.9], 'Normal liver': ['normal-liver', 1.8], Lungs: ['lung', 0.15] }))!.meanAbsoluteDifference).toBeCloseTo(0, 15);
    // without shares: null
    expect(scoutAgreement({ structures: scout.structures }, tx)).toBeNull();
  });

  it('a 166Ho scout plan against a treatment image whose Tumor A took 1.5 times its predicted uptake', async () => {
    const r = await plan(['--scout-gbq', '0.25']);
    // the treatment: Tumor A's counts x 1.5, the rest as the scout, as a Bq/mL image of the delivered activity
    const img = countsImage(LUNG_COUNTS);
    const [i0, i1, j0, j1, k0, k1] = tumorA.box;
    for (let k = k0; k < k1; k++) for (let j = j0; j < j1; j++) for (let i = i0; i < i1; i++) img[i + 24 * (j + 24 * k)] *= 1.5;
    writeFileSync(join(dir, 'treatment.nrrd'), encodeNrrd({ geometry, data: img.map((c) => c * 2e4) }));
    const dOut = join(dir, 'treatment-case');
    const d = await capture(() => main([
      'dose', '--activity', join(dir, 'treatment.nrrd'), '--activity-unit', 'bq-per-ml', '--scan-delay-h', '0', '--segmentation', join(dir, 'seg.seg.nrrd'),
      '--liver', 'Liver', ...LESIONS.flatMap((l) => ['--tumor', l.name]), '--lung', 'Lungs', '--isotope', 'Ho166', '--method', 'ldm', '--backend', 'cpu', '--quiet', '--out', dOut,
    ]));
    expect(d.code, d.err).toBe(0);
    const cOut = join(dir, 'scout-vs-treatment');
    const c = await capture(() => main(['compare', '--planned', r.out, '--achieved', dOut, '--out', cOut, '--json']));
    expect(c.code, c.err).toBe(0);
    const a = JSON.parse(readFileSync(join(cOut, 'compare.json'), 'utf8')).scoutAgreement;
    expect(a.scoutIsHo166).toBe(true);
    // shares from the phantom's counts: scout Tumor A countsA / total; treatment 1.5 countsA / (total + 0.5 countsA)
    const total = liverCounts + lungCounts;
    const t = a.structures.find((s: { name: string }) => s.name === 'Tumor A');
    expect(rel(t.scoutFraction, countsA / total)).toBeLessThan(1e-6);
    expect(rel(t.treatmentFraction, (1.5 * countsA) / (total + 0.5 * countsA))).toBeLessThan(1e-6);
  });
});
