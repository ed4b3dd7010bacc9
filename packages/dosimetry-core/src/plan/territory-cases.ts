/**
 * From scouts to the dose cases of a multi-territory plan: one dose case per territory at 1 GBq administered to it
 * (the coefficients of the problem come from them, src/plan/territory-problem.ts), and the combined case at the
 * planned activities.
 *
 * Each territory's activity distribution (at 1 GBq, with its isotope):
 * - a territory on the shared scout (--activity): the scout restricted to its perfused structure, weight w_t per
 *   voxel (partial volume); where perfused structures overlap (sum of weights S > 1) a voxel's counts are shared
 *   equally, w_t / S each, so that the territories' distributions add up to the scout inside the perfused union;
 * - a territory with its own scout: that image restricted to its perfused structure (weights w_t);
 * then normalised so that its liver part holds (1 - LSF_t) GBq (the territory receives A_t (1 - LSF_t)). The scout's
 * lung counts (inside --lung, outside every perfused structure) carry LSF_t GBq with the scout's lung distribution, so
 * that the dose map's lung dose is the one the lung shunt gives (CF A LSF / M_L). Counts elsewhere (extrahepatic
 * uptake, scatter, liver outside every territory) are attributed to no territory: their share is reported and warned
 * about beyond 5 %.
 * LSF_t: the territory's own "lungShuntFraction", else --lung-shunt-fraction, else measured on its scout as `plan`
 * does (LSF = C_lung / (C_lung + C_liver), src/dose/calibration.ts).
 * The coefficients and rows of the planning problem: src/plan/territory-problem.ts.
 *
 * Monte Carlo (`--method mc`): each territory's case at 1 GBq is its own Monte Carlo run under the plan's seed, on its
 * own range of histories (territory t: histories t x 2^44 + 0, 1, ..., MC_TERRITORY_HISTORY_STRIDE of src/mc/batches.ts),
 * so the runs draw disjoint Philox counters and are statistically independent; the reference case, which only gives
 * the structures, densities and roles, is computed by LDM (its dose is never used). The combined case's uncertainty:
 * ./territory-mc.ts.
 */
import { InputError } from '../errors.ts';
import { calibrateActivity } from '../dose/calibration.ts';
import { computeDoseCase, findMask, type DoseCaseOptions, type DoseCaseResult } from '../dose/pipeline.ts';
import { BQ_PER_GBQ, type Isotope } from '../units/index.ts';
import { voxelCount, voxelVolumeMl } from '../volume/geometry.ts';
import { maskExtent, type GridStructure } from '../volume/structure.ts';
import type { Volume } from '../volume/volume.ts';
import { MC_TERRITORY_HISTORY_STRIDE } from '../mc/batches.ts';
import { DEVICE_PRESETS } from './devices.ts';
import { caseCompartments, combine, withDoseMaps, type CaseCompartments } from './image.ts';
import type { TerritorySpec } from './territory-file.ts';

/** Counts attributed to no territory beyond this share of a scout are warned about (as `dose` does outside the liver). */
export const UNATTRIBUTED_WARN_FRACTION = 0.05;
/** A perfused structure with more than this share of its volume outside the liver is refused. */
export const MAX_PERFUSED_OUTSIDE_LIVER = 0.05;

/** A territory and its own scout, if any (counts, already on the plan's grid). */
export interface TerritoryScoutInput {
  readonly spec: TerritorySpec;
  readonly ownScout?: Volume;
}

/** Options of {@link computeTerritoryCases}. */
export interface TerritoryCasesOptions {
  /**
   * Dose options of the plan's reference image, as for `plan`: counts at 1 GBq administered, roles, segmentations,
   * CT, method, back end, --lung-shunt-fraction. Its activity is the shared scout when `sharedScout` is true, else
   * the first territory's own scout.
   */
  readonly base: DoseCaseOptions;
  readonly sharedScout: boolean;
  readonly territories: readonly TerritoryScoutInput[];
  /** Lung mass [g] for the lung dose (--lung-mass-g); default: the lung structure's, else 1000 g. */
  readonly lungMassG?: number;
  readonly onProgress?: (message: string) => void;
}

/** One territory's dose case at 1 GBq administered to it. */
export interface TerritoryCase {
  readonly spec: TerritorySpec;
  readonly isotope: Isotope;
  readonly result: DoseCaseResult;
  readonly compartments: CaseCompartments;
  readonly lungShuntFraction: number;
  readonly lungShuntFractionSource: string;
  /** "shared" (the --activity scout) or the path of its own scout. */
  readonly scout: string;
  /** Its perfused structure on the grid (the liver structure when it names the liver). */
  readonly perfused: GridStructure;
  /** Its perfused normal liver (perfused minus tumours) on the grid. */
  readonly perfusedNormal: GridStructure;
}

/** A scout image and the share of its counts that no territory takes. */
export interface ScoutSummary {
  readonly image: string;
  readonly territories: readonly string[];
  /** Share of the scout's counts outside every perfused structure (and the lungs). */
  readonly unattributedCountsFraction: number;
}

/** The territories' cases and what the problem needs from them. */
export interface TerritoryCases {
  /** The reference image's case (structures, densities and roles of the plan; the combined case is built on it). */
  readonly reference: DoseCaseResult;
  readonly cases: readonly TerritoryCase[];
  readonly scouts: readonly ScoutSummary[];
  /** Lesions (split lesions when the case split them, else the tumours), in the compartments' order. */
  readonly lesions: readonly GridStructure[];
  readonly allTumor: GridStructure;
  readonly wholeNormal: GridStructure;
  readonly warnings: readonly string[];
}

/** Per-entry mass of a structure's part of each voxel [g] (CT part masses when given, else weight x density). */
function entryMassesG(result: DoseCaseResult, s: GridStructure): Float64Array {
  const vVox = voxelVolumeMl(result.dose.geometry), rho = result.densityGPerMl;
  const out = new Float64Array(s.voxelIndices.length);
  for (let n = 0; n < out.length; n++) {
    out[n] = vVox * (s.partMassGPerMl ? s.partMassGPerMl[n] : s.weights[n] * Math.max(0, typeof rho === 'number' ? rho : rho[s.voxelIndices[n]]));
  }
  return out;
}

/** Mass two structures share [g]: sum over common voxels of min(m_a, m_b) (voxel indices ascending in both). */
export function overlapMassG(result: DoseCaseResult, a: GridStructure, b: GridStructure): number {
  const ma = entryMassesG(result, a), mb = entryMassesG(result, b);
  let i = 0, j = 0, sum = 0;
  while (i < a.voxelIndices.length && j < b.voxelIndices.length) {
    const va = a.voxelIndices[i], vb = b.voxelIndices[j];
    if (va === vb) sum += Math.min(ma[i++], mb[j++]);
    else if (va < vb) i++;
    else j++;
  }
  return sum;
}

/** Volume two structures share, as a fraction of `a`'s volume (weights; for the outside-the-liver check). */
function sharedVolumeFraction(a: GridStructure, b: GridStructure): number {
  let i = 0, j = 0, both = 0, all = 0;
  for (let n = 0; n < a.weights.length; n++) all += a.weights[n];
  while (i < a.voxelIndices.length && j < b.voxelIndices.length) {
    const va = a.voxelIndices[i], vb = b.voxelIndices[j];
    if (va === vb) both += Math.min(a.weights[i++], b.weights[j++]);
    else if (va < vb) i++;
    else j++;
  }
  return all > 0 ? both / all : 0;
}

const tag = (spec: TerritorySpec) => `territory "${spec.name}"`;

/** The case's structures by role, as caseCompartments (src/plan/image.ts) finds them. */
function roleStructures(result: DoseCaseResult) {
  const pick = (pred: (i: number) => boolean) => result.gridStructures.filter((_, i) => pred(i));
  const role = (i: number) => result.structures[i].role;
  const tumors = pick((i) => role(i) === 'tumor' && result.structures[i].lesionOf === undefined);
  const split = pick((i) => role(i) === 'tumor' && result.structures[i].lesionOf !== undefined);
  const liver = pick((i) => role(i) === 'liver')[0];
  const nVox = voxelCount(result.dose.geometry);
  const wholeNormal = pick((i) => role(i) === 'normal-liver')[0] ?? combine('Normal liver', 'derived', nVox, liver, tumors);
  return {
    liver,
    lung: pick((i) => role(i) === 'lung')[0],
    tumors,
    lesions: split.length ? split : tumors,
    allTumor: tumors.length === 1 ? tumors[0] : combine('All tumour', 'derived: union of the tumours', nVox, null, tumors),
    wholeNormal,
  };
}

/**
 * Computes every territory's dose case at 1 GBq (module comment): checks the perfused structures (found, not empty,
 * at most 5 % outside the liver), measures each scout's LSF, builds each territory's activity distribution and runs
 * the dose pipeline on it. Throws InputError naming the territory for a bad structure or a scout without counts in it.
 */
export async function computeTerritoryCases(opts: TerritoryCasesOptions): Promise<TerritoryCases> {
  const { base } = opts;
  const progress = opts.onProgress ?? (() => {});
  const warnings: string[] = [];
  for (const { spec } of opts.territories) {
    let mask;
    try {
      mask = findMask(base.segmentations, spec.perfused, 'perfused');
    } catch (err) {
      throw new InputError(`${tag(spec)}: ${(err as Error).message}`);
    }
    if (!maskExtent(mask)) throw new InputError(`${tag(spec)}: its perfused structure "${spec.perfused}" (${mask.origin}) is empty: it has no voxel inside it; check the segmentation`);
    const role = (base.tumors ?? []).includes(spec.perfused) ? '--tumor' : spec.perfused === base.lung ? '--lung' : undefined;
    if (role) throw new InputError(`${tag(spec)}: its perfused structure "${spec.perfused}" is given as ${role}; a territory is the liver volume one catheter position feeds`);
  }

  progress('reference case: the structures on the scout grid');
  // --method mc: the reference's dose is replaced by the territories' sum, so it need not be simulated (LDM)
  const reference = await computeDoseCase(base.method === 'mc' ? { ...base, method: 'ldm', mc: undefined } : base);
  // The reference case normalises its image to the liver; its warning about counts outside that structure does not
  // apply here (counts outside every territory are attributed to none, and said below).
  warnings.push(...reference.warnings.filter((w) => !/of the counts lie outside the normalisation structure/.test(w)));
  const roles = roleStructures(reference);
  const grid = reference.dose.geometry;
  const nVox = voxelCount(grid), vVoxMl = voxelVolumeMl(grid);
  const structureNamed = (name: string) => {
    const i = reference.structures.findIndex((s) => s.name === name && s.lesionOf === undefined && !s.origin.startsWith('derived'));
    if (i < 0) throw new InputError(`structure "${name}" is not among the case's structures`);
    return reference.gridStructures[i];
  };
  const perfusedOf = opts.territories.map(({ spec }) => (spec.perfused === base.liver ? roles.liver : structureNamed(spec.perfused)));
  opts.territories.forEach(({ spec }, t) => {
    const inside = sharedVolumeFraction(perfusedOf[t], roles.liver);
    if (1 - inside > MAX_PERFUSED_OUTSIDE_LIVER) {
      const liverName = reference.structures[reference.gridStructures.indexOf(roles.liver)].name;
      throw new InputError(
        `${tag(spec)}: ${(100 * (1 - inside)).toFixed(1)} % of its perfused structure "${spec.perfused}" lies outside the liver "${liverName}" (at most ${100 * MAX_PERFUSED_OUTSIDE_LIVER} %): a territory is a part of the liver; check that the right structure is named and that it is segmented on the same anatomy`,
      );
    }
  });

  // Shares of the shared scout's voxels: w_t / max(1, S), S = sum of the mask territories' weights.
  const maskTerritories = opts.territories.map((x, t) => (x.ownScout ? -1 : t)).filter((t) => t >= 0);
  let sumW: Float32Array | undefined;
  if (maskTerritories.length > 0) {
    sumW = new Float32Array(nVox);
    for (const t of maskTerritories) {
      const g = perfusedOf[t];
      for (let n = 0; n < g.voxelIndices.length; n++) sumW[g.voxelIndices[n]] += g.weights[n];
    }
  }
  const lung = roles.lung;
  const scouts: ScoutSummary[] = [];
  /** Counts of `image` in the union `taken` (0..1 per voxel) and in the lung part outside it. */
  const attribution = (image: ArrayLike<number>, taken: (v: number) => number) => {
    let total = 0;
    for (let v = 0; v < image.length; v++) total += image[v];
    let inside = 0;
    for (let v = 0; v < image.length; v++) {
      const u = taken(v);
      if (u > 0) inside += u * image[v];
    }
    const lungPart = new Float32Array(lung ? lung.voxelIndices.length : 0);
    let inLung = 0;
    if (lung) {
      for (let n = 0; n < lung.voxelIndices.length; n++) {
        const v = lung.voxelIndices[n];
        lungPart[n] = Math.max(0, Math.min(lung.weights[n], 1 - taken(v)));
        inLung += lungPart[n] * image[v];
      }
    }
    return { unattributed: total > 0 ? (total - inside - inLung) / total : 0, lungPart, inLung };
  };
  const sharedAttribution = opts.sharedScout && sumW ? attribution(base.activity.data, (v) => Math.min(1, sumW![v])) : undefined;
  if (sharedAttribution) scouts.push({ image: 'shared (--activity)', territories: maskTerritories.map((t) => opts.territories[t].spec.name), unattributedCountsFraction: sharedAttribution.unattributed });

  const cases: TerritoryCase[] = [];
  for (let t = 0; t < opts.territories.length; t++) {
    const { spec, ownScout } = opts.territories[t];
    const isotope = DEVICE_PRESETS[spec.device].isotope;
    const image = ownScout ? ownScout.data : base.activity.data;
    const perf = perfusedOf[t];
    // Its distribution: the liver part (w_t, shared where territories overlap) and the lung part.
    const att = ownScout ? attribution(image, (v) => weightAt(perf, v)) : sharedAttribution!;
    if (ownScout) scouts.push({ image: spec.activityPath!, territories: [spec.name], unattributedCountsFraction: att.unattributed });
    const data = new Float32Array(nVox);
    let liverCounts = 0;
    for (let n = 0; n < perf.voxelIndices.length; n++) {
      const v = perf.voxelIndices[n];
      const share = ownScout || sumW![v] <= 1 ? perf.weights[n] : perf.weights[n] / sumW![v];
      const c = image[v] * share;
      data[v] = c;
      liverCounts += c;
    }
    if (!(liverCounts > 0)) {
      throw new InputError(`${tag(spec)}: its perfused structure "${spec.perfused}" holds no counts on its scout (sum ${liverCounts}): the territory receives nothing; check the structure and the scout`);
    }
    // LSF: the territory's own, else the plan's (given or measured on the shared scout), else measured on its scout.
    let lsf: number, lsfSource: string;
    if (spec.lungShuntFraction !== undefined) {
      lsf = spec.lungShuntFraction;
      lsfSource = 'given (territories file)';
    } else if (!ownScout) {
      lsf = reference.lungShuntFraction;
      lsfSource = `${reference.lungShuntFractionSource} (shared scout)`;
    } else {
      const cal = calibrateActivity(ownScout, {
        unit: 'counts', isotope, administeredGBq: 1, normalizeTo: perf, lungShuntFraction: base.lungShuntFraction, lung, liver: roles.liver,
      });
      lsf = cal.lungShuntFraction;
      lsfSource = `${cal.lungShuntFractionSource} (own scout)`;
      warnings.push(...cal.warnings.map((w) => `${tag(spec)}: ${w}`));
    }
    // the liver part carries (1 - LSF) GBq: the same expression as the counts calibration (src/dose/calibration.ts)
    const liverScale = (BQ_PER_GBQ * (1 - lsf)) / liverCounts / vVoxMl;
    for (let n = 0; n < perf.voxelIndices.length; n++) data[perf.voxelIndices[n]] *= liverScale;
    if (lung && att.inLung > 0 && lsf > 0) {
      const lungScale = (BQ_PER_GBQ * lsf) / att.inLung / vVoxMl;
      for (let n = 0; n < lung.voxelIndices.length; n++) {
        const v = lung.voxelIndices[n];
        data[v] += image[v] * att.lungPart[n] * lungScale;
      }
    }
    progress(`${tag(spec)}: dose case at 1 GBq (${isotope})`);
    const perfusedRole = spec.perfused === base.liver ? undefined : spec.perfused;
    const result = await computeDoseCase({
      ...base,
      activity: { geometry: grid, data },
      activityUnit: 'bq-per-ml',
      scanDelayH: 0,
      administeredGBq: undefined,
      normalizeTo: undefined,
      restrictTo: undefined,
      lungShuntFraction: lsf,
      isotope,
      perfused: perfusedRole,
      onStructuresReady: undefined,
      // Monte Carlo: territory t on its own range of histories (module comment)
      ...(base.method === 'mc' ? { mc: { ...base.mc, historyOffset: t * MC_TERRITORY_HISTORY_STRIDE } } : {}),
    });
    // The territory's own image is the reference's (shared scout, or the first own scout): its warnings are said once.
    const sameImage = ownScout ? ownScout === base.activity : true;
    if (!sameImage) for (const w of result.warnings) if (!warnings.includes(w)) warnings.push(`${tag(spec)} (own scout): ${w}`);
    let compartments: CaseCompartments;
    try {
      compartments = caseCompartments({ result, isotope, lungMassG: opts.lungMassG });
    } catch (err) {
      throw new InputError(`${tag(spec)}: ${(err as Error).message}`);
    }
    for (const w of compartments.warnings) if (!warnings.includes(w)) warnings.push(w);
    const perfusedNormal = perfusedRole === undefined ? roles.wholeNormal : combine('Perfused normal liver', `derived: ${spec.perfused} minus tumours`, nVox, perf, roles.tumors);
    cases.push({ spec, isotope, result, compartments, lungShuntFraction: lsf, lungShuntFractionSource: lsfSource, scout: ownScout ? spec.activityPath! : 'shared', perfused: perf, perfusedNormal });
  }
  for (const s of scouts) {
    if (s.unattributedCountsFraction > UNATTRIBUTED_WARN_FRACTION) {
      warnings.push(
        `${(100 * s.unattributedCountsFraction).toFixed(1)} % of the counts of the ${s.image === 'shared (--activity)' ? 'shared scout' : `scout ${s.image}`} lie outside every perfused structure${lung ? ' and the lungs' : ''} (extrahepatic uptake, scatter, or liver no territory feeds): they are given to no territory (no dose); if that uptake is real, enlarge the perfused structure of the territory that feeds it`,
      );
    }
  }
  return { reference, cases, scouts, lesions: roles.lesions, allTumor: roles.allTumor, wholeNormal: roles.wholeNormal, warnings };
}

/** Weight of a structure at voxel v (binary search in its ascending indices); 0 outside. */
function weightAt(s: GridStructure, v: number): number {
  let lo = 0, hi = s.voxelIndices.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const x = s.voxelIndices[mid];
    if (x === v) return s.weights[mid];
    if (x < v) lo = mid + 1;
    else hi = mid - 1;
  }
  return 0;
}

/**
 * The plan's combined case at the planned activities: dose and activity sum_t A_t x the territory's map at 1 GBq
 * (float64 sums per voxel, stored float32), every structure's statistics recomputed on the reference case's back end
 * (DVH and V-values are not linear in the activities).
 */
export async function combineTerritoryCases(reference: DoseCaseResult, cases: readonly TerritoryCase[], activitiesGBq: readonly number[]): Promise<DoseCaseResult> {
  const n = reference.dose.data.length;
  const dose = new Float32Array(n), act = new Float32Array(n);
  const dAcc = new Float64Array(n), aAcc = new Float64Array(n);
  cases.forEach((c, t) => {
    const A = activitiesGBq[t];
    if (A === 0) return;
    const d = c.result.dose.data, a = c.result.activityBqPerMl;
    for (let v = 0; v < n; v++) {
      dAcc[v] += A * d[v];
      aAcc[v] += A * a[v];
    }
  });
  dose.set(dAcc);
  act.set(aAcc);
  const total = activitiesGBq.reduce((s, a) => s + a, 0);
  let combined = await withDoseMaps(reference, dose, act, { activityInFieldGBq: cases.reduce((s, c, t) => s + activitiesGBq[t] * c.result.activityInFieldGBq, 0) });
  if (cases.length > 0 && cases.every((c) => c.result.mc)) {
    // --method mc: the uncertainty of the sum of the territories' independent runs (./territory-mc.ts)
    const { combineTerritoryMc } = await import('./territory-mc.ts');
    const runs = cases.map((c) => ({ name: c.spec.name, result: c.result }));
    const mc = combineTerritoryMc(combined, runs, activitiesGBq);
    const u = await mc.rescaledStructures(1);
    const first = cases[0].result.structures;
    combined = {
      ...combined,
      structures: combined.structures.map((s, i) => ({ ...s, doseMethod: first[i]?.doseMethod ?? s.doseMethod, meanGyRelStdErr: u[i].meanGyRelStdErr, uncertainty: u[i].stdErr })),
      mc,
    };
  }
  return {
    ...combined,
    lungShuntFraction: total > 0 ? cases.reduce((s, c, t) => s + activitiesGBq[t] * c.lungShuntFraction, 0) / total : 0,
    lungShuntFractionSource: 'territories: sum_t A_t LSF_t / sum_t A_t',
    warnings: [],
  };
}
