// Attention cost per implementation: FLOPs, HBM bytes, tiles, split-KV and kernel launches of one
// fused (or unfused) attention call, derived from each kernel's algorithm and the GPU's shared memory
// and SM count. FLOPs count only the tiles a kernel executes (causal tiles above the diagonal skipped).
// Sources: Dao et al., FlashAttention (arXiv:2205.14135), FlashAttention-2 (arXiv:2307.08691),
// FlashAttention-3 (arXiv:2407.08608); ../shared/reference/kernels.md for the seeds' pruned decode.
#pragma once

#include <cstdint>
#include <string>

#include "roofline/hardware.hpp"
#include "roofline/operators.hpp"
#include "roofline/precision.hpp"

namespace roofline {

struct AttentionCost {
  bool supported = true;
  std::string reason;             ///< why the kernel cannot run on this GPU (when !supported)
  double flops = 0;               ///< FLOPs of the executed tiles, padding included (4·D per query-key pair)
  double useful_flops = 0;        ///< FLOPs of the visible query-key pairs only
  double max_cta_flops = 0;       ///< the largest single thread block's FLOPs (causal imbalance)
  TensorBytes bytes;              ///< HBM traffic of the whole call (all kernels)
  std::int64_t block_q = 0;       ///< query rows per tile
  std::int64_t block_kv = 0;      ///< key rows per tile
  std::int64_t ctas = 0;          ///< thread blocks of the main kernel
  std::int64_t splits = 1;        ///< split-KV factor (decode)
  std::int32_t kernels = 1;       ///< kernel launches (split-KV adds a combine kernel)
  KernelClass kernel_class = KernelClass::attention_prefill;
  MathPath math = MathPath::tc_16bit;
  std::string notes;
  bool operator==(const AttentionCost&) const = default;
};

/// Cost of one attention call of `kernel` on `hw` with Q/K/V in `qkv` and the KV cache in `kv_cache`.
/// Decode (q_len = 1) kernels pack the GQA group into one tile, so each K/V byte is read once per KV
/// head; `skip_fraction` is the fraction of KV blocks a pruned kernel (q2fp8, fp8fp8) skips.
/// Example: Llama-3-8B decode, B = 1, 4096 cached tokens, bf16: K+V = 2·8·4096·128·2 B = 16.8 MB.
AttentionCost attention_cost(const AttentionShape& shape, AttentionKernel kernel, Precision qkv, Precision kv_cache,
                             const HardwareSpec& hw, double skip_fraction = 0);

/// Split-KV factor a FlashAttention-2-style decode kernel picks: none when the batch × heads × query
/// blocks already fill 80% of the SMs, otherwise the smallest split whose wave efficiency is within 85%
/// of the best (FlashAttention-2's num_splits heuristic, described in its flash_api.cpp).
std::int64_t split_kv_heuristic(std::int64_t batch_heads_qblocks, std::int64_t sm_count, std::int64_t kv_blocks,
                                std::int64_t max_splits = 128);

/// Number of (query, key) pairs visible under the shape's mask (causal bottom-right, sliding window).
double visible_pairs(const AttentionShape& shape);

}  // namespace roofline
