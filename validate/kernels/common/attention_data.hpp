// Attention test data and CPU references shared by validate/'s kernels (host code, no CUDA).
// Realistic data follows ../shared/reference/kernels.md: outlier channels in K, an attention sink at
// token 0, a recent window of larger scores, a few needle tokens; never constant inputs.
// Layouts are row-major [batch, seq, heads, dim] (the seeds' q: [B, 1, HQ, D], k/v: [B, T, HKV, D]).
#pragma once

#include <cstdint>
#include <vector>

namespace roofline::validate {

struct AttentionShape {
  int batch = 1;
  int q_heads = 32;
  int kv_heads = 8;
  int q_len = 1;     ///< 1 for decode
  int kv_len = 4096;
  int head_dim = 128;
};

struct AttentionDataOptions {
  bool realistic = true;          ///< false: plain N(0, 1) Gaussians
  std::uint64_t seed = 1;
  int outlier_channels = 4;       ///< channels of K scaled by outlier_scale (per kv head)
  float outlier_scale = 8.0f;
  float sink_strength = 6.0f;     ///< token 0's keys are aligned with the queries by this factor
  int recent_window = 64;         ///< the last tokens are aligned with the queries (decaying)
  float recent_strength = 2.0f;
  int needles = 4;                ///< random tokens strongly aligned with one query head group
  float needle_strength = 5.0f;
};

/// Q, K, V in fp32, layouts [B, Sq, HQ, D] and [B, Skv, HKV, D].
struct AttentionData {
  AttentionShape shape;
  std::vector<float> q;
  std::vector<float> k;
  std::vector<float> v;
};

/// Generates fresh inputs: Gaussian, plus (realistic) outlier channels, a sink, a recent window, needles.
AttentionData make_attention_data(const AttentionShape& shape, const AttentionDataOptions& options);

/// Full-precision attention, fp64 accumulation: out[B, Sq, HQ, D] = softmax(q·kᵀ·scale + mask)·v,
/// GQA (query head h reads kv head h / (HQ / HKV)); causal masks are bottom-right aligned (query i of
/// Sq attends to keys 0 .. Skv - Sq + i), so decode (Sq = 1) sees every key. `keep_block`, when not
/// empty, is a [B, HKV, ceil(Skv / block)] mask of kept key blocks (pruned kernels).
std::vector<float> reference_attention(const AttentionShape& shape, const std::vector<float>& q,
                                       const std::vector<float>& k, const std::vector<float>& v, bool causal,
                                       float softmax_scale, const std::vector<std::uint8_t>& keep_block = {},
                                       int block = 0);

/// Error of `out` against `ref`: cosine similarity, relative L1, RMSE, max |diff|, NaN/inf count.
struct ErrorStats {
  double cosine = 0;
  double relative_l1 = 0;
  double rmse = 0;
  double max_abs = 0;
  std::int64_t non_finite = 0;
};
ErrorStats compare(const std::vector<float>& out, const std::vector<float>& ref);

}  // namespace roofline::validate
