/**
 * Browser checks of compressed DICOM dropped on the viewer (packages/viewer/src/client/dicom.ts: the core's DICOM
 * reader, GDCM in WebAssembly from @itk-wasm/dicom served by the viewer under /itk/dicom/):
 * node test/browser/run-dicom-drop.mjs. The real study (../shared/data/dicom-maa-study) is recompressed here with
 * gdcmconv (JPEG-LS lossless CT and NM, JPEG 2000 lossless CT, JPEG-LS near-lossless NM); every decoded series must hold
 * the voxels the Node reader gives for the uncompressed study (sum compared exactly), the near-lossless one within its
 * bound and with the lossy warning shown. Skips with a printed reason when the study, gdcmconv or Chromium is absent.
 * Prints 'N passed, N failed'; exit 1 on any failure.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { CHROMIUM, REPO_ROOT, guardedPage, launchBrowser, openViewer, startViewer, checkRecorder } from './harness.mjs';

const STUDY = join(REPO_ROOT, '..', 'shared', 'data', 'dicom-maa-study');
const GDCMCONV = spawnSync('sh', ['-c', 'command -v gdcmconv'], { encoding: 'utf8' }).stdout.trim();
const skip = !existsSync(join(STUDY, 'NM')) ? `${STUDY} is absent (../shared/data is not mounted)` : !GDCMCONV ? 'gdcmconv is absent (apt-get install libgdcm-tools)' : !existsSync(CHROMIUM) ? `${CHROMIUM} is absent` : '';
if (skip) {
  console.log(`skipping the DICOM drop checks: ${skip}`);
  console.log('0 passed, 0 failed');
  process.exit(0);
}

const { check, fail, exit } = checkRecorder();

/** Voxel sums of the uncompressed study's NM and CT through the Node reader (float64, x-fastest, as the page sums). */
function nodeSums() {
  const code = `
    const { readDicomVolume } = await import(${JSON.stringify(join(REPO_ROOT, 'packages/dosimetry-core/src/io/dicom/index.ts'))});
    const out = {};
    for (const s of ['NM', 'CT']) { const v = (await readDicomVolume(${JSON.stringify(STUDY)} + '/' + s)).volume; let t = 0; for (let i = 0; i < v.data.length; i++) t += v.data[i]; out[s] = { sum: t, dims: v.geometry.dims }; }
    process.stdout.write(JSON.stringify(out));`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { cwd: REPO_ROOT, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`reading the study in Node failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

/** STUDY/sub recompressed with gdcmconv `args` into dir/sub; returns the file paths. */
function recompress(dir, sub, args) {
  mkdirSync(join(dir, sub), { recursive: true });
  return readdirSync(join(STUDY, sub)).sort().map((f) => {
    const out = join(dir, sub, f);
    const r = spawnSync(GDCMCONV, [...args, join(STUDY, sub, f), out], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`gdcmconv ${args.join(' ')} ${f}: ${r.stderr}`);
    return out;
  });
}

/** Drops files on the page as a user would (as viewer.spec.mjs dropFiles), waiting for `series` rows (a series is many files). */
async function dropFiles(page, paths, series) {
  const files = paths.map((p) => ({ name: basename(p), b64: readFileSync(p).toString('base64') }));
  await page.evaluate((fs) => {
    const dt = new DataTransfer();
    for (const f of fs) dt.items.add(new File([Uint8Array.from(atob(f.b64), (c) => c.charCodeAt(0))], f.name));
    document.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
  }, files);
  await page.waitForFunction((n) => document.querySelectorAll('#drop-files tr').length >= n || document.getElementById('drop-status').dataset.state === 'error', series, { timeout: 120_000 });
  const st = page.locator('[data-testid="drop-status"]');
  assert.notEqual(await st.getAttribute('data-state'), 'error', `drop failed: ${await st.innerText()}`);
}

/** The drop list's rows: name, size text and the decoded voxel sum. */
async function rows(page) {
  return page.locator('#drop-files tr').evaluateAll((trs) => trs.map((tr) => ({ name: tr.dataset.file, voxelSum: Number(tr.dataset.voxelSum), role: tr.querySelector('select').value })));
}

const work = mkdtempSync(join(tmpdir(), 'sirt-dicom-drop-'));
let browser;
let server;
try {
  const sums = nodeSums();
  // a case to open the viewer on (the drop panel then replaces it): dose on the uncompressed study, CPU
  const caseDir = join(work, 'case');
  const dose = spawnSync(process.execPath, ['scripts/dosimetry.mjs', 'dose', '--activity', join(STUDY, 'NM'), '--activity-unit', 'counts', '--administered-gbq', '2',
    '--segmentation', join(STUDY, 'RTSTRUCT'), '--liver', 'Lung', '--tumor', 'Tumor', '--isotope', 'Y90', '--method', 'ldm', '--backend', 'cpu', '--out', caseDir, '--quiet'], { cwd: REPO_ROOT, encoding: 'utf8' });
  if (dose.status !== 0) throw new Error(`dose for the viewer's case failed: ${dose.stderr}`);
  const jls = join(work, 'jpegls');
  const nmJls = recompress(jls, 'NM', ['--jpegls']);
  const ctJls = recompress(jls, 'CT', ['--jpegls']);
  const ctJ2k = recompress(join(work, 'j2k'), 'CT', ['--j2k']);
  const nmNear = recompress(join(work, 'near'), 'NM', ['--jpegls', '--lossy', '-e', '2']);
  browser = await launchBrowser();
  server = await startViewer(caseDir);
  const origin = new URL(server.url).origin;
  const g = await guardedPage(browser, origin);
  await openViewer(g.page, server.url, '?backend=cpu');
  const { page } = g;

  await check('JPEG-LS NM (80 frames) and CT (78 files) dropped: decoded in the page to the Node reader\'s voxels, roles activity and ct', async () => {
    await dropFiles(page, [...nmJls, ...ctJls], 2);
    const r = await rows(page);
    const nm = r.find((x) => x.name.startsWith(`NM ${sums.NM.dims.join('x')}`));
    const ct = r.find((x) => x.name.startsWith(`CT ${sums.CT.dims.join('x')}`));
    assert.ok(nm && ct, `rows: ${JSON.stringify(r)}`);
    assert.equal(nm.role, 'activity');
    assert.equal(ct.role, 'ct');
    assert.equal(nm.voxelSum, sums.NM.sum);
    assert.equal(ct.voxelSum, sums.CT.sum);
    assert.doesNotMatch(await page.locator('[data-testid="drop-status"]').innerText(), /lossily/);
  });

  await check('JPEG 2000 lossless CT dropped: the same voxels', async () => {
    await page.locator('#drop-clear').click();
    await dropFiles(page, ctJ2k, 1);
    const [ct] = await rows(page);
    assert.equal(ct.voxelSum, sums.CT.sum);
  });

  await check('JPEG-LS near-lossless NM dropped: decoded, the lossy warning shown, counts within the NEAR bound in sum', async () => {
    await page.locator('#drop-clear').click();
    await dropFiles(page, nmNear, 1);
    const [nm] = await rows(page);
    const voxels = sums.NM.dims.reduce((a, b) => a * b, 1);
    assert.ok(Math.abs(nm.voxelSum - sums.NM.sum) <= 2 * voxels, `sum ${nm.voxelSum} vs ${sums.NM.sum}`);
    assert.notEqual(nm.voxelSum, sums.NM.sum);
    assert.match(await page.locator('[data-testid="drop-status"]').innerText(), /warning: .*compressed lossily \(JPEG-LS Near-Lossless with NEAR = 2/);
  });

  await check('nothing fetched from elsewhere; no page errors; the pipeline came from /itk/dicom/', async () => {
    assert.deepEqual(g.foreign, []);
    assert.deepEqual(g.consoleErrors, []);
    assert.ok(g.requests.some((u) => u.includes('/itk/dicom/read-image-dicom-file-series')), 'no pipeline request');
  });
} catch (err) {
  fail('setup', err);
} finally {
  await browser?.close();
  await server?.stop();
  rmSync(work, { recursive: true, force: true });
}
exit();
