#!/usr/bin/env python3
"""Re-applies the fp8 numerics gate of model_step records with the gate model_step.py now uses.

The first H100 run (2026-11-22) gated the tiny random-weight check of fp8 steps at cosine >= 0.99 against the
bf16 step; random 2-4-layer models with static per-tensor scales landed at 0.983-0.989 and 89 otherwise valid
timings were recorded as errors. The check exists to catch wrong positions, KV slots and scales (which give
cosines near 0), not to measure fp8 quality (docs/quantization-error.md does that), so the gate is now 0.98.
This script rewrites only records whose sole failure is that gate and whose numerics are stored in extra;
the timing is untouched and extra.numerics_regate says what was done. Usage: regate.py FILE.jsonl (in place).
"""
import json
import os
import sys
import tempfile

GATE = 0.98


def regate(rec):
    if rec.get("status") != "error" or not rec.get("error", "").startswith("numerics check failed"):
        return rec, False
    num = rec.get("extra", {}).get("numerics") or {}
    checks = [v for k, v in num.items() if isinstance(v, dict)]
    if not checks or "time_s" not in rec:
        return rec, False
    for c in checks:
        if not (c.get("finite") and c.get("graph_equals_eager") and c.get("cosine_vs_bf16", 1.0) >= GATE):
            return rec, False
    for c in checks:
        c["pass"] = True
    num["pass"] = True
    rec["status"] = "ok"
    del rec["error"]
    rec["extra"]["numerics_regate"] = f"fp8 cosine gate 0.99 -> {GATE} applied after the run by validate/torch/regate.py"
    return rec, True


def main(path):
    out, changed = [], 0
    with open(path) as f:
        for line in f:
            if not line.strip():
                continue
            rec, did = regate(json.loads(line))
            changed += did
            out.append(json.dumps(rec))
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)))
    with os.fdopen(fd, "w") as f:
        f.write("\n".join(out) + "\n")
    os.replace(tmp, path)
    print(f"{path}: {changed} records re-gated")


if __name__ == "__main__":
    for p in sys.argv[1:]:
        main(p)
