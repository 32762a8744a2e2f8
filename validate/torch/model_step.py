"""Suite `model_step`: one whole forward step of a shipped model (models/*.yaml), LM head included,
run the way a plain PyTorch implementation runs it, captured in one CUDA graph:

  embedding gather -> per layer: RMSNorm, q/k/v projections (3 GEMMs, + bias for qkv_bias models),
  RoPE on q and k (1 Triton kernel), KV-cache write (1 copy kernel for K, 1 for V), SDPA (flash
  backend, enable_gqa), o projection, residual add, RMSNorm, gate and up projections, SiLU*mul
  (1 Triton kernel), down projection, residual add -> final RMSNorm -> LM head on the LAST token of
  each sequence (what serving does).

Decode: one new token for each of B sequences holding S cached tokens; the KV cache [B, HKV, S+1, D]
per layer is prefilled with random data, the new K/V are written at position S and attention runs
over S+1 keys (Mistral: the last sliding_window_tokens keys). Prefill: S tokens per sequence from
scratch, causal attention over the new keys (Mistral with S > window: a band mask through the
memory-efficient backend, since PyTorch's flash path has no window).
fp8_e4m3: W8A8 with per-tensor weight scales and STATIC per-tensor activation scales (calibrated once
per model on a bf16 prefill of random tokens): one Triton quantise kernel per distinct GEMM input
(q/k/v share one, gate/up share one), torch._scaled_mm with bf16 output; embedding and LM head stay
bf16 (as in published FP8 checkpoints).
Weights are random N(0, 0.02) (norm weights 1 + N(0, 0.02)), never zeros.
"""
from __future__ import annotations

import math
import os
import time
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from typing import Any, Dict, List, Optional, Sequence, Tuple

import common as C

MODELS_DIR = os.path.join(C.REPO_ROOT, "models")
# Reduced depth for the models whose weights do not fit one 80 GB GPU (workload key num_layers):
# llama3-70b 16 of 80 layers (~31.6 GB bf16), llama3.1-405b 4 of 126 layers (~34 GB bf16).
REDUCED_LAYERS = {"llama3-70b": 16, "llama3.1-405b": 4}
WHOLE_MODELS = ("llama3-8b", "qwen2.5-7b", "mistral-7b")
MODEL_ORDER = ("llama3-8b", "qwen2.5-7b", "mistral-7b", "llama3-70b", "llama3.1-405b")
DECODE_BATCH = (1, 8, 32, 64, 128)
DECODE_CONTEXT = (512, 2048, 8192, 32768)
PREFILL_BATCH = (1, 4)
PREFILL_CONTEXT = (128, 512, 2048, 8192)
PREFILL_MAX_TOKENS = 16384       # B*S cap per prefill step (run-time budget): drops B=4 x 8192 only
FP8_PREFILL = {"llama3-8b": ((1, 512), (1, 2048), (4, 2048), (1, 8192))}   # (batch, context)
FP8_PREFILL_DEFAULT = ((1, 2048),)
# The never-fitted step suites, each of configurations no earlier step suite ran (2026-12-07), by name:
# (decode batches, decode contexts, bf16 prefill (B, S), fp8 prefill (B, S)).
#   model_step_fresh: measured once the step model and its interval rule were committed;
#   model_step_fresh2: measured after the in-step L2 factor (the l2_warm suite) was committed, its clean check;
#   model_step_fresh3: measured with the gemm_chain suite, evaluated only after the change that suite informs.
FRESH_MODELS = ("llama3-8b", "qwen2.5-7b", "mistral-7b")
FRESH_SUITES = {
    "model_step_fresh": ((2, 4, 16, 48, 96), (1024, 4096, 12288), ((2, 256), (1, 1024), (2, 1024), (1, 4096)),
                         ((1, 1024), (2, 1024))),
    "model_step_fresh2": ((3, 6, 12, 24, 80), (768, 3072, 6144), ((1, 768), (3, 512), (1, 3072)),
                          ((1, 768), (3, 512))),
    "model_step_fresh3": ((5, 10, 20, 40, 72), (640, 2560, 5120), ((1, 640), (2, 768), (1, 2560)),
                          ((1, 640), (2, 768))),
}
RMS_EPS = 1e-5
ROPE_THETA = 10000.0             # not in models/*.yaml; irrelevant to time (cos/sin are table reads)
INIT_STD = 0.02
MIN_REPLAYS = 20
TARGET_TIMED_S = 0.15
MEM_MARGIN_BYTES = 2 * 1024 ** 3
CALIB_TOKENS = 128


# ---------------------------------------------------------------------------------------------
# Model configuration
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ModelCfg:
    name: str
    hidden: int
    layers: int
    q_heads: int
    kv_heads: int
    head_dim: int
    ffn: int
    vocab: int
    tied: bool
    qkv_bias: bool
    max_context: int
    window: Optional[int] = None
    moe: bool = False


REQUIRED_KEYS = ("name", "hidden_size", "num_layers", "num_attention_heads", "num_kv_heads", "head_dim",
                 "ffn_size", "vocab_size", "tied_embeddings", "qkv_bias", "max_context_tokens")


def _parse_yaml(text: str, path: str) -> Dict[str, Any]:
    try:
        import yaml  # type: ignore
        d = yaml.safe_load(text)
        if not isinstance(d, dict):
            raise ValueError(f"{path}: expected a mapping at the top level")
        return d
    except ImportError:
        return _parse_flat_yaml(text, path)


def _parse_flat_yaml(text: str, path: str) -> Dict[str, Any]:
    """Fallback for machines without pyyaml: `key: scalar` lines and one level of nested mappings,
    '#' comments; enough for models/*.yaml. Anything else is an error naming the line."""
    out: Dict[str, Any] = {}
    parent: Optional[str] = None
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.split(" #")[0].rstrip() if not raw.lstrip().startswith("#") else ""
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        if ":" not in line:
            raise ValueError(f"{path}:{n}: expected 'key: value'")
        k, v = line.strip().split(":", 1)
        v = v.strip()
        val: Any
        if v == "":
            val = {}
        elif v in ("true", "false"):
            val = v == "true"
        else:
            try:
                val = int(v)
            except ValueError:
                try:
                    val = float(v)
                except ValueError:
                    val = v
        if indent == 0:
            out[k] = val
            parent = k if isinstance(val, dict) else None
        elif parent is not None:
            out[parent][k] = val
        else:
            raise ValueError(f"{path}:{n}: unexpected indentation")
    return out


def load_model(name_or_path: str, models_dir: str = MODELS_DIR) -> ModelCfg:
    path = name_or_path if name_or_path.endswith(".yaml") else os.path.join(models_dir, name_or_path + ".yaml")
    with open(path, encoding="utf-8") as f:
        d = _parse_yaml(f.read(), path)
    missing = [k for k in REQUIRED_KEYS if k not in d]
    if missing:
        raise ValueError(f"{path}: missing keys {', '.join(missing)}")
    m = ModelCfg(name=str(d["name"]), hidden=int(d["hidden_size"]), layers=int(d["num_layers"]),
                 q_heads=int(d["num_attention_heads"]), kv_heads=int(d["num_kv_heads"]),
                 head_dim=int(d["head_dim"]), ffn=int(d["ffn_size"]), vocab=int(d["vocab_size"]),
                 tied=bool(d["tied_embeddings"]), qkv_bias=bool(d["qkv_bias"]),
                 max_context=int(d["max_context_tokens"]),
                 window=int(d["sliding_window_tokens"]) if d.get("sliding_window_tokens") else None,
                 moe="moe" in d)
    if m.q_heads % m.kv_heads:
        raise ValueError(f"{path}: num_attention_heads {m.q_heads} not a multiple of num_kv_heads {m.kv_heads}")
    return m


@dataclass(frozen=True)
class StepConfig:
    model: str
    phase: str           # decode | prefill
    batch: int
    context: int
    weights: str         # bf16 | fp8_e4m3
    num_layers: Optional[int] = None   # reduced depth (None: the whole model)

    @property
    def new_tokens(self) -> int:
        return 1 if self.phase == "decode" else self.context

    @property
    def tokens(self) -> int:
        return self.batch * self.new_tokens

    @property
    def cache_len(self) -> int:
        """Allocated cache positions per sequence: S+1 for decode, S for prefill."""
        return self.context + 1 if self.phase == "decode" else self.context


def workload(sc: StepConfig) -> Dict[str, Any]:
    w = {"op": "model_step", "model": sc.model, "phase": sc.phase, "batch": sc.batch,
         "context": sc.context, "weights": sc.weights, "kv_cache": "bf16"}
    if sc.num_layers is not None:
        w["num_layers"] = sc.num_layers
    return w


def kv_len(m: ModelCfg, sc: StepConfig) -> int:
    """Keys one query attends to (the last one for prefill): S+1 for decode, window-limited."""
    n = sc.context + 1 if sc.phase == "decode" else sc.context
    return min(n, m.window) if m.window else n


# ---------------------------------------------------------------------------------------------
# Sizes (bytes) and the run-time plan
# ---------------------------------------------------------------------------------------------

def linear_params_per_layer(m: ModelCfg) -> int:
    qkv = m.hidden * (m.q_heads + 2 * m.kv_heads) * m.head_dim
    return qkv + m.q_heads * m.head_dim * m.hidden + 3 * m.hidden * m.ffn


def weight_bytes(m: ModelCfg, layers: int, weights: str) -> int:
    """Resident weight bytes: linear layers at 2 B (bf16) or 1 B (fp8) per parameter, biases, norms,
    embedding and LM head in bf16. Worked example, llama3-8b bf16: 32 x 218,103,808 params x 2 B
    + 2 x 128256 x 4096 x 2 B + norms = 15.0 GB (13.96 GB) + 2.10 GB = 16.06e9 B."""
    lin = linear_params_per_layer(m) * layers * (2 if weights == "bf16" else 1)
    bias = (m.q_heads + 2 * m.kv_heads) * m.head_dim * 2 * layers if m.qkv_bias else 0
    norms = (2 * layers + 1) * m.hidden * 2
    emb = m.vocab * m.hidden * 2 * (1 if m.tied else 2)
    return lin + bias + norms + emb


def kv_bytes(m: ModelCfg, layers: int, sc: StepConfig) -> int:
    return 2 * layers * sc.batch * m.kv_heads * sc.cache_len * m.head_dim * 2


def act_bytes(m: ModelCfg, sc: StepConfig, attn_expand: bool = False) -> int:
    """Transient activation bytes of one step (peak estimate, x1.5 slack applied by the caller)."""
    T = sc.tokens
    per_tok = 2 * (6 * m.hidden + 2 * (m.q_heads + 2 * m.kv_heads) * m.head_dim + 3 * m.ffn) \
        + (m.hidden + m.ffn)  # fp8 copies of GEMM inputs
    b = T * per_tok + sc.batch * m.vocab * 4 + T * m.q_heads * 4  # logits, softmax LSE
    if m.window and sc.phase == "prefill" and sc.context > m.window:
        b += sc.context * sc.context * 2                        # band mask
    if attn_expand:
        b += 2 * sc.batch * m.q_heads * kv_len(m, sc) * m.head_dim * 2
    return int(b)


def plan_step_s(m: ModelCfg, layers: int, sc: StepConfig) -> float:
    """Planning estimate of one step's GPU time (assumed H100 rates, common.PLAN_*)."""
    T = sc.tokens
    lin_params = linear_params_per_layer(m) * layers
    w_b = lin_params * (2 if sc.weights == "bf16" else 1) + m.vocab * m.hidden * 2
    rate = C.PLAN_GEMM_BF16_FLOP_PER_S if sc.weights == "bf16" else C.PLAN_GEMM_FP8_FLOP_PER_S
    gemm = max(2.0 * T * lin_params / rate, w_b / C.PLAN_BYTES_PER_S) + 2.0 * sc.batch * m.vocab * m.hidden / rate
    if sc.phase == "decode":
        attn = 2 * layers * sc.batch * m.kv_heads * kv_len(m, sc) * m.head_dim * 2 / C.PLAN_BYTES_PER_S
    else:
        attn = layers * 4.0 * sc.batch * m.q_heads * sc.context * kv_len(m, sc) * m.head_dim / 2 / \
            C.PLAN_ATTN_FLOP_PER_S["flash"]
    elem = layers * T * m.hidden * 2 * 16 / C.PLAN_BYTES_PER_S
    kernels = layers * (16 if sc.weights == "bf16" else 20) + 4
    return gemm + attn + elem + kernels * C.PLAN_KERNEL_FIXED_S


def plan_config_s(m: ModelCfg, layers: int, sc: StepConfig) -> float:
    """Wall time of one configuration: eager warm-up + profiled eager step + capture + replays."""
    t = plan_step_s(m, layers, sc)
    replays = max(MIN_REPLAYS, math.ceil(TARGET_TIMED_S / t))
    host = 0.35 + layers * 0.006 + kv_bytes(m, layers, sc) / 1.5e12
    return host + (3 + 3 + replays) * t


def model_layers(name: str, m: ModelCfg) -> Tuple[int, Optional[int]]:
    """(layers built, workload num_layers or None for the whole model)."""
    if name in REDUCED_LAYERS:
        return REDUCED_LAYERS[name], REDUCED_LAYERS[name]
    return m.layers, None


def build_configs(models: Sequence[str], quick: bool) -> List[StepConfig]:
    """Decode B x S x {bf16, fp8} and prefill B x S bf16 (+ a few fp8), per model, in run order
    (bf16 before fp8: the model is converted once)."""
    out: List[StepConfig] = []
    for name in models:
        m = load_model(name)
        _, nl = model_layers(name, m)
        dec_b = (1, 32) if quick else DECODE_BATCH
        dec_s = (2048,) if quick else DECODE_CONTEXT
        pre = ((1, 512),) if quick else tuple((b, s) for b in PREFILL_BATCH for s in PREFILL_CONTEXT
                                              if b * s <= PREFILL_MAX_TOKENS)
        fp8_pre = ((1, 512),) if quick else FP8_PREFILL.get(name, FP8_PREFILL_DEFAULT)
        for w in ("bf16", "fp8_e4m3"):
            for b in dec_b:
                for s in dec_s:
                    out.append(StepConfig(name, "decode", b, s, w, nl))
            for b, s in (pre if w == "bf16" else fp8_pre):
                out.append(StepConfig(name, "prefill", b, s, w, nl))
    return out


def build_fresh_suite(name: str, models: Sequence[str], quick: bool) -> List[StepConfig]:
    """One of FRESH_SUITES for those of `models` in FRESH_MODELS: decode B x S x {bf16, fp8} and its prefill
    shapes, in run order. Unknown names raise ValueError."""
    if name not in FRESH_SUITES:
        raise ValueError(f"unknown fresh step suite {name!r}; known: {', '.join(FRESH_SUITES)}")
    batches, contexts, pre, fp8_pre = FRESH_SUITES[name]
    out: List[StepConfig] = []
    for model in (m for m in models if m in FRESH_MODELS):
        m = load_model(model)
        _, nl = model_layers(model, m)
        dec_b = batches[1:2] if quick else batches
        dec_s = contexts[:1] if quick else contexts
        for w in ("bf16", "fp8_e4m3"):
            for b in dec_b:
                for s in dec_s:
                    out.append(StepConfig(model, "decode", b, s, w, nl))
            for b, s in (pre[:1] if quick else pre) if w == "bf16" else (fp8_pre[:1] if quick else fp8_pre):
                out.append(StepConfig(model, "prefill", b, s, w, nl))
    return out


def skip_reason(m: ModelCfg, layers: int, sc: StepConfig, free_bytes: int, attn_expand: bool = False) -> Optional[str]:
    """Why a configuration cannot run here (context over the model's maximum, or memory), else None.
    `free_bytes` is the memory left with the model's weights resident."""
    if sc.context > m.max_context:
        return (f"skipped: context {sc.context} exceeds {m.name}'s max_context_tokens {m.max_context}")
    need = kv_bytes(m, layers, sc) + int(1.5 * act_bytes(m, sc, attn_expand)) + MEM_MARGIN_BYTES
    if need > free_bytes:
        return (f"skipped: needs {need / 1e9:.1f} GB (KV cache {kv_bytes(m, layers, sc) / 1e9:.1f} GB + "
                f"activations) with {free_bytes / 1e9:.1f} GB free beside the resident weights")
    return None


def plan_s(configs: Sequence[StepConfig], memory_bytes: int = 80 * 10 ** 9) -> Tuple[float, int]:
    """(estimated seconds, configurations expected to run) on a GPU of `memory_bytes`."""
    total, n = 0.0, 0
    cache: Dict[str, Tuple[ModelCfg, int]] = {}
    for sc in configs:
        if sc.model not in cache:
            m = load_model(sc.model)
            cache[sc.model] = (m, model_layers(sc.model, m)[0])
            total += 3.0 + weight_bytes(m, cache[sc.model][1], "bf16") / 5e11   # init, calibration, checks
        m, L = cache[sc.model]
        free = memory_bytes - weight_bytes(m, L, "bf16") - 3 * 10 ** 9
        if skip_reason(m, L, sc, free) is None:
            total += plan_config_s(m, L, sc)
            n += 1
    return total, n


# ---------------------------------------------------------------------------------------------
# The model (needs torch)
# ---------------------------------------------------------------------------------------------

GEMM_SITES = ("attn_in", "o_in", "mlp_in", "down_in")   # distinct GEMM inputs (static fp8 scales)


TAG_PREFIX = "cls:"


class Regions:
    """Step annotations: no-ops normally; in profile mode each is a RegionProfiler region (with a
    device synchronize at its end) named by the kernel class it contains."""

    def __init__(self, rp: Optional["C.RegionProfiler"] = None):
        self.rp = rp

    def __call__(self, cls: str):
        return self.rp.region(TAG_PREFIX + cls) if self.rp is not None else nullcontext()


KERNEL_CLASSES = ("gemm", "attention", "norm", "rope", "activation", "add", "kv_write", "quantize",
                  "embedding", "other")


class Model:
    def __init__(self, m: ModelCfg, layers: int, dev: "C.Device", rmsnorm, seed: int = 0):
        import torch
        self.m, self.L, self.dev, self.rmsnorm = m, layers, dev, rmsnorm
        self.weights = "bf16"
        d = dev.torch_device
        g = torch.Generator(device=d).manual_seed(seed)
        bf = torch.bfloat16
        H, D, HQ, HKV, F_ = m.hidden, m.head_dim, m.q_heads, m.kv_heads, m.ffn

        def rnd(*shape):
            return torch.empty(shape, dtype=bf, device=d).normal_(0.0, INIT_STD, generator=g)

        def norm_w():
            return (1.0 + torch.empty(H, dtype=torch.float32, device=d).normal_(0.0, INIT_STD, generator=g)).to(bf)

        self.embed = rnd(m.vocab, H)
        self.lm_head = self.embed if m.tied else rnd(m.vocab, H)
        self.final_norm = norm_w()
        self.layers: List[Dict[str, Any]] = []
        for _ in range(layers):
            lw = {"ln1": norm_w(), "ln2": norm_w(),
                  "q": rnd(HQ * D, H), "k": rnd(HKV * D, H), "v": rnd(HKV * D, H), "o": rnd(H, HQ * D),
                  "gate": rnd(F_, H), "up": rnd(F_, H), "down": rnd(H, F_)}
            if m.qkv_bias:
                lw.update({"q_b": rnd(HQ * D), "k_b": rnd(HKV * D), "v_b": rnd(HKV * D)})
            self.layers.append(lw)
        self.attn_probe: Dict[str, Any] = {}
        self.act_scale: List[Dict[str, Any]] = []   # per layer: site -> (scale, inv_scale) tensors
        self.m_pad = 1
        self._cos_sin = None
        self._cos_sin_len = 0

    # -- fp8 ----------------------------------------------------------------------------------
    def calibrate(self, tokens: int = CALIB_TOKENS) -> Dict[str, Any]:
        """Static activation scales: amax of each GEMM input over a bf16 prefill of `tokens` random
        tokens (batch 1), scale = amax / 448."""
        import torch
        amax: List[Dict[str, float]] = [dict() for _ in range(self.L)]
        sc = StepConfig(self.m.name, "prefill", 1, tokens, "bf16")
        st = self.make_state(sc, fill_cache=False)
        self.step(st, calib=amax)
        self.dev.synchronize()
        self.act_scale = []
        for l in range(self.L):
            row = {}
            for site in GEMM_SITES:
                s = max(amax[l][site], 1e-6) / 448.0
                row[site] = (torch.tensor([s], dtype=torch.float32, device=self.dev.torch_device),
                             torch.tensor([1.0 / s], dtype=torch.float32, device=self.dev.torch_device))
            self.act_scale.append(row)
        del st
        return {"calibration": f"bf16 prefill of {tokens} random tokens, scale = amax/448 per GEMM input",
                "amax_layer0": amax[0], "amax_last_layer": amax[-1]}

    def to_fp8(self) -> None:
        """Converts every linear weight (not embedding / LM head) to e4m3 with a per-tensor scale
        amax/448, freeing the bf16 copy tensor by tensor."""
        import torch
        if not self.act_scale:
            raise RuntimeError("calibrate() before to_fp8()")
        for lw in self.layers:
            for name in ("q", "k", "v", "o", "gate", "up", "down"):
                w = lw[name]
                s = float(w.abs().max().float()) / 448.0
                w8 = (w.float() * (1.0 / s)).clamp_(-448.0, 448.0).to(torch.float8_e4m3fn)
                lw[name] = w8
                lw[name + "_t"] = w8.t()
                lw[name + "_s"] = torch.tensor([s], dtype=torch.float32, device=self.dev.torch_device)
                del w
        self.weights = "fp8_e4m3"
        C.free_cuda(self.dev, collect=True)

    def probe_scaled_mm(self) -> int:
        """Smallest M granularity torch._scaled_mm accepts here: 1, or 16 when it rejects M = 1 / 17."""
        import torch
        d = self.dev.torch_device
        a = torch.randn(17, 64, device=d).to(torch.float8_e4m3fn)
        b = torch.randn(32, 64, device=d).to(torch.float8_e4m3fn)
        one = torch.ones(1, device=d, dtype=torch.float32)
        try:
            for mm in (1, 17):
                torch._scaled_mm(a[:mm], b.t(), one, one, out_dtype=torch.bfloat16)
            self.dev.synchronize()
            self.m_pad = 1
        except Exception:
            self.dev.synchronize()
            self.m_pad = 16
        return self.m_pad

    # -- pieces ---------------------------------------------------------------------------------
    def cos_sin(self, n: int):
        import kernels as K
        if self._cos_sin is None or self._cos_sin_len < n:
            self._cos_sin_len = max(n, 1024)
            self._cos_sin = K.rope_cos_sin(self._cos_sin_len, self.m.head_dim, ROPE_THETA, self.dev.torch_device)
        return self._cos_sin

    def _quant(self, x, l: int, site: str):
        import torch
        import kernels as K
        M, Kd = x.shape
        mp = -(-M // self.m_pad) * self.m_pad
        x8 = torch.empty((mp, Kd), dtype=torch.float8_e4m3fn, device=x.device)
        if self.dev.is_cuda:
            K.quant_fp8(x, self.act_scale[l][site][1], out=x8)
        else:  # dry run: Triton's interpreter casts to fp8 wrongly (kernels.py); torch's cast instead
            x8[:M].copy_(K.quant_fp8_reference(x, float(self.act_scale[l][site][1])))
        return x8, M

    def _lin(self, xq, lw, name: str, l: int, site: str, R: Regions):
        """bf16: F.linear (one cuBLAS kernel, bias fused when present); fp8: _scaled_mm on the
        already-quantised input (xq = (x8, M))."""
        import torch
        import torch.nn.functional as F
        bias = lw.get(name + "_b")
        with R("gemm"):
            if self.weights == "bf16":
                return F.linear(xq, lw[name], bias)
            x8, M = xq
            y = torch._scaled_mm(x8, lw[name + "_t"], self.act_scale[l][site][0], lw[name + "_s"],
                                 bias=bias, out_dtype=torch.bfloat16)
            return y[:M] if y.shape[0] != M else y

    def _gemm_input(self, x, l: int, site: str, R: Regions, calib):
        if calib is not None:
            calib[l][site] = max(calib[l].get(site, 0.0), float(x.abs().max().float()))
        if self.weights == "bf16":
            return x
        with R("quantize"):
            return self._quant(x.contiguous(), l, site)

    # backends tried per attention site, in order; the first that runs is used (recorded)
    ATTN_CANDIDATES = {"prefill": ("FLASH_ATTENTION",), "decode": ("FLASH_ATTENTION",),
                       "prefill_window": ("EFFICIENT_ATTENTION", "CUDNN_ATTENTION", "FLASH_ATTENTION", "MATH")}

    def probe_attention(self) -> Dict[str, Any]:
        """Which attention path works here, per site: flash + enable_gqa for prefill (causal) and
        decode (over a strided slice of a cache); for windowed prefill (Mistral, S > window) a
        backend that takes a band mask. When enable_gqa is rejected the same backend is tried with
        K/V expanded by repeat_interleave (then the step does that, and it is recorded)."""
        import torch
        import torch.nn.functional as F
        from torch.nn.attention import SDPBackend, sdpa_kernel
        m, d = self.m, self.dev.torch_device
        G = m.q_heads // m.kv_heads
        bf = torch.bfloat16
        q = torch.randn(2, 16, m.q_heads, m.head_dim, device=d, dtype=bf).transpose(1, 2)
        k = torch.randn(2, 16, m.kv_heads, m.head_dim, device=d, dtype=bf).transpose(1, 2)
        qd = torch.randn(2, 1, m.q_heads, m.head_dim, device=d, dtype=bf).transpose(1, 2)
        cache = torch.randn(2, m.kv_heads, 40, m.head_dim, device=d, dtype=bf)
        mask = torch.zeros(16, 16, device=d, dtype=bf)
        sites = {"prefill": (q, k, {"is_causal": True}), "decode": (qd, cache[:, :, 3:20], {})}
        if m.window:
            sites["prefill_window"] = (q, k, {"attn_mask": mask})
        res: Dict[str, Any] = {}
        for site, (qq, kk, kw) in sites.items():
            errors = []
            res[site] = {"backend": None}
            for bname in self.ATTN_CANDIDATES[site]:
                for mode in ("enable_gqa", "expand_kv"):
                    try:
                        with sdpa_kernel(getattr(SDPBackend, bname)):
                            if mode == "enable_gqa":
                                F.scaled_dot_product_attention(qq, kk, kk, enable_gqa=True, **kw)
                            else:
                                ke = kk.repeat_interleave(G, 1)
                                F.scaled_dot_product_attention(qq, ke, ke, **kw)
                        self.dev.synchronize()
                        res[site] = {"backend": bname, "gqa": mode}
                        break
                    except Exception as e:
                        self.dev.synchronize()
                        errors.append(f"{bname}/{mode}: {C.error_text(e)[:200]}")
                if res[site]["backend"] is not None:
                    break
            if errors:
                res[site]["rejected"] = errors
        self.attn_probe = res
        return res

    def _attention(self, q, k, v, st: "StepState", R: Regions):
        """q [T, HQ*D], k/v [T, HKV*D] after RoPE; returns [T, HQ*D]."""
        import torch
        import torch.nn.functional as F
        from torch.nn.attention import SDPBackend, sdpa_kernel
        m = self.m
        B, S, HQ, HKV, D = st.sc.batch, st.sc.new_tokens, m.q_heads, m.kv_heads, m.head_dim
        G = HQ // HKV
        qh = q.view(B, S, HQ, D).transpose(1, 2)
        with R("kv_write"):
            st.k_cache[st.layer][:, :, st.pos0:st.pos0 + S].copy_(k.view(B, S, HKV, D).transpose(1, 2))
            st.v_cache[st.layer][:, :, st.pos0:st.pos0 + S].copy_(v.view(B, S, HKV, D).transpose(1, 2))
        if st.sc.phase == "decode":
            lo = st.kv_lo
            kh = st.k_cache[st.layer][:, :, lo:st.pos0 + 1]
            vh = st.v_cache[st.layer][:, :, lo:st.pos0 + 1]
            site, kw = "decode", {}
        else:
            kh = k.view(B, S, HKV, D).transpose(1, 2)
            vh = v.view(B, S, HKV, D).transpose(1, 2)
            if st.mask is not None:
                site, kw = "prefill_window", {"attn_mask": st.mask}
            else:
                site, kw = "prefill", {"is_causal": True}
        path = self.attn_probe.get(site) or {"backend": None}
        if path["backend"] is None:
            raise RuntimeError(f"no SDPA backend runs the {site} attention here: {path.get('rejected')}")
        with R("attention"):
            with sdpa_kernel(getattr(SDPBackend, path["backend"])):
                if path["gqa"] == "enable_gqa":
                    o = F.scaled_dot_product_attention(qh, kh, vh, enable_gqa=True, **kw)
                else:
                    o = F.scaled_dot_product_attention(qh, kh.repeat_interleave(G, 1), vh.repeat_interleave(G, 1), **kw)
        with R("other"):
            return o.transpose(1, 2).reshape(B * S, HQ * D)

    # -- the step --------------------------------------------------------------------------------
    def make_state(self, sc: StepConfig, fill_cache: bool = True, layers: Optional[int] = None) -> "StepState":
        import torch
        m, d = self.m, self.dev.torch_device
        L = layers or self.L
        g = torch.Generator(device=d).manual_seed(1234 + sc.batch * 7 + sc.context)
        B, S = sc.batch, sc.new_tokens
        shape = (L, B, m.kv_heads, sc.cache_len, m.head_dim)
        k_all = torch.empty(shape, dtype=torch.bfloat16, device=d)
        v_all = torch.empty(shape, dtype=torch.bfloat16, device=d)
        if fill_cache:  # random history (decode); prefill writes every position it reads
            k_all.normal_(generator=g)
            v_all.normal_(generator=g)
        tokens = torch.randint(0, m.vocab, (B, S), generator=g, device=d, dtype=torch.int64)
        pos0 = sc.context if sc.phase == "decode" else 0
        positions = (torch.full((B,), pos0, dtype=torch.int32, device=d) if sc.phase == "decode"
                     else torch.arange(S, dtype=torch.int32, device=d).repeat(B))
        mask = None
        if sc.phase == "prefill" and m.window and S > m.window:
            i = torch.arange(S, device=d)[:, None]
            j = torch.arange(S, device=d)[None, :]
            keep = (j <= i) & (j > i - m.window)
            mask = torch.zeros(S, S, dtype=torch.bfloat16, device=d).masked_fill_(~keep, float("-inf"))
        kv_lo = max(0, sc.context + 1 - m.window) if (m.window and sc.phase == "decode") else 0
        self.cos_sin(sc.cache_len + 1)
        return StepState(sc=sc, layers=L, k_cache=[k_all[l] for l in range(L)], v_cache=[v_all[l] for l in range(L)],
                         tokens=tokens, positions=positions, pos0=pos0, kv_lo=kv_lo, mask=mask,
                         _k_all=k_all, _v_all=v_all)

    def step(self, st: "StepState", R: Optional[Regions] = None, calib=None):
        import torch
        import torch.nn.functional as F
        import kernels as K
        R = R or Regions()
        m = self.m
        B, S, H = st.sc.batch, st.sc.new_tokens, m.hidden
        with R("embedding"):
            x = F.embedding(st.tokens.view(-1), self.embed)
        cs = self._cos_sin
        for l in range(st.layers):
            lw = self.layers[l]
            st.layer = l
            with R("norm"):
                h = self.rmsnorm(x, lw["ln1"], RMS_EPS)
            hq = self._gemm_input(h, l, "attn_in", R, calib)
            q = self._lin(hq, lw, "q", l, "attn_in", R)
            k = self._lin(hq, lw, "k", l, "attn_in", R)
            v = self._lin(hq, lw, "v", l, "attn_in", R)
            with R("rope"):
                K.rope_(q, k, st.positions, cs, m.q_heads, m.kv_heads, m.head_dim)
            a = self._attention(q, k, v, st, R)
            aq = self._gemm_input(a, l, "o_in", R, calib)
            o = self._lin(aq, lw, "o", l, "o_in", R)
            with R("add"):
                x = x + o
            with R("norm"):
                h = self.rmsnorm(x, lw["ln2"], RMS_EPS)
            hq = self._gemm_input(h, l, "mlp_in", R, calib)
            gt = self._lin(hq, lw, "gate", l, "mlp_in", R)
            up = self._lin(hq, lw, "up", l, "mlp_in", R)
            with R("activation"):
                act = K.silu_mul(gt, up)
            aq = self._gemm_input(act, l, "down_in", R, calib)
            dn = self._lin(aq, lw, "down", l, "down_in", R)
            with R("add"):
                x = x + dn
        with R("norm"):
            x = self.rmsnorm(x, self.final_norm, RMS_EPS)
        if S > 1:
            with R("other"):
                x = x.view(B, S, H)[:, -1].contiguous()    # LM head on the last token of each sequence
        with R("gemm"):
            return F.linear(x, self.lm_head)

    def expected_kernels(self, layers: int) -> Dict[str, int]:
        """Kernels per class the step should launch (attention: at least this many)."""
        L = layers
        e = {"gemm": 7 * L + 1, "norm": 2 * L + 1, "rope": L, "kv_write": 2 * L, "attention": L,
             "add": 2 * L, "activation": L, "embedding": 1}
        if self.weights != "bf16":
            e["quantize"] = 4 * L
        return e


@dataclass
class StepState:
    sc: StepConfig
    layers: int
    k_cache: List[Any]
    v_cache: List[Any]
    tokens: Any
    positions: Any
    pos0: int
    kv_lo: int
    mask: Any
    _k_all: Any = None
    _v_all: Any = None
    layer: int = 0


# ---------------------------------------------------------------------------------------------
# Runner
# ---------------------------------------------------------------------------------------------

def class_totals(regions: Sequence["C.RegionProfile"], unattributed: Sequence["C.KernelEvent"]) -> Dict[str, Any]:
    tot: Dict[str, Dict[str, Any]] = {}
    for r in regions:
        t = tot.setdefault(r.tag[len(TAG_PREFIX):] if r.tag.startswith(TAG_PREFIX) else r.tag,
                           {"count": 0, "time_s": 0.0})
        for k in r.kernels:
            t["count"] += 1
            t["time_s"] += k.dur_us * 1e-6
    if unattributed:
        t = tot.setdefault("unattributed", {"count": 0, "time_s": 0.0})
        for k in unattributed:
            t["count"] += 1
            t["time_s"] += k.dur_us * 1e-6
    return {k: v for k, v in tot.items() if v["count"] > 0}


def counts_as_expected(by_class: Dict[str, Any], expected: Dict[str, int]) -> bool:
    """Every class has exactly the expected kernel count (attention: at least; split-KV decode
    kernels may add a combine kernel), and nothing landed outside a region."""
    for cls, n in expected.items():
        got = by_class.get(cls, {}).get("count", 0)
        if (got < n) if cls == "attention" else (got != n):
            return False
    return "unattributed" not in by_class


def _cosine(a, b) -> float:
    a, b = a.float().flatten(), b.float().flatten()
    return float((a @ b) / (a.norm() * b.norm()).clamp_min(1e-30))


class ModelStepRunner:
    def __init__(self, dev: "C.Device", writer: "C.RecordWriter", deadline: "C.Deadline", rmsnorm,
                 tiny_layers: int = 2, suite: str = "model_step"):
        self.dev, self.writer, self.deadline, self.rmsnorm = dev, writer, deadline, rmsnorm
        self.suite = suite
        self.tiny_layers = tiny_layers
        # tiny numerics configurations and calibration length (smaller in the CPU dry run, where the
        # Triton interpreter costs milliseconds per program instance)
        self.tiny_decode = (2, 64) if dev.is_cuda else (2, 20)
        self.tiny_prefill = (2, 32) if dev.is_cuda else (1, 6)
        self.calib_tokens = CALIB_TOKENS if dev.is_cuda else 8
        self.summary: List[List[Any]] = []

    def _error(self, sc: StepConfig, msg: str, extra: Optional[Dict[str, Any]] = None) -> None:
        rec = C.make_record(suite=self.suite, label=_label(sc), workload=workload(sc),
                            device=self.dev.snapshot(), status="error", error=msg, extra=extra,
                            dry_run=self.dev.dry_run)
        self.writer.write(rec)
        self.summary.append([sc.model, sc.phase, sc.weights, sc.batch, sc.context, "error", "-", msg[:60]])

    def run(self, configs: Sequence[StepConfig], model_cfgs: Optional[Dict[str, ModelCfg]] = None) -> None:
        by_model: Dict[str, List[StepConfig]] = {}
        for sc in configs:
            by_model.setdefault(sc.model, []).append(sc)
        for name, scs in by_model.items():
            if self.deadline.expired():
                for sc in scs:
                    self._error(sc, "not run: suite time budget exhausted before this configuration")
                continue
            m = (model_cfgs or {}).get(name) or load_model(name)
            try:
                self._run_model(m, scs)
            except Exception as e:  # model-level failure (e.g. out of memory building it)
                msg = C.error_text(e)
                print(f"[model_step] {name}: {msg}", flush=True)
                for sc in scs:
                    if not any(r["workload"] == workload(sc) for r in self.writer.rows):
                        self._error(sc, "model setup failed: " + msg)
            C.free_cuda(self.dev, collect=True)

    def _tiny_check(self, model: Model, tiny_states, ref_logits=None) -> Tuple[Dict[str, Any], Dict[str, Any]]:
        """Eager vs CUDA-graph step on tiny configurations (first `tiny_layers` layers), finite logits,
        and (fp8) cosine against the bf16 logits of the same weights and caches."""
        out: Dict[str, Any] = {}
        logits = {}
        for key, st in tiny_states.items():
            eager = model.step(st).clone()
            self.dev.synchronize()
            r: Dict[str, Any] = {"finite": bool(eager.isfinite().all())}
            if self.dev.is_cuda:
                import torch
                g = torch.cuda.CUDAGraph()
                with torch.cuda.graph(g):
                    static = model.step(st)
                g.replay()
                torch.cuda.synchronize()
                diff = float((static.float() - eager.float()).abs().max())
                r["graph_vs_eager_max_abs_diff"] = diff
                r["graph_equals_eager"] = diff <= 1e-3 * max(1.0, float(eager.float().abs().max()))
                del g, static
            else:
                r["graph_equals_eager"] = True
                r["graph_note"] = "dry run: no CUDA graph"
            if ref_logits is not None:
                r["cosine_vs_bf16"] = _cosine(eager, ref_logits[key])
            r["pass"] = r["finite"] and r["graph_equals_eager"] and r.get("cosine_vs_bf16", 1.0) >= 0.98  # catches wrong positions, KV slots and scales (validate/torch/regate.py)
            out[key] = r
            logits[key] = eager
        out["pass"] = all(v["pass"] for k, v in out.items() if isinstance(v, dict))
        return out, logits

    def _run_model(self, m: ModelCfg, scs: List[StepConfig]) -> None:
        import torch
        L, nl = model_layers(m.name, m)
        t0 = time.monotonic()
        print(f"[model_step] building {m.name} ({L} layers{', reduced' if nl else ''}), "
              f"{weight_bytes(m, L, 'bf16') / 1e9:.1f} GB bf16 weights", flush=True)
        if m.moe:
            for sc in scs:
                self._error(sc, "not measured: mixture-of-experts models have no plain implementation here")
            return
        model = Model(m, L, self.dev, self.rmsnorm)
        m_pad = model.probe_scaled_mm()
        attn = model.probe_attention()
        calib = model.calibrate(self.calib_tokens)
        tiny_layers = min(self.tiny_layers, L)
        (db, ds), (pb, ps) = self.tiny_decode, self.tiny_prefill
        tiny = {f"decode_B{db}_S{ds}": model.make_state(StepConfig(m.name, "decode", db, ds, "bf16"), layers=tiny_layers),
                f"prefill_B{pb}_S{ps}": model.make_state(StepConfig(m.name, "prefill", pb, ps, "bf16"), layers=tiny_layers)}
        numerics: Dict[str, Any] = {}
        chk, bf16_logits = self._tiny_check(model, tiny)
        numerics["bf16"] = chk
        common_extra = {"attention_paths": attn, "fp8_scaled_mm_m_granularity": m_pad,
                        "rmsnorm": self.rmsnorm.impl, "layers_built": L,
                        "weights_init": f"N(0, {INIT_STD}) (norm weights 1 + N(0, {INIT_STD}))"}
        print(f"[model_step] {m.name}: setup {time.monotonic() - t0:.1f} s, bf16 tiny check pass={chk['pass']}",
              flush=True)
        converted = False
        for sc in scs:
            if self.deadline.expired():
                self._error(sc, "not run: suite time budget exhausted before this configuration")
                continue
            if sc.weights == "fp8_e4m3" and not converted:
                model.to_fp8()
                converted = True
                chk8, _ = self._tiny_check(model, tiny, bf16_logits)
                numerics["fp8_e4m3"] = chk8
                print(f"[model_step] {m.name}: fp8 tiny check pass={chk8['pass']} "
                      f"cos={[round(v.get('cosine_vs_bf16', 0), 5) for v in chk8.values() if isinstance(v, dict)]}",
                      flush=True)
            extra = dict(common_extra)
            extra["numerics"] = numerics.get(sc.weights)
            if sc.weights == "fp8_e4m3":
                extra["fp8"] = {"activation_scales": calib["calibration"], "weight_scales": "per tensor amax/448",
                                "lm_head_and_embedding": "bf16", "quantize_kernels_per_layer": 4,
                                "scaled_mm_m_padding": m_pad}
            self._run_config(model, m, L, sc, extra)
        del tiny
        del model
        C.free_cuda(self.dev, collect=True)

    def _run_config(self, model: Model, m: ModelCfg, L: int, sc: StepConfig, extra: Dict[str, Any]) -> None:
        import torch
        if self.dev.is_cuda:
            C.free_cuda(self.dev)
            free = torch.cuda.mem_get_info()[0]
        else:
            free = self.dev.memory_bytes
        expand = (model.attn_probe.get("decode" if sc.phase == "decode" else "prefill") or {}).get("gqa") == "expand_kv"
        why = skip_reason(m, L, sc, free, expand)
        extra = dict(extra)
        extra.update({"kv_len": kv_len(m, sc), "kv_cache_positions_allocated": sc.cache_len,
                      "new_tokens_per_sequence": sc.new_tokens, "lm_head_rows": sc.batch,
                      "lm_head": "last token of each sequence only (what serving does)"})
        if m.window:
            extra["sliding_window_tokens"] = m.window
            if sc.phase == "prefill" and sc.context > m.window:
                p = model.attn_probe.get("prefill_window") or {}
                extra["window_attention"] = (f"additive band mask [S, S] through SDPBackend.{p.get('backend')} "
                                             f"({p.get('gqa')}); PyTorch's flash path has no window")
        if why:
            self._error(sc, why, extra)
            return
        st = None
        failure = None
        n_k = 0
        try:
            st = model.make_state(sc)
            logits = model.step(st)                     # eager warm-up (Triton, cuBLAS heuristics)
            self.dev.synchronize()
            extra["logits_finite"] = bool(logits.isfinite().all())
            del logits
            C.free_cuda(self.dev)
            try:
                with C.RegionProfiler(self.dev) as rp:
                    model.step(st, Regions(rp))
                ct = class_totals(rp.regions, rp.unattributed)
                n_k = sum(v["count"] for v in ct.values())
                extra["profile"] = {
                    "method": "eager step under torch.profiler, device sync after each region; kernels "
                              f"attributed to regions by {rp.method}", "attribution": rp.attribution,
                    "kernels_per_step": n_k, "gpu_time_s": sum(v["time_s"] for v in ct.values()),
                    "by_class": ct, "expected_kernels_by_class": model.expected_kernels(L),
                    "counts_as_expected": counts_as_expected(ct, model.expected_kernels(L)),
                    "top_kernels": C.kernel_summary([k for r in rp.regions for k in r.kernels], 15)}
                del rp
            except Exception as e:
                extra["profile_error"] = C.error_text(e)
            C.free_cuda(self.dev)
            tr = C.time_replays(self.dev, lambda: model.step(st), 1, min_replays=MIN_REPLAYS, max_replays=100,
                                target_timed_s=TARGET_TIMED_S, warmup=3)
            devobj = self.dev.snapshot()
        except Exception as e:
            failure = ("out of memory: " if C.is_oom(e) else "") + C.error_text(e)
        finally:
            st = None
        if failure is not None:
            C.free_cuda(self.dev, collect=True)
            self._error(sc, failure, extra)
            return
        st_ = tr.stats()
        extra.update({"replays": tr.replays, "warmup_replays": tr.warmup_replays,
                      "l2_note": ("no input rotation: one step streams the model's weights "
                                  f"({weight_bytes(m, L, sc.weights) / 1e9:.1f} GB, >> 3x L2) before any "
                                  "byte is read again, so each replay starts with a cold L2 for weights and KV cache")})
        if tr.graph_capture_error:
            extra["graph_capture_error"] = tr.graph_capture_error
        if "profile" in extra and extra["profile"]["gpu_time_s"] > 0:
            extra["graph_time_over_kernel_sum"] = st_["median"] / extra["profile"]["gpu_time_s"]
        status, err = "ok", None
        num = extra.get("numerics") or {}
        if not num.get("pass", False):
            status, err = "error", f"numerics check failed on the tiny configuration: {num}"
        elif not extra.get("logits_finite", False):
            status, err = "error", "non-finite logits in this configuration's eager step"
        rec = C.make_record(suite=self.suite, label=_label(sc), workload=workload(sc), device=devobj,
                            status=status, error=err, time_s=st_, method=tr.method, l2="cold_working_set",
                            kernels_per_call=max(1, n_k), extra=extra, dry_run=self.dev.dry_run)
        self.writer.write(rec)
        tok_s = sc.tokens / st_["median"]
        self.summary.append([sc.model + (f"[{sc.num_layers}L]" if sc.num_layers else ""), sc.phase, sc.weights,
                             sc.batch, sc.context, status, C.fmt_s(st_["median"]), f"{tok_s:,.0f} tok/s"])


def _label(sc: StepConfig) -> str:
    return "torch_plain_graph_" + ("bf16" if sc.weights == "bf16" else "w8a8_fp8")


def dry_run_models() -> Dict[str, ModelCfg]:
    """Tiny stand-ins of three model shapes for the CPU dry run (names kept: records say dry_run)."""
    base = load_model("llama3-8b")
    tiny = replace(base, hidden=128, layers=2, q_heads=4, kv_heads=2, head_dim=32, ffn=256, vocab=512)
    qw = replace(load_model("qwen2.5-7b"), hidden=96, layers=2, q_heads=6, kv_heads=2, head_dim=16, ffn=160, vocab=300)
    mi = replace(load_model("mistral-7b"), hidden=128, layers=2, q_heads=4, kv_heads=2, head_dim=32, ffn=256,
                 vocab=512, window=16)
    return {tiny.name: tiny, qw.name: qw, mi.name: mi}


def dry_run_configs() -> List[StepConfig]:
    """llama: both phases and both weight formats; qwen (qkv bias): decode bf16 + fp8;
    mistral (window 16 in the dry-run model): decode past the window, prefill S = 18 > 16 (mask path)."""
    return [StepConfig("llama3-8b", "decode", 2, 24, "bf16"), StepConfig("llama3-8b", "prefill", 1, 10, "bf16"),
            StepConfig("llama3-8b", "decode", 2, 24, "fp8_e4m3"), StepConfig("llama3-8b", "prefill", 1, 10, "fp8_e4m3"),
            StepConfig("qwen2.5-7b", "decode", 2, 24, "bf16"), StepConfig("qwen2.5-7b", "decode", 2, 24, "fp8_e4m3"),
            StepConfig("mistral-7b", "decode", 2, 24, "bf16"), StepConfig("mistral-7b", "prefill", 1, 18, "bf16")]
