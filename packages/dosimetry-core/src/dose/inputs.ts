/**
 * Reading the inputs of a case from files: images (NIfTI, NRRD, MHA, DICOM) and segmentations (.seg.nrrd, label
 * maps, RTSTRUCT, DICOM SEG). Dispatches on the path; the readers convert to the internal frame (LPS mm).
 */
import { existsSync } from 'node:fs';
import { FileError, InputError } from '../errors.ts';
import type { Geometry } from '../volume/geometry.ts';
import type { StructureMask } from '../volume/structure.ts';
import type { Volume } from '../volume/volume.ts';

async function dicom() {
  return import('../io/dicom/index.ts');
}

function mustExist(path: string, what: string): void {
  if (!existsSync(path)) throw new FileError(`${what} ${path} does not exist; check the path`);
}

/** Reads a 3-D image (any supported format, DICOM folder or file). */
export async function readImage(path: string, what: string): Promise<{ volume: Volume; meta?: Record<string, unknown> }> {
  mustExist(path, what);
  const d = await dicom().catch(() => undefined);
  if (d && d.isDicomPath(path)) {
    const r = await d.readDicomVolume(path);
    return { volume: r.volume, meta: r.meta as unknown as Record<string, unknown> };
  }
  const { readVolume } = await import('../io/index.ts');
  return { volume: await readVolume(path) };
}

/** Reads a segmentation; `labels` ("1=Liver,2=Tumor A") names a label map's values. */
export async function readStructures(path: string, opts: { labels?: string; referenceGrid?: Geometry }): Promise<StructureMask[]> {
  mustExist(path, 'segmentation');
  const d = await dicom().catch(() => undefined);
  if (d && d.isDicomPath(path)) {
    if (opts.labels) throw new InputError(`--labels does not apply to the DICOM segmentation ${path}: its structures are named inside it`);
    return d.readDicomSegmentation(path, { referenceGrid: opts.referenceGrid });
  }
  const { readSegmentation } = await import('../io/index.ts');
  return readSegmentation(path, { labels: opts.labels });
}
