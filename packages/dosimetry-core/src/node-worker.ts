/**
 * A Node worker thread that answers with messages, for the worker pools of the CPU convolution
 * (convolution/fft-workers.ts) and the CPU Monte Carlo (mc/transport-cpu.ts). Reached without a static `node:` import
 * (the caller hands in node:worker_threads from nodeBuiltin), so browser bundles stay clean.
 */
import type { Worker as NodeWorker } from 'node:worker_threads';
import { nodeBuiltin } from './node-builtin.ts';

type WorkerThreads = typeof import('node:worker_threads');

/** A started worker and its replies in order. */
export interface MessageWorker<Reply> {
  readonly worker: NodeWorker;
  /** Resolves with the next reply (an error or exit becomes `{ error }`). */
  next(): Promise<Reply>;
}

/**
 * The worker entry beside the calling module: `tsEntry` under tsx/vitest (sources), `mjsEntry` beside the CLI bundle's
 * chunks (`callerUrl` is the caller's import.meta.url).
 */
export function workerEntryUrl(callerUrl: string, tsEntry: string, mjsEntry: string): URL {
  return callerUrl.endsWith('.ts') ? new URL(tsEntry, callerUrl) : new URL(mjsEntry, callerUrl);
}

/**
 * Starts a worker on `url` (unref'd: it never keeps the process alive). A .ts entry (sources under tsx or vitest) is
 * loaded through tsx's API, a devDependency of the workspace: loader flags in execArgv do not reach worker threads on
 * Node 20. Messages, errors and the exit are queued as replies.
 */
export function startMessageWorker<Reply extends { error?: string }>(wt: WorkerThreads, url: URL): MessageWorker<Reply> {
  let worker: NodeWorker;
  if (url.pathname.endsWith('.ts')) {
    const mod = nodeBuiltin<typeof import('node:module')>('node:module')!;
    const fs = nodeBuiltin<typeof import('node:fs')>('node:fs')!;
    const pkgPath = mod.createRequire(import.meta.url).resolve('tsx/package.json');
    const pkg = JSON.parse(fs.readFileSync(pkgPath, 'utf8')) as { exports: Record<string, { import: { default: string } }> };
    const api = new URL(pkg.exports['./esm/api'].import.default, `file://${pkgPath}`).href;
    const boot = `import(${JSON.stringify(api)}).then((t) => t.tsImport(${JSON.stringify(url.href)}, ${JSON.stringify(import.meta.url)})).catch((e) => require('node:worker_threads').parentPort.postMessage({ error: String(e && e.message || e) }));`;
    worker = new wt.Worker(boot, { eval: true });
  } else worker = new wt.Worker(url);
  worker.unref();
  const waiting: Array<(m: Reply) => void> = [];
  const queued: Reply[] = [];
  const deliver = (m: Reply) => {
    const w = waiting.shift();
    if (w) w(m);
    else queued.push(m);
  };
  worker.on('message', deliver);
  worker.on('error', (err) => deliver({ error: err.message } as Reply));
  worker.on('exit', (code) => deliver({ error: `worker exited (${code})` } as Reply));
  return { worker, next: () => new Promise((resolve) => (queued.length ? resolve(queued.shift()!) : waiting.push(resolve))) };
}
