/**
 * Compressed (encapsulated) DICOM pixel data decoded by a maintained codec: GDCM compiled to WebAssembly, the
 * `read-image-dicom-file-series` pipeline of itk-wasm's DICOM package (@itk-wasm/dicom; libjpeg 8/12/16-bit for JPEG
 * baseline, extended and lossless, CharLS for JPEG-LS, OpenJPEG for JPEG 2000). Our own parser keeps the metadata and
 * the geometry: each frame's fragments are wrapped, alone, in a minimal Part 10 file that holds only the Image Pixel
 * attributes (no Rescale, no geometry, MONOCHROME2), so the codec returns stored values and nothing else; Bits Stored
 * masking and sign extension are then applied as for native data (pixels.ts). All frames of a file (or of a series)
 * go to the codec in one call (`--single-sorted-series` keeps their order), so the WebAssembly module is loaded once.
 *
 * The pipeline runs in Node (runPipelineNode, ./codec-node.ts, the default there) and in the browser (runPipeline on
 * the page's thread, set by the viewer with `setDicomPipelineRunner`). RLE Lossless is decoded by pixels.ts itself;
 * Deflated Explicit VR Little Endian is inflated by the parser.
 *
 * Lossy syntaxes (JPEG baseline/extended, JPEG-LS near-lossless with NEAR > 0, JPEG 2000 with the irreversible 9/7
 * wavelet) are decoded, and the reader says so in a warning (`lossyCompressionOf`).
 */
import { FormatError } from '../../errors.ts';
import type { DicomDataset, DicomFile } from './parser.ts';
import { TAG } from './tags.ts';
import { dataset, writePart10 } from './writer.ts';

/** Encapsulated transfer syntaxes decoded through the codec (PS3.6 annex A), with their names. */
export const CODEC_SYNTAXES: Readonly<Record<string, string>> = {
  '1.2.840.10008.1.2.4.50': 'JPEG Baseline (process 1)',
  '1.2.840.10008.1.2.4.51': 'JPEG Extended (process 2 & 4)',
  '1.2.840.10008.1.2.4.57': 'JPEG Lossless (process 14)',
  '1.2.840.10008.1.2.4.70': 'JPEG Lossless SV1',
  '1.2.840.10008.1.2.4.80': 'JPEG-LS Lossless',
  '1.2.840.10008.1.2.4.81': 'JPEG-LS Near-Lossless',
  '1.2.840.10008.1.2.4.90': 'JPEG 2000 Lossless',
  '1.2.840.10008.1.2.4.91': 'JPEG 2000',
};

/** Compressed syntaxes met in practice that no codec here decodes, for error messages. */
export const UNDECODED_SYNTAXES: Readonly<Record<string, string>> = {
  '1.2.840.10008.1.2.4.201': 'HTJ2K Lossless',
  '1.2.840.10008.1.2.4.202': 'HTJ2K Lossless RPCL',
  '1.2.840.10008.1.2.4.203': 'HTJ2K',
  '1.2.840.10008.1.2.4.100': 'MPEG2',
  '1.2.840.10008.1.2.4.102': 'MPEG-4 AVC/H.264',
};

/** One file handed to the pipeline (itk-wasm's BinaryFile). */
export interface PipelineFile {
  readonly path: string;
  readonly data: Uint8Array;
}

/** What the pipeline returns: itk-wasm's Image, the parts used here. */
export interface PipelineImage {
  readonly imageType: { readonly componentType: string; readonly components: number };
  readonly size: readonly number[];
  readonly data: ArrayLike<number> | null;
}

/**
 * Runs @itk-wasm/dicom's `read-image-dicom-file-series` pipeline on in-memory files with the given arguments; resolves
 * with its return value, stderr and output image. Node: ./codec-node.ts; browser: itk-wasm's runPipeline.
 */
export type DicomPipelineRunner = (args: string[], inputs: readonly PipelineFile[]) => Promise<{ returnValue: number; stderr: string; image?: PipelineImage }>;

let runner: DicomPipelineRunner | undefined;

/** Sets the pipeline runner (the viewer sets the browser one; Node loads ./codec-node.ts when none is set). */
export function setDicomPipelineRunner(r: DicomPipelineRunner | undefined): void {
  runner = r;
}

async function pipelineRunner(): Promise<DicomPipelineRunner> {
  if (runner) return runner;
  const isNode = typeof globalThis.process !== 'undefined' && typeof globalThis.process.versions?.node === 'string';
  if (!isNode) throw new FormatError('compressed DICOM needs the itk-wasm DICOM pipeline, which this page has not loaded; reload the viewer');
  runner = (await import('./codec-node.ts')).runDicomPipelineNode;
  return runner;
}

/** True when pixel data in this transfer syntax goes through the codec. */
export function isCodecSyntax(ts: string): boolean {
  return ts in CODEC_SYNTAXES;
}

/** Whether a frame's compression lost information, and how that is known. */
export interface LossyCompression {
  readonly lossy: boolean;
  /** In words: the syntax and what in the codestream says lossy or lossless. */
  readonly how: string;
}

function findMarker(b: Uint8Array, marker: number, limit = 65536): number {
  for (let i = 0; i + 1 < Math.min(b.length, limit); i++) if (b[i] === 0xff && b[i + 1] === marker) return i;
  return -1;
}

/**
 * Whether the codestream of a frame is lossy: JPEG baseline/extended always; JPEG-LS by its NEAR parameter (in the
 * SOS marker segment, ISO 14495-1 C.2.3: 0 is lossless); JPEG 2000 (.91) always, naming the wavelet of its COD marker
 * segment (ISO 15444-1 A.6.1: 0 = irreversible 9/7; 1 = reversible 5/3, yet lossy when the rate is truncated, which .91
 * allows). Lossless syntaxes (.57, .70, .80, .90, RLE) are lossless by definition.
 */
export function lossyCompressionOf(ts: string, frame: Uint8Array): LossyCompression {
  const name = CODEC_SYNTAXES[ts] ?? ts;
  switch (ts) {
    case '1.2.840.10008.1.2.4.50':
    case '1.2.840.10008.1.2.4.51':
      return { lossy: true, how: `${name} is a lossy (DCT) compression` };
    case '1.2.840.10008.1.2.4.81': {
      const sos = findMarker(frame, 0xda);
      if (sos >= 0 && sos + 5 < frame.length) {
        const ns = frame[sos + 4];
        const near = frame[sos + 5 + 2 * ns];
        if (near === 0) return { lossy: false, how: `${name} with NEAR = 0 (lossless)` };
        if (near !== undefined) return { lossy: true, how: `${name} with NEAR = ${near} (each value within ±${near} of the original)` };
      }
      return { lossy: true, how: `${name} (NEAR parameter not found; taken as lossy)` };
    }
    case '1.2.840.10008.1.2.4.91': {
      const cod = findMarker(frame, 0x52);
      // COD: marker(2) Lcod(2) Scod(1) SGcod: order(1) layers(2) MCT(1) SPcod: levels(1) cbw(1) cbh(1) style(1) wavelet(1)
      const wavelet = cod >= 0 ? frame[cod + 13] : undefined;
      // The reversible 5/3 wavelet is lossless only when the codestream is not truncated (rate control), which the
      // .91 syntax allows; so .91 is always taken as lossy, and the wavelet named.
      if (wavelet === 1) return { lossy: true, how: `${name} with the reversible 5/3 wavelet, whose codestream this syntax may truncate (lossy)` };
      if (wavelet === 0) return { lossy: true, how: `${name} with the irreversible 9/7 wavelet (lossy)` };
      return { lossy: true, how: `${name} (wavelet not found in the codestream; taken as lossy)` };
    }
    default:
      return { lossy: false, how: `${name} (lossless)` };
  }
}

/** Decoded stored values of every frame of a file, by data set (filled by `decodeCompressedFrames`). */
const decoded = new WeakMap<DicomDataset, Array<ArrayLike<number>>>();

/** Stored values of a frame decoded earlier by `decodeCompressedFrames`, or undefined. */
export function decodedFrame(ds: DicomDataset, frame: number): ArrayLike<number> | undefined {
  return decoded.get(ds)?.[frame];
}

/** Largest decoded size handed to one pipeline call [bytes]: bounds the WebAssembly heap (32-bit, 4 GiB at most). */
const MAX_BYTES_PER_CALL = 256 * 2 ** 20;

interface FrameJob {
  readonly ds: DicomDataset;
  readonly frame: number;
  readonly file: PipelineFile;
  readonly what: string;
}

/** Bytes of frame `frame` of encapsulated pixel data (all fragments for one frame; else the offset table or one fragment each). */
export function encapsulatedFrame(fragments: Uint8Array[], offsetTable: Uint32Array | undefined, frame: number, frames: number, what: string): Uint8Array {
  if (frames === 1) return concat(fragments);
  if (offsetTable && offsetTable.length === frames) {
    const byOffset = new Map<number, number>();
    let pos = 0;
    fragments.forEach((f, i) => {
      byOffset.set(pos, i);
      pos += f.length + 8;
    });
    const starts = Array.from(offsetTable, (o) => byOffset.get(o) ?? -1);
    const a = starts[frame];
    const b = frame + 1 < frames ? starts[frame + 1] : fragments.length;
    if (a < 0 || b < 0) throw new FormatError(`${what}: the basic offset table does not match the fragments`);
    return concat(fragments.slice(a, b));
  }
  if (fragments.length !== frames) {
    throw new FormatError(`${what}: ${frames} frames in ${fragments.length} fragments and no basic offset table; cannot find the frames`);
  }
  return fragments[frame];
}

function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** The minimal single-frame Part 10 file that carries one frame to the codec. */
function frameFile(ds: DicomDataset, ts: string, bytes: Uint8Array, index: number): PipelineFile {
  const bitsAllocated = ds.number(TAG.BitsAllocated) ?? 16;
  const bitsStored = ds.number(TAG.BitsStored) ?? bitsAllocated;
  const mini = dataset([
    [TAG.SOPClassUID, '1.2.840.10008.5.1.4.1.1.7'], // Secondary Capture: no module the codec would interpret
    [TAG.SOPInstanceUID, `2.25.${index + 1}`],
    [TAG.SamplesPerPixel, 1],
    // Greyscale photometric interpretation does not change the decoded samples; MONOCHROME2 so nothing is inverted.
    [TAG.PhotometricInterpretation, 'MONOCHROME2'],
    [TAG.Rows, ds.number(TAG.Rows) ?? 0],
    [TAG.Columns, ds.number(TAG.Columns) ?? 0],
    [TAG.BitsAllocated, bitsAllocated],
    [TAG.BitsStored, bitsStored],
    [TAG.HighBit, ds.number(TAG.HighBit) ?? bitsStored - 1],
    [TAG.PixelRepresentation, ds.number(TAG.PixelRepresentation) ?? 0],
  ]);
  mini.set({ tag: TAG.PixelData, vr: 'OB', value: new Uint8Array(0), fragments: [bytes] });
  return { path: `frame-${String(index).padStart(6, '0')}.dcm`, data: writePart10(mini, { transferSyntaxUid: ts }) };
}

/**
 * Decodes the compressed frames of `files` (those in a codec syntax; others are left alone) with the itk-wasm GDCM
 * pipeline, so that `frameStoredValues` finds them. Adds a warning per series when any frame was lossy-compressed.
 * Throws FormatError when the codec cannot decode a frame (the message names the file and the syntax).
 */
export async function decodeCompressedFrames(files: ReadonlyArray<DicomFile & { path: string }>, warnings: string[]): Promise<LossyCompression | undefined> {
  const jobs: FrameJob[] = [];
  let lossy: LossyCompression | undefined;
  let lossless: LossyCompression | undefined;
  for (const f of files) {
    const ts = f.transferSyntaxUid;
    if (!isCodecSyntax(ts) || decoded.has(f.dataset)) continue;
    const el = f.dataset.get(TAG.PixelData);
    if (!el?.fragments) continue;
    const frames = Math.max(1, Math.round(f.dataset.number(TAG.NumberOfFrames) ?? 1));
    const spp = f.dataset.number(TAG.SamplesPerPixel) ?? 1;
    if (spp !== 1) {
      throw new FormatError(`${f.path}: ${spp} samples per pixel (${f.dataset.string(TAG.PhotometricInterpretation) ?? 'colour'}) compressed with ${CODEC_SYNTAXES[ts]}; only greyscale images hold quantitative values`);
    }
    for (let k = 0; k < frames; k++) {
      const bytes = encapsulatedFrame(el.fragments, el.offsetTable, k, frames, `${f.path} frame ${k + 1}`);
      const l = lossyCompressionOf(ts, bytes);
      if (l.lossy) lossy ??= l;
      else lossless ??= l;
      jobs.push({ ds: f.dataset, frame: k, file: frameFile(f.dataset, ts, bytes, jobs.length), what: `${f.path}${frames > 1 ? ` frame ${k + 1}` : ''} (${CODEC_SYNTAXES[ts]}, transfer syntax ${ts})` });
    }
  }
  if (jobs.length === 0) return undefined;
  const run = await pipelineRunner();
  // Calls group frames of one pixel format (the pipeline's output type follows its first file) up to MAX_BYTES_PER_CALL.
  const key = (j: FrameJob) => [TAG.Rows, TAG.Columns, TAG.BitsAllocated, TAG.BitsStored, TAG.PixelRepresentation].map((t) => j.ds.number(t)).join('/');
  let start = 0;
  while (start < jobs.length) {
    const k0 = key(jobs[start]);
    const frameBytes = (jobs[start].ds.number(TAG.Rows) ?? 1) * (jobs[start].ds.number(TAG.Columns) ?? 1) * 8;
    let end = start + 1;
    while (end < jobs.length && key(jobs[end]) === k0 && (end - start + 1) * frameBytes <= MAX_BYTES_PER_CALL) end++;
    await decodeBatch(run, jobs.slice(start, end));
    start = end;
  }
  if (lossy) {
    warnings.push(
      `${files[0].path}${files.length > 1 ? ` (and the rest of its series)` : ''}: pixel data compressed lossily (${lossy.how}); decoded, but the values differ from the scanner's: dose from a lossy-compressed activity image carries that error, so ask for a lossless export when you can`,
    );
  }
  return lossy ?? lossless;
}

async function decodeBatch(run: DicomPipelineRunner, batch: FrameJob[]): Promise<void> {
  const args = ['0', '1', '--memory-io', '--input-images', ...batch.map((j) => j.file.path), '--single-sorted-series'];
  let result: Awaited<ReturnType<DicomPipelineRunner>>;
  try {
    result = await quietly(() => run(args, batch.map((j) => j.file)));
  } catch (err) {
    throw new FormatError(`${batch[0].what}: the pixel data does not decode (GDCM: ${firstLine(err)}); the file is corrupt or uses a codestream variant GDCM rejects`, { cause: err });
  }
  const img = result.image;
  const ds0 = batch[0].ds;
  const rows = ds0.number(TAG.Rows) ?? 0;
  const cols = ds0.number(TAG.Columns) ?? 0;
  const n = rows * cols;
  if (result.returnValue !== 0 || !img?.data || img.imageType.components !== 1 || img.size[0] !== cols || img.size[1] !== rows || img.data.length < n * batch.length) {
    const why = result.returnValue !== 0 ? `GDCM: ${firstLine(result.stderr)}` : !img?.data ? 'no image came back' : `it decoded to ${img.size.join('x')} with ${img.imageType.components} component(s), not ${cols}x${rows}x${batch.length} greyscale`;
    throw new FormatError(`${batch[0].what}: the pixel data does not decode (${why}); the file is corrupt or uses a codestream variant GDCM rejects`);
  }
  const data = img.data;
  for (let b = 0; b < batch.length; b++) {
    const j = batch[b];
    // a view of the codec's typed array (no copy: a CT series is hundreds of MB in float64)
    const sub = (data as { subarray?: (a: number, b: number) => ArrayLike<number> }).subarray;
    const out = sub ? sub.call(data, b * n, (b + 1) * n) : Float64Array.from({ length: n }, (_, i) => data[b * n + i]);
    let list = decoded.get(j.ds);
    if (!list) decoded.set(j.ds, (list = []));
    list[j.frame] = out;
  }
}

/**
 * Runs `f` with console.log/error/warn muted: the emscripten module prints the codec's messages (e.g. libjpeg's
 * "Unsupported JPEG data precision 12" before GDCM retries with its 12-bit build) and itk-wasm its exceptions to the
 * console; the pipeline's stderr comes back in its result, and the engine's stderr must hold only its own lines.
 */
async function quietly<T>(f: () => Promise<T>): Promise<T> {
  const saved = { log: console.log, error: console.error, warn: console.warn };
  const mute = () => undefined;
  console.log = mute;
  console.error = mute;
  console.warn = mute;
  try {
    return await f();
  } finally {
    console.log = saved.log;
    console.error = saved.error;
    console.warn = saved.warn;
  }
}

function firstLine(x: unknown): string {
  const s = x instanceof Error ? x.message : String(x);
  return s.split('\n').map((l) => l.trim()).filter((l) => l && !/^Unsupported JPEG data precision/.test(l))[0] ?? 'no message';
}
