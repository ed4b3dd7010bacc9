/**
 * The territory section of the browser tests: builds the multi-territory case (territory-case.ts, through tsx),
 * serves it and runs territories.spec.mjs for each back end. Used by run.mjs (after the demo case's checks) and by
 * run-territories.mjs (only these checks).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT, guardedPage, openViewer, startViewer } from './harness.mjs';
import { refusedMapChecks, territoryChecks } from './viewer.spec.mjs';

/** Builds the territory case under `dir` (reusing the phantom in `phantomDir` when given); returns territory.json. */
export function makeTerritoryFixture(dir, phantomDir) {
  const args = ['--import', 'tsx', '--import', './scripts/wgsl-loader.mjs', 'test/browser/territory-case.ts', '--out', dir];
  if (phantomDir) args.push('--phantom', phantomDir);
  const r = spawnSync(process.execPath, args, { cwd: REPO_ROOT, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`territory case failed (exit ${r.status}): ${(r.stderr || '').trim().split('\n').slice(-3).join(' ')}`);
  return JSON.parse(readFileSync(join(dir, 'territory.json'), 'utf8'));
}

/**
 * Runs the territory checks. `check(name, fn)` records one result (run.mjs's); `backends` e.g. ['webgpu', 'cpu'].
 */
export async function runTerritorySection({ browser, dir, phantomDir, backends, check, shots }) {
  console.log('territories (multi-territory plan)');
  let tc;
  try {
    tc = makeTerritoryFixture(dir, phantomDir);
  } catch (err) {
    await check('territory case is built', async () => { throw err; });
    return;
  }
  const report = JSON.parse(readFileSync(join(tc.caseDir, 'report.json'), 'utf8'));
  const server = await startViewer(tc.caseDir);
  try {
    for (const backend of backends) {
      const g = await guardedPage(browser, server.url);
      try {
        await openViewer(g.page, server.url, `?backend=${backend}`);
      } catch (err) {
        await check(`territory case opens (${backend})`, async () => { throw err; });
        await g.context.close();
        continue;
      }
      const ctx = { ...g, backend, url: server.url, tc, report, shot: (name) => g.page.screenshot({ path: join(shots, `viewer-${backend}-${name}.png`) }) };
      await check(`back end is ${backend} on the territory case`, async () => {
        const shown = (await g.page.locator('[data-testid="backend"]').innerText()).trim();
        if (shown !== backend) throw new Error(`drawn on ${shown}`);
      });
      for (const [name, fn] of territoryChecks) await check(`${name} (${backend})`, () => fn(ctx));
      await check(`no page errors on the territory case (${backend})`, async () => {
        if (g.consoleErrors.length || g.foreign.length) throw new Error(`errors ${JSON.stringify(g.consoleErrors)}, foreign requests ${JSON.stringify(g.foreign)}`);
      });
      await g.context.close();
    }
  } finally {
    await server.stop();
  }
  // A refused map (outside the case folder): once, on the first back end.
  const refused = await startViewer(tc.refusedCaseDir);
  try {
    const g = await guardedPage(browser, refused.url);
    await openViewer(g.page, refused.url, `?backend=${backends[0]}`);
    const ctx = { ...g, backend: backends[0], url: refused.url, tc, report };
    for (const [name, fn] of refusedMapChecks) await check(`${name} (${backends[0]})`, () => fn(ctx));
    await g.context.close();
  } finally {
    await refused.stop();
  }
}
