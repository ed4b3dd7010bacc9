/**
 * Local deposition model (LDM) on the CPU: the oracle of shaders/ldm.wgsl (src/gpu/ldm.ts).
 */
import { InputError } from '../errors.ts';

/** Inputs of the LDM dose, shared by ldmDoseCpu and ldmDoseGpu. */
export interface LdmDoseOptions {
  /** Activity concentration per voxel [Bq/mL], calibrated and carried back to implant time; negatives are kept. */
  readonly activityBqPerMl: Float32Array;
  /** Mass density [g/mL]: one value for every voxel, or one per voxel (e.g. from CT). Voxels with rho <= 0 get 0 Gy. */
  readonly densityGPerMl: number | Float32Array;
  /** LDM conversion factor CF [J/GBq] (49.67 for 90Y, 15.87 for 166Ho; ../shared/PHYSICS.md). */
  readonly ldmJoulePerGBq: number;
}

/** Gy per (J/GBq x Bq/mL / (g/mL)): 1e-9 GBq/Bq / 1e-3 kg/g. */
export const LDM_UNIT_FACTOR = 1e-6;

/** Validates LDM inputs (same checks on both back ends). */
export function checkLdmOptions(opts: LdmDoseOptions): void {
  const cf = opts.ldmJoulePerGBq;
  if (!Number.isFinite(cf) || cf <= 0) {
    throw new InputError(`LDM conversion factor ${cf} J/GBq is not positive: use 49.67 for 90Y or 15.87 for 166Ho`);
  }
  const rho = opts.densityGPerMl;
  if (typeof rho === 'number') {
    if (!Number.isFinite(rho) || rho <= 0) throw new InputError(`density ${rho} g/mL is not positive: give a tissue density such as 1.05 g/mL`);
  } else if (rho.length !== opts.activityBqPerMl.length) {
    throw new InputError(
      `the density map has ${rho.length} voxels but the activity map ${opts.activityBqPerMl.length}: resample the CT densities onto the activity grid first`,
    );
  }
}

/**
 * LDM absorbed dose per voxel [Gy]: D = CF x A / M (../shared/PHYSICS.md, EANM SOP), all energy deposited where the
 * activity sits. Per voxel with activity a [Bq/mL] and density rho [g/mL]: D = CF x (a x 1e-9 GBq) / (rho x 1e-3 kg)
 * = CF x a / rho x 1e-6 Gy, independent of the voxel volume. Negative activity (PET noise) gives negative dose (kept
 * so that structure means stay unbiased); rho <= 0 (air outside the body) gives 0 Gy.
 * f64 arithmetic, stored as f32.
 */
export function ldmDoseCpu(opts: LdmDoseOptions): Float32Array {
  checkLdmOptions(opts);
  const a = opts.activityBqPerMl;
  const rho = opts.densityGPerMl;
  const cf = opts.ldmJoulePerGBq;
  const out = new Float32Array(a.length);
  if (typeof rho === 'number') {
    for (let i = 0; i < a.length; i++) out[i] = ((cf * a[i]) / rho) * LDM_UNIT_FACTOR;
  } else {
    for (let i = 0; i < a.length; i++) {
      const r = rho[i];
      out[i] = r > 0 ? ((cf * a[i]) / r) * LDM_UNIT_FACTOR : 0;
    }
  }
  return out;
}
