/**
 * Compare mode of the viewer: two case folders (planned and achieved, each written by `dosimetry dose` or `plan`)
 * side by side, with the difference map achieved - planned [Gy] and the structures matched by name. Started on the
 * output folder of `dosimetry compare` (compare.json naming both case folders; dose_difference.nii.gz when compare
 * wrote it) or with `--compare PLANNED ACHIEVED` (then the difference is computed here: the achieved dose resampled
 * trilinearly in world coordinates (LPS mm) onto the planned dose grid, minus the planned dose).
 *
 * Guard (as the case loader does for inputs, guard.ts): a case folder is read only when it was given on the command
 * line, lies inside the compare folder, or its report.json hashes to the SHA-256 the compare output records for it
 * (compare.json planned/achieved.reportSha256 or .sha256, or report.json provenance.inputs[] with role
 * planned/achieved). A compare.json edited to name another patient's folder gets an error, not that folder's voxels.
 * The difference map is read from inside the compare folder only (caseFile).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import type { CaseJson, CompareJson, CompareRowJson, GridJson } from '../protocol.ts';
import { type LoadedCase, caseJson, loadCase } from './case.ts';
import { FileError, FormatError, type Geometry, readImage, resampleLinear, sameGrid, toFloat32 } from './core.ts';
import { caseFile, isInside, realPathOf, recordedSha256, sha256Hex } from './guard.ts';

/** The two sides of a comparison. */
export const COMPARE_SIDES = ['planned', 'achieved'] as const;
export type CompareSide = (typeof COMPARE_SIDES)[number];

/** A comparison loaded in memory. */
export interface LoadedCompare {
  /** The compare output folder, when the viewer was started on one. */
  readonly compareDir: string | undefined;
  readonly name: string;
  readonly cases: Readonly<Record<CompareSide, LoadedCase>>;
  /** achieved - planned [Gy]; undefined when neither written nor computable (a warning says why). */
  readonly difference: { readonly geometry: Geometry; readonly data: Float32Array; readonly source: 'file' | 'computed' } | undefined;
  readonly rows: CompareRowJson[];
  readonly warnings: string[];
}

/** Options of `loadCompare`. */
export interface LoadCompareOptions {
  /** Output folder of `dosimetry compare` (compare.json, dose_difference.nii.gz). */
  readonly compareDir?: string;
  /** Planned and achieved case folders given on the command line: vouched for by the user, no hash needed. */
  readonly cases?: readonly [string, string];
  /** As LoadCaseOptions.inputRoots, for each case's inputs. */
  readonly inputRoots?: readonly string[];
}

const isRecord = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

/** True when `dir` is an output folder of `dosimetry compare` (holds compare.json). */
export function isCompareFolder(dir: string): boolean {
  return existsSync(join(dir, 'compare.json'));
}

function readJson(path: string, what: string): Record<string, unknown> {
  try {
    const v = JSON.parse(readFileSync(path, 'utf8')) as unknown;
    if (!isRecord(v)) throw new Error('not an object');
    return v;
  } catch (err) {
    throw new FormatError(`${path} is not valid JSON (${(err as Error).message}): rerun \`dosimetry ${what}\``, { cause: err });
  }
}

/** The SHA-256 the compare output records for a side's report.json (compare.json first, then report.json provenance). */
function recordedCaseSha(compareJson: Record<string, unknown>, compareReport: Record<string, unknown> | undefined, side: CompareSide): string | undefined {
  const own = compareJson[side];
  if (isRecord(own)) {
    const s = recordedSha256(own.reportSha256) ?? recordedSha256(own.sha256);
    if (s) return s;
  }
  const prov = compareReport && isRecord(compareReport.provenance) ? compareReport.provenance : undefined;
  const inputs = prov && Array.isArray(prov.inputs) ? prov.inputs : [];
  for (const inp of inputs) if (isRecord(inp) && inp.role === side) return recordedSha256(inp.sha256);
  return undefined;
}

/**
 * Why a case folder named by a compare output may not be read, or undefined when it may: it must be a folder with a
 * report.json, and be given on the command line (`vouched`, real paths), or lie inside the compare folder, or its
 * report.json must hash to the recorded SHA-256.
 */
export function caseFolderRefusal(
  caseDir: string,
  opts: { readonly compareRoot?: string; readonly vouched: readonly string[]; readonly sha256?: string },
): string | undefined {
  const real = realPathOf(caseDir);
  if (!real || !statSync(real).isDirectory()) return `case folder ${caseDir} does not exist`;
  if (!existsSync(join(real, 'report.json'))) return `case folder ${caseDir} holds no report.json: compute it with dose or plan first`;
  if (opts.vouched.includes(real)) return undefined;
  if (opts.compareRoot && isInside(opts.compareRoot, real)) return undefined;
  if (opts.sha256 === undefined) {
    return `case folder ${real} lies outside the compare folder and the compare output records no sha256 of its report.json; give it on the command line (pnpm viewer --compare PLANNED ACHIEVED)`;
  }
  const actual = sha256Hex(readFileSync(join(real, 'report.json')));
  if (actual !== opts.sha256) {
    return `case folder ${real}: its report.json's sha256 (${actual.slice(0, 12)}…) is not the one the compare output records (${opts.sha256.slice(0, 12)}…): it is not the case that was compared`;
  }
  return undefined;
}

/** Structures present in both reports, by name, from their mean doses. */
function rowsFromReports(planned: LoadedCase, achieved: LoadedCase): CompareRowJson[] {
  const rows: CompareRowJson[] = [];
  for (const p of planned.report.structures) {
    const a = achieved.report.structures.find((s) => s.name === p.name);
    if (a && Number.isFinite(p.meanGy) && Number.isFinite(a.meanGy)) {
      rows.push({ name: p.name, role: a.role, plannedGy: p.meanGy, achievedGy: a.meanGy, differenceGy: a.meanGy - p.meanGy });
    }
  }
  return rows;
}

/** compare.json pairs[] as rows (predictedGy = planned, scaled as compare scaled it); malformed pairs are skipped. */
function rowsFromCompareJson(c: Record<string, unknown>): CompareRowJson[] | undefined {
  if (!Array.isArray(c.pairs)) return undefined;
  const rows: CompareRowJson[] = [];
  for (const p of c.pairs) {
    if (!isRecord(p) || typeof p.name !== 'string') continue;
    const plannedGy = Number(p.predictedGy), achievedGy = Number(p.achievedGy);
    if (!Number.isFinite(plannedGy) || !Number.isFinite(achievedGy)) continue;
    const d = Number(p.differenceGy);
    rows.push({ name: p.name, role: String(p.role ?? ''), plannedGy, achievedGy, differenceGy: Number.isFinite(d) ? d : achievedGy - plannedGy });
  }
  return rows;
}

/**
 * Loads a comparison. Throws FileError when a case folder is missing or refused (the message says which and how to
 * fix it), FormatError when compare.json is not JSON; a missing or unreadable difference map is a warning.
 */
export async function loadCompare(opts: LoadCompareOptions): Promise<LoadedCompare> {
  const compareDir = opts.compareDir !== undefined ? resolve(opts.compareDir) : undefined;
  const compareRoot = compareDir !== undefined ? realPathOf(compareDir) : undefined;
  const warnings: string[] = [];
  let cj: Record<string, unknown> | undefined;
  let cr: Record<string, unknown> | undefined;
  if (compareDir !== undefined && isCompareFolder(compareDir)) {
    cj = readJson(join(compareDir, 'compare.json'), 'compare');
    if (existsSync(join(compareDir, 'report.json'))) cr = readJson(join(compareDir, 'report.json'), 'compare');
  } else if (compareDir !== undefined && !opts.cases) {
    throw new FileError(`${compareDir} holds no compare.json: give the --out folder of \`dosimetry compare\`, or --compare PLANNED ACHIEVED`);
  }
  const vouched = (opts.cases ?? []).map((d) => realPathOf(resolve(d)) ?? resolve(d));
  const dirs = {} as Record<CompareSide, string>;
  COMPARE_SIDES.forEach((side, n) => {
    let dir: string | undefined = opts.cases?.[n] !== undefined ? resolve(opts.cases[n]) : undefined;
    if (dir === undefined) {
      const entry = cj?.[side];
      const p = isRecord(entry) && typeof entry.path === 'string' ? entry.path : undefined;
      if (p === undefined) throw new FileError(`${compareDir}/compare.json names no ${side} case folder (${side}.path); give both with --compare PLANNED ACHIEVED`);
      dir = resolve(compareDir!, p);
    }
    const refused = caseFolderRefusal(dir, { compareRoot, vouched, sha256: cj ? recordedCaseSha(cj, cr, side) : undefined });
    if (refused) throw new FileError(`${side} case not shown: ${refused}`);
    dirs[side] = dir;
  });
  const [planned, achieved] = await Promise.all(COMPARE_SIDES.map((side) => loadCase({ caseDir: dirs[side], inputRoots: opts.inputRoots })));
  for (const [side, c] of [['planned', planned], ['achieved', achieved]] as const) warnings.push(...c.warnings.map((w) => `${side}: ${w}`));
  if (cj && Array.isArray(cj.warnings)) warnings.push(...cj.warnings.filter((w): w is string => typeof w === 'string'));

  const plannedDose = planned.volumes.find((v) => v.name === 'dose')!;
  const achievedDose = achieved.volumes.find((v) => v.name === 'dose')!;
  let difference: LoadedCompare['difference'];
  const file = compareRoot && existsSync(join(compareRoot, 'dose_difference.nii.gz')) ? caseFile(compareRoot, 'dose_difference.nii.gz') : undefined;
  if (file && 'refused' in file) warnings.push(`difference map not read: ${file.refused}`);
  else if (file) {
    try {
      const v = (await readImage(file.realPath, 'dose difference')).volume;
      difference = { geometry: v.geometry, data: toFloat32(v.data), source: 'file' };
      if (!sameGrid(v.geometry, plannedDose.geometry)) warnings.push('dose_difference.nii.gz is not on the planned dose grid; it is shown by world coordinates');
    } catch (err) {
      warnings.push(`dose_difference.nii.gz could not be read: ${(err as Error).message}`);
    }
  }
  if (!difference) {
    // achieved resampled onto the planned grid (trilinear, world coordinates); NaN where it has no dose
    const a = resampleLinear({ geometry: achievedDose.geometry, data: achievedDose.data }, plannedDose.geometry, Number.NaN);
    for (let n = 0; n < a.length; n++) a[n] -= plannedDose.data[n];
    difference = { geometry: plannedDose.geometry, data: a, source: 'computed' };
  }
  const rows = (cj && rowsFromCompareJson(cj)) ?? rowsFromReports(planned, achieved);
  const name = compareDir !== undefined && cj ? basename(compareDir) : `${basename(dirs.planned)} vs ${basename(dirs.achieved)}`;
  return { compareDir, name, cases: { planned, achieved }, difference, rows, warnings };
}

function gridJson(g: Geometry): GridJson {
  return { dims: [...g.dims] as GridJson['dims'], spacingMm: [...g.spacingMm] as GridJson['spacingMm'], originLpsMm: [...g.originLpsMm] as GridJson['originLpsMm'], direction: [...g.direction] };
}

/** A side's case JSON with its URLs under /api/compare/SIDE/ (territories are not shown in compare mode). */
function sideJson(c: LoadedCase, side: CompareSide): CaseJson {
  const j = caseJson({ ...c, territories: [] });
  const to = (url: string) => url.replace(/^\/api\//, `/api/compare/${side}/`);
  return {
    ...j,
    volumes: j.volumes.map((v) => ({ ...v, url: to(v.url) })),
    labels: j.labels ? { ...j.labels, url: to(j.labels.url) } : null,
  };
}

/** GET /api/compare. */
export function compareJson(c: LoadedCompare): CompareJson {
  return {
    planned: sideJson(c.cases.planned, 'planned'),
    achieved: sideJson(c.cases.achieved, 'achieved'),
    difference: c.difference
      ? { grid: gridJson(c.difference.geometry), url: '/api/compare/difference', byteLength: c.difference.data.byteLength, source: c.difference.source }
      : null,
    rows: c.rows,
    name: c.name,
    warnings: c.warnings,
  };
}

function bytesOf(a: Float32Array | Uint32Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/**
 * The bytes of a compare-mode API path (/api/compare/difference, /api/compare/SIDE/volume/NAME,
 * /api/compare/SIDE/labels), or undefined when the path is none of them (the server answers 404).
 */
export function compareBytes(c: LoadedCompare, path: string): Uint8Array | undefined {
  if (path === '/api/compare/difference') return c.difference ? bytesOf(c.difference.data) : undefined;
  const m = /^\/api\/compare\/(planned|achieved)\/(volume\/(ct|dose|activity)|labels)$/.exec(path);
  if (!m) return undefined;
  const lc = c.cases[m[1] as CompareSide];
  if (m[2] === 'labels') return lc.labels ? bytesOf(lc.labels.data) : undefined;
  const v = lc.volumes.find((x) => x.name === m[3]);
  return v ? bytesOf(v.data) : undefined;
}
