/**
 * Label maps (integer images where each value is a structure) and the label table that names their values.
 */
import { FormatError, InputError } from '../errors.ts';
import type { LabelTable } from './label-table.ts';
import { ExtentBuilder, type MaskExtent, type StructureMask, rememberMaskExtent } from '../volume/structure.ts';
import { indexToWorld, voxelVolumeMl } from '../volume/geometry.ts';
import type { Volume } from '../volume/volume.ts';

/** One entry of a label table: integer label value and structure name. */
export interface LabelEntry {
  readonly value: number;
  readonly name: string;
}

/**
 * Parses a label table "1=Liver,2=Tumor A" (names may contain spaces; surrounding spaces are trimmed).
 * Throws InputError on a malformed entry, a non-integer or non-positive value, or a duplicate value or name.
 */
export function parseLabelTable(table: string): LabelEntry[] {
  const out: LabelEntry[] = [];
  const values = new Set<number>();
  const names = new Set<string>();
  const parts = table.split(',');
  for (const raw of parts) {
    const part = raw.trim();
    const m = /^([+-]?\d+)\s*=\s*(.*\S)\s*$/.exec(part);
    if (!m) {
      throw new InputError(
        `label table entry "${part}" is malformed; write value=name pairs separated by commas, e.g. "1=Liver,2=Tumor A"`,
      );
    }
    const value = Number(m[1]);
    const name = m[2];
    if (!(value > 0) || !Number.isSafeInteger(value)) {
      throw new InputError(`label table entry "${part}": the label value must be a positive integer (0 is background)`);
    }
    if (values.has(value)) throw new InputError(`label table gives label value ${value} twice; each value names one structure`);
    if (names.has(name)) throw new InputError(`label table uses the name "${name}" twice; structure names must be unique`);
    values.add(value);
    names.add(name);
    out.push({ value, name });
  }
  return out;
}

/** How a label map and its table matched: what the report says besides the structures. */
export interface LabelCoverage {
  /** The label map (`LabelMapOptions.sourceName`). */
  readonly labelMap: string;
  /** The table: `inline` for "1=Liver,...", else the file it was read from. */
  readonly table: string;
  /** Labels in the map that the table does not name, each reported as "label N": value and voxel count. */
  readonly unnamed: ReadonlyArray<{ readonly value: number; readonly voxelCount: number; readonly volumeMl: number }>;
  /** Labels a shared table (file) names that the map lacks: not reported as structures. */
  readonly absent: ReadonlyArray<{ readonly value: number; readonly name: string }>;
}

/** Options of `labelMapToStructures`. */
export interface LabelMapOptions {
  /**
   * Label table: inline "1=Liver,2=Tumor A", or a table read from a file (`LabelTable`, label-table.ts). Without one,
   * every nonzero value becomes a structure named "label N". A table file is shared between label maps: a label it
   * names that this map lacks is noted in `warnings`, not refused (an inline table's is refused: a typo).
   */
  readonly labels?: string | LabelTable;
  /** Collects what the user must be told (labels the table leaves unnamed, with their voxel counts; absent ones). */
  readonly warnings?: string[];
  /** Receives how the map and its table matched (for the report). Called only when there is a table. */
  readonly onCoverage?: (coverage: LabelCoverage) => void;
  /** Name of the source for `StructureMask.origin` and messages (usually the file name). */
  readonly sourceName: string;
  /**
   * Each structure named by the table on the crop of the label map's grid that holds it (its bounding box, the same
   * voxel lattice) instead of on the whole grid: a label map of 512x512x400 then holds its tumours in kilobytes, not
   * 100 MB each. Brought onto the label map's grid, the structures have the same voxels and weights either way.
   */
  readonly cropToExtent?: boolean;
}

/**
 * Splits a label map into one StructureMask (occupancy 0/255, on the label map's grid) per label.
 * With a table, the named labels become structures in table order, then every other nonzero value found in the image
 * as "label N", ascending (every label is reported: one left out of the table would otherwise vanish from the report
 * silently); a named label absent from the image is an error (a typo would otherwise go unnoticed). Without a table,
 * all nonzero values, ascending.
 * Non-integer voxel values are refused (a label map holds integers).
 */
export function labelMapToStructures(volume: Volume, options: LabelMapOptions): StructureMask[] {
  const d = volume.data;
  const n = d.length;
  const src = options.sourceName;
  const shared = typeof options.labels === 'object' ? options.labels : undefined;
  const table: ReadonlyArray<{ value: number; name: string; colorRgb?: readonly [number, number, number] }> | undefined =
    options.labels === undefined ? undefined : shared ? shared.entries : parseLabelTable(options.labels as string);
  const [nx, ny, nz] = volume.geometry.dims;
  const crop = options.cropToExtent === true;
  // A label's entry; its extent is accumulated by runs: the first and last voxel of the current x-row (rows are
  // visited in order), added to the extent when the label's next voxel lies in another row, or at the end.
  interface Wanted { name: string; occ: Uint8Array; count: number; extent: ExtentBuilder; row: number; j: number; k: number; first: number; last: number; inRow: number }
  const wanted = new Map<number, Wanted>();
  const found = new Map<number, number>();
  if (table) {
    for (const e of table) {
      wanted.set(e.value, { name: e.name, occ: new Uint8Array(crop ? 0 : n), count: 0, extent: new ExtentBuilder(volume.geometry.dims), row: -1, j: 0, k: 0, first: 0, last: 0, inRow: 0 });
    }
  }
  const flush = (w: Wanted) => {
    if (w.inRow > 0) w.extent.addRun(w.first, w.last, w.j, w.k, 255 * w.inRow);
    w.inRow = 0;
  };
  // label value -> its entry, by array index for the usual small positive integer labels (a Map lookup per voxel
  // costs several times more)
  const maxDirect = table ? Math.min(65535, Math.max(0, ...table.map((e) => (Number.isInteger(e.value) ? e.value : 0)))) : -1;
  const direct: Array<Wanted | undefined> = [];
  for (let v = 0; v <= maxDirect; v++) direct.push(wanted.get(v));
  // One pass to check integrality and (without a table) find the labels; with a table it also builds the masks
  // and their extents (bounding box and volume, used when they are brought onto the activity grid).
  for (let k = 0, i = 0, row = 0; k < nz; k++) {
    for (let y = 0; y < ny; y++, row++) {
      for (let x = 0; x < nx; x++, i++) {
        const v = d[i];
        if (v === 0) continue;
        if (!Number.isInteger(v)) {
          throw new FormatError(
            `${src}: voxel ${i} holds ${v}, which is not an integer label; a label map holds integer values (give a segmentation, not an image)`,
          );
        }
        if (table) {
          const w = v > 0 && v <= maxDirect ? direct[v] : wanted.get(v);
          if (w) {
            if (!crop) w.occ[i] = 255;
            w.count++;
            if (w.row !== row) {
              flush(w);
              w.row = row;
              w.j = y;
              w.k = k;
              w.first = x;
            }
            w.last = x;
            w.inRow++;
          } else found.set(v, (found.get(v) ?? 0) + 1);
        } else found.set(v, (found.get(v) ?? 0) + 1);
      }
    }
  }
  for (const w of wanted.values()) flush(w);
  const values = [...found.keys()].sort((a, b) => a - b);
  if (values.length > 1000) {
    throw new FormatError(`${src}: has ${values.length} distinct nonzero values${table ? ' besides those of the label table' : ''}; that is an image, not a label map`);
  }
  const out: StructureMask[] = [];
  const absent: Array<{ value: number; name: string }> = [];
  if (table) {
    for (const e of table) {
      const w = wanted.get(e.value)!;
      if (w.count === 0) {
        if (shared) {
          absent.push({ value: e.value, name: e.name });
          continue;
        }
        throw new InputError(`${src}: label ${e.value} ("${e.name}") from the label table does not occur in the label map; check the table`);
      }
      const extent = w.extent.build()!;
      const colour = e.colorRgb ? { colorRgb: e.colorRgb } : {};
      if (crop) {
        out.push({ ...croppedLabelMask(volume, e.value, extent, { name: e.name, origin: `${src} label ${e.value}` }), ...colour });
        continue;
      }
      rememberMaskExtent(w.occ, extent);
      out.push({ name: e.name, origin: `${src} label ${e.value}`, geometry: volume.geometry, occupancy: w.occ, ...colour });
    }
    if (absent.length === table.length) {
      throw new InputError(`${src}: none of the labels of the label table ${shared!.source} occurs in the label map (it holds ${values.length ? values.join(', ') : 'no nonzero label'}); check that the table belongs to this label map`);
    }
    const clash = values.find((v) => table.some((e) => e.name === `label ${v}`));
    if (clash !== undefined) {
      throw new InputError(`${src}: label ${clash} is not in the label table, and is reported as "label ${clash}", a name the table gives to another label; name label ${clash} in the table or rename the other`);
    }
  }
  const masks = new Map<number, Uint8Array>(values.map((v) => [v, new Uint8Array(n)]));
  // (a second pass only for labels the table does not name)
  for (let i = 0; values.length > 0 && i < n; i++) {
    const v = d[i];
    if (v === 0) continue;
    const m = masks.get(v); // undefined for the labels the table named (their masks are built above)
    if (m) m[i] = 255;
  }
  for (const v of values) out.push({ name: `label ${v}`, origin: `${src} label ${v}`, geometry: volume.geometry, occupancy: masks.get(v)! });
  if (table) {
    const tableName = shared ? shared.source : 'inline';
    const mlPerVoxel = voxelVolumeMl(volume.geometry);
    const unnamed = values.map((v) => ({ value: v, voxelCount: found.get(v)!, volumeMl: found.get(v)! * mlPerVoxel }));
    const ofTable = shared ? `the label table ${shared.source}` : 'the --labels table';
    for (const u of unnamed) {
      options.warnings?.push(
        `${src}: label ${u.value} (${u.voxelCount} voxels, ${+u.volumeMl.toPrecision(4)} mL) is not in ${ofTable}; it is reported as "label ${u.value}" with role other: name it in the table to give it a role`,
      );
    }
    if (absent.length) {
      options.warnings?.push(
        `${src}: ${ofTable} names ${absent.length === 1 ? 'a label' : `${absent.length} labels`} the label map lacks (${absent.map((a) => `${a.value} "${a.name}"`).join(', ')}); noted, not an error: a shared table may name more labels than one map holds`,
      );
    }
    options.onCoverage?.({ labelMap: src, table: tableName, unnamed, absent });
  }
  return out;
}

/** The voxels of `volume` holding `value`, as a mask on the crop `extent` of its grid (occupancy 255 inside). */
function croppedLabelMask(volume: Volume, value: number, extent: MaskExtent, names: { name: string; origin: string }): StructureMask {
  const g = volume.geometry;
  const d = volume.data;
  const [nx, ny] = g.dims;
  const { lo, hi } = extent;
  const dims: [number, number, number] = [hi[0] - lo[0] + 1, hi[1] - lo[1] + 1, hi[2] - lo[2] + 1];
  const occ = new Uint8Array(dims[0] * dims[1] * dims[2]);
  for (let k = lo[2], o = 0; k <= hi[2]; k++) {
    for (let j = lo[1]; j <= hi[1]; j++) {
      const row = nx * (j + ny * k);
      for (let i = lo[0]; i <= hi[0]; i++, o++) if (d[row + i] === value) occ[o] = 255;
    }
  }
  rememberMaskExtent(occ, { lo: [0, 0, 0], hi: [dims[0] - 1, dims[1] - 1, dims[2] - 1], occupancySum: extent.occupancySum });
  const origin = indexToWorld(g, lo[0], lo[1], lo[2]);
  return {
    ...names,
    geometry: { dims, spacingMm: g.spacingMm, originLpsMm: [origin[0] + 0, origin[1] + 0, origin[2] + 0], direction: g.direction },
    occupancy: occ,
  };
}
