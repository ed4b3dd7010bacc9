/**
 * multipart/related parsing and building (RFC 2046 5.1, RFC 2387): bodies written out by hand here, byte for byte,
 * not produced by the builder under test (except for the round trip, checked against the parser AND a literal).
 */
import { describe, expect, it } from 'vitest';
import { FormatError } from '../../src/errors.ts';
import { buildMultipart, contentTypeParameter, parseMultipart } from '../../src/dicomweb/multipart.ts';

const te = new TextEncoder();
const td = new TextDecoder();

describe('multipart/related', () => {
  it('reads the boundary from Content-Type, quoted or not', () => {
    expect(contentTypeParameter('multipart/related; type="application/dicom"; boundary=abc123', 'boundary')).toBe('abc123');
    expect(contentTypeParameter('multipart/related;boundary="a b;c";type=application/dicom', 'boundary')).toBe('a b;c');
    expect(contentTypeParameter('multipart/related; type="application/dicom"', 'boundary')).toBeUndefined();
    expect(contentTypeParameter('multipart/related; type="application/dicom"', 'type')).toBe('application/dicom');
  });

  it('splits a hand-written body: preamble, headers, header-less part, CRLF and "--" inside data, epilogue', () => {
    const body =
      'this is a preamble\r\n' +
      '--XyZ\r\nContent-Type: application/dicom\r\nContent-Location: /a\r\n\r\n' +
      'first\r\n--XyZnot-a-delimiter\r\n--Xy\r\n' +
      '\r\n--XyZ  \r\n\r\n' + // transport padding after the delimiter; a part without headers
      'second' +
      '\r\n--XyZ--\r\nepilogue, ignored\r\n--XyZ\r\n';
    const parts = parseMultipart(te.encode(body), 'multipart/related; type="application/dicom"; boundary=XyZ', 'test');
    expect(parts).toHaveLength(2);
    expect(parts[0].headers).toEqual({ 'content-type': 'application/dicom', 'content-location': '/a' });
    // a delimiter line is CRLF "--" boundary then "--" or white space and CRLF: "--XyZnot-a-delimiter" is data
    expect(td.decode(parts[0].body)).toBe('first\r\n--XyZnot-a-delimiter\r\n--Xy\r\n');
    expect(td.decode(parts[1].body)).toBe('second');
    expect(parts[1].headers).toEqual({});
  });

  it('keeps binary bytes exactly (every byte value, CR and LF at the ends)', () => {
    const data = new Uint8Array(512);
    for (let i = 0; i < data.length; i++) data[i] = i % 256;
    data[0] = 0x0d;
    data[511] = 0x0a;
    const head = te.encode('--b0\r\nContent-Type: application/octet-stream\r\n\r\n');
    const tail = te.encode('\r\n--b0--');
    const body = new Uint8Array(head.length + data.length + tail.length);
    body.set(head);
    body.set(data, head.length);
    body.set(tail, head.length + data.length);
    const [p] = parseMultipart(body, 'multipart/related; boundary=b0', 'test');
    expect(p.body).toEqual(data);
  });

  it('refuses a truncated answer, one without boundary, and one that is not multipart', () => {
    expect(() => parseMultipart(te.encode('--B\r\n\r\nhalf of an inst'), 'multipart/related; boundary=B', 'WADO')).toThrow(/truncated/);
    expect(() => parseMultipart(te.encode('--B\r\n\r\nx\r\n--B--'), 'multipart/related', 'WADO')).toThrow(/names no boundary/);
    expect(() => parseMultipart(te.encode('{}'), 'application/json', 'WADO')).toThrow(FormatError);
    expect(() => parseMultipart(te.encode('no delimiter here'), 'multipart/related; boundary=B', 'WADO')).toThrow(/no part/);
  });

  it('an empty multipart (closing delimiter only) holds no part', () => {
    expect(parseMultipart(te.encode('--B--\r\n'), 'multipart/related; boundary=B', 'test')).toEqual([]);
  });

  it('builds the exact bytes of RFC 2046 with a given boundary, and the parser reads them back', () => {
    const built = buildMultipart([te.encode('one'), te.encode('two\r\n')], 'application/dicom', 'BOUND');
    expect(built.contentType).toBe('multipart/related; type="application/dicom"; boundary=BOUND');
    expect(td.decode(built.body)).toBe('--BOUND\r\nContent-Type: application/dicom\r\n\r\none\r\n--BOUND\r\nContent-Type: application/dicom\r\n\r\ntwo\r\n\r\n--BOUND--\r\n');
    const back = parseMultipart(built.body, built.contentType, 'test');
    expect(back.map((p) => td.decode(p.body))).toEqual(['one', 'two\r\n']);
  });

  it('chooses a random boundary that occurs in no part; refuses a given one that does', () => {
    const built = buildMultipart([te.encode('x'.repeat(100))], 'application/dicom');
    const b = contentTypeParameter(built.contentType, 'boundary')!;
    expect(b).toMatch(/^sirt-dosimetry-[0-9a-f]{32}$/);
    expect(() => buildMultipart([te.encode('a\r\n--BOUND\r\n')], 'application/dicom', 'BOUND')).toThrow(/occurs inside a part/);
  });
});
