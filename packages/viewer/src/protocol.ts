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
  /**
   * 'ct' (HU), 'dose' (Gy at the reported activity), 'activity' (as stored: Bq/mL or counts), 'uncertainty' (a Monte
   * Carlo case's dose_uncertainty.nii.gz: relative standard error of each voxel's dose, a fraction, on the dose grid).
   */
  name: 'ct' | 'dose' | 'activity' | 'uncertainty';
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
  /**
   * Territories of a multi-territory `plan` (report.json plan.territories[]), each with its dose map per GBq when it
   * could be loaded. Absent for a case without territories (the page then looks as it always did).
   */
  territories?: TerritoryEntry[];
}

/**
 * One territory of a multi-territory plan, as the page shows it: its planned activity and slider range, the mean dose
 * per GBq it gives each structure, and its dose map per GBq (Gy/GBq, float32 on the grid of dose.nii.gz).
 */
export interface TerritoryEntry {
  /** Index into report.plan.territories. */
  index: number;
  name: string;
  /** Device of the territory (glass, resin, ho166), when the report gives one. */
  device?: string;
  /** The optimised activity of the plan [GBq] (0 with a warning when the report gives none). */
  plannedActivityGBq: number;
  /** The largest activity the plan allows for this territory [GBq], when the report gives one. */
  maxAllowedActivityGBq?: number;
  /**
   * The activity its vial delivers [GBq] (report.json plan.territories[].order.deliveredActivityGBq, with
   * --treatment-time), when the report gives one; the dose maps and structures are at the planned activity.
   */
  deliveredActivityGBq?: number;
  /** The constraints that bind this territory, as the report names them. */
  limitingConstraints: string[];
  /** Mean dose per GBq administered to this territory [Gy/GBq], by structure name (finite values only). */
  structures: Array<{ name: string; meanGyPerGBq: number }>;
  /** The path report.json gives for the map (relative to the case folder), if any. */
  doseMapPath?: string;
  /**
   * The dose map per GBq [Gy/GBq], float32 little-endian, x-fastest, on the grid of dose.nii.gz; null when it is
   * absent, refused (outside the case folder, another grid) or unreadable: `warnings` of the case says why.
   */
  doseMapPerGBq: { grid: GridJson; url: string; byteLength: number } | null;
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
export type ModeJson = { kind: 'case' } | { kind: 'cohort'; cohort: CohortJson } | { kind: 'compare' } | { kind: 'empty' };

/**
 * GET /api/compare (mode 'compare'): two cases side by side (planned and achieved, each as GET /api/case would give
 * it, with volume URLs under /api/compare/SIDE/), the difference map (achieved - planned [Gy], on the planned dose
 * grid) and the structures matched by name (compare.json pairs, else the two reports' means).
 */
export interface CompareJson {
  planned: CaseJson;
  achieved: CaseJson;
  /** achieved - planned [Gy], float32 little-endian, x-fastest; null when neither written nor computable. */
  difference: { grid: GridJson; url: string; byteLength: number; source: 'file' | 'computed' } | null;
  rows: CompareRowJson[];
  /** The compare folder's name, or "PLANNED vs ACHIEVED". */
  name: string;
  warnings: string[];
}

/** One structure present in both cases. */
export interface CompareRowJson {
  name: string;
  role: string;
  /** Planned (predicted) mean absorbed dose [Gy]. */
  plannedGy: number;
  /** Achieved mean absorbed dose [Gy]. */
  achievedGy: number;
  /** achieved - planned [Gy]. */
  differenceGy: number;
}
