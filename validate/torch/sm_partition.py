"""Suite `sm_partition`: the step's streaming kernels (the torch_elementwise suite's kernels, at its largest
sizes) timed on all SMs and in a CUDA green-context partition with half of them (torch.cuda.green_contexts).
A kernel whose time does not change on half the SMs is the HBM's; one whose time doubles is the SMs'. The
calibration reads the pair as a measured bound on the share of a kernel's time a faster HBM can shorten
(lib/calibration.cpp, transfer_streaming_efficiency). Eager CUDA-event timing over rotating sets (>= 3x L2).

  python3 validate/torch/sm_partition.py --out-dir DIR      # GPU
  python3 validate/torch/sm_partition.py --plan             # configurations, no torch
"""
from __future__ import annotations

import os
import sys
from typing import List, Optional, Sequence

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common as C            # noqa: E402
import elementwise as E       # noqa: E402

SUITE = "sm_partition"
# (kind, rows, cols, variant): the largest size of each kernel kind in torch_elementwise
CASES = (("rmsnorm", 32768, 4096, ()), ("add", 32768, 4096, ()), ("silu_mul", 8192, 14336, ()),
         ("quantize_fp8", 8192, 14336, ()), ("embedding", 32768, 4096, ()),
         ("kv_write", 32768, 1024, ("prefill", 8)), ("rope", 32768, 5120, (32, 8)))
REPS = 20


def build_configs(rmsnorm_labels: Sequence[str] = ("triton_rmsnorm",)) -> List[E.EwConfig]:
    """The torch_elementwise configurations of CASES (same labels and variants)."""
    all_cfgs = E.build_configs(False, rmsnorm_labels)
    out = []
    for kind, rows, cols, variant in CASES:
        hit = [c for c in all_cfgs if c.kind == kind and c.rows == rows and c.cols == cols
               and (not variant or c.variant == variant)]
        if not hit:
            raise ValueError(f"no torch_elementwise configuration {kind} {rows}x{cols} {variant}")
        out.append(hit[0])
    return out


def half_sms(sms: int) -> int:
    """Half the SMs, rounded down to a multiple of 2 (green-context partitions are whole TPCs)."""
    return max(2, (sms // 2) // 2 * 2)


def main(argv: Optional[Sequence[str]] = None) -> int:
    a = C.standalone_args(__doc__, argv)
    if a.plan:
        for c in build_configs():
            print(c.kind, c.label, c.rows, c.cols, c.variant)
        return 0
    import torch
    import kernels as K
    from torch.cuda import green_contexts as gc
    dev = C.Device(False, a.hw)
    rms = K.choose_rmsnorm(dev)
    labels = ["triton_rmsnorm"] if rms.impl == "triton_rmsnorm" else ["torch_rms_norm"]
    w = C.standalone_writer(dev, a.out_dir, SUITE)
    sms = dev.sm_count
    part = half_sms(sms)
    try:
        for c in build_configs(labels):
            n, _ = E.timing_plan(c, dev.l2_bytes, int(torch.cuda.mem_get_info()[0] * 0.5))
            gen = torch.Generator(device=dev.torch_device).manual_seed(11)
            op = E._Op(c, n, dev, rms, gen)
            chk = op.check()
            for k in (None, part):
                ctx = None
                if k is not None:
                    ctx = gc.GreenContext.create(num_sms=k, device_id=0)
                    ctx.set_context()
                try:
                    tr = E._time_eager(dev, op.body, n, REPS)
                finally:
                    if ctx is not None:
                        ctx.pop_context()
                op.outs.clear()
                st = tr.stats()
                sb = c.set_bytes()
                rec = C.make_record(suite=SUITE, label=c.label, workload=E.workload(c), device=dev.snapshot(),
                                    time_s=st, method=tr.method,
                                    l2=C.l2_state(sb, n, dev.l2_bytes),
                                    extra={"green_context_sms": k, "device_sms": sms, "rotation_sets": n,
                                           "bytes_per_call": sb, "achieved_bytes_per_s": sb / st["median"],
                                           "variant": list(c.variant), "check": chk,
                                           "timing_note": f"eager launches over {n} rotating sets, {REPS} timed replays"})
                w.write(rec)
                print(f"{c.kind:13s} {c.rows}x{c.cols} sms {k or sms:4d}: {st['median'] * 1e6:9.2f} us "
                      f"{sb / st['median'] / 1e12:5.2f} TB/s", flush=True)
            op = None
            C.free_cuda(dev, collect=True)
    finally:
        status = C.close_standalone(w)
    return status


if __name__ == "__main__":
    sys.exit(main())
