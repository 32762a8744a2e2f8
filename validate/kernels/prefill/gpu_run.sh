#!/usr/bin/env bash
# The prefill kernels' whole GPU run, in one go (about 5 minutes on an H100):
#   build (sm_90a, only what is needed) → CPU tests → correctness (random + realistic, D 64/128, causal and
#   not, GQA, Sq != Skv) → compute-sanitizer memcheck + racecheck (small shapes) → timings (S 1K..16K,
#   B·S = 16K, HQ 32, HKV 8, D 128 and D 64 at 4K) with PyTorch SDPA flash + cuDNN in the same run →
#   SASS check (cuobjdump) → report.
# Usage, from the repository root on the GPU machine:  OUT=/some/dir validate/kernels/prefill/gpu_run.sh
# Knobs: PREFILL_BUILD (build dir, default build-prefill), PREFILL_QUICK=1 (fewer shapes),
#        PREFILL_SKIP_SANITIZE=1, PREFILL_SKIP_TORCH=1, PREFILL_HW (hw profile, default h100_sxm).
# $OUT receives 8 files: prefill_results.tgz (everything, logs included), prefill_timing.jsonl,
# prefill_prologue.jsonl, prefill_torch.jsonl, prefill_accuracy.jsonl, sass_summary.json, report.md, run.log.
set -uo pipefail
root="$(cd "$(dirname "$0")/../../.." && pwd)"
out="${OUT:-$root/prefill-out}"
build="${PREFILL_BUILD:-$root/build-prefill}"
hw="${PREFILL_HW:-h100_sxm}"
quick=()
[[ "${PREFILL_QUICK:-0}" == 1 ]] && quick=(--quick)
mkdir -p "$out/logs"
logs="$out/logs"
here="$root/validate/kernels/prefill"
start=$SECONDS
log() { echo "[$(date -u +%H:%M:%S) +$((SECONDS - start))s] $*" | tee -a "$out/run.log"; }

log "prefill gpu_run: root $root, out $out, build $build"
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,clocks.mem,power.draw,temperature.gpu --format=csv \
  > "$logs/nvidia-smi.csv" 2>&1 || true
cat "$logs/nvidia-smi.csv" >> "$out/run.log"

# ---- build ----------------------------------------------------------------------------------------------
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES=90a-real -DROOFLINE_ENABLE_CUDA=ON \
  -DROOFLINE_GPU_TESTS=ON -DROOFLINE_BUILD_APPS=OFF -DROOFLINE_BUILD_BENCHMARKS=OFF > "$logs/cmake.log" 2>&1
log "configure rc=$?"
cmake --build "$build" -j "$(nproc)" --target prefill_bench test_prefill_cpu > "$logs/build.log" 2>&1
rc=$?
log "build rc=$rc"
grep -E "ptxas warning|spill" "$logs/build.log" | sort -u | head -40 >> "$out/run.log"
bin="$build/validate/kernels/prefill/prefill_bench"
if [[ $rc -ne 0 || ! -x "$bin" ]]; then
  tail -60 "$logs/build.log"
  log "build failed; stopping"
  tar czf "$out/prefill_results.tgz" -C "$out" logs run.log
  exit 1
fi

# ---- CPU tests (references, packing, cost model, fragment emulation) -----------------------------------
"$build/validate/kernels/prefill/test_prefill_cpu" > "$logs/cpu_tests.log" 2>&1
log "cpu tests rc=$? ($(tail -1 "$logs/cpu_tests.log"))"

# ---- correctness -----------------------------------------------------------------------------------------
"$bin" --mode check --out "$out" "${quick[@]}" > "$logs/check.log" 2>&1
log "check rc=$? (0 = every gate passed; per-case lines in logs/check.log)"
grep -E "FAIL|ERROR" "$logs/check.log" | head -40 | tee -a "$out/run.log"
tail -1 "$logs/check.log" | tee -a "$out/run.log"

# ---- compute-sanitizer -------------------------------------------------------------------------------------
if [[ "${PREFILL_SKIP_SANITIZE:-0}" != 1 ]]; then
  if command -v compute-sanitizer > /dev/null; then
    timeout 240 compute-sanitizer --tool memcheck --error-exitcode 3 "$bin" --mode sanitize > "$logs/memcheck.log" 2>&1
    log "memcheck rc=$? ($(grep -E 'ERROR SUMMARY' "$logs/memcheck.log" | tail -1))"
    timeout 300 compute-sanitizer --tool racecheck --racecheck-report hazard --error-exitcode 3 "$bin" --mode sanitize \
      > "$logs/racecheck.log" 2>&1
    log "racecheck rc=$? ($(grep -E 'RACECHECK SUMMARY|ERROR SUMMARY' "$logs/racecheck.log" | tail -1))"
  else
    log "compute-sanitizer not found"
  fi
fi

# ---- timings: our kernels, then the PyTorch references --------------------------------------------------------
"$bin" --mode time --out "$out" --hw "$hw" "${quick[@]}" > "$logs/time.log" 2>&1
log "timing rc=$?"
if [[ "${PREFILL_SKIP_TORCH:-0}" != 1 ]]; then
  python3 "$here/torch_baselines.py" --out "$out" --hw "$hw" "${quick[@]}" > "$logs/torch.log" 2>&1
  log "torch baselines rc=$?"
fi
nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu,clocks_event_reasons.active --format=csv \
  >> "$logs/nvidia-smi.csv" 2>&1 || true

# ---- SASS ---------------------------------------------------------------------------------------------------
if command -v cuobjdump > /dev/null; then
  cuobjdump --dump-sass "$bin" > "$logs/sass.txt" 2>&1
  python3 "$here/make_report.py" --sass "$logs/sass.txt" --sass-out "$out/sass_summary.json" | tee -a "$out/run.log"
  gzip -f "$logs/sass.txt"
else
  log "cuobjdump not found"
fi

# ---- report -------------------------------------------------------------------------------------------------
python3 "$here/make_report.py" --dir "$out" --out "$out/report.md" >> "$out/run.log" 2>&1
log "report rc=$?"
tar czf "$out/prefill_results.tgz" -C "$out" logs run.log report.md prefill_timing.jsonl prefill_prologue.jsonl \
  prefill_torch.jsonl prefill_accuracy.jsonl sass_summary.json 2> /dev/null
rm -rf "$logs"
log "done in $((SECONDS - start)) s"
sed -n '/### Targets/,/### Quantisation/p' "$out/report.md"
tail -3 "$out/run.log"
