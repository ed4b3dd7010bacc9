/**
 * The territories of a multi-territory `plan` case (report.json plan.territories[], `plan --territories FILE.json`):
 * each territory's planned activity, its mean dose per GBq by structure and its dose map per GBq
 * (DIR/territories/<slug>.dose_per_gbq.nii.gz, Gy per GBq administered to that territory, on the grid of
 * dose.nii.gz). The page recomputes the dose at any activities as sum_t A_t x map_t.
 *
 * The report is read defensively: fields that are missing or malformed become warnings, never errors, and what is
 * present is shown. A map is read only from inside the case folder (guard.ts caseFile: real path, no symlink or `..`
 * out of it) and only when it lies on the grid of dose.nii.gz (the sum is voxel by voxel).
 */
import type { ReportJson, TerritoryEntry } from '../protocol.ts';
import { type Geometry, readImage, sameGrid, toFloat32 } from './core.ts';
import { caseFile } from './guard.ts';

/** A territory as the server holds it: the page's entry and the map's voxels (Gy/GBq), when loaded. */
export interface LoadedTerritory {
  readonly entry: Omit<TerritoryEntry, 'doseMapPerGBq'>;
  readonly map: { readonly geometry: Geometry; readonly data: Float32Array } | undefined;
}

/** Options of `loadTerritories`. */
export interface LoadTerritoriesOptions {
  /** report.json as parsed. */
  readonly report: ReportJson;
  /** Real path of the case folder: maps are read from inside it only. */
  readonly caseRoot: string;
  /** Grid of dose.nii.gz: every map must lie on it. */
  readonly doseGeometry: Geometry;
}

const isRecord = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
const finiteNonNegative = (x: unknown): number | undefined => (typeof x === 'number' && Number.isFinite(x) && x >= 0 ? x : undefined);

/** A short description of a grid for messages: dims, spacing [mm] and origin [mm]. */
function describe(g: Geometry): string {
  const f = (v: readonly number[]) => v.map((x) => +x.toFixed(3)).join(' x ');
  return `${g.dims.join(' x ')} voxels of ${f(g.spacingMm)} mm from (${g.originLpsMm.map((x) => +x.toFixed(2)).join(', ')}) mm`;
}

/**
 * Reads report.json's plan.territories[] and loads each territory's dose map per GBq. Returns an empty list for a
 * report without territories. Problems (a missing activity, a map outside the case folder, on another grid, or
 * unreadable) are returned as warnings, one line each, naming the territory and what to do.
 */
export async function loadTerritories(opts: LoadTerritoriesOptions): Promise<{ territories: LoadedTerritory[]; warnings: string[] }> {
  const warnings: string[] = [];
  const plan = opts.report.plan;
  const list = isRecord(plan) ? plan.territories : undefined;
  if (list === undefined) return { territories: [], warnings };
  if (!Array.isArray(list)) {
    warnings.push('report.json plan.territories is not a list: no territory sliders');
    return { territories: [], warnings };
  }
  const territories: LoadedTerritory[] = [];
  for (let index = 0; index < list.length; index++) {
    const t = list[index];
    if (!isRecord(t)) {
      warnings.push(`report.json plan.territories[${index}] is not an object: skipped`);
      continue;
    }
    const name = typeof t.name === 'string' && t.name !== '' ? t.name : `territory ${index + 1}`;
    let plannedActivityGBq = finiteNonNegative(t.activityGBq);
    if (plannedActivityGBq === undefined) {
      warnings.push(`territory ${name}: report.json gives no activityGBq (a number >= 0); its slider starts at 0 GBq`);
      plannedActivityGBq = 0;
    }
    const maxAllowed = finiteNonNegative(t.maxAllowedActivityGBq);
    const delivered = isRecord(t.order) ? finiteNonNegative(t.order.deliveredActivityGBq) : undefined;
    const structures: TerritoryEntry['structures'] = [];
    if (Array.isArray(t.structures)) {
      for (const s of t.structures) {
        if (isRecord(s) && typeof s.name === 'string' && typeof s.meanGyPerGBq === 'number' && Number.isFinite(s.meanGyPerGBq)) {
          structures.push({ name: s.name, meanGyPerGBq: s.meanGyPerGBq });
        }
      }
    }
    const entry: LoadedTerritory['entry'] = {
      index,
      name,
      ...(typeof t.device === 'string' ? { device: t.device } : {}),
      plannedActivityGBq,
      ...(maxAllowed !== undefined && maxAllowed > 0 ? { maxAllowedActivityGBq: maxAllowed } : {}),
      ...(delivered !== undefined ? { deliveredActivityGBq: delivered } : {}),
      limitingConstraints: Array.isArray(t.limitingConstraints) ? t.limitingConstraints.map((c) => (typeof c === 'string' ? c : JSON.stringify(c))) : [],
      structures,
      ...(typeof t.doseMapPerGBq === 'string' ? { doseMapPath: t.doseMapPerGBq } : {}),
    };
    territories.push({ entry, map: await loadMap(opts, name, t.doseMapPerGBq, warnings) });
  }
  return { territories, warnings };
}

async function loadMap(
  opts: LoadTerritoriesOptions,
  name: string,
  path: unknown,
  warnings: string[],
): Promise<LoadedTerritory['map']> {
  if (path === undefined) {
    warnings.push(`territory ${name}: report.json names no doseMapPerGBq; the dose view stays at the planned activities`);
    return undefined;
  }
  if (typeof path !== 'string') {
    warnings.push(`territory ${name}: doseMapPerGBq in report.json is not a path; the dose view stays at the planned activities`);
    return undefined;
  }
  const found = caseFile(opts.caseRoot, path);
  if ('refused' in found) {
    warnings.push(`territory ${name}: dose map not read: ${found.refused}`);
    return undefined;
  }
  try {
    const v = (await readImage(found.realPath, `dose map per GBq of territory ${name}`)).volume;
    if (!sameGrid(v.geometry, opts.doseGeometry)) {
      warnings.push(
        `territory ${name}: dose map ${path} is not on the grid of dose.nii.gz (map: ${describe(v.geometry)}; dose: ` +
          `${describe(opts.doseGeometry)}); rerun plan so that both are written on one grid`,
      );
      return undefined;
    }
    return { geometry: v.geometry, data: toFloat32(v.data) };
  } catch (err) {
    warnings.push(`territory ${name}: dose map ${path} could not be read: ${(err as Error).message}`);
    return undefined;
  }
}
