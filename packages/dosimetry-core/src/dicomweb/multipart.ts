/**
 * multipart/related bodies (RFC 2387 over RFC 2046 section 5.1) as DICOMweb uses them: WADO-RS answers a series as
 * one part per instance (application/dicom), STOW-RS takes the instances to store the same way (PS3.18 8.6, 10.5).
 * Parts are byte-exact: the CRLF before each delimiter belongs to the delimiter, not to the part.
 */
import { randomBytes } from 'node:crypto';
import { FormatError } from '../errors.ts';

/** One part: its headers (names lower-cased) and its bytes. */
export interface MultipartPart {
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Uint8Array;
}

/** A parameter of a Content-Type value (e.g. boundary, type), unquoted; undefined when absent. */
export function contentTypeParameter(contentType: string, name: string): string | undefined {
  const re = new RegExp(`;\\s*${name}\\s*=\\s*("((?:[^"\\\\]|\\\\.)*)"|[^;\\s]+)`, 'i');
  const m = re.exec(contentType);
  if (!m) return undefined;
  return m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : m[1];
}

function indexOf(hay: Uint8Array, needle: Uint8Array, from: number): number {
  const n = needle.length;
  const first = needle[0];
  const last = hay.length - n;
  outer: for (let i = from; i <= last; i++) {
    if (hay[i] !== first) continue;
    for (let k = 1; k < n; k++) if (hay[i + k] !== needle[k]) continue outer;
    return i;
  }
  return -1;
}

const enc = new TextEncoder();

/**
 * The next delimiter line at or after `from`: CRLF "--" boundary, then "--" (the close) or optional white space and
 * CRLF (RFC 2046 5.1.1). "--boundary" followed by anything else is data, not a delimiter.
 */
function nextDelimiter(body: Uint8Array, delim: Uint8Array, from: number): number {
  for (let at = indexOf(body, delim, from); at >= 0; at = indexOf(body, delim, at + 1)) {
    let p = at + delim.length;
    if (body[p] === 0x2d && body[p + 1] === 0x2d) return at;
    while (body[p] === 0x20 || body[p] === 0x09) p++;
    if (body[p] === 0x0d && body[p + 1] === 0x0a) return at;
  }
  return -1;
}

/**
 * Splits a multipart body into its parts. `contentType` is the response's Content-Type (it names the boundary).
 * FormatError when the boundary is missing, the body holds no delimiter, or the closing delimiter is absent
 * (a truncated answer is an error, not fewer instances).
 */
export function parseMultipart(body: Uint8Array, contentType: string, what: string): MultipartPart[] {
  if (!/^multipart\//i.test(contentType.trim())) throw new FormatError(`${what}: the server answered ${contentType || 'without a Content-Type'}, not multipart/related`);
  const boundary = contentTypeParameter(contentType, 'boundary');
  if (!boundary) throw new FormatError(`${what}: the answer's Content-Type (${contentType}) names no boundary`);
  const dash = enc.encode(`--${boundary}`);
  const delim = enc.encode(`\r\n--${boundary}`);
  // The first delimiter may open the body (no preceding CRLF) or follow a preamble.
  let pos = body.length >= dash.length && indexOf(body.subarray(0, dash.length), dash, 0) === 0 ? 0 : indexOf(body, delim, 0);
  if (pos < 0) throw new FormatError(`${what}: the multipart answer holds no part (no "--${boundary}" delimiter)`);
  pos += pos === 0 && body[0] === 0x2d ? dash.length : delim.length;
  const parts: MultipartPart[] = [];
  for (;;) {
    // after a delimiter: "--" closes; else optional transport padding, then CRLF
    if (body[pos] === 0x2d && body[pos + 1] === 0x2d) return parts;
    while (body[pos] === 0x20 || body[pos] === 0x09) pos++;
    if (body[pos] !== 0x0d || body[pos + 1] !== 0x0a) throw new FormatError(`${what}: malformed multipart answer (no line break after a delimiter at byte ${pos})`);
    pos += 2;
    const headEnd = indexOf(body, enc.encode('\r\n\r\n'), pos);
    const next = nextDelimiter(body, delim, pos);
    if (next < 0) throw new FormatError(`${what}: the multipart answer is truncated (part ${parts.length + 1} has no closing delimiter); try again`);
    const headers: Record<string, string> = {};
    let bodyStart: number;
    if (body[pos] === 0x0d && body[pos + 1] === 0x0a) bodyStart = pos + 2; // no headers
    else {
      if (headEnd < 0 || headEnd > next) throw new FormatError(`${what}: malformed multipart answer (part ${parts.length + 1} has no end of headers)`);
      for (const line of new TextDecoder('latin1').decode(body.subarray(pos, headEnd)).split('\r\n')) {
        const c = line.indexOf(':');
        if (c > 0) headers[line.slice(0, c).trim().toLowerCase()] = line.slice(c + 1).trim();
      }
      bodyStart = headEnd + 4;
    }
    parts.push({ headers, body: body.subarray(bodyStart, next) });
    pos = next + delim.length;
  }
}

/** A multipart/related body and the Content-Type that names its boundary. */
export interface BuiltMultipart {
  readonly contentType: string;
  readonly body: Uint8Array;
}

/**
 * Builds a multipart/related body of `parts`, each with Content-Type `partType` (e.g. application/dicom), with a random
 * boundary that occurs in none of them. `type` is the root type named in the Content-Type (PS3.18 10.5.1.1).
 */
export function buildMultipart(parts: readonly Uint8Array[], partType: string, boundary?: string): BuiltMultipart {
  let b = boundary ?? `sirt-dosimetry-${randomBytes(16).toString('hex')}`;
  while (parts.some((p) => indexOf(p, enc.encode(`--${b}`), 0) >= 0)) {
    if (boundary) throw new FormatError(`the multipart boundary "${boundary}" occurs inside a part; choose another`);
    b = `sirt-dosimetry-${randomBytes(16).toString('hex')}`;
  }
  const chunks: Uint8Array[] = [];
  for (const p of parts) {
    chunks.push(enc.encode(`--${b}\r\nContent-Type: ${partType}\r\n\r\n`), p, enc.encode('\r\n'));
  }
  chunks.push(enc.encode(`--${b}--\r\n`));
  const total = chunks.reduce((s, c) => s + c.length, 0);
  const body = new Uint8Array(total);
  let o = 0;
  for (const c of chunks) {
    body.set(c, o);
    o += c.length;
  }
  return { contentType: `multipart/related; type="${partType}"; boundary=${b}`, body };
}
