/**
 * Gamma index of an evaluated dose map against a reference dose map on the same grid (Low, Harms, Mutic, Purdy,
 * Med Phys 25(5) 656-661, 1998): for every reference voxel centre r with dose D_r(r) at or above the threshold,
 *
 *   gamma(r) = min over points e of sqrt( |e - r|^2 / dta^2 + (D_e(e) - D_r(r))^2 / dD^2 ),
 *
 * global: dD = (dosePercent / 100) x the largest reference dose. The search is a real 3-D one with sub-voxel
 * resolution: the points e lie on a regular lattice of offsets (step `stepMm`, default DTA / 5 but no coarser than a
 * third of the finest voxel spacing) inside a sphere of radius `searchRadiusMm` (default 3 x DTA), refined around the best lattice point in two finer
 * passes (step / 4, step / 16), and D_e between
 * voxel centres is trilinear. Offsets are visited by increasing distance and the search stops once |e - r| / dta
 * reaches the best gamma found (no farther point can do better), so agreeing regions cost little. When the sphere
 * holds no point with gamma below its radius / dta, gamma is the smallest value found (at most that cap), and the
 * voxel fails. Evaluated values that are NaN (outside the evaluated image) are never a candidate; a reference voxel
 * whose own evaluated neighbourhood is all NaN is left out (NaN in the map, not counted).
 *
 * For a linear dose field the trilinear interpolation is exact, so the result is the continuous Low et al. value up
 * to the lattice step: on a gradient g [Gy/mm] shifted by s [mm] along the gradient, gamma = |s| / sqrt(dta^2 +
 * (dD / g)^2) (test/plan/gamma.test.ts derives and checks this).
 */
import { InputError } from '../errors.ts';
import type { Geometry } from '../volume/geometry.ts';
import { voxelCount } from '../volume/geometry.ts';

/** One gamma criterion: dose difference [% of the global reference maximum] and distance to agreement [mm]. */
export interface GammaCriterion {
  readonly dosePercent: number;
  readonly dtaMm: number;
}

/** Options of {@link gammaIndex}. */
export interface GammaOptions extends GammaCriterion {
  /** Reference voxels below this percentage of the reference maximum are not evaluated (default 10). */
  readonly thresholdPercent?: number;
  /** Search radius [mm] (default 3 x DTA). */
  readonly searchRadiusMm?: number;
  /** Lattice step of the search [mm] (default min(DTA / 5, finest spacing / 3)). */
  readonly stepMm?: number;
}

/** Result of {@link gammaIndex}. */
export interface GammaResult {
  readonly criterion: string;
  readonly dosePercent: number;
  readonly dtaMm: number;
  /** Dose criterion in Gy (dosePercent % of referenceMaxGy). */
  readonly doseCriterionGy: number;
  readonly referenceMaxGy: number;
  readonly thresholdPercent: number;
  readonly thresholdGy: number;
  readonly searchRadiusMm: number;
  readonly stepMm: number;
  /** Reference voxels evaluated (at or above the threshold, with evaluated data around them). */
  readonly evaluatedVoxels: number;
  /** Fraction of evaluated voxels with gamma <= 1, in [0, 1]. */
  readonly passRate: number;
  readonly meanGamma: number;
  /** 95th percentile of gamma over the evaluated voxels. */
  readonly gamma95: number;
  readonly maxGamma: number;
  /** Gamma per voxel of the reference grid; NaN where not evaluated. */
  readonly map: Float32Array;
}

/** Name of a criterion as in file names and reports: "5%/5mm". */
export function criterionName(c: GammaCriterion): string {
  return `${c.dosePercent}%/${c.dtaMm}mm`;
}

/** Parses "10,10" (percent, mm) into a criterion; throws InputError with the fix otherwise. */
export function parseGammaCriterion(text: string): GammaCriterion {
  const m = /^\s*([0-9.]+)\s*%?\s*[,/]\s*([0-9.]+)\s*(mm)?\s*$/.exec(text);
  const dosePercent = m ? Number(m[1]) : NaN, dtaMm = m ? Number(m[2]) : NaN;
  if (!(dosePercent > 0) || !(dtaMm > 0) || !Number.isFinite(dosePercent) || !Number.isFinite(dtaMm)) {
    throw new InputError(`gamma criterion "${text}" is not "PERCENT,MM" with both > 0: give e.g. --gamma 5,5 (5 % of the maximum planned dose, 5 mm)`);
  }
  return { dosePercent, dtaMm };
}

/**
 * Global 3-D gamma index of `evaluated` against `reference`, both on `grid` (module comment). Throws InputError for
 * mismatched lengths, non-positive criteria, or a reference without positive dose.
 */
export function gammaIndex(reference: ArrayLike<number>, evaluated: ArrayLike<number>, grid: Geometry, opts: GammaOptions): GammaResult {
  const n = voxelCount(grid);
  if (reference.length !== n || evaluated.length !== n) {
    throw new InputError(`gamma: reference (${reference.length}) and evaluated (${evaluated.length}) maps must both hold the ${n} voxels of the grid: resample them first`);
  }
  const { dosePercent, dtaMm } = opts;
  if (!(dosePercent > 0) || !(dtaMm > 0)) throw new InputError(`gamma criterion ${dosePercent} %/${dtaMm} mm: both must be > 0`);
  const thresholdPercent = opts.thresholdPercent ?? 10;
  let maxGy = 0;
  for (let i = 0; i < n; i++) if (reference[i] > maxGy) maxGy = reference[i];
  if (!(maxGy > 0)) throw new InputError('gamma: the reference (planned) dose map holds no positive dose: check the planned case');
  const dD = (dosePercent / 100) * maxGy;
  const thresholdGy = (thresholdPercent / 100) * maxGy;
  const [sx, sy, sz] = grid.spacingMm;
  const radius = opts.searchRadiusMm ?? 3 * dtaMm;
  const step = opts.stepMm ?? Math.min(dtaMm / 5, Math.min(sx, sy, sz) / 3);
  if (!(step > 0) || !(radius > 0)) throw new InputError(`gamma: search radius ${radius} mm and step ${step} mm must be > 0`);

  // Offsets (index units) inside the sphere, sorted by distance; direction matrix is orthonormal, so the world length
  // of an index offset (di, dj, dk) is sqrt((di sx)^2 + (dj sy)^2 + (dk sz)^2).
  const m = Math.floor(radius / step + 1e-9);
  const list: [number, number, number, number][] = [];
  for (let c = -m; c <= m; c++) for (let b = -m; b <= m; b++) for (let a = -m; a <= m; a++) {
    const d2 = (a * a + b * b + c * c) * step * step;
    if (d2 <= radius * radius * (1 + 1e-12)) list.push([(a * step) / sx, (b * step) / sy, (c * step) / sz, d2 / (dtaMm * dtaMm)]);
  }
  list.sort((p, q) => p[3] - q[3]);
  const no = list.length;
  const oi = new Float64Array(no), oj = new Float64Array(no), ok = new Float64Array(no), od = new Float64Array(no);
  list.forEach((o, t) => { oi[t] = o[0]; oj[t] = o[1]; ok[t] = o[2]; od[t] = o[3]; });

  const [nx, ny, nz] = grid.dims;
  const e = evaluated;
  const at = (i: number, j: number, k: number) => e[i + nx * (j + ny * k)];
  // Trilinear sample at fractional index (u, v, w); NaN outside the grid or next to a NaN voxel.
  const sample = (u: number, v: number, w: number): number => {
    if (u < 0 || v < 0 || w < 0 || u > nx - 1 || v > ny - 1 || w > nz - 1) return NaN;
    const u0 = Math.min(Math.floor(u), Math.max(nx - 2, 0)), v0 = Math.min(Math.floor(v), Math.max(ny - 2, 0)), w0 = Math.min(Math.floor(w), Math.max(nz - 2, 0));
    const fu = nx > 1 ? u - u0 : 0, fv = ny > 1 ? v - v0 : 0, fw = nz > 1 ? w - w0 : 0;
    const u1 = nx > 1 ? u0 + 1 : u0, v1 = ny > 1 ? v0 + 1 : v0, w1 = nz > 1 ? w0 + 1 : w0;
    const c00 = at(u0, v0, w0) * (1 - fu) + at(u1, v0, w0) * fu;
    const c10 = at(u0, v1, w0) * (1 - fu) + at(u1, v1, w0) * fu;
    const c01 = at(u0, v0, w1) * (1 - fu) + at(u1, v0, w1) * fu;
    const c11 = at(u0, v1, w1) * (1 - fu) + at(u1, v1, w1) * fu;
    return (c00 * (1 - fv) + c10 * fv) * (1 - fw) + (c01 * (1 - fv) + c11 * fv) * fw;
  };

  const refineSteps = [step / 4, step / 16];
  const dta2 = dtaMm * dtaMm;
  const map = new Float32Array(n).fill(NaN);
  const values: number[] = [];
  let pass = 0, sum = 0, maxGamma = 0;
  const inv = 1 / (dD * dD);
  for (let k = 0; k < nz; k++) for (let j = 0; j < ny; j++) for (let i = 0; i < nx; i++) {
    const idx = i + nx * (j + ny * k);
    const dr = reference[idx];
    if (!(dr >= thresholdGy)) continue;
    let best = Infinity, bt = -1;
    for (let t = 0; t < no; t++) {
      const dist2 = od[t];
      if (dist2 >= best) break;
      const de = sample(i + oi[t], j + oj[t], k + ok[t]);
      if (de !== de) continue; // NaN
      const g2 = dist2 + (de - dr) * (de - dr) * inv;
      if (g2 < best) (best = g2), (bt = t);
    }
    if (best === Infinity) continue;
    // Refinement around the best lattice point: two 5 x 5 x 5 passes at step / 4 and step / 16 (covers the lattice
    // cell, then the refined cell), so the minimum is found to about step / 32.
    if (best > 0) {
      let cx = oi[bt] * sx, cy = oj[bt] * sy, cz = ok[bt] * sz; // mm along the index axes
      for (const h of refineSteps) {
        let nx0 = cx, ny0 = cy, nz0 = cz;
        for (let c = -2; c <= 2; c++) for (let b = -2; b <= 2; b++) for (let a = -2; a <= 2; a++) {
          const x = cx + a * h, y = cy + b * h, z = cz + c * h;
          const dist2 = (x * x + y * y + z * z) / dta2;
          if (dist2 >= best) continue;
          const de = sample(i + x / sx, j + y / sy, k + z / sz);
          if (de !== de) continue;
          const g2 = dist2 + (de - dr) * (de - dr) * inv;
          if (g2 < best) (best = g2), (nx0 = x), (ny0 = y), (nz0 = z);
        }
        cx = nx0; cy = ny0; cz = nz0;
      }
    }
    const g = Math.sqrt(best);
    map[idx] = g;
    values.push(g);
    sum += g;
    if (g <= 1) pass++;
    if (g > maxGamma) maxGamma = g;
  }
  const count = values.length;
  values.sort((p, q) => p - q);
  return {
    criterion: criterionName(opts),
    dosePercent,
    dtaMm,
    doseCriterionGy: dD,
    referenceMaxGy: maxGy,
    thresholdPercent,
    thresholdGy,
    searchRadiusMm: radius,
    stepMm: step,
    evaluatedVoxels: count,
    passRate: count ? pass / count : NaN,
    meanGamma: count ? sum / count : NaN,
    gamma95: count ? values[Math.min(count - 1, Math.ceil(0.95 * count) - 1)] : NaN,
    maxGamma,
    map,
  };
}
