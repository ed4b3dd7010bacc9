import { describe, expect, it } from 'vitest';
import { formatCsv, parseCsv, parseCsvRecords } from '../../src/research/csv.ts';
import { FormatError } from '../../src/errors.ts';

describe('CSV parser (RFC 4180)', () => {
  it('quoted fields with commas, doubled quotes and line breaks; CRLF; BOM; trailing empty line', () => {
    const text = '\ufeffpatient,lesion,note\r\nP01,"Tumor, left",plain\r\nP02,"say ""hi""","two\r\nlines"\r\n\r\n';
    expect(parseCsvRecords(text)).toEqual([
      ['patient', 'lesion', 'note'],
      ['P01', 'Tumor, left', 'plain'],
      ['P02', 'say "hi"', 'two\r\nlines'],
    ]);
    const t = parseCsv(text);
    expect(t.columns).toEqual(['patient', 'lesion', 'note']);
    expect(t.rows[1]).toEqual({ patient: 'P02', lesion: 'say "hi"', note: 'two\r\nlines' });
  });
  it('LF, empty fields, short rows padded, no final newline', () => {
    const t = parseCsv('a,b,c\n1,,3\n4\n"",5,');
    expect(t.rows).toEqual([{ a: '1', b: '', c: '3' }, { a: '4', b: '', c: '' }, { a: '', b: '5', c: '' }]);
  });
  it('round trip through formatCsv', () => {
    const rows = [{ x: 'a,b', y: 1.5, z: 'q"uote' }, { x: 'line\nbreak', y: -2e-7, z: '' }];
    const t = parseCsv(formatCsv(['x', 'y', 'z'], rows));
    expect(t.rows).toEqual([{ x: 'a,b', y: '1.5', z: 'q"uote' }, { x: 'line\nbreak', y: '-2e-7', z: '' }]);
  });
  it.each([
    ['a,b\n"open,1\n', /not closed/],
    ['a,b\n"x"y,1\n', /after a closing quote/],
    ['a,b\nx"y,1\n', /quote inside an unquoted field/],
    ['a,a\n1,2\n', /appears twice/],
    ['a,\n1,2\n', /has no name/],
    ['a,b\n1,2,3\n', /has 3 fields but the header has 2/],
    ['', /empty/],
  ])('rejects %j', (text, msg) => {
    expect(() => parseCsv(text)).toThrow(FormatError);
    expect(() => parseCsv(text)).toThrow(msg);
  });
});
