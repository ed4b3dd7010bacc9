/**
 * `dosimetry dose` end to end on the bundled liver phantom (data/phantoms), whose answers are known without the
 * engine: every structure's volume, mass, activity and LDM mean dose are sums over the phantom's region map
 * (data/phantoms/phantom.ts `expectedAnswers`). The CLI runs in-process through `main`, exactly as
 * `pnpm -s dosimetry dose ...` does.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readVolume, encodeSegNrrd, readSegmentation } from '../../packages/dosimetry-core/src/io/index.ts';
import { NUCLIDES } from '../../packages/dosimetry-core/src/units/index.ts';
import { REGIONS } from '../../data/phantoms/phantom.ts';
import { phantomCase, runCli, tempDir, webgpuAvailable } from './cli-harness.ts';

interface ReportStructure {
  name: string; role: string; volumeMl: number; massG: number; activityGBq: number; meanGy: number;
  minGy: number; maxGy: number; d50Gy: number; d70Gy: number; d90Gy: number; d98Gy: number; v100: number; v205: number;
  densitySource: string; doseMethod: string; lesionOf?: string; equivalentDiameterMm?: number;
  dvh: { doseGy: number[]; volumeFraction: number[] };
}
interface Report {
  schemaVersion: number; isotope: string; method: string; backend: string; activityInFieldGBq: number;
  lungShuntFraction: number; negativeActivityVoxelCount: number; structures: ReportStructure[]; warnings: string[];
  provenance: { version: string; inputs: Array<{ path: string; sha256: string }>; parameters: Record<string, unknown> };
}
interface Expected {
  structures: Array<{ name: string; role: string; volumeMl: number; massG: number; activityGBq: number; meanGy: number }>;
  activityInFieldGBq: number;
  lungShuntFraction: number;
  ldm: Record<'Y90' | 'Ho166', { structures: Expected['structures']; activityInFieldGBq: number }>;
}

const TUMORS = ['Tumor A', 'Tumor B', 'Tumor C', 'Tumor D'];
const ROLES = ['--liver', 'Liver', ...TUMORS.flatMap((t) => ['--tumor', t]), '--lung', 'Lungs'];
// Mean doses are sums of float32 voxel doses accumulated in float64; 1e-5 relative covers float32 rounding of the
// activity values and of the per-voxel dose (2^-24 each) with a wide margin while catching any real error.
const F32_REL = 1e-5;

let dir: string;
let expected: Expected;
let gpu = false;
const read = (out: string): Report => JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));
const byName = (r: Report, name: string) => {
  const s = r.structures.find((x) => x.name === name);
  if (!s) throw new Error(`structure ${name} missing from the report (has ${r.structures.map((x) => x.name).join(', ')})`);
  return s;
};

async function dose(args: string[], out = tempDir('dose')): Promise<{ out: string; report: Report; stdout: string }> {
  const r = await runCli(['dose', ...args, '--out', out, '--quiet']);
  if (r.code !== 0) throw new Error(`dose exited ${r.code}: ${r.stderr}`);
  return { out, report: read(out), stdout: r.stdout };
}

beforeAll(async () => {
  dir = await phantomCase();
  expected = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8'));
  gpu = await webgpuAvailable();
});

describe('dose on the liver phantom: known answers', () => {
  for (const backend of ['cpu', 'webgpu'] as const) {
    for (const isotope of ['Y90', 'Ho166'] as const) {
      it(`${isotope} LDM on the ${backend} back end: volume, mass, activity and MAD of every structure`, async (ctx) => {
        if (backend === 'webgpu' && !gpu) return ctx.skip();
        const { report, out } = await dose(['--activity', join(dir, 'activity_bqml.nii.gz'), '--activity-unit', 'bq-per-ml', '--scan-delay-h', '0',
          '--segmentation', join(dir, 'segmentation.seg.nrrd'), ...ROLES, '--isotope', isotope, '--method', 'ldm', '--backend', backend]);
        expect(report.backend).toBe(backend);
        expect(report.isotope).toBe(isotope);
        expect(report.schemaVersion).toBe(1);
        const exp = expected.ldm[isotope];
        expect(report.activityInFieldGBq).toBeCloseTo(exp.activityInFieldGBq, 6);
        for (const e of exp.structures) {
          const s = byName(report, e.name);
          expect(s.role, e.name).toBe(e.role);
          expect(Math.abs(s.volumeMl / e.volumeMl - 1), `${e.name} volume`).toBeLessThan(1e-9);
          // density 1.05 g/mL is stored as float32 where a density map exists (lungs): 2^-24 relative.
          expect(Math.abs(s.massG / e.massG - 1), `${e.name} mass`).toBeLessThan(1e-7);
          expect(Math.abs(s.activityGBq / e.activityGBq - 1), `${e.name} activity`).toBeLessThan(F32_REL);
          expect(Math.abs(s.meanGy / e.meanGy - 1), `${e.name} MAD`).toBeLessThan(F32_REL);
          // Uniform compartments: every voxel of a tumour has the same dose, so all dose quantiles equal the MAD
          // (to the DVH bin width, 1/2000 of the maximum dose).
          if (e.role === 'tumor') {
            const bin = Math.max(...report.structures.map((x) => x.maxGy)) / 2000;
            for (const q of [s.d50Gy, s.d70Gy, s.d90Gy, s.d98Gy]) expect(Math.abs(q - e.meanGy)).toBeLessThanOrEqual(bin * 1.01);
            expect(s.v100).toBe(e.meanGy >= 100 ? 1 : 0);
            expect(s.v205).toBe(e.meanGy >= 205 ? 1 : 0);
          }
        }
        // CF x A / M for a uniform compartment, written out: the tumour's MAD from its own activity and mass.
        const a = byName(report, 'Tumor A');
        expect(a.meanGy / ((NUCLIDES[isotope].ldmJoulePerGBq * a.activityGBq) / (a.massG / 1000)) - 1).toBeLessThan(F32_REL);
        // The dose map is float32 Gy on the activity grid with the activity's affine.
        const doseVol = await readVolume(join(out, 'dose.nii.gz'));
        const act = await readVolume(join(dir, 'activity_bqml.nii.gz'));
        expect(doseVol.geometry.dims).toEqual(act.geometry.dims);
        doseVol.geometry.originLpsMm.forEach((o, i) => expect(o).toBeCloseTo(act.geometry.originLpsMm[i], 4));
        doseVol.geometry.spacingMm.forEach((o, i) => expect(o).toBeCloseTo(act.geometry.spacingMm[i], 5));
        expect(existsSync(join(out, 'structures.csv'))).toBe(true);
        expect(readFileSync(join(out, 'structures.csv'), 'utf8').split('\n')[0]).toMatch(/^name,role,volumeMl,massG,activityGBq,meanGy/);
      });
    }
  }

  it('WebGPU and CPU dose maps agree voxel for voxel', async (ctx) => {
    if (!gpu) return ctx.skip();
    const common = ['--activity', join(dir, 'activity_bqml.nii.gz'), '--activity-unit', 'bq-per-ml', '--scan-delay-h', '0', '--segmentation', join(dir, 'segmentation.seg.nrrd'), ...ROLES, '--isotope', 'Y90', '--method', 'ldm'];
    const c = await dose([...common, '--backend', 'cpu']);
    const g = await dose([...common, '--backend', 'webgpu']);
    const dc = (await readVolume(join(c.out, 'dose.nii.gz'))).data;
    const dg = (await readVolume(join(g.out, 'dose.nii.gz'))).data;
    // Both compute CF x A / (rho V) in float32; the GPU may fuse a multiply-add, so allow 2 ulp (2^-23 relative).
    let worst = 0;
    for (let n = 0; n < dc.length; n++) {
      const d = Math.abs(dc[n] - dg[n]) / Math.max(Math.abs(dc[n]), 1e-30);
      if (dc[n] !== dg[n] && d > worst) worst = d;
    }
    expect(worst).toBeLessThan(2 ** -22);
    // Statistics agree with the CPU oracle (GPU sums in float32 partials: 1e-5).
    for (const s of c.report.structures) {
      const t = byName(g.report, s.name);
      expect(Math.abs(t.meanGy - s.meanGy) / s.meanGy, s.name).toBeLessThan(F32_REL);
      expect(t.volumeMl).toBeCloseTo(s.volumeMl, 6);
      expect(Math.abs(t.d70Gy - s.d70Gy)).toBeLessThanOrEqual(s.maxGy / 1000);
    }
  });
});

describe('dose: the same answers from every input form', () => {
  const base = async (activity: string, extra: string[] = []) =>
    (await dose(['--activity', join(dir, activity), '--activity-unit', 'bq-per-ml', ...(extra.includes('--scan-delay-h') ? [] : ['--scan-delay-h', '0']), '--segmentation', join(dir, 'segmentation.seg.nrrd'), ...ROLES, '--isotope', 'Y90', '--method', 'ldm', '--backend', 'cpu', ...extra])).report;

  it('flipped (NIfTI, RAS-like storage) and permuted (NRRD) activity grids give the canonical answers', async () => {
    for (const f of ['activity_bqml_ras.nii.gz', 'activity_bqml_permuted.nrrd']) {
      const r = await base(f);
      for (const e of expected.structures) expect(Math.abs(byName(r, e.name).meanGy / e.meanGy - 1), `${f} ${e.name}`).toBeLessThan(F32_REL);
    }
  });

  it('with a CT, structure masses from part-voxel sampling do not depend on the storage order of the activity grid', async () => {
    const ref = await base('activity_bqml.nii.gz', ['--ct', join(dir, 'ct_hu.nii.gz')]);
    for (const f of ['activity_bqml_ras.nii.gz', 'activity_bqml_permuted.nrrd']) {
      const r = await base(f, ['--ct', join(dir, 'ct_hu.nii.gz')]);
      for (const s of ref.structures) {
        // the same sample points in another order: equal up to summation order (float32 weights, f64 sums)
        expect(Math.abs(byName(r, s.name).massG / s.massG - 1), `${f} ${s.name} mass`).toBeLessThan(1e-6);
        expect(Math.abs(byName(r, s.name).meanGy / s.meanGy - 1), `${f} ${s.name} mean`).toBeLessThan(1e-6);
      }
    }
  });

  it('an image taken 24 h after implant, with --scan-delay-h 24, is carried back to implant', async () => {
    const r = await base('activity_bqml_scan24h.nii.gz', ['--scan-delay-h', '24']);
    for (const e of expected.structures) expect(Math.abs(byName(r, e.name).meanGy / e.meanGy - 1), e.name).toBeLessThan(2 * F32_REL);
    const without = await base('activity_bqml_scan24h.nii.gz', ['--scan-delay-h', '0']);
    const decay = Math.exp((-Math.LN2 * 24) / NUCLIDES.Y90.halfLifeH);
    expect(byName(without, 'Tumor A').meanGy / byName(r, 'Tumor A').meanGy).toBeCloseTo(decay, 6);
    expect(r.provenance.parameters.scanDelayH).toBe(24);
  });

  it('label maps with --labels tables give the same structures as the .seg.nrrd', async () => {
    const r = (await dose(['--activity', join(dir, 'activity_bqml.nii.gz'), '--activity-unit', 'bq-per-ml', '--scan-delay-h', '0',
      '--segmentation', join(dir, 'liver_lungs_labels.nii.gz'), '--labels', '1=Liver,2=Lungs',
      '--segmentation', join(dir, 'tumors_labels.nrrd'), '--labels', '1=Tumor A,2=Tumor B,3=Tumor C,4=Tumor D',
      ...ROLES, '--isotope', 'Y90', '--method', 'ldm', '--backend', 'cpu'])).report;
    for (const e of expected.structures) {
      const s = byName(r, e.name);
      expect(Math.abs(s.meanGy / e.meanGy - 1), e.name).toBeLessThan(F32_REL);
      expect(Math.abs(s.volumeMl / e.volumeMl - 1), e.name).toBeLessThan(1e-9);
    }
  });

  it('one label map with separate liver and tumour labels: the normal liver is exact, "Whole liver" is derived and normalised', async () => {
    // Each voxel has one label (as a label map exported from 3D Slicer): 1 = liver parenchyma, 2..5 = tumours, 6 = lungs.
    const masks = await readSegmentation(join(dir, 'segmentation.seg.nrrd'));
    const g = masks[0].geometry;
    const lab = new Uint8Array(masks[0].occupancy.length);
    const order = ['Liver', ...TUMORS, 'Lungs'];
    order.forEach((name, l) => {
      const m = masks.find((x) => x.name === name)!;
      for (let n = 0; n < lab.length; n++) if (m.occupancy[n] >= 128) lab[n] = l + 1;
    });
    const work = tempDir('labelmap');
    const f = join(work, 'labels.nrrd');
    const { encodeNrrd } = await import('../../packages/dosimetry-core/src/io/index.ts');
    writeFileSync(f, encodeNrrd({ geometry: g, data: lab }));
    const table = order.map((n, l) => `${l + 1}=${n}`).join(',');
    const e = (n: string) => expected.structures.find((x) => x.name === n)!;
    const r = (await dose(['--activity', join(dir, 'activity_bqml.nii.gz'), '--activity-unit', 'bq-per-ml', '--scan-delay-h', '0', '--segmentation', f, '--labels', table,
      ...ROLES, '--isotope', 'Y90', '--method', 'ldm', '--backend', 'cpu'])).report;
    // "Liver" is the label as given (the parenchyma, role other), the derived whole liver (liver + tumours) takes the liver role.
    expect(byName(r, "Liver").role).toBe("other");
    expect(byName(r, "Whole liver").role).toBe("liver");
    expect(Math.abs(byName(r, 'Liver').meanGy / e('Normal liver').meanGy - 1)).toBeLessThan(F32_REL);
    expect(Math.abs(byName(r, 'Normal liver').meanGy / e('Normal liver').meanGy - 1)).toBeLessThan(F32_REL);
    expect(Math.abs(byName(r, 'Whole liver').meanGy / e('Liver').meanGy - 1)).toBeLessThan(F32_REL);
    expect(Math.abs(byName(r, 'Whole liver').volumeMl / e('Liver').volumeMl - 1)).toBeLessThan(1e-9);
    expect(r.warnings.join(' ')).toMatch(/Whole liver/);
    // Counts: the whole liver (not the parenchyma alone) carries A (1 - LSF).
    const c = (await dose(['--activity', join(dir, 'activity_counts.nrrd'), '--activity-unit', 'counts', '--administered-gbq', '2', '--lung-shunt-fraction', '0.05',
      '--segmentation', f, '--labels', table, ...ROLES, '--isotope', 'Y90', '--method', 'ldm', '--backend', 'cpu'])).report;
    expect(Math.abs(byName(c, 'Whole liver').activityGBq / 1.9 - 1)).toBeLessThan(1e-7);
  });

  it('counts: the liver holds A x (1 - LSF) with LSF measured from the lungs', async () => {
    const A = 2.5;
    const r = (await dose(['--activity', join(dir, 'activity_counts.nrrd'), '--activity-unit', 'counts', '--administered-gbq', String(A),
      '--segmentation', join(dir, 'segmentation.seg.nrrd'), ...ROLES, '--isotope', 'Y90', '--method', 'ldm', '--backend', 'cpu'])).report;
    // The phantom's counts per voxel are round(C x V x k) per region (integer counts): the expected answers follow
    // from those integers, region by region, without the engine.
    const k = (expected as unknown as { countsPerBq: number }).countsPerBq;
    const vMl = 3.2 * 3.2 * 3.6 / 1000;
    const countsPerVoxel = (name: string) => Math.round(REGIONS.find((x) => x.name === name)!.activityBqPerMl * vMl * k);
    const e = (n: string) => expected.structures.find((x) => x.name === n)!;
    const nVox = (n: string) => Math.round(e(n).volumeMl / vMl);
    const tumourCounts = TUMORS.reduce((sum, t) => sum + nVox(t) * countsPerVoxel(t), 0);
    const liverCounts = nVox('Normal liver') * countsPerVoxel('Liver') + tumourCounts;
    const lungCounts = nVox('Lungs') * countsPerVoxel('Right lung');
    const lsf = lungCounts / (lungCounts + liverCounts);
    expect(Math.abs(r.lungShuntFraction / lsf - 1)).toBeLessThan(1e-9);
    const liver = byName(r, 'Liver');
    // Normalisation: the liver holds A (1 - LSF); float32 storage of the calibrated activity: 1e-7.
    expect(Math.abs(liver.activityGBq / (A * (1 - lsf)) - 1)).toBeLessThan(1e-7);
    const bqPerCount = (A * 1e9 * (1 - lsf)) / liverCounts;
    for (const t of TUMORS) {
      const want = (NUCLIDES.Y90.ldmJoulePerGBq * (countsPerVoxel(t) * bqPerCount) / 1e9) / (1.05 * vMl / 1000);
      expect(Math.abs(byName(r, t).meanGy / want - 1), t).toBeLessThan(F32_REL);
    }
  });

  it('--lung-shunt-fraction given: the normalisation structure holds A x (1 - LSF)', async () => {
    const r = (await dose(['--activity', join(dir, 'activity_counts.nrrd'), '--activity-unit', 'counts', '--administered-gbq', '3',
      '--lung-shunt-fraction', '0.1', '--segmentation', join(dir, 'segmentation.seg.nrrd'), ...ROLES, '--isotope', 'Y90', '--method', 'ldm', '--backend', 'cpu'])).report;
    expect(r.lungShuntFraction).toBe(0.1);
    expect(Math.abs(byName(r, 'Liver').activityGBq / 2.7 - 1)).toBeLessThan(1e-7); // float32 activity storage
  });

  it('--ct: densities from HU, stated per structure', async () => {
    const r = await base('activity_bqml.nii.gz', ['--ct', join(dir, 'ct_hu.nii.gz')]);
    const plain = await base('activity_bqml.nii.gz');
    const regions = (expected as unknown as { regions: Array<{ name: string; hu: number; role: string }> }).regions;
    for (const s of r.structures) expect(s.densitySource).toBe('ct');
    // Tumour A lies well inside the CT's uniform region: its mean density is (HU + 1000) / 1000 from the phantom,
    // apart from the border voxels where the 2 mm CT is interpolated onto the 3.2 x 3.2 x 3.6 mm grid (< 3 %).
    const huA = regions.find((x) => x.name === 'Tumor A')!.hu;
    const rhoA = byName(r, 'Tumor A').massG / byName(r, 'Tumor A').volumeMl;
    expect(Math.abs(rhoA / ((huA + 1000) / 1000) - 1)).toBeLessThan(0.03);
    // Lungs: CT density is far below soft tissue, and the lung dose rises accordingly against the 0.30 g/mL default.
    const lungRho = byName(r, 'Lungs').massG / byName(r, 'Lungs').volumeMl;
    const huLung = regions.find((x) => x.role === 'lung')!.hu;
    expect(Math.abs(lungRho / ((huLung + 1000) / 1000) - 1)).toBeLessThan(0.1);
    expect(byName(r, 'Lungs').activityGBq).toBeCloseTo(byName(plain, 'Lungs').activityGBq, 9);
  });
});

describe('dose: lesions', () => {
  it('--split-lesions splits a tumour mask into its connected lesions, each with volume and equivalent diameter', async () => {
    // One segment holding all four tumours, written with the project's .seg.nrrd writer.
    const masks = await readSegmentation(join(dir, 'segmentation.seg.nrrd'));
    const tumors = masks.filter((m) => TUMORS.includes(m.name));
    const all = new Uint8Array(tumors[0].occupancy.length);
    for (const t of tumors) for (let n = 0; n < all.length; n++) all[n] = Math.max(all[n], t.occupancy[n]);
    const work = tempDir('split');
    const seg = join(work, 'tumors.seg.nrrd');
    writeFileSync(seg, encodeSegNrrd([{ name: 'All tumours', origin: 'test', geometry: tumors[0].geometry, occupancy: all }]));
    const { report } = await dose(['--activity', join(dir, 'activity_bqml.nii.gz'), '--activity-unit', 'bq-per-ml', '--scan-delay-h', '0',
      '--segmentation', join(dir, 'segmentation.seg.nrrd'), '--segmentation', seg, '--liver', 'Liver', '--tumor', 'All tumours',
      '--split-lesions', '--isotope', 'Y90', '--method', 'ldm', '--backend', 'cpu']);
    const lesions = report.structures.filter((s) => s.lesionOf === 'All tumours');
    expect(lesions).toHaveLength(4);
    // Each lesion is one of the phantom's tumours: same volume and MAD.
    for (const e of expected.structures.filter((x) => x.role === 'tumor')) {
      const l = lesions.find((x) => Math.abs(x.volumeMl / e.volumeMl - 1) < 1e-9);
      expect(l, `lesion matching ${e.name}`).toBeDefined();
      expect(Math.abs(l!.meanGy / e.meanGy - 1)).toBeLessThan(F32_REL);
      expect(l!.equivalentDiameterMm).toBeCloseTo(10 * Math.cbrt((6 * e.volumeMl) / Math.PI), 6);
    }
  });
});

describe('dose: outputs', () => {
  it('reruns are byte-identical, the report carries provenance, and negative PET voxels are kept and counted', async () => {
    // A PET-like image with noise: some voxels negative.
    const act = await readVolume(join(dir, 'activity_bqml.nii.gz'));
    const noisy = Float32Array.from(act.data as Float32Array);
    let negatives = 0;
    for (let n = 0; n < noisy.length; n += 97) {
      noisy[n] = -1000 - (n % 500);
      negatives++;
    }
    const { encodeNifti } = await import('../../packages/dosimetry-core/src/io/index.ts');
    const work = tempDir('rerun');
    const f = join(work, 'noisy.nii.gz');
    writeFileSync(f, encodeNifti({ geometry: act.geometry, data: noisy }));
    const args = ['--activity', f, '--activity-unit', 'bq-per-ml', '--scan-delay-h', '0', '--segmentation', join(dir, 'segmentation.seg.nrrd'), ...ROLES, '--isotope', 'Y90', '--method', 'ldm', '--backend', 'cpu'];
    const a = await dose(args, join(work, 'a'));
    const b = await dose(args, join(work, 'b'));
    const files = readdirSync(a.out).sort();
    expect(files).toEqual(['dose.nii.gz', 'manifest.json', 'report.json', 'structures.csv', 'structures.seg.nrrd']);
    for (const file of files) expect(readFileSync(join(b.out, file)).equals(readFileSync(join(a.out, file))), file).toBe(true);
    expect(a.report.negativeActivityVoxelCount).toBe(negatives);
    expect(a.report.warnings.join(' ')).toMatch(/negative/);
    // The field activity keeps the negative voxels (unbiased means).
    let sum = 0;
    for (const v of noisy) sum += v;
    const vMl = act.geometry.spacingMm.reduce((p, s) => p * s, 1) / 1000;
    expect(a.report.activityInFieldGBq).toBeCloseTo((sum * vMl) / 1e9, 6);
    expect(a.report.provenance.version).toMatch(/\d+\.\d+\.\d+/);
    expect(a.report.provenance.inputs[0].sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(a.report.provenance.parameters).toMatchObject({ isotope: 'Y90', method: 'ldm', liver: 'Liver' });
    // DVH: cumulative, from 1 at 0 Gy down to 0.
    for (const s of a.report.structures) {
      expect(s.dvh.volumeFraction[0]).toBeCloseTo(1, 6);
      for (let i = 1; i < s.dvh.volumeFraction.length; i++) expect(s.dvh.volumeFraction[i]).toBeLessThanOrEqual(s.dvh.volumeFraction[i - 1] + 1e-12);
    }
    // structures.seg.nrrd holds every reported structure on the dose grid, readable by the project's reader.
    const segs = await readSegmentation(join(a.out, 'structures.seg.nrrd'));
    expect(segs.map((s) => s.name).sort()).toEqual(a.report.structures.map((s) => s.name).sort());
  });

  it('prints the structure table by default and the report as JSON with --json', async () => {
    const out = tempDir('json');
    const common = ['dose', '--activity', join(dir, 'activity_bqml.nii.gz'), '--activity-unit', 'bq-per-ml', '--scan-delay-h', '0', '--segmentation', join(dir, 'segmentation.seg.nrrd'), ...ROLES, '--isotope', 'Y90', '--method', 'ldm', '--backend', 'cpu'];
    const text = await runCli([...common, '--out', join(out, 'text')]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/Tumor A\s+tumor/);
    // progress goes to the terminal only: stderr is not a TTY here, so it stays empty (one line on an error) ...
    expect(text.stderr).toBe('');
    // ... unless DOSIMETRY_PROGRESS=1 asks for it
    process.env.DOSIMETRY_PROGRESS = '1';
    try {
      const shown = await runCli([...common, '--out', join(out, 'shown')]);
      expect(shown.stderr).toMatch(/reading activity/);
    } finally {
      delete process.env.DOSIMETRY_PROGRESS;
    }
    const json = await runCli([...common, '--out', join(out, 'json'), '--json']);
    expect(json.code).toBe(0);
    const parsed = JSON.parse(json.stdout) as Report;
    expect(parsed.structures.map((s) => s.name)).toContain('Normal liver');
  });
});
