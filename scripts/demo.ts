/**
 * `pnpm demo` / `npm run demo`: generates the bundled liver phantom (data/phantoms, known answers) when missing,
 * computes its 90Y LDM dose with the engine's CLI and prints the structure table next to the analytic answers.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { main } from '../packages/dosimetry-core/src/cli/main.ts';
import { generatePhantoms } from '../data/phantoms/generate.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const caseDir = join(root, 'data', 'phantoms', 'out', 'liver');
if (!existsSync(join(caseDir, 'expected.json'))) {
  process.stderr.write('demo: generating the liver phantom (data/phantoms/out/liver)\n');
  await generatePhantoms({ outDir: join(root, 'data', 'phantoms', 'out') });
}
const rel = (p: string) => relative(process.cwd(), join(caseDir, p)) || '.';
const outDir = join(root, 'out', 'demo');
const args = [
  'dose',
  '--activity', rel('activity_bqml.nii.gz'),
  '--activity-unit', 'bq-per-ml', '--scan-delay-h', '0',
  '--segmentation', rel('segmentation.seg.nrrd'),
  '--liver', 'Liver', '--tumor', 'Tumor A', '--tumor', 'Tumor B', '--tumor', 'Tumor C', '--tumor', 'Tumor D', '--lung', 'Lungs',
  '--isotope', 'Y90', '--method', 'ldm',
  '--out', relative(process.cwd(), outDir),
];
process.stderr.write(`demo: pnpm -s dosimetry ${args.map((a) => (/\s/.test(a) ? `"${a}"` : a)).join(' ')}\n`);
const code = await main(args);
if (code !== 0) process.exit(code);

// Side by side with the phantom's analytic answers.
const report = JSON.parse(readFileSync(join(outDir, 'report.json'), 'utf8'));
const expected = JSON.parse(readFileSync(join(caseDir, 'expected.json'), 'utf8'));
process.stdout.write('\nagainst the analytic answers (mean dose, Gy):\n');
let worst = 0;
for (const e of expected.structures as Array<{ name: string; meanGy: number }>) {
  const s = (report.structures as Array<{ name: string; meanGy: number }>).find((x) => x.name === e.name);
  if (!s) continue;
  const dev = s.meanGy / e.meanGy - 1;
  worst = Math.max(worst, Math.abs(dev));
  process.stdout.write(`  ${e.name.padEnd(14)} engine ${s.meanGy.toFixed(3).padStart(9)}  analytic ${e.meanGy.toFixed(3).padStart(9)}  (${(dev * 100).toExponential(1)} %)\n`);
}
process.stdout.write(`largest deviation ${(worst * 100).toExponential(2)} %; outputs in ${relative(process.cwd(), outDir)}/\n`);
