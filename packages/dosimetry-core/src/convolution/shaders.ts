/**
 * Loads this module's WGSL sources (shaders/convolve*.wgsl, shaders/fft*.wgsl at the repository root) as text:
 * from disk in Node, by fetch (bundler-resolved URL) in the browser.
 */
const cache = new Map<string, Promise<string>>();

/** Text of shaders/<name> (e.g. 'fft_stockham.wgsl'), cached. */
export function loadShader(name: string): Promise<string> {
  let p = cache.get(name);
  if (!p) {
    const url = new URL(`../../../../shaders/${name}`, import.meta.url);
    p =
      typeof process !== 'undefined' && typeof process.versions?.node === 'string'
        ? import('node:fs/promises').then((fs) => fs.readFile(url, 'utf8'))
        : fetch(url).then((r) => r.text());
    cache.set(name, p);
  }
  return p;
}
