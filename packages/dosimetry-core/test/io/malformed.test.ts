/**
 * "No silent wrong answer": malformed files and unusual paths each give one typed error naming the path and the
 * problem, never a volume read from the wrong bytes, an untyped error, or a hang.
 *  - NRRD data longer than the header describes (raw, gzip, ascii, detached), and invalid `byte skip` / `line skip`;
 *  - NIfTI with a corrupt sizeof_hdr;
 *  - a symbolic link loop, a FIFO, a folder, an unreadable file as the input path.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DosimetryError, FileError, FormatError } from '../../src/errors.ts';
import { readDicomVolume } from '../../src/io/dicom/index.ts';
import { decodeNifti, fileProblemOf, readSegmentation, readVolume } from '../../src/io/index.ts';
import { gz, nifti2Bytes, niftiBytes, nrrdBytes, pack, tempDir, nrrdHeaderLines } from './helpers.ts';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const dir = tempDir('malformed');
const values = Array.from({ length: 4 * 3 * 2 }, (_v, i) => i + 0.5);
const body = pack(values, 'float32'); // 96 bytes
const head = nrrdHeaderLines;
const cat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) (out.set(p, o), (o += p.length));
  return out;
};
const junk = (n: number) => new Uint8Array(n).map((_v, i) => (i * 37 + 11) & 255);

/** Writes `bytes` to `name` in the temp folder and reads it; returns the volume's values or the error. */
async function read(name: string, bytes: Uint8Array | string): Promise<number[] | Error> {
  const p = join(dir, name);
  writeFileSync(p, bytes);
  return readVolume(p).then(
    (v) => Array.from(v.data),
    (e: Error) => e,
  );
}

function expectError(r: number[] | Error, type: new (...a: never[]) => DosimetryError, message: RegExp): void {
  expect(r, 'must not be read').toBeInstanceOf(type);
  expect((r as Error).message).toMatch(message);
  expect((r as Error).message).not.toMatch(/\n/);
}

describe('NRRD: the data must hold exactly what the header describes', () => {
  it('reference: exact raw, gzip and ascii data read back', async () => {
    expect(await read('ok-raw.nrrd', nrrdBytes(head(), body))).toEqual(values);
    expect(await read('ok-gz.nrrd', nrrdBytes(head({ encoding: 'gzip' }), gz(body)))).toEqual(values);
    expect(await read('ok-ascii.nrrd', nrrdBytes(head({ encoding: 'ascii', endian: undefined }), Buffer.from(values.join(' '))))).toEqual(values);
  });

  it('raw data with more bytes than sizes x type is refused (it would be read from its first bytes)', async () => {
    const r = await read('extra-raw.nrrd', nrrdBytes(head(), cat(body, junk(8))));
    expectError(r, FormatError, /extra-raw\.nrrd: NRRD data holds 104 bytes but the header \(sizes 4x3x2 of float\) describes 96.*byte skip: -1/);
    // a header that says int16 for float data: twice the bytes the header describes
    expectError(await read('wrong-type.nrrd', nrrdBytes(head({ type: 'short' }), body)), FormatError, /holds 96 bytes .*sizes 4x3x2 of int16\) describes 48/);
  });

  it('gzip data whose decompressed length exceeds the header is refused', async () => {
    const r = await read('extra-gz.nrrd', nrrdBytes(head({ encoding: 'gzip' }), gz(cat(body, junk(4)))));
    expectError(r, FormatError, /NRRD data holds 100 bytes but the header .* describes 96/);
  });

  it('ascii data with more values than the sizes is refused', async () => {
    const r = await read('extra.nrrd', nrrdBytes(head({ encoding: 'ascii', endian: undefined }), Buffer.from([...values, 7, 8].join(' '))));
    expectError(r, FormatError, /ascii data has 26 values, sizes 4x3x2 need 24; the data is longer than the header says/);
  });

  it('byte skip: -1 takes the last bytes of raw data (NRRD spec); a positive skip skips a leading block exactly', async () => {
    expect(await read('skip-last.nrrd', nrrdBytes(head({ 'byte skip': '-1' }), cat(junk(40), body)))).toEqual(values);
    expect(await read('skip-8.nrrd', nrrdBytes(head({ 'byte skip': '8' }), cat(junk(8), body)))).toEqual(values);
    expect(await read('skip-gz.nrrd', nrrdBytes(head({ encoding: 'gzip', 'byte skip': '8' }), gz(cat(junk(8), body))))).toEqual(values);
    // skip of 8, but 16 bytes lead: the data would start 8 bytes early
    expectError(await read('skip-short.nrrd', nrrdBytes(head({ 'byte skip': '8' }), cat(junk(16), body))), FormatError, /holds 104 bytes after the 8 bytes of "byte skip"/);
    expectError(await read('skip-past.nrrd', nrrdBytes(head({ 'byte skip': '500' }), body)), FormatError, /"byte skip: 500" is beyond the end of the file \(96 bytes\)/);
  });

  it('byte skip: -1 with gzip, a negative skip other than -1, a fractional or non-numeric skip are refused', async () => {
    expectError(await read('skip-gz-1.nrrd', nrrdBytes(head({ encoding: 'gzip', 'byte skip': '-1' }), gz(body))), FormatError, /"byte skip: -1" .*valid only with raw encoding, and this file is gzip/);
    expectError(await read('skip-neg.nrrd', nrrdBytes(head({ 'byte skip': '-8' }), body)), FormatError, /"byte skip: -8" is invalid; it must be a whole number >= -1/);
    expectError(await read('skip-frac.nrrd', nrrdBytes(head({ 'byte skip': '1.5' }), body)), FormatError, /"byte skip: 1\.5" is invalid/);
    expectError(await read('skip-nan.nrrd', nrrdBytes(head({ byteskip: 'lots' }), body)), FormatError, /"byte skip: lots" is invalid/);
    expectError(await read('skip-ascii.nrrd', nrrdBytes(head({ encoding: 'ascii', endian: undefined, 'byte skip': '4' }), Buffer.from(values.join(' ')))), FormatError, /"byte skip: 4" with ascii encoding is not supported/);
  });

  it('line skip: skips whole lines; negative, fractional, or past the end of the data is refused', async () => {
    expect(await read('lines-ok.nrrd', nrrdBytes(head({ 'line skip': '2' }), cat(Buffer.from('first\nsecond\n'), body)))).toEqual(values);
    expectError(await read('lines-neg.nrrd', nrrdBytes(head({ 'line skip': '-1' }), body)), FormatError, /"line skip: -1" is invalid; it must be a whole number >= 0/);
    expectError(await read('lines-frac.nrrd', nrrdBytes(head({ lineskip: '0.5' }), body)), FormatError, /"line skip: 0\.5" is invalid/);
    expectError(
      await read('lines-past.nrrd', nrrdBytes(head({ 'line skip': '3' }), cat(Buffer.from('only one line\n'), new Uint8Array(96).fill(1)))),
      FormatError,
      /"line skip: 3" skips more lines than the data holds \(1\)/,
    );
  });

  it('a detached data file longer than the header describes is refused; one at the end with byte skip -1 reads', async () => {
    writeFileSync(join(dir, 'long.raw'), cat(body, junk(96)));
    const r = await read('long.nhdr', nrrdBytes([...head(), 'data file: long.raw'], new Uint8Array(0)));
    expectError(r, FormatError, /long\.raw: NRRD data holds 192 bytes but the header .* describes 96/);
    writeFileSync(join(dir, 'tail.raw'), cat(junk(100), body));
    expect(await read('tail.nhdr', nrrdBytes([...head({ 'byte skip': '-1' }), 'data file: tail.raw'], new Uint8Array(0)))).toEqual(values);
  });

  it('the data file named by a .nhdr is a folder: FileError naming both', async () => {
    mkdirSync(join(dir, 'data-folder.raw'));
    const r = await read('dfolder.nhdr', nrrdBytes([...head(), 'data file: data-folder.raw'], new Uint8Array(0)));
    expectError(r, FileError, /NRRD header dfolder\.nhdr points to the data file .*data-folder\.raw, which is a folder, not a file/);
  });
});

describe('MetaImage: the data file named by a .mhd must be a regular file', () => {
  it('a folder as ElementDataFile is a FileError naming both files', async () => {
    mkdirSync(join(dir, 'mhd-data-folder.raw'));
    const r = await read('folder-data.mhd', 'ObjectType = Image\nNDims = 3\nDimSize = 4 3 2\nElementType = MET_FLOAT\nElementDataFile = mhd-data-folder.raw\n');
    expectError(r, FileError, /MetaImage header .*folder-data\.mhd points to the data file .*mhd-data-folder\.raw, which is a folder, not a file/);
  });
});

describe('NIfTI: a corrupt sizeof_hdr is a FormatError, not an untyped library error', () => {
  const nii = () => niftiBytes({ dims: [4, 3, 2], type: 'float32', pixdim: [1, 1, 1, 1], values });
  it.each([1234, 0, -348, 540])('NIfTI-1 with sizeof_hdr %i', async (size) => {
    const b = nii();
    new DataView(b.buffer).setInt32(0, size, true);
    expectError(await read(`size${size}.nii`, b), FormatError, new RegExp(`size${size}\\.nii: corrupt NIfTI-1 header: sizeof_hdr \\(bytes 0-3\\) is ${size}, it must be 348`));
    expectError(await read(`size${size}.nii.gz`, gz(b)), FormatError, /corrupt NIfTI-1 header: sizeof_hdr/);
  });
  it('NIfTI-2 with sizeof_hdr 348, and a big-endian NIfTI-1 with its size byte-swapped, still read or refuse correctly', async () => {
    const b2 = nifti2Bytes({ dims: [4, 3, 2], type: 'float32', pixdim: [1, 1, 1, 1], sformCode: 1, srow: [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]], values });
    expect(Array.from(decodeNifti(b2, 'ok2.nii').volume.data)).toEqual(values);
    new DataView(b2.buffer).setInt32(0, 348, true);
    expect(() => decodeNifti(b2, 'bad2.nii')).toThrow(/corrupt NIfTI-2 header: sizeof_hdr \(bytes 0-3\) is 348, it must be 540/);
    const be = niftiBytes({ dims: [4, 3, 2], type: 'float32', pixdim: [1, 1, 1, 1], values, littleEndian: false });
    expect(Array.from(decodeNifti(be, 'be.nii').volume.data)).toEqual(values);
  });
});

describe('input paths that are not readable regular files: one FileError naming the path and the problem', () => {
  it('a symbolic link loop (ELOOP), as an image, a segmentation, and inside a DICOM folder', async () => {
    const loop = join(dir, 'loop.nii');
    symlinkSync('loop.nii', loop);
    await expect(readVolume(loop)).rejects.toThrow(FileError);
    await expect(readVolume(loop)).rejects.toThrow(/image .*loop\.nii is a symbolic link that loops back on itself \(ELOOP\); point the link at the real file/);
    await expect(readSegmentation(loop)).rejects.toThrow(/segmentation .*loop\.nii is a symbolic link that loops back on itself/);
    const dicomDir = join(dir, 'dicom-with-loop');
    mkdirSync(dicomDir);
    symlinkSync('slice.dcm', join(dicomDir, 'slice.dcm'));
    const err = await readDicomVolume(dicomDir).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(FileError);
    expect((err as Error).message).toMatch(/slice\.dcm \(in the folder .*dicom-with-loop\) is a symbolic link that loops back on itself \(ELOOP\)/);
  });

  it('a folder given as an image (EISDIR) names the folder', async () => {
    mkdirSync(join(dir, 'folder.nii.gz'));
    await expect(readVolume(join(dir, 'folder.nii.gz'))).rejects.toThrow(/image .*folder\.nii\.gz is a folder, not a file; give the image file itself/);
  });

  it('a FIFO is refused before it is opened (reading it would block forever)', () => {
    const fifo = join(dir, 'pipe.nii.gz');
    const mk = spawnSync('mkfifo', [fifo]);
    if (mk.status !== 0) {
      console.warn(`skipping the FIFO test: mkfifo failed (${mk.error?.message ?? mk.stderr})`);
      return;
    }
    const nhdr = join(dir, 'pipe-data.nhdr');
    spawnSync('mkfifo', [join(dir, 'pipe.raw')]);
    writeFileSync(nhdr, nrrdBytes([...head(), 'data file: pipe.raw'], new Uint8Array(0)));
    // In a child process with a time limit: on failure the read blocks, and a blocked read cannot be interrupted in-process.
    const script = `
      const io = await import('./packages/dosimetry-core/src/io/index.ts');
      const dicom = await import('./packages/dosimetry-core/src/io/dicom/index.ts');
      const inputs = await import('./packages/dosimetry-core/src/dose/inputs.ts');
      const tries = {
        readVolume: () => io.readVolume(${JSON.stringify(fifo)}),
        readSegmentation: () => io.readSegmentation(${JSON.stringify(fifo)}),
        readImage: () => inputs.readImage(${JSON.stringify(fifo)}, 'activity image'),
        readDicomVolume: () => dicom.readDicomVolume(${JSON.stringify(fifo)}),
        nhdr: () => io.readVolume(${JSON.stringify(nhdr)}),
      };
      const out = {};
      for (const [k, f] of Object.entries(tries)) {
        try { await f(); out[k] = 'read'; } catch (e) { out[k] = e.constructor.name + ': ' + e.message; }
      }
      console.log(JSON.stringify(out));`;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
    expect(r.signal, `the read blocked on the FIFO (killed after 60 s); stderr: ${r.stderr}`).toBeNull();
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, string>;
    expect(out.readVolume).toMatch(/^FileError: image .*pipe\.nii\.gz is a named pipe \(FIFO\), not a regular file; copy the data into a file/);
    expect(out.readSegmentation).toMatch(/^FileError: segmentation .*pipe\.nii\.gz is a named pipe \(FIFO\)/);
    expect(out.readImage).toMatch(/^FileError: activity image .*pipe\.nii\.gz is a named pipe \(FIFO\)/);
    expect(out.readDicomVolume).toMatch(/^FileError: DICOM input .*pipe\.nii\.gz is a named pipe \(FIFO\), not a regular file or folder/);
    expect(out.nhdr).toMatch(/^FileError: NRRD header pipe-data\.nhdr points to the data file .*pipe\.raw, which is a named pipe \(FIFO\)/);
  });

  it('an unreadable file (EACCES) says permission denied and how to fix it', async () => {
    // the mapping itself, for every platform and user
    const eacces = Object.assign(new Error("EACCES: permission denied, open 'x'"), { code: 'EACCES' });
    expect(fileProblemOf(eacces).problem).toBe('cannot be read: permission denied (EACCES)');
    expect(fileProblemOf(eacces).fix).toMatch(/chmod/);
    expect(fileProblemOf(Object.assign(new Error('x'), { code: 'EISDIR' })).problem).toBe('is a folder, not a file');
    expect(fileProblemOf(Object.assign(new Error('x'), { code: 'ELOOP' })).problem).toMatch(/loops back on itself/);
    // and on disk, where permissions apply (root reads anything)
    if (process.getuid?.() === 0) {
      console.warn('skipping the on-disk EACCES check: running as root, which reads files without read permission');
      return;
    }
    const p = join(dir, 'locked.nii');
    writeFileSync(p, niftiBytes({ dims: [4, 3, 2], type: 'float32', pixdim: [1, 1, 1, 1], values }));
    chmodSync(p, 0o000);
    try {
      await expect(readVolume(p)).rejects.toThrow(/image .*locked\.nii cannot be read: permission denied \(EACCES\); give yourself read access/);
    } finally {
      chmodSync(p, 0o644);
    }
  });
});
