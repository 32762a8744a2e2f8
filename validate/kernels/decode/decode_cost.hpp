// FLOPs and DRAM bytes of each decode kernel and stage, as functions of the shape, the block sizes, the
// skip ratio, the residual switch and the number of splits (plain C++, no CUDA). The library's attention
// model mirrors these formulas so that predictions and CUPTI counters can be compared kernel by kernel.
// Bytes count each input read once (the GQA design reads every K/V byte once per KV head), outputs and
// partials written once and read once; FLOPs count 2 per multiply-add (QKᵀ and PV: 4·B·HQ·T·D dense).
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>

namespace roofline::validate::decode {

/// The workload of one decode call.
struct DecodeCostInput {
  std::int64_t batch = 1;
  std::int64_t q_heads = 32;
  std::int64_t kv_heads = 8;
  std::int64_t kv_len = 4096;
  std::int64_t head_dim = 128;
  std::int64_t splits = 1;          ///< KV splits per (b, kv head); 1: no partials
  std::int64_t sbs = 64;            ///< pruning granularity (tokens)
  std::int64_t bs = 64;             ///< threshold-block size (tokens)
  std::int64_t scale_block = 0;     ///< (a) 0: whole-sequence scales, else tokens per scale block
  double skip_fraction = 0.0;       ///< fraction of sub-blocks pruned (0 with pruning off)
  bool use_residual = true;
  bool prune = true;
  int q_bytes = 2;                  ///< bytes per element of q and of the output (fp16 / bf16)
  int v_bytes = 2;                  ///< bytes per element of V
};

/// Cost of one kernel or stage. bytes = read + written.
struct StageCost {
  double flops = 0;
  double bytes_read = 0;
  double bytes_written = 0;
  double bytes() const { return bytes_read + bytes_written; }
  bool operator==(const StageCost&) const = default;
};
std::ostream& operator<<(std::ostream& os, const StageCost& c);

/// A two-stage chain: stage 1 (scan / attention with partials) and stage 2 (split merge).
struct DecodeCost {
  StageCost stage1;
  StageCost stage2;
  double flops() const { return stage1.flops + stage2.flops; }
  double bytes() const { return stage1.bytes() + stage2.bytes(); }
  /// Bytes of the partial (o, m, l) buffers, written by stage 1 and read by stage 2.
  double partial_bytes = 0;
};

/// Dense bf16/fp16 split-KV decode: K and V of 2·D bytes per token per KV head each.
/// Example, B=1, HQ=32, HKV=8, T=4096, D=128, 1 split: K+V 4096·8·2·256 = 16.8 MB, FLOPs 4·32·4096·128
/// = 67.1 MFLOP.
DecodeCost dense_decode_cost(const DecodeCostInput& in);
/// (a) Q2FP8: 2-bit scan of every token (D/4 B), then for kept sub-blocks the e5m2 residual (D B) and
/// V (D·v_bytes B); per token per KV head dense: 32 + 128 + 256 = 416 B for D = 128 vs 512 B bf16.
DecodeCost q2fp8_decode_cost(const DecodeCostInput& in);
/// (b) FP8FP8: e5m2 base scan (D B), then residual (D B) and V for kept sub-blocks.
DecodeCost fp8fp8_decode_cost(const DecodeCostInput& in);

/// Bytes of the first and last BS-token blocks that every split re-reads to estimate the threshold
/// (L2-resident after the first split reads them; reported apart from the DRAM bytes above).
double threshold_reread_bytes(const DecodeCostInput& in, double key_bytes_per_token);

/// The producer: K = RoPE(x·Wkᵀ) then quantisation. passes = 2 for whole-sequence scales (min/max pass,
/// then quantise pass, each recomputing the projection), 1 for FP8FP8.
struct ProducerCostInput {
  std::int64_t batch = 1, kv_len = 4096, hidden = 4096, kv_heads = 8, head_dim = 128;
  int passes = 2;
  bool q2 = true;  ///< false: FP8FP8 outputs
};
StageCost producer_cost(const ProducerCostInput& in);

}  // namespace roofline::validate::decode
