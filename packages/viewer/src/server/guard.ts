/**
 * What the viewer's server refuses, in one place: requests addressed to another host name (DNS rebinding), files
 * outside the case folder that report.json does not vouch for by SHA-256, and pages that would frame, sniff or
 * load from elsewhere (the security headers sent with every response).
 */
import { createHash } from 'node:crypto';
import { realpathSync, statSync } from 'node:fs';
import { isAbsolute, relative, resolve, sep } from 'node:path';

/**
 * Content-Security-Policy of every response. The page talks to this server only and nothing is loaded from
 * elsewhere. What it needs beyond 'self':
 * - script-src 'wasm-unsafe-eval': itk-wasm compiles its (locally served, /itk/image-io/) pipelines;
 * - connect-src data:: itk-wasm's zstd decoder fetches its wasm from a data: URL;
 * - img-src data: blob:: the PNG export and the cohort plots;
 * - style-src 'unsafe-inline': the structure table's colour swatches are inline style attributes.
 * No workers (itk-wasm runs with webWorker: false), no plugins, no <base>, no forms, never framed.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "img-src 'self' data: blob:",
  "style-src 'self' 'unsafe-inline'",
  "connect-src 'self' data:",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * The policy of files served as they lie on disk (/files/NAME, /inputs/N): also sandboxed, so that an SVG or HTML
 * file of a case folder opened on its own runs no script with the viewer's origin.
 */
export const FILE_CONTENT_SECURITY_POLICY = `${CONTENT_SECURITY_POLICY}; sandbox`;

/** Headers sent with every response, errors and refusals included. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

/**
 * True when a request's Host header names this server: 127.0.0.1, localhost or [::1] with the port it listens on.
 * A page of another site that rebinds its DNS name to 127.0.0.1 still sends its own name, so it is refused.
 */
export function hostAllowed(host: string | undefined, port: number): boolean {
  if (host === undefined) return false;
  const h = host.toLowerCase();
  return h === `127.0.0.1:${port}` || h === `localhost:${port}` || h === `[::1]:${port}`;
}

/** True when `child` is `parent` or inside it (both absolute, already real paths). */
export function isInside(parent: string, child: string): boolean {
  const rel = relative(parent, child);
  return rel === '' || (!rel.startsWith('..' + sep) && rel !== '..' && !isAbsolute(rel));
}

/** The real path of `path` (symlinks and `..` resolved), or undefined when it does not exist. */
export function realPathOf(path: string): string | undefined {
  try {
    return realpathSync(path);
  } catch {
    return undefined;
  }
}

/** Lower-case hex SHA-256 of bytes. */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** A SHA-256 as report.json records it (64 hex digits), lower-cased; undefined when absent or malformed. */
export function recordedSha256(v: unknown): string | undefined {
  return typeof v === 'string' && /^[0-9a-f]{64}$/i.test(v) ? v.toLowerCase() : undefined;
}

/**
 * Why an input file named by report.json may not be read or served, or undefined when it may: a regular file or
 * folder (never a device or pipe) that lies inside the case folder (real path), or whose content hashes to the
 * SHA-256 the report records for it. A report that names a file outside the folder with the right hash discloses
 * nothing its writer did not already know.
 *
 * @param caseRoot real path of the case folder
 * @param realPath real path of the input
 * @param sha256 what report.json records (lower-case hex), if anything
 * @param actualSha256 the hash of the input's content now; called only for files outside the case folder
 */
export function inputRefusal(
  caseRoot: string,
  realPath: string,
  sha256: string | undefined,
  actualSha256: () => string,
): string | undefined {
  const st = statSync(realPath, { throwIfNoEntry: false });
  if (!st || !(st.isFile() || st.isDirectory())) return `${realPath} is not a regular file or folder`;
  if (isInside(caseRoot, realPath)) return undefined;
  if (sha256 === undefined) {
    return `${realPath} lies outside the case folder and report.json records no sha256 for it; copy it into the case folder to view it`;
  }
  const actual = actualSha256();
  if (actual !== sha256) {
    return `${realPath} lies outside the case folder and its sha256 (${actual.slice(0, 12)}…) is not the one report.json records (${sha256.slice(0, 12)}…): it is not the file dose read`;
  }
  return undefined;
}

/**
 * A file that report.json names as one of the case's own outputs (a territory's dose map, e.g.
 * "territories/right.dose_per_gbq.nii.gz"): its real path when it may be read, else why not. It must be a regular
 * file whose real path (symlinks and `..` resolved) lies inside the case folder. Unlike the inputs (inputRefusal), no
 * sha256 vouches for a file outside: a case's outputs are written into its folder, so one named outside is refused.
 * Read the file through the returned real path, so that what was checked is what is read.
 *
 * @param caseRoot real path of the case folder
 * @param reportedPath the path as report.json gives it, relative to the case folder (or absolute)
 */
export function caseFile(caseRoot: string, reportedPath: string): { realPath: string } | { refused: string } {
  if (reportedPath === '' || reportedPath.includes('\0')) return { refused: `${JSON.stringify(reportedPath)} is not a file name` };
  const lexical = resolve(caseRoot, reportedPath);
  if (!isInside(caseRoot, lexical)) return { refused: `${reportedPath} points outside the case folder ${caseRoot}: only files inside it are read` };
  const real = realPathOf(lexical);
  if (real === undefined) return { refused: `${reportedPath} does not exist in the case folder ${caseRoot}` };
  if (!isInside(caseRoot, real)) {
    return { refused: `${reportedPath} resolves to ${real}, outside the case folder ${caseRoot}: only files inside it are read` };
  }
  const st = statSync(real, { throwIfNoEntry: false });
  if (!st || !st.isFile()) return { refused: `${reportedPath} is not a regular file` };
  return { realPath: real };
}
