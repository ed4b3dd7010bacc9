#!/usr/bin/python3
"""Independent check of a DICOM SEG (or Encapsulated PDF) written by the engine, with pydicom and numpy only.

Usage:
  /usr/bin/python3 scripts/check-seg.py SEG.dcm [--nrrd structures.seg.nrrd] [--grid GRID.json] [--values OUT.json]
  /usr/bin/python3 scripts/check-seg.py --pdf DOC.dcm [--pdf-out report.pdf]

Prints one JSON object. For a SEG: its identity (SOP class, type, study, Frame of Reference, patient), its segments
(number, label, algorithm type, category and type codes, CIELab), the SOP Instance UIDs referenced per frame (Source
Image Sequence) and in the Common Instance Reference module, and the segments rebuilt into a volume from the frames'
Plane Position Sequence on a grid: the grid of --nrrd (a 3D Slicer .seg.nrrd read here with gzip and numpy, not with
the engine) or of --grid ({"dims": [nx, ny, nz], "spacingMm", "originLpsMm", "direction": 9 numbers, column major}).
With --nrrd: per segment label, the voxels where the SEG (BINARY: 1; FRACTIONAL: value >= half the Maximum Fractional
Value) and the .seg.nrrd segment of the same name differ. With --values: the rebuilt volumes (value / Maximum
Fractional Value, x-fastest) per label, written as JSON to that file. Exit 0 when pydicom reads the file, 2 otherwise.
"""
import gzip
import json
import sys

import numpy as np
import pydicom


def read_seg_nrrd(path):
    raw = open(path, "rb").read()
    head, _, body = raw.partition(b"\n\n")
    fields, keys = {}, {}
    for line in head.decode("utf-8").splitlines():
        if line.startswith("#") or line.startswith("NRRD"):
            continue
        if ":=" in line:
            k, v = line.split(":=", 1)
            keys[k] = v
        elif ": " in line:
            k, v = line.split(": ", 1)
            fields[k] = v
    sizes = [int(x) for x in fields["sizes"].split()]
    if fields.get("encoding") == "gzip":
        body = gzip.decompress(body)
    data = np.frombuffer(body, dtype=np.uint8)
    layers = sizes[0] if len(sizes) == 4 else 1
    dims = sizes[-3:]
    data = data.reshape((dims[2], dims[1], dims[0], layers))  # z, y, x, layer (list axis fastest)
    dirs = [d for d in fields["space directions"].replace("none", "").split(")") if "(" in d]
    vecs = [[float(x) for x in d.strip().lstrip("(").split(",")] for d in dirs]
    origin = [float(x) for x in fields["space origin"].strip("()").split(",")]
    space = fields.get("space", "left-posterior-superior")
    flip = [1, 1, 1] if space in ("left-posterior-superior", "LPS") else [-1, -1, 1]
    vecs = [[v[a] * flip[a] for a in range(3)] for v in vecs]
    origin = [origin[a] * flip[a] for a in range(3)]
    segs = {}
    n = 0
    while f"Segment{n}_Name" in keys:
        layer = int(keys.get(f"Segment{n}_Layer", "0"))
        label = int(keys[f"Segment{n}_LabelValue"])
        segs[keys[f"Segment{n}_Name"]] = (data[:, :, :, layer] == label)
        n += 1
    return {"dims": dims, "vecs": vecs, "origin": origin}, segs


def grid_from_json(path):
    g = json.load(open(path))
    d = g["direction"]
    s = g["spacingMm"]
    vecs = [[d[3 * a + b] * s[a] for b in range(3)] for a in range(3)]
    return {"dims": g["dims"], "vecs": vecs, "origin": g["originLpsMm"]}


def rebuild(ds, grid):
    """Segments as float volumes (z, y, x) on `grid`, from pixel_array and each frame's Plane Position."""
    nx, ny, nz = grid["dims"]
    m = np.array(grid["vecs"], dtype=float).T  # columns: index steps in LPS mm
    minv = np.linalg.inv(m)
    origin = np.array(grid["origin"], dtype=float)
    px = ds.pixel_array
    if px.ndim == 2:
        px = px[None, :, :]
    seg_type = str(ds.SegmentationType)
    scale = float(ds.MaximumFractionalValue) if seg_type == "FRACTIONAL" else 1.0
    labels = {int(s.SegmentNumber): str(s.SegmentLabel) for s in ds.SegmentSequence}
    vols = {lab: np.zeros((nz, ny, nx)) for lab in labels.values()}
    bad = []
    for f, fg in enumerate(ds.PerFrameFunctionalGroupsSequence):
        pos = np.array([float(v) for v in fg.PlanePositionSequence[0].ImagePositionPatient])
        ijk = minv @ (pos - origin)
        k = int(round(ijk[2]))
        if abs(ijk[0]) > 1e-3 or abs(ijk[1]) > 1e-3 or abs(ijk[2] - k) > 1e-3 or not 0 <= k < nz:
            bad.append(f)
            continue
        num = int(fg.SegmentIdentificationSequence[0].ReferencedSegmentNumber)
        vols[labels[num]][k] = np.maximum(vols[labels[num]][k], px[f].astype(float) / scale)
    return vols, bad


def check_pdf(path, out):
    ds = pydicom.dcmread(path)
    doc = bytes(ds.EncapsulatedDocument)
    length = int(ds.EncapsulatedDocumentLength) if "EncapsulatedDocumentLength" in ds else len(doc)
    if out:
        open(out, "wb").write(doc[:length])
    return {
        "ok": True,
        "sopClassUid": str(ds.SOPClassUID),
        "modality": str(ds.Modality),
        "mimeType": str(ds.MIMETypeOfEncapsulatedDocument),
        "documentTitle": str(ds.DocumentTitle),
        "length": length,
        "studyInstanceUid": str(ds.StudyInstanceUID),
        "patientId": str(ds.PatientID),
    }


def main() -> int:
    args = sys.argv[1:]
    opt = {}
    pos = []
    i = 0
    while i < len(args):
        if args[i].startswith("--"):
            opt[args[i][2:]] = args[i + 1]
            i += 2
        else:
            pos.append(args[i])
            i += 1
    try:
        if "pdf" in opt:
            print(json.dumps(check_pdf(opt["pdf"], opt.get("pdf-out"))))
            return 0
        ds = pydicom.dcmread(pos[0])
        ds.pixel_array  # noqa: B018 - decode now so that a failure is a read failure
    except Exception as err:  # noqa: BLE001 - report any read failure as JSON
        print(json.dumps({"ok": False, "error": str(err)}))
        return 2
    code = lambda sq: [str(sq[0].CodeValue), str(sq[0].CodingSchemeDesignator), str(sq[0].CodeMeaning)]  # noqa: E731
    segments = [
        {
            "number": int(s.SegmentNumber),
            "label": str(s.SegmentLabel),
            "algorithmType": str(s.SegmentAlgorithmType),
            "algorithmName": str(s.get("SegmentAlgorithmName", "")),
            "category": code(s.SegmentedPropertyCategoryCodeSequence),
            "type": code(s.SegmentedPropertyTypeCodeSequence),
            "cielab": [int(v) for v in s.get("RecommendedDisplayCIELabValue", [])],
        }
        for s in ds.SegmentSequence
    ]
    frame_refs = set()
    frames_with_refs = 0
    for fg in ds.PerFrameFunctionalGroupsSequence:
        if "DerivationImageSequence" in fg:
            frames_with_refs += 1
            for di in fg.DerivationImageSequence:
                for si in di.SourceImageSequence:
                    frame_refs.add(str(si.ReferencedSOPInstanceUID))
    common = set()
    for rs in ds.get("ReferencedSeriesSequence", []):
        for ri in rs.ReferencedInstanceSequence:
            common.add(str(ri.ReferencedSOPInstanceUID))
    out = {
        "ok": True,
        "sopClassUid": str(ds.SOPClassUID),
        "modality": str(ds.Modality),
        "segmentationType": str(ds.SegmentationType),
        "fractionalType": str(ds.get("SegmentationFractionalType", "")),
        "maximumFractionalValue": int(ds.get("MaximumFractionalValue", 0)),
        "bitsAllocated": int(ds.BitsAllocated),
        "numberOfFrames": int(ds.NumberOfFrames),
        "studyInstanceUid": str(ds.StudyInstanceUID),
        "frameOfReferenceUid": str(ds.FrameOfReferenceUID),
        "patientId": str(ds.PatientID),
        "patientName": str(ds.PatientName),
        "segments": segments,
        "framesWithSourceReferences": frames_with_refs,
        "frameSourceInstances": sorted(frame_refs),
        "commonReferencedInstances": sorted(common),
    }
    grid = None
    nrrd_segs = None
    if "nrrd" in opt:
        grid, nrrd_segs = read_seg_nrrd(opt["nrrd"])
    elif "grid" in opt:
        grid = grid_from_json(opt["grid"])
    if grid is not None:
        vols, bad = rebuild(ds, grid)
        out["framesOffGrid"] = bad
        if nrrd_segs is not None:
            cmp = {}
            for lab, vol in vols.items():
                ref = nrrd_segs.get(lab)
                if ref is None:
                    cmp[lab] = {"inNrrd": False}
                    continue
                inside = vol >= 0.5 - 1e-9
                cmp[lab] = {"inNrrd": True, "voxels": int(ref.sum()), "mismatch": int((inside != ref).sum())}
            out["compare"] = cmp
            out["nrrdOnly"] = [n for n in nrrd_segs if n not in vols]
        if "values" in opt:
            json.dump({lab: [round(float(x), 6) for x in vol.ravel()] for lab, vol in vols.items()}, open(opt["values"], "w"))
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
