// Random device data for the microbenchmarks: a counter-based hash (splitmix64 of seed and index), so
// every buffer is reproducible from its seed and never constant. Host copies of the same values are
// available for CPU references.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace roofline::validate::microbench {

enum class DType { bf16, fp16, fp32, fp8_e4m3, int8, int32 };

/// Bytes per element: bf16/fp16 2, fp32/int32 4, fp8/int8 1.
std::size_t dtype_bytes(DType t);
/// "bf16", "fp16", "fp32", "fp8_e4m3", "int8", "int32".
std::string dtype_name(DType t);

/// Uniform value in [lo, hi) for element `index` of the stream `seed` (the same function on host and device).
double hashed_uniform(std::uint64_t seed, std::uint64_t index, double lo, double hi);

/// Fills `count` elements of type `t` with hashed_uniform(seed, i, lo, hi) converted to the type
/// (fp8: saturating round-to-nearest; int8/int32: rounded and clamped). Checks the launch.
void fill_random(void* data, std::size_t count, DType t, std::uint64_t seed, double lo, double hi, cudaStream_t stream);

/// Sets `bytes` bytes to `value` byte-wise (cudaMemsetAsync); used to poison outputs before a check.
void poison(void* data, std::size_t bytes, unsigned char value, cudaStream_t stream);

}  // namespace roofline::validate::microbench
