/**
 * Voxel S values from a dose point kernel (MIRD Pamphlet 17, Bolch et al. 1999, eq. 4):
 *
 *   S(o) = 1/(m_t V_s) ∫_source ∫_target e(|x_t − x_s|) dx_s dx_t
 *
 * with e(r) = (dE/dr)(r) / (4π r^2) the energy density per decay [MeV/mm^3] around a point source. The displacement
 * d = x_t − x_s of two uniform points in boxes of sides (a, b, c) offset by o has the density
 * Π_i hat((d_i − o_i a_i)/a_i)/a_i with hat(u) = max(0, 1 − |u|), so the double integral reduces to
 *
 *   E_t(o) = ∫ e(|d|) Π_i hat(d_i/a_i − o_i) d³d        [MeV absorbed in the target per decay in the source]
 *
 * over the box Π_i [(o_i − 1) a_i, (o_i + 1) a_i]. Because the hats sum to one over all o (partition of unity),
 * Σ_o E_t(o) = ∫ e d³d = the energy absorbed per decay, exactly: the kernel conserves energy by construction.
 *
 * The box is split into 2^3 sub-boxes on which the integrand is smooth. Sub-boxes away from the origin: composite
 * Gauss–Legendre product rule (pieces no longer than half the distance to the origin). Sub-boxes with a corner at
 * the origin (where e ~ 1/r^2): Duffy's transformation (Duffy 1982, SIAM J Numer Anal 19:1260), i.e. the box is
 * cut into three pyramids with apex at the origin, d = t (a, y, z), d³d = a t^2 dt dy dz, which cancels the 1/r^2
 * and leaves a smooth integrand.
 *
 * Density scaling (range scaling, ../shared/PHYSICS.md: D_ρ(r) = ρ^2 D_w(ρ r)): a voxel of side a at density ρ
 * absorbs the same energy as a water voxel of side ρ a, so E_t is computed in water with sides ρ a and divided by
 * the real mass ρ V.
 */
import { JOULE_PER_MEV, KG_PER_G } from '../units/index.ts';

/** Radial energy density of a point kernel: dE/dr [MeV/mm per decay] sampled on a uniform radial grid. */
export interface RadialProfile {
  /** Grid step [mm] (water-equivalent, 1 g/cm^3). */
  readonly stepMm: number;
  /** dE/dr at r = (k + 0.5) step [MeV/mm]. */
  readonly dEdrMeVPerMm: Float64Array;
}

// 4-point Gauss–Legendre on [0, 1]
const GL_X = [0.0694318442029737, 0.3300094782075719, 0.6699905217924281, 0.9305681557970263];
const GL_W = [0.1739274225687269, 0.3260725774312731, 0.3260725774312731, 0.1739274225687269];

/** A 1-D composite Gauss rule on [lo, hi] with `pieces` pieces: nodes and weights. */
function composite(lo: number, hi: number, pieces: number): { x: Float64Array; w: Float64Array } {
  const n = pieces * 4;
  const x = new Float64Array(n);
  const w = new Float64Array(n);
  const h = (hi - lo) / pieces;
  for (let p = 0; p < pieces; p++) {
    for (let g = 0; g < 4; g++) {
      x[p * 4 + g] = lo + (p + GL_X[g]) * h;
      w[p * 4 + g] = GL_W[g] * h;
    }
  }
  return { x, w };
}

/** Builds e(r)·4π r^2 = dE/dr by linear interpolation between grid centres (0 beyond the last one). */
function makeDEdr(profile: RadialProfile): (r: number) => number {
  const g = profile.dEdrMeVPerMm;
  const n = g.length;
  const inv = 1 / profile.stepMm;
  return (r: number) => {
    const f = r * inv - 0.5;
    if (f <= 0) return g[0];
    const i = Math.floor(f);
    if (i >= n - 1) return i === n - 1 ? g[n - 1] * (1 - (f - i)) : 0;
    const w = f - i;
    return g[i] + w * (g[i + 1] - g[i]);
  };
}

interface Interval {
  lo: number;
  hi: number;
  /** hat value is (u − lo)/(hi − lo) rising, or (hi − u)/(hi − lo) falling. */
  rising: boolean;
  /** Multiplicity from folding the symmetric o = 0 case. */
  weight: number;
}

/** The two (or, folded, one) intervals of one axis for offset index o >= 0 and side a (sides in water mm). */
function axisIntervals(o: number, a: number): Interval[] {
  if (o === 0) return [{ lo: 0, hi: a, rising: false, weight: 2 }];
  return [
    { lo: (o - 1) * a, hi: o * a, rising: true, weight: 1 },
    { lo: o * a, hi: (o + 1) * a, rising: false, weight: 1 },
  ];
}

function hat(iv: Interval, u: number): number {
  const t = (u - iv.lo) / (iv.hi - iv.lo);
  return iv.rising ? t : 1 - t;
}

/** Quadrature resolution: largest piece [mm] along rays and faces; Gauss order is 4 per piece. */
const RAY_PIECE_MM = 0.1;
const FACE_PIECE_MM = 0.4;

/**
 * Energy [MeV per decay] absorbed in the target voxel at offset (i, j, k) >= 0 from a decay uniformly distributed in
 * the source voxel, for water-equivalent voxel sides `sidesMm` (method in the module header).
 */
export function targetEnergyMeV(profile: RadialProfile, sidesMm: readonly [number, number, number], offset: readonly [number, number, number]): number {
  const dEdr = makeDEdr(profile);
  const rMax = profile.stepMm * profile.dEdrMeVPerMm.length;
  const ax = axisIntervals(offset[0], sidesMm[0]);
  const ay = axisIntervals(offset[1], sidesMm[1]);
  const az = axisIntervals(offset[2], sidesMm[2]);
  let total = 0;
  for (const ix of ax)
    for (const iy of ay)
      for (const iz of az) {
        const rNear = Math.hypot(ix.lo, iy.lo, iz.lo);
        if (rNear >= rMax) continue;
        const w = ix.weight * iy.weight * iz.weight;
        if (ix.lo === 0 && iy.lo === 0 && iz.lo === 0) total += w * cornerBox(dEdr, rMax, ix, iy, iz);
        else total += w * farBox(dEdr, rNear, ix, iy, iz);
      }
  return total;
}

/** Gauss product rule on a sub-box that does not touch the origin. */
function farBox(dEdr: (r: number) => number, rNear: number, ix: Interval, iy: Interval, iz: Interval): number {
  const h = Math.min(0.5, Math.max(0.05, 0.5 * rNear));
  const qx = composite(ix.lo, ix.hi, Math.max(1, Math.ceil((ix.hi - ix.lo) / h)));
  const qy = composite(iy.lo, iy.hi, Math.max(1, Math.ceil((iy.hi - iy.lo) / h)));
  const qz = composite(iz.lo, iz.hi, Math.max(1, Math.ceil((iz.hi - iz.lo) / h)));
  let sum = 0;
  for (let a = 0; a < qx.x.length; a++) {
    const x = qx.x[a];
    const wx = qx.w[a] * hat(ix, x);
    for (let b = 0; b < qy.x.length; b++) {
      const y = qy.x[b];
      const wxy = wx * qy.w[b] * hat(iy, y);
      const r2xy = x * x + y * y;
      for (let c = 0; c < qz.x.length; c++) {
        const z = qz.x[c];
        const r2 = r2xy + z * z;
        sum += (wxy * qz.w[c] * hat(iz, z) * dEdr(Math.sqrt(r2))) / (4 * Math.PI * r2);
      }
    }
  }
  return sum;
}

/**
 * Duffy quadrature on the box [0, A] x [0, B] x [0, C] (corner at the origin): three pyramids with apex at the
 * origin, one per far face. For the face x = A: d = t (A, y, z), Jacobian A t^2, and e(|d|) A t^2 =
 * A dEdr(t ρ0) / (4π ρ0^2) with ρ0 = |(A, y, z)|.
 */
function cornerBox(dEdr: (r: number) => number, rMax: number, ix: Interval, iy: Interval, iz: Interval): number {
  const ivs = [ix, iy, iz];
  let total = 0;
  for (let axis = 0; axis < 3; axis++) {
    const a1 = (axis + 1) % 3;
    const a2 = (axis + 2) % 3;
    const far = ivs[axis].hi;
    const s1 = ivs[a1].hi;
    const s2 = ivs[a2].hi;
    const q1 = composite(0, s1, Math.max(2, Math.min(24, Math.ceil(s1 / FACE_PIECE_MM))));
    const q2 = composite(0, s2, Math.max(2, Math.min(24, Math.ceil(s2 / FACE_PIECE_MM))));
    const p = [0, 0, 0];
    for (let m = 0; m < q1.x.length; m++) {
      for (let n = 0; n < q2.x.length; n++) {
        p[axis] = far;
        p[a1] = q1.x[m];
        p[a2] = q2.x[n];
        const rho0 = Math.hypot(p[0], p[1], p[2]);
        const tMax = Math.min(1, rMax / rho0);
        const pieces = Math.max(2, Math.ceil((tMax * rho0) / RAY_PIECE_MM));
        const qt = composite(0, tMax, pieces);
        let line = 0;
        for (let g = 0; g < qt.x.length; g++) {
          const t = qt.x[g];
          line += qt.w[g] * dEdr(t * rho0) * hat(ix, t * p[0]) * hat(iy, t * p[1]) * hat(iz, t * p[2]);
        }
        total += (q1.w[m] * q2.w[n] * far * line) / (4 * Math.PI * rho0 * rho0);
      }
    }
  }
  return total;
}

/** Converts MeV absorbed per decay in a mass [g] to Gy/(Bq s) = J/kg per decay. */
export function mevPerDecayToGyPerBqS(energyMeV: number, massG: number): number {
  return (energyMeV * JOULE_PER_MEV) / (massG * KG_PER_G);
}
