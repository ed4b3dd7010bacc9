#!/usr/bin/env node
/**
 * Makes a fresh machine (Node 20 and root, nothing else) ready to run the engine and its tests:
 *   1. pnpm (pinned in package.json "packageManager"), installed with npm when missing;
 *   2. the workspace's dependencies (pnpm install --frozen-lockfile) when missing or stale;
 *   3. a software Vulkan driver for WebGPU (Mesa lavapipe from Debian backports; scripts/setup-vulkan.sh);
 *   4. with --browser: Debian's Chromium for the browser tests;
 *   5. with --bench, or when run as `pnpm bench` / `npm run bench` (npm_lifecycle_event), what scripts/bench.ts needs
 *      beside Node: Debian's Python with NumPy, nibabel and SciPy (the reference scripts), GNU time (peak RSS) and
 *      pigz (the I/O floor); the bench skips what is still missing, with the reason.
 * Every step is skipped when already done, so a second run takes well under a second.
 * Plain Node (no dependencies): it runs before anything is installed.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = new Set(process.argv.slice(2));
const strictGpu = args.has('--require-gpu') || process.env.CI === 'true';
const log = (m) => process.stderr.write(`bootstrap: ${m}\n`);

function run(cmd, argv, opts = {}) {
  const r = spawnSync(cmd, argv, { cwd: root, stdio: ['ignore', 'inherit', 'inherit'], ...opts });
  if (r.error) throw new Error(`${cmd} could not start: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${argv.join(' ')} failed with exit code ${r.status}`);
}

function have(cmd, argv = ['--version']) {
  const r = spawnSync(cmd, argv, { stdio: 'ignore' });
  return !r.error && r.status === 0;
}

// 1. pnpm
const pm = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).packageManager ?? 'pnpm@10';
const pnpmVersion = pm.split('@')[1];
let pnpmOk = false;
try {
  pnpmOk = execFileSync('pnpm', ['--version'], { encoding: 'utf8' }).trim().split('.')[0] === pnpmVersion.split('.')[0];
} catch {}
if (!pnpmOk) {
  log(`installing pnpm ${pnpmVersion} with npm (global)`);
  run('npm', ['install', '-g', '--no-fund', '--no-audit', '--loglevel=error', `pnpm@${pnpmVersion}`]);
}

// 2. dependencies
const marker = join(root, 'node_modules', '.modules.yaml');
const lock = join(root, 'pnpm-lock.yaml');
if (!existsSync(marker) || statSync(lock).mtimeMs > statSync(marker).mtimeMs) {
  log('installing dependencies (pnpm install --frozen-lockfile)');
  run('pnpm', ['install', '--frozen-lockfile', '--reporter=silent']);
}

// 3. Vulkan software driver for WebGPU in Node
const icd = join(root, '.cache', 'vulkan', 'lvp_icd.json');
if (!existsSync(icd)) {
  log('setting up the software Vulkan driver (lavapipe) for WebGPU');
  try {
    run('bash', [join(root, 'scripts', 'setup-vulkan.sh')], { stdio: ['ignore', 'ignore', 'inherit'] });
  } catch (err) {
    if (strictGpu) throw err;
    log(`WebGPU will be unavailable (${err.message}); the CPU back end still works`);
  }
}

/** Installs Debian packages with apt-get (sudo when not root); throws when apt fails. */
function aptInstall(packages) {
  const sudo = process.getuid && process.getuid() !== 0 ? ['sudo'] : [];
  const apt = (a) => run(sudo[0] ?? 'apt-get', sudo.length ? ['apt-get', ...a] : a, { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  apt(['update', '-qq']);
  apt(['install', '-y', '-qq', '--no-install-recommends', ...packages]);
}

// 4. With --browser (the test command): Debian's Chromium for the browser tests, and the independent checkers some
//    tests run when present (pydicom and dicom3tools' dciodvfy for the RT Dose files). Missing ones are installed with
//    apt; when that fails the tests concerned skip with a printed reason.
if (args.has('--browser')) {
  const wanted = [
    ['chromium', () => existsSync('/usr/bin/chromium')],
    ['fonts-dejavu-core', () => existsSync('/usr/share/fonts/truetype/dejavu')],
    ['python3-pydicom', () => have('/usr/bin/python3', ['-c', 'import pydicom'])],
    // pydicom decodes pixel data only through NumPy, which --no-install-recommends leaves out
    ['python3-numpy', () => have('/usr/bin/python3', ['-c', 'import numpy'])],
    ['dicom3tools', () => have('sh', ['-c', 'command -v dciodvfy'])],
    // the PDF report's checks render every page and read its text back
    ['poppler-utils', () => have('sh', ['-c', 'command -v pdftoppm && command -v pdftotext'])],
    // the research statistics are checked against R's survival and pROC on R's own public data sets
    ['r-base-core', () => have('sh', ['-c', 'command -v Rscript'])],
    ['r-cran-survival', () => have('sh', ['-c', 'Rscript -e "library(survival)"'])],
    ['r-cran-proc', () => have('sh', ['-c', 'Rscript -e "library(pROC)"'])],
    // batch --slurm runs on a real single-node Slurm (controller and node daemon on 127.0.0.1, munge for auth)
    ['slurm-wlm', () => have('sh', ['-c', 'command -v slurmctld && command -v slurmd && command -v sbatch'])],
    ['munge', () => have('sh', ['-c', 'command -v munged'])],
    // the Kubernetes Indexed Job manifests (deploy/k8s) are parsed to run their pods' commands
    ['python3-yaml', () => have('/usr/bin/python3', ['-c', 'import yaml'])],
    // DICOMweb is tested against a real PACS (Orthanc with its DICOMweb plugin, on 127.0.0.1)
    ['orthanc', () => existsSync('/usr/sbin/Orthanc')],
    ['orthanc-dicomweb', () => existsSync('/usr/share/orthanc/plugins/libOrthancDicomWeb.so')],
    // compressed DICOM: GDCM recompresses the test studies and decodes the reference pixels independently
    ['libgdcm-tools', () => have('sh', ['-c', 'command -v gdcmconv'])],
    ['python3-gdcm', () => have('/usr/bin/python3', ['-c', 'import gdcm'])],
  ].filter(([, ok]) => !ok()).map(([p]) => p);
  if (wanted.length) {
    log(`installing Debian packages for the tests: ${wanted.join(' ')}`);
    try {
      aptInstall(wanted);
    } catch (err) {
      if (wanted.includes('chromium')) throw err;
      log(`could not install ${wanted.join(' ')} (${err.message}); the tests that need them skip with a printed reason`);
    }
  }
}
// 5. With --bench (or as the bench script): the reference scripts' Python packages, GNU time and pigz. Missing ones
//    are installed with apt; when that fails the bench skips the rows concerned with a printed reason.
if (args.has('--bench') || process.env.npm_lifecycle_event === 'bench') {
  const py = (m) => () => have('/usr/bin/python3', ['-c', `import ${m}`]);
  const wanted = [
    ['python3-numpy', py('numpy')],
    ['python3-nibabel', py('nibabel')],
    ['python3-scipy', py('scipy')],
    ['time', () => existsSync('/usr/bin/time')],
    ['pigz', () => have('pigz')],
  ].filter(([, ok]) => !ok()).map(([p]) => p);
  if (wanted.length) {
    log(`installing Debian packages for the bench: ${wanted.join(' ')}`);
    try {
      aptInstall(wanted);
    } catch (err) {
      log(`could not install ${wanted.join(' ')} (${err.message}); the bench skips the rows that need them, with the reason`);
    }
  }
}
if (!have('node', ['-e', '0'])) throw new Error('node not found');
