/**
 * compare that holds up: identity checks, case-insensitive and --match pairing, voxel-wise comparison through a
 * known rigid transform (images moved exactly by changing origin and direction only), gamma pass rates.
 */
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.ts';
import { encodeNrrd, encodeSegNrrd } from '../../src/io/index.ts';
import { readVolume } from '../../src/io/read.ts';
import { checkIdentities, type CaseIdentity } from '../../src/plan/compare-voxel.ts';
import type { Geometry, Mat3ColMajor, Vec3 } from '../../src/volume/geometry.ts';
import type { StructureMask } from '../../src/volume/structure.ts';

type Box = [number, number, number, number, number, number];
const N = 24;
const fixedGrid: Geometry = { dims: [N, N, N], spacingMm: [4, 4, 4], originLpsMm: [-40, -30, 10], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] };
const LIVER: Box = [2, 22, 2, 22, 2, 16];
const BIG_LIVER: Box = [0, 24, 0, 24, 0, 24];
const LESIONS: Array<{ name: string; box: Box; c: number }> = [
  { name: 'Tumor A', box: [4, 9, 4, 9, 4, 9], c: 4 },
  { name: 'Tumor B', box: [12, 17, 12, 19, 6, 11], c: 2.5 },
  { name: 'Tumor C', box: [15, 20, 4, 8, 8, 13], c: 6 },
];
const inBox = (b: Box, i: number, j: number, k: number) => i >= b[0] && i < b[1] && j >= b[2] && j < b[3] && k >= b[4] && k < b[5];

function activity(liver: Box): Float32Array {
  const d = new Float32Array(N ** 3);
  for (let k = 0; k < N; k++) for (let j = 0; j < N; j++) for (let i = 0; i < N; i++) {
    if (!inBox(liver, i, j, k)) continue;
    let c = 1e5;
    for (const l of LESIONS) if (inBox(l.box, i, j, k)) c = 1e5 * l.c;
    d[i + N * (j + N * k)] = c;
  }
  return d;
}
function mask(name: string, box: Box, g: Geometry): StructureMask {
  const occ = new Uint8Array(N ** 3);
  for (let k = 0; k < N; k++) for (let j = 0; j < N; j++) for (let i = 0; i < N; i++) if (inBox(box, i, j, k)) occ[i + N * (j + N * k)] = 255;
  return { name, origin: 'test', geometry: g, occupancy: occ };
}

// The known rigid motion, fixed (planned) space -> moving (achieved) space: q = R p + t, R a rotation of 90 degrees
// about the S axis followed by 180 degrees about L (exact in floating point), t in mm.
const R = [0, 1, 0, -1, 0, 0, 0, 0, 1].map((x, i) => (i >= 3 && i < 6 ? -x : i >= 6 ? -x : x)); // row-major, det +1
const t: Vec3 = [12.5, -7, 30];
const mulRow = (m: number[], v: readonly number[]) => [0, 1, 2].map((r) => m[3 * r] * v[0] + m[3 * r + 1] * v[1] + m[3 * r + 2] * v[2]);
/** The fixed grid moved by q = R p + t: origin R o + t, direction columns R d (no resampling). */
function moved(g: Geometry): Geometry {
  const o = mulRow(R, g.originLpsMm).map((x, i) => x + t[i]) as unknown as Vec3;
  const cols = [0, 1, 2].map((c) => mulRow(R, [g.direction[3 * c], g.direction[3 * c + 1], g.direction[3 * c + 2]]));
  return { ...g, originLpsMm: o, direction: cols.flat() as unknown as Mat3ColMajor };
}
/** ITK AffineTransform (fixed -> moving): parameters = matrix row-major, then translation; centre 0. */
const tfm = (m: number[], tr: readonly number[]) =>
  `#Insight Transform File V1.0\n#Transform 0\nTransform: AffineTransform_double_3_3\nParameters: ${[...m, ...tr].join(' ')}\nFixedParameters: 0 0 0\n`;

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

let dir = '';
async function doseCase(name: string, g: Geometry, liver: Box, liverName: string, tumourNames: string[]): Promise<void> {
  writeFileSync(join(dir, `${name}.nrrd`), encodeNrrd({ geometry: g, data: activity(liver) }));
  writeFileSync(join(dir, `${name}.seg.nrrd`), encodeSegNrrd([mask(liverName, liver, g), ...LESIONS.map((l, n) => mask(tumourNames[n], l.box, g))]));
  const r = await capture(() => main([
    'dose', '--activity', join(dir, `${name}.nrrd`), '--activity-unit', 'bq-per-ml', '--scan-delay-h', '0', '--segmentation', join(dir, `${name}.seg.nrrd`),
    '--liver', liverName, ...tumourNames.flatMap((n) => ['--tumor', n]), '--isotope', 'Y90', '--method', 'ldm', '--backend', 'cpu', '--quiet', '--out', join(dir, name),
  ]));
  if (r.code !== 0) throw new Error(r.err);
}
const compare = (args: string[]) => capture(() => main(['compare', ...args]));
const readJson = (p: string) => JSON.parse(readFileSync(p, 'utf8'));

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'compare-verify-'));
  const names = LESIONS.map((l) => l.name);
  await doseCase('planned', fixedGrid, LIVER, 'Liver', names);
  // the same patient, moved (origin and direction only), structures named in lower case
  await doseCase('moved', moved(fixedGrid), LIVER, 'liver', names.map((n) => n.toLowerCase()));
  // another "patient": a liver of 24^3 voxels instead of 20 x 20 x 14 (2.5 x the volume)
  await doseCase('other', fixedGrid, BIG_LIVER, 'Liver', names);
  writeFileSync(join(dir, 'known.tfm'), tfm(R, t));
}, 120_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('compare: identity, matching, voxel-wise through a known rigid transform', () => {
  it('moved case through the known transform: identity comparison (gamma 100 %, difference 0, MADs equal); case-insensitive pairing', async () => {
    const out = join(dir, 'cmp-moved');
    const r = await compare(['--planned', join(dir, 'planned'), '--achieved', join(dir, 'moved'), '--transform', join(dir, 'known.tfm'), '--gamma', '5,5', '--gamma', '2,2', '--out', out]);
    expect(r.code, r.err).toBe(0);
    const rep = readJson(join(out, 'report.json'));
    expect(rep.matching.plannedOnly).toEqual([]);
    expect(rep.matching.achievedOnly).toEqual([]);
    expect(rep.matching.pairs).toContainEqual({ planned: 'Tumor A', achieved: 'tumor a' });
    expect(Object.keys(rep.gamma)).toEqual(['5%/5mm', '2%/2mm']);
    for (const g of Object.values(rep.gamma) as Array<{ passRate: number; meanGamma: number; evaluatedVoxels: number }>) {
      expect(g.passRate).toBe(1);
      expect(g.meanGamma).toBeLessThan(1e-4);
      expect(g.evaluatedVoxels).toBeGreaterThan(1000);
    }
    for (const p of rep.structures) expect(Math.abs(p.differenceGy)).toBeLessThan(1e-6 * Math.max(1, p.predictedGy));
    const diff = await readVolume(join(out, 'dose_difference.nii.gz'));
    let maxAbs = 0;
    for (const v of diff.data) if (Number.isFinite(v)) maxAbs = Math.max(maxAbs, Math.abs(v));
    expect(maxAbs).toBeLessThan(1e-3);
    for (const f of ['compare.json', 'compare.csv', 'dvh.svg', 'gamma_5pct_5mm.nii.gz', 'gamma_2pct_2mm.nii.gz']) expect(existsSync(join(out, f)), f).toBe(true);
    const cj = readJson(join(out, 'compare.json'));
    expect(cj.planned.reportSha256).toMatch(/^[0-9a-f]{64}$/);
    for (const d of rep.dvh) for (const x of d.difference) expect(Math.abs(x)).toBeLessThan(1e-6);
  }, 120_000);

  it('moved case without the transform: the maps disagree (pass rate well below 100 %), MADs still agree', async () => {
    const out = join(dir, 'cmp-moved-notfm');
    const r = await compare(['--planned', join(dir, 'planned'), '--achieved', join(dir, 'moved'), '--gamma', '5,5', '--out', out]);
    expect(r.code, r.err).toBe(0);
    const rep = readJson(join(out, 'report.json'));
    expect(rep.gamma['5%/5mm'].passRate).toBeLessThan(0.7);
    expect(r.err).toContain('Frame of Reference unknown');
  }, 120_000);

  it('--match pairs renamed structures; unmatched ones are listed on stderr and in the report', async () => {
    const out = join(dir, 'cmp-match');
    const r = await compare(['--planned', join(dir, 'planned'), '--achieved', join(dir, 'moved'), '--transform', join(dir, 'known.tfm'), '--gamma', '10,10',
      '--match', 'Tumor A=tumor b,Tumor B=tumor a', '--out', out]);
    expect(r.code, r.err).toBe(0);
    const rep = readJson(join(out, 'report.json'));
    expect(rep.matching.pairs).toContainEqual({ planned: 'Tumor A', achieved: 'tumor b' });
    expect(rep.matching.pairs).toContainEqual({ planned: 'Tumor B', achieved: 'tumor a' });
    const bad = await compare(['--planned', join(dir, 'planned'), '--achieved', join(dir, 'moved'), '--match', 'Tumor Z=liver', '--out', join(dir, 'cmp-bad')]);
    expect(bad.code).not.toBe(0);
    expect(bad.err).toMatch(/planned case has no structure "Tumor Z"/);
    expect(existsSync(join(dir, 'cmp-bad', 'report.json'))).toBe(false);
    // a structure only on one side is listed
    const only = await compare(['--planned', join(dir, 'planned'), '--achieved', join(dir, 'moved'), '--gamma', '10,10', '--transform', join(dir, 'known.tfm'), '--match', 'Tumor C=liver', '--out', join(dir, 'cmp-only')]);
    expect(only.code, only.err).toBe(0);
    expect(only.err).toMatch(/unmatched structures: planned only "Liver"; achieved only "tumor c"/);
    const rep2 = readJson(join(dir, 'cmp-only', 'report.json'));
    expect(rep2.matching.plannedOnly).toEqual(['Liver']);
    expect(rep2.matching.achievedOnly).toEqual(['tumor c']);
  }, 120_000);

  it('another patient (no Patient ID, liver 885 mL against 358 mL) is refused in one line; --allow-different-patients warns', async () => {
    const out = join(dir, 'cmp-other');
    const r = await compare(['--planned', join(dir, 'planned'), '--achieved', join(dir, 'other'), '--out', out]);
    expect(r.code).not.toBe(0);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).toMatch(/different patients: .*liver volumes \(planned 358 mL, achieved 885 mL\)/);
    expect(r.err).toContain('--allow-different-patients');
    expect(existsSync(join(out, 'report.json'))).toBe(false);
    const ok = await compare(['--planned', join(dir, 'planned'), '--achieved', join(dir, 'other'), '--allow-different-patients', '--gamma', '10,10', '--out', out]);
    expect(ok.code, ok.err).toBe(0);
    const rep = readJson(join(out, 'report.json'));
    expect(rep.identity.patient).toBe('different (allowed)');
    expect(rep.warnings.join('\n')).toContain('different patients compared');
  }, 120_000);

  it('different Frames of Reference: voxel-wise left out (structures still compared) unless --same-frame or --transform', async () => {
    const withFor = (name: string, uid: string) => {
      const d = join(dir, `${name}-for`);
      cpSync(join(dir, name), d, { recursive: true });
      const rp = readJson(join(d, 'report.json'));
      rp.provenance.parameters.dicom = { activity: { frameOfReferenceUid: uid, studyInstanceUid: `${uid}.9` } };
      writeFileSync(join(d, 'report.json'), JSON.stringify(rp));
      return d;
    };
    const p = withFor('planned', '1.2.3.4'), a = withFor('moved', '1.2.3.5');
    const r = await compare(['--planned', p, '--achieved', a, '--out', join(dir, 'cmp-for')]);
    expect(r.code, r.err).toBe(0);
    expect(r.err).toMatch(/different Frames of Reference \(1\.2\.3\.4 and 1\.2\.3\.5\)/);
    const rep = readJson(join(dir, 'cmp-for', 'report.json'));
    expect(rep.voxelwise.done).toBe(false);
    expect(rep.gamma).toEqual({});
    expect(rep.structures.length).toBe(5); // liver, three tumours, derived normal liver
    expect(existsSync(join(dir, 'cmp-for', 'dose_difference.nii.gz'))).toBe(false);
    const t2 = await compare(['--planned', p, '--achieved', a, '--transform', join(dir, 'known.tfm'), '--gamma', '5,5', '--out', join(dir, 'cmp-for2')]);
    expect(t2.code, t2.err).toBe(0);
    expect(readJson(join(dir, 'cmp-for2', 'report.json')).gamma['5%/5mm'].passRate).toBe(1);
    const both = await compare(['--planned', p, '--achieved', a, '--transform', join(dir, 'known.tfm'), '--same-frame', '--out', join(dir, 'cmp-for3')]);
    expect(both.code).not.toBe(0);
    expect(both.err).toMatch(/--transform or --same-frame, not both/);
  }, 120_000);
});

describe('compare: activity planned against delivered', () => {
  it('states delivered (administered - residual) over planned from the reports', async () => {
    const edit = (name: string, as: string, f: (r: Record<string, unknown>) => void) => {
      const d = join(dir, as);
      cpSync(join(dir, name), d, { recursive: true });
      const rp = readJson(join(d, 'report.json'));
      f(rp);
      writeFileSync(join(d, 'report.json'), JSON.stringify(rp));
      return d;
    };
    const p = edit('planned', 'planned-act', (r) => (r.plan = { activityGBq: 2.25 }));
    const a = edit('planned', 'achieved-act', (r) => (r.administration = { administeredGBq: 2, residualGBq: 0.2, deliveredGBq: 1.8, residualFraction: 0.1 }));
    const r = await compare(['--planned', p, '--achieved', a, '--gamma', '10,10', '--out', join(dir, 'cmp-act')]);
    expect(r.code, r.err).toBe(0);
    const act = readJson(join(dir, 'cmp-act', 'report.json')).activity;
    expect(act.plannedGBq).toBe(2.25);
    expect(act.deliveredGBq).toBe(1.8);
    expect(act.deliveredOverPlanned).toBeCloseTo(0.8, 12);
    expect(r.out).toMatch(/activity: planned 2\.250 GBq, delivered 1\.800 GBq \(ratio 0\.800\)/);
  }, 120_000);
});

describe('checkIdentities', () => {
  const id = (o: Partial<CaseIdentity>): CaseIdentity => ({ patientId: null, patientIdSha256: null, studyDate: null, studyInstanceUid: null, frameOfReferenceUid: null, source: 'unknown', liverVolumeMl: null, ...o });
  it('refuses different Patient IDs naming both, unless allowed; same IDs pass silently', () => {
    expect(() => checkIdentities(id({ patientId: 'P1' }), id({ patientId: 'P2' }), false)).toThrow(/Patient ID "P1" and the achieved case Patient ID "P2"/);
    const ok = checkIdentities(id({ patientId: 'P1' }), id({ patientId: 'P2' }), true);
    expect(ok.patient).toBe('different (allowed)');
    const same = checkIdentities(id({ patientId: 'P1', frameOfReferenceUid: '1.2' }), id({ patientId: 'P1', frameOfReferenceUid: '1.3', liverVolumeMl: 1 }), false);
    expect(same).toEqual({ patient: 'same', frameOfReference: 'different', warnings: [] });
  });
  it('with the DICOM files gone, the Patient ID hashes the reports record decide (same: no anatomy check; different: refused)', async () => {
    // SHA-256("P1") and SHA-256("P2"), computed independently of the project's Sha256 by Node's crypto
    const { createHash } = await import('node:crypto');
    const h = (x: string) => createHash('sha256').update(x).digest('hex');
    const same = checkIdentities(id({ patientIdSha256: h('P1'), liverVolumeMl: 1500 }), id({ patientIdSha256: h('P1'), liverVolumeMl: 900 }), false);
    expect(same.patient).toBe('same');
    expect(same.warnings).toEqual([]);
    expect(() => checkIdentities(id({ patientIdSha256: h('P1') }), id({ patientIdSha256: h('P2') }), false)).toThrow(/Patient IDs recorded in the two reports differ/);
    // caseIdentity reads the hash from the report's DICOM provenance when the inputs are gone
    const { caseIdentity } = await import('../../src/plan/compare-voxel.ts');
    const report = { provenance: { inputs: [{ role: 'activity', path: '/nonexistent/NM' }], parameters: { dicom: { activity: { frameOfReferenceUid: '1.2.3', patientIdSha256: h('P1'), studyDate: '20240101' } } } } };
    const ci = await caseIdentity(report);
    expect(ci).toMatchObject({ patientId: null, patientIdSha256: h('P1'), studyDate: '20240101', source: 'report provenance (Patient ID SHA-256)' });
  });
  it('unknown identity is a warning; liver volumes beyond 25 % refuse', () => {
    const w = checkIdentities(id({ liverVolumeMl: 1500 }), id({ liverVolumeMl: 1300 }), false);
    expect(w.patient).toBe('unknown');
    expect(w.warnings[0]).toMatch(/patient identity unknown/);
    expect(() => checkIdentities(id({ liverVolumeMl: 1500 }), id({ liverVolumeMl: 1100 }), false)).toThrow(/liver volumes/);
    // livers within 25 % but a paired lesion 3 x larger: refused; within a factor 2: accepted
    expect(() => checkIdentities(id({ liverVolumeMl: 1500 }), id({ liverVolumeMl: 1400 }), false, [{ name: 'T1', plannedMl: 10, achievedMl: 30 }])).toThrow(/"T1" 10 mL planned, 30 mL achieved/);
    expect(checkIdentities(id({ liverVolumeMl: 1500 }), id({ liverVolumeMl: 1400 }), false, [{ name: 'T1', plannedMl: 10, achievedMl: 19 }]).patient).toBe('unknown');
  });
});
