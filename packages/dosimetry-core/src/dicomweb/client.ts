/**
 * A DICOMweb client (PS3.18): QIDO-RS search of a study's series and a series' instances, WADO-RS retrieve of a series
 * as multipart/related application/dicom, STOW-RS store of Part 10 instances. Requests go through http.ts (bounded
 * timeouts and retries, one line per failure, credentials in a header only).
 */
import { FormatError } from '../errors.ts';
import { checkTransport, type DicomwebAuth } from './auth.ts';
import { httpRequest, type HttpSettings } from './http.ts';
import { buildMultipart, parseMultipart } from './multipart.ts';

/** A DICOM JSON data set (PS3.18 F.2): tag "GGGGEEEE" to { vr, Value }. */
export type DicomJson = Record<string, { vr?: string; Value?: unknown[] } | undefined>;

/** First value of a DICOM JSON attribute as text (PN: its Alphabetic form); undefined when absent. */
export function jsonString(ds: DicomJson, tag: string): string | undefined {
  const v = ds[tag]?.Value?.[0];
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'object') return (v as { Alphabetic?: string }).Alphabetic;
  return String(v);
}

/** One series of a study as QIDO-RS lists it. */
export interface DicomwebSeries {
  readonly seriesInstanceUid: string;
  readonly modality: string;
  readonly seriesDescription?: string;
  readonly seriesNumber?: number;
  /** Number of Series Related Instances (0020,1209), when the server gives it. */
  readonly instances?: number;
}

/** One instance of a series as QIDO-RS lists it. */
export interface DicomwebInstance {
  readonly sopInstanceUid: string;
  readonly sopClassUid?: string;
}

/** What a STOW-RS store answered (PS3.18 10.5.3). */
export interface StowResult {
  readonly status: number;
  /** SOP Instance UIDs the server stored (Referenced SOP Sequence). */
  readonly stored: readonly string[];
  /** SOP Instance UIDs it refused, with the Failure Reason (Failed SOP Sequence). */
  readonly failed: ReadonlyArray<{ sopInstanceUid: string; reason?: string }>;
  /** Retrieve URL of the study (0008,1190), when given. */
  readonly retrieveUrl?: string;
}

/** Settings of a client: the server's DICOMweb root and how to reach it. */
export interface DicomwebClientOptions extends Omit<HttpSettings, 'auth'> {
  /** DICOMweb root without a trailing slash (url.ts parseBaseUrl). */
  readonly baseUrl: string;
  readonly auth: DicomwebAuth;
}

const enc = encodeURIComponent;

function parseJsonArray(body: Uint8Array, what: string): DicomJson[] {
  if (body.length === 0) return []; // 204 No Content: nothing matched
  let j: unknown;
  try {
    j = JSON.parse(new TextDecoder().decode(body));
  } catch {
    throw new FormatError(`${what}: the server's answer is not DICOM JSON (it starts "${new TextDecoder().decode(body.subarray(0, 60)).replace(/\s+/g, ' ')}")`);
  }
  if (!Array.isArray(j)) throw new FormatError(`${what}: the server's answer is not a JSON array of data sets`);
  return j as DicomJson[];
}

/** A DICOMweb server. */
export class DicomwebClient {
  readonly baseUrl: string;
  private readonly http: HttpSettings;

  /** Checks the transport (auth.ts checkTransport: no credentials over plain http to another machine). */
  constructor(opts: DicomwebClientOptions) {
    checkTransport(opts.baseUrl, opts.auth);
    this.baseUrl = opts.baseUrl;
    this.http = opts;
  }

  /** QIDO-RS: the series of a study (GET {root}/studies/{uid}/series). */
  async searchSeries(studyInstanceUid: string): Promise<DicomwebSeries[]> {
    const purpose = `listing the series of study ${studyInstanceUid}`;
    const r = await httpRequest(
      { method: 'GET', url: `${this.baseUrl}/studies/${enc(studyInstanceUid)}/series`, kind: 'search', headers: { Accept: 'application/dicom+json' }, purpose },
      this.http,
    );
    return parseJsonArray(r.body, purpose).flatMap((d) => {
      const uid = jsonString(d, '0020000E');
      if (!uid) return [];
      const n = jsonString(d, '00201209');
      const num = jsonString(d, '00200011');
      return [{ seriesInstanceUid: uid, modality: jsonString(d, '00080060') ?? '', seriesDescription: jsonString(d, '0008103E'), seriesNumber: num === undefined ? undefined : Number(num), instances: n === undefined ? undefined : Number(n) }];
    });
  }

  /** QIDO-RS: the instances of a series (GET {root}/studies/{uid}/series/{uid}/instances). */
  async searchInstances(studyInstanceUid: string, seriesInstanceUid: string): Promise<DicomwebInstance[]> {
    const purpose = `listing the instances of series ${seriesInstanceUid}`;
    const r = await httpRequest(
      { method: 'GET', url: `${this.baseUrl}/studies/${enc(studyInstanceUid)}/series/${enc(seriesInstanceUid)}/instances`, kind: 'search', headers: { Accept: 'application/dicom+json' }, purpose },
      this.http,
    );
    return parseJsonArray(r.body, purpose).flatMap((d) => {
      const uid = jsonString(d, '00080018');
      return uid ? [{ sopInstanceUid: uid, sopClassUid: jsonString(d, '00080016') }] : [];
    });
  }

  /**
   * WADO-RS: every instance of a series as Part 10 bytes (GET {root}/studies/{uid}/series/{uid}, multipart/related
   * application/dicom; the transfer syntax is the standard's default for that type, explicit VR little endian, unless the
   * server keeps the stored one).
   */
  async retrieveSeries(studyInstanceUid: string, seriesInstanceUid: string): Promise<Uint8Array[]> {
    const purpose = `retrieving series ${seriesInstanceUid}`;
    const r = await httpRequest(
      {
        method: 'GET',
        url: `${this.baseUrl}/studies/${enc(studyInstanceUid)}/series/${enc(seriesInstanceUid)}`,
        kind: 'retrieve',
        headers: { Accept: 'multipart/related; type="application/dicom"' },
        purpose,
      },
      this.http,
    );
    return parseMultipart(r.body, r.contentType, `DICOMweb ${purpose}`).map((p) => p.body);
  }

  /**
   * STOW-RS: stores Part 10 instances (POST {root}/studies, or {root}/studies/{uid} to require they belong to that
   * study). A 2xx with failed instances (202), or a 409, is reported in the result / thrown by the caller.
   */
  async store(instances: readonly Uint8Array[], studyInstanceUid?: string): Promise<StowResult> {
    const { contentType, body } = buildMultipart(instances, 'application/dicom');
    const purpose = `storing ${instances.length} instance(s)${studyInstanceUid ? ` in study ${studyInstanceUid}` : ''}`;
    const r = await httpRequest(
      {
        method: 'POST',
        url: `${this.baseUrl}/studies${studyInstanceUid ? `/${enc(studyInstanceUid)}` : ''}`,
        kind: 'store',
        headers: { 'Content-Type': contentType, Accept: 'application/dicom+json' },
        body,
        purpose,
      },
      this.http,
    );
    return parseStowResponse(r.status, r.body);
  }
}

/** Reads a STOW-RS response (DICOM JSON: 00081199 Referenced SOP Sequence, 00081198 Failed SOP Sequence). */
export function parseStowResponse(status: number, body: Uint8Array): StowResult {
  if (body.length === 0) return { status, stored: [], failed: [] };
  let j: unknown;
  try {
    j = JSON.parse(new TextDecoder().decode(body));
  } catch {
    throw new FormatError(`DICOMweb store: the server's answer (HTTP ${status}) is not DICOM JSON; it starts "${new TextDecoder().decode(body.subarray(0, 80)).replace(/\s+/g, ' ')}"`);
  }
  const d = (Array.isArray(j) ? j[0] : j) as DicomJson;
  const seq = (tag: string) => ((d?.[tag]?.Value ?? []) as DicomJson[]);
  return {
    status,
    stored: seq('00081199').map((x) => jsonString(x, '00081155') ?? '').filter(Boolean),
    failed: seq('00081198').map((x) => ({ sopInstanceUid: jsonString(x, '00081155') ?? '?', reason: jsonString(x, '00081197') })),
    retrieveUrl: jsonString(d ?? {}, '00081190'),
  };
}
