#!/usr/bin/env bash
# The decode kernels' GPU run with prebuilt binaries (scripts/device/prepare.sh stages them):
#   validate/kernels/decode/device_run.sh BIN_DIR OUT_DIR [--quick]
# Correctness (random + realistic), memcheck and racecheck on small shapes, the timing sweep with PyTorch
# SDPA in the same run, the SASS check on the staged object files, the results table.
set -uo pipefail
bin="$1"; out="$2/decode"; quick="${3:-}"
root="$(cd "$(dirname "$0")/../../.." && pwd)"
here="$root/validate/kernels/decode"
mkdir -p "$out"
echo "== CPU tests"; "$bin/test_kernels_common" --no-intro=true | tail -2; "$bin/test_decode_cpu" --no-intro=true | tail -2
echo "== correctness"; timeout 150 "$bin/decode_gpu_test" --out "$out/decode_correctness.jsonl" 2>&1 | tail -25
echo "== memcheck"; timeout 150 compute-sanitizer --tool memcheck --error-exitcode 9 "$bin/decode_gpu_test" --small > "$out/memcheck.log" 2>&1; echo "memcheck exit $?"; tail -2 "$out/memcheck.log"
echo "== racecheck"; timeout 150 compute-sanitizer --tool racecheck --racecheck-report all --error-exitcode 9 "$bin/decode_gpu_test" --small > "$out/racecheck.log" 2>&1; echo "racecheck exit $?"; tail -2 "$out/racecheck.log"
echo "== timing"; timeout 200 "$bin/decode_bench" --out "$out" $quick 2>&1 | tail -15
timeout 150 python3 "$here/torch_baselines.py" --out "$out" $quick 2>&1 | tail -8
echo "== SASS"; python3 "$here/sass_check.py" "$out/decode_sass.json" $(find "$root/.device/obj" -path "*decode*" -name "*.cu.o" | sort) 2>&1 | tail -12
python3 "$here/make_table.py" "$out" > "$out/decode_table.md" 2>&1; head -60 "$out/decode_table.md"
