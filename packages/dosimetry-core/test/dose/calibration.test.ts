import { describe, expect, it } from 'vitest';
import { calibrateActivity, checkActivityValues, checkLsf } from '../../src/dose/calibration.ts';
import type { Geometry } from '../../src/volume/geometry.ts';
import type { GridStructure } from '../../src/volume/structure.ts';
import { InputError } from '../../src/errors.ts';

const g: Geometry = { dims: [4, 4, 4], spacingMm: [2, 2, 2.5], originLpsMm: [0, 0, 0], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] };
const vMl = 0.01; // 2 x 2 x 2.5 mm^3
const img = new Float32Array(64).map((_, n) => (n % 7) + 1);
const liver: GridStructure = { name: 'Liver', origin: 't', voxelIndices: Uint32Array.from({ length: 32 }, (_, n) => n), weights: new Float32Array(32).fill(1) };
const lung: GridStructure = { name: 'Lung', origin: 't', voxelIndices: Uint32Array.from({ length: 16 }, (_, n) => 48 + n), weights: new Float32Array(16).fill(0.5) };

describe('calibrateActivity', () => {
  it('bq-per-ml: carries the activity back to implant time by exp(lambda t) (90Y, 64.05 h)', () => {
    const r = calibrateActivity({ geometry: g, data: img }, { unit: 'bq-per-ml', isotope: 'Y90', scanDelayH: 64.05 });
    // one half-life later the image shows half the activity: factor 2 exactly
    expect(r.decayFactor).toBeCloseTo(2, 12);
    expect(r.activityBqPerMl[5]).toBeCloseTo(img[5] * 2, 5);
    const ho = calibrateActivity({ geometry: g, data: img }, { unit: 'bq-per-ml', isotope: 'Ho166', scanDelayH: 26.8 * 2 });
    expect(ho.decayFactor).toBeCloseTo(4, 12);
  });

  it('counts: the normalisation structure holds A x (1 - LSF)', () => {
    const r = calibrateActivity({ geometry: g, data: img }, { unit: 'counts', isotope: 'Y90', administeredGBq: 2, lungShuntFraction: 0.1, normalizeTo: liver });
    let sumBq = 0;
    for (let n = 0; n < 32; n++) sumBq += r.activityBqPerMl[n] * vMl;
    expect(sumBq / 1e9).toBeCloseTo(2 * 0.9, 6);
    expect(r.lungShuntFractionSource).toBe('given');
  });

  it('counts: LSF measured from the lung structure = C_lung / (C_lung + C_liver)', () => {
    const r = calibrateActivity({ geometry: g, data: img }, { unit: 'counts', isotope: 'Y90', administeredGBq: 1.5, normalizeTo: liver, lung, liver });
    let cl = 0, ch = 0;
    for (let n = 48; n < 64; n++) cl += 0.5 * img[n];
    for (let n = 0; n < 32; n++) ch += img[n];
    expect(r.lungShuntFraction).toBeCloseTo(cl / (cl + ch), 12);
    expect(r.lungShuntFractionSource).toBe('measured');
  });

  it('refuses counts without administered activity, and LSF outside [0, 1)', () => {
    expect(() => calibrateActivity({ geometry: g, data: img }, { unit: 'counts', isotope: 'Y90', normalizeTo: liver })).toThrow(/--administered-gbq/);
    expect(() => checkLsf(1)).toThrow(InputError);
    expect(() => checkLsf(-0.1)).toThrow(/outside \[0, 1\)/);
    expect(checkLsf(0)).toBe(0);
  });

  it('NaN or infinite voxels are errors; negative voxels are counted and kept', () => {
    const bad = img.slice();
    bad[9] = NaN;
    expect(() => checkActivityValues(bad, 'activity image')).toThrow(/voxel 9 holds NaN/);
    bad[9] = Infinity;
    expect(() => checkActivityValues(bad, 'activity image')).toThrow(/Infinity/);
    const neg = img.slice();
    neg[3] = -2;
    neg[4] = -1;
    expect(checkActivityValues(neg, 'x').negativeVoxelCount).toBe(2);
  });
});
