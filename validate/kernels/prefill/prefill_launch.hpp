// Host-side checks shared by the prefill launchers: shapes the kernels accept, 16-byte aligned
// pointers, and the compute capability a kernel needs. Each throws InvalidArgumentError with the reason.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <string>

#include "prefill_cost.hpp"
#include "prefill_harness.hpp"
#include "roofline/errors.hpp"

namespace roofline::validate::prefill::detail {

inline void require_aligned(const void* p, const char* what) {
  if (p == nullptr || reinterpret_cast<std::uintptr_t>(p) % 16 != 0)
    throw InvalidArgumentError(std::string(what) + ": pointer is null or not 16-byte aligned");
}

inline void require_shape(PrefillKernel k, const PrefillShape& s) {
  validate_prefill_shape(s, default_tiling(k, s.head_dim));
  // 32-bit grid and index arithmetic inside the kernels.
  const double rows = double(s.q_len) * (s.q_heads / s.kv_heads);
  if (rows > 2.0e9 || double(s.batch) * s.kv_heads > 65535)
    throw InvalidArgumentError("prefill shape: too large for one launch (Sq·G <= 2e9, B·HKV <= 65535)");
}

/// Throws unless the current device has at least compute capability major.minor.
/// (Read once per process, so that the check also works while a stream is being captured.)
inline void require_compute_capability(int major, int minor, const char* what) {
  static int cc_major = -1, cc_minor = -1;
  if (cc_major < 0) {
    int device = 0;
    ROOFLINE_CUDA_CHECK(cudaGetDevice(&device));
    ROOFLINE_CUDA_CHECK(cudaDeviceGetAttribute(&cc_major, cudaDevAttrComputeCapabilityMajor, device));
    ROOFLINE_CUDA_CHECK(cudaDeviceGetAttribute(&cc_minor, cudaDevAttrComputeCapabilityMinor, device));
  }
  if (cc_major * 10 + cc_minor < major * 10 + minor)
    throw InvalidArgumentError(std::string(what) + " needs compute capability " + std::to_string(major) + "." +
                               std::to_string(minor) + ", the device has " + std::to_string(cc_major) + "." +
                               std::to_string(cc_minor));
}

}  // namespace roofline::validate::prefill::detail
