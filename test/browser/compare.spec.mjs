/**
 * Browser checks of the viewer's compare mode (packages/viewer/src/client/compare-view.ts) on the compare case
 * (compare-case.ts: `dose` on the bundled phantom at 2 and 2.4 GBq, the achieved case on a grid cropped by whole
 * voxels, so both grids differ but share voxel centres). Each check gets { page, backend, cc, url } and throws on
 * failure. Expected numbers come from compare-case.json (the dose files read back and the phantom's analytic tumour
 * centre) and the reports, never from the page's own code.
 */
import assert from 'node:assert/strict';
import { decodePng } from './png.mjs';

const readout = (page, side) =>
  page.locator(`[data-testid="compare-readout"][data-side="${side}"]`).evaluate((e) => ({ ...e.dataset }));
const lpsOf = (r) => r.lps.split(',').map(Number);

/** [name, fn(ctx)] pairs, run in order for each back end. */
export const compareChecks = [
  ['two view sets (planned, achieved), three views each', async ({ page }) => {
    const sets = await page.locator('[data-testid="view-set"]').evaluateAll((els) => els.map((e) => [e.dataset.side, e.querySelectorAll('[data-testid="slice-canvas"]').length]));
    assert.deepEqual(sets, [['planned', 3], ['achieved', 3]]);
  }],
  ['clicking in the planned axial view moves the achieved crosshair to the same LPS point', async ({ page, cc }) => {
    // start elsewhere (20 mm off in x and y), then click at the tumour centre's pixel of the planned axial view
    const t = cc.tumourLps;
    await page.evaluate((p) => window.__viewer.setCrosshair(p), [t[0] + 20, t[1] - 20, t[2]]);
    const [x, y] = await page.evaluate((p) => window.__viewer.pixelOf('axial', p), t);
    const overlay = page.locator('canvas.overlay[data-side="planned"][data-view="axial"]');
    const box = await overlay.boundingBox();
    const size = await overlay.evaluate((c) => c.width);
    await page.mouse.click(box.x + (x * box.width) / size, box.y + (y * box.height) / size);
    await page.evaluate(() => window.__viewer.renderNow());
    const left = await readout(page, 'planned');
    const right = await readout(page, 'achieved');
    assert.equal(right.lps, left.lps, 'achieved readout LPS = planned readout LPS');
    const mmPerPx = await page.evaluate(() => window.__viewer.nav().mmPerPx);
    const p = lpsOf(right);
    assert.ok(Math.abs(p[0] - t[0]) <= mmPerPx && Math.abs(p[1] - t[1]) <= mmPerPx, `crosshair ${p} within one pixel (${mmPerPx} mm) of ${t}`);
    assert.ok(Math.abs(p[2] - t[2]) < 1e-6, `an axial click keeps the slice (z ${p[2]} vs ${t[2]})`);
    const ch = await page.evaluate(() => window.__viewer.crosshair());
    assert.equal(ch.map((v) => v.toFixed(2)).join(','), right.lps);
  }],
  ['readouts at the tumour centre: each case its own dose (grids differ), difference = achieved - planned', async ({ page, cc }) => {
    await page.evaluate((p) => window.__viewer.setCrosshair(p), cc.tumourLps);
    const left = await readout(page, 'planned');
    const right = await readout(page, 'achieved');
    assert.equal(left.lps, cc.tumourLps.map((v) => v.toFixed(2)).join(','));
    assert.equal(right.lps, left.lps);
    // the achieved grid is cropped by whole voxels: read by index instead of by position, this value would differ
    assert.ok(Math.abs(Number(left.doseGy) - cc.plannedGy) <= 1e-4 * cc.plannedGy, `planned ${left.doseGy} Gy, file ${cc.plannedGy} Gy`);
    assert.ok(Math.abs(Number(right.doseGy) - cc.achievedGy) <= 1e-4 * cc.achievedGy, `achieved ${right.doseGy} Gy, file ${cc.achievedGy} Gy`);
    for (const r of [left, right]) {
      assert.ok(Math.abs(Number(r.diffGy) - cc.differenceGy) <= 1e-3, `difference ${r.diffGy} Gy, achieved - planned ${cc.differenceGy} Gy`);
      // dose is linear in activity: 2.4 / 2 - 1 = 0.2 of the planned dose
      assert.ok(Math.abs(Number(r.diffGy) - 0.2 * cc.plannedGy) <= 1e-3 * cc.plannedGy, `difference ${r.diffGy} Gy, 0.2 x planned ${0.2 * cc.plannedGy} Gy`);
    }
  }],
  ['the difference overlay changes pixels, red at the tumour (achieved above planned), on either side', async ({ page, cc, backend, shot }) => {
    await page.evaluate((p) => window.__viewer.setCrosshair(p), cc.tumourLps);
    const [x, y] = (await page.evaluate((p) => window.__viewer.pixelOf('axial', p), cc.tumourLps)).map(Math.floor);
    for (const side of ['planned', 'achieved']) {
      const view = page.locator(`[data-testid="view-set"][data-side="${side}"] .view`).first();
      await page.evaluate((s) => window.__viewer.compare.setDifference(s, false), side);
      const off = decodePng(await view.screenshot());
      const toggle = page.locator(`[data-testid="diff-toggle"][data-side="${side}"]`);
      await toggle.check();
      await page.evaluate(() => window.__viewer.renderNow());
      const on = decodePng(await view.screenshot());
      assert.equal(on.width, off.width);
      let changed = 0;
      for (let p = 0; p < on.rgba.length; p += 4) if (Math.abs(on.rgba[p] - off.rgba[p]) + Math.abs(on.rgba[p + 1] - off.rgba[p + 1]) + Math.abs(on.rgba[p + 2] - off.rgba[p + 2]) > 6) changed++;
      assert.ok(changed > 200, `${side}: ${changed} pixels changed by the overlay`);
      const px = await page.locator(`canvas.diff[data-side="${side}"][data-view="axial"]`).evaluate((c, [a, b]) => [...c.getContext('2d').getImageData(a, b, 1, 1).data], [x, y]);
      assert.ok(px[3] > 0 && px[0] > px[2] + 40, `${side}: overlay at the tumour ${px} is red (positive difference)`);
      if (side === 'achieved') await shot('compare-difference');
      await toggle.uncheck();
      await page.evaluate(() => window.__viewer.renderNow());
      const back = decodePng(await view.screenshot());
      let same = 0;
      for (let p = 0; p < back.rgba.length; p++) if (back.rgba[p] === off.rgba[p]) same++;
      assert.ok(same / back.rgba.length > 0.999, `${side}: unchecking restores the view (${backend})`);
    }
  }],
  ['legend: diverging colours, symmetric range centred at 0 Gy', async ({ page }) => {
    const rangeGy = Number(await page.locator('[data-testid="diff-legend"]').getAttribute('data-range-gy'));
    assert.ok(rangeGy > 0);
    const ticks = await page.locator('[data-testid="diff-ticks"] span').allInnerTexts();
    assert.equal(parseFloat(ticks[0]), -rangeGy);
    assert.equal(parseFloat(ticks[2]), 0);
    assert.equal(parseFloat(ticks[4]), rangeGy);
    const [lo, mid, hi] = await page.locator('[data-testid="diff-legend"]').evaluate((c) => [0, 128, 255].map((x) => [...c.getContext('2d').getImageData(x, 7, 1, 1).data]));
    assert.ok(lo[2] > lo[0] + 80, `left end blue ${lo}`);
    assert.ok(hi[0] > hi[2] + 80, `right end red ${hi}`);
    assert.ok(Math.min(mid[0], mid[1], mid[2]) > 230, `centre near white ${mid}`);
  }],
  ['table of matched structures: planned and achieved MAD and difference, from the reports', async ({ page, cc }) => {
    const rows = await page.locator('[data-testid="compare-row"]').evaluateAll((els) => els.map((e) => ({ name: e.dataset.name, cells: [...e.querySelectorAll('td')].map((t) => t.textContent) })));
    assert.deepEqual(rows.map((r) => r.name).sort(), Object.keys(cc.mads).sort());
    for (const r of rows) {
      const [p, a] = cc.mads[r.name];
      assert.equal(r.cells[2], p.toFixed(1), `${r.name} planned`);
      assert.equal(r.cells[3], a.toFixed(1), `${r.name} achieved`);
      assert.equal(parseFloat(r.cells[4]), Number((a - p).toFixed(1)), `${r.name} difference ${r.cells[4]}`);
    }
  }],
];
