#!/usr/bin/python3
"""Reference DVK dose with scipy, for scripts/bench-dvk.ts (run with Debian's /usr/bin/python3:
apt-get install -y python3-scipy python3-nibabel).

usage: dvk_scipy.py ACTIVITY.nii.gz LABELS.nii.gz KERNEL.npy TAU_S OUT.nii.gz
  ACTIVITY: activity concentration [Bq/mL]; LABELS: integer label map on the same grid;
  KERNEL.npy: voxel S values [Gy/(Bq s)], float32, shape (2rz+1, 2ry+1, 2rx+1) (x-fastest as written by the TS side);
  TAU_S: mean life [s] (fully decayed activity = A [Bq/mL] x voxel volume [mL] x tau [s]).
Prints one JSON line: per-label mean dose [Gy] and the script's own phase times [s].
"""
import json
import sys
import time

t0 = time.perf_counter()
import nibabel as nib  # noqa: E402
import numpy as np  # noqa: E402
from scipy.signal import fftconvolve  # noqa: E402

t_import = time.perf_counter()
act_path, lab_path, ker_path, tau_s, out_path = sys.argv[1:6]
act_img = nib.load(act_path)
act = np.asarray(act_img.dataobj, dtype=np.float32)  # indexed [x, y, z]
labels = np.asarray(nib.load(lab_path).dataobj).astype(np.int32)
kernel = np.load(ker_path).transpose(2, 1, 0)  # (z, y, x) -> [x, y, z]
voxel_ml = float(np.prod(act_img.header.get_zooms()[:3])) / 1000.0
t_read = time.perf_counter()
decays = act * np.float32(voxel_ml * float(tau_s))  # [Bq s]
dose = fftconvolve(decays, kernel, mode="same").astype(np.float32)  # [Gy]
t_conv = time.perf_counter()
means = {int(l): float(dose[labels == l].mean()) for l in np.unique(labels) if l != 0}
t_means = time.perf_counter()
nib.save(nib.Nifti1Image(dose, act_img.affine), out_path)
t_write = time.perf_counter()
print(json.dumps({
    "meanDoseGy": means,
    "timesS": {"import": t_import - t0, "read": t_read - t_import, "convolve": t_conv - t_read,
               "means": t_means - t_conv, "write": t_write - t_means},
}))
