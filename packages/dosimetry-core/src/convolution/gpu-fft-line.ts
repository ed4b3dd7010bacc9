/**
 * The FFT convolution in the 'line' layout (software adapters such as lavapipe; see ./gpu.ts): one line per invocation
 * in function-scope arrays (shaders/fft_line.wgsl), the product fused into the z pass, one upload and one read-back of
 * the real box.
 */
import { GpuError } from '../errors.ts';
import { fftPlan } from './fft.ts';
import { withGpuErrors } from '../gpu/resources.ts';
import type { GpuConvolutionOptions, GpuConvolutionResult } from './gpu.ts';
import { kernelSpectrumRows, layoutFor, pipelineFor, readBack, slabs, transientBuffers, twiddleBuffer, type AxisPass, type BindingKind, type FftSlabPlan } from './gpu-common.ts';
import { settle } from '../gpu/phases.ts';
const LINE_BINDINGS: BindingKind[] = ['rw', 'read', 'uniform', 'read', 'rw'];
/** Workgroup size of fft_line.wgsl: 32 lines (fastest of 8..128 on lavapipe; lanes take consecutive lines). */
const LINE_WG_X = 32;
/** Size of `struct Params` in shaders/fft_line.wgsl [bytes]: 24 u32 fields + array<vec4u, 4>. */
export const FFT_LINE_PARAMS_BYTES = 160;
/** fft_line.wgsl modes. */
const LINE_MODE = { plain: 0, fused: 1, load: 2, store: 3 } as const;

/** One dispatch of fft_line.wgsl (see its header for the fields): the lines of an axis pass, and what to do. */
interface LinePass extends AxisPass {
  inverse: boolean;
  mode: number;
  scale?: number;
  slabA?: { base: number; planes: number; keptLo: number; keptHi: number };
  slabB?: { base: number; planes: number; keptLo: number; keptHi: number };
}

/**
 * The FFT convolution in the 'line' layout (shaders/fft_line.wgsl): the real volume is uploaded once and the real
 * result read back once; per pair of slabs one submission of five passes: x forward building the complex lines from
 * the two real slabs, y forward, z forward x kernel spectrum x z inverse (fused), y inverse, x inverse writing the
 * kept planes of both slabs into the real output. The kernel spectrum takes three passes on its non-zero rows.
 */
export function fftLinePath(device: GPUDevice, opts: GpuConvolutionOptions, plan: FftSlabPlan): Promise<GpuConvolutionResult> {
  return withGpuErrors(device, 'the FFT convolution (line layout)', () => fftLineRun(device, opts, plan));
}

async function fftLineRun(device: GPUDevice, opts: GpuConvolutionOptions, plan: FftSlabPlan): Promise<GpuConvolutionResult> {
  const [nx, ny, nz] = opts.dims;
  const [rx, ry, rz] = opts.kernelRadius;
  const { px, py, pz, parts } = plan;
  const progress = opts.onProgress ?? (() => {});
  const total = px * py * pz;
  const planeC = px * py;
  const S = GPUBufferUsage.STORAGE;
  const { transient, buffer } = transientBuffers(device);
  try {
    const phases = opts.phases;
    phases?.enter('compile');
    const pipeline = await pipelineFor(device, 'fft_line.wgsl', LINE_BINDINGS, { WG_X: LINE_WG_X, WG_Y: 1 });
    phases?.enter('host');
    const dataBuf = buffer('dvk fft data', 8 * total, S);
    const kBuf = buffer('dvk fft kernel spectrum', 8 * total, S | GPUBufferUsage.COPY_DST);
    const inBuf = buffer('dvk fft real input', 4 * nx * ny * nz, S | GPUBufferUsage.COPY_DST);
    const outBuf = buffer('dvk fft real output', 4 * nx * ny * nz, S | GPUBufferUsage.COPY_SRC);
    const unusedRead = buffer('dvk fft unused (read)', 16, S);
    const unusedWrite = buffer('dvk fft unused (write)', 16, S);
    const staging = buffer('dvk fft readback', 4 * nx * ny * nz, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST);
    const kRows = kernelSpectrumRows(opts, px, py, pz);
    phases?.enter('upload');
    device.queue.writeBuffer(inBuf, 0, opts.volume);
    for (const [row, values] of kRows) device.queue.writeBuffer(kBuf, 8 * px * row, values);
    await settle(phases);

    const encode = (pass: GPUComputePassEncoder, target: GPUBuffer, p: LinePass) => {
      const radices = fftPlan(p.n).radices;
      if (radices.length > 16) throw new GpuError(`FFT length ${p.n} needs more than 16 stages`);
      const raw = new ArrayBuffer(FFT_LINE_PARAMS_BYTES);
      const u = new Uint32Array(raw);
      const a = p.slabA ?? { base: 0, planes: 0, keptLo: 0, keptHi: 0 };
      const b = p.slabB ?? { base: 0, planes: 0, keptLo: 0, keptHi: 0 };
      u.set([p.elemStride, p.strideA, p.countA, p.strideB, p.countB, radices.length, p.inverse ? 1 : 0, p.n, p.mode, 0, nx, ny, rx, ry, rz, 0]);
      new Float32Array(raw, 9 * 4, 1)[0] = p.scale ?? 1;
      u.set([a.base, a.planes, a.keptLo, a.keptHi, b.base, b.planes, b.keptLo, b.keptHi], 16);
      u.set(radices, 24);
      const params = buffer('dvk fft params', FFT_LINE_PARAMS_BYTES, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
      device.queue.writeBuffer(params, 0, raw);
      const aux = p.mode === LINE_MODE.fused ? kBuf : p.mode === LINE_MODE.load ? inBuf : unusedRead;
      const out = p.mode === LINE_MODE.store ? outBuf : unusedWrite;
      pass.setPipeline(pipeline);
      pass.setBindGroup(
        0,
        device.createBindGroup({
          layout: layoutFor(device, LINE_BINDINGS),
          entries: [target, twiddleBuffer(device, p.n), params, aux, out].map((b, binding) => ({ binding, resource: { buffer: b } })),
        }),
      );
      if (p.countA > 0 && p.countB > 0) pass.dispatchWorkgroups(Math.ceil(p.countA / LINE_WG_X), p.countB);
    };
    const xLines = (rows: number, planes: number) => ({ n: px, elemStride: 1, strideA: px, countA: rows, strideB: planeC, countB: planes });
    const yLines = (planes: number) => ({ n: py, elemStride: px, strideA: 1, countA: px, strideB: planeC, countB: planes });
    const zLines = { n: pz, elemStride: planeC, strideA: 1, countA: px, strideB: px, countB: py };

    // kernel spectrum: x on its rows, y on its planes, z everywhere (rows and planes outside are zero)
    const kPlanes = Math.min(pz, 2 * rz + 1);
    const kRowsY = Math.min(py, 2 * ry + 1);
    let enc = device.createCommandEncoder();
    let pass = enc.beginComputePass(phases?.computePass('dvk kernel spectrum'));
    encode(pass, kBuf, { ...xLines(kRowsY, kPlanes), inverse: false, mode: LINE_MODE.plain });
    encode(pass, kBuf, { ...yLines(kPlanes), inverse: false, mode: LINE_MODE.plain });
    encode(pass, kBuf, { ...zLines, inverse: false, mode: LINE_MODE.plain });
    pass.end();
    phases?.enter('kernel');
    device.queue.submit([enc.finish()]);
    await settle(phases);

    for (let s = 0; s < parts.length; s += 2) {
      // slab A -> real part, slab B (if any) -> imaginary part; each slab's input planes start at local plane 0
      const [qa, qb] = [parts[s], parts[s + 1]].map((q) => {
        if (!q) return undefined;
        const zs0 = Math.max(0, q[0] - rz);
        const zs1 = Math.min(nz, q[1] + rz);
        return { base: zs0, planes: zs1 - zs0, keptLo: q[0] - zs0, keptHi: q[1] - zs0 };
      });
      const inPlanes = Math.max(qa!.planes, qb?.planes ?? 0);
      // the kept outputs lie at +r (see kernelSpectrumRows): planes < outPlanes, rows < ny + ry
      const outPlanes = Math.min(pz, inPlanes + rz);
      enc = device.createCommandEncoder();
      pass = enc.beginComputePass(phases?.computePass('dvk fft slab pair'));
      encode(pass, dataBuf, { ...xLines(py, pz), inverse: false, mode: LINE_MODE.load, slabA: qa, slabB: qb });
      encode(pass, dataBuf, { ...yLines(inPlanes), inverse: false, mode: LINE_MODE.plain });
      encode(pass, dataBuf, { ...zLines, inverse: false, mode: LINE_MODE.fused, scale: 1 / total });
      encode(pass, dataBuf, { ...yLines(outPlanes), inverse: true, mode: LINE_MODE.plain });
      encode(pass, dataBuf, { ...xLines(ny, inPlanes), inverse: true, mode: LINE_MODE.store, slabA: qa, slabB: qb });
      pass.end();
      phases?.enter('kernel');
      device.queue.submit([enc.finish()]);
      await settle(phases);
      progress(Math.min(1, (s + 2) / parts.length) * 0.95);
    }
    phases?.enter('readback');
    const values = await readBack(device, outBuf, 4 * nx * ny * nz, staging, device.createCommandEncoder(), (v) => v.slice());
    phases?.enter('host');
    progress(1);
    return { values, method: 'fft', slabs: parts.length, paddedDims: [px, py, pz], fftLayout: 'line' };
  } finally {
    for (const buf of transient) buf.destroy();
  }
}
