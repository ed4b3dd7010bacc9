/**
 * The one place the viewer's server imports `@sirt/dosimetry-core` from. The core package's "." export
 * (src/index.ts) does not exist yet, so its modules are imported by path; switch these lines to
 * `from '@sirt/dosimetry-core'` once the core exports them.
 */
export { readImage, readStructures } from '../../../dosimetry-core/src/dose/inputs.ts';
export { sha256OfPath } from '../../../dosimetry-core/src/dose/report.ts';
export { FileError, InputError, UsageError, FormatError } from '../../../dosimetry-core/src/errors.ts';
export {
  type Geometry,
  indexToWorld,
  worldToIndex,
  voxelCount,
  voxelVolumeMl,
  sameGrid,
} from '../../../dosimetry-core/src/volume/geometry.ts';
export { type Volume, toFloat32 } from '../../../dosimetry-core/src/volume/volume.ts';
export type { StructureMask } from '../../../dosimetry-core/src/volume/structure.ts';
export { resampleLinear } from '../../../dosimetry-core/src/volume/resample.ts';
