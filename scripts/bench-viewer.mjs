/**
 * Viewer benchmark: time to first image and time per redraw (slice change, activity slider move) for a CT of
 * 512x512x300 (default) with a dose overlay, on Chromium's software WebGPU adapter (SwiftShader) and the CPU
 * canvas fallback. Usage: node scripts/bench-viewer.mjs [--ct-dims 512,512,300] [--size 512] [--repeats 10]
 * Prints one JSON object. Needs /usr/bin/chromium (apt-get install -y chromium).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeDemoCase } from '../test/browser/fixtures.mjs';
import { guardedPage, launchBrowser, openViewer, startViewer } from '../test/browser/harness.mjs';

const arg = (name, def) => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : def);
const ctDims = arg('--ct-dims', '512,512,300').split(',').map(Number);
const sizePx = Number(arg('--size', '512'));
const repeats = Number(arg('--repeats', '10'));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const work = mkdtempSync(join(tmpdir(), 'sirt-viewer-bench-'));
const out = { ctDims, viewPx: sizePx, views: 3, repeats, backends: {} };
let server;
let browser;
try {
  let t0 = performance.now();
  const demo = makeDemoCase(work, { ctDims });
  out.caseWriteS = +((performance.now() - t0) / 1000).toFixed(2);
  t0 = performance.now();
  server = await startViewer(demo.caseDir, [], { timeoutMs: 600_000 });
  out.serverStartS = +((performance.now() - t0) / 1000).toFixed(2);
  browser = await launchBrowser();
  for (const backend of ['webgpu', 'cpu']) {
    const g = await guardedPage(browser, server.url, { width: 3 * sizePx + 500, height: sizePx + 600 });
    const tNav = performance.now();
    await openViewer(g.page, server.url, `?backend=${backend}&size=${sizePx}`);
    const wallFirstMs = performance.now() - tNav;
    const r = await g.page.evaluate(async (n) => {
      const v = window.__viewer;
      const slice = [];
      const slider = [];
      await v.renderNow();
      for (let i = 0; i < n; i++) slice.push(await v.stepSlice('axial', i % 2 ? -1 : 1));
      const a = Number(document.querySelector('[data-testid="activity-gbq"]').value);
      for (let i = 0; i < n; i++) slider.push(await v.setActivity(a * (1 + 0.05 * ((i % 4) + 1))));
      return { backend: v.backend, firstImageMs: v.firstImageMs, slice, slider };
    }, repeats);
    out.backends[backend] = {
      backendInUse: r.backend,
      firstImageMs: Math.round(r.firstImageMs),
      firstImageWallMs: Math.round(wallFirstMs),
      sliceChangeMsMedian: +median(r.slice).toFixed(1),
      sliderMoveMsMedian: +median(r.slider).toFixed(1),
      foreignRequests: g.foreign.length,
    };
    await g.context.close();
  }
} finally {
  await browser?.close();
  await server?.stop();
  rmSync(work, { recursive: true, force: true });
}
console.log(JSON.stringify(out, null, 1));
