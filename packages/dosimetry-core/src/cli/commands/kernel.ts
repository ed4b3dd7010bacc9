/**
 * `dosimetry kernel`: the dose voxel kernel the engine uses (surface fixed in ../shared/CONTRACT.md).
 *
 *   pnpm -s dosimetry kernel --json --isotope Y90|Ho166 --voxel-mm X[,Y,Z] [--density 1.04] [--radius N]
 *
 * JSON on stdout: { unit: "mGy/(MBq*s)", radius: [rx, ry, rz], values: [...] } (x-fastest, centre = source voxel),
 * plus meanEnergyAbsorbedMeV and generatorVersion. Without --json: a short summary. Progress goes to stderr.
 * 1 Gy/(Bq s) = 1e3 mGy / (1e-6 MBq s) = 1e9 mGy/(MBq s).
 */
import { progressReporter } from '../progress.ts';
import { UsageError } from '../../errors.ts';
import { parseIsotope } from '../../units/index.ts';
import { DEFAULT_KERNEL_DENSITY_G_PER_ML, betaSpectrum, voxelKernel } from '../../kernel/index.ts';
import { parseDecimal } from '../../units/decimal.ts';
import { numberOpt, parseArgs, requireOpt, type OptionSpec } from '../args.ts';

/** mGy/(MBq s) per Gy/(Bq s). */
export const MGY_PER_MBQ_S_PER_GY_PER_BQ_S = 1e9;

const OPTIONS: Record<string, OptionSpec> = {
  isotope: { type: 'string' },
  'voxel-mm': { type: 'string' },
  density: { type: 'string' },
  radius: { type: 'string' },
  json: { type: 'flag' },
  help: { type: 'flag' },
};

const HELP = `usage: pnpm -s dosimetry kernel [--json] --isotope Y90|Ho166 --voxel-mm X[,Y,Z] [--density ${DEFAULT_KERNEL_DENSITY_G_PER_ML}] [--radius N[,NY,NZ]]
Voxel S values (MIRD 17) from the project's own beta spectra, electron Monte Carlo dose point kernel in water and
integration over source and target voxels; density by range scaling. Unit mGy/(MBq s). Cached on disk
($DOSIMETRY_CACHE_DIR or .cache/kernels). Default radius: the whole beta range at that density.`;

function parseTriple(text: string, name: string, integer: boolean): [number, number, number] {
  const parts = text.split(',').map((s) => s.trim());
  const nums = parts.map((p) => parseDecimal(p) ?? NaN);
  if ((parts.length !== 1 && parts.length !== 3) || nums.some((n) => !Number.isFinite(n) || (integer && !Number.isInteger(n)))) {
    throw new UsageError(`kernel: --${name} must be one ${integer ? 'whole number' : 'number'} or three separated by commas, got "${text}"`);
  }
  return parts.length === 1 ? [nums[0], nums[0], nums[0]] : [nums[0], nums[1], nums[2]];
}

/** Runs the command; returns the exit code (errors are thrown as DosimetryError subclasses). */
export async function run(argv: string[]): Promise<number> {
  const a = parseArgs(argv, OPTIONS, 'kernel');
  if (a.flags.has('help')) {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  const isotope = parseIsotope(requireOpt(a, 'isotope', 'kernel'));
  const voxelMm = parseTriple(requireOpt(a, 'voxel-mm', 'kernel'), 'voxel-mm', false);
  const density = numberOpt(a, 'density', 'kernel');
  const radiusText = a.values.get('radius')?.at(-1);
  const radius = radiusText === undefined ? undefined : parseTriple(radiusText, 'radius', true);
  const progress = progressReporter(a.flags.has('json'));
  const kernel = await voxelKernel({
    isotope,
    voxelMm,
    densityGPerMl: density,
    radius,
    onProgress: (f, m) => progress(`${m} (${Math.round(f * 100)} %)`),
  });
  progress.done();
  for (const w of kernel.warnings) process.stderr.write(`warning: ${w}\n`);
  const values = Array.from(kernel.values, (v) => v * MGY_PER_MBQ_S_PER_GY_PER_BQ_S);
  if (a.flags.has('json')) {
    process.stdout.write(
      JSON.stringify({
        unit: 'mGy/(MBq*s)',
        radius: kernel.radius,
        values: values.map((v) => Number(v.toPrecision(7))),
        isotope,
        voxelMm,
        densityGPerMl: density ?? DEFAULT_KERNEL_DENSITY_G_PER_ML,
        meanEnergyAbsorbedMeV: kernel.meanEnergyAbsorbedMeV,
        generatorVersion: kernel.generatorVersion,
      }) + '\n',
    );
    return 0;
  }
  const [rx, ry, rz] = kernel.radius;
  const nx = 2 * rx + 1;
  const ny = 2 * ry + 1;
  const at = (i: number, j: number, k: number) => values[i + rx + nx * (j + ry + ny * (k + rz))];
  const emitted = betaSpectrum(isotope).meanEnergyPerDecayMeV;
  const sum = values.reduce((s, v) => s + v, 0);
  const lines = [
    `${isotope} voxel S values, voxel ${voxelMm.join(' x ')} mm, density ${density ?? DEFAULT_KERNEL_DENSITY_G_PER_ML} g/mL, radius ${kernel.radius.join(', ')} voxels${kernel.fromCache ? ' (cached)' : ''}`,
    `  S(0,0,0)            ${at(0, 0, 0).toPrecision(4)} mGy/(MBq s)`,
    `  S(1,0,0) S(0,1,0) S(0,0,1)  ${[at(rx > 0 ? 1 : 0, 0, 0), at(0, ry > 0 ? 1 : 0, 0), at(0, 0, rz > 0 ? 1 : 0)].map((v) => v.toPrecision(4)).join('  ')} mGy/(MBq s)`,
    `  sum of S            ${sum.toPrecision(4)} mGy/(MBq s)`,
    `  energy check        sum x voxel mass = ${kernel.meanEnergyAbsorbedMeV.toFixed(4)} MeV absorbed per decay; mean beta energy ${emitted.toFixed(4)} MeV (${(100 * (1 - kernel.meanEnergyAbsorbedMeV / emitted)).toFixed(2)} % not absorbed: bremsstrahlung and any range outside the radius)`,
    `  generator           ${kernel.generatorVersion}`,
  ];
  process.stdout.write(lines.join('\n') + '\n');
  return 0;
}
