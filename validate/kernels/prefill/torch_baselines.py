#!/usr/bin/env python3
"""PyTorch SDPA prefill references for validate/kernels/prefill, timed in the same run as the kernels.

Backends: SDPBackend.FLASH_ATTENTION (FlashAttention-2, label torch_sdpa_flash, kernel "fa2") and
SDPBackend.CUDNN_ATTENTION (label torch_sdpa_cudnn, kernel "cudnn"). Shapes are those of prefill_bench
--mode time: HQ 32, HKV 8, S in {1K..16K} with B*S = 16K tokens, D 128 (and D 64 at S = 4K), fp16,
causal and not (Sq = Skv, so PyTorch's top-left causal mask equals the bottom-right one).
Inputs are [B, S, H, D] tensors passed as [B, H, S, D] views, GQA through enable_gqa=True; when a
backend rejects that, K/V are expanded to HQ heads (recorded in extra.gqa). Timing: CUDA graph of
`rotations` calls over input sets covering >= 3x L2, replays timed with CUDA events, median.
Records: docs/measurement-records.md (suite "kernels"), one JSON line each, flushed.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import shutil
import statistics
import subprocess
import sys


def nvidia_smi(fields):
    exe = shutil.which("nvidia-smi")
    if not exe:
        return {}
    try:
        out = subprocess.run([exe, "--query-gpu=" + ",".join(fields), "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=20)
        vals = [v.strip() for v in out.stdout.strip().splitlines()[0].split(",")]
        return dict(zip(fields, vals)) if len(vals) == len(fields) else {}
    except Exception:
        return {}


def device_json(torch, hw_profile):
    p = torch.cuda.get_device_properties(0)
    smi = nvidia_smi(["clocks.sm", "clocks.mem", "driver_version"])
    l2 = int(getattr(p, "L2_cache_size", 50 * 1024 * 1024))
    return {
        "name": p.name, "hw_profile": hw_profile, "compute_capability": f"{p.major}.{p.minor}",
        "sm_count": p.multi_processor_count, "l2_bytes": l2, "memory_bytes": int(p.total_memory),
        "sm_clock_hz": float(smi.get("clocks.sm", 0) or 0) * 1e6, "mem_clock_hz": float(smi.get("clocks.mem", 0) or 0) * 1e6,
        "clock_note": "nvidia-smi current clocks read after the timed replays" if smi else "clocks unavailable",
        "driver": smi.get("driver_version", "unknown"), "cuda_runtime": torch.version.cuda or "unknown",
        "torch": torch.__version__,
    }


def utc_now():
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def shapes(quick):
    pts = [(s, 16384 // s, 128) for s in (1024, 2048, 4096, 8192, 16384)] + [(4096, 4, 64)]
    if quick:
        pts = [(1024, 4, 128), (4096, 1, 128)]
    return [(s, b, d, c) for (s, b, d) in pts for c in (False, True)]


def time_graph(torch, fn, rotations, warmup=3, reps=20):
    """Median seconds per call: a CUDA graph of `rotations` calls (one per input set), replayed."""
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        for r in range(rotations):  # warm-up outside the graph (kernel selection, workspace)
            fn(r)
    torch.cuda.current_stream().wait_stream(stream)
    torch.cuda.synchronize()
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        for r in range(rotations):
            fn(r)
    for _ in range(warmup):
        graph.replay()
    torch.cuda.synchronize()
    samples = []
    for _ in range(reps):
        start, stop = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        graph.replay()
        stop.record()
        stop.synchronize()
        samples.append(start.elapsed_time(stop) * 1e-3 / rotations)
    return statistics.median(samples), min(samples), max(samples), len(samples)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, help="directory for prefill_torch.jsonl")
    ap.add_argument("--hw", default="h100_sxm")
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "prefill_torch.jsonl")
    try:
        import torch
        import torch.nn.functional as F
        from torch.nn.attention import SDPBackend, sdpa_kernel
    except Exception as e:  # noqa: BLE001
        print(f"torch_baselines: PyTorch unavailable ({e}); nothing timed")
        return 0
    if not torch.cuda.is_available():
        print("torch_baselines: no CUDA device; nothing timed")
        return 0
    device = device_json(torch, args.hw)
    backends = [("torch_sdpa_flash", "fa2", SDPBackend.FLASH_ATTENTION),
                ("torch_sdpa_cudnn", "cudnn", SDPBackend.CUDNN_ATTENTION)]
    hq, hkv = 32, 8
    print(f"{'label':18} {'S':>6} {'B':>3} {'D':>4} {'causal':>6} {'median_ms':>10} {'TFLOP/s':>8}")
    with open(path, "a") as f:
        for (s, b, d, causal) in shapes(args.quick):
            set_bytes = 2 * (b * s * hq * d + 2 * b * s * hkv * d)
            rotations = max(1, math.ceil(3 * device["l2_bytes"] / set_bytes))
            gen = torch.Generator(device="cuda").manual_seed(int.from_bytes(os.urandom(4), "little"))
            sets = []
            for _ in range(rotations):
                q = torch.randn(b, s, hq, d, device="cuda", dtype=torch.float16, generator=gen)
                k = torch.randn(b, s, hkv, d, device="cuda", dtype=torch.float16, generator=gen)
                v = torch.randn(b, s, hkv, d, device="cuda", dtype=torch.float16, generator=gen)
                sets.append((q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)))
            flops = 4.0 * b * hq * s * s * d * (0.5 if causal else 1.0)
            workload_base = {"op": "attention", "phase": "prefill", "batch": b, "q_heads": hq, "kv_heads": hkv,
                             "q_len": s, "kv_len": s, "head_dim": d, "causal": causal, "dtype": "fp16"}
            for label, kernel, backend in backends:
                workload = dict(workload_base, kernel=kernel)
                record = {"schema": "roofline.measurement.v1", "suite": "kernels", "label": label,
                          "workload": workload, "counters": {}, "predicted_s": None, "device": device,
                          "timestamp": utc_now()}
                gqa = "enable_gqa"
                try:
                    def call(r):
                        q, k, v = sets[r]
                        return F.scaled_dot_product_attention(q, k, v, is_causal=causal, enable_gqa=True)
                    with sdpa_kernel([backend]):
                        try:
                            call(0)
                            torch.cuda.synchronize()
                            fn = call
                        except RuntimeError:
                            # The backend does not take GQA: expand K/V once per set (outside the timing).
                            gqa = "expanded_kv"
                            exp = [(q, k.repeat_interleave(hq // hkv, dim=1).contiguous(),
                                    v.repeat_interleave(hq // hkv, dim=1).contiguous()) for (q, k, v) in sets]
                            fn = lambda r: F.scaled_dot_product_attention(exp[r][0], exp[r][1], exp[r][2], is_causal=causal)  # noqa: E731
                            fn(0)
                            torch.cuda.synchronize()
                        med, lo, hi, n = time_graph(torch, fn, rotations)
                    smi = nvidia_smi(["clocks.sm", "clocks.mem"])
                    if smi:
                        record["device"] = dict(device, sm_clock_hz=float(smi["clocks.sm"]) * 1e6,
                                                mem_clock_hz=float(smi["clocks.mem"]) * 1e6)
                    record.update({"status": "ok", "time_s": {"median": med, "min": lo, "max": hi, "count": n},
                                   "timing": {"method": "cuda_graph_events",
                                              "l2": "cold_rotating" if rotations * set_bytes >= 3 * device["l2_bytes"] else "warm",
                                              "kernels_per_call": 1},
                                   "extra": {"achieved_flop_per_s": flops / med, "nominal_flops": flops,
                                             "gqa": gqa, "rotations": rotations, "layout": "BSHD viewed as BHSD"}})
                    print(f"{label:18} {s:6d} {b:3d} {d:4d} {int(causal):6d} {med * 1e3:10.3f} {flops / med * 1e-12:8.1f}")
                except Exception as e:  # noqa: BLE001
                    record.update({"status": "error", "error": f"{type(e).__name__}: {e}"[:500],
                                   "timing": {"method": "cuda_events", "l2": "warm", "kernels_per_call": 0}})
                    print(f"{label:18} {s:6d} {b:3d} {d:4d} {int(causal):6d} ERROR {e}")
                f.write(json.dumps(record) + "\n")
                f.flush()
            del sets
            torch.cuda.empty_cache()
    return 0


if __name__ == "__main__":
    sys.exit(main())
