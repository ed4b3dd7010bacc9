/**
 * The DVK benchmark case shared by scripts/bench.ts and scripts/bench-dvk.ts: a size^3 grid of 2.21 mm voxels with a
 * liver ellipsoid (label 1, 40 kBq/mL) and two spherical tumours (labels 2, 3; 320 and 160 kBq/mL), +-20 % uniform
 * noise, zero background; plus the engine's own 90Y voxel kernel (1.04 g/mL) as .npy for the Python script.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeNifti } from '../../packages/dosimetry-core/src/io/index.ts';
import { makeVolume } from '../../packages/dosimetry-core/src/volume/volume.ts';
import { IDENTITY_DIRECTION, type Geometry } from '../../packages/dosimetry-core/src/volume/geometry.ts';
import { voxelKernel, type VoxelKernel } from '../../packages/dosimetry-core/src/kernel/index.ts';

/** Voxel size of the benchmark case [mm] (the 192^3 2.21 mm case). */
export const BENCH_VOXEL_MM = 2.21;
/** Soft-tissue density of the benchmark kernel [g/mL]. */
export const BENCH_DENSITY_G_PER_ML = 1.04;

/** Paths of one benchmark case. */
export interface DvkBenchCase {
  readonly dir: string;
  readonly activityPath: string;
  readonly labelsPath: string;
  readonly kernelNpyPath: string;
  readonly kernel: VoxelKernel;
  readonly geometry: Geometry;
}

/** Writes (once) the case into `dir` and returns its paths; the kernel comes from the engine's cache. */
export async function prepareDvkCase(dir: string, size: number): Promise<DvkBenchCase> {
  mkdirSync(dir, { recursive: true });
  const activityPath = join(dir, 'activity.nii.gz');
  const labelsPath = join(dir, 'labels.nii.gz');
  const kernelNpyPath = join(dir, 'kernel.npy');
  const voxelMm = BENCH_VOXEL_MM;
  const geometry: Geometry = { dims: [size, size, size], spacingMm: [voxelMm, voxelMm, voxelMm], originLpsMm: [0, 0, 0], direction: IDENTITY_DIRECTION };
  if (!existsSync(activityPath) || !existsSync(labelsPath)) {
    const n = size ** 3;
    const act = new Float32Array(n);
    const lab = new Float32Array(n);
    const c = size / 2;
    const tumours = [
      { at: [c + 0.15 * size, c, c + 0.05 * size], rVox: 0.06 * size, label: 2, kBqPerMl: 320 },
      { at: [c - 0.2 * size, c + 0.1 * size, c - 0.1 * size], rVox: 0.04 * size, label: 3, kBqPerMl: 160 },
    ];
    let seed = 12345;
    for (let k = 0; k < size; k++) {
      for (let j = 0; j < size; j++) {
        for (let i = 0; i < size; i++) {
          const idx = i + size * (j + size * k);
          const e = ((i - c) / (0.4 * size)) ** 2 + ((j - c) / (0.3 * size)) ** 2 + ((k - c) / (0.3 * size)) ** 2;
          if (e > 1) continue;
          seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
          let label = 1;
          let a = 40;
          for (const t of tumours) {
            if ((i - t.at[0]) ** 2 + (j - t.at[1]) ** 2 + (k - t.at[2]) ** 2 <= t.rVox ** 2) {
              label = t.label;
              a = t.kBqPerMl;
            }
          }
          lab[idx] = label;
          act[idx] = a * 1000 * (0.8 + 0.4 * (seed / 2 ** 32)); // Bq/mL with +-20 % noise
        }
      }
    }
    writeFileSync(activityPath, encodeNifti(makeVolume(geometry, act), { description: 'activity [Bq/mL]' }));
    writeFileSync(labelsPath, encodeNifti(makeVolume(geometry, lab), { description: 'labels 1=Liver 2=Tumor A 3=Tumor B' }));
  }
  const kernel = await voxelKernel({ isotope: 'Y90', voxelMm: [voxelMm, voxelMm, voxelMm], densityGPerMl: BENCH_DENSITY_G_PER_ML });
  const [rx, ry, rz] = kernel.radius;
  // .npy v1.0, little-endian float32, C order (z, y, x) = our x-fastest layout
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${2 * rz + 1}, ${2 * ry + 1}, ${2 * rx + 1}), }`;
  header += ' '.repeat(63 - ((10 + header.length) % 64)) + '\n';
  const pre = new Uint8Array(10);
  pre.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  new DataView(pre.buffer).setUint16(8, header.length, true);
  writeFileSync(kernelNpyPath, Buffer.concat([pre, Buffer.from(header, 'latin1'), Buffer.from(kernel.values.buffer, kernel.values.byteOffset, kernel.values.byteLength)]));
  return { dir, activityPath, labelsPath, kernelNpyPath, kernel, geometry };
}

/** The `dose --method dvk` arguments of the benchmark case (the CLI contract's options). */
export function dvkCliArgs(c: DvkBenchCase, backend: 'cpu' | 'webgpu', outDir: string): string[] {
  return ['dose', '--activity', c.activityPath, '--activity-unit', 'bq-per-ml', '--scan-delay-h', '0', '--segmentation', c.labelsPath, '--labels', '1=Liver,2=Tumor A,3=Tumor B',
    '--liver', 'Liver', '--tumor', 'Tumor A', '--tumor', 'Tumor B', '--isotope', 'Y90', '--method', 'dvk', '--density', String(BENCH_DENSITY_G_PER_ML),
    '--backend', backend, '--out', outDir, '--json'];
}
