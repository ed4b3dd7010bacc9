/**
 * The kernel cache must never hand back altered values: every file carries a SHA-256 of its key and values, checked on
 * read; a file that fails (or has no checksum, or belongs to another key) is not used: the kernel is recomputed, the
 * file rewritten atomically, and the result's `warnings` says so.
 */
import { copyFileSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { voxelKernel } from '../../src/kernel/index.ts';

const cacheDir = mkdtempSync(join(tmpdir(), 'kernel-cache-integrity-'));
afterAll(() => rmSync(cacheDir, { recursive: true, force: true }));

// radius 1 keeps each computation fast; the cache logic does not depend on the size
const OPTS = { isotope: 'Y90' as const, voxelMm: [4, 4, 4] as [number, number, number], radius: [1, 1, 1] as [number, number, number], cacheDir };

interface CacheFile {
  format?: number;
  key: unknown;
  meanEnergyAbsorbedMeV: number;
  valuesBase64: string;
  sha256?: string;
}
const jsonFiles = () => readdirSync(cacheDir).filter((f) => f.endsWith('.json'));
const load = (f: string) => JSON.parse(readFileSync(join(cacheDir, f), 'utf8')) as CacheFile;
const save = (f: string, o: CacheFile) => writeFileSync(join(cacheDir, f), JSON.stringify(o));
/** The cache file of the kernel of density `rho` [g/mL] (OPTS has the default, 1.04). */
const fileFor = (rho = 1.04) => jsonFiles().find((f) => (load(f).key as { densityGPerMl: number }).densityGPerMl === rho)!;

describe('kernel cache integrity (SHA-256 of key and values)', () => {
  it('a cache file whose values were altered is not used: the original values come back and the file is repaired', async () => {
    const first = await voxelKernel(OPTS);
    expect(first.fromCache).toBe(false);
    expect(first.warnings).toEqual([]);
    const [file] = jsonFiles();
    const original = load(file);
    expect(original.sha256).toMatch(/^[0-9a-f]{64}$/);

    // double the centre value (the biggest S value: doses near every source would grow), checksum left as it was
    const bytes = Buffer.from(original.valuesBase64, 'base64');
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    dv.setFloat32(4 * 13, 2 * dv.getFloat32(4 * 13, true), true);
    save(file, { ...original, valuesBase64: bytes.toString('base64') });

    const second = await voxelKernel(OPTS);
    expect(second.fromCache).toBe(false);
    expect(Array.from(second.values)).toEqual(Array.from(first.values));
    expect(second.meanEnergyAbsorbedMeV).toBe(first.meanEnergyAbsorbedMeV);
    expect(second.warnings).toHaveLength(1);
    expect(second.warnings[0]).toMatch(new RegExp(`kernel cache file .*${file} fails its SHA-256 checksum .*not used: the kernel was recomputed and the file rewritten`));
    // repaired on disk, atomically (no temp file left), and used from then on
    expect(load(file)).toEqual(original);
    expect(readdirSync(cacheDir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    const third = await voxelKernel(OPTS);
    expect(third.fromCache).toBe(true);
    expect(third.warnings).toEqual([]);
    expect(Array.from(third.values)).toEqual(Array.from(first.values));
  });

  it('an altered mean energy is caught as well', async () => {
    const file = fileFor();
    const original = load(file);
    save(file, { ...original, meanEnergyAbsorbedMeV: original.meanEnergyAbsorbedMeV * 2 });
    const k = await voxelKernel(OPTS);
    expect(k.fromCache).toBe(false);
    expect(k.meanEnergyAbsorbedMeV).toBe(original.meanEnergyAbsorbedMeV);
    expect(k.warnings[0]).toMatch(/fails its SHA-256 checksum/);
  });

  it('an old cache file without a checksum is treated as invalid and recomputed', async () => {
    const file = fileFor();
    const { sha256: _drop, format: _f, ...old } = load(file);
    save(file, old as CacheFile);
    const k = await voxelKernel(OPTS);
    expect(k.fromCache).toBe(false);
    expect(k.warnings[0]).toMatch(/has no checksum \(written by an older version\)/);
    expect(load(file).sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('a valid file copied under another kernel\'s name fails the check (the key is in the checksum)', async () => {
    const other = { ...OPTS, densityGPerMl: 1.2 };
    const a = await voxelKernel(other);
    expect(jsonFiles()).toHaveLength(2);
    copyFileSync(join(cacheDir, fileFor(1.04)), join(cacheDir, fileFor(1.2))); // the 1.04 g/mL kernel under the 1.2 g/mL name
    const k = await voxelKernel(other);
    expect(k.fromCache).toBe(false);
    expect(Array.from(k.values)).toEqual(Array.from(a.values));
    expect(k.warnings[0]).toMatch(/fails its SHA-256 checksum/);
  });

  it('a truncated or non-JSON cache file is reported and rewritten', async () => {
    const file = fileFor();
    writeFileSync(join(cacheDir, file), '{"format":2,"key":');
    const k = await voxelKernel(OPTS);
    expect(k.fromCache).toBe(false);
    expect(k.warnings[0]).toMatch(/cannot be read or parsed/);
    expect((await voxelKernel(OPTS)).fromCache).toBe(true);
  });
});
