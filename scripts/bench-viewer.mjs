/**
 * Viewer benchmark: time to first image and time per redraw (slice change, activity slider move) for a CT of
 * 512x512x300 (default) with a dose overlay, on Chromium's software WebGPU adapter (SwiftShader) and the CPU
 * canvas fallback. Usage: node scripts/bench-viewer.mjs [--ct-dims 512,512,300] [--size 512] [--repeats 10]
 * Prints one JSON object and a Markdown table. Cases: the demo case (liver phantom, `dose --ct`) and the same case
 * with its CT replaced by a 512x512x300 one. Needs /usr/bin/chromium (apt-get install -y chromium).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeDemoCase } from '../test/browser/fixtures.mjs';
import { guardedPage, launchBrowser, openViewer, startViewer } from '../test/browser/harness.mjs';

// Views of `--size` px; redraw times are medians over `--repeats` (slice steps alternate up/down; the slider moves
// through +5..+20 % of the reported activity). Time to first image: navigation start to the first drawn frame.

const arg = (name, def) => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : def);
const ctDims = arg('--ct-dims', '512,512,300').split(',').map(Number);
const sizePx = Number(arg('--size', '512'));
const repeats = Number(arg('--repeats', '10'));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function measure(caseDir, backends, { redraws }) {
  const server = await startViewer(caseDir, [], { timeoutMs: 600_000 });
  const res = {};
  try {
    for (const backend of backends) {
      const g = await guardedPage(browser, server.url, { width: 3 * sizePx + 500, height: sizePx + 600 });
      const tNav = performance.now();
      await openViewer(g.page, server.url, `?backend=${backend}&size=${sizePx}`);
      const wallFirstMs = performance.now() - tNav;
      const r = await g.page.evaluate(async ([n, redraw]) => {
        const v = window.__viewer;
        const slice = [];
        const slider = [];
        if (redraw) {
          await v.renderNow();
          for (let i = 0; i < n; i++) slice.push(await v.stepSlice('axial', i % 2 ? -1 : 1));
          const a = Number(document.querySelector('[data-testid="activity-gbq"]').value);
          for (let i = 0; i < n; i++) slider.push(await v.setActivity(a * (1 + 0.05 * ((i % 4) + 1))));
        }
        return { backend: v.backend, firstImageMs: v.firstImageMs, slice, slider };
      }, [repeats, redraws]);
      res[backend] = {
        backendInUse: r.backend,
        firstImageMs: Math.round(r.firstImageMs),
        firstImageWallMs: Math.round(wallFirstMs),
        ...(redraws ? { sliceChangeMsMedian: +median(r.slice).toFixed(1), sliderMoveMsMedian: +median(r.slider).toFixed(1) } : {}),
        foreignRequests: g.foreign.length,
        // WebGPU validation errors (e.g. a failed texture upload) make every later submit a no-op: such timings are
        // not of drawing. Check this is 0 before comparing numbers.
        pageErrors: g.consoleErrors.length,
      };
      await g.context.close();
    }
  } finally {
    await server.stop();
  }
  return res;
}

const work = mkdtempSync(join(tmpdir(), 'sirt-viewer-bench-'));
const out = { viewPx: sizePx, views: 3, repeats, demo: {}, large: { ctDims } };
let browser;
try {
  let t0 = performance.now();
  const demo = makeDemoCase(join(work, 'demo'));
  out.demo.caseBuildS = +((performance.now() - t0) / 1000).toFixed(2);
  t0 = performance.now();
  const large = makeDemoCase(join(work, 'large'), { ctDims });
  out.large.caseBuildS = +((performance.now() - t0) / 1000).toFixed(2);
  browser = await launchBrowser();
  out.demo.backends = await measure(demo.caseDir, ['webgpu', 'cpu'], { redraws: true });
  out.large.backends = await measure(large.caseDir, ['webgpu', 'cpu'], { redraws: true });
} finally {
  await browser?.close();
  rmSync(work, { recursive: true, force: true });
}
console.log(JSON.stringify(out, null, 1));
const rows = [];
for (const [name, part] of [['demo case (CT 154x136x144)', out.demo], [`CT ${ctDims.join('x')}`, out.large]]) {
  for (const [b, r] of Object.entries(part.backends)) {
    rows.push(`| ${name} | ${b} | ${r.firstImageMs} | ${r.sliceChangeMsMedian ?? '–'} | ${r.sliderMoveMsMedian ?? '–'} |`);
  }
}
console.log(['', `| case | back end | first image ms | slice change ms | slider move ms |`, '|---|---|---|---|---|', ...rows].join('\n'));
