/**
 * Condensed-history Monte Carlo of electrons in water that scores the dose point kernel of a beta emitter:
 * energy deposited per decay in spherical shells around an isotropic point source in an infinite water medium.
 *
 * Scheme (class II, mixed): Berger 1963 (Methods Comput Phys 1:135) for energy loss, Baró et al. 1995 (PENELOPE,
 * Nucl Instrum Meth B 100:31) for elastic scattering:
 * - soft collisions (energy transfer < Wc): continuous slowing down with the restricted stopping power; radiative
 *   losses are continuous and leave the medium (bremsstrahlung photons of 90Y/166Ho have mean free paths of
 *   several cm in water and deposit a negligible part of their energy within the beta range);
 * - hard collisions (W >= Wc): Møller events that set a delta ray in motion, tracked like any electron;
 * - elastic scattering: hard events (μ > μc, λh = max(λel, C1 λ1)) simulated one by one from the Wentzel–Mott cross
 *   section, the soft ones lumped into one deflection per step at a random point of the step (random hinge) with the
 *   exact mean 1 − cos θ = 1 − exp(−s/λ1,soft);
 * - steps are limited to `stepFraction` of the residual CSDA range and to `maxStepMm`, and the energy of each straight
 *   segment is spread uniformly along it when it is scored, so shells thinner than a step are scored correctly;
 * - electrons below the tracking cutoff deposit their energy where they stop (residual range of 10 keV in water:
 *   2.5 µm).
 * Cross sections: ./water.ts. Primary energies: ./spectrum.ts. Random numbers: xoshiro128** (Blackman & Vigna 2018),
 * seeded, so a run is reproducible bit for bit.
 */
import { InputError } from '../errors.ts';
import type { Isotope } from '../units/index.ts';
import { betaSpectrum, spectrumSampler } from './spectrum.ts';
import {
  collisionStoppingMeVPerCm,
  elasticData,
  mollerInverseMfpPerCm,
  mottFactor,
  radiativeStoppingMeVPerCm,
  sampleMollerFraction,
} from './water.ts';
import { ELECTRON_MASS_MEV } from './spectrum.ts';

/** Version of the transport physics and scoring; part of every cache key built on a simulated kernel. */
export const TRANSPORT_VERSION = 'ch-mc-1';

/** Seedable xoshiro128** generator; returns uniform deviates in (0, 1). */
export function createRandom(seed: number): () => number {
  // splitmix32 to fill the state from one seed
  let s = seed >>> 0;
  const next32 = () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = next32();
  let b = next32();
  let c = next32();
  let d = next32();
  return () => {
    const result = Math.imul(rotl(Math.imul(b, 5), 7), 9) >>> 0;
    const t = b << 9;
    c ^= a;
    d ^= b;
    b ^= c;
    a ^= d;
    c ^= t;
    d = rotl(d, 11);
    return (result + 0.5) / 4294967296;
  };
}
function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** Options of {@link simulateDosePointKernel}. */
export interface DpkSimulationOptions {
  readonly isotope: Isotope;
  /** Number of decays simulated. */
  readonly histories: number;
  /** Seed of the random number generator. */
  readonly seed?: number;
  /** Shell width [mm] at 1 g/cm^3 (default 0.025). */
  readonly shellWidthMm?: number;
  /** Outer radius of the scored region [mm] (default: 1.1 x CSDA range of the largest endpoint + 0.5 mm). */
  readonly maxRadiusMm?: number;
  /** Tracking cutoff and delta-ray threshold [MeV] (default 0.01). */
  readonly cutoffMeV?: number;
  /** PENELOPE's C1 (default 0.05). */
  readonly c1?: number;
  /** Largest step as a fraction of the residual CSDA range (default 0.05, PENELOPE's C2). */
  readonly stepFraction?: number;
  /** Largest step [mm] (default 0.1). */
  readonly maxStepMm?: number;
  /** Called now and then with the fraction done. */
  readonly onProgress?: (fraction: number, message: string) => void;
}

/** A dose point kernel in water (1 g/cm^3): energy per decay in concentric shells. */
export interface DosePointKernel {
  readonly isotope: Isotope;
  /** Shell width [mm]; shell k spans [k w, (k+1) w]. */
  readonly shellWidthMm: number;
  /** Energy absorbed per decay in each shell [MeV]. */
  readonly energyPerShellMeV: Float64Array;
  /** Mean kinetic energy emitted per decay [MeV] (beta spectrum). */
  readonly emittedMeVPerDecay: number;
  /** Energy per decay carried away by bremsstrahlung [MeV] (not absorbed in the kernel). */
  readonly radiatedMeVPerDecay: number;
  /** Energy per decay deposited beyond the outer shell [MeV] (zero when the radius covers the range). */
  readonly beyondMeVPerDecay: number;
  readonly histories: number;
  readonly seed: number;
  /** Transport version and parameters that produced the table. */
  readonly generator: string;
}

interface Tables {
  lnMin: number;
  dLn: number;
  n: number;
  energy: Float64Array;
  stopTotal: Float64Array;
  radFraction: Float64Array;
  range: Float64Array;
  moller: Float64Array;
  softT1: Float64Array;
  muCut: Float64Array;
  beta2: Float64Array;
  // per atom species (H, O)
  rate: Float64Array[];
  screening: Float64Array[];
  mottC: Float64Array[];
  rMax: Float64Array[];
}

function buildTables(maxEnergyMeV: number, cutoffMeV: number, c1: number): Tables {
  const n = 400;
  const eMin = 1e-3;
  const lnMin = Math.log(eMin);
  const dLn = (Math.log(maxEnergyMeV * 1.02) - lnMin) / (n - 1);
  const t: Tables = {
    lnMin,
    dLn,
    n,
    energy: new Float64Array(n),
    stopTotal: new Float64Array(n),
    radFraction: new Float64Array(n),
    range: new Float64Array(n),
    moller: new Float64Array(n),
    softT1: new Float64Array(n),
    muCut: new Float64Array(n),
    beta2: new Float64Array(n),
    rate: [new Float64Array(n), new Float64Array(n)],
    screening: [new Float64Array(n), new Float64Array(n)],
    mottC: [new Float64Array(n), new Float64Array(n)],
    rMax: [new Float64Array(n), new Float64Array(n)],
  };
  for (let i = 0; i < n; i++) {
    const e = Math.exp(lnMin + i * dLn);
    t.energy[i] = e;
    const coll = collisionStoppingMeVPerCm(e, cutoffMeV);
    const rad = radiativeStoppingMeVPerCm(e);
    t.stopTotal[i] = coll + rad;
    t.radFraction[i] = rad / (coll + rad);
    t.moller[i] = mollerInverseMfpPerCm(e, cutoffMeV);
    const el = elasticData(e, c1);
    t.softT1[i] = el.softTransportPerCm;
    t.muCut[i] = el.muCut;
    t.beta2[i] = el.beta2;
    for (let a = 0; a < 2; a++) {
      t.rate[a][i] = el.atoms[a].rate;
      t.screening[a][i] = el.atoms[a].screening;
      t.mottC[a][i] = el.atoms[a].mottC;
      t.rMax[a][i] = el.atoms[a].rMax;
    }
  }
  // CSDA range with the restricted stopping power (log-trapezoid); below eMin: T / S(eMin)
  t.range[0] = eMin / t.stopTotal[0];
  for (let i = 1; i < n; i++) {
    const e0 = t.energy[i - 1];
    const e1 = t.energy[i];
    t.range[i] = t.range[i - 1] + 0.5 * (e0 / t.stopTotal[i - 1] + e1 / t.stopTotal[i]) * dLn;
  }
  return t;
}

/**
 * Simulates the dose point kernel of `isotope` in water (method in the module header).
 * Cost: about 10 µs per history on one core.
 */
export function simulateDosePointKernel(opts: DpkSimulationOptions): DosePointKernel {
  const histories = Math.floor(opts.histories);
  if (!(histories >= 1)) throw new InputError(`histories must be >= 1, got ${opts.histories}`);
  const seed = opts.seed ?? 1;
  const shellMm = opts.shellWidthMm ?? 0.025;
  const cutoff = opts.cutoffMeV ?? 0.01;
  const c1 = opts.c1 ?? 0.05;
  const stepFraction = opts.stepFraction ?? 0.05;
  const maxStepCm = (opts.maxStepMm ?? 0.1) / 10;
  const spectrum = betaSpectrum(opts.isotope);
  const sample = spectrumSampler(spectrum);
  const tb = buildTables(spectrum.maxEnergyMeV, cutoff, c1);
  const rand = createRandom(seed);

  const lookup = (arr: Float64Array, e: number): number => {
    let f = (Math.log(e) - tb.lnMin) / tb.dLn;
    if (f < 0) f = 0;
    let i = Math.floor(f);
    if (i >= tb.n - 1) i = tb.n - 2;
    const w = f - i;
    return arr[i] + w * (arr[i + 1] - arr[i]);
  };
  const rangeOf = (e: number): number => lookup(tb.range, e);
  const energyAtRange = (r: number): number => {
    if (r <= tb.range[0]) return (tb.energy[0] * r) / tb.range[0];
    let lo = 0;
    let hi = tb.n - 1;
    while (hi - lo > 1) {
      const mid = (lo + hi) >> 1;
      if (tb.range[mid] <= r) lo = mid;
      else hi = mid;
    }
    const w = (r - tb.range[lo]) / (tb.range[hi] - tb.range[lo]);
    return Math.exp(tb.lnMin + (lo + w) * tb.dLn);
  };

  const rangeMaxCm = rangeOf(spectrum.maxEnergyMeV);
  const maxRadiusMm = opts.maxRadiusMm ?? Math.ceil((rangeMaxCm * 10 * 1.1 + 0.5) / shellMm) * shellMm;
  const nShells = Math.round(maxRadiusMm / shellMm);
  const shells = new Float64Array(nShells);
  const shellCm = shellMm / 10;
  const subCm = shellCm / 2;
  const rangeCut = rangeOf(cutoff);
  let beyond = 0;
  let radiated = 0;
  let emitted = 0;

  const score = (x: number, y: number, z: number, e: number) => {
    const k = Math.floor(Math.sqrt(x * x + y * y + z * z) / shellCm);
    if (k < nShells) shells[k] += e;
    else beyond += e;
  };
  const scoreSegment = (x: number, y: number, z: number, u: number, v: number, w: number, len: number, e: number) => {
    if (e <= 0) return;
    const m = Math.max(1, Math.ceil(len / subCm));
    const de = e / m;
    const dl = len / m;
    for (let k = 0; k < m; k++) {
      const l = (k + 0.5) * dl;
      score(x + u * l, y + v * l, z + w * l, de);
    }
  };

  // particle stack (delta rays): energy, position, direction
  const stack: number[] = [];
  const dir = new Float64Array(3);
  /** Rotates dir by polar cos theta and a uniform azimuth (standard formulas). */
  const rotate = (cosT: number) => {
    const sinT = Math.sqrt(Math.max(0, 1 - cosT * cosT));
    const phi = 2 * Math.PI * rand();
    const cp = Math.cos(phi);
    const sp = Math.sin(phi);
    const u = dir[0];
    const v = dir[1];
    const w = dir[2];
    const rho2 = u * u + v * v;
    if (rho2 > 1e-20) {
      const rho = Math.sqrt(rho2);
      dir[0] = u * cosT + (sinT * (u * w * cp - v * sp)) / rho;
      dir[1] = v * cosT + (sinT * (v * w * cp + u * sp)) / rho;
      dir[2] = w * cosT - rho * sinT * cp;
    } else {
      const sgn = w >= 0 ? 1 : -1;
      dir[0] = sinT * cp;
      dir[1] = sinT * sp;
      dir[2] = sgn * cosT;
    }
    const norm = 1 / Math.hypot(dir[0], dir[1], dir[2]);
    dir[0] *= norm;
    dir[1] *= norm;
    dir[2] *= norm;
  };

  const track = (e0: number, x0: number, y0: number, z0: number) => {
    let e = e0;
    let x = x0;
    let y = y0;
    let z = z0;
    for (;;) {
      if (e <= cutoff) {
        score(x, y, z, e);
        return;
      }
      // table position of e, computed once per step
      let f = (Math.log(e) - tb.lnMin) / tb.dLn;
      if (f < 0) f = 0;
      let ti = Math.floor(f);
      if (ti >= tb.n - 1) ti = tb.n - 2;
      const tw = f - ti;
      const at = (arr: Float64Array) => arr[ti] + tw * (arr[ti + 1] - arr[ti]);
      const rateH = at(tb.rate[0]);
      const rateEl = rateH + at(tb.rate[1]);
      const rateM = e > 2 * cutoff ? at(tb.moller) : 0;
      const sHard = -Math.log(rand()) / (rateEl + rateM);
      const r0 = at(tb.range);
      const sStop = r0 - rangeCut;
      const sMax = Math.min(maxStepCm, Math.max(stepFraction * r0, 1e-5));
      let s = sHard;
      let kind = 2; // 2 = hard event, 1 = step limit, 0 = stops
      if (sMax < s) {
        s = sMax;
        kind = 1;
      }
      if (sStop <= s) {
        s = sStop;
        kind = 0;
      }
      const e1 = kind === 0 ? cutoff : energyAtRange(r0 - s);
      const lost = e - e1;
      const radF = lookup(tb.radFraction, 0.5 * (e + e1));
      radiated += lost * radF;
      const dep = lost * (1 - radF);
      // random hinge: soft deflection at a uniformly distributed point of the step
      const tau = rand() * s;
      scoreSegment(x, y, z, dir[0], dir[1], dir[2], tau, (dep * tau) / s);
      x += dir[0] * tau;
      y += dir[1] * tau;
      z += dir[2] * tau;
      const meanMu = 0.5 * (1 - Math.exp(-s * lookup(tb.softT1, 0.5 * (e + e1))));
      if (meanMu > 0) {
        let mu: number;
        do mu = -meanMu * Math.log(rand());
        while (mu > 1);
        rotate(1 - 2 * mu);
      }
      const rest = s - tau;
      scoreSegment(x, y, z, dir[0], dir[1], dir[2], rest, (dep * rest) / s);
      x += dir[0] * rest;
      y += dir[1] * rest;
      z += dir[2] * rest;
      e = e1;
      if (kind === 0) {
        score(x, y, z, e);
        return;
      }
      if (kind === 1) continue;
      // hard event, type chosen with the rates at the start of the step
      let pick = rand() * (rateEl + rateM);
      if (pick < rateM) {
        if (e <= 2 * cutoff) continue;
        const eps = sampleMollerFraction(e, cutoff, rand);
        const w = eps * e;
        const ep = e - w;
        const twoM = 2 * ELECTRON_MASS_MEV;
        const cosP = Math.sqrt(Math.min(1, (ep / e) * ((e + twoM) / (ep + twoM))));
        const cosD = Math.sqrt(Math.min(1, (w / e) * ((e + twoM) / (w + twoM))));
        // delta direction: same azimuth as the primary's deflection, opposite side
        const u0 = dir[0];
        const v0 = dir[1];
        const w0 = dir[2];
        rotate(cosP);
        const pu = dir[0];
        const pv = dir[1];
        const pw = dir[2];
        // delta: in the plane of (old dir, new dir), on the other side of the old direction
        const sinP = Math.sqrt(Math.max(0, 1 - cosP * cosP));
        const sinD = Math.sqrt(Math.max(0, 1 - cosD * cosD));
        let du: number;
        let dv: number;
        let dw: number;
        if (sinP > 1e-12) {
          // unit vector perpendicular to old dir in the scattering plane
          const nu = (pu - cosP * u0) / sinP;
          const nv = (pv - cosP * v0) / sinP;
          const nw = (pw - cosP * w0) / sinP;
          du = cosD * u0 - sinD * nu;
          dv = cosD * v0 - sinD * nv;
          dw = cosD * w0 - sinD * nw;
        } else {
          du = u0;
          dv = v0;
          dw = w0;
        }
        stack.push(w, x, y, z, du, dv, dw);
        e = ep;
      } else {
        pick -= rateM;
        // atom species and angle from the Wentzel distribution above μc (rates and parameters at the start energy)
        const a = pick < rateH ? 0 : 1;
        const A = at(tb.screening[a]);
        const muC = at(tb.muCut);
        const span = 1 / (muC + A) - 1 / (1 + A);
        const mu = 1 / (1 / (muC + A) - rand() * span) - A;
        const r = mottFactor(mu, at(tb.beta2), at(tb.mottC[a]));
        if (rand() * at(tb.rMax[a]) <= r) rotate(1 - 2 * mu);
      }
    }
  };

  const report = Math.max(1, Math.floor(histories / 50));
  for (let h = 0; h < histories; h++) {
    const e0 = sample(rand());
    emitted += e0;
    const cz = 2 * rand() - 1;
    const sz = Math.sqrt(1 - cz * cz);
    const ph = 2 * Math.PI * rand();
    dir[0] = sz * Math.cos(ph);
    dir[1] = sz * Math.sin(ph);
    dir[2] = cz;
    track(e0, 0, 0, 0);
    while (stack.length > 0) {
      const dw = stack.pop() as number;
      const dv = stack.pop() as number;
      const du = stack.pop() as number;
      const z = stack.pop() as number;
      const y = stack.pop() as number;
      const x = stack.pop() as number;
      const w = stack.pop() as number;
      dir[0] = du;
      dir[1] = dv;
      dir[2] = dw;
      track(w, x, y, z);
    }
    if (opts.onProgress && (h + 1) % report === 0) opts.onProgress((h + 1) / histories, `electron transport ${opts.isotope}: ${h + 1}/${histories} decays`);
  }
  const perDecay = spectrum.betasPerDecay / histories;
  for (let k = 0; k < nShells; k++) shells[k] *= perDecay;
  return {
    isotope: opts.isotope,
    shellWidthMm: shellMm,
    energyPerShellMeV: shells,
    emittedMeVPerDecay: emitted * perDecay,
    radiatedMeVPerDecay: radiated * perDecay,
    beyondMeVPerDecay: beyond * perDecay,
    histories,
    seed,
    generator: `${TRANSPORT_VERSION}; cutoff ${cutoff} MeV; C1 ${c1}; step ${stepFraction} R, <= ${opts.maxStepMm ?? 0.1} mm`,
  };
}
