/**
 * The viewer's Monte Carlo uncertainty overlay, without a browser: the CPU renderer (render-cpu.ts, the oracle of
 * slice.wgsl) colours the dose's pixels by the relative standard error when asked, the uniform block tells the shader
 * the same (render-gpu.ts writeParams), and the server sends a case folder's dose_uncertainty.nii.gz as the
 * 'uncertainty' volume (server/case.ts), refusing one on another grid. The browser runner test/browser/run-mc-overlay.mjs
 * checks the drawn pixels of both back ends against the CLI's files.
 */
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { encodeNifti, readNifti } from '../../packages/dosimetry-core/src/io/nifti.ts';
import { COLORMAP } from '../../packages/viewer/src/client/colormap.ts';
import { renderSliceCpu } from '../../packages/viewer/src/client/render-cpu.ts';
import { PARAMS_BYTES, writeParams } from '../../packages/viewer/src/client/render-gpu.ts';
import { DEFAULT_UNCERTAINTY_MAX_PERCENT, type DisplaySettings, type SceneVolumes } from '../../packages/viewer/src/client/renderer.ts';
import { type NavState, makeClientVolume, pixelToLps } from '../../packages/viewer/src/client/views.ts';
import { caseJson, loadCase } from '../../packages/viewer/src/server/case.ts';
import { phantomCase, runCli, tempDir } from '../cli/cli-harness.ts';

// A 4 x 1 x 1 dose grid of 10 mm voxels along x; the axial view of 4 px at 10 mm/px puts one voxel per pixel column.
const grid = { dims: [4, 1, 1] as [number, number, number], spacingMm: [10, 10, 10] as [number, number, number], originLpsMm: [0, 0, 0] as [number, number, number], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] };
const doseGy = Float32Array.from([0, 3, 50, 120]);
const rel = Float32Array.from([0, 0.5, 0.05, NaN]);
const vols: SceneVolumes = { dose: makeClientVolume(grid, doseGy), doseRelStdErr: makeClientVolume(grid, rel) };
const nav: NavState = { crosshair: [15, 0, 0], centre: [15, 0, 0], mmPerPx: 10 };
const settings = (over: Partial<DisplaySettings>): DisplaySettings => ({
  windowCentreHu: 40, windowWidthHu: 400, doseScale: 1, colorMaxGy: 200, thresholdGy: 1, opacity: 1, showDose: true,
  isodoseGy: [], visibleMask: 0, structureColors: [], ...over,
});
const row = (s: DisplaySettings) => {
  const m = pixelToLps('axial', nav, 4, 1);
  const rgba = new Uint8ClampedArray(4 * 4);
  renderSliceCpu(vols, m, 4, 1, s, rgba);
  return [0, 1, 2, 3].map((x) => [rgba[4 * x], rgba[4 * x + 1], rgba[4 * x + 2]]);
};
const entry = (i: number) => [COLORMAP[3 * i], COLORMAP[3 * i + 1], COLORMAP[3 * i + 2]];

describe('CPU renderer: the uncertainty overlay', () => {
  it('colours each dosed pixel by floor(256 min(1, 100 r / max)) of its relative standard error; the dose overlay by D / Dmax', () => {
    const dose = row(settings({}));
    expect(dose[2]).toEqual(entry(Math.floor((256 * 50) / 200)));
    expect(dose[3]).toEqual(entry(Math.floor((256 * 120) / 200)));
    const unc = row(settings({ overlay: 'uncertainty' }));
    // no CT: grey 0; voxel 0 has no dose (not coloured); voxel 1 (3 Gy) is above the 1 Gy threshold
    expect(unc[0]).toEqual([0, 0, 0]);
    expect(unc[1]).toEqual(entry(255)); // 50 % of a 20 % bar: the top entry
    expect(unc[2]).toEqual(entry(Math.floor((256 * 5) / DEFAULT_UNCERTAINTY_MAX_PERCENT))); // 5 % of 20 %: entry 64
    expect(unc[3]).toEqual(entry(0)); // NaN: 0 %
    const wide = row(settings({ overlay: 'uncertainty', uncertaintyMaxPercent: 80 }));
    expect(wide[1]).toEqual(entry(Math.floor((256 * 50) / 80)));
    expect(wide[2]).toEqual(entry(Math.floor((256 * 5) / 80)));
  });

  it('colours only where the dose overlay would (dose > 0 and >= threshold), and not without the uncertainty volume', () => {
    const high = row(settings({ overlay: 'uncertainty', thresholdGy: 10 }));
    expect(high[1]).toEqual([0, 0, 0]); // 3 Gy < 10 Gy
    expect(high[2]).toEqual(entry(64));
    const m = pixelToLps('axial', nav, 4, 1);
    const rgba = new Uint8ClampedArray(16);
    renderSliceCpu({ dose: vols.dose }, m, 4, 1, settings({ overlay: 'uncertainty' }), rgba);
    expect([rgba[8], rgba[9], rgba[10]]).toEqual(entry(Math.floor((256 * 50) / 200))); // the dose colours instead
  });

  it('the shader\'s uniforms: canvas.z = 1 and canvas.w = the bar\'s top only with an uncertainty volume and overlay', () => {
    const m = pixelToLps('axial', nav, 4, 1);
    const at = (v: SceneVolumes, s: DisplaySettings) => Array.from(new Float32Array(writeParams(v, m, 4, 1, s)).subarray(76, 80));
    expect(new Float32Array(writeParams(vols, m, 4, 1, settings({}))).byteLength).toBe(PARAMS_BYTES);
    expect(at(vols, settings({ overlay: 'uncertainty', uncertaintyMaxPercent: 35 }))).toEqual([4, 1, 1, 35]);
    expect(at(vols, settings({ overlay: 'uncertainty' }))).toEqual([4, 1, 1, DEFAULT_UNCERTAINTY_MAX_PERCENT]);
    expect(at(vols, settings({ overlay: 'dose' }))[2]).toBe(0);
    expect(at({ dose: vols.dose }, settings({ overlay: 'uncertainty' }))[2]).toBe(0);
  });
});

describe('server: a Monte Carlo case folder', () => {
  let mcDir = '';
  beforeAll(async () => {
    const phantom = await phantomCase();
    mcDir = join(tempDir('viewer-mc'), 'mc');
    const r = await runCli([
      'dose', '--activity', join(phantom, 'activity_counts.nrrd'), '--activity-unit', 'counts', '--administered-gbq', '2', '--isotope', 'Y90',
      '--segmentation', join(phantom, 'segmentation.seg.nrrd'), '--liver', 'Liver', '--tumor', 'Tumor A', '--lung', 'Lungs',
      '--method', 'mc', '--mc-histories', '4000', '--seed', '5', '--backend', 'cpu', '--quiet', '--out', mcDir,
    ]);
    if (r.code !== 0) throw new Error(`dose exited ${r.code}: ${r.stderr}`);
  }, 300_000);

  it('sends dose_uncertainty.nii.gz as the "uncertainty" volume on the dose grid, voxel for voxel', async () => {
    const c = await loadCase({ caseDir: mcDir });
    const u = c.volumes.find((v) => v.name === 'uncertainty');
    expect(u).toBeDefined();
    const file = readNifti(join(mcDir, 'dose_uncertainty.nii.gz')).volume;
    expect(Array.from(u!.data)).toEqual(Array.from(file.data as Float32Array));
    expect(u!.unit).toBe('relative');
    const cj = caseJson(c);
    const e = cj.volumes.find((v) => v.name === 'uncertainty')!;
    expect(e.url).toBe('/api/volume/uncertainty');
    expect(e.grid).toEqual(cj.volumes.find((v) => v.name === 'dose')!.grid);
    expect(Array.from(u!.data).some((x) => x > 0)).toBe(true);
  });

  it('refuses (with a warning) an uncertainty map on another grid, and a case without one has no such volume', async () => {
    const other = join(tempDir('viewer-mc-other'), 'case');
    cpSync(mcDir, other, { recursive: true });
    const file = readNifti(join(mcDir, 'dose_uncertainty.nii.gz')).volume;
    const [nx, ny, nz] = file.geometry.dims;
    writeFileSync(join(other, 'dose_uncertainty.nii.gz'), encodeNifti({ geometry: { ...file.geometry, dims: [nx + 1, ny, nz] }, data: new Float32Array((nx + 1) * ny * nz) }));
    const c = await loadCase({ caseDir: other });
    expect(c.volumes.some((v) => v.name === 'uncertainty')).toBe(false);
    expect(c.warnings.join(' ')).toMatch(/dose_uncertainty\.nii\.gz is .* voxels.*not shown/);
    rmSync(join(other, 'dose_uncertainty.nii.gz'));
    const plain = await loadCase({ caseDir: other });
    expect(plain.volumes.map((v) => v.name)).not.toContain('uncertainty');
    expect(JSON.parse(readFileSync(join(other, 'report.json'), 'utf8')).method).toBe('mc');
  });
});
