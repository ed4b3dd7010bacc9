/**
 * Browser checks of the viewer on the demo case, run for each back end by run.mjs. Each check gets
 * { page, backend, url, report, truth, shot(name) } and throws on failure.
 */
import assert from 'node:assert/strict';
import { decodePng } from './png.mjs';

/** Turbo, polynomial approximation (A. Mikhailov, Google AI Blog 2019), the reference for the overlay colours. */
function turboRef(x) {
  const t = Math.min(1, Math.max(0, x));
  const p = (c) => Math.min(1, Math.max(0, c[0] + t * (c[1] + t * (c[2] + t * (c[3] + t * (c[4] + t * c[5]))))));
  return [
    p([0.13572138, 4.6153926, -42.66032258, 132.13108234, -152.94239396, 59.28637943]),
    p([0.09140261, 2.19418839, 4.84296658, -14.18503333, 4.27729857, 2.82956604]),
    p([0.1066733, 12.64194608, -60.58204836, 110.36276771, -89.90310912, 27.34824973]),
  ].map((v) => Math.round(255 * v));
}

/** Expected overlay colour at opacity 1: the 256-entry table indexed by floor(256 D / Dmax). */
function expectedColour(doseGy, maxGy) {
  const i = Math.min(255, Math.floor(256 * Math.min(1, Math.max(0, doseGy / maxGy))));
  return turboRef(i / 255);
}

async function axialPixels(page) {
  const png = await page.locator('[data-testid="slice-canvas"][data-view="axial"]').screenshot();
  return decodePng(png);
}

function pixel(img, x, y) {
  const o = 4 * (x + img.width * y);
  return [img.rgba[o], img.rgba[o + 1], img.rgba[o + 2]];
}

async function rowTexts(page) {
  return page.locator('[data-testid="structure-row"]').allInnerTexts();
}

async function setControl(page, testid, value) {
  await page.evaluate(
    ([id, v]) => {
      const el = document.querySelector(`[data-testid="${id}"]`);
      if (el.type === 'checkbox') el.checked = v;
      else el.value = String(v);
      el.dispatchEvent(new Event('input', { bubbles: true }));
      el.dispatchEvent(new Event('change', { bubbles: true }));
    },
    [testid, value],
  );
  await page.evaluate(() => window.__viewer.renderNow());
}

async function centrePixelMatches(page, doseGy, label) {
  const maxGy = Number(await page.locator('[data-testid="legend"]').getAttribute('data-max-gy'));
  assert.ok(maxGy > 0, 'legend carries its max dose');
  const img = await axialPixels(page);
  const [x, y] = [img.width / 2, img.height / 2];
  const got = pixel(img, x, y);
  const want = expectedColour(doseGy, maxGy);
  // 1 level per channel: float-to-8-bit rounding of the same table entry (GPU unorm conversion vs Math.round).
  const ok = got.every((v, c) => Math.abs(v - want[c]) <= 1);
  assert.ok(ok, `${label}: pixel at the tumour centre is rgb(${got}) but the colormap colour of ${doseGy} Gy (max ${maxGy}) is rgb(${want})`);
}

export const checks = [
  ['back end mark names the back end in use', async ({ page, backend }) => {
    assert.equal((await page.locator('[data-testid="backend"]').innerText()).trim(), backend);
  }],
  ['every structure row shows the report MAD', async ({ page, report }) => {
    const rows = await rowTexts(page);
    assert.equal(rows.length, report.structures.length, 'one row per reported structure');
    for (const s of report.structures) {
      const row = rows.find((r) => r.includes(s.name));
      assert.ok(row, `row for ${s.name}`);
      assert.ok(row.includes(s.meanGy.toFixed(1)), `row ${JSON.stringify(row)} shows MAD ${s.meanGy.toFixed(1)}`);
    }
  }],
  ['the slice canvases are drawn', async ({ page, shot }) => {
    assert.equal(await page.locator('[data-testid="slice-canvas"]').count(), 3);
    const img = await axialPixels(page);
    const seen = new Set();
    for (let i = 0; i < img.width * img.height; i += 7) seen.add(`${img.rgba[4 * i]},${img.rgba[4 * i + 1]},${img.rgba[4 * i + 2]}`);
    assert.ok(seen.size > 10, `axial view has ${seen.size} distinct colours: it is not drawn`);
    await shot('initial');
  }],
  ['clicking a structure row moves the crosshair into it', async ({ page, truth }) => {
    await page.locator('[data-testid="structure-row"]', { hasText: truth.tumour.name }).click();
    await page.evaluate(() => window.__viewer.renderNow());
    const r = page.locator('[data-testid="readout"]');
    const lps = (await r.getAttribute('data-lps')).split(',').map(Number);
    const dist = Math.hypot(...lps.map((v, a) => v - truth.tumour.centreLps[a]));
    // The centroid of the voxelised sphere lies within a voxel (<= 5 mm here) of the analytic centre.
    assert.ok(dist < 5, `crosshair ${lps} is ${dist.toFixed(1)} mm from the tumour centre`);
    assert.ok((await r.getAttribute('data-structures')).split('|').includes(truth.tumour.name), 'readout names the tumour');
    assert.equal(Number(await r.getAttribute('data-dose-gy')), truth.tumour.doseGy, 'readout dose at the tumour centre');
  }],
  ['the pixel at the tumour centre has the colormap colour of its dose', async ({ page, truth, shot }) => {
    await setControl(page, 'show-crosshair', false);
    await setControl(page, 'opacity', 1);
    await setControl(page, 'threshold', 0);
    await centrePixelMatches(page, truth.tumour.doseGy, 'at the reported activity');
    await shot('tumour-opacity1');
  }],
  ['doubling the activity doubles every MAD and flags the normal-liver limit', async ({ page, report, truth, shot }) => {
    const a = report.activityInFieldGBq;
    await page.evaluate((v) => {
      const s = document.querySelector('[data-testid="activity-slider"]');
      s.value = String(v);
      s.dispatchEvent(new Event('input', { bubbles: true }));
    }, 2 * a);
    await page.evaluate(() => window.__viewer.renderNow());
    const rows = await rowTexts(page);
    for (const s of report.structures) {
      const row = rows.find((r) => r.includes(s.name));
      assert.ok(row.includes((2 * s.meanGy).toFixed(1)), `row ${JSON.stringify(row)} shows doubled MAD ${(2 * s.meanGy).toFixed(1)}`);
    }
    const nl = report.structures.find((s) => s.name === truth.normalLiverName);
    const flagged = Number(await page.locator('[data-testid="limits"]').getAttribute('data-exceeded'));
    assert.equal(flagged > 0, 2 * nl.meanGy > 70, `limit flag at normal-liver mean ${(2 * nl.meanGy).toFixed(1)} Gy`);
    await centrePixelMatches(page, 2 * truth.tumour.doseGy, 'at twice the activity');
    await shot('double-activity');
    await page.evaluate((v) => {
      const s = document.querySelector('[data-testid="activity-slider"]');
      s.value = String(v);
      s.dispatchEvent(new Event('input', { bubbles: true }));
    }, a);
    const back = await rowTexts(page);
    for (const s of report.structures) assert.ok(back.find((r) => r.includes(s.name)).includes(s.meanGy.toFixed(1)), 'back to the reported MAD');
  }],
  ['keyboard scrolls slices', async ({ page }) => {
    const before = await page.evaluate(() => window.__viewer.crosshair());
    await page.locator('canvas.overlay[data-view="axial"]').hover();
    await page.keyboard.press('ArrowUp');
    await page.evaluate(() => window.__viewer.renderNow());
    const after = await page.evaluate(() => window.__viewer.crosshair());
    assert.ok(after[2] > before[2] && after[0] === before[0] && after[1] === before[1], `ArrowUp moved ${before} -> ${after}`);
  }],
  ['the views match the CPU oracle pixel for pixel', async ({ page }) => {
    await setControl(page, 'opacity', 0.5);
    await setControl(page, 'threshold', 5);
    const r = await page.evaluate(() => window.__viewer.compareWithCpu(2));
    // 2 levels: GPU f32 vs CPU f64 arithmetic in the CT window and the opacity mix, then 8-bit rounding. Pixels whose
    // centre falls within float32 rounding of a voxel boundary may pick the neighbouring voxel: allow 0.5 % of them.
    assert.ok(r.fractionOver <= 0.005, `${(100 * r.fractionOver).toFixed(2)} % of ${r.pixels} pixels differ by more than 2 levels (max ${r.maxDiff})`);
  }],
  ['no request leaves 127.0.0.1', async ({ requests, foreign, url }) => {
    assert.ok(requests.length > 3, 'requests were recorded');
    assert.deepEqual(foreign, [], 'requests to other hosts');
    for (const r of requests) assert.ok(r.startsWith(url), `${r} is not on ${url}`);
  }],
];
