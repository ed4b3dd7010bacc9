/**
 * A Node built-in module (node:zlib, node:worker_threads, ...) when running in Node, reached through
 * process.getBuiltinModule (Node >= 20.16) so that no static import of a node: module reaches a browser bundle;
 * undefined in a browser. Callers keep a browser path for that case.
 */
export function nodeBuiltin<T>(id: string): T | undefined {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  if (typeof proc?.getBuiltinModule !== 'function') return undefined;
  try {
    return proc.getBuiltinModule(id) as T | undefined;
  } catch {
    return undefined;
  }
}
