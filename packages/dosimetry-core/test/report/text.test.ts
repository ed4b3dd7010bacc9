/**
 * Report text: transliteration into the standard fonts' WinAnsi set (checked against pdf-lib's own Helvetica
 * character set and by pdf-lib encoding the result without error), rounding, key labels.
 */
import { PDFDocument, StandardFonts } from 'pdf-lib';
import { beforeAll, describe, expect, it } from 'vitest';
import { digitsForKey, fixed, keyLabel, makeTransliterator, percent, valueText } from '../../src/report/text.ts';

let clean: (s: string) => string;
let encode: (s: string) => void;
beforeAll(async () => {
  const pdf = await PDFDocument.create();
  const font = await pdf.embedFont(StandardFonts.Helvetica);
  clean = makeTransliterator(new Set(font.getCharacterSet()));
  encode = (s) => void font.encodeText(s);
});

describe('transliteration into WinAnsi', () => {
  it.each([
    ['tumour ≥ 205 Gy, normal ≤ 75 Gy', 'tumour >= 205 Gy, normal <= 75 Gy'],
    ['µ stays µ', 'µ stays µ'], // U+00B5 is in WinAnsi
    ['μm (Greek mu)', 'µm (Greek mu)'],
    ['⁹⁰Y and ₁₆₆Ho', '90Y and 166Ho'],
    ['m² and cm³ stay', 'm² and cm³ stay'], // superscripts 2 and 3 are in Latin-1
    ['λ = ln 2 / T½', 'lambda = ln 2 / T½'],
    ['ρ = (HU + 1000) / 1000', 'rho = (HU + 1000) / 1000'],
    ['A → B, −5 %', 'A -> B, -5 %'],
    ['Ødegård Zoë Müller – “quoted” …', 'Ødegård Zoë Müller – “quoted” …'], // all WinAnsi
    ['Dvořák, Łukasz, ő', 'Dvorák, ?ukasz, o'], // ř, ő decompose (á is WinAnsi); Ł has no decomposition
    ['ﬁle', 'file'],
    ['山田^太郎', '??^??'],
    ['a\tb\nc\u0000d', 'a b c d'],
    ['emoji 😀 counted once', 'emoji ? counted once'],
  ])('%s', (input, want) => {
    const got = clean(input);
    expect(got).toBe(want);
    expect(() => encode(got)).not.toThrow();
  });

  it('the raw strings would not encode (so the transliteration is needed)', () => {
    expect(() => encode('≥ 205 Gy')).toThrow();
    expect(() => encode('山田')).toThrow();
  });
});

describe('rounding and labels', () => {
  it('fixed and percent round as toFixed, without a sign on a rounded zero', () => {
    expect(fixed(204.99999704675355, 1)).toBe('205.0');
    expect(fixed(1.7526785736103447, 3)).toBe('1.753');
    expect(fixed(-0.01, 1)).toBe('0.0');
    expect(fixed(-0.06, 1)).toBe('-0.1');
    expect(fixed(null, 1)).toBe('-');
    expect(fixed(NaN, 1)).toBe('-');
    expect(percent(0.030121375790129686, 2)).toBe('3.01');
    expect(percent(undefined, 2)).toBe('-');
  });

  it('key labels carry the unit of the key', () => {
    expect(keyLabel('calibrationActivityGBq')).toBe('calibration activity [GBq]');
    expect(keyLabel('treatmentAfterCalibrationH')).toBe('treatment after calibration [h]');
    expect(keyLabel('meanGyPerGBq')).toBe('mean [Gy/GBq]');
    expect(keyLabel('massG')).toBe('mass [g]');
    expect(keyLabel('gyPerGBq')).toBe('Gy/GBq');
    expect(keyLabel('volumeMl')).toBe('volume [mL]');
    expect(keyLabel('decayFactor')).toBe('decay factor');
    expect(keyLabel('vial')).toBe('vial');
    expect(keyLabel('spheresPerVialMillion')).toBe('spheres per vial million');
    expect(digitsForKey('deliveredGBq')).toBe(3);
    expect(digitsForKey('lungGy')).toBe(1);
    expect(digitsForKey('decayFactor')).toBe(4);
    expect(digitsForKey('count')).toBeUndefined();
    expect(valueText('deliveredGBq', 2.0004)).toBe('2.000');
    expect(valueText('spheres', 1234567)).toBe('1234567');
    expect(valueText('ratio', 1 / 3)).toBe('0.333333');
    expect(valueText('ok', true)).toBe('yes');
    expect(valueText('names', ['a', 'b'])).toBe('a, b');
  });
});
