/**
 * `readVolume`: one entry point for 3-D images, dispatching on the file name.
 * .nii / .nii.gz -> NIfTI-1/2; .nrrd / .nhdr -> NRRD; .mha / .mhd -> MetaImage (itk-wasm). DICOM is handled by io/dicom.
 */
import { FormatError } from '../errors.ts';
import type { Volume } from '../volume/volume.ts';
import { lowerName, readFileBytes } from './files.ts';
import { readMha } from './mha.ts';
import { readNiftiAsync } from './nifti.ts';
import { nrrdToVolume, readNrrdAsync } from './nrrd.ts';

/** File name endings `readVolume` understands. */
export const VOLUME_EXTENSIONS: readonly string[] = ['.nii', '.nii.gz', '.nrrd', '.nhdr', '.mha', '.mhd'];

/**
 * Reads a 3-D image into a Volume (geometry in LPS mm; voxel values as stored, scaled by NIfTI scl_slope/scl_inter).
 * Throws FileError when the file is missing or unreadable, FormatError when it is malformed, truncated, of an
 * unsupported type, not 3-D (a 4-D series or a multi-layer segmentation), or has non-positive spacing.
 * Values are not checked for NaN/Inf here; the caller does that.
 */
export async function readVolume(path: string): Promise<Volume> {
  const lower = lowerName(path);
  if (lower.endsWith('.nii') || lower.endsWith('.nii.gz')) return (await readNiftiAsync(path, 'image')).volume;
  if (lower.endsWith('.nrrd') || lower.endsWith('.nhdr')) return nrrdToVolume(await readNrrdAsync(path), path);
  if (lower.endsWith('.mha') || lower.endsWith('.mhd')) return readMha(path);
  readFileBytes(path, 'image'); // a missing file is reported as such before the format question
  throw new FormatError(`${path}: unknown image format; use NIfTI (.nii, .nii.gz), NRRD (.nrrd, .nhdr), MetaImage (.mha, .mhd) or DICOM`);
}
