"""Feasibility probe (not a suite): time streaming kernels at full SMs and in CUDA green contexts with fewer
SMs. Prints one JSON line per measurement."""
import json, sys, os
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import torch
import kernels as K
print("torch", torch.__version__, flush=True)
from torch.cuda import green_contexts as gc
print([a for a in dir(gc.GreenContext) if not a.startswith("_")], flush=True)
dev = torch.device("cuda")
props = torch.cuda.get_device_properties(0)
print(props.name, props.multi_processor_count, flush=True)
bf = torch.bfloat16
g = torch.Generator(device=dev).manual_seed(1)
n_sets = 4
def mk(*s, dtype=bf): return torch.empty((n_sets,) + s, dtype=dtype, device=dev).normal_(generator=g)
cases = {}
R, H, F = 32768, 4096, 14336
x = mk(R, H); w = (1 + 0.02 * torch.randn(H, device=dev)).to(bf)
cases["rmsnorm 32768x4096"] = (lambda j: K.rmsnorm_triton(x[j], w, 1e-5), 4 * R * H)
a, b = mk(R, H), mk(R, H)
cases["add 32768x4096"] = (lambda j: torch.add(a[j], b[j]), 6 * R * H)
gg, uu = mk(8192, F), mk(8192, F); oo = torch.empty((n_sets, 8192, F), dtype=bf, device=dev)
cases["silu_mul 8192x14336"] = (lambda j: K.silu_mul(gg[j], uu[j], out=oo[j]), 6 * 8192 * F)
xq = mk(8192, F) * 4; oq = torch.empty((n_sets, 8192, F), dtype=torch.float8_e4m3fn, device=dev)
inv = torch.tensor([448.0 / 16.0], dtype=torch.float32, device=dev)
cases["quantize 8192x14336"] = (lambda j: K.quant_fp8(xq[j], inv, out=oq[j]), 3 * 8192 * F)
tab = mk(128256, H)[0]; ids = torch.randint(0, 128256, (n_sets, R), device=dev)
cases["embedding 32768x4096"] = (lambda j: torch.nn.functional.embedding(ids[j], tab), 4 * R * H)
src = mk(R, 8 * 128); cache = torch.empty((1, 8, n_sets * R, 128), dtype=bf, device=dev)
cases["kv_write prefill 32768x1024"] = (lambda j: cache[0, :, j * R:(j + 1) * R].copy_(src[j].view(R, 8, 128).transpose(0, 1)), 4 * R * 1024)

def timeit(fn, reps=20):
    for j in range(n_sets): fn(j)
    torch.cuda.synchronize()
    ts = []
    for r in range(reps):
        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        s.record()
        for j in range(n_sets): fn(j)
        e.record(); torch.cuda.synchronize()
        ts.append(s.elapsed_time(e) / 1e3 / n_sets)
    ts.sort(); return ts[len(ts) // 2]

def run(label):
    for name, (fn, by) in cases.items():
        t = timeit(fn)
        print(json.dumps({"sms": label, "case": name, "time_s": t, "TBps": by / t / 1e12}), flush=True)

run(props.multi_processor_count)
for n in (66, 32):
    try:
        try:
            ctx = gc.GreenContext.create(num_sms=n, device_id=0)
        except TypeError:
            ctx = gc.GreenContext.create(n, 0)
        ctx.set_context()
        try:
            run(n)
        finally:
            ctx.pop_context()
    except Exception as ex:
        print("green context", n, "failed:", repr(ex), flush=True)
run(str(props.multi_processor_count) + " again")
