#!/usr/bin/env python3
"""PyTorch decode baselines timed in the same GPU run as our kernels: SDPA with the FlashAttention-2
backend (SDPBackend.FLASH_ATTENTION) and cuDNN's attention (SDPBackend.CUDNN_ATTENTION), bf16, GQA
32/8 heads, head_dim 128, one query token attending to all T keys (decode: no mask), and FlashInfer's
decode with an FP8 (e5m2) KV cache when the flashinfer package imports.

Each configuration: a CUDA graph of `rotations` calls over K/V sets covering >= 3x L2, CUDA events
around replays, median per call. Writes measurement records (docs/measurement-records.md) to
OUT/decode_torch.jsonl. A backend that refuses a shape gets a status "error" record with the reason.

Usage: python3 torch_baselines.py --out DIR [--quick] [--profile h100_sxm]
"""
import argparse
import datetime
import json
import math
import os
import statistics
import sys
import traceback

import torch
import torch.nn.functional as F

HQ, HKV, D = 32, 8, 128


def device_json(profile):
    p = torch.cuda.get_device_properties(0)
    smi = {}
    try:
        import subprocess
        out = subprocess.run(["nvidia-smi", "--query-gpu=clocks.sm,clocks.mem,driver_version", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=10).stdout.strip().split(",")
        smi = {"sm": float(out[0]) * 1e6, "mem": float(out[1]) * 1e6, "driver": out[2].strip()}
    except Exception:  # noqa: BLE001 - clocks are best effort
        pass
    return {"name": p.name, "hw_profile": profile, "compute_capability": f"{p.major}.{p.minor}",
            "sm_count": p.multi_processor_count, "l2_bytes": getattr(p, "L2_cache_size", 50 * 2**20),
            "memory_bytes": p.total_memory, "sm_clock_hz": smi.get("sm", 0.0), "mem_clock_hz": smi.get("mem", 0.0),
            "clock_note": "nvidia-smi current clocks after the run" if smi else "unknown",
            "driver": smi.get("driver", ""), "cuda_runtime": torch.version.cuda, "torch": torch.__version__}


def record(label, workload, times, rotations, l2_state, dev, extra, kernels=None):
    t = sorted(times)
    return {"schema": "roofline.measurement.v1", "suite": "sdpa", "label": label, "workload": workload,
            "status": "ok", "time_s": {"median": statistics.median(t), "min": t[0], "max": t[-1], "count": len(t)},
            "timing": {"method": "cuda_graph_events", "l2": l2_state, "kernels_per_call": kernels or 0},
            "counters": {}, "predicted_s": None, "device": dev,
            "timestamp": datetime.datetime.utcnow().strftime("%Y-%m-%dT%H:%M:%SZ"), "extra": extra}


def error_record(label, workload, err, dev):
    return {"schema": "roofline.measurement.v1", "suite": "sdpa", "label": label, "workload": workload,
            "status": "error", "error": err[:2000],
            "timing": {"method": "cuda_events", "l2": "warm", "kernels_per_call": 0}, "counters": {},
            "predicted_s": None, "device": dev,
            "timestamp": datetime.datetime.utcnow().strftime("%Y-%m-%dT%H:%M:%SZ")}


def time_graph(fn, rotations, reps):
    """fn(r) for r in range(rotations) captured into one graph; per-call times of `reps` replays."""
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        for r in range(rotations):  # warm-up outside the capture (autotuning, workspace allocation)
            fn(r)
    torch.cuda.current_stream().wait_stream(s)
    torch.cuda.synchronize()
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        for r in range(rotations):
            fn(r)
    for _ in range(3):
        g.replay()
    torch.cuda.synchronize()
    times = []
    a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    for _ in range(reps):
        a.record()
        g.replay()
        b.record()
        b.synchronize()
        times.append(a.elapsed_time(b) * 1e-3 / rotations)
    return times


def fp32_reference(q, k, v):
    """fp32 attention of batch element 0: q [1, HQ, 1, D], k/v [1, HKV, T, D] (bf16) -> [HQ, D]."""
    qf, kf, vf = q[:1].float(), k[:1].float(), v[:1].float()
    kf = kf.repeat_interleave(HQ // HKV, dim=1)
    vf = vf.repeat_interleave(HQ // HKV, dim=1)
    s = (qf @ kf.transpose(-1, -2)) / math.sqrt(D)
    return (torch.softmax(s, dim=-1) @ vf)[0, :, 0, :]


def accuracy(out, ref):
    o, r = out.float().flatten(), ref.float().flatten()
    d = o - r
    return {"cosine": float(torch.dot(o, r) / (o.norm() * r.norm())), "relative_l1": float(d.abs().sum() / r.abs().sum()),
            "rmse": float(d.pow(2).mean().sqrt()), "max_abs": float(d.abs().max()), "batch_elements": 1}


def sdpa_runs(B, T, dev, writer, reps):
    from torch.nn.attention import SDPBackend, sdpa_kernel
    l2 = dev["l2_bytes"]
    kv_bytes = B * T * HKV * D * 2 * 2
    rotations = max(1, math.ceil(3 * l2 / kv_bytes))
    free = torch.cuda.mem_get_info()[0]
    rotations = max(1, min(rotations, int(free * 0.4 // kv_bytes)))
    l2_state = "cold_rotating" if rotations * kv_bytes >= 3 * l2 else "warm"
    gen = torch.Generator(device="cuda").manual_seed(B * 1000003 + T)
    # [B, T, HKV, D] storage like our kernels, viewed as [B, HKV, T, D] (strided) for SDPA.
    sets = []
    for _ in range(rotations):
        k = torch.randn(B, T, HKV, D, device="cuda", dtype=torch.bfloat16, generator=gen)
        v = torch.randn(B, T, HKV, D, device="cuda", dtype=torch.bfloat16, generator=gen)
        sets.append((k.transpose(1, 2), v.transpose(1, 2)))
    q = torch.randn(B, HQ, 1, D, device="cuda", dtype=torch.bfloat16, generator=gen)
    ref = fp32_reference(q, sets[0][0], sets[0][1])
    for label, backend, kernel in (("torch_sdpa_flash", SDPBackend.FLASH_ATTENTION, "fa2"),
                                   ("torch_sdpa_cudnn", SDPBackend.CUDNN_ATTENTION, "cudnn")):
        workload = {"op": "attention", "phase": "decode", "batch": B, "q_heads": HQ, "kv_heads": HKV, "q_len": 1,
                    "kv_len": T, "head_dim": D, "causal": False, "dtype": "bf16", "kernel": kernel}
        # 1: enable_gqa on [B, HKV, T, D] views of our [B, T, HKV, D] storage; 2: the same, contiguous;
        # 3: K/V repeated to HQ heads (the backend then reads 4x the bytes: recorded, not comparable).
        for gqa_mode in ("enable_gqa", "enable_gqa_contiguous", "expanded"):
            try:
                if gqa_mode == "expanded":
                    run_sets = [(k.repeat_interleave(HQ // HKV, dim=1), v.repeat_interleave(HQ // HKV, dim=1)) for k, v in sets[:1]]
                elif gqa_mode == "enable_gqa_contiguous":
                    run_sets = [(k.contiguous(), v.contiguous()) for k, v in sets]
                else:
                    run_sets = sets

                def fn(r, run_sets=run_sets, backend=backend, gqa=(gqa_mode != "expanded")):
                    k, v = run_sets[r % len(run_sets)]
                    with sdpa_kernel([backend]):
                        if gqa:
                            return F.scaled_dot_product_attention(q, k, v, enable_gqa=True)
                        return F.scaled_dot_product_attention(q, k, v)

                out = fn(0)
                acc = accuracy(out[0, :, 0, :], ref)
                times = time_graph(fn, len(run_sets), reps)
                bytes_moved = kv_bytes + 2 * B * HQ * D * 2
                med = statistics.median(times)
                extra = {"gqa": gqa_mode, "rotations": len(run_sets), "accuracy_vs_fp32": acc,
                         "model_bytes": bytes_moved, "achieved_bytes_per_s": bytes_moved / med,
                         "model_flops": 4.0 * B * HQ * T * D, "data": "gaussian",
                         "comparable": gqa_mode != "expanded"}
                moved = kv_bytes * (4 if gqa_mode == "expanded" else 1) * len(run_sets)
                writer(record(label, workload, times, len(run_sets), "cold_rotating" if moved >= 3 * l2 else "warm", dev, extra))
                print(f"  {label:18s} B={B:<2d} T={T:<6d} {gqa_mode:22s} {med * 1e6:9.2f} us  {bytes_moved / med * 1e-9:6.0f} GB/s  cos {acc['cosine']:.5f}")
                break
            except Exception as e:  # noqa: BLE001 - a refusing backend is a result
                print(f"  {label:18s} B={B:<2d} T={T:<6d} {gqa_mode}: {type(e).__name__}: {str(e)[:160]}")
                if gqa_mode == "expanded":
                    writer(error_record(label, workload, f"{type(e).__name__}: {e}", dev))
            finally:
                torch.cuda.empty_cache()
    del sets
    torch.cuda.empty_cache()


def flashinfer_runs(B, T, dev, writer, reps):
    label = "flashinfer_decode_fp8_e5m2"
    workload = {"op": "attention", "phase": "decode", "batch": B, "q_heads": HQ, "kv_heads": HKV, "q_len": 1,
                "kv_len": T, "head_dim": D, "causal": False, "dtype": "fp8_e5m2", "kernel": "flashinfer_fp8"}
    try:
        import flashinfer  # noqa: F401
    except Exception as e:  # noqa: BLE001
        writer(error_record(label, workload, f"flashinfer not importable: {type(e).__name__}: {e}", dev))
        return False
    try:
        page = 16
        pages_per_seq = (T + page - 1) // page
        l2 = dev["l2_bytes"]
        kv_bytes = B * T * HKV * D * 2
        rotations = max(1, min(math.ceil(3 * l2 / kv_bytes), int(torch.cuda.mem_get_info()[0] * 0.4 // kv_bytes)))
        caches = []
        for _ in range(rotations):
            c = torch.randn(B * pages_per_seq, 2, page, HKV, D, device="cuda", dtype=torch.float16).to(torch.float8_e5m2)
            caches.append(c)
        indptr = torch.arange(0, B + 1, device="cuda", dtype=torch.int32) * pages_per_seq
        indices = torch.arange(0, B * pages_per_seq, device="cuda", dtype=torch.int32)
        last = torch.full((B,), T - (pages_per_seq - 1) * page, device="cuda", dtype=torch.int32)
        ws = torch.empty(256 * 2**20, dtype=torch.uint8, device="cuda")
        wrapper = flashinfer.BatchDecodeWithPagedKVCacheWrapper(ws, "NHD", use_cuda_graph=True,
                                                                paged_kv_indptr_buffer=indptr,
                                                                paged_kv_indices_buffer=indices,
                                                                paged_kv_last_page_len_buffer=last)
        wrapper.plan(indptr, indices, last, HQ, HKV, D, page, q_data_type=torch.float16, kv_data_type=torch.float8_e5m2)
        q = torch.randn(B, HQ, D, device="cuda", dtype=torch.float16)

        def fn(r):
            return wrapper.run(q, caches[r % len(caches)])

        times = time_graph(fn, len(caches), reps)
        med = statistics.median(times)
        extra = {"rotations": len(caches), "page_size": page, "model_bytes": kv_bytes,
                 "achieved_bytes_per_s": kv_bytes / med, "flashinfer": getattr(flashinfer, "__version__", "?")}
        writer(record(label, workload, times, len(caches), "cold_rotating" if len(caches) * kv_bytes >= 3 * l2 else "warm", dev, extra))
        print(f"  {label:18s} B={B:<2d} T={T:<6d} {med * 1e6:9.2f} us  {kv_bytes / med * 1e-9:6.0f} GB/s")
    except Exception as e:  # noqa: BLE001
        writer(error_record(label, workload, f"{type(e).__name__}: {e}\n{traceback.format_exc()[-1500:]}", dev))
        print(f"  {label} B={B} T={T} error: {type(e).__name__}: {str(e)[:200]}")
    torch.cuda.empty_cache()
    return True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--profile", default="h100_sxm")
    args = ap.parse_args()
    if not torch.cuda.is_available():
        print("torch_baselines: no CUDA device; skipped")
        return 2
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "decode_torch.jsonl")
    dev = device_json(args.profile)

    def writer(rec):
        with open(path, "a") as f:
            f.write(json.dumps(rec) + "\n")

    Bs = [1, 8] if args.quick else [1, 8, 32]
    Ts = [4096, 32768] if args.quick else [4096, 32768, 131072]
    print(f"torch_baselines: torch {torch.__version__}, {dev['name']}")
    fi_ok = True
    for B in Bs:
        for T in Ts:
            sdpa_runs(B, T, dev, writer, reps=20)
            if fi_ok and T >= 32768:
                fi_ok = flashinfer_runs(B, T, dev, writer, reps=20)
    return 0


if __name__ == "__main__":
    sys.exit(main())
