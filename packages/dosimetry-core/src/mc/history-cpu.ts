/**
 * One Monte Carlo history on the CPU, written plainly in f64 as the oracle of shaders/mc_transport.wgsl: the same f32
 * table values, the same formulas and the same order of random draws, so that a history gives the same result on
 * both back ends up to f32/f64 rounding (a history diverges only where a comparison falls within rounding).
 *
 * Physics: electrons by class II condensed history (Berger 1963, Methods Comput Phys 1:135; PENELOPE's mixed
 * elastic scheme, Baró et al. 1995, NIM B 100:31): continuous restricted loss, hard Møller (W > Wc) and
 * bremsstrahlung (k > kc) events, hard elastic events (Wentzel–Mott), a random-hinge soft deflection, steps that end
 * at voxel faces. Photons: Woodcock tracking (Woodcock et al. 1965) with the problem's majorant, photoelectric
 * absorption and Compton scattering (Klein–Nishina by Kahn's method: Kahn 1954, AECU-3259; Everett & Cashwell 1973,
 * LA-5157-MS), photo- and Compton electrons deposited where the photon interacts.
 *
 * The algorithm, draw by draw (u = next deviate of the history's Philox stream, ./philox.ts; w = next raw word):
 * 1. source: entry k = floor((w1 2^32 + w2) n / 2^64), u: alias test (./source.ts); position (i + u, j + u, l + u)
 *    x voxel size; 2. local energy (conversion/Auger) deposited in the voxel; 3. beta: u < betasPerDecay (the draw is
 *    made even when it is 1), u: inverse CDF (linear in u (n - 1)), isotropic direction (cos θ = 2u − 1, φ = 2π u);
 *    4. each photon line: u < yield, then an isotropic direction; 5. particles popped last in first out from a stack of
 *    {@link MC_STACK_CAPACITY} (a push onto a full stack deposits the particle instead).
 * Electron step at E > cut-off (m, ρ of its voxel; rates at E): s_hard = −ln u / Σλ; s = min(s_hard, s_max, s_stop)
 * with s_max = min(maxStep, max(stepFraction R/ρ, 1e-5 cm)), s_stop = (R(E) − R(cut-off))/ρ; hinge τ = u s. If the
 * face the direction points to (axes i, j, k in order, ties to the lowest) is nearer than τ, the step ends there;
 * else the soft deflection (mean μ = (1 − exp(−s ρ T1(E_m)))/2, E_m = E − ΔE(s)/2; μ = −mean ln u until μ <= 1;
 * rotation by 1 − 2μ with φ = 2π u) and the rest of the step, again ending at a face if one is nearer. Loss ΔE(l) =
 * l ρ S(E − l ρ S(E)/2) (midpoint, E_m >= cut-off), deposited in the step's voxel; a crossing puts the position exactly
 * on the face and moves to the next voxel (leaving the grid: escaped). A hard event (s = s_hard, no crossing): type by
 * u Σλ with the rates at the step's start; Møller (ε by 1/ε^2 sampling and rejection, two draws per trial, as
 * ../kernel/water.ts; delta pushed, or deposited when below the cut-off), bremsstrahlung (k = kc (E/kc)^u, accepted
 * when u 4/3 <= 1 + (1 − x)^2 − 2(1 − x)/3, x = k/(E + mc^2); photon pushed along the electron) or elastic
 * (μ from the Wentzel distribution above μc, u; accepted with the Mott factor over its bound, u; then rotation).
 * Photon flight: s = −ln u / μ_max; outside the grid: escaped; virtual when u μ_max > μ; photoelectric when
 * u < photo share; else Compton (Kahn: three draws per trial) and rotation.
 * Guards: {@link MC_MAX_STEPS_PER_PARTICLE} steps per particle (then it deposits where it is, counted with the stack
 * overflows), {@link MC_MAX_TRIALS} trials per rejection loop (then the last trial).
 *
 * Deposits are rounded to integer tally units (problem.tallyUnitMeV) one by one as floor(max(E, 0)/unit + 0.5), so
 * sums are exact integers and their order does not matter; with `exactF64` the tally holds the unrounded energies
 * [MeV] instead (the oracle for the rounding).
 */
import { ELECTRON_MASS_MEV } from '../kernel/spectrum.ts';
import { PhiloxStream, type HistoryStream } from './philox.ts';
import { sampleSourceEntry } from './source.ts';
import { MC_DENSITY_UNIT, MC_TABLE_POINTS, MC_TABLE_ROWS, McRow, type McProblem } from './types.ts';

/** Largest number of particles waiting on a history's stack (the GPU's private array has the same size). */
export const MC_STACK_CAPACITY = 32;
/** Largest number of steps of one particle before it deposits its energy where it is (counted as a stack overflow). */
export const MC_MAX_STEPS_PER_PARTICLE = 100_000;
/** Largest number of trials of a rejection loop (then the last trial is taken). */
export const MC_MAX_TRIALS = 1000;

/** Energy tally of histories run on the CPU. */
export interface CpuTally {
  /** Per voxel: integer tally units (or unrounded MeV when `exactF64`). */
  readonly energy: Float64Array;
  /** Emitted energy (units, or MeV when exactF64). */
  emitted: number;
  /** Energy that left the grid (units, or MeV when exactF64). */
  escaped: number;
  /** Particles that found the stack full, plus particles stopped by the step guard. */
  stackOverflows: number;
  /** Histories run into this tally. */
  histories: number;
  /** Electron steps (for the report: cost per history). */
  electronSteps: number;
  /** Photon flights (real and virtual interactions). */
  photonSteps: number;
  /** Rounded terms added (deposits, escapes, emissions): |deposited + escaped − emitted| <= roundedTerms / 2 units. */
  roundedTerms: number;
  /** True: deposits are unrounded MeV; false: integer units of problem.tallyUnitMeV. */
  readonly exactF64: boolean;
}

/** A zero tally for `problem`'s grid. */
export function createCpuTally(problem: Pick<McProblem, 'dims'>, opts: { exactF64?: boolean } = {}): CpuTally {
  const n = problem.dims[0] * problem.dims[1] * problem.dims[2];
  return { energy: new Float64Array(n), emitted: 0, escaped: 0, stackOverflows: 0, histories: 0, electronSteps: 0, photonSteps: 0, roundedTerms: 0, exactF64: opts.exactF64 === true };
}

const TWO_PI = 2 * Math.PI;
const MC2 = ELECTRON_MASS_MEV;
const N = MC_TABLE_POINTS;
const ROW_STRIDE = MC_TABLE_ROWS * N;
/** Stack entry: kind (0 electron, 1 photon), E, x, y, z, u, v, w, i, j, l. */
const ENTRY = 11;
/** Slots of the transport's state array (see runHistoriesCpu). */
const DU = 0;
const DV = 1;
const DW = 2;
const EX = 3;
const EY = 4;
const EZ = 5;
const TW = 6;
const EAFTER = 7;

/**
 * Compton scattering of a photon of energy k = E / mc^2 by Kahn's rejection method (Kahn 1954, AECU-3259; as given
 * by Everett & Cashwell 1973, LA-5157-MS): returns x = E / E' in [1, 1 + 2k], distributed as the Klein–Nishina
 * cross section, dσ/dx ∝ (1/x^2)(x + 1/x − 1 + cos^2 θ), cos θ = 1 − (x − 1)/k. Three draws per trial (r1: branch,
 * r2: x, r3: acceptance), at most MC_MAX_TRIALS trials (then the last x).
 */
export function kahnCompton(k: number, rng: HistoryStream): number {
  const b1 = (1 + 2 * k) / (9 + 2 * k);
  let xi = 1;
  for (let trial = 0; trial < MC_MAX_TRIALS; trial++) {
    const r1 = rng.next();
    const r2 = rng.next();
    const r3 = rng.next();
    if (r1 <= b1) {
      xi = 1 + 2 * k * r2;
      if (r3 <= 4 * (1 / xi - 1 / (xi * xi))) break;
    } else {
      xi = (1 + 2 * k) / (1 + 2 * k * r2);
      const c = 1 - (xi - 1) / k;
      if (r3 <= 0.5 * (c * c + 1 / xi)) break;
    }
  }
  return xi;
}

/**
 * Runs histories h = first .. first + count - 1 of `seed` on this thread into `tally` (see the module header).
 * A history is a pure function of (problem, seed, h).
 */
export function runHistoriesCpu(problem: McProblem, seed: number, first: number, count: number, tally: CpuTally): void {
  const [nx, ny, nz] = problem.dims;
  const nxy = nx * ny;
  const vx = problem.voxelCm[0];
  const vy = problem.voxelCm[1];
  const vz = problem.voxelCm[2];
  const media = problem.media;
  const t = problem.tables;
  const data = t.data;
  const lnMin = t.lnMinMeV;
  const dLn = t.dLn;
  const cut = t.cutoffs;
  const eCut = cut.electronCutoffMeV;
  const wc = cut.deltaThresholdMeV;
  const kc = cut.bremsThresholdMeV;
  const pCut = cut.photonCutoffMeV;
  const stepFraction = cut.stepFraction;
  const maxStep = cut.maxStepCm;
  const majorant = problem.photonMajorantPerCm;
  const em = problem.emissions;
  const cdf = em.betaInverseCdfMeV;
  const nCdf = cdf.length;
  const betasPerDecay = em.betasPerDecay;
  const lines = em.photonLines;
  const nLines = lines.length;
  const local = em.localMeVPerDecay;
  const srcVoxel = problem.sourceVoxel;
  const exact = tally.exactF64;
  const unit = problem.tallyUnitMeV;
  const energy = tally.energy;
  const nMat = t.materials.length;
  // row offsets and constants as locals (module imports are live bindings: a property load each in the hot loop)
  const ROW_ElectronRange = McRow.ElectronRange * N;
  const ROW_ElectronStopping = McRow.ElectronStopping * N;
  const ROW_ElectronMoller = McRow.ElectronMoller * N;
  const ROW_ElectronBrems = McRow.ElectronBrems * N;
  const ROW_ElasticHardRate = McRow.ElasticHardRate * N;
  const ROW_ElasticScreening = McRow.ElasticScreening * N;
  const ROW_ElasticMuCut = McRow.ElasticMuCut * N;
  const ROW_ElasticMottC = McRow.ElasticMottC * N;
  const ROW_ElasticSoftT1 = McRow.ElasticSoftT1 * N;
  const ROW_PhotonTotal = McRow.PhotonTotal * N;
  const ROW_PhotonPhotoFraction = McRow.PhotonPhotoFraction * N;
  const DENSITY_UNIT = MC_DENSITY_UNIT;

  // Mutable doubles of the transport live in one Float64Array: doubles in closure variables are boxed by V8 (a heap
  // allocation per write), typed array elements are not. DU..DW: direction of the particle being transported;
  // EX..EZ: electron position; TW: table weight of the last locate(); EAFTER: energy after a Møller/brems event.
  const st = new Float64Array(8);
  let ti = 0;
  // table position (index and weight) of an energy, as the spec's lookup()
  const locate = (e: number): void => {
    let f = (Math.log(e) - lnMin) / dLn;
    if (f < 0) f = 0;
    else if (f > N - 1) f = N - 1;
    let i = Math.floor(f);
    if (i > N - 2) i = N - 2;
    ti = i;
    st[TW] = f - i;
  };
  const at = (base: number): number => {
    const a = data[base + ti];
    return a + st[TW] * (data[base + ti + 1] - a);
  };
  // range at the electron cut-off per material (lookup(ElectronRange, m, electronCutoff))
  const rangeCut = new Float64Array(nMat);
  locate(eCut);
  for (let m = 0; m < nMat; m++) rangeCut[m] = at(m * ROW_STRIDE + ROW_ElectronRange);

  const rng = new PhiloxStream(seed, first);
  const stack = new Float64Array(MC_STACK_CAPACITY * ENTRY);
  let sp = 0;
  // direction of the particle being transported

  // round(x) = floor(x + 0.5) on max(E, 0) (Math.round for x >= 0; WGSL's round() is half-to-even, so both use this)
  let rounded = 0;
  const units = (e: number): number => {
    rounded++;
    return exact ? e : Math.floor((e > 0 ? e : 0) / unit + 0.5);
  };
  const deposit = (vi: number, e: number): void => {
    rounded++;
    energy[vi] += exact ? e : Math.floor((e > 0 ? e : 0) / unit + 0.5);
  };
  /** rotate (st[DU], st[DV], st[DW]) by polar cosine cosT and a uniform azimuth (one draw); as src/kernel/transport.ts. */
  const rotate = (cosT: number): void => {
    const sinT = Math.sqrt(Math.max(0, 1 - cosT * cosT));
    const phi = TWO_PI * rng.next();
    const cp = Math.cos(phi);
    const spn = Math.sin(phi);
    const u = st[DU];
    const v = st[DV];
    const w = st[DW];
    const rho2 = u * u + v * v;
    let a: number;
    let b: number;
    let c: number;
    if (rho2 > 1e-20) {
      const rho = Math.sqrt(rho2);
      a = u * cosT + (sinT * (u * w * cp - v * spn)) / rho;
      b = v * cosT + (sinT * (v * w * cp + u * spn)) / rho;
      c = w * cosT - rho * sinT * cp;
    } else {
      const sgn = w >= 0 ? 1 : -1;
      a = sinT * cp;
      b = sinT * spn;
      c = sgn * cosT;
    }
    const norm = 1 / Math.sqrt(a * a + b * b + c * c);
    st[DU] = a * norm;
    st[DV] = b * norm;
    st[DW] = c * norm;
  };
  const isotropic = (): void => {
    const cz = 2 * rng.next() - 1;
    const phi = TWO_PI * rng.next();
    const sz = Math.sqrt(Math.max(0, 1 - cz * cz));
    st[DU] = sz * Math.cos(phi);
    st[DV] = sz * Math.sin(phi);
    st[DW] = cz;
  };
  /** Pushes a particle; on a full stack deposits it (electron: voxel; photon: voxel of its position) instead. */
  const push = (kind: number, e: number, x: number, y: number, z: number, i: number, j: number, l: number): void => {
    if (sp === MC_STACK_CAPACITY) {
      tally.stackOverflows++;
      if (kind === 0) deposit(i + nx * j + nxy * l, e);
      else depositAtPosition(e, x, y, z);
      return;
    }
    const o = sp * ENTRY;
    stack[o] = kind;
    stack[o + 1] = e;
    stack[o + 2] = x;
    stack[o + 3] = y;
    stack[o + 4] = z;
    stack[o + 5] = st[DU];
    stack[o + 6] = st[DV];
    stack[o + 7] = st[DW];
    stack[o + 8] = i;
    stack[o + 9] = j;
    stack[o + 10] = l;
    sp++;
  };
  const depositAtPosition = (e: number, x: number, y: number, z: number): void => {
    const i = Math.floor(x / vx);
    const j = Math.floor(y / vy);
    const l = Math.floor(z / vz);
    if (i < 0 || j < 0 || l < 0 || i >= nx || j >= ny || l >= nz) tally.escaped += units(e);
    else deposit(i + nx * j + nxy * l, e);
  };

  // ---------------------------------------------------------------- electron
  let ei = 0;
  let ej = 0;
  let el = 0;
  /**
   * Restricted continuous loss over a path s [cm] from energy e (two-point midpoint rule); stopE = the stopping power
   * at e (lookup(ElectronStopping, m, e), computed once per step).
   */
  const energyLoss = (base: number, rho: number, e: number, stopE: number, s: number): number => {
    const dE1 = s * rho * stopE;
    let em = e - 0.5 * dE1;
    if (em < eCut) em = eCut;
    locate(em);
    const dE = s * rho * at(base + ROW_ElectronStopping);
    return dE < e ? dE : e;
  };
  /** Distance along (st[DU], st[DV], st[DW]) to the face of voxel (ei, ej, el) the direction points to; sets `axis`, `sign`. */
  let axis = 0;
  let sign = 0;
  const toBoundary = (): number => {
    let d = Infinity;
    axis = -1;
    sign = 0;
    if (st[DU] > 1e-12) {
      d = ((ei + 1) * vx - st[EX]) / st[DU];
      axis = 0;
      sign = 1;
    } else if (st[DU] < -1e-12) {
      d = (ei * vx - st[EX]) / st[DU];
      axis = 0;
      sign = -1;
    }
    if (st[DV] > 1e-12) {
      const dd = ((ej + 1) * vy - st[EY]) / st[DV];
      if (dd < d) {
        d = dd;
        axis = 1;
        sign = 1;
      }
    } else if (st[DV] < -1e-12) {
      const dd = (ej * vy - st[EY]) / st[DV];
      if (dd < d) {
        d = dd;
        axis = 1;
        sign = -1;
      }
    }
    if (st[DW] > 1e-12) {
      const dd = ((el + 1) * vz - st[EZ]) / st[DW];
      if (dd < d) {
        d = dd;
        axis = 2;
        sign = 1;
      }
    } else if (st[DW] < -1e-12) {
      const dd = (el * vz - st[EZ]) / st[DW];
      if (dd < d) {
        d = dd;
        axis = 2;
        sign = -1;
      }
    }
    return d < 0 ? 0 : d;
  };

  const transportElectron = (e0: number): void => {
    let e = e0;
    let vi = ei + nx * ej + nxy * el;
    for (let step = 0; ; step++) {
      if (e <= eCut) {
        deposit(vi, e);
        return;
      }
      if (step >= MC_MAX_STEPS_PER_PARTICLE) {
        tally.stackOverflows++;
        deposit(vi, e);
        return;
      }
      tally.electronSteps++;
      const med = media[vi];
      const base = (med >>> 24) * ROW_STRIDE;
      const rho = (med & 0xffffff) * DENSITY_UNIT;
      locate(e);
      const lamM = e > 2 * wc ? rho * at(base + ROW_ElectronMoller) : 0;
      const lamB = e > kc ? rho * at(base + ROW_ElectronBrems) : 0;
      const lamEl = rho * at(base + ROW_ElasticHardRate);
      const lamTot = lamM + lamB + lamEl;
      const range = at(base + ROW_ElectronRange) / rho;
      const stopE = at(base + ROW_ElectronStopping);
      const sHard = -Math.log(rng.next()) / lamTot;
      const sStop = range - rangeCut[med >>> 24] / rho;
      const sMax = Math.min(maxStep, Math.max(stepFraction * range, 1e-5));
      let s = sHard;
      let kind = 2; // 2 hard event, 1 step limit, 0 stop at the cut-off
      if (sMax < s) {
        s = sMax;
        kind = 1;
      }
      if (sStop <= s) {
        s = sStop;
        kind = 0;
      }
      const tau = rng.next() * s;
      let travelled: number;
      let cross = false;
      let lossFull = -1; // energyLoss over the full step, when computed
      const dB = toBoundary();
      if (dB < tau) {
        travelled = dB;
        cross = true;
        st[EX] += st[DU] * dB;
        st[EY] += st[DV] * dB;
        st[EZ] += st[DW] * dB;
      } else {
        st[EX] += st[DU] * tau;
        st[EY] += st[DV] * tau;
        st[EZ] += st[DW] * tau;
        // soft deflection at the hinge, with the mean energy of the full step
        lossFull = energyLoss(base, rho, e, stopE, s);
        locate(e - 0.5 * lossFull);
        const chi = s * rho * at(base + ROW_ElasticSoftT1);
        const meanMu = 0.5 * (1 - Math.exp(-chi));
        if (meanMu > 0) {
          let mu = 0;
          for (let trial = 0; trial < MC_MAX_TRIALS; trial++) {
            mu = -meanMu * Math.log(rng.next());
            if (mu <= 1) break;
          }
          if (mu > 1) mu = 1;
          rotate(1 - 2 * mu);
        }
        const rest = s - tau;
        const dB2 = toBoundary();
        if (dB2 < rest) {
          travelled = tau + dB2;
          cross = true;
          st[EX] += st[DU] * dB2;
          st[EY] += st[DV] * dB2;
          st[EZ] += st[DW] * dB2;
        } else {
          travelled = s;
          st[EX] += st[DU] * rest;
          st[EY] += st[DV] * rest;
          st[EZ] += st[DW] * rest;
        }
      }
      if (kind === 0 && !cross) {
        deposit(vi, e);
        return;
      }
      const dE = !cross && lossFull >= 0 ? lossFull : energyLoss(base, rho, e, stopE, travelled);
      deposit(vi, dE);
      e -= dE;
      if (cross) {
        if (axis === 0) {
          st[EX] = (sign > 0 ? ei + 1 : ei) * vx;
          ei += sign;
          if (ei < 0 || ei >= nx) {
            tally.escaped += units(e);
            return;
          }
        } else if (axis === 1) {
          st[EY] = (sign > 0 ? ej + 1 : ej) * vy;
          ej += sign;
          if (ej < 0 || ej >= ny) {
            tally.escaped += units(e);
            return;
          }
        } else {
          st[EZ] = (sign > 0 ? el + 1 : el) * vz;
          el += sign;
          if (el < 0 || el >= nz) {
            tally.escaped += units(e);
            return;
          }
        }
        vi = ei + nx * ej + nxy * el;
        continue;
      }
      if (kind !== 2) continue;
      // hard event; its type from the rates at the step's start energy, the event at the current energy
      const pick = rng.next() * lamTot;
      if (pick < lamM) {
        if (e > 2 * wc) {
          mollerEvent(e, vi);
          e = st[EAFTER];
        }
      } else if (pick < lamM + lamB) {
        if (e > kc) {
          bremsEvent(e);
          e = st[EAFTER];
        }
      } else {
        elasticEvent(base, e);
      }
    }
  };
  /** Møller collision of an electron of energy e at (st[EX], st[EY], st[EZ]) in voxel vi; sets st[EAFTER]. */
  const mollerEvent = (e: number, vi: number): void => {
    // sampleMollerFraction of src/kernel/water.ts (two draws per trial)
    const tauE = e / MC2;
    const gamma = tauE + 1;
    const c1 = (tauE / gamma) ** 2;
    const c2 = (2 * tauE + 1) / (gamma * gamma);
    const e0 = wc / e;
    let eps = 0;
    for (let trial = 0; trial < MC_MAX_TRIALS; trial++) {
      eps = e0 / (1 - rng.next() * (1 - 2 * e0));
      const r = eps / (1 - eps);
      const g = 1 + r * r + c1 * eps * eps - c2 * r;
      if (rng.next() * 2.25 <= g) break;
    }
    const w = eps * e;
    const ep = e - w;
    const twoM = 2 * MC2;
    const cosP = Math.sqrt(Math.min(1, (ep / e) * ((e + twoM) / (ep + twoM))));
    const cosD = Math.sqrt(Math.min(1, (w / e) * ((e + twoM) / (w + twoM))));
    const u0 = st[DU];
    const v0 = st[DV];
    const w0 = st[DW];
    rotate(cosP);
    const sinP = Math.sqrt(Math.max(0, 1 - cosP * cosP));
    const sinD = Math.sqrt(Math.max(0, 1 - cosD * cosD));
    let qu = u0;
    let qv = v0;
    let qw = w0;
    if (sinP > 1e-12) {
      const nu = (st[DU] - cosP * u0) / sinP;
      const nv = (st[DV] - cosP * v0) / sinP;
      const nw = (st[DW] - cosP * w0) / sinP;
      qu = cosD * u0 - sinD * nu;
      qv = cosD * v0 - sinD * nv;
      qw = cosD * w0 - sinD * nw;
    }
    if (w <= eCut) deposit(vi, w);
    else {
      const pu = st[DU];
      const pv = st[DV];
      const pw = st[DW];
      st[DU] = qu;
      st[DV] = qv;
      st[DW] = qw;
      push(0, w, st[EX], st[EY], st[EZ], ei, ej, el);
      st[DU] = pu;
      st[DV] = pv;
      st[DW] = pw;
    }
    st[EAFTER] = ep;
  };
  /** Bremsstrahlung of an electron of energy e: photon along the electron's direction; sets st[EAFTER]. */
  const bremsEvent = (e: number): void => {
    let k = 0;
    const ratio = e / kc;
    for (let trial = 0; trial < MC_MAX_TRIALS; trial++) {
      k = kc * Math.pow(ratio, rng.next());
      const x = k / (e + MC2);
      const g = 1 + (1 - x) * (1 - x) - (2 / 3) * (1 - x);
      if (rng.next() * (4 / 3) <= g) break;
    }
    push(1, k, st[EX], st[EY], st[EZ], ei, ej, el);
    st[EAFTER] = e - k;
  };
  /** Hard elastic event (Wentzel–Mott above μc, thinned by the Mott factor's bound). */
  const elasticEvent = (base: number, e: number): void => {
    locate(e);
    const a = at(base + ROW_ElasticScreening);
    const muC = at(base + ROW_ElasticMuCut);
    const c = at(base + ROW_ElasticMottC);
    const gamma = 1 + e / MC2;
    const beta2 = 1 - 1 / (gamma * gamma);
    const inv0 = 1 / (muC + a);
    const mu = 1 / (inv0 - rng.next() * (inv0 - 1 / (1 + a))) - a;
    const sq = Math.sqrt(Math.max(0, mu));
    const r = 1 - beta2 * mu + c * sq * (1 - sq);
    const rMax = 1 + c / 4;
    if (rng.next() * rMax <= r) rotate(1 - 2 * mu);
  };

  // ---------------------------------------------------------------- photon
  const transportPhoton = (e0: number, x0: number, y0: number, z0: number): void => {
    let e = e0;
    let x = x0;
    let y = y0;
    let z = z0;
    for (let step = 0; ; step++) {
      if (e <= pCut) {
        depositAtPosition(e, x, y, z);
        return;
      }
      if (step >= MC_MAX_STEPS_PER_PARTICLE) {
        tally.stackOverflows++;
        depositAtPosition(e, x, y, z);
        return;
      }
      tally.photonSteps++;
      locate(e);
      const muMax = majorant[ti] + st[TW] * (majorant[ti + 1] - majorant[ti]);
      const s = -Math.log(rng.next()) / muMax;
      x += st[DU] * s;
      y += st[DV] * s;
      z += st[DW] * s;
      const i = Math.floor(x / vx);
      const j = Math.floor(y / vy);
      const l = Math.floor(z / vz);
      if (i < 0 || j < 0 || l < 0 || i >= nx || j >= ny || l >= nz) {
        tally.escaped += units(e);
        return;
      }
      const vi = i + nx * j + nxy * l;
      const med = media[vi];
      const base = (med >>> 24) * ROW_STRIDE;
      const rho = (med & 0xffffff) * DENSITY_UNIT;
      const mu = rho * at(base + ROW_PhotonTotal);
      if (rng.next() * muMax > mu) continue; // virtual interaction
      if (rng.next() < at(base + ROW_PhotonPhotoFraction)) {
        deposit(vi, e);
        return;
      }
      // Compton: Kahn's method (three draws per trial)
      const k = e / MC2;
      const xi = kahnCompton(k, rng);
      let cosT = 1 - (xi - 1) / k;
      if (cosT < -1) cosT = -1;
      else if (cosT > 1) cosT = 1;
      const ep = e / (1 + k * (1 - cosT));
      deposit(vi, e - ep);
      rotate(cosT);
      e = ep;
    }
  };

  // ---------------------------------------------------------------- histories
  const last = first + count;
  for (let h = first; h < last; h++) {
    rng.reset(seed, h);
    // 1. source voxel (two raw words, then the alias test) and position
    const v = srcVoxel[sampleSourceEntry(rng, problem)];
    const l0 = Math.floor(v / nxy);
    const rem = v - l0 * nxy;
    const j0 = Math.floor(rem / nx);
    const i0 = rem - j0 * nx;
    const x0 = (i0 + rng.next()) * vx;
    const y0 = (j0 + rng.next()) * vy;
    const z0 = (l0 + rng.next()) * vz;
    // 2. energy deposited at the decay site
    if (local > 0) {
      deposit(v, local);
      tally.emitted += units(local);
    }
    sp = 0;
    // 3. beta
    if (rng.next() < betasPerDecay) {
      const f = rng.next() * (nCdf - 1);
      let i = Math.floor(f);
      if (i > nCdf - 2) i = nCdf - 2;
      const eb = cdf[i] + (f - i) * (cdf[i + 1] - cdf[i]);
      isotropic();
      tally.emitted += units(eb);
      push(0, eb, x0, y0, z0, i0, j0, l0);
    }
    // 4. photon lines, each with its yield
    for (let q = 0; q < nLines; q++) {
      const line = lines[q];
      if (rng.next() < line.yieldPerDecay) {
        isotropic();
        tally.emitted += units(line.energyMeV);
        push(1, line.energyMeV, x0, y0, z0, i0, j0, l0);
      }
    }
    // 5. transport, last in first out
    while (sp > 0) {
      sp--;
      const o = sp * ENTRY;
      const e = stack[o + 1];
      st[DU] = stack[o + 5];
      st[DV] = stack[o + 6];
      st[DW] = stack[o + 7];
      if (stack[o] === 0) {
        st[EX] = stack[o + 2];
        st[EY] = stack[o + 3];
        st[EZ] = stack[o + 4];
        ei = stack[o + 8];
        ej = stack[o + 9];
        el = stack[o + 10];
        transportElectron(e);
      } else transportPhoton(e, stack[o + 2], stack[o + 3], stack[o + 4]);
    }
    tally.histories++;
  }
  tally.roundedTerms += rounded;
}
