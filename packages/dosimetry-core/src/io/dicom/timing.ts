/**
 * The scan delay (hours from implant to the moment an activity image's values refer to) read from the DICOM timing
 * attributes of an emission series, or the reason it cannot be read.
 *
 * The pipeline carries a bq-per-ml image back to implant time with A(0) = A(t) exp(lambda t) (../shared/PHYSICS.md),
 * so t must be the time the voxel values refer to, minus the implant time:
 * - Decay Correction ADMIN: the values were decay corrected to the administration (PS3.3 C.8.9.1.1.7): t = 0.
 * - START: corrected to the series reference time, Series Date/Time (PS3.3 C.8.9.1.1.7 and C.8.9.1.1.1):
 *   t = series time - Radiopharmaceutical Start (Date)Time.
 * - NONE: not corrected: values are the activity during acquisition; t = acquisition start - radiopharmaceutical start
 *   (the decay during one bed position, minutes against a half-life of 26.8 h or more, is neglected).
 * The Radiopharmaceutical Start (Date)Time is taken as the implant time (for 90Y or 166Ho imaging after SIRT the
 * administered radiopharmaceutical is the microspheres).
 */
import { NUCLIDES, SECONDS_PER_HOUR, type Isotope } from '../../units/index.ts';
import type { DicomSeriesMeta } from './volume.ts';

/** What `scanDelayFromDicom` found. */
export interface DicomScanDelay {
  /** Hours from implant to the time the values refer to [h]; undefined when it cannot be said (see `warning`). */
  readonly scanDelayH?: number;
  /** Where it came from, in words (for provenance). */
  readonly source: string;
  /** Set when the delay cannot be read or looks wrong; the caller shows it to the user. */
  readonly warning?: string;
  /** False for counts images (a relative calibration to the administered activity needs no delay). */
  readonly applies: boolean;
}

/**
 * Reads the scan delay of an activity image from its DICOM metadata (see module comment). `isotope` is the nuclide
 * of the dose calculation: when the file's Radionuclide Half Life differs from it by more than 1 %, a warning says so
 * (a scanner that decay corrected with the wrong nuclide, or a scout image of another nuclide).
 */
export function scanDelayFromDicom(meta: DicomSeriesMeta, isotope: Isotope): DicomScanDelay {
  const e = meta.emission;
  if (!e) return { applies: false, source: `${meta.modality} series: not an emission image` };
  if (meta.activityUnit !== 'bq-per-ml') {
    return { applies: false, source: `${meta.modality} values are ${meta.units} (relative): calibrated to the administered activity, no scan delay applies` };
  }
  const halfLifeH = NUCLIDES[isotope].halfLifeH;
  const halfLifeWarning =
    e.halfLifeS !== undefined && Math.abs(e.halfLifeS / SECONDS_PER_HOUR - halfLifeH) > 0.01 * halfLifeH
      ? `the DICOM Radionuclide Half Life is ${(e.halfLifeS / SECONDS_PER_HOUR).toPrecision(4)} h, but ${isotope} has ${halfLifeH} h: check that the image is a ${isotope} image and that the scanner decay corrected with ${isotope}`
      : undefined;
  const inj = e.injectionDateTime;
  const cannot = (why: string): DicomScanDelay => ({
    applies: true,
    source: `not in the DICOM metadata: ${why}`,
    warning: `the scan delay cannot be read from the DICOM metadata (${why}); it is taken as 0 h: give --scan-delay-h H${halfLifeWarning ? `; also ${halfLifeWarning}` : ''}`,
  });
  let ref: typeof inj;
  let what: string;
  switch (e.decayCorrection) {
    case 'ADMIN':
      return {
        applies: true,
        scanDelayH: 0,
        source: 'DICOM Decay Correction ADMIN: values are decay corrected to the administration (implant) time',
        warning: halfLifeWarning,
      };
    case 'START':
      ref = e.seriesDateTime ?? e.acquisitionDateTime;
      what = e.seriesDateTime ? 'Series Date/Time' : 'Acquisition Date/Time';
      break;
    case 'NONE':
      ref = e.acquisitionDateTime;
      what = 'Acquisition Date/Time';
      break;
    default:
      return cannot(`Decay Correction (0054,1102) is ${e.decayCorrection ? `"${e.decayCorrection}"` : 'missing'}`);
  }
  if (!ref) return cannot(`Decay Correction ${e.decayCorrection} but no ${what}`);
  if (!inj) return cannot('no Radiopharmaceutical Start DateTime (0018,1078) or Start Time (0018,1072)');
  const delayH = (ref.epochS - inj.epochS) / SECONDS_PER_HOUR;
  if (delayH < 0) return cannot(`the ${what} ${ref.iso} is before the radiopharmaceutical start ${inj.iso}`);
  return {
    applies: true,
    scanDelayH: delayH,
    source: `DICOM Decay Correction ${e.decayCorrection}: ${what} ${ref.iso} - Radiopharmaceutical Start ${inj.iso}`,
    warning: halfLifeWarning,
  };
}
