/**
 * DICOM Segmentation (SEG, PS3.3 A.51, C.8.20) reading: BINARY (1 bit per pixel, packed LSB first across frames) and
 * FRACTIONAL (8 bit, value / Maximum Fractional Value) segments, placed by the per-frame functional groups (Plane
 * Position Sequence, Segment Identification Sequence > Referenced Segment Number) onto one grid along the slice normal;
 * and LABELMAP (DICOM 2024, Supplement 243, Label Map Segmentation Storage 1.2.840.10008.5.1.4.1.1.66.7, as highdicom
 * writes it: 8 or 16 bit, each pixel holds the number of its segment, 0 none; frames carry no Segment Identification).
 */
import { FormatError } from '../../errors.ts';
import type { Geometry, Mat3ColMajor, Vec3 } from '../../volume/geometry.ts';
import { validateGeometry } from '../../volume/geometry.ts';
import type { StructureMask } from '../../volume/structure.ts';
import type { DicomDataset, DicomFile } from './parser.ts';
import { frameStoredValues, pixelFormat } from './pixels.ts';
import { TAG } from './tags.ts';

const dot = (a: Vec3, b: Vec3) => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];

/** CIELab (DICOM scaled 0..65535, PS3.3 C.10.7.1.1) to sRGB 0..1 (D65, CIE 15 / IEC 61966-2-1). */
export function dicomLabToRgb(lab: readonly number[]): [number, number, number] {
  const L = (lab[0] / 65535) * 100;
  const a = (lab[1] / 65535) * 255 - 128;
  const b = (lab[2] / 65535) * 255 - 128;
  const fy = (L + 16) / 116, fx = fy + a / 500, fz = fy - b / 200;
  const inv = (t: number) => (t > 6 / 29 ? t ** 3 : 3 * (6 / 29) ** 2 * (t - 4 / 29));
  const [X, Y, Z] = [0.95047 * inv(fx), inv(fy), 1.08883 * inv(fz)];
  const lin = [3.2406 * X - 1.5372 * Y - 0.4986 * Z, -0.9689 * X + 1.8758 * Y + 0.0415 * Z, 0.0557 * X - 0.204 * Y + 1.057 * Z];
  const g = lin.map((v) => Math.min(1, Math.max(0, v <= 0.0031308 ? 12.92 * v : 1.055 * v ** (1 / 2.4) - 0.055)));
  return [g[0], g[1], g[2]];
}

/**
 * sRGB 0..1 to CIELab scaled for DICOM (0..65535, PS3.3 C.10.7.1.1), the inverse of `dicomLabToRgb` (D65 white,
 * IEC 61966-2-1 transfer function, CIE 15 Lab): for Recommended Display CIELab Value (0062,000D).
 */
export function rgbToDicomLab(rgb: readonly number[]): [number, number, number] {
  const lin = rgb.slice(0, 3).map((v) => {
    const c = Math.min(1, Math.max(0, v));
    return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  // sRGB (D65) to XYZ: the inverse of the matrix in dicomLabToRgb
  const X = 0.4124 * lin[0] + 0.3576 * lin[1] + 0.1805 * lin[2];
  const Y = 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2];
  const Z = 0.0193 * lin[0] + 0.1192 * lin[1] + 0.9505 * lin[2];
  const f = (t: number) => (t > (6 / 29) ** 3 ? Math.cbrt(t) : t / (3 * (6 / 29) ** 2) + 4 / 29);
  const [fx, fy, fz] = [f(X / 0.95047), f(Y), f(Z / 1.08883)];
  const L = 116 * fy - 16, a = 500 * (fx - fy), b = 200 * (fy - fz);
  const clamp = (v: number) => Math.min(65535, Math.max(0, Math.round(v)));
  return [clamp((L / 100) * 65535), clamp(((a + 128) / 255) * 65535), clamp(((b + 128) / 255) * 65535)];
}

/** Reads the segments of a DICOM SEG file (BINARY, FRACTIONAL or LABELMAP) as masks on the grid its frames span. */
export function readSegMasks(f: DicomFile & { path: string }): StructureMask[] {
  const ds = f.dataset;
  const what = f.path;
  const type = ds.string(TAG.SegmentationType) ?? 'BINARY';
  if (type !== 'BINARY' && type !== 'FRACTIONAL' && type !== 'LABELMAP') throw new FormatError(`${what}: Segmentation Type ${type} is not BINARY, FRACTIONAL or LABELMAP`);
  const labelMap = type === 'LABELMAP';
  const fmt = pixelFormat(ds, what);
  const shared = ds.item(TAG.SharedFunctionalGroupsSequence);
  const perFrame = ds.sequence(TAG.PerFrameFunctionalGroupsSequence);
  if (perFrame.length !== fmt.numberOfFrames) {
    throw new FormatError(`${what}: ${perFrame.length} per-frame functional groups for ${fmt.numberOfFrames} frames`);
  }
  const pick = (fg: DicomDataset, seq: number) => fg.item(seq) ?? shared?.item(seq);
  const segments = new Map<number, { label: string; color?: [number, number, number] }>();
  for (const s of ds.sequence(TAG.SegmentSequence)) {
    const n = s.number(TAG.SegmentNumber);
    if (n === undefined) continue;
    const lab = s.numbers(TAG.RecommendedDisplayCIELabValue);
    segments.set(n, { label: s.string(TAG.SegmentLabel) ?? `segment ${n}`, color: lab.length === 3 ? dicomLabToRgb(lab) : undefined });
  }
  // Frame geometry.
  const frames = perFrame.map((fg, k) => {
    const pos = pick(fg, TAG.PlanePositionSequence)?.numbers(TAG.ImagePositionPatient) ?? [];
    const ori = pick(fg, TAG.PlaneOrientationSequence)?.numbers(TAG.ImageOrientationPatient) ?? ds.numbers(TAG.ImageOrientationPatient);
    const seg = pick(fg, TAG.SegmentIdentificationSequence)?.number(TAG.ReferencedSegmentNumber);
    if (pos.length !== 3 || ori.length !== 6) throw new FormatError(`${what}: frame ${k + 1} has no Plane Position/Orientation in its functional groups`);
    // a label map's frames hold every segment (the pixel value is the segment number)
    if (seg === undefined && !labelMap) throw new FormatError(`${what}: frame ${k + 1} names no Referenced Segment Number`);
    return { ipp: pos as unknown as Vec3, ori, seg, k };
  });
  const ori0 = frames[0].ori;
  for (const fr of frames) {
    if (fr.ori.some((v, i) => Math.abs(v - ori0[i]) > 1e-4)) throw new FormatError(`${what}: frames with different orientations; this reader needs one stack of parallel planes`);
  }
  const row: Vec3 = [ori0[0], ori0[1], ori0[2]];
  const col: Vec3 = [ori0[3], ori0[4], ori0[5]];
  const n: Vec3 = [row[1] * col[2] - row[2] * col[1], row[2] * col[0] - row[0] * col[2], row[0] * col[1] - row[1] * col[0]];
  const measures = pick(perFrame[0], TAG.PixelMeasuresSequence);
  const ps = measures?.numbers(TAG.PixelSpacing) ?? ds.numbers(TAG.PixelSpacing);
  if (ps.length !== 2) throw new FormatError(`${what}: no Pixel Spacing in the Pixel Measures Sequence`);
  const d = frames.map((fr) => dot(fr.ipp, n));
  const distinct = [...new Set(d.map((x) => Math.round(x * 1000) / 1000))].sort((a, b) => a - b);
  const diffs = distinct.slice(1).map((x, i) => x - distinct[i]);
  const dz = measures?.number(TAG.SpacingBetweenSlices) ?? (diffs.length ? Math.min(...diffs) : measures?.number(TAG.SliceThickness) ?? 1);
  const d0 = distinct[0];
  const first = frames[d.indexOf(Math.min(...d))];
  for (const [q, fr] of frames.entries()) {
    const t = (d[q] - d0) / dz;
    if (Math.abs(t - Math.round(t)) > 0.01) throw new FormatError(`${what}: frame ${fr.k + 1} lies between the slices of a ${dz} mm grid; the frames do not share one grid`);
    const lat = [0, 1, 2].map((a) => fr.ipp[a] - first.ipp[a] - n[a] * (d[q] - d0));
    if (Math.hypot(lat[0], lat[1], lat[2]) > 0.01 * Math.min(ps[0], ps[1]) + 1e-3) {
      throw new FormatError(`${what}: frame ${fr.k + 1} is shifted within its plane relative to the others (a tilted or cropped stack); not supported`);
    }
  }
  const nz = Math.round((distinct[distinct.length - 1] - d0) / dz) + 1;
  const geometry: Geometry = validateGeometry(
    { dims: [fmt.columns, fmt.rows, nz], spacingMm: [ps[1], ps[0], dz], originLpsMm: [first.ipp[0], first.ipp[1], first.ipp[2]], direction: [...row, ...col, ...n] as unknown as Mat3ColMajor },
    what,
  );
  const plane = fmt.rows * fmt.columns;
  const occ = new Map<number, Uint8Array>();
  for (const s of segments.keys()) occ.set(s, new Uint8Array(plane * nz));
  const pixel = ds.get(TAG.PixelData);
  if (!pixel) throw new FormatError(`${what}: no Pixel Data`);
  const maxFrac = ds.number(TAG.MaximumFractionalValue) ?? 255;
  const targetOf = (num: number) => {
    let target = occ.get(num);
    if (!target) {
      target = new Uint8Array(plane * nz);
      occ.set(num, target);
      segments.set(num, { label: `segment ${num}` });
    }
    return target;
  };
  for (const [q, fr] of frames.entries()) {
    const off = Math.round((d[q] - d0) / dz) * plane;
    if (labelMap) {
      if (fmt.bitsAllocated !== 8 && fmt.bitsAllocated !== 16) throw new FormatError(`${what}: LABELMAP segmentation with ${fmt.bitsAllocated} bits allocated (must be 8 or 16)`);
      const v = frameStoredValues(ds, f.transferSyntaxUid, fr.k, fmt, `${what} frame ${fr.k + 1}`);
      for (let p = 0; p < plane; p++) {
        const num = v[p];
        if (num > 0) targetOf(num)[off + p] = 255;
      }
      continue;
    }
    const target = targetOf(fr.seg!);
    if (type === 'BINARY') {
      if (fmt.bitsAllocated !== 1) throw new FormatError(`${what}: BINARY segmentation with ${fmt.bitsAllocated} bits allocated (must be 1)`);
      if (pixel.fragments) throw new FormatError(`${what}: compressed BINARY segmentation; decompress it first with \`gdcmconv --raw in.dcm out.dcm\``);
      const bits = pixel.value;
      const startBit = fr.k * plane;
      if (bits.length * 8 < startBit + plane) throw new FormatError(`${what}: pixel data too short for ${fmt.numberOfFrames} frames; the file is truncated`);
      for (let p = 0; p < plane; p++) {
        const b = startBit + p;
        if ((bits[b >> 3] >> (b & 7)) & 1) target[off + p] = 255;
      }
    } else {
      const v = frameStoredValues(ds, f.transferSyntaxUid, fr.k, fmt, `${what} frame ${fr.k + 1}`);
      for (let p = 0; p < plane; p++) {
        const x = Math.round((255 * v[p]) / maxFrac);
        if (x > target[off + p]) target[off + p] = Math.min(255, x);
      }
    }
  }
  return [...occ.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([num, o]) => ({ name: segments.get(num)!.label, origin: `${what} segment ${num}`, geometry, occupancy: o, colorRgb: segments.get(num)!.color }));
}
