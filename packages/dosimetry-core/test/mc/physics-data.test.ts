/**
 * Physics data of the voxel Monte Carlo (src/mc/electron-data.ts, photon-data.ts, materials.ts, tables.ts):
 * water through the generalised functions equals src/kernel/water.ts; other materials against published values
 * (NIST ESTAR, NIST XCOM, ICRU 37), each tolerance with its reason.
 */
import { describe, expect, it } from 'vitest';
import {
  collisionStoppingMeVPerCm,
  elasticData,
  mollerInverseMfpPerCm,
  mottFactor,
  radiativeStoppingMeVPerCm,
} from '../../src/kernel/water.ts';
import { ELECTRON_MASS_MEV } from '../../src/kernel/spectrum.ts';
import {
  ATOMIC_WEIGHT,
  bremsInverseMfpMass,
  collisionStoppingMass,
  elasticMixture,
  mollerInverseMfpMass,
  radiativeStoppingMass,
  restrictedStoppingMass,
  softRadiativeStoppingMass,
} from '../../src/mc/electron-data.ts';
import { kleinNishinaPerElectronCm2, photonAttenuation } from '../../src/mc/photon-data.ts';
import { AIR, braggIValueMeV, CORTICAL_BONE, SOFT_TISSUE, WATER } from '../../src/mc/materials.ts';
import { DEFAULT_MC_CUTOFFS, type McMaterial } from '../../src/mc/types.ts';

const rel = (a: number, b: number) => Math.abs(a / b - 1);

/** Mass fractions of a compound from its formula {Z: atoms}. */
function compound(atoms: Record<number, number>): Record<number, number> {
  let m = 0;
  for (const [z, n] of Object.entries(atoms)) m += n * ATOMIC_WEIGHT[Number(z)];
  const out: Record<number, number> = {};
  for (const [z, n] of Object.entries(atoms)) out[Number(z)] = (n * ATOMIC_WEIGHT[Number(z)]) / m;
  return out;
}
const material = (name: string, massFractions: Record<number, number>, iEv: number, rho: number): McMaterial => ({
  name,
  massFractions,
  iValueMeV: iEv * 1e-6,
  nominalDensityGPerCm3: rho,
  source: 'NIST ESTAR material definition',
});

describe('water through the generalised functions equals src/kernel/water.ts', () => {
  // Same formulas, same constants: only the summation order over atoms differs (1e-15); 1e-9 leaves room for the
  // bisection of μc landing one ulp apart.
  const TOL = 1e-9;
  const energies = [0.0015, 0.005, 0.02, 0.05, 0.1, 0.3, 0.7, 1.2, 2.28, 3];
  it('collision stopping power, unrestricted and restricted at 10, 20 and 100 keV', () => {
    for (const t of energies) {
      expect(rel(collisionStoppingMass(WATER, t), collisionStoppingMeVPerCm(t))).toBeLessThan(TOL);
      for (const wc of [0.01, 0.02, 0.1]) expect(rel(collisionStoppingMass(WATER, t, wc), collisionStoppingMeVPerCm(t, wc))).toBeLessThan(TOL);
    }
  });
  it('radiative stopping power and Møller inverse mean free path', () => {
    for (const t of energies) {
      expect(rel(radiativeStoppingMass(WATER, t), radiativeStoppingMeVPerCm(t))).toBeLessThan(TOL);
      for (const wc of [0.01, 0.1]) {
        const ref = mollerInverseMfpPerCm(t, wc);
        if (ref === 0) expect(mollerInverseMfpMass(WATER, t, wc)).toBe(0);
        else expect(rel(mollerInverseMfpMass(WATER, t, wc), ref)).toBeLessThan(TOL);
      }
    }
  });
  it('elastic: total and soft first transport, μc, and the summed Wentzel hard rate', () => {
    for (const t of energies) {
      const ref = elasticData(t);
      const mix = elasticMixture(WATER, t);
      expect(rel(mix.transportMass, ref.transportPerCm)).toBeLessThan(TOL);
      expect(Math.abs(mix.muCut - ref.muCut)).toBeLessThan(TOL * Math.max(ref.muCut, 1e-6));
      if (ref.softTransportPerCm > 0) expect(rel(mix.softTransportMass, ref.softTransportPerCm)).toBeLessThan(TOL);
      // water.ts rates are per atom species times rMax; the mixture keeps the unthinned sum
      const wentzel = ref.atoms.reduce((s, a) => s + a.rate / a.rMax, 0);
      expect(rel(mix.wentzelHardRateMass, wentzel)).toBeLessThan(TOL);
      // effective species: A and c between the two elements' values
      const as = ref.atoms.map((a) => a.screening);
      const cs = ref.atoms.map((a) => a.mottC);
      expect(mix.screening).toBeGreaterThanOrEqual(Math.min(...as) * (1 - 1e-12));
      expect(mix.screening).toBeLessThanOrEqual(Math.max(...as) * (1 + 1e-12));
      expect(mix.mottC).toBeGreaterThanOrEqual(Math.min(...cs) * (1 - 1e-12));
      expect(mix.mottC).toBeLessThanOrEqual(Math.max(...cs) * (1 + 1e-12));
      expect(rel(mix.hardRateMass, mix.wentzelHardRateMass * (1 + mix.mottC / 4))).toBeLessThan(1e-14);
    }
  });
});

describe('elastic mixture: one effective hard species', () => {
  it('reproduces the exact hard first-transport cross section of the mixture to 1e-3 (soft tissue, cortical bone)', () => {
    // exact: Σ over elements of the Mott-corrected transport above μc = total − soft (both exact for the mixture);
    // effective: what the transport samples: Wentzel(A_eff) events above μc at the summed Wentzel rate, accepted with
    // R(μ; c_eff)/(1 + c_eff/4), i.e. rate × <2μ R> over the Wentzel density on [μc, 1] (integral in ln(μ + A)).
    for (const m of [SOFT_TISSUE, CORTICAL_BONE]) {
      for (const t of [0.05, 0.3, 1, 2]) {
        const x = elasticMixture(m, t);
        const exact = x.transportMass - x.softTransportMass;
        const n = 20000;
        const u0 = Math.log(x.muCut + x.screening);
        const h = (Math.log(1 + x.screening) - u0) / n;
        let num = 0;
        let norm = 0;
        for (let i = 0; i <= n; i++) {
          const y = Math.exp(u0 + i * h);
          const mu = y - x.screening;
          const w = ((i === 0 || i === n ? 0.5 : 1) * h) / y;
          num += w * 2 * mu * mottFactor(mu, x.beta2, x.mottC);
          norm += w;
        }
        // measured: 1e-4 (μc is 200-300 times A, so the shape above μc hardly depends on A); 1e-3 with margin
        expect(rel((x.wentzelHardRateMass * num) / norm, exact)).toBeLessThan(1e-3);
      }
    }
  });
});

describe('collision stopping power vs NIST ESTAR (ICRU 37)', () => {
  // ESTAR values [MeV cm2/g] (NIST SRD 124, physics.nist.gov/PhysRefData/Star/Text/ESTAR.html) for ESTAR's own
  // material definitions (composition, I-value, density as ESTAR). Tolerance 2 %: ICRU 37 states 1-2 % uncertainty
  // above 100 keV; our density effect uses the general Sternheimer–Peierls parameters instead of ESTAR's
  // material-specific ones (a few 0.1 % at 1 MeV), liquid water uses the tabulated ones (its -0.5 % at 1 MeV is
  // that of src/kernel/water.ts).
  // Adipose tissue and cortical bone: ESTAR's tables of these two were not at hand offline; their constituents are
  // covered by the organic compounds (PMMA, alanine) and the bone-mineral elements (P, Ca: high-I branch of the
  // Sternheimer–Peierls rule). Graphite is left out: a conductor, whose density effect (δ0 > 0, ESTAR δ = 0.71 at
  // 1 MeV) the insulator rule used here does not model (2.0 % off at 1 MeV); no tissue is a conductor.
  const cases: Array<{ m: McMaterial; at01: number; at1: number }> = [
    { m: AIR, at01: 3.633, at1: 1.661 },
    { m: WATER, at01: 4.115, at1: 1.849 },
    { m: material('PMMA', compound({ 1: 8, 6: 5, 8: 2 }), 74, 1.19), at01: 4.006, at1: 1.788 },
    { m: material('alanine', compound({ 1: 7, 6: 3, 7: 1, 8: 2 }), 71.9, 1.41), at01: 4.017, at1: 1.78 },
    { m: material('phosphorus', { 15: 1 }, 173, 2.2), at01: 3.172, at1: 1.461 },
    { m: material('calcium', { 20: 1 }, 191, 1.55), at01: 3.221, at1: 1.502 },
  ];
  for (const c of cases) {
    it(`${c.m.name} at 0.1 and 1 MeV within 2 %`, () => {
      expect(rel(collisionStoppingMass(c.m, 0.1), c.at01)).toBeLessThan(0.02);
      expect(rel(collisionStoppingMass(c.m, 1), c.at1)).toBeLessThan(0.02);
    });
  }
  it('Bragg-rule I-value of ICRP soft tissue within 3 % of ICRU 37 (72.3 eV)', () => {
    // ICRP soft tissue composition as listed by ICRU 37 / ESTAR; 3 %: ICRU 37 adjusted some tissues' I-values beyond
    // the plain Bragg rule, and a 3 % change of I moves the stopping power by < 0.5 % at 0.1-1 MeV.
    const icrpSoft = {
      1: 0.104472, 6: 0.23219, 7: 0.02488, 8: 0.630238, 11: 0.00113, 12: 0.00013, 15: 0.00133, 16: 0.00199, 17: 0.00134,
      19: 0.00199, 20: 0.00023, 26: 0.00005, 30: 0.00003,
    };
    expect(rel(braggIValueMeV(icrpSoft) * 1e6, 72.3)).toBeLessThan(0.03);
  });
});

describe('radiative split and hard collisions are consistent', () => {
  it('soft + hard bremsstrahlung energy = radiative stopping power (numerical integral of the photon shape)', () => {
    const kc = DEFAULT_MC_CUTOFFS.bremsThresholdMeV;
    for (const t of [0.05, 0.5, 2]) {
      const total = t + ELECTRON_MASS_MEV;
      const g = (k: number) => {
        const y = 1 - k / total;
        return 1 + y * y - (2 / 3) * y;
      };
      // f(k) = N g/k; N from the hard rate: rate = N ∫_kc^T g/k dk (Simpson in ln k)
      const n = 2000;
      let num = 0; // ∫ g/k dk
      let en = 0; // ∫ g dk
      const l0 = Math.log(kc);
      const h = (Math.log(t) - l0) / n;
      for (let i = 0; i <= n; i++) {
        const k = Math.exp(l0 + i * h);
        const w = i === 0 || i === n ? 1 : i % 2 === 1 ? 4 : 2;
        num += w * g(k);
        en += w * g(k) * k;
      }
      num *= h / 3;
      en *= h / 3;
      const norm = bremsInverseMfpMass(CORTICAL_BONE, t, kc) / num;
      const hardEnergy = norm * en;
      // Simpson with 2000 intervals of a smooth integrand: 1e-8
      expect(rel(hardEnergy + softRadiativeStoppingMass(CORTICAL_BONE, t, kc), radiativeStoppingMass(CORTICAL_BONE, t))).toBeLessThan(1e-8);
    }
  });
  it('restricted collision + Møller energy above Wc = unrestricted collision stopping (cortical bone)', () => {
    const wc = DEFAULT_MC_CUTOFFS.deltaThresholdMeV;
    for (const t of [0.5, 1, 2.5]) {
      // ∫_Wc^{T/2} W dσ/dW by Simpson, using the Møller rate's derivative: rate(W) differences
      const n = 400;
      let e = 0;
      const l0 = Math.log(wc);
      const h = (Math.log(t / 2) - l0) / n;
      for (let i = 0; i < n; i++) {
        const wa = Math.exp(l0 + i * h);
        const wb = Math.exp(l0 + (i + 1) * h);
        const dn = mollerInverseMfpMass(CORTICAL_BONE, t, wa) - mollerInverseMfpMass(CORTICAL_BONE, t, wb);
        e += dn * Math.sqrt(wa * wb);
      }
      // midpoint in ln W with 400 bins: 1e-4; the density effect is the same in both, the Bethe restricted form and
      // the Møller cross section are consistent to O(Wc/T) corrections of the Berger–Seltzer L_Δ (< 0.5 %)
      const sum = collisionStoppingMass(CORTICAL_BONE, t, wc) + e;
      expect(rel(sum, collisionStoppingMass(CORTICAL_BONE, t))).toBeLessThan(0.005);
    }
  });
  it('restricted stopping power = restricted collision + soft radiative', () => {
    const c = DEFAULT_MC_CUTOFFS;
    for (const t of [0.01, 0.3, 3]) {
      const sum = collisionStoppingMass(SOFT_TISSUE, t, c.deltaThresholdMeV) + softRadiativeStoppingMass(SOFT_TISSUE, t, c.bremsThresholdMeV);
      expect(restrictedStoppingMass(SOFT_TISSUE, t, c)).toBe(sum);
    }
  });
});

describe('photon mass attenuation vs NIST XCOM without coherent scattering', () => {
  // XCOM (NIST SRD 8, Berger & Hubbell) incoherent + photoelectric [cm2/g], mixture rule over XCOM's element cross
  // sections (the program's own rule) for exactly these compositions: water H2O, cortical bone ICRU 46.
  const XCOM: Record<string, Array<[number, number]>> = {
    water: [
      [0.03, 0.32863],
      [0.05, 0.20757],
      [0.08, 0.17549],
      [0.1, 0.16538],
      [0.5, 0.096646],
      [1, 0.070664],
    ],
    'cortical-bone': [
      [0.03, 1.2401],
      [0.05, 0.38525],
      [0.08, 0.20595],
      [0.1, 0.17433],
      [0.5, 0.089731],
      [1, 0.06554],
    ],
  };
  // Tolerances, from the two known approximations (module header of photon-data.ts), measured per part:
  // - Klein–Nishina for free electrons exceeds XCOM's incoherent (which has the incoherent scattering function) by
  //   9 % at 30 keV, 4 % at 50 keV, 2 % at 80-100 keV, < 0.3 % at 0.5-1 MeV;
  // - the Biggs–Lighthill photoabsorption is 2-6 % below XCOM's photoelectric for O and Ca at 30-100 keV (C: 11 %).
  // They partly cancel; the totals come out 1-3.2 % high at 30-100 keV and within 0.15 % at 0.5-1 MeV, hence 4 % and
  // 0.5 %.
  const tol: Record<number, number> = { 0.03: 0.04, 0.05: 0.04, 0.08: 0.04, 0.1: 0.04, 0.5: 0.005, 1: 0.005 };
  for (const m of [WATER, CORTICAL_BONE]) {
    it(`${m.name} at 30-1000 keV`, () => {
      for (const [e, ref] of XCOM[m.name]) {
        const ours = photonAttenuation(m, e).totalCm2PerG;
        expect(ours).toBeGreaterThan(ref * (1 - 0.01)); // the KN excess dominates: never more than 1 % low
        expect(rel(ours, ref)).toBeLessThan(tol[e]);
      }
    });
  }
  it('photoabsorption of O and Ca within 6 % of XCOM at 30, 80, 100 keV (Biggs–Lighthill vs Scofield; header)', () => {
    // XCOM photoelectric [cm2/g] of the elements (NIST SRD 8)
    const ref: Array<[McMaterial, number, number]> = [
      [material('O', { 8: 1 }, 95, 1.332e-3), 0.03, 0.16411],
      [material('O', { 8: 1 }, 95, 1.332e-3), 0.08, 0.0064966],
      [material('O', { 8: 1 }, 95, 1.332e-3), 0.1, 0.0031106],
      [material('Ca', { 20: 1 }, 191, 1.55), 0.03, 3.7293],
      [material('Ca', { 20: 1 }, 191, 1.55), 0.08, 0.18],
      [material('Ca', { 20: 1 }, 191, 1.55), 0.1, 0.08931],
    ];
    for (const [m, e, want] of ref) expect(rel(photonAttenuation(m, e).photoelectricCm2PerG, want)).toBeLessThan(0.06);
  });
  it('Klein–Nishina: Thomson limit and the 511 keV value 2.8653e-25 cm2 (Evans)', () => {
    expect(rel(kleinNishinaPerElectronCm2(1e-7), (8 / 3) * Math.PI * 2.8179403262e-13 ** 2)).toBeLessThan(1e-5);
    expect(rel(kleinNishinaPerElectronCm2(ELECTRON_MASS_MEV), 2.8653e-25)).toBeLessThan(1e-3);
    // the series below k = 1e-3 joins the closed form
    const k = 1e-3 * ELECTRON_MASS_MEV;
    expect(rel(kleinNishinaPerElectronCm2(k * 0.999999), kleinNishinaPerElectronCm2(k * 1.000001))).toBeLessThan(1e-7);
  });
});
