/**
 * What a slice renderer needs and does; implemented by the WebGPU back end (render-gpu.ts) and the CPU canvas
 * back end (render-cpu.ts), which follow the same per-pixel rules (see slice.wgsl).
 */
import type { ClientVolume, Mat4ColMajor, ViewName } from './views.ts';

/** The volumes of a case, in the page. */
export interface SceneVolumes {
  readonly ct?: ClientVolume;
  readonly dose?: ClientVolume;
  readonly labels?: ClientVolume<Uint32Array>;
  /**
   * Dose per GBq of each territory of a multi-territory plan [Gy/GBq], on the grid of `dose`: when given, the shown
   * dose is sum_t A_t x doseTerms_t, set by `combineDose` (and `dose` holds that sum).
   */
  readonly doseTerms?: readonly ClientVolume[];
  /**
   * Monte Carlo: relative standard error of each voxel's dose (a fraction, dose_uncertainty.nii.gz), on the grid of
   * `dose` (sampled with the dose's matrix). Drawn instead of the dose colours when `overlay` is 'uncertainty'.
   */
  readonly doseRelStdErr?: ClientVolume;
}

/** What the colour overlay shows: the dose [Gy], or a Monte Carlo case's relative standard error [%]. */
export type OverlayKind = 'dose' | 'uncertainty';
/** Top of the uncertainty colour bar [%] (relative standard errors above it take the top colour). */
export const DEFAULT_UNCERTAINTY_MAX_PERCENT = 20;

/** Display settings shared by the three views. */
export interface DisplaySettings {
  /** Window centre and width [HU]. */
  windowCentreHu: number;
  windowWidthHu: number;
  /** Dose multiplier: shown dose = stored dose x doseScale (activity / reported activity). */
  doseScale: number;
  /** Dose at the top of the colormap [Gy]. */
  colorMaxGy: number;
  /** Doses below this are not coloured [Gy]. */
  thresholdGy: number;
  /** Overlay opacity 0..1. */
  opacity: number;
  /**
   * 'uncertainty' (needs SceneVolumes.doseRelStdErr): the pixels the dose would colour (dose > 0 and >= threshold)
   * take the colour of 100 x relative standard error / uncertaintyMaxPercent instead of D / colorMaxGy. Default 'dose'.
   */
  overlay?: OverlayKind;
  /** Relative standard error at the top of the colour bar [%]; default DEFAULT_UNCERTAINTY_MAX_PERCENT. */
  uncertaintyMaxPercent?: number;
  showDose: boolean;
  /** Isodose levels [Gy], at most 8. */
  isodoseGy: number[];
  /** Bits of the structures whose outlines are drawn. */
  visibleMask: number;
  /** Structure colours by bit, RGB 0..255. */
  structureColors: Array<[number, number, number]>;
}

/** One view to draw: its canvas and pixel-to-LPS matrix. */
export interface ViewTarget {
  readonly view: ViewName;
  readonly canvas: HTMLCanvasElement;
  readonly pixToLps: Mat4ColMajor;
}

/** A slice renderer. */
export interface SliceRenderer {
  readonly backend: 'webgpu' | 'cpu';
  /** Draws the views; resolves when the frames are submitted (GPU) or painted (CPU). */
  render(targets: readonly ViewTarget[], settings: DisplaySettings): Promise<void>;
  /** Resolves when all submitted GPU work has finished (CPU: at once); for timing. */
  settle(): Promise<void>;
  /** Frees GPU resources (textures, buffers); the renderer is not used afterwards. */
  destroy?(): void;
  /**
   * With `doseTerms`: makes the drawn dose sum_t weightsGBq[t] x doseTerms_t [Gy] (WebGPU: a compute pass into the
   * dose texture; CPU: combineDoseCpu into dose.data). The next `render` shows it.
   */
  combineDose?(weightsGBq: readonly number[]): Promise<void>;
  /** The dose the renderer draws from [Gy] (WebGPU: read back from its texture), for checks against the CPU oracle. */
  readDose?(): Promise<Float32Array>;
}

/** Largest number of isodose levels. */
export const MAX_ISODOSE_LEVELS = 8;
