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
 * Source biasing (problem.sourceWeight, ./source.ts buildBiasedSource): a history from entry k carries w = sourceWeight[k]
 * and every deposit, escape and emission is rounded as floor(max(E, 0) / (unit / w) + 0.5), i.e. E w in units; w = 1
 * (or no weights) gives unit / 1 = unit: the analog bits. Not with `exactF64` (refused).
 */
import { InputError } from '../errors.ts';
import { ELECTRON_MASS_MEV } from '../kernel/spectrum.ts';
import type { HistoryStream } from './philox.ts';
import { pickEntry } from './source.ts';
import { MC_DENSITY_UNIT, MC_KEY_HI, MC_TABLE_POINTS, MC_TABLE_ROWS, McRow, type McProblem } from './types.ts';

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
export function createCpuTally(problem: Pick<McProblem, 'dims'>, opts: { exactF64?: boolean; energy?: Float64Array } = {}): CpuTally {
  const n = problem.dims[0] * problem.dims[1] * problem.dims[2];
  // `energy`: an array to reuse (zeroed here) when it has the grid's size
  const energy = opts.energy?.length === n ? opts.energy.fill(0) : new Float64Array(n);
  return { energy, emitted: 0, escaped: 0, stackOverflows: 0, histories: 0, electronSteps: 0, photonSteps: 0, roundedTerms: 0, exactF64: opts.exactF64 === true };
}

const TWO_PI = 2 * Math.PI;
const MC2 = ELECTRON_MASS_MEV;
const N = MC_TABLE_POINTS;
const ROW_STRIDE = MC_TABLE_ROWS * N;
/** Stack entry: kind (0 electron, 1 photon), E, x, y, z, u, v, w, i, j, l. */
const ENTRY = 11;

// ---------------------------------------------------------------- Philox, in blocks ahead of the draws
// The stream of ./philox.ts (PhiloxStream), generated RANDOM_BLOCKS blocks at a time into a buffer of raw words and
// their deviates: a history's words are a pure function of (seed, h, position), so words generated ahead and not
// used change nothing. The same words as philox4x32, in int32 arithmetic only (the bits of a u32 held as int32):
// with M = mh 2^16 + ml (a round's constant) and c = ch 2^16 + cl, the high word of M c is
//   mh ch + (t >>> 16) + (((t & 0xffff) + ml ch) >>> 16),  t = mh cl + ((ml cl) >>> 16),
// where every partial product is below 2^32 (Math.imul's low word is then the whole product) and both partial sums
// stay below 2^32 (t <= 2^32 − 2^16; (t & 0xffff) + ml ch <= 2^32 − 2^16): the integer of mulhi32's split,
// floor((mh cl + ml ch + ((ml cl) >>> 16)) / 2^16) + mh ch.
/** Philox blocks per buffer fill (even: philoxFill runs two blocks per pass). */
const RANDOM_BLOCKS = 8;
/** Words per buffer fill. */
const RANDOM_WORDS = 4 * RANDOM_BLOCKS;
const PHILOX_W0 = 0x9e3779b9;
const PHILOX_W1 = 0xbb67ae85;

/** Round keys of Philox-4x32-10 for key (seed, MC_KEY_HI), as int32: keys[2r], keys[2r + 1] of round r. */
function philoxRoundKeys(seed: number): Int32Array {
  const keys = new Int32Array(20);
  let k0 = seed >>> 0;
  let k1 = MC_KEY_HI >>> 0;
  for (let r = 0; r < 10; r++) {
    if (r > 0) {
      k0 = (k0 + PHILOX_W0) >>> 0;
      k1 = (k1 + PHILOX_W1) >>> 0;
    }
    keys[2 * r] = k0;
    keys[2 * r + 1] = k1;
  }
  return keys;
}

/**
 * Blocks block0 .. block0 + RANDOM_BLOCKS − 1 (mod 2^32) of history (hLo, hHi) (counter (hLo, hHi, block, 0)) into
 * raw[0..) (u32 words) and their deviates ((x >>> 8) + 0.5) 2^-24 into dev[0..). Two blocks per pass (independent
 * chains for the CPU to overlap); the constants are literals (0xd2511f53 = 0xd251 2^16 + 0x1f53, 0xcd9e8d57 =
 * 0xcd9e 2^16 + 0x8d57) so that they fold also where a bundler turns module constants into mutable variables.
 */
function philoxFill(hLo: number, hHi: number, block0: number, keys: Int32Array, raw: Uint32Array, dev: Float64Array): void {
  for (let b = 0; b < RANDOM_BLOCKS; b += 2) {
    // block b: (c0, c1, c2, c3); block b + 1: (g0, g1, g2, g3)
    let c0 = hLo | 0;
    let c1 = hHi | 0;
    let c2 = (block0 + b) | 0;
    let c3 = 0;
    let g0 = c0;
    let g1 = c1;
    let g2 = (block0 + b + 1) | 0;
    let g3 = 0;
    for (let r = 0; r < 20; r += 2) {
      const k0 = keys[r];
      const k1 = keys[r + 1];
      // high words of M0 c0 and M1 c2 (see the section comment), low words by Math.imul
      const cl0 = c0 & 0xffff;
      const ch0 = c0 >>> 16;
      const ct0 = (Math.imul(0xd251, cl0) >>> 0) + (Math.imul(0x1f53, cl0) >>> 16);
      const chi0 = (Math.imul(0xd251, ch0) + (ct0 >>> 16) + (((ct0 & 0xffff) + (Math.imul(0x1f53, ch0) >>> 0)) >>> 16)) | 0;
      const cl2 = c2 & 0xffff;
      const ch2 = c2 >>> 16;
      const ct2 = (Math.imul(0xcd9e, cl2) >>> 0) + (Math.imul(0x8d57, cl2) >>> 16);
      const chi1 = (Math.imul(0xcd9e, ch2) + (ct2 >>> 16) + (((ct2 & 0xffff) + (Math.imul(0x8d57, ch2) >>> 0)) >>> 16)) | 0;
      const gl0 = g0 & 0xffff;
      const gh0 = g0 >>> 16;
      const gt0 = (Math.imul(0xd251, gl0) >>> 0) + (Math.imul(0x1f53, gl0) >>> 16);
      const ghi0 = (Math.imul(0xd251, gh0) + (gt0 >>> 16) + (((gt0 & 0xffff) + (Math.imul(0x1f53, gh0) >>> 0)) >>> 16)) | 0;
      const gl2 = g2 & 0xffff;
      const gh2 = g2 >>> 16;
      const gt2 = (Math.imul(0xcd9e, gl2) >>> 0) + (Math.imul(0x8d57, gl2) >>> 16);
      const ghi1 = (Math.imul(0xcd9e, gh2) + (gt2 >>> 16) + (((gt2 & 0xffff) + (Math.imul(0x8d57, gh2) >>> 0)) >>> 16)) | 0;
      const cp0 = Math.imul(0xd2511f53, c0);
      const cp1 = Math.imul(0xcd9e8d57, c2);
      const gp0 = Math.imul(0xd2511f53, g0);
      const gp1 = Math.imul(0xcd9e8d57, g2);
      c0 = chi1 ^ c1 ^ k0;
      c1 = cp1;
      c2 = chi0 ^ c3 ^ k1;
      c3 = cp0;
      g0 = ghi1 ^ g1 ^ k0;
      g1 = gp1;
      g2 = ghi0 ^ g3 ^ k1;
      g3 = gp0;
    }
    const o = 4 * b;
    raw[o] = c0;
    raw[o + 1] = c1;
    raw[o + 2] = c2;
    raw[o + 3] = c3;
    raw[o + 4] = g0;
    raw[o + 5] = g1;
    raw[o + 6] = g2;
    raw[o + 7] = g3;
    dev[o] = ((c0 >>> 8) + 0.5) * 5.9604644775390625e-8; // 2^-24
    dev[o + 1] = ((c1 >>> 8) + 0.5) * 5.9604644775390625e-8;
    dev[o + 2] = ((c2 >>> 8) + 0.5) * 5.9604644775390625e-8;
    dev[o + 3] = ((c3 >>> 8) + 0.5) * 5.9604644775390625e-8;
    dev[o + 4] = ((g0 >>> 8) + 0.5) * 5.9604644775390625e-8;
    dev[o + 5] = ((g1 >>> 8) + 0.5) * 5.9604644775390625e-8;
    dev[o + 6] = ((g2 >>> 8) + 0.5) * 5.9604644775390625e-8;
    dev[o + 7] = ((g3 >>> 8) + 0.5) * 5.9604644775390625e-8;
  }
}

/**
 * Rotates the direction d[0..2] by polar cosine cosT and azimuth φ = 2π r (r: the deviate drawn for it); as
 * src/kernel/transport.ts.
 */
function rotate(d: Float64Array, cosT: number, r: number): void {
  const sinT = Math.sqrt(Math.max(0, 1 - cosT * cosT));
  const phi = TWO_PI * r;
  const cp = Math.cos(phi);
  const spn = Math.sin(phi);
  const u = d[0];
  const v = d[1];
  const w = d[2];
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
  d[0] = a * norm;
  d[1] = b * norm;
  d[2] = c * norm;
}

/**
 * Compton scattering of a photon of energy k = E / mc^2 by Kahn's rejection method (Kahn 1954, AECU-3259; as given
 * by Everett & Cashwell 1973, LA-5157-MS): returns x = E / E' in [1, 1 + 2k], distributed as the Klein–Nishina
 * cross section, dσ/dx ∝ (1/x^2)(x + 1/x − 1 + cos^2 θ), cos θ = 1 − (x − 1)/k. Three draws per trial (r1: branch,
 * r2: x, r3: acceptance), at most MC_MAX_TRIALS trials (then the last x). (runHistoriesCpu runs the same loop inline.)
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
 *
 * Written for speed (1.7-1.8x the plain closure-per-operation form on one V8 thread; scripts/bench/mc-cpu-speed.ts),
 * with results identical bit for bit to it (test/mc/history-cpu-golden.test.ts holds the tallies' SHA-256): one loop
 * per particle with its whole state in typed local variables (table lookups, boundary distances and the hot
 * rotations written out; no closure calls per step, no heap numbers), the Philox words generated a buffer ahead
 * (`if (rp === RANDOM_WORDS_) rp = refill() | 0;` before each draw) with int32-only arithmetic, tally counters summed
 * locally. Every f64 expression is the algorithm's, with the same operands in the same order: change one only as a
 * deliberate change of the physics (and the WGSL port with it).
 */
export function runHistoriesCpu(problem: McProblem, seed: number, first: number, count: number, tally: CpuTally): void {
  const nx = problem.dims[0];
  const ny = problem.dims[1];
  const nz = problem.dims[2];
  const nxy = nx * ny;
  // voxel indices are int32 in the loops below (buildMcProblem allows at most 2^31 voxels)
  if (!(nxy * nz < 2 ** 31)) throw new InputError(`grid ${nx}x${ny}x${nz} has ${nxy * nz} voxels; the CPU Monte Carlo indexes fewer than 2^31: resample coarser`);
  const vx = problem.voxelCm[0];
  const vy = problem.voxelCm[1];
  const vz = problem.voxelCm[2];
  const media = problem.media;
  const t = problem.tables;
  const data = t.data;
  const majorant = problem.photonMajorantPerCm;
  const lnMin = t.lnMinMeV;
  const dLn = t.dLn;
  const cut = t.cutoffs;
  const eCut = cut.electronCutoffMeV;
  const wc = cut.deltaThresholdMeV;
  const twoWc = 2 * wc;
  const kc = cut.bremsThresholdMeV;
  const pCut = cut.photonCutoffMeV;
  const stepFraction = cut.stepFraction;
  const maxStep = cut.maxStepCm;
  const em = problem.emissions;
  const cdf = em.betaInverseCdfMeV;
  const nCdf = cdf.length;
  const betasPerDecay = em.betasPerDecay;
  const nLines = em.photonLines.length;
  const lineEnergy = new Float64Array(nLines);
  const lineYield = new Float64Array(nLines);
  for (let q = 0; q < nLines; q++) {
    lineEnergy[q] = em.photonLines[q].energyMeV;
    lineYield[q] = em.photonLines[q].yieldPerDecay;
  }
  const local = em.localMeVPerDecay;
  const srcVoxel = problem.sourceVoxel;
  const srcProb = problem.sourceProbability;
  const srcAlias = problem.sourceAlias;
  const nSrc = srcProb.length;
  const exact = tally.exactF64;
  const baseUnit = problem.tallyUnitMeV;
  // source biasing: the history's weight w scales every rounded term, floor(E / (unit / w) + 0.5); w = 1 leaves unit
  // (and every bit of the analog path) unchanged
  const srcWeight = problem.sourceWeight;
  if (srcWeight !== undefined && exact) throw new InputError('the exact-f64 tally does not take source weights; run the biased source with integer tally units');
  if (srcWeight !== undefined && srcWeight.length !== srcProb.length) throw new InputError('sourceWeight differs in length from the alias table; build it with buildBiasedSource');
  let unit = baseUnit;
  const energy = tally.energy;
  const nMat = t.materials.length;
  const MAX_STEPS = MC_MAX_STEPS_PER_PARTICLE;
  const MAX_TRIALS = MC_MAX_TRIALS;
  const CAPACITY = MC_STACK_CAPACITY;
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
  const N1 = N - 1;
  const N2 = N - 2;

  // Table position of an energy, as the spec's lookup(): f = (ln E − lnMin)/dLn clamped to [0, N − 1],
  // ti = min(floor f, N − 2), tw = f − ti; a row's value is data[o + ti] + tw (data[o + ti + 1] − data[o + ti]).
  // Written out at each use, in local variables of each transport loop (a double in a closure's context is boxed,
  // a heap allocation per write); an electron's lookups reuse ti/tw while the energy is the same.

  // range at the electron cut-off per material (lookup(ElectronRange, m, electronCutoff))
  const rangeCut = new Float64Array(nMat);
  {
    let f = (Math.log(eCut) - lnMin) / dLn;
    if (f < 0) f = 0;
    else if (f > N1) f = N1;
    let ti = Math.floor(f);
    if (ti > N2) ti = N2;
    const tw = f - ti;
    for (let m = 0; m < nMat; m++) {
      const o = m * ROW_STRIDE + ROW_ElectronRange + ti;
      const a0 = data[o];
      rangeCut[m] = a0 + tw * (data[o + 1] - a0);
    }
  }

  // random words of the current history: raw[rpos], dev[rpos]; refill() generates the next RANDOM_BLOCKS blocks
  const keys = philoxRoundKeys(seed);
  const raw = new Uint32Array(RANDOM_WORDS);
  const dev = new Float64Array(RANDOM_WORDS);
  let hLo = 0;
  let hHi = 0;
  let block = 0;
  /** Position of the next word in raw/dev (the transport loops keep it in a local `rp` while they run). */
  let rpos = 0;
  const refill = (): number => {
    philoxFill(hLo, hHi, block, keys, raw, dev);
    block = (block + RANDOM_BLOCKS) >>> 0;
    return 0;
  };

  const stack = new Float64Array(CAPACITY * ENTRY);
  let sp = 0;
  /** Direction of the particle being transported (rotate() works on it). */
  const d = new Float64Array(3);

  let rounded = 0;
  // (emitted and escaped: the same sums in the same order as adding to the tally directly, which matters with exactF64)
  let emitted = tally.emitted;
  let escaped = tally.escaped;
  let overflows = 0;
  let electronSteps = 0;
  let photonSteps = 0;
  let histories = 0;

  // Deposits: round(x) = floor(x + 0.5) on max(E, 0) (Math.round for x >= 0; WGSL's round() is half-to-even, so both
  // use this), written out at each use as
  //   rounded++; energy[vi] += exact ? e : Math.floor((e > 0 ? e : 0) / unit + 0.5);

  /** Deposit of a particle that cannot be pushed or followed, at position (x, y, z) (escaped when outside the grid). */
  const depositAtPosition = (e: number, x: number, y: number, z: number): void => {
    const i = Math.floor(x / vx);
    const j = Math.floor(y / vy);
    const l = Math.floor(z / vz);
    rounded++;
    if (i < 0 || j < 0 || l < 0 || i >= nx || j >= ny || l >= nz) escaped += exact ? e : Math.floor((e > 0 ? e : 0) / unit + 0.5);
    else energy[i + nx * j + nxy * l] += exact ? e : Math.floor((e > 0 ? e : 0) / unit + 0.5);
  };
  /** Pushes a particle with direction (u, v, w); on a full stack deposits it (electron: voxel; photon: voxel of its position) instead. */
  const push = (kind: number, e: number, x: number, y: number, z: number, u: number, v: number, w: number, i: number, j: number, l: number): void => {
    if (sp === CAPACITY) {
      overflows++;
      if (kind === 0) {
        rounded++;
        energy[i + nx * j + nxy * l] += exact ? e : Math.floor((e > 0 ? e : 0) / unit + 0.5);
      } else depositAtPosition(e, x, y, z);
      return;
    }
    const o = sp * ENTRY;
    stack[o] = kind;
    stack[o + 1] = e;
    stack[o + 2] = x;
    stack[o + 3] = y;
    stack[o + 4] = z;
    stack[o + 5] = u;
    stack[o + 6] = v;
    stack[o + 7] = w;
    stack[o + 8] = i;
    stack[o + 9] = j;
    stack[o + 10] = l;
    sp++;
  };

  // ---------------------------------------------------------------- electron
  /** Transports the electron of stack entry o (just popped). */
  const transportElectron = (o: number): void => {
    // The enclosing function's values as typed locals, read once per particle: a variable of the enclosing function
    // (or a parameter) is of unknown type here, reloaded and checked at each use, and a local that may take its value
    // would be kept boxed (a heap number allocated per assignment, measured: 13 per electron step before this).
    const lnMin_ = +lnMin;
    const dLn_ = +dLn;
    const eCut_ = +eCut;
    const twoWc_ = +twoWc;
    const wc_ = +wc;
    const kc_ = +kc;
    const maxStep_ = +maxStep;
    const stepFraction_ = +stepFraction;
    const vx_ = +vx;
    const vy_ = +vy;
    const vz_ = +vz;
    const unit_ = +unit;
    const DENSITY_UNIT_ = +DENSITY_UNIT;
    const MC2_ = +MC2;
    const TWO_PI_ = +TWO_PI;
    const nx_ = nx | 0;
    const ny_ = ny | 0;
    const nz_ = nz | 0;
    const nxy_ = nxy | 0;
    const MAX_STEPS_ = MAX_STEPS | 0;
    const MAX_TRIALS_ = MAX_TRIALS | 0;
    const RANDOM_WORDS_ = RANDOM_WORDS | 0;
    const ROW_STRIDE_ = ROW_STRIDE | 0;
    const ROW_ElectronRange_ = ROW_ElectronRange | 0;
    const ROW_ElectronStopping_ = ROW_ElectronStopping | 0;
    const ROW_ElectronMoller_ = ROW_ElectronMoller | 0;
    const ROW_ElectronBrems_ = ROW_ElectronBrems | 0;
    const ROW_ElasticHardRate_ = ROW_ElasticHardRate | 0;
    const ROW_ElasticScreening_ = ROW_ElasticScreening | 0;
    const ROW_ElasticMuCut_ = ROW_ElasticMuCut | 0;
    const ROW_ElasticMottC_ = ROW_ElasticMottC | 0;
    const ROW_ElasticSoftT1_ = ROW_ElasticSoftT1 | 0;
    const data_ = data;
    const media_ = media;
    const energy_ = energy;
    const dev_ = dev;
    const rangeCut_ = rangeCut;
    const exact_ = exact === true;
    const fMax = +N1;
    const iMax = N2 | 0;
    const entry = o | 0;
    let e = stack[entry + 1];
    let x = stack[entry + 2];
    let y = stack[entry + 3];
    let z = stack[entry + 4];
    let ei = stack[entry + 8] | 0;
    let ej = stack[entry + 9] | 0;
    let el = stack[entry + 10] | 0;
    let vi = ei + nx_ * ej + nxy_ * el;
    let ti = 0;
    let tw = 0;
    let f = 0;
    let a0 = 0;
    /** Energy of the current table position (ti, tw), or -1. */
    let eAt = -1;
    /** Voxel whose medium base (table offset), rho [g/cm^3] and R(cut-off)/rho [cm] are held, or -1. */
    let mediumVi = -1;
    let base = 0;
    let rho = 0;
    let rangeCutOverRho = 0;
    let rp = rpos | 0;
    let nRounded = 0;
    let nSteps = 0;
    let nOverflows = 0;
    electron: for (let step = 0; ; step++) {
      if (e <= eCut_) {
        nRounded++;
        energy_[vi] += exact_ ? e : Math.floor((e > 0 ? e : 0) / unit_ + 0.5);
        break electron;
      }
      if (step >= MAX_STEPS_) {
        nOverflows++;
        nRounded++;
        energy_[vi] += exact_ ? e : Math.floor((e > 0 ? e : 0) / unit_ + 0.5);
        break electron;
      }
      nSteps++;
      if (vi !== mediumVi) {
        // the medium of a new voxel (kept while the electron stays in it)
        const med = media_[vi];
        base = (med >>> 24) * ROW_STRIDE_;
        rho = (med & 0xffffff) * DENSITY_UNIT_;
        rangeCutOverRho = rangeCut_[med >>> 24] / rho;
        mediumVi = vi;
      }
      if (e !== eAt) {
        f = (Math.log(e) - lnMin_) / dLn_;
        if (f < 0) f = 0;
        else if (f > fMax) f = fMax;
        ti = Math.floor(f);
        if (ti > iMax) ti = iMax;
        tw = f - ti;
        eAt = e;
      }
      const bt = base + ti;
      let lamM = 0;
      if (e > twoWc_) {
        a0 = data_[bt + ROW_ElectronMoller_];
        lamM = rho * (a0 + tw * (data_[bt + ROW_ElectronMoller_ + 1] - a0));
      }
      let lamB = 0;
      if (e > kc_) {
        a0 = data_[bt + ROW_ElectronBrems_];
        lamB = rho * (a0 + tw * (data_[bt + ROW_ElectronBrems_ + 1] - a0));
      }
      a0 = data_[bt + ROW_ElasticHardRate_];
      const lamEl = rho * (a0 + tw * (data_[bt + ROW_ElasticHardRate_ + 1] - a0));
      const lamTot = lamM + lamB + lamEl;
      a0 = data_[bt + ROW_ElectronRange_];
      const range = (a0 + tw * (data_[bt + ROW_ElectronRange_ + 1] - a0)) / rho;
      a0 = data_[bt + ROW_ElectronStopping_];
      const stopE = a0 + tw * (data_[bt + ROW_ElectronStopping_ + 1] - a0);
      if (rp === RANDOM_WORDS_) rp = refill() | 0;
      const sHard = -Math.log(dev_[rp++]) / lamTot;
      const sStop = range - rangeCutOverRho;
      const sMax = Math.min(maxStep_, Math.max(stepFraction_ * range, 1e-5));
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
      if (rp === RANDOM_WORDS_) rp = refill() | 0;
      const tau = dev_[rp++] * s;
      let travelled = 0;
      let cross = false;
      let lossFull = -1; // energyLoss over the full step, when computed
      let axis = 0;
      let sign = 0;
      // two legs: to the hinge (length tau), then, after the soft deflection, the rest (s − tau); each ends at the
      // face the direction points to (axes i, j, k in order, ties to the lowest) when that is nearer
      for (let leg = 0; leg < 2; leg++) {
        const du = d[0];
        const dv = d[1];
        const dw = d[2];
        let dB = Infinity;
        axis = -1;
        sign = 0;
        if (du > 1e-12) {
          dB = ((ei + 1) * vx_ - x) / du;
          axis = 0;
          sign = 1;
        } else if (du < -1e-12) {
          dB = (ei * vx_ - x) / du;
          axis = 0;
          sign = -1;
        }
        if (dv > 1e-12) {
          const dd = ((ej + 1) * vy_ - y) / dv;
          if (dd < dB) {
            dB = dd;
            axis = 1;
            sign = 1;
          }
        } else if (dv < -1e-12) {
          const dd = (ej * vy_ - y) / dv;
          if (dd < dB) {
            dB = dd;
            axis = 1;
            sign = -1;
          }
        }
        if (dw > 1e-12) {
          const dd = ((el + 1) * vz_ - z) / dw;
          if (dd < dB) {
            dB = dd;
            axis = 2;
            sign = 1;
          }
        } else if (dw < -1e-12) {
          const dd = (el * vz_ - z) / dw;
          if (dd < dB) {
            dB = dd;
            axis = 2;
            sign = -1;
          }
        }
        if (dB < 0) dB = 0;
        if (leg === 0) {
          if (dB < tau) {
            travelled = dB;
            cross = true;
            x += du * dB;
            y += dv * dB;
            z += dw * dB;
            break;
          }
          x += du * tau;
          y += dv * tau;
          z += dw * tau;
          // soft deflection at the hinge, with the mean energy of the full step: lossFull = energyLoss(s)
          const dE1 = s * rho * stopE;
          let emid = e - 0.5 * dE1;
          if (emid < eCut_) emid = eCut_;
          f = (Math.log(emid) - lnMin_) / dLn_;
          if (f < 0) f = 0;
          else if (f > fMax) f = fMax;
          ti = Math.floor(f);
          if (ti > iMax) ti = iMax;
          tw = f - ti;
          let o = base + ti + ROW_ElectronStopping_;
          a0 = data_[o];
          const dEs = s * rho * (a0 + tw * (data_[o + 1] - a0));
          lossFull = dEs < e ? dEs : e;
          const eMean = e - 0.5 * lossFull;
          f = (Math.log(eMean) - lnMin_) / dLn_;
          if (f < 0) f = 0;
          else if (f > fMax) f = fMax;
          ti = Math.floor(f);
          if (ti > iMax) ti = iMax;
          tw = f - ti;
          eAt = eMean;
          o = base + ti + ROW_ElasticSoftT1_;
          a0 = data_[o];
          const chi = s * rho * (a0 + tw * (data_[o + 1] - a0));
          const meanMu = 0.5 * (1 - Math.exp(-chi));
          if (meanMu > 0) {
            let mu = 0;
            for (let trial = 0; trial < MAX_TRIALS_; trial++) {
              if (rp === RANDOM_WORDS_) rp = refill() | 0;
              mu = -meanMu * Math.log(dev_[rp++]);
              if (mu <= 1) break;
            }
            if (mu > 1) mu = 1;
            if (rp === RANDOM_WORDS_) rp = refill() | 0;
            {
              // rotate(d, 1 - 2 * mu, u), written out (the hot path)
              const cosT = 1 - 2 * mu;
              const sinT = Math.sqrt(Math.max(0, 1 - cosT * cosT));
              const phi = TWO_PI_ * dev_[rp++];
              const cp = Math.cos(phi);
              const spn = Math.sin(phi);
              const u = d[0];
              const v = d[1];
              const w = d[2];
              const rho2 = u * u + v * v;
              let ra: number;
              let rb: number;
              let rc: number;
              if (rho2 > 1e-20) {
                const rh = Math.sqrt(rho2);
                ra = u * cosT + (sinT * (u * w * cp - v * spn)) / rh;
                rb = v * cosT + (sinT * (v * w * cp + u * spn)) / rh;
                rc = w * cosT - rh * sinT * cp;
              } else {
                const sgn = w >= 0 ? 1 : -1;
                ra = sinT * cp;
                rb = sinT * spn;
                rc = sgn * cosT;
              }
              const norm = 1 / Math.sqrt(ra * ra + rb * rb + rc * rc);
              d[0] = ra * norm;
              d[1] = rb * norm;
              d[2] = rc * norm;
            }
          }
        } else {
          const rest = s - tau;
          if (dB < rest) {
            travelled = tau + dB;
            cross = true;
            x += du * dB;
            y += dv * dB;
            z += dw * dB;
          } else {
            travelled = s;
            x += du * rest;
            y += dv * rest;
            z += dw * rest;
          }
        }
      }
      if (kind === 0 && !cross) {
        nRounded++;
        energy_[vi] += exact_ ? e : Math.floor((e > 0 ? e : 0) / unit_ + 0.5);
        break electron;
      }
      let dE: number;
      if (!cross && lossFull >= 0) dE = lossFull;
      else {
        // energyLoss(travelled)
        const dE1 = travelled * rho * stopE;
        let emid = e - 0.5 * dE1;
        if (emid < eCut_) emid = eCut_;
        if (emid !== eAt) {
          f = (Math.log(emid) - lnMin_) / dLn_;
          if (f < 0) f = 0;
          else if (f > fMax) f = fMax;
          ti = Math.floor(f);
          if (ti > iMax) ti = iMax;
          tw = f - ti;
          eAt = emid;
        }
        const o = base + ti + ROW_ElectronStopping_;
        a0 = data_[o];
        const dEs = travelled * rho * (a0 + tw * (data_[o + 1] - a0));
        dE = dEs < e ? dEs : e;
      }
      nRounded++;
      energy_[vi] += exact_ ? dE : Math.floor((dE > 0 ? dE : 0) / unit_ + 0.5);
      e -= dE;
      if (cross) {
        let out = false;
        if (axis === 0) {
          x = (sign > 0 ? ei + 1 : ei) * vx_;
          ei += sign;
          out = ei < 0 || ei >= nx_;
        } else if (axis === 1) {
          y = (sign > 0 ? ej + 1 : ej) * vy_;
          ej += sign;
          out = ej < 0 || ej >= ny_;
        } else {
          z = (sign > 0 ? el + 1 : el) * vz_;
          el += sign;
          out = el < 0 || el >= nz_;
        }
        if (out) {
          nRounded++;
          escaped += exact_ ? e : Math.floor((e > 0 ? e : 0) / unit_ + 0.5);
          break electron;
        }
        vi = ei + nx_ * ej + nxy_ * el;
        continue;
      }
      if (kind !== 2) continue;
      // hard event; its type from the rates at the step's start energy, the event at the current energy
      if (rp === RANDOM_WORDS_) rp = refill() | 0;
      const pick = dev_[rp++] * lamTot;
      if (pick < lamM) {
        if (e > twoWc_) {
          // Møller: sampleMollerFraction of src/kernel/water.ts (two draws per trial)
          const tauE = e / MC2_;
          const gamma = tauE + 1;
          const c1 = (tauE / gamma) ** 2;
          const c2 = (2 * tauE + 1) / (gamma * gamma);
          const e0 = wc_ / e;
          let eps = 0;
          for (let trial = 0; trial < MAX_TRIALS_; trial++) {
            if (rp === RANDOM_WORDS_) rp = refill() | 0;
            eps = e0 / (1 - dev_[rp++] * (1 - 2 * e0));
            const r = eps / (1 - eps);
            const g = 1 + r * r + c1 * eps * eps - c2 * r;
            if (rp === RANDOM_WORDS_) rp = refill() | 0;
            if (dev_[rp++] * 2.25 <= g) break;
          }
          const w = eps * e;
          const ep = e - w;
          const twoM = 2 * MC2_;
          const cosP = Math.sqrt(Math.min(1, (ep / e) * ((e + twoM) / (ep + twoM))));
          const cosD = Math.sqrt(Math.min(1, (w / e) * ((e + twoM) / (w + twoM))));
          const u0 = d[0];
          const v0 = d[1];
          const w0 = d[2];
          if (rp === RANDOM_WORDS_) rp = refill() | 0;
          rotate(d, cosP, dev_[rp++]);
          const sinP = Math.sqrt(Math.max(0, 1 - cosP * cosP));
          const sinD = Math.sqrt(Math.max(0, 1 - cosD * cosD));
          let qu = u0;
          let qv = v0;
          let qw = w0;
          if (sinP > 1e-12) {
            const nu = (d[0] - cosP * u0) / sinP;
            const nv = (d[1] - cosP * v0) / sinP;
            const nw = (d[2] - cosP * w0) / sinP;
            qu = cosD * u0 - sinD * nu;
            qv = cosD * v0 - sinD * nv;
            qw = cosD * w0 - sinD * nw;
          }
          if (w <= eCut_) {
            nRounded++;
            energy_[vi] += exact_ ? w : Math.floor((w > 0 ? w : 0) / unit_ + 0.5);
          } else push(0, w, x, y, z, qu, qv, qw, ei, ej, el);
          e = ep;
        }
      } else if (pick < lamM + lamB) {
        if (e > kc_) {
          // bremsstrahlung: photon along the electron's direction
          let k = 0;
          const ratio = e / kc_;
          for (let trial = 0; trial < MAX_TRIALS_; trial++) {
            if (rp === RANDOM_WORDS_) rp = refill() | 0;
            k = kc_ * Math.pow(ratio, dev_[rp++]);
            const xk = k / (e + MC2_);
            const g = 1 + (1 - xk) * (1 - xk) - (2 / 3) * (1 - xk);
            if (rp === RANDOM_WORDS_) rp = refill() | 0;
            if (dev_[rp++] * (4 / 3) <= g) break;
          }
          push(1, k, x, y, z, d[0], d[1], d[2], ei, ej, el);
          e = e - k;
        }
      } else {
        // hard elastic event (Wentzel–Mott above μc, thinned by the Mott factor's bound)
        if (e !== eAt) {
          f = (Math.log(e) - lnMin_) / dLn_;
          if (f < 0) f = 0;
          else if (f > fMax) f = fMax;
          ti = Math.floor(f);
          if (ti > iMax) ti = iMax;
          tw = f - ti;
          eAt = e;
        }
        const be = base + ti;
        a0 = data_[be + ROW_ElasticScreening_];
        const a = a0 + tw * (data_[be + ROW_ElasticScreening_ + 1] - a0);
        a0 = data_[be + ROW_ElasticMuCut_];
        const muC = a0 + tw * (data_[be + ROW_ElasticMuCut_ + 1] - a0);
        a0 = data_[be + ROW_ElasticMottC_];
        const c = a0 + tw * (data_[be + ROW_ElasticMottC_ + 1] - a0);
        const gamma = 1 + e / MC2_;
        const beta2 = 1 - 1 / (gamma * gamma);
        const inv0 = 1 / (muC + a);
        if (rp === RANDOM_WORDS_) rp = refill() | 0;
        const mu = 1 / (inv0 - dev_[rp++] * (inv0 - 1 / (1 + a))) - a;
        const sq = Math.sqrt(Math.max(0, mu));
        const r = 1 - beta2 * mu + c * sq * (1 - sq);
        const rMax = 1 + c / 4;
        if (rp === RANDOM_WORDS_) rp = refill() | 0;
        if (dev_[rp++] * rMax <= r) {
          if (rp === RANDOM_WORDS_) rp = refill() | 0;
          {
            // rotate(d, 1 - 2 * mu, u), written out (the hot path)
            const cosT = 1 - 2 * mu;
            const sinT = Math.sqrt(Math.max(0, 1 - cosT * cosT));
            const phi = TWO_PI_ * dev_[rp++];
            const cp = Math.cos(phi);
            const spn = Math.sin(phi);
            const u = d[0];
            const v = d[1];
            const w = d[2];
            const rho2 = u * u + v * v;
            let ra: number;
            let rb: number;
            let rc: number;
            if (rho2 > 1e-20) {
              const rh = Math.sqrt(rho2);
              ra = u * cosT + (sinT * (u * w * cp - v * spn)) / rh;
              rb = v * cosT + (sinT * (v * w * cp + u * spn)) / rh;
              rc = w * cosT - rh * sinT * cp;
            } else {
              const sgn = w >= 0 ? 1 : -1;
              ra = sinT * cp;
              rb = sinT * spn;
              rc = sgn * cosT;
            }
            const norm = 1 / Math.sqrt(ra * ra + rb * rb + rc * rc);
            d[0] = ra * norm;
            d[1] = rb * norm;
            d[2] = rc * norm;
          }
        }
      }
    }
    rpos = rp;
    rounded += nRounded;
    electronSteps += nSteps;
    overflows += nOverflows;
  };

  // ---------------------------------------------------------------- photon
  const transportPhoton = (e0: number, x0: number, y0: number, z0: number): void => {
    // The enclosing function's values as typed locals, read once per particle: a variable of the enclosing function
    // (or a parameter) is of unknown type here, reloaded and checked at each use, and a local that may take its value
    // would be kept boxed (a heap number allocated per assignment, measured: 13 per electron step before this).
    const lnMin_ = +lnMin;
    const dLn_ = +dLn;
    const pCut_ = +pCut;
    const vx_ = +vx;
    const vy_ = +vy;
    const vz_ = +vz;
    const unit_ = +unit;
    const DENSITY_UNIT_ = +DENSITY_UNIT;
    const MC2_ = +MC2;
    const nx_ = nx | 0;
    const ny_ = ny | 0;
    const nz_ = nz | 0;
    const nxy_ = nxy | 0;
    const MAX_STEPS_ = MAX_STEPS | 0;
    const MAX_TRIALS_ = MAX_TRIALS | 0;
    const RANDOM_WORDS_ = RANDOM_WORDS | 0;
    const ROW_STRIDE_ = ROW_STRIDE | 0;
    const ROW_PhotonTotal_ = ROW_PhotonTotal | 0;
    const ROW_PhotonPhotoFraction_ = ROW_PhotonPhotoFraction | 0;
    const data_ = data;
    const media_ = media;
    const energy_ = energy;
    const dev_ = dev;
    const majorant_ = majorant;
    const exact_ = exact === true;
    const fMax = +N1;
    const iMax = N2 | 0;
    let e = +e0;
    let x = +x0;
    let y = +y0;
    let z = +z0;
    let ti = 0;
    let tw = 0;
    let f = 0;
    let a0 = 0;
    let rp = rpos | 0;
    let nRounded = 0;
    let nSteps = 0;
    let nOverflows = 0;
    photon: for (let step = 0; ; step++) {
      if (e <= pCut_) {
        depositAtPosition(e, x, y, z);
        break photon;
      }
      if (step >= MAX_STEPS_) {
        nOverflows++;
        depositAtPosition(e, x, y, z);
        break photon;
      }
      nSteps++;
      f = (Math.log(e) - lnMin_) / dLn_;
      if (f < 0) f = 0;
      else if (f > fMax) f = fMax;
      ti = Math.floor(f);
      if (ti > iMax) ti = iMax;
      tw = f - ti;
      const muMax = majorant_[ti] + tw * (majorant_[ti + 1] - majorant_[ti]);
      if (rp === RANDOM_WORDS_) rp = refill() | 0;
      const s = -Math.log(dev_[rp++]) / muMax;
      x += d[0] * s;
      y += d[1] * s;
      z += d[2] * s;
      const i = Math.floor(x / vx_);
      const j = Math.floor(y / vy_);
      const l = Math.floor(z / vz_);
      if (i < 0 || j < 0 || l < 0 || i >= nx_ || j >= ny_ || l >= nz_) {
        nRounded++;
        escaped += exact_ ? e : Math.floor((e > 0 ? e : 0) / unit_ + 0.5);
        break photon;
      }
      const vi = i + nx_ * j + nxy_ * l;
      const med = media_[vi];
      const bt = (med >>> 24) * ROW_STRIDE_ + ti;
      const rho = (med & 0xffffff) * DENSITY_UNIT_;
      a0 = data_[bt + ROW_PhotonTotal_];
      const mu = rho * (a0 + tw * (data_[bt + ROW_PhotonTotal_ + 1] - a0));
      if (rp === RANDOM_WORDS_) rp = refill() | 0;
      if (dev_[rp++] * muMax > mu) continue; // virtual interaction
      a0 = data_[bt + ROW_PhotonPhotoFraction_];
      if (rp === RANDOM_WORDS_) rp = refill() | 0;
      if (dev_[rp++] < a0 + tw * (data_[bt + ROW_PhotonPhotoFraction_ + 1] - a0)) {
        nRounded++;
        energy_[vi] += exact_ ? e : Math.floor((e > 0 ? e : 0) / unit_ + 0.5);
        break photon;
      }
      // Compton: Kahn's method (three draws per trial), as kahnCompton
      const k = e / MC2_;
      const b1 = (1 + 2 * k) / (9 + 2 * k);
      let xi = 1;
      for (let trial = 0; trial < MAX_TRIALS_; trial++) {
        if (rp === RANDOM_WORDS_) rp = refill() | 0;
        const r1 = dev_[rp++];
        if (rp === RANDOM_WORDS_) rp = refill() | 0;
        const r2 = dev_[rp++];
        if (rp === RANDOM_WORDS_) rp = refill() | 0;
        const r3 = dev_[rp++];
        if (r1 <= b1) {
          xi = 1 + 2 * k * r2;
          if (r3 <= 4 * (1 / xi - 1 / (xi * xi))) break;
        } else {
          xi = (1 + 2 * k) / (1 + 2 * k * r2);
          const c = 1 - (xi - 1) / k;
          if (r3 <= 0.5 * (c * c + 1 / xi)) break;
        }
      }
      let cosT = 1 - (xi - 1) / k;
      if (cosT < -1) cosT = -1;
      else if (cosT > 1) cosT = 1;
      const ep = e / (1 + k * (1 - cosT));
      const dep = e - ep;
      nRounded++;
      energy_[vi] += exact_ ? dep : Math.floor((dep > 0 ? dep : 0) / unit_ + 0.5);
      if (rp === RANDOM_WORDS_) rp = refill() | 0;
      rotate(d, cosT, dev_[rp++]);
      e = ep;
    }
    rpos = rp;
    rounded += nRounded;
    photonSteps += nSteps;
    overflows += nOverflows;
  };

  // ---------------------------------------------------------------- histories
  const last = first + count;
  for (let h = first; h < last; h++) {
    // the stream of history h (./philox.ts): counter (h mod 2^32, floor(h / 2^32), block, 0)
    hLo = h % 4294967296;
    hHi = Math.floor(h / 4294967296);
    block = 0;
    rpos = refill();
    // 1. source voxel (two raw words, then the alias test; ./source.ts sampleSourceEntry) and position
    let entry = pickEntry(raw[0], raw[1], nSrc);
    rpos = 2;
    if (dev[rpos++] >= srcProb[entry]) entry = srcAlias[entry];
    if (srcWeight !== undefined) unit = baseUnit / srcWeight[entry];
    const v = srcVoxel[entry];
    const l0 = Math.floor(v / nxy);
    const rem = v - l0 * nxy;
    const j0 = Math.floor(rem / nx);
    const i0 = rem - j0 * nx;
    const x0 = (i0 + dev[rpos++]) * vx;
    if (rpos === RANDOM_WORDS) rpos = refill();
    const y0 = (j0 + dev[rpos++]) * vy;
    if (rpos === RANDOM_WORDS) rpos = refill();
    const z0 = (l0 + dev[rpos++]) * vz;
    // 2. energy deposited at the decay site
    if (local > 0) {
      rounded++;
      energy[v] += exact ? local : Math.floor((local > 0 ? local : 0) / unit + 0.5);
      rounded++;
      emitted += exact ? local : Math.floor((local > 0 ? local : 0) / unit + 0.5);
    }
    sp = 0;
    // 3. beta
    if (rpos === RANDOM_WORDS) rpos = refill();
    if (dev[rpos++] < betasPerDecay) {
      if (rpos === RANDOM_WORDS) rpos = refill();
      const fc = dev[rpos++] * (nCdf - 1);
      let i = Math.floor(fc);
      if (i > nCdf - 2) i = nCdf - 2;
      const eb = cdf[i] + (fc - i) * (cdf[i + 1] - cdf[i]);
      // isotropic direction
      if (rpos === RANDOM_WORDS) rpos = refill();
      const cz = 2 * dev[rpos++] - 1;
      if (rpos === RANDOM_WORDS) rpos = refill();
      const phi = TWO_PI * dev[rpos++];
      const sz = Math.sqrt(Math.max(0, 1 - cz * cz));
      rounded++;
      emitted += exact ? eb : Math.floor((eb > 0 ? eb : 0) / unit + 0.5);
      push(0, eb, x0, y0, z0, sz * Math.cos(phi), sz * Math.sin(phi), cz, i0, j0, l0);
    }
    // 4. photon lines, each with its yield
    for (let q = 0; q < nLines; q++) {
      if (rpos === RANDOM_WORDS) rpos = refill();
      if (dev[rpos++] < lineYield[q]) {
        if (rpos === RANDOM_WORDS) rpos = refill();
        const cz = 2 * dev[rpos++] - 1;
        if (rpos === RANDOM_WORDS) rpos = refill();
        const phi = TWO_PI * dev[rpos++];
        const sz = Math.sqrt(Math.max(0, 1 - cz * cz));
        const el = lineEnergy[q];
        rounded++;
        emitted += exact ? el : Math.floor((el > 0 ? el : 0) / unit + 0.5);
        push(1, el, x0, y0, z0, sz * Math.cos(phi), sz * Math.sin(phi), cz, i0, j0, l0);
      }
    }
    // 5. transport, last in first out
    while (sp > 0) {
      sp--;
      const o = sp * ENTRY;
      d[0] = stack[o + 5];
      d[1] = stack[o + 6];
      d[2] = stack[o + 7];
      if (stack[o] === 0) transportElectron(o);
      else transportPhoton(stack[o + 1], stack[o + 2], stack[o + 3], stack[o + 4]);
    }
    histories++;
  }
  tally.emitted = emitted;
  tally.escaped = escaped;
  tally.stackOverflows += overflows;
  tally.electronSteps += electronSteps;
  tally.photonSteps += photonSteps;
  tally.histories += histories;
  tally.roundedTerms += rounded;
}
