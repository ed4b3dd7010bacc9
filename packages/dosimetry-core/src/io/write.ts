/**
 * `writeVolume`: writes a volume by file name (.nii.gz / .nii -> float32 NIfTI-1, .nrrd -> NRRD gzip,
 * .mha -> MetaImage via itk-wasm).
 */
import { FormatError } from '../errors.ts';
import type { Volume } from '../volume/volume.ts';
import { lowerName } from './files.ts';
import { writeMha } from './mha.ts';
import { writeNifti } from './nifti.ts';
import { writeNrrd } from './nrrd.ts';

/** Writes `volume` to `path` in the format its name ends with; NIfTI and NRRD writes are atomic. */
export async function writeVolume(path: string, volume: Volume, options: { description?: string } = {}): Promise<void> {
  const lower = lowerName(path);
  if (lower.endsWith('.nii') || lower.endsWith('.nii.gz')) return writeNifti(path, volume, options);
  if (lower.endsWith('.nrrd')) return writeNrrd(path, volume);
  if (lower.endsWith('.mha')) return writeMha(path, volume);
  throw new FormatError(`${path}: cannot write this format; use .nii.gz, .nii, .nrrd or .mha`);
}
