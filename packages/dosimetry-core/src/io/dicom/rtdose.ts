/**
 * DICOM RT Dose writer (RT Dose IOD, PS3.3 A.18; RT Dose module C.8.8.3). The dose grid is written as one multi-frame
 * instance: frames along the slice normal (Image Orientation (Patient) row x column), Grid Frame Offset Vector relative
 * to the first frame, unsigned integer pixel data times Dose Grid Scaling = dose in Gy.
 *
 * Quantisation: DoseGridScaling s = max dose / (2^bits - 1), stored value round(D / s); the error per voxel is at most
 * s / 2 (16 bit: max / 131070, 7.6e-6 of the maximum). 16 bit is the default because dciodvfy crashes on 32-bit pixel data.
 * UIDs are derived from a SHA-256 of the pixel data, the geometry and the options, so the same inputs give the same bytes.
 */
import { InputError } from '../../errors.ts';
import { indexToWorld, validateGeometry, type Vec3 } from '../../volume/geometry.ts';
import type { Volume } from '../../volume/volume.ts';
import type { DicomSeriesMeta } from './volume.ts';
import { DicomDataset } from './parser.ts';
import { SOP_CLASS, TAG } from './tags.ts';
import { Sha256, deterministicUid } from './uid.ts';
import { formatDS, needsUtf8, put, writePart10 } from './writer.ts';

/** Patient and study of the image the dose was computed from (from the activity or CT series' metadata). */
export interface RtDoseFrameOfReference {
  readonly frameOfReferenceUid?: string;
  readonly studyInstanceUid?: string;
  readonly patientId?: string;
  readonly patientName?: string;
  readonly patientBirthDate?: string;
  readonly patientSex?: string;
  readonly studyDate?: string;
  readonly studyTime?: string;
  readonly studyId?: string;
  readonly studyDescription?: string;
  readonly accessionNumber?: string;
  readonly referringPhysicianName?: string;
}

/**
 * The patient, study and Frame of Reference of a series read by `readDicomVolume`, for an RT Dose computed on it, so
 * that a planning system or PACS files the dose with the images and overlays it without registration.
 */
export function rtDoseFrameOfReferenceFrom(meta: DicomSeriesMeta): RtDoseFrameOfReference {
  return {
    frameOfReferenceUid: meta.frameOfReferenceUid,
    studyInstanceUid: meta.studyInstanceUid,
    patientId: meta.patient.id,
    patientName: meta.patient.name,
    patientBirthDate: meta.patient.birthDate,
    patientSex: meta.patient.sex,
    studyDate: meta.studyDate,
    studyTime: meta.studyTime,
    studyId: meta.study.id,
    studyDescription: meta.study.description,
    accessionNumber: meta.study.accessionNumber,
    referringPhysicianName: meta.study.referringPhysicianName,
  };
}

/** Dose Summation Type defined terms (PS3.3 C.8.8.3.1). */
export type DoseSummationType = 'PLAN' | 'MULTI_PLAN' | 'PLAN_OVERVIEW' | 'FRACTION' | 'BEAM' | 'BRACHY' | 'FRACTION_SESSION' | 'BEAM_SESSION' | 'BRACHY_SESSION' | 'CONTROL_POINT' | 'RECORD';

/** Options of `encodeRtDose`. */
export interface EncodeRtDoseOptions {
  readonly frameOfReference?: RtDoseFrameOfReference;
  /**
   * Default 'PLAN' when `referencedRtPlan` is given. Without a plan, PLAN (like MULTI_PLAN, FRACTION, BEAM, BRACHY)
   * requires the Referenced RT Plan Sequence (type 1C, PS3.3 C.8.8.3) and dciodvfy flags its absence, so the
   * default is then 'PLAN_OVERVIEW', which needs no reference.
   */
  readonly doseSummationType?: DoseSummationType;
  /** RT Plan the dose belongs to; written as Referenced RT Plan Sequence (300C,0002) when given. */
  readonly referencedRtPlan?: { readonly sopInstanceUid: string; readonly sopClassUid?: string };
  /** Default "SIRT absorbed dose". */
  readonly seriesDescription?: string;
  readonly seriesNumber?: number;
  /** Dose Comment (3004,0006), e.g. "Y90 LDM". */
  readonly doseComment?: string;
  /** UID root (digits and dots); default the 2.25 UUID root. */
  readonly uidRoot?: string;
  /** Mixed into the content hash, to make distinct UIDs for otherwise identical doses. */
  readonly deterministicSeed?: string;
  /** 16 (default) or 32 bits per voxel. */
  readonly bitsAllocated?: 16 | 32;
  /** Manufacturer (0008,0070); default "sirt-dosimetry". */
  readonly manufacturer?: string;
}

/** Dose Grid Scaling and quantisation error for a dose volume. */
export interface RtDoseQuantisation {
  /** Dose Grid Scaling (3004,000E) as written [Gy per stored unit]. */
  readonly doseGridScaling: number;
  /** Largest possible |written - true| per voxel [Gy] = doseGridScaling / 2. */
  readonly maxErrorGy: number;
}

/** The Dose Grid Scaling `encodeRtDose` uses: max / (2^bits - 1), rounded up to a 16-character decimal string. */
export function rtDoseQuantisation(maxDoseGy: number, bitsAllocated: 16 | 32 = 16): RtDoseQuantisation {
  const top = 2 ** bitsAllocated - 1;
  if (!(maxDoseGy > 0)) return { doseGridScaling: 1, maxErrorGy: 0 };
  let s = maxDoseGy / top;
  let str = formatDS(s);
  while (Number(str) * top < maxDoseGy) {
    s *= 1 + 1e-10;
    str = formatDS(s);
  }
  const scaling = Number(str);
  return { doseGridScaling: scaling, maxErrorGy: scaling / 2 };
}

/**
 * Encodes a dose volume [Gy] as a DICOM RT Dose file (explicit VR little endian, Part 10 with File Meta header).
 * Negative values within -1e-6 of the maximum (round-off of convolutions) are written as 0; larger negative or
 * non-finite values are an InputError. Returns the file's bytes; the same inputs always give the same bytes.
 */
export function encodeRtDose(dose: Volume<Float32Array>, opts: EncodeRtDoseOptions = {}): Uint8Array {
  const g = validateGeometry(dose.geometry, 'dose grid');
  const bits = opts.bitsAllocated ?? 16;
  if (bits !== 16 && bits !== 32) throw new InputError(`RT Dose bits allocated must be 16 or 32, got ${bits}`);
  const [nx, ny, nz] = g.dims;
  let max = 0;
  let min = 0;
  for (const v of dose.data) {
    if (!Number.isFinite(v)) throw new InputError('the dose volume holds non-finite values (NaN or infinity); cannot write RT Dose');
    if (v > max) max = v;
    if (v < min) min = v;
  }
  if (min < -1e-6 * Math.max(max, 1e-30) && min < 0) {
    throw new InputError(`the dose volume holds negative doses down to ${min} Gy; RT Dose stores unsigned values (clip or fix the dose first)`);
  }
  const q = rtDoseQuantisation(max, bits);
  const r: Vec3 = [g.direction[0], g.direction[1], g.direction[2]];
  const c: Vec3 = [g.direction[3], g.direction[4], g.direction[5]];
  const k: Vec3 = [g.direction[6], g.direction[7], g.direction[8]];
  const nrm: Vec3 = [r[1] * c[2] - r[2] * c[1], r[2] * c[0] - r[0] * c[2], r[0] * c[1] - r[1] * c[0]];
  // Frames must advance along row x column; a left-handed grid is written with its slices in reverse order.
  const reverse = nrm[0] * k[0] + nrm[1] * k[1] + nrm[2] * k[2] < 0;
  const plane = nx * ny;
  const pixels = bits === 16 ? new Uint16Array(plane * nz) : new Uint32Array(plane * nz);
  const top = 2 ** bits - 1;
  for (let m = 0; m < nz; m++) {
    const src = (reverse ? nz - 1 - m : m) * plane;
    const dst = m * plane;
    for (let i = 0; i < plane; i++) {
      const v = dose.data[src + i];
      pixels[dst + i] = v <= 0 ? 0 : Math.min(top, Math.round(v / q.doseGridScaling));
    }
  }
  const firstFrame = indexToWorld(g, 0, 0, reverse ? nz - 1 : 0) as unknown as Vec3;
  const dz = g.spacingMm[2];
  const fr = opts.frameOfReference ?? {};
  const seriesDescription = opts.seriesDescription ?? 'SIRT absorbed dose';

  const h = new Sha256();
  h.update(new Uint8Array(pixels.buffer, pixels.byteOffset, pixels.byteLength));
  h.update(JSON.stringify({ g, scaling: q.doseGridScaling, bits, opts: { ...opts }, seed: opts.deterministicSeed ?? '' }));
  const digest = h.digest();
  const uid = (purpose: string) => deterministicUid(digest, purpose, opts.uidRoot);
  const sopInstanceUid = uid('rtdose-instance');

  const ds = new DicomDataset(true);
  const texts = [fr.patientName, fr.patientId, seriesDescription, fr.studyDescription, opts.doseComment, opts.manufacturer, fr.referringPhysicianName];
  if (needsUtf8(...texts)) put(ds, TAG.SpecificCharacterSet, 'ISO_IR 192');
  put(ds, TAG.SOPClassUID, SOP_CLASS.rtDose);
  put(ds, TAG.SOPInstanceUID, sopInstanceUid);
  put(ds, TAG.StudyDate, fr.studyDate ?? '');
  put(ds, TAG.StudyTime, fr.studyTime ?? '');
  put(ds, TAG.AccessionNumber, fr.accessionNumber ?? '');
  put(ds, TAG.Modality, 'RTDOSE');
  put(ds, TAG.Manufacturer, opts.manufacturer ?? 'sirt-dosimetry');
  put(ds, TAG.ReferringPhysicianName, fr.referringPhysicianName ?? '');
  if (fr.studyDescription) put(ds, TAG.StudyDescription, fr.studyDescription);
  put(ds, TAG.SeriesDescription, seriesDescription);
  put(ds, TAG.OperatorsName, '');
  put(ds, TAG.PatientName, fr.patientName ?? '');
  put(ds, TAG.PatientID, fr.patientId ?? '');
  put(ds, TAG.PatientBirthDate, fr.patientBirthDate ?? '');
  put(ds, TAG.PatientSex, fr.patientSex ?? '');
  put(ds, TAG.SliceThickness, formatDS(dz));
  put(ds, TAG.StudyInstanceUID, fr.studyInstanceUid ?? uid('study'));
  put(ds, TAG.SeriesInstanceUID, uid('rtdose-series'));
  put(ds, TAG.StudyID, fr.studyId ?? '');
  put(ds, TAG.SeriesNumber, String(opts.seriesNumber ?? 1));
  put(ds, TAG.InstanceNumber, '1');
  put(ds, TAG.ImagePositionPatient, firstFrame.map(formatDS));
  put(ds, TAG.ImageOrientationPatient, [...r, ...c].map(formatDS));
  put(ds, TAG.FrameOfReferenceUID, fr.frameOfReferenceUid ?? uid('frame-of-reference'));
  put(ds, TAG.PositionReferenceIndicator, '');
  put(ds, TAG.SamplesPerPixel, 1);
  put(ds, TAG.PhotometricInterpretation, 'MONOCHROME2');
  put(ds, TAG.NumberOfFrames, String(nz));
  put(ds, TAG.FrameIncrementPointer, TAG.GridFrameOffsetVector);
  put(ds, TAG.Rows, ny);
  put(ds, TAG.Columns, nx);
  put(ds, TAG.PixelSpacing, [formatDS(g.spacingMm[1]), formatDS(g.spacingMm[0])]);
  put(ds, TAG.BitsAllocated, bits);
  put(ds, TAG.BitsStored, bits);
  put(ds, TAG.HighBit, bits - 1);
  put(ds, TAG.PixelRepresentation, 0);
  put(ds, TAG.DoseUnits, 'GY');
  put(ds, TAG.DoseType, 'PHYSICAL');
  if (opts.doseComment) put(ds, TAG.DoseComment, opts.doseComment);
  const summation = opts.doseSummationType ?? (opts.referencedRtPlan ? 'PLAN' : 'PLAN_OVERVIEW');
  const needsPlan = ['PLAN', 'MULTI_PLAN', 'FRACTION', 'BEAM', 'BRACHY', 'FRACTION_SESSION', 'BEAM_SESSION', 'BRACHY_SESSION', 'CONTROL_POINT'];
  if (needsPlan.includes(summation) && !opts.referencedRtPlan) {
    throw new InputError(`Dose Summation Type ${summation} requires the RT Plan the dose belongs to (referencedRtPlan); give it, or use PLAN_OVERVIEW`);
  }
  put(ds, TAG.DoseSummationType, summation);
  put(ds, TAG.GridFrameOffsetVector, Array.from({ length: nz }, (_, m) => formatDS(m * dz)));
  put(ds, TAG.DoseGridScaling, formatDS(q.doseGridScaling));
  if (opts.referencedRtPlan) {
    const item = new DicomDataset(true);
    put(item, TAG.ReferencedSOPClassUID, opts.referencedRtPlan.sopClassUid ?? '1.2.840.10008.5.1.4.1.1.481.5');
    put(item, TAG.ReferencedSOPInstanceUID, opts.referencedRtPlan.sopInstanceUid);
    put(ds, TAG.ReferencedRTPlanSequence, [item]);
  }
  put(ds, TAG.PixelData, pixels, 'OW');
  return writePart10(ds);
}
