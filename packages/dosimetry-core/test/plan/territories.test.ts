/**
 * Multi-territory planning (`plan --territories`): the lexicographic optimiser on problems given by their numbers, then
 * the whole command on the two-territory phantom (territory-phantom.ts), whose optimum is derived by hand below.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.ts';
import { PlanError } from '../../src/errors.ts';
import { encodeNrrd, readVolume } from '../../src/io/index.ts';
import { checkFixedActivities, optimiseTerritories, territoryResult, type TerritoryProblem } from '../../src/plan/territories.ts';
import { capture } from './phantom.ts';
import { CATALOGUE_DATA } from '../../src/plan/catalogue-data.ts';
import { CF_Y90, geometry, index, LEFT, LSF, M, RHO, scoutCounts, TN_A, TN_B, writeTerritoryPhantom } from './territory-phantom.ts';

const rel = (a: number, b: number) => Math.abs(a - b) / Math.abs(b);

// ---------------------------------------------------------------------------------------------------------------
// The optimiser on problems given by their coefficients.

describe('optimiseTerritories (lexicographic LP) on problems with closed-form optima', () => {
  // Two territories, one lesion each (k 200 and 100 Gy/GBq, target 200 Gy), a shared limit 10 A1 + 20 A2 <= L.
  // Unlimited (L = 100): A = (1, 2): each lesion exactly at its target (stage 3 takes no more than needed).
  // L = 30: stage 1 equalises the coverages, z = 200 A1 / 200 = 100 A2 / 200, 10 A1 + 20 A2 = 30, A2 = 2 A1
  //   -> A1 = 0.6, A2 = 1.2, z = 0.6; stage 2 cannot raise the sum (the floors hold both at z): the same point.
  const problem = (limitGy: number, fixed?: number): TerritoryProblem => ({
    territories: [{ name: 'one', fixedActivityGBq: fixed }, { name: 'two' }],
    coverage: [
      { id: 'tumor:a', kind: 'lesion', structure: 'a', targetGy: 200, targetOf: 'one', gyPerGBq: [200, 0] },
      { id: 'tumor:b', kind: 'lesion', structure: 'b', targetGy: 200, targetOf: 'two', gyPerGBq: [0, 100] },
    ],
    limits: [{ id: 'whole-normal-liver', kind: 'whole-normal-liver', structure: 'n', basis: 'voxel', limitGy, gyPerGBq: [10, 20], what: 'whole normal liver' }],
  });

  it('reachable targets: each territory gets exactly the activity its lesion needs', async () => {
    const r = await optimiseTerritories(problem(100));
    expect(rel(r.territories[0].activityGBq, 1)).toBeLessThan(1e-9);
    expect(rel(r.territories[1].activityGBq, 2)).toBeLessThan(1e-9);
    expect(r.objective.minCoverage).toBeCloseTo(1, 12);
    expect(r.limitingConstraints).toEqual(['tumor:a', 'tumor:b']);
    expect(r.limits[0].binding).toBe(false);
    expect(rel(r.limits[0].slackGy, 100 - 50)).toBeLessThan(1e-9);
  });

  it('a binding limit: the worst coverage is maximised (coverages equalised), the limit named binding', async () => {
    const r = await optimiseTerritories(problem(30));
    expect(rel(r.territories[0].activityGBq, 0.6)).toBeLessThan(1e-9);
    expect(rel(r.territories[1].activityGBq, 1.2)).toBeLessThan(1e-9);
    expect(rel(r.objective.minCoverage!, 0.6)).toBeLessThan(1e-9);
    expect(r.limitingConstraints).toEqual(['whole-normal-liver']);
    expect(r.territories.map((t) => t.limitingConstraints)).toEqual([['whole-normal-liver'], ['whole-normal-liver']]);
    expect(Math.abs(r.limits[0].slackGy)).toBeLessThan(1e-8);
  });

  it('stage 2 raises the coverage the worst target does not need: a lesion alone under its own limit', async () => {
    // Lesion b is held at coverage 0.5 by a limit on territory two only (20 A2 <= 20 -> A2 <= 1, D_b = 100).
    // Stage 1 gives z = 0.5 whatever A1 in [0.5, ...]; stage 2 raises lesion a to its target (A1 = 1); stage 3 keeps it.
    const p: TerritoryProblem = { ...problem(1000), limits: [{ id: 'normal-liver:two', kind: 'normal-liver', structure: 'n2', basis: 'voxel', limitGy: 20, gyPerGBq: [0, 20], what: 'perfused normal liver of "two"' }] };
    const r = await optimiseTerritories(p);
    expect(rel(r.territories[0].activityGBq, 1)).toBeLessThan(1e-9);
    expect(rel(r.territories[1].activityGBq, 1)).toBeLessThan(1e-9);
    expect(r.coverage.map((c) => c.reached)).toEqual([true, false]);
    expect(r.territories[0].limitingConstraints).toEqual(['tumor:a']);
    expect(r.territories[1].limitingConstraints).toEqual(['normal-liver:two']);
  });

  it('a hand-fixed activity: the others re-solve around it', async () => {
    // A1 fixed at 0.9 under L = 30: A2 = min(2, (30 - 9) / 20) = 1.05.
    const r = await optimiseTerritories(problem(30, 0.9));
    expect(r.territories[0].activityGBq).toBe(0.9);
    expect(rel(r.territories[1].activityGBq, 1.05)).toBeLessThan(1e-9);
    expect(r.territories[0].limitingConstraints).toEqual(['fixed']);
    expect(rel(r.territories[1].maxAllowedActivityGBq!, 1.05)).toBeLessThan(1e-9);
  });

  it('refuses an infeasible plan naming the limit, before any LP', async () => {
    expect(() => checkFixedActivities(problem(30, 4))).toThrow(/whole normal liver limit of 30 Gy is exceeded, 40\.00 Gy from "one" fixed at 4 GBq \(40\.00 Gy\) with every other territory at 0 GBq/);
    expect(() => checkFixedActivities(problem(30, 3))).toThrow(/already used up .* no activity is allowed in "two"/);
    const lung: TerritoryProblem = { ...problem(100), limits: [{ id: 'lung-cumulative', kind: 'lung-cumulative', structure: 'lung', basis: 'lung-formula', limitGy: 50, priorGy: 50, gyPerGBq: [5, 5], what: 'cumulative lung dose' }] };
    await expect(optimiseTerritories(lung)).rejects.toThrow(/cumulative lung dose limit of 50 Gy is already used up by the prior dose 50\.00 Gy/);
    await expect(optimiseTerritories({ ...problem(100), coverage: [] })).rejects.toThrow(PlanError);
  });

  it('territoryResult: values, slacks and the largest allowed activity at given activities', () => {
    const r = territoryResult(problem(30), [0.5, 0.5]);
    expect(rel(r.limits[0].valueGy, 15)).toBeLessThan(1e-12);
    expect(rel(r.limits[0].slackPercent, 50)).toBeLessThan(1e-12);
    expect(rel(r.territories[0].maxAllowedActivityGBq!, 2)).toBeLessThan(1e-12); // (30 - 20 x 0.5) / 10
    expect(r.coverage.map((c) => c.fraction)).toEqual([0.5, 0.25]);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// The command on the two-territory phantom.
//
// Derivation (LDM, uniform compartments, masses M from territory-phantom.ts, CF = 49.67 J/GBq, LSF = 0.02 measured on
// the scout's lung counts, --lung-mass-g 1000): a territory on the shared scout receives A (1 - LSF) in its lobe, spread
// as its counts, so its compartments' doses per GBq are the partition model's (Ho 1996) with T/N against its own
// normal liver:
//   Left:  D_NL = CF (1 - LSF) / ((T/N_A M_A + M_NL) / 1000),   D_A = 4 D_NL   [Gy/GBq]
//   Right: D_NR = CF (1 - LSF) / ((T/N_B M_B + M_NR) / 1000),   D_B = 3 D_NR
//   whole normal liver: w_L = D_NL M_NL / M_WN, w_R = D_NR M_NR / M_WN;  lung: CF LSF / 1 kg each.
// No territory doses the other's compartments (LDM, disjoint lobes), so the LP separates except through the whole
// normal liver and the lung:
//   (a) glass presets (tumour 205, perfused normal 120, whole normal 75, lung 30): A_L = 205 / D_A, A_R = 205 / D_B;
//       check: perfused normal 205/4 = 51.25 and 205/3 = 68.3 Gy < 120, whole normal 59.9 Gy < 75, lung 10 Gy < 30.
//   (b) Right's "normalLiverGy": 50: A_R = 50 / D_NR (Tumor B at 150 Gy, coverage 150/205 = z*); stage 2 raises
//       Tumor A to its target: A_L = 205 / D_A.
//   (b') --whole-normal-liver-gy 50: max-min equalises the coverages, D_A A_L = D_B A_R = 205 z, and the limit binds,
//       w_L A_L + w_R A_R = 50, so z = 50 / (205 (M_NL / 4 + M_NR / 3) / M_WN).
//   (c) (b') with Left fixed at 1 GBq: A_R = (50 - w_L) / w_R (below 205 / D_B: the limit binds).
// Tolerance 1e-6: the density map is float32 once a lung structure is given (1.05 -> 1.0499999523) and the dose map
// float32 (6e-8 per voxel).
const cfLiver = CF_Y90 * (1 - LSF);
const dNL = cfLiver / ((TN_A * M.A + M.normalLeft) / 1000), dA = TN_A * dNL;
const dNR = cfLiver / ((TN_B * M.B + M.normalRight) / 1000), dB = TN_B * dNR;
const wL = (dNL * M.normalLeft) / M.wholeNormal, wR = (dNR * M.normalRight) / M.wholeNormal;

afterEach(() => vi.restoreAllMocks());
let dir = '';
let paths: { scout: string; seg: string };
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'territories-'));
  paths = writeTerritoryPhantom(dir);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type Territory = Record<string, unknown>;
let runs = 0;
/** Runs plan --territories on the phantom; returns exit code, stderr, the report and the output folder. */
async function plan(territories: Territory[], extra: string[] = []) {
  const n = ++runs;
  const file = join(dir, `t${n}.json`);
  writeFileSync(file, JSON.stringify({ territories }));
  const out = join(dir, `out${n}`);
  const r = await capture(() => main([
    'plan', '--territories', file, '--activity', paths.scout, '--segmentation', paths.seg, '--liver', 'Liver', '--tumor', 'Tumor A', '--tumor', 'Tumor B',
    '--lung', 'Lungs', '--lung-mass-g', '1000', '--backend', 'cpu', '--quiet', ...extra, '--out', out,
  ]));
  const report = r.code === 0 ? JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) : undefined;
  return { ...r, stdout: r.out, report, out, plan: report?.plan, activities: report ? (report.plan.territories as Array<{ activityGBq: number }>).map((t) => t.activityGBq) : [] };
}
const lobes = (left: Territory = {}, right: Territory = {}): Territory[] => [
  { name: 'Left lobe', perfused: 'Left', device: 'glass', ...left },
  { name: 'Right lobe', perfused: 'Right', device: 'glass', ...right },
];

describe('plan --territories on the two-territory phantom: the analytic optimum', () => {
  it('(a) reachable targets: A_L = 205 / D_A, A_R = 205 / D_B, for both bases', async () => {
    for (const prescribe of ['partition', 'voxel']) {
      const r = await plan(lobes(), ['--prescribe', prescribe]);
      expect(r.code, r.err).toBe(0);
      expect(rel(r.activities[0], 205 / dA)).toBeLessThan(1e-6);
      expect(rel(r.activities[1], 205 / dB)).toBeLessThan(1e-6);
      expect(r.plan.territories.map((t: { limitingConstraints: string[] }) => t.limitingConstraints)).toEqual([['tumor:Tumor A'], ['tumor:Tumor B']]);
      expect(r.plan.tumorTargetReached).toBe(true);
      expect(r.plan.territories[0].lungShuntFraction).toBe(LSF);
      const wn = r.plan.constraints.find((c: { id: string; basis: string }) => c.id === 'whole-normal-liver' && c.basis === 'voxel');
      expect(rel(wn.valueGy, wL * r.activities[0] + wR * r.activities[1])).toBeLessThan(1e-6);
      expect(rel(wn.slackGy, 75 - wn.valueGy)).toBeLessThan(1e-12);
      // the combined dose map: each lesion at its target
      const tumour = (name: string) => r.report.structures.find((s: { name: string }) => s.name === name);
      expect(rel(tumour('Tumor A').meanGy, 205)).toBeLessThan(1e-6);
      expect(rel(tumour('Tumor B').meanGy, 205)).toBeLessThan(1e-6);
    }
  });

  it('(b) a per-territory limit binds in one territory: the other still reaches its target (stage 2)', async () => {
    const r = await plan(lobes({}, { normalLiverGy: 50 }));
    expect(r.code, r.err).toBe(0);
    expect(rel(r.activities[1], 50 / dNR)).toBeLessThan(1e-6);
    expect(rel(r.activities[0], 205 / dA)).toBeLessThan(1e-6);
    expect(r.plan.territories[0].limitingConstraints).toEqual(['tumor:Tumor A']);
    expect(r.plan.territories[1].limitingConstraints).toEqual(['normal-liver:Right lobe']);
    expect(rel(r.plan.objective.minCoverage, 150 / 205)).toBeLessThan(1e-6);
    expect(r.plan.tumorTargetReached).toBe(false);
    expect(r.err).toMatch(/warning: tumour underdosed: "Tumor B" gets 150\.0 Gy, below its 205 Gy target/);
  });

  it("(b') the whole normal liver binds: coverages equalised at z = 50 M_WN / (205 (M_NL/4 + M_NR/3))", async () => {
    const r = await plan(lobes(), ['--whole-normal-liver-gy', '50']);
    expect(r.code, r.err).toBe(0);
    const z = 50 / ((205 * (M.normalLeft / 4 + M.normalRight / 3)) / M.wholeNormal);
    expect(rel(r.activities[0], (205 * z) / dA)).toBeLessThan(1e-6);
    expect(rel(r.activities[1], (205 * z) / dB)).toBeLessThan(1e-6);
    expect(rel(r.plan.objective.minCoverage, z)).toBeLessThan(1e-6);
    expect(r.plan.limitingConstraints).toEqual(['whole-normal-liver']);
    for (const t of r.plan.territories) expect(t.limitingConstraints).toEqual(['whole-normal-liver']);
    const rows = r.plan.constraints.filter((c: { id: string }) => c.id === 'whole-normal-liver');
    expect(rows.map((c: { basis: string; binding: boolean }) => [c.basis, c.binding])).toEqual([['partition', true], ['voxel', true]]);
  });

  it('(c) a hand-fixed activity: the other territory re-solves to (50 - w_L A_L) / w_R', async () => {
    const r = await plan(lobes({ activityGBq: 1 }), ['--whole-normal-liver-gy', '50']);
    expect(r.code, r.err).toBe(0);
    expect(r.activities[0]).toBe(1);
    expect(rel(r.activities[1], (50 - wL) / wR)).toBeLessThan(1e-6);
    expect(r.plan.territories[0].activitySource).toMatch(/fixed by hand/);
    expect(r.plan.territories[0].limitingConstraints).toEqual(['fixed']);
    expect(r.plan.territories[1].limitingConstraints).toEqual(['whole-normal-liver']);
  });

  it('(d) an infeasible plan names the limit that makes it so, and writes nothing', async () => {
    const spent = await plan(lobes(), ['--prior-lung-gy', '50']);
    expect(spent.code).not.toBe(0);
    expect(spent.err.trim().split('\n')).toHaveLength(1);
    expect(spent.err).toMatch(/infeasible: the cumulative lung dose limit of 50 Gy is already used up by the prior dose 50\.00 Gy \(--prior-lung-gy\)/);
    expect(existsSync(spent.out)).toBe(false);
    const over = await plan(lobes({ activityGBq: 5 }));
    expect(over.code).not.toBe(0);
    // the worst-exceeded limit is named (perfused normal liver 5 x 55.7 = 279 Gy > 120; whole normal liver 137 > 75 too)
    expect(over.err).toMatch(/infeasible: the perfused normal liver of "Left lobe" limit of 120 Gy is exceeded, 278\.6 Gy from "Left lobe" fixed at 5 GBq .*\(also exceeded: whole normal liver 137\.4 > 75 Gy\)/);
    expect(existsSync(over.out)).toBe(false);
  });

  it('(e) overlapping territories share the overlap counts and add their doses there', async () => {
    // Left wide (i 2..14) and Right wide (i 10..22) overlap in i 10..14 (256 normal voxels of 10 counts, 5 to each).
    // Liver counts: Left 64 x 40 + 448 x 10 + 256 x 5 = 8320, Right 48 x 30 + 464 x 10 + 256 x 5 = 7360; at 1 GBq an
    // overlap voxel gets CF (1 - LSF) x 5 / (C x 1.05 g) from each territory, and the combined dose adds them.
    const r = await plan([{ name: 'Left wide', perfused: 'Left wide', device: 'glass' }, { name: 'Right wide', perfused: 'Right wide', device: 'resin', tumorGy: 150 }]);
    expect(r.code, r.err).toBe(0);
    const map = async (slug: string) => (await readVolume(join(r.out, 'territories', `${slug}.dose_per_gbq.nii.gz`))).data;
    const [mL, mR, dose] = [await map('left-wide'), await map('right-wide'), (await readVolume(join(r.out, 'dose.nii.gz'))).data];
    const perVoxel = (counts: number, total: number) => (cfLiver * counts) / total / (RHO * 1e-3);
    const overlap = index(11, 5, 5), leftOnly = index(3, 3, 3), rightOnly = index(20, 8, 8);
    expect(rel(mL[overlap], perVoxel(5, 8320))).toBeLessThan(1e-6);
    expect(rel(mR[overlap], perVoxel(5, 7360))).toBeLessThan(1e-6);
    expect(rel(mL[leftOnly], perVoxel(10, 8320))).toBeLessThan(1e-6);
    expect(mR[leftOnly]).toBe(0);
    expect(mL[rightOnly]).toBe(0);
    const [aL, aR] = r.activities;
    expect(rel(dose[overlap], aL * perVoxel(5, 8320) + aR * perVoxel(5, 7360))).toBeLessThan(1e-6);
    expect(rel(dose[rightOnly], aR * perVoxel(10, 7360))).toBeLessThan(1e-6);
    expect(r.plan.scouts[0].unattributedCountsFraction).toBe(0);
    // the report's per-territory mean doses per GBq recombine to the combined means (the viewer's sliders)
    for (const s of r.report.structures) {
      const sum = r.plan.territories.reduce((acc: number, t: { activityGBq: number; structures: Array<{ name: string; meanGyPerGBq: number }> }) => acc + t.activityGBq * t.structures.find((x) => x.name === s.name)!.meanGyPerGBq, 0);
      expect(Math.abs(sum - s.meanGy)).toBeLessThanOrEqual(1e-6 * Math.max(1, s.meanGy));
    }
  });

  it("territories with their own scouts give the mask territories' plan", async () => {
    const own = (name: string, keep: typeof LEFT) => {
      const p = join(dir, `${name}.nrrd`);
      writeFileSync(p, encodeNrrd({ geometry, data: scoutCounts({ keep }) }));
      return p;
    };
    const mask = await plan(lobes());
    const r = await plan(lobes({ activity: own('left', LEFT), activityUnit: 'counts', lungShuntFraction: LSF }, { activity: own('right', [12, 22, 2, 10, 2, 10]), lungShuntFraction: LSF }));
    expect(r.code, r.err).toBe(0);
    expect(r.plan.territories.map((t: { scout: string }) => t.scout)).toEqual([join(dir, 'left.nrrd'), join(dir, 'right.nrrd')]);
    r.activities.forEach((a, t) => expect(rel(a, mask.activities[t])).toBeLessThan(1e-9));
  });

  it('a radiation segmentectomy: perfusedTargetGy 400 on the segment, its normal-liver limit removed', async () => {
    // Segment: 180 mL (189 g), Tumor B inside; all of A_S (1 - LSF) lodges in it: mean dose CF (1 - LSF) A_S / M_S,
    // so A_S = 400 x 0.189 kg / (CF (1 - LSF)); Tumor B gets far more than 205 Gy there; the left lobe as in (a).
    const r = await plan([
      { name: 'Left lobe', perfused: 'Left', device: 'glass' },
      { name: 'Segment 6', perfused: 'Segment', device: 'glass', perfusedTargetGy: 400, normalLiverGy: null },
    ]);
    expect(r.code, r.err).toBe(0);
    expect(rel(r.activities[1], (400 * 189e-3) / cfLiver)).toBeLessThan(1e-6);
    expect(rel(r.activities[0], 205 / dA)).toBeLessThan(1e-6);
    expect(r.plan.territories[1].limitingConstraints).toEqual(['perfused-target:Segment 6']);
    expect(r.plan.coverage.find((c: { id: string }) => c.id === 'tumor:Tumor B').doseGy).toBeGreaterThan(205);
    expect(r.plan.constraints.some((c: { id: string }) => c.id === 'normal-liver:Segment 6')).toBe(false);
    // the rest of the right lobe (460 normal voxels x 10 counts of 16000) is fed by no territory: said
    expect(rel(r.plan.scouts[0].unattributedCountsFraction, 4600 / 16000)).toBeLessThan(1e-9);
    expect(r.err).toMatch(/28\.[78] % of the counts of the shared scout lie outside every perfused structure/);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Vials, radiobiology and the 166Ho scout of a territory plan, on the same phantom and the same closed forms.
//
// Vials (src/plan/vials.ts rules, ../shared/PHYSICS.md half-lives written here): a glass stock vial of S GBq delivers
// S x 2^(-t / 64.05 h) x (1 - r) at t after its calibration, and holds S x 1e9 / 2500 spheres; a 166Ho per-patient
// order is A / (1 - r) x 2^(t / 26.8 h) at its calibration. In territory order each vial must keep every limit with
// the territories before it at their delivered activities and those after it as planned; the limits here are linear
// in the activities with the coefficients above (whole normal liver w_L A_L + w_R A_R; perfused normal liver D_N A;
// lung CF LSF A / 1 kg each).
const T_HALF_Y90_H = 64.05, T_HALF_HO166_H = 26.8, CF_HO166 = 15.87;
const kLungY90 = CF_Y90 * LSF; // Gy/GBq with --lung-mass-g 1000
const aL0 = 205 / dA, aR0 = 205 / dB; // (a)'s activities

interface Order {
  vial: { kind: string; nominalGBq: number };
  orderable: boolean; meetsPrescription: boolean; calibrationTime: string; treatmentAfterCalibrationH: number;
  activityAtCalibrationGBq: number; activityAtTreatmentGBq: number; deliveredActivityGBq: number; maxAllowedActivityGBq: number;
  spheresImplanted: number; vialOptions: Array<{ nominalGBq: number; status: string }>;
  predictedAtDelivered: { lesions: Array<{ name: string; meanGy: number }>; allTumorGy: number; perfusedNormalLiverGy: number; wholeNormalLiverGy: number; treatedLiverGy: number; lungGy: number };
}
const ordersOf = (r: Awaited<ReturnType<typeof plan>>) => (r.plan.territories as Array<{ order: Order }>).map((t) => t.order);
const deliveredRow = (r: Awaited<ReturnType<typeof plan>>, id: string, basis = 'voxel') =>
  r.plan.delivered.constraints.find((c: { id: string; basis: string }) => c.id === id && c.basis === basis);

describe('plan --territories --treatment-time: a vial per territory, the limits at the delivered activities of all', () => {
  it('glass on the weekly schedule (71 h): the 3 GBq vial fits the left lobe, then breaks the whole normal liver for the right: flagged', async () => {
    // Wednesday 2025-03-12 11:00 EDT: the vial calibrated on Sunday 2025-03-09 at noon New York time (16:00 UTC), 71 h before.
    const r = await plan(lobes(), ['--treatment-time', '2025-03-12T11:00:00-04:00', '--residual-fraction', '0.02']);
    expect(r.code, r.err).toBe(0);
    expect(rel(r.activities[0], aL0)).toBeLessThan(1e-6);
    const f = 2 ** (-71 / T_HALF_Y90_H);
    const [oL, oR] = ordersOf(r);
    for (const o of [oL, oR]) {
      expect(o.calibrationTime).toBe('2025-03-09T16:00:00.000Z');
      expect(o.treatmentAfterCalibrationH).toBe(71);
      expect(o.vial).toMatchObject({ kind: 'stock', nominalGBq: 3 });
      expect(rel(o.activityAtTreatmentGBq, 3 * f)).toBeLessThan(1e-9);
      expect(rel(o.deliveredActivityGBq, 3 * f * 0.98)).toBeLessThan(1e-9);
      expect(BigInt(o.spheresImplanted)).toBe((3n * 10n ** 9n * 98n) / 100n / 2500n); // 1 176 000, exact
    }
    const dVial = 3 * f * 0.98; // 1.363 GBq, above either prescription (0.920, 1.085): the smallest stock vial
    // Left first, Right as planned: min over its rows; the whole normal liver sets it, (75 - w_R A_R) / w_L = 1.469
    const maxL = Math.min((75 - wR * aR0) / wL, 120 / dNL, (30 - kLungY90 * aR0) / kLungY90, (50 - kLungY90 * aR0) / kLungY90);
    expect(rel(oL.maxAllowedActivityGBq, (75 - wR * aR0) / wL)).toBeLessThan(1e-6);
    expect(maxL).toBe((75 - wR * aR0) / wL);
    expect(dVial).toBeLessThan(maxL);
    expect(oL.orderable).toBe(true);
    expect(oL.meetsPrescription).toBe(true);
    // Right with Left at its delivered activity: (75 - w_L D_L) / w_R = 1.176 < 1.363: no vial fits, flagged
    const maxR = (75 - wL * oL.deliveredActivityGBq) / wR;
    expect(rel(oR.maxAllowedActivityGBq, maxR)).toBeLessThan(1e-6);
    expect(dVial).toBeGreaterThan(maxR);
    expect(oR.orderable).toBe(false);
    expect(r.err).toMatch(/warning: territory "Right lobe": NO TheraSphere stock vial can be given .*more than the 1\.176 GBq the plan allows \(whole normal liver limit 75 Gy .*with the territories before it at their delivered activities\).* plan\.territories\[1\]\.order describes that vial/);
    // the combined plan at the delivered activities: whole normal liver w_L D_L + w_R D_R = 81.0 Gy > 75 Gy, flagged
    const [DL, DR] = [oL.deliveredActivityGBq, oR.deliveredActivityGBq];
    const d = r.plan.delivered;
    expect(d.activitiesGBq).toEqual([DL, DR]);
    const wn = deliveredRow(r, 'whole-normal-liver');
    expect(rel(wn.valueGy, wL * DL + wR * DR)).toBeLessThan(1e-6);
    expect(wn.broken).toBe(true);
    expect(deliveredRow(r, 'normal-liver:Left lobe').broken).toBe(false);
    expect(d.withinLimits).toBe(false);
    expect(r.err).toMatch(/warning: at the delivered activities \("Left lobe" 1\.363 GBq, "Right lobe" 1\.363 GBq\) the combined plan BREAKS the whole normal liver limit of 75 Gy: 81\.0\d Gy \(partition\), 81\.0\d Gy \(voxel\)/);
    // the doses at the delivered activities, per territory's compartments (plain plan's predictedAtDelivered) and per structure
    const p = oL.predictedAtDelivered;
    expect(p.lesions.map((l) => l.name)).toEqual(['Tumor A', 'Tumor B']);
    expect(rel(p.lesions[0].meanGy, dA * DL)).toBeLessThan(1e-6);
    expect(rel(p.lesions[1].meanGy, dB * DR)).toBeLessThan(1e-6);
    expect(rel(p.perfusedNormalLiverGy, dNL * DL)).toBeLessThan(1e-6);
    expect(rel(oR.predictedAtDelivered.perfusedNormalLiverGy, dNR * DR)).toBeLessThan(1e-6);
    expect(rel(p.wholeNormalLiverGy, wL * DL + wR * DR)).toBeLessThan(1e-6);
    expect(rel(p.treatedLiverGy, ((dA * M.A + dNL * M.normalLeft) / (M.A + M.normalLeft)) * DL)).toBeLessThan(1e-6);
    expect(rel(p.lungGy, kLungY90 * (DL + DR))).toBeLessThan(1e-6);
    const tumourA = d.structures.find((s: { name: string }) => s.name === 'Tumor A');
    expect(rel(tumourA.meanGy, dA * DL)).toBeLessThan(1e-6);
    expect(d.coverage.map((c: { reached: boolean }) => c.reached)).toEqual([true, true]);
    // the text output says each territory's vial and the plan at the delivered activities
    const text = await plan(lobes(), ['--treatment-time', '2025-03-12T11:00:00-04:00', '--residual-fraction', '0.02']);
    expect(text.stdout).toMatch(/territory "Left lobe"[^\n]*\n(.*\n){2}\s+vial: TheraSphere 3 GBq stock vial, calibrated 2025-03-09T16:00:00\.000Z/);
    expect(text.stdout).toMatch(/^\s+delivered 1\.363 GBq \(x1\.482 the prescribed 0\.920 GBq, net of 2\.0 % residual\); 1\.18 million spheres implanted/m);
    expect(text.stdout).toMatch(/^at the delivered activities \("Left lobe" 1\.363, "Right lobe" 1\.363 GBq; total 2\.727 GBq\): a limit BROKEN, every target reached$/m);
  });

  it('a vial that would break a shared limit is avoided: the largest within it, the next territory fitted around it', async () => {
    // A site catalogue of small glass vials (0.5, 1, 1.25 GBq), treatment at calibration (no decay, no residual),
    // whole normal liver <= 62 Gy: the plan is (a)'s (w_L A_L + w_R A_R = 59.9 Gy). Left, with Right as planned, may
    // have (62 - w_R A_R) / w_L = 0.996 GBq: the 1 GBq vial that reaches 0.920 GBq breaks it, the 0.5 GBq one is
    // ordered. Right, with Left at 0.5: (62 - 0.5 w_L) / w_R = 1.51 GBq: the 1.25 GBq vial reaches 1.085 within it.
    const data = JSON.parse(JSON.stringify(CATALOGUE_DATA));
    data.devices.glass.vial.sizesGBq = [0.5, 1, 1.25];
    const site = join(dir, 'site-catalogue.json');
    writeFileSync(site, JSON.stringify({ schemaVersion: 1, name: 'site', devices: { glass: data.devices.glass } }));
    const T = '2025-03-10T12:00:00Z';
    const r = await plan(lobes(), ['--whole-normal-liver-gy', '62', '--calibration-time', T, '--treatment-time', T, '--device-catalogue', site]);
    expect(r.code, r.err).toBe(0);
    expect(rel(r.activities[0], aL0)).toBeLessThan(1e-6);
    expect(rel(r.activities[1], aR0)).toBeLessThan(1e-6);
    const [oL, oR] = ordersOf(r);
    const maxL = (62 - wR * aR0) / wL;
    expect(maxL).toBeGreaterThan(aL0);
    expect(maxL).toBeLessThan(1);
    expect(rel(oL.maxAllowedActivityGBq, maxL)).toBeLessThan(1e-6);
    expect(oL.vialOptions.map((v) => [v.nominalGBq, v.status])).toEqual([[0.5, 'chosen'], [1, 'breaks a limit'], [1.25, 'breaks a limit']]);
    expect(oL.deliveredActivityGBq).toBe(0.5);
    expect(oL.meetsPrescription).toBe(false);
    expect(r.err).toMatch(/warning: territory "Left lobe": the 1 GBq TheraSphere vial, the smallest that reaches the prescribed 0\.9198 GBq on 2025-03-10T12:00:00\.000Z, is not ordered/);
    expect(rel(oR.maxAllowedActivityGBq, (62 - wL * 0.5) / wR)).toBeLessThan(1e-6);
    expect(oR.vial.nominalGBq).toBe(1.25);
    expect(oR.deliveredActivityGBq).toBe(1.25);
    // every limit kept at the delivered activities; Tumor A now below its target, and said
    const d = r.plan.delivered;
    expect(d.withinLimits).toBe(true);
    expect(rel(deliveredRow(r, 'whole-normal-liver').valueGy, 0.5 * wL + 1.25 * wR)).toBeLessThan(1e-6);
    expect(d.coverage.map((c: { doseGy: number }) => c.doseGy).map((x: number, i: number) => rel(x, [0.5 * dA, 1.25 * dB][i]))).toSatisfy((xs: number[]) => xs.every((x) => x < 1e-6));
    expect(d.coverage.map((c: { reached: boolean }) => c.reached)).toEqual([false, true]);
    expect(d.tumorTargetReached).toBe(false);
    expect(r.err).toMatch(/warning: at the delivered activities .* "Tumor A" gets 111\.\d Gy, below its 205 Gy target \(reached at the planned activities\)/);
    expect(r.err).not.toMatch(/BREAKS/);
  });
});

describe('plan --territories: BED and EUD of the combined dose map (one isotope), refused for mixed isotopes', () => {
  it("two glass lobes: each compartment's BED and EUD from its uniform dose, by hand", async () => {
    // LDM, uniform compartments: Tumor A at 205 Gy; the normal liver 576 voxels at D_NL A_L = 51.25 Gy (left) and
    // 592 at D_NR A_R = 68.33 Gy (right). BED = D (1 + G D), G = lambda / ((mu + lambda) alpha/beta), lambda = ln 2 /
    // 64.05 h, mu = ln 2 / T_rep (tumour 10 Gy, 1.5 h; normal 2.5 Gy, 2.5 h); the mean BED mass-weighted, the EUD over
    // volume fractions: -ln(sum v_i exp(-alpha D_i)) / alpha.
    const r = await plan(lobes(), ['--eud-alpha-per-gy', '0.03']);
    expect(r.code, r.err).toBe(0);
    const G = (abGy: number, repairH: number) => (1 / T_HALF_Y90_H) / ((1 / repairH + 1 / T_HALF_Y90_H) * abGy);
    const bed = (d: number, g: number) => d * (1 + g * d);
    const s = (name: string) => r.report.structures.find((x: { name: string }) => x.name === name);
    expect(rel(s('Tumor A').meanBedGy, bed(205, G(10, 1.5)))).toBeLessThan(1e-6);
    expect(rel(s('Tumor A').eudGy, 205)).toBeLessThan(1e-6);
    const [d1, d2] = [dNL * r.activities[0], dNR * r.activities[1]];
    const gN = G(2.5, 2.5);
    expect(rel(s('Normal liver').meanBedGy, (M.normalLeft * bed(d1, gN) + M.normalRight * bed(d2, gN)) / M.wholeNormal)).toBeLessThan(1e-6);
    expect(rel(s('Normal liver').eudGy, -Math.log((576 * Math.exp(-0.03 * d1) + 592 * Math.exp(-0.03 * d2)) / 1168) / 0.03)).toBeLessThan(1e-6);
    expect(rel(s('Normal liver').eubedGy, -Math.log((576 * Math.exp(-0.03 * bed(d1, gN)) + 592 * Math.exp(-0.03 * bed(d2, gN))) / 1168) / 0.03)).toBeLessThan(1e-6);
    expect(r.plan.radiobiology.structures.map((x: { name: string }) => x.name)).toEqual(r.report.structures.map((x: { name: string }) => x.name));
    expect(r.plan.radiobiology.eudAlphaPerGy).toBe(0.03);
  });

  it('glass and ho166 territories: no BED (said in plan.radiobiology); a radiobiology option is refused in one line', async () => {
    const mixed = [{ name: 'Left lobe', perfused: 'Left', device: 'glass' }, { name: 'Right lobe', perfused: 'Right', device: 'ho166' }];
    const r = await plan(mixed);
    expect(r.code, r.err).toBe(0);
    expect(r.report.structures.some((x: Record<string, unknown>) => 'meanBedGy' in x)).toBe(false);
    expect(r.plan.radiobiology.note).toMatch(/a dose summed from two isotopes has no single BED model/);
    const refused = await plan(mixed, ['--tumor-alpha-beta-gy', '8']);
    expect(refused.code).not.toBe(0);
    expect(refused.err.trim().split('\n')).toHaveLength(1);
    expect(refused.err).toMatch(/--tumor-alpha-beta-gy: the territories use Y90 and Ho166 \("Left lobe" glass, "Right lobe" ho166\): a dose summed from two isotopes has no single BED model/);
    expect(existsSync(refused.out)).toBe(false);
  });
});

describe('plan --territories --scout-gbq: the shared 166Ho scout of two ho166 lobes', () => {
  const ho = (): Territory[] => lobes({ device: 'ho166' }, { device: 'ho166' });
  // The scout's own dose: the scout image normalised so that the liver holds A_s (1 - LSF): liver counts 15680, of
  // which Tumor A 64 x 40 = 2560 and the whole normal liver 15680 - 2560 - 48 x 30 = 11680; lung CF A_s LSF / 1 kg.
  const aS = 0.25;
  const scoutLungGy = CF_HO166 * aS * LSF; // 0.0794 Gy
  it("per-patient orders, the scout's own doses, and its lung dose counted in the cumulative lung limit", async () => {
    const r = await plan(ho(), ['--scout-gbq', String(aS), '--calibration-time', '2025-03-12T02:00:00Z', '--treatment-time', '2025-03-12T08:00:00Z', '--residual-fraction', '0.05']);
    expect(r.code, r.err).toBe(0);
    // 166Ho targets (150 Gy, whole normal liver 60 Gy) reached: A_t = 150 / D_t with the 166Ho energy per GBq
    const hoScale = CF_HO166 / CF_Y90;
    expect(rel(r.activities[0], 150 / (dA * hoScale))).toBeLessThan(1e-6);
    expect(rel(r.activities[1], 150 / (dB * hoScale))).toBeLessThan(1e-6);
    const s = r.plan.scout;
    expect(rel(s.compartments.lungGy, scoutLungGy)).toBeLessThan(1e-9);
    expect(rel(s.structures.find((x: { name: string }) => x.name === 'Tumor A').meanGy, (CF_HO166 * (1 - LSF) * aS * (2560 / 15680)) / (M.A / 1000))).toBeLessThan(1e-6);
    expect(rel(s.compartments.wholeNormalLiverGy, (CF_HO166 * (1 - LSF) * aS * (11680 / 15680)) / (M.wholeNormal / 1000))).toBeLessThan(1e-6);
    const cumulativeRow = r.plan.constraints.find((c: { id: string }) => c.id === 'lung-cumulative');
    expect(rel(cumulativeRow.priorGy, scoutLungGy)).toBeLessThan(1e-9);
    expect(rel(s.cumulative.lungGy, scoutLungGy + CF_HO166 * LSF * (r.activities[0] + r.activities[1]))).toBeLessThan(1e-9);
    expect(s.cumulative.territories.map((t: { name: string }) => t.name)).toEqual(['Left lobe', 'Right lobe']);
    // per-patient orders: A_t / 0.95 at the calibration 6 h before; the whole order delivered; spheres of 300 Bq
    ordersOf(r).forEach((o, t) => {
      const a = r.activities[t];
      expect(o.vial.kind).toBe('per-patient');
      expect(rel(o.activityAtCalibrationGBq, (a / 0.95) * 2 ** (6 / T_HALF_HO166_H))).toBeLessThan(1e-9);
      expect(rel(o.deliveredActivityGBq, a)).toBeLessThan(1e-12);
      expect(Math.abs(o.spheresImplanted - (a * 1e9) / (300 * 2 ** (-6 / T_HALF_HO166_H)))).toBeLessThanOrEqual(0.5 + 1e-9 * o.spheresImplanted);
    });
    expect(r.plan.delivered.withinLimits).toBe(true);
    expect(r.stdout).toMatch(/^166Ho scout 0\.25 GBq \(shared scout, LSF 2\.0 %\): its own dose: whole normal liver \d+\.\d\d Gy, lung 0\.08 Gy/m);
  });

  it('with a prior lung dose of 49.9 Gy the cumulative limit binds: sum_t A_t = (50 - 49.9 - scout lung) / (CF LSF)', async () => {
    const r = await plan(ho(), ['--scout-gbq', String(aS), '--prior-lung-gy', '49.9']);
    expect(r.code, r.err).toBe(0);
    expect(rel(r.activities[0] + r.activities[1], (50 - 49.9 - scoutLungGy) / (CF_HO166 * LSF))).toBeLessThan(1e-6);
    expect(r.plan.limitingConstraints).toContain('lung-cumulative');
    // without the scout the same prior dose leaves 0.1 Gy: more activity
    const without = await plan(ho(), ['--prior-lung-gy', '49.9']);
    expect(rel(without.activities[0] + without.activities[1], 0.1 / (CF_HO166 * LSF))).toBeLessThan(1e-6);
  });
});
