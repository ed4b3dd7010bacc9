/**
 * Browser checks of the viewer's compare mode, for each back end: node test/browser/run-compare.mjs
 * [--backend webgpu|cpu]. Builds the compare case (compare-case.ts, through tsx), starts `pnpm viewer COMPARE_DIR
 * --compare PLANNED ACHIEVED` and runs compare.spec.mjs; then checks that a single case still opens as before (no
 * compare view) and that a compare folder naming case folders it does not vouch for is refused. Prints
 * 'N passed, N failed'; exit 1 on any failure; skips with a printed reason without Chromium.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CHROMIUM, REPO_ROOT, guardedPage, launchBrowser, openViewer, startViewer, checkRecorder } from './harness.mjs';
import { compareChecks } from './compare.spec.mjs';

if (!existsSync(CHROMIUM)) {
  console.log(`skipping the compare-mode checks: ${CHROMIUM} is absent`);
  console.log('0 passed, 0 failed');
  process.exit(0);
}
const backends = process.argv.includes('--backend') ? [process.argv[process.argv.indexOf('--backend') + 1]] : ['webgpu', 'cpu'];
const { check, fail, exit } = checkRecorder();

const work = mkdtempSync(join(tmpdir(), 'sirt-compare-'));
const shots = join(REPO_ROOT, 'test-results');
mkdirSync(shots, { recursive: true });
let browser;
try {
  console.log('compare mode (two cases side by side)');
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--import', './scripts/wgsl-loader.mjs', 'test/browser/compare-case.ts', '--out', work], { cwd: REPO_ROOT, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`compare case failed (exit ${r.status}): ${(r.stderr || '').trim().split('\n').slice(-3).join(' ')}`);
  const cc = JSON.parse(readFileSync(join(work, 'compare-case.json'), 'utf8'));
  console.log(`  (dose_difference.nii.gz written by ${cc.differenceWrittenBy})`);
  browser = await launchBrowser();
  const server = await startViewer(cc.compareDir, ['--compare', cc.plannedDir, cc.achievedDir]);
  try {
    for (const backend of backends) {
      const g = await guardedPage(browser, server.url, { width: 1700, height: 1100 });
      try {
        await openViewer(g.page, server.url, `?backend=${backend}`);
      } catch (err) {
        await check(`compare case opens (${backend})`, async () => { throw err; });
        await g.context.close();
        continue;
      }
      const ctx = { ...g, backend, url: server.url, cc, shot: (name) => g.page.screenshot({ path: join(shots, `viewer-${backend}-${name}.png`) }) };
      await check(`back end is ${backend} on the compare case`, async () => {
        const shown = (await g.page.locator('[data-testid="backend"]').innerText()).trim();
        if (shown !== backend) throw new Error(`drawn on ${shown}`);
      });
      for (const [name, fn] of compareChecks) await check(`${name} (${backend})`, () => fn(ctx));
      // measured, not checked: first frame after navigation and a redraw of both sides (six views, overlay on one)
      const ms = await g.page.evaluate(async () => {
        const t = [];
        for (let i = 0; i < 5; i++) t.push(await window.__viewer.renderNow());
        return { first: window.__viewer.firstImageMs, redraw: t.sort((a, b) => a - b)[2] };
      });
      console.log(`  (${backend}: first frame ${ms.first.toFixed(0)} ms after navigation, redraw of both sides ${ms.redraw.toFixed(1)} ms median of 5)`);
      await check(`no page errors on the compare case (${backend})`, async () => {
        if (g.consoleErrors.length || g.foreign.length) throw new Error(`errors ${JSON.stringify(g.consoleErrors)}, foreign requests ${JSON.stringify(g.foreign)}`);
      });
      await g.context.close();
    }
  } finally {
    await server.stop();
  }
  // A single case opens as before: its three views, no compare view.
  const single = await startViewer(cc.plannedDir);
  try {
    const g = await guardedPage(browser, single.url);
    await openViewer(g.page, single.url, `?backend=${backends[0]}`);
    await check('a single case still opens as one case (three views, no compare view)', async () => {
      const n = await g.page.locator('#views [data-testid="slice-canvas"]').count();
      const cmp = await g.page.locator('[data-testid="compare-view"]').count();
      if (n !== 3 || cmp !== 0) throw new Error(`${n} views, ${cmp} compare views`);
      if (g.consoleErrors.length) throw new Error(JSON.stringify(g.consoleErrors));
    });
    await g.context.close();
  } finally {
    await single.stop();
  }
  // The compare folder alone names case folders outside it with no sha256 recorded (or compare records one: then it opens).
  await check('a compare folder naming case folders it does not vouch for is refused, or opens when their sha256 matches', async () => {
    const compareJson = JSON.parse(readFileSync(join(cc.compareDir, 'compare.json'), 'utf8'));
    const vouched = ['planned', 'achieved'].every((s) => typeof compareJson[s]?.reportSha256 === 'string' || typeof compareJson[s]?.sha256 === 'string');
    try {
      const s = await startViewer(cc.compareDir);
      await s.stop();
      if (!vouched) throw new Error('the viewer started although compare.json records no sha256 of the case folders');
    } catch (err) {
      if (vouched || !/outside the compare folder/.test(err.message)) throw err;
    }
  });
} catch (err) {
  fail('setup', err);
} finally {
  await browser?.close();
  rmSync(work, { recursive: true, force: true });
}
exit();
