/**
 * `--method mc` on the command line (dose and plan): the Monte Carlo options, their checks, the report's "mc" object
 * and per-structure uncertainties, and DIR/dose_uncertainty.nii.gz. The driver is src/mc/run.ts.
 */
import { join } from 'node:path';
import { UsageError } from '../../errors.ts';
import { parseDecimal, decimalProblem } from '../../units/decimal.ts';
import type { DoseCaseResult, McCaseOptions } from '../../dose/pipeline.ts';
import type { McStructureUncertainty } from '../../mc/run.ts';
import { DEFAULT_MC_HISTORIES, DEFAULT_MC_MAX_HISTORIES, DEFAULT_MC_BATCHES, MC_TARGET_MIN_DOSE_SHARE, MC_TARGET_MIN_VOLUME_ML } from '../../mc/run.ts';
import { opt, type OptionSpec, type ParsedArgs } from '../args.ts';

export const MC_OPTIONS: Record<string, OptionSpec> = {
  'mc-histories': { type: 'string' },
  'mc-target-uncertainty': { type: 'string' },
  'mc-max-histories': { type: 'string' },
  seed: { type: 'string' },
};

/** Name of the uncertainty map beside dose.nii.gz. */
export const MC_UNCERTAINTY_FILE = 'dose_uncertainty.nii.gz';

/** Largest target uncertainty accepted [percent]. */
export const MC_MAX_TARGET_PERCENT = 50;
/** Largest number of histories accepted (beyond it a run would take days on any machine). */
export const MC_MAX_HISTORIES_ACCEPTED = 1e13;

export const MC_HELP = `Monte Carlo (--method mc): electrons and photons transported through the voxels (media from --ct, else soft
  tissue and the --lung structure at --lung-density); writes also DIR/${MC_UNCERTAINTY_FILE} (relative standard error
  per voxel, 0 where the dose is 0) and each structure's meanGyRelStdErr and standard errors in report.json.
  [--mc-histories N]  decays simulated (default ${DEFAULT_MC_HISTORIES.toExponential(0).replace('+', '')}), in ${DEFAULT_MC_BATCHES} equal batches (batch-method uncertainty)
  [--mc-target-uncertainty P]  instead: run until every structure of ${MC_TARGET_MIN_VOLUME_ML} mL or more (whose mean dose is at least
                      ${100 * MC_TARGET_MIN_DOSE_SHARE} % of the largest structure mean) has a relative standard error of its mean dose below P.
                      P is in PERCENT: "2" or "2%" = 2 %; a bare value below 1 is refused as ambiguous (write "0.5%");
                      0 < P <= ${MC_MAX_TARGET_PERCENT} %
  [--mc-max-histories N]  cap of a target run (default ${DEFAULT_MC_MAX_HISTORIES.toExponential(0).replace('+', '')}; a warning says when it stopped the run)
  [--seed S]          random seed, integer 0..4294967295 (default 1): the same seed gives byte-identical dose and
                      uncertainty maps and report.json (the speed, histories/s, is printed on stdout)`;

function integerOpt(a: ParsedArgs, name: string, command: string, min: number): number | undefined {
  const v = opt(a, name);
  if (v === undefined) return undefined;
  const n = parseDecimal(v);
  if (n === undefined) throw new UsageError(`${command}: --${name} must be a whole number, got "${v}" (${decimalProblem(v)})`);
  if (!Number.isInteger(n)) throw new UsageError(`${command}: --${name} ${v} is not a whole number: give a count such as 1000000 or 1e6`);
  if (n < min) throw new UsageError(`${command}: --${name} ${v} is too small: give at least ${min}${name === 'seed' ? '' : ` (the uncertainty needs at least ${DEFAULT_MC_BATCHES} batches of one history or more)`}`);
  if (n > (name === 'seed' ? 0xffffffff : MC_MAX_HISTORIES_ACCEPTED)) {
    throw new UsageError(name === 'seed' ? `${command}: --seed ${v} is beyond 4294967295 (the generator's key is 32 bits)` : `${command}: --${name} ${v} is beyond ${MC_MAX_HISTORIES_ACCEPTED.toExponential(0)} histories`);
  }
  return n;
}

/** Parses --mc-target-uncertainty P (percent; see MC_HELP) to a fraction. */
export function parseTargetUncertainty(text: string, command: string): number {
  const t = text.trim();
  const percentSign = t.endsWith('%');
  const body = percentSign ? t.slice(0, -1).trim() : t;
  const n = parseDecimal(body);
  if (n === undefined) throw new UsageError(`${command}: --mc-target-uncertainty must be a percentage such as 2 or 2%, got "${text}" (${decimalProblem(body)})`);
  if (!(n > 0) || n > MC_MAX_TARGET_PERCENT) {
    throw new UsageError(`${command}: --mc-target-uncertainty ${text} is outside (0, ${MC_MAX_TARGET_PERCENT}] %: give the relative standard error in percent, e.g. 2 for 2 %`);
  }
  if (!percentSign && n < 1) {
    throw new UsageError(
      `${command}: --mc-target-uncertainty ${text} is ambiguous (a fraction, ${(100 * n).toPrecision(3)} %, or ${n} %?): P is in percent; write "${n}%" for ${n} %, or "${+(100 * n).toPrecision(6)}" for ${+(100 * n).toPrecision(6)} %`,
    );
  }
  return n / 100;
}

/**
 * The Monte Carlo settings of a dose/plan command line, checked before any image is read; undefined without
 * --method mc (where any MC option is refused).
 */
export function mcFromArgs(a: ParsedArgs, command: string, method: string): McCaseOptions | undefined {
  const given = Object.keys(MC_OPTIONS).filter((k) => opt(a, k) !== undefined);
  if (method !== 'mc') {
    if (given.length) throw new UsageError(`${command}: --${given[0]} is a Monte Carlo option: give it with --method mc (or leave it out for --method ${method})`);
    return undefined;
  }
  // plan --territories: one run per territory on its own range of histories, uncertainties combined (src/plan/territory-mc.ts)
  if (opt(a, 'mc-histories') !== undefined && opt(a, 'mc-target-uncertainty') !== undefined) {
    throw new UsageError(`${command}: give either --mc-histories N (a fixed number) or --mc-target-uncertainty P (run until P is reached), not both`);
  }
  const histories = integerOpt(a, 'mc-histories', command, DEFAULT_MC_BATCHES);
  const maxHistories = integerOpt(a, 'mc-max-histories', command, DEFAULT_MC_BATCHES);
  const targetText = opt(a, 'mc-target-uncertainty');
  if (maxHistories !== undefined && targetText === undefined) {
    throw new UsageError(`${command}: --mc-max-histories caps a run with --mc-target-uncertainty P: give P, or set the number of histories with --mc-histories N`);
  }
  const seed = integerOpt(a, 'seed', command, 0) ?? 1;
  if (targetText !== undefined) {
    return { seed, plan: { kind: 'target', relStdErr: parseTargetUncertainty(targetText, command), maxHistories: maxHistories ?? DEFAULT_MC_MAX_HISTORIES } };
  }
  return { seed, plan: { kind: 'histories', histories: histories ?? DEFAULT_MC_HISTORIES } };
}

/** The Monte Carlo settings as report.json provenance.parameters records them. */
export function mcParameters(mc: McCaseOptions | undefined): Record<string, unknown> {
  if (!mc) return {};
  const p = mc.plan!;
  return {
    mcSeed: mc.seed,
    ...(p.kind === 'histories' ? { mcHistories: p.histories } : { mcTargetRelStdErr: p.relStdErr, mcMaxHistories: p.maxHistories }),
  };
}

/** JSON numbers: NaN and infinities (empty structures) as null. */
const num = (x: number) => (Number.isFinite(x) ? x : null);

/**
 * Adds the Monte Carlo results to a report built by buildReport from `result`: each structure's meanGyRelStdErr and
 * `uncertainty` (standard errors, same units as the statistics), and the top-level `mc` object. `structures`
 * overrides the result's uncertainties (plan: the case rescaled to the prescribed activity).
 */
export function applyMcToReport(report: Record<string, unknown>, result: DoseCaseResult, structures?: readonly McStructureUncertainty[]): void {
  const mc = result.mc;
  if (!mc) return;
  const list = report.structures as Array<Record<string, unknown>>;
  list.forEach((s, i) => {
    const u = structures?.[i] ?? { meanGyRelStdErr: result.structures[i].meanGyRelStdErr!, stdErr: result.structures[i].uncertainty! };
    const stdErr: Record<string, number | null> = {};
    for (const [k, v] of Object.entries(u.stdErr)) stdErr[k] = num(v);
    // after meanGy in the JSON order (readers scanning a structure see them together)
    const entries = Object.entries(s);
    const at = entries.findIndex(([k]) => k === 'meanGy') + 1;
    entries.splice(at, 0, ['meanGyRelStdErr', num(u.meanGyRelStdErr)]);
    entries.push(['uncertainty', { kind: mc.combination?.uncertaintyKind ?? 'standard error (batch method)', ...stdErr }]);
    for (const k of Object.keys(s)) delete s[k];
    Object.assign(s, Object.fromEntries(entries));
  });
  const p = mc.provenance;
  // "mc" after "structures" (before "warnings" and "provenance")
  const mcJson = {
    seed: p.seed,
    histories: p.histories,
    batches: p.batches,
    batchHistories: p.batchHistories,
    mode: p.mode,
    ...(p.mode === 'target'
      ? {
          target: {
            relStdErr: p.targetRelStdErr,
            maxHistories: p.maxHistories,
            reached: !p.capReached,
            structures: p.targetStructures,
            excluded: p.targetExcluded,
            // importance sampling of the decay source towards these structures (null: analog, note says why)
            sourceBiasing: p.sourceBiasing ?? null,
            ...(p.sourceBiasingNote ? { sourceBiasingNote: p.sourceBiasingNote } : {}),
            rule: `every structure of ${MC_TARGET_MIN_VOLUME_ML} mL or more whose mean dose is at least ${100 * MC_TARGET_MIN_DOSE_SHARE} % of the largest structure mean`,
          },
        }
      : {}),
    decaysInField: p.decaysInField,
    tallyUnitMeV: p.tallyUnitMeV,
    tally: 'each deposit rounded to an integer number of tallyUnitMeV and added exactly (f64 integers on the CPU, 64-bit integer pairs on WebGPU): reruns are byte-identical; the unit keeps one batch below 2^52 units per voxel and one deposit below 2^32',
    cutoffs: p.cutoffs,
    physics: p.physics,
    tablesVersion: p.tablesVersion,
    emissions: p.emissions,
    materials: p.materials,
    energyBalance: p.energyBalance,
    uncertaintyMethod: p.uncertaintyMethod,
    uncertaintyFile: MC_UNCERTAINTY_FILE,
    backend: p.backend,
    // plan --territories: the independent runs whose sum the dose is (src/plan/territory-mc.ts)
    ...(mc.combination ? { runs: mc.combination.runs } : {}),
    // no timings here: report.json of a rerun with the same seed is byte-identical (histories/s go to stdout)
  };
  const entries = Object.entries(report);
  const at = entries.findIndex(([k]) => k === 'structures') + 1;
  entries.splice(at, 0, ['mc', mcJson]);
  for (const k of Object.keys(report)) delete report[k];
  Object.assign(report, Object.fromEntries(entries));
}

/** DIR/dose_uncertainty.nii.gz of a Monte Carlo case (none for other methods). */
export async function mcUncertaintyFile(outDir: string, result: DoseCaseResult): Promise<{ path: string; data: Uint8Array } | undefined> {
  if (!result.mc) return undefined;
  const { encodeNiftiAsync } = await import('../../io/index.ts');
  return { path: join(outDir, MC_UNCERTAINTY_FILE), data: await encodeNiftiAsync(result.mc.relStdErr, { description: 'MC dose rel. std. error (batch)' }) };
}
