/**
 * The command line as users start it: scripts/dosimetry.mjs (what `pnpm -s dosimetry` runs), which runs the CLI from
 * an esbuild bundle rebuilt when a source is newer. Its outputs must be byte-identical to the in-process CLI's.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { phantomCase, runCli, tempDir } from './cli-harness.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const bundle = join(root, 'packages/dosimetry-core/dist/cli/main.mjs');
const launch = (argv: string[]) => spawnSync(process.execPath, ['scripts/dosimetry.mjs', ...argv], { cwd: root, encoding: 'utf8' });

let dir: string;
beforeAll(async () => {
  dir = await phantomCase();
});

describe('scripts/dosimetry.mjs (the pnpm -s dosimetry launcher)', () => {
  const args = () => ['dose', '--activity', join(dir, 'activity_bqml.nii.gz'), '--activity-unit', 'bq-per-ml', '--scan-delay-h', '0', '--segmentation', join(dir, 'segmentation.seg.nrrd'),
    '--liver', 'Liver', '--tumor', 'Tumor A', '--tumor', 'Tumor B', '--lung', 'Lungs', '--isotope', 'Y90', '--backend', 'cpu', '--quiet'];

  it('rebuilds a stale bundle, and its outputs are byte-identical to the in-process CLI for LDM and DVK', async () => {
    if (existsSync(bundle)) utimesSync(bundle, new Date(0), new Date(0)); // older than every source: must rebuild
    for (const method of ['ldm', 'dvk']) {
      const a = tempDir(`launcher-${method}`);
      const b = tempDir(`inproc-${method}`);
      const r = launch([...args(), '--method', method, '--out', a]);
      expect(r.status, r.stderr).toBe(0);
      const q = await runCli([...args(), '--method', method, '--out', b]);
      expect(q.code, q.stderr).toBe(0);
      for (const f of ['dose.nii.gz', 'report.json', 'structures.csv', 'structures.seg.nrrd']) {
        expect(Buffer.compare(readFileSync(join(a, f)), readFileSync(join(b, f))), `${method} ${f}`).toBe(0);
      }
    }
    expect(statSync(bundle).mtimeMs).toBeGreaterThan(Date.now() - 10 * 60e3);
  });

  it('prints one line and exits non-zero on bad input, writing nothing', () => {
    const out = join(tempDir('launcher-bad'), 'out');
    const r = launch([...args().map((x) => (x === 'Y90' ? 'I131' : x)), '--method', 'ldm', '--out', out]);
    expect(r.status).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr.trim()).toMatch(/^dosimetry dose: .*I131/);
    expect(existsSync(out)).toBe(false);
  });

  it('installs as a `dosimetry` command (npm i -g from the checkout) that runs from anywhere', () => {
    const prefix = tempDir('global');
    const inst = spawnSync('npm', ['install', '--global', '--prefix', prefix, '--no-audit', '--no-fund', root], { encoding: 'utf8' });
    expect(inst.status, inst.stderr).toBe(0);
    const bin = join(prefix, 'bin', 'dosimetry');
    const r = spawnSync(bin, ['kernel', '--json', '--isotope', 'Y90', '--voxel-mm', '4.42', '--radius', '1'], { cwd: prefix, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).values).toHaveLength(27);
    expect(spawnSync(bin, ['--version'], { encoding: 'utf8' }).stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('lists the commands and says which is unknown', () => {
    const r = launch(['--help']);
    expect(r.status).toBe(0);
    for (const c of ['dose', 'plan', 'compare', 'partition', 'kernel', 'cohort', 'roc', 'groups', 'logistic', 'cox', 'km']) expect(r.stdout).toMatch(new RegExp(`\\n  ${c} `));
    const u = launch(['dosee']);
    expect(u.status).toBe(2);
    expect(u.stderr).toMatch(/unknown command "dosee"/);
  });
});
