/**
 * The DICOM inputs of one case must describe one patient in one patient coordinate system: the activity image, the
 * CT and every DICOM segmentation (RTSTRUCT, SEG) are compared by Patient ID and Frame of Reference UID. A structure
 * set from another patient or another frame of reference lands somewhere plausible-looking on the activity grid and
 * gives a wrong dose with no error, so a mismatch is refused unless the user says it is intended.
 */
import { InputError } from '../errors.ts';
import type { DicomSeriesMeta } from '../io/dicom/index.ts';

/** The identity of one DICOM input. */
export interface DicomInputIdentity {
  /** Role in the case, in words ("activity", "CT", "segmentation"). */
  readonly role: string;
  /** The path given on the command line. */
  readonly path: string;
  /** What the file is (modality, or RTSTRUCT / SEG). */
  readonly kind: string;
  readonly patientId?: string;
  /**
   * Frame of Reference UIDs: the series' own; for an RTSTRUCT those of its Referenced Frame of Reference Sequence and
   * its ROIs' Referenced Frame of Reference UID (and its own when present); for a SEG its own.
   */
  readonly frameOfReferenceUids: readonly string[];
}

/** The identity of an image series read by `readDicomVolume`. */
export function seriesIdentity(role: string, path: string, meta: DicomSeriesMeta): DicomInputIdentity {
  return {
    role,
    path,
    kind: meta.modality,
    patientId: meta.patient.id?.trim() || undefined,
    frameOfReferenceUids: meta.frameOfReferenceUid ? [meta.frameOfReferenceUid] : [],
  };
}

/**
 * Reads the Patient ID and the Frame(s) of Reference of the RT Structure Set or DICOM SEG at `path` (a file, or a
 * folder holding one), without its contours or pixels' meaning. Undefined when `path` holds neither.
 */
export async function readSegmentationIdentity(path: string, role = 'segmentation'): Promise<DicomInputIdentity | undefined> {
  const { listDicomFiles, loadDicomFile, SOP_CLASS, TAG } = await import('../io/dicom/index.ts');
  for (const p of listDicomFiles(path)) {
    const ds = loadDicomFile(p).dataset;
    const sop = ds.string(TAG.SOPClassUID);
    if (sop !== SOP_CLASS.rtStruct && sop !== SOP_CLASS.seg && sop !== SOP_CLASS.labelMapSeg) continue;
    const uids = new Set<string>();
    const own = ds.string(TAG.FrameOfReferenceUID);
    if (own) uids.add(own);
    if (sop === SOP_CLASS.rtStruct) {
      for (const item of ds.sequence(TAG.ReferencedFrameOfReferenceSequence)) {
        const u = item.string(TAG.FrameOfReferenceUID);
        if (u) uids.add(u);
      }
      for (const roi of ds.sequence(TAG.StructureSetROISequence)) {
        const u = roi.string(TAG.ReferencedFrameOfReferenceUID);
        if (u) uids.add(u);
      }
    }
    return {
      role,
      path: p,
      kind: sop === SOP_CLASS.seg || sop === SOP_CLASS.labelMapSeg ? 'SEG' : 'RTSTRUCT',
      patientId: ds.string(TAG.PatientID)?.trim() || undefined,
      frameOfReferenceUids: [...uids],
    };
  }
  return undefined;
}

/** Outcome of `checkDicomConsistency`. */
export interface DicomConsistency {
  /** With `allowMismatch`: one warning per mismatch (Patient IDs are not repeated: report.json holds no identity). */
  readonly warnings: string[];
  /** For report.json provenance. */
  readonly provenance: { readonly inputsCompared: number; readonly mismatches: number; readonly allowMismatchedDicom: boolean };
}

const OVERRIDE = '--allow-mismatched-dicom';
const who = (x: DicomInputIdentity) => `the ${x.role} ${x.path} (${x.kind})`;

/**
 * Compares every pair of DICOM inputs: Patient ID (when both carry one) and Frame of Reference (when both carry one,
 * they must share a UID). Throws an InputError naming both values and both files at the first mismatch, unless
 * `allowMismatch` (phantoms, or inputs registered into one space by hand) turns each mismatch into a warning.
 */
export function checkDicomConsistency(inputs: readonly DicomInputIdentity[], allowMismatch = false): DicomConsistency {
  const warnings: string[] = [];
  let mismatches = 0;
  for (let a = 0; a < inputs.length; a++) {
    for (let b = a + 1; b < inputs.length; b++) {
      const x = inputs[a], y = inputs[b];
      if (x.patientId && y.patientId && x.patientId !== y.patientId) {
        mismatches++;
        const what = `${who(x)} and ${who(y)} belong to different patients`;
        if (!allowMismatch) {
          throw new InputError(
            `${what} (Patient ID "${x.patientId}" and "${y.patientId}"): the dose would combine two patients' images; give the inputs of one study, or ${OVERRIDE} if this is intended (a phantom)`,
          );
        }
        warnings.push(`${what} (their Patient IDs differ; the values are not repeated in the report); used anyway because of ${OVERRIDE}`);
      }
      const fx = x.frameOfReferenceUids, fy = y.frameOfReferenceUids;
      if (fx.length > 0 && fy.length > 0 && !fx.some((u) => fy.includes(u))) {
        mismatches++;
        const what = `${who(x)} and ${who(y)} are in different Frames of Reference (${fx.join(', ')} and ${fy.join(', ')})`;
        if (!allowMismatch) {
          throw new InputError(
            `${what}: their patient coordinates are not the same, so ${y.role === 'segmentation' || x.role === 'segmentation' ? 'the structures would land in the wrong place' : 'the images would be combined out of register'}; give inputs from one Frame of Reference (register and resample them first), or ${OVERRIDE} if they are known to share coordinates (a phantom)`,
          );
        }
        warnings.push(`${what}; used anyway, as if they shared patient coordinates, because of ${OVERRIDE}`);
      }
    }
  }
  return { warnings, provenance: { inputsCompared: inputs.length, mismatches, allowMismatchedDicom: allowMismatch } };
}
