#include "prefill_reference.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <functional>
#include <limits>
#include <thread>

#include "roofline/errors.hpp"
#include "prefill_cost.hpp"
#include "roofline/precision.hpp"

namespace roofline::validate::prefill {

namespace {

// Runs body(i) for i in [0, n) on all hardware threads.
void parallel_for(int n, const std::function<void(int)>& body) {
  const int threads = std::max(1, std::min<int>(n, int(std::thread::hardware_concurrency())));
  std::atomic<int> next{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&] {
      for (int i = next++; i < n; i = next++) body(i);
    });
  for (auto& th : pool) th.join();
}

std::size_t row_at(int seq_len, int heads, int head_dim, int b, int t, int h) {
  return ((std::size_t(b) * seq_len + t) * heads + h) * std::size_t(head_dim);
}

void check_shape(const AttentionShape& s, bool causal) {
  if (s.batch <= 0 || s.q_len <= 0 || s.kv_len <= 0 || s.kv_heads <= 0 || s.q_heads % s.kv_heads != 0)
    throw InvalidArgumentError("prefill reference: invalid shape");
  if (causal && s.q_len > s.kv_len) throw InvalidArgumentError("prefill reference: causal needs q_len <= kv_len");
}

int last_key(const AttentionShape& s, bool causal, int t) { return causal ? t + (s.kv_len - s.q_len) : s.kv_len - 1; }

// Softmax-weighted sum given scores in natural-log units (score_ln) or log2 units, in double.
// scores[j] for j <= last; v_at(j, d) gives V. Writes D outputs.
template <class VAt>
void softmax_pv(const std::vector<double>& scores, int last, int head_dim, bool log2_units, VAt v_at, float* out) {
  double mx = -std::numeric_limits<double>::infinity();
  for (int j = 0; j <= last; ++j) mx = std::max(mx, scores[j]);
  std::vector<double> acc(head_dim, 0.0);
  double l = 0;
  for (int j = 0; j <= last; ++j) {
    const double p = log2_units ? std::exp2(scores[j] - mx) : std::exp(scores[j] - mx);
    l += p;
    for (int d = 0; d < head_dim; ++d) acc[d] += p * v_at(j, d);
  }
  for (int d = 0; d < head_dim; ++d) out[d] = float(acc[d] / l);
}

}  // namespace

std::vector<float> parallel_reference_attention(const AttentionShape& s, const std::vector<float>& q,
                                                const std::vector<float>& k, const std::vector<float>& v, bool causal,
                                                float softmax_scale) {
  check_shape(s, causal);
  const int D = s.head_dim, G = s.q_heads / s.kv_heads, chunk = 64, off = s.kv_len - s.q_len;
  const int chunks = (s.q_len + chunk - 1) / chunk;
  std::vector<float> out(std::size_t(s.batch) * s.q_len * s.q_heads * D);
  parallel_for(s.batch * s.kv_heads * chunks, [&](int task) {
    const int c = task % chunks, kvh = (task / chunks) % s.kv_heads, b = task / (chunks * s.kv_heads);
    const int i0 = c * chunk, i1 = std::min(s.q_len, i0 + chunk);
    const int kv_len = causal ? i1 + off : s.kv_len;
    const AttentionShape sub{1, G, 1, i1 - i0, kv_len, D};
    std::vector<float> sq(std::size_t(i1 - i0) * G * D), sk(std::size_t(kv_len) * D), sv(sk.size());
    for (int i = i0; i < i1; ++i)
      std::copy_n(&q[row_at(s.q_len, s.q_heads, D, b, i, kvh * G)], std::size_t(G) * D, &sq[std::size_t(i - i0) * G * D]);
    for (int t = 0; t < kv_len; ++t) {
      std::copy_n(&k[row_at(s.kv_len, s.kv_heads, D, b, t, kvh)], D, &sk[std::size_t(t) * D]);
      std::copy_n(&v[row_at(s.kv_len, s.kv_heads, D, b, t, kvh)], D, &sv[std::size_t(t) * D]);
    }
    const std::vector<float> so = reference_attention(sub, sq, sk, sv, causal, softmax_scale);
    for (int i = i0; i < i1; ++i)
      std::copy_n(&so[std::size_t(i - i0) * G * D], std::size_t(G) * D, &out[row_at(s.q_len, s.q_heads, D, b, i, kvh * G)]);
  });
  return out;
}

std::vector<float> reference_rope_attention(const AttentionShape& s, const std::vector<float>& q,
                                            const std::vector<float>& k, const std::vector<float>& v, bool causal,
                                            float softmax_scale, const RopeTable& table) {
  check_shape(s, causal);
  const std::vector<float> qr = apply_rope(q, s.batch, s.q_len, s.q_heads, s.head_dim, s.kv_len - s.q_len, table);
  const std::vector<float> kr = apply_rope(k, s.batch, s.kv_len, s.kv_heads, s.head_dim, 0, table);
  return parallel_reference_attention(s, qr, kr, v, causal, softmax_scale);
}

std::vector<float> reference_int8_per_tensor(const AttentionShape& s, const PerTensorInt8& q, const PerTensorInt8& k,
                                             const PerTensorInt8& v, bool causal, float softmax_scale) {
  check_shape(s, causal);
  const int D = s.head_dim, G = s.q_heads / s.kv_heads;
  std::vector<float> out(std::size_t(s.batch) * s.q_len * s.q_heads * D);
  const double factor = double(q.params.scale) * k.params.scale * softmax_scale;
  parallel_for(s.batch * s.q_heads, [&](int bh) {
    const int b = bh / s.q_heads, h = bh % s.q_heads, kvh = h / G;
    std::vector<double> scores(s.kv_len);
    for (int t = 0; t < s.q_len; ++t) {
      const std::int8_t* qr = &q.codes[row_at(s.q_len, s.q_heads, D, b, t, h)];
      const int last = last_key(s, causal, t);
      for (int j = 0; j <= last; ++j) {
        const std::int8_t* kr = &k.codes[row_at(s.kv_len, s.kv_heads, D, b, j, kvh)];
        std::int64_t acc = 0;
        for (int d = 0; d < D; ++d) acc += std::int64_t(qr[d] - q.params.zero) * (kr[d] - k.params.zero);
        scores[j] = double(acc) * factor;
      }
      softmax_pv(scores, last, D, false,
                 [&](int j, int d) {
                   return double(v.params.scale) * (v.codes[row_at(s.kv_len, s.kv_heads, D, b, j, kvh) + d] - v.params.zero);
                 },
                 &out[row_at(s.q_len, s.q_heads, D, b, t, h)]);
    }
  });
  return out;
}

namespace {

// Sage scores of one query row in log2 units, as the kernel rounds them; −inf beyond `last`.
void sage_scores(const AttentionShape& s, const SageQ& q, const SageK& k, float softmax_scale_log2, int b, int h,
                 int t, int last, std::vector<float>& scores) {
  const int D = s.head_dim, G = s.q_heads / s.kv_heads, kvh = h / G;
  const int q_blocks = (s.q_len + sage_q_block_tokens - 1) / sage_q_block_tokens;
  const int k_blocks = (s.kv_len + sage_k_block_tokens - 1) / sage_k_block_tokens;
  const float q_scale = q.scales[(std::size_t(b) * s.q_heads + h) * q_blocks + t / sage_q_block_tokens];
  const std::int8_t* qr = &q.codes[row_at(s.q_len, s.q_heads, D, b, t, h)];
  for (int j = 0; j < int(scores.size()); ++j) {
    if (j > last || j >= s.kv_len) {
      scores[j] = -std::numeric_limits<float>::infinity();
      continue;
    }
    const std::int8_t* kr = &k.codes[row_at(s.kv_len, s.kv_heads, D, b, j, kvh)];
    std::int32_t acc = 0;
    for (int d = 0; d < D; ++d) acc += std::int32_t(qr[d]) * kr[d];
    const float k_scale = k.scales[(std::size_t(b) * s.kv_heads + kvh) * k_blocks + j / sage_k_block_tokens];
    scores[j] = mul_rn(float(acc), sage_score_factor(q_scale, softmax_scale_log2, k_scale));
  }
}

}  // namespace

std::vector<float> reference_sage_fp16(const AttentionShape& s, const SageQ& q, const SageK& k,
                                       const std::vector<float>& v, bool causal, float softmax_scale_log2) {
  check_shape(s, causal);
  const int D = s.head_dim, G = s.q_heads / s.kv_heads;
  std::vector<float> out(std::size_t(s.batch) * s.q_len * s.q_heads * D);
  parallel_for(s.batch * s.q_heads, [&](int bh) {
    const int b = bh / s.q_heads, h = bh % s.q_heads, kvh = h / G;
    std::vector<float> scores(s.kv_len);
    std::vector<double> sd(s.kv_len);
    for (int t = 0; t < s.q_len; ++t) {
      const int last = last_key(s, causal, t);
      sage_scores(s, q, k, softmax_scale_log2, b, h, t, last, scores);
      for (int j = 0; j <= last; ++j) sd[j] = scores[j];
      softmax_pv(sd, last, D, true, [&](int j, int d) { return double(v[row_at(s.kv_len, s.kv_heads, D, b, j, kvh) + d]); },
                 &out[row_at(s.q_len, s.q_heads, D, b, t, h)]);
    }
  });
  return out;
}

std::vector<float> reference_sage_fp8(const AttentionShape& s, const SageQ& q, const SageK& k, const Fp8V& v,
                                      bool causal, float softmax_scale_log2) {
  check_shape(s, causal);
  const int D = s.head_dim, G = s.q_heads / s.kv_heads;
  const std::size_t padded = std::size_t(padded_kv_len(s.kv_len));
  std::vector<float> out(std::size_t(s.batch) * s.q_len * s.q_heads * D);
  parallel_for(s.batch * s.q_heads, [&](int bh) {
    const int b = bh / s.q_heads, h = bh % s.q_heads, kvh = h / G;
    const std::uint8_t* vt = &v.vt[(std::size_t(b) * s.kv_heads + kvh) * D * padded];
    const float* v_scale = &v.scales[(std::size_t(b) * s.kv_heads + kvh) * D];
    std::vector<float> scores(s.kv_len);
    std::vector<double> acc(D);
    for (int t = 0; t < s.q_len; ++t) {
      const int last = last_key(s, causal, t);
      sage_scores(s, q, k, softmax_scale_log2, b, h, t, last, scores);
      std::fill(acc.begin(), acc.end(), 0.0);
      float m = -std::numeric_limits<float>::infinity();
      double l = 0;
      for (int j0 = 0; j0 <= last; j0 += kv_tile_keys) {
        const int j1 = std::min(last + 1, j0 + kv_tile_keys);
        float m_new = m;
        for (int j = j0; j < j1; ++j) m_new = std::max(m_new, scores[j]);
        const double alpha = (m == -std::numeric_limits<float>::infinity()) ? 0.0 : std::exp2(double(m) - m_new);
        l *= alpha;
        for (double& a : acc) a *= alpha;
        for (int j = j0; j < j1; ++j) {
          const float p = exp2_repro(sub_rn(scores[j], m_new));
          l += p;
          const double pq = decode_fp8_e4m3(encode_fp8_e4m3(mul_rn(p, p_fp8_scale), Overflow::saturate));
          if (pq == 0.0) continue;
          const std::size_t pos = std::size_t(vt_position_of_key(j));
          for (int d = 0; d < D; ++d) acc[d] += pq * decode_fp8_e4m3(vt[std::size_t(d) * padded + pos]);
        }
        m = m_new;
      }
      float* o = &out[row_at(s.q_len, s.q_heads, D, b, t, h)];
      for (int d = 0; d < D; ++d) o[d] = float(acc[d] * v_scale[d] / (double(p_fp8_scale) * l));
    }
  });
  return out;
}

std::vector<float> dequantize(const PerTensorInt8& x) {
  std::vector<float> out(x.codes.size());
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = x.params.scale * float(x.codes[i] - x.params.zero);
  return out;
}

std::vector<float> dequantize_sage_q(const AttentionShape& s, const SageQ& q) {
  const int blocks = (s.q_len + sage_q_block_tokens - 1) / sage_q_block_tokens;
  std::vector<float> out(q.codes.size());
  for (std::size_t i = 0; i < out.size(); ++i) {
    const std::size_t h = (i / s.head_dim) % s.q_heads, t = (i / (std::size_t(s.head_dim) * s.q_heads)) % s.q_len;
    const std::size_t b = i / (std::size_t(s.head_dim) * s.q_heads * s.q_len);
    out[i] = q.codes[i] * q.scales[(b * s.q_heads + h) * blocks + t / sage_q_block_tokens];
  }
  return out;
}

std::vector<float> dequantize_sage_k(const AttentionShape& s, const SageK& k, bool add_mean) {
  const int blocks = (s.kv_len + sage_k_block_tokens - 1) / sage_k_block_tokens;
  std::vector<float> out(k.codes.size());
  for (std::size_t i = 0; i < out.size(); ++i) {
    const std::size_t d = i % s.head_dim, h = (i / s.head_dim) % s.kv_heads;
    const std::size_t t = (i / (std::size_t(s.head_dim) * s.kv_heads)) % s.kv_len;
    const std::size_t b = i / (std::size_t(s.head_dim) * s.kv_heads * s.kv_len);
    out[i] = k.codes[i] * k.scales[(b * s.kv_heads + h) * blocks + t / sage_k_block_tokens] +
             (add_mean ? k.mean[(b * s.kv_heads + h) * s.head_dim + d] : 0.0f);
  }
  return out;
}

std::vector<float> dequantize_fp8_v(const AttentionShape& s, const Fp8V& v) {
  const std::vector<std::uint8_t> codes = unpack_vt(s, v.vt);
  std::vector<float> out(codes.size());
  for (std::size_t i = 0; i < out.size(); ++i) {
    const std::size_t d = i % s.head_dim, h = (i / s.head_dim) % s.kv_heads;
    const std::size_t b = i / (std::size_t(s.head_dim) * s.kv_heads * s.kv_len);
    out[i] = decode_fp8_e4m3(codes[i]) * v.scales[(b * s.kv_heads + h) * s.head_dim + d];
  }
  return out;
}

}  // namespace roofline::validate::prefill
