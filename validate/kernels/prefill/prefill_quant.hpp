// CPU quantisers and packers of the INT8/FP8 prefill kernels (host code, no CUDA), bit-identical to the
// GPU quantisers of prefill_kernels.hpp, plus the RoPE table of fa2_simt_rope.
// fa2_int8: asymmetric INT8 per tensor (scale and zero point) for Q, K and V, as the seed (003) asks.
// Sage (004, after SageAttention, arXiv:2410.02367 and 2411.10958): K smoothed by its per-channel mean
// over the sequence, symmetric INT8 per block (Q: 32 tokens of one head, K: 64 tokens of one kv head);
// V either fp16 or FP8 e4m3 with one scale per channel.
// Inputs are the fp16-rounded values, layouts [B, S, H, D] (see ../common/attention_data.hpp).
#pragma once

#include <cstdint>
#include <vector>

#include "../common/attention_data.hpp"
#include "prefill_math.hpp"

namespace roofline::validate::prefill {

/// Per-tensor asymmetric INT8 of one tensor (fa2_int8).
struct PerTensorInt8 {
  std::vector<std::int8_t> codes;      ///< same layout as the input
  std::vector<std::int32_t> row_sums;  ///< Σ_d code over each row of head_dim elements
  AsymInt8Params params;
};
/// Quantises x (rows of head_dim elements) with the min/max of the whole tensor.
PerTensorInt8 quantize_per_tensor_int8(const std::vector<float>& x, int head_dim);

/// Sage Q: codes [B, Sq, HQ, D], scales [B][HQ][ceil(Sq / 32)].
struct SageQ {
  std::vector<std::int8_t> codes;
  std::vector<float> scales;
};
/// Sage K: mean [B][HKV][D] (fp32, summed token by token in order), codes of k − mean [B, Skv, HKV, D],
/// scales [B][HKV][ceil(Skv / 64)].
struct SageK {
  std::vector<float> mean;
  std::vector<std::int8_t> codes;
  std::vector<float> scales;
};
/// FP8 V of sage_int8_fp8: e4m3 codes in the transposed, permuted layout [B][HKV][D][padded Skv]
/// (see vt_key_at_position; padding keys hold code 0) and per-channel scales [B][HKV][D].
struct Fp8V {
  std::vector<std::uint8_t> vt;
  std::vector<float> scales;
};

SageQ sage_quantize_q(const AttentionShape& s, const std::vector<float>& q);
std::vector<float> sage_k_mean(const AttentionShape& s, const std::vector<float>& k);
SageK sage_quantize_k(const AttentionShape& s, const std::vector<float>& k);
Fp8V sage_quantize_v_fp8(const AttentionShape& s, const std::vector<float>& v);

/// Transposes 8-bit V codes [B, Skv, HKV, D] into [B][HKV][D][padded Skv] with the 16-key permutation;
/// padding keys hold `pad`.
std::vector<std::uint8_t> pack_vt(const AttentionShape& s, const std::vector<std::uint8_t>& v_codes, std::uint8_t pad);
/// The inverse of pack_vt (drops the padding).
std::vector<std::uint8_t> unpack_vt(const AttentionShape& s, const std::vector<std::uint8_t>& vt);

/// Rotary embedding table (rotate-half convention of GPT-NeoX / Llama): for position p and pair i < D/2,
/// angle = p · base^(−2i/D); cos and sin are [positions][D/2] in fp32 (computed in double).
struct RopeTable {
  int positions = 0;
  int half_dim = 0;
  std::vector<float> cos;
  std::vector<float> sin;
};
RopeTable make_rope_table(int positions, int head_dim, double base = 10000.0);
/// Rotates x [B, S, H, D]: token t sits at position t + position_offset; out_i = x_i·cos − x_{i+D/2}·sin,
/// out_{i+D/2} = x_{i+D/2}·cos + x_i·sin (in double, rounded to float).
std::vector<float> apply_rope(const std::vector<float>& x, int batch, int seq_len, int heads, int head_dim,
                              int position_offset, const RopeTable& table);

/// Rounds every element to fp16 (the kernels' input precision).
std::vector<float> round_all_to_fp16(const std::vector<float>& x);

}  // namespace roofline::validate::prefill
