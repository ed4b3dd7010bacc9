/**
 * Dose-kernel (DVK) convolution: dose [Gy] = fully decayed activity [Bq s] per voxel convolved with a voxel S kernel
 * [Gy/(Bq s)] (MIRD Pamphlet 17, Bolch et al. 1999). "Same"-size true convolution with zero padding.
 * CPU: convolveCpu (FFT, production), convolveDirectCpu (plain f64 loops, the oracle). WebGPU: convolveGpu.
 */
export { convolveCpu, convolveCpuInto, convolveDirectCpu } from './cpu.ts';
export { streamPaddedDims, isMirrorSymmetric } from './stream.ts';
export {
  convolveGpu,
  convolveGpuDetailed,
  chooseGpuConvolutionMethod,
  FFT_LINE_MAX_LENGTH,
  type GpuConvolutionMethod,
  type GpuFftLayout,
  type GpuConvolutionOptions,
  type GpuConvolutionResult,
  type GpuTarget,
} from './gpu.ts';
export { acquireConvolutionDevice, convolutionGpuUnavailableReason } from './device.ts';
export { checkConvolutionOptions, type ConvolutionOptions, type Dims3 } from './types.ts';
export { fftBatched, fftPlan, isFastLength, nextFastLength, type FftPlan } from './fft.ts';
export { nonZeroBox, outputBox, extractBox, insertBox, planCrop, type Box3, type CropPlan } from './crop.ts';
