/**
 * The device catalogue shipped with the core: vials, calibration, usable window and microspheres of the three devices,
 * every number with its source. Plain data in the JSON shape that src/plan/catalogue.ts validates on load (the same
 * validator reads a site's own catalogue file, `plan --device-catalogue FILE.json`, whose entries replace these).
 *
 * Sources were looked up in the public literature (reviews, regulators' summaries, manufacturers' pages). Where a
 * number could not be confirmed there, its `source` says so in capitals (NOT confirmed) and names where it comes from;
 * where sources disagree, it says which value was chosen and why. Half-lives are not here: they come from src/units
 * (../shared/PHYSICS.md), so that vial decay and dose use the same constants.
 */
export const CATALOGUE_DATA: unknown = {
  schemaVersion: 1,
  name: 'built-in (dosimetry-core 2026-12)',
  devices: {
    glass: {
      product: 'TheraSphere',
      manufacturer: 'Boston Scientific (formerly BTG, MDS Nordion)',
      isotope: 'Y90',
      vial: {
        kind: 'stock',
        sizesGBq: [3, 5, 7, 10, 15, 20],
        source:
          'TheraSphere package insert (USA, BTG, rev. 12; FDA copy received 2014-09-24): "available in six dose sizes: 3, 5, 7, 10, 15 and 20 GBq"; the same list in World J Hepatol 2015;7:738, Table 1. The whole vial is given (glass spheres are not drawn in parts). Custom sizes between the stock ones exist but their steps were NOT confirmed in the sources searched: add them to a site catalogue (--device-catalogue) if ordered',
      },
      calibration: {
        kind: 'weekly',
        weekday: 'Sunday',
        timeOfDay: '12:00',
        timeZone: 'America/New_York',
        source:
          'TheraSphere vials state their activity at a weekly calibration reference time before the treatment week: Sunday 12:00 Eastern Time as recalled from the TheraSphere package insert, NOT confirmed in the sources searched; the vial label is authoritative: give --calibration-time when it differs',
      },
      usableWindow: {
        fromCalibrationH: 0,
        toCalibrationH: 288,
        source:
          'from the calibration time (a treatment before it means swapped or mistyped times: refused, project choice) to 12 days (288 h) after it: the shelf life after calibration as recalled from the TheraSphere package insert, NOT confirmed in the sources searched',
      },
      activityPerSphereAtCalibrationBq: {
        value: 2500,
        source:
          'about 2500 Bq per sphere at calibration, 1.2 million spheres per 3 GBq (Sangro et al. table reproduced in Hepatic Oncology 2014;1:265, Table 3, and World J Hepatol 2015;7:738, Table 1). Reinders et al. (Cardiovasc Intervent Radiol 2019;42:1240, Table 4) give 1250-2500 Bq: the lower values are spheres used days after calibration, which this engine obtains by decaying 2500 Bq to the treatment time. Chosen: 2500 Bq at calibration',
      },
      sphereDiameterUm: {
        mean: 25,
        min: 20,
        max: 30,
        source: 'TheraSphere package insert (2014): mean sphere diameter 20-30 um; average 25 um (World J Hepatol 2015;7:738, Table 1)',
      },
      embolicLoad: {
        note: 'mild embolic effect: few, high-activity spheres (TheraSphere acts by radiation, not embolisation)',
        source: 'Hepatic Oncology 2014;1:265, Table 3 ("embolic effect: mild")',
      },
      scoutActivityGBq: null,
    },
    resin: {
      product: 'SIR-Spheres',
      manufacturer: 'Sirtex Medical',
      isotope: 'Y90',
      vial: {
        kind: 'draw',
        vialGBq: 3,
        source:
          'one vial size: 3.0 GBq +- 10 % of 90Y at the calibration date and time in 5 mL water for injection (Sirtex product page "About SIR-Spheres", undated; Selwyn et al., Med Phys 2008, doi:10.1118/1.2889621: "labeled by the manufacturer as 3.0 GBq +- 10 %"); the prescribed activity is drawn from it (World J Hepatol 2015;7:738, Table 1: "3 (can be divided)")',
      },
      calibration: {
        kind: 'label',
        source:
          'SIR-Spheres vials state 3 GBq at the calibration date and time on their label (Sirtex product page, undated; Selwyn et al., Med Phys 2008); a fixed calibration schedule was NOT confirmed in the sources searched, so the time is taken from the label (--calibration-time), never assumed',
      },
      usableWindow: {
        fromCalibrationH: -24,
        toCalibrationH: 24,
        source:
          'from 24 h before calibration (vials are commonly implanted on the calibration day before the calibration hour; accepted with a warning, project choice kept from CALIBRATION_WINDOWS) to 24 h after it: the shelf life as recalled from the SIR-Spheres IFU, NOT confirmed in the sources searched',
      },
      activityPerSphereAtCalibrationBq: {
        value: 50,
        source:
          'about 50 Bq per sphere, 40-80 million spheres per 3 GBq (Hepatic Oncology 2014;1:265, Table 3; World J Hepatol 2015;7:738, Table 1; Reinders et al., Cardiovasc Intervent Radiol 2019;42:1240, Table 4: 50 Bq). The sources disagree: Sirtex\'s product page (undated) gives 44 +- 2.6 million spheres per 3 GBq vial, i.e. 68 Bq per sphere. Chosen: 50 Bq, the value the reviews agree on; sphere counts from it are 36 % higher than from Sirtex\'s count (a site may set 68 in its own catalogue)',
      },
      sphereDiameterUm: {
        mean: 32.5,
        min: 20,
        max: 60,
        source: 'World J Hepatol 2015;7:738, Table 1: 20-60 um, average 32.5 um; Sirtex product page (undated): 32 +- 10 um',
      },
      embolicLoad: {
        note: 'moderate embolic effect: tens of millions of spheres; near-stasis in the feeding artery can stop the infusion before the whole activity is given, and an older vial (drawn after calibration) gives more spheres for the same activity',
        source: 'Hepatic Oncology 2014;1:265, Table 3 ("embolic effect: moderate"); World J Hepatol 2015;7:738, Table 1',
      },
      scoutActivityGBq: null,
    },
    ho166: {
      product: 'QuiremSpheres',
      manufacturer: 'Quirem Medical (Terumo)',
      isotope: 'Ho166',
      vial: {
        kind: 'per-patient',
        source: 'supplied as a customised, patient-specific dose (NICE technology appraisal TA985, 2024, section 2.1): the activity is ordered for the patient',
      },
      calibration: {
        kind: 'at-treatment',
        source:
          'the patient-specific activity is ordered for the planned treatment time (NICE TA985, 2024: "at the moment of treatment, the activity per microsphere is 200 to 400 Bq"); a different calibration time on the label is given with --calibration-time',
      },
      usableWindow: {
        fromCalibrationH: 0,
        toCalibrationH: 24,
        source:
          'not before the calibration time (the ordered activity would be lower than at calibration: refused, conservative project choice) and within 24 h after it (166Ho loses 46 % in a day): project choice, no shelf life was confirmed in the sources searched',
      },
      activityPerSphereAtCalibrationBq: {
        value: 300,
        source:
          '200-400 Bq per sphere at the moment of treatment (NICE TA985, 2024, from the company; Reinders et al., Cardiovasc Intervent Radiol 2019;42:1240, Table 4: 200-400 Bq, 33 million spheres per 600 mg). Chosen: 300 Bq, the middle of the range; the batch value was NOT confirmed more precisely, so sphere counts from it are uncertain by about +-33 %',
      },
      sphereDiameterUm: {
        mean: 30,
        min: null,
        max: null,
        source: 'mean 30 um (Reinders et al., Cardiovasc Intervent Radiol 2019;42:1240, Table 4); the range was not stated in the sources searched',
      },
      embolicLoad: {
        note: 'about 10-30 million spheres per treatment (NICE TA985, 2024); the 166Ho scout uses 60 mg of the same spheres against 540-600 mg for the treatment',
        source: 'NICE TA985 (2024); C. van Roekel, PhD thesis, chapter 1, section 4.2 (166Ho scout dose: 200-250 MBq, 60 mg); Prince et al., J Nucl Med 2015;56:817 (250 MBq scout)',
      },
      scoutActivityGBq: {
        value: 0.25,
        source: 'about 250 MBq (200-250 MBq) of the same microspheres, 60 mg, imaged by SPECT before the treatment (Prince et al., J Nucl Med 2015;56:817; C. van Roekel, PhD thesis, section 4.2); glass and resin are planned on a 99mTc-MAA scout, which gives no therapeutic dose (null)',
      },
    },
  },
};
