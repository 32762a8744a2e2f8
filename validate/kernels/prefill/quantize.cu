// Quantisation prologues of fa2_int8 and the Sage kernels; every code and scale is computed with the
// scalar functions of prefill_math.hpp so that it equals the CPU quantiser of prefill_quant.cpp bit
// for bit (the GPU check compares them).
#include <cuda_fp16.h>

#include <cstdint>

#include "prefill_device.cuh"
#include "prefill_kernels.hpp"
#include "prefill_launch.hpp"
#include "prefill_math.hpp"

namespace roofline::validate::prefill {

namespace device {
namespace {

// ---- per-tensor (fa2_int8) ------------------------------------------------------------------------------

__global__ void reset_minmax_kernel(PerTensorState* state) {
  if (threadIdx.x < 6) state->minmax[threadIdx.x] = float_to_ordered(0.0f);  // the range always contains 0
}

// blockIdx.y: 0 = Q, 1 = K, 2 = V. Grid-stride over 8-element (16-byte) vectors.
__global__ void __launch_bounds__(256) minmax_kernel(const __half* q, std::int64_t q_vecs, const __half* k,
                                                     const __half* v, std::int64_t kv_vecs, PerTensorState* state) {
  const __half* x = blockIdx.y == 0 ? q : (blockIdx.y == 1 ? k : v);
  const std::int64_t n = blockIdx.y == 0 ? q_vecs : kv_vecs;
  float lo = 0.0f, hi = 0.0f;
  for (std::int64_t i = blockIdx.x * std::int64_t(blockDim.x) + threadIdx.x; i < n; i += std::int64_t(gridDim.x) * blockDim.x) {
    const uint4 raw = reinterpret_cast<const uint4*>(x)[i];
    const __half2* h = reinterpret_cast<const __half2*>(&raw);
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const float2 f = __half22float2(h[j]);
      lo = fminf(lo, fminf(f.x, f.y));
      hi = fmaxf(hi, fmaxf(f.x, f.y));
    }
  }
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    lo = fminf(lo, __shfl_xor_sync(0xffffffffu, lo, o));
    hi = fmaxf(hi, __shfl_xor_sync(0xffffffffu, hi, o));
  }
  if ((threadIdx.x & 31) == 0) {
    atomicMin(&state->minmax[2 * blockIdx.y], float_to_ordered(lo));
    atomicMax(&state->minmax[2 * blockIdx.y + 1], float_to_ordered(hi));
  }
}

// One warp per row of D elements; blockIdx.y: 0 = Q (sums [B, Sq, HQ]), 1 = K (sums [B][HKV][padded Skv]).
template <int D>
__global__ void __launch_bounds__(256) quantize_rows_kernel(const __half* q, std::int64_t q_rows, const __half* k,
                                                            std::int64_t k_rows, int kv_heads, int kv_len, int kv_padded,
                                                            const PerTensorState* state, std::int8_t* q_codes,
                                                            std::int8_t* k_codes, std::int32_t* q_sums,
                                                            std::int32_t* k_sums) {
  const bool is_k = blockIdx.y == 1;
  const std::int64_t rows = is_k ? k_rows : q_rows;
  const __half* x = is_k ? k : q;
  std::int8_t* codes = is_k ? k_codes : q_codes;
  const int t = is_k ? 1 : 0;
  const AsymInt8Params prm = choose_asym_int8(ordered_to_float(state->minmax[2 * t]), ordered_to_float(state->minmax[2 * t + 1]));
  const int lane = threadIdx.x & 31;
  const std::int64_t warps = std::int64_t(gridDim.x) * (blockDim.x / 32);
  for (std::int64_t row = blockIdx.x * std::int64_t(blockDim.x / 32) + threadIdx.x / 32; row < rows; row += warps) {
    int sum = 0;
    if (lane * 4 < D) {  // 4 channels per lane: one 8-byte load, one 4-byte store
      const uint2 raw = *reinterpret_cast<const uint2*>(x + row * D + lane * 4);
      const float2 f0 = __half22float2(*reinterpret_cast<const __half2*>(&raw.x));
      const float2 f1 = __half22float2(*reinterpret_cast<const __half2*>(&raw.y));
      const std::int8_t c[4] = {quantize_asym_int8(f0.x, prm), quantize_asym_int8(f0.y, prm), quantize_asym_int8(f1.x, prm),
                                quantize_asym_int8(f1.y, prm)};
      *reinterpret_cast<char4*>(codes + row * D + lane * 4) = make_char4(c[0], c[1], c[2], c[3]);
      sum = c[0] + c[1] + c[2] + c[3];
    }
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, o);
    if (lane == 0) {
      if (is_k) {
        const std::int64_t h = row % kv_heads, tok = (row / kv_heads) % kv_len, b = row / (std::int64_t(kv_heads) * kv_len);
        k_sums[(b * kv_heads + h) * kv_padded + tok] = sum;
      } else {
        q_sums[row] = sum;
      }
    }
  }
}

// V → transposed, permuted 8-bit codes [B][HKV][D][padded Skv]. One CTA per (64-key tile, b·HKV): the tile
// is staged in shared memory as fp16, then each thread writes 16 consecutive positions of one d row.
// Mode 0: asymmetric int8 with the V per-tensor parameters; mode 1: e4m3 with per-channel scales.
template <int D, int MODE>
__global__ void __launch_bounds__(256) quantize_v_transposed_kernel(const __half* v, int kv_heads, int kv_len,
                                                                    int kv_padded, const PerTensorState* state,
                                                                    const float* v_scale, std::uint8_t* vt) {
  __shared__ __half tile[64][D + 8];
  const int kt = blockIdx.x, bh = blockIdx.y, b = bh / kv_heads, h = bh % kv_heads;
  for (int i = threadIdx.x; i < 64 * D / 8; i += blockDim.x) {
    const int r = i / (D / 8), ch = i % (D / 8), key = kt * 64 + r;
    uint4 raw = make_uint4(0, 0, 0, 0);
    if (key < kv_len) raw = *reinterpret_cast<const uint4*>(v + ((std::int64_t(b) * kv_len + key) * kv_heads + h) * D + ch * 8);
    *reinterpret_cast<uint4*>(&tile[r][ch * 8]) = raw;
  }
  __syncthreads();
  AsymInt8Params prm{};
  if constexpr (MODE == 0) prm = choose_asym_int8(ordered_to_float(state->minmax[4]), ordered_to_float(state->minmax[5]));
  for (int i = threadIdx.x; i < D * 4; i += blockDim.x) {
    const int d = i >> 2, group = i & 3;  // 16 positions = one 16-key group
    const float scale = MODE == 1 ? v_scale[std::int64_t(bh) * D + d] : 1.0f;
    alignas(16) std::uint8_t out[16];
#pragma unroll
    for (int j = 0; j < 16; ++j) {
      const int key_in_tile = vt_key_at_position(group * 16 + j);
      std::uint8_t code = 0;
      if (kt * 64 + key_in_tile < kv_len) {
        const float x = __half2float(tile[key_in_tile][d]);
        if constexpr (MODE == 0) {
          code = static_cast<std::uint8_t>(quantize_asym_int8(x, prm));
        } else {
          code = float_to_e4m3(div_rn(x, scale));
        }
      }
      out[j] = code;
    }
    *reinterpret_cast<uint4*>(vt + (std::int64_t(bh) * D + d) * kv_padded + kt * 64 + group * 16) =
        *reinterpret_cast<const uint4*>(out);
  }
}

// ---- Sage ----------------------------------------------------------------------------------------------

// K mean over the sequence, one thread per (b, kv head, d), summed token by token in fp32 (the CPU
// reference sums in the same order, so the mean is bit-identical).
__global__ void k_mean_kernel(const __half* k, int kv_heads, int kv_len, int head_dim, int total, float* mean) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= total) return;
  const int d = i % head_dim, bh = i / head_dim, b = bh / kv_heads, h = bh % kv_heads;
  const __half* p = k + (std::int64_t(b) * kv_len * kv_heads + h) * head_dim + d;
  const std::int64_t stride = std::int64_t(kv_heads) * head_dim;
  float sum = 0.0f;
  int t = 0;
  for (; t + 32 <= kv_len; t += 32) {  // 32 loads in flight, then the additions in token order
    float x[32];
#pragma unroll
    for (int j = 0; j < 32; ++j) x[j] = __half2float(p[(t + j) * stride]);
#pragma unroll
    for (int j = 0; j < 32; ++j) sum = add_rn(sum, x[j]);
  }
  for (; t < kv_len; ++t) sum = add_rn(sum, __half2float(p[t * stride]));
  mean[i] = div_rn(sum, float(kv_len));
}

// Symmetric int8 of one block of `tokens` rows of one head: pass 1 amax, pass 2 codes. mean = nullptr
// for Q; for K the per-channel mean is subtracted first. One CTA of 256 threads per (block, b·H).
template <int D>
__global__ void __launch_bounds__(256) sage_quantize_block_kernel(const __half* x, int heads, int seq_len,
                                                                  int block_tokens, const float* mean,
                                                                  std::int8_t* codes, float* scales) {
  __shared__ float s_mean[D];
  __shared__ float s_red[8];
  const int blk = blockIdx.x, bh = blockIdx.y, b = bh / heads, h = bh % heads;
  const int blocks = gridDim.x;
  const int t0 = blk * block_tokens, t1 = min(seq_len, t0 + block_tokens);
  if (threadIdx.x < D) s_mean[threadIdx.x] = mean ? mean[std::int64_t(bh) * D + threadIdx.x] : 0.0f;
  __syncthreads();
  const int n = (t1 - t0) * D;
  auto at = [&](int i) { return ((std::int64_t(b) * seq_len + t0 + i / D) * heads + h) * D + i % D; };
  float amax = 0.0f;
  for (int i = threadIdx.x; i < n; i += blockDim.x) {
    const float v = sub_rn(__half2float(x[at(i)]), s_mean[i % D]);
    amax = fmaxf(amax, fabsf(v));
  }
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) amax = fmaxf(amax, __shfl_xor_sync(0xffffffffu, amax, o));
  if ((threadIdx.x & 31) == 0) s_red[threadIdx.x / 32] = amax;
  __syncthreads();
  if (threadIdx.x == 0) {
    float m = 0.0f;
    for (int w = 0; w < int(blockDim.x / 32); ++w) m = fmaxf(m, s_red[w]);
    s_red[0] = m;
  }
  __syncthreads();
  const float scale = symmetric_int8_scale(s_red[0]);
  if (threadIdx.x == 0) scales[std::int64_t(bh) * blocks + blk] = scale;
  for (int i = threadIdx.x; i < n; i += blockDim.x) {
    const std::int64_t a = at(i);
    codes[a] = quantize_symmetric_int8(sub_rn(__half2float(x[a]), s_mean[i % D]), scale);
  }
}

// Per-channel amax of V over the sequence → e4m3 scale. One CTA per b·HKV, (D, 4) threads.
template <int D>
__global__ void v_channel_scale_kernel(const __half* v, int kv_heads, int kv_len, float* v_scale) {
  __shared__ float s_red[4][D];
  const int bh = blockIdx.x, b = bh / kv_heads, h = bh % kv_heads, d = threadIdx.x, ty = threadIdx.y;
  float amax = 0.0f;
  for (int t = ty; t < kv_len; t += 4)
    amax = fmaxf(amax, fabsf(__half2float(v[((std::int64_t(b) * kv_len + t) * kv_heads + h) * D + d])));
  s_red[ty][d] = amax;
  __syncthreads();
  if (ty == 0) {
    const float m = fmaxf(fmaxf(s_red[0][d], s_red[1][d]), fmaxf(s_red[2][d], s_red[3][d]));
    v_scale[std::int64_t(bh) * D + d] = fp8_e4m3_scale(m);
  }
}

template <int D>
void per_tensor(const PrefillShape& s, const Fp16Qkv& in, const Int8PerTensorBuffers& out, cudaStream_t stream) {
  const std::int64_t q_elems = std::int64_t(s.batch) * s.q_len * s.q_heads * D;
  const std::int64_t kv_elems = std::int64_t(s.batch) * s.kv_len * s.kv_heads * D;
  const int kv_padded = int(padded_kv_len(s.kv_len));
  reset_minmax_kernel<<<1, 32, 0, stream>>>(out.state);
  ROOFLINE_CUDA_CHECK_LAST();
  minmax_kernel<<<dim3(264, 3), 256, 0, stream>>>(in.q, q_elems / 8, in.k, in.v, kv_elems / 8, out.state);
  ROOFLINE_CUDA_CHECK_LAST();
  quantize_rows_kernel<D><<<dim3(1056, 2), 256, 0, stream>>>(in.q, q_elems / D, in.k, kv_elems / D, s.kv_heads, s.kv_len,
                                                            kv_padded, out.state, out.q, out.k, out.q_sums, out.k_sums);
  ROOFLINE_CUDA_CHECK_LAST();
  quantize_v_transposed_kernel<D, 0><<<dim3(kv_padded / 64, s.batch * s.kv_heads), 256, 0, stream>>>(
      in.v, s.kv_heads, s.kv_len, kv_padded, out.state, nullptr, out.vt);
  ROOFLINE_CUDA_CHECK_LAST();
}

template <int D>
void sage(const PrefillShape& s, const Fp16Qkv& in, const SageBuffers& out, bool fp8_v, cudaStream_t stream) {
  const int mean_total = s.batch * s.kv_heads * D;
  k_mean_kernel<<<(mean_total + 127) / 128, 128, 0, stream>>>(in.k, s.kv_heads, s.kv_len, D, mean_total, out.k_mean);
  ROOFLINE_CUDA_CHECK_LAST();
  const int q_blocks = (s.q_len + sage_q_block_tokens - 1) / sage_q_block_tokens;
  sage_quantize_block_kernel<D><<<dim3(q_blocks, s.batch * s.q_heads), 256, 0, stream>>>(
      in.q, s.q_heads, s.q_len, sage_q_block_tokens, nullptr, out.q, out.q_scale);
  ROOFLINE_CUDA_CHECK_LAST();
  const int k_blocks = (s.kv_len + sage_k_block_tokens - 1) / sage_k_block_tokens;
  sage_quantize_block_kernel<D><<<dim3(k_blocks, s.batch * s.kv_heads), 256, 0, stream>>>(
      in.k, s.kv_heads, s.kv_len, sage_k_block_tokens, out.k_mean, out.k, out.k_scale);
  ROOFLINE_CUDA_CHECK_LAST();
  if (fp8_v) {
    v_channel_scale_kernel<D><<<s.batch * s.kv_heads, dim3(D, 4), 0, stream>>>(in.v, s.kv_heads, s.kv_len, out.v_scale);
    ROOFLINE_CUDA_CHECK_LAST();
    const int kv_padded = int(padded_kv_len(s.kv_len));
    quantize_v_transposed_kernel<D, 1><<<dim3(kv_padded / 64, s.batch * s.kv_heads), 256, 0, stream>>>(
        in.v, s.kv_heads, s.kv_len, kv_padded, nullptr, out.v_scale, out.vt);
    ROOFLINE_CUDA_CHECK_LAST();
  }
}

}  // namespace
}  // namespace device

void launch_quantize_per_tensor(const PrefillShape& s, const Fp16Qkv& in, const Int8PerTensorBuffers& out,
                                cudaStream_t stream) {
  detail::require_shape(PrefillKernel::fa2_int8, s);
  for (const void* p : {static_cast<const void*>(in.q), static_cast<const void*>(in.k), static_cast<const void*>(in.v),
                        static_cast<const void*>(out.q), static_cast<const void*>(out.k),
                        static_cast<const void*>(out.vt), static_cast<const void*>(out.k_sums)})
    detail::require_aligned(p, "quantize_per_tensor buffer");
  if (out.q_sums == nullptr || out.state == nullptr) throw InvalidArgumentError("quantize_per_tensor: q_sums and state are required");
  if (s.head_dim == 64) device::per_tensor<64>(s, in, out, stream);
  else device::per_tensor<128>(s, in, out, stream);
}

void launch_sage_quantize(const PrefillShape& s, const Fp16Qkv& in, const SageBuffers& out, bool fp8_v,
                          cudaStream_t stream) {
  detail::require_shape(fp8_v ? PrefillKernel::sage_int8_fp8 : PrefillKernel::sage_int8_fp16, s);
  detail::require_aligned(in.q, "sage_quantize q");
  detail::require_aligned(in.k, "sage_quantize k");
  detail::require_aligned(in.v, "sage_quantize v");
  if (!out.q || !out.k || !out.q_scale || !out.k_scale || !out.k_mean)
    throw InvalidArgumentError("sage_quantize: q, k, q_scale, k_scale and k_mean are required");
  if (fp8_v) {
    detail::require_aligned(out.vt, "sage_quantize vt");
    if (!out.v_scale) throw InvalidArgumentError("sage_quantize: v_scale is required for fp8 V");
  }
  if (s.head_dim == 64) device::sage<64>(s, in, out, fp8_v, stream);
  else device::sage<128>(s, in, out, fp8_v, stream);
}

}  // namespace roofline::validate::prefill
