/**
 * The FFT convolution in the 'workgroup' layout (hardware GPUs; see ./gpu.ts): Stockham stages in workgroup memory
 * (shaders/fft_stockham.wgsl), the product pass (shaders/convolve_fft_multiply.wgsl), and the slabs packed into the
 * complex grid and the kept planes gathered by shaders/fft_pack.wgsl and shaders/fft_unpack.wgsl.
 */
import { GpuError } from '../errors.ts';
import { fftPlan } from './fft.ts';
import { packUniform, uniformByteSize } from '../gpu/uniform.ts';
import type { GpuConvolutionOptions, GpuConvolutionResult } from './gpu.ts';
import { FFT_BINDINGS, FFT_PACK_PARAMS, MUL_BINDINGS, PACK_BINDINGS, PACK_WG, UNPACK_BINDINGS, grid, kernelSpectrumRows, layoutFor, maxFftLine, pipelineFor, planFftSlabs, readBack, slabs, transientBuffers, twiddleBuffer, type AxisPass } from './gpu-common.ts';
import { kernelsAlone, settle } from '../gpu/phases.ts';
export async function fftPath(device: GPUDevice, opts: GpuConvolutionOptions, maxBinding: number): Promise<GpuConvolutionResult> {
  const [nx, ny, nz] = opts.dims;
  const [rx, ry, rz] = opts.kernelRadius;
  const progress = opts.onProgress ?? (() => {});
  const maxLine = maxFftLine(device);
  const plan = planFftSlabs(opts, maxBinding, maxLine);
  if ('error' in plan) throw new GpuError(`FFT GPU convolution: ${plan.error}`);
  const { px, py, pz, h, parts } = plan;
  const total = px * py * pz;
  const planeC = px * py;
  const plane = nx * ny;
  const S = GPUBufferUsage.STORAGE;
  const { transient, buffer } = transientBuffers(device);
  const dataBuf = buffer('dvk fft data', 8 * total, S);
  const kBuf = buffer('dvk fft kernel spectrum', 8 * total, S | GPUBufferUsage.COPY_DST);
  // a pair of slabs reads the input planes [zs0 of A, zs1 of B) (adjacent slabs, overlapping halos) and keeps the
  // output planes [z0 of A, z1 of B): at most 2 h + 2 rz and 2 h planes (both within one binding: Pz >= h + 2 rz)
  const boxPlanes = Math.min(nz, 2 * h + 2 * rz);
  const keptPlanes = Math.min(nz, 2 * h);
  const inBuf = buffer('dvk fft real input', 4 * plane * boxPlanes, S | GPUBufferUsage.COPY_DST);
  const outBuf = buffer('dvk fft real output', 4 * plane * keptPlanes, S | GPUBufferUsage.COPY_SRC);
  const staging = buffer('dvk fft readback', 4 * plane * keptPlanes, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST);
  const packParams = buffer('dvk fft pack params', uniformByteSize(FFT_PACK_PARAMS), GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
  const unpackParams = buffer('dvk fft unpack params', uniformByteSize(FFT_PACK_PARAMS), GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
  const phases = opts.phases;
  try {
    phases?.enter('compile');
    const fftPipe = new Map<number, { pipeline: GPUComputePipeline; lines: number }>();
    for (const n of new Set([px, py, pz])) {
      const lines = Math.max(1, Math.min(16, Math.floor(maxLine / n)));
      fftPipe.set(n, { pipeline: await pipelineFor(device, 'fft_stockham.wgsl', FFT_BINDINGS, { WG: 64, N: n, LINES: lines, SMEM: 2 * lines * n }), lines });
    }
    const mulPipe = await pipelineFor(device, 'convolve_fft_multiply.wgsl', MUL_BINDINGS, { WG: 256 });
    const packPipe = await pipelineFor(device, 'fft_pack.wgsl', PACK_BINDINGS, { WG: PACK_WG });
    const unpackPipe = await pipelineFor(device, 'fft_unpack.wgsl', UNPACK_BINDINGS, { WG: PACK_WG });
    phases?.enter('host');

    // one params buffer and bind group per distinct axis pass of this call (the slab pairs repeat the same few)
    const axisBinds = new Map<string, { bind: GPUBindGroup; gx: number; gy: number }>();
    const encodeAxis = (pass: GPUComputePassEncoder, target: 'data' | 'kernel', ax: AxisPass, inverse: boolean) => {
      const { pipeline, lines } = fftPipe.get(ax.n)!;
      const key = `${target}|${ax.n},${ax.elemStride},${ax.strideA},${ax.countA},${ax.strideB},${ax.countB}|${inverse}`;
      let b = axisBinds.get(key);
      if (!b) {
        const [gx, gy] = grid(Math.ceil((ax.countA * ax.countB) / lines));
        const radices = fftPlan(ax.n).radices;
        if (radices.length > 16) throw new GpuError(`FFT length ${ax.n} needs more than 16 stages`);
        const u = new Uint32Array(24);
        u.set([ax.elemStride, ax.strideA, ax.countA, ax.strideB, ax.countB, radices.length, inverse ? 1 : 0, gx]);
        u.set(radices, 8);
        const params = buffer('dvk fft axis params', u.byteLength, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
        device.queue.writeBuffer(params, 0, u);
        const bind = device.createBindGroup({
          layout: layoutFor(device, FFT_BINDINGS),
          entries: [target === 'data' ? dataBuf : kBuf, twiddleBuffer(device, ax.n), params].map((buf, binding) => ({ binding, resource: { buffer: buf } })),
        });
        axisBinds.set(key, (b = { bind, gx, gy }));
      }
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, b.bind);
      pass.dispatchWorkgroups(b.gx, b.gy);
    };
    const xAxis = (planesZ: number, rowsY: number): AxisPass => ({ n: px, elemStride: 1, strideA: px, countA: rowsY, strideB: planeC, countB: planesZ });
    const yAxis = (planesZ: number): AxisPass => ({ n: py, elemStride: px, strideA: 1, countA: px, strideB: planeC, countB: planesZ });
    const zAxis: AxisPass = { n: pz, elemStride: planeC, strideA: 1, countA: px, strideB: px, countB: py };

    // Kernel spectrum: the shifted kernel rows (kernelSpectrumRows), transformed along x on its rows only, along y on
    // its planes only, along z everywhere. A new buffer is zero-filled (WebGPU), so only the kernel rows are written.
    const kRows = kernelSpectrumRows(opts, px, py, pz);
    phases?.enter('upload');
    for (const [row, values] of kRows) device.queue.writeBuffer(kBuf, 8 * px * row, values);
    await settle(phases);
    const kPlanes = Math.min(pz, 2 * rz + 1);
    const kRowsY = Math.min(py, 2 * ry + 1);
    {
      const enc = device.createCommandEncoder();
      const pass = enc.beginComputePass(phases?.computePass('dvk kernel spectrum'));
      encodeAxis(pass, 'kernel', xAxis(kPlanes, kRowsY), false);
      encodeAxis(pass, 'kernel', yAxis(kPlanes), false);
      encodeAxis(pass, 'kernel', zAxis, false);
      pass.end();
      phases?.enter('kernel');
      device.queue.submit([enc.finish()]);
      await settle(phases);
    }
    const mulParams = buffer('dvk fft product params', 16, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
    const mulGroups = grid(Math.ceil(total / 256));
    const mu = new ArrayBuffer(16);
    new Uint32Array(mu, 0, 2).set([total, mulGroups[0] * 256]);
    new Float32Array(mu, 8, 1)[0] = 1 / total;
    device.queue.writeBuffer(mulParams, 0, mu);
    const mulBind = device.createBindGroup({
      layout: layoutFor(device, MUL_BINDINGS),
      entries: [dataBuf, kBuf, mulParams].map((buf, binding) => ({ binding, resource: { buffer: buf } })),
    });
    const packBind = device.createBindGroup({
      layout: layoutFor(device, PACK_BINDINGS),
      entries: [dataBuf, inBuf, packParams].map((buf, binding) => ({ binding, resource: { buffer: buf } })),
    });
    const unpackBind = device.createBindGroup({
      layout: layoutFor(device, UNPACK_BINDINGS),
      entries: [dataBuf, outBuf, unpackParams].map((buf, binding) => ({ binding, resource: { buffer: buf } })),
    });
    const packGroups = grid(Math.ceil(total / PACK_WG));

    const out = new Float32Array(nx * ny * nz);
    let done = 0;
    for (let s = 0; s < parts.length; s += 2) {
      // slab A -> real part, slab B (if any) -> imaginary part; each slab's input planes start at local z = 0
      const [qa, qb] = [parts[s], parts[s + 1]].map((p) => (p ? { z0: p[0], z1: p[1], zs0: Math.max(0, p[0] - rz), zs1: Math.min(nz, p[1] + rz) } : undefined));
      const inPlanes = Math.max(qa!.zs1 - qa!.zs0, qb ? qb.zs1 - qb.zs0 : 0);
      // the uploaded box: input planes [boxLo, boxHi) of the volume, both slabs' inputs (B starts at qb.zs0 - boxLo)
      const boxLo = qa!.zs0;
      const boxHi = Math.max(qa!.zs1, qb?.zs1 ?? 0);
      const keptA = qa!.z1 - qa!.z0;
      const keptB = qb ? qb.z1 - qb.z0 : 0;
      const common = { nx, ny, px, py, rx, ry, rz, _pad0: 0, _pad1: 0, _pad2: 0 };
      const slabFields = {
        baseA: 0,
        planesA: qa!.zs1 - qa!.zs0,
        baseB: qb ? qb.zs0 - boxLo : 0,
        planesB: qb ? qb.zs1 - qb.zs0 : 0,
        keptLoA: qa!.z0 - qa!.zs0,
        keptA,
        keptLoB: qb ? qb.z0 - qb.zs0 : 0,
        keptB,
      };
      const unpackCount = plane * (keptA + keptB);
      const unpackGroups = grid(Math.ceil(unpackCount / PACK_WG));
      phases?.enter('upload');
      device.queue.writeBuffer(inBuf, 0, opts.volume, boxLo * plane, (boxHi - boxLo) * plane);
      device.queue.writeBuffer(packParams, 0, packUniform(FFT_PACK_PARAMS, { ...common, ...slabFields, count: total, rowStride: packGroups[0] * PACK_WG }));
      device.queue.writeBuffer(unpackParams, 0, packUniform(FFT_PACK_PARAMS, { ...common, ...slabFields, count: unpackCount, rowStride: unpackGroups[0] * PACK_WG }));
      await settle(phases);
      const enc = device.createCommandEncoder();
      const pass = enc.beginComputePass(phases?.computePass('dvk fft slab'));
      // packing writes every element of the padded grid: real slabs inside, zero padding outside
      pass.setPipeline(packPipe);
      pass.setBindGroup(0, packBind);
      pass.dispatchWorkgroups(packGroups[0], packGroups[1]);
      encodeAxis(pass, 'data', xAxis(inPlanes, ny), false);
      encodeAxis(pass, 'data', yAxis(inPlanes), false);
      encodeAxis(pass, 'data', zAxis, false);
      pass.setPipeline(mulPipe);
      pass.setBindGroup(0, mulBind);
      pass.dispatchWorkgroups(mulGroups[0], mulGroups[1]);
      encodeAxis(pass, 'data', zAxis, true);
      // the kept outputs lie at +r (see kernelSpectrumRows): planes < outPlanes, rows < ny + ry
      const outPlanes = Math.min(pz, inPlanes + rz);
      encodeAxis(pass, 'data', yAxis(outPlanes), true);
      encodeAxis(pass, 'data', xAxis(outPlanes, Math.min(py, ny + ry)), true);
      pass.setPipeline(unpackPipe);
      pass.setBindGroup(0, unpackBind);
      pass.dispatchWorkgroups(unpackGroups[0], unpackGroups[1]);
      pass.end();
      // slab A's kept planes then slab B's: the output planes [z0 of A, z1 of B) in order
      await readBack(device, outBuf, 4 * unpackCount, staging, await kernelsAlone(device, enc, phases), (v) => out.set(v, plane * qa!.z0));
      phases?.enter('host');
      done += qb ? 2 : 1;
      progress(done / parts.length);
    }
    return { values: out, method: 'fft', slabs: parts.length, paddedDims: [px, py, pz], fftLayout: 'workgroup' };
  } finally {
    for (const buf of transient) buf.destroy();
  }
}
