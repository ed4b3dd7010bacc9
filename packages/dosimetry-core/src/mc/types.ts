/**
 * Monte Carlo dose (`--method mc`): the shapes shared by the physics tables (./tables.ts), the two transport back ends
 * (./transport-cpu.ts and ./transport-gpu.ts with shaders/mc_transport.wgsl) and the batch driver (./run.ts).
 *
 * Everything a history needs is in an McProblem, in f32/u32 arrays that the CPU and the WebGPU back end read the same
 * way, and one history is a pure function of (problem, seed, history index): the random numbers of history h come
 * from Philox-4x32-10 (./philox.ts) with key (seed, MC_KEY_HI) and counter (h, block, 0, 0), so both back ends run the
 * same histories, and a batch tally does not depend on how histories are spread over threads or workgroups.
 *
 * Units inside the transport: lengths in cm, energies in MeV, densities in g/cm^3 (= g/mL), mass tables per density
 * (cm^2/g, MeV cm^2/g, g/cm^2). Positions are measured from the outer corner of voxel (0,0,0) along the grid's index
 * axes (i, j, k); emission is isotropic, so the grid's direction cosines play no part.
 */
import type { Isotope } from '../units/index.ts';

/** Number of points of every energy table (log-uniform from MC_TABLE_MIN_MEV to MC_TABLE_MAX_MEV). */
export const MC_TABLE_POINTS = 512;
export const MC_TABLE_MIN_MEV = 0.001;
export const MC_TABLE_MAX_MEV = 3;
/** Largest number of materials in one problem (a u8 field of the packed medium word would allow more). */
export const MC_MAX_MATERIALS = 16;
/** Second word of the Philox key (first: the seed). */
export const MC_KEY_HI = 0x5eed90;

/**
 * Rows of the per-material table, each MC_TABLE_POINTS f32 values at E_i = exp(lnMin + i dLn), linear in i between
 * points. Row r of material m starts at (m * MC_TABLE_ROWS + r) * MC_TABLE_POINTS.
 */
export const enum McRow {
  /** CSDA range with the restricted stopping power [g/cm^2] (soft collisions below Wc + soft radiation below kc). */
  ElectronRange = 0,
  /** Restricted stopping power (the continuous loss of the class II scheme) [MeV cm^2/g]. */
  ElectronStopping = 1,
  /** Møller inverse mean free path per density for energy transfers above Wc [cm^2/g] (0 where E <= 2 Wc). */
  ElectronMoller = 2,
  /** Bremsstrahlung inverse mean free path per density for photons above kc [cm^2/g] (0 where E <= kc). */
  ElectronBrems = 3,
  /** Hard elastic event rate per density, thinned by the Mott factor's maximum [cm^2/g]. */
  ElasticHardRate = 4,
  /** Effective Wentzel screening parameter A of the material (hard events). */
  ElasticScreening = 5,
  /** Angular cut μc between soft (lumped) and hard elastic events. */
  ElasticMuCut = 6,
  /** Effective McKinley–Feshbach coefficient c = π α Z_eff β. */
  ElasticMottC = 7,
  /** Soft first-transport inverse mean free path per density [cm^2/g]. */
  ElasticSoftT1 = 8,
  /** Photon total mass attenuation coefficient (photoelectric + incoherent) [cm^2/g]. */
  PhotonTotal = 9,
  /** Photoelectric share of PhotonTotal (0..1). */
  PhotonPhotoFraction = 10,
}
export const MC_TABLE_ROWS = 11;

/** Cut-offs and step limits of the transport; stated in the report. */
export interface McCutoffs {
  /** Electrons below this kinetic energy stop and deposit where they are [MeV]. */
  readonly electronCutoffMeV: number;
  /** Møller events above this energy transfer create tracked delta rays (Wc) [MeV]. */
  readonly deltaThresholdMeV: number;
  /** Bremsstrahlung photons above this energy are created and tracked (kc) [MeV]. */
  readonly bremsThresholdMeV: number;
  /** Photons below this energy deposit where they are [MeV]. */
  readonly photonCutoffMeV: number;
  /** Largest electron step as a fraction of its residual CSDA range. */
  readonly stepFraction: number;
  /** Largest electron step [cm]. */
  readonly maxStepCm: number;
}

export const DEFAULT_MC_CUTOFFS: McCutoffs = {
  electronCutoffMeV: 0.02,
  deltaThresholdMeV: 0.1,
  bremsThresholdMeV: 0.02,
  photonCutoffMeV: 0.01,
  stepFraction: 0.05,
  maxStepCm: 0.1,
};

/** A material of the transport: name, composition by mass (Z -> fraction), mean excitation energy. */
export interface McMaterial {
  readonly name: string;
  /** Mass fractions by atomic number, summing to 1. */
  readonly massFractions: Readonly<Record<number, number>>;
  /** Mean excitation energy [MeV]. */
  readonly iValueMeV: number;
  /** Nominal density [g/cm^3] (density-effect parameters are computed at it). */
  readonly nominalDensityGPerCm3: number;
  /** Source of the composition (publication). */
  readonly source: string;
  /**
   * Tabulated Sternheimer density-effect parameters (Sternheimer, Berger & Seltzer 1984), when published for this
   * material; without them ./electron-data.ts computes the general Sternheimer–Peierls 1971 parameters from the
   * I-value and the nominal density. (Field added by the physics-data helper.)
   */
  readonly densityEffect?: SternheimerParameters;
}

/** Sternheimer density-effect parameters: δ = 2 ln10 x − C + a (x1 − x)^m for x0 <= x < x1 (x = log10(p/mc)). */
export interface SternheimerParameters {
  readonly c: number;
  readonly x0: number;
  readonly x1: number;
  readonly a: number;
  readonly m: number;
}

/** Physics tables of the materials of one problem (built by ./tables.ts; identical on both back ends). */
export interface McTables {
  readonly materials: readonly McMaterial[];
  readonly cutoffs: McCutoffs;
  /** f32 rows, layout in McRow. */
  readonly data: Float32Array;
  readonly lnMinMeV: number;
  readonly dLn: number;
  /** Version of the physics and table layout (recorded in the report). */
  readonly version: string;
}

/** Emission data of one decay (./emissions.ts). */
export interface McEmissions {
  readonly isotope: Isotope;
  /** Beta spectrum as an inverse CDF: energy [MeV] at u = i / (n - 1), linear in between (n = length). */
  readonly betaInverseCdfMeV: Float32Array;
  /** Betas per decay (probability that a decay emits its beta; <= 1). */
  readonly betasPerDecay: number;
  /** Photon lines: energy [MeV] and yield per decay, each emitted independently with its yield. */
  readonly photonLines: ReadonlyArray<{ readonly energyMeV: number; readonly yieldPerDecay: number; readonly what: string }>;
  /** Energy per decay deposited at the decay site (conversion and Auger electrons, X-rays below the photon cutoff) [MeV]. */
  readonly localMeVPerDecay: number;
  readonly source: string;
}

/**
 * One transport problem: the voxelised patient and the source. Media are packed one u32 per voxel: material index
 * in bits 24-31, density in bits 0-23 as a fixed-point number of MC_DENSITY_UNIT g/cm^3 (both back ends decode
 * the same word, so they see the same density).
 */
export interface McProblem {
  /** Grid size (i fastest: index = i + nx (j + ny k)). */
  readonly dims: readonly [number, number, number];
  /** Voxel size along i, j, k [cm]. */
  readonly voxelCm: readonly [number, number, number];
  readonly media: Uint32Array;
  readonly tables: McTables;
  readonly emissions: McEmissions;
  /**
   * Source: Walker alias table over the voxels that hold activity. Decay d picks k = min(floor(u n), n - 1) and keeps
   * it when u' < sourceProbability[k], else takes sourceAlias[k]; sourceVoxel[k] is the voxel index. Position uniform
   * inside the voxel, direction isotropic.
   */
  readonly sourceVoxel: Uint32Array;
  readonly sourceProbability: Float32Array;
  readonly sourceAlias: Uint32Array;
  /**
   * Source biasing (importance sampling, ./source.ts buildBiasedSource): weight w of entry k's voxel (f32), looked up
   * for the final entry (after the alias step); every deposit, escape and emission of the history is multiplied by w.
   * Absent: analog (w = 1, bit for bit the unweighted transport).
   */
  readonly sourceWeight?: Float32Array;
  /** Woodcock majorant: max over the problem's voxels of mu(E) [1/cm] on the table grid (f32, MC_TABLE_POINTS). */
  readonly photonMajorantPerCm: Float32Array;
  /** Tally unit [MeV]: every deposit is rounded to an integer number of units (see McBatchResult). */
  readonly tallyUnitMeV: number;
}

/** Density unit of the packed medium word [g/cm^3] (24 bits: up to 16.7 g/cm^3 in steps of 1e-6). */
export const MC_DENSITY_UNIT = 1e-6;

/** Which histories a batch runs: h = firstHistory .. firstHistory + histories - 1. */
export interface McBatchRequest {
  readonly seed: number;
  readonly firstHistory: number;
  readonly histories: number;
  /** Fraction done (0..1) of this batch, now and then. */
  readonly onProgress?: (fraction: number) => void;
  /**
   * Where to write the batch's tally (one value per voxel; every entry is overwritten): a caller that consumes each
   * batch before the next (the batch driver) hands the same array every time, which spares a fresh array of the grid's
   * size per batch. The result's `energyUnits` is then this array. A transport may ignore it.
   */
  readonly energyInto?: Float64Array;
}

/**
 * Energy of one batch. `energyUnits[v]` is the energy deposited in voxel v as an integer number of tallyUnitMeV
 * (every deposit rounded to the nearest unit before it is added; exact integer sums, so the order of addition does
 * not matter and reruns are byte-identical). The CPU back end keeps them in a Float64Array (exact below 2^53 units,
 * the driver's overflow guard keeps them there); the GPU in two u32 words per voxel, returned the same way.
 */
export interface McBatchResult {
  readonly energyUnits: Float64Array;
  /** Energy emitted by the decays of the batch [MeV] (betas + photons + local), summed in units as the tally. */
  readonly emittedUnits: number;
  /** Energy carried out of the grid [MeV units]. */
  readonly escapedUnits: number;
  /** Secondary particles that found the stack full and deposited their energy where they were created. */
  readonly stackOverflows: number;
  readonly histories: number;
}

/** A transport back end: runs the histories of a batch. */
export interface McTransport {
  readonly name: 'cpu' | 'webgpu';
  run(problem: McProblem, request: McBatchRequest): Promise<McBatchResult>;
  /** Frees workers or GPU buffers. */
  dispose(): Promise<void>;
}
