/**
 * `dosimetry dose`: voxel dose map and per-structure statistics (../shared/CONTRACT.md).
 * Writes DIR/dose.nii.gz, DIR/report.json, DIR/structures.csv (and DIR/rtdose.dcm with --rtdose) all at once,
 * only after everything was computed: an error leaves no partial output.
 */
import { prewarmFftWorkers } from '../../convolution/fft-workers.ts';
import { AIR_DENSITY_THRESHOLD_G_PER_ML } from '../../units/index.ts';
import { voxelVolumeMl } from '../../volume/geometry.ts';
import { progressReporter, type Progress } from '../progress.ts';
import { DVK_LUNG_DENSITY_THRESHOLD_G_PER_ML, localElectronEnergyMeV } from '../../dose/dvk.ts';
import { join } from 'node:path';
import { UsageError } from '../../errors.ts';
import { parseIsotope } from '../../units/index.ts';
import { parseActivityUnit } from '../../dose/calibration.ts';
import { parseBackend } from '../../dose/backend.ts';
import { computeDoseCase, type DoseCaseOptions, type DoseCaseResult, type SegmentationInput } from '../../dose/pipeline.ts';
import { dicomCaseContext, readImage, readRtPlan, readStructures } from '../../dose/inputs.ts';
import type { EncodeRtDoseOptions } from '../../io/dicom/index.ts';
import { lowerName } from '../../io/files.ts';
import { type LabelsSpec, labelCoverageParameters, labelInputs, labelTablePaths, resolveLabelSpecs } from './labels-option.ts';
import type { StructureMask } from '../../volume/structure.ts';
import { buildReport, structuresCsv, structuresTable, type ReportStructure } from '../../dose/report.ts';
import { asOutputFiles, claimOutputDir, type OutputData, type OutputSet } from '../../io/output-set.ts';
import { administrationReport } from '../../dose/delivered.ts';
import { deliveredFromArgs, deliveredParameters } from './dose-delivered.ts';
import { PVC_HELP, applyRecoveryToReport, deconvolutionFromArgs, recoveryFromArgs, recoveryTable } from './dose-pvc.ts';
import { SEG_DICOM_HELP, SEG_DICOM_NAME, SEG_DICOM_OPTIONS, segDicomFile, segDicomFromArgs, type SegDicomRequest } from './seg-dicom.ts';
import { numberOpt, opt, optAll, parseArgs, requireOpt, type OptionSpec, type ParsedArgs } from '../args.ts';
import { resolveDicomwebInputs } from '../../dicomweb/inputs.ts';
import { activityThroughTransform, readTransformWithHash, type TransformProvenance } from '../../registration/apply.ts';
import { checkStorableIdentity, parseStoreSpec, storeCaseOutputs, storeSummaryLines } from '../../dicomweb/store.ts';
import { MC_HELP, MC_OPTIONS, MC_UNCERTAINTY_FILE, applyMcToReport, mcFromArgs, mcParameters, mcUncertaintyFile } from './dose-mc.ts';

export const DOSE_OPTIONS: Record<string, OptionSpec> = {
  activity: { type: 'string' },
  'activity-unit': { type: 'string' },
  'administered-gbq': { type: 'string' },
  'residual-gbq': { type: 'string' }, // dose only (plan refuses it): measured waste, see dose/delivered.ts
  'recovery-coefficients': { type: 'string' }, // dose only: partial-volume correction, see ./dose-pvc.ts
  'pvc-deconvolve-fwhm-mm': { type: 'string' },
  'pvc-iterations': { type: 'string' },
  'normalize-to': { type: 'string' },
  'restrict-to': { type: 'string' },
  'lung-shunt-fraction': { type: 'string' },
  segmentation: { type: 'string', repeatable: true },
  labels: { type: 'string', repeatable: true },
  liver: { type: 'string' },
  tumor: { type: 'string', repeatable: true },
  lung: { type: 'string' },
  perfused: { type: 'string' },
  ct: { type: 'string' },
  transform: { type: 'string' }, // ITK .tfm, CT (fixed) -> activity (moving): activity resampled onto the CT grid (src/registration/apply.ts)
  'scan-delay-h': { type: 'string' },
  'split-lesions': { type: 'flag' },
  isotope: { type: 'string' },
  method: { type: 'string' },
  ...MC_OPTIONS, // --method mc: --mc-histories, --mc-target-uncertainty, --mc-max-histories, --seed (./dose-mc.ts)
  density: { type: 'string' },
  'lung-density': { type: 'string' },
  'mask-mode': { type: 'string' },
  backend: { type: 'string' },
  rtdose: { type: 'flag' },
  report: { type: 'flag' }, // --report: DIR/report.pdf (src/report/)
  ...SEG_DICOM_OPTIONS, // --seg-dicom [--seg-dicom-type]: DIR/structures.seg.dcm (./seg-dicom.ts)
  // DICOM input: which series when a folder holds several; the RT Plan an RT Dose belongs to.
  'activity-series': { type: 'string' },
  'ct-series': { type: 'string' },
  rtplan: { type: 'string' },
  // DICOMweb (src/dicomweb/): a study's series by QIDO-RS; --store sends the results by STOW-RS (implies --rtdose)
  study: { type: 'string' },
  dicomweb: { type: 'string' },
  store: { type: 'string' },
  'allow-mismatched-dicom': { type: 'flag' }, // Patient ID / Frame of Reference mismatch across DICOM inputs: warn, not refuse
  out: { type: 'string' },
  json: { type: 'flag' },
  quiet: { type: 'flag' },
  help: { type: 'flag' },
};

export const DOSE_HELP = `usage: pnpm -s dosimetry dose --activity FILE --activity-unit bq-per-ml|counts
  [--administered-gbq A] [--normalize-to NAME] [--lung-shunt-fraction F] [--restrict-to NAME]
  [--residual-gbq R]  waste measured in vial, tubing and catheter, at the reference time of --administered-gbq: counts
                      are normalised to the delivered A - R; a Bq/mL image is not rescaled but compared with A - R
  --segmentation FILE [--labels "1=Liver,2=Tumor A" | --labels @FILE] (repeatable; FILE: ITK-SNAP label
                      description, 3D Slicer color table or JSON, shared by several label maps)
  --liver NAME [--tumor NAME ...] [--lung NAME] [--perfused NAME]
  [--ct FILE [--transform FILE.tfm]] [--scan-delay-h H] [--split-lesions]
  --isotope Y90|Ho166 --method ldm|dvk|mc [--density 1.05] [--lung-density 0.30]
  [--mask-mode fractional|nearest] [--backend auto|webgpu|cpu] [--rtdose [--rtplan FILE]] [--report] --out DIR [--json] [--quiet]
  [--report]  also DIR/report.pdf: the case as a clinical record (structures, DVH, dose images, warnings, approval)
${MC_HELP}
${SEG_DICOM_HELP}
${PVC_HELP}
  [--allow-mismatched-dicom]  DICOM inputs of different patients or Frames of Reference: a warning instead of a refusal
  DICOM: --activity/--ct take a folder or file (--activity-series UID / --ct-series UID pick a series when the folder
  holds several); --segmentation takes an RTSTRUCT or DICOM SEG file.
  DICOMweb: --activity/--ct/--segmentation take dicomweb:BASE_URL/studies/UID/series/UID; or --study UID --dicomweb
  BASE_URL takes each one not given from the study (chosen as in a folder; the choice is said on stderr). Fetched
  series are cached by SOP Instance UID in $DOSIMETRY_CACHE/dicomweb (default ~/.cache/sirt-dosimetry/dicomweb).
  [--store dicomweb:BASE_URL]  after the outputs are written, send rtdose.dcm (implies --rtdose), structures.seg.dcm
                      and report.pdf (as Encapsulated PDF) to the server by STOW-RS. Credentials from the environment
                      only: DOSIMETRY_DICOMWEB_TOKEN (bearer) or DOSIMETRY_DICOMWEB_USER + DOSIMETRY_DICOMWEB_PASSWORD.`;

/** Reads the inputs named by the dose/plan options and builds the pipeline options. */
export async function doseCaseFromArgs(a: ParsedArgs, command: string, progress: (m: string) => void) {
  // dicomweb: series (and --study) are fetched into the cache and read from there as DICOM folders
  const web = await resolveDicomwebInputs(a, { command, progress, say: (l) => process.stderr.write(`${l}\n`) });
  a = web.args;
  const activityPath = requireOpt(a, 'activity', command);
  const unit = parseActivityUnit(requireOpt(a, 'activity-unit', command));
  const isotope = parseIsotope(requireOpt(a, 'isotope', command));
  const methodText = opt(a, 'method') ?? (command === 'dose' ? undefined : 'ldm');
  if (methodText === undefined) throw new UsageError(`${command}: --method is required (ldm or dvk, or mc for Monte Carlo)`);
  if (methodText !== 'ldm' && methodText !== 'dvk' && methodText !== 'mc') throw new UsageError(`${command}: unknown method "${methodText}": use ldm or dvk, or mc for Monte Carlo`);
  const mc = mcFromArgs(a, command, methodText); // refused before any image is read
  // DVK on the CPU convolves on worker threads: start them while the inputs are read
  if (methodText === 'dvk' && opt(a, 'backend') !== 'webgpu') prewarmFftWorkers();
  const liver = requireOpt(a, 'liver', command);
  if (optAll(a, 'segmentation').length === 0) throw new UsageError(`${command}: at least one --segmentation is required`);
  const maskMode = opt(a, 'mask-mode') ?? 'fractional';
  if (maskMode !== 'fractional' && maskMode !== 'nearest') throw new UsageError(`${command}: --mask-mode must be fractional or nearest`);

  progress(`reading activity ${activityPath}`);
  const actRead = readImage(activityPath, 'activity image', {
    modality: ['NM', 'PT', 'MR'],
    seriesUid: opt(a, 'activity-series'),
    seriesOption: '--activity-series UID',
  });
  actRead.catch(() => {}); // awaited below, before anything else is reported
  // --labels applies to the --segmentation it follows.
  const segSpecs: Array<{ path: string; labels?: string; early?: Promise<StructureMask[]> } & LabelsSpec> = [];
  let specError: unknown;
  try {
    for (const item of a.sequence) {
      if (item.name === 'segmentation') segSpecs.push({ path: String(item.value) });
      else if (item.name === 'labels') {
        const last = segSpecs[segSpecs.length - 1];
        if (!last) throw new UsageError(`${command}: --labels must follow the --segmentation it names`);
        if (last.labels !== undefined) throw new UsageError(`${command}: two --labels for ${last.path}`);
        last.labels = String(item.value);
      }
    }
    resolveLabelSpecs(segSpecs); // --labels @FILE: the table file read (and checked) now
  } catch (err) {
    specError = err;
  }
  // dose: the structures of a label map each on the crop of its grid that holds them (the same voxels on the activity
  // grid, a fraction of the memory)
  const cropToExtent = command === 'dose';
  // Label maps and .seg.nrrd files need no reference grid: they are read while the activity image is inflated in the
  // thread pool (their errors are reported in the same order as before: after the activity's and the CT's).
  if (specError === undefined) {
    for (const s of segSpecs) {
      if (!/\.(nii|nii\.gz|nrrd|nhdr)$/.test(lowerName(s.path))) continue;
      s.early = readStructures(s.path, { labels: s.table, cropToExtent, ...s.labelReport });
      s.early.catch(() => {});
    }
  }
  const act = await actRead;
  if (specError !== undefined) throw specError;
  if (act.volume.geometry.dims.length !== 3) throw new UsageError('activity image must be 3-D');
  const ctPath = opt(a, 'ct');
  let ct;
  let ctDicom;
  if (ctPath) {
    progress(`reading CT ${ctPath}`);
    // Densities only: a tilted or unevenly spaced CT is resampled (with a warning) rather than refused.
    const r = await readImage(ctPath, 'CT', { modality: 'CT', seriesUid: opt(a, 'ct-series'), seriesOption: '--ct-series UID', allowResample: true });
    ct = r.volume;
    ctDicom = r.dicom;
  } else if (opt(a, 'ct-series') !== undefined) throw new UsageError(`${command}: --ct-series needs --ct`);
  const transformPath = opt(a, 'transform');
  let transformProvenance: TransformProvenance | undefined;
  if (transformPath !== undefined) {
    if (!ct) throw new UsageError(`${command}: --transform needs --ct (the planning CT whose grid the activity is resampled onto)`);
    const t = readTransformWithHash(transformPath);
    const moved = activityThroughTransform(act.volume, unit, ct.geometry, t.file);
    act.volume = moved.volume;
    transformProvenance = { path: transformPath, sha256: t.sha256, types: t.file.transforms.map((x) => x.type), applied: 'activity resampled onto the --ct grid through the transform (trilinear; fixed = CT, moving = activity)', fractionOfActivityKept: moved.fractionOfActivityKept };
  }
  // RTSTRUCT contours onto the CT's finer grid when there is one (each ROI on the part around it), so that structure
  // masses know where in each activity voxel a structure lies; else onto the activity grid.
  const fineCt = ct && voxelVolumeMl(ct.geometry) < voxelVolumeMl(act.volume.geometry);
  const segmentations: SegmentationInput[] = [];
  const segReadWarnings: string[] = []; // a malformed DICOMDIR beside an RTSTRUCT/SEG: left out, said
  for (const s of segSpecs) {
    progress(`reading segmentation ${s.path}`);
    const raster = fineCt ? { referenceGrid: ct!.geometry, cropToContours: true } : { referenceGrid: act.volume.geometry };
    segmentations.push({ path: s.path, masks: await (s.early ?? readStructures(s.path, { labels: s.table, cropToExtent, ...raster, ...(s.labelReport ?? { warnings: segReadWarnings }) })) });
  }
  const rtPlanPath = opt(a, 'rtplan');
  const dicomCtx = await dicomCaseContext({
    activity: act.dicom,
    ct: ctDicom,
    isotope,
    method: methodText,
    activityUnit: unit,
    scanDelayH: numberOpt(a, 'scan-delay-h', command),
    activityPath,
    ctPath,
    segmentationPaths: segSpecs.map((s) => s.path),
    allowMismatchedDicom: a.flags.has('allow-mismatched-dicom'),
    rtPlan: rtPlanPath ? await readRtPlan(rtPlanPath) : undefined,
  });
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
    restrictTo: opt(a, 'restrict-to'),
    lungShuntFraction: numberOpt(a, 'lung-shunt-fraction', command),
    scanDelayH: dicomCtx.scanDelayH,
    ct,
    tissueDensityGPerMl: numberOpt(a, 'density', command),
    lungDensityGPerMl: numberOpt(a, 'lung-density', command),
    splitLesions: a.flags.has('split-lesions'),
    backend: parseBackend(opt(a, 'backend') ?? 'auto'),
    maskMode,
    onProgress: progress,
    ...(mc ? { mc } : {}),
  };
  const inputs = [
    { role: 'activity', path: activityPath },
    ...segSpecs.map((s) => ({ role: 'segmentation', path: s.path })),
    ...labelInputs(segSpecs),
    ...(ctPath ? [{ role: 'ct', path: ctPath }] : []),
    ...(transformPath ? [{ role: 'transform', path: transformPath }] : []),
    ...(rtPlanPath ? [{ role: 'rtplan', path: rtPlanPath }] : []),
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
    ...labelCoverageParameters(segSpecs),
    administeredGBq: options.administeredGBq ?? null,
    normalizeTo: options.normalizeTo ?? liver,
    restrictTo: options.restrictTo ?? null,
    lungShuntFractionGiven: options.lungShuntFraction ?? null,
    scanDelayH: options.scanDelayH ?? 0,
    scanDelaySource: dicomCtx.scanDelaySource,
    tissueDensityGPerMl: options.tissueDensityGPerMl ?? 1.05,
    lungDensityGPerMl: options.lungDensityGPerMl ?? 0.3,
    huToDensity: ctPath ? 'rho = (HU + 1000) / 1000 g/mL, clamped at 0' : null,
    ...(ctPath ? { airDensityThresholdGPerMl: AIR_DENSITY_THRESHOLD_G_PER_ML } : {}),
    splitLesions: options.splitLesions,
    lesionConnectivity: 26,
    maskMode,
    backendRequested: options.backend,
    dvhBins: 2000,
    ...mcParameters(mc),
    ...(methodText === 'dvk' ? { dvkLocalElectronEnergyMeV: localElectronEnergyMeV(isotope), dvkLungDensityThresholdGPerMl: DVK_LUNG_DENSITY_THRESHOLD_G_PER_ML } : {}),
    ...(act.dicom || ctDicom ? { dicom: dicomCtx.provenance } : {}),
    ...(web.provenance ? { dicomweb: web.provenance } : {}),
    ...(transformProvenance ? { transform: transformProvenance } : {}),
  };
  // --seg-dicom: the SEG's identity and source images (DICOM inputs), or a warning that it starts a new study
  const segDicom = await segDicomFromArgs(a, command, { activity: act.dicom, ct: ctDicom, identity: dicomCtx.rtDose.frameOfReference });
  dicomCtx.warnings.push(...segDicom.warnings);
  // inputWarnings: add them to the result's warnings; rtDose: pass to caseOutputs.
  return { options, inputs, parameters, activityMeta: act.meta, ctPath, inputWarnings: [...segSpecs.flatMap((s) => s.labelReport?.warnings ?? []), ...segReadWarnings, ...dicomCtx.warnings], rtDose: dicomCtx.rtDose, segDicom: segDicom.request };
}

/** How dose.nii.gz is written (the description in its header). */
const DOSE_NIFTI_OPTIONS = { description: 'absorbed dose [Gy]' } as const;

/** Optional outputs' settings of `caseOutputs`. */
export interface CaseOutputExtras {
  /** RT Dose identity (from `doseCaseFromArgs(...).rtDose`: patient, study, Frame of Reference, summation type). */
  readonly rtDose?: EncodeRtDoseOptions;
  /** dose.nii.gz already being compressed (from computeDoseCase's onDoseReady), else compressed here. */
  readonly doseNii?: Promise<Uint8Array[]>;
  /** structures.seg.nrrd already being encoded (from computeDoseCase's onStructuresReady), else encoded here. */
  readonly segNrrd?: Promise<Uint8Array | undefined>;
  /** --seg-dicom: DIR/structures.seg.dcm (from `doseCaseFromArgs(...).segDicom`). */
  readonly segDicom?: SegDicomRequest;
}

/**
 * Encodes the case's outputs (dose.nii.gz, report.json, structures.csv, structures.seg.nrrd[, rtdose.dcm]) for one
 * atomic write. structures.seg.nrrd holds every reported structure (derived normal liver and split lesions included)
 * on the dose grid, so that a viewer or 3D Slicer shows exactly what was counted (voxels at least half inside).
 */
export async function caseOutputs(outDir: string, result: DoseCaseResult, report: Record<string, unknown>, rtdose: boolean, extra: CaseOutputExtras = {}) {
  const { encodeNiftiPiecesAsync, encodeGridStructuresSegNrrdAsync } = await import('../../io/index.ts');
  // The gzips run in the thread pool while the rest is encoded here; the dose map stays in its compressed pieces
  // (written one after the other: a 512x512x400 map's 66 MB are never copied into one array).
  const doseBytes = extra.doseNii ?? encodeNiftiPiecesAsync(result.dose, DOSE_NIFTI_OPTIONS);
  const segBytes =
    extra.segNrrd ??
    encodeGridStructuresSegNrrdAsync(
      result.dose.geometry,
      result.gridStructures.map((s, i) => ({ ...s, name: result.structures[i].name })),
    );
  const files: Array<{ path: string; data: OutputData }> = [
    { path: join(outDir, 'report.json'), data: JSON.stringify(report, null, 2) + '\n' },
    { path: join(outDir, 'structures.csv'), data: structuresCsv(report as { structures: ReportStructure[] }) },
  ];
  files.unshift({ path: join(outDir, 'dose.nii.gz'), data: await doseBytes });
  const uncertainty = await mcUncertaintyFile(outDir, result); // --method mc: beside dose.nii.gz
  if (uncertainty) files.splice(1, 0, uncertainty);
  const seg = await segBytes;
  if (seg) files.push({ path: join(outDir, 'structures.seg.nrrd'), data: seg });
  if (rtdose) {
    const { encodeRtDose } = await import('../../io/dicom/index.ts');
    files.push({ path: join(outDir, 'rtdose.dcm'), data: encodeRtDose(result.dose, extra.rtDose ?? {}) });
  }
  if (extra.segDicom) files.push(await segDicomFile(outDir, result, extra.segDicom));
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
  const progress = progressReporter(quiet);
  if (opt(a, 'store') !== undefined) {
    parseStoreSpec(opt(a, 'store')!, 'dose');
    a.flags.add('rtdose'); // --store sends the RT Dose: implied
  }
  if (!a.flags.has('rtdose') && opt(a, 'rtplan') !== undefined) throw new UsageError('dose: --rtplan names the plan of the RT Dose: give it with --rtdose');
  // the output folder is checked and locked before any work; the set is swapped in whole at the end
  const out = claimOutputDir(outDir, { command: 'dose', inputs: caseInputPaths(a), argv });
  try {
    return await runDose(a, outDir, out, progress);
  } finally {
    out.release();
  }
}

/** Writes each warning as one `warning: ...` line on stderr. */
export function printWarnings(warnings: readonly string[]): void {
  for (const w of warnings) process.stderr.write(`warning: ${w.replace(/\s*\n\s*/g, ' ')}\n`);
}

/** Every input path named by the dose/plan options (the output folder may not hold them). */
export function caseInputPaths(a: ParsedArgs): string[] {
  return [...['activity', 'segmentation', 'ct', 'transform', 'rtplan', 'recovery-coefficients'].flatMap((n) => optAll(a, n)), ...labelTablePaths(optAll(a, 'labels'))];
}

async function runDose(a: ParsedArgs, outDir: string, out: OutputSet, progress: Progress): Promise<number> {
  const delivered = deliveredFromArgs(a); // --residual-gbq: refused before any image is read
  const pvc = recoveryFromArgs(a); // --recovery-coefficients: the table read and checked before any image
  const deconv = deconvolutionFromArgs(a); // --pvc-deconvolve-fwhm-mm: voxel-wise correction of the activity
  const { options, inputs, parameters, inputWarnings, rtDose, segDicom } = await doseCaseFromArgs(a, 'dose', progress);

  if (opt(a, 'store') !== undefined) checkStorableIdentity(rtDose?.frameOfReference, 'dose'); // before any work
  // structures.seg.nrrd needs only the structures: encoded while the dose is still being computed
  let segNrrd: Promise<Uint8Array | undefined> | undefined;
  let doseNii: Promise<Uint8Array[]> | undefined;
  const { encodeNiftiPiecesAsync } = await import('../../io/index.ts');
  const { encodeGridStructuresSegNrrdAsync } = await import('../../io/index.ts');
  const result = await computeDoseCase({
    ...options,
    // counts: normalised to the delivered activity; Bq/mL: the image measures it (administered only compared, below)
    ...(delivered ? { administeredGBq: options.activityUnit === 'counts' ? delivered.deliveredGBq : undefined } : {}),
    ...(deconv ? { activity: deconv.apply(options.activity) } : {}),
    onStructuresReady: (structures) => {
      segNrrd = encodeGridStructuresSegNrrdAsync(options.activity.geometry, structures);
      segNrrd.catch(() => {}); // awaited in caseOutputs
    },
    // dose.nii.gz is compressed in the thread pool while the statistics are computed
    onDoseReady: (dose) => {
      doseNii = encodeNiftiPiecesAsync(dose, DOSE_NIFTI_OPTIONS);
      doseNii.catch(() => {}); // awaited in caseOutputs
    },
  });
  result.warnings.unshift(...inputWarnings);
  const administered = delivered && administrationReport(delivered, options.activityUnit, result.activityInFieldGBq);
  if (administered) result.warnings.push(...administered.warnings);
  const report = buildReport(result, {
    isotope: options.isotope, method: options.method, inputs,
    parameters: delivered ? { ...parameters, ...deliveredParameters(delivered) } : parameters,
    ...(administered ? { extra: { administration: administered.administration } } : {}),
  });
  applyMcToReport(report, result); // --method mc: uncertainties and the "mc" object
  if (pvc) applyRecoveryToReport(report, pvc, { splitLesions: options.splitLesions ?? false, warnings: result.warnings });
  if (deconv) deconv.addToReport(report, result.warnings);
  const files = await caseOutputs(outDir, result, report, a.flags.has('rtdose'), { rtDose, segNrrd, doseNii, segDicom });

  if (a.flags.has('report')) files.push(await (await import('../../report/index.ts')).reportPdfFile(files, { command: 'dose', report, result, ct: options.ct, identity: rtDose?.frameOfReference }));
  out.commit(asOutputFiles(files));

  progress.done();
  // every assumption that changes a dose is said on stderr (with --json too) as well as in report.json
  printWarnings(result.warnings);
  if (a.flags.has('json')) {
    process.stdout.write(JSON.stringify(report) + '\n');
  } else {
    process.stdout.write(
      `${options.isotope} ${options.method.toUpperCase()} dose on the ${result.backend} back end${result.backendReason ? ` (${result.backendReason})` : ''}; ${result.activityInFieldGBq.toFixed(4)} GBq in the field\n` +
        structuresTable(report as { structures: ReportStructure[] }) +
        '\n' +
        (pvc ? recoveryTable(report) : '') +
        (result.mc ? `Monte Carlo: ${result.mc.provenance.histories} histories in ${result.mc.provenance.batches} batches, seed ${result.mc.provenance.seed}, ${result.mc.provenance.historiesPerSecond} histories/s; meanGyRelStdErr in report.json\n` : '') +
        `wrote ${join(outDir, 'dose.nii.gz')}${result.mc ? `, ${MC_UNCERTAINTY_FILE}` : ''}, report.json, structures.csv, structures.seg.nrrd${a.flags.has('rtdose') ? ', rtdose.dcm' : ''}${segDicom ? `, ${SEG_DICOM_NAME}` : ''}${a.flags.has('report') ? ', report.pdf' : ''}\n`,
    );
  }
  if (opt(a, 'store') !== undefined) await storeAndSay(a, 'dose', outDir, rtDose?.frameOfReference, progress);
  return 0;
}

/**
 * --store: sends the committed outputs by STOW-RS and says what was stored (stdout; stderr with --json, whose stdout is
 * the report alone). A failure throws one line that says the local outputs are kept (the exit is non-zero).
 */
export async function storeAndSay(a: ParsedArgs, command: string, outDir: string, identity: NonNullable<EncodeRtDoseOptions['frameOfReference']> | undefined, progress: (m: string) => void): Promise<void> {
  const stored = await storeCaseOutputs({ command, spec: opt(a, 'store')!, outDir, identity, http: { onRetry: progress } });
  (a.flags.has('json') ? process.stderr : process.stdout).write(storeSummaryLines(stored).join('\n') + '\n');
}
