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
import { writeFilesAtomic } from '../../io/atomic.ts';
import { DEVICE_PRESETS, parseDevice, type DeviceOverrides } from '../../plan/devices.ts';
import {
  caseCompartments, orderActivity, parsePlanMethod, planFromCase, scaleDoseCase, structureRadiobiology, DEFAULT_MIRD_GY,
  DEFAULT_PRESCRIPTION, PLAN_METHODS, REFERENCE_ACTIVITY_GBQ, type ImagePlan,
} from '../../plan/image.ts';
import { NORMAL_LIVER_LQ, TUMOR_LQ } from '../../plan/radiobiology.ts';
import { parseIsotope } from '../../units/index.ts';
import { numberOpt, opt, parseArgs, requireOpt, type OptionSpec, type ParsedArgs } from '../args.ts';
import { DOSE_OPTIONS, caseOutputs, doseCaseFromArgs } from './dose.ts';

const OPTIONS: Record<string, OptionSpec> = {
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
};

const HELP = `usage: pnpm -s dosimetry plan --device glass|resin|ho166
  --activity SCOUT [--activity-unit counts] --segmentation FILE [--labels ...] (repeatable)
  --liver NAME --tumor NAME [--tumor NAME ...] [--lung NAME] [--perfused NAME] [--normalize-to NAME]
  [--lung-shunt-fraction F] [--ct FILE] [--split-lesions] [--method ldm|dvk] [--density 1.05] [--lung-density 0.30]
  [--backend auto|webgpu|cpu] [--rtdose] --out DIR [--json] [--quiet]
targets and limits [Gy] (device defaults, EANM 2022; "none" removes one):
  [--tumor-gy DT] [--normal-liver-gy DN] [--whole-normal-liver-gy DWN] [--lung-gy DL] [--lung-cumulative-gy 50]
  [--prior-lung-gy 0] [--lung-mass-g M] [--tumor-basis every-lesion|mean] [--mird-gy D]
  [--prescribe mird|bsa|partition|voxel]   default: partition (glass, resin), mird = 166Ho standard (ho166)
BSA method (resin): [--bsa-m2 B | --height-cm H --weight-kg W]
activity to order: [--calibration-time ISO --treatment-time ISO] [--residual-fraction 0]
radiobiology: [--tumor-alpha-beta-gy 10] [--tumor-repair-half-time-h 1.5] [--normal-alpha-beta-gy 2.5]
  [--normal-repair-half-time-h 2.5] [--eud-alpha-per-gy ALPHA]   (EUD only with alpha: no default)
The scout is computed at ${REFERENCE_ACTIVITY_GBQ} GBq administered and scaled (dose is linear in activity); outputs
(dose.nii.gz, report.json with "plan", structures.csv, structures.seg.nrrd) are at the prescribed activity.`;

/** A target/limit option: a number [Gy], "none" (removes it) or absent (device default). */
function limitOpt(a: ParsedArgs, name: string): number | null | undefined {
  const v = opt(a, name);
  if (v === undefined) return undefined;
  if (v.trim().toLowerCase() === 'none') return null;
  return numberOpt(a, name, 'plan');
}

function isoTime(a: ParsedArgs, name: string): Date | undefined {
  const v = opt(a, name);
  if (v === undefined) return undefined;
  const d = new Date(v);
  if (!/^\d{4}-\d{2}-\d{2}/.test(v.trim()) || Number.isNaN(d.getTime())) {
    throw new UsageError(`plan: --${name} "${v}" is not an ISO date-time: use e.g. 2025-03-14T09:00:00Z`);
  }
  return d;
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
  const unit = opt(a, 'activity-unit') ?? 'counts';
  if (unit.trim().toLowerCase() !== 'counts' && unit.trim().toLowerCase() !== 'count') {
    throw new UsageError(`plan: the scout is used as a relative distribution: give --activity-unit counts (or leave it out), not "${unit}"`);
  }
  if (opt(a, 'administered-gbq') !== undefined) {
    throw new UsageError('plan: --administered-gbq is not an input of plan: the plan computes the activity (use dose to compute a given activity)');
  }
  const outDir = requireOpt(a, 'out', 'plan');
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
  if ((heightCm === undefined) !== (weightKg === undefined)) throw new UsageError('plan: give both --height-cm and --weight-kg (or --bsa-m2)');
  if (heightCm !== undefined && heightCm < 3) throw new UsageError(`plan: --height-cm ${heightCm} looks like metres: give the height in centimetres (e.g. 175)`);
  const calTime = isoTime(a, 'calibration-time');
  const txTime = isoTime(a, 'treatment-time');
  if ((calTime === undefined) !== (txTime === undefined)) throw new UsageError('plan: give both --calibration-time and --treatment-time (ISO) for the activity to order');
  const lq = (ab: string, rep: string, def: typeof TUMOR_LQ) => ({
    alphaBetaGy: numberOpt(a, ab, 'plan') ?? def.alphaBetaGy,
    repairHalfTimeH: numberOpt(a, rep, 'plan') ?? def.repairHalfTimeH,
  });
  const radiobiology = {
    tumorLq: lq('tumor-alpha-beta-gy', 'tumor-repair-half-time-h', TUMOR_LQ),
    normalLq: lq('normal-alpha-beta-gy', 'normal-repair-half-time-h', NORMAL_LIVER_LQ),
    eudAlphaPerGy: numberOpt(a, 'eud-alpha-per-gy', 'plan'),
  };

  const quiet = a.flags.has('quiet') || a.flags.has('json');
  const progress = progressReporter(quiet);
  // The dose inputs, at the reference activity, for the device's isotope.
  const values = new Map(a.values);
  values.set('isotope', [isotope]);
  values.set('activity-unit', ['counts']);
  values.set('administered-gbq', [String(REFERENCE_ACTIVITY_GBQ)]);
  const { options, inputs, parameters, inputWarnings, rtDose } = await doseCaseFromArgs({ ...a, values }, 'plan', progress);
  progress(`scout case at ${REFERENCE_ACTIVITY_GBQ} GBq administered`);
  const unitCase = await computeDoseCase(options);
  unitCase.warnings.unshift(...inputWarnings);
  const compartments = caseCompartments({ result: unitCase, isotope, referenceActivityGBq: REFERENCE_ACTIVITY_GBQ, lungMassG: numberOpt(a, 'lung-mass-g', 'plan') });
  const plan = planFromCase({
    compartments,
    device,
    overrides: lungOff ? { ...overrides, lungCumulativeGy: null } : overrides,
    priorLungGy: numberOpt(a, 'prior-lung-gy', 'plan'),
    tumorBasis: basis,
    mirdGy: numberOpt(a, 'mird-gy', 'plan'),
    bsa: { bsaM2: numberOpt(a, 'bsa-m2', 'plan'), heightM: heightCm === undefined ? undefined : heightCm / 100, weightKg },
    prescribe,
  });
  const calibration = calTime && txTime
    ? orderActivity({ isotope, activityGBq: plan.activityGBq, calibrationTime: calTime, treatmentTime: txTime, residualFraction: numberOpt(a, 'residual-fraction', 'plan') })
    : null;
  progress(`prescribed ${plan.activityGBq.toFixed(4)} GBq (${plan.prescribedMethod}); dose map at that activity`);
  const result = await scaleDoseCase(unitCase, plan.activityGBq / REFERENCE_ACTIVITY_GBQ);
  const rb = structureRadiobiology(result, isotope, radiobiology);

  const planJson = {
    activityGBq: plan.activityGBq,
    limitingConstraint: plan.limitingConstraint,
    prescribedMethod: plan.prescribedMethod,
    targetMet: plan.targetMet,
    maxAllowedActivityGBq: plan.maxAllowedActivityGBq,
    device,
    isotope,
    targets: plan.targets,
    calibration,
    referenceActivityGBq: REFERENCE_ACTIVITY_GBQ,
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
    radiobiology: {
      model: 'BED = D (1 + D lambda / ((mu + lambda) alpha/beta)), permanent implant (Dale 1985); EUD = -ln(sum v_i exp(-alpha D_i)) / alpha (Niemierko 1997)',
      tumorLq: radiobiology.tumorLq,
      normalLq: radiobiology.normalLq,
      source: 'tumour alpha/beta 10 Gy, T_rep 1.5 h; normal tissue 2.5 Gy, 2.5 h (Strigari et al., J Nucl Med 2010;51:1377; Cremonesi et al., Front Oncol 2014;4:210)',
      eudAlphaPerGy: radiobiology.eudAlphaPerGy ?? null,
      eudNote: radiobiology.eudAlphaPerGy === undefined ? 'no EUD: give --eud-alpha-per-gy (published alpha values differ by an order of magnitude)' : null,
      structures: rb,
    },
    warnings: plan.warnings,
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
  writeFilesAtomic(await caseOutputs(outDir, result, report, a.flags.has('rtdose'), { rtDose }));
  progress.done();

  if (a.flags.has('json')) {
    process.stdout.write(JSON.stringify(report) + '\n');
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
    `prescribed ${plan.activityGBq.toFixed(3)} GBq (${plan.prescribedMethod}), limited by ${plan.limitingConstraint}${plan.targetMet === false ? ' (tumour target NOT met: best allowed plan)' : ''}`,
    ...(calibration ? [`order ${calibration.calibrationActivityGBq.toFixed(3)} GBq at calibration ${calibration.calibrationTime} (decay factor ${calibration.decayFactor.toFixed(4)} to ${calibration.treatmentTime})`] : []),
    '',
    structuresTable(report as { structures: ReportStructure[] }),
    '',
    ...[...plan.warnings, ...result.warnings].map((w) => `warning: ${w}`),
    `wrote ${join(outDir, 'dose.nii.gz')}, report.json, structures.csv, structures.seg.nrrd`,
  ];
  process.stdout.write(lines.join('\n') + '\n');
  return 0;
}
