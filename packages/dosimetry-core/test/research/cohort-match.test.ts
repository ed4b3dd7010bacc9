/**
 * `cohort`: clinical lesion rows matched to the lesions of --split-lesions through `lesionOf`, the lesion map, and
 * the refusals (a parent row for several components, a map to a missing row, a clinical table that joins nothing):
 * one line on stderr, nothing written.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { cli } from './cli-harness.ts';
import { parseCsv } from '../../src/research/csv.ts';

const tmp = mkdtempSync(join(tmpdir(), 'research-cohort-match-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

const s = (name: string, role: string, massG: number, meanGy: number, extra: Record<string, unknown> = {}) =>
  ({ name, role, volumeMl: massG / 1.05, massG, meanGy, ...extra });
/** A report as `dose --split-lesions` writes it: "Tumor A" split into "Tumor A #1" (one component), "Tumor B" into two. */
function report(dir: string, liverGy: number): string {
  mkdirSync(join(tmp, dir), { recursive: true });
  const p = join(tmp, dir, 'report.json');
  writeFileSync(p, JSON.stringify({ schemaVersion: 1, structures: [
    s('Liver', 'liver', 1500, liverGy), // differs per patient: one report.json given for two patients is refused
    s('Tumor A', 'tumor', 30, 250), s('Tumor A #1', 'tumor', 30, 250, { lesionOf: 'Tumor A', equivalentDiameterMm: 37.9 }),
    s('Tumor B', 'tumor', 21, 150), s('Tumor B #1', 'tumor', 15, 180, { lesionOf: 'Tumor B', equivalentDiameterMm: 30.1 }),
    s('Tumor B #2', 'tumor', 6, 75, { lesionOf: 'Tumor B', equivalentDiameterMm: 22.2 }),
  ] }));
  return p;
}
const rep1 = report('P1', 40);
const rep2 = report('P2', 45);
const csv = (name: string, text: string) => {
  const p = join(tmp, name);
  writeFileSync(p, text);
  return p;
};
const lesions = (out: string) => parseCsv(readFileSync(join(out, 'lesions.csv'), 'utf8')).rows;
const cohort = (clinical: string, out: string, ...extra: string[]) => cli(['cohort', '--json', '--report', `P1=${rep1}`, '--report', `P2=${rep2}`, '--clinical', clinical, '--out', join(tmp, out), ...extra]);

describe('lesionOf matching', () => {
  it('a single component takes its parent\'s row ("Tumor A" -> "Tumor A #1"); components with rows of their own take those', async () => {
    const clin = csv('own.csv', 'patient,lesion,response\nP1,tumor a,CR\nP1,Tumor B #1,PR\nP1,Tumor B #2,PD\nP2,Tumor A,SD\nP2,Tumor B #1,CR\nP2,Tumor B #2,SD\n');
    const r = await cohort(clin, 'own');
    expect(r.code).toBe(0);
    expect(r.err).toBe('');
    const les = lesions(join(tmp, 'own'));
    expect(les.map((l) => `${l.patient}/${l.lesion}/${l.response}/${l.clinicalLesion}`)).toEqual([
      'P1/Tumor A #1/CR/tumor a', 'P1/Tumor B #1/PR/Tumor B #1', 'P1/Tumor B #2/PD/Tumor B #2',
      'P2/Tumor A #1/SD/Tumor A', 'P2/Tumor B #1/CR/Tumor B #1', 'P2/Tumor B #2/SD/Tumor B #2',
    ]);
  });
  it('a row for a tumour split into several lesions is refused, naming the parent and its components; nothing written', async () => {
    const clin = csv('parent.csv', 'patient,lesion,response\nP1,Tumor A,CR\nP1,Tumor B,PR\nP2,Tumor A,SD\nP2,Tumor B #1,CR\nP2,Tumor B #2,SD\n');
    const r = await cohort(clin, 'parent');
    expect(r.code).not.toBe(0);
    expect(r.out).toBe('');
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).toMatch(/parent\.csv: patient "P1" lesion "Tumor B" \(row 2\) was split by --split-lesions into 2 lesions \("Tumor B #1", "Tumor B #2"\), and one clinical row cannot describe them all; give one clinical row per lesion .* or map them with --lesion-map FILE\.csv \(columns reportLesion,clinicalLesion\)/);
    expect(existsSync(join(tmp, 'parent'))).toBe(false);
  });
  it('--lesion-map maps components to a clinical lesion (per patient, or for every patient)', async () => {
    const clin = csv('mapped.csv', 'patient,lesion,response\nP1,Tumor A,CR\nP1,Tumor B,PR\nP2,Tumor A,SD\nP2,Big one,CR\nP2,Small one,PD\n');
    const map = csv('map.csv', 'patient,reportLesion,clinicalLesion\n,Tumor B #1,Tumor B\n,Tumor B #2,Tumor B\nP2,Tumor B #1,Big one\nP2,Tumor B #2,Small one\n');
    const r = await cohort(clin, 'mapped', '--lesion-map', map);
    expect(r.code).toBe(0);
    expect(r.err).toBe('');
    expect(lesions(join(tmp, 'mapped')).map((l) => `${l.patient}/${l.lesion}/${l.response}/${l.clinicalLesion}`)).toEqual([
      'P1/Tumor A #1/CR/Tumor A', 'P1/Tumor B #1/PR/Tumor B', 'P1/Tumor B #2/PR/Tumor B',
      'P2/Tumor A #1/SD/Tumor A', 'P2/Tumor B #1/CR/Big one', 'P2/Tumor B #2/PD/Small one',
    ]);
  });
  it('a map row that names no lesion of the reports is a warning', async () => {
    const clin = csv('mapunused.csv', 'patient,lesion,response\nP1,Tumor A,CR\nP1,Tumor B #1,PR\nP1,Tumor B #2,PD\nP2,Tumor A,SD\nP2,Tumor B #1,CR\nP2,Tumor B #2,SD\n');
    const map = csv('map3.csv', 'patient,reportLesion,clinicalLesion\nP1,Tumor C #1,Tumor A\n');
    const r = await cohort(clin, 'mapunused', '--lesion-map', map);
    expect(r.code).toBe(0);
    expect(r.err).toBe(`warning: ${map}: row 1 (lesion "Tumor C #1" of patient "P1") names no lesion of the reports; not used\n`);
  });
  it('a map to a clinical lesion that has no row is refused', async () => {
    const clin = csv('mapmiss.csv', 'patient,lesion,response\nP1,Tumor A,CR\nP2,Tumor A,SD\n');
    const map = csv('map2.csv', 'reportLesion,clinicalLesion\nTumor B #1,Tumor B\n');
    const r = await cohort(clin, 'mapmiss', '--lesion-map', map);
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(/map2\.csv: lesion "Tumor B #1" of patient "P1" is mapped to "Tumor B", but .*mapmiss\.csv has no row for patient "P1" lesion "Tumor B"/);
    expect(existsSync(join(tmp, 'mapmiss'))).toBe(false);
  });
  it('unmatched clinical rows are listed on stderr with their row numbers', async () => {
    const clin = csv('some.csv', 'patient,lesion,response\nP1,Tumor A,CR\nP1,Tumour C,PR\nP2,Tumor A,SD\n');
    const r = await cohort(clin, 'some');
    expect(r.code).toBe(0);
    expect(r.err).toContain('warning: ' + clin + ': row 2 (patient "P1" lesion "Tumour C") matches no lesion of its report (its lesions: "Tumor A #1", "Tumor B #1", "Tumor B #2"); not used\n');
    expect(r.err).toMatch(/warning: patient "P1" lesion "Tumor B #1": no lesion row in/);
  });
});

describe('a clinical table that joins nothing fails loudly (was: an empty response column)', () => {
  it('no lesion row matches any lesion', async () => {
    const clin = csv('none.csv', 'patient,lesion,response\nP1,Lesion 1,CR\nP1,Lesion 2,PD\nP2,Lesion 1,SD\n');
    const r = await cohort(clin, 'none');
    expect(r.code).not.toBe(0);
    expect(r.out).toBe('');
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).toMatch(/none\.csv: none of its 3 lesion rows matches a lesion of the reports \(row 1: patient "P1" lesion "Lesion 1"; that report's lesions are "Tumor A #1", "Tumor B #1", "Tumor B #2"\); name the lesions in column "lesion" as the segmentation does/);
    expect(existsSync(join(tmp, 'none'))).toBe(false);
  });
  it('no clinical patient has a report', async () => {
    const clin = csv('nopat.csv', 'patient,lesion,response\n001,Tumor A,CR\n002,Tumor A,PD\n');
    const r = await cohort(clin, 'nopat');
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(/nopat\.csv: none of its 2 patients \("001", "002"\) has a report; the reports' patient ids are "P1", "P2" .*make column "patient" use the same ids/);
    expect(existsSync(join(tmp, 'nopat'))).toBe(false);
  });
  it("a ';'-separated clinical export is read as such", async () => {
    const clin = csv('eu.csv', 'patient;lesion;response;ca199\nP1;Tumor A;CR;12,5\nP2;Tumor A;SD;7,25\n');
    const r = await cohort(clin, 'eu');
    expect(r.code).toBe(0);
    expect(r.err).toContain(`note: ${clin}: read as ';'-separated with decimal commas`);
    expect(lesions(join(tmp, 'eu')).filter((l) => l.clinicalLesion).map((l) => `${l.patient}/${l.lesion}/${l.ca199}`)).toEqual(['P1/Tumor A #1/12.5', 'P2/Tumor A #1/7.25']);
  });
});
