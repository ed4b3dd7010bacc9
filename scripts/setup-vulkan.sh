#!/usr/bin/env bash
# Installs a software Vulkan driver (Mesa lavapipe from Debian bookworm-backports) for Dawn's WebGPU in Node.
# Debian's own lavapipe (Mesa 22) is too old for Dawn; the backports build works. The .deb is unpacked into
# the project (.cache/vulkan), never into /, so the system's Mesa stays untouched.
# Prints the ICD JSON path on its last line. Idempotent: a second run only prints the path.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$root/.cache/vulkan"
icd="$dest/lvp_icd.json"
if [ -f "$icd" ] && [ -f "$(sed -n 's/.*"library_path": "\(.*\)".*/\1/p' "$icd")" ]; then echo "$icd"; exit 0; fi

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
need=()
for p in libvulkan1 mesa-vulkan-drivers; do dpkg -s "$p" >/dev/null 2>&1 || need+=("$p"); done
if [ ${#need[@]} -gt 0 ]; then
  echo "setup-vulkan: installing ${need[*]} (dependencies of the backports lavapipe)" >&2
  as_root apt-get update -qq >&2 || true
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >&2
fi

# A private APT configuration whose only source is <codename>-backports, derived from the machine's own entries.
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
codename="$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")"
# the mirror APT actually uses for the main suite (apt-cache policy lists the active sources)
mirror="$(apt-cache policy 2>/dev/null | awk -v c="$codename/main" '$3 == c && $2 ~ /^https?:/ {print $2; exit}' || true)"
mirror="${mirror:-http://deb.debian.org/debian}"
mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/etc/sources.list.d" "$work/etc/preferences.d"
echo "deb $mirror ${codename}-backports main" >"$work/etc/sources.list"
opts=(-o "Dir::Etc::sourcelist=$work/etc/sources.list" -o "Dir::Etc::sourceparts=$work/etc/sources.list.d"
      -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache" -o "Dir::Etc::preferencesparts=$work/etc/preferences.d"
      -o "APT::Get::List-Cleanup=0" -o "APT::Sandbox::User=root")
echo "setup-vulkan: fetching mesa-vulkan-drivers from ${codename}-backports ($mirror)" >&2
apt-get "${opts[@]}" update -qq >&2
ver="$(apt-cache "${opts[@]}" madison mesa-vulkan-drivers | awk -v s="${codename}-backports" '$0 ~ s {print $3; exit}')"
[ -n "$ver" ] || { echo "setup-vulkan: no mesa-vulkan-drivers in ${codename}-backports" >&2; exit 1; }
(cd "$work" && apt-get "${opts[@]}" download "mesa-vulkan-drivers=$ver" >&2)
rm -rf "$dest.tmp"; mkdir -p "$dest.tmp"
dpkg -x "$work"/mesa-vulkan-drivers_*.deb "$dest.tmp/root"
so="$(find "$dest.tmp/root" -name 'libvulkan_lvp.so' | head -n1)"
[ -n "$so" ] || { echo "setup-vulkan: libvulkan_lvp.so not found in the package" >&2; exit 1; }
rm -rf "$dest"; mv "$dest.tmp" "$dest"
so="${so/$dest.tmp/$dest}"
printf '{\n  "file_format_version": "1.0.0",\n  "ICD": { "library_path": "%s", "api_version": "1.3.0" }\n}\n' "$so" >"$icd.tmp"
mv "$icd.tmp" "$icd"
echo "setup-vulkan: lavapipe $ver ready" >&2
echo "$icd"
