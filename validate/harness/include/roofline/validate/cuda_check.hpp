// Status checks for the CUDA runtime, cuBLAS(Lt) and CUPTI: every such call in validate/ goes through one
// of these macros, which throw CudaError (a roofline::Error) reading
// "validate/harness/src/timing.cu:42: cudaMalloc(&p, n): cudaErrorMemoryAllocation: out of memory".
// Errors are never swallowed: callers that must go on (the runner) catch them and write an error record.
#pragma once

#include <cublas_api.h>
#include <cuda_runtime_api.h>
#include <cupti_result.h>

#include <string>

#include "roofline/errors.hpp"

namespace roofline::validate {

/// A failed CUDA runtime, cuBLAS(Lt) or CUPTI call; `api()` is "cuda", "cublas" or "cupti", `code()` the
/// library's status value.
class CudaError : public roofline::Error {
 public:
  CudaError(const std::string& message, std::string api, int code);
  const std::string& api() const noexcept { return api_; }
  int code() const noexcept { return code_; }
  /// True for runtime errors that leave the CUDA context unusable (illegal address, launch failure, ...):
  /// every later call in this process fails too.
  bool sticky() const noexcept;

 private:
  std::string api_;
  int code_ = 0;
};

/// A failed CUPTI call, with the two causes a run must tell apart from a bug.
class CuptiError : public CudaError {
 public:
  CuptiError(const std::string& message, int code) : CudaError(message, "cupti", code) {}
  /// The driver restricts GPU performance counters to administrators (NVreg_RestrictProfilingToAdminUsers).
  bool permission_denied() const noexcept;
  /// The metric, device or mode is not supported (CUPTI_ERROR_NOT_SUPPORTED, ..._INVALID_METRIC_NAME, ...).
  bool unsupported() const noexcept;
};

namespace detail {
[[noreturn]] void throw_cuda(cudaError_t status, const char* call, const char* file, int line);
[[noreturn]] void throw_cublas(cublasStatus_t status, const char* call, const char* file, int line);
[[noreturn]] void throw_cupti(CUptiResult status, const char* call, const char* file, int line);
/// For destructors, which must not throw: prints the same message to stderr.
void report_cuda(cudaError_t status, const char* call, const char* file, int line) noexcept;
void report_cupti(CUptiResult status, const char* call, const char* file, int line) noexcept;
/// "validate/harness/src/x.cu" from an absolute __FILE__ (the part from the last "validate/" on).
const char* short_file(const char* file) noexcept;
}  // namespace detail

}  // namespace roofline::validate

/// Throws roofline::validate::CudaError unless the CUDA runtime call returns cudaSuccess.
#define ROOFLINE_CUDA_CHECK(call)                                                          \
  do {                                                                                     \
    const cudaError_t roofline_status_ = (call);                                           \
    if (roofline_status_ != cudaSuccess)                                                   \
      ::roofline::validate::detail::throw_cuda(roofline_status_, #call, __FILE__, __LINE__); \
  } while (0)

/// Checks the launch that just happened (cudaGetLastError: bad configuration, missing kernel image, ...).
#define ROOFLINE_CUDA_CHECK_LAST()                                                          \
  do {                                                                                      \
    const cudaError_t roofline_status_ = cudaGetLastError();                                \
    if (roofline_status_ != cudaSuccess)                                                    \
      ::roofline::validate::detail::throw_cuda(roofline_status_, "kernel launch (cudaGetLastError)", \
                                               __FILE__, __LINE__);                         \
  } while (0)

/// Throws roofline::validate::CudaError unless the cuBLAS / cuBLASLt call returns CUBLAS_STATUS_SUCCESS.
#define ROOFLINE_CUBLAS_CHECK(call)                                                            \
  do {                                                                                         \
    const cublasStatus_t roofline_status_ = (call);                                            \
    if (roofline_status_ != CUBLAS_STATUS_SUCCESS)                                             \
      ::roofline::validate::detail::throw_cublas(roofline_status_, #call, __FILE__, __LINE__); \
  } while (0)

/// Throws roofline::validate::CuptiError unless the CUPTI call returns CUPTI_SUCCESS.
#define ROOFLINE_CUPTI_CHECK(call)                                                            \
  do {                                                                                        \
    const CUptiResult roofline_status_ = (call);                                              \
    if (roofline_status_ != CUPTI_SUCCESS)                                                    \
      ::roofline::validate::detail::throw_cupti(roofline_status_, #call, __FILE__, __LINE__); \
  } while (0)

/// Destructor-safe variants: report a failure on stderr instead of throwing.
#define ROOFLINE_CUDA_REPORT(call) ::roofline::validate::detail::report_cuda((call), #call, __FILE__, __LINE__)
#define ROOFLINE_CUPTI_REPORT(call) ::roofline::validate::detail::report_cupti((call), #call, __FILE__, __LINE__)
