/**
 * Output sets with one sub-folder level (`plan --territories` writes territories/<slug>.dose_per_gbq.nii.gz): written
 * and listed in manifest.json, replaced whole by the next run, and names that would leave the set refused.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { claimOutputDir } from '../../src/io/output-set.ts';

describe('output sets with a sub-folder', () => {
  it('writes, lists and replaces files in a sub-folder; a foreign file in the folder is still refused', () => {
    const out = join(mkdtempSync(join(tmpdir(), 'outset-')), 'case');
    claimOutputDir(out, { command: 'test' }).commit([{ name: 'report.json', data: '{}' }, { name: 'territories/a.nii.gz', data: 'A' }, { name: 'territories/b.nii.gz', data: 'B' }]);
    expect(readdirSync(join(out, 'territories')).sort()).toEqual(['a.nii.gz', 'b.nii.gz']);
    const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8'));
    expect(manifest.files.map((f: { name: string }) => f.name)).toEqual(['report.json', 'territories/a.nii.gz', 'territories/b.nii.gz']);
    // the next run replaces the set: b goes with the old one
    claimOutputDir(out, { command: 'test' }).commit([{ name: 'report.json', data: '{}' }, { name: 'territories/a.nii.gz', data: 'A2' }]);
    expect(readdirSync(join(out, 'territories'))).toEqual(['a.nii.gz']);
    expect(readFileSync(join(out, 'territories', 'a.nii.gz'), 'utf8')).toBe('A2');
    writeFileSync(join(out, 'notes.txt'), 'mine');
    expect(() => claimOutputDir(out, { command: 'test' })).toThrow(/holds files this engine did not write \("notes\.txt"\)/);
  });

  it('writes a file given in pieces as their concatenation, with its size and SHA-256 in the manifest', () => {
    const out = join(mkdtempSync(join(tmpdir(), 'outset-')), 'case');
    const pieces = [Uint8Array.from([1, 2, 3]), new Uint8Array(0), Uint8Array.from({ length: 70_000 }, (_, i) => i % 251)];
    claimOutputDir(out, { command: 'test' }).commit([{ name: 'dose.nii.gz', data: pieces }]);
    const bytes = readFileSync(join(out, 'dose.nii.gz'));
    expect(Buffer.compare(bytes, Buffer.concat(pieces))).toBe(0);
    const entry = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')).files[0];
    expect(entry.bytes).toBe(70_003);
    expect(entry.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
  });

  it.each([['../escape.txt'], ['a/b/c.txt'], ['/abs.txt'], ['a//b.txt'], ['./x.txt'], ['sub\\x.txt']])('refuses the name %s and writes nothing', (name) => {
    const out = join(mkdtempSync(join(tmpdir(), 'outset-')), 'case');
    expect(() => claimOutputDir(out, { command: 'test' }).commit([{ name, data: 'x' }])).toThrow(/bad output file name/);
    expect(existsSync(out)).toBe(false);
  });
});
