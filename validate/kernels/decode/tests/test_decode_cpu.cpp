// CPU tests of the decode family's host code: packing, quantisers, fragment channel maps and bit tricks,
// threshold / keep-mask / stage-1 / stage-2 references, end-to-end accuracy of the quantised pipelines
// against fp32 attention, cost formulas and argument checks.
#include <doctest/doctest.h>

#include "relative_approx.hpp"

#include <cmath>
#include <limits>
#include <random>
#include <set>

#include "attention_data.hpp"
#include "decode_args.hpp"
#include "decode_cost.hpp"
#include "decode_reference.hpp"
#include "fragment_layout.hpp"
#include "roofline/errors.hpp"
#include "roofline/precision.hpp"

using namespace roofline;
using namespace roofline::validate;
using namespace roofline::validate::decode;

TEST_CASE("2-bit packing puts code j in bits 2j..2j+1") {
  CHECK(pack_2bit(1, 2, 3, 0) == 57);  // 1 + 2·4 + 3·16 = 57
  CHECK(pack_2bit(3, 3, 3, 3) == 255);
  for (int j = 0; j < 4; ++j) CHECK(unpack_2bit(57, j) == (j == 0 ? 1 : j == 1 ? 2 : j == 2 ? 3 : 0));
}

TEST_CASE("the 2-bit quantiser follows the seed's formulas") {
  // One channel over T = 4 tokens: k = -1, 0, 0.5, 2 -> min -1, max 2, scale (2 - -1)/3 = 1, zero -1.
  // (k - zero)/scale = 0, 1, 1.5, 3 -> RNE codes 0, 1, 2, 3; deq = code·1 - 1 = -1, 0, 1, 2;
  // residual = 0, 0, -0.5, 0 (exact in e5m2).
  AttentionShape s{.batch = 1, .q_heads = 1, .kv_heads = 1, .q_len = 1, .kv_len = 4, .head_dim = 16};
  std::vector<float> k(4 * 16, 0.0f);
  const float ch5[4] = {-1, 0, 0.5f, 2};
  for (int t = 0; t < 4; ++t) k[t * 16 + 5] = ch5[t];
  const Q2Cache c = quantize_q2(s, k, 0);
  CHECK(c.scale[5] == 1.0f);
  CHECK(c.zero[5] == -1.0f);
  for (int t = 0; t < 4; ++t) CHECK(unpack_2bit(c.codes[t * 4 + 1], 1) == t);  // channel 5 = byte 1, code 1
  CHECK(decode_fp8_e5m2(c.residual[2 * 16 + 5]) == -0.5f);
  // A constant channel: scale clamps to 1e-6/3, zero = the value, all codes 0, residual 0.
  CHECK(c.scale[0] == ROOFLINE_APPROX(1e-6 / 3));
  CHECK(unpack_2bit(c.codes[0], 0) == 0);
  // Ties round to even: values 0, 0.5, 2.5, 3 with min 0, max 3 -> scale 1 -> codes 0, 0, 2, 3.
  const float ch9[4] = {0, 0.5f, 2.5f, 3};
  for (int t = 0; t < 4; ++t) k[t * 16 + 9] = ch9[t];
  const Q2Cache c2 = quantize_q2(s, k, 0);
  const int want[4] = {0, 0, 2, 3};
  for (int t = 0; t < 4; ++t) CHECK(unpack_2bit(c2.codes[t * 4 + 2], 1) == want[t]);
}

TEST_CASE("block-wise scales use each block's own range") {
  AttentionShape s{.batch = 1, .q_heads = 2, .kv_heads = 1, .q_len = 1, .kv_len = 40, .head_dim = 16};
  std::vector<float> k(40 * 16);
  for (int t = 0; t < 40; ++t)
    for (int d = 0; d < 16; ++d) k[t * 16 + d] = t < 32 ? float(t % 4) : 100.0f + 3.0f * float(t % 2);
  const Q2Cache c = quantize_q2(s, k, 32);
  REQUIRE(c.scale_blocks() == 2);
  CHECK(c.scale[0] == 1.0f);         // block 0: range 0..3
  CHECK(c.zero[16] == 100.0f);       // block 1 (tokens 32..39): range 100..103
  CHECK(c.scale[16] == 1.0f);
  const auto deq = dequantize(c, false);
  for (int t = 0; t < 40; ++t) CHECK(deq[t * 16] == k[t * 16]);  // exact: codes hit the values
}

TEST_CASE("the quantised keys reconstruct the input within the residual's precision") {
  AttentionShape s{.batch = 2, .q_heads = 4, .kv_heads = 2, .q_len = 1, .kv_len = 300, .head_dim = 64};
  AttentionDataOptions o;
  o.seed = 11;
  const auto d = make_attention_data(s, o);
  for (int block : {0, 64}) {
    const Q2Cache c = quantize_q2(s, d.k, block);
    const auto rec = dequantize(c, true), base = dequantize(c, false);
    double worst = 0, err_base = 0;
    for (std::size_t i = 0; i < rec.size(); ++i) {
      // e5m2 keeps 2 mantissa bits: |residual error| <= 2^-3·|k - deq| (normal range) or half the
      // smallest subnormal 2^-17 (tiny residuals), plus fp32 rounding of the sums.
      const double bound = 0.125 * std::fabs(double(base[i]) - d.k[i]) + std::ldexp(1.0, -17) + 1e-6 * std::fabs(d.k[i]);
      worst = std::max(worst, std::fabs(double(rec[i]) - d.k[i]) / bound);
      err_base += std::fabs(base[i] - d.k[i]);
    }
    CHECK(worst <= 1.0);
    CHECK(err_base > 0);
  }
  const Fp8Cache f = quantize_fp8fp8(s, d.k);
  const auto rf = dequantize(f, true);
  // base error <= 2^-3·|k|, residual error <= 2^-3 of that (+ subnormal half-step 2^-17): 2^-6·|k| + 2^-17.
  int bad = 0;
  for (std::size_t i = 0; i < rf.size(); ++i)
    bad += std::fabs(double(rf[i]) - d.k[i]) > std::fabs(double(d.k[i])) * 0.015625 * 1.0001 + std::ldexp(1.0, -17);
  CHECK(bad == 0);
}

TEST_CASE("e5m2 quantisers clamp before the cast: no inf from large keys") {
  AttentionShape s{.batch = 1, .q_heads = 1, .kv_heads = 1, .q_len = 1, .kv_len = 1, .head_dim = 16};
  std::vector<float> k(16, 1e5f);
  const Fp8Cache f = quantize_fp8fp8(s, k);
  CHECK(decode_fp8_e5m2(f.base[0]) == 57344.0f);      // saturated
  CHECK(decode_fp8_e5m2(f.residual[0]) == 40960.0f);  // 1e5 - 57344 = 42656 -> 40960 (grid 8192 at 2^15)
}

TEST_CASE("fragment channel maps are bijections for every head_dim and element width") {
  for (int D : {64, 128}) {
    std::set<int> seen2, seen1, seen2b;
    for (int t = 0; t < 4; ++t)
      for (int s = 0; s < D / 16; ++s)
        for (int slot = 0; slot < 4; ++slot) {
          seen2.insert(channel_2bit(D, t, s, slot));
          seen1.insert(channel_bytes(D, 1, t, s, slot));
          seen2b.insert(channel_bytes(D, 2, t, s, slot));
        }
    CHECK(seen2.size() == std::size_t(D));
    CHECK(seen1.size() == std::size_t(D));
    CHECK(seen2b.size() == std::size_t(D));
    CHECK(*seen2.rbegin() == D - 1);
    CHECK(*seen1.rbegin() == D - 1);
    // Slots (0,1) and (2,3) of byte maps are adjacent channels: one 16-bit pair / one 32-bit word each.
    CHECK(channel_bytes(D, 1, 1, 0, 1) == channel_bytes(D, 1, 1, 0, 0) + 1);
    CHECK(channel_bytes(D, 2, 3, 1, 2) == channel_bytes(D, 2, 3, 1, 0) + 2);
  }
}

TEST_CASE("the 2-bit pair extraction decodes the channels the map assigns") {
  std::mt19937 rng(5);
  for (int D : {64, 128}) {
    std::vector<std::uint8_t> row(D / 4);
    for (auto& b : row) b = std::uint8_t(rng());
    for (int t = 0; t < 4; ++t)
      for (int s = 0; s < D / 16; ++s) {
        const int byte0 = t * (D / 16) + 4 * (s / 4);
        const std::uint32_t w = std::uint32_t(row[byte0]) | (std::uint32_t(row[byte0 + 1]) << 8) |
                                (std::uint32_t(row[byte0 + 2]) << 16) | (std::uint32_t(row[byte0 + 3]) << 24);
        for (int slot = 0; slot < 4; ++slot) {
          int lo = 0, hi = 0;
          decode_pair_2bit(w, 2 * (s % 4) + (slot >> 1), &lo, &hi);
          const int c = channel_2bit(D, t, s, slot);
          CHECK((slot & 1 ? hi : lo) == unpack_2bit(row[c / 4], c % 4));
        }
      }
  }
}

TEST_CASE("the fp16 magic-number decode of 2-bit codes is exact") {
  // Bits (c << 2e) | 0x6400 are the fp16 value 1024 + c·4^e for e <= 4 (mantissa bits 0..9);
  // fma(v, 4^-e, -1024·4^-e) = c exactly (one rounding of an exactly representable result).
  for (int e = 0; e <= 4; ++e)
    for (int c = 0; c < 4; ++c) {
      const float v = fp16_from_bits(std::uint16_t(0x6400 | (c << (2 * e))));
      CHECK(v == 1024.0f + float(c) * std::pow(4.0f, float(e)));
      const float s = std::pow(4.0f, -float(e));
      CHECK(round_to_fp16(std::fmaf(v, s, -1024.0f * s)) == float(c));
      CHECK(round_to_fp16(s) == s);
      CHECK(round_to_fp16(-1024.0f * s) == -1024.0f * s);
    }
  // e5m2 is the high byte of fp16: byte << 8 is the same value (the device may convert either way).
  for (int b = 0; b < 256; ++b) {
    const float x = decode_fp8_e5m2(std::uint8_t(b));
    if (std::isnan(x)) continue;
    CHECK(fp16_from_bits(std::uint16_t(b << 8)) == x);
  }
}

TEST_CASE("an emulated m16n8k16 over the fragment maps computes every score") {
  // Build A (keys, 16 tokens) and B (queries, G heads) register contents lane by lane with the maps and
  // sum A·B over lanes and k-steps like the tensor core does; compare with direct dot products.
  const int D = 128, G = 4;
  std::mt19937 rng(9);
  std::uniform_real_distribution<float> u(-1, 1);
  std::vector<float> key(16 * D), q(8 * D, 0.0f);
  for (auto& x : key) x = u(rng);
  for (int h = 0; h < G; ++h)
    for (int d = 0; d < D; ++d) q[h * D + d] = u(rng);
  for (int elem : {1, 2}) {
    double c[16][8] = {};
    // Collect, per k-step and k index, which channel it carries (from any lane with that t) and do the
    // contraction C[r][n] = Σ_k A[r][k] B[k][n].
    for (int s = 0; s < D / 16; ++s)
      for (int kidx = 0; kidx < 16; ++kidx) {
        const int t = (kidx % 8) / 2, slot = (kidx >= 8 ? 2 : 0) + (kidx % 2);
        const int ch = channel_bytes(D, elem, t, s, slot);
        for (int r = 0; r < 16; ++r)
          for (int n = 0; n < 8; ++n) c[r][n] += double(key[r * D + ch]) * q[n * D + ch];
      }
    for (int r = 0; r < 16; ++r)
      for (int n = 0; n < G; ++n) {
        double want = 0;
        for (int d = 0; d < D; ++d) want += double(key[r * D + d]) * q[n * D + d];
        CHECK(c[r][n] == ROOFLINE_APPROX(want).epsilon(1e-9));
      }
  }
}

TEST_CASE("threshold, keep rule and the at-least-one-kept guarantee") {
  // B=1, HQ=2, HKV=1 (one group of 2 heads), T=64, sbs=bs=16: 4 sub-blocks. Base scores by hand:
  // head 0: 10 in block 0, 0 elsewhere; head 1: 0 everywhere except 7 at token 40 (sub-block 2).
  AttentionShape s{.batch = 1, .q_heads = 2, .kv_heads = 1, .q_len = 1, .kv_len = 64, .head_dim = 16};
  ScoreParts sc;
  sc.base.assign(2 * 64, 0.0);
  sc.refine.assign(2 * 64, 0.0);
  for (int t = 0; t < 16; ++t) sc.base[t] = 10;
  sc.base[64 + 40] = 7;
  std::vector<float> v(64 * 16);
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = float(i % 7) - 3;
  PrunedParams p;
  p.bs = p.sbs = 16;
  p.delta = 5;
  const auto r = reference_pruned_decode(s, sc, v, p);
  // head 0: th = max(first 10, last 0) - 5 = 5 -> keeps sub-block 0 only;
  // head 1: th = max(0, 0) - 5 = -5 -> every sub-block is >= -5 -> all kept (any head keeps).
  CHECK(r.threshold[0] == 5.0f);
  CHECK(r.threshold[1] == -5.0f);
  CHECK(r.keep == std::vector<std::uint8_t>{1, 1, 1, 1});
  // Raise head 1's scores in block 0 so that its threshold is 15 - 5 = 10: then sub-blocks 1 and 3 are
  // below for both heads and are skipped; sub-block 2 stays (head 1 at 7? no: 7 < 10) -> skipped too.
  for (int t = 0; t < 16; ++t) sc.base[64 + t] = 15;
  const auto r2 = reference_pruned_decode(s, sc, v, p);
  CHECK(r2.keep == std::vector<std::uint8_t>{1, 0, 0, 0});
  CHECK(r2.skip_ratio == ROOFLINE_APPROX(0.75));
  CHECK(r2.margin[1] == ROOFLINE_APPROX(-5.0));  // best head: head 0 at 0 vs th 5
  // A precomputed threshold far above everything is capped at max(first, last): block 0 still kept.
  p.threshold = {1e30f, 1e30f};
  const auto r3 = reference_pruned_decode(s, sc, v, p);
  CHECK(r3.keep[0] == 1);
  for (float x : r3.out) CHECK(std::isfinite(x));
  // Pruning off keeps everything whatever the scores.
  p.threshold.clear();
  p.prune = false;
  CHECK(reference_pruned_decode(s, sc, v, p).skip_ratio == 0.0);
}

TEST_CASE("stage 1 partials merged by stage 2 equal the direct softmax, empty splits included") {
  std::mt19937 rng(1);
  std::normal_distribution<double> n(0, 3);
  const int T = 37, D = 8;
  std::vector<double> s(T);
  std::vector<float> v(T * D);
  for (auto& x : s) x = n(rng);
  for (auto& x : v) x = float(n(rng));
  for (int t = 10; t < 30; ++t) s[t] = -std::numeric_limits<double>::infinity();  // pruned tokens
  double m = -1e300, l = 0;
  for (double x : s) m = std::max(m, x);
  std::vector<double> want(D, 0.0);
  for (int t = 0; t < T; ++t) {
    if (std::isinf(s[t])) continue;
    const double w = std::exp2(s[t] - m);
    l += w;
    for (int d = 0; d < D; ++d) want[d] += w * v[t * D + d];
  }
  for (int splits : {1, 2, 5, 37, 50}) {
    const auto parts = stage1_partials(s, v, D, splits);
    const auto got = stage2_merge(parts, D);
    for (int d = 0; d < D; ++d) CHECK(got[d] == ROOFLINE_APPROX(want[d] / l).epsilon(1e-12));
  }
  // splits = 5: split 2 covers tokens 16..23, all pruned -> m = -inf, l = 0.
  const auto parts = stage1_partials(s, v, D, 5);
  CHECK(std::isinf(parts[2].m));
  CHECK(parts[2].l == 0);
  // All splits empty: zeros, never NaN.
  std::vector<double> none(T, -std::numeric_limits<double>::infinity());
  for (double x : stage2_merge(stage1_partials(none, v, D, 4), D)) CHECK(x == 0.0);
}

namespace {
std::vector<float> to_fp16_values(std::vector<float> x) {
  for (auto& e : x) e = round_to_fp16(e);
  return x;
}
}  // namespace

TEST_CASE("quantised pipelines meet the accuracy gates against fp32 attention (CPU)") {
  AttentionShape s{.batch = 1, .q_heads = 8, .kv_heads = 2, .q_len = 1, .kv_len = 2048, .head_dim = 128};
  for (bool realistic : {true, false}) {
    AttentionDataOptions o;
    o.realistic = realistic;
    o.seed = 21;
    const auto d = make_attention_data(s, o);
    const auto q16 = to_fp16_values(d.q), v16 = to_fp16_values(d.v);
    const float sc = 1.0f / std::sqrt(128.0f);
    const auto ref = reference_attention(s, d.q, d.k, d.v, false, sc);
    PrunedParams p;
    p.bs = p.sbs = 64;
    p.delta = 5;
    const Q2Cache c2 = quantize_q2(s, d.k, 0);
    const auto ra = reference_pruned_decode(s, reference_scores(q16, c2, sc), v16, p);
    const ErrorStats ea = compare(ra.out, ref, 128);
    MESSAGE("Q2FP8 realistic=" << realistic << " cos " << ea.cosine << " min row " << ea.min_row_cosine
                               << " skip " << ra.skip_ratio);
    CHECK(ea.cosine >= 0.99);
    const Fp8Cache c8 = quantize_fp8fp8(s, d.k);
    const auto rb = reference_pruned_decode(s, reference_scores(q16, c8, sc), v16, p);
    const ErrorStats eb = compare(rb.out, ref, 128);
    MESSAGE("FP8FP8 realistic=" << realistic << " cos " << eb.cosine << " skip " << rb.skip_ratio);
    CHECK(eb.cosine >= 0.999);
    if (realistic) CHECK(ra.skip_ratio > 0.5);  // sink, window and needles dominate: most sub-blocks go
    else CHECK(ra.skip_ratio < 0.1);            // Gaussian scores: nothing is 2^-5 below the max
    // At least one sub-block per (b, kv head) is kept.
    for (int h = 0; h < 2; ++h) {
      int kept = 0;
      for (int j = 0; j < 32; ++j) kept += ra.keep[h * 32 + j];
      CHECK(kept >= 1);
    }
  }
}

TEST_CASE("cost formulas match hand-computed bytes and FLOPs") {
  DecodeCostInput in;  // B=1, HQ=32, HKV=8, T=4096, D=128
  in.splits = 1;
  // Dense bf16: K+V = 4096·8·(256+256) = 16,777,216 B; q 32·128·2 = 8192 B read, out 8192 B written.
  const auto dense = dense_decode_cost(in);
  CHECK(dense.stage1.bytes_read == 16777216.0 + 8192.0);
  CHECK(dense.stage1.bytes_written == 8192.0);
  CHECK(dense.flops() == 4.0 * 32 * 4096 * 128);
  // Q2FP8 pruning off: per token per kv head 32 (2-bit) + 128 (residual) + 256 (V) = 416 B vs 512;
  // plus scale/zero 8·128·8 B, q 8192 B.
  in.prune = false;
  in.skip_fraction = 0;
  const auto q2 = q2fp8_decode_cost(in);
  CHECK(q2.stage1.bytes_read == 4096.0 * 8 * 416 + 8 * 128 * 8 + 8192);
  // Q2FP8 at skip 0.9: 32 + 0.1·384 = 70.4 B per token-head; mask 8·64 sub-blocks written.
  in.prune = true;
  in.skip_fraction = 0.9;
  const auto q2p = q2fp8_decode_cost(in);
  CHECK(q2p.stage1.bytes_read == ROOFLINE_APPROX(4096.0 * 8 * 70.4 + 8 * 128 * 8 + 8192));
  CHECK(q2p.stage1.bytes_written == 8 * 64 + 8192);
  CHECK(q2p.flops() == ROOFLINE_APPROX(2.0 * 32 * 4096 * 128 * (1 + 0.1 + 0.1)));
  // FP8FP8 pruning off reads as much as bf16 K+V: 128 + 128 + 256 = 512 B.
  in.prune = false;
  CHECK(fp8fp8_decode_cost(in).stage1.bytes_read == 4096.0 * 8 * 512 + 8192);
  // Splits: partials 32 heads · 4 splits · 130 · 4 B = 66,560 B written by stage 1, read by stage 2.
  in.splits = 4;
  const auto sp = dense_decode_cost(in);
  CHECK(sp.partial_bytes == 66560.0);
  CHECK(sp.stage2.bytes_read == 66560.0);
  CHECK(sp.stage2.bytes_written == 8192.0);
  CHECK_THROWS_AS(dense_decode_cost(DecodeCostInput{.batch = 0}), InvalidArgumentError);
  // Producer: 2 passes of 2·T·hidden·HKV·D = 2·2·4096·4096·1024 FLOPs.
  CHECK(producer_cost({}).flops == 2.0 * 2 * 4096.0 * 4096 * 1024);
}

TEST_CASE("argument checks name the tensor and the expectation") {
  int dummy = 0;
  const int B = 2, T = 100, HQ = 32, HKV = 8, D = 128;
  TensorView q{&dummy, DType::fp16, {B, 1, HQ, D}}, kq{&dummy, DType::u8, {B, T, HKV, D / 4}},
      sc{&dummy, DType::fp32, {B, HKV, D}}, zr{&dummy, DType::fp32, {B, HKV, D}},
      res{&dummy, DType::fp8_e5m2, {B, T, HKV, D}}, v{&dummy, DType::fp16, {B, T, HKV, D}}, th{},
      out{&dummy, DType::fp16, {B, HQ, D}};
  PrunedConfig cfg;
  const auto l = check_q2fp8_args(q, kq, sc, zr, res, v, th, out, cfg);
  CHECK(l.group == 4);
  CHECK(l.sub_blocks == 2);  // ceil(100 / 64)
  CHECK(l.log2e_scale == ROOFLINE_APPROX(1.4426950408889634 / std::sqrt(128.0)));
  TensorView bad = v;
  bad.dtype = DType::bf16;
  CHECK_THROWS_WITH_AS(check_q2fp8_args(q, kq, sc, zr, res, bad, th, out, cfg),
                       "q2fp8_decode: v: expected dtype fp16, got bf16", InvalidArgumentError);
  bad = kq;
  bad.shape = {B, T, HKV, D};
  CHECK_THROWS_WITH_AS(check_q2fp8_args(q, bad, sc, zr, res, v, th, out, cfg),
                       "q2fp8_decode: k_q: expected shape [2, 100, 8, 32], got [2, 100, 8, 128]", InvalidArgumentError);
  PrunedConfig c2 = cfg;
  c2.bs = 96;
  CHECK_THROWS_WITH_AS(check_q2fp8_args(q, kq, sc, zr, res, v, th, out, c2),
                       "q2fp8_decode: BS must be a positive multiple of SBS (64), got 96", InvalidArgumentError);
  c2 = cfg;
  c2.delta = -1;
  CHECK_THROWS_AS(check_q2fp8_args(q, kq, sc, zr, res, v, th, out, c2), InvalidArgumentError);
  TensorView nores{};
  CHECK_THROWS_WITH_AS(check_q2fp8_args(q, kq, sc, zr, nores, v, th, out, cfg),
                       "q2fp8_decode: use_fp8_residual=true requires k_residual", InvalidArgumentError);
  c2 = cfg;
  c2.use_fp8_residual = false;
  CHECK_NOTHROW(check_q2fp8_args(q, kq, sc, zr, nores, v, th, out, c2));
  TensorView k8{&dummy, DType::fp8_e5m2, {B, T, HKV, D}};
  CHECK_NOTHROW(check_fp8fp8_args(q, k8, res, v, th, out, cfg));
  TensorView qb{&dummy, DType::bf16, {B, 1, HQ, D}}, kb{&dummy, DType::bf16, {B, T, HKV, D}},
      ob{&dummy, DType::bf16, {B, HQ, D}};
  CHECK(check_dense_args(qb, kb, kb, ob, 0, 0).group == 4);
  TensorView q6{&dummy, DType::bf16, {B, 1, 24, D}};
  CHECK_THROWS_WITH_AS(check_dense_args(q6, kb, kb, ob, 0, 0), "dense_decode: GQA group size must be 1, 2, 4 or 8, got 3",
                       InvalidArgumentError);
}

TEST_CASE("split plans fill one wave without empty splits") {
  // 8 rows (B=1, HKV=8) on 132 SMs × 3 CTAs = 396 slots: round(396/8) = 50 splits (49.5 -> 50);
  // 512 units -> ceil(512/50) = 11 per split -> ceil(512/11) = 47 splits, none empty.
  auto p = plan_splits(512, 8, 396, 4, 1000);
  CHECK(p.units_per_split == 11);
  CHECK(p.splits == 47);
  CHECK((p.splits - 1) * p.units_per_split < 512);
  // Many rows: one split each.
  p = plan_splits(512, 256, 396, 4, 1000);
  CHECK(p.splits == 2);
  p = plan_splits(512, 512, 396, 4, 1000);
  CHECK(p.splits == 1);
  // Few units: at least min_units_per_split per split.
  CHECK(plan_splits(10, 1, 396, 4, 1000).splits == 2);  // 10/4 = 2 -> 5 per split
  CHECK(plan_splits(512, 8, 396, 4, 8).splits == 8);
  // Partial budget: T=32K, HQ=32, HKV=8, D=128, 2-bit scan 32 B/token-head, 12.5%:
  // 0.125·32768·8·32 / (32·130·4) = 1,048,576 / 16,640 = 63.0 -> 63.
  CHECK(max_splits_for_partials(32768, 32, 8, 128, 32.0, 0.125) == 63);
  CHECK_THROWS_AS(plan_splits(0, 1, 1, 1, 1), InvalidArgumentError);
}

TEST_CASE("the producer reference rotates (i, i + D/2) pairs") {
  // D=4, hidden=2, one token at position 1, theta 100: angles 1·100^0 = 1 and 1·100^-0.5 = 0.1.
  AttentionShape s{.batch = 1, .q_heads = 1, .kv_heads = 1, .q_len = 1, .kv_len = 1, .head_dim = 4};
  std::vector<float> cs, sn;
  rope_tables(1, 4, 100.0, 1, cs, sn);
  CHECK(cs[0] == ROOFLINE_APPROX(std::cos(1.0)));
  CHECK(sn[1] == ROOFLINE_APPROX(std::sin(0.1)));
  // x = (1, 2); W rows: k = (x0, x1, 2·x0, 0) = (1, 2, 2, 0).
  const std::vector<float> x{1, 2}, w{1, 0, 0, 1, 2, 0, 0, 0};
  const auto k = reference_kproj_rope(s, 2, x, w, cs, sn);
  CHECK(k[0] == ROOFLINE_APPROX(1 * std::cos(1.0) - 2 * std::sin(1.0)));
  CHECK(k[2] == ROOFLINE_APPROX(2 * std::cos(1.0) + 1 * std::sin(1.0)));
  CHECK(k[1] == ROOFLINE_APPROX(2 * std::cos(0.1) - 0 * std::sin(0.1)));
  CHECK(k[3] == ROOFLINE_APPROX(0 * std::cos(0.1) + 2 * std::sin(0.1)));
}
