#!/usr/bin/env bash
# Builds everything (validate/ too where nvcc exists), runs every CPU test, then installs the package
# into a scratch prefix and builds a consumer project against it with find_package(roofline).
# Installs missing Debian packages first (scripts/install-deps.sh; skip with ROOFLINE_SKIP_DEPS=1).
# Usage: scripts/test.sh [build-dir]      (GPU tests: add -DROOFLINE_GPU_TESTS=ON and run ctest -L gpu)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$root/build}"
jobs="${ROOFLINE_JOBS:-$(nproc)}"
[[ "${ROOFLINE_SKIP_DEPS:-0}" == 1 ]] || "$root/scripts/install-deps.sh"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release ${ROOFLINE_CMAKE_ARGS:-}
cmake --build "$build" -j "$jobs"
ctest --test-dir "$build" --output-on-failure -j "$jobs" -LE gpu
prefix="$(mktemp -d)"
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build" --prefix "$prefix" >/dev/null
cmake -S "$root/tests/consumer" -B "$prefix/consumer-build" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$prefix/consumer-build" -j "$jobs" >/dev/null
ROOFLINE_DATA_DIR="$prefix/share/roofline" "$prefix/consumer-build/consumer"
echo "test.sh: all tests passed; installed package consumed from $prefix"
