/**
 * Writes the liver phantom cases (see phantom.ts) with their known answers:
 *   out/liver/activity_bqml.nii.gz             90Y activity at implant [Bq/mL], canonical LPS grid
 *   out/liver/activity_bqml_ras.nii.gz         the same voxels stored with flipped x and y (RAS-like storage)
 *   out/liver/activity_bqml_permuted.nrrd      the same voxels with permuted + flipped index axes (NRRD)
 *   out/liver/activity_bqml_scan24h.nii.gz     the activity 24 h after implant (use --scan-delay-h 24)
 *   out/liver/activity_counts.nrrd             a SPECT-like counts image (integer counts, relative calibration)
 *   out/liver/ct_hu.nii.gz                     CT [HU] on its own finer grid (2 mm)
 *   out/liver/segmentation.seg.nrrd            3D Slicer segmentation: layer 0 Liver, Lungs; layer 1 Tumor A..D
 *   out/liver/liver_lungs_labels.nii.gz        the same as label maps: 1=Liver, 2=Lungs ...
 *   out/liver/tumors_labels.nrrd               ... and 1=Tumor A, 2=Tumor B, 3=Tumor C, 4=Tumor D
 *   out/liver/expected.json                    the analytic answers (LDM, no CT) and the phantom's parameters
 * Run: pnpm phantoms [--out DIR]
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFileAtomic } from '../../packages/dosimetry-core/src/io/atomic.ts';
import { encodeNifti, encodeNrrd, encodeSegNrrd } from '../../packages/dosimetry-core/src/io/index.ts';
import type { Geometry } from '../../packages/dosimetry-core/src/volume/geometry.ts';
import {
  activityGeometry, activityImage, ctImage, expectedAnswers, regionMap, REGIONS, segmentationMasks, LUNG_STRUCTURE,
} from './phantom.ts';

export const PHANTOM_GENERATOR_VERSION = 1;
/** Sensitivity of the simulated SPECT [counts per Bq at implant]. */
export const COUNTS_PER_BQ = 2e-3;

export async function generatePhantoms(opts: { outDir: string; log?: (m: string) => void }): Promise<string> {
  const log = opts.log ?? ((m: string) => process.stderr.write(`  ${m}\n`));
  const dir = join(opts.outDir, 'liver');
  const g = activityGeometry('lps');
  const regions = regionMap(g);
  log(`activity grid ${g.dims.join('x')} at ${g.spacingMm.join(' x ')} mm`);
  const act = activityImage(g, regions);
  writeFileAtomic(join(dir, 'activity_bqml.nii.gz'), encodeNifti({ geometry: g, data: act }, { description: '90Y activity at implant, Bq/mL' }));
  for (const [name, orient] of [['activity_bqml_ras.nii.gz', 'ras-flipped'], ['activity_bqml_permuted.nrrd', 'permuted']] as const) {
    const go = activityGeometry(orient);
    const data = activityImage(go, regionMap(go));
    const vol = { geometry: go, data };
    writeFileAtomic(join(dir, name), name.endsWith('.nrrd') ? encodeNrrd(vol) : encodeNifti(vol, { description: '90Y activity at implant, Bq/mL' }));
  }
  writeFileAtomic(join(dir, 'activity_bqml_scan24h.nii.gz'), encodeNifti({ geometry: g, data: activityImage(g, regions, { isotope: 'Y90', scanDelayH: 24 }) }, { description: '90Y activity 24 h after implant, Bq/mL' }));
  writeFileAtomic(join(dir, 'activity_counts.nrrd'), encodeNrrd({ geometry: g, data: activityImage(g, regions, { countsPerBq: COUNTS_PER_BQ }) }));
  log('CT on a 2 mm grid');
  const ctGrid: Geometry = { dims: [154, 136, 144], spacingMm: [2, 2, 2], originLpsMm: [-153, -135, -143], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] };
  writeFileAtomic(join(dir, 'ct_hu.nii.gz'), encodeNifti({ geometry: ctGrid, data: ctImage(ctGrid) }, { description: 'CT, HU' }));
  log('segmentation (3D Slicer .seg.nrrd and label maps)');
  const masks = segmentationMasks(g, regions);
  const layers = masks.map((m) => ({ mask: m, layer: m.name === 'Liver' || m.name === LUNG_STRUCTURE ? 0 : 1, labelValue: 0 }));
  let next = [0, 0];
  for (const l of layers) l.labelValue = ++next[l.layer];
  writeFileAtomic(join(dir, 'segmentation.seg.nrrd'), encodeSegNrrd(layers));
  const fine = masks[0].geometry;
  const labelMap = (names: string[]) => {
    const out = new Uint8Array(fine.dims[0] * fine.dims[1] * fine.dims[2]);
    names.forEach((name, l) => {
      const m = masks.find((x) => x.name === name)!;
      for (let n = 0; n < out.length; n++) if (m.occupancy[n]) out[n] = l + 1;
    });
    return { geometry: fine, data: out };
  };
  writeFileAtomic(join(dir, 'liver_lungs_labels.nii.gz'), encodeNifti(labelMap(['Liver', LUNG_STRUCTURE]), { description: '1=Liver,2=Lungs' }));
  writeFileAtomic(join(dir, 'tumors_labels.nrrd'), encodeNrrd(labelMap(['Tumor A', 'Tumor B', 'Tumor C', 'Tumor D'])));
  const expected = {
    generatorVersion: PHANTOM_GENERATOR_VERSION,
    description: 'Liver phantom: uniform compartments voxelised on the activity grid; answers exact for LDM without CT',
    ldm: { Y90: expectedAnswers(g, regions, 'Y90'), Ho166: expectedAnswers(g, regions, 'Ho166') },
    countsPerBq: COUNTS_PER_BQ,
    regions: REGIONS.map((r) => ({ name: r.name, role: r.role, activityBqPerMl: r.activityBqPerMl, hu: r.hu, centreMm: r.shape.centreMm, semiAxesMm: r.shape.semiAxesMm })),
  };
  // top-level copy of the Y90 answers for convenience
  writeFileAtomic(join(dir, 'expected.json'), JSON.stringify({ ...expected, ...expected.ldm.Y90 }, null, 2) + '\n');
  log(`wrote ${dir}`);
  return dir;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const i = process.argv.indexOf('--out');
  const out = i > 0 ? process.argv[i + 1] : fileURLToPath(new URL('./out', import.meta.url));
  await generatePhantoms({ outDir: out });
}
