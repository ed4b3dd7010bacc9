#!/usr/bin/python3
"""Reference LDM dose with numpy, for scripts/bench.ts (Debian: apt-get install -y python3-nibabel python3-numpy).

usage: ldm_numpy.py ACTIVITY.nii.gz LABELS.nii.gz CF_J_PER_GBQ DENSITY_G_PER_ML OUT.nii.gz
  ACTIVITY: activity concentration at implant [Bq/mL]; LABELS: integer label map on the same grid.
  D [Gy] = CF [J/GBq] x A [Bq/mL] / 1e9 / rho [g/mL] x 1000 (g/kg), i.e. the engine's local deposition.
Prints one JSON line: per-label volume [mL] and mean dose [Gy], and the script's own phase times [s].
"""
import json
import sys
import time

t0 = time.perf_counter()
import nibabel as nib  # noqa: E402
import numpy as np  # noqa: E402

t_import = time.perf_counter()
act_path, lab_path, cf, rho, out_path = sys.argv[1:6]
act_img = nib.load(act_path)
act = np.asarray(act_img.dataobj, dtype=np.float32)
labels = np.asarray(nib.load(lab_path).dataobj).astype(np.int32)
voxel_ml = float(np.prod(act_img.header.get_zooms()[:3])) / 1000.0
t_read = time.perf_counter()
dose = (act * np.float32(float(cf) / 1e9 / float(rho) * 1000.0)).astype(np.float32)
t_dose = time.perf_counter()
flat = labels.ravel()
counts = np.bincount(flat)
sums = np.bincount(flat, weights=dose.ravel().astype(np.float64))
out = {int(l): {"volumeMl": float(counts[l] * voxel_ml), "meanGy": float(sums[l] / counts[l])} for l in range(1, len(counts)) if counts[l] > 0}
t_means = time.perf_counter()
nib.save(nib.Nifti1Image(dose, act_img.affine), out_path)
t_write = time.perf_counter()
print(json.dumps({
    "structures": out,
    "timesS": {"import": t_import - t0, "read": t_read - t_import, "dose": t_dose - t_read,
               "means": t_means - t_dose, "write": t_write - t_means},
}))
