/**
 * Browser checks of the viewer's Monte Carlo uncertainty overlay (packages/viewer/src/client: main.ts, render-cpu.ts,
 * render-gpu.ts + slice.wgsl): node test/browser/run-mc-overlay.mjs [--histories N] [--seed S] [--backend cpu|webgpu].
 *
 * The liver phantom of the demo case is computed by `dosimetry dose --method mc --ct ...` into a case folder (which
 * then holds dose_uncertainty.nii.gz), served by the viewer, and checked on each back end the page offers:
 * - the overlay choice "uncertainty" is offered; chosen, the legend becomes the relative standard error 0..20 %;
 * - at known voxels (the centres of the phantom's tumours, and a voxel of the normal liver), at opacity 1 with isodoses
 *   and outlines off and the colour bar's top set to 80 %, the axial pixel is the colour table entry
 *   floor(256 x min(1, 100 r / 80)) of the voxel's relative standard error r read from dose_uncertainty.nii.gz by the
 *   core's NIfTI reader (Turbo written out again here as the reference), and the dose overlay's own colour there
 *   is floor(256 D / Dmax) of dose.nii.gz, which shows the choice changes what is drawn;
 * - the read-out under the crosshair says "D Gy ± P % (MC)" with r of dose_uncertainty.nii.gz (1e-6 relative: the
 *   same float32 voxel);
 * - the drawn views match the CPU oracle (renderSliceCpu) with the uncertainty overlay, as the dose overlay must;
 * - the structure table shows each mean ± its relative standard error of report.json;
 * - the demo case (LDM, no dose_uncertainty.nii.gz) offers no uncertainty choice; the phantom dropped into that page
 *   and computed there by Monte Carlo (CPU, the same number of histories) offers it, its pixel at Tumor A's centre the colour of
 *   the page's own relative standard error there (its read-out), and the drawn views match the CPU oracle;
 * - no page errors, nothing fetched from elsewhere.
 * Prints 'N passed, N failed'; exit 1 on any failure. Screenshots go to test-results/viewer-mc-overlay-BACKEND.png.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeDemoCase } from './fixtures.mjs';
import { CHROMIUM, REPO_ROOT, caseDoseAt, checkRecorder, cliPhantomMc, guardedPage, launchBrowser, openViewer, setControl, startViewer } from './harness.mjs';
import { decodePng } from './png.mjs';
import { dropFiles, turboRef } from './viewer.spec.mjs';

const arg = (name, dflt) => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : dflt);
const HISTORIES = Number(arg('--histories', '20000'));
const SEED = Number(arg('--seed', '7'));
const BACKENDS = process.argv.includes('--backend') ? [arg('--backend')] : ['cpu', 'webgpu'];
/** Top of the uncertainty colour bar [%] (the page's default, DEFAULT_UNCERTAINTY_MAX_PERCENT). */
const UNC_MAX_PERCENT = 20;
/**
 * Colour bar top [%] set for the pixel checks (the "colour max %" field): at 2e4 histories the phantom's voxels have
 * relative standard errors of 35-60 %, all above 20 %, so the checks spread them over a bar to 80 % (distinct entries).
 */
const PIXEL_MAX_PERCENT = 80;

if (!existsSync(CHROMIUM)) {
  console.log(`skipping the Monte Carlo overlay checks: ${CHROMIUM} is absent`);
  console.log('0 passed, 0 failed');
  process.exit(0);
}

const { check, fail, exit } = checkRecorder();

/** Colour table entry of x / max at opacity 1: entry floor(256 x / max), clamped to 0..255. */
const colourOf = (x, max) => turboRef(Math.min(255, Math.floor(256 * Math.min(1, Math.max(0, x / max)))) / 255);
/** Table entries of a value within float32 rounding of an entry boundary (GPU f32 vs CPU f64): both are accepted. */
function coloursNear(x, max) {
  const e = 1e-5 * Math.max(1, x / max);
  return [colourOf(x * (1 - e), max), colourOf(x, max), colourOf(x * (1 + e), max)];
}

/** `dosimetry dose --method mc` on the phantom with its CT (CPU back end): its report.json. */
const cliMc = (demo, outDir) => cliPhantomMc(demo.phantomDir, outDir, { histories: HISTORIES, seed: SEED, ctPath: demo.ctPath }).report;



/** The axial canvas's pixel at an LPS point (the view's own mapping). */
async function axialPixelAt(page, lps) {
  const [x, y] = await page.evaluate((p) => window.__viewer.pixelOf('axial', p), lps);
  const img = decodePng(await page.locator('[data-testid="slice-canvas"][data-view="axial"]').screenshot());
  const o = 4 * (Math.floor(x) + img.width * Math.floor(y));
  return [img.rgba[o], img.rgba[o + 1], img.rgba[o + 2]];
}

/** 1 level per channel: float-to-8-bit rounding of the same table entry (GPU unorm conversion vs Math.round). */
const sameColour = (got, wants) => wants.some((w) => got.every((v, c) => Math.abs(v - w[c]) <= 1));

const work = mkdtempSync(join(tmpdir(), 'sirt-mc-overlay-'));
let browser;
const servers = [];
try {
  const demo = makeDemoCase(work);
  const mcDir = join(work, 'mc-case');
  const t0 = Date.now();
  const mcReport = cliMc(demo, mcDir);
  console.log(`CLI dose --method mc --ct --mc-histories ${HISTORIES} --seed ${SEED} --backend cpu: ${Date.now() - t0} ms`);
  // the tumour centres, and a normal-liver point 25 mm off Tumor A's centre (fewer decays: a larger relative error)
  const tumours = demo.expected.regions.filter((r) => /^Tumor/.test(r.name));
  const liverPoint = [tumours[0].centreMm[0] + 25 + tumours[0].semiAxesMm[0], tumours[0].centreMm[1], tumours[0].centreMm[2]];
  const points = [...tumours.map((r) => ({ name: r.name, lps: r.centreMm })), { name: 'normal liver', lps: liverPoint }];
  const voxels = caseDoseAt(mcDir, points.map((p) => p.lps));
  console.log(`       voxels: ${points.map((p, i) => `${p.name} ${voxels[i].doseGy.toFixed(2)} Gy ± ${(100 * voxels[i].relStdErr).toFixed(2)} %`).join('; ')}`);

  browser = await launchBrowser();
  const mcServer = await startViewer(mcDir);
  servers.push(mcServer);
  const origin = new URL(mcServer.url).origin;
  for (const backend of BACKENDS) {
    console.log(`Monte Carlo case (dose --method mc), ${backend}`);
    const g = await guardedPage(browser, origin);
    const { page } = g;
    try {
      await openViewer(page, mcServer.url, `?backend=${backend}`);
      const got = await page.evaluate(() => window.__viewer.backend);
      if (got !== backend) {
        console.log(`  skipping ${backend}: the page runs on ${got} (no such adapter in this Chromium)`);
        continue;
      }
      await check(`the uncertainty overlay is offered and has its own colour bar 0-${UNC_MAX_PERCENT} % (${backend})`, async () => {
        assert.equal(await page.locator('[data-testid="overlay-kind-box"]').isVisible(), true, 'the overlay choice is shown');
        const options = await page.locator('[data-testid="overlay-kind"] option').evaluateAll((os) => os.map((o) => o.value));
        assert.deepEqual(options, ['dose', 'uncertainty']);
        const legend = page.locator('[data-testid="legend"]');
        assert.equal(await legend.getAttribute('data-kind'), 'dose');
        await setControl(page, 'overlay-kind', 'uncertainty');
        assert.equal(await legend.getAttribute('data-kind'), 'uncertainty');
        assert.equal(Number(await legend.getAttribute('data-max-percent')), UNC_MAX_PERCENT);
        assert.match(await page.locator('#legend-ticks').innerText(), new RegExp(`${UNC_MAX_PERCENT} % \\(MC rel\\. std\\. error\\)`));
      });
      await check(`pixel colours at known voxels are the colour of dose_uncertainty.nii.gz's relative standard error; the dose overlay's differ (${backend})`, async () => {
        await setControl(page, 'opacity', 1);
        await setControl(page, 'isodose', '');
        await setControl(page, 'show-outlines', false);
        await setControl(page, 'show-crosshair', false);
        await setControl(page, 'threshold', 0);
        await setControl(page, 'unc-max', PIXEL_MAX_PERCENT);
        const maxGy = Number(await page.locator('[data-testid="legend"]').getAttribute('data-max-gy'));
        const lines = [];
        let differ = 0;
        const uncColours = [];
        for (const [i, p] of points.entries()) {
          const v = voxels[i];
          assert.ok(v.doseGy > 0 && v.relStdErr > 0, `${p.name}: dose ${v.doseGy} Gy, rel. std. error ${v.relStdErr}`);
          await page.evaluate((q) => window.__viewer.setCrosshair(q), v.centreLps);
          await setControl(page, 'overlay-kind', 'uncertainty');
          const unc = await axialPixelAt(page, v.centreLps);
          uncColours.push(unc);
          const wantUnc = coloursNear(100 * v.relStdErr, PIXEL_MAX_PERCENT);
          assert.ok(sameColour(unc, wantUnc), `${p.name}: uncertainty pixel rgb(${unc}) but ${(100 * v.relStdErr).toFixed(3)} % of ${PIXEL_MAX_PERCENT} % is rgb(${wantUnc[1]})`);
          await setControl(page, 'overlay-kind', 'dose');
          const dose = await axialPixelAt(page, v.centreLps);
          const wantDose = coloursNear(v.doseGy, maxGy);
          assert.ok(sameColour(dose, wantDose), `${p.name}: dose pixel rgb(${dose}) but ${v.doseGy.toFixed(2)} Gy of ${maxGy} Gy is rgb(${wantDose[1]})`);
          if (dose.some((x, c) => Math.abs(x - unc[c]) > 1)) differ++;
          lines.push(`${p.name} rgb(${unc}) for ${(100 * v.relStdErr).toFixed(2)} %, rgb(${dose}) for ${v.doseGy.toFixed(1)} Gy`);
        }
        assert.ok(differ >= points.length - 1, `the uncertainty and dose colours differ at ${differ} of ${points.length} voxels`);
        // the relative errors spread over the bar: at least 3 distinct colours among the 5 voxels
        assert.ok(new Set(uncColours.map(String)).size >= 3, `uncertainty colours ${uncColours.map((c) => `rgb(${c})`).join(', ')}: too few distinct`);
        console.log(`       ${lines.join('; ')}`);
        await setControl(page, 'overlay-kind', 'uncertainty');
      });
      await check(`the read-out under the crosshair shows the dose ± the voxel's relative standard error of dose_uncertainty.nii.gz (${backend})`, async () => {
        for (const [i, p] of points.entries()) {
          const v = voxels[i];
          await page.evaluate((q) => window.__viewer.setCrosshair(q), v.centreLps);
          const readout = page.locator('[data-testid="readout"]');
          const rel = Number(await readout.getAttribute('data-dose-rel-std-err'));
          const dose = Number(await readout.getAttribute('data-dose-gy'));
          // the same float32 voxels, read by the server and sent as float32: equal (1e-6 relative)
          assert.ok(Math.abs(rel / v.relStdErr - 1) <= 1e-6, `${p.name}: ${rel} shown vs ${v.relStdErr}`);
          assert.ok(Math.abs(dose / v.doseGy - 1) <= 1e-6, `${p.name}: ${dose} Gy shown vs ${v.doseGy} Gy`);
          const text = await readout.innerText();
          const want = `dose    ${v.doseGy.toFixed(2)} Gy ± ${(100 * v.relStdErr).toFixed(1)} % (MC)`;
          assert.ok(text.includes(want), `${p.name}: read-out "${text}" lacks "${want}"`);
        }
      });
      await check(`the drawn views match the CPU oracle with the uncertainty overlay (${backend})`, async () => {
        await setControl(page, 'opacity', 0.5);
        await setControl(page, 'threshold', 5);
        await setControl(page, 'isodose', '50,100');
        await setControl(page, 'show-outlines', true);
        const r = await page.evaluate(() => window.__viewer.compareWithCpu(2));
        // as the dose overlay's check (viewer.spec.mjs): 2 levels of f32 vs f64 arithmetic and 8-bit rounding, and
        // 0.5 % of pixels for centres within float32 rounding of a voxel face or of a colour table entry's edge
        assert.ok(r.fractionOver <= 0.005, `${(100 * r.fractionOver).toFixed(2)} % of ${r.pixels} pixels differ by more than 2 levels (max ${r.maxDiff})`);
        console.log(`       ${r.pixels} pixels, largest channel difference ${r.maxDiff}, ${(100 * r.fractionOver).toFixed(3)} % over 2 levels`);
      });
      await check(`the structure table shows each mean ± its relative standard error of report.json (${backend})`, async () => {
        const cells = await page.locator('[data-testid="structure-row"]').evaluateAll((trs) => trs.map((tr) => ({ name: tr.dataset.name, text: tr.querySelector('.mad').textContent, rel: tr.querySelector('.mad').dataset.relStdErr })));
        assert.equal(cells.length, mcReport.structures.length);
        for (const c of cells) {
          const s = mcReport.structures.find((x) => x.name === c.name);
          const pct = 100 * s.meanGyRelStdErr;
          assert.equal(c.text, `${s.meanGy.toFixed(1)} ± ${pct.toFixed(pct < 0.1 ? 2 : 1)} %`, `${c.name}: cell "${c.text}"`);
          assert.equal(Number(c.rel), s.meanGyRelStdErr);
        }
      });
      mkdirSync(join(REPO_ROOT, 'test-results'), { recursive: true });
      await page.screenshot({ path: join(REPO_ROOT, 'test-results', `viewer-mc-overlay-${backend}.png`), fullPage: true });
      await check(`no page errors, nothing fetched from elsewhere (${backend})`, async () => {
        assert.deepEqual(g.consoleErrors, []);
        assert.deepEqual(g.foreign, []);
      });
    } catch (err) {
      fail(backend, err);
    } finally {
      await g.context.close();
    }
  }

  const ldmServer = await startViewer(demo.caseDir);
  servers.push(ldmServer);
  const g = await guardedPage(browser, new URL(ldmServer.url).origin);
  try {
    await openViewer(g.page, ldmServer.url, '?backend=cpu');
    await check('a case without Monte Carlo (LDM, no dose_uncertainty.nii.gz) offers no uncertainty overlay', async () => {
      assert.equal(await g.page.locator('[data-testid="overlay-kind"]').count(), 0, 'no overlay choice');
      assert.equal(await g.page.locator('[data-testid="legend"]').getAttribute('data-kind'), 'dose');
      const text = await g.page.locator('[data-testid="readout"]').innerText();
      assert.ok(!/\(MC\)/.test(text), `read-out "${text}"`);
      assert.deepEqual(g.consoleErrors, []);
    });
    await check('a case computed by Monte Carlo in the page from dropped files offers the uncertainty overlay, drawn from its own relative standard errors', async () => {
      const { page } = g;
      const d = demo.phantomDir;
      await dropFiles(page, [`${d}/activity_bqml.nii.gz`, `${d}/segmentation.seg.nrrd`]);
      await page.evaluate((histories) => {
        const set = (id, v) => {
          const el = document.getElementById(id);
          el.value = String(v);
          el.dispatchEvent(new Event('change', { bubbles: true }));
        };
        set('drop-method', 'mc');
        set('drop-mc-histories', histories);
        set('drop-mc-seed', 3);
        set('drop-backend', 'cpu');
      }, HISTORIES);
      const before = await page.evaluate(() => window.__viewer.cases);
      await page.locator('[data-testid="drop-compute"]').click();
      await page.waitForFunction((n) => window.__viewer.cases > n || /cannot compute/.test(document.getElementById('drop-status').textContent), before, { timeout: 300_000 });
      assert.equal(await page.evaluate(() => window.__viewer.report.method), 'mc');
      assert.equal(await page.locator('[data-testid="overlay-kind-box"]').isVisible(), true, 'the overlay choice is shown');
      await setControl(page, 'overlay-kind', 'uncertainty');
      await setControl(page, 'unc-max', PIXEL_MAX_PERCENT);
      await setControl(page, 'opacity', 1);
      await setControl(page, 'isodose', '');
      await setControl(page, 'show-outlines', false);
      await setControl(page, 'show-crosshair', false);
      await setControl(page, 'threshold', 0);
      const at = voxels[0].centreLps; // Tumor A's centre voxel (the dropped activity's grid is the case's)
      await page.evaluate((q) => window.__viewer.setCrosshair(q), at);
      const rel = Number(await page.locator('[data-testid="readout"]').getAttribute('data-dose-rel-std-err'));
      assert.ok(rel > 0, `read-out rel. std. error ${rel}`);
      const px = await axialPixelAt(page, at);
      const want = coloursNear(100 * rel, PIXEL_MAX_PERCENT);
      assert.ok(sameColour(px, want), `pixel rgb(${px}) but ${(100 * rel).toFixed(2)} % of ${PIXEL_MAX_PERCENT} % is rgb(${want[1]})`);
      const r = await page.evaluate(() => window.__viewer.compareWithCpu(2));
      assert.ok(r.fractionOver <= 0.005, `${(100 * r.fractionOver).toFixed(2)} % of ${r.pixels} pixels differ by more than 2 levels`);
      assert.deepEqual(g.consoleErrors, []);
      assert.deepEqual(g.foreign, []);
      console.log(`       dropped case: Tumor A centre ± ${(100 * rel).toFixed(1)} %, pixel rgb(${px})`);
    });
  } finally {
    await g.context.close();
  }
} catch (err) {
  fail('setup', err);
} finally {
  await browser?.close();
  for (const s of servers) await s.stop();
  rmSync(work, { recursive: true, force: true });
}
exit();
