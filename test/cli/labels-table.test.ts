/**
 * `--labels @FILE` (a shared label table file) end to end on the bundled liver phantom: the phantom's two label maps
 * (liver_lungs_labels.nii.gz: 1 liver, 2 lungs; tumors_labels.nrrd: 1..4 tumours A..D) named by an ITK-SNAP label
 * description and a JSON table. The ITK-SNAP table names a label the map lacks (5, noted) and leaves out one the map
 * holds (4: reported as "label 4" with its voxel count, counted here from the label map). Every structure equals the
 * run with the equal inline --labels tables; the tables' colours reach structures.seg.nrrd; a malformed table is
 * refused with file and line and nothing written; plan takes the same tables.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readVolume } from '../../packages/dosimetry-core/src/io/index.ts';
import { sha256OfPath } from '../../packages/dosimetry-core/src/dose/report.ts';
import { phantomCase, runCli, tempDir } from './cli-harness.ts';

interface Report {
  structures: Array<Record<string, unknown> & { name: string; role: string; meanGy: number; volumeMl: number }>;
  warnings: string[];
  plan?: { activityGBq: number };
  provenance: { inputs: Array<{ role: string; path: string; sha256: string }>; parameters: Record<string, unknown> };
}

let dir: string;
let work: string;
let snap: string;
let json: string;
const read = (out: string): Report => JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));

// ITK-SNAP's export, header comment included; label 4 (Tumor D) left out, label 5 (absent from the map) named.
const SNAP = `################################################
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
    1   255    0    0        1  1  1    "Tumor A"
    2     0  255    0        1  1  1    "Tumor B"
    3     0    0  255        1  1  1    "Tumor C"
    5   255  255    0        1  1  1    "Tumor E"
`;
const JSON_TABLE = JSON.stringify({ labels: [{ value: 1, name: 'Liver', color: [204, 102, 51] }, { value: 2, name: 'Lungs' }] }, null, 2);

const common = (d: string) => ['--activity', join(d, 'activity_bqml.nii.gz'), '--activity-unit', 'bq-per-ml', '--scan-delay-h', '0'];
const ROLES = ['--liver', 'Liver', '--tumor', 'Tumor A', '--tumor', 'Tumor B', '--tumor', 'Tumor C', '--lung', 'Lungs'];
const RUN = ['--isotope', 'Y90', '--method', 'ldm', '--backend', 'cpu', '--quiet'];

beforeAll(async () => {
  dir = await phantomCase();
  work = tempDir('labels-table');
  snap = join(work, 'tumours.label.txt');
  json = join(work, 'liver-lungs.json');
  writeFileSync(snap, SNAP);
  writeFileSync(json, JSON_TABLE);
});

describe('dose --labels @FILE on the phantom', () => {
  let file: { code: number; stderr: string; out: string };
  let inline: { code: number; stderr: string; out: string };
  beforeAll(async () => {
    const segs = (a: string, b: string) => ['--segmentation', join(dir, 'liver_lungs_labels.nii.gz'), '--labels', a, '--segmentation', join(dir, 'tumors_labels.nrrd'), '--labels', b];
    const outF = join(work, 'file'), outI = join(work, 'inline');
    const f = await runCli(['dose', ...common(dir), ...segs(`@${json}`, `@${snap}`), ...ROLES, ...RUN, '--out', outF]);
    const i = await runCli(['dose', ...common(dir), ...segs('1=Liver,2=Lungs', '1=Tumor A,2=Tumor B,3=Tumor C'), ...ROLES, ...RUN, '--out', outI]);
    file = { ...f, out: outF };
    inline = { ...i, out: outI };
  });

  it('runs, and every structure equals the inline --labels run (label 4 reported as "label 4" in both)', () => {
    expect(file.code, file.stderr).toBe(0);
    expect(inline.code, inline.stderr).toBe(0);
    const a = read(file.out).structures;
    const b = read(inline.out).structures;
    expect(a.map((s) => s.name)).toEqual(b.map((s) => s.name));
    expect(a.map((s) => s.name)).toContain('label 4');
    expect(a.find((s) => s.name === 'label 4')!.role).toBe('other');
    expect(a).toEqual(b);
    // and the dose maps are the same bytes
    expect(readFileSync(join(file.out, 'dose.nii.gz')).equals(readFileSync(join(inline.out, 'dose.nii.gz')))).toBe(true);
  });

  it('label 4, present in the map but not in the table, is said with its exact voxel count (stderr and report.json)', async () => {
    const map = await readVolume(join(dir, 'tumors_labels.nrrd'));
    let n4 = 0;
    for (const v of map.data) if (v === 4) n4++;
    expect(n4).toBeGreaterThan(0);
    const line = file.stderr.split('\n').find((l) => /label 4 \(/.test(l));
    expect(line).toBeDefined();
    expect(line!).toMatch(new RegExp(`^warning: tumors_labels\\.nrrd: label 4 \\(${n4} voxels, [0-9.]+ mL\\) is not in the label table .*tumours\\.label\\.txt; it is reported as "label 4"`));
    const r = read(file.out);
    expect(r.warnings.some((w) => w.includes(`label 4 (${n4} voxels`))).toBe(true);
    const tables = r.provenance.parameters.labelTables as Array<{ segmentation: string; table: string; format: string; unnamedInMap: Array<{ value: number; voxelCount: number }>; absentFromMap: Array<{ value: number; name: string }> }>;
    expect(tables.map((t) => t.format)).toEqual(['json', 'itk-snap']);
    expect(tables[0].unnamedInMap).toEqual([]);
    expect(tables[1].unnamedInMap.map((u) => [u.value, u.voxelCount])).toEqual([[4, n4]]);
    // the inline run says the same about label 4 (one behaviour for both)
    expect(inline.stderr).toMatch(new RegExp(`warning: tumors_labels\\.nrrd: label 4 \\(${n4} voxels, [0-9.]+ mL\\) is not in the --labels table`));
    expect((read(inline.out).provenance.parameters.labelTables as typeof tables)[1].unnamedInMap.map((u) => [u.value, u.voxelCount])).toEqual([[4, n4]]);
  });

  it('label 5, named by the shared table but absent from the map, is noted, not an error', () => {
    const r = read(file.out);
    const tables = r.provenance.parameters.labelTables as Array<{ absentFromMap: Array<{ value: number; name: string }> }>;
    expect(tables[1].absentFromMap).toEqual([{ value: 5, name: 'Tumor E' }]);
    expect(r.warnings.some((w) => /names a label the label map lacks \(5 "Tumor E"\); noted, not an error/.test(w))).toBe(true);
    expect(file.stderr).toMatch(/warning: tumors_labels\.nrrd: the label table .*tumours\.label\.txt names a label the label map lacks \(5 "Tumor E"\)/);
    expect(r.structures.map((s) => s.name)).not.toContain('Tumor E');
  });

  it('the table files are inputs of the provenance with their SHA-256; the raw --labels values are recorded', () => {
    const r = read(file.out);
    const labels = r.provenance.inputs.filter((i) => i.role === 'labels');
    expect(labels.map((i) => i.path)).toEqual([json, snap]);
    expect(labels.map((i) => i.sha256)).toEqual([sha256OfPath(json), sha256OfPath(snap)]);
    expect(r.provenance.parameters.labels).toEqual([`@${json}`, `@${snap}`]);
  });

  it("the tables' colours are the segment colours of structures.seg.nrrd", () => {
    const head = readFileSync(join(file.out, 'structures.seg.nrrd')).subarray(0, 20000).toString('latin1');
    const colourOf = (name: string) => {
      const m = new RegExp(`^Segment(\\d+)_Name:=${name}$`, 'm').exec(head);
      expect(m, name).not.toBeNull();
      return new RegExp(`^Segment${m![1]}_Color:=(.*)$`, 'm').exec(head)![1].split(' ').map(Number);
    };
    const close = (got: number[], want: number[]) => got.forEach((g, k) => expect(g).toBeCloseTo(want[k] / 255, 5));
    close(colourOf('Liver'), [204, 102, 51]);
    close(colourOf('Tumor A'), [255, 0, 0]);
    close(colourOf('Tumor C'), [0, 0, 255]);
  });
});

describe('refusals and plan', () => {
  it('a malformed table: one line naming file and line, exit non-zero, nothing written', async () => {
    const bad = join(work, 'bad.label.txt');
    writeFileSync(bad, SNAP + '    2   9 9 9        1  1  1    "Tumor F"\n');
    const out = join(work, 'bad-out');
    const r = await runCli(['dose', ...common(dir), '--segmentation', join(dir, 'tumors_labels.nrrd'), '--labels', `@${bad}`, '--liver', 'Tumor A', ...RUN, '--out', out]);
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/label table .*bad\.label\.txt line 20: label value 2 is given again \(first on line 17\)/);
    expect(existsSync(out)).toBe(false);
    const missing = await runCli(['dose', ...common(dir), '--segmentation', join(dir, 'tumors_labels.nrrd'), '--labels', `@${join(work, 'nope.txt')}`, '--liver', 'Tumor A', ...RUN, '--out', out]);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/label table .*nope\.txt/);
    expect(existsSync(out)).toBe(false);
  });

  it('a table for a .seg.nrrd is refused (its segments are named inside)', async () => {
    const r = await runCli(['dose', ...common(dir), '--segmentation', join(dir, 'segmentation.seg.nrrd'), '--labels', `@${json}`, '--liver', 'Liver', ...RUN, '--out', join(work, 'seg-out')]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/--labels @.*liver-lungs\.json does not apply to segmentation\.seg\.nrrd/);
  });

  it('plan takes the same tables: the same prescribed activity as with inline tables', async () => {
    const segs = (a: string, b: string) => ['--segmentation', join(dir, 'liver_lungs_labels.nii.gz'), '--labels', a, '--segmentation', join(dir, 'tumors_labels.nrrd'), '--labels', b];
    const args = ['--device', 'glass', '--activity', join(dir, 'activity_counts.nrrd'), '--activity-unit', 'counts', ...ROLES, '--backend', 'cpu', '--quiet'];
    const pf = await runCli(['plan', ...args, ...segs(`@${json}`, `@${snap}`), '--out', join(work, 'plan-file')]);
    const pi = await runCli(['plan', ...args, ...segs('1=Liver,2=Lungs', '1=Tumor A,2=Tumor B,3=Tumor C'), '--out', join(work, 'plan-inline')]);
    expect(pf.code, pf.stderr).toBe(0);
    expect(pi.code, pi.stderr).toBe(0);
    const a = read(join(work, 'plan-file'));
    const b = read(join(work, 'plan-inline'));
    expect(a.plan!.activityGBq).toBeGreaterThan(0);
    expect(a.plan!.activityGBq).toBe(b.plan!.activityGBq);
    expect(a.structures).toEqual(b.structures);
    expect(pf.stderr).toMatch(/label 4 \(\d+ voxels/);
  });
});
