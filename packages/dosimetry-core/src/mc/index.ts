/**
 * Monte Carlo dose (`--method mc`), the library's view (index.ts exports it as `mc`, the everyday names also flat):
 *   run.ts            runMonteCarloDose, the entry point: problem, batches, dose [Gy], relative standard error, provenance
 *   batches.ts        the batch driver, the dose formula and the batch method of the uncertainty (re-exported by run.ts)
 *   problem.ts        buildMcProblem: media and physics tables from a density map, the source from an activity map
 *   transport-cpu.ts  cpuMcTransport: the CPU back end (worker threads in Node, the calling thread in a browser)
 *   transport-gpu.ts  gpuMcTransport: the WebGPU back end (shaders/mc_transport.wgsl), the same histories
 *   types.ts          McProblem, McTransport, McBatchRequest/Result, cut-offs, table layout
 *   philox.ts         the counter-based generator (Philox-4x32-10) both back ends draw from
 */
export * from './run.ts';
export { buildMcProblem, mcCutoffsForGrid, photonMajorant, type McProblemOptions } from './problem.ts';
export { cpuMcTransport, mcThreadCount, type CpuMcTransport, type CpuMcTransportOptions, type CpuMcBatchResult } from './transport-cpu.ts';
export { gpuMcTransport } from './transport-gpu.ts';
export {
  MC_TABLE_POINTS, MC_TABLE_MIN_MEV, MC_TABLE_MAX_MEV, MC_TABLE_ROWS, MC_MAX_MATERIALS, MC_KEY_HI, MC_DENSITY_UNIT,
  type McProblem, type McTransport, type McBatchRequest, type McBatchResult, type McTables, type McMaterial, type McEmissions,
} from './types.ts';
export { philox4x32, PhiloxStream } from './philox.ts';
