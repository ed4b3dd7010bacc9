#!/usr/bin/env bash
# The GPU figures of the README ("Benchmarks" -> "On a GPU"), run on a lent GPU machine that has no Node installed.
# Prepared on the development machine (scripts/device-kit.sh writes .devkit/: an x86-64 node binary and the
# project's node_modules without what the benchmark does not load, both xz-compressed; the Vulkan loader .debs go to
# .gl/ as the device tool's README says), then started there from the repository root:
#
#   bash scripts/device-bench.sh            (OUT=folder for the logs; DEVICE_SIM=1 skips unpacking the loaders into /)
#
# 1. `dose --method mc --mc-target-uncertainty 1` (P1_MODES: more, ';'-separated; P1_BACKEND: default auto, which
#    is WebGPU for the Monte Carlo on a hardware adapter) on sample patient 1 (90Y PET, 6
#    tumours; the files travel in .devkit/samples when ../shared is beside the checkout; skipped otherwise), and its
#    DVK dose for the ratio;
# 2. pnpm bench: LDM, DVK convolution and statistics in-process at 256^3 and 512x512x400; whole `dose` processes
#    (auto = WebGPU on a hardware adapter, and --backend cpu); the phases of DVK; the Monte Carlo to 1 % on the
#    192^3 cases;
# 3. the GPU tests (WGSL kernels against their CPU oracles) on this adapter.
set -u
OUT=${OUT:-/tmp/device-bench-out}
mkdir -p "$OUT"
KIT=.devkit
log() { echo "device-bench: $*" >&2; }
exec > >(tee -a "$OUT/log.txt") 2>&1
t0=$(date +%s)

if [ -z "${DEVICE_SIM:-}" ]; then
  for f in .gl/*.deb; do dpkg -x "$f" /; done
  ldconfig
  icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
  [ -f "$icd" ] && export VK_DRIVER_FILES=$icd
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv || true
  unset VK_ICD_FILENAMES
fi
# node and node_modules: xz through Python's lzma (xz-utils may be missing there)
mkdir -p /tmp/devnode/bin
python3 - "$KIT" <<'EOF' || { log "could not unpack the kit"; exit 1; }
import lzma, shutil, sys, os
kit = sys.argv[1]
for name, dst in (('node.xz', '/tmp/devnode/bin/node'), ('nm.tar.xz', '/tmp/devnode/nm.tar')):
    with lzma.open(os.path.join(kit, name)) as src, open(dst, 'wb') as out:
        shutil.copyfileobj(src, out, 1 << 22)
os.chmod('/tmp/devnode/bin/node', 0o755)
EOF
tar -xf /tmp/devnode/nm.tar || { log "could not unpack node_modules"; exit 1; }
export PATH=/tmp/devnode/bin:$PATH
node -v
log "kit unpacked in $(( $(date +%s) - t0 )) s"
nproc; free -g | head -2

# which adapter Dawn gives
probe() {
  (cd packages/dosimetry-core && node --input-type=module -e "
import { create, globals } from 'webgpu';
Object.assign(globalThis, globals);
const gpu = create([]);
const a = await gpu.requestAdapter({ powerPreference: 'high-performance' });
if (!a) { console.log('no WebGPU adapter'); process.exit(0); }
const i = a.info ?? {};
console.log('adapter:', JSON.stringify({ vendor: i.vendor, architecture: i.architecture, device: i.device, description: i.description, fallback: a.isFallbackAdapter }));
console.log('maxStorageBufferBindingSize', a.limits.maxStorageBufferBindingSize, 'maxBufferSize', a.limits.maxBufferSize);
process.exit(0);
") 2>&1 | grep -v 'artificially reduced' | tee /tmp/devnode/probe.txt
}
probe
if [ -z "${DEVICE_SIM:-}" ] && ! grep -qi nvidia /tmp/devnode/probe.txt; then
  log "no NVIDIA adapter through VK_DRIVER_FILES; trying VK_ICD_FILENAMES"
  ls -la /usr/local/nvidia/share/vulkan/icd.d /usr/share/vulkan/icd.d /etc/vulkan/icd.d 2>&1 | head -20
  ldconfig -p | grep -i -E 'vulkan|nvidia' | head -10
  [ -n "${icd:-}" ] && [ -f "$icd" ] && { cat "$icd"; export VK_ICD_FILENAMES=$icd; probe; }
  grep -qi nvidia /tmp/devnode/probe.txt || { log "no NVIDIA WebGPU adapter: stopping"; exit 3; }
fi

S=$KIT/samples
if [ -f "$S/patient_1_Y90_PET.nrrd" ]; then
  IFS=';' read -r -a modes <<< "${P1_MODES:---mc-target-uncertainty 1}"
  for mode in "${modes[@]}"; do
    tag=$(echo "$mode" | tr -dc 'a-z0-9')
    log "patient 1: dose --method mc $mode --backend ${P1_BACKEND:-auto} ..."
    s=$(date +%s.%N)
    timeout "${P1_TIMEOUT:-120}" node scripts/dosimetry.mjs dose --activity $S/patient_1_Y90_PET.nrrd --activity-unit bq-per-ml --scan-delay-h 0 \
      --segmentation $S/patient_1_Segmentation.seg.nrrd --liver Liver \
      --tumor "Tumor 1" --tumor "Tumor 2" --tumor "Tumor 3" --tumor "Tumor 4" --tumor "Tumor 5" --tumor "Tumor 6" \
      --isotope Y90 --method mc $mode --backend "${P1_BACKEND:-auto}" --out /tmp/p1-$tag 2>&1 | tr '\r' '\n' | grep -v '^$' | awk 'NR % 20 == 1 || /histories|error|warning/'
    rc=${PIPESTATUS[0]}
    e=$(date +%s.%N)
    echo "patient 1 mc $mode: exit $rc, wall $(python3 -c "print(f'{$e-$s:.2f}')") s"
    [ -f /tmp/p1-$tag/report.json ] && cp /tmp/p1-$tag/report.json "$OUT/p1-$tag-report.json"
  done
  # the same patient by DVK for the ratio
  s=$(date +%s.%N)
  node scripts/dosimetry.mjs dose --activity $S/patient_1_Y90_PET.nrrd --activity-unit bq-per-ml --scan-delay-h 0 \
    --segmentation $S/patient_1_Segmentation.seg.nrrd --liver Liver \
    --tumor "Tumor 1" --tumor "Tumor 2" --tumor "Tumor 3" --tumor "Tumor 4" --tumor "Tumor 5" --tumor "Tumor 6" \
    --isotope Y90 --method dvk --backend "${P1_BACKEND:-auto}" --out /tmp/p1-dvk --quiet
  rc=$?
  e=$(date +%s.%N)
  echo "patient 1 dvk ${P1_BACKEND:-auto}: exit $rc, wall $(python3 -c "print(f'{$e-$s:.2f}')") s"
else
  log "patient 1 skipped: $S/patient_1_Y90_PET.nrrd is not there (copied from ../shared/data/sirt-samples by scripts/device-kit.sh)"
fi
[ "${BENCH:-1}" = 0 ] && exit 0
log "at $(( $(date +%s) - t0 )) s: pnpm bench ..."
timeout "${BENCH_TIMEOUT:-330}" node --import tsx --import ./scripts/wgsl-loader.mjs scripts/bench.ts --ldm-sizes "${LDM_SIZES:-256,512x512x400}" \
  --repeat "${REPEAT:-2}" --mc-target "${MC_TARGET:-1}" --mc-backends auto --markdown "$OUT/bench.md"
# the WGSL kernels against their CPU oracles on this adapter (the same tests CI runs on lavapipe)
if [ "${GPU_TESTS:-1}" = 1 ]; then
  log "at $(( $(date +%s) - t0 )) s: GPU tests ..."
  timeout "${TEST_TIMEOUT:-150}" node node_modules/vitest/vitest.mjs run packages/dosimetry-core/test/gpu packages/dosimetry-core/test/convolution/convolution.test.ts \
    packages/dosimetry-core/test/convolution/fft-line.test.ts packages/dosimetry-core/test/mc/transport-gpu.test.ts 2>&1 | grep -v 'artificially reduced' | tail -40
fi
log "done in $(( $(date +%s) - t0 )) s"
