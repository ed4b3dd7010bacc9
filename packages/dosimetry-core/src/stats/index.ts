/**
 * Per-structure dose statistics (volume, mass, activity, mean / min / max dose, Dx, Vx, DVH). CPU back end here;
 * the WebGPU back end is structureStatsGpu in src/gpu/stats.ts with the same options and result.
 */
export * from './structure-stats.ts';
export * from './dvh.ts';
