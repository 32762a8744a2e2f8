// Host-side argument checking and launch planning of the decode kernels (plain C++, no CUDA): tensor
// views with dtype and shape, the seeds' wrapper options (BS, SBS, delta, precomputed threshold, FP8
// residual switch), and the split-KV plan. Every bad argument throws roofline::InvalidArgumentError
// naming the function, the tensor and what was expected.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "decode_reference.hpp"

namespace roofline::validate::decode {

enum class DType { u8, fp8_e5m2, fp16, bf16, fp32 };
const char* to_string(DType t);

/// A contiguous row-major device tensor (the kernels never see strides).
struct TensorView {
  const void* data = nullptr;
  DType dtype = DType::fp16;
  std::vector<std::int64_t> shape;
};

/// Options of the pruned decode (seeds 000 and 001). delta is in log2 units: a sub-block is kept when for
/// some query head of its GQA group its largest base score is at least threshold = (max over the first
/// and last BS-token blocks) − delta, i.e. its best weight is at least 2^−delta of that estimate.
struct PrunedConfig {
  int bs = 64;                 ///< threshold-block size, tokens (multiple of sbs)
  int sbs = 64;                ///< pruning granularity, tokens (32, 64 or 128)
  float delta = 5.0f;          ///< log2 units, >= 0
  bool use_fp8_residual = true;
  bool prune = true;           ///< false: keep every sub-block (the "pruning off" rows)
  float softmax_scale = 0.0f;  ///< 0: 1/sqrt(D)
  int num_splits = 0;          ///< KV splits per (b, kv head); 0: plan_splits decides
  bool fused_combine = true;   ///< stage 2 run by the last CTA of each (b, kv head); false: separate kernel
};

/// Everything a launch needs, resolved and checked.
struct PrunedLaunch {
  KeyFormat format = KeyFormat::q2fp8;
  int batch = 0, q_heads = 0, kv_heads = 0, group = 0, kv_len = 0, head_dim = 0;
  int scale_blocks = 1;        ///< (a) scale sets per (b, kv head): 1 whole sequence, else ceil(T / scale_block)
  int scale_block = 0;         ///< (a) tokens per scale set, 0 = whole sequence
  int sub_blocks = 0;          ///< ceil(T / sbs)
  int blocks = 0;              ///< ceil(T / bs)
  float log2e_scale = 0;       ///< softmax_scale · log2(e)
  bool has_threshold = false;
  PrunedConfig config;
};

/// Checks the Q2FP8 wrapper's tensors: q [B, 1, HQ, D] fp16; k_q [B, T, HKV, D/4] u8; k_scale, k_zero
/// [B, HKV, D] or [B, HKV, NSB, D] fp32; k_residual [B, T, HKV, D] fp8_e5m2 (data may be null only when
/// use_fp8_residual is false); v [B, T, HKV, D] fp16; threshold (optional, data null = none) [B, HQ]
/// fp32; out [B, HQ, D] fp16. scale_block is the token count per scale set for the 4-D scale form.
PrunedLaunch check_q2fp8_args(const TensorView& q, const TensorView& k_q, const TensorView& k_scale,
                              const TensorView& k_zero, const TensorView& k_residual, const TensorView& v,
                              const TensorView& threshold, const TensorView& out, const PrunedConfig& config,
                              int scale_block = 0);
/// Checks the FP8FP8 wrapper's tensors: q fp16; k_base, k_residual [B, T, HKV, D] fp8_e5m2; v fp16; out fp16.
PrunedLaunch check_fp8fp8_args(const TensorView& q, const TensorView& k_base, const TensorView& k_residual,
                               const TensorView& v, const TensorView& threshold, const TensorView& out,
                               const PrunedConfig& config);

/// Dense decode: q [B, 1, HQ, D], k, v [B, T, HKV, D], out [B, HQ, D], all bf16 (or all fp16).
struct DenseLaunch {
  int batch = 0, q_heads = 0, kv_heads = 0, group = 0, kv_len = 0, head_dim = 0;
  DType dtype = DType::bf16;
  float log2e_scale = 0;
  int num_splits = 0;
};
DenseLaunch check_dense_args(const TensorView& q, const TensorView& k, const TensorView& v, const TensorView& out,
                             float softmax_scale, int num_splits);

/// Split-KV plan: `units` work units (sub-blocks or 16-token tiles) per (b, kv head) row, `rows` rows.
/// splits = clamp(round(resident_ctas / rows), 1, units / min_units_per_split), then also at most
/// max_splits; every split gets ceil(units / splits) units, and splits is recomputed so none is empty.
/// resident_ctas = ctas_per_sm · sm_count fills the GPU in one wave (a persistent grid).
struct SplitPlan {
  int splits = 1;
  int units_per_split = 0;
};
SplitPlan plan_splits(int units, int rows, int resident_ctas, int min_units_per_split, int max_splits);

/// Largest split count for which stage-1 partials stay within `fraction` of the scan bytes:
/// B·HQ·S·(D+2)·4 <= fraction · B·T·HKV·scan_bytes_per_token.
int max_splits_for_partials(int kv_len, int q_heads, int kv_heads, int head_dim, double scan_bytes_per_token,
                            double fraction);

}  // namespace roofline::validate::decode
