/**
 * Cases computed in the page from dropped files, with the same core as the CLI (readers, computeDoseCase,
 * buildReport). Nothing is uploaded: files are read with File.arrayBuffer() and decoded here.
 *
 * Formats: NIfTI (.nii, .nii.gz), NRRD (.nrrd; a 3D Slicer .seg.nrrd is a segmentation), MetaImage (.mha, through
 * itk-wasm pipelines served by the viewer's own server, see mha.ts). Label maps become segmentations when their role
 * is set to "label map" with a table "1=Liver,2=Tumor A". Roles are guessed (CT when the name says so or values go
 * below -200 HU) and can be changed before computing.
 */
import { computeDoseCase, type DoseMethod } from '../../../dosimetry-core/src/dose/pipeline.ts';
import { buildReport } from '../../../dosimetry-core/src/dose/report.ts';
import type { ActivityUnit } from '../../../dosimetry-core/src/dose/calibration.ts';
import { labelMapToStructures } from '../../../dosimetry-core/src/io/labels.ts';
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
  /** Guessed role. */
  role: 'activity' | 'ct' | 'segmentation' | 'label-map' | 'ignore';
}

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
  if (lower.endsWith('.mha')) {
    const mod = (await import('/mha.js' as string)) as typeof import('./mha.ts');
    const volume = await mod.decodeMha(bytes, name);
    return { name, bytes, volume, role: guessImageRole(name, volume) };
  }
  throw new Error(`${name}: unknown format; drop NIfTI (${IMAGE_EXT.join(', ')}) images or a 3D Slicer .seg.nrrd`);
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
}

/** Structures of the dropped segmentations (seg.nrrd, and label maps with their tables). */
export function droppedMasks(files: readonly DroppedFile[], labelTables: Record<string, string>): Array<{ path: string; masks: StructureMask[] }> {
  const out: Array<{ path: string; masks: StructureMask[] }> = [];
  for (const f of files) {
    if (f.role === 'segmentation' && f.masks) out.push({ path: f.name, masks: f.masks });
    if (f.role === 'label-map' && f.volume) {
      out.push({ path: f.name, masks: labelMapToStructures(f.volume, { labels: labelTables[f.name] || undefined, sourceName: f.name }) });
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
export async function computeDropped(files: readonly DroppedFile[], c: DropChoices, progress: (m: string) => void): Promise<ViewerCase> {
  const act = files.filter((f) => f.role === 'activity');
  if (act.length !== 1 || !act[0].volume) throw new Error(`give exactly one activity image (now ${act.length}); set the roles of the dropped files`);
  const cts = files.filter((f) => f.role === 'ct');
  if (cts.length > 1) throw new Error('give at most one CT');
  const segmentations = droppedMasks(files, c.labelTables);
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
  });
  const used = files.filter((f) => f.role !== 'ignore');
  const report = buildReport(result, {
    isotope: c.isotope,
    method: c.method,
    inputs: [],
    parameters: {
      activityUnit: c.activityUnit, isotope: c.isotope, method: c.method, liver: c.liver, tumors: c.tumors, lung: c.lung ?? null,
      administeredGBq: c.administeredGBq ?? null, computedIn: 'browser',
    },
  }) as unknown as ReportJson;
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
    activity: makeClientVolume(gridJson(activity), toFloat32(activity.data)),
    units: { ct: 'HU', dose: 'Gy', activity: c.activityUnit === 'counts' ? 'counts' : 'Bq/mL' },
    structures: bits.entries,
    labels: bits.labels ? makeClientVolume(doseGrid, bits.labels) : undefined,
    warnings: [...result.warnings, ...bits.warnings],
  };
}
