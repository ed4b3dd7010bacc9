/**
 * The model behind the viewer's Territories panel (packages/viewer/src/client/territories.ts) and its GPU twin
 * (combine-gpu.ts + combine.wgsl): the territory sum against answers written out here, the structures' voxel sets
 * and statistics on analytic dose ramps, the constraint reading, and the WebGPU sum against the CPU oracle on a grid
 * of sizes, territory counts and slab splits (software adapter; skipped with the reason where none exists).
 */
import { describe, expect, it } from 'vitest';
import combineSrc from '../../packages/viewer/src/client/combine.wgsl?raw';
import { COMBINE_PARAMS, createDoseCombinerGpu, readTexture3d } from '../../packages/viewer/src/client/combine-gpu.ts';
import {
  combineDoseCpu,
  combinedDoseAt,
  constraintRows,
  gatherTerms,
  planMeanMismatches,
  sliderMaxGBq,
  structureNumbers,
  structureVoxelSets,
  territoryMeansGy,
  voxelStatsAt,
} from '../../packages/viewer/src/client/territories.ts';
import { makeClientVolume } from '../../packages/viewer/src/client/views.ts';
import type { GridJson, ReportJson } from '../../packages/viewer/src/protocol.ts';
import { uniformByteSize, wgslStructFields } from '../../packages/dosimetry-core/src/gpu/uniform.ts';
import { awaitGpu } from '../../packages/dosimetry-core/src/gpu/wait.ts';
import { gpuForTests } from '../../packages/dosimetry-core/test/gpu/gpu-context.ts';

const grid = (dims: [number, number, number], spacingMm: [number, number, number] = [2, 2, 2], originLpsMm: [number, number, number] = [0, 0, 0]): GridJson => ({
  dims,
  spacingMm,
  originLpsMm,
  direction: [1, 0, 0, 0, 1, 0, 0, 0, 1],
});

/** Index-encoded map: voxel v of territory t holds (t + 1) x 1000 + v / 7 (every voxel and territory distinct). */
function encodedTerms(n: number, T: number): Float32Array[] {
  return Array.from({ length: T }, (_, t) => Float32Array.from({ length: n }, (_, v) => (t + 1) * 1000 + v / 7));
}

describe('combineDoseCpu', () => {
  it('is sum_t A_t x map_t per voxel, one float32 rounding of the f64 sum, for 1 to 4 territories', () => {
    const n = 1000;
    for (const T of [1, 2, 3, 4]) {
      const terms = encodedTerms(n, T);
      const w = [1.25, 0.5, 3, 0.125].slice(0, T);
      const got = combineDoseCpu(terms, w);
      for (const v of [0, 1, 17, 500, 999]) {
        // written out: sum_t w_t ((t + 1) 1000 + v / 7), with map values rounded to float32 as stored
        let want = 0;
        for (let t = 0; t < T; t++) want += w[t] * Math.fround((t + 1) * 1000 + v / 7);
        expect(got[v]).toBe(Math.fround(want));
      }
    }
  });

  it('gives exactly the other territory where one is at 0, and refuses mismatched inputs', () => {
    const [a, b] = encodedTerms(64, 2);
    const only = combineDoseCpu([a, b], [0, 2]);
    for (let v = 0; v < 64; v++) expect(only[v]).toBe(Math.fround(2 * b[v]));
    expect(() => combineDoseCpu([a, b], [1])).toThrow(/one activity per territory/);
    expect(() => combineDoseCpu([a, new Float32Array(3)], [1, 1])).toThrow(/grid of dose\.nii\.gz/);
  });

  it('combinedDoseAt samples the nearest voxel of every map and is undefined off the grid', () => {
    const g = grid([4, 3, 2]);
    const terms = encodedTerms(24, 2).map((d) => makeClientVolume(g, d));
    // voxel (1, 2, 1) = 1 + 4 (2 + 3) = 21 lies at (2, 4, 2) mm
    expect(combinedDoseAt(terms, [0.5, 2], [2.4, 3.7, 2.9])).toBe(Math.fround(0.5 * terms[0].data[21] + 2 * terms[1].data[21]));
    expect(combinedDoseAt(terms, [0.5, 2], [-5, 0, 0])).toBeUndefined();
  });
});

describe('territory means and sliders', () => {
  const territories = [
    { structures: [{ name: 'Liver', meanGyPerGBq: 30 }, { name: 'Tumor', meanGyPerGBq: 200 }] },
    { structures: [{ name: 'Liver', meanGyPerGBq: 10 }] },
  ];
  it('sums A_t x meanGyPerGBq_t and leaves a structure some territory does not list unknown', () => {
    expect(territoryMeansGy(territories, [2, 3], ['Liver', 'Tumor', 'Lungs'])).toEqual([90, undefined, undefined]);
    expect(territoryMeansGy(territories, [0, 3], ['Liver'])).toEqual([30]);
  });
  it('names the structures whose report mean is not the sum of the per-GBq means at the planned activities', () => {
    const report = { structures: [{ name: 'Liver', meanGy: 87.5 }, { name: 'Tumor', meanGy: 100 }] } as unknown as ReportJson;
    const planned = territories.map((t, i) => ({ ...t, plannedActivityGBq: [2.5, 1.25][i] }));
    // Liver: 2.5 x 30 + 1.25 x 10 = 87.5 (agrees); Tumor: listed by one territory only (unknown, not a mismatch)
    expect(planMeanMismatches(report, planned)).toEqual([]);
    const off = { structures: [{ name: 'Liver', meanGy: 87.6 }] } as unknown as ReportJson;
    expect(planMeanMismatches(off, planned)).toEqual([{ name: 'Liver', reportGy: 87.6, sumGy: 87.5 }]);
    expect(planMeanMismatches(off, planned, 2e-3)).toEqual([]);
  });
  it('slider maximum: 2 x the plan, or the maximum allowed when larger; 1 GBq for a territory planned at 0', () => {
    expect(sliderMaxGBq({ plannedActivityGBq: 1.5 })).toBe(3);
    expect(sliderMaxGBq({ plannedActivityGBq: 1.5, maxAllowedActivityGBq: 4 })).toBe(4);
    expect(sliderMaxGBq({ plannedActivityGBq: 1.5, maxAllowedActivityGBq: 2 })).toBe(3);
    expect(sliderMaxGBq({ plannedActivityGBq: 0 })).toBe(1);
  });
});

describe('voxel statistics of the combined map', () => {
  // Dose grid 10 x 4 x 3 of 2 mm; territory 0 gives i x 20 Gy/GBq in the left half (i < 5), territory 1 gives
  // i x 30 Gy/GBq in the right half. Structure "Box" = voxels with j < 2 (all i), "Right" = i >= 5.
  const dims: [number, number, number] = [10, 4, 3];
  const n = 120;
  const g = grid(dims);
  const maps = [new Float32Array(n), new Float32Array(n)];
  for (let v = 0; v < n; v++) {
    const i = v % 10;
    if (i < 5) maps[0][v] = 20 * i;
    else maps[1][v] = 30 * i;
  }
  const dose = makeClientVolume(g, new Float32Array(n));
  const structures = [
    { name: 'Box', bit: 0 },
    { name: 'Right', bit: 1 },
    { name: 'No mask', bit: -1 },
  ];
  const labelsOn = (lg: GridJson, fine: number) => {
    const [lx, ly, lz] = lg.dims;
    const data = new Uint32Array(lx * ly * lz);
    for (let k = 0; k < lz; k++) for (let j = 0; j < ly; j++) for (let i = 0; i < lx; i++) {
      const di = Math.floor(i / fine), dj = Math.floor(j / fine);
      let b = 0;
      if (dj < 2) b |= 1;
      if (di >= 5) b |= 2;
      data[i + lx * (j + ly * k)] = b;
    }
    return makeClientVolume(lg, data);
  };

  /** V100 and mean of Box at activities (a0, a1), written out: Box has 2 x 3 voxels at each i. */
  const boxAnswers = (a0: number, a1: number) => {
    const d = Array.from({ length: 10 }, (_, i) => (i < 5 ? a0 * 20 * i : a1 * 30 * i));
    return { v100: d.filter((x) => x >= 100).length / 10, meanGy: d.reduce((s, x) => s + x, 0) / 10 };
  };

  for (const [label, lg, fine] of [
    ['labels on the dose grid', g, 1],
    // 2 x 2 x 2 label voxels of 1 mm in each dose voxel; label voxel centres at -0.5 / +0.5 mm around dose centres
    ['labels on a grid twice as fine', grid([20, 8, 6], [1, 1, 1], [-0.5, -0.5, -0.5]), 2],
  ] as const) {
    it(`${label}: V100, mean and the union of voxels are those written out`, () => {
      const sets = structureVoxelSets(labelsOn(lg, fine), dose, structures);
      // union: Box (10 x 2 x 3 = 60) + Right (5 x 4 x 3 = 60) - both (5 x 2 x 3 = 30)
      expect(sets.unionIndices.length).toBe(90);
      expect(sets.structures[0]!.voxelIndices.length).toBe(60);
      expect([...sets.structures[0]!.weights].every((w) => w === 1)).toBe(true);
      expect(sets.structures[2]).toBeUndefined();
      const gathered = gatherTerms(sets, maps);
      for (const [a0, a1] of [[1, 1], [3, 0], [0, 0.5], [2.5, 1.5]]) {
        const st = voxelStatsAt(gathered, [a0, a1]);
        const want = boxAnswers(a0, a1);
        expect(st[0]!.v100).toBeCloseTo(want.v100, 12);
        expect(st[0]!.meanGy).toBeCloseTo(want.meanGy, 4);
        expect(st[0]!.volumeMl).toBeCloseTo(60 * 0.008, 12);
        // Right: i = 5..9 at a1 x 30 i
        expect(st[1]!.maxGy).toBeCloseTo(a1 * 270, 4);
        expect(st[2]).toBeUndefined();
      }
    });
  }
});

describe('structureNumbers', () => {
  const s = { name: 'Liver', role: 'liver', volumeMl: 1, meanGy: 60, d70Gy: 50, v100: 0.1, v205: 0.05, dvh: { doseGy: [0, 1], volumeFraction: [1, 0] } };
  const stats = (meanGy: number) => ({ meanGy, d70Gy: 7, v100: 0.3, v205: 0.2, dvh: { doseGy: [0, 2], volumeFraction: [1, 0] } }) as unknown as Parameters<typeof structureNumbers>[2];
  it('takes the per-GBq mean when every territory gives one, and the DVH numbers from the combined map', () => {
    const r = structureNumbers(s, 80, stats(70), stats(50));
    expect(r).toMatchObject({ meanGy: 80, meanSource: 'report-per-gbq', d70Gy: 7, v100: 0.3, v205: 0.2 });
    expect(r.structure.dvh.doseGy).toEqual([0, 2]);
  });
  it('scales the report mean by the voxel means when a territory lists none, and keeps the plan without maps', () => {
    expect(structureNumbers(s, undefined, stats(75), stats(50))).toMatchObject({ meanGy: 90, meanSource: 'maps' });
    expect(structureNumbers(s, undefined, undefined, undefined)).toMatchObject({ meanGy: 60, meanSource: 'planned', d70Gy: 50, v100: 0.1 });
    expect(structureNumbers(s, 30, undefined, undefined)).toMatchObject({ meanGy: 30, meanSource: 'report-per-gbq', d70Gy: 50 });
  });
});

describe('plan constraints', () => {
  const report = {
    structures: [
      { name: 'Normal liver', role: 'normal-liver' },
      { name: 'Tumor B', role: 'tumor' },
    ],
    plan: {
      constraints: [
        { name: 'Normal liver', limitGy: 75, valueGy: 70, slackGy: 5, binding: false },
        { name: 'Tumor B', limitGy: 205, valueGy: 205, slackGy: 0, binding: true },
        { name: 'lung limit', structure: 'Normal liver', kind: 'max', limitGy: 50 },
        { name: 'whole liver', limitGy: 60 },
        'garbage',
      ],
    },
  } as unknown as ReportJson;
  it('reads what is present, takes limits as maxima and tumour targets as minima, and flags them at the means given', () => {
    const rows = constraintRows(report, [80, 150]);
    expect(rows.map((r) => r.name)).toEqual(['Normal liver', 'Tumor B', 'lung limit', 'whole liver']);
    expect(rows[0]).toMatchObject({ sense: 'max', nowGy: 80, broken: true, planValueGy: 70, binding: false });
    expect(rows[1]).toMatchObject({ sense: 'min', nowGy: 150, broken: true, binding: true });
    expect(rows[2]).toMatchObject({ structure: 'Normal liver', sense: 'max', broken: true });
    expect(rows[3].nowGy).toBeUndefined();
    expect(rows[3].broken).toBeUndefined();
    expect(constraintRows(report, [70, 210]).map((r) => r.broken)).toEqual([false, false, true, undefined]);
    expect(constraintRows({ structures: [] } as unknown as ReportJson, [])).toEqual([]);
  });

  // A territory plan's rows (plan --territories): limits with their coefficients per territory (partition basis here:
  // not the structure's dose-map mean), a prior dose, a structure the report does not list, and targets (plan.coverage).
  const territoryReport = {
    structures: [
      { name: 'Normal liver', role: 'normal-liver' },
      { name: 'Tumor B', role: 'tumor' },
      { name: 'Right half', role: 'perfused' },
    ],
    plan: {
      constraints: [
        { name: 'whole-normal-liver (partition)', id: 'whole-normal-liver', kind: 'whole-normal-liver', structure: 'Normal liver', limitGy: 75, valueGy: 61, gyPerGBq: [20, 30], binding: false },
        { name: 'normal-liver:Right lobe (voxel)', kind: 'normal-liver', structure: 'Right half minus tumours', limitGy: 120, gyPerGBq: [50, 0] },
        { name: 'lung-cumulative (lung-formula)', kind: 'lung-cumulative', structure: 'lung (1000 g)', limitGy: 50, priorGy: 45, gyPerGBq: [2, 3] },
        { name: 'short coefficients', structure: 'Normal liver', limitGy: 75, gyPerGBq: [20] },
      ],
      coverage: [
        { id: 'tumor:Tumor B', kind: 'lesion', structure: 'Tumor B', targetGy: 205, doseGy: 205, gyPerGBq: [0, 102.5], binding: true },
        { id: 'perfused-target:Right lobe', kind: 'perfused', structure: 'Right half', targetGy: 400, doseGy: 300, gyPerGBq: [150, 0] },
      ],
    },
  } as unknown as ReportJson;

  it('evaluates a territory plan\'s rows from their coefficients (prior + sum_t A_t k_t) and lists its targets as minima', () => {
    // A = (1, 2): whole normal liver 20 + 60 = 80 > 75; right normal liver 50; lung 45 + 2 + 6 = 53 > 50;
    // Tumor B 205 (exactly at its target: not broken); perfused target 150 < 400.
    const rows = constraintRows(territoryReport, [10, 11, 12], [1, 2]);
    expect(rows.map((r) => r.name)).toEqual(['whole-normal-liver (partition)', 'normal-liver:Right lobe (voxel)', 'lung-cumulative (lung-formula)', 'short coefficients', 'tumor:Tumor B', 'perfused-target:Right lobe']);
    expect(rows.map((r) => r.nowGy)).toEqual([80, 50, 53, 10, 205, 150]);
    expect(rows.map((r) => r.sense)).toEqual(['max', 'max', 'max', 'max', 'min', 'min']);
    expect(rows.map((r) => r.broken)).toEqual([true, false, true, false, false, true]);
    expect(rows[0]).toMatchObject({ planValueGy: 61, limitGy: 75, structure: 'Normal liver', binding: false });
    expect(rows[4]).toMatchObject({ planValueGy: 205, limitGy: 205, binding: true });
    // without activities: the structure's mean where the report lists it, else nothing
    expect(constraintRows(territoryReport, [10, 11, 12]).map((r) => r.nowGy)).toEqual([10, undefined, undefined, 10, 11, 12]);
  });

  it('a target or limit met to within the planner\'s float tolerance (1e-6) is not broken', () => {
    const at = (tumourGy: number, normalGy: number) => {
      const k = { structures: [{ name: 'N', role: 'normal-liver' }, { name: 'T', role: 'tumor' }], plan: { constraints: [{ name: 'N', limitGy: 75 }, { name: 'T', limitGy: 205 }] } } as unknown as ReportJson;
      return constraintRows(k, [normalGy, tumourGy]).map((r) => r.broken);
    };
    expect(at(205 * (1 - 5e-7), 75 * (1 + 5e-7))).toEqual([false, false]);
    expect(at(205 * (1 - 2e-6), 75 * (1 + 2e-6))).toEqual([true, true]);
  });
});

describe('combine.wgsl', () => {
  it('declares the host layout of Params, names its CPU oracle and its bindings', () => {
    expect(wgslStructFields(combineSrc, COMBINE_PARAMS.struct)).toEqual(COMBINE_PARAMS.fields.map(([a, b]) => [a, b]));
    expect(uniformByteSize(COMBINE_PARAMS)).toBe(32);
    const header = combineSrc.split('\n').filter((l) => l.startsWith('//')).join('\n');
    expect(header).toContain('CPU oracle: combineDoseCpu()');
    expect(header).toMatch(/Bindings/);
    expect(combineSrc).toMatch(/override WX: u32/);
  });
});

describe('combineDoseGpu (WebGPU, software adapter)', async () => {
  const ctx = await gpuForTests();
  it.skipIf(!ctx)('equals the CPU oracle within float32 rounding over sizes, territory counts and slab splits', async () => {
    const device = ctx!.device;
    for (const dims of [[1, 1, 1], [9, 7, 5], [33, 17, 12]] as Array<[number, number, number]>) {
      const n = dims[0] * dims[1] * dims[2];
      for (const T of [1, 2, 3]) {
        for (const planesPerSlab of [undefined, 1, 4]) {
          const terms = encodedTerms(n, T);
          const weights = [1.7, 0.3, 2.2].slice(0, T);
          const tex = device.createTexture({
            size: dims,
            dimension: '3d',
            format: 'r32float',
            usage: GPUTextureUsage.STORAGE_BINDING | GPUTextureUsage.TEXTURE_BINDING | GPUTextureUsage.COPY_SRC | GPUTextureUsage.COPY_DST,
          });
          const maxBindingBytes = planesPerSlab ? planesPerSlab * 4 * dims[0] * dims[1] * T : undefined;
          const c = createDoseCombinerGpu(device, { dims, terms, target: tex, maxBindingBytes });
          expect(c.slabs).toBe(planesPerSlab ? Math.ceil(dims[2] / planesPerSlab) : 1);
          c.combine(weights);
          const got = await readTexture3d(device, tex, dims, awaitGpu);
          const want = combineDoseCpu(terms, weights);
          for (let v = 0; v < n; v++) {
            // f32 accumulation of T positive products: each product and each addition rounded, <= (2T - 1) ulp
            // of the positive sum, i.e. (2T - 1) x 2^-24 relative (and possibly fused multiply-adds, fewer).
            expect(Math.abs(got[v] - want[v]) / want[v], `${dims} T=${T} slab=${planesPerSlab} voxel ${v}`).toBeLessThanOrEqual((2 * T - 1) * 2 ** -24 * 1.0001 + 2 ** -24);
          }
          // a territory at 0: exactly the others' sum (products by 0 are exact)
          c.combine(weights.map((w, t) => (t === 0 ? 0 : w)));
          const rest = await readTexture3d(device, tex, dims, awaitGpu);
          if (T === 1) expect(rest.every((x) => x === 0)).toBe(true);
          c.destroy();
          tex.destroy();
        }
      }
    }
  });
});
