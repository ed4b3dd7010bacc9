/**
 * DICOM in and out: image series (CT, NM, PT, RT Dose) to volumes, RTSTRUCT and SEG to structure masks, dose to RT Dose.
 * Everything is converted to the internal frame (LPS mm) here; DICOM patient coordinates already are LPS.
 */
import { FormatError, InputError } from '../../errors.ts';
import type { Geometry, Vec3 } from '../../volume/geometry.ts';
import type { StructureMask } from '../../volume/structure.ts';
import { listDicomFiles, loadDicomFile } from './files.ts';
import { readRoiContours, rasterizeContours } from './rtstruct.ts';
import { readSegMasks } from './seg.ts';
import { SOP_CLASS, TAG } from './tags.ts';

export { isDicomPath, listDicomFiles, loadDicomFile, dicomDateTime, dicomDT, type DicomDateTime } from './files.ts';
export { readDicomVolume, type ReadDicomVolumeOptions, type DicomSeriesMeta, type DicomEmissionTiming, type DicomVolumeModality } from './volume.ts';
export { mosaicEvidence } from './mosaic.ts';
export { scanDelayFromDicom, type DicomScanDelay } from './timing.ts';
export { encodeRtDose, rtDoseFrameOfReferenceFrom, rtDoseQuantisation, type EncodeRtDoseOptions, type RtDoseFrameOfReference, type RtDoseQuantisation, type DoseSummationType } from './rtdose.ts';
export { rasterizeContours, readRoiContours, gridFromContours, type RoiContours, type Contour, type RasterizeOptions } from './rtstruct.ts';
export { readSegMasks, dicomLabToRgb, rgbToDicomLab } from './seg.ts';
export { encodeDicomSeg, dicomSegSourcesFrom, segmentCodes, type EncodeDicomSegOptions, type DicomSegStructure, type DicomSegSource, type DicomSegResult, type DicomSegType } from './seg-write.ts';
export { encodeEncapsulatedPdf, type EncodeEncapsulatedPdfOptions } from './encapsulated-pdf.ts';
export { parseDicom, DicomDataset, type DicomFile, type DicomElement, TS } from './parser.ts';
export { writePart10, put, dataset, makeElement, formatDS } from './writer.ts';
export { TAG, SOP_CLASS, tagString } from './tags.ts';
export { deterministicUid, Sha256 } from './uid.ts';

/** Options of `readDicomSegmentation`. */
export interface ReadDicomSegmentationOptions {
  /** RTSTRUCT: the grid to rasterise onto (e.g. the activity image's). SEG masks come on their own frames' grid. */
  readonly referenceGrid?: Geometry;
  /** RTSTRUCT without a reference grid: spacing of the grid derived from the contours [mm]; default [1, 1, plane spacing]. */
  readonly spacingMm?: Vec3;
  /** Receives a line per malformed DICOMDIR in the folder (left out of it, see listDicomFiles). */
  readonly warnings?: string[];
  /** RTSTRUCT: scanlines per voxel row for partial-volume weights (default 8). */
  readonly subsamples?: number;
  /**
   * RTSTRUCT: each ROI onto the part of `referenceGrid` around its contours, not the whole grid (for a fine grid such
   * as the CT's: the masks keep the CT's resolution without a dense CT-sized array per ROI).
   */
  readonly cropToContours?: boolean;
}

/**
 * Reads an RT Structure Set (closed planar contours rasterised with partial-volume weights; names from ROI Name) or a
 * DICOM SEG (BINARY, FRACTIONAL or LABELMAP; names from Segment Label) from a file or a folder holding exactly one of them.
 */
export async function readDicomSegmentation(path: string, opts: ReadDicomSegmentationOptions = {}): Promise<StructureMask[]> {
  const files = listDicomFiles(path, { warnings: opts.warnings });
  const found: Array<ReturnType<typeof loadDicomFile>> = [];
  for (const p of files) {
    const f = loadDicomFile(p);
    const sop = f.dataset.string(TAG.SOPClassUID) ?? f.meta.string(TAG.MediaStorageSOPClassUID);
    if (sop === SOP_CLASS.rtStruct || sop === SOP_CLASS.seg || sop === SOP_CLASS.labelMapSeg) found.push(f);
  }
  if (found.length === 0) {
    throw new InputError(`${path} holds no RT Structure Set or DICOM SEG${files.length ? ` (only ${files.length} other DICOM file(s))` : ''}; give the RTSTRUCT or SEG file`);
  }
  if (found.length > 1) {
    throw new InputError(`${path} holds ${found.length} segmentations (${found.map((f) => f.path).join(', ')}); give one file`);
  }
  const f = found[0];
  const sop = f.dataset.string(TAG.SOPClassUID);
  if (sop === SOP_CLASS.seg || sop === SOP_CLASS.labelMapSeg) return readSegMasks(f);
  const rois = readRoiContours(f.dataset, f.path);
  if (rois.length === 0) throw new FormatError(`${f.path}: the structure set holds no closed planar contours`);
  return rasterizeContours(rois, f.path, { referenceGrid: opts.referenceGrid, spacingMm: opts.spacingMm, subsamples: opts.subsamples, cropToContours: opts.cropToContours });
}

/** What a dose object needs to reference an RT Plan: its UIDs, and its Frame of Reference (to check it matches). */
export interface RtPlanReference {
  readonly sopClassUid: string;
  readonly sopInstanceUid: string;
  readonly frameOfReferenceUid?: string;
  readonly label?: string;
}

/**
 * Reads the identity of an RT Plan (or RT Ion Plan) file, for the Referenced RT Plan Sequence of an RT Dose with
 * Dose Summation Type PLAN (PS3.3 C.8.8.3). Throws InputError when the file is not an RT Plan.
 */
export function readRtPlanReference(path: string): RtPlanReference {
  const files = listDicomFiles(path);
  if (files.length !== 1) {
    throw new InputError(`${path} ${files.length ? `holds ${files.length} DICOM files` : 'is not a DICOM file'}; give the one RT Plan file the dose belongs to`);
  }
  const f = loadDicomFile(files[0]);
  const sopClassUid = f.dataset.string(TAG.SOPClassUID) ?? '';
  const sopInstanceUid = f.dataset.string(TAG.SOPInstanceUID);
  if ((sopClassUid !== SOP_CLASS.rtPlan && sopClassUid !== SOP_CLASS.rtIonPlan) || !sopInstanceUid) {
    throw new InputError(`${path} is not an RT Plan (SOP Class ${sopClassUid || 'missing'}, modality ${f.dataset.string(TAG.Modality) ?? 'missing'}); give the RTPLAN file the dose belongs to`);
  }
  return { sopClassUid, sopInstanceUid, frameOfReferenceUid: f.dataset.string(TAG.FrameOfReferenceUID), label: f.dataset.string(0x300a0002) };
}
