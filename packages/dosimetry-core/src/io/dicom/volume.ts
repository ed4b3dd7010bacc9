/**
 * DICOM image series to a Volume in LPS millimetres. Instances are grouped by Series Instance UID; slices (single-frame
 * files, or frames of multi-frame NM, enhanced and RT Dose objects) are sorted by their position along the slice normal
 * (Image Position (Patient) . (row x column direction), PS3.3 C.7.6.2.1.1), never by file name or Instance Number.
 * DICOM patient coordinates are already LPS, so no axis is flipped.
 */
import { FormatError, InputError } from '../../errors.ts';
import type { Geometry, Mat3ColMajor, Vec3 } from '../../volume/geometry.ts';
import { makeVolume, type Volume } from '../../volume/volume.ts';
import { type DicomDateTime, dicomDT, dicomDateTime, listDicomFiles, loadDicomFile } from './files.ts';
import type { DicomDataset, DicomFile } from './parser.ts';
import { mosaicEvidence } from './mosaic.ts';
import { type LossyCompression, decodeCompressedFrames } from './codec.ts';
import { type PixelFormat, frameStoredValues, pixelFormat } from './pixels.ts';
import { SOP_CLASS, TAG } from './tags.ts';

/** Modalities `readDicomVolume` can be asked for. */
export type DicomVolumeModality = 'NM' | 'PT' | 'CT' | 'MR' | 'RTDOSE';

/** Options of `readDicomVolume`. */
export interface ReadDicomVolumeOptions {
  /** Series Instance UID to read when the path holds several image series. */
  readonly seriesUid?: string;
  /**
   * Only consider series of this modality, or of any of these (e.g. 'CT', or ['NM', 'PT'] for an activity image, from a
   * folder holding the whole study).
   */
  readonly modality?: DicomVolumeModality | readonly DicomVolumeModality[];
  /** How the caller chooses a series, named in the error that lists several (default "--series UID"). */
  readonly seriesOption?: string;
  /**
   * Resample a series with gantry tilt (sheared slices) or uneven slice spacing onto a regular grid (bilinear in-plane
   * shift, linear along the normal), with a warning. Default false: such series are refused with a FormatError.
   */
  readonly allowResample?: boolean;
  /**
   * Files already read and parsed (e.g. dropped in the browser, where there is no file system); `path` then only names
   * them in messages. Default: the DICOM files found at `path`.
   */
  readonly files?: ReadonlyArray<DicomFile & { path: string }>;
}

/** Timing and decay-correction facts of an emission series (NM, PT), for carrying activity to implant time. */
export interface DicomEmissionTiming {
  /** Units (0054,1001) as stored, e.g. "BQML", "CNTS"; NM objects have none (counts). */
  readonly unitsAttribute?: string;
  /** Decay Correction (0054,1102): START (to the series reference time), ADMIN (to administration), NONE. */
  readonly decayCorrection?: string;
  /** Corrected Image (0028,0051), e.g. ["DECY", "ATTN", "SCAT"]. */
  readonly correctedImage: readonly string[];
  readonly seriesDateTime?: DicomDateTime;
  /** Earliest Acquisition Date/Time of the series' instances. */
  readonly acquisitionDateTime?: DicomDateTime;
  /** Radiopharmaceutical Start Date Time (0018,1078), or Start Time (0018,1072) on the series/study date. */
  readonly injectionDateTime?: DicomDateTime;
  /** Radionuclide Half Life (0018,1075) [s]. */
  readonly halfLifeS?: number;
  /** Radionuclide Total Dose (0018,1074) as activity administered [Bq]: stored in MBq by NM (PS3.3 C.8.4.10), Bq by PET (C.8.9.2). */
  readonly administeredActivityBq?: number;
  readonly radiopharmaceutical?: string;
  /** Radionuclide Code Sequence meaning, e.g. "^99m^Technetium" or "Yttrium^90^". */
  readonly radionuclide?: string;
  /**
   * The moment the voxel values refer to (activity at that time): the series time for START, the administration for
   * ADMIN, the acquisition start for NONE and for NM counts. Undefined when the file does not say (see `note`).
   */
  readonly activityReferenceDateTime?: DicomDateTime;
  /** How the values relate to time, or why the reference cannot be found; always set. */
  readonly note: string;
}

/** What was read along with the voxels. */
export interface DicomSeriesMeta {
  readonly modality: string;
  readonly sopClassUid: string;
  readonly seriesInstanceUid: string;
  readonly studyInstanceUid?: string;
  readonly frameOfReferenceUid?: string;
  readonly seriesDescription?: string;
  readonly seriesNumber?: number;
  readonly studyDate?: string;
  readonly studyTime?: string;
  readonly patient: { readonly name?: string; readonly id?: string; readonly birthDate?: string; readonly sex?: string };
  /** General Study module attributes other than the UID and date/time (copied into derived objects such as RT Dose). */
  readonly study: { readonly id?: string; readonly accessionNumber?: string; readonly description?: string; readonly referringPhysicianName?: string };
  /** SOP Class and Instance UIDs of the series' instances (for references from derived objects), in file order. */
  readonly instances: ReadonlyArray<{
    readonly sopClassUid: string;
    readonly sopInstanceUid: string;
    /** Image Position (Patient) of a single-frame instance [mm, LPS] (absent for multi-frame ones): for per-frame references. */
    readonly imagePositionPatient?: readonly [number, number, number];
  }>;
  /** Unit of the voxel values: "HU" (CT after rescale), "BQML", "CNTS", "counts" (NM), "GY" (RT Dose) or as stored. */
  readonly units: string;
  /** The same as an activity unit of the CLI, when it is one ('bq-per-ml' for BQML, 'counts' for NM and CNTS). */
  readonly activityUnit?: 'bq-per-ml' | 'counts';
  /** Rescale Slope/Intercept (or Dose Grid Scaling) applied to the stored values; ranges over the slices. */
  readonly rescale: { readonly applied: boolean; readonly slope: readonly [number, number]; readonly intercept: readonly [number, number]; readonly type?: string };
  /** NM and PT only. */
  readonly emission?: DicomEmissionTiming;
  readonly transferSyntaxUid: string;
  /** Compressed pixel data (JPEG, JPEG-LS, JPEG 2000) decoded by the codec (codec.ts): whether it was lossy, and how that is known. */
  readonly compression?: LossyCompression;
  readonly instanceCount: number;
  readonly sliceCount: number;
  /** Things the reader noticed and worked around (resampling, ignored energy windows, character sets). */
  readonly warnings: string[];
}

/** One 2-D plane of the volume, before sorting. */
interface Plane {
  readonly ipp: Vec3;
  readonly row: Vec3;
  readonly col: Vec3;
  readonly rows: number;
  readonly cols: number;
  /** Pixel Spacing: [between rows (along the column direction), between columns (along the row direction)] [mm]. */
  readonly pixelSpacing: readonly [number, number];
  readonly slope: number;
  readonly intercept: number;
  readonly what: string;
  readonly read: () => Float32Array;
}

/** A series as found on disk. */
interface SeriesGroup {
  readonly uid: string;
  readonly files: Array<DicomFile & { path: string }>;
}

const IMAGE_EXCLUDED = new Set<string>([SOP_CLASS.seg, SOP_CLASS.labelMapSeg, SOP_CLASS.rtStruct, SOP_CLASS.mediaStorageDirectory, SOP_CLASS.encapsulatedPdf]);

function vec3(v: number[], what: string, name: string): Vec3 {
  if (v.length < 3 || v.slice(0, 3).some((x) => !Number.isFinite(x))) throw new FormatError(`${what}: ${name} is missing or malformed`);
  return [v[0], v[1], v[2]];
}
const dot = (a: Vec3, b: Vec3) => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
const cross = (a: Vec3, b: Vec3): Vec3 => [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
const sub = (a: Vec3, b: Vec3): Vec3 => [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
const scale = (a: Vec3, s: number): Vec3 => [a[0] * s, a[1] * s, a[2] * s];
const add = (a: Vec3, b: Vec3): Vec3 => [a[0] + b[0], a[1] + b[1], a[2] + b[2]];
const norm = (a: Vec3) => Math.hypot(a[0], a[1], a[2]);
const unit = (a: Vec3): Vec3 => scale(a, 1 / norm(a));

function orientation(ds: DicomDataset | undefined, what: string): { row: Vec3; col: Vec3 } | undefined {
  const v = ds?.numbers(TAG.ImageOrientationPatient) ?? [];
  if (v.length === 0) return undefined;
  if (v.length !== 6 || v.some((x) => !Number.isFinite(x))) throw new FormatError(`${what}: Image Orientation (Patient) must hold 6 numbers, found ${v.length}`);
  const row = unit([v[0], v[1], v[2]]);
  let col: Vec3 = [v[3], v[4], v[5]];
  // Gram-Schmidt: remove the small non-orthogonality of stored cosines.
  col = unit(sub(col, scale(row, dot(row, col))));
  return { row, col };
}

function pixelSpacing(ds: DicomDataset | undefined, what: string): [number, number] | undefined {
  const v = ds?.numbers(TAG.PixelSpacing) ?? [];
  if (v.length === 0) return undefined;
  if (v.length !== 2 || !(v[0] > 0) || !(v[1] > 0)) throw new FormatError(`${what}: Pixel Spacing must be two positive numbers, found ${v.join('\\')}`);
  return [v[0], v[1]];
}

function rescaleOf(ds: DicomDataset | undefined): { slope?: number; intercept?: number; type?: string } {
  if (!ds) return {};
  return { slope: ds.number(TAG.RescaleSlope), intercept: ds.number(TAG.RescaleIntercept), type: ds.string(TAG.RescaleType) };
}

/** Planes of one instance: a single-frame image, or the frames of a multi-frame NM, RT Dose or enhanced object. */
function planesOf(f: DicomFile & { path: string }, warnings: string[]): Plane[] {
  const ds = f.dataset;
  const what = f.path;
  const mosaic = mosaicEvidence(ds);
  if (mosaic) {
    throw new FormatError(
      `${what}: a Siemens mosaic (${mosaic}): one image holds many slices tiled side by side and would be read as one big slice; convert the series with dcm2niix first (dcm2niix -z y <folder>) and give the NIfTI it writes`,
    );
  }
  const fmt = pixelFormat(ds, what);
  const sop = ds.string(TAG.SOPClassUID) ?? '';
  const modality = ds.string(TAG.Modality) ?? '';
  const read = (frame: number, slope: number, intercept: number) => () => {
    const v = frameStoredValues(ds, f.transferSyntaxUid, frame, fmt, `${what} frame ${frame + 1}`);
    if (slope !== 1 || intercept !== 0) for (let i = 0; i < v.length; i++) v[i] = v[i] * slope + intercept;
    return v;
  };
  const base = { rows: fmt.rows, cols: fmt.columns };
  const perFrame = ds.sequence(TAG.PerFrameFunctionalGroupsSequence);
  if (perFrame.length > 0) return enhancedPlanes(f, fmt, perFrame, read);
  if (sop === SOP_CLASS.nm || (modality === 'NM' && fmt.numberOfFrames > 1)) return nmPlanes(f, fmt, read, warnings);
  if (sop === SOP_CLASS.rtDose || modality === 'RTDOSE') {
    const o = orientation(ds, what);
    const ipp = vec3(ds.numbers(TAG.ImagePositionPatient), what, 'Image Position (Patient)');
    const ps = pixelSpacing(ds, what);
    if (!o || !ps) throw new FormatError(`${what}: RT Dose without Image Orientation/Pixel Spacing is not a dose grid`);
    const gfov = ds.numbers(TAG.GridFrameOffsetVector);
    if (fmt.numberOfFrames > 1 && gfov.length !== fmt.numberOfFrames) {
      throw new FormatError(`${what}: Grid Frame Offset Vector has ${gfov.length} values for ${fmt.numberOfFrames} frames`);
    }
    const scaling = ds.number(TAG.DoseGridScaling) ?? 1;
    const n = unit(cross(o.row, o.col));
    // Offsets are relative to the first frame when the first is 0, else absolute positions along the normal (PS3.3 C.8.8.3.2).
    const rel = gfov.length && gfov[0] !== 0 ? gfov.map((g) => g - gfov[0]) : gfov.length ? gfov : [0];
    return rel.map((off, k) => ({ ...base, ipp: add(ipp, scale(n, off)), ...o, pixelSpacing: ps, slope: scaling, intercept: 0, what: `${what} frame ${k + 1}`, read: read(k, scaling, 0) }));
  }
  if (fmt.numberOfFrames > 1) {
    throw new FormatError(`${what}: a ${fmt.numberOfFrames}-frame ${modality || 'image'} object without per-frame positions; this reader handles multi-frame NM, RT Dose and enhanced (functional group) objects`);
  }
  const o = orientation(ds, what);
  const ps = pixelSpacing(ds, what);
  if (!o || !ps || !ds.has(TAG.ImagePositionPatient)) {
    throw new FormatError(`${what}: no Image Position/Orientation (Patient) or Pixel Spacing; it is not a slice of a 3-D volume (a scout, screenshot or report?)`);
  }
  const r = rescaleOf(ds);
  const slope = r.slope ?? 1;
  const intercept = r.intercept ?? 0;
  return [{ ...base, ipp: vec3(ds.numbers(TAG.ImagePositionPatient), what, 'Image Position (Patient)'), ...o, pixelSpacing: ps, slope, intercept, what, read: read(0, slope, intercept) }];
}

function enhancedPlanes(
  f: DicomFile & { path: string },
  fmt: PixelFormat,
  perFrame: DicomDataset[],
  read: (frame: number, slope: number, intercept: number) => () => Float32Array,
): Plane[] {
  const ds = f.dataset;
  const shared = ds.item(TAG.SharedFunctionalGroupsSequence);
  const pick = (fg: DicomDataset, seq: number) => fg.item(seq) ?? shared?.item(seq);
  return perFrame.map((fg, k) => {
    const what = `${f.path} frame ${k + 1}`;
    const pos = pick(fg, TAG.PlanePositionSequence);
    const o = orientation(pick(fg, TAG.PlaneOrientationSequence), what) ?? orientation(ds, what);
    const ps = pixelSpacing(pick(fg, TAG.PixelMeasuresSequence), what) ?? pixelSpacing(ds, what);
    if (!pos || !o || !ps) throw new FormatError(`${what}: the functional groups give no plane position, orientation or pixel spacing`);
    const r = rescaleOf(pick(fg, TAG.PixelValueTransformationSequence));
    const slope = r.slope ?? 1;
    const intercept = r.intercept ?? 0;
    return { rows: fmt.rows, cols: fmt.columns, ipp: vec3(pos.numbers(TAG.ImagePositionPatient), what, 'Image Position (Patient)'), ...o, pixelSpacing: ps, slope, intercept, what, read: read(k, slope, intercept) };
  });
}

/** Frame index vectors of the NM multi-frame module (PS3.3 C.8.4.8.1.1) and what they mean. */
const NM_VECTORS: Array<[number, string]> = [
  [TAG.EnergyWindowVector, 'energy window'],
  [TAG.DetectorVector, 'detector'],
  [TAG.RotationVector, 'rotation'],
  [TAG.RRIntervalVector, 'R-R interval'],
  [TAG.TimeSlotVector, 'time slot (gate)'],
  [TAG.AngularViewVector, 'angular view'],
  [TAG.TimeSliceVector, 'time slice'],
];

function nmPlanes(
  f: DicomFile & { path: string },
  fmt: PixelFormat,
  read: (frame: number, slope: number, intercept: number) => () => Float32Array,
  warnings: string[],
): Plane[] {
  const ds = f.dataset;
  const what = f.path;
  const imageType = ds.strings(TAG.ImageType);
  const kind = imageType[2] ?? '';
  if (kind && kind !== 'RECON TOMO' && kind !== 'RECON GATED TOMO') {
    throw new FormatError(`${what}: this NM object is a ${kind} acquisition (Image Type ${imageType.join('\\')}), not a reconstructed volume; reconstruct it first and read the RECON TOMO series`);
  }
  const det = ds.item(TAG.DetectorInformationSequence);
  const o = orientation(ds, what) ?? orientation(det, what);
  const ippV = ds.has(TAG.ImagePositionPatient) ? ds.numbers(TAG.ImagePositionPatient) : det?.numbers(TAG.ImagePositionPatient) ?? [];
  const ps = pixelSpacing(ds, what);
  if (!o || ippV.length < 3 || !ps) {
    throw new FormatError(`${what}: NM volume without Image Position/Orientation (Patient) in the Detector Information Sequence (0054,0022); the scanner export lacks its geometry`);
  }
  const ipp = vec3(ippV, what, 'Image Position (Patient)');
  const spacing = ds.number(TAG.SpacingBetweenSlices) ?? ds.number(TAG.SliceThickness);
  if (!spacing) throw new FormatError(`${what}: NM volume without Spacing Between Slices (0018,0088) or Slice Thickness (0018,0050)`);
  const n = fmt.numberOfFrames;
  const pointers = ds.numbers(TAG.FrameIncrementPointer);
  const vector = (tag: number) => (pointers.includes(tag) ? ds.numbers(tag) : []);
  const sliceVec = vector(TAG.SliceVector);
  const slices = sliceVec.length === n ? sliceVec : Array.from({ length: n }, (_, k) => k + 1);
  let keep = Array.from({ length: n }, (_, k) => k);
  for (const [tag, name] of NM_VECTORS) {
    const v = vector(tag);
    if (v.length !== n) continue;
    const distinct = [...new Set(v)].sort((a, b) => a - b);
    if (distinct.length <= 1) continue;
    if (tag === TAG.EnergyWindowVector || tag === TAG.DetectorVector) {
      keep = keep.filter((k) => v[k] === distinct[0]);
      warnings.push(`${what}: ${distinct.length} ${name}s in one object; read ${name} ${distinct[0]} only`);
    } else {
      throw new FormatError(`${what}: the NM volume has ${distinct.length} ${name}s (a gated or dynamic reconstruction); sum or select them in the workstation and export one static volume`);
    }
  }
  const r = rescaleOf(ds);
  const slope = r.slope ?? 1;
  const intercept = r.intercept ?? 0;
  const nrm = unit(cross(o.row, o.col));
  return keep.map((k) => ({
    rows: fmt.rows,
    cols: fmt.columns,
    ipp: add(ipp, scale(nrm, (slices[k] - 1) * spacing)),
    ...o,
    pixelSpacing: ps,
    slope,
    intercept,
    what: `${what} frame ${k + 1}`,
    read: read(k, slope, intercept),
  }));
}

function describeSeries(g: SeriesGroup): string {
  const ds = g.files[0].dataset;
  const frames = g.files.reduce((s, f) => s + Math.max(1, f.dataset.number(TAG.NumberOfFrames) ?? 1), 0);
  return `${g.uid} (${ds.string(TAG.Modality) ?? '?'}, "${ds.string(TAG.SeriesDescription) ?? ''}", ${ds.number(TAG.Columns) ?? '?'}x${ds.number(TAG.Rows) ?? '?'}x${frames})`;
}

/** Loads the image series at `path` and picks one (by UID, modality, or because it is the only one). */
function pickSeries(path: string, opts: ReadDicomVolumeOptions, warnings: string[]): SeriesGroup {
  const paths = opts.files ? opts.files.map((f) => f.path) : listDicomFiles(path, { warnings }); // a malformed DICOMDIR: left out, with a warning
  if (paths.length === 0) throw new InputError(`${path} holds no DICOM files (none has the "DICM" marker); give the folder of one exported series`);
  const bySeries = new Map<string, SeriesGroup>();
  for (const [n, p] of paths.entries()) {
    const f = opts.files ? opts.files[n] : loadDicomFile(p);
    const ds = f.dataset;
    const sop = ds.string(TAG.SOPClassUID) ?? f.meta.string(TAG.MediaStorageSOPClassUID) ?? '';
    if (IMAGE_EXCLUDED.has(sop)) continue;
    if (!ds.has(TAG.PixelData) && !ds.has(TAG.FloatPixelData) && !ds.has(TAG.DoubleFloatPixelData)) continue;
    const uid = ds.string(TAG.SeriesInstanceUID) ?? `(no Series Instance UID: ${p})`;
    let g = bySeries.get(uid);
    if (!g) bySeries.set(uid, (g = { uid, files: [] }));
    g.files.push(f);
  }
  if (bySeries.size === 0) {
    throw new FormatError(`${path} holds DICOM files but no image with pixel data (only structure sets, segmentations, reports or private data); give the folder of an image series`);
  }
  let groups = [...bySeries.values()];
  if (opts.seriesUid) {
    const g = bySeries.get(opts.seriesUid);
    if (!g) throw new InputError(`series ${opts.seriesUid} is not in ${path}; the image series there are: ${groups.map(describeSeries).join('; ')}`);
    return g;
  }
  if (opts.modality) {
    const want: readonly string[] = typeof opts.modality === 'string' ? [opts.modality] : opts.modality;
    const m = groups.filter((g) => want.includes(g.files[0].dataset.string(TAG.Modality) ?? ''));
    if (m.length === 0) throw new InputError(`${path} holds no ${want.join(' or ')} series; the image series there are: ${groups.map(describeSeries).join('; ')}`);
    groups = m;
  }
  if (groups.length > 1) {
    throw new InputError(
      `${path} holds ${groups.length} image series; choose one with ${opts.seriesOption ?? '--series UID'} (or give the folder of one series): ${groups.map(describeSeries).join('; ')}`,
    );
  }
  return groups[0];
}

function close(a: Vec3, b: Vec3, tol: number): boolean {
  return Math.abs(a[0] - b[0]) <= tol && Math.abs(a[1] - b[1]) <= tol && Math.abs(a[2] - b[2]) <= tol;
}

/** Sorts planes along the normal, checks them, and stacks them into a volume (resampling when allowed). */
function stack(planes: Plane[], opts: ReadDicomVolumeOptions, fallbackSpacingMm: number | undefined, warnings: string[], what: string): Volume<Float32Array> {
  const p0 = planes[0];
  for (const p of planes) {
    if (p.rows !== p0.rows || p.cols !== p0.cols) {
      throw new FormatError(`${what}: slices of different sizes (${p0.cols}x${p0.rows} in ${p0.what}, ${p.cols}x${p.rows} in ${p.what}); the folder mixes images of different series or reconstructions`);
    }
    if (!close(p.row, p0.row, 1e-4) || !close(p.col, p0.col, 1e-4)) {
      throw new FormatError(
        `${what}: inconsistent orientation: ${p.what} has Image Orientation (Patient) ${[...p.row, ...p.col].map((x) => +x.toFixed(5)).join('\\')}, ${p0.what} has ${[...p0.row, ...p0.col].map((x) => +x.toFixed(5)).join('\\')}; the slices do not form one volume (re-export the series, or split it by orientation)`,
      );
    }
    if (Math.abs(p.pixelSpacing[0] - p0.pixelSpacing[0]) > 1e-4 || Math.abs(p.pixelSpacing[1] - p0.pixelSpacing[1]) > 1e-4) {
      throw new FormatError(`${what}: slices with different pixel spacing (${p0.pixelSpacing.join('\\')} mm vs ${p.pixelSpacing.join('\\')} mm in ${p.what})`);
    }
  }
  const n = unit(cross(p0.row, p0.col));
  const sorted = planes.map((p) => ({ p, d: dot(p.ipp, n) })).sort((a, b) => a.d - b.d);
  const nz = sorted.length;
  const [sr, sc] = p0.pixelSpacing; // between rows (j), between columns (i)
  const deltas = sorted.slice(1).map((s, k) => s.d - sorted[k].d);
  const minPixel = Math.min(sr, sc);
  for (let k = 0; k < deltas.length; k++) {
    if (deltas[k] < 1e-3 * minPixel + 1e-4) {
      throw new FormatError(
        `${what}: two slices at the same position (${sorted[k].p.what} and ${sorted[k + 1].p.what}, ${sorted[k].d.toFixed(3)} mm along the normal); the series holds several volumes (time points, gates or duplicates): export one volume per series`,
      );
    }
  }
  const median = deltas.length ? [...deltas].sort((a, b) => a - b)[Math.floor(deltas.length / 2)] : fallbackSpacingMm ?? 1;
  if (!deltas.length && !fallbackSpacingMm) warnings.push(`${what}: a single slice without Spacing Between Slices/Slice Thickness; its thickness is taken as 1 mm`);
  // Missing slices: a gap of about a whole multiple of the usual spacing.
  for (let k = 0; k < deltas.length; k++) {
    if (deltas[k] > 1.5 * median) {
      const missing = Math.round(deltas[k] / median) - 1;
      throw new FormatError(
        `${what}: missing slices: a gap of ${deltas[k].toFixed(3)} mm between ${sorted[k].p.what} and ${sorted[k + 1].p.what} where the spacing is ${median.toFixed(3)} mm (about ${Math.max(1, missing)} slice(s) missing); copy the complete series`,
      );
    }
  }
  // Tolerance of 1% of the spacing: positions are stored as decimal strings, rounded by some vendors to 0.01 mm.
  const uneven = deltas.some((d) => Math.abs(d - median) > 0.01 * median);
  // Gantry tilt / shear: positions move within the slice plane from slice to slice.
  const lateral = sorted.map((s) => {
    const dv = sub(s.p.ipp, sorted[0].p.ipp);
    return sub(dv, scale(n, dot(dv, n)));
  });
  const lastLat = norm(lateral[nz - 1]);
  const span = sorted[nz - 1].d - sorted[0].d;
  const tilted = lateral.some((l) => norm(l) > 0.01 * minPixel + 1e-3);
  if (tilted && !opts.allowResample) {
    const deg = (Math.atan2(lastLat, span) * 180) / Math.PI;
    throw new FormatError(
      `${what}: gantry tilt of about ${deg.toFixed(2)} degrees: slice positions shift sideways by ${lastLat.toFixed(2)} mm over ${span.toFixed(1)} mm, so the slices form a sheared grid; resample it to an orthogonal grid (allowResample) or re-export without tilt`,
    );
  }
  if (uneven && !opts.allowResample) {
    throw new FormatError(
      `${what}: uneven slice spacing (from ${Math.min(...deltas).toFixed(3)} to ${Math.max(...deltas).toFixed(3)} mm); resample it to a regular grid (allowResample) or re-export with a constant spacing`,
    );
  }
  const nx = p0.cols;
  const ny = p0.rows;
  const slices = sorted.map((s) => s.p.read());
  if (tilted) {
    const deg = (Math.atan2(lastLat, span) * 180) / Math.PI;
    warnings.push(`${what}: gantry tilt of about ${deg.toFixed(2)} degrees; slices shifted in-plane (bilinear) onto an orthogonal grid`);
    for (let k = 0; k < nz; k++) {
      const du = dot(lateral[k], p0.row) / sc;
      const dv = dot(lateral[k], p0.col) / sr;
      if (du !== 0 || dv !== 0) slices[k] = shiftSlice(slices[k], nx, ny, du, dv);
    }
  }
  let outSlices = slices;
  let nzOut = nz;
  let dz = nz > 1 ? span / (nz - 1) : median;
  if (uneven) {
    dz = median;
    nzOut = Math.round(span / dz) + 1;
    dz = nzOut > 1 ? span / (nzOut - 1) : dz;
    warnings.push(`${what}: uneven slice spacing; resampled linearly to ${nzOut} slices ${dz.toFixed(3)} mm apart`);
    outSlices = [];
    let k = 0;
    for (let m = 0; m < nzOut; m++) {
      const d = sorted[0].d + m * dz;
      while (k < nz - 2 && sorted[k + 1].d < d) k++;
      const t = Math.min(1, Math.max(0, (d - sorted[k].d) / (sorted[k + 1].d - sorted[k].d)));
      const a = slices[k], b = slices[k + 1];
      const s = new Float32Array(nx * ny);
      for (let i = 0; i < s.length; i++) s[i] = a[i] * (1 - t) + b[i] * t;
      outSlices.push(s);
    }
  }
  const data = new Float32Array(nx * ny * nzOut);
  outSlices.forEach((s, k) => data.set(s, k * nx * ny));
  const direction = [...p0.row, ...p0.col, ...n] as unknown as Mat3ColMajor;
  const geometry: Geometry = { dims: [nx, ny, nzOut], spacingMm: [sc, sr, dz], originLpsMm: sorted[0].p.ipp, direction };
  return makeVolume(geometry, data, what);
}

/** Shifts a slice by (du, dv) pixels: out(i, j) = in(i - du, j - dv), bilinear; outside takes the slice's minimum. */
function shiftSlice(s: Float32Array, nx: number, ny: number, du: number, dv: number): Float32Array {
  let fill = Infinity;
  for (const v of s) if (v < fill) fill = v;
  const out = new Float32Array(s.length);
  for (let j = 0; j < ny; j++) {
    for (let i = 0; i < nx; i++) {
      const x = i - du, y = j - dv;
      const x0 = Math.floor(x), y0 = Math.floor(y);
      const fx = x - x0, fy = y - y0;
      const at = (a: number, b: number) => (a < 0 || b < 0 || a >= nx || b >= ny ? fill : s[a + nx * b]);
      out[i + nx * j] = (at(x0, y0) * (1 - fx) + at(x0 + 1, y0) * fx) * (1 - fy) + (at(x0, y0 + 1) * (1 - fx) + at(x0 + 1, y0 + 1) * fx) * fy;
    }
  }
  return out;
}

function emissionTiming(files: Array<DicomFile & { path: string }>, modality: string): DicomEmissionTiming {
  const ds = files[0].dataset;
  const rp = ds.item(TAG.RadiopharmaceuticalInformationSequence);
  const unitsAttribute = ds.string(TAG.Units);
  const decayCorrection = ds.string(TAG.DecayCorrection);
  const seriesDateTime = dicomDateTime(ds.string(TAG.SeriesDate) ?? ds.string(TAG.StudyDate), ds.string(TAG.SeriesTime));
  let acquisitionDateTime: DicomDateTime | undefined;
  for (const f of files) {
    const a = dicomDT(f.dataset.string(TAG.AcquisitionDateTime)) ??
      dicomDateTime(f.dataset.string(TAG.AcquisitionDate) ?? f.dataset.string(TAG.SeriesDate) ?? f.dataset.string(TAG.StudyDate), f.dataset.string(TAG.AcquisitionTime));
    if (a && (!acquisitionDateTime || a.epochS < acquisitionDateTime.epochS)) acquisitionDateTime = a;
  }
  let injectionDateTime = dicomDT(rp?.string(TAG.RadiopharmaceuticalStartDateTime));
  if (!injectionDateTime && rp?.string(TAG.RadiopharmaceuticalStartTime)) {
    // Start Time only: assume the injection was on the series date, or the day before when that puts it after the scan.
    injectionDateTime = dicomDateTime(ds.string(TAG.SeriesDate) ?? ds.string(TAG.StudyDate), rp.string(TAG.RadiopharmaceuticalStartTime));
    const ref = seriesDateTime ?? acquisitionDateTime;
    if (injectionDateTime && ref && injectionDateTime.epochS > ref.epochS) {
      const e = injectionDateTime.epochS - 86400;
      const d = new Date(e * 1000).toISOString().slice(0, 10).replace(/-/g, '');
      injectionDateTime = dicomDateTime(d, rp.string(TAG.RadiopharmaceuticalStartTime));
    }
  }
  const code = rp?.item(TAG.RadionuclideCodeSequence);
  const base = {
    unitsAttribute,
    decayCorrection,
    correctedImage: ds.strings(TAG.CorrectedImage),
    seriesDateTime,
    acquisitionDateTime,
    injectionDateTime,
    halfLifeS: rp?.number(TAG.RadionuclideHalfLife),
    administeredActivityBq: ((d) => (d === undefined ? undefined : modality === 'NM' ? d * 1e6 : d))(rp?.number(TAG.RadionuclideTotalDose)),
    radiopharmaceutical: rp?.string(TAG.Radiopharmaceutical),
    radionuclide: code?.string(TAG.CodeMeaning),
  };
  if (modality === 'NM') {
    return {
      ...base,
      activityReferenceDateTime: acquisitionDateTime,
      note: acquisitionDateTime
        ? 'NM counts are not decay corrected: they were collected from the acquisition start over the acquisition'
        : 'NM counts without Acquisition Date/Time: the time they refer to is unknown',
    };
  }
  switch (decayCorrection) {
    case 'START': {
      const ref = seriesDateTime ?? acquisitionDateTime;
      return { ...base, activityReferenceDateTime: ref, note: ref ? 'decay corrected to the series reference time (Series Date/Time, PS3.3 C.8.9.1)' : 'decay corrected to START, but the file has no Series or Acquisition Date/Time' };
    }
    case 'ADMIN':
      return { ...base, activityReferenceDateTime: injectionDateTime, note: injectionDateTime ? 'decay corrected to the administration time' : 'decay corrected to ADMIN, but the file has no Radiopharmaceutical Start (Date)Time' };
    case 'NONE':
      return { ...base, activityReferenceDateTime: acquisitionDateTime, note: 'not decay corrected: values are the activity during each frame, from its acquisition time' };
    default:
      return { ...base, note: `Decay Correction is ${decayCorrection ? `"${decayCorrection}"` : 'missing'}, so the time the activity refers to is unknown; give the scan delay explicitly` };
  }
}

/**
 * Reads one DICOM image series (CT, PT, NM, MR or RT Dose) from a folder or a file into a Float32 volume with LPS
 * geometry, applying Rescale Slope/Intercept (CT: HU; PT: BQML as stored), Dose Grid Scaling (RT Dose: Gy), and the
 * per-frame geometry of multi-frame NM (Detector Information Sequence, Slice Vector) and enhanced objects.
 *
 * Throws InputError when the path holds several image series and none is chosen (the message lists them), FormatError
 * for missing slices, inconsistent orientation, duplicate positions, gantry tilt or uneven spacing (unless
 * `allowResample`), Siemens mosaics (./mosaic.ts; convert them with dcm2niix), and compressed pixel data it cannot
 * decode.
 */
export async function readDicomVolume(path: string, opts: ReadDicomVolumeOptions = {}): Promise<{ volume: Volume<Float32Array>; meta: DicomSeriesMeta }> {
  const warnings: string[] = [];
  const group = pickSeries(path, opts, warnings);
  const first = group.files[0];
  const ds = first.dataset;
  const modality = ds.string(TAG.Modality) ?? '';
  const what = `DICOM series ${group.uid} in ${path}`;
  // JPEG, JPEG-LS and JPEG 2000 frames go to the codec first (asynchronous); the planes then read them like native data.
  const compression = await decodeCompressedFrames(group.files, warnings);
  const planes = group.files.flatMap((f) => planesOf(f, warnings));
  for (const f of group.files) {
    if (f.dataset.charset.warning) {
      warnings.push(`${f.path}: ${f.dataset.charset.warning}`);
      break;
    }
  }
  const volume = stack(planes, opts, ds.number(TAG.SpacingBetweenSlices) ?? ds.number(TAG.SliceThickness), warnings, what);
  const slopes = planes.map((p) => p.slope);
  const intercepts = planes.map((p) => p.intercept);
  const applied = slopes.some((s) => s !== 1) || intercepts.some((i) => i !== 0);
  const emission = modality === 'NM' || modality === 'PT' ? emissionTiming(group.files, modality) : undefined;
  let units: string;
  let activityUnit: 'bq-per-ml' | 'counts' | undefined;
  if (modality === 'CT') units = 'HU';
  else if (modality === 'RTDOSE') units = ds.string(TAG.DoseUnits) ?? 'GY';
  else if (modality === 'NM') {
    units = ds.string(TAG.Units) ?? 'counts';
    activityUnit = units === 'BQML' ? 'bq-per-ml' : 'counts';
  } else if (modality === 'PT') {
    units = ds.string(TAG.Units) ?? 'unknown';
    activityUnit = units === 'BQML' ? 'bq-per-ml' : units === 'CNTS' ? 'counts' : undefined;
    if (!activityUnit) warnings.push(`${what}: PET values are in ${units}, not an activity concentration (BQML) or counts; convert them before dosimetry`);
  } else units = ds.string(TAG.RescaleType) ?? 'as stored';
  if (modality === 'CT' && ds.string(TAG.RescaleType) && ds.string(TAG.RescaleType) !== 'HU') {
    warnings.push(`${what}: Rescale Type is ${ds.string(TAG.RescaleType)}, not HU`);
  }
  const meta: DicomSeriesMeta = {
    modality,
    sopClassUid: ds.string(TAG.SOPClassUID) ?? '',
    seriesInstanceUid: group.uid,
    studyInstanceUid: ds.string(TAG.StudyInstanceUID),
    frameOfReferenceUid: ds.string(TAG.FrameOfReferenceUID),
    seriesDescription: ds.string(TAG.SeriesDescription),
    seriesNumber: ds.number(TAG.SeriesNumber),
    studyDate: ds.string(TAG.StudyDate),
    studyTime: ds.string(TAG.StudyTime),
    patient: { name: ds.string(TAG.PatientName), id: ds.string(TAG.PatientID), birthDate: ds.string(TAG.PatientBirthDate), sex: ds.string(TAG.PatientSex) },
    study: { id: ds.string(TAG.StudyID), accessionNumber: ds.string(TAG.AccessionNumber), description: ds.string(TAG.StudyDescription), referringPhysicianName: ds.string(TAG.ReferringPhysicianName) },
    instances: group.files.map((f) => {
      const ipp = f.dataset.numbers(TAG.ImagePositionPatient);
      const single = (f.dataset.number(TAG.NumberOfFrames) ?? 1) <= 1 && ipp.length === 3 && ipp.every(Number.isFinite);
      return { sopClassUid: f.dataset.string(TAG.SOPClassUID) ?? '', sopInstanceUid: f.dataset.string(TAG.SOPInstanceUID) ?? '', ...(single ? { imagePositionPatient: [ipp[0], ipp[1], ipp[2]] as const } : {}) };
    }),
    units,
    activityUnit,
    rescale: {
      applied,
      slope: [Math.min(...slopes), Math.max(...slopes)],
      intercept: [Math.min(...intercepts), Math.max(...intercepts)],
      type: ds.string(TAG.RescaleType),
    },
    emission,
    transferSyntaxUid: first.transferSyntaxUid,
    ...(compression ? { compression } : {}),
    instanceCount: group.files.length,
    sliceCount: volume.geometry.dims[2],
    warnings,
  };
  return { volume, meta };
}
