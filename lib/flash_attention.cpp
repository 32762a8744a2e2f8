#include "roofline/flash_attention.hpp"

#include <algorithm>
#include <cmath>

namespace roofline {

namespace {
std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }

// Keys visible to query row i (0-based) of a q_len × kv_len attention.
double visible_keys(const AttentionShape& s, std::int64_t i) {
  double last = s.causal ? double(s.kv_len - s.q_len + i) : double(s.kv_len - 1);  // inclusive
  if (last < 0) return 0;
  double first = 0;
  if (s.window_tokens > 0) first = std::max(0.0, last - double(s.window_tokens) + 1);
  return last - first + 1;
}

// Executed FLOPs of one query block [q0, q0 + bq) with key tiles of bkv: a tile is computed when any of
// its keys is visible to any row of the block. 4·D FLOPs per (query, key) pair (QKᵀ and PV).
double block_flops(const AttentionShape& s, std::int64_t q0, std::int64_t bq, std::int64_t bkv) {
  const std::int64_t q1 = std::min(q0 + bq, s.q_len);
  const std::int64_t rows = q1 - q0;
  if (rows <= 0) return 0;
  // Visible key range of the block: union over its rows.
  const std::int64_t last = s.causal ? s.kv_len - s.q_len + (q1 - 1) : s.kv_len - 1;
  if (last < 0) return 0;
  std::int64_t first = 0;
  if (s.window_tokens > 0) first = std::max<std::int64_t>(0, (s.causal ? s.kv_len - s.q_len + q0 : s.kv_len - 1) - s.window_tokens + 1);
  const std::int64_t tiles = ceil_div(last + 1, bkv) - first / bkv;
  return 4.0 * double(s.head_dim) * double(bq) * double(tiles * bkv);
}

bool hopper_class(const HardwareSpec& hw) { return hw.capabilities.wgmma; }

std::string sm_name(const HardwareSpec& hw) {
  return "sm_" + std::to_string(hw.capabilities.compute_capability_major) +
         std::to_string(hw.capabilities.compute_capability_minor);
}
}  // namespace

double visible_pairs(const AttentionShape& s) {
  if (!s.causal && s.window_tokens == 0) return double(s.q_len) * double(s.kv_len);
  double total = 0;
  // Closed form would do for the plain causal case; the loop is exact for windows too (q_len rows).
  if (s.causal && s.window_tokens == 0) {
    const double q = double(s.q_len), k = double(s.kv_len);
    const double full = std::max(0.0, k - q);  // keys every row sees
    // rows i = 0..q-1 see (k - q + i + 1) keys, clamped at 0 below
    if (k >= q) return q * full + q * (q + 1) / 2;
  }
  for (std::int64_t i = 0; i < s.q_len; ++i) total += visible_keys(s, i);
  return total;
}

std::int64_t split_kv_heuristic(std::int64_t batch_heads_qblocks, std::int64_t sm_count, std::int64_t kv_blocks,
                                std::int64_t max_splits) {
  if (batch_heads_qblocks >= std::int64_t(0.8 * double(sm_count))) return 1;
  max_splits = std::min({max_splits, sm_count, kv_blocks});
  if (max_splits <= 1) return 1;
  auto efficiency = [&](std::int64_t s) {
    const double waves = double(batch_heads_qblocks * s) / double(sm_count);
    return waves / std::ceil(waves);
  };
  // A split is eligible when it changes the number of KV blocks per split.
  auto eligible = [&](std::int64_t s) { return s == 1 || ceil_div(kv_blocks, s) != ceil_div(kv_blocks, s - 1); };
  double best = 0;
  for (std::int64_t s = 1; s <= max_splits; ++s)
    if (eligible(s)) best = std::max(best, efficiency(s));
  for (std::int64_t s = 1; s <= max_splits; ++s)
    if (eligible(s) && efficiency(s) >= 0.85 * best) return s;
  return 1;
}

AttentionCost attention_cost(const AttentionShape& s, AttentionKernel kernel, Precision qkv, Precision kv_cache,
                             const HardwareSpec& hw, double skip_fraction) {
  AttentionCost c;
  const bool decode = s.q_len == 1;
  c.kernel_class = decode ? KernelClass::attention_decode : KernelClass::attention_prefill;
  c.math = MathPath::tc_16bit;
  const double d = double(s.head_dim);
  const double q_bytes_el = bytes_per_element(qkv);
  const double kv_bytes_el = bytes_per_element(kv_cache);
  const std::int64_t group = s.q_heads / std::max<std::int64_t>(1, s.kv_heads);
  const double kv_tokens = s.window_tokens > 0 ? double(std::min(s.kv_len, s.window_tokens)) : double(s.kv_len);

  // Architecture gates.
  switch (kernel) {
    case AttentionKernel::fa3:
      if (!hopper_class(hw)) {
        c.supported = false;
        c.reason = "FlashAttention-3 needs Hopper wgmma and TMA (sm_90a); " + hw.name + " is " + sm_name(hw);
      }
      break;
    case AttentionKernel::cudnn:
      if (!hopper_class(hw) && !hw.capabilities.tcgen05) {
        c.notes = "cuDNN runs an FA2-class kernel below sm_90";
      }
      break;
    case AttentionKernel::fa4:
      if (!hw.capabilities.tcgen05 && !hopper_class(hw)) {
        c.supported = false;
        c.reason = "FlashAttention-4 kernels exist for sm_100 (tcgen05) and sm_90; " + hw.name + " is " + sm_name(hw);
      }
      break;
    default: break;
  }
  if ((qkv == Precision::fp8_e4m3 || qkv == Precision::fp8_e5m2) && !hw.capabilities.native_fp8 &&
      kernel != AttentionKernel::q2fp8 && kernel != AttentionKernel::fp8fp8) {
    c.supported = false;
    c.reason = "fp8 attention needs fp8 tensor cores (sm_89+); " + hw.name + " is " + sm_name(hw);
  }
  if (qkv == Precision::fp8_e4m3 || qkv == Precision::fp8_e5m2) c.math = MathPath::tc_fp8;

  c.useful_flops = 4.0 * d * double(s.batch) * double(s.q_heads) * visible_pairs(s);
  const double q_bytes = double(s.batch) * double(s.q_heads) * double(s.q_len) * d * q_bytes_el;
  const double o_bytes = double(s.batch) * double(s.q_heads) * double(s.q_len) * d * 2.0;  // 16-bit output

  if (decode || kernel == AttentionKernel::splitkv_bf16 || kernel == AttentionKernel::q2fp8 ||
      kernel == AttentionKernel::fp8fp8) {
    // Split-KV decode: the GQA group forms the M dimension of one tile (rows = q_len × group), so every K/V
    // byte is read once per KV head; KV blocks of 128 (hdim <= 128) or 64 keys.
    c.block_kv = s.head_dim <= 128 ? 128 : 64;
    c.block_q = 64;
    const std::int64_t rows = s.q_len * group;
    const std::int64_t q_blocks = ceil_div(rows, c.block_q);
    const std::int64_t kv_blocks = ceil_div(std::int64_t(kv_tokens), c.block_kv);
    const std::int64_t base = s.batch * s.kv_heads * q_blocks;
    c.splits = split_kv_heuristic(base, hw.sms(), kv_blocks);
    c.ctas = base * c.splits;
    const double keep = 1.0 - std::clamp(skip_fraction, 0.0, 1.0);
    double kv_read = 0;
    const double heads_tokens = double(s.batch) * double(s.kv_heads) * kv_tokens;
    switch (kernel) {
      case AttentionKernel::q2fp8:
        // 2-bit K scanned for every block (pruning scores), e5m2 residual and 16-bit V only for kept blocks,
        // per-channel scale and zero (fp32) per (batch, kv head): ../shared/reference/kernels.md.
        kv_read = heads_tokens * d * (2.0 / 8.0 + keep * (1.0 + 2.0)) + double(s.batch * s.kv_heads) * d * 8.0;
        c.kernels = 2;
        break;
      case AttentionKernel::fp8fp8:
        // e5m2 base scanned for every block, e5m2 residual and 16-bit V only for kept blocks.
        kv_read = heads_tokens * d * (1.0 + keep * (1.0 + 2.0));
        c.kernels = 2;
        break;
      default:
        kv_read = heads_tokens * d * 2.0 * kv_bytes_el;  // K and V
        break;
    }
    c.bytes.kv_read_bytes = kv_read;
    c.bytes.activations_read_bytes = q_bytes;
    c.bytes.activations_written_bytes = o_bytes;
    if (c.splits > 1 || kernel == AttentionKernel::q2fp8 || kernel == AttentionKernel::fp8fp8) {
      // Partial o (fp32), m and l per split and query row, written by the main kernel and read by the combine.
      const std::int64_t partial_splits = (kernel == AttentionKernel::q2fp8 || kernel == AttentionKernel::fp8fp8)
                                              ? std::max<std::int64_t>(c.splits, 1)
                                              : c.splits;
      const double partial = double(partial_splits) * double(s.batch) * double(s.q_heads) * double(s.q_len) * (d + 2.0) * 4.0;
      c.bytes.activations_written_bytes += partial;
      c.bytes.activations_read_bytes += partial;
      c.kernels = std::max(c.kernels, 2);
    }
    const double executed = 4.0 * d * double(s.batch) * double(s.kv_heads) * double(q_blocks * c.block_q) * kv_tokens;
    // Pruned kernels compute QKᵀ for every block (the pruning scores) and PV only for kept blocks.
    const bool pruned = kernel == AttentionKernel::q2fp8 || kernel == AttentionKernel::fp8fp8;
    c.flops = executed * (pruned ? 0.5 + 0.5 * keep : 1.0);
    c.max_cta_flops = c.flops / double(std::max<std::int64_t>(1, c.ctas));
    if (!decode) c.kernel_class = KernelClass::attention_prefill;
    return c;
  }

  // Prefill-style kernels: one thread block per (batch, query head, query block).
  const double smem = hw.smem_per_block_bytes.value;
  switch (kernel) {
    case AttentionKernel::fa3:
    case AttentionKernel::cudnn:
    case AttentionKernel::fa4:
      c.block_q = 128;
      c.block_kv = s.head_dim <= 64 ? 192 : (s.head_dim <= 128 ? 128 : 80);
      break;
    case AttentionKernel::fa1:
      c.block_q = 64;
      c.block_kv = 64;
      break;
    default:  // fa2, unfused, sage: FA2 tiles 128 × 64 for head_dim 128, 128 × 128 for 64 (smem permitting)
      c.block_q = smem >= 96 * 1024 ? 128 : 64;
      c.block_kv = s.head_dim <= 64 ? 128 : 64;
      break;
  }
  const std::int64_t q_blocks = ceil_div(s.q_len, c.block_q);
  c.ctas = s.batch * s.q_heads * q_blocks;
  double per_head_flops = 0;
  double max_block = 0;
  for (std::int64_t b = 0; b < q_blocks; ++b) {
    const double f = block_flops(s, b * c.block_q, c.block_q, c.block_kv);
    per_head_flops += f;
    max_block = std::max(max_block, f);
  }
  c.flops = per_head_flops * double(s.batch) * double(s.q_heads);
  c.max_cta_flops = max_block;
  const double kv_bytes = double(s.batch) * double(s.kv_heads) * kv_tokens * d * 2.0 * kv_bytes_el;
  c.bytes.activations_read_bytes = q_bytes;
  c.bytes.kv_read_bytes = kv_bytes;
  c.bytes.activations_written_bytes = o_bytes;
  if (kernel == AttentionKernel::fa1) {
    // FA1: K/V outer loop; Q, O and the softmax statistics are re-read and O re-written per KV block.
    const double kv_blocks = std::ceil(kv_tokens / double(c.block_kv));
    c.bytes.activations_read_bytes += (q_bytes + o_bytes) * (kv_blocks - 1);
    c.bytes.activations_written_bytes += o_bytes * (kv_blocks - 1);
  } else if (kernel == AttentionKernel::unfused) {
    // S = QKᵀ written and read (16-bit), P written and read: 4 passes over B·HQ·Sq·Skv elements.
    const double scores = double(s.batch) * double(s.q_heads) * double(s.q_len) * kv_tokens * 2.0;
    c.bytes.activations_written_bytes += 2 * scores;
    c.bytes.activations_read_bytes += 2 * scores;
    c.kernels = 3;
    c.flops = 4.0 * d * double(s.batch) * double(s.q_heads) * double(s.q_len) * kv_tokens;  // no tile skipping
  }
  if (kernel == AttentionKernel::sage_int8_fp16 || kernel == AttentionKernel::sage_int8_fp8) {
    c.math = MathPath::tc_int8;  // QKᵀ in int8; PV in fp16 or fp8 (modelled at the int8 rate)
    c.bytes.kv_read_bytes = double(s.batch) * double(s.kv_heads) * kv_tokens * d *
                            (1.0 + (kernel == AttentionKernel::sage_int8_fp8 ? 1.0 : 2.0));
    c.bytes.activations_read_bytes = double(s.batch) * double(s.q_heads) * double(s.q_len) * d * 1.0;
  }
  return c;
}

}  // namespace roofline
