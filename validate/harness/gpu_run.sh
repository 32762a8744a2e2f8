#!/usr/bin/env bash
# The harness's one GPU-machine script (H100/H200, CUDA 13, cmake, nvcc). Run from the repository root:
#     OUT=/some/dir validate/harness/gpu_run.sh          (on the device machine $OUT is given)
# Builds validate/ for sm_90a with the GPU tests, runs the CPU and GPU tests, runs compute-sanitizer
# memcheck on a smoke run of the runner, then every suite, writing records to $OUT/data/<hw>/<suite>.jsonl.
# Everything (records, logs) is also packed into $OUT/validate-gpu-run.tar.gz. $OUT thus holds exactly
# 8 files (7 suites + the tarball). Each step has its own time limit and the whole script stops starting
# new steps after ROOFLINE_GPU_RUN_BUDGET_S seconds (default 530 s, under the 10-minute command limit);
# records already written are kept (each is flushed as it is measured).
set -uo pipefail

root="$(pwd)"
if [[ ! -f "$root/validate/harness/CMakeLists.txt" ]]; then
  echo "gpu_run.sh: run me from the repository root" >&2
  exit 2
fi
OUT="${OUT:-$root/gpu-out}"
budget="${ROOFLINE_GPU_RUN_BUDGET_S:-530}"
build="${ROOFLINE_GPU_BUILD_DIR:-$root/build-gpu}"
arch="${ROOFLINE_CUDA_ARCH:-90a-real}"
jobs="$(nproc 2>/dev/null || echo 8)"
work="$build/gpu-run"
logs="$work/logs"
start=$(date +%s)
mkdir -p "$OUT" "$logs"
summary="$logs/summary.txt"
: > "$summary"

note() { echo "[gpu_run +$(( $(date +%s) - start ))s] $*" | tee -a "$summary" >&2; }
left() { echo $(( budget - ( $(date +%s) - start ) )); }

# step NAME LIMIT_S COMMAND...: runs with min(LIMIT_S, time left) and logs to $logs/NAME.log.
step() {
  local name=$1 limit=$2
  shift 2
  local remaining
  remaining=$(left)
  local t=$(( limit < remaining ? limit : remaining ))
  if (( t < 15 )); then
    note "SKIP  $name: out of time budget"
    return 124
  fi
  note "START $name (limit ${t}s)"
  timeout --signal=INT --kill-after=10 "$t" "$@" > "$logs/$name.log" 2>&1
  local rc=$?
  note "END   $name rc=$rc$( (( rc == 124 )) && echo ' (TIMED OUT: partial results kept)')"
  tail -n 5 "$logs/$name.log" | sed 's/^/        /' | tee -a "$summary" >&2
  return $rc
}

{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,clocks.max.mem,power.limit,persistence_mode --format=csv 2>&1
  nvidia-smi -q -d CLOCK,POWER,PERFORMANCE 2>&1 | head -80
  nvcc --version 2>&1 | tail -2
  cmake --version 2>&1 | head -1
} > "$logs/environment.txt"

step configure 120 cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES="$arch" \
  -DROOFLINE_ENABLE_CUDA=ON -DROOFLINE_GPU_TESTS=ON -DROOFLINE_BUILD_BENCHMARKS=OFF -DROOFLINE_BUILD_APPS=OFF
step build 240 cmake --build "$build" -j "$jobs" --target roofline_validate_runner roofline_validate_gpu_tests \
  roofline_validate_cpu_tests roofline_validate_header_check
runner="$build/validate/harness/roofline-validate"
if [[ ! -x "$runner" ]]; then
  note "FATAL: $runner was not built; see $logs/build.log"
  tail -n 40 "$logs/build.log" >&2
  tar -czf "$OUT/validate-gpu-run.tar.gz" -C "$work" logs
  exit 1
fi

step tests 90 ctest --test-dir "$build" -L "gpu|validate_cpu" -R "validate_harness" --output-on-failure --timeout 110

sanitizer="$(command -v compute-sanitizer || echo /usr/local/cuda/bin/compute-sanitizer)"
if [[ -x "$sanitizer" ]]; then
  # CUPTI stays off under the sanitizer (both instrument the same driver paths).
  step memcheck 90 "$sanitizer" --tool memcheck --error-exitcode 9 --print-limit 20 \
    "$runner" --smoke --no-cupti --replace --quiet --out-dir "$work/sanitizer-records" stream launch elementwise gemm
else
  note "SKIP  memcheck: compute-sanitizer not found"
fi

hw="${ROOFLINE_HW:-}"
if [[ -z "$hw" ]]; then
  hw="$("$runner" --print-hw 2>"$logs/print-hw.log")"
  rc=$?
  if (( rc != 0 )) || [[ -z "$hw" ]]; then
    note "FATAL: no hw profile (roofline-validate --print-hw rc=$rc: $(tail -n 1 "$logs/print-hw.log")); set ROOFLINE_HW"
    tar -czf "$OUT/validate-gpu-run.tar.gz" -C "$work" logs
    cat "$summary"
    exit 1
  fi
fi
data="$OUT/data/$hw"
mkdir -p "$data"
common=(--hw "$hw" --out-dir "$data" --replace)
# Order: fundamental and cheap first, then the GEMM surface (the main calibration data); each suite has
# its own limit (expected times on an H100 in brackets) and the global budget stops the rest.
step suite_stream       60 "$runner" "${common[@]}" stream        # [~15 s]
step suite_launch       30 "$runner" "${common[@]}" launch        # [~5 s]
step suite_ceilings     60 "$runner" "${common[@]}" ceilings      # [~25 s: 8 shapes + 4 sustained runs of 2.5 s]
step suite_gemm        180 "$runner" "${common[@]}" gemm          # [~60-120 s: ~1100 shapes]
step suite_elementwise  90 "$runner" "${common[@]}" elementwise   # [~30 s]
step suite_holdout      90 "$runner" "${common[@]}" gemm_holdout  # [~20 s: 300 shapes]
step suite_random      150 "$runner" "${common[@]}" gemm_random   # [~30 s: 450 shapes]
step suite_counters     75 "$runner" "${common[@]}" counters      # [~30 s: kernel replay]

note "records in $data:"
"$runner" --summary "$data" > "$logs/records-summary.txt" 2>&1
cat "$logs/records-summary.txt" | tee -a "$summary" >&2
cp -r "$data" "$work/data-copy" 2>/dev/null
tar -czf "$OUT/validate-gpu-run.tar.gz" -C "$work" logs data-copy 2>/dev/null || \
  tar -czf "$OUT/validate-gpu-run.tar.gz" -C "$work" logs
note "done in $(( $(date +%s) - start )) s; records: $data; everything: $OUT/validate-gpu-run.tar.gz"
echo
echo "================ summary ================"
cat "$summary"
