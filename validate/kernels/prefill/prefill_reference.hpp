// CPU references of the prefill kernels on their own (already quantised) inputs, for the tight gate of
// ../shared/reference/kernels.md (max abs <= 2e-3, cosine >= 0.99999). Each reproduces the kernel's
// arithmetic where it changes the result beyond rounding: exact integer scores, the scale factors
// rounded as the kernel rounds them, and for sage_int8_fp8 the online softmax over 64-key tiles whose
// running maximum decides P's e4m3 rounding. Accumulation is in double. Host code, threads over heads.
// Causal masks are bottom-right aligned (query i sees keys 0 .. i + Skv − Sq).
#pragma once

#include <vector>

#include "../common/attention_data.hpp"
#include "prefill_quant.hpp"

namespace roofline::validate::prefill {

/// reference_attention (../common, fp64) run in parallel: one call per (batch, kv head, 64-query chunk);
/// a causal chunk [i0, i1) sees keys 0 .. i1 − 1 + Skv − Sq, which keeps the bottom-right alignment.
std::vector<float> parallel_reference_attention(const AttentionShape& s, const std::vector<float>& q,
                                                const std::vector<float>& k, const std::vector<float>& v, bool causal,
                                                float softmax_scale);

/// Attention of fa2_simt_rope: q and k are rotated (apply_rope; queries at positions Skv − Sq + t),
/// then parallel_reference_attention.
std::vector<float> reference_rope_attention(const AttentionShape& s, const std::vector<float>& q,
                                            const std::vector<float>& k, const std::vector<float>& v, bool causal,
                                            float softmax_scale, const RopeTable& table);

/// fa2_int8: scores from the exact integer sum Σ (q − zq)(k − zk), times scale_q·scale_k·softmax_scale;
/// V dequantised as scale_v·(code − zv).
std::vector<float> reference_int8_per_tensor(const AttentionShape& s, const PerTensorInt8& q, const PerTensorInt8& k,
                                             const PerTensorInt8& v, bool causal, float softmax_scale);

/// sage_int8_fp16: score (log2 units) = float(Σ q·k codes) · sage_score_factor(q_scale, softmax_scale·log2 e,
/// k_scale), rounded in fp32 as the kernel does; softmax and P·V in double with fp16 V.
std::vector<float> reference_sage_fp16(const AttentionShape& s, const SageQ& q, const SageK& k,
                                       const std::vector<float>& v, bool causal, float softmax_scale_log2);

/// sage_int8_fp8: the same scores; online softmax over 64-key tiles in order; p = exp2_repro(s − m_running),
/// P̃ = e4m3(p·448), l = Σ p (unquantised), O = Σ P̃·Ṽ · v_scale / (448·l) with the tile rescales.
std::vector<float> reference_sage_fp8(const AttentionShape& s, const SageQ& q, const SageK& k, const Fp8V& v,
                                      bool causal, float softmax_scale_log2);

/// Dequantised copies (for the end-to-end accuracy of the quantised pipelines and for tests).
std::vector<float> dequantize(const PerTensorInt8& x);
std::vector<float> dequantize_sage_q(const AttentionShape& s, const SageQ& q);
/// Dequantised smoothed K plus its mean (an approximation of the original K).
std::vector<float> dequantize_sage_k(const AttentionShape& s, const SageK& k, bool add_mean);
std::vector<float> dequantize_fp8_v(const AttentionShape& s, const Fp8V& v);

}  // namespace roofline::validate::prefill
