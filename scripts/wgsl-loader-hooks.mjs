/**
 * Node module customization hooks (registered by ./wgsl-loader.mjs): a specifier ending in `.wgsl?raw` resolves
 * to the file beside the importing module and loads as `export default "<file text>"`. Everything else passes on.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const RAW_WGSL = /\.wgsl\?raw$/;

export async function resolve(specifier, context, nextResolve) {
  if (RAW_WGSL.test(specifier)) {
    return { url: new URL(specifier, context.parentURL).href, format: 'module', shortCircuit: true };
  }
  return nextResolve(specifier, context);
}

export async function load(url, context, nextLoad) {
  if (RAW_WGSL.test(url)) {
    const file = new URL(url);
    file.search = '';
    const text = await readFile(fileURLToPath(file), 'utf8');
    return { format: 'module', source: `export default ${JSON.stringify(text)};\n`, shortCircuit: true };
  }
  return nextLoad(url, context);
}
