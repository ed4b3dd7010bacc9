/**
 * Builds the demo case of the browser tests and the viewer benchmark with the project's own tools: the liver
 * phantom (data/phantoms/generate.ts) and the CLI's `dose` command (90Y LDM with the phantom's CT), exactly as
 * `pnpm demo` computes it plus `--ct`. Optionally a large CT (e.g. 512x512x300) over the same field of view,
 * sampled from the same analytic phantom, replaces the phantom's 2 mm CT (for the benchmark).
 *
 * Usage: node --import tsx --import ./scripts/wgsl-loader.mjs test/browser/demo-case.ts --out DIR
 *          [--ct-dims NX,NY,NZ] [--backend cpu|webgpu|auto]
 * Writes DIR/phantom/liver/* (inputs), DIR/case/* (the dose output folder) and DIR/demo.json:
 * { caseDir, phantomDir, ctPath, expected } where `expected` is the phantom's expected.json (analytic answers).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { generatePhantoms } from '../../data/phantoms/generate.ts';
import { ctImage } from '../../data/phantoms/phantom.ts';
import { main } from '../../packages/dosimetry-core/src/cli/main.ts';
import { writeMha } from '../../packages/dosimetry-core/src/io/mha.ts';
import { encodeNifti, readNifti } from '../../packages/dosimetry-core/src/io/nifti.ts';
import type { Geometry } from '../../packages/dosimetry-core/src/volume/geometry.ts';

/** Options of `makeDemoCase`. */
export interface DemoCaseOptions {
  /** Work folder; created when missing. */
  readonly outDir: string;
  /** Voxel counts of a replacement CT over the phantom CT's field of view (308 x 272 x 288 mm); default: none. */
  readonly ctDims?: readonly [number, number, number];
  /** Back end of the dose computation (default cpu: the tests check the viewer, not the engine's GPU path). */
  readonly backend?: 'cpu' | 'webgpu' | 'auto';
}

/** What `makeDemoCase` made. */
export interface DemoCase {
  readonly caseDir: string;
  readonly phantomDir: string;
  readonly ctPath: string;
  /** The phantom's activity as a MetaImage (written by the core's itk-wasm writer), for the drop check. */
  readonly activityMhaPath: string;
  /** A cohort folder: `cohort` tables of the demo report with a small clinical CSV, `roc` and `groups` plots. */
  readonly cohortDir: string;
  readonly expected: Record<string, unknown>;
}

/** Field of view of the phantom's own CT (generate.ts: 154 x 136 x 144 voxels of 2 mm from (-153, -135, -143) mm). */
const CT_FOV = { firstCentreLpsMm: [-153, -135, -143], extentMm: [308, 272, 288] } as const;

/** Generates the phantom and computes its dose case; returns the paths and the analytic answers. */
export async function makeDemoCase(opts: DemoCaseOptions): Promise<DemoCase> {
  const out = resolve(opts.outDir);
  mkdirSync(out, { recursive: true });
  const phantomDir = await generatePhantoms({ outDir: join(out, 'phantom'), log: () => {} });
  let ctPath = join(phantomDir, 'ct_hu.nii.gz');
  if (opts.ctDims) {
    const dims = [...opts.ctDims] as [number, number, number];
    const spacingMm = CT_FOV.extentMm.map((e, a) => e / dims[a]) as [number, number, number];
    const originLpsMm = CT_FOV.firstCentreLpsMm.map((o, a) => o - 1 + spacingMm[a] / 2) as [number, number, number];
    const grid: Geometry = { dims, spacingMm, originLpsMm, direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] };
    ctPath = join(out, `ct_${dims.join('x')}.nii`);
    writeFileSync(ctPath, encodeNifti({ geometry: grid, data: ctImage(grid) }, { gzip: false, description: 'CT, HU' }));
  }
  const caseDir = join(out, 'case');
  const code = await main([
    'dose',
    '--activity', join(phantomDir, 'activity_bqml.nii.gz'),
    '--activity-unit', 'bq-per-ml', '--scan-delay-h', '0',
    '--segmentation', join(phantomDir, 'segmentation.seg.nrrd'),
    '--liver', 'Liver', '--tumor', 'Tumor A', '--tumor', 'Tumor B', '--tumor', 'Tumor C', '--tumor', 'Tumor D', '--lung', 'Lungs',
    '--ct', ctPath,
    '--isotope', 'Y90', '--method', 'ldm', '--backend', opts.backend ?? 'cpu',
    '--out', caseDir,
  ]);
  if (code !== 0) throw new Error(`dosimetry dose exited with ${code}`);
  const expected = JSON.parse(readFileSync(join(phantomDir, 'expected.json'), 'utf8')) as Record<string, unknown>;
  const activityMhaPath = join(out, 'activity_bqml.mha');
  await writeMha(activityMhaPath, readNifti(join(phantomDir, 'activity_bqml.nii.gz')).volume);
  // Cohort: one patient, four lesions; responses chosen so that both classes and three groups exist.
  const cohortDir = join(out, 'cohort');
  const clinical = join(out, 'clinical.csv');
  writeFileSync(clinical, 'patient,lesion,response\nP1,Tumor A,CR\nP1,Tumor B,PR\nP1,Tumor C,CR\nP1,Tumor D,PD\n');
  const lesions = join(cohortDir, 'lesions.csv');
  for (const argv of [
    ['cohort', '--report', `P1=${join(caseDir, 'report.json')}`, '--clinical', clinical, '--out', cohortDir],
    ['roc', '--csv', lesions, '--dose-column', 'meanGy', '--response-column', 'response', '--positive', 'CR,PR', '--svg', join(cohortDir, 'roc.svg')],
    ['groups', '--csv', lesions, '--dose-column', 'meanGy', '--group-column', 'response', '--svg', join(cohortDir, 'groups.svg')],
  ]) {
    const c = await main(argv);
    if (c !== 0) throw new Error(`dosimetry ${argv[0]} exited with ${c}`);
  }
  const demo: DemoCase = { caseDir, phantomDir, ctPath, activityMhaPath, cohortDir, expected };
  writeFileSync(join(out, 'demo.json'), JSON.stringify(demo));
  return demo;
}

const argv = process.argv.slice(2);
const arg = (name: string) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : undefined);
if (arg('--out')) {
  // The CLI's progress lines go to stderr; keep stdout for nothing but errors of this script.
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: never[]) => process.stderr.write(chunk, ...rest)) as typeof process.stdout.write;
  const dims = arg('--ct-dims')?.split(',').map(Number) as [number, number, number] | undefined;
  makeDemoCase({ outDir: arg('--out')!, ctDims: dims, backend: arg('--backend') as DemoCaseOptions['backend'] })
    .then((d) => write(JSON.stringify({ caseDir: d.caseDir }) + '\n'))
    .catch((err: Error) => {
      process.stderr.write(`demo-case: ${err.message}\n`);
      process.exit(1);
    });
}
