/**
 * The WebGPU back end: volumes as 3-D textures (CT, dose and a Monte Carlo case's relative standard error r32float,
 * structure bits r32uint), one render pipeline
 * (slice.wgsl) drawing a full-canvas triangle per view; the colormap, isodose lines and outlines are computed per
 * fragment. Explicit bind group layout; pipeline cached per device. Its CPU oracle is render-cpu.ts.
 */
import shaderSource from './slice.wgsl?raw';
import { COLORMAP, ISODOSE_COLORS } from './colormap.ts';
import { type DoseCombinerGpu, createDoseCombinerGpu, readTexture3d } from './combine-gpu.ts';
import { DEFAULT_UNCERTAINTY_MAX_PERCENT, type DisplaySettings, MAX_ISODOSE_LEVELS, type SceneVolumes, type SliceRenderer, type ViewTarget } from './renderer.ts';
import { type ClientVolume, type Mat4ColMajor, pixelToIndex } from './views.ts';

/** Size of the WGSL `Params` struct [bytes]: 3 mat4x4f (192) + 5 vec4 (80) + levels (32) + canvas (16) + masks (16). */
export const PARAMS_BYTES = 192 + 80 + 32 + 16 + 16;
/** Palette entries: 256 colormap + 32 structures + 8 isodose levels, vec4f each. */
const PALETTE_ENTRIES = 256 + 32 + MAX_ISODOSE_LEVELS;

interface Pipelines {
  layout: GPUBindGroupLayout;
  pipeline: GPURenderPipeline;
  format: GPUTextureFormat;
}
const PIPELINES = new WeakMap<GPUDevice, Pipelines>();

function pipelinesFor(device: GPUDevice, format: GPUTextureFormat): Pipelines {
  const had = PIPELINES.get(device);
  if (had && had.format === format) return had;
  const layout = device.createBindGroupLayout({
    label: 'slice bind group layout',
    entries: [
      { binding: 0, visibility: GPUShaderStage.FRAGMENT, buffer: { type: 'uniform', minBindingSize: PARAMS_BYTES } },
      { binding: 1, visibility: GPUShaderStage.FRAGMENT, texture: { sampleType: 'unfilterable-float', viewDimension: '3d' } },
      { binding: 2, visibility: GPUShaderStage.FRAGMENT, texture: { sampleType: 'unfilterable-float', viewDimension: '3d' } },
      { binding: 3, visibility: GPUShaderStage.FRAGMENT, texture: { sampleType: 'uint', viewDimension: '3d' } },
      { binding: 4, visibility: GPUShaderStage.FRAGMENT, buffer: { type: 'read-only-storage' } },
      { binding: 5, visibility: GPUShaderStage.FRAGMENT, texture: { sampleType: 'unfilterable-float', viewDimension: '3d' } },
    ],
  });
  const module = device.createShaderModule({ label: 'slice.wgsl', code: shaderSource });
  const pipeline = device.createRenderPipeline({
    label: 'slice pipeline',
    layout: device.createPipelineLayout({ bindGroupLayouts: [layout] }),
    vertex: { module, entryPoint: 'vs' },
    fragment: { module, entryPoint: 'fs', targets: [{ format }] },
    primitive: { topology: 'triangle-list' },
  });
  const p = { layout, pipeline, format };
  PIPELINES.set(device, p);
  return p;
}

/**
 * Uploads a volume as a 3-D texture, in z-slabs of at most 32 MiB. A 1x1x1 zero texture stands in for a missing one.
 * Observed on Chromium/SwiftShader: the first slab write asks Dawn for a staging buffer of the whole texture (its
 * zero-fill, it seems), so a texture larger than the device's maxBufferSize fails to upload (see requestGpuDevice).
 */
function volumeTexture(device: GPUDevice, v: ClientVolume<Float32Array | Uint32Array> | undefined, format: 'r32float' | 'r32uint', extraUsage = 0): GPUTexture {
  const [nx, ny, nz] = v ? v.grid.dims : [1, 1, 1];
  const lim = device.limits.maxTextureDimension3D;
  if (nx > lim || ny > lim || nz > lim) throw new Error(`volume ${nx}x${ny}x${nz} exceeds this GPU's 3-D texture limit ${lim}`);
  const tex = device.createTexture({
    size: [nx, ny, nz],
    dimension: '3d',
    format,
    usage: GPUTextureUsage.TEXTURE_BINDING | GPUTextureUsage.COPY_DST | extraUsage,
  });
  const data = v ? v.data : format === 'r32float' ? new Float32Array(1) : new Uint32Array(1);
  const slab = Math.max(1, Math.floor((32 * 1024 * 1024) / (4 * nx * ny)));
  for (let z = 0; z < nz; z += slab) {
    const d = Math.min(slab, nz - z);
    const part = data.subarray(z * nx * ny, (z + d) * nx * ny);
    device.queue.writeTexture({ texture: tex, origin: [0, 0, z] }, part, { bytesPerRow: 4 * nx, rowsPerImage: ny }, [nx, ny, d]);
  }
  return tex;
}

/** Writes the `Params` uniform of one view (layout of slice.wgsl). */
export function writeParams(
  vols: SceneVolumes,
  pixToLps: Mat4ColMajor,
  widthPx: number,
  heightPx: number,
  s: DisplaySettings,
): ArrayBuffer {
  const buf = new ArrayBuffer(PARAMS_BYTES);
  const f = new Float32Array(buf);
  const u = new Uint32Array(buf);
  const mats: Array<ClientVolume<Float32Array | Uint32Array> | undefined> = [vols.ct, vols.dose, vols.labels];
  mats.forEach((v, i) => {
    if (v) f.set(pixelToIndex(v, pixToLps) as ArrayLike<number>, 16 * i);
    const dims = v ? v.grid.dims : [1, 1, 1];
    f.set([dims[0], dims[1], dims[2], v ? 1 : 0], 48 + 4 * i);
  });
  f.set([s.windowCentreHu, s.windowWidthHu, s.doseScale, s.colorMaxGy], 60);
  const levels = s.isodoseGy.slice(0, MAX_ISODOSE_LEVELS);
  f.set([s.thresholdGy, s.opacity, s.showDose ? 1 : 0, levels.length], 64);
  f.set(levels, 68);
  const unc = s.overlay === 'uncertainty' && vols.doseRelStdErr !== undefined && vols.dose !== undefined;
  f.set([widthPx, heightPx, unc ? 1 : 0, s.uncertaintyMaxPercent ?? DEFAULT_UNCERTAINTY_MAX_PERCENT], 76);
  u[80] = s.visibleMask >>> 0;
  return buf;
}

function paletteData(s: DisplaySettings): Float32Array {
  const p = new Float32Array(4 * PALETTE_ENTRIES);
  for (let i = 0; i < 256; i++) p.set([COLORMAP[3 * i] / 255, COLORMAP[3 * i + 1] / 255, COLORMAP[3 * i + 2] / 255, 1], 4 * i);
  for (let b = 0; b < 32; b++) {
    const c = s.structureColors[b] ?? [255, 255, 255];
    p.set([c[0] / 255, c[1] / 255, c[2] / 255, 1], 4 * (256 + b));
  }
  ISODOSE_COLORS.forEach((c, i) => p.set([c[0] / 255, c[1] / 255, c[2] / 255, 1], 4 * (288 + i)));
  return p;
}

/** Whether an adapter is a software renderer (SwiftShader, lavapipe, WARP): slower than the page's CPU canvas. */
export function isSoftwareAdapterInfo(info: { vendor?: string; architecture?: string; device?: string; description?: string; isFallbackAdapter?: boolean } | undefined): boolean {
  if (!info) return false;
  if (info.isFallbackAdapter === true || info.architecture === 'software') return true;
  return /llvmpipe|lavapipe|swiftshader|microsoft basic render/i.test(`${info.vendor ?? ''} ${info.device ?? ''} ${info.description ?? ''}`);
}

/**
 * Asks for a WebGPU device; undefined when the browser has no adapter, or (unless `allowSoftware`, i.e.
 * ?backend=webgpu) when the only adapter is a software renderer, which draws slower than the CPU canvas: `why` then
 * receives the reason, shown on the page.
 */
export async function requestGpuDevice(opts: { allowSoftware?: boolean; why?: (reason: string) => void } = {}): Promise<GPUDevice | undefined> {
  if (typeof navigator === 'undefined' || !('gpu' in navigator) || !navigator.gpu) return undefined;
  const adapter = await navigator.gpu.requestAdapter();
  if (!adapter) return undefined;
  const info = (adapter as GPUAdapter & { info?: GPUAdapterInfo & { isFallbackAdapter?: boolean }; isFallbackAdapter?: boolean }).info;
  if (!opts.allowSoftware && (isSoftwareAdapterInfo(info) || (adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter === true)) {
    opts.why?.(`the only WebGPU adapter is a software renderer (${[info?.vendor, info?.architecture, info?.description].filter(Boolean).join(' ')}): CPU rendering is faster (?backend=webgpu uses it anyway)`);
    return undefined;
  }
  // Dawn stages a whole 3-D texture (300 MiB "Dawn_DynamicUploaderStaging" seen on SwiftShader) at its first slab
  // write: with the default 256 MiB maxBufferSize a 512x512x300 float CT (300 MiB) fails to upload and every later submit
  // is invalid (nothing drawn). Ask for what the adapter allows.
  const maxBufferSize = adapter.limits.maxBufferSize;
  return adapter.requestDevice({ requiredLimits: { maxBufferSize } });
}

/**
 * WebGPU back end on `device`; uploads the volumes once. Each view is drawn into an offscreen rgba8unorm texture,
 * copied to a mappable buffer and put into the view's 2-D canvas: presenting through a 'webgpu' canvas context
 * loses the device on Chromium's headless software adapter, and this way screenshots and PNG export read the same
 * pixels on both back ends.
 */
export function createGpuRenderer(device: GPUDevice, vols: SceneVolumes): SliceRenderer {
  const format: GPUTextureFormat = 'rgba8unorm';
  const { layout, pipeline } = pipelinesFor(device, format);
  const ctTex = volumeTexture(device, vols.ct, 'r32float');
  // With territory maps the dose texture is also written by the territory sum (combine.wgsl) and read back in checks.
  const territorial = vols.doseTerms !== undefined && vols.dose !== undefined;
  const doseTex = volumeTexture(device, vols.dose, 'r32float', territorial ? GPUTextureUsage.STORAGE_BINDING | GPUTextureUsage.COPY_SRC : 0);
  const combiner: DoseCombinerGpu | undefined = territorial
    ? createDoseCombinerGpu(device, { dims: vols.dose!.grid.dims, terms: vols.doseTerms!.map((t) => t.data), target: doseTex })
    : undefined;
  const labelTex = volumeTexture(device, vols.labels, 'r32uint');
  // Monte Carlo: the relative standard error on the dose grid (its dims must be the dose's: sampled with doseIdx)
  const relOnDoseGrid = vols.doseRelStdErr && vols.dose && vols.doseRelStdErr.grid.dims.every((n, i) => n === vols.dose!.grid.dims[i]) ? vols.doseRelStdErr : undefined;
  const uncTex = volumeTexture(device, relOnDoseGrid, 'r32float');
  const palette = device.createBuffer({ size: 16 * PALETTE_ENTRIES, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
  const views = [ctTex, doseTex, labelTex, uncTex].map((t) => t.createView());
  interface PerCanvas {
    width: number;
    height: number;
    target: GPUTexture;
    readback: GPUBuffer;
    bytesPerRow: number;
    uniform: GPUBuffer;
    group: GPUBindGroup;
  }
  const perCanvas = new WeakMap<HTMLCanvasElement, PerCanvas>();
  let lastSubmit: Promise<unknown> = Promise.resolve();
  const setup = (canvas: HTMLCanvasElement): PerCanvas => {
    const had = perCanvas.get(canvas);
    if (had && had.width === canvas.width && had.height === canvas.height) return had;
    const width = canvas.width, height = canvas.height;
    const bytesPerRow = Math.ceil((4 * width) / 256) * 256;
    const uniform = device.createBuffer({ size: PARAMS_BYTES, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    const pc: PerCanvas = {
      width,
      height,
      target: device.createTexture({ size: [width, height], format, usage: GPUTextureUsage.RENDER_ATTACHMENT | GPUTextureUsage.COPY_SRC }),
      readback: device.createBuffer({ size: bytesPerRow * height, usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ }),
      bytesPerRow,
      uniform,
      group: device.createBindGroup({
        layout,
        entries: [
          { binding: 0, resource: { buffer: uniform } },
          { binding: 1, resource: views[0] },
          { binding: 2, resource: views[1] },
          { binding: 3, resource: views[2] },
          { binding: 4, resource: { buffer: palette } },
          { binding: 5, resource: views[3] },
        ],
      }),
    };
    perCanvas.set(canvas, pc);
    return pc;
  };
  return {
    backend: 'webgpu',
    async render(targets: readonly ViewTarget[], s: DisplaySettings): Promise<void> {
      await lastSubmit; // readback buffers must be unmapped before reuse
      device.queue.writeBuffer(palette, 0, paletteData(s));
      const enc = device.createCommandEncoder();
      const used = targets.map((t) => {
        const pc = setup(t.canvas);
        device.queue.writeBuffer(pc.uniform, 0, writeParams(vols, t.pixToLps, pc.width, pc.height, s));
        const pass = enc.beginRenderPass({
          colorAttachments: [{ view: pc.target.createView(), loadOp: 'clear', storeOp: 'store', clearValue: [0, 0, 0, 1] }],
        });
        pass.setPipeline(pipeline);
        pass.setBindGroup(0, pc.group);
        pass.draw(3);
        pass.end();
        enc.copyTextureToBuffer({ texture: pc.target }, { buffer: pc.readback, bytesPerRow: pc.bytesPerRow }, [pc.width, pc.height]);
        return { t, pc };
      });
      device.queue.submit([enc.finish()]);
      const done = Promise.all(
        used.map(async ({ t, pc }) => {
          await pc.readback.mapAsync(GPUMapMode.READ);
          const src = new Uint8Array(pc.readback.getMappedRange());
          const ctx = t.canvas.getContext('2d');
          if (!ctx) throw new Error('canvas 2d context unavailable');
          const img = ctx.createImageData(pc.width, pc.height);
          for (let y = 0; y < pc.height; y++) img.data.set(src.subarray(y * pc.bytesPerRow, y * pc.bytesPerRow + 4 * pc.width), 4 * pc.width * y);
          pc.readback.unmap();
          ctx.putImageData(img, 0, 0);
        }),
      );
      lastSubmit = done.catch(() => undefined);
      await done;
    },
    settle: () => device.queue.onSubmittedWorkDone(),
    ...(combiner
      ? {
          async combineDose(weightsGBq: readonly number[]): Promise<void> {
            combiner.combine(weightsGBq);
          },
          readDose: () => readTexture3d(device, doseTex, vols.dose!.grid.dims),
        }
      : {}),
    destroy(): void {
      for (const t of [ctTex, doseTex, labelTex, uncTex]) t.destroy();
      palette.destroy();
      combiner?.destroy();
    },
  };
}
