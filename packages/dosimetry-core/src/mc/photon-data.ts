/**
 * Photon mass attenuation coefficients of a material [cm^2/g] for the voxel Monte Carlo (1 keV – 3 MeV tables; used
 * from the 10 keV photon cutoff up).
 *
 * - Incoherent scattering: Klein–Nishina cross section per free electron (Klein & Nishina 1929; Evans, The Atomic
 *   Nucleus, ch. 23 eq. 4.4) times the material's electrons per gram. No binding correction (incoherent scattering
 *   function): at 30 keV it overestimates the incoherent cross section of water by about 8 % (XCOM's incoherent
 *   includes S(x, Z)), at 100 keV by about 2 %, above 500 keV by < 0.3 %.
 * - Photoelectric absorption: per element, the analytic photoabsorption approximation of Biggs & Lighthill 1988
 *   (Sandia report SAND87-0070: τ/ρ = Σ_{n=1..4} a_n / E^n on energy intervals between absorption edges; the
 *   parametrisation Geant4 uses for its Sandia table), mixed by mass fraction. Measured against XCOM (test): within
 *   6 % for O, N, P, Ca, Fe and H at 10 keV - 1 MeV; carbon up to 11 % low at 30-100 keV. (Verner & Yakovlev 1995
 *   subshell fits were tried first and dropped: oxygen 11-23 % high at 30-100 keV.)
 * - Coherent (Rayleigh) scattering: omitted. It changes the direction, not the energy, of a photon; it is 3–6 % of the
 *   attenuation of water at 30–80 keV and < 1 % above 200 keV. The Klein–Nishina excess above (no binding) partly
 *   offsets its omission in the total.
 * Pair production: not included (threshold 1.022 MeV; < 0.3 % of the attenuation of water at 3 MeV).
 */
import { InputError } from '../errors.ts';
import { ELECTRON_MASS_MEV } from '../kernel/spectrum.ts';
import { prepareMaterial } from './electron-data.ts';
import type { McMaterial } from './types.ts';

const R_E_CM = 2.8179403262e-13;

/**
 * Klein–Nishina total cross section per electron [cm^2] at photon energy E [MeV]:
 * σ = 2π r_e^2 { (1+k)/k^2 [2(1+k)/(1+2k) − ln(1+2k)/k] + ln(1+2k)/(2k) − (1+3k)/(1+2k)^2 }, k = E/mc^2.
 * A series is used below k = 1e-3 (Thomson limit with the first corrections) where the closed form cancels badly.
 */
export function kleinNishinaPerElectronCm2(eMeV: number): number {
  const k = eMeV / ELECTRON_MASS_MEV;
  const sigmaT = (8 / 3) * Math.PI * R_E_CM * R_E_CM;
  if (k < 1e-3) return sigmaT * (1 - 2 * k + 5.2 * k * k - 13.3 * k * k * k);
  const l = Math.log(1 + 2 * k);
  const a = (1 + k) / (k * k);
  const b = (2 * (1 + k)) / (1 + 2 * k) - l / k;
  return 2 * Math.PI * R_E_CM * R_E_CM * (a * b + l / (2 * k) - (1 + 3 * k) / ((1 + 2 * k) * (1 + 2 * k)));
}

/**
 * Photoabsorption coefficients of Biggs & Lighthill (SAND87-0070, "Analytical approximations for X-ray cross sections
 * III", 1988/1990): per element and energy interval [E_lo (keV), a1, a2, a3, a4], with
 *   τ/ρ (E) = a1/E + a2/E^2 + a3/E^3 + a4/E^4   [cm^2/g], E in keV, for E_lo <= E < next E_lo.
 * Intervals from the one that holds 1 keV up (the last extends to 100 GeV); published coefficients, as distributed
 * with Geant4's G4SandiaTable. Their deviation from XCOM's photoelectric cross sections (Scofield), measured at the
 * XCOM grid energies 10 keV - 1 MeV: H within 2.5 %, C -11 % at 30-100 keV (-2 to -6 % elsewhere), N and O -2 to -6 %,
 * P, Ca, Fe within 5 %.
 */
const BIGGS_LIGHTHILL: Readonly<Record<number, ReadonlyArray<readonly [number, number, number, number, number]>>> = {
  1: [
    [0.8, 7.636e-2, -9.406e-1, 6.144, 1.425],
    [4.0, 1.18e-3, -8.236e-2, 2.886, 5.534],
    [20.0, 1.62e-5, -5.61e-3, 1.214, 1.761e1],
    [100.0, 1.034e-6, -4.114e-4, 6.287e-1, 3.927e1],
    [500.0, 4.599e-7, 5.006e-4, -1.425e-2, 1.96e2],
  ],
  6: [
    [0.8, -7.363, -1.537e1, 2.672e3, -4.482e2],
    [4.0, 1.64, -9.428e1, 2.872e3, -5.583e2],
    [20.0, -3.742e-3, -1.232, 9.489e2, 1.406e4],
    [100.0, 6.76e-4, -1.164e-1, 6.566e2, 2.739e4],
    [500.0, 4.503e-4, 4.692e-1, 2.183e2, 1.308e5],
  ],
  7: [
    [0.8, -4.94, -8.442e1, 4.62e3, -1.186e3],
    [4.0, 2.019, -1.249e2, 4.609e3, -9.421e2],
    [20.0, 1.709e-2, -8.196, 2.345e3, 1.369e4],
    [100.0, 1.872e-3, -6.732e-1, 1.282e3, 5.7e4],
    [500.0, 8.122e-4, 8.364e-1, 4.41e2, 2.358e5],
  ],
  8: [
    [0.532, -7.181e1, 4.748e2, 5.542e3, -1.363e3],
    [4.0, 2.745, -1.747e2, 7.159e3, -2.213e3],
    [20.0, 3.774e-2, -1.559e1, 4.045e3, 1.81e4],
    [100.0, 3.169e-3, -1.146, 2.194e3, 9.131e4],
    [500.0, 1.367e-3, 1.473, 7.214e2, 4.048e5],
  ],
  11: [
    [0.063, -5.565e2, 1.088e3, 1.062e2, -6.845],
    [1.073, 1.732, -1.853e2, 1.712e4, -8.415e3],
    [20.0, 2.726e-1, -8.218e1, 1.475e4, 9.467e3],
    [100.0, 2.083e-3, 4.548, 5.521e3, 3.358e5],
    [500.0, 4.199e-3, 4.808, 1.793e3, 1.898e6],
  ],
  12: [
    [0.123, -6.179e2, 1.379e3, 2.321e2, -2.291e1],
    [1.305, -6.648e-1, -1.084e2, 2.219e4, -1.241e4],
    [20.0, 4.08e-1, -1.205e2, 2.139e4, -1.143e2],
    [100.0, 8.338e-3, 2.236, 8.819e3, 4.284e5],
    [500.0, 6.233e-3, 7.344, 2.662e3, 2.46e6],
  ],
  15: [
    [0.132, -5.7e2, 1.909e3, 7.651e2, -1.123e2],
    [2.144, -6.098, 7.712e1, 4.196e4, -3.437e4],
    [20.0, 5.71e-1, -2.001e2, 4.505e4, -3.853e4],
    [100.0, 3.613e-2, -8.426, 2.277e4, 8.08e5],
    [500.0, 1.421e-2, 1.77e1, 6.221e3, 5.554e6],
  ],
  16: [
    [0.165, -4.885e2, 1.976e3, 1.206e3, -1.934e2],
    [2.472, -1.021e1, 2.346e2, 5.164e4, -4.707e4],
    [20.0, 7.467e-1, -2.534e2, 5.8e4, -6.691e4],
    [100.0, 6.338e-2, -3.443e1, 4.058e4, 2.233e5],
    [500.0, 1.857e-2, 2.398e1, 6.706e3, 8.358e6],
  ],
  17: [
    [0.2, -2.147e2, 1.269e3, 2.099e3, -3.705e2],
    [2.824, -1.192e1, 3.253e2, 5.927e4, -5.98e4],
    [20.0, 8.789e-1, -2.92e2, 6.86e4, -1.018e5],
    [100.0, 6.556e-2, -2.175e1, 3.895e4, 9.737e5],
    [500.0, 2.236e-2, 2.884e1, 9.717e3, 9.001e6],
  ],
  18: [
    [0.245, -2.244e2, 1.388e3, 2.571e3, -5.113e2],
    [3.203, -1.446e1, 4.359e2, 6.578e4, -7.284e4],
    [20.0, 8.786e-1, -3.001e2, 7.682e4, -1.219e5],
    [100.0, 6.779e-2, -2.695e1, 5.069e4, 5.281e5],
    [500.0, 2.598e-2, 3.454e1, 1.059e4, 1.068e7],
  ],
  19: [
    [0.294, -3.601e2, 2.287e3, 2.513e3, -4.591e2],
    [3.607, -2.113e1, 7.161e2, 8.183e4, -9.859e4],
    [20.0, 1.048, -3.644e2, 9.844e4, -1.76e5],
    [100.0, 1.04e-1, -3.553e1, 6.096e4, 1.226e6],
    [500.0, 3.453e-2, 4.621e1, 1.669e4, 1.238e7],
  ],
  20: [
    [0.346, -1.054e2, 1.12e3, 5.115e3, -1.325e3],
    [4.037, -3.015e1, 1.141e3, 9.459e4, -1.195e5],
    [20.0, 1.408, -4.553e2, 1.206e5, -2.531e5],
    [100.0, 1.204e-1, -5.356e1, 8.779e4, 6.252e5],
    [500.0, 4.178e-2, 5.761e1, 1.377e4, 2.019e7],
  ],
  26: [
    [0.708, -8.128, 6.55e2, 1.511e4, -7.079e3],
    [7.112, 2.151e-1, -2.68e2, 2.341e5, -6.063e5],
    [100.0, 3.511e-1, -1.633e2, 2.09e5, 7.131e5],
    [500.0, 1.026e-1, 1.572e2, 5.901e4, 2.806e7],
  ],
  30: [
    [0.109, -1.33e3, 3.104e3, -309.2, 8.946],
    [1.02, -2.807e4, 1.091e5, -1.511e5, 7.897e4],
    [1.043, -3.057e3, 1.385e4, 378, -216.3],
    [1.193, -80.18, 1.794e3, 2.095e4, -1.07e4],
    [9.659, -1.158, -38.71, 3.499e5, -1.154e6],
    [100.0, 0.482, -183.2, 3.296e5, 6.802e5],
    [500.0, 0.1669, 269.6, 1e5, 4.382e7],
  ],
};

/** Photoelectric (photoabsorption) mass coefficient [cm^2/g] of element Z at E [MeV] (Biggs–Lighthill; above). */
export function photoelectricMassCm2PerG(z: number, eMeV: number): number {
  const rows = BIGGS_LIGHTHILL[z];
  if (!rows) throw new InputError(`no photoabsorption coefficients for Z = ${z}: add the Biggs–Lighthill rows of that element`);
  const e = eMeV * 1e3;
  let r = rows[0];
  for (const row of rows) if (e >= row[0]) r = row;
  const inv = 1 / e;
  return Math.max(0, inv * (r[1] + inv * (r[2] + inv * (r[3] + inv * r[4]))));
}

/** Elements with photoelectric data (Z). */
export const PHOTOELECTRIC_ELEMENTS: readonly number[] = Object.keys(BIGGS_LIGHTHILL).map(Number);

/** Photon mass attenuation of a material at E [MeV]: incoherent, photoelectric and total (no coherent) [cm^2/g]. */
export interface PhotonAttenuation {
  readonly incoherentCm2PerG: number;
  readonly photoelectricCm2PerG: number;
  readonly totalCm2PerG: number;
}

/** Photon mass attenuation coefficients of a material at photon energy E [MeV] (module header). */
export function photonAttenuation(material: McMaterial, eMeV: number): PhotonAttenuation {
  const p = prepareMaterial(material);
  const incoherent = p.electronsPerGram * kleinNishinaPerElectronCm2(eMeV);
  let photo = 0;
  for (const e of p.elements) photo += e.massFraction * photoelectricMassCm2PerG(e.z, eMeV);
  return { incoherentCm2PerG: incoherent, photoelectricCm2PerG: photo, totalCm2PerG: incoherent + photo };
}
