#!/usr/bin/env bash
# CLI behaviour: exit codes, error messages on bad input, the JSON report against its golden file.
# Usage: tests/cli_tests.sh path/to/roofline source_dir
set -uo pipefail
cli="$1"
src="$2"
export ROOFLINE_DATA_DIR="$src"
failures=0
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# expect RC PATTERN -- ARGS...: runs the CLI, checks the exit code and that stderr+stdout match PATTERN.
expect() {
  local rc="$1" pattern="$2"
  shift 3
  local out
  out="$("$cli" "$@" 2>&1)"
  local got=$?
  if [[ $got -ne $rc ]] || ! grep -qE -- "$pattern" <<<"$out"; then
    echo "FAIL: roofline $* -> rc $got (want $rc), output:"
    echo "$out" | head -5
    echo "  (wanted /$pattern/)"
    failures=$((failures + 1))
  fi
}

expect 0 "h100_sxm" -- hw list
expect 0 "datasheet sparse / 2" -- hw show h100_sxm
expect 0 "llama3-8b" -- models list
expect 2 "unknown GPU 'h900'; known: a100_sxm_80gb" -- report --model llama3-8b --hw h900 --seq-len 10
expect 2 "unknown model 'llama4'; known: llama3-70b" -- report --model llama4 --hw h100_sxm --seq-len 10
expect 2 "batch: must be >= 1, got 0" -- report --model llama3-8b --hw h100_sxm --seq-len 10 --batch 0
expect 2 "seq_len: must be >= 1, got -5" -- report --model llama3-8b --hw h100_sxm --seq-len -5
expect 2 "give either --hw or --hw-file, not both" -- report --model llama3-8b --hw h100_sxm --hw-file "$src/hw_profiles/gb10.yaml" --seq-len 10
expect 2 "hw_negative_bandwidth.yaml:26:34: memory.bandwidth_bytes_per_s.value: must be > 0, got -1" -- report --model llama3-8b --hw-file "$src/tests/data/bad/hw_negative_bandwidth.yaml" --seq-len 10
expect 2 "model_kv_heads_not_divide.yaml:9:15: num_kv_heads" -- report --model-file "$src/tests/data/bad/model_kv_heads_not_divide.yaml" --hw h100_sxm --seq-len 10
expect 2 "unknown precision 'fp6'" -- report --model llama3-8b --hw h100_sxm --seq-len 10 --weights fp6
expect 2 "phase: training not in" -- report --model llama3-8b --hw h100_sxm --seq-len 10 --phase training
expect 0 "fits          NO: weights" -- report --model llama3-70b --hw h100_sxm --seq-len 128
expect 2 "FlashAttention-3 needs Hopper" -- report --model llama3-8b --hw a100_sxm_80gb --seq-len 128 --phase prefill --attention fa3 --format json
expect 0 "w4a16_aggressive +int4 +bf16" -- strategies list
expect 0 "runs weight-only: nvfp4 weights dequantised to 16-bit in the main loop" -- strategies show nvfp4_blackwell --hw h100_sxm
# The H200's measured cuBLASLt choice for fp8 k/v_proj at M <= 4 (calibration/h200_sxm.json: gemm_exceptions).
expect 0 "^k_proj\[0-31\] \* " -- report --model llama3-8b --hw h200_sxm --phase decode --seq-len 2048 --batch 1 --weights fp8_e4m3
expect 0 "^\* a GEMM library kernel choice measured on this GPU" -- report --model llama3-8b --hw h200_sxm --phase decode --seq-len 2048 --batch 1 --weights fp8_e4m3
expect 0 "precision fp8_balanced \(KV fp8_e4m3\)" -- report --model llama3-8b --hw h100_sxm --seq-len 4096 --strategy fp8_balanced
expect 0 "note: strategy fp8_balanced on a100_sxm_80gb: kv_cache \(all layers\) emulated" -- report --model llama3-8b --hw a100_sxm_80gb --seq-len 4096 --strategy fp8_balanced
expect 2 "strategy 'nvfp4_blackwell' is refused on h100_sxm \(policy refuse\): q_proj \(all layers\)" -- report --model llama3-8b --hw h100_sxm --seq-len 4096 --strategy nvfp4_blackwell --policy refuse
expect 2 "give either a strategy \(--strategy, --strategy-file\) or --weights/--activations/--kv-cache, not both" -- report --model llama3-8b --hw h100_sxm --seq-len 4096 --strategy fp8_balanced --kv-cache bf16
expect 2 "give either --strategy or --strategy-file, not both" -- report --model llama3-8b --hw h100_sxm --seq-len 4096 --strategy fp8_balanced --strategy-file "$src/strategies/fp8_balanced.yaml"
expect 2 "unknown strategy 'int2'; known: fp16_baseline" -- report --model llama3-8b --hw h100_sxm --seq-len 4096 --strategy int2
expect 2 "strategy_overlapping_bands.yaml:21:13: bands\[1\].layers: fraction 0.25-1 of depth overlaps" -- report --model llama3-8b --hw h100_sxm --seq-len 4096 --strategy-file "$src/tests/data/bad/strategy_overlapping_bands.yaml"
expect 2 "record_foreign_schema.jsonl:2: schema: expected" -- calibrate "$src/tests/data/bad/record_foreign_schema.jsonl" --dry-run

# kernel-choices: records without cuBLASLt's algorithm write nothing and say so; a good run writes the
# choices of the records' GPU, which load back as that GPU's (the choice of the fp8 N 1024 K 4096 GEMM at M 1).
expect 2 "no GEMM record of h100_sxm carries cuBLASLt's algorithm; nothing written" -- kernel-choices "$src/tests/data/charts/records_h100.jsonl" --hw h100_sxm --out "$tmp/none.json"
[[ -e "$tmp/none.json" ]] && { echo "FAIL: kernel-choices wrote a file without choices"; failures=$((failures + 1)); }
expect 0 "kernel choices of h200_sxm" -- kernel-choices "$src/validate/data/h200_sxm/gemm.jsonl" --out "$tmp/choices.json"
grep -q '"kernel": "nvjet_sm90_qqtst_8x64_128x16_2x1_v_bz_algo2_TNN"' "$tmp/choices.json" ||
  { echo "FAIL: kernel-choices lacks the H200's 8x64 fp8 pick"; failures=$((failures + 1)); }

# Batch prediction: a bad line gets an error object in its place, the others are predicted, exit 1.
printf '%s\n' '{"op":"gemm","m":1,"n":4096,"k":4096,"dtype":"bf16"}' '{"op":"gemm","m":0,"n":1,"k":1,"dtype":"bf16"}' \
  '{"op":"launch","graph":false}' >"$tmp/w.jsonl"
"$cli" predict --hw h100_sxm --workloads "$tmp/w.jsonl" >"$tmp/out.jsonl" 2>"$tmp/err"
rc=$?
if [[ $rc -ne 1 || $(wc -l <"$tmp/out.jsonl") -ne 3 ]] || ! sed -n 2p "$tmp/out.jsonl" | grep -q '"error":".*m: must be >= 1, got 0"' ||
  ! sed -n 1p "$tmp/out.jsonl" | grep -q '"predicted_s"' || ! sed -n 3p "$tmp/out.jsonl" | grep -q '"interval_s"'; then
  echo "FAIL: predict with a bad line (rc $rc)"
  cat "$tmp/out.jsonl"
  failures=$((failures + 1))
fi

# An output file is written atomically: a failing run leaves the previous file untouched.
echo "previous" >"$tmp/report.txt"
"$cli" report --model llama3-8b --hw h100_sxm --seq-len 0 --out "$tmp/report.txt" >/dev/null 2>&1
if [[ "$(cat "$tmp/report.txt")" != "previous" ]]; then
  echo "FAIL: a failed report overwrote its output file"
  failures=$((failures + 1))
fi

# The JSON report against its golden file (A100: no calibration for Ampere, so the documented priors).
"$cli" report --model llama3-8b --hw a100_sxm_80gb --phase decode --seq-len 4096 --batch 8 --format json >"$tmp/report.json"
if ! python3 "$src/tests/compare_json.py" "$src/tests/data/golden/report_llama3-8b_a100_decode_b8_s4096.json" "$tmp/report.json"; then
  echo "FAIL: JSON report differs from its golden file"
  failures=$((failures + 1))
fi

# recommend and compare-fa (issue 6): refusals with reasons, bad input, JSON fields.
expect 0 "strategy +fp8_balanced" -- recommend --model llama3-8b --hw h100_sxm --phase decode --seq-len 4096
expect 0 "fp8_balanced as designed: .*tc_fp8 tensor cores, which a100_sxm_80gb \(sm_80\) lacks" -- recommend --model llama3-8b --hw a100_sxm_80gb --seq-len 4096
expect 0 '"predicted_speedup"' -- recommend --inline H=4096,L=32,nh=32,nkv=8,dh=128,dff=14336 --hw gb10 --seq-len 4096 --format json
expect 0 "largest power of two that fits" -- recommend --model llama3-8b --hw h200_sxm --seq-len 32768 --objective throughput
expect 1 "none: nothing fits on h100_sxm" -- recommend --model llama3.1-405b --hw h100_sxm --seq-len 4096
expect 2 "inline model: unknown key 'heads'" -- recommend --inline H=4096,heads=3 --hw gb10 --seq-len 10
expect 2 "give either --inline or --model" -- recommend --inline H=1 --model llama3-8b --hw gb10 --seq-len 10
expect 2 "quality_budget: must be a percentage >= 0" -- recommend --model llama3-8b --hw gb10 --seq-len 10 --quality-budget -1
expect 2 "objective: speed not in" -- recommend --model llama3-8b --hw gb10 --seq-len 10 --objective speed
expect 0 "refused  fa3: FlashAttention-3 needs Hopper wgmma and TMA \(sm_90a\); a100_sxm_80gb is sm_80" -- compare-fa --hw a100_sxm_80gb --seq-len 4096
expect 0 "q2fp8" -- compare-fa --hw h100_sxm --phase decode --seq-len 32768 --heads 32 --kv-heads 8 --variants --skip 0.9
expect 0 '"block_kv": 176' -- compare-fa --hw h100_sxm --phase decode --seq-len 4096 --heads 32 --kv-heads 8 --format json
expect 2 "attention: kv_heads 6 does not divide q_heads 32" -- compare-fa --hw h100_sxm --seq-len 128 --heads 32 --kv-heads 6

if [[ $failures -ne 0 ]]; then
  echo "cli_tests: $failures failure(s)"
  exit 1
fi
echo "cli_tests: all passed"
