// Tests of the shared attention data: generator structure, the fp64 reference against hand-computed
// softmax values, GQA / causal / keep-mask semantics, error statistics and 16-bit float bit patterns.
#include <doctest/doctest.h>

#include "relative_approx.hpp"

#include <cmath>
#include <numeric>

#include "attention_data.hpp"
#include "roofline/errors.hpp"

using namespace roofline::validate;

namespace {
double mean(const std::vector<float>& x) { return std::accumulate(x.begin(), x.end(), 0.0) / double(x.size()); }
double var(const std::vector<float>& x) {
  const double m = mean(x);
  double s = 0;
  for (float v : x) s += (v - m) * (v - m);
  return s / double(x.size());
}
double logit(const AttentionData& d, int b, int h, int t) {
  const auto& s = d.shape;
  const int kvh = h / (s.q_heads / s.kv_heads);
  double dot = 0;
  for (int i = 0; i < s.head_dim; ++i)
    dot += double(d.q[(std::size_t(b) * s.q_heads + h) * s.head_dim + i]) *
           d.k[((std::size_t(b) * s.kv_len + t) * s.kv_heads + kvh) * s.head_dim + i];
  return dot / std::sqrt(double(s.head_dim));
}
}  // namespace

TEST_CASE("Gaussian data is N(0, 1), fresh per seed and reproducible") {
  AttentionShape s{.batch = 2, .q_heads = 8, .kv_heads = 2, .q_len = 1, .kv_len = 2048, .head_dim = 64};
  AttentionDataOptions o;
  o.realistic = false;
  o.seed = 7;
  const AttentionData a = make_attention_data(s, o), a2 = make_attention_data(s, o);
  o.seed = 8;
  const AttentionData b = make_attention_data(s, o);
  CHECK(a.k == a2.k);
  CHECK(a.k != b.k);
  CHECK(std::fabs(mean(a.k)) < 0.01);          // 262144 samples: std of the mean 0.002
  CHECK(var(a.k) == ROOFLINE_APPROX(1.0).epsilon(0.02));
  CHECK(var(a.v) == ROOFLINE_APPROX(1.0).epsilon(0.02));
  CHECK(a.q.size() == 2u * 8 * 64);
}

TEST_CASE("realistic data has a sink, a recent window, needles and outlier channels") {
  AttentionShape s{.batch = 1, .q_heads = 8, .kv_heads = 2, .q_len = 1, .kv_len = 4096, .head_dim = 128};
  AttentionDataOptions o;  // defaults: sink ln(T)+4, recent ln(T)+3, needles ln(T)+2
  o.seed = 3;
  const AttentionData d = make_attention_data(s, o);
  const double lnT = std::log(4096.0);  // 8.32
  // Background keys give logits ≈ N(0, 1) plus the outlier channels' per-query constant; the sink sits
  // about ln(T)+4 = 12.3 above that constant, the last token ln(T)+3. Each head's own share of the group
  // direction varies (|u|²/D and the cross terms, ±20% for D = 128), so check the mean over the 8 heads.
  double sink = 0, last = 0;
  for (int h = 0; h < 8; ++h) {
    double bg = 0;
    for (int t = 100; t < 1100; ++t) bg += logit(d, 0, h, t);
    bg /= 1000.0;
    sink += (logit(d, 0, h, 0) - bg) / 8;
    last += (logit(d, 0, h, 4095) - bg) / 8;
    CHECK(logit(d, 0, h, 0) - bg > 5.0);  // every head sees the sink far above the background
  }
  CHECK(sink == ROOFLINE_APPROX(lnT + 4).epsilon(0.3));
  CHECK(last == ROOFLINE_APPROX(lnT + 3).epsilon(0.3));
  // Needle positions are inside [1, T − window − 1] and their logit stands out for some head of the group.
  const auto p = gen_params(s, o);
  for (int j = 0; j < o.needles; ++j) {
    const int pos = gen::needle_position(p, 0, 1, j);
    REQUIRE(pos >= 1);
    REQUIRE(pos < 4096 - 64);
    double best = -1e9;
    for (int h = 4; h < 8; ++h) best = std::max(best, logit(d, 0, h, pos) - logit(d, 0, h, pos + 1));
    CHECK(best > lnT + 2 - 4.0);
  }
  // Outlier channels have a much larger spread over tokens than ordinary ones.
  int outliers = 0;
  for (int c = 0; c < 128; ++c) {
    double m = 0, m2 = 0;
    for (int t = 1; t < 4000; ++t) {
      const double x = d.k[((std::size_t(t)) * 2 + 0) * 128 + c];
      m += x; m2 += x * x;
    }
    m /= 3999; m2 /= 3999;
    if (gen::is_outlier_channel(p, 0, c)) {
      ++outliers;
      CHECK(std::fabs(m) > 4.0);  // offset ±8
    } else {
      CHECK(std::fabs(m) < 0.5);
    }
  }
  CHECK(outliers >= 1);
  CHECK(outliers <= 4);
}

TEST_CASE("reference attention matches a hand-computed softmax") {
  // B=1, HQ=2, HKV=1 (GQA group 2), Skv=2, D=1, scale 1: q = [1, 2], k = [0, ln 3], v = [10, 20].
  // head 0: weights ∝ (e^0, e^{ln 3}) = (1, 3) -> (10 + 60) / 4 = 17.5
  // head 1: weights ∝ (1, 9) -> (10 + 180) / 10 = 19
  AttentionShape s{.batch = 1, .q_heads = 2, .kv_heads = 1, .q_len = 1, .kv_len = 2, .head_dim = 1};
  const std::vector<float> q{1, 2}, k{0, float(std::log(3.0))}, v{10, 20};
  auto o = reference_attention(s, q, k, v, false, 1.0f);
  CHECK(o[0] == ROOFLINE_APPROX(17.5).epsilon(1e-6));
  CHECK(o[1] == ROOFLINE_APPROX(19.0).epsilon(1e-6));
  // Keep mask with block 1 dropping key 1: both heads see only v = 10.
  o = reference_attention(s, q, k, v, false, 1.0f, {1, 0}, 1);
  CHECK(o[0] == ROOFLINE_APPROX(10.0));
  CHECK(o[1] == ROOFLINE_APPROX(10.0));
  // A wrong-size mask is rejected.
  CHECK_THROWS_AS(reference_attention(s, q, k, v, false, 1.0f, {1}, 1), roofline::InvalidArgumentError);
}

TEST_CASE("causal masks are bottom-right aligned") {
  // Sq=2, Skv=3: query 0 sees keys 0..1, query 1 sees keys 0..2. D=1, q = 0 -> uniform weights.
  AttentionShape s{.batch = 1, .q_heads = 1, .kv_heads = 1, .q_len = 2, .kv_len = 3, .head_dim = 1};
  const std::vector<float> q{0, 0}, k{1, 2, 3}, v{3, 6, 30};
  const auto o = reference_attention(s, q, k, v, true, 1.0f);
  CHECK(o[0] == ROOFLINE_APPROX(4.5));   // (3 + 6) / 2
  CHECK(o[1] == ROOFLINE_APPROX(13.0));  // (3 + 6 + 30) / 3
  // Decode (Sq = 1) with causal sees every key.
  AttentionShape d{.batch = 1, .q_heads = 1, .kv_heads = 1, .q_len = 1, .kv_len = 3, .head_dim = 1};
  CHECK(reference_attention(d, {0}, k, v, true, 1.0f)[0] == ROOFLINE_APPROX(13.0));
}

TEST_CASE("compare reports cosine, relative L1, RMSE, max abs and never passes NaN") {
  const std::vector<float> r{1, 0, 0, 1}, o{1, 0, 0, 0.5f};
  const ErrorStats e = compare(o, r, 2);
  // cos = 1.5 / sqrt(1.25 · 2) = 0.948683; L1 = 0.5 / 2; RMSE = sqrt(0.25 / 4) = 0.25
  CHECK(e.cosine == ROOFLINE_APPROX(0.9486833));
  CHECK(e.relative_l1 == ROOFLINE_APPROX(0.25));
  CHECK(e.rmse == ROOFLINE_APPROX(0.25));
  CHECK(e.max_abs == ROOFLINE_APPROX(0.5));
  CHECK(e.min_row_cosine == ROOFLINE_APPROX(1.0));  // row 1: (0, 0.5) vs (0, 1) is parallel
  const std::vector<float> bad{1, 0, 0, std::nanf("")};
  const ErrorStats n = compare(bad, r);
  CHECK(n.non_finite == 1);
  CHECK(n.cosine < 0);
  CHECK_THROWS_AS(compare({1}, r), roofline::InvalidArgumentError);
}

TEST_CASE("16-bit float bit patterns are exact") {
  CHECK(fp16_bits(1.0f) == 0x3C00);
  CHECK(fp16_bits(-2.0f) == 0xC000);
  CHECK(fp16_bits(65504.0f) == 0x7BFF);
  CHECK(fp16_bits(1e6f) == 0x7C00);                  // overflow -> inf
  CHECK(fp16_bits(5.960464477539063e-08f) == 0x0001);  // 2^-24, smallest subnormal
  CHECK(fp16_bits(1.0f + 1.0f / 2048) == 0x3C00);    // tie -> even
  CHECK(fp16_bits(1.0f + 3.0f / 2048) == 0x3C02);    // tie -> even (up)
  for (std::uint32_t b = 0; b < 0x7C00; b += 7) CHECK(fp16_bits(fp16_from_bits(std::uint16_t(b))) == b);
  CHECK(bf16_bits(1.0f) == 0x3F80);
  CHECK(bf16_from_bits(0xC040) == -3.0f);
  CHECK(bf16_bits(1.0f + 1.0f / 256) == 0x3F80);  // tie -> even
}

TEST_CASE("bad shapes are rejected with the field name") {
  AttentionShape s;
  s.kv_heads = 3;
  CHECK_THROWS_WITH_AS(check_shape(s), "attention shape: q_heads (32) must be a multiple of kv_heads (3)",
                       roofline::InvalidArgumentError);
  s.kv_heads = 8;
  s.kv_len = 0;
  CHECK_THROWS_WITH_AS(check_shape(s), "attention shape: kv_len: must be > 0, got 0", roofline::InvalidArgumentError);
}
