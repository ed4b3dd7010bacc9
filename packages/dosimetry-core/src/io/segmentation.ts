/**
 * Segmentations: 3D Slicer .seg.nrrd (reading and writing) and label maps (NIfTI, NRRD, MHA), as StructureMasks.
 *
 * .seg.nrrd layout (3D Slicer vtkMRMLSegmentationStorageNode): a NRRD with three domain axes and optionally one
 * list axis (kinds "list domain domain domain"); each list entry is a "layer", a label map of its own. Segment N is
 * described by the key/value pairs SegmentN_Name, SegmentN_Layer, SegmentN_LabelValue, SegmentN_Color,
 * SegmentN_Extent, SegmentN_ID: its voxels are those whose value in layer SegmentN_Layer equals SegmentN_LabelValue.
 * Segments in different layers may overlap; each becomes an independent structure.
 */
import { basename } from 'node:path';
import { FormatError, InputError } from '../errors.ts';
import { type Geometry, assertSameGrid, voxelCount } from '../volume/geometry.ts';
import { ExtentBuilder, type StructureMask, boxOfIndices, rememberMaskExtent } from '../volume/structure.ts';
import { writeFileAtomic } from './atomic.ts';
import { gzipDeterministicAsync, gzipDeterministicGenerated } from './gzip.ts';
import { lowerName, readFileBytes } from './files.ts';
import { type LabelCoverage, labelMapToStructures } from './labels.ts';
import type { LabelTable } from './label-table.ts';
import { readMha } from './mha.ts';
import { readNiftiAsync } from './nifti.ts';
import { type NrrdData, assembleNrrd, decodeNrrd, nrrdFileBytes, nrrdGeometry, nrrdSpaceLines, nrrdToVolume } from './nrrd.ts';

/** One segment as described in a .seg.nrrd header. */
export interface SegNrrdSegment {
  /** N of the SegmentN_* keys. */
  readonly index: number;
  readonly id: string;
  readonly name: string;
  readonly layer: number;
  readonly labelValue: number;
  readonly colorRgb?: readonly [number, number, number];
}

/** True when a NRRD header carries 3D Slicer segment descriptions (SegmentN_* keys). */
export function isSegNrrd(n: NrrdData): boolean {
  for (const k of n.header.keyValues.keys()) if (/^Segment\d+_/.test(k)) return true;
  return false;
}

/** The segments described in a .seg.nrrd header, in SegmentN order. `layers` is the size of the list axis. */
export function segNrrdSegments(n: NrrdData, layers: number, file: string): SegNrrdSegment[] {
  const kv = n.header.keyValues;
  const idx = new Set<number>();
  for (const k of kv.keys()) {
    const m = /^Segment(\d+)_/.exec(k);
    if (m) idx.add(Number(m[1]));
  }
  const sorted = [...idx].sort((a, b) => a - b);
  const oldStyle = layers > 1 && layers === sorted.length && sorted.every((s) => kv.get(`Segment${s}_Layer`) === undefined);
  return sorted.map((s, order) => {
    const get = (f: string) => kv.get(`Segment${s}_${f}`);
    const name = get('Name') ?? get('ID') ?? `Segment ${s}`;
    const layerText = get('Layer');
    const layer = layerText !== undefined ? Number(layerText) : oldStyle ? order : 0;
    const labelText = get('LabelValue');
    const labelValue = labelText !== undefined ? Number(labelText) : 1;
    if (!Number.isInteger(layer) || layer < 0 || layer >= layers) {
      throw new FormatError(`${file}: segment "${name}" is in layer ${layerText}, but the file has ${layers} layer(s)`);
    }
    if (!Number.isInteger(labelValue) || labelValue <= 0) {
      throw new FormatError(`${file}: segment "${name}" has label value ${labelText}; it must be a positive integer`);
    }
    const col = get('Color')?.trim().split(/\s+/).map(Number);
    const colorRgb = col && col.length === 3 && col.every((c) => Number.isFinite(c)) ? ([col[0], col[1], col[2]] as const) : undefined;
    return { index: s, id: get('ID') ?? `Segment_${s}`, name, layer, labelValue, colorRgb };
  });
}

/**
 * The structures of a decoded .seg.nrrd: one StructureMask (occupancy 0/255, Uint8 on the segmentation's grid) per
 * segment. Origin text: "<file> layer L label V".
 */
export function segNrrdToStructures(n: NrrdData, file: string): StructureMask[] {
  const { spatialAxes, geometry } = nrrdGeometry(n.header, n.sizes, file);
  const others = n.sizes.map((_s, a) => a).filter((a) => !spatialAxes.includes(a) && n.sizes[a] > 1);
  if (others.length > 1) {
    throw new FormatError(`${file}: segmentation has ${others.length} non-spatial axes (sizes ${n.sizes.join(' ')}); at most one list axis of layers is allowed`);
  }
  const listAxis = others[0];
  const layers = listAxis === undefined ? 1 : n.sizes[listAxis];
  const segs = segNrrdSegments(n, layers, file);
  const stride: number[] = [];
  let acc = 1;
  for (const s of n.sizes) {
    stride.push(acc);
    acc *= s;
  }
  const [nx, ny, nz] = geometry.dims;
  const sx = stride[spatialAxes[0]], sy = stride[spatialAxes[1]], sz = stride[spatialAxes[2]];
  const sl = listAxis === undefined ? 0 : stride[listAxis];
  const count = voxelCount(geometry);
  const data = n.data;
  const short = basename(file);
  const masks = segs.map((s) => new Uint8Array(count));
  // each mask's extent, gathered in this pass (a later maskExtent would scan the whole grid once per segment)
  const extents = segs.map(() => new ExtentBuilder(geometry.dims));
  for (let layer = 0; layer < layers; layer++) {
    const inLayer = segs.map((s, i) => ({ s, i })).filter((e) => e.s.layer === layer);
    if (inLayer.length === 0) continue;
    // Lookup label value -> mask (a dense array for the usual small label values).
    const maxLabel = Math.max(...inLayer.map((e) => e.s.labelValue));
    const lut: (number | undefined)[] = new Array(maxLabel + 1);
    for (const e of inLayer) lut[e.s.labelValue] = e.i;
    const base = layer * sl;
    let v = 0;
    for (let k = 0; k < nz; k++) {
      for (let j = 0; j < ny; j++) {
        let off = base + j * sy + k * sz;
        for (let i = 0; i < nx; i++, v++, off += sx) {
          const x = data[off];
          if (x > 0 && x <= maxLabel) {
            const e = lut[x];
            if (e !== undefined) {
              masks[e][v] = 255;
              extents[e].add(i, j, k, 255);
            }
          }
        }
      }
    }
  }
  masks.forEach((m, i) => rememberMaskExtent(m, extents[i].build()));
  return segs.map((s, i) => ({
    name: s.name,
    origin: `${short} layer ${s.layer} label ${s.labelValue}`,
    geometry,
    occupancy: masks[i],
    ...(s.colorRgb ? { colorRgb: s.colorRgb } : {}),
  }));
}

/** Options of `readSegmentation`. */
export interface ReadSegmentationOptions {
  /**
   * Label table for label maps: inline "1=Liver,2=Tumor A" or one read from a file (`--labels @FILE`,
   * label-table-file.ts); not allowed for .seg.nrrd (its segments are named inside).
   */
  readonly labels?: string | LabelTable;
  /** Label maps with a table: collects the labels it leaves unnamed (with voxel counts) and those the map lacks. */
  readonly warnings?: string[];
  /** Label maps with a table: how map and table matched (`LabelMapOptions.onCoverage`). */
  readonly onCoverage?: (coverage: LabelCoverage) => void;
  /** Label maps: each named structure on the crop of the grid that holds it (see `LabelMapOptions.cropToExtent`). */
  readonly cropToExtent?: boolean;
}

/**
 * Reads a segmentation file into structures: a 3D Slicer .seg.nrrd (any NRRD with SegmentN_* keys), or a label map
 * (.nii, .nii.gz, .nrrd, .nhdr, .mha, .mhd) named by `labels` or, without a table, "label N" for every nonzero N.
 */
export async function readSegmentation(path: string, opts: ReadSegmentationOptions = {}): Promise<StructureMask[]> {
  const lower = lowerName(path);
  const short = basename(path);
  if (lower.endsWith('.nrrd') || lower.endsWith('.nhdr')) {
    const n = decodeNrrd(readFileBytes(path, 'segmentation'), path);
    if (isSegNrrd(n)) {
      if (opts.labels !== undefined) {
        throw new InputError(`--labels${typeof opts.labels === 'object' ? ` @${opts.labels.source}` : ''} does not apply to ${short}: a 3D Slicer segmentation names its segments inside the file`);
      }
      return segNrrdToStructures(n, path);
    }
    return labelMapToStructures(nrrdToVolume(n, path), { labels: opts.labels, sourceName: short, cropToExtent: opts.cropToExtent, warnings: opts.warnings, onCoverage: opts.onCoverage });
  }
  if (lower.endsWith('.nii') || lower.endsWith('.nii.gz')) {
    const img = await readNiftiAsync(path, 'segmentation');
    return labelMapToStructures(img.volume, { labels: opts.labels, sourceName: short, cropToExtent: opts.cropToExtent, warnings: opts.warnings, onCoverage: opts.onCoverage });
  }
  if (lower.endsWith('.mha') || lower.endsWith('.mhd')) {
    return labelMapToStructures(await readMha(path), { labels: opts.labels, sourceName: short, cropToExtent: opts.cropToExtent, warnings: opts.warnings, onCoverage: opts.onCoverage });
  }
  readFileBytes(path, 'segmentation'); // a missing file is a FileError before the format question
  throw new FormatError(
    `${path}: unknown segmentation format; use a 3D Slicer .seg.nrrd, a label map (.nii, .nii.gz, .nrrd, .nhdr, .mha, .mhd), DICOM SEG or RTSTRUCT`,
  );
}

const DEFAULT_COLORS: ReadonlyArray<readonly [number, number, number]> = [
  [0.945, 0.839, 0.569],
  [0.694, 0.478, 0.396],
  [0.435, 0.722, 0.824],
  [0.847, 0.396, 0.31],
  [0.565, 0.933, 0.565],
  [0.753, 0.408, 0.345],
];

/** A structure with an explicit place in a .seg.nrrd: its layer (0-based) and label value (1..255) there. */
export interface SegNrrdEntry {
  readonly mask: StructureMask;
  readonly layer: number;
  readonly labelValue: number;
}

/**
 * Encodes binary structures (occupancy >= 128 is inside) as a 3D Slicer .seg.nrrd (gzip, uint8, LPS). All masks
 * must share one grid. Entries given as `{ mask, layer, labelValue }` go where they say (overlap with another
 * structure of the same layer is an error); plain masks go to the first layer where they overlap nothing, with the
 * next free label value there. With one layer the file is 3-D, otherwise 4-D with the list axis first, as Slicer
 * writes them.
 */
export function encodeSegNrrd(entries: ReadonlyArray<StructureMask | SegNrrdEntry>): Uint8Array {
  const { lines, body } = segNrrdParts(entries);
  return assembleNrrd(lines, body, 'gzip');
}

/**
 * Structures held sparsely on one grid (as the dose pipeline holds them: ascending voxel indices with weights in
 * (0, 1]) as a .seg.nrrd, like `encodeSegNrrd`. A voxel is inside when its weight is at least 0.5 (the
 * same voxels as occupancy >= 128 after quantising to 0..255); structures with no such voxel are left out, and
 * undefined is returned when none is left. Nothing is expanded to the full grid per structure.
 */
export async function encodeGridStructuresSegNrrdAsync(
  geometry: Geometry,
  structures: ReadonlyArray<{ readonly name: string; readonly voxelIndices: Uint32Array; readonly weights: Float32Array; readonly colorRgb?: readonly [number, number, number] }>,
): Promise<Uint8Array | undefined> {
  const items: SegItem[] = [];
  for (const st of structures) {
    let any = false;
    for (let q = 0; q < st.weights.length && !any; q++) any = st.weights[q] >= 0.5;
    if (!any) continue;
    // the voxels at least half inside are read from the structure's own arrays, not copied out
    items.push({ name: st.name, ...(st.colorRgb ? { colorRgb: st.colorRgb } : {}), indices: st.voxelIndices, weights: st.weights });
  }
  if (items.length === 0) return undefined;
  const { lines, layers, placed } = segNrrdItemsPlan(geometry, items);
  // deflate level 1 with the run-length strategy, off the main thread (in Node, in parallel blocks); with ascending
  // voxel indices (as the pipeline's structures hold them) the body is made block by block as it is deflated, never
  // whole (with three overlapping structures it has three bytes per voxel)
  const n = voxelCount(geometry);
  const ascending = items.every(({ indices }) => {
    for (let q = 1; q < indices.length; q++) if (!(indices[q] > indices[q - 1])) return false;
    return true;
  });
  const gz = ascending
    ? await gzipDeterministicGenerated(layers * n, (start, end) => segBodyRange(items, placed, layers, start, end), 1, 'rle')
    : await gzipDeterministicAsync(segBody(items, placed, layers, n), 1, 'rle');
  return nrrdFileBytes(lines, gz);
}

/**
 * A structure to write: the voxels at least half inside it (ascending linear indices: those of `indices` whose weight
 * is at least 0.5, or all of them without `weights`), and where it goes.
 */
interface SegItem {
  readonly name: string;
  readonly colorRgb?: readonly [number, number, number];
  readonly indices: Uint32Array;
  readonly weights?: Float32Array;
  readonly layer?: number;
  readonly labelValue?: number;
}

/** Voxels at least half inside (occupancy >= 128) of a dense mask. */
function insideOfMask(occ: Uint8Array): Uint32Array {
  const n = occ.length;
  let count = 0;
  for (let v = 0; v < n; v++) if (occ[v] >= 128) count++;
  const out = new Uint32Array(count);
  for (let v = 0, o = 0; o < count; v++) if (occ[v] >= 128) out[o++] = v;
  return out;
}

function segNrrdParts(entries: ReadonlyArray<StructureMask | SegNrrdEntry>): { lines: string[]; body: Uint8Array } {
  if (entries.length === 0) throw new InputError('cannot write a segmentation without structures');
  const masks = entries.map((e) => ('mask' in e ? e.mask : e));
  const g: Geometry = masks[0].geometry;
  masks.forEach((m, i) => assertSameGrid(g, m.geometry, `structure "${masks[0].name}"`, `structure "${m.name}" (#${i})`));
  const items: SegItem[] = entries.map((e, s) => ({
    name: masks[s].name,
    ...(masks[s].colorRgb ? { colorRgb: masks[s].colorRgb } : {}),
    indices: insideOfMask(masks[s].occupancy),
    ...('mask' in e ? { layer: e.layer, labelValue: e.labelValue } : {}),
  }));
  return segNrrdItemsParts(g, items);
}

function segNrrdItemsParts(g: Geometry, items: readonly SegItem[]): { lines: string[]; body: Uint8Array } {
  const { lines, layers, placed } = segNrrdItemsPlan(g, items);
  return { lines, body: segBody(items, placed, layers, voxelCount(g)) };
}

/** Where each structure goes (layer, label value) and the header lines of the .seg.nrrd. */
interface SegPlacement {
  readonly layer: number;
  readonly label: number;
  readonly extent: number[];
}

/**
 * The body of a .seg.nrrd: one layer, the label map itself; more: list axis first (fastest), written structure by
 * structure, only where each is.
 */
function segBody(items: readonly SegItem[], placed: readonly SegPlacement[], L: number, n: number): Uint8Array {
  const body = new Uint8Array(L * n);
  items.forEach((m, s) => {
    const { layer, label } = placed[s];
    const { indices, weights } = m;
    for (let q = 0; q < indices.length; q++) if (!weights || weights[q] >= 0.5) body[indices[q] * L + layer] = label;
  });
  return body;
}

/** Bytes start..end of `segBody` (structures with ascending voxel indices), made without the rest of it. */
function segBodyRange(items: readonly SegItem[], placed: readonly SegPlacement[], L: number, start: number, end: number): Uint8Array {
  const out = new Uint8Array(end - start);
  const vFrom = Math.floor(start / L);
  const vTo = Math.ceil(end / L); // exclusive
  items.forEach((m, s) => {
    const { layer, label } = placed[s];
    const { indices, weights } = m;
    // first entry at or after voxel vFrom (binary search)
    let a = 0;
    let b = indices.length;
    while (a < b) {
      const c = (a + b) >>> 1;
      if (indices[c] < vFrom) a = c + 1;
      else b = c;
    }
    for (let q = a; q < indices.length && indices[q] < vTo; q++) {
      if (weights && !(weights[q] >= 0.5)) continue;
      const p = indices[q] * L + layer;
      if (p >= start && p < end) out[p - start] = label;
    }
  });
  return out;
}

function segNrrdItemsPlan(g: Geometry, items: readonly SegItem[]): { lines: string[]; layers: number; placed: SegPlacement[] } {
  if (items.length === 0) throw new InputError('cannot write a segmentation without structures');
  const n = voxelCount(g);
  // which voxels each layer holds, one bit per voxel (a layer's labels are written into the body at the end)
  const layerBits: Uint32Array[] = [];
  const layerLabels: Array<Set<number>> = [];
  const placed: SegPlacement[] = [];
  const clashes = ({ indices, weights }: SegItem, bits: Uint32Array) => {
    for (let q = 0; q < indices.length; q++) {
      if (weights && !(weights[q] >= 0.5)) continue;
      const v = indices[q];
      if ((bits[v >>> 5] & (1 << (v & 31))) !== 0) return true;
    }
    return false;
  };
  const addLayer = () => {
    layerBits.push(new Uint32Array(Math.ceil(n / 32)));
    layerLabels.push(new Set());
  };
  for (const m of items) {
    const { indices, weights } = m;
    let layer: number;
    let label: number;
    if (m.layer !== undefined && m.labelValue !== undefined) {
      layer = m.layer;
      label = m.labelValue;
      if (!Number.isInteger(layer) || layer < 0 || layer > 255) throw new InputError(`structure "${m.name}": layer ${layer} must be an integer 0..255`);
      if (!Number.isInteger(label) || label < 1 || label > 255) throw new InputError(`structure "${m.name}": label value ${label} must be an integer 1..255`);
      while (layerBits.length <= layer) addLayer();
      if (layerLabels[layer].has(label)) throw new InputError(`structure "${m.name}": label value ${label} is already used in layer ${layer}`);
      if (clashes(m, layerBits[layer])) {
        throw new InputError(`structure "${m.name}" overlaps another structure in layer ${layer}; put overlapping structures in different layers`);
      }
    } else {
      layer = 0;
      while (layer < layerBits.length && (clashes(m, layerBits[layer]) || layerLabels[layer].size >= 255)) layer++;
      if (layer === layerBits.length) addLayer();
      label = 1;
      while (layerLabels[layer].has(label)) label++;
    }
    layerLabels[layer].add(label);
    const bits = layerBits[layer];
    for (let q = 0; q < indices.length; q++) {
      if (weights && !(weights[q] >= 0.5)) continue;
      const v = indices[q];
      bits[v >>> 5] |= 1 << (v & 31);
    }
    const e = boxOfIndices(g.dims, indices, weights, 0.5);
    const extent = e ? [e.lo[0], e.hi[0], e.lo[1], e.hi[1], e.lo[2], e.hi[2]] : [0, -1, 0, -1, 0, -1];
    placed.push({ layer, label, extent });
  }
  const L = layerBits.length;
  const space = nrrdSpaceLines(g, L > 1 ? 1 : 0);
  const clean = (s: string) => s.replace(/[\r\n]+/g, ' ');
  const lines = [
    'NRRD0004',
    '# Complete NRRD file format specification at:',
    '# http://teem.sourceforge.net/nrrd/format.html',
    'type: unsigned char',
    `dimension: ${L > 1 ? 4 : 3}`,
    space[0],
    `sizes: ${L > 1 ? `${L} ` : ''}${g.dims.join(' ')}`,
    space[1],
    `kinds: ${L > 1 ? 'list ' : ''}domain domain domain`,
    'encoding: gzip',
    space[2],
  ];
  items.forEach((m, s) => {
    const p = placed[s];
    const c = m.colorRgb ?? DEFAULT_COLORS[s % DEFAULT_COLORS.length];
    lines.push(
      `Segment${s}_Color:=${c.map((x) => +x.toFixed(6)).join(' ')}`,
      `Segment${s}_ColorAutoGenerated:=${m.colorRgb ? 0 : 1}`,
      `Segment${s}_Extent:=${p.extent.join(' ')}`,
      `Segment${s}_ID:=Segment_${s + 1}`,
      `Segment${s}_LabelValue:=${p.label}`,
      `Segment${s}_Layer:=${p.layer}`,
      `Segment${s}_Name:=${clean(m.name)}`,
      `Segment${s}_NameAutoGenerated:=0`,
      `Segment${s}_Tags:=|`,
    );
  });
  lines.push(
    'Segmentation_ContainedRepresentationNames:=Binary labelmap|',
    'Segmentation_MasterRepresentation:=Binary labelmap',
    'Segmentation_ReferenceImageExtentOffset:=0 0 0',
  );
  return { lines, layers: L, placed };
}

/** Writes structures as a 3D Slicer .seg.nrrd atomically (see `encodeSegNrrd`). */
export function writeSegNrrd(path: string, entries: ReadonlyArray<StructureMask | SegNrrdEntry>): void {
  writeFileAtomic(path, encodeSegNrrd(entries));
}
