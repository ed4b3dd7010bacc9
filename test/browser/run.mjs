/**
 * Runs the viewer's browser tests: server checks over HTTP, then viewer.spec.mjs on the demo case for each back end
 * (webgpu on the software adapter, cpu). Screenshots go to test-results/. Prints 'N passed, N failed'; exit code 1
 * on any failure. Usage: node test/browser/run.mjs [--backend webgpu|cpu]
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeDemoCase } from './fixtures.mjs';
import { REPO_ROOT, guardedPage, launchBrowser, openViewer, startViewer, checkRecorder } from './harness.mjs';
import { checks, cohortFigureChecks, dropChecks } from './viewer.spec.mjs';
import { runTerritorySection } from './territory-section.mjs';

const only = process.argv.includes('--backend') ? [process.argv[process.argv.indexOf('--backend') + 1]] : ['webgpu', 'cpu'];
const { check, fail, exit } = checkRecorder();

function get(url, method = 'GET') {
  return new Promise((ok, fail) => {
    const req = request(url, { method }, (res) => {
      res.resume();
      res.on('end', () => ok(res.statusCode));
    });
    req.on('error', fail);
    req.end();
  });
}

const work = mkdtempSync(join(tmpdir(), 'sirt-viewer-'));
const shots = join(REPO_ROOT, 'test-results');
mkdirSync(shots, { recursive: true });
const demo = makeDemoCase(work);
let server;
let browser;
try {
  server = await startViewer(demo.caseDir);
  const url = server.url;
  console.log(`viewer at ${url}`);

  console.log('server');
  await check('prints one URL on 127.0.0.1', async () => assert.match(server.stdout(), /^http:\/\/127\.0\.0\.1:\d+\/\n$/));
  await check('serves the case folder files', async () => {
    assert.equal(await get(url + 'files/report.json'), 200);
    assert.equal(await get(url + 'files/dose.nii.gz'), 200);
  });
  await check('refuses paths outside the case folder', async () => {
    for (const p of ['files/..%2f..%2fetc%2fpasswd', 'files/%2e%2e/phantom/liver/ct_hu.nii.gz', 'files/..%2fphantom%2fliver%2fct_hu.nii.gz', 'files//etc/passwd']) {
      const code = await get(url + p);
      assert.ok(code === 403 || code === 404, `${p} answered ${code}`);
    }
    assert.equal(await get(url + 'files/..%2fphantom%2fliver%2fct_hu.nii.gz'), 403, 'an existing file outside is refused, not missing');
  });
  await check('serves only the inputs the report names', async () => {
    assert.equal(await get(url + 'inputs/0'), 200);
    assert.equal(await get(url + 'inputs/2'), 200, 'activity, segmentation and CT are served');
    assert.equal(await get(url + 'inputs/3'), 404);
    assert.equal(await get(url + 'inputs/-1'), 404);
  });
  await check('accepts GET only', async () => assert.equal(await get(url + 'api/case', 'POST'), 405));
  await check('--port is honoured and a bad one refused', async () => {
    const free = await new Promise((ok) => {
      const srv = createServer().listen(0, '127.0.0.1', () => {
        const { port } = srv.address();
        srv.close(() => ok(port));
      });
    });
    const probe = await startViewer(demo.caseDir, ['--port', String(free)]);
    const printed = probe.url;
    await probe.stop();
    assert.equal(printed, `http://127.0.0.1:${free}/`);
    await assert.rejects(startViewer(demo.caseDir, ['--port', 'abc']), /not a port number/);
    await assert.rejects(startViewer(join(work, 'nope')), /does not exist/);
  });

  browser = await launchBrowser();
  for (const backend of only) {
    console.log(`browser, ${backend}`);
    const g = await guardedPage(browser, url);
    try {
      await openViewer(g.page, url, `?backend=${backend}`);
    } catch (err) {
      await check(`viewer starts (${backend})`, async () => { throw err; });
      continue;
    }
    const ctx = {
      ...g,
      backend,
      url,
      report: demo.report,
      truth: demo.truth,
      demo,
      outDir: shots,
      shot: (name) => g.page.screenshot({ path: join(shots, `viewer-${backend}-${name}.png`) }),
    };
    for (const [name, fn] of [...checks, ...dropChecks]) await check(`${name} (${backend})`, () => fn(ctx));
    await check(`no request leaves 127.0.0.1 after the drops (${backend})`, async () => assert.deepEqual(g.foreign, []));
    await check(`no page errors (${backend})`, async () => assert.deepEqual(g.consoleErrors, []));
    await g.context.close();
  }

  console.log('auto back end');
  {
    // ?backend=auto (the default) never draws on a software adapter: the CPU canvas is faster there
    const g = await guardedPage(browser, url);
    await openViewer(g.page, url);
    await check('auto draws on the CPU when the only WebGPU adapter is a software renderer, and says why', async () => {
      const info = await g.page.evaluate(async () => {
        const a = await navigator.gpu?.requestAdapter();
        const i = a?.info ?? {};
        return a ? { software: a.isFallbackAdapter === true || i.isFallbackAdapter === true || /swiftshader|llvmpipe|lavapipe/i.test(`${i.vendor} ${i.device} ${i.description} ${i.architecture}`) } : { software: undefined };
      });
      const shown = (await g.page.locator('[data-testid="backend"]').innerText()).trim();
      console.log(`       auto drew on ${shown} (software adapter: ${info.software})`);
      if (info.software === true) {
        assert.equal(shown, 'cpu');
        assert.match(await g.page.locator('#warnings').innerText(), /software renderer/);
      } else if (info.software === false) assert.equal(shown, 'webgpu');
      else assert.equal(shown, 'cpu');
    });
    await g.context.close();
  }

  await runTerritorySection({ browser, dir: join(work, 'territories'), phantomDir: demo.phantomDir, backends: only, check, shots });

  console.log('cohort folder');
  const cohort = await startViewer(demo.cohortDir);
  try {
    const g = await guardedPage(browser, cohort.url);
    await openViewer(g.page, cohort.url);
    await check('a cohort folder shows its plots and tables', async () => {
      // the SVGs load asynchronously: wait for each image to be decoded before measuring it
      const plots = await g.page.locator('[data-testid="cohort-plot"]').evaluateAll(async (fs) => {
        await Promise.all(fs.map((f) => f.querySelector('img').decode().catch(() => {})));
        return fs.map((f) => ({ name: f.dataset.name, w: f.querySelector('img').naturalWidth }));
      });
      assert.deepEqual(plots.map((p) => p.name), ['groups.svg', 'roc.svg']);
      for (const p of plots) assert.ok(p.w > 100, `${p.name} is drawn (${p.w} px wide)`);
      const tables = await g.page.locator('[data-testid="cohort-table"]').evaluateAll((ts) => ts.map((t) => ({ name: t.dataset.name, rows: Number(t.dataset.rows), cells: t.querySelectorAll('tbody tr').length })));
      const lesionRows = readFileSync(join(demo.cohortDir, 'lesions.csv'), 'utf8').trim().split('\n').length - 1;
      assert.deepEqual(tables.map((t) => t.name), ['lesions.csv', 'patients.csv']);
      assert.equal(tables[0].rows, lesionRows, 'every lesion row');
      assert.equal(tables[0].cells, lesionRows);
      assert.deepEqual(g.foreign, [], 'no request leaves 127.0.0.1');
      await g.page.screenshot({ path: join(shots, 'viewer-cohort.png'), fullPage: true });
    });
    for (const [name, fn] of cohortFigureChecks) await check(name, () => fn({ ...g, demo, shots }));
    await g.context.close();
  } finally {
    await cohort.stop();
  }
} catch (err) {
  fail('setup', err);
} finally {
  await browser?.close();
  await server?.stop();
  rmSync(work, { recursive: true, force: true });
}
exit();
