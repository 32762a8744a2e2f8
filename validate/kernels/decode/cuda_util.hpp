// The decode library's CUDA status check: throws roofline::Error "file:line: call: error string".
// (The harness's ROOFLINE_CUDA_CHECK does the same; this keeps the kernel library free of the harness.)
#pragma once

#include <cuda_runtime_api.h>

#include <string>

#include "roofline/errors.hpp"

namespace roofline::validate::decode {
class DecodeCudaError : public roofline::Error {
 public:
  using roofline::Error::Error;
};
[[noreturn]] inline void throw_decode_cuda(cudaError_t e, const char* call, const char* file, int line) {
  throw DecodeCudaError(std::string(file) + ":" + std::to_string(line) + ": " + call + ": " + cudaGetErrorName(e) +
                        ": " + cudaGetErrorString(e));
}
}  // namespace roofline::validate::decode

#define DECODE_CUDA_CHECK(call)                                                                     \
  do {                                                                                              \
    const cudaError_t decode_status_ = (call);                                                      \
    if (decode_status_ != cudaSuccess)                                                              \
      ::roofline::validate::decode::throw_decode_cuda(decode_status_, #call, __FILE__, __LINE__);  \
  } while (0)
#define DECODE_CUDA_CHECK_LAST() DECODE_CUDA_CHECK(cudaGetLastError())
