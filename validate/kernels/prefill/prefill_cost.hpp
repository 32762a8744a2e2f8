// Cost of each prefill attention kernel of validate/kernels/prefill: FLOPs and bytes as a function of
// the shape and the tile sizes, so that predictions and CUPTI counters can be compared kernel by kernel.
// Plain C++ (no CUDA). FLOPs follow ../shared/reference/kernels.md: 4·B·Hq·Sq·Skv·D, halved for causal.
// Bytes count what each kernel's launches read and write in device memory; tile re-reads (K/V once per
// query tile) are counted separately because the 50 MB L2 serves most of them.
#pragma once

#include <array>
#include <cstdint>
#include <iosfwd>
#include <string_view>

namespace roofline::validate::prefill {

/// The kernels of this directory (names used in records and in the docs).
enum class PrefillKernel : std::uint8_t {
  unfused,            ///< three launches: S = Q·Kᵀ (fp32, materialised), softmax → P (fp16), O = P·V
  fa2_simt_rope,      ///< FlashAttention-2 on CUDA cores (fp32 FMA), RoPE fused into the Q/K tile loads
  fa2_simt_warp_row,  ///< FlashAttention-2 on CUDA cores, one warp per query row
  fa2_wmma,           ///< tensor cores through WMMA (fp16, fp32 accumulate), cp.async double buffering
  fa2_mma,            ///< tensor cores through mma.sync m16n8k16 + ldmatrix, swizzled smem, cp.async
  fa2_int8,           ///< INT8 QKᵀ (mma.sync m16n8k32 s8) with per-tensor scale and zero point; fp16 PV
  sage_int8_fp16,     ///< SageAttention-style: INT8 QKᵀ, K mean-smoothed, per-block scales; fp16 PV
  sage_int8_fp8,      ///< as sage_int8_fp16 but PV in FP8 e4m3 (P·448, V per-channel), two-level fp32 acc.
};
inline constexpr std::size_t prefill_kernel_count = 8;
inline constexpr std::array<PrefillKernel, prefill_kernel_count> all_prefill_kernels{
    PrefillKernel::unfused,        PrefillKernel::fa2_simt_rope, PrefillKernel::fa2_simt_warp_row,
    PrefillKernel::fa2_wmma,       PrefillKernel::fa2_mma,       PrefillKernel::fa2_int8,
    PrefillKernel::sage_int8_fp16, PrefillKernel::sage_int8_fp8};

/// Canonical name, e.g. "fa2_mma".
std::string_view to_string(PrefillKernel k);
std::ostream& operator<<(std::ostream& os, PrefillKernel k);

/// One attention call. Layouts: q, o [B, Sq, HQ, D]; k, v [B, Skv, HKV, D]. Causal masks are
/// bottom-right aligned: query i attends to keys 0 .. i + (Skv − Sq) (requires Sq <= Skv).
struct PrefillShape {
  int batch = 1;
  int q_heads = 32;
  int kv_heads = 8;
  int q_len = 4096;
  int kv_len = 4096;
  int head_dim = 128;
  bool causal = false;
  bool operator==(const PrefillShape&) const = default;
};
std::ostream& operator<<(std::ostream& os, const PrefillShape& s);

/// Tile sizes. The M dimension packs the G = HQ/HKV query heads of one KV head with the query tokens:
/// packed row r is token r / G, query head kv_head·G + r % G, so one tile reads its K/V once for all G heads.
struct PrefillTiling {
  int block_m = 128;  ///< packed query rows per CTA (unfused: GEMM tile rows)
  int block_n = 64;   ///< keys per K/V tile (unfused: GEMM tile columns)
  bool operator==(const PrefillTiling&) const = default;
};

/// The tiling each kernel is built with (see the kernels' sources).
PrefillTiling default_tiling(PrefillKernel k, int head_dim);

/// Bytes of the quantisation prologue kernels that must run before the INT8/FP8 kernels (0 for the
/// others): read Q, K, V in fp16, write codes, scales, row sums, the K mean, the transposed V.
struct QuantPrologueCost {
  double read_bytes = 0;
  double write_bytes = 0;
  int kernels = 0;  ///< launches
  bool operator==(const QuantPrologueCost&) const = default;
};

struct PrefillCost {
  double nominal_flops = 0;        ///< 4·B·Hq·Sq·Skv·D, halved for causal (the kernels.md convention)
  double useful_flops = 0;         ///< 4·B·Hq·D·(allowed (query, key) pairs), exact for causal
  double executed_flops = 0;       ///< what the tiles compute: masked parts of diagonal tiles included
  double input_bytes = 0;          ///< Q, K, V (in the kernel's storage formats) + scales/sums/tables, once
  double output_bytes = 0;         ///< O in fp16
  double intermediate_bytes = 0;   ///< unfused only: S written and read, P written and read
  double min_hbm_bytes = 0;        ///< input + output + intermediate: each byte moved once
  double tile_load_bytes = 0;      ///< bytes the CTAs load (K/V once per query tile): L2 → SM traffic
  int kernels = 1;                 ///< launches of the attention itself
  QuantPrologueCost prologue;      ///< the quantisation kernels (timed and recorded separately)
  bool operator==(const PrefillCost&) const = default;
};
std::ostream& operator<<(std::ostream& os, const PrefillCost& c);

/// 4·B·Hq·Sq·Skv·D, halved for causal; e.g. B=1, Hq=32, S=4096, D=128: 2.75e11 FLOPs.
double nominal_attention_flops(const PrefillShape& s);
/// Allowed (query, key) pairs per (batch, query head): Sq·Skv, or Σ_i (i + Skv − Sq + 1) for causal.
double allowed_pairs(const PrefillShape& s);
/// Key tiles of block_n keys that a query tile of packed rows [m0, m0 + block_m) visits.
std::int64_t key_tiles_visited(const PrefillShape& s, const PrefillTiling& t, std::int64_t m_tile);

/// FLOPs and bytes of one call of kernel k on shape s with tiling t. Throws InvalidArgumentError for
/// shapes the kernels reject (see validate_prefill_shape).
PrefillCost prefill_cost(PrefillKernel k, const PrefillShape& s, const PrefillTiling& t);

/// Throws roofline::InvalidArgumentError unless the shape is one the kernels accept: sizes > 0,
/// HQ % HKV == 0, head_dim 64 or 128, causal ⇒ Sq <= Skv, block_m % (HQ/HKV) == 0.
void validate_prefill_shape(const PrefillShape& s, const PrefillTiling& t);

/// Keys padded to a multiple of 64 (the transposed V layouts of fa2_int8 and sage_int8_fp8).
constexpr std::int64_t padded_kv_len(std::int64_t kv_len) { return (kv_len + 63) / 64 * 64; }

}  // namespace roofline::validate::prefill
