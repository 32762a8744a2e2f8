#include "microbench/fill.hpp"

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_fp8.h>

#include <cmath>

#include "roofline/validate/cuda_check.hpp"

namespace roofline::validate::microbench {
namespace {

__host__ __device__ inline std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

__host__ __device__ inline double uniform01(std::uint64_t seed, std::uint64_t index) {
  // 53 random bits → [0, 1).
  return static_cast<double>(splitmix64(seed * 0x2545F4914F6CDD1Dull + index) >> 11) * (1.0 / 9007199254740992.0);
}

template <typename T>
__device__ inline T convert(double v);
template <>
__device__ inline __nv_bfloat16 convert<__nv_bfloat16>(double v) { return __float2bfloat16(static_cast<float>(v)); }
template <>
__device__ inline __half convert<__half>(double v) { return __float2half(static_cast<float>(v)); }
template <>
__device__ inline float convert<float>(double v) { return static_cast<float>(v); }
template <>
__device__ inline __nv_fp8_storage_t convert<__nv_fp8_storage_t>(double v) {
  return __nv_cvt_float_to_fp8(static_cast<float>(v), __NV_SATFINITE, __NV_E4M3);
}
template <>
__device__ inline std::int8_t convert<std::int8_t>(double v) {
  return static_cast<std::int8_t>(fmin(127.0, fmax(-128.0, rint(v))));
}
template <>
__device__ inline std::int32_t convert<std::int32_t>(double v) {
  return static_cast<std::int32_t>(rint(v));
}

template <typename T>
__global__ void fill_kernel(T* data, std::size_t count, std::uint64_t seed, double lo, double hi) {
  const std::size_t stride = static_cast<std::size_t>(gridDim.x) * blockDim.x;
  for (std::size_t i = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += stride) {
    data[i] = convert<T>(lo + (hi - lo) * uniform01(seed, i));
  }
}

template <typename T>
void launch_fill(void* data, std::size_t count, std::uint64_t seed, double lo, double hi, cudaStream_t stream) {
  if (count == 0) return;
  const unsigned threads = 256;
  const std::size_t wanted = (count + threads - 1) / threads;
  const unsigned blocks = static_cast<unsigned>(wanted < 65536 ? wanted : 65536);
  fill_kernel<T><<<blocks, threads, 0, stream>>>(static_cast<T*>(data), count, seed, lo, hi);
  ROOFLINE_CUDA_CHECK_LAST();
}

}  // namespace

std::size_t dtype_bytes(DType t) {
  switch (t) {
    case DType::bf16:
    case DType::fp16:
      return 2;
    case DType::fp32:
    case DType::int32:
      return 4;
    case DType::fp8_e4m3:
    case DType::int8:
      return 1;
  }
  return 0;
}

std::string dtype_name(DType t) {
  switch (t) {
    case DType::bf16: return "bf16";
    case DType::fp16: return "fp16";
    case DType::fp32: return "fp32";
    case DType::fp8_e4m3: return "fp8_e4m3";
    case DType::int8: return "int8";
    case DType::int32: return "int32";
  }
  return "?";
}

double hashed_uniform(std::uint64_t seed, std::uint64_t index, double lo, double hi) {
  return lo + (hi - lo) * uniform01(seed, index);
}

void fill_random(void* data, std::size_t count, DType t, std::uint64_t seed, double lo, double hi, cudaStream_t stream) {
  switch (t) {
    case DType::bf16: launch_fill<__nv_bfloat16>(data, count, seed, lo, hi, stream); break;
    case DType::fp16: launch_fill<__half>(data, count, seed, lo, hi, stream); break;
    case DType::fp32: launch_fill<float>(data, count, seed, lo, hi, stream); break;
    case DType::fp8_e4m3: launch_fill<__nv_fp8_storage_t>(data, count, seed, lo, hi, stream); break;
    case DType::int8: launch_fill<std::int8_t>(data, count, seed, lo, hi, stream); break;
    case DType::int32: launch_fill<std::int32_t>(data, count, seed, lo, hi, stream); break;
  }
}

void poison(void* data, std::size_t bytes, unsigned char value, cudaStream_t stream) {
  ROOFLINE_CUDA_CHECK(cudaMemsetAsync(data, value, bytes, stream));
}

}  // namespace roofline::validate::microbench
