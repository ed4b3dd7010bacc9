/**
 * The demo case of the browser tests and the benchmark: the project's liver phantom (data/phantoms) computed by the
 * CLI's `dose` command with its CT (test/browser/demo-case.ts, run through tsx). The analytic answers come from the
 * phantom's expected.json, written by the generator independently of the engine.
 *
 * World alignment is exercised by the phantom itself: CT (2 mm), dose/activity (3.2 x 3.2 x 3.6 mm) and the
 * permuted NRRD activity variant used by the drop check all lie on different grids.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './harness.mjs';

/**
 * Builds the demo case under `dir` (phantom inputs in dir/phantom/liver, the dose folder in dir/case).
 * `ctDims` replaces the phantom's CT by one of that size over the same field of view (benchmark).
 * Returns the case folder, the phantom folder, the report and the analytic truth the tests check against.
 */
export function makeDemoCase(dir, { ctDims } = {}) {
  const args = ['--import', 'tsx', '--import', './scripts/wgsl-loader.mjs', 'test/browser/demo-case.ts', '--out', dir];
  if (ctDims) args.push('--ct-dims', ctDims.join(','));
  const r = spawnSync(process.execPath, args, { cwd: REPO_ROOT, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`demo case failed (exit ${r.status}): ${(r.stderr || '').trim().split('\n').slice(-3).join(' ')}`);
  const demo = JSON.parse(readFileSync(join(dir, 'demo.json'), 'utf8'));
  const report = JSON.parse(readFileSync(join(demo.caseDir, 'report.json'), 'utf8'));
  const region = (name) => demo.expected.regions.find((x) => x.name === name);
  const answer = (name) => demo.expected.structures.find((x) => x.name === name);
  const tumour = region('Tumor A');
  return {
    caseDir: demo.caseDir,
    phantomDir: demo.phantomDir,
    ctPath: demo.ctPath,
    activityMhaPath: demo.activityMhaPath,
    cohortDir: demo.cohortDir,
    report,
    expected: demo.expected,
    truth: {
      // Tumour A has uniform uptake and density (HU 50 -> 1.05 g/mL = the LDM default), so its analytic mean dose is
      // also the dose of every voxel inside it, its centre included.
      tumour: { name: 'Tumor A', centreLps: tumour.centreMm, radiusMm: tumour.semiAxesMm[0], doseGy: answer('Tumor A').meanGy },
      normalLiverName: 'Normal liver',
      structureNames: report.structures.map((s) => s.name),
    },
  };
}
