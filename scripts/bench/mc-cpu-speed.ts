/**
 * Speed of the CPU Monte Carlo transport on one thread (runHistoriesCpu of
 * packages/dosimetry-core/src/mc/history-cpu.ts): histories/s and ns per electron step, best of --repeat runs, on the
 * fixed problems of the golden test (packages/dosimetry-core/test/mc/history-cpu-cases.ts): 90Y point source in water
 * at 2.21 mm voxels (grid-adapted cut-off), 166Ho in the air/lung/tissue/bone slab phantom at 2.21 mm, and 90Y
 * uniform in a soft-tissue sphere (20 keV cut-off).
 *
 * usage: node --import tsx scripts/bench/mc-cpu-speed.ts [--repeat 3] [--scale 1] [--module PATH ...]
 * Each --module is another copy of history-cpu.ts (e.g. the code before a change, saved elsewhere with absolute
 * imports) run on the same problems, interleaved run by run with the current one, so that a comparison on a shared
 * machine is made back to back. Every module's tally is hashed (SHA-256 of the Float64Array): the table says whether
 * the results are byte-identical to the first module's. The code of a commit, for example:
 *   git show HEAD:packages/dosimetry-core/src/mc/history-cpu.ts | sed "s#from '\./#from '$PWD/packages/dosimetry-core/src/mc/#;
 *     s#from '\.\./#from '$PWD/packages/dosimetry-core/src/#" > /tmp/history-cpu-head.ts
 *   node --import tsx scripts/bench/mc-cpu-speed.ts --module /tmp/history-cpu-head.ts
 */
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { McProblem } from '../../packages/dosimetry-core/src/mc/types.ts';
import * as current from '../../packages/dosimetry-core/src/mc/history-cpu.ts';
import { ho166SlabPhantom, y90UniformSphere, y90WaterPointSource } from '../../packages/dosimetry-core/test/mc/history-cpu-cases.ts';

type Impl = Pick<typeof current, 'createCpuTally' | 'runHistoriesCpu'>;

const argv = process.argv.slice(2);
const arg = (name: string, dflt: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : dflt;
};
const repeat = Number(arg('repeat', '3'));
const scale = Number(arg('scale', '1'));
const modules: Array<{ name: string; impl: Impl }> = [{ name: 'src/mc/history-cpu.ts', impl: current }];
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === '--module') {
    const path = resolve(argv[i + 1]);
    modules.push({ name: argv[i + 1], impl: (await import(pathToFileURL(path).href)) as Impl });
  }
}

const cases: Array<{ name: string; problem: McProblem; histories: number }> = [
  { name: '90Y water point source, 2.21 mm', problem: y90WaterPointSource(), histories: Math.round(20_000 * scale) },
  { name: '166Ho slab phantom, 2.21 mm', problem: ho166SlabPhantom(), histories: Math.round(20_000 * scale) },
  { name: '90Y uniform sphere, 20 keV cut-off', problem: y90UniformSphere(), histories: Math.round(10_000 * scale) },
];

function once(impl: Impl, problem: McProblem, histories: number): { seconds: number; steps: number; hash: string } {
  const t = impl.createCpuTally(problem);
  const t0 = process.hrtime.bigint();
  impl.runHistoriesCpu(problem, 1, 0, histories, t);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const hash = createHash('sha256').update(new Uint8Array(t.energy.buffer)).digest('hex').slice(0, 16);
  return { seconds, steps: t.electronSteps, hash };
}

// warm-up (JIT) on a few histories of each case and module
for (const c of cases) for (const m of modules) once(m.impl, c.problem, 500);

console.log(`CPU Monte Carlo, 1 thread, best of ${repeat} (node ${process.version})`);
console.log('| case | module | histories | histories/s | ns/electron step | electron steps/history | tally SHA-256 (16) | same as first |');
console.log('|---|---|---:|---:|---:|---:|---|---|');
for (const c of cases) {
  const best = modules.map(() => ({ seconds: Infinity, steps: 0, hash: '' }));
  for (let r = 0; r < repeat; r++) {
    for (let k = 0; k < modules.length; k++) {
      const res = once(modules[k].impl, c.problem, c.histories);
      if (res.seconds < best[k].seconds) best[k] = res;
    }
  }
  modules.forEach((m, k) => {
    const b = best[k];
    console.log(
      `| ${c.name} | ${m.name} | ${c.histories} | ${Math.round(c.histories / b.seconds)} | ${((b.seconds / b.steps) * 1e9).toFixed(0)} | ${(b.steps / c.histories).toFixed(1)} | ${b.hash} | ${b.hash === best[0].hash ? 'yes' : 'NO'} |`,
    );
  });
}
