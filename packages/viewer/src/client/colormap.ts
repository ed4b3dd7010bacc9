/**
 * The dose colormap: a 256-entry RGB table of Turbo, computed once from the published polynomial approximation
 * of Turbo (A. Mikhailov, Google AI Blog 2019, "Turbo, An Improved Rainbow Colormap for Visualization"; the
 * polynomial fit is in the shader gist linked there). Entry i covers doses t = D / Dmax in [i/256, (i+1)/256);
 * its colour is the polynomial at i/255, rounded to 8 bits. Both back ends use this table, so they agree exactly.
 */

const RED = [0.13572138, 4.6153926, -42.66032258, 132.13108234, -152.94239396, 59.28637943];
const GREEN = [0.09140261, 2.19418839, 4.84296658, -14.18503333, 4.27729857, 2.82956604];
const BLUE = [0.1066733, 12.64194608, -60.58204836, 110.36276771, -89.90310912, 27.34824973];

function poly(c: number[], x: number): number {
  return c[0] + x * (c[1] + x * (c[2] + x * (c[3] + x * (c[4] + x * c[5]))));
}

/** Turbo colour of x in [0, 1] (clamped), RGB 0..1 (polynomial approximation, see above). */
export function turbo(x: number): [number, number, number] {
  const t = Math.min(1, Math.max(0, x));
  const f = (c: number[]) => Math.min(1, Math.max(0, poly(c, t)));
  return [f(RED), f(GREEN), f(BLUE)];
}

/** The colormap table: 256 x RGB, 0..255. */
export const COLORMAP: Uint8Array = (() => {
  const t = new Uint8Array(256 * 3);
  for (let i = 0; i < 256; i++) {
    const c = turbo(i / 255);
    for (let k = 0; k < 3; k++) t[3 * i + k] = Math.round(255 * c[k]);
  }
  return t;
})();

/** Table entry of a dose: floor(256 * D / Dmax), clamped to 0..255 (the GPU shader uses the same rule). */
export function colormapIndex(doseGy: number, maxGy: number): number {
  const t = Math.min(1, Math.max(0, doseGy / maxGy));
  return Math.min(255, Math.floor(t * 256));
}

/** Isodose line colours (RGB 0..255), one per level in order. */
export const ISODOSE_COLORS: ReadonlyArray<[number, number, number]> = [
  [255, 255, 255], [255, 0, 255], [0, 255, 255], [255, 255, 0], [255, 128, 0], [128, 255, 128], [160, 160, 255], [255, 160, 160],
];
