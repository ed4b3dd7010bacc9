/**
 * The CPU canvas back end: the oracle of slice.wgsl, written plainly. Per view it samples CT, dose and structure
 * bits once per pixel (nearest voxel, float64 index arithmetic), then colours each pixel by the shader's rules:
 * windowed CT grey; dose >= threshold and > 0 mixed in with the colormap at `opacity` (the colour of D / colour max, or
 * with the 'uncertainty' overlay of 100 x relative standard error / its colour max [%], NaN as 0); an isodose line where the
 * pixel is at or above a level and a 4-neighbour is below it; a structure outline where the pixel is inside and a
 * 4-neighbour is not (neighbours clamped to the canvas).
 */
import { COLORMAP, ISODOSE_COLORS, colormapIndex } from './colormap.ts';
import { DEFAULT_UNCERTAINTY_MAX_PERCENT, type DisplaySettings, MAX_ISODOSE_LEVELS, type SceneVolumes, type SliceRenderer, type ViewTarget } from './renderer.ts';
import { combineDoseCpu } from './territories.ts';
import { type ClientVolume, type Mat4ColMajor, pixelToIndex } from './views.ts';

/** Samples a volume at every pixel centre of a W x H canvas (nearest voxel); `outside` where off the grid. */
export function samplePlane<T extends Float32Array | Uint32Array>(
  v: ClientVolume<T>,
  pixToLps: Mat4ColMajor,
  widthPx: number,
  heightPx: number,
  out: T,
  outside: number,
): T {
  const m = pixelToIndex(v, pixToLps);
  const [nx, ny, nz] = v.grid.dims;
  const data = v.data;
  let o = 0;
  for (let y = 0; y < heightPx; y++) {
    const py = y + 0.5;
    let qi = m[0] * 0.5 + m[4] * py + m[12];
    let qj = m[1] * 0.5 + m[5] * py + m[13];
    let qk = m[2] * 0.5 + m[6] * py + m[14];
    for (let x = 0; x < widthPx; x++, o++) {
      const i = Math.floor(qi + 0.5), j = Math.floor(qj + 0.5), k = Math.floor(qk + 0.5);
      out[o] = i < 0 || j < 0 || k < 0 || i >= nx || j >= ny || k >= nz ? outside : data[i + nx * (j + ny * k)];
      qi += m[0];
      qj += m[1];
      qk += m[2];
    }
  }
  return out;
}

/** Colours one view into RGBA bytes (the CPU twin of slice.wgsl's fragment shader). */
export function renderSliceCpu(
  vols: SceneVolumes,
  pixToLps: Mat4ColMajor,
  widthPx: number,
  heightPx: number,
  s: DisplaySettings,
  rgba: Uint8ClampedArray,
): void {
  const n = widthPx * heightPx;
  const ct = vols.ct ? samplePlane(vols.ct, pixToLps, widthPx, heightPx, new Float32Array(n), -1000) : undefined;
  const dose = vols.dose ? samplePlane(vols.dose, pixToLps, widthPx, heightPx, new Float32Array(n), 0) : new Float32Array(n);
  const labels = vols.labels && s.visibleMask !== 0
    ? samplePlane(vols.labels, pixToLps, widthPx, heightPx, new Uint32Array(n), 0)
    : undefined;
  for (let p = 0; p < n; p++) {
    const d = dose[p] * s.doseScale;
    dose[p] = d === d ? d : 0; // NaN -> 0
  }
  if (labels) for (let p = 0; p < n; p++) labels[p] &= s.visibleMask;
  // the uncertainty overlay: sampled on the dose's grid with the dose's matrix (as slice.wgsl's uncTex), NaN -> 0
  const unc = s.overlay === 'uncertainty' && vols.doseRelStdErr && vols.dose && vols.doseRelStdErr.grid.dims.every((x, i) => x === vols.dose!.grid.dims[i])
    ? samplePlane({ ...vols.dose, data: vols.doseRelStdErr.data }, pixToLps, widthPx, heightPx, new Float32Array(n), 0)
    : undefined;
  const uncMax = s.uncertaintyMaxPercent ?? DEFAULT_UNCERTAINTY_MAX_PERCENT;
  const lo = s.windowCentreHu - 0.5 * s.windowWidthHu;
  const levels = s.isodoseGy.slice(0, MAX_ISODOSE_LEVELS);
  const tmp = [0, 0, 0];
  for (let y = 0; y < heightPx; y++) {
    for (let x = 0; x < widthPx; x++) {
      const p = x + widthPx * y;
      const grey = ct ? Math.min(1, Math.max(0, (ct[p] - lo) / s.windowWidthHu)) : 0;
      tmp[0] = tmp[1] = tmp[2] = grey;
      const d = dose[p];
      if (s.showDose && d > 0 && d >= s.thresholdGy) {
        const u = unc ? unc[p] : 0;
        const ci = 3 * (unc ? colormapIndex(u === u ? 100 * u : 0, uncMax) : colormapIndex(d, s.colorMaxGy));
        for (let c = 0; c < 3; c++) tmp[c] = tmp[c] + (COLORMAP[ci + c] / 255 - tmp[c]) * s.opacity;
      }
      const pl = x > 0 ? p - 1 : p, pr = x < widthPx - 1 ? p + 1 : p;
      const pu = y > 0 ? p - widthPx : p, pd = y < heightPx - 1 ? p + widthPx : p;
      if (levels.length) {
        const dl = dose[pl], dr = dose[pr], du = dose[pu], dd = dose[pd];
        for (let i = 0; i < levels.length; i++) {
          const L = levels[i];
          if (d >= L && (dl < L || dr < L || du < L || dd < L)) {
            const c = ISODOSE_COLORS[i];
            tmp[0] = c[0] / 255;
            tmp[1] = c[1] / 255;
            tmp[2] = c[2] / 255;
          }
        }
      }
      if (labels) {
        const edge = labels[p] & ~(labels[pl] & labels[pr] & labels[pu] & labels[pd]);
        if (edge !== 0) {
          const c = s.structureColors[31 - Math.clz32(edge & -edge)] ?? [255, 255, 255];
          tmp[0] = c[0] / 255;
          tmp[1] = c[1] / 255;
          tmp[2] = c[2] / 255;
        }
      }
      const o = 4 * p;
      rgba[o] = Math.round(255 * tmp[0]);
      rgba[o + 1] = Math.round(255 * tmp[1]);
      rgba[o + 2] = Math.round(255 * tmp[2]);
      rgba[o + 3] = 255;
    }
  }
}

/** CPU back end: draws each view into its canvas with a 2-D context. */
export function createCpuRenderer(vols: SceneVolumes): SliceRenderer {
  return {
    backend: 'cpu',
    async render(targets: readonly ViewTarget[], settings: DisplaySettings): Promise<void> {
      for (const t of targets) {
        const ctx = t.canvas.getContext('2d');
        if (!ctx) throw new Error('canvas 2d context unavailable');
        const img = ctx.createImageData(t.canvas.width, t.canvas.height);
        renderSliceCpu(vols, t.pixToLps, t.canvas.width, t.canvas.height, settings, img.data);
        ctx.putImageData(img, 0, 0);
      }
    },
    async settle(): Promise<void> {},
    ...(vols.doseTerms && vols.dose
      ? {
          async combineDose(weightsGBq: readonly number[]): Promise<void> {
            combineDoseCpu(vols.doseTerms!.map((t) => t.data), weightsGBq, vols.dose!.data);
          },
          async readDose(): Promise<Float32Array> {
            return Float32Array.from(vols.dose!.data);
          },
        }
      : {}),
  };
}
