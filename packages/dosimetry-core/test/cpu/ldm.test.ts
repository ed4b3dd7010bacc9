import { describe, expect, it } from 'vitest';
import { ldmDoseCpu } from '../../src/cpu/ldm.ts';
import { structureStatsCpu } from '../../src/stats/index.ts';
import { InputError } from '../../src/errors.ts';
import { sphereStructure } from '../stats/phantoms.ts';

// CF values from ../shared/PHYSICS.md (EANM SOP for 90Y; 60 Gy ~ 3.78 GBq/kg for 166Ho).
const CF = { Y90: 49.67, Ho166: 15.87 };

describe('ldmDoseCpu', () => {
  it('gives CF x A / M per voxel: 1 GBq in 1 kg of 90Y is 49.67 Gy', () => {
    // 1 GBq/kg at rho = 1 g/mL is 1e9 Bq / 1000 mL = 1e6 Bq/mL.
    const d = ldmDoseCpu({ activityBqPerMl: Float32Array.of(1e6), densityGPerMl: 1, ldmJoulePerGBq: CF.Y90 });
    expect(d[0]).toBe(Math.fround(49.67)); // f64 arithmetic then one f32 rounding
    // 166Ho: 3.78 GBq/kg ~ 60 Gy (PHYSICS.md), rounding of the published pair: within 0.1 %.
    const h = ldmDoseCpu({ activityBqPerMl: Float32Array.of(3.78e6 * 1.05), densityGPerMl: 1.05, ldmJoulePerGBq: CF.Ho166 });
    expect(Math.abs(h[0] - 60) / 60).toBeLessThan(1e-3);
  });

  it('keeps negative activity (negative dose), gives 0 Gy where rho <= 0 and scales as 1 / rho', () => {
    const a = Float32Array.of(-2e6, 1e6, 1e6, 1e6, 1e6);
    const rho = Float32Array.of(1, 0, -0.02, 0.3, 2);
    const d = ldmDoseCpu({ activityBqPerMl: a, densityGPerMl: rho, ldmJoulePerGBq: 50 });
    expect(Array.from(d)).toEqual([-100, 0, 0, Math.fround(50 / Math.fround(0.3)), 25]);
  });

  it('rejects mismatched density maps and non-positive CF with InputError', () => {
    expect(() => ldmDoseCpu({ activityBqPerMl: new Float32Array(3), densityGPerMl: new Float32Array(2), ldmJoulePerGBq: 50 })).toThrow(InputError);
    expect(() => ldmDoseCpu({ activityBqPerMl: new Float32Array(3), densityGPerMl: 1, ldmJoulePerGBq: 0 })).toThrow(InputError);
    expect(() => ldmDoseCpu({ activityBqPerMl: new Float32Array(3), densityGPerMl: 0, ldmJoulePerGBq: 50 })).toThrow(InputError);
  });

  it('uniform sphere: structure mean dose is CF x A / M and the sphere volume is 4/3 pi R^3', () => {
    const n = 40;
    const spacingMm = 4;
    const radiusMm = 50;
    const s = sphereStructure(n, spacingMm, radiusMm);
    const a0 = 3.5e6; // Bq/mL in every voxel the sphere touches
    const act = new Float32Array(n ** 3);
    for (const i of s.voxelIndices) act[i] = a0;
    const rho = 1.05;
    const vVoxMl = (spacingMm / 10) ** 3;
    const dose = ldmDoseCpu({ activityBqPerMl: act, densityGPerMl: rho, ldmJoulePerGBq: CF.Y90 });
    const [st] = structureStatsCpu({ doseGy: dose, activityBqPerMl: act, densityGPerMl: rho, voxelVolumeMl: vVoxMl, structures: [s] });
    const cfAOverM = (CF.Y90 * (st.activityBq / 1e9)) / (st.massG / 1000);
    // Every voxel holds the same f32 dose, so the mean is that value: f32 storage, relative 2^-24 = 6e-8.
    expect(Math.abs(st.meanGy / cfAOverM - 1)).toBeLessThan(1e-7);
    expect(Math.abs(st.meanGy / ((CF.Y90 * a0 * 1e-6) / rho) - 1)).toBeLessThan(1e-7);
    // Volume: 4^3 sub-samples per boundary voxel estimate the partial volumes: 0.5 % (2.3 voxels of 25 mm^3 per
    // 1000 boundary voxels is well inside; a wrong spacing or weight handling is off by far more).
    const analyticMl = ((4 / 3) * Math.PI * radiusMm ** 3) / 1000;
    expect(Math.abs(st.volumeMl / analyticMl - 1)).toBeLessThan(5e-3);
    expect(st.massG).toBeCloseTo(st.volumeMl * rho, 9);
  });
});
