// Host wrappers of the prefill attention kernels: each validates the shape (InvalidArgumentError),
// the pointers' alignment, launches on `stream` and checks the launch. Layouts: q and out
// [B, Sq, HQ, D], k and v [B, Skv, HKV, D], fp16, contiguous; causal masks bottom-right aligned
// (query i sees keys 0 .. i + Skv − Sq). Softmax scales are passed in natural units unless named _log2.
// Storage formats of the quantised inputs are described in prefill_quant.hpp (CPU twins).
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "prefill_cost.hpp"

namespace roofline::validate::prefill {

struct Fp16Qkv {
  const __half* q = nullptr;
  const __half* k = nullptr;
  const __half* v = nullptr;
};

// ---- fp16 kernels -----------------------------------------------------------------------------------

/// Bytes of the unfused kernel's workspace: S (fp32) and P (fp16), [B, HKV, Sq·G, Skv] each.
std::size_t unfused_workspace_bytes(const PrefillShape& s);
/// Three launches: S = Q·Kᵀ·scale (masked entries −inf; fully masked tiles skip the math), a row
/// softmax writing P in fp16, O = P·V (key tiles past the causal limit skipped). SIMT, fp32 math.
void launch_unfused(const PrefillShape& s, const Fp16Qkv& in, float softmax_scale, void* workspace, __half* out,
                    cudaStream_t stream);

/// FlashAttention-2 on CUDA cores with RoPE applied while loading Q and K tiles. rope_cos/rope_sin are
/// [Skv][D/2] fp32 (prefill_quant.hpp make_rope_table); query token t sits at position t + Skv − Sq.
void launch_fa2_simt_rope(const PrefillShape& s, const Fp16Qkv& in, const float* rope_cos, const float* rope_sin,
                          float softmax_scale, __half* out, cudaStream_t stream);
/// FlashAttention-2 on CUDA cores, one warp per query row, 16 rows per CTA sharing K/V tiles.
void launch_fa2_simt_warp_row(const PrefillShape& s, const Fp16Qkv& in, float softmax_scale, __half* out,
                              cudaStream_t stream);
/// FlashAttention-2 with WMMA (16×16×16 fp16, fp32 accumulate), S and P through shared memory,
/// K/V tiles double-buffered with cp.async.
void launch_fa2_wmma(const PrefillShape& s, const Fp16Qkv& in, float softmax_scale, __half* out, cudaStream_t stream);
/// FlashAttention-2 with mma.sync m16n8k16 + ldmatrix, swizzled shared memory, cp.async double buffering,
/// S/P kept in registers; 128 packed rows × 64 keys per CTA, 4 warps.
void launch_fa2_mma(const PrefillShape& s, const Fp16Qkv& in, float softmax_scale, __half* out, cudaStream_t stream);

// ---- fa2_int8: per-tensor asymmetric INT8 Q, K, V ------------------------------------------------------

/// Device state of the per-tensor quantiser: min/max keys of Q, K, V (float ordered as unsigned),
/// from which every kernel derives scale and zero point with choose_asym_int8.
struct PerTensorState {
  unsigned minmax[6];  ///< q min, q max, k min, k max, v min, v max
};
struct Int8PerTensorBuffers {
  std::int8_t* q = nullptr;        ///< [B, Sq, HQ, D]
  std::int8_t* k = nullptr;        ///< [B, Skv, HKV, D]
  std::uint8_t* vt = nullptr;      ///< int8 codes, transposed + permuted [B][HKV][D][padded Skv]
  std::int32_t* q_sums = nullptr;  ///< [B, Sq, HQ]: Σ_d code
  std::int32_t* k_sums = nullptr;  ///< [B][HKV][padded Skv] (padding must be zero: memset once)
  PerTensorState* state = nullptr;
};
/// Four launches: reset min/max, min/max of Q, K, V, quantise Q and K (+ row sums), quantise V transposed.
void launch_quantize_per_tensor(const PrefillShape& s, const Fp16Qkv& in, const Int8PerTensorBuffers& out,
                                cudaStream_t stream);
/// INT8 QKᵀ with mma.sync m16n8k32 s8 and the zero-point correction
/// Σ(q−zq)(k−zk) = Σqk − zk·Σq − zq·Σk + D·zq·zk; P in fp16 times (v − zv) in fp16 (exact), scale_v at the end.
void launch_fa2_int8(const PrefillShape& s, const Int8PerTensorBuffers& in, float softmax_scale, __half* out,
                     cudaStream_t stream);

// ---- Sage-style ----------------------------------------------------------------------------------------
struct SageBuffers {
  std::int8_t* q = nullptr;      ///< [B, Sq, HQ, D] symmetric codes
  float* q_scale = nullptr;      ///< [B][HQ][ceil(Sq/32)]
  std::int8_t* k = nullptr;      ///< [B, Skv, HKV, D] codes of k − mean
  float* k_scale = nullptr;      ///< [B][HKV][ceil(Skv/64)]
  float* k_mean = nullptr;       ///< [B][HKV][D]
  std::uint8_t* vt = nullptr;    ///< fp8 path: e4m3 codes [B][HKV][D][padded Skv]
  float* v_scale = nullptr;      ///< fp8 path: [B][HKV][D]
  const __half* v = nullptr;     ///< fp16 path: V itself
};
/// Three launches (K mean, Q, K) and, with fp8_v, two more (V per-channel amax, V transposed e4m3).
void launch_sage_quantize(const PrefillShape& s, const Fp16Qkv& in, const SageBuffers& out, bool fp8_v,
                          cudaStream_t stream);
/// INT8 QKᵀ (m16n8k32 s8), scores acc·q_scale·k_scale·softmax_scale·log2 e; fp16 PV (m16n8k16).
void launch_sage_int8_fp16(const PrefillShape& s, const SageBuffers& in, float softmax_scale_log2, __half* out,
                           cudaStream_t stream);
/// As sage_int8_fp16 with P = e4m3(exp2_repro(s − m)·448) and V in e4m3 (m16n8k32 e4m3, sm_89+); the
/// PV of each 64-key tile accumulates from zero and is then added to the fp32 output accumulators.
void launch_sage_int8_fp8(const PrefillShape& s, const SageBuffers& in, float softmax_scale_log2, __half* out,
                          cudaStream_t stream);

}  // namespace roofline::validate::prefill
