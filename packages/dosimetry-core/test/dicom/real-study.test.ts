import { describe, expect, it } from 'vitest';
import { isDicomPath, readDicomSegmentation, readDicomVolume } from '../../src/io/dicom/index.ts';
import { HAS_STUDY, STUDY, warnNoStudy } from './helpers.ts';

warnNoStudy();

describe.skipIf(!HAS_STUDY)('real MAA study (../shared/data/dicom-maa-study)', () => {
  it('reads the multi-frame NM SPECT with its detector geometry', async () => {
    expect(isDicomPath(`${STUDY}NM`)).toBe(true);
    const { volume, meta } = await readDicomVolume(`${STUDY}NM`);
    const g = volume.geometry;
    // README: 128x128x80 at 4.795 mm.
    expect(g.dims).toEqual([128, 128, 80]);
    for (const s of g.spacingMm) expect(s).toBeCloseTo(4.795, 3);
    // Axial, nearly identity orientation (the stored cosines are within 0.01 of it).
    [1, 0, 0, 0, 1, 0, 0, 0, 1].forEach((v, i) => expect(Math.abs(g.direction[i] - v)).toBeLessThan(0.01));
    expect(meta.modality).toBe('NM');
    expect(meta.activityUnit).toBe('counts');
    expect(meta.emission?.acquisitionDateTime).toBeDefined();
    let sum = 0;
    for (const v of volume.data) sum += v;
    expect(sum).toBeGreaterThan(0);
  });

  it('reads the CT series sorted by position, in HU', async () => {
    const { volume, meta } = await readDicomVolume(`${STUDY}CT`);
    expect(volume.geometry.dims).toEqual([512, 512, 78]);
    expect(volume.geometry.spacingMm[0]).toBeCloseTo(0.977, 3);
    expect(volume.geometry.spacingMm[2]).toBeCloseTo(5, 6);
    expect(meta.units).toBe('HU');
    // Slices advance along +z (normal of an axial IOP): the origin is the lowest slice.
    expect(volume.geometry.direction[8]).toBe(1);
    // Air around the patient: a large share of voxels near -1000 HU; nothing below the -1024 padding.
    let air = 0, min = Infinity, max = -Infinity;
    for (const v of volume.data) {
      if (v > -1050 && v < -950) air++;
      if (v < min) min = v;
      if (v > max) max = v;
    }
    expect(air / volume.data.length).toBeGreaterThan(0.2);
    expect(min).toBeGreaterThanOrEqual(-1024);
    expect(max).toBeLessThan(5000);
  });

  it('lists both series when given the whole study, and picks one by UID or modality', async () => {
    await expect(readDicomVolume(STUDY)).rejects.toThrow(/2 image series.*CT.*NM|2 image series.*NM.*CT/);
    const ct = await readDicomVolume(STUDY, { modality: 'CT' });
    const nm = await readDicomVolume(STUDY, { seriesUid: (await readDicomVolume(`${STUDY}NM`)).meta.seriesInstanceUid });
    expect(ct.meta.modality).toBe('CT');
    expect(nm.meta.modality).toBe('NM');
    expect(ct.meta.frameOfReferenceUid).toBe(nm.meta.frameOfReferenceUid);
  });

  it('rasterises the RTSTRUCT onto the NM grid: ROI names, non-empty masks in the field of view', async () => {
    const nm = await readDicomVolume(`${STUDY}NM`);
    const masks = await readDicomSegmentation(`${STUDY}RTSTRUCT`, { referenceGrid: nm.volume.geometry });
    const names = masks.map((m) => m.name);
    for (const n of ['Lung', 'Tumor', 'Aorta', 'Esophagus']) expect(names).toContain(n);
    const mlPerVoxel = nm.volume.geometry.spacingMm.reduce((a, b) => a * b, 1) / 1000;
    const vol = (o: Uint8Array) => (o.reduce((s, v) => s + v, 0) / 255) * mlPerVoxel;
    for (const m of masks) expect(vol(m.occupancy), m.name).toBeGreaterThan(0);
    // The same ROI on the CT grid (contours on its slices) and on the NM grid agree: 2% (partial volume of 4.8 mm voxels).
    const lungNm = vol(masks[names.indexOf('Lung')].occupancy);
    const onOwn = await readDicomSegmentation(`${STUDY}RTSTRUCT`, { spacingMm: [1, 1, 5] });
    const l = onOwn.find((m) => m.name === 'Lung')!;
    const lungOwn = (l.occupancy.reduce((s, v) => s + v, 0) / 255) * 5 / 1000;
    expect(Math.abs(lungNm - lungOwn) / lungOwn).toBeLessThan(0.02);
    // Adult lungs: between 1 and 8 L (a sanity range, not a reference value).
    expect(lungOwn).toBeGreaterThan(1000);
    expect(lungOwn).toBeLessThan(8000);
  });
});
