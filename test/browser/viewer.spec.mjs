/**
 * Browser checks of the viewer on the demo case, run for each back end by run.mjs. Each check gets
 * { page, backend, url, report, truth, shot(name) } and throws on failure.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { decodePng } from './png.mjs';
import { setControl } from './harness.mjs';

/** Checks of the Territories panel on a multi-territory plan (run by territory-section.mjs on their own case). */
export { refusedMapChecks, territoryChecks } from './territories.spec.mjs';

/** Checks of the cohort page's figures (run by run.mjs on the demo cohort folder). */
export { cohortFigureChecks } from './cohort-figures.spec.mjs';

/** Turbo, polynomial approximation (A. Mikhailov, Google AI Blog 2019), the reference for the overlay colours. */
export function turboRef(x) {
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

/** Axial pixel at an LPS point (the view's own mapping). */
async function axialPixelAt(page, lps) {
  const [x, y] = await page.evaluate((p) => window.__viewer.pixelOf('axial', p), lps);
  const img = await axialPixels(page);
  return pixel(img, Math.floor(x), Math.floor(y));
}

/** Drops files on the page as a user would (a DataTransfer with File objects on a 'drop' event). */
export async function dropFiles(page, paths) {
  const files = paths.map((p) => ({ name: basename(p), b64: readFileSync(p).toString('base64') }));
  await page.evaluate((fs) => {
    const dt = new DataTransfer();
    for (const f of fs) dt.items.add(new File([Uint8Array.from(atob(f.b64), (c) => c.charCodeAt(0))], f.name));
    document.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  }, files);
  await page.waitForFunction((n) => document.querySelectorAll('#drop-files tr').length >= n || document.getElementById('drop-status').dataset.state === 'error', files.length);
  const st = await page.locator('[data-testid="drop-status"]');
  assert.notEqual(await st.getAttribute('data-state'), 'error', `drop failed: ${await st.innerText()}`);
}

/** Clicks compute and waits for the computed case to be shown; returns its report. */
export async function computeDropped(page) {
  const before = await page.evaluate(() => window.__viewer.cases);
  await page.locator('[data-testid="drop-compute"]').click();
  await page.waitForFunction(
    (n) => window.__viewer.cases > n || /cannot compute/.test(document.getElementById('drop-status').textContent),
    before,
    { timeout: 60_000 },
  );
  const status = await page.locator('[data-testid="drop-status"]').innerText();
  assert.ok(!/cannot compute/.test(status), status);
  return page.evaluate(() => window.__viewer.report);
}

/** Browser-computed MADs against reference MADs, structure by structure. */
export function assertSameMads(got, want, tolerance, label) {
  assert.deepEqual(got.structures.map((s) => s.name).sort(), want.map((s) => s.name).sort(), `${label}: same structures`);
  for (const w of want) {
    const g = got.structures.find((s) => s.name === w.name);
    assert.ok(Math.abs(g.meanGy / w.meanGy - 1) <= tolerance, `${label}: ${w.name} MAD ${g.meanGy} Gy vs ${w.meanGy} Gy`);
  }
}

/** Checks of the cases computed in the page from dropped files; run after `checks` (they replace the case). */
export const dropChecks = [
  ['dropped NRRD activity + .seg.nrrd + NIfTI CT compute in the page and match the CLI', async ({ page, report, demo, shot }) => {
    const d = demo.phantomDir;
    await dropFiles(page, [`${d}/activity_bqml_permuted.nrrd`, `${d}/segmentation.seg.nrrd`, `${d}/ct_hu.nii.gz`]);
    const roles = await page.locator('[data-testid="drop-role"]').evaluateAll((els) => els.map((e) => e.value));
    assert.deepEqual(roles, ['activity', 'segmentation', 'ct'], 'roles guessed from the files');
    const got = await computeDropped(page);
    // Same voxel centres stored in a permuted, flipped order: the same answers up to summation order in float32
    // (GPU statistics) or float64 (CPU): 1e-4 relative.
    assertSameMads(got, report.structures, 1e-4, 'browser vs CLI');
    const rows = await rowTexts(page);
    assert.equal(rows.length, report.structures.length, 'the table shows the computed case');
    await shot('dropped-nrrd');
  }],
  ['a dropped MetaImage activity (itk-wasm, served locally) gives the analytic LDM answers', async ({ page, demo, foreign }) => {
    await page.locator('#drop-clear').click();
    await dropFiles(page, [demo.activityMhaPath, `${demo.phantomDir}/segmentation.seg.nrrd`]);
    const got = await computeDropped(page);
    // Without a CT the phantom's LDM answers are exact sums (expected.json): 1e-4 relative for float32 sums.
    assertSameMads(got, demo.expected.structures, 1e-4, 'MHA drop vs analytic');
    assert.deepEqual(foreign, [], 'itk-wasm fetched nothing from elsewhere');
  }],
  ['a dropped label table file names a dropped label map, as --labels @FILE does', async ({ page, demo }) => {
    if (await page.locator('#drop-clear').isVisible()) await page.locator('#drop-clear').click();
    const d = demo.phantomDir;
    // a 3D Slicer color table naming tumours_labels' 1..3 (not 4) under other names than the .seg.nrrd's
    writeFileSync(`${d}/lesions.ctbl`, '# 3D Slicer color table\n0 background 0 0 0 0\n1 Lesion A 255 0 0 255\n2 Lesion B 0 255 0 255\n3 Lesion C 0 0 255 255\n');
    await dropFiles(page, [`${d}/activity_bqml.nii.gz`, `${d}/segmentation.seg.nrrd`, `${d}/tumors_labels.nrrd`, `${d}/lesions.ctbl`]);
    const roles = await page.locator('[data-testid="drop-role"]').evaluateAll((els) => els.map((e) => e.value));
    assert.deepEqual(roles, ['activity', 'segmentation', 'label-map', 'label-table'], 'roles guessed from the files');
    const got = await computeDropped(page);
    const mad = (n) => got.structures.find((s) => s.name === n)?.meanGy;
    // label 1 of tumors_labels is the .seg.nrrd's Tumor A, voxel for voxel: the same MAD (1e-6: summation order)
    assert.ok(Math.abs(mad('Lesion A') / mad('Tumor A') - 1) < 1e-6, `Lesion A ${mad('Lesion A')} Gy vs Tumor A ${mad('Tumor A')} Gy`);
    assert.ok(mad('label 4') > 0, 'label 4, not in the table, is reported as "label 4"');
    assert.ok(got.warnings.some((w) => /label 4 \(\d+ voxels/.test(w)), `warnings name label 4 with its voxel count: ${got.warnings.join(' | ')}`);
  }],
];

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
    const doseGy = Number(await r.getAttribute('data-dose-gy'));
    // 1e-5 relative: the dose map is stored as float32 (2^-24 relative) and the CT-derived density at the tumour
    // centre is linear interpolation of a uniform 50 HU, exact up to float32 rounding.
    assert.ok(Math.abs(doseGy / truth.tumour.doseGy - 1) < 1e-5, `readout dose ${doseGy} Gy at the tumour centre, analytic ${truth.tumour.doseGy} Gy`);
  }],
  ['the pixel at the tumour centre has the colormap colour of its dose', async ({ page, truth, shot }) => {
    await setControl(page, 'show-crosshair', false);
    await setControl(page, 'opacity', 1);
    await setControl(page, 'threshold', 0);
    await centrePixelMatches(page, truth.tumour.doseGy, 'at the reported activity');
    await shot('tumour-opacity1');
  }],
  ['doubling the activity doubles every MAD and flags the selected device limits exactly where they are crossed', async ({ page, report, truth, shot }) => {
    const a = report.activityInFieldGBq;
    // EANM 2022 mean-dose limits of the engine's device presets (plan/devices.ts), by report role: the derived normal
    // liver is the whole normal liver (glass 75 Gy, 166Ho 60 Gy; resin has only its perfused normal liver limit,
    // 40 Gy, applied to it); lung 30 Gy per treatment. Tumour targets (minimum): glass 205, resin 120, 166Ho 150 Gy.
    const LIMITS = { glass: { 'normal-liver': 75, lung: 30 }, resin: { 'normal-liver': 40, lung: 30 }, ho166: { 'normal-liver': 60, lung: 30 } };
    const TARGETS = { glass: 205, resin: 120, ho166: 150 };
    const limits = page.locator('[data-testid="limits"]');
    const flagged = async () => Number(await limits.getAttribute('data-exceeded'));
    const setSlider = async (v) => {
      await page.evaluate((x) => {
        const s = document.querySelector('[data-testid="activity-slider"]');
        s.value = String(x);
        s.dispatchEvent(new Event('input', { bubbles: true }));
      }, v);
      await page.evaluate(() => window.__viewer.renderNow());
    };
    const exceededRoles = async () =>
      page.locator('[data-testid="structure-row"].exceeded').evaluateAll((els) => els.map((e) => e.dataset.role));
    // A 90Y report without a plan: the glass preset by default.
    assert.equal(await page.locator('[data-testid="limits-preset"]').inputValue(), 'glass', 'Y90 report -> 90Y glass limits');
    assert.equal(await limits.getAttribute('data-device'), 'glass');

    await setSlider(2 * a);
    const rows = await rowTexts(page);
    for (const s of report.structures) {
      const row = rows.find((r) => r.includes(s.name));
      assert.ok(row.includes((2 * s.meanGy).toFixed(1)), `row ${JSON.stringify(row)} shows doubled MAD ${(2 * s.meanGy).toFixed(1)}`);
    }
    const overAt = (dev, f) => report.structures.filter((s) => LIMITS[dev][s.role] !== undefined && f * s.meanGy > LIMITS[dev][s.role]);
    assert.equal(await flagged(), overAt('glass', 2).length, `glass limits at twice the activity: ${overAt('glass', 2).map((s) => s.name)}`);
    await centrePixelMatches(page, 2 * truth.tumour.doseGy, 'at twice the activity');
    await shot('double-activity');

    for (const dev of ['resin', 'ho166', 'glass']) {
      await setControl(page, 'limits-preset', dev);
      assert.equal(await limits.getAttribute('data-device'), dev);
      for (const s of report.structures) {
        const tr = page.locator(`[data-testid="structure-row"][data-name="${s.name}"]`);
        const want = LIMITS[dev][s.role] ?? (s.role === 'tumor' ? TARGETS[dev] : undefined);
        assert.equal(await tr.getAttribute('data-bound-gy'), want === undefined ? null : String(want), `${dev}: bound of ${s.name} (${s.role})`);
      }
      // The activity factor at which the first limit of this device is crossed, from the report alone.
      const limited = report.structures.filter((s) => LIMITS[dev][s.role] !== undefined && s.meanGy > 0);
      assert.ok(limited.some((s) => s.role === 'normal-liver'), 'the demo case reports a normal liver');
      const first = limited.reduce((m, s) => (LIMITS[dev][s.role] / s.meanGy < LIMITS[dev][m.role] / m.meanGy ? s : m));
      const f = LIMITS[dev][first.role] / first.meanGy;
      await setControl(page, 'activity-gbq', (0.99 * f * a).toFixed(3));
      assert.equal(await flagged(), 0, `${dev}: no limit flagged at 0.99 x the crossing factor ${f.toFixed(3)}`);
      assert.deepEqual(await exceededRoles(), []);
      await setControl(page, 'activity-gbq', (1.01 * f * a).toFixed(3));
      assert.ok((await flagged()) >= 1, `${dev}: ${first.name} (${first.role}) flagged at 1.01 x the crossing factor ${f.toFixed(3)}`);
      assert.ok((await exceededRoles()).includes(first.role), `${dev}: the ${first.role} row is marked`);
      assert.match(await limits.innerText(), new RegExp(`${LIMITS[dev][first.role]} Gy`), `${dev}: the message names the limit`);
      // Tumour rows below the device's target are marked under target, not as limits exceeded.
      const fNow = Number(await page.locator('[data-testid="activity-gbq"]').inputValue()) / a;
      const under = report.structures.filter((s) => s.role === 'tumor' && fNow * s.meanGy < TARGETS[dev]);
      assert.equal(Number(await limits.getAttribute('data-under-target')), under.length, `${dev}: tumours under ${TARGETS[dev]} Gy`);
    }
    await setSlider(a);
    assert.equal(await flagged(), overAt('glass', 1).length, 'flags at the reported activity');
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
  ['window/level presets change the CT grey as W/L prescribes', async ({ page }) => {
    await setControl(page, 'show-dose', false);
    await setControl(page, 'isodose', '');
    await setControl(page, 'show-outlines', false);
    await setControl(page, 'show-crosshair', false);
    // A body point away from organs: HU 40 (phantom.ts). grey = (HU - (L - W/2)) / W.
    const at = [40, -60, (await page.evaluate(() => window.__viewer.crosshair()))[2]];
    for (const [preset, L, W] of [['abdomen', 40, 400], ['lung', -600, 1500], ['bone', 300, 2000]]) {
      await setControl(page, 'wl-preset', preset);
      const [r, g, b] = await axialPixelAt(page, at);
      const want = Math.round(255 * Math.min(1, Math.max(0, (40 - (L - W / 2)) / W)));
      // 1 level: float32 vs float64 arithmetic before 8-bit rounding.
      assert.ok(Math.abs(r - want) <= 1 && r === g && g === b, `${preset}: grey ${r},${g},${b}, expected ${want}`);
    }
    await setControl(page, 'wl-preset', 'abdomen');
  }],
  ['isodose levels draw lines of their colour and only where asked', async ({ page, truth }) => {
    await page.locator('[data-testid="structure-row"]', { hasText: truth.tumour.name }).click();
    const count = async () => {
      await page.evaluate(() => window.__viewer.renderNow());
      const img = await axialPixels(page);
      let n = 0;
      for (let i = 0; i < img.width * img.height; i++) if (img.rgba[4 * i] === 255 && img.rgba[4 * i + 1] === 255 && img.rgba[4 * i + 2] === 255) n++;
      return n;
    };
    await setControl(page, 'isodose', '');
    assert.equal(await count(), 0, 'no white (first level colour) pixels without levels');
    await setControl(page, 'isodose', '100');
    const n = await count();
    // The 100 Gy line runs around the tumour (236 Gy inside, 43 Gy around): about its circumference in pixels.
    const mmPerPx = (await page.evaluate(() => window.__viewer.nav())).mmPerPx;
    const circPx = (2 * Math.PI * truth.tumour.radiusMm) / mmPerPx;
    assert.ok(n > 0.5 * circPx && n < 3 * circPx, `${n} isodose pixels, circumference ${circPx.toFixed(0)} px`);
    assert.match(await page.locator('#isodose-key').innerText(), /100 Gy/);
    await setControl(page, 'isodose', '50,100,150,205');
    await setControl(page, 'show-dose', true);
    await setControl(page, 'show-outlines', true);
  }],
  ['zoom, pan and reset from mouse and keyboard', async ({ page }) => {
    const ov = page.locator('canvas.overlay[data-view="axial"]');
    await ov.hover();
    const n0 = await page.evaluate(() => window.__viewer.nav());
    await page.keyboard.press('+');
    const n1 = await page.evaluate(() => window.__viewer.nav());
    assert.ok(Math.abs(n1.mmPerPx - n0.mmPerPx / 1.2) < 1e-9, `+ zooms in: ${n0.mmPerPx} -> ${n1.mmPerPx}`);
    const box = await ov.boundingBox();
    await page.keyboard.down('Shift');
    await page.mouse.move(box.x + 100, box.y + 100);
    await page.mouse.down();
    await page.mouse.move(box.x + 140, box.y + 100, { steps: 4 });
    await page.mouse.up();
    await page.keyboard.up('Shift');
    const n2 = await page.evaluate(() => window.__viewer.nav());
    // Dragging 40 px to the right moves the view centre 40 px worth of mm towards patient right (-L).
    assert.ok(Math.abs(n2.centre[0] - (n1.centre[0] - 40 * n1.mmPerPx)) < 1e-6, `pan: centre x ${n1.centre[0]} -> ${n2.centre[0]}`);
    await page.keyboard.press('r');
    const n3 = await page.evaluate(() => window.__viewer.nav());
    assert.ok(Math.abs(n3.mmPerPx - n0.mmPerPx) < 1e-9, 'r resets the zoom');
  }],
  ['export PNG of the views and CSV of the table', async ({ page, report, backend, outDir }) => {
    const [png] = await Promise.all([page.waitForEvent('download'), page.locator('[data-testid="export-png"]').click()]);
    const pngPath = `${outDir}/viewer-${backend}-export.png`;
    await png.saveAs(pngPath);
    const img = decodePng(readFileSync(pngPath));
    const size = await page.locator('[data-testid="slice-canvas"][data-view="axial"]').evaluate((c) => c.width);
    assert.equal(img.width, 3 * size, 'three views side by side');
    const [csv] = await Promise.all([page.waitForEvent('download'), page.locator('[data-testid="export-csv"]').click()]);
    const text = readFileSync(await csv.path(), 'utf8');
    writeFileSync(`${outDir}/viewer-${backend}-export.csv`, text);
    const [head, ...lines] = text.trim().split('\n');
    const cols = head.split(',');
    assert.equal(lines.length, report.structures.length, 'one CSV row per structure');
    for (const s of report.structures) {
      const row = lines.map((l) => l.split(',')).find((c) => c[0] === s.name);
      assert.ok(row, `CSV row of ${s.name}`);
      assert.ok(Math.abs(Number(row[cols.indexOf('meanGy')]) / s.meanGy - 1) < 1e-12, `${s.name} meanGy in the CSV`);
    }
  }],
  ['no request leaves 127.0.0.1', async ({ requests, foreign, url }) => {
    assert.ok(requests.length > 3, 'requests were recorded');
    assert.deepEqual(foreign, [], 'requests to other hosts');
    for (const r of requests) assert.ok(r.startsWith(url), `${r} is not on ${url}`);
  }],
];
