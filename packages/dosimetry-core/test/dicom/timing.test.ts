/**
 * Scan delay from DICOM timing (scanDelayFromDicom): hand-computed delays from stated clock times, and the warnings
 * when the delay cannot be read.
 */
import { describe, expect, it } from 'vitest';
import { dicomDateTime, dicomDT, scanDelayFromDicom, type DicomSeriesMeta } from '../../src/io/dicom/index.ts';

type Emission = NonNullable<DicomSeriesMeta['emission']>;

function ptMeta(e: Partial<Emission>, units = 'BQML'): DicomSeriesMeta {
  return {
    modality: 'PT',
    sopClassUid: '1.2.840.10008.5.1.4.1.1.128',
    seriesInstanceUid: '2.25.1',
    patient: {},
    study: {},
    instances: [],
    units,
    activityUnit: units === 'BQML' ? 'bq-per-ml' : 'counts',
    rescale: { applied: false, slope: [1, 1], intercept: [0, 0] },
    emission: { correctedImage: ['DECY'], note: '', ...e },
    transferSyntaxUid: '1.2.840.10008.1.2.1',
    instanceCount: 1,
    sliceCount: 1,
    warnings: [],
  };
}

/** 90Y half-life in seconds (64.05 h, the value of units/index.ts, from ENSDF). */
const Y90_HALF_LIFE_S = 64.05 * 3600;

describe('scanDelayFromDicom', () => {
  // Delays by hand: 2024-01-01 15:00 to 2024-01-02 09:00 is 18 h; to 09:30:36 is 18.51 h.
  const inj = dicomDT('20240101150000');
  const series = dicomDateTime('20240102', '090000');
  const acq = dicomDateTime('20240102', '093036');
  it.each([
    ['START: series time - start', 'START', 18],
    ['NONE: acquisition time - start', 'NONE', 18.51],
    ['ADMIN: already at the administration', 'ADMIN', 0],
  ] as const)('%s', (_n, dc, hours) => {
    const r = scanDelayFromDicom(ptMeta({ decayCorrection: dc, injectionDateTime: inj, seriesDateTime: series, acquisitionDateTime: acq, halfLifeS: Y90_HALF_LIFE_S }), 'Y90');
    expect(r.applies).toBe(true);
    // Clock times are exact to the second: 1e-9 h is float round-off.
    expect(r.scanDelayH).toBeCloseTo(hours, 9);
    expect(r.warning).toBeUndefined();
    expect(r.source).toContain(dc);
  });

  it('explains why the delay cannot be read, and says which option to give', () => {
    const cases: Array<[Partial<Emission>, RegExp]> = [
      [{ decayCorrection: 'START', seriesDateTime: series }, /no Radiopharmaceutical Start/],
      [{ injectionDateTime: inj, seriesDateTime: series }, /Decay Correction \(0054,1102\) is missing/],
      [{ decayCorrection: 'START', injectionDateTime: dicomDT('20240103000000'), seriesDateTime: series }, /before the radiopharmaceutical start/],
      [{ decayCorrection: 'NONE', injectionDateTime: inj }, /no Acquisition Date\/Time/],
    ];
    for (const [e, re] of cases) {
      const r = scanDelayFromDicom(ptMeta(e), 'Y90');
      expect(r.scanDelayH).toBeUndefined();
      expect(r.warning).toMatch(re);
      expect(r.warning).toMatch(/--scan-delay-h/);
    }
  });

  it('warns when the file decay corrected with another nuclide (18F: 109.77 min)', () => {
    const r = scanDelayFromDicom(ptMeta({ decayCorrection: 'START', injectionDateTime: inj, seriesDateTime: series, halfLifeS: 109.77 * 60 }), 'Y90');
    expect(r.scanDelayH).toBeCloseTo(18, 9);
    expect(r.warning).toMatch(/Half Life is 1\.83?\d* h, but Y90 has 64\.05 h/);
    // 166Ho (26.8 h) against a 90Y file.
    expect(scanDelayFromDicom(ptMeta({ decayCorrection: 'ADMIN', halfLifeS: Y90_HALF_LIFE_S }), 'Ho166').warning).toMatch(/Ho166 has 26\.8 h/);
  });

  it('does not apply to counts images or non-emission series', () => {
    expect(scanDelayFromDicom(ptMeta({ decayCorrection: 'START' }, 'CNTS'), 'Y90').applies).toBe(false);
    const ct = { ...ptMeta({}), modality: 'CT', emission: undefined };
    expect(scanDelayFromDicom(ct, 'Y90').applies).toBe(false);
  });
});
