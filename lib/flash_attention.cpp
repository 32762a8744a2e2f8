#include "roofline/flash_attention.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <ostream>

#include "roofline/calibration.hpp"
#include "roofline/errors.hpp"

namespace roofline {

namespace {
std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }

// sum_{i=0}^{n-1} floor((a·i + b) / m) for a, b >= 0, m > 0, in O(log m) (the Euclid-like reduction).
std::int64_t floor_sum(std::int64_t n, std::int64_t m, std::int64_t a, std::int64_t b) {
  std::int64_t sum = 0;
  while (n > 0) {
    if (a >= m) {
      sum += (n - 1) * n / 2 * (a / m);
      a %= m;
    }
    if (b >= m) {
      sum += n * (b / m);
      b %= m;
    }
    const std::int64_t y = a * n + b;
    if (y < m) break;
    n = y / m;
    b = y % m;
    std::swap(m, a);
  }
  return sum;
}

bool hopper_class(const HardwareSpec& hw) { return hw.capabilities.wgmma; }
bool blackwell_datacenter(const HardwareSpec& hw) { return hw.capabilities.tcgen05; }
bool is_16bit(Precision p) { return p == Precision::bf16 || p == Precision::fp16; }
bool is_fp8(Precision p) { return p == Precision::fp8_e4m3 || p == Precision::fp8_e5m2; }

std::string sm_name(const HardwareSpec& hw) {
  return "sm_" + std::to_string(hw.capabilities.compute_capability_major) +
         std::to_string(hw.capabilities.compute_capability_minor);
}

// K/V tiles of `bkv` keys that query positions [p0, p1) touch: a tile is executed when any of its keys
// is visible to any of the positions (causal bottom-right, sliding window).
std::int64_t visible_tiles(const AttentionShape& s, std::int64_t p0, std::int64_t p1, std::int64_t bkv) {
  if (p1 <= p0) return 0;
  const std::int64_t last = s.causal ? s.kv_len - s.q_len + (p1 - 1) : s.kv_len - 1;  // inclusive
  if (last < 0) return 0;
  std::int64_t first = 0;
  if (s.window_tokens > 0) {
    const std::int64_t first_row_last = s.causal ? s.kv_len - s.q_len + p0 : s.kv_len - 1;
    first = std::max<std::int64_t>(0, first_row_last - s.window_tokens + 1);
  }
  return ceil_div(std::min(last, s.kv_len - 1) + 1, bkv) - first / bkv;
}

// Keys some query of the call can see, i.e. the keys the kernel loads: with a window of W keys, the union of
// the rows' windows: min(kv, q + W − 1) causal (decode: the last W keys), min(kv, W) otherwise.
std::int64_t loaded_keys(const AttentionShape& s) {
  if (s.window_tokens <= 0) return s.kv_len;
  return s.causal ? std::min(s.kv_len, s.q_len + s.window_tokens - 1) : std::min(s.kv_len, s.window_tokens);
}

// The fraction of the math path's peak that a kernel's MMA instructions can reach: the SM80-class
// mma.sync reaches about 2/3 of Hopper's tensor-core peak, which needs wgmma (FlashAttention-3 paper,
// §2.2); assumed the same for mma.sync on sm_100 (tcgen05). On sm_80 and sm_12x mma.sync is the native path.
double mma_sync_fraction(const HardwareSpec& hw) { return (hopper_class(hw) || blackwell_datacenter(hw)) ? 2.0 / 3.0 : 1.0; }

// fp32 ALU operations per second (one FMA = one operation).
double alu_ops_per_s(const HardwareSpec& hw) { return hw.peak_flop_per_s(MathPath::simt_fp32) / 2.0; }

// fp32 softmax work per score element, beyond the exponential: row max, scale-and-subtract (one FMA), row
// sum, conversion of P to the MMA input type (one cvt per two elements). Counted from the online-softmax
// loop of FlashAttention-2 (Algorithm 1 of arXiv:2307.08691).
constexpr double softmax_alu_per_element = 3.5;
// One software exp2 (FlashAttention-4 utils.ex2_emulation): clamp, round-down add, two subtractions, a
// degree-3 Horner polynomial (3 FMA), shift and integer add: 9 operations on the FMA/ALU pipes.
constexpr double emulated_exp_alu_ops = 9.0;
// FlashAttention-1's prior efficiency: set so that this model gives FlashAttention-2 / FlashAttention-1 =
// 2.0 on A100 at the FlashAttention-2 paper's forward benchmark (batch 8, 16 heads, 2048 tokens, head_dim
// 128, non-causal), the middle of its reported 1.7-3.0x (arXiv:2307.08691, §4.1). Inferred.
constexpr double fa1_prior_efficiency = 0.55;

// What distinguishes the kernels in the shared tiled model.
struct Plan {
  std::int64_t block_q = 128;       // rows of one tile (GQA-packed rows when packed)
  std::int64_t block_kv = 64;       // keys of one tile
  std::int64_t q_stage = 1;         // query tiles per thread block (FlashAttention-4 on sm_100: 2)
  bool pack_gqa = false;            // the GQA group's query heads share one tile (K/V read once per KV head)
  std::int64_t max_ctas_per_sm = 1; // register / TMEM limit
  double smem_stages = 1;           // K/V pipeline stages in shared memory
  bool overlapped = false;          // softmax pipelined against the matrix products
  bool overlap_needs_pair = false;  // overlapped only between co-resident blocks' warps (no warp specialisation)
  double mma_fraction = 1;          // fraction of the math path's peak the MMA instructions reach
  double rescale_alu_per_row_block = 0;  // O rescaling per row per K/V block, in multiples of head_dim
  double emulated_exp_fraction = 0;      // FlashAttention-4's software exp2 share
  bool split_allowed = true;
};

// The share of a launch's total compute that one SM carries when `ctas` equal thread blocks run in
// `waves` waves with up to `per_sm` co-resident blocks: waves · min(per_sm, ceil(ctas / SMs)) / ctas.
double uniform_sm_share(std::int64_t ctas, std::int64_t per_sm, std::int64_t waves, int sms) {
  if (ctas <= 0) return 0;
  const std::int64_t resident = std::min<std::int64_t>(per_sm, ceil_div(ctas, sms));
  return double(waves) * double(resident) / double(ctas);
}

}  // namespace

double in_order_makespan_tiles(double total_tiles, double largest_tiles, std::int64_t ctas, std::int64_t ctas_per_sm,
                               int sms) {
  const double n = double(ctas), s = double(sms), per_sm = double(std::max<std::int64_t>(1, ctas_per_sm));
  const double slots = s * per_sm;
  if (n <= s) return largest_tiles;                   // one block per SM, all start at once
  if (n <= slots) return largest_tiles * (n / s);     // they start at once; SMs with two share their rate
  // Greedy dispatch of more blocks than slots, each head's blocks shortest first: the last head's heaviest
  // block starts about 0.36 of its length before the even share ends (in_order_tail_fraction).
  return std::max(largest_tiles, total_tiles / slots + in_order_tail_fraction * largest_tiles) * per_sm;
}

std::ostream& operator<<(std::ostream& os, const AttentionCost& c) {
  os << "AttentionCost{";
  if (!c.supported) return os << "refused: " << c.reason << "}";
  return os << to_string(c.kernel_class) << "/" << to_string(c.math) << ", tiles " << c.block_q << "x" << c.block_kv
            << ", ctas " << c.ctas << " (" << c.ctas_per_sm << "/SM, " << c.waves << " waves), splits " << c.splits
            << ", kernels " << c.kernels << ", flops " << c.flops << " (useful " << c.useful_flops << ", compute "
            << c.compute_flops << "), bytes " << c.bytes.total() << ", exp " << c.exp_ops << "}";
}

double visible_pairs(const AttentionShape& s) {
  const double q = double(s.q_len), k = double(s.kv_len);
  const double w = s.window_tokens > 0 ? double(s.window_tokens) : k;  // no window: every key
  if (!s.causal) return q * std::min(k, w);
  // Causal, bottom-right aligned: row i sees keys 0 .. x_i - 1 with x_i = k - q + 1 + i, limited to the
  // last w of them: sum over rows with x >= 1 of min(x, w), in closed form.
  const double x_lo = std::max(1.0, k - q + 1), x_hi = k;
  if (x_hi < x_lo) return 0;
  auto sum_to = [](double a, double b) { return b < a ? 0.0 : (a + b) * (b - a + 1) / 2; };  // a + ... + b
  const double below = sum_to(x_lo, std::min(x_hi, w));              // x <= w: x keys
  const double above = std::max(0.0, x_hi - std::max(x_lo, w + 1) + 1) * w;  // x > w: w keys
  return below + above;
}

std::int64_t split_kv_heuristic(std::int64_t batch_heads_qblocks, std::int64_t sm_slots, std::int64_t kv_blocks,
                                std::int64_t max_splits) {
  if (double(batch_heads_qblocks) >= 0.8 * double(sm_slots)) return 1;
  max_splits = std::min({max_splits, sm_slots, kv_blocks, std::int64_t(256)});
  if (max_splits <= 1) return 1;
  // The wave efficiency of every eligible split (a split is eligible when it changes the number of K/V
  // blocks per split), then the smallest within 85% of the best. The eligible splits are visited directly:
  // after s with b = ceil(kv_blocks / s) blocks, the next is the smallest s' with ceil(kv_blocks / s') < b,
  // s' = ceil(kv_blocks / (b - 1)); none after b = 1 (about 2·sqrt(kv_blocks) splits instead of max_splits).
  std::int64_t eligible[256];
  double efficiency[256];
  int n = 0;
  double best = 0;
  for (std::int64_t s = 1; s <= max_splits;) {
    const double waves = double(batch_heads_qblocks * s) / double(sm_slots);
    eligible[n] = s;
    efficiency[n] = waves / std::ceil(waves);
    best = std::max(best, efficiency[n]);
    ++n;
    const std::int64_t blocks = ceil_div(kv_blocks, s);
    if (blocks <= 1) break;
    s = ceil_div(kv_blocks, blocks - 1);
  }
  for (int i = 0; i < n; ++i)
    if (efficiency[i] >= 0.85 * best) return eligible[i];
  return 1;
}

double special_function_ops_per_s(const HardwareSpec& hw) {
  const bool sm80 = hw.capabilities.compute_capability_major == 8 && hw.capabilities.compute_capability_minor == 0;
  const double fma_lanes = sm80 ? 64.0 : 128.0;
  return hw.peak_flop_per_s(MathPath::simt_fp32) / 2.0 * (16.0 / fma_lanes);
}

namespace {

void refuse(AttentionCost& c, std::string reason) {
  if (!c.supported) return;  // keep the first reason
  c.supported = false;
  c.reason = std::move(reason);
}

void add_note(AttentionCost& c, const std::string& note) {
  if (!c.notes.empty()) c.notes += "; ";
  c.notes += note;
}

// Architecture and precision gates: a value with a reason, never an exception.
void check_support(AttentionCost& c, const AttentionShape& s, AttentionKernel kernel, Precision qkv, Precision kv,
                   const HardwareSpec& hw, const AttentionOptions& o) {
  switch (kernel) {
    case AttentionKernel::fa3:
      if (!hopper_class(hw))
        refuse(c, "FlashAttention-3 needs Hopper wgmma and TMA (sm_90a); " + hw.name + " is " + sm_name(hw) +
                      (hw.capabilities.tcgen05 ? " (use fa4 or cudnn)" : " (its sm_8x build is an FA2-class kernel: use fa2)"));
      if (is_fp8(qkv) && qkv != Precision::fp8_e4m3) refuse(c, "FlashAttention-3's fp8 path is e4m3 only");
      break;
    case AttentionKernel::fa4:
      if (!blackwell_datacenter(hw) && !hopper_class(hw))
        refuse(c, "FlashAttention-4 (flash_attn/cute) runs its own algorithm on sm_100 (tcgen05, TMEM) and an FA3-class "
                  "path on sm_90; on " + hw.name + " (" + sm_name(hw) + ") the package falls back to an FA2-class mma.sync kernel: use fa2");
      if (is_fp8(qkv) && !blackwell_datacenter(hw))
        refuse(c, "FlashAttention-4's fp8 path exists only on sm_100; " + hw.name + " is " + sm_name(hw));
      if (blackwell_datacenter(hw) && !(s.head_dim <= 128 || s.head_dim == 256))
        refuse(c, "FlashAttention-4 on sm_100 supports head_dim <= 128 or 256 (192 only with a 128 value dim); got " +
                      std::to_string(s.head_dim));
      if (o.block_sparse && o.split_kv > 1)
        refuse(c, "FlashAttention-4 does not combine block sparsity with split-KV");
      break;
    case AttentionKernel::fa1:
    case AttentionKernel::fa2:
      if (is_fp8(qkv))
        refuse(c, std::string(kernel == AttentionKernel::fa1 ? "FlashAttention-1" : "FlashAttention-2") +
                      " computes in fp16/bf16 only (no fp8 path)");
      break;
    case AttentionKernel::splitkv_bf16:
      if (!is_16bit(qkv)) refuse(c, "splitkv_bf16 computes in 16-bit; " + std::string(to_string(qkv)) + " is not");
      break;
    case AttentionKernel::sage_int8_fp16:
    case AttentionKernel::sage_int8_fp8:
      if (!hw.peak(MathPath::tc_int8).supported) refuse(c, "SageAttention needs int8 tensor cores; " + hw.name + " has none");
      if (kernel == AttentionKernel::sage_int8_fp8 && !hw.capabilities.native_fp8)
        refuse(c, "SageAttention2's fp8 PV needs fp8 tensor cores (sm_89+); " + hw.name + " is " + sm_name(hw));
      if (!is_16bit(qkv) || !is_16bit(kv))
        refuse(c, "SageAttention quantises 16-bit Q, K, V itself: give it bf16/fp16 inputs and cache");
      break;
    default: break;
  }
  if (is_fp8(qkv) && !hw.capabilities.native_fp8 && kernel != AttentionKernel::q2fp8 && kernel != AttentionKernel::fp8fp8)
    refuse(c, "fp8 attention needs fp8 tensor cores (sm_89+); " + hw.name + " is " + sm_name(hw));
  if (!is_16bit(qkv) && !is_fp8(qkv) && qkv != Precision::fp32)
    refuse(c, "attention kernels compute in 16-bit or fp8; " + std::string(to_string(qkv)) + " Q/K/V is not modelled");
  if (qkv == Precision::fp32) refuse(c, "no fused attention kernel computes in fp32 (use bf16/fp16)");
  if (s.head_dim > 256) refuse(c, "attention kernels support head_dim <= 256; got " + std::to_string(s.head_dim));
  if (o.block_sparse) {
    switch (kernel) {
      case AttentionKernel::fa1:
      case AttentionKernel::fa4:
      case AttentionKernel::q2fp8:
      case AttentionKernel::fp8fp8: break;
      default:
        refuse(c, std::string(to_string(kernel)) +
                      " has no block-sparse mode (block-sparse FlashAttention exists in FA1 and FA4; the seeds' "
                      "q2fp8/fp8fp8 prune decode blocks)");
    }
  }
}

void validate_shape(const AttentionShape& s, const AttentionOptions& o) {
  auto positive = [](std::int64_t v, const char* name) {
    if (v < 1) throw InvalidArgumentError(std::string("attention ") + name + ": must be >= 1, got " + std::to_string(v));
  };
  positive(s.batch, "batch");
  positive(s.q_heads, "q_heads");
  positive(s.kv_heads, "kv_heads");
  positive(s.q_len, "q_len");
  positive(s.kv_len, "kv_len");
  positive(s.head_dim, "head_dim");
  if (s.q_heads % s.kv_heads != 0)
    throw InvalidArgumentError("attention: kv_heads " + std::to_string(s.kv_heads) + " does not divide q_heads " +
                               std::to_string(s.q_heads));
  if (s.window_tokens < 0) throw InvalidArgumentError("attention window_tokens: must be >= 0");
  if (!(o.skip_fraction >= 0 && o.skip_fraction < 1))
    throw InvalidArgumentError("attention skip_fraction: must be in [0, 1), got " + std::to_string(o.skip_fraction));
  if (o.split_kv < 0) throw InvalidArgumentError("attention split_kv: must be >= 0 (0 = auto)");
}

// The tile plan of a tiled kernel (everything except FA1 and unfused).
Plan make_plan(const AttentionShape& s, AttentionKernel kernel, Precision qkv, const HardwareSpec& hw, bool decode) {
  Plan p;
  const std::int64_t d = s.head_dim;
  const std::int64_t group = s.q_heads / s.kv_heads;
  const int cc_major = hw.capabilities.compute_capability_major;
  const int cc_minor = hw.capabilities.compute_capability_minor;
  const bool fp8 = is_fp8(qkv);
  const bool causal = s.causal && !decode;  // a single query row sees every key: causal = non-causal
  const bool local = s.window_tokens > 0;
  p.mma_fraction = mma_sync_fraction(hw);
  p.rescale_alu_per_row_block = 1.0;  // FlashAttention-2: O scaled by exp(m_old - m_new) once per block
  switch (kernel) {
    case AttentionKernel::fa2:
    case AttentionKernel::cudnn:
      if (kernel == AttentionKernel::cudnn && hopper_class(hw) && decode) {
        // cuDNN's decode on Hopper is an sm_80-class kernel (mma.sync, serial softmax), the GQA group packed
        // into a 16-row tile of 128 keys with four warps across the keys: our H100 / H200 records name
        // cudnn_generated_fort_native_sdpa_sm80_flash_fprop_wmma_f16_knob_35_16x128x{128,64}_1x4x1 from 146
        // cached tokens up (hd 64 .. 128), with a lean_reduction_kernel after it when it splits, and a 64 x 64
        // tile (knob_3 ..._64x64x{128,64}_4x1x1) at 128 tokens and below (also up to 219 tokens at batch
        // <= 5, not modelled). Above head_dim 128 (unmeasured) 64-key tiles are assumed.
        p.block_q = 16;
        p.block_kv = d <= 128 ? 128 : 64;
        p.pack_gqa = group > 1;
        p.max_ctas_per_sm = 2;  // 4 warps
        break;
      }
      if (kernel == AttentionKernel::cudnn && (hopper_class(hw) || blackwell_datacenter(hw))) {
        // cuDNN's Hopper / Blackwell fused attention: an FA3-class warp-specialised kernel (tiles assumed
        // 128 × 128; cuDNN does not publish them).
        p.block_q = 128;
        p.block_kv = 128;
        p.pack_gqa = decode && group > 1;
        p.smem_stages = 2;
        p.overlapped = true;
        p.mma_fraction = 1;
        break;
      }
      // FlashAttention-2 (csrc/flash_attn): flash_fwd_launch_template.h. The decode path
      // (flash_attn_with_kvcache, q_len = 1) is the split-KV kernel with kBlockM = 64 and the GQA group
      // swapped into the query dimension (seqlenq_ngroups_swapped).
      if (decode) {
        p.block_q = 64;
        p.block_kv = d <= 64 ? 256 : (d <= 128 ? 128 : 64);
        p.pack_gqa = true;
        // The softmax stays serial in the decode kernels' compute term: the prefill's overlap (below) fitted
        // our decode records worse (k-fold 3.4 -> 3.8% H100, 4.9 -> 5.3% H200).
      } else {
        const bool sm8x = cc_major == 8 && cc_minor > 0;  // sm_86 / sm_89: 100 KB shared memory
        p.block_q = 128;
        if (d <= 64) p.block_kv = 128;
        else if (d <= 128) p.block_kv = sm8x ? (causal ? 64 : 32) : 64;
        else p.block_kv = 64;
        if (d <= 128 && sm8x && causal) p.block_q = 64;
        // The softmax overlaps the matrix products in part: two CTAs of four warps share an SM (two warps per
        // scheduler), so one warp's exponentials can issue while another's MMAs run; no warp specialisation,
        // so how far is the fitted exponent p of the smooth maximum, and a block alone on its SM runs its
        // softmax serially (lone_cta_flops). ncu on the H100 (validate/data/h100_sxm/logs/fa2_probe.txt):
        // tensor pipe busy 47 / 54 / 56% and MUFU 32 / 25 / 20% at head_dim 64 / 96 / 128, FLOP rate
        // 0.85-0.89 of head_dim 128's at head_dim 64 (records and probe). Of the forms tried on our records,
        // 5-fold held-out median H100 / H200: serial softmax 5.8 / 5.1%; serial with the exponentials outside
        // the fitted efficiency 5.0 / 4.4%; this one 4.1 / 3.8% (H200 fit -> H100 sdpa 4.3 -> 3.6%).
        p.overlapped = true;
        p.overlap_needs_pair = true;
      }
      p.max_ctas_per_sm = d <= 128 ? 2 : 1;  // 4 warps (2 CTAs per SM by registers), 8 warps above 128
      break;
    case AttentionKernel::fa3: {
      // FlashAttention-3 (hopper/tile_size.h, tile_size_fwd_sm90): {kBlockM, kBlockN} by head_dim and dtype.
      const bool nb128 = causal || local;
      p.block_q = 128;
      if (!fp8) {
        if (d <= 64) { p.block_q = 192; p.block_kv = nb128 ? 128 : 192; }
        else if (d <= 96) { p.block_q = 192; p.block_kv = local ? 128 : 144; }
        else if (d <= 128) p.block_kv = nb128 ? 128 : 176;
        else if (d <= 192) p.block_kv = local ? 96 : 128;
        else p.block_kv = local ? 64 : 80;
      } else {
        if (d <= 64) { p.block_q = 192; p.block_kv = 160; }
        else if (d <= 96) { p.block_q = 192; p.block_kv = 128; }
        else if (d <= 128) p.block_kv = 224;
        else if (d <= 192) p.block_kv = 160;
        else p.block_kv = local ? 64 : 128;
      }
      // hopper/heuristics.h should_pack_gqa: pack when the unpacked tile efficiency is below 90% of the packed one.
      if (group > 1) {
        auto eff = [&](std::int64_t rows) { return double(rows) / double(ceil_div(rows, p.block_q) * p.block_q); };
        p.pack_gqa = eff(s.q_len) < 0.9 * eff(s.q_len * group);
      }
      p.smem_stages = 2;
      p.overlapped = true;  // ping-pong warpgroups + intra-warpgroup overlap
      p.mma_fraction = 1;   // wgmma
      break;
    }
    case AttentionKernel::fa4:
      if (blackwell_datacenter(hw)) {
        // flash_attn/cute interface.py + flash_fwd_sm100.py: 128 × 128 tiles, two query tiles per CTA
        // (q_stage 2) when the packed query length exceeds 128, S and O accumulators in TMEM (one CTA per SM),
        // two softmax warpgroups, a correction warpgroup, conditional rescaling and software exp2.
        p.block_q = 128;
        p.block_kv = 128;
        p.pack_gqa = group > 1 && 128 % group == 0;
        const std::int64_t rows = s.q_len * (p.pack_gqa ? group : 1);
        p.q_stage = rows > 128 ? 2 : 1;
        p.smem_stages = 2;
        p.overlapped = true;
        p.mma_fraction = 1;  // tcgen05
        // Conditional rescaling: O is rescaled only when the row max grows by more than 2^8 (16-bit
        // inputs; threshold 0 for fp8): counted as never for 16-bit, every block for fp8.
        p.rescale_alu_per_row_block = fp8 ? 1.0 : 0.0;
        // Share of exponentials computed by the polynomial (the _TUNING_CONFIG of flash_fwd_sm100.py):
        // hd <= 128, four 32-wide fragments per 128-key row, fragments 1..2 emulated, 4 of 16 pairs per
        // fragment causal (6 of 16 non-causal 2-CTA, 8 of 16 causal fp8): 0.125, 0.1875, 0.25.
        if (d <= 128) p.emulated_exp_fraction = fp8 && causal ? 0.25 : (causal ? 0.125 : 0.1875);
      } else {
        // flash_attn/cute sm_90 path (_tile_size_fwd_sm90): an FA3-class wgmma kernel.
        p.block_q = 128;
        if (d <= 64) { p.block_q = 192; p.block_kv = 128; }
        else if (d <= 96) { p.block_q = 192; p.block_kv = (causal || local) ? 128 : 144; }
        else if (d <= 128) p.block_kv = 128;
        else if (d <= 192) p.block_kv = local ? 96 : 128;
        else p.block_kv = local ? 64 : 80;
        p.pack_gqa = group > 1;
        p.smem_stages = 2;
        p.overlapped = true;
        p.mma_fraction = 1;
      }
      break;
    case AttentionKernel::sage_int8_fp16:
    case AttentionKernel::sage_int8_fp8:
      // SageAttention (thu-ml/SageAttention): CTA_Q = 128, CTA_K = 64, FA2-style warps; the int8+fp8
      // kernel uses wgmma on sm_90.
      p.block_q = 128;
      p.block_kv = 64;
      p.max_ctas_per_sm = 2;
      if (kernel == AttentionKernel::sage_int8_fp8 && hopper_class(hw)) p.mma_fraction = 1;
      p.split_allowed = false;
      break;
    case AttentionKernel::mem_efficient:
      // PyTorch's memory-efficient backend (mem_eff_attention/kernel_forward.h, the kernel our records
      // name: fmha_cutlassF_bf16_aligned_64x128_rf_sm80): kQueriesPerBlock 64 × kKeysPerBlock 128 up to
      // head_dim 128 (32 × 128 above), 8 warps, kMinBlocksPerSm = 16 warps / 8 = 2; no split-KV, no GQA packing.
      p.block_q = d <= 128 ? 64 : 32;
      p.block_kv = 128;
      p.max_ctas_per_sm = 2;
      p.split_allowed = false;
      break;
    default: break;  // unfused, fa1 and the project's decode kernels have their own cost functions
  }
  return p;
}

// Split-KV factor of a kernel for `total_mblocks` query tiles and `n_blocks` K/V tiles.
std::int64_t choose_splits(AttentionKernel kernel, const HardwareSpec& hw, std::int64_t total_mblocks,
                           std::int64_t n_blocks, std::int64_t q_blocks, double kv_head_bytes, bool causal_or_local) {
  const std::int64_t sms = hw.sms();
  switch (kernel) {
    case AttentionKernel::fa2:
      // flash_api.cpp set_params_splitkv: slots = 2 × SMs ("128 threads per block").
      return split_kv_heuristic(total_mblocks, 2 * sms, n_blocks, 128);
    case AttentionKernel::cudnn:
    case AttentionKernel::fa3: {
      if (kernel == AttentionKernel::cudnn && !(hopper_class(hw) || blackwell_datacenter(hw)))
        return split_kv_heuristic(total_mblocks, 2 * sms, n_blocks, 128);
      // hopper/heuristics.h: split a KV head larger than L2 (50 MB assumed) only when not causal and there
      // are at least 2 × SMs query tiles; never when <= 4 K/V tiles.
      if (double(total_mblocks) >= 0.8 * double(sms)) {
        const double l2 = 50.0 * 1024 * 1024;
        if (kv_head_bytes > l2 && q_blocks >= 2 * sms && !causal_or_local)
          return std::min<std::int64_t>(std::int64_t(std::ceil(kv_head_bytes / l2)), 128);
        return 1;
      }
      if (n_blocks <= 4) return 1;
      return split_kv_heuristic(total_mblocks, sms, n_blocks, 128);
    }
    case AttentionKernel::fa4:
      // flash_attn/cute interface.py num_splits_heuristic.
      if (n_blocks <= 4 || total_mblocks == 0) return 1;
      return std::max<std::int64_t>(1, std::min({sms / total_mblocks, std::int64_t(128), n_blocks}));
    default: return 1;
  }
}

// Shared memory of one thread block: Q tiles, K and V tiles per pipeline stage (storage precision of the
// MMA operands), the fp32 output staging of FA3-class kernels is not counted.
double smem_per_cta(const Plan& p, std::int64_t d, double operand_bytes) {
  return double(p.block_q * p.q_stage) * double(d) * operand_bytes +
         p.smem_stages * 2.0 * double(p.block_kv) * double(d) * operand_bytes;
}

// FlashAttention-1 (Algorithm 1 of arXiv:2205.14135): block sizes from on-chip memory M (elements),
// Bc = floor(M / 4d) rounded down to a multiple of 16 (the MMA granularity), Br = min(Bc, d); one thread
// block per (batch, head); the outer loop runs over K/V blocks, the inner loop over query blocks, reading
// Q_i, O_i, l_i, m_i and writing O_i, l_i, m_i for every visited pair (i, j).
void fa1_cost(AttentionCost& c, const AttentionShape& s, Precision qkv, Precision kv, const HardwareSpec& hw,
              const AttentionOptions& o) {
  const double d = double(s.head_dim);
  const double el = bytes_per_element(qkv);
  const double kv_el = bytes_per_element(kv);
  const double m_elements = hw.smem_per_block_bytes.value / el;
  std::int64_t bc = std::int64_t(m_elements / (4.0 * d)) / 16 * 16;
  bc = std::max<std::int64_t>(bc, 16);
  const std::int64_t br = std::min<std::int64_t>(bc, s.head_dim);
  c.block_q = br;
  c.block_kv = bc;
  c.smem_bytes_per_cta = 4.0 * double(bc) * d * el;
  c.ctas_per_sm = std::max<std::int64_t>(1, std::int64_t(hw.smem_per_sm_bytes.value / c.smem_bytes_per_cta));
  c.ctas_per_sm = std::min<std::int64_t>(c.ctas_per_sm, 2);
  c.ctas = s.batch * s.q_heads;
  c.waves = ceil_div(c.ctas, std::int64_t(hw.sms()) * c.ctas_per_sm);
  const double keep = o.block_sparse ? 1.0 - o.skip_fraction : 1.0;
  const std::int64_t q_blocks = ceil_div(s.q_len, br);
  // Per head: visited (i, j) pairs, the rows they touch, and tensor FLOPs.
  double visited_rows = 0, first_visits_rows = 0, tiles = 0;
  for (std::int64_t i = 0; i < q_blocks; ++i) {
    const std::int64_t p0 = i * br, p1 = std::min(s.q_len, p0 + br);
    const std::int64_t t = visible_tiles(s, p0, p1, bc);
    if (t <= 0) continue;
    const double kept = std::max(1.0, std::round(double(t) * keep));
    visited_rows += kept * double(p1 - p0);
    first_visits_rows += double(p1 - p0);
    tiles += kept;
  }
  const double heads = double(s.batch) * double(s.q_heads);
  c.flops = heads * tiles * 4.0 * d * double(br) * double(bc);
  const double kv_tokens = double(loaded_keys(s));
  // K and V read once per K/V block by the CTA of each head. FlashAttention-1 has no grouped-query mode
  // (MQA/GQA arrived with FlashAttention-2): with GQA, K and V are first expanded to the query heads by a
  // copy kernel, and the attention kernel reads the expanded copies.
  const double kv_stored = double(s.batch) * double(s.kv_heads) * kv_tokens * d * 2.0 * kv_el;
  if (s.q_heads > s.kv_heads) {
    const double expanded = double(s.batch) * double(s.q_heads) * kv_tokens * d * 2.0 * el;
    c.bytes.kv_read_bytes = kv_stored;
    c.bytes.activations_written_bytes += expanded;
    c.bytes.activations_read_bytes += expanded * keep;
    c.kernels += 1;
    if (o.describe) add_note(c, "FA1 has no GQA: K and V expanded to the query heads first");
  } else {
    c.bytes.kv_read_bytes = kv_stored * keep;
  }
  // Q_i read at every visit; O_i (16-bit) and (l_i, m_i) (fp32) read at every visit but the first, written at every visit.
  c.bytes.activations_read_bytes += heads * (visited_rows * d * el + (visited_rows - first_visits_rows) * (d * 2.0 + 8.0));
  c.bytes.activations_written_bytes += heads * visited_rows * (d * 2.0 + 8.0);
  const double elements = c.flops / (4.0 * d);
  c.exp_ops = elements * (1.0 + 1.0 / double(bc));
  // Online softmax + O rescaled twice per block (diag(l_new)^-1 and the exp(m_old - m_new) factor).
  c.alu_ops = elements * (softmax_alu_per_element + 2.0 * d / double(bc));
  c.softmax_overlapped = false;
  if (o.describe) add_note(c, "FA1: one thread block per (batch, head), K/V-outer loop; Q, O, l, m re-read per K/V block (HBM "
              "traffic per the paper's IO analysis; L2 may absorb part of it at short sequences)");
}

// The unfused (materialised) path: S = QKᵀ (cuBLAS batched GEMM), P = softmax(S), O = PV; K and V are
// expanded to the query heads first when grouped (PyTorch's math SDPA repeats them).
void unfused_cost(AttentionCost& c, const AttentionShape& s, Precision qkv, Precision kv, const HardwareSpec& hw,
                  const AttentionOptions& o) {
  const double d = double(s.head_dim);
  const double el = bytes_per_element(qkv);
  const double kv_el = bytes_per_element(kv);
  const double kv_tokens = double(s.kv_len);  // the GEMMs read every key; the mask is applied to S
  const double heads = double(s.batch) * double(s.q_heads);
  const double group = double(s.q_heads / s.kv_heads);
  const double scores = heads * double(s.q_len) * double(s.kv_len);
  c.block_q = 0;
  c.block_kv = 0;
  c.flops = 4.0 * d * scores;  // every pair, masked or not
  c.kernels = 3;
  c.ctas = 0;  // cuBLAS fills the GPU
  const double kv_stored = double(s.batch) * double(s.kv_heads) * kv_tokens * d * 2.0 * kv_el;
  c.bytes.kv_read_bytes = kv_stored;
  c.bytes.activations_read_bytes = heads * double(s.q_len) * d * el;
  c.bytes.activations_written_bytes = heads * double(s.q_len) * d * 2.0;
  if (group > 1) {
    // repeat_interleave: K and V written once per query head, then read by the GEMMs.
    const double expanded = heads * kv_tokens * d * 2.0 * el;
    c.bytes.activations_written_bytes += expanded;
    c.bytes.activations_read_bytes += expanded;
    c.kernels += 1;
  } else {
    c.bytes.activations_read_bytes += 0;  // the GEMMs read K and V directly (counted in kv_read_bytes)
  }
  // S written (16-bit) and read by the softmax, P written and read by PV.
  c.bytes.activations_written_bytes += 2.0 * scores * 2.0;
  c.bytes.activations_read_bytes += 2.0 * scores * 2.0;
  c.workspace_bytes = 2.0 * scores * 2.0;
  c.exp_ops = scores;
  c.alu_ops = scores * softmax_alu_per_element;
  c.softmax_overlapped = true;  // a separate memory-bound kernel: its arithmetic hides under its traffic
  (void)hw;
  if (o.describe) add_note(c, "unfused: S and P materialised in HBM (" + std::to_string(std::int64_t(c.workspace_bytes / 1e6)) +
                  " MB workspace)");
}

// The project's decode kernels (validate/kernels/decode, mirrored from its decode_cost.hpp): one CTA per
// (KV head, split, batch) of 4 warps; each warp streams 16-token tiles with the tokens as the M dimension
// of mma.sync m16n8k16 and the G query heads of the group as N (padded to 8); P·V runs on CUDA cores.
// splitkv_bf16: dense 16-bit K and V. q2fp8: 2-bit K codes scanned for every token (D/4 B), the e5m2
// residual (D B) and 16-bit V (2D B) only for the 64-token sub-blocks that pruning keeps, fp32 scale and
// zero per channel. fp8fp8: e5m2 base scanned (D B), residual and V for kept sub-blocks.
// Splits (decode_args.hpp plan_splits): round(resident CTAs / (B·HKV)) clamped to [1, units / min units],
// resident CTAs = 2 per SM (the kernels query their occupancy at run time; 2 is assumed here).
void project_decode_cost(AttentionCost& c, const AttentionShape& s, AttentionKernel kernel, Precision kv,
                         const HardwareSpec& hw, const AttentionOptions& o) {
  const double d = double(s.head_dim);
  const std::int64_t g = s.q_heads / s.kv_heads;
  const bool pruned = kernel != AttentionKernel::splitkv_bf16;
  const double keep = pruned ? 1.0 - o.skip_fraction : 1.0;
  const std::int64_t kv_tokens = loaded_keys(s);
  const std::int64_t rows = s.batch * s.kv_heads;
  const std::int64_t resident = 2 * std::int64_t(hw.sms());
  c.block_q = ceil_div(g, 8) * 8;
  c.block_kv = 64;
  c.ctas_per_sm = 2;
  // Split plan.
  const double scan_bytes = kernel == AttentionKernel::q2fp8 ? d / 4.0 : (kernel == AttentionKernel::fp8fp8 ? d : 2.0 * d);
  const std::int64_t units = pruned ? ceil_div(kv_tokens, 64) : ceil_div(kv_tokens, 16);
  const std::int64_t min_units = pruned ? 4 : 8;
  std::int64_t max_splits = 256;
  if (pruned) {
    const double per_split = double(s.q_heads) * (d + 2.0) * 4.0;
    const double scan = double(kv_tokens) * double(s.kv_heads) * scan_bytes;
    max_splits = std::min<std::int64_t>(max_splits, std::max<std::int64_t>(1, std::int64_t(std::floor(0.125 * scan / per_split))));
  }
  std::int64_t splits = 0;
  if (o.split_kv > 0) {
    splits = std::min<std::int64_t>(o.split_kv, std::min<std::int64_t>(units, 256));
  } else {
    splits = std::llround(double(resident) / double(rows));
    splits = std::min({std::max<std::int64_t>(splits, 1), std::max<std::int64_t>(1, units / min_units), max_splits});
  }
  const std::int64_t per_split_units = ceil_div(units, splits);
  c.splits = ceil_div(units, per_split_units);  // no empty split
  c.ctas = rows * c.splits;
  c.waves = ceil_div(c.ctas, resident);
  c.kernels = c.splits > 1 ? 2 : 1;
  // Bytes (decode_cost.cpp): q read once, output written once; partials (o: D fp32, m and l) per split.
  const double token_rows = double(rows) * double(kv_tokens);
  const double q_el = 2.0;
  const double q_elems = double(s.batch) * double(s.q_heads) * d;
  if (kernel == AttentionKernel::splitkv_bf16) {
    c.bytes.kv_read_bytes = token_rows * d * 2.0 * bytes_per_element(kv);
  } else {
    c.bytes.kv_read_bytes = token_rows * scan_bytes + keep * token_rows * d * (1.0 + 2.0);
    if (kernel == AttentionKernel::q2fp8) c.bytes.scales_bytes = double(rows) * d * 4.0 * 2.0;
    c.bytes.activations_written_bytes += double(rows) * double(ceil_div(kv_tokens, 64));  // keep mask
  }
  c.bytes.activations_read_bytes = q_elems * q_el;
  c.bytes.activations_written_bytes += q_elems * q_el;
  if (c.splits > 1) {
    const double partial = double(s.batch) * double(s.q_heads) * double(c.splits) * (d + 2.0) * 4.0;
    c.bytes.activations_written_bytes += partial;
    c.bytes.activations_read_bytes += partial;
    c.workspace_bytes = partial;
  }
  // Tensor work: QKᵀ on the base format for every token (N padded to 8), the residual refinement for kept
  // tokens; P·V on CUDA cores (one FMA per head, token and channel) with the softmax.
  const double qk = 2.0 * d * double(c.block_q) * token_rows;
  c.flops = qk * (1.0 + (pruned ? keep : 0.0));
  const double kept_scores = double(g) * token_rows * keep;
  c.exp_ops = kept_scores * (1.0 + 1.0 / 16.0);
  c.alu_ops = kept_scores * (softmax_alu_per_element + d) + (pruned ? double(g) * token_rows * (1.0 - keep) : 0.0);
  if (kernel == AttentionKernel::splitkv_bf16 && bytes_per_element(kv) < 2.0) c.alu_ops += token_rows * d * 2.0 * 2.0;
  c.softmax_overlapped = false;
  const double share = uniform_sm_share(c.ctas, 2, c.waves, hw.sms());
  c.max_cta_flops = share;  // scaled to the compute equivalent by the caller
  if (o.describe) add_note(c, "GQA group of " + std::to_string(g) + " as the MMA N dimension; P·V on CUDA cores");
  if (c.splits > 1 && o.describe) add_note(c, "split-KV " + std::to_string(c.splits) + " ways + combine");
}

}  // namespace

AttentionCost attention_cost(const AttentionShape& s, AttentionKernel kernel, Precision qkv, Precision kv_cache,
                             const HardwareSpec& hw, double skip_fraction) {
  AttentionOptions o;
  o.skip_fraction = skip_fraction;
  return attention_cost(s, kernel, qkv, kv_cache, hw, o);
}

AttentionCost attention_cost(const AttentionShape& s, AttentionKernel kernel, Precision qkv, Precision kv_cache,
                             const HardwareSpec& hw, const AttentionOptions& o) {
  validate_shape(s, o);
  AttentionCost c;
  const bool pruned = kernel == AttentionKernel::q2fp8 || kernel == AttentionKernel::fp8fp8;
  const bool decode_only = pruned || kernel == AttentionKernel::splitkv_bf16;
  const bool decode = s.q_len == 1 || decode_only;
  const bool sage = kernel == AttentionKernel::sage_int8_fp16 || kernel == AttentionKernel::sage_int8_fp8;
  c.kernel_class = s.q_len == 1 ? KernelClass::attention_decode : KernelClass::attention_prefill;
  c.math = is_fp8(qkv) && !pruned ? MathPath::tc_fp8 : MathPath::tc_16bit;
  if (sage) c.math = MathPath::tc_int8;
  check_support(c, s, kernel, qkv, kv_cache, hw, o);

  const double d = double(s.head_dim);
  const double group = double(s.q_heads / s.kv_heads);
  const double q_el = bytes_per_element(qkv);
  const double kv_el = bytes_per_element(kv_cache);
  const double kv_tokens = double(loaded_keys(s));
  const double skip = (pruned || o.block_sparse) ? o.skip_fraction : 0.0;
  const double keep = 1.0 - skip;
  // Useful FLOPs: 4·D per visible pair; a block-sparse mask removes the skipped blocks; a pruned kernel
  // computes QKᵀ for every pair but PV only for the kept ones (2·D·(1 + keep)).
  const double pairs_flops = 2.0 * d * double(s.batch) * double(s.q_heads) * visible_pairs(s);
  c.useful_flops = pruned ? pairs_flops * (1.0 + keep) : 2.0 * pairs_flops * (o.block_sparse ? keep : 1.0);

  const double sfu = special_function_ops_per_s(hw);
  const double alu = alu_ops_per_s(hw);
  const double peak = hw.peak_flop_per_s(c.math);
  double tensor_s = 0;
  double lone_fraction = 0;  // the largest thread block's share of the tiles, when it runs its softmax serially

  if (kernel == AttentionKernel::fa1) {
    fa1_cost(c, s, qkv, kv_cache, hw, o);
    tensor_s = peak > 0 ? c.flops / (peak * mma_sync_fraction(hw)) : 0;
  } else if (kernel == AttentionKernel::unfused) {
    unfused_cost(c, s, qkv, kv_cache, hw, o);
    tensor_s = peak > 0 ? c.flops / peak : 0;
  } else if (decode_only) {
    if (s.q_len != 1) refuse(c, std::string(to_string(kernel)) + " is a decode kernel: one query token per sequence");
    project_decode_cost(c, s, kernel, kv_cache, hw, o);
    tensor_s = peak > 0 ? c.flops / (peak * mma_sync_fraction(hw)) : 0;
  } else {
    Plan p = make_plan(s, kernel, qkv, hw, decode);
    // Rows of the query dimension per (batch, head slot): packed GQA puts the group's query heads in it.
    const std::int64_t head_slots = p.pack_gqa ? s.kv_heads : s.q_heads;
    const std::int64_t pack = p.pack_gqa ? s.q_heads / s.kv_heads : 1;
    const std::int64_t rows = s.q_len * pack;
    // FlashAttention-2 decides its split on the split kernel's K/V blocks (set_params_splitkv: kBlockN 256 /
    // 128 / 64 by head_dim) and 64-row query blocks; every other kernel on its own tiles.
    const std::int64_t fa2_split_n = s.head_dim <= 64 ? 256 : (s.head_dim <= 128 ? 128 : 64);
    const std::int64_t n_blocks =
        ceil_div(std::int64_t(kv_tokens), kernel == AttentionKernel::fa2 ? fa2_split_n : p.block_kv);
    const std::int64_t heuristic_mblocks = kernel == AttentionKernel::fa2
                                               ? s.batch * head_slots * ceil_div(rows, 64)
                                               : s.batch * head_slots * ceil_div(rows, p.block_q * p.q_stage);
    const double kv_head_bytes = kv_tokens * d * 2.0 * kv_el;
    std::int64_t splits = 1;
    if (o.split_kv > 0) {
      splits = std::min<std::int64_t>(o.split_kv, n_blocks);
      if (!p.split_allowed && splits > 1) refuse(c, std::string(to_string(kernel)) + " has no split-KV mode");
    } else if (p.split_allowed && !(kernel == AttentionKernel::fa4 && o.block_sparse)) {
      splits = choose_splits(kernel, hw, heuristic_mblocks, n_blocks, ceil_div(rows, p.block_q), kv_head_bytes,
                             s.causal || s.window_tokens > 0);
    }
    c.splits = std::max<std::int64_t>(1, splits);
    if (kernel == AttentionKernel::fa2 && c.splits > 1) {
      // run_mha_fwd_splitkv_dispatch: flash_fwd_splitkv_kernel, kBlockM = 64, kBlockN 256 / 128 / 64.
      p.block_q = 64;
      p.block_kv = fa2_split_n;
      p.max_ctas_per_sm = 2;
    } else if (kernel == AttentionKernel::fa2 && decode) {
      // One split: mha_fwd (PyTorch's SDPA, flash_attn_func) runs the ordinary forward kernel,
      // flash_fwd_kernel with the prefill tiles (our records name flash_fwd_kernel<Flash_fwd_kernel_traits<128,
      // 128, 64, 4>> for head_dim 128 at batch x KV heads >= 0.8 x 2 x SMs), the swapped GQA group in its
      // 128-row query tile. (flash_attn_with_kvcache forces the split kernel instead: kBlockM 64.)
      AttentionShape one = s;
      one.causal = false;  // mha_fwd: a single query row is not causal
      const Plan forward = make_plan(one, kernel, qkv, hw, /*decode=*/false);
      p.block_q = forward.block_q;
      p.block_kv = forward.block_kv;
      p.max_ctas_per_sm = forward.max_ctas_per_sm;
    }
    c.block_q = p.block_q;
    c.block_kv = p.block_kv;
    c.softmax_overlapped = p.overlapped;
    const std::int64_t cta_rows = p.block_q * p.q_stage;
    const std::int64_t q_blocks = ceil_div(rows, cta_rows);
    const std::int64_t total_mblocks = s.batch * head_slots * q_blocks;
    const std::int64_t n_blocks_final = ceil_div(std::int64_t(kv_tokens), c.block_kv);
    c.ctas = total_mblocks * c.splits;
    const double operand_el = sage ? 1.0 : (is_fp8(qkv) ? 1.0 : 2.0);
    c.smem_bytes_per_cta = smem_per_cta(p, s.head_dim, operand_el);
    if (c.smem_bytes_per_cta > hw.smem_per_block_bytes.value) {
      refuse(c, std::string(to_string(kernel)) + " tiles of " + std::to_string(cta_rows) + " x " +
                    std::to_string(c.block_kv) + " need " + std::to_string(std::int64_t(c.smem_bytes_per_cta)) +
                    " B of shared memory; " + hw.name + " has " +
                    std::to_string(std::int64_t(hw.smem_per_block_bytes.value)) + " B per block");
    }
    c.ctas_per_sm = std::clamp<std::int64_t>(
        std::int64_t(hw.smem_per_sm_bytes.value / std::max(1.0, c.smem_bytes_per_cta)), 1, p.max_ctas_per_sm);
    c.waves = ceil_div(c.ctas, std::int64_t(hw.sms()) * c.ctas_per_sm);
    // Decode is a stream of K/V tiles: each resident block has about one tile (K or V) outstanding, so the
    // bytes in flight, not the block count, set the bandwidth it reaches (Little's law). FlashAttention-2's
    // one-split decode kernel (64-key tiles) on many sequences reaches about 55% of what its split kernel
    // (128-key tiles) reaches on the same bytes (our H200 sdpa records, batch 32 vs 8 at 131072 tokens).
    if (decode) {
      const double resident = double(std::min<std::int64_t>(c.ctas, std::int64_t(hw.sms()) * c.ctas_per_sm));
      // A narrower stored KV format is assumed to keep the same bytes per tile (more keys): unmeasured.
      c.inflight_bytes = resident * double(c.block_kv) * d * std::max(kv_el, 2.0);
    }

    // Executed tiles per (batch, head slot): causal skipping per query block (positions a block covers).
    double tiles = 0, max_tiles = 0;
    if (decode || (!s.causal && s.window_tokens == 0)) {
      tiles = double(q_blocks) * double(n_blocks_final);
      max_tiles = double(n_blocks_final);
    } else if (s.causal && s.kv_len >= s.q_len) {
      // Causal: block b holds packed rows [b·cta, (b + 1)·cta), positions p0 = floor(b·cta / pack) ..
      // p1 − 1 = floor(((b + 1)·cta − 1) / pack). Its last visible key is kv − q + p1 − 1, so it runs up to
      // ceil((kv − q + p1) / K) = floor(((b + 1)·cta − 1 + (kv − q + K)·pack) / (pack·K)) tiles (the last block:
      // all it sees); a window of W keys drops the floor(max(0, kv − q + p0 − W + 1) / K) tiles before it.
      // Both sums in closed form (floor_sum); the per-block maximum from the blocks where the count can peak.
      const std::int64_t K = c.block_kv, W = s.window_tokens, off = s.kv_len - s.q_len;
      auto block_tiles = [&](std::int64_t b) {
        const std::int64_t p0 = b * cta_rows / pack;
        const std::int64_t p1 = std::min(s.q_len, ((b + 1) * cta_rows - 1) / pack + 1);
        return visible_tiles(s, p0, p1, K);
      };
      const std::int64_t last = block_tiles(q_blocks - 1);
      double upper = double(floor_sum(q_blocks - 1, pack * K, cta_rows, cta_rows - 1 + (off + K) * pack)) + double(last);
      std::int64_t first_windowed = q_blocks;  // first block whose window starts after key 0
      if (W > 0) {
        const std::int64_t t = std::max<std::int64_t>(0, W - off);  // need p0 >= t
        first_windowed = ceil_div(t * pack, cta_rows);
        if (first_windowed < q_blocks - 1)
          upper -= double(floor_sum(q_blocks - 1 - first_windowed, pack * K, cta_rows,
                                    first_windowed * cta_rows + (off - W + 1) * pack));
      }
      tiles = upper;
      max_tiles = double(last);
      if (W > 0) {
        // After the window is full the count repeats with period pack·K / gcd(cta, pack·K) blocks.
        const std::int64_t period = pack * K / std::gcd(cta_rows, pack * K);
        const std::int64_t from = std::max<std::int64_t>(0, first_windowed - 1);
        for (std::int64_t b = from; b < std::min(q_blocks, from + period + 1); ++b)
          max_tiles = std::max(max_tiles, double(block_tiles(b)));
      }
    } else {
      for (std::int64_t b = 0; b < q_blocks; ++b) {
        // Block b holds packed rows [b·cta, (b + 1)·cta): query positions p0 .. p1 − 1.
        const std::int64_t p0 = b * cta_rows / pack;
        const std::int64_t p1 = std::min(s.q_len, ((b + 1) * cta_rows - 1) / pack + 1);
        const std::int64_t t = visible_tiles(s, p0, p1, c.block_kv);
        tiles += double(t);
        max_tiles = std::max(max_tiles, double(t));
      }
    }
    // FlashAttention-2, causal, with a length off its tiles (flash_api: Is_even_MN false unless q_len % kBlockM
    // and kv_len % kBlockN are 0): flash_fwd_kernel runs one more masked iteration per query block
    // (n_masking_steps = ceil(kBlockM / kBlockN) + 1). With square 128 x 128 tiles (head_dim <= 64) that doubles
    // the masked iterations and costs about one tile more per block. Measured on the H100
    // (validate/data/h100_sxm/logs/fa2_probe.txt, "ragged": 6 x 32 heads): head_dim 64 causal 769 tokens 142 us
    // against 105 us at 896 (the same 7 query blocks); 1026 and 2050 tokens 1.29x and 1.16x their tile count's
    // time; non-causal 0.92-1.01x (no extra cost). With 128 x 64 tiles (2 -> 3 masked iterations) the probe
    // shows 1.12x, 1.07x, 1.03x, but our GQA records fit better without a term there: applying it to every
    // tile shape, FA2 prefill hold-out 6.9 -> 7.9% and the fresh suites 5.6 / 5.7 / 6.6 -> 6.8 / 6.8 / 8.2%
    // (those suites were all evaluated before this choice: see the README); the probe's 40 timings 7.5 -> 5.9%.
    if (kernel == AttentionKernel::fa2 && s.causal && !decode && c.block_kv == cta_rows &&
        (s.q_len % cta_rows != 0 || s.kv_len % c.block_kv != 0)) {
      tiles += double(q_blocks);
      max_tiles += 1;
    }
    const double slots = double(s.batch) * double(head_slots);
    // cuDNN's Hopper kernels exist for head_dim 64 and 128 only: our records name ..._64x128x128 (prefill)
    // and ..._16x128x128 (decode) for head_dim 96 as for 128, so a 96-wide head computes 128 wide (its
    // bytes stay 96 wide: the loads are bounded). Above 128 (unmeasured) no padding is assumed.
    const double d_mma = (kernel == AttentionKernel::cudnn && hopper_class(hw) && s.head_dim < 128)
                             ? (s.head_dim <= 64 ? 64.0 : 128.0)
                             : d;
    const double tile_flops = 4.0 * d_mma * double(cta_rows) * double(c.block_kv);
    double qk_tiles = tiles, pv_tiles = tiles;
    if (o.block_sparse) {
      qk_tiles = pv_tiles = tiles * keep;
      max_tiles *= keep;
    }
    c.flops = slots * 0.5 * tile_flops * (qk_tiles + pv_tiles);
    c.flops_per_key_all_tiles = slots * double(q_blocks) * 4.0 * d_mma * double(cta_rows);

    // Bytes. K and V: once per KV head (packed: one tile reads them; unpacked: the query heads of a group
    // and the query blocks of a head re-read them from L2, assumed resident).
    const double kv_heads_tokens = double(s.batch) * double(s.kv_heads) * kv_tokens;
    double kv_read = 0;
    switch (kernel) {
      case AttentionKernel::sage_int8_fp16:
      case AttentionKernel::sage_int8_fp8:
        // Main kernel: int8 K (+ fp32 scale per 64-key block), V in fp16 or fp8 (+ per-channel scale).
        kv_read = kv_heads_tokens * d * (1.0 + (kernel == AttentionKernel::sage_int8_fp8 ? 1.0 : 2.0)) +
                  kv_heads_tokens / 64.0 * 4.0;
        break;
      default: kv_read = kv_heads_tokens * d * 2.0 * kv_el * keep; break;
    }
    c.bytes.kv_read_bytes = kv_read;
    const double q_rows = double(s.batch) * double(s.q_heads) * double(s.q_len);
    c.bytes.activations_read_bytes = q_rows * d * (sage ? 1.0 : q_el);
    c.bytes.activations_written_bytes = q_rows * d * 2.0;  // 16-bit output (fp8 kernels write bf16)
    if (is_fp8(qkv)) c.bytes.scales_bytes = 3.0 * double(s.batch * s.kv_heads) * 4.0;  // q/k/v descales
    if (o.block_sparse) {
      // Block index lists: one int32 per kept (query block, K/V block) pair plus a count per query block.
      c.bytes.scales_bytes += slots * (qk_tiles + double(q_blocks)) * 4.0;
    }
    if (sage) {
      // The quantisation kernel: reads 16-bit Q and K (and V for the fp8 PV variant, which is also smoothed
      // per channel), writes int8 Q, K with one fp32 scale per block (and fp8 V).
      const double kv16 = kv_heads_tokens * d * 2.0;
      const bool v8 = kernel == AttentionKernel::sage_int8_fp8;
      c.bytes.activations_read_bytes += q_rows * d * 2.0 + kv16 * (v8 ? 2.0 : 1.0);
      c.bytes.activations_written_bytes += q_rows * d + kv_heads_tokens * d * (v8 ? 2.0 : 1.0);
      c.bytes.scales_bytes += (q_rows / 128.0 + kv_heads_tokens / 64.0) * 4.0 * 2.0;
      c.kernels += 1;
    }
    if (c.splits > 1) {
      // Partial O (fp32) and the softmax statistics per split and query row, written by the main kernel
      // and read by the combine kernel.
      const double partial = double(c.splits) * q_rows * (d + 1.0) * 4.0;  // out_accum + lse_accum
      c.bytes.activations_written_bytes += partial;
      c.bytes.activations_read_bytes += partial;
      c.workspace_bytes = partial;
      c.kernels += 1;
    }

    // Softmax work: exponentials for every computed score element, the per-block rescale exponential per
    // row, fp32 work per element and O rescaling per row and block.
    const double pv_elements = slots * double(cta_rows) * double(c.block_kv) * pv_tiles;
    const double e = p.emulated_exp_fraction;
    c.exp_ops = pv_elements * (1.0 - e) + pv_elements / double(c.block_kv);
    c.alu_ops = pv_elements * (softmax_alu_per_element + e * emulated_exp_alu_ops +
                               p.rescale_alu_per_row_block * d_mma / double(c.block_kv));
    if (!sage && kv_el < q_el) c.alu_ops += kv_heads_tokens * keep * d * 2.0 * 2.0;  // dequantise K and V on load
    if (peak > 0) {
      if (sage) {
        // QKᵀ in int8; PV in fp16 (sage_int8_fp16) or fp8 (sage_int8_fp8), each at its own peak.
        const double pv_peak = hw.peak_flop_per_s(kernel == AttentionKernel::sage_int8_fp8 ? MathPath::tc_fp8 : MathPath::tc_16bit);
        tensor_s = (c.flops / 2.0) / (peak * p.mma_fraction) + (c.flops / 2.0) / (pv_peak * p.mma_fraction);
      } else {
        tensor_s = c.flops / (peak * p.mma_fraction);
      }
    }
    // Makespan of one SM, as its share of the total compute: uniform tiles fill `waves` waves (co-resident
    // blocks share the SM). Causal tiles differ in length. FA3/FA4 schedule them longest first, so the
    // largest block or an even share bounds the makespan. FlashAttention-2 does not: its grid is (query
    // blocks, batch, heads) with m_block = blockIdx.x (flash_fwd_kernel.h, compute_attn), so each head's
    // blocks are dispatched shortest first and the heaviest come last: in_order_makespan_tiles. cuDNN does
    // not publish its order; our records fit in-order dispatch better than longest-first (causal prefill,
    // 5-fold held-out median 6.3% vs 8.2% on the H100, 6.1% vs 8.2% on the H200; hold-out shapes 9.7% vs 11.5%).
    const bool uniform = decode || (!s.causal && s.window_tokens == 0);
    if (uniform) {
      c.max_cta_flops = uniform_sm_share(c.ctas, c.ctas_per_sm, c.waves, hw.sms());
      if (p.overlap_needs_pair) lone_fraction = 1.0 / double(std::max<std::int64_t>(1, c.ctas));
    } else {
      // With split-KV a query block's tiles are spread over its splits.
      const double total_tiles = std::max(1.0, tiles * slots);
      const double largest = std::ceil(max_tiles / double(c.splits));
      const bool in_order = kernel == AttentionKernel::fa2 || kernel == AttentionKernel::cudnn;
      const double critical = in_order ? in_order_makespan_tiles(total_tiles, largest, c.ctas, c.ctas_per_sm, hw.sms())
                                       : largest;
      c.max_cta_flops = std::max(critical / total_tiles, 1.0 / double(hw.sms()));
      if (p.overlap_needs_pair) lone_fraction = largest / total_tiles;
    }
    if (p.pack_gqa && group > 1 && o.describe) add_note(c, "GQA packed: " + std::to_string(pack) + " query heads per tile");
    if (c.splits > 1 && o.describe) add_note(c, "split-KV " + std::to_string(c.splits) + " ways + combine");
    if (kernel == AttentionKernel::fa4 && blackwell_datacenter(hw) && o.describe)
      add_note(c, "FA4 sm_100: tcgen05 MMA into TMEM, 2 query tiles per CTA, software exp2 for " +
                      std::to_string(int(std::round(e * 1000) / 10)) + "% of exponentials, conditional O rescaling");
    if (kernel == AttentionKernel::fa4 && hopper_class(hw) && o.describe) add_note(c, "FA4 sm_90 path: FA3-class wgmma kernel");
    if (kernel == AttentionKernel::cudnn && !(hopper_class(hw) || blackwell_datacenter(hw)) && o.describe)
      add_note(c, "cuDNN runs an FA2-class kernel below sm_90");
  }

  // The compute term at the math path's peak.
  c.tensor_s = tensor_s;
  c.softmax_s = std::max(sfu > 0 ? c.exp_ops / sfu : 0.0, alu > 0 ? c.alu_ops / alu : 0.0);
  const double compute_s = c.softmax_overlapped ? std::max(tensor_s, c.softmax_s) : tensor_s + c.softmax_s;
  c.compute_flops = peak > 0 ? compute_s * peak : c.flops;
  if (kernel == AttentionKernel::fa1) {
    c.max_cta_flops = uniform_sm_share(c.ctas, c.ctas_per_sm, c.waves, hw.sms()) * c.compute_flops;
  } else if (kernel == AttentionKernel::unfused) {
    c.max_cta_flops = 0;
  } else {
    c.max_cta_flops *= c.compute_flops;
    // A thread block whose softmax overlaps only another block's MMAs runs it serially when alone on its SM
    // (one warp per scheduler): the makespan is at least its own tiles at the serial pace.
    if (lone_fraction > 0 && peak > 0) c.lone_cta_flops = lone_fraction * (tensor_s + c.softmax_s) * peak;
  }
  if (pruned && skip > 0 && o.describe)
    add_note(c, "pruned: " + std::to_string(int(std::round(skip * 100))) + "% of K/V blocks skip the residual and V");
  if (o.block_sparse && skip > 0 && o.describe)
    add_note(c, "block-sparse: " + std::to_string(int(std::round(skip * 100))) + "% of blocks skipped");
  if (kv_el < q_el && !sage && !pruned && o.describe) add_note(c, std::string("K/V stored in ") + std::string(to_string(kv_cache)) +
                                                       ", dequantised on load");
  return c;
}

Op attention_op(const AttentionShape& shape, AttentionKernel kernel, Precision qkv, Precision kv_cache,
                const HardwareSpec& hw, const AttentionOptions& options) {
  const AttentionCost ac = attention_cost(shape, kernel, qkv, kv_cache, hw, options);
  Op at;
  at.type = OperatorType::ATTENTION;
  at.kernel = ac.kernel_class;
  at.kernels_per_instance = ac.kernels;
  if (ac.splits > 1 && kernel == AttentionKernel::fa2) {
    // flash_fwd_splitkv_combine_kernel: a small kernel that walks the splits one after another per row
    // (CUPTI on the H200: 3.9 µs + 0.18 µs per split, from 26.6 µs at 128 splits to 5 µs at 11).
    at.follow_up_kernels = 1;
    at.serial_steps = double(ac.splits);
  }
  at.math = ac.math;
  at.support = ac.supported ? Support::native : Support::unsupported;
  at.note = ac.supported ? ac.notes : ac.reason;
  // A KV format no tensor-core path consumes on this GPU is dequantised to 16-bit inside the attention
  // kernel: its bytes are read as stored (scales included), its math stays 16-bit. The pruned kernels
  // (q2fp8, fp8fp8) define their own KV formats.
  const bool own_kv_format = kernel == AttentionKernel::q2fp8 || kernel == AttentionKernel::fp8fp8;
  if (ac.supported && !own_kv_format && format_support(hw, kv_cache) == Support::emulated) {
    at.support = Support::emulated;
    if (options.describe) {
      char el[32];
      std::snprintf(el, sizeof el, "%g", bytes_per_element(kv_cache));
      at.note = (at.note.empty() ? std::string() : at.note + "; ") + "KV cache in " + std::string(to_string(kv_cache)) +
                " (" + el + " B/element with scales) is dequantised to 16-bit inside the attention kernel: no tensor-core "
                "path consumes " + std::string(to_string(kv_cache)) + " on " + hw.name + " (" + sm_name(hw) + ")";
    }
  }
  at.activation_precision = qkv;
  at.weight_precision = kv_cache;
  at.flops = ac.useful_flops;
  at.executed_flops = ac.compute_flops;
  at.critical_path_flops = ac.max_cta_flops;
  at.lone_block_flops = ac.lone_cta_flops;
  // Overlapped softmax: the tensor-core work and the exponentials are two pipelines; the roofline combines
  // them with the kernel's fitted overlap (smooth maximum) instead of assuming a perfect max().
  const double peak = hw.peak_flop_per_s(ac.math);
  if (ac.softmax_overlapped && peak > 0 && ac.tensor_s > 0 && kernel != AttentionKernel::unfused) {
    at.executed_flops = ac.tensor_s * peak;
    at.overlapped_s = ac.softmax_s;
  }
  at.bytes = ac.bytes;
  at.attention = shape;
  at.attention_kernel = kernel;
  at.parallel_ctas = ac.ctas;
  at.inflight_bytes = ac.inflight_bytes;
  if (ac.kernel_class == KernelClass::attention_prefill) at.flops_per_overhead_key = ac.flops_per_key_all_tiles;
  return at;
}

double attention_prior_compute_efficiency(AttentionKernel kernel, MathPath math, const HardwareSpec& hw, bool prefill) {
  const bool modern = hopper_class(hw) || blackwell_datacenter(hw);
  // FlashAttention-2 class (mma.sync, softmax partly overlapped): 0.67 of the compute term where mma.sync
  // reaches the peak (A100; the FA2 paper's 50-73% of peak), 0.51 on Hopper / Blackwell, where mma.sync
  // reaches 2/3 of it: FA2's 335 TFLOP/s at head_dim 128 on the H100 (FA3 paper, Fig. 5) over this model's
  // compute term with the prior exponent p = 4 (tensor 7.76e-13 s per score element, exponentials 2.43e-13).
  // Decode keeps the serial softmax, and 0.67 read through it.
  double e = modern && prefill ? 0.51 : 0.67;
  switch (kernel) {
    case AttentionKernel::fa3: e = 0.6; break;
    case AttentionKernel::cudnn: e = modern ? 0.6 : 0.67; break;
    case AttentionKernel::fa4: e = blackwell_datacenter(hw) ? 0.71 : 0.6; break;
    case AttentionKernel::fa1: e = fa1_prior_efficiency; break;
    case AttentionKernel::unfused: e = 0.6; break;  // batched GEMMs with inner dimension head_dim (inferred)
    default: break;
  }
  if (math == MathPath::tc_fp8 || math == MathPath::tc_int8) e *= 0.8;
  return e;
}

// ---- the seed's API ----------------------------------------------------------------------------------

namespace {
constexpr std::string_view version_names[flash_attention_version_count] = {"fa1", "fa2", "fa3", "fa4"};
}

std::string_view to_string(FlashAttentionVersion v) { return version_names[static_cast<std::size_t>(v)]; }

FlashAttentionVersion parse_flash_attention_version(std::string_view s) {
  std::string l(s);
  std::transform(l.begin(), l.end(), l.begin(), [](unsigned char ch) { return char(std::tolower(ch)); });
  for (std::size_t i = 0; i < flash_attention_version_count; ++i)
    if (version_names[i] == l) return FlashAttentionVersion(i);
  throw UnknownNameError("FlashAttention version", std::string(s), {"fa1", "fa2", "fa3", "fa4"});
}

AttentionKernel attention_kernel_of(FlashAttentionVersion v) {
  switch (v) {
    case FlashAttentionVersion::FA1: return AttentionKernel::fa1;
    case FlashAttentionVersion::FA2: return AttentionKernel::fa2;
    case FlashAttentionVersion::FA3: return AttentionKernel::fa3;
    case FlashAttentionVersion::FA4: return AttentionKernel::fa4;
  }
  return AttentionKernel::fa2;
}

std::ostream& operator<<(std::ostream& os, const FlashAttentionConfig& c) {
  os << "FlashAttentionConfig{" << to_string(c.version) << ", qkv " << to_string(c.qkv_precision) << ", kv "
     << to_string(c.kv_cache_precision) << (c.use_native_fp8 ? ", native fp8" : "");
  if (c.block_sparse) os << ", block-sparse " << c.sparsity_ratio;
  if (c.split_kv > 0) os << ", split " << c.split_kv;
  return os << "}";
}

std::ostream& operator<<(std::ostream& os, const FlashAttentionMetrics& m) {
  if (!m.supported) return os << "FlashAttentionMetrics{" << m.name << " refused: " << m.reason << "}";
  return os << "FlashAttentionMetrics{" << m.name << ", " << m.predicted_time_s * 1e6 << " us, " << m.bottleneck
            << ", AI " << m.arithmetic_intensity_flop_per_byte << ", " << m.hbm_bytes << " B, tiles " << m.cost.block_q
            << "x" << m.cost.block_kv << ", splits " << m.cost.splits << "}";
}

FlashAttentionRoofline::FlashAttentionRoofline(const HardwareSpec& hw) : hw_(hw), calibration_(Calibration::priors(hw)) {
  HardwareRegistry only;
  only.add(hw);
  calibration_ = calibration_for(hw, only);
}

FlashAttentionRoofline::FlashAttentionRoofline(const HardwareSpec& hw, Calibration calibration)
    : hw_(hw), calibration_(std::move(calibration)) {}

FlashAttentionMetrics FlashAttentionRoofline::predict(std::int64_t batch, std::int64_t num_heads,
                                                      std::int64_t num_kv_heads, std::int64_t seq_len_q,
                                                      std::int64_t seq_len_kv, std::int64_t head_dim, bool causal,
                                                      const FlashAttentionConfig& config) const {
  AttentionShape s;
  s.batch = batch;
  s.q_heads = num_heads;
  s.kv_heads = num_kv_heads;
  s.q_len = seq_len_q;
  s.kv_len = seq_len_kv;
  s.head_dim = head_dim;
  s.causal = causal;
  return predict(s, config);
}

FlashAttentionMetrics FlashAttentionRoofline::predict(const AttentionShape& shape, const FlashAttentionConfig& config) const {
  if (!(config.sparsity_ratio >= 0 && config.sparsity_ratio < 1))
    throw InvalidArgumentError("sparsity_ratio: must be in [0, 1), got " + std::to_string(config.sparsity_ratio));
  AttentionOptions o;
  o.block_sparse = config.block_sparse;
  o.skip_fraction = config.block_sparse ? config.sparsity_ratio : 0.0;
  o.split_kv = config.split_kv;
  // fp8 Q/K/V without native fp8 math: stored in fp8, dequantised to 16-bit for the matrix products.
  Precision compute = config.qkv_precision;
  if (is_fp8(compute) && !config.use_native_fp8) compute = Precision::bf16;
  FlashAttentionMetrics m = predict_kernel(shape, attention_kernel_of(config.version), compute,
                                           config.kv_cache_precision, o);
  if (is_fp8(config.qkv_precision) && !config.use_native_fp8)
    m.notes += std::string(m.notes.empty() ? "" : "; ") + "use_native_fp8 off: fp8 inputs dequantised to bf16";
  return m;
}

FlashAttentionMetrics FlashAttentionRoofline::predict_kernel(const AttentionShape& shape, AttentionKernel kernel,
                                                             Precision qkv, Precision kv_cache,
                                                             const AttentionOptions& options) const {
  FlashAttentionMetrics m;
  m.name = std::string(to_string(kernel));
  m.kernel = kernel;
  m.cost = attention_cost(shape, kernel, qkv, kv_cache, hw_, options);
  m.supported = m.cost.supported;
  m.reason = m.cost.reason;
  m.notes = m.cost.notes;
  m.op = attention_op(shape, kernel, qkv, kv_cache, hw_, options);
  m.flops = m.cost.useful_flops;
  m.executed_flops = m.cost.flops;
  m.hbm_bytes = m.cost.bytes.total();
  m.arithmetic_intensity_flop_per_byte = m.hbm_bytes > 0 ? m.flops / m.hbm_bytes : 0;
  if (!m.supported) {
    m.bottleneck = "refused";
    return m;
  }
  m.prediction = roofline::predict(m.op, hw_, calibration_);
  m.predicted_time_s = m.prediction.time_s;
  m.interval_low_s = m.prediction.interval_low_s;
  m.interval_high_s = m.prediction.interval_high_s;
  m.bound = m.prediction.bound;
  m.critical_intensity_flop_per_byte = m.prediction.critical_intensity_flop_per_byte;
  m.achieved_flop_per_s = m.predicted_time_s > 0 ? m.flops / m.predicted_time_s : 0;
  switch (m.bound) {
    case Bound::memory: m.bottleneck = "memory"; break;
    case Bound::latency: m.bottleneck = "latency"; break;
    case Bound::compute:
      m.bottleneck = m.cost.softmax_s > m.cost.tensor_s ? "compute (softmax exponentials)" : "compute (tensor cores)";
      break;
  }
  return m;
}

std::vector<FlashAttentionMetrics> compare_fa_versions(const FlashAttentionRoofline& roofline, const AttentionShape& shape,
                                                       bool include_variants, double skip_fraction) {
  std::vector<FlashAttentionMetrics> out;
  const HardwareSpec& hw = roofline.hardware();
  out.push_back(roofline.predict_kernel(shape, AttentionKernel::unfused, Precision::bf16, Precision::bf16));
  for (std::size_t i = 0; i < flash_attention_version_count; ++i) {
    FlashAttentionConfig c;
    c.version = FlashAttentionVersion(i);
    out.push_back(roofline.predict(shape, c));
  }
  // fp8 where the kernel has an fp8 path on this GPU.
  for (FlashAttentionVersion v : {FlashAttentionVersion::FA3, FlashAttentionVersion::FA4}) {
    FlashAttentionConfig c;
    c.version = v;
    c.qkv_precision = c.kv_cache_precision = Precision::fp8_e4m3;
    c.use_native_fp8 = true;
    FlashAttentionMetrics m = roofline.predict(shape, c);
    m.name += "_fp8";
    if (m.supported || hw.capabilities.native_fp8) out.push_back(std::move(m));
  }
  out.push_back(roofline.predict_kernel(shape, AttentionKernel::cudnn, Precision::bf16, Precision::bf16));
  if (include_variants) {
    AttentionOptions pruned;
    pruned.skip_fraction = skip_fraction;
    if (shape.q_len == 1) {
      out.push_back(roofline.predict_kernel(shape, AttentionKernel::splitkv_bf16, Precision::bf16, Precision::bf16));
      out.push_back(roofline.predict_kernel(shape, AttentionKernel::q2fp8, Precision::bf16, Precision::bf16, pruned));
      out.push_back(roofline.predict_kernel(shape, AttentionKernel::fp8fp8, Precision::bf16, Precision::bf16, pruned));
    }
    out.push_back(roofline.predict_kernel(shape, AttentionKernel::sage_int8_fp16, Precision::bf16, Precision::bf16));
    out.push_back(roofline.predict_kernel(shape, AttentionKernel::sage_int8_fp8, Precision::bf16, Precision::bf16));
  }
  return out;
}

}  // namespace roofline
