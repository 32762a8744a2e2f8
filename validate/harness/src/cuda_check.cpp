#include "roofline/validate/cuda_check.hpp"

#include <cublasLt.h>

#include <cstdio>
#include <cstring>
#include <string>

namespace roofline::validate {

CudaError::CudaError(const std::string& message, std::string api, int code)
    : roofline::Error(message), api_(std::move(api)), code_(code) {}

bool CudaError::sticky() const noexcept {
  if (api_ != "cuda") return false;
  switch (static_cast<cudaError_t>(code_)) {
    case cudaErrorIllegalAddress:
    case cudaErrorLaunchFailure:
    case cudaErrorIllegalInstruction:
    case cudaErrorMisalignedAddress:
    case cudaErrorInvalidAddressSpace:
    case cudaErrorInvalidPc:
    case cudaErrorHardwareStackError:
    case cudaErrorAssert:
    case cudaErrorLaunchTimeout:
    case cudaErrorECCUncorrectable:
    case cudaErrorContextIsDestroyed:
      return true;
    default:
      return false;
  }
}

bool CuptiError::permission_denied() const noexcept {
  return code() == CUPTI_ERROR_INSUFFICIENT_PRIVILEGES;
}

bool CuptiError::unsupported() const noexcept {
  switch (static_cast<CUptiResult>(code())) {
    case CUPTI_ERROR_NOT_SUPPORTED:
    case CUPTI_ERROR_NOT_COMPATIBLE:
    case CUPTI_ERROR_INVALID_METRIC_NAME:
    case CUPTI_ERROR_INVALID_METRIC_ID:
    case CUPTI_ERROR_LEGACY_PROFILER_NOT_SUPPORTED:
    case CUPTI_ERROR_CMP_DEVICE_NOT_SUPPORTED:
    case CUPTI_ERROR_MIG_DEVICE_NOT_SUPPORTED:
    case CUPTI_ERROR_WSL_DEVICE_NOT_SUPPORTED:
    case CUPTI_ERROR_VIRTUALIZED_DEVICE_NOT_SUPPORTED:
      return true;
    default:
      return false;
  }
}

namespace detail {

const char* short_file(const char* file) noexcept {
  if (file == nullptr) return "?";
  const char* best = nullptr;
  for (const char* p = std::strstr(file, "validate/"); p != nullptr; p = std::strstr(p + 1, "validate/")) best = p;
  return best != nullptr ? best : file;
}

namespace {
std::string location(const char* file, int line) { return std::string(short_file(file)) + ":" + std::to_string(line); }

std::string cuda_message(cudaError_t status, const char* call, const char* file, int line) {
  // cudaGetErrorName/String are safe to call without a driver.
  return location(file, line) + ": " + call + ": " + cudaGetErrorName(status) + ": " + cudaGetErrorString(status);
}

std::string cupti_message(CUptiResult status, const char* call, const char* file, int line) {
  const char* text = nullptr;
  if (cuptiGetResultString(status, &text) != CUPTI_SUCCESS || text == nullptr) text = "unknown CUPTI error";
  std::string message = location(file, line) + ": " + call + ": " + text + " (" + std::to_string(status) + ")";
  if (status == CUPTI_ERROR_INSUFFICIENT_PRIVILEGES) {
    message += "; GPU performance counters are restricted to administrators (run as root or load the driver with "
               "NVreg_RestrictProfilingToAdminUsers=0)";
  }
  return message;
}
}  // namespace

void throw_cuda(cudaError_t status, const char* call, const char* file, int line) {
  throw CudaError(cuda_message(status, call, file, line), "cuda", static_cast<int>(status));
}

void throw_cublas(cublasStatus_t status, const char* call, const char* file, int line) {
  const char* name = cublasLtGetStatusName(status);
  const char* text = cublasLtGetStatusString(status);
  throw CudaError(location(file, line) + ": " + call + ": " + (name ? name : "?") + ": " + (text ? text : "?"),
                  "cublas", static_cast<int>(status));
}

void throw_cupti(CUptiResult status, const char* call, const char* file, int line) {
  throw CuptiError(cupti_message(status, call, file, line), static_cast<int>(status));
}

void report_cuda(cudaError_t status, const char* call, const char* file, int line) noexcept {
  if (status == cudaSuccess) return;
  try {
    std::fprintf(stderr, "roofline-validate: warning: %s\n", cuda_message(status, call, file, line).c_str());
  } catch (...) {
  }
}

void report_cupti(CUptiResult status, const char* call, const char* file, int line) noexcept {
  if (status == CUPTI_SUCCESS) return;
  try {
    std::fprintf(stderr, "roofline-validate: warning: %s\n", cupti_message(status, call, file, line).c_str());
  } catch (...) {
  }
}

}  // namespace detail
}  // namespace roofline::validate
