// Inner-loop element encoders for the quantisers: the same results as the bit-exact scalar codecs of
// precision.cpp (round to nearest even, saturation to the largest finite code) for finite inputs, computed
// with integer operations on the fp32 bit pattern so that a tensor quantises at a few ns per element.
// tests/test_dynamic_quant.cpp checks them against encode_fp8_e4m3/e5m2/fp4_e2m1 on every code, every
// midpoint and its neighbours, and a million random values.
#pragma once

#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstring>

namespace roofline::detail {

inline std::uint32_t float_bits(float x) {
  std::uint32_t u = 0;
  std::memcpy(&u, &x, sizeof u);
  return u;
}

#if defined(__FAST_MATH__)
#error "roofline's quantisers need IEEE fp32 arithmetic: do not build lib/ with -ffast-math"
#endif
static_assert(FLT_EVAL_METHOD == 0, "fp32 expressions must be evaluated in fp32 (round_half_even relies on it)");

inline float bits_float(std::uint32_t u) {
  float x = 0;
  std::memcpy(&x, &u, sizeof x);
  return x;
}

/// 2^e as a float, for -126 <= e <= 127.
constexpr float pow2f(int e) {
  float r = 1.0f;
  for (; e > 0; --e) r *= 2.0f;
  for (; e < 0; ++e) r *= 0.5f;
  return r;
}

/// Rounds q to the nearest integer, ties to even, for |q| < 2^22: adding 1.5 * 2^23 leaves no fraction bits
/// in fp32, so the addition itself rounds (default rounding mode: nearest even). IEEE fp32 evaluation
/// (FLT_EVAL_METHOD 0, no -ffast-math) keeps the compiler from folding (q + m) - m into q.
inline float round_half_even(float q) {
  constexpr float magic = 12582912.0f;  // 1.5 * 2^23
  return (q + magic) - magic;
}

/// Magnitude code (no sign bit) of a minifloat with M stored mantissa bits and exponent bias B for a finite
/// a >= 0, rounded to nearest even and clamped to max_code (saturation).
/// Normal range (a >= 2^(1-B)): round the fp32 mantissa to M bits by adding half an ulp minus one plus the
/// lowest kept bit (ties to even), then re-bias the exponent field from 127 to B.
/// Subnormal range: the code is a / 2^(1-B-M) rounded to an integer (2^M is the smallest normal, carried
/// into the exponent field correctly).
template <int M, int B>
inline std::uint32_t minifloat_magnitude_code(float a, std::uint32_t max_code) {
  constexpr int emin = 1 - B;
  constexpr int shift = 23 - M;
  const std::uint32_t ab = float_bits(a);
  // Branch-free (E2M1 puts a third of typical values below its smallest normal, 1.0): compute both
  // candidates and select with an integer mask.
  const std::uint32_t is_sub = 0u - std::uint32_t(ab < float_bits(pow2f(emin)));
  // Subnormal candidate, from min(a, 2^emin) so that it stays in [0, 2^M]: exact scaling by a power of two,
  // then round half to even.
  const float a_sub = bits_float((ab & is_sub) | (float_bits(pow2f(emin)) & ~is_sub));
  const auto sub = static_cast<std::uint32_t>(round_half_even(a_sub * pow2f(M - emin)));
  // Normal candidate (meaningful when a >= 2^emin; below, its wrapped value is discarded by the select).
  const std::uint32_t u = ab + ((1u << (shift - 1)) - 1u) + ((ab >> shift) & 1u);
  std::uint32_t code = (u >> shift) - (static_cast<std::uint32_t>(127 - B) << M);
  code = code < max_code ? code : max_code;
  return (sub & is_sub) | (code & ~is_sub);
}

/// FP8 E4M3 code of a finite x, saturating (0x7E = 448).
inline std::uint8_t fast_encode_e4m3(float x) {
  const std::uint32_t sign = std::signbit(x) ? 0x80u : 0u;
  return static_cast<std::uint8_t>(sign | minifloat_magnitude_code<3, 7>(std::fabs(x), 0x7Eu));
}
/// FP8 E5M2 code of a finite x, saturating (0x7B = 57344).
inline std::uint8_t fast_encode_e5m2(float x) {
  const std::uint32_t sign = std::signbit(x) ? 0x80u : 0u;
  return static_cast<std::uint8_t>(sign | minifloat_magnitude_code<2, 15>(std::fabs(x), 0x7Bu));
}
/// FP4 E2M1 code (low nibble) of a finite x, saturating (0x7 = 6).
inline std::uint8_t fast_encode_e2m1(float x) {
  const std::uint32_t sign = std::signbit(x) ? 0x8u : 0u;
  return static_cast<std::uint8_t>(sign | minifloat_magnitude_code<1, 1>(std::fabs(x), 0x7u));
}

/// Symmetric integer code in [-qmax, qmax] of a finite x: round-half-even(clamp(x, -qmax, qmax)).
inline int fast_encode_int(float x, float qmax) {
  const float c = x > qmax ? qmax : (x < -qmax ? -qmax : x);
  return static_cast<int>(round_half_even(c));
}

/// Selects a where mask is all ones, else b (integer select: vectorises without if-converting float code).
inline std::uint32_t select_bits(std::uint32_t mask, std::uint32_t a, std::uint32_t b) { return (a & mask) | (b & ~mask); }

/// The value of the nearest representable value of the minifloat (M mantissa bits, bias B) to a finite v,
/// saturating at max: decode(encode(v)) without the code, branch-free so that loops vectorise (the MSE search
/// evaluates it 100 times per element). Normal range: the fp32 mantissa rounded to M bits as above, low bits
/// cleared; subnormal range: round(a / q) * q with q = 2^(1-B-M). Magnitudes compare as integers (for
/// non-negative floats the bit patterns order like the values).
template <int M, int B>
inline float minifloat_round(float v, float max) {
  const std::uint32_t vb = float_bits(v);
  const std::uint32_t sign = vb & 0x80000000u;
  const std::uint32_t ab = vb & 0x7FFFFFFFu;
  constexpr int shift = 23 - M;
  std::uint32_t u = ab + ((1u << (shift - 1)) - 1u) + ((ab >> shift) & 1u);
  u &= ~((1u << shift) - 1u);
  const float a = bits_float(ab);
  const float sub = round_half_even(a * pow2f(M - (1 - B))) * pow2f((1 - B) - M);
  const std::uint32_t is_sub = 0u - std::uint32_t(ab < float_bits(pow2f(1 - B)));
  std::uint32_t r = select_bits(is_sub, float_bits(sub), u);
  const std::uint32_t over = 0u - std::uint32_t(r > float_bits(max));
  r = select_bits(over, float_bits(max), r);
  return bits_float(r | sign);
}

/// decode(encode(v)) of the symmetric integer grid: round-half-even(clamp(v, -qmax, qmax)).
inline float int_round(float v, float qmax) {
  const std::uint32_t vb = float_bits(v);
  const std::uint32_t sign = vb & 0x80000000u;
  const std::uint32_t ab = vb & 0x7FFFFFFFu;
  const std::uint32_t over = 0u - std::uint32_t(ab > float_bits(qmax));
  const float a = bits_float(select_bits(over, float_bits(qmax), ab));
  return bits_float(float_bits(round_half_even(a)) | sign);
}

}  // namespace roofline::detail
