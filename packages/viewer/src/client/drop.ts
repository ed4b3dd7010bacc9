/**
 * Cases computed in the page from dropped files, with the same core as the CLI (readers, computeDoseCase,
 * buildReport). Nothing is uploaded: files are read with File.arrayBuffer() and decoded here.
 *
 * Formats: NIfTI (.nii, .nii.gz), NRRD (.nrrd; a 3D Slicer .seg.nrrd is a segmentation), MetaImage (.mha, through
 * itk-wasm pipelines served by the viewer's own server, see mha.ts), DICOM image series (any number of files: the core's
 * reader; JPEG, JPEG-LS and JPEG 2000 pixel data decoded by GDCM in WebAssembly, see dicom.ts). Label maps become segmentations when their role
 * is set to "label map" with a table "1=Liver,2=Tumor A", or with a dropped label table file (ITK-SNAP label
 * description, 3D Slicer color table or JSON, as `--labels @FILE` reads): "@NAME" in a label map's table field names
 * it, and a label map whose field is empty takes the one table dropped, if there is exactly one. Roles are guessed (CT when the name says so or values go
 * below -200 HU) and can be changed before computing.
 *
 * Methods: LDM, DVK and Monte Carlo (`dose --method mc`: histories and seed from the panel, parseDropMc). The Monte
 * Carlo runs on the chosen back end: WebGPU (src/mc/transport-gpu.ts on navigator.gpu) or the CPU, which in a page has
 * no worker threads and runs the histories on the page's thread, yielding to it every 40 ms (src/mc/transport-cpu.ts);
 * the report gets each structure's meanGyRelStdErr and the "mc" object as the CLI writes them, the case the per-voxel
 * relative standard error (shown in the readout).
 */
import { computeDoseCase, type DoseMethod, type McCaseOptions } from '../../../dosimetry-core/src/dose/pipeline.ts';
import { MC_MAX_HISTORIES_ACCEPTED, applyMcToReport, mcParameters } from '../../../dosimetry-core/src/cli/commands/dose-mc.ts';
import { DEFAULT_MC_BATCHES } from '../../../dosimetry-core/src/mc/batches.ts';
import { parseDecimal } from '../../../dosimetry-core/src/units/decimal.ts';
import { buildReport } from '../../../dosimetry-core/src/dose/report.ts';
import type { ActivityUnit } from '../../../dosimetry-core/src/dose/calibration.ts';
import { labelMapToStructures } from '../../../dosimetry-core/src/io/labels.ts';
import { type LabelTable, parseLabelTableText } from '../../../dosimetry-core/src/io/label-table.ts';
import { decodeNifti } from '../../../dosimetry-core/src/io/nifti.ts';
import { decodeNrrd, nrrdToVolume } from '../../../dosimetry-core/src/io/nrrd.ts';
import { isSegNrrd, segNrrdToStructures } from '../../../dosimetry-core/src/io/segmentation.ts';
import type { Isotope } from '../../../dosimetry-core/src/units/index.ts';
import type { StructureMask } from '../../../dosimetry-core/src/volume/structure.ts';
import { type Volume, toFloat32 } from '../../../dosimetry-core/src/volume/volume.ts';
import type { GridJson, ReportJson } from '../protocol.ts';
import { structureBits } from '../structures.ts';
import type { ViewerCase } from './case-data.ts';
import { makeClientVolume } from './views.ts';

/** A dropped file after decoding. */
export interface DroppedFile {
  readonly name: string;
  readonly bytes: Uint8Array;
  /** An image (activity, CT or label map) or a segmentation's structures. */
  readonly volume?: Volume;
  readonly masks?: StructureMask[];
  /** A label table file (ITK-SNAP, 3D Slicer color table or JSON) for the label maps. */
  readonly table?: LabelTable;
  /** Guessed role. */
  role: 'activity' | 'ct' | 'segmentation' | 'label-map' | 'label-table' | 'ignore';
  /** What the reader noticed (a DICOM series: lossy compression, resampling), shown with the drop. */
  readonly warnings?: readonly string[];
}

/** True for a dropped DICOM file: named .dcm, or with the Part 10 "DICM" marker at byte 128 (names often lack .dcm). */
export function isDroppedDicom(name: string, bytes: Uint8Array): boolean {
  return name.toLowerCase().endsWith('.dcm') || (bytes.length >= 132 && bytes[128] === 0x44 && bytes[129] === 0x49 && bytes[130] === 0x43 && bytes[131] === 0x4d);
}

/**
 * Decodes dropped DICOM files into one entry per image series (through /dicom.js: the core's DICOM reader, and GDCM in
 * WebAssembly for JPEG, JPEG-LS and JPEG 2000 pixel data); CT series take the CT role, the others the activity role.
 */
export async function decodeDroppedDicom(files: ReadonlyArray<{ name: string; bytes: Uint8Array }>): Promise<DroppedFile[]> {
  const mod = (await import('/dicom.js' as string)) as typeof import('./dicom.ts');
  const series = await mod.decodeDicomFiles(files);
  if (series.length === 0) throw new Error(`${files.length} DICOM file(s) but no image series among them (structure sets and segmentations: drop a .seg.nrrd or a label map)`);
  const all = new Uint8Array(files.reduce((n, f) => n + f.bytes.length, 0));
  let o = 0;
  for (const f of files) (all.set(f.bytes, o), (o += f.bytes.length));
  return series.map((s) => ({ name: s.name, bytes: all, volume: s.volume, role: s.modality === 'CT' ? 'ct' : 'activity', warnings: s.warnings }));
}

/** File names read as label tables (by content: label-table.ts tells the three formats apart). */
const TABLE_EXT = ['.txt', '.ctbl', '.json', '.label'];

const IMAGE_EXT = ['.nii', '.nii.gz', '.nrrd', '.mha'];

/** Decodes one file by its name; throws a message naming the file for unknown or broken ones. */
export async function decodeDropped(name: string, bytes: Uint8Array): Promise<DroppedFile> {
  const lower = name.toLowerCase();
  if (lower.endsWith('.nrrd')) {
    const n = decodeNrrd(bytes, name);
    if (isSegNrrd(n)) return { name, bytes, masks: segNrrdToStructures(n, name), role: 'segmentation' };
    const volume = nrrdToVolume(n, name);
    return { name, bytes, volume, role: guessImageRole(name, volume) };
  }
  if (lower.endsWith('.nii') || lower.endsWith('.nii.gz')) {
    const volume = decodeNifti(bytes, name).volume;
    return { name, bytes, volume, role: guessImageRole(name, volume) };
  }
  if (TABLE_EXT.some((e) => lower.endsWith(e))) {
    return { name, bytes, table: parseLabelTableText(new TextDecoder().decode(bytes), name), role: 'label-table' };
  }
  if (lower.endsWith('.mha')) {
    const mod = (await import('/mha.js' as string)) as typeof import('./mha.ts');
    const volume = await mod.decodeMha(bytes, name);
    return { name, bytes, volume, role: guessImageRole(name, volume) };
  }
  throw new Error(`${name}: unknown format; drop NIfTI (${IMAGE_EXT.join(', ')}) images, a 3D Slicer .seg.nrrd or a label table (${TABLE_EXT.join(', ')})`);
}

function guessImageRole(name: string, v: Volume): DroppedFile['role'] {
  const lower = name.toLowerCase();
  if (/(^|[^a-z])ct([^a-z]|$)|_hu|hu\./.test(lower)) return 'ct';
  if (/label|seg|mask/.test(lower)) return 'label-map';
  let min = Infinity;
  for (let n = 0; n < v.data.length; n += 97) if (v.data[n] < min) min = v.data[n];
  return min < -200 ? 'ct' : 'activity';
}

/** Choices of a browser computation (the `dose` options that make sense here). */
export interface DropChoices {
  readonly activityUnit: ActivityUnit;
  readonly administeredGBq?: number;
  readonly isotope: Isotope;
  readonly method: DoseMethod;
  readonly liver: string;
  readonly tumors: string[];
  readonly lung?: string;
  /** Label tables of label-map files, by file name. */
  readonly labelTables: Record<string, string>;
  readonly backend: 'auto' | 'webgpu' | 'cpu';
  /**
   * `method: 'mc'`: seed and histories, as `dose --method mc --seed S --mc-histories N` takes them (in the page the CPU
   * back end runs on this thread, yielding to the page between slices of histories; WebGPU runs on the page's device).
   */
  readonly mc?: McCaseOptions;
}

/** Histories a Monte Carlo run in the page offers by default: seconds on the bundled phantom on one CPU thread. */
export const DROP_MC_DEFAULT_HISTORIES = 20_000;

/**
 * The drop panel's Monte Carlo fields (histories "2e4" or "20000", seed) as `dose --method mc --mc-histories N
 * --seed S` reads them; throws a message that says what to type for anything else.
 */
export function parseDropMc(historiesText: string, seedText: string): McCaseOptions {
  const h = parseDecimal(historiesText);
  if (h === undefined || !Number.isInteger(h) || h < DEFAULT_MC_BATCHES || h > MC_MAX_HISTORIES_ACCEPTED) {
    throw new Error(`histories "${historiesText}": give a whole number of at least ${DEFAULT_MC_BATCHES} (${DEFAULT_MC_BATCHES} batches of one history or more), such as 20000 or 2e4`);
  }
  const seed = seedText.trim() === '' ? 1 : parseDecimal(seedText);
  if (seed === undefined || !Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    throw new Error(`seed "${seedText}": give a whole number in 0..4294967295 (the generator's key is 32 bits)`);
  }
  return { seed, plan: { kind: 'histories', histories: h } };
}

/** What a Monte Carlo computation in the page ran: histories, seed, back end and speed (not in the report). */
export interface DroppedMcRun {
  readonly histories: number;
  readonly seed: number;
  readonly backend: string;
  readonly historiesPerSecond: number;
  readonly transportMs: number;
}

/**
 * The table a label map's field names: "1=Liver,..." as written, "@NAME" the dropped table file NAME, empty the one
 * dropped table (none or several: no table, every label "label N").
 */
export function labelTableFor(files: readonly DroppedFile[], field: string | undefined): string | LabelTable | undefined {
  const tables = files.filter((f) => f.role === 'label-table' && f.table);
  const text = (field ?? '').trim();
  if (text.startsWith('@')) {
    const t = tables.find((f) => f.name === text.slice(1).trim());
    if (!t) throw new Error(`no dropped label table named ${text.slice(1).trim()}; drop the file, or write the table as 1=Liver,2=Tumor A`);
    return t.table;
  }
  if (text) return text;
  return tables.length === 1 ? tables[0].table : undefined;
}

/**
 * Structures of the dropped segmentations (seg.nrrd, and label maps with their tables). `warnings` receives the labels
 * a table leaves unnamed (with voxel counts) and those a table file names that a map lacks, as in the CLI.
 */
export function droppedMasks(files: readonly DroppedFile[], labelTables: Record<string, string>, warnings?: string[]): Array<{ path: string; masks: StructureMask[] }> {
  const out: Array<{ path: string; masks: StructureMask[] }> = [];
  for (const f of files) {
    if (f.role === 'segmentation' && f.masks) out.push({ path: f.name, masks: f.masks });
    if (f.role === 'label-map' && f.volume) {
      out.push({ path: f.name, masks: labelMapToStructures(f.volume, { labels: labelTableFor(files, labelTables[f.name]), sourceName: f.name, warnings }) });
    }
  }
  return out;
}

async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const d = await crypto.subtle.digest('SHA-256', bytes as unknown as ArrayBuffer);
  return [...new Uint8Array(d)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

function gridJson(v: Volume): GridJson {
  const g = v.geometry;
  return { dims: [...g.dims], spacingMm: [...g.spacingMm], originLpsMm: [...g.originLpsMm], direction: [...g.direction] } as GridJson;
}

/** Computes a case from the dropped files with the core's pipeline; the result is shown like a case folder. */
export async function computeDropped(files: readonly DroppedFile[], c: DropChoices, progress: (m: string) => void): Promise<ViewerCase & { mcRun?: DroppedMcRun }> {
  const act = files.filter((f) => f.role === 'activity');
  if (act.length !== 1 || !act[0].volume) throw new Error(`give exactly one activity image (now ${act.length}); set the roles of the dropped files`);
  const cts = files.filter((f) => f.role === 'ct');
  if (cts.length > 1) throw new Error('give at most one CT');
  const labelWarnings: string[] = [];
  const segmentations = droppedMasks(files, c.labelTables, labelWarnings);
  if (!segmentations.length) throw new Error('drop a segmentation (3D Slicer .seg.nrrd, or a label map with its table)');
  const activity = act[0].volume;
  const ct = cts[0]?.volume;
  const result = await computeDoseCase({
    activity,
    activityUnit: c.activityUnit,
    administeredGBq: c.administeredGBq,
    isotope: c.isotope,
    method: c.method,
    segmentations,
    liver: c.liver,
    tumors: c.tumors,
    lung: c.lung || undefined,
    ct,
    backend: c.backend,
    onProgress: progress,
    ...(c.method === 'mc' ? { mc: c.mc ?? {} } : {}),
  });
  result.warnings.unshift(...labelWarnings); // as the CLI says them: in the report's warnings
  const used = files.filter((f) => f.role !== 'ignore');
  const report = buildReport(result, {
    isotope: c.isotope,
    method: c.method,
    inputs: [],
    parameters: {
      activityUnit: c.activityUnit, isotope: c.isotope, method: c.method, liver: c.liver, tumors: c.tumors, lung: c.lung ?? null,
      administeredGBq: c.administeredGBq ?? null, computedIn: 'browser', ...(result.mc ? mcParameters({ seed: result.mc.provenance.seed, plan: c.mc?.plan ?? { kind: 'histories', histories: result.mc.provenance.histories } }) : {}),
    },
  }) as unknown as ReportJson;
  // Monte Carlo: each structure's meanGyRelStdErr and standard errors, and the "mc" object, as the CLI writes them
  applyMcToReport(report as unknown as Record<string, unknown>, result);
  report.provenance = {
    ...(report.provenance ?? {}),
    inputs: await Promise.all(used.map(async (f) => ({ role: f.role, path: f.name, sha256: await sha256Hex(f.bytes) }))),
  };
  // Outlines: each reported structure where its partial-volume weight on the dose grid is >= 0.5.
  const grid = result.dose.geometry;
  const nVox = result.dose.data.length;
  const inside = result.gridStructures.map((s) => {
    const f = new Uint8Array(nVox);
    for (let n = 0; n < s.voxelIndices.length; n++) if (s.weights[n] >= 0.5) f[s.voxelIndices[n]] = 1;
    return f;
  });
  const bits = structureBits({ structures: report.structures, inside, geometry: grid });
  const doseGrid = gridJson(result.dose);
  return {
    caseName: `${act[0].name} (computed in the browser)`,
    report,
    ct: ct ? makeClientVolume(gridJson(ct), toFloat32(ct.data)) : undefined,
    dose: makeClientVolume(doseGrid, result.dose.data),
    ...(result.mc ? { doseRelStdErr: makeClientVolume(doseGrid, result.mc.relStdErr.data) } : {}),
    activity: makeClientVolume(gridJson(activity), toFloat32(activity.data)),
    units: { ct: 'HU', dose: 'Gy', activity: c.activityUnit === 'counts' ? 'counts' : 'Bq/mL' },
    structures: bits.entries,
    labels: bits.labels ? makeClientVolume(doseGrid, bits.labels) : undefined,
    warnings: [...result.warnings, ...bits.warnings],
    ...(result.mc
      ? {
          mcRun: {
            histories: result.mc.provenance.histories,
            seed: result.mc.provenance.seed,
            backend: result.backend,
            historiesPerSecond: result.mc.provenance.historiesPerSecond,
            transportMs: result.mc.provenance.timingsMs.transport,
          },
        }
      : {}),
  };
}
