/**
 * DICOMweb inputs of `dose` and `plan`: `--activity`, `--ct`, `--segmentation` given as
 * `dicomweb:BASE_URL/studies/UID/series/UID`, or a whole study with `--study UID --dicomweb BASE_URL` whose series are
 * chosen as the folder reader chooses them (io/dicom/volume.ts pickSeries): the activity among NM, PT and MR series,
 * the CT among CT series (`--activity-series UID` / `--ct-series UID` when there are several), the segmentation among
 * RTSTRUCT and SEG series. Each series is fetched into the cache (cache.ts) and the option is rewritten to the cached
 * series folder, which the DICOM readers then read as any folder.
 */
import { InputError, UsageError } from '../errors.ts';
import { authFromEnv } from './auth.ts';
import { defaultCacheDir, fetchSeries } from './cache.ts';
import { DicomwebClient, type DicomwebSeries } from './client.ts';
import type { HttpSettings } from './http.ts';
import { isDicomUid, isDicomwebSpec, parseBaseUrl, parseSeriesSpec, seriesSpecOf, type DicomwebSeriesRef } from './url.ts';

/** The part of the parsed command line this module reads and rewrites (cli/args.ts ParsedArgs). */
export interface DicomwebArgs {
  readonly values: Map<string, string[]>;
  readonly flags: Set<string>;
  readonly sequence: ReadonlyArray<{ name: string; value: string | true }>;
}

/** Where each DICOMweb input came from (for report.json: URLs carry no credentials, see url.ts). */
export interface DicomwebProvenance {
  readonly cacheDir: string;
  readonly inputs: ReadonlyArray<{ role: 'activity' | 'ct' | 'segmentation'; series: string; modality?: string; instances: number; fromCache: number }>;
  readonly study?: string;
}

/** Options of `resolveDicomwebInputs`. */
export interface ResolveDicomwebOptions {
  readonly command: string;
  /** Progress lines (retrieval, retries). */
  readonly progress?: (m: string) => void;
  /** The series chosen from a --study, one line each (the CLI writes them on stderr). */
  readonly say?: (line: string) => void;
  /** Cache folder (default cache.ts defaultCacheDir()). */
  readonly cacheDir?: string;
  /** Environment with the credentials (default process.env). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Time limits and retries (http.ts defaults otherwise). */
  readonly http?: Omit<HttpSettings, 'auth'>;
}

const ROLES = ['activity', 'ct', 'segmentation'] as const;
type Role = (typeof ROLES)[number];

/** True when the command line names any DICOMweb input (so that resolution is needed). */
export function hasDicomwebInputs(a: DicomwebArgs): boolean {
  return a.values.has('study') || a.values.has('dicomweb') || ROLES.some((r) => (a.values.get(r) ?? []).some(isDicomwebSpec));
}

function describe(s: DicomwebSeries): string {
  return `${s.seriesInstanceUid} (${s.modality || '?'}${s.seriesDescription ? `, "${s.seriesDescription}"` : ''}${s.instances !== undefined ? `, ${s.instances} instance(s)` : ''})`;
}

/** Picks the series of a role in a study, as the folder reader would; undefined when the role has none (CT only). */
function choose(series: readonly DicomwebSeries[], role: Role, uid: string | undefined, option: string, study: string, command: string): DicomwebSeries | undefined {
  const all = series.map(describe).join('; ') || 'none';
  if (uid !== undefined) {
    const s = series.find((x) => x.seriesInstanceUid === uid);
    if (!s) throw new InputError(`${command}: ${option.split(' ')[0]} ${uid} is not a series of study ${study}; its series are: ${all}`);
    return s;
  }
  const want = role === 'activity' ? ['NM', 'PT', 'MR'] : role === 'ct' ? ['CT'] : ['RTSTRUCT', 'SEG'];
  const m = series.filter((s) => want.includes(s.modality.toUpperCase()));
  if (m.length === 0) {
    if (role === 'ct') return undefined;
    const give = role === 'activity' ? '--activity dicomweb:URL/studies/UID/series/UID' : '--segmentation FILE or dicomweb:URL/studies/UID/series/UID';
    throw new InputError(`${command}: study ${study} holds no ${want.join(' or ')} series for the ${role}; give ${give}. Its series are: ${all}`);
  }
  if (m.length > 1) {
    const how = option ? `choose one with ${option}` : `give one with --${role} dicomweb:URL/studies/${study}/series/UID`;
    throw new InputError(`${command}: study ${study} holds ${m.length} ${want.join('/')} series for the ${role}; ${how}: ${m.map(describe).join('; ')}`);
  }
  return m[0];
}

/**
 * Rewrites the DICOMweb inputs of `a` to cached series folders (fetching what the cache lacks) and says where they came
 * from. Returns `a` itself when it names none. UsageError for --study without --dicomweb and the reverse; InputError
 * for a study without the series a role needs; the http.ts line for a failed request.
 */
export async function resolveDicomwebInputs<T extends DicomwebArgs>(a: T, opts: ResolveDicomwebOptions): Promise<{ args: T; provenance?: DicomwebProvenance }> {
  if (!hasDicomwebInputs(a)) return { args: a };
  const { command } = opts;
  const one = (n: string) => {
    const v = a.values.get(n) ?? [];
    if (v.length > 1) throw new UsageError(`${command}: --${n} given ${v.length} times; give it once`);
    return v[0];
  };
  const study = one('study');
  const studyServer = one('dicomweb');
  if ((study === undefined) !== (studyServer === undefined)) {
    throw new UsageError(`${command}: --study UID and --dicomweb URL go together (the study's series are searched on that server); give both, or give each series as dicomweb:URL/studies/UID/series/UID`);
  }
  if (study !== undefined && !isDicomUid(study)) throw new InputError(`${command}: --study "${study}" is not a DICOM UID (digits and dots, at most 64 characters)`);
  const cacheDir = opts.cacheDir ?? defaultCacheDir(opts.env);
  const auth = authFromEnv(opts.env);
  const clients = new Map<string, DicomwebClient>();
  const clientFor = (baseUrl: string) => {
    let c = clients.get(baseUrl);
    if (!c) clients.set(baseUrl, (c = new DicomwebClient({ baseUrl, auth, onRetry: opts.progress, ...(opts.http ?? {}) })));
    return c;
  };

  // each role: the series to fetch (explicit dicomweb: values, then the study's choice for roles not given)
  const wanted: Array<{ role: Role; ref: DicomwebSeriesRef; original?: string; modality?: string }> = [];
  for (const role of ROLES) {
    for (const v of a.values.get(role) ?? []) {
      if (isDicomwebSpec(v)) wanted.push({ role, ref: parseSeriesSpec(v, `--${role}`), original: v });
    }
  }
  if (study !== undefined) {
    const baseUrl = parseBaseUrl(studyServer!, '--dicomweb');
    const series = await clientFor(baseUrl).searchSeries(study);
    if (series.length === 0) throw new InputError(`${command}: the server ${baseUrl} has no study ${study} (QIDO-RS found no series); check the Study Instance UID`);
    const options: Record<Role, string> = { activity: '--activity-series UID', ct: '--ct-series UID', segmentation: '' };
    const said: string[] = []; // said once every role is chosen, so that a refusal stays one line
    for (const role of ROLES) {
      if ((a.values.get(role) ?? []).length > 0) continue;
      const s = choose(series, role, role === 'segmentation' ? undefined : one(`${role}-series`), options[role], study, command);
      if (!s) {
        said.push(`dicomweb: study ${study} holds no CT series: densities are not taken from a CT`);
        continue;
      }
      said.push(`dicomweb: ${role} from study ${study}: series ${describe(s)}`);
      wanted.push({ role, ref: { baseUrl, studyInstanceUid: study, seriesInstanceUid: s.seriesInstanceUid }, modality: s.modality });
    }
    for (const l of said) opts.say?.(l);
  }

  const values = new Map(a.values);
  const sequence = a.sequence.map((x) => ({ ...x }));
  const inputs: Array<DicomwebProvenance['inputs'][number]> = [];
  for (const w of wanted) {
    opts.progress?.(`fetching ${w.role} ${seriesSpecOf(w.ref)}`);
    const got = await fetchSeries(clientFor(w.ref.baseUrl), w.ref, cacheDir, opts.progress);
    inputs.push({ role: w.role, series: seriesSpecOf(w.ref), ...(w.modality ? { modality: w.modality } : {}), instances: got.instances, fromCache: got.fromCache });
    if (w.original !== undefined) {
      values.set(w.role, (values.get(w.role) ?? []).map((v) => (v === w.original ? got.dir : v)));
      for (const item of sequence) if (item.name === w.role && item.value === w.original) item.value = got.dir;
    } else {
      values.set(w.role, [...(values.get(w.role) ?? []), got.dir]);
      sequence.push({ name: w.role, value: got.dir });
    }
  }
  return { args: { ...a, values, sequence }, provenance: { cacheDir, inputs, ...(study ? { study } : {}) } };
}
