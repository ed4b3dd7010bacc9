/**
 * report.json and structures.csv of a dose case (fields fixed by ../shared/CONTRACT.md, extended freely).
 * Output is deterministic: the same inputs and options give byte-identical files (no timestamps, fixed order).
 */
import { sha256OfPath } from '../io/hash.ts';
import { BQ_PER_GBQ } from '../units/index.ts';
import { ENGINE_VERSION } from '../version.ts';
import type { DoseCaseResult, StructureReport } from './pipeline.ts';

/** SHA-256 of a file, or of a folder's files (sorted relative paths and contents); see io/hash.ts. */
export { sha256OfPath };

export interface ReportContext {
  readonly isotope: string;
  readonly method: string;
  readonly inputs: ReadonlyArray<{ role: string; path: string }>;
  readonly parameters: Record<string, unknown>;
  /** Extra top-level objects (e.g. "plan"). */
  readonly extra?: Record<string, unknown>;
}

export interface ReportStructure {
  name: string;
  role: string;
  volumeMl: number;
  massG: number;
  activityGBq: number;
  meanGy: number;
  minGy: number;
  maxGy: number;
  d50Gy: number;
  d70Gy: number;
  d90Gy: number;
  d98Gy: number;
  v100: number;
  v150: number;
  v205: number;
  dvh: { doseGy: number[]; volumeFraction: number[] };
  [key: string]: unknown;
}

function structureJson(s: StructureReport): ReportStructure {
  return {
    name: s.name,
    role: s.role,
    volumeMl: s.volumeMl,
    massG: s.massG,
    activityGBq: s.activityBq / BQ_PER_GBQ,
    meanGy: s.meanGy,
    minGy: s.minGy,
    maxGy: s.maxGy,
    d50Gy: s.d50Gy,
    d70Gy: s.d70Gy,
    d90Gy: s.d90Gy,
    d98Gy: s.d98Gy,
    v100: s.v100,
    v150: s.v150,
    v205: s.v205,
    ...(s.lesionOf !== undefined ? { lesionOf: s.lesionOf, equivalentDiameterMm: s.equivalentDiameterMm } : {}),
    voxelCount: s.voxelCount,
    negativeVoxelCount: s.negativeVoxelCount,
    fractionOutsideFov: s.fractionOutsideFov,
    densitySource: s.densitySource,
    doseMethod: s.doseMethod,
    origin: s.origin,
    dvh: s.dvh,
  };
}

/** Builds the report object (schemaVersion 1). */
export function buildReport(result: DoseCaseResult, ctx: ReportContext): Record<string, unknown> {
  return {
    schemaVersion: 1,
    isotope: ctx.isotope,
    method: ctx.method,
    backend: result.backend,
    backendReason: result.backendReason,
    activityInFieldGBq: result.activityInFieldGBq,
    lungShuntFraction: result.lungShuntFraction,
    lungShuntFractionSource: result.lungShuntFractionSource,
    decayFactorToImplant: result.decayFactor,
    negativeActivityVoxelCount: result.negativeActivityVoxelCount,
    doseGrid: {
      dims: result.dose.geometry.dims,
      spacingMm: result.dose.geometry.spacingMm,
      originLpsMm: result.dose.geometry.originLpsMm,
      direction: result.dose.geometry.direction,
    },
    structures: result.structures.map(structureJson),
    ...(ctx.extra ?? {}),
    warnings: result.warnings,
    provenance: {
      version: ENGINE_VERSION,
      inputs: ctx.inputs.map((i) => ({ role: i.role, path: i.path, sha256: sha256OfPath(i.path) })),
      parameters: result.ctParameters ? { ...ctx.parameters, ...result.ctParameters } : ctx.parameters,
    },
  };
}

const CSV_COLUMNS = [
  'name', 'role', 'volumeMl', 'massG', 'activityGBq', 'meanGy', 'minGy', 'maxGy', 'd50Gy', 'd70Gy', 'd90Gy', 'd98Gy',
  'v100', 'v150', 'v205', 'equivalentDiameterMm', 'lesionOf', 'densitySource', 'doseMethod',
] as const;

function csvField(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : '';
  const s = String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** Partial-volume correction columns (dose --recovery-coefficients, dose/recovery.ts): added only when corrected. */
const PVC_CSV_COLUMNS = { pvcRc: 'rc', meanGyCorrected: 'meanGyCorrected', activityGBqCorrected: 'activityGBqCorrected', pvcFlag: 'flag' } as const;

/**
 * Monte Carlo column (--method mc, src/cli/commands/dose-mc.ts applyMcToReport): the relative standard error of the
 * mean dose (a fraction, 0.01 = 1 %); added only when the report has it, so other methods' files are unchanged.
 */
const MC_CSV_COLUMNS = ['meanGyRelStdErr'] as const;

/** structures.csv: one row per structure, the report's scalar fields. */
export function structuresCsv(report: { structures: ReportStructure[] }): string {
  const pvc = report.structures.some((s) => s.pvc !== undefined);
  const mc = report.structures.some((s) => s.meanGyRelStdErr !== undefined);
  const rows = [[...CSV_COLUMNS, ...(mc ? MC_CSV_COLUMNS : []), ...(pvc ? Object.keys(PVC_CSV_COLUMNS) : [])].join(',')];
  for (const s of report.structures) {
    const p = (s.pvc ?? {}) as Record<string, unknown>;
    rows.push([...CSV_COLUMNS.map((c) => csvField(s[c])), ...(mc ? MC_CSV_COLUMNS.map((c) => csvField(s[c])) : []), ...(pvc ? Object.values(PVC_CSV_COLUMNS).map((k) => csvField(p[k])) : [])].join(','));
  }
  return rows.join('\n') + '\n';
}

/** Fixed-width table of the structures for the terminal. */
export function structuresTable(report: { structures: ReportStructure[] }): string {
  // --method mc: the mean's relative standard error [%] beside it (other methods' tables unchanged)
  const mc = report.structures.some((s) => s.meanGyRelStdErr !== undefined);
  const se = (x: unknown) => (typeof x === 'number' && Number.isFinite(x) ? (100 * x).toFixed(2) : '-');
  const head = ['structure', 'role', 'vol mL', 'mass g', 'A GBq', 'mean Gy', ...(mc ? ['SE %'] : []), 'D70 Gy', 'D90 Gy', 'V100', 'V205'];
  const rows = report.structures.map((s) => [
    s.name, s.role, s.volumeMl.toFixed(1), s.massG.toFixed(1), s.activityGBq.toFixed(4), s.meanGy.toFixed(1), ...(mc ? [se(s.meanGyRelStdErr)] : []),
    s.d70Gy.toFixed(1), s.d90Gy.toFixed(1), s.v100.toFixed(3), s.v205.toFixed(3),
  ]);
  const w = head.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
  const line = (r: string[]) => r.map((x, c) => (c < 2 ? x.padEnd(w[c]) : x.padStart(w[c]))).join('  ');
  return [line(head), w.map((n) => '-'.repeat(n)).join('  '), ...rows.map(line)].join('\n');
}
