/**
 * Fixed Monte Carlo problems of the CPU transport's golden test (./history-cpu-golden.test.ts) and speed benchmark
 * (scripts/bench/mc-cpu-speed.ts); not a test file. Every problem is built from plain formulas (no data files), so it
 * is the same on every machine.
 */
import { WATER } from '../../src/mc/materials.ts';
import { buildMcProblem, mcCutoffsForGrid } from '../../src/mc/problem.ts';
import { DEFAULT_MC_CUTOFFS, type McProblem } from '../../src/mc/types.ts';

const VOXEL_MM = 2.21;
const SPACING: [number, number, number] = [VOXEL_MM, VOXEL_MM, VOXEL_MM];

/** 90Y point source in water: 21^3 voxels of 2.21 mm, activity in the central voxel, grid-adapted cut-offs. */
export function y90WaterPointSource(): McProblem {
  const n = 21;
  const act = new Float32Array(n * n * n);
  const c = (n - 1) / 2;
  act[c + n * (c + n * c)] = 1;
  return buildMcProblem({ dims: [n, n, n], spacingMm: SPACING, activityBqPerMl: act, densityGPerMl: 1, isotope: 'Y90', material: WATER, cutoffs: mcCutoffsForGrid(SPACING) });
}

/**
 * 166Ho in a slab phantom of 24 x 14 x 12 voxels of 2.21 mm along x: air (0.0012 g/mL), lung (0.26-0.34), soft tissue
 * (1.00-1.10), bone (1.80-1.90), with a deterministic per-voxel density pattern inside each slab (materials from
 * the density map by buildMcProblem), activity (varying weights) in a block across the lung/tissue/bone slabs and
 * reaching the grid's edge in y; grid-adapted cut-offs.
 */
export function ho166SlabPhantom(): McProblem {
  const dims: [number, number, number] = [24, 14, 12];
  const n = dims[0] * dims[1] * dims[2];
  const rho = new Float32Array(n);
  const act = new Float32Array(n);
  for (let k = 0; k < dims[2]; k++)
    for (let j = 0; j < dims[1]; j++)
      for (let i = 0; i < dims[0]; i++) {
        const v = i + dims[0] * (j + dims[1] * k);
        const wobble = ((i * 5 + j * 3 + k * 7) % 11) / 10 - 0.5; // -0.5 .. 0.5
        rho[v] = i < 3 ? 0.0012 : i < 9 ? 0.3 + 0.08 * wobble : i < 18 ? 1.05 + 0.1 * wobble : 1.85 + 0.1 * wobble;
        if (i >= 5 && i <= 20 && j >= 4 && k >= 2 && k <= 9) act[v] = 1 + ((i * 7 + j * 3 + k) % 5);
      }
  return buildMcProblem({ dims, spacingMm: SPACING, activityBqPerMl: act, densityGPerMl: rho, isotope: 'Ho166', cutoffs: mcCutoffsForGrid(SPACING) });
}

/** 90Y uniform in a sphere of radius 6 voxels (soft tissue, 1.05 g/mL) in 17^3 voxels of 2.21 mm; default cut-offs (20 keV). */
export function y90UniformSphere(): McProblem {
  const n = 17;
  const act = new Float32Array(n * n * n);
  const c = (n - 1) / 2;
  for (let k = 0; k < n; k++)
    for (let j = 0; j < n; j++)
      for (let i = 0; i < n; i++) if ((i - c) ** 2 + (j - c) ** 2 + (k - c) ** 2 <= 36) act[i + n * (j + n * k)] = 1;
  return buildMcProblem({ dims: [n, n, n], spacingMm: SPACING, activityBqPerMl: act, densityGPerMl: 1.05, isotope: 'Y90', cutoffs: DEFAULT_MC_CUTOFFS });
}
