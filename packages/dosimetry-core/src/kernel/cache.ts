/**
 * On-disk cache of voxel kernels, keyed by content: a SHA-256 of (isotope, voxel size, density, radius, generator
 * version). One JSON file per kernel, written atomically (temp file + rename), so concurrent runs never see a
 * partial file. Node only: the modules are imported lazily, and browsers pass `cacheDir: null`.
 */

/** What identifies a kernel; every field enters the key. */
export interface KernelCacheKey {
  readonly isotope: string;
  readonly voxelMm: readonly [number, number, number];
  readonly densityGPerMl: number;
  readonly radius: readonly [number, number, number];
  readonly generatorVersion: string;
}

/** A cached kernel: values in Gy/(Bq s), x-fastest. */
export interface CachedKernel {
  readonly values: Float32Array;
  readonly meanEnergyAbsorbedMeV: number;
}

/** Default cache folder: $DOSIMETRY_CACHE_DIR, else <repo>/.cache/kernels. */
export function defaultCacheDir(): string {
  const env = typeof process !== 'undefined' ? process.env.DOSIMETRY_CACHE_DIR : undefined;
  if (env) return env;
  return decodeURIComponent(new URL('../../../../.cache/kernels/', import.meta.url).pathname);
}

/** File name (hex SHA-256 of the canonical key). */
export async function cacheFileName(key: KernelCacheKey): Promise<string> {
  const { createHash } = await import('node:crypto');
  const canonical = JSON.stringify({
    isotope: key.isotope,
    voxelMm: key.voxelMm.map((v) => Number(v.toPrecision(12))),
    densityGPerMl: Number(key.densityGPerMl.toPrecision(12)),
    radius: key.radius,
    generatorVersion: key.generatorVersion,
  });
  return `${createHash('sha256').update(canonical).digest('hex')}.json`;
}

/** Reads a cached kernel, or undefined when absent or unreadable (a damaged entry is simply recomputed). */
export async function readCachedKernel(dir: string, key: KernelCacheKey): Promise<CachedKernel | undefined> {
  const { readFileSync, existsSync } = await import('node:fs');
  const { join } = await import('node:path');
  const path = join(dir, await cacheFileName(key));
  if (!existsSync(path)) return undefined;
  try {
    const o = JSON.parse(readFileSync(path, 'utf8')) as { key: KernelCacheKey; valuesBase64: string; meanEnergyAbsorbedMeV: number };
    if (JSON.stringify(o.key.radius) !== JSON.stringify(key.radius) || o.key.generatorVersion !== key.generatorVersion) return undefined;
    const bytes = Buffer.from(o.valuesBase64, 'base64');
    const n = (2 * key.radius[0] + 1) * (2 * key.radius[1] + 1) * (2 * key.radius[2] + 1);
    if (bytes.byteLength !== n * 4) return undefined;
    const values = new Float32Array(n);
    new Uint8Array(values.buffer).set(bytes);
    return { values, meanEnergyAbsorbedMeV: o.meanEnergyAbsorbedMeV };
  } catch {
    return undefined;
  }
}

/** Writes a kernel atomically into the cache folder (created when missing). */
export async function writeCachedKernel(dir: string, key: KernelCacheKey, kernel: CachedKernel): Promise<void> {
  const { join } = await import('node:path');
  const { writeFileAtomic } = await import('../io/atomic.ts');
  const bytes = Buffer.from(kernel.values.buffer, kernel.values.byteOffset, kernel.values.byteLength);
  const body = JSON.stringify({ key, meanEnergyAbsorbedMeV: kernel.meanEnergyAbsorbedMeV, valuesBase64: bytes.toString('base64') });
  writeFileAtomic(join(dir, await cacheFileName(key)), body);
}
