/**
 * The viewer's drop (packages/viewer/src/client/drop.ts) takes a dropped label table file as `--labels @FILE` does:
 * decoded by content, applied to a dropped label map whose table field is empty (one table dropped) or names it as
 * "@NAME", with the same notes: labels the table leaves unnamed reported with their voxel counts (counted here from the
 * map), labels it names that the map lacks noted. Runs the drop's decoding in Node on the bundled phantom's files.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { type DroppedFile, decodeDropped, droppedMasks, labelTableFor } from '../../packages/viewer/src/client/drop.ts';
import { phantomCase } from '../cli/cli-harness.ts';

const TABLE = '# Slicer color table\n0 background 0 0 0 0\n1 Tumor A 255 0 0 255\n2 Tumor B 0 255 0 255\n3 Tumor C 0 0 255 255\n9 Spleen 1 1 1 255\n';

let files: DroppedFile[];
beforeAll(async () => {
  const dir = await phantomCase();
  const map = await decodeDropped('tumors_labels.nrrd', new Uint8Array(readFileSync(join(dir, 'tumors_labels.nrrd'))));
  const table = await decodeDropped('tumours.ctbl', new TextEncoder().encode(TABLE));
  files = [map, table];
});

describe('a dropped label table in the viewer', () => {
  it('is decoded as a table (by content), and the label map is guessed as a label map', () => {
    expect(files[0].role).toBe('label-map');
    expect(files[1].role).toBe('label-table');
    expect(files[1].table!.format).toBe('slicer');
    expect(files[1].table!.entries.map((e) => e.name)).toEqual(['Tumor A', 'Tumor B', 'Tumor C', 'Spleen']);
  });

  it('applies to a label map with an empty field, and as @NAME; label 4 reported with its voxel count, label 9 noted', () => {
    let n4 = 0;
    for (const v of files[0].volume!.data) if (v === 4) n4++;
    for (const field of ['', '@tumours.ctbl']) {
      const warnings: string[] = [];
      const segs = droppedMasks(files, { 'tumors_labels.nrrd': field }, warnings);
      expect(segs[0].masks.map((m) => m.name)).toEqual(['Tumor A', 'Tumor B', 'Tumor C', 'label 4']);
      expect(segs[0].masks[0].colorRgb).toEqual([1, 0, 0]);
      expect(warnings[0]).toMatch(new RegExp(`label 4 \\(${n4} voxels`));
      expect(warnings[1]).toMatch(/names a label the label map lacks \(9 "Spleen"\); noted, not an error/);
    }
    // an inline table still wins over the dropped one
    expect(droppedMasks(files, { 'tumors_labels.nrrd': '1=A,2=B,3=C,4=D' })[0].masks.map((m) => m.name)).toEqual(['A', 'B', 'C', 'D']);
  });

  it('an unknown @NAME is refused; no table and no field: every label "label N"', () => {
    expect(() => labelTableFor(files, '@other.txt')).toThrow(/no dropped label table named other\.txt/);
    const noTable = files.filter((f) => f.role !== 'label-table');
    expect(droppedMasks(noTable, {})[0].masks.map((m) => m.name)).toEqual(['label 1', 'label 2', 'label 3', 'label 4']);
  });

  it('a malformed dropped table is refused with its name and line', async () => {
    await expect(decodeDropped('bad.json', new TextEncoder().encode('{\n "1": "Liver",\n "1": "Tumor"\n}'))).rejects.toThrow(/label table bad\.json line 3: label value 1 is given again/);
  });
});
