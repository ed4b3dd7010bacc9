/**
 * One patient, one Frame of Reference: the activity image, the CT and every DICOM segmentation (RTSTRUCT, SEG) of a
 * case are compared by Patient ID and Frame of Reference UID; a mismatch is refused with both values and both files
 * named, or, with --allow-mismatched-dicom, used with a warning recorded in report.json. Synthetic DICOM files run
 * everywhere; edited copies of the real study run when ../shared/data is present (skipped with a printed reason).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkDicomConsistency, readSegmentationIdentity, type DicomInputIdentity } from '../../src/dose/dicom-consistency.ts';
import { InputError } from '../../src/errors.ts';
import { DicomDataset } from '../../src/io/dicom/parser.ts';
import { SOP_CLASS, TAG } from '../../src/io/dicom/tags.ts';
import { dataset, put, writePart10 } from '../../src/io/dicom/writer.ts';
import { encodeNifti } from '../../src/io/nifti.ts';
import { IDENTITY_DIRECTION, type Geometry } from '../../src/volume/geometry.ts';
import { makeVolume } from '../../src/volume/volume.ts';
import { HAS_STUDY, STUDY, type CliRun, editCopy, runMain, studyFiles, tempDir, warnNoStudy } from './helpers.ts';

warnNoStudy();

/** An RT Structure Set with one square ROI (20 mm, planes z = 2..10 mm), in `frameOfReferenceUid`. */
function writeRtStruct(path: string, o: { patientId: string; frameOfReferenceUid: string; name: string }): void {
  const ds = dataset([
    [TAG.SOPClassUID, SOP_CLASS.rtStruct],
    [TAG.SOPInstanceUID, '2.25.1001'],
    [TAG.Modality, 'RTSTRUCT'],
    [TAG.PatientID, o.patientId],
  ]);
  put(ds, TAG.ReferencedFrameOfReferenceSequence, [dataset([[TAG.FrameOfReferenceUID, o.frameOfReferenceUid]])]);
  put(ds, TAG.StructureSetROISequence, [dataset([[TAG.ROINumber, '1'], [TAG.ROIName, o.name], [TAG.ReferencedFrameOfReferenceUID, o.frameOfReferenceUid]])]);
  const sq = (z: number) => [0, 0, z, 20, 0, z, 20, 16, z, 0, 16, z];
  const item = dataset([[TAG.ReferencedROINumber, '1'], [TAG.ROIDisplayColor, ['255', '0', '0']]]);
  put(item, TAG.ContourSequence, [2, 6, 10].map((z) => dataset([[TAG.ContourGeometricType, 'CLOSED_PLANAR'], [TAG.NumberOfContourPoints, '4'], [TAG.ContourData, sq(z)]])));
  put(ds, TAG.ROIContourSequence, [item]);
  writeFileSync(path, writePart10(ds));
}

/** A FRACTIONAL DICOM SEG with one segment: 4 x 3 pixels of 4 mm on planes z = 0, 4, 8 mm, all full. */
function writeSeg(path: string, o: { patientId: string; frameOfReferenceUid: string; name: string; originLpsMm?: readonly number[] }): void {
  const [x0, y0, z0] = o.originLpsMm ?? [0, 0, 0];
  const ds = dataset([
    [TAG.SOPClassUID, SOP_CLASS.seg],
    [TAG.SOPInstanceUID, '2.25.1002'],
    [TAG.Modality, 'SEG'],
    [TAG.PatientID, o.patientId],
    [TAG.FrameOfReferenceUID, o.frameOfReferenceUid],
    [TAG.SegmentationType, 'FRACTIONAL'],
    [TAG.Rows, 3],
    [TAG.Columns, 4],
    [TAG.NumberOfFrames, '3'],
    [TAG.BitsAllocated, 8],
    [TAG.BitsStored, 8],
    [TAG.HighBit, 7],
    [TAG.PixelRepresentation, 0],
    [TAG.SamplesPerPixel, 1],
  ]);
  put(ds, TAG.MaximumFractionalValue, 255);
  put(ds, TAG.SegmentSequence, [dataset([[TAG.SegmentNumber, 1], [TAG.SegmentLabel, o.name]])]);
  const shared = new DicomDataset();
  put(shared, TAG.PlaneOrientationSequence, [dataset([[TAG.ImageOrientationPatient, [1, 0, 0, 0, 1, 0]]])]);
  put(shared, TAG.PixelMeasuresSequence, [dataset([[TAG.PixelSpacing, [4, 4]], [TAG.SliceThickness, 4], [TAG.SpacingBetweenSlices, 4]])]);
  put(ds, TAG.SharedFunctionalGroupsSequence, [shared]);
  put(ds, TAG.PerFrameFunctionalGroupsSequence, [0, 4, 8].map((z) => {
    const fg = new DicomDataset();
    put(fg, TAG.PlanePositionSequence, [dataset([[TAG.ImagePositionPatient, [x0, y0, z0 + z]]])]);
    put(fg, TAG.SegmentIdentificationSequence, [dataset([[TAG.ReferencedSegmentNumber, 1]])]);
    return fg;
  }));
  put(ds, TAG.PixelData, new Uint8Array(36).fill(255), 'OB');
  writeFileSync(path, writePart10(ds));
}

const readReport = (out: string) => JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));
function expectRefused(r: CliRun, out: string, ...res: RegExp[]): void {
  expect(r.code, r.stderr).not.toBe(0);
  const lines = r.stderr.trim().split('\n');
  expect(lines, r.stderr).toHaveLength(1);
  for (const re of res) expect(lines[0]).toMatch(re);
  expect(existsSync(out)).toBe(false);
}

describe('reading the identity of DICOM segmentations', () => {
  const dir = tempDir('dicom-id-');
  it('RTSTRUCT: Patient ID and the Referenced Frame of Reference (sequence and ROIs); SEG: its own', async () => {
    writeRtStruct(join(dir, 'rs.dcm'), { patientId: 'P1', frameOfReferenceUid: '1.2.3.4', name: 'Liver' });
    writeSeg(join(dir, 'seg.dcm'), { patientId: 'P2', frameOfReferenceUid: '1.2.3.5', name: 'Liver' });
    expect(await readSegmentationIdentity(join(dir, 'rs.dcm'))).toMatchObject({ kind: 'RTSTRUCT', patientId: 'P1', frameOfReferenceUids: ['1.2.3.4'] });
    expect(await readSegmentationIdentity(join(dir, 'seg.dcm'))).toMatchObject({ kind: 'SEG', patientId: 'P2', frameOfReferenceUids: ['1.2.3.5'] });
  });

  const id = (role: string, path: string, patientId: string | undefined, ...uids: string[]): DicomInputIdentity => ({ role, path, kind: 'X', patientId, frameOfReferenceUids: uids });
  it('compares every pair; missing values are not a mismatch; the override turns errors into warnings without the IDs', () => {
    expect(checkDicomConsistency([id('activity image', 'a', 'P1', '1.1'), id('CT', 'c', undefined), id('segmentation', 's', 'P1', '9.9', '1.1')]).warnings).toEqual([]);
    expect(() => checkDicomConsistency([id('activity image', 'a', 'P1', '1.1'), id('CT', 'c', 'P1', '2.2')])).toThrow(InputError);
    expect(() => checkDicomConsistency([id('activity image', 'a', 'P1', '1.1'), id('CT', 'c', 'P1', '2.2')])).toThrow(/the activity image a \(X\) and the CT c \(X\) are in different Frames of Reference \(1\.1 and 2\.2\)/);
    expect(() => checkDicomConsistency([id('activity image', 'a', 'P1'), id('segmentation', 's', 'P7')])).toThrow(/belong to different patients \(Patient ID "P1" and "P7"\).*--allow-mismatched-dicom/);
    const ok = checkDicomConsistency([id('activity image', 'a', 'P1', '1.1'), id('segmentation', 's', 'P7', '2.2')], true);
    expect(ok.warnings).toHaveLength(2);
    expect(ok.warnings.join(' ')).not.toMatch(/P1|P7/);
    expect(ok.provenance).toEqual({ inputsCompared: 2, mismatches: 2, allowMismatchedDicom: true });
  });
});

describe('DICOM segmentations of two Frames of Reference through main([...])', () => {
  // NIfTI activity (no DICOM identity) and two DICOM segmentations that disagree with each other.
  const root = tempDir('dicom-two-frames-');
  const g: Geometry = { dims: [8, 6, 4], spacingMm: [4, 4, 4], originLpsMm: [0, 0, 0], direction: IDENTITY_DIRECTION };
  writeFileSync(join(root, 'act.nii'), encodeNifti(makeVolume(g, new Float32Array(8 * 6 * 4).fill(1000)), { gzip: false }));
  writeSeg(join(root, 'liver-seg.dcm'), { patientId: 'P1', frameOfReferenceUid: '2.25.111', name: 'Liver', originLpsMm: [4, 4, 0] });
  writeRtStruct(join(root, 'tumor-rs.dcm'), { patientId: 'P1', frameOfReferenceUid: '2.25.222', name: 'Tumor' });
  const argv = (out: string, flags: string[] = []) => ['dose', '--activity', join(root, 'act.nii'), '--activity-unit', 'bq-per-ml', '--scan-delay-h', '0',
    '--segmentation', join(root, 'liver-seg.dcm'), '--segmentation', join(root, 'tumor-rs.dcm'), '--liver', 'Liver', '--tumor', 'Tumor',
    '--isotope', 'Y90', '--method', 'ldm', '--backend', 'cpu', '--out', out, '--quiet', ...flags];

  it('refused, naming both UIDs and both files', async () => {
    const out = join(root, 'out-refused');
    expectRefused(await runMain(argv(out)), out, /liver-seg\.dcm \(SEG\) and the segmentation .*tumor-rs\.dcm \(RTSTRUCT\) are in different Frames of Reference \(2\.25\.111 and 2\.25\.222\)/, /--allow-mismatched-dicom/);
  });

  it('--allow-mismatched-dicom: computed, with the warning in report.json', async () => {
    const out = join(root, 'out-allowed');
    const r = await runMain(argv(out, ['--allow-mismatched-dicom']));
    expect(r.code, r.stderr).toBe(0);
    expect(readReport(out).warnings.join('\n')).toMatch(/different Frames of Reference \(2\.25\.111 and 2\.25\.222\); used anyway.*--allow-mismatched-dicom/);
  });
});

describe.skipIf(!HAS_STUDY)('the real study with edited copies through main([...])', () => {
  const FOR = '2.25.31415926';
  /** NM + RTSTRUCT (+ CT) of the study, with overrides (the Lung takes the liver role: the study is thoracic). */
  const argv = (out: string, over: { rtstruct?: string; ct?: string } = {}, flags: string[] = []) => [
    'dose', '--activity', `${STUDY}NM`, '--activity-unit', 'counts', '--administered-gbq', '2', '--segmentation', over.rtstruct ?? `${STUDY}RTSTRUCT`,
    '--liver', 'Lung', ...(over.ct ? ['--ct', over.ct] : []), '--isotope', 'Y90', '--method', 'ldm', '--backend', 'cpu', '--out', out, '--quiet', ...flags,
  ];
  const rtstructCopy = (dir: string, edit: (ds: DicomDataset) => void) => {
    mkdirSync(dir, { recursive: true });
    const src = studyFiles('RTSTRUCT')[0];
    const dst = join(dir, basename(src));
    editCopy(src, dst, edit);
    return dst;
  };
  const otherFrame = (ds: DicomDataset) => {
    for (const item of ds.sequence(TAG.ReferencedFrameOfReferenceSequence)) put(item, TAG.FrameOfReferenceUID, FOR);
    for (const roi of ds.sequence(TAG.StructureSetROISequence)) put(roi, TAG.ReferencedFrameOfReferenceUID, FOR);
  };

  it('the study as it is: 3 inputs compared, no mismatch', async () => {
    const out = join(tempDir('dicom-same-'), 'out');
    const r = await runMain(argv(out, { ct: `${STUDY}CT` }));
    expect(r.code, r.stderr).toBe(0);
    expect(readReport(out).provenance.parameters.dicom.consistency).toEqual({ inputsCompared: 3, mismatches: 0, allowMismatchedDicom: false });
  });

  it('an RTSTRUCT of another patient is refused, naming both Patient IDs and files', async () => {
    const root = tempDir('dicom-other-patient-');
    const rs = rtstructCopy(join(root, 'rs'), (ds) => put(ds, TAG.PatientID, 'SOMEONE-ELSE'));
    const out = join(root, 'out');
    expectRefused(await runMain(argv(out, { rtstruct: rs })), out, /the activity image .*NM \(NM\) and the segmentation .*rs\/.*\(RTSTRUCT\) belong to different patients \(Patient ID "ANON60446" and "SOMEONE-ELSE"\)/);
  });

  it('an RTSTRUCT of another Frame of Reference is refused; --allow-mismatched-dicom computes it with a warning in report.json', async () => {
    const root = tempDir('dicom-other-frame-');
    const rs = rtstructCopy(join(root, 'rs'), otherFrame);
    const out = join(root, 'out');
    expectRefused(await runMain(argv(out, { rtstruct: rs })), out, new RegExp(`different Frames of Reference \\(2\\.16\\.840\\.1\\.114362\\.1\\.11972228\\.23084913181\\.578483695\\.325\\.188 and ${FOR.replace(/\./g, '\\.')}\\): .*structures would land in the wrong place`));
    const out2 = join(root, 'out2');
    const r = await runMain(argv(out2, { rtstruct: rs }, ['--allow-mismatched-dicom']));
    expect(r.code, r.stderr).toBe(0);
    const rep = readReport(out2);
    expect(rep.warnings.join('\n')).toMatch(/\(RTSTRUCT\) are in different Frames of Reference .*used anyway.*--allow-mismatched-dicom/);
    expect(rep.provenance.parameters.dicom.consistency).toEqual({ inputsCompared: 2, mismatches: 1, allowMismatchedDicom: true });
  });

  it('a CT of another Frame of Reference is refused (it was a warning only)', async () => {
    const root = tempDir('dicom-ct-frame-');
    const ctDir = join(root, 'ct');
    mkdirSync(ctDir);
    for (const f of studyFiles('CT').slice(30, 38)) editCopy(f, join(ctDir, basename(f)), (ds) => put(ds, TAG.FrameOfReferenceUID, FOR));
    const out = join(root, 'out');
    expectRefused(await runMain(argv(out, { ct: ctDir })), out, new RegExp(`the activity image .* and the CT .*ct \\(CT\\) are in different Frames of Reference \\(.*325\\.188 and ${FOR.replace(/\./g, '\\.')}\\)`));
  });
});
