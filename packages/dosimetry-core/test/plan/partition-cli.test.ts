import { afterEach, describe, expect, it, vi } from 'vitest';
import { run } from '../../src/cli/commands/partition.ts';
import { main } from '../../src/cli/main.ts';

// The CLI must match the closed forms to 0.1 % (external checks); here to 1e-9 relative since JSON keeps full doubles.

async function capture(f: () => Promise<number>): Promise<{ code: number; out: string; err: string }> {
  let out = '', err = '';
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => ((out += String(s)), true));
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => ((err += String(s)), true));
  try {
    const code = await f();
    return { code, out, err };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}

afterEach(() => vi.restoreAllMocks());

const model = ['--isotope', 'Y90', '--tumor-mass-g', '100', '--normal-mass-g', '1000', '--tn-ratio', '4', '--lung-shunt-fraction', '0.1'];

describe('dosimetry partition', () => {
  it('--activity-gbq: the forward doses, limitingConstraint null', async () => {
    const { code, out } = await capture(() => run(['--json', ...model, '--activity-gbq', '2']));
    expect(code).toBe(0);
    const j = JSON.parse(out);
    // D_N = 49.67 x 2 x 0.9 / 1.4; D_T = 4 D_N; D_L = 49.67 x 2 x 0.1 / 1
    const dN = (49.67 * 2 * 0.9) / 1.4;
    expect(j.activityGBq).toBe(2);
    expect(j.normalLiverGy / dN).toBeCloseTo(1, 9);
    expect(j.tumorGy / (4 * dN)).toBeCloseTo(1, 9);
    expect(j.lungGy / 9.934).toBeCloseTo(1, 9);
    expect(j.limitingConstraint).toBeNull();
    expect(j.targetMet).toBeNull();
    expect(Object.keys(j)).toEqual(expect.arrayContaining(['activityGBq', 'tumorGy', 'normalLiverGy', 'lungGy', 'limitingConstraint']));
  });

  it.each([
    // [targets, expected activity (closed form), binding, target met]
    [['--tumor-gy', '205', '--normal-liver-gy', '120', '--lung-gy', '30'], (205 / 4) * 1.4 / (49.67 * 0.9), 'tumor', true],
    [['--tumor-gy', '600', '--normal-liver-gy', '120', '--lung-gy', '30'], (120 * 1.4) / (49.67 * 0.9), 'normal-liver', false],
    [['--tumor-gy', '600', '--lung-gy', '5'], 5 / (49.67 * 0.1), 'lung', false],
    [['--normal-liver-gy', '70'], (70 * 1.4) / (49.67 * 0.9), 'normal-liver', null],
  ])('targets %j -> %f GBq, %s binds', async (targets, activity, binding, met) => {
    const { code, out } = await capture(() => run(['--json', ...model, ...(targets as string[])]));
    expect(code).toBe(0);
    const j = JSON.parse(out);
    expect(j.activityGBq / (activity as number)).toBeCloseTo(1, 9);
    expect(j.limitingConstraint).toBe(binding);
    expect(j.targetMet).toBe(met);
    expect(j.warnings.length).toBe(met === false ? 1 : 0);
  });

  it('--lung-mass-g changes the lung dose; 166Ho uses its own CF', async () => {
    const { out } = await capture(() => run(['--json', ...model, '--lung-mass-g', '800', '--activity-gbq', '2']));
    expect(JSON.parse(out).lungGy).toBeCloseTo(12.4175, 9);
    const ho = await capture(() => run(['--json', ...model.map((v) => (v === 'Y90' ? 'Ho166' : v)), '--activity-gbq', '2']));
    expect(JSON.parse(ho.out).normalLiverGy).toBeCloseTo((15.87 * 2 * 0.9) / 1.4, 9);
  });

  it('text output names the binding constraint and flags an unmet target', async () => {
    const { code, out } = await capture(() => run([...model, '--tumor-gy', '600', '--normal-liver-gy', '120']));
    expect(code).toBe(0);
    expect(out).toMatch(/limited by\s+normal-liver \(tumour target NOT met\)/);
    expect(out).toMatch(/^warning: /m);
  });

  const without = (name: string) => {
    const i = model.indexOf(name);
    return [...model.slice(0, i), ...model.slice(i + 2)];
  };
  it.each([
    ['missing --isotope', [...without('--isotope'), '--activity-gbq', '2'], /--isotope is required/],
    ['missing --tn-ratio', [...without('--tn-ratio'), '--activity-gbq', '2'], /--tn-ratio is required/],
    ['missing --lung-shunt-fraction', [...without('--lung-shunt-fraction'), '--activity-gbq', '2'], /--lung-shunt-fraction is required/],
    ['neither activity nor targets', [...model], /give --activity-gbq, or at least one/],
    ['activity and targets', [...model, '--activity-gbq', '2', '--tumor-gy', '100'], /not both/],
    ['unknown isotope', [...model.map((v) => (v === 'Y90' ? 'Lu177' : v)), '--activity-gbq', '2'], /unknown isotope/],
    ['activity 0', [...model, '--activity-gbq', '0'], /activity .* greater than 0/],
    ['negative activity', [...model, '--activity-gbq', '-1'], /greater than 0/],
    ['activity in MBq', [...model, '--activity-gbq', '2000'], /2000 is more than any radioembolization.*--activity-gbq 2\)/],
    ['not a number', [...model, '--activity-gbq', 'two'], /must be a number/],
    ['tumour mass 0', [...model.map((v, i) => (model[i - 1] === '--tumor-mass-g' ? '0' : v)), '--activity-gbq', '1'], /mass .* greater than 0/],
    ['LSF 1', [...model.map((v, i) => (model[i - 1] === '--lung-shunt-fraction' ? '1' : v)), '--activity-gbq', '1'], /outside \[0, 1\)/],
    ['LSF in percent', [...model.map((v, i) => (model[i - 1] === '--lung-shunt-fraction' ? '8' : v)), '--activity-gbq', '1'], /outside \[0, 1\)/],
    ['T/N 0', [...model.map((v, i) => (model[i - 1] === '--tn-ratio' ? '0' : v)), '--activity-gbq', '1'], /T\/N/],
    ['T/N Infinity', [...model.map((v, i) => (model[i - 1] === '--tn-ratio' ? 'Infinity' : v)), '--activity-gbq', '1'], /must be a number/],
    ['lung limit with LSF 0', [...model.map((v, i) => (model[i - 1] === '--lung-shunt-fraction' ? '0' : v)), '--lung-gy', '30'], /lung limit alone/],
    ['unknown option', [...model, '--tumour-gy', '100'], /unknown option --tumour-gy/],
  ])('%s: one line on stderr, non-zero exit, nothing on stdout', async (_n, argv, msg) => {
    const { code, out, err } = await capture(() => main(['partition', '--json', ...(argv as string[])]));
    expect(code).not.toBe(0);
    expect(out).toBe('');
    expect(err.trim().split('\n')).toHaveLength(1);
    expect(err).toMatch(msg as RegExp);
    expect(err).not.toMatch(/unexpected error/);
  });
});
