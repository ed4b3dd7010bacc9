/**
 * On-disk cache of voxel kernels, keyed by content: a SHA-256 of (isotope, voxel size, density, radius, generator
 * version). One JSON file per kernel, written atomically (temp file + rename), so concurrent runs never see a
 * partial file. Node only: the modules are imported lazily, and browsers pass `cacheDir: null`.
 *
 * Each file carries a SHA-256 of its key, values and mean absorbed energy (`sha256`), checked on every read: a file
 * whose values were altered (a flipped bit, an edit, a file copied under another key's name) would otherwise give
 * wrong doses with no sign of it. A file that fails the check, or has no checksum (written before format 2), is
 * reported as invalid with the reason, and the caller recomputes the kernel and rewrites the file.
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

/** Version of the cache file layout; files of another version are invalid (recomputed). */
export const KERNEL_CACHE_FORMAT = 2;

/** Outcome of reading a cache entry. */
export type KernelCacheRead =
  | { readonly status: 'hit'; readonly path: string; readonly kernel: CachedKernel }
  | { readonly status: 'absent'; readonly path: string }
  /** The file exists but must not be used; `reason` completes "kernel cache file <path> ..." in words. */
  | { readonly status: 'invalid'; readonly path: string; readonly reason: string };

/** Default cache folder: $DOSIMETRY_CACHE_DIR, else <repo>/.cache/kernels. */
export function defaultCacheDir(): string {
  const env = typeof process !== 'undefined' ? process.env.DOSIMETRY_CACHE_DIR : undefined;
  if (env) return env;
  return decodeURIComponent(new URL('../../../../.cache/kernels/', import.meta.url).pathname);
}

/** The canonical text of a key (numbers rounded to 12 significant digits), hashed for the file name and checksum. */
function canonicalKey(key: KernelCacheKey): string {
  return JSON.stringify({
    isotope: key.isotope,
    voxelMm: key.voxelMm.map((v) => Number(v.toPrecision(12))),
    densityGPerMl: Number(key.densityGPerMl.toPrecision(12)),
    radius: key.radius,
    generatorVersion: key.generatorVersion,
  });
}

/** File name (hex SHA-256 of the canonical key). */
export async function cacheFileName(key: KernelCacheKey): Promise<string> {
  const { createHash } = await import('node:crypto');
  return `${createHash('sha256').update(canonicalKey(key)).digest('hex')}.json`;
}

/**
 * Hex SHA-256 over the cache format, the canonical key, the mean absorbed energy (as JSON writes it: exact for a
 * double) and the values' bytes (float32, little endian as stored). The key is the one asked for, so a file renamed
 * to another key's name fails the check too.
 */
async function kernelChecksum(key: KernelCacheKey, values: Uint8Array, meanEnergyAbsorbedMeV: number): Promise<string> {
  const { createHash } = await import('node:crypto');
  return createHash('sha256')
    .update(`sirt-kernel-cache/${KERNEL_CACHE_FORMAT}\n${canonicalKey(key)}\n${JSON.stringify(meanEnergyAbsorbedMeV)}\n`)
    .update(values)
    .digest('hex');
}

/** Little-endian bytes of float32 values (the stored layout, whatever the host's byte order). */
function float32LeBytes(values: Float32Array): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  const dv = new DataView(out.buffer);
  for (let n = 0; n < values.length; n++) dv.setFloat32(4 * n, values[n], true);
  return out;
}

/**
 * Reads a cached kernel. 'absent' when there is no file; 'invalid' (with the reason) when the file cannot be read or
 * parsed, has no checksum (an older format), belongs to another key, or its checksum does not match its content: such
 * a file must not be used. Never throws for a bad file.
 */
export async function readCachedKernel(dir: string, key: KernelCacheKey): Promise<KernelCacheRead> {
  const { readFileSync, existsSync } = await import('node:fs');
  const { join } = await import('node:path');
  const path = join(dir, await cacheFileName(key));
  if (!existsSync(path)) return { status: 'absent', path };
  const invalid = (reason: string): KernelCacheRead => ({ status: 'invalid', path, reason });
  let o: { format?: unknown; key?: KernelCacheKey; valuesBase64?: unknown; meanEnergyAbsorbedMeV?: unknown; sha256?: unknown };
  try {
    o = JSON.parse(readFileSync(path, 'utf8')) as typeof o;
  } catch (err) {
    return invalid(`cannot be read or parsed (${(err as Error).message.split('\n')[0]})`);
  }
  if (typeof o !== 'object' || o === null) return invalid('is not a kernel cache entry');
  if (typeof o.sha256 !== 'string') return invalid('has no checksum (written by an older version)');
  if (o.format !== KERNEL_CACHE_FORMAT) return invalid(`has cache format ${String(o.format)}, not ${KERNEL_CACHE_FORMAT}`);
  if (typeof o.valuesBase64 !== 'string' || typeof o.meanEnergyAbsorbedMeV !== 'number') return invalid('lacks its values');
  const bytes = new Uint8Array(Buffer.from(o.valuesBase64, 'base64'));
  const n = (2 * key.radius[0] + 1) * (2 * key.radius[1] + 1) * (2 * key.radius[2] + 1);
  if (bytes.byteLength !== n * 4) return invalid(`holds ${bytes.byteLength / 4} values where the kernel has ${n}`);
  const want = await kernelChecksum(key, bytes, o.meanEnergyAbsorbedMeV);
  if (want !== o.sha256) return invalid('fails its SHA-256 checksum (its values were altered or it belongs to another kernel)');
  const values = new Float32Array(n);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < n; i++) values[i] = dv.getFloat32(4 * i, true);
  return { status: 'hit', path, kernel: { values, meanEnergyAbsorbedMeV: o.meanEnergyAbsorbedMeV } };
}

/**
 * Writes a kernel atomically into the cache folder (created when missing), replacing any file there, with its
 * checksum. Throws FileError when the folder cannot be written.
 */
export async function writeCachedKernel(dir: string, key: KernelCacheKey, kernel: CachedKernel): Promise<string> {
  const { join } = await import('node:path');
  const { writeFileAtomic } = await import('../io/atomic.ts');
  const bytes = float32LeBytes(kernel.values);
  const sha256 = await kernelChecksum(key, bytes, kernel.meanEnergyAbsorbedMeV);
  const body = JSON.stringify({
    format: KERNEL_CACHE_FORMAT,
    key,
    meanEnergyAbsorbedMeV: kernel.meanEnergyAbsorbedMeV,
    valuesBase64: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64'),
    sha256,
  });
  const path = join(dir, await cacheFileName(key));
  writeFileAtomic(path, body);
  return path;
}
