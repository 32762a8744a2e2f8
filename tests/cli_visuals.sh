#!/usr/bin/env bash
# `roofline report --svg/--html`: both files written, well-formed, self-contained; measured ceilings from
# --records; bad --records paths rejected with exit code 2 and nothing written.
# Usage: tests/cli_visuals.sh path/to/roofline source_dir
set -uo pipefail
cli="$1"
src="$2"
export ROOFLINE_DATA_DIR="$src"
failures=0
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

"$cli" report --model llama3-8b --hw h100_sxm --phase decode --seq-len 4096 --batch 8 \
  --svg "$tmp/r.svg" --html "$tmp/r.html" >"$tmp/stdout" 2>"$tmp/stderr" || fail "report --svg --html: exit $? ($(cat "$tmp/stderr"))"
grep -q "step time" "$tmp/stdout" || fail "the text report is still printed with --svg/--html"
python3 - "$tmp/r.svg" "$tmp/r.html" <<'PY' || fail "SVG or HTML content"
import sys, xml.etree.ElementTree as ET
svg = ET.parse(sys.argv[1]).getroot()
ns = "{http://www.w3.org/2000/svg}"
assert svg.tag == ns + "svg", svg.tag
classes = [e.get("class", "") for e in svg.iter()]
decode = sum("point" in c.split() and "decode" in c.split() for c in classes)
prefill = sum("point" in c.split() and "prefill" in c.split() for c in classes)
assert decode >= 10 and prefill >= 10, (decode, prefill)   # both phases are drawn
html = open(sys.argv[2], encoding="utf-8").read()
ET.fromstring(html[html.index("<html"):])                  # well-formed
for bad in ("<script", "<link", " src=", "https://"):
    assert bad not in html, bad
assert html.count("<svg") == 4, html.count("<svg")
PY

# Measured ceilings from a records file: dashed ceilings on the chart.
"$cli" report --model llama3-8b --hw h100_sxm --seq-len 512 --svg "$tmp/m.svg" \
  --records "$src/tests/data/charts/records_h100.jsonl" --measured-kernels >/dev/null 2>"$tmp/stderr" || fail "--records: exit $?"
grep -q 'class="ceiling measured"' "$tmp/m.svg" || fail "no measured ceiling drawn with --records"
grep -q 'class="memory-roof measured"' "$tmp/m.svg" || fail "no measured memory roof drawn with --records"
grep -q 'class="connector"' "$tmp/m.svg" || fail "no measured kernel drawn with --measured-kernels"
"$cli" report --model llama3-8b --hw h100_sxm --seq-len 512 --svg "$tmp/n.svg" \
  --records "$src/tests/data/charts/records_h100.jsonl" --no-records >/dev/null 2>&1 || fail "--no-records: exit $?"
grep -q 'measured' "$tmp/n.svg" && fail "--no-records still drew measured ceilings"

# Bad input: exit 2, a message naming the problem, no file left behind.
out="$("$cli" report --model llama3-8b --hw h100_sxm --seq-len 512 --svg "$tmp/x.svg" --records "$tmp/none.jsonl" 2>&1)"
rc=$?
[[ $rc -eq 2 && "$out" == *"--records: no such file or directory"* ]] || fail "missing --records file: rc $rc, $out"
[[ -e "$tmp/x.svg" ]] && fail "an SVG was written although the command failed"
out="$("$cli" report --model llama3-8b --hw h100_sxm --seq-len 512 --svg "$tmp/y.svg" \
  --records "$src/tests/data/bad/record_zero_m.jsonl" 2>&1)"
rc=$?
[[ $rc -eq 2 && "$out" == *"record_zero_m.jsonl:1: workload.m: must be >= 1, got 0"* ]] || fail "bad record: rc $rc, $out"
out="$("$cli" report --model llama3-8b --hw h100_sxm --seq-len 512 --svg "$tmp/no/such/dir/z.svg" 2>&1)"
[[ $? -eq 2 ]] || fail "unwritable --svg path: $out"

if ((failures)); then
  echo "cli_visuals: $failures failure(s)"
  exit 1
fi
echo "cli_visuals: all checks passed"
