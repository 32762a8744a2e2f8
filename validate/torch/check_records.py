#!/usr/bin/env python3
"""Validates measurement records (JSON Lines) against docs/measurement-records.md, schema
roofline.measurement.v1, and the rules of the C++ reader that loads them (lib/calibration.cpp,
lib/workload.cpp): required keys, no unknown keys, types, the status/error rules, time_s consistency,
each workload op's keys and values, kernels_per_call >= 1, driver / CUDA runtime strings.

Attention kernel names the C++ reader does not know yet (PENDING_ATTENTION_KERNELS, e.g. the
memory-efficient SDPA backend's `mem_efficient`) are accepted only with --allow-pending; run_all.py
writes such records to a file of their own so that the other files load today.

Usage: check_records.py [--allow-pending] FILE.jsonl [FILE.jsonl ...]   (exit 0 when all are valid)
Pure standard library: runs anywhere, no torch needed.
"""
from __future__ import annotations

import json
import math
import re
import sys
from typing import Any, Dict, List, Tuple

SCHEMA = "roofline.measurement.v1"
TOP_REQUIRED = ("schema", "suite", "label", "workload", "status", "timing", "counters",
                "predicted_s", "device", "timestamp")
TOP_OPTIONAL = ("error", "time_s", "extra")
TIMING_METHODS = ("cupti_activity", "cuda_graph_events", "cuda_events")
L2_STATES = ("cold_rotating", "cold_flushed", "cold_working_set", "warm")
TORCH_SUITES = ("sdpa", "sdpa_holdout", "sdpa_headdim", "sdpa_random", "sdpa_fresh", "sdpa_fresh2", "sdpa_fresh3",
                "sdpa_fresh4", "model_step", "torch_elementwise")
ELEMENTWISE_KINDS = ("rmsnorm", "rope", "silu_mul", "add", "kv_write", "quantize_fp8", "embedding")
# lib/operators.cpp attention_kernel_names (main, 2026-11): the names the reader parses
ATTENTION_KERNELS = ("unfused", "fa1", "fa2", "fa3", "fa4", "cudnn", "splitkv_bf16", "q2fp8", "fp8fp8",
                     "sage_int8_fp16", "sage_int8_fp8")
PENDING_ATTENTION_KERNELS = ("mem_efficient",)
TIMESTAMP_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")

# (key, kind, allowed values or None). kind: int (> 0), bool, str, num.
WORKLOADS: Dict[str, Dict[str, Any]] = {
    "gemm": {"required": [("m", "int", None), ("n", "int", None), ("k", "int", None),
                          ("dtype", "str", ("bf16", "fp16", "fp8_e4m3", "int8"))],
             "optional": []},
    "attention": {"required": [("phase", "str", ("prefill", "decode")), ("batch", "int", None),
                               ("q_heads", "int", None), ("kv_heads", "int", None), ("q_len", "int", None),
                               ("kv_len", "int", None), ("head_dim", "int", None), ("causal", "bool", None),
                               ("dtype", "str", ("bf16", "fp16", "fp8_e4m3")), ("kernel", "str", None)],
                  "optional": [("skip_fraction", "fraction", None), ("window", "int", None)]},
    "model_step": {"required": [("model", "str", None), ("phase", "str", ("prefill", "decode")),
                                ("batch", "int", None), ("context", "int", None),
                                ("weights", "str", ("bf16", "fp8_e4m3")), ("kv_cache", "str", ("bf16", "fp8_e4m3"))],
                   "optional": [("num_layers", "int", None)]},
    "stream": {"required": [("kind", "str", ("read", "write", "copy")), ("bytes", "int", None)],
               "optional": []},
    "elementwise": {"required": [("kind", "str", ELEMENTWISE_KINDS), ("rows", "int", None),
                                 ("cols", "int", None), ("dtype", "str", ("bf16", "fp16", "fp32"))],
                    "optional": []},
    "launch": {"required": [("graph", "bool", None)], "optional": []},
}

DEVICE_KEYS = {  # key -> allowed python types (None = JSON null allowed)
    "name": (str,), "hw_profile": (str,), "compute_capability": (str,), "sm_count": (int,),
    "l2_bytes": (int,), "memory_bytes": (int,), "sm_clock_hz": (int, float, None),
    "mem_clock_hz": (int, float, None), "clock_note": (str,), "driver": (str,),
    "cuda_runtime": (str,), "torch": (str, None),
}


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v: Any) -> bool:
    return (isinstance(v, (int, float)) and not isinstance(v, bool)
            and math.isfinite(float(v)))


def _check_value(path: str, v: Any, kind: str, allowed: Any, out: List[str]) -> None:
    if kind == "int":
        if not _is_int(v):
            out.append(f"{path}: expected an integer, got {v!r}")
        elif v <= 0:
            out.append(f"{path}: must be > 0, got {v}")
    elif kind == "bool":
        if not isinstance(v, bool):
            out.append(f"{path}: expected true/false, got {v!r}")
    elif kind == "str":
        if not isinstance(v, str) or not v:
            out.append(f"{path}: expected a non-empty string, got {v!r}")
        elif allowed is not None and v not in allowed:
            out.append(f"{path}: {v!r} is not one of {', '.join(allowed)}")
    elif kind == "fraction":
        if not _is_num(v) or not 0.0 <= float(v) < 1.0:
            out.append(f"{path}: expected a number in [0, 1), got {v!r}")


def validate_workload(w: Any, out: List[str], path: str = "workload", allow_pending: bool = False) -> None:
    if not isinstance(w, dict):
        out.append(f"{path}: expected an object")
        return
    op = w.get("op")
    if op not in WORKLOADS:
        out.append(f"{path}.op: {op!r} is not one of {', '.join(WORKLOADS)}")
        return
    spec = WORKLOADS[op]
    known = {"op"} | {k for k, _, _ in spec["required"]} | {k for k, _, _ in spec["optional"]}
    for k in w:
        if k not in known:
            out.append(f"{path}.{k}: unknown key for op {op} (known: {', '.join(sorted(known))})")
    for k, kind, allowed in spec["required"]:
        if k not in w:
            out.append(f"{path}.{k}: missing (required for op {op})")
        else:
            _check_value(f"{path}.{k}", w[k], kind, allowed, out)
    for k, kind, allowed in spec["optional"]:
        if k in w:
            _check_value(f"{path}.{k}", w[k], kind, allowed, out)
    if op != "attention":
        return
    if all(_is_int(w.get(k)) for k in ("q_heads", "kv_heads")):
        if w["kv_heads"] > 0 and w["q_heads"] % w["kv_heads"] != 0:
            out.append(f"workload: q_heads {w['q_heads']} is not a multiple of kv_heads {w['kv_heads']}")
    if all(_is_int(w.get(k)) for k in ("q_len", "kv_len")) and w["q_len"] > w["kv_len"]:
        out.append(f"{path}.q_len: must be <= kv_len ({w['kv_len']})")
    if w.get("phase") == "decode" and _is_int(w.get("q_len")) and w["q_len"] != 1:
        out.append(f"{path}.q_len: must be 1 for phase decode")
    k = w.get("kernel")
    if isinstance(k, str) and k.lower() not in ATTENTION_KERNELS:
        if k.lower() in PENDING_ATTENTION_KERNELS:
            if not allow_pending:
                out.append(f"{path}.kernel: {k!r} is not known to the C++ reader yet (pending; "
                           f"known: {', '.join(ATTENTION_KERNELS)})")
        else:
            out.append(f"{path}.kernel: {k!r} is not one of {', '.join(ATTENTION_KERNELS)}")


def validate_record(rec: Any, allow_pending: bool = False) -> List[str]:
    """Problems of one record (empty list: valid)."""
    out: List[str] = []
    if not isinstance(rec, dict):
        return ["record: expected a JSON object"]
    for k in rec:
        if k not in TOP_REQUIRED and k not in TOP_OPTIONAL:
            out.append(f"{k}: unknown top-level key")
    for k in TOP_REQUIRED:
        if k not in rec:
            out.append(f"{k}: missing (required)")
    if rec.get("schema", SCHEMA) != SCHEMA:
        out.append(f"schema: expected {SCHEMA!r}, got {rec.get('schema')!r}")
    for k in ("suite", "label"):
        if k in rec and (not isinstance(rec[k], str) or not rec[k]):
            out.append(f"{k}: expected a non-empty string")
    if "workload" in rec:
        validate_workload(rec["workload"], out, allow_pending=allow_pending)

    status = rec.get("status")
    if status not in ("ok", "error"):
        out.append(f"status: {status!r} is not one of ok, error")
    if status == "error":
        if not isinstance(rec.get("error"), str) or not rec.get("error"):
            out.append("error: required (non-empty string) when status is error")
    if status == "ok":
        if "error" in rec:
            out.append("error: present although status is ok")
        if "time_s" not in rec:
            out.append("time_s: required when status is ok")
    if "time_s" in rec:
        t = rec["time_s"]
        if not isinstance(t, dict):
            out.append("time_s: expected an object")
        else:
            for k in t:
                if k not in ("median", "min", "max", "count"):
                    out.append(f"time_s.{k}: unknown key")
            for k in ("median", "min", "max"):
                if k not in t:
                    out.append(f"time_s.{k}: missing")
                elif not _is_num(t[k]) or t[k] <= 0:
                    out.append(f"time_s.{k}: expected a finite number > 0, got {t[k]!r}")
            if "count" not in t:
                out.append("time_s.count: missing")
            elif not _is_int(t["count"]) or t["count"] < 1:
                out.append(f"time_s.count: expected an integer >= 1, got {t['count']!r}")
            if all(_is_num(t.get(k)) for k in ("median", "min", "max")):
                if not t["min"] <= t["median"] <= t["max"]:
                    out.append("time_s: expected min <= median <= max")

    if "timing" in rec:
        tm = rec["timing"]
        if not isinstance(tm, dict):
            out.append("timing: expected an object")
        else:
            for k in tm:
                if k not in ("method", "l2", "kernels_per_call"):
                    out.append(f"timing.{k}: unknown key")
            if tm.get("method") not in TIMING_METHODS:
                out.append(f"timing.method: {tm.get('method')!r} is not one of {', '.join(TIMING_METHODS)}")
            if tm.get("l2") not in L2_STATES:
                out.append(f"timing.l2: {tm.get('l2')!r} is not one of {', '.join(L2_STATES)}")
            kpc = tm.get("kernels_per_call")
            if not _is_int(kpc) or kpc < 1:
                out.append(f"timing.kernels_per_call: expected an integer >= 1, got {kpc!r}")

    if "counters" in rec:
        c = rec["counters"]
        if not isinstance(c, dict):
            out.append("counters: expected an object")
        else:
            for k, v in c.items():
                if not _is_num(v):
                    out.append(f"counters.{k}: expected a number")
    if "predicted_s" in rec:
        p = rec["predicted_s"]
        if p is not None and (not _is_num(p) or p <= 0):
            out.append(f"predicted_s: expected null or a number > 0, got {p!r}")

    if "device" in rec:
        d = rec["device"]
        if not isinstance(d, dict):
            out.append("device: expected an object")
        else:
            for k in d:
                if k not in DEVICE_KEYS:
                    out.append(f"device.{k}: unknown key")
            for k, types in DEVICE_KEYS.items():
                if k not in d:
                    out.append(f"device.{k}: missing")
                    continue
                v = d[k]
                ok = (v is None and None in types) or any(
                    t is not None and isinstance(v, t) and not isinstance(v, bool) for t in types)
                if not ok:
                    out.append(f"device.{k}: wrong type {type(v).__name__}")
                elif isinstance(v, (int, float)) and not isinstance(v, bool) and (
                        not math.isfinite(float(v)) or v <= 0):
                    out.append(f"device.{k}: must be > 0, got {v}")
                elif isinstance(v, str) and not v and k != "clock_note":
                    out.append(f"device.{k}: must not be empty")
            if rec.get("suite") in TORCH_SUITES and not isinstance(d.get("torch"), str):
                out.append("device.torch: required (the torch version) for a PyTorch suite")

    ts = rec.get("timestamp")
    if "timestamp" in rec and (not isinstance(ts, str) or not TIMESTAMP_RE.match(ts)):
        out.append(f"timestamp: expected ISO 8601 UTC like 2026-11-22T10:00:00Z, got {ts!r}")
    if "extra" in rec and not isinstance(rec["extra"], dict):
        out.append("extra: expected an object")
    return out


def check_file(path: str, allow_pending: bool = False) -> Tuple[int, int, int, List[str]]:
    """(records, ok, error, problems as 'file:line: message')."""
    n = n_ok = n_err = 0
    problems: List[str] = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                problems.append(f"{path}:{lineno}: empty line")
                continue
            try:
                rec = json.loads(line, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))
            except ValueError as e:
                problems.append(f"{path}:{lineno}: not valid JSON ({e})")
                continue
            n += 1
            for p in validate_record(rec, allow_pending):
                problems.append(f"{path}:{lineno}: {p}")
            if isinstance(rec, dict):
                n_ok += rec.get("status") == "ok"
                n_err += rec.get("status") == "error"
    return n, n_ok, n_err, problems


def main(argv: List[str]) -> int:
    allow_pending = "--allow-pending" in argv
    argv = [a for a in argv if a != "--allow-pending"]
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 2
    bad = 0
    for path in argv:
        try:
            n, n_ok, n_err, problems = check_file(path, allow_pending)
        except OSError as e:
            print(f"{path}: cannot read ({e})")
            bad += 1
            continue
        for p in problems:
            print(p)
        bad += len(problems)
        print(f"{path}: {n} records ({n_ok} ok, {n_err} error), {len(problems)} problems")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
