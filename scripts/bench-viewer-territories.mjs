/**
 * Viewer benchmark of the Territories panel: time of one territory slider move on the demo-size multi-territory case
 * (test/browser/territory-case.ts: the liver phantom's `plan`, dose grid 96x84x80, CT 154x136x144, two territories),
 * on Chromium's software WebGPU adapter (SwiftShader) and the CPU canvas. Per back end, medians over `--repeats`:
 * the whole update with drawing (setTerritoryActivities), its numbers and dose sum alone (means, voxel DVHs of every
 * structure, sum_t A_t x map_t; on WebGPU with the GPU's sum finished) and a redraw alone.
 * Usage: node scripts/bench-viewer-territories.mjs [--size 512] [--repeats 10]. Needs /usr/bin/chromium.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { guardedPage, launchBrowser, openViewer, startViewer } from '../test/browser/harness.mjs';
import { makeTerritoryFixture } from '../test/browser/territory-section.mjs';

const arg = (name, def) => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : def);
const sizePx = Number(arg('--size', '512'));
const repeats = Number(arg('--repeats', '10'));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const work = mkdtempSync(join(tmpdir(), 'sirt-viewer-territories-bench-'));
const out = { viewPx: sizePx, views: 3, repeats, backends: {} };
let browser;
let server;
try {
  const tc = makeTerritoryFixture(work);
  server = await startViewer(tc.caseDir);
  browser = await launchBrowser();
  for (const backend of ['webgpu', 'cpu']) {
    const g = await guardedPage(browser, server.url, { width: 3 * sizePx + 500, height: sizePx + 600 });
    await openViewer(g.page, server.url, `?backend=${backend}&size=${sizePx}`);
    const planned = tc.territories.map((t) => t.plannedGBq);
    const r = await g.page.evaluate(async ([n, a]) => {
      const v = window.__viewer;
      const total = [], numbers = [], redraw = [];
      await v.setTerritoryActivities(a); // warm-up
      for (let i = 0; i < n; i++) {
        total.push(await v.setTerritoryActivities([a[0] * (1 + 0.05 * ((i % 4) + 1)), a[1]]));
        numbers.push(v.territoryUpdateMs());
      }
      for (let i = 0; i < n; i++) redraw.push(await v.renderNow());
      return { backend: v.backend, total, numbers, redraw };
    }, [repeats, planned]);
    out.backends[backend] = {
      backendInUse: r.backend,
      updateWithDrawingMsMedian: +median(r.total).toFixed(1),
      numbersAndDoseSumMsMedian: +median(r.numbers).toFixed(1),
      redrawMsMedian: +median(r.redraw).toFixed(1),
      pageErrors: g.consoleErrors.length,
    };
    await g.context.close();
  }
} finally {
  await browser?.close();
  await server?.stop();
  rmSync(work, { recursive: true, force: true });
}
console.log(JSON.stringify(out, null, 1));
console.log(['', '| case | back end | slider move ms | numbers + dose sum ms | redraw alone ms |', '|---|---|---:|---:|---:|',
  ...Object.entries(out.backends).map(([b, r]) => `| demo-size territory case (dose 96x84x80, 2 territories) | ${b} | ${r.updateWithDrawingMsMedian} | ${r.numbersAndDoseSumMsMedian} | ${r.redrawMsMedian} |`)].join('\n'));
