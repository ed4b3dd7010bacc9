/**
 * Encapsulated PDF (Encapsulated PDF IOD, PS3.3 A.45.1; Encapsulated Document module C.24.2; SC Equipment C.8.6.1):
 * the case's report.pdf as a DICOM object of the study it was computed from, so that a PACS (DICOMweb STOW-RS, the
 * `--store` of the CLI) files it with the images. Modality DOC; Conversion Type WSD (workstation).
 *
 * UIDs are derived from a SHA-256 of the PDF and the identity (./uid.ts), so the same inputs give the same bytes.
 */
import { InputError } from '../../errors.ts';
import { DicomDataset } from './parser.ts';
import type { RtDoseFrameOfReference } from './rtdose.ts';
import { SOP_CLASS, TAG } from './tags.ts';
import { Sha256, deterministicUid } from './uid.ts';
import { needsUtf8, put, writePart10 } from './writer.ts';

/** Tags of the Encapsulated Document module (PS3.6), with their VRs given where they are put. */
const T = {
  ConversionType: 0x00080064, // CS
  ContentDate: 0x00080023, // DA
  ContentTime: 0x00080033, // TM
  AcquisitionDateTime: 0x0008002a, // DT
  DocumentTitle: 0x00420010, // ST
  EncapsulatedDocument: 0x00420011, // OB
  MIMETypeOfEncapsulatedDocument: 0x00420012, // LO
  EncapsulatedDocumentLength: 0x00420015, // UL
  ConceptNameCodeSequence: 0x0040a043, // SQ
  SourceInstanceSequence: 0x00420013, // SQ
} as const;

/** Options of `encodeEncapsulatedPdf`. */
export interface EncodeEncapsulatedPdfOptions {
  /** Patient, study (and Frame of Reference, unused here) of the case's DICOM inputs; absent: a new study. */
  readonly identity?: RtDoseFrameOfReference;
  /** Document Title (0042,0010); default "SIRT dosimetry report". */
  readonly documentTitle?: string;
  /** Default "SIRT dosimetry report". */
  readonly seriesDescription?: string;
  readonly seriesNumber?: number;
  /** Manufacturer (0008,0070); default "sirt-dosimetry". */
  readonly manufacturer?: string;
  /** Instances the report was made from (e.g. the SEG and RT Dose written beside it): Source Instance Sequence. */
  readonly sourceInstances?: ReadonlyArray<{ readonly sopClassUid: string; readonly sopInstanceUid: string }>;
  /** UID root (digits and dots); default the 2.25 UUID root. */
  readonly uidRoot?: string;
}

/** What `encodeEncapsulatedPdf` wrote. */
export interface EncapsulatedPdfResult {
  readonly bytes: Uint8Array;
  readonly sopInstanceUid: string;
  readonly seriesInstanceUid: string;
  readonly studyInstanceUid: string;
}

/**
 * Wraps PDF bytes as a DICOM Encapsulated PDF (explicit VR little endian, Part 10). Throws InputError when the bytes
 * are not a PDF (no "%PDF-" header). The PDF is stored as is (padded with one 0 byte to an even length, PS3.3
 * C.24.2.1; Encapsulated Document Length gives its real length).
 */
export function encodeEncapsulatedPdf(pdf: Uint8Array, opts: EncodeEncapsulatedPdfOptions = {}): EncapsulatedPdfResult {
  if (pdf.length < 5 || new TextDecoder().decode(pdf.subarray(0, 5)) !== '%PDF-') {
    throw new InputError('the bytes to encapsulate are not a PDF (they do not start with "%PDF-"); give the report.pdf file');
  }
  const fr = opts.identity ?? {};
  const title = opts.documentTitle ?? 'SIRT dosimetry report';
  const seriesDescription = opts.seriesDescription ?? 'SIRT dosimetry report';
  const manufacturer = opts.manufacturer ?? 'sirt-dosimetry';
  const digest = new Sha256().update(pdf).update(JSON.stringify({ fr, title, seriesDescription, s: opts.sourceInstances ?? [] })).digest();
  const uid = (purpose: string) => deterministicUid(digest, purpose, opts.uidRoot);
  const sopInstanceUid = uid('pdf-instance');
  const seriesInstanceUid = uid('pdf-series');
  const studyInstanceUid = fr.studyInstanceUid ?? uid('study');

  const ds = new DicomDataset(true);
  if (needsUtf8(fr.patientName, fr.patientId, title, seriesDescription, fr.studyDescription, manufacturer, fr.referringPhysicianName)) put(ds, TAG.SpecificCharacterSet, 'ISO_IR 192');
  put(ds, TAG.SOPClassUID, SOP_CLASS.encapsulatedPdf);
  put(ds, TAG.SOPInstanceUID, sopInstanceUid);
  put(ds, TAG.StudyDate, fr.studyDate ?? '');
  put(ds, T.ContentDate, fr.studyDate ?? '', 'DA');
  put(ds, T.AcquisitionDateTime, '', 'DT');
  put(ds, TAG.StudyTime, fr.studyTime ?? '');
  put(ds, T.ContentTime, fr.studyTime ?? '', 'TM');
  put(ds, TAG.AccessionNumber, fr.accessionNumber ?? '');
  put(ds, TAG.Modality, 'DOC');
  put(ds, T.ConversionType, 'WSD', 'CS');
  put(ds, TAG.Manufacturer, manufacturer);
  put(ds, TAG.ReferringPhysicianName, fr.referringPhysicianName ?? '');
  if (fr.studyDescription) put(ds, TAG.StudyDescription, fr.studyDescription);
  put(ds, TAG.SeriesDescription, seriesDescription);
  put(ds, TAG.PatientName, fr.patientName ?? '');
  put(ds, TAG.PatientID, fr.patientId ?? '');
  put(ds, TAG.PatientBirthDate, fr.patientBirthDate ?? '');
  put(ds, TAG.PatientSex, fr.patientSex ?? '');
  put(ds, TAG.StudyInstanceUID, studyInstanceUid);
  put(ds, TAG.SeriesInstanceUID, seriesInstanceUid);
  put(ds, TAG.StudyID, fr.studyId ?? '');
  put(ds, TAG.SeriesNumber, String(opts.seriesNumber ?? 3));
  put(ds, TAG.InstanceNumber, '1');
  put(ds, TAG.BurnedInAnnotation, 'YES');
  put(ds, T.ConceptNameCodeSequence, [], 'SQ');
  put(ds, T.DocumentTitle, title, 'ST');
  if (opts.sourceInstances?.length) {
    put(
      ds,
      T.SourceInstanceSequence,
      opts.sourceInstances.map((s) => {
        const it = new DicomDataset(true);
        put(it, TAG.ReferencedSOPClassUID, s.sopClassUid);
        put(it, TAG.ReferencedSOPInstanceUID, s.sopInstanceUid);
        return it;
      }),
      'SQ',
    );
  }
  put(ds, T.MIMETypeOfEncapsulatedDocument, 'application/pdf', 'LO');
  put(ds, T.EncapsulatedDocumentLength, pdf.length, 'UL');
  put(ds, T.EncapsulatedDocument, pdf, 'OB');
  return { bytes: writePart10(ds), sopInstanceUid, seriesInstanceUid, studyInstanceUid };
}
