/**
 * Phantoms built in code for the LDM and statistics tests (CPU and GPU), with analytic answers.
 */
import type { GridStructure } from '../../src/volume/structure.ts';

/** Deterministic uniform random numbers in [0, 1) (mulberry32), so failures reproduce. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A sphere of radius radiusMm centred in an n^3 grid of spacingMm voxels, as a GridStructure whose weights are the
 * voxel fractions inside the sphere, estimated with sub^3 sub-samples per voxel.
 */
export function sphereStructure(n: number, spacingMm: number, radiusMm: number, sub = 4): GridStructure {
  const c = (n * spacingMm) / 2;
  const idx: number[] = [];
  const w: number[] = [];
  const r2 = radiusMm * radiusMm;
  const half = (Math.sqrt(3) * spacingMm) / 2;
  for (let k = 0; k < n; k++) {
    for (let j = 0; j < n; j++) {
      for (let i = 0; i < n; i++) {
        const x = (i + 0.5) * spacingMm - c;
        const y = (j + 0.5) * spacingMm - c;
        const z = (k + 0.5) * spacingMm - c;
        const dc = Math.hypot(x, y, z);
        if (dc > radiusMm + half) continue;
        let inside = sub ** 3;
        if (dc > radiusMm - half) {
          inside = 0;
          for (let a = 0; a < sub; a++) for (let b = 0; b < sub; b++) for (let d = 0; d < sub; d++) {
            const xs = x + ((a + 0.5) / sub - 0.5) * spacingMm;
            const ys = y + ((b + 0.5) / sub - 0.5) * spacingMm;
            const zs = z + ((d + 0.5) / sub - 0.5) * spacingMm;
            if (xs * xs + ys * ys + zs * zs <= r2) inside++;
          }
        }
        if (inside > 0) {
          idx.push(i + n * (j + n * k));
          w.push(inside / sub ** 3);
        }
      }
    }
  }
  return { name: 'sphere', origin: 'test phantom', voxelIndices: Uint32Array.from(idx), weights: Float32Array.from(w) };
}

/** A random sparse structure over n voxels: each voxel with probability p, fractional weights in (0, 1]. */
export function randomStructure(n: number, p: number, seed: number, name = `random ${seed}`, fractional = true): GridStructure {
  const r = rng(seed);
  const idx: number[] = [];
  const w: number[] = [];
  for (let i = 0; i < n; i++) {
    if (r() < p) {
      idx.push(i);
      w.push(fractional && r() < 0.5 ? Math.max(1e-4, r()) : 1);
    }
  }
  return { name, origin: 'test phantom', voxelIndices: Uint32Array.from(idx), weights: Float32Array.from(w) };
}

/** CT-like densities [g/mL]: mostly soft tissue around 1.05, some lung (0.3), bone (1.8) and air (<= 0, HU -1024). */
export function ctLikeDensity(n: number, seed: number): Float32Array {
  const r = rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const u = r();
    out[i] = u < 0.05 ? -0.024 * r() : u < 0.1 ? 0 : u < 0.25 ? 0.2 + 0.2 * r() : u < 0.3 ? 1.5 + 0.5 * r() : 0.95 + 0.2 * r();
  }
  return out;
}

/** PET-like activity [Bq/mL]: noisy, with about fracNegative of the voxels negative. */
export function noisyActivity(n: number, seed: number, meanBqPerMl = 2e6, fracNegative = 0.1): Float32Array {
  const r = rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = r() < fracNegative ? -0.3 * meanBqPerMl * r() : 2 * meanBqPerMl * r();
  return out;
}
