#!/usr/bin/env node
/**
 * Runs every test: typecheck, unit + GPU tests (vitest; WebGPU on the software Vulkan adapter), browser tests.
 * Under CI (CI=true) a missing WebGPU adapter fails the GPU tests instead of skipping them.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const env = { ...process.env };
const icd = join(root, '.cache', 'vulkan', 'lvp_icd.json');
if (!env.VK_ICD_FILENAMES && existsSync(icd)) env.VK_ICD_FILENAMES = icd;
if (env.CI === 'true') env.DOSIMETRY_REQUIRE_GPU = '1';

const steps = [
  ['typecheck', 'pnpm', ['-s', 'typecheck']],
  ['unit, GPU and CLI tests', 'pnpm', ['-s', 'exec', 'vitest', 'run']],
];
if (existsSync(join(root, 'test', 'browser', 'run.mjs'))) steps.push(['browser tests', 'node', ['test/browser/run.mjs']]);
// compressed DICOM dropped on the viewer (GDCM in WebAssembly in the page); skips itself without the real study
if (existsSync(join(root, 'test', 'browser', 'run-dicom-drop.mjs'))) steps.push(['browser tests: compressed DICOM drop', 'node', ['test/browser/run-dicom-drop.mjs']]);
// compare mode: two cases side by side, linked crosshair, difference overlay (CPU and WebGPU)
if (existsSync(join(root, 'test', 'browser', 'run-compare.mjs'))) steps.push(['browser tests: compare mode', 'node', ['test/browser/run-compare.mjs']]);
// Monte Carlo computed in the page from dropped files (CPU and WebGPU) against the CLI's dose --method mc
if (existsSync(join(root, 'test', 'browser', 'run-mc-drop.mjs'))) steps.push(['browser tests: Monte Carlo drop', 'node', ['test/browser/run-mc-drop.mjs']]);
if (existsSync(join(root, 'test', 'browser', 'run-mc-overlay.mjs'))) steps.push(['browser tests: Monte Carlo uncertainty overlay', 'node', ['test/browser/run-mc-overlay.mjs']]);

let failed = 0;
for (const [name, cmd, argv] of steps) {
  process.stderr.write(`\n=== ${name}\n`);
  const t0 = Date.now();
  const r = spawnSync(cmd, argv, { cwd: root, env, stdio: 'inherit' });
  const ok = r.status === 0;
  process.stderr.write(`=== ${name}: ${ok ? 'ok' : `FAILED (exit ${r.status ?? r.signal})`} in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
  if (!ok) failed++;
}
process.exit(failed ? 1 : 0);
