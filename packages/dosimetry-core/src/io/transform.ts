/**
 * ITK transform files (.tfm, "#Insight Transform File V1.0"), as ITK, elastix (through itk-wasm) and 3D Slicer write
 * and read them.
 *
 * Frame and direction: an ITK transform maps points of the FIXED (output, resampling target) space to points of the
 * MOVING (input) space, in LPS millimetres: resampling the moving image onto the fixed grid samples it at T(p) for
 * every fixed voxel centre p. That is exactly the direction `dose --transform` needs. (3D Slicer shows the inverse,
 * "to parent", but writes and reads the ITK file in this direction, converting RAS<->LPS itself.)
 *
 * Types understood (double or float): IdentityTransform, TranslationTransform, Euler3DTransform,
 * VersorTransform, VersorRigid3DTransform, Similarity3DTransform, AffineTransform, MatrixOffsetTransformBase,
 * BSplineTransform (ITKv4, cubic), and a CompositeTransform of these. A composite's sub-transforms are listed in
 * ITK's queue order and applied last-listed first (itk::CompositeTransform::TransformPoint). Anything else is refused
 * with a FormatError that names the type.
 *
 * Sources: ITK Software Guide 4.x, sections 3.6 (transforms) and 3.9.1 (transform file IO); itkEuler3DTransform.hxx
 * (R = Rz Rx Ry unless ComputeZYX, then Rz Ry Rx), itkMatrixOffsetTransformBase.hxx (T(p) = M (p - c) + c + t;
 * parameters: M row-major then t; fixed parameters: c), itkBSplineTransform.hxx (fixed parameters: grid size, grid
 * origin, grid spacing, grid direction row-major; parameters: coefficients of dimension 0 for every node x-fastest,
 * then dimension 1, then 2).
 */
import { FormatError } from '../errors.ts';
import { readFileBytes } from './files.ts';

/** One transform of a file: its ITK class name without the "_double_3_3" suffix, and its two parameter lists. */
export interface ItkTransformEntry {
  /** ITK class name, e.g. "Euler3DTransform", "AffineTransform", "BSplineTransform". */
  readonly type: string;
  /** Parameters (units per type: radians and mm for Euler3D; matrix elements and mm for Affine; mm for BSpline). */
  readonly parameters: readonly number[];
  /** Fixed parameters (centre of rotation [mm, LPS]; B-spline grid geometry). */
  readonly fixedParameters: readonly number[];
}

/**
 * The content of a .tfm file: the transforms to apply, in ITK composite queue order (the last one is applied first;
 * a single transform is a list of one).
 */
export interface ItkTransformFile {
  readonly transforms: readonly ItkTransformEntry[];
}

/** A fixed-to-moving point mapping in LPS mm. */
export interface PointTransform {
  /** Maps a fixed-space point [mm, LPS] to the moving space; writes into and returns `out`. */
  apply(x: number, y: number, z: number, out: number[]): number[];
}

/** Linear part of a transform: T(p) = matrix p + offset (matrix row-major, offset in mm). */
export interface LinearMap {
  readonly matrixRowMajor: readonly number[];
  readonly offsetMm: readonly [number, number, number];
}

const KNOWN = new Set([
  'IdentityTransform',
  'TranslationTransform',
  'Euler3DTransform',
  'VersorTransform',
  'VersorRigid3DTransform',
  'Similarity3DTransform',
  'AffineTransform',
  'MatrixOffsetTransformBase',
  'BSplineTransform',
  'CompositeTransform',
]);

const PARAMETER_COUNT: Readonly<Record<string, number>> = {
  IdentityTransform: 0,
  TranslationTransform: 3,
  Euler3DTransform: 6,
  VersorTransform: 3,
  VersorRigid3DTransform: 6,
  Similarity3DTransform: 7,
  AffineTransform: 12,
  MatrixOffsetTransformBase: 12,
};

function parseNumbers(text: string, path: string, line: number): number[] {
  const parts = text.trim() === '' ? [] : text.trim().split(/\s+/);
  const out = parts.map(Number);
  const bad = out.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) {
    throw new FormatError(`${path} line ${line}: value "${parts[bad]}" is not a finite number; the transform file is corrupt (re-export it)`);
  }
  return out;
}

/**
 * Parses the text of an ITK transform file. Throws a FormatError for a missing header, an unknown transform type,
 * a non-3-D transform, a value that is not a finite number or a parameter count that does not fit the type.
 */
export function parseTransformFile(text: string, path = 'transform file'): ItkTransformFile {
  const lines = text.split(/\r?\n/);
  if (!/^#Insight Transform File V1\.0/.test(lines[0]?.trim() ?? '')) {
    throw new FormatError(`${path}: not an ITK transform file (the first line must be "#Insight Transform File V1.0"); export the transform from 3D Slicer or ITK as .tfm`);
  }
  const raw: { type: string; parameters?: number[]; fixed?: number[]; line: number }[] = [];
  for (let n = 1; n < lines.length; n++) {
    const line = lines[n].trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([A-Za-z]+):\s*(.*)$/.exec(line);
    if (!m) throw new FormatError(`${path} line ${n + 1}: cannot read "${line.slice(0, 60)}" (expected "Transform:", "Parameters:" or "FixedParameters:")`);
    const [, key, value] = m;
    if (key === 'Transform') {
      const t = /^([A-Za-z0-9]+?)_(double|float)_(\d+)_(\d+)$/.exec(value.trim());
      if (!t) throw new FormatError(`${path} line ${n + 1}: transform type "${value.trim()}" is not of the form Name_double_3_3`);
      if (t[3] !== '3' || t[4] !== '3') throw new FormatError(`${path} line ${n + 1}: ${value.trim()} is a ${t[3]}-D transform; only 3-D transforms (_3_3) apply to images`);
      if (!KNOWN.has(t[1])) {
        throw new FormatError(
          `${path} line ${n + 1}: transform type ${t[1]} is not supported (supported: ${[...KNOWN].join(', ')}); export a linear, B-spline or composite transform`,
        );
      }
      raw.push({ type: t[1], line: n + 1 });
    } else if (key === 'Parameters' || key === 'FixedParameters') {
      const cur = raw.at(-1);
      if (!cur) throw new FormatError(`${path} line ${n + 1}: ${key} before any "Transform:" line`);
      const values = parseNumbers(value, path, n + 1);
      if (key === 'Parameters') cur.parameters = values;
      else cur.fixed = values;
    } else {
      throw new FormatError(`${path} line ${n + 1}: unknown key "${key}" (expected Transform, Parameters or FixedParameters)`);
    }
  }
  if (raw.length === 0) throw new FormatError(`${path}: holds no transform`);
  let entries = raw;
  if (raw[0].type === 'CompositeTransform') {
    entries = raw.slice(1);
    if (entries.length === 0) throw new FormatError(`${path}: the composite transform holds no transforms`);
  } else if (raw.length > 1) {
    throw new FormatError(`${path}: holds ${raw.length} transforms without a CompositeTransform header; write them as one composite transform`);
  }
  const transforms: ItkTransformEntry[] = entries.map((e) => {
    if (e.type === 'CompositeTransform') throw new FormatError(`${path} line ${e.line}: nested composite transforms are not supported`);
    const entry = { type: e.type, parameters: e.parameters ?? [], fixedParameters: e.fixed ?? [] };
    checkEntry(entry, `${path} line ${e.line}`);
    return entry;
  });
  return { transforms };
}

function checkEntry(e: ItkTransformEntry, where: string): void {
  for (const v of [...e.parameters, ...e.fixedParameters]) {
    if (!Number.isFinite(v)) throw new FormatError(`${where}: ${e.type} holds a value that is not finite (${v}); the transform is broken, register again`);
  }
  const want = PARAMETER_COUNT[e.type];
  if (want !== undefined) {
    if (e.parameters.length !== want) throw new FormatError(`${where}: ${e.type} needs ${want} parameters, the file gives ${e.parameters.length}`);
    const fixed = e.fixedParameters.length;
    const fixedOk = e.type === 'IdentityTransform' || e.type === 'TranslationTransform' ? fixed === 0 : fixed === 3 || (e.type === 'Euler3DTransform' && fixed === 4);
    if (!fixedOk && fixed !== 0) throw new FormatError(`${where}: ${e.type} needs 3 fixed parameters (the centre, mm), the file gives ${fixed}`);
  } else if (e.type === 'BSplineTransform') {
    const f = e.fixedParameters;
    if (f.length !== 18) throw new FormatError(`${where}: BSplineTransform needs 18 fixed parameters (grid size, origin, spacing, direction), the file gives ${f.length}`);
    const nodes = f[0] * f[1] * f[2];
    if (!(nodes > 0) || !Number.isInteger(nodes)) throw new FormatError(`${where}: BSplineTransform grid size ${f.slice(0, 3).join('x')} is not valid`);
    if (e.parameters.length !== 3 * nodes) {
      throw new FormatError(`${where}: BSplineTransform with a ${f.slice(0, 3).join('x')} grid needs ${3 * nodes} parameters, the file gives ${e.parameters.length}`);
    }
    if (!(f[6] > 0 && f[7] > 0 && f[8] > 0)) throw new FormatError(`${where}: BSplineTransform grid spacing ${f.slice(6, 9).join(', ')} mm must be positive`);
  }
}

/** Reads and parses an ITK transform file (.tfm / .txt). */
export function readTransformFile(path: string): ItkTransformFile {
  const bytes = readFileBytes(path, 'transform file');
  return parseTransformFile(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('utf8'), path);
}

/** Writes transforms as ITK writes them (double precision; a composite when more than one). */
export function formatTransformFile(file: ItkTransformFile): string {
  const lines = ['#Insight Transform File V1.0'];
  let n = 0;
  const composite = file.transforms.length !== 1;
  if (composite) lines.push(`#Transform ${n++}`, 'Transform: CompositeTransform_double_3_3');
  for (const t of file.transforms) {
    checkEntry(t, 'transform to write');
    lines.push(`#Transform ${n++}`, `Transform: ${t.type}_double_3_3`, `Parameters: ${t.parameters.map(String).join(' ')}`, `FixedParameters: ${t.fixedParameters.map(String).join(' ')}`);
  }
  return lines.join('\n') + '\n';
}

/** Rotation matrix (row-major) of ITK's Euler3DTransform angles [rad]: Rz Rx Ry, or Rz Ry Rx with computeZyx. */
export function eulerMatrix(ax: number, ay: number, az: number, computeZyx = false): number[] {
  const cx = Math.cos(ax), sx = Math.sin(ax), cy = Math.cos(ay), sy = Math.sin(ay), cz = Math.cos(az), sz = Math.sin(az);
  const Rx = [1, 0, 0, 0, cx, -sx, 0, sx, cx];
  const Ry = [cy, 0, sy, 0, 1, 0, -sy, 0, cy];
  const Rz = [cz, -sz, 0, sz, cz, 0, 0, 0, 1];
  return computeZyx ? mul3(mul3(Rz, Ry), Rx) : mul3(mul3(Rz, Rx), Ry);
}

function mul3(a: readonly number[], b: readonly number[]): number[] {
  const o = new Array<number>(9).fill(0);
  for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) for (let k = 0; k < 3; k++) o[3 * r + c] += a[3 * r + k] * b[3 * k + c];
  return o;
}

function versorMatrix(vx: number, vy: number, vz: number, where: string): number[] {
  const n2 = vx * vx + vy * vy + vz * vz;
  if (n2 > 1 + 1e-9) throw new FormatError(`${where}: versor (${vx}, ${vy}, ${vz}) has norm above 1; the transform is broken`);
  const w = Math.sqrt(Math.max(0, 1 - n2));
  return [
    1 - 2 * (vy * vy + vz * vz), 2 * (vx * vy - w * vz), 2 * (vx * vz + w * vy),
    2 * (vx * vy + w * vz), 1 - 2 * (vx * vx + vz * vz), 2 * (vy * vz - w * vx),
    2 * (vx * vz - w * vy), 2 * (vy * vz + w * vx), 1 - 2 * (vx * vx + vy * vy),
  ];
}

/** The linear map of a linear entry (T(p) = M p + offset), or undefined for a B-spline. */
export function linearMapOf(e: ItkTransformEntry): LinearMap | undefined {
  const p = e.parameters;
  const c = e.fixedParameters.length >= 3 ? e.fixedParameters.slice(0, 3) : [0, 0, 0];
  let M: number[];
  let t: number[];
  switch (e.type) {
    case 'IdentityTransform':
      return { matrixRowMajor: [1, 0, 0, 0, 1, 0, 0, 0, 1], offsetMm: [0, 0, 0] };
    case 'TranslationTransform':
      return { matrixRowMajor: [1, 0, 0, 0, 1, 0, 0, 0, 1], offsetMm: [p[0], p[1], p[2]] };
    case 'Euler3DTransform':
      M = eulerMatrix(p[0], p[1], p[2], (e.fixedParameters[3] ?? 0) !== 0);
      t = p.slice(3, 6);
      break;
    case 'VersorTransform':
      M = versorMatrix(p[0], p[1], p[2], e.type);
      t = [0, 0, 0];
      break;
    case 'VersorRigid3DTransform':
      M = versorMatrix(p[0], p[1], p[2], e.type);
      t = p.slice(3, 6);
      break;
    case 'Similarity3DTransform':
      M = versorMatrix(p[0], p[1], p[2], e.type).map((v) => v * p[6]);
      t = p.slice(3, 6);
      break;
    case 'AffineTransform':
    case 'MatrixOffsetTransformBase':
      M = p.slice(0, 9);
      t = p.slice(9, 12);
      break;
    default:
      return undefined;
  }
  const off: [number, number, number] = [0, 0, 0];
  for (let r = 0; r < 3; r++) off[r] = t[r] + c[r] - (M[3 * r] * c[0] + M[3 * r + 1] * c[1] + M[3 * r + 2] * c[2]);
  return { matrixRowMajor: M, offsetMm: off };
}

/** Cubic B-spline basis B3(u). */
function bspline3(u: number): number {
  const a = Math.abs(u);
  if (a < 1) return (4 - 6 * a * a + 3 * a * a * a) / 6;
  if (a < 2) return ((2 - a) * (2 - a) * (2 - a)) / 6;
  return 0;
}

function bsplineApply(e: ItkTransformEntry): (p: number[]) => void {
  const f = e.fixedParameters;
  const size = [f[0], f[1], f[2]];
  const origin = [f[3], f[4], f[5]];
  const spacing = [f[6], f[7], f[8]];
  const D = f.slice(9, 18); // row-major: D[r*3+c], column c = direction of grid axis c
  const nodes = size[0] * size[1] * size[2];
  const coef = e.parameters;
  const w = [new Float64Array(4), new Float64Array(4), new Float64Array(4)];
  const start = [0, 0, 0];
  return (p: number[]) => {
    const d = [p[0] - origin[0], p[1] - origin[1], p[2] - origin[2]];
    for (let a = 0; a < 3; a++) {
      // continuous grid index: (D^T d) / spacing (D orthonormal)
      const ci = (D[a] * d[0] + D[3 + a] * d[1] + D[6 + a] * d[2]) / spacing[a];
      const s = Math.floor(ci) - 1;
      // ITK's valid region: the 4 supporting nodes must all exist; outside it the displacement is zero
      if (s < 0 || s + 3 > size[a] - 1) return;
      start[a] = s;
      for (let o = 0; o < 4; o++) w[a][o] = bspline3(ci - (s + o));
    }
    let dx = 0, dy = 0, dz = 0;
    for (let k = 0; k < 4; k++) {
      for (let j = 0; j < 4; j++) {
        const wjk = w[1][j] * w[2][k];
        const row = start[0] + size[0] * (start[1] + j + size[1] * (start[2] + k));
        for (let i = 0; i < 4; i++) {
          const wt = w[0][i] * wjk;
          dx += wt * coef[row + i];
          dy += wt * coef[nodes + row + i];
          dz += wt * coef[2 * nodes + row + i];
        }
      }
    }
    p[0] += dx;
    p[1] += dy;
    p[2] += dz;
  };
}

/**
 * Compiles a transform file into a point mapping, fixed to moving, LPS mm (composite: last-listed applied first).
 */
export function compileTransform(file: ItkTransformFile): PointTransform {
  const steps: ((p: number[]) => void)[] = [];
  for (let n = file.transforms.length - 1; n >= 0; n--) {
    const e = file.transforms[n];
    const lin = linearMapOf(e);
    if (lin) {
      const M = lin.matrixRowMajor, o = lin.offsetMm;
      steps.push((p) => {
        const x = p[0], y = p[1], z = p[2];
        p[0] = M[0] * x + M[1] * y + M[2] * z + o[0];
        p[1] = M[3] * x + M[4] * y + M[5] * z + o[1];
        p[2] = M[6] * x + M[7] * y + M[8] * z + o[2];
      });
    } else if (e.type === 'BSplineTransform') {
      steps.push(bsplineApply(e));
    } else {
      throw new FormatError(`transform type ${e.type} cannot be applied`);
    }
  }
  return {
    apply(x, y, z, out) {
      out[0] = x;
      out[1] = y;
      out[2] = z;
      for (const s of steps) s(out);
      return out;
    },
  };
}

/** Rotation and translation of a linear map, for reports. */
export interface RigidSummary {
  /** Total rotation angle [degrees] (from the trace of the matrix). */
  readonly rotationDeg: number;
  /** ITK Euler3D angles about x, y, z [degrees] (R = Rz Rx Ry) of the matrix's rotation part. */
  readonly eulerAnglesDeg: readonly [number, number, number];
  /** Translation of the origin, T(0) [mm, LPS]. */
  readonly offsetMm: readonly [number, number, number];
  /** Largest deviation of the matrix from a rotation (0 for a rigid transform). */
  readonly nonRigidity: number;
}

/** Summarises a linear map: total rotation angle, Euler angles (ITK's Z X Y order) and offset. */
export function rigidSummary(m: LinearMap): RigidSummary {
  const R = m.matrixRowMajor;
  const tr = R[0] + R[4] + R[8];
  const rotationDeg = (Math.acos(Math.min(1, Math.max(-1, (tr - 1) / 2))) * 180) / Math.PI;
  // R = Rz Rx Ry: R[7] (row 2, col 1) = sin(ax); R[1] = -sz cx; R[4] = cz cx; R[6] = -cx sy; R[8] = cx cy
  const ax = Math.asin(Math.min(1, Math.max(-1, R[7])));
  const ay = Math.atan2(-R[6], R[8]);
  const az = Math.atan2(-R[1], R[4]);
  const RtR = mul3([R[0], R[3], R[6], R[1], R[4], R[7], R[2], R[5], R[8]], R);
  let nonRigidity = 0;
  for (let i = 0; i < 9; i++) nonRigidity = Math.max(nonRigidity, Math.abs(RtR[i] - (i % 4 === 0 ? 1 : 0)));
  const deg = (r: number) => (r * 180) / Math.PI;
  return { rotationDeg, eulerAnglesDeg: [deg(ax), deg(ay), deg(az)], offsetMm: m.offsetMm, nonRigidity };
}
