#!/usr/bin/env bash
# Regenerates the example charts of the README and the guide (docs/images/*.svg) and the example HTML
# report (docs/examples/report.html) with the library itself: apps/examples/guide/guide_charts.cpp on the
# shipped data. Nothing in docs/images/ is drawn by hand.
# Usage: scripts/gen-doc-images.sh [build-dir]   (default: build/; configured with CUDA off if new)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$root/build}"
if [[ ! -f "$build/CMakeCache.txt" ]]; then
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DROOFLINE_ENABLE_CUDA=OFF -DROOFLINE_BUILD_BENCHMARKS=OFF >/dev/null
fi
cmake --build "$build" --target guide_charts -j "${ROOFLINE_JOBS:-2}" >/dev/null
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
ROOFLINE_DATA_DIR="$root" "$build/apps/examples/guide/guide_charts" "$tmp" >/dev/null
mkdir -p "$root/docs/images" "$root/docs/examples"
for f in roofline breakdown strategies attention; do cp "$tmp/$f.svg" "$root/docs/images/$f.svg"; done
cp "$tmp/report.html" "$root/docs/examples/report.html"
if command -v rsvg-convert >/dev/null; then  # every image must render
  for f in "$root"/docs/images/*.svg; do rsvg-convert -o "$tmp/check.png" "$f"; done
fi
echo "gen-doc-images: wrote docs/images/{roofline,breakdown,strategies,attention}.svg and docs/examples/report.html"
