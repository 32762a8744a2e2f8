// CPU references of the decode family; see decode_reference.hpp.
#include "decode_reference.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "roofline/errors.hpp"
#include "roofline/precision.hpp"

namespace roofline::validate::decode {
namespace {
constexpr double neg_inf = -std::numeric_limits<double>::infinity();
constexpr float e5m2_max = 57344.0f;

std::uint8_t to_e5m2(float x) { return encode_fp8_e5m2(std::clamp(x, -e5m2_max, e5m2_max), Overflow::saturate); }

std::size_t kv_index(const AttentionShape& s, int b, int t, int h, int d) {
  return ((std::size_t(b) * s.kv_len + t) * s.kv_heads + h) * s.head_dim + d;
}

void check_decode_shape(const AttentionShape& s, const char* who) {
  check_shape(s);
  if (s.q_len != 1) throw InvalidArgumentError(std::string(who) + ": decode needs q_len = 1");
  if (s.head_dim % 16 != 0)
    throw InvalidArgumentError(std::string(who) + ": head_dim must be a multiple of 16, got " +
                               std::to_string(s.head_dim));
}

float log2e_scale(float softmax_scale, int head_dim) {
  const float sc = softmax_scale > 0 ? softmax_scale : 1.0f / std::sqrt(float(head_dim));
  return sc * 1.4426950408889634f;  // fp32, as the kernels compute it
}
}  // namespace

std::uint8_t pack_2bit(int c0, int c1, int c2, int c3) {
  return std::uint8_t((c0 & 3) | ((c1 & 3) << 2) | ((c2 & 3) << 4) | ((c3 & 3) << 6));
}
int unpack_2bit(std::uint8_t byte, int j) { return (byte >> (2 * j)) & 3; }

int sub_blocks(int kv_len, int sbs) { return (kv_len + sbs - 1) / sbs; }

Q2Cache quantize_q2(const AttentionShape& s, const std::vector<float>& k, int scale_block) {
  check_decode_shape(s, "quantize_q2");
  if (scale_block < 0) throw InvalidArgumentError("quantize_q2: scale_block must be >= 0");
  if (k.size() != std::size_t(s.batch) * s.kv_len * s.kv_heads * s.head_dim)
    throw InvalidArgumentError("quantize_q2: k must be [B, T, HKV, D]");
  Q2Cache c;
  c.shape = s;
  c.scale_block = scale_block;
  const int D = s.head_dim, nsb = c.scale_blocks(), per = scale_block == 0 ? s.kv_len : scale_block;
  c.codes.assign(std::size_t(s.batch) * s.kv_len * s.kv_heads * D / 4, 0);
  c.residual.assign(k.size(), 0);
  c.scale.assign(std::size_t(s.batch) * s.kv_heads * nsb * D, 0);
  c.zero.assign(c.scale.size(), 0);
  for (int b = 0; b < s.batch; ++b)
    for (int h = 0; h < s.kv_heads; ++h)
      for (int blk = 0; blk < nsb; ++blk) {
        const int t0 = blk * per, t1 = std::min(s.kv_len, t0 + per);
        for (int d = 0; d < D; ++d) {
          float mn = std::numeric_limits<float>::infinity(), mx = -mn;
          for (int t = t0; t < t1; ++t) {
            mn = std::min(mn, k[kv_index(s, b, t, h, d)]);
            mx = std::max(mx, k[kv_index(s, b, t, h, d)]);
          }
          const float scale = std::max(mx - mn, 1e-6f) / 3.0f;
          const std::size_t si = ((std::size_t(b) * s.kv_heads + h) * nsb + blk) * D + d;
          c.scale[si] = scale;
          c.zero[si] = mn;
          for (int t = t0; t < t1; ++t) {
            const std::size_t i = kv_index(s, b, t, h, d);
            const float x = (k[i] - mn) / scale;
            const int code = int(std::clamp(std::nearbyint(x), 0.0f, 3.0f));  // RNE (default rounding mode)
            const float deq = std::fmaf(float(code), scale, mn);
            c.residual[i] = to_e5m2(k[i] - deq);
            c.codes[i / 4] = std::uint8_t(c.codes[i / 4] | (code << (2 * (d % 4))));
          }
        }
      }
  return c;
}

Fp8Cache quantize_fp8fp8(const AttentionShape& s, const std::vector<float>& k) {
  check_decode_shape(s, "quantize_fp8fp8");
  if (k.size() != std::size_t(s.batch) * s.kv_len * s.kv_heads * s.head_dim)
    throw InvalidArgumentError("quantize_fp8fp8: k must be [B, T, HKV, D]");
  Fp8Cache c;
  c.shape = s;
  c.base.resize(k.size());
  c.residual.resize(k.size());
  for (std::size_t i = 0; i < k.size(); ++i) {
    c.base[i] = to_e5m2(k[i]);
    c.residual[i] = to_e5m2(k[i] - decode_fp8_e5m2(c.base[i]));
  }
  return c;
}

std::vector<float> dequantize(const Q2Cache& c, bool with_residual) {
  const auto& s = c.shape;
  const int D = s.head_dim, nsb = c.scale_blocks(), per = c.scale_block == 0 ? s.kv_len : c.scale_block;
  std::vector<float> k(c.residual.size());
  for (int b = 0; b < s.batch; ++b)
    for (int t = 0; t < s.kv_len; ++t)
      for (int h = 0; h < s.kv_heads; ++h)
        for (int d = 0; d < D; ++d) {
          const std::size_t i = kv_index(s, b, t, h, d);
          const std::size_t si = ((std::size_t(b) * s.kv_heads + h) * nsb + t / per) * D + d;
          float x = std::fmaf(float(unpack_2bit(c.codes[i / 4], d % 4)), c.scale[si], c.zero[si]);
          if (with_residual) x += decode_fp8_e5m2(c.residual[i]);
          k[i] = x;
        }
  return k;
}

std::vector<float> dequantize(const Fp8Cache& c, bool with_residual) {
  std::vector<float> k(c.base.size());
  for (std::size_t i = 0; i < k.size(); ++i)
    k[i] = decode_fp8_e5m2(c.base[i]) + (with_residual ? decode_fp8_e5m2(c.residual[i]) : 0.0f);
  return k;
}

ScoreParts reference_scores(const std::vector<float>& q, const Q2Cache& c, float softmax_scale) {
  const auto& s = c.shape;
  check_decode_shape(s, "reference_scores");
  const int D = s.head_dim, G = s.q_heads / s.kv_heads, nsb = c.scale_blocks(),
            per = c.scale_block == 0 ? s.kv_len : c.scale_block;
  if (q.size() != std::size_t(s.batch) * s.q_heads * D) throw InvalidArgumentError("reference_scores: q must be [B, 1, HQ, D]");
  const double L = log2e_scale(softmax_scale, D);
  ScoreParts r;
  r.base.assign(std::size_t(s.batch) * s.q_heads * s.kv_len, 0);
  r.refine.assign(r.base.size(), 0);
  std::vector<double> qs(D), qz_blk(nsb);
  std::vector<std::vector<double>> qs_blk(nsb, std::vector<double>(D));
  for (int b = 0; b < s.batch; ++b)
    for (int h = 0; h < s.q_heads; ++h) {
      const int kvh = h / G;
      std::vector<float> q16(D);
      for (int d = 0; d < D; ++d) q16[d] = round_to_fp16(q[(std::size_t(b) * s.q_heads + h) * D + d]);
      for (int blk = 0; blk < nsb; ++blk) {
        double qz = 0;
        for (int d = 0; d < D; ++d) {
          const std::size_t si = ((std::size_t(b) * s.kv_heads + kvh) * nsb + blk) * D + d;
          qs_blk[blk][d] = round_to_fp16(q16[d] * c.scale[si]);  // fp32 product rounded to fp16
          qz += double(q16[d]) * c.zero[si];
        }
        qz_blk[blk] = qz;
      }
      for (int t = 0; t < s.kv_len; ++t) {
        const int blk = t / per;
        double dot = 0, res = 0;
        for (int d = 0; d < D; ++d) {
          const std::size_t i = kv_index(s, b, t, kvh, d);
          dot += qs_blk[blk][d] * unpack_2bit(c.codes[i / 4], d % 4);
          res += double(q16[d]) * decode_fp8_e5m2(c.residual[i]);
        }
        const std::size_t o = (std::size_t(b) * s.q_heads + h) * s.kv_len + t;
        r.base[o] = L * (dot + qz_blk[blk]);
        r.refine[o] = L * res;
      }
    }
  return r;
}

ScoreParts reference_scores(const std::vector<float>& q, const Fp8Cache& c, float softmax_scale) {
  const auto& s = c.shape;
  check_decode_shape(s, "reference_scores");
  const int D = s.head_dim, G = s.q_heads / s.kv_heads;
  if (q.size() != std::size_t(s.batch) * s.q_heads * D) throw InvalidArgumentError("reference_scores: q must be [B, 1, HQ, D]");
  const double L = log2e_scale(softmax_scale, D);
  ScoreParts r;
  r.base.assign(std::size_t(s.batch) * s.q_heads * s.kv_len, 0);
  r.refine.assign(r.base.size(), 0);
  for (int b = 0; b < s.batch; ++b)
    for (int h = 0; h < s.q_heads; ++h) {
      const int kvh = h / G;
      for (int t = 0; t < s.kv_len; ++t) {
        double dot = 0, res = 0;
        for (int d = 0; d < D; ++d) {
          const std::size_t i = kv_index(s, b, t, kvh, d);
          const double qd = round_to_fp16(q[(std::size_t(b) * s.q_heads + h) * D + d]);
          dot += qd * decode_fp8_e5m2(c.base[i]);
          res += qd * decode_fp8_e5m2(c.residual[i]);
        }
        const std::size_t o = (std::size_t(b) * s.q_heads + h) * s.kv_len + t;
        r.base[o] = L * dot;
        r.refine[o] = L * res;
      }
    }
  return r;
}

PrunedResult reference_pruned_decode(const AttentionShape& s, const ScoreParts& sc, const std::vector<float>& v,
                                     const PrunedParams& p, const std::vector<std::uint8_t>* forced_keep) {
  check_decode_shape(s, "reference_pruned_decode");
  if (p.sbs <= 0 || p.sbs % 16 != 0 || p.bs <= 0 || p.bs % p.sbs != 0)
    throw InvalidArgumentError("reference_pruned_decode: need sbs a positive multiple of 16 dividing bs");
  if (p.delta < 0) throw InvalidArgumentError("reference_pruned_decode: delta must be >= 0");
  const int B = s.batch, HQ = s.q_heads, HKV = s.kv_heads, T = s.kv_len, D = s.head_dim, G = HQ / HKV;
  const int nsub = sub_blocks(T, p.sbs), ntb = (T + p.bs - 1) / p.bs;
  PrunedResult r;
  r.out.assign(std::size_t(B) * HQ * D, 0.0f);
  r.keep.assign(std::size_t(B) * HKV * nsub, 1);
  r.threshold.assign(std::size_t(B) * HQ, float(neg_inf));
  r.margin.assign(r.keep.size(), std::numeric_limits<float>::infinity());
  auto base = [&](int b, int h, int t) { return sc.base[(std::size_t(b) * HQ + h) * T + t]; };
  if (p.prune) {
    for (int b = 0; b < B; ++b)
      for (int h = 0; h < HQ; ++h) {
        double m = neg_inf;
        for (int t = 0; t < std::min(p.bs, T); ++t) m = std::max(m, base(b, h, t));
        for (int t = (ntb - 1) * p.bs; t < T; ++t) m = std::max(m, base(b, h, t));
        double th = m - p.delta;
        if (!p.threshold.empty()) th = std::min(double(p.threshold[std::size_t(b) * HQ + h]), m);
        r.threshold[std::size_t(b) * HQ + h] = float(th);
      }
    for (int b = 0; b < B; ++b)
      for (int kvh = 0; kvh < HKV; ++kvh)
        for (int j = 0; j < nsub; ++j) {
          double margin = neg_inf;
          for (int g = 0; g < G; ++g) {
            const int h = kvh * G + g;
            double m = neg_inf;
            for (int t = j * p.sbs; t < std::min(T, (j + 1) * p.sbs); ++t) m = std::max(m, base(b, h, t));
            // The kernels compare the fp32 maximum with the fp32 threshold.
            margin = std::max(margin, m - double(r.threshold[std::size_t(b) * HQ + h]));
          }
          const std::size_t i = (std::size_t(b) * HKV + kvh) * nsub + j;
          r.margin[i] = float(margin);
          r.keep[i] = margin >= 0 ? 1 : 0;
        }
  }
  if (forced_keep) {
    if (forced_keep->size() != r.keep.size()) throw InvalidArgumentError("reference_pruned_decode: forced keep mask size");
    r.keep = *forced_keep;
  }
  std::size_t kept = 0;
  for (auto k : r.keep) kept += k;
  r.skip_ratio = 1.0 - double(kept) / double(r.keep.size());
  std::vector<double> acc(D);
  for (int b = 0; b < B; ++b)
    for (int h = 0; h < HQ; ++h) {
      const int kvh = h / G;
      double m = neg_inf;
      for (int t = 0; t < T; ++t)
        if (r.keep[(std::size_t(b) * HKV + kvh) * nsub + t / p.sbs]) {
          const std::size_t o = (std::size_t(b) * HQ + h) * T + t;
          m = std::max(m, sc.base[o] + (p.use_residual ? sc.refine[o] : 0.0));
        }
      if (m == neg_inf) continue;  // nothing kept: zeros (the kernels guarantee this never happens)
      std::fill(acc.begin(), acc.end(), 0.0);
      double l = 0;
      for (int t = 0; t < T; ++t) {
        if (!r.keep[(std::size_t(b) * HKV + kvh) * nsub + t / p.sbs]) continue;
        const std::size_t o = (std::size_t(b) * HQ + h) * T + t;
        const double w = std::exp2(sc.base[o] + (p.use_residual ? sc.refine[o] : 0.0) - m);
        l += w;
        for (int d = 0; d < D; ++d) acc[d] += w * v[kv_index(s, b, t, kvh, d)];
      }
      for (int d = 0; d < D; ++d) r.out[(std::size_t(b) * HQ + h) * D + d] = float(acc[d] / l);
    }
  return r;
}

std::vector<Partial> stage1_partials(const std::vector<double>& s, const std::vector<float>& v_rows, int head_dim,
                                     int splits) {
  const int T = int(s.size());
  if (splits <= 0) throw InvalidArgumentError("stage1_partials: splits must be > 0");
  if (v_rows.size() != std::size_t(T) * head_dim) throw InvalidArgumentError("stage1_partials: v must be [T, D]");
  const int per = (T + splits - 1) / splits;
  std::vector<Partial> parts;
  for (int j = 0; j < splits; ++j) {
    Partial p{neg_inf, 0.0, std::vector<double>(head_dim, 0.0)};
    const int t0 = j * per, t1 = std::min(T, t0 + per);
    for (int t = t0; t < t1; ++t) p.m = std::max(p.m, s[t]);
    if (p.m != neg_inf)
      for (int t = t0; t < t1; ++t) {
        if (s[t] == neg_inf) continue;
        const double w = std::exp2(s[t] - p.m);
        p.l += w;
        for (int d = 0; d < head_dim; ++d) p.o[d] += w * v_rows[std::size_t(t) * head_dim + d];
      }
    parts.push_back(std::move(p));
  }
  return parts;
}

std::vector<double> stage2_merge(const std::vector<Partial>& parts, int head_dim) {
  double m = neg_inf;
  for (const auto& p : parts) m = std::max(m, p.m);
  std::vector<double> o(head_dim, 0.0);
  if (m == neg_inf) return o;
  double l = 0;
  for (const auto& p : parts) {
    if (p.m == neg_inf) continue;  // empty split: never evaluates (−inf) − (−inf)
    const double w = std::exp2(p.m - m);
    l += w * p.l;
    for (int d = 0; d < head_dim; ++d) o[d] += w * p.o[d];
  }
  for (auto& x : o) x /= l;
  return o;
}

void rope_tables(int kv_len, int head_dim, double theta, int pos0, std::vector<float>& cos_table,
                 std::vector<float>& sin_table) {
  if (head_dim % 2 != 0) throw InvalidArgumentError("rope_tables: head_dim must be even");
  const int half = head_dim / 2;
  cos_table.resize(std::size_t(kv_len) * half);
  sin_table.resize(cos_table.size());
  for (int t = 0; t < kv_len; ++t)
    for (int i = 0; i < half; ++i) {
      const double angle = double(pos0 + t) * std::pow(theta, -2.0 * i / head_dim);
      cos_table[std::size_t(t) * half + i] = float(std::cos(angle));
      sin_table[std::size_t(t) * half + i] = float(std::sin(angle));
    }
}

std::vector<float> reference_kproj_rope(const AttentionShape& s, int hidden, const std::vector<float>& x,
                                        const std::vector<float>& w, const std::vector<float>& cos_table,
                                        const std::vector<float>& sin_table) {
  check_shape(s);
  const int B = s.batch, T = s.kv_len, HKV = s.kv_heads, D = s.head_dim, half = D / 2;
  if (x.size() != std::size_t(B) * T * hidden || w.size() != std::size_t(HKV) * D * hidden ||
      cos_table.size() != std::size_t(T) * half || sin_table.size() != cos_table.size())
    throw InvalidArgumentError("reference_kproj_rope: sizes do not match the shape");
  std::vector<float> k(std::size_t(B) * T * HKV * D);
  std::vector<double> row(D);
  for (int b = 0; b < B; ++b)
    for (int t = 0; t < T; ++t)
      for (int h = 0; h < HKV; ++h) {
        const float* xr = &x[(std::size_t(b) * T + t) * hidden];
        for (int d = 0; d < D; ++d) {
          const float* wr = &w[(std::size_t(h) * D + d) * hidden];
          double acc = 0;
          for (int i = 0; i < hidden; ++i) acc += double(xr[i]) * wr[i];
          row[d] = acc;
        }
        for (int i = 0; i < half; ++i) {
          const double c = cos_table[std::size_t(t) * half + i], sn = sin_table[std::size_t(t) * half + i];
          k[kv_index(s, b, t, h, i)] = float(row[i] * c - row[i + half] * sn);
          k[kv_index(s, b, t, h, i + half)] = float(row[i + half] * c + row[i] * sn);
        }
      }
  return k;
}

}  // namespace roofline::validate::decode
