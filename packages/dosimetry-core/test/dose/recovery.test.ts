import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileError, FormatError, InputError } from '../../src/errors.ts';
import {
  applyRecoveryCorrection,
  correctLesion,
  parseRecoveryTable,
  readRecoveryTable,
  recoveryCoefficientAt,
  recoveryTableFromRows,
  sphereVolumeMl,
  type PvcStructure,
} from '../../src/dose/recovery.ts';

describe('recovery-coefficient table: reading and refusals', () => {
  it('reads CSV by diameter or by volume, in either column order, sorted by size', () => {
    const t = parseRecoveryTable('# NEMA IEC body phantom, 4:1\ndiameterMm,rc\n22,0.7\n10,0.3\n\n37,0.9\n', 'rc.csv');
    expect(t.sizeKind).toBe('diameterMm');
    expect(t.points.map((p) => p.diameterMm)).toEqual([10, 22, 37]);
    expect(t.points[0].volumeMl).toBeCloseTo((Math.PI * 1000) / 6 / 1000, 12); // 10 mm sphere: 0.5236 mL
    const v = parseRecoveryTable('rc,volumeMl\r\n0.4,0.5\r\n0.8,11.5\r\n', 'v.csv');
    expect(v.sizeKind).toBe('volumeMl');
    expect(v.points[0].diameterMm).toBeCloseTo(Math.cbrt((6 * 500) / Math.PI), 10); // 9.847 mm
    expect(v.points.map((p) => p.rc)).toEqual([0.4, 0.8]);
  });

  it('reads the JSON equivalent (object or bare array) and files', () => {
    const a = parseRecoveryTable('{ "spheres": [ { "diameterMm": 13, "rc": 0.45 }, { "diameterMm": 28, "rc": 0.82 } ] }');
    expect(a.points.map((p) => [p.diameterMm, p.rc])).toEqual([[13, 0.45], [28, 0.82]]);
    const b = parseRecoveryTable('[ { "volumeMl": 1, "rc": 0.5 }, { "volumeMl": 2, "rc": 0.6 } ]');
    expect(b.sizeKind).toBe('volumeMl');
    const dir = mkdtempSync(join(tmpdir(), 'rc-'));
    writeFileSync(join(dir, 'rc.json'), JSON.stringify({ spheres: [{ diameterMm: 10, rc: 0.3 }, { diameterMm: 37, rc: 0.9 }] }));
    expect(readRecoveryTable(join(dir, 'rc.json')).source).toBe(join(dir, 'rc.json'));
    expect(() => readRecoveryTable(join(dir, 'missing.csv'))).toThrow(FileError);
  });

  it.each([
    ['one row', 'diameterMm,rc\n10,0.3\n', /at least 2 spheres/],
    ['RC above 1.2', 'diameterMm,rc\n10,0.3\n20,1.3\n', /\(0, 1\.2\]/],
    ['a percentage', 'diameterMm,rc\n10,30\n20,60\n', /percentage/],
    ['RC of zero', 'diameterMm,rc\n10,0\n20,0.6\n', /\(0, 1\.2\]/],
    ['RC falling with size', 'diameterMm,rc\n10,0.3\n17,0.7\n22,0.65\n', /must not decrease/],
    ['a repeated sphere', 'diameterMm,rc\n10,0.3\n10,0.35\n', /two spheres/],
    ['a negative diameter', 'diameterMm,rc\n-10,0.3\n20,0.6\n', /positive/],
    ['an unknown size column', 'radiusMm,rc\n5,0.3\n10,0.6\n', /unknown size column/],
    ['no rc column', 'diameterMm,recovery\n10,0.3\n20,0.6\n', /expected diameterMm,rc/],
    ['a decimal comma', 'diameterMm,rc\n10,"0,3"\n20,0.6\n', /expected 2 cells|not a number/],
    ['text in a cell', 'diameterMm,rc\n10 mm,0.3\n20,0.6\n', /not a number/],
    ['empty', '\n# only a comment\n', /empty/],
    ['broken JSON', '{ "spheres": [ ', /not valid JSON/],
    ['JSON mixing sizes', '[ { "diameterMm": 10, "rc": 0.3 }, { "volumeMl": 5, "rc": 0.6 } ]', /mix/],
  ])('refuses %s with a FormatError that says what to do', (_what, text, message) => {
    expect(() => parseRecoveryTable(text, 't.csv')).toThrow(FormatError);
    expect(() => parseRecoveryTable(text, 't.csv')).toThrow(message);
  });
});

describe('recovery-coefficient interpolation (linear in equivalent diameter)', () => {
  const t = recoveryTableFromRows([{ size: 10, rc: 0.3 }, { size: 20, rc: 0.7 }, { size: 40, rc: 0.9 }], 'diameterMm', 'test');
  it('returns the table values at the table spheres', () => {
    for (const p of t.points) expect(recoveryCoefficientAt(t, sphereVolumeMl(p.diameterMm))).toEqual({ rc: p.rc });
  });
  it('interpolates linearly in diameter between spheres', () => {
    expect(recoveryCoefficientAt(t, sphereVolumeMl(15)).rc).toBeCloseTo(0.5, 12);
    expect(recoveryCoefficientAt(t, sphereVolumeMl(12.5)).rc).toBeCloseTo(0.4, 12);
    expect(recoveryCoefficientAt(t, sphereVolumeMl(35)).rc).toBeCloseTo(0.85, 12);
  });
  it('flags lesions below the smallest sphere and clamps above the largest', () => {
    expect(recoveryCoefficientAt(t, sphereVolumeMl(9.9))).toEqual({ rc: undefined, flag: 'below smallest sphere' });
    expect(recoveryCoefficientAt(t, sphereVolumeMl(60))).toEqual({ rc: 0.9, clamped: 'above largest sphere' });
    expect(() => recoveryCoefficientAt(t, 0)).toThrow(InputError);
  });
  it('corrects mean dose and activity by 1/RC, and leaves a flagged lesion uncorrected', () => {
    const c = correctLesion(t, { volumeMl: sphereVolumeMl(15), meanGy: 100, activityGBq: 0.2 });
    expect(c.rc).toBeCloseTo(0.5, 12);
    expect(c.meanGyCorrected).toBeCloseTo(200, 9);
    expect(c.activityGBqCorrected).toBeCloseTo(0.4, 12);
    const f = correctLesion(t, { volumeMl: sphereVolumeMl(5), meanGy: 100, activityGBq: 0.2 });
    expect(f).toMatchObject({ rc: null, meanGyCorrected: null, activityGBqCorrected: null, flag: 'below smallest sphere' });
  });
  it('corrects only tumour structures and says which lesions are flagged', () => {
    const s: PvcStructure[] = [
      { name: 'Liver', role: 'liver', volumeMl: 1500, meanGy: 40, activityGBq: 1 },
      { name: 'Tumor #1', role: 'tumor', volumeMl: sphereVolumeMl(20), meanGy: 140, activityGBq: 0.1, lesionOf: 'Tumor' },
      { name: 'Tumor #2', role: 'tumor', volumeMl: sphereVolumeMl(6), meanGy: 60, activityGBq: 0.01, lesionOf: 'Tumor' },
    ];
    const w = applyRecoveryCorrection(s, t, { splitLesions: true });
    expect(s[0].pvc).toBeUndefined();
    expect(s[1].pvc).toMatchObject({ rc: 0.7, meanGyCorrected: 200 });
    expect(s[2].pvc).toMatchObject({ flag: 'below smallest sphere', meanGyCorrected: null });
    expect(w.join('\n')).toMatch(/Tumor #2 \(6\.0 mm\) below the smallest sphere/);
  });
});

// ---- A NEMA measurement simulated: spheres in a warm background, blurred by a Gaussian PSF ----

/** A sphere of concentration sphereC in background bkgC on an isotropic grid, with 4^3-subsampled partial voxels. */
function sphereImage(diameterMm: number, spacingMm: number, padMm: number, offsetVox: number, sphereC: number, bkgC: number) {
  const n = Math.ceil((diameterMm + 2 * padMm) / spacingMm);
  const c = n / 2 + offsetVox; // sphere centre in voxel units (voxel i covers [i, i+1))
  const r = diameterMm / 2 / spacingMm;
  const img = new Float64Array(n * n * n);
  const inside = new Uint8Array(n * n * n); // VOI: voxels whose centre lies in the true sphere
  const sub = 4;
  for (let k = 0; k < n; k++)
    for (let j = 0; j < n; j++)
      for (let i = 0; i < n; i++) {
        const idx = i + n * (j + n * k);
        let hits = 0;
        for (let c3 = 0; c3 < sub ** 3; c3++) {
          const x = i + ((c3 % sub) + 0.5) / sub - c, y = j + ((Math.floor(c3 / sub) % sub) + 0.5) / sub - c, z = k + (Math.floor(c3 / sub ** 2) + 0.5) / sub - c;
          if (x * x + y * y + z * z <= r * r) hits++;
        }
        img[idx] = bkgC + ((sphereC - bkgC) * hits) / sub ** 3;
        const x = i + 0.5 - c, y = j + 0.5 - c, z = k + 0.5 - c;
        inside[idx] = x * x + y * y + z * z <= r * r ? 1 : 0;
      }
  return { n, img, inside };
}

/** Separable Gaussian blur (sigma = FWHM / 2.3548, sampled kernel to 4 sigma, normalised), edges replicated. */
function gaussianBlur(img: Float64Array, n: number, fwhmMm: number, spacingMm: number): Float64Array {
  const sigmaVox = fwhmMm / (2 * Math.sqrt(2 * Math.LN2)) / spacingMm;
  const rad = Math.ceil(4 * sigmaVox);
  const w = Array.from({ length: 2 * rad + 1 }, (_, t) => Math.exp(-((t - rad) ** 2) / (2 * sigmaVox ** 2)));
  const sum = w.reduce((a, b) => a + b, 0);
  for (let t = 0; t < w.length; t++) w[t] /= sum;
  let src = img;
  const strides = [1, n, n * n];
  for (const stride of strides) {
    const dst = new Float64Array(src.length);
    for (let idx = 0; idx < src.length; idx++) {
      const pos = Math.floor(idx / stride) % n;
      let acc = 0;
      for (let t = -rad; t <= rad; t++) {
        const q = Math.min(n - 1, Math.max(0, pos + t));
        acc += w[t + rad] * src[idx + (q - pos) * stride];
      }
      dst[idx] = acc;
    }
    src = dst;
  }
  return src;
}

/** Measured mean concentration in the sphere's VOI after blurring. */
function measuredMean(diameterMm: number, spacingMm: number, fwhmMm: number, offsetVox: number, sphereC: number, bkgC: number): number {
  const { n, img, inside } = sphereImage(diameterMm, spacingMm, 2.5 * fwhmMm, offsetVox, sphereC, bkgC);
  const b = gaussianBlur(img, n, fwhmMm, spacingMm);
  let s = 0, m = 0;
  for (let i = 0; i < b.length; i++) if (inside[i]) (s += b[i]), m++;
  return s / m;
}

describe('RC correction of Gaussian-blurred spheres in a warm background (NEMA-style table from the same scanner)', () => {
  const NEMA_DIAMETERS_MM = [10, 13, 17, 22, 28, 37]; // NEMA NU 2 / IEC body phantom spheres
  const SPHERE_C = 4, BKG_C = 1; // 4:1 sphere-to-background, as in NEMA NU 2
  // [voxel size mm, PSF FWHM mm]
  it.each([[2, 8], [3, 10], [4, 9]])('voxels %d mm, FWHM %d mm: corrected mean within 5 %% of the truth for d > 2 FWHM', (spacingMm, fwhmMm) => {
    // the scanner's table: each sphere centred on a voxel corner, RC = measured / true mean in the sphere's VOI
    const table = recoveryTableFromRows(
      NEMA_DIAMETERS_MM.map((d) => ({ size: d, rc: measuredMean(d, spacingMm, fwhmMm, 0, SPHERE_C, BKG_C) / SPHERE_C })),
      'diameterMm',
      'simulated NEMA',
    );
    expect(table.points[0].rc).toBeLessThan(0.75); // the small spheres lose counts: a correction is needed
    // lesions of intermediate diameters, placed off the voxel lattice (a different sampling from the table's)
    const lesions = [15, 19.5, 25, 32].filter((d) => d > 2 * fwhmMm);
    expect(lesions.length).toBeGreaterThan(0);
    for (const d of lesions) {
      const measured = measuredMean(d, spacingMm, fwhmMm, 0.37, SPHERE_C, BKG_C);
      const c = correctLesion(table, { volumeMl: sphereVolumeMl(d), meanGy: measured, activityGBq: measured * sphereVolumeMl(d) });
      // tolerance 5 %: the brief's acceptance figure (interpolation between spheres + voxel sampling of the VOI)
      expect(Math.abs(c.meanGyCorrected! / SPHERE_C - 1), `d=${d} mm, uncorrected ${(measured / SPHERE_C).toFixed(3)}`).toBeLessThan(0.05);
      expect(c.activityGBqCorrected! / (SPHERE_C * sphereVolumeMl(d))).toBeCloseTo(c.meanGyCorrected! / SPHERE_C, 12);
    }
    // a lesion smaller than the smallest sphere: flagged, not corrected
    const small = correctLesion(table, { volumeMl: sphereVolumeMl(8), meanGy: measuredMean(8, spacingMm, fwhmMm, 0.37, SPHERE_C, BKG_C), activityGBq: 0.01 });
    expect(small).toMatchObject({ flag: 'below smallest sphere', rc: null, meanGyCorrected: null });
  });

  it('the uncorrected mean of a 19.5 mm lesion under a 8 mm PSF is biased low by more than 5 % (the test can fail)', () => {
    expect(measuredMean(19.5, 2, 8, 0.37, SPHERE_C, BKG_C) / SPHERE_C).toBeLessThan(0.95);
  });
});
