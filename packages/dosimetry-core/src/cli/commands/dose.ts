/**
 * `dosimetry dose`: voxel dose map and per-structure statistics (../shared/CONTRACT.md).
 * Writes DIR/dose.nii.gz, DIR/report.json, DIR/structures.csv (and DIR/rtdose.dcm with --rtdose) all at once,
 * only after everything was computed: an error leaves no partial output.
 */
import { join } from 'node:path';
import { UsageError } from '../../errors.ts';
import { parseIsotope } from '../../units/index.ts';
import { parseActivityUnit } from '../../dose/calibration.ts';
import { parseBackend } from '../../dose/backend.ts';
import { computeDoseCase, type DoseCaseOptions, type DoseCaseResult, type SegmentationInput } from '../../dose/pipeline.ts';
import { readImage, readStructures } from '../../dose/inputs.ts';
import { buildReport, structuresCsv, structuresTable, type ReportStructure } from '../../dose/report.ts';
import { writeFilesAtomic } from '../../io/atomic.ts';
import type { StructureMask } from '../../volume/structure.ts';
import { numberOpt, opt, optAll, parseArgs, requireOpt, type OptionSpec, type ParsedArgs } from '../args.ts';

export const DOSE_OPTIONS: Record<string, OptionSpec> = {
  activity: { type: 'string' },
  'activity-unit': { type: 'string' },
  'administered-gbq': { type: 'string' },
  'normalize-to': { type: 'string' },
  'lung-shunt-fraction': { type: 'string' },
  segmentation: { type: 'string', repeatable: true },
  labels: { type: 'string', repeatable: true },
  liver: { type: 'string' },
  tumor: { type: 'string', repeatable: true },
  lung: { type: 'string' },
  perfused: { type: 'string' },
  ct: { type: 'string' },
  'scan-delay-h': { type: 'string' },
  'split-lesions': { type: 'flag' },
  isotope: { type: 'string' },
  method: { type: 'string' },
  density: { type: 'string' },
  'lung-density': { type: 'string' },
  'mask-mode': { type: 'string' },
  backend: { type: 'string' },
  rtdose: { type: 'flag' },
  out: { type: 'string' },
  json: { type: 'flag' },
  quiet: { type: 'flag' },
  help: { type: 'flag' },
};

export const DOSE_HELP = `usage: pnpm -s dosimetry dose --activity FILE --activity-unit bq-per-ml|counts
  [--administered-gbq A] [--normalize-to NAME] [--lung-shunt-fraction F]
  --segmentation FILE [--labels "1=Liver,2=Tumor A"] (repeatable)
  --liver NAME [--tumor NAME ...] [--lung NAME] [--perfused NAME]
  [--ct FILE] [--scan-delay-h H] [--split-lesions]
  --isotope Y90|Ho166 --method ldm|dvk [--density 1.05] [--lung-density 0.30]
  [--mask-mode fractional|nearest] [--backend auto|webgpu|cpu] [--rtdose] --out DIR [--json] [--quiet]`;

/** Reads the inputs named by the dose/plan options and builds the pipeline options. */
export async function doseCaseFromArgs(a: ParsedArgs, command: string, progress: (m: string) => void) {
  const activityPath = requireOpt(a, 'activity', command);
  const unit = parseActivityUnit(requireOpt(a, 'activity-unit', command));
  const isotope = parseIsotope(requireOpt(a, 'isotope', command));
  const methodText = opt(a, 'method') ?? (command === 'dose' ? undefined : 'ldm');
  if (methodText === undefined) throw new UsageError(`${command}: --method is required (ldm or dvk)`);
  if (methodText !== 'ldm' && methodText !== 'dvk') throw new UsageError(`${command}: unknown method "${methodText}": use ldm or dvk`);
  const liver = requireOpt(a, 'liver', command);
  if (optAll(a, 'segmentation').length === 0) throw new UsageError(`${command}: at least one --segmentation is required`);
  const maskMode = opt(a, 'mask-mode') ?? 'fractional';
  if (maskMode !== 'fractional' && maskMode !== 'nearest') throw new UsageError(`${command}: --mask-mode must be fractional or nearest`);

  progress(`reading activity ${activityPath}`);
  const act = await readImage(activityPath, 'activity image');
  if (act.volume.geometry.dims.length !== 3) throw new UsageError('activity image must be 3-D');
  // --labels applies to the --segmentation it follows.
  const segSpecs: Array<{ path: string; labels?: string }> = [];
  for (const item of a.sequence) {
    if (item.name === 'segmentation') segSpecs.push({ path: String(item.value) });
    else if (item.name === 'labels') {
      const last = segSpecs[segSpecs.length - 1];
      if (!last) throw new UsageError(`${command}: --labels must follow the --segmentation it names`);
      if (last.labels !== undefined) throw new UsageError(`${command}: two --labels for ${last.path}`);
      last.labels = String(item.value);
    }
  }
  const segmentations: SegmentationInput[] = [];
  for (const s of segSpecs) {
    progress(`reading segmentation ${s.path}`);
    segmentations.push({ path: s.path, masks: await readStructures(s.path, { labels: s.labels, referenceGrid: act.volume.geometry }) });
  }
  const ctPath = opt(a, 'ct');
  let ct;
  if (ctPath) {
    progress(`reading CT ${ctPath}`);
    ct = (await readImage(ctPath, 'CT')).volume;
  }
  const options: DoseCaseOptions = {
    activity: act.volume,
    activityUnit: unit,
    isotope,
    method: methodText,
    segmentations,
    liver,
    tumors: optAll(a, 'tumor'),
    lung: opt(a, 'lung'),
    perfused: opt(a, 'perfused'),
    administeredGBq: numberOpt(a, 'administered-gbq', command),
    normalizeTo: opt(a, 'normalize-to'),
    lungShuntFraction: numberOpt(a, 'lung-shunt-fraction', command),
    scanDelayH: numberOpt(a, 'scan-delay-h', command),
    ct,
    tissueDensityGPerMl: numberOpt(a, 'density', command),
    lungDensityGPerMl: numberOpt(a, 'lung-density', command),
    splitLesions: a.flags.has('split-lesions'),
    backend: parseBackend(opt(a, 'backend') ?? 'auto'),
    maskMode,
    onProgress: progress,
  };
  const inputs = [
    { role: 'activity', path: activityPath },
    ...segSpecs.map((s) => ({ role: 'segmentation', path: s.path })),
    ...(ctPath ? [{ role: 'ct', path: ctPath }] : []),
  ];
  const parameters: Record<string, unknown> = {
    activityUnit: unit,
    isotope,
    method: methodText,
    liver,
    tumors: options.tumors,
    lung: options.lung ?? null,
    perfused: options.perfused ?? null,
    labels: segSpecs.map((s) => s.labels ?? null),
    administeredGBq: options.administeredGBq ?? null,
    normalizeTo: options.normalizeTo ?? liver,
    lungShuntFractionGiven: options.lungShuntFraction ?? null,
    scanDelayH: options.scanDelayH ?? 0,
    tissueDensityGPerMl: options.tissueDensityGPerMl ?? 1.05,
    lungDensityGPerMl: options.lungDensityGPerMl ?? 0.3,
    huToDensity: ctPath ? 'rho = (HU + 1000) / 1000 g/mL, clamped at 0' : null,
    splitLesions: options.splitLesions,
    lesionConnectivity: 26,
    maskMode,
    backendRequested: options.backend,
    dvhBins: 2000,
  };
  return { options, inputs, parameters, activityMeta: act.meta, ctPath };
}

/** The reported structures as dense masks on the activity grid (occupancy 0..255 from the partial-volume weights). */
export function structureMasksOnGrid(result: DoseCaseResult): StructureMask[] {
  const g = result.dose.geometry;
  const n = g.dims[0] * g.dims[1] * g.dims[2];
  return result.gridStructures
    .map((s, i) => {
      const occupancy = new Uint8Array(n);
      for (let k = 0; k < s.voxelIndices.length; k++) occupancy[s.voxelIndices[k]] = Math.round(255 * Math.min(1, s.weights[k]));
      return { name: result.structures[i].name, origin: s.origin, geometry: g, occupancy, ...(s.colorRgb ? { colorRgb: s.colorRgb } : {}) };
    })
    .filter((m) => m.occupancy.some((v) => v >= 128));
}

/**
 * Encodes the case's outputs (dose.nii.gz, report.json, structures.csv, structures.seg.nrrd[, rtdose.dcm]) for one
 * atomic write. structures.seg.nrrd holds every reported structure (derived normal liver and split lesions included)
 * on the dose grid, so that a viewer or 3D Slicer shows exactly what was counted (voxels at least half inside).
 */
export async function caseOutputs(outDir: string, result: DoseCaseResult, report: Record<string, unknown>, rtdose: boolean) {
  const { encodeNifti, encodeSegNrrd } = await import('../../io/index.ts');
  const masks = structureMasksOnGrid(result);
  const files: Array<{ path: string; data: string | Uint8Array }> = [
    { path: join(outDir, 'dose.nii.gz'), data: encodeNifti(result.dose, { description: 'absorbed dose [Gy]' }) },
    { path: join(outDir, 'report.json'), data: JSON.stringify(report, null, 2) + '\n' },
    { path: join(outDir, 'structures.csv'), data: structuresCsv(report as { structures: ReportStructure[] }) },
    ...(masks.length ? [{ path: join(outDir, 'structures.seg.nrrd'), data: encodeSegNrrd(masks) }] : []),
  ];
  if (rtdose) {
    const { encodeRtDose } = await import('../../io/dicom/index.ts');
    files.push({ path: join(outDir, 'rtdose.dcm'), data: encodeRtDose(result.dose, {}) });
  }
  return files;
}

export async function run(argv: string[]): Promise<number> {
  const a = parseArgs(argv, DOSE_OPTIONS, 'dose');
  if (a.flags.has('help')) {
    process.stdout.write(DOSE_HELP + '\n');
    return 0;
  }
  const outDir = requireOpt(a, 'out', 'dose');
  const quiet = a.flags.has('quiet') || a.flags.has('json');
  const progress = (m: string) => {
    if (!quiet) process.stderr.write(`  ${m}\n`);
  };
  const { options, inputs, parameters } = await doseCaseFromArgs(a, 'dose', progress);
  const result = await computeDoseCase(options);
  const report = buildReport(result, { isotope: options.isotope, method: options.method, inputs, parameters });
  writeFilesAtomic(await caseOutputs(outDir, result, report, a.flags.has('rtdose')));
  if (a.flags.has('json')) {
    process.stdout.write(JSON.stringify(report) + '\n');
  } else {
    process.stdout.write(
      `${options.isotope} ${options.method.toUpperCase()} dose on the ${result.backend} back end; ${result.activityInFieldGBq.toFixed(4)} GBq in the field\n` +
        structuresTable(report as { structures: ReportStructure[] }) +
        '\n' +
        (result.warnings.length ? result.warnings.map((w) => `warning: ${w}`).join('\n') + '\n' : '') +
        `wrote ${join(outDir, 'dose.nii.gz')}, report.json, structures.csv, structures.seg.nrrd\n`,
    );
  }
  return 0;
}
