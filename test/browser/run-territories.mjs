/**
 * Runs only the browser checks of the Territories panel (multi-territory plans), for each back end:
 * node test/browser/run-territories.mjs [--backend webgpu|cpu]. Prints 'N passed, N failed'; exit 1 on any failure.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT, launchBrowser } from './harness.mjs';
import { runTerritorySection } from './territory-section.mjs';

const backends = process.argv.includes('--backend') ? [process.argv[process.argv.indexOf('--backend') + 1]] : ['webgpu', 'cpu'];
const results = [];
async function check(name, fn) {
  const t0 = Date.now();
  try {
    await fn();
    results.push(true);
    console.log(`  ok   ${name} (${Date.now() - t0} ms)`);
  } catch (err) {
    results.push(false);
    console.log(`  FAIL ${name}: ${err.message.split('\n').slice(0, 12).join(' ')}`);
  }
}

const work = mkdtempSync(join(tmpdir(), 'sirt-territories-'));
const shots = join(REPO_ROOT, 'test-results');
mkdirSync(shots, { recursive: true });
let browser;
try {
  browser = await launchBrowser();
  await runTerritorySection({ browser, dir: work, backends, check, shots });
} catch (err) {
  results.push(false);
  console.log(`  FAIL setup: ${err.message}`);
} finally {
  await browser?.close();
  rmSync(work, { recursive: true, force: true });
}
const passed = results.filter(Boolean).length;
console.log(`${passed} passed, ${results.length - passed} failed`);
process.exit(results.length - passed ? 1 : 0);
