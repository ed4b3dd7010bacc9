/**
 * CT densities: activity imaged in air (HU < -950) gets no dose, with a warning naming the activity share; lung and
 * tissue voxels keep CF x A / rho (LDM) exactly.
 */
import { describe, expect, it } from 'vitest';
import { computeDoseCase } from '../../src/dose/pipeline.ts';
import { AIR_DENSITY_THRESHOLD_G_PER_ML, NUCLIDES } from '../../src/units/index.ts';
import { IDENTITY_DIRECTION, type Geometry } from '../../src/volume/geometry.ts';
import { makeVolume } from '../../src/volume/volume.ts';

describe('air on the CT', () => {
  const g: Geometry = { dims: [8, 6, 5], spacingMm: [4, 4, 4], originLpsMm: [0, 0, 0], direction: IDENTITY_DIRECTION };
  const n = 8 * 6 * 5;
  const act = new Float32Array(n).fill(1000); // Bq/mL everywhere
  const hu = new Float32Array(n);
  for (let v = 0; v < n; v++) hu[v] = v % 8 === 0 ? -1000 : v % 8 === 1 ? -960 : v % 8 === 2 ? -800 : 40; // air, air, lung, tissue
  const liver = new Uint8Array(n).fill(255);

  for (const backend of ['cpu'] as const) {
    it(`sets the dose in air to 0 and says how much activity lay there (${backend})`, async () => {
      const r = await computeDoseCase({
        activity: makeVolume(g, act),
        activityUnit: 'bq-per-ml',
        isotope: 'Y90',
        method: 'ldm',
        segmentations: [{ path: 'test', masks: [{ name: 'Liver', origin: 'test', geometry: g, occupancy: liver }] }],
        liver: 'Liver',
        ct: makeVolume(g, hu),
        backend,
      });
      const cf = NUCLIDES.Y90.ldmJoulePerGBq;
      for (let v = 0; v < n; v++) {
        const rho = (hu[v] + 1000) / 1000;
        if (rho < AIR_DENSITY_THRESHOLD_G_PER_ML) expect(r.dose.data[v]).toBe(0);
        else expect(r.dose.data[v] / ((cf * 1000 * 1e-6) / rho) - 1).toBeLessThan(1e-6);
      }
      const w = r.warnings.find((x) => /lie in air/.test(x));
      expect(w).toMatch(/^60 voxels with activity lie in air .* hold 25\.00 % of the activity/);
    });
  }
});
