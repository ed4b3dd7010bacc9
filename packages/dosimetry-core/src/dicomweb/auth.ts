/**
 * Credentials of a DICOMweb server, from the environment only (never from the command line, never written to a
 * report or printed): DOSIMETRY_DICOMWEB_TOKEN (an OAuth/OpenID bearer token: "Authorization: Bearer TOKEN") or
 * DOSIMETRY_DICOMWEB_USER with DOSIMETRY_DICOMWEB_PASSWORD (HTTP basic, RFC 7617). Neither set: no Authorization header.
 *
 * Credentials are sent over https, or over http to this machine only (127.0.0.1, ::1, localhost): plain http to another
 * host would show them to the network, and is refused.
 */
import { InputError } from '../errors.ts';

/** Environment variable of a bearer token. */
export const TOKEN_ENV = 'DOSIMETRY_DICOMWEB_TOKEN';
/** Environment variables of basic credentials. */
export const USER_ENV = 'DOSIMETRY_DICOMWEB_USER';
export const PASSWORD_ENV = 'DOSIMETRY_DICOMWEB_PASSWORD';

/** How requests are authenticated; `header` is the Authorization value, to send and never to show. */
export interface DicomwebAuth {
  readonly kind: 'none' | 'bearer' | 'basic';
  /** Authorization header value; undefined for 'none'. */
  readonly header?: string;
  /** What may be shown: "bearer token from DOSIMETRY_DICOMWEB_TOKEN", "basic auth as USER" or "no credentials". */
  readonly description: string;
}

/** Reads the credentials from `env` (default process.env). InputError when they are incomplete or contradictory. */
export function authFromEnv(env: Readonly<Record<string, string | undefined>> = process.env): DicomwebAuth {
  const token = env[TOKEN_ENV];
  const user = env[USER_ENV];
  const password = env[PASSWORD_ENV];
  if (token !== undefined && token !== '' && (user || password)) {
    throw new InputError(`both ${TOKEN_ENV} and ${USER_ENV}/${PASSWORD_ENV} are set; unset one of them so that it is clear which credentials are sent`);
  }
  if (token) {
    if (/[\s\r\n]/.test(token.trim()) || token.trim() === '') throw new InputError(`${TOKEN_ENV} holds white space inside the token; set it to the token alone (without "Bearer ")`);
    return { kind: 'bearer', header: `Bearer ${token.trim()}`, description: `bearer token from ${TOKEN_ENV}` };
  }
  if (user || password) {
    if (!user) throw new InputError(`${PASSWORD_ENV} is set but ${USER_ENV} is not; set both for basic authentication`);
    if (password === undefined) throw new InputError(`${USER_ENV} is set but ${PASSWORD_ENV} is not; set both for basic authentication`);
    if (user.includes(':')) throw new InputError(`${USER_ENV} holds a colon, which basic authentication cannot carry (RFC 7617); use a bearer token in ${TOKEN_ENV}`);
    return { kind: 'basic', header: `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`, description: `basic authentication as ${user} (${USER_ENV}/${PASSWORD_ENV})` };
  }
  return { kind: 'none', description: 'no credentials' };
}

/** True for a host name of this machine (credentials may go there over plain http). */
export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h);
}

/**
 * Refuses to send credentials where they would leak: over plain http to another machine, or over https with
 * certificate verification turned off for the whole process (NODE_TLS_REJECT_UNAUTHORIZED=0).
 */
export function checkTransport(baseUrl: string, auth: DicomwebAuth, env: Readonly<Record<string, string | undefined>> = process.env): void {
  const u = new URL(baseUrl);
  if (u.protocol === 'https:' && env.NODE_TLS_REJECT_UNAUTHORIZED === '0') {
    throw new InputError(
      `NODE_TLS_REJECT_UNAUTHORIZED=0 turns off TLS certificate verification, so ${u.origin} could be anyone; unset it, and for a server with a private CA set NODE_EXTRA_CA_CERTS=/path/to/ca.pem`,
    );
  }
  if (auth.kind !== 'none' && u.protocol === 'http:' && !isLoopbackHost(u.hostname)) {
    throw new InputError(`${auth.description} would be sent in clear over http to ${u.host}; use the server's https:// address (credentials go over plain http to this machine only)`);
  }
}
