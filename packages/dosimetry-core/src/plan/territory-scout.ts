/**
 * The 166Ho scout of a multi-territory plan (`plan --territories ... --scout-gbq A_s`): every territory ho166 and
 * planned on the shared scout (--activity, in counts), which is the scout's own distribution.
 *
 * As for one territory (src/plan/scout.ts): the scout's own dose is the scout image normalised so that the liver holds
 * A_s (1 - LSF_s) (the plan's reference case at 1 GBq, x A_s), LSF_s the lung shunt of the scout (given, or measured
 * on it); its lung dose CF A_s LSF_s / M_L counts toward the cumulative lung limit (added to the prior lung dose of
 * the plan's problem). Cumulative doses add the treatment at the planned activities: the lung (sum_t CF A_t LSF_t /
 * M_L + prior), the whole normal liver and each territory's perfused normal liver (dose-map means of the combined
 * case).
 */
import { InputError } from '../errors.ts';
import type { DoseCaseResult } from '../dose/pipeline.ts';
import { checkPositive } from './checks.ts';
import { caseCompartments, predictedDoses, sums, type PredictedDoses } from './image.ts';
import type { TerritoryCases } from './territory-cases.ts';

/** report.json plan.scout of a territory plan. */
export interface TerritoryScoutDoses {
  /** Scout activity administered [GBq]. */
  readonly activityGBq: number;
  readonly image: 'counts';
  readonly scaling: string;
  readonly lungShuntFraction: number;
  readonly lungShuntFractionSource: string;
  /** Total planned activity / A_s. */
  readonly treatmentOverScout: number;
  /** Mean absorbed dose of each structure from the scout alone [Gy], report order. */
  readonly structures: ReadonlyArray<{ readonly name: string; readonly role: string; readonly meanGy: number }>;
  /** The scout's compartments at A_s [Gy] (lung: CF A_s LSF_s / M_L). */
  readonly compartments: PredictedDoses;
  readonly cumulative: {
    readonly lungGy: number;
    readonly wholeNormalLiverGy: number;
    /** Per territory: its perfused normal liver, scout + treatment [Gy]. */
    readonly territories: ReadonlyArray<{ readonly name: string; readonly perfusedNormalLiverGy: number }>;
    readonly method: string;
  };
}

/**
 * The scout's own lung dose [Gy]: CF A_s LSF_s / M_L on the plan's reference case (the shared scout), with the plan's
 * lung mass (the cases' M_L). Added to --prior-lung-gy for the cumulative lung limit.
 */
export function territoryScoutLungGy(tc: TerritoryCases, scoutActivityGBq: number): number {
  checkPositive(scoutActivityGBq, 'scout activity [GBq]');
  const c = scoutCompartments(tc);
  return c.lungGyPerGBq * scoutActivityGBq;
}

function scoutCompartments(tc: TerritoryCases) {
  const isotope = tc.cases[0].isotope;
  if (tc.cases.some((c) => c.isotope !== 'Ho166' || c.scout !== 'shared')) {
    throw new InputError('a 166Ho scout dose needs every territory ho166 and on the shared scout');
  }
  return caseCompartments({ result: tc.reference, isotope, lungMassG: tc.cases[0].compartments.lungMassG });
}

/**
 * report.json plan.scout of a territory plan (module comment): the scout's own doses at A_s and the cumulative doses
 * with the treatment at the planned activities (`combined`, the plan's combined case).
 */
export function territoryScoutDoses(opts: {
  readonly cases: TerritoryCases;
  readonly combined: DoseCaseResult;
  readonly scoutActivityGBq: number;
  readonly activitiesGBq: readonly number[];
  /** --prior-lung-gy (without the scout); default 0. */
  readonly priorLungGy?: number;
}): TerritoryScoutDoses {
  const { cases: tc, combined } = opts;
  const aS = checkPositive(opts.scoutActivityGBq, 'scout activity [GBq]');
  const c = scoutCompartments(tc);
  const scoutC = predictedDoses(c, aS);
  const total = opts.activitiesGBq.reduce((s, a) => s + a, 0);
  const treatmentLungGy = tc.cases.reduce((s, x, t) => s + x.compartments.lungGyPerGBq * opts.activitiesGBq[t], 0);
  const wholeNormalIndex = combined.structures.findIndex((s) => s.role === 'normal-liver');
  const treatmentWholeNormalGy = wholeNormalIndex >= 0 ? combined.structures[wholeNormalIndex].meanGy : sums(combined, tc.wholeNormal).meanGy;
  return {
    activityGBq: aS,
    image: 'counts',
    scaling:
      'shared 166Ho scout in counts: each territory takes the scout restricted to its perfused structure, normalised to carry A_t (1 - LSF_t); the scout\'s own dose is the scout normalised so that the liver holds A_s (1 - LSF_s)',
    lungShuntFraction: tc.reference.lungShuntFraction,
    lungShuntFractionSource: tc.reference.lungShuntFractionSource,
    treatmentOverScout: total / aS,
    structures: tc.reference.structures.map((s) => ({ name: s.name, role: s.role, meanGy: s.meanGy * aS })),
    compartments: scoutC,
    cumulative: {
      lungGy: (opts.priorLungGy ?? 0) + scoutC.lungGy + treatmentLungGy,
      wholeNormalLiverGy: scoutC.wholeNormalLiverGy + treatmentWholeNormalGy,
      territories: tc.cases.map((x) => ({
        name: x.spec.name,
        perfusedNormalLiverGy: sums(tc.reference, x.perfusedNormal).meanGy * aS + sums(combined, x.perfusedNormal).meanGy,
      })),
      method:
        "scout + treatment at the planned activities (+ --prior-lung-gy for the lung); the scout's lung dose also counts toward the cumulative lung limit (it is added to the prior lung dose of the plan's problem); the per-treatment limits (lung 30 Gy, normal liver) apply to the treatment alone",
    },
  };
}
