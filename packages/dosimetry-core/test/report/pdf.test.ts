/**
 * The PDF report built from a synthetic case (no CLI): fields that other parts of the engine add to report.json
 * (plan.territories, plan.limitingConstraints, plan.order) are printed; text outside the fonts' encoding is
 * transliterated, never lost; the patient ID and "page i of n" are on every page; flags follow the criteria; the
 * PDF is reproducible for a fixed date. Read back with poppler's pdftotext/pdfinfo (skipped when absent).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { caseReportPdf, type CaseReportInput } from '../../src/report/pdf.ts';
import { computationDate } from '../../src/report/index.ts';
import type { Geometry } from '../../src/volume/geometry.ts';
import type { GridStructure } from '../../src/volume/structure.ts';
import { pdfPageCount, pdfText, popplerMissing, squeeze } from './pdf-tools.ts';

const missing = popplerMissing();
if (missing) console.warn(`skipping the PDF read-back tests: ${missing}`);

const g: Geometry = { dims: [12, 12, 12], spacingMm: [4, 4, 4], originLpsMm: [-22, -22, -22], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] };

/** Structures on the grid: a liver (all but the border), a tumour (a 4^3 block), the normal liver (the rest). */
function structures(): { grid: GridStructure[]; dose: Float32Array } {
  const dose = new Float32Array(12 ** 3);
  const liver: number[] = [], tumour: number[] = [], normal: number[] = [];
  for (let k = 0; k < 12; k++) for (let j = 0; j < 12; j++) for (let i = 0; i < 12; i++) {
    const v = i + 12 * (j + 12 * k);
    const inLiver = i > 0 && j > 0 && k > 0 && i < 11 && j < 11 && k < 11;
    const inTumour = i >= 2 && i < 6 && j >= 5 && j < 9 && k >= 4 && k < 8;
    dose[v] = inTumour ? 150 : inLiver ? 80 : 2;
    if (inLiver) liver.push(v);
    if (inTumour) tumour.push(v);
    else if (inLiver) normal.push(v);
  }
  const gs = (name: string, idx: number[]): GridStructure => ({ name, origin: 'test', voxelIndices: Uint32Array.from(idx), weights: new Float32Array(idx.length).fill(1) });
  return { grid: [gs('Liver', liver), gs('Tumör ₁', tumour), gs('Normal liver', normal)], dose };
}

const WARNINGS = [
  'tumour ≥ 205 Gy not reached: Tumör ₁ gets 150.0 Gy → raise the activity or accept it',
  `a long warning that wraps over several lines ${'and goes on '.repeat(30)}until it ends here`,
  ...Array.from({ length: 40 }, (_, i) => `warning number ${i + 3} of the synthetic case, said verbatim`),
];

function report(): Record<string, unknown> {
  const s = (name: string, role: string, meanGy: number, volumeMl: number) => ({
    name, role, volumeMl, massG: volumeMl * 1.05, activityGBq: (meanGy * volumeMl * 1.05e-3) / 49.67, meanGy, minGy: 0, maxGy: meanGy * 1.01,
    d50Gy: meanGy, d70Gy: meanGy * 0.99, d90Gy: meanGy * 0.98, d98Gy: meanGy * 0.97, v100: meanGy >= 100 ? 1 : 0, v150: meanGy >= 150 ? 1 : 0, v205: 0,
    dvh: { doseGy: [0, meanGy * 0.97, meanGy, meanGy * 1.01], volumeFraction: [1, 1, 0.5, 0] },
  });
  return {
    schemaVersion: 1, isotope: 'Y90', method: 'ldm', backend: 'cpu', backendReason: 'asked for', activityInFieldGBq: 1.2345678,
    lungShuntFraction: 0.0612345, lungShuntFractionSource: 'given', decayFactorToImplant: 1,
    structures: [s('Liver', 'liver', 84.44, 1000.04), s('Tumör ₁', 'tumor', 150.04, 64.0), s('Normal liver', 'normal-liver', 80.04, 936.0)],
    plan: {
      activityGBq: 2.34567, limitingConstraint: 'whole-normal-liver', prescribedMethod: 'partition', targetMet: false, tumorTargetReached: false,
      contraindications: ['synthetic contraindication for the test (LSF ≥ 20 %)'], device: 'glass', isotope: 'Y90',
      targets: { tumorGy: 205, normalLiverGy: 120, wholeNormalLiverGy: 75, lungGy: 30, tumorBasis: 'every-lesion', mirdGy: 120 },
      compartments: { perfusedNormalLiver: { name: 'Normal liver' }, wholeNormalLiver: { name: 'Normal liver' } },
      predicted: { lesions: [{ name: 'Tumör ₁', meanGy: 150.04 }], allTumorGy: 150.04, perfusedNormalLiverGy: 80.04, wholeNormalLiverGy: 80.04, lungGy: 12.34 },
      lungShuntFraction: 0.0612345, lungShuntFractionSource: 'given', lungMassG: 1000, lungMassSource: 'default',
      maxAllowedActivityGBq: 2.2, normalization: { structure: 'Liver', source: 'liver (--liver)' },
      methods: {
        partition: { activityGBq: 2.34567, applicable: true, limitingConstraint: 'whole-normal-liver', violations: [], predicted: { lesions: [{ name: 'Tumör ₁', meanGy: 150.04 }], allTumorGy: 150.04, perfusedNormalLiverGy: 80.04, wholeNormalLiverGy: 80.04, lungGy: 12.34 }, description: 'partition model' },
        mird: { activityGBq: 3.5, applicable: true, limitingConstraint: 'mird-dose', violations: ['whole normal liver 119.40 Gy > 75 Gy'], predicted: null, description: 'MIRD' },
      },
      territories: [
        { name: 'Right lobe', activityGBq: 1.61234, device: 'glass', limitingConstraints: ['tumor'], structures: [{ name: 'Tumör ₁', meanGyPerGBq: 93.0567 }, { name: 'Right normal', meanGyPerGBq: 31.25 }], catheterPosition: 'segment 7 branch' },
        { name: 'Left lobe', activityGBq: 0.73333, device: 'resin', limitingConstraints: ['normal-liver', 'lung'], structures: [{ name: 'Left normal', meanGyPerGBq: 40.5 }] },
      ],
      limitingConstraints: [{ constraint: 'whole-normal-liver', limitGy: 75, territory: 'Right lobe' }],
      order: {
        vials: [{ vial: 'glass 3 GBq', calibrationActivityGBq: 3.0123, treatmentActivityGBq: 1.4287, drawFraction: 0.5678 }],
        deliveredGBq: 2.34567, spheresMillion: 1.234, calibrationTime: '2025-03-10T12:00:00.000Z', treatmentTime: '2025-03-13T09:00:00.000Z',
      },
    },
    warnings: WARNINGS,
    provenance: {
      version: '9.8.7-test',
      inputs: [{ role: 'activity', path: '/data/scout.nrrd', sha256: 'a'.repeat(64) }, { role: 'segmentation', path: '/data/a/very/long/path/'.repeat(6) + 'seg.seg.nrrd', sha256: 'b'.repeat(64) }],
      parameters: { scanDelaySource: 'not applicable (counts)', tissueDensityGPerMl: 1.05, lungDensityGPerMl: 0.3 },
    },
  };
}

let dir = '';
let file = '';
let input: CaseReportInput;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'report-pdf-'));
  const { grid, dose } = structures();
  input = {
    command: 'plan', report: report(), dose: { geometry: g, data: dose }, gridStructures: grid,
    identity: { patientId: 'PAT-0042/Ω', patientName: 'Ødegård^Zoë=山田^太郎', studyInstanceUid: '1.2.826.0.1.3680043.2.1125.77', studyDate: '20250310', studyTime: '091500' },
    reportJsonSha256: 'c'.repeat(64), computedAt: new Date('2026-12-05T10:11:12Z'),
  };
  file = join(dir, 'report.pdf');
  writeFileSync(file, await caseReportPdf(input));
});

describe.skipIf(missing !== undefined)('PDF report of a synthetic case', () => {
  it('has the patient ID (transliterated) and "page i of n" in every page footer', () => {
    const n = pdfPageCount(file);
    expect(n).toBeGreaterThanOrEqual(3);
    for (let p = 1; p <= n; p++) {
      const t = pdfText(file, { first: p, last: p });
      expect(t).toContain(`page ${p} of ${n}`);
      expect(t).toContain('Patient ID PAT-0042/Omega');
    }
  });

  it('loses no text: warnings verbatim (transliterated), names, identifiers, hashes', () => {
    // the long path wraps inside its table cell, beside the hash on the cell's first line: take the hash out
    const t = squeeze(pdfText(file)).replace('b'.repeat(64), '');
    expect(squeeze(pdfText(file))).toContain('b'.repeat(64));
    const want = [
      'tumour >= 205 Gy not reached: Tumör 1 gets 150.0 Gy -> raise the activity or accept it',
      ...WARNINGS.slice(1),
      'Ødegård Zoë=?? ??', '1.2.826.0.1.3680043.2.1125.77', '2025-03-10 09:15', 'a'.repeat(64), 'c'.repeat(64),
      '/data/a/very/long/path/'.repeat(6) + 'seg.seg.nrrd', '9.8.7-test', '2026-12-05 10:11 UTC',
      'CONTRAINDICATED: synthetic contraindication for the test (LSF >= 20 %)',
    ];
    for (const w of want) expect(t, w.slice(0, 60)).toContain(squeeze(w));
    expect(t).toContain(squeeze(`Warnings (${WARNINGS.length})`));
  });

  it('the contraindication comes first, before the identification', () => {
    const p1 = pdfText(file, { first: 1, last: 1 });
    expect(p1.indexOf('CONTRAINDICATED')).toBeGreaterThan(-1);
    expect(p1.indexOf('CONTRAINDICATED')).toBeLessThan(p1.indexOf('Patient, study and computation'));
  });

  it('prints the plan, the territories, the binding constraints and the vial order with the stated rounding', () => {
    const t = pdfText(file);
    expect(t).toContain('Prescribed activity: 2.346 GBq');
    expect(t).toMatch(/Tumour target\s+NOT met under the limits/);
    expect(t).toMatch(/BROKEN: whole normal liver 119\.40 Gy > 75 Gy/);
    // territory rows: Gy/GBq to 2 decimals, and that times the territory activity to 1 decimal
    expect(t).toMatch(/Right lobe: 1\.612 GBq, glass; limited by tumor/);
    expect(t).toMatch(/Tumör 1\s+93\.06\s+150\.0/); // 93.0567 x 1.61234 = 150.039
    expect(t).toMatch(/Left lobe: 0\.733 GBq, resin; limited by normal-liver; lung/);
    expect(t).toMatch(/Left normal\s+40\.50\s+29\.7/);
    expect(t).toMatch(/Catheter position\s+segment 7 branch/);
    expect(t).toMatch(/whole-normal-liver\s+75\.0\s+Right lobe/);
    // the vial order: whatever its fields, each with its unit
    expect(t).toMatch(/Delivered \[GBq\]\s+2\.346/);
    expect(t).toMatch(/Spheres million\s+1\.234/);
    expect(t).toMatch(/glass 3 GBq\s+3\.012\s+1\.429\s+0\.5678/);
  });

  it('flags a tumour under its target and a normal liver over its limit, from the plan\'s targets', () => {
    const t = pdfText(file);
    expect(t).toMatch(/Tumör 1\s+tumor\s+64\.0\s+67\.2\s+0\.\d{4}\s+150\.0\s.*>= 205\.0\s+UNDER TARGET/);
    expect(t).toMatch(/Normal liver\s+normal-liver\s+936\.0\s.*OVER LIMIT/);
    expect(t).toMatch(/Liver\s+liver\s+1000\.0\s+1050\.0\s.*84\.4\s.*-\s*$/m);
  });

  it('is the same bytes for the same case and date', async () => {
    const again = await caseReportPdf(input);
    const { readFileSync } = await import('node:fs');
    expect(Buffer.compare(Buffer.from(again), readFileSync(file))).toBe(0);
  });
});

describe('date of computation', () => {
  it('is SOURCE_DATE_EPOCH when set, else now; a malformed value is refused', () => {
    expect(computationDate({ SOURCE_DATE_EPOCH: '1767225600' }).toISOString()).toBe('2026-01-01T00:00:00.000Z');
    const now = Date.now();
    expect(Math.abs(computationDate({}).getTime() - now)).toBeLessThan(5000);
    expect(() => computationDate({ SOURCE_DATE_EPOCH: 'yesterday' })).toThrow(/SOURCE_DATE_EPOCH/);
  });
});
