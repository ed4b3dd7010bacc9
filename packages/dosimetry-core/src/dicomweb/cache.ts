/**
 * The local cache of DICOMweb instances: one Part 10 file per instance, named by its SOP Instance UID, in a folder per
 * series: CACHE/STUDY_UID/SERIES_UID/SOP_INSTANCE_UID.dcm. The series folder is then read by the DICOM folder reader
 * (io/dicom), exactly as an exported series on disk.
 *
 * CACHE is $DOSIMETRY_CACHE/dicomweb when DOSIMETRY_CACHE is set, else $XDG_CACHE_HOME/sirt-dosimetry/dicomweb, else
 * ~/.cache/sirt-dosimetry/dicomweb. A SOP Instance UID names one immutable object (PS3.3 C.12.1.1.1), so a cached file
 * is never fetched again; the folder is made to hold exactly the instances the server lists now (files of instances
 * the server no longer has are removed). Files are written under a temporary hidden name and renamed, so that a
 * concurrent run or an interrupted fetch never leaves half a file under a UID's name. Delete the folder to free space.
 */
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { FileError, FormatError, InputError } from '../errors.ts';
import { parseDicom } from '../io/dicom/parser.ts';
import { TAG } from '../io/dicom/tags.ts';
import type { DicomwebClient } from './client.ts';
import { isDicomUid, seriesSpecOf, type DicomwebSeriesRef } from './url.ts';

/** The cache folder (see the module's comment): DOSIMETRY_CACHE, XDG_CACHE_HOME, or ~/.cache. */
export function defaultCacheDir(env: Readonly<Record<string, string | undefined>> = process.env): string {
  if (env.DOSIMETRY_CACHE) return join(env.DOSIMETRY_CACHE, 'dicomweb');
  if (env.XDG_CACHE_HOME) return join(env.XDG_CACHE_HOME, 'sirt-dosimetry', 'dicomweb');
  return join(homedir(), '.cache', 'sirt-dosimetry', 'dicomweb');
}

/** The folder of a series in the cache. */
export function seriesCacheDir(cacheDir: string, ref: Pick<DicomwebSeriesRef, 'studyInstanceUid' | 'seriesInstanceUid'>): string {
  for (const uid of [ref.studyInstanceUid, ref.seriesInstanceUid]) {
    if (!isDicomUid(uid)) throw new InputError(`"${uid}" is not a DICOM UID (digits and dots, at most 64 characters)`);
  }
  return join(cacheDir, ref.studyInstanceUid, ref.seriesInstanceUid);
}

/** What `fetchSeries` did. */
export interface FetchedSeries {
  /** The series folder in the cache (holds exactly the series' instances). */
  readonly dir: string;
  /** Instances the server lists. */
  readonly instances: number;
  /** Of those, how many were already in the cache. */
  readonly fromCache: number;
  /** SOP Instance UIDs of the series, as the server lists them. */
  readonly sopInstanceUids: readonly string[];
}

/**
 * Brings a series into the cache: QIDO-RS lists its instances; when any is missing here, WADO-RS retrieves the series
 * and each instance is checked (Part 10, its SOP Instance UID listed, the series' UID) and written under its UID.
 * FormatError when the server's answer disagrees with its own list (a missing or foreign instance).
 */
export async function fetchSeries(client: DicomwebClient, ref: DicomwebSeriesRef, cacheDir: string, progress: (m: string) => void = () => {}): Promise<FetchedSeries> {
  const dir = seriesCacheDir(cacheDir, ref);
  const spec = seriesSpecOf(ref);
  const listed = await client.searchInstances(ref.studyInstanceUid, ref.seriesInstanceUid);
  if (listed.length === 0) {
    throw new InputError(`${spec}: the server lists no instance in this series; check the study and series UIDs (the server's series of the study are listed by --study UID --dicomweb URL)`);
  }
  const uids = new Set<string>();
  for (const i of listed) {
    if (!isDicomUid(i.sopInstanceUid)) throw new FormatError(`${spec}: the server lists an instance whose SOP Instance UID "${i.sopInstanceUid.slice(0, 80)}" is not a DICOM UID`);
    uids.add(i.sopInstanceUid);
  }
  try {
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    throw new FileError(`cannot create the DICOMweb cache folder ${dir} (${(err as Error).message}); set DOSIMETRY_CACHE to a writable folder`, { cause: err });
  }
  const file = (uid: string) => join(dir, `${uid}.dcm`);
  const missing = [...uids].filter((u) => !existsSync(file(u)));
  if (missing.length > 0) {
    progress(`retrieving ${missing.length} of ${uids.size} instance(s) of ${spec}`);
    const parts = await client.retrieveSeries(ref.studyInstanceUid, ref.seriesInstanceUid);
    const got = new Set<string>();
    for (const [n, bytes] of parts.entries()) {
      const f = parseDicom(bytes, `instance ${n + 1} retrieved from ${spec}`);
      const sop = f.dataset.string(TAG.SOPInstanceUID) ?? f.meta.string(TAG.MediaStorageSOPInstanceUID) ?? '';
      const series = f.dataset.string(TAG.SeriesInstanceUID);
      if (!uids.has(sop)) throw new FormatError(`${spec}: the server returned instance ${sop || '(without SOP Instance UID)'}, which its own search does not list; try again (the series may be changing on the server)`);
      if (series !== ref.seriesInstanceUid) throw new FormatError(`${spec}: the server returned instance ${sop} of series ${series ?? '(none)'}, not of the series asked for`);
      got.add(sop);
      if (existsSync(file(sop))) continue;
      const tmp = join(dir, `.${sop}.${process.pid}.${Date.now()}.tmp`);
      try {
        writeFileSync(tmp, bytes);
        renameSync(tmp, file(sop));
      } catch (err) {
        rmSync(tmp, { force: true });
        throw new FileError(`cannot write ${file(sop)} in the DICOMweb cache (${(err as Error).message}); free space or set DOSIMETRY_CACHE to another folder`, { cause: err });
      }
    }
    const absent = missing.filter((u) => !got.has(u));
    if (absent.length) throw new FormatError(`${spec}: the server lists ${uids.size} instances but returned ${got.size}; ${absent.length} are missing (e.g. ${absent[0]}); try again`);
  }
  // the folder holds exactly the listed instances: stale files (instances deleted on the server) would join the volume
  for (const name of readdirSync(dir)) {
    const m = /^(.+)\.dcm$/.exec(name);
    if (m && !uids.has(m[1])) rmSync(join(dir, name), { force: true });
  }
  return { dir, instances: uids.size, fromCache: uids.size - missing.length, sopInstanceUids: [...uids] };
}
