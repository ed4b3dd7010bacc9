/**
 * `--seg-dicom` of `dose` and `plan` (../shared/CONTRACT.md "Additions": `--seg-dicom` writes DIR/structures.seg.dcm):
 * the reported structures (those of structures.seg.nrrd, derived normal liver, whole liver and split lesions
 * included) as a DICOM SEG on the dose grid (src/io/dicom/seg-write.ts), in the patient, study and Frame of Reference
 * of the DICOM inputs and referencing their instances.
 *
 * Segmentation Type: `--seg-dicom-type auto` (default) writes FRACTIONAL (8-bit probability, the partial-volume
 * weights the statistics used) when any structure has a voxel partly inside (the default `--mask-mode fractional`
 * with masks finer than the dose grid, RTSTRUCT contours), else BINARY; `binary` writes the voxels at least half
 * inside (the voxels of structures.seg.nrrd); `fractional` always writes the weights.
 */
import { join } from 'node:path';
import { UsageError } from '../../errors.ts';
import type { DoseCaseResult } from '../../dose/pipeline.ts';
import type { DicomSegType, EncodeDicomSegOptions, RtDoseFrameOfReference } from '../../io/dicom/index.ts';
import type { DicomSeriesMeta } from '../../io/dicom/volume.ts';
import { opt, type OptionSpec, type ParsedArgs } from '../args.ts';

/** Options of `dose` and `plan` for the DICOM SEG output. */
export const SEG_DICOM_OPTIONS: Record<string, OptionSpec> = {
  'seg-dicom': { type: 'flag' },
  'seg-dicom-type': { type: 'string' },
};

/** Help lines of the options. */
export const SEG_DICOM_HELP = `  [--seg-dicom [--seg-dicom-type auto|binary|fractional]]  also DIR/structures.seg.dcm: the reported structures
                      (derived ones included) as a DICOM SEG referencing the DICOM inputs; auto: FRACTIONAL when a
                      structure has partial-volume weights, else BINARY`;

/** File name in the output folder. */
export const SEG_DICOM_NAME = 'structures.seg.dcm';

/** What `caseOutputs` needs to write structures.seg.dcm. */
export interface SegDicomRequest {
  /** Undefined: auto. */
  readonly segmentationType?: DicomSegType;
  readonly options: EncodeDicomSegOptions;
}

/**
 * The SEG request of a command line, or undefined without `--seg-dicom`; `warnings` says when the SEG starts a new
 * study with placeholder patient fields (no DICOM input gives the patient and study).
 */
export async function segDicomFromArgs(
  a: ParsedArgs,
  command: string,
  inputs: { readonly activity?: DicomSeriesMeta; readonly ct?: DicomSeriesMeta; readonly identity?: RtDoseFrameOfReference },
): Promise<{ request?: SegDicomRequest; warnings: string[] }> {
  const typeText = opt(a, 'seg-dicom-type');
  if (!a.flags.has('seg-dicom')) {
    if (typeText !== undefined) throw new UsageError(`${command}: --seg-dicom-type applies to the DICOM SEG output: give it with --seg-dicom`);
    return { warnings: [] };
  }
  const t = (typeText ?? 'auto').toLowerCase();
  if (t !== 'auto' && t !== 'binary' && t !== 'fractional') throw new UsageError(`${command}: --seg-dicom-type must be auto, binary or fractional, not "${typeText}"`);
  const { dicomSegSourcesFrom } = await import('../../io/dicom/index.ts');
  const warnings: string[] = [];
  const identity = inputs.identity;
  if (!identity?.studyInstanceUid) {
    warnings.push(
      `${SEG_DICOM_NAME}: no input is DICOM, so the DICOM SEG starts a new study with a new Frame of Reference and empty (placeholder) patient name, ID, birth date and sex; fill them in before storing it in a PACS, or give the DICOM images with --activity/--ct`,
    );
  }
  return {
    request: {
      segmentationType: t === 'auto' ? undefined : (t.toUpperCase() as DicomSegType),
      options: { identity, sources: dicomSegSourcesFrom(inputs.activity, inputs.ct) },
    },
    warnings,
  };
}

/** structures.seg.dcm of a computed case: every reported structure, with its role and whether the engine derived it. */
export async function segDicomFile(outDir: string, result: DoseCaseResult, request: SegDicomRequest): Promise<{ path: string; data: Uint8Array }> {
  const { encodeDicomSeg } = await import('../../io/dicom/index.ts');
  const structures = result.gridStructures.map((g, i) => {
    const r = result.structures[i];
    const derived = r.origin.startsWith('derived') || r.lesionOf !== undefined;
    return {
      name: r.name,
      voxelIndices: g.voxelIndices,
      weights: g.weights,
      role: r.role,
      derived,
      description: derived ? (r.lesionOf !== undefined ? `connected lesion of ${r.lesionOf}` : r.origin) : undefined,
      ...(g.colorRgb ? { colorRgb: g.colorRgb } : {}),
    };
  });
  const seg = encodeDicomSeg(result.dose.geometry, structures, { ...request.options, segmentationType: request.segmentationType });
  return { path: join(outDir, SEG_DICOM_NAME), data: seg.bytes };
}
