/**
 * DICOM SEG writer (src/io/dicom/seg-write.ts), LABELMAP SEG reader (src/io/dicom/seg.ts) and Encapsulated PDF
 * (src/io/dicom/encapsulated-pdf.ts), checked against the weights put in (not against the writer's own arithmetic),
 * with pydicom (scripts/check-seg.py rebuilds the volume from the frames' positions), dciodvfy and the engine's reader.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.ts';
import { dicomLabToRgb, rgbToDicomLab } from '../../src/io/dicom/seg.ts';
import { encodeDicomSeg, readDicomSegmentation, encodeEncapsulatedPdf, segmentCodes, type DicomSegStructure } from '../../src/io/dicom/index.ts';
import { type Geometry, type Mat3ColMajor, worldToIndex, indexToWorld } from '../../src/volume/geometry.ts';
import { pydicomAvailable, tempDir, which } from './helpers.ts';

const CHECK = fileURLToPath(new URL('../../../../scripts/check-seg.py', import.meta.url));
const py = pydicomAvailable();
if (!py.ok) console.warn(`skipping pydicom checks of DICOM SEG: ${py.reason}`);
const dciodvfy = which('dciodvfy');
if (!dciodvfy) console.warn('skipping dciodvfy checks of DICOM SEG and Encapsulated PDF: dciodvfy is not installed (apt-get install dicom3tools)');

/** An oblique, anisotropic grid (30 degrees about z, then 10 about x), optionally left-handed (as the RT Dose tests). */
function obliqueGrid(leftHanded: boolean): Geometry {
  const a = Math.PI / 6, b = Math.PI / 18;
  const rz = [Math.cos(a), Math.sin(a), 0, -Math.sin(a), Math.cos(a), 0, 0, 0, 1];
  const c0 = [rz[0], rz[1] * Math.cos(b), rz[1] * Math.sin(b)];
  const c1 = [rz[3], rz[4] * Math.cos(b), rz[4] * Math.sin(b)];
  const c2 = [0, -Math.sin(b), Math.cos(b)].map((x) => (leftHanded ? -x : x));
  return { dims: [7, 5, 6], spacingMm: [2.5, 3.25, 4.1], originLpsMm: [-12.5, 30.75, 101.2], direction: [...c0, ...c1, ...c2] as unknown as Mat3ColMajor };
}

/**
 * Three structures with index-encoded weights (every voxel's weight differs, so a flip or permutation shows), each
 * on some slices only (sparse frames), one of them empty when binary (all weights below 0.5).
 */
function structures(g: Geometry): DicomSegStructure[] {
  const [nx, ny, nz] = g.dims;
  const make = (name: string, role: string, derived: boolean, keep: (i: number, j: number, k: number) => boolean, w: (q: number) => number): DicomSegStructure => {
    const idx: number[] = [];
    const wt: number[] = [];
    for (let k = 0; k < nz; k++) for (let j = 0; j < ny; j++) for (let i = 0; i < nx; i++) {
      if (!keep(i, j, k)) continue;
      const q = i + nx * (j + ny * k);
      idx.push(q);
      wt.push(w(q));
    }
    return { name, role, derived, voxelIndices: Uint32Array.from(idx), weights: Float32Array.from(wt), colorRgb: [0.2, 0.6, 0.9] };
  };
  return [
    make('Liver', 'liver', false, (i, j, k) => k >= 1 && k <= 4 && i >= 1 && j >= 1, (q) => ((q * 37) % 100 + 1) / 101),
    make('Tumor A', 'tumor', false, (i, j, k) => k === 2 && i >= 2 && i <= 4 && j >= 2, (q) => (q % 3 === 0 ? 1 : q % 3 === 1 ? 0.5 : 0.75)), // 0.5 exactly: in when binary
    make('Normal liver', 'normal-liver', true, (i, j, k) => k === 5 && i < 3, () => 0.3),
  ];
}

/** Weight of structure s at voxel q (0 where it has none). */
function weightAt(s: DicomSegStructure, q: number): number {
  let lo = 0, hi = s.voxelIndices.length - 1;
  while (lo <= hi) {
    const m = (lo + hi) >> 1;
    if (s.voxelIndices[m] === q) return s.weights[m];
    if (s.voxelIndices[m] < q) lo = m + 1;
    else hi = m - 1;
  }
  return 0;
}

function pyCheck(args: string[]): Record<string, any> {
  const r = spawnSync('/usr/bin/python3', [CHECK, ...args], { encoding: 'utf8' });
  expect(r.status, r.stderr + r.stdout).toBe(0);
  return JSON.parse(r.stdout);
}

function dciodvfyErrors(path: string): string[] {
  const r = spawnSync(dciodvfy!, [path], { encoding: 'utf8' });
  const text = `${r.stdout}\n${r.stderr}`;
  return text.split('\n').filter((l) => /^Error/.test(l));
}

describe('encodeDicomSeg', () => {
  const dir = tempDir('seg-write-');
  for (const leftHanded of [false, true]) {
    for (const type of ['BINARY', 'FRACTIONAL'] as const) {
      const tag = `${type.toLowerCase()}, ${leftHanded ? 'left' : 'right'}-handed oblique grid`;
      const g = obliqueGrid(leftHanded);
      const st = structures(g);
      const expected = (s: DicomSegStructure, q: number) => {
        const w = weightAt(s, q);
        return type === 'BINARY' ? (w >= 0.5 ? 1 : 0) : w;
      };
      const path = join(dir, `seg-${type}-${leftHanded}.dcm`);
      const res = encodeDicomSeg(g, st, { segmentationType: type });
      writeFileSync(path, res.bytes);

      it(`writes sparse frames and the right segments (${tag})`, () => {
        expect(res.segmentationType).toBe(type);
        // a frame per (segment, slice) holding a nonzero stored value; derived "Normal liver" (0.3) is empty when binary
        const [nx, ny, nz] = g.dims;
        let frames = 0;
        const kept = st.filter((s) => {
          let any = false;
          for (let k = 0; k < nz; k++) {
            let slice = false;
            for (let p = 0; p < nx * ny; p++) slice ||= expected(s, p + k * nx * ny) > (type === 'BINARY' ? 0 : 0.5 / 255);
            if (slice) frames++;
            any ||= slice;
          }
          return any;
        });
        expect(res.frameCount).toBe(frames);
        expect(res.segments.map((s) => s.label)).toEqual(kept.map((s) => s.name));
        expect(res.omitted).toEqual(type === 'BINARY' ? ['Normal liver'] : []);
      });

      it(`is read back by the engine at the same world positions (${tag})`, async () => {
        const masks = await readDicomSegmentation(path);
        expect(masks.map((m) => m.name)).toEqual(res.segments.map((s) => s.label));
        const [nx, ny, nz] = g.dims;
        for (const m of masks) {
          const s = st.find((x) => x.name === m.name)!;
          let inside = 0;
          for (let k = 0; k < nz; k++) for (let j = 0; j < ny; j++) for (let i = 0; i < nx; i++) {
            const q = i + nx * (j + ny * k);
            const wld = indexToWorld(g, i, j, k);
            const [a, b, c] = worldToIndex(m.geometry, wld[0], wld[1], wld[2]).map((x) => Math.round(x));
            const [mx, my, mz] = m.geometry.dims;
            const got = a >= 0 && b >= 0 && c >= 0 && a < mx && b < my && c < mz ? m.occupancy[a + mx * (b + my * c)] : 0;
            const want = expected(s, q);
            // FRACTIONAL: stored round(255 w) of 255, read as occupancy 0..255: within half a step of 255 w
            if (type === 'BINARY') expect(got, `${m.name} ${i},${j},${k}`).toBe(want ? 255 : 0);
            else expect(Math.abs(got - 255 * want), `${m.name} ${i},${j},${k}`).toBeLessThanOrEqual(0.5 + 1e-4);
            if (got) inside++;
          }
          expect(inside).toBeGreaterThan(0);
        }
      });

      it.skipIf(!py.ok)(`is read by pydicom and rebuilt from the frame positions (${tag})`, () => {
        const gridPath = join(dir, `grid-${type}-${leftHanded}.json`);
        const valuesPath = join(dir, `values-${type}-${leftHanded}.json`);
        writeFileSync(gridPath, JSON.stringify(g));
        const out = pyCheck([path, '--grid', gridPath, '--values', valuesPath]);
        expect(out.sopClassUid).toBe('1.2.840.10008.5.1.4.1.1.66.4');
        expect(out.modality).toBe('SEG');
        expect(out.segmentationType).toBe(type);
        expect(out.bitsAllocated).toBe(type === 'BINARY' ? 1 : 8);
        if (type === 'FRACTIONAL') {
          expect(out.fractionalType).toBe('PROBABILITY');
          expect(out.maximumFractionalValue).toBe(255);
        }
        expect(out.framesOffGrid).toEqual([]);
        expect(out.numberOfFrames).toBe(res.frameCount);
        const byLabel = Object.fromEntries(out.segments.map((s: any) => [s.label, s]));
        expect(byLabel['Liver'].type).toEqual(['10200004', 'SCT', 'Liver']);
        expect(byLabel['Liver'].category).toEqual(['123037004', 'SCT', 'Anatomical Structure']);
        expect(byLabel['Liver'].algorithmType).toBe('MANUAL');
        expect(byLabel['Tumor A'].category).toEqual(['49755003', 'SCT', 'Morphologically Altered Structure']);
        expect(byLabel['Tumor A'].type).toEqual(['108369006', 'SCT', 'Neoplasm']);
        if (type === 'FRACTIONAL') {
          expect(byLabel['Normal liver'].algorithmType).toBe('AUTOMATIC');
          expect(byLabel['Normal liver'].algorithmName).toBe('sirt-dosimetry');
        }
        const values: Record<string, number[]> = JSON.parse(readFileSync(valuesPath, 'utf8'));
        for (const [label, vol] of Object.entries(values)) {
          const s = st.find((x) => x.name === label)!;
          let maxErr = 0;
          vol.forEach((v, q) => (maxErr = Math.max(maxErr, Math.abs(v - expected(s, q)))));
          // BINARY exact; FRACTIONAL: round(255 w) / 255 is within 1/510 of w
          expect(maxErr, label).toBeLessThanOrEqual(type === 'BINARY' ? 0 : 1 / 510 + 1e-6);
        }
      });

      it.skipIf(!dciodvfy)(`has no errors under dciodvfy (${tag})`, () => {
        expect(dciodvfyErrors(path)).toEqual([]);
      });
    }
  }

  it('references source instances per frame (the slab of each slice) and keeps the study identity', () => {
    const g: Geometry = { dims: [4, 3, 3], spacingMm: [2, 2, 5], originLpsMm: [0, 0, 10], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] as unknown as Mat3ColMajor };
    const all = Uint32Array.from({ length: 36 }, (_, q) => q);
    const ctSlices = [7.6, 10, 12.4, 15, 17.4, 20, 22.6].map((z, n) => ({ sopClassUid: '1.2.840.10008.5.1.4.1.1.2', sopInstanceUid: `1.2.3.9.${n}`, imagePositionPatient: [0, 0, z] as const }));
    const res = encodeDicomSeg(g, [{ name: 'Liver', role: 'liver', voxelIndices: all, weights: new Float32Array(36).fill(1) }], {
      identity: { studyInstanceUid: '1.2.3', frameOfReferenceUid: '1.2.3.5', patientId: 'P1', patientName: 'Doe^J' },
      sources: [
        { seriesInstanceUid: '1.2.3.6', studyInstanceUid: '1.2.3', instances: [{ sopClassUid: '1.2.840.10008.5.1.4.1.1.20', sopInstanceUid: '1.2.3.7' }] },
        { seriesInstanceUid: '1.2.3.8', studyInstanceUid: '1.2.3', instances: ctSlices },
      ],
    });
    expect(res.studyInstanceUid).toBe('1.2.3');
    expect(res.frameOfReferenceUid).toBe('1.2.3.5');
    const path = join(tempDir('seg-ref-'), 'seg.dcm');
    writeFileSync(path, res.bytes);
    if (py.ok) {
      const out = pyCheck([path]);
      expect(out.patientId).toBe('P1');
      expect(out.framesWithSourceReferences).toBe(3);
      // slabs [7.5, 12.5), [12.5, 17.5), [17.5, 22.5): every CT slice but the one at 22.6 mm, and the NM instance
      expect(out.frameSourceInstances).toEqual(['1.2.3.7', ...ctSlices.slice(0, 6).map((s) => s.sopInstanceUid)].sort());
      expect(out.commonReferencedInstances).toEqual(['1.2.3.7', ...ctSlices.map((s) => s.sopInstanceUid)].sort());
    }
    if (dciodvfy) expect(dciodvfyErrors(path)).toEqual([]);
  });

  it('refuses weights outside 0..1 and structure sets with nothing to write', () => {
    const g = obliqueGrid(false);
    expect(() => encodeDicomSeg(g, [{ name: 'X', voxelIndices: Uint32Array.of(1), weights: Float32Array.of(1.5) }])).toThrow(InputError);
    expect(() => encodeDicomSeg(g, [{ name: 'X', voxelIndices: Uint32Array.of(1), weights: Float32Array.of(0.2) }], { segmentationType: 'BINARY' })).toThrow(/nothing to write/);
  });

  it('chooses FRACTIONAL only when a weight lies strictly between 0 and 1', () => {
    const g = obliqueGrid(false);
    expect(encodeDicomSeg(g, [{ name: 'X', voxelIndices: Uint32Array.of(1, 2), weights: Float32Array.of(1, 1) }]).segmentationType).toBe('BINARY');
    expect(encodeDicomSeg(g, [{ name: 'X', voxelIndices: Uint32Array.of(1, 2), weights: Float32Array.of(1, 0.6) }]).segmentationType).toBe('FRACTIONAL');
  });

  it('codes structures by name when it says what they are, else by role', () => {
    expect(segmentCodes('lung', 'L').type.value).toBe('39607008');
    expect(segmentCodes('other', 'Lung left').type.value).toBe('39607008');
    expect(segmentCodes('perfused', 'Right lobe').type.value).toBe('10200004');
    expect(segmentCodes('other', 'Aorta').type.value).toBe('85756007');
    expect(segmentCodes('liver', 'Lung').type.value).toBe('39607008'); // the name says what it is
    expect(segmentCodes('tumor', 'Segment 4').type.value).toBe('108369006');
    expect(segmentCodes('other', 'Liver lesion 2').type.value).toBe('108369006');
  });

  it('converts colours to DICOM CIELab and back (CIE 15 round trip)', () => {
    for (const rgb of [[0, 0, 0], [1, 1, 1], [0.2, 0.6, 0.9], [0.945, 0.839, 0.569], [1, 0, 0]]) {
      const back = dicomLabToRgb(rgbToDicomLab(rgb));
      // 16-bit Lab quantisation and the 4-digit sRGB matrices: within 0.01 per channel
      back.forEach((v, i) => expect(Math.abs(v - rgb[i]), `${rgb}`).toBeLessThan(0.01));
    }
    // white is L* 100, a* b* 0: (65535, 128/255 x 65535, same)
    expect(rgbToDicomLab([1, 1, 1])[0]).toBeGreaterThan(65500);
    expect(Math.abs(rgbToDicomLab([1, 1, 1])[1] - (128 / 255) * 65535)).toBeLessThan(40);
  });
});

describe('LABELMAP DICOM SEG (Supplement 243) made with pydicom', () => {
  it.skipIf(!py.ok)('is read to the expected labels and voxels', async () => {
    const dir = tempDir('seg-labelmap-');
    const path = join(dir, 'labelmap.dcm');
    // A 3-frame 16-bit label map, 5 columns x 4 rows, 2 mm pixels, 3 mm slices, axial; pixel value = segment number.
    const script = `
import numpy as np, pydicom, sys
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRLittleEndian, generate_uid
def item(**kw):
    d = Dataset()
    for k, v in kw.items(): setattr(d, k, v)
    return d
def code(v, s, m): return item(CodeValue=v, CodingSchemeDesignator=s, CodeMeaning=m)
ds = Dataset()
ds.file_meta = FileMetaDataset()
ds.file_meta.MediaStorageSOPClassUID = '1.2.840.10008.5.1.4.1.1.66.7'
ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
ds.SOPClassUID = '1.2.840.10008.5.1.4.1.1.66.7'
ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
ds.Modality = 'SEG'; ds.PatientID = 'LM1'; ds.StudyInstanceUID = generate_uid(); ds.SeriesInstanceUID = generate_uid()
ds.FrameOfReferenceUID = generate_uid()
ds.SegmentationType = 'LABELMAP'
ds.Rows, ds.Columns, ds.NumberOfFrames = 4, 5, 3
ds.SamplesPerPixel = 1; ds.PhotometricInterpretation = 'MONOCHROME2'
ds.BitsAllocated = 16; ds.BitsStored = 16; ds.HighBit = 15; ds.PixelRepresentation = 0
ds.SegmentSequence = Sequence([
  item(SegmentNumber=1, SegmentLabel='Liver', SegmentAlgorithmType='MANUAL',
       SegmentedPropertyCategoryCodeSequence=Sequence([code('123037004','SCT','Anatomical Structure')]),
       SegmentedPropertyTypeCodeSequence=Sequence([code('10200004','SCT','Liver')])),
  item(SegmentNumber=2, SegmentLabel='Tumor', SegmentAlgorithmType='MANUAL',
       SegmentedPropertyCategoryCodeSequence=Sequence([code('49755003','SCT','Morphologically Altered Structure')]),
       SegmentedPropertyTypeCodeSequence=Sequence([code('108369006','SCT','Neoplasm')])),
  item(SegmentNumber=300, SegmentLabel='Lung', SegmentAlgorithmType='MANUAL',
       SegmentedPropertyCategoryCodeSequence=Sequence([code('123037004','SCT','Anatomical Structure')]),
       SegmentedPropertyTypeCodeSequence=Sequence([code('39607008','SCT','Lung')])),
])
shared = item(PixelMeasuresSequence=Sequence([item(PixelSpacing=[2, 2], SliceThickness=3, SpacingBetweenSlices=3)]),
              PlaneOrientationSequence=Sequence([item(ImageOrientationPatient=[1, 0, 0, 0, 1, 0])]))
ds.SharedFunctionalGroupsSequence = Sequence([shared])
# frames listed out of slice order (z = 16, 10, 13) to check placement by position
zs = [16.0, 10.0, 13.0]
ds.PerFrameFunctionalGroupsSequence = Sequence([item(PlanePositionSequence=Sequence([item(ImagePositionPatient=[-4.0, 6.0, z])])) for z in zs])
vol = np.zeros((3, 4, 5), dtype=np.uint16)
k = {10.0: 0, 13.0: 1, 16.0: 2}
for f, z in enumerate(zs):
    for j in range(4):
        for i in range(5):
            kk = k[z]
            vol[f, j, i] = 1 if (i + j + kk) % 3 == 0 else 2 if (i * j + kk) % 4 == 1 else 300 if i == 4 and j == 3 and kk == 2 else 0
ds.PixelData = vol.tobytes()
ds.save_as(sys.argv[1], write_like_original=False)
`;
    const r = spawnSync('/usr/bin/python3', ['-c', script, path], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const masks = await readDicomSegmentation(path);
    expect(masks.map((m) => m.name)).toEqual(['Liver', 'Tumor', 'Lung']);
    for (const m of masks) {
      expect(m.geometry.dims).toEqual([5, 4, 3]);
      expect(m.geometry.spacingMm).toEqual([2, 2, 3]);
      expect(m.geometry.originLpsMm).toEqual([-4, 6, 10]);
    }
    const want = (i: number, j: number, k: number) => ((i + j + k) % 3 === 0 ? 1 : (i * j + k) % 4 === 1 ? 2 : i === 4 && j === 3 && k === 2 ? 300 : 0);
    for (let k = 0; k < 3; k++) for (let j = 0; j < 4; j++) for (let i = 0; i < 5; i++) {
      const q = i + 5 * (j + 4 * k);
      [1, 2, 300].forEach((num, n) => expect(masks[n].occupancy[q], `${masks[n].name} at ${i},${j},${k}`).toBe(want(i, j, k) === num ? 255 : 0));
    }
  });
});

describe('encodeEncapsulatedPdf', () => {
  const pdf = new TextEncoder().encode('%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n'); // odd length: 77 bytes
  it('wraps the PDF bytes unchanged, in the given study', () => {
    expect(pdf.length % 2).toBe(1);
    const res = encodeEncapsulatedPdf(pdf, { identity: { studyInstanceUid: '1.2.3', patientId: 'P9', patientName: 'Doe^J' } });
    expect(res.studyInstanceUid).toBe('1.2.3');
    const dir = tempDir('encapsulated-pdf-');
    const path = join(dir, 'report.dcm');
    writeFileSync(path, res.bytes);
    if (py.ok) {
      const outPdf = join(dir, 'back.pdf');
      const out = pyCheck(['--pdf', path, '--pdf-out', outPdf]);
      expect(out).toMatchObject({ sopClassUid: '1.2.840.10008.5.1.4.1.1.104.1', modality: 'DOC', mimeType: 'application/pdf', length: pdf.length, studyInstanceUid: '1.2.3', patientId: 'P9' });
      expect(Buffer.compare(readFileSync(outPdf), Buffer.from(pdf))).toBe(0);
    }
    if (dciodvfy) expect(dciodvfyErrors(path)).toEqual([]);
  });
  it('refuses bytes that are not a PDF', () => {
    expect(() => encodeEncapsulatedPdf(new TextEncoder().encode('hello'))).toThrow(InputError);
  });
});
