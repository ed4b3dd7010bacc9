/**
 * `dosimetry plan --territories FILE.json`: several perfused territories (catheter positions), each with its device,
 * optional targets and optional own scout, planned together by an exact optimiser (../shared/CONTRACT.md, "Additions
 * (2026-12)"). plan.ts hands the run here when --territories is given.
 *
 * Steps: the territories file (src/plan/territory-file.ts), the scouts and segmentations as for `plan`
 * (doseCaseFromArgs), one dose case per territory at 1 GBq (src/plan/territory-cases.ts), the lexicographic LP
 * (src/plan/territories.ts, HiGHS), the combined case at the planned activities; with --treatment-time one vial per
 * territory (src/plan/territory-orders.ts: plain plan's orderVial, each within the plan's shared limits) and the plan
 * at the activities they deliver; BED/EUD of the combined dose map when every territory has the same isotope
 * (./plan-radiobiology.ts); with --scout-gbq the shared 166Ho scout's own dose (src/plan/territory-scout.ts).
 * Everything is computed before anything is written: an error leaves no output. Outputs as `plan` (dose.nii.gz of the
 * combined dose, report.json, structures.csv, structures.seg.nrrd) and territories/<slug>.dose_per_gbq.nii.gz per
 * territory.
 */
import { join } from 'node:path';
import { DosimetryError, GridError, UsageError } from '../../errors.ts';
import { buildReport, structuresTable, type ReportStructure } from '../../dose/report.ts';
import { readImage } from '../../dose/inputs.ts';
import { checkInputPath, readFileBytes } from '../../io/files.ts';
import { asOutputFiles, claimOutputDir, type OutputFile, type OutputSet } from '../../io/output-set.ts';
import { DEVICE_PRESETS } from '../../plan/devices.ts';
import { bsaLsfReduction } from '../../plan/models.ts';
import { structureRadiobiology } from '../../plan/image.ts';
import { orderActivity, type OrderedActivity } from '../../plan/order.ts';
import { ZONED_TIME_EXAMPLE } from '../../plan/time.ts';
import { combineTerritoryCases, computeTerritoryCases, type TerritoryScoutInput } from '../../plan/territory-cases.ts';
import { territoryProblem } from '../../plan/territory-problem.ts';
import { OBJECTIVE_DESCRIPTION, COVERAGE_TOLERANCE, optimiseTerritories, type TerritoryOptimum } from '../../plan/territories.ts';
import { parseTerritoriesFile, type TerritorySpec } from '../../plan/territory-file.ts';
import { orderTerritoryVials, type DeliveredPlan, type TerritoryOrderJson } from '../../plan/territory-orders.ts';
import { territoryScoutDoses, territoryScoutLungGy, type TerritoryScoutDoses } from '../../plan/territory-scout.ts';
import { describeGrid, sameGrid } from '../../volume/geometry.ts';
import { meanOverVoxels } from '../../volume/resample.ts';
import type { Volume } from '../../volume/volume.ts';
import { numberOpt, opt, parseArgs, requireOpt } from '../args.ts';
import { progressReporter } from '../progress.ts';
import { caseInputPaths, caseOutputs, doseCaseFromArgs, printWarnings } from './dose.ts';
import { MC_OPTIONS, MC_UNCERTAINTY_FILE, applyMcToReport } from './dose-mc.ts';
import type { DoseCaseResult } from '../../dose/pipeline.ts';

/** JSON numbers: NaN and infinities as null. */
const num = (x: number) => (Number.isFinite(x) ? x : null);
import { limitOpt, OPTIONS as PLAN_OPTIONS } from './plan.ts';
import { catalogueFromArgs, orderLines, planTimesFromArgs, scoutFromArgs, type PlanTimes } from './plan-order.ts';
import { RADIOBIOLOGY_OPTIONS, radiobiologyFromArgs, radiobiologyJson } from './plan-radiobiology.ts';

/** Options of plan that a territory plan takes (the others are refused with the reason). */
const TAKEN = new Set([
  'territories', 'activity', 'activity-unit', 'lung-shunt-fraction', 'segmentation', 'labels', 'liver', 'tumor', 'lung', 'ct',
  'scan-delay-h', 'split-lesions', 'method', 'density', 'lung-density', 'mask-mode', 'backend', 'rtdose', 'activity-series',
  'ct-series', 'rtplan', 'allow-mismatched-dicom', 'out', 'json', 'quiet', 'help', 'prescribe', 'tumor-gy', 'normal-liver-gy',
  'whole-normal-liver-gy', 'lung-gy', 'lung-cumulative-gy', 'prior-lung-gy', 'lung-mass-g', 'tumor-basis', 'treatment-time',
  'calibration-time', 'residual-fraction', 'report', 'device-catalogue', 'scout-gbq', ...RADIOBIOLOGY_OPTIONS,
  ...Object.keys(MC_OPTIONS),
]);
const REFUSED: Readonly<Record<string, string>> = {
  device: 'each territory names its device in the territories file ("device")',
  isotope: "the isotope follows each territory's device",
  perfused: 'each territory names its perfused structure in the territories file ("perfused")',
  'normalize-to': "each territory's counts are normalised to its own perfused structure",
  'restrict-to': "each territory's scout is restricted to its perfused structure already",
  'administered-gbq': 'the plan computes the activities (fix one by hand with "activityGBq" in the territories file)',
  'mird-gy': 'MIRD and BSA are single-activity methods: a territory plan prescribes on --prescribe partition|voxel',
  'residual-gbq': 'the waste measured after a treatment is an input of dose (--administered-gbq); plan takes the expected share as --residual-fraction',
};

/** `plan --territories --help`: the options, the territories file's form, the limits and the objective. */
export const TERRITORIES_HELP = `usage: pnpm -s dosimetry plan --territories FILE.json
  [--activity SCOUT]  the shared scout (counts), for territories without their own "activity"
  --segmentation FILE [--labels ...] (repeatable) --liver NAME --tumor NAME [--tumor NAME ...] [--lung NAME]
  [--lung-shunt-fraction F] [--ct FILE] [--split-lesions] [--method ldm|dvk|mc] [--density 1.05] [--lung-density 0.30]
  [--mc-histories N | --mc-target-uncertainty P [--mc-max-histories N]] [--seed S]
  [--backend auto|webgpu|cpu] [--rtdose] [--report] --out DIR [--json] [--quiet]
FILE.json: { "territories": [ { "name": "Right lobe", "perfused": "STRUCTURE", "device": "glass|resin|ho166",
    "tumorGy"?: N|null, "normalLiverGy"?: N|null, "perfusedTargetGy"?: N, "activityGBq"?: N (fixed by hand),
    "activity"?: "own_scout.nii.gz", "activityUnit"?: "counts", "lungShuntFraction"?: F } ] }
  (paths relative to the file's folder). A territory without its own scout takes the shared scout restricted to its
  perfused structure; voxels perfused from several positions share their counts equally. Each territory's counts carry
  A_t (1 - LSF_t); its LSF: its own, else --lung-shunt-fraction, else measured on its scout (--lung).
  "perfusedTargetGy": a target on the perfused structure's mean dose (radiation segmentectomy: glass > 400 Gy to the
  perfused segment, EANM 2022; give "normalLiverGy": null there), counted like a lesion.
targets and limits [Gy], plan-wide (a territory's "tumorGy" / "normalLiverGy" win for it; "none" removes one):
  [--tumor-gy DT] [--normal-liver-gy DN] [--whole-normal-liver-gy DWN] [--lung-gy DL] [--lung-cumulative-gy 50]
  [--prior-lung-gy 0] [--lung-mass-g M] [--tumor-basis every-lesion|mean] [--prescribe partition|voxel]
  whole normal liver <= the strictest whole-normal-liver limit of the territories' devices (glass 75, 166Ho 60; resin
  none); each territory's perfused normal liver <= its device's limit (glass 120, resin 40), doses of all territories
  summed; lung (CF LSF_t / M_L summed) <= 30 Gy per treatment and prior + lung <= 50 Gy cumulative.
  A lesion's target: the largest among the territories whose perfused structure holds most of it.
objective: ${OBJECTIVE_DESCRIPTION}; tolerance between stages ${COVERAGE_TOLERANCE} of a target.
  --prescribe partition (default): coverage on the partition model of each territory, limits on both the partition
  model and the dose map; voxel: both on the dose map's mean doses.
the vial of each territory (report.json plan.territories[].order, as plan's plan.order), in territory order, each
  within every limit with the territories before it at their delivered activities and those after it as planned;
  the plan's limits and targets at the delivered activities of all territories together: plan.delivered.
  --treatment-time T [--calibration-time T] [--residual-fraction 0] [--device-catalogue FILE.json]
  T: e.g. ${ZONED_TIME_EXAMPLE}
  --treatment-time alone for glass (weekly calibration schedule) and ho166 (ordered for the treatment time); resin
  needs its vial label's --calibration-time.
166Ho scout: --scout-gbq A_s  when every territory is ho166 on the shared scout (--activity, counts): the scout's own
  dose (plan.scout), its lung dose counted toward the cumulative lung limit.
radiobiology (every territory with the same isotope; a dose summed from two isotopes has no single BED model):
  [--tumor-alpha-beta-gy 10] [--tumor-repair-half-time-h 1.5] [--normal-alpha-beta-gy 2.5]
  [--normal-repair-half-time-h 2.5] [--eud-alpha-per-gy ALPHA]   BED/EUD per structure of the combined dose map
outputs: DIR/dose.nii.gz (combined dose at the planned activities), report.json ("plan": territories, constraints,
  coverage, objective), structures.csv, structures.seg.nrrd, DIR/territories/<slug>.dose_per_gbq.nii.gz (Gy per GBq
  administered to that territory).
Monte Carlo (--method mc; options as for dose --help): one run per territory at 1 GBq, each with N histories (or run
  to P on its own structures), territory t on histories t x 2^44 + 0, 1, ... of the seed (independent runs, disjoint
  Philox counters). Standard errors at the planned activities: per voxel and for each structure's mean dose
  sqrt(sum_t (A_t se_t)^2); the other statistics by the batch method on the summed batch maps sum_t A_t d_t,b when the
  runs have the same batches (always with --mc-histories; with --mc-target-uncertainty only if they stopped together,
  else null, and uncertainty.kind says so). Also DIR/${MC_UNCERTAINTY_FILE} (combined, relative) and
  territories/<slug>.${MC_UNCERTAINTY_FILE} (each run's relative standard error).`;

const fmt = (x: number | null | undefined, digits = 1) => (x === null || x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(digits));

/** A fixed-width table indented by two spaces: the first `leftColumns` columns left-aligned, the others right-aligned. */
function table(head: string[], rows: string[][], leftColumns = 1): string {
  const w = head.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
  const line = (r: string[]) => `  ${r.map((x, c) => (c < leftColumns ? x.padEnd(w[c]) : x.padStart(w[c]))).join('  ')}`.trimEnd();
  return [line(head), line(w.map((n) => '-'.repeat(n))), ...rows.map(line)].join('\n');
}

/** Runs `plan --territories` (plan.ts hands it argv unchanged); returns the exit code, throws a DosimetryError on bad input. */
export async function run(argv: string[]): Promise<number> {
  const claimed: { out?: OutputSet } = {};
  try {
    return await runTerritories(argv, claimed);
  } finally {
    claimed.out?.release();
  }
}

/** Runs `fn`; a DosimetryError it throws is thrown again, of the same class, with `prefix` before its message. */
function within<T>(prefix: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (!(err instanceof DosimetryError)) throw err;
    const Same = err.constructor as new (message: string, options?: { cause?: unknown }) => DosimetryError;
    throw new Same(`${prefix}${err.message.replace(/^plan: /, '')}`, { cause: err });
  }
}

/** Names of territories, quoted, for messages. */
const named = (specs: readonly TerritorySpec[]) => specs.map((s) => `"${s.name}"`).join(', ');

/**
 * The times of the vial orders per device (see plan-order.ts planTimesFromArgs), checked before any image is read:
 * a device whose vials need their label time (resin) without --calibration-time, or a treatment outside a device's
 * usable window, is refused naming its territories. Empty without --treatment-time.
 */
function territoryTimes(a: Parameters<typeof planTimesFromArgs>[0], specs: readonly TerritorySpec[], catalogue: ReturnType<typeof catalogueFromArgs>): Map<string, PlanTimes> {
  const out = new Map<string, PlanTimes>();
  // without a treatment time: no order (the options that need one are refused by planTimesFromArgs, for any device)
  if (opt(a, 'treatment-time') === undefined) {
    planTimesFromArgs(a, specs[0].device, catalogue);
    return out;
  }
  for (const device of new Set(specs.map((s) => s.device))) {
    const of = specs.filter((s) => s.device === device);
    out.set(device, within(`plan --territories: territor${of.length > 1 ? 'ies' : 'y'} ${named(of)} (${device}): `, () => planTimesFromArgs(a, device, catalogue)));
  }
  return out;
}

async function runTerritories(argv: string[], claimed: { out?: OutputSet }): Promise<number> {
  // --help anywhere (also as "--territories --help", where parsing would take it for the file)
  if (argv.includes('--help')) {
    process.stdout.write(TERRITORIES_HELP + '\n');
    return 0;
  }
  const a = parseArgs(argv, PLAN_OPTIONS, 'plan');
  if (a.flags.has('help')) {
    process.stdout.write(TERRITORIES_HELP + '\n');
    return 0;
  }
  for (const item of a.sequence) {
    if (TAKEN.has(item.name)) continue;
    throw new UsageError(`plan --territories: --${item.name} does not apply to a territory plan${REFUSED[item.name] ? `: ${REFUSED[item.name]}` : ' (see plan --territories FILE --help)'}`);
  }
  const unit = opt(a, 'activity-unit');
  if (unit !== undefined && !['counts', 'count'].includes(unit.trim().toLowerCase())) {
    throw new UsageError(`plan: the scout is used as a relative distribution: give --activity-unit counts (or leave it out), not "${unit}"`);
  }
  const file = requireOpt(a, 'territories', 'plan');
  const specs = parseTerritoriesFile(new TextDecoder().decode(readFileBytes(file, 'territories file')), file);
  const shared = opt(a, 'activity');
  for (const s of specs) {
    if (s.activityPath === undefined && shared === undefined) {
      throw new UsageError(`plan --territories: territory "${s.name}" has no scout: give the shared scout with --activity SCOUT, or "activity" in its entry of ${file}`);
    }
    if (s.activityPath !== undefined) checkInputPath(s.activityPath, `territory "${s.name}" scout`, { allowFolder: true });
  }
  const prescribe = (opt(a, 'prescribe') ?? 'partition').trim().toLowerCase();
  if (prescribe !== 'partition' && prescribe !== 'voxel') {
    throw new UsageError(`plan --territories: --prescribe ${opt(a, 'prescribe')}: a territory plan prescribes on partition or voxel (MIRD and BSA give one activity for one volume)`);
  }
  const tumorBasis = opt(a, 'tumor-basis') ?? 'every-lesion';
  if (tumorBasis !== 'every-lesion' && tumorBasis !== 'mean') throw new UsageError(`plan: --tumor-basis must be every-lesion or mean, got "${tumorBasis}"`);
  const overrides = {
    tumorGy: limitOpt(a, 'tumor-gy'),
    normalLiverGy: limitOpt(a, 'normal-liver-gy'),
    wholeNormalLiverGy: limitOpt(a, 'whole-normal-liver-gy'),
    lungGy: limitOpt(a, 'lung-gy'),
    lungCumulativeGy: limitOpt(a, 'lung-cumulative-gy'),
  };
  // "--lung-gy none" drops the lung limit entirely: the cumulative one too, unless it was given (as plan does).
  if (overrides.lungGy === null && overrides.lungCumulativeGy === undefined) overrides.lungCumulativeGy = null;
  const priorLungGy = numberOpt(a, 'prior-lung-gy', 'plan');
  const lungMassG = numberOpt(a, 'lung-mass-g', 'plan');
  // The vial orders, one per territory: the calibration rules and usable windows are checked per device before any
  // image is read (swapped or mistyped times, resin without its label time).
  const catalogue = catalogueFromArgs(a);
  const times = territoryTimes(a, specs, catalogue);
  const txTime = times.get(specs[0].device)?.treatmentTime;
  const residualFraction = numberOpt(a, 'residual-fraction', 'plan');
  // the prescribed activity carried to the calibration time (report.json plan.territories[].calibration)
  const calibrationOf = (device: TerritorySpec['device'], activityGBq: number): OrderedActivity | null => {
    const t = times.get(device);
    return t?.calibrationTime && t.treatmentTime && activityGBq > 0
      ? orderActivity({ device, activityGBq, calibrationTime: t.calibrationTime, treatmentTime: t.treatmentTime, residualFraction, catalogue })
      : null;
  };
  // The 166Ho scout: every territory ho166, on the shared scout (whose image is the scout's own distribution).
  const scoutWarnings: string[] = [];
  let scoutGBq: number | undefined;
  if (opt(a, 'scout-gbq') !== undefined) {
    const other = specs.filter((s) => s.device !== 'ho166');
    if (other.length) {
      throw new UsageError(
        `plan --territories: --scout-gbq is the activity of a 166Ho scout of the same microspheres, which only a plan where every territory is ho166 has; ${other.length > 1 ? 'territories' : 'territory'} ${named(other)} ${other.length > 1 ? 'are' : 'is'} ${[...new Set(other.map((s) => s.device))].join('/')}, planned on a 99mTc-MAA scout that gives no therapeutic dose: leave --scout-gbq out`,
      );
    }
    const own = specs.filter((s) => s.activityPath !== undefined);
    if (own.length) {
      throw new UsageError(
        `plan --territories: --scout-gbq is the activity of the shared 166Ho scout (--activity), whose image gives the scout's own dose; ${own.length > 1 ? 'territories' : 'territory'} ${named(own)} ${own.length > 1 ? 'have their' : 'has its'} own scout image ("activity" in ${file}), whose share of the scout activity is unknown: plan every territory on the shared scout, or leave --scout-gbq out`,
      );
    }
    const scout = scoutFromArgs(a, 'ho166', catalogue);
    scoutGBq = scout.activityGBq;
    scoutWarnings.push(...scout.warnings);
  }
  // BED/EUD: from the combined dose map when every territory has the same isotope (as plan does for its one).
  const isotopesOf = [...new Set(specs.map((s) => DEVICE_PRESETS[s.device].isotope))];
  const rbGiven = RADIOBIOLOGY_OPTIONS.filter((o) => opt(a, o) !== undefined);
  if (isotopesOf.length > 1 && rbGiven.length) {
    throw new UsageError(
      `plan --territories: --${rbGiven[0]}: the territories use ${isotopesOf.join(' and ')} (${specs.map((s) => `"${s.name}" ${s.device}`).join(', ')}): a dose summed from two isotopes has no single BED model (the repair during each isotope's decay differs), so BED and EUD are computed only when every territory has the same isotope; leave the radiobiology options out`,
    );
  }
  const radiobiology = radiobiologyFromArgs(a);

  const outDir = requireOpt(a, 'out', 'plan');
  const ownPaths = specs.flatMap((s) => (s.activityPath ? [s.activityPath] : []));
  claimed.out = claimOutputDir(outDir, { command: 'plan', inputs: [...caseInputPaths(a), file, ...ownPaths], argv });
  const quiet = a.flags.has('quiet') || a.flags.has('json');
  const progress = progressReporter(quiet);

  // The reference image: the shared scout, else the first territory's own. Its grid is the plan's.
  const refPath = shared ?? specs.find((s) => s.activityPath)!.activityPath!;
  const values = new Map(a.values);
  values.set('activity', [refPath]);
  values.set('isotope', [DEVICE_PRESETS[specs[0].device].isotope]);
  values.set('activity-unit', ['counts']);
  values.set('administered-gbq', ['1']);
  const { options, inputs, parameters, inputWarnings, rtDose } = await doseCaseFromArgs({ ...a, values }, 'plan', progress);
  const earlyWarnings: string[] = [...scoutWarnings, ...inputWarnings];
  const grid = options.activity.geometry;
  const territories: TerritoryScoutInput[] = [];
  const scoutCache = new Map<string, Volume>([[refPath, options.activity]]);
  for (const spec of specs) {
    if (spec.activityPath === undefined) {
      territories.push({ spec });
      continue;
    }
    let v = scoutCache.get(spec.activityPath);
    if (!v) {
      progress(`reading territory "${spec.name}" scout ${spec.activityPath}`);
      v = (await readImage(spec.activityPath, `territory "${spec.name}" scout`, { modality: ['NM', 'PT', 'MR'] })).volume;
      if (v.geometry.dims.length !== 3) throw new UsageError(`territory "${spec.name}" scout ${spec.activityPath} must be 3-D`);
      if (!sameGrid(v.geometry, grid)) {
        if (!options.ct) {
          throw new GridError(
            `territory "${spec.name}": its scout ${spec.activityPath} is on another grid than ${refPath} (${describeGrid(v.geometry)}; plan grid: ${describeGrid(grid)}), and without a common CT (--ct) the scouts cannot be placed on one grid: give --ct FILE (the CT every scout is registered to) or resample the scouts onto one grid`,
          );
        }
        earlyWarnings.push(`territory "${spec.name}": its scout ${spec.activityPath} lies on another grid; its counts are brought onto the plan grid (${describeGrid(grid)}) by the volume-weighted mean over each voxel (both registered to the common CT)`);
        v = { geometry: grid, data: meanOverVoxels(v, grid).mean };
      }
      scoutCache.set(spec.activityPath, v);
    }
    territories.push({ spec, ownScout: v });
  }
  if (shared !== undefined && territories.every((t) => t.ownScout)) earlyWarnings.push(`every territory has its own scout: the shared scout ${shared} (--activity) only sets the plan grid`);

  const tc = await computeTerritoryCases({ base: options, sharedScout: shared !== undefined, territories, lungMassG, onProgress: progress });
  // a 166Ho scout's own lung dose counts toward the cumulative lung limit, as a prior lung dose (as plan does)
  const scoutLungGy = scoutGBq === undefined ? 0 : territoryScoutLungGy(tc, scoutGBq);
  const prob = territoryProblem(tc, { prescribe, tumorBasis, overrides, priorLungGy: scoutGBq === undefined ? priorLungGy : (priorLungGy ?? 0) + scoutLungGy });
  progress(`optimising ${specs.length} activities (HiGHS)`);
  const opt_ = await optimiseTerritories(prob.problem);
  const activities = opt_.territories.map((t) => t.activityGBq);
  progress('combined dose at the planned activities');
  const combined = await combineTerritoryCases(tc.reference, tc.cases, activities);

  // Warnings: the plan's (targets not reached, contraindications, territories left at 0), then the cases'.
  const planWarnings: string[] = [...prob.warnings];
  const contraindications = tc.cases
    .filter((c, t) => c.spec.device === 'resin' && activities[t] > 0 && bsaLsfReduction(c.lungShuntFraction) === 1)
    .map((c) => `territory "${c.spec.name}": lung shunt fraction ${(100 * c.lungShuntFraction).toFixed(1)} % is above 20 %: a contraindication for resin microspheres (SIR-Spheres IFU)`);
  planWarnings.unshift(...contraindications.map((x) => `CONTRAINDICATED: ${x}`));
  for (const c of opt_.coverage) {
    if (!c.reached) planWarnings.push(`${c.kind === 'perfused' ? 'perfused target' : 'tumour'} underdosed: "${c.structure}" gets ${c.doseGy.toPrecision(4)} Gy, below its ${c.targetGy} Gy target (of territory "${c.targetOf}"): the limits allow no more (${opt_.limitingConstraints.filter((x) => !x.startsWith('tumor:') && !x.startsWith('perfused-target:')).join(', ') || 'no coverage from any territory'})`);
  }
  opt_.territories.forEach((t) => {
    if (!t.fixed && t.activityGBq < 1e-9) planWarnings.push(`territory "${t.name}" gets 0 GBq: no target of the plan needs it (no lesion target and no perfusedTargetGy of its own); fix its activity by hand ("activityGBq") if it is to be treated`);
  });
  // The vials (with --treatment-time): one order per territory within the limits, and the plan at what they deliver.
  const calibrations = tc.cases.map((c, t) => calibrationOf(c.spec.device, activities[t]));
  calibrations.forEach((o, t) => planWarnings.push(...(o?.warnings ?? []).map((w) => `territory "${tc.cases[t].spec.name}": ${w}`)));
  const vials = txTime
    ? orderTerritoryVials({ cases: tc, problem: prob.problem, activitiesGBq: activities, treatmentTime: txTime, calibrationTime: times.get(specs[0].device)?.givenCalibrationTime, residualFraction, catalogue })
    : undefined;
  planWarnings.push(...(vials?.warnings ?? []));
  const scoutJson = scoutGBq === undefined ? null : territoryScoutDoses({ cases: tc, combined, scoutActivityGBq: scoutGBq, activitiesGBq: activities, priorLungGy });
  const result = { ...combined, warnings: [...new Set([...planWarnings, ...earlyWarnings, ...tc.warnings])] };

  // --method mc: each run's standard error of the mean dose per GBq (the combination's inputs, src/plan/territory-mc.ts)
  const reportedStructures = (c: (typeof tc.cases)[number]) =>
    c.result.structures.map((s) => ({ name: s.name, meanGyPerGBq: s.meanGy, ...(c.result.mc ? { meanGyPerGBqStdErr: num(s.uncertainty?.meanGy ?? NaN), meanGyRelStdErr: num(s.meanGyRelStdErr ?? NaN) } : {}) }));
  const uncertaintyPath = (slug: string) => `territories/${slug}.${MC_UNCERTAINTY_FILE}`;
  const mapPath = (slug: string) => `territories/${slug}.dose_per_gbq.nii.gz`;
  const territoryJson = tc.cases.map((c, t) => {
    const r = opt_.territories[t];
    return {
      name: c.spec.name,
      slug: c.spec.slug,
      device: c.spec.device,
      isotope: c.isotope,
      perfused: c.spec.perfused,
      scout: c.scout,
      activityGBq: r.activityGBq,
      activitySource: r.fixed ? 'fixed by hand (territories file)' : 'optimised',
      maxAllowedActivityGBq: r.maxAllowedActivityGBq,
      limitingConstraints: r.limitingConstraints,
      targets: prob.targets[t],
      lungShuntFraction: c.lungShuntFraction,
      lungShuntFractionSource: c.lungShuntFractionSource,
      lungGyPerGBq: c.compartments.lungGyPerGBq,
      doseMapPerGBq: mapPath(c.spec.slug),
      ...(c.result.mc ? { doseUncertainty: uncertaintyPath(c.spec.slug) } : {}),
      structures: reportedStructures(c),
      // every target and limit of the plan: this territory's dose per GBq (plan basis) and at its planned activity
      doses: [...opt_.coverage, ...opt_.limits].map((row) => ({ id: row.id, structure: row.structure, basis: 'basis' in row ? row.basis : prescribe, gyPerGBq: row.gyPerGBq[t], doseGy: row.gyPerGBq[t] * r.activityGBq, ...(c.result.mc ? { gyPerGBqStdErr: num(row.gyPerGBqStdErr?.[t] ?? NaN) } : {}) })),
      calibration: calibrations[t],
      order: vials?.orders[t] ?? null,
    };
  });
  const isotopes = [...new Set(tc.cases.map((c) => c.isotope))];
  // The report's roles: each territory's perfused structure is "perfused" (the reference case knows none of them).
  const perfusedNames = new Set(specs.map((s) => s.perfused));
  result.structures = result.structures.map((s) => (s.role === 'other' && perfusedNames.has(s.name) ? { ...s, role: 'perfused' as const } : s));
  // BED and EUD of the combined dose map, as plan computes them for its one (one isotope: one decay, one BED model)
  const rb = isotopes.length === 1 ? structureRadiobiology(result, isotopes[0], radiobiology) : null;
  const planJson = {
    mode: 'territories',
    activityGBq: opt_.objective.totalActivityGBq,
    limitingConstraint: opt_.limitingConstraints.join(', ') || null,
    limitingConstraints: opt_.limitingConstraints,
    prescribe,
    tumorBasis,
    objective: opt_.objective,
    tumorTargetReached: opt_.coverage.every((c) => c.reached),
    contraindicated: contraindications.length > 0,
    contraindications,
    territories: territoryJson,
    coverage: opt_.coverage,
    constraints: opt_.limits.map((l) => ({ name: `${l.id} (${l.basis})`, ...l })),
    targets: { ...prob.planLimits, tumorBasis },
    scouts: tc.scouts,
    lungMassG: tc.cases[0].compartments.lungMassG,
    lungMassSource: tc.cases[0].compartments.lungMassSource,
    referenceActivityGBq: 1,
    delivered: vials?.delivered ?? null,
    scout: scoutJson,
    radiobiology: rb
      ? radiobiologyJson(radiobiology, rb)
      : { note: `no BED or EUD: the territories use ${isotopes.join(' and ')}, and a dose summed from two isotopes has no single BED model (the repair during each isotope's decay differs)` },
    warnings: planWarnings,
  };
  const report = buildReport(result, {
    isotope: isotopes.length === 1 ? isotopes[0] : isotopes.join('+'),
    method: options.method,
    inputs: [...inputs.map((i) => (i.path === refPath && shared === undefined ? { ...i, role: 'territory scout' } : i)), { role: 'territories', path: file }, ...ownPaths.filter((p) => p !== refPath).map((p) => ({ role: 'territory scout', path: p }))],
    parameters: {
      ...parameters,
      activityUnit: 'counts',
      administeredGBq: opt_.objective.totalActivityGBq,
      isotope: isotopes.length === 1 ? isotopes[0] : isotopes,
      territories: file,
      prescribe,
      tumorBasis,
      overrides,
      priorLungGy: priorLungGy ?? 0,
      lungMassG: lungMassG ?? null,
    },
    extra: { plan: planJson },
  });
  if (rb) report.structures = (report.structures as ReportStructure[]).map((s, i) => ({ ...s, meanBedGy: rb[i].meanBedGy, eudGy: rb[i].eudGy, eubedGy: rb[i].eubedGy }));
  applyMcToReport(report, result); // --method mc: the combined uncertainties and the "mc" object with its runs
  const files: OutputFile[] = asOutputFiles(await caseOutputs(outDir, result, report, a.flags.has('rtdose'), { rtDose }));
  const { encodeNiftiAsync } = await import('../../io/index.ts');
  for (const c of tc.cases) {
    files.push({ name: mapPath(c.spec.slug), data: await encodeNiftiAsync(c.result.dose, { description: 'absorbed dose per GBq administered to the territory [Gy/GBq]' }) });
    if (c.result.mc) files.push({ name: uncertaintyPath(c.spec.slug), data: await encodeNiftiAsync(c.result.mc.relStdErr, { description: 'MC dose rel. std. error (batch)' }) });
  }
  if (a.flags.has('report')) files.push(await (await import('../../report/index.ts')).reportPdfFile(files, { command: 'plan', report, result, ct: options.ct, identity: rtDose?.frameOfReference }));
  claimed.out.commit(files);
  progress.done();
  printWarnings(result.warnings);
  if (a.flags.has('json')) {
    process.stdout.write(JSON.stringify(report) + '\n');
    return 0;
  }
  process.stdout.write(textReport({ opt: opt_, tc, activities, calibrations, orders: vials?.orders ?? [], delivered: vials?.delivered, scout: scoutJson, prescribe, tumorBasis, method: options.method, backend: result.backend, report, outDir, warnings: result.warnings.length, mc: result.mc }) + '\n');
  return 0;
}

/** The plan at the delivered activities, for the terminal: every limit and target, broken ones flagged. */
function deliveredLines(d: DeliveredPlan, names: readonly string[]): string[] {
  return [
    '',
    `at the delivered activities (${names.map((n, t) => `"${n}" ${d.activitiesGBq[t].toFixed(3)}`).join(', ')} GBq; total ${d.totalActivityGBq.toFixed(3)} GBq): ${d.withinLimits ? 'every limit kept' : 'a limit BROKEN'}, ${d.tumorTargetReached ? 'every target reached' : 'a target NOT reached'}`,
    table(
      ['constraint', 'basis', 'limit Gy', 'value Gy', 'slack Gy', ''],
      d.constraints.map((l) => [l.id, l.basis, fmt(l.limitGy), `${fmt(l.valueGy, 2)}${l.valueGyStdErr != null ? ` ± ${fmt(l.valueGyStdErr, 2)}` : ''}`, fmt(l.slackGy, 2), [l.broken ? 'BROKEN' : '', l.flag ?? ''].filter(Boolean).join(', ')]),
      2,
    ),
    ...(d.coverage.length ? [table(['target', 'target Gy', 'dose Gy', 'D/T', ''], d.coverage.map((c) => [c.id, fmt(c.targetGy), `${fmt(c.doseGy, 2)}${c.doseGyStdErr != null ? ` ± ${fmt(c.doseGyStdErr, 2)}` : ''}`, fmt(c.fraction, 4), [c.reached ? '' : 'NOT REACHED', c.flag ?? ''].filter(Boolean).join(', ')]), 1)] : []),
  ];
}

/** The terminal output: one table per territory, the constraint table, the structures at the planned activities. */
function textReport(x: {
  opt: TerritoryOptimum; tc: Awaited<ReturnType<typeof computeTerritoryCases>>; activities: number[]; calibrations: Array<OrderedActivity | null>;
  orders: ReadonlyArray<TerritoryOrderJson | null>; delivered: DeliveredPlan | undefined; scout: TerritoryScoutDoses | null;
  prescribe: string; tumorBasis: string; method: string; backend: string; report: Record<string, unknown>; outDir: string; warnings: number;
  mc?: DoseCaseResult['mc'];
}): string {
  const { opt: o, tc } = x;
  const lines: string[] = [
    `${tc.cases.length} territories: ${x.method.toUpperCase()} on the ${x.backend} back end; coverage on the ${x.prescribe} basis (${x.tumorBasis})`,
    `objective: worst coverage ${fmt(o.objective.minCoverage, 4)}, summed coverage ${fmt(o.objective.coverageSum, 4)} of ${o.coverage.length}, total activity ${o.objective.totalActivityGBq.toFixed(3)} GBq`,
    `limited by ${o.limitingConstraints.join(', ') || 'nothing (every target reached below every limit)'}`,
  ];
  const rows = [...o.coverage, ...o.limits];
  tc.cases.forEach((c, t) => {
    const r = o.territories[t];
    const cal = x.calibrations[t];
    lines.push(
      '',
      `territory "${c.spec.name}" (${DEVICE_PRESETS[c.spec.device].description}; ${c.scout === 'shared' ? 'shared scout' : `own scout ${c.scout}`}; perfused "${c.spec.perfused}"; LSF ${(100 * c.lungShuntFraction).toFixed(1)} % ${c.lungShuntFractionSource}):`,
      `  ${r.activityGBq.toFixed(3)} GBq ${r.fixed ? 'fixed by hand' : 'optimised'}${r.maxAllowedActivityGBq !== null ? ` (at most ${r.maxAllowedActivityGBq.toFixed(3)} GBq with the others as planned)` : ''}, limited by ${r.limitingConstraints.join(', ') || '-'}`,
      ...(cal ? [`  order ${cal.calibrationActivityGBq.toFixed(3)} GBq at calibration ${cal.calibrationTime} (decay factor ${cal.decayFactor.toFixed(4)} to ${cal.treatmentTime})`] : []),
      ...orderLines(x.orders[t] ?? null, null).map((l) => `  ${l}`),
      ...(x.orders[t]?.maxAllowedNote ? [`    vial limit: ${x.orders[t]!.maxAllowedNote}`] : []),
      table(
        ['structure', 'row', 'Gy/GBq', 'from it Gy', 'all Gy', 'target/limit Gy'],
        rows.filter((row) => 'basis' in row ? row.basis !== 'voxel' || x.prescribe === 'voxel' : true).map((row) => [
          row.structure,
          row.id.split(':')[0],
          fmt(row.gyPerGBq[t], 2),
          fmt(row.gyPerGBq[t] * x.activities[t]),
          fmt('doseGy' in row ? row.doseGy : row.valueGy),
          'targetGy' in row ? `>= ${row.targetGy}` : `<= ${row.limitGy}`,
        ]),
        2,
      ),
    );
  });
  lines.push(
    '',
    'constraints (every limit; * binding):',
    table(
      ['constraint', 'basis', 'limit Gy', 'value Gy', 'slack Gy', 'slack %', ''],
      o.limits.map((l) => [l.id, l.basis, fmt(l.limitGy), fmt(l.valueGy, 2), fmt(l.slackGy, 2), fmt(l.slackPercent, 1), l.binding ? '*' : '']),
      2,
    ),
    ...(o.coverage.length
      ? ['', 'targets (coverage = min(1, D/T); * exactly at target):', table(['target', 'of territory', 'target Gy', 'dose Gy', 'D/T', ''], o.coverage.map((c) => [c.id, c.targetOf, fmt(c.targetGy), fmt(c.doseGy, 2), fmt(c.fraction, 4), c.binding ? '*' : c.reached ? '' : 'NOT REACHED']), 2)]
      : []),
    ...(x.delivered ? deliveredLines(x.delivered, x.tc.cases.map((c) => c.spec.name)) : []),
    ...(x.scout
      ? ['', `166Ho scout ${x.scout.activityGBq} GBq (shared scout, LSF ${(100 * x.scout.lungShuntFraction).toFixed(1)} %): its own dose: whole normal liver ${x.scout.compartments.wholeNormalLiverGy.toFixed(2)} Gy, lung ${x.scout.compartments.lungGy.toFixed(2)} Gy (counted toward the cumulative lung limit); cumulative with the treatment: whole normal liver ${x.scout.cumulative.wholeNormalLiverGy.toFixed(1)} Gy, lung ${x.scout.cumulative.lungGy.toFixed(1)} Gy`]
      : []),
    '',
    structuresTable(x.report as { structures: ReportStructure[] }),
    '',
    ...(x.warnings ? [`${x.warnings} warning${x.warnings > 1 ? 's' : ''} on stderr and in report.json`] : []),
    ...(x.mc
      ? [`Monte Carlo: ${x.mc.combination?.runs.length ?? 1} independent runs (one per territory, seed ${x.mc.provenance.seed}), ${x.mc.provenance.histories} histories in all, ${x.mc.provenance.historiesPerSecond} histories/s; meanGyRelStdErr in report.json and structures.csv`]
      : []),
    `wrote ${join(x.outDir, 'dose.nii.gz')}${x.mc ? `, ${MC_UNCERTAINTY_FILE}` : ''}, report.json, structures.csv, structures.seg.nrrd, territories/*.dose_per_gbq.nii.gz${x.mc ? `, territories/*.${MC_UNCERTAINTY_FILE}` : ''}`,
  );
  return lines.join('\n');
}
