// Scalar arithmetic shared bit-for-bit by the prefill kernels (device) and their CPU references (host):
// quantiser parameter choice, INT8 rounding, the transposed-V key permutation and a reproducible exp2.
// Every float operation is spelled out (no contraction into FMA, round-to-nearest-even) so that a GPU
// quantiser and its CPU reference produce identical codes, and the FP8 P of sage_int8_fp8 is identical.
#pragma once

#include <cstdint>
#include <cstring>

#if defined(__CUDACC__)
#define ROOFLINE_PREFILL_HD __host__ __device__ __forceinline__
#else
#define ROOFLINE_PREFILL_HD inline
#include <cmath>
#endif

namespace roofline::validate::prefill {

inline constexpr int kv_tile_keys = 64;        ///< keys per K/V tile of every fused kernel
inline constexpr int sage_q_block_tokens = 32;  ///< Sage: one Q scale per (batch, head, 32 tokens)
inline constexpr int sage_k_block_tokens = 64;  ///< Sage: one K scale per (batch, kv head, 64 tokens)
inline constexpr float p_fp8_scale = 448.0f;    ///< sage_int8_fp8: P ∈ [0, 1] is stored as e4m3(P·448)
inline constexpr float log2_e = 1.4426950408889634f;

ROOFLINE_PREFILL_HD float mul_rn(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fmul_rn(a, b);
#else
  return a * b;
#endif
}
ROOFLINE_PREFILL_HD float add_rn(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fadd_rn(a, b);
#else
  return a + b;
#endif
}
ROOFLINE_PREFILL_HD float sub_rn(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fsub_rn(a, b);
#else
  return a - b;
#endif
}
ROOFLINE_PREFILL_HD float div_rn(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fdiv_rn(a, b);
#else
  return a / b;
#endif
}
ROOFLINE_PREFILL_HD float fma_rn(float a, float b, float c) {
#if defined(__CUDA_ARCH__)
  return __fmaf_rn(a, b, c);
#else
  return std::fma(a, b, c);
#endif
}
/// Round to the nearest integer, ties to even (the default rounding mode on the host).
ROOFLINE_PREFILL_HD float rint_even(float x) {
#if defined(__CUDA_ARCH__)
  return rintf(x);
#else
  return std::nearbyint(x);
#endif
}
ROOFLINE_PREFILL_HD float bits_to_float(std::uint32_t u) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(u);
#else
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
#endif
}

/// 2^x for x <= 0, identical on host and device: 0 below x = −30 (and for −inf), otherwise
/// 2^n · P6(f) with n = rint(x), f = x − n ∈ [−0.5, 0.5] and P6 the degree-6 Taylor polynomial of
/// 2^f = e^(f·ln 2), Horner with correctly rounded FMAs (relative error < 2e-7).
ROOFLINE_PREFILL_HD float exp2_repro(float x) {
  if (!(x >= -30.0f)) return 0.0f;
  const float n = rint_even(x);
  const float f = sub_rn(x, n);  // exact
  float p = 1.5403530393381608e-4f;           // ln2^6 / 720
  p = fma_rn(p, f, 1.3333558146428443e-3f);    // ln2^5 / 120
  p = fma_rn(p, f, 9.6181291076284772e-3f);    // ln2^4 / 24
  p = fma_rn(p, f, 5.5504108664821580e-2f);    // ln2^3 / 6
  p = fma_rn(p, f, 2.4022650695910071e-1f);    // ln2^2 / 2
  p = fma_rn(p, f, 6.9314718055994531e-1f);    // ln2
  p = fma_rn(p, f, 1.0f);
  const int e = static_cast<int>(n);  // −30 .. 0
  return mul_rn(p, bits_to_float(static_cast<std::uint32_t>(e + 127) << 23));
}

/// Asymmetric INT8 (fa2_int8, per tensor): x ≈ scale·(code − zero), code ∈ [−128, 127]. The range is
/// widened to contain 0; scale = (hi − lo)/255 (1 for an all-zero tensor), zero = rint(−128 − lo/scale).
struct AsymInt8Params {
  float scale = 1.0f;
  std::int32_t zero = 0;
};
ROOFLINE_PREFILL_HD AsymInt8Params choose_asym_int8(float lo, float hi) {
  lo = lo < 0.0f ? lo : 0.0f;
  hi = hi > 0.0f ? hi : 0.0f;
  const float range = sub_rn(hi, lo);
  AsymInt8Params p;
  p.scale = range > 0.0f ? div_rn(range, 255.0f) : 1.0f;
  float z = rint_even(sub_rn(-128.0f, div_rn(lo, p.scale)));
  z = z < -128.0f ? -128.0f : (z > 127.0f ? 127.0f : z);
  p.zero = static_cast<std::int32_t>(z);
  return p;
}
ROOFLINE_PREFILL_HD std::int8_t quantize_asym_int8(float x, AsymInt8Params p) {
  float q = add_rn(rint_even(div_rn(x, p.scale)), static_cast<float>(p.zero));
  q = q < -128.0f ? -128.0f : (q > 127.0f ? 127.0f : q);
  return static_cast<std::int8_t>(q);
}

/// Symmetric INT8 (Sage, per block): scale = amax/127 (1 when amax = 0), code = rint(x/scale) ∈ [−127, 127].
ROOFLINE_PREFILL_HD float symmetric_int8_scale(float amax) { return amax > 0.0f ? div_rn(amax, 127.0f) : 1.0f; }
ROOFLINE_PREFILL_HD std::int8_t quantize_symmetric_int8(float x, float scale) {
  float q = rint_even(div_rn(x, scale));
  q = q < -127.0f ? -127.0f : (q > 127.0f ? 127.0f : q);
  return static_cast<std::int8_t>(q);
}
/// FP8 e4m3 per-channel scale of V (sage_int8_fp8): amax/448 (1 when amax = 0); code = e4m3(v/scale).
ROOFLINE_PREFILL_HD float fp8_e4m3_scale(float amax) { return amax > 0.0f ? div_rn(amax, 448.0f) : 1.0f; }

/// Transposed V layouts (fa2_int8, sage_int8_fp8) store V as [B, HKV, D, Skv padded to 64] with 8-bit
/// elements and the keys of every 16-key group permuted so that the four bytes a thread needs for an
/// mma.sync B fragment are adjacent: position 4c + i holds key 2c + i (i < 2) or 8 + 2c + (i − 2).
/// This matches the accumulator layout of S (thread c holds keys 2c, 2c+1 of each 8-key block), so P
/// goes from the S accumulators to the A operand without shuffles.
ROOFLINE_PREFILL_HD int vt_key_at_position(int position) {
  const int group = position & ~15, within = position & 15;
  const int c = within >> 2, i = within & 3;
  return group + (i < 2 ? 2 * c + i : 8 + 2 * c + (i - 2));
}
ROOFLINE_PREFILL_HD int vt_position_of_key(int key) {
  const int group = key & ~15, within = key & 15;
  const int half = within >> 3, r = within & 7;  // r = 2c + i'
  return group + 4 * (r >> 1) + 2 * half + (r & 1);
}

/// The Sage score in log2 units: acc·(q_scale·softmax_scale·log2 e)·k_scale, rounded in this order.
ROOFLINE_PREFILL_HD float sage_score_factor(float q_scale, float softmax_scale_log2, float k_scale) {
  return mul_rn(mul_rn(q_scale, softmax_scale_log2), k_scale);
}

}  // namespace roofline::validate::prefill
