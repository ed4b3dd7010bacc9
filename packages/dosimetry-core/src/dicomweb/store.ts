/**
 * `--store dicomweb:BASE_URL` of `dose` and `plan`: after the outputs are committed, the DICOM results are sent to the
 * server with STOW-RS, in the study and Frame of Reference of the DICOM inputs:
 * - DIR/rtdose.dcm (RT Dose; `--store` implies `--rtdose`),
 * - DIR/structures.seg.dcm (DICOM SEG of the reported structures) when it was written (`--seg-dicom`),
 * - DIR/report.pdf (with `--report`) wrapped as an Encapsulated PDF (io/dicom/encapsulated-pdf.ts) of the same study.
 * A failure leaves the local outputs as they are (they were committed first) and is one line that says so.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DosimetryError, FileError, InputError, UsageError } from '../errors.ts';
import { encodeEncapsulatedPdf } from '../io/dicom/encapsulated-pdf.ts';
import { parseDicom } from '../io/dicom/parser.ts';
import type { RtDoseFrameOfReference } from '../io/dicom/rtdose.ts';
import { TAG } from '../io/dicom/tags.ts';
import { authFromEnv } from './auth.ts';
import { DicomwebClient } from './client.ts';
import { DicomwebHttpError, type HttpSettings } from './http.ts';
import { isDicomwebSpec, parseBaseUrl } from './url.ts';

/** One object sent. */
export interface StoredObject {
  readonly what: 'RT Dose' | 'DICOM SEG' | 'Encapsulated PDF';
  /** Output file it came from. */
  readonly file: string;
  readonly sopInstanceUid: string;
  readonly sopClassUid: string;
}

/** What `storeCaseOutputs` sent and what the server answered. */
export interface StoreSummary {
  readonly baseUrl: string;
  readonly studyInstanceUid: string;
  readonly objects: readonly StoredObject[];
  /** HTTP status of the STOW-RS answer (200; 202 would list failures and is thrown instead). */
  readonly status: number;
  /** The study's Retrieve URL as the server gave it, when it did. */
  readonly retrieveUrl?: string;
}

/** Checks a `--store` value before any work: `dicomweb:BASE_URL` (http or https, no credentials in it). */
export function parseStoreSpec(value: string, command: string): string {
  if (!isDicomwebSpec(value)) throw new UsageError(`${command}: --store takes dicomweb:BASE_URL (e.g. dicomweb:https://pacs.example.org/dicom-web), not "${value}"`);
  return parseBaseUrl(value, `${command}: --store`);
}

/**
 * Refuses `--store` for a case whose inputs carry no DICOM study (NIfTI/NRRD in): the results would form a new study of
 * an unnamed patient on the server. Call before any work.
 */
export function checkStorableIdentity(identity: RtDoseFrameOfReference | undefined, command: string): void {
  if (!identity?.studyInstanceUid || !identity.frameOfReferenceUid) {
    throw new UsageError(`${command}: --store sends the results into the study of the DICOM inputs, and no input is a DICOM series with a Study Instance UID and Frame of Reference; give the activity or the CT as DICOM (a folder or dicomweb: series)`);
  }
}

/** Options of `storeCaseOutputs`. */
export interface StoreCaseOutputsOptions {
  readonly command: string;
  /** The value of --store (dicomweb:BASE_URL). */
  readonly spec: string;
  /** The committed output folder. */
  readonly outDir: string;
  /** Patient, study and Frame of Reference of the case (doseCaseFromArgs(...).rtDose.frameOfReference). */
  readonly identity?: RtDoseFrameOfReference;
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly http?: Omit<HttpSettings, 'auth'>;
}

/**
 * Sends the case's DICOM outputs with one STOW-RS request and checks the answer lists every instance as stored.
 * Throws one line (FileError, code IO) when the server refuses any, or when the request fails; that line says the
 * outputs in `outDir` were written and are kept.
 */
export async function storeCaseOutputs(opts: StoreCaseOutputsOptions): Promise<StoreSummary> {
  const baseUrl = parseStoreSpec(opts.spec, opts.command);
  const kept = `the outputs in ${opts.outDir} were written and are kept`;
  try {
    checkStorableIdentity(opts.identity, opts.command);
    const identity = opts.identity!;
    const objects: StoredObject[] = [];
    const payload: Uint8Array[] = [];
    const addDicom = (file: string, what: StoredObject['what']) => {
      const bytes = new Uint8Array(readFileSync(file));
      const ds = parseDicom(bytes, file).dataset;
      const study = ds.string(TAG.StudyInstanceUID);
      if (study !== identity.studyInstanceUid) throw new InputError(`${file} belongs to study ${study ?? '(none)'}, not to the inputs' study ${identity.studyInstanceUid}`);
      objects.push({ what, file, sopInstanceUid: ds.string(TAG.SOPInstanceUID) ?? '', sopClassUid: ds.string(TAG.SOPClassUID) ?? '' });
      payload.push(bytes);
    };
    const rtdose = join(opts.outDir, 'rtdose.dcm');
    if (!existsSync(rtdose)) throw new InputError(`${rtdose} is missing (--store implies --rtdose)`);
    addDicom(rtdose, 'RT Dose');
    const seg = join(opts.outDir, 'structures.seg.dcm');
    if (existsSync(seg)) addDicom(seg, 'DICOM SEG');
    const pdf = join(opts.outDir, 'report.pdf');
    if (existsSync(pdf)) {
      const r = encodeEncapsulatedPdf(new Uint8Array(readFileSync(pdf)), { identity });
      objects.push({ what: 'Encapsulated PDF', file: pdf, sopInstanceUid: r.sopInstanceUid, sopClassUid: '1.2.840.10008.5.1.4.1.1.104.1' });
      payload.push(r.bytes);
    }
    const client = new DicomwebClient({ baseUrl, auth: authFromEnv(opts.env), ...(opts.http ?? {}) });
    const answer = await client.store(payload);
    const refused = answer.failed.map((f) => `${f.sopInstanceUid}${f.reason ? ` (failure reason ${f.reason})` : ''}`);
    const notListed = objects.filter((o) => !answer.stored.includes(o.sopInstanceUid) && !answer.failed.some((f) => f.sopInstanceUid === o.sopInstanceUid));
    if (refused.length || (answer.stored.length > 0 && notListed.length)) {
      throw new FileError(
        `DICOMweb store to ${baseUrl} (HTTP ${answer.status}): the server stored ${answer.stored.length} of ${objects.length} objects${refused.length ? `; refused: ${refused.join(', ')}` : ''}${notListed.length ? `; not acknowledged: ${notListed.map((o) => o.sopInstanceUid).join(', ')}` : ''}; ${kept}`,
      );
    }
    return { baseUrl, studyInstanceUid: identity.studyInstanceUid!, objects, status: answer.status, ...(answer.retrieveUrl ? { retrieveUrl: answer.retrieveUrl } : {}) };
  } catch (err) {
    if (err instanceof DosimetryError && err.message.includes(kept)) throw err;
    if (err instanceof DosimetryError) {
      const message = `${err.message.replace(/[.;\s]+$/, '')}; nothing was stored, and ${kept}`;
      if (err instanceof DicomwebHttpError) throw new DicomwebHttpError(message, err.status, { cause: err });
      const E = err.constructor as new (m: string, o?: { cause?: unknown }) => DosimetryError;
      throw new E(message, { cause: err });
    }
    throw err;
  }
}

/** The lines that say what was stored (stdout of the CLI). */
export function storeSummaryLines(s: StoreSummary): string[] {
  return [
    `stored on ${s.baseUrl} (STOW-RS, HTTP ${s.status}) in study ${s.studyInstanceUid}:`,
    ...s.objects.map((o) => `  ${o.what.padEnd(16)} ${o.sopInstanceUid}  (${o.file.split('/').pop()})`),
    ...(s.retrieveUrl ? [`  retrieve: ${s.retrieveUrl}`] : []),
  ];
}
