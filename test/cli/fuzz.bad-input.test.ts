/**
 * Command-line inputs found by fuzzing (each row failed before its fix): numbers are plain decimals (JavaScript's
 * Number() read "0x10" as 16 and "0b1" as 1, so `--tn-ratio 0x10` planned with a T/N of 16), and compare's warnings
 * reach stderr (they were printed on stdout only, and not at all with --json).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, tempDir } from './cli-harness.ts';

const partition = (over: Record<string, string>) => {
  const o: Record<string, string> = { isotope: 'Y90', 'tumor-mass-g': '100', 'normal-mass-g': '1500', 'tn-ratio': '5', 'lung-shunt-fraction': '0.05', 'activity-gbq': '2', ...over };
  return runCli(['partition', '--json', ...Object.entries(o).map(([k, v]) => `--${k}=${v}`)]);
};

describe('number options: a plain decimal number or one error line', () => {
  it('reference: plain decimals, with spaces around, are read', async () => {
    const r = await partition({ 'tn-ratio': ' 5 ', 'activity-gbq': '2.0e0' });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).activityGBq).toBe(2);
  });

  it.each<[string, string, RegExp]>([
    ['tn-ratio', '0x10', /--tn-ratio must be a number, got "0x10" \(hexadecimal, binary and octal are not accepted/],
    ['tn-ratio', '0b1', /got "0b1" \(hexadecimal, binary and octal/],
    ['lung-shunt-fraction', '0,05', /got "0,05" \(it has a decimal comma; write 0\.05 with a decimal point\)/],
    ['activity-gbq', '', /--activity-gbq must be a number, got "" \(it is empty\)/],
    ['activity-gbq', '1e309', /beyond the range of a double-precision number/],
    ['tumor-mass-g', 'Infinity', /not a plain decimal number/],
  ])('--%s "%s" is refused', async (name, value, message) => {
    const r = await partition({ [name]: value });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^dosimetry partition: /);
    expect(r.stderr).toMatch(message);
  });

  it('kernel --voxel-mm in hexadecimal is refused (was a 16 mm voxel)', async () => {
    const r = await runCli(['kernel', '--json', '--isotope', 'Y90', '--voxel-mm', '0x10']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/--voxel-mm must be one number or three separated by commas, got "0x10"/);
  });
});

describe('compare: warnings on stderr, in both output modes', () => {
  const structures = (names: string[], iso: string) => ({
    schemaVersion: 1,
    isotope: iso,
    structures: names.map((name, k) => ({ name, role: k === 0 ? 'liver' : 'tumor', volumeMl: 100, massG: 105, meanGy: 40 + 10 * k })),
  });
  const caseDir = (root: string, name: string, report: unknown) => {
    const d = join(root, name);
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, 'report.json'), JSON.stringify(report));
    return d;
  };

  it('different nuclides and unpaired structures are warning lines on stderr, not on stdout', async () => {
    const root = tempDir('cli-fuzz-compare');
    const planned = caseDir(root, 'planned', structures(['Liver', 'Tumor'], 'Y90'));
    const achieved = caseDir(root, 'achieved', structures(['Liver', 'Tumor', 'Extra'], 'Ho166'));
    for (const json of [false, true]) {
      const out = join(root, `out-${json}`);
      const r = await runCli(['compare', ...(json ? ['--json'] : []), '--planned', planned, '--achieved', achieved, '--out', out]);
      expect(r.code).toBe(0);
      expect(r.stderr).toMatch(/^warning: the planned case is Y90 and the achieved case Ho166/m);
      expect(r.stderr).toMatch(/^warning: unpaired structures: "Extra" \(achieved only\)/m);
      expect(r.stdout).not.toMatch(/warning:/);
      expect(existsSync(join(out, 'compare.json'))).toBe(true);
      expect(JSON.parse(readFileSync(join(out, 'compare.json'), 'utf8')).warnings).toHaveLength(2);
    }
  });
});
