/**
 * Reading the inputs of a case from files: images (NIfTI, NRRD, MHA, DICOM) and segmentations (.seg.nrrd, label
 * maps, RTSTRUCT, DICOM SEG). Dispatches on the path; the readers convert to the internal frame (LPS mm).
 */
import { statSync } from 'node:fs';
import { InputError, UsageError } from '../errors.ts';
import { checkInputPath } from '../io/files.ts';
import { Sha256 } from '../io/dicom/uid.ts';
import type { DicomSeriesMeta, DicomVolumeModality, EncodeRtDoseOptions, RtPlanReference } from '../io/dicom/index.ts';
import { NUCLIDES, type Isotope } from '../units/index.ts';
import type { Geometry } from '../volume/geometry.ts';
import type { LabelTable } from '../io/label-table.ts';
import type { LabelCoverage } from '../io/labels.ts';
import type { StructureMask } from '../volume/structure.ts';
import type { Volume } from '../volume/volume.ts';
import { checkDicomConsistency, type DicomInputIdentity, readSegmentationIdentity, seriesIdentity } from './dicom-consistency.ts';

async function dicom() {
  return import('../io/dicom/index.ts');
}

function notDicomFolder(path: string, what: string): InputError {
  return new InputError(`${what} ${path} is a folder without DICOM files (none has the "DICM" marker at byte 128); give an image file, or the folder of an exported DICOM series`);
}

/** Options of `readImage` for DICOM input (ignored for other formats). */
export interface ReadImageOptions {
  /** Modalities to pick from a folder holding several series (e.g. ['NM', 'PT'] for an activity image, 'CT' for --ct). */
  readonly modality?: DicomVolumeModality | readonly DicomVolumeModality[];
  /** Series Instance UID to read when several candidate series remain. */
  readonly seriesUid?: string;
  /** The option that sets `seriesUid`, named in the error that lists the candidate series (e.g. "--ct-series UID"). */
  readonly seriesOption?: string;
  /** Resample gantry tilt and uneven slice spacing onto a regular grid with a warning (default: refuse). */
  readonly allowResample?: boolean;
}

/**
 * Reads a 3-D image (any supported format, DICOM folder or file). For DICOM, `dicom` holds the series metadata
 * (modality, units, timing, patient/study/Frame of Reference, the reader's warnings); `meta` is the same object untyped.
 */
export async function readImage(
  path: string,
  what: string,
  opts: ReadImageOptions = {},
): Promise<{ volume: Volume; meta?: Record<string, unknown>; dicom?: DicomSeriesMeta }> {
  checkInputPath(path, what, { allowFolder: true });
  const d = await dicom();
  if (d.isDicomPath(path)) {
    const r = await d.readDicomVolume(path, opts);
    return { volume: r.volume, meta: r.meta as unknown as Record<string, unknown>, dicom: r.meta };
  }
  if (statSync(path).isDirectory()) throw notDicomFolder(path, what);
  if (opts.seriesUid !== undefined) throw new InputError(`${opts.seriesOption?.split(' ')[0] ?? '--series'} applies to DICOM input only, and ${what} ${path} is not DICOM`);
  const { readVolume } = await import('../io/index.ts');
  return { volume: await readVolume(path) };
}

/**
 * Reads a segmentation: a 3D Slicer .seg.nrrd, a label map named by `labels` ("1=Liver,2=Tumor A"), a DICOM RT
 * Structure Set (rasterised onto `referenceGrid` with partial-volume weights; with `cropToContours`, each ROI onto the
 * part of that grid around its contours, for a fine grid such as the CT's) or a DICOM SEG (on its own grid). With
 * `cropToExtent`, a label map's named structures each lie on the crop of its grid that holds them.
 */
export async function readStructures(
  path: string,
  opts: {
    labels?: string | LabelTable;
    referenceGrid?: Geometry;
    cropToContours?: boolean;
    cropToExtent?: boolean;
    /** Label maps with a table: unnamed labels (with voxel counts) and labels the map lacks; DICOM folders: a malformed DICOMDIR left out. For the report. */
    warnings?: string[];
    onCoverage?: (coverage: LabelCoverage) => void;
  },
): Promise<StructureMask[]> {
  checkInputPath(path, 'segmentation', { allowFolder: true });
  const d = await dicom();
  if (d.isDicomPath(path)) {
    if (opts.labels) throw new InputError(`--labels${typeof opts.labels === 'object' ? ` @${opts.labels.source}` : ''} does not apply to the DICOM segmentation ${path}: its structures are named inside it`);
    return d.readDicomSegmentation(path, { referenceGrid: opts.referenceGrid, cropToContours: opts.cropToContours, warnings: opts.warnings });
  }
  if (statSync(path).isDirectory()) throw notDicomFolder(path, 'segmentation');
  const { readSegmentation } = await import('../io/index.ts');
  return readSegmentation(path, { labels: opts.labels, cropToExtent: opts.cropToExtent, warnings: opts.warnings, onCoverage: opts.onCoverage });
}

/** A scan later than this many half-lives after the implant is refused (under 0.1 % of the activity left). */
export const MAX_SCAN_DELAY_HALF_LIVES = 10;

/** Inputs of `dicomCaseContext`. */
export interface DicomCaseContextOptions {
  /** Metadata of the activity image when it is DICOM. */
  readonly activity?: DicomSeriesMeta;
  /** Metadata of the CT when it is DICOM. */
  readonly ct?: DicomSeriesMeta;
  readonly isotope: Isotope;
  readonly method: string;
  /** The --activity-unit the user gave. */
  readonly activityUnit: 'bq-per-ml' | 'counts';
  /** --scan-delay-h when given [h]. */
  readonly scanDelayH?: number;
  /** The --activity path, named in errors. */
  readonly activityPath?: string;
  /** The --ct path, named in errors. */
  readonly ctPath?: string;
  /** Every --segmentation path; the DICOM ones (RTSTRUCT, SEG) are checked against the images' patient and frame. */
  readonly segmentationPaths?: readonly string[];
  /** --allow-mismatched-dicom: a Patient ID or Frame of Reference mismatch is a warning instead of an error. */
  readonly allowMismatchedDicom?: boolean;
  /** --rtplan: the RT Plan the dose belongs to (RT Dose then has Dose Summation Type PLAN). */
  readonly rtPlan?: RtPlanReference;
}

/** What the DICOM metadata adds to a case. */
export interface DicomCaseContext {
  /** The scan delay to use [h]: the given one, else the one read from a PT series' timing, else undefined (0). */
  readonly scanDelayH?: number;
  /** Where the scan delay came from, in words. */
  readonly scanDelaySource: string;
  /** Things the user must see (reader warnings, scan delay that cannot be read, Frame of Reference mismatches). */
  readonly warnings: string[];
  /** Options for `encodeRtDose`: patient, study and Frame of Reference of the CT (when DICOM) or the activity image. */
  readonly rtDose: EncodeRtDoseOptions;
  /** A summary for report.json provenance (UIDs, modalities, units, timing; the Patient ID only as its SHA-256). */
  readonly provenance: Record<string, unknown>;
}

function seriesSummary(m: DicomSeriesMeta): Record<string, unknown> {
  return {
    modality: m.modality,
    seriesInstanceUid: m.seriesInstanceUid,
    seriesDescription: m.seriesDescription ?? null,
    studyInstanceUid: m.studyInstanceUid ?? null,
    frameOfReferenceUid: m.frameOfReferenceUid ?? null,
    // the patient's identity without the identifier itself: enough for compare to tell two patients apart after the
    // DICOM files are gone (a hash of a short ID can be guessed by trying IDs: it is a key, not anonymisation)
    patientIdSha256: m.patient.id?.trim() ? new Sha256().update(m.patient.id.trim()).hex() : null,
    studyDate: m.studyDate ?? null,
    units: m.units,
    sliceCount: m.sliceCount,
    transferSyntaxUid: m.transferSyntaxUid,
    // JPEG, JPEG-LS, JPEG 2000 pixel data: decoded by the codec, and whether the compression lost information
    ...(m.compression ? { compression: { lossy: m.compression.lossy, how: m.compression.how } } : {}),
    ...(m.emission
      ? {
          decayCorrection: m.emission.decayCorrection ?? null,
          seriesDateTime: m.emission.seriesDateTime?.iso ?? null,
          acquisitionDateTime: m.emission.acquisitionDateTime?.iso ?? null,
          radiopharmaceuticalStartDateTime: m.emission.injectionDateTime?.iso ?? null,
          radionuclide: m.emission.radionuclide ?? null,
          timingNote: m.emission.note,
        }
      : {}),
  };
}

/**
 * Combines the DICOM metadata of a case's inputs: the scan delay of a bq-per-ml PT image read from its timing
 * (`scanDelayFromDicom`; a given --scan-delay-h wins, with a warning when the two differ by more than 0.1 h), the
 * reader's warnings, and the RT Dose identity (the CT's Frame of Reference when the CT is DICOM, else the activity
 * image's; Dose Summation Type PLAN with the Referenced RT Plan when one is given, else PLAN_OVERVIEW).
 */
export async function dicomCaseContext(opts: DicomCaseContextOptions): Promise<DicomCaseContext> {
  const { scanDelayFromDicom, rtDoseFrameOfReferenceFrom } = await dicom();
  const warnings: string[] = [...(opts.activity?.warnings ?? []), ...(opts.ct?.warnings ?? [])];
  let scanDelayH = opts.scanDelayH;
  let scanDelaySource = scanDelayH !== undefined ? 'given (--scan-delay-h)' : 'not applicable (counts are normalised to the administered activity)';
  const act = opts.activity;
  if (scanDelayH !== undefined && !(scanDelayH >= 0)) {
    throw new UsageError(`--scan-delay-h ${scanDelayH}: the scan is taken after the implant; give the hours from implant to scan (0 or more)`);
  }
  const halfLifeH = NUCLIDES[opts.isotope].halfLifeH;
  if (scanDelayH !== undefined && scanDelayH > MAX_SCAN_DELAY_HALF_LIVES * halfLifeH) {
    throw new UsageError(
      `--scan-delay-h ${scanDelayH} is ${(scanDelayH / halfLifeH).toFixed(1)} half-lives of ${opts.isotope} (${halfLifeH} h): less than ${(100 * 2 ** -MAX_SCAN_DELAY_HALF_LIVES).toFixed(2)} % of the activity is left to image; check the unit (hours, not minutes)`,
    );
  }
  // Bq/mL without timing would silently mean "at implant": a scan one day after a 90Y implant would read 23 % low.
  if (opts.activityUnit === 'bq-per-ml' && !act && scanDelayH === undefined) {
    throw new UsageError(
      `--scan-delay-h is required for Bq/mL activity from ${opts.activityPath ?? 'a NIfTI/NRRD/MHA file'}: the file carries no acquisition timing; give the hours from implant to the scan (--scan-delay-h 0 when the image is already decay-corrected to the implant time)`,
    );
  }
  if (act) {
    if (opts.activityUnit === 'bq-per-ml' && act.activityUnit === 'counts') {
      warnings.push(`--activity-unit bq-per-ml, but the DICOM ${act.modality} series holds ${act.units} (no Units BQML): check that the image is quantitative, or use --activity-unit counts with --administered-gbq`);
    }
    if (opts.activityUnit === 'bq-per-ml' && act.activityUnit === 'bq-per-ml') {
      const sd = scanDelayFromDicom(act, opts.isotope);
      if (scanDelayH === undefined) {
        if (sd.scanDelayH !== undefined) {
          scanDelayH = sd.scanDelayH;
          scanDelaySource = `from the DICOM metadata: ${sd.source}`;
        } else {
          throw new UsageError(
            `the scan delay of the DICOM ${act.modality} series cannot be read from its timing (${sd.source}); give --scan-delay-h H (hours from implant to the scan, 0 when it is decay-corrected to the implant)`,
          );
        }
        if (sd.warning) warnings.push(sd.warning);
      } else {
        if (sd.scanDelayH !== undefined && Math.abs(sd.scanDelayH - scanDelayH) > 0.1) {
          warnings.push(`--scan-delay-h ${scanDelayH} differs from the ${sd.scanDelayH.toFixed(2)} h the DICOM timing gives (${sd.source}); the given value is used`);
        }
        if (sd.warning && sd.scanDelayH !== undefined) warnings.push(sd.warning);
      }
    }
  }
  const ref = opts.ct ?? act;
  const refRole = opts.ct ? 'ct' : act ? 'activity' : 'none';
  // One patient, one Frame of Reference across the activity, the CT and every DICOM segmentation.
  const ids: DicomInputIdentity[] = [];
  if (act) ids.push(seriesIdentity('activity image', opts.activityPath ?? '(--activity)', act));
  if (opts.ct) ids.push(seriesIdentity('CT', opts.ctPath ?? '(--ct)', opts.ct));
  for (const p of opts.segmentationPaths ?? []) {
    if (!(await dicom()).isDicomPath(p)) continue;
    const id = await readSegmentationIdentity(p);
    if (id) ids.push(id);
  }
  const consistency = checkDicomConsistency(ids, opts.allowMismatchedDicom ?? false);
  warnings.push(...consistency.warnings);
  if (opts.rtPlan?.frameOfReferenceUid && ref?.frameOfReferenceUid && opts.rtPlan.frameOfReferenceUid !== ref.frameOfReferenceUid) {
    warnings.push(`the RT Plan's Frame of Reference ${opts.rtPlan.frameOfReferenceUid} differs from the images' ${ref.frameOfReferenceUid}; check that --rtplan belongs to this study`);
  }
  const rtDose: EncodeRtDoseOptions = {
    ...(ref ? { frameOfReference: rtDoseFrameOfReferenceFrom(ref) } : {}),
    ...(opts.rtPlan ? { referencedRtPlan: { sopInstanceUid: opts.rtPlan.sopInstanceUid, sopClassUid: opts.rtPlan.sopClassUid }, doseSummationType: 'PLAN' as const } : {}),
    doseComment: `${opts.isotope} ${opts.method.toUpperCase()} absorbed dose`,
  };
  const provenance: Record<string, unknown> = {
    ...(act ? { activity: seriesSummary(act) } : {}),
    ...(opts.ct ? { ct: seriesSummary(opts.ct) } : {}),
    consistency: consistency.provenance,
    rtDose: {
      frameOfReferenceFrom: refRole,
      frameOfReferenceUid: ref?.frameOfReferenceUid ?? null,
      doseSummationType: rtDose.doseSummationType ?? 'PLAN_OVERVIEW',
      referencedRtPlan: opts.rtPlan?.sopInstanceUid ?? null,
    },
  };
  return { scanDelayH, scanDelaySource, warnings, rtDose, provenance };
}

/** Reads the identity of an RT Plan file (--rtplan) for the RT Dose's Referenced RT Plan Sequence. */
export async function readRtPlan(path: string): Promise<RtPlanReference> {
  checkInputPath(path, 'RT Plan', { allowFolder: true });
  return (await dicom()).readRtPlanReference(path);
}
