/**
 * DICOM Segmentation writer (Segmentation IOD, PS3.3 A.51; Segmentation Image module C.8.20.2; Multi-frame Functional
 * Groups C.7.6.16): the reported structures of a case as one multi-frame SEG instance on the dose grid, beside the
 * RT Dose writer (./rtdose.ts) and the SEG reader (./seg.ts), so a PACS or viewer shows exactly what was counted.
 *
 * - One segment per structure that holds any voxel; frames are sparse: one per (segment, slice) with content, in
 *   segment order, slices ascending along row x column.
 * - BINARY: 1 bit per pixel, packed LSB first across frames (PS3.5 8.1.1); a voxel is in when its partial-volume
 *   weight is at least 0.5 (the same voxels as structures.seg.nrrd).
 * - FRACTIONAL: Segmentation Fractional Type PROBABILITY, 8 bit, Maximum Fractional Value 255, stored round(255 w):
 *   the weight comes back within 1/510.
 * - Shared functional groups: Pixel Measures, Plane Orientation. Per frame: Frame Content (Dimension Index Values:
 *   segment number, slice number), Plane Position, Segment Identification, and Derivation Image > Source Image
 *   referencing the source images' instances when the inputs were DICOM (Common Instance Reference module lists them).
 * - Segment codes (SNOMED CT, CID 7150 categories / CID 7151 types): see `segmentCodes`.
 *
 * UIDs are derived from a SHA-256 of the content (./uid.ts), so the same inputs give the same UIDs; with the same
 * `contentDateTime` they give the same bytes.
 */
import { InputError } from '../../errors.ts';
import { ENGINE_VERSION } from '../../version.ts';
import { indexToWorld, validateGeometry, type Geometry, type Vec3 } from '../../volume/geometry.ts';
import { DicomDataset } from './parser.ts';
import type { RtDoseFrameOfReference } from './rtdose.ts';
import { rgbToDicomLab } from './seg.ts';
import { SOP_CLASS, TAG } from './tags.ts';
import { Sha256, deterministicUid } from './uid.ts';
import type { DicomSeriesMeta } from './volume.ts';
import { formatDS, needsUtf8, put, writePart10 } from './writer.ts';

/** Tags of this writer that the shared dictionary (./tags.ts) does not hold; their VRs are given where they are put. */
const T = {
  ReferencedFrameNumber: 0x00081160, // IS
  DerivationCodeSequence: 0x00089215, // SQ
  PurposeOfReferenceCodeSequence: 0x0040a170, // SQ
  SegmentDescription: 0x00620006, // ST
  ContentDate: 0x00080023,
  ContentTime: 0x00080033,
  ReferencedInstanceSequence: 0x0008114a, // SQ
  StudiesContainingOtherReferencedInstancesSequence: 0x00081200, // SQ
} as const;

/** Segmentation Type written: BINARY (1 bit) or FRACTIONAL (8 bit probability). */
export type DicomSegType = 'BINARY' | 'FRACTIONAL';

/** A coded concept (PS3.3 Code Sequence Macro, table 8.8-1). */
export interface CodedConcept {
  readonly value: string;
  readonly scheme: string;
  readonly meaning: string;
}

/** Segment Algorithm Type (0062,0008), PS3.3 C.8.20.2.3. */
export type SegmentAlgorithmType = 'AUTOMATIC' | 'SEMIAUTOMATIC' | 'MANUAL';

/** One structure to write: its voxels on the grid as the dose pipeline holds them (ascending indices, weights in (0, 1]). */
export interface DicomSegStructure {
  readonly name: string;
  readonly voxelIndices: Uint32Array;
  readonly weights: Float32Array;
  /** Report role (liver, tumor, normal-liver, lung, perfused, other): chooses the segment's codes. */
  readonly role?: string;
  /**
   * Made by the engine (normal liver, a whole liver, split lesions): Segment Algorithm Type AUTOMATIC with this
   * engine's name. Otherwise the structure is an input one: `algorithmType` when known, else MANUAL.
   */
  readonly derived?: boolean;
  readonly algorithmType?: SegmentAlgorithmType;
  /** Segment Algorithm Name of an input structure made by an algorithm (SEMIAUTOMATIC/AUTOMATIC). */
  readonly algorithmName?: string;
  /** How the structure was made, for Segment Description (e.g. "derived: Liver minus Tumor"). */
  readonly description?: string;
  /** Display colour, sRGB 0..1. */
  readonly colorRgb?: readonly [number, number, number];
}

/** A source image instance a frame was derived from. */
export interface DicomSourceInstance {
  readonly sopClassUid: string;
  readonly sopInstanceUid: string;
  /** Image Position (Patient) of a single-frame instance [mm, LPS]: then it is referenced by the frames whose slab holds it. */
  readonly imagePositionPatient?: readonly [number, number, number];
}

/** A source image series (the activity image, the CT) the segmentation refers to. */
export interface DicomSegSource {
  readonly seriesInstanceUid: string;
  readonly studyInstanceUid?: string;
  readonly instances: readonly DicomSourceInstance[];
}

/** Options of `encodeDicomSeg`. */
export interface EncodeDicomSegOptions {
  /** Default: FRACTIONAL when any structure has a weight strictly between 0 and 1 (partial-volume voxels), else BINARY. */
  readonly segmentationType?: DicomSegType;
  /** Patient, study and Frame of Reference of the DICOM inputs (`rtDoseFrameOfReferenceFrom`); absent: a new study. */
  readonly identity?: RtDoseFrameOfReference;
  /** Source image series (DICOM inputs): referenced per frame and in the Common Instance Reference module. */
  readonly sources?: readonly DicomSegSource[];
  /** Default "SIRT structures". */
  readonly seriesDescription?: string;
  readonly seriesNumber?: number;
  /** Content Label (0070,0080): CS, upper case, at most 16 characters; default "SIRT_STRUCTURES". */
  readonly contentLabel?: string;
  /** Manufacturer (0008,0070); default "sirt-dosimetry". */
  readonly manufacturer?: string;
  /** UID root (digits and dots); default the 2.25 UUID root. */
  readonly uidRoot?: string;
  /** Mixed into the content hash, to make distinct UIDs for otherwise identical segmentations. */
  readonly deterministicSeed?: string;
  /** Content Date/Time (type 1 in the Multi-frame Functional Groups module) [UTC]; default the time of writing. */
  readonly contentDateTime?: Date;
}

/** What `encodeDicomSeg` wrote. */
export interface DicomSegResult {
  readonly bytes: Uint8Array;
  readonly segmentationType: DicomSegType;
  /** Segment number (1-based) and label of each structure written, in order. */
  readonly segments: ReadonlyArray<{ readonly number: number; readonly label: string; readonly category: CodedConcept; readonly type: CodedConcept; readonly algorithmType: SegmentAlgorithmType }>;
  /** Structures with no voxel to write (BINARY: none at least half inside; FRACTIONAL: none at least 1/510). */
  readonly omitted: readonly string[];
  readonly frameCount: number;
  readonly sopInstanceUid: string;
  readonly seriesInstanceUid: string;
  readonly studyInstanceUid: string;
  readonly frameOfReferenceUid: string;
}

const SCT = (value: string, meaning: string): CodedConcept => ({ value, scheme: 'SCT', meaning });
const DCM = (value: string, meaning: string): CodedConcept => ({ value, scheme: 'DCM', meaning });

/** SNOMED CT categories (CID 7150) and types (CID 7151/7152) by role and name. */
const CODES = {
  anatomical: SCT('123037004', 'Anatomical Structure'),
  morphologicallyAltered: SCT('49755003', 'Morphologically Altered Structure'),
  tissue: SCT('85756007', 'Tissue'),
  liver: SCT('10200004', 'Liver'),
  lung: SCT('39607008', 'Lung'),
  neoplasm: SCT('108369006', 'Neoplasm'),
} as const;

/**
 * The Segmented Property Category and Type codes of a structure (SNOMED CT, as dcmqi and highdicom use them):
 * tumour: (49755003 Morphologically Altered Structure, 108369006 Neoplasm); lung: (123037004 Anatomical Structure,
 * 39607008 Lung); liver, normal liver, perfused territory: (123037004, 10200004 Liver); anything else: (85756007
 * Tissue, 85756007 Tissue). The name decides first when it says what the structure is (tumour, tumor, lesion,
 * neoplasm, HCC, metastasis; lung; liver), so that a lung given in the liver role (a thoracic test study) is still
 * coded as lung; otherwise the report role decides.
 */
export function segmentCodes(role: string | undefined, name: string): { category: CodedConcept; type: CodedConcept } {
  const n = name.toLowerCase();
  const tumour = { category: CODES.morphologicallyAltered, type: CODES.neoplasm };
  const lung = { category: CODES.anatomical, type: CODES.lung };
  const liver = { category: CODES.anatomical, type: CODES.liver };
  if (/tumou?r|lesion|neoplas|hcc|metast/.test(n)) return tumour;
  if (/lung/.test(n)) return lung;
  if (/liver|hepat/.test(n)) return liver;
  switch (role) {
    case 'tumor': return tumour;
    case 'lung': return lung;
    case 'liver': case 'normal-liver': case 'perfused': return liver;
    default: return { category: CODES.tissue, type: CODES.tissue };
  }
}

function codeItem(c: CodedConcept): DicomDataset {
  const ds = new DicomDataset(true);
  put(ds, TAG.CodeValue, c.value);
  put(ds, TAG.CodingSchemeDesignator, c.scheme);
  put(ds, TAG.CodeMeaning, c.meaning);
  return ds;
}

function item(fill: (ds: DicomDataset) => void): DicomDataset {
  const ds = new DicomDataset(true);
  fill(ds);
  return ds;
}

const dot = (a: readonly number[], b: readonly number[]) => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];

/**
 * The source series of a case read from DICOM (activity and CT `DicomSeriesMeta`), for `EncodeDicomSegOptions.sources`.
 * Undefined entries (inputs that were not DICOM) are skipped.
 */
export function dicomSegSourcesFrom(...metas: Array<DicomSeriesMeta | undefined>): DicomSegSource[] {
  return metas
    .filter((m): m is DicomSeriesMeta => m !== undefined)
    .map((m) => ({ seriesInstanceUid: m.seriesInstanceUid, studyInstanceUid: m.studyInstanceUid, instances: m.instances.filter((i) => i.sopInstanceUid && i.sopClassUid) }));
}

/**
 * Encodes structures on one grid [voxel weights 0..1] as a DICOM Segmentation (explicit VR little endian, Part 10).
 * Throws InputError when no structure holds any voxel, or on a weight outside [0, 1]. The same inputs always give the
 * same bytes.
 */
export function encodeDicomSeg(geometry: Geometry, structures: readonly DicomSegStructure[], opts: EncodeDicomSegOptions = {}): DicomSegResult {
  const g = validateGeometry(geometry, 'segmentation grid');
  const [nx, ny, nz] = g.dims;
  const plane = nx * ny;
  const nVox = plane * nz;
  let partial = false;
  for (const s of structures) {
    if (s.voxelIndices.length !== s.weights.length) throw new InputError(`structure "${s.name}": ${s.voxelIndices.length} voxel indices but ${s.weights.length} weights`);
    for (let q = 0; q < s.weights.length; q++) {
      const w = s.weights[q];
      if (!(w >= 0 && w <= 1)) throw new InputError(`structure "${s.name}" has a voxel weight ${w} outside 0..1; cannot write it as a DICOM SEG`);
      if (s.voxelIndices[q] >= nVox) throw new InputError(`structure "${s.name}" has voxel index ${s.voxelIndices[q]} outside the ${nx}x${ny}x${nz} grid`);
      if (w > 0 && w < 1) partial = true;
    }
  }
  const type: DicomSegType = opts.segmentationType ?? (partial ? 'FRACTIONAL' : 'BINARY');
  const value = (w: number) => (type === 'BINARY' ? (w >= 0.5 ? 1 : 0) : Math.min(255, Math.round(255 * w)));

  // Slices along row x column: a left-handed grid is written with its slices in reverse order (as RT Dose).
  const r: Vec3 = [g.direction[0], g.direction[1], g.direction[2]];
  const c: Vec3 = [g.direction[3], g.direction[4], g.direction[5]];
  const kdir: Vec3 = [g.direction[6], g.direction[7], g.direction[8]];
  const nrm: Vec3 = [r[1] * c[2] - r[2] * c[1], r[2] * c[0] - r[0] * c[2], r[0] * c[1] - r[1] * c[0]];
  const reverse = dot(nrm, kdir) < 0;
  const sliceOrder = Array.from({ length: nz }, (_, m) => (reverse ? nz - 1 - m : m));

  // Each structure's planes with content: slice k -> plane of stored values.
  const segs: Array<{ s: DicomSegStructure; planes: Map<number, Uint8Array> }> = [];
  const omitted: string[] = [];
  for (const s of structures) {
    const planes = new Map<number, Uint8Array>();
    for (let q = 0; q < s.voxelIndices.length; q++) {
      const v = value(s.weights[q]);
      if (v === 0) continue;
      const idx = s.voxelIndices[q];
      const k = Math.floor(idx / plane);
      let p = planes.get(k);
      if (!p) planes.set(k, (p = new Uint8Array(plane)));
      p[idx - k * plane] = v;
    }
    if (planes.size === 0) omitted.push(s.name);
    else segs.push({ s, planes });
  }
  if (segs.length === 0) {
    throw new InputError(`none of the ${structures.length} structures holds a voxel ${type === 'BINARY' ? 'at least half inside' : 'with a weight of at least 1/510'}; there is nothing to write as a DICOM SEG`);
  }

  // Frames: segment by segment, slices ascending along the normal.
  const frames: Array<{ seg: number; k: number; m: number; plane: Uint8Array }> = [];
  segs.forEach(({ planes }, si) => {
    sliceOrder.forEach((k, m) => {
      const p = planes.get(k);
      if (p) frames.push({ seg: si + 1, k, m, plane: p });
    });
  });
  let pixels: Uint8Array;
  if (type === 'BINARY') {
    const bits = frames.length * plane;
    pixels = new Uint8Array(Math.ceil(bits / 8) + (Math.ceil(bits / 8) % 2));
    frames.forEach((fr, f) => {
      const base = f * plane;
      for (let p = 0; p < plane; p++) if (fr.plane[p]) pixels[(base + p) >> 3] |= 1 << ((base + p) & 7);
    });
  } else {
    pixels = new Uint8Array(frames.length * plane + ((frames.length * plane) % 2));
    frames.forEach((fr, f) => pixels.set(fr.plane, f * plane));
  }

  const fr = opts.identity ?? {};
  const h = new Sha256();
  h.update(pixels);
  h.update(JSON.stringify({ g, type, names: segs.map((x) => [x.s.name, x.s.role ?? '', x.s.derived ?? false]), frames: frames.map((x) => [x.seg, x.k]), fr, sources: opts.sources ?? [], seed: opts.deterministicSeed ?? '' }));
  const digest = h.digest();
  const uid = (purpose: string) => deterministicUid(digest, purpose, opts.uidRoot);
  const sopInstanceUid = uid('seg-instance');
  const seriesInstanceUid = uid('seg-series');
  const studyInstanceUid = fr.studyInstanceUid ?? uid('study');
  const frameOfReferenceUid = fr.frameOfReferenceUid ?? uid('frame-of-reference');
  const manufacturer = opts.manufacturer ?? 'sirt-dosimetry';
  const seriesDescription = opts.seriesDescription ?? 'SIRT structures';

  const ds = new DicomDataset(true);
  const texts = [fr.patientName, fr.patientId, seriesDescription, fr.studyDescription, manufacturer, fr.referringPhysicianName, ...segs.map((x) => x.s.name), ...segs.map((x) => x.s.description)];
  if (needsUtf8(...texts)) put(ds, TAG.SpecificCharacterSet, 'ISO_IR 192');
  // Segmentation Image module: Image Type DERIVED\PRIMARY (C.8.20.2.1)
  put(ds, TAG.ImageType, ['DERIVED', 'PRIMARY']);
  put(ds, TAG.SOPClassUID, SOP_CLASS.seg);
  put(ds, TAG.SOPInstanceUID, sopInstanceUid);
  put(ds, TAG.StudyDate, fr.studyDate ?? '');
  const when = (opts.contentDateTime ?? new Date()).toISOString();
  put(ds, T.ContentDate, when.slice(0, 10).replace(/-/g, ''), 'DA');
  put(ds, TAG.StudyTime, fr.studyTime ?? '');
  put(ds, T.ContentTime, when.slice(11, 19).replace(/:/g, ''), 'TM');
  put(ds, TAG.AccessionNumber, fr.accessionNumber ?? '');
  put(ds, TAG.Modality, 'SEG');
  put(ds, TAG.Manufacturer, manufacturer);
  put(ds, TAG.ReferringPhysicianName, fr.referringPhysicianName ?? '');
  if (fr.studyDescription) put(ds, TAG.StudyDescription, fr.studyDescription);
  put(ds, TAG.SeriesDescription, seriesDescription);
  // Enhanced General Equipment (C.7.5.2): all type 1
  put(ds, TAG.ManufacturerModelName, 'sirt-dosimetry');
  if (opts.sources?.length) put(ds, TAG.ReferencedSeriesSequence, commonInstanceReferences(opts.sources, studyInstanceUid));
  put(ds, TAG.PatientName, fr.patientName ?? '');
  put(ds, TAG.PatientID, fr.patientId ?? '');
  put(ds, TAG.PatientBirthDate, fr.patientBirthDate ?? '');
  put(ds, TAG.PatientSex, fr.patientSex ?? '');
  put(ds, TAG.DeviceSerialNumber, '0');
  put(ds, TAG.SoftwareVersions, ENGINE_VERSION);
  put(ds, TAG.StudyInstanceUID, studyInstanceUid);
  put(ds, TAG.SeriesInstanceUID, seriesInstanceUid);
  put(ds, TAG.StudyID, fr.studyId ?? '');
  put(ds, TAG.SeriesNumber, String(opts.seriesNumber ?? 2));
  put(ds, TAG.InstanceNumber, '1');
  put(ds, TAG.FrameOfReferenceUID, frameOfReferenceUid);
  put(ds, TAG.PositionReferenceIndicator, '');
  const studies = studiesOtherThan(opts.sources ?? [], studyInstanceUid);
  if (studies.length) put(ds, T.StudiesContainingOtherReferencedInstancesSequence, studies, 'SQ');
  // Multi-frame Dimension module (C.7.6.17): segment number, then position
  const dimOrg = uid('dimension-organization');
  put(ds, TAG.DimensionOrganizationSequence, [item((d) => put(d, TAG.DimensionOrganizationUID, dimOrg))]);
  put(ds, TAG.DimensionIndexSequence, [
    item((d) => {
      put(d, TAG.DimensionOrganizationUID, dimOrg);
      put(d, TAG.DimensionIndexPointer, TAG.ReferencedSegmentNumber);
      put(d, TAG.FunctionalGroupPointer, TAG.SegmentIdentificationSequence);
      put(d, TAG.DimensionDescriptionLabel, 'Segment Number');
    }),
    item((d) => {
      put(d, TAG.DimensionOrganizationUID, dimOrg);
      put(d, TAG.DimensionIndexPointer, TAG.ImagePositionPatient);
      put(d, TAG.FunctionalGroupPointer, TAG.PlanePositionSequence);
      put(d, TAG.DimensionDescriptionLabel, 'Image Position Patient');
    }),
  ]);
  put(ds, TAG.SamplesPerPixel, 1);
  put(ds, TAG.PhotometricInterpretation, 'MONOCHROME2');
  put(ds, TAG.NumberOfFrames, String(frames.length));
  put(ds, TAG.Rows, ny);
  put(ds, TAG.Columns, nx);
  const bits = type === 'BINARY' ? 1 : 8;
  put(ds, TAG.BitsAllocated, bits);
  put(ds, TAG.BitsStored, bits);
  put(ds, TAG.HighBit, bits - 1);
  put(ds, TAG.PixelRepresentation, 0);
  put(ds, TAG.LossyImageCompression, '00');
  put(ds, TAG.SegmentationType, type);
  if (type === 'FRACTIONAL') {
    put(ds, TAG.SegmentationFractionalType, 'PROBABILITY');
    put(ds, TAG.MaximumFractionalValue, 255);
  }
  const written: Array<DicomSegResult['segments'][number]> = [];
  put(
    ds,
    TAG.SegmentSequence,
    segs.map(({ s }, si) => {
      const codes = segmentCodes(s.role, s.name);
      const algorithmType: SegmentAlgorithmType = s.derived ? 'AUTOMATIC' : s.algorithmType ?? 'MANUAL';
      const algorithmName = s.derived ? 'sirt-dosimetry' : s.algorithmName;
      if (algorithmType !== 'MANUAL' && !algorithmName) throw new InputError(`structure "${s.name}": a ${algorithmType} segment needs the name of its algorithm (algorithmName)`);
      written.push({ number: si + 1, label: s.name, category: codes.category, type: codes.type, algorithmType });
      return item((d) => {
        put(d, TAG.SegmentedPropertyCategoryCodeSequence, [codeItem(codes.category)]);
        put(d, TAG.SegmentNumber, si + 1);
        put(d, TAG.SegmentLabel, s.name.slice(0, 64));
        if (s.description) put(d, T.SegmentDescription, s.description.slice(0, 1024), 'ST');
        put(d, TAG.SegmentAlgorithmType, algorithmType);
        if (algorithmType !== 'MANUAL') put(d, TAG.SegmentAlgorithmName, algorithmName!.slice(0, 64));
        if (s.colorRgb) put(d, TAG.RecommendedDisplayCIELabValue, rgbToDicomLab(s.colorRgb), 'US');
        put(d, TAG.SegmentedPropertyTypeCodeSequence, [codeItem(codes.type)]);
      });
    }),
  );
  put(ds, TAG.SegmentsOverlap, segs.length > 1 ? 'UNDEFINED' : 'NO');
  put(ds, TAG.ContentLabel, (opts.contentLabel ?? 'SIRT_STRUCTURES').toUpperCase().replace(/[^A-Z0-9_ ]/g, '_').slice(0, 16));
  put(ds, TAG.ContentDescription, `${type === 'BINARY' ? 'voxels at least half inside' : 'partial-volume weights (PROBABILITY)'} on the dose grid`);
  put(ds, TAG.ContentCreatorName, '');
  // Multi-frame Functional Groups (C.7.6.16)
  put(ds, TAG.SharedFunctionalGroupsSequence, [
    item((sh) => {
      put(sh, TAG.PixelMeasuresSequence, [
        item((pm) => {
          put(pm, TAG.SliceThickness, formatDS(g.spacingMm[2]));
          put(pm, TAG.PixelSpacing, [formatDS(g.spacingMm[1]), formatDS(g.spacingMm[0])]);
          put(pm, TAG.SpacingBetweenSlices, formatDS(g.spacingMm[2]));
        }),
      ]);
      put(sh, TAG.PlaneOrientationSequence, [item((po) => put(po, TAG.ImageOrientationPatient, [...r, ...c].map(formatDS)))]);
    }),
  ]);
  const slabSources = frameSourcesBySlice(g, nrm, opts.sources ?? []);
  put(
    ds,
    TAG.PerFrameFunctionalGroupsSequence,
    frames.map((f) =>
      item((pf) => {
        const src = slabSources(f.k);
        if (src.length) {
          put(pf, TAG.DerivationImageSequence, [
            item((di) => {
              put(di, TAG.SourceImageSequence, src.map((s) => item((si) => {
                put(si, TAG.ReferencedSOPClassUID, s.sopClassUid);
                put(si, TAG.ReferencedSOPInstanceUID, s.sopInstanceUid);
                put(si, T.PurposeOfReferenceCodeSequence, [codeItem(DCM('121322', 'Source image for image processing operation'))], 'SQ');
              })));
              put(di, T.DerivationCodeSequence, [codeItem(DCM('113076', 'Segmentation'))], 'SQ');
            }),
          ]);
        }
        put(pf, TAG.FrameContentSequence, [item((fc) => put(fc, TAG.DimensionIndexValues, [f.seg, f.m + 1]))]);
        const ipp = indexToWorld(g, 0, 0, f.k) as unknown as Vec3;
        put(pf, TAG.PlanePositionSequence, [item((pp) => put(pp, TAG.ImagePositionPatient, [ipp[0], ipp[1], ipp[2]].map(formatDS)))]);
        put(pf, TAG.SegmentIdentificationSequence, [item((sid) => put(sid, TAG.ReferencedSegmentNumber, f.seg))]);
      }),
    ),
  );
  put(ds, TAG.PixelData, pixels, 'OB');
  return {
    bytes: writePart10(ds),
    segmentationType: type,
    segments: written,
    omitted,
    frameCount: frames.length,
    sopInstanceUid,
    seriesInstanceUid,
    studyInstanceUid,
    frameOfReferenceUid,
  };
}

/**
 * The source instances of each slice k: single-frame instances whose plane lies within the slab of slice k (half a
 * slice spacing either side along the normal; a CT finer than the dose grid gives several), and every multi-frame
 * instance (a multi-frame NM reconstruction holds all slices).
 */
function frameSourcesBySlice(g: Geometry, nrm: Vec3, sources: readonly DicomSegSource[]): (k: number) => DicomSourceInstance[] {
  const all = sources.flatMap((s) => s.instances);
  const multi = all.filter((i) => !i.imagePositionPatient);
  const single = all.filter((i) => i.imagePositionPatient);
  const o = indexToWorld(g, 0, 0, 0) as unknown as Vec3;
  const kdir: Vec3 = [g.direction[6], g.direction[7], g.direction[8]];
  const step = dot(kdir, nrm) * g.spacingMm[2]; // signed distance between slices along the normal [mm]
  const half = Math.abs(step) / 2;
  return (k) => {
    const d = dot(o, nrm) + k * step;
    const near = single.filter((i) => {
      const e = dot(i.imagePositionPatient!, nrm) - d;
      return e >= -half && e < half;
    });
    return [...multi, ...near];
  };
}

/** Common Instance Reference module (C.12.2): the referenced series of the SEG's own study. */
function commonInstanceReferences(sources: readonly DicomSegSource[], studyUid: string): DicomDataset[] {
  return sources
    .filter((s) => !s.studyInstanceUid || s.studyInstanceUid === studyUid)
    .map((s) => seriesItem(s));
}

function seriesItem(s: DicomSegSource): DicomDataset {
  return item((d) => {
    put(d, T.ReferencedInstanceSequence, s.instances.map((i) => item((ri) => {
      put(ri, TAG.ReferencedSOPClassUID, i.sopClassUid);
      put(ri, TAG.ReferencedSOPInstanceUID, i.sopInstanceUid);
    })), 'SQ');
    put(d, TAG.SeriesInstanceUID, s.seriesInstanceUid);
  });
}

/** Studies Containing Other Referenced Instances Sequence: sources from another study than the SEG's. */
function studiesOtherThan(sources: readonly DicomSegSource[], studyUid: string): DicomDataset[] {
  const other = new Map<string, DicomSegSource[]>();
  for (const s of sources) {
    if (!s.studyInstanceUid || s.studyInstanceUid === studyUid) continue;
    other.set(s.studyInstanceUid, [...(other.get(s.studyInstanceUid) ?? []), s]);
  }
  return [...other.entries()].map(([uid, list]) =>
    item((d) => {
      put(d, TAG.ReferencedSeriesSequence, list.map(seriesItem));
      put(d, TAG.StudyInstanceUID, uid);
    }),
  );
}
