/**
 * `dose --transform FILE`: the activity image (post-treatment PET/SPECT) resampled through a fixed-to-moving ITK
 * transform (fixed = the planning CT given with --ct, moving = the activity image) onto the CT's grid, so that the
 * planning segmentation applies as it is and the dose map lies voxel for voxel on the planning frame.
 */
import { createHash } from 'node:crypto';
import { InputError } from '../errors.ts';
import { readFileBytes } from '../io/files.ts';
import { compileTransform, parseTransformFile, type ItkTransformFile } from '../io/transform.ts';
import { type Geometry, voxelVolumeMl } from '../volume/geometry.ts';
import type { Volume } from '../volume/volume.ts';
import { resampleThroughTransform } from './quality.ts';

/** What `dose --transform` did, for the report's provenance. */
export interface TransformProvenance {
  readonly path: string;
  readonly sha256: string;
  readonly types: string[];
  readonly applied: 'activity resampled onto the --ct grid through the transform (trilinear; fixed = CT, moving = activity)';
  /** Fraction of the activity image's total (values x voxel volume) that lands on the CT grid (0..1). */
  readonly fractionOfActivityKept: number;
}

/** Reads a transform file and hashes its bytes (sha256 hex). */
export function readTransformWithHash(path: string): { file: ItkTransformFile; sha256: string } {
  const bytes = readFileBytes(path, 'transform file');
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('utf8');
  return { file: parseTransformFile(text, path), sha256: createHash('sha256').update(bytes).digest('hex') };
}

/**
 * Resamples an activity image through `file` onto `target` (trilinear, 0 outside). Bq/mL values are concentrations and
 * are sampled as they are; counts (per voxel) are scaled by the ratio of voxel volumes so that counts per mL are kept.
 */
export function activityThroughTransform(
  activity: Volume,
  unit: 'bq-per-ml' | 'counts',
  target: Geometry,
  file: ItkTransformFile,
): { volume: Volume<Float32Array>; fractionOfActivityKept: number } {
  const data = resampleThroughTransform(activity, target, compileTransform(file), 0);
  const scale = unit === 'counts' ? voxelVolumeMl(target) / voxelVolumeMl(activity.geometry) : 1;
  let before = 0, after = 0;
  for (let i = 0; i < activity.data.length; i++) before += Math.max(0, activity.data[i]);
  before *= voxelVolumeMl(activity.geometry) * (unit === 'counts' ? 1 / voxelVolumeMl(activity.geometry) : 1);
  for (let i = 0; i < data.length; i++) {
    data[i] *= scale;
    after += Math.max(0, data[i]);
  }
  after *= voxelVolumeMl(target) * (unit === 'counts' ? 1 / voxelVolumeMl(target) : 1);
  if (!(after > 0)) {
    throw new InputError('dose --transform: no activity lands on the CT grid through the transform; check that --transform maps the CT (fixed) to the activity image (moving)');
  }
  return { volume: { geometry: target, data }, fractionOfActivityKept: before > 0 ? Math.min(1, after / before) : 0 };
}
