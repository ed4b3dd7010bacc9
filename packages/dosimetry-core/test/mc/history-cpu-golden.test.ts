/**
 * Golden check of the CPU Monte Carlo transport (src/mc/history-cpu.ts): fixed problems (./history-cpu-cases.ts),
 * seeds and history ranges, compared bit for bit with values recorded from the code: SHA-256 of the tally's
 * Float64Array bytes and every counter of the tally. It guards refactors and speed work, which must not change a
 * single result (the WebGPU port, shaders/mc_transport.wgsl, is compared with this code history by history).
 *
 * Re-record the values below ONLY on a deliberate change of the physics, the tables, the draw order or the
 * arithmetic (and say so in the change): run this file with MC_GOLDEN_PRINT=1 and copy the printed table.
 * Recorded 2026-12-04 from the code before the speed work of issue 13.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createCpuTally, runHistoriesCpu } from '../../src/mc/history-cpu.ts';
import type { McProblem } from '../../src/mc/types.ts';
import { ho166SlabPhantom, y90UniformSphere, y90WaterPointSource } from './history-cpu-cases.ts';

interface Golden {
  sha256: string;
  electronSteps: number;
  photonSteps: number;
  emitted: number;
  escaped: number;
  stackOverflows: number;
  roundedTerms: number;
}

interface Case {
  name: string;
  problem: () => McProblem;
  seed: number;
  first: number;
  count: number;
  exactF64?: boolean;
  expected: Golden;
}

const GOLDEN: Case[] = [
  { name: '90Y water point source 2.21 mm', problem: y90WaterPointSource, seed: 1, first: 0, count: 3000, expected: { sha256: 'b353fe86479b5a9d110acf7649231f7a18d12d8496f90081285cdb4177d680af', electronSteps: 326305, photonSteps: 97, emitted: 2827101549, escaped: 9852398, stackOverflows: 0, roundedTerms: 329507 } },
  { name: '90Y water point source 2.21 mm, history counter crossing 2^32', problem: y90WaterPointSource, seed: 0xfffffff1, first: 2 ** 32 - 700, count: 1500, expected: { sha256: '18e7ed263587fc137cffe0158f75b7d1d30f6bacc9937d12660a7c3e327bb819', electronSteps: 162750, photonSteps: 61, emitted: 1415006573, escaped: 6044519, stackOverflows: 0, roundedTerms: 164357 } },
  { name: '90Y water point source 2.21 mm, unrounded f64 tally', problem: y90WaterPointSource, seed: 7, first: 100, count: 1000, exactF64: true, expected: { sha256: '9c02635127663d2de758f76a7687d21763a2698651cdaa6e0cf94a53714f5919', electronSteps: 108545, photonSteps: 32, emitted: 942.9916137269818, escaped: 2.3518914059552847, stackOverflows: 0, roundedTerms: 109610 } },
  { name: '166Ho slab phantom air/lung/tissue/bone', problem: ho166SlabPhantom, seed: 3, first: 0, count: 3000, expected: { sha256: '7667966852ee050e23b15bed0d4cb32c7f4e7caa140625dbf5b6912f60404fd7', electronSteps: 271582, photonSteps: 1240, emitted: 2187730916, escaped: 173615570, stackOverflows: 0, roundedTerms: 282240 } },
  { name: '166Ho slab phantom, unrounded f64 tally', problem: ho166SlabPhantom, seed: 11, first: 5000, count: 800, exactF64: true, expected: { sha256: '08f87b474290fd0195b991fb26158099a950a06f6e98d962caa1f1913726135c', electronSteps: 71040, photonSteps: 337, emitted: 586.4235677443689, escaped: 62.834077418248626, stackOverflows: 0, roundedTerms: 73888 } },
  { name: '90Y uniform sphere in soft tissue, 20 keV cut-off', problem: y90UniformSphere, seed: 42, first: 1000, count: 2000, expected: { sha256: '0df213bf81eef2cee0a53b2a4cbbd54c11c6a77c54513af539b838823ca6dcf6', electronSteps: 424980, photonSteps: 68, emitted: 1918151233, escaped: 7658242, stackOverflows: 0, roundedTerms: 427068 } },
];

const print = process.env.MC_GOLDEN_PRINT === '1';
const problems = new Map<() => McProblem, McProblem>();

function run(c: Case): Golden {
  let p = problems.get(c.problem);
  if (!p) {
    p = c.problem();
    problems.set(c.problem, p);
  }
  const t = createCpuTally(p, { exactF64: c.exactF64 });
  // two calls into one tally (the second continues the range): the result must not depend on the split
  const half = Math.floor(c.count / 3);
  runHistoriesCpu(p, c.seed, c.first, half, t);
  runHistoriesCpu(p, c.seed, c.first + half, c.count - half, t);
  expect(t.histories).toBe(c.count);
  const sha256 = createHash('sha256').update(new Uint8Array(t.energy.buffer, t.energy.byteOffset, t.energy.byteLength)).digest('hex');
  return { sha256, electronSteps: t.electronSteps, photonSteps: t.photonSteps, emitted: t.emitted, escaped: t.escaped, stackOverflows: t.stackOverflows, roundedTerms: t.roundedTerms };
}

describe('CPU Monte Carlo transport: golden results (byte-identical to the recorded code)', () => {
  for (const c of GOLDEN) {
    it(`${c.name}: seed ${c.seed}, histories ${c.first}..${c.first + c.count - 1}${c.exactF64 ? ', exactF64' : ''}`, () => {
      const got = run(c);
      if (print) console.log(`GOLDEN ${c.name} ${JSON.stringify(got)}`);
      // exact: every f64 operation of the transport must give the same bits (integer tally units, and the unrounded
      // MeV sums of exactF64 in a fixed order), so no tolerance
      expect(got).toEqual(c.expected);
    });
  }
});
