#include <doctest/doctest.h>

#include "relative_approx.hpp"

#include <cmath>
#include <limits>
#include <random>

#include "../prefill_cost.hpp"
#include "../prefill_quant.hpp"
#include "../prefill_reference.hpp"
#include "roofline/precision.hpp"

using namespace roofline;
using namespace roofline::validate;
using namespace roofline::validate::prefill;

namespace {

std::vector<float> gaussian(std::size_t n, std::uint64_t seed, float sigma = 1.0f) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, sigma);
  std::vector<float> x(n);
  for (float& v : x) v = round_to_fp16(normal(rng));
  return x;
}

}  // namespace

TEST_CASE("asymmetric int8 parameters, worked by hand") {
  // lo = -1, hi = 3: scale = 4/255 = 0.0156862745; zero = rint(-128 + 1/scale) = rint(-128 + 63.75) = -64.
  const AsymInt8Params p = choose_asym_int8(-1.0f, 3.0f);
  CHECK(p.scale == 4.0f / 255.0f);
  CHECK(p.zero == -64);
  CHECK(quantize_asym_int8(-1.0f, p) == -128);  // rint(-63.75) - 64 = -64 - 64
  CHECK(quantize_asym_int8(3.0f, p) == 127);    // rint(191.25) - 64 = 127
  CHECK(quantize_asym_int8(0.0f, p) == -64);    // zero is exactly representable
  CHECK(quantize_asym_int8(100.0f, p) == 127);  // clamped
  // A positive-only tensor is widened to contain 0: lo = 0, hi = 2.55 → scale 0.01, zero -128.
  const AsymInt8Params q = choose_asym_int8(0.5f, 2.55f);
  CHECK(q.zero == -128);
  CHECK(q.scale == ROOFLINE_APPROX(0.01f));
  // An all-zero tensor gets scale 1, not a division by zero.
  CHECK(choose_asym_int8(0.0f, 0.0f).scale == 1.0f);
}

TEST_CASE("symmetric int8 rounds half to even and clamps") {
  // amax 2.54 → scale 0.02; 1.0/0.02 = 50; 0.01/0.02 = 0.5 → 0 (ties to even); 0.03/0.02 = 1.5 → 2.
  const float scale = symmetric_int8_scale(2.54f);
  CHECK(scale == 2.54f / 127.0f);
  CHECK(quantize_symmetric_int8(1.0f, scale) == 50);
  CHECK(quantize_symmetric_int8(-2.54f, scale) == -127);
  CHECK(quantize_symmetric_int8(1000.0f, scale) == 127);
  CHECK(quantize_symmetric_int8(0.0f, 1.0f) == 0);
  CHECK(quantize_symmetric_int8(0.5f, 1.0f) == 0);
  CHECK(quantize_symmetric_int8(1.5f, 1.0f) == 2);
  CHECK(quantize_symmetric_int8(-2.5f, 1.0f) == -2);
  CHECK(symmetric_int8_scale(0.0f) == 1.0f);
}

TEST_CASE("exp2_repro is exact at integers, accurate elsewhere and zero below -30") {
  CHECK(exp2_repro(0.0f) == 1.0f);
  CHECK(exp2_repro(-1.0f) == 0.5f);
  CHECK(exp2_repro(-30.0f) == std::ldexp(1.0f, -30));
  CHECK(exp2_repro(-30.5f) == 0.0f);
  CHECK(exp2_repro(-std::numeric_limits<float>::infinity()) == 0.0f);
  double worst = 0;
  for (int i = 0; i <= 300000; ++i) {
    const float x = -30.0f * float(i) / 300000.0f;
    const double exact = std::exp2(double(x));
    worst = std::max(worst, std::fabs(exp2_repro(x) - exact) / exact);
  }
  CHECK(worst < 3e-7);
  // P of sage_int8_fp8 never exceeds 448 = the largest e4m3 value (0x7E), so .satfinite never clamps it.
  CHECK(encode_fp8_e4m3(mul_rn(exp2_repro(0.0f), p_fp8_scale)) == 0x7E);
}

TEST_CASE("the transposed-V key permutation matches the mma accumulator layout") {
  // Thread c of a quad holds keys 2c, 2c+1 of each 8-key block; it needs keys 2c, 2c+1, 8+2c, 9+2c
  // adjacent: positions 0..15 hold keys 0 1 8 9 2 3 10 11 4 5 12 13 6 7 14 15.
  const int expected[16] = {0, 1, 8, 9, 2, 3, 10, 11, 4, 5, 12, 13, 6, 7, 14, 15};
  for (int p = 0; p < 16; ++p) CHECK(vt_key_at_position(p) == expected[p]);
  for (int p = 0; p < 256; ++p) {
    CHECK(vt_key_at_position(p) / 16 == p / 16);
    CHECK(vt_position_of_key(vt_key_at_position(p)) == p);
  }
}

TEST_CASE("pack_vt transposes, permutes and pads; unpack_vt inverts it") {
  const AttentionShape s{.batch = 2, .q_heads = 4, .kv_heads = 2, .q_len = 3, .kv_len = 70, .head_dim = 64};
  std::vector<std::uint8_t> v(std::size_t(s.batch) * s.kv_len * s.kv_heads * s.head_dim);
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = std::uint8_t((i * 37 + 11) % 251);
  const std::vector<std::uint8_t> vt = pack_vt(s, v, 0xAB);
  CHECK(vt.size() == std::size_t(2) * 2 * 64 * 128);  // Skv 70 padded to 128
  // Element (b=1, key=9, h=1, d=5) sits in row (1·2 + 1)·64 + 5 = 197 at position 3 (key 9 = 8 + 2·0 + 1).
  CHECK(vt[197 * 128 + 3] == v[((1 * 70 + 9) * 2 + 1) * 64 + 5]);
  // Positions holding keys >= 70 are padding.
  for (int p = 0; p < 128; ++p)
    if (vt_key_at_position(p) >= 70) CHECK(vt[197 * 128 + p] == 0xAB);
  CHECK(unpack_vt(s, vt) == v);
}

TEST_CASE("per-tensor int8 codes dequantise within half a step and row sums are exact") {
  const std::vector<float> x = gaussian(64 * 10, 3, 2.0f);
  const PerTensorInt8 q = quantize_per_tensor_int8(x, 64);
  const std::vector<float> deq = dequantize(q);
  for (std::size_t i = 0; i < x.size(); ++i) CHECK(std::fabs(deq[i] - x[i]) <= 0.5f * q.params.scale * 1.0001f);
  for (int r = 0; r < 10; ++r) {
    int sum = 0;
    for (int d = 0; d < 64; ++d) sum += q.codes[r * 64 + d];
    CHECK(q.row_sums[r] == sum);
  }
}

TEST_CASE("sage K smoothing: the mean is removed and the codes use the block scales") {
  const AttentionShape s{.batch = 1, .q_heads = 2, .kv_heads = 1, .q_len = 40, .kv_len = 130, .head_dim = 64};
  std::vector<float> k = gaussian(std::size_t(s.kv_len) * s.head_dim, 5);
  for (int t = 0; t < s.kv_len; ++t) k[t * 64 + 7] = round_to_fp16(k[t * 64 + 7] + 20.0f);  // outlier channel
  const SageK q = sage_quantize_k(s, k);
  CHECK(q.mean.size() == 64);
  CHECK(q.mean[7] == ROOFLINE_APPROX(20.0).epsilon(0.02));
  CHECK(q.scales.size() == 3);  // ceil(130 / 64)
  const std::vector<float> smoothed = dequantize_sage_k(s, q, false);
  for (int t = 0; t < s.kv_len; ++t)
    for (int d = 0; d < 64; ++d) {
      const float want = k[t * 64 + d] - q.mean[d];
      CHECK(std::fabs(smoothed[t * 64 + d] - want) <= 0.5f * q.scales[t / 64] * 1.0001f);
    }
}

TEST_CASE("fp8 V: per-channel scales put each channel's amax at 448") {
  const AttentionShape s{.batch = 1, .q_heads = 1, .kv_heads = 1, .q_len = 1, .kv_len = 20, .head_dim = 64};
  const std::vector<float> v = gaussian(20 * 64, 9);
  const Fp8V q = sage_quantize_v_fp8(s, v);
  const std::vector<float> deq = dequantize_fp8_v(s, q);
  for (int d = 0; d < 64; ++d) {
    float amax = 0;
    for (int t = 0; t < 20; ++t) amax = std::max(amax, std::fabs(v[t * 64 + d]));
    CHECK(q.scales[d] == amax / 448.0f);
    for (int t = 0; t < 20; ++t) CHECK(std::fabs(deq[t * 64 + d] - v[t * 64 + d]) <= std::fabs(v[t * 64 + d]) / 16 + 1e-6f);
  }
}

TEST_CASE("rope: position 0 is the identity and scores depend only on the distance") {
  const RopeTable table = make_rope_table(64, 64);
  const std::vector<float> x = gaussian(64, 1), y = gaussian(64, 2);
  CHECK(apply_rope(x, 1, 1, 1, 64, 0, table) == x);
  auto dot_at = [&](int px, int py) {
    const auto a = apply_rope(x, 1, 1, 1, 64, px, table), b = apply_rope(y, 1, 1, 1, 64, py, table);
    double d = 0;
    for (int i = 0; i < 64; ++i) d += double(a[i]) * b[i];
    return d;
  };
  CHECK(dot_at(10, 3) == ROOFLINE_APPROX(dot_at(40, 33)).epsilon(1e-5));
  CHECK(dot_at(10, 3) != ROOFLINE_APPROX(dot_at(10, 4)).epsilon(1e-3));
}

TEST_CASE("int8 per-tensor reference equals fp64 attention on the dequantised tensors") {
  const AttentionShape s{.batch = 1, .q_heads = 4, .kv_heads = 2, .q_len = 37, .kv_len = 90, .head_dim = 64};
  const auto q = quantize_per_tensor_int8(gaussian(std::size_t(37) * 4 * 64, 11), 64);
  const auto k = quantize_per_tensor_int8(gaussian(std::size_t(90) * 2 * 64, 12), 64);
  const auto v = quantize_per_tensor_int8(gaussian(std::size_t(90) * 2 * 64, 13), 64);
  for (bool causal : {false, true}) {
    const auto ref = reference_int8_per_tensor(s, q, k, v, causal, 0.125f);
    const auto direct = reference_attention(s, dequantize(q), dequantize(k), dequantize(v), causal, 0.125f);
    const ErrorStats e = compare(ref, direct);
    CHECK(e.max_abs < 1e-5);
    CHECK(e.non_finite == 0);
  }
}

TEST_CASE("sage fp16 reference: smoothing K leaves the attention unchanged") {
  const AttentionShape s{.batch = 2, .q_heads = 4, .kv_heads = 1, .q_len = 50, .kv_len = 150, .head_dim = 128};
  const std::vector<float> qf = gaussian(std::size_t(2) * 50 * 4 * 128, 21);
  std::vector<float> kf = gaussian(std::size_t(2) * 150 * 128, 22);
  for (float& x : kf) x = round_to_fp16(x + 3.0f);  // a large common offset that smoothing removes
  const std::vector<float> vf = gaussian(kf.size(), 23);
  const SageQ q = sage_quantize_q(s, qf);
  const SageK k = sage_quantize_k(s, kf);
  const float scale = 1.0f / std::sqrt(128.0f);
  for (bool causal : {false, true}) {
    const auto ref = reference_sage_fp16(s, q, k, vf, causal, mul_rn(scale, log2_e));
    // Adding the mean back shifts every score of a row by q·mean: softmax does not change.
    const auto with_mean = reference_attention(s, dequantize_sage_q(s, q), dequantize_sage_k(s, k, true), vf, causal, scale);
    const auto without = reference_attention(s, dequantize_sage_q(s, q), dequantize_sage_k(s, k, false), vf, causal, scale);
    CHECK(compare(ref, with_mean).max_abs < 2e-5);
    CHECK(compare(ref, without).max_abs < 2e-5);
    // And the quantised pipeline stays close to full precision (kernels.md gate: cos >= 0.99).
    const auto exact = reference_attention(s, qf, kf, vf, causal, scale);
    CHECK(compare(ref, exact).cosine > 0.999);
  }
}

TEST_CASE("sage fp8 reference: one tile equals the direct formula; many tiles stay accurate") {
  const AttentionShape s{.batch = 1, .q_heads = 2, .kv_heads = 1, .q_len = 8, .kv_len = 60, .head_dim = 64};
  const std::vector<float> qf = gaussian(std::size_t(8) * 2 * 64, 31), kf = gaussian(std::size_t(60) * 64, 32),
                           vf = gaussian(std::size_t(60) * 64, 33);
  const SageQ q = sage_quantize_q(s, qf);
  const SageK k = sage_quantize_k(s, kf);
  const Fp8V v = sage_quantize_v_fp8(s, vf);
  const float sl2 = mul_rn(0.125f, log2_e);
  const auto ref = reference_sage_fp8(s, q, k, v, false, sl2);
  const auto vdq = dequantize_fp8_v(s, v);
  // Direct: with a single 64-key tile the running maximum is the row maximum.
  for (int h = 0; h < 2; ++h)
    for (int t = 0; t < 8; ++t) {
      std::vector<float> sc(60);
      float mx = -INFINITY;
      for (int j = 0; j < 60; ++j) {
        int acc = 0;
        for (int d = 0; d < 64; ++d) acc += q.codes[(t * 2 + h) * 64 + d] * k.codes[j * 64 + d];
        sc[j] = mul_rn(float(acc), sage_score_factor(q.scales[h * 1 + 0], sl2, k.scales[0]));
        mx = std::max(mx, sc[j]);
      }
      double l = 0, o0 = 0;
      for (int j = 0; j < 60; ++j) {
        const float p = exp2_repro(sc[j] - mx);
        l += p;
        o0 += decode_fp8_e4m3(encode_fp8_e4m3(p * 448.0f)) * vdq[j * 64 + 0];
      }
      CHECK(ref[(t * 2 + h) * 64 + 0] == ROOFLINE_APPROX(o0 / (448.0 * l)).epsilon(1e-5));
    }
  // Many tiles, causal and not: close to full precision.
  const AttentionShape big{.batch = 1, .q_heads = 4, .kv_heads = 2, .q_len = 100, .kv_len = 300, .head_dim = 64};
  const std::vector<float> qb = gaussian(std::size_t(100) * 4 * 64, 41), kb = gaussian(std::size_t(300) * 2 * 64, 42),
                           vb = gaussian(std::size_t(300) * 2 * 64, 43);
  for (bool causal : {false, true}) {
    const auto r = reference_sage_fp8(big, sage_quantize_q(big, qb), sage_quantize_k(big, kb), sage_quantize_v_fp8(big, vb),
                                      causal, sl2);
    const auto exact = reference_attention(big, qb, kb, vb, causal, 0.125f);
    const ErrorStats e = compare(r, exact);
    CHECK(e.non_finite == 0);
    CHECK(e.cosine > 0.995);
    CHECK(e.relative_l1 < 0.05);
  }
}
