#!/usr/bin/env bash
# The main job on the shipped data: installs missing Debian packages, builds the CLI, prints the
# per-operator report of Llama-3-8B decoding on an H100 (and a quantisation recommendation when the
# engine is built). Usage: scripts/run.sh [build-dir]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$root/build-run}"
[[ "${ROOFLINE_SKIP_DEPS:-0}" == 1 ]] || "$root/scripts/install-deps.sh"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DROOFLINE_BUILD_TESTS=OFF -DROOFLINE_BUILD_BENCHMARKS=OFF \
  -DROOFLINE_ENABLE_CUDA=OFF >/dev/null
cmake --build "$build" -j "$(nproc)" --target roofline_cli >/dev/null
cli="$build/apps/roofline"
export ROOFLINE_DATA_DIR="$root"
"$cli" report --model llama3-8b --hw h100_sxm --phase decode --seq-len 4096 --batch 1
if "$cli" recommend --help >/dev/null 2>&1; then
  echo
  "$cli" recommend --model llama3-8b --hw h100_sxm --phase decode --seq-len 4096
fi
