/**
 * Text of the journal figures: the font and its metrics, the p-value and number formats, and axis labels from
 * column names and the --label/--unit options.
 *
 * One font for both back ends: Helvetica (the PDF's standard Type 1 font; the SVG names Helvetica, Arial and the
 * metric-compatible Liberation Sans). Widths come from Adobe's Helvetica AFM metrics as shipped with pdf-lib, summed
 * without kerning because a PDF text operator (Tj) draws without kerning: a string is then laid out at the width it
 * is drawn at in the PDF. The PDF's standard font encodes WinAnsi (Latin-1 plus typographic quotes and dashes);
 * {@link pdfEncodable} says whether a string can be drawn there.
 */
import { StandardFontEmbedder, StandardFonts } from 'pdf-lib';

/** Font family of the SVG text (Helvetica, or a font with its metrics). */
export const SVG_FONT_FAMILY = 'Helvetica, Arial, Liberation Sans, sans-serif';

/** Helvetica's cap height and descender as fractions of the font size (AFM: CapHeight 718, Descender -207). */
export const CAP_HEIGHT_EM = 0.718;
export const DESCENDER_EM = 0.207;

/**
 * Room left for a substituted font [fraction of a text's Helvetica width]: an SVG viewer without Helvetica or Arial
 * draws with its own sans-serif (DejaVu Sans is about 12 % wider), so blocks that must not run past an edge (legends,
 * tick labels beside an axis) are laid out 15 % wider than Helvetica needs.
 */
export const FONT_SLACK = 1.15;

/** Width [em] used for a character the standard font cannot encode (Helvetica's mean lower-case width). */
const FALLBACK_WIDTH_EM = 0.556;

/** The parts of pdf-lib's standard-font embedder used here (its types come from a package pnpm keeps private). */
interface FontMetrics {
  readonly font: { getWidthOfGlyph(glyphName: string): number };
  readonly encoding: { canEncodeUnicodeCodePoint(cp: number): boolean; encodeUnicodeCodePoint(cp: number): { code: number; name: string } };
}

let embedder: FontMetrics | undefined;
const widthCache = new Map<number, number>();

function helvetica(): FontMetrics {
  embedder ??= StandardFontEmbedder.for(StandardFonts.Helvetica as unknown as Parameters<typeof StandardFontEmbedder.for>[0]) as unknown as FontMetrics;
  return embedder;
}

/** Advance width [em] of one Unicode code point in Helvetica (a fallback width when WinAnsi cannot encode it). */
function charWidthEm(cp: number): number {
  let w = widthCache.get(cp);
  if (w === undefined) {
    const font = helvetica();
    w = font.encoding.canEncodeUnicodeCodePoint(cp) ? font.font.getWidthOfGlyph(font.encoding.encodeUnicodeCodePoint(cp).name) / 1000 : FALLBACK_WIDTH_EM;
    widthCache.set(cp, w);
  }
  return w;
}

/** Width [pt] of `text` set in Helvetica at `sizePt` (sum of the AFM advance widths, no kerning, as a PDF draws it). */
export function textWidthPt(text: string, sizePt: number): number {
  let em = 0;
  for (const ch of text) em += charWidthEm(ch.codePointAt(0)!);
  return em * sizePt;
}

/** The characters of `text` that the PDF's standard Helvetica (WinAnsi) cannot draw; empty when all can. */
export function pdfUnencodable(text: string): string[] {
  const font = helvetica();
  const bad = new Set<string>();
  for (const ch of text) if (!font.encoding.canEncodeUnicodeCodePoint(ch.codePointAt(0)!)) bad.add(ch);
  return [...bad];
}

/** Whether the PDF's standard Helvetica can draw every character of `text`. */
export function pdfEncodable(text: string): boolean {
  return pdfUnencodable(text).length === 0;
}

/**
 * Symbols that often reach figure text (group names such as "dose ≥ 150", labels) written with characters every
 * back end draws: ≥ as ">=", ≤ as "<=", the minus sign as a hyphen-minus. Other characters are kept.
 */
export function plainSymbols(text: string): string {
  return text.replace(/\u2265/g, '>=').replace(/\u2264/g, '<=').replace(/\u2212/g, '-');
}

/**
 * A p-value as journals print it: "p < 0.001" below 0.001; otherwise "p = " with 2 significant digits (trailing
 * zeros dropped: 0.050 -> 0.05), or 3 when 2 would round onto or across 0.05 or 0.01 (0.0496 is "p = 0.0496", never
 * "p = 0.05"); "p > 0.99" above 0.99; "p = n/a" when not finite. Values outside [0, 1] are an error of the caller
 * and print as they are.
 */
export function formatPValue(p: number): string {
  if (!Number.isFinite(p)) return 'p = n/a';
  if (p < 0.001) return 'p < 0.001';
  if (p > 0.99 && p <= 1) return 'p > 0.99';
  let digits = 2;
  const two = Number(p.toPrecision(2));
  for (const threshold of [0.05, 0.01]) if (two === threshold && p !== threshold) digits = 3;
  return `p = ${trimZeros(p.toPrecision(digits))}`;
}

/** "0.050" -> "0.05", "1.0" -> "1", "120" stays. Only fractional zeros are removed. */
function trimZeros(s: string): string {
  return s.includes('.') && !s.includes('e') ? s.replace(/0+$/, '').replace(/\.$/, '') : s;
}

/**
 * A number for figure text with `digits` significant digits, in plain decimal notation (no exponent between 1e-4
 * and 1e6), integers of more digits kept whole: 152.34 -> "152", 0.80123 -> "0.801", 12345 -> "12345".
 */
export function formatNumber(v: number, digits = 3): string {
  if (!Number.isFinite(v)) return 'n/a';
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e6 || a < 1e-4) return v.toExponential(digits - 1);
  if (a >= 10 ** digits) return String(Math.round(v));
  return trimZeros(v.toPrecision(digits));
}

/** A fraction 0..1 with 2 decimals ("0.80"), as AUCs and their CIs are printed. */
export function formatFraction(v: number): string {
  return Number.isFinite(v) ? v.toFixed(2) : 'n/a';
}

/**
 * Tick labels with a common number of decimals, enough for the step between ticks: [0, 0.2, 1] -> "0.0", "0.2",
 * "1.0"; [0, 100, 200] -> "0", "100", "200". Negative values keep their "-".
 */
export function formatTicks(ticks: readonly number[]): string[] {
  if (ticks.length < 2) return ticks.map((t) => formatNumber(t, 4));
  const step = Math.abs(ticks[1] - ticks[0]);
  const decimals = Math.max(0, Math.min(6, -Math.floor(Math.log10(step) + 1e-9)));
  return ticks.map((t) => {
    const s = t.toFixed(decimals);
    return /^-0(\.0*)?$/.test(s) ? s.slice(1) : s;
  });
}

/**
 * Unit suffixes recognised at the end of a column name: camelCase ("doseGy", "pfsMonths", "massG"), snake_case
 * ("dose_gy") or written out ("dose (Gy)", "dose [Gy]"). Keys are the spelling in the name, values the unit printed.
 */
const UNIT_SUFFIXES: ReadonlyArray<readonly [string, string]> = [
  ['GBq', 'GBq'], ['MBq', 'MBq'], ['Gy', 'Gy'], ['Ml', 'mL'], ['Mm', 'mm'], ['Cm', 'cm'], ['Kg', 'kg'], ['G', 'g'],
  ['Months', 'months'], ['Weeks', 'weeks'], ['Days', 'days'], ['Years', 'years'], ['Pct', '%'], ['Percent', '%'],
];

/**
 * Splits a column name into a readable label and its unit, when the name ends in a known unit: "doseGy" ->
 * { label: "dose", unit: "Gy" }, "pfsMonths" -> { "pfs", "months" }, "dose_gy" -> { "dose", "Gy" },
 * "dose (Gy)" -> { "dose", "Gy" }, "response" -> { "response" } (no unit: none is invented).
 */
export function splitColumnUnit(column: string): { label: string; unit?: string } {
  const name = column.trim();
  const bracket = /^(.*\S)\s*[([]\s*([^()[\]]+?)\s*[)\]]$/.exec(name);
  if (bracket) return { label: bracket[1], unit: bracket[2] };
  for (const [spelling, unit] of UNIT_SUFFIXES) {
    // camelCase: the suffix starts with its capital after a lower-case letter or a digit
    if (name.length > spelling.length && name.endsWith(spelling) && /[a-z0-9]/.test(name[name.length - spelling.length - 1])) {
      return { label: name.slice(0, -spelling.length), unit };
    }
    const snake = new RegExp(`^(.*[^_\\s])[_\\s]+${spelling}$`, 'i').exec(name);
    if (snake) return { label: snake[1], unit };
  }
  return { label: name };
}

/**
 * The axis label of a column: --label (default: the column name without its unit suffix) and --unit (default: the
 * unit the column name ends in, none otherwise), written "label [unit]". An empty --unit "" leaves the unit out.
 */
export function axisLabel(opts: { readonly column: string; readonly label?: string; readonly unit?: string }): { text: string; label: string; unit?: string } {
  const split = splitColumnUnit(opts.column);
  const label = opts.label ?? split.label;
  const unit = opts.unit !== undefined ? (opts.unit.trim() || undefined) : split.unit;
  return { text: unit ? `${label} [${unit}]` : label, label, ...(unit ? { unit } : {}) };
}

/** "165 Gy" or "165" without a unit. */
export function withUnit(value: string, unit: string | undefined): string {
  return unit ? `${value} ${unit}` : value;
}
