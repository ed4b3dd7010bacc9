/**
 * The device catalogue (src/plan/catalogue.ts, data in catalogue-data.ts): the built-in values against the numbers
 * of the sources it cites, every number with a source, strict validation of a site's file, the weekly calibration
 * schedule across daylight-saving changes (instants worked out by hand from the US rules), and the usable windows.
 */
import { describe, expect, it } from 'vitest';
import { FormatError, InputError, UsageError } from '../../src/errors.ts';
import { CATALOGUE_DATA } from '../../src/plan/catalogue-data.ts';
import { catalogueDevice, DEVICE_CATALOGUE, parseCatalogueJson, validateCatalogue } from '../../src/plan/catalogue.ts';
import { CALIBRATION_WINDOWS, DEVICE_PRESETS } from '../../src/plan/devices.ts';
import { checkUsableWindow, latestWeeklyCalibration, resolveCalibration, zonedWallTimeToUtcMs } from '../../src/plan/schedule.ts';

const clone = () => JSON.parse(JSON.stringify(CATALOGUE_DATA));

describe('built-in device catalogue', () => {
  const { glass, resin, ho166 } = DEVICE_CATALOGUE.devices;

  it('holds the sourced values: stock sizes, vial, per-sphere activity, diameters, isotopes', () => {
    expect(glass).toMatchObject({ product: 'TheraSphere', isotope: 'Y90', vial: { kind: 'stock', sizesGBq: [3, 5, 7, 10, 15, 20] } });
    expect(glass.activityPerSphereAtCalibrationBq.value).toBe(2500);
    expect(glass.sphereDiameterUm).toMatchObject({ mean: 25, min: 20, max: 30 });
    expect(resin).toMatchObject({ product: 'SIR-Spheres', isotope: 'Y90', vial: { kind: 'draw', vialGBq: 3 }, calibration: { kind: 'label' } });
    expect(resin.activityPerSphereAtCalibrationBq.value).toBe(50);
    expect(ho166).toMatchObject({ product: 'QuiremSpheres', isotope: 'Ho166', vial: { kind: 'per-patient' }, calibration: { kind: 'at-treatment' } });
    // 200-400 Bq per sphere at treatment (NICE TA985): the chosen value lies inside the range
    expect(ho166.activityPerSphereAtCalibrationBq.value).toBeGreaterThanOrEqual(200);
    expect(ho166.activityPerSphereAtCalibrationBq.value).toBeLessThanOrEqual(400);
    expect(ho166.scoutActivityGBq?.value).toBe(0.25);
    // 1.2 million glass spheres per 3 GBq and 40-80 million resin spheres per 3 GBq (the cited tables)
    expect(3e9 / glass.activityPerSphereAtCalibrationBq.value).toBe(1.2e6);
    const resinSpheres = 3e9 / resin.activityPerSphereAtCalibrationBq.value;
    expect(resinSpheres).toBeGreaterThanOrEqual(40e6);
    expect(resinSpheres).toBeLessThanOrEqual(80e6);
    // the isotope of each catalogue entry is the one of the EANM presets
    for (const d of ['glass', 'resin', 'ho166'] as const) expect(DEVICE_CATALOGUE.devices[d].isotope).toBe(DEVICE_PRESETS[d].isotope);
  });

  it('gives every number a source, says where a number is not confirmed and which value was chosen where sources disagree', () => {
    const sources: string[] = [];
    const walk = (x: unknown) => {
      if (x && typeof x === 'object') for (const [k, v] of Object.entries(x)) (k === 'source' ? sources.push(String(v)) : walk(v));
    };
    walk(DEVICE_CATALOGUE.devices);
    expect(sources.length).toBe(3 * 6 + 1); // vial, calibration, window, per sphere, diameter, embolic load; the 166Ho scout
    for (const s of sources) expect(s.length).toBeGreaterThan(20);
    // every source names a year (publication or access), or says that the value is not confirmed or a project choice
    for (const s of sources) expect(s).toMatch(/(19|20)\d\d|NOT confirmed|project choice/);
    expect(glass.calibration.source).toMatch(/NOT confirmed/);
    expect(resin.activityPerSphereAtCalibrationBq.source).toMatch(/disagree.*44 \+- 2\.6 million.*Chosen: 50 Bq/);
  });

  it('keeps the calibration windows of devices.ts (before calibration) and adds their end', () => {
    expect(CALIBRATION_WINDOWS).toMatchObject({
      glass: { maxBeforeCalibrationH: 0, maxAfterCalibrationH: 288 },
      resin: { maxBeforeCalibrationH: 24, maxAfterCalibrationH: 24 },
      ho166: { maxBeforeCalibrationH: 0, maxAfterCalibrationH: 24 },
    });
  });
});

describe('a catalogue that fails validation is refused with the field and the fix', () => {
  const bad: Array<[string, (d: any) => void, RegExp]> = [
    ['negative vial size', (d) => (d.devices.glass.vial.sizesGBq[2] = -5), /devices\.glass\.vial\.sizesGBq\[2\] is -5: give a number above 0 GBq/],
    ['unsorted sizes', (d) => (d.devices.glass.vial.sizesGBq = [3, 7, 5]), /sizesGBq\[2\] \(5\) does not follow 7: list the vial sizes once each, in ascending order/],
    ['missing source', (d) => delete d.devices.resin.activityPerSphereAtCalibrationBq.source, /devices\.resin\.activityPerSphereAtCalibrationBq\.source is missing/],
    ['empty source', (d) => (d.devices.resin.vial.source = ''), /devices\.resin\.vial\.source is "": every number needs its source/],
    ['misspelt field', (d) => ((d.devices.glass.vial.sizesGbq = [3]), delete d.devices.glass.vial.sizesGBq), /devices\.glass\.vial\.sizesGbq is not a field of the catalogue/],
    ['wrong isotope', (d) => (d.devices.ho166.isotope = 'Y90'), /devices\.ho166\.isotope is "Y90": ho166 uses Ho166/],
    ['unknown zone', (d) => (d.devices.glass.calibration.timeZone = 'Mars/Olympus'), /"Mars\/Olympus" is not a time zone/],
    ['bad time of day', (d) => (d.devices.glass.calibration.timeOfDay = '24:00'), /timeOfDay is "24:00": give the local time as HH:MM/],
    ['window excluding calibration', (d) => (d.devices.resin.usableWindow.fromCalibrationH = 5), /fromCalibrationH is 5: give a number from -168 h to 0 h/],
    ['zero per-sphere activity', (d) => (d.devices.ho166.activityPerSphereAtCalibrationBq.value = 0), /activityPerSphereAtCalibrationBq\.value is 0/],
    ['unknown device', (d) => (d.devices.plastic = d.devices.glass), /devices\.plastic is not a device: use glass, resin, ho166/],
    ['schema version', (d) => (d.schemaVersion = 2), /schemaVersion is 2/],
    ['per-patient calibration on a stock vial', (d) => (d.devices.glass.calibration = { kind: 'at-treatment', source: 'a source text, 2024' }), /"at-treatment" is only for per-patient orders/],
  ];
  it.each(bad)('%s', (_, edit, msg) => {
    const d = clone();
    edit(d);
    expect(() => validateCatalogue(d, 'site.json')).toThrow(FormatError);
    expect(() => validateCatalogue(d, 'site.json')).toThrow(msg);
    // one line, naming the catalogue
    try {
      validateCatalogue(d, 'site.json');
    } catch (err) {
      expect((err as Error).message).toMatch(/^device catalogue site\.json: /);
      expect((err as Error).message).not.toMatch(/\n/);
    }
  });

  it('a complete catalogue is required without a base; a site file may replace some devices only', () => {
    const d = clone();
    delete d.devices.resin;
    expect(() => validateCatalogue(d, 'partial')).toThrow(/devices\.resin is missing/);
    const site = { schemaVersion: 1, devices: { resin: { ...clone().devices.resin, activityPerSphereAtCalibrationBq: { value: 68, source: 'Sirtex product page (undated): 44 million spheres per 3 GBq vial' } } } };
    const c = parseCatalogueJson(JSON.stringify(site), '/sites/a.json');
    expect(c.devices.resin.activityPerSphereAtCalibrationBq.value).toBe(68);
    expect(c.devices.glass).toBe(DEVICE_CATALOGUE.devices.glass);
    expect(c.name).toBe('/sites/a.json (resin; the rest built-in)');
    expect(() => parseCatalogueJson('{ "schemaVersion": 1, ', 'broken.json')).toThrow(/device catalogue broken\.json is not valid JSON/);
  });

  it('an unknown device is an InputError', () => {
    expect(() => catalogueDevice('plastic' as never)).toThrow(InputError);
  });
});

describe('weekly calibration schedule (glass: Sunday 12:00 America/New_York)', () => {
  const rule = DEVICE_CATALOGUE.devices.glass.calibration as Extract<typeof DEVICE_CATALOGUE.devices.glass.calibration, { kind: 'weekly' }>;
  // US daylight saving 2025: from Sunday 9 March 02:00 EST to Sunday 2 November 02:00 EDT.
  // Noon EST = 17:00 UTC, noon EDT = 16:00 UTC.
  const cases: Array<[string, string, string]> = [
    ['Wednesday after the spring change', '2025-03-12T15:00:00Z', '2025-03-09T16:00:00.000Z'],
    ['Sunday 11:00 EDT, before noon: the Sunday before (still EST)', '2025-03-09T15:00:00Z', '2025-03-02T17:00:00.000Z'],
    ['Sunday noon EDT exactly', '2025-03-09T16:00:00Z', '2025-03-09T16:00:00.000Z'],
    ['Saturday in winter', '2025-01-18T23:00:00Z', '2025-01-12T17:00:00.000Z'],
    ['Tuesday after the autumn change', '2025-11-04T14:00:00Z', '2025-11-02T17:00:00.000Z'],
    ['Monday 01:00 UTC = Sunday 21:00 EDT', '2025-06-16T01:00:00Z', '2025-06-15T16:00:00.000Z'],
  ];
  it.each(cases)('%s', (_, tx, cal) => {
    expect(latestWeeklyCalibration(rule, new Date(tx)).toISOString()).toBe(cal);
  });
  it('wall time to UTC in other zones, with the offset of the day', () => {
    expect(new Date(zonedWallTimeToUtcMs(2025, 7, 1, 9, 0, 'Europe/Amsterdam')).toISOString()).toBe('2025-07-01T07:00:00.000Z');
    expect(new Date(zonedWallTimeToUtcMs(2025, 1, 1, 9, 0, 'Europe/Amsterdam')).toISOString()).toBe('2025-01-01T08:00:00.000Z');
    expect(new Date(zonedWallTimeToUtcMs(2025, 1, 1, 9, 0, 'Australia/Sydney')).toISOString()).toBe('2024-12-31T22:00:00.000Z');
  });
});

describe('calibration rules and usable windows', () => {
  const d = DEVICE_CATALOGUE.devices;
  it('resin needs the label time; ho166 is calibrated at the treatment; a given time wins', () => {
    const tx = new Date('2025-03-12T15:00:00Z');
    expect(() => resolveCalibration(d.resin, tx)).toThrow(UsageError);
    expect(() => resolveCalibration(d.resin, tx)).toThrow(/give --calibration-time with --treatment-time/);
    expect(resolveCalibration(d.ho166, tx).calibrationTime).toBe(tx);
    const given = new Date('2025-03-10T00:00:00Z');
    expect(resolveCalibration(d.glass, tx, given)).toMatchObject({ calibrationTime: given, source: /given/ });
  });
  it('refuses outside the window with one line naming both times and the window', () => {
    const cal = new Date('2025-03-09T16:00:00Z');
    const h = (x: number) => new Date(cal.getTime() + x * 3.6e6);
    expect(checkUsableWindow(d.glass, cal, h(288)).treatmentAfterCalibrationH).toBe(288);
    expect(() => checkUsableWindow(d.glass, cal, h(288.5))).toThrow(
      /^the treatment time 2025-03-21T16:30:00\.000Z is 12\.0 days after the calibration time 2025-03-09T16:00:00\.000Z, outside the usable window of TheraSphere \(from the calibration time to 12\.0 days after it: /,
    );
    expect(() => checkUsableWindow(d.glass, cal, h(-0.5))).toThrow(/0\.5 h BEFORE the vial's calibration time 2025-03-09T16:00:00\.000Z: glass is not given before its calibration time/);
    expect(checkUsableWindow(d.resin, cal, h(-24)).warnings[0]).toMatch(/24\.0 h BEFORE.*accepted for resin within 24 h/);
    expect(() => checkUsableWindow(d.resin, cal, h(24.1))).toThrow(/24\.1 h after the calibration time.*SIR-Spheres \(from 24\.0 h before calibration to 24\.0 h after it/);
    expect(() => checkUsableWindow(d.ho166, cal, h(25))).toThrow(InputError);
  });
});
