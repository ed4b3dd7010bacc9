/**
 * `dosimetry register --fixed FILE --moving FILE [--fixed-mask NAME-or-FILE] [--deformable] --out DIR` (surface fixed
 * in ../shared/CONTRACT.md, Additions 2026-12): rigid, optionally B-spline, registration with itk-wasm's elastix
 * (src/registration/). Writes DIR/transform.tfm (ITK transform file, fixed -> moving, LPS mm, as 3D Slicer and ITK
 * read it) and DIR/report.json (quality: mutual information before/after, mean liver surface distance when both masks
 * are given, the rigid stage's rotation and translation), together, atomically.
 */
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { InputError, UsageError } from '../../errors.ts';
import { readImage, readStructures } from '../../dose/inputs.ts';
import { claimOutputDir } from '../../io/output-set.ts';
import { formatTransformFile } from '../../io/transform.ts';
import { registerImages } from '../../registration/register.ts';
import { ENGINE_VERSION } from '../../version.ts';
import { type Geometry, voxelCount } from '../../volume/geometry.ts';
import { maskToGrid, resampleLinear } from '../../volume/resample.ts';
import type { Volume } from '../../volume/volume.ts';
import { numberOpt, opt, parseArgs, requireOpt, type OptionSpec } from '../args.ts';
import { progressReporter } from '../progress.ts';

const OPTIONS: Record<string, OptionSpec> = {
  fixed: { type: 'string' },
  moving: { type: 'string' },
  'fixed-mask': { type: 'string' },
  'fixed-segmentation': { type: 'string' },
  'moving-mask': { type: 'string' },
  'moving-segmentation': { type: 'string' },
  labels: { type: 'string' },
  deformable: { type: 'flag' },
  'grid-spacing-mm': { type: 'string' },
  'mask-margin-mm': { type: 'string' },
  seed: { type: 'string' },
  out: { type: 'string' },
  json: { type: 'flag' },
  quiet: { type: 'flag' },
  help: { type: 'flag' },
};

const HELP = `usage: pnpm -s dosimetry register --fixed FILE --moving FILE --out DIR [--deformable]
  [--fixed-mask NAME-or-FILE [--fixed-segmentation FILE]] [--moving-mask NAME-or-FILE [--moving-segmentation FILE]]
  [--labels "1=Liver,..."] [--grid-spacing-mm 40] [--mask-margin-mm 20] [--seed N] [--json] [--quiet]
Registers the moving image (e.g. the post-treatment CT of the PET/CT) onto the fixed one (the planning CT) with
elastix (itk-wasm): rigid (Euler, Mattes mutual information, 3 resolutions), then with --deformable a B-spline stage
(final control point spacing --grid-spacing-mm, bending energy penalty). --fixed-mask (a structure of
--fixed-segmentation, or a mask image) focuses the registration on that organ: the fixed image is cropped to its box
plus --mask-margin-mm. With --moving-mask too, the report gives the mean surface distance between the two masks
before and after. Writes DIR/transform.tfm (ITK, fixed -> moving, LPS mm: what 3D Slicer and ITK read; give it to
dose --transform) and DIR/report.json.`;

/** A binary mask on `grid` from a mask image (nonzero = inside) or a structure name of a segmentation. */
async function readMask(spec: string, segmentation: string | undefined, labels: string | undefined, grid: Geometry, what: string): Promise<Uint8Array> {
  let mask: Uint8Array;
  if (existsSync(spec) && statSync(spec).isFile()) {
    const img = (await readImage(spec, `${what} mask`, {})).volume as Volume;
    const onGrid = resampleLinear(img, grid, 0);
    mask = Uint8Array.from(onGrid, (v) => (v >= 0.5 ? 1 : 0));
  } else {
    if (!segmentation) {
      throw new UsageError(`register: --${what}-mask ${spec} is neither a file nor usable as a structure name without --${what}-segmentation FILE; give the mask image or the segmentation that holds ${spec}`);
    }
    const structures = await readStructures(segmentation, { labels, referenceGrid: grid });
    const s = structures.find((m) => m.name === spec) ?? structures.find((m) => m.name.toLowerCase() === spec.toLowerCase());
    if (!s) throw new InputError(`register: ${segmentation} holds no structure "${spec}" (it holds ${structures.map((m) => m.name).join(', ') || 'none'}); give one of those to --${what}-mask`);
    const g = maskToGrid(s, grid, { mode: 'fractional' }).structure;
    mask = new Uint8Array(voxelCount(grid));
    for (let n = 0; n < g.voxelIndices.length; n++) if (g.weights[n] >= 0.5) mask[g.voxelIndices[n]] = 1;
  }
  if (!mask.some((v) => v)) throw new InputError(`register: the ${what} mask ${spec} has no voxel on the ${what} image; check that the mask belongs to that image`);
  return mask;
}

export async function run(argv: string[]): Promise<number> {
  const a = parseArgs(argv, OPTIONS, 'register');
  if (a.flags.has('help')) {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  if (a.positionals.length) throw new UsageError(`register: unexpected argument "${a.positionals[0]}" (options start with --)`);
  const fixedPath = requireOpt(a, 'fixed', 'register');
  const movingPath = requireOpt(a, 'moving', 'register');
  const outDir = requireOpt(a, 'out', 'register');
  const spacing = numberOpt(a, 'grid-spacing-mm', 'register');
  if (spacing !== undefined && !(spacing > 0)) throw new UsageError(`register: --grid-spacing-mm must be positive, got ${spacing}`);
  const margin = numberOpt(a, 'mask-margin-mm', 'register');
  if (margin !== undefined && !(margin >= 0)) throw new UsageError(`register: --mask-margin-mm must be zero or positive, got ${margin}`);
  const seed = numberOpt(a, 'seed', 'register');
  const deformable = a.flags.has('deformable');
  const progress = progressReporter(a.flags.has('json') || a.flags.has('quiet'));
  const out = claimOutputDir(outDir, {
    command: 'register',
    inputs: [fixedPath, movingPath, opt(a, 'fixed-segmentation'), opt(a, 'moving-segmentation')],
    argv,
  });
  try {
    progress(`reading ${fixedPath}`);
    const fixed = (await readImage(fixedPath, 'fixed image', {})).volume;
    progress(`reading ${movingPath}`);
    const moving = (await readImage(movingPath, 'moving image', {})).volume;
    const labels = opt(a, 'labels');
    const fm = opt(a, 'fixed-mask');
    const mm = opt(a, 'moving-mask');
    const fixedMask = fm ? await readMask(fm, opt(a, 'fixed-segmentation'), labels, fixed.geometry, 'fixed') : undefined;
    const movingMask = mm ? await readMask(mm, opt(a, 'moving-segmentation'), labels, moving.geometry, 'moving') : undefined;
    progress(deformable ? 'registering (rigid, then B-spline)' : 'registering (rigid)');
    const r = await registerImages({ fixed, moving, fixedMask, movingMask, deformable, bsplineGridSpacingMm: spacing, maskMarginMm: margin, seed });
    progress.done();
    const q = r.quality;
    const report = {
      schemaVersion: 1,
      convention: 'transform.tfm maps fixed points to moving points (ITK), LPS mm: resampling the moving image onto the fixed grid samples it at T(p)',
      fixed: { path: resolve(fixedPath), dims: fixed.geometry.dims, spacingMm: fixed.geometry.spacingMm },
      moving: { path: resolve(movingPath), dims: moving.geometry.dims, spacingMm: moving.geometry.spacingMm },
      fixedMask: fm ?? null,
      movingMask: mm ?? null,
      deformable,
      transformTypes: r.transform.transforms.map((t) => t.type),
      quality: {
        mutualInformationBefore: q.mutualInformationBefore,
        mutualInformationAfter: q.mutualInformationAfter,
        mutualInformationOver: q.mutualInformationOver,
        meanSurfaceDistanceBeforeMm: q.meanSurfaceDistanceBeforeMm,
        meanSurfaceDistanceAfterMm: q.meanSurfaceDistanceAfterMm,
        surfaceDistanceNote: q.meanSurfaceDistanceAfterMm === null ? 'give --fixed-mask and --moving-mask for the surface distance' : 'voxel surfaces on the fixed grid: resolution about half a voxel',
      },
      rigid: q.rigid,
      fixedRegionVoxels: r.fixedRegion,
      provenance: {
        version: ENGINE_VERSION,
        registration: '@itk-wasm/elastix 1.0.1 (elastix, WebAssembly)',
        elastixSeconds: r.elastixSeconds,
        maskHandling: fixedMask ? 'fixed image cropped to the fixed mask box plus margin (itk-wasm elastix takes no mask image)' : 'whole fixed image',
        parameterMaps: r.parameterMaps,
      },
    };
    out.commit([
      { name: 'transform.tfm', data: formatTransformFile(r.transform) },
      { name: 'report.json', data: JSON.stringify(report, null, 2) + '\n' },
    ]);
    if (a.flags.has('json')) {
      process.stdout.write(JSON.stringify(report) + '\n');
      return 0;
    }
    const f = (x: number | null, d = 2) => (x === null ? '-' : x.toFixed(d));
    process.stdout.write(
      [
        `registered ${movingPath} onto ${fixedPath} (${report.transformTypes.join(' + ')}) in ${r.elastixSeconds.toFixed(1)} s`,
        `  rotation ${q.rigid.rotationDeg.toFixed(2)} deg (Euler x y z ${q.rigid.eulerAnglesDeg.map((v) => v.toFixed(2)).join(' ')}), translation ${q.rigid.itkTranslationMm.map((v) => v.toFixed(1)).join(' ')} mm`,
        `  mutual information ${f(q.mutualInformationBefore, 3)} -> ${f(q.mutualInformationAfter, 3)} nats (${q.mutualInformationOver})`,
        `  mean surface distance ${f(q.meanSurfaceDistanceBeforeMm)} -> ${f(q.meanSurfaceDistanceAfterMm)} mm`,
        `wrote ${outDir}/transform.tfm, report.json`,
      ].join('\n') + '\n',
    );
    return 0;
  } finally {
    out.release();
  }
}
