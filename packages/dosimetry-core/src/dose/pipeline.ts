/**
 * The dose pipeline: calibrated activity + structures -> voxel dose map + per-structure statistics.
 * Model code: it never touches GPU resources itself; the back end (CPU or WebGPU) does the voxel work.
 */
import { InputError } from '../errors.ts';
import { AIR_DENSITY_THRESHOLD_G_PER_ML, DEFAULT_LUNG_DENSITY_G_PER_ML, DEFAULT_SOFT_TISSUE_DENSITY_G_PER_ML, type Isotope, NUCLIDES, BQ_PER_GBQ } from '../units/index.ts';
import { type Geometry, voxelCount, voxelVolumeMl, describeGrid, sameGrid } from '../volume/geometry.ts';
import { type MaskResampleOptions, gridCovering, maskToGrid } from '../volume/resample.ts';
import { checkCtIsHounsfield, ctDensityOnGrid, huToDensityGPerMl, structureMassParameters } from './ct-density.ts';
import { ExtentBuilder, type GridStructure, type StructureMask, maskExtent, rememberMaskExtent } from '../volume/structure.ts';
import type { Volume } from '../volume/volume.ts';
import { ACTIVITY_WARN_NEGATIVE_FRACTION, type ActivityUnit, calibrateActivity, checkActivityValues, structureSum } from './calibration.ts';
import { equivalentSphereDiameterMm, splitLesions } from './lesions.ts';
import { asMemoryError, assertMemoryFor } from './memory.ts';
import { SOFTWARE_ADAPTER_NOT_USED, selectBackend, type BackendChoice, type DoseBackend } from './backend.ts';
import type { StructureDoseStats } from '../stats/index.ts';
import type { McDoseProvenance, McHistoryPlan, McKeptBatches, McStructureUncertainty } from '../mc/run.ts';

export type StructureRole = 'liver' | 'tumor' | 'normal-liver' | 'lung' | 'perfused' | 'other';
export type DoseMethod = 'ldm' | 'dvk' | 'mc';

/** Monte Carlo settings (`--method mc`; src/mc/run.ts). */
export interface McCaseOptions {
  /** Philox seed (default 1). */
  readonly seed?: number;
  /** A number of histories (default 1e6) or a target relative standard error of the structures' mean doses. */
  readonly plan?: McHistoryPlan;
  /** Index of the first history (default 0): plan --territories gives each territory its own range (src/mc/batches.ts). */
  readonly historyOffset?: number;
}

/** A segmentation as given on the command line: its masks and the file they came from. */
export interface SegmentationInput {
  readonly path: string;
  readonly masks: readonly StructureMask[];
}

export interface DoseCaseOptions {
  readonly activity: Volume;
  readonly activityUnit: ActivityUnit;
  readonly isotope: Isotope;
  readonly method: DoseMethod;
  readonly segmentations: readonly SegmentationInput[];
  /** Structure names by role (as given by --liver, --tumor, --lung, --perfused). */
  readonly liver: string;
  readonly tumors?: readonly string[];
  readonly lung?: string;
  readonly perfused?: string;
  /** counts: administered activity [GBq] and the structure it is normalised to (default: the liver). */
  readonly administeredGBq?: number;
  readonly normalizeTo?: string;
  /**
   * Structure outside which the activity is set to zero (`--restrict-to`), e.g. the liver when a scout SPECT shows
   * extrahepatic uptake or scatter that is not to be planned as microspheres. Partial-volume voxels keep their share.
   */
  readonly restrictTo?: string;
  readonly lungShuntFraction?: number;
  /** Hours from implant to the activity scan (bq-per-ml images are carried back to implant time). */
  readonly scanDelayH?: number;
  /** CT in HU on any grid; densities rho = (HU + 1000) / 1000 g/mL. */
  readonly ct?: Volume;
  /** Soft-tissue density [g/mL] where no CT is given (default 1.05, ../shared/PHYSICS.md). */
  readonly tissueDensityGPerMl?: number;
  /** Lung density [g/mL] inside the lung structure where no CT is given (default 0.30). */
  readonly lungDensityGPerMl?: number;
  readonly splitLesions?: boolean;
  readonly backend?: BackendChoice;
  /** Partial-volume mode for masks brought onto the activity grid. */
  readonly maskMode?: 'fractional' | 'nearest';
  /** Number of bins of the DVH histogram. */
  readonly dvhBins?: number;
  /** Progress messages (stderr in the CLI). */
  readonly onProgress?: (message: string) => void;
  /**
   * Called once with the structures that will be reported (as in DoseCaseResult.gridStructures), before the dose is
   * awaited: work that needs only them (the CLI encodes structures.seg.nrrd) can run while a convolution does.
   */
  readonly onStructuresReady?: (structures: readonly GridStructure[]) => void;
  /**
   * Called once with the final dose map (DoseCaseResult.dose), before the statistics: work that needs only it (the
   * CLI compresses dose.nii.gz in the thread pool) runs while they are computed. The map is not changed afterwards.
   */
  readonly onDoseReady?: (dose: Volume<Float32Array>) => void;
  /** `method: 'mc'`: seed and histories. */
  readonly mc?: McCaseOptions;
}

export interface StructureReport extends StructureDoseStats {
  readonly name: string;
  readonly role: StructureRole;
  readonly origin: string;
  /** Fraction of the structure's volume outside the activity field of view (0..1). */
  readonly fractionOutsideFov: number;
  readonly densitySource: 'ct' | 'tissue-default' | 'lung-default' | 'mixed-default';
  readonly doseMethod: DoseMethod;
  /** Split lesions: the tumour structure they come from, and their volume-equivalent sphere diameter. */
  readonly lesionOf?: string;
  readonly equivalentDiameterMm?: number;
  /** `mc`: relative standard error of the mean dose, and the standard error of every statistic (batch method). */
  readonly meanGyRelStdErr?: number;
  readonly uncertainty?: McStructureUncertainty['stdErr'];
}

/** What a Monte Carlo dose adds to a case (`method: 'mc'`). */
export interface DoseCaseMc {
  /** Relative standard error of each voxel's dose (0 where the dose is 0), on the dose grid. */
  readonly relStdErr: Volume<Float32Array>;
  readonly provenance: McDoseProvenance;
  /** The structures' uncertainties with every dose multiplied by `factor` (same order as `structures`). */
  rescaledStructures(factor: number): Promise<McStructureUncertainty[]>;
  /** The run's batch maps on its structures' voxels (sums of independent runs: plan --territories); absent for a sum. */
  readonly keptBatches?: McKeptBatches;
  /** A combination of several runs (plan --territories): how the structures' standard errors were obtained, and the runs. */
  readonly combination?: { readonly uncertaintyKind: string; readonly uncertaintyMethod: string; readonly runs: ReadonlyArray<Record<string, unknown>> };
}

export interface DoseCaseResult {
  readonly dose: Volume<Float32Array>;
  readonly activityBqPerMl: Float32Array;
  readonly densityGPerMl: number | Float32Array;
  readonly structures: StructureReport[];
  /** The reported structures on the activity grid (same order as `structures`), partial-volume weights. */
  readonly gridStructures: GridStructure[];
  readonly backend: 'webgpu' | 'cpu';
  /** Why that back end ran (asked for, or what auto found). */
  readonly backendReason: string;
  readonly activityInFieldGBq: number;
  readonly negativeActivityVoxelCount: number;
  readonly lungShuntFraction: number;
  readonly lungShuntFractionSource: string;
  readonly decayFactor: number;
  readonly warnings: string[];
  /** With a CT: how its densities were brought onto the grid and how much activity it covers (report parameters). */
  readonly ctParameters?: Record<string, unknown>;
  readonly timingsMs: Record<string, number>;
  /** `method: 'mc'`: the uncertainty map and the Monte Carlo provenance. */
  readonly mc?: DoseCaseMc;
}

/** Counts outside the normalisation structure (and the lungs) beyond this share are warned about. */
export const COUNTS_OUTSIDE_WARN_FRACTION = 0.05;
/** Bq/mL images holding more activity than this at implant are refused (no radioembolization exceeds ~20 GBq) [GBq]. */
export const MAX_PLAUSIBLE_FIELD_GBQ = 50;
/** Bq/mL images holding less than this at implant get a warning (a unit of kBq/mL or MBq/mL?) [GBq]. */
export const MIN_PLAUSIBLE_FIELD_GBQ = 0.005;

/** Finds a mask by name across all segmentations; errors list the names that exist. */
export function findMask(segs: readonly SegmentationInput[], name: string, role: string): StructureMask {
  const hits: StructureMask[] = [];
  for (const s of segs) for (const m of s.masks) if (m.name === name) hits.push(m);
  if (hits.length === 1) return hits[0];
  const all = segs.flatMap((s) => s.masks.map((m) => m.name));
  if (hits.length === 0) {
    const ci = all.filter((n) => n.toLowerCase() === name.toLowerCase());
    const hint = ci.length ? ` (did you mean "${ci[0]}"? names are case-sensitive)` : '';
    throw new InputError(`${role} structure "${name}" not found${hint}; the segmentations hold: ${all.map((n) => `"${n}"`).join(', ')}`);
  }
  throw new InputError(`structure name "${name}" appears in ${hits.length} segmentations (${hits.map((h) => h.origin).join('; ')}); rename one so that --${role} is unambiguous`);
}

/**
 * Computes the dose map and the per-structure report of one case. A grid too large for the machine's memory is
 * refused before any work, and an allocation that fails on the way becomes a MemoryError naming the grid.
 */
export async function computeDoseCase(opts: DoseCaseOptions): Promise<DoseCaseResult> {
  await assertMemoryFor(opts.activity.geometry, opts.method);
  try {
    return await computeDoseCaseUnchecked(opts);
  } catch (err) {
    throw asMemoryError(err, opts.activity.geometry, opts.method);
  }
}

async function computeDoseCaseUnchecked(opts: DoseCaseOptions): Promise<DoseCaseResult> {
  const t: Record<string, number> = {};
  const tick = (name: string, t0: number) => (t[name] = Math.round(performance.now() - t0));
  const progress = opts.onProgress ?? (() => {});
  const warnings: string[] = [];
  const grid: Geometry = opts.activity.geometry;
  const vVoxMl = voxelVolumeMl(grid);
  const tissueRho = opts.tissueDensityGPerMl ?? DEFAULT_SOFT_TISSUE_DENSITY_G_PER_ML;
  const lungRho = opts.lungDensityGPerMl ?? DEFAULT_LUNG_DENSITY_G_PER_ML;
  // soft tissue is 0.9-1.1 g/mL (bone 1.9), inflated lung 0.2-0.4: beyond these bounds a value is a slip (kg/m^3?)
  for (const [n, v, lo, hi] of [['--density', tissueRho, 0.3, 3], ['--lung-density', lungRho, 0.05, 1.2]] as const) {
    if (!Number.isFinite(v) || v < lo || v > hi) throw new InputError(`${n} ${v} g/mL is not a plausible density for it: give a value in ${lo}-${hi} g/mL (soft tissue 1.05, lung 0.30)`);
  }
  if (opts.method !== 'ldm' && opts.method !== 'dvk' && opts.method !== 'mc') throw new InputError(`unknown method "${opts.method}": use ldm or dvk, or mc for Monte Carlo`);

  let t0 = performance.now();
  const check = checkActivityValues(opts.activity.data, 'activity image');
  if (check.negativeVoxelCount > 0) {
    const share = -check.negativeSum / check.positiveSum;
    warnings.push(
      `${check.negativeVoxelCount} voxels of the activity image are negative (image noise), summing to ${(100 * share).toFixed(share < 0.001 ? 3 : 1)} % of the positive values; they are kept so that means stay unbiased` +
        (share > ACTIVITY_WARN_NEGATIVE_FRACTION ? ': that is a large share, which lowers the mean dose of the regions they lie in; check the reconstruction and the image offset' : ''),
    );
  }
  // a label map, densities or an emission image given as CT would give wrong masses: refused before any work
  if (opts.ct) checkCtIsHounsfield(opts.ct);

  // 1. Structures named by role, and every other segment (role 'other').
  const roleOf = new Map<StructureMask, StructureRole>();
  const named = (name: string | undefined, role: StructureRole, optName: string) => {
    if (name === undefined) return undefined;
    const m = findMask(opts.segmentations, name, optName);
    if (roleOf.has(m) && roleOf.get(m) !== role) {
      throw new InputError(`structure "${name}" is given for two roles (${roleOf.get(m)} and ${role}); each structure has one role`);
    }
    roleOf.set(m, role);
    return m;
  };
  const liverMask = named(opts.liver, 'liver', 'liver')!;
  const tumorMasks = (opts.tumors ?? []).map((n) => named(n, 'tumor', 'tumor')!);
  const lungMask = named(opts.lung, 'lung', 'lung');
  const perfusedMask = named(opts.perfused, 'perfused', 'perfused');
  // A label map gives each voxel one label: there the liver label excludes the tumours, and the whole liver (the
  // structure that holds A (1 - LSF) for counts, and the LSF's liver) is the union of the liver and the tumours.
  const outside = tumorMasks.filter((tm) => fractionInside(tm, liverMask) < 0.5);
  let wholeLiver: StructureMask | undefined;
  if (outside.length > 0) {
    wholeLiver = unionMask('Whole liver', liverMask, tumorMasks);
    roleOf.set(liverMask, 'other');
    roleOf.set(wholeLiver, 'liver');
    warnings.push(
      `tumour${outside.length > 1 ? 's' : ''} ${outside.map((m) => `"${m.name}"`).join(', ')} lie${outside.length > 1 ? '' : 's'} mostly outside the liver structure "${liverMask.name}" (a label map gives each voxel one label): "${liverMask.name}" is reported as given (role other) and the derived "Whole liver" (${wholeLiver.origin.replace('derived: ', '')}) takes the liver role${opts.normalizeTo === undefined && opts.activityUnit === 'counts' ? ', which carries the counts normalisation and the lung shunt' : ''}`,
    );
  }
  const normalizeMask = opts.normalizeTo !== undefined ? findMask(opts.segmentations, opts.normalizeTo, 'normalize-to') : wholeLiver ?? liverMask;

  // With a CT, a mask finer than the activity voxels is brought onto the grid together with the CT's densities, giving
  // each voxel the mass of the structure's own part of it (GridStructure.partMassGPerMl). Where the CT does not reach,
  // the densities used without a CT: the lung density for the lung structure, the default map for the others.
  const massSubsamplesOf = new Map<string, readonly number[]>();
  const resampleOptions = (m: StructureMask): MaskResampleOptions => ({
    mode: opts.maskMode ?? 'fractional',
    ...(opts.ct ? { density: { image: opts.ct, transform: huToDensityGPerMl, outsideGPerMl: m === lungMask ? lungRho : defaultDensity() } } : {}),
  });
  const resample = (m: StructureMask) => {
    const res = maskToGrid(m, grid, resampleOptions(m));
    if (res.massSubsamples) massSubsamplesOf.set(m.name, res.massSubsamples);
    return res;
  };
  const onGrid = new Map<StructureMask, { s: GridStructure; out: number }>();
  const outsideSaid = new Set<StructureMask>();
  /** The mask on the activity grid (made once); `quiet`: do not say yet how much of it lies outside the field of view. */
  const toGrid = (m: StructureMask, quiet = false) => {
    let r = onGrid.get(m);
    if (!r) {
      const res = resample(m);
      r = { s: res.structure, out: res.fractionOutsideFov };
      onGrid.set(m, r);
    }
    if (!quiet && !outsideSaid.has(m)) {
      outsideSaid.add(m);
      if (r.out > 0.01) {
        warnings.push(`structure "${m.name}": ${(100 * r.out).toFixed(1)} % of its volume lies outside the activity field of view and is not counted`);
      }
    }
    return r;
  };
  // Densities without a CT (and outside a CT's field of view): soft tissue, the lung density inside the lung structure.
  let noCtDensity: number | Float32Array | undefined;
  const defaultDensity = (): number | Float32Array => {
    if (noCtDensity !== undefined) return noCtDensity;
    noCtDensity = tissueRho;
    if (lungMask) {
      const rho = new Float32Array(voxelCount(grid)).fill(tissueRho);
      const s = toGrid(lungMask).s;
      for (let n = 0; n < s.voxelIndices.length; n++) {
        const w = s.weights[n];
        rho[s.voxelIndices[n]] = w * lungRho + (1 - w) * tissueRho;
      }
      noCtDensity = rho;
    }
    return noCtDensity;
  };

  // --restrict-to: the activity outside a structure is set to zero (before any dose, DVK convolution included).
  let activity: Volume = opts.activity;
  if (opts.restrictTo !== undefined) {
    const rm = opts.restrictTo === opts.liver && wholeLiver ? wholeLiver : findMask(opts.segmentations, opts.restrictTo, 'restrict-to');
    const s = toGrid(rm).s;
    const data = new Float32Array(voxelCount(grid));
    const src = opts.activity.data;
    for (let n = 0; n < s.voxelIndices.length; n++) data[s.voxelIndices[n]] = s.weights[n] * src[s.voxelIndices[n]];
    const kept = structureSum(src, s);
    const share = 1 - kept / check.sum;
    warnings.push(
      `--restrict-to "${rm.name}": the activity outside it is set to zero; ${(100 * share).toFixed(1)} % of the image's ${opts.activityUnit === 'counts' ? 'counts' : 'activity'} lay outside and is not given any dose`,
    );
    if (!(kept > 0)) throw new InputError(`--restrict-to "${rm.name}": the structure holds no activity (sum ${kept}); choose the structure the microspheres were given to`);
    activity = { geometry: grid, data };
  }

  // 2. The back end; for DVK the convolution starts now, on the activity as read: dose is linear in activity, so the
  //    calibration factor (known once the structures are on the grid, for counts) is applied to its result. On the
  //    CPU it runs on worker threads, on WebGPU on the device, while this thread brings the structures onto the grid.
  const backend = await selectBackend(opts.backend ?? 'auto', { method: opts.method, voxels: voxelCount(grid) });
  let softDose: Promise<Float32Array> | undefined;
  let softStartMs = 0;
  let running: () => void = () => {};
  const handedOver = new Promise<void>((resolve) => (running = resolve));
  if (opts.method === 'dvk') {
    progress(`starting the DVK convolution on the ${backend.name} back end (${describeGrid(grid)})`);
    softStartMs = performance.now();
    softDose = backend.dvkSoftTissue({
      activityBqPerMl: activity.data instanceof Float32Array ? activity.data : new Float32Array(activity.data),
      isotope: opts.isotope,
      geometry: grid,
      tissueDensityGPerMl: tissueRho,
      onProgress: progress,
      background: true,
      onRunning: () => running(),
      onWarning: (w) => warnings.push(w),
    });
    softDose.then(
      () => running(),
      () => running(), // a failure is reported where the dose is awaited (or not at all if an input error comes first)
    );
    // let its set-up (kernel, decays, crop, shared memory) run until the convolution is on its own
    await handedOver;
  }

  progress('bringing structures onto the activity grid');
  const allMasks = [...opts.segmentations.flatMap((s) => s.masks), ...(wholeLiver ? [wholeLiver] : [])];
  // made largest first (binary structures share one buffer of unit weights, sized by the first: volume/structure.ts),
  // said in the masks' order
  for (const m of [...allMasks].sort((a, b) => (maskExtent(b)?.occupancySum ?? 0) - (maskExtent(a)?.occupancySum ?? 0))) toGrid(m, true);
  for (const m of allMasks) toGrid(m);
  tick('structuresMs', t0);

  // 3. Calibration.
  t0 = performance.now();
  const cal = calibrateActivity(activity, {
    unit: opts.activityUnit,
    isotope: opts.isotope,
    scanDelayH: opts.scanDelayH,
    administeredGBq: opts.administeredGBq,
    normalizeTo: toGrid(normalizeMask).s,
    lungShuntFraction: opts.lungShuntFraction,
    lung: lungMask ? toGrid(lungMask).s : undefined,
    liver: toGrid(wholeLiver ?? liverMask).s,
    // the lung shunt is measured on the image as acquired, before any --restrict-to
    lungShuntImage: opts.activity.data,
  });
  warnings.push(...cal.warnings);
  if (opts.activityUnit === 'counts' && opts.restrictTo === undefined) {
    // counts outside the normalisation structure (and the lungs, which the shunt accounts for) become real activity
    const inNorm = structureSum(opts.activity.data, toGrid(normalizeMask).s);
    const inLung = lungMask ? structureSum(opts.activity.data, toGrid(lungMask).s) : 0;
    const outsideShare = (check.sum - inNorm - inLung) / check.sum;
    if (outsideShare > COUNTS_OUTSIDE_WARN_FRACTION) {
      const extraGBq = ((outsideShare * check.sum * cal.scaleToBqPerMl * vVoxMl) / BQ_PER_GBQ);
      warnings.push(
        `${(100 * outsideShare).toFixed(1)} % of the counts lie outside the normalisation structure "${normalizeMask.name}"${lungMask ? ` and the lungs "${lungMask.name}"` : ''} (extrahepatic uptake, free pertechnetate, scatter or a mask that misses the liver): they are scaled as real activity, ${extraGBq.toFixed(3)} GBq beyond the ${opts.administeredGBq} GBq administered; give --restrict-to STRUCTURE (e.g. --restrict-to "${normalizeMask.name}") to set the activity outside it to zero`,
      );
    }
  }
  const fieldGBqAtImplant = (check.sum * cal.scaleToBqPerMl * vVoxMl) / BQ_PER_GBQ;
  if (opts.activityUnit === 'bq-per-ml') {
    if (fieldGBqAtImplant > MAX_PLAUSIBLE_FIELD_GBQ) {
      throw new InputError(
        `the activity image holds ${fieldGBqAtImplant.toPrecision(4)} GBq at implant (Bq/mL x ${vVoxMl.toPrecision(4)} mL voxels${cal.decayFactor !== 1 ? ` x decay factor ${cal.decayFactor.toFixed(4)}` : ''}), more than any radioembolization (at most ~20 GBq): check --activity-unit (counts?), the image's unit (kBq/mL?) and --scan-delay-h`,
      );
    }
    if (fieldGBqAtImplant < MIN_PLAUSIBLE_FIELD_GBQ) {
      warnings.push(
        `the activity image holds only ${(fieldGBqAtImplant * 1000).toPrecision(3)} MBq at implant: implausibly little for a radioembolization (typically 0.5-10 GBq); check that the image is in Bq/mL (not kBq/mL or MBq/mL) and quantitative`,
      );
    }
  }
  tick('calibrationMs', t0);

  // 4. Density.
  t0 = performance.now();
  let density = defaultDensity();
  let ctOnGrid = false;
  let ctParameters: Record<string, unknown> | undefined;
  if (opts.ct) {
    progress('averaging the CT densities over each activity voxel');
    const c = ctDensityOnGrid(opts.ct, grid, {
      activity: cal.activityBqPerMl,
      outsideGPerMl: density,
      outsideDescription: `the densities used without a CT (${tissueRho} g/mL${lungMask ? `, ${lungRho} g/mL inside the lung structure "${lungMask.name}"` : ''})`,
    });
    density = c.densityGPerMl;
    ctOnGrid = true;
    ctParameters = { ...c.parameters };
    warnings.push(...c.warnings);
  }
  tick('densityMs', t0);

  // 5. Structures to report: every mask, derived normal liver, split lesions. They do not depend on the dose, so they
  //    are derived (and handed to onStructuresReady) while a DVK convolution is still running.
  const entries: Array<{ s: GridStructure; role: StructureRole; out: number; lesionOf?: string; eqDiamMm?: number }> = [];
  for (const m of allMasks) {
    const g = toGrid(m);
    entries.push({ s: g.s, role: roleOf.get(m) ?? 'other', out: g.out });
  }
  if (tumorMasks.length > 0) {
    const normal = normalLiverMask(liverMask, tumorMasks);
    let r: ReturnType<typeof maskToGrid> | undefined;
    const liverOnGrid = onGrid.get(liverMask);
    try {
      const liverSum = maskExtent(liverMask)?.occupancySum;
      if (liverOnGrid && liverSum !== undefined && normal.geometry === liverMask.geometry && maskExtent(normal)?.occupancySum === liverSum) {
        // no tumour overlaps the liver mask (separate labels of one label map): the normal liver is the liver mask
        // voxel for voxel (its occupancy is at most the liver's everywhere, and sums to as much), so it comes onto the
        // grid as the liver did; it shares the liver's arrays instead of holding a second copy of them
        r = { structure: { ...liverOnGrid.s, name: normal.name, origin: normal.origin, colorRgb: normal.colorRgb }, fractionOutsideFov: liverOnGrid.out };
        const subs = massSubsamplesOf.get(liverMask.name);
        if (subs) massSubsamplesOf.set(normal.name, subs);
      } else r = resample(normal);
    } catch {
      warnings.push(`the normal liver (${normal.origin}) is empty: the tumours cover the whole liver; not reported`);
    }
    if (r) entries.push({ s: r.structure, role: 'normal-liver', out: r.fractionOutsideFov });
  }
  if (opts.splitLesions) {
    if (tumorMasks.length === 0) warnings.push('--split-lesions has no effect without --tumor');
    for (const tm of tumorMasks) {
      progress(`splitting "${tm.name}" into connected lesions`);
      for (const lesion of splitLesions(tm)) {
        let r: ReturnType<typeof maskToGrid>;
        try {
          r = resample(lesion.mask);
        } catch {
          warnings.push(`lesion "${lesion.mask.name}" lies outside the activity field of view; not reported`);
          continue;
        }
        entries.push({ s: r.structure, role: 'tumor', out: r.fractionOutsideFov, lesionOf: tm.name, eqDiamMm: equivalentSphereDiameterMm(lesion.volumeMl) });
      }
    }
  }
  opts.onStructuresReady?.(entries.map((e) => e.s));
  if (ctParameters) Object.assign(ctParameters, structureMassParameters(entries.map((e) => e.s.name), massSubsamplesOf));

  // 6. Dose on the chosen back end.
  const cf = NUCLIDES[opts.isotope].ldmJoulePerGBq;
  let doseGy: Float32Array;
  let mc: Awaited<ReturnType<typeof import('../mc/run.ts').runMonteCarloDose>> | undefined;
  if (opts.method === 'mc') {
    progress(`Monte Carlo dose on the ${backend.name} back end (${describeGrid(grid)})`);
    t0 = performance.now();
    const { runMonteCarloDose } = await import('../mc/run.ts');
    const transport = backend.name === 'webgpu'
      ? (await import('../mc/transport-gpu.ts')).gpuMcTransport((await (await import('../gpu/index.ts')).acquireGpu())!)
      : (await import('../mc/transport-cpu.ts')).cpuMcTransport({});
    try {
      mc = await runMonteCarloDose({
        dims: grid.dims as [number, number, number],
        spacingMm: grid.spacingMm as [number, number, number],
        activityBqPerMl: cal.activityBqPerMl,
        densityGPerMl: density,
        isotope: opts.isotope,
        transport,
        seed: opts.mc?.seed,
        historyOffset: opts.mc?.historyOffset,
        plan: opts.mc?.plan,
        structures: entries.map((e) => e.s),
        // the air rule below, applied to every batch too so that the uncertainties describe the reported dose
        ...(ctOnGrid ? { zeroDoseBelowDensityGPerMl: AIR_DENSITY_THRESHOLD_G_PER_ML } : {}),
        stats: (req) => backend.stats(req),
        dvhBins: opts.dvhBins,
        onProgress: progress,
      });
    } finally {
      await transport.dispose();
    }
    doseGy = mc.doseGy;
    warnings.push(...mc.warnings);
  } else if (opts.method === 'ldm') {
    progress(`computing LDM dose on the ${backend.name} back end (${describeGrid(grid)})`);
    t0 = performance.now();
    doseGy = await backend.ldm({ activityBqPerMl: cal.activityBqPerMl, densityGPerMl: density, ldmJoulePerGBq: cf });
  } else {
    progress('waiting for the DVK convolution');
    t0 = softStartMs; // the convolution ran since then, alongside steps 3 and 4
    const { dvkHeterogeneity } = await import('./dvk.ts');
    doseGy = dvkHeterogeneity(await softDose!, {
      activityBqPerMl: cal.activityBqPerMl,
      densityGPerMl: density,
      isotope: opts.isotope,
      geometry: grid,
      tissueDensityGPerMl: tissueRho,
      softDoseScale: cal.scaleToBqPerMl,
    });
  }
  if (ctOnGrid && typeof density !== 'number') {
    // air (rho < AIR_DENSITY_THRESHOLD_G_PER_ML): no tissue, no dose; say how much activity lay there
    let airVoxels = 0;
    let airBq = 0;
    let fieldBqAll = 0;
    for (let n = 0; n < doseGy.length; n++) {
      const a = cal.activityBqPerMl[n];
      if (a > 0) fieldBqAll += a;
      if (density[n] < AIR_DENSITY_THRESHOLD_G_PER_ML) {
        doseGy[n] = 0;
        if (a > 0) {
          airVoxels++;
          airBq += a;
        }
      }
    }
    if (airVoxels > 0) {
      warnings.push(
        `${airVoxels} voxels with activity lie in air on the CT (density < ${AIR_DENSITY_THRESHOLD_G_PER_ML} g/mL, HU < ${-1000 + 1000 * AIR_DENSITY_THRESHOLD_G_PER_ML}) and hold ${((100 * airBq) / fieldBqAll).toFixed(2)} % of the activity in the field: their dose is set to 0 (check the registration of the CT to the activity image if this is large)`,
      );
    }
  }
  tick('doseMs', t0);
  const doseVolume: Volume<Float32Array> = { geometry: grid, data: doseGy };
  opts.onDoseReady?.(doseVolume);

  // 7. Statistics on the same back end.
  progress(`statistics of ${entries.length} structures`);
  t0 = performance.now();
  // structures that share their voxel arrays (the normal liver that is the liver mask voxel for voxel) are counted once
  const unique: GridStructure[] = [];
  const uniqueOf = entries.map(({ s }) => {
    let u = unique.findIndex((o) => o.voxelIndices === s.voxelIndices && o.weights === s.weights && o.partMassGPerMl === s.partMassGPerMl);
    if (u < 0) u = unique.push(s) - 1;
    return u;
  });
  const uniqueStats = await backend.stats({
    doseGy,
    activityBqPerMl: cal.activityBqPerMl,
    densityGPerMl: density,
    voxelVolumeMl: vVoxMl,
    structures: unique,
    dvhBins: opts.dvhBins,
  });
  const stats = uniqueOf.map((u) => uniqueStats[u]);
  tick('statisticsMs', t0);

  const structures: StructureReport[] = entries.map((e, n) => ({
    ...(mc ? { meanGyRelStdErr: mc.structures[n].meanGyRelStdErr, uncertainty: mc.structures[n].stdErr } : {}),
    name: e.s.name,
    role: e.role,
    origin: e.s.origin,
    ...stats[n],
    fractionOutsideFov: e.out,
    densitySource: ctOnGrid ? 'ct' : e.role === 'lung' ? 'lung-default' : lungMask && e.role === 'other' ? 'mixed-default' : 'tissue-default',
    doseMethod: opts.method === 'dvk' && e.role === 'lung' ? 'ldm' : opts.method,
    ...(e.lesionOf !== undefined ? { lesionOf: e.lesionOf, equivalentDiameterMm: e.eqDiamMm } : {}),
  }));

  // the image as read (calibrated with a factor of 1) was summed in index order by its value check
  let fieldBq = cal.activityBqPerMl === opts.activity.data ? check.sumInIndexOrder : 0;
  if (cal.activityBqPerMl !== opts.activity.data) for (let n = 0; n < cal.activityBqPerMl.length; n++) fieldBq += cal.activityBqPerMl[n];
  fieldBq *= vVoxMl;
  return {
    dose: doseVolume,
    activityBqPerMl: cal.activityBqPerMl,
    densityGPerMl: density,
    structures,
    gridStructures: entries.map((e) => e.s),
    backend: backend.name,
    // the software adapter is slower than the CPU for LDM and DVK, but faster for the Monte Carlo: said, not used
    backendReason:
      opts.method === 'mc' && backend.name === 'cpu' && backend.reason.endsWith(SOFTWARE_ADAPTER_NOT_USED)
        ? backend.reason.replace(SOFTWARE_ADAPTER_NOT_USED, 'not used by auto (for the Monte Carlo it is faster than the CPU back end, about 2-4x on lavapipe: --backend webgpu uses it)')
        : backend.reason,
    activityInFieldGBq: fieldBq / BQ_PER_GBQ,
    negativeActivityVoxelCount: check.negativeVoxelCount,
    lungShuntFraction: cal.lungShuntFraction,
    lungShuntFractionSource: cal.lungShuntFractionSource,
    decayFactor: cal.decayFactor,
    warnings,
    ...(ctParameters ? { ctParameters } : {}),
    timingsMs: t,
    ...(mc ? { mc: { relStdErr: { geometry: grid, data: mc.relStdErr }, provenance: mc.provenance, rescaledStructures: mc.rescaledStructures, keptBatches: mc.keptBatches } } : {}),
  };
}

/** A mask resampled onto `target` (nearest voxel centre), dense: occupancy 0..255 per voxel of `target`. */
function maskToGridDense(mask: StructureMask, target: Geometry): StructureMask {
  const out = new Uint8Array(voxelCount(target));
  const dense = { ...mask, geometry: target, occupancy: out };
  let r: ReturnType<typeof maskToGrid>;
  try {
    r = maskToGrid(mask, target, { mode: 'nearest' });
  } catch {
    return dense; // entirely outside the target grid
  }
  const { voxelIndices, weights } = r.structure;
  const [nx, ny] = target.dims;
  const extent = new ExtentBuilder(target.dims);
  for (let n = 0; n < voxelIndices.length; n++) {
    const v = voxelIndices[n];
    const o = (out[v] = Math.round(255 * weights[n]));
    if (o !== 0) extent.add(v % nx, Math.floor(v / nx) % ny, Math.floor(v / (nx * ny)), o);
  }
  // its extent from the voxels written (else the first maskExtent would scan the whole target grid for it)
  rememberMaskExtent(out, extent.build());
  return dense;
}

/** `mask` on `grid`: itself when it is on that grid already, else resampled by nearest voxel centre. */
function onGridOf(mask: StructureMask, grid: Geometry): StructureMask {
  return mask.geometry === grid || sameGrid(mask.geometry, grid) ? mask : maskToGridDense(mask, grid);
}

/** Calls `row(start, end)` for every x-row [start, end] (inclusive linear indices) of the box lo..hi on `dims`. */
function forRowsOfBox(dims: readonly number[], lo: readonly number[], hi: readonly number[], row: (start: number, end: number) => void): void {
  const [nx, ny] = dims;
  for (let k = lo[2]; k <= hi[2]; k++) for (let j = lo[1]; j <= hi[1]; j++) row(lo[0] + nx * (j + ny * k), hi[0] + nx * (j + ny * k));
}

/**
 * The normal liver: the liver structure minus every tumour, derived at the segmentation's own resolution (on the
 * liver mask's grid; tumours on another grid are brought onto it by nearest voxel centre), then brought onto the
 * activity grid like any structure. Deriving it on the fine grid first keeps partial-volume voxels exact both when
 * the tumours lie inside the liver mask (3D Slicer segments) and when they are separate labels of one label map.
 * Occupancy: max(0, liver - sum of tumours), per voxel (subtracting one tumour after the other with a floor at 0
 * gives the same, as occupancies are not negative). Only the voxels inside the masks' bounding boxes are visited.
 */
export function normalLiverMask(liver: StructureMask, tumors: readonly StructureMask[]): StructureMask {
  const g = liver.geometry;
  const out = liver.occupancy.slice();
  const le = maskExtent(liver);
  const extent = new ExtentBuilder(g.dims);
  if (le) {
    for (const tm of tumors) {
      const t = onGridOf(tm, g);
      const te = maskExtent(t);
      if (!te) continue;
      const lo = [0, 1, 2].map((a) => Math.max(te.lo[a], le.lo[a]));
      const hi = [0, 1, 2].map((a) => Math.min(te.hi[a], le.hi[a]));
      if (lo.some((x, a) => x > hi[a])) continue;
      const tOcc = t.occupancy;
      forRowsOfBox(g.dims, lo, hi, (s, e) => {
        for (let v = s; v <= e; v++) {
          const tv = tOcc[v];
          if (tv !== 0) out[v] = out[v] > tv ? out[v] - tv : 0;
        }
      });
    }
    const [nx, ny] = g.dims;
    for (let k = le.lo[2]; k <= le.hi[2]; k++) {
      for (let j = le.lo[1]; j <= le.hi[1]; j++) {
        const row = nx * (j + ny * k);
        for (let i = le.lo[0]; i <= le.hi[0]; i++) {
          const o = out[row + i];
          if (o !== 0) extent.add(i, j, k, o);
        }
      }
    }
  }
  rememberMaskExtent(out, extent.build());
  return {
    name: 'Normal liver',
    origin: `derived: ${liver.name} minus ${tumors.map((m) => m.name).join(', ')}`,
    geometry: g,
    occupancy: out,
  };
}

/**
 * Fraction of `mask`'s voxels (occupancy >= 50 %) that lie inside `container` (compared on the container's grid,
 * extended to hold all of `mask` when it reaches beyond: RTSTRUCT ROIs each on their own crop of the CT's lattice).
 */
function fractionInside(mask: StructureMask, container: StructureMask): number {
  const g = gridCovering(container.geometry, [mask]);
  const t = onGridOf(mask, g);
  const te = maskExtent(t);
  if (!te) return 1;
  const tOcc = t.occupancy;
  const c = onGridOf(container, g).occupancy;
  let inMask = 0, both = 0;
  forRowsOfBox(g.dims, te.lo, te.hi, (s, e) => {
    for (let v = s; v <= e; v++) {
      if (tOcc[v] >= 128) {
        inMask++;
        if (c[v] >= 128) both++;
      }
    }
  });
  return inMask === 0 ? 1 : both / inMask;
}

/**
 * The union of a liver mask and tumour masks, on the liver's grid (extended to hold all of the tumours where they reach
 * beyond it) (occupancy: the largest of them per voxel).
 */
export function unionMask(name: string, liver: StructureMask, others: readonly StructureMask[]): StructureMask {
  const g = gridCovering(liver.geometry, others);
  const base = onGridOf(liver, g);
  const occ = base.occupancy.slice();
  const boxes = [maskExtent(base)];
  for (const m of others) {
    const t = onGridOf(m, g);
    const te = maskExtent(t);
    boxes.push(te);
    if (!te) continue;
    const tOcc = t.occupancy;
    forRowsOfBox(g.dims, te.lo, te.hi, (s, e) => {
      for (let v = s; v <= e; v++) if (tOcc[v] > occ[v]) occ[v] = tOcc[v];
    });
  }
  // the union's extent: the union of the parts' boxes, the sum counted over that box
  const parts = boxes.filter((b) => b !== undefined);
  if (parts.length > 0) {
    const lo = [0, 1, 2].map((a) => Math.min(...parts.map((e) => e.lo[a]))) as [number, number, number];
    const hi = [0, 1, 2].map((a) => Math.max(...parts.map((e) => e.hi[a]))) as [number, number, number];
    let sum = 0;
    forRowsOfBox(g.dims, lo, hi, (s, e) => {
      for (let v = s; v <= e; v++) sum += occ[v];
    });
    rememberMaskExtent(occ, { lo, hi, occupancySum: sum });
  } else rememberMaskExtent(occ, undefined);
  return { name, origin: `derived: ${liver.name} + ${others.map((m) => m.name).join(' + ')}`, geometry: g, occupancy: occ };
}
