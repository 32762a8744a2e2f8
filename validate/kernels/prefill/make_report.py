#!/usr/bin/env python3
"""Builds the measured section of docs/kernels-prefill.md from what gpu_run.sh wrote: the timing records
(prefill_timing.jsonl, prefill_prologue.jsonl, prefill_torch.jsonl), the accuracy records (prefill_accuracy.jsonl), the SASS
summary (sass_summary.json, made here from cuobjdump output with --sass) and the sanitizer logs.
Nothing in the tables is typed by hand.

  make_report.py --sass sass.txt --sass-out DIR/sass_summary.json   # summarise cuobjdump --dump-sass
  make_report.py --dir DIR [--doc docs/kernels-prefill.md] [--out DIR/report.md]
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import re
import sys

BEGIN = "<!-- BEGIN GENERATED: make_report.py -->"
END = "<!-- END GENERATED -->"

KERNELS = ["unfused", "fa2_simt_rope", "fa2_simt_warp_row", "fa2_wmma", "fa2_mma", "fa2_int8", "sage_int8_fp16",
           "sage_int8_fp8"]
REFS = ["torch_sdpa_flash", "torch_sdpa_cudnn"]
PROLOGUES = {"fa2_int8": "fa2_int8_quantize", "sage_int8_fp16": "sage_quantize_fp16v", "sage_int8_fp8": "sage_quantize_fp8v"}

# Instructions each kernel claims (docs/kernels-prefill.md): all must appear in its SASS.
CLAIMS = {
    "unfused": ["FFMA"],
    "fa2_simt_rope": ["FFMA"],
    "fa2_simt_warp_row": ["FFMA", "LDGSTS"],
    "fa2_wmma": ["HMMA", "LDGSTS"],
    "fa2_mma": ["HMMA", "LDSM", "LDGSTS"],
    "fa2_int8": ["IMMA", "HMMA", "LDSM", "LDGSTS"],
    "sage_int8_fp16": ["IMMA", "HMMA", "LDSM", "LDGSTS"],
    "sage_int8_fp8": ["IMMA", "LDSM", "LDGSTS"],  # + e4m3 MMA: QMMA, or F2FP.*E4M3 unpack + HMMA (sm_90)
}
# Instructions a kernel must not contain (a CUDA-core kernel that uses tensor cores is mislabelled).
FORBIDDEN = {"unfused": ["HMMA", "IMMA"], "fa2_simt_rope": ["HMMA", "IMMA"], "fa2_simt_warp_row": ["HMMA", "IMMA"]}
COUNTED = ["HMMA", "IMMA", "QMMA", "HGMMA", "QGMMA", "IGMMA", "F2FP_E4M3", "LDSM", "LDGSTS", "FFMA", "MUFU.EX2", "LDL", "STL"]

VARIANTS = {"0": "fa2_mma", "1": "fa2_int8", "2": "sage_int8_fp16", "3": "sage_int8_fp8"}


def kernel_of_symbol(sym: str):
    """(kernel label, detail) for a mangled __global__ name, or (None, None)."""
    m = re.search(r"mma_attention_kernelILi(\d+)ELb([01])ELNS\d+_10MmaVariantE(\d)", sym)
    if m:
        return VARIANTS[m.group(3)], f"D={m.group(1)} causal={m.group(2)}"
    for name, label in (("fa2_wmma_kernel", "fa2_wmma"), ("fa2_simt_rope_kernel", "fa2_simt_rope"),
                        ("fa2_simt_warp_row_kernel", "fa2_simt_warp_row"), ("qk_kernel", "unfused"),
                        ("pv_kernel", "unfused")):
        m = re.search(name + r"ILi(\d+)ELb([01])", sym)
        if m:
            return label, f"{name.replace('_kernel', '')} D={m.group(1)} causal={m.group(2)}"
    if "softmax_kernel" in sym:
        return "unfused", "softmax"
    for name in ("reset_minmax_kernel", "minmax_kernel", "quantize_rows_kernel", "quantize_v_transposed_kernel",
                 "k_mean_kernel", "sage_quantize_block_kernel", "v_channel_scale_kernel"):
        if name in sym:
            return "quantisation prologue", name
    return None, None


def summarise_sass(text: str):
    functions = collections.OrderedDict()
    current = None
    for line in text.splitlines():
        m = re.match(r"\s*Function : (\S+)", line)
        if m:
            current = functions.setdefault(m.group(1), collections.Counter())
            continue
        if current is None:
            continue
        m = re.match(r"\s*/\*[0-9a-f]+\*/\s+(?:@!?U?P\w+\s+)?([A-Z][A-Z0-9_.]*)", line)
        if not m:
            continue
        op = m.group(1)
        base = op.split(".")[0]
        if base == "F2FP" and "E4M3" in op:
            current["F2FP_E4M3"] += 1
        elif op.startswith("MUFU.EX2"):
            current["MUFU.EX2"] += 1
        if base in COUNTED:
            current[base] += 1
    per_kernel = collections.OrderedDict()
    for sym, counts in functions.items():
        label, detail = kernel_of_symbol(sym)
        if label is None:
            continue
        per_kernel.setdefault(label, []).append({"function": detail, "symbol": sym,
                                                 "counts": {k: counts.get(k, 0) for k in COUNTED}})
    verdict = {}
    for label, fns in per_kernel.items():
        if label not in CLAIMS:
            continue
        total = collections.Counter()
        for f in fns:
            total.update(f["counts"])
        missing = [op for op in CLAIMS[label] if total[op] == 0]
        if label == "sage_int8_fp8" and total["QMMA"] == 0 and total["QGMMA"] == 0 and not (total["HMMA"] and total["F2FP_E4M3"]):
            missing.append("QMMA|QGMMA|(F2FP.E4M3+HMMA)")
        present_forbidden = [op for op in FORBIDDEN.get(label, []) if total[op] > 0]
        verdict[label] = {"claimed": CLAIMS[label], "missing": missing, "forbidden_present": present_forbidden,
                          "ok": not missing and not present_forbidden, "totals": dict(total),
                          "fp8_mma_form": ("QGMMA" if total["QGMMA"] else "QMMA" if total["QMMA"] else
                                           "F2FP.E4M3 unpack + HMMA (emulated)" if total["F2FP_E4M3"] and label == "sage_int8_fp8" else None)}
    return {"kernels": per_kernel, "verdict": verdict}


def read_jsonl(path):
    out = []
    if not os.path.exists(path):
        return out
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                out.append(json.loads(line))
    return out


def fmt(x, nd=1):
    return "–" if x is None else f"{x:.{nd}f}"


def timing_table(records):
    """{(S, B, D, causal): {label: record}} for status ok records."""
    t = collections.defaultdict(dict)
    for r in records:
        if r.get("status") != "ok":
            continue
        w = r["workload"]
        t[(w["q_len"], w["batch"], w["head_dim"], w["causal"])][r["label"]] = r
    return t


def tflops(r):
    return r["extra"]["achieved_flop_per_s"] * 1e-12 if r and "achieved_flop_per_s" in r.get("extra", {}) else None


def targets_section(t):
    lines = ["| target (kernels.md, H100 SXM, HQ 32, HKV 8, D 128) | measured (worst over non-causal S ≥ 4K) | ratio | met |",
             "|---|---|---|---|"]
    big = [k for k in t if k[0] >= 4096 and k[2] == 128 and not k[3]]

    def worst(label):
        vals = [tflops(t[k].get(label)) for k in big if t[k].get(label)]
        return min(vals) if vals else None

    def worst_ratio(num, den):
        vals = [tflops(t[k][num]) / tflops(t[k][den]) for k in big if t[k].get(num) and t[k].get(den)]
        return min(vals) if vals else None

    def row(text, value, target, unit="TFLOP/s"):
        if value is None:
            lines.append(f"| {text} | not measured | – | no |")
        else:
            ratio = value / target
            lines.append(f"| {text} | {value:.1f} {unit} | {ratio:.2f} | {'yes' if ratio >= 1 else 'no'} |")

    row("(c) fa2_wmma (WMMA + cp.async) ≥ 200 TFLOP/s", worst("fa2_wmma"), 200)
    row("(c) fa2_wmma stretch ≥ 280 TFLOP/s", worst("fa2_wmma"), 280)
    row("(c) fa2_mma (mma.sync variant) ≥ 200 TFLOP/s", worst("fa2_mma"), 200)
    row("(c) fa2_mma stretch ≥ 280 TFLOP/s", worst("fa2_mma"), 280)
    r = worst_ratio("fa2_int8", "fa2_wmma")
    lines.append(f"| (c) fa2_int8 ≥ 1.2× fa2_wmma | {fmt(r, 2)}× | {fmt(r / 1.2 if r else None, 2)} | {'yes' if r and r >= 1.2 else 'no'} |")
    r = worst_ratio("fa2_int8", "fa2_mma")
    lines.append(f"| (c) (also) fa2_int8 vs fa2_mma, target 1.2× | {fmt(r, 2)}× | {fmt(r / 1.2 if r else None, 2)} | {'yes' if r and r >= 1.2 else 'no'} |")
    row("(c) fa2_simt_rope (CUDA cores) ≥ 17 TFLOP/s", worst("fa2_simt_rope"), 17)
    row("(c) fa2_simt_warp_row (CUDA cores) ≥ 17 TFLOP/s", worst("fa2_simt_warp_row"), 17)
    row("(d) sage_int8_fp16 ≥ 430 TOP/s", worst("sage_int8_fp16"), 430, "TOP/s")
    row("(d) sage_int8_fp8 ≥ 600 TOP/s", worst("sage_int8_fp8"), 600, "TOP/s")
    return lines


def perf_section(t):
    labels = KERNELS + REFS
    lines = ["| S | B | D | causal | " + " | ".join(labels) + " |", "|" + "---|" * (4 + len(labels))]
    for key in sorted(t, key=lambda k: (k[2], k[3], k[0])):
        s, b, d, c = key
        cells = [fmt(tflops(t[key].get(l))) for l in labels]
        lines.append(f"| {s} | {b} | {d} | {int(c)} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("Ratios to the PyTorch SDPA backends timed in the same run (our TFLOP/s ÷ theirs):")
    lines.append("")
    mains = ["fa2_wmma", "fa2_mma", "fa2_int8", "sage_int8_fp16", "sage_int8_fp8"]
    lines.append("| S | B | D | causal | " + " | ".join(f"{m} / flash" for m in mains) + " | " +
                 " | ".join(f"{m} / cuDNN" for m in mains) + " |")
    lines.append("|" + "---|" * (4 + 2 * len(mains)))
    for key in sorted(t, key=lambda k: (k[2], k[3], k[0])):
        row = t[key]
        def ratio(m, ref):
            a, b = tflops(row.get(m)), tflops(row.get(ref))
            return fmt(a / b, 2) if a and b else "–"
        lines.append(f"| {key[0]} | {key[1]} | {key[2]} | {int(key[3])} | " +
                     " | ".join(ratio(m, "torch_sdpa_flash") for m in mains) + " | " +
                     " | ".join(ratio(m, "torch_sdpa_cudnn") for m in mains) + " |")
    return lines


def prologue_section(t):
    lines = ["| S | B | D | causal | kernel | attention ms | prologue ms | prologue share | TOP/s attention | TOP/s incl. prologue |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for key in sorted(t, key=lambda k: (k[2], k[3], k[0])):
        for k, p in PROLOGUES.items():
            a, q = t[key].get(k), t[key].get(p)
            if not a or not q:
                continue
            ta, tq = a["time_s"]["median"], q["time_s"]["median"]
            flops = a["extra"]["nominal_flops"]
            lines.append(f"| {key[0]} | {key[1]} | {key[2]} | {int(key[3])} | {k} | {ta * 1e3:.3f} | {tq * 1e3:.3f} | "
                         f"{tq / (ta + tq):.1%} | {flops / ta * 1e-12:.1f} | {flops / (ta + tq) * 1e-12:.1f} |")
    return lines


def accuracy_section(acc):
    lines = ["| kernel | cases passed | worst tight cosine | worst excess over fp16 rounding | worst cosine vs fp32 | "
             "worst rel. L1 vs fp32 | unwritten | quantisers bit-exact |", "|---|---|---|---|---|---|---|---|"]
    by = collections.OrderedDict((k, []) for k in KERNELS)
    for r in acc:
        by.setdefault(r["kernel"], []).append(r)
    for k, rs in by.items():
        if not rs:
            continue
        ok = [r for r in rs if r.get("status") == "ok"]
        passed = sum(1 for r in rs if r.get("pass"))
        def worst(path, fn=min):
            vals = []
            for r in ok:
                v = r
                for p in path:
                    v = v.get(p) if isinstance(v, dict) else None
                if isinstance(v, (int, float)):
                    vals.append(v)
            return fn(vals) if vals else None
        quant = [r["gates"]["quantisers_bit_exact"] for r in ok if "gates" in r]
        lines.append(f"| {k} | {passed}/{len(rs)} | {fmt(worst(['vs_quantised_reference', 'cosine']), 7)} | "
                     f"{fmt(worst(['excess_over_fp16_rounding'], max), 5)} | {fmt(worst(['vs_fp32', 'cosine']), 5)} | "
                     f"{fmt(worst(['vs_fp32', 'relative_l1'], max), 4)} | {sum(r.get('unwritten', 0) for r in ok)} | "
                     f"{'yes' if quant and all(quant) else ('–' if not quant else 'NO')} |")
    failed = [r for r in acc if not r.get("pass")]
    if failed:
        lines.append("")
        lines.append("Failed cases:")
        lines.append("")
        for r in failed[:40]:
            s = r["shape"]
            lines.append(f"- {r['kernel']} B={s['batch']} HQ={s['q_heads']} HKV={s['kv_heads']} Sq={s['q_len']} "
                         f"Skv={s['kv_len']} D={s['head_dim']} causal={s['causal']} {r['data']}: "
                         + (r.get("error") or json.dumps(r.get("gates"))))
    return lines


def sass_section(sass):
    if not sass:
        return ["SASS summary not available."]
    lines = ["| kernel | claimed | verdict | " + " | ".join(COUNTED) + " |", "|---|---|---|" + "---|" * len(COUNTED)]
    for label, v in sass["verdict"].items():
        verdict = "ok" if v["ok"] else f"MISSING {v['missing']} FORBIDDEN {v['forbidden_present']}"
        if v.get("fp8_mma_form"):
            verdict += f" (fp8 MMA: {v['fp8_mma_form']})"
        lines.append(f"| {label} | {', '.join(v['claimed'])} | {verdict} | " +
                     " | ".join(str(v["totals"].get(c, 0)) for c in COUNTED) + " |")
    lines.append("")
    lines.append("Counts are static instructions summed over the kernel's instantiations (D 64/128 × causal).")
    return lines


def sanitizer_section(d):
    lines = []
    for tool in ("memcheck", "racecheck"):
        # A run's own layout (logs/), or the committed results directory (prefill_<tool>.log).
        candidates = [os.path.join(d, "logs", f"{tool}.log"), os.path.join(d, f"{tool}.log"),
                      os.path.join(d, f"prefill_{tool}.log")]
        path = next((c for c in candidates if os.path.exists(c)), candidates[-1])
        if not os.path.exists(path):
            lines.append(f"- {tool}: not run")
            continue
        text = open(path, errors="replace").read()
        m = re.findall(r"(ERROR SUMMARY|RACECHECK SUMMARY): (.*)", text)
        summary = "; ".join(f"{a}: {b}" for a, b in m) if m else "no summary line (see the log)"
        lines.append(f"- {tool}: {summary}")
    return lines


def build_report(d):
    timing = (read_jsonl(os.path.join(d, "prefill_timing.jsonl")) + read_jsonl(os.path.join(d, "prefill_torch.jsonl")) +
              read_jsonl(os.path.join(d, "prefill_prologue.jsonl")))
    acc = read_jsonl(os.path.join(d, "prefill_accuracy.jsonl"))
    sass_path = os.path.join(d, "sass_summary.json")
    sass = json.load(open(sass_path)) if os.path.exists(sass_path) else None
    t = timing_table(timing)
    dev = next((r["device"] for r in timing if r.get("status") == "ok"), None)
    errors = [r for r in timing if r.get("status") != "ok"]
    out = [BEGIN, "",
           f"Generated by `validate/kernels/prefill/make_report.py` from the records of one `gpu_run.sh` run"
           + (f" on {dev['name']} (driver {dev.get('driver')}, CUDA runtime {dev.get('cuda_runtime')}, "
              f"SM clock {dev.get('sm_clock_hz', 0) / 1e6:.0f} MHz as recorded: {dev.get('clock_note')})." if dev else "."),
           "Throughput is nominal FLOPs (4·B·Hq·Sq·Skv·D, halved for causal) over the median time; "
           "INT8/FP8 kernels count the same FLOPs as operations (TOP/s).", "",
           "### Targets", ""] + targets_section(t) + [
           "", "### Throughput (TFLOP/s or TOP/s), attention kernel only", ""] + perf_section(t) + [
           "", "### Quantisation prologues (timed separately) and end-to-end throughput", ""] + prologue_section(t) + [
           "", "### Accuracy (`prefill_bench --mode check`)", "",
           "Tight gate: against the CPU reference on the same quantised inputs, every element written, no NaN, "
           "cosine ≥ 0.99999 and max |o − r| − 2⁻¹¹·|r| ≤ 2e-3 (the error beyond the fp16 output's own rounding). "
           "fp32 gate: against fp32 attention on the unrounded inputs; INT8/Sage cosine ≥ 0.99 and relative L1 < 0.05, "
           "fp16 kernels cosine ≥ 0.9999.", ""] + accuracy_section(acc) + [
           "", "### SASS (`cuobjdump --dump-sass`, sm_90a)", ""] + sass_section(sass) + [
           "", "### compute-sanitizer (small shapes, every kernel, D 64/128, causal and not)", ""] + sanitizer_section(d)
    if errors:
        out += ["", "### Records with status error", ""]
        out += [f"- {r['label']} {r['workload'].get('q_len')}/{r['workload'].get('head_dim')}/"
                f"{'causal' if r['workload'].get('causal') else 'full'}: {r.get('error', '')[:200]}" for r in errors[:40]]
    out += ["", END]
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sass", help="cuobjdump --dump-sass output to summarise")
    ap.add_argument("--sass-out", help="where to write the SASS summary JSON")
    ap.add_argument("--dir", help="directory with the run's JSONL files and logs")
    ap.add_argument("--doc", help="markdown file whose generated section is replaced")
    ap.add_argument("--out", help="write the generated section here as well")
    args = ap.parse_args()
    if args.sass:
        summary = summarise_sass(open(args.sass, errors="replace").read())
        text = json.dumps(summary, indent=1)
        if args.sass_out:
            with open(args.sass_out, "w") as f:
                f.write(text)
        for label, v in summary["verdict"].items():
            print(f"SASS {label:18} {'ok' if v['ok'] else 'CHECK ' + str(v['missing'] + v['forbidden_present'])} "
                  f"{ {k: v['totals'].get(k, 0) for k in ('HMMA', 'IMMA', 'QMMA', 'F2FP_E4M3', 'HGMMA', 'QGMMA', 'LDL')} }")
    if args.dir:
        report = build_report(args.dir)
        if args.out:
            with open(args.out, "w") as f:
                f.write(report)
        if args.doc:
            doc = open(args.doc).read()
            if BEGIN in doc and END in doc:
                doc = doc[:doc.index(BEGIN)] + report.rstrip("\n") + doc[doc.index(END) + len(END):]
            else:
                doc = doc.rstrip("\n") + "\n\n" + report
            with open(args.doc, "w") as f:
                f.write(doc)
        if not args.out and not args.doc:
            sys.stdout.write(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
