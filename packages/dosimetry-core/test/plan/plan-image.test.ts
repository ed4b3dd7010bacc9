import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.ts';
import { computeDoseCase, type DoseCaseResult } from '../../src/dose/pipeline.ts';
import { encodeNrrd, encodeSegNrrd, readSegmentation } from '../../src/io/index.ts';
import { bsaActivity, holmiumStandardActivity, mirdActivity } from '../../src/plan/models.ts';
import { partitionMultiLesionPlan } from '../../src/plan/partition.ts';
import { deviceTargets, type Device } from '../../src/plan/devices.ts';
import { caseCompartments, planFromCase, scaleDoseCase, structureRadiobiology } from '../../src/plan/image.ts';
import { bedGy, TUMOR_LQ } from '../../src/plan/radiobiology.ts';
import { NUCLIDES, type Isotope } from '../../src/units/index.ts';
import { boxVoxels, capture, countsImage, geometry, LESIONS, LIVER, LUNG, mask, MASKS, NORMAL_COUNTS, V_ML } from './phantom.ts';

// Phantom with uniform compartments (index boxes on a 24^3 grid of 4 mm voxels, 0.064 mL): liver with three cubic
// lesions of known T/N and a lung box. With LDM and uniform density every compartment's mean dose per GBq is exact,
// so the image-based partition and voxel activities must equal the closed forms of src/plan evaluated on the
// phantom's known masses, T/N and LSF. Tolerances: 1e-7 relative where the masses enter (the density map is
// float32 once a lung structure is given: 1.05 is stored as 1.0499999523, 4.5e-8 off) or the calibrated activity map
// (float32, 6e-8 per voxel: T/N); 1e-9 for the LSF (float64 sums of exactly representable raw counts); 1e-6 where the float32 dose map enters (voxel plan, dose at the prescribed
// activity: float32 rounding is 6e-8 per voxel, plus the density's 4.5e-8). The lung box is small (46 g), so its
// counts are low (0.125 per voxel, LSF 0.58 %) to keep the lung dose realistic.


// Analytic phantom quantities.
const RHO = 1.05, LUNG_RHO = 0.3;
const lesionMassG = LESIONS.map((l) => boxVoxels(l.box) * V_ML * RHO);
const tumourVoxels = LESIONS.reduce((s, l) => s + boxVoxels(l.box), 0);
const normalVoxels = boxVoxels(LIVER) - tumourVoxels;
const normalMassG = normalVoxels * V_ML * RHO;
const lungMassG = boxVoxels(LUNG) * V_ML * LUNG_RHO;
const liverCounts = NORMAL_COUNTS * (normalVoxels + LESIONS.reduce((s, l) => s + l.tn * boxVoxels(l.box), 0));
const measuredLsf = (lungCounts: number) => (lungCounts * boxVoxels(LUNG)) / (lungCounts * boxVoxels(LUNG) + liverCounts);

const cases = new Map<string, DoseCaseResult>();
async function scout(isotope: Isotope, lungCounts: number, lsf?: number): Promise<DoseCaseResult> {
  const key = `${isotope}:${lungCounts}:${lsf}`;
  if (!cases.has(key)) {
    cases.set(key, await computeDoseCase({
      activity: { geometry, data: countsImage(lungCounts) }, activityUnit: 'counts', isotope, method: 'ldm',
      segmentations: [{ path: 'phantom', masks: MASKS }], liver: 'Liver', tumors: LESIONS.map((l) => l.name), lung: 'Lungs',
      administeredGBq: 1, lungShuntFraction: lsf, backend: 'cpu',
    }));
  }
  return cases.get(key)!;
}

const rel = (a: number, b: number) => Math.abs(a - b) / Math.abs(b);

describe('image-based plan on a phantom with uniform compartments reproduces the closed forms', () => {
  it('compartments: masses, T/N, LSF, lung mass and dose per GBq are the phantom values', async () => {
    const c = caseCompartments({ result: await scout('Y90', 0.125), isotope: 'Y90' });
    c.lesions.forEach((l, n) => {
      expect(rel(l.massG, lesionMassG[n])).toBeLessThan(1e-7);
      expect(rel(l.tnRatio!, LESIONS[n].tn)).toBeLessThan(1e-7);
    });
    expect(rel(c.perfusedNormalLiver.massG, normalMassG)).toBeLessThan(1e-7);
    expect(rel(c.lungShuntFraction, measuredLsf(0.125))).toBeLessThan(1e-9);
    expect(c.lungMassSource).toBe('lung structure');
    expect(rel(c.lungMassG, lungMassG)).toBeLessThan(1e-7);
    // D_N per GBq = CF (1 - LSF) x (normal share of liver counts) / M_N
    const dN = (49.67 * (1 - measuredLsf(0.125)) * ((NORMAL_COUNTS * normalVoxels) / liverCounts)) / (normalMassG / 1000);
    expect(rel(c.perfusedNormalLiver.gyPerGBq, dN)).toBeLessThan(1e-6);
    expect(rel(c.lesions[0].gyPerGBq, 4 * dN)).toBeLessThan(1e-6);
  });

  // [device, lung counts per voxel, given LSF, overrides, expected binding constraint]
  const grid: Array<[Device, number, number | undefined, Record<string, number | null>, string]> = [
    ['glass', 0.125, undefined, {}, 'whole-normal-liver'],
    ['glass', 0.125, undefined, { tumorGy: 150, wholeNormalLiverGy: null }, 'tumor'],
    ['glass', 0.125, 0.3, { wholeNormalLiverGy: null }, 'lung'],
    ['resin', 0.125, undefined, { tumorGy: 80 }, 'tumor'],
    ['resin', 0, 0.02, { tumorGy: 300 }, 'normal-liver'],
    ['ho166', 0.125, undefined, {}, 'whole-normal-liver'],
    ['ho166', 0.125, undefined, { tumorGy: 90 }, 'tumor'],
  ];
  it.each(grid)('%s, lung counts %d, LSF %s, overrides %j: partition and voxel = closed form, %s binds', async (device, lungCounts, lsf, overrides, binding) => {
    const isotope = device === 'ho166' ? 'Ho166' : 'Y90';
    const c = caseCompartments({ result: await scout(isotope, lungCounts, lsf), isotope });
    const plan = planFromCase({ compartments: c, device, overrides, bsa: { heightM: 1.75, weightKg: 80 } });
    const t = deviceTargets({ device, overrides });
    const lsfUsed = lsf ?? measuredLsf(lungCounts);
    const expected = partitionMultiLesionPlan({
      isotope, lesions: LESIONS.map((l, n) => ({ name: l.name, massG: lesionMassG[n], tnRatio: l.tn })), normalMassG,
      wholeNormalLiverMassG: normalMassG, lungShuntFraction: lsfUsed, lungMassG, targets: t,
    });
    expect(expected.limitingConstraint).toBe(binding);
    expect(rel(plan.methods.partition.activityGBq!, expected.activityGBq)).toBeLessThan(1e-7);
    expect(plan.methods.partition.limitingConstraint).toBe(binding);
    expect(rel(plan.methods.voxel.activityGBq!, expected.activityGBq)).toBeLessThan(1e-6);
    expect(plan.methods.voxel.limitingConstraint).toBe(binding);
    expect(plan.methods.voxel.targetMet).toBe(expected.targetMet);
    // MIRD on the treated (whole) liver, 166Ho standard for ho166
    const liverMassG = boxVoxels(LIVER) * V_ML * RHO;
    const mird = isotope === 'Ho166'
      ? holmiumStandardActivity({ liverMassG, targetGy: 60 }).activityGBq
      : mirdActivity({ isotope, targetGy: device === 'glass' ? 120 : 40, massG: liverMassG, lungShuntFraction: lsfUsed }).activityGBq;
    expect(rel(plan.methods.mird.activityGBq!, mird)).toBeLessThan(1e-7);
    // BSA for resin only
    if (device === 'resin') {
      const b = bsaActivity({ heightM: 1.75, weightKg: 80, tumorVolumeMl: tumourVoxels * V_ML, normalLiverVolumeMl: normalVoxels * V_ML, lungShuntFraction: lsfUsed });
      expect(rel(plan.methods.bsa.activityGBq!, b.activityGBq)).toBeLessThan(1e-9); // volumes: no density
    } else {
      expect(plan.methods.bsa.applicable).toBe(false);
      expect(plan.methods.bsa.activityGBq).toBeNull();
    }
    // predicted doses at the voxel activity: the binding compartment sits exactly at its limit / target
    const p = plan.methods.voxel.predicted!;
    const at: Record<string, number> = {
      tumor: Math.min(...p.lesions.map((l) => l.meanGy)), 'normal-liver': p.perfusedNormalLiverGy, 'whole-normal-liver': p.wholeNormalLiverGy, lung: p.lungGy,
    };
    const limit: Record<string, number | undefined> = { tumor: t.tumorGy, 'normal-liver': t.normalLiverGy, 'whole-normal-liver': t.wholeNormalLiverGy, lung: t.lungGy };
    expect(rel(at[binding], limit[binding]!)).toBeLessThan(1e-6);
    expect(plan.methods.voxel.violations).toEqual([]);
  });

  it('the dose map at the prescribed activity holds the predicted doses (dose linear in activity)', async () => {
    const unit = await scout('Y90', 0.125);
    const c = caseCompartments({ result: unit, isotope: 'Y90' });
    const plan = planFromCase({ compartments: c, device: 'glass', overrides: { tumorGy: 150, wholeNormalLiverGy: null } });
    const scaled = await scaleDoseCase(unit, plan.activityGBq);
    const tumorD = scaled.structures.find((s) => s.name === 'Tumor B')!;
    expect(rel(tumorD.meanGy, 150)).toBeLessThan(1e-6); // Tumor B (T/N 2.2) is the coldest lesion
    expect(tumorD.v150).toBe(1); // uniform dose exactly at the target (>= counts in)
    expect(rel(scaled.activityInFieldGBq, plan.activityGBq * unit.activityInFieldGBq)).toBeLessThan(1e-12);
    // BED of a uniform structure = BED(D) (Dale), the same for every voxel
    const rb = structureRadiobiology(scaled, 'Y90', { eudAlphaPerGy: 0.01 });
    const b = rb.find((r) => r.name === 'Tumor B')!;
    const expectedBed = bedGy({ isotope: 'Y90', lq: TUMOR_LQ, doseGy: tumorD.meanGy });
    expect(rel(b.meanBedGy, expectedBed)).toBeLessThan(1e-6);
    expect(rel(b.eudGy!, tumorD.meanGy)).toBeLessThan(1e-5); // EUD of a uniform dose is that dose
    expect(rel(b.eubedGy!, expectedBed)).toBeLessThan(1e-5);
  });

  it('an unmet target gives the best allowed plan, flagged, not an error', async () => {
    const c = caseCompartments({ result: await scout('Y90', 0.125), isotope: 'Y90' });
    const plan = planFromCase({ compartments: c, device: 'glass', overrides: { tumorGy: 2000 }, prescribe: 'voxel' });
    expect(plan.targetMet).toBe(false);
    expect(plan.limitingConstraint).toBe('whole-normal-liver');
    expect(plan.warnings.join(' ')).toMatch(/cannot be met/);
  });

  it('an activity that breaks a limit is capped at the largest allowed one (MIRD with a high shunt)', async () => {
    const c = caseCompartments({ result: await scout('Y90', 0, 0.4), isotope: 'Y90' });
    const plan = planFromCase({ compartments: c, device: 'glass', prescribe: 'mird', overrides: { wholeNormalLiverGy: null } });
    expect(plan.methods.mird.violations.join(' ')).toMatch(/lung/);
    expect(plan.limitingConstraint).toBe('lung');
    expect(rel(plan.activityGBq, 30 / ((49.67 * 0.4) / (lungMassG / 1000)))).toBeLessThan(1e-7);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// The CLI: outputs, bad input.

afterEach(() => vi.restoreAllMocks());

let dir = '';
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'plan-image-'));
  writeFileSync(join(dir, 'scout.nrrd'), encodeNrrd({ geometry, data: countsImage(0.125) }));
  const cold = mask('Cold', [2, 6, 2, 6, 22, 24]); // outside liver and lungs: no counts
  writeFileSync(join(dir, 'seg.seg.nrrd'), encodeSegNrrd([...MASKS, cold]));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const baseArgs = () => [
  'plan', '--activity', join(dir, 'scout.nrrd'), '--segmentation', join(dir, 'seg.seg.nrrd'), '--liver', 'Liver',
  '--tumor', 'Tumor A', '--tumor', 'Tumor B', '--tumor', 'Tumor C', '--lung', 'Lungs', '--backend', 'cpu', '--quiet',
];

describe('dosimetry plan (CLI)', () => {
  it('writes the dose outputs at the prescribed activity with the plan object', async () => {
    const out = join(dir, 'case');
    const r = await capture(() => main([...baseArgs(), '--device', 'glass', '--json', '--out', out, '--calibration-time', '2025-03-10T12:00:00Z', '--treatment-time', '2025-03-13T12:00:00Z', '--eud-alpha-per-gy', '0.02']));
    expect(r.code).toBe(0);
    const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));
    expect(JSON.parse(r.out)).toEqual(report);
    // stderr holds the warnings only, each also in report.json (here: the 205 Gy target cannot be met)
    expect(r.err.trim().split('\n')).toEqual(report.warnings.map((w: string) => `warning: ${w}`));
    for (const f of ['dose.nii.gz', 'structures.csv', 'structures.seg.nrrd']) expect(existsSync(join(out, f))).toBe(true);
    const plan = report.plan;
    expect(Object.keys(plan.methods)).toEqual(['mird', 'bsa', 'partition', 'voxel']);
    expect(plan.prescribedMethod).toBe('partition');
    expect(plan.activityGBq).toBe(plan.methods.partition.activityGBq);
    expect(report.provenance.parameters.administeredGBq).toBe(plan.activityGBq);
    // 72 h after calibration = 72 / 64.05 half-lives of 90Y
    expect(rel(plan.calibration.calibrationActivityGBq, plan.activityGBq * 2 ** (72 / 64.05))).toBeLessThan(1e-12);
    const normal = report.structures.find((s: { name: string }) => s.name === 'Normal liver');
    expect(rel(normal.meanGy, 75)).toBeLessThan(1e-6); // glass binds on the 75 Gy whole-normal-liver limit here
    expect(normal.meanBedGy).toBeGreaterThan(normal.meanGy);
    expect(typeof normal.eudGy).toBe('number');
  });

  it('prints the methods side by side by default', async () => {
    const r = await capture(() => main([...baseArgs(), '--device', 'resin', '--bsa-m2', '1.9', '--out', join(dir, 'text')]));
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^mird\s/m);
    expect(r.out).toMatch(/^bsa\s+\d/m);
    expect(r.out).toMatch(/^partition \*/m);
    expect(r.out).toMatch(/prescribed [\d.]+ GBq \(partition\)/);
  });

  const bad: Array<[string, string[], RegExp]> = [
    ['unknown device', ['--device', 'y90'], /unknown device/],
    ['missing device', [], /--device is required/],
    ['LSF out of range', ['--device', 'glass', '--lung-shunt-fraction', '1.5'], /lung shunt fraction 1.5/],
    ['negative tumour target', ['--device', 'glass', '--tumor-gy', '-5'], /tumour dose target/],
    ['administered activity given', ['--device', 'glass', '--administered-gbq', '2'], /not an input of plan/],
    ['absolute unit', ['--device', 'glass', '--activity-unit', 'bq-per-ml'], /counts/],
    ['isotope contradicts device', ['--device', 'glass', '--isotope', 'Ho166'], /contradicts/],
    ['only one time', ['--device', 'glass', '--calibration-time', '2025-03-10T12:00:00Z'], /give both --calibration-time and --treatment-time/],
    ['bad date', ['--device', 'glass', '--calibration-time', 'yesterday', '--treatment-time', '2025-03-10T12:00:00Z'], /ISO/],
    ['height in metres', ['--device', 'resin', '--height-cm', '1.75', '--weight-kg', '80'], /centimetres/],
    ['BSA for glass', ['--device', 'glass', '--prescribe', 'bsa'], /resin/],
    ['tumour without counts (T/N 0)', ['--device', 'glass', '--tumor', 'Cold'], /Cold T\/N ratio is 0/],
    ['unknown method', ['--device', 'glass', '--prescribe', 'best'], /unknown planning method/],
  ];
  it.each(bad)('%s: one line on stderr, non-zero exit, nothing written', async (_, extra, msg) => {
    const out = join(dir, `bad-${Math.random().toString(36).slice(2)}`);
    const r = await capture(() => main([...baseArgs(), ...extra, '--out', out]));
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(msg);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(existsSync(out)).toBe(false);
  });

  it('a lung limit without lung data is an error', async () => {
    const out = join(dir, 'nolung');
    const args = baseArgs().filter((a, i, all) => a !== 'Lungs' && all[i + 1] !== 'Lungs');
    const r = await capture(() => main([...args, '--device', 'glass', '--out', out]));
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(/lung limit needs the lung shunt fraction/);
    expect(existsSync(out)).toBe(false);
    const ok = await capture(() => main([...args, '--device', 'glass', '--lung-gy', 'none', '--out', out, '--json']));
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.out).plan.targets.lungGy).toBeUndefined();
  });
});

// ---------------------------------------------------------------------------------------------------------------
// The sample 99mTc-MAA patient (../shared/data/sirt-samples), planned end to end.

const SAMPLES = fileURLToPath(new URL('../../../../../shared/data/sirt-samples/', import.meta.url));
const SPECT = join(SAMPLES, 'patient_2_SPECT.nrrd');
const SEG = join(SAMPLES, 'patient_2_Segmentation.seg.nrrd');
const haveSamples = existsSync(SPECT) && existsSync(SEG);
if (!haveSamples) console.warn(`skipping the sample MAA patient: ${SAMPLES} is absent`);

describe('sample MAA patient (patient_2)', () => {
  it.skipIf(!haveSamples)('is planned end to end through the CLI', async () => {
    const names = (await readSegmentation(SEG, {})).map((m) => m.name);
    for (const n of ['liver', 'Tumor 1', 'Tumor 2', 'perfused volume']) expect(names).toContain(n);
    const out = join(dir, 'patient2');
    const r = await capture(() => main([
      'plan', '--device', 'glass', '--activity', SPECT, '--segmentation', SEG, '--liver', 'liver', '--tumor', 'Tumor 1', '--tumor', 'Tumor 2',
      '--perfused', 'perfused volume', '--lung-shunt-fraction', '0.05', '--backend', 'cpu', '--json', '--out', out,
    ]));
    expect(r.code).toBe(0);
    const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));
    expect(r.err.trim().split('\n')).toEqual(report.warnings.map((w: string) => `warning: ${w}`));
    const plan = report.plan;
    expect(plan.normalization.structure).toBe('perfused volume');
    for (const m of ['mird', 'partition', 'voxel']) expect(plan.methods[m].activityGBq).toBeGreaterThan(0);
    expect(plan.methods.bsa.applicable).toBe(false);
    // Plausibility (not a reference value): a glass activity for a ~1 L perfused lobe lies between 0.5 and 10 GBq.
    expect(plan.activityGBq).toBeGreaterThan(0.5);
    expect(plan.activityGBq).toBeLessThan(10);
    // Partition vs voxel (LDM): the partition model puts all of A (1 - LSF) into the perfused compartments, the
    // dose map only the share of liver counts that lies there; their normal-liver doses per GBq differ by that share.
    const comp = plan.compartments;
    const share = (comp.perfusedNormalLiver.activityFraction + comp.lesions.reduce((s: number, l: { activityFraction: number }) => s + l.activityFraction, 0)) / (1 - 0.05);
    const pNormal = plan.methods.partition.model.normalLiverGy / plan.methods.partition.activityGBq;
    // 1e-3: tumour partial-volume weights overlap at their borders, so the shares add up only to ~1e-4.
    expect(Math.abs(comp.perfusedNormalLiver.gyPerGBq / pNormal - share)).toBeLessThan(1e-3);
    // The written dose map holds the prescribed activity: the perfused volume (lobar treatment) carries A (1 - LSF).
    const perfused = report.structures.find((s: { name: string }) => s.name === 'perfused volume');
    expect(rel(perfused.activityGBq, plan.activityGBq * 0.95)).toBeLessThan(1e-5);
  });
});
