/**
 * The Node runner of @itk-wasm/dicom's `read-image-dicom-file-series` pipeline (GDCM in WebAssembly), on in-memory
 * files (memory IO: nothing is written to disk). Loaded by codec.ts only in Node; the browser sets its own runner.
 * itk-wasm's Node entry loads the module on every call, so codec.ts hands it all frames of a series at once.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DicomPipelineRunner, PipelineImage } from './codec.ts';

let pipelinePath: string | undefined;

/** Path of the pipeline (emscripten .js beside its .wasm.zst) inside the installed @itk-wasm/dicom. */
function dicomPipelinePath(): string {
  if (pipelinePath) return pipelinePath;
  // The package's "node" export is dist/index-node.js; its pipelines sit in dist/pipelines/.
  const entry = createRequire(fileURLToPath(import.meta.url)).resolve('@itk-wasm/dicom');
  pipelinePath = join(dirname(entry), 'pipelines', 'read-image-dicom-file-series');
  return pipelinePath;
}

/** Runs the pipeline with runPipelineNode (itk-wasm's Node entry); the image output is the first. */
export const runDicomPipelineNode: DicomPipelineRunner = async (args, inputs) => {
  // Namespace import: the browser entry of itk-wasm has no runPipelineNode, and bundlers must not resolve it there.
  const itk = (await import('itk-wasm')) as unknown as {
    runPipelineNode: (p: string, a: string[], o: Array<{ type: string }>, i: Array<{ type: string; data: unknown }>) => Promise<{ returnValue: number; stderr: string; outputs: Array<{ data: unknown }> }>;
    InterfaceTypes: { Image: string; JsonCompatible: string; BinaryFile: string };
  };
  const T = itk.InterfaceTypes;
  const r = await itk.runPipelineNode(
    dicomPipelinePath(),
    args,
    [{ type: T.Image }, { type: T.JsonCompatible }],
    inputs.map((f) => ({ type: T.BinaryFile, data: { path: f.path, data: f.data } })),
  );
  return { returnValue: r.returnValue, stderr: r.stderr, image: r.outputs[0]?.data as PipelineImage | undefined };
};
