/**
 * @sirt/dosimetry-core: the public API of the engine, the same in Node and in the browser.
 *
 *   volume/   Geometry (LPS mm, column-major direction), Volume, structure masks, RAS<->LPS, resampling
 *   io/       NIfTI, NRRD/.nhdr, MHA (itk-wasm), label maps, 3D Slicer .seg.nrrd, DICOM (io/dicom), atomic writes
 *   dose/     calibration, the dose pipeline (LDM, DVK) on a chosen back end, lesions, reports
 *   cpu/ gpu/ the two back ends (CPU: plain TypeScript oracle; WebGPU: WGSL kernels in ../../shaders)
 *   kernel/   voxel S kernels computed from physics; convolution/ FFT and direct convolution
 *   stats/    per-structure statistics and DVHs; plan/ planning models; research/ dose-response statistics
 *   mc/       Monte Carlo dose (electron and photon transport, CPU and WebGPU back ends with the same histories)
 *
 * Namespaces keep the areas apart where names would clash; the everyday types and functions are also exported flat.
 */
export * from './errors.ts';
export * from './units/index.ts';
export * from './volume/index.ts';
export { ENGINE_VERSION } from './version.ts';
export { readVolume, readSegmentation, encodeNifti, encodeNrrd, encodeSegNrrd, writeSegNrrd } from './io/index.ts';
export { computeDoseCase, type DoseCaseOptions, type DoseCaseResult, type StructureReport, type SegmentationInput } from './dose/pipeline.ts';
export { buildReport, structuresCsv, structuresTable } from './dose/report.ts';
export { calibrateActivity } from './dose/calibration.ts';
export { selectBackend, type BackendChoice } from './dose/backend.ts';
export { acquireGpu, gpuUnavailableReason } from './gpu/index.ts';
export { voxelKernel } from './kernel/index.ts';
export {
  runMonteCarloDose, buildMcProblem, cpuMcTransport, gpuMcTransport, DEFAULT_MC_HISTORIES, DEFAULT_MC_BATCHES, MC_PHYSICS_TEXT,
  type McDoseOptions, type McDoseResult, type McDoseProvenance, type McHistoryPlan, type McStructureUncertainty, type McCutoffs,
  type McProblem, type McProblemOptions, type McTransport, type McBatchRequest, type McBatchResult,
} from './mc/index.ts';

export * as io from './io/index.ts';
export * as stats from './stats/index.ts';
export * as plan from './plan/index.ts';
export * as kernel from './kernel/index.ts';
export * as convolution from './convolution/index.ts';
export * as mc from './mc/index.ts';
