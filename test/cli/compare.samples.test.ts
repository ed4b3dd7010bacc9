/**
 * `dosimetry compare` on the two sample patients of ../shared/data/sirt-samples (skipped with a printed reason when
 * absent).
 *
 * Patient 2's MAA plan (README "Real data"/planning command) against the same plan computed from its images moved by
 * a known rigid transform: the moved NRRDs are written here by rewriting only the headers' "space directions" and
 * "space origin" (q = R p + t: directions R d, origin R o + t), which moves the patient exactly without resampling
 * the voxels. Compared through the known fixed-to-moving transform written by hand as an ITK AffineTransform .tfm,
 * the comparison must be the identity one: gamma pass rates 100 %, MAD differences ~0.
 * Patient 1 (PET) against patient 2: the NRRDs carry no Patient ID, so the anatomy check refuses it (paired "Tumor 1"
 * is 16 mL in one and 113 mL in the other).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli, sharedData, tempDir } from './cli-harness.ts';

const DATA = sharedData('sirt-samples');

// A rotation of 10 degrees about S then 5 degrees about L, and a translation [mm]: q = R p + t.
const rot = (ax: 'x' | 'z', deg: number) => {
  const c = Math.cos((deg * Math.PI) / 180), s = Math.sin((deg * Math.PI) / 180);
  return ax === 'z' ? [c, -s, 0, s, c, 0, 0, 0, 1] : [1, 0, 0, 0, c, -s, 0, s, c];
};
const mul = (a: number[], b: number[]) => [0, 1, 2].flatMap((r) => [0, 1, 2].map((c) => a[3 * r] * b[c] + a[3 * r + 1] * b[3 + c] + a[3 * r + 2] * b[6 + c]));
const R = mul(rot('x', 5), rot('z', 10));
const T = [15, -20, 8];
const apply = (v: number[], withT: boolean) => [0, 1, 2].map((r) => R[3 * r] * v[0] + R[3 * r + 1] * v[1] + R[3 * r + 2] * v[2] + (withT ? T[r] : 0));
const vec = (s: string) => s.replace(/[()]/g, '').split(',').map(Number);
const fmtVec = (v: number[]) => `(${v.map((x) => x.toPrecision(17)).join(',')})`;

/** Rewrites an NRRD's geometry header fields for the motion q = R p + t; the data bytes are kept as they are. */
function moveNrrd(src: string, dst: string): void {
  const bytes = readFileSync(src);
  const end = bytes.indexOf('\n\n');
  const header = bytes.subarray(0, end).toString('latin1').split('\n');
  const out = header.map((line) => {
    if (line.startsWith('space origin:')) return `space origin: ${fmtVec(apply(vec(line.slice(13).trim()), true))}`;
    if (line.startsWith('space directions:')) {
      return `space directions: ${line.slice(17).trim().split(/\s+/).map((d) => (d === 'none' ? 'none' : fmtVec(apply(vec(d), false)))).join(' ')}`;
    }
    return line;
  });
  writeFileSync(dst, Buffer.concat([Buffer.from(out.join('\n'), 'latin1'), bytes.subarray(end)]));
}

describe.skipIf(!DATA)('compare on the sample patients (../shared/data/sirt-samples)', () => {
  const dir = tempDir('compare-samples');
  const planArgs = (activity: string, seg: string, out: string) => [
    'plan', '--device', 'glass', '--activity', activity, '--segmentation', seg, '--liver', 'liver', '--tumor', 'Tumor 1', '--tumor', 'Tumor 2',
    '--perfused', 'perfused volume', '--lung-shunt-fraction', '0.05', '--quiet', '--out', out,
  ];
  beforeAll(async () => {
    const D = DATA!;
    moveNrrd(join(D, 'patient_2_SPECT.nrrd'), join(dir, 'p2_moved_SPECT.nrrd'));
    moveNrrd(join(D, 'patient_2_Segmentation.seg.nrrd'), join(dir, 'p2_moved.seg.nrrd'));
    writeFileSync(join(dir, 'known.tfm'), `#Insight Transform File V1.0\n#Transform 0\nTransform: AffineTransform_double_3_3\nParameters: ${[...R, ...T].join(' ')}\nFixedParameters: 0 0 0\n`);
    for (const [a, s, o] of [
      [join(D, 'patient_2_SPECT.nrrd'), join(D, 'patient_2_Segmentation.seg.nrrd'), 'p2'],
      [join(dir, 'p2_moved_SPECT.nrrd'), join(dir, 'p2_moved.seg.nrrd'), 'p2moved'],
    ]) {
      const r = await runCli(planArgs(a, s, join(dir, o)));
      if (r.code !== 0) throw new Error(r.stderr);
    }
    const p1 = await runCli([
      'dose', '--activity', join(D, 'patient_1_Y90_PET.nrrd'), '--activity-unit', 'bq-per-ml', '--scan-delay-h', '0',
      '--segmentation', join(D, 'patient_1_Segmentation.seg.nrrd'), '--liver', 'Liver', ...[1, 2, 3, 4, 5, 6].flatMap((n) => ['--tumor', `Tumor ${n}`]),
      '--split-lesions', '--isotope', 'Y90', '--method', 'ldm', '--quiet', '--out', join(dir, 'p1'),
    ]);
    if (p1.code !== 0) throw new Error(p1.stderr);
  }, 600_000);

  it('the moved header really moves the patient (same voxels, new origin and directions)', () => {
    const a = readFileSync(join(DATA!, 'patient_2_SPECT.nrrd')), b = readFileSync(join(dir, 'p2_moved_SPECT.nrrd'));
    const body = (x: Buffer) => gunzipSync(x.subarray(x.indexOf('\n\n') + 2));
    expect(body(a).equals(body(b))).toBe(true);
    expect(b.toString('latin1', 0, 600)).not.toBe(a.toString('latin1', 0, 600));
  });

  it("patient 2's plan against its moved plan through the known transform: the identity comparison", async () => {
    const out = join(dir, 'cmp');
    const r = await runCli(['compare', '--planned', join(dir, 'p2'), '--achieved', join(dir, 'p2moved'), '--transform', join(dir, 'known.tfm'), '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    const rep = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));
    for (const k of ['10%/10mm', '5%/5mm']) {
      expect(rep.gamma[k].passRate, k).toBe(1);
      expect(rep.gamma[k].evaluatedVoxels).toBeGreaterThan(1000);
    }
    expect(rep.matching.plannedOnly).toEqual([]);
    for (const p of rep.structures) expect(Math.abs(p.differenceGy), p.name).toBeLessThan(1e-3 * Math.max(1, p.predictedGy));
    expect(rep.activity.plannedGBq).toBeGreaterThan(1);
    console.log(`patient 2 moved: ${Object.entries(rep.gamma).map(([k, g]) => `${k} pass ${(100 * (g as { passRate: number }).passRate).toFixed(2)} % mean ${(g as { meanGamma: number }).meanGamma.toExponential(2)}`).join('; ')}; max |MAD diff| ${Math.max(...rep.structures.map((p: { differenceGy: number }) => Math.abs(p.differenceGy))).toExponential(2)} Gy`);
    // without the transform the moved maps do not line up
    const r2 = await runCli(['compare', '--planned', join(dir, 'p2'), '--achieved', join(dir, 'p2moved'), '--gamma', '5,5', '--out', join(dir, 'cmp-notfm')]);
    expect(r2.code, r2.stderr).toBe(0);
    const pr = JSON.parse(readFileSync(join(dir, 'cmp-notfm', 'report.json'), 'utf8')).gamma['5%/5mm'].passRate;
    console.log(`patient 2 moved, no transform: 5%/5mm pass ${(100 * pr).toFixed(1)} %`);
    expect(pr).toBeLessThan(0.9);
  }, 600_000);

  it('patient 1 against patient 2 is refused in one line (no Patient ID in NRRD: the paired lesions are not the same)', async () => {
    const r = await runCli(['compare', '--planned', join(dir, 'p2'), '--achieved', join(dir, 'p1'), '--match', 'liver=Liver', '--out', join(dir, 'cmp12')]);
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/different patients: .*"Tumor 1" 113 mL planned, 16 mL achieved/);
  }, 600_000);
});
