#!/usr/bin/env bash
# Runs on the lent GPU machine, from the repository root, with the binaries that scripts/device/prepare.sh
# staged in .device/ (carried with the call). Writes to $OUT. Usage:
#   scripts/device/run.sh harness   CUPTI/GPU tests, memcheck smoke, stream/launch/ceilings/gemm/elementwise/
#                                   gemm_holdout/counters suites               (~6-8 min on an H100)
#   scripts/device/run.sh torch     PyTorch suites: sdpa, model_step, torch_elementwise, sdpa_holdout, sdpa_headdim,
#                                   sdpa_random, sdpa_fresh .. sdpa_fresh4 (~8 min); `torch --suites sdpa_fresh` runs one
#   scripts/device/run.sh gemm      the cuBLASLt suites only
#   scripts/device/run.sh suites NAME...   the named harness suites only (e.g. gemm_random)
#   scripts/device/run.sh harness-check   GPU tests, the embedding case under compute-sanitizer, the elementwise suite (~3 min)
#   scripts/device/run.sh kernels [--quick]   the validate/ attention kernels: correctness, sanitizers, timing, SASS
# Each part stops starting steps after ROOFLINE_BUDGET_S seconds (default 540) and keeps what it measured.
set -uo pipefail
part="${1:?part: harness | torch | kernels}"
shift
root="$(pwd)"
OUT="${OUT:-$root/device-out}"
# $OUT returns at most 8 files: everything is written under $work and packed into one tarball at the end.
work="${ROOFLINE_WORK_DIR:-/tmp/roofline-run}"
bin="$root/.device/bin"
export LD_LIBRARY_PATH="$root/.device/lib:${LD_LIBRARY_PATH:-}"
export ROOFLINE_DATA_DIR="$root"
export PYTHONUNBUFFERED=1
budget="${ROOFLINE_BUDGET_S:-540}"
start=$(date +%s)
mkdir -p "$OUT" "$work/logs"
log="$work/logs/$part.log"
note() { echo "[run +$(( $(date +%s) - start ))s] $*" | tee -a "$log"; }
step() {  # step NAME LIMIT COMMAND...
  local name=$1 limit=$2; shift 2
  local left=$(( budget - ( $(date +%s) - start ) ))
  local t=$(( limit < left ? limit : left ))
  if (( t < 10 )); then note "SKIP $name (budget)"; return 124; fi
  note "START $name (limit ${t}s)"
  timeout --signal=INT --kill-after=10 "$t" "$@" > "$work/logs/$name.log" 2>&1
  local rc=$?
  note "END $name rc=$rc"
  tail -n 8 "$work/logs/$name.log" | sed 's/^/    /' | tee -a "$log"
  return $rc
}
{
  date -u +%Y-%m-%dT%H:%M:%SZ
  nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,clocks.mem,power.draw,power.limit,temperature.gpu --format=csv
  python3 -c 'import torch; print("torch", torch.__version__, torch.version.cuda)' 2>&1
  ldd "$bin/roofline-validate" | grep -i "not found" || echo "all shared libraries found"
} > "$work/logs/environment.txt" 2>&1
cat "$work/logs/environment.txt"
hw="${ROOFLINE_HW:-$("$bin/roofline-validate" --print-hw 2>/dev/null)}"
[[ -n "$hw" ]] || { echo "no hw profile for this GPU; set ROOFLINE_HW"; exit 1; }
data="$work/data/$hw"
mkdir -p "$data"
case "$part" in
  harness)
    step gpu_tests 90 "$bin/roofline_validate_gpu_tests"
    step memcheck 90 compute-sanitizer --tool memcheck --error-exitcode 9 --print-limit 20 \
      "$bin/roofline-validate" --smoke --no-cupti --replace --quiet --out-dir "$work/logs/sanitizer-records" stream launch elementwise gemm
    common=(--hw "$hw" --out-dir "$data" --replace --quiet)
    step suite_stream 60 "$bin/roofline-validate" "${common[@]}" stream
    step suite_launch 30 "$bin/roofline-validate" "${common[@]}" launch
    step suite_ceilings 60 "$bin/roofline-validate" "${common[@]}" ceilings
    step suite_gemm 200 "$bin/roofline-validate" "${common[@]}" gemm
    step suite_elementwise 60 "$bin/roofline-validate" "${common[@]}" elementwise
    step suite_holdout 90 "$bin/roofline-validate" "${common[@]}" gemm_holdout
    step suite_random 150 "$bin/roofline-validate" "${common[@]}" gemm_random
    step suite_counters 60 "$bin/roofline-validate" "${common[@]}" counters
    "$bin/roofline-validate" --summary "$data" 2>&1 | tail -40 | tee -a "$log"
    ;;
  torch)
    step torch_suites "$budget" python3 validate/torch/run_all.py --out-dir "$data" --budget-s $(( budget - 40 )) "$@"
    tail -n 40 "$work/logs/torch_suites.log"
    ;;
  harness-check)  # GPU tests, the embedding case under compute-sanitizer, the embedding records again
    step gpu_tests 90 "$bin/roofline_validate_gpu_tests"
    step memcheck_embedding_test 120 compute-sanitizer --tool memcheck --error-exitcode 9 --print-limit 20 \
      "$bin/roofline_validate_gpu_tests" -tc='*embedding*'
    step memcheck_embedding_suite 200 env ROOFLINE_VALIDATE_ELEMENTWISE_ONLY=embedding:3584 compute-sanitizer \
      --tool memcheck --error-exitcode 9 --print-limit 20 "$bin/roofline-validate" --no-cupti --replace --quiet \
      --hw "$hw" --out-dir "$work/logs/sanitizer-embedding" elementwise
    step suite_embedding 90 env ROOFLINE_VALIDATE_ELEMENTWISE_ONLY=embedding "$bin/roofline-validate" --hw "$hw" \
      --out-dir "$work/logs/embedding-records" --replace --quiet elementwise
    step suite_elementwise 90 "$bin/roofline-validate" --hw "$hw" --out-dir "$data" --replace --quiet elementwise
    ;;
  gemm)  # the cuBLASLt suites alone (re-measure after a fix)
    common=(--hw "$hw" --out-dir "$data" --replace --quiet)
    step suite_ceilings 60 "$bin/roofline-validate" "${common[@]}" ceilings
    step suite_gemm 200 "$bin/roofline-validate" "${common[@]}" gemm
    step suite_holdout 90 "$bin/roofline-validate" "${common[@]}" gemm_holdout
    step suite_random 150 "$bin/roofline-validate" "${common[@]}" gemm_random
    step suite_counters 60 "$bin/roofline-validate" "${common[@]}" counters
    ;;
  suites)  # named harness suites only: scripts/device/run.sh suites gemm_random [...]
    common=(--hw "$hw" --out-dir "$data" --replace --quiet)
    for s in "$@"; do step "suite_$s" 300 "$bin/roofline-validate" "${common[@]}" "$s"; done
    "$bin/roofline-validate" --summary "$data" 2>&1 | tail -40 | tee -a "$log"
    ;;
  kernels)  # each kernel family's device_run.sh, with the per-family limit ROOFLINE_KERNEL_LIMIT_S
    for s in validate/kernels/*/device_run.sh; do
      [[ -x "$s" ]] && step "kernels_$(basename "$(dirname "$s")")" "${ROOFLINE_KERNEL_LIMIT_S:-300}" "$s" "$bin" "$work" "$@"
    done
    ;;
  *) echo "unknown part $part"; exit 2 ;;
esac
tar -czf "$OUT/$part-$hw.tgz" -C "$work" . 2>/dev/null
cp "$log" "$OUT/"
ls -la "$OUT" "$data"
