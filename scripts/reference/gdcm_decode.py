#!/usr/bin/python3
"""Reference pixel decoding with GDCM (python3-gdcm), independent of the engine's reader.

Usage: /usr/bin/python3 scripts/reference/gdcm_decode.py FILE OUT.raw
Decodes the pixel data of FILE with gdcm.ImageReader (GDCM's own JPEG, JPEG-LS, JPEG 2000, RLE and deflate codecs) and
writes the stored values (before any Rescale Slope/Intercept) of every frame, frame after frame, row-major, as
little-endian float64 to OUT.raw. Prints one JSON object: the transfer syntax, rows, columns, frames, samples per pixel,
GDCM's pixel format (scalar type, bits stored, signedness) and whether GDCM calls the syntax lossy.
Exit 0 on success; 2 with {"ok": false, "error": ...} when GDCM cannot decode the file.
"""
import json
import struct
import sys

import gdcm

# GDCM scalar types -> struct codes of one sample.
SCALAR = {
    gdcm.PixelFormat.UINT8: "B",
    gdcm.PixelFormat.INT8: "b",
    gdcm.PixelFormat.UINT16: "H",
    gdcm.PixelFormat.INT16: "h",
    gdcm.PixelFormat.UINT32: "I",
    gdcm.PixelFormat.INT32: "i",
}


def main() -> int:
    path, out_path = sys.argv[1], sys.argv[2]
    reader = gdcm.ImageReader()
    reader.SetFileName(path)
    if not reader.Read():
        print(json.dumps({"ok": False, "error": "gdcm.ImageReader cannot read the file"}))
        return 2
    image = reader.GetImage()
    ts = image.GetTransferSyntax()
    pf = image.GetPixelFormat()
    dims = image.GetDimensions()
    columns, rows = int(dims[0]), int(dims[1])
    frames = int(dims[2]) if image.GetNumberOfDimensions() == 3 else 1
    samples = int(pf.GetSamplesPerPixel())
    code = SCALAR.get(pf.GetScalarType())
    if code is None:
        print(json.dumps({"ok": False, "error": f"unsupported scalar type {pf.GetScalarTypeAsString()}"}))
        return 2
    buf = image.GetBuffer()  # decodes (str of bytes in the python binding, latin-1 encoded)
    if buf is None:
        print(json.dumps({"ok": False, "error": "GDCM cannot decode the pixel data"}))
        return 2
    # The SWIG binding returns the bytes as a str decoded as UTF-8 with surrogate escapes: undo that.
    raw = buf.encode("utf-8", "surrogateescape") if isinstance(buf, str) else bytes(buf)
    count = rows * columns * frames * samples
    size = struct.calcsize("<" + code)
    if len(raw) < count * size:
        print(json.dumps({"ok": False, "error": f"decoded buffer holds {len(raw)} bytes, {count * size} expected"}))
        return 2
    values = struct.unpack_from("<%d%s" % (count, code), raw)
    with open(out_path, "wb") as f:
        f.write(struct.pack("<%dd" % count, *values))
    print(json.dumps({
        "ok": True,
        "gdcmVersion": gdcm.Version.GetVersion(),
        "transferSyntaxUid": str(ts).strip("\x00 "),
        "lossy": bool(image.IsLossy()),
        "rows": rows,
        "columns": columns,
        "frames": frames,
        "samplesPerPixel": samples,
        "scalarType": pf.GetScalarTypeAsString(),
        "bitsStored": int(pf.GetBitsStored()),
        "pixelRepresentation": int(pf.GetPixelRepresentation()),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
