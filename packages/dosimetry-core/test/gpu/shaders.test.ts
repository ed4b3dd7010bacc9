import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import ldmSrc from '../../../../shaders/ldm.wgsl?raw';
import sumsSrc from '../../../../shaders/stats_sums.wgsl?raw';
import histSrc from '../../../../shaders/stats_hist.wgsl?raw';
import mcSrc from '../../../../shaders/mc_transport.wgsl?raw';
import { MC_PARAMS } from '../../src/mc/transport-gpu.ts';
import { LDM_PARAMS, STATS_HIST_PARAMS, STATS_SUMS_PARAMS } from '../../src/gpu/index.ts';
import { uniformByteSize, wgslStructFields, type UniformLayout } from '../../src/gpu/uniform.ts';
import { dispatchGrid2d } from '../../src/gpu/device.ts';

const root = fileURLToPath(new URL('../../../../', import.meta.url));

describe('WGSL sources and host layouts', () => {
  const cases: Array<[string, string, UniformLayout, string]> = [
    ['ldm.wgsl', ldmSrc, LDM_PARAMS, 'ldmDoseCpu'],
    ['stats_sums.wgsl', sumsSrc, STATS_SUMS_PARAMS, 'structureStatsCpu'],
    ['stats_hist.wgsl', histSrc, STATS_HIST_PARAMS, 'structureStatsCpu'],
    ['mc_transport.wgsl', mcSrc, MC_PARAMS, 'runHistoriesCpu'],
  ];
  for (const [file, src, layout, oracle] of cases) {
    it(`${file}: struct ${layout.struct} matches the host layout field by field; header names its oracle`, () => {
      expect(src).toBe(readFileSync(`${root}shaders/${file}`, 'utf8'));
      const fields = wgslStructFields(src, layout.struct);
      expect(fields).toEqual(layout.fields.map(([n, t]) => [n, t]));
      // all scalars are 4 bytes: WGSL size = 4 x fields rounded up to the 16-byte uniform alignment
      expect(uniformByteSize(layout)).toBe(Math.ceil((fields.length * 4) / 16) * 16);
      const header = src.split('\n').filter((l) => l.startsWith('//')).join('\n');
      expect(header).toContain(`CPU oracle: ${oracle}()`);
      expect(header).toMatch(/Bindings/);
      expect(src).toMatch(/override WG: u32 = 256;/);
    });
  }

  it('splits large dispatches over a 2-D grid within 65535 per dimension', () => {
    for (const n of [1, 65535, 65536, 1_000_000]) {
      const [x, y] = dispatchGrid2d(n);
      expect(x).toBeLessThanOrEqual(65535);
      expect(y).toBeLessThanOrEqual(65535);
      expect(x * y).toBeGreaterThanOrEqual(n);
      expect(x * (y - 1)).toBeLessThan(n);
    }
  });

  it('scripts/wgsl-loader.mjs lets plain Node + tsx import .wgsl?raw (as the CLI runs)', () => {
    const code = [
      "import src from './shaders/ldm.wgsl?raw';",
      "const m = await import('./packages/dosimetry-core/src/gpu/ldm.ts');",
      'console.log(JSON.stringify({ length: src.length, wg: m.LDM_WORKGROUP_SIZE }));',
    ].join('\n');
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--import', './scripts/wgsl-loader.mjs', '--input-type=module', '-e', code], {
      cwd: root,
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.stderr).not.toMatch(/Error/);
    expect(JSON.parse(r.stdout.trim())).toEqual({ length: ldmSrc.length, wg: 256 });
  });
});
