/**
 * Tables as researchers have them: ';'-separated files with decimal commas (European exports), binary columns
 * written 1.0/0.0 (pandas with missing values), and 1/2 codings (R's survival status) that need an explicit map.
 * Expected values are worked by hand from the few rows each table holds.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { cli } from './cli-harness.ts';
import { FormatError, InputError } from '../../src/errors.ts';
import { dialectNote, parseCsvDialect } from '../../src/research/dialect.ts';
import { eventIndicators, responseClassifier } from '../../src/research/table.ts';

const tmp = mkdtempSync(join(tmpdir(), 'research-tables-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());
const file = (name: string, text: string) => {
  const p = join(tmp, name);
  writeFileSync(p, text);
  return p;
};

describe('CSV dialects', () => {
  it("';' with decimal commas is detected, and the numbers read with decimal points", () => {
    const { table, dialect } = parseCsvDialect('patient;dose;response\r\nP1;120,5;CR\r\nP2;80;PD\r\nP3;-0,25e2;SD\r\n', 'eu.csv');
    expect(dialect).toEqual({ delimiter: ';', decimalMark: ',', delimiterDetected: true, decimalDetected: true });
    expect(table.rows.map((r) => r.dose)).toEqual(['120.5', '80', '-0.25e2']);
    expect(table.rows[0]).toEqual({ patient: 'P1', dose: '120.5', response: 'CR' });
    expect(dialectNote(dialect)).toBe("read as ';'-separated with decimal commas");
  });
  it("';' without decimal commas reads numbers as they are; plain CSV says nothing", () => {
    const semi = parseCsvDialect('a;b\n1.5;2\n', 'x.csv');
    expect(semi.dialect.decimalMark).toBe('.');
    expect(semi.table.rows[0]).toEqual({ a: '1.5', b: '2' });
    expect(dialectNote(semi.dialect)).toBe("read as ';'-separated with decimal points");
    const plain = parseCsvDialect('a,b\n"1,5",2\n', 'y.csv');
    expect(plain.table.rows[0]).toEqual({ a: '1,5', b: '2' }); // a quoted decimal comma in a ',' file is left to the number parser
    expect(dialectNote(plain.dialect)).toBeUndefined();
  });
  it("forced: --delimiter ';' --decimal , (and a quoted \"5,5\" in a comma file with --decimal ,)", () => {
    expect(parseCsvDialect('a;b\n1,5;2\n', 'f.csv', { delimiter: ';', decimalMark: ',' }).table.rows[0]).toEqual({ a: '1.5', b: '2' });
    const forced = parseCsvDialect('a,b\n"5,5",2\n', 'g.csv', { decimalMark: ',' });
    expect(forced.table.rows[0]).toEqual({ a: '5.5', b: '2' });
    expect(dialectNote(forced.dialect)).toBe("read as ','-separated with decimal commas (as forced by --decimal ,)");
    expect(dialectNote(parseCsvDialect('a;b\n1;2\n', 'h.csv', { delimiter: ';', decimalMark: ',' }).dialect)).toBe("read as ';'-separated with decimal commas (as forced by --delimiter ';' --decimal ,)");
  });
  it.each([
    ['both delimiters read as a table', 'a,b;c\n1,2;3\n', {}, /reads as a table both 2 columns wide at ',' and 2 columns wide at ';'; say which separates the columns with --delimiter ',' or --delimiter ';'/],
    ['decimal commas and points mixed', 'a;b\n1,5;2.5\n', {}, /holds numbers with decimal commas \(row 1 column "a": "1,5"\) and with decimal points \(row 1 column "b": "2.5"\); say which mark the file uses with --decimal , or --decimal \./],
    ['a point in a decimal-comma file', 'a;b\n1,5;1.234\n', { decimalMark: ',' as const }, /is read with decimal commas, but row 1 column "b": "1.234" is written with a decimal point/],
  ])('refused: %s', (_n, text, opts, msg) => {
    expect(() => parseCsvDialect(text, 'amb.csv', opts)).toThrow(FormatError);
    expect(() => parseCsvDialect(text, 'amb.csv', opts)).toThrow(msg);
  });
  it("a ';' header with a comma in a name still reads as ','-separated", () => {
    const { dialect, table } = parseCsvDialect('dose;Gy,response\n100,CR\n', 'h.csv');
    expect(dialect.delimiter).toBe(',');
    expect(table.columns).toEqual(['dose;Gy', 'response']);
  });

  it("roc on a ';'/decimal-comma export equals roc on the same table as plain CSV; stderr says how it was read", async () => {
    // doses: responders 250.5, 180.25; non-responders 90.75, 200.5: pairs won 3 of 4 -> AUC 0.75; Youden J = 0.5 at
    // 250.5 (1/2 - 0) and at 180.25 (1 - 1/2): the lower, 180.25
    const eu = file('eu.csv', 'Patient;Dose;Response\nP1;250,5;CR\nP2;180,25;PR\nP3;90,75;SD\nP4;200,5;PD\n');
    const us = file('us.csv', 'Patient,Dose,Response\nP1,250.5,CR\nP2,180.25,PR\nP3,90.75,SD\nP4,200.5,PD\n');
    const a = await cli(['roc', '--json', '--csv', eu, '--dose-column', 'Dose', '--response-column', 'Response']);
    const b = await cli(['roc', '--json', '--csv', us, '--dose-column', 'Dose', '--response-column', 'Response']);
    expect(a.code).toBe(0);
    expect(a.err).toBe(`note: ${eu}: read as ';'-separated with decimal commas\n`);
    expect(b.err).toBe('');
    expect(JSON.parse(a.out)).toEqual(JSON.parse(b.out));
    expect(JSON.parse(a.out).auc).toBe(0.75);
    expect(JSON.parse(a.out).cutoff).toBe(180.25);
  });
  it('--delimiter and --decimal force the reading; a bad value is a usage error', async () => {
    const p = file('forced.csv', 'd;r\n1,5;1\n2,5;0\n3,5;1\n');
    const r = await cli(['roc', '--json', '--csv', p, '--dose-column', 'd', '--response-column', 'r', '--delimiter', ';', '--decimal', ',']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out).curve.map((c: { threshold: number }) => c.threshold)).toEqual([3.5, 2.5, 1.5]);
    const bad = await cli(['roc', '--csv', p, '--dose-column', 'd', '--response-column', 'r', '--delimiter', '|']);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/--delimiter "\|": give ',' \(comma\), ';' \(semicolon\) or tab/);
  });
  it('an ambiguous file is refused on one line, with the fix, by every command', async () => {
    const p = file('amb.csv', 'a,b;c\n1,2;3\n4,5;6\n');
    const r = await cli(['km', '--csv', p, '--time-column', 'a', '--event-column', 'b']);
    expect(r.code).not.toBe(0);
    expect(r.out).toBe('');
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).toMatch(/--delimiter ',' or --delimiter ';'/);
  });
  it('a decimal comma in a plain CSV names the option that reads it', async () => {
    const p = file('comma-cell.csv', 'dose,response\n"5,5",CR\n4,PD\n');
    const r = await cli(['roc', '--csv', p, '--dose-column', 'dose', '--response-column', 'response']);
    expect(r.err).toMatch(/holds "5,5", which is not a number \(it has a decimal comma; write 5\.5 with a decimal point\); use a plain decimal number with a decimal point \(or read a file written with decimal commas with --decimal ,\)/);
  });
});

describe('binary columns written 1.0/0.0 (pandas with missing values)', () => {
  it('responses 1.0/0.0 are binary: 1.0 responds, 0.0 does not', () => {
    const v = ['1.0', '0.0', '1', '0.00', ' 1.0 '];
    const c = responseClassifier(v, undefined);
    expect(v.map(c.isPositive)).toEqual([true, false, true, false, true]);
  });
  it('events 1.0/0.0 are events and censoring', () => {
    expect(eventIndicators(['1.0', '0.0', '1', '0'], {}, { column: 'e', source: 's' })).toEqual([true, false, true, false]);
  });
  it('roc and km on a pandas export with empty cells equal the same table written 1/0', async () => {
    const pandas = file('pandas.csv', 'dose,resp,months,event\n100.0,1.0,5.0,1.0\n50.0,0.0,9.0,0.0\n80.0,,3.0,1.0\n120.0,1.0,,\n40.0,0.0,12.0,1.0\n');
    const plain = file('plain.csv', 'dose,resp,months,event\n100,1,5,1\n50,0,9,0\n80,NA,3,1\n120,1,NA,NA\n40,0,12,1\n');
    for (const args of [['roc', '--dose-column', 'dose', '--response-column', 'resp'], ['km', '--time-column', 'months', '--event-column', 'event']]) {
      const a = await cli([args[0], '--json', '--csv', pandas, ...args.slice(1)]);
      const b = await cli([args[0], '--json', '--csv', plain, ...args.slice(1)]);
      expect(a.code).toBe(0);
      expect(JSON.parse(a.out)).toEqual(JSON.parse(b.out));
    }
    // AUC: responders 100, 120 against non-responders 50, 40: all four pairs won
    expect(JSON.parse((await cli(['roc', '--json', '--csv', pandas, '--dose-column', 'dose', '--response-column', 'resp'])).out).auc).toBe(1);
  });
});

describe('1/2 codings need an explicit map', () => {
  const coded = file('coded.csv', 'dose,response,time,status\n100,2,5,2\n50,1,9,1\n80,2,3,2\n120,1,7,2\n40,1,12,1\n');
  it.each([
    ['roc', ['roc', '--csv', coded, '--dose-column', 'dose', '--response-column', 'response'], /column "response" holds the codes 1 and 2, not 0\/1: .* say which with --positive 2 \(2 = responder, 1 = non-responder\) or --positive 1/],
    ['logistic', ['logistic', '--csv', coded, '--dose-column', 'dose', '--response-column', 'response'], /holds the codes 1 and 2, not 0\/1/],
    ['km', ['km', '--csv', coded, '--time-column', 'time', '--event-column', 'status'], /column "status" holds 1 and 2, not 0\/1 \(R's survival coding: 1 = censored, 2 = event\); say so with --event-codes 2/],
    ['cox', ['cox', '--csv', coded, '--time-column', 'time', '--event-column', 'status', '--covariate', 'dose'], /holds 1 and 2, not 0\/1/],
  ])('%s without a map: refused on one line', async (_n, argv, msg) => {
    const r = await cli(argv);
    expect(r.code).not.toBe(0);
    expect(r.out).toBe('');
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).toMatch(msg);
  });
  it('--positive 2 maps the response: 2 responds, 1 does not', async () => {
    const r = await cli(['roc', '--json', '--csv', coded, '--dose-column', 'dose', '--response-column', 'response', '--positive', '2']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.positive).toEqual(['2']);
    expect(j.negative).toEqual(['1']);
    // responders 100, 80 vs non-responders 50, 120, 40: pairs won 2 + 2 = 4 of 6
    expect(j.auc).toBeCloseTo(4 / 6, 15);
    expect([j.nPositive, j.nNegative]).toEqual([2, 3]);
  });
  it('--event-codes 2 maps the status: KM by hand', async () => {
    const r = await cli(['km', '--json', '--csv', coded, '--time-column', 'time', '--event-column', 'status', '--event-codes', '2']);
    expect(r.code).toBe(0);
    const s = JSON.parse(r.out).curves[0].steps;
    // events at 3, 5, 7 (status 2); censored at 9, 12: S = 4/5, 4/5 x 3/4, 3/5 x 2/3
    expect(s.map((x: { time: number }) => x.time)).toEqual([3, 5, 7]);
    expect(s.map((x: { survival: number }) => x.survival)).toEqual([0.8, expect.closeTo(0.6, 15), expect.closeTo(0.4, 15)]);
  });
  it('codes the map does not name are refused; --censor-codes needs --event-codes', () => {
    const opts = { column: 'status', source: 's.csv', rows: [1, 2, 3] };
    expect(() => eventIndicators(['0', '1', '2'], { event: ['2'] }, opts)).toThrow(/holds "0", "1" and "2"; --event-codes 2 leaves "0" and "1": say which mean censored with --censor-codes/);
    expect(eventIndicators(['0', '1', '2'], { event: ['2', '1'], censored: ['0'] }, opts)).toEqual([false, true, true]);
    expect(() => eventIndicators(['0', '1', '3'], { event: ['1'], censored: ['0'] }, opts)).toThrow(/holds 1 value that --event-codes 1 and --censor-codes 0 do not name: "3" \(1 row, row 3\)/);
    expect(() => eventIndicators(['1'], { censored: ['1'] }, opts)).toThrow(InputError);
    expect(() => responseClassifier(['0', '1', '2'], ['2'])).toThrow(/--positive 2 leaves "0" and "1": say which are non-responders with --negative/);
    expect(responseClassifier(['0', '1', '2'], ['2'], { negative: ['0', '1'] }).isPositive('2.0')).toBe(true);
  });
});
