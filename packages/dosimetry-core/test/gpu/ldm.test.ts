import { describe, expect, it } from 'vitest';
import { ldmDoseCpu } from '../../src/cpu/ldm.ts';
import { ldmDoseGpu } from '../../src/gpu/index.ts';
import { structureStatsCpu } from '../../src/stats/index.ts';
import { structureStatsGpu } from '../../src/gpu/index.ts';
import { ctLikeDensity, noisyActivity, sphereStructure } from '../stats/phantoms.ts';
import { gpuForTests } from './gpu-context.ts';

const ctx = await gpuForTests();

/**
 * GPU vs CPU tolerance per voxel: relative 5e-7 (~4.2 f32 ulp). The GPU evaluates a x (CF 1e-6) / rho in f32:
 * rounding of the factor (0.5 ulp), the product (0.5 ulp), WGSL f32 division (2.5 ulp allowed by the spec), and the
 * oracle's own f32 store (0.5 ulp). An absolute floor of 1e-30 Gy only covers exact zeros.
 */
const LDM_REL_TOL = 5e-7;

function maxRelError(gpu: Float32Array, cpu: Float32Array): number {
  let worst = 0;
  for (let i = 0; i < cpu.length; i++) {
    const e = Math.abs(gpu[i] - cpu[i]) / Math.max(Math.abs(cpu[i]), 1e-30);
    if (gpu[i] !== cpu[i] && e > worst) worst = e;
  }
  return worst;
}

describe.skipIf(!ctx)('ldmDoseGpu (WebGPU) vs ldmDoseCpu', () => {
  // Sizes: a single voxel, a non-multiple of the 256 workgroup, and a volume split into 3 tiles by a forced tile size.
  // maxPerDim: a forced small workgroups-per-dimension limit, so the 2-D dispatch (needed above 65535 x 256 =
  // 16.8 M voxels) is exercised on small volumes.
  const grid = [
    { n: 1, tileVoxels: undefined, maxPerDim: undefined },
    { n: 37 * 23 * 11, tileVoxels: undefined, maxPerDim: 5 },
    { n: 64 * 64 * 16, tileVoxels: 25_000, maxPerDim: undefined },
  ];
  for (const { n, tileVoxels, maxPerDim } of grid) {
    for (const density of ['scalar', 'ct'] as const) {
      it(`${n} voxels, ${density} density${tileVoxels ? `, tiles of ${tileVoxels}` : ''}${maxPerDim ? `, 2-D dispatch (<= ${maxPerDim} per dimension)` : ''}`, async () => {
        const act = noisyActivity(n, n + 1);
        const rho = density === 'scalar' ? 1.05 : ctLikeDensity(n, n + 2);
        const opts = { activityBqPerMl: act, densityGPerMl: rho, ldmJoulePerGBq: 49.67 };
        const cpu = ldmDoseCpu(opts);
        const gpu = await ldmDoseGpu({ ...ctx!, maxWorkgroupsPerDimension: maxPerDim ?? ctx!.maxWorkgroupsPerDimension }, { ...opts, tileVoxels });
        expect(gpu.length).toBe(n);
        expect(maxRelError(gpu, cpu)).toBeLessThanOrEqual(LDM_REL_TOL);
        if (typeof rho !== 'number') {
          // air voxels are exactly 0 Gy on both, negative activity stays negative
          for (let i = 0; i < n; i++) if (rho[i] <= 0) expect(gpu[i]).toBe(0);
        }
        expect(gpu.some((d) => d < 0)).toBe(n > 1);
      });
    }
  }

  it('uniform sphere: mean dose = CF x A / M on the GPU back end (LDM and statistics)', async () => {
    const n = 32;
    const spacingMm = 4.42;
    const s = sphereStructure(n, spacingMm, 45);
    const a0 = 1.2e6;
    const act = new Float32Array(n ** 3);
    for (const i of s.voxelIndices) act[i] = a0;
    const rho = 1.05;
    const cf = 15.87; // 166Ho
    const vVoxMl = (spacingMm / 10) ** 3;
    const dose = await ldmDoseGpu(ctx!, { activityBqPerMl: act, densityGPerMl: rho, ldmJoulePerGBq: cf });
    const [st] = await structureStatsGpu(ctx!, { doseGy: dose, activityBqPerMl: act, densityGPerMl: rho, voxelVolumeMl: vVoxMl, structures: [s] });
    const expectedGy = (cf * a0 * 1e-6) / rho;
    // f32 dose (2^-24) and f32 workgroup partial sums of equal terms (<= 8 tree levels x 2^-24 each): 1e-6.
    expect(Math.abs(st.meanGy / ((cf * st.activityBq) / 1e9 / (st.massG / 1000)) - 1)).toBeLessThan(1e-6);
    expect(Math.abs(st.meanGy / expectedGy - 1)).toBeLessThan(1e-6);
    const [c] = structureStatsCpu({ doseGy: ldmDoseCpu({ activityBqPerMl: act, densityGPerMl: rho, ldmJoulePerGBq: cf }), activityBqPerMl: act, densityGPerMl: rho, voxelVolumeMl: vVoxMl, structures: [s] });
    expect(Math.abs(st.meanGy / c.meanGy - 1)).toBeLessThan(1e-6);
  });
});
