/**
 * `dose --recovery-coefficients FILE`: partial-volume correction of tumour and lesion mean dose and activity by a
 * scanner's NEMA recovery-coefficient table (src/dose/recovery.ts). report.json gains, per tumour structure,
 * `pvc` { method, rc, equivalentDiameterMm, meanGyCorrected, activityGBqCorrected, flag?, clamped? } beside the
 * uncorrected values, provenance.parameters.partialVolumeCorrection (the table, interpolation, limitations) and the
 * table among provenance.inputs; structures.csv gains the columns pvcRc, meanGyCorrected, activityGBqCorrected, pvcFlag.
 *
 * `dose --pvc-deconvolve-fwhm-mm F [--pvc-iterations 10]`: voxel-wise correction instead, Richardson-Lucy
 * deconvolution of the activity image with a Gaussian PSF before the dose (src/dose/deconvolve.ts); every value of the
 * report then comes from the deconvolved image, provenance.parameters.pvcDeconvolution says how, and a warning states
 * its limitations. The two corrections are exclusive (both undo the same loss).
 */
import { sha256OfPath } from '../../io/hash.ts';
import { applyRecoveryCorrection, readRecoveryTable, recoveryParameters, type PvcStructure, type RecoveryTable, type StructurePvc } from '../../dose/recovery.ts';
import { DEFAULT_RL_ITERATIONS, RL_LIMITATIONS, richardsonLucyGaussian } from '../../dose/deconvolve.ts';
import { UsageError } from '../../errors.ts';
import type { Volume } from '../../volume/volume.ts';
import { numberOpt, opt, type ParsedArgs } from '../args.ts';

export const PVC_HELP = `  [--recovery-coefficients FILE]  partial-volume correction of tumours and lesions: a scanner's NEMA sphere table
                      (CSV header diameterMm,rc or volumeMl,rc; or JSON { "spheres": [ { "diameterMm", "rc" } ] });
                      mean dose and activity / RC(V), RC linear in equivalent diameter; both values reported; lesions
                      below the smallest sphere flagged, not corrected; above the largest: the largest sphere's RC
  [--pvc-deconvolve-fwhm-mm F [--pvc-iterations 10]]  voxel-wise instead: Richardson-Lucy deconvolution of the activity
                      with a Gaussian PSF of FWHM F mm before the dose; total conserved; amplifies noise and rings at
                      edges: not for quantitative use without validation on the scanner's phantom`;

/** --pvc-deconvolve-fwhm-mm: the deconvolution to run on the activity image, and what it reports afterwards. */
export interface DeconvolutionRequest {
  readonly fwhmMm: number;
  readonly iterations: number;
  /** Deconvolves the activity image (remembers the negative voxels set to 0 for the report). */
  apply(activity: Volume): Volume<Float32Array>;
  /** Adds provenance.parameters.pvcDeconvolution and the limitations warning to a built report. */
  addToReport(report: Record<string, unknown>, warnings: string[]): void;
}

/** The deconvolution of --pvc-deconvolve-fwhm-mm (checked now, before any image), or undefined. */
export function deconvolutionFromArgs(a: ParsedArgs, command = 'dose'): DeconvolutionRequest | undefined {
  const fwhmMm = numberOpt(a, 'pvc-deconvolve-fwhm-mm', command);
  const it = numberOpt(a, 'pvc-iterations', command);
  if (fwhmMm === undefined) {
    if (it !== undefined) throw new UsageError(`${command}: --pvc-iterations needs --pvc-deconvolve-fwhm-mm F (the scanner's PSF FWHM in mm)`);
    return undefined;
  }
  if (opt(a, 'recovery-coefficients') !== undefined) {
    throw new UsageError(`${command}: --recovery-coefficients and --pvc-deconvolve-fwhm-mm both correct the same partial-volume loss: give one of them`);
  }
  const iterations = it ?? DEFAULT_RL_ITERATIONS;
  if (!(fwhmMm > 0) || fwhmMm > 50) throw new UsageError(`${command}: --pvc-deconvolve-fwhm-mm must be the PSF FWHM in mm, above 0 and at most 50 (90Y PET: about 8-10), got ${fwhmMm}`);
  if (!Number.isInteger(iterations) || iterations < 1 || iterations > 200) throw new UsageError(`${command}: --pvc-iterations must be an integer from 1 to 200 (10 is usual), got ${iterations}`);
  let negativeVoxelCount = 0;
  return {
    fwhmMm,
    iterations,
    apply(activity) {
      const r = richardsonLucyGaussian(activity, { fwhmMm, iterations });
      negativeVoxelCount = r.negativeVoxelCount;
      return r.volume;
    },
    addToReport(report, warnings) {
      const prov = report.provenance as { parameters: Record<string, unknown> };
      prov.parameters.pvcDeconvolution = { method: 'richardson-lucy', psf: 'gaussian, isotropic', fwhmMm, iterations, negativeVoxelsSetToZero: negativeVoxelCount, totalConserved: true, limitations: RL_LIMITATIONS };
      warnings.push(`partial-volume correction: activity deconvolved (Richardson-Lucy, Gaussian PSF FWHM ${fwhmMm} mm, ${iterations} iterations) before the dose: ${RL_LIMITATIONS}`);
    },
  };
}

/** The table of --recovery-coefficients (read and checked now, before any image), or undefined. */
export function recoveryFromArgs(a: ParsedArgs): { table: RecoveryTable; path: string } | undefined {
  const path = opt(a, 'recovery-coefficients');
  return path === undefined ? undefined : { table: readRecoveryTable(path), path };
}

/**
 * Adds the correction to a built report in place: `pvc` on each tumour structure, the parameters, the table among the
 * inputs, and warnings (into `warnings`, the report's own list).
 */
export function applyRecoveryToReport(report: Record<string, unknown>, pvc: { table: RecoveryTable; path: string }, opts: { splitLesions: boolean; warnings: string[] }): void {
  const structures = report.structures as PvcStructure[];
  opts.warnings.push(...applyRecoveryCorrection(structures, pvc.table, opts));
  const prov = report.provenance as { inputs: Array<{ role: string; path: string; sha256: string }>; parameters: Record<string, unknown> };
  prov.inputs.push({ role: 'recovery-coefficients', path: pvc.path, sha256: sha256OfPath(pvc.path) });
  Object.assign(prov.parameters, recoveryParameters(pvc.table));
}

/** Terminal lines: each corrected structure's uncorrected and corrected mean dose. */
export function recoveryTable(report: Record<string, unknown>): string {
  const rows = (report.structures as Array<PvcStructure & { pvc?: StructurePvc }>).filter((s) => s.pvc);
  if (rows.length === 0) return 'partial-volume correction: no tumour structure to correct\n';
  const lines = rows.map((s) => {
    const p = s.pvc!;
    const what = p.flag ? `not corrected (${p.flag})` : `RC ${p.rc!.toFixed(3)} -> ${p.meanGyCorrected!.toFixed(1)} Gy, ${p.activityGBqCorrected!.toFixed(4)} GBq${p.clamped ? ` (${p.clamped})` : ''}`;
    return `  ${s.name}: ${p.equivalentDiameterMm.toFixed(1)} mm, mean ${s.meanGy.toFixed(1)} Gy, ${what}`;
  });
  return `partial-volume correction (recovery coefficients):\n${lines.join('\n')}\n`;
}
