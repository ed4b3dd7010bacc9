/**
 * The research commands never count a response label they do not know, and never accept an unbounded or ignored
 * bootstrap setting ("No silent wrong answer"): one line on stderr, non-zero exit, no output written.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { cli } from './cli-harness.ts';
import { InputError, StatsError } from '../../src/errors.ts';
import { MAX_BOOTSTRAP_REPLICATES, rocAnalysis } from '../../src/research/roc.ts';
import { responseClassifier } from '../../src/research/table.ts';

const lesionsCsv = join(fileURLToPath(new URL('./fixtures/', import.meta.url)), 'lesions.csv');
const tmp = mkdtempSync(join(tmpdir(), 'research-silent-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());


const csv = (name: string, text: string) => {
  const p = join(tmp, name);
  writeFileSync(p, text);
  return p;
};
// Two responders, two non-responders and labels that are none of CR, PR, SD, PD.
const spaced = csv('spaced.csv', 'dose,response\n250,CR\n220,P R\n90,SD\n80,PD\n300,PR\n60,P R\n');
const typos = csv('typos.csv', 'dose,response\n250,CR\n220,PRR\n90,SD\n80,PD\n300,PR\n70,NE\n');
const custom = csv('custom.csv', 'dose,response\n250,responder\n220,Responder\n90,non-responder\n80,non-responder\n');
// Not separated by dose (a logistic fit exists when "P R" is counted as a non-responder, as today's code did).
const overlapping = csv('overlapping.csv', 'dose,response\n250,CR\n220,P R\n90,SD\n80,PD\n300,PR\n60,P R\n200,SD\n100,CR\n');
const lower = csv('lower.csv', 'dose,response\n250,cr\n220, pr \n90,sd\n80,Pd\n');

const rocArgs = (path: string, ...extra: string[]) => ['roc', '--json', '--csv', path, '--dose-column', 'dose', '--response-column', 'response', ...extra];
const lesions = (...extra: string[]) => ['roc', '--json', '--csv', lesionsCsv, '--dose-column', 'doseGy', '--response-column', 'response', ...extra];
const svg = () => join(tmp, `roc-${Math.random().toString(36).slice(2)}.svg`);

// Rows: name, argv (an --svg FILE is added: it must not be written), stderr pattern.
const bad: Array<[string, string[], RegExp]> = [
  ['"P R" (inner space) is no label', rocArgs(spaced), /column "response" holds 1 unrecognised response value: "P R" \(2 rows, row 2, 6\); responders are CR, PR, non-responders SD, PD\. Say which each is with --positive and --negative/],
  ['typos and NE are listed, each once', rocArgs(typos), /holds 2 unrecognised response values: "PRR" \(1 row, row 2\), "NE" \(1 row, row 6\).*leave those cells empty \(NA\) to skip the rows/],
  ['custom labels need both lists', rocArgs(custom, '--positive', 'responder'), /"non-responder" \(2 rows, row 3, 4\); responders are RESPONDER, non-responders CR, PR, SD, PD/],
  ['a label on both sides', rocArgs(spaced, '--positive', 'CR,PR', '--negative', 'SD,PD,PR'), /"PR" given as both responder \(--positive\) and non-responder \(--negative\)/],
  ['a label twice', rocArgs(spaced, '--negative', 'SD,PD,SD'), /--negative lists "SD" twice/],
  ['groups (3+ groups) shares the check: "P R" is not counted as a non-responder', ['groups', '--json', '--csv', overlapping, '--dose-column', 'dose', '--group-column', 'response'], /column "response" holds 1 unrecognised response value: "P R"/],
  ['logistic shares the check', ['logistic', '--json', '--csv', overlapping, '--dose-column', 'dose', '--response-column', 'response'], /column "response" holds 1 unrecognised response value: "P R" \(2 rows, row 2, 6\)/],
  // bootstrap: bounded, and never silently ignored
  // (1e9 is refused before the cluster column is looked at; with one, today's code would run for days)
  ['--bootstrap 1e9', lesions('--bootstrap', '1000000000'), /--bootstrap 1000000000: give an integer from 100 to 100000 .*only stall the run/],
  ['--bootstrap 100001', lesions('--cluster-column', 'patient', '--bootstrap', '100001'), /from 100 to 100000/],
  ['--bootstrap 99', lesions('--cluster-column', 'patient', '--bootstrap', '99'), /from 100 to 100000/],
  ['--bootstrap without clusters (was ignored)', lesions('--bootstrap', '5000'), /--bootstrap and --seed set the cluster bootstrap: give --cluster-column/],
  ['--seed without clusters (was ignored)', lesions('--seed', '7'), /give --cluster-column/],
  ['--seed -1 (aliases 2^32 - 1)', lesions('--cluster-column', 'patient', '--seed', '-1'), /--seed -1: give an integer from 0 to 4294967295/],
  ['--seed 2^32 (aliases 0)', lesions('--cluster-column', 'patient', '--seed', '4294967296'), /--seed 4294967296: give an integer from 0 to 4294967295/],
];
describe('bad input: one line on stderr, non-zero exit, nothing written', () => {
  it.each(bad)('%s', async (_, argv, msg) => {
    const out = svg();
    const r = await cli([...argv, '--svg', out]);
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(msg);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.out).toBe('');
    expect(existsSync(out)).toBe(false);
  });
});

describe('labels that are mapped or standard are counted', () => {
  it('RECIST labels in any case and with spaces around them are recognised', async () => {
    const r = await cli(rocArgs(lower));
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect([j.nPositive, j.nNegative]).toEqual([2, 2]);
    expect(j.positive).toEqual(['CR', 'PR']);
    expect(j.negative).toEqual(['SD', 'PD']);
  });
  it('"P R" mapped explicitly counts where it is mapped', async () => {
    const pos = JSON.parse((await cli(rocArgs(spaced, '--positive', 'CR,PR,P R'))).out);
    expect([pos.nPositive, pos.nNegative]).toEqual([4, 2]);
    const neg = JSON.parse((await cli(rocArgs(spaced, '--negative', 'SD,PD,P R'))).out);
    expect([neg.nPositive, neg.nNegative]).toEqual([2, 4]);
  });
  it('custom labels with both lists', async () => {
    const r = await cli(rocArgs(custom, '--positive', 'responder', '--negative', 'non-responder'));
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ nPositive: 2, nNegative: 2, auc: 1 });
  });
  it('--positive CR alone compares CR against PR, SD, PD (the standard vocabulary), as the output says', async () => {
    const r = await cli(lesions('--positive', 'CR'));
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out).negative).toEqual(['PR', 'SD', 'PD']);
    const text = await cli(['roc', '--csv', lesionsCsv, '--dose-column', 'doseGy', '--response-column', 'response', '--positive', 'CR']);
    expect(text.out).toContain('(positive: CR; negative: PR, SD, PD)');
  });
  it('the cluster bootstrap at the bound runs', async () => {
    const r = await cli(lesions('--cluster-column', 'patient', '--bootstrap', '2000', '--seed', '4294967295'));
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out).bootstrap).toMatchObject({ replicates: 2000, seed: 4294967295 });
  });
});

describe('core checks', () => {
  it('responseClassifier refuses unknown labels (InputError naming them) and keeps the 0/1 rule', () => {
    expect(() => responseClassifier(['CR', 'P R', 'SD'], undefined, { rows: [1, 2, 3], column: 'response' })).toThrow(InputError);
    expect(() => responseClassifier(['CR', 'P R', 'SD'], undefined)).toThrow(/"P R" \(1 row\)/);
    expect(() => responseClassifier(['1', '0', '2'], undefined)).toThrow(/"1".*"0".*"2"/);
    const b = responseClassifier(['1', '0', 'yes', 'FALSE'], undefined);
    expect(['1', '0', 'yes', 'FALSE'].map(b.isPositive)).toEqual([true, false, true, false]);
    const flipped = responseClassifier(['1', '0'], ['0']);
    expect([flipped.isPositive('0'), flipped.isPositive('1')]).toEqual([true, false]);
  });
  it('rocAnalysis bounds the bootstrap and refuses bootstrap settings without clusters', () => {
    const doseGy = [1, 2, 3, 4, 5, 6], positive = [false, true, false, true, false, true], clusters = ['a', 'a', 'b', 'b', 'c', 'c'];
    expect(() => rocAnalysis({ doseGy, positive, clusters, bootstrapReplicates: MAX_BOOTSTRAP_REPLICATES + 1 })).toThrow(StatsError);
    expect(() => rocAnalysis({ doseGy, positive, clusters, bootstrapSeed: 2 ** 32 })).toThrow(StatsError);
    expect(() => rocAnalysis({ doseGy, positive, bootstrapReplicates: 2000 })).toThrow(/cluster bootstrap only/);
  });
});

describe('rows left out are said on stderr', () => {
  it('a row with a missing value is skipped with a warning line naming it, in every research command', async () => {
    const f = csv('missing.csv', 'dose,response,time,event\n250,CR,10,1\n220,PR,12,0\n90,SD,5,1\nNA,PD,7,1\n80,PD,3,1\n300,,9,0\n150,CR,11,0\n60,SD,4,1\n');
    for (const argv of [
      ['roc', '--json', '--csv', f, '--dose-column', 'dose', '--response-column', 'response'],
      ['groups', '--json', '--csv', f, '--dose-column', 'dose', '--group-column', 'response'],
      ['km', '--json', '--csv', f, '--time-column', 'time', '--event-column', 'event', '--dose-column', 'dose', '--cutoff', '100'],
    ]) {
      const r = await cli(argv);
      expect(r.code, `${argv[0]}: ${r.err}`).toBe(0);
      expect(r.err, argv[0]).toMatch(/^warning: .*missing\.csv: \d of 8 rows skipped, a value missing \(empty or NA\) in .*\(rows (4, 6|4)\)/m);
    }
  });
});
