/**
 * Structures (segments) as read from segmentations, and as brought onto the activity grid.
 */
import type { Geometry } from './geometry.ts';

/**
 * A structure on its own grid, as a reader produced it. Occupancy is quantised: 0 outside, 255 fully inside,
 * values between for fractional masks (DICOM SEG FRACTIONAL, rasterised contours with partial-volume weights).
 */
export interface StructureMask {
  /** Segment / ROI / label name, as the user refers to it on the command line. */
  readonly name: string;
  /** Where it came from, for reports and error messages (e.g. "seg.nrrd layer 1 label 2"). */
  readonly origin: string;
  readonly geometry: Geometry;
  /** Occupancy per voxel of `geometry`, x-fastest: 0..255 meaning 0..1. */
  readonly occupancy: Uint8Array;
  /** Display colour, RGB 0..1, when the source gives one. */
  readonly colorRgb?: readonly [number, number, number];
}

/**
 * A structure on the activity grid, stored sparsely: the voxels it touches and the fraction of each it occupies.
 * `voxelIndices` are ascending linear indices (i + nx * (j + ny * k)); `weights` in (0, 1].
 */
export interface GridStructure {
  readonly name: string;
  readonly origin: string;
  readonly voxelIndices: Uint32Array;
  readonly weights: Float32Array;
  readonly colorRgb?: readonly [number, number, number];
}
