// Host API of the decode kernels (CUDA runtime types only): the seeds' wrappers for Q2FP8 and FP8FP8
// pruned decode, the dense bf16/fp16 split-KV baseline, the quantisers and the fused producer. Each
// wrapper checks its arguments (decode_args.hpp) and launches; all launches are stream-ordered, capture
// into a CUDA graph, and never synchronise. Scores are in log2 units; delta too (see PrunedConfig).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "decode_args.hpp"

namespace roofline::validate::decode {

/// Device buffers that one pruned or dense decode configuration needs besides its inputs and output:
/// partials (o fp32 [B, HQ, S, D], m/l fp32 [B, HQ, S, 2]), the keep mask u8 [B, HKV, NSUB] and the
/// per-(b, kv head) arrival counters of the fused combine (zeroed here; the last CTA resets its counter).
class DecodeWorkspace {
 public:
  DecodeWorkspace() = default;
  /// Allocates for up to max_splits splits. Throws CudaError-like roofline::Error on failure.
  DecodeWorkspace(int batch, int q_heads, int kv_heads, int head_dim, int sub_blocks, int max_splits);
  DecodeWorkspace(DecodeWorkspace&&) noexcept;
  DecodeWorkspace& operator=(DecodeWorkspace&&) noexcept;
  DecodeWorkspace(const DecodeWorkspace&) = delete;
  DecodeWorkspace& operator=(const DecodeWorkspace&) = delete;
  ~DecodeWorkspace();

  float* o_part = nullptr;
  float* ml_part = nullptr;
  std::uint8_t* keep = nullptr;
  unsigned* counters = nullptr;
  int batch = 0, q_heads = 0, kv_heads = 0, head_dim = 0, sub_blocks = 0, max_splits = 0;
};

/// What a launch did: the split plan and the kernels it launched.
struct LaunchInfo {
  int splits = 1;
  int units_per_split = 0;
  int ctas = 0;
  int kernels = 1;
  int threads_per_cta = 0;
  int smem_bytes = 0;
};

/// Q2FP8 decode (seed 000). Tensors as in check_q2fp8_args; `scale_block` > 0 selects block-wise scales
/// [B, HKV, ceil(T/scale_block), D] (scale_block a multiple of SBS). Writes out [B, HQ, D] fp16 and the
/// keep mask into ws.keep. Stage 2 runs inside the last CTA of each (b, kv head) unless
/// config.fused_combine is false.
LaunchInfo q2fp8_decode(const TensorView& q, const TensorView& k_q, const TensorView& k_scale,
                        const TensorView& k_zero, const TensorView& k_residual, const TensorView& v,
                        const TensorView& precomputed_threshold, const TensorView& out, const PrunedConfig& config,
                        DecodeWorkspace& ws, cudaStream_t stream, int scale_block = 0);

/// FP8FP8 decode (seed 001).
LaunchInfo fp8fp8_decode(const TensorView& q, const TensorView& k_base, const TensorView& k_residual,
                         const TensorView& v, const TensorView& precomputed_threshold, const TensorView& out,
                         const PrunedConfig& config, DecodeWorkspace& ws, cudaStream_t stream);

/// Dense split-KV decode, bf16 or fp16 (our baseline).
LaunchInfo dense_decode(const TensorView& q, const TensorView& k, const TensorView& v, const TensorView& out,
                        float softmax_scale, int num_splits, DecodeWorkspace& ws, cudaStream_t stream);

/// Skip ratio from ws.keep (copies the mask to the host and synchronises `stream`).
double skip_ratio(const DecodeWorkspace& ws, cudaStream_t stream);

/// Quantisers from a K tensor [B, T, HKV, D] in fp32 (device): (a) codes, scale, zero, residual with
/// scale_block = 0 (whole sequence) or a multiple of 16; (b) base and residual. `stats` is scratch of
/// 2·B·HKV·NSB·D u32 (min/max).
void quantize_q2_device(const float* k, int batch, int kv_len, int kv_heads, int head_dim, int scale_block,
                        std::uint8_t* codes, float* scale, float* zero, std::uint8_t* residual, unsigned* stats,
                        cudaStream_t stream);
void quantize_fp8fp8_device(const float* k, std::int64_t elements, std::uint8_t* base, std::uint8_t* residual,
                            cudaStream_t stream);

/// The fused producer: K = RoPE(x·Wkᵀ) for x [B, T, hidden] bf16 and Wk [HKV·D, hidden] bf16, with
/// cos/sin tables [T, D/2] fp32, quantised to Q2FP8 (two passes: min/max, then quantise, each
/// recomputing the projection) or FP8FP8 (one pass). hidden must be a multiple of 32. k_debug, when not
/// null, receives the fp32 K [B, T, HKV, D] of the last pass (tests compare it and re-quantise it on
/// the CPU bit-exactly).
struct ProducerArgs {
  const void* x = nullptr;
  const void* w = nullptr;
  const float* cos_table = nullptr;
  const float* sin_table = nullptr;
  int batch = 0, kv_len = 0, hidden = 0, kv_heads = 0, head_dim = 0;
  bool q2 = true;
  int scale_block = 0;
  std::uint8_t* codes = nullptr;     ///< q2
  float* scale = nullptr;            ///< q2
  float* zero = nullptr;             ///< q2
  unsigned* stats = nullptr;         ///< q2 scratch, 2·B·HKV·NSB·D
  std::uint8_t* base = nullptr;      ///< fp8fp8
  std::uint8_t* residual = nullptr;  ///< both
  float* k_debug = nullptr;
};
/// Returns the number of kernels launched.
int kproj_rope_quantize(const ProducerArgs& args, cudaStream_t stream);

/// Fills a device tensor with the generator's values (attention_data_gen.hpp) converted to `dtype`
/// (fp16, bf16 or fp32): which = 0 q [B, 1, HQ, D], 1 k [B, T, HKV, D], 2 v. Only batch elements
/// batch_offset .. batch_offset + batch_count − 1 are written (batch_count 0: all), starting at `data`.
void fill_attention_tensor(const gen::GenParams& params, int which, DType dtype, void* data, cudaStream_t stream,
                           int batch_offset = 0, int batch_count = 0);

}  // namespace roofline::validate::decode
