/**
 * Image registration with itk-wasm's elastix (@itk-wasm/elastix, runs in Node and the browser): rigid (EulerTransform,
 * AdvancedMattesMutualInformation, 3-level smoothing pyramid, adaptive stochastic gradient descent), then optionally
 * B-spline deformable. The result is an ITK transform, fixed -> moving, LPS mm (io/transform.ts).
 *
 * Masks: @itk-wasm/elastix 1.0.1 takes no mask images, so a fixed mask focuses the metric by cropping the fixed image
 * to the mask's bounding box plus `maskMarginMm` (the transform is in world coordinates, so it applies to the whole
 * grid all the same). Quality figures are computed here, independently of elastix (registration/quality.ts).
 */
import { InputError } from '../errors.ts';
import { colMajorToItkDirection } from '../io/mha.ts';
import { type ItkTransformEntry, type ItkTransformFile, compileTransform, linearMapOf, rigidSummary, type RigidSummary } from '../io/transform.ts';
import { type Geometry, indexToWorld } from '../volume/geometry.ts';
import { type Volume, type VoxelArray, toFloat32 } from '../volume/volume.ts';
import { meanSurfaceDistanceMm, mutualInformation, resampleThroughTransform, surfacePoints } from './quality.ts';

/** Options of `registerImages`. */
export interface RegistrationOptions {
  /** The fixed image (planning CT); the transform maps its points to the moving image. */
  readonly fixed: Volume;
  /** The moving image (post-treatment CT). */
  readonly moving: Volume;
  /** Binary mask on the fixed grid (the liver) focusing the registration, optional. */
  readonly fixedMask?: ArrayLike<number>;
  /** Binary mask on the moving grid (the same organ), optional: with fixedMask gives the surface distance. */
  readonly movingMask?: ArrayLike<number>;
  /** Adds a B-spline deformable stage after the rigid one. */
  readonly deformable?: boolean;
  /** Final B-spline control point spacing [mm], default 40. */
  readonly bsplineGridSpacingMm?: number;
  /**
   * Weight of elastix's TransformBendingEnergyPenalty against the MI metric in the B-spline stage, default 2000
   * (elastix's own default, 1, let the B-spline wander in uniform regions of the synthetic torso: 2.5 mm error on the
   * liver surface where the truth was rigid, against 1.0 mm at 2000; test/registration/register.test.ts).
   */
  readonly bendingEnergyWeight?: number;
  /** Margin around the fixed mask's bounding box [mm], default 20. */
  readonly maskMarginMm?: number;
  /** Iterations per resolution, default 250 (rigid) and 300 (B-spline). */
  readonly iterations?: number;
  /** Random seed of elastix's sampler (reproducible runs), default 121212. */
  readonly seed?: number;
}

/** Quality figures of a registration. */
export interface RegistrationQuality {
  /** Mutual information [nats, 32 bins] of fixed and moving before (identity) and after (through the transform). */
  readonly mutualInformationBefore: number;
  readonly mutualInformationAfter: number;
  /** Over which voxels MI was computed. */
  readonly mutualInformationOver: 'fixed mask' | 'whole fixed image';
  /** Mean symmetric surface distance [mm] between the fixed mask and the moving mask carried through, before/after. */
  readonly meanSurfaceDistanceBeforeMm: number | null;
  readonly meanSurfaceDistanceAfterMm: number | null;
  /** The rigid stage's rotation and translation. */
  readonly rigid: RigidSummary & { readonly itkTranslationMm: readonly number[]; readonly centerOfRotationMm: readonly number[] };
}

/** Result of `registerImages`. */
export interface RegistrationResult {
  readonly transform: ItkTransformFile;
  readonly quality: RegistrationQuality;
  /** The elastix parameter maps used, as elastix reads them. */
  readonly parameterMaps: Record<string, string[]>[];
  /** The region of the fixed image elastix saw (the mask's box plus margin, or the whole image). */
  readonly fixedRegion: { readonly lo: number[]; readonly hi: number[] };
  readonly elastixSeconds: number;
  /** Elastix's own resampled moving image on the fixed region's grid (for checks). */
  readonly elastixResult: Volume<Float32Array>;
  readonly elastixResultGeometry: Geometry;
}

async function toItkImage(geometry: Geometry, data: Float32Array) {
  const { Image, ImageType } = await import('itk-wasm');
  const img = new Image(new ImageType(3, 'float32', 'Scalar', 1));
  img.size = [...geometry.dims];
  img.spacing = [...geometry.spacingMm];
  img.origin = [...geometry.originLpsMm];
  img.direction = colMajorToItkDirection(geometry.direction);
  img.data = data;
  return img;
}

function crop(v: Volume, lo: number[], hi: number[]): { geometry: Geometry; data: Float32Array } {
  const g = v.geometry;
  const dims: [number, number, number] = [hi[0] - lo[0] + 1, hi[1] - lo[1] + 1, hi[2] - lo[2] + 1];
  const data = new Float32Array(dims[0] * dims[1] * dims[2]);
  let n = 0;
  for (let k = lo[2]; k <= hi[2]; k++) for (let j = lo[1]; j <= hi[1]; j++) for (let i = lo[0]; i <= hi[0]; i++) data[n++] = v.data[i + g.dims[0] * (j + g.dims[1] * k)];
  const o = indexToWorld(g, lo[0], lo[1], lo[2]);
  return { geometry: { dims, spacingMm: g.spacingMm, originLpsMm: [o[0], o[1], o[2]], direction: g.direction }, data };
}

function maskBox(mask: ArrayLike<number>, g: Geometry, marginMm: number): { lo: number[]; hi: number[] } {
  const lo = [Infinity, Infinity, Infinity], hi = [-Infinity, -Infinity, -Infinity];
  const [nx, ny, nz] = g.dims;
  for (let k = 0, n = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      for (let i = 0; i < nx; i++, n++) {
        if (!mask[n]) continue;
        if (i < lo[0]) lo[0] = i;
        if (i > hi[0]) hi[0] = i;
        if (j < lo[1]) lo[1] = j;
        if (j > hi[1]) hi[1] = j;
        if (k < lo[2]) lo[2] = k;
        if (k > hi[2]) hi[2] = k;
      }
    }
  }
  if (!Number.isFinite(lo[0])) throw new InputError('register: the fixed mask is empty; give a structure that has voxels on the fixed image');
  for (let a = 0; a < 3; a++) {
    const m = Math.ceil(marginMm / g.spacingMm[a]);
    lo[a] = Math.max(0, lo[a] - m);
    hi[a] = Math.min(g.dims[a] - 1, hi[a] + m);
  }
  return { lo, hi };
}

/** itk-wasm's TransformList -> our entries, dropping the composite header (its parameters are a data URL). */
function entriesOf(list: { transformType: { transformParameterization: string }; parameters: ArrayLike<number>; fixedParameters: ArrayLike<number> }[]): ItkTransformEntry[] {
  const names: Record<string, string> = {
    Euler3D: 'Euler3DTransform',
    Affine: 'AffineTransform',
    Translation: 'TranslationTransform',
    BSpline: 'BSplineTransform',
    VersorRigid3D: 'VersorRigid3DTransform',
    Identity: 'IdentityTransform',
  };
  const out: ItkTransformEntry[] = [];
  for (const t of list) {
    const p = t.transformType.transformParameterization;
    if (p === 'Composite') continue;
    const type = names[p];
    if (!type) throw new InputError(`register: elastix returned a ${p} transform, which this engine cannot write`);
    out.push({ type, parameters: Array.from(t.parameters, Number), fixedParameters: Array.from(t.fixedParameters, Number) });
  }
  return out;
}

/**
 * Registers `moving` onto `fixed` with elastix: rigid, then B-spline when `deformable`. Returns the fixed-to-moving
 * transform (ITK), quality figures and the parameter maps used. Runs single-threaded WebAssembly; a 64^3 rigid
 * registration takes about 2 s.
 */
export async function registerImages(o: RegistrationOptions): Promise<RegistrationResult> {
  const { elastixNode, defaultParameterMapNode } = await import('@itk-wasm/elastix');
  const fg = o.fixed.geometry;
  const region = o.fixedMask ? maskBox(o.fixedMask, fg, o.maskMarginMm ?? 20) : { lo: [0, 0, 0], hi: fg.dims.map((d) => d - 1) };
  const fc = crop(o.fixed, region.lo, region.hi);
  const fixedImg = await toItkImage(fc.geometry, fc.data);
  const mv = toFloat32(o.moving.data);
  const movingImg = await toItkImage(o.moving.geometry, mv === o.moving.data ? mv.slice() : mv);
  const seed = String(o.seed ?? 121212);
  const rigid = (await defaultParameterMapNode('rigid', { numberOfResolutions: 3 })).parameterMap as Record<string, string[]>;
  const maps: Record<string, string[]>[] = [
    { ...rigid, MaximumNumberOfIterations: [String(o.iterations ?? 250)], RandomSeed: [seed], WriteResultImage: ['true'], ResultImagePixelType: ['float'] },
  ];
  if (o.deformable) {
    const bs = (await defaultParameterMapNode('bspline', { numberOfResolutions: 3, finalGridSpacing: o.bsplineGridSpacingMm ?? 40 })).parameterMap as Record<string, string[]>;
    const w = o.bendingEnergyWeight ?? 2000;
    const penalty: Record<string, string[]> = w > 0
      ? { Registration: ['MultiMetricMultiResolutionRegistration'], Metric: ['AdvancedMattesMutualInformation', 'TransformBendingEnergyPenalty'], Metric0Weight: ['1'], Metric1Weight: [String(w)] }
      : {};
    maps.push({ ...bs, ...penalty, MaximumNumberOfIterations: [String(o.iterations ?? 300)], RandomSeed: [seed], WriteResultImage: ['true'], ResultImagePixelType: ['float'] });
  }
  const t0 = Date.now();
  let r;
  try {
    r = await elastixNode(maps, { fixed: fixedImg, moving: movingImg });
  } catch (err) {
    throw new InputError(`register: elastix failed (${String((err as Error)?.message ?? err).slice(0, 200)}); check that the two images overlap and hold structure`, { cause: err });
  }
  const elastixSeconds = (Date.now() - t0) / 1000;
  const transform: ItkTransformFile = { transforms: entriesOf(r.transform as never) };
  for (const e of transform.transforms) {
    if ([...e.parameters, ...e.fixedParameters].some((v) => !Number.isFinite(v))) throw new InputError('register: elastix returned a transform with non-finite values; the images may not overlap');
  }
  const rigidEntry = transform.transforms.find((e) => e.type === 'Euler3DTransform');
  const lin = rigidEntry ? linearMapOf(rigidEntry) : undefined;
  const T = compileTransform(transform);
  const identity = compileTransform({ transforms: [] });
  const fixedF = toFloat32(o.fixed.data);
  const before = resampleThroughTransform(o.moving, fg, identity, NaN);
  const after = resampleThroughTransform(o.moving, fg, T, NaN);
  const miMask = o.fixedMask;
  let msdBefore: number | null = null, msdAfter: number | null = null;
  if (o.fixedMask && o.movingMask) {
    const movingMaskVol: Volume = { geometry: o.moving.geometry, data: Float32Array.from(o.movingMask) };
    const fs = surfacePoints(o.fixedMask, fg);
    const thr = (a: Float32Array) => a.map((v) => (v >= 0.5 ? 1 : 0));
    msdBefore = meanSurfaceDistanceMm(fs, surfacePoints(thr(resampleThroughTransform(movingMaskVol, fg, identity, 0)), fg));
    msdAfter = meanSurfaceDistanceMm(fs, surfacePoints(thr(resampleThroughTransform(movingMaskVol, fg, T, 0)), fg));
  }
  const ri = r.result;
  const resultGeometry: Geometry = fc.geometry;
  return {
    transform,
    quality: {
      mutualInformationBefore: mutualInformation(fixedF, before, { mask: miMask }),
      mutualInformationAfter: mutualInformation(fixedF, after, { mask: miMask }),
      mutualInformationOver: miMask ? 'fixed mask' : 'whole fixed image',
      meanSurfaceDistanceBeforeMm: msdBefore,
      meanSurfaceDistanceAfterMm: msdAfter,
      rigid: {
        ...(lin ? rigidSummary(lin) : { rotationDeg: 0, eulerAnglesDeg: [0, 0, 0], offsetMm: [0, 0, 0], nonRigidity: 0 }),
        itkTranslationMm: rigidEntry ? rigidEntry.parameters.slice(3, 6) : [0, 0, 0],
        centerOfRotationMm: rigidEntry ? rigidEntry.fixedParameters.slice(0, 3) : [0, 0, 0],
      },
    },
    parameterMaps: maps,
    fixedRegion: region,
    elastixSeconds,
    elastixResult: { geometry: resultGeometry, data: Float32Array.from(ri.data as ArrayLike<number>) },
    elastixResultGeometry: resultGeometry,
  };
}
