// CPU side of the shared attention test data: generator, fp64 reference attention, error statistics.
#include "attention_data.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include "roofline/errors.hpp"
#include "roofline/precision.hpp"

namespace roofline::validate {

void check_shape(const AttentionShape& s) {
  const struct { const char* name; int value; } fields[] = {
      {"batch", s.batch}, {"q_heads", s.q_heads}, {"kv_heads", s.kv_heads},
      {"q_len", s.q_len}, {"kv_len", s.kv_len}, {"head_dim", s.head_dim}};
  for (const auto& f : fields)
    if (f.value <= 0)
      throw InvalidArgumentError(std::string("attention shape: ") + f.name + ": must be > 0, got " +
                                 std::to_string(f.value));
  if (s.q_heads % s.kv_heads != 0)
    throw InvalidArgumentError("attention shape: q_heads (" + std::to_string(s.q_heads) +
                               ") must be a multiple of kv_heads (" + std::to_string(s.kv_heads) + ")");
}

gen::GenParams gen_params(const AttentionShape& s, const AttentionDataOptions& o) {
  gen::GenParams p{};
  p.batch = s.batch;
  p.q_heads = s.q_heads;
  p.kv_heads = s.kv_heads;
  p.q_len = s.q_len;
  p.kv_len = s.kv_len;
  p.head_dim = s.head_dim;
  p.realistic = o.realistic ? 1 : 0;
  p.seed = o.seed;
  p.outlier_channels = o.outlier_channels;
  p.outlier_scale = o.outlier_scale;
  p.sink_strength = o.sink_strength;
  p.recent_window = std::max(0, o.recent_window);
  p.recent_strength = o.recent_strength;
  p.recent_decay = o.recent_decay;
  p.needles = std::max(0, o.needles);
  p.needle_strength = o.needle_strength;
  return p;
}

AttentionData make_attention_data(const AttentionShape& shape, const AttentionDataOptions& options) {
  check_shape(shape);
  const gen::GenParams p = gen_params(shape, options);
  AttentionData data;
  data.shape = shape;
  const int B = shape.batch, Sq = shape.q_len, Skv = shape.kv_len, HQ = shape.q_heads, HKV = shape.kv_heads,
            D = shape.head_dim;
  data.q.resize(std::size_t(B) * Sq * HQ * D);
  data.k.resize(std::size_t(B) * Skv * HKV * D);
  data.v.resize(data.k.size());
  std::size_t n = 0;
  for (int b = 0; b < B; ++b)
    for (int i = 0; i < Sq; ++i)
      for (int h = 0; h < HQ; ++h)
        for (int d = 0; d < D; ++d) data.q[n++] = gen::q_value(p, b, i, h, d);
  n = 0;
  for (int b = 0; b < B; ++b)
    for (int t = 0; t < Skv; ++t)
      for (int h = 0; h < HKV; ++h)
        for (int d = 0; d < D; ++d, ++n) {
          data.k[n] = gen::k_value(p, b, t, h, d);
          data.v[n] = gen::v_value(p, b, t, h, d);
        }
  return data;
}

std::vector<float> reference_attention(const AttentionShape& shape, const std::vector<float>& q,
                                       const std::vector<float>& k, const std::vector<float>& v, bool causal,
                                       float softmax_scale, const std::vector<std::uint8_t>& keep_block,
                                       int block) {
  check_shape(shape);
  const int B = shape.batch, Sq = shape.q_len, Skv = shape.kv_len, HQ = shape.q_heads, HKV = shape.kv_heads,
            D = shape.head_dim, G = HQ / HKV;
  const std::size_t q_size = std::size_t(B) * Sq * HQ * D, kv_size = std::size_t(B) * Skv * HKV * D;
  if (q.size() != q_size || k.size() != kv_size || v.size() != kv_size)
    throw InvalidArgumentError("reference_attention: q/k/v sizes do not match the shape");
  int n_blocks = 0;
  if (!keep_block.empty()) {
    if (block <= 0) throw InvalidArgumentError("reference_attention: block must be > 0 with a keep mask");
    n_blocks = (Skv + block - 1) / block;
    if (keep_block.size() != std::size_t(B) * HKV * n_blocks)
      throw InvalidArgumentError("reference_attention: keep mask must be [B, HKV, ceil(Skv / block)] = " +
                                 std::to_string(std::size_t(B) * HKV * n_blocks) + " entries, got " +
                                 std::to_string(keep_block.size()));
  }
  std::vector<float> out(q_size, 0.0f);
  std::vector<double> s(Skv), acc(D);
  for (int b = 0; b < B; ++b)
    for (int i = 0; i < Sq; ++i)
      for (int h = 0; h < HQ; ++h) {
        const int kvh = h / G;
        const float* qr = &q[((std::size_t(b) * Sq + i) * HQ + h) * D];
        // Bottom-right causal alignment: query i sees keys 0 .. Skv − Sq + i.
        const int last = causal ? std::min(Skv - 1, Skv - Sq + i) : Skv - 1;
        double m = -std::numeric_limits<double>::infinity();
        for (int t = 0; t <= last; ++t) {
          if (n_blocks && !keep_block[(std::size_t(b) * HKV + kvh) * n_blocks + t / block]) {
            s[t] = -std::numeric_limits<double>::infinity();
            continue;
          }
          const float* kr = &k[((std::size_t(b) * Skv + t) * HKV + kvh) * D];
          double dot = 0;
          for (int d = 0; d < D; ++d) dot += double(qr[d]) * double(kr[d]);
          s[t] = dot * double(softmax_scale);
          m = std::max(m, s[t]);
        }
        std::fill(acc.begin(), acc.end(), 0.0);
        double l = 0;
        if (m > -std::numeric_limits<double>::infinity()) {
          for (int t = 0; t <= last; ++t) {
            if (s[t] == -std::numeric_limits<double>::infinity()) continue;
            const double p = std::exp(s[t] - m);
            l += p;
            const float* vr = &v[((std::size_t(b) * Skv + t) * HKV + kvh) * D];
            for (int d = 0; d < D; ++d) acc[d] += p * double(vr[d]);
          }
        }
        float* o = &out[((std::size_t(b) * Sq + i) * HQ + h) * D];
        for (int d = 0; d < D; ++d) o[d] = l > 0 ? float(acc[d] / l) : 0.0f;
      }
  return out;
}

ErrorStats compare(const std::vector<float>& out, const std::vector<float>& ref) { return compare(out, ref, 0); }

ErrorStats compare(const std::vector<float>& out, const std::vector<float>& ref, std::size_t row_length) {
  if (out.size() != ref.size())
    throw InvalidArgumentError("compare: sizes differ (" + std::to_string(out.size()) + " vs " +
                               std::to_string(ref.size()) + ")");
  if (row_length == 0 || row_length > out.size()) row_length = std::max<std::size_t>(out.size(), 1);
  ErrorStats e;
  double dot = 0, no = 0, nr = 0, l1 = 0, l1r = 0, sq = 0;
  double row_dot = 0, row_no = 0, row_nr = 0;
  e.min_row_cosine = 1.0;
  for (std::size_t i = 0; i < out.size(); ++i) {
    const double o = out[i], r = ref[i];
    if (!std::isfinite(o)) {
      ++e.non_finite;
    } else {
      const double d = o - r;
      dot += o * r; no += o * o; nr += r * r;
      l1 += std::fabs(d); l1r += std::fabs(r); sq += d * d;
      e.max_abs = std::max(e.max_abs, std::fabs(d));
      row_dot += o * r; row_no += o * o; row_nr += r * r;
    }
    if ((i + 1) % row_length == 0 || i + 1 == out.size()) {
      const double c = (row_no > 0 && row_nr > 0) ? row_dot / std::sqrt(row_no * row_nr)
                                                  : (row_no == row_nr ? 1.0 : 0.0);
      e.min_row_cosine = std::min(e.min_row_cosine, c);
      row_dot = row_no = row_nr = 0;
    }
  }
  e.cosine = (no > 0 && nr > 0) ? dot / std::sqrt(no * nr) : (no == nr ? 1.0 : 0.0);
  e.relative_l1 = l1r > 0 ? l1 / l1r : l1;
  e.rmse = out.empty() ? 0.0 : std::sqrt(sq / double(out.size()));
  if (e.non_finite > 0) {  // a NaN never passes: poison every figure of merit
    e.cosine = e.min_row_cosine = -1.0;
    e.max_abs = std::numeric_limits<double>::infinity();
  }
  return e;
}

std::uint16_t fp16_bits(float x) {
  const float r = round_to_fp16(x);  // exact fp16 value (or ±inf / NaN)
  std::uint32_t u = 0;
  std::memcpy(&u, &r, 4);
  const std::uint16_t sign = std::uint16_t((u >> 16) & 0x8000u);
  if (std::isnan(r)) return std::uint16_t(sign | 0x7E00u);
  if (std::isinf(r)) return std::uint16_t(sign | 0x7C00u);
  const double a = std::fabs(double(r));
  if (a == 0) return sign;
  int e = 0;
  const double m = std::frexp(a, &e);  // a = m · 2^e, m in [0.5, 1)
  const int exp_field = e - 1 + 15;    // a = (2m) · 2^(e−1)
  if (exp_field <= 0) {                // subnormal: a = mant · 2^-24
    return std::uint16_t(sign | std::uint16_t(std::lround(a * 16777216.0)));
  }
  const int mant = int(std::lround((2.0 * m - 1.0) * 1024.0));
  return std::uint16_t(sign | (exp_field << 10) | mant);
}

float fp16_from_bits(std::uint16_t bits) {
  const int sign = bits >> 15, exp = (bits >> 10) & 0x1F, mant = bits & 0x3FF;
  double v;
  if (exp == 0x1F) v = mant ? std::numeric_limits<double>::quiet_NaN() : std::numeric_limits<double>::infinity();
  else if (exp == 0) v = std::ldexp(double(mant), -24);
  else v = std::ldexp(1.0 + mant / 1024.0, exp - 15);
  return float(sign ? -v : v);
}

std::uint16_t bf16_bits(float x) {
  const float r = round_to_bf16(x);
  std::uint32_t u = 0;
  std::memcpy(&u, &r, 4);
  return std::uint16_t(u >> 16);
}

float bf16_from_bits(std::uint16_t bits) {
  const std::uint32_t u = std::uint32_t(bits) << 16;
  float f = 0;
  std::memcpy(&f, &u, 4);
  return f;
}

}  // namespace roofline::validate
