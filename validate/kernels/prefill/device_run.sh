#!/usr/bin/env bash
# The prefill kernels' GPU run with prebuilt binaries (scripts/device/prepare.sh stages them):
#   validate/kernels/prefill/device_run.sh BIN_DIR OUT_DIR [--quick]
set -uo pipefail
bin="$1"; out="$2/prefill"; quick="${3:-}"
root="$(cd "$(dirname "$0")/../../.." && pwd)"
here="$root/validate/kernels/prefill"
hw="$("$bin/roofline-validate" --print-hw 2>/dev/null || echo h100_sxm)"
mkdir -p "$out/logs"
echo "== CPU tests"; "$bin/test_prefill_cpu" --no-intro=true | tail -2
echo "== correctness"; timeout 150 "$bin/prefill_bench" --mode check --out "$out" $quick > "$out/logs/check.log" 2>&1; echo "check rc=$?"
grep -v " PASS$" "$out/logs/check.log" | head -30
echo "== memcheck"; timeout 120 compute-sanitizer --tool memcheck --error-exitcode 3 "$bin/prefill_bench" --mode sanitize > "$out/logs/memcheck.log" 2>&1; echo "memcheck rc=$? $(grep 'ERROR SUMMARY' "$out/logs/memcheck.log" | tail -1)"
echo "== racecheck"; timeout 150 compute-sanitizer --tool racecheck --racecheck-report hazard --error-exitcode 3 "$bin/prefill_bench" --mode sanitize > "$out/logs/racecheck.log" 2>&1; echo "racecheck rc=$? $(grep -E 'RACECHECK SUMMARY|ERROR SUMMARY' "$out/logs/racecheck.log" | tail -1)"
echo "== timing"; timeout 200 "$bin/prefill_bench" --mode time --out "$out" --hw "$hw" $quick > "$out/logs/time.log" 2>&1; echo "time rc=$?"; tail -5 "$out/logs/time.log"
timeout 150 python3 "$here/torch_baselines.py" --out "$out" --hw "$hw" $quick > "$out/logs/torch.log" 2>&1; echo "torch rc=$?"
echo "== SASS"; cuobjdump --dump-sass "$bin/prefill_bench" > "$out/logs/sass.txt" 2>&1
python3 "$here/make_report.py" --sass "$out/logs/sass.txt" --sass-out "$out/sass_summary.json" 2>&1 | tail -12; gzip -f "$out/logs/sass.txt"
python3 "$here/make_report.py" --dir "$out" --out "$out/report.md" > /dev/null 2>&1; sed -n '/### Targets/,/### Quantisation/p' "$out/report.md" | head -40
