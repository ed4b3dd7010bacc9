/**
 * The WebGPU back end: device acquisition, LDM dose and per-structure statistics. Every function here has a CPU
 * twin with the same options and result (ldmDoseCpu in src/cpu/ldm.ts, structureStatsCpu in src/stats/).
 */
export { acquireGpu, createGpuContext, gpuUnavailableReason, dispatchGrid2d, PORTABLE_MAX_BINDING_BYTES, type GpuContext, type GpuContextOptions } from './device.ts';
export { ldmDoseGpu, LDM_PARAMS, LDM_WORKGROUP_SIZE, type LdmGpuTuning } from './ldm.ts';
export { structureStatsGpu, STATS_SUMS_PARAMS, STATS_HIST_PARAMS, STATS_WORKGROUP_SIZE, type StatsGpuTuning } from './stats.ts';
export { awaitGpu, isSoftwareAdapter, GPU_POLL_INTERVAL_MS } from './wait.ts';
export { GpuPhaseTimer, type GpuPhase, type GpuPhaseRecorder, type GpuPhaseTimes, type GpuPhaseTimerOptions } from './phases.ts';
