// Attention test data and CPU references shared by validate/'s kernels (host code, no CUDA).
// Realistic data follows shared/reference/kernels.md: outlier channels in K, an attention sink at
// token 0, a recent window of larger scores, a few needle tokens; never constant inputs. The per-element
// formulas live in attention_data_gen.hpp (also usable on the device). Strengths are natural-log logit
// offsets above ln(kv_len): a structure's share of the softmax mass does not fade as the context grows.
// Layouts are row-major [batch, seq, heads, dim] (the seeds' q: [B, 1, HQ, D], k/v: [B, T, HKV, D]).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "attention_data_gen.hpp"

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
  int outlier_channels = 4;       ///< channels of K (per kv head) = outlier_scale·(±1 + 0.3·N(0, 1))
  float outlier_scale = 8.0f;
  float sink_strength = 4.0f;     ///< token 0's logit ≈ ln(kv_len) + this, for every head of the group
  int recent_window = 64;         ///< the last tokens are aligned with the group's queries
  float recent_strength = 3.0f;   ///< logit of the last token ≈ ln(kv_len) + this ...
  float recent_decay = 6.0f;      ///< ... falling linearly by this much across the window
  int needles = 4;                ///< random tokens; even ones align with the whole group, odd with one head
  float needle_strength = 2.0f;   ///< needle logit ≈ ln(kv_len) + this
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

/// Error of `out` against `ref`: cosine similarity, relative L1 (Σ|o − r| / Σ|r|), RMSE, max |diff|,
/// NaN/inf count in `out`, and the smallest cosine over rows of `row_length` elements (the whole
/// tensor when row_length is 0). Sizes must match (InvalidArgumentError otherwise).
struct ErrorStats {
  double cosine = 0;
  double relative_l1 = 0;
  double rmse = 0;
  double max_abs = 0;
  std::int64_t non_finite = 0;
  double min_row_cosine = 0;
};
ErrorStats compare(const std::vector<float>& out, const std::vector<float>& ref);
ErrorStats compare(const std::vector<float>& out, const std::vector<float>& ref, std::size_t row_length);

/// The generator's parameters in the plain form that attention_data_gen.hpp (host and device) takes.
gen::GenParams gen_params(const AttentionShape& shape, const AttentionDataOptions& options);

/// Validates a shape: every size > 0, q_heads divisible by kv_heads (InvalidArgumentError naming the field).
void check_shape(const AttentionShape& shape);

// ---- 16-bit float bit patterns (host), for uploading to and reading back from the device -------------
/// IEEE binary16 bits of x rounded to nearest even (overflow to inf, like a C cast).
std::uint16_t fp16_bits(float x);
float fp16_from_bits(std::uint16_t bits);
/// bfloat16 bits of x rounded to nearest even.
std::uint16_t bf16_bits(float x);
float bf16_from_bits(std::uint16_t bits);

}  // namespace roofline::validate
