/**
 * The PDF report of a case (`dose`/`plan --report`): DIR/report.pdf, made from the in-memory case and added to the
 * command's output set, so that it is committed with the other outputs or, on any error, not at all.
 */
import { createHash } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { InputError } from '../errors.ts';
import type { GridStructure } from '../volume/structure.ts';
import type { Volume, VoxelArray } from '../volume/volume.ts';
import { caseReportPdf, type PatientStudyIdentity } from './pdf.ts';
import type { OutputData } from '../io/output-set.ts';

/** SHA-256 (hex) of an output file's contents (text as UTF-8, pieces in order). */
function sha256Of(data: OutputData): string {
  const h = createHash('sha256');
  for (const p of typeof data === 'string' || data instanceof Uint8Array ? [data] : data) h.update(p);
  return h.digest('hex');
}

export { caseReportPdf, MAX_IMAGED_TUMOURS, type CaseReportInput, type PatientStudyIdentity } from './pdf.ts';

/** Name of the report in the output folder (../shared/CONTRACT.md: "`--report` writes `DIR/report.pdf`"). */
export const REPORT_PDF_NAME = 'report.pdf';

/** Options of {@link reportPdfFile}. */
export interface ReportPdfOptions {
  readonly command: 'dose' | 'plan';
  /** The report object written to report.json. */
  readonly report: Readonly<Record<string, unknown>>;
  /** The computed case: its dose map [Gy] and its structures on the dose grid (in the order of report.structures). */
  readonly result: { readonly dose: Volume<Float32Array>; readonly gridStructures: readonly GridStructure[] };
  /** The CT [HU], when one was given. */
  readonly ct?: Volume<VoxelArray>;
  /** DICOM patient and study (the RT Dose identity of `doseCaseFromArgs`), when the inputs are DICOM. */
  readonly identity?: PatientStudyIdentity;
  /** Date of computation; default: $SOURCE_DATE_EPOCH (seconds, for reproducible reruns) when set, else now. */
  readonly computedAt?: Date;
}

/**
 * The date of computation: `SOURCE_DATE_EPOCH` (the reproducible-builds convention, whole seconds since 1970 UTC)
 * when set, else the current time. Throws InputError for a malformed value.
 */
export function computationDate(env: Readonly<Record<string, string | undefined>> = process.env): Date {
  const s = env.SOURCE_DATE_EPOCH;
  if (s === undefined || s === '') return new Date();
  if (!/^\d{1,12}$/.test(s.trim())) throw new InputError(`SOURCE_DATE_EPOCH="${s}" is not a whole number of seconds since 1970-01-01 UTC: unset it, or give e.g. 1767225600`);
  return new Date(Number(s.trim()) * 1000);
}

/**
 * DIR/report.pdf for a command's output set. `files` are the set's other files, as paths (from `caseOutputs`) or as
 * names (`OutputFile`s of io/output-set.ts): the PDF prints the SHA-256 of their report.json and is returned in both
 * forms (its `path` beside report.json, its `name`), to be pushed onto either list.
 */
export async function reportPdfFile(
  files: ReadonlyArray<{ readonly path?: string; readonly name?: string; readonly data: OutputData }>,
  opts: ReportPdfOptions,
): Promise<{ path: string; name: string; data: Uint8Array }> {
  const json = files.find((f) => basename(f.path ?? f.name ?? '') === 'report.json');
  if (!json) throw new InputError('report.pdf needs the report.json of the same output set');
  const data = await caseReportPdf({
    command: opts.command,
    report: opts.report,
    dose: opts.result.dose,
    gridStructures: opts.result.gridStructures,
    ct: opts.ct,
    identity: opts.identity,
    reportJsonSha256: sha256Of(json.data),
    computedAt: opts.computedAt ?? computationDate(),
  });
  return { path: join(dirname(json.path ?? json.name ?? '.'), REPORT_PDF_NAME), name: REPORT_PDF_NAME, data };
}
