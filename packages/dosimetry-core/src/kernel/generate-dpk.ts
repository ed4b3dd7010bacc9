/**
 * Generator of the committed dose point kernel tables in packages/dosimetry-core/data/dpk/<isotope>-water.json.
 * These tables are produced by this project's own Monte Carlo (./transport.ts), never taken from a paper; the test
 * test/kernel/dpk-table.test.ts regenerates a low-statistics kernel with the same code and checks the agreement.
 *
 *   node --import tsx packages/dosimetry-core/src/kernel/generate-dpk.ts [Y90|Ho166 ...] [--histories N] [--seed S]
 *
 * Defaults: both isotopes, {@link DPK_TABLE_HISTORIES} decays, seed {@link DPK_TABLE_SEED}. Progress on stderr.
 */
import { fileURLToPath } from 'node:url';
import { writeFileAtomic } from '../io/atomic.ts';
import { parseIsotope, type Isotope } from '../units/index.ts';
import { dpkTableUrl, serializeDpk } from './dpk.ts';
import { simulateDosePointKernel } from './transport.ts';

/** Decays simulated for the committed tables. */
export const DPK_TABLE_HISTORIES = 400_000;
/** Seed of the committed tables. */
export const DPK_TABLE_SEED = 20_250_101;

async function main(argv: string[]): Promise<void> {
  const isotopes: Isotope[] = [];
  let histories = DPK_TABLE_HISTORIES;
  let seed = DPK_TABLE_SEED;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--histories') histories = Number(argv[++i]);
    else if (argv[i] === '--seed') seed = Number(argv[++i]);
    else isotopes.push(parseIsotope(argv[i]));
  }
  for (const isotope of isotopes.length ? isotopes : (['Y90', 'Ho166'] as Isotope[])) {
    const t0 = Date.now();
    const dpk = simulateDosePointKernel({
      isotope,
      histories,
      seed,
      onProgress: (f, m) => process.stderr.write(`\r${m} (${Math.round(f * 100)} %)   `),
    });
    const path = fileURLToPath(dpkTableUrl(isotope));
    writeFileAtomic(path, serializeDpk(dpk));
    process.stderr.write(`\n${isotope}: ${histories} decays in ${((Date.now() - t0) / 1000).toFixed(0)} s -> ${path}\n`);
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv.slice(2)).catch((err) => {
    process.stderr.write(`generate-dpk: ${(err as Error).message}\n`);
    process.exit(1);
  });
}
