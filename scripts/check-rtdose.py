#!/usr/bin/python3
"""Independent check of an RT Dose file written by the engine, with pydicom.

Usage: /usr/bin/python3 scripts/check-rtdose.py FILE
Prints one JSON object: the attributes a consumer needs (dose units/type/summation, scaling, grid geometry) and the
dose (pixel values x DoseGridScaling, in Gy) summed and at its maximum, plus the LPS position of every frame's first
voxel, so the caller can compare with what it wrote. Exit 0 when pydicom reads it, 2 on a read error.
"""
import json
import sys

import pydicom


def main() -> int:
    path = sys.argv[1]
    try:
        ds = pydicom.dcmread(path)
        px = ds.pixel_array.astype("float64")
    except Exception as err:  # noqa: BLE001 - report any read failure as JSON
        print(json.dumps({"ok": False, "error": str(err)}))
        return 2
    if px.ndim == 2:
        px = px[None, :, :]
    scaling = float(ds.DoseGridScaling)
    dose = px * scaling
    ipp = [float(v) for v in ds.ImagePositionPatient]
    iop = [float(v) for v in ds.ImageOrientationPatient]
    row, col = iop[:3], iop[3:]
    normal = [row[1] * col[2] - row[2] * col[1], row[2] * col[0] - row[0] * col[2], row[0] * col[1] - row[1] * col[0]]
    offsets = [float(v) for v in ds.GridFrameOffsetVector]
    frame_positions = [[ipp[a] + normal[a] * off for a in range(3)] for off in offsets]
    flat_max = int(dose.argmax())
    k, rem = divmod(flat_max, dose.shape[1] * dose.shape[2])
    j, i = divmod(rem, dose.shape[2])
    out = {
        "ok": True,
        "sopClassUid": str(ds.SOPClassUID),
        "transferSyntaxUid": str(ds.file_meta.TransferSyntaxUID),
        "modality": str(ds.Modality),
        "doseUnits": str(ds.DoseUnits),
        "doseType": str(ds.DoseType),
        "doseSummationType": str(ds.DoseSummationType),
        "bitsAllocated": int(ds.BitsAllocated),
        "doseGridScaling": scaling,
        "shape": list(dose.shape),
        "pixelSpacing": [float(v) for v in ds.PixelSpacing],
        "imagePositionPatient": ipp,
        "imageOrientationPatient": iop,
        "gridFrameOffsetVector": offsets,
        "framePositions": frame_positions,
        "sumGy": float(dose.sum()),
        "maxGy": float(dose.max()),
        "maxIndexIjk": [i, j, k],
        "frameOfReferenceUid": str(ds.FrameOfReferenceUID),
        "studyInstanceUid": str(ds.StudyInstanceUID),
        "seriesInstanceUid": str(ds.SeriesInstanceUID),
        "sopInstanceUid": str(ds.SOPInstanceUID),
        "patientName": str(ds.PatientName),
    }
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
