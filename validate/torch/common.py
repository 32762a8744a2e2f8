"""Shared pieces of the PyTorch reference suites: device description, record building and writing,
CUDA-graph timing with L2-defeating rotation, profiler summaries, time budgets.

Records follow docs/measurement-records.md (schema roofline.measurement.v1). Timing follows
shared/reference/kernels.md ("Timing"): CUDA-graph replays timed with CUDA events, warm-up first,
median of many replays, inputs rotated over sets totalling >= 3x L2.
torch is imported lazily so that the planning and record logic can be tested without it.
"""
from __future__ import annotations

import datetime as _dt
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

SCHEMA = "roofline.measurement.v1"
HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))

if HERE not in sys.path:  # check_records lives beside this file
    sys.path.insert(0, HERE)
import check_records  # noqa: E402

# Assumed H100 SXM rates used only to *plan* run time (never written into a record). Sources:
# shared/reference/hardware.md (measured ceilings: ~3.0 TB/s copy, ~750 TFLOP/s bf16 GEMM) and
# published FlashAttention-2 / cuDNN figures (shared/reference/kernels.md).
PLAN_BYTES_PER_S = 2.6e12
PLAN_GEMM_BF16_FLOP_PER_S = 600e12
PLAN_GEMM_FP8_FLOP_PER_S = 1000e12
PLAN_ATTN_FLOP_PER_S = {"flash": 330e12, "cudnn": 500e12, "efficient": 200e12}
PLAN_KERNEL_FIXED_S = 4e-6
PLAN_L2_BYTES = 50 * 1024 * 1024


def utc_now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def hw_profile_from_name(name: str) -> Optional[str]:
    """hw_profiles/ name for a CUDA device name, or None when unknown (then --hw is needed)."""
    n = name.upper()
    if "H200" in n:
        return "h200_sxm"
    if "H100" in n and ("PCIE" in n or "PCI-E" in n):
        return "h100_pcie"
    if "H100" in n and ("HBM3" in n or "SXM" in n):
        return "h100_sxm"
    if "H100" in n:
        return "h100_sxm" if "NVL" not in n else None
    if "A100" in n and "80GB" in n and "PCIE" not in n:
        return "a100_sxm_80gb"
    return None


# --------------------------------------------------------------------------------------------
# Clocks and device object
# --------------------------------------------------------------------------------------------

class ClockReader:
    """Reads current SM / memory clocks: pynvml when importable, else nvidia-smi (cached for
    `smi_refresh_s` seconds because one nvidia-smi call costs ~50 ms)."""

    def __init__(self, smi_refresh_s: float = 20.0):
        self._nvml = None
        self._handle = None
        self._smi_cache: Optional[Tuple[float, Dict[str, Any]]] = None
        self._smi_refresh_s = smi_refresh_s
        try:
            import pynvml  # type: ignore
            pynvml.nvmlInit()
            idx = int(os.environ.get("CUDA_VISIBLE_DEVICES", "0").split(",")[0] or 0)
            self._handle = pynvml.nvmlDeviceGetHandleByIndex(idx if idx >= 0 else 0)
            self._nvml = pynvml
        except Exception:
            self._nvml = None

    def driver(self) -> Optional[str]:
        if self._nvml is not None:
            try:
                v = self._nvml.nvmlSystemGetDriverVersion()
                return v.decode() if isinstance(v, bytes) else str(v)
            except Exception:
                pass
        q = self._smi(["driver_version"])
        return q.get("driver_version") if q else None

    def max_sm_hz(self) -> Optional[float]:
        q = self._smi(["clocks.max.sm"])
        try:
            return float(q["clocks.max.sm"]) * 1e6 if q else None
        except (KeyError, ValueError):
            return None

    def read(self) -> Tuple[Optional[float], Optional[float], str]:
        """(sm_clock_hz, mem_clock_hz, note)."""
        if self._nvml is not None:
            try:
                sm = self._nvml.nvmlDeviceGetClockInfo(self._handle, self._nvml.NVML_CLOCK_SM)
                mem = self._nvml.nvmlDeviceGetClockInfo(self._handle, self._nvml.NVML_CLOCK_MEM)
                return float(sm) * 1e6, float(mem) * 1e6, "nvml current clocks right after the timed replays"
            except Exception:
                pass
        now = time.monotonic()
        if self._smi_cache is None or now - self._smi_cache[0] > self._smi_refresh_s:
            q = self._smi(["clocks.sm", "clocks.mem"])
            self._smi_cache = (now, q or {})
        q = self._smi_cache[1]
        try:
            return (float(q["clocks.sm"]) * 1e6, float(q["clocks.mem"]) * 1e6,
                    f"nvidia-smi current clocks, read after a timed loop, refreshed every {self._smi_refresh_s:.0f} s")
        except (KeyError, ValueError):
            return None, None, "clocks unavailable (no pynvml, nvidia-smi failed)"

    @staticmethod
    def _smi(fields: Sequence[str]) -> Optional[Dict[str, str]]:
        exe = shutil.which("nvidia-smi")
        if exe is None:
            return None
        try:
            out = subprocess.run([exe, "--query-gpu=" + ",".join(fields), "--format=csv,noheader,nounits"],
                                 capture_output=True, text=True, timeout=20)
        except Exception:
            return None
        if out.returncode != 0 or not out.stdout.strip():
            return None
        vals = [v.strip() for v in out.stdout.strip().splitlines()[0].split(",")]
        return dict(zip(fields, vals)) if len(vals) == len(fields) else None


class Device:
    """The record's `device` object plus the facts the suites need (L2 bytes, memory)."""

    def __init__(self, dry_run: bool, hw_override: Optional[str]):
        import torch
        self.dry_run = dry_run
        self.clocks = ClockReader() if not dry_run else None
        if dry_run:
            self.torch_device = torch.device("cpu")
            name = "cpu (dry run, not a measurement)"
            self.l2_bytes = 2048        # tiny, so that dry-run rotation counts stay small
            self.memory_bytes = 8 * 1024 ** 3
            self.sm_count = os.cpu_count() or 1
            cc = "0.0"
            driver = "none (dry run)"
            cuda_rt = "none (dry run)"
        else:
            if not torch.cuda.is_available():
                raise RuntimeError("CUDA is not available (use --dry-run on a machine without a GPU)")
            self.torch_device = torch.device("cuda", torch.cuda.current_device())
            p = torch.cuda.get_device_properties(self.torch_device)
            name = p.name
            self.l2_bytes = int(getattr(p, "L2_cache_size", 0) or PLAN_L2_BYTES)
            self.memory_bytes = int(p.total_memory)
            self.sm_count = int(p.multi_processor_count)
            cc = f"{p.major}.{p.minor}"
            driver = self.clocks.driver() or "unknown (pynvml and nvidia-smi unavailable)"
            cuda_rt = torch.version.cuda or "unknown"
        hw = hw_override or hw_profile_from_name(name) or ("cpu_dry_run" if dry_run else None)
        if hw is None:
            raise RuntimeError(f"cannot map device name {name!r} to a hw_profile: pass --hw NAME")
        self.hw_profile = hw
        self.obj: Dict[str, Any] = {
            "name": name, "hw_profile": hw, "compute_capability": cc, "sm_count": self.sm_count,
            "l2_bytes": self.l2_bytes, "memory_bytes": self.memory_bytes,
            "sm_clock_hz": None, "mem_clock_hz": None, "clock_note": "not read yet",
            "driver": driver, "cuda_runtime": cuda_rt, "torch": torch.__version__,
        }
        if not dry_run:
            mx = self.clocks.max_sm_hz()
            self.max_sm_clock_hz = mx
        else:
            self.max_sm_clock_hz = None
            self.obj["clock_note"] = "dry run on the CPU: no clocks"

    def snapshot(self) -> Dict[str, Any]:
        """The device object with clocks read now (call right after a timed loop)."""
        d = dict(self.obj)
        if self.clocks is not None:
            sm, mem, note = self.clocks.read()
            d["sm_clock_hz"], d["mem_clock_hz"], d["clock_note"] = sm, mem, note
        return d

    @property
    def is_cuda(self) -> bool:
        return not self.dry_run

    def synchronize(self) -> None:
        if self.is_cuda:
            import torch
            torch.cuda.synchronize()


# --------------------------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------------------------

def stats_s(samples_s: Sequence[float]) -> Dict[str, Any]:
    """time_s object: median/min/max of the samples (seconds) and their count."""
    if not samples_s:
        raise ValueError("no samples")
    return {"median": float(statistics.median(samples_s)), "min": float(min(samples_s)),
            "max": float(max(samples_s)), "count": int(len(samples_s))}


def make_record(*, suite: str, label: str, workload: Dict[str, Any], device: Dict[str, Any],
                status: str = "ok", error: Optional[str] = None, time_s: Optional[Dict[str, Any]] = None,
                method: str = "cuda_graph_events", l2: str = "cold_rotating", kernels_per_call: int = 1,
                extra: Optional[Dict[str, Any]] = None, counters: Optional[Dict[str, float]] = None,
                dry_run: bool = False) -> Dict[str, Any]:
    rec: Dict[str, Any] = {
        "schema": SCHEMA, "suite": suite, "label": label, "workload": workload, "status": status,
    }
    if error is not None:
        rec["error"] = error[:2000]
    if time_s is not None:
        rec["time_s"] = time_s
    # the C++ reader wants kernels_per_call >= 1 on every record (error records: the planned count)
    rec["timing"] = {"method": method, "l2": l2, "kernels_per_call": max(1, int(kernels_per_call))}
    rec["counters"] = counters or {}
    rec["predicted_s"] = None
    rec["device"] = device
    rec["timestamp"] = utc_now_iso()
    ex = dict(extra or {})
    if dry_run:
        ex["dry_run"] = True
    if ex:
        rec["extra"] = _json_safe(ex)
    return rec


def _json_safe(x: Any) -> Any:
    """Replaces non-finite floats (not valid JSON) by strings, recursively."""
    if isinstance(x, float) and not math.isfinite(x):
        return repr(x)
    if isinstance(x, dict):
        return {str(k): _json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_json_safe(v) for v in x]
    return x


class RecordWriter:
    """Appends one JSON object per line and flushes after each, so an interrupted run keeps what it
    measured. Every record is validated against docs/measurement-records.md before it is written;
    an invalid one is printed and not written (it would break the strict reader)."""

    def __init__(self, path: str, allow_pending: bool = False):
        self.path = path
        self.allow_pending = allow_pending
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        self._f = open(path, "a", encoding="utf-8")
        self.n_ok = 0
        self.n_error = 0
        self.n_invalid = 0
        self.rows: List[Dict[str, Any]] = []

    def write(self, rec: Dict[str, Any]) -> bool:
        problems = check_records.validate_record(rec, self.allow_pending)
        if problems:
            self.n_invalid += 1
            print(f"INVALID RECORD (not written) for {self.path}: {problems}\n  {json.dumps(rec)[:600]}",
                  file=sys.stderr, flush=True)
            return False
        self._f.write(json.dumps(rec, allow_nan=False, separators=(",", ":")) + "\n")
        self._f.flush()
        if rec["status"] == "ok":
            self.n_ok += 1
        else:
            self.n_error += 1
        self.rows.append(rec)
        return True

    def close(self) -> None:
        self._f.close()


# --------------------------------------------------------------------------------------------
# Budgets
# --------------------------------------------------------------------------------------------

class Deadline:
    """A wall-clock budget. `expired()` is checked before each configuration; configurations not
    started in time are written as error records ("not run: time budget") so nothing is silently lost."""

    def __init__(self, budget_s: Optional[float]):
        self.t0 = time.monotonic()
        self.budget_s = budget_s

    def elapsed(self) -> float:
        return time.monotonic() - self.t0

    def expired(self) -> bool:
        return self.budget_s is not None and self.elapsed() > self.budget_s


def rotation_sets(set_bytes: int, l2_bytes: int, mem_cap_bytes: int, max_sets: int,
                  min_sets: int = 2) -> int:
    """How many distinct input sets one timed replay walks through: enough to total >= 3x L2
    (ceil(3*L2/set)), at least `min_sets` when memory allows, at most `max_sets` and never more than
    fits in `mem_cap_bytes`. Example: 16 MiB sets, 50 MiB L2 -> ceil(150/16) = 10 sets."""
    if set_bytes <= 0:
        raise ValueError("set_bytes must be > 0")
    need = max(min_sets, math.ceil(3 * l2_bytes / set_bytes))
    fit = max(1, mem_cap_bytes // set_bytes)
    return int(max(1, min(need, max_sets, fit)))


def l2_state(set_bytes: int, n_sets: int, l2_bytes: int) -> str:
    """cold_rotating when the rotated data totals >= 3x L2 (docs/measurement-records.md), else warm."""
    return "cold_rotating" if set_bytes * n_sets >= 3 * l2_bytes else "warm"


def replays_for(call_s_estimate: float, calls_per_replay: int, min_replays: int, max_replays: int,
                target_timed_s: float) -> int:
    """Timed replays: enough to spend about `target_timed_s` of GPU time, within [min, max]."""
    per = max(call_s_estimate * calls_per_replay, 1e-6)
    return int(max(min_replays, min(max_replays, math.ceil(target_timed_s / per))))


# --------------------------------------------------------------------------------------------
# Timing
# --------------------------------------------------------------------------------------------

@dataclass
class TimingResult:
    per_call_s: List[float]          # one sample per timed replay, already divided by calls_per_replay
    calls_per_replay: int
    replays: int
    warmup_replays: int
    method: str
    note: str = ""
    graph_capture_error: Optional[str] = None

    def stats(self) -> Dict[str, Any]:
        return stats_s(self.per_call_s)


def time_replays(dev: Device, body: Callable[[], Any], calls_per_replay: int, *,
                 min_replays: int, max_replays: int, target_timed_s: float, warmup: int = 2,
                 allow_eager_fallback: bool = True) -> TimingResult:
    """Captures `body` (which issues `calls_per_replay` calls, each on its own rotation set) in one
    CUDA graph, replays it `warmup` times, then times replays one by one with CUDA events; each
    sample is replay time / calls_per_replay. `body` must have been run eagerly once before (module
    loads, cuBLAS / cuDNN plans, Triton compilation happen outside the capture).
    On the CPU (dry run) the same calls are timed with the host clock (not a measurement)."""
    import torch
    if not dev.is_cuda:  # dry run: exercise the path only (two samples)
        body()
        n = 2
        samples = []
        for _ in range(n):
            t0 = time.perf_counter()
            body()
            samples.append((time.perf_counter() - t0) / calls_per_replay)
        return TimingResult(samples, calls_per_replay, n, 1, "cuda_events", "dry run: host clock")

    g = torch.cuda.CUDAGraph()
    capture_error = None
    try:
        torch.cuda.synchronize()
        with torch.cuda.graph(g):
            body()
        torch.cuda.synchronize()
    except Exception as e:  # capture failed: fall back to eager launches timed with events
        capture_error = error_text(e)
        g = None
        try:  # a failed capture can leave the side stream current: go back to the default stream
            torch.cuda.set_stream(torch.cuda.default_stream())
            torch.cuda.synchronize()
        except Exception:
            pass
        if not allow_eager_fallback:
            raise
    run = g.replay if g is not None else body
    # warm-up, and a first estimate of one replay to size the timed loop
    t_est = []
    for _ in range(max(1, warmup)):
        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        s.record()
        run()
        e.record()
        e.synchronize()
        t_est.append(s.elapsed_time(e) * 1e-3)
    per_replay = min(t_est)
    replays = int(max(min_replays, min(max_replays, math.ceil(target_timed_s / max(per_replay, 1e-6)))))
    starts = [torch.cuda.Event(enable_timing=True) for _ in range(replays)]
    ends = [torch.cuda.Event(enable_timing=True) for _ in range(replays)]
    for i in range(replays):
        starts[i].record()
        run()
        ends[i].record()
    torch.cuda.synchronize()
    samples = [starts[i].elapsed_time(ends[i]) * 1e-3 / calls_per_replay for i in range(replays)]
    method = "cuda_graph_events" if g is not None else "cuda_events"
    note = "" if g is not None else "graph capture failed; eager launches timed with CUDA events"
    del g
    return TimingResult(samples, calls_per_replay, replays, max(1, warmup), method, note, capture_error)


# --------------------------------------------------------------------------------------------
# Profiler: which kernels ran, attributed to annotated regions by time window
# --------------------------------------------------------------------------------------------

@dataclass
class KernelEvent:
    name: str
    start_us: float
    dur_us: float


@dataclass
class RegionProfile:
    tag: str
    kernels: List[KernelEvent] = field(default_factory=list)


class RegionProfiler:
    """Runs calls under one torch.profiler session. Each `region(tag)` is a record_function range
    that ends with a device synchronize, so every kernel launched inside it also *ran* inside its
    [start, end] window on the host timeline; device kernels are then attributed to regions by
    their start time. (Within a region, kernel durations are GPU start..end as CUPTI reports them.)
    On the CPU (dry run) the outermost aten ops inside a region stand in for kernels."""

    def __init__(self, dev: Device):
        self.dev = dev
        self._prof = None
        self.regions: List[RegionProfile] = []
        self.unattributed: List[KernelEvent] = []
        self._tags: List[str] = []
        self.method = ""
        self.attribution: Dict[str, int] = {}

    def __enter__(self):
        import torch
        acts = [torch.profiler.ProfilerActivity.CPU]
        if self.dev.is_cuda:
            acts.append(torch.profiler.ProfilerActivity.CUDA)
        self._prof = torch.profiler.profile(activities=acts, record_shapes=False, with_stack=False)
        self._prof.__enter__()
        return self

    @contextmanager
    def region(self, tag: str):
        import torch
        self._tags.append(tag)
        with torch.profiler.record_function(tag):
            try:
                yield
            finally:
                self.dev.synchronize()

    def __exit__(self, *exc):
        self._prof.__exit__(*exc)
        if exc[0] is None:
            self._collect()
        return False

    def _collect(self) -> None:
        from torch.autograd import DeviceType
        r = attribute_kernels(list(self._prof.events()), set(self._tags), DeviceType.CPU, self.dev.is_cuda)
        self.regions, self.unattributed, self.method, self.attribution = r


def attribute_kernels(evts: Sequence[Any], tagset: set, cpu_type: Any, device_kernels: bool
                      ) -> Tuple[List[RegionProfile], List[KernelEvent], str, Dict[str, int]]:
    """Attributes device kernels to the annotated regions in two ways and keeps the one that places
    more kernels: (regions in time order, unattributed kernels, method, counts).
    correlation: torch.profiler attaches each kernel to the CPU event that launched it (CUPTI
    correlation id); walk up cpu_parent to the region's record_function event.
    time_window: the kernel's start lies in the region's host-side [start, end] (regions end with a
    synchronize, so their kernels ran inside them), given aligned CPU/GPU timestamps.
    `evts` are torch.profiler FunctionEvents (or objects with the same attributes). With
    device_kernels False (CPU dry run) the outermost aten ops inside a region stand in for kernels."""
    ann = sorted((e for e in evts if e.device_type == cpu_type and e.name in tagset),
                 key=lambda e: e.time_range.start)
    windows = [(e.time_range.start, e.time_range.end, e.name) for e in ann]
    kernels: List[KernelEvent] = []
    for e in evts:
        if device_kernels:
            if e.device_type != cpu_type and not getattr(e, "is_user_annotation", False) and e.name not in tagset:
                kernels.append(KernelEvent(e.name, e.time_range.start, e.time_range.end - e.time_range.start))
        elif e.device_type == cpu_type and e.name.startswith("aten::"):
            p = e.cpu_parent
            if p is None or not p.name.startswith("aten::"):
                kernels.append(KernelEvent(e.name, e.time_range.start, e.time_range.end - e.time_range.start))
    kernels.sort(key=lambda k: k.start_us)
    by_window = [RegionProfile(w[2]) for w in windows]
    lost_window = assign_to_windows(kernels, windows, by_window)
    n_window = len(kernels) - len(lost_window)
    by_corr = [RegionProfile(w[2]) for w in windows]
    n_corr = 0
    placed: Dict[Tuple[str, float], int] = {}
    if device_kernels:
        index = {id(e): i for i, e in enumerate(ann)}
        for e in evts:
            if e.device_type != cpu_type or not getattr(e, "kernels", None):
                continue
            p = e
            while p is not None and id(p) not in index:
                p = p.cpu_parent
            if p is None:
                continue
            for k in e.kernels:
                if k.name in tagset:
                    continue
                by_corr[index[id(p)]].kernels.append(KernelEvent(k.name, e.time_range.start, float(k.duration)))
                key = (k.name, round(float(k.duration), 3))
                placed[key] = placed.get(key, 0) + 1
                n_corr += 1
    counts = {"device_kernels": len(kernels), "by_time_window": n_window, "by_correlation": n_corr}
    if n_corr > 0 and n_corr >= n_window:
        lost = []
        for k in kernels:  # device kernels no region received (matched by name and duration)
            key = (k.name, round(k.dur_us, 3))
            if placed.get(key, 0) > 0:
                placed[key] -= 1
            else:
                lost.append(k)
        return by_corr, lost, "correlation", counts
    return by_window, lost_window, "time_window", counts


def assign_to_windows(kernels: Sequence[KernelEvent], windows: Sequence[Tuple[float, float, str]],
                      out: List[RegionProfile], tol_us: float = 2.0) -> List[KernelEvent]:
    """Puts each kernel into the window [start - tol, end + tol] that contains its start (windows
    sorted by start, non-overlapping); returns the kernels no window contains."""
    import bisect
    starts = [w[0] for w in windows]
    lost = []
    for k in kernels:
        i = bisect.bisect_right(starts, k.start_us + tol_us) - 1
        if i >= 0 and k.start_us <= windows[i][1] + tol_us:
            out[i].kernels.append(k)
        else:
            lost.append(k)
    return lost


def short_kernel_name(name: str, limit: int = 140) -> str:
    """Kernel name without template arguments' bulk: keeps the first `limit` characters."""
    n = " ".join(name.split())
    return n if len(n) <= limit else n[:limit] + "..."


def kernel_summary(kernels: Iterable[KernelEvent], top: int = 12) -> List[Dict[str, Any]]:
    """[{name, count, time_s}] by total time, the `top` largest."""
    agg: Dict[str, List[float]] = {}
    for k in kernels:
        s = short_kernel_name(k.name)
        a = agg.setdefault(s, [0, 0.0])
        a[0] += 1
        a[1] += k.dur_us * 1e-6
    rows = sorted(agg.items(), key=lambda kv: -kv[1][1])
    return [{"name": n, "count": int(c), "time_s": float(t)} for n, (c, t) in rows[:top]]


# --------------------------------------------------------------------------------------------
# Misc
# --------------------------------------------------------------------------------------------

def error_text(e: BaseException) -> str:
    s = f"{type(e).__name__}: {e}"
    return " ".join(s.split())[:1500]


def is_oom(e: BaseException) -> bool:
    return "out of memory" in str(e).lower() or type(e).__name__ == "OutOfMemoryError"


def free_cuda(dev: Device, collect: bool = False) -> None:
    """Returns cached device memory (before a capture or a large allocation); `collect` also runs the
    garbage collector (slow with large heaps: only at model boundaries and after errors)."""
    if collect:
        import gc
        gc.collect()
    if dev.is_cuda:
        import torch
        torch.cuda.synchronize()
        torch.cuda.empty_cache()


def fmt_s(t: Optional[float]) -> str:
    if t is None:
        return "-"
    if t < 1e-3:
        return f"{t * 1e6:8.2f} us"
    if t < 1:
        return f"{t * 1e3:8.3f} ms"
    return f"{t:8.3f} s "


def print_table(title: str, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    print(f"\n== {title}")
    if not rows:
        print("  (none)")
        return
    cols = [list(map(str, header))] + [[str(c) for c in r] for r in rows]
    w = [max(len(r[i]) for r in cols) for i in range(len(header))]
    for j, r in enumerate(cols):
        print("  " + "  ".join(c.rjust(w[i]) if i else c.ljust(w[i]) for i, c in enumerate(r)))
        if j == 0:
            print("  " + "  ".join("-" * x for x in w))


def nullregion(_tag: str):
    return nullcontext()


# ---------------------------------------------------------------------------------------------
# Suites run on their own (sm_partition.py, l2_warm.py, gemm_chain.py)
# ---------------------------------------------------------------------------------------------

def standalone_args(doc: str, argv=None, plan: bool = True):
    """--out-dir, --hw and (when `plan`) --plan, the options every standalone suite script takes."""
    import argparse
    p = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out-dir", default=None, help="output folder (default validate/data/<hw_profile>/)")
    p.add_argument("--hw", default=None, help="hw_profile name when the device name does not map to one")
    if plan:
        p.add_argument("--plan", action="store_true", help="print the configurations, run nothing")
    return p.parse_args(argv)


def standalone_writer(dev: "Device", out_dir, suite: str) -> "RecordWriter":
    """The suite's <out_dir or validate/data/<hw>>/<suite>.jsonl writer."""
    out_dir = out_dir or os.path.join(REPO_ROOT, "validate", "data", dev.hw_profile)
    return RecordWriter(os.path.join(out_dir, suite + ".jsonl"))


def close_standalone(w: "RecordWriter") -> int:
    """Closes the writer, prints its counts; the exit status: 0 when every record was ok."""
    w.close()
    print(f"{w.n_ok} ok, {w.n_error} error, {w.n_invalid} invalid -> {w.path}")
    return 0 if w.n_error == 0 and w.n_invalid == 0 else 1

