/**
 * Device access for the convolution back end: the shared WebGPU context of src/gpu/device.ts (`acquireGpu()`;
 * Node: Dawn on the lavapipe ICD named by VK_ICD_FILENAMES, defaulted there; browser: navigator.gpu).
 */
import { GpuError } from '../errors.ts';
import { acquireGpu, gpuUnavailableReason } from '../gpu/device.ts';

/** The shared WebGPU device, or null when no adapter exists (see convolutionGpuUnavailableReason). */
export async function acquireConvolutionDevice(): Promise<GPUDevice | null> {
  return (await acquireGpu())?.device ?? null;
}

/** Why acquireConvolutionDevice() returned null (one sentence with a fix). */
export function convolutionGpuUnavailableReason(): string {
  return gpuUnavailableReason();
}

/** The shared device, or a GpuError saying why there is none. */
export async function requireConvolutionDevice(): Promise<GPUDevice> {
  const d = await acquireConvolutionDevice();
  if (!d) throw new GpuError(`WebGPU convolution needs an adapter: ${gpuUnavailableReason()}; use the CPU back end (convolveCpu)`);
  return d;
}
