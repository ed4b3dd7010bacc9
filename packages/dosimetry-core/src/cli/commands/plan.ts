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
import { NORMAL_LIVER_LQ, TUMOR_LQ } from '../../plan/radiobiology.ts';
import { parseZonedDateTime, ZONED_TIME_EXAMPLE } from '../../plan/time.ts';
import { parseIsotope } from '../../units/index.ts';
import { numberOpt, opt, parseArgs, requireOpt, type OptionSpec, type ParsedArgs } from '../args.ts';
import { DOSE_OPTIONS, caseInputPaths, caseOutputs, doseCaseFromArgs } from './dose.ts';

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
BSA method (resin): [--bsa-m2 B | --height-cm H --weight-kg W]   (adults: ${PLAUSIBLE_HEIGHT_CM[0]}-${PLAUSIBLE_HEIGHT_CM[1]} cm, ${PLAUSIBLE_WEIGHT_KG[0]}-${PLAUSIBLE_WEIGHT_KG[1]} kg)
activity to order: [--calibration-time T --treatment-time T] [--residual-fraction 0]
  T: ISO 8601 with its zone, e.g. ${ZONED_TIME_EXAMPLE}; treatment before calibration is refused
  (resin: accepted up to 24 h before, with a warning)
With --perfused and without --normalize-to, the scout counts are normalised to the perfused volume (it receives
A (1 - LSF)), not to the whole liver. Warnings go to stderr ("warning: ...") and to report.json "warnings".
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

/** A date-time option: ISO 8601 with an explicit zone (a zone-less time would follow the machine's TZ). */
function isoTime(a: ParsedArgs, name: string): Date | undefined {
  const v = opt(a, name);
  return v === undefined ? undefined : parseZonedDateTime(v, `plan: --${name}`);
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
  const unit = opt(a, 'activity-unit') ?? 'counts';
  if (unit.trim().toLowerCase() !== 'counts' && unit.trim().toLowerCase() !== 'count') {
    throw new UsageError(`plan: the scout is used as a relative distribution: give --activity-unit counts (or leave it out), not "${unit}"`);
  }
  if (opt(a, 'administered-gbq') !== undefined) {
    throw new UsageError('plan: --administered-gbq is not an input of plan: the plan computes the activity (use dose to compute a given activity)');
  }
  const outDir = requireOpt(a, 'out', 'plan');
  claimed.out = claimOutputDir(outDir, { command: 'plan', inputs: caseInputPaths(a) });
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
  const calTime = isoTime(a, 'calibration-time');
  const txTime = isoTime(a, 'treatment-time');
  if ((calTime === undefined) !== (txTime === undefined)) throw new UsageError('plan: give both --calibration-time and --treatment-time (ISO) for the activity to order');
  const residualFraction = numberOpt(a, 'residual-fraction', 'plan');
  // The calibration window (swapped or mistyped times) is checked now, before any image is read.
  if (calTime && txTime) orderActivity({ device, activityGBq: 1, calibrationTime: calTime, treatmentTime: txTime, residualFraction });
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
  // Lobar / selective treatment: the activity goes into the perfused territory, so its counts carry A (1 - LSF)
  // (the whole liver's would spread A over tissue the catheter does not feed and underdose the treated volume).
  const perfusedName = opt(a, 'perfused');
  const normalizeGiven = opt(a, 'normalize-to');
  const normalization = normalizeGiven !== undefined
    ? { structure: normalizeGiven, source: 'given (--normalize-to)' }
    : perfusedName !== undefined
      ? { structure: perfusedName, source: 'perfused volume (--perfused): lobar/selective treatment' }
      : { structure: requireOpt(a, 'liver', 'plan'), source: 'liver (--liver): whole-liver treatment' };
  if (normalizeGiven === undefined && perfusedName !== undefined) {
    values.set('normalize-to', [perfusedName]);
    earlyWarnings.push(`scout counts normalised to the perfused volume "${perfusedName}" (it receives A (1 - LSF)), not to the whole liver: give --normalize-to NAME to choose another structure`);
  }
  const { options, inputs, parameters, inputWarnings, rtDose } = await doseCaseFromArgs({ ...a, values }, 'plan', progress);
  progress(`scout case at ${REFERENCE_ACTIVITY_GBQ} GBq administered`);
  const unitCase = await computeDoseCase(options);
  unitCase.warnings.unshift(...earlyWarnings, ...inputWarnings);
  const compartments = caseCompartments({ result: unitCase, isotope, referenceActivityGBq: REFERENCE_ACTIVITY_GBQ, lungMassG: numberOpt(a, 'lung-mass-g', 'plan') });
  const plan = planFromCase({
    compartments,
    device,
    overrides: lungOff ? { ...overrides, lungCumulativeGy: null } : overrides,
    priorLungGy: numberOpt(a, 'prior-lung-gy', 'plan'),
    tumorBasis: basis,
    mirdGy: numberOpt(a, 'mird-gy', 'plan'),
    bsa: { bsaM2, heightM: heightCm === undefined ? undefined : heightCm / 100, weightKg },
    prescribe,
  });
  const calibration = calTime && txTime
    ? orderActivity({ device, activityGBq: plan.activityGBq, calibrationTime: calTime, treatmentTime: txTime, residualFraction })
    : null;
  const planWarnings = [...plan.warnings, ...(calibration?.warnings ?? [])];
  progress(`prescribed ${plan.activityGBq.toFixed(4)} GBq (${plan.prescribedMethod}); dose map at that activity`);
  // report.json "warnings" holds every warning: the plan's first, then the dose case's.
  const result = { ...(await scaleDoseCase(unitCase, plan.activityGBq / REFERENCE_ACTIVITY_GBQ)), warnings: [...planWarnings, ...unitCase.warnings] };
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
  claimed.out.commit(asOutputFiles(await caseOutputs(outDir, result, report, a.flags.has('rtdose'), { rtDose })));
  progress.done();
  // Warnings on stderr whatever the output mode (--json and --quiet included): they are never to be missed.
  if (result.warnings.length) process.stderr.write(result.warnings.map((w) => `warning: ${w}`).join('\n') + '\n');

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
    `prescribed ${plan.activityGBq.toFixed(3)} GBq (${plan.prescribedMethod}), limited by ${plan.limitingConstraint}${plan.targetMet === false ? ' (tumour target NOT met: best allowed plan)' : plan.tumorTargetReached === false ? ' (tumour target NOT reached)' : ''}${plan.contraindications.length ? ` - CONTRAINDICATED: ${plan.contraindications.join('; ')}` : ''}`,
    `scout counts normalised to "${normalization.structure}" (${normalization.source})`,
    ...(calibration ? [`order ${calibration.calibrationActivityGBq.toFixed(3)} GBq at calibration ${calibration.calibrationTime} (decay factor ${calibration.decayFactor.toFixed(4)} to ${calibration.treatmentTime})`] : []),
    '',
    structuresTable(report as { structures: ReportStructure[] }),
    '',
    ...(result.warnings.length ? [`${result.warnings.length} warning${result.warnings.length > 1 ? 's' : ''} on stderr and in report.json`] : []),
    `wrote ${join(outDir, 'dose.nii.gz')}, report.json, structures.csv, structures.seg.nrrd`,
  ];
  process.stdout.write(lines.join('\n') + '\n');
  return 0;
}
