/**
 * `dose --residual-gbq R` on the bundled liver phantom (LDM): with a counts image the dose uses the delivered activity
 * administered - R, so every dose scales by (A - R) / A against the same run without R, and the liver holds exactly
 * (A - R)(1 - LSF); with a Bq/mL image (which measures the delivered activity itself) nothing is rescaled, the image's
 * total is compared with A - R (phantom: 1.4143 GBq, data/phantoms/out/liver/expected.json) and a difference beyond
 * 20 % is warned; report.json "administration" says administered, residual and delivered. Bad residuals are refused
 * with one line and nothing written.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { phantomCase, runCli, tempDir } from './cli-harness.ts';

let P = '';
let dir = '';
beforeAll(async () => {
  P = await phantomCase(); // the liver case folder
  dir = tempDir('dose-residual');
});
let n = 0;
const outDir = () => join(dir, `out-${n++}`);
const rel = (a: number, b: number) => Math.abs(a - b) / Math.abs(b);

const counts = () => [
  'dose', '--activity', join(P, 'activity_counts.nrrd'), '--activity-unit', 'counts', '--segmentation', join(P, 'segmentation.seg.nrrd'),
  '--liver', 'Liver', '--tumor', 'Tumor A', '--tumor', 'Tumor B', '--lung', 'Lungs', '--isotope', 'Y90', '--method', 'ldm', '--backend', 'cpu', '--quiet',
];
const bqml = () => [
  'dose', '--activity', join(P, 'activity_bqml.nii.gz'), '--activity-unit', 'bq-per-ml', '--scan-delay-h', '0', '--segmentation', join(P, 'segmentation.seg.nrrd'),
  '--liver', 'Liver', '--tumor', 'Tumor A', '--tumor', 'Tumor B', '--lung', 'Lungs', '--isotope', 'Y90', '--method', 'ldm', '--backend', 'cpu', '--quiet',
];

async function dose(args: string[]) {
  const out = outDir();
  const r = await runCli([...args, '--json', '--out', out]);
  expect(r.code, r.stderr).toBe(0);
  return { ...r, report: JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) };
}

type S = { name: string; meanGy: number; activityGBq: number; massG: number; role: string };

describe('dose --residual-gbq', () => {
  it('counts: doses scale by delivered / administered; the liver holds (A - R)(1 - LSF); report fields', async () => {
    const plain = await dose([...counts(), '--administered-gbq', '2']);
    const res = await dose([...counts(), '--administered-gbq', '2', '--residual-gbq', '0.3']);
    const k = 1.7 / 2;
    const a = plain.report.structures as S[], b = res.report.structures as S[];
    expect(b.map((s) => s.name)).toEqual(a.map((s) => s.name));
    // float32 dose map: each voxel is rounded once (6e-8 relative), so means agree to 1e-6, not to the last bit
    for (let i = 0; i < a.length; i++) {
      expect(rel(b[i].meanGy, a[i].meanGy * k)).toBeLessThan(1e-6);
      expect(rel(b[i].activityGBq, a[i].activityGBq * k)).toBeLessThan(1e-6);
    }
    const liver = b.find((s) => s.role === 'liver')!;
    expect(rel(liver.activityGBq, 1.7 * (1 - res.report.lungShuntFraction))).toBeLessThan(1e-6);
    // LDM: D = 49.67 J/GBq x A / M (../shared/PHYSICS.md) over the uniform structure
    expect(rel(liver.meanGy, (49.67 * liver.activityGBq) / (liver.massG / 1000))).toBeLessThan(1e-5);
    expect(res.report.administration).toMatchObject({ administeredGBq: 2, residualGBq: 0.3, residualFraction: 0.15, doseUses: 'delivered activity (counts normalised to it)', imageActivityGBq: null });
    expect(res.report.administration.deliveredGBq).toBeCloseTo(1.7, 12);
    expect(res.report.provenance.parameters).toMatchObject({ administeredGBq: 2, residualGBq: 0.3 });
    expect(res.report.provenance.parameters.deliveredGBq).toBeCloseTo(1.7, 12);
    expect(plain.report.administration).toBeUndefined();
  });

  it('Bq/mL: not rescaled; the image total is compared with the delivered activity', async () => {
    const IMAGE_GBQ = 1.4142578687999006; // expected.json activityInFieldGBq
    const plain = await dose(bqml());
    const close = await dose([...bqml(), '--administered-gbq', '1.5', '--residual-gbq', '0.08']);
    const a = plain.report.structures as S[], b = close.report.structures as S[];
    for (let i = 0; i < a.length; i++) expect(b[i].meanGy).toBe(a[i].meanGy);
    const adm = close.report.administration;
    expect(adm.doseUses).toBe('the image itself (Bq/mL: not rescaled)');
    expect(rel(adm.imageActivityGBq, IMAGE_GBQ)).toBeLessThan(1e-6);
    expect(rel(adm.imageOverDelivered, IMAGE_GBQ / 1.42)).toBeLessThan(1e-6);
    // within 20 %: no warning; and --administered-gbq is not called unused
    expect(close.report.warnings.join(' ')).not.toMatch(/delivered|not used/);
    const far = await dose([...bqml(), '--administered-gbq', '2', '--residual-gbq', '0.1']);
    expect(rel(far.report.administration.imageOverDelivered, IMAGE_GBQ / 1.9)).toBeLessThan(1e-6);
    const w = far.report.warnings.find((x: string) => /GBq delivered/.test(x));
    expect(w).toMatch(/holds 1\.414 GBq at implant, 25\.6 % less than the 1\.900 GBq delivered \(2 administered - 0\.1 residual\): beyond \+-20 %/);
    expect(far.stderr).toContain(`warning: ${w}`);
    for (let i = 0; i < a.length; i++) expect((far.report.structures as S[])[i].meanGy).toBe(a[i].meanGy);
  });

  const bad: Array<[string, string[], RegExp]> = [
    ['residual at the administered activity', ['--administered-gbq', '2', '--residual-gbq', '2'], /--residual-gbq 2 is not less than --administered-gbq 2: nothing would have been delivered/],
    ['residual above it (MBq?)', ['--administered-gbq', '2', '--residual-gbq', '150'], /--residual-gbq 150 is not less than --administered-gbq 2.*GBq, not MBq/],
    ['negative residual', ['--administered-gbq', '2', '--residual-gbq', '-0.1'], /--residual-gbq -0\.1 is negative/],
    ['residual without administered', ['--residual-gbq', '0.1'], /--residual-gbq needs --administered-gbq/],
    ['not a number', ['--administered-gbq', '2', '--residual-gbq', '0,1'], /--residual-gbq must be a number, got "0,1"/],
  ];
  it.each(bad)('%s: one line on stderr, non-zero exit, nothing written', async (_, extra, msg) => {
    const out = outDir();
    const r = await runCli([...counts(), ...extra, '--out', out]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(msg);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(existsSync(out)).toBe(false);
  });
});
