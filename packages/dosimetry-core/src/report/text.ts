/**
 * Text for the PDF report: transliteration into what the PDF standard fonts can show, and the rounding rules the
 * report states on its first page.
 *
 * The report uses the PDF standard 14 fonts (Helvetica, Courier), which pdf-lib encodes in WinAnsi (Windows-1252,
 * PDF 32000-1:2008 Annex D.2): Latin-1 plus a few typographic marks. Characters outside it would make pdf-lib throw,
 * so every string goes through {@link makeTransliterator} first: mathematical signs become ASCII (">=" for "≥"),
 * Greek letters their names ("lambda"), sub- and superscript digits plain digits, accented letters outside the set
 * their base letter, and anything else "?" (never dropped: a character that cannot be shown is still counted).
 */

/**
 * Replacements for characters outside WinAnsi that occur in the engine's own text (warnings, descriptions) or in
 * clinical names. Applied before the fallbacks (NFKD decomposition, then "?").
 */
export const TRANSLITERATIONS: Readonly<Record<string, string>> = {
  '≥': '>=', '≤': '<=', '≠': '!=', '≈': '~', '∼': '~', '→': '->', '←': '<-', '↔': '<->', '⇒': '=>',
  '−': '-', '‐': '-', '‑': '-', '‒': '-', '∓': '-/+', '∞': 'inf', '√': 'sqrt', '∑': 'sum', '∫': 'int',
  '⋅': '·', '∙': '·', '′': "'", '″': '"', '✓': 'ok', '✗': 'x',
  'μ': 'µ', // Greek mu (U+03BC) -> micro sign (U+00B5, in WinAnsi): "μm" and "µm" read the same
  'α': 'alpha', 'β': 'beta', 'γ': 'gamma', 'δ': 'delta', 'Δ': 'Delta', 'ε': 'epsilon', 'η': 'eta', 'θ': 'theta',
  'λ': 'lambda', 'ν': 'nu', 'π': 'pi', 'ρ': 'rho', 'σ': 'sigma', 'Σ': 'Sigma', 'τ': 'tau', 'φ': 'phi', 'χ': 'chi',
  'ψ': 'psi', 'ω': 'omega', 'Ω': 'Omega',
  '⁰': '0', '⁴': '4', '⁵': '5', '⁶': '6', '⁷': '7', '⁸': '8', '⁹': '9', '⁺': '+', '⁻': '-',
  '₀': '0', '₁': '1', '₂': '2', '₃': '3', '₄': '4', '₅': '5', '₆': '6', '₇': '7', '₈': '8', '₉': '9', '₊': '+', '₋': '-',
  '\u2009': ' ', '\u202f': ' ', '\u2007': ' ', '\u200b': '', '\ufeff': '',
};

/** Replacement for a character that neither the font nor any rule can show. */
export const UNSHOWABLE = '?';

/**
 * A function that rewrites text into characters of `supported` (Unicode code points the font can encode, e.g.
 * pdf-lib's `font.getCharacterSet()`): control characters (tab, newline) become spaces, then per character the
 * character itself, a {@link TRANSLITERATIONS} entry, its NFKD decomposition without combining marks ("ő" -> "o",
 * "ﬁ" -> "fi"), or {@link UNSHOWABLE}.
 */
export function makeTransliterator(supported: ReadonlySet<number>): (text: string) => string {
  const cache = new Map<string, string>();
  const showable = (s: string) => [...s].every((c) => supported.has(c.codePointAt(0)!));
  const one = (ch: string): string => {
    const cp = ch.codePointAt(0)!;
    if (cp < 0x20 || cp === 0x7f || (cp >= 0x80 && cp < 0xa0)) return ' ';
    if (supported.has(cp)) return ch;
    const known = TRANSLITERATIONS[ch];
    if (known !== undefined && showable(known)) return known;
    const base = ch.normalize('NFKD').replace(/\p{M}/gu, '');
    if (base !== '' && base !== ch && showable(base)) return base;
    return UNSHOWABLE;
  };
  return (text: string) => {
    let out = '';
    for (const ch of text) {
      let t = cache.get(ch);
      if (t === undefined) cache.set(ch, (t = one(ch)));
      out += t;
    }
    return out;
  };
}

/**
 * A number rounded to `digits` decimals as the report prints it (JavaScript's toFixed); "-" for null, undefined or a
 * non-finite value; a negative number that rounds to zero prints without its sign ("0.0", not "-0.0").
 */
export function fixed(x: unknown, digits: number): string {
  if (typeof x !== 'number' || !Number.isFinite(x)) return '-';
  const s = x.toFixed(digits);
  return /^-0(\.0+)?$/.test(s) ? s.slice(1) : s;
}

/** A fraction (0..1) as a percentage with `digits` decimals, without the % sign ("-" when absent). */
export function percent(x: unknown, digits: number): string {
  return typeof x === 'number' && Number.isFinite(x) ? fixed(100 * x, digits) : '-';
}

/**
 * The rounding the report applies, stated on its first page so that every printed number can be traced to
 * report.json: digits after the decimal point per quantity.
 */
export const REPORT_ROUNDING = {
  /** Prescribed, ordered and territory activities [GBq]. */
  activityGBq: 3,
  /** Structure activities [GBq] (small lesions hold a few MBq). */
  structureActivityGBq: 4,
  /** Absorbed doses, BED, limits [Gy]. */
  doseGy: 1,
  /** Volumes [mL] and masses [g]. */
  volumeMl: 1,
  massG: 1,
  /** V100/V150/V205 as % of the volume. */
  vPercent: 1,
  /** Lung shunt fraction as %. */
  lsfPercent: 2,
} as const;

/** The rounding rules in words, as printed in the report. */
export function roundingNote(): string {
  const r = REPORT_ROUNDING;
  return (
    `Rounding: activities ${r.activityGBq} decimals (structure activities ${r.structureActivityGBq}) in GBq, doses ${r.doseGy} decimal in Gy, ` +
    `volumes ${r.volumeMl} decimal in mL, masses ${r.massG} decimal in g, V-values ${r.vPercent} decimal in % of the volume, ` +
    `lung shunt fraction ${r.lsfPercent} decimals in %. The unrounded values are in report.json.`
  );
}

/**
 * A camelCase report key as words with its unit in brackets: "calibrationActivityGBq" -> "calibration activity
 * [GBq]", "treatmentAfterCalibrationH" -> "treatment after calibration [h]". Unknown keys are split into words.
 */
export function keyLabel(key: string): string {
  const unit = keyUnit(key);
  const stem = unit ? key.slice(0, key.length - unit.suffix.length) : key;
  const words = stem
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .replace(/_/g, ' ')
    .trim();
  const text = words.replace(/(^|\s)([A-Z])(?=[a-z])/g, (_, s: string, c: string) => s + c.toLowerCase());
  if (unit && text === '') return unit.unit;
  return unit ? `${text} [${unit.unit}]` : text;
}

/** Unit suffixes of report keys (longest first), how they print, and the decimals of generic tables. */
const KEY_UNITS: ReadonlyArray<{ suffix: string; unit: string; digits: number }> = [
  { suffix: 'GyPerGBq', unit: 'Gy/GBq', digits: 2 },
  { suffix: 'GBq', unit: 'GBq', digits: REPORT_ROUNDING.activityGBq },
  { suffix: 'MBq', unit: 'MBq', digits: 1 },
  { suffix: 'Bq', unit: 'Bq', digits: 0 },
  { suffix: 'Gy', unit: 'Gy', digits: REPORT_ROUNDING.doseGy },
  { suffix: 'Ml', unit: 'mL', digits: REPORT_ROUNDING.volumeMl },
  { suffix: 'Mm', unit: 'mm', digits: 1 },
  { suffix: 'Um', unit: 'µm', digits: 1 },
  { suffix: 'M2', unit: 'm²', digits: 2 },
  { suffix: 'Kg', unit: 'kg', digits: 1 },
  { suffix: 'Cm', unit: 'cm', digits: 1 },
  { suffix: 'G', unit: 'g', digits: REPORT_ROUNDING.massG },
  { suffix: 'H', unit: 'h', digits: 2 },
  { suffix: 'Percent', unit: '%', digits: 1 },
];

/** The unit suffix of a camelCase key ("activityGBq" -> GBq), when the key ends in one after a lower-case letter. */
function keyUnit(key: string): { suffix: string; unit: string; digits: number } | undefined {
  return KEY_UNITS.find(({ suffix }) =>
    (key.length > suffix.length && key.endsWith(suffix) && /[a-z0-9]/.test(key[key.length - suffix.length - 1])) ||
    key === suffix.charAt(0).toLowerCase() + suffix.slice(1), // the key is the unit itself ("gyPerGBq")
  );
}

/** Digits after the decimal point for a number stored under `key` (by its unit suffix), for generic tables. */
export function digitsForKey(key: string): number | undefined {
  const u = keyUnit(key);
  if (u) return u.digits;
  if (/(Fraction|Factor)$/.test(key)) return 4;
  return undefined;
}

/** A value of a report field as text: numbers by the key's unit (else up to 6 significant digits), booleans yes/no. */
export function valueText(key: string, v: unknown): string {
  if (v === null || v === undefined) return '-';
  if (typeof v === 'number') {
    const d = digitsForKey(key);
    if (d !== undefined) return fixed(v, d);
    if (Number.isInteger(v)) return String(v);
    return Number.isFinite(v) ? String(Number(v.toPrecision(6))) : '-';
  }
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  if (typeof v === 'string') return v;
  if (Array.isArray(v) && v.every((x) => x === null || typeof x !== 'object')) return v.map((x) => valueText(key, x)).join(', ');
  return JSON.stringify(v);
}
