/**
 * The compare case of the viewer's compare-mode checks, built with the project's own tools: the bundled liver phantom
 * (data/phantoms/generate.ts) and the CLI's `dose` twice (90Y glass, LDM, scout counts, with the CT):
 *   planned   activity_counts.nrrd as generated, --administered-gbq 2
 *   achieved  the same counts cropped by CROP voxels on the low side of each index axis (so the achieved case lies on
 *             another grid: other dims and origin, the same voxel centres where both exist), --administered-gbq 2.4
 * then `compare --planned --achieved --out compare`. When compare does not write dose_difference.nii.gz (yet), it is
 * written here in that format: achieved - planned [Gy] on the planned dose grid, achieved taken at the same voxel
 * centre (grid shifted by whole voxels: no interpolation); `differenceWrittenBy` says which.
 *
 * The expected answers are computed here from the dose files as written (read back) and the phantom's analytic
 * centres, without the viewer's code: the planned and achieved dose at Tumor A's centre (nearest voxel of each grid)
 * and their difference, which is also 0.2 x planned there (dose is linear in activity: 2.4 / 2 - 1).
 *
 * Usage: node --import tsx --import ./scripts/wgsl-loader.mjs test/browser/compare-case.ts --out DIR
 * Writes DIR/* and DIR/compare-case.json (what the checks read).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { generatePhantoms } from '../../data/phantoms/generate.ts';
import { REGIONS } from '../../data/phantoms/phantom.ts';
import { main } from '../../packages/dosimetry-core/src/cli/main.ts';
import { encodeNifti, readNifti, readVolume } from '../../packages/dosimetry-core/src/io/index.ts';
import { type Geometry, worldToIndex } from '../../packages/dosimetry-core/src/volume/geometry.ts';

/** Voxels cropped from the low side of each index axis of the achieved activity. */
export const CROP: readonly [number, number, number] = [3, 2, 1];
export const PLANNED_GBQ = 2;
export const ACHIEVED_GBQ = 2.4;

/** What compare-case.json holds. */
export interface CompareCase {
  readonly compareDir: string;
  readonly plannedDir: string;
  readonly achievedDir: string;
  readonly differenceWrittenBy: 'compare' | 'fixture';
  /** Tumor A's analytic centre, LPS [mm]. */
  readonly tumourLps: [number, number, number];
  readonly plannedGy: number;
  readonly achievedGy: number;
  /** achieved - planned at the tumour centre [Gy]. */
  readonly differenceGy: number;
  /** MAD of each structure in both reports: name -> [planned, achieved] [Gy]. */
  readonly mads: Record<string, [number, number]>;
}

function nearest(g: Geometry, data: ArrayLike<number>, p: readonly number[]): number {
  const q = worldToIndex(g, p[0], p[1], p[2]);
  const [i, j, k] = q.map((x) => Math.floor(x + 0.5));
  if ([i, j, k].some((x, a) => x < 0 || x >= g.dims[a])) throw new Error(`point ${p.join(',')} lies outside the grid`);
  return data[i + g.dims[0] * (j + g.dims[1] * k)];
}

async function dose(phantom: string, activity: string, gbq: number, out: string): Promise<void> {
  const code = await main([
    'dose', '--activity', activity, '--activity-unit', 'counts', '--administered-gbq', String(gbq),
    '--segmentation', join(phantom, 'segmentation.seg.nrrd'),
    '--liver', 'Liver', '--tumor', 'Tumor A', '--tumor', 'Tumor B', '--lung', 'Lungs',
    '--ct', join(phantom, 'ct_hu.nii.gz'), '--isotope', 'Y90', '--method', 'ldm', '--backend', 'cpu', '--quiet', '--out', out,
  ]);
  if (code !== 0) throw new Error(`dosimetry dose (${gbq} GBq) exited with ${code}`);
}

export async function makeCompareCase(outDir: string): Promise<CompareCase> {
  const out = resolve(outDir);
  mkdirSync(out, { recursive: true });
  const phantom = await generatePhantoms({ outDir: join(out, 'phantom'), log: () => {} });
  // The cropped counts: same voxel centres, origin moved by CROP voxels along each index axis.
  const counts = await readVolume(join(phantom, 'activity_counts.nrrd'));
  const g = counts.geometry;
  const dims = g.dims.map((n, a) => n - CROP[a]) as [number, number, number];
  const originLpsMm = [0, 1, 2].map((r) => g.originLpsMm[r] + [0, 1, 2].reduce((s, c) => s + g.direction[r + 3 * c] * g.spacingMm[c] * CROP[c], 0)) as [number, number, number];
  const cropped = new Float32Array(dims[0] * dims[1] * dims[2]);
  for (let k = 0; k < dims[2]; k++) for (let j = 0; j < dims[1]; j++) for (let i = 0; i < dims[0]; i++) {
    cropped[i + dims[0] * (j + dims[1] * k)] = counts.data[i + CROP[0] + g.dims[0] * (j + CROP[1] + g.dims[1] * (k + CROP[2]))];
  }
  const croppedPath = join(out, 'activity_counts_cropped.nii.gz');
  writeFileSync(croppedPath, encodeNifti({ geometry: { ...g, dims, originLpsMm }, data: cropped }, { description: 'counts' }));

  const plannedDir = join(out, 'planned');
  const achievedDir = join(out, 'achieved');
  const compareDir = join(out, 'compare');
  await dose(phantom, join(phantom, 'activity_counts.nrrd'), PLANNED_GBQ, plannedDir);
  await dose(phantom, croppedPath, ACHIEVED_GBQ, achievedDir);
  const code = await main(['compare', '--planned', plannedDir, '--achieved', achievedDir, '--out', compareDir]);
  if (code !== 0) throw new Error(`dosimetry compare exited with ${code}`);

  const pd = readNifti(join(plannedDir, 'dose.nii.gz')).volume;
  const ad = readNifti(join(achievedDir, 'dose.nii.gz')).volume;
  let differenceWrittenBy: CompareCase['differenceWrittenBy'] = 'compare';
  const diffPath = join(compareDir, 'dose_difference.nii.gz');
  if (!existsSync(diffPath)) {
    differenceWrittenBy = 'fixture';
    const pg = pd.geometry, ag = ad.geometry;
    const diff = new Float32Array(pd.data.length);
    for (let k = 0; k < pg.dims[2]; k++) for (let j = 0; j < pg.dims[1]; j++) for (let i = 0; i < pg.dims[0]; i++) {
      const n = i + pg.dims[0] * (j + pg.dims[1] * k);
      const [a, b, c] = [i - CROP[0], j - CROP[1], k - CROP[2]];
      const inside = a >= 0 && b >= 0 && c >= 0 && a < ag.dims[0] && b < ag.dims[1] && c < ag.dims[2];
      diff[n] = inside ? ad.data[a + ag.dims[0] * (b + ag.dims[1] * c)] - pd.data[n] : Number.NaN;
    }
    writeFileSync(diffPath, encodeNifti({ geometry: pg, data: diff }, { description: 'achieved - planned dose [Gy]' }));
  }
  const tumourLps = [...REGIONS.find((r) => r.name === 'Tumor A')!.shape.centreMm] as [number, number, number];
  const plannedGy = nearest(pd.geometry, pd.data, tumourLps);
  const achievedGy = nearest(ad.geometry, ad.data, tumourLps);
  const mads: Record<string, [number, number]> = {};
  const pr = JSON.parse(readFileSync(join(plannedDir, 'report.json'), 'utf8')) as { structures: Array<{ name: string; meanGy: number }> };
  const ar = JSON.parse(readFileSync(join(achievedDir, 'report.json'), 'utf8')) as { structures: Array<{ name: string; meanGy: number }> };
  for (const s of pr.structures) {
    const a = ar.structures.find((x) => x.name === s.name);
    if (a) mads[s.name] = [s.meanGy, a.meanGy];
  }
  const cc: CompareCase = { compareDir, plannedDir, achievedDir, differenceWrittenBy, tumourLps, plannedGy, achievedGy, differenceGy: achievedGy - plannedGy, mads };
  writeFileSync(join(out, 'compare-case.json'), JSON.stringify(cc, null, 2));
  return cc;
}

const argv = process.argv.slice(2);
if (argv.includes('--out')) {
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: never[]) => process.stderr.write(chunk, ...rest)) as typeof process.stdout.write;
  makeCompareCase(argv[argv.indexOf('--out') + 1])
    .then((c) => write(JSON.stringify({ compareDir: c.compareDir }) + '\n'))
    .catch((err: Error) => {
      process.stderr.write(`compare-case: ${err.message}\n`);
      process.exit(1);
    });
}
