import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.ts';
import { encodeNrrd, encodeSegNrrd } from '../../src/io/index.ts';
import { compareCases, type CaseReportLike } from '../../src/plan/compare.ts';
import type { Geometry } from '../../src/volume/geometry.ts';
import type { StructureMask } from '../../src/volume/structure.ts';

// Two synthetic cases with known ratios: a planned case on a 4 mm grid and an achieved case on an 8 mm grid (grids
// differ; the segmentation, on the 4 mm grid, is in world space), both absolute (Bq/mL) with uniform compartments,
// LDM. Each compartment's achieved concentration is its planned one times a known factor r, so each MAD ratio is r
// exactly (up to float32: tolerance 1e-6) and the agreement statistics follow by hand from the analytic MADs.

const CF = 49.67, RHO = 1.05;
const C_NORMAL_BQ_PER_ML = 1e6;
/** LDM MAD of a uniform compartment [Gy]: CF [J/GBq] x c [GBq/mL] / rho [kg/mL]. */
const mad = (cBqPerMl: number) => (CF * cBqPerMl * 1e-9) / (RHO * 1e-3);
type Box = [number, number, number, number, number, number];
const LIVER: Box = [2, 22, 2, 22, 2, 14];
const LESIONS: Array<{ name: string; box: Box; tn: number; r: number }> = [
  { name: 'Tumor A', box: [4, 8, 4, 8, 4, 8], tn: 4, r: 1.2 },
  { name: 'Tumor B', box: [12, 16, 12, 18, 6, 10], tn: 2.5, r: 0.8 },
  { name: 'Tumor C', box: [16, 20, 4, 6, 8, 12], tn: 6, r: 1.1 },
];
const R_NORMAL = 0.9;
const fine: Geometry = { dims: [24, 24, 24], spacingMm: [4, 4, 4], originLpsMm: [0, 0, 0], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] };
// Coarse voxel 0 covers fine voxels 0 and 1 ([-2, 6] mm): centre 2 mm. Boxes start at even fine indices, so every
// structure covers whole coarse voxels (weights exactly 0 or 1).
const coarse: Geometry = { dims: [12, 12, 12], spacingMm: [8, 8, 8], originLpsMm: [2, 2, 2], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] };
const inBox = (b: Box, i: number, j: number, k: number) => i >= b[0] && i < b[1] && j >= b[2] && j < b[3] && k >= b[4] && k < b[5];

/** Activity [Bq/mL] on grid g (scale 1 fine, 2 coarse: box indices in fine voxels), with or without the factors r. */
function image(g: Geometry, scale: number, achieved: boolean): Float32Array {
  const [n] = g.dims;
  const d = new Float32Array(n * n * n);
  for (let k = 0; k < n; k++) for (let j = 0; j < n; j++) for (let i = 0; i < n; i++) {
    const [fi, fj, fk] = [i * scale, j * scale, k * scale];
    if (!inBox(LIVER, fi, fj, fk)) continue;
    let c = C_NORMAL_BQ_PER_ML * (achieved ? R_NORMAL : 1);
    for (const l of LESIONS) if (inBox(l.box, fi, fj, fk)) c = C_NORMAL_BQ_PER_ML * l.tn * (achieved ? l.r : 1);
    d[i + n * (j + n * k)] = c;
  }
  return d;
}
function mask(name: string, box: Box): StructureMask {
  const occ = new Uint8Array(24 ** 3);
  for (let k = 0; k < 24; k++) for (let j = 0; j < 24; j++) for (let i = 0; i < 24; i++) if (inBox(box, i, j, k)) occ[i + 24 * (j + 24 * k)] = 255;
  return { name, origin: 'test', geometry: fine, occupancy: occ };
}

async function capture(f: () => Promise<number>): Promise<{ code: number; out: string; err: string }> {
  let out = '', err = '';
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => ((out += String(s)), true));
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => ((err += String(s)), true));
  try {
    return { code: await f(), out, err };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}
afterEach(() => vi.restoreAllMocks());

let dir = '';
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'compare-'));
  writeFileSync(join(dir, 'planned.nrrd'), encodeNrrd({ geometry: fine, data: image(fine, 1, false) }));
  writeFileSync(join(dir, 'achieved.nrrd'), encodeNrrd({ geometry: coarse, data: image(coarse, 2, true) }));
  writeFileSync(join(dir, 'seg.seg.nrrd'), encodeSegNrrd([mask('Liver', LIVER), ...LESIONS.map((l) => mask(l.name, l.box))]));
  for (const c of ['planned', 'achieved']) {
    const r = await capture(() => main([
      'dose', '--activity', join(dir, `${c}.nrrd`), '--activity-unit', 'bq-per-ml', '--scan-delay-h', '0', '--segmentation', join(dir, 'seg.seg.nrrd'),
      '--liver', 'Liver', ...LESIONS.flatMap((l) => ['--tumor', l.name]), '--isotope', 'Y90', '--method', 'ldm', '--backend', 'cpu', '--quiet', '--out', join(dir, c),
    ]));
    if (r.code !== 0) throw new Error(r.err);
  }
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const rel = (a: number, b: number) => Math.abs(a - b) / Math.abs(b);
const readReport = (c: string) => JSON.parse(readFileSync(join(dir, c, 'report.json'), 'utf8')) as CaseReportLike;

describe('dosimetry compare on two synthetic cases with known ratios', () => {
  it('pairs structures by name across grids: MADs, difference, ratio; Bland-Altman and Lin by hand', async () => {
    const out = join(dir, 'cmp');
    const r = await capture(() => main(['compare', '--planned', join(dir, 'planned'), '--achieved', join(dir, 'achieved'), '--out', out, '--json']));
    // NRRD cases carry no identity: said as warnings, not silence (src/plan/compare-voxel.ts)
    expect(r.err.trim().split('\n').every((l) => l.startsWith('warning: '))).toBe(true);
    expect(r.err).toContain('patient identity unknown');
    expect(r.err).toContain('Frame of Reference unknown');
    expect(r.code).toBe(0);
    const j = JSON.parse(readFileSync(join(out, 'compare.json'), 'utf8'));
    expect(JSON.parse(r.out)).toEqual(j);
    expect(j.scaleFactor).toBe(1);
    const byName = new Map(j.pairs.map((p: { name: string }) => [p.name, p]));
    expect([...byName.keys()].sort()).toEqual(['Liver', 'Normal liver', 'Tumor A', 'Tumor B', 'Tumor C']);
    for (const l of LESIONS) {
      const p = byName.get(l.name) as { predictedGy: number; achievedGy: number; differenceGy: number; ratio: number };
      expect(rel(p.predictedGy, mad(C_NORMAL_BQ_PER_ML * l.tn))).toBeLessThan(1e-6);
      expect(rel(p.ratio, l.r)).toBeLessThan(1e-6);
      expect(rel(p.differenceGy, mad(C_NORMAL_BQ_PER_ML * l.tn) * (l.r - 1))).toBeLessThan(1e-5);
    }
    expect(rel((byName.get('Normal liver') as { ratio: number }).ratio, R_NORMAL)).toBeLessThan(1e-6);
    // Bland-Altman on differences: bias = mean, limits = mean -+ 1.96 sd (n - 1)
    const diffs = LESIONS.map((l) => mad(C_NORMAL_BQ_PER_ML * l.tn) * (l.r - 1));
    const mean = diffs.reduce((s, x) => s + x, 0) / 3;
    const sd = Math.sqrt(diffs.reduce((s, x) => s + (x - mean) ** 2, 0) / 2);
    const ba = j.lesionAgreement.blandAltman;
    expect(j.lesionAgreement.lesions).toEqual(['Tumor A', 'Tumor B', 'Tumor C']);
    expect(Math.abs(ba.bias - mean)).toBeLessThan(1e-4); // Gy; doses ~200-500 Gy, float32 maps
    expect(Math.abs(ba.upperLimit - (mean + 1.96 * sd))).toBeLessThan(1e-3);
    // log-ratio: geometric mean ratio = (1.2 x 0.8 x 1.1)^(1/3)
    expect(rel(j.lesionAgreement.blandAltmanLogRatio.ratioScale.geometricMeanRatio, (1.2 * 0.8 * 1.1) ** (1 / 3))).toBeLessThan(1e-6);
    // Lin's CCC = 2 s_xy / (s_x^2 + s_y^2 + (xbar - ybar)^2), divisor n
    const x = LESIONS.map((l) => mad(C_NORMAL_BQ_PER_ML * l.tn)), y = LESIONS.map((l, n) => x[n] * l.r);
    const mx = x.reduce((s, v) => s + v, 0) / 3, my = y.reduce((s, v) => s + v, 0) / 3;
    const sxy = x.reduce((s, v, n) => s + (v - mx) * (y[n] - my), 0) / 3;
    const sxx = x.reduce((s, v) => s + (v - mx) ** 2, 0) / 3, syy = y.reduce((s, v) => s + (v - my) ** 2, 0) / 3;
    expect(rel(j.lesionAgreement.linConcordance.ccc, (2 * sxy) / (sxx + syy + (mx - my) ** 2))).toBeLessThan(1e-6);
    // DVH pair per structure, taken from the two reports
    const planned = readReport('planned');
    const pa = planned.structures.find((s) => s.name === 'Tumor A')!;
    const pairA = byName.get('Tumor A') as { dvh: { predicted: { doseGy: number[] }; achieved: { doseGy: number[] } } };
    expect(pairA.dvh.predicted.doseGy).toEqual(pa.dvh!.doseGy);
    expect(pairA.dvh.achieved.doseGy.length).toBeGreaterThan(1);
    // compare.csv: header + one row per pair
    const csv = readFileSync(join(out, 'compare.csv'), 'utf8').trim().split('\n');
    expect(csv).toHaveLength(1 + j.pairs.length);
    expect(csv[0].split(',').slice(0, 6)).toEqual(['name', 'role', 'predictedGy', 'achievedGy', 'differenceGy', 'ratio']);
  });

  it('scales the predicted doses to the activity given (dose linear in activity); V-values left out', () => {
    const planned = { ...readReport('planned'), plan: { activityGBq: 2 } };
    const c = compareCases({ planned, achieved: readReport('achieved'), scalePlannedToGBq: 3 });
    expect(c.scaleFactor).toBe(1.5);
    const p = c.pairs.find((x) => x.name === 'Tumor B')!;
    expect(rel(p.predictedGy, 1.5 * mad(2.5 * C_NORMAL_BQ_PER_ML))).toBeLessThan(1e-6);
    expect(rel(p.ratio!, 0.8 / 1.5)).toBeLessThan(1e-6);
    expect(p.predicted.v100).toBeNull();
    const orig = planned.structures.find((s) => s.name === 'Tumor B')!;
    expect(p.dvh.predicted!.doseGy[1]).toBeCloseTo(orig.dvh!.doseGy[1] * 1.5, 9);
    expect(p.predicted.d90Gy).toBeCloseTo(orig.d90Gy! * 1.5, 9);
  });

  it('fewer than 3 lesions: Lin left out with a note, not an error', () => {
    const keep = (r: CaseReportLike) => ({ ...r, structures: r.structures.filter((s) => s.name !== 'Tumor C') });
    const c = compareCases({ planned: keep(readReport('planned')), achieved: keep(readReport('achieved')) });
    expect(c.lesionAgreement.linConcordance).toBeNull();
    expect(c.lesionAgreement.blandAltman?.n).toBe(2);
    expect(c.lesionAgreement.notes.join(' ')).toMatch(/at least 3/);
  });

  const bad: Array<[string, () => string[], RegExp]> = [
    ['planned folder missing', () => ['--planned', join(dir, 'nope'), '--achieved', join(dir, 'achieved')], /does not exist/],
    ['scaling without a planned activity', () => ['--planned', join(dir, 'planned'), '--achieved', join(dir, 'achieved'), '--scale-planned-to-gbq', '2'], /cannot scale/],
    ['negative activity given', () => ['--planned', join(dir, 'planned'), '--achieved', join(dir, 'achieved'), '--scale-planned-to-gbq', '-1'], /activity given/],
    ['missing --achieved', () => ['--planned', join(dir, 'planned')], /--achieved is required/],
  ];
  it.each(bad)('%s: one line, non-zero exit, nothing written', async (_, args, msg) => {
    const out = join(dir, `bad-${Math.random().toString(36).slice(2)}`);
    const r = await capture(() => main(['compare', ...args(), '--out', out]));
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(msg);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(existsSync(out)).toBe(false);
  });

  it('no common structure is an error that lists both sides', () => {
    const renamed = { ...readReport('achieved'), structures: readReport('achieved').structures.map((s) => ({ ...s, name: `x ${s.name}` })) };
    expect(() => compareCases({ planned: readReport('planned'), achieved: renamed })).toThrow(/no structure name is common/);
  });
});
