/**
 * `plan`'s radiobiology options and report.json plan.radiobiology, shared by the single-activity plan (plan.ts) and
 * territory plans (plan-territories.ts, where every territory has the same isotope):
 *
 *   [--tumor-alpha-beta-gy 10] [--tumor-repair-half-time-h 1.5] [--normal-alpha-beta-gy 2.5]
 *   [--normal-repair-half-time-h 2.5] [--eud-alpha-per-gy ALPHA]
 *
 * BED and EUD per structure come from the dose map (src/plan/image.ts structureRadiobiology, src/plan/radiobiology.ts).
 */
import type { RadiobiologyParameters, StructureRadiobiology } from '../../plan/image.ts';
import { NORMAL_LIVER_LQ, TUMOR_LQ, type LqParameters } from '../../plan/radiobiology.ts';
import { numberOpt, type ParsedArgs } from '../args.ts';

/** The radiobiology options of `plan`. */
export const RADIOBIOLOGY_OPTIONS = ['tumor-alpha-beta-gy', 'tumor-repair-half-time-h', 'normal-alpha-beta-gy', 'normal-repair-half-time-h', 'eud-alpha-per-gy'] as const;

/** The radiobiology of a plan: LQ parameters of tumour and normal tissue, EUD alpha when given. */
export interface PlanRadiobiology extends RadiobiologyParameters {
  readonly tumorLq: LqParameters;
  readonly normalLq: LqParameters;
}

/** The options (defaults: {@link TUMOR_LQ}, {@link NORMAL_LIVER_LQ}; EUD only with --eud-alpha-per-gy). */
export function radiobiologyFromArgs(a: ParsedArgs): PlanRadiobiology {
  const lq = (ab: string, rep: string, def: LqParameters): LqParameters => ({
    alphaBetaGy: numberOpt(a, ab, 'plan') ?? def.alphaBetaGy,
    repairHalfTimeH: numberOpt(a, rep, 'plan') ?? def.repairHalfTimeH,
  });
  return {
    tumorLq: lq('tumor-alpha-beta-gy', 'tumor-repair-half-time-h', TUMOR_LQ),
    normalLq: lq('normal-alpha-beta-gy', 'normal-repair-half-time-h', NORMAL_LIVER_LQ),
    eudAlphaPerGy: numberOpt(a, 'eud-alpha-per-gy', 'plan'),
  };
}

/** report.json plan.radiobiology: the model, its parameters and sources, and each structure's BED and EUD. */
export function radiobiologyJson(p: PlanRadiobiology, structures: readonly StructureRadiobiology[]) {
  return {
    model: 'BED = D (1 + D lambda / ((mu + lambda) alpha/beta)), permanent implant (Dale 1985); EUD = -ln(sum v_i exp(-alpha D_i)) / alpha (Niemierko 1997)',
    tumorLq: p.tumorLq,
    normalLq: p.normalLq,
    source: 'tumour alpha/beta 10 Gy, T_rep 1.5 h; normal tissue 2.5 Gy, 2.5 h (Strigari et al., J Nucl Med 2010;51:1377; Cremonesi et al., Front Oncol 2014;4:210)',
    eudAlphaPerGy: p.eudAlphaPerGy ?? null,
    eudNote: p.eudAlphaPerGy === undefined ? 'no EUD: give --eud-alpha-per-gy (published alpha values differ by an order of magnitude)' : null,
    structures,
  };
}
