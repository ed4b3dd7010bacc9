/**
 * Dose point kernels (DPK) of 90Y and 166Ho in water, as computed by this project's Monte Carlo (./transport.ts) and
 * committed in packages/dosimetry-core/data/dpk/<isotope>-water.json by ./generate-dpk.ts (seed and number of decays
 * are recorded in the file). Loading a table costs milliseconds; regenerating one costs minutes.
 */
import { FormatError } from '../errors.ts';
import type { Isotope } from '../units/index.ts';
import type { DosePointKernel } from './transport.ts';
import type { RadialProfile } from './voxelize.ts';

/** Location of the committed table of an isotope. */
export function dpkTableUrl(isotope: Isotope): URL {
  return new URL(`../../data/dpk/${isotope}-water.json`, import.meta.url);
}

/** JSON text of a kernel (6 significant digits per shell; statistical noise is larger than that). */
export function serializeDpk(k: DosePointKernel): string {
  return (
    JSON.stringify(
      {
        format: 'sirt-dpk-1',
        isotope: k.isotope,
        medium: 'water, 1 g/cm3',
        generator: k.generator,
        histories: k.histories,
        seed: k.seed,
        shellWidthMm: k.shellWidthMm,
        emittedMeVPerDecay: k.emittedMeVPerDecay,
        radiatedMeVPerDecay: k.radiatedMeVPerDecay,
        beyondMeVPerDecay: k.beyondMeVPerDecay,
        energyPerShellMeV: Array.from(k.energyPerShellMeV, (v) => Number(v.toPrecision(6))),
      },
      null,
      1,
    ) + '\n'
  );
}

/** Parses the JSON of {@link serializeDpk}; throws a FormatError naming what is wrong. */
export function parseDpk(json: unknown, where: string): DosePointKernel {
  const o = json as Record<string, unknown>;
  const num = (k: string) => {
    const v = o[k];
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new FormatError(`${where}: field "${k}" is missing or not a number; regenerate it with src/kernel/generate-dpk.ts`);
    return v;
  };
  if (!o || o.format !== 'sirt-dpk-1' || !Array.isArray(o.energyPerShellMeV)) {
    throw new FormatError(`${where} is not a dose point kernel table (format sirt-dpk-1); regenerate it with src/kernel/generate-dpk.ts`);
  }
  return {
    isotope: o.isotope as Isotope,
    shellWidthMm: num('shellWidthMm'),
    energyPerShellMeV: Float64Array.from(o.energyPerShellMeV as number[]),
    emittedMeVPerDecay: num('emittedMeVPerDecay'),
    radiatedMeVPerDecay: num('radiatedMeVPerDecay'),
    beyondMeVPerDecay: num('beyondMeVPerDecay'),
    histories: num('histories'),
    seed: num('seed'),
    generator: String(o.generator),
  };
}

const loaded = new Map<Isotope, Promise<DosePointKernel>>();

/**
 * The project's dose point kernel of `isotope` in water (1 g/cm^3): energy per decay [MeV] in shells of
 * `shellWidthMm`. Loaded once from the committed table.
 */
export function dosePointKernel(isotope: Isotope): Promise<DosePointKernel> {
  let p = loaded.get(isotope);
  if (!p) {
    const url = dpkTableUrl(isotope);
    p = import(url.href, { with: { type: 'json' } }).then(
      (m: { default: unknown }) => parseDpk(m.default, url.pathname),
      (err: unknown) => {
        loaded.delete(isotope);
        throw new FormatError(`cannot load the ${isotope} dose point kernel ${url.pathname}: ${(err as Error).message}; regenerate it with src/kernel/generate-dpk.ts`, { cause: err });
      },
    );
    loaded.set(isotope, p);
  }
  return p;
}

/** Energy absorbed per decay [MeV]: the sum over the shells. */
export function absorbedEnergyMeV(k: DosePointKernel): number {
  let s = 0;
  for (const e of k.energyPerShellMeV) s += e;
  return s;
}

/** Radius [mm, water] inside which the kernel holds all its energy (outer edge of the last non-zero shell). */
export function kernelRangeMm(k: DosePointKernel): number {
  let last = -1;
  for (let i = 0; i < k.energyPerShellMeV.length; i++) if (k.energyPerShellMeV[i] > 0) last = i;
  return (last + 1) * k.shellWidthMm;
}

/** dE/dr profile [MeV/mm] of a kernel, as ./voxelize.ts integrates it. */
export function radialProfile(k: DosePointKernel): RadialProfile {
  return { stepMm: k.shellWidthMm, dEdrMeVPerMm: Float64Array.from(k.energyPerShellMeV, (e) => e / k.shellWidthMm) };
}
