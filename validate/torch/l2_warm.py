"""Suite `l2_warm`: how much faster a step's small kernels run when their inputs are already in L2, as they
are inside a decode step (the kernel before just wrote them), than in the torch_elementwise suite, which
rotates over >= 3x L2 of buffers so that every call reads HBM.

For the decode sizes of the step's kernels (rows = batch 1 .. 128 at llama3-8b's widths), each configuration
is timed twice in CUDA graphs of the same number of calls, side by side: `cold_rotating` calls rotate over
the suite's sets (as torch_elementwise); `warm` calls all use set 0. The calibration reads each pair as the
kernel's measured in-step factor (KernelParams::l2_warm_ratio, lib/calibration.cpp): inputs, neither fitted
nor evaluated. A probe of 2026-12-07 (validate/data/h100_sxm/logs/warm_probe.jsonl.txt) found warm / cold
0.6-0.9, as the eager in-step kernel times of the step records suggest (docs/accuracy.md section (5)).

  python3 validate/torch/l2_warm.py --out-dir DIR      # GPU
  python3 validate/torch/l2_warm.py --plan             # configurations, no torch
"""
from __future__ import annotations

import os
import sys
from typing import List, Optional, Sequence

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common as C            # noqa: E402
import elementwise as E       # noqa: E402

SUITE = "l2_warm"
ROWS = (1, 8, 32, 128)


def build_configs(rmsnorm_label: str = "triton_rmsnorm") -> List[E.EwConfig]:
    """llama3-8b's decode kernels at ROWS rows: the same labels, widths and variants as torch_elementwise."""
    out = []
    for r in ROWS:
        out += [E.EwConfig("rmsnorm", rmsnorm_label, r, 4096), E.EwConfig("add", "torch_add", r, 4096),
                E.EwConfig("silu_mul", "triton_silu_mul", r, 14336),
                E.EwConfig("quantize_fp8", "triton_quant_fp8", r, 4096),
                E.EwConfig("rope", "triton_rope_qk", r, 40 * E.HEAD_DIM, (32, 8)),
                E.EwConfig("kv_write", "torch_copy_kv_decode", r, 8 * E.HEAD_DIM, ("decode", 8)),
                E.EwConfig("embedding", "torch_embedding", r, 4096)]
    return out


def main(argv: Optional[Sequence[str]] = None) -> int:
    a = C.standalone_args(__doc__, argv)
    if a.plan:
        for c in build_configs():
            print(c.kind, c.label, c.rows, c.cols, c.variant)
        return 0
    import torch
    import kernels as K
    dev = C.Device(False, a.hw)
    rms = K.choose_rmsnorm(dev)
    label = "triton_rmsnorm" if rms.impl == "triton_rmsnorm" else "torch_rms_norm"
    w = C.standalone_writer(dev, a.out_dir, SUITE)
    try:
        for c in build_configs(label):
            n, rmin = E.timing_plan(c, dev.l2_bytes, int(torch.cuda.mem_get_info()[0] * 0.5))
            gen = torch.Generator(device=dev.torch_device).manual_seed(11)
            op = E._Op(c, n, dev, rms, gen)
            chk = op.check()

            def warm_body(op=op, n=n):
                op.outs.clear()
                for _ in range(n):
                    op.call(0)

            sb = c.set_bytes()
            for l2, body in (("cold_rotating", op.body), ("warm", warm_body)):
                body()
                dev.synchronize()
                op.outs.clear()
                tr = C.time_replays(dev, body, n, min_replays=rmin, max_replays=200, target_timed_s=0.03, warmup=2)
                op.outs.clear()
                st = tr.stats()
                note = (f"{n} calls per graph replay, each on its own set (>= 3x L2)" if l2 == "cold_rotating"
                        else f"{n} calls per graph replay, all on set 0: inputs L2-resident")
                rec = C.make_record(suite=SUITE, label=c.label, workload=E.workload(c), device=dev.snapshot(),
                                    status="ok" if chk.get("pass", False) else "error",
                                    error=None if chk.get("pass", False) else f"check failed: {chk}",
                                    time_s=st, method=tr.method,
                                    l2=l2 if l2 == "warm" else C.l2_state(sb, n, dev.l2_bytes),
                                    kernels_per_call=1,
                                    extra={"l2_condition": l2, "rotation_sets": n if l2 != "warm" else 1,
                                           "calls_per_replay": n, "bytes_per_call": sb,
                                           "variant": list(c.variant), "check": chk, "timing_note": note})
                w.write(rec)
                print(f"{c.kind:13s} {c.rows:4d}x{c.cols:<6d} {l2:14s} {st['median'] * 1e6:8.2f} us", flush=True)
            op = None
            C.free_cuda(dev, collect=True)
    finally:
        status = C.close_standalone(w)
    return status


if __name__ == "__main__":
    sys.exit(main())
