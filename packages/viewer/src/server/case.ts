/**
 * Loading a case folder (the output of `dosimetry dose`) for the viewer: report.json, dose.nii.gz, and the inputs
 * named in the report's provenance (CT, activity, segmentations), read with dosimetry-core's readers (LPS mm).
 * Structure masks become one bit volume on the grid of the first segmentation (bit b = structure b), resampled
 * nearest-neighbour in world coordinates; `normal-liver` is derived as liver minus every tumour, as the dose
 * pipeline does.
 *
 * An input outside the case folder is read only when its content hashes to the sha256 the report records for it
 * (guard.ts): a report edited to name another file gets a warning, not that file's voxels.
 *
 * A multi-territory `plan` folder also holds each territory's dose map per GBq (report.json plan.territories[]
 * doseMapPerGBq); territories.ts loads them, from inside the case folder only and on the grid of dose.nii.gz.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, isAbsolute, join, resolve } from 'node:path';
import type { CaseJson, GridJson, ReportJson, StructureEntry } from '../protocol.ts';
import { structureBits } from '../structures.ts';
import {
  FileError,
  FormatError,
  type Geometry,
  type StructureMask,
  readImage,
  indexToWorld,
  readStructures,
  toFloat32,
  voxelCount,
  worldToIndex,
  sha256OfPath,
} from './core.ts';
import { inputRefusal, realPathOf, recordedSha256 } from './guard.ts';
import { type LoadedTerritory, loadTerritories } from './territories.ts';

/** A volume ready to send: float32 voxels and the grid. */
export interface LoadedVolume {
  readonly name: 'ct' | 'dose' | 'activity' | 'uncertainty';
  readonly unit: string;
  readonly geometry: Geometry;
  readonly data: Float32Array;
}

/** A case loaded in memory. */
export interface LoadedCase {
  readonly caseDir: string;
  readonly report: ReportJson;
  readonly volumes: LoadedVolume[];
  readonly structures: StructureEntry[];
  readonly labels: { geometry: Geometry; data: Uint32Array } | null;
  readonly warnings: string[];
  /** The inputs of report.json's provenance, in its order (GET /inputs/N serves the N-th). */
  readonly inputs: LoadedInput[];
  /** Territories of a multi-territory plan (report.json plan.territories), with their dose maps per GBq; often none. */
  readonly territories: LoadedTerritory[];
}

/** An input file named by report.json, as the viewer found it. */
export interface LoadedInput {
  readonly role: string;
  /** The path as report.json records it. */
  readonly reportedPath: string;
  /** Real path (symlinks resolved), undefined when it was not found. */
  readonly realPath: string | undefined;
  /** The sha256 report.json records for it (lower-case hex), if any. */
  readonly sha256: string | undefined;
  /** Why it is neither read nor served (see guard.ts inputRefusal), undefined when it may be. */
  readonly refused: string | undefined;
}

/** Options of `loadCase`. */
export interface LoadCaseOptions {
  /** The case folder (holds report.json and dose.nii.gz). */
  readonly caseDir: string;
  /**
   * Folders against which relative input paths of the report are resolved, tried in order. Default: the current
   * working directory, the case folder and its parent (`dose` records paths relative to the cwd it ran in).
   */
  readonly inputRoots?: readonly string[];
}

function gridJson(g: Geometry): GridJson {
  return {
    dims: [g.dims[0], g.dims[1], g.dims[2]],
    spacingMm: [g.spacingMm[0], g.spacingMm[1], g.spacingMm[2]],
    originLpsMm: [g.originLpsMm[0], g.originLpsMm[1], g.originLpsMm[2]],
    direction: [...g.direction],
  };
}

function readReport(caseDir: string): ReportJson {
  const path = join(caseDir, 'report.json');
  if (!existsSync(path)) {
    throw new FileError(`${caseDir} holds no report.json; give the folder written by \`dosimetry dose --out DIR\``);
  }
  let report: ReportJson;
  try {
    report = JSON.parse(readFileSync(path, 'utf8')) as ReportJson;
  } catch (err) {
    throw new FormatError(`${path} is not valid JSON (${(err as Error).message}); rerun \`dosimetry dose\``, { cause: err });
  }
  if (!Array.isArray(report.structures)) throw new FormatError(`${path} has no structures[]; it is not a dose report`);
  return report;
}

/** Resolves an input path of the report against the candidate roots; undefined when none exists. */
export function resolveInputPath(p: string, roots: readonly string[]): string | undefined {
  if (isAbsolute(p)) return existsSync(p) ? p : undefined;
  for (const r of roots) {
    const c = resolve(r, p);
    if (existsSync(c)) return c;
  }
  return undefined;
}

/** Nearest-neighbour resampling of a mask (occupancy >= 50 %) onto `target`; returns the inside flags. */
function maskOnGrid(mask: StructureMask, target: Geometry): Uint8Array {
  const out = new Uint8Array(voxelCount(target));
  const [nx, ny, nz] = target.dims;
  const [mx, my, mz] = mask.geometry.dims;
  const w = [0, 0, 0];
  const q = [0, 0, 0];
  let n = 0;
  for (let k = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      for (let i = 0; i < nx; i++, n++) {
        indexToWorld(target, i, j, k, w);
        worldToIndex(mask.geometry, w[0], w[1], w[2], q);
        const a = Math.floor(q[0] + 0.5), b = Math.floor(q[1] + 0.5), c = Math.floor(q[2] + 0.5);
        if (a < 0 || b < 0 || c < 0 || a >= mx || b >= my || c >= mz) continue;
        if (mask.occupancy[a + mx * (b + my * c)] >= 128) out[n] = 1;
      }
    }
  }
  return out;
}

function sameGeometry(a: Geometry, b: Geometry): boolean {
  for (let i = 0; i < 3; i++) {
    if (a.dims[i] !== b.dims[i]) return false;
    if (Math.abs(a.spacingMm[i] - b.spacingMm[i]) > 1e-6 || Math.abs(a.originLpsMm[i] - b.originLpsMm[i]) > 1e-6) return false;
  }
  return a.direction.every((v, i) => Math.abs(v - b.direction[i]) < 1e-9);
}

/**
 * Loads a case folder. Missing optional inputs (CT, activity, segmentations) become warnings, not errors: the viewer
 * still shows the dose and the table. Throws FileError/FormatError when report.json or dose.nii.gz is missing or bad.
 */
export async function loadCase(options: LoadCaseOptions): Promise<LoadedCase> {
  const caseDir = resolve(options.caseDir);
  if (!existsSync(caseDir) || !statSync(caseDir).isDirectory()) {
    throw new FileError(`case folder ${caseDir} does not exist; give the --out folder of \`dosimetry dose\``);
  }
  const report = readReport(caseDir);
  const roots = options.inputRoots ?? [process.cwd(), caseDir, resolve(caseDir, '..')];
  const warnings: string[] = [];
  const volumes: LoadedVolume[] = [];
  const dosePath = join(caseDir, 'dose.nii.gz');
  if (!existsSync(dosePath)) throw new FileError(`${caseDir} holds no dose.nii.gz; rerun \`dosimetry dose --out ${caseDir}\``);
  const dose = (await readImage(dosePath, 'dose')).volume;
  volumes.push({ name: 'dose', unit: 'Gy', geometry: dose.geometry, data: toFloat32(dose.data) });
  // A Monte Carlo case (dose --method mc, plan --method mc): the relative standard error of each voxel's dose, shown as
  // the page's "uncertainty" overlay; only on the dose's own grid (the page samples it with the dose's matrix).
  const uncertaintyPath = join(caseDir, 'dose_uncertainty.nii.gz');
  if (existsSync(uncertaintyPath)) {
    try {
      const u = (await readImage(uncertaintyPath, 'dose uncertainty')).volume;
      const same = u.geometry.dims.every((n, i) => n === dose.geometry.dims[i]);
      if (same) volumes.push({ name: 'uncertainty', unit: 'relative', geometry: dose.geometry, data: toFloat32(u.data) });
      else warnings.push(`dose_uncertainty.nii.gz is ${u.geometry.dims.join('x')} voxels, the dose ${dose.geometry.dims.join('x')}: not shown (write both with the same dosimetry run)`);
    } catch (err) {
      warnings.push(`dose_uncertainty.nii.gz could not be read: ${(err as Error).message}`);
    }
  }

  const inputs = report.provenance?.inputs ?? [];
  const params = report.provenance?.parameters ?? {};
  const caseRoot = realPathOf(caseDir) ?? caseDir;
  const terr = await loadTerritories({ report, caseRoot, doseGeometry: dose.geometry });
  warnings.push(...terr.warnings);
  const loadedInputs: LoadedInput[] = [];
  const segs: Array<{ path: string; labels?: string }> = [];
  const labelTables = Array.isArray(params.labels) ? (params.labels as Array<string | null>) : [];
  let segIndex = 0;
  for (const inp of inputs) {
    const role = inp.role ?? '';
    // --labels tables are per segmentation given to dose, in order: count the ones that are not shown too.
    const labels = role === 'segmentation' ? (labelTables[segIndex++] ?? undefined) : undefined;
    const found = typeof inp.path === 'string' ? resolveInputPath(inp.path, roots) : undefined;
    const realPath = found !== undefined ? realPathOf(found) : undefined;
    const sha256 = recordedSha256(inp.sha256);
    const refused = realPath !== undefined ? inputRefusal(caseRoot, realPath, sha256, () => sha256OfPath(realPath)) : undefined;
    loadedInputs.push({ role, reportedPath: String(inp.path), realPath, sha256, refused });
    if (!found || !realPath) {
      warnings.push(`${role || 'input'} ${inp.path} named in report.json was not found (tried ${roots.join(', ')}); start the viewer from the folder where dose ran`);
      continue;
    }
    if (refused) {
      warnings.push(`${role || 'input'} ${inp.path} is not shown: ${refused}`);
      continue;
    }
    const abs = found;
    if (role === 'segmentation') segs.push({ path: abs, labels });
    else if (role === 'ct' || role === 'activity') {
      try {
        const v = (await readImage(abs, role)).volume;
        const unit = role === 'ct' ? 'HU' : params.activityUnit === 'counts' ? 'counts' : 'Bq/mL';
        volumes.push({ name: role, unit, geometry: v.geometry, data: toFloat32(v.data) });
      } catch (err) {
        warnings.push(`${role} ${inp.path} could not be read: ${(err as Error).message}`);
      }
    }
  }

  // Masks: a structures.seg.nrrd in the case folder (all reported structures) wins; else the report's segmentations.
  const masks = new Map<string, StructureMask>();
  const own = join(caseDir, 'structures.seg.nrrd');
  const sources = existsSync(own) ? [{ path: own, labels: undefined }] : segs;
  for (const s of sources) {
    try {
      for (const m of await readStructures(s.path, { labels: s.labels })) if (!masks.has(m.name)) masks.set(m.name, m);
    } catch (err) {
      warnings.push(`segmentation ${basename(s.path)} could not be read: ${(err as Error).message}`);
    }
  }
  const first = masks.values().next().value as StructureMask | undefined;
  const labelGeometry = first?.geometry;
  const nLabel = labelGeometry ? voxelCount(labelGeometry) : 0;
  const inside = new Map<string, Uint8Array>();
  const insideOf = (name: string): Uint8Array | undefined => {
    if (!labelGeometry) return undefined;
    if (inside.has(name)) return inside.get(name);
    const m = masks.get(name);
    if (!m) return undefined;
    let f: Uint8Array;
    if (sameGeometry(m.geometry, labelGeometry)) {
      f = new Uint8Array(nLabel);
      for (let n = 0; n < nLabel; n++) f[n] = m.occupancy[n] >= 128 ? 1 : 0;
    } else f = maskOnGrid(m, labelGeometry);
    inside.set(name, f);
    return f;
  };
  const tumorNames = report.structures.filter((s) => s.role === 'tumor' && s.lesionOf === undefined).map((s) => s.name);
  const liverName = typeof params.liver === 'string' ? params.liver : report.structures.find((s) => s.role === 'liver')?.name;
  const flags = report.structures.map((s) => {
    let f = insideOf(s.name);
    if (!f && s.role === 'normal-liver' && liverName && labelGeometry) {
      const liver = insideOf(liverName);
      if (liver) {
        f = Uint8Array.from(liver);
        for (const t of tumorNames) {
          const tm = insideOf(t);
          if (tm) for (let n = 0; n < nLabel; n++) if (tm[n]) f[n] = 0;
        }
      }
    }
    return f;
  });
  const bits = structureBits({ structures: report.structures, inside: flags, geometry: labelGeometry });
  if (masks.size > 0 || segs.length > 0) warnings.push(...bits.warnings);
  const structures = bits.entries;
  return {
    caseDir,
    report,
    volumes,
    structures,
    labels: labelGeometry && bits.labels ? { geometry: labelGeometry, data: bits.labels } : null,
    warnings,
    inputs: loadedInputs,
    territories: terr.territories,
  };
}

/** The page's view of a loaded case (GET /api/case). */
export function caseJson(c: LoadedCase): CaseJson {
  return {
    report: c.report,
    volumes: c.volumes.map((v) => ({
      name: v.name,
      unit: v.unit,
      grid: gridJson(v.geometry),
      url: `/api/volume/${v.name}`,
      byteLength: v.data.byteLength,
    })),
    structures: c.structures,
    labels: c.labels ? { grid: gridJson(c.labels.geometry), url: '/api/labels', byteLength: c.labels.data.byteLength } : null,
    warnings: c.warnings,
    caseName: basename(c.caseDir),
    ...(c.territories.length
      ? {
          territories: c.territories.map((t, n) => ({
            ...t.entry,
            doseMapPerGBq: t.map ? { grid: gridJson(t.map.geometry), url: `/api/territory/${n}`, byteLength: t.map.data.byteLength } : null,
          })),
        }
      : {}),
  };
}
