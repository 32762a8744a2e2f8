"""Probe (not a suite): what sets the time of FlashAttention-2's forward kernel (PyTorch SDPA, flash
backend) on this GPU. Prints one JSON line per measurement.

  length    the same work per thread block, total length from ~1 to ~25 ms: 33 heads of 4096 tokens
            (132 x 2 resident blocks x 4 x batch 128-row blocks: whole waves only), batch 1..32, head_dim
            64 and 128, causal and not; timed as the sdpa suite times (CUDA graph of rotation sets, one
            CUDA-event sample per replay). Time per FLOP against length separates a power limit from
            tile effects; the first and last samples of each loop show it settling.
  burst     after 2 s idle, 24 eager calls of the longest case back to back, each timed, while
            nvidia-smi samples SM clock and power every 20 ms.
  ragged    the same heads at lengths a multiple of the 128-row tile and a few tokens past it (768 / 770 /
            800 / 1024 / 1026 ...), head_dim 64 and 128, causal and not: what a ragged last tile costs;
            with the kernel's full template name (Is_even_MN).
  --ncu     one call per head_dim 64 / 96 / 128 (non-causal, batch 4, 32 heads of 2048 tokens) for
            `ncu -k regex:flash_fwd_kernel` (pipe utilisation: tensor vs MUFU vs FMA).
"""
import argparse, json, math, os, subprocess, sys, time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel
import common as C

dev = torch.device("cuda")


def qkv(b, h, s, d, n_sets, seed=1):
    g = torch.Generator(device=dev).manual_seed(seed)
    return [torch.empty((n_sets, b, h, s, d), dtype=torch.bfloat16, device=dev).normal_(generator=g) for _ in range(3)]


def call(q, k, v, causal):
    with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
        return F.scaled_dot_product_attention(q, k, v, is_causal=causal)


def flops(b, h, s, d, causal):
    return 4.0 * b * h * s * s * d * (0.5 if causal else 1.0)


def emit(**kw):
    print(json.dumps(kw), flush=True)


def timed(device, b, h, s, d, causal, before=None):
    """Times one shape as the sdpa suite times it (CUDA graph of >= 3x L2 of rotation sets, one event sample per
    replay); `before(call)` runs first on set 0 (e.g. to read the kernel's name). (TimingResult, median s, sets)."""
    l2 = torch.cuda.get_device_properties(0).L2_cache_size
    n = max(2, math.ceil(3 * l2 / (4 * b * h * s * d * 2)))
    q, k, v = qkv(b, h, s, d, n)
    body = lambda: [call(q[j], k[j], v[j], causal) for j in range(n)]
    body()
    torch.cuda.synchronize()
    if before is not None:
        before(lambda: call(q[0], k[0], v[0], causal))
    r = C.time_replays(device, body, n, min_replays=10, max_replays=200, target_timed_s=0.04)
    del q, k, v
    torch.cuda.empty_cache()
    return r, sorted(r.per_call_s)[len(r.per_call_s) // 2], n


def length(device):
    h, s = 33, 4096
    for d in (128, 64):
        for causal in (False, True):
            for b in (1, 2, 4, 8, 16, 32):
                r, med, n = timed(device, b, h, s, d, causal)
                sm, mem, _ = C.ClockReader().read()
                emit(part="length", head_dim=d, causal=causal, batch=b, heads=h, tokens=s, sets=n,
                     replays=r.replays, median_s=med, tflops=flops(b, h, s, d, causal) / med / 1e12,
                     first3_s=sorted(r.per_call_s[:3])[1], last3_s=sorted(r.per_call_s[-3:])[1],
                     loop_s=sum(r.per_call_s) * n, sm_clock_mhz=(sm or 0) / 1e6)


def kernel_name(fn):
    from torch.profiler import profile, ProfilerActivity
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        fn()
        torch.cuda.synchronize()
    names = [e.name for e in prof.events() if "flash" in e.name]
    return names[0] if names else ""


def ragged(device):
    b, h = 6, 32
    for d in (64, 128):
        for causal in (True, False):
            for s in (768, 769, 770, 800, 896, 1024, 1026, 1090, 2048, 2050):
                name = []
                r, med, n = timed(device, b, h, s, d, causal, before=lambda fn: name.append(kernel_name(fn)))
                emit(part="ragged", head_dim=d, causal=causal, batch=b, heads=h, tokens=s, median_s=med,
                     tflops=flops(b, h, s, d, causal) / med / 1e12, kernel=name[0][-160:])


def burst():
    b, h, s, d = 32, 33, 4096, 128
    q, k, v = qkv(b, h, s, d, 1)
    call(q[0], k[0], v[0], False)
    torch.cuda.synchronize()
    log = open("/tmp/fa2_probe_smi.csv", "w")
    smi = subprocess.Popen(["nvidia-smi", "--query-gpu=timestamp,clocks.sm,power.draw", "--format=csv,noheader,nounits",
                            "-lms", "20"], stdout=log, stderr=subprocess.DEVNULL)
    time.sleep(2.0)
    ev = [(torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)) for _ in range(24)]
    for a, e in ev:
        a.record()
        call(q[0], k[0], v[0], False)
        e.record()
    torch.cuda.synchronize()
    time.sleep(0.3)
    smi.terminate()
    smi.wait()
    log.close()
    ts = [a.elapsed_time(e) * 1e-3 for a, e in ev]
    emit(part="burst", head_dim=d, batch=b, heads=h, tokens=s, call_s=ts,
         tflops=[flops(b, h, s, d, False) / t / 1e12 for t in ts])
    samples = [l.strip() for l in open("/tmp/fa2_probe_smi.csv") if l.strip()]
    emit(part="burst_smi", samples=samples)


def ncu_target():
    for d in (64, 96, 128):
        q, k, v = qkv(4, 32, 2048, d, 1)
        call(q[0], k[0], v[0], False)
        torch.cuda.synchronize()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ncu", action="store_true")
    p.add_argument("--parts", default="length,burst,ragged")
    a = p.parse_args()
    if a.ncu:
        ncu_target()
        return
    props = torch.cuda.get_device_properties(0)
    emit(part="device", name=props.name, sms=props.multi_processor_count, torch=torch.__version__)
    device = C.Device(dry_run=False, hw_override=None)
    parts = a.parts.split(",")
    if "length" in parts: length(device)
    if "burst" in parts: burst()
    if "ragged" in parts: ragged(device)


if __name__ == "__main__":
    main()
