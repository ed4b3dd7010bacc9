/**
 * `--labels` of dose and plan (and every command built on doseCaseFromArgs): an inline table "1=Liver,2=Tumor A", or
 * `@FILE`, a label table file (ITK-SNAP label description, 3D Slicer color table or JSON; src/io/label-table.ts) that
 * several label maps may share. Labels a map holds that its table does not name are reported as "label N" and said
 * with their voxel counts; labels a shared table names that the map lacks are noted (report.json `warnings`, and
 * `parameters.labelTables` per segmentation).
 */
import { type LabelTable } from '../../io/label-table.ts';
import { resolveLabelsOption } from '../../io/label-table-file.ts';
import type { LabelCoverage } from '../../io/labels.ts';

/** What a `--segmentation` entry carries for its `--labels`. */
export interface LabelsSpec {
  readonly path: string;
  /** The --labels value as given ("1=Liver,..." or "@FILE"). */
  labels?: string;
  /** The table to apply: the inline text, or the table read from @FILE. */
  table?: string | LabelTable;
  /** Collectors handed to readStructures (only when there is a table). */
  labelReport?: { warnings: string[]; onCoverage: (c: LabelCoverage) => void };
  /** How the map and its table matched, once read. */
  coverage?: LabelCoverage;
}

/** Reads every `@FILE` table (FileError/FormatError naming file and line) and sets up the collectors. */
export function resolveLabelSpecs(specs: LabelsSpec[]): void {
  for (const s of specs) {
    if (s.labels === undefined) continue;
    s.table = resolveLabelsOption(s.labels);
    s.labelReport = { warnings: [], onCoverage: (c) => (s.coverage = c) };
  }
}

/** The label table files among `--labels` values (inputs: hashed in the provenance, never inside the output folder). */
export function labelTablePaths(values: readonly string[]): string[] {
  return values.filter((v) => v.startsWith('@') && v.length > 1).map((v) => v.slice(1));
}

/** Provenance inputs of the label table files, role "labels", once each. */
export function labelInputs(specs: readonly LabelsSpec[]): Array<{ role: string; path: string }> {
  const paths = [...new Set(specs.flatMap((s) => (typeof s.table === 'object' ? [s.table.source] : [])))];
  return paths.map((path) => ({ role: 'labels', path }));
}

/**
 * report.json `parameters.labelTables`: per segmentation with a table, its format, the labels of the map the table
 * leaves unnamed (value, voxel count, volume in mL) and those it names that the map lacks. Empty without --labels.
 */
export function labelCoverageParameters(specs: readonly LabelsSpec[]): { labelTables?: unknown[] } {
  const withTable = specs.filter((s) => s.table !== undefined);
  if (withTable.length === 0) return {};
  return {
    labelTables: withTable.map((s) => ({
      segmentation: s.path,
      table: typeof s.table === 'object' ? s.table.source : 'inline',
      format: typeof s.table === 'object' ? s.table.format : 'inline',
      unnamedInMap: s.coverage?.unnamed.map((u) => ({ value: u.value, voxelCount: u.voxelCount, volumeMl: u.volumeMl })) ?? [],
      absentFromMap: s.coverage?.absent.map((a) => ({ value: a.value, name: a.name })) ?? [],
    })),
  };
}
