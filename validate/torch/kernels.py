"""The small Triton kernels of the plain PyTorch decoder step, each with a PyTorch reference:
RoPE (q and k in ONE launch, rotate-half / GPT-NeoX layout as in Llama/Qwen/Mistral), SiLU(gate)*up,
static-scale fp8 e4m3 quantisation (saturating), RMSNorm (used only when torch's own rms_norm is not
a single fused kernel), and an empty kernel for launch-cost measurements.

On a machine without a GPU they run under Triton's interpreter (TRITON_INTERPRET=1, set before
triton is imported) on CPU tensors. Note: the interpreter's float->fp8 conversion rounds wrongly
(seen with triton 3.6: 15.75 -> 8), so CPU tests check the quantiser with a float32 output and the
fp8 cast itself is checked bit-exactly on the GPU (run_all.py self-check).
"""
from __future__ import annotations

import math

import torch
import triton
import triton.language as tl

FP8_E4M3_MAX = 448.0


# ---------------------------------------------------------------------------------------------
# RoPE: in place on q [T, q_stride] (HQ heads of D) and k [T, k_stride] (HKV heads of D).
# out[d] = x[d]*cos - x[d+D/2]*sin ; out[d+D/2] = x[d+D/2]*cos + x[d]*sin  (d < D/2),
# cos/sin read from cos_sin[pos, 0:D/2] and cos_sin[pos, D/2:D] (float32).
# ---------------------------------------------------------------------------------------------
@triton.jit(do_not_specialize=["q_stride", "k_stride", "q_heads", "kv_heads"])
def _rope_kernel(q_ptr, k_ptr, pos_ptr, cs_ptr, q_stride, k_stride, q_heads, kv_heads,
                 HALF: tl.constexpr, HB: tl.constexpr):
    t = tl.program_id(0).to(tl.int64)
    hb = tl.program_id(1)
    pos = tl.load(pos_ptr + t).to(tl.int64)
    d = tl.arange(0, HALF)
    cos = tl.load(cs_ptr + pos * (2 * HALF) + d)[None, :]
    sin = tl.load(cs_ptr + pos * (2 * HALF) + HALF + d)[None, :]
    h = hb * HB + tl.arange(0, HB)
    is_q = h < q_heads
    is_k = (h >= q_heads) & (h < q_heads + kv_heads)
    hq = tl.where(is_q, h, 0)
    hk = tl.where(is_k, h - q_heads, 0)
    # query heads
    mq = is_q[:, None]
    pq = q_ptr + t * q_stride + hq[:, None] * (2 * HALF) + d[None, :]
    x1 = tl.load(pq, mask=mq, other=0.0).to(tl.float32)
    x2 = tl.load(pq + HALF, mask=mq, other=0.0).to(tl.float32)
    tl.store(pq, (x1 * cos - x2 * sin).to(q_ptr.dtype.element_ty), mask=mq)
    tl.store(pq + HALF, (x2 * cos + x1 * sin).to(q_ptr.dtype.element_ty), mask=mq)
    # key heads
    mk = is_k[:, None]
    pk = k_ptr + t * k_stride + hk[:, None] * (2 * HALF) + d[None, :]
    y1 = tl.load(pk, mask=mk, other=0.0).to(tl.float32)
    y2 = tl.load(pk + HALF, mask=mk, other=0.0).to(tl.float32)
    tl.store(pk, (y1 * cos - y2 * sin).to(k_ptr.dtype.element_ty), mask=mk)
    tl.store(pk + HALF, (y2 * cos + y1 * sin).to(k_ptr.dtype.element_ty), mask=mk)


ROPE_HEADS_PER_PROGRAM = 4


def rope_(q: torch.Tensor, k: torch.Tensor, positions: torch.Tensor, cos_sin: torch.Tensor,
          q_heads: int, kv_heads: int, head_dim: int) -> None:
    """Rotates q [T, >= q_heads*D] and k [T, >= kv_heads*D] in place (one launch)."""
    T = q.shape[0]
    if k.shape[0] != T or positions.shape[0] != T:
        raise ValueError("q, k and positions need the same number of tokens")
    if q.stride(1) != 1 or k.stride(1) != 1:
        raise ValueError("rope_: rows must be contiguous")
    if head_dim % 2 or (head_dim // 2) & (head_dim // 2 - 1):
        raise ValueError(f"rope_: head_dim/2 must be a power of two, got head_dim {head_dim}")
    grid = (T, triton.cdiv(q_heads + kv_heads, ROPE_HEADS_PER_PROGRAM))
    _rope_kernel[grid](q, k, positions, cos_sin, q.stride(0), k.stride(0), q_heads, kv_heads,
                       HALF=head_dim // 2, HB=ROPE_HEADS_PER_PROGRAM)


def rope_cos_sin(max_positions: int, head_dim: int, theta: float, device) -> torch.Tensor:
    """[max_positions, head_dim] float32: cos(p*f_i) in the first half, sin(p*f_i) in the second,
    f_i = theta^(-2i/D)."""
    inv_freq = theta ** (-torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim)
    ang = torch.arange(max_positions, dtype=torch.float64)[:, None] * inv_freq[None, :]
    return torch.cat([ang.cos(), ang.sin()], dim=1).to(torch.float32).to(device).contiguous()


def rope_reference(x: torch.Tensor, positions: torch.Tensor, cos_sin: torch.Tensor, heads: int,
                   head_dim: int) -> torch.Tensor:
    """Rotate-half RoPE of x [T, heads*D] in float32 (returns float32)."""
    T = x.shape[0]
    xf = x[:, :heads * head_dim].float().view(T, heads, head_dim)
    cs = cos_sin[positions.long()]
    half = head_dim // 2
    cos, sin = cs[:, None, :half], cs[:, None, half:]
    x1, x2 = xf[..., :half], xf[..., half:]
    return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1).reshape(T, heads * head_dim)


# ---------------------------------------------------------------------------------------------
# SiLU(gate) * up, elementwise over contiguous tensors, computed in float32.
# ---------------------------------------------------------------------------------------------
@triton.jit(do_not_specialize=["n"])
def _silu_mul_kernel(g_ptr, u_ptr, o_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    m = offs < n
    g = tl.load(g_ptr + offs, mask=m, other=0.0).to(tl.float32)
    u = tl.load(u_ptr + offs, mask=m, other=0.0).to(tl.float32)
    y = g * tl.sigmoid(g) * u
    tl.store(o_ptr + offs, y.to(o_ptr.dtype.element_ty), mask=m)


ELEMENTWISE_BLOCK = 2048


def silu_mul(gate: torch.Tensor, up: torch.Tensor, out: torch.Tensor = None) -> torch.Tensor:
    if gate.shape != up.shape or not gate.is_contiguous() or not up.is_contiguous():
        raise ValueError("silu_mul: gate and up must be contiguous and of one shape")
    if out is None:
        out = torch.empty_like(gate)
    n = gate.numel()
    _silu_mul_kernel[(triton.cdiv(n, ELEMENTWISE_BLOCK),)](gate, up, out, n, BLOCK=ELEMENTWISE_BLOCK)
    return out


def silu_mul_reference(gate: torch.Tensor, up: torch.Tensor) -> torch.Tensor:
    g = gate.float()
    return g * torch.sigmoid(g) * up.float()


# ---------------------------------------------------------------------------------------------
# Static per-tensor fp8 e4m3 quantisation: y = sat(x * inv_scale) with sat = clamp to +-448.
# inv_scale is read from a 1-element float32 tensor (a static, calibrated scale).
# ---------------------------------------------------------------------------------------------
@triton.jit(do_not_specialize=["n"])
def _quant_fp8_kernel(x_ptr, y_ptr, inv_scale_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    m = offs < n
    x = tl.load(x_ptr + offs, mask=m, other=0.0).to(tl.float32)
    inv = tl.load(inv_scale_ptr)
    y = tl.minimum(tl.maximum(x * inv, -448.0), 448.0)
    tl.store(y_ptr + offs, y.to(y_ptr.dtype.element_ty), mask=m)


def quant_fp8(x: torch.Tensor, inv_scale: torch.Tensor, out: torch.Tensor = None) -> torch.Tensor:
    """x (contiguous, 16-bit) -> float8_e4m3fn (or `out`'s dtype, e.g. float32 in CPU tests)."""
    if not x.is_contiguous():
        raise ValueError("quant_fp8: x must be contiguous")
    if out is None:
        out = torch.empty(x.shape, dtype=torch.float8_e4m3fn, device=x.device)
    if out.numel() < x.numel() or not out.is_contiguous():
        raise ValueError("quant_fp8: out must be contiguous and hold x")
    n = x.numel()
    _quant_fp8_kernel[(triton.cdiv(n, ELEMENTWISE_BLOCK),)](x, out, inv_scale, n, BLOCK=ELEMENTWISE_BLOCK)
    return out


def quant_fp8_reference(x: torch.Tensor, inv_scale: float, dtype=torch.float8_e4m3fn) -> torch.Tensor:
    """torch's own cast after the same float32 multiply and saturation (round to nearest even)."""
    y = (x.float() * torch.tensor(inv_scale, dtype=torch.float32)).clamp(-FP8_E4M3_MAX, FP8_E4M3_MAX)
    return y.to(dtype)


# ---------------------------------------------------------------------------------------------
# RMSNorm over rows: y = x / sqrt(mean(x^2) + eps) * w, in float32, one program per row.
# ---------------------------------------------------------------------------------------------
@triton.jit(do_not_specialize=["x_stride", "y_stride", "n_cols"])
def _rmsnorm_kernel(x_ptr, w_ptr, y_ptr, x_stride, y_stride, n_cols, eps, BLOCK: tl.constexpr):
    row = tl.program_id(0).to(tl.int64)
    cols = tl.arange(0, BLOCK)
    m = cols < n_cols
    x = tl.load(x_ptr + row * x_stride + cols, mask=m, other=0.0).to(tl.float32)
    var = tl.sum(x * x, axis=0) / n_cols
    r = 1.0 / tl.sqrt(var + eps)
    w = tl.load(w_ptr + cols, mask=m, other=0.0).to(tl.float32)
    tl.store(y_ptr + row * y_stride + cols, (x * r * w).to(y_ptr.dtype.element_ty), mask=m)


def rmsnorm_triton(x: torch.Tensor, w: torch.Tensor, eps: float) -> torch.Tensor:
    if x.dim() != 2 or x.stride(1) != 1:
        raise ValueError("rmsnorm_triton: x must be 2-D with contiguous rows")
    rows, cols = x.shape
    y = torch.empty((rows, cols), dtype=x.dtype, device=x.device)
    block = triton.next_power_of_2(cols)
    _rmsnorm_kernel[(rows,)](x, w, y, x.stride(0), y.stride(0), cols, eps, BLOCK=block,
                             num_warps=min(16, max(4, block // 1024)))
    return y


def rmsnorm_reference(x: torch.Tensor, w: torch.Tensor, eps: float) -> torch.Tensor:
    xf = x.float()
    return xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + eps) * w.float()


# ---------------------------------------------------------------------------------------------
# Empty kernel (launch cost).
# ---------------------------------------------------------------------------------------------
@triton.jit
def _empty_kernel(x_ptr):
    pass


def empty_launch(x: torch.Tensor) -> None:
    _empty_kernel[(1,)](x)


# ---------------------------------------------------------------------------------------------
# RMSNorm choice: torch.nn.functional.rms_norm when it is ONE fused kernel on this GPU, else Triton.
# ---------------------------------------------------------------------------------------------
class RmsNorm:
    """The RMSNorm the step uses; `impl` is "torch_rms_norm" or "triton_rmsnorm"."""

    def __init__(self, impl: str, probe: dict):
        self.impl = impl
        self.probe = probe

    def __call__(self, x: torch.Tensor, w: torch.Tensor, eps: float) -> torch.Tensor:
        if self.impl == "torch_rms_norm":
            return torch.nn.functional.rms_norm(x, (x.shape[-1],), w, eps)
        return rmsnorm_triton(x, w, eps)


def choose_rmsnorm(dev) -> RmsNorm:
    """Profiles one F.rms_norm call on a [64, 4096] bf16 tensor; one kernel -> torch, else Triton.
    The CPU dry run always takes the Triton kernel (it has no device kernels to count)."""
    import common as C
    if not dev.is_cuda:
        return RmsNorm("triton_rmsnorm", {"reason": "dry run: Triton interpreter exercised"})
    x = torch.randn(64, 4096, device=dev.torch_device, dtype=torch.bfloat16)
    w = torch.randn(4096, device=dev.torch_device, dtype=torch.bfloat16)
    y = torch.nn.functional.rms_norm(x, (4096,), w, 1e-5)  # warm-up
    err = float((y.float() - rmsnorm_reference(x, w, 1e-5)).abs().max())
    try:
        with C.RegionProfiler(dev) as rp:
            with rp.region("rms_norm_probe"):
                torch.nn.functional.rms_norm(x, (4096,), w, 1e-5)
        ks = [k.name for r in rp.regions for k in r.kernels]
    except Exception as e:
        return RmsNorm("triton_rmsnorm", {"reason": "profiler failed: " + C.error_text(e)})
    probe = {"torch_rms_norm_kernels": len(ks), "torch_rms_norm_kernel_names": [C.short_kernel_name(k, 100) for k in ks],
             "torch_rms_norm_max_abs_err": err}
    if len(ks) == 1 and err < 0.1:
        probe["reason"] = "F.rms_norm is one fused kernel"
        return RmsNorm("torch_rms_norm", probe)
    probe["reason"] = f"F.rms_norm launched {len(ks)} kernels (max abs err {err:.3g}): Triton kernel used"
    return RmsNorm("triton_rmsnorm", probe)
