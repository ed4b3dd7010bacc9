/**
 * Runs only the browser checks of the Territories panel (multi-territory plans), for each back end:
 * node test/browser/run-territories.mjs [--backend webgpu|cpu]. Prints 'N passed, N failed'; exit 1 on any failure.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT, launchBrowser, checkRecorder } from './harness.mjs';
import { runTerritorySection } from './territory-section.mjs';

const backends = process.argv.includes('--backend') ? [process.argv[process.argv.indexOf('--backend') + 1]] : ['webgpu', 'cpu'];
const { check, fail, exit } = checkRecorder();

const work = mkdtempSync(join(tmpdir(), 'sirt-territories-'));
const shots = join(REPO_ROOT, 'test-results');
mkdirSync(shots, { recursive: true });
let browser;
try {
  browser = await launchBrowser();
  await runTerritorySection({ browser, dir: work, backends, check, shots });
} catch (err) {
  fail('setup', err);
} finally {
  await browser?.close();
  rmSync(work, { recursive: true, force: true });
}
exit();
