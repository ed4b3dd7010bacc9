/**
 * HTTP for DICOMweb with bounded time and retries, and one clear line per failure.
 *
 * - Timeouts: each attempt is aborted after `timeoutMs` (default 30 s for searches and small requests, 300 s for a
 *   series retrieve or a store, see DEFAULT_TIMEOUTS_MS), headers and body together.
 * - Retries: at most `attempts` tries in all (default 3), waiting 1 s then 2 s between them (`backoffMs`, doubled each
 *   time), and only for failures that may pass: no answer (connection refused or reset, DNS, timeout) and HTTP 408,
 *   429, 500, 502, 503, 504. Anything else (400, 401, 403, 404, 409, ...) fails at once.
 * - Redirects are not followed (a redirect could carry the credentials elsewhere): a 3xx is a failure naming the target.
 * - TLS: Node's fetch verifies certificates against the system's CAs (plus NODE_EXTRA_CA_CERTS); there is no switch to
 *   turn that off, and auth.ts refuses to run with NODE_TLS_REJECT_UNAUTHORIZED=0.
 * The error names the method, the URL (never the credentials: they travel in a header only), the status and the
 * server's own message (first 300 characters), and how to fix it.
 */
import { FileError } from '../errors.ts';
import type { DicomwebAuth } from './auth.ts';
import { redactUrl } from './url.ts';

/** Default per-attempt timeouts [ms]. */
export const DEFAULT_TIMEOUTS_MS = { search: 30_000, retrieve: 300_000, store: 300_000 } as const;
/** Default number of attempts in all (1 try + 2 retries). */
export const DEFAULT_ATTEMPTS = 3;
/** Default wait before the first retry [ms]; doubled before each further one. */
export const DEFAULT_BACKOFF_MS = 1000;
/** Statuses worth another try (the server or a proxy may recover). */
export const RETRYABLE_STATUS: ReadonlySet<number> = new Set([408, 429, 500, 502, 503, 504]);

/** How requests are made: credentials, time limits, retries. */
export interface HttpSettings {
  readonly auth: DicomwebAuth;
  /** Attempts in all, at least 1 (default 3). */
  readonly attempts?: number;
  /** Wait before the first retry [ms] (default 1000), doubled each time. */
  readonly backoffMs?: number;
  /** Per-attempt timeouts [ms] by kind of request. */
  readonly timeoutsMs?: Partial<Record<keyof typeof DEFAULT_TIMEOUTS_MS, number>>;
  /** Told about each retry (one line, no credentials), e.g. progress on stderr. */
  readonly onRetry?: (line: string) => void;
}

/** A request to make. */
export interface HttpRequest {
  readonly method: 'GET' | 'POST';
  readonly url: string;
  readonly kind: keyof typeof DEFAULT_TIMEOUTS_MS;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: Uint8Array;
  /** What the request is for, in the error ("searching the series of study X"). */
  readonly purpose: string;
}

/** A successful answer (2xx), read whole. */
export interface HttpAnswer {
  readonly status: number;
  readonly contentType: string;
  readonly body: Uint8Array;
}

/** An HTTP failure: FileError (code IO) with the status (undefined when no answer came). */
export class DicomwebHttpError extends FileError {
  readonly status?: number;
  constructor(message: string, status?: number, options?: { cause?: unknown }) {
    super(message, options);
    this.status = status;
  }
}

function hintFor(status: number | undefined, kind: HttpRequest['kind']): string {
  if (status === undefined) return 'check that the server runs and the URL (host, port, DICOMweb root) is right';
  if (status === 401) return 'the server wants credentials: set DOSIMETRY_DICOMWEB_TOKEN, or DOSIMETRY_DICOMWEB_USER and DOSIMETRY_DICOMWEB_PASSWORD';
  if (status === 403) return 'the credentials were refused for this request: check the account has the right to ' + (kind === 'store' ? 'store' : 'read') + ' these data';
  if (status === 404) return 'the server has no such resource: check the DICOMweb root and the UIDs';
  if (status === 406) return 'the server cannot answer in the asked format (multipart/related application/dicom)';
  if (status === 409 || status === 202) return 'the server refused some instances: see its message';
  if (status === 413) return 'the upload is too large for the server or a proxy: raise its limit';
  if (RETRYABLE_STATUS.has(status)) return 'the server or a proxy failed; try again later';
  return 'see the server\'s message';
}

function serverMessage(body: Uint8Array): string {
  const text = new TextDecoder().decode(body.subarray(0, 4096)).replace(/\s+/g, ' ').trim();
  if (!text) return '';
  try {
    const j = JSON.parse(new TextDecoder().decode(body)) as Record<string, unknown>;
    const m = j.Message ?? j.message ?? j.error ?? j.Details ?? j.OrthancError;
    if (typeof m === 'string' && m) return m.slice(0, 300);
  } catch {
    // not JSON: shown as text
  }
  return text.slice(0, 300);
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function causeText(err: unknown, timeoutMs: number): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return `no complete answer within ${timeoutMs / 1000} s`;
  const c = e?.cause;
  if (c?.code && /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|TLS|SSL/i.test(c.code)) return `TLS certificate not trusted (${c.code}); give the server's CA with NODE_EXTRA_CA_CERTS=/path/to/ca.pem`;
  // undici puts the reason in `cause` (ECONNREFUSED, ENOTFOUND, "bad port", ...); "fetch failed" alone says nothing
  return c?.code ? `${c.code}${c.message ? ` (${c.message})` : ''}` : (c?.message ?? e?.message ?? String(err));
}

/**
 * Makes `req` with the settings' credentials, timeout and retries; returns the 2xx answer or throws one
 * DicomwebHttpError line: "DICOMweb GET URL (purpose) failed after N attempts: HTTP 503 Service Unavailable: message; fix".
 */
export async function httpRequest(req: HttpRequest, s: HttpSettings): Promise<HttpAnswer> {
  const attempts = Math.max(1, Math.floor(s.attempts ?? DEFAULT_ATTEMPTS));
  const timeoutMs = s.timeoutsMs?.[req.kind] ?? DEFAULT_TIMEOUTS_MS[req.kind];
  let wait = s.backoffMs ?? DEFAULT_BACKOFF_MS;
  const shown = redactUrl(req.url);
  const headers: Record<string, string> = { ...(req.headers ?? {}) };
  if (s.auth.header) headers.Authorization = s.auth.header;
  let last = '';
  let lastStatus: number | undefined;
  for (let n = 1; n <= attempts; n++) {
    let retryable = false;
    try {
      const res = await fetch(req.url, {
        method: req.method,
        headers,
        body: req.body as BodyInit | undefined, // bytes as they are (Uint8Array is a valid fetch body)
        redirect: 'manual',
        signal: AbortSignal.timeout(timeoutMs),
      });
      const body = new Uint8Array(await res.arrayBuffer());
      if (res.status >= 200 && res.status < 300) return { status: res.status, contentType: res.headers.get('content-type') ?? '', body };
      lastStatus = res.status;
      if (res.status >= 300 && res.status < 400) {
        const to = res.headers.get('location');
        last = `HTTP ${res.status} ${res.statusText}: redirected to ${to ? redactUrl(to) : 'an unnamed location'}; give that address as the DICOMweb root (redirects are not followed, so that credentials stay with the server named)`;
      } else {
        const msg = serverMessage(body);
        last = `HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}${msg ? `: ${msg}` : ''}; ${hintFor(res.status, req.kind)}`;
        retryable = RETRYABLE_STATUS.has(res.status);
      }
    } catch (err) {
      lastStatus = undefined;
      last = `${causeText(err, timeoutMs)}; ${hintFor(undefined, req.kind)}`;
      retryable = true;
    }
    if (!retryable || n === attempts) {
      throw new DicomwebHttpError(`DICOMweb ${req.method} ${shown} (${req.purpose}) failed${n > 1 ? ` after ${n} attempts` : ''}: ${last}`, lastStatus);
    }
    s.onRetry?.(`DICOMweb ${req.method} ${shown}: ${last.split(';')[0]}; retrying in ${wait / 1000} s (attempt ${n + 1} of ${attempts})`);
    await sleep(wait);
    wait *= 2;
  }
  throw new Error('unreachable');
}
