/**
 * A scalar volume: voxel values with their geometry. Values are x-fastest (index = i + nx * (j + ny * k)).
 */
import { InputError } from '../errors.ts';
import { type Geometry, validateGeometry, voxelCount } from './geometry.ts';

export type VoxelArray =
  | Float32Array
  | Float64Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array;

export interface Volume<T extends VoxelArray = VoxelArray> {
  readonly geometry: Geometry;
  readonly data: T;
}

/** Creates a volume after checking that the data length matches the grid. */
export function makeVolume<T extends VoxelArray>(geometry: Geometry, data: T, what = 'image'): Volume<T> {
  validateGeometry(geometry, what);
  const n = voxelCount(geometry);
  if (data.length !== n) {
    throw new InputError(`${what}: holds ${data.length} values but its grid ${geometry.dims.join('x')} needs ${n}`);
  }
  return { geometry, data };
}

/** Linear voxel index of (i, j, k). */
export function voxelIndex(g: Geometry, i: number, j: number, k: number): number {
  return i + g.dims[0] * (j + g.dims[1] * k);
}

/** Copies any voxel array into a new Float32Array. */
export function toFloat32(data: VoxelArray): Float32Array {
  return data instanceof Float32Array ? data : Float32Array.from(data as ArrayLike<number>);
}
