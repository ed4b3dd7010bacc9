/**
 * The whole-process benchmark cases of scripts/bench.ts (`--cases`), each a NIfTI activity image in Bq/mL at implant
 * and a label map on the same grid, written once into a folder of the temp dir (kept between runs; rewritten when
 * GENERATOR_VERSION or the case's parameters change):
 *
 *   ldm256       LDM, 256^3 voxels of 1.5 mm: a liver ellipsoid filling most of the grid (~10 L, 200 kBq/mL) with six
 *                spherical lesions (1.5-3 MBq/mL), +-20 % Gaussian noise, zero outside the liver (sparse).
 *   ldm256dense  the same liver and lesions inside a body (elliptic cylinder filling the grid; 15 kBq/mL background,
 *                PET-like Gaussian noise of 9 kBq/mL that leaves ~5 % of the body's voxels negative) and noise of
 *                0.3 +- 0.3 kBq/mL in the air around it: non-zero everywhere, ~6 % negative voxels (dense).
 *   dvk192       DVK, the existing 192^3 case of 2.21 mm voxels (scripts/bench/dvk-case.ts: liver + two tumours).
 *   dvk192dense  the same liver and tumours inside the same kind of body and air noise (dense); same label map.
 *
 * The LDM label maps are uint8 (as segmentation tools write them; the DVK case keeps dvk-case.ts's float32 map); the
 * new activity images are gzipped at level 6 (what dcm2niix / pigz / gzip write by default). Activities are chosen so
 * that the field holds 0.5-3 GBq: the engine refuses a Bq/mL image over 50 GBq and warns under 5 MBq.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { encodeNifti, readNifti } from '../../packages/dosimetry-core/src/io/index.ts';
import { makeVolume } from '../../packages/dosimetry-core/src/volume/volume.ts';
import { IDENTITY_DIRECTION, type Geometry } from '../../packages/dosimetry-core/src/volume/geometry.ts';
import { prepareDvkCase, BENCH_DENSITY_G_PER_ML, BENCH_VOXEL_MM } from './dvk-case.ts';

/** Bump when a generator below changes: cached cases are then rewritten. */
const GENERATOR_VERSION = 3;

export const CASE_IDS = ['ldm256', 'ldm256dense', 'dvk192', 'dvk192dense'] as const;
export type CaseId = (typeof CASE_IDS)[number];

/** LDM case voxel size [mm]: 256 x 1.5 mm = 384 mm, a realistic SPECT/PET field of view. */
export const LDM_VOXEL_MM = 1.5;
/** LDM tissue density [g/mL] (the engine's default without a CT). */
export const LDM_DENSITY_G_PER_ML = 1.05;

/** One whole-process case: its files and what the engine and the script are told about them. */
export interface WholeCase {
  readonly id: CaseId;
  readonly method: 'ldm' | 'dvk';
  readonly dense: boolean;
  /** One-line description for the table's legend. */
  readonly description: string;
  readonly dir: string;
  readonly activityPath: string;
  readonly labelsPath: string;
  /** DVK: the engine's voxel kernel as .npy for dvk_scipy.py. */
  readonly kernelNpyPath?: string;
  /** Label value -> structure name (as given to the engine's --labels). */
  readonly labels: ReadonlyArray<readonly [number, string]>;
  readonly liver: string;
  readonly tumours: readonly string[];
  readonly densityGPerMl: number;
  readonly dims: readonly [number, number, number];
  readonly voxelMm: number;
  /** Positive activity in the field [GBq] and share of negative voxels, from the generator. */
  readonly fieldGBq: number;
  readonly negativeVoxelFraction: number;
}

interface Stamp {
  version: number;
  id: string;
  fieldGBq: number;
  negativeVoxelFraction: number;
}

// ------------------------------------------------------------------ random numbers (deterministic)
function rng(seed: number) {
  let s = seed >>> 0;
  const u = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296 + 1 / 8589934592; // (0, 1)
  let spare: number | undefined;
  /** standard normal (Box-Muller, pairs) */
  const g = () => {
    if (spare !== undefined) {
      const x = spare;
      spare = undefined;
      return x;
    }
    const r = Math.sqrt(-2 * Math.log(u()));
    const t = 2 * Math.PI * u();
    spare = r * Math.sin(t);
    return r * Math.cos(t);
  };
  return { u, g };
}

/** Body background and air noise of the dense cases [Bq/mL]. */
const BODY_BQ_PER_ML = 15e3;
const BODY_SIGMA_BQ_PER_ML = 9e3;
const AIR_BQ_PER_ML = 300;
const AIR_SIGMA_BQ_PER_ML = 300;
/** Body: elliptic cylinder along z with these semi-axes as fractions of the grid (x, y). */
const BODY_SEMI_AXES = [0.49, 0.42] as const;

function inBody(x: number, y: number): boolean {
  return ((x - 0.5) / BODY_SEMI_AXES[0]) ** 2 + ((y - 0.5) / BODY_SEMI_AXES[1]) ** 2 <= 1;
}

/** NIfTI-1 header (352 bytes) of the engine's float32 writer for `geometry`, as uint8 or float32. */
function niftiHeader(geometry: Geometry, type: 'uint8' | 'float32', description: string): Uint8Array {
  const one = { ...geometry, dims: [1, 1, 1] as [number, number, number] };
  const raw = encodeNifti(makeVolume(one, new Float32Array(1)), { description, gzip: false });
  const h = raw.slice(0, 352);
  const v = new DataView(h.buffer);
  [3, geometry.dims[0], geometry.dims[1], geometry.dims[2], 1, 1, 1, 1].forEach((d, i) => v.setInt16(40 + 2 * i, d, true));
  if (type === 'uint8') {
    v.setInt16(70, 2, true); // DT_UNSIGNED_CHAR
    v.setInt16(72, 8, true);
  }
  return h;
}

/** Writes a .nii.gz (gzip level 6, the common default) of float32 or uint8 voxels. */
function writeNiiGz(path: string, geometry: Geometry, data: Float32Array | Uint8Array, description: string): void {
  const header = niftiHeader(geometry, data instanceof Uint8Array ? 'uint8' : 'float32', description);
  const body = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const raw = new Uint8Array(352 + body.length);
  raw.set(header, 0);
  raw.set(body, 352);
  writeFileSync(path, gzipSync(raw, { level: 6 }));
}

function stats(act: Float32Array, voxelMl: number): { fieldGBq: number; negativeVoxelFraction: number } {
  let pos = 0;
  let neg = 0;
  for (let i = 0; i < act.length; i++) {
    if (act[i] > 0) pos += act[i];
    else if (act[i] < 0) neg++;
  }
  return { fieldGBq: (pos * voxelMl) / 1e9, negativeVoxelFraction: neg / act.length };
}

function readStamp(dir: string, id: string): Stamp | undefined {
  try {
    const s = JSON.parse(readFileSync(join(dir, 'case.json'), 'utf8')) as Stamp;
    return s.version === GENERATOR_VERSION && s.id === id ? s : undefined;
  } catch {
    return undefined;
  }
}

// ------------------------------------------------------------------ LDM 256^3
const LDM_LESIONS: ReadonlyArray<{ at: [number, number, number]; r: number; bqPerMl: number }> = [
  { at: [0.35, 0.45, 0.5], r: 0.07, bqPerMl: 2.0e6 },
  { at: [0.62, 0.4, 0.55], r: 0.05, bqPerMl: 2.5e6 },
  { at: [0.55, 0.62, 0.42], r: 0.04, bqPerMl: 3.0e6 },
  { at: [0.7, 0.55, 0.6], r: 0.06, bqPerMl: 1.5e6 },
  { at: [0.3, 0.6, 0.4], r: 0.03, bqPerMl: 2.2e6 },
  { at: [0.48, 0.35, 0.35], r: 0.035, bqPerMl: 1.8e6 },
];
const LDM_LIVER_BQ_PER_ML = 2e5;
const LDM_LIVER_SEMI_AXES = [0.42, 0.34, 0.3] as const;

function generateLdm(n: number, dense: boolean): { act: Float32Array; lab: Uint8Array } {
  const act = new Float32Array(n ** 3);
  const lab = new Uint8Array(n ** 3);
  const { g } = rng(dense ? 4242 : 2424);
  for (let k = 0; k < n; k++) {
    const z = (k + 0.5) / n;
    for (let j = 0; j < n; j++) {
      const y = (j + 0.5) / n;
      for (let i = 0; i < n; i++) {
        const x = (i + 0.5) / n;
        const v = i + n * (j + n * k);
        const e = ((x - 0.5) / LDM_LIVER_SEMI_AXES[0]) ** 2 + ((y - 0.5) / LDM_LIVER_SEMI_AXES[1]) ** 2 + ((z - 0.5) / LDM_LIVER_SEMI_AXES[2]) ** 2;
        if (e <= 1) {
          let label = 1;
          let a = LDM_LIVER_BQ_PER_ML;
          LDM_LESIONS.forEach((l, t) => {
            if ((x - l.at[0]) ** 2 + (y - l.at[1]) ** 2 + (z - l.at[2]) ** 2 <= l.r * l.r) {
              label = 2 + t;
              a = l.bqPerMl;
            }
          });
          lab[v] = label;
          act[v] = a * Math.max(0.2, 1 + 0.2 * g()); // +-20 % noise, never negative in the liver
        } else if (dense) {
          act[v] = inBody(x, y) ? BODY_BQ_PER_ML + BODY_SIGMA_BQ_PER_ML * g() : AIR_BQ_PER_ML + AIR_SIGMA_BQ_PER_ML * g();
        }
      }
    }
  }
  return { act, lab };
}

async function prepareLdm(base: string, id: 'ldm256' | 'ldm256dense', log: (m: string) => void): Promise<WholeCase> {
  const n = 256;
  const dense = id === 'ldm256dense';
  const dir = join(base, id);
  mkdirSync(dir, { recursive: true });
  const activityPath = join(dir, 'activity.nii.gz');
  const labelsPath = join(dir, 'labels.nii.gz');
  const geometry: Geometry = { dims: [n, n, n], spacingMm: [LDM_VOXEL_MM, LDM_VOXEL_MM, LDM_VOXEL_MM], originLpsMm: [0, 0, 0], direction: IDENTITY_DIRECTION };
  let stamp = readStamp(dir, id);
  if (!stamp || !existsSync(activityPath) || !existsSync(labelsPath)) {
    log(`writing case ${id} into ${dir} (once) ...`);
    const { act, lab } = generateLdm(n, dense);
    writeNiiGz(activityPath, geometry, act, 'activity at implant [Bq/mL]');
    writeNiiGz(labelsPath, geometry, lab, 'labels 1=Liver 2..7=Tumor 1..6');
    stamp = { version: GENERATOR_VERSION, id, ...stats(act, LDM_VOXEL_MM ** 3 / 1000) };
    writeFileSync(join(dir, 'case.json'), JSON.stringify(stamp) + '\n');
  }
  const tumours = LDM_LESIONS.map((_, t) => `Tumor ${t + 1}`);
  return {
    id,
    method: 'ldm',
    dense,
    description: `LDM, ${n}^3 voxels of ${LDM_VOXEL_MM} mm, liver ellipsoid (~10 L) with six lesions, ${dense ? 'dense: body background + PET-like noise everywhere' : 'sparse: zero outside the liver'}`,
    dir,
    activityPath,
    labelsPath,
    labels: [[1, 'Liver'], ...tumours.map((t, i) => [i + 2, t] as const)],
    liver: 'Liver',
    tumours,
    densityGPerMl: LDM_DENSITY_G_PER_ML,
    dims: [n, n, n],
    voxelMm: LDM_VOXEL_MM,
    fieldGBq: stamp.fieldGBq,
    negativeVoxelFraction: stamp.negativeVoxelFraction,
  };
}

// ------------------------------------------------------------------ DVK 192^3
async function prepareDvk(base: string, id: 'dvk192' | 'dvk192dense', log: (m: string) => void): Promise<WholeCase> {
  const n = 192;
  const sparse = await prepareDvkCase(join(base, 'dvk192'), n); // the existing case (dvk-case.ts), written once
  const dense = id === 'dvk192dense';
  const dir = join(base, id);
  mkdirSync(dir, { recursive: true });
  const activityPath = dense ? join(dir, 'activity.nii.gz') : sparse.activityPath;
  const voxelMl = BENCH_VOXEL_MM ** 3 / 1000;
  let stamp = readStamp(dir, id);
  if (!stamp || !existsSync(activityPath)) {
    const act = new Float32Array(readNifti(sparse.activityPath).volume.data as Float32Array);
    if (dense) {
      log(`writing case ${id} into ${dir} (once) ...`);
      const { g } = rng(9191);
      for (let k = 0; k < n; k++) {
        for (let j = 0; j < n; j++) {
          const y = (j + 0.5) / n;
          for (let i = 0; i < n; i++) {
            const v = i + n * (j + n * k);
            if (act[v] !== 0) continue; // liver and tumours as in the sparse case
            const x = (i + 0.5) / n;
            act[v] = inBody(x, y) ? BODY_BQ_PER_ML + BODY_SIGMA_BQ_PER_ML * g() : AIR_BQ_PER_ML + AIR_SIGMA_BQ_PER_ML * g();
          }
        }
      }
      writeNiiGz(activityPath, sparse.geometry, act, 'activity at implant [Bq/mL]');
    }
    stamp = { version: GENERATOR_VERSION, id, ...stats(act, voxelMl) };
    writeFileSync(join(dir, 'case.json'), JSON.stringify(stamp) + '\n');
  }
  return {
    id,
    method: 'dvk',
    dense,
    description: `DVK, ${n}^3 voxels of ${BENCH_VOXEL_MM} mm (scripts/bench/dvk-case.ts: liver + two tumours, 90Y kernel radius ${sparse.kernel.radius[0]}), ${dense ? 'dense: body background + PET-like noise everywhere' : 'sparse: zero outside the liver'}`,
    dir,
    activityPath,
    labelsPath: sparse.labelsPath,
    kernelNpyPath: sparse.kernelNpyPath,
    labels: [
      [1, 'Liver'],
      [2, 'Tumor A'],
      [3, 'Tumor B'],
    ],
    liver: 'Liver',
    tumours: ['Tumor A', 'Tumor B'],
    densityGPerMl: BENCH_DENSITY_G_PER_ML,
    dims: [n, n, n],
    voxelMm: BENCH_VOXEL_MM,
    fieldGBq: stamp.fieldGBq,
    negativeVoxelFraction: stamp.negativeVoxelFraction,
  };
}

/** Writes (once) and returns the case `id` under `base`. */
export async function prepareCase(base: string, id: CaseId, log: (m: string) => void = () => {}): Promise<WholeCase> {
  return id === 'ldm256' || id === 'ldm256dense' ? prepareLdm(base, id, log) : prepareDvk(base, id, log);
}

/** `dose` arguments of the case: the default back end unless `backend` is given. */
export function engineDoseArgs(c: WholeCase, outDir: string, backend?: 'webgpu' | 'cpu'): string[] {
  return [
    'dose',
    '--activity', c.activityPath,
    '--activity-unit', 'bq-per-ml',
    '--scan-delay-h', '0',
    '--segmentation', c.labelsPath,
    '--labels', c.labels.map(([v, name]) => `${v}=${name}`).join(','),
    '--liver', c.liver,
    ...c.tumours.flatMap((t) => ['--tumor', t]),
    '--isotope', 'Y90',
    '--method', c.method,
    '--density', String(c.densityGPerMl),
    ...(backend ? ['--backend', backend] : []),
    '--out', outDir,
    '--quiet',
  ];
}
