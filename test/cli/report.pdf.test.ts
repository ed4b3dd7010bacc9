/**
 * `plan ... --report` and `dose ... --report` on the bundled liver phantom (and the real DICOM study when
 * ../shared/data is present): DIR/report.pdf is part of the output set, its text (pdftotext) holds the numbers of
 * report.json with the rounding the report states (checked here with the rounding written out, not imported), the
 * limits and flags judged here from the EANM presets, every warning verbatim, the input hashes and the engine
 * version; pdftoppm renders every page with ink in its body, and the slice images carry colour (and CT grey). No
 * --report: no PDF; an error after the inputs were read: nothing written. Needs poppler-utils (skipped otherwise).
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  colourFraction, embeddedImages, greyFraction, inkFraction, pdfPageCount, pdfText, popplerMissing, renderPages, squeeze,
} from '../../packages/dosimetry-core/test/report/pdf-tools.ts';
import { encodeNrrd, encodeSegNrrd } from '../../packages/dosimetry-core/src/io/index.ts';
import type { Geometry } from '../../packages/dosimetry-core/src/volume/geometry.ts';
import { phantomCase, runCli, sharedData, tempDir } from './cli-harness.ts';

const missing = popplerMissing();
if (missing) console.warn(`skipping the PDF report tests: ${missing}`);

interface Structure {
  name: string; role: string; volumeMl: number; massG: number; activityGBq: number; meanGy: number; maxGy: number;
  d50Gy: number; d70Gy: number; d90Gy: number; d98Gy: number; v100: number; v205: number; meanBedGy?: number; lesionOf?: string;
}
interface Report {
  isotope: string; method: string; backend: string; lungShuntFraction: number; activityInFieldGBq: number;
  structures: Structure[]; warnings: string[];
  plan?: {
    activityGBq: number; limitingConstraint: string; contraindications: string[];
    targets: { tumorGy?: number; normalLiverGy?: number; wholeNormalLiverGy?: number; lungGy?: number };
    compartments: { perfusedNormalLiver: { name: string }; wholeNormalLiver: { name: string } };
    calibration: { calibrationActivityGBq: number; decayFactor: number; calibrationTime: string; treatmentTime: string } | null;
  };
  provenance: { version: string; inputs: Array<{ role: string; path: string; sha256: string }> };
}

/** The rounding the report states on its first page, written out: doses, volumes, masses 1 decimal; activities 4. */
const f1 = (x: number) => {
  const s = x.toFixed(1);
  return s === '-0.0' ? '0.0' : s;
};
const pct1 = (x: number) => f1(100 * x);
const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

let dir = '';
const P = (f: string) => join(dir, f);
const phantomArgs = () => ['--segmentation', P('segmentation.seg.nrrd'), '--liver', 'Liver', '--tumor', 'Tumor A', '--tumor', 'Tumor B', '--lung', 'Lungs', '--backend', 'cpu', '--quiet'];

async function runCase(argv: string[]): Promise<{ out: string; report: Report; pdf: string; stderr: string }> {
  const out = tempDir('report-pdf');
  const r = await runCli([...argv, '--report', '--out', out]);
  if (r.code !== 0) throw new Error(`${argv[0]} exited ${r.code}: ${r.stderr}`);
  return { out, report: JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')), pdf: join(out, 'report.pdf'), stderr: r.stderr };
}

/**
 * Criteria of the structure table, in the order the report states (targets, the lung limit, the liver limits): the
 * EANM 2022 90Y glass presets (../shared/PHYSICS.md) for a dose report, else the plan's targets, compartments and,
 * for a territory plan, its coverage targets and constraints.
 */
function expectedCriteria(report: Report, s: Structure): Array<{ kind: 'target' | 'limit'; gy: number; what: string }> {
  const out: Array<{ kind: 'target' | 'limit'; gy: number; what: string }> = [];
  const add = (kind: 'target' | 'limit', gy: number | undefined, what: string) => {
    if (gy !== undefined && !out.some((c) => c.kind === kind && c.gy === gy)) out.push({ kind, gy, what });
  };
  const plan = report.plan as (Report['plan'] & { coverage?: Array<{ structure: string; targetGy?: number }>; constraints?: Array<{ structure: string; limitGy?: number; what: string }> }) | undefined;
  for (const c of plan?.coverage ?? []) if (c.structure === s.name) add('target', c.targetGy, 'tumour target');
  const t = plan?.targets ?? { tumorGy: 205, wholeNormalLiverGy: 75, lungGy: 30 }; // 90Y glass, dose reference
  if (s.role === 'tumor') add('target', t.tumorGy, 'tumour target');
  if (s.role === 'lung') add('limit', t.lungGy, 'lung');
  if (!plan && s.role === 'normal-liver') add('limit', 75, 'whole normal liver');
  if (plan?.compartments) {
    if (s.name === plan.compartments.perfusedNormalLiver.name) add('limit', t.normalLiverGy, 'perfused normal liver');
    if (s.name === plan.compartments.wholeNormalLiver.name) add('limit', t.wholeNormalLiverGy, 'whole normal liver');
  }
  for (const c of plan?.constraints ?? []) if (c.structure === s.name) add('limit', c.limitGy, c.what);
  return out;
}

/** Checks the structure table: every number of every structure in its row, the limits and the flag. */
function checkStructureRows(text: string, report: Report): { flags: string[] } {
  const flags: string[] = [];
  for (const s of report.structures) {
    const nums = [f1(s.volumeMl), f1(s.massG), s.activityGBq.toFixed(4), f1(s.meanGy), f1(s.d98Gy), f1(s.d90Gy), f1(s.d70Gy), f1(s.d50Gy), f1(s.maxGy), pct1(s.v100), pct1(s.v205)];
    if (s.meanBedGy !== undefined) nums.push(f1(s.meanBedGy));
    const crit = expectedCriteria(report, s);
    const under = crit.some((c) => c.kind === 'target' && s.meanGy < c.gy * (1 - 1e-6));
    const over = crit.some((c) => c.kind === 'limit' && s.meanGy > c.gy * (1 + 1e-6));
    const flag = crit.length === 0 ? '-' : [under ? 'UNDER TARGET' : '', over ? 'OVER LIMIT' : ''].filter(Boolean).join(', ') || 'ok';
    flags.push(flag);
    const limit = crit.map((c) => `${c.kind === 'target' ? '>=' : '<'} ${f1(c.gy)}`).join(', ') || '-';
    const row = new RegExp(`^\\s*${esc(s.name)}\\s+${esc(s.role)}\\s+${nums.map(esc).join('\\s+')}\\s+${esc(limit)}\\s+${esc(flag)}\\s*$`, 'm');
    expect(text, `structure row of ${s.name}: ${nums.join(' ')} ${limit} ${flag}`).toMatch(row);
    // what each criterion is, in the note under the table
    if (crit.length) expect(squeeze(text)).toContain(squeeze(`${s.name} ${crit.map((c) => `${c.kind === 'target' ? '>=' : '<'} ${f1(c.gy)} Gy (${c.what})`).join(', ')}`));
  }
  return { flags };
}

/** Every page has ink in its body (not only header and footer), and the images carry dose colours. */
function checkRendering(pdf: string, opts: { ct: boolean }): void {
  const n = pdfPageCount(pdf);
  const grey = renderPages(pdf, { dpi: 40, gray: true });
  expect(grey).toHaveLength(n);
  grey.forEach((page, i) => {
    // the body (between the running header and the footer: 8 % to 92 % of the height) has text or figures
    expect(inkFraction(page, { top: 0.08, bottom: 0.92 }), `page ${i + 1} body ink`).toBeGreaterThan(0.004);
    // header and footer are there too
    expect(inkFraction(page, { top: 0.02, bottom: 0.05 }), `page ${i + 1} header`).toBeGreaterThan(0);
    expect(inkFraction(page, { top: 0.96, bottom: 0.99 }), `page ${i + 1} footer`).toBeGreaterThan(0);
  });
  const colour = renderPages(pdf, { dpi: 40, gray: false });
  expect(Math.max(...colour.map((p) => colourFraction(p))), 'a page with coloured dose images').toBeGreaterThan(0.005);
  // the embedded slice images themselves: dose colour in each, CT grey when a CT was given
  const images = embeddedImages(pdf);
  expect(images.length).toBeGreaterThanOrEqual(2);
  for (const img of images) {
    expect(img.channels).toBe(3);
    expect(colourFraction(img), 'dose colour in a slice image').toBeGreaterThan(0.02);
    if (opts.ct) expect(greyFraction(img), 'CT grey in a slice image').toBeGreaterThan(0.05);
  }
}

/** The common checks: inputs' hashes, version, warnings verbatim, LSF, back end; the PDF is in the manifest. */
function checkCommon(text: string, report: Report, out: string): void {
  const flat = squeeze(text);
  for (const i of report.provenance.inputs) expect(flat, `hash of ${i.path}`).toContain(i.sha256);
  expect(text).toContain(`sirt-dosimetry ${report.provenance.version}`);
  expect(text).toMatch(new RegExp(`Lung shunt fraction\\s+${esc((100 * report.lungShuntFraction).toFixed(2))} %`));
  expect(text).toMatch(new RegExp(`Activity in the field\\s+${esc(report.activityInFieldGBq.toFixed(4))} GBq`));
  expect(text).toContain(`Warnings (${report.warnings.length})`);
  for (const w of report.warnings) expect(flat, w.slice(0, 60)).toContain(squeeze(w));
  const reportJsonSha = createHash('sha256').update(readFileSync(join(out, 'report.json'))).digest('hex');
  expect(text).toContain(reportJsonSha);
  const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8'));
  const entry = JSON.stringify(manifest).includes('report.pdf');
  expect(entry, 'report.pdf listed in manifest.json').toBe(true);
  expect(JSON.stringify(manifest)).toContain(createHash('sha256').update(readFileSync(join(out, 'report.pdf'))).digest('hex'));
}

beforeAll(async () => {
  dir = await phantomCase();
});

describe.skipIf(missing !== undefined)('--report on the phantom', () => {
  it('plan (90Y glass, CT, vial order): the plan, the structure table, DVH, dose-on-CT images, hashes', async () => {
    const { out, report, pdf } = await runCase([
      'plan', '--device', 'glass', '--activity', P('activity_counts.nrrd'), ...phantomArgs(), '--ct', P('ct_hu.nii.gz'),
      '--calibration-time', '2025-03-10T12:00:00Z', '--treatment-time', '2025-03-13T09:00:00Z',
    ]);
    const text = pdfText(pdf);
    const plan = report.plan!;
    expect(text).toContain(`Prescribed activity: ${plan.activityGBq.toFixed(3)} GBq`);
    expect(text).toMatch(new RegExp(`Limiting constraint\\s+${esc(plan.limitingConstraint)}`));
    // targets and limits at the prescribed activity
    expect(text).toMatch(/tumour \(coldest lesion\)\s+>= 205\.0/);
    expect(text).toMatch(/whole normal liver\s+< 75\.0/);
    expect(text).toMatch(/lung \(CF A LSF \/ M lung\)\s+< 30\.0/);
    // the vial order
    const cal = plan.calibration!;
    expect(text).toMatch(new RegExp(`Calibration activity \\[GBq\\]\\s+${esc(cal.calibrationActivityGBq.toFixed(3))}`));
    expect(text).toMatch(new RegExp(`Decay factor\\s+${esc(cal.decayFactor.toFixed(4))}`));
    expect(text).toContain(cal.calibrationTime);
    expect(text).toContain(cal.treatmentTime);
    // methods side by side: each applicable method's activity
    expect(text).toMatch(/partition \*\s+\d+\.\d{3}/);
    const { flags } = checkStructureRows(text, report);
    expect(flags.filter((f) => f !== '-').length).toBeGreaterThanOrEqual(3); // tumours, lung, normal liver judged
    checkCommon(text, report, out);
    // the DVH legend names every structure with its mean
    for (const s of report.structures) expect(squeeze(text)).toContain(squeeze(`${s.name} (${f1(s.meanGy)} Gy)`));
    // an image pair per tumour, through its centre of mass
    expect(text).toMatch(/Tumor A: mean \d+\.\d Gy; centre of mass/);
    expect(text).toMatch(/Tumor B: mean \d+\.\d Gy; centre of mass/);
    expect(text).toContain('window W 400 / L 40 HU');
    expect(embeddedImages(pdf)).toHaveLength(4);
    // patient line in every footer (no DICOM: identified by the activity image's hash)
    const n = pdfPageCount(pdf);
    for (let p = 1; p <= n; p++) {
      const t = pdfText(pdf, { first: p, last: p });
      expect(t).toContain(`page ${p} of ${n}`);
      expect(t).toContain(`activity image SHA-256 ${report.provenance.inputs[0].sha256.slice(0, 16)}`);
    }
    checkRendering(pdf, { ct: true });
  });

  it('dose (counts scaled to 4 GBq, no CT): flags under the target and over the limit against the 90Y glass presets', async () => {
    const { out, report, pdf } = await runCase([
      'dose', '--activity', P('activity_counts.nrrd'), '--activity-unit', 'counts', '--administered-gbq', '4', ...phantomArgs(),
      '--isotope', 'Y90', '--method', 'ldm',
    ]);
    const text = pdfText(pdf);
    const { flags } = checkStructureRows(text, report);
    expect(flags).toContain('OVER LIMIT'); // the normal liver at 4 GBq
    checkCommon(text, report, out);
    expect(text).toContain('No CT was given: the dose alone');
    expect(text).toContain('EANM 2022 presets of 90Y glass microspheres (HCC), for reference only');
    checkRendering(pdf, { ct: false });
  });

  it('dose with a tumour under its target', async () => {
    const { report, pdf } = await runCase([
      'dose', '--activity', P('activity_bqml.nii.gz'), '--activity-unit', 'bq-per-ml', '--scan-delay-h', '0', ...phantomArgs(),
      '--isotope', 'Y90', '--method', 'ldm',
    ]);
    const { flags } = checkStructureRows(pdfText(pdf), report);
    expect(flags).toContain('UNDER TARGET'); // Tumor B, 165.6 Gy < 205 Gy
  });

  it('plan (resin, LSF 25 %): CONTRAINDICATED first on page 1, in bold red, and every warning verbatim', async () => {
    const { out, report, pdf, stderr } = await runCase([
      'plan', '--device', 'resin', '--bsa-m2', '1.9', '--lung-shunt-fraction', '0.25', '--activity', P('activity_counts.nrrd'), ...phantomArgs(),
    ]);
    expect(report.plan!.contraindications.length).toBeGreaterThan(0);
    expect(report.warnings.length).toBeGreaterThan(0);
    expect(stderr).toContain('warning: ');
    const p1 = pdfText(pdf, { first: 1, last: 1 });
    const at = p1.indexOf('CONTRAINDICATED:');
    expect(at).toBeGreaterThan(-1);
    expect(at).toBeLessThan(p1.indexOf('Patient, study and computation'));
    for (const c of report.plan!.contraindications) expect(squeeze(p1)).toContain(squeeze(c));
    checkCommon(pdfText(pdf), report, out);
    // the contraindication is drawn in red: some red pixels on page 1
    const page1 = renderPages(pdf, { dpi: 40, gray: false })[0];
    let red = 0;
    for (let q = 0; q < page1.data.length; q += 3) if (page1.data[q] > 150 && page1.data[q + 1] < 80 && page1.data[q + 2] < 80) red++;
    expect(red).toBeGreaterThan(50);
  });
});

/**
 * Two lobes on a 24 x 12 x 16 grid of 10 mm voxels (index boxes [i0, i1) x [j0, j1) x [k0, k1)): Liver i 2..22,
 * Left i 2..12, Right i 12..22 (j 2..10, k 2..10), a lesion in each (scout counts 4x and 3x the normal liver's 10),
 * Lungs above (0.5 counts per voxel). Written here so that the test depends on the contract's territories file only.
 */
function writeTwoLobes(dir: string): { scout: string; seg: string; territories: string } {
  const dims = [24, 12, 16] as const;
  const geometry: Geometry = { dims: [...dims], spacingMm: [10, 10, 10], originLpsMm: [0, 0, 0], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] };
  type Box = readonly [number, number, number, number, number, number];
  const boxes: Array<[string, Box]> = [
    ['Liver', [2, 22, 2, 10, 2, 10]], ['Left', [2, 12, 2, 10, 2, 10]], ['Right', [12, 22, 2, 10, 2, 10]],
    ['Lungs', [2, 22, 2, 10, 11, 15]], ['Tumor A', [4, 8, 4, 8, 4, 8]], ['Tumor B', [15, 19, 4, 8, 4, 7]],
  ];
  const inside = (b: Box, i: number, j: number, k: number) => i >= b[0] && i < b[1] && j >= b[2] && j < b[3] && k >= b[4] && k < b[5];
  const box = (n: string) => boxes.find(([m]) => m === n)![1];
  const counts = new Float32Array(dims[0] * dims[1] * dims[2]);
  const masks = boxes.map(([name]) => ({ name, origin: 'test', geometry, occupancy: new Uint8Array(counts.length) }));
  for (let k = 0; k < dims[2]; k++) for (let j = 0; j < dims[1]; j++) for (let i = 0; i < dims[0]; i++) {
    const v = i + dims[0] * (j + dims[1] * k);
    if (inside(box('Liver'), i, j, k)) counts[v] = inside(box('Tumor A'), i, j, k) ? 40 : inside(box('Tumor B'), i, j, k) ? 30 : 10;
    if (inside(box('Lungs'), i, j, k)) counts[v] = 0.5;
    boxes.forEach(([, b], n) => { if (inside(b, i, j, k)) masks[n].occupancy[v] = 255; });
  }
  const scout = join(dir, 'scout.nrrd'), seg = join(dir, 'lobes.seg.nrrd'), territories = join(dir, 'territories.json');
  writeFileSync(scout, encodeNrrd({ geometry, data: counts }));
  writeFileSync(seg, encodeSegNrrd(masks));
  writeFileSync(territories, JSON.stringify({ territories: [{ name: 'Left lobe', perfused: 'Left', device: 'glass' }, { name: 'Right lobe', perfused: 'Right', device: 'glass' }] }));
  return { scout, seg, territories };
}

describe.skipIf(missing !== undefined)('--report with plan --territories', () => {
  it('a table per territory: its activity, limiting constraints and structures (Gy/GBq and Gy at its activity), its vial, the limits at the delivered activities', async () => {
    const f = writeTwoLobes(tempDir('lobes'));
    const { out, report, pdf } = await runCase([
      'plan', '--territories', f.territories, '--activity', f.scout, '--segmentation', f.seg, '--liver', 'Liver', '--tumor', 'Tumor A', '--tumor', 'Tumor B',
      '--lung', 'Lungs', '--lung-mass-g', '1000', '--backend', 'cpu', '--quiet', '--treatment-time', '2025-03-12T11:00:00-04:00', '--residual-fraction', '0.02',
    ]);
    const territories = (report.plan as unknown as { territories: Array<{ name: string; activityGBq: number; limitingConstraints: unknown[]; structures: Array<{ name: string; meanGyPerGBq: number }> }> }).territories;
    expect(territories.map((t) => t.name)).toEqual(['Left lobe', 'Right lobe']);
    const text = pdfText(pdf);
    expect(text).toContain(`Territories (${territories.length})`);
    for (const t of territories) {
      expect(text).toMatch(new RegExp(`${esc(t.name)}: ${esc(t.activityGBq.toFixed(3))} GBq`));
      expect(t.structures.length).toBeGreaterThan(0);
      for (const s of t.structures) {
        // Gy per GBq to 2 decimals, and the dose at the territory's activity to 1 (the stated rounding of doses)
        expect(text, `${t.name} / ${s.name}`).toMatch(new RegExp(`^\\s*${esc(s.name)}\\s+${esc(s.meanGyPerGBq.toFixed(2))}\\s+${esc(f1(s.meanGyPerGBq * t.activityGBq))}\\s*$`, 'm'));
      }
    }
    // each territory's vial order (plan.territories[].order) under "Vial order", as plan's own order is shown
    const plan = report.plan as unknown as {
      territories: Array<{ name: string; order: { deliveredActivityGBq: number; spheresImplanted: number; activityAtTreatmentGBq: number; maxAllowedActivityGBq: number } }>;
      delivered: { withinLimits: boolean; constraints: Array<{ id: string; basis: string; valueGy: number; broken: boolean }> };
    };
    const vialPart = text.slice(text.indexOf('Vial order'));
    expect(vialPart).not.toBe(text);
    for (const t of plan.territories) {
      const from = vialPart.indexOf(`Territory ${t.name}: order`);
      expect(from, `order of ${t.name}`).toBeGreaterThan(-1);
      const part = vialPart.slice(from);
      expect(part).toMatch(new RegExp(`Delivered activity \\[GBq\\]\\s+${esc(t.order.deliveredActivityGBq.toFixed(3))}`));
      expect(part).toMatch(new RegExp(`Spheres implanted\\s+${t.order.spheresImplanted}`));
      expect(part).toMatch(new RegExp(`Max allowed activity \\[GBq\\]\\s+${esc(t.order.maxAllowedActivityGBq.toFixed(3))}`));
    }
    // the limits at the delivered activities of both territories: the whole normal liver broken (81.0 Gy > 75 Gy)
    expect(plan.delivered.withinLimits).toBe(false);
    expect(text).toContain('At the delivered activities of all territories together: a limit BROKEN');
    const wn = plan.delivered.constraints.find((c) => c.id === 'whole-normal-liver' && c.basis === 'voxel')!;
    expect(wn.broken).toBe(true);
    expect(text).toMatch(new RegExp(`whole-normal-liver \\(voxel\\)\\s+whole-normal-liver\\s+Normal liver\\s+voxel\\s+75\\.0\\s+${esc(f1(wn.valueGy))}`));
    checkStructureRows(text, report);
    checkCommon(text, report, out);
    checkRendering(pdf, { ct: false });
  });
});

describe('no --report, or an error: no PDF', () => {
  it('without --report the set has no report.pdf', async () => {
    const out = tempDir('no-report');
    const r = await runCli(['dose', '--activity', P('activity_bqml.nii.gz'), '--activity-unit', 'bq-per-ml', '--scan-delay-h', '0', ...phantomArgs(), '--isotope', 'Y90', '--method', 'ldm', '--out', out]);
    expect(r.code).toBe(0);
    expect(existsSync(join(out, 'report.json'))).toBe(true);
    expect(readdirSync(out)).not.toContain('report.pdf');
    expect(readFileSync(join(out, 'manifest.json'), 'utf8')).not.toContain('report.pdf');
  });

  it.each([
    ['plan: prior lung dose uses up the cumulative limit (PlanError after the scout case)', ['plan', '--device', 'glass', '--activity', 'activity_counts.nrrd', '--prior-lung-gy', '60'], /cumulative lung limit/],
    ['dose: a tumour name the segmentation does not hold (after reading the inputs)', ['dose', '--activity', 'activity_bqml.nii.gz', '--activity-unit', 'bq-per-ml', '--scan-delay-h', '0', '--isotope', 'Y90', '--method', 'ldm', '--tumor', 'Tumor Z'], /Tumor Z/],
  ])('%s: one line on stderr, nothing written', async (_, args, msg) => {
    const out = join(tempDir('report-error'), 'case');
    const argv = args.map((a) => (a.endsWith('.nrrd') || a.endsWith('.nii.gz') ? P(a) : a));
    const r = await runCli([...argv, ...phantomArgs(), '--report', '--out', out]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(msg);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(existsSync(out)).toBe(false);
  });
});

describe.skipIf(missing !== undefined)('--report on the real DICOM study', () => {
  it('patient ID and Study Instance UID of the CT (read with pydicom) in the report and every footer', async (ctx) => {
    const study = sharedData('dicom-maa-study');
    if (!study) return ctx.skip();
    const ctFile = readdirSync(join(study, 'CT')).sort()[0];
    const py = spawnSync('/usr/bin/python3', ['-c', 'import sys, pydicom; d = pydicom.dcmread(sys.argv[1], stop_before_pixels=True); print(d.PatientID); print(d.StudyInstanceUID)', join(study, 'CT', ctFile)], { encoding: 'utf8' });
    if (py.error || py.status !== 0) {
      console.warn('skipping the DICOM report test: pydicom is not installed for /usr/bin/python3 (apt-get install python3-pydicom)');
      return ctx.skip();
    }
    const [patientId, studyUid] = py.stdout.trim().split('\n');
    const { out, report, pdf } = await runCase([
      'dose', '--activity', study, '--ct', study, '--activity-unit', 'counts', '--administered-gbq', '2', '--segmentation', join(study, 'RTSTRUCT'),
      '--liver', 'Lung', '--tumor', 'Tumor', '--isotope', 'Y90', '--method', 'ldm', '--backend', 'cpu', '--quiet',
    ]);
    const text = pdfText(pdf);
    expect(text).toMatch(new RegExp(`Patient ID\\s+${esc(patientId)}`));
    expect(text).toMatch(new RegExp(`Study Instance UID\\s+${esc(studyUid)}`));
    const n = pdfPageCount(pdf);
    for (let p = 1; p <= n; p++) expect(pdfText(pdf, { first: p, last: p })).toContain(`Patient ID ${patientId}`);
    checkStructureRows(text, report);
    checkCommon(text, report, out);
    checkRendering(pdf, { ct: true });
  });
});
