/**
 * Physics tables of the voxel Monte Carlo: for each material of a problem, the McRow rows of ./types.ts sampled on
 * the log grid E_i = exp(lnMin + i dLn), i = 0 .. MC_TABLE_POINTS − 1, from MC_TABLE_MIN_MEV to MC_TABLE_MAX_MEV,
 * rounded once to f32 (both back ends read the same numbers). Electron data: ./electron-data.ts; photons:
 * ./photon-data.ts. Everything is computed here from the formulas (nothing tabulated from outside but compositions,
 * I-values and the photoelectric fit parameters cited in those modules).
 */
import { InputError } from '../errors.ts';
import {
  bremsInverseMfpMass,
  csdaRangeOnGrid,
  elasticMixture,
  mollerInverseMfpMass,
  restrictedStoppingMass,
} from './electron-data.ts';
import { photonAttenuation } from './photon-data.ts';
import type { McCutoffs, McMaterial, McTables } from './types.ts';
import {
  DEFAULT_MC_CUTOFFS,
  MC_MAX_MATERIALS,
  MC_TABLE_MAX_MEV,
  MC_TABLE_MIN_MEV,
  MC_TABLE_POINTS,
  MC_TABLE_ROWS,
  McRow,
} from './types.ts';

export { SOFT_TISSUE, WATER } from './materials.ts';

/** Version of the physics and table layout (recorded in reports and cache keys). */
export const MC_TABLES_VERSION = 'mc-tables-1 (Bethe+SP71 δ, BH brems, Møller, Wentzel–Mott mixed C1=0.05, KN + Biggs–Lighthill photoabsorption)';

/** PENELOPE's C1 of the mixed elastic scheme. */
export const MC_ELASTIC_C1 = 0.05;

/** ln of the first grid energy and the grid step in ln E. */
export const MC_LN_MIN = Math.log(MC_TABLE_MIN_MEV);
export const MC_D_LN = (Math.log(MC_TABLE_MAX_MEV) - Math.log(MC_TABLE_MIN_MEV)) / (MC_TABLE_POINTS - 1);

/** Energy [MeV] of grid point i. */
export function tableEnergyMeV(i: number): number {
  return Math.exp(MC_LN_MIN + i * MC_D_LN);
}

/**
 * The value a (pointwise) row samples at energy E [MeV] for a material, in f64 (the ElectronRange row is an integral
 * over the grid and is not pointwise: use csdaRangeOnGrid). Units: McRow.
 */
export function rowFunction(row: McRow, material: McMaterial, eMeV: number, cutoffs: McCutoffs = DEFAULT_MC_CUTOFFS): number {
  switch (row) {
    case McRow.ElectronStopping:
      return restrictedStoppingMass(material, eMeV, cutoffs);
    case McRow.ElectronMoller:
      return mollerInverseMfpMass(material, eMeV, cutoffs.deltaThresholdMeV);
    case McRow.ElectronBrems:
      return bremsInverseMfpMass(material, eMeV, cutoffs.bremsThresholdMeV);
    case McRow.ElasticHardRate:
      return elasticMixture(material, eMeV, MC_ELASTIC_C1).hardRateMass;
    case McRow.ElasticScreening:
      return elasticMixture(material, eMeV, MC_ELASTIC_C1).screening;
    case McRow.ElasticMuCut:
      return elasticMixture(material, eMeV, MC_ELASTIC_C1).muCut;
    case McRow.ElasticMottC:
      return elasticMixture(material, eMeV, MC_ELASTIC_C1).mottC;
    case McRow.ElasticSoftT1:
      return elasticMixture(material, eMeV, MC_ELASTIC_C1).softTransportMass;
    case McRow.PhotonTotal:
      return photonAttenuation(material, eMeV).totalCm2PerG;
    case McRow.PhotonPhotoFraction: {
      const a = photonAttenuation(material, eMeV);
      return a.photoelectricCm2PerG / a.totalCm2PerG;
    }
    default:
      throw new InputError(`row ${row} is not a pointwise function of energy (ElectronRange: use csdaRangeOnGrid)`);
  }
}

/** Offset of row `row` of material `m` in McTables.data. */
export function rowOffset(m: number, row: McRow): number {
  return (m * MC_TABLE_ROWS + row) * MC_TABLE_POINTS;
}

function checkCutoffs(c: McCutoffs): void {
  const inGrid = (v: number) => v >= MC_TABLE_MIN_MEV && v < MC_TABLE_MAX_MEV;
  const bad: string[] = [];
  if (!inGrid(c.electronCutoffMeV)) bad.push(`electronCutoffMeV ${c.electronCutoffMeV}`);
  if (!inGrid(c.deltaThresholdMeV)) bad.push(`deltaThresholdMeV ${c.deltaThresholdMeV}`);
  if (!inGrid(c.bremsThresholdMeV)) bad.push(`bremsThresholdMeV ${c.bremsThresholdMeV}`);
  if (!inGrid(c.photonCutoffMeV)) bad.push(`photonCutoffMeV ${c.photonCutoffMeV}`);
  if (bad.length > 0) {
    throw new InputError(`Monte Carlo cut-offs outside the table range ${MC_TABLE_MIN_MEV}-${MC_TABLE_MAX_MEV} MeV: ${bad.join(', ')}`);
  }
  if (!(c.stepFraction > 0 && c.stepFraction <= 1)) throw new InputError(`stepFraction ${c.stepFraction} must be in (0, 1]`);
  if (!(c.maxStepCm > 0)) throw new InputError(`maxStepCm ${c.maxStepCm} must be > 0`);
}

/**
 * Builds the f32 tables of `materials` (at most MC_MAX_MATERIALS) on the log grid of ./types.ts. Cost: about 0.1 s per
 * material on one core.
 * @throws InputError for no or too many materials, or cut-offs outside the table range
 */
export function buildMcTables(materials: readonly McMaterial[], cutoffs: McCutoffs = DEFAULT_MC_CUTOFFS): McTables {
  if (materials.length === 0 || materials.length > MC_MAX_MATERIALS) {
    throw new InputError(`a Monte Carlo problem needs 1 to ${MC_MAX_MATERIALS} materials, got ${materials.length}`);
  }
  checkCutoffs(cutoffs);
  const n = MC_TABLE_POINTS;
  const data = new Float32Array(materials.length * MC_TABLE_ROWS * n);
  materials.forEach((mat, m) => {
    const range = csdaRangeOnGrid(mat, cutoffs, MC_LN_MIN, MC_D_LN, n);
    for (let i = 0; i < n; i++) {
      const e = tableEnergyMeV(i);
      const el = elasticMixture(mat, e, MC_ELASTIC_C1);
      const ph = photonAttenuation(mat, e);
      const set = (row: McRow, v: number) => {
        data[rowOffset(m, row) + i] = v;
      };
      set(McRow.ElectronRange, range[i]);
      set(McRow.ElectronStopping, restrictedStoppingMass(mat, e, cutoffs));
      set(McRow.ElectronMoller, mollerInverseMfpMass(mat, e, cutoffs.deltaThresholdMeV));
      set(McRow.ElectronBrems, bremsInverseMfpMass(mat, e, cutoffs.bremsThresholdMeV));
      set(McRow.ElasticHardRate, el.hardRateMass);
      set(McRow.ElasticScreening, el.screening);
      set(McRow.ElasticMuCut, el.muCut);
      set(McRow.ElasticMottC, el.mottC);
      set(McRow.ElasticSoftT1, el.softTransportMass);
      set(McRow.PhotonTotal, ph.totalCm2PerG);
      set(McRow.PhotonPhotoFraction, ph.photoelectricCm2PerG / ph.totalCm2PerG);
    }
  });
  return { materials: [...materials], cutoffs, data, lnMinMeV: MC_LN_MIN, dLn: MC_D_LN, version: MC_TABLES_VERSION };
}

/**
 * Table lookup exactly as the transport does it (mc-spec "Tables"): f = (ln E − lnMin)/dLn clamped to [0, N − 1],
 * i = min(floor f, N − 2), linear in between. For tests and the CPU back end.
 */
export function lookupRow(tables: McTables, m: number, row: McRow, eMeV: number): number {
  const n = MC_TABLE_POINTS;
  let f = (Math.log(eMeV) - tables.lnMinMeV) / tables.dLn;
  if (!(f > 0)) f = 0;
  if (f > n - 1) f = n - 1;
  const i = Math.min(Math.floor(f), n - 2);
  const w = f - i;
  const o = rowOffset(m, row);
  return tables.data[o + i] + w * (tables.data[o + i + 1] - tables.data[o + i]);
}
