/**
 * The dose of a multi-territory plan at chosen activities, in plain TypeScript (no DOM, no GPU): the model behind the
 * page's Territories panel. Dose is linear in each territory's activity, so at activities A_t [GBq]
 *   dose(v) = sum_t A_t x map_t(v)          (map_t: Gy per GBq administered to territory t, report.json doseMapPerGBq)
 *   mean(s) = sum_t A_t x meanGyPerGBq_t(s)  (report.json plan.territories[].structures[])
 * The mean doses come from the report's per-GBq means (mass-weighted by the engine, exact); the DVH, Dx and V-values
 * are recomputed from the combined map over each structure's voxels with the engine's own statistics
 * (structureStatsCpu). combineDoseCpu is the oracle of the WebGPU combination (combine-gpu.ts, combine.wgsl).
 */
import { structureStatsCpu, type StructureDoseStats } from '../../../dosimetry-core/src/stats/structure-stats.ts';
import type { GridStructure } from '../../../dosimetry-core/src/volume/structure.ts';
import type { ReportJson, ReportStructureJson, TerritoryEntry } from '../protocol.ts';
import { type ClientVolume, type Lps, sampleAt } from './views.ts';

/**
 * dose = sum_t weightsGBq[t] x terms[t] voxel by voxel, accumulated in f64 in territory order and stored as float32
 * (one rounding). The CPU back end of the territory sum and the oracle of combineDoseGpu.
 *
 * @param terms dose per GBq of each territory [Gy/GBq], all of one length (one grid)
 * @param weightsGBq activity of each territory [GBq]
 * @param out where the dose [Gy] goes (length of the terms); a new array when omitted
 */
export function combineDoseCpu(terms: readonly Float32Array[], weightsGBq: readonly number[], out?: Float32Array): Float32Array {
  if (terms.length !== weightsGBq.length) {
    throw new Error(`${terms.length} territory dose maps but ${weightsGBq.length} activities: give one activity per territory`);
  }
  const n = terms.length ? terms[0].length : out?.length ?? 0;
  for (const t of terms) if (t.length !== n) throw new Error(`territory dose maps of ${t.length} and ${n} voxels: all must be on the grid of dose.nii.gz`);
  const dose = out ?? new Float32Array(n);
  if (dose.length !== n) throw new Error(`output of ${dose.length} voxels for maps of ${n}`);
  const T = terms.length;
  if (T === 2) {
    // the common case, unrolled (same f64 sum, same order)
    const [a, b] = terms;
    const [wa, wb] = weightsGBq;
    for (let v = 0; v < n; v++) dose[v] = wa * a[v] + wb * b[v];
    return dose;
  }
  for (let v = 0; v < n; v++) {
    let d = 0;
    for (let t = 0; t < T; t++) d += weightsGBq[t] * terms[t][v];
    dose[v] = d;
  }
  return dose;
}

/** Dose [Gy] at an LPS point: sum_t A_t x map_t at the nearest voxel, rounded to float32 as the combined map is. */
export function combinedDoseAt(maps: readonly ClientVolume[], weightsGBq: readonly number[], p: Lps): number | undefined {
  let d = 0;
  for (let t = 0; t < maps.length; t++) {
    const m = sampleAt(maps[t], p);
    if (m === undefined) return undefined;
    d += weightsGBq[t] * m;
  }
  return Math.fround(d);
}

/**
 * Upper end of a territory's slider [GBq]: twice the planned activity, or the plan's maximum allowed activity when it
 * is larger; 1 GBq for a territory planned at 0 without a maximum.
 */
export function sliderMaxGBq(t: Pick<TerritoryEntry, 'plannedActivityGBq' | 'maxAllowedActivityGBq'>): number {
  const m = Math.max(2 * t.plannedActivityGBq, t.maxAllowedActivityGBq ?? 0);
  return m > 0 ? m : 1;
}

/**
 * Mean dose of each named structure at the activities [Gy]: sum_t A_t x meanGyPerGBq_t(structure); undefined for a
 * structure that some territory does not list (its mean per GBq is unknown there).
 */
export function territoryMeansGy(territories: readonly Pick<TerritoryEntry, 'structures'>[], activitiesGBq: readonly number[], names: readonly string[]): Array<number | undefined> {
  const perTerritory = territories.map((t) => new Map(t.structures.map((s) => [s.name, s.meanGyPerGBq])));
  return names.map((name) => {
    let sum = 0;
    for (let t = 0; t < perTerritory.length; t++) {
      const g = perTerritory[t].get(name);
      if (g === undefined) return undefined;
      sum += activitiesGBq[t] * g;
    }
    return sum;
  });
}

/**
 * Each structure's voxels on the dose grid, gathered once so that a slider move recomputes only them: the union of
 * all structures' voxels (ascending dose-grid indices) and each structure as a GridStructure over that union.
 */
export interface StructureVoxelSets {
  /** Dose-grid voxel indices of the union, ascending. */
  readonly unionIndices: Uint32Array;
  /** Per report structure (by report index): its voxels as indices into the union, or undefined without a mask. */
  readonly structures: ReadonlyArray<GridStructure | undefined>;
  /** Volume of a dose voxel [mL]. */
  readonly voxelVolumeMl: number;
}

/**
 * Builds the voxel sets from the structure bit volume (bit b = structure with bit b). Labels on the dose grid map
 * voxel to voxel; labels on another grid are mapped by their voxel centres to the nearest dose voxel, each dose voxel
 * weighted by the label volume that falls in it (capped at 1).
 *
 * @param labels structure bits (StructureEntry.bit), any grid
 * @param doseGrid the grid of the dose maps
 * @param structures report structures with their bit (-1 = no mask), in report order
 */
export function structureVoxelSets(
  labels: ClientVolume<Uint32Array>,
  doseGrid: ClientVolume,
  structures: ReadonlyArray<{ name: string; bit: number }>,
): StructureVoxelSets {
  const [dx, dy, dz] = doseGrid.grid.dims;
  const nDose = dx * dy * dz;
  const sp = doseGrid.grid.spacingMm;
  const voxelVolumeMl = (sp[0] * sp[1] * sp[2]) / 1000;
  const same = sameGridJson(labels.grid, doseGrid.grid);
  const [lx, ly, lz] = labels.grid.dims;
  const ls = labels.grid.spacingMm;
  const labelShare = same ? 1 : (ls[0] * ls[1] * ls[2]) / 1000 / voxelVolumeMl;
  // dose voxel of each label voxel (-1 outside the dose grid)
  const doseIndexOf = (v: number): number => {
    if (same) return v;
    const i = v % lx, j = Math.floor(v / lx) % ly, k = Math.floor(v / (lx * ly));
    const m = labels.indexToLps;
    const p: Lps = [m[0] * i + m[4] * j + m[8] * k + m[12], m[1] * i + m[5] * j + m[9] * k + m[13], m[2] * i + m[6] * j + m[10] * k + m[14]];
    const q = doseGrid.lpsToIndex;
    const a = Math.floor(q[0] * p[0] + q[4] * p[1] + q[8] * p[2] + q[12] + 0.5);
    const b = Math.floor(q[1] * p[0] + q[5] * p[1] + q[9] * p[2] + q[13] + 0.5);
    const c = Math.floor(q[2] * p[0] + q[6] * p[1] + q[10] * p[2] + q[14] + 0.5);
    return a < 0 || b < 0 || c < 0 || a >= dx || b >= dy || c >= dz ? -1 : a + dx * (b + dy * c);
  };
  const bits = structures.map((s) => s.bit).filter((b) => b >= 0);
  const anyMask = bits.reduce((m, b) => (m | (1 << b)) >>> 0, 0);
  // per bit: dose voxel -> label volume that falls in it, in dose voxels
  const inUnion = new Uint8Array(nDose);
  const perBit = new Map<number, Map<number, number>>();
  for (const b of bits) perBit.set(b, new Map());
  const nLabel = lx * ly * lz;
  for (let v = 0; v < nLabel; v++) {
    const l = labels.data[v] & anyMask;
    if (l === 0) continue;
    const d = doseIndexOf(v);
    if (d < 0) continue;
    inUnion[d] = 1;
    for (const b of bits) if (l & (1 << b)) {
      const m = perBit.get(b)!;
      m.set(d, (m.get(d) ?? 0) + labelShare);
    }
  }
  let count = 0;
  for (let d = 0; d < nDose; d++) count += inUnion[d];
  const unionIndices = new Uint32Array(count);
  const compact = new Int32Array(nDose).fill(-1);
  for (let d = 0, u = 0; d < nDose; d++) if (inUnion[d]) {
    unionIndices[u] = d;
    compact[d] = u++;
  }
  const sets = structures.map((s): GridStructure | undefined => {
    if (s.bit < 0) return undefined;
    const m = perBit.get(s.bit)!;
    const doseIdx = [...m.keys()].sort((a, b) => a - b);
    const voxelIndices = new Uint32Array(doseIdx.length);
    const weights = new Float32Array(doseIdx.length);
    doseIdx.forEach((d, k) => {
      voxelIndices[k] = compact[d];
      weights[k] = Math.min(1, m.get(d)!);
    });
    return { name: s.name, origin: 'viewer', voxelIndices, weights };
  });
  return { unionIndices, structures: sets, voxelVolumeMl };
}

function sameGridJson(a: ClientVolume['grid'], b: ClientVolume['grid']): boolean {
  for (let i = 0; i < 3; i++) {
    if (a.dims[i] !== b.dims[i]) return false;
    if (Math.abs(a.spacingMm[i] - b.spacingMm[i]) > 1e-4 * Math.max(a.spacingMm[i], 1)) return false;
    if (Math.abs(a.originLpsMm[i] - b.originLpsMm[i]) > 1e-3 * Math.min(...a.spacingMm)) return false;
  }
  return a.direction.every((x, i) => Math.abs(x - b.direction[i]) <= 1e-5);
}

/** The territory maps gathered on the union voxels, for recomputing the structures' statistics quickly. */
export interface GatheredTerms {
  readonly sets: StructureVoxelSets;
  /** Per territory: map_t at the union voxels [Gy/GBq]. */
  readonly terms: Float32Array[];
}

/** Gathers each territory map at the union voxels of `sets`. */
export function gatherTerms(sets: StructureVoxelSets, maps: readonly Float32Array[]): GatheredTerms {
  return {
    sets,
    terms: maps.map((m) => {
      const g = new Float32Array(sets.unionIndices.length);
      for (let u = 0; u < g.length; u++) g[u] = m[sets.unionIndices[u]];
      return g;
    }),
  };
}

/**
 * Voxel statistics of every masked structure at the activities (the engine's structureStatsCpu on the combined map:
 * Dx from its histogram DVH, V-values exact over voxels, volume-weighted); undefined for structures without a mask.
 * Their meanGy is the voxel mean (volume-weighted), not the report's mass-weighted mean.
 */
export function voxelStatsAt(g: GatheredTerms, activitiesGBq: readonly number[]): Array<StructureDoseStats | undefined> {
  const dose = combineDoseCpu(g.terms, activitiesGBq);
  const present = g.sets.structures.filter((s): s is GridStructure => s !== undefined);
  const stats = structureStatsCpu({
    doseGy: dose,
    activityBqPerMl: new Float32Array(dose.length),
    densityGPerMl: 1,
    voxelVolumeMl: g.sets.voxelVolumeMl,
    structures: present,
  });
  let k = 0;
  return g.sets.structures.map((s) => (s ? stats[k++] : undefined));
}

/** A constraint of report.json plan.constraints[] (or a target of plan.coverage[]) as the page shows it, with its value at the chosen activities. */
export interface ConstraintRow {
  readonly name: string;
  readonly limitGy?: number;
  /** Value at the plan [Gy], as the report gives it. */
  readonly planValueGy?: number;
  readonly slackGy?: number;
  readonly binding?: boolean;
  /** The report structure whose mean dose the constraint bounds, when it can be told (name or `structure` field). */
  readonly structure?: string;
  /** 'max' (a limit) or 'min' (a target), from the constraint's own kind/sense, else the structure's role. */
  readonly sense: 'max' | 'min';
  /**
   * Value at the chosen activities [Gy]: prior + sum_t A_t x gyPerGBq_t when the report gives the row's coefficients
   * (the planner's own, on its basis: partition model, dose map or lung formula), else the mean dose of `structure`;
   * undefined when neither can be had.
   */
  readonly nowGy?: number;
  /** True when the constraint is broken at the chosen activities (beyond {@link CONSTRAINT_SLACK}). */
  readonly broken?: boolean;
}

/**
 * Relative slack of "broken": the planner puts a target or limit exactly at its value (within its LP tolerance and
 * float32 dose maps), so a row at the plan reads 204.9999999 Gy for a 205 Gy target; the planner's own checks use the
 * same 1e-6 (dosimetry-core plan/territories.ts BINDING_SLACK).
 */
export const CONSTRAINT_SLACK = 1e-6;

const num = (x: unknown): number | undefined => (typeof x === 'number' && Number.isFinite(x) ? x : undefined);

/**
 * report.json plan.constraints[] ({ name, limitGy, valueGy, slackGy, binding, structure?, gyPerGBq?, priorGy? },
 * whatever of it is present) and then plan.coverage[] (the targets of a territory plan: { id, structure, targetGy,
 * doseGy, binding, gyPerGBq? }), each evaluated at the chosen activities: with its coefficients per territory when
 * the report gives one per territory (a territory plan's rows are linear in the activities), else as the mean of the
 * report structure it names (its `structure` field or its name). A limit is broken above its value, a target below.
 *
 * @param meansGy mean dose of each report structure at the chosen activities [Gy] (report order)
 * @param activitiesGBq the chosen activity of each territory [GBq] (report order), for rows with coefficients
 */
export function constraintRows(report: ReportJson, meansGy: ReadonlyArray<number | undefined>, activitiesGBq?: readonly number[]): ConstraintRow[] {
  const plan = report.plan as { constraints?: unknown; coverage?: unknown } | undefined;
  const listOf = (x: unknown) => (Array.isArray(x) ? (x as unknown[]) : []);
  const rows: ConstraintRow[] = [];
  const linear = (r: Record<string, unknown>): number | undefined => {
    const k = r.gyPerGBq;
    if (!activitiesGBq || !Array.isArray(k) || k.length !== activitiesGBq.length || !k.every((x) => num(x) !== undefined)) return undefined;
    return (num(r.priorGy) ?? 0) + (k as number[]).reduce((s, x, t) => s + x * activitiesGBq[t], 0);
  };
  const add = (r: Record<string, unknown>, target: boolean) => {
    const name = typeof r.name === 'string' ? r.name : typeof r.id === 'string' ? r.id : typeof r.structure === 'string' ? r.structure : '';
    if (!name) return;
    const sName = typeof r.structure === 'string' ? r.structure : name;
    const si = report.structures.findIndex((s) => s.name === sName);
    const kind = String(r.kind ?? r.sense ?? r.type ?? '').toLowerCase();
    const sense: 'max' | 'min' = target || /min|target|>=|lower/.test(kind)
      ? 'min'
      : /max|limit|<=|upper/.test(kind)
        ? 'max'
        : si >= 0 && report.structures[si].role === 'tumor'
          ? 'min'
          : 'max';
    const limitGy = num(target ? r.targetGy : r.limitGy) ?? num(r.limitGy);
    const nowGy = linear(r) ?? (si >= 0 ? meansGy[si] : undefined);
    const broken = nowGy !== undefined && limitGy !== undefined
      ? (sense === 'max' ? nowGy > limitGy * (1 + CONSTRAINT_SLACK) : nowGy < limitGy * (1 - CONSTRAINT_SLACK))
      : undefined;
    rows.push({
      name,
      limitGy,
      planValueGy: num(target ? r.doseGy : r.valueGy) ?? num(r.valueGy),
      slackGy: num(r.slackGy),
      binding: typeof r.binding === 'boolean' ? r.binding : undefined,
      structure: si >= 0 ? sName : undefined,
      sense,
      nowGy,
      broken,
    });
  };
  if (plan && typeof plan === 'object') {
    for (const c of listOf(plan.constraints)) if (typeof c === 'object' && c !== null) add(c as Record<string, unknown>, false);
    for (const c of listOf(plan.coverage)) if (typeof c === 'object' && c !== null) add(c as Record<string, unknown>, true);
  }
  return rows;
}

/** A structure's numbers at the chosen activities, as the table shows them. */
export interface StructureNumbers {
  /** Mean dose [Gy]. */
  readonly meanGy: number;
  /**
   * Where the mean comes from: 'report-per-gbq' (sum_t A_t x meanGyPerGBq_t, exact), 'maps' (a territory lists no mean
   * for it: the report mean scaled by the ratio of its voxel means now and at the plan), 'planned' (neither: the
   * report's mean at the planned activities).
   */
  readonly meanSource: 'report-per-gbq' | 'maps' | 'planned';
  /** From the voxel DVH of the combined map, or the report's own (at the plan) without a mask or maps. */
  readonly d70Gy: number;
  readonly v100: number;
  readonly v205: number;
  /** The structure with its DVH at the chosen activities (for drawDvh at scale 1). */
  readonly structure: ReportStructureJson;
}

/**
 * The table's numbers of one structure at the chosen activities.
 *
 * @param s the structure in report.json (its numbers at the planned activities)
 * @param meanGy sum_t A_t x meanGyPerGBq_t, or undefined when some territory lists no mean for it
 * @param now voxel statistics of the combined map at the chosen activities (undefined without a mask or maps)
 * @param atPlan the same at the planned activities
 */
export function structureNumbers(
  s: ReportStructureJson,
  meanGy: number | undefined,
  now: StructureDoseStats | undefined,
  atPlan: StructureDoseStats | undefined,
): StructureNumbers {
  let mean = meanGy;
  let meanSource: StructureNumbers['meanSource'] = 'report-per-gbq';
  if (mean === undefined) {
    if (now && atPlan && atPlan.meanGy > 0) {
      mean = (s.meanGy * now.meanGy) / atPlan.meanGy;
      meanSource = 'maps';
    } else {
      mean = s.meanGy;
      meanSource = 'planned';
    }
  }
  if (now) return { meanGy: mean, meanSource, d70Gy: now.d70Gy, v100: now.v100, v205: now.v205, structure: { ...s, dvh: now.dvh } };
  return { meanGy: mean, meanSource, d70Gy: s.d70Gy, v100: s.v100, v205: s.v205, structure: s };
}

/**
 * Structures whose report mean (at the planned activities) differs from sum_t A_t x meanGyPerGBq_t by more than
 * `relTolerance` (default 1e-3: the report rounds nothing, so a larger gap means the per-GBq means and the report's
 * structures disagree): the page says so, since the table then jumps when the first slider moves.
 */
export function planMeanMismatches(
  report: Pick<ReportJson, 'structures'>,
  territories: readonly Pick<TerritoryEntry, 'structures' | 'plannedActivityGBq'>[],
  relTolerance = 1e-3,
): Array<{ name: string; reportGy: number; sumGy: number }> {
  const names = report.structures.map((s) => s.name);
  const sums = territoryMeansGy(territories, territories.map((t) => t.plannedActivityGBq), names);
  const out: Array<{ name: string; reportGy: number; sumGy: number }> = [];
  report.structures.forEach((s, i) => {
    const sum = sums[i];
    if (sum === undefined || !Number.isFinite(s.meanGy)) return;
    if (Math.abs(sum - s.meanGy) > relTolerance * Math.max(Math.abs(s.meanGy), 1e-9)) out.push({ name: s.name, reportGy: s.meanGy, sumGy: sum });
  });
  return out;
}
