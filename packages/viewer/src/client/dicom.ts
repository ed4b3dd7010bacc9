/**
 * DICOM image series dropped on the page: parsed and assembled by the core's reader (io/dicom/volume.ts, the same
 * sorting, geometry and rescale as the CLI), compressed pixel data (JPEG, JPEG-LS, JPEG 2000) decoded by itk-wasm's
 * DICOM pipeline `read-image-dicom-file-series` (GDCM in WebAssembly) run on the page's thread from the pipelines the
 * viewer's own server serves under /itk/dicom/ (nothing is fetched from elsewhere). Bundled on its own (/dicom.js) and
 * loaded only when DICOM files are dropped.
 */
import { browserDicomPipelineRunner } from '../../../dosimetry-core/src/io/dicom/codec-browser.ts';
import { setDicomPipelineRunner } from '../../../dosimetry-core/src/io/dicom/codec.ts';
import { type DicomFile, hasDicmPreamble, parseDicom } from '../../../dosimetry-core/src/io/dicom/parser.ts';
import { SOP_CLASS, TAG } from '../../../dosimetry-core/src/io/dicom/tags.ts';
import { readDicomVolume } from '../../../dosimetry-core/src/io/dicom/volume.ts';
import type { Volume } from '../../../dosimetry-core/src/volume/volume.ts';

/** True when the bytes are a DICOM Part 10 file ("DICM" at byte 128). */
export function isDicomBytes(bytes: Uint8Array): boolean {
  return hasDicmPreamble(bytes);
}

/** One image series of the dropped files, as a volume (LPS mm, rescaled values). */
export interface DroppedSeries {
  /** "CT 512x512x78 (series description)": what the drop list shows. */
  readonly name: string;
  readonly modality: string;
  readonly volume: Volume<Float32Array>;
  /** The reader's warnings (lossy compression, resampling). */
  readonly warnings: string[];
  readonly transferSyntaxUid: string;
}

const NOT_IMAGES = new Set<string>([SOP_CLASS.seg, SOP_CLASS.labelMapSeg, SOP_CLASS.rtStruct, SOP_CLASS.mediaStorageDirectory, SOP_CLASS.encapsulatedPdf]);

/**
 * Reads the image series among dropped DICOM files (any number of series; RTSTRUCT, SEG and other non-image objects
 * are left out). Throws the reader's FormatError (missing slices, colour, a codestream that does not decode).
 */
export async function decodeDicomFiles(files: ReadonlyArray<{ name: string; bytes: Uint8Array }>): Promise<DroppedSeries[]> {
  // the GDCM pipeline runs in the page (no worker: the viewer's Content-Security-Policy allows none)
  setDicomPipelineRunner(browserDicomPipelineRunner(new URL('/itk/dicom', location.href).href));
  const bySeries = new Map<string, Array<DicomFile & { path: string }>>();
  for (const f of files) {
    const d = { ...parseDicom(f.bytes, f.name), path: f.name };
    const sop = d.dataset.string(TAG.SOPClassUID) ?? '';
    if (NOT_IMAGES.has(sop) || !d.dataset.has(TAG.PixelData)) continue;
    const uid = d.dataset.string(TAG.SeriesInstanceUID) ?? `(no Series Instance UID: ${f.name})`;
    const list = bySeries.get(uid) ?? [];
    list.push(d);
    bySeries.set(uid, list);
  }
  const out: DroppedSeries[] = [];
  for (const [uid, group] of bySeries) {
    const r = await readDicomVolume(`${group.length} dropped DICOM file(s)`, { files: group, seriesUid: uid, allowResample: true });
    const ds = group[0].dataset;
    const desc = ds.string(TAG.SeriesDescription);
    out.push({
      name: `${r.meta.modality} ${r.volume.geometry.dims.join('x')}${desc ? ` (${desc})` : ''}`,
      modality: r.meta.modality,
      volume: r.volume,
      warnings: r.meta.warnings,
      transferSyntaxUid: r.meta.transferSyntaxUid,
    });
  }
  return out;
}
