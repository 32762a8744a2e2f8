// FLOPs and bytes of the prefill kernels; the storage formats and launch structure mirror the kernels
// (prefill_kernels.hpp): keep both in step.
#include "prefill_cost.hpp"

#include <ostream>
#include <sstream>
#include <string>

#include "roofline/errors.hpp"

namespace roofline::validate::prefill {

namespace {

constexpr std::array<std::string_view, prefill_kernel_count> kernel_names{
    "unfused", "fa2_simt_rope", "fa2_simt_warp_row", "fa2_wmma", "fa2_mma", "fa2_int8", "sage_int8_fp16", "sage_int8_fp8"};

// Quantisation granularity of the Sage-style kernels (prefill_quant.hpp holds the same constants).
constexpr double sage_q_block_tokens = 32;
constexpr double sage_k_block_tokens = 64;

double ceil_div(double a, double b) { return static_cast<double>(static_cast<std::int64_t>((a + b - 1) / b)); }

std::string shape_text(const PrefillShape& s) {
  std::ostringstream os;
  os << s;
  return os.str();
}

}  // namespace

std::string_view to_string(PrefillKernel k) { return kernel_names.at(static_cast<std::size_t>(k)); }
std::ostream& operator<<(std::ostream& os, PrefillKernel k) { return os << to_string(k); }

std::ostream& operator<<(std::ostream& os, const PrefillShape& s) {
  return os << "{B=" << s.batch << " HQ=" << s.q_heads << " HKV=" << s.kv_heads << " Sq=" << s.q_len
            << " Skv=" << s.kv_len << " D=" << s.head_dim << (s.causal ? " causal}" : " full}");
}

std::ostream& operator<<(std::ostream& os, const PrefillCost& c) {
  return os << "{nominal_flops=" << c.nominal_flops << " useful_flops=" << c.useful_flops
            << " executed_flops=" << c.executed_flops << " input_bytes=" << c.input_bytes
            << " output_bytes=" << c.output_bytes << " intermediate_bytes=" << c.intermediate_bytes
            << " min_hbm_bytes=" << c.min_hbm_bytes << " tile_load_bytes=" << c.tile_load_bytes
            << " kernels=" << c.kernels << " prologue={read=" << c.prologue.read_bytes
            << " write=" << c.prologue.write_bytes << " kernels=" << c.prologue.kernels << "}}";
}

PrefillTiling default_tiling(PrefillKernel k, int head_dim) {
  (void)head_dim;  // every kernel uses the same tiles for D = 64 and D = 128
  switch (k) {
    case PrefillKernel::unfused: return {64, 64};
    case PrefillKernel::fa2_simt_rope: return {64, 32};
    case PrefillKernel::fa2_simt_warp_row: return {16, 64};
    case PrefillKernel::fa2_wmma: return {64, 64};
    case PrefillKernel::fa2_mma:
    case PrefillKernel::fa2_int8:
    case PrefillKernel::sage_int8_fp16:
    case PrefillKernel::sage_int8_fp8: return {128, 64};
  }
  return {};
}

void validate_prefill_shape(const PrefillShape& s, const PrefillTiling& t) {
  const std::string where = "prefill shape " + shape_text(s) + ": ";
  if (s.batch <= 0 || s.q_heads <= 0 || s.kv_heads <= 0 || s.q_len <= 0 || s.kv_len <= 0)
    throw InvalidArgumentError(where + "every size must be > 0");
  if (s.q_heads % s.kv_heads != 0)
    throw InvalidArgumentError(where + "q_heads must be a multiple of kv_heads");
  if (s.head_dim != 64 && s.head_dim != 128)
    throw InvalidArgumentError(where + "head_dim must be 64 or 128, got " + std::to_string(s.head_dim));
  if (s.causal && s.q_len > s.kv_len)
    throw InvalidArgumentError(where + "causal attention needs q_len <= kv_len (bottom-right aligned mask)");
  if (t.block_m <= 0 || t.block_n <= 0) throw InvalidArgumentError(where + "tile sizes must be > 0");
  const int group = s.q_heads / s.kv_heads;
  if (t.block_m % group != 0)
    throw InvalidArgumentError(where + "block_m " + std::to_string(t.block_m) +
                               " must be a multiple of the GQA group size " + std::to_string(group));
}

double nominal_attention_flops(const PrefillShape& s) {
  const double full = 4.0 * s.batch * s.q_heads * double(s.q_len) * double(s.kv_len) * s.head_dim;
  return s.causal ? full / 2 : full;
}

double allowed_pairs(const PrefillShape& s) {
  const double sq = s.q_len, skv = s.kv_len;
  if (!s.causal) return sq * skv;
  // Σ_{i=0}^{Sq-1} (i + off + 1) with off = Skv − Sq: Sq·(off + 1) + Sq·(Sq − 1)/2.
  return sq * (skv - sq + 1) + sq * (sq - 1) / 2;
}

std::int64_t key_tiles_visited(const PrefillShape& s, const PrefillTiling& t, std::int64_t m_tile) {
  const std::int64_t group = s.q_heads / s.kv_heads;
  const std::int64_t all_tiles = (s.kv_len + t.block_n - 1) / t.block_n;
  if (!s.causal) return all_tiles;
  const std::int64_t rows = std::int64_t(s.q_len) * group;
  const std::int64_t last_row = std::min(rows, (m_tile + 1) * t.block_m) - 1;
  const std::int64_t last_token = last_row / group;
  const std::int64_t last_key = last_token + (s.kv_len - s.q_len);
  return std::min(all_tiles, last_key / t.block_n + 1);
}

PrefillCost prefill_cost(PrefillKernel k, const PrefillShape& s, const PrefillTiling& t) {
  validate_prefill_shape(s, t);
  const double B = s.batch, HQ = s.q_heads, HKV = s.kv_heads, Sq = s.q_len, Skv = s.kv_len, D = s.head_dim;
  const double G = HQ / HKV;
  const std::int64_t m_tiles = (std::int64_t(s.q_len) * std::int64_t(G) + t.block_m - 1) / t.block_m;
  double tiles_visited = 0;  // Σ over query tiles of key tiles, one (batch, kv head)
  for (std::int64_t m = 0; m < m_tiles; ++m) tiles_visited += double(key_tiles_visited(s, t, m));

  PrefillCost c;
  c.nominal_flops = nominal_attention_flops(s);
  c.useful_flops = 4.0 * B * HQ * D * allowed_pairs(s);
  c.executed_flops = 4.0 * B * HKV * double(t.block_m) * double(t.block_n) * D * tiles_visited;
  c.output_bytes = 2.0 * B * Sq * HQ * D;

  const double q_elems = B * Sq * HQ * D, kv_elems = B * Skv * HKV * D;
  const double vt_elems = B * HKV * D * double(padded_kv_len(s.kv_len));
  const double fp16_qkv = 2.0 * (q_elems + 2 * kv_elems);
  // Bytes of one query tile and one K/V tile as the fused kernels load them (per batch and kv head).
  double q_tile_bytes = 0, kv_tile_bytes = 0;

  switch (k) {
    case PrefillKernel::unfused: {
      c.kernels = 3;
      c.input_bytes = fp16_qkv;
      const double s_elems = B * HQ * Sq * Skv;
      // P·V reads P only up to the last key tile each row tile needs (the rest is zero for causal).
      const double p_read_elems = B * HKV * double(t.block_m) * double(t.block_n) * tiles_visited;
      c.intermediate_bytes = 4.0 * s_elems /*S write*/ + 4.0 * s_elems /*S read*/ + 2.0 * s_elems /*P write*/ +
                             2.0 * std::min(p_read_elems, s_elems) /*P read*/;
      // QKᵀ: one CTA per (64 rows, 64 keys) tile loads a Q and a K tile; fully masked tiles load nothing.
      const double qk_tiles_computed = tiles_visited;  // per (batch, kv head): computed (row, key) tiles
      const double qk_loads = B * HKV * qk_tiles_computed * 2.0 * (t.block_m + t.block_n) * D;
      // P·V: one CTA per (64 rows, 64 channels); each visits its key tiles, loading P and V tiles.
      const double pv_loads = B * HKV * (D / 64) * tiles_visited * 2.0 * (t.block_m * t.block_n + t.block_n * 64.0);
      c.tile_load_bytes = qk_loads + pv_loads + 4.0 * s_elems + 2.0 * s_elems;  // + softmax read/write
      c.min_hbm_bytes = c.input_bytes + c.output_bytes + c.intermediate_bytes;
      return c;
    }
    case PrefillKernel::fa2_simt_rope:
      // RoPE table: cos and sin, fp32 [Skv positions][D/2] each; the kernel reads rows of the positions
      // it rotates (queries sit at positions Skv − Sq .. Skv − 1).
      c.input_bytes = fp16_qkv + 2.0 * 4.0 * Skv * D / 2;
      q_tile_bytes = 2.0 * t.block_m * D + 4.0 * (t.block_m / G) * D;
      kv_tile_bytes = 2.0 * 2.0 * t.block_n * D + 4.0 * t.block_n * D;
      break;
    case PrefillKernel::fa2_simt_warp_row:
    case PrefillKernel::fa2_wmma:
    case PrefillKernel::fa2_mma:
      c.input_bytes = fp16_qkv;
      q_tile_bytes = 2.0 * t.block_m * D;
      kv_tile_bytes = 2.0 * 2.0 * t.block_n * D;
      break;
    case PrefillKernel::fa2_int8:
      // int8 Q, K; V transposed [B, HKV, D, Skv padded to 64]; int32 row sums of Q and K codes;
      // per-tensor scale (fp32) and zero point (int32) of Q, K and V.
      c.input_bytes = q_elems + kv_elems + vt_elems + 4.0 * B * Sq * HQ + 4.0 * B * Skv * HKV + 3 * 8.0;
      q_tile_bytes = 1.0 * t.block_m * D + 4.0 * t.block_m;
      kv_tile_bytes = 2.0 * t.block_n * D + 4.0 * t.block_n;
      c.prologue.kernels = 4;  // reset, min/max of Q, K, V, quantise Q and K (with row sums), quantise V transposed
      c.prologue.read_bytes = 2.0 * fp16_qkv;  // every input read twice: min/max, then quantise
      c.prologue.write_bytes = q_elems + kv_elems + vt_elems + 4.0 * B * Sq * HQ + 4.0 * B * Skv * HKV;
      break;
    case PrefillKernel::sage_int8_fp16:
    case PrefillKernel::sage_int8_fp8: {
      const double q_scales = B * HQ * ceil_div(Sq, sage_q_block_tokens);
      const double k_scales = B * HKV * ceil_div(Skv, sage_k_block_tokens);
      const bool fp8 = k == PrefillKernel::sage_int8_fp8;
      const double v_bytes = fp8 ? vt_elems + 4.0 * B * HKV * D : 2.0 * kv_elems;
      c.input_bytes = q_elems + kv_elems + 4.0 * (q_scales + k_scales) + v_bytes;
      q_tile_bytes = 1.0 * t.block_m * D + 4.0 * t.block_m;
      kv_tile_bytes = (1.0 + (fp8 ? 1.0 : 2.0)) * t.block_n * D;
      // K mean (read K, write fp32 mean), quantise Q, quantise K (read K and the mean); fp8 adds the
      // per-channel V amax and the transposed V quantiser (read V twice).
      c.prologue.kernels = fp8 ? 5 : 3;
      c.prologue.read_bytes = 2.0 * q_elems + 2.0 * 2.0 * kv_elems + 4.0 * B * HKV * D + (fp8 ? 2.0 * 2.0 * kv_elems + 4.0 * B * HKV * D : 0);
      c.prologue.write_bytes = 4.0 * B * HKV * D + q_elems + kv_elems + 4.0 * (q_scales + k_scales) +
                               (fp8 ? vt_elems + 4.0 * B * HKV * D : 0);
      break;
    }
  }
  c.min_hbm_bytes = c.input_bytes + c.output_bytes;
  c.tile_load_bytes = B * HKV * (double(m_tiles) * q_tile_bytes + tiles_visited * kv_tile_bytes);
  return c;
}

}  // namespace roofline::validate::prefill
