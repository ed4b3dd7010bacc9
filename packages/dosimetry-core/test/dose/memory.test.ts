/**
 * Out of memory is said before the work, with the grid and the memory it needs; an allocation that fails on the way
 * becomes the same kind of line, and the CLI never prints a bare "unexpected error: Array buffer allocation failed".
 */
import { totalmem } from 'node:os';
import { describe, expect, it } from 'vitest';
import { MemoryError } from '../../src/errors.ts';
import { asMemoryError, assertMemoryFor, estimateDoseMemoryBytes } from '../../src/dose/memory.ts';
import { errorLine } from '../../src/cli/main.ts';
import type { Geometry } from '../../src/volume/geometry.ts';

const grid = (n: number): Geometry => ({ dims: [n, n, n], spacingMm: [2, 2, 2], originLpsMm: [0, 0, 0], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] }) as Geometry;

describe('memory', () => {
  it('a grid far beyond the machine is refused before any work, naming the grid and both figures', async () => {
    const g = grid(4096); // 6.9e10 voxels
    expect(estimateDoseMemoryBytes(g, 'dvk')).toBeGreaterThan(totalmem());
    const err = await assertMemoryFor(g, 'dvk').then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(MemoryError);
    expect((err as Error).message).toMatch(/DVK on the 4096x4096x4096 \(2 x 2 x 2 mm\) activity grid: it needs about \d+\.\d GiB and this machine has \d+\.\d GiB/);
  });

  it('an ordinary grid passes', async () => {
    await expect(assertMemoryFor(grid(128), 'dvk')).resolves.toBeUndefined();
    expect(estimateDoseMemoryBytes(grid(100), 'ldm')).toBe(32 * 1e6);
  });

  it('a failed allocation becomes a MemoryError naming the grid; the CLI line says out of memory', () => {
    let raw: unknown;
    try {
      new ArrayBuffer(2 ** 52);
    } catch (e) {
      raw = e;
    }
    expect(raw).toBeInstanceOf(RangeError);
    const e = asMemoryError(raw, grid(512), 'ldm');
    expect(e).toBeInstanceOf(MemoryError);
    expect((e as Error).message).toMatch(/ran out of memory computing LDM on the 512x512x512/);
    expect(errorLine(raw)).toMatch(/^out of memory .* GiB in use of this machine's \d+\.\d GiB/);
    expect(errorLine(raw)).not.toMatch(/unexpected error/);
    const other = new Error('x');
    expect(asMemoryError(other, grid(4), 'ldm')).toBe(other);
  });

  it('system errors on paths are said in words', () => {
    const e = Object.assign(new Error("ELOOP: too many symbolic links encountered, open '/tmp/a'"), { code: 'ELOOP', path: '/tmp/a' });
    expect(errorLine(e)).toBe('/tmp/a: the path has a loop of symbolic links (ELOOP); check the path and its permissions');
  });
});
