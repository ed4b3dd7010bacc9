import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { voxelKernel } from '../../src/kernel/index.ts';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
const cacheDir = mkdtempSync(join(tmpdir(), 'kernel-cli-'));
afterAll(() => rmSync(cacheDir, { recursive: true, force: true }));

function cli(args: string[]) {
  return spawnSync('node', ['--import', 'tsx', 'packages/dosimetry-core/src/cli/main.ts', 'kernel', ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, DOSIMETRY_CACHE_DIR: cacheDir },
  });
}

describe('dosimetry kernel (CLI contract)', () => {
  it('--json prints the kernel in mGy/(MBq*s), x-fastest, centre = source; progress only on stderr', async () => {
    const r = cli(['--json', '--isotope', 'Y90', '--voxel-mm', '3,3,4', '--radius', '2']);
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { unit: string; radius: number[]; values: number[] };
    expect(out.unit).toBe('mGy/(MBq*s)');
    expect(out.radius).toEqual([2, 2, 2]);
    expect(out.values).toHaveLength(125);
    const k = await voxelKernel({ isotope: 'Y90', voxelMm: [3, 3, 4], radius: [2, 2, 2], cacheDir: null });
    // 1 Gy/(Bq s) = 1e9 mGy/(MBq s); printed with 7 significant digits
    for (let n = 0; n < 125; n++) expect(Math.abs(out.values[n] - k.values[n] * 1e9)).toBeLessThanOrEqual(1e-6 * k.values[n] * 1e9);
    expect(out.values[62]).toBe(Math.max(...out.values));
  });

  it('prints a summary without --json and fails with one line for a bad option', () => {
    const r = cli(['--isotope', 'Ho166', '--voxel-mm', '4.42']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/S\(0,0,0\)/);
    expect(r.stdout).toMatch(/energy check/);
    const bad = cli(['--json', '--isotope', 'I131', '--voxel-mm', '4']);
    expect(bad.status).not.toBe(0);
    expect(bad.stdout).toBe('');
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    const badVoxel = cli(['--json', '--isotope', 'Y90', '--voxel-mm', '4,4']);
    expect(badVoxel.status).not.toBe(0);
    expect(badVoxel.stderr).toMatch(/voxel-mm/);
  });
});
