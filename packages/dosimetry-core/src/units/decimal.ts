/**
 * Strict parsing of a number written by a person (a command-line option, a CSV cell, a label value): a plain decimal
 * number only. JavaScript's Number() also reads "0x10" as 16, "0b1" and "0o7", and an empty or blank string as 0;
 * a value typed with a decimal comma ("5,5") must never become something else. Surrounding spaces are trimmed.
 */

/** A plain decimal: optional sign, digits with an optional decimal point, optional exponent ("-1.5", ".5", "2e-3"). */
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** Why {@link parseDecimal} refused a text, in words for an error message ("" when it is a plain decimal). */
export function decimalProblem(text: string): string {
  const t = text.trim();
  if (t === '') return 'it is empty';
  if (/^[+-]?\d+,\d+$/.test(t)) return `it has a decimal comma; write ${t.replace(',', '.')} with a decimal point`;
  if (/^[+-]?0[xXbBoO]/.test(t)) return 'hexadecimal, binary and octal are not accepted; write a plain decimal number';
  if (!DECIMAL.test(t)) return 'it is not a plain decimal number';
  if (!Number.isFinite(Number(t))) return 'it is beyond the range of a double-precision number';
  return '';
}

/**
 * The finite value of a plain decimal number (spaces around it trimmed), or undefined for anything else: empty,
 * hexadecimal/binary/octal, a decimal comma, "Infinity", "NaN", digit separators, or a value that overflows.
 */
export function parseDecimal(text: string): number | undefined {
  const t = text.trim();
  if (!DECIMAL.test(t)) return undefined;
  const n = Number(t);
  return Number.isFinite(n) ? n : undefined;
}
