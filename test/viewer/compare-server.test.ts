/**
 * The viewer's server in compare mode (packages/viewer/src/server/compare.ts): two case folders side by side with the
 * difference map achieved - planned. Synthetic cases whose doses are linear functions of the LPS position, on two
 * different grids (other spacing, origin and dims), so that the difference resampled trilinearly onto the planned
 * grid has an analytic answer at every voxel centre inside the achieved grid. Checks the guard (case folders named by
 * compare.json are read only when given on the command line, inside the compare folder, or when their report.json's
 * SHA-256 matches what the compare output records), the difference map from the compare folder (file) or computed,
 * the matched structures, the served bytes and the command line.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { encodeNifti } from '../../packages/dosimetry-core/src/io/nifti.ts';
import type { Geometry } from '../../packages/dosimetry-core/src/volume/geometry.ts';
import type { CompareJson } from '../../packages/viewer/src/protocol.ts';
import { type ViewerServer, startViewerServer } from '../../packages/viewer/src/server/server.ts';
import { tempDir } from '../cli/cli-harness.ts';

function get(port: number, path: string, host = `127.0.0.1:${port}`): Promise<{ status: number; body: Buffer }> {
  return new Promise((ok, fail) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { host } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => ok({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
    });
    req.on('error', fail);
    req.end();
  });
}

const PLANNED_GRID: Geometry = { dims: [10, 9, 8], spacingMm: [2, 2, 2], originLpsMm: [0, 0, 0], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] };
/** Another grid: other spacing, origin and dims; covers the planned one except its last x columns. */
const ACHIEVED_GRID: Geometry = { dims: [7, 12, 7], spacingMm: [2.5, 1.75, 3], originLpsMm: [-1.3, -0.6, -1.1], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] };
const plannedGy = (x: number, y: number, z: number) => 50 + 1.5 * x + 0.5 * y - 0.25 * z;
const achievedGy = (x: number, y: number, z: number) => 60 + 2 * x - 0.75 * y + 0.5 * z;

function fill(g: Geometry, f: (x: number, y: number, z: number) => number): Float32Array {
  const [nx, ny, nz] = g.dims;
  const out = new Float32Array(nx * ny * nz);
  for (let k = 0; k < nz; k++) for (let j = 0; j < ny; j++) for (let i = 0; i < nx; i++) {
    out[i + nx * (j + ny * k)] = f(g.originLpsMm[0] + i * g.spacingMm[0], g.originLpsMm[1] + j * g.spacingMm[1], g.originLpsMm[2] + k * g.spacingMm[2]);
  }
  return out;
}

function writeCase(dir: string, g: Geometry, f: (x: number, y: number, z: number) => number, means: Record<string, number>, gbq: number): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'dose.nii.gz'), encodeNifti({ geometry: g, data: fill(g, f) }));
  const structures = Object.entries(means).map(([name, meanGy]) => ({
    name, role: name.startsWith('Tumor') ? 'tumor' : 'liver', volumeMl: 1, meanGy, d70Gy: meanGy, v100: 0, v205: 0, dvh: { doseGy: [], volumeFraction: [] },
  }));
  writeFileSync(join(dir, 'report.json'), JSON.stringify({ schemaVersion: 1, isotope: 'Y90', method: 'ldm', backend: 'cpu', activityInFieldGBq: gbq, structures }));
}

const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

let work: string;
let plannedDir: string;
let achievedDir: string;
let server: ViewerServer | undefined;

beforeAll(() => {
  work = tempDir('viewer-compare');
  plannedDir = join(work, 'planned');
  achievedDir = join(work, 'achieved');
  writeCase(plannedDir, PLANNED_GRID, plannedGy, { Liver: 80, 'Tumor A': 200, 'Only planned': 5 }, 2);
  writeCase(achievedDir, ACHIEVED_GRID, achievedGy, { 'Tumor A': 260, Liver: 70, 'Only achieved': 3 }, 2.4);
});

afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** A compare output folder: compare.json naming the two cases (with extra fields), optionally a difference map. */
function compareFolder(name: string, extra: { planned?: Record<string, unknown>; achieved?: Record<string, unknown>; pairs?: unknown[] } = {}): string {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'compare.json'),
    JSON.stringify({
      schemaVersion: 1,
      planned: { path: plannedDir, ...extra.planned },
      achieved: { path: achievedDir, ...extra.achieved },
      pairs: extra.pairs ?? [],
      warnings: [],
    }),
  );
  return dir;
}

async function compareOf(s: ViewerServer): Promise<CompareJson> {
  const r = await get(s.port, '/api/compare');
  expect(r.status).toBe(200);
  return JSON.parse(r.body.toString('utf8')) as CompareJson;
}

describe('compare mode with --compare PLANNED ACHIEVED', () => {
  it('serves both cases, the structures in both with their means, and the difference computed on the planned grid', async () => {
    server = await startViewerServer({ compareCases: [plannedDir, achievedDir], minify: false });
    expect(server.mode).toEqual({ kind: 'compare' });
    expect((await get(server.port, '/api/mode')).body.toString()).toBe('{"kind":"compare"}');
    const cj = await compareOf(server);
    expect(cj.planned.caseName).toBe('planned');
    expect(cj.achieved.caseName).toBe('achieved');
    expect(cj.rows).toEqual([
      { name: 'Liver', role: 'liver', plannedGy: 80, achievedGy: 70, differenceGy: -10 },
      { name: 'Tumor A', role: 'tumor', plannedGy: 200, achievedGy: 260, differenceGy: 60 },
    ]);
    // the volumes of each side, byte for byte as written
    const pd = await get(server.port, cj.planned.volumes.find((v) => v.name === 'dose')!.url);
    expect(Buffer.from(pd.body).equals(Buffer.from(fill(PLANNED_GRID, plannedGy).buffer))).toBe(true);
    const ad = await get(server.port, cj.achieved.volumes.find((v) => v.name === 'dose')!.url);
    expect(new Float32Array(new Uint8Array(ad.body).buffer)).toEqual(fill(ACHIEVED_GRID, achievedGy));
    // difference: achieved - planned at the planned voxel centres, analytic (trilinear is exact for linear doses)
    expect(cj.difference?.source).toBe('computed');
    expect(cj.difference?.grid.dims).toEqual(PLANNED_GRID.dims);
    const diff = new Float32Array(new Uint8Array((await get(server.port, '/api/compare/difference')).body).buffer);
    const [nx, ny, nz] = PLANNED_GRID.dims;
    const aHi = ACHIEVED_GRID.dims.map((n, a) => ACHIEVED_GRID.originLpsMm[a] + (n - 1) * ACHIEVED_GRID.spacingMm[a]);
    let inside = 0, outside = 0;
    for (let k = 0; k < nz; k++) for (let j = 0; j < ny; j++) for (let i = 0; i < nx; i++) {
      const p = [2 * i, 2 * j, 2 * k];
      const d = diff[i + nx * (j + ny * k)];
      if (p.every((x, a) => x >= ACHIEVED_GRID.originLpsMm[a] && x <= aHi[a])) {
        expect(Math.abs(d - (achievedGy(p[0], p[1], p[2]) - plannedGy(p[0], p[1], p[2])))).toBeLessThan(1e-3);
        inside++;
      } else if (p[0] > aHi[0] + ACHIEVED_GRID.spacingMm[0] / 2) {
        expect(d).toBeNaN(); // no achieved dose there
        outside++;
      }
    }
    expect(inside).toBeGreaterThan(300);
    expect(outside).toBeGreaterThan(0);
  });

  it('refuses volume paths that are not a side and a volume; /api/case is not served; the Host guard still holds', async () => {
    server = await startViewerServer({ compareCases: [plannedDir, achievedDir], minify: false });
    for (const p of ['/api/compare/other/volume/dose', '/api/compare/planned/volume/../../x', '/api/compare/planned/volume/secret', '/api/case', '/api/volume/dose']) {
      expect((await get(server.port, p)).status, p).toBe(404);
    }
    expect((await get(server.port, '/api/compare', 'evil.example:80')).status).toBe(403);
  });
});

describe('compare mode on a compare output folder', () => {
  it('refuses case folders outside it that compare.json records no sha256 for, saying how to fix it', async () => {
    const dir = compareFolder('no-sha');
    await expect(startViewerServer({ caseDir: dir, minify: false })).rejects.toThrow(/records no sha256 of its report\.json; give it on the command line/);
  });

  it('refuses a case folder whose report.json does not hash to the recorded sha256 (another case)', async () => {
    const dir = compareFolder('wrong-sha', {
      planned: { reportSha256: sha(join(plannedDir, 'report.json')) },
      achieved: { reportSha256: sha(join(plannedDir, 'report.json')) }, // the planned one's hash: not this folder
    });
    await expect(startViewerServer({ caseDir: dir, minify: false })).rejects.toThrow(/achieved case not shown: .*is not the one the compare output records/);
  });

  it('opens case folders whose sha256 matches, the rows from compare.json pairs and dose_difference.nii.gz as written', async () => {
    const dir = compareFolder('good', {
      planned: { reportSha256: sha(join(plannedDir, 'report.json')) },
      achieved: { sha256: sha(join(achievedDir, 'report.json')).toUpperCase() },
      pairs: [{ name: 'Tumor A', role: 'tumor', predictedGy: 240, achievedGy: 260, differenceGy: 20 }, { name: 'bad', predictedGy: 'x' }],
    });
    const written = Float32Array.from({ length: 10 * 9 * 8 }, (_, n) => (n % 7) - 3);
    writeFileSync(join(dir, 'dose_difference.nii.gz'), encodeNifti({ geometry: PLANNED_GRID, data: written }));
    server = await startViewerServer({ caseDir: dir, minify: false });
    const cj = await compareOf(server);
    expect(cj.name).toBe('good');
    expect(cj.rows).toEqual([{ name: 'Tumor A', role: 'tumor', plannedGy: 240, achievedGy: 260, differenceGy: 20 }]);
    expect(cj.difference?.source).toBe('file');
    const diff = new Float32Array(new Uint8Array((await get(server.port, '/api/compare/difference')).body).buffer);
    expect(diff).toEqual(written);
  });

  it('opens case folders inside the compare folder without a sha256; a difference map linked from outside is not read', async () => {
    const dir = join(work, 'inside');
    mkdirSync(dir, { recursive: true });
    cpSync(plannedDir, join(dir, 'p'), { recursive: true });
    cpSync(achievedDir, join(dir, 'a'), { recursive: true });
    writeFileSync(join(dir, 'compare.json'), JSON.stringify({ planned: { path: 'p' }, achieved: { path: 'a' } }));
    const outside = join(work, 'outside_difference.nii.gz');
    writeFileSync(outside, encodeNifti({ geometry: PLANNED_GRID, data: new Float32Array(10 * 9 * 8).fill(1) }));
    symlinkSync(outside, join(dir, 'dose_difference.nii.gz'));
    server = await startViewerServer({ caseDir: dir, minify: false });
    const cj = await compareOf(server);
    expect(cj.difference?.source).toBe('computed');
    expect(cj.warnings.join('\n')).toMatch(/difference map not read: .*outside the case folder/);
    // rows from the reports when compare.json has no pairs
    expect(cj.rows.map((r) => r.name)).toEqual(['Liver', 'Tumor A']);
  });

  it('a folder without compare.json and without --compare is not compare mode', async () => {
    server = await startViewerServer({ caseDir: plannedDir, minify: false });
    expect(server.mode).toEqual({ kind: 'case' });
    expect((await get(server.port, '/api/compare')).status).toBe(404);
  });
});

describe('viewer command line', () => {
  const MAIN = join(__dirname, '../../packages/viewer/src/server/main.ts');
  it('--compare needs two case folders', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', MAIN, '--compare', plannedDir], { encoding: 'utf8', env: { ...process.env, INIT_CWD: work } });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/--compare needs two case folders \(planned, achieved\)/);
  });

  it('pnpm viewer --compare PLANNED ACHIEVED prints its URL and serves compare mode', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, '--compare', plannedDir, achievedDir], { env: { ...process.env, INIT_CWD: work } });
    try {
      const url = await new Promise<string>((ok, fail) => {
        let out = '';
        child.stdout.on('data', (d: Buffer) => {
          out += d;
          if (out.includes('\n')) ok(out.split('\n')[0].trim());
        });
        child.on('exit', (c) => fail(new Error(`viewer exited ${c}`)));
      });
      const port = Number(new URL(url).port);
      expect((await get(port, '/api/mode')).body.toString()).toBe('{"kind":"compare"}');
    } finally {
      child.kill('SIGTERM');
    }
  }, 60_000);
});
