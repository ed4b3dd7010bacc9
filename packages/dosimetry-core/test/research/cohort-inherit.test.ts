/**
 * `cohort`: which clinical columns a lesion without a clinical row of its own inherits from its patient.
 * Only patient-level columns (never varying within a patient, with at least one patient giving two values; or values
 * only on patient rows; or --patient-columns) are inherited; lesion-level ones (response) stay empty, so that a
 * patient whose only lesion row says CR does not make the patient's other lesions responders (was: they got CR).
 * Expectations are written out by hand from the tables below.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { cli } from './cli-harness.ts';
import { parseCsv } from '../../src/research/csv.ts';
import { classifyClinicalColumns, type ClinicalRowRef } from '../../src/research/cohort-columns.ts';

const tmp = mkdtempSync(join(tmpdir(), 'research-cohort-inherit-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

const s = (name: string, meanGy: number) => ({ name, role: 'tumor', volumeMl: 10, massG: 10.5, meanGy });
/** A report.json of one patient whose tumour lesions have the given mean doses [Gy]. */
function report(id: string, lesions: Record<string, number>): string {
  mkdirSync(join(tmp, id), { recursive: true });
  const p = join(tmp, id, 'report.json');
  writeFileSync(p, JSON.stringify({ schemaVersion: 1, structures: [
    { name: 'Liver', role: 'liver', volumeMl: 1500, massG: 1575, meanGy: 40 + id.length + Object.keys(lesions).length },
    ...Object.entries(lesions).map(([n, d]) => s(n, d)),
  ] }));
  return p;
}
// P1: Tumor A 300 Gy, Tumor B 120 Gy, Tumor C 200 Gy; P2: Tumor A 100 Gy, Tumor B 150 Gy
const rep1 = report('P1', { 'Tumor A': 300, 'Tumor B': 120, 'Tumor C': 200 });
const rep2 = report('P2', { 'Tumor A': 100, 'Tumor B': 150 });
const csv = (name: string, text: string) => {
  const p = join(tmp, name);
  writeFileSync(p, text);
  return p;
};
const rows = (out: string, file: string) => parseCsv(readFileSync(join(tmp, out, file), 'utf8')).rows;
const cohort = (clinical: string, out: string, ...extra: string[]) =>
  cli(['cohort', '--json', '--report', `P1=${rep1}`, '--report', `P2=${rep2}`, '--clinical', clinical, '--out', join(tmp, out), ...extra]);
const cell = (les: Array<Record<string, string>>, patient: string, lesion: string, column: string) => les.find((l) => l.patient === patient && l.lesion === lesion)?.[column];

describe('lesions without a clinical row inherit only patient-level columns', () => {
  // P1's only lesion row says CR; P2's two rows differ (PD, SD): response is lesion-level.
  const crTable = 'patient,lesion,response\nP1,Tumor A,CR\nP2,Tumor A,PD\nP2,Tumor B,SD\n';

  it("a patient whose only lesion row says CR does not give CR to the patient's unmatched lesions (was: CR)", async () => {
    const clin = csv('cr.csv', crTable);
    const r = await cohort(clin, 'cr');
    expect(r.code).toBe(0);
    const les = rows('cr', 'lesions.csv');
    expect(les.map((l) => `${l.patient}/${l.lesion}/${l.response}`)).toEqual([
      'P1/Tumor A/CR', 'P1/Tumor B/', 'P1/Tumor C/', 'P2/Tumor A/PD', 'P2/Tumor B/SD',
    ]);
    // the unmatched lesions are listed, with what they inherited (nothing) and what was left empty
    expect(r.err).toContain(`warning: patient "P1" lesion "Tumor B": no lesion row in ${clin}; inherited from the patient: none; left empty: "response"\n`);
    expect(r.err).toContain(`warning: patient "P1" lesion "Tumor C": no lesion row in ${clin}; inherited from the patient: none; left empty: "response"\n`);
    expect(r.err).toContain(`warning: ${clin}: lesions without a row of their own inherit the patient-level columns none; they leave the lesion-level columns empty: "response" (varies within patient "P2", rows 2 and 3)\n`);
    const j = JSON.parse(r.out);
    expect(j.unmatchedLesions).toEqual([
      { patient: 'P1', lesion: 'Tumor B', inherited: [], empty: ['response'] },
      { patient: 'P1', lesion: 'Tumor C', inherited: [], empty: ['response'] },
    ]);
    expect(j.clinicalLevels).toEqual([{ column: 'response', level: 'lesion', basis: 'varies' }]);
    expect(r.err).toBe(j.warnings.map((w: string) => `warning: ${w}\n`).join(''));
    // a lesion-level column does not become the patient's value in patients.csv either (P1's one lesion said CR)
    expect(rows('cr', 'patients.csv').map((p) => `${p.patient}/${p.response}`)).toEqual(['P1/', 'P2/']);
  });

  it('roc on the cohort output does not count the unmatched lesions as responders', async () => {
    const clin = csv('cr-roc.csv', crTable);
    expect((await cohort(clin, 'cr-roc')).code).toBe(0);
    const r = await cli(['roc', '--json', '--csv', join(tmp, 'cr-roc', 'lesions.csv'), '--dose-column', 'meanGy', '--response-column', 'response']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    // responders: P1 Tumor A (300 Gy); non-responders: P2 Tumor A (100), P2 Tumor B (150); P1 Tumor B, C skipped.
    // Every responder dose above every non-responder dose: AUC = 1, cutoff 300. (Had Tumor B (120 Gy) and Tumor C
    // (200 Gy) inherited CR, the responders 300, 120, 200 against 100, 150 would give AUC = 5/6 and 3 responders.)
    expect(j.nPositive).toBe(1);
    expect(j.nNegative).toBe(2);
    expect(j.nDropped).toBe(2);
    expect(j.auc).toBe(1);
    expect(j.cutoff).toBe(300);
    expect(j.counts).toEqual({ tp: 1, fp: 0, tn: 2, fn: 0 });
  });

  it('PFS written on every lesion row (constant within each patient) is inherited; response is not', async () => {
    // pfsMonths: P1 14, 14 (two rows: evidence it is per patient); P2 9 (one row)
    const clin = csv('pfs.csv', 'patient,lesion,response,pfsMonths\nP1,Tumor A,CR,14\nP1,Tumor B,PD,14\nP2,Tumor A,PR,9\n');
    const r = await cohort(clin, 'pfs');
    expect(r.code).toBe(0);
    const les = rows('pfs', 'lesions.csv');
    expect(les.map((l) => `${l.patient}/${l.lesion}/${l.response}/${l.pfsMonths}`)).toEqual([
      'P1/Tumor A/CR/14', 'P1/Tumor B/PD/14', 'P1/Tumor C//14', 'P2/Tumor A/PR/9', 'P2/Tumor B//9',
    ]);
    expect(r.err).toContain(`warning: patient "P1" lesion "Tumor C": no lesion row in ${clin}; inherited from the patient: "pfsMonths"; left empty: "response"\n`);
    const j = JSON.parse(r.out);
    expect(j.clinicalLevels).toEqual([{ column: 'response', level: 'lesion', basis: 'varies' }, { column: 'pfsMonths', level: 'patient', basis: 'constant' }]);
    expect(rows('pfs', 'patients.csv').map((p) => `${p.patient}/${p.pfsMonths}/${p.response}`)).toEqual(['P1/14/', 'P2/9/']);
  });

  it('a table with one lesion row per patient gives no inheritance, unless --patient-columns says so', async () => {
    const clin = csv('one.csv', 'patient,lesion,response,pfsMonths\nP1,Tumor A,CR,14\nP2,Tumor A,PD,9\n');
    const r = await cohort(clin, 'one');
    expect(r.code).toBe(0);
    expect(rows('one', 'lesions.csv').map((l) => `${l.patient}/${l.lesion}/${l.response}/${l.pfsMonths}`)).toEqual([
      'P1/Tumor A/CR/14', 'P1/Tumor B//', 'P1/Tumor C//', 'P2/Tumor A/PD/9', 'P2/Tumor B//',
    ]);
    expect(JSON.parse(r.out).clinicalLevels.map((l: { basis: string }) => l.basis)).toEqual(['no-evidence', 'no-evidence']);
    // the warning says how to declare it
    expect(r.err).toMatch(/"pfsMonths" \(no patient has two rows with a value: give --patient-columns pfsMonths if it is the same for all of a patient's lesions\)/);

    const d = await cohort(clin, 'one-declared', '--patient-columns', 'pfsMonths');
    expect(d.code).toBe(0);
    const les = rows('one-declared', 'lesions.csv');
    expect(les.map((l) => `${l.patient}/${l.lesion}/${l.response}/${l.pfsMonths}`)).toEqual([
      'P1/Tumor A/CR/14', 'P1/Tumor B//14', 'P1/Tumor C//14', 'P2/Tumor A/PD/9', 'P2/Tumor B//9',
    ]);
    expect(JSON.parse(d.out).clinicalLevels).toEqual([{ column: 'response', level: 'lesion', basis: 'no-evidence' }, { column: 'pfsMonths', level: 'patient', basis: 'declared' }]);
    expect(rows('one-declared', 'patients.csv').map((p) => `${p.patient}/${p.pfsMonths}/${p.response}`)).toEqual(['P1/14/', 'P2/9/']);
  });

  it('--lesion-columns keeps a constant column from being inherited', async () => {
    const clin = csv('lesdecl.csv', 'patient,lesion,response,pfsMonths\nP1,Tumor A,CR,14\nP1,Tumor B,PD,14\nP2,Tumor A,PR,9\n');
    const r = await cohort(clin, 'lesdecl', '--lesion-columns', 'pfsMonths');
    expect(r.code).toBe(0);
    expect(rows('lesdecl', 'lesions.csv').map((l) => `${l.patient}/${l.lesion}/${l.pfsMonths}`)).toEqual(['P1/Tumor A/14', 'P1/Tumor B/14', 'P1/Tumor C/', 'P2/Tumor A/9', 'P2/Tumor B/']);
  });

  it('patient rows (empty lesion cell) keep giving their values to every lesion; a lesion-level value on them is not given to lesions', async () => {
    // pfsMonths only on patient rows (patient-level by where it sits); P1's patient row also holds an overall response
    const clin = csv('prow.csv', 'patient,lesion,response,pfsMonths\nP1,,PR,14\nP1,Tumor A,CR,\nP2,,,9\nP2,Tumor A,PD,\nP2,Tumor B,SD,\n');
    const r = await cohort(clin, 'prow');
    expect(r.code).toBe(0);
    expect(rows('prow', 'lesions.csv').map((l) => `${l.patient}/${l.lesion}/${l.response}/${l.pfsMonths}`)).toEqual([
      'P1/Tumor A/CR/14', 'P1/Tumor B//14', 'P1/Tumor C//14', 'P2/Tumor A/PD/9', 'P2/Tumor B/SD/9',
    ]);
    expect(JSON.parse(r.out).clinicalLevels).toEqual([{ column: 'response', level: 'lesion', basis: 'varies' }, { column: 'pfsMonths', level: 'patient', basis: 'patient-rows' }]);
    // patients.csv: the patient row's own values
    expect(rows('prow', 'patients.csv').map((p) => `${p.patient}/${p.response}/${p.pfsMonths}`)).toEqual(['P1/PR/14', 'P2//9']);
  });
});

describe('declarations that contradict the table are refused: one line, nothing written', () => {
  it.each([
    ['--patient-columns on a column that varies within a patient', ['--patient-columns', 'pfsMonths,response'],
      /--patient-columns names "response", but .*bad\.csv gives patient "P1" two values in it \(row 1: "CR", row 2: "PD"\); a patient-level column holds one value per patient: correct the table, or leave "response" out of --patient-columns/],
    ['an unknown column', ['--patient-columns', 'pfs'], /--patient-columns names "pfs", which is not a clinical column of .*bad\.csv; its clinical columns are: "response", "pfsMonths"/],
    ['a column in both lists', ['--patient-columns', 'pfsMonths', '--lesion-columns', 'pfsMonths'], /column "pfsMonths" is given in both --patient-columns and --lesion-columns/],
  ])('%s', async (name, extra, msg) => {
    const clin = csv('bad.csv', 'patient,lesion,response,pfsMonths\nP1,Tumor A,CR,14\nP1,Tumor B,PD,14\nP2,Tumor A,PR,9\n');
    const out = `bad-${name.replace(/\W+/g, '-')}`;
    const r = await cohort(clin, out, ...extra);
    expect(r.code).not.toBe(0);
    expect(r.out).toBe('');
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).toMatch(msg);
    expect(existsSync(join(tmp, out))).toBe(false);
  });
  it('--patient-columns without --clinical', async () => {
    const r = await cli(['cohort', '--report', `P1=${rep1}`, '--patient-columns', 'pfsMonths', '--out', join(tmp, 'noclin')]);
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(/--patient-columns names columns of --clinical; give --clinical too/);
  });
});

describe('classifyClinicalColumns: the rule on a hand-made table', () => {
  const ref = (rowNumber: number, row: Record<string, string>, patientRow = false): ClinicalRowRef => ({ row, rowNumber, patientRow });
  const rowsOfPatient = new Map<string, ClinicalRowRef[]>([
    ['P1', [ref(1, { a: 'x', b: '14', c: '', d: 'CR', e: '' }, true), ref(2, { a: 'y', b: '14.0', c: '5', d: '', e: '' })]],
    ['P2', [ref(3, { a: 'x', b: '9', c: '', d: 'pr', e: '' }), ref(4, { a: 'x', b: 'NA', c: '', d: '', e: '1' }, true)]],
  ]);
  it('varies / constant (numbers compare as numbers, NA is missing) / no evidence / patient rows only', () => {
    const levels = classifyClinicalColumns({ columns: ['a', 'b', 'c', 'd', 'e'], rowsOfPatient, source: 't.csv' });
    expect(levels.map((l) => `${l.column}:${l.level}:${l.basis}`)).toEqual([
      'a:lesion:varies', // P1: x (row 1) vs y (row 2)
      'b:patient:constant', // P1: 14 = 14.0; P2: one value
      'c:lesion:no-evidence', // one value in all, on a lesion row
      'd:lesion:no-evidence', // one value per patient (CR on P1's patient row, pr on P2's lesion row)
      'e:patient:patient-rows', // only on P2's patient row
    ]);
    expect(levels[0].varies).toEqual({ patient: 'P1', rows: [1, 2], values: ['x', 'y'] });
  });
});
