/**
 * The viewer's cohort page draws a cohort table's figures with figureFromTable (src/research/figures/from-table.ts)
 * instead of running the command: the SVG and the PDF it makes must be the bytes the command writes with the same
 * columns and its default options (the browser check in test/browser/viewer.spec.mjs then sees the page show them).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { figureFromTable, type TableFigureRequest } from '../../src/research/figures/from-table.ts';
import { sceneToPdf } from '../../src/research/figures/pdf.ts';
import { sceneToSvg } from '../../src/research/figures/svg.ts';
import { parseCsvDialect } from '../../src/research/dialect.ts';
import { cli } from './cli-harness.ts';

const FIX = join(__dirname, 'fixtures');
const tmp = mkdtempSync(join(tmpdir(), 'figures-page-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const lesions = join(FIX, 'lesions.csv');
const patients = join(FIX, 'patients.csv');
const cases: Array<[string, string, string[], TableFigureRequest]> = [
  ['roc', lesions, ['roc', '--dose-column', 'doseGy', '--response-column', 'response'], { kind: 'roc', dose: 'doseGy', response: 'response' }],
  ['groups (four response groups)', lesions, ['groups', '--dose-column', 'doseGy', '--group-column', 'response'], { kind: 'groups', dose: 'doseGy', response: 'response' }],
  ['groups (a non-response column)', patients, ['groups', '--dose-column', 'doseGy', '--group-column', 'grade'], { kind: 'groups', dose: 'doseGy', response: 'grade' }],
  ['logistic', lesions, ['logistic', '--dose-column', 'doseGy', '--response-column', 'response', '--label', 'Tumour dose', '--width-mm', '183'], { kind: 'logistic', dose: 'doseGy', response: 'response', label: 'Tumour dose', style: { widthMm: 183 } }],
  ['km by dose cutoff', patients, ['km', '--time-column', 'pfsMonths', '--event-column', 'pfsEvent', '--dose-column', 'doseGy', '--cutoff', '130'], { kind: 'km', time: 'pfsMonths', event: 'pfsEvent', dose: 'doseGy', cutoff: 130 }],
  ['km by group', patients, ['km', '--time-column', 'osMonths', '--event-column', 'osEvent', '--group-column', 'grade', '--unit', 'mo'], { kind: 'km', time: 'osMonths', event: 'osEvent', groupBy: 'grade', unit: 'mo' }],
];

describe('the page draws what the command writes', () => {
  it.each(cases)('%s', async (name, csv, argv, req) => {
    const svg = join(tmp, `${name.replace(/\W+/g, '-')}.svg`);
    const pdf = svg.replace(/\.svg$/, '.pdf');
    const r = await cli([argv[0], '--csv', csv, ...argv.slice(1), '--figure', svg, '--figure', pdf]);
    expect(r.code, r.err).toBe(0);
    const { table } = parseCsvDialect(readFileSync(csv, 'utf8'), csv);
    const scene = figureFromTable(table, req, csv);
    expect(sceneToSvg(scene)).toBe(readFileSync(svg, 'utf8'));
    expect(Buffer.from(await sceneToPdf(scene)).equals(readFileSync(pdf))).toBe(true);
  });
});
