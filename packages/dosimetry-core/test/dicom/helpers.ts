/**
 * Test helpers: the real study's location, temp folders, and a minimal DICOM element editor (parse a copy, change
 * elements, write it back with the project's writer in any supported transfer syntax).
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseDicom, type DicomDataset } from '../../src/io/dicom/parser.ts';
import { writePart10 } from '../../src/io/dicom/writer.ts';

/** The real study (read-only; never copied into the project). Test file is packages/dosimetry-core/test/dicom/. */
export const STUDY = fileURLToPath(new URL('../../../../../shared/data/dicom-maa-study/', import.meta.url));
export const HAS_STUDY = existsSync(join(STUDY, 'CT')) && existsSync(join(STUDY, 'NM')) && existsSync(join(STUDY, 'RTSTRUCT'));
export function warnNoStudy(): void {
  if (!HAS_STUDY) console.warn(`skipping real-study DICOM tests: ${STUDY} is absent (../shared/data is not mounted)`);
}

export function tempDir(prefix = 'dicom-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function studyFiles(sub: 'CT' | 'NM' | 'RTSTRUCT'): string[] {
  return readdirSync(join(STUDY, sub)).sort().map((f) => join(STUDY, sub, f));
}

/** Copies a DICOM file to `dst`, optionally editing its data set and changing its transfer syntax. */
export function editCopy(src: string, dst: string, edit?: (ds: DicomDataset) => void, transferSyntaxUid?: string): void {
  const f = parseDicom(readFileSync(src), src);
  edit?.(f.dataset);
  writeFileSync(dst, writePart10(f.dataset, { transferSyntaxUid: transferSyntaxUid ?? f.transferSyntaxUid }));
}

/** /usr/bin/python3 with pydicom (Debian's python3-pydicom), or a reason it is unavailable. */
export function pydicomAvailable(): { ok: boolean; reason: string } {
  if (!existsSync('/usr/bin/python3')) return { ok: false, reason: '/usr/bin/python3 is absent' };
  const r = spawnSync('/usr/bin/python3', ['-c', 'import pydicom'], { encoding: 'utf8' });
  return r.status === 0 ? { ok: true, reason: '' } : { ok: false, reason: 'pydicom is not installed for /usr/bin/python3 (apt-get install python3-pydicom)' };
}

/** A command on PATH, or undefined. */
export function which(cmd: string): string | undefined {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

/** Exit code and captured output of one in-process CLI run. */
export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `main(argv)` (src/cli/main.ts, the code path of `pnpm -s dosimetry`) capturing stdout and stderr. */
export async function runMain(argv: readonly string[]): Promise<CliRun> {
  const { main } = await import('../../src/cli/main.ts');
  const out: string[] = [];
  const err: string[] = [];
  const ow = process.stdout.write.bind(process.stdout);
  const ew = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((chunk: string | Uint8Array) => (out.push(String(chunk)), true)) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => (err.push(String(chunk)), true)) as typeof process.stderr.write;
  try {
    const code = await main(argv);
    return { code, stdout: out.join(''), stderr: err.join('') };
  } finally {
    process.stdout.write = ow;
    process.stderr.write = ew;
  }
}
