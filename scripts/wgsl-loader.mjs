/**
 * Lets plain Node (`node --import tsx --import ./scripts/wgsl-loader.mjs file.ts`) import WGSL sources as text,
 * the way Vite does: `import src from '../../shaders/ldm.wgsl?raw'` gives the file's content as a string.
 * The resolve/load hooks live in ./wgsl-loader-hooks.mjs (Node module customization hooks, node:module register).
 */
import { register } from 'node:module';

register('./wgsl-loader-hooks.mjs', import.meta.url);
