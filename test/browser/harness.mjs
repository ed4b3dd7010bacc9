/**
 * Shared pieces of the browser tests and the viewer benchmark: start the viewer CLI on a case folder, launch
 * Debian's Chromium through playwright-core (never downloads a browser), and record every request a page makes.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Chromium flags: WebGPU on the software adapter (SwiftShader Vulkan) and no background traffic. */
export const CHROMIUM_ARGS = [
  '--enable-unsafe-webgpu',
  '--enable-features=Vulkan',
  '--use-angle=swiftshader',
  '--use-webgpu-adapter=swiftshader',
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-default-apps',
  '--disable-domain-reliability',
  '--metrics-recording-only',
];

/** Starts `packages/viewer/src/server/main.ts CASE_DIR [args]` and resolves with its printed URL. */
export function startViewer(caseDir, extraArgs = [], { timeoutMs = 60_000 } = {}) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'packages/viewer/src/server/main.ts', caseDir, ...extraArgs], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, INIT_CWD: REPO_ROOT },
  });
  let out = '';
  let err = '';
  return new Promise((ok, fail) => {
    const timer = setTimeout(() => {
      child.kill();
      fail(new Error(`viewer did not print its URL within ${timeoutMs} ms; stderr: ${err}`));
    }, timeoutMs);
    child.stderr.on('data', (d) => (err += d));
    child.stdout.on('data', (d) => {
      out += d;
      const line = out.split('\n')[0];
      if (out.includes('\n')) {
        clearTimeout(timer);
        ok({ url: line.trim(), stdout: () => out, stderr: () => err, stop: () => new Promise((r) => { child.once('exit', r); child.kill('SIGTERM'); }) });
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      fail(new Error(`viewer exited with ${code} before printing a URL; stderr: ${err.trim()}`));
    });
  });
}

/** Launches headless Chromium; throws with a fix when it is not installed. */
export async function launchBrowser() {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found: install it with \`apt-get install -y chromium\` (or set CHROMIUM_PATH)`);
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
}

/** A page whose every request is recorded; requests not to `origin` are aborted and kept in `foreign`. */
export async function guardedPage(browser, origin, { width = 1400, height = 1000 } = {}) {
  const context = await browser.newContext({ viewport: { width, height }, deviceScaleFactor: 1, acceptDownloads: true });
  const requests = [];
  const foreign = [];
  await context.route('**/*', (route) => {
    const url = route.request().url();
    requests.push(url);
    if (url.startsWith(origin)) return route.continue();
    foreign.push(url);
    return route.abort();
  });
  const page = await context.newPage();
  const consoleErrors = [];
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  page.on('console', (m) => m.type() === 'error' && consoleErrors.push(m.text()));
  return { context, page, requests, foreign, consoleErrors };
}

/** Opens the viewer and waits until its first frame is drawn (body[data-ready]). */
export async function openViewer(page, url, query = '') {
  await page.goto(url + query);
  await page.waitForFunction(() => document.body.dataset.ready === '1' || document.body.dataset.ready === 'error', null, { timeout: 120_000 });
  const state = await page.evaluate(() => document.body.dataset.ready);
  if (state !== '1') throw new Error(`viewer failed to start: ${await page.evaluate(() => window.__viewer?.error)}`);
}

/**
 * The pass/fail bookkeeping of a browser runner: `check(name, fn)` runs one check and prints "ok"/"FAIL" with its time,
 * `fail(what, err)` records a failure outside a check (the setup), `exit()` prints 'N passed, N failed' and exits
 * (1 on any failure).
 */
export function checkRecorder() {
  const results = [];
  return {
    async check(name, fn) {
      const t0 = Date.now();
      try {
        await fn();
        results.push(true);
        console.log(`  ok   ${name} (${Date.now() - t0} ms)`);
      } catch (err) {
        results.push(false);
        console.log(`  FAIL ${name}: ${err.message.split('\n').slice(0, 12).join(' ')}`);
      }
    },
    fail(what, err) {
      results.push(false);
      console.log(`  FAIL ${what}: ${err.message}`);
    },
    exit() {
      const passed = results.filter(Boolean).length;
      console.log(`${passed} passed, ${results.length - passed} failed`);
      process.exit(results.length - passed ? 1 : 0);
    },
  };
}

/**
 * The dose and relative standard error in a case folder's dose.nii.gz and dose_uncertainty.nii.gz at the voxels
 * nearest to LPS points [mm] (the core's NIfTI reader, under tsx), with each voxel's centre (LPS [mm]: the page is asked
 * there, so that no rounding at a voxel face picks a neighbour).
 */
export function caseDoseAt(caseDir, points) {
  const code = `
    const { readNifti } = await import(${JSON.stringify(join(REPO_ROOT, 'packages/dosimetry-core/src/io/nifti.ts'))});
    const { indexToWorld, worldToIndex } = await import(${JSON.stringify(join(REPO_ROOT, 'packages/dosimetry-core/src/volume/geometry.ts'))});
    const dose = readNifti(${JSON.stringify(join(caseDir, 'dose.nii.gz'))}).volume;
    const rel = readNifti(${JSON.stringify(join(caseDir, 'dose_uncertainty.nii.gz'))}).volume;
    const [nx, ny] = dose.geometry.dims;
    const out = ${JSON.stringify(points)}.map((p) => {
      const q = worldToIndex(dose.geometry, p[0], p[1], p[2]).map((x) => Math.floor(x + 0.5));
      const v = q[0] + nx * (q[1] + ny * q[2]);
      return { doseGy: dose.data[v], relStdErr: rel.data[v], centreLps: indexToWorld(dose.geometry, q[0], q[1], q[2]) };
    });
    process.stdout.write(JSON.stringify(out));`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { cwd: REPO_ROOT, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`reading ${caseDir}'s dose and uncertainty failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

/** Sets a viewer control (by data-testid) as a user would, fires its input and change events, and redraws. */
export async function setControl(page, testid, value) {
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

/**
 * `dosimetry dose --method mc` on the demo phantom (its four tumours and the lungs; with `ctPath` its CT) on the CPU
 * back end: report.json and the histories/s the CLI printed.
 */
export function cliPhantomMc(phantomDir, outDir, { histories, seed, ctPath }) {
  const d = phantomDir;
  const r = spawnSync(process.execPath, [
    'scripts/dosimetry.mjs', 'dose', '--activity', join(d, 'activity_bqml.nii.gz'), '--activity-unit', 'bq-per-ml', '--scan-delay-h', '0',
    '--segmentation', join(d, 'segmentation.seg.nrrd'), '--liver', 'Liver', '--tumor', 'Tumor A', '--tumor', 'Tumor B', '--tumor', 'Tumor C', '--tumor', 'Tumor D',
    '--lung', 'Lungs', ...(ctPath ? ['--ct', ctPath] : []), '--isotope', 'Y90', '--method', 'mc', '--mc-histories', String(histories), '--seed', String(seed),
    '--backend', 'cpu', '--out', outDir,
  ], { cwd: REPO_ROOT, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`dose --method mc failed (exit ${r.status}): ${r.stderr}`);
  const hps = /([\d,]+) histories\/s/.exec(r.stdout)?.[1]?.replace(/,/g, '');
  return { report: JSON.parse(readFileSync(join(outDir, 'report.json'), 'utf8')), historiesPerSecond: hps === undefined ? NaN : Number(hps) };
}
