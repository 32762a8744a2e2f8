#!/usr/bin/env bash
# The decode kernels' GPU run (issue 7): build only what is needed for sm_90a, CPU tests, GPU
# correctness (random + realistic, both gates), compute-sanitizer memcheck + racecheck on small shapes,
# the timing sweep with PyTorch SDPA (FA2, cuDNN) and FlashInfer baselines in the same run, the SASS
# check, the results table. Writes to $OUT (<= 8 files): gpu_run.log, decode_correctness.jsonl,
# decode_kernels.jsonl, decode_torch.jsonl, decode_sass.json, decode_table.md, decode_all.tar.gz.
# Usage (repo root, GPU machine): OUT=/path bash validate/kernels/decode/gpu_run.sh [--quick]
# Never stops at the first failure: every step runs, the log says which failed; exit 1 if any did.
set -u
root="$(cd "$(dirname "$0")/../../.." && pwd)"
OUT="${OUT:-$root/decode_gpu_out}"
mkdir -p "$OUT"
log="$OUT/gpu_run.log"
work="$(mktemp -d)"
quick=""
[[ "${1:-}" == "--quick" ]] && quick="--quick"
exec > >(tee -a "$log") 2>&1
status=0
step() { echo; echo "=== $1 ($(date -u +%H:%M:%S))"; }
fail() { echo "!!! $1"; status=1; }
export PATH="/usr/local/cuda/bin:$PATH"

step "device"
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,clocks.mem,power.draw,temperature.gpu,driver_version --format=csv || true
nvcc --version | tail -1

step "configure + build (sm_90a, only the decode targets)"
build="$root/build-decode-gpu"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES=90a-real \
  -DROOFLINE_ENABLE_CUDA=ON -DROOFLINE_GPU_TESTS=ON -DROOFLINE_BUILD_TESTS=ON -DROOFLINE_BUILD_APPS=OFF \
  -DROOFLINE_BUILD_BENCHMARKS=OFF -DCMAKE_CUDA20_STANDARD_COMPILE_OPTION=-std=c++20 \
  -DCMAKE_CUDA20_EXTENSION_COMPILE_OPTION=-std=c++20 > "$work/cmake.log" 2>&1 || { cat "$work/cmake.log"; fail "cmake"; }
time cmake --build "$build" -j "$(nproc)" --target decode_gpu_test decode_bench \
  > "$work/build.log" 2>&1 || { tail -60 "$work/build.log"; fail "build"; }
# The CPU test targets exist only where doctest is installed.
cmake --build "$build" -j "$(nproc)" --target test_decode_cpu test_kernels_common >> "$work/build.log" 2>&1 ||
  echo "(CPU test targets not built here: doctest missing? they run in CI)"
grep -E "spill|stack frame" "$work/build.log" | sort -u | head -20
bin="$build/validate/kernels/decode"

step "CPU tests (references, packing, cost, arguments)"
for t in "$build/validate/kernels/common/test_kernels_common" "$bin/test_decode_cpu"; do
  if [[ -x "$t" ]]; then "$t" --no-intro=true | tail -3; [[ ${PIPESTATUS[0]} -eq 0 ]] || fail "$(basename "$t")"; fi
done

step "GPU correctness (full) and compute-sanitizer memcheck/racecheck (small shapes, in parallel)"
( timeout 200 compute-sanitizer --tool memcheck --leak-check full --error-exitcode 9 "$bin/decode_gpu_test" --small \
    > "$work/memcheck.log" 2>&1; echo "memcheck exit $?" >> "$work/memcheck.log" ) &
mc=$!
timeout 180 "$bin/decode_gpu_test" --out "$OUT/decode_correctness.jsonl" || fail "decode_gpu_test (see above)"
wait $mc
tail -4 "$work/memcheck.log"
grep -q "memcheck exit 0" "$work/memcheck.log" || fail "memcheck"
timeout 150 compute-sanitizer --tool racecheck --racecheck-report all --error-exitcode 9 "$bin/decode_gpu_test" --small \
  > "$work/racecheck.log" 2>&1; rc=$?
tail -4 "$work/racecheck.log"; echo "racecheck exit $rc"
[[ $rc -eq 0 ]] || fail "racecheck"

step "timing sweep: our kernels"
timeout 300 "$bin/decode_bench" --out "$OUT" $quick || fail "decode_bench"

step "timing sweep: PyTorch SDPA (flash, cuDNN) and FlashInfer, same run"
python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)" || true
if ls "$root"/.whl/*.whl > /dev/null 2>&1; then
  python3 -m pip install --no-deps --no-index --quiet "$root"/.whl/*.whl > "$work/pip.log" 2>&1 || tail -5 "$work/pip.log"
fi
timeout 240 python3 "$root/validate/kernels/decode/torch_baselines.py" --out "$OUT" $quick || fail "torch_baselines"

step "SASS: instructions each kernel claims"
objs=$(find "$build/validate/kernels/decode" -name "*.cu.o" | sort)
python3 "$root/validate/kernels/decode/sass_check.py" "$OUT/decode_sass.json" $objs || fail "sass_check"

step "results table"
python3 "$root/validate/kernels/decode/make_table.py" "$OUT" > "$OUT/decode_table.md" || fail "make_table"
head -40 "$OUT/decode_table.md"

cp "$work"/*.log "$OUT/" 2>/dev/null
tar -czf "$work/decode_all.tar.gz" -C "$OUT" $(cd "$OUT" && ls) 2>/dev/null
rm -f "$OUT"/cmake.log "$OUT"/build.log "$OUT"/memcheck.log "$OUT"/racecheck.log "$OUT"/pip.log
mv "$work/decode_all.tar.gz" "$OUT/"
echo; echo "gpu_run.sh: done, status $status; files in $OUT:"; ls -la "$OUT"
exit $status
