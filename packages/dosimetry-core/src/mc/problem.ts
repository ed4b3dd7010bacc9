/**
 * Builds the transport problem of the Monte Carlo (an McProblem, ./types.ts) from engine inputs: the activity map
 * (the source: an alias table over its voxels, ./source.ts), the density map (media words and materials,
 * ./materials.ts), the physics tables of those materials (./tables.ts), the nuclide's emissions (./emissions.ts) and
 * the Woodcock photon majorant.
 */
import { InputError } from '../errors.ts';
import type { Isotope } from '../units/index.ts';
import { mcEmissions } from './emissions.ts';
import { buildMedia, WATER } from './materials.ts';
import { restrictedStoppingMass } from './electron-data.ts';
import { buildSourceAlias } from './source.ts';
import { buildMcTables } from './tables.ts';
import {
  DEFAULT_MC_CUTOFFS,
  MC_DENSITY_UNIT,
  MC_TABLE_MAX_MEV,
  MC_TABLE_POINTS,
  MC_TABLE_ROWS,
  McRow,
  type McCutoffs,
  type McMaterial,
  type McProblem,
  type McTables,
} from './types.ts';

/**
 * Default tally unit [MeV]: 1e-6 MeV (1 eV). Every deposit is rounded to whole units, so a deposit carries at most
 * 0.5 eV of rounding error (relative 1e-4 on a 5 keV step, and the errors of different deposits cancel on average).
 * Exactness bound: a voxel's sum is an exact integer while it stays below 2^53 units (9.0e9 MeV at 1 eV: about 4e9
 * decays of 90Y all depositing their whole energy in one voxel), which the batch driver's choice of unit keeps.
 * On the GPU one deposit must stay below 2^32 units (4295 MeV at 1 eV).
 */
export const DEFAULT_MC_TALLY_UNIT_MEV = 1e-6;

/** Margin of the Woodcock majorant over the largest mu on the grid (covers f32 rounding of rho x mu/rho). */
const MAJORANT_MARGIN = 1 + 2 ** -20;

/** Inputs of {@link buildMcProblem}. */
export interface McProblemOptions {
  /** Grid size (x fastest). */
  readonly dims: readonly [number, number, number];
  /** Voxel size [mm] along the grid's index axes. */
  readonly spacingMm: readonly [number, number, number];
  /** Activity concentration [Bq/mL] per voxel (fully decayed or not: only the relative weights matter here). */
  readonly activityBqPerMl: Float32Array;
  /** Mass density [g/mL]: one value for all voxels or one per voxel. */
  readonly densityGPerMl: number | Float32Array;
  readonly isotope: Isotope;
  /** Cut-offs and step limits (default DEFAULT_MC_CUTOFFS). */
  readonly cutoffs?: McCutoffs;
  /**
   * Tally unit [MeV] (default {@link DEFAULT_MC_TALLY_UNIT_MEV}, 1 eV). Voxel sums are exact integers below 2^53 units
   * (9.0e9 MeV at 1 eV); one deposit must stay below 2^32 units (GPU), so the unit must be >= 3 MeV / 2^32.
   */
  readonly tallyUnitMeV?: number;
  /**
   * One material for every voxel instead of the density -> material assignment of ./materials.ts (tests and
   * phantoms: e.g. WATER for comparisons with the water kernels). The density still comes from `densityGPerMl`.
   */
  readonly material?: McMaterial;
}

function checkOptions(o: McProblemOptions): number {
  const d = o.dims;
  if (!Array.isArray(d) || d.length !== 3 || !d.every((n) => Number.isInteger(n) && n >= 1)) {
    throw new InputError(`grid size ${JSON.stringify(d)} is not three whole numbers >= 1`);
  }
  const s = o.spacingMm;
  if (!Array.isArray(s) || s.length !== 3 || !s.every((v) => Number.isFinite(v) && v > 0)) {
    throw new InputError(`voxel size ${JSON.stringify(s)} is not three positive numbers [mm]`);
  }
  const n = d[0] * d[1] * d[2];
  if (n > 2 ** 31) throw new InputError(`grid ${d.join('x')} has ${n} voxels; the Monte Carlo indexes at most 2^31: resample coarser`);
  if (!(o.activityBqPerMl instanceof Float32Array) || o.activityBqPerMl.length !== n) {
    throw new InputError(`the activity map has ${o.activityBqPerMl?.length} values for a ${d.join('x')} grid (${n} voxels): give one Float32 value per voxel [Bq/mL]`);
  }
  const unit = o.tallyUnitMeV ?? DEFAULT_MC_TALLY_UNIT_MEV;
  // one deposit (at most the largest table energy) must stay below 2^32 units for the GPU's u32 adds
  if (!(Number.isFinite(unit) && unit > 0 && MC_TABLE_MAX_MEV / unit < 2 ** 32)) {
    throw new InputError(`tally unit ${unit} MeV must be a positive number >= ${MC_TABLE_MAX_MEV / 2 ** 32} MeV (one deposit must fit in 32 bits)`);
  }
  return n;
}

/** Share of the smallest voxel size that an electron's residual CSDA range in water may have when it is stopped. */
export const MC_CUTOFF_RANGE_SHARE = 0.05;
/** Bounds of the grid-adapted electron cut-off [MeV]. */
export const MC_ELECTRON_CUTOFF_BOUNDS_MEV: readonly [number, number] = [0.02, 0.1];

/**
 * The cut-offs of a grid: DEFAULT_MC_CUTOFFS with the electron cut-off raised to the energy whose CSDA range in water
 * (1 g/cm^3) is MC_CUTOFF_RANGE_SHARE (5 %) of the smallest voxel size, within 20-100 keV: 89 keV at 2.21 mm voxels
 * (residual range 0.11 mm), 100 keV (0.14 mm) from 2.9 mm up. An electron stopped there deposits where it is, a
 * twentieth of a voxel from where it would have come to rest (three times that in lung of 0.30 g/mL); the tracking
 * below it (half of an electron's steps: steps are 5 % of the residual range) changes no voxel dose measurably
 * (90Y voxel S values at 2.21 and 4.42 mm unchanged within 0.3 %, the noise of the comparison) and halves the time.
 */
export function mcCutoffsForGrid(spacingMm: readonly [number, number, number], base: McCutoffs = DEFAULT_MC_CUTOFFS): McCutoffs {
  const targetG = (MC_CUTOFF_RANGE_SHARE * Math.min(...spacingMm)) / 10; // g/cm^2 at 1 g/cm^3
  const [lo, hi] = MC_ELECTRON_CUTOFF_BOUNDS_MEV;
  // the range down to `lo` with the soft losses of `base` (monotonic in E): bisection in ln E
  const range = (eMeV: number) => {
    const n = 64;
    const a = Math.log(lo);
    const h = (Math.log(eMeV) - a) / n;
    let sum = 0;
    for (let k = 0; k <= n; k++) {
      const e = Math.exp(a + k * h);
      sum += ((k === 0 || k === n ? 0.5 : 1) * e) / restrictedStoppingMass(WATER, e, base);
    }
    return sum * h;
  };
  let cut: number;
  if (range(hi) <= targetG) cut = hi;
  else {
    let a = lo;
    let b = hi;
    for (let it = 0; it < 40; it++) {
      const m = Math.sqrt(a * b);
      if (range(m) < targetG) a = m;
      else b = m;
    }
    cut = a;
  }
  // whole keV, so that the report and the cache of tables see a plain number
  cut = Math.max(lo, Math.floor(cut * 1000) / 1000);
  return { ...base, electronCutoffMeV: Math.max(base.electronCutoffMeV, cut) };
}

/**
 * The transport problem of an activity and density map (see the module header).
 * - media: ./materials.ts buildMedia (or `material` for every voxel); a density that packs to 0 (air, negative
 *   noise) is raised to one unit (1e-6 g/cm^3) so that no back end divides by zero (ranges / rho, free paths);
 * - tables: ./tables.ts buildMcTables of the problem's materials and cut-offs;
 * - source: the alias table over the voxels with activity > 0 (all voxels have the same volume);
 * - photon majorant: max over materials m of rho_max(m) x (mu/rho)_m(E) at each grid energy, rho_max(m) the largest
 *   decoded density of a voxel of material m, times (1 + 2^-20), as f32.
 * @throws InputError for inconsistent sizes, no activity, NaN or too large densities
 */
export function buildMcProblem(opts: McProblemOptions): McProblem {
  const n = checkOptions(opts);
  const cutoffs = opts.cutoffs ?? DEFAULT_MC_CUTOFFS;
  let media: Uint32Array;
  let materials: McMaterial[];
  if (opts.material) {
    media = buildMedia(opts.densityGPerMl, n).media;
    for (let v = 0; v < n; v++) media[v] = media[v] & 0xffffff; // material 0 = the one given
    materials = [opts.material];
  } else {
    const built = buildMedia(opts.densityGPerMl, n);
    media = built.media;
    materials = built.materials;
  }
  for (let v = 0; v < n; v++) if ((media[v] & 0xffffff) === 0) media[v] = (media[v] | 1) >>> 0;
  const tables = buildMcTables(materials, cutoffs);
  const alias = buildSourceAlias(opts.activityBqPerMl);
  return {
    dims: [opts.dims[0], opts.dims[1], opts.dims[2]],
    voxelCm: [opts.spacingMm[0] / 10, opts.spacingMm[1] / 10, opts.spacingMm[2] / 10],
    media,
    tables,
    emissions: mcEmissions(opts.isotope),
    sourceVoxel: alias.sourceVoxel,
    sourceProbability: alias.sourceProbability,
    sourceAlias: alias.sourceAlias,
    photonMajorantPerCm: photonMajorant(media, tables),
    tallyUnitMeV: opts.tallyUnitMeV ?? DEFAULT_MC_TALLY_UNIT_MEV,
  };
}

/** The Woodcock majorant [1/cm] of a problem's media on the table grid (see buildMcProblem). */
export function photonMajorant(media: Uint32Array, tables: McTables): Float32Array {
  const nMat = tables.materials.length;
  const rhoMax = new Float64Array(nMat);
  for (let v = 0; v < media.length; v++) {
    const m = media[v] >>> 24;
    if (m >= nMat) throw new InputError(`voxel ${v} refers to material ${m}, but the tables hold ${nMat}`);
    const rho = (media[v] & 0xffffff) * MC_DENSITY_UNIT;
    if (rho > rhoMax[m]) rhoMax[m] = rho;
  }
  const out = new Float32Array(MC_TABLE_POINTS);
  for (let i = 0; i < MC_TABLE_POINTS; i++) {
    let mu = 0;
    for (let m = 0; m < nMat; m++) {
      if (rhoMax[m] === 0) continue;
      const v = rhoMax[m] * tables.data[(m * MC_TABLE_ROWS + McRow.PhotonTotal) * MC_TABLE_POINTS + i];
      if (v > mu) mu = v;
    }
    out[i] = mu * MAJORANT_MARGIN;
  }
  return out;
}
