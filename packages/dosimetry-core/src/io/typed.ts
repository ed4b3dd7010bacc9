/**
 * Typed voxel arrays from raw bytes, with byte order. Shared by the NIfTI, NRRD and label-map code.
 */
import type { VoxelArray } from '../volume/volume.ts';

/** Voxel element types the readers support (names as in JavaScript typed arrays). */
export type VoxelType = 'uint8' | 'int8' | 'uint16' | 'int16' | 'uint32' | 'int32' | 'float32' | 'float64';

/** Bytes per element of a voxel type. */
export function bytesPerVoxel(t: VoxelType): number {
  return t === 'uint8' || t === 'int8' ? 1 : t === 'uint16' || t === 'int16' ? 2 : t === 'float64' ? 8 : 4;
}

const CTORS = {
  uint8: Uint8Array,
  int8: Int8Array,
  uint16: Uint16Array,
  int16: Int16Array,
  uint32: Uint32Array,
  int32: Int32Array,
  float32: Float32Array,
  float64: Float64Array,
} as const;

/** The voxel type of a typed array. */
export function voxelTypeOf(a: VoxelArray): VoxelType {
  for (const [k, C] of Object.entries(CTORS)) if (a instanceof C) return k as VoxelType;
  throw new Error('unknown voxel array type');
}

/** A new zero-filled array of `count` elements of type `t`. */
export function allocVoxels(t: VoxelType, count: number): VoxelArray {
  return new CTORS[t](count);
}

/** Reverses the bytes of every element of `a` (elements of `bpv` bytes) in place, in windows below 1 GiB. */
export function swapBytesInPlace(a: VoxelArray, bpv: number): void {
  const window = (1 << 30) - ((1 << 30) % bpv);
  for (let start = 0; start < a.byteLength; start += window) {
    const u = new Uint8Array(a.buffer, a.byteOffset + start, Math.min(window, a.byteLength - start));
    for (let o = 0; o < u.length; o += bpv) {
      for (let x = o, y = o + bpv - 1; x < y; x++, y--) {
        const t = u[x];
        u[x] = u[y];
        u[y] = t;
      }
    }
  }
}

/** True on little-endian hosts (all that Node and browsers run on in practice). */
export const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Copies `count` elements of type `t` from `bytes` at `byteOffset` into a new typed array, swapping bytes when the
 * data's byte order differs from the host's. The copy owns its whole buffer (byteOffset 0), which libraries that
 * read `.buffer` directly (itk-wasm) rely on. The caller checks that enough bytes are present.
 */
export function typedFromBytes(bytes: Uint8Array, byteOffset: number, t: VoxelType, count: number, littleEndian: boolean): VoxelArray {
  const bpv = bytesPerVoxel(t);
  const copy = bytes.slice(byteOffset, byteOffset + bpv * count);
  if (bpv > 1 && littleEndian !== HOST_LITTLE_ENDIAN) {
    for (let o = 0; o < copy.length; o += bpv) {
      for (let a = o, b = o + bpv - 1; a < b; a++, b--) {
        const x = copy[a];
        copy[a] = copy[b];
        copy[b] = x;
      }
    }
  }
  return new CTORS[t](copy.buffer, copy.byteOffset, count);
}

/**
 * Like `typedFromBytes`, for bytes the caller hands over (an inflated file nobody else holds): a view into them, no
 * copy, when the voxels start at a multiple of their size and are in the host's byte order; else a copy.
 */
export function typedOverBytes(bytes: Uint8Array, byteOffset: number, t: VoxelType, count: number, littleEndian: boolean): VoxelArray {
  const bpv = bytesPerVoxel(t);
  const start = bytes.byteOffset + byteOffset;
  if ((bpv === 1 || littleEndian === HOST_LITTLE_ENDIAN) && start % bpv === 0) return new CTORS[t](bytes.buffer as ArrayBuffer, start, count);
  return typedFromBytes(bytes, byteOffset, t, count, littleEndian);
}

/** The bytes of a typed array in little-endian order (a view when the host is little-endian). */
export function littleEndianBytes(a: VoxelArray): Uint8Array {
  const u = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const bpv = a.BYTES_PER_ELEMENT;
  if (HOST_LITTLE_ENDIAN || bpv === 1) return u;
  const c = u.slice();
  for (let o = 0; o < c.length; o += bpv) c.subarray(o, o + bpv).reverse();
  return c;
}
