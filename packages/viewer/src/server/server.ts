/**
 * The viewer's HTTP server: plain node:http, bound to 127.0.0.1 only. Serves the page, the esbuild bundle of
 * src/client (built in memory at start), the case (GET /api/case, /api/volume/NAME, /api/labels), the case folder's
 * own files (/files/NAME) and the input files the report names (/inputs/N). Anything else, and any path that
 * resolves outside the case folder, is refused. Nothing is fetched from elsewhere; nothing is accepted but GET/HEAD.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { readFileSync, realpathSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep, isAbsolute } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { type LoadedCase, caseJson, loadCase } from './case.ts';
import { UsageError } from './core.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
const CLIENT_DIR = resolve(HERE, '../client');

/** Options of `startViewerServer`. */
export interface ViewerServerOptions {
  /** The case folder to show. */
  readonly caseDir: string;
  /** TCP port; 0 or undefined picks a free one. */
  readonly port?: number;
  /** Folders against which the report's relative input paths are resolved (see LoadCaseOptions). */
  readonly inputRoots?: readonly string[];
  /** Minify the bundle (default true). */
  readonly minify?: boolean;
}

/** A running viewer server. */
export interface ViewerServer {
  /** "http://127.0.0.1:PORT/". */
  readonly url: string;
  readonly port: number;
  readonly case: LoadedCase;
  /** Stops listening and closes open connections. */
  close(): Promise<void>;
}

/** Bundles the browser code (src/client/main.ts and the .wgsl it imports as text) into one ES module, in memory. */
export async function bundleClient(options: { minify?: boolean } = {}): Promise<{ js: string; html: string; css: string }> {
  const result = await build({
    entryPoints: [join(CLIENT_DIR, 'main.ts')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    minify: options.minify ?? true,
    sourcemap: false,
    logLevel: 'silent',
    plugins: [
      {
        name: 'raw-text',
        setup(b) {
          b.onResolve({ filter: /\?raw$/ }, (args) => ({
            path: resolve(args.resolveDir, args.path.slice(0, -'?raw'.length)),
            namespace: 'raw-text',
          }));
          b.onLoad({ filter: /.*/, namespace: 'raw-text' }, (args) => ({
            contents: readFileSync(args.path, 'utf8'),
            loader: 'text',
          }));
        },
      },
    ],
  });
  const js = result.outputFiles[0].text;
  return { js, html: readFileSync(join(CLIENT_DIR, 'index.html'), 'utf8'), css: readFileSync(join(CLIENT_DIR, 'viewer.css'), 'utf8') };
}

/** True when `child` is `parent` or inside it (both absolute, already real paths). */
export function isInside(parent: string, child: string): boolean {
  const rel = relative(parent, child);
  return rel === '' || (!rel.startsWith('..' + sep) && rel !== '..' && !isAbsolute(rel));
}

function send(res: ServerResponse, status: number, type: string, body: string | Uint8Array, head: boolean): void {
  res.writeHead(status, {
    'content-type': type,
    'content-length': typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength,
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    // The page may talk to this server only; nothing is loaded from elsewhere.
    'content-security-policy': "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; connect-src 'self'",
  });
  res.end(head ? undefined : body);
}

function bytesOf(a: Float32Array | Uint32Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** Loads the case, bundles the page and starts serving on 127.0.0.1. Resolves once listening. */
export async function startViewerServer(options: ViewerServerOptions): Promise<ViewerServer> {
  if (options.port !== undefined && !(Number.isInteger(options.port) && options.port >= 0 && options.port < 65536)) {
    throw new UsageError(`viewer: --port ${options.port} is not a port number (0..65535)`);
  }
  const [loaded, page] = await Promise.all([
    loadCase({ caseDir: options.caseDir, inputRoots: options.inputRoots }),
    bundleClient({ minify: options.minify }),
  ]);
  const caseRoot = realpathSync(loaded.caseDir);
  const caseText = JSON.stringify(caseJson(loaded));
  const inputs = loaded.inputPaths.map((p) => realpathSync(p));

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const head = req.method === 'HEAD';
    if (req.method !== 'GET' && !head) return send(res, 405, 'text/plain', 'only GET', head);
    let path: string;
    try {
      path = decodeURIComponent(new URL(req.url ?? '/', 'http://127.0.0.1').pathname);
    } catch {
      return send(res, 400, 'text/plain', 'bad path', head);
    }
    if (path === '/' || path === '/index.html') return send(res, 200, 'text/html; charset=utf-8', page.html, head);
    if (path === '/app.js') return send(res, 200, 'text/javascript; charset=utf-8', page.js, head);
    if (path === '/viewer.css') return send(res, 200, 'text/css; charset=utf-8', page.css, head);
    if (path === '/api/case') return send(res, 200, 'application/json', caseText, head);
    if (path.startsWith('/api/volume/')) {
      const v = loaded.volumes.find((x) => x.name === path.slice('/api/volume/'.length));
      return v ? send(res, 200, 'application/octet-stream', bytesOf(v.data), head) : send(res, 404, 'text/plain', 'no such volume', head);
    }
    if (path === '/api/labels') {
      return loaded.labels
        ? send(res, 200, 'application/octet-stream', bytesOf(loaded.labels.data), head)
        : send(res, 404, 'text/plain', 'no structure masks', head);
    }
    if (path.startsWith('/inputs/')) {
      const n = Number(path.slice('/inputs/'.length));
      const file = Number.isInteger(n) ? inputs[n] : undefined;
      if (!file || !statSync(file).isFile()) return send(res, 404, 'text/plain', 'no such input file', head);
      return send(res, 200, 'application/octet-stream', readFileSync(file), head);
    }
    if (path.startsWith('/files/')) {
      const want = resolve(caseRoot, '.' + path.slice('/files'.length));
      let real: string;
      try {
        real = realpathSync(want);
      } catch {
        return send(res, 404, 'text/plain', 'no such file', head);
      }
      if (!isInside(caseRoot, real)) return send(res, 403, 'text/plain', 'outside the case folder', head);
      if (!statSync(real).isFile()) return send(res, 404, 'text/plain', 'not a file', head);
      const type = real.endsWith('.json') ? 'application/json' : real.endsWith('.csv') ? 'text/csv' : 'application/octet-stream';
      return send(res, 200, type, readFileSync(real), head);
    }
    return send(res, 404, 'text/plain', 'not found', head);
  };

  const server: Server = createServer((req, res) => {
    try {
      handle(req, res);
    } catch (err) {
      if (!res.headersSent) send(res, 500, 'text/plain', (err as Error).message, false);
      else res.destroy();
    }
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(options.port ?? 0, '127.0.0.1', () => ok());
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    url: `http://127.0.0.1:${port}/`,
    port,
    case: loaded,
    close: () =>
      new Promise<void>((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}
