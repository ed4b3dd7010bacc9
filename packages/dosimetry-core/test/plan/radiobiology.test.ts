import { describe, expect, it } from 'vitest';
import { NORMAL_LIVER_LQ, TUMOR_LQ, bedGy, bedQuadraticCoefficientPerGy, bedVoxelsGy, eudGy, meanBedGy } from '../../src/plan/radiobiology.ts';
import { InputError } from '../../src/errors.ts';
import type { GridStructure } from '../../src/volume/structure.ts';

// lambda / (mu + lambda) = (ln2/T_phys) / (ln2/T_rep + ln2/T_phys) = T_rep / (T_rep + T_phys): the hand form below.
// Tolerances: closed forms, compared to the hand arithmetic's digits; float32 storage (~6e-8 relative) for voxel maps.

describe('BED of a permanent implant (Dale 1985)', () => {
  it('90Y tumour (alpha/beta 10 Gy, T_rep 1.5 h): BED(100 Gy) = 122.8833 Gy', () => {
    // G = 1.5 / ((1.5 + 64.05) x 10) = 1.5 / 655.5 = 0.00228833 /Gy; BED = 100 + 100^2 x G = 122.8833
    expect(bedQuadraticCoefficientPerGy({ isotope: 'Y90', lq: TUMOR_LQ })).toBeCloseTo(0.00228833, 8);
    expect(bedGy({ isotope: 'Y90', lq: TUMOR_LQ, doseGy: 100 })).toBeCloseTo(122.8833, 4);
  });

  it('90Y normal liver (2.5 Gy, 2.5 h): BED(40 Gy) = 40 + 1600 / 66.55 = 64.0421 Gy', () => {
    // G = 2.5 / ((2.5 + 64.05) x 2.5) = 1 / 66.55
    expect(bedGy({ isotope: 'Y90', lq: NORMAL_LIVER_LQ, doseGy: 40 })).toBeCloseTo(64.0421, 4);
  });

  it('166Ho normal liver: BED(60 Gy) = 60 + 3600 / 29.3 = 182.8669 Gy (shorter half-life: higher dose rate)', () => {
    expect(bedGy({ isotope: 'Ho166', lq: NORMAL_LIVER_LQ, doseGy: 60 })).toBeCloseTo(182.8669, 4);
  });

  it('limits: instant repair gives BED -> D; BED grows with 1/(alpha/beta)', () => {
    expect(bedGy({ isotope: 'Y90', lq: { alphaBetaGy: 10, repairHalfTimeH: 1e-9 }, doseGy: 200 })).toBeCloseTo(200, 6);
    const a = bedGy({ isotope: 'Y90', lq: { alphaBetaGy: 3, repairHalfTimeH: 1.5 }, doseGy: 200 });
    const b = bedGy({ isotope: 'Y90', lq: { alphaBetaGy: 10, repairHalfTimeH: 1.5 }, doseGy: 200 });
    expect(a - 200).toBeCloseTo(((b - 200) * 10) / 3, 8);
  });

  it('per voxel equals the scalar function; mean over a weighted structure', () => {
    const dose = Float32Array.from([10, 20, 30, 40]);
    const bed = bedVoxelsGy({ isotope: 'Y90', lq: TUMOR_LQ, doseGy: dose });
    for (let n = 0; n < 4; n++) expect(bed[n] / bedGy({ isotope: 'Y90', lq: TUMOR_LQ, doseGy: dose[n] })).toBeCloseTo(1, 6);
    const s: GridStructure = { name: 'T', origin: 'test', voxelIndices: Uint32Array.from([1, 3]), weights: Float32Array.from([1, 0.5]) };
    // (BED(20) x 1 + BED(40) x 0.5) / 1.5, BED(D) = D + D^2 x 1.5 / 655.5
    const g = 1.5 / 655.5;
    expect(meanBedGy({ isotope: 'Y90', lq: TUMOR_LQ, doseGy: dose, structure: s })).toBeCloseTo((20 + 400 * g + 0.5 * (40 + 1600 * g)) / 1.5, 8);
    // without a structure: all voxels, weight 1
    expect(meanBedGy({ isotope: 'Y90', lq: TUMOR_LQ, doseGy: dose })).toBeCloseTo(25 + ((100 + 400 + 900 + 1600) * g) / 4, 8);
  });

  it('rejects bad parameters and non-finite doses', () => {
    expect(() => bedGy({ isotope: 'Y90', lq: { alphaBetaGy: 0, repairHalfTimeH: 1 }, doseGy: 1 })).toThrow(InputError);
    expect(() => bedGy({ isotope: 'Y90', lq: { alphaBetaGy: 10, repairHalfTimeH: -1 }, doseGy: 1 })).toThrow(InputError);
    expect(() => bedVoxelsGy({ isotope: 'Y90', lq: TUMOR_LQ, doseGy: Float32Array.from([1, NaN]) })).toThrow(InputError);
    const empty: GridStructure = { name: 'E', origin: 't', voxelIndices: new Uint32Array(0), weights: new Float32Array(0) };
    expect(() => meanBedGy({ isotope: 'Y90', lq: TUMOR_LQ, doseGy: new Float32Array(4), structure: empty })).toThrow(InputError);
    const outside: GridStructure = { name: 'O', origin: 't', voxelIndices: Uint32Array.from([9]), weights: Float32Array.from([1]) };
    expect(() => meanBedGy({ isotope: 'Y90', lq: TUMOR_LQ, doseGy: new Float32Array(4), structure: outside })).toThrow(/same grid/);
  });
});

describe('EUD (Niemierko 1997, alpha-only form)', () => {
  it('uniform dose: EUD = D', () => {
    expect(eudGy({ doseGy: new Float32Array(10).fill(150), alphaPerGy: 0.03 })).toBeCloseTo(150, 10);
  });

  it('hand-worked: half at 0 Gy, half at 100 Gy, alpha 0.03/Gy: -ln(0.5 + 0.5 e^-3)/0.03 = 21.48533 Gy', () => {
    // 0.5 + 0.5 x 0.0497871 = 0.5248935; -ln = 0.644560; / 0.03 = 21.48533
    expect(eudGy({ doseGy: [0, 100], alphaPerGy: 0.03 })).toBeCloseTo(21.48533, 5);
  });

  it('weights are volume fractions; min <= EUD <= mean; alpha -> 0 gives the mean', () => {
    const dose = Float32Array.from([50, 100, 300, 900]);
    const s: GridStructure = { name: 'T', origin: 't', voxelIndices: Uint32Array.from([0, 2]), weights: Float32Array.from([0.25, 0.75]) };
    // fractions 0.25 and 0.75 of 50 and 300 Gy
    expect(eudGy({ doseGy: dose, structure: s, alphaPerGy: 0.01 })).toBeCloseTo(-Math.log(0.25 * Math.exp(-0.5) + 0.75 * Math.exp(-3)) / 0.01, 8);
    const e = eudGy({ doseGy: dose, alphaPerGy: 0.02 });
    expect(e).toBeGreaterThan(50);
    expect(e).toBeLessThan(337.5);
    // small alpha: EUD = mean - alpha var / 2 + O(alpha^2); population variance of the four doses = 114218.75 Gy^2,
    // so alpha = 1e-9 gives 337.5 - 5.711e-5 Gy (the rounding of ln near 1, ~1e-16 / alpha = 1e-7 Gy, sets the tolerance)
    expect(eudGy({ doseGy: dose, alphaPerGy: 1e-9 })).toBeCloseTo(337.5 - 1e-9 * 114218.75 / 2, 6);
  });

  it('does not underflow at high doses: [5000, 6000] Gy, alpha 1/Gy -> 5000 + ln 2', () => {
    expect(eudGy({ doseGy: [5000, 6000], alphaPerGy: 1 })).toBeCloseTo(5000 + Math.LN2, 10);
  });

  it('requires alpha > 0 and finite doses', () => {
    expect(() => eudGy({ doseGy: [1, 2], alphaPerGy: 0 })).toThrow(InputError);
    expect(() => eudGy({ doseGy: [1, Infinity], alphaPerGy: 0.03 })).toThrow(InputError);
    expect(() => eudGy({ doseGy: [], alphaPerGy: 0.03 })).toThrow(InputError);
  });
});
