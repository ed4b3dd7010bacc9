/**
 * Monte Carlo dose (`--method mc`): the entry point. {@link runMonteCarloDose} builds the transport problem
 * (./problem.ts: media and tables from the density map, the source from the activity), runs the histories in batches
 * (./batches.ts, on ./transport-cpu.ts or ./transport-gpu.ts) and returns dose, uncertainty and provenance.
 * The dose formula and the batch method of the uncertainty are stated in ./batches.ts.
 */
import { InputError } from '../errors.ts';
import type { Isotope } from '../units/index.ts';
import { DEFAULT_MC_CUTOFFS, type McCutoffs, type McTransport } from './types.ts';
import {
  DEFAULT_MC_BATCHES, DEFAULT_MC_HISTORIES, DEFAULT_MC_MAX_HISTORIES, chooseTallyUnitMeV, decaysInField, maxEnergyPerDecayMeV,
  runMonteCarloBatches, type McDriverOptions, type McDriverResult, type McHistoryPlan, type McRunProvenance, type McStructure,
} from './batches.ts';

export * from './batches.ts';
export { DEFAULT_MC_CUTOFFS };
export type { McCutoffs };

/** The transport physics in words (report.json mc.physics). */
export const MC_PHYSICS_TEXT =
  'Electrons: class II condensed history (Moller delta rays above the delta threshold and bremsstrahlung photons above ' +
  'the bremsstrahlung threshold created and tracked; softer collisions and radiation as a continuous restricted loss, ' +
  'two-point midpoint rule), multiple elastic scattering by hard Wentzel events (Mott-corrected) and a soft deflection ' +
  'at a random hinge point of each step; steps limited to a fraction of the residual CSDA range and a maximum length, ' +
  'and ended at every voxel boundary so that each step lies in one medium (chosen over a DPM-like scheme, Sempau et al. ' +
  '2000, whose long steps scale across media: stopping at a face is exact at any interface, lung-tissue and bone ' +
  'included, and costs little at millimetre voxels because steps of 5 % of the residual range are shorter than a ' +
  'voxel anyway). The electron cut-off follows the grid: the energy whose residual CSDA range in water is 5 % of the ' +
  'smallest voxel size, within 20-100 keV. Photons (bremsstrahlung, gamma lines): ' +
  'Woodcock (delta) tracking through the voxels with photoelectric absorption and Compton scattering (Klein-Nishina, ' +
  "Kahn's method); Compton electrons and photoelectrons (with fluorescence) deposit locally. Particles below the " +
  'cut-offs deposit where they are. Random numbers: Philox-4x32-10, one counter stream per history, so the CPU and ' +
  'WebGPU back ends run the same histories.';

/** Options of {@link runMonteCarloDose}. */
export interface McDoseOptions {
  /** Grid size (x fastest) and voxel size [mm] of the activity grid. */
  readonly dims: readonly [number, number, number];
  readonly spacingMm: readonly [number, number, number];
  /** Activity [Bq/mL] at implant time (calibrated as the pipeline gives it); negative voxels (noise) get no decays. */
  readonly activityBqPerMl: Float32Array;
  /** Density [g/mL] per voxel (CT, or tissue and the lung structure's density), or one value. */
  readonly densityGPerMl: number | Float32Array;
  readonly isotope: Isotope;
  readonly transport: McTransport;
  /** Philox seed (0..2^32-1); default 1. */
  readonly seed?: number;
  /** Index of the first history (default 0; independent runs under one seed take disjoint ranges, see McDriverOptions). */
  readonly historyOffset?: number;
  /** Histories: a number (default {@link DEFAULT_MC_HISTORIES} in 10 batches) or a target uncertainty. */
  readonly plan?: McHistoryPlan;
  readonly cutoffs?: McCutoffs;
  readonly structures?: readonly McStructure[];
  /** Target mode: bias the source towards the target structures (default true; see McDriverOptions.sourceBiasing). */
  readonly sourceBiasing?: boolean;
  readonly zeroDoseBelowDensityGPerMl?: number;
  readonly stats?: McDriverOptions['stats'];
  readonly dvhBins?: number;
  readonly onProgress?: (message: string) => void;
}

/** Provenance of a Monte Carlo dose (report.json "mc"). */
export interface McDoseProvenance extends McRunProvenance {
  readonly cutoffs: McCutoffs;
  readonly physics: string;
  readonly tablesVersion: string;
  readonly emissions: { source: string; betasPerDecay: number; photonLines: Array<{ energyMeV: number; yieldPerDecay: number; what: string }>; localMeVPerDecay: number };
  readonly materials: Array<{ name: string; voxelCount: number; source: string }>;
  readonly timingsMs: McRunProvenance['timingsMs'] & { problem: number };
}

export interface McDoseResult extends McDriverResult {
  readonly provenance: McDoseProvenance;
}

/**
 * Monte Carlo dose of an activity map: builds the transport problem (media and tables from the density map, the
 * source from the activity), runs the histories on `opts.transport` and returns dose [Gy], per-voxel relative
 * standard error, the structures' uncertainties and the provenance (see the file header).
 */
export async function runMonteCarloDose(opts: McDoseOptions): Promise<McDoseResult> {
  const t0 = performance.now();
  const plan = opts.plan ?? { kind: 'histories', histories: DEFAULT_MC_HISTORIES };
  const warnings: string[] = [];
  const nVox = opts.dims[0] * opts.dims[1] * opts.dims[2];
  if (opts.activityBqPerMl.length !== nVox) throw new InputError(`the activity map has ${opts.activityBqPerMl.length} voxels but the grid ${opts.dims.join('x')} has ${nVox}`);
  // the source samples decays: negative voxels (image noise, kept by LDM so that means stay unbiased) have none
  let source = opts.activityBqPerMl;
  let negative = 0;
  let negativeSum = 0;
  let positiveSum = 0;
  for (let v = 0; v < nVox; v++) {
    const a = source[v];
    if (a < 0) {
      negative++;
      negativeSum -= a;
    } else positiveSum += a;
  }
  if (negative > 0) {
    source = Float32Array.from(source, (a) => (a > 0 ? a : 0));
    warnings.push(
      `Monte Carlo: ${negative} voxels of negative activity (image noise, ${((100 * negativeSum) / positiveSum).toPrecision(2)} % of the positive sum) emit no decays: the source is the positive part of the image (LDM and DVK keep the negative values)`,
    );
  }
  const voxelVolumeMl = (opts.spacingMm[0] * opts.spacingMm[1] * opts.spacingMm[2]) / 1000;
  const decays = decaysInField(source, voxelVolumeMl, opts.isotope);
  const maxBatch = plan.kind === 'histories' ? Math.ceil(plan.histories / (plan.batches ?? DEFAULT_MC_BATCHES)) : plan.maxHistories ?? DEFAULT_MC_MAX_HISTORIES;
  const { MC_TABLE_MAX_MEV } = await import('./types.ts');
  // target mode may bias the source (./batches.ts): a history's weight is at most 1 / (1 - lambda)
  const { MC_SOURCE_BIAS_LAMBDA } = await import('./source.ts');
  const tallyUnitMeV = chooseTallyUnitMeV(maxBatch, plan.kind === 'target' ? MC_TABLE_MAX_MEV / (1 - MC_SOURCE_BIAS_LAMBDA) : MC_TABLE_MAX_MEV);
  const { buildMcProblem, mcCutoffsForGrid } = await import('./problem.ts');
  const problem = buildMcProblem({
    dims: [opts.dims[0], opts.dims[1], opts.dims[2]],
    spacingMm: [opts.spacingMm[0], opts.spacingMm[1], opts.spacingMm[2]],
    activityBqPerMl: source,
    densityGPerMl: opts.densityGPerMl,
    isotope: opts.isotope,
    cutoffs: opts.cutoffs ?? mcCutoffsForGrid([opts.spacingMm[0], opts.spacingMm[1], opts.spacingMm[2]]),
    tallyUnitMeV,
  });
  const eMax = maxEnergyPerDecayMeV(problem);
  if (eMax > MC_TABLE_MAX_MEV) throw new Error(`a decay of ${opts.isotope} can emit ${eMax} MeV, beyond the ${MC_TABLE_MAX_MEV} MeV the tally unit was chosen for`);
  const problemMs = performance.now() - t0;
  const r = await runMonteCarloBatches({
    problem,
    transport: opts.transport,
    seed: opts.seed ?? 1,
    historyOffset: opts.historyOffset,
    plan,
    decays,
    densityGPerMl: opts.densityGPerMl,
    voxelVolumeMl,
    activityBqPerMl: opts.activityBqPerMl,
    structures: opts.structures,
    sourceBiasing: opts.sourceBiasing,
    zeroDoseBelowDensityGPerMl: opts.zeroDoseBelowDensityGPerMl,
    stats: opts.stats,
    dvhBins: opts.dvhBins,
    onProgress: opts.onProgress,
  });
  const counts = new Float64Array(problem.tables.materials.length);
  for (let v = 0; v < nVox; v++) counts[problem.media[v] >>> 24]++;
  const e = problem.emissions;
  return {
    ...r,
    warnings: [...warnings, ...r.warnings],
    provenance: {
      ...r.provenance,
      cutoffs: problem.tables.cutoffs,
      physics: MC_PHYSICS_TEXT,
      tablesVersion: problem.tables.version,
      emissions: { source: e.source, betasPerDecay: e.betasPerDecay, photonLines: e.photonLines.map((l) => ({ ...l })), localMeVPerDecay: e.localMeVPerDecay },
      materials: problem.tables.materials.map((m, i) => ({ name: m.name, voxelCount: counts[i], source: m.source })),
      timingsMs: { ...r.provenance.timingsMs, problem: Math.round(problemMs), total: Math.round(performance.now() - t0) },
    },
  };
}
