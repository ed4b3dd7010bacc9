/**
 * The multi-territory case of the viewer's territory checks: the real `plan --territories` output on the bundled liver
 * phantom (90Y glass, scout counts, with the CT), two half-liver territories as in test/cli/plan.territories.test.ts's
 * two-lobe case: the liver (lesions included) split at the plane x = -37 mm (LPS) into "Right half" (x < -37 mm:
 * Tumours A and C) and "Left half" (Tumours B and D), each voxel of the activity grid wholly in one (masks written here
 * on that grid, from the phantom's analytic regions at the voxel centres, as its segmentation is), each fed from its
 * own catheter position on the shared scout:
 *   territories.json  [ { "Right lobe", perfused "Right half", glass }, { "Left lobe", perfused "Left half", glass } ]
 * with --treatment-time (each territory's vial order, plan.territories[].order). The planner writes the combined
 * dose.nii.gz, report.json (plan.territories[] with activityGBq, maxAllowedActivityGBq, structures[].meanGyPerGBq,
 * doseMapPerGBq; plan.constraints[] and plan.coverage[] with their coefficients per territory) and
 * DIR/territories/<slug>.dose_per_gbq.nii.gz.
 *
 * The expected answers the checks compare with are computed here from the map files as written (read back), and the
 * structure masks of structures.seg.nrrd, without the viewer's code: the dose at probe voxels and each structure's
 * V100/V205 (fraction of its voxels at or above 100/205 Gy) at several activity pairs.
 *
 * Usage: node --import tsx --import ./scripts/wgsl-loader.mjs test/browser/territory-case.ts --out DIR [--phantom DIR]
 * Writes DIR/territory-case/* and DIR/territory.json (what the checks read).
 */
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { generatePhantoms } from '../../data/phantoms/generate.ts';
import { regionAt, REGIONS } from '../../data/phantoms/phantom.ts';
import { main } from '../../packages/dosimetry-core/src/cli/main.ts';
import { readStructures } from '../../packages/dosimetry-core/src/dose/inputs.ts';
import { encodeSegNrrd, readVolume } from '../../packages/dosimetry-core/src/io/index.ts';
import { readNifti } from '../../packages/dosimetry-core/src/io/nifti.ts';
import { indexToWorld, sameGrid, worldToIndex } from '../../packages/dosimetry-core/src/volume/geometry.ts';

/** The plane that splits the liver into the two territories: x (LPS) [mm]. */
export const SPLIT_X_MM = -37;

/** Activity pairs (right, left) as factors of the planned ones, at which the expected V-values are computed. */
const CASES: Array<{ label: string; factors: [number, number] }> = [
  { label: 'planned', factors: [1, 1] },
  { label: 'left at 0', factors: [1, 0] },
  { label: 'right at 0', factors: [0, 1] },
  { label: 'right x 1.6, left x 1.6', factors: [1.6, 1.6] },
];

/** What territory.json holds. */
export interface TerritoryCase {
  readonly caseDir: string;
  /** The same case whose left-lobe map is named outside the case folder. */
  readonly refusedCaseDir: string;
  readonly territories: Array<{ name: string; plannedGBq: number; maxAllowedGBq?: number; deliveredGBq?: number; map: string }>;
  /** Probe voxels: LPS of the voxel centre, the plan's dose there and each map's value (as read from the files). */
  readonly probes: Array<{ name: string; lps: [number, number, number]; doseGy: number; mapGyPerGBq: number[] }>;
  /** Per case: activities [GBq] and the V100/V205 of every masked structure, from the maps and the masks. */
  readonly cases: Array<{ label: string; activitiesGBq: number[]; v100: Record<string, number>; v205: Record<string, number> }>;
}

export async function makeTerritoryCase(outDir: string, phantomDir?: string): Promise<TerritoryCase> {
  const out = resolve(outDir);
  mkdirSync(out, { recursive: true });
  const phantom = phantomDir ?? (await generatePhantoms({ outDir: join(out, 'phantom'), log: () => {} }));
  // The two half livers on the activity grid: a voxel is liver when the region at its centre is the liver or a lesion
  // (the phantom's "Liver" segment), right when that centre lies at x < SPLIT_X_MM.
  const ag = (await readVolume(join(phantom, 'activity_counts.nrrd'))).geometry;
  const [ax, ay, az] = ag.dims;
  const halves = [new Uint8Array(ax * ay * az), new Uint8Array(ax * ay * az)];
  const p = [0, 0, 0];
  for (let k = 0, v = 0; k < az; k++) for (let j = 0; j < ay; j++) for (let i = 0; i < ax; i++, v++) {
    indexToWorld(ag, i, j, k, p);
    const r = regionAt(p[0], p[1], p[2]);
    if (r < 0 || (REGIONS[r].role !== 'liver' && REGIONS[r].role !== 'tumor')) continue;
    halves[p[0] < SPLIT_X_MM ? 0 : 1][v] = 255;
  }
  const lobes = join(out, 'halves.seg.nrrd');
  writeFileSync(lobes, encodeSegNrrd([
    { name: 'Right half', origin: 'territory case', geometry: ag, occupancy: halves[0] },
    { name: 'Left half', origin: 'territory case', geometry: ag, occupancy: halves[1] },
  ]));
  const names = ['Right lobe', 'Left lobe'];
  const territoriesFile = join(out, 'territories.json');
  writeFileSync(territoriesFile, JSON.stringify({ territories: [
    { name: names[0], perfused: 'Right half', device: 'glass' },
    { name: names[1], perfused: 'Left half', device: 'glass' },
  ] }));
  const caseDir = join(out, 'territory-case');
  const code = await main([
    'plan', '--territories', territoriesFile,
    '--activity', join(phantom, 'activity_counts.nrrd'), '--activity-unit', 'counts',
    '--segmentation', join(phantom, 'segmentation.seg.nrrd'), '--segmentation', lobes,
    '--liver', 'Liver', '--tumor', 'Tumor A', '--tumor', 'Tumor B', '--tumor', 'Tumor C', '--tumor', 'Tumor D', '--lung', 'Lungs',
    '--ct', join(phantom, 'ct_hu.nii.gz'), '--treatment-time', '2025-03-15T12:00:00Z',
    '--backend', 'cpu', '--quiet', '--out', caseDir,
  ]);
  if (code !== 0) throw new Error(`dosimetry plan --territories exited with ${code}`);
  const report = JSON.parse(readFileSync(join(caseDir, 'report.json'), 'utf8'));
  const planTerritories = report.plan.territories as Array<{ name: string; activityGBq: number; maxAllowedActivityGBq: number | null; doseMapPerGBq: string; order: { deliveredActivityGBq: number } | null }>;
  if (planTerritories.map((t) => t.name).join() !== names.join()) throw new Error(`plan.territories: ${planTerritories.map((t) => t.name).join(', ')}`);
  const doseImg = readNifti(join(caseDir, 'dose.nii.gz')).volume;
  const g = doseImg.geometry;
  const D = doseImg.data as Float32Array;
  const n = D.length;
  const [nx, ny] = g.dims;
  const planned = planTerritories.map((t) => t.activityGBq);
  const mapPaths = planTerritories.map((t) => t.doseMapPerGBq);
  // The maps as written, read back: the expected values below come from these.
  const maps = mapPaths.map((p) => {
    const img = readNifti(join(caseDir, p)).volume;
    if (!sameGrid(img.geometry, g)) throw new Error(`${p} is not on the dose grid`);
    return img.data as Float32Array;
  });

  // Structure voxels: structures.seg.nrrd (on the dose grid), occupancy >= 128 as the viewer's masks.
  const masks = await readStructures(join(caseDir, 'structures.seg.nrrd'), {});
  const inside = new Map<string, Uint32Array>();
  for (const m of masks) {
    if (!sameGrid(m.geometry, g)) throw new Error(`structures.seg.nrrd segment ${m.name} is not on the dose grid`);
    const idx: number[] = [];
    for (let v = 0; v < n; v++) if (m.occupancy[v] >= 128) idx.push(v);
    inside.set(m.name, Uint32Array.from(idx));
  }

  // Probes: the voxels nearest to the analytic tumour centres (data/phantoms/phantom.ts).
  const expected = JSON.parse(readFileSync(join(phantom, 'expected.json'), 'utf8'));
  const probes = ['Tumor A', 'Tumor B'].map((name) => {
    const c = expected.regions.find((r: { name: string }) => r.name === name).centreMm as [number, number, number];
    const q = [0, 0, 0];
    worldToIndex(g, c[0], c[1], c[2], q);
    const [i, j, k] = q.map((x) => Math.floor(x + 0.5));
    const v = i + nx * (j + ny * k);
    const p = [0, 0, 0];
    indexToWorld(g, i, j, k, p);
    return { name, lps: p as [number, number, number], doseGy: D[v], mapGyPerGBq: maps.map((m) => m[v]) };
  });
  const cases = CASES.map(({ label, factors }) => {
    const act = planned.map((a, t) => a * factors[t]);
    const v100: Record<string, number> = {};
    const v205: Record<string, number> = {};
    for (const [name, idx] of inside) {
      let c100 = 0, c205 = 0;
      for (const v of idx) {
        const d = Math.fround(act[0] * maps[0][v] + act[1] * maps[1][v]);
        if (d >= 100) c100++;
        if (d >= 205) c205++;
      }
      v100[name] = idx.length ? c100 / idx.length : 0;
      v205[name] = idx.length ? c205 / idx.length : 0;
    }
    return { label, activitiesGBq: act, v100, v205 };
  });
  // The same case with the left lobe's map named outside its folder (the viewer refuses it).
  const refusedCaseDir = join(out, 'territory-case-refused');
  cpSync(caseDir, refusedCaseDir, { recursive: true });
  const refused = JSON.parse(readFileSync(join(refusedCaseDir, 'report.json'), 'utf8'));
  refused.plan.territories[1].doseMapPerGBq = `../territory-case/${mapPaths[1]}`;
  writeFileSync(join(refusedCaseDir, 'report.json'), JSON.stringify(refused, null, 2));

  const tc: TerritoryCase = {
    caseDir,
    refusedCaseDir,
    territories: planTerritories.map((t) => ({
      name: t.name,
      plannedGBq: t.activityGBq,
      ...(t.maxAllowedActivityGBq !== null ? { maxAllowedGBq: t.maxAllowedActivityGBq } : {}),
      ...(t.order ? { deliveredGBq: t.order.deliveredActivityGBq } : {}),
      map: join(caseDir, t.doseMapPerGBq),
    })),
    probes,
    cases,
  };
  writeFileSync(join(out, 'territory.json'), JSON.stringify(tc));
  return tc;
}

const argv = process.argv.slice(2);
const arg = (name: string) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : undefined);
if (arg('--out')) {
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: never[]) => process.stderr.write(chunk, ...rest)) as typeof process.stdout.write;
  makeTerritoryCase(arg('--out')!, arg('--phantom'))
    .then((t) => write(JSON.stringify({ caseDir: t.caseDir }) + '\n'))
    .catch((err: Error) => {
      process.stderr.write(`territory-case: ${err.message}\n`);
      process.exit(1);
    });
}
