/**
 * MetaImage (.mha) reading in the page through itk-wasm's image-io pipeline `meta-read-image`, run on the main
 * thread from pipelines the viewer's own server serves under /itk/image-io/ (nothing is fetched from elsewhere).
 * Bundled on its own (/mha.js) and loaded only when a MetaImage is dropped. Frame: ITK images are LPS mm already;
 * itk-wasm's direction is row-major, converted with the core's itkDirectionToColMajor (the core's readMha does the
 * same for files in Node).
 */
// The browser build of @itk-wasm/image-io (esbuild bundles its 'browser' export for the page).
import { metaReadImage, setPipelinesBaseUrl } from '@itk-wasm/image-io';
import { itkDirectionToColMajor } from '../../../dosimetry-core/src/io/mha.ts';
import { FormatError } from '../../../dosimetry-core/src/errors.ts';
import type { Geometry, Vec3 } from '../../../dosimetry-core/src/volume/geometry.ts';
import { type Volume, type VoxelArray, makeVolume } from '../../../dosimetry-core/src/volume/volume.ts';

/** Decodes a single-file MetaImage (.mha) into a Volume (LPS mm, voxels as stored). */
export async function decodeMha(bytes: Uint8Array, name: string): Promise<Volume> {
  setPipelinesBaseUrl(new URL('/itk/image-io', location.href).href);
  const r = await metaReadImage({ path: name, data: bytes }, { webWorker: false });
  const img = r.image;
  if (!r.couldRead || !img) throw new FormatError(`${name}: itk-wasm cannot read this MetaImage; the file is truncated or corrupt`);
  if (img.imageType.components !== 1) throw new FormatError(`${name}: has ${img.imageType.components} components per voxel; a scalar image is expected`);
  const size = img.size.map(Number);
  if (size.length !== 3) throw new FormatError(`${name}: is a ${size.length}-D image; a 3-D image is expected`);
  const geometry: Geometry = {
    dims: [size[0], size[1], size[2]],
    spacingMm: img.spacing.map(Number) as unknown as Vec3,
    originLpsMm: img.origin.map(Number) as unknown as Vec3,
    direction: itkDirectionToColMajor(Array.from(img.direction as ArrayLike<number>, Number)),
  };
  if (!img.data) throw new FormatError(`${name}: holds no voxel data`);
  return makeVolume(geometry, img.data as VoxelArray, name);
}
