#!/usr/bin/env python3
"""Runs the PyTorch reference suites and writes JSON Lines records (docs/measurement-records.md):

  sdpa.jsonl, sdpa_holdout.jsonl, sdpa_headdim.jsonl, sdpa_random.jsonl, model_step.jsonl, torch_elementwise.jsonl
  in --out-dir
  (default validate/data/<hw_profile>/), plus summary.txt (the tables printed at the end) and
  sdpa_mem_efficient.jsonl (suite sdpa, kernel "mem_efficient", which the C++ reader does not know yet).

  python3 validate/torch/run_all.py --out-dir $OUT/data            # GPU, all suites (< 8 min planned)
  python3 validate/torch/run_all.py --quick --out-dir $OUT/quick    # smoke run (< 2 min planned)
  python3 validate/torch/run_all.py --plan                          # shape counts and time estimates only
  python3 validate/torch/run_all.py --dry-run --out-dir /tmp/dry    # CPU, tiny shapes, Triton interpreter

Each suite has a time budget (its planned share of --budget-s plus what earlier suites left); a
configuration not started within it is written as an error record "not run: ... budget".
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import replace

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

SUITES = ("sdpa", "model_step", "torch_elementwise", "sdpa_holdout", "sdpa_headdim", "sdpa_random",
          "sdpa_fresh", "sdpa_fresh2", "sdpa_fresh3", "sdpa_fresh4", "model_step_fresh", "model_step_fresh2", "model_step_fresh3")   # run order
# share of the total budget, in the order above (planned: ~110 s, ~230 s, ~60 s, ~12 s, ~50 s, ~40 s on an H100)
SHARES = {"sdpa": 0.22, "model_step": 0.44, "torch_elementwise": 0.12, "sdpa_holdout": 0.05, "sdpa_headdim": 0.09,
          "sdpa_random": 0.08, "sdpa_fresh": 0.05, "sdpa_fresh2": 0.05, "sdpa_fresh3": 0.05,
          "sdpa_fresh4": 0.05, "model_step_fresh": 0.25, "model_step_fresh2": 0.25, "model_step_fresh3": 0.25}


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--suites", default=",".join(SUITES),
                   help="comma-separated subset of " + ",".join(SUITES))
    p.add_argument("--quick", action="store_true", help="small shape lists (smoke run, < 2 min)")
    p.add_argument("--hw", default=None, help="hw_profile name when the device name does not map to one")
    p.add_argument("--out-dir", default=None, help="output folder (default validate/data/<hw_profile>/)")
    p.add_argument("--budget-s", type=float, default=None,
                   help="total time budget in seconds for all suites (default 450, quick 100)")
    p.add_argument("--models", default=None, help="model_step models, comma-separated (default all five)")
    p.add_argument("--holdout-n", type=int, default=40, help="number of random held-out SDPA shapes")
    p.add_argument("--random-n", type=int, default=160, help="number of random fitted SDPA shapes (sdpa_random)")
    p.add_argument("--fresh-n", type=int, default=80, help="number of fresh never-fitted SDPA shapes (sdpa_fresh)")
    p.add_argument("--dry-run", action="store_true", help="CPU, tiny shapes, Triton interpreter (no GPU)")
    p.add_argument("--plan", action="store_true", help="print configuration counts and time estimates, run nothing")
    a = p.parse_args(argv)
    a.suites = [s.strip() for s in a.suites.split(",") if s.strip()]
    bad = [s for s in a.suites if s not in SUITES]
    if bad:
        p.error(f"unknown suite(s) {', '.join(bad)}; known: {', '.join(SUITES)}")
    if a.budget_s is None:
        a.budget_s = 100.0 if a.quick else 450.0
    return a


def plan(args) -> dict:
    """Configuration counts and estimated seconds per suite (no torch needed)."""
    import sdpa
    import elementwise
    import model_step
    est = {}
    main, hold = sdpa.build_configs(args.quick, 8 if args.quick else args.holdout_n)
    est["sdpa"] = (len(main), sdpa.plan_s(main))
    est["sdpa_holdout"] = (len(hold), sdpa.plan_s(hold))
    hd = sdpa.build_headdim_configs(args.quick)
    est["sdpa_headdim"] = (len(hd), sdpa.plan_s(hd))
    rnd = sdpa.build_random_configs(args.quick, args.random_n, args.holdout_n)
    est["sdpa_random"] = (len(rnd), sdpa.plan_s(rnd))
    for name, _ in sdpa.FRESH_SUITES:
        fr = sdpa.build_fresh_suite(name, args.quick, args.fresh_n, args.holdout_n, args.random_n)
        est[name] = (len(fr), sdpa.plan_s(fr))
    models = args.models.split(",") if args.models else (["llama3-8b"] if args.quick else list(model_step.MODEL_ORDER))
    ms = model_step.build_configs(models, args.quick)
    t, n = model_step.plan_s(ms)
    est["model_step"] = (len(ms), t, n)
    for name in model_step.FRESH_SUITES:
        mf = model_step.build_fresh_suite(name, models, args.quick)
        t, n = model_step.plan_s(mf)
        est[name] = (len(mf), t, n)
    ew = elementwise.build_configs(args.quick)
    est["torch_elementwise"] = (len(ew), elementwise.plan_s(ew))
    return est


def print_plan(args, est) -> None:
    print("Plan (estimates from assumed H100 rates, not measurements):")
    total = 0.0
    for s in SUITES:
        if s not in args.suites:
            continue
        e = est[s]
        extra = f", {e[2]} expected to fit in 80 GB" if s.startswith("model_step") else ""
        print(f"  {s:18s} {e[0]:5d} configurations{extra}: ~{e[1]:6.0f} s")
        total += e[1]
    print(f"  {'total':18s}       + ~20 s start-up (CUDA init, Triton compiles): ~{total + 20:.0f} s; "
          f"budget {args.budget_s:.0f} s")


def main(argv=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.plan:
        print_plan(args, plan(args))
        return 0
    if args.dry_run:
        os.environ["TRITON_INTERPRET"] = "1"   # before triton is imported
    t_start = time.monotonic()
    import common as C
    import torch
    dev = C.Device(args.dry_run, args.hw)
    out_dir = args.out_dir or os.path.join(C.REPO_ROOT, "validate", "data", dev.hw_profile)
    os.makedirs(out_dir, exist_ok=True)
    print(f"device: {dev.obj['name']} ({dev.hw_profile}), SMs {dev.sm_count}, L2 {dev.l2_bytes / 2**20:.0f} MiB, "
          f"memory {dev.memory_bytes / 2**30:.1f} GiB, driver {dev.obj['driver']}, CUDA {dev.obj['cuda_runtime']}, "
          f"torch {torch.__version__}; out {out_dir}", flush=True)
    est = plan(args) if not args.dry_run else None
    if est:
        print_plan(args, est)

    import kernels as K
    import sdpa
    import elementwise
    import model_step

    rms = K.choose_rmsnorm(dev)
    print(f"rmsnorm: {rms.impl} ({rms.probe.get('reason')})", flush=True)
    self_check(dev, rms)
    print(f"start-up {time.monotonic() - t_start:.1f} s", flush=True)

    global_deadline = C.Deadline(args.budget_s)
    shares_left = sum(SHARES[s] for s in args.suites)
    report = []
    tables = []
    for suite in SUITES:
        if suite not in args.suites:
            continue
        remaining = args.budget_s - global_deadline.elapsed()
        budget = max(0.0, remaining * SHARES[suite] / shares_left)
        # a suite may also use what earlier suites left unspent: give it its share of the remainder
        shares_left -= SHARES[suite]
        deadline = C.Deadline(budget)
        path = os.path.join(out_dir, f"{suite}.jsonl")
        w = C.RecordWriter(path)
        w_pending = None
        t0 = time.monotonic()
        print(f"\n=== {suite}: budget {budget:.0f} s -> {path}", flush=True)
        try:
            if suite in ("sdpa", "sdpa_holdout", "sdpa_headdim", "sdpa_random") or suite.startswith("sdpa_fresh"):
                if args.dry_run:
                    main_c, hold_c = sdpa.dry_run_configs()
                else:
                    main_c, hold_c = sdpa.build_configs(args.quick, 8 if args.quick else args.holdout_n)
                if suite == "sdpa_headdim":
                    hold_c = ([replace(c, suite="sdpa_headdim") for c in hold_c] if args.dry_run
                              else sdpa.build_headdim_configs(args.quick))
                if suite == "sdpa_random":
                    hold_c = ([replace(c, suite="sdpa_random") for c in hold_c] if args.dry_run
                              else sdpa.build_random_configs(args.quick, args.random_n, args.holdout_n))
                if suite.startswith("sdpa_fresh"):
                    hold_c = ([replace(c, suite=suite) for c in hold_c] if args.dry_run
                              else sdpa.build_fresh_suite(suite, args.quick, args.fresh_n, args.holdout_n,
                                                          args.random_n))
                writers = {suite: w}
                if suite == "sdpa":
                    w_pending = C.RecordWriter(os.path.join(out_dir, sdpa.PENDING_FILE + ".jsonl"), allow_pending=True)
                    writers[sdpa.PENDING_FILE] = w_pending
                r = sdpa.SdpaRunner(dev, writers, deadline)
                r.run(main_c if suite == "sdpa" else hold_c, allow_expand=(suite == "sdpa"))
                tables.append((suite, ["suite", "label", "shape", "status", "median", "rate"], r.summary))
            elif suite.startswith("model_step"):
                if args.dry_run:
                    cfgs, mcfgs = model_step.dry_run_configs(), model_step.dry_run_models()
                else:
                    models = args.models.split(",") if args.models else (
                        ["llama3-8b"] if args.quick else list(model_step.MODEL_ORDER))
                    cfgs = (model_step.build_configs(models, args.quick) if suite == "model_step" else
                            model_step.build_fresh_suite(suite, models, args.quick))
                    mcfgs = None
                r = model_step.ModelStepRunner(dev, w, deadline, rms, suite=suite)
                r.run(cfgs, mcfgs)
                tables.append((suite, ["model", "phase", "weights", "B", "S", "status", "median", "rate"], r.summary))
            else:
                labels = ["triton_rmsnorm"] if rms.impl == "triton_rmsnorm" else ["torch_rms_norm"]
                cfgs = (elementwise.dry_run_configs(labels) if args.dry_run
                        else elementwise.build_configs(args.quick, labels))
                r = elementwise.ElementwiseRunner(dev, w, deadline, rms)
                r.run(cfgs)
                r.run_launch()
                tables.append((suite, ["kind", "label", "rows", "cols", "status", "median", "rate"], r.summary))
        except Exception as e:  # a suite-level crash must not lose the other suites
            import traceback
            traceback.print_exc()
            print(f"[{suite}] aborted: {C.error_text(e)}", flush=True)
        finally:
            w.close()
            if w_pending is not None:
                w_pending.close()
        dt = time.monotonic() - t0
        report.append([suite, w.n_ok, w.n_error, w.n_invalid, f"{dt:.1f} s",
                       f"{est[suite][1]:.0f} s" if est else "-"])
        print(f"=== {suite}: {w.n_ok} ok, {w.n_error} error, {w.n_invalid} invalid, {dt:.1f} s", flush=True)
        if w_pending is not None:
            report.append([sdpa.PENDING_FILE + " (pending)", w_pending.n_ok, w_pending.n_error, w_pending.n_invalid, "-", "-"])
        C.free_cuda(dev, collect=True)

    summary_path = os.path.join(out_dir, "summary.txt")
    _write_tables(summary_path, tables, report, time.monotonic() - t_start)
    for suite, header, rows in tables:
        shown = _compact(suite, rows)
        C.print_table(f"{suite} ({len(rows)} rows; {len(shown)} shown, all in summary.txt)", header, shown)
    C.print_table("suites", ["suite", "ok", "error", "invalid", "elapsed", "planned"], report)
    print(f"total {time.monotonic() - t_start:.1f} s; records in {out_dir}", flush=True)
    return 0 if all(r[3] == 0 for r in report) else 1


def _compact(suite, rows):
    """Rows printed on stdout (the device reply keeps only the last 12,000 characters of output;
    summary.txt has every row)."""
    if suite.startswith("model_step"):
        return [r for r in rows if r[5] != "ok" and not str(r[7]).startswith(("skipped", "not run"))
                or r[5] == "ok" and (r[1] == "prefill" or r[3] in (1, 32))][:45]
    if suite == "sdpa":
        return [r for r in rows if "H32/8" in r[2] and (" B1 " in r[2] or " B64 " in r[2])][:25]
    if suite == "torch_elementwise":
        return [r for r in rows if r[2] in (1, 8192, "graph", "eager") and r[3] in (4096, 14336, 5120, 1024, "-")][:25]
    return rows[:10]


def _write_tables(path, tables, report, total_s) -> None:
    import io
    import contextlib
    import common as C
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        for suite, header, rows in tables:
            C.print_table(suite, header, rows)
        C.print_table("suites", ["suite", "ok", "error", "invalid", "elapsed", "planned"], report)
        print(f"total {total_s:.1f} s")
    with open(path, "w", encoding="utf-8") as f:
        f.write(buf.getvalue())


def self_check(dev, rms) -> None:
    """Triton kernels vs references on fresh random inputs (GPU: fp8 cast bit-exact vs torch)."""
    import torch
    import kernels as K
    d = dev.torch_device
    bf = torch.bfloat16
    res = {}
    T, HQ, HKV, D = 37, 32, 8, 128
    q, k = torch.randn(T, HQ * D, device=d, dtype=bf), torch.randn(T, HKV * D, device=d, dtype=bf)
    pos = torch.randint(0, 4000, (T,), device=d, dtype=torch.int32)
    cs = K.rope_cos_sin(4096, D, 10000.0, d)
    rq, rk = K.rope_reference(q, pos, cs, HQ, D), K.rope_reference(k, pos, cs, HKV, D)
    K.rope_(q, k, pos, cs, HQ, HKV, D)
    res["rope"] = max(float((q.float() - rq).norm() / rq.norm()), float((k.float() - rk).norm() / rk.norm())) < 1e-2
    g, u = torch.randn(33, 1000, device=d, dtype=bf), torch.randn(33, 1000, device=d, dtype=bf)
    ref = K.silu_mul_reference(g, u)
    res["silu_mul"] = float((K.silu_mul(g, u).float() - ref).norm() / ref.norm()) < 1e-2
    x = torch.randn(19, 4096, device=d, dtype=bf) * 30
    inv = torch.tensor([2.5], device=d, dtype=torch.float32)
    if dev.is_cuda:
        y = K.quant_fp8(x, inv)
        r8 = K.quant_fp8_reference(x, 2.5)
        res["quant_fp8_bit_exact"] = bool(torch.equal(y.view(torch.uint8), r8.view(torch.uint8)))
    else:
        y = K.quant_fp8(x, inv, out=torch.empty(x.shape, dtype=torch.float32))
        res["quant_fp8_fp32_path"] = bool(torch.equal(y, (x.float() * 2.5).clamp(-448, 448)))
    w = 1 + 0.02 * torch.randn(4096, device=d, dtype=bf)
    ref = K.rmsnorm_reference(x, w, 1e-5)
    res[rms.impl] = float((rms(x, w, 1e-5).float() - ref).norm() / ref.norm()) < 1e-2
    dev.synchronize()
    print("self-check: " + ", ".join(f"{k} {'PASS' if v else 'FAIL'}" for k, v in res.items()), flush=True)


if __name__ == "__main__":
    sys.exit(main())
