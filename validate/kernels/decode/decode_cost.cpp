// Cost formulas of the decode kernels; see decode_cost.hpp.
#include "decode_cost.hpp"

#include <algorithm>
#include <ostream>

#include "roofline/errors.hpp"

namespace roofline::validate::decode {
namespace {
void check(const DecodeCostInput& in) {
  require_positive("decode cost: batch", double(in.batch));
  require_positive("decode cost: q_heads", double(in.q_heads));
  require_positive("decode cost: kv_heads", double(in.kv_heads));
  require_positive("decode cost: kv_len", double(in.kv_len));
  require_positive("decode cost: head_dim", double(in.head_dim));
  require_positive("decode cost: splits", double(in.splits));
  if (in.skip_fraction < 0 || in.skip_fraction > 1)
    throw InvalidArgumentError("decode cost: skip_fraction must be in [0, 1]");
}

/// q read once, output written once; with splits > 1 the partials (o: D fp32, m and l: fp32 each per
/// split per q head) are written by stage 1 and read by stage 2.
void add_io(const DecodeCostInput& in, DecodeCost& c) {
  const double q_elems = double(in.batch) * in.q_heads * in.head_dim;
  c.stage1.bytes_read += q_elems * in.q_bytes;
  if (in.splits > 1) {
    c.partial_bytes = double(in.batch) * in.q_heads * in.splits * (in.head_dim + 2) * 4.0;
    c.stage1.bytes_written += c.partial_bytes;
    c.stage2.bytes_read += c.partial_bytes;
    c.stage2.bytes_written += q_elems * in.q_bytes;
    // merge: per split per element one multiply-add (o) plus the l update
    c.stage2.flops = 2.0 * double(in.batch) * in.q_heads * in.splits * (in.head_dim + 1);
  } else {
    c.stage1.bytes_written += q_elems * in.q_bytes;
  }
}

DecodeCost pruned_cost(const DecodeCostInput& in, double scan_bytes_per_token, bool q2) {
  check(in);
  const double kept = in.prune ? 1.0 - in.skip_fraction : 1.0;
  const double tokens = double(in.batch) * in.kv_len * in.kv_heads;  // token-head rows
  const double dense_qk = 2.0 * double(in.batch) * in.q_heads * in.kv_len * in.head_dim;
  DecodeCost c;
  c.stage1.bytes_read = tokens * scan_bytes_per_token;
  if (in.use_residual) c.stage1.bytes_read += kept * tokens * in.head_dim;  // e5m2 residual
  c.stage1.bytes_read += kept * tokens * in.head_dim * in.v_bytes;          // V
  if (q2) {
    const double scale_sets = in.scale_block == 0 ? 1.0 : double((in.kv_len + in.scale_block - 1) / in.scale_block);
    c.stage1.bytes_read += double(in.batch) * in.kv_heads * scale_sets * in.head_dim * 4.0 * 2.0;  // scale, zero fp32
  }
  if (in.prune)  // keep mask, one byte per sub-block
    c.stage1.bytes_written += double(in.batch) * in.kv_heads * double((in.kv_len + in.sbs - 1) / in.sbs);
  // QKᵀ on the base format for every token; refinement QKᵀ and PV on kept tokens only.
  c.stage1.flops = dense_qk * (1.0 + (in.use_residual ? kept : 0.0) + kept);
  add_io(in, c);
  return c;
}
}  // namespace

std::ostream& operator<<(std::ostream& os, const StageCost& c) {
  return os << "{flops " << c.flops << ", read " << c.bytes_read << " B, written " << c.bytes_written << " B}";
}

DecodeCost dense_decode_cost(const DecodeCostInput& in) {
  check(in);
  DecodeCost c;
  const double tokens = double(in.batch) * in.kv_len * in.kv_heads;
  c.stage1.bytes_read = tokens * in.head_dim * (in.q_bytes + in.v_bytes);  // K in the q dtype, V
  c.stage1.flops = 4.0 * double(in.batch) * in.q_heads * in.kv_len * in.head_dim;
  add_io(in, c);
  return c;
}

DecodeCost q2fp8_decode_cost(const DecodeCostInput& in) { return pruned_cost(in, double(in.head_dim) / 4.0, true); }

DecodeCost fp8fp8_decode_cost(const DecodeCostInput& in) { return pruned_cost(in, double(in.head_dim), false); }

double threshold_reread_bytes(const DecodeCostInput& in, double key_bytes_per_token) {
  check(in);
  if (!in.prune) return 0.0;
  const double blocks = in.kv_len <= in.bs ? 1.0 : 2.0;
  const double tokens = std::min<double>(double(in.kv_len), blocks * in.bs);
  return double(in.batch) * in.kv_heads * in.splits * tokens * key_bytes_per_token;
}

StageCost producer_cost(const ProducerCostInput& in) {
  require_positive("producer cost: batch", double(in.batch));
  require_positive("producer cost: kv_len", double(in.kv_len));
  require_positive("producer cost: hidden", double(in.hidden));
  require_positive("producer cost: passes", double(in.passes));
  StageCost c;
  const double n_out = double(in.kv_heads) * in.head_dim;
  const double rows = double(in.batch) * in.kv_len;
  c.flops = 2.0 * rows * in.hidden * n_out * in.passes;
  // each pass reads x (bf16) and W (bf16, once per pass at least) and the cos/sin tables (fp32, T·D/2 each)
  c.bytes_read = in.passes * (rows * in.hidden * 2.0 + n_out * in.hidden * 2.0 + double(in.kv_len) * in.head_dim * 4.0);
  if (in.q2) c.bytes_written = rows * n_out * (0.25 + 1.0) + double(in.batch) * n_out * 8.0;  // codes, residual, scale+zero
  else c.bytes_written = rows * n_out * 2.0;                                                  // base, residual
  return c;
}

}  // namespace roofline::validate::decode
