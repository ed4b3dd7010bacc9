/**
 * Uniform struct layouts, defined once on the host and checked against the WGSL `struct` of the same name
 * (test/gpu/uniform.test.ts parses every shader's struct and compares names, types, order and byte size).
 * Only 4-byte scalars (u32, i32, f32) are used, so offsets are 4 x index and the size is padded to 16 bytes.
 */
import { GpuError } from '../errors.ts';

/** Scalar type of a uniform field (each 4 bytes). */
export type UniformScalar = 'u32' | 'i32' | 'f32';

/** A uniform struct: its WGSL name and its fields in declaration order. */
export interface UniformLayout {
  readonly struct: string;
  readonly fields: ReadonlyArray<readonly [name: string, type: UniformScalar]>;
}

/** Byte size of a layout's uniform buffer: 4 bytes per field, rounded up to 16 (WGSL uniform struct size rule). */
export function uniformByteSize(layout: UniformLayout): number {
  return Math.ceil((layout.fields.length * 4) / 16) * 16;
}

/** Packs `values` (every field by name; missing fields are an error) into a new ArrayBuffer for queue.writeBuffer. */
export function packUniform(layout: UniformLayout, values: Record<string, number>): ArrayBuffer {
  const buf = new ArrayBuffer(uniformByteSize(layout));
  const view = new DataView(buf);
  layout.fields.forEach(([name, type], i) => {
    const v = values[name];
    if (v === undefined || !Number.isFinite(v)) {
      throw new GpuError(`uniform ${layout.struct}.${name} has no finite value (${v}); this is a bug in the GPU host code`);
    }
    if (type === 'f32') view.setFloat32(i * 4, v, true);
    else if (type === 'u32') view.setUint32(i * 4, v >>> 0, true);
    else view.setInt32(i * 4, v | 0, true);
  });
  return buf;
}

/**
 * Fields of `struct <name> { ... }` in a WGSL source, as [name, type] pairs (comments stripped). For the layout check
 * in the tests; throws when the struct is missing.
 */
export function wgslStructFields(source: string, struct: string): Array<[string, string]> {
  const noComments = source.replace(/\/\/[^\n]*/g, '');
  const m = new RegExp(`struct\\s+${struct}\\s*\\{([^}]*)\\}`).exec(noComments);
  if (!m) throw new GpuError(`struct ${struct} not found in the WGSL source`);
  return m[1]
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => {
      const [name, type] = s.split(':').map((t) => t.trim());
      return [name, type];
    });
}
