"""Suite `torch_elementwise`: the step's small kernels standalone (RMSNorm, the Triton RoPE /
SiLU*mul / fp8-quantise kernels, torch add, KV-cache write copies, embedding gather) over
rows in {1 .. 32768} x the shipped models' widths, each timed as CUDA-graph replays of many calls
over rotating buffers (>= 3x L2 where the call count allows, see timing.l2), checked against a
reference first. Also the fixed cost of one tiny kernel: 100 back-to-back launches, in a CUDA graph
and eagerly (workload op `launch`).

Configuration lists and estimates are plain Python; measuring needs torch (+ triton).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

import common as C

ROWS = (1, 8, 32, 128, 512, 2048, 8192, 32768)
HIDDEN = (3584, 4096, 8192, 16384)                  # qwen2.5-7b, llama3-8b/mistral, 70b, 405b
FFN = (14336, 18944, 28672, 53248)                  # llama3-8b/mistral, qwen2.5-7b, 70b, 405b
ROPE_HEADS = ((32, 8), (28, 4), (64, 8), (128, 8))  # (q heads, kv heads), head_dim 128
KV_HEADS = (8, 4)                                   # kv heads x 128 = 1024 / 512 columns
HEAD_DIM = 128
VOCAB = 128256
MAX_CALLS_PER_REPLAY = 16384
MEM_CAP_BYTES = 24 * 10 ** 9
TARGET_TIMED_S = 0.03


@dataclass(frozen=True)
class EwConfig:
    kind: str       # workload kind (docs/measurement-records.md)
    label: str
    rows: int
    cols: int
    variant: Tuple = ()   # (q_heads, kv_heads) for rope; ("decode"|"prefill", kv_heads) for kv_write

    def set_bytes(self) -> int:
        """Bytes one call moves that differ per rotation set (bf16 = 2 B, fp8 = 1 B)."""
        e = self.rows * self.cols
        return {"rmsnorm": 4 * e, "rope": 4 * e, "silu_mul": 6 * e, "add": 6 * e,
                "kv_write": 4 * e, "quantize_fp8": 3 * e, "embedding": 4 * e + 8 * self.rows}[self.kind]


def build_configs(quick: bool, rmsnorm_labels: Sequence[str] = ("triton_rmsnorm",)) -> List[EwConfig]:
    rows = (1, 128, 8192) if quick else ROWS
    hidden = HIDDEN[1:2] if quick else HIDDEN
    ffn = FFN[:1] if quick else FFN
    rope_heads = ROPE_HEADS[:1] if quick else ROPE_HEADS
    kvh = KV_HEADS[:1] if quick else KV_HEADS
    out: List[EwConfig] = []
    for r in rows:
        for h in hidden:
            for lab in rmsnorm_labels:
                out.append(EwConfig("rmsnorm", lab, r, h))
            out.append(EwConfig("add", "torch_add", r, h))
            out.append(EwConfig("embedding", "torch_embedding", r, h))
        for w in tuple(hidden) + tuple(ffn):
            out.append(EwConfig("quantize_fp8", "triton_quant_fp8", r, w))
        for f in ffn:
            out.append(EwConfig("silu_mul", "triton_silu_mul", r, f))
        for hq, hkv in rope_heads:
            out.append(EwConfig("rope", "triton_rope_qk", r, (hq + hkv) * HEAD_DIM, (hq, hkv)))
        for hkv in kvh:
            out.append(EwConfig("kv_write", "torch_copy_kv_decode", r, hkv * HEAD_DIM, ("decode", hkv)))
            out.append(EwConfig("kv_write", "torch_copy_kv_prefill", r, hkv * HEAD_DIM, ("prefill", hkv)))
    return out


def timing_plan(c: EwConfig, l2_bytes: int, mem_cap: int) -> Tuple[int, int]:
    """(calls per replay = rotation sets, min replays)."""
    n = C.rotation_sets(c.set_bytes(), l2_bytes, mem_cap, MAX_CALLS_PER_REPLAY)
    return n, (5 if n >= 1000 else 10)


def plan_call_s(c: EwConfig) -> float:
    return c.set_bytes() / C.PLAN_BYTES_PER_S + 2.5e-6


def plan_config_s(c: EwConfig, l2_bytes: int = C.PLAN_L2_BYTES) -> float:
    n, rmin = timing_plan(c, l2_bytes, MEM_CAP_BYTES)
    t = plan_call_s(c)
    r = C.replays_for(t, n, rmin, 200, TARGET_TIMED_S)
    host = 0.02 + n * 2.5e-5 + 2 * n * c.set_bytes() / 1.5e12
    return host + (2 + r) * n * t


def plan_s(configs: Sequence[EwConfig]) -> float:
    return sum(plan_config_s(c) for c in configs) + 1.0  # + launch measurements


def workload(c: EwConfig) -> Dict[str, Any]:
    return {"op": "elementwise", "kind": c.kind, "rows": c.rows, "cols": c.cols, "dtype": "bf16"}


# ---------------------------------------------------------------------------------------------
# Measuring
# ---------------------------------------------------------------------------------------------

class _Op:
    """n rotation sets of one elementwise configuration: call(j) launches the op on set j."""

    def __init__(self, c: EwConfig, n: int, dev: "C.Device", rmsnorm, gen):
        import torch
        import kernels as K
        self.c, self.n, self.dev, self.K = c, n, dev, K
        d = dev.torch_device
        bf = torch.bfloat16
        R, W = c.rows, c.cols
        rn = lambda *shape, dtype=bf: torch.empty(shape, dtype=dtype, device=d).normal_(generator=gen)
        self.outs: List[Any] = []
        self.rmsnorm = rmsnorm
        if c.kind == "rmsnorm":
            self.x = rn(n, R, W)
            self.w = (1.0 + 0.02 * torch.randn(W, generator=gen, device=d)).to(bf)
        elif c.kind == "add":
            self.a, self.b = rn(n, R, W), rn(n, R, W)
        elif c.kind == "silu_mul":
            self.g, self.u = rn(n, R, W), rn(n, R, W)
            self.o = torch.empty((n, R, W), dtype=bf, device=d)
        elif c.kind == "quantize_fp8":
            self.x = rn(n, R, W) * 4
            self.o = torch.empty((n, R, W), dtype=torch.float8_e4m3fn, device=d)
            self.inv_scale = torch.tensor([448.0 / 16.0], dtype=torch.float32, device=d)
        elif c.kind == "rope":
            hq, hkv = c.variant
            self.hq, self.hkv = hq, hkv
            self.q = rn(n, R, hq * HEAD_DIM)
            self.k = rn(n, R, hkv * HEAD_DIM)
            # rows padded to a multiple of 4 int32 (16 bytes): every set's pointer has the alignment
            # Triton specialised the kernel for, so no compilation happens during graph capture
            rp = -(-R // 4) * 4
            self.pos = torch.randint(0, 8192, (n, rp), generator=gen, device=d,
                                     dtype=torch.int64).to(torch.int32)[:, :R]
            self.cs = K.rope_cos_sin(8192, HEAD_DIM, 500000.0, d)
        elif c.kind == "kv_write":
            pattern, hkv = c.variant
            self.pattern, self.hkv = pattern, hkv
            self.src = rn(n, R, hkv * HEAD_DIM)
            if pattern == "decode":   # R sequences, one new token each, written at position j
                self.cache = rn(R, hkv, n, HEAD_DIM)
            else:                     # one sequence, R new tokens written at positions j*R ..
                self.cache = rn(1, hkv, n * R, HEAD_DIM)
        elif c.kind == "embedding":
            self.table = rn(VOCAB, W)
            self.ids = torch.randint(0, VOCAB, (n, R), generator=gen, device=d, dtype=torch.int64)
        else:
            raise ValueError(c.kind)

    def call(self, j: int) -> None:
        import torch
        import torch.nn.functional as F
        c, K = self.c, self.K
        if c.kind == "rmsnorm":
            self.outs.append(self.rmsnorm(self.x[j], self.w, 1e-5))
        elif c.kind == "add":
            self.outs.append(torch.add(self.a[j], self.b[j]))
        elif c.kind == "silu_mul":
            K.silu_mul(self.g[j], self.u[j], out=self.o[j])
        elif c.kind == "quantize_fp8":
            K.quant_fp8(self.x[j], self.inv_scale, out=self.o[j])
        elif c.kind == "rope":
            K.rope_(self.q[j], self.k[j], self.pos[j], self.cs, self.hq, self.hkv, HEAD_DIM)
        elif c.kind == "kv_write":
            R = c.rows
            if self.pattern == "decode":
                self.cache[:, :, j].copy_(self.src[j].view(R, self.hkv, HEAD_DIM))
            else:
                self.cache[0, :, j * R:(j + 1) * R].copy_(self.src[j].view(R, self.hkv, HEAD_DIM).transpose(0, 1))
        elif c.kind == "embedding":
            self.outs.append(F.embedding(self.ids[j], self.table))

    def body(self) -> None:
        self.outs.clear()
        for j in range(self.n):
            self.call(j)

    def check(self) -> Dict[str, Any]:
        """Runs the op once on set 0 (eager) and compares with a reference."""
        import torch
        c, K = self.c, self.K
        res: Dict[str, Any] = {}
        if c.kind == "rmsnorm":
            y = self.rmsnorm(self.x[0], self.w, 1e-5)
            res = _rel(y, K.rmsnorm_reference(self.x[0], self.w, 1e-5), 1e-2)
        elif c.kind == "add":
            y = torch.add(self.a[0], self.b[0])
            res = _rel(y, self.a[0].float() + self.b[0].float(), 1e-2)
        elif c.kind == "silu_mul":
            K.silu_mul(self.g[0], self.u[0], out=self.o[0])
            res = _rel(self.o[0], K.silu_mul_reference(self.g[0], self.u[0]), 1e-2)
        elif c.kind == "quantize_fp8":
            inv = float(self.inv_scale[0])
            if self.dev.is_cuda:
                K.quant_fp8(self.x[0], self.inv_scale, out=self.o[0])
                ref = K.quant_fp8_reference(self.x[0], inv)
                mism = int((self.o[0].view(torch.uint8) != ref.view(torch.uint8)).sum())
                res = {"mismatched_codes": mism, "pass": mism == 0, "reference": "torch .to(float8_e4m3fn) after the same saturation"}
            else:  # interpreter: fp8 cast is wrong there; check indexing/scale/saturation in float32
                o32 = torch.empty(self.x[0].shape, dtype=torch.float32)
                K.quant_fp8(self.x[0], self.inv_scale, out=o32)
                ref = (self.x[0].float() * torch.tensor(inv, dtype=torch.float32)).clamp(-448, 448)
                mism = int((o32 != ref).sum())
                res = {"mismatched_values_fp32_output": mism, "pass": mism == 0}
        elif c.kind == "rope":
            q0, k0 = self.q[0].clone(), self.k[0].clone()
            rq = K.rope_reference(q0, self.pos[0], self.cs, self.hq, HEAD_DIM)
            rk = K.rope_reference(k0, self.pos[0], self.cs, self.hkv, HEAD_DIM)
            K.rope_(q0, k0, self.pos[0], self.cs, self.hq, self.hkv, HEAD_DIM)
            a, b = _rel(q0, rq, 1e-2), _rel(k0, rk, 1e-2)
            res = {"q": a, "k": b, "pass": a["pass"] and b["pass"]}
        elif c.kind == "kv_write":
            self.call(0)
            R = c.rows
            if self.pattern == "decode":
                got = self.cache[:, :, 0]
                want = self.src[0].view(R, self.hkv, HEAD_DIM)
            else:
                got = self.cache[0, :, 0:R]
                want = self.src[0].view(R, self.hkv, HEAD_DIM).transpose(0, 1)
            ok = bool(torch.equal(got, want))
            res = {"exact": ok, "pass": ok}
        elif c.kind == "embedding":
            y = torch.nn.functional.embedding(self.ids[0], self.table)
            ok = bool(torch.equal(y, self.table[self.ids[0]]))
            res = {"exact": ok, "pass": ok}
        self.dev.synchronize()
        return res


def _rel(y, ref, tol: float) -> Dict[str, Any]:
    yf = y.float()
    rel = float((yf - ref).norm() / ref.norm().clamp_min(1e-30))
    fin = bool(yf.isfinite().all())
    return {"rel_err": rel, "finite": fin, "pass": fin and rel <= tol}


class ElementwiseRunner:
    def __init__(self, dev: "C.Device", writer: "C.RecordWriter", deadline: "C.Deadline", rmsnorm,
                 suite: str = "torch_elementwise"):
        self.dev, self.writer, self.deadline, self.rmsnorm, self.suite = dev, writer, deadline, rmsnorm, suite
        self.summary: List[List[Any]] = []
        self._kernel_counts: Dict[Tuple[str, str], Tuple[int, List[Dict[str, Any]]]] = {}

    def _kernels(self, c: EwConfig, op: _Op) -> Tuple[int, List[Dict[str, Any]]]:
        """Kernels of one call (profiled once per label and kind; they do not change with size)."""
        key = (c.label, c.kind)
        if key not in self._kernel_counts:
            try:
                with C.RegionProfiler(self.dev) as rp:
                    with rp.region("ew_probe"):
                        op.call(0)
                ks = [k for r in rp.regions for k in r.kernels]
                self._kernel_counts[key] = (len(ks), C.kernel_summary(ks, 4))
            except Exception as e:
                self._kernel_counts[key] = (0, [{"name": "profiler failed: " + C.error_text(e), "count": 0, "time_s": 0.0}])
            op.outs.clear()
        return self._kernel_counts[key]

    def run(self, configs: Sequence[EwConfig]) -> None:
        for c in configs:
            if self.deadline.expired():
                self._error(c, "not run: suite time budget exhausted before this configuration")
                continue
            self._measure(c)

    def _error(self, c: EwConfig, msg: str, extra: Optional[Dict[str, Any]] = None) -> None:
        rec = C.make_record(suite=self.suite, label=c.label, workload=workload(c), device=self.dev.snapshot(),
                            status="error", error=msg, extra=extra, dry_run=self.dev.dry_run)
        self.writer.write(rec)
        self.summary.append([c.kind, c.label, c.rows, c.cols, "error", "-", msg[:50]])

    def _measure(self, c: EwConfig) -> None:
        import torch
        mem_cap = MEM_CAP_BYTES
        if self.dev.is_cuda:
            mem_cap = min(mem_cap, int(torch.cuda.mem_get_info()[0] * 0.6))
        n, rmin = timing_plan(c, self.dev.l2_bytes, mem_cap)
        extra: Dict[str, Any] = {}
        if c.kind == "rope":
            extra.update({"q_heads": c.variant[0], "kv_heads": c.variant[1], "head_dim": HEAD_DIM,
                          "layout": "q [rows, HQ*D] and k [rows, HKV*D] rotated in place, one launch; cos/sin table float32"})
        if c.kind == "kv_write":
            extra.update({"pattern": c.variant[0], "kv_heads": c.variant[1], "head_dim": HEAD_DIM,
                          "layout": ("rows sequences x one token into cache[rows, HKV, S, D] at one position"
                                     if c.variant[0] == "decode" else
                                     "one sequence, rows tokens [rows, HKV*D] into cache[1, HKV, S, D] (transposing copy)"),
                          "note": "one copy kernel per tensor (K or V); the step launches two"})
        if c.kind == "embedding":
            extra["table_rows"] = VOCAB
        if c.kind == "quantize_fp8":
            extra["output"] = "float8_e4m3fn, static per-tensor scale, saturating"
        if c.kind == "rmsnorm":
            extra["rmsnorm_choice"] = getattr(self.rmsnorm, "probe", {})
        op = None
        failure = None
        try:
            gen = torch.Generator(device=self.dev.torch_device).manual_seed(11)
            op = _Op(c, n, self.dev, self.rmsnorm, gen)
            chk = op.check()
            extra["check"] = chk
            kpc, knames = self._kernels(c, op)
            extra["kernels"] = knames
            for j in sorted({0, 1 % n, n - 1}):   # eager launches on other sets before the capture
                op.call(j)
            self.dev.synchronize()
            op.outs.clear()
            tr = C.time_replays(self.dev, op.body, n, min_replays=rmin, max_replays=200,
                                target_timed_s=TARGET_TIMED_S, warmup=2)
            devobj = self.dev.snapshot()
        except Exception as e:
            failure = ("out of memory: " if C.is_oom(e) else "") + C.error_text(e)
        finally:
            op = None
        if failure is not None:
            C.free_cuda(self.dev, collect=True)
            self._error(c, failure, extra)
            return
        sb = c.set_bytes()
        st = tr.stats()
        extra.update({"rotation_sets": n, "rotation_bytes": n * sb, "calls_per_replay": n,
                      "replays": tr.replays, "bytes_per_call": sb,
                      "achieved_bytes_per_s": sb / st["median"]})
        if tr.note:
            extra["timing_note"] = tr.note
        if tr.graph_capture_error:
            extra["graph_capture_error"] = tr.graph_capture_error
        l2 = C.l2_state(sb, n, self.dev.l2_bytes)
        if l2 == "warm":
            extra["l2_note"] = (f"rotation over {n * sb} bytes (< 3x L2 = {3 * self.dev.l2_bytes}): "
                                f"call count capped at {MAX_CALLS_PER_REPLAY} per replay")
        status, err = "ok", None
        if not chk.get("pass", False):
            status, err = "error", f"check against the reference failed: {chk}"
        rec = C.make_record(suite=self.suite, label=c.label, workload=workload(c), device=devobj, status=status,
                            error=err, time_s=st, method=tr.method, l2=l2, kernels_per_call=max(1, kpc),
                            extra=extra, dry_run=self.dev.dry_run)
        self.writer.write(rec)
        self.summary.append([c.kind, c.label, c.rows, c.cols, status, C.fmt_s(st["median"]),
                             f"{sb / st['median'] / 1e12:.2f} TB/s"])
        if n * sb > 2 ** 30:
            C.free_cuda(self.dev)

    # ------------------------------------------------------------------ launch cost
    def run_launch(self) -> None:
        """One tiny kernel, 100 launches back to back: in one CUDA graph (graph: true) and eagerly
        (graph: false, CUDA events around the 100 launches; includes the host launch rate)."""
        import torch
        import kernels as K
        x = torch.ones(1, device=self.dev.torch_device, dtype=torch.float32)
        n = 100
        variants = [("torch_add_scalar_1elem", lambda: x.add_(1.0)),
                    ("triton_empty_kernel", lambda: K.empty_launch(x))]
        for label, fn in variants:
            def body(fn=fn):
                for _ in range(n):
                    fn()
            for graph in (True, False):
                wl = {"op": "launch", "graph": graph}
                try:
                    fn()
                    self.dev.synchronize()
                    kpc = 1
                    if graph:
                        tr = C.time_replays(self.dev, body, n, min_replays=50, max_replays=50,
                                            target_timed_s=0.0, warmup=3, allow_eager_fallback=False)
                    else:
                        tr = _time_eager(self.dev, body, n, replays=50 if self.dev.is_cuda else 2)
                    st = tr.stats()
                    rec = C.make_record(suite=self.suite, label=label, workload=wl, device=self.dev.snapshot(),
                                        time_s=st, method=tr.method, l2="warm", kernels_per_call=kpc,
                                        extra={"launches_per_replay": n, "replays": tr.replays,
                                               "note": "time per launch = replay time / 100; data is 4 bytes (L2 state irrelevant)"},
                                        dry_run=self.dev.dry_run)
                    self.writer.write(rec)
                    self.summary.append(["launch", label, "graph" if graph else "eager", "-", "ok",
                                         C.fmt_s(st["median"]), ""])
                except Exception as e:
                    rec = C.make_record(suite=self.suite, label=label, workload=wl, device=self.dev.snapshot(),
                                        status="error", error=C.error_text(e), l2="warm", dry_run=self.dev.dry_run)
                    self.writer.write(rec)


def _time_eager(dev: "C.Device", body, calls: int, replays: int) -> "C.TimingResult":
    """Eager launches timed with CUDA events around each replay of `calls` launches."""
    import time
    import torch
    if not dev.is_cuda:
        samples = []
        for _ in range(replays):
            t0 = time.perf_counter()
            body()
            samples.append((time.perf_counter() - t0) / calls)
        return C.TimingResult(samples, calls, replays, 0, "cuda_events", "dry run: host clock")
    body()
    torch.cuda.synchronize()
    starts = [torch.cuda.Event(enable_timing=True) for _ in range(replays)]
    ends = [torch.cuda.Event(enable_timing=True) for _ in range(replays)]
    for i in range(replays):
        starts[i].record()
        body()
        ends[i].record()
    torch.cuda.synchronize()
    return C.TimingResult([starts[i].elapsed_time(ends[i]) * 1e-3 / calls for i in range(replays)],
                          calls, replays, 1, "cuda_events")


def dry_run_configs(rmsnorm_labels: Sequence[str]) -> List[EwConfig]:
    out = []
    for r in (1, 5):
        for lab in rmsnorm_labels:
            out.append(EwConfig("rmsnorm", lab, r, 96))
        out += [EwConfig("add", "torch_add", r, 96), EwConfig("embedding", "torch_embedding", r, 64),
                EwConfig("quantize_fp8", "triton_quant_fp8", r, 80), EwConfig("silu_mul", "triton_silu_mul", r, 80),
                EwConfig("rope", "triton_rope_qk", r, (4 + 2) * HEAD_DIM, (4, 2)),
                EwConfig("kv_write", "torch_copy_kv_decode", r, 2 * HEAD_DIM, ("decode", 2)),
                EwConfig("kv_write", "torch_copy_kv_prefill", r, 2 * HEAD_DIM, ("prefill", 2))]
    return out
