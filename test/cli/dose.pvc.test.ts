/**
 * `dose --recovery-coefficients FILE` on the bundled liver phantom (LDM, Bq/mL): spherical tumours of 48, 32, 24 and
 * 18 mm diameter (data/phantoms/phantom.ts). With a table of spheres 20, 30, 40 mm (RC 0.5, 0.7, 0.8) Tumor C and B are
 * corrected by the RC interpolated linearly in diameter, Tumor A (above the largest sphere) by the largest sphere's RC,
 * Tumor D (below the smallest) is flagged and left uncorrected; both values are in report.json and structures.csv.
 * A bad table is refused before any image is read, with nothing written.
 * `--pvc-deconvolve-fwhm-mm F`: Richardson-Lucy on the activity before the dose conserves the activity in the field,
 * says how it ran and its limitations, and is refused together with a table.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { phantomCase, runCli, tempDir } from './cli-harness.ts';

let P = '';
let dir = '';
beforeAll(async () => {
  P = await phantomCase();
  dir = tempDir('dose-pvc');
  writeFileSync(join(dir, 'rc.csv'), '# scanner X, NEMA IEC body phantom\ndiameterMm,rc\n20,0.5\n30,0.7\n40,0.8\n');
  writeFileSync(join(dir, 'bad.csv'), 'diameterMm,rc\n20,50\n30,70\n');
});

const args = (out: string, table: string) => [
  'dose', '--activity', join(P, 'activity_bqml.nii.gz'), '--activity-unit', 'bq-per-ml', '--scan-delay-h', '0', '--segmentation', join(P, 'segmentation.seg.nrrd'),
  '--liver', 'Liver', '--tumor', 'Tumor A', '--tumor', 'Tumor B', '--tumor', 'Tumor C', '--tumor', 'Tumor D', '--lung', 'Lungs',
  '--isotope', 'Y90', '--method', 'ldm', '--backend', 'cpu', '--recovery-coefficients', join(dir, table), '--out', out,
];

type S = { name: string; role: string; volumeMl: number; meanGy: number; activityGBq: number; pvc?: Record<string, unknown> };

describe('dose --recovery-coefficients', () => {
  it('reports corrected and uncorrected lesion dose and activity, flags the small lesion', async () => {
    const out = join(dir, 'out');
    const r = await runCli(args(out, 'rc.csv'));
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));
    const s = report.structures as S[];
    const by = (n: string) => s.find((x) => x.name === n)!;
    expect(by('Liver').pvc).toBeUndefined();
    // expected RC: from the structure's volume-equivalent diameter, by hand on the 3-row table
    const dOf = (v: number) => Math.cbrt((6 * v * 1000) / Math.PI);
    const rcHand = (d: number) => (d <= 30 ? 0.5 + (0.2 * (d - 20)) / 10 : 0.7 + (0.1 * (d - 30)) / 10);
    for (const [name, nominalD] of [['Tumor B', 32], ['Tumor C', 24]] as const) {
      const t = by(name);
      const d = dOf(t.volumeMl);
      expect(Math.abs(d - nominalD)).toBeLessThan(0.5); // the voxelised sphere keeps its size (2 % of d)
      expect(t.pvc!.rc as number).toBeCloseTo(rcHand(d), 9);
      expect(t.pvc!.meanGyCorrected as number).toBeCloseTo(t.meanGy / rcHand(d), 6);
      expect(t.pvc!.activityGBqCorrected as number).toBeCloseTo(t.activityGBq / rcHand(d), 9);
      expect(t.pvc!.method).toBe('recovery-coefficient');
    }
    expect(by('Tumor A').pvc).toMatchObject({ rc: 0.8, clamped: 'above largest sphere' });
    expect(by('Tumor A').pvc!.meanGyCorrected as number).toBeCloseTo(by('Tumor A').meanGy / 0.8, 6);
    expect(by('Tumor D').pvc).toMatchObject({ rc: null, meanGyCorrected: null, activityGBqCorrected: null, flag: 'below smallest sphere' });
    expect(report.warnings.join('\n')).toMatch(/Tumor D \(1[78]\.\d mm\) below the smallest sphere/);
    expect(r.stderr).toMatch(/warning: partial-volume correction: Tumor D/);
    expect(report.provenance.parameters.partialVolumeCorrection).toMatchObject({ method: 'recovery-coefficient', sizeColumn: 'diameterMm' });
    expect(report.provenance.inputs.map((i: { role: string }) => i.role)).toContain('recovery-coefficients');
    // structures.csv: the corrected columns beside the uncorrected ones
    const csv = readFileSync(join(out, 'structures.csv'), 'utf8').trim().split('\n').map((l) => l.split(','));
    const head = csv[0];
    for (const c of ['meanGy', 'pvcRc', 'meanGyCorrected', 'activityGBqCorrected', 'pvcFlag']) expect(head).toContain(c);
    const row = (n: string) => csv.find((x) => x[0] === n)!;
    expect(Number(row('Tumor C')[head.indexOf('meanGyCorrected')])).toBeCloseTo(by('Tumor C').pvc!.meanGyCorrected as number, 6);
    expect(row('Tumor D')[head.indexOf('pvcFlag')]).toBe('below smallest sphere');
    expect(row('Tumor D')[head.indexOf('meanGyCorrected')]).toBe('');
    expect(row('Liver')[head.indexOf('pvcRc')]).toBe('');
    // terminal: both values
    expect(r.stdout).toMatch(/partial-volume correction \(recovery coefficients\)/);
    expect(r.stdout).toMatch(/Tumor D: 1[78]\.\d mm, mean [\d.]+ Gy, not corrected \(below smallest sphere\)/);
  });

  it('corrects each split lesion by its own size', async () => {
    const out = join(dir, 'split');
    const r = await runCli([...args(out, 'rc.csv'), '--split-lesions', '--quiet']);
    expect(r.code, r.stderr).toBe(0);
    const s = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')).structures as Array<S & { lesionOf?: string }>;
    const lesions = s.filter((x) => x.lesionOf !== undefined);
    expect(lesions.length).toBeGreaterThanOrEqual(4);
    for (const l of lesions) expect(l.pvc).toBeDefined();
    expect(lesions.find((l) => l.lesionOf === 'Tumor D')!.pvc).toMatchObject({ flag: 'below smallest sphere' });
  });

  it('refuses a bad table before any work, with nothing written; plan refuses the option', async () => {
    const out = join(dir, 'bad');
    const r = await runCli(args(out, 'bad.csv'));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/rc must lie in \(0, 1\.2\].*percentage/);
    expect(existsSync(join(out, 'report.json'))).toBe(false);
    const m = await runCli(args(join(dir, 'missing-out'), 'missing.csv'));
    expect(m.code).not.toBe(0);
    expect(m.stderr).toMatch(/cannot read the recovery-coefficient table/);
    const p = await runCli(['plan', '--device', 'glass', '--activity', join(P, 'activity_counts.nrrd'), '--segmentation', join(P, 'segmentation.seg.nrrd'), '--liver', 'Liver', '--recovery-coefficients', join(dir, 'rc.csv'), '--out', join(dir, 'plan')]);
    expect(p.code).not.toBe(0);
    expect(p.stderr).toMatch(/partial-volume correction \(--recovery-coefficients, --pvc-deconvolve-fwhm-mm\) applies to dose/);
  });

  it('--pvc-deconvolve-fwhm-mm: activity deconvolved before the dose, total conserved, limitations stated', async () => {
    const base = args('', 'rc.csv').slice(0, -4); // without --recovery-coefficients and --out
    const plain = await runCli([...base, '--json', '--out', join(dir, 'plain')]);
    expect(plain.code, plain.stderr).toBe(0);
    const r = await runCli([...base, '--pvc-deconvolve-fwhm-mm', '8', '--pvc-iterations', '3', '--json', '--out', join(dir, 'rl')]);
    expect(r.code, r.stderr).toBe(0);
    const a = JSON.parse(readFileSync(join(dir, 'plain', 'report.json'), 'utf8'));
    const b = JSON.parse(readFileSync(join(dir, 'rl', 'report.json'), 'utf8'));
    // float32 image, renormalised in f64: the field's activity agrees to 1e-6
    expect(Math.abs(b.activityInFieldGBq / a.activityInFieldGBq - 1)).toBeLessThan(1e-6);
    expect(b.provenance.parameters.pvcDeconvolution).toMatchObject({ method: 'richardson-lucy', fwhmMm: 8, iterations: 3, totalConserved: true });
    expect(r.stderr).toMatch(/warning: partial-volume correction: activity deconvolved \(Richardson-Lucy.*amplifies noise/);
    // the phantom is not blurred: deconvolving it sharpens the tumour rims, so lesion doses change (a real correction ran)
    const mean = (rep: { structures: S[] }, n: string) => rep.structures.find((x) => x.name === n)!.meanGy;
    const change = Math.max(...['Tumor A', 'Tumor B', 'Tumor C', 'Tumor D'].map((n) => Math.abs(mean(b, n) / mean(a, n) - 1)));
    expect(change).toBeGreaterThan(1e-3);
    const both = await runCli([...args(join(dir, 'both'), 'rc.csv'), '--pvc-deconvolve-fwhm-mm', '8']);
    expect(both.code).not.toBe(0);
    expect(both.stderr).toMatch(/both correct the same partial-volume loss/);
    const alone = await runCli([...base, '--pvc-iterations', '5', '--out', join(dir, 'alone')]);
    expect(alone.code).not.toBe(0);
    expect(alone.stderr).toMatch(/--pvc-iterations needs --pvc-deconvolve-fwhm-mm/);
    expect(existsSync(join(dir, 'both', 'report.json')) || existsSync(join(dir, 'alone', 'report.json'))).toBe(false);
  });
});
