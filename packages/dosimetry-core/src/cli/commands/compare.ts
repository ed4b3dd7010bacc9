/**
 * `dosimetry compare --planned DIR --achieved DIR --out DIR [--scale-planned-to-gbq A] [--match P=A] [--gamma 5,5]
 * [--gamma-threshold 10] [--transform FILE | --same-frame] [--allow-different-patients]`: predicted against achieved
 * doses of two computed case folders (written by plan or dose). Identity first (src/plan/compare-voxel.ts): different
 * patients are refused. Structures pair case-insensitively and through --match (src/plan/compare.ts). When both
 * folders hold dose.nii.gz, the achieved dose is resampled onto the planned grid (world coordinates, trilinear; through
 * --transform, planned space to achieved space, when given): the difference map and the gamma index per criterion
 * (src/plan/gamma.ts). Writes DIR/report.json, compare.json, compare.csv, dvh.svg[, dose_difference.nii.gz,
 * gamma_<P>pct_<D>mm.nii.gz] together, atomically; --json prints compare.json on stdout (as before report.json existed).
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { FileError, FormatError, UsageError } from '../../errors.ts';
import { claimOutputDir, type OutputSet } from '../../io/output-set.ts';
import { compareCases, comparisonCsv, type CaseComparison, type CaseReportLike } from '../../plan/compare.ts';
import { ENGINE_VERSION } from '../../version.ts';
import { numberOpt, opt, optAll, parseArgs, requireOpt, type OptionSpec, type ParsedArgs } from '../args.ts';
import { encodeNiftiAsync } from '../../io/nifti.ts';
import { readVolume } from '../../io/read.ts';
import { compileTransform, readTransformFile } from '../../io/transform.ts';
import { caseIdentity, checkIdentities, dvhDifference, dvhSvg } from '../../plan/compare-voxel.ts';
import { resampleThrough } from '../../volume/resample.ts';
import { criterionName, gammaIndex, parseGammaCriterion, type GammaCriterion } from '../../plan/gamma.ts';
import { makeVolume } from '../../volume/volume.ts';

const OPTIONS: Record<string, OptionSpec> = {
  planned: { type: 'string' },
  achieved: { type: 'string' },
  out: { type: 'string' },
  'scale-planned-to-gbq': { type: 'string' },
  match: { type: 'string', repeatable: true }, // repeatable or comma list: "liver=Liver"
  gamma: { type: 'string', repeatable: true }, // repeatable: "PERCENT,MM"
  'gamma-threshold': { type: 'string' },
  transform: { type: 'string' },
  'same-frame': { type: 'flag' },
  'allow-different-patients': { type: 'flag' },
  json: { type: 'flag' },
  help: { type: 'flag' },
};

const HELP = `usage: pnpm -s dosimetry compare --planned DIR --achieved DIR --out DIR [--scale-planned-to-gbq A] [--json]
  [--match "PLANNED=ACHIEVED"]... [--gamma PERCENT,MM]... [--gamma-threshold PERCENT] [--transform FILE.tfm | --same-frame]
  [--allow-different-patients]
Identity first: Patient IDs (from DICOM inputs) must agree; with none (NIfTI/NRRD) a warning, and liver volumes
differing by more than 25 % or a paired lesion's volume by more than a factor 2 are refused as two patients;
--allow-different-patients (phantoms) makes a refusal a warning. Activity: planned (plan.activityGBq) against delivered
(the achieved report's administration, dose --administered-gbq A --residual-gbq R).
Structures pair case-insensitively and by --match (repeatable or comma list); unpaired ones are listed.
Voxel-wise (when both folders hold dose.nii.gz): the achieved dose resampled onto the planned grid (trilinear, world
coordinates; --transform: an ITK .tfm mapping planned-space points to achieved-space points, as register writes with
the planned image fixed); different Frames of Reference need --transform or --same-frame. dose_difference.nii.gz
(achieved - planned, Gy; NaN outside the achieved image), global 3-D gamma (Low et al. 1998; default criteria 10,10
and 5,5; dose threshold --gamma-threshold, default 10 % of the planned maximum) with gamma_<P>pct_<D>mm.nii.gz.
Pairs the structures of two case folders (report.json from plan or dose) by name: per structure the predicted and
achieved mean absorbed doses, difference (achieved - predicted), ratio (achieved / predicted), Dx/V pairs and DVHs;
over lesions Bland-Altman bias and limits of agreement and Lin's concordance; scoutAgreement: each structure's share
of each image's activity, scout (planned) against treatment (achieved), and their mean absolute difference.
--scale-planned-to-gbq scales the predicted doses to the activity actually given (dose is linear in activity).
Writes DIR/report.json (identity, gamma, DVH differences, activity ratio), compare.json, compare.csv, dvh.svg.`;

function readCase(dir: string, what: string): { report: CaseReportLike; path: string; sha256: string } {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new FileError(`${what} case folder ${dir} does not exist: give a folder written by dose or plan`);
  const path = join(dir, 'report.json');
  if (!existsSync(path)) throw new FileError(`${what} case folder ${dir} holds no report.json: compute it with dose or plan first`);
  try {
    const bytes = readFileSync(path);
    return { report: JSON.parse(bytes.toString('utf8')) as CaseReportLike, path, sha256: createHash('sha256').update(bytes).digest('hex') };
  } catch (err) {
    throw new FormatError(`${path} is not valid JSON (${(err as Error).message}): recompute the case`);
  }
}

const fmt = (x: number | null | undefined, d = 1) => (x === null || x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(d));

function table(c: CaseComparison): string {
  const head = ['structure', 'role', 'predicted Gy', 'achieved Gy', 'diff Gy', 'ratio'];
  const rows = c.pairs.map((p) => [p.name, p.role, fmt(p.predictedGy), fmt(p.achievedGy), fmt(p.differenceGy), fmt(p.ratio, 3)]);
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((x, i) => (i < 2 ? x.padEnd(w[i]) : x.padStart(w[i]))).join('  ');
  return [line(head), w.map((n) => '-'.repeat(n)).join('  '), ...rows.map(line)].join('\n');
}

export async function run(argv: string[]): Promise<number> {
  const a = parseArgs(argv, OPTIONS, 'compare');
  if (a.flags.has('help')) {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  if (a.positionals.length) throw new UsageError(`compare: unexpected argument "${a.positionals[0]}" (options start with --)`);
  const plannedDir = requireOpt(a, 'planned', 'compare');
  const achievedDir = requireOpt(a, 'achieved', 'compare');
  const outDir = requireOpt(a, 'out', 'compare');
  const scale = numberOpt(a, 'scale-planned-to-gbq', 'compare');
  const out = claimOutputDir(outDir, { command: 'compare', inputs: [plannedDir, achievedDir] });
  try {
    return await runCompare(a, plannedDir, achievedDir, outDir, scale, out);
  } finally {
    out.release();
  }
}

/** --match "a=b,c=d" (repeatable) as planned -> achieved names. */
function matchTable(a: ParsedArgs): Map<string, string> {
  const m = new Map<string, string>();
  for (const item of optAll(a, 'match').flatMap((x) => x.split(','))) {
    if (item.trim() === '') continue;
    const eq = item.indexOf('=');
    const p = eq > 0 ? item.slice(0, eq).trim() : '', q = eq > 0 ? item.slice(eq + 1).trim() : '';
    if (!p || !q) throw new UsageError(`compare: --match "${item}" is not PLANNED=ACHIEVED: give e.g. --match "liver=Liver"`);
    m.set(p, q);
  }
  return m;
}

const gammaFileName = (c: GammaCriterion) => `gamma_${c.dosePercent}pct_${c.dtaMm}mm.nii.gz`;

async function runCompare(a: ParsedArgs, plannedDir: string, achievedDir: string, outDir: string, scale: number | undefined, out: OutputSet): Promise<number> {
  const planned = readCase(plannedDir, 'planned');
  const achieved = readCase(achievedDir, 'achieved');
  const criteria = (optAll(a, 'gamma').length ? optAll(a, 'gamma') : ['10,10', '5,5']).map(parseGammaCriterion);
  const thresholdPercent = numberOpt(a, 'gamma-threshold', 'compare') ?? 10;
  if (!(thresholdPercent >= 0 && thresholdPercent < 100)) throw new UsageError(`compare: --gamma-threshold ${thresholdPercent} must be a percentage in [0, 100)`);
  const transformPath = opt(a, 'transform');
  if (transformPath !== undefined && a.flags.has('same-frame')) throw new UsageError('compare: give --transform or --same-frame, not both');

  // 1. structures paired; 2. identity (Patient ID, else the anatomy of the paired structures)
  const c = compareCases({ planned: planned.report, achieved: achieved.report, scalePlannedToGBq: scale, match: matchTable(a) });
  const pid = await caseIdentity(planned.report as never), aid = await caseIdentity(achieved.report as never);
  const lesionVolumes = c.pairs.filter((p) => p.role === 'tumor' && p.plannedRole === 'tumor').map((p) => ({ name: p.name, plannedMl: p.predicted.volumeMl, achievedMl: p.achieved.volumeMl }));
  const idc = checkIdentities(pid, aid, a.flags.has('allow-different-patients'), lesionVolumes);
  const warnings: string[] = [...idc.warnings, ...c.warnings];

  // 3. voxel-wise
  const files: { name: string; data: string | Uint8Array }[] = [];
  let voxel: Record<string, unknown> = { done: false, reason: '' };
  const gamma: Record<string, unknown> = {};
  const pDose = join(plannedDir, 'dose.nii.gz'), aDose = join(achievedDir, 'dose.nii.gz');
  const frameBlocked = idc.frameOfReference === 'different' && transformPath === undefined && !a.flags.has('same-frame');
  if (frameBlocked) {
    const why = `the cases lie in different Frames of Reference (${pid.frameOfReferenceUid} and ${aid.frameOfReferenceUid}): voxel-wise comparison left out; register them (dosimetry register) and give --transform FILE, or --same-frame if they share coordinates`;
    warnings.push(why);
    voxel = { done: false, reason: why };
  } else if (!existsSync(pDose) || !existsSync(aDose)) {
    const why = `voxel-wise comparison left out: ${!existsSync(pDose) ? pDose : aDose} does not exist (recompute the case with dose or plan)`;
    warnings.push(why);
    voxel = { done: false, reason: why };
  } else {
    if (idc.frameOfReference === 'unknown' && transformPath === undefined) {
      warnings.push('Frame of Reference unknown (NIfTI/NRRD inputs): the dose maps are compared in their stored world coordinates; if the patient moved between the scans, register them and give --transform');
    }
    const pv = await readVolume(pDose), av = await readVolume(aDose);
    const transform = transformPath !== undefined ? compileTransform(readTransformFile(transformPath)) : undefined;
    const f = c.scaleFactor;
    const ref = new Float32Array(pv.data.length);
    for (let i = 0; i < ref.length; i++) ref[i] = pv.data[i] * f;
    // the achieved dose at every planned voxel centre p, at T(p) (planned -> achieved space); NaN outside it
    const ev = resampleThrough(av, pv.geometry, NaN, transform);
    const diff = new Float32Array(ref.length);
    let outside = 0;
    for (let i = 0; i < diff.length; i++) {
      diff[i] = ev[i] - ref[i];
      if (ev[i] !== ev[i]) outside++;
    }
    files.push({ name: 'dose_difference.nii.gz', data: await encodeNiftiAsync(makeVolume(pv.geometry, diff, 'dose difference'), { description: 'achieved - planned dose [Gy]' }) });
    for (const cr of criteria) {
      const g = gammaIndex(ref, ev, pv.geometry, { ...cr, thresholdPercent });
      const { map, ...rest } = g;
      gamma[criterionName(cr)] = { ...rest, map: gammaFileName(cr) };
      files.push({ name: gammaFileName(cr), data: await encodeNiftiAsync(makeVolume(pv.geometry, map, 'gamma'), { description: `gamma ${criterionName(cr)} global` }) });
    }
    if (outside) warnings.push(`${outside} planned voxels lie outside the achieved dose map (NaN in the difference map, not in gamma)`);
    voxel = { done: true, grid: 'planned dose grid', interpolation: 'trilinear', transform: transformPath ? resolve(transformPath) : null, voxelsOutsideAchieved: outside };
  }

  // 4. DVH differences
  const dvhRows = c.pairs.filter((p) => p.dvh.predicted && p.dvh.achieved).map((p) => ({ name: p.name, ...dvhDifference(p.dvh.predicted!, p.dvh.achieved!) }));

  // 5. activity ratio: planned against delivered (achieved report's administration, dose --residual-gbq)
  const adm = (achieved.report as { administration?: { administeredGBq?: number; residualGBq?: number; deliveredGBq?: number } }).administration;
  const deliveredGBq = typeof adm?.deliveredGBq === 'number' ? adm.deliveredGBq : null;
  const activity = {
    plannedGBq: c.plannedActivityGBq,
    administeredGBq: adm?.administeredGBq ?? null,
    residualGBq: adm?.residualGBq ?? null,
    deliveredGBq,
    deliveredOverPlanned: deliveredGBq !== null && c.plannedActivityGBq ? deliveredGBq / c.plannedActivityGBq : null,
    note: deliveredGBq === null ? 'the achieved report has no administration record (dose --administered-gbq A --residual-gbq R): delivered activity unknown' : 'delivered = administered - residual',
  };

  const side = (d: string, r: ReturnType<typeof readCase>, id: unknown) => ({ path: resolve(d), isotope: r.report.isotope ?? null, reportSha256: r.sha256, identity: id });
  const json = {
    schemaVersion: 1,
    convention: 'difference = achieved - predicted, ratio = achieved / predicted; predicted doses scaled by scaleFactor',
    planned: side(plannedDir, planned, pid),
    achieved: side(achievedDir, achieved, aid),
    ...c, // warnings: the structure-level ones (as before); report.json holds all, identity and voxel-wise included
    provenance: { version: ENGINE_VERSION, parameters: { scalePlannedToGBq: scale ?? null } },
  };
  const report = {
    schemaVersion: 1,
    command: 'compare',
    planned: json.planned,
    achieved: json.achieved,
    identity: { patient: idc.patient, frameOfReference: idc.frameOfReference },
    matching: { pairs: c.pairs.map((p) => ({ planned: p.name, achieved: p.achievedName })), plannedOnly: c.plannedOnly, achievedOnly: c.achievedOnly },
    voxelwise: voxel,
    // one entry per criterion ("5%/5mm": { passRate, meanGamma, ... }), as ../shared/CONTRACT.md names it
    gamma,
    gammaMethod: 'Low et al. 1998, global (dose criterion in % of the maximum planned dose), reference = planned, evaluated = achieved on the planned grid; 3-D search on a lattice of step min(DTA/5, spacing/3) within 3 x DTA, refined twice around the best point, trilinear sub-voxel sampling',
    dvh: dvhRows,
    structures: c.pairs,
    lesionAgreement: c.lesionAgreement,
    activity,
    warnings,
    provenance: {
      version: ENGINE_VERSION,
      inputs: [{ role: 'planned', path: resolve(planned.path), sha256: planned.sha256 }, { role: 'achieved', path: resolve(achieved.path), sha256: achieved.sha256 }],
      parameters: { scalePlannedToGBq: scale ?? null, gamma: criteria.map(criterionName), gammaThresholdPercent: thresholdPercent, transform: transformPath ?? null, sameFrame: a.flags.has('same-frame'), allowDifferentPatients: a.flags.has('allow-different-patients'), match: Object.fromEntries(matchTable(a)) },
    },
  };
  out.commit([
    { name: 'report.json', data: JSON.stringify(report, null, 2) + '\n' },
    { name: 'compare.json', data: JSON.stringify(json, null, 2) + '\n' },
    { name: 'compare.csv', data: comparisonCsv(c) },
    { name: 'dvh.svg', data: dvhSvg(dvhRows) },
    ...files,
  ]);
  // warnings on stderr as "warning: ..." lines in both modes (also with --json), as dose and plan do
  if (warnings.length) process.stderr.write(warnings.map((w) => `warning: ${w}`).join('\n') + '\n');
  if (c.plannedOnly.length || c.achievedOnly.length) {
    process.stderr.write(`unmatched structures: planned only ${c.plannedOnly.map((n) => `"${n}"`).join(', ') || '-'}; achieved only ${c.achievedOnly.map((n) => `"${n}"`).join(', ') || '-'}\n`);
  }
  if (a.flags.has('json')) {
    process.stdout.write(JSON.stringify(json) + '\n');
    return 0;
  }
  const la = c.lesionAgreement;
  const lines = [
    `predicted ${plannedDir} vs achieved ${achievedDir}${c.scaledToGBq !== null ? ` (predicted scaled x${c.scaleFactor.toFixed(4)} to ${c.scaledToGBq} GBq)` : ''}`,
    table(c),
    '',
    `lesions (${la.lesions.length}):`,
    la.blandAltman
      ? `  Bland-Altman: bias ${fmt(la.blandAltman.bias)} Gy, 95 % limits of agreement ${fmt(la.blandAltman.lowerLimit)} to ${fmt(la.blandAltman.upperLimit)} Gy`
      : '  Bland-Altman: -',
    ...(la.blandAltmanLogRatio?.ratioScale
      ? [`  ratio achieved/predicted: geometric mean ${fmt(la.blandAltmanLogRatio.ratioScale.geometricMeanRatio, 3)}, limits ${fmt(la.blandAltmanLogRatio.ratioScale.lowerRatio, 3)} to ${fmt(la.blandAltmanLogRatio.ratioScale.upperRatio, 3)}`]
      : []),
    la.linConcordance
      ? `  Lin's concordance ${fmt(la.linConcordance.ccc, 3)}${la.linConcordance.ci95 ? ` (95 % CI ${fmt(la.linConcordance.ci95[0], 3)} to ${fmt(la.linConcordance.ci95[1], 3)})` : ''}`
      : "  Lin's concordance: -",
    ...la.notes.map((n) => `  note: ${n}`),
    ...(c.scoutAgreement
      ? [`scout-to-treatment activity shares: mean |difference| ${(100 * c.scoutAgreement.meanAbsoluteDifference).toFixed(2)} percentage points, largest ${(100 * c.scoutAgreement.maxAbsoluteDifference).toFixed(2)} (${c.scoutAgreement.maxAbsoluteDifferenceStructure})${c.scoutAgreement.scoutIsHo166 ? ', 166Ho scout' : ''}`]
      : []),
    ...Object.entries(gamma).map(([k, g]) => `gamma ${k}: pass rate ${(100 * (g as { passRate: number }).passRate).toFixed(1)} %, mean ${fmt((g as { meanGamma: number }).meanGamma, 3)}`),
    `activity: planned ${fmt(activity.plannedGBq, 3)} GBq, delivered ${fmt(activity.deliveredGBq, 3)} GBq${activity.deliveredOverPlanned !== null ? ` (ratio ${fmt(activity.deliveredOverPlanned, 3)})` : ''}`,
    `wrote ${join(outDir, 'report.json')}, compare.json, compare.csv, dvh.svg${voxel.done ? `, dose_difference.nii.gz, ${criteria.map(gammaFileName).join(', ')}` : ''}`,
  ];
  process.stdout.write(lines.join('\n') + '\n');
  return 0;
}
