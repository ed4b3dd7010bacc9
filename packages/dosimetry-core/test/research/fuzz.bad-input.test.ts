/**
 * Inputs found by fuzzing the research and number parsing (each row failed before its fix): a number written in
 * hexadecimal or with a decimal comma is refused, never read as something else; CSV errors name the file; a UTF-16
 * CSV is named as such; one report given for two patients is refused; warnings go to stderr (also with --json).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { cli } from './cli-harness.ts';
import { InputError } from '../../src/errors.ts';
import { buildCohort, parseReportArg, readCohortReport } from '../../src/research/cohort.ts';
import { parseNumberCell, readCsvFile } from '../../src/research/table.ts';
import { decimalProblem, parseDecimal } from '../../src/units/decimal.ts';

const tmp = mkdtempSync(join(tmpdir(), 'research-fuzz-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());


const file = (name: string, text: string | Uint8Array) => {
  const p = join(tmp, name);
  writeFileSync(p, text);
  return p;
};

describe('parseDecimal: a plain decimal number or nothing', () => {
  it.each([
    ['5', 5], [' 5 ', 5], ['-0', -0], ['+2.5', 2.5], ['.5', 0.5], ['5.', 5], ['1e-3', 0.001], ['2E+2', 200], ['1e-400', 0],
  ])('"%s" is %d', (t, v) => expect(parseDecimal(t)).toBe(v));

  it.each([
    ['0x10', /hexadecimal/], ['0b1', /hexadecimal, binary and octal/], ['0o7', /octal/], ['5,5', /decimal comma; write 5.5/],
    ['', /empty/], ['   ', /empty/], ['1e309', /beyond the range/], ['Infinity', /not a plain decimal/], ['NaN', /not a plain decimal/],
    ['1_000', /not a plain decimal/], ['1.2.3', /not a plain decimal/], ['5 5', /not a plain decimal/], ['--5', /not a plain decimal/],
  ])('"%s" is refused (%s)', (t, why) => {
    expect(parseDecimal(t)).toBeUndefined();
    expect(decimalProblem(t)).toMatch(why);
  });

  it('a CSV cell in hexadecimal is refused (Number() read "0x10" as a dose of 16 Gy)', () => {
    expect(() => parseNumberCell('0x10', 'dose', 3, 'x.csv')).toThrow(/column "dose" row 3 holds "0x10".*hexadecimal/);
    expect(() => parseNumberCell('5,5', 'dose', 3, 'x.csv')).toThrow(/decimal comma; write 5\.5/);
    expect(parseNumberCell(' 12.5 ', 'dose', 3, 'x.csv')).toBe(12.5);
  });
});

describe('research commands: malformed CSVs and number options', () => {
  const rows = 'dose,resp\n10,CR\n20,PR\n5,SD\n3,PD\n40,CR\n8,SD\n';

  it('a hexadecimal dose cell is one error line, not a dose of 16', async () => {
    const r = await cli(['roc', '--json', '--csv', file('hex.csv', rows.replace('10,CR', '0x10,CR')), '--dose-column', 'dose', '--response-column', 'resp']);
    expect(r.code).not.toBe(0);
    expect(r.out).toBe('');
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).toMatch(/^dosimetry roc: .*hex\.csv: column "dose" row 1 holds "0x10"/);
  });

  it('a malformed quote names the file', async () => {
    const r = await cli(['roc', '--csv', file('quote.csv', 'dose,resp\n10,"C"R\n'), '--dose-column', 'dose', '--response-column', 'resp']);
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(/^dosimetry roc: .*quote\.csv: CSV line 2: unexpected character after a closing quote/);
  });

  it('a UTF-16 CSV is named as such (its header used to match no column)', () => {
    const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('dose,resp\n10,CR\n', 'utf16le')]);
    expect(() => readCsvFile(file('u16.csv', utf16))).toThrow(/u16\.csv is UTF-16 text; save it as CSV in UTF-8/);
  });

  it.each([
    ['hexadecimal', '0x14', /--cutoff must be a number, got "0x14" \(hexadecimal/],
    ['a decimal comma', '2,5', /got "2,5" \(it has a decimal comma; write 2\.5/],
    ['empty (--x=)', '', /got "" \(it is empty\)/],
  ])('a number option in %s is refused', async (_what, v, message) => {
    const r = await cli(['km', '--csv', file('s.csv', 'time,event,dose\n5,1,10\n8,0,20\n'), '--time-column', 'time', '--event-column', 'event', '--dose-column', 'dose', `--cutoff=${v}`]);
    expect(r.code).toBe(2);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).toMatch(message);
  });
});

describe('cohort: one report per patient', () => {
  const report = JSON.stringify({ schemaVersion: 1, structures: [{ name: 'Tumor', role: 'tumor', volumeMl: 10, massG: 10.5, meanGy: 120 }] });

  it('the same report.json for two patient ids is refused (their lesions were counted twice)', () => {
    const a = file('a-report.json', report);
    expect(() => buildCohort({ reports: [readCohortReport(a, 'p1'), readCohortReport(a, 'p2')] })).toThrow(/patients "p1" and "p2" are given the same report/);
    const copy = file('copy-report.json', report);
    expect(() => buildCohort({ reports: [readCohortReport(a, 'p1'), readCohortReport(copy, 'p2')] })).toThrow(/identical files/);
  });

  it('an empty id or path around "=" is refused with how to write it', () => {
    expect(() => parseReportArg('=x/report.json')).toThrow(InputError);
    expect(() => parseReportArg('=x/report.json')).toThrow(/empty patient id before "="/);
    expect(() => parseReportArg('p1=')).toThrow(/empty path after "="/);
    expect(parseReportArg('p1=x/report.json')).toEqual({ id: 'p1', path: 'x/report.json' });
  });

  it('warnings go to stderr as "warning: ..." lines, also with --json', async () => {
    const a = file('w-report.json', report);
    // p1 joins; p9 has no report (a clinical table joining no report at all is an error: see cohort-match.test.ts)
    const clin = file('clin.csv', 'patient,lesion,response\np1,,CR\np9,,CR\n');
    for (const json of [[], ['--json']]) {
      const r = await cli(['cohort', ...json, '--report', `p1=${a}`, '--clinical', clin, '--out', join(tmp, `co${json.length}`)]);
      expect(r.code).toBe(0);
      expect(r.err).toMatch(/^warning: .*clin\.csv: patient "p9" has no report/);
      expect(r.out).not.toMatch(/warning:/);
    }
  });
});
