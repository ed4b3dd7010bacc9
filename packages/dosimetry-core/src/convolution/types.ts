/**
 * Shared option types and validation for the dose-kernel (DVK) convolution back ends.
 */
import { InputError } from '../errors.ts';

/** Grid dimensions [nx, ny, nz] in voxels. */
export type Dims3 = [number, number, number];

/**
 * Options of every convolution back end (CPU FFT, CPU direct, WebGPU).
 * Computes the "same"-size true convolution with zero padding (no wrap-around):
 *   out[x] = sum_k volume[x - k] * kernel[k],  k in [-r, r]^3, volume = 0 outside the grid.
 * With volume = fully decayed activity [Bq s] per voxel and kernel = voxel S values [Gy/(Bq s)], out is dose [Gy]
 * (MIRD Pamphlet 17, Bolch et al. 1999, J Nucl Med 40:11S).
 */
export interface ConvolutionOptions {
  /** Input values, x-fastest (i + nx * (j + ny * k)); any unit U (e.g. Bq s). */
  readonly volume: Float32Array;
  /** Grid dimensions [nx, ny, nz] in voxels. */
  readonly dims: Dims3;
  /** Kernel values, x-fastest over (2rx+1)(2ry+1)(2rz+1); centre = offset 0; unit K (e.g. Gy/(Bq s)). */
  readonly kernel: Float32Array;
  /** Kernel radius [rx, ry, rz] in voxels. */
  readonly kernelRadius: readonly [number, number, number] | [number, number, number];
  /** Called with the fraction done (0..1) now and then. */
  readonly onProgress?: (fraction: number) => void;
  /**
   * Convolve only the bounding box of the non-zero inputs dilated by the kernel radius (exact; see ./crop.ts).
   * Default true; false forces the whole grid (tests of tiling and padding).
   */
  readonly cropToSupport?: boolean;
}

/** Validates the options; throws InputError naming the inconsistency. Returns the voxel count. */
export function checkConvolutionOptions(o: ConvolutionOptions): number {
  const [nx, ny, nz] = o.dims;
  for (const [name, v] of [['nx', nx], ['ny', ny], ['nz', nz]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new InputError(`convolution: dims ${name} = ${v} must be a positive integer`);
  }
  const n = nx * ny * nz;
  if (o.volume.length !== n) {
    throw new InputError(`convolution: volume has ${o.volume.length} values but dims [${nx}, ${ny}, ${nz}] need ${n}`);
  }
  const [rx, ry, rz] = o.kernelRadius;
  for (const [name, v] of [['rx', rx], ['ry', ry], ['rz', rz]] as const) {
    if (!Number.isInteger(v) || v < 0) throw new InputError(`convolution: kernel radius ${name} = ${v} must be an integer >= 0`);
  }
  const kn = (2 * rx + 1) * (2 * ry + 1) * (2 * rz + 1);
  if (o.kernel.length !== kn) {
    throw new InputError(
      `convolution: kernel has ${o.kernel.length} values but radius [${rx}, ${ry}, ${rz}] needs (2rx+1)(2ry+1)(2rz+1) = ${kn}`,
    );
  }
  return n;
}
