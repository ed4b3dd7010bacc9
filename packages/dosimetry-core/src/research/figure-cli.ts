/**
 * The figure options of the research commands (roc, groups, logistic, km) and the writing of their figures:
 * `--figure FILE.svg|FILE.pdf` (repeatable: both formats from one layout), `--svg FILE` (kept: the same as
 * `--figure FILE.svg`), the size in mm (`--width-mm`, default 89 = a journal's single column; 183 double;
 * `--height-mm`), text and line sizes in pt (`--font-pt`, default 7; `--line-pt`, default 0.75), and the label and
 * unit of the command's value axis (`--label`, `--unit`; default from the column name: "doseGy" -> "dose [Gy]").
 * Every file of a run is rendered in memory first and then written together (nothing is written when any fails).
 */
import { resolve } from 'node:path';
import { UsageError } from '../errors.ts';
import { writeFilesAtomic } from '../io/atomic.ts';
import { numberOpt, opt, optAll, type OptionSpec, type ParsedArgs } from '../cli/args.ts';
import { type FigureStyle, checkFigureStyle } from './figures/layout.ts';
import { sceneToPdf } from './figures/pdf.ts';
import type { Scene } from './figures/scene.ts';
import { sceneToSvg } from './figures/svg.ts';

/** Options of a command that writes a figure. */
export const FIGURE_OPTIONS: Record<string, OptionSpec> = {
  svg: { type: 'string' },
  figure: { type: 'string', repeatable: true },
  'width-mm': { type: 'string' },
  'height-mm': { type: 'string' },
  'font-pt': { type: 'string' },
  'line-pt': { type: 'string' },
  label: { type: 'string' },
  unit: { type: 'string' },
  title: { type: 'string' },
};

/** The y-axis title option of the figures whose y axis is not fixed (km: "Survival probability"; logistic). */
export const Y_LABEL_OPTION: Record<string, OptionSpec> = { 'y-label': { type: 'string' } };

/** Help text of the figure options (appended to each command's help). */
export const FIGURE_HELP = `Figure: --figure FILE.svg and/or --figure FILE.pdf (vector; --svg FILE is the same as --figure FILE.svg),
  --width-mm 89 (journal single column; 183 double) [--height-mm H], --font-pt 7, --line-pt 0.75, [--title T],
  --label/--unit: the value axis (default from the column name: "doseGy" -> "dose [Gy]"; no unit unless the name
  or --unit gives one).`;

/** What the figure options ask for: the style, the axis label and unit, and the files. */
export interface FigureRequest {
  readonly files: ReadonlyArray<{ readonly path: string; readonly format: 'svg' | 'pdf' }>;
  readonly style: Partial<FigureStyle>;
  readonly label?: string;
  readonly unit?: string;
  /** --y-label (km, logistic). */
  readonly yLabel?: string;
}

/**
 * Reads the figure options (undefined when no figure is asked for). UsageError for a file that is not .svg or .pdf,
 * a file given twice or equal to an input, out-of-range sizes, or figure options without a figure file.
 */
export function figureRequest(a: ParsedArgs, command: string, inputs: readonly string[]): FigureRequest | undefined {
  const paths = [...(opt(a, 'svg') !== undefined ? [opt(a, 'svg')!] : []), ...optAll(a, 'figure')];
  const styleKeys = ['width-mm', 'height-mm', 'font-pt', 'line-pt', 'label', 'unit', 'title', 'y-label'].filter((k) => opt(a, k) !== undefined);
  if (!paths.length) {
    if (styleKeys.length) throw new UsageError(`${command}: --${styleKeys[0]} shapes the figure: give --figure FILE.svg or --figure FILE.pdf (or leave it out)`);
    return undefined;
  }
  const files = paths.map((p) => {
    if (!p.trim()) throw new UsageError(`${command}: --figure needs a file name ending in .svg or .pdf`);
    const m = /\.(svg|pdf)$/i.exec(p);
    if (!m) throw new UsageError(`${command}: figure file "${p}" must end in .svg or .pdf (the format is taken from the name)`);
    return { path: p, format: m[1].toLowerCase() as 'svg' | 'pdf' };
  });
  const seen = new Set<string>();
  for (const f of files) {
    const r = resolve(f.path);
    if (seen.has(r)) throw new UsageError(`${command}: figure file "${f.path}" is given twice`);
    seen.add(r);
    if (inputs.some((i) => resolve(i) === r)) throw new UsageError(`${command}: figure file "${f.path}" is an input of this run; write the figure elsewhere`);
  }
  const style: Partial<FigureStyle> = {
    ...(opt(a, 'width-mm') !== undefined ? { widthMm: numberOpt(a, 'width-mm', command) } : {}),
    ...(opt(a, 'height-mm') !== undefined ? { heightMm: numberOpt(a, 'height-mm', command) } : {}),
    ...(opt(a, 'font-pt') !== undefined ? { fontPt: numberOpt(a, 'font-pt', command) } : {}),
    ...(opt(a, 'line-pt') !== undefined ? { linePt: numberOpt(a, 'line-pt', command) } : {}),
    ...(opt(a, 'title') !== undefined ? { title: opt(a, 'title') } : {}),
  };
  try {
    checkFigureStyle({ widthMm: 89, fontPt: 7, linePt: 0.75, ...style });
  } catch (err) {
    throw new UsageError(`${command}: ${(err as Error).message}`);
  }
  const label = opt(a, 'label');
  if (label !== undefined && !label.trim()) throw new UsageError(`${command}: --label is empty; give the axis label, e.g. --label "Tumour dose"`);
  const yLabel = opt(a, 'y-label');
  return {
    files, style,
    ...(label !== undefined ? { label } : {}),
    ...(opt(a, 'unit') !== undefined ? { unit: opt(a, 'unit') } : {}),
    ...(yLabel !== undefined ? { yLabel } : {}),
  };
}

/** What was written: every file, the SVG's path (the `svg` key of the JSON output) and the caption. */
export interface WrittenFigure {
  readonly files: string[];
  readonly svg?: string;
  readonly caption: string;
}

/**
 * Lays the figure out once (`build` gets the request's style, label and unit), renders every asked format in
 * memory, then writes all files together; returns what was written.
 */
export async function writeFigures(req: FigureRequest, build: (req: FigureRequest) => Scene): Promise<WrittenFigure> {
  const scene = build(req);
  const out: Array<{ path: string; data: string | Uint8Array }> = [];
  for (const f of req.files) out.push({ path: f.path, data: f.format === 'svg' ? sceneToSvg(scene) : await sceneToPdf(scene) });
  writeFilesAtomic(out);
  const svg = req.files.find((f) => f.format === 'svg')?.path;
  return { files: req.files.map((f) => f.path), ...(svg ? { svg } : {}), caption: scene.caption };
}

/** The JSON keys of a written figure: { svg?, figures, figureCaption } (none without a figure). */
export function figureJson(w: WrittenFigure | undefined): Record<string, unknown> {
  return w ? { ...(w.svg ? { svg: w.svg } : {}), figures: w.files, figureCaption: w.caption } : {};
}
