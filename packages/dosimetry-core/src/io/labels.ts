/**
 * Label maps (integer images where each value is a structure) and the label table that names their values.
 */
import { FormatError, InputError } from '../errors.ts';
import { ExtentBuilder, type StructureMask, rememberMaskExtent } from '../volume/structure.ts';
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

/** Options of `labelMapToStructures`. */
export interface LabelMapOptions {
  /** Label table "1=Liver,2=Tumor A"; without it, every nonzero value becomes a structure named "label N". */
  readonly labels?: string;
  /** Name of the source for `StructureMask.origin` and messages (usually the file name). */
  readonly sourceName: string;
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
  const table = options.labels !== undefined ? parseLabelTable(options.labels) : undefined;
  const [nx, ny, nz] = volume.geometry.dims;
  const wanted = new Map<number, { name: string; occ: Uint8Array; count: number; extent: ExtentBuilder }>();
  const found = new Map<number, number>();
  if (table) {
    for (const e of table) wanted.set(e.value, { name: e.name, occ: new Uint8Array(n), count: 0, extent: new ExtentBuilder(volume.geometry.dims) });
  }
  // label value -> its entry, by array index for the usual small positive integer labels (a Map lookup per voxel
  // costs several times more)
  const maxDirect = table ? Math.min(65535, Math.max(0, ...table.map((e) => (Number.isInteger(e.value) ? e.value : 0)))) : -1;
  const direct: Array<{ occ: Uint8Array; count: number; extent: ExtentBuilder } | undefined> = [];
  for (let v = 0; v <= maxDirect; v++) direct.push(wanted.get(v));
  // One pass to check integrality and (without a table) find the labels; with a table it also builds the masks
  // and their extents (bounding box and volume, used when they are brought onto the activity grid).
  for (let k = 0, i = 0; k < nz; k++) {
    for (let y = 0; y < ny; y++) {
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
            w.occ[i] = 255;
            w.count++;
            w.extent.add(x, y, k, 255);
          } else found.set(v, (found.get(v) ?? 0) + 1);
        } else found.set(v, (found.get(v) ?? 0) + 1);
      }
    }
  }
  const values = [...found.keys()].sort((a, b) => a - b);
  if (values.length > 1000) {
    throw new FormatError(`${src}: has ${values.length} distinct nonzero values${table ? ' besides those of the label table' : ''}; that is an image, not a label map`);
  }
  const out: StructureMask[] = [];
  if (table) {
    for (const e of table) {
      const w = wanted.get(e.value)!;
      if (w.count === 0) {
        throw new InputError(`${src}: label ${e.value} ("${e.name}") from the label table does not occur in the label map; check the table`);
      }
      rememberMaskExtent(w.occ, w.extent.build());
      out.push({ name: e.name, origin: `${src} label ${e.value}`, geometry: volume.geometry, occupancy: w.occ });
    }
    const clash = values.find((v) => table.some((e) => e.name === `label ${v}`));
    if (clash !== undefined) {
      throw new InputError(`${src}: label ${clash} is not in the label table, and is reported as "label ${clash}", a name the table gives to another label; name label ${clash} in the table or rename the other`);
    }
  }
  const masks = new Map<number, Uint8Array>(values.map((v) => [v, new Uint8Array(n)]));
  for (let i = 0; i < n; i++) {
    const v = d[i];
    if (v === 0) continue;
    const m = masks.get(v); // undefined for the labels the table named (their masks are built above)
    if (m) m[i] = 255;
  }
  for (const v of values) out.push({ name: `label ${v}`, origin: `${src} label ${v}`, geometry: volume.geometry, occupancy: masks.get(v)! });
  return out;
}
