/**
 * The parts of `compare` beyond structure pairs: who the two cases are (identity checks), the achieved dose map on
 * the planned grid (through world coordinates, optionally through an ITK transform), the difference map, and the
 * DVH pairs on one dose axis with their difference.
 *
 * Identity. A case's report.json records the Frame of Reference and Study Instance UIDs of its DICOM inputs
 * (provenance.parameters.dicom.activity/ct) but no patient identity; the Patient ID and Study Date are read from the
 * DICOM inputs themselves (provenance.inputs, when those paths still exist). NIfTI, NRRD and MHA carry no identity at
 * all: then the identity is "unknown", said as a warning, and as a last line of defence the anatomy must agree: the
 * two cases' liver volumes (the same segmented organ, days apart) within {@link LIVER_VOLUME_TOLERANCE}, and every
 * paired lesion's volume within a factor {@link LESION_VOLUME_FACTOR}. Otherwise the comparison is refused as one of
 * two patients (the two sample patients: livers 1488 and 1726 mL, 14 % apart, but "Tumor 1" is 16 mL in one and
 * 113 mL in the other).
 */
import { existsSync, statSync } from 'node:fs';
import { InputError } from '../errors.ts';

/** What is known of one case's patient and coordinate system. */
export interface CaseIdentity {
  readonly patientId: string | null;
  /** SHA-256 (hex) of the Patient ID: from the report's provenance (dose/plan record it), or of `patientId`. */
  readonly patientIdSha256: string | null;
  readonly studyDate: string | null;
  readonly studyInstanceUid: string | null;
  readonly frameOfReferenceUid: string | null;
  /** Where the identity came from: "DICOM inputs", "report provenance (UIDs only)" or "unknown". */
  readonly source: string;
  /** Liver volume of the case [mL] (structure with role liver), null when none. */
  readonly liverVolumeMl: number | null;
}

/** Liver volumes of one patient's two cases agree within this relative difference (|a - b| / max(a, b)). */
export const LIVER_VOLUME_TOLERANCE = 0.25;
/** A lesion paired across one patient's two cases keeps its volume within this factor (segmentation, growth). */
export const LESION_VOLUME_FACTOR = 2;

interface ReportLike {
  readonly structures?: ReadonlyArray<{ readonly role?: string; readonly volumeMl?: number; readonly lesionOf?: string }>;
  readonly provenance?: {
    readonly inputs?: ReadonlyArray<{ readonly role?: string; readonly path?: string }>;
    readonly parameters?: { readonly dicom?: Record<string, { frameOfReferenceUid?: string | null; studyInstanceUid?: string | null } | unknown> };
  };
}

const str = (x: unknown): string | null => (typeof x === 'string' && x.trim() !== '' ? x.trim() : null);

/** Reads Patient ID and Study Date from the first DICOM file of a recorded input (undefined when not DICOM / gone). */
async function dicomPatient(path: string): Promise<{ patientId: string | null; studyDate: string | null } | undefined> {
  if (!existsSync(path)) return undefined;
  try {
    const { listDicomFiles, loadDicomFile, TAG, isDicomPath } = await import('../io/dicom/index.ts');
    if (!statSync(path).isDirectory() && !isDicomPath(path)) return undefined;
    const files = listDicomFiles(path);
    if (!files.length) return undefined;
    const ds = loadDicomFile(files[0]).dataset;
    return { patientId: str(ds.string(TAG.PatientID)), studyDate: str(ds.string(TAG.StudyDate)) };
  } catch {
    return undefined;
  }
}

/** The identity of a case from its report.json (module comment). */
export async function caseIdentity(report: ReportLike): Promise<CaseIdentity> {
  const dicom = (report.provenance?.parameters?.dicom ?? {}) as Record<string, { frameOfReferenceUid?: unknown; studyInstanceUid?: unknown; patientIdSha256?: unknown; studyDate?: unknown } | undefined>;
  const series = [dicom.ct, dicom.activity].filter((x) => x && typeof x === 'object');
  const frameOfReferenceUid = series.map((s) => str(s?.frameOfReferenceUid)).find((x) => x !== null) ?? null;
  const studyInstanceUid = series.map((s) => str(s?.studyInstanceUid)).find((x) => x !== null) ?? null;
  let patientId: string | null = null, studyDate: string | null = series.map((s) => str(s?.studyDate)).find((x) => x !== null) ?? null;
  for (const input of report.provenance?.inputs ?? []) {
    if (!input.path || !['activity', 'ct'].includes(String(input.role).toLowerCase())) continue;
    const p = await dicomPatient(input.path);
    if (p?.patientId) {
      patientId = p.patientId;
      studyDate = p.studyDate;
      break;
    }
  }
  const liver = (report.structures ?? []).find((s) => s.role === 'liver' && s.lesionOf === undefined);
  // the report's own record first (it outlives the DICOM files), else the hash of the ID read from them
  const recorded = series.map((s) => str(s?.patientIdSha256)).find((x) => x !== null) ?? null;
  const { Sha256 } = await import('../io/dicom/uid.ts');
  return {
    patientId,
    patientIdSha256: recorded ?? (patientId ? new Sha256().update(patientId).hex() : null),
    studyDate,
    studyInstanceUid,
    frameOfReferenceUid,
    source: patientId ? 'DICOM inputs' : recorded ? 'report provenance (Patient ID SHA-256)' : frameOfReferenceUid ? 'report provenance (UIDs only)' : 'unknown',
    liverVolumeMl: typeof liver?.volumeMl === 'number' ? liver.volumeMl : null,
  };
}

/** Outcome of {@link checkIdentities}. */
export interface IdentityCheck {
  /** "same", "different (allowed)" or "unknown". */
  readonly patient: 'same' | 'different (allowed)' | 'unknown';
  /** "same", "different" or "unknown" (a NIfTI/NRRD case has none). */
  readonly frameOfReference: 'same' | 'different' | 'unknown';
  readonly warnings: readonly string[];
}

/**
 * Compares two cases' identities: a different Patient ID (or, with no Patient ID on either side, liver volumes
 * differing by more than {@link LIVER_VOLUME_TOLERANCE}) throws one InputError naming both, unless
 * `allowDifferentPatients` (then a warning). Unknown identities give a warning, never silence.
 */
export function checkIdentities(
  planned: CaseIdentity,
  achieved: CaseIdentity,
  allowDifferentPatients: boolean,
  lesionVolumes: ReadonlyArray<{ readonly name: string; readonly plannedMl: number | null; readonly achievedMl: number | null }> = [],
): IdentityCheck {
  const warnings: string[] = [];
  let patient: IdentityCheck['patient'] = 'unknown';
  let refusal: string | undefined;
  if (planned.patientId && achieved.patientId) {
    if (planned.patientId === achieved.patientId) patient = 'same';
    else refusal = `the planned case is Patient ID "${planned.patientId}" and the achieved case Patient ID "${achieved.patientId}"`;
  } else if (planned.patientIdSha256 && achieved.patientIdSha256) {
    // the DICOM files are gone (or one side's are): the reports' recorded hashes of the Patient IDs decide
    if (planned.patientIdSha256 === achieved.patientIdSha256) patient = 'same';
    else refusal = `the Patient IDs recorded in the two reports differ (SHA-256 ${planned.patientIdSha256.slice(0, 12)}... and ${achieved.patientIdSha256.slice(0, 12)}...)`;
  } else {
    warnings.push(
      `patient identity unknown (planned: ${planned.patientId ? `Patient ID "${planned.patientId}"` : 'none'}; achieved: ${achieved.patientId ? `Patient ID "${achieved.patientId}"` : 'none'}; NIfTI/NRRD/MHA inputs carry none): make sure both cases are the same patient`,
    );
    const a = planned.liverVolumeMl, b = achieved.liverVolumeMl;
    if (a !== null && b !== null && a > 0 && b > 0 && Math.abs(a - b) / Math.max(a, b) > LIVER_VOLUME_TOLERANCE) {
      refusal = `with no Patient ID to compare, the liver volumes (planned ${a.toFixed(0)} mL, achieved ${b.toFixed(0)} mL) differ by ${((100 * Math.abs(a - b)) / Math.max(a, b)).toFixed(0)} % (> ${100 * LIVER_VOLUME_TOLERANCE} %), so these are probably two patients`;
    }
    const far = lesionVolumes.filter((l) => l.plannedMl !== null && l.achievedMl !== null && l.plannedMl > 0 && l.achievedMl > 0 && Math.max(l.plannedMl / l.achievedMl, l.achievedMl / l.plannedMl) > LESION_VOLUME_FACTOR);
    if (!refusal && far.length) {
      refusal = `with no Patient ID to compare, paired lesions differ in volume by more than a factor ${LESION_VOLUME_FACTOR} (${far.map((l) => `"${l.name}" ${l.plannedMl!.toFixed(0)} mL planned, ${l.achievedMl!.toFixed(0)} mL achieved`).join('; ')}), so these are probably two patients (if not: the same patient segmented differently)`;
    }
  }
  if (refusal) {
    if (!allowDifferentPatients) throw new InputError(`compare: different patients: ${refusal}; compare a patient's own cases, or give --allow-different-patients (phantoms)`);
    warnings.push(`different patients compared (--allow-different-patients): ${refusal}`);
    patient = 'different (allowed)';
  }
  let frameOfReference: IdentityCheck['frameOfReference'] = 'unknown';
  if (planned.frameOfReferenceUid && achieved.frameOfReferenceUid) frameOfReference = planned.frameOfReferenceUid === achieved.frameOfReferenceUid ? 'same' : 'different';
  return { patient, frameOfReference, warnings };
}

/** Cumulative DVH: volumeFraction[i] receives >= doseGy[i] (doseGy ascending). */
export interface Dvh {
  readonly doseGy: readonly number[];
  readonly volumeFraction: readonly number[];
}

/** V(d) of a cumulative DVH by linear interpolation (1 below its first dose, 0 beyond its last). */
export function dvhAt(h: Dvh, doseGy: number): number {
  const x = h.doseGy, y = h.volumeFraction;
  if (!x.length) return 0;
  if (doseGy <= x[0]) return y[0] ?? 1;
  if (doseGy > x[x.length - 1]) return 0;
  let lo = 0, hi = x.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (x[mid] <= doseGy) lo = mid;
    else hi = mid;
  }
  const f = x[hi] === x[lo] ? 0 : (doseGy - x[lo]) / (x[hi] - x[lo]);
  return y[lo] + f * (y[hi] - y[lo]);
}

/** Both DVHs on one dose axis (`points` doses from 0 to the larger maximum) and achieved - planned. */
export function dvhDifference(planned: Dvh, achieved: Dvh, points = 101): { doseGy: number[]; planned: number[]; achieved: number[]; difference: number[] } {
  const maxGy = Math.max(planned.doseGy.at(-1) ?? 0, achieved.doseGy.at(-1) ?? 0);
  if (!(maxGy > 0)) throw new InputError('DVH difference: both DVHs are empty or at 0 Gy');
  const doseGy = Array.from({ length: points }, (_, i) => (maxGy * i) / (points - 1));
  const p = doseGy.map((d) => dvhAt(planned, d)), a = doseGy.map((d) => dvhAt(achieved, d));
  return { doseGy, planned: p, achieved: a, difference: a.map((v, i) => v - p[i]) };
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/**
 * dvh.svg: per structure pair, the planned DVH dashed and the achieved DVH solid in one colour, on a shared dose axis
 * [Gy] and volume axis [%].
 */
export function dvhSvg(rows: ReadonlyArray<{ name: string; doseGy: readonly number[]; planned: readonly number[]; achieved: readonly number[] }>): string {
  const W = 720, H = 440, L = 60, R = 200, T = 20, B = 50;
  const maxGy = Math.max(1e-9, ...rows.map((r) => r.doseGy.at(-1) ?? 0));
  const X = (d: number) => L + ((W - L - R) * d) / maxGy, Y = (v: number) => T + (H - T - B) * (1 - v);
  const colours = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];
  const path = (d: readonly number[], v: readonly number[]) => d.map((x, i) => `${i ? 'L' : 'M'}${X(x).toFixed(1)},${Y(v[i]).toFixed(1)}`).join('');
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<path d="M${L},${T}V${H - B}H${W - R}" fill="none" stroke="black"/>`,
    `<text x="${(L + W - R) / 2}" y="${H - 12}" text-anchor="middle">dose [Gy] (dashed: planned, solid: achieved)</text>`,
    `<text x="14" y="${(T + H - B) / 2}" transform="rotate(-90 14 ${(T + H - B) / 2})" text-anchor="middle">volume [%]</text>`,
  ];
  for (let t = 0; t <= 4; t++) {
    parts.push(`<text x="${L - 6}" y="${Y(t / 4) + 4}" text-anchor="end">${t * 25}</text>`);
    parts.push(`<text x="${X((maxGy * t) / 4)}" y="${H - B + 16}" text-anchor="middle">${((maxGy * t) / 4).toFixed(0)}</text>`);
  }
  rows.forEach((r, n) => {
    const c = colours[n % colours.length];
    parts.push(`<path d="${path(r.doseGy, r.planned)}" fill="none" stroke="${c}" stroke-dasharray="5,3"/>`);
    parts.push(`<path d="${path(r.doseGy, r.achieved)}" fill="none" stroke="${c}"/>`);
    parts.push(`<text x="${W - R + 10}" y="${T + 14 + 16 * n}" fill="${c}">${esc(r.name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}
