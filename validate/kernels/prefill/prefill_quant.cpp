#include "prefill_quant.hpp"

#include <algorithm>
#include <cmath>

#include "roofline/errors.hpp"
#include "roofline/precision.hpp"

namespace roofline::validate::prefill {

namespace {

std::size_t at(const AttentionShape& s, int seq_len, int heads, int b, int t, int h, int d) {
  return ((std::size_t(b) * seq_len + t) * heads + h) * std::size_t(s.head_dim) + d;
}

void require_size(const char* what, std::size_t got, std::size_t want) {
  if (got != want)
    throw InvalidArgumentError(std::string(what) + ": expected " + std::to_string(want) + " elements, got " +
                               std::to_string(got));
}

}  // namespace

PerTensorInt8 quantize_per_tensor_int8(const std::vector<float>& x, int head_dim) {
  if (head_dim <= 0 || x.size() % std::size_t(head_dim) != 0)
    throw InvalidArgumentError("quantize_per_tensor_int8: size is not a multiple of head_dim");
  float lo = 0.0f, hi = 0.0f;
  for (float v : x) {
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  PerTensorInt8 out;
  out.params = choose_asym_int8(lo, hi);
  out.codes.resize(x.size());
  out.row_sums.assign(x.size() / head_dim, 0);
  for (std::size_t i = 0; i < x.size(); ++i) {
    out.codes[i] = quantize_asym_int8(x[i], out.params);
    out.row_sums[i / head_dim] += out.codes[i];
  }
  return out;
}

SageQ sage_quantize_q(const AttentionShape& s, const std::vector<float>& q) {
  require_size("sage_quantize_q: q", q.size(), std::size_t(s.batch) * s.q_len * s.q_heads * s.head_dim);
  const int blocks = (s.q_len + sage_q_block_tokens - 1) / sage_q_block_tokens;
  SageQ out;
  out.codes.resize(q.size());
  out.scales.resize(std::size_t(s.batch) * s.q_heads * blocks);
  for (int b = 0; b < s.batch; ++b)
    for (int h = 0; h < s.q_heads; ++h)
      for (int blk = 0; blk < blocks; ++blk) {
        const int t0 = blk * sage_q_block_tokens, t1 = std::min(s.q_len, t0 + sage_q_block_tokens);
        float amax = 0.0f;
        for (int t = t0; t < t1; ++t)
          for (int d = 0; d < s.head_dim; ++d) amax = std::max(amax, std::fabs(q[at(s, s.q_len, s.q_heads, b, t, h, d)]));
        const float scale = symmetric_int8_scale(amax);
        out.scales[(std::size_t(b) * s.q_heads + h) * blocks + blk] = scale;
        for (int t = t0; t < t1; ++t)
          for (int d = 0; d < s.head_dim; ++d) {
            const std::size_t i = at(s, s.q_len, s.q_heads, b, t, h, d);
            out.codes[i] = quantize_symmetric_int8(q[i], scale);
          }
      }
  return out;
}

std::vector<float> sage_k_mean(const AttentionShape& s, const std::vector<float>& k) {
  require_size("sage_k_mean: k", k.size(), std::size_t(s.batch) * s.kv_len * s.kv_heads * s.head_dim);
  std::vector<float> mean(std::size_t(s.batch) * s.kv_heads * s.head_dim);
  for (int b = 0; b < s.batch; ++b)
    for (int h = 0; h < s.kv_heads; ++h)
      for (int d = 0; d < s.head_dim; ++d) {
        float sum = 0.0f;  // token by token, in order: the GPU kernel sums the same way
        for (int t = 0; t < s.kv_len; ++t) sum = add_rn(sum, k[at(s, s.kv_len, s.kv_heads, b, t, h, d)]);
        mean[(std::size_t(b) * s.kv_heads + h) * s.head_dim + d] = div_rn(sum, float(s.kv_len));
      }
  return mean;
}

SageK sage_quantize_k(const AttentionShape& s, const std::vector<float>& k) {
  SageK out;
  out.mean = sage_k_mean(s, k);
  const int blocks = (s.kv_len + sage_k_block_tokens - 1) / sage_k_block_tokens;
  out.codes.resize(k.size());
  out.scales.resize(std::size_t(s.batch) * s.kv_heads * blocks);
  for (int b = 0; b < s.batch; ++b)
    for (int h = 0; h < s.kv_heads; ++h) {
      const float* mean = &out.mean[(std::size_t(b) * s.kv_heads + h) * s.head_dim];
      for (int blk = 0; blk < blocks; ++blk) {
        const int t0 = blk * sage_k_block_tokens, t1 = std::min(s.kv_len, t0 + sage_k_block_tokens);
        float amax = 0.0f;
        for (int t = t0; t < t1; ++t)
          for (int d = 0; d < s.head_dim; ++d)
            amax = std::max(amax, std::fabs(sub_rn(k[at(s, s.kv_len, s.kv_heads, b, t, h, d)], mean[d])));
        const float scale = symmetric_int8_scale(amax);
        out.scales[(std::size_t(b) * s.kv_heads + h) * blocks + blk] = scale;
        for (int t = t0; t < t1; ++t)
          for (int d = 0; d < s.head_dim; ++d) {
            const std::size_t i = at(s, s.kv_len, s.kv_heads, b, t, h, d);
            out.codes[i] = quantize_symmetric_int8(sub_rn(k[i], mean[d]), scale);
          }
      }
    }
  return out;
}

Fp8V sage_quantize_v_fp8(const AttentionShape& s, const std::vector<float>& v) {
  require_size("sage_quantize_v_fp8: v", v.size(), std::size_t(s.batch) * s.kv_len * s.kv_heads * s.head_dim);
  Fp8V out;
  out.scales.resize(std::size_t(s.batch) * s.kv_heads * s.head_dim);
  for (int b = 0; b < s.batch; ++b)
    for (int h = 0; h < s.kv_heads; ++h)
      for (int d = 0; d < s.head_dim; ++d) {
        float amax = 0.0f;
        for (int t = 0; t < s.kv_len; ++t) amax = std::max(amax, std::fabs(v[at(s, s.kv_len, s.kv_heads, b, t, h, d)]));
        out.scales[(std::size_t(b) * s.kv_heads + h) * s.head_dim + d] = fp8_e4m3_scale(amax);
      }
  std::vector<std::uint8_t> codes(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) {
    const std::size_t d = i % s.head_dim, h = (i / s.head_dim) % s.kv_heads;
    const std::size_t b = i / (std::size_t(s.head_dim) * s.kv_heads * s.kv_len);
    codes[i] = encode_fp8_e4m3(div_rn(v[i], out.scales[(b * s.kv_heads + h) * s.head_dim + d]), Overflow::saturate);
  }
  out.vt = pack_vt(s, codes, 0);
  return out;
}

std::vector<std::uint8_t> pack_vt(const AttentionShape& s, const std::vector<std::uint8_t>& v_codes, std::uint8_t pad) {
  require_size("pack_vt: v", v_codes.size(), std::size_t(s.batch) * s.kv_len * s.kv_heads * s.head_dim);
  const std::size_t padded = (std::size_t(s.kv_len) + 63) / 64 * 64;
  std::vector<std::uint8_t> vt(std::size_t(s.batch) * s.kv_heads * s.head_dim * padded, pad);
  for (int b = 0; b < s.batch; ++b)
    for (int h = 0; h < s.kv_heads; ++h)
      for (int d = 0; d < s.head_dim; ++d) {
        std::uint8_t* row = &vt[((std::size_t(b) * s.kv_heads + h) * s.head_dim + d) * padded];
        for (std::size_t pos = 0; pos < padded; ++pos) {
          const int key = vt_key_at_position(int(pos));
          if (key < s.kv_len) row[pos] = v_codes[at(s, s.kv_len, s.kv_heads, b, key, h, d)];
        }
      }
  return vt;
}

std::vector<std::uint8_t> unpack_vt(const AttentionShape& s, const std::vector<std::uint8_t>& vt) {
  const std::size_t padded = (std::size_t(s.kv_len) + 63) / 64 * 64;
  require_size("unpack_vt: vt", vt.size(), std::size_t(s.batch) * s.kv_heads * s.head_dim * padded);
  std::vector<std::uint8_t> v(std::size_t(s.batch) * s.kv_len * s.kv_heads * s.head_dim);
  for (int b = 0; b < s.batch; ++b)
    for (int h = 0; h < s.kv_heads; ++h)
      for (int d = 0; d < s.head_dim; ++d)
        for (int key = 0; key < s.kv_len; ++key)
          v[at(s, s.kv_len, s.kv_heads, b, key, h, d)] =
              vt[((std::size_t(b) * s.kv_heads + h) * s.head_dim + d) * padded + vt_position_of_key(key)];
  return v;
}

RopeTable make_rope_table(int positions, int head_dim, double base) {
  if (positions <= 0 || head_dim <= 0 || head_dim % 2 != 0)
    throw InvalidArgumentError("make_rope_table: positions > 0 and an even head_dim are required");
  RopeTable t;
  t.positions = positions;
  t.half_dim = head_dim / 2;
  t.cos.resize(std::size_t(positions) * t.half_dim);
  t.sin.resize(t.cos.size());
  for (int p = 0; p < positions; ++p)
    for (int i = 0; i < t.half_dim; ++i) {
      const double angle = double(p) * std::pow(base, -2.0 * i / head_dim);
      t.cos[std::size_t(p) * t.half_dim + i] = float(std::cos(angle));
      t.sin[std::size_t(p) * t.half_dim + i] = float(std::sin(angle));
    }
  return t;
}

std::vector<float> apply_rope(const std::vector<float>& x, int batch, int seq_len, int heads, int head_dim,
                              int position_offset, const RopeTable& table) {
  require_size("apply_rope: x", x.size(), std::size_t(batch) * seq_len * heads * head_dim);
  if (table.half_dim * 2 != head_dim || position_offset < 0 || position_offset + seq_len > table.positions)
    throw InvalidArgumentError("apply_rope: the table does not cover these positions / head_dim");
  std::vector<float> out(x.size());
  const int half = head_dim / 2;
  for (int b = 0; b < batch; ++b)
    for (int t = 0; t < seq_len; ++t)
      for (int h = 0; h < heads; ++h) {
        const std::size_t row = ((std::size_t(b) * seq_len + t) * heads + h) * head_dim;
        const std::size_t trow = std::size_t(t + position_offset) * half;
        for (int i = 0; i < half; ++i) {
          const double c = table.cos[trow + i], sn = table.sin[trow + i];
          const double lo = x[row + i], hi = x[row + i + half];
          out[row + i] = float(lo * c - hi * sn);
          out[row + i + half] = float(hi * c + lo * sn);
        }
      }
  return out;
}

std::vector<float> round_all_to_fp16(const std::vector<float>& x) {
  std::vector<float> out(x.size());
  std::transform(x.begin(), x.end(), out.begin(), [](float v) { return round_to_fp16(v); });
  return out;
}

}  // namespace roofline::validate::prefill
