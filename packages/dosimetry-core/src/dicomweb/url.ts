/**
 * DICOMweb addresses on the command line (../shared/CONTRACT.md, "Additions (2026-12)"):
 * `dicomweb:BASE_URL/studies/UID/series/UID` names a series, `dicomweb:BASE_URL` a server (for `--store`).
 * BASE_URL is the server's DICOMweb root (e.g. http://127.0.0.1:8042/dicom-web), http or https.
 * Credentials never travel in a URL (they would reach shell history, logs and report.json): they come from environment
 * variables (auth.ts), and a URL that carries them is refused.
 */
import { InputError } from '../errors.ts';

/** The scheme prefix of a DICOMweb input or destination. */
export const DICOMWEB_PREFIX = 'dicomweb:';

/** True when a command-line value names a DICOMweb server or series (starts with "dicomweb:"). */
export function isDicomwebSpec(value: string): boolean {
  return value.toLowerCase().startsWith(DICOMWEB_PREFIX);
}

/** A UID as DICOM allows it (PS3.5 9.1): digits and dots, at most 64 characters. Also safe as a file name. */
export function isDicomUid(uid: string): boolean {
  return /^[0-9]+(\.[0-9]+)*$/.test(uid) && uid.length <= 64;
}

/** A DICOMweb series: the server's root and the study and series UIDs. */
export interface DicomwebSeriesRef {
  /** DICOMweb root, without a trailing slash (e.g. "http://127.0.0.1:8042/dicom-web"). */
  readonly baseUrl: string;
  readonly studyInstanceUid: string;
  readonly seriesInstanceUid: string;
}

/**
 * Checks and normalises a DICOMweb root URL: http or https, no user or password in it, no query or fragment; the
 * trailing slash removed. `what` names the option in errors.
 */
export function parseBaseUrl(text: string, what: string): string {
  const raw = isDicomwebSpec(text) ? text.slice(DICOMWEB_PREFIX.length) : text;
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new InputError(`${what}: "${redactUrl(raw)}" is not a URL; give the server's DICOMweb root, e.g. dicomweb:https://pacs.example.org/dicom-web`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new InputError(`${what}: the DICOMweb URL must start with http:// or https://, not ${u.protocol}//`);
  }
  if (u.username || u.password) {
    throw new InputError(
      `${what}: the URL carries credentials (user${u.password ? ' and password' : ''} before "@"), which would end up in shell history, logs and report.json; remove them from the URL and set DOSIMETRY_DICOMWEB_TOKEN (bearer) or DOSIMETRY_DICOMWEB_USER and DOSIMETRY_DICOMWEB_PASSWORD (basic) instead`,
    );
  }
  if (u.search || u.hash) throw new InputError(`${what}: the DICOMweb URL ${u.origin}${u.pathname} must not carry a query or fragment ("${u.search}${u.hash}"); give the bare DICOMweb root`);
  return `${u.origin}${u.pathname.replace(/\/+$/, '')}`;
}

/**
 * Parses `dicomweb:BASE_URL/studies/UID/series/UID` (the form --activity, --ct and --segmentation take).
 * Throws InputError naming the expected form.
 */
export function parseSeriesSpec(text: string, what: string): DicomwebSeriesRef {
  const full = parseBaseUrl(text, what);
  const m = /^(.*)\/studies\/([^/]+)\/series\/([^/]+)$/.exec(full);
  if (!m) {
    throw new InputError(`${what}: "${full}" does not name a series; give dicomweb:BASE_URL/studies/STUDY_UID/series/SERIES_UID (or --study UID --dicomweb BASE_URL)`);
  }
  const [, baseUrl, study, series] = m;
  for (const [name, uid] of [['study', study], ['series', series]] as const) {
    if (!isDicomUid(decodeURIComponent(uid))) throw new InputError(`${what}: the ${name} UID "${decodeURIComponent(uid)}" is not a DICOM UID (digits and dots, at most 64 characters)`);
  }
  return { baseUrl, studyInstanceUid: decodeURIComponent(study), seriesInstanceUid: decodeURIComponent(series) };
}

/** `dicomweb:` form of a series, for reports and messages. */
export function seriesSpecOf(ref: DicomwebSeriesRef): string {
  return `${DICOMWEB_PREFIX}${ref.baseUrl}/studies/${ref.studyInstanceUid}/series/${ref.seriesInstanceUid}`;
}

/** A URL as it may be shown: any user and password replaced by "***" (for messages about URLs from elsewhere). */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@\s]*@/i, '$1***@');
}
