/**
 * The browser runner of @itk-wasm/dicom's `read-image-dicom-file-series` pipeline (GDCM in WebAssembly): itk-wasm's
 * runPipeline on the page's thread (webWorker: false), the pipeline fetched from `pipelinesBaseUrl` (the viewer serves
 * the package's dist/pipelines under /itk/dicom/). Set with codec.ts `setDicomPipelineRunner` before reading.
 */
import { InterfaceTypes, runPipeline } from 'itk-wasm';
import type { DicomPipelineRunner, PipelineImage } from './codec.ts';

/** A runner that loads the pipeline from `pipelinesBaseUrl` (absolute URL of the folder holding its .js and .wasm.zst). */
export function browserDicomPipelineRunner(pipelinesBaseUrl: string): DicomPipelineRunner {
  return async (args, inputs) => {
    const r = await runPipeline(
      'read-image-dicom-file-series',
      args,
      [{ type: InterfaceTypes.Image }, { type: InterfaceTypes.JsonCompatible }],
      inputs.map((f) => ({ type: InterfaceTypes.BinaryFile, data: { path: f.path, data: f.data } })),
      { pipelineBaseUrl: pipelinesBaseUrl, webWorker: false },
    );
    return { returnValue: r.returnValue, stderr: r.stderr, image: r.outputs[0]?.data as unknown as PipelineImage | undefined };
  };
}
