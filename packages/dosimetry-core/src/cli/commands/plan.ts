/**
 * `dosimetry plan`: image-based treatment planning from a scout SPECT in counts (../shared/CONTRACT.md, "plan and
 * compare"). Takes the `dose` inputs plus --device; computes the case at a reference activity of 1 GBq, derives T/N,
 * LSF, masses and every method's activity (src/plan/image.ts), then writes the same outputs as `dose` at the
 * prescribed activity, with a `plan` object and BED/EUD per structure added to report.json. Everything is computed
 * before anything is written: an error leaves no output.
 */
import { progressReporter } from '../progress.ts';
import { join } from 'node:path';
import { UsageError } from '../../errors.ts';
import { computeDoseCase } from '../../dose/pipeline.ts';
import { buildReport, structuresTable, type ReportStructure } from '../../dose/report.ts';
import { asOutputFiles, claimOutputDir, type OutputSet } from '../../io/output-set.ts';
import { DEVICE_PRESETS, parseDevice, type DeviceOverrides } from '../../plan/devices.ts';
import {
  caseCompartments, parsePlanMethod, planFromCase, scaleDoseCase, structureRadiobiology, DEFAULT_MIRD_GY,
  DEFAULT_PRESCRIPTION, PLAN_METHODS, REFERENCE_ACTIVITY_GBQ, type ImagePlan,
} from '../../plan/image.ts';
import { checkPlausibleBsaM2, checkPlausibleHeightCm, checkPlausibleWeightKg, PLAUSIBLE_HEIGHT_CM, PLAUSIBLE_WEIGHT_KG } from '../../plan/models.ts';
import { orderActivity } from '../../plan/order.ts';
import { ZONED_TIME_EXAMPLE } from '../../plan/time.ts'; // times: ./plan-order.ts
import { parseIsotope } from '../../units/index.ts';
import { numberOpt, opt, parseArgs, requireOpt, type OptionSpec, type ParsedArgs } from '../args.ts';
import { DOSE_OPTIONS, caseInputPaths, caseOutputs, doseCaseFromArgs, storeAndSay } from './dose.ts';
import { checkStorableIdentity, parseStoreSpec } from '../../dicomweb/store.ts';
import {
  catalogueFromArgs, orderLines, planOrder, planScout, planTimesFromArgs, priorLungWithScout, scoutCase, scoutFromArgs,
  PLAN_ORDER_HELP, PLAN_ORDER_OPTIONS,
} from './plan-order.ts';
import { radiobiologyFromArgs, radiobiologyJson } from './plan-radiobiology.ts';
import { applyMcToReport } from './dose-mc.ts';

/** Options of `plan` (exported for `batch`, which checks each manifest row before running any). */
export const OPTIONS: Record<string, OptionSpec> = {
  ...DOSE_OPTIONS,
  device: { type: 'string' },
  prescribe: { type: 'string' },
  'tumor-gy': { type: 'string' },
  'normal-liver-gy': { type: 'string' },
  'whole-normal-liver-gy': { type: 'string' },
  'lung-gy': { type: 'string' },
  'lung-cumulative-gy': { type: 'string' },
  'prior-lung-gy': { type: 'string' },
  'lung-mass-g': { type: 'string' },
  'tumor-basis': { type: 'string' },
  'mird-gy': { type: 'string' },
  'bsa-m2': { type: 'string' },
  'height-cm': { type: 'string' },
  'weight-kg': { type: 'string' },
  'treatment-time': { type: 'string' },
  'calibration-time': { type: 'string' },
  'residual-fraction': { type: 'string' },
  'tumor-alpha-beta-gy': { type: 'string' },
  'tumor-repair-half-time-h': { type: 'string' },
  'normal-alpha-beta-gy': { type: 'string' },
  'normal-repair-half-time-h': { type: 'string' },
  'eud-alpha-per-gy': { type: 'string' },
  ...PLAN_ORDER_OPTIONS,
  territories: { type: 'string' }, // several territories, one activity each: ./plan-territories.ts
};

const HELP = `usage: pnpm -s dosimetry plan --device glass|resin|ho166
  --activity SCOUT [--activity-unit counts] --segmentation FILE [--labels ...] (repeatable)
  --liver NAME --tumor NAME [--tumor NAME ...] [--lung NAME] [--perfused NAME] [--normalize-to NAME]
  [--lung-shunt-fraction F] [--ct FILE] [--split-lesions] [--method ldm|dvk|mc] [--density 1.05] [--lung-density 0.30]
  [--mc-histories N | --mc-target-uncertainty P [--mc-max-histories N]] [--seed S]   Monte Carlo: see dose --help
  [--backend auto|webgpu|cpu] [--rtdose] [--report] --out DIR [--json] [--quiet]   (--report: also DIR/report.pdf)
  [--seg-dicom [--seg-dicom-type auto|binary|fractional]]   also DIR/structures.seg.dcm (DICOM SEG; see dose --help)
  [--store dicomweb:BASE_URL] [--study UID --dicomweb BASE_URL]   DICOMweb in and out, as for dose (dose --help)
several territories (catheter positions), one activity each, optimised together: --territories FILE.json
  (see plan --territories FILE --help)
targets and limits [Gy] (device defaults, EANM 2022; "none" removes one):
  [--tumor-gy DT] [--normal-liver-gy DN] [--whole-normal-liver-gy DWN] [--lung-gy DL] [--lung-cumulative-gy 50]
  [--prior-lung-gy 0] [--lung-mass-g M] [--tumor-basis every-lesion|mean] [--mird-gy D]
  [--prescribe mird|bsa|partition|voxel]   default: partition (glass, resin), mird = 166Ho standard (ho166)
BSA method (resin): [--bsa-m2 B | --height-cm H --weight-kg W]   (adults: ${PLAUSIBLE_HEIGHT_CM[0]}-${PLAUSIBLE_HEIGHT_CM[1]} cm, ${PLAUSIBLE_WEIGHT_KG[0]}-${PLAUSIBLE_WEIGHT_KG[1]} kg)
activity to order: --treatment-time T [--calibration-time T] [--residual-fraction 0]
  T: ISO 8601 with its zone, e.g. ${ZONED_TIME_EXAMPLE}; treatment before calibration is refused
  (resin: accepted up to 24 h before, with a warning), as is one after the device's usable window
${PLAN_ORDER_HELP}
With --perfused and without --normalize-to, the scout counts are normalised to the perfused volume (it receives
A (1 - LSF)), not to the whole liver. Warnings go to stderr ("warning: ...") and to report.json "warnings".
radiobiology: [--tumor-alpha-beta-gy 10] [--tumor-repair-half-time-h 1.5] [--normal-alpha-beta-gy 2.5]
  [--normal-repair-half-time-h 2.5] [--eud-alpha-per-gy ALPHA]   (EUD only with alpha: no default)
The scout is computed at ${REFERENCE_ACTIVITY_GBQ} GBq administered and scaled (dose is linear in activity); outputs
(dose.nii.gz, report.json with "plan", structures.csv, structures.seg.nrrd) are at the prescribed activity.`;

/** A target/limit option: a number [Gy], "none" (removes it) or absent (device default). */
export function limitOpt(a: ParsedArgs, name: string): number | null | undefined {
  const v = opt(a, name);
  if (v === undefined) return undefined;
  if (v.trim().toLowerCase() === 'none') return null;
  return numberOpt(a, name, 'plan');
}

const fmt = (x: number | null | undefined, digits = 1) => (x === null || x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(digits));

/** Side-by-side table of the methods with the predicted doses at each activity. */
export function planTable(plan: ImagePlan): string {
  const first = plan.methods.voxel.predicted!;
  const head = ['method', 'A GBq', ...first.lesions.map((l) => l.name), 'all tumour', 'perf. normal', 'whole normal', 'lung', 'binds', 'limits'];
  const rows = PLAN_METHODS.map((m) => {
    const r = plan.methods[m];
    const p = r.predicted;
    return [
      `${m}${m === plan.prescribedMethod ? ' *' : ''}`,
      r.activityGBq === null ? (r.applicable ? 'n/c' : 'n/a') : r.activityGBq.toFixed(3),
      ...first.lesions.map((_, i) => fmt(p?.lesions[i].meanGy)),
      fmt(p?.allTumorGy), fmt(p?.perfusedNormalLiverGy), fmt(p?.wholeNormalLiverGy), fmt(p?.lungGy),
      r.limitingConstraint ?? '-',
      r.activityGBq === null ? '-' : r.violations.length ? 'BROKEN' : 'ok',
    ];
  });
  const w = head.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
  const line = (r: string[]) => r.map((x, c) => (c === 0 || c >= r.length - 2 ? x.padEnd(w[c]) : x.padStart(w[c]))).join('  ');
  return [line(head), w.map((n) => '-'.repeat(n)).join('  '), ...rows.map(line)].join('\n');
}

export async function run(argv: string[]): Promise<number> {
  // --territories FILE.json: several perfused territories, one activity each, optimised together
  if (argv.some((x) => x === '--territories' || x.startsWith('--territories='))) return (await import('./plan-territories.ts')).run(argv);
  // the output folder is claimed (checked and locked) once --out is known, and released however the run ends
  const claimed: { out?: OutputSet } = {};
  try {
    return await runPlan(argv, claimed);
  } finally {
    claimed.out?.release();
  }
}

async function runPlan(argv: string[], claimed: { out?: OutputSet }): Promise<number> {
  const a = parseArgs(argv, OPTIONS, 'plan');
  if (a.flags.has('help')) {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  if (a.positionals.length) throw new UsageError(`plan: unexpected argument "${a.positionals[0]}" (options start with --)`);
  const device = parseDevice(requireOpt(a, 'device', 'plan'));
  const isotope = DEVICE_PRESETS[device].isotope;
  const isoText = opt(a, 'isotope');
  if (isoText !== undefined && parseIsotope(isoText) !== isotope) {
    throw new UsageError(`plan: --isotope ${isoText} contradicts --device ${device} (${isotope}); leave --isotope out`);
  }
  const catalogue = catalogueFromArgs(a);
  const scout = scoutFromArgs(a, device, catalogue); // counts, or a quantitative 166Ho scout (Bq/mL, --scout-gbq)
  if (opt(a, 'residual-gbq') !== undefined) {
    throw new UsageError('plan: --residual-gbq is the waste measured after a treatment: give it to dose with --administered-gbq; plan takes the expected share as --residual-fraction');
  }
  if (opt(a, 'recovery-coefficients') !== undefined || opt(a, 'pvc-deconvolve-fwhm-mm') !== undefined) {
    throw new UsageError('plan: partial-volume correction (--recovery-coefficients, --pvc-deconvolve-fwhm-mm) applies to dose: run dose with it on the scout or post-treatment image to see the corrected lesion doses');
  }
  if (opt(a, 'administered-gbq') !== undefined) {
    throw new UsageError('plan: --administered-gbq is not an input of plan: the plan computes the activity (use dose to compute a given activity)');
  }
  const outDir = requireOpt(a, 'out', 'plan');
  if (opt(a, 'store') !== undefined) {
    parseStoreSpec(opt(a, 'store')!, 'plan');
    a.flags.add('rtdose'); // --store sends the RT Dose: implied
  }
  claimed.out = claimOutputDir(outDir, { command: 'plan', inputs: caseInputPaths(a), argv });
  const prescribe = opt(a, 'prescribe') === undefined ? undefined : parsePlanMethod(opt(a, 'prescribe')!);
  const basis = opt(a, 'tumor-basis') ?? 'every-lesion';
  if (basis !== 'every-lesion' && basis !== 'mean') throw new UsageError(`plan: --tumor-basis must be every-lesion or mean, got "${basis}"`);
  const overrides: DeviceOverrides = {
    tumorGy: limitOpt(a, 'tumor-gy'),
    normalLiverGy: limitOpt(a, 'normal-liver-gy'),
    wholeNormalLiverGy: limitOpt(a, 'whole-normal-liver-gy'),
    lungGy: limitOpt(a, 'lung-gy'),
    lungCumulativeGy: limitOpt(a, 'lung-cumulative-gy'),
  };
  // "--lung-gy none" drops the lung limit entirely: the cumulative one too, unless it was given.
  const lungOff = overrides.lungGy === null && overrides.lungCumulativeGy === undefined;
  const heightCm = numberOpt(a, 'height-cm', 'plan');
  const weightKg = numberOpt(a, 'weight-kg', 'plan');
  const bsaM2 = numberOpt(a, 'bsa-m2', 'plan');
  if ((heightCm === undefined) !== (weightKg === undefined)) throw new UsageError('plan: give both --height-cm and --weight-kg (or --bsa-m2)');
  if (heightCm !== undefined && heightCm < 3) throw new UsageError(`plan: --height-cm ${heightCm} looks like metres: give the height in centimetres (e.g. 175)`);
  if (heightCm !== undefined) checkPlausibleHeightCm(heightCm, 'plan: --height-cm');
  if (weightKg !== undefined) checkPlausibleWeightKg(weightKg, 'plan: --weight-kg');
  if (bsaM2 !== undefined) checkPlausibleBsaM2(bsaM2, 'plan: --bsa-m2');
  const earlyWarnings: string[] = [];
  if (device !== 'resin' && (heightCm !== undefined || bsaM2 !== undefined)) {
    earlyWarnings.push(`--height-cm, --weight-kg and --bsa-m2 serve the BSA method, which applies to resin only: ignored for ${device}`);
  }
  // The times, the calibration rule and the usable window (swapped or mistyped times) are checked now, before any
  // image is read; calTime is the given calibration or the device's (glass: weekly schedule; ho166: treatment time).
  const times = planTimesFromArgs(a, device, catalogue);
  const { calibrationTime: calTime, treatmentTime: txTime, residualFraction } = times;
  earlyWarnings.push(...scout.warnings);
  const radiobiology = radiobiologyFromArgs(a);

  const quiet = a.flags.has('quiet') || a.flags.has('json');
  const progress = progressReporter(quiet);
  // The dose inputs, at the reference activity, for the device's isotope.
  const values = new Map(a.values);
  values.set('isotope', [isotope]);
  values.set('activity-unit', [scout.unit]);
  if (scout.unit === 'counts') values.set('administered-gbq', [String(REFERENCE_ACTIVITY_GBQ)]);
  const referenceGBq = scout.referenceActivityGBq; // counts: 1 GBq; a quantitative 166Ho scout: its own A_s
  // Lobar / selective treatment: the activity goes into the perfused territory, so its counts carry A (1 - LSF)
  // (the whole liver's would spread A over tissue the catheter does not feed and underdose the treated volume).
  const perfusedName = opt(a, 'perfused');
  const normalizeGiven = opt(a, 'normalize-to');
  const normalization = scout.unit === 'bq-per-ml'
    ? { structure: null, source: 'quantitative 166Ho scout in Bq/mL: not normalised, scaled by A_treatment / A_scout' }
    : normalizeGiven !== undefined
    ? { structure: normalizeGiven, source: 'given (--normalize-to)' }
    : perfusedName !== undefined
      ? { structure: perfusedName, source: 'perfused volume (--perfused): lobar/selective treatment' }
      : { structure: requireOpt(a, 'liver', 'plan'), source: 'liver (--liver): whole-liver treatment' };
  if (normalizeGiven === undefined && perfusedName !== undefined && scout.unit === 'counts') {
    values.set('normalize-to', [perfusedName]);
    earlyWarnings.push(`scout counts normalised to the perfused volume "${perfusedName}" (it receives A (1 - LSF)), not to the whole liver: give --normalize-to NAME to choose another structure`);
  }
  const { options, inputs, parameters, inputWarnings, rtDose, segDicom } = await doseCaseFromArgs({ ...a, values }, 'plan', progress);
  if (opt(a, 'store') !== undefined) checkStorableIdentity(rtDose?.frameOfReference, 'plan'); // before any work
  progress(`scout case at ${referenceGBq} GBq administered`);
  const unitCase = scoutCase(await computeDoseCase(options), scout);
  unitCase.warnings.unshift(...earlyWarnings, ...inputWarnings);
  const compartments = caseCompartments({ result: unitCase, isotope, referenceActivityGBq: referenceGBq, lungMassG: numberOpt(a, 'lung-mass-g', 'plan') });
  const plan = planFromCase({
    compartments,
    device,
    overrides: lungOff ? { ...overrides, lungCumulativeGy: null } : overrides,
    priorLungGy: priorLungWithScout(numberOpt(a, 'prior-lung-gy', 'plan'), compartments, scout), // + the 166Ho scout's lung dose
    tumorBasis: basis,
    mirdGy: numberOpt(a, 'mird-gy', 'plan'),
    bsa: { bsaM2, heightM: heightCm === undefined ? undefined : heightCm / 100, weightKg },
    prescribe,
  });
  const calibration = calTime && txTime
    ? orderActivity({ device, activityGBq: plan.activityGBq, calibrationTime: calTime, treatmentTime: txTime, residualFraction, catalogue })
    : null;
  const order = planOrder(plan, compartments, device, times, catalogue);
  const scoutJson = planScout(plan, unitCase, compartments, scout, numberOpt(a, 'prior-lung-gy', 'plan'));
  const planWarnings = [...new Set([...plan.warnings, ...(calibration?.warnings ?? []), ...(order?.warnings ?? [])])];
  progress(`prescribed ${plan.activityGBq.toFixed(4)} GBq (${plan.prescribedMethod}); dose map at that activity`);
  // report.json "warnings" holds every warning: the plan's first, then the dose case's.
  const result = { ...(await scaleDoseCase(unitCase, plan.activityGBq / referenceGBq)), warnings: [...planWarnings, ...unitCase.warnings] };
  // --method mc: the structures' standard errors at the prescribed activity (V-values at fixed thresholds do not scale)
  const mcStructures = result.mc ? await result.mc.rescaledStructures(plan.activityGBq / referenceGBq) : undefined;
  const rb = structureRadiobiology(result, isotope, radiobiology);

  const planJson = {
    activityGBq: plan.activityGBq,
    limitingConstraint: plan.limitingConstraint,
    prescribedMethod: plan.prescribedMethod,
    targetMet: plan.targetMet,
    tumorTargetReached: plan.tumorTargetReached,
    contraindicated: plan.contraindications.length > 0,
    contraindications: plan.contraindications,
    normalization,
    maxAllowedActivityGBq: plan.maxAllowedActivityGBq,
    device,
    isotope,
    targets: plan.targets,
    calibration,
    order,
    scout: scoutJson,
    referenceActivityGBq: referenceGBq,
    lungShuntFraction: compartments.lungShuntFraction,
    lungShuntFractionSource: compartments.lungShuntFractionSource,
    lungMassG: compartments.lungMassG,
    lungMassSource: compartments.lungMassSource,
    compartments: {
      lesions: compartments.lesions,
      allTumor: compartments.allTumor,
      perfusedNormalLiver: compartments.perfusedNormalLiver,
      wholeNormalLiver: compartments.wholeNormalLiver,
      treatedLiver: compartments.treatedLiver,
      liver: compartments.liver,
      lungGyPerGBq: compartments.lungGyPerGBq,
    },
    methods: plan.methods,
    predicted: plan.predicted,
    radiobiology: radiobiologyJson(radiobiology, rb),
    warnings: planWarnings,
  };
  const report = buildReport(result, {
    isotope,
    method: options.method,
    inputs,
    parameters: {
      ...parameters,
      administeredGBq: plan.activityGBq,
      device,
      prescribe: plan.prescribedMethod,
      tumorBasis: basis,
      mirdGy: plan.targets.mirdGy,
      defaults: { mirdGy: DEFAULT_MIRD_GY[device], prescribe: DEFAULT_PRESCRIPTION[device] },
    },
    extra: { plan: planJson },
  });
  const structures = report.structures as ReportStructure[];
  report.structures = structures.map((s, i) => ({ ...s, meanBedGy: rb[i].meanBedGy, eudGy: rb[i].eudGy, eubedGy: rb[i].eubedGy }));
  applyMcToReport(report, result, mcStructures);
  const files = await caseOutputs(outDir, result, report, a.flags.has('rtdose'), { rtDose, segDicom });
  if (a.flags.has('report')) files.push(await (await import('../../report/index.ts')).reportPdfFile(files, { command: 'plan', report, result, ct: options.ct, identity: rtDose?.frameOfReference }));
  claimed.out.commit(asOutputFiles(files));
  progress.done();
  // Warnings on stderr whatever the output mode (--json and --quiet included): they are never to be missed.
  if (result.warnings.length) process.stderr.write(result.warnings.map((w) => `warning: ${w}`).join('\n') + '\n');

  if (a.flags.has('json')) {
    process.stdout.write(JSON.stringify(report) + '\n');
    if (opt(a, 'store') !== undefined) await storeAndSay(a, 'plan', outDir, rtDose?.frameOfReference, progress);
    return 0;
  }
  const lines = [
    `${DEVICE_PRESETS[device].description}: ${options.method.toUpperCase()} on the ${result.backend} back end; LSF ${(100 * compartments.lungShuntFraction).toFixed(1)} % (${compartments.lungShuntFractionSource}), lung mass ${compartments.lungMassG.toFixed(0)} g (${compartments.lungMassSource})`,
    `targets: tumour ${fmt(plan.targets.tumorGy, 0)} Gy (${basis}), perfused normal liver < ${fmt(plan.targets.normalLiverGy, 0)} Gy, whole normal liver < ${fmt(plan.targets.wholeNormalLiverGy, 0)} Gy, lung < ${fmt(plan.targets.lungGy, 0)} Gy`,
    `T/N: ${compartments.lesions.map((l) => `${l.name} ${l.tnRatio!.toFixed(2)}`).join(', ')}${compartments.lesions.length > 1 ? `; all tumour ${compartments.allTumor.tnRatio!.toFixed(2)}` : ''}`,
    '',
    planTable(plan),
    '  (mean absorbed doses in Gy from the dose map at each activity; * prescribed; n/a not applicable; n/c not computed)',
    '',
    `prescribed ${plan.activityGBq.toFixed(3)} GBq (${plan.prescribedMethod}), limited by ${plan.limitingConstraint}${plan.targetMet === false ? ' (tumour target NOT met: best allowed plan)' : plan.tumorTargetReached === false ? ' (tumour target NOT reached)' : ''}${plan.contraindications.length ? ` - CONTRAINDICATED: ${plan.contraindications.join('; ')}` : ''}`,
    normalization.structure === null ? `scout: ${normalization.source}` : `scout counts normalised to "${normalization.structure}" (${normalization.source})`,
    ...(calibration ? [`order ${calibration.calibrationActivityGBq.toFixed(3)} GBq at calibration ${calibration.calibrationTime} (decay factor ${calibration.decayFactor.toFixed(4)} to ${calibration.treatmentTime})`] : []),
    ...orderLines(order, scoutJson),
    '',
    structuresTable(report as { structures: ReportStructure[] }),
    '',
    ...(result.warnings.length ? [`${result.warnings.length} warning${result.warnings.length > 1 ? 's' : ''} on stderr and in report.json`] : []),
    `wrote ${join(outDir, 'dose.nii.gz')}${result.mc ? ', dose_uncertainty.nii.gz' : ''}, report.json, structures.csv, structures.seg.nrrd${segDicom ? ', structures.seg.dcm' : ''}${a.flags.has('report') ? ', report.pdf' : ''}`,
  ];
  process.stdout.write(lines.join('\n') + '\n');
  if (opt(a, 'store') !== undefined) await storeAndSay(a, 'plan', outDir, rtDose?.frameOfReference, progress);
  return 0;
}
