/**
 * Siemens mosaics: an MR (EPI, DWI, fMRI) or emission image whose one stored frame holds N slices tiled side by side in
 * a grid. Read as a plain image it becomes one big slice with a wrong geometry, so the volume reader refuses it (a
 * converter that knows the CSA header, e.g. dcm2niix, un-tiles it).
 *
 * Evidence, any of:
 *   - Image Type (0008,0008) holds the value MOSAIC (Siemens writes it on every mosaic);
 *   - Number Of Images In Mosaic (0019,xx0A) > 1, in the "SIEMENS MR HEADER" private block (PS3.5 7.8.1: the block xx
 *     is the one whose private creator (0019,00xx) names it; without any creator, block 10 is taken);
 *   - Acquisition Matrix Text (0051,xx0B, same private creator), e.g. "64p*64", whose matrix fits into Columns x Rows
 *     as a grid of at least 3 x 3 whole tiles. A grid of 2 x 2 is not taken as evidence alone: an image interpolated to
 *     twice its acquired matrix looks the same (SPM notes that the text alone is not a reliable tile size).
 */
import type { DicomDataset } from './parser.ts';
import { TAG } from './tags.ts';

const SIEMENS_MR_HEADER = 'SIEMENS MR HEADER';

/** The tag of element `low` (0x00-0xFF) of the "SIEMENS MR HEADER" private block in `group`, if the data set has it. */
function siemensPrivateTag(ds: DicomDataset, group: number, low: number): number | undefined {
  let any = false;
  for (let block = 0x10; block <= 0xff; block++) {
    const creator = ds.string(((group << 16) | block) >>> 0);
    if (creator === undefined) continue;
    any = true;
    if (creator.toUpperCase() === SIEMENS_MR_HEADER) return ((group << 16) | (block << 8) | low) >>> 0;
  }
  if (!any) {
    const tag = ((group << 16) | 0x1000 | low) >>> 0;
    return ds.has(tag) ? tag : undefined;
  }
  return undefined;
}

/** A small unsigned count stored as US (explicit), or as 2 bytes of UN (implicit VR), or as text. */
function privateCount(ds: DicomDataset, tag: number): number | undefined {
  const el = ds.get(tag);
  if (!el || el.value.length === 0) return undefined;
  if (el.vr === 'US' || ((el.vr === 'UN' || el.vr === 'OB') && el.value.length === 2)) {
    const dv = new DataView(el.value.buffer, el.value.byteOffset, 2);
    return dv.getUint16(0, ds.littleEndian);
  }
  const n = Number(ds.string(tag));
  return Number.isFinite(n) ? n : undefined;
}

/**
 * Why `ds` is a Siemens mosaic, in words (e.g. "Image Type ORIGINAL\PRIMARY\M\MOSAIC"), or undefined when nothing says
 * it is one.
 */
export function mosaicEvidence(ds: DicomDataset): string | undefined {
  const imageType = ds.strings(TAG.ImageType);
  if (imageType.some((v) => v.toUpperCase() === 'MOSAIC')) return `Image Type ${imageType.join('\\')}`;
  const nTag = siemensPrivateTag(ds, 0x0019, 0x0a);
  const n = nTag === undefined ? undefined : privateCount(ds, nTag);
  if (n !== undefined && n > 1) return `Number Of Images In Mosaic (0019,100A) ${n}`;
  const mTag = siemensPrivateTag(ds, 0x0051, 0x0b);
  const text = mTag === undefined ? undefined : ds.string(mTag);
  const m = text === undefined ? null : /^\s*(\d+)[a-z]*\s*\*\s*(\d+)/i.exec(text);
  const rows = ds.number(TAG.Rows);
  const cols = ds.number(TAG.Columns);
  if (m && rows && cols) {
    const a = Number(m[1]);
    const b = Number(m[2]);
    // the text lists phase x read or read x phase; try both against Columns x Rows
    for (const [mc, mr] of [[a, b], [b, a]]) {
      if (mc > 0 && mr > 0 && cols % mc === 0 && rows % mr === 0 && cols / mc >= 3 && rows / mr >= 3) {
        return `Acquisition Matrix Text (0051,100B) "${text}": ${cols}x${rows} pixels are ${cols / mc}x${rows / mr} tiles of ${mc}x${mr}`;
      }
    }
  }
  return undefined;
}
