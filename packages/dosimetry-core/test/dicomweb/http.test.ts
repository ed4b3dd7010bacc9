/**
 * Timeouts, retries and failure lines against a tiny local HTTP server that fails on purpose: statuses that may pass
 * are retried (at most the set number of attempts, with the set waits), others fail at once; a server that never
 * answers is cut at the timeout; each failure is one line with method, URL, status and the server's message, and the
 * credentials (sent in the header, seen by the server) appear in no message.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DicomwebHttpError, httpRequest, type HttpSettings } from '../../src/dicomweb/http.ts';
import { authFromEnv } from '../../src/dicomweb/auth.ts';

const TOKEN = 'tok-4f9a1c77e2';
let server: Server;
let base = '';
const hits = new Map<string, number>();
const seenAuth: string[] = [];

beforeAll(async () => {
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = req.url ?? '';
    const n = (hits.get(path) ?? 0) + 1;
    hits.set(path, n);
    seenAuth.push(req.headers.authorization ?? '');
    if (path === '/flaky') {
      if (n <= 2) return void res.writeHead(503, { 'content-type': 'text/plain' }).end('busy, come back');
      return void res.writeHead(200, { 'content-type': 'application/dicom+json' }).end('[]');
    }
    if (path === '/down') return void res.writeHead(502, { 'content-type': 'application/json' }).end(JSON.stringify({ Message: 'upstream PACS unreachable' }));
    if (path === '/missing') return void res.writeHead(404, { 'content-type': 'text/plain' }).end('Unknown resource');
    if (path === '/hang') return; // never answers
    if (path === '/moved') return void res.writeHead(302, { location: 'http://elsewhere.example/dicom-web' }).end();
    if (path === '/echo-auth') return void res.writeHead(200).end(req.headers.authorization ?? '');
    res.writeHead(500).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

const settings = (over: Partial<HttpSettings> = {}): HttpSettings => ({
  auth: authFromEnv({ DOSIMETRY_DICOMWEB_TOKEN: TOKEN }),
  attempts: 3,
  backoffMs: 50,
  timeoutsMs: { search: 300 },
  ...over,
});
const get = (path: string, s = settings()) => httpRequest({ method: 'GET', url: `${base}${path}`, kind: 'search', purpose: 'testing' }, s);

async function failure(p: Promise<unknown>): Promise<DicomwebHttpError> {
  try {
    await p;
  } catch (e) {
    return e as DicomwebHttpError;
  }
  throw new Error('expected a failure');
}

describe('DICOMweb HTTP: bounded timeouts and retries, one line per failure', () => {
  it('retries 503 and succeeds on the third attempt, saying each retry with its wait (50 ms, then 100 ms)', async () => {
    const said: string[] = [];
    const t0 = Date.now();
    const r = await get('/flaky', settings({ onRetry: (l) => said.push(l) }));
    expect(r.status).toBe(200);
    expect(hits.get('/flaky')).toBe(3);
    expect(said).toEqual([
      `DICOMweb GET ${base}/flaky: HTTP 503 Service Unavailable: busy, come back; retrying in 0.05 s (attempt 2 of 3)`,
      `DICOMweb GET ${base}/flaky: HTTP 503 Service Unavailable: busy, come back; retrying in 0.1 s (attempt 3 of 3)`,
    ]);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(150);
  });

  it('gives up after the set attempts with one line: status, URL, the server\'s message', async () => {
    const e = await failure(get('/down'));
    expect(e).toBeInstanceOf(DicomwebHttpError);
    expect(e.status).toBe(502);
    expect(hits.get('/down')).toBe(3);
    expect(e.message).toBe(`DICOMweb GET ${base}/down (testing) failed after 3 attempts: HTTP 502 Bad Gateway: upstream PACS unreachable; the server or a proxy failed; try again later`);
    expect(e.message).not.toMatch(/\n/);
  });

  it('does not retry what cannot pass (404)', async () => {
    const e = await failure(get('/missing'));
    expect(hits.get('/missing')).toBe(1);
    expect(e.message).toBe(`DICOMweb GET ${base}/missing (testing) failed: HTTP 404 Not Found: Unknown resource; the server has no such resource: check the DICOMweb root and the UIDs`);
  });

  it('cuts a server that never answers at the timeout, on every attempt', async () => {
    const t0 = Date.now();
    const e = await failure(get('/hang', settings({ attempts: 2 })));
    const took = Date.now() - t0;
    expect(hits.get('/hang')).toBe(2);
    expect(e.message).toMatch(/^DICOMweb GET http:\/\/127\.0\.0\.1:\d+\/hang \(testing\) failed after 2 attempts: no complete answer within 0\.3 s; check that the server runs/);
    // 2 x 300 ms + 50 ms wait, and not much more
    expect(took).toBeGreaterThanOrEqual(600);
    expect(took).toBeLessThan(5000);
  });

  it('a closed port: connection refused, retried, then one line', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as { port: number }).port;
    await new Promise((r) => closed.close(r));
    const e = await failure(httpRequest({ method: 'GET', url: `http://127.0.0.1:${port}/x`, kind: 'search', purpose: 'testing' }, settings()));
    expect(e.status).toBeUndefined();
    expect(e.message).toMatch(new RegExp(`^DICOMweb GET http://127\\.0\\.0\\.1:${port}/x \\(testing\\) failed after 3 attempts: ECONNREFUSED`));
  });

  it('does not follow a redirect (credentials stay with the server named)', async () => {
    const e = await failure(get('/moved'));
    expect(e.message).toMatch(/HTTP 302 Found: redirected to http:\/\/elsewhere\.example\/dicom-web; give that address/);
    expect(hits.get('/moved')).toBe(1);
  });

  it('sends the credentials in the Authorization header only; no message shows them', async () => {
    const r = await get('/echo-auth');
    expect(new TextDecoder().decode(r.body)).toBe(`Bearer ${TOKEN}`);
    for (const p of ['/down', '/missing', '/moved']) expect((await failure(get(p))).message).not.toContain(TOKEN);
    expect(seenAuth.every((h) => h === `Bearer ${TOKEN}`)).toBe(true);
  });
});
