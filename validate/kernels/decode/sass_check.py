#!/usr/bin/env python3
"""Checks the SASS of the decode kernels for the instructions each one claims (cuobjdump --dump-sass).

Claims (docs/kernels-decode.md): every attention kernel uses tensor cores through mma.sync (HMMA, .F16
for Q2FP8/FP8FP8, .BF16 for the bf16 baseline) and cp.async (LDGSTS); the e5m2 kernels convert with the
hardware fp8 -> f16x2 conversion (F2FP); the 2-bit decode uses HFMA2 (the magic-number code decode);
the producer uses HMMA.BF16; no kernel touches local memory (LDL/STL: spills or indexed arrays).
Usage: sass_check.py OUT.json OBJECT... (exit 1 when a claim fails)
"""
import json
import re
import subprocess
import sys

CLAIMS = [
    # (kernel-name regex, required opcode regexes, label)
    (r"pruned_decode_kernelILi0E", [r"HMMA\.16816\.F32(?!\.BF16)", r"LDGSTS", r"HFMA2"], "q2fp8 stage1+2"),
    (r"pruned_decode_kernelILi1E", [r"HMMA\.16816\.F32(?!\.BF16)", r"LDGSTS", r"F2FP"], "fp8fp8 stage1+2"),
    (r"dense_decode_kernelILi\d+ELi\dELb1E", [r"HMMA\.16816\.F32\.BF16", r"LDGSTS"], "dense bf16"),
    (r"kproj_rope_kernel", [r"HMMA\.16816\.F32\.BF16", r"LDGSTS"], "producer"),
    (r"quantize_fp8fp8_kernel", [r"F2FP"], "fp8 quantiser"),
]


def functions(sass):
    cur, body = None, []
    for line in sass.splitlines():
        m = re.match(r"\s*Function : (\S+)", line)
        if m:
            if cur:
                yield cur, "\n".join(body)
            cur, body = m.group(1), []
        elif cur:
            body.append(line)
    if cur:
        yield cur, "\n".join(body)


def main():
    out, objs = sys.argv[1], sys.argv[2:]
    result = {"kernels": {}, "failures": []}
    for obj in objs:
        try:
            sass = subprocess.run(["cuobjdump", "--dump-sass", obj], capture_output=True, text=True, timeout=300).stdout
        except Exception as e:  # noqa: BLE001
            result["failures"].append(f"{obj}: cuobjdump failed: {e}")
            continue
        for name, body in functions(sass):
            ops = re.findall(r"/\*[0-9a-f]{4}\*/\s+(?:@!?U?P\d\s+)?([A-Z][A-Z0-9_.]+)", body)
            counts = {}
            for op in ops:
                counts[op] = counts.get(op, 0) + 1
            entry = {"object": obj.split("/")[-1], "instructions": len(ops),
                     "hmma": sum(c for o, c in counts.items() if o.startswith("HMMA")),
                     "ldgsts": sum(c for o, c in counts.items() if o.startswith("LDGSTS")),
                     "f2fp": sum(c for o, c in counts.items() if o.startswith("F2FP")),
                     "hfma2": sum(c for o, c in counts.items() if o.startswith("HFMA2")),
                     "local_memory": sum(c for o, c in counts.items() if o.startswith(("LDL", "STL"))),
                     "opcodes": sorted(o for o in counts if o.startswith(("HMMA", "F2FP", "HGMMA", "QGMMA", "IMMA")))}
            for rx, needs, label in CLAIMS:
                if re.search(rx, name):
                    entry["claim"] = label
                    missing = [n for n in needs if not any(re.match(n, o) for o in counts)]
                    entry["missing"] = missing
                    if missing:
                        result["failures"].append(f"{label} {name}: missing {missing}")
            result["kernels"][name] = entry
    checked = [k for k, v in result["kernels"].items() if "claim" in v]
    result["checked"] = len(checked)
    with open(out, "w") as f:
        json.dump(result, f, indent=1)
    for k in checked:
        e = result["kernels"][k]
        print(f"  {e['claim']:16s} HMMA {e['hmma']:4d} LDGSTS {e['ldgsts']:4d} F2FP {e['f2fp']:4d} HFMA2 {e['hfma2']:4d} "
              f"LDL/STL {e['local_memory']:3d}  {k[:90]}")
    print(f"sass_check: {len(checked)} kernels checked, {len(result['failures'])} failures")
    for f in result["failures"]:
        print("  FAIL", f)
    return 1 if result["failures"] or not checked else 0


if __name__ == "__main__":
    sys.exit(main())
