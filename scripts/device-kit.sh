#!/usr/bin/env bash
# Writes .devkit/ (ignored through .git/info/exclude) for scripts/device-bench.sh on a GPU machine without Node:
# this machine's x86-64 node binary and the project's node_modules (pnpm layout, links kept) without what the
# benchmark never loads (other platforms' Dawn builds, WebAssembly codecs, source maps, TypeScript, Playwright),
# xz-compressed to stay under the device tool's 64 MiB; the kernel cache; and sample patient 1 from ../shared when
# it is there (only for the run; never committed). Run from the repository root after `pnpm install`.
set -eu
mkdir -p .devkit .git/info
grep -qx '/.devkit/' .git/info/exclude 2>/dev/null || echo '/.devkit/' >> .git/info/exclude
P=node_modules/.pnpm
tar -cf - --exclude='*.wasm' --exclude='*.wasm.zst' --exclude='*.map' \
  --exclude="$P/webgpu@*/node_modules/webgpu/dist/darwin-*" --exclude="$P/webgpu@*/node_modules/webgpu/dist/win32-*" \
  --exclude="$P/webgpu@*/node_modules/webgpu/dist/linux-arm64" --exclude="$P/@typescript*" --exclude="$P/typescript@*" \
  --exclude="$P/playwright-core@*" --exclude="$P/@types*" --exclude='node_modules/.vite' \
  node_modules packages/*/node_modules .cache/kernels | xz -T0 -6 > .devkit/nm.tar.xz
xz -T0 -6 -c "$(readlink -f "$(command -v node)")" > .devkit/node.xz
if [ -d ../shared/data/sirt-samples ]; then
  mkdir -p .devkit/samples
  cp ../shared/data/sirt-samples/patient_1_Y90_PET.nrrd ../shared/data/sirt-samples/patient_1_Segmentation.seg.nrrd .devkit/samples/
fi
du -sh .devkit/*
