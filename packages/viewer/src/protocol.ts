/**
 * What the viewer's server tells the page (GET /api/case) and how volumes travel (GET /api/volume/NAME).
 * Types only: shared by the Node server and the browser bundle.
 */

/** Grid of a volume in LPS mm (same fields as dosimetry-core's Geometry; direction column-major 3x3). */
export interface GridJson {
  /** Voxel counts along i, j, k. */
  dims: [number, number, number];
  /** Voxel spacing along i, j, k [mm]. */
  spacingMm: [number, number, number];
  /** Centre of voxel (0,0,0), LPS [mm]. */
  originLpsMm: [number, number, number];
  /** Direction cosines, column-major: column c is the LPS unit vector of index axis c. */
  direction: number[];
}

/** A scalar volume the page can fetch: float32 little-endian, x-fastest, at `url`. */
export interface VolumeEntry {
  /** 'ct' (HU), 'dose' (Gy at the reported activity), 'activity' (as stored: Bq/mL or counts). */
  name: 'ct' | 'dose' | 'activity';
  /** Display unit, e.g. "HU", "Gy", "Bq/mL", "counts". */
  unit: string;
  grid: GridJson;
  url: string;
  /** Byte length of the float32 payload (4 x voxel count). */
  byteLength: number;
}

/** A reported structure as the viewer shows it. */
export interface StructureEntry {
  /** Index into report.structures. */
  index: number;
  name: string;
  role: string;
  /** Bit (0..31) of this structure in the label volume, or -1 when no mask could be found for it. */
  bit: number;
  /** Display colour, RGB 0..255. */
  colorRgb: [number, number, number];
  /** Mean LPS position [mm] of the structure's voxels, or null without a mask. */
  centroidLps: [number, number, number] | null;
}

/** GET /api/case. */
export interface CaseJson {
  /** The case folder's report.json, as written by `dosimetry dose`. */
  report: ReportJson;
  volumes: VolumeEntry[];
  structures: StructureEntry[];
  /** Structure bit volume (uint32 little-endian per voxel, bit b set = inside structure with bit b), or null. */
  labels: { grid: GridJson; url: string; byteLength: number } | null;
  /** Problems met while loading (missing inputs, structures without masks), for the page to show. */
  warnings: string[];
  /** Display name of the case (folder name). */
  caseName: string;
}

/** The fields of report.json the viewer reads (CONTRACT.md). */
export interface ReportJson {
  schemaVersion: number;
  isotope: string;
  method: string;
  backend: string;
  activityInFieldGBq: number;
  structures: ReportStructureJson[];
  provenance?: { inputs?: Array<{ role?: string; path: string; sha256?: string }>; parameters?: Record<string, unknown> };
  [key: string]: unknown;
}

/** One structure of report.json. */
export interface ReportStructureJson {
  name: string;
  role: string;
  volumeMl: number;
  meanGy: number;
  d70Gy: number;
  v100: number;
  v205: number;
  dvh: { doseGy: number[]; volumeFraction: number[] };
  [key: string]: unknown;
}

/** A file of a cohort folder the page can show (GET url). */
export interface CohortFileJson {
  /** File name inside the folder, e.g. "roc.svg", "lesions.csv". */
  name: string;
  url: string;
}

/** A cohort folder (outputs of `dosimetry cohort`, `roc --svg`, `groups --svg`, `logistic --svg`, `km --svg`). */
export interface CohortJson {
  /** Folder name. */
  name: string;
  /** SVG plots, by name. */
  plots: CohortFileJson[];
  /** CSV tables, by name. */
  tables: CohortFileJson[];
  /** JSON outputs (e.g. saved `--json` results), by name. */
  results: CohortFileJson[];
}

/**
 * GET /api/mode: what the server was started on. 'case': a dose output folder (then GET /api/case); 'cohort': a
 * folder of cohort tables and plots; 'empty': nothing, the page waits for dropped files.
 */
export type ModeJson = { kind: 'case' } | { kind: 'cohort'; cohort: CohortJson } | { kind: 'empty' };
