/**
 * The liver-lung interface phantom: LDM, DVK and Monte Carlo side by side, as physicists ask for (issue 13; Mikell et
 * al. 2015, EJNMMI Phys 2:16: against Monte Carlo, LDM and a density-scaled kernel misjudge the lung).
 *
 * A slab phantom on a PET-like grid (2.21 mm voxels): liver (50 HU, 1.05 g/mL) for k < K/2 with uniform 90Y activity,
 * lung (-700 HU, 0.30 g/mL) for k >= K/2 with a tenth of the liver's concentration (a lung shunt). Written as the user
 * would give it (activity in Bq/mL, CT in HU, a label map), each method run through the command line with --ct, and
 * the dose profile across the interface (mean over the central 30 x 30 voxels of each plane, 37.6 mm from the grid's
 * faces) drawn in one SVG, with the mean dose of the lung, of the first centimetre of lung and of the lung deeper than
 * the maximum beta range (from the interface and from the grid's faces).
 *
 * Run: pnpm interface [--out DIR] [--work DIR] [--mc-histories N] [--backend cpu|webgpu|auto] [--methods ldm,dvk,mc]
 * (--work: where the case and the dose runs go, default a folder in the system's temp folder)
 * Writes DIR/profile.svg, DIR/profile.csv and prints a Markdown table (the README's figure and table come from it).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeNifti } from '../packages/dosimetry-core/src/io/index.ts';
import { readVolume } from '../packages/dosimetry-core/src/io/read.ts';
import type { Geometry } from '../packages/dosimetry-core/src/volume/geometry.ts';

const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : dflt;
};
const outDir = resolve(arg('out', join(root, 'docs', 'interface')));
const histories = arg('mc-histories', '4000000');
const backend = arg('backend', 'auto');
const methods = arg('methods', 'ldm,dvk,mc').split(',');

const N = [64, 64, 112] as const; // i, j across; k across the interface
const VOXEL_MM = 2.21;
const K_INTERFACE = 40;
/** Voxels from the lateral and far faces within which the structures are not drawn: 17 x 2.21 mm = 37.6 mm, beyond the
 * longest 90Y beta path in lung of 0.30 g/mL (1.1 cm / 0.30 = 3.7 cm), so that nothing escaping the grid lowers them. */
const MARGIN = 17;
const LIVER_MARGIN = 5; // 11 mm: the longest 90Y beta path in liver
const LIVER_BQ_PER_ML = 1e6;
const LUNG_BQ_PER_ML = 1e5;
const LIVER_HU = 50;
const LUNG_HU = -700;

const g: Geometry = {
  dims: [...N],
  spacingMm: [VOXEL_MM, VOXEL_MM, VOXEL_MM],
  originLpsMm: [0, 0, 0],
  direction: [1, 0, 0, 0, 1, 0, 0, 0, 1],
} as unknown as Geometry;
const count = N[0] * N[1] * N[2];
const activity = new Float32Array(count);
const ct = new Float32Array(count);
const labels = new Float32Array(count);
const inside = (i: number, j: number, m: number) => i >= m && j >= m && i < N[0] - m && j < N[1] - m;
for (let k = 0; k < N[2]; k++) {
  const lung = k >= K_INTERFACE;
  for (let j = 0; j < N[1]; j++) {
    for (let i = 0; i < N[0]; i++) {
      const v = i + N[0] * (j + N[1] * k);
      activity[v] = lung ? LUNG_BQ_PER_ML : LIVER_BQ_PER_ML;
      ct[v] = lung ? LUNG_HU : LIVER_HU;
      // the structures keep away from the grid's faces (not from the interface): what they hold is the physics of the
      // interface, not of the grid's end
      if (lung) labels[v] = inside(i, j, MARGIN) && k < N[2] - MARGIN ? 2 : 0;
      else labels[v] = inside(i, j, LIVER_MARGIN) && k >= LIVER_MARGIN ? 1 : 0;
    }
  }
}
// the case and the three output folders go to a scratch folder; only the figure and its data go to --out
const work = resolve(arg('work', join(tmpdir(), 'dosimetry-interface')));
const caseDir = join(work, 'case');
mkdirSync(caseDir, { recursive: true });
mkdirSync(outDir, { recursive: true });
writeFileSync(join(caseDir, 'activity_bqml.nii.gz'), encodeNifti({ geometry: g, data: activity }, { description: '90Y at implant, Bq/mL' }));
writeFileSync(join(caseDir, 'ct_hu.nii.gz'), encodeNifti({ geometry: g, data: ct }, { description: 'CT, HU' }));
writeFileSync(join(caseDir, 'labels.nii.gz'), encodeNifti({ geometry: g, data: labels }, { description: '1 Liver, 2 Lung' }));

interface MethodRun {
  readonly method: 'ldm' | 'dvk' | 'mc';
  readonly label: string;
  readonly colour: string;
  profile: number[];
  report: { structures: Array<{ name: string; meanGy: number; meanGyRelStdErr?: number }>; mc?: Record<string, unknown>; timingsMs?: Record<string, number> };
  dose: Float32Array;
  wallS: number;
}
const runs: MethodRun[] = [];
for (const [method, label, colour] of [
  ['ldm', 'LDM (CT density)', '#1f77b4'],
  ['dvk', 'DVK (density-corrected)', '#ff7f0e'],
  ['mc', 'Monte Carlo', '#2ca02c'],
] as const) {
  if (!methods.includes(method)) continue;
  const out = join(work, method);
  const args = [
    'scripts/dosimetry.mjs', 'dose', '--activity', join(caseDir, 'activity_bqml.nii.gz'), '--activity-unit', 'bq-per-ml', '--scan-delay-h', '0',
    '--segmentation', join(caseDir, 'labels.nii.gz'), '--labels', '1=Liver,2=Lung', '--liver', 'Liver', '--lung', 'Lung',
    '--ct', join(caseDir, 'ct_hu.nii.gz'), '--isotope', 'Y90', '--method', method, '--backend', backend, '--out', out,
    ...(method === 'mc' ? ['--mc-histories', histories, '--seed', '1'] : []),
  ];
  process.stderr.write(`interface: dose --method ${method} ...\n`);
  const t0 = performance.now();
  const r = spawnSync(process.execPath, args, { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  const wallS = (performance.now() - t0) / 1000;
  if (r.status !== 0) {
    process.stderr.write(`interface: dose --method ${method} failed (exit ${r.status})\n`);
    process.exit(1);
  }
  const dose = (await readVolume(join(out, 'dose.nii.gz'))).data as Float32Array;
  const profile: number[] = [];
  for (let k = 0; k < N[2]; k++) {
    let s = 0;
    let n = 0;
    for (let j = MARGIN; j < N[1] - MARGIN; j++) {
      for (let i = MARGIN; i < N[0] - MARGIN; i++) {
        s += dose[i + N[0] * (j + N[1] * k)];
        n++;
      }
    }
    profile.push(s / n);
  }
  runs.push({ method, label, colour, profile, dose, report: JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')), wallS });
}

/** Mean dose over the central columns for planes k in [k0, k1). */
const slabMean = (d: Float32Array, k0: number, k1: number) => {
  let s = 0;
  let n = 0;
  for (let k = k0; k < k1; k++) {
    for (let j = MARGIN; j < N[1] - MARGIN; j++) {
      for (let i = MARGIN; i < N[0] - MARGIN; i++) {
        s += d[i + N[0] * (j + N[1] * k)];
        n++;
      }
    }
  }
  return s / n;
};
const firstCm = Math.round(10 / VOXEL_MM);
// the deepest 90Y beta (2.28 MeV: CSDA range 1.1 cm in water) reaches 1.1 / 0.30 = 3.7 cm into lung of 0.30 g/mL
const deepFrom = K_INTERFACE + Math.ceil(37 / VOXEL_MM) + 1;
const z = (k: number) => (k + 0.5 - K_INTERFACE) * VOXEL_MM;

const csv = ['z_mm,' + runs.map((r) => `${r.method}_gy`).join(',')];
for (let k = 0; k < N[2]; k++) csv.push([z(k).toFixed(3), ...runs.map((r) => r.profile[k].toPrecision(6))].join(','));
writeFileSync(join(outDir, 'profile.csv'), csv.join('\n') + '\n');

// --- the SVG: dose [Gy] against z [mm] (0 at the interface), log-free linear axes ---
const W = 640;
const H = 360;
const M = { l: 64, r: 16, t: 28, b: 44 };
const zMin = z(0) - VOXEL_MM / 2;
const zMax = z(N[2] - 1) + VOXEL_MM / 2;
const dMax = Math.max(...runs.flatMap((r) => r.profile)) * 1.08;
const X = (v: number) => M.l + ((v - zMin) / (zMax - zMin)) * (W - M.l - M.r);
const Y = (v: number) => H - M.b - (v / dMax) * (H - M.t - M.b);
const step = dMax > 200 ? 50 : dMax > 100 ? 20 : 10;
const parts: string[] = [
  `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif" font-size="11">`,
  `<rect width="${W}" height="${H}" fill="white"/>`,
  `<rect x="${X(0)}" y="${M.t}" width="${X(zMax) - X(0)}" height="${H - M.t - M.b}" fill="#eef4fb"/>`,
  `<text x="${X(zMin) + 6}" y="${M.t + 14}">liver 1.05 g/mL, ${LIVER_BQ_PER_ML / 1e6} MBq/mL</text>`,
  `<text x="${X(0) + 6}" y="${M.t + 14}">lung 0.30 g/mL, ${LUNG_BQ_PER_ML / 1e6} MBq/mL</text>`,
];
for (let v = 0; v <= dMax; v += step) parts.push(`<line x1="${M.l}" x2="${W - M.r}" y1="${Y(v)}" y2="${Y(v)}" stroke="#ddd"/><text x="${M.l - 6}" y="${Y(v) + 4}" text-anchor="end">${v}</text>`);
for (let v = Math.ceil(zMin / 20) * 20; v <= zMax; v += 20) parts.push(`<text x="${X(v)}" y="${H - M.b + 16}" text-anchor="middle">${v}</text>`);
parts.push(`<line x1="${M.l}" x2="${M.l}" y1="${M.t}" y2="${H - M.b}" stroke="black"/><line x1="${M.l}" x2="${W - M.r}" y1="${H - M.b}" y2="${H - M.b}" stroke="black"/>`);
parts.push(`<text x="${(M.l + W - M.r) / 2}" y="${H - 8}" text-anchor="middle">distance from the liver-lung interface [mm]</text>`);
parts.push(`<text transform="translate(16 ${(M.t + H - M.b) / 2}) rotate(-90)" text-anchor="middle">absorbed dose [Gy]</text>`);
runs.forEach((r, n) => {
  const pts = r.profile.map((d, k) => `${X(z(k)).toFixed(1)},${Y(d).toFixed(1)}`).join(' ');
  parts.push(`<polyline fill="none" stroke="${r.colour}" stroke-width="1.6" points="${pts}"/>`);
  parts.push(`<line x1="${W - M.r - 170}" x2="${W - M.r - 150}" y1="${M.t + 34 + 15 * n}" y2="${M.t + 34 + 15 * n}" stroke="${r.colour}" stroke-width="2"/><text x="${W - M.r - 145}" y="${M.t + 38 + 15 * n}">${r.label}</text>`);
});
parts.push('</svg>');
writeFileSync(join(outDir, 'profile.svg'), parts.join('\n') + '\n');

const lungOf = (r: MethodRun) => r.report.structures.find((s) => s.name === 'Lung')!;
const liverOf = (r: MethodRun) => r.report.structures.find((s) => s.name === 'Liver')!;
const rows = runs.map((r) => {
  const lung = lungOf(r);
  const err = lung.meanGyRelStdErr !== undefined ? ` ± ${(100 * lung.meanGyRelStdErr).toFixed(2)} %` : '';
  return `| ${r.label} | ${liverOf(r).meanGy.toFixed(2)} | ${lung.meanGy.toFixed(2)}${err} | ${slabMean(r.dose, K_INTERFACE, K_INTERFACE + firstCm).toFixed(2)} | ${slabMean(r.dose, deepFrom, N[2] - MARGIN).toFixed(3)} | ${r.wallS.toFixed(1)} |`;
});
const ldmDeep = LUNG_BQ_PER_ML * 1e-9 * 49.67 / (0.3e-3); // CF x A / m, A in GBq per mL, m in kg per mL
process.stdout.write(
  [
    `Liver-lung interface phantom (${N.join('x')} voxels of ${VOXEL_MM} mm; liver ${LIVER_BQ_PER_ML / 1e6} MBq/mL at 1.05 g/mL, lung ${LUNG_BQ_PER_ML / 1e6} MBq/mL at 0.30 g/mL; 90Y; MC ${histories} histories):`,
    '',
    '| method | liver mean [Gy] | lung mean [Gy] | first cm of lung [Gy] | lung beyond 3.7 cm [Gy] | wall [s] |',
    '|---|---:|---:|---:|---:|---:|',
    ...rows,
    '',
    `Deep lung, analytic LDM at 0.30 g/mL: ${ldmDeep.toFixed(3)} Gy. Profile: ${join(outDir, 'profile.svg')} (data: profile.csv).`,
  ].join('\n') + '\n',
);
