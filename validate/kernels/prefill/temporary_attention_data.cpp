// TEMPORARY (branch kprefill): a minimal implementation of ../common/attention_data.hpp so that the
// prefill tests build before the shared generator (branch kdecode) is merged. CMakeLists.txt compiles
// it only when ../common/ has no implementation; delete this file once main has one.
#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

#include "../common/attention_data.hpp"

namespace roofline::validate {

AttentionData make_attention_data(const AttentionShape& shape, const AttentionDataOptions& options) {
  AttentionData data;
  data.shape = shape;
  const int D = shape.head_dim, G = shape.q_heads / shape.kv_heads;
  data.q.resize(std::size_t(shape.batch) * shape.q_len * shape.q_heads * D);
  data.k.resize(std::size_t(shape.batch) * shape.kv_len * shape.kv_heads * D);
  data.v.resize(data.k.size());
  std::mt19937_64 rng(options.seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (float& x : data.q) x = normal(rng);
  for (float& x : data.k) x = normal(rng);
  for (float& x : data.v) x = normal(rng);
  if (!options.realistic) return data;
  std::uniform_int_distribution<int> channel(0, D - 1), token(0, shape.kv_len - 1);
  for (int b = 0; b < shape.batch; ++b)
    for (int kvh = 0; kvh < shape.kv_heads; ++kvh) {
      std::vector<float> u(D);  // unit direction shared by the group's queries and the special keys
      double norm = 0;
      for (float& x : u) {
        x = normal(rng);
        norm += double(x) * x;
      }
      for (float& x : u) x = float(x / std::sqrt(norm) * std::sqrt(double(D)));
      auto krow = [&](int t) { return &data.k[((std::size_t(b) * shape.kv_len + t) * shape.kv_heads + kvh) * D]; };
      for (int c = 0; c < options.outlier_channels; ++c) {
        const int d = channel(rng);
        for (int t = 0; t < shape.kv_len; ++t) krow(t)[d] = krow(t)[d] * options.outlier_scale + options.outlier_scale;
      }
      for (int g = 0; g < G; ++g)
        for (int t = 0; t < shape.q_len; ++t) {
          float* q = &data.q[((std::size_t(b) * shape.q_len + t) * shape.q_heads + kvh * G + g) * D];
          for (int d = 0; d < D; ++d) q[d] = 0.7f * q[d] + 0.7f * u[d];
        }
      for (int d = 0; d < D; ++d) krow(0)[d] += options.sink_strength * u[d] / std::sqrt(float(D)) * 2.0f;
      const int window = std::min(options.recent_window, shape.kv_len);
      for (int i = 0; i < window; ++i) {
        const int t = shape.kv_len - 1 - i;
        const float w = options.recent_strength * std::exp(-float(i) / std::max(1, window / 2));
        for (int d = 0; d < D; ++d) krow(t)[d] += w * u[d] / std::sqrt(float(D)) * 2.0f;
      }
      for (int n = 0; n < options.needles; ++n) {
        const int t = token(rng);
        for (int d = 0; d < D; ++d) krow(t)[d] += options.needle_strength * u[d] / std::sqrt(float(D)) * 2.0f;
      }
    }
  return data;
}

std::vector<float> reference_attention(const AttentionShape& s, const std::vector<float>& q,
                                       const std::vector<float>& k, const std::vector<float>& v, bool causal,
                                       float softmax_scale, const std::vector<std::uint8_t>& keep_block, int block) {
  const int D = s.head_dim, G = s.q_heads / s.kv_heads;
  std::vector<float> out(std::size_t(s.batch) * s.q_len * s.q_heads * D);
  const int blocks = block > 0 ? (s.kv_len + block - 1) / block : 0;
  std::vector<double> scores(s.kv_len), acc(D);
  for (int b = 0; b < s.batch; ++b)
    for (int h = 0; h < s.q_heads; ++h) {
      const int kvh = h / G;
      for (int t = 0; t < s.q_len; ++t) {
        const float* qr = &q[((std::size_t(b) * s.q_len + t) * s.q_heads + h) * D];
        const int last = causal ? t + s.kv_len - s.q_len : s.kv_len - 1;
        double mx = -std::numeric_limits<double>::infinity();
        for (int j = 0; j <= last; ++j) {
          const bool kept = keep_block.empty() || keep_block[(std::size_t(b) * s.kv_heads + kvh) * blocks + j / block];
          if (!kept) {
            scores[j] = -std::numeric_limits<double>::infinity();
            continue;
          }
          const float* kr = &k[((std::size_t(b) * s.kv_len + j) * s.kv_heads + kvh) * D];
          double dot = 0;
          for (int d = 0; d < D; ++d) dot += double(qr[d]) * kr[d];
          scores[j] = dot * softmax_scale;
          mx = std::max(mx, scores[j]);
        }
        std::fill(acc.begin(), acc.end(), 0.0);
        double l = 0;
        for (int j = 0; j <= last; ++j) {
          if (scores[j] == -std::numeric_limits<double>::infinity()) continue;
          const double p = std::exp(scores[j] - mx);
          l += p;
          const float* vr = &v[((std::size_t(b) * s.kv_len + j) * s.kv_heads + kvh) * D];
          for (int d = 0; d < D; ++d) acc[d] += p * vr[d];
        }
        float* o = &out[((std::size_t(b) * s.q_len + t) * s.q_heads + h) * D];
        for (int d = 0; d < D; ++d) o[d] = l > 0 ? float(acc[d] / l) : 0.0f;
      }
    }
  return out;
}

ErrorStats compare(const std::vector<float>& out, const std::vector<float>& ref) {
  ErrorStats e;
  double dot = 0, no = 0, nr = 0, l1 = 0, l1r = 0, sq = 0;
  const std::size_t n = std::min(out.size(), ref.size());
  for (std::size_t i = 0; i < n; ++i) {
    if (!std::isfinite(out[i])) {
      ++e.non_finite;
      continue;
    }
    const double o = out[i], r = ref[i], diff = o - r;
    dot += o * r;
    no += o * o;
    nr += r * r;
    l1 += std::fabs(diff);
    l1r += std::fabs(r);
    sq += diff * diff;
    e.max_abs = std::max(e.max_abs, std::fabs(diff));
  }
  e.non_finite += std::int64_t(std::max(out.size(), ref.size()) - n);
  e.cosine = (no > 0 && nr > 0) ? dot / std::sqrt(no * nr) : 0.0;
  e.relative_l1 = l1r > 0 ? l1 / l1r : 0.0;
  e.rmse = n > 0 ? std::sqrt(sq / double(n)) : 0.0;
  return e;
}

}  // namespace roofline::validate
