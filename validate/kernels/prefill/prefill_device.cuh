// Device helpers of the prefill kernels: cp.async (with zero fill), ldmatrix, mma.sync wrappers,
// fast exp2, fp16/e4m3 packing and the packed GQA row mapping.
// PTX semantics: PTX ISA 8.x, sections "cp.async", "ldmatrix", "mma.sync (m16n8k16, m16n8k32)".
#pragma once

#include <cuda_fp16.h>
#include <cuda_fp8.h>
#include <cstdint>

namespace roofline::validate::prefill::device {

// ---- packed GQA rows -----------------------------------------------------------------------------
// One CTA works for one (batch, kv head); its M dimension packs the G query heads of that kv head with
// the query tokens: packed row r = token·G + g is query head kv_head·G + g of token r / G.
struct PackedRows {
  int group;     ///< G = HQ / HKV
  int q_heads;   ///< HQ
  int q_len;     ///< Sq
  __device__ int token(int r) const { return r / group; }
  /// Element offset of packed row r of (b, kv_head) in a [B, Sq, HQ, D] tensor (0 when out of range).
  __device__ std::int64_t offset(int b, int kv_head, int r, int head_dim) const {
    const int t = r / group, g = r - t * group;
    return ((std::int64_t(b) * q_len + t) * q_heads + kv_head * group + g) * head_dim;
  }
};

// ---- cp.async --------------------------------------------------------------------------------------
__device__ __forceinline__ std::uint32_t smem_u32(const void* p) {
  return static_cast<std::uint32_t>(__cvta_generic_to_shared(p));
}
/// Copies 16 bytes global → shared; when !valid the destination is zero-filled and nothing is read.
__device__ __forceinline__ void cp_async_16(void* smem, const void* gmem, bool valid) {
  const int src_bytes = valid ? 16 : 0;
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem_u32(smem)), "l"(gmem), "r"(src_bytes)
               : "memory");
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }
template <int N>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
}

// ---- ldmatrix --------------------------------------------------------------------------------------
__device__ __forceinline__ void ldmatrix_x4(std::uint32_t (&r)[4], const void* smem) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_u32(smem)));
}
__device__ __forceinline__ void ldmatrix_x4_trans(std::uint32_t (&r)[4], const void* smem) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_u32(smem)));
}

// ---- mma.sync --------------------------------------------------------------------------------------
/// D = A·B + D, m16n8k16, fp16 inputs, fp32 accumulators.
__device__ __forceinline__ void mma_f16(float (&d)[4], const std::uint32_t (&a)[4], std::uint32_t b0, std::uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}
/// D = A·B + D, m16n8k32, int8 inputs, int32 accumulators.
__device__ __forceinline__ void mma_s8(int (&d)[4], const std::uint32_t (&a)[4], std::uint32_t b0, std::uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
      : "+r"(d[0]), "+r"(d[1]), "+r"(d[2]), "+r"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}
/// D = A·B + D, m16n8k32, e4m3 inputs, fp32 accumulators (sm_89+; on sm_90 ptxas lowers it to
/// conversions + HMMA, see docs/kernels-prefill.md).
__device__ __forceinline__ void mma_e4m3(float (&d)[4], const std::uint32_t (&a)[4], std::uint32_t b0, std::uint32_t b1) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 890
  asm volatile(
      "mma.sync.aligned.m16n8k32.row.col.f32.e4m3.e4m3.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
#else
  __trap();  // the FP8 kernel is only launched on sm_89+ (the host wrapper checks)
#endif
}

// ---- conversions -----------------------------------------------------------------------------------
__device__ __forceinline__ float fast_exp2(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
  return y;
}
/// Two floats → fp16x2 (lo in the low half), round to nearest.
__device__ __forceinline__ std::uint32_t pack_half2(float lo, float hi) {
  const __half2 h = __floats2half2_rn(lo, hi);
  return *reinterpret_cast<const std::uint32_t*>(&h);
}
/// Two floats → e4m3x2 (lo in the low byte), round to nearest even, saturating to ±448.
__device__ __forceinline__ std::uint16_t pack_e4m3x2(float lo, float hi) {
  return static_cast<std::uint16_t>(__nv_cvt_float2_to_fp8x2(make_float2(lo, hi), __NV_SATFINITE, __NV_E4M3));
}
__device__ __forceinline__ std::uint32_t pack_e4m3x4(float e0, float e1, float e2, float e3) {
  return std::uint32_t(pack_e4m3x2(e0, e1)) | (std::uint32_t(pack_e4m3x2(e2, e3)) << 16);
}
__device__ __forceinline__ std::uint8_t float_to_e4m3(float x) {
  return static_cast<std::uint8_t>(__nv_cvt_float_to_fp8(x, __NV_SATFINITE, __NV_E4M3));
}
/// Two of four packed int8 codes (bytes 0, 1 when first_byte = 0, else bytes 2, 3) → fp16x2 of
/// (code − zero), exactly: fp16 0x64XX is 1024 + XX, so byte (code ^ 0x80) gives 1152 + code, and
/// `offset` holds 1152 + zero in both halves.
__device__ __forceinline__ std::uint32_t int8x2_to_half2_minus(std::uint32_t codes4, int first_byte, __half2 offset) {
  const std::uint32_t biased = codes4 ^ 0x80808080u;
  const std::uint32_t sel = first_byte == 0 ? 0x4140u : 0x4342u;  // bytes {b0, 0x64, b1, 0x64} or {b2, .., b3, ..}
  const std::uint32_t bits = __byte_perm(biased, 0x64u, sel);
  __half2 h = *reinterpret_cast<const __half2*>(&bits);
  h = __hsub2(h, offset);
  return *reinterpret_cast<const std::uint32_t*>(&h);
}

// ---- float ordered as unsigned (atomic min/max of floats) ------------------------------------------
__device__ __forceinline__ unsigned float_to_ordered(float f) {
  const unsigned u = __float_as_uint(f);
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}
__device__ __forceinline__ float ordered_to_float(unsigned k) {
  return __uint_as_float((k & 0x80000000u) ? (k & 0x7FFFFFFFu) : ~k);
}

}  // namespace roofline::validate::prefill::device
