/**
 * The viewer's server on multi-territory plan folders (report.json plan.territories[] with doseMapPerGBq): it loads
 * each territory's map from inside the case folder only, serves it as a volume (/api/territory/N) with the territory's
 * name and planned activity in the case JSON, and refuses, with a warning each, maps that leave the folder (`..`, an
 * absolute path, a symlink), lie on another grid, are missing, or are not files. A case without territories gets no
 * `territories` in its JSON. The case is the CLI's `plan` on the bundled phantom, with maps written here.
 */
import { mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync, cpSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeNifti, readNifti } from '../../packages/dosimetry-core/src/io/nifti.ts';
import type { Geometry } from '../../packages/dosimetry-core/src/volume/geometry.ts';
import type { CaseJson } from '../../packages/viewer/src/protocol.ts';
import { caseJson, loadCase } from '../../packages/viewer/src/server/case.ts';
import { caseFile } from '../../packages/viewer/src/server/guard.ts';
import { type ViewerServer, startViewerServer } from '../../packages/viewer/src/server/server.ts';
import { phantomCase, runCli, tempDir } from '../cli/cli-harness.ts';

function get(port: number, path: string): Promise<{ status: number; body: Buffer }> {
  return new Promise((ok, fail) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { host: `127.0.0.1:${port}` } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => ok({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
    });
    req.on('error', fail);
    req.end();
  });
}

let work: string;
let plainDir: string;
let goodDir: string;
let hostileDir: string;
let doseGeometry: Geometry;
let maps: Float32Array[];
let server: ViewerServer | undefined;

beforeAll(async () => {
  const phantom = await phantomCase();
  work = tempDir('viewer-territories');
  plainDir = join(work, 'plain');
  const r = await runCli([
    'plan', '--device', 'glass', '--activity', join(phantom, 'activity_counts.nrrd'), '--activity-unit', 'counts',
    '--segmentation', join(phantom, 'segmentation.seg.nrrd'), '--liver', 'Liver', '--tumor', 'Tumor A', '--lung', 'Lungs',
    '--backend', 'cpu', '--quiet', '--out', plainDir,
  ]);
  if (r.code !== 0) throw new Error(`plan exited ${r.code}: ${r.stderr}`);
  const dose = readNifti(join(plainDir, 'dose.nii.gz')).volume;
  doseGeometry = dose.geometry;
  const D = dose.data as Float32Array;
  const nx = doseGeometry.dims[0];
  // two territories: voxel columns i < nx / 2 and the rest, each map = D there / 1 GBq
  maps = [0, 1].map((t) => Float32Array.from(D, (d, v) => ((v % nx < nx / 2 ? 0 : 1) === t ? d : 0)));

  const withTerritories = (dir: string, territories: unknown[]) => {
    cpSync(plainDir, dir, { recursive: true });
    mkdirSync(join(dir, 'territories'), { recursive: true });
    maps.forEach((m, t) => writeFileSync(join(dir, 'territories', `t${t}.dose_per_gbq.nii.gz`), encodeNifti({ geometry: doseGeometry, data: m })));
    const report = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8'));
    report.plan.territories = territories;
    writeFileSync(join(dir, 'report.json'), JSON.stringify(report));
  };
  const t = (name: string, map: unknown, extra: Record<string, unknown> = {}) => ({
    name,
    device: 'glass',
    activityGBq: 1,
    limitingConstraints: ['Normal liver'],
    doseMapPerGBq: map,
    structures: [{ name: 'Liver', meanGyPerGBq: 12.5 }, { name: 'Broken', meanGyPerGBq: 'x' }],
    ...extra,
  });
  goodDir = join(work, 'good');
  withTerritories(goodDir, [
    t('Right', 'territories/t0.dose_per_gbq.nii.gz', { maxAllowedActivityGBq: 2.5, order: { deliveredActivityGBq: 1.25 } }),
    t('Left', './territories/sub/../t1.dose_per_gbq.nii.gz', { order: { deliveredActivityGBq: 'x' } }),
  ]);
  mkdirSync(join(goodDir, 'territories', 'sub'));

  hostileDir = join(work, 'hostile');
  const outside = join(work, 'outside.dose_per_gbq.nii.gz');
  writeFileSync(outside, encodeNifti({ geometry: doseGeometry, data: maps[0] }));
  const otherGrid: Geometry = { ...doseGeometry, dims: [4, 4, 4] };
  withTerritories(hostileDir, [
    t('Inside', 'territories/t0.dose_per_gbq.nii.gz'),
    t('Climb', '../outside.dose_per_gbq.nii.gz'),
    t('Absolute', outside),
    t('Link', 'territories/link.nii.gz'),
    t('Other grid', 'territories/small.nii.gz'),
    t('Missing', 'territories/nope.nii.gz'),
    t('Folder', 'territories'),
    t('Number', 42),
    t('No activity', 'territories/t1.dose_per_gbq.nii.gz', { activityGBq: -1 }),
    'not an object',
  ]);
  symlinkSync(outside, join(hostileDir, 'territories', 'link.nii.gz'));
  writeFileSync(join(hostileDir, 'territories', 'small.nii.gz'), encodeNifti({ geometry: otherGrid, data: new Float32Array(64) }));
});

afterAll(async () => {
  await server?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('viewer server: territories of a multi-territory plan', () => {
  it('serves each map as a volume with its territory name and planned activity', async () => {
    server = await startViewerServer({ caseDir: goodDir, port: 0, minify: false });
    const cj = JSON.parse((await get(server.port, '/api/case')).body.toString('utf8')) as CaseJson;
    expect(cj.territories?.map((x) => [x.name, x.plannedActivityGBq, x.device])).toEqual([['Right', 1, 'glass'], ['Left', 1, 'glass']]);
    expect(cj.territories?.[0].maxAllowedActivityGBq).toBe(2.5);
    expect(cj.territories?.[1].maxAllowedActivityGBq).toBeUndefined();
    // the vial's delivered activity (plan.territories[].order, plan --territories --treatment-time), when a number
    expect(cj.territories?.map((x) => x.deliveredActivityGBq)).toEqual([1.25, undefined]);
    expect(cj.territories?.[0].limitingConstraints).toEqual(['Normal liver']);
    // malformed per-structure entries are dropped, not passed on
    expect(cj.territories?.[0].structures).toEqual([{ name: 'Liver', meanGyPerGBq: 12.5 }]);
    expect(cj.warnings.filter((w) => /territor/.test(w))).toEqual([]);
    const dose = cj.volumes.find((v) => v.name === 'dose')!;
    for (let n = 0; n < 2; n++) {
      const e = cj.territories![n];
      expect(e.doseMapPerGBq?.grid).toEqual(dose.grid);
      expect(e.doseMapPerGBq?.byteLength).toBe(4 * maps[n].length);
      const r = await get(server.port, e.doseMapPerGBq!.url);
      expect(r.status).toBe(200);
      // the bytes are the map as written (float32 little-endian, x-fastest)
      expect(Buffer.compare(r.body, Buffer.from(maps[n].buffer, maps[n].byteOffset, maps[n].byteLength))).toBe(0);
    }
    for (const bad of ['/api/territory/2', '/api/territory/-1', '/api/territory/01', '/api/territory/0x0', '/api/territory/..%2f0']) {
      expect((await get(server.port, bad)).status, bad).toBe(404);
    }
  });

  it('refuses maps outside the case folder, on another grid, missing or not files, with one warning each', async () => {
    const c = await loadCase({ caseDir: hostileDir, inputRoots: [hostileDir] });
    const cj = caseJson(c);
    const byName = new Map(cj.territories!.map((x) => [x.name, x]));
    expect([...byName.keys()]).toEqual(['Inside', 'Climb', 'Absolute', 'Link', 'Other grid', 'Missing', 'Folder', 'Number', 'No activity']);
    expect(byName.get('Inside')!.doseMapPerGBq).not.toBeNull();
    expect(byName.get('No activity')!.doseMapPerGBq).not.toBeNull();
    for (const name of ['Climb', 'Absolute', 'Link', 'Other grid', 'Missing', 'Folder', 'Number']) {
      expect(byName.get(name)!.doseMapPerGBq, name).toBeNull();
    }
    const warning = (name: string) => cj.warnings.filter((w) => w.startsWith(`territory ${name}:`)).join('\n');
    expect(warning('Climb')).toMatch(/outside the case folder/);
    expect(warning('Absolute')).toMatch(/outside the case folder/);
    expect(warning('Link')).toMatch(/resolves to .*outside\.dose_per_gbq\.nii\.gz, outside the case folder/);
    expect(warning('Other grid')).toMatch(/not on the grid of dose\.nii\.gz \(map: 4 x 4 x 4 voxels/);
    expect(warning('Missing')).toMatch(/does not exist in the case folder/);
    expect(warning('Folder')).toMatch(/not a regular file/);
    expect(warning('Number')).toMatch(/not a path/);
    expect(warning('No activity')).toMatch(/no activityGBq.*starts at 0 GBq/);
    expect(byName.get('No activity')!.plannedActivityGBq).toBe(0);
    expect(cj.warnings.join('\n')).toMatch(/plan\.territories\[9\] is not an object/);
    // what is refused is not in memory to be served either
    expect(c.territories.filter((x) => x.map).map((x) => x.entry.name)).toEqual(['Inside', 'No activity']);
  });

  it('a case without territories has no territories in its JSON (the page looks as before)', async () => {
    const cj = caseJson(await loadCase({ caseDir: plainDir }));
    expect('territories' in cj).toBe(false);
    expect(cj.warnings.filter((w) => /territor/.test(w))).toEqual([]);
  });

  it('caseFile: the real path inside the case folder, else why not', () => {
    const root = hostileDir;
    expect(caseFile(root, 'territories/t0.dose_per_gbq.nii.gz')).toEqual({ realPath: join(root, 'territories', 't0.dose_per_gbq.nii.gz') });
    expect(caseFile(root, 'territories/../report.json')).toEqual({ realPath: join(root, 'report.json') });
    expect(caseFile(root, '../outside.dose_per_gbq.nii.gz')).toMatchObject({ refused: expect.stringMatching(/points outside the case folder/) });
    expect(caseFile(root, '../../etc/passwd')).toMatchObject({ refused: expect.stringMatching(/outside/) });
    expect(caseFile(root, '/etc/passwd')).toMatchObject({ refused: expect.stringMatching(/outside/) });
    expect(caseFile(root, 'territories/link.nii.gz')).toMatchObject({ refused: expect.stringMatching(/resolves to/) });
    expect(caseFile(root, '')).toMatchObject({ refused: expect.stringMatching(/not a file name/) });
    expect(caseFile(root, 'a\0b')).toMatchObject({ refused: expect.stringMatching(/not a file name/) });
  });
});
