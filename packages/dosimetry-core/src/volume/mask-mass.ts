/**
 * A structure's own mass in each voxel of a coarser grid: a fine mask (a segmentation on the CT's grid) and a density
 * image (the CT) sampled together, so that a voxel at a structure's boundary counts the density of the structure's
 * part of it, not the mean density of the whole voxel (a lung voxel at the chest wall holds lung and rib).
 *
 * For target voxel i and structure s: m_s,i = integral of rho over the part of voxel i inside s, estimated with the
 * regular sub-grid of points that maskToGrid uses for the occupancy: w_i = sum_p o(p) / N and m_s,i / Vvox =
 * sum_p o(p) rho(p) / N, o the mask's occupancy (0..1) and rho the density at sample p (N samples per voxel).
 */
import { type Geometry } from './geometry.ts';
import { type IndexMap, indexMap, voxelAlignedMap } from './index-map.ts';
import { type StructureMask, maskExtent } from './structure.ts';
import type { Volume, VoxelArray } from './volume.ts';

/** A density image sampled alongside a mask (`maskToGrid`'s `density` option). */
export interface MaskDensitySource {
  /** The image on any grid, e.g. a CT in HU. */
  readonly image: Volume<VoxelArray>;
  /** Density [g/mL] of a stored value (e.g. HU to g/mL, src/dose/ct-density.ts); default: the stored value. */
  readonly transform?: (stored: number) => number;
  /**
   * Density [g/mL] of the mask's samples that fall outside the image's field of view: one value, or one per voxel of
   * the target grid (x-fastest).
   */
  readonly outsideGPerMl: number | ArrayLike<number>;
}

/** Most sub-samples per target axis for the masses (a 0.5 mm CT in 5 mm voxels needs 10; 4096 samples per voxel at most). */
export const MASS_MAX_SUBSAMPLES = 16;

/** Voxels of the destination grid of `m` crossed by a one-voxel step along each axis t of its source (max over axes). */
function crossings(m: IndexMap): [number, number, number] {
  const a = m.a;
  return [0, 1, 2].map((t) => Math.max(Math.abs(a[t]), Math.abs(a[3 + t]), Math.abs(a[6 + t]))) as [number, number, number];
}

/**
 * Sub-samples per target axis for masses: as many as for the occupancy alone (sampling the mask at half its finest
 * spacing, 2..8; see maskToGrid) and at least one per density-image voxel crossed, ceil(target spacing / image
 * spacing), at most MASS_MAX_SUBSAMPLES. On nested grids (1 mm CT and mask in 4 mm voxels: 8 per axis) every CT
 * voxel gets the same number of samples, so the sums are exact.
 */
export function massSubsamples(mask: Geometry, image: Geometry, target: Geometry): [number, number, number] {
  const finest = Math.min(...mask.spacingMm);
  const ci = crossings(indexMap(target, image));
  return [0, 1, 2].map((t) =>
    Math.min(MASS_MAX_SUBSAMPLES, Math.max(Math.min(8, Math.max(2, Math.ceil((2 * target.spacingMm[t]) / finest))), Math.ceil(ci[t] - 1e-9))),
  ) as [number, number, number];
}

/** Where `sampleMaskWithDensity` writes (arrays sized by the caller for every voxel of the box). */
export interface MaskDensityOutput {
  readonly voxelIndices: Uint32Array;
  readonly weights: Float32Array;
  readonly partMassGPerMl: Float32Array;
}

/**
 * Samples `mask` and the density image at `subsamples` points per target axis in each target voxel of the inclusive
 * index box [i0, i1] x [j0, j1] x [k0, k1] and writes, in ascending index order, the voxels the mask touches with
 * their occupancy weight w and their part mass per mL of voxel (see GridStructure.partMassGPerMl). Density by the
 * nearest image voxel of each sample; when the mask's voxels are the image's own (a segmentation on the CT's grid, or a
 * crop of it), by the image voxel of the mask voxel hit, looked up once per mask voxel. Accumulates in float64.
 * Returns the number of entries written and the sum of their weights.
 */
export function sampleMaskWithDensity(
  mask: StructureMask,
  target: Geometry,
  box: readonly [number, number, number, number, number, number],
  density: MaskDensitySource,
  subsamples: readonly [number, number, number],
  out: MaskDensityOutput,
): { count: number; totalInside: number } {
  const [i0, i1, j0, j1, k0, k1] = box;
  const [tx, ty] = target.dims;
  const [mx, my, mz] = mask.geometry.dims;
  const occ = mask.occupancy;
  const img = density.image;
  const [sx, sy, sz] = img.geometry.dims;
  const data = img.data;
  const f = density.transform ?? ((v: number) => v);
  const outside = density.outsideGPerMl;
  const toMask = indexMap(target, mask.geometry);
  const toImg = indexMap(target, img.geometry);
  const A = toMask.a, B = toMask.b, C = toImg.a, D = toImg.b;

  // Sample offsets from the voxel centre, in mask and in image index units.
  const nS = subsamples[0] * subsamples[1] * subsamples[2];
  const offM = new Float64Array(3 * nS);
  const offI = new Float64Array(3 * nS);
  let s = 0;
  for (let c = 0; c < subsamples[2]; c++) {
    for (let b = 0; b < subsamples[1]; b++) {
      for (let a = 0; a < subsamples[0]; a++, s++) {
        const o = [(a + 0.5) / subsamples[0] - 0.5, (b + 0.5) / subsamples[1] - 0.5, (c + 0.5) / subsamples[2] - 0.5];
        for (let r = 0; r < 3; r++) {
          offM[3 * s + r] = A[3 * r] * o[0] + A[3 * r + 1] * o[1] + A[3 * r + 2] * o[2];
          offI[3 * s + r] = C[3 * r] * o[0] + C[3 * r + 1] * o[1] + C[3 * r + 2] * o[2];
        }
      }
    }
  }

  // Mask voxels that are image voxels: their densities once, over the mask's occupied box (NaN outside the image).
  let table: Float32Array | undefined;
  let tLo = [0, 0, 0];
  let tbx = 0, tby = 0;
  const aligned = voxelAlignedMap(indexMap(mask.geometry, img.geometry));
  if (aligned) {
    const e = maskExtent(mask)!;
    tLo = [...e.lo];
    tbx = e.hi[0] - e.lo[0] + 1;
    tby = e.hi[1] - e.lo[1] + 1;
    table = new Float32Array(tbx * tby * (e.hi[2] - e.lo[2] + 1));
    const sDims = [sx, sy, sz];
    const q = [0, 0, 0];
    const m = [0, 0, 0];
    let n = 0;
    for (m[2] = e.lo[2]; m[2] <= e.hi[2]; m[2]++) {
      for (m[1] = e.lo[1]; m[1] <= e.hi[1]; m[1]++) {
        const row = mx * (m[1] + my * m[2]);
        for (m[0] = e.lo[0]; m[0] <= e.hi[0]; m[0]++, n++) {
          if (occ[row + m[0]] === 0) continue;
          let inside = true;
          for (let r = 0; r < 3; r++) {
            q[r] = aligned.sign[r] * m[aligned.axis[r]] + aligned.offset[r];
            if (q[r] < 0 || q[r] >= sDims[r]) inside = false;
          }
          table[n] = inside ? f(data[q[0] + sx * (q[1] + sy * q[2])]) : NaN;
        }
      }
    }
  }

  const touched = touchedVoxels(mask, target, box);
  const bx = i1 - i0 + 1, by = j1 - j0 + 1;
  const scalarOut = typeof outside === 'number' ? outside : NaN;
  // table index of mask voxel (u, v, w) = u + tbx (v + tby w) - tBase
  const tBase = tLo[0] + tbx * (tLo[1] + tby * tLo[2]);
  const tStrideZ = tbx * tby;
  const mStrideZ = mx * my;
  let count = 0;
  let totalInside = 0;
  const scale = 1 / (255 * nS);
  for (let k = k0; k <= k1; k++) {
    for (let j = j0; j <= j1; j++) {
      const touchedRow = bx * (j - j0 + by * (k - k0)) - i0;
      for (let i = i0; i <= i1; i++) {
        if (touched[touchedRow + i] === 0) continue; // no sample of this voxel can land on an occupied mask voxel
        const t = i + tx * (j + ty * k);
        const cu = A[0] * i + A[1] * j + A[2] * k + B[0];
        const cv = A[3] * i + A[4] * j + A[5] * k + B[1];
        const cw = A[6] * i + A[7] * j + A[8] * k + B[2];
        const rhoOut = scalarOut === scalarOut ? scalarOut : (outside as ArrayLike<number>)[t];
        let acc = 0;
        let accMass = 0;
        if (table) {
          for (let q = 0; q < 3 * nS; q += 3) {
            const u = nearestIndex(cu + offM[q]);
            const v = nearestIndex(cv + offM[q + 1]);
            const w = nearestIndex(cw + offM[q + 2]);
            if (u < 0 || v < 0 || w < 0 || u >= mx || v >= my || w >= mz) continue;
            const o = occ[u + mx * v + mStrideZ * w];
            if (o === 0) continue;
            const rho = table[u + tbx * v + tStrideZ * w - tBase];
            acc += o;
            accMass += o * (rho === rho ? rho : rhoOut);
          }
        } else {
          const du = C[0] * i + C[1] * j + C[2] * k + D[0];
          const dv = C[3] * i + C[4] * j + C[5] * k + D[1];
          const dw = C[6] * i + C[7] * j + C[8] * k + D[2];
          for (let q = 0; q < 3 * nS; q += 3) {
            const u = nearestIndex(cu + offM[q]);
            const v = nearestIndex(cv + offM[q + 1]);
            const w = nearestIndex(cw + offM[q + 2]);
            if (u < 0 || v < 0 || w < 0 || u >= mx || v >= my || w >= mz) continue;
            const o = occ[u + mx * v + mStrideZ * w];
            if (o === 0) continue;
            const a = nearestIndex(du + offI[q]);
            const b = nearestIndex(dv + offI[q + 1]);
            const c = nearestIndex(dw + offI[q + 2]);
            acc += o;
            accMass += o * (a < 0 || b < 0 || c < 0 || a >= sx || b >= sy || c >= sz ? rhoOut : f(data[a + sx * (b + sy * c)]));
          }
        }
        if (acc > 0) {
          const weight = acc * scale;
          out.voxelIndices[count] = t;
          out.weights[count] = weight;
          out.partMassGPerMl[count++] = accMass * scale;
          totalInside += weight;
        }
      }
    }
  }
  return { count, totalInside };
}

/**
 * Marks, over the target index box, the target voxels that overlap an occupied mask voxel (the mask voxel's box mapped
 * into target indices, bounded by its centre +- half its extent along each target axis, plus 1e-6 for rounding): the
 * samples of any other voxel all land on empty mask voxels. Most of a structure's bounding box is empty (a lung,
 * vessels): skipping it saves most of the sampling.
 */
function touchedVoxels(mask: StructureMask, target: Geometry, box: readonly [number, number, number, number, number, number]): Uint8Array {
  const [i0, i1, j0, j1, k0, k1] = box;
  const bx = i1 - i0 + 1, by = j1 - j0 + 1, bz = k1 - k0 + 1;
  const out = new Uint8Array(bx * by * bz);
  const M = indexMap(mask.geometry, target);
  const a = M.a;
  const h = [0, 1, 2].map((t) => 0.5 * (Math.abs(a[3 * t]) + Math.abs(a[3 * t + 1]) + Math.abs(a[3 * t + 2])) + 1e-6);
  const lo = [i0, j0, k0], hi = [i1, j1, k1];
  const e = maskExtent(mask)!;
  const [mx, my] = mask.geometry.dims;
  const occ = mask.occupancy;
  const r0 = [0, 0, 0], r1 = [0, 0, 0];
  for (let w = e.lo[2]; w <= e.hi[2]; w++) {
    for (let v = e.lo[1]; v <= e.hi[1]; v++) {
      const row = mx * (v + my * w);
      for (let u = e.lo[0]; u <= e.hi[0]; u++) {
        if (occ[row + u] === 0) continue;
        let empty = false;
        for (let t = 0; t < 3; t++) {
          const q = a[3 * t] * u + a[3 * t + 1] * v + a[3 * t + 2] * w + M.b[t];
          r0[t] = Math.max(lo[t], Math.floor(q - h[t] + 0.5));
          r1[t] = Math.min(hi[t], Math.floor(q + h[t] + 0.5));
          if (r1[t] < r0[t]) empty = true;
        }
        if (empty) continue;
        for (let z = r0[2]; z <= r1[2]; z++) {
          for (let y = r0[1]; y <= r1[1]; y++) {
            const base = bx * (y - j0 + by * (z - k0)) - i0;
            for (let x = r0[0]; x <= r1[0]; x++) out[base + x] = 1;
          }
        }
      }
    }
  }
  return out;
}

/**
 * Nearest voxel index of a continuous index. Sample points of voxels whose grids are offset by half a voxel fall
 * exactly on voxel boundaries (x.5), where floating-point rounding of the same physical point differs with the
 * grid's storage order (a flipped or permuted activity image): ties are broken upward with a margin far above that
 * rounding (1e-6 of a voxel), so that every storage order of one grid samples the same voxels.
 */
function nearestIndex(x: number): number {
  return Math.floor(x + 0.5 + 1e-6);
}
