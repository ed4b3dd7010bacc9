/**
 * Splitting a tumour mask into connected lesions (26-connectivity), on the mask's own (finest) grid.
 */
import { type Geometry, indexToWorld } from '../volume/geometry.ts';
import type { StructureMask } from '../volume/structure.ts';

/** Volume-equivalent sphere diameter [mm] of a volume [mL]: d = (6 V / pi)^(1/3). */
export function equivalentSphereDiameterMm(volumeMl: number): number {
  return Math.cbrt((6 * volumeMl * 1000) / Math.PI);
}

export interface Lesion {
  readonly mask: StructureMask;
  /** Volume of the component on the mask's grid [mL]. */
  readonly volumeMl: number;
}

/**
 * Connected components (26-connectivity) of the voxels with occupancy >= 50 %, largest first; each becomes a
 * StructureMask named "<name> #<n>" (n = 1 for the largest). Fractional voxels below 50 % join the component of
 * their largest-occupancy neighbour so no partial volume is lost.
 */
export function splitLesions(mask: StructureMask): Lesion[] {
  const [nx, ny, nz] = mask.geometry.dims;
  const occ = mask.occupancy;
  const label = new Int32Array(occ.length);
  const sizes: number[] = [0];
  const stack: number[] = [];
  let next = 0;
  for (let seed = 0; seed < occ.length; seed++) {
    if (occ[seed] < 128 || label[seed] !== 0) continue;
    next++;
    let size = 0;
    label[seed] = next;
    stack.push(seed);
    while (stack.length) {
      const v = stack.pop()!;
      size += occ[v];
      const i = v % nx, j = ((v / nx) | 0) % ny, k = (v / (nx * ny)) | 0;
      for (let dk = -1; dk <= 1; dk++) {
        const kk = k + dk;
        if (kk < 0 || kk >= nz) continue;
        for (let dj = -1; dj <= 1; dj++) {
          const jj = j + dj;
          if (jj < 0 || jj >= ny) continue;
          for (let di = -1; di <= 1; di++) {
            const ii = i + di;
            if (ii < 0 || ii >= nx) continue;
            const u = ii + nx * (jj + ny * kk);
            if (label[u] === 0 && occ[u] >= 128) {
              label[u] = next;
              stack.push(u);
            }
          }
        }
      }
    }
    sizes.push(size);
  }
  // Attach sub-50 % voxels to an adjacent component (the neighbour with the highest occupancy).
  for (let v = 0; v < occ.length; v++) {
    if (occ[v] === 0 || occ[v] >= 128) continue;
    const i = v % nx, j = ((v / nx) | 0) % ny, k = (v / (nx * ny)) | 0;
    let best = 0, bestOcc = -1;
    for (let dk = -1; dk <= 1; dk++) for (let dj = -1; dj <= 1; dj++) for (let di = -1; di <= 1; di++) {
      const ii = i + di, jj = j + dj, kk = k + dk;
      if (ii < 0 || jj < 0 || kk < 0 || ii >= nx || jj >= ny || kk >= nz) continue;
      const u = ii + nx * (jj + ny * kk);
      if (occ[u] >= 128 && occ[u] > bestOcc) { bestOcc = occ[u]; best = label[u]; }
    }
    if (best) { label[v] = best; sizes[best] += occ[v]; }
  }
  const order = sizes.map((s, l) => ({ s, l })).slice(1).sort((a, b) => b.s - a.s || a.l - b.l);
  const vVoxMl = (mask.geometry.spacingMm[0] * mask.geometry.spacingMm[1] * mask.geometry.spacingMm[2]) / 1000;
  const rank = new Int32Array(sizes.length);
  order.forEach((o, r) => (rank[o.l] = r + 1));
  // Each lesion is cropped to its bounding box (same spacing and direction, shifted origin) to keep memory small.
  const lo = order.map(() => [nx, ny, nz]);
  const hi = order.map(() => [-1, -1, -1]);
  for (let v = 0; v < occ.length; v++) {
    if (!label[v]) continue;
    const r = rank[label[v]] - 1;
    const i = v % nx, j = ((v / nx) | 0) % ny, k = (v / (nx * ny)) | 0;
    const l = lo[r], h = hi[r];
    if (i < l[0]) l[0] = i; if (i > h[0]) h[0] = i;
    if (j < l[1]) l[1] = j; if (j > h[1]) h[1] = j;
    if (k < l[2]) l[2] = k; if (k > h[2]) h[2] = k;
  }
  const masks = order.map((_, r) => {
    const d: [number, number, number] = [hi[r][0] - lo[r][0] + 1, hi[r][1] - lo[r][1] + 1, hi[r][2] - lo[r][2] + 1];
    const o = indexToWorld(mask.geometry, lo[r][0], lo[r][1], lo[r][2]);
    const geometry: Geometry = { ...mask.geometry, dims: d, originLpsMm: [o[0], o[1], o[2]] };
    return { geometry, occupancy: new Uint8Array(d[0] * d[1] * d[2]) };
  });
  for (let v = 0; v < occ.length; v++) {
    if (!label[v]) continue;
    const r = rank[label[v]] - 1;
    const i = v % nx, j = ((v / nx) | 0) % ny, k = (v / (nx * ny)) | 0;
    const g = masks[r].geometry.dims;
    masks[r].occupancy[i - lo[r][0] + g[0] * (j - lo[r][1] + g[1] * (k - lo[r][2]))] = occ[v];
  }
  return order.map((o, r) => ({
    mask: {
      name: `${mask.name} #${r + 1}`,
      origin: `${mask.origin}, lesion ${r + 1} (26-connected)`,
      geometry: masks[r].geometry,
      occupancy: masks[r].occupancy,
      colorRgb: mask.colorRgb,
    },
    volumeMl: (o.s / 255) * vVoxMl,
  }));
}
