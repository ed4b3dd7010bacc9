/**
 * The planning problem of a multi-territory plan (src/plan/territories.ts) from the territories' dose cases
 * (src/plan/territory-cases.ts): every target's and limit's coefficients k[s][t] [Gy/GBq] and the limits of the devices.
 *
 * Coefficients, two bases (--prescribe):
 * - voxel: mean dose per GBq of each structure read from the territory's dose map (LDM or DVK; crossfire included);
 * - partition: the compartment model (Ho et al. 1996, src/plan/partition.ts) of each territory, T/N_i against its own
 *   perfused normal liver PN_t: D_N = CF (1 - LSF) / (sum_i T/N_i M_i + M_PN), D_i = T/N_i D_N, i.e. CF x activity
 *   fraction / mass with all of the territory's liver activity in its compartments. Structures other than its
 *   compartments get the dose of the compartments' mass they hold (uniform within each compartment): the whole normal
 *   liver D_N M_PN / M_WN (as partition.ts), another territory's perfused normal liver D_N M(PN_u ^ PN_t) / M_PN_u, a
 *   perfused structure (sum_i D_i M(L_i ^ P) + D_N M(PN_t ^ P)) / M_P, overlaps as sum_v min(m_a, m_b) (the mass two
 *   partial-volume structures share).
 * With the partition basis the limits are also put on the dose map's means (both rows kept, as the single-territory
 * plan caps the partition activity at the voxel limits); the lung always on CF LSF_t / M_L.
 */
import { InputError } from '../errors.ts';
import { KG_PER_G, NUCLIDES } from '../units/index.ts';
import type { GridStructure } from '../volume/structure.ts';
import { DEVICE_PRESETS, deviceTargets, type DeviceOverrides } from './devices.ts';
import { sums } from './image.ts';
import type { CoverageTarget, LimitConstraint, TerritoryProblem } from './territories.ts';
import { overlapMassG, type TerritoryCases } from './territory-cases.ts';
import { structureMeanStdErr } from './territory-mc.ts';

const tag = (name: string) => `territory "${name}"`;

/** Plan-wide targets and limits of a multi-territory plan (options of {@link territoryProblem}). */
export interface TerritoryTargetOptions {
  /** --prescribe: the basis of the coverage coefficients (and of a second set of limit rows for partition). */
  readonly prescribe: 'partition' | 'voxel';
  readonly tumorBasis: 'every-lesion' | 'mean';
  /** Plan-wide overrides of the device presets (--tumor-gy, --normal-liver-gy, ...; null removes one). */
  readonly overrides?: DeviceOverrides;
  /** Lung dose of earlier treatments [Gy] (--prior-lung-gy); default 0. */
  readonly priorLungGy?: number;
}

/** Each territory's resolved targets [Gy] (undefined: none). */
export interface TerritoryTargets {
  readonly tumorGy?: number;
  readonly normalLiverGy?: number;
  readonly perfusedTargetGy?: number;
}

/** The problem and the plan-wide limits it used. */
export interface TerritoryProblemResult {
  readonly problem: TerritoryProblem;
  readonly targets: readonly TerritoryTargets[];
  readonly planLimits: { readonly wholeNormalLiverGy?: number; readonly lungGy?: number; readonly lungCumulativeGy?: number; readonly priorLungGy: number };
  readonly warnings: readonly string[];
}

const minDefined = (xs: ReadonlyArray<number | undefined>) => {
  const d = xs.filter((x): x is number => x !== undefined);
  return d.length ? Math.min(...d) : undefined;
};

/**
 * The planning problem of the territories' cases: coverage targets (every lesion or all tumour, and perfused
 * targets) and limits (whole normal liver: the strictest of the devices' limits; each territory's perfused normal
 * liver: its device's limit; lung per treatment and cumulative), coefficients on the chosen basis (module comment).
 * A lesion's target is the largest tumour target among the territories whose perfused structure holds most of it
 * (else the one holding the largest share); a lesion in no territory has no target (warned).
 */
export function territoryProblem(tc: TerritoryCases, opts: TerritoryTargetOptions): TerritoryProblemResult {
  const { reference, cases } = tc;
  const nT = cases.length;
  const o = opts.overrides ?? {};
  const warnings: string[] = [];
  const resolved = cases.map(({ spec }) =>
    deviceTargets({
      device: spec.device,
      overrides: { ...o, tumorGy: spec.tumorGy !== undefined ? spec.tumorGy : o.tumorGy, normalLiverGy: spec.normalLiverGy !== undefined ? spec.normalLiverGy : o.normalLiverGy, lungCumulativeGy: null },
    }),
  );
  const targets: TerritoryTargets[] = resolved.map((t, i) => ({ tumorGy: t.tumorGy, normalLiverGy: t.normalLiverGy, perfusedTargetGy: cases[i].spec.perfusedTargetGy }));
  const wholeNormalLiverGy = minDefined(resolved.map((t) => t.wholeNormalLiverGy));
  const lungGy = minDefined(resolved.map((t) => t.lungGy));
  const lungCumulativeGy = o.lungCumulativeGy === null ? undefined : o.lungCumulativeGy ?? minDefined(cases.map((c) => DEVICE_PRESETS[c.spec.device].lungCumulativeGy));
  const priorLungGy = opts.priorLungGy ?? 0;
  if (!(priorLungGy >= 0 && Number.isFinite(priorLungGy))) throw new InputError(`prior lung dose ${priorLungGy} Gy: give a number of at least 0`);
  if (lungGy !== undefined || lungCumulativeGy !== undefined) {
    const blind = cases.filter((c) => c.lungShuntFractionSource.startsWith('default'));
    if (blind.length) {
      throw new InputError(
        `the lung limit needs the lung shunt fraction of ${blind.map((c) => tag(c.spec.name)).join(', ')}: give --lung-shunt-fraction F, "lungShuntFraction" in the territories file, or a --lung structure in the scout's field of view (or drop the limit with --lung-gy none)`,
      );
    }
  }

  // Coefficients per structure and territory.
  const voxel = (s: GridStructure) => cases.map((c) => Math.max(0, sums(c.result, s).meanGy));
  // --method mc: the standard error of each territory's coefficient on the dose map (its run's batches)
  const mc = cases.every((c) => c.result.mc?.keptBatches);
  const voxelSe = (s: GridStructure) => (mc ? { gyPerGBqStdErr: cases.map((c) => structureMeanStdErr(c.result, s)) } : {});
  const massOf = (s: GridStructure) => sums(reference, s).massG;
  const partition = cases.map((c) => {
    const cf = NUCLIDES[c.isotope].ldmJoulePerGBq;
    const comp = c.compartments;
    const mPn = comp.perfusedNormalLiver.massG;
    let weighted = mPn, tumorMass = 0, uptakeMass = 0;
    for (const l of comp.lesions) {
      weighted += l.tnRatio! * l.massG;
      tumorMass += l.massG;
      uptakeMass += l.tnRatio! * l.massG;
    }
    const dN = (cf * (1 - c.lungShuntFraction)) / (weighted * KG_PER_G);
    return { dN, lesions: comp.lesions.map((l) => l.tnRatio! * dN), meanTumor: (dN * uptakeMass) / tumorMass, wholeNormal: (dN * mPn) / Math.max(comp.wholeNormalLiver.massG, mPn), mPn };
  });
  const partitionOn = (s: GridStructure) => {
    const m = massOf(s);
    return cases.map((c, t) => {
      const p = partition[t];
      let energy = p.dN * overlapMassG(reference, c.perfusedNormal, s);
      tc.lesions.forEach((l, i) => (energy += p.lesions[i] * overlapMassG(reference, l, s)));
      return m > 0 ? energy / m : 0;
    });
  };
  const basisOf = (s: GridStructure, own?: (t: number) => number) => (opts.prescribe === 'voxel' ? voxel(s) : own ? cases.map((_, t) => own(t)) : partitionOn(s));
  const basisSeOf = (s: GridStructure) => (opts.prescribe === 'voxel' ? voxelSe(s) : {});

  // The territory whose target a structure takes: those holding >= 50 % of its mass, else the largest share.
  const holders = (s: GridStructure) => {
    const m = massOf(s);
    const shares = cases.map((c) => (m > 0 ? overlapMassG(reference, s, c.perfused) / m : 0));
    const most = shares.map((x, t) => (x >= 0.5 ? t : -1)).filter((t) => t >= 0);
    if (most.length) return most;
    const best = Math.max(...shares);
    return best > 0 ? [shares.indexOf(best)] : [];
  };
  const coverage: CoverageTarget[] = [];
  const addTumorTarget = (s: GridStructure, name: string, kind: CoverageTarget['kind'], k: number[], se: { gyPerGBqStdErr?: number[] }) => {
    const h = holders(s);
    if (h.length === 0) {
      warnings.push(`tumour "${name}" lies in no territory's perfused structure: it has no target and is not planned`);
      return;
    }
    let best = -1;
    for (const t of h) if (targets[t].tumorGy !== undefined && (best < 0 || targets[t].tumorGy! > targets[best].tumorGy!)) best = t;
    if (best < 0) return; // its territories have no tumour target (tumorGy null / --tumor-gy none)
    if (!k.some((x) => x > 0)) warnings.push(`tumour "${name}" receives no dose from any territory (no scout counts in it): its ${targets[best].tumorGy} Gy target cannot be reached`);
    coverage.push({ id: `tumor:${name}`, kind, structure: name, targetGy: targets[best].tumorGy!, targetOf: cases[best].spec.name, gyPerGBq: k, ...se });
  };
  if (opts.tumorBasis === 'mean') {
    const name = cases[0].compartments.allTumor.name;
    addTumorTarget(tc.allTumor, name, 'all-tumour', basisOf(tc.allTumor, (t) => partition[t].meanTumor), basisSeOf(tc.allTumor));
  } else {
    tc.lesions.forEach((l, i) => addTumorTarget(l, cases[0].compartments.lesions[i].name, 'lesion', basisOf(l, (t) => partition[t].lesions[i]), basisSeOf(l)));
  }
  cases.forEach((c, t) => {
    const g = targets[t].perfusedTargetGy;
    if (g !== undefined) coverage.push({ id: `perfused-target:${c.spec.name}`, kind: 'perfused', structure: c.spec.perfused, targetGy: g, targetOf: c.spec.name, gyPerGBq: basisOf(c.perfused), ...basisSeOf(c.perfused) });
  });

  // Limits: on the dose map (voxel), and with the partition basis on the compartment model too.
  const limits: LimitConstraint[] = [];
  const bases: Array<'voxel' | 'partition'> = opts.prescribe === 'partition' ? ['partition', 'voxel'] : ['voxel'];
  const wnName = cases[0].compartments.wholeNormalLiver.name;
  if (wholeNormalLiverGy !== undefined) {
    for (const b of bases) {
      limits.push({
        id: 'whole-normal-liver', kind: 'whole-normal-liver', structure: wnName, basis: b, limitGy: wholeNormalLiverGy, what: 'whole normal liver',
        gyPerGBq: b === 'voxel' ? voxel(tc.wholeNormal) : partition.map((p) => p.wholeNormal),
        ...(b === 'voxel' ? voxelSe(tc.wholeNormal) : {}),
      });
    }
  }
  cases.forEach((c, u) => {
    const L = targets[u].normalLiverGy;
    if (L === undefined) return;
    const name = c.perfused === tc.wholeNormal ? wnName : `${c.spec.perfused} minus tumours`;
    for (const b of bases) {
      limits.push({
        id: `normal-liver:${c.spec.name}`, kind: 'normal-liver', structure: name, basis: b, limitGy: L, what: `perfused normal liver of "${c.spec.name}"`,
        gyPerGBq: b === 'voxel' ? voxel(c.perfusedNormal) : cases.map((d, t) => (t === u ? partition[t].dN : (partition[t].dN * overlapMassG(reference, c.perfusedNormal, d.perfusedNormal)) / partition[u].mPn)),
        ...(b === 'voxel' ? voxelSe(c.perfusedNormal) : {}),
      });
    }
  });
  const lungK = cases.map((c) => c.compartments.lungGyPerGBq);
  // the lung structure's name when the lung mass is its own (the dose map's lung mean is then the formula's dose)
  const lungStructure = reference.structures.find((s) => s.role === 'lung')?.name;
  const lungName = lungStructure && cases[0].compartments.lungMassSource === 'lung structure' ? lungStructure : `lung (${cases[0].compartments.lungMassG.toFixed(0)} g)`;
  if (lungGy !== undefined) limits.push({ id: 'lung', kind: 'lung', structure: lungName, basis: 'lung-formula', limitGy: lungGy, what: 'lung (per treatment)', gyPerGBq: lungK });
  if (lungCumulativeGy !== undefined) {
    limits.push({ id: 'lung-cumulative', kind: 'lung-cumulative', structure: lungName, basis: 'lung-formula', limitGy: lungCumulativeGy, priorGy: priorLungGy, what: 'cumulative lung dose', gyPerGBq: lungK });
  }
  return {
    problem: { territories: cases.map((c) => ({ name: c.spec.name, fixedActivityGBq: c.spec.activityGBq })), coverage, limits },
    targets: targets.map((t) => ({ tumorGy: t.tumorGy, normalLiverGy: t.normalLiverGy, perfusedTargetGy: t.perfusedTargetGy })),
    planLimits: { wholeNormalLiverGy, lungGy, lungCumulativeGy, priorLungGy },
    warnings,
  };
}

