/**
 * The pipeline starts the DVK convolution on the activity as read and applies the calibration factor to its result
 * (dose is linear in activity): the map must equal DVK of the calibrated activity, for counts and for a delayed
 * Bq/mL scan, with a lung structure (heterogeneity rule) present.
 */
import { describe, expect, it } from 'vitest';
import { computeDoseCase } from '../../src/dose/pipeline.ts';
import { dvkDose } from '../../src/dose/dvk.ts';
import { IDENTITY_DIRECTION, type Geometry } from '../../src/volume/geometry.ts';
import { makeVolume } from '../../src/volume/volume.ts';

describe('DVK in the pipeline: convolution first, calibration after', () => {
  const g: Geometry = { dims: [40, 36, 30], spacingMm: [4, 4, 4.5], originLpsMm: [0, 0, 0], direction: IDENTITY_DIRECTION };
  const n = 40 * 36 * 30;
  const counts = new Float32Array(n);
  const liver = new Uint8Array(n);
  const lung = new Uint8Array(n);
  for (let k = 0, v = 0; k < 30; k++) for (let j = 0; j < 36; j++) for (let i = 0; i < 40; i++, v++) {
    const inLiver = Math.hypot(i - 20, j - 18, k - 12) < 10;
    const inLung = k > 24;
    if (inLiver) liver[v] = 255;
    if (inLung) lung[v] = 255;
    counts[v] = inLiver ? 100 + ((v * 37) % 50) : inLung ? 3 : 0.5;
  }
  const segs = [{ path: 'test', masks: [
    { name: 'Liver', origin: 'test', geometry: g, occupancy: liver },
    { name: 'Lung', origin: 'test', geometry: g, occupancy: lung },
  ] }];

  for (const unit of ['counts', 'bq-per-ml'] as const) {
    it(`${unit}: equals DVK of the calibrated activity`, async () => {
      const r = await computeDoseCase({
        activity: makeVolume(g, counts),
        activityUnit: unit,
        ...(unit === 'counts' ? { administeredGBq: 1.5 } : { scanDelayH: 20 }),
        isotope: 'Ho166',
        method: 'dvk',
        segmentations: segs,
        liver: 'Liver',
        lung: 'Lung',
        backend: 'cpu',
      });
      const direct = await dvkDose({ activityBqPerMl: r.activityBqPerMl, densityGPerMl: r.densityGPerMl, isotope: 'Ho166', geometry: g, tissueDensityGPerMl: 1.05 }, 'cpu');
      let max = 0;
      for (const d of direct) max = Math.max(max, Math.abs(d));
      let worst = 0;
      for (let v = 0; v < n; v++) worst = Math.max(worst, Math.abs(r.dose.data[v] - direct[v]) / max);
      // float32 rounding of the scale applied before or after the convolution
      expect(worst).toBeLessThan(1e-6);
    });
  }
});
