/**
 * CT number -> material intervals and the packing of media words (src/mc/materials.ts).
 */
import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.ts';
import {
  ADIPOSE,
  AIR,
  buildMedia,
  CORTICAL_BONE,
  CT_MATERIALS,
  decodeMedium,
  LUNG,
  materialIndexForDensity,
  SOFT_TISSUE,
  SPONGIOSA,
  WATER,
} from '../../src/mc/materials.ts';
import { MC_DENSITY_UNIT } from '../../src/mc/types.ts';

const rhoOfHu = (hu: number) => (hu + 1000) / 1000;

describe('HU -> material intervals (Schneider et al. 2000 style)', () => {
  // each interval: [lower HU (inclusive), upper HU (exclusive), material]
  const intervals: Array<[number, number, typeof AIR]> = [
    [-1000, -950, AIR],
    [-950, -120, LUNG],
    [-120, -20, ADIPOSE],
    [-20, 120, SOFT_TISSUE],
    [120, 550, SPONGIOSA],
    [550, 3000, CORTICAL_BONE],
  ];
  for (const [lo, hi, m] of intervals) {
    it(`${m.name}: ${lo} <= HU < ${hi}`, () => {
      const idx = CT_MATERIALS.indexOf(m);
      expect(materialIndexForDensity(rhoOfHu(lo))).toBe(idx);
      expect(materialIndexForDensity(rhoOfHu(lo + 0.5))).toBe(idx);
      expect(materialIndexForDensity(rhoOfHu((lo + hi) / 2))).toBe(idx);
      expect(materialIndexForDensity(rhoOfHu(hi - 0.5))).toBe(idx);
      expect(materialIndexForDensity(rhoOfHu(hi - 0.01))).toBe(idx);
      if (hi < 3000) {
        expect(materialIndexForDensity(rhoOfHu(hi))).toBe(idx + 1);
        // the boundary as a Float32 density (may round a hair below) still belongs to the upper interval
        expect(materialIndexForDensity(Math.fround(rhoOfHu(hi)))).toBe(idx + 1);
      }
    });
  }
  it('typical tissues land where expected: liver 60 HU, fat -100 HU, inflated lung -800 HU, cortical bone 1000 HU', () => {
    expect(CT_MATERIALS[materialIndexForDensity(rhoOfHu(60))]).toBe(SOFT_TISSUE);
    expect(CT_MATERIALS[materialIndexForDensity(rhoOfHu(-100))]).toBe(ADIPOSE);
    expect(CT_MATERIALS[materialIndexForDensity(rhoOfHu(-800))]).toBe(LUNG);
    expect(CT_MATERIALS[materialIndexForDensity(rhoOfHu(1000))]).toBe(CORTICAL_BONE);
  });
  it('compositions sum to 1 and carry a source; I-values are those of tissues (60-120 eV)', () => {
    for (const m of [...CT_MATERIALS, WATER]) {
      const sum = Object.values(m.massFractions).reduce((a, b) => a + b, 0);
      expect(Math.abs(sum - 1)).toBeLessThan(1e-12);
      expect(m.source.length).toBeGreaterThan(10);
      expect(m.iValueMeV * 1e6).toBeGreaterThan(60);
      expect(m.iValueMeV * 1e6).toBeLessThan(120);
    }
  });
});

describe('media words', () => {
  it('round trip: material index and density within MC_DENSITY_UNIT/2', () => {
    const rho = new Float32Array([0, 0.0012, 0.049999, 0.05, 0.26, 0.95, 1.0, 1.06, 1.2, 1.55, 1.92, 3.5, 15.999999, 16]);
    const { media, materials, voxelsPerMaterial } = buildMedia(rho, rho.length);
    expect(materials.length).toBe(CT_MATERIALS.length);
    let count = 0;
    for (let v = 0; v < rho.length; v++) {
      const d = decodeMedium(media[v]);
      expect(d.material).toBe(materialIndexForDensity(rho[v]));
      expect(materials[d.material]).toBe(CT_MATERIALS[d.material]);
      // rounding to the nearest unit: half a unit, plus the f64 error of the division (1e-15 relative)
      expect(Math.abs(d.densityGPerCm3 - rho[v])).toBeLessThanOrEqual(MC_DENSITY_UNIT / 2 + 1e-14);
    }
    for (const n of voxelsPerMaterial) count += n;
    expect(count).toBe(rho.length);
    // 1.55 (HU 550, stored in f32 as 1.5499999523), 1.92, 3.5, 15.999999, 16
    expect(voxelsPerMaterial[CT_MATERIALS.indexOf(CORTICAL_BONE)]).toBe(5);
  });
  it('a single density fills every voxel; negative densities pack as 0 (air)', () => {
    const { media, voxelsPerMaterial } = buildMedia(1.06, 4);
    expect([...media].every((w) => w === media[0])).toBe(true);
    expect(voxelsPerMaterial[CT_MATERIALS.indexOf(SOFT_TISSUE)]).toBe(4);
    const neg = buildMedia(new Float32Array([-0.02]), 1);
    expect(decodeMedium(neg.media[0])).toEqual({ material: CT_MATERIALS.indexOf(AIR), densityGPerCm3: 0 });
  });
  it('refuses NaN, densities above 16 g/mL and a length mismatch with an InputError', () => {
    expect(() => buildMedia(new Float32Array([1, Number.NaN]), 2)).toThrow(InputError);
    expect(() => buildMedia(16.5, 3)).toThrow(/exceeds 16 g\/mL/);
    expect(() => buildMedia(new Float32Array(3), 4)).toThrow(InputError);
  });
});
