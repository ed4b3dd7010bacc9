/**
 * The PDF report of a `dose` or `plan` case (`--report` writes DIR/report.pdf; ../shared/CONTRACT.md "Additions"),
 * laid out as a clinical record on a few A4 pages:
 *
 * 1. identification (DICOM patient and study, or the input files and their SHA-256), engine version, date of
 *    computation, method and back end; contraindications first, in bold;
 * 2. the plan (prescribed activity, limiting constraint, targets met, constraints, the methods side by side,
 *    territories, the vial order) for `plan`;
 * 3. the structure table with limits and flags, and the cumulative DVH of every structure (vector);
 * 4. axial and coronal dose-on-CT images through each tumour's centre of mass, with a colour bar in Gy;
 * 5. every warning verbatim, the input files with their SHA-256, and fields for the physicist's approval.
 * Every page carries the patient ID and "page i of n" in its footer.
 *
 * Everything comes from the in-memory case (report object, dose map, structures on the dose grid, CT), never from
 * the files on disk. The numbers are those of report.json, rounded as stated on page 1 (text.ts REPORT_ROUNDING).
 */
import { DEVICE_PRESETS, type Device } from '../plan/devices.ts';
import { ENGINE_VERSION } from '../version.ts';
import type { GridStructure } from '../volume/structure.ts';
import type { Volume, VoxelArray } from '../volume/volume.ts';
import { arr, genericRows, num, obj, reportStructures, str, structureCriteria, structureFlag, type Json } from './fields.ts';
import { drawDvh, drawSlices } from './figure-sections.ts';
import { BLACK, color, GREEN, GREY, Layout, RED, type Cell } from './layout.ts';
import { drawGenericTable, drawPlan } from './plan-section.ts';
import { fixed, percent, REPORT_ROUNDING as R, roundingNote, valueText } from './text.ts';

export { MAX_IMAGED_TUMOURS } from './figure-sections.ts';

/** Patient and study identity of DICOM inputs (the CT's when it is DICOM, else the activity image's). */
export interface PatientStudyIdentity {
  readonly patientId?: string;
  readonly patientName?: string;
  readonly patientBirthDate?: string;
  readonly patientSex?: string;
  readonly studyInstanceUid?: string;
  readonly studyDate?: string;
  readonly studyTime?: string;
  readonly studyId?: string;
  readonly studyDescription?: string;
  readonly accessionNumber?: string;
  readonly frameOfReferenceUid?: string;
}

/** What the report is made from: the case in memory at the point where the command commits its outputs. */
export interface CaseReportInput {
  /** The command that computed the case. */
  readonly command: 'dose' | 'plan';
  /** The report object, exactly as written to report.json. */
  readonly report: Readonly<Json>;
  /** The dose map [Gy] on the activity grid. */
  readonly dose: Volume<Float32Array>;
  /** The reported structures on the dose grid, in the order of report.structures. */
  readonly gridStructures: readonly GridStructure[];
  /** The CT [HU] on its own grid, when one was given (--ct). */
  readonly ct?: Volume<VoxelArray>;
  /** DICOM patient and study identity, when the inputs are DICOM. */
  readonly identity?: PatientStudyIdentity;
  /** SHA-256 of the report.json bytes written beside the PDF, printed so that the record names its data. */
  readonly reportJsonSha256?: string;
  /** Date of computation printed in the report (and the PDF's creation date). */
  readonly computedAt: Date;
}

const ISO_MINUTES = (d: Date) => `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
const dicomDate = (d?: string) => (d && /^\d{8}$/.test(d) ? `${d.slice(0, 4)}-${d.slice(4, 6)}-${d.slice(6, 8)}` : d);

/** Builds the PDF report; returns its bytes. */
export async function caseReportPdf(input: CaseReportInput): Promise<Uint8Array> {
  const L = await Layout.create();
  const report = input.report as Json;
  const structures = reportStructures(report);
  const plan = obj(report.plan);
  const prov = obj(report.provenance) ?? {};
  const inputs = arr(prov.inputs).map((x) => obj(x) ?? {});
  const id = input.identity;
  const patientLine = id?.patientId
    ? `Patient ID ${id.patientId}`
    : `Patient ID: none in the inputs (not DICOM); activity image SHA-256 ${(str(inputs[0]?.sha256) ?? '?').slice(0, 16)}`;
  const kind = input.command === 'plan' ? 'treatment plan' : 'absorbed dose';

  // ---- title and identification
  L.drawLine(L.clean('SIRT dosimetry report'), L.left, L.y - 16, 16, { bold: true });
  L.y -= 21;
  const device = str(plan?.device);
  const deviceText = device && device in DEVICE_PRESETS ? DEVICE_PRESETS[device as Device].description : device;
  L.paragraph(
    input.command === 'plan'
      ? `Treatment plan${deviceText ? `: ${deviceText}` : ''}, from a scout image; dose map at the prescribed activity`
      : `Absorbed dose of ${str(report.isotope) ?? '?'} from the activity image`,
    { sizePt: 10, afterPt: 6 },
  );
  const contraindications = arr(plan?.contraindications).map(String);
  if (contraindications.length) {
    for (const c of contraindications) L.paragraph(`CONTRAINDICATED: ${c}`, { sizePt: 10.5, bold: true, color: RED, afterPt: 2 });
    L.y -= 4;
  }
  L.heading('Patient, study and computation');
  const idRows: Array<[string, Cell]> = [];
  if (id) {
    idRows.push(['Patient ID', { text: id.patientId ?? '(empty in the DICOM files)', bold: true }]);
    if (id.patientName) idRows.push(['Patient name', id.patientName.replace(/\^/g, ' ').trim()]);
    if (id.patientBirthDate || id.patientSex) idRows.push(['Birth date / sex', `${dicomDate(id.patientBirthDate) ?? '-'} / ${id.patientSex || '-'}`]);
    idRows.push(['Study Instance UID', id.studyInstanceUid ?? '-']);
    if (id.studyDate) idRows.push(['Study date', `${dicomDate(id.studyDate)}${id.studyTime ? ` ${id.studyTime.slice(0, 2)}:${id.studyTime.slice(2, 4)}` : ''}`]);
    if (id.studyDescription) idRows.push(['Study description', id.studyDescription]);
    if (id.accessionNumber) idRows.push(['Accession number', id.accessionNumber]);
    if (id.frameOfReferenceUid) idRows.push(['Frame of Reference UID', id.frameOfReferenceUid]);
  } else {
    idRows.push(['Patient / study', { text: 'not recorded in the inputs (NIfTI, NRRD or MHA files carry no patient identity): the case is identified by its input files and their SHA-256', bold: true }]);
    for (const i of inputs) idRows.push([`${str(i.role) ?? 'input'} file`, `${baseName(str(i.path) ?? '?')}  (SHA-256 ${(str(i.sha256) ?? '?').slice(0, 16)}...)`]);
  }
  const dicomProv = obj(obj(prov.parameters)?.dicom);
  for (const role of ['activity', 'ct'] as const) {
    const s = obj(dicomProv?.[role]);
    if (!s) continue;
    const when = str(s.acquisitionDateTime) ?? str(s.seriesDateTime);
    idRows.push([`${role === 'ct' ? 'CT' : 'Activity'} series`, `${str(s.modality) ?? ''} ${str(s.seriesDescription) ?? ''}${when ? `, acquired ${when}` : ''}; UID ${str(s.seriesInstanceUid) ?? '-'}`]);
  }
  idRows.push(['Engine', `sirt-dosimetry ${str(prov.version) ?? ENGINE_VERSION}`]);
  idRows.push(['Computed', ISO_MINUTES(input.computedAt)]);
  idRows.push(['Method', `${str(report.isotope) ?? '?'} ${(str(report.method) ?? '?').toUpperCase()} (${methodWords(str(report.method))})`]);
  const mc = obj(report.mc);
  if (mc) {
    // Monte Carlo: what the statistics rest on (report.json "mc"); the structures' mean SE is in the table
    const runs = arr(mc.runs);
    idRows.push([
      'Monte Carlo',
      `${valueText('histories', mc.histories)} histories${runs.length ? ` in ${runs.length} independent runs (one per territory)` : ` in ${valueText('batches', mc.batches)} batches`}, seed ${valueText('seed', mc.seed)}` +
        `${str(mc.mode) === 'target' ? `, run to a target relative standard error of ${percent(num(obj(mc.target)?.relStdErr), 2)} %` : ''}; uncertainty by the batch method; Mean SE % in the structure table = relative standard error of the mean dose (1 sigma)`,
    ]);
  }
  idRows.push(['Back end', `${str(report.backend) ?? '?'}${str(report.backendReason) ? ` (${str(report.backendReason)})` : ''}`]);
  idRows.push(['Activity in the field', `${fixed(num(report.activityInFieldGBq), 4)} GBq`]);
  idRows.push(['Lung shunt fraction', `${percent(num(report.lungShuntFraction), R.lsfPercent)} % (${str(report.lungShuntFractionSource) ?? '-'})`]);
  const params = obj(prov.parameters) ?? {};
  const delaySource = str(params.scanDelaySource);
  if (delaySource) {
    idRows.push(['Scan delay', /^not applicable/.test(delaySource)
      ? delaySource
      : `${valueText('scanDelayH', params.scanDelayH)} h, ${delaySource}; decay factor to implant ${fixed(num(report.decayFactorToImplant), 4)}`]);
  }
  idRows.push(['Densities', input.ct ? 'from the CT: rho = (HU + 1000) / 1000 g/mL' : `no CT: tissue ${valueText('x', params.tissueDensityGPerMl)} g/mL, lung ${valueText('x', params.lungDensityGPerMl)} g/mL`]);
  if (input.reportJsonSha256) idRows.push(['report.json SHA-256', input.reportJsonSha256]);
  L.keyValues(idRows, { labelWidthPt: 118 });

  // ---- plan, or the administration record of a post-treatment case
  if (plan) drawPlan(L, plan);
  const administration = obj(report.administration);
  if (administration) {
    L.heading('Administration', 40);
    const g = genericRows(administration, ['warnings']);
    L.keyValuesTwoColumns(g.rows, { sizePt: 7.5 });
    for (const tb of g.tables) drawGenericTable(L, tb.title, tb.value);
    for (const [label, text] of g.notes) L.paragraph(`${label}: ${text}`, { sizePt: 6.5, color: GREY, afterPt: 1 });
  }

  // ---- structures
  const criteria = structureCriteria(report, structures);
  L.heading('Structures', 80);
  const hasBed = structures.some((s) => s.meanBedGy !== undefined);
  const hasSe = structures.some((s) => s.meanGyRelStdErr !== undefined);
  const cols = [
    { header: 'Structure', wrap: true }, { header: 'Role' }, { header: 'Volume mL', align: 'right' as const }, { header: 'Mass g', align: 'right' as const },
    { header: 'Activity GBq', align: 'right' as const }, { header: 'Mean Gy', align: 'right' as const },
    ...(hasSe ? [{ header: 'Mean SE %', align: 'right' as const }] : []),
    { header: 'D98 Gy', align: 'right' as const }, { header: 'D90 Gy', align: 'right' as const }, { header: 'D70 Gy', align: 'right' as const },
    { header: 'D50 Gy', align: 'right' as const }, { header: 'Max Gy', align: 'right' as const }, { header: 'V100 %', align: 'right' as const },
    { header: 'V205 %', align: 'right' as const }, ...(hasBed ? [{ header: 'BED Gy', align: 'right' as const }] : []),
    { header: 'Limit Gy' }, { header: 'Flag' },
  ];
  const rows = structures.map((s) => {
    const c = criteria.byStructure.get(s.name);
    const flag = structureFlag(c, s.meanGy);
    const bad = flag !== '' && flag !== 'ok';
    const cells: Cell[] = [
      { text: s.name, bold: bad }, s.role, fixed(s.volumeMl, R.volumeMl), fixed(s.massG, R.massG), fixed(s.activityGBq, R.structureActivityGBq),
      { text: fixed(s.meanGy, R.doseGy), bold: true },
      ...(hasSe ? [percent(s.meanGyRelStdErr, 2)] : []),
      fixed(s.d98Gy, R.doseGy), fixed(s.d90Gy, R.doseGy), fixed(s.d70Gy, R.doseGy), fixed(s.d50Gy, R.doseGy), fixed(s.maxGy, R.doseGy),
      percent(s.v100, R.vPercent), percent(s.v205, R.vPercent), ...(hasBed ? [fixed(s.meanBedGy, R.doseGy)] : []),
      (c ?? []).map((x) => `${x.kind === 'target' ? '>=' : '<'} ${fixed(x.gy, R.doseGy)}`).join(', ') || '-',
      { text: flag || '-', bold: bad, color: bad ? RED : flag === 'ok' ? GREEN : undefined },
    ];
    return cells;
  });
  L.table(cols, rows, { sizePt: 7 });
  const judged = structures.filter((s) => criteria.byStructure.has(s.name));
  L.paragraph(
    `Mean = mass-weighted mean absorbed dose (MAD); Dx = the dose at least x % of the volume receives; Vx = % of the volume receiving at least x Gy. ` +
      `Limits and targets apply to the mean dose (${criteria.source})` +
      (judged.length
        ? `: ${judged.map((s) => `${s.name} ${criteria.byStructure.get(s.name)!.map((x) => `${x.kind === 'target' ? '>=' : '<'} ${fixed(x.gy, R.doseGy)} Gy (${x.what})`).join(', ')}`).join('; ')}. `
        : '. ') +
      'UNDER TARGET: mean below the target; OVER LIMIT: mean above the limit.' +
      (hasSe ? ' Mean SE % = relative standard error (1 sigma) of the Monte Carlo mean dose, statistical only.' : ''),
    { sizePt: 7, color: GREY },
  );
  L.paragraph(roundingNote(), { sizePt: 7, color: GREY, afterPt: 6 });

  // ---- DVH
  drawDvh(L, structures);

  // ---- images
  drawSlices(L, input, structures);

  // ---- warnings, inputs, approval
  const warnings = arr(report.warnings).map(String);
  L.heading(`Warnings (${warnings.length})`, 30);
  if (warnings.length === 0) L.paragraph('None.');
  warnings.forEach((w, i) => L.paragraph(`${i + 1}. ${w}`, { sizePt: 8, afterPt: 2.5 }));
  L.heading('Input files', 40);
  L.table(
    [{ header: 'Role' }, { header: 'Path', wrap: true }, { header: 'SHA-256', mono: true }],
    inputs.map((i) => [str(i.role) ?? '-', str(i.path) ?? '-', str(i.sha256) ?? '-']),
    { sizePt: 7 },
  );
  drawApproval(L);

  L.finish(`SIRT dosimetry report, ${kind}  |  ${patientLine}  |  computed ${ISO_MINUTES(input.computedAt)}`, `${patientLine}  |  sirt-dosimetry ${str(prov.version) ?? ENGINE_VERSION}`);
  L.pdf.setTitle(L.clean(`SIRT dosimetry report (${kind})`));
  L.pdf.setCreator(`sirt-dosimetry ${ENGINE_VERSION}`);
  L.pdf.setProducer('sirt-dosimetry with pdf-lib');
  L.pdf.setCreationDate(input.computedAt);
  L.pdf.setModificationDate(input.computedAt);
  return L.pdf.save();
}

function baseName(p: string): string {
  const parts = p.split(/[\\/]/).filter(Boolean);
  return parts[parts.length - 1] ?? p;
}

function methodWords(m: string | undefined): string {
  if (m === 'ldm') return 'local deposition: D = CF x A / M';
  if (m === 'dvk') return 'dose voxel kernel convolution';
  if (m === 'mc') return 'Monte Carlo';
  return m ?? '?';
}

// ---------------------------------------------------------------------------------------------------------------
// Approval

function drawApproval(L: Layout): void {
  L.heading('Approval by the medical physicist', 85);
  L.paragraph('I have checked the inputs, the structures, the dose distribution and the warnings of this report.', { sizePt: 8.5, afterPt: 12 });
  const field = (label: string, x: number, lineTo: number) => {
    L.drawLine(`${label}:`, x, L.y - 10, 9, { bold: true });
    L.page.drawLine({ start: { x: x + L.textWidth(`${label}:`, 9, { bold: true }) + 6, y: L.y - 12 }, end: { x: lineTo, y: L.y - 12 }, thickness: 0.6, color: color(BLACK) });
  };
  field('Name', L.left, L.left + 300);
  field('Date', L.left + 320, L.left + L.widthPt);
  L.y -= 30;
  field('Signature', L.left, L.left + 300);
  L.y -= 24;
}
