/**
 * `dosimetry partition`: closed-form partition model, no images (surface fixed in ../shared/CONTRACT.md).
 *
 *   --activity-gbq A: the doses that activity gives (limitingConstraint null, targetMet null).
 *   otherwise [--tumor-gy] [--normal-liver-gy] [--lung-gy]: the activity that meets the tumour target without
 *   breaking a limit, or the largest allowed one with targetMet false and a warning (exit 0: a plan that cannot
 *   reach its target is a result, not an error), and the constraint that binds.
 * JSON: { activityGBq, tumorGy, normalLiverGy, lungGy, limitingConstraint, targetMet, maxAllowedActivityGBq,
 *         isotope, warnings }.
 */
import { UsageError } from '../../errors.ts';
import { parseIsotope, type Isotope } from '../../units/index.ts';
import { partitionDoses, partitionPlan, type PartitionDoses, type PartitionPlan } from '../../plan/partition.ts';
import { numberOpt, parseArgs, requireOpt, type OptionSpec } from '../args.ts';
import { MAX_ADMINISTERED_GBQ } from '../../dose/calibration.ts';

const OPTIONS: Record<string, OptionSpec> = {
  isotope: { type: 'string' },
  'tumor-mass-g': { type: 'string' },
  'normal-mass-g': { type: 'string' },
  'tn-ratio': { type: 'string' },
  'lung-shunt-fraction': { type: 'string' },
  'lung-mass-g': { type: 'string' },
  'activity-gbq': { type: 'string' },
  'tumor-gy': { type: 'string' },
  'normal-liver-gy': { type: 'string' },
  'lung-gy': { type: 'string' },
  json: { type: 'flag' },
  help: { type: 'flag' },
};

const HELP = `usage: pnpm -s dosimetry partition [--json] --isotope Y90|Ho166
  --tumor-mass-g MT --normal-mass-g MN --tn-ratio TN --lung-shunt-fraction LSF [--lung-mass-g 1000]
  ( --activity-gbq A | [--tumor-gy DT] [--normal-liver-gy DN] [--lung-gy DL] )
Partition model (Ho et al. 1996): D_N = CF A (1 - LSF) / (TN MT + MN), D_T = TN D_N, D_L = CF A LSF / ML.
With --activity-gbq: the doses. With a tumour target and/or limits: the activity meeting the target without
breaking a limit (or the largest allowed one, flagged targetMet=false) and the constraint that binds.`;

/** The JSON the command prints (../shared/CONTRACT.md fields first). */
export interface PartitionCliResult {
  readonly activityGBq: number;
  readonly tumorGy: number;
  readonly normalLiverGy: number;
  readonly lungGy: number;
  readonly limitingConstraint: PartitionPlan['limitingConstraint'] | null;
  readonly targetMet: boolean | null;
  readonly maxAllowedActivityGBq: number | null;
  readonly isotope: Isotope;
  readonly warnings: readonly string[];
}

function requireNumber(a: ReturnType<typeof parseArgs>, name: string): number {
  requireOpt(a, name, 'partition');
  return numberOpt(a, name, 'partition') as number;
}

/** Runs the command; returns the exit code (errors are thrown as DosimetryError subclasses). */
export async function run(argv: string[]): Promise<number> {
  const a = parseArgs(argv, OPTIONS, 'partition');
  if (a.flags.has('help')) {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  if (a.positionals.length) throw new UsageError(`partition: unexpected argument "${a.positionals[0]}" (options start with --)`);
  const isotope = parseIsotope(requireOpt(a, 'isotope', 'partition'));
  const model = {
    isotope,
    tumorMassG: requireNumber(a, 'tumor-mass-g'),
    normalMassG: requireNumber(a, 'normal-mass-g'),
    tnRatio: requireNumber(a, 'tn-ratio'),
    lungShuntFraction: requireNumber(a, 'lung-shunt-fraction'),
    lungMassG: numberOpt(a, 'lung-mass-g', 'partition'),
  };
  const activityGBq = numberOpt(a, 'activity-gbq', 'partition');
  const targets = {
    tumorGy: numberOpt(a, 'tumor-gy', 'partition'),
    normalLiverGy: numberOpt(a, 'normal-liver-gy', 'partition'),
    lungGy: numberOpt(a, 'lung-gy', 'partition'),
  };
  const anyTarget = Object.values(targets).some((v) => v !== undefined);
  if (activityGBq !== undefined && anyTarget) {
    throw new UsageError('partition: give either --activity-gbq (doses of that activity) or targets/limits (--tumor-gy, --normal-liver-gy, --lung-gy), not both');
  }
  if (activityGBq === undefined && !anyTarget) {
    throw new UsageError('partition: give --activity-gbq, or at least one of --tumor-gy, --normal-liver-gy, --lung-gy');
  }

  let doses: PartitionDoses;
  let plan: PartitionPlan | null = null;
  if (activityGBq !== undefined && activityGBq > MAX_ADMINISTERED_GBQ) {
    throw new UsageError(
      `partition: --activity-gbq ${activityGBq} is more than any radioembolization (at most ~20 GBq; refused above ${MAX_ADMINISTERED_GBQ}): give it in GBq (${activityGBq} MBq is --activity-gbq ${activityGBq / 1000})`,
    );
  }
  if (activityGBq !== undefined) doses = partitionDoses({ ...model, activityGBq });
  else doses = plan = partitionPlan({ ...model, targets });
  const result: PartitionCliResult = {
    activityGBq: doses.activityGBq,
    tumorGy: doses.tumorGy,
    normalLiverGy: doses.normalLiverGy,
    lungGy: doses.lungGy,
    limitingConstraint: plan?.limitingConstraint ?? null,
    targetMet: plan?.targetMet ?? null,
    maxAllowedActivityGBq: plan?.maxAllowedActivityGBq ?? null,
    isotope,
    warnings: plan?.warnings ?? [],
  };
  if (a.flags.has('json')) {
    process.stdout.write(JSON.stringify(result) + '\n');
    return 0;
  }
  const lines = [
    `${isotope} partition model (Ho et al. 1996), ${plan ? 'planned activity' : 'given activity'}`,
    `  activity        ${result.activityGBq.toFixed(4)} GBq`,
    `  tumour          ${result.tumorGy.toFixed(2)} Gy`,
    `  normal liver    ${result.normalLiverGy.toFixed(2)} Gy`,
    `  lung            ${result.lungGy.toFixed(2)} Gy`,
  ];
  if (plan) {
    lines.push(`  limited by      ${plan.limitingConstraint}${plan.targetMet === false ? ' (tumour target NOT met)' : ''}`);
  }
  for (const w of result.warnings) lines.push(`warning: ${w}`);
  process.stdout.write(lines.join('\n') + '\n');
  return 0;
}
