/**
 * Credentials from the environment only: header values checked against RFC 7617's own example, the refusals
 * (credentials in a URL, both kinds set, half of basic, clear text to another machine, TLS verification off).
 */
import { describe, expect, it } from 'vitest';
import { authFromEnv, checkTransport, isLoopbackHost } from '../../src/dicomweb/auth.ts';
import { parseBaseUrl, parseSeriesSpec, redactUrl } from '../../src/dicomweb/url.ts';

describe('DICOMweb credentials and URLs', () => {
  it('basic: the Authorization value of RFC 7617 section 2 ("Aladdin" / "open sesame")', () => {
    const a = authFromEnv({ DOSIMETRY_DICOMWEB_USER: 'Aladdin', DOSIMETRY_DICOMWEB_PASSWORD: 'open sesame' });
    expect(a.kind).toBe('basic');
    expect(a.header).toBe('Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==');
    expect(a.description).not.toContain('open sesame');
  });

  it('bearer: the token as given, after "Bearer "; nothing set: no header', () => {
    expect(authFromEnv({ DOSIMETRY_DICOMWEB_TOKEN: 'eyJhbGciOi.x.y' }).header).toBe('Bearer eyJhbGciOi.x.y');
    expect(authFromEnv({ DOSIMETRY_DICOMWEB_TOKEN: 'abc' }).description).not.toContain('abc');
    expect(authFromEnv({})).toEqual({ kind: 'none', description: 'no credentials' });
  });

  it('refuses contradictory or incomplete credentials, with what to set', () => {
    expect(() => authFromEnv({ DOSIMETRY_DICOMWEB_TOKEN: 't', DOSIMETRY_DICOMWEB_USER: 'u', DOSIMETRY_DICOMWEB_PASSWORD: 'p' })).toThrow(/both DOSIMETRY_DICOMWEB_TOKEN and/);
    expect(() => authFromEnv({ DOSIMETRY_DICOMWEB_USER: 'u' })).toThrow(/DOSIMETRY_DICOMWEB_PASSWORD is not/);
    expect(() => authFromEnv({ DOSIMETRY_DICOMWEB_PASSWORD: 'p' })).toThrow(/DOSIMETRY_DICOMWEB_USER is not/);
    expect(() => authFromEnv({ DOSIMETRY_DICOMWEB_USER: 'a:b', DOSIMETRY_DICOMWEB_PASSWORD: 'p' })).toThrow(/colon/);
    expect(() => authFromEnv({ DOSIMETRY_DICOMWEB_TOKEN: 'Bearer abc' })).toThrow(/without "Bearer "/);
  });

  it('refuses credentials in a URL without repeating them', () => {
    for (const u of ['dicomweb:https://alice:s3cret@pacs.example.org/dicom-web', 'dicomweb:https://alice@pacs.example.org/dicom-web']) {
      let msg = '';
      try {
        parseBaseUrl(u, '--store');
      } catch (e) {
        msg = (e as Error).message;
      }
      expect(msg).toMatch(/carries credentials.*DOSIMETRY_DICOMWEB_TOKEN/);
      expect(msg).not.toContain('s3cret');
    }
    expect(redactUrl('https://alice:s3cret@h/x')).toBe('https://***@h/x');
  });

  it('parses series addresses and refuses malformed ones', () => {
    expect(parseSeriesSpec('dicomweb:http://127.0.0.1:8042/dicom-web/studies/1.2.3/series/4.5.6/', '--ct')).toEqual({
      baseUrl: 'http://127.0.0.1:8042/dicom-web', studyInstanceUid: '1.2.3', seriesInstanceUid: '4.5.6',
    });
    expect(() => parseSeriesSpec('dicomweb:http://h/dicom-web/studies/1.2.3', '--ct')).toThrow(/does not name a series/);
    expect(() => parseSeriesSpec('dicomweb:http://h/studies/1.2.3/series/..%2F..%2Fetc', '--ct')).toThrow(/not a DICOM UID/);
    expect(() => parseBaseUrl('dicomweb:ftp://h/x', '--store')).toThrow(/http:\/\/ or https:\/\//);
    expect(() => parseBaseUrl('dicomweb:http://h/x?token=abc', '--store')).toThrow(/query or fragment/);
  });

  it('sends credentials over https, or over http to this machine only; refuses https with verification off', () => {
    const basic = authFromEnv({ DOSIMETRY_DICOMWEB_USER: 'u', DOSIMETRY_DICOMWEB_PASSWORD: 'p' });
    expect(() => checkTransport('https://pacs.example.org/dicom-web', basic, {})).not.toThrow();
    expect(() => checkTransport('http://127.0.0.1:8042/dicom-web', basic, {})).not.toThrow();
    expect(() => checkTransport('http://[::1]:8042/dicom-web', basic, {})).not.toThrow();
    expect(() => checkTransport('http://pacs.example.org/dicom-web', basic, {})).toThrow(/in clear over http to pacs\.example\.org/);
    expect(() => checkTransport('http://pacs.example.org/dicom-web', authFromEnv({}), {})).not.toThrow();
    expect(() => checkTransport('https://pacs.example.org/dicom-web', basic, { NODE_TLS_REJECT_UNAUTHORIZED: '0' })).toThrow(/NODE_EXTRA_CA_CERTS/);
    expect(isLoopbackHost('127.8.0.1')).toBe(true);
    expect(isLoopbackHost('128.0.0.1')).toBe(false);
  });
});
