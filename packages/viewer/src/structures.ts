/**
 * Structure masks as the viewer shows them: one bit volume (bit b set = inside structure b, at most 32) with a
 * display colour and the LPS centroid of each structure. Shared by the server (case folders) and the page (cases
 * computed in the browser from dropped files); plain TypeScript, no Node or DOM APIs.
 */
import type { StructureEntry } from './protocol.ts';
import { type Geometry, indexToWorld, voxelCount } from '../../dosimetry-core/src/volume/geometry.ts';

/** Per-role display colours (RGB 0..255); tumours and other structures take colours from cycles. */
const ROLE_COLORS: Record<string, [number, number, number]> = {
  liver: [230, 159, 0],
  'normal-liver': [240, 228, 66],
  lung: [86, 180, 233],
  perfused: [0, 158, 115],
};
const TUMOR_CYCLE: Array<[number, number, number]> = [[255, 60, 60], [255, 120, 200], [213, 94, 0], [200, 60, 255], [255, 170, 120]];
const OTHER_CYCLE: Array<[number, number, number]> = [
  [204, 121, 167], [0, 114, 178], [170, 170, 170], [120, 200, 120], [180, 120, 240],
];

/** Options of `structureBits`. */
export interface StructureBitsOptions {
  /** The reported structures, in report order. */
  readonly structures: ReadonlyArray<{ name: string; role: string }>;
  /** Inside flags (1 = inside) of each structure on `geometry`, or undefined where no mask exists. */
  readonly inside: ReadonlyArray<Uint8Array | undefined>;
  /** The grid of the flags (and of the bit volume). */
  readonly geometry: Geometry | undefined;
}

/**
 * Packs structure flags into a uint32 bit volume (first 32 structures with a mask get bits 0..31, in report order)
 * and computes each one's colour and centroid (mean LPS position of its voxel centres [mm]).
 */
export function structureBits(opts: StructureBitsOptions): { entries: StructureEntry[]; labels: Uint32Array | null; warnings: string[] } {
  const g = opts.geometry;
  const n = g ? voxelCount(g) : 0;
  const labels = g ? new Uint32Array(n) : null;
  const warnings: string[] = [];
  const entries: StructureEntry[] = [];
  let bit = 0;
  let tumor = 0;
  let other = 0;
  const w = [0, 0, 0];
  opts.structures.forEach((s, index) => {
    const colorRgb =
      s.role === 'tumor' ? TUMOR_CYCLE[tumor++ % TUMOR_CYCLE.length] : ROLE_COLORS[s.role] ?? OTHER_CYCLE[other++ % OTHER_CYCLE.length];
    const f = opts.inside[index];
    if (!f || !labels || !g || bit >= 32) {
      if (bit >= 32) warnings.push(`structure ${s.name}: only 32 outlines are shown`);
      else if (g) warnings.push(`structure ${s.name}: no mask found, shown in the table only`);
      entries.push({ index, name: s.name, role: s.role, bit: -1, colorRgb, centroidLps: null });
      return;
    }
    const b = bit++;
    const m = (1 << b) >>> 0;
    const [nx, ny] = g.dims;
    let cx = 0, cy = 0, cz = 0, cnt = 0;
    for (let v = 0; v < n; v++) {
      if (!f[v]) continue;
      labels[v] |= m;
      indexToWorld(g, v % nx, Math.floor(v / nx) % ny, Math.floor(v / (nx * ny)), w);
      cx += w[0];
      cy += w[1];
      cz += w[2];
      cnt++;
    }
    entries.push({ index, name: s.name, role: s.role, bit: b, colorRgb, centroidLps: cnt > 0 ? [cx / cnt, cy / cnt, cz / cnt] : null });
  });
  return { entries, labels: bit > 0 ? labels : null, warnings };
}
