/**
 * The DICOMweb cache and input resolution against a small fake DICOMweb server (node:http, written here): instances are
 * fetched once and kept under their SOP Instance UIDs with their exact bytes; a second fetch makes no WADO-RS request;
 * instances gone from the server leave the cache folder; an answer that disagrees with the server's own list is
 * refused; `--study` chooses series as the folder reader does and says so; STOW-RS answers with refused instances are a
 * failure that keeps the outputs; no credential reaches the provenance or any message.
 */
import { createServer, type Server } from 'node:http';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { authFromEnv } from '../../src/dicomweb/auth.ts';
import { defaultCacheDir, fetchSeries } from '../../src/dicomweb/cache.ts';
import { DicomwebClient, parseStowResponse } from '../../src/dicomweb/client.ts';
import { resolveDicomwebInputs } from '../../src/dicomweb/inputs.ts';
import { storeCaseOutputs } from '../../src/dicomweb/store.ts';
import { TAG } from '../../src/io/dicom/tags.ts';
import { dataset, writePart10 } from '../../src/io/dicom/writer.ts';

const STUDY = '1.2.826.0.1.3680043.10.1';
const CT = '1.2.826.0.1.3680043.10.1.2';
const NM = '1.2.826.0.1.3680043.10.1.3';
const NM2 = '1.2.826.0.1.3680043.10.1.4';
const RS = '1.2.826.0.1.3680043.10.1.5';
const TOKEN = 'tok-secret-93b1';

function instance(series: string, sop: string, modality: string): Uint8Array {
  return writePart10(dataset([
    [TAG.SOPClassUID, '1.2.840.10008.5.1.4.1.1.7'],
    [TAG.SOPInstanceUID, sop],
    [TAG.StudyInstanceUID, STUDY],
    [TAG.SeriesInstanceUID, series],
    [TAG.Modality, modality],
  ]));
}

/** What the fake server holds and answers; edited by the tests. */
const state = {
  series: new Map<string, { modality: string; description: string; instances: Map<string, Uint8Array> }>(),
  wadoHits: 0,
  extraPart: undefined as Uint8Array | undefined,
  stow: { status: 200, body: '' },
  stowParts: 0,
  auth: [] as string[],
  /** SOP Instance UIDs the search lists but the retrieve leaves out. */
  hidden: new Set<string>(),
};
let server: Server;
let base = '';

beforeAll(async () => {
  server = createServer((req, res) => {
    state.auth.push(req.headers.authorization ?? '');
    const url = req.url ?? '';
    const json = (v: unknown) => void res.writeHead(200, { 'content-type': 'application/dicom+json' }).end(JSON.stringify(v));
    let m = /^\/dw\/studies\/([\d.]+)\/series$/.exec(url);
    if (m && req.method === 'GET') {
      if (m[1] !== STUDY) return void res.writeHead(204).end();
      return json([...state.series].map(([uid, s]) => ({ '0020000E': { vr: 'UI', Value: [uid] }, '00080060': { vr: 'CS', Value: [s.modality] }, '0008103E': { vr: 'LO', Value: [s.description] }, '00201209': { vr: 'IS', Value: [s.instances.size] } })));
    }
    m = /^\/dw\/studies\/[\d.]+\/series\/([\d.]+)\/instances$/.exec(url);
    if (m) return json([...(state.series.get(m[1])?.instances.keys() ?? [])].map((u) => ({ '00080018': { vr: 'UI', Value: [u] } })));
    m = /^\/dw\/studies\/[\d.]+\/series\/([\d.]+)$/.exec(url);
    if (m && req.method === 'GET') {
      state.wadoHits++;
      const kept = [...(state.series.get(m[1])?.instances ?? [])].filter(([u]) => !state.hidden.has(u)).map(([, b]) => b);
      const parts = [...kept, ...(state.extraPart ? [state.extraPart] : [])];
      // written out here by hand (not with the builder under test)
      const chunks: Buffer[] = [Buffer.from('preamble\r\n')];
      for (const p of parts) chunks.push(Buffer.from('--XB\r\nContent-Type: application/dicom\r\n\r\n'), Buffer.from(p), Buffer.from('\r\n'));
      chunks.push(Buffer.from('--XB--\r\n'));
      return void res.writeHead(200, { 'content-type': 'multipart/related; type="application/dicom"; boundary=XB' }).end(Buffer.concat(chunks));
    }
    if (url === '/dw/studies' && req.method === 'POST') {
      const body: Buffer[] = [];
      req.on('data', (d) => body.push(d));
      req.on('end', () => {
        const b = req.headers['content-type']?.match(/boundary=([^;\s]+)/)?.[1] ?? '?';
        state.stowParts = Buffer.concat(body).toString('latin1').split(`--${b}\r\n`).length - 1;
        res.writeHead(state.stow.status, { 'content-type': 'application/dicom+json' }).end(state.stow.body);
      });
      return;
    }
    res.writeHead(404).end('no such thing');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}/dw`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

let cache = '';
beforeEach(() => {
  cache = mkdtempSync(join(tmpdir(), 'dicomweb-cache-'));
  state.series = new Map([
    [CT, { modality: 'CT', description: 'CT abdomen', instances: new Map([[`${CT}.1`, instance(CT, `${CT}.1`, 'CT')], [`${CT}.2`, instance(CT, `${CT}.2`, 'CT')]]) }],
    [NM, { modality: 'NM', description: 'MAA SPECT', instances: new Map([[`${NM}.1`, instance(NM, `${NM}.1`, 'NM')]]) }],
    [RS, { modality: 'RTSTRUCT', description: 'contours', instances: new Map([[`${RS}.1`, instance(RS, `${RS}.1`, 'RTSTRUCT')]]) }],
  ]);
  state.wadoHits = 0;
  state.extraPart = undefined;
  state.auth = [];
  state.hidden = new Set();
});

const client = () => new DicomwebClient({ baseUrl: base, auth: authFromEnv({ DOSIMETRY_DICOMWEB_TOKEN: TOKEN }), attempts: 1 });

describe('DICOMweb cache keyed by SOP Instance UID', () => {
  it('the default folder: $DOSIMETRY_CACHE/dicomweb, else $XDG_CACHE_HOME/sirt-dosimetry/dicomweb, else ~/.cache/...', () => {
    expect(defaultCacheDir({ DOSIMETRY_CACHE: '/c', XDG_CACHE_HOME: '/x', HOME: '/h' })).toBe('/c/dicomweb');
    expect(defaultCacheDir({ XDG_CACHE_HOME: '/x' })).toBe('/x/sirt-dosimetry/dicomweb');
    expect(defaultCacheDir({})).toMatch(/\.cache\/sirt-dosimetry\/dicomweb$/);
  });

  it('fetches a series once: files named by SOP Instance UID with the server\'s exact bytes; then from the cache', async () => {
    const ref = { baseUrl: base, studyInstanceUid: STUDY, seriesInstanceUid: CT };
    const a = await fetchSeries(client(), ref, cache);
    expect(a).toMatchObject({ instances: 2, fromCache: 0, dir: join(cache, STUDY, CT) });
    expect(state.wadoHits).toBe(1);
    expect(readdirSync(a.dir).sort()).toEqual([`${CT}.1.dcm`, `${CT}.2.dcm`]);
    for (const [uid, bytes] of state.series.get(CT)!.instances) expect(new Uint8Array(readFileSync(join(a.dir, `${uid}.dcm`)))).toEqual(bytes);
    const b = await fetchSeries(client(), ref, cache);
    expect(b.fromCache).toBe(2);
    expect(state.wadoHits).toBe(1); // no second retrieve
    expect(state.auth.every((h) => h === `Bearer ${TOKEN}`)).toBe(true);
  });

  it('a new instance on the server is fetched; one gone from the server leaves the cache folder', async () => {
    const ref = { baseUrl: base, studyInstanceUid: STUDY, seriesInstanceUid: CT };
    await fetchSeries(client(), ref, cache);
    const ct = state.series.get(CT)!.instances;
    ct.delete(`${CT}.1`);
    ct.set(`${CT}.3`, instance(CT, `${CT}.3`, 'CT'));
    const r = await fetchSeries(client(), ref, cache);
    expect(r).toMatchObject({ instances: 2, fromCache: 1 });
    expect(readdirSync(r.dir).sort()).toEqual([`${CT}.2.dcm`, `${CT}.3.dcm`]);
  });

  it('refuses an answer that disagrees with the server\'s own list, and writes nothing under a wrong name', async () => {
    state.extraPart = instance(NM, `${NM}.1`, 'NM'); // an instance of another series
    const ref = { baseUrl: base, studyInstanceUid: STUDY, seriesInstanceUid: CT };
    await expect(fetchSeries(client(), ref, cache)).rejects.toThrow(/returned instance 1\.2\.826\.0\.1\.3680043\.10\.1\.3\.1, which its own search does not list/);
    expect(existsSync(join(cache, STUDY, CT, `${NM}.1.dcm`))).toBe(false);
    state.extraPart = undefined;
    // the search lists 3 instances, the retrieve returns 2
    state.hidden.add(`${CT}.9`);
    state.series.get(CT)!.instances.set(`${CT}.9`, instance(CT, `${CT}.9`, 'CT'));
    await expect(fetchSeries(client(), ref, cache)).rejects.toThrow(/the server lists 3 instances but returned 2; 1 are missing \(e\.g\. 1\.2\.826\.0\.1\.3680043\.10\.1\.2\.9\)/);
    await expect(fetchSeries(client(), { ...ref, seriesInstanceUid: '1.2.3.404' }, cache)).rejects.toThrow(/lists no instance/);
    expect(existsSync(join(cache, STUDY, '1.2.3.404'))).toBe(false);
  });
});

describe('DICOMweb inputs of dose/plan', () => {
  const args = (values: Record<string, string[]>, flags: string[] = []) => ({
    values: new Map(Object.entries(values)),
    flags: new Set(flags),
    sequence: Object.entries(values).flatMap(([name, vs]) => vs.map((value) => ({ name, value }))),
  });
  const env = { DOSIMETRY_DICOMWEB_TOKEN: TOKEN };

  it('--study: NM for the activity, CT, RTSTRUCT; said one line each; options rewritten to the cached folders', async () => {
    const said: string[] = [];
    const r = await resolveDicomwebInputs(args({ study: [STUDY], dicomweb: [`dicomweb:${base}`] }), { command: 'dose', env, cacheDir: cache, say: (l) => said.push(l) });
    expect(r.args.values.get('activity')).toEqual([join(cache, STUDY, NM)]);
    expect(r.args.values.get('ct')).toEqual([join(cache, STUDY, CT)]);
    expect(r.args.values.get('segmentation')).toEqual([join(cache, STUDY, RS)]);
    expect(said).toEqual([
      `dicomweb: activity from study ${STUDY}: series ${NM} (NM, "MAA SPECT", 1 instance(s))`,
      `dicomweb: ct from study ${STUDY}: series ${CT} (CT, "CT abdomen", 2 instance(s))`,
      `dicomweb: segmentation from study ${STUDY}: series ${RS} (RTSTRUCT, "contours", 1 instance(s))`,
    ]);
    const prov = JSON.stringify(r.provenance);
    expect(prov).not.toContain(TOKEN);
    expect(r.provenance!.inputs.map((i) => i.series)).toEqual([`dicomweb:${base}/studies/${STUDY}/series/${NM}`, `dicomweb:${base}/studies/${STUDY}/series/${CT}`, `dicomweb:${base}/studies/${STUDY}/series/${RS}`]);
  });

  it('--study with two activity series: asks for --activity-series, listing them; picks the one named', async () => {
    state.series.set(NM2, { modality: 'PT', description: 'Y90 PET', instances: new Map([[`${NM2}.1`, instance(NM2, `${NM2}.1`, 'PT')]]) });
    const a = args({ study: [STUDY], dicomweb: [base] });
    await expect(resolveDicomwebInputs(a, { command: 'dose', env, cacheDir: cache })).rejects.toThrow(
      new RegExp(`dose: study ${STUDY} holds 2 NM/PT/MR series for the activity; choose one with --activity-series UID: .*MAA SPECT.*Y90 PET`),
    );
    const r = await resolveDicomwebInputs(args({ study: [STUDY], dicomweb: [base], 'activity-series': [NM2] }), { command: 'dose', env, cacheDir: cache });
    expect(r.args.values.get('activity')).toEqual([join(cache, STUDY, NM2)]);
  });

  it('explicit dicomweb: series replace their option in place; other inputs are left alone', async () => {
    const a = args({ activity: [`dicomweb:${base}/studies/${STUDY}/series/${NM}`], segmentation: ['/data/seg.nrrd'] });
    const r = await resolveDicomwebInputs(a, { command: 'plan', env, cacheDir: cache });
    expect(r.args.values.get('activity')).toEqual([join(cache, STUDY, NM)]);
    expect(r.args.values.get('segmentation')).toEqual(['/data/seg.nrrd']);
    expect(r.args.sequence).toEqual([{ name: 'activity', value: join(cache, STUDY, NM) }, { name: 'segmentation', value: '/data/seg.nrrd' }]);
    expect(r.args.values.has('ct')).toBe(false);
  });

  it('usage errors: --study without --dicomweb, a study the server lacks, no inputs from DICOMweb: unchanged', async () => {
    await expect(resolveDicomwebInputs(args({ study: [STUDY] }), { command: 'dose', env, cacheDir: cache })).rejects.toThrow(/--study UID and --dicomweb URL go together/);
    await expect(resolveDicomwebInputs(args({ study: ['9.9.9'], dicomweb: [base] }), { command: 'dose', env, cacheDir: cache })).rejects.toThrow(/has no study 9\.9\.9/);
    const plain = args({ activity: ['/a.nii.gz'] });
    expect((await resolveDicomwebInputs(plain, { command: 'dose', env, cacheDir: cache })).args).toBe(plain);
  });
});

describe('STOW-RS store of the outputs', () => {
  const identity = { studyInstanceUid: STUDY, frameOfReferenceUid: '1.2.3.4', patientId: 'P1' };
  function outDir(): string {
    const d = mkdtempSync(join(tmpdir(), 'dicomweb-out-'));
    const rd = dataset([[TAG.SOPClassUID, '1.2.840.10008.5.1.4.1.1.481.2'], [TAG.SOPInstanceUID, '1.2.3.100'], [TAG.StudyInstanceUID, STUDY], [TAG.Modality, 'RTDOSE']]);
    writeFileSync(join(d, 'rtdose.dcm'), writePart10(rd));
    writeFileSync(join(d, 'report.pdf'), '%PDF-1.4\n%fake but headed\n');
    return d;
  }
  const stowJson = (stored: string[], failed: Array<[string, number]>) =>
    JSON.stringify({
      '00081190': { vr: 'UR', Value: [`${base}/studies/${STUDY}`] },
      '00081199': { vr: 'SQ', Value: stored.map((u) => ({ '00081155': { vr: 'UI', Value: [u] } })) },
      ...(failed.length ? { '00081198': { vr: 'SQ', Value: failed.map(([u, r]) => ({ '00081155': { vr: 'UI', Value: [u] }, '00081197': { vr: 'US', Value: [r] } })) } } : {}),
    });

  it('sends RT Dose and the report as Encapsulated PDF in one request; reports what the server stored', async () => {
    const d = outDir();
    // the PDF's UID is derived from its content: learn it from a first answer that lists only the RT Dose as failed
    state.stow = { status: 200, body: stowJson(['1.2.3.100'], []) };
    const first = await storeCaseOutputs({ command: 'dose', spec: `dicomweb:${base}`, outDir: d, identity, env: { DOSIMETRY_DICOMWEB_TOKEN: TOKEN } }).catch((e: Error) => e);
    expect(first).toBeInstanceOf(Error);
    expect((first as Error).message).toMatch(/stored 1 of 2 objects; not acknowledged: [\d.]+; the outputs in .* were written and are kept/);
    expect(state.stowParts).toBe(2);
    const pdfUid = /not acknowledged: ([\d.]+)/.exec((first as Error).message)![1];
    state.stow = { status: 200, body: stowJson(['1.2.3.100', pdfUid], []) };
    const s = await storeCaseOutputs({ command: 'dose', spec: `dicomweb:${base}`, outDir: d, identity, env: { DOSIMETRY_DICOMWEB_TOKEN: TOKEN } });
    expect(s.objects.map((o) => [o.what, o.sopInstanceUid])).toEqual([['RT Dose', '1.2.3.100'], ['Encapsulated PDF', pdfUid]]);
    expect(s.retrieveUrl).toBe(`${base}/studies/${STUDY}`);
  });

  it('refused instances (HTTP 202 with a Failed SOP Sequence): one line with the reasons, outputs kept', async () => {
    const d = outDir();
    state.stow = { status: 202, body: stowJson([], [['1.2.3.100', 0xa700]]) };
    const e = await storeCaseOutputs({ command: 'dose', spec: `dicomweb:${base}`, outDir: d, identity, env: {} }).catch((x: Error) => x);
    expect((e as Error).message).toMatch(/^DICOMweb store to http:\/\/127\.0\.0\.1:\d+\/dw \(HTTP 202\): the server stored 0 of 2 objects; refused: 1\.2\.3\.100 \(failure reason 42752\)/);
    expect((e as Error).message).toContain(`the outputs in ${d} were written and are kept`);
    expect(existsSync(join(d, 'rtdose.dcm'))).toBe(true);
  });

  it('refuses a case without a DICOM study, and a --store that is not dicomweb:', async () => {
    const d = outDir();
    await expect(storeCaseOutputs({ command: 'dose', spec: `dicomweb:${base}`, outDir: d, identity: {}, env: {} })).rejects.toThrow(/no input is a DICOM series/);
    await expect(storeCaseOutputs({ command: 'dose', spec: base, outDir: d, identity, env: {} })).rejects.toThrow(/--store takes dicomweb:BASE_URL/);
  });

  it('reads a STOW-RS answer as PS3.18 writes it', () => {
    const r = parseStowResponse(202, new TextEncoder().encode(stowJson(['1.1'], [['1.2', 272]])));
    expect(r).toEqual({ status: 202, stored: ['1.1'], failed: [{ sopInstanceUid: '1.2', reason: '272' }], retrieveUrl: `${base}/studies/${STUDY}` });
  });
});
