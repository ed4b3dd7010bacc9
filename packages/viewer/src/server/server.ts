/**
 * The viewer's HTTP server: plain node:http, bound to 127.0.0.1 only. Serves the page, the esbuild bundle of
 * src/client (built in memory at start), the case (GET /api/case, /api/volume/NAME, /api/labels), the case folder's
 * own files (/files/NAME), the input files the report names (/inputs/N) and the territories' dose maps per GBq of a
 * multi-territory plan (/api/territory/N); in compare mode (compare.ts) the two cases and the difference map
 * (/api/compare, /api/compare/SIDE/volume/NAME, /api/compare/SIDE/labels, /api/compare/difference). Anything else, and any path that
 * resolves outside the case folder, is refused. Nothing is fetched from elsewhere; nothing is accepted but GET/HEAD.
 *
 * Guards (guard.ts): a request whose Host header is not 127.0.0.1, localhost or [::1] with this server's port is
 * refused (403) before anything is served, so a DNS-rebinding page cannot read the case; an input outside the case
 * folder is served only when its content hashes to the sha256 report.json records; every response carries the
 * Content-Security-Policy, X-Frame-Options: DENY, nosniff and no-referrer headers.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { existsSync, readFileSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Plugin, build } from 'esbuild';
import type { CohortJson, ModeJson } from '../protocol.ts';
import { type LoadedCase, caseJson, loadCase } from './case.ts';
import { type LoadedCompare, compareBytes, compareJson, isCompareFolder, loadCompare } from './compare.ts';
import { FileError, UsageError } from './core.ts';
import { CONTENT_SECURITY_POLICY, FILE_CONTENT_SECURITY_POLICY, SECURITY_HEADERS, hostAllowed, inputRefusal, isInside, realPathOf, sha256Hex } from './guard.ts';

export { isInside } from './guard.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
const CLIENT_DIR = resolve(HERE, '../client');
const CORE_DIR = resolve(HERE, '../../../dosimetry-core');

/**
 * itk-wasm's image-io pipelines (emscripten .js + zstd-compressed .wasm), served under /itk/image-io/ so that the
 * page reads MetaImage files without fetching anything from elsewhere. Undefined when the package is not installed.
 */
function itkPipelinesDir(pkg = '@itk-wasm/image-io'): string | undefined {
  try {
    const entry = createRequire(join(CORE_DIR, 'package.json')).resolve(pkg);
    let dir = dirname(entry);
    while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
    const p = join(dir, 'dist', 'pipelines');
    return existsSync(p) ? p : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Node built-ins imported at the top of some core modules (file readers and writers the page never calls): in the
 * browser bundle they become functions that throw. `node:path` gets a small POSIX implementation since file names
 * are still formatted (basename in messages).
 */
const NODE_STUBS: Record<string, string> = {
  fs: ['readFileSync', 'statSync', 'existsSync', 'readdirSync', 'writeFileSync', 'mkdirSync', 'renameSync', 'rmSync', 'openSync', 'closeSync', 'readSync', 'realpathSync', 'unlinkSync', 'createReadStream', 'writeSync']
    .map((n) => `export function ${n}() { throw new Error('no file system in the browser (${n})'); }`)
    .join('\n'),
  crypto: `export function createHash() { throw new Error('node:crypto is not available in the browser'); }`,
  child_process: ['spawnSync', 'spawn', 'execFileSync']
    .map((n) => `export function ${n}() { throw new Error('no child processes in the browser (${n})'); }`)
    .join('\n'),
  url: `export function fileURLToPath(u) { return new URL(u).pathname; }`,
  'fs/promises': `export function readFile() { throw new Error('no file system in the browser (readFile)'); }`,
  os: `export function tmpdir() { throw new Error('node:os is not available in the browser'); }`,
  module: `export function createRequire() { throw new Error('require is not available in the browser'); }`,
  path: `
export const sep = '/';
export function basename(p, ext) { const b = String(p).split('/').filter(Boolean).pop() ?? ''; return ext && b.endsWith(ext) ? b.slice(0, -ext.length) : b; }
export function dirname(p) { const i = String(p).lastIndexOf('/'); return i > 0 ? p.slice(0, i) : i === 0 ? '/' : '.'; }
export function isAbsolute(p) { return String(p).startsWith('/'); }
export function join(...a) { return a.filter(Boolean).join('/').split('/').filter((x, i) => x !== '' || i === 0).join('/'); }
export function resolve(...a) { return join(...a); }
export function relative(a, b) { return b; }
export function extname(p) { const b = basename(p); const i = b.lastIndexOf('.'); return i > 0 ? b.slice(i) : ''; }
export default { sep, basename, dirname, isAbsolute, join, resolve, relative, extname };`,
};

const browserPlugins: Plugin[] = [
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
  {
    name: 'node-stubs',
    setup(b) {
      b.onResolve({ filter: /^node:/ }, (args) => ({ path: args.path.slice(5), namespace: 'node-stub' }));
      b.onLoad({ filter: /.*/, namespace: 'node-stub' }, (args) => {
        const contents = NODE_STUBS[args.path];
        if (contents === undefined) throw new Error(`the browser bundle imports node:${args.path}, which has no stub`);
        return { contents, loader: 'js' };
      });
    },
  },
];

/** Options of `startViewerServer`. */
export interface ViewerServerOptions {
  /**
   * The folder to show: a dose output folder (report.json), or a cohort folder (SVG plots and CSV tables). Undefined:
   * an empty page that computes cases from dropped files.
   */
  readonly caseDir?: string;
  /** TCP port; 0 or undefined picks a free one. */
  readonly port?: number;
  /** Folders against which the report's relative input paths are resolved (see LoadCaseOptions). */
  readonly inputRoots?: readonly string[];
  /** Minify the bundle (default true). */
  readonly minify?: boolean;
  /**
   * Compare mode with these planned and achieved case folders (`--compare PLANNED ACHIEVED`); `caseDir`, when given
   * too, is the compare output folder. A `caseDir` holding compare.json is compare mode without this (compare.ts).
   */
  readonly compareCases?: readonly [string, string];
}

/** A running viewer server. */
export interface ViewerServer {
  /** "http://127.0.0.1:PORT/". */
  readonly url: string;
  readonly port: number;
  /** The loaded case, or undefined in cohort and empty mode. */
  readonly case: LoadedCase | undefined;
  /** What is shown. */
  readonly mode: ModeJson;
  /** The loaded comparison in compare mode. */
  readonly compare?: LoadedCompare;
  /** Stops listening and closes open connections. */
  close(): Promise<void>;
}

/** The page's files: app.js (src/client/main.ts with the core and the .wgsl it imports as text), mha.js (itk-wasm). */
export interface ClientBundle {
  readonly js: string;
  /** MetaImage reader (src/client/mha.ts with itk-wasm), loaded by the page only when an .mha/.mhd is dropped. */
  readonly mhaJs: string;
  /** DICOM reader (src/client/dicom.ts: the core's reader, itk-wasm's GDCM pipeline for compressed pixel data), loaded when DICOM is dropped. */
  readonly dicomJs: string;
  readonly html: string;
  readonly css: string;
}

/** Bundles the browser code into ES modules, in memory (esbuild). */
export async function bundleClient(options: { minify?: boolean } = {}): Promise<ClientBundle> {
  const common = {
    bundle: true,
    format: 'esm' as const,
    platform: 'browser' as const,
    target: 'es2022',
    write: false,
    minify: options.minify ?? true,
    sourcemap: false,
    logLevel: 'silent' as const,
    // Packages of the core (nifti-reader-js, fflate, itk-wasm) resolve from its node_modules.
    nodePaths: [join(CORE_DIR, 'node_modules')],
    plugins: browserPlugins,
  };
  const [app, mha, dicom] = await Promise.all([
    build({ ...common, entryPoints: [join(CLIENT_DIR, 'main.ts')], external: ['/mha.js', '/dicom.js', '@itk-wasm/image-io'] }),
    build({ ...common, entryPoints: [join(CLIENT_DIR, 'mha.ts')] }),
    build({ ...common, entryPoints: [join(CLIENT_DIR, 'dicom.ts')] }),
  ]);
  return {
    js: app.outputFiles![0].text,
    mhaJs: mha.outputFiles![0].text,
    dicomJs: dicom.outputFiles![0].text,
    html: readFileSync(join(CLIENT_DIR, 'index.html'), 'utf8'),
    css: readFileSync(join(CLIENT_DIR, 'viewer.css'), 'utf8'),
  };
}

/** Cohort folder contents: SVG plots, CSV tables and JSON results at its top level; undefined when it has none. */
export function readCohortFolder(dir: string): CohortJson | undefined {
  const names = readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => e.name)
    .sort();
  const pick = (ext: string) => names.filter((n) => n.toLowerCase().endsWith(ext)).map((name) => ({ name, url: `/files/${encodeURIComponent(name)}` }));
  const c: CohortJson = { name: basename(dir), plots: pick('.svg'), tables: pick('.csv'), results: pick('.json') };
  return c.plots.length + c.tables.length > 0 ? c : undefined;
}

function send(res: ServerResponse, status: number, type: string, body: string | Uint8Array, head: boolean, csp = CONTENT_SECURITY_POLICY): void {
  res.writeHead(status, {
    ...SECURITY_HEADERS,
    'content-security-policy': csp,
    'content-type': type,
    'content-length': typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength,
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
  const dir = options.caseDir === undefined ? undefined : resolve(options.caseDir);
  if (dir !== undefined && (!existsSync(dir) || !statSync(dir).isDirectory())) {
    throw new FileError(`case folder ${dir} does not exist; give the --out folder of \`dosimetry dose\` or a cohort folder`);
  }
  const comparing = options.compareCases !== undefined || (dir !== undefined && isCompareFolder(dir));
  const cohort = dir !== undefined && !comparing && !existsSync(join(dir, 'report.json')) ? readCohortFolder(dir) : undefined;
  const [loaded, page, compared] = await Promise.all([
    dir !== undefined && !cohort && !comparing ? loadCase({ caseDir: dir, inputRoots: options.inputRoots }) : Promise.resolve(undefined),
    bundleClient({ minify: options.minify }),
    comparing ? loadCompare({ compareDir: dir, cases: options.compareCases, inputRoots: options.inputRoots }) : Promise.resolve(undefined),
  ]);
  const mode: ModeJson = loaded ? { kind: 'case' } : compared ? { kind: 'compare' } : cohort ? { kind: 'cohort', cohort } : { kind: 'empty' };
  const compareText = compared ? JSON.stringify(compareJson(compared)) : undefined;
  const modeText = JSON.stringify(mode);
  const caseRoot = dir !== undefined ? realpathSync(dir) : undefined;
  const caseText = loaded ? JSON.stringify(caseJson(loaded)) : undefined;
  const inputs = loaded?.inputs ?? [];
  const itkDir = itkPipelinesDir();
  const itkDicomDir = itkPipelinesDir('@itk-wasm/dicom');
  let port = 0; // set once listening; no request arrives before

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const head = req.method === 'HEAD';
    if (!hostAllowed(req.headers.host, port)) {
      return send(res, 403, 'text/plain; charset=utf-8', `refused: this viewer answers only to http://127.0.0.1:${port}/ (Host header checked against DNS rebinding)\n`, head);
    }
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
    if (path === '/mha.js') return send(res, 200, 'text/javascript; charset=utf-8', page.mhaJs, head);
    if (path === '/dicom.js') return send(res, 200, 'text/javascript; charset=utf-8', page.dicomJs, head);
    if (path.startsWith('/itk/dicom/')) {
      // @itk-wasm/dicom's pipelines (GDCM for compressed DICOM), plain file names only, as for image-io below
      const name = path.slice('/itk/dicom/'.length);
      if (!itkDicomDir || !/^[a-z0-9-]+\.(js|wasm\.zst)$/.test(name) || !existsSync(join(itkDicomDir, name))) return send(res, 404, 'text/plain', 'no such pipeline', head);
      return send(res, 200, name.endsWith('.js') ? 'text/javascript; charset=utf-8' : 'application/octet-stream', readFileSync(join(itkDicomDir, name)), head);
    }
    if (path === '/favicon.ico') {
      res.writeHead(204, SECURITY_HEADERS);
      return void res.end();
    }
    if (path === '/api/mode') return send(res, 200, 'application/json', modeText, head);
    if (path === '/api/case') return caseText ? send(res, 200, 'application/json', caseText, head) : send(res, 404, 'text/plain', 'no case', head);
    if (path.startsWith('/api/compare')) {
      if (!compared || !compareText) return send(res, 404, 'text/plain', 'not in compare mode', head);
      if (path === '/api/compare') return send(res, 200, 'application/json', compareText, head);
      const bytes = compareBytes(compared, path);
      return bytes ? send(res, 200, 'application/octet-stream', bytes, head) : send(res, 404, 'text/plain', 'no such compare volume', head);
    }
    if (path.startsWith('/itk/image-io/')) {
      // Only plain pipeline file names: no folders, nothing else from the package.
      const name = path.slice('/itk/image-io/'.length);
      if (!itkDir || !/^[a-z0-9-]+\.(js|wasm\.zst)$/.test(name) || !existsSync(join(itkDir, name))) return send(res, 404, 'text/plain', 'no such pipeline', head);
      return send(res, 200, name.endsWith('.js') ? 'text/javascript; charset=utf-8' : 'application/octet-stream', readFileSync(join(itkDir, name)), head);
    }
    if (path.startsWith('/api/volume/')) {
      if (!loaded) return send(res, 404, 'text/plain', 'no case', head);
      const v = loaded.volumes.find((x) => x.name === path.slice('/api/volume/'.length));
      return v ? send(res, 200, 'application/octet-stream', bytesOf(v.data), head) : send(res, 404, 'text/plain', 'no such volume', head);
    }
    if (path.startsWith('/api/territory/')) {
      const tail = path.slice('/api/territory/'.length);
      const map = /^(0|[1-9][0-9]*)$/.test(tail) ? loaded?.territories[Number(tail)]?.map : undefined;
      return map ? send(res, 200, 'application/octet-stream', bytesOf(map.data), head) : send(res, 404, 'text/plain', 'no such territory dose map', head);
    }
    if (path === '/api/labels') {
      return loaded?.labels
        ? send(res, 200, 'application/octet-stream', bytesOf(loaded.labels.data), head)
        : send(res, 404, 'text/plain', 'no structure masks', head);
    }
    if (path.startsWith('/inputs/')) {
      const tail = path.slice('/inputs/'.length);
      const input = /^(0|[1-9][0-9]*)$/.test(tail) ? inputs[Number(tail)] : undefined;
      if (!caseRoot || !input?.realPath) return send(res, 404, 'text/plain', 'no such input file', head);
      if (input.refused) return send(res, 403, 'text/plain; charset=utf-8', `refused: ${input.refused}\n`, head);
      // Checked again on the bytes sent: the file may have changed (or become a link) since the case was loaded.
      const real = realPathOf(input.realPath);
      if (!real || !statSync(real).isFile()) return send(res, 404, 'text/plain', 'no such input file (a folder or gone)', head);
      const bytes = readFileSync(real);
      const refused = inputRefusal(caseRoot, real, input.sha256, () => sha256Hex(bytes));
      if (refused) return send(res, 403, 'text/plain; charset=utf-8', `refused: ${refused}\n`, head);
      return send(res, 200, 'application/octet-stream', bytes, head, FILE_CONTENT_SECURITY_POLICY);
    }
    if (path.startsWith('/files/')) {
      if (!caseRoot) return send(res, 404, 'text/plain', 'no folder is served', head);
      const want = resolve(caseRoot, '.' + path.slice('/files'.length));
      let real: string;
      try {
        real = realpathSync(want);
      } catch {
        return send(res, 404, 'text/plain', 'no such file', head);
      }
      if (!isInside(caseRoot, real)) return send(res, 403, 'text/plain', 'outside the case folder', head);
      if (!statSync(real).isFile()) return send(res, 404, 'text/plain', 'not a file', head);
      const type = real.endsWith('.json')
        ? 'application/json'
        : real.endsWith('.csv')
          ? 'text/csv; charset=utf-8'
          : real.endsWith('.svg')
            ? 'image/svg+xml'
            : 'application/octet-stream';
      return send(res, 200, type, readFileSync(real), head, FILE_CONTENT_SECURITY_POLICY);
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
  port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    url: `http://127.0.0.1:${port}/`,
    port,
    case: loaded,
    mode,
    ...(compared ? { compare: compared } : {}),
    close: () =>
      new Promise<void>((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}
