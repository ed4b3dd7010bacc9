/**
 * Browser checks of the cohort page's figures (packages/viewer/src/client/cohort-figures.ts), run by run.mjs on the
 * demo cohort folder (test/browser/demo-case.ts: `cohort`, then `roc --svg roc.svg` and `groups --svg groups.svg` on
 * its lesions.csv). Each check gets { page, demo, shots, consoleErrors } and throws on failure.
 *
 * The page draws its figures itself from the folder's tables; the CLI wrote roc.svg and groups.svg from the same
 * table. Both SVGs are parsed by the page's own DOMParser and serialised again, so equal strings mean the same
 * elements, attributes and text: the page shows the very figure the command writes.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';

const MM_PER_PT = 25.4 / 72;

/** Sets a control of the figure panel as a user would and waits for the figure to be drawn again. */
async function choose(page, testid, value) {
  await page.locator(`[data-testid="${testid}"]`).selectOption(value);
  await page.waitForSelector('[data-testid="cohort-figure"][data-state]', { state: 'attached' });
}

/** The inline figure and a file of the folder, both parsed and serialised by the page. */
async function inlineAndFile(page, fileName) {
  return page.evaluate(async (name) => {
    const inline = document.querySelector('[data-testid="cohort-figure"] svg');
    const text = await (await fetch(`/files/${encodeURIComponent(name)}`)).text();
    const file = new DOMParser().parseFromString(text, 'image/svg+xml').documentElement;
    const ser = new XMLSerializer();
    return { inline: inline ? ser.serializeToString(inline) : '', file: ser.serializeToString(file) };
  }, fileName);
}

export const cohortFigureChecks = [
  ['the cohort page draws the ROC figure in the page: the SVG roc --svg wrote, with its band, n and AUC', async ({ page, shots }) => {
    await page.waitForSelector('[data-testid="cohort-figure"][data-state="drawn"] svg', { timeout: 30_000 });
    assert.equal(await page.locator('[data-testid="figure-kind"]').inputValue(), 'roc', 'a table with a response column opens on its ROC figure');
    assert.equal(await page.locator('[data-testid="figure-dose"]').inputValue(), 'meanGy');
    const { inline, file } = await inlineAndFile(page, 'roc.svg');
    assert.ok(inline.length > 1000, 'an inline SVG is drawn');
    assert.equal(inline, file, 'the page draws the SVG the command wrote');
    // drawn on screen: visible, at the figure's aspect ratio, with the band, the curve and the legend's n
    const box = await page.locator('[data-testid="cohort-figure"] svg').evaluate((s) => {
      const r = s.getBoundingClientRect();
      return { w: r.width, h: r.height, mmW: s.getAttribute('width'), mmH: s.getAttribute('height'), band: !!s.querySelector('path.band'), curve: !!s.querySelector('path.curve'), texts: [...s.querySelectorAll('text')].map((t) => t.textContent) };
    });
    assert.equal(box.mmW, '89mm', 'a single journal column');
    assert.ok(box.w > 300 && box.h > 200, `figure drawn ${box.w} x ${box.h} px`);
    assert.ok(Math.abs(box.w / box.h - parseFloat(box.mmW) / parseFloat(box.mmH)) < 0.01, 'aspect ratio of the mm size');
    assert.ok(box.band && box.curve, 'band and curve');
    assert.ok(box.texts.some((t) => /^n = 4 \(3 responders, 1 non-responder\)$/.test(t)), `n on the figure: ${box.texts.join(' | ')}`);
    assert.ok(box.texts.some((t) => /^AUC /.test(t)));
    // the white figure is painted: its pixels are not the page's dark background
    const shot = await page.locator('[data-testid="cohort-figure"] svg').screenshot({ path: join(shots, 'viewer-cohort-figure.png') });
    assert.ok(shot.length > 2000, 'the figure rendered to pixels');
  }],
  ['the group figure in the page equals groups --svg; a double column is 183 mm', async ({ page }) => {
    await choose(page, 'figure-kind', 'groups');
    await page.locator('[data-testid="figure-dose"]').selectOption('meanGy');
    await page.locator('[data-testid="figure-response"]').selectOption('response');
    await page.waitForSelector('[data-testid="cohort-figure"][data-kind="groups"][data-state="drawn"] svg');
    const { inline, file } = await inlineAndFile(page, 'groups.svg');
    assert.equal(inline, file, 'the page draws the SVG the command wrote');
    await choose(page, 'figure-width', '183');
    const w = await page.locator('[data-testid="cohort-figure"] svg').getAttribute('width');
    assert.equal(w, '183mm');
    await choose(page, 'figure-width', '89');
  }],
  ['SVG and PDF save the figure: an SVG file and a one-page vector PDF of the mm size', async ({ page }) => {
    const [svgDl] = await Promise.all([page.waitForEvent('download'), page.locator('[data-testid="figure-save-svg"]').click()]);
    const svgText = await (await import('node:fs')).promises.readFile(await svgDl.path(), 'utf8');
    assert.match(svgText, /^<\?xml version="1.0" encoding="UTF-8"\?>\n<svg xmlns="http:\/\/www.w3.org\/2000\/svg" version="1.1" width="89mm"/);
    const [pdfDl] = await Promise.all([page.waitForEvent('download'), page.locator('[data-testid="figure-save-pdf"]').click()]);
    assert.match(pdfDl.suggestedFilename(), /\.pdf$/);
    const pdf = await (await import('node:fs')).promises.readFile(await pdfDl.path());
    assert.equal(pdf.subarray(0, 5).toString('latin1'), '%PDF-');
    const box = /\/MediaBox \[\s*0 0 ([\d.]+) ([\d.]+)\s*\]/.exec(pdf.toString('latin1'));
    assert.ok(box, 'a MediaBox');
    assert.ok(Math.abs(Number(box[1]) * MM_PER_PT - 89) < 0.01, `page width ${Number(box[1]) * MM_PER_PT} mm`);
    assert.ok(!/\/Subtype\s*\/Image/.test(pdf.toString('latin1')), 'no raster image: vector drawing');
    assert.match(pdf.toString('latin1'), /\/BaseFont \/Helvetica/);
  }],
  ['a figure the table cannot give says why, and the page stays usable', async ({ page, consoleErrors }) => {
    await choose(page, 'figure-kind', 'km');
    const err = await page.locator('[data-testid="cohort-figure-error"]').innerText();
    assert.match(err, /^cannot draw: /, 'the demo tables hold no event column: the page says so');
    assert.equal(await page.locator('[data-testid="cohort-figure"]').getAttribute('data-state'), 'error');
    await choose(page, 'figure-kind', 'roc');
    await page.waitForSelector('[data-testid="cohort-figure"][data-kind="roc"][data-state="drawn"] svg');
    assert.deepEqual(consoleErrors, [], 'no page errors');
  }],
];
