/**
 * `cohort`: report.json files + clinical CSV -> lesions.csv and patients.csv. Hand-worked expectations.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { cli } from './cli-harness.ts';
import { buildCohort, sphereDiameterMm } from '../../src/research/cohort.ts';
import { parseCsv } from '../../src/research/csv.ts';

const tmp = mkdtempSync(join(tmpdir(), 'research-cohort-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());


const s = (name: string, role: string, volumeMl: number, massG: number, meanGy: number, extra: Record<string, unknown> = {}) => ({
  name, role, volumeMl, massG, activityGBq: 0.01 * massG, meanGy, minGy: 0, maxGy: 2 * meanGy, d50Gy: meanGy, d70Gy: 0.8 * meanGy,
  d90Gy: 0.6 * meanGy, d98Gy: 0.5 * meanGy, v100: 0.9, v150: 0.7, v205: 0.5, dvh: { doseGy: [], volumeFraction: [] }, ...extra,
});
// P01: one tumour split into two lesions (diameters from the report); P02: two unsplit tumours (diameter from volume)
const p01 = { schemaVersion: 1, structures: [
  s('Liver', 'liver', 1500, 1575, 60), s('Normal liver', 'normal-liver', 1450, 1522.5, 50), s('Lung', 'lung', 3000, 900, 5),
  s('Tumor', 'tumor', 50, 52.5, 200), s('Tumor #1', 'tumor', 40, 42, 220, { lesionOf: 'Tumor', equivalentDiameterMm: 42.4 }),
  s('Tumor #2', 'tumor', 10, 10.5, 120, { lesionOf: 'Tumor', equivalentDiameterMm: 18.0 }),
] };
const p02 = { schemaVersion: 1, structures: [s('Tumor A', 'tumor', 20, 21, 300), s('Tumor B', 'tumor', 2, 2.1, 90), s('Liver', 'liver', 1200, 1260, 40)] };
mkdirSync(join(tmp, 'cases', 'case01'), { recursive: true });
mkdirSync(join(tmp, 'cases', 'P02'), { recursive: true });
writeFileSync(join(tmp, 'cases', 'case01', 'report.json'), JSON.stringify(p01));
writeFileSync(join(tmp, 'cases', 'P02', 'report.json'), JSON.stringify(p02));
const clinical = join(tmp, 'clinical.csv');
writeFileSync(clinical, [
  'patient,lesion,response,pfsMonths,pfsEvent,grade',
  'P01,,,14,1,2',
  'P01,tumor #1,PR,,,', // lesion names match case-insensitively
  'P01,Tumor #2,SD,,,',
  'P02,Tumor A,CR,20,0,1', // patient-level values carried on lesion rows (same value on every row)
  'P02,Tumor B,PD,20,0,1',
  'P02,Tumor C,PD,20,0,1', // no such lesion: warning
  'P03,,,5,1,3', // no report: warning
].join('\r\n') + '\r\n');

describe('cohort', () => {
  it('sphere diameter: (6 V / pi)^(1/3); 20 mL -> 33.68 mm', () => {
    expect(sphereDiameterMm(20)).toBeCloseTo(Math.cbrt(120000 / Math.PI), 12);
    expect(sphereDiameterMm(4 / 3 * Math.PI * 10 ** 3 / 1000)).toBeCloseTo(20, 12); // sphere of radius 10 mm
  });

  it('joins lesions and patients; split lesions replace their parent; mass-weighted patient dose', async () => {
    const out = join(tmp, 'out-all');
    const { code, out: stdout, err } = await cli(['cohort', '--json', '--report', `P01=${join(tmp, 'cases', 'case01', 'report.json')}`,
      '--report', join(tmp, 'cases', 'P02', 'report.json'), '--clinical', clinical, '--out', out]);
    expect(code).toBe(0);
    const j = JSON.parse(stdout);
    // every warning is a "warning: ..." line on stderr, also with --json (and in the JSON)
    expect(err).toBe(j.warnings.map((w: string) => `warning: ${w}\n`).join(''));
    expect(j.lesions).toBe(4);
    expect(j.patients).toBe(2);
    expect(j.warnings.join('\n')).toMatch(/patient "P03" has no report/);
    // the unmatched clinical row is named with its row number and the report's lesions
    expect(j.warnings.join('\n')).toMatch(/clinical\.csv: row 6 \(patient "P02" lesion "Tumor C"\) matches no lesion of its report \(its lesions: "Tumor A", "Tumor B"\); not used/);
    const les = parseCsv(readFileSync(join(out, 'lesions.csv'), 'utf8')).rows;
    expect(les.map((r) => `${r.patient}/${r.lesion}/${r.response}`)).toEqual(['P01/Tumor #1/PR', 'P01/Tumor #2/SD', 'P02/Tumor A/CR', 'P02/Tumor B/PD']);
    expect(les[0]).toMatchObject({ lesionOf: 'Tumor', meanGy: '220', d70Gy: '176', equivalentDiameterMm: '42.4', diameterSource: 'report', pfsMonths: '14', grade: '2' });
    expect(Number(les[2].equivalentDiameterMm)).toBeCloseTo(sphereDiameterMm(20), 10);
    expect(les[2].diameterSource).toBe('volume');
    const pat = parseCsv(readFileSync(join(out, 'patients.csv'), 'utf8')).rows;
    // P01: (42 x 220 + 10.5 x 120) / 52.5 = 200; P02: (21 x 300 + 2.1 x 90) / 23.1 = 280.909...
    expect(Number(pat[0].tumorMeanGy)).toBeCloseTo(200, 12);
    expect(Number(pat[1].tumorMeanGy)).toBeCloseTo((21 * 300 + 2.1 * 90) / 23.1, 12);
    expect(pat[0]).toMatchObject({ patient: 'P01', nLesions: '2', tumorMassG: '52.5', normalLiverMeanGy: '50', liverMeanGy: '60', lungMeanGy: '5', pfsMonths: '14', pfsEvent: '1', grade: '2', response: '' });
    expect(pat[1]).toMatchObject({ patient: 'P02', pfsMonths: '20', grade: '1', lungMeanGy: '' });
  });

  it('--min-diameter-mm 20 keeps lesions >= 2 cm (report diameter, else from volume)', async () => {
    const out = join(tmp, 'out-2cm');
    const { code } = await cli(['cohort', '--reports-dir', join(tmp, 'cases'), '--clinical', clinical, '--patient-column', 'patient', '--min-diameter-mm', '20', '--out', out]);
    expect(code).toBe(0);
    const les = parseCsv(readFileSync(join(out, 'lesions.csv'), 'utf8')).rows;
    // Tumor #2 (18.0 mm, from the report) and Tumor B (2 mL -> 15.6 mm) are left out; folder names give the ids
    expect(les.map((r) => `${r.patient}/${r.lesion}`)).toEqual(['P02/Tumor A', 'case01/Tumor #1']);
    const pat = parseCsv(readFileSync(join(out, 'patients.csv'), 'utf8')).rows;
    expect(pat.find((p) => p.patient === 'case01')).toMatchObject({ nLesions: '1', nLesionsExcluded: '1', tumorMeanGy: '220' });
  });

  it('the lesion table feeds roc directly', async () => {
    const { code, out } = await cli(['roc', '--json', '--csv', join(tmp, 'out-all', 'lesions.csv'), '--dose-column', 'meanGy', '--response-column', 'response']);
    expect(code).toBe(0);
    const j = JSON.parse(out);
    // responders 220, 300; non-responders 120, 90: perfect separation, cutoff = lowest responder dose
    expect(j.auc).toBe(1);
    expect(j.cutoff).toBe(220);
    expect(j.counts).toEqual({ tp: 2, fp: 0, tn: 2, fn: 0 });
  });

  it.each([
    ['duplicate ids', ['--report', `X=${join(tmp, 'cases', 'P02', 'report.json')}`, '--report', `x=${join(tmp, 'cases', 'P02', 'report.json')}`], /patient id "x" is given for two reports/],
    ['not a report', ['--report', clinical], /is not valid JSON/],
    ['missing report', ['--report', join(tmp, 'none', 'report.json')], /cannot read report/],
    ['no reports', [], /give --report/],
  ])('error: %s (no output written)', async (_n, args, msg) => {
    const out = join(tmp, `bad-${_n.replace(/\W+/g, '-')}`);
    const { code, err } = await cli(['cohort', ...args, '--out', out]);
    expect(code).not.toBe(0);
    expect(err).toMatch(msg);
    expect(err.trim().split('\n')).toHaveLength(1);
    expect(existsSync(join(out, 'lesions.csv'))).toBe(false);
  });

  it('a clinical column may not overwrite a computed one', () => {
    expect(() => buildCohort({ reports: [{ patientId: 'P1', structures: [], source: 'r' }], clinical: parseCsv('patient,meanGy\nP1,2\n'), clinicalSource: 'c.csv' }))
      .toThrow(/column "meanGy" would overwrite/);
  });

  it('clinical CSV without the patient column is an error naming the columns', () => {
    expect(() => buildCohort({ reports: [{ patientId: 'P1', structures: [], source: 'r' }], clinical: parseCsv('id,x\n1,2\n'), clinicalSource: 'c.csv' }))
      .toThrow(/c.csv has no column "patient"; its columns are: "id", "x"/);
  });
});
