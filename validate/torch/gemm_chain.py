"""Suite `gemm_chain`: a decode layer's GEMMs run back to back, as inside a step, against each GEMM timed
alone. The gemm suites time one shape repeated over rotating buffers; a step runs q, k, v, o, gate, up and
down one after another, each on weights no kernel touched for a layer. For llama3-8b's seven bf16 projections
at M = batch rows, over 32 layers of weights (14 GB, cold), two CUDA graphs are timed side by side: each
shape alone (32 calls, one per layer: `isolated`, one record per shape) and the seven in step order for every
layer (`chain`, one record whose workload is the layer's first GEMM and whose extra holds the chain).
A microbenchmark: neither fitted nor evaluated (FitOptions::microbenchmark_suites). Measured 2026-12-07 on
the H100 (validate/data/h100_sxm/gemm_chain.jsonl): the chain ran as fast as its GEMMs alone (0.995-1.003),
so chaining is not why steps' GEMMs run faster than predicted; torch.matmul (cuBLAS) ran the same bf16 shapes
5-11% faster than the harness's cuBLASLt pick (the gemm_candidates suite's rank 0, same day, another lease).
The model does not apply that: PyTorch's fp8 path (torch._scaled_mm) was not measured the same way, and a
bf16-only factor moved the FP8-over-BF16 speedups 5% off (README, "How accurate").

  python3 validate/torch/gemm_chain.py --out-dir DIR      # GPU
"""
from __future__ import annotations

import os
import sys
from typing import Optional, Sequence

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common as C            # noqa: E402

SUITE = "gemm_chain"
LAYERS = 32
HIDDEN, KV, FFN = 4096, 1024, 14336
# (name, N, K) in step order; llama3-8b
SHAPES = (("q", HIDDEN, HIDDEN), ("k", KV, HIDDEN), ("v", KV, HIDDEN), ("o", HIDDEN, HIDDEN),
          ("gate", FFN, HIDDEN), ("up", FFN, HIDDEN), ("down", HIDDEN, FFN))
ROWS = (1, 8, 32, 128)


def main(argv: Optional[Sequence[str]] = None) -> int:
    a = C.standalone_args(__doc__, argv, plan=False)
    import torch
    dev = C.Device(False, a.hw)
    w = C.standalone_writer(dev, a.out_dir, SUITE)
    d = dev.torch_device
    gen = torch.Generator(device=d).manual_seed(5)
    weights = {name: [torch.empty((n, k), dtype=torch.bfloat16, device=d).normal_(0, 0.02, generator=gen)
                      for _ in range(LAYERS)] for name, n, k in SHAPES}
    try:
        for m in ROWS:
            xs = {k: torch.randn((m, k), dtype=torch.bfloat16, device=d, generator=gen) for k in (HIDDEN, FFN)}
            outs = []

            def one(name, n, k, layer):
                outs.append(torch.matmul(xs[k], weights[name][layer].t()))

            iso = {}
            for name, n, k in SHAPES:
                def body(name=name, n=n, k=k):
                    outs.clear()
                    for layer in range(LAYERS):
                        one(name, n, k, layer)
                body()
                dev.synchronize()
                tr = C.time_replays(dev, body, LAYERS, min_replays=20, max_replays=200, target_timed_s=0.05)
                iso[name] = tr.stats()
                workload = {"op": "gemm", "m": m, "n": n, "k": k, "dtype": "bf16"}
                w.write(C.make_record(suite=SUITE, label="torch_matmul_isolated", workload=workload,
                                      device=dev.snapshot(), time_s=iso[name], method=tr.method,
                                      l2="cold_rotating", kernels_per_call=1,
                                      extra={"condition": "isolated", "layers": LAYERS,
                                             "timing_note": f"{LAYERS} calls per replay, one per layer's weights"}))

            def chain():
                outs.clear()
                for layer in range(LAYERS):
                    for name, n, k in SHAPES:
                        one(name, n, k, layer)
            chain()
            dev.synchronize()
            calls = LAYERS * len(SHAPES)
            tr = C.time_replays(dev, chain, calls, min_replays=20, max_replays=200, target_timed_s=0.05)
            st = tr.stats()
            layer_s = st["median"] * len(SHAPES)              # one layer's seven GEMMs in a chain
            iso_s = sum(iso[name]["median"] for name, _, _ in SHAPES)
            first = SHAPES[0]
            w.write(C.make_record(suite=SUITE, label="torch_matmul_chain",
                                  workload={"op": "gemm", "m": m, "n": first[1], "k": first[2], "dtype": "bf16"},
                                  device=dev.snapshot(), time_s=st, method=tr.method, l2="cold_rotating",
                                  kernels_per_call=1,
                                  extra={"condition": "chain", "layers": LAYERS,
                                         "chain": [{"n": n, "k": k} for _, n, k in SHAPES],
                                         "chain_layer_s": layer_s, "isolated_sum_s": iso_s,
                                         "chain_over_isolated": layer_s / iso_s,
                                         "timing_note": "time_s is per GEMM of the chain (replay / calls)"}))
            print(f"M {m:4d}: chain {layer_s * 1e6:8.2f} us per layer, isolated sum {iso_s * 1e6:8.2f} us, "
                  f"ratio {layer_s / iso_s:.3f}", flush=True)
            outs.clear()
    finally:
        status = C.close_standalone(w)
    return status


if __name__ == "__main__":
    sys.exit(main())
