// Quantisers, the fused producer (K projection + RoPE + quantisation) and the GPU data generator.
// The quantisers mirror decode_reference.cpp operation by operation (IEEE division, rintf, fmaf,
// e5m2 with clamp + .satfinite), so a device quantisation of the same fp32 K is bit-identical to the CPU
// one; the producer's GEMM is a plain mma.sync bf16 tile kernel (64 tokens × one KV head per CTA).
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_fp8.h>
#include <cuda_runtime.h>

#include <string>

#include "cuda_util.hpp"
#include "decode_api.hpp"
#include "decode_device.cuh"

namespace roofline::validate::decode {
namespace dev {

/// Monotonic float <-> u32 map for atomicMin/atomicMax on floats.
__device__ __forceinline__ unsigned ordered(float f) {
  const unsigned u = __float_as_uint(f);
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}
__device__ __forceinline__ float unordered(unsigned u) {
  return __uint_as_float((u & 0x80000000u) ? (u & 0x7FFFFFFFu) : ~u);
}

__device__ __forceinline__ unsigned char to_e5m2(float x) {
  x = fminf(fmaxf(x, -57344.0f), 57344.0f);  // clamp before the cast (and .satfinite as well)
  return static_cast<unsigned char>(__nv_cvt_float_to_fp8(x, __NV_SATFINITE, __NV_E5M2));
}
__device__ __forceinline__ float from_e5m2(unsigned char b) {
  const __half_raw h = __nv_cvt_fp8_to_halfraw(b, __NV_E5M2);
  return __half2float(__half(h));
}

__global__ void stats_init_kernel(unsigned* stats, std::size_t n) {
  for (std::size_t i = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; i < n; i += std::size_t(gridDim.x) * blockDim.x) {
    stats[2 * i] = ordered(__int_as_float(0x7f800000));       // min <- +inf
    stats[2 * i + 1] = ordered(__int_as_float(0xff800000));   // max <- -inf
  }
}

/// Min/max of K [B, T, HKV, D] per (b, kvh, set, d): thread = channel, 64 tokens per block row.
__global__ void minmax_kernel(const float* k, int T, int HKV, int D, int per, int nsets, unsigned* stats) {
  const int d = threadIdx.x, kvh = blockIdx.y, b = blockIdx.z, t0 = blockIdx.x * 64;
  float mn = __int_as_float(0x7f800000), mx = __int_as_float(0xff800000);
  int set = t0 / per;
  auto flush = [&]() {
    unsigned* s = stats + 2 * (((std::size_t(b) * HKV + kvh) * nsets + set) * D + d);
    atomicMin(s, ordered(mn));
    atomicMax(s + 1, ordered(mx));
  };
  for (int t = t0; t < min(T, t0 + 64); ++t) {
    if (t / per != set) {
      flush();
      set = t / per;
      mn = __int_as_float(0x7f800000);
      mx = __int_as_float(0xff800000);
    }
    const float x = k[((std::size_t(b) * T + t) * HKV + kvh) * D + d];
    mn = fminf(mn, x);
    mx = fmaxf(mx, x);
  }
  flush();
}

__global__ void finalize_scale_kernel(const unsigned* stats, float* scale, float* zero, std::size_t n) {
  for (std::size_t i = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; i < n; i += std::size_t(gridDim.x) * blockDim.x) {
    const float mn = unordered(stats[2 * i]), mx = unordered(stats[2 * i + 1]);
    scale[i] = fmaxf(mx - mn, 1e-6f) / 3.0f;
    zero[i] = mn;
  }
}

/// One 2-bit code and its residual, as decode_reference.cpp computes them.
__device__ __forceinline__ int q2_code(float x, float scale, float zero, unsigned char* res) {
  const float c = fminf(fmaxf(rintf(__fdiv_rn(x - zero, scale)), 0.0f), 3.0f);
  *res = to_e5m2(x - fmaf(c, scale, zero));
  return int(c);
}

/// Quantise pass: one thread per 4 channels (one code byte).
__global__ void quantize_q2_kernel(const float* k, int T, int HKV, int D, int per, int nsets, const float* scale,
                                   const float* zero, unsigned char* codes, unsigned char* residual, std::size_t n4) {
  for (std::size_t i = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; i < n4; i += std::size_t(gridDim.x) * blockDim.x) {
    const std::size_t e = 4 * i;
    const int d0 = int(e % D);
    const std::size_t row = e / D;  // (b·T + t)·HKV + kvh
    const int kvh = int(row % HKV);
    const std::size_t bt = row / HKV;
    const int t = int(bt % T), b = int(bt / T);
    const std::size_t si = ((std::size_t(b) * HKV + kvh) * nsets + t / per) * D + d0;
    const float4 x = *reinterpret_cast<const float4*>(k + e);
    unsigned char r[4];
    const int c0 = q2_code(x.x, scale[si], zero[si], &r[0]);
    const int c1 = q2_code(x.y, scale[si + 1], zero[si + 1], &r[1]);
    const int c2 = q2_code(x.z, scale[si + 2], zero[si + 2], &r[2]);
    const int c3 = q2_code(x.w, scale[si + 3], zero[si + 3], &r[3]);
    codes[i] = static_cast<unsigned char>(c0 | (c1 << 2) | (c2 << 4) | (c3 << 6));
    *reinterpret_cast<uchar4*>(residual + e) = make_uchar4(r[0], r[1], r[2], r[3]);
  }
}

__global__ void quantize_fp8fp8_kernel(const float* k, std::size_t n, unsigned char* base, unsigned char* residual) {
  for (std::size_t i = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; i < n; i += std::size_t(gridDim.x) * blockDim.x) {
    const float x = k[i];
    const unsigned char b = to_e5m2(x);
    base[i] = b;
    residual[i] = to_e5m2(x - from_e5m2(b));
  }
}

// ---- fused producer ------------------------------------------------------------------------------
struct ProducerDev {
  const __nv_bfloat16* x;
  const __nv_bfloat16* w;
  const float* cos_t;
  const float* sin_t;
  int T, hidden, HKV, per, nsets;
  unsigned* stats;
  const float* scale;
  const float* zero;
  unsigned char* codes;
  unsigned char* base;
  unsigned char* residual;
  float* k_debug;
};

constexpr int kProdRows = 64, kProdK = 32, kProdStages = 3;

/// MODE 0: min/max pass; 1: Q2 quantise pass; 2: FP8FP8 pass.
template <int D, int MODE>
__global__ void __launch_bounds__(kThreads) kproj_rope_kernel(const ProducerDev p) {
  extern __shared__ __align__(16) unsigned char smem[];
  constexpr int kXBytes = kProdRows * kProdK * 2, kWBytes = D * kProdK * 2, kStage = kXBytes + kWBytes;
  constexpr int NT = D / 8;  // n-tiles of 8 output channels
  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, g = lane >> 2, t = lane & 3;
  const int tile_t0 = blockIdx.x * kProdRows, kvh = blockIdx.y, b = blockIdx.z;
  const int T = p.T, H = p.hidden;
  auto issue = [&](int kc) {
    if (kc * kProdK < H) {
      unsigned char* xs = smem + (kc % kProdStages) * kStage;
      unsigned char* ws = xs + kXBytes;
      for (int item = tid; item < kProdRows * 4; item += kThreads) {
        const int row = item >> 2, c = item & 3;
        const bool valid = tile_t0 + row < T;
        const __nv_bfloat16* src = p.x + (std::size_t(b) * T + (valid ? tile_t0 + row : 0)) * H + kc * kProdK + 8 * c;
        cp_async16(xs + row * 64 + 16 * c, src, valid);
      }
      for (int item = tid; item < D * 4; item += kThreads) {
        const int row = item >> 2, c = item & 3;
        cp_async16(ws + row * 64 + 16 * c, p.w + (std::size_t(kvh) * D + row) * H + kc * kProdK + 8 * c, true);
      }
    }
    cp_async_commit();
  };
  float acc[NT][4];
#pragma unroll
  for (int j = 0; j < NT; ++j) acc[j][0] = acc[j][1] = acc[j][2] = acc[j][3] = 0.0f;
  const int nk = H / kProdK;
  issue(0);
  issue(1);
  for (int kc = 0; kc < nk; ++kc) {
    issue(kc + 2);
    cp_async_wait<2>();
    __syncthreads();
    const unsigned char* xs = smem + (kc % kProdStages) * kStage;
    const unsigned char* ws = xs + kXBytes;
    const uint4 a0 = *reinterpret_cast<const uint4*>(xs + (16 * warp + g) * 64 + 16 * t);
    const uint4 a1 = *reinterpret_cast<const uint4*>(xs + (16 * warp + g + 8) * 64 + 16 * t);
#pragma unroll
    for (int j = 0; j < NT; ++j) {
      const uint4 bw = *reinterpret_cast<const uint4*>(ws + (8 * j + g) * 64 + 16 * t);
      unsigned a[4] = {a0.x, a1.x, a0.y, a1.y}, bb[2] = {bw.x, bw.y};
      mma_bf16(acc[j], a, bb);
      unsigned a2[4] = {a0.z, a1.z, a0.w, a1.w}, bb2[2] = {bw.z, bw.w};
      mma_bf16(acc[j], a2, bb2);
    }
    __syncthreads();  // the stage is overwritten by the issue of the next iteration
  }
  cp_async_wait<0>();
  // Epilogue: RoPE on (i, i + D/2) pairs, which are n-tiles j and j + NT/2 of the same thread.
  const int half = D / 2;
#pragma unroll
  for (int j = 0; j < NT / 2; ++j)
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      const int tok = tile_t0 + 16 * warp + g + 8 * (e >> 1);
      const int i = 8 * j + 2 * t + (e & 1);
      const float c = tok < T ? p.cos_t[std::size_t(tok) * half + i] : 0.0f;
      const float s = tok < T ? p.sin_t[std::size_t(tok) * half + i] : 0.0f;
      const float lo = acc[j][e], hi = acc[j + NT / 2][e];
      acc[j][e] = lo * c - hi * s;
      acc[j + NT / 2][e] = hi * c + lo * s;
    }
  const int tok_g = tile_t0 + 16 * warp + g, tok_g8 = tok_g + 8;
  const bool v0 = tok_g < T, v1 = tok_g8 < T;
  if constexpr (MODE == 0) {
    const int set = (tile_t0 + 16 * warp) / p.per;  // a warp's 16 tokens share one scale set
#pragma unroll
    for (int j = 0; j < NT; ++j)
#pragma unroll
      for (int e = 0; e < 2; ++e) {
        float mn = fminf(v0 ? acc[j][e] : __int_as_float(0x7f800000), v1 ? acc[j][e + 2] : __int_as_float(0x7f800000));
        float mx = fmaxf(v0 ? acc[j][e] : __int_as_float(0xff800000), v1 ? acc[j][e + 2] : __int_as_float(0xff800000));
#pragma unroll
        for (int off = 4; off < 32; off <<= 1) {
          mn = fminf(mn, __shfl_xor_sync(0xffffffffu, mn, off));
          mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, off));
        }
        if (g == 0 && (v0 || v1)) {
          unsigned* st = p.stats + 2 * (((std::size_t(b) * p.HKV + kvh) * p.nsets + set) * D + 8 * j + 2 * t + e);
          atomicMin(st, ordered(mn));
          atomicMax(st + 1, ordered(mx));
        }
      }
  } else {
#pragma unroll
    for (int j = 0; j < NT; ++j)
#pragma unroll
      for (int r = 0; r < 2; ++r) {
        const int tok = r == 0 ? tok_g : tok_g8;
        const bool valid = r == 0 ? v0 : v1;
        const int ch = 8 * j + 2 * t;
        const float x0 = acc[j][2 * r], x1 = acc[j][2 * r + 1];
        const std::size_t row = (std::size_t(b) * T + (valid ? tok : 0)) * p.HKV + kvh;
        if (p.k_debug != nullptr && valid) *reinterpret_cast<float2*>(p.k_debug + row * D + ch) = make_float2(x0, x1);
        unsigned char r0, r1;
        if constexpr (MODE == 1) {
          const std::size_t si = ((std::size_t(b) * p.HKV + kvh) * p.nsets + (valid ? tok : 0) / p.per) * D + ch;
          const int c0 = q2_code(x0, p.scale[si], p.zero[si], &r0);
          const int c1 = q2_code(x1, p.scale[si + 1], p.zero[si + 1], &r1);
          const int nib = c0 | (c1 << 2);  // channels ch, ch+1 at bits 4·(t%2) of byte ch/4
          const int partner = __shfl_xor_sync(0xffffffffu, nib, 1);
          if (valid && (t & 1) == 0) p.codes[row * (D / 4) + ch / 4] = static_cast<unsigned char>(nib | (partner << 4));
        } else {
          const unsigned char b0 = to_e5m2(x0), b1 = to_e5m2(x1);
          r0 = to_e5m2(x0 - from_e5m2(b0));
          r1 = to_e5m2(x1 - from_e5m2(b1));
          if (valid) *reinterpret_cast<unsigned short*>(p.base + row * D + ch) = static_cast<unsigned short>(b0 | (b1 << 8));
        }
        if (valid) *reinterpret_cast<unsigned short*>(p.residual + row * D + ch) = static_cast<unsigned short>(r0 | (r1 << 8));
      }
  }
}

// ---- the generator on the device ----------------------------------------------------------------
__global__ void fill_kernel(gen::GenParams prm, int which, int dtype, void* out, std::size_t n, int b0) {
  const int D = prm.head_dim;
  for (std::size_t i = blockIdx.x * std::size_t(blockDim.x) + threadIdx.x; i < n; i += std::size_t(gridDim.x) * blockDim.x) {
    const int d = int(i % D);
    float x;
    if (which == 0) {
      const std::size_t r = i / D;
      const int h = int(r % prm.q_heads), b = b0 + int(r / prm.q_heads);
      x = gen::q_value(prm, b, 0, h, d);
    } else {
      const std::size_t r = i / D;
      const int kvh = int(r % prm.kv_heads);
      const std::size_t bt = r / prm.kv_heads;
      const int t = int(bt % prm.kv_len), b = b0 + int(bt / prm.kv_len);
      x = which == 1 ? gen::k_value(prm, b, t, kvh, d) : gen::v_value(prm, b, t, kvh, d);
    }
    if (dtype == 0) static_cast<__half*>(out)[i] = __float2half_rn(x);
    else if (dtype == 1) static_cast<__nv_bfloat16*>(out)[i] = __float2bfloat16_rn(x);
    else static_cast<float*>(out)[i] = x;
  }
}

}  // namespace dev

namespace {
int grid_for(std::size_t n, int threads = 256) {
  const std::size_t blocks = (n + threads - 1) / threads;
  return int(blocks > 65535u * 16u ? 65535u * 16u : (blocks == 0 ? 1 : blocks));
}
}  // namespace

void quantize_q2_device(const float* k, int batch, int kv_len, int kv_heads, int head_dim, int scale_block,
                        std::uint8_t* codes, float* scale, float* zero, std::uint8_t* residual, unsigned* stats,
                        cudaStream_t stream) {
  if (batch <= 0 || kv_len <= 0 || kv_heads <= 0 || head_dim % 16 != 0 || head_dim > 1024 || scale_block < 0 ||
      scale_block % 16 != 0)
    throw InvalidArgumentError("quantize_q2_device: bad sizes (head_dim a multiple of 16 <= 1024, scale_block a multiple of 16)");
  const int per = scale_block == 0 ? kv_len : scale_block, nsets = (kv_len + per - 1) / per;
  const std::size_t nstat = std::size_t(batch) * kv_heads * nsets * head_dim;
  dev::stats_init_kernel<<<grid_for(nstat), 256, 0, stream>>>(stats, nstat);
  DECODE_CUDA_CHECK_LAST();
  dev::minmax_kernel<<<dim3((kv_len + 63) / 64, kv_heads, batch), head_dim, 0, stream>>>(k, kv_len, kv_heads, head_dim,
                                                                                         per, nsets, stats);
  DECODE_CUDA_CHECK_LAST();
  dev::finalize_scale_kernel<<<grid_for(nstat), 256, 0, stream>>>(stats, scale, zero, nstat);
  DECODE_CUDA_CHECK_LAST();
  const std::size_t n4 = std::size_t(batch) * kv_len * kv_heads * head_dim / 4;
  dev::quantize_q2_kernel<<<grid_for(n4), 256, 0, stream>>>(k, kv_len, kv_heads, head_dim, per, nsets, scale, zero, codes,
                                                            residual, n4);
  DECODE_CUDA_CHECK_LAST();
}

void quantize_fp8fp8_device(const float* k, std::int64_t elements, std::uint8_t* base, std::uint8_t* residual,
                            cudaStream_t stream) {
  if (elements <= 0) throw InvalidArgumentError("quantize_fp8fp8_device: elements must be > 0");
  dev::quantize_fp8fp8_kernel<<<grid_for(std::size_t(elements)), 256, 0, stream>>>(k, std::size_t(elements), base, residual);
  DECODE_CUDA_CHECK_LAST();
}

namespace {
template <int D, int MODE>
void launch_producer(const dev::ProducerDev& p, int batch, cudaStream_t stream) {
  constexpr int smem = dev::kProdStages * (dev::kProdRows * dev::kProdK * 2 + D * dev::kProdK * 2);
  auto kernel = dev::kproj_rope_kernel<D, MODE>;
  static const bool configured = [&] {
    DECODE_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, smem));
    return true;
  }();
  (void)configured;
  kernel<<<dim3((p.T + dev::kProdRows - 1) / dev::kProdRows, p.HKV, batch), dev::kThreads, smem, stream>>>(p);
  DECODE_CUDA_CHECK_LAST();
}

template <int D>
int run_producer(const ProducerArgs& a, dev::ProducerDev& p, cudaStream_t stream) {
  if (!a.q2) {
    launch_producer<D, 2>(p, a.batch, stream);
    return 1;
  }
  const std::size_t nstat = std::size_t(a.batch) * a.kv_heads * p.nsets * D;
  dev::stats_init_kernel<<<grid_for(nstat), 256, 0, stream>>>(a.stats, nstat);
  DECODE_CUDA_CHECK_LAST();
  launch_producer<D, 0>(p, a.batch, stream);
  dev::finalize_scale_kernel<<<grid_for(nstat), 256, 0, stream>>>(a.stats, a.scale, a.zero, nstat);
  DECODE_CUDA_CHECK_LAST();
  launch_producer<D, 1>(p, a.batch, stream);
  return 4;
}
}  // namespace

int kproj_rope_quantize(const ProducerArgs& a, cudaStream_t stream) {
  if (a.batch <= 0 || a.kv_len <= 0 || a.kv_heads <= 0) throw InvalidArgumentError("kproj_rope_quantize: sizes must be > 0");
  if (a.hidden <= 0 || a.hidden % dev::kProdK != 0)
    throw InvalidArgumentError("kproj_rope_quantize: hidden must be a positive multiple of 32, got " + std::to_string(a.hidden));
  if (a.head_dim != 64 && a.head_dim != 128)
    throw InvalidArgumentError("kproj_rope_quantize: head_dim must be 64 or 128, got " + std::to_string(a.head_dim));
  if (a.scale_block < 0 || a.scale_block % 16 != 0)
    throw InvalidArgumentError("kproj_rope_quantize: scale_block must be 0 or a multiple of 16");
  if (!a.x || !a.w || !a.cos_table || !a.sin_table || !a.residual || (a.q2 && (!a.codes || !a.scale || !a.zero || !a.stats)) ||
      (!a.q2 && !a.base))
    throw InvalidArgumentError("kproj_rope_quantize: missing pointer");
  dev::ProducerDev p{};
  p.x = static_cast<const __nv_bfloat16*>(a.x);
  p.w = static_cast<const __nv_bfloat16*>(a.w);
  p.cos_t = a.cos_table;
  p.sin_t = a.sin_table;
  p.T = a.kv_len;
  p.hidden = a.hidden;
  p.HKV = a.kv_heads;
  p.per = a.scale_block == 0 ? a.kv_len : a.scale_block;
  p.nsets = (a.kv_len + p.per - 1) / p.per;
  p.stats = a.stats;
  p.scale = a.scale;
  p.zero = a.zero;
  p.codes = a.codes;
  p.base = a.base;
  p.residual = a.residual;
  p.k_debug = a.k_debug;
  return a.head_dim == 128 ? run_producer<128>(a, p, stream) : run_producer<64>(a, p, stream);
}

void fill_attention_tensor(const gen::GenParams& params, int which, DType dtype, void* data, cudaStream_t stream,
                           int batch_offset, int batch_count) {
  if (which < 0 || which > 2) throw InvalidArgumentError("fill_attention_tensor: which must be 0 (q), 1 (k) or 2 (v)");
  const int code = dtype == DType::fp16 ? 0 : dtype == DType::bf16 ? 1 : dtype == DType::fp32 ? 2 : -1;
  if (code < 0) throw InvalidArgumentError(std::string("fill_attention_tensor: unsupported dtype ") + to_string(dtype));
  const int count = batch_count > 0 ? batch_count : params.batch;
  if (batch_offset < 0 || batch_offset + count > params.batch) throw InvalidArgumentError("fill_attention_tensor: batch range");
  const std::size_t n = which == 0 ? std::size_t(count) * params.q_heads * params.head_dim
                                   : std::size_t(count) * params.kv_len * params.kv_heads * params.head_dim;
  dev::fill_kernel<<<grid_for(n), 256, 0, stream>>>(params, which, code, data, n, batch_offset);
  DECODE_CUDA_CHECK_LAST();
}

}  // namespace roofline::validate::decode
