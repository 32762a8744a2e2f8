// Attention cost per implementation, modelled from each kernel's algorithm: tile sizes from shared
// memory, thread blocks and waves over the SMs, causal tile skipping, GQA packing, split-KV decode with a
// combine pass, FlashAttention-1's K/V-outer loop (Q, O and the softmax statistics re-read per K/V block),
// the softmax's exponentials (MUFU) and other fp32 work that a kernel does or does not overlap with its
// matrix products, block sparsity and the seeds' pruned quantised decode. Times come from the roofline's
// calibrated predict(): the cost here is FLOPs, bytes and parallelism; the efficiencies are calibrated.
// Sources: FlashAttention (Dao et al., arXiv:2205.14135), FlashAttention-2 (arXiv:2307.08691),
// FlashAttention-3 (Shah et al., arXiv:2407.08608), FlashAttention-4 (Zadouri et al., 2026; code in
// Dao-AILab/flash-attention flash_attn/cute), SageAttention (arXiv:2410.02367, 2411.10958),
// ../shared/reference/kernels.md; docs/attention.md explains every choice.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

#include "roofline/hardware.hpp"
#include "roofline/operators.hpp"
#include "roofline/precision.hpp"
#include "roofline/roofline.hpp"

namespace roofline {

/// What one attention call does beyond its shape, kernel and precisions.
struct AttentionOptions {
  /// Fraction of K/V blocks skipped: the keep/skip decision of a pruned decode kernel (q2fp8, fp8fp8:
  /// every block's low-precision K is still scanned) or the sparsity of a block-sparse mask (skipped
  /// blocks are neither loaded nor computed). In [0, 1).
  double skip_fraction = 0;
  /// A block-sparse mask (FlashAttention-1 block-sparse, FlashAttention-4 block_sparse_tensors);
  /// kernels without a block-sparse mode are refused.
  bool block_sparse = false;
  /// 0: the kernel's own split-KV heuristic; otherwise the number of K/V splits (decode kernels).
  std::int64_t split_kv = 0;
  /// Fill AttentionCost::notes (false skips the text: design-space sweeps).
  bool describe = true;
  bool operator==(const AttentionOptions&) const = default;
};

struct AttentionCost {
  bool supported = true;
  std::string reason;             ///< why the kernel cannot run on this GPU (when !supported)
  double flops = 0;               ///< tensor-core FLOPs of the executed tiles, padding included (4·D per query-key pair)
  double useful_flops = 0;        ///< FLOPs of the visible (and kept) query-key pairs only
  /// The compute term in FLOPs at the peak of `math`: tensor FLOPs (scaled where a kernel's MMA cannot
  /// reach that peak, or where its two products run on different paths) plus the softmax work that the
  /// kernel does not overlap with its matrix products. This is what the roofline divides by its
  /// calibrated compute efficiency.
  double compute_flops = 0;
  double max_cta_flops = 0;       ///< compute FLOPs (as compute_flops) one SM executes over the makespan
  /// Compute FLOPs of the largest thread block alone on an SM with its softmax serial (kernels whose softmax
  /// overlaps only a co-resident block's matrix products: FlashAttention-2); 0: not such a kernel.
  double lone_cta_flops = 0;
  double exp_ops = 0;             ///< exponentials (MUFU ex2) executed
  double alu_ops = 0;             ///< other fp32 softmax work: max, scale-subtract, row sums, conversions, O rescaling
  double softmax_s = 0;           ///< time of the exponentials / fp32 work at the SM's issue rates (no efficiency)
  double tensor_s = 0;            ///< time of the matrix products at the datasheet peak (no efficiency)
  bool softmax_overlapped = false;  ///< warp-specialised pipelining overlaps softmax with the matrix products
  TensorBytes bytes;              ///< HBM traffic of the whole call (all kernels)
  double workspace_bytes = 0;     ///< temporary device memory: materialised S and P, split-KV partials
  std::int64_t block_q = 0;       ///< query rows per tile (decode with GQA packing: query heads × q_len)
  std::int64_t block_kv = 0;      ///< key rows per tile
  std::int64_t ctas = 0;          ///< thread blocks (tiles) of the main kernel
  std::int64_t ctas_per_sm = 1;   ///< co-resident thread blocks per SM (shared memory, registers, TMEM)
  std::int64_t waves = 1;         ///< ceil(ctas / (SMs · ctas_per_sm))
  /// K/V bytes the resident thread blocks have in flight across the GPU (one K or V tile each, Little's
  /// law); 0 where the kernel's tiling is not modelled. Decode streams at min(1, this / needed) of HBM speed.
  double inflight_bytes = 0;
  /// FLOPs of one key row over all query tiles: slots × query tiles × 4 · D · rows per tile (0: not tiled).
  double flops_per_key_all_tiles = 0;
  double smem_bytes_per_cta = 0;  ///< shared memory of one thread block's tiles
  std::int64_t splits = 1;        ///< split-KV factor (decode)
  std::int32_t kernels = 1;       ///< kernel launches (split-KV adds a combine kernel, Sage a quantisation kernel)
  KernelClass kernel_class = KernelClass::attention_prefill;
  MathPath math = MathPath::tc_16bit;
  std::string notes;
  bool operator==(const AttentionCost&) const = default;
};
std::ostream& operator<<(std::ostream& os, const AttentionCost& c);

/// Tail of the in-order dispatch of causal blocks (in_order_makespan_tiles): the makespan exceeds the even
/// share by this fraction of the largest block. From simulating greedy dispatch (each free slot takes the
/// next block of the grid) of FlashAttention-2's causal grids, 400 random shapes (S 100..16000, head_dim
/// 64/96/128, 1..512 batch·heads, 264 slots): the fraction is 0.64 at every ratio of total work to largest
/// block (0.38..0.73 at one to two waves); with it the closed form is within 0.5% of the simulated makespan
/// at the median, 4.7% at p90 (tests/test_flash_attention.cpp repeats the simulation).
inline constexpr double in_order_tail_fraction = 0.64;
/// Makespan, in tiles of one block running alone on an SM, of `ctas` blocks holding `total_tiles` tiles
/// (the largest `largest_tiles`) dispatched in grid order onto `sms` SMs of `ctas_per_sm` slots each, each
/// head's blocks shortest first (FlashAttention-2's causal grid). Co-resident blocks share their SM.
double in_order_makespan_tiles(double total_tiles, double largest_tiles, std::int64_t ctas, std::int64_t ctas_per_sm,
                               int sms);

/// Cost of one attention call of `kernel` on `hw`. `qkv` is the precision the matrix products consume
/// (16-bit, fp8 e4m3/e5m2; Sage kernels quantise to int8 themselves), `kv_cache` the precision K and V are
/// stored in (bytes are counted in it; a narrower format than `qkv` is dequantised on load). Decode
/// (q_len = 1) kernels pack the GQA group into one tile, so each K/V byte is read once per KV head.
/// Example: Llama-3-8B decode, B = 1, 4096 cached tokens, bf16: K+V = 2·8·4096·128·2 B = 16.8 MB.
AttentionCost attention_cost(const AttentionShape& shape, AttentionKernel kernel, Precision qkv, Precision kv_cache,
                             const HardwareSpec& hw, const AttentionOptions& options);
/// As above with only a skip fraction (pruned decode kernels).
AttentionCost attention_cost(const AttentionShape& shape, AttentionKernel kernel, Precision qkv, Precision kv_cache,
                             const HardwareSpec& hw, double skip_fraction = 0);

/// The roofline operator of one attention call (what build_step puts in a step and what the
/// FlashAttentionRoofline predicts); unsupported kernels carry Support::unsupported and the reason.
Op attention_op(const AttentionShape& shape, AttentionKernel kernel, Precision qkv, Precision kv_cache,
                const HardwareSpec& hw, const AttentionOptions& options = {});

/// FlashAttention-2's split-KV factor: none when the work already fills 80% of `sm_slots`, otherwise
/// the smallest eligible split whose wave efficiency is within 85% of the best (flash_api.cpp's
/// num_splits_heuristic; FlashAttention-2 passes 2 × SMs as slots, FlashAttention-3 passes SMs); at most 256.
std::int64_t split_kv_heuristic(std::int64_t batch_heads_qblocks, std::int64_t sm_slots, std::int64_t kv_blocks,
                                std::int64_t max_splits = 128);

/// Number of (query, key) pairs visible under the shape's mask (causal bottom-right, sliding window).
double visible_pairs(const AttentionShape& shape);

/// Exponentials per second of the special-function units: SMs × 16 per clock (CUDA C++ Programming
/// Guide, arithmetic instruction throughput), derived from the fp32 peak as peak / 2 / (FMA lanes / 16):
/// 64 FMA lanes per SM on sm_80, 128 on sm_86 and later. H100 SXM: 67e12 / 2 / 8 = 4.19e12 exp/s.
double special_function_ops_per_s(const HardwareSpec& hw);

/// Prior compute efficiency of an attention kernel (the fraction of the compute term of attention_cost
/// that it sustains) before calibration, from published throughputs read through this model:
/// FlashAttention-2 about 335 TFLOP/s on H100 at head_dim 128 (FA3 paper, Fig. 5) -> 0.51 with mma.sync at
/// 2/3 of peak and the softmax under the matrix products (0.67 on A100, where mma.sync reaches the peak: the
/// FA2 paper's 50-73%; decode, whose softmax stays serial: 0.67 on both);
/// FA3 / cuDNN 500-650 TFLOP/s (kernels.md) -> 0.6; FlashAttention-4
/// 1605 TFLOP/s of 2250 on B200 (71%); fp8 and int8 paths at 0.8 of their 16-bit value (as the GEMM priors).
double attention_prior_compute_efficiency(AttentionKernel kernel, MathPath math, const HardwareSpec& hw,
                                          bool prefill = true);

// ---- the seed's FlashAttention API ----------------------------------------------------------------

/// The seed's FlashAttentionVersion. FA4 is the real FlashAttention-4 (CuTe-DSL kernels for sm_100 with
/// an sm_90 path), not the seed's "block-sparse, mixture-of-depths" idea: see docs/attention.md.
enum class FlashAttentionVersion : std::uint8_t { FA1, FA2, FA3, FA4 };
inline constexpr std::size_t flash_attention_version_count = 4;
std::string_view to_string(FlashAttentionVersion v);                 ///< "fa1" ... "fa4"
FlashAttentionVersion parse_flash_attention_version(std::string_view s);  ///< "fa3", "FA3"; throws UnknownNameError
AttentionKernel attention_kernel_of(FlashAttentionVersion v);

/// The seed's FlashAttentionConfig.
struct FlashAttentionConfig {
  FlashAttentionVersion version = FlashAttentionVersion::FA2;
  Precision qkv_precision = Precision::bf16;       ///< Q, K, V as the kernel receives them
  Precision kv_cache_precision = Precision::bf16;  ///< K, V as stored in HBM
  bool use_native_fp8 = false;  ///< fp8 qkv computed on fp8 tensor cores; false: dequantised to 16-bit
  bool block_sparse = false;
  double sparsity_ratio = 0;    ///< fraction of K/V blocks skipped by the block-sparse mask
  std::int64_t split_kv = 0;    ///< 0: auto (the version's heuristic); otherwise the split count
  bool operator==(const FlashAttentionConfig&) const = default;
};
std::ostream& operator<<(std::ostream& os, const FlashAttentionConfig& c);

/// One prediction of the FlashAttentionRoofline.
struct FlashAttentionMetrics {
  std::string name;               ///< "fa2", "q2fp8", ...
  AttentionKernel kernel = AttentionKernel::fa2;
  bool supported = true;
  std::string reason;             ///< why refused
  double predicted_time_s = 0;    ///< calibrated time of the call
  double interval_low_s = 0;
  double interval_high_s = 0;
  Bound bound = Bound::memory;
  std::string bottleneck;         ///< "memory", "compute (tensor cores)", "compute (softmax exponentials)", "latency"
  double arithmetic_intensity_flop_per_byte = 0;  ///< useful FLOPs / HBM bytes
  double critical_intensity_flop_per_byte = 0;    ///< peak / bandwidth of the math path
  double flops = 0;               ///< useful FLOPs
  double executed_flops = 0;      ///< tensor FLOPs of the executed tiles
  double hbm_bytes = 0;
  double achieved_flop_per_s = 0; ///< useful FLOPs / predicted time
  AttentionCost cost;             ///< tiles, splits, waves, bytes by class
  Op op;
  Prediction prediction;
  std::string notes;
  bool operator==(const FlashAttentionMetrics&) const = default;
};
std::ostream& operator<<(std::ostream& os, const FlashAttentionMetrics& m);

/// The seed's FlashAttentionRoofline: attention_cost + the calibrated roofline for one GPU.
class FlashAttentionRoofline {
 public:
  /// Uses calibration/<hw>.json when present, else the documented priors (no cross-GPU transfer).
  explicit FlashAttentionRoofline(const HardwareSpec& hw);
  FlashAttentionRoofline(const HardwareSpec& hw, Calibration calibration);

  /// The seed's predict(): one attention call of `config.version`. Decode is seq_len_q = 1.
  FlashAttentionMetrics predict(std::int64_t batch, std::int64_t num_heads, std::int64_t num_kv_heads,
                                std::int64_t seq_len_q, std::int64_t seq_len_kv, std::int64_t head_dim, bool causal,
                                const FlashAttentionConfig& config) const;
  FlashAttentionMetrics predict(const AttentionShape& shape, const FlashAttentionConfig& config) const;
  /// Any attention kernel (unfused, cudnn, the pruned decode kernels, Sage).
  FlashAttentionMetrics predict_kernel(const AttentionShape& shape, AttentionKernel kernel, Precision qkv,
                                       Precision kv_cache, const AttentionOptions& options = {}) const;

  const HardwareSpec& hardware() const { return hw_; }
  const Calibration& calibration() const { return calibration_; }

 private:
  HardwareSpec hw_;
  Calibration calibration_;
};

/// The seed's compare_fa_versions: the unfused path and FA1–FA4 for one shape, in 16-bit, plus each
/// version's fp8 configuration where the GPU and the kernel support it (FA3 on sm_90, FA4 on sm_100),
/// and with `include_variants` the seeds' quantised kernels (q2fp8, fp8fp8, Sage). Refused versions
/// are listed with their reason.
std::vector<FlashAttentionMetrics> compare_fa_versions(const FlashAttentionRoofline& roofline, const AttentionShape& shape,
                                                       bool include_variants = false, double skip_fraction = 0);

}  // namespace roofline
