/**
 * Shared label tables (`--labels @FILE`): the three formats read from text written here (an ITK-SNAP label
 * description as ITK-SNAP exports it, a 3D Slicer color table excerpt in GenericAnatomyColors' layout, JSON in both
 * forms), detected by content; the refusals name file and line; and a table applied to a label map: a label the table
 * names that the map lacks is noted, a label of the map the table leaves out is reported as "label N" with its voxel
 * count (counted here from the map), and the table's colours reach the structures.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileError, FormatError, InputError, UsageError } from '../../src/errors.ts';
import { parseLabelTableText } from '../../src/io/label-table.ts';
import { readLabelTableFile, resolveLabelsOption } from '../../src/io/label-table-file.ts';
import { type LabelCoverage, labelMapToStructures } from '../../src/io/labels.ts';
import type { Geometry } from '../../src/volume/geometry.ts';
import { makeVolume } from '../../src/volume/volume.ts';
import { tempDir } from './helpers.ts';

const dir = tempDir('label-table');

/** ITK-SNAP 3.x/4.x "Export Label Descriptions" output: its header comment, then IDX R G B A VIS MSH "LABEL". */
const ITK_SNAP = `################################################
# ITK-SnAP Label Description File
# File format: 
# IDX   -R-  -G-  -B-  -A--  VIS MSH  LABEL
# Fields: 
#    IDX:   Zero-based index 
#    -R-:   Red color component (0..255)
#    -G-:   Green color component (0..255)
#    -B-:   Blue color component (0..255)
#    -A-:   Label transparency (0.00 .. 1.00)
#    VIS:   Label visibility (0 or 1)
#    IDX:   Label mesh visibility (0 or 1)
#  LABEL:   Label description 
################################################
    0     0    0    0        0  0  0    "Clear Label"
    1   221  130  101        1  1  1    "Liver"
    2   255    0    0        1  1  1    "Tumor A"
    3     0  255    0      0.5  1  0    "  Tumor \\"B\\"  "
    7     0    0  255        1  0  0    "Lungs"
`;

/** 3D Slicer color table, laid out as GenericAnatomyColors.txt (names with underscores, RGBA 0..255). */
const SLICER = `# Color table file /opt/Slicer/share/Slicer-5.6/ColorFiles/GenericAnatomyColors.txt
# 6 values
0 background 0 0 0 0
1 tissue 128 174 128 255
2 bone 241 214 145 255
3 skin 177 122 101 255
4 connective_tissue 111 184 210 255
17 Tumor A 230 220 70 255
`;

describe('label table formats, detected by content', () => {
  it('ITK-SNAP: header comment skipped, Clear Label (0) dropped, quoted names trimmed and unescaped, colours /255', () => {
    const t = parseLabelTableText(ITK_SNAP, 'snap.txt');
    expect(t.format).toBe('itk-snap');
    expect(t.entries.map((e) => [e.value, e.name, e.line])).toEqual([
      [1, 'Liver', 16],
      [2, 'Tumor A', 17],
      [3, 'Tumor "B"', 18],
      [7, 'Lungs', 19],
    ]);
    expect(t.entries[0].colorRgb).toEqual([221 / 255, 130 / 255, 101 / 255]);
    expect(t.entries[3].colorRgb).toEqual([0, 0, 1]);
  });

  it('3D Slicer color table: background (0) dropped, underscores kept, a name with spaces read whole', () => {
    const t = parseLabelTableText(SLICER.replace(/\n/g, '\r\n'), 'GenericAnatomyColors.txt');
    expect(t.format).toBe('slicer');
    expect(t.entries.map((e) => [e.value, e.name])).toEqual([
      [1, 'tissue'],
      [2, 'bone'],
      [3, 'skin'],
      [4, 'connective_tissue'],
      [17, 'Tumor A'],
    ]);
    expect(t.entries[1].colorRgb).toEqual([241 / 255, 214 / 255, 145 / 255]);
    expect(t.entries[4].line).toBe(8);
  });

  it('JSON, list form with optional colours, and short form', () => {
    const list = parseLabelTableText(
      '{\n  "labels": [\n    { "value": 0, "name": "background" },\n    { "value": 1, "name": " Liver ", "color": [10, 20, 30] },\n    { "value": 4, "name": "Tumor D" }\n  ]\n}\n',
      'labels.json',
    );
    expect(list.format).toBe('json');
    expect(list.entries.map((e) => [e.value, e.name, e.line])).toEqual([
      [1, 'Liver', 4],
      [4, 'Tumor D', 5],
    ]);
    expect(list.entries[0].colorRgb).toEqual([10 / 255, 20 / 255, 30 / 255]);
    expect(list.entries[1].colorRgb).toBeUndefined();
    const short = parseLabelTableText('\uFEFF{ "2": "Tumor A", "1": "Liver", "0": "Clear Label" }', 'short.json');
    // JavaScript orders integer keys ascending; the short form has no other order to keep
    expect(short.entries.map((e) => [e.value, e.name])).toEqual([
      [1, 'Liver'],
      [2, 'Tumor A'],
    ]);
  });
});

describe('malformed tables are refused with file and line', () => {
  const CASES: Array<[string, string, RegExp]> = [
    ['ITK-SNAP duplicate value', ITK_SNAP + '    2   1 2 3    1  1  1    "Tumor C"\n', /snap line 20: label value 2 is given again \(first on line 17\)/],
    ['ITK-SNAP duplicate name (after trimming)', ITK_SNAP + '    9   1 2 3    1  1  1    " Liver"\n', /snap line 20: the name "Liver" is used again \(first on line 16\)/],
    ['ITK-SNAP colour out of range', '1 256 0 0 1 1 1 "Liver"\n', /snap line 1: colour component 256 must be a number 0\.\.255/],
    ['ITK-SNAP transparency out of range', '1 255 0 0 2 1 1 "Liver"\n', /snap line 1: transparency 2 must be a number 0\.\.1/],
    ['ITK-SNAP visibility not 0/1', '1 255 0 0 1 2 1 "Liver"\n', /snap line 1: VIS is 2; it must be 0 or 1/],
    ['a Slicer line in an ITK-SNAP file', ITK_SNAP + '8 Spleen 1 2 3 255\n', /snap line 20: "8 Spleen 1 2 3 255" is not an ITK-SNAP label line/],
    ['Slicer duplicate name', SLICER + '5 bone 1 1 1 255\n', /snap line 9: the name "bone" is used again \(first on line 5\)/],
    ['Slicer negative value', '# t\n-1 liver 1 2 3 255\n', /snap line 2: label value -1 must be a non-negative integer/],
    ['Slicer non-integer value', '1.5 liver 1 2 3 255\n', /snap line 1: "1\.5 liver 1 2 3 255" is not a label line/],
    ['neither format', '# comment\n1=Liver,2=Tumor A\n', /snap line 2: "1=Liver,2=Tumor A" is not a label line/],
    ['only comments', '# nothing\n\n', /snap holds no label line/],
    ['only the background', '0 0 0 0 0 0 0 "Clear Label"\n', /snap names only the background/],
    ['empty name', '1 1 2 3 1 1 1 "  "\n', /snap line 1: label 1 has an empty name/],
    ['JSON syntax error', '{\n  "1": "Liver",\n  "2": \n}\n', /snap( line 4)?: not valid JSON/],
    ['JSON short form, duplicate key', '{\n  "1": "Liver",\n  "1": "Tumor A"\n}\n', /snap line 3: label value 1 is given again \(first on line 2\)/],
    ['JSON short form, key not a value', '{ "liver": "Liver" }', /snap line 1: key "liver" is not a label value/],
    ['JSON list, duplicate value', '{ "labels": [\n { "value": 1, "name": "Liver" },\n { "value": 1, "name": "Tumor A" }\n] }', /snap line 3: label value 1 is given again \(first on line 2\)/],
    ['JSON list, duplicate name', '{ "labels": [\n { "value": 1, "name": "Liver" },\n { "value": 2, "name": "Liver" }\n] }', /snap line 3: the name "Liver" is used again \(first on line 2\)/],
    ['JSON list, bad colour', '{ "labels": [\n { "value": 1, "name": "Liver", "color": [1, 2] }\n] }', /snap line 2 \(entry 1 of "labels"\): "color" must be \[r, g, b\]/],
    ['JSON list, value not an integer', '{ "labels": [ { "value": 1.5, "name": "Liver" } ] }', /"value" must be a non-negative integer label value, not 1\.5/],
    ['JSON array at the top', '[1, 2]', /snap: a JSON label table is an object/],
    ['binary file', 'NRRD0004\n\u0000\u0001', /snap is a binary file, not a label table/],
  ];
  for (const [name, text, re] of CASES) {
    it(name, () => {
      let err: unknown;
      try {
        parseLabelTableText(text, 'snap');
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(FormatError);
      expect((err as Error).message).toMatch(re);
      expect((err as Error).message).not.toMatch(/\n/); // one line
    });
  }

  it('@FILE: read from disk; missing file, non-UTF-8 and a bare @ are refused', () => {
    const p = join(dir, 'table.txt');
    writeFileSync(p, ITK_SNAP);
    const t = resolveLabelsOption(`@${p}`);
    expect(typeof t).toBe('object');
    expect(typeof t === 'object' && t.source).toBe(p);
    expect(resolveLabelsOption('1=Liver')).toBe('1=Liver'); // inline: kept as text
    expect(() => readLabelTableFile(join(dir, 'absent.txt'))).toThrow(FileError);
    const latin1 = join(dir, 'latin1.txt');
    writeFileSync(latin1, Buffer.from('1 Leber 1 2 3 255\n2 L\xe4sion 1 2 3 255\n', 'latin1'));
    expect(() => readLabelTableFile(latin1)).toThrow(/latin1\.txt is not UTF-8 text/);
    expect(() => resolveLabelsOption('@')).toThrow(UsageError);
  });
});

describe('a table applied to a label map', () => {
  // 5x4x3 label map: label 1 fills z = 0, label 2 a 2x2 block at z = 1, label 4 a column of 3, label 9 one voxel.
  const G: Geometry = { dims: [5, 4, 3], spacingMm: [2, 2, 2.5], originLpsMm: [0, 0, 0], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] };
  const data = new Float32Array(60);
  const at = (i: number, j: number, k: number) => i + 5 * (j + 4 * k);
  for (let j = 0; j < 4; j++) for (let i = 0; i < 5; i++) data[at(i, j, 0)] = 1;
  for (const [i, j] of [[1, 1], [2, 1], [1, 2], [2, 2]]) data[at(i, j, 1)] = 2;
  for (let k = 0; k < 3; k++) data[at(4, 3, k)] = 4; // overwrites one voxel of label 1 at z = 0
  data[at(0, 0, 2)] = 9;
  const volume = makeVolume(G, data);
  // voxel counts from the array, independently of the reader
  const count = (v: number) => data.reduce((n, x) => n + (x === v ? 1 : 0), 0);

  for (const crop of [false, true]) {
    it(`shared table (${crop ? 'cropped' : 'full-grid'} masks): absent labels noted, unnamed ones reported with their voxel counts, colours kept`, () => {
      const table = parseLabelTableText(ITK_SNAP, 'snap.txt'); // names 1, 2, 3, 7; the map holds 1, 2, 4, 9
      const warnings: string[] = [];
      let coverage: LabelCoverage | undefined;
      const masks = labelMapToStructures(volume, { labels: table, sourceName: 'map.nii.gz', cropToExtent: crop, warnings, onCoverage: (c) => (coverage = c) });
      expect(masks.map((m) => m.name)).toEqual(['Liver', 'Tumor A', 'label 4', 'label 9']);
      const voxels = (i: number) => masks[i].occupancy.reduce((n, x) => n + x / 255, 0);
      expect(masks.map((_m, i) => voxels(i))).toEqual([count(1), count(2), count(4), count(9)]);
      expect(masks[0].colorRgb).toEqual([221 / 255, 130 / 255, 101 / 255]);
      expect(masks[1].colorRgb).toEqual([1, 0, 0]);
      expect(masks[2].colorRgb).toBeUndefined();
      const mlPerVoxel = (2 * 2 * 2.5) / 1000;
      expect(coverage).toEqual({
        labelMap: 'map.nii.gz',
        table: 'snap.txt',
        unnamed: [
          { value: 4, voxelCount: 3, volumeMl: 3 * mlPerVoxel },
          { value: 9, voxelCount: 1, volumeMl: mlPerVoxel },
        ],
        absent: [
          { value: 3, name: 'Tumor "B"' },
          { value: 7, name: 'Lungs' },
        ],
      });
      expect(warnings).toHaveLength(3);
      expect(warnings[0]).toMatch(/^map\.nii\.gz: label 4 \(3 voxels, 0\.03 mL\) is not in the label table snap\.txt; it is reported as "label 4"/);
      expect(warnings[1]).toMatch(/^map\.nii\.gz: label 9 \(1 voxels, 0\.01 mL\)/);
      expect(warnings[2]).toContain('map.nii.gz: the label table snap.txt names 2 labels the label map lacks (3 "Tumor "B"", 7 "Lungs"); noted, not an error');
    });
  }

  it('inline table: an absent label is still refused (a typo), an unnamed one reported with its voxel count as with a file', () => {
    expect(() => labelMapToStructures(volume, { labels: '1=Liver,3=Tumor', sourceName: 'map.nii.gz' })).toThrow(InputError);
    const warnings: string[] = [];
    const masks = labelMapToStructures(volume, { labels: '1=Liver,2=Tumor A', sourceName: 'map.nii.gz', warnings });
    expect(masks.map((m) => m.name)).toEqual(['Liver', 'Tumor A', 'label 4', 'label 9']);
    expect(warnings.map((w) => /label (\d+) \((\d+) voxels/.exec(w)!.slice(1).map(Number))).toEqual([[4, count(4)], [9, count(9)]]);
    expect(warnings[0]).toMatch(/is not in the --labels table/);
  });

  it('a shared table naming none of the map\'s labels is refused (the wrong table)', () => {
    const table = parseLabelTableText('{ "5": "Spleen", "6": "Kidney" }', 'other.json');
    expect(() => labelMapToStructures(volume, { labels: table, sourceName: 'map.nii.gz' })).toThrow(/none of the labels of the label table other\.json occurs in the label map \(it holds 1, 2, 4, 9\)/);
  });

  it('the same structures from the shared table as from the equal inline table', () => {
    const table = parseLabelTableText('1 tissue 1 2 3 255\n2 bone 4 5 6 255\n4 skin 7 8 9 255\n9 blood 1 1 1 255\n', 'slicer.txt');
    const a = labelMapToStructures(volume, { labels: table, sourceName: 'm' });
    const b = labelMapToStructures(volume, { labels: '1=tissue,2=bone,4=skin,9=blood', sourceName: 'm' });
    expect(a.map((m) => m.name)).toEqual(b.map((m) => m.name));
    a.forEach((m, i) => expect(m.occupancy).toEqual(b[i].occupancy));
  });
});
