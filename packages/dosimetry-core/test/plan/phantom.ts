/**
 * The planning phantom shared by the plan tests: index boxes on a 24^3 grid of 4 mm voxels (0.064 mL), a liver with
 * three cubic lesions of known T/N and a lung box, as a counts image and masks; and a capture of a CLI run.
 */
import { vi } from 'vitest';
import type { Geometry } from '../../src/volume/geometry.ts';
import type { StructureMask } from '../../src/volume/structure.ts';

export const N = 24, SP = 4;
export const V_ML = (SP * SP * SP) / 1000;
export const geometry: Geometry = { dims: [N, N, N], spacingMm: [SP, SP, SP], originLpsMm: [0, 0, 0], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] };
export type Box = [number, number, number, number, number, number];
export const LIVER: Box = [2, 22, 2, 22, 2, 14];
export const LUNG: Box = [2, 22, 2, 22, 16, 22];
export const LESIONS: Array<{ name: string; box: Box; tn: number }> = [
  { name: 'Tumor A', box: [4, 8, 4, 8, 4, 8], tn: 4 },
  { name: 'Tumor B', box: [12, 16, 12, 18, 6, 10], tn: 2.2 },
  { name: 'Tumor C', box: [16, 20, 4, 6, 8, 12], tn: 6 },
];
export const NORMAL_COUNTS = 10;
export const boxVoxels = (b: Box) => (b[1] - b[0]) * (b[3] - b[2]) * (b[5] - b[4]);
export const inBox = (b: Box, i: number, j: number, k: number) => i >= b[0] && i < b[1] && j >= b[2] && j < b[3] && k >= b[4] && k < b[5];

/** Counts image; lung voxels hold `lungCounts` each. */
export function countsImage(lungCounts: number): Float32Array {
  const d = new Float32Array(N * N * N);
  for (let k = 0; k < N; k++) for (let j = 0; j < N; j++) for (let i = 0; i < N; i++) {
    const n = i + N * (j + N * k);
    if (inBox(LUNG, i, j, k)) d[n] = lungCounts;
    if (inBox(LIVER, i, j, k)) {
      d[n] = NORMAL_COUNTS;
      for (const l of LESIONS) if (inBox(l.box, i, j, k)) d[n] = NORMAL_COUNTS * l.tn;
    }
  }
  return d;
}

export function mask(name: string, box: Box): StructureMask {
  const occ = new Uint8Array(N * N * N);
  for (let k = 0; k < N; k++) for (let j = 0; j < N; j++) for (let i = 0; i < N; i++) if (inBox(box, i, j, k)) occ[i + N * (j + N * k)] = 255;
  return { name, origin: 'test phantom', geometry, occupancy: occ };
}
export const MASKS = [mask('Liver', LIVER), mask('Lungs', LUNG), ...LESIONS.map((l) => mask(l.name, l.box))];

/** Runs a CLI call with stdout and stderr captured. */
export async function capture(f: () => Promise<number>): Promise<{ code: number; out: string; err: string }> {
  let out = '', err = '';
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => ((out += String(s)), true));
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => ((err += String(s)), true));
  try {
    return { code: await f(), out, err };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}
